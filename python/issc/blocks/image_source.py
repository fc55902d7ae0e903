# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""image_source: images as PDUs, one per request from the transmitter."""

from __future__ import annotations

import threading
from pathlib import Path

import pmt
from gnuradio import gr

from ..codec.images import IMAGE_SUFFIXES, SHIPPED_IMAGE_DIR, center_crop, list_images, load_rgb
from ..errors import IsscInputError
from ..link.pdus import image_to_pdu
from ._util import PacedSource, RateLimitedLog, register_message_handlers

# decoded (cropped) images kept in memory at most: a large folder is re-read from disk instead
CACHE_BYTES = 256 * 2**20


def resolve_images(images) -> tuple[list[Path], bool]:
    """``(paths, named)``: the image paths of a folder, a list of files, one file, or '' for the shipped
    test images; ``named`` is True when the user named the files themselves (a list or one file), so an
    unreadable one is an error rather than something to skip."""
    if images is None or images == "" or images == []:
        return list_images(SHIPPED_IMAGE_DIR), False
    if isinstance(images, (str, Path)):
        path = Path(images)
        if path.is_file():
            return [path], True
        if not path.exists():
            raise IsscInputError(f"--images '{path}': no such file or folder")
        return list_images(path), False
    paths = [Path(p) for p in images]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise IsscInputError(f"image files not found: {', '.join(missing)}")
    return paths, True


class ImageCycle:
    """The images a run sends, in order, cycled; checked up front so the run never waits for an image
    that cannot be read.

    Every image the run will use (the first ``count``, or all for ``count`` 0) is decoded at
    construction. An unreadable file the user named is an error (:class:`IsscInputError` naming it); one
    found in a folder is skipped and listed in :attr:`skipped` (``[(path, reason), ...]``), and the cycle
    goes on with the readable ones, so a run still sends ``count`` images. Decoded images are kept in
    memory up to :data:`CACHE_BYTES` and re-read beyond that.

    Args:
        images: a folder (searched recursively), a list of image files, one file, or '' for the shipped
            test images.
        size: resize the short side and crop the centre to ``size x size`` (0: keep the size).
        count: images the run sends (0: unlimited, the whole folder is checked).
    """

    def __init__(self, images="", size: int = 0, count: int = 0):
        paths, named = resolve_images(images)
        self.size = int(size)
        self._cache = {}
        self._cached_bytes = 0
        self._lock = threading.Lock()
        self.paths: list[Path] = []
        self.skipped: list[tuple[Path, str]] = []
        needed = len(paths) if not count else min(int(count), len(paths))
        for path in paths:
            if len(self.paths) >= needed:
                break  # the rest of the folder is never reached by this run
            try:
                self._keep(path, self._load(path))
            except IsscInputError as exc:
                if named:
                    raise
                self.skipped.append((path, str(exc)))
                continue
            self.paths.append(path)
        if not self.paths:
            names = ", ".join(str(p) for p, _ in self.skipped)
            raise IsscInputError(f"no readable image ({', '.join(IMAGE_SUFFIXES)}) among: {names}")

    def _load(self, path: Path):
        image = load_rgb(path)
        if image.shape[0] < 1 or image.shape[1] < 1:
            raise IsscInputError(f"image '{path}': empty")
        return center_crop(image, self.size) if self.size else image

    def _keep(self, path: Path, image) -> None:
        with self._lock:
            if path not in self._cache and self._cached_bytes + image.nbytes <= CACHE_BYTES:
                self._cache[path] = image
                self._cached_bytes += image.nbytes

    def image(self, index: int):
        """``(name, uint8 image)`` of the ``index``-th image of the cycle.

        Raises:
            IsscInputError: an image beyond the cache that can no longer be read (the file changed).
        """
        path = self.paths[index % len(self.paths)]
        with self._lock:
            image = self._cache.get(path)
        if image is None:
            image = self._load(path)
            self._keep(path, image)
        return path.stem, image


class image_source(PacedSource, gr.basic_block):
    """Images as PDUs (``u8vector`` RGB payload, metadata ``seq``, ``height``, ``width``, ``name``).

    Paced by the link, not by a timer: ``preload`` images go out when the flowgraph starts, then one
    more for every message on ``next`` (connect the frame encoder's ``sent`` port: a new image whenever
    a frame starts on the air). The images are cycled until ``count`` have been sent (0: forever).

    The images are checked when the block is built (:class:`ImageCycle`): an unreadable file named in a
    list is an error; an unreadable file in a folder is skipped with a warning (``skipped`` lists them)
    and the others are cycled, so the ``count`` images still go out. If an image cannot be read when it
    is due (the file changed during the run), it is logged and counted in ``failed`` and no PDU goes
    out for that sequence number: a link waiting for ``count`` frames must wait for ``count - failed``.

    Message ports:
        next (in): any message: send the next image.
        out (out): image PDUs.

    Args:
        images: a folder (searched recursively), a list of image files, one file, or '' for the shipped
            test images.
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
        self.count, self.preload, self.size = int(count), int(preload), int(size)
        self.cycle = ImageCycle(images, self.size, self.count)
        self.paths = self.cycle.paths
        self.skipped = list(self.cycle.skipped)
        for path, reason in self.skipped:
            self.logger.warn(f"skipping unreadable image {path}: {reason}")
        self._lock = threading.Lock()
        self.sent = 0  # sequence numbers handed out (published or failed)
        self.failed = 0  # sequence numbers whose image could not be read when due (no PDU went out)
        self._log = RateLimitedLog(self.logger)
        self.message_port_register_out(pmt.intern("out"))
        register_message_handlers(self, {"next": self._on_next}, self._log)

    def image(self, index: int):
        """The ``index``-th image of the cycle: ``(name, uint8 image)``."""
        return self.cycle.image(index)

    def _send_next(self):
        seq = self._take_seq()
        if seq is None:
            return
        try:
            name, image = self.image(seq)
        except IsscInputError as exc:
            with self._lock:
                self.failed += 1
            self.logger.error(f"no image for frame {seq}: {exc}")
            return
        self.message_port_pub(pmt.intern("out"), image_to_pdu(seq, image, name=name))
