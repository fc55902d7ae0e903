# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""task_encoder: image PDU -> a semantic user's entropy-coded feature bitstream PDU."""

from __future__ import annotations

import pmt
from gnuradio import gr

from ..link.config import LinkConfig
from ..link.pdus import make_pdu
from ._util import check_family_model, encoded_meta, semantic_family, serve_configured_images


class task_encoder(gr.basic_block):
    """A semantic user's source encoder: each image through the semantic model of the current configuration
    (:class:`~gnuradio.issc.semantic.family.SemanticFamily`: encoder, entropy-coded features), the
    counterpart of ``semantic_encoder`` for data users. The configuration comes on ``config`` and travels
    on in the PDU's metadata (as ``semantic_encoder`` does); images before the first configuration wait.

    Output metadata: ``seq``, ``config``, ``model``, ``model_index`` (position in the family's order, what
    the frame header carries), ``height``, ``width`` (the image's), ``z_bytes`` 0, ``y_bytes`` (the
    feature string's length), ``clean_class`` (the model's class on the clean features, what a perfect
    channel gives) and, when the image PDU has them, ``label`` and ``name``. The payload is the
    EntropyBottleneck's string; its shape comes from the model at the receiver (``task_decoder``).

    Message ports:
        image (in): image PDUs.
        config (in): frame configurations (a semantic model id, the code rate, the beams).
        out (out): bitstream PDUs.

    Args:
        semantic_dir: semantic family directory ('' for the shipped digits family).
    """

    def __init__(self, semantic_dir: str = ""):
        gr.basic_block.__init__(self, name="task_encoder", in_sig=None, out_sig=None)
        self.family = semantic_family(semantic_dir)
        self.model_ids = self.family.model_ids
        serve_configured_images(self)

    def _checked(self, config: LinkConfig) -> LinkConfig:
        return check_family_model(config, self.model_ids, "semantic")

    @property
    def config(self):
        return self._inbox.config

    def _encode(self, meta, image, config):
        config = config.for_frame(meta["seq"])
        ((header, payload),) = self.family.encode_batch(image, config.model)
        clean = int(self.family.classify_parts([header], [payload])[0])
        out_meta = encoded_meta(
            meta["seq"],
            config,
            self.model_ids.index(config.model),
            int(image.shape[0]),
            int(image.shape[1]),
            z_bytes=0,
            y_bytes=len(payload),
            clean_class=clean,
        )
        for key in ("label", "name"):
            if isinstance(meta.get(key), (int, str)) and not isinstance(meta.get(key), bool):
                out_meta[key] = meta[key]
        self.frames_encoded += 1
        self.message_port_pub(pmt.intern("out"), make_pdu(out_meta, payload))
