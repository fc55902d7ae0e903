# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""multiuser_beamformer: ``x = sum_k w_k s_k + W_0 s_0`` onto ``N_T`` antenna streams."""

from __future__ import annotations

import threading

import numpy as np
import pmt
from gnuradio import gr

from ..errors import IsscInputError
from ..link.config import FRAME_TAG, LinkConfig
from ..link.multiuser import superpose
from ._util import RateLimitedLog, stacked_finite_inputs


class multiuser_beamformer(gr.sync_block):
    """Superimpose ``K`` user streams and ``r_0`` sensing streams through their beams
    (:func:`~gnuradio.issc.link.multiuser.superpose`).

    Inputs ``0..K-1`` are the users' symbols ``s_k`` (``multiuser_frame_encoder``), inputs ``K..K+r_0-1``
    the sensing streams; output ``n`` is antenna ``n``. User ``k``'s beam changes exactly at the
    ``issc_frame`` tag on input ``k`` (its value a frame configuration: ``w_c`` is ``w_k``); the sensing
    beams ``W_0`` at the tag on input 0 (its ``w_0``; a configuration with fewer than ``r_0`` sensing
    columns is padded with zero columns). Until the first tags, the constructor's beams apply. Input 0's tags
    are copied to every output (the sensing estimator reads the frame numbers there); other tags stop here.
    Malformed tags are logged and ignored; non-finite input samples are replaced by 0 and logged.

    Args:
        n_tx: transmit antennas ``N_T`` (outputs).
        users: ``K``.
        sensing_streams: ``r_0``.
        w: initial user beams (``N_T x K``, flattened row-major); default zeros.
        w_0: initial sensing beams (``N_T x r_0``, flattened row-major); default zeros.
    """

    def __init__(self, n_tx: int = 4, users: int = 2, sensing_streams: int = 1, w=None, w_0=None):
        for name, value in (("n_tx", n_tx), ("users", users), ("sensing_streams", sensing_streams)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        self.n_tx, self.users, self.sensing_streams = int(n_tx), int(users), int(sensing_streams)
        gr.sync_block.__init__(
            self,
            name="multiuser_beamformer",
            in_sig=[np.complex64] * (self.users + self.sensing_streams),
            out_sig=[np.complex64] * self.n_tx,
        )
        self.set_tag_propagation_policy(gr.TPP_DONT)
        self._lock = threading.Lock()
        self._log = RateLimitedLog(self.logger)
        self.frames_switched = 0
        self.set_beams(w, w_0)

    def set_beams(self, w=None, w_0=None):
        """Replace the current beams now (GRC callback); in a running link the beams come with the frames."""
        w = np.zeros((self.n_tx, self.users)) if w is None or len(w) == 0 else np.asarray(w, complex)
        w_0 = np.zeros((self.n_tx, self.sensing_streams)) if w_0 is None or len(w_0) == 0 else np.asarray(w_0, complex)
        if w.size != self.n_tx * self.users or w_0.size != self.n_tx * self.sensing_streams:
            raise ValueError(
                f"beams must be w: {self.n_tx} x {self.users} and w_0: {self.n_tx} x {self.sensing_streams} values"
            )
        with self._lock:
            self._w = w.reshape(self.n_tx, self.users).astype(np.complex64)
            self._w_0 = w_0.reshape(self.n_tx, self.sensing_streams).astype(np.complex64)

    @property
    def beams(self) -> tuple[np.ndarray, np.ndarray]:
        """Current ``(W, W_0)``: ``N_T x K`` and ``N_T x r_0``."""
        with self._lock:
            return self._w.copy(), self._w_0.copy()

    def _config(self, tag) -> LinkConfig | None:
        try:
            config = LinkConfig.from_pmt(tag.value)
        except IsscInputError as exc:
            self._log.warn("bad-tag", f"ignoring malformed {FRAME_TAG} tag at {tag.offset}: {exc}")
            return None
        if config.n_tx != self.n_tx or config.sensing_streams > self.sensing_streams:
            self._log.warn(
                "shape",
                f"ignoring {FRAME_TAG} tag at {tag.offset}: beams for {config.n_tx} antennas x "
                f"{config.sensing_streams} sensing streams, block has {self.n_tx} x {self.sensing_streams}",
            )
            return None
        return config

    def _apply(self, user: int, config: LinkConfig):
        self._w[:, user] = config.w_c.astype(np.complex64)
        if user == 0:
            self._w_0[:] = 0
            self._w_0[:, : config.sensing_streams] = config.w_0.astype(np.complex64)

    def work(self, input_items, output_items):
        n = len(output_items[0])
        streams = stacked_finite_inputs(input_items, n, self._log)
        start = self.nitems_read(0)
        key = pmt.intern(FRAME_TAG)
        tags = []
        for user in range(self.users):
            tags += [(int(t.offset - start), user, t) for t in self.get_tags_in_window(user, 0, n, key)]
        tags.sort(key=lambda item: (item[0], item[1]))
        out = np.empty((self.n_tx, n), np.complex64)
        k = self.users
        with self._lock:
            cursor = 0
            for at, user, tag in tags:
                out[:, cursor:at] = superpose(self._w, self._w_0, streams[:k, cursor:at], streams[k:, cursor:at])
                cursor = at
                config = self._config(tag)
                if config is not None:
                    self._apply(user, config)
                    self.frames_switched += user == 0
                if user == 0:
                    for antenna in range(self.n_tx):
                        self.add_item_tag(antenna, self.nitems_written(0) + at, key, tag.value)
            out[:, cursor:] = superpose(self._w, self._w_0, streams[:k, cursor:], streams[k:, cursor:])
        for antenna in range(self.n_tx):
            output_items[antenna][:n] = out[antenna]
        return n
