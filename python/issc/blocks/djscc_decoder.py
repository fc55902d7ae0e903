# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""djscc_decoder: received (equalised) deep JSCC symbols -> image PDU."""

from __future__ import annotations

import pmt
from gnuradio import gr

from ..link.pdus import image_to_pdu, split_symbol_pdu
from ._util import image_metadata, received_model, serve_received_pdus

HEADER_FIELDS = ("seq", "model_index", "height", "width")


class djscc_decoder(gr.basic_block):
    """Decodes the analog frames of the deep JSCC benchmark into images.

    The input is the frame decoder's symbol PDU: the header fields (``seq``, ``model_index``, ``height``,
    ``width``) and the zero-forcing equalised symbols ``s + n / g``, which the model's decoder maps to an
    image (always finite, in [0, 1], whatever the noise: non-finite symbols count as 0). A PDU whose
    fields are missing, whose model index is not in the family, or whose symbol count does not match the
    model and image shape is logged and dropped. The output keeps the input's scalar metadata and adds
    ``model``.

    Message ports:
        in (in): received symbol PDUs.
        out (out): image PDUs.

    Args:
        djscc_dir: directory with the DJSCC family's ``manifest.yml`` ('' for the shipped models).
    """

    def __init__(self, djscc_dir: str = ""):
        gr.basic_block.__init__(self, name="djscc_decoder", in_sig=None, out_sig=None)
        from ..codec.codec import limit_torch_threads  # torch only where a DJSCC block is used
        from ..djscc.codec import DjsccFamily

        limit_torch_threads(1)  # GNU Radio gives each block a thread: see limit_torch_threads
        self.family = DjsccFamily(djscc_dir or None)
        self.model_ids = self.family.model_ids
        serve_received_pdus(self, self._on_symbols)

    def _on_symbols(self, msg):
        meta, symbols = split_symbol_pdu(msg)
        model = received_model(meta, HEADER_FIELDS, self.model_ids, "symbol")
        image = self.family.codec(model).decode(symbols, meta["height"], meta["width"])
        extra = image_metadata(meta, model)
        self.frames_decoded += 1
        self.message_port_pub(pmt.intern("out"), image_to_pdu(meta["seq"], image, **extra))
