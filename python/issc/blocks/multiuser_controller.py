# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""multiuser_controller: every user's frame configuration from the multi-user optimiser, frame by frame."""

from __future__ import annotations

import math
import threading

import numpy as np
import pmt
from gnuradio import gr

from ..errors import IsscInputError
from ..link.config import LinkConfig
from ..link.pdus import dict_to_meta, meta_seq, meta_to_dict
from ._util import RateLimitedLog, register_message_handlers
from .controller import parse_schedule


def user_configs(decision, blocklength: int, sensing_streams: int, extra: dict | None = None) -> list[LinkConfig]:
    """One :class:`~gnuradio.issc.link.config.LinkConfig` per user of a
    :class:`~gnuradio.issc.optim.multiuser.MultiUserDecision`: the user's model, ``K = floor(R_c L)``
    information bits per block (1 .. 2L - 1; 0, an analog frame, for a user whose decision has ``R_c = 0``: a
    deep JSCC model of ``zf-wf-djscc``), ``w_c`` its beam ``w_k``, ``w_0`` the design's ``W_0`` padded
    with zero columns to ``sensing_streams``; ``predicted`` holds the user's prediction and the decision's.

    Args:
        decision: the multi-user decision.
        blocklength: ``L``.
        sensing_streams: columns of ``w_0`` (the transmitter's ``r_0``).
        extra: more ``predicted`` entries (the budget...).
    """
    w_0 = np.asarray(decision.w_0, complex).reshape(len(decision.users[0].w), -1)
    if w_0.shape[1] > sensing_streams:
        raise IsscInputError(f"the design has {w_0.shape[1]} sensing streams, the transmitter {sensing_streams}")
    padded = np.zeros((w_0.shape[0], sensing_streams), complex)
    padded[:, : w_0.shape[1]] = w_0
    configs = []
    for k, user in enumerate(decision.users):
        analog = user.code_rate == 0.0  # zf-wf-djscc's data users: symbols straight from the DJSCC model
        info_bits = (
            0 if analog else int(min(max(math.floor(user.code_rate * blocklength + 1e-9), 1), 2 * blocklength - 1))
        )
        w = np.asarray(user.w, complex)
        predicted = {
            "user": k,
            "task": user.task,
            "weight": user.weight,
            "sinr_db": user.sinr_db,
            "distortion": user.distortion,
            "log10_ber": user.log10_ber,
            "served": user.served,
            "weighted_distortion": decision.weighted_distortion,
            "hcrb_trace": decision.hcrb_trace,
            "feasible": decision.feasible,
            "power_w": decision.power_w,
            "solver": decision.solver,
            **user.predictions,
            **(extra or {}),
        }
        configs.append(
            LinkConfig(
                user.model, info_bits / blocklength, info_bits, np.where(np.isfinite(w), w, 0), padded, -1, predicted
            )
        )
    return configs


class multiuser_controller(gr.basic_block):
    """Decides every user's configuration (model, code rate, beam ``w_k``) and the sensing beams ``W_0``
    with :class:`~gnuradio.issc.optim.multiuser.MultiUserOptimizer` (docs/multiuser.md), for every frame.

    The first decision is made in the constructor (a bad scenario or profile fails at once) and published
    when the flowgraph starts. After each slot on the air (``feedback``), the decision for the next frame
    is published to every user: the optimiser's inputs are the scenario's geometry and the budget, so a
    decision is solved again only when they change (a ``schedule`` step, :meth:`set_power_dbm`,
    :meth:`set_hcrb_threshold_m2`) and reused otherwise (a solve takes 0.1-2 s, a frame less). Solves run
    in this block's message thread, never on the data path; until a new decision is out the encoders keep
    the last one.

    Message ports:
        feedback (in): ``{seq}`` of the slot just sent (``multiuser_frame_encoder``'s ``sent``).
        config0 .. config{K-1} (out): user ``k``'s :class:`~gnuradio.issc.link.config.LinkConfig` dicts
            (``predicted``: its SINR, distortion, model prediction, the weighted distortion, ``tr HCRB``).
        sensing (out): the sensing chain's design per decision: ``hcrb_trace``, ``hcrb_threshold_m2``,
            ``sensing_rank``, ``power_w`` and the transmit covariance ``sigma`` (``N_T x N_T``, row-major
            c64vector).

    Args:
        scenario: multi-user scenario name or YAML path.
        profile: data codec profile path ('' for the shipped one).
        semantic_profile: semantic profile path ('' for the shipped one).
        solver: 'sdr', 'paper', 'zf-wf', 'zf-wf-bpg' / 'zf-wf-jpeg' (ZF-WF with the data users on the HEVC /
            JPEG operating points) or 'zf-wf-djscc' (the data users' configurations analog: deep JSCC models).
        ber_model: 'calibrated' (the link's polar code, measured) or 'normal'.
        power_dbm: power budget (NaN: the scenario's).
        hcrb_threshold_m2: ``Pi`` (NaN: the scenario's; ignored without a target).
        sensing_streams: the transmitter's ``r_0`` (columns of ``w_0``; 0: the scenario's, at least 1).
        schedule: list of ``(first_frame, power_dbm, hcrb_threshold_m2)``; None entries keep the value.
        users: ``config`` ports; must match the scenario's ``K`` (0: the scenario's).
        family: the data users' family, 'learned', 'mixed' (learned + HEVC: MU-ASCC-mixed), 'hevc' or 'jpeg'
            ('': learned, or the one a 'zf-wf-bpg' / 'zf-wf-jpeg' solver implies); not with ``profile``.
    """

    def __init__(
        self,
        scenario="multiuser",
        profile="",
        semantic_profile="",
        solver="sdr",
        ber_model="calibrated",
        power_dbm=float("nan"),
        hcrb_threshold_m2=float("nan"),
        sensing_streams=0,
        schedule=None,
        users: int = 0,
        family: str = "",
    ):
        gr.basic_block.__init__(self, name="multiuser_controller", in_sig=None, out_sig=None)
        from ..optim.multiuser import MultiUserOptimizer  # cvxpy import only where a controller is used

        try:
            self.optimizer = MultiUserOptimizer(
                scenario,
                profile or None,
                semantic_profile or None,
                solver=solver,
                ber_model=ber_model,
                family=family or None,
            )
        except IsscInputError as exc:
            raise ValueError(str(exc)) from None
        scn = self.scenario = self.optimizer.scenario
        self.users = len(scn.users) if scn.users else 1
        if users and int(users) != self.users:
            raise ValueError(f"users = {users} but scenario '{scn.name}' has {self.users} users")
        self.has_target = scn.sensing == "target"
        budget = scn.budget
        self._power_dbm = budget.power_dbm if _unset(power_dbm) else float(power_dbm)
        self._pi = budget.hcrb_threshold_m2 if _unset(hcrb_threshold_m2) else float(hcrb_threshold_m2)
        self.sensing_streams = int(sensing_streams) or max(1, int(budget.sensing_streams))
        self.blocklength = scn.signal.blocklength
        self._schedule = parse_schedule(schedule)
        self._step = -1
        self._lock = threading.RLock()
        self._log = RateLimitedLog(self.logger)
        self._cache = {}
        self.decisions = 0  # frames decided (configurations published)
        self.solves = 0  # optimiser calls
        self._apply_schedule(0)
        self.current = self._decide()
        for k in range(self.users):
            self.message_port_register_out(pmt.intern(f"config{k}"))
        if self.users == 1:
            self.message_port_register_out(pmt.intern("config"))
        self.message_port_register_out(pmt.intern("sensing"))
        register_message_handlers(self, {"feedback": self._on_feedback}, self._log)

    def start(self):
        self._publish(self.current)
        return True

    def set_power_dbm(self, power_dbm):
        with self._lock:
            self._power_dbm = float(power_dbm)

    def set_hcrb_threshold_m2(self, pi):
        with self._lock:
            self._pi = float(pi)

    @property
    def decision(self):
        """The latest :class:`~gnuradio.issc.optim.multiuser.MultiUserDecision`."""
        return self.current[0]

    def _apply_schedule(self, next_frame: int) -> None:
        step = max((i for i, s in enumerate(self._schedule) if s[0] <= next_frame), default=-1)
        if step == self._step:
            return
        self._step = step
        _, power, pi = self._schedule[step]
        with self._lock:
            if power is not None:
                self._power_dbm = float(power)
            if pi is not None:
                self._pi = float(pi)

    def _decide(self):
        with self._lock:
            key = (self._power_dbm, self._pi if self.has_target else None)
            if key not in self._cache:
                decision = self.optimizer.decide(power_dbm=key[0], hcrb_threshold_m2=key[1])
                self.solves += 1
                if not decision.feasible:
                    self._log.warn("infeasible", f"decision infeasible: {decision.reason}")
                extra = {"power_budget_dbm": key[0]}
                if key[1] is not None:
                    extra["hcrb_threshold_m2"] = key[1]
                configs = user_configs(decision, self.blocklength, self.sensing_streams, extra)
                self._cache = {key: (decision, configs)}  # one entry: the budget changes rarely
            return self._cache[key]

    def _on_feedback(self, msg):
        seq = meta_seq(meta_to_dict(msg), "feedback")
        self._apply_schedule(seq + 1)
        self.current = self._decide()
        self._publish(self.current)

    def _publish(self, current):
        decision, configs = current
        self.decisions += 1
        for k, config in enumerate(configs):
            self.message_port_pub(pmt.intern(f"config{k}"), config.to_pmt())
            if self.users == 1:
                self.message_port_pub(pmt.intern("config"), config.to_pmt())
        w = np.stack([np.asarray(c.w_c) for c in configs], axis=1)
        sigma = w @ w.conj().T + configs[0].w_0 @ configs[0].w_0.conj().T
        report = {
            "hcrb_trace": decision.hcrb_trace,
            "hcrb_threshold_m2": decision.hcrb_threshold_m2,
            "sensing_rank": int(np.asarray(decision.w_0).reshape(sigma.shape[0], -1).shape[1]),
            "power_w": decision.power_w,
            "weighted_distortion": decision.weighted_distortion,
        }
        meta = dict_to_meta({k: v for k, v in report.items() if v is not None})
        meta = pmt.dict_add(
            meta, pmt.intern("sigma"), pmt.init_c64vector(sigma.size, sigma.reshape(-1).astype(complex).tolist())
        )
        self.message_port_pub(pmt.intern("sensing"), meta)


def _unset(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
