# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""task_decoder: a semantic user's received bitstream PDU -> class and confidence."""

from __future__ import annotations

import pmt
from gnuradio import gr

from ..link.multiuser import classify_payload
from ..link.pdus import dict_to_meta, split_pdu
from ._util import received_model, semantic_family, serve_received_pdus

HEADER_FIELDS = ("seq", "model_index", "height", "width", "z_bytes", "y_bytes")


class task_decoder(gr.basic_block):
    """A semantic user's receiver back end: the received feature string (residual bit errors included) is
    decoded best-effort by the model the header names and classified
    (:func:`~gnuradio.issc.link.multiuser.classify_payload`).

    The input is the frame decoder's PDU (header fields ``seq``, ``model_index``, ``height``, ``width``,
    ``z_bytes``, ``y_bytes``; the payload). The output is a PDU (a dict, no payload) with ``seq``, ``class``
    (index), ``class_name``, ``confidence`` (the class's softmax probability), ``model`` and the input's
    other scalar metadata (``user``, ``sinr_db``, ``code_rate``...). A PDU naming an unknown model is logged
    and dropped.

    Message ports:
        in (in): received bitstream PDUs.
        out (out): the class PDUs.

    Args:
        semantic_dir: semantic family directory ('' for the shipped digits family).
    """

    def __init__(self, semantic_dir: str = ""):
        gr.basic_block.__init__(self, name="task_decoder", in_sig=None, out_sig=None)
        self.family = semantic_family(semantic_dir)
        self.model_ids = self.family.model_ids
        self.classes = self.family.classes
        serve_received_pdus(self, self._on_bits)

    def _on_bits(self, msg):
        meta, payload = split_pdu(msg)
        model = received_model(meta, HEADER_FIELDS, self.model_ids, "bitstream")
        label, confidence = classify_payload(self.family, model, payload)
        out = {k: v for k, v in meta.items() if isinstance(v, (bool, int, float, str))}
        out.update(
            model=model,
            confidence=confidence,
            class_name=str(self.classes[label]) if label < len(self.classes) else str(label),
        )
        out["class"] = label
        self.frames_decoded += 1
        self.message_port_pub(pmt.intern("out"), dict_to_meta(out))
