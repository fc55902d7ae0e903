# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""image_source: images as PDUs, one per request from the transmitter."""

from __future__ import annotations

import threading
from pathlib import Path

import pmt
from gnuradio import gr

from ..codec.images import SHIPPED_IMAGE_DIR, center_crop, list_images, load_rgb
from ..errors import IsscInputError
from ..link.pdus import image_to_pdu
from ._util import RateLimitedLog, register_message_handlers


def resolve_images(images) -> list[Path]:
    """Image paths from a folder, a list of files, or '' for the shipped test images."""
    if images is None or images == "" or images == []:
        return list_images(SHIPPED_IMAGE_DIR)
    if isinstance(images, (str, Path)):
        return list_images(images)
    paths = [Path(p) for p in images]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise IsscInputError(f"image files not found: {', '.join(missing)}")
    return paths


class image_source(gr.basic_block):
    """Images as PDUs (``u8vector`` RGB payload, metadata ``seq``, ``height``, ``width``, ``name``).

    Paced by the link, not by a timer: ``preload`` images go out when the flowgraph starts, then one
    more for every message on ``next`` (connect the frame encoder's ``sent`` port: a new image whenever
    a frame starts on the air). The images are cycled until ``count`` have been sent (0: forever).

    Message ports:
        next (in): any message: send the next image.
        out (out): image PDUs.

    Args:
        images: a folder (searched recursively), a list of image files, or '' for the shipped test images.
        count: number of images to send (0: unlimited).
        preload: images sent at start, before any request (>= 1 keeps the transmitter busy).
        size: resize the short side and crop the centre to ``size x size`` (0: keep the size).
    """

    def __init__(self, images="", count: int = 0, preload: int = 2, size: int = 0):
        gr.basic_block.__init__(self, name="image_source", in_sig=None, out_sig=None)
        if int(count) != count or count < 0:
            raise ValueError(f"count must be an integer >= 0, got {count!r}")
        if int(preload) != preload or preload < 0:
            raise ValueError(f"preload must be an integer >= 0, got {preload!r}")
        if int(size) != size or not (size == 0 or 16 <= size <= 4096):
            raise ValueError(f"size must be 0 or in [16, 4096], got {size!r}")
        self.paths = resolve_images(images)
        self.count, self.preload, self.size = int(count), int(preload), int(size)
        self._cache = {}
        self._lock = threading.Lock()
        self.sent = 0
        self._log = RateLimitedLog(self.logger)
        self.message_port_register_out(pmt.intern("out"))
        register_message_handlers(self, {"next": self._on_next}, self._log)

    def image(self, index: int):
        """The ``index``-th image of the cycle (uint8, loaded once)."""
        path = self.paths[index % len(self.paths)]
        if path not in self._cache:
            image = load_rgb(path)
            self._cache[path] = center_crop(image, self.size) if self.size else image
        return path.stem, self._cache[path]

    def start(self):
        for _ in range(self.preload):
            self._send_next()
        return True

    def _on_next(self, msg):
        self._send_next()

    def _send_next(self):
        with self._lock:
            if self.count and self.sent >= self.count:
                return
            seq = self.sent
            self.sent += 1
        try:
            name, image = self.image(seq)
        except IsscInputError as exc:
            self.logger.error(f"skipping image {seq}: {exc}")
            return
        self.message_port_pub(pmt.intern("out"), image_to_pdu(seq, image, name=name))
