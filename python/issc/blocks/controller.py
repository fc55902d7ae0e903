# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""controller: frame configurations from the optimiser, decided off the data path."""

from __future__ import annotations

import math
import threading

import numpy as np
import pmt
from gnuradio import gr

from ..link.config import LinkConfig
from ..link.pdus import dict_to_meta, is_int, meta_seq, meta_to_dict, require_int
from ..sensing.policy import TrackingPolicy
from ._util import RateLimitedLog, register_message_handlers

MODES = ("known-geometry", "tracking")
SCHEMES = ("ascc", "djscc")


def parse_schedule(schedule) -> list[tuple[int, float | None, float | None]]:
    """``[(first_frame, power_dbm, hcrb_threshold_m2), ...]`` sorted by frame; None keeps the value."""
    steps = []
    for i, step in enumerate(schedule or []):
        if isinstance(step, dict):
            step = (step.get("frame"), step.get("power_dbm"), step.get("hcrb_threshold_m2"))
        if not isinstance(step, (list, tuple)) or len(step) != 3:
            raise ValueError(f"schedule[{i}] must be (frame, power_dbm, hcrb_threshold_m2), got {step!r}")
        frame, power, pi = step
        if not is_int(frame) or frame < 0:
            raise ValueError(f"schedule[{i}]: frame must be an integer >= 0, got {frame!r}")
        for name, value in (("power_dbm", power), ("hcrb_threshold_m2", pi)):
            if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)):
                raise ValueError(f"schedule[{i}]: {name} must be a number or None, got {value!r}")
        steps.append((frame, power, pi))
    return sorted(steps, key=lambda s: s[0])


class controller(gr.basic_block):
    """Decides each frame's configuration (codec model, code rate, beams) with the ASCC optimiser, or,
    with ``scheme='djscc'``, the deep JSCC benchmark's (beams from the solver, 'zf-wf' for DJSCC-WF-ZF,
    then the DJSCC model of the ABR trained nearest the predicted SINR; an analog configuration with
    ``code_rate`` and ``info_bits`` 0, for :class:`djscc_encoder`).

    The optimiser runs in a worker thread: a frame never waits for a solve. When the inputs change
    (a schedule step is reached, an estimate arrives in a tracking mode), a new decision is requested;
    the worker publishes it on ``config`` when done, and until then the last configuration stays in use
    downstream. The first decision is made in the constructor, so a bad scenario or profile fails at
    once and the first frame already has a configuration (published when the flowgraph starts).

    Message ports:
        feedback (in): a PMT dict with ``seq`` (integer), the sequence number of a frame just sent;
            drives the schedule.
        estimate (in): a PMT dict with ``block`` (integer), ``x``, ``y`` (metres), ``ok`` (bool) and
            ``hcrb_trace`` (m^2), as the sensing estimator publishes. Mode ``known-geometry`` (the paper's)
            counts and ignores them; mode ``tracking`` feeds them to the
            :class:`~gnuradio.issc.sensing.policy.TrackingPolicy` (a constant-velocity Kalman filter,
            measurement covariance ``hcrb_trace / 2 * I``, 99.9 % gate) and requests a decision for the
            position predicted ``lead_frames`` frames ahead; after ``tracking.max_misses`` rejected
            estimates in a row the track is lost and the sensing beam is the wider sub-array beam
            (``tracking.fallback_antennas``) until an estimate is accepted again.
        config (out): the decided :class:`~gnuradio.issc.link.config.LinkConfig` as a PMT dict; its
            ``predicted`` dict also has ``design_x``, ``design_y`` (the position designed for) and, in
            tracking mode, ``track_lost`` and ``widened``.
        track (out): tracking mode, after every estimate: a dict ``t_s``, ``x``, ``y``, ``vx``, ``vy``,
            ``lost``, ``misses`` (the filter's state at the estimated block's time), for the estimator's
            search centre.

    Args:
        scenario: shipped scenario name or YAML path.
        profile: codec profile path ('' for the shipped profile).
        solver: 'sdr', 'paper' or 'zf-wf'.
        metric: 'mse' or 'ms_ssim'.
        power_dbm: power budget (NaN: the scenario's).
        hcrb_threshold_m2: HCRB threshold Pi (NaN: the scenario's).
        abr: bandwidth ratio (NaN: the scenario's).
        sensing_streams: r_0 (0: the scenario's).
        schedule: list of ``(first_frame, power_dbm, hcrb_threshold_m2)``; None entries keep the value.
        mode: 'known-geometry' (beams for the scenario's target) or 'tracking' (beams for the tracked
            target; the scenario's ``tracking`` and ``motion`` sections set the filter and the block time).
        ber_model: 'normal' (finite-blocklength approximation) or 'calibrated' (the measured polar-code table).
        scheme: 'ascc' (the codec family and the profile) or 'djscc' (the deep JSCC benchmark).
        djscc_dir: scheme 'djscc': the DJSCC model directory ('' for the shipped models).
        sensing_surplus: scheme 'ascc', solver 'sdr': the second stage (keep the chosen model and rate, spend
            the SINR they do not need on sensing: least ``tr HCRB`` at the same predicted quality).
        djscc_loss: scheme 'djscc': the training loss of the models it picks, 'ae' (default), 'vae' or
            'vscc' (docs/vscc.md; VAE and VSCC models are shipped at ABR 1/16).
        lead_frames: tracking mode: design for the position predicted this many frames after the estimated
            block (a configuration is used by the next image the encoder takes, which goes on the air after
            the frame on the air and the images queued before it; the link's image source queues 2).
    """

    def __init__(
        self,
        scenario="paper",
        profile="",
        solver="sdr",
        metric="mse",
        power_dbm=float("nan"),
        hcrb_threshold_m2=float("nan"),
        abr=float("nan"),
        sensing_streams=0,
        schedule=None,
        mode="known-geometry",
        ber_model="normal",
        lead_frames: float = 3.0,
        scheme="ascc",
        djscc_dir="",
        sensing_surplus: bool = True,
        djscc_loss="ae",
    ):
        gr.basic_block.__init__(self, name="controller", in_sig=None, out_sig=None)
        from ..optim import Optimizer  # cvxpy import only where a controller is used

        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")
        self.mode, self.scheme = mode, scheme
        if scheme == "djscc":
            from ..optim.djscc_decision import DjsccOptimizer

            self.optimizer = DjsccOptimizer(
                scenario, djscc_dir or None, solver=solver, loss=djscc_loss or "ae", profile=profile or None
            )
        else:
            self.optimizer = Optimizer(
                scenario,
                profile or None,
                solver=solver,
                metric=metric,
                ber_model=ber_model,
                sensing_surplus=bool(sensing_surplus),
            )
        budget = self.optimizer.scenario.budget
        self._power_dbm = budget.power_dbm if _unset(power_dbm) else float(power_dbm)
        self._pi = budget.hcrb_threshold_m2 if _unset(hcrb_threshold_m2) else float(hcrb_threshold_m2)
        self._abr = budget.abr if _unset(abr) else float(abr)
        self._streams = budget.sensing_streams if not sensing_streams else int(sensing_streams)
        self._schedule = parse_schedule(schedule)
        self._step = -1
        self._log = RateLimitedLog(self.logger)
        self._cond = threading.Condition()
        self._pending = None  # latest requested parameters (older requests are superseded)
        self._busy = False
        self._stopping = False
        self.decisions = 0
        self.estimates_ignored = 0
        scn = self.optimizer.scenario
        self._static_target = np.asarray(scn.geometry.target, float)
        # a frame of E_a^max channel uses (symbols, sps samples each) spans this many sensing blocks (samples)
        frame_samples = self.optimizer.problem(abr=self._abr).channel_use_budget * scn.signal.samples_per_symbol
        frame_blocks = frame_samples / scn.signal.sensing_block
        lead_s = TrackingPolicy.lead_time_s(lead_frames, frame_blocks, scn.block_interval_s())
        self.lead_frames = float(lead_frames)
        self.policy = TrackingPolicy(scn, lead_s=lead_s) if mode == "tracking" else None
        self.estimates_used = 0
        self._apply_schedule(0)
        self.current = self._decide(self._parameters())
        self._worker = None

        register_message_handlers(self, {"feedback": self._on_feedback, "estimate": self._on_estimate}, self._log)
        self.message_port_register_out(pmt.intern("config"))
        self.message_port_register_out(pmt.intern("track"))

    # -- flowgraph life cycle ----------------------------------------------------------------------------
    def start(self):
        with self._cond:
            self._stopping = False
        self._worker = threading.Thread(target=self._run, name="controller", daemon=True)
        self._worker.start()
        self.message_port_pub(pmt.intern("config"), self.current.to_pmt())
        return True

    def stop(self):
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._worker is not None:
            self._worker.join(timeout=30)
        return True

    # -- setters (GRC callbacks) --------------------------------------------------------------------------
    def set_power_dbm(self, power_dbm):
        with self._cond:
            self._power_dbm = float(power_dbm)
        self._request()

    def set_hcrb_threshold_m2(self, pi):
        with self._cond:
            self._pi = float(pi)
        self._request()

    def wait_until_idle(self, timeout=None) -> bool:
        """Block until no decision is pending or running (for tests and scripts)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._pending is None and not self._busy, timeout)

    # -- message handlers ---------------------------------------------------------------------------------
    def _on_feedback(self, msg):
        seq = meta_seq(meta_to_dict(msg), "feedback message")
        if self._apply_schedule(seq + 1):
            self._request()

    def _on_estimate(self, msg):
        report = meta_to_dict(msg)
        if self.policy is None:
            self.estimates_ignored += 1  # known-geometry mode: the geometry comes from the scenario
            return
        track = self.track_update(require_int(report, "block", "estimate"), report)
        if track is not None:
            self.message_port_pub(pmt.intern("track"), dict_to_meta(track))
            self._request()

    @property
    def tracker(self):
        """Tracking mode: the policy's Kalman filter (None in mode known-geometry)."""
        return None if self.policy is None else self.policy.tracker

    @property
    def _target(self) -> np.ndarray:
        """The position the next decision designs the beams for."""
        return self._static_target if self.policy is None else self.policy.design_position

    @property
    def _widen(self) -> int:
        return 0 if self.policy is None else self.policy.widen_antennas

    def track_update(self, block: int, report: dict) -> dict | None:
        """Feed one estimator report to the tracking policy (which sets the next design's target); returns
        the track message (None for a stale report, older than the track)."""
        with self._cond:
            track = self.policy.update(block, report)
            if track is None:
                self.estimates_ignored += 1
            else:
                self.estimates_used += 1
            return track

    def _lead_s(self) -> float:
        return self.policy.lead_s

    # -- internals ----------------------------------------------------------------------------------------
    def _apply_schedule(self, next_frame: int) -> bool:
        """Move to the last schedule step whose first frame is <= next_frame; True if it changed."""
        step = max((i for i, s in enumerate(self._schedule) if s[0] <= next_frame), default=-1)
        if step == self._step:
            return False
        self._step = step
        _, power, pi = self._schedule[step]
        with self._cond:
            if power is not None:
                self._power_dbm = float(power)
            if pi is not None:
                self._pi = float(pi)
        return True

    def _parameters(self):
        with self._cond:
            return self._parameters_locked()

    def _parameters_locked(self):
        return dict(
            power_dbm=self._power_dbm,
            hcrb_threshold_m2=self._pi,
            abr=self._abr,
            sensing_streams=self._streams,
            target=self._target.copy(),
            widen_sensing_antennas=self._widen,
        )

    def _request(self):
        with self._cond:
            self._pending = self._parameters_locked()  # supersedes any older pending request
            self._cond.notify_all()

    def _decide(self, params) -> LinkConfig:
        decision = self.optimizer.decide(**params)
        self.decisions += 1
        if not decision.feasible:
            self._log.warn("infeasible", f"decision infeasible: {decision.reason}")
        config = LinkConfig.from_decision(decision)
        config.predicted.update(
            power_budget_dbm=params["power_dbm"],
            hcrb_threshold_m2=params["hcrb_threshold_m2"],
            design_x=float(params["target"][0]),
            design_y=float(params["target"][1]),
        )
        if self.policy is not None:
            config.predicted.update(
                track_lost=bool(params["widen_sensing_antennas"]), widened=bool(params["widen_sensing_antennas"])
            )
        return config

    def _run(self):
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._stopping)
                if self._stopping:
                    return
                params, self._pending, self._busy = self._pending, None, True
            try:
                config = self._decide(params)
            except Exception as exc:  # noqa: BLE001 - keep the last configuration, keep the link running
                self.logger.error(f"decision failed, keeping the last configuration: {exc}")
                config = None
            if config is not None:
                self.current = config
                self.message_port_pub(pmt.intern("config"), config.to_pmt())
            with self._cond:
                self._busy = False
                self._cond.notify_all()


def _unset(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
