# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""djscc_encoder: image PDU -> deep JSCC channel symbols (the benchmark's analog source-channel code)."""

from __future__ import annotations

import pmt
from gnuradio import gr

from ..errors import IsscInputError
from ..link.config import LinkConfig
from ..link.pdus import make_symbol_pdu
from ._util import encoded_meta, serve_configured_images


class djscc_encoder(gr.basic_block):
    """Maps each image straight to complex channel symbols with the deep JSCC model the frame's
    configuration names (the DJSCC-WF-ZF benchmark, docs/model.md §8): no entropy code, no channel code.

    The image is coded in tiles of the model's training size, each scaled to unit mean power, so the
    symbols meet the average power constraint exactly. The configuration comes on ``config`` and travels
    on in the output metadata, as with :class:`semantic_encoder`; it must be analog (``info_bits``
    0) and name a model of this family. Image sides must be multiples of the model's tile (64).

    Output: a symbol PDU (``c32vector`` payload), metadata ``seq``, ``config``, ``model``, ``model_index``
    (position in the family's manifest, what the frame header carries), ``height``, ``width``, ``symbols``,
    ``abr`` (symbols per source dimension). The frame encoder sends it as an analog frame.

    Message ports:
        image (in): image PDUs.
        config (in): frame configurations.
        out (out): symbol PDUs.

    Args:
        djscc_dir: directory with the DJSCC family's ``manifest.yml`` ('' for the shipped models).
    """

    def __init__(self, djscc_dir: str = ""):
        gr.basic_block.__init__(self, name="djscc_encoder", in_sig=None, out_sig=None)
        from ..codec.codec import limit_torch_threads  # torch only where a DJSCC block is used
        from ..djscc.codec import DjsccFamily

        limit_torch_threads(1)  # GNU Radio gives each block a thread: see limit_torch_threads
        self.family = DjsccFamily(djscc_dir or None)
        self.model_ids = self.family.model_ids
        serve_configured_images(self)

    def _checked(self, config: LinkConfig) -> LinkConfig:
        if not config.analog:
            raise IsscInputError(
                f"the configuration is digital (codec model '{config.model}', K = "
                f"{config.info_bits}): that is semantic_encoder's"
            )
        self.family.info(config.model)
        return config

    def _encode(self, meta, image, config):
        codec = self.family.codec(config.model)
        symbols = codec.encode(image)
        config = config.for_frame(meta["seq"])
        height, width = image.shape[:2]
        out_meta = encoded_meta(
            meta["seq"],
            config,
            self.family.index(config.model),
            height,
            width,
            symbols=int(symbols.size),
            abr=symbols.size / (3.0 * height * width),
        )
        if isinstance(meta.get("name"), str):
            out_meta["name"] = meta["name"]
        self.frames_encoded += 1
        self.message_port_pub(pmt.intern("out"), make_symbol_pdu(out_meta, symbols))
