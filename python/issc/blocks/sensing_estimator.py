"""sensing_estimator: per-block MAP estimates of the target position and the sync error."""
from __future__ import annotations

import numpy as np
import pmt
from gnuradio import gr

from ..physics.channels import EchoChannel
from ..physics.motion import scenario_trajectory
from ..errors import IsscInputError
from ..sensing.estimator import TargetEstimator
from ..link.config import FRAME_TAG
from ..link.pdus import dict_to_meta, meta_to_dict
from ..scenario import load_scenario
from ..units import SPEED_OF_LIGHT
from ._util import RateLimitedLog, check_antennas

ECHO_TAG = "issc_echo"


class sensing_estimator(gr.sync_block):
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
    a flagged non-estimate (``ok`` false), never an exception.

    The search region is centred on the scenario's target until a ``track`` message arrives; from then on
    on the track's prediction for the block's time ``block * block_interval_s`` (scenario ``motion``).

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
    """

    def __init__(self, scenario="paper", every: int = 4, search_halfwidth_m: float = 20.0, n_tx: int = 0,
                 n_rx: int = 0):
        try:
            scn = load_scenario(scenario)
            check_antennas("n_tx", n_tx, scn.arrays.n_tx, scn)
            check_antennas("n_rx", n_rx, scn.arrays.n_rx, scn)
            half_taps = EchoChannel.from_scenario(scn).half_taps
            self.estimator = TargetEstimator.from_scenario(scn, search_halfwidth_m=float(search_halfwidth_m),
                                                           half_taps=half_taps)
        except IsscInputError as exc:
            raise ValueError(str(exc)) from None
        if int(every) != every or every < 1:
            raise ValueError(f"every must be an integer >= 1, got {every!r}")
        self.n_tx, self.n_rx = scn.arrays.n_tx, scn.arrays.n_rx
        gr.sync_block.__init__(self, name="sensing_estimator",
                               in_sig=[np.complex64] * (self.n_tx + self.n_rx), out_sig=None)
        self.block = scn.signal.sensing_block
        self.every = int(every)
        # the region moves with the track: keep the history the farthest point of the path needs
        path = scenario_trajectory(scn).waypoints
        self.history = max(self.estimator.required_history(p) for p in path) + int(np.ceil(
            2 * self.estimator.halfwidth * self.estimator.samples_per_metre)) * (len(path) > 1)
        self.target = np.asarray(self.estimator.geometry.target, float)
        self.block_interval_s = scn.block_interval_s()
        self._track = None                # (t_s, position, velocity) of the latest track message
        self._reference = np.zeros((self.n_tx, 0), np.complex128)
        self._echo = np.zeros((self.n_rx, 0), np.complex128)
        self._base = 0                    # absolute index of column 0 of the buffers
        self._seq = -1
        self._truth = {}                  # block -> true sync error (s)
        self._frame_starts = []           # (offset, seq) of issc_frame tags not yet behind the estimates
        self._last_done = -1
        self.estimates = 0
        self.samples_seen = 0
        self._log = RateLimitedLog(self.logger)
        self.message_port_register_out(pmt.intern("estimate"))
        self.message_port_register_in(pmt.intern("track"))
        self.set_msg_handler(pmt.intern("track"), self._on_track)

    def _on_track(self, msg):
        try:
            info = meta_to_dict(msg)
            state = [float(info[k]) for k in ("t_s", "x", "y", "vx", "vy")]
        except (IsscInputError, KeyError, TypeError, ValueError):
            self._log.warn("track", "dropping a track message without numeric t_s, x, y, vx, vy")
            return
        if not np.all(np.isfinite(state)):
            self._log.warn("track", "dropping a track message with non-finite values")
            return
        self._track = (state[0], np.array(state[1:3]), np.array(state[3:5]))

    def search_centre(self, block: int) -> np.ndarray:
        """The search region's centre for ``block``: the track's prediction, else the scenario's target."""
        track = self._track
        if track is None:
            return self.target
        t_s, position, velocity = track
        return position + velocity * (block * self.block_interval_s - t_s)

    def _read_tags(self, n):
        for tag in self.get_tags_in_window(0, 0, n, pmt.intern(FRAME_TAG)):
            seq = pmt.dict_ref(tag.value, pmt.intern("seq"), pmt.PMT_NIL) if pmt.is_dict(tag.value) else pmt.PMT_NIL
            if pmt.is_integer(seq):
                self._frame_starts.append((tag.offset, pmt.to_long(seq)))
        for tag in self.get_tags_in_window(self.n_tx, 0, n, pmt.intern(ECHO_TAG)):
            try:
                info = meta_to_dict(tag.value)
                truth = np.array([info.get("target_x", self.target[0]), info.get("target_y", self.target[1])], float)
                self._truth[int(info["block"])] = (float(info["sync_error_s"]), truth)
            except (IsscInputError, KeyError, TypeError, ValueError):  # a bad tag only loses the truth
                self._log.warn("tag", f"ignoring malformed {ECHO_TAG} tag at {tag.offset}")

    def _next_block(self) -> int:
        block = self._last_done + 1
        return block + (-block) % self.every

    def work(self, input_items, output_items):
        n = len(input_items[0])
        self._read_tags(n)
        self._reference = np.concatenate(
            [self._reference, np.stack([np.asarray(x[:n]) for x in input_items[:self.n_tx]])], axis=1)
        self._echo = np.concatenate(
            [self._echo, np.stack([np.asarray(x[:n]) for x in input_items[self.n_tx:]])], axis=1)
        end = self._base + self._reference.shape[1]
        while (self._next_block() + 1) * self.block <= end:
            block = self._next_block()
            self._estimate(block, block * self.block)
            self._last_done = block
        self.samples_seen = end
        # keep what the next estimate needs: its block and the reference history before it
        keep_from = min(max(self._next_block() * self.block - self.history, self._base), end)
        count = keep_from - self._base
        self._reference, self._echo = self._reference[:, count:], self._echo[:, count:]
        self._base = keep_from
        return n

    def _estimate(self, block, start):
        col = start - self._base
        echo = self._echo[:, col:col + self.block]
        reference = self._reference[:, :col + self.block]
        if col < self.history:  # before the stream began the transmitter sent nothing
            reference = np.concatenate([np.zeros((self.n_tx, self.history - col)), reference], axis=1)
            col = self.history
        centre = self.search_centre(block)
        result = self.estimator.estimate(echo, reference, col, centre=centre)
        started = [(offset, frame_seq) for offset, frame_seq in self._frame_starts if offset <= start]
        seq = max(started)[1] if started else -1  # the latest frame that began before this block
        self._frame_starts = [(o, s) for o, s in self._frame_starts if o > start] + (
            [(start, seq)] if seq >= 0 else [])
        report = {"seq": seq, "block": block, "ok": bool(result.ok and result.position is not None),
                  "glrt": result.glrt, "hcrb_trace": result.hcrb_trace,
                  "centre_x": float(centre[0]), "centre_y": float(centre[1])}
        true_position = self.target
        if block in self._truth:
            sync_error_s, true_position = self._truth.pop(block)
            report.update(true_sync_error_m=sync_error_s * SPEED_OF_LIGHT, true_x=float(true_position[0]),
                          true_y=float(true_position[1]))
            if np.all(np.isfinite(reference)):
                report["hcrb_trace_true"] = self.estimator.hcrb_trace_at(true_position, reference[:, col:col + self.block])
        if result.position is not None:
            report.update(x=float(result.position[0]), y=float(result.position[1]),
                          sync_error_m=float(result.sync_error_m),
                          error_m=float(np.linalg.norm(result.position - true_position)))
        else:
            report["reason"] = result.reason
        for old in [b for b in self._truth if b < block]:
            del self._truth[old]
        self.estimates += 1
        self.message_port_pub(pmt.intern("estimate"), dict_to_meta(
            {k: v for k, v in report.items() if not (isinstance(v, float) and not np.isfinite(v))}))
