# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""semantic_encoder: image PDU -> entropy-coded bitstream PDU with the frame configuration."""

from __future__ import annotations

import pmt
from gnuradio import gr

from ..codec.codec import SemanticCodec, limit_torch_threads
from ..errors import IsscInputError
from ..link.config import LinkConfig
from ..link.pdus import make_pdu
from ._util import check_family_model, encoded_meta, serve_configured_images


class semantic_encoder(gr.basic_block):
    """Compresses each image with the codec model of the current frame configuration.

    The configuration comes from the controller on ``config`` and travels on with the data: the output
    PDU's metadata holds it (key ``config``, with ``seq`` set), so a later configuration can never be
    applied to this frame. Images that arrive before the first configuration wait (up to 16). An image
    PDU whose metadata holds its own ``config`` is coded with that one (scripted experiments and tests:
    messages on different ports are handled in no guaranteed order, metadata is).

    Output metadata: ``seq``, ``config``, ``model``, ``model_index`` (position in the family's rate order,
    what the frame header carries), ``height``, ``width``, ``z_bytes``, ``y_bytes``; the payload is the
    hyperprior's strings (``z`` then ``y``), the part that goes through the channel code.

    Message ports:
        image (in): image PDUs.
        config (in): frame configurations (:class:`~gnuradio.issc.link.config.LinkConfig` dicts).
        out (out): bitstream PDUs.

    Args:
        codec_dir: directory with the codec family's ``manifest.yml`` ('' for the shipped family).
    """

    def __init__(self, codec_dir: str = ""):
        gr.basic_block.__init__(self, name="semantic_encoder", in_sig=None, out_sig=None)
        limit_torch_threads(1)  # GNU Radio gives each block a thread: see limit_torch_threads
        self.codec = SemanticCodec.load(codec_dir or None)
        self.model_ids = self.codec.model_ids
        serve_configured_images(self)

    def _checked(self, config: LinkConfig) -> LinkConfig:
        if config.analog:
            raise IsscInputError(
                f"the configuration is analog (deep JSCC model '{config.model}'): that is djscc_encoder's"
            )
        return check_family_model(config, self.model_ids, "codec")

    @property
    def config(self):
        return self._inbox.config

    def _encode(self, meta, image, config):
        config = config.for_frame(meta["seq"])
        header, payload = self.codec.encode_parts(image, config.model)
        out_meta = encoded_meta(
            meta["seq"],
            config,
            self.model_ids.index(config.model),
            header.height,
            header.width,
            z_bytes=header.z_bytes,
            y_bytes=header.y_bytes,
        )
        if isinstance(meta.get("name"), str):
            out_meta["name"] = meta["name"]
        self.frames_encoded += 1
        self.message_port_pub(pmt.intern("out"), make_pdu(out_meta, payload))
