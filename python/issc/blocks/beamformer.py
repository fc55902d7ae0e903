# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""beamformer: ``x = w_c s_c + W_0 s_0`` onto ``N_T`` antenna streams."""

from __future__ import annotations

import threading

import numpy as np
import pmt
from gnuradio import gr

from ..errors import IsscInputError
from ..link.config import FRAME_TAG, LinkConfig
from ._util import RateLimitedLog, stacked_finite_inputs


class beamformer(gr.sync_block):
    """Superimpose the communication and sensing streams through the two beamformers.

    Input 0 is ``s_c`` (the frame encoder's symbols), inputs 1..r_0 the sensing streams; output k is
    antenna k. The beams change exactly at the first sample of a frame: a stream tag with key
    ``issc_frame`` whose value is the frame's :class:`~gnuradio.issc.link.config.LinkConfig`. Until the
    first tag, the constructor's beams apply. Malformed tags are logged and ignored (the previous beams
    stay); non-finite input samples are replaced by 0 and logged.

    Args:
        n_tx: number of transmit antennas ``N_T`` (outputs).
        sensing_streams: ``r_0`` (inputs besides ``s_c``).
        w_c: initial communication beam (``N_T`` complex); default ``e_0`` (all on antenna 0).
        w_0: initial sensing beams (``N_T x r_0``, flattened row-major); default zeros.
    """

    def __init__(self, n_tx: int = 4, sensing_streams: int = 1, w_c=None, w_0=None):
        if int(n_tx) != n_tx or n_tx < 1:
            raise ValueError(f"n_tx must be an integer >= 1, got {n_tx!r}")
        if int(sensing_streams) != sensing_streams or not 1 <= sensing_streams:
            raise ValueError(f"sensing_streams must be an integer >= 1, got {sensing_streams!r}")
        gr.sync_block.__init__(
            self,
            name="beamformer",
            in_sig=[np.complex64] * (1 + int(sensing_streams)),
            out_sig=[np.complex64] * int(n_tx),
        )
        self.n_tx, self.sensing_streams = int(n_tx), int(sensing_streams)
        self._lock = threading.Lock()
        self._log = RateLimitedLog(self.logger)
        self.frames_switched = 0
        self.set_beams(w_c, w_0)

    def set_beams(self, w_c=None, w_0=None):
        """Replace the current beams now (GRC callback). In a running link, send beams with the data
        instead (frame tags): a setter call lands at an arbitrary sample."""
        w_c = np.eye(self.n_tx, 1).reshape(-1) if w_c is None or len(w_c) == 0 else np.asarray(w_c, complex)
        w_0 = np.zeros((self.n_tx, self.sensing_streams)) if w_0 is None or len(w_0) == 0 else np.asarray(w_0, complex)
        if w_c.shape != (self.n_tx,) or w_0.size != self.n_tx * self.sensing_streams:
            raise ValueError(f"beams must be w_c: {self.n_tx} and w_0: {self.n_tx} x {self.sensing_streams} values")
        with self._lock:
            self._beams = np.concatenate([w_c[:, None], w_0.reshape(self.n_tx, self.sensing_streams)], axis=1).astype(
                np.complex64
            )

    @property
    def beams(self) -> np.ndarray:
        """Current ``[w_c, W_0]`` (``N_T x (1 + r_0)``)."""
        with self._lock:
            return self._beams.copy()

    def _beams_from_tag(self, tag):
        try:
            config = LinkConfig.from_pmt(tag.value)
        except IsscInputError as exc:
            self._log.warn("bad-tag", f"ignoring malformed {FRAME_TAG} tag at {tag.offset}: {exc}")
            return None
        if config.n_tx != self.n_tx or config.sensing_streams != self.sensing_streams:
            self._log.warn(
                "shape",
                f"ignoring {FRAME_TAG} tag at {tag.offset}: beams for {config.n_tx} antennas x "
                f"{config.sensing_streams} streams, block has {self.n_tx} x {self.sensing_streams}",
            )
            return None
        return config.beam_matrix.astype(np.complex64)

    def work(self, input_items, output_items):
        n = len(output_items[0])
        streams = stacked_finite_inputs(input_items, n, self._log)
        start = self.nitems_read(0)
        tags = sorted(self.get_tags_in_window(0, 0, n, pmt.intern(FRAME_TAG)), key=lambda t: t.offset)
        out = np.empty((self.n_tx, n), np.complex64)
        with self._lock:
            cursor = 0
            for tag in tags:
                at = int(tag.offset - start)
                out[:, cursor:at] = self._beams @ streams[:, cursor:at]
                cursor = at
                beams = self._beams_from_tag(tag)
                if beams is not None:
                    self._beams = beams
                    self.frames_switched += 1
            out[:, cursor:] = self._beams @ streams[:, cursor:]
        for k in range(self.n_tx):
            output_items[k][:n] = out[k]
        return n
