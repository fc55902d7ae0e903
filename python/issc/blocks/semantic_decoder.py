# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""semantic_decoder: received bitstream PDU -> best-effort image PDU."""

from __future__ import annotations

import pmt
from gnuradio import gr

from ..codec.codec import SemanticCodec, limit_torch_threads
from ..codec.container import ContainerHeader
from ..link.pdus import image_to_pdu, split_pdu
from ._util import image_metadata, received_model, serve_received_pdus

HEADER_FIELDS = ("seq", "model_index", "height", "width", "z_bytes", "y_bytes")


class semantic_decoder(gr.basic_block):
    """Decodes the received hyperprior strings into an image.

    The input is the frame decoder's PDU: metadata with the header fields (``seq``, ``model_index``,
    ``height``, ``width``, ``z_bytes``, ``y_bytes``) and the payload bytes, which may carry residual bit
    errors: they go on to the entropy decoder, which gives a best-effort image (always finite, in
    [0, 1]). A PDU whose header fields are missing or name an unknown model is logged and dropped. The
    output image PDU keeps the input's metadata (SINR estimate, header status...).

    Message ports:
        in (in): received bitstream PDUs.
        out (out): image PDUs.

    Args:
        codec_dir: directory with the codec family's ``manifest.yml`` ('' for the shipped family).
    """

    def __init__(self, codec_dir: str = ""):
        gr.basic_block.__init__(self, name="semantic_decoder", in_sig=None, out_sig=None)
        limit_torch_threads(1)  # GNU Radio gives each block a thread: see limit_torch_threads
        self.codec = SemanticCodec.load(codec_dir or None)
        self.model_ids = self.codec.model_ids
        serve_received_pdus(self, self._on_bits)

    def _on_bits(self, msg):
        meta, payload = split_pdu(msg)
        model = received_model(meta, HEADER_FIELDS, self.model_ids, "bitstream")
        header = ContainerHeader(model, meta["height"], meta["width"], meta["z_bytes"], meta["y_bytes"])
        image = self.codec.decode_parts(header, payload)
        extra = image_metadata(meta, model)
        self.frames_decoded += 1
        self.message_port_pub(pmt.intern("out"), image_to_pdu(meta["seq"], image, **extra))
