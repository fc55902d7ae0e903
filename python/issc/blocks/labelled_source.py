# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""labelled_source: labelled test images (a semantic user's source), one per request."""

from __future__ import annotations

import threading

import numpy as np
import pmt
from gnuradio import gr

from ..errors import IsscInputError
from ..link.pdus import image_to_pdu
from ..semantic.data import load_data
from ._util import PacedSource, RateLimitedLog, register_message_handlers


class labelled_source(PacedSource, gr.basic_block):
    """The held-out images of a labelled data set (:func:`~gnuradio.issc.semantic.data.load_data`:
    scikit-learn's ``digits`` or a labelled folder), cycled from ``offset``, as image PDUs (``H x W x 3``
    uint8, grey images repeated over the three channels) whose metadata carry the true ``label`` and the
    ``name`` (``data/test/index``). Paced like ``image_source``: ``preload`` images at start, one more per
    message on ``next``, ``count`` in all.

    Message ports:
        next (in): any message: send the next image.
        out (out): image PDUs (metadata ``seq``, ``label``, ``name``).

    Args:
        data: 'digits' or a labelled folder (one sub-folder per class).
        count: images to send (0: unlimited).
        preload: images sent at start.
        offset: index of the first image in the held-out split.
    """

    def __init__(self, data: str = "digits", count: int = 0, preload: int = 2, offset: int = 0):
        gr.basic_block.__init__(self, name="labelled_source", in_sig=None, out_sig=None)
        for name, value in (("count", count), ("preload", preload), ("offset", offset)):
            if int(value) != value or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        try:
            split = load_data(data, what="data")
        except IsscInputError as exc:
            raise ValueError(str(exc)) from None
        if not len(split.test_y):
            raise ValueError(f"data '{data}' has no held-out images")
        self.data = str(data)
        self.images, self.labels, self.classes = split.test_x, split.test_y, split.classes
        self.count, self.preload, self.offset = int(count), int(preload), int(offset)
        self._lock = threading.Lock()
        self.sent = 0
        self.failed = 0  # kept for the image_source interface (a loaded split never fails)
        self._log = RateLimitedLog(self.logger)
        self.message_port_register_out(pmt.intern("out"))
        register_message_handlers(self, {"next": self._on_next}, self._log)

    def image(self, seq: int) -> tuple[np.ndarray, int, str]:
        """Frame ``seq``'s ``(H x W x 3 uint8 image, label, name)``."""
        index = (self.offset + int(seq)) % len(self.labels)
        chw = np.clip(self.images[index], 0.0, 1.0)
        hwc = np.repeat(chw, 3, axis=0) if chw.shape[0] == 1 else chw
        image = np.round(hwc.transpose(1, 2, 0) * 255).astype(np.uint8)
        return image, int(self.labels[index]), f"{self.data}/test/{index}"

    def _send_next(self):
        seq = self._take_seq()
        if seq is None:
            return
        image, label, name = self.image(seq)
        self.message_port_pub(pmt.intern("out"), image_to_pdu(seq, image, label=label, name=name))
