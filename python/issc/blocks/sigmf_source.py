# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""sigmf_source: a SigMF recording played back as a stream (with its frame annotations as tags)."""

from __future__ import annotations

import threading

import numpy as np
import pmt
from gnuradio import gr

from ..errors import IsscInputError
from ..link.config import FRAME_TAG
from ..link.pdus import dict_to_meta
from ..link.recording import read_recording


class sigmf_source(gr.sync_block):
    """Plays a single-channel ``cf32_le`` SigMF recording (e.g. one :class:`sigmf_recorder` wrote) once,
    then ends the stream. The samples are read from the memory-mapped data file, never loaded whole.

    With ``frame_tags`` each frame annotation becomes an ``issc_frame`` tag on its first sample whose
    value is ``{seq, model, code_rate, info_bits}``: enough for the sensing estimator to name the frames
    of its reports, not a whole frame configuration (the beams are not recorded). Leave it off for a
    receiver, which works from the air alone.

    With ``finish`` the stream ends after the last sample, so ``tb.run()`` returns; but an ended stream
    also tells the message-only blocks downstream to finish, possibly before the decoders' last
    messages are handled. A script that polls until its decoders are done sets ``finish`` false: the
    block then idles at the end and :attr:`exhausted` says so.

    Args:
        path: the recording (``NAME``, ``NAME.sigmf-meta`` or ``NAME.sigmf-data``; '' plays nothing).
        frame_tags: tag each recorded frame's first sample.
        strict: a data file shorter than its metadata says is an error; else the samples there are played.
        finish: end the stream after the last sample (else idle).
    """

    def __init__(self, path: str = "", frame_tags: bool = False, strict: bool = True, finish: bool = True):
        gr.sync_block.__init__(self, name="sigmf_source", in_sig=None, out_sig=[np.complex64])
        self.recording = None
        if path:
            try:
                self.recording = read_recording(path, strict=bool(strict))
            except IsscInputError as exc:
                raise ValueError(str(exc)) from None
        self.samples = np.zeros(0, np.complex64) if self.recording is None else self.recording.samples
        self.frame_tags, self.finish = bool(frame_tags), bool(finish)
        self._idle = threading.Event()
        self._frames = list(self.recording.frames) if (self.recording is not None and self.frame_tags) else []
        self.position = 0

    @property
    def total(self) -> int:
        """Samples in the recording."""
        return int(self.samples.size)

    @property
    def exhausted(self) -> bool:
        """Every sample of the recording has been played."""
        return self.position >= self.total

    def start(self):
        self._idle.clear()
        return True

    def stop(self):
        self._idle.set()
        return True

    def work(self, input_items, output_items):
        out = output_items[0]
        n = min(len(out), self.total - self.position)
        if n <= 0:
            if self.finish:
                return -1  # WORK_DONE: the recording has been played
            self._idle.wait(0.05)  # nothing more will come: do not spin
            return 0
        out[:n] = self.samples[self.position : self.position + n]
        while self._frames and self._frames[0].sample_start < self.position + n:
            frame = self._frames.pop(0)
            value = {"seq": frame.seq, "model": frame.model, "code_rate": frame.code_rate, "info_bits": frame.info_bits}
            self.add_item_tag(0, frame.sample_start, pmt.intern(FRAME_TAG), dict_to_meta(value))
        self.position += n
        return n
