# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""sensing_estimator: per-block MAP estimates of the target position and the sync error."""

from __future__ import annotations

import numpy as np
import pmt
from gnuradio import gr

from ..errors import IsscInputError
from ..link.config import FRAME_TAG
from ..link.pdus import dict_to_meta, meta_seq, meta_to_dict
from ..scenario import load_scenario
from ..sensing.policy import TrackState
from ..sensing.streaming import ECHO_TAG, StreamingEstimator
from ._util import RateLimitedLog, SeparateProcess, check_antennas, register_message_handlers


class sensing_estimator(SeparateProcess, gr.sync_block):
    """The sensing receiver (bistatic, with the transmitted waveform as reference over a backhaul).

    Inputs ``0..N_T-1`` are the transmitted antenna streams (the reference), inputs ``N_T..N_T+N_R-1`` the
    echo streams, sample-aligned (as the echo channel delivers them). Every ``every``-th sensing block of
    ``N`` samples is estimated with :class:`~gnuradio.issc.sensing.estimator.TargetEstimator` (coarse search
    over the region, then LM refinement); the result goes out on ``estimate`` as a dict: ``seq`` (the
    frame on the air at the block start, from the ``issc_frame`` tags of the reference), ``block``,
    ``x``, ``y`` (m), ``sync_error_m``, ``glrt``, ``ok`` (GLRT above threshold), ``hcrb_trace`` (of the
    block's sample covariance at the estimate, m^2), ``centre_x``, ``centre_y`` (the search centre) and,
    when the echo channel's ``issc_echo`` tags are present, ``true_x``, ``true_y``, ``true_sync_error_m``,
    ``error_m`` (distance to the true position) and ``hcrb_trace_true`` (the bound at the true position).
    Without tags ``error_m`` is the distance to the scenario's target. Blocks with non-finite samples give
    a flagged non-estimate (``ok`` false), never an exception. Which blocks are estimated, their frames,
    truth and search centres are :class:`~gnuradio.issc.sensing.streaming.StreamingEstimator`'s (every
    estimate sees the same reference history, however the scheduler cuts the streams); this block
    passes it the samples, tags and track messages.

    The search region is centred on the scenario's target until a ``track`` message arrives; from then on
    on the track's prediction for the block's time ``block * block_interval_s`` (scenario ``motion``).

    With ``separate_process`` (the default) the estimation runs in a child Python process
    (:class:`~gnuradio.issc.sensing.worker.EstimatorProcess`, started with the flowgraph, stopped with it):
    the same reports, but the estimator's many small NumPy calls no longer hold the interpreter lock the
    other Python blocks need (on 2 cores, `issc bench link --sensing-every 1`: docs/performance.md). A
    child that cannot start or dies is logged and the estimation goes on in-process.

    Message ports:
        track (in): a dict with ``t_s``, ``x``, ``y``, ``vx``, ``vy`` (s, m, m/s): the tracker's state at
            time ``t_s``, e.g. from the controller in tracking mode.
        estimate (out): one dict per estimated block.

    Args:
        scenario: shipped scenario name or YAML path (geometry, noise, sync prior, block length, motion).
        every: estimate one block in ``every`` (1: all; estimation costs tens of ms per block).
        search_halfwidth_m: half-width of the square search region around its centre.
        n_tx: reference inputs; must match the scenario's ``N_T`` (0: the scenario's).
        n_rx: echo inputs; must match the scenario's ``N_R`` (0: the scenario's).
        separate_process: estimate in a child process (True) or in the block's thread (False).
    """

    def __init__(
        self,
        scenario="paper",
        every: int = 4,
        search_halfwidth_m: float = 20.0,
        n_tx: int = 0,
        n_rx: int = 0,
        separate_process: bool = True,
    ):
        try:
            scn = load_scenario(scenario)
            check_antennas("n_tx", n_tx, scn.arrays.n_tx, scn)
            check_antennas("n_rx", n_rx, scn.arrays.n_rx, scn)
            self.stream = StreamingEstimator.from_scenario(scn, every, search_halfwidth_m)
        except IsscInputError as exc:
            raise ValueError(str(exc)) from None
        self.n_tx, self.n_rx = scn.arrays.n_tx, scn.arrays.n_rx
        gr.sync_block.__init__(
            self, name="sensing_estimator", in_sig=[np.complex64] * (self.n_tx + self.n_rx), out_sig=None
        )
        self.estimator = self.stream.estimator
        self.separate_process = bool(separate_process)
        self._log = RateLimitedLog(self.logger)
        self._process_owner, self._process_doing = self.stream, "estimating"
        self.message_port_register_out(pmt.intern("estimate"))
        register_message_handlers(self, {"track": self._on_track}, self._log)

    @property
    def estimates(self) -> int:
        """Blocks estimated so far."""
        return self.stream.estimates

    @property
    def samples_seen(self) -> int:
        """Samples of every input consumed so far."""
        return self.stream.samples_seen

    def search_centre(self, block: int) -> np.ndarray:
        """The search region's centre for ``block``: the track's prediction, else the scenario's target."""
        return self.stream.search_centre(block)

    def _on_track(self, msg):
        self.stream.set_track(TrackState.from_message(meta_to_dict(msg)))

    def _read_tags(self, n):
        for tag in self.get_tags_in_window(0, 0, n, pmt.intern(FRAME_TAG)):
            try:
                self.stream.frame_started(tag.offset, meta_seq(meta_to_dict(tag.value), f"{FRAME_TAG} tag"))
            except IsscInputError as exc:  # a bad tag only loses the frame's name on the reports
                self._log.warn("frame-tag", f"ignoring the {FRAME_TAG} tag at {tag.offset}: {exc}")
        for tag in self.get_tags_in_window(self.n_tx, 0, n, pmt.intern(ECHO_TAG)):
            try:
                self.stream.echo_tag(meta_to_dict(tag.value))
            except IsscInputError as exc:  # a bad tag only loses the truth
                self._log.warn("tag", f"ignoring malformed {ECHO_TAG} tag at {tag.offset}: {exc}")

    def work(self, input_items, output_items):
        n = len(input_items[0])
        self._read_tags(n)  # before the samples: a block's tags must be known when it is estimated
        reference = np.stack([np.asarray(x[:n]) for x in input_items[: self.n_tx]])
        echo = np.stack([np.asarray(x[:n]) for x in input_items[self.n_tx :]])
        for report in self.stream.process(reference, echo):
            self.message_port_pub(pmt.intern("estimate"), dict_to_meta(report))
        self._report_process_failure()
        return n
