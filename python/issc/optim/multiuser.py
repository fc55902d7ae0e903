# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The multi-user optimiser (docs/multiuser.md): ``K`` single-antenna users served by superposition from
an ``N_T``-antenna transmitter, plus an optional sensing target under the HCRB constraint.

The transmit signal is ``x = sum_k w_k s_k + W_0 s_0``; user ``k`` receives ``y_k = h_k^H x + n_k`` with
SINR ``|h_k^H w_k|^2 / (sum_{j != k} |h_k^H w_j|^2 + |h_k^H W_0|^2 + sigma_k^2)``. Data users are scored by
``1 - MS-SSIM`` (the hyperprior codec family's profile), semantic users by the classification error (the
semantic family's profile, a logistic in ``log10 BER``). The problem is

    min  sum_k beta_k D_k(model_k, R_c,k, SINR_k)
    s.t. tr HCRB(Sigma) <= Pi  (with a target),  tr Sigma <= P_T,  R_s,k / R_c,k <= T_k,

``Sigma = sum_k w_k w_k^H + W_0 W_0^H``. Every design is re-verified in closed form (SINRs from the beams,
``tr HCRB`` from :class:`~gnuradio.issc.physics.hcrb.FisherModel` with the design's covariance, power).

The ``sdr`` solver, and what is proven:

- For fixed SINR targets ``gamma_k`` the beams are an SDP (exact after the relaxation ``R_k = w_k w_k^H``
  to ``R_k >= 0``): the SINR constraints are linear in ``R_k``, ``Sigma = sum_k R_k + R_0`` with ``R_0 >= 0``
  free, the HCRB constraint is the LMIs of :mod:`.sdr`, and the objective is the power ``tr Sigma``;
  the targets are feasible iff the least power is at most ``P_T``. This is a convex problem solved to
  global optimality (up to solver tolerance).
- The relaxation is tight (X. Liu, T. Huang, N. Shlezinger, Y. Liu, J. Zhou, Y. C. Eldar, "Joint transmit
  beamforming for multiuser MIMO communications and MIMO radar", IEEE Trans. Signal Process. 68, 2020,
  Theorem 1; the HCRB, like their radar objective, depends on ``Sigma`` only): from any feasible ``(R_k, R_0)``,
  ``w_k = R_k h_k / sqrt(h_k^H R_k h_k)`` and ``R_0' = Sigma - sum_k w_k w_k^H`` keep every
  ``h_k^H w_k w_k^H h_k = h_k^H R_k h_k``, the same ``Sigma`` (so the same power and HCRB, hence the same
  interference ``h_k^H Sigma h_k - h_k^H R_k h_k``), and ``R_0' >= 0`` because ``R_k - w_k w_k^H >= 0``
  (Cauchy-Schwarz). :func:`recover_beams` does it; the design is then re-verified.
- Without the HCRB constraint the least power for given targets is also the fixed point of the dual
  uplink's power control with MMSE receivers (uplink-downlink duality; :func:`uplink_power_control`,
  :func:`duality_design`): where that design meets the HCRB threshold it is optimal with the target too
  (no design needs less power than the users alone), and no SDP is solved.
- Each user's best distortion ``D_k(gamma)`` (exact model and code-rate choice, :mod:`.rate`) does not
  increase with its SINR, and the feasible SINR set is closed downwards.

What is heuristic: the search over the SINR targets. Each user's SINR axis is cut into levels: 0 and a
``grid_db`` grid up to the user's cap (its best SINR alone under the power and the HCRB, one SDP each),
keeping a level only where ``D_k`` falls by a useful amount. The combinations are visited in increasing
weighted distortion (a heap over the separable sum); the first one found feasible is the best combination
of levels. Infeasible combinations prune every combination that dominates them, and a cheap certificate
prunes most of the rest without an SDP: the fixed point of the dual uplink's power control
(:func:`comm_power_exceeds`) proves that the users alone need more than ``P_T``; when a combination of
three or more users needs much more than ``P_T``, its sub-combinations with one user silenced are tried
too (an infeasible one rules out every level of that user). After ``max_checks`` SDPs the search moves to
coarser levels, keeping what it learnt, and last to a greedy placement. The targets are then
scaled up together to the boundary of the feasible set (a safeguarded secant on the least power), and a
local search trades SINR between users (lower one user's target by 0.5, 0.1, 0.02 dB, push the others to
the boundary) while the weighted distortion falls. The result is optimal over the levels up to the grid;
between levels and along the boundary it is a local search (tests/optim/test_multiuser.py compares it
with a brute force and with an enumeration of the boundary). K = 1 reduces to maximising the SINR,
today's single-user ``sdr`` decision.

Users: a user that no model serves below capacity gets the distortion of a coin-flip payload (BER 1/2),
not the normal approximation's floor ``eps_b / (R_c L)``, which would promise a usable payload at zero
SINR; the design may leave a user unserved when that lowers the weighted sum (``served: false``).

``paper`` (the MU-ASCC alternating optimisation) and ``zf-wf`` (zero-forcing, water-filling, fixed code
rate) live in :mod:`.multiuser_baselines`; ``zf-wf-bpg`` and ``zf-wf-jpeg`` are ``zf-wf`` with the HEVC intra
(BPG's coding) or JPEG operating points as the data users' family, ``zf-wf-djscc`` with the data users on the
deep JSCC models trained at 10 dB.

The data users' family (``family``): ``learned`` (the hyperprior models, the seed's MU-ASCC), ``mixed`` (those
plus HEVC intra at six qualities, each profiled from real bit flips of its real bitstreams like the learned
ones: the solver then picks a learned or a standard codec per user and frame, whichever predicts the lower
distortion), ``hevc`` or ``jpeg`` (the standard operating points alone); docs/multiuser.md.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field, replace

import cvxpy as cp
import numpy as np

from ..codec.profile import FAMILY_PROFILES, CodecProfile, load_profile
from ..errors import IsscInputError
from ..jsonutil import jsonable
from ..link.waveform import Waveform
from ..physics.geometry import Geometry
from ..scenario import Scenario, load_scenario
from ..semantic.profile import SemanticProfile, load_semantic_profile
from ..units import dbm_to_w, lin_to_db
from .beams import hermitian_psd, streams_from_covariance
from .compiled import lend
from .problem import BITS_PER_SYMBOL, DesignProblem
from .rate import DEFAULT_SINR_SIGMA_DB, RateChoice, choose_code_rates, link_error_model
from .sdr import (
    INFEASIBLE_STATUSES,
    OK_STATUSES,
    PAIRS,
    SOLVERS,
    SdrBeamSolver,
    hermitian_trace_rows,
    solve_first_usable,
)

DATA_METRIC = "ms_ssim"
SOLVER_NAMES = ("sdr", "paper", "zf-wf", "zf-wf-bpg", "zf-wf-jpeg", "zf-wf-djscc")
FIXED_RATE_SOLVERS = {"zf-wf": None, "zf-wf-bpg": "hevc", "zf-wf-jpeg": "jpeg", "zf-wf-djscc": None}
"""The fixed-code-rate benchmarks and the data family each implies (None: the optimiser's ``family``)."""
FAMILIES = tuple(FAMILY_PROFILES)
LOWEST_SINR_DB = -25.0
"""No level below this: the capacity there (0.0045 bit/use) is barely one information bit per block of 256."""
POWER_TOL = 1e-6
COIN_FLIP_LOG10_BER = math.log10(0.5)
HCRB_TOL = 1e-4
TRADE_GAIN = 1e-5
"""A local trade is kept only if it lowers the weighted distortion by this fraction (no cycling on noise)."""
MAX_TRADE_PASSES = 4
COARSE_GAIN = 0.05
"""``min_gain`` of the coarser levels searched when the fine search runs out of checks."""
PROJECTION_MARGIN = 1.2
"""An infeasible level combination needing more than this many times ``P_T`` has its sub-combinations tried too."""
SENSING_NEGLIGIBLE = 1e-7
"""Sensing streams weaker than this fraction of ``P_T`` are dropped from ``W_0`` (SDP solver noise)."""


# ---------------------------------------------------------------------------------------------------
# the problem
@dataclass(frozen=True)
class UserLink:
    """One user as the optimiser sees it.

    Args:
        index: position in the scenario's ``users`` list.
        task: ``data`` or ``semantic``.
        weight: ``beta_k``.
        position: metres.
        channel: ``h_k`` (``y_k = h_k^H x + n_k``).
        noise_w: ``sigma_k^2`` in watts.
        channel_uses: ``T_k``, channel uses per image.
    """

    index: int
    task: str
    weight: float
    position: np.ndarray
    channel: np.ndarray
    noise_w: float
    channel_uses: float


def scenario_users(scenario: Scenario) -> list:
    """The scenario's users as ``(position, task, weight, noise_dbm or None, channel_uses or None)``; a
    single-user scenario has one data user of weight 1 at ``geometry.comm_rx``."""
    if scenario.users:
        return [(u.position, u.task, u.weight, u.noise_dbm, u.channel_uses) for u in scenario.users]
    return [(scenario.geometry.comm_rx, "data", 1.0, None, None)]


def is_multi_user(scenario: Scenario) -> bool:
    """True for a scenario in the multi-user form (a ``users`` list or ``sensing: none``)."""
    return bool(scenario.users) or scenario.sensing != "target"


class MultiUserProblem:
    """Constants of one multi-user decision.

    Args:
        scenario: the validated scenario.
        power_w: ``P_T``, watts.
        hcrb_threshold_m2: ``Pi`` (ignored without a target; None then).
        abr: bandwidth ratio; users without ``channel_uses`` get ``T_k = abr * data_dimensions``.
        sensing_streams: at most this many sensing streams (columns of ``W_0``).
        data_dimensions: ``M`` of the data codec profile (``3 H W``).
    """

    def __init__(
        self,
        scenario: Scenario,
        power_w: float,
        hcrb_threshold_m2: float | None,
        abr: float,
        sensing_streams: int = 1,
        data_dimensions: int = 3 * 256 * 256,
    ):
        scn = load_scenario(scenario)
        self.scenario = scn
        if not (np.isfinite(power_w) and power_w > 0):
            raise IsscInputError(f"power must be a finite positive number of watts, got {power_w!r}")
        if not (np.isfinite(abr) and 0 < abr <= 1):
            raise IsscInputError(f"ABR must be in (0, 1], got {abr!r}")
        self.power_w = float(power_w)
        self.abr = float(abr)
        self.has_target = scn.sensing == "target"
        geometry = Geometry.from_scenario(scn)
        self.geometry = geometry
        self.sensing: DesignProblem | None = None
        if self.has_target:
            self.sensing = DesignProblem(
                scn, self.power_w, float(hcrb_threshold_m2), self.abr, int(sensing_streams), int(data_dimensions)
            )
            self.sensing_streams = self.sensing.sensing_streams
            self.hcrb_threshold_m2 = float(hcrb_threshold_m2)
        else:
            self.sensing_streams = 0
            self.hcrb_threshold_m2 = None
        users = []
        # the noise at the symbol instant: the matched filter of a shaped waveform divides the white
        # per-sample noise by sps and keeps the (equally shaped) signal and interference (docs/optimizer.md)
        gain = Waveform.from_scenario(scn).symbol_snr_gain
        for index, (position, task, weight, noise_dbm, channel_uses) in enumerate(scenario_users(scn)):
            noise = scn.channel.comm_noise_dbm if noise_dbm is None else noise_dbm
            uses = self.abr * data_dimensions if channel_uses is None else channel_uses
            users.append(
                UserLink(
                    index,
                    task,
                    float(weight),
                    np.asarray(position, float),
                    geometry.channel_to(position),
                    float(dbm_to_w(noise)) / gain,
                    float(uses),
                )
            )
        self.users = users

    @classmethod
    def from_scenario(
        cls, scenario, power_dbm=None, hcrb_threshold_m2=None, abr=None, sensing_streams=None, data_dimensions=196608
    ) -> MultiUserProblem:
        """Build from a scenario; arguments left at None take the scenario's budget values. A threshold
        given for a scenario without a target (``sensing: none``) is an error."""
        scn = load_scenario(scenario)
        b = scn.budget
        if scn.sensing != "target" and hcrb_threshold_m2 is not None:
            raise IsscInputError(
                f"scenario '{scn.name}' has no sensing target (sensing: none): an HCRB threshold does not apply"
            )
        return cls(
            scn,
            float(dbm_to_w(b.power_dbm if power_dbm is None else power_dbm)),
            float(b.hcrb_threshold_m2 if hcrb_threshold_m2 is None else hcrb_threshold_m2),
            float(b.abr if abr is None else abr),
            int(b.sensing_streams if sensing_streams is None else sensing_streams),
            int(data_dimensions),
        )

    # -- sizes and budgets ---------------------------------------------------------------------------
    @property
    def n_tx(self) -> int:
        return self.geometry.n_tx

    @property
    def k(self) -> int:
        return len(self.users)

    @property
    def blocklength(self) -> int:
        return self.scenario.signal.blocklength

    @property
    def max_code_rate(self) -> float:
        return BITS_PER_SYMBOL[self.scenario.signal.modulation] - 1.0 / self.blocklength

    @property
    def channels(self) -> np.ndarray:
        """``H`` (``K x N_T``) with row ``k`` equal to ``h_k^H``."""
        return np.array([u.channel.conj() for u in self.users])

    @property
    def noise_w(self) -> np.ndarray:
        return np.array([u.noise_w for u in self.users])

    @property
    def weights(self) -> np.ndarray:
        return np.array([u.weight for u in self.users])

    def mrt_snr(self) -> np.ndarray:
        """Each user's SNR with all power on its MRT beam and nobody else: an upper bound on its SINR."""
        return np.array([self.power_w * float(np.vdot(u.channel, u.channel).real) / u.noise_w for u in self.users])

    # -- closed-form evaluation ------------------------------------------------------------------------
    def sinrs(self, w: np.ndarray, w_0: np.ndarray) -> np.ndarray:
        """Per-user SINR for beams ``W`` (``N_T x K``, column ``k`` = ``w_k``) and sensing streams ``W_0``."""
        w = np.asarray(w, complex).reshape(self.n_tx, self.k)
        w_0 = np.asarray(w_0, complex).reshape(self.n_tx, -1)
        gains = np.abs(self.channels @ w) ** 2  # [k, j] = |h_k^H w_j|^2
        sensing = np.sum(np.abs(self.channels @ w_0) ** 2, axis=1) if w_0.size else np.zeros(self.k)
        signal = np.diag(gains).copy()
        interference = gains.sum(axis=1) - signal + sensing
        return signal / (interference + self.noise_w)

    def covariance(self, w: np.ndarray, w_0: np.ndarray) -> np.ndarray:
        w = np.asarray(w, complex).reshape(self.n_tx, -1)
        w_0 = np.asarray(w_0, complex).reshape(self.n_tx, -1)
        return w @ w.conj().T + w_0 @ w_0.conj().T

    def hcrb_trace(self, sigma: np.ndarray) -> float | None:
        """``tr HCRB`` (m^2) of the target for the covariance, None without a target."""
        return None if self.sensing is None else self.sensing.hcrb_trace(sigma)


# ---------------------------------------------------------------------------------------------------
# the users' source models
class _SemanticModel:
    """A semantic model behind the interface :func:`~.rate.choose_code_rates` expects of a codec model:
    ``log10_distortion`` is ``log10`` of the classification error (monotone, so the same choice)."""

    def __init__(self, model):
        self.model = model
        self.id = model.id
        self.r_s_bits = model.r_s_bits

    def log10_distortion(self, log10_ber, metric: str = "error_rate"):
        return np.log10(np.maximum(self.model.distortion(log10_ber), 1e-300))


@dataclass(frozen=True)
class SourceChoice:
    """A user's model and code rate at one SINR, with its predicted distortion (linear)."""

    choice: RateChoice
    distortion: float

    @property
    def served(self) -> bool:
        return self.choice.feasible


class TaskSource:
    """One task's model family and its exact code-rate choice (:mod:`.rate`).

    Args:
        task: ``data`` or ``semantic``.
        models: codec ``ModelProfile`` objects, or semantic ones (wrapped here).
        metric: the profile metric (``ms_ssim`` for data).
    """

    def __init__(self, task: str, models, metric: str):
        self.task = task
        self.models = tuple(models) if task == "data" else tuple(_SemanticModel(m) for m in models)
        self.metric = metric

    def choose(self, sinr: float, channel_uses: float, blocklength: int, max_code_rate: float, ber) -> SourceChoice:
        """Best model and rate at ``sinr`` (linear) with ``channel_uses`` per image; if no model fits, the most
        robust one (lowest rate), not served. A model's lowest rate is ``max(R_s / T, 1 / L)``: at least one
        information bit per block."""
        ordinary = [m for m in self.models if m.r_s_bits * blocklength >= channel_uses * (1 - 1e-12)]
        small = [m for m in self.models if m.r_s_bits * blocklength < channel_uses * (1 - 1e-12)]
        found = {}
        if ordinary:
            for model, choice in zip(
                ordinary,
                choose_code_rates(ordinary, sinr, channel_uses, blocklength, max_code_rate, self.metric, ber),
            ):
                found[model.id] = choice
        for model in small:  # fewer bits than blocks: R_c = 1/L, spending fewer than T channel uses
            found[model.id] = choose_code_rates(
                (model,), sinr, model.r_s_bits * blocklength, blocklength, max_code_rate, self.metric, ber
            )[0]
        choices = [found[m.id] for m in self.models]
        fitting = [c for c in choices if c.feasible]
        if fitting:
            best = min(fitting, key=lambda c: c.log10_distortion)
            return SourceChoice(best, float(10.0**best.log10_distortion))
        # Not served: the payload is coin flips (BER 1/2). The normal approximation's floor eps_b / (R_c L)
        # would still promise a usable payload at zero SINR (one wrong bit per failed block).
        robust = choices[0]
        log_d = float(self.models[0].log10_distortion(COIN_FLIP_LOG10_BER, self.metric))
        return SourceChoice(replace(robust, log10_ber=COIN_FLIP_LOG10_BER, log10_distortion=log_d), float(10.0**log_d))

    def predictions(self, choice: RateChoice) -> dict:
        if self.task == "data":
            return {"predicted_ms_ssim": float(1.0 - 10.0**choice.log10_distortion)}
        return {"predicted_accuracy": float(1.0 - 10.0**choice.log10_distortion)}

    def distortion_name(self) -> str:
        return "1 - MS-SSIM" if self.task == "data" else "classification error"


class UserSources:
    """The source side of a decision: each user's family, rate choice and distortion versus SINR.

    Args:
        problem: the multi-user problem.
        profile: the data users' codec profile (needs ``ms_ssim`` fits).
        semantic_profile: the semantic users' profile.
        ber: ``log10 BER(sinr, rate, blocklength)``.
    """

    def __init__(self, problem: MultiUserProblem, profile: CodecProfile, semantic_profile: SemanticProfile, ber):
        self.problem = problem
        self.ber = ber
        self.families = {
            "data": TaskSource("data", profile.models, DATA_METRIC),
            "semantic": TaskSource("semantic", semantic_profile.models, "error_rate"),
        }
        self._cache: dict = {}

    def family(self, k: int) -> TaskSource:
        return self.families[self.problem.users[k].task]

    def choose(self, k: int, sinr: float) -> SourceChoice:
        key = (k, float(sinr))
        if key not in self._cache:
            user = self.problem.users[k]
            self._cache[key] = self.family(k).choose(
                max(float(sinr), 0.0), user.channel_uses, self.problem.blocklength, self.problem.max_code_rate, self.ber
            )
        return self._cache[key]

    def distortion(self, k: int, sinr: float) -> float:
        return self.choose(k, sinr).distortion

    def weighted(self, sinrs) -> float:
        return float(sum(u.weight * self.distortion(u.index, g) for u, g in zip(self.problem.users, sinrs)))


# ---------------------------------------------------------------------------------------------------
# designs
@dataclass
class MultiUserDesign:
    """Beams ``W`` (``N_T x K``), sensing streams ``W_0`` (``N_T x r_0``) and their closed-form evaluation."""

    w: np.ndarray
    w_0: np.ndarray
    sinr: np.ndarray
    hcrb_trace: float | None
    power_w: float
    feasible: bool
    reason: str = ""
    solver: str = ""
    info: dict = field(default_factory=dict)
    choices: list | None = None  # per-user SourceChoice, set by solvers that pick the rates themselves

    @property
    def covariance(self) -> np.ndarray:
        return self.w @ self.w.conj().T + self.w_0 @ self.w_0.conj().T


def evaluate_design(problem: MultiUserProblem, w, w_0, solver: str, reason: str = "", info=None) -> MultiUserDesign:
    """Closed-form evaluation against the power budget and the HCRB threshold (``feasible`` says whether
    both hold, within ``1e-6`` and ``1e-4`` relative)."""
    w = np.asarray(w, complex).reshape(problem.n_tx, problem.k)
    w_0 = np.asarray(w_0, complex).reshape(problem.n_tx, -1)
    sigma = problem.covariance(w, w_0)
    power = float(np.trace(sigma).real)
    hcrb = problem.hcrb_trace(sigma)
    meets_power = power <= problem.power_w * (1 + POWER_TOL)
    meets_hcrb = hcrb is None or hcrb <= problem.hcrb_threshold_m2 * (1 + HCRB_TOL)
    if not reason and not meets_power:
        reason = f"power {power:.6g} W exceeds the budget {problem.power_w:.6g} W"
    if not reason and not meets_hcrb:
        reason = f"tr HCRB {hcrb:.6g} m^2 exceeds the threshold {problem.hcrb_threshold_m2:.6g} m^2"
    return MultiUserDesign(
        w, w_0, problem.sinrs(w, w_0), hcrb, power, bool(meets_power and meets_hcrb), reason, solver, dict(info or {})
    )


def uplink_power_control(problem: MultiUserProblem, gammas, iterations: int = 400, rtol: float = 1e-11):
    """The least total power the users alone (no sensing) need for the SINR targets, by the fixed point of
    the dual uplink's power control, ``q_k <- gamma_k / (hbar_k^H (I + sum_{j != k} q_j hbar_j hbar_j^H)^-1 hbar_k)``
    with ``hbar_k = h_k / sigma_k`` and MMSE receivers. From zero it rises monotonically to the least uplink
    power, which the downlink needs too (uplink-downlink duality).

    Returns:
        ``(state, q)``: ``state`` is ``"exceeds"`` when the sum passed ``P_T`` (a certificate of
        infeasibility; ``q.sum()`` is then a lower bound), ``"converged"`` (``q`` is the least power of each
        active user, zeros elsewhere) or ``"unknown"`` (no convergence in ``iterations``).
    """
    gammas = np.asarray(gammas, float)
    on = gammas > 0
    q_all = np.zeros(len(gammas))
    if not on.any():
        return "converged", q_all
    hbar = np.array([u.channel / np.sqrt(u.noise_w) for u in problem.users])[on]  # rows hbar_k (as vectors)
    target = gammas[on]
    q = np.zeros(len(target))
    eye = np.eye(problem.n_tx, dtype=complex)
    for iteration in range(iterations):
        m = eye + (hbar.T * q) @ hbar.conj()
        inverse = np.linalg.inv(m)
        a = np.real(np.einsum("kn,nm,km->k", hbar.conj(), inverse, hbar))
        new = target * (1.0 / a - q)  # Sherman-Morrison: hbar^H (M - q hbar hbar^H)^-1 hbar = a / (1 - q a)
        if new.sum() > problem.power_w * (1 + 1e-9):
            q_all[on] = new
            return "exceeds", q_all
        if np.max(np.abs(new - q)) <= rtol * max(new.sum(), 1e-300):
            q_all[on] = new
            return "converged", q_all
        q = new
        if iteration % 5 == 4:
            # Near the boundary the iteration crawls. The exact powers for the current MMSE beams are feasible,
            # so their sum bounds the least power from above as the iterate's sum bounds it from below.
            upper = _powers_for_beams(hbar, target, inverse @ hbar.T)
            if upper is not None and upper.sum() <= q.sum() * (1 + rtol * 100):
                q_all[on] = upper
                return "converged", q_all
    q_all[on] = q
    return "unknown", q_all


def _powers_for_beams(hbar: np.ndarray, target: np.ndarray, beams: np.ndarray):
    """Uplink powers meeting the targets exactly with fixed receive beams (columns), or None if none do:
    ``q_k A_kk / gamma_k - sum_{j != k} A_kj q_j = 1`` with ``A_kj = |u_k^H hbar_j|^2 / |u_k|^2``."""
    beams = beams / np.linalg.norm(beams, axis=0, keepdims=True)
    gains = np.abs(beams.T.conj() @ hbar.T) ** 2  # [k, j] = |u_k^H hbar_j|^2
    matrix = -gains.copy()
    np.fill_diagonal(matrix, np.diag(gains) / target)
    try:
        q = np.linalg.solve(matrix, np.ones(len(target)))
    except np.linalg.LinAlgError:
        return None
    return q if np.all(np.isfinite(q)) and np.all(q >= 0) else None


def comm_power_exceeds(problem: MultiUserProblem, gammas) -> bool:
    """True when the users alone (no sensing) need more than ``P_T`` for the SINR targets
    (:func:`uplink_power_control`); False means "not proven infeasible"."""
    return uplink_power_control(problem, gammas)[0] == "exceeds"


def duality_design(problem: MultiUserProblem, gammas, q):
    """The downlink design with the least power for the SINR targets, from the converged uplink powers ``q``:
    the MMSE receive beams as transmit beams and the downlink powers that give the same SINRs (their sum is
    ``sum q``). Returns the users' covariances ``R_k = p_k u_k u_k^H`` (watts), or None if the conversion
    fails numerically (then the caller solves the SDP)."""
    gammas = np.asarray(gammas, float)
    on = np.flatnonzero(gammas > 0)
    hbar = np.array([u.channel / np.sqrt(u.noise_w) for u in problem.users])
    m = np.eye(problem.n_tx, dtype=complex) + (hbar[on].T * q[on]) @ hbar[on].conj()
    beams = np.linalg.solve(m, hbar[on].T)
    beams /= np.linalg.norm(beams, axis=0, keepdims=True)
    gains = np.abs(hbar[on].conj() @ beams) ** 2  # [k, j] = |hbar_k^H u_j|^2
    matrix = -gains.copy()
    np.fill_diagonal(matrix, np.diag(gains) / gammas[on])
    try:
        p = np.linalg.solve(matrix, np.ones(len(on)))
    except np.linalg.LinAlgError:
        return None
    if not (np.all(np.isfinite(p)) and np.all(p >= 0)):
        return None
    received = gains @ p
    own = np.diag(gains) * p
    if np.any(own / (received - own + 1.0) < gammas[on] * (1 - 1e-9)):
        return None
    r = [np.zeros((problem.n_tx, problem.n_tx), complex) for _ in range(problem.k)]
    for index, k in enumerate(on):
        r[k] = p[index] * np.outer(beams[:, index], beams[:, index].conj())
    return r


def recover_beams(r: list, sigma: np.ndarray, channels: np.ndarray):
    """Rank-one beams from a relaxed solution (Liu et al. 2020, Theorem 1): ``w_k = R_k h_k / sqrt(h_k^H R_k h_k)``
    and ``R_0 = Sigma - sum_k w_k w_k^H`` (PSD, same ``Sigma``, same ``h_k^H w_k w_k^H h_k = h_k^H R_k h_k``).

    Args:
        r: the users' relaxed covariances ``R_k`` (watts).
        sigma: the total covariance ``Sigma = sum_k R_k + R_0``.
        channels: ``H`` with row ``k`` equal to ``h_k^H``.

    Returns:
        ``(W, R_0)``: ``W`` is ``N_T x K``; a user with ``h_k^H R_k h_k = 0`` gets ``w_k = 0``.
    """
    n = sigma.shape[0]
    w = np.zeros((n, len(r)), complex)
    for k, r_k in enumerate(r):
        h = channels[k].conj()
        gain = float(np.real(h.conj() @ r_k @ h))
        if gain > 0:
            w[:, k] = r_k @ h / np.sqrt(gain)
    return w, hermitian_psd(sigma - w @ w.conj().T)


# ---------------------------------------------------------------------------------------------------
# the SDP for fixed SINR targets
class _CompiledTargetsSdp:
    """``min tr Sigma_n`` (power in units of ``P_T``) s.t. every user's SINR target and, with a target, the
    HCRB LMIs; compiled once per (``N_T``, ``K``, target) with real parameters (DPP, as :mod:`.sdr`).

    User ``k``'s constraint ``h^H R_k h >= gamma (h^H (Sigma - R_k) h + sigma^2)`` divided by
    ``gamma P |h|^2``: ``(1 + 1/gamma) u^H R_k u - u^H Sigma u >= 1 / snr_k`` with ``u = h / |h|`` and
    ``snr_k = P |h|^2 / sigma^2``; O(1) coefficients whatever the path loss. ``gamma = 0``: no constraint."""

    def __init__(self, n_tx: int, users: int, target: bool):
        size = 2 * n_tx * n_tx

        def stacked(m):
            return cp.hstack([cp.vec(cp.real(m), order="C"), cp.vec(cp.imag(m), order="C")])

        self.r = [cp.Variable((n_tx, n_tx), hermitian=True) for _ in range(users)]
        self.r0 = cp.Variable((n_tx, n_tx), hermitian=True) if target else None
        sigma = sum(self.r[1:], self.r[0]) + (self.r0 if target else 0)
        self.own = cp.Parameter((users, size), name="own")
        self.seen = cp.Parameter((users, size), name="seen")
        self.floor = cp.Parameter(users, nonneg=True, name="floor")
        s_sigma = stacked(sigma)
        psd = [r >> 0 for r in self.r]
        targets = [self.own[k] @ stacked(self.r[k]) - self.seen[k] @ s_sigma >= self.floor[k] for k in range(users)]
        sensing = []
        if target:
            self.fim_rows = cp.Parameter((len(PAIRS), size), name="fim_rows")
            self.prior = cp.Parameter((3, 3), symmetric=True, name="prior")
            self.hcrb_weights = cp.Parameter(2, nonneg=True, name="hcrb_weights")
            omega = cp.Variable((2, 2), symmetric=True)
            x = cp.Variable((2, 2), symmetric=True)
            entries = self.fim_rows @ s_sigma
            j = {p: entries[i] for i, p in enumerate(PAIRS)}
            fim = (
                cp.bmat(
                    [
                        [j[0, 0] - omega[0, 0], j[0, 1] - omega[0, 1], j[0, 2]],
                        [j[0, 1] - omega[0, 1], j[1, 1] - omega[1, 1], j[1, 2]],
                        [j[0, 2], j[1, 2], j[2, 2]],
                    ]
                )
                + self.prior
            )
            eye = np.eye(2)
            sensing = [
                self.r0 >> 0,
                fim >> 0,
                cp.bmat([[x, eye], [eye, omega]]) >> 0,
                self.hcrb_weights[0] * x[0, 0] + self.hcrb_weights[1] * x[1, 1] <= 1,
            ]
        self.sigma = sigma
        self.problem = cp.Problem(cp.Minimize(cp.real(cp.trace(sigma))), psd + targets + sensing)
        # one user's best SINR under the HCRB and the power alone (``snr_k max u^H Sigma_n u``, the single-user SDP
        # of :mod:`.sdr`): the top of its levels
        self.cap_row = cp.Parameter(size, name="cap_row")
        self.cap = (
            cp.Problem(cp.Maximize(self.cap_row @ s_sigma), psd + sensing + [cp.real(cp.trace(sigma)) <= 1])
            if target
            else None
        )
        self.rows = None
        self.inverse_snr = None
        self.current = None  # the problem whose constants are set

    def set_problem(self, problem: MultiUserProblem):
        self.current = problem
        units = [u.channel / np.linalg.norm(u.channel) for u in problem.users]
        self.rows = np.array([hermitian_trace_rows(np.outer(u, u.conj())) for u in units])
        self.inverse_snr = 1.0 / problem.mrt_snr()
        self.scale = 1.0
        if self.r0 is not None:
            zeta_n, prior_n, weights = problem.sensing.normalised_fisher()
            self.unit_fim_rows = hermitian_trace_rows(np.array([zeta_n[p] for p in PAIRS]))
            self.fim_rows.value = self.unit_fim_rows
            self.prior.value = prior_n
            # a hair inside the threshold so that solver tolerance cannot push the result past Pi
            self.hcrb_weights.value = weights[:2] ** 2 / (problem.hcrb_threshold_m2 * (1 - 1e-5))

    def set_targets(self, gammas, scale: float = 1.0):
        """The SINR targets, with the variables in units of ``scale P_T`` (a scale near the least power keeps
        the numbers O(1) when the targets need a small part of the budget: at 80 dBm a few mW)."""
        gammas = np.asarray(gammas, float)
        active = gammas > 0
        factor = np.where(active, 1.0 + 1.0 / np.where(active, gammas, 1.0), 0.0)
        self.own.value = self.rows * factor[:, None]
        self.seen.value = self.rows * active[:, None]
        self.floor.value = np.where(active, self.inverse_snr / scale, 0.0)
        if self.r0 is not None:
            self.fim_rows.value = self.unit_fim_rows * scale
        self.scale = scale


def _compile_targets_sdp(problem: MultiUserProblem) -> _CompiledTargetsSdp:
    sdp = _CompiledTargetsSdp(problem.n_tx, problem.k, problem.has_target)
    sdp.set_problem(problem)
    sdp.set_targets(np.zeros(problem.k))
    sdp.cap_row.value = np.zeros(sdp.cap_row.shape)
    for conic in (sdp.problem, sdp.cap) if sdp.cap is not None else (sdp.problem,):
        try:
            conic.get_problem_data(SOLVERS[0])  # fills CVXPY's DPP cache
        except Exception:  # noqa: BLE001 - the first solve will report it
            pass
    return sdp


class SdrMultiUserSolver:
    """The ``sdr`` multi-user design (module docstring): SDP per SINR-target vector, best-first search over
    per-user SINR levels, scaling to the boundary and a local trade between users.

    Args:
        grid_db: spacing of the SINR levels, dB.
        min_gain: a level is kept only if it lowers the user's distortion by this fraction of its range.
        refine_steps_db: step sizes of the local trade, dB (empty: no local search).
        tol_db: accuracy of the final scaling to the boundary, dB.
        trade_tol_db: accuracy of the scaling in the local trade, dB.
        max_checks: SDP feasibility checks of one level search at most (then coarser levels, then greedy).
    """

    name = "sdr"

    def __init__(
        self,
        grid_db: float = 0.5,
        min_gain: float = 2e-3,
        refine_steps_db: tuple = (0.5, 0.1, 0.02),
        tol_db: float = 1e-3,
        trade_tol_db: float = 0.01,
        max_checks: int = 80,
    ):
        self.grid_db = grid_db
        self.min_gain = min_gain
        self.refine_steps_db = tuple(refine_steps_db)
        self.tol_db = tol_db
        self.trade_tol_db = trade_tol_db
        self.max_checks = max_checks
        self._compiled: dict = {}
        self._base: dict = {}  # id(problem) -> least power of the HCRB alone (units of P_T)
        self._last = None  # (R_k, Sigma) of the last least_power answered by duality
        self._sensing_solver = SdrBeamSolver()  # the least-HCRB covariance (compiled once)
        self.timing: dict = {}

    # -- the SDP --------------------------------------------------------------------------------------
    def _sdp(self, problem: MultiUserProblem) -> _CompiledTargetsSdp:
        key = (problem.n_tx, problem.k, problem.has_target)
        if key not in self._compiled:
            self._compiled[key] = lend(self, ("multiuser-targets", *key), lambda: _compile_targets_sdp(problem))
        return self._compiled[key]

    def least_power(self, problem: MultiUserProblem, gammas) -> float:
        """The least power (units of ``P_T``) that meets the SINR targets ``gammas`` (linear) and the HCRB
        threshold; inf when no power does (or the solvers fail). The targets are feasible iff it is <= 1.

        First the dual uplink's fixed point (:func:`uplink_power_control`): if the users alone need more than
        ``P_T`` that is the answer (a lower bound, > 1); if it converges and its downlink design (same SINRs,
        same power) meets the HCRB threshold, that design is optimal (no design needs less power than the
        users alone) and no SDP is needed. Otherwise the SDP, in units of the power the users alone need."""
        self._last = None
        gammas = np.asarray(gammas, float)
        state, users_power = uplink_power_control(problem, gammas)
        if state == "exceeds":
            return float(np.sum(users_power)) / problem.power_w
        if state == "converged" and np.any(gammas > 0):
            r = duality_design(problem, gammas, users_power)
            if r is not None:
                sigma = sum(r[1:], r[0])
                if problem.sensing is None or problem.hcrb_trace(sigma) <= problem.hcrb_threshold_m2 * (1 - 1e-5):
                    self._last = (r, sigma)
                    self.timing["duality"] = self.timing.get("duality", 0) + 1
                    return float(np.trace(sigma).real) / problem.power_w
        sdp = self._sdp(problem)
        if sdp.current is not problem:  # the problem's constants, once per problem
            sdp.set_problem(problem)
        # both lower bounds on the answer: what the users alone need (so far), what the HCRB alone needs
        scale = max(float(np.sum(users_power)) / problem.power_w, self._base.get(id(problem), 0.0))
        scale = min(scale, 1.0) if scale > 1e-9 else 1.0
        sdp.set_targets(gammas, scale)
        status, _ = solve_first_usable(sdp.problem)
        self.timing["solves"] = self.timing.get("solves", 0) + 1
        if status in INFEASIBLE_STATUSES or status not in OK_STATUSES or sdp.problem.value is None:
            return math.inf
        return float(sdp.problem.value) * scale

    def caps(self, problem: MultiUserProblem) -> np.ndarray:
        """Each user's best SINR with every other user silent, under the power budget and the HCRB
        threshold (one SDP per user; the MRT SNR without a target): no target vector above it is feasible."""
        snr = problem.mrt_snr()
        sdp = self._sdp(problem)
        if sdp.cap is None:
            return snr
        if sdp.current is not problem:
            sdp.set_problem(problem)
        caps = snr.copy()
        for k in range(problem.k):
            sdp.cap_row.value = sdp.rows[k]
            status, _ = solve_first_usable(sdp.cap)
            self.timing["solves"] = self.timing.get("solves", 0) + 1
            if status in OK_STATUSES and sdp.cap.value is not None:
                caps[k] = snr[k] * min(max(float(sdp.cap.value), 0.0), 1.0)
        return caps

    def solve_targets(self, problem: MultiUserProblem, gammas):
        """``(least power, [R_k], Sigma)`` in watts for the targets (None matrices if infeasible)."""
        value = self.least_power(problem, gammas)
        if not (math.isfinite(value) and value <= 1.0 + 1e-6):
            return value, None, None
        if self._last is not None:  # the duality design
            r, sigma = self._last
            return value, r, sigma
        sdp = self._sdp(problem)
        scale = problem.power_w * sdp.scale
        r = [scale * hermitian_psd(v.value) for v in sdp.r]
        sigma = sum(r[1:], r[0]) + (scale * hermitian_psd(sdp.r0.value) if sdp.r0 is not None else 0)
        return value, r, sigma

    # -- the design -----------------------------------------------------------------------------------
    def design(self, problem: MultiUserProblem, sources: UserSources) -> MultiUserDesign:
        start = time.perf_counter()
        self.timing = {}
        design = self._design(problem, sources)
        design.info["sdp_solves"] = self.timing.get("solves", 0)
        design.info["duality_answers"] = self.timing.get("duality", 0)  # least powers found without an SDP
        design.info["solve_ms"] = 1e3 * (time.perf_counter() - start)
        return design

    def _design(self, problem: MultiUserProblem, sources: UserSources) -> MultiUserDesign:
        if problem.has_target and not problem.hcrb_threshold_m2 > 0:
            return self._infeasible(problem, "the HCRB threshold Pi must be > 0 m^2")
        unreachable = "the SDP solvers failed"
        if problem.has_target:
            unreachable = (
                f"no covariance within the power budget meets the HCRB threshold Pi = {problem.hcrb_threshold_m2:g} m^2"
            )
            # the least tr HCRB at full power first: a well-posed SDP, where the least power for a threshold far
            # out of reach is not (Clarabel gives up and SCS takes seconds)
            sigma, least = self._sensing_solver.sensing_optimal(problem.sensing)
            if sigma is not None and least > problem.hcrb_threshold_m2:
                return self._infeasible(problem, unreachable)
        self._base = {}
        base = self.least_power(problem, np.zeros(problem.k))
        self._base = {id(problem): min(base, 1.0)} if math.isfinite(base) else {}
        if not base <= 1.0:
            return self._infeasible(problem, unreachable)
        cap = self.caps(problem)
        levels = [self._levels(sources, k, cap[k], self.min_gain) for k in range(problem.k)]
        infeasible: list = []  # known infeasible target vectors, valid for every level set
        gammas, checks = self._best_levels(problem, levels, infeasible)
        info = {"level_checks": checks, "levels": [len(lv[0]) for lv in levels]}
        if gammas is None:
            # out of checks (a tight HCRB leaves many combinations to rule out): the same search over coarser
            # levels, pruned by what was learnt, then a greedy placement
            coarse = [self._levels(sources, k, cap[k], COARSE_GAIN) for k in range(problem.k)]
            gammas, more = self._best_levels(problem, coarse, infeasible)
            info.update(level_checks=checks + more, coarse_levels=[len(lv[0]) for lv in coarse])
            if gammas is None:
                gammas = self._greedy(problem, coarse)
                info["greedy"] = True
        if not np.any(gammas > 0):
            # Nobody can be served: give every user what the power allows anyway (nothing is lost; K = 1 then
            # matches the single-user decision, which maximises the SINR whether or not a model fits).
            start = np.where(cap > 0, cap * 1e-3, 0.0)
            if np.any(start > 0) and self.least_power(problem, start) <= 1.0:
                gammas = start
        if self.refine_steps_db and problem.k > 1:
            gammas = self._to_boundary(problem, gammas, gammas > 0, cap, tol_db=self.trade_tol_db)
            gammas = self._trade(problem, sources, gammas, cap)
        gammas = self._to_boundary(problem, gammas, gammas > 0, cap)
        return self._beams(problem, gammas, info)

    def _levels(self, sources: UserSources, k: int, cap: float, min_gain: float):
        """User ``k``'s SINR levels (ascending, starting at 0, at most ``cap``) and distortions, keeping a level
        only where the distortion falls by ``min_gain`` of the user's range below the last level kept."""
        if not cap > 0:
            return np.zeros(1), np.array([sources.distortion(k, 0.0)])
        top_db = float(lin_to_db(cap))
        grid_db = np.arange(LOWEST_SINR_DB, top_db, self.grid_db) if top_db > LOWEST_SINR_DB else np.zeros(0)
        grid = np.concatenate([[0.0], 10.0 ** (grid_db / 10.0), [10.0 ** (top_db / 10.0)]])
        values = np.array([sources.distortion(k, g) for g in grid])
        span = max(values[0] - values.min(), 1e-12)
        kept_sinr, kept_value = [grid[0]], [values[0]]
        for g, v in zip(grid[1:], values[1:]):
            if v < kept_value[-1] - min_gain * span:
                kept_sinr.append(g)
                kept_value.append(v)
        return np.array(kept_sinr), np.array(kept_value)

    def _best_levels(self, problem: MultiUserProblem, levels, infeasible: list):
        """Best-first over combinations of levels: pop in increasing weighted distortion, skip combinations
        that dominate a known infeasible one (``infeasible`` grows as the search learns), the first feasible one
        wins. Returns ``(gammas, SDP checks)``; gammas is None when ``max_checks`` ran out."""
        weights = problem.weights
        order = [(lv[0][::-1], lv[1][::-1]) for lv in levels]  # highest SINR (lowest distortion) first

        def objective(index):
            return float(sum(w * o[1][i] for w, o, i in zip(weights, order, index)))

        def targets(index):
            return np.array([o[0][i] for o, i in zip(order, index)])

        first = tuple(0 for _ in order)
        heap = [(objective(first), first)]
        seen = {first}
        checks = 0

        def known_infeasible(gammas) -> bool:
            if any(np.all(gammas >= bad) for bad in infeasible):
                return True
            if comm_power_exceeds(problem, gammas):  # the users alone need more than P_T: no SDP needed
                infeasible.append(gammas)
                return True
            return False

        while heap:
            _, index = heapq.heappop(heap)
            gammas = targets(index)
            if not known_infeasible(gammas):
                if checks >= self.max_checks:
                    return None, checks
                checks += 1
                needed = self.least_power(problem, gammas)
                if needed <= 1.0:
                    return gammas, checks
                infeasible.append(gammas)
                active = np.flatnonzero(gammas > 0)
                if len(active) >= 3 and needed > PROJECTION_MARGIN:
                    # Learn more from the failure: a sub-combination with one user silenced that is infeasible
                    # too rules out every level of that user at once (silencing a user only relaxes the SDP).
                    for k in active:
                        sub = gammas.copy()
                        sub[k] = 0.0
                        if checks < self.max_checks and not known_infeasible(sub):
                            checks += 1
                            if self.least_power(problem, sub) > 1.0:
                                infeasible.append(sub)
            for k in range(len(order)):
                if index[k] + 1 < len(order[k][0]):
                    nxt = index[:k] + (index[k] + 1,) + index[k + 1 :]
                    if nxt not in seen:
                        seen.add(nxt)
                        heapq.heappush(heap, (objective(nxt), nxt))
        return np.zeros(problem.k), checks  # serving nobody is feasible (checked before the search)

    def _greedy(self, problem: MultiUserProblem, levels) -> np.ndarray:
        """Fallback when the level search runs out of checks: users in decreasing weight, each at its highest
        level that stays feasible with the users already placed (bisection over its levels)."""
        gammas = np.zeros(problem.k)
        for k in np.argsort(-problem.weights, kind="stable"):
            sinrs = levels[k][0]
            lo, hi = 0, len(sinrs) - 1  # sinrs[lo] feasible (0 is, given the others)
            while lo < hi:
                mid = (lo + hi + 1) // 2
                trial = gammas.copy()
                trial[k] = sinrs[mid]
                if self.least_power(problem, trial) <= 1.0:
                    lo = mid
                else:
                    hi = mid - 1
            gammas[k] = sinrs[lo]
        return gammas

    def _to_boundary(self, problem: MultiUserProblem, gammas, mask, cap, tol_db: float | None = None) -> np.ndarray:
        """Scale the targets of the users in ``mask`` up together (in dB) as far as feasible, at most to their
        caps: a safeguarded secant on ``f(c) = log`` of the least power (units of ``P_T``) at scale ``c`` dB,
        which rises with ``c``; bisection where the secant leaves the bracket or the power is infinite."""
        tol_db = self.tol_db if tol_db is None else tol_db
        gammas = np.asarray(gammas, float).copy()
        mask = np.asarray(mask, bool) & (gammas > 0)
        if not mask.any():
            return gammas
        room = float(np.min(lin_to_db(cap[mask] / gammas[mask])))
        if room <= 0:
            return gammas

        def scaled(c):
            out = gammas.copy()
            out[mask] *= 10.0 ** (c / 10.0)
            return out

        def excess(c):
            if c > 0 and comm_power_exceeds(problem, scaled(c)):
                return math.inf  # the users alone need more than P_T: no SDP needed
            value = self.least_power(problem, scaled(c))
            return math.log(value) if 0 < value < math.inf else (math.inf if value == math.inf else -math.inf)

        f0 = excess(0.0)
        if not f0 < -1e-9:  # already on the boundary (or, through solver tolerance, a hair outside)
            return gammas
        lo, hi = 0.0, room
        # first step: the least power grows about like the targets (d log P / dc ~ ln(10) / 10 per dB)
        previous, f_previous = 0.0, f0
        c = min(room, -f0 / (math.log(10.0) / 10.0))
        for _ in range(40):
            f = excess(c)
            if f <= 0:
                lo = c
                if f > -1e-7 or c >= room:
                    break
            else:
                hi = c
            if hi - lo <= tol_db:
                break
            step = None
            if math.isfinite(f) and math.isfinite(f_previous) and f != f_previous:
                step = c - f * (c - previous) / (f - f_previous)
            previous, f_previous = c, f
            if step is None or not lo < step < hi:
                step = 0.5 * (lo + hi)
            c = step
        return scaled(lo)

    def _trade(self, problem: MultiUserProblem, sources: UserSources, gammas, cap) -> np.ndarray:
        """Local search along the boundary: lower one served user's target by a step (to 0 if below its
        lowest useful level), push the others to the boundary; keep the move if the weighted distortion falls."""
        best = sources.weighted(gammas)
        for step in self.refine_steps_db:
            improved, passes = True, 0
            while improved and passes < MAX_TRADE_PASSES:
                improved, passes = False, passes + 1
                for k in range(problem.k):
                    if gammas[k] <= 0:
                        continue
                    trial = gammas.copy()
                    trial[k] *= 10.0 ** (-step / 10.0)
                    if trial[k] < 10.0 ** (LOWEST_SINR_DB / 10.0):
                        trial[k] = 0.0
                    others = np.arange(problem.k) != k
                    if not np.any(others & (trial > 0)):
                        continue
                    trial = self._to_boundary(problem, trial, others, cap, tol_db=self.trade_tol_db)
                    value = sources.weighted(trial)
                    if value < best * (1 - TRADE_GAIN) - 1e-12:
                        gammas, best, improved = trial, value, True
        return gammas

    def _beams(self, problem: MultiUserProblem, gammas, info) -> MultiUserDesign:
        value, r, sigma = self.solve_targets(problem, gammas)
        if r is None:
            return self._infeasible(problem, "the SDP failed at the chosen SINR targets")
        info = dict(info, targets_db=[float(lin_to_db(g)) if g > 0 else None for g in gammas])
        w, r_0 = recover_beams(r, sigma, problem.channels)
        # the recovery's checks: R_0' = Sigma - W W^H is PSD (Cauchy-Schwarz) up to rounding, and the rank-one
        # beams give the relaxed SINRs (the targets)
        residual = sigma - w @ w.conj().T
        info["recovery_min_eig"] = float(np.linalg.eigvalsh(0.5 * (residual + residual.conj().T)).min()) / max(
            float(np.trace(sigma).real), 1e-300
        )
        full_w_0 = streams_from_covariance(r_0, problem.n_tx)[0]  # all of R_0', before any stream is dropped
        recovered = problem.sinrs(w, full_w_0)
        served = gammas > 0
        info["sinr_shortfall_db"] = (
            float(np.max(lin_to_db(gammas[served]) - lin_to_db(np.maximum(recovered[served], 1e-300))))
            if served.any()
            else 0.0
        )
        if not problem.has_target:
            # without a target R_0 only adds interference and power: leave it out (every SINR can only rise)
            w_0 = np.zeros((problem.n_tx, 0), complex)
        else:
            w_0, _ = streams_from_covariance(r_0, problem.n_tx)
            # components below 1e-7 P_T are solver noise (the users' beams often light the target enough)
            strength = np.sum(np.abs(w_0) ** 2, axis=0)
            rank = int(np.sum(strength > SENSING_NEGLIGIBLE * problem.power_w))
            info["sensing_rank"] = rank
            w_0 = w_0[:, :rank]
            if rank > problem.sensing_streams:
                w_0 = w_0[:, : problem.sensing_streams]
                info["truncated_sensing"] = True
        power = float(np.trace(problem.covariance(w, w_0)).real)
        if power > 0:
            # Use the whole budget: the targets stop a hair inside the boundary (tol_db) and solver tolerance
            # can leave the power a hair over it. Scaling every beam by the same factor > 1 raises every SINR
            # and lowers tr HCRB (the FIM is linear in Sigma); a factor < 1 only undoes solver tolerance.
            factor = np.sqrt(problem.power_w / power)
            w, w_0 = w * factor, w_0 * factor
        design = evaluate_design(problem, w, w_0, self.name, info=info)
        if not design.feasible and info.get("truncated_sensing"):
            design.reason = (
                f"the design needs {info['sensing_rank']} sensing streams but at most {problem.sensing_streams} "
                f"are allowed (budget.sensing_streams / --sensing-streams); {design.reason}"
            )
        return design

    def _infeasible(self, problem: MultiUserProblem, reason: str) -> MultiUserDesign:
        """Fallback: no user beams and the sensing-optimal covariance (least ``tr HCRB``) when there is a target,
        flagged infeasible with the reason."""
        w = np.zeros((problem.n_tx, problem.k), complex)
        w_0 = np.zeros((problem.n_tx, 0), complex)
        if problem.sensing is not None:
            sigma, _ = self._sensing_solver.sensing_optimal(problem.sensing)
            if sigma is not None:
                w_0, rank = streams_from_covariance(sigma, problem.n_tx)
                w_0 = w_0[:, : max(rank, 1)]
        design = evaluate_design(problem, w, w_0, self.name, reason=reason + "; fallback: no user beams")
        design.feasible = False
        return design


# ---------------------------------------------------------------------------------------------------
# decisions
@dataclass
class UserDecision:
    """One user's part of a decision."""

    task: str
    weight: float
    sinr: float
    model: str
    r_s_bits: float
    code_rate: float
    channel_uses: float
    log10_ber: float
    distortion: float
    served: bool
    reason: str
    w: np.ndarray
    predictions: dict = field(default_factory=dict)

    @property
    def sinr_db(self) -> float:
        return float(lin_to_db(self.sinr)) if self.sinr > 0 else float("-inf")

    def to_json(self) -> dict:
        return {
            "task": self.task,
            "weight": self.weight,
            "sinr_db": self.sinr_db,
            "model": self.model,
            "R_s": self.r_s_bits,
            "code_rate": self.code_rate,
            "channel_uses": self.channel_uses,
            "log10_ber": self.log10_ber,
            "predicted_distortion": self.distortion,
            **self.predictions,
            "served": self.served,
            "reason": self.reason,
            "w": {"re": self.w.real.tolist(), "im": self.w.imag.tolist()},
        }


@dataclass
class MultiUserDecision:
    """A multi-user frame decision and what the models predict for it."""

    feasible: bool
    reason: str
    solver: str
    weighted_distortion: float
    hcrb_trace: float | None
    hcrb_threshold_m2: float | None
    power_w: float
    power_budget_w: float
    w_0: np.ndarray
    users: list
    solve_ms: float = 0.0
    info: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """The ``issc optimize --json`` object of a multi-user scenario (non-finite numbers become null)."""
        return jsonable(
            {
                "feasible": self.feasible,
                "reason": self.reason,
                "solver": self.solver,
                "weighted_distortion": self.weighted_distortion,
                "hcrb_trace": self.hcrb_trace,
                "hcrb_threshold": self.hcrb_threshold_m2,
                "power_w": self.power_w,
                "power_budget_w": self.power_budget_w,
                "W_0": {"re": self.w_0.real.tolist(), "im": self.w_0.imag.tolist()},
                "users": [u.to_json() for u in self.users],
                "solve_ms": self.solve_ms,
                "info": self.info,
            }
        )


class MultiUserOptimizer:
    """Multi-user decisions for one scenario, with solvers compiled once.

    Args:
        scenario: name, path or Scenario (any form: a single-user scenario is one data user).
        profile: data codec profile (CodecProfile, path, or None for the shipped one); needs ``ms_ssim`` fits.
        semantic_profile: SemanticProfile, path, or None for the shipped one.
        solver: ``sdr`` (default), ``paper``, ``zf-wf``, or ``zf-wf-bpg`` / ``zf-wf-jpeg`` (``zf-wf`` with the
            ``hevc`` / ``jpeg`` family) / ``zf-wf-djscc`` (data users on the DJSCC models trained at 10 dB).
        ber_model: ``normal`` or ``calibrated`` (:mod:`gnuradio.issc.link.calibration`).
        calibration: calibration table for ``calibrated`` (None: the shipped one).
        distortion_model, sinr_sigma_db: the data users' distortion model, ``burst`` or ``ber``, and the SINR
            spread of ``burst`` (as :class:`~gnuradio.issc.optim.decision.Optimizer`; None: ``burst`` with the
            calibrated code and a profile with burst curves).
        code_rates: ``zf-wf*`` only: the fixed code rate, one value for all users or one per user
            (None: 1 bit per channel use).
        family: the data users' shipped family, one of :data:`FAMILIES` (None: ``learned``, or the one a
            ``zf-wf-bpg`` / ``zf-wf-jpeg`` solver implies); give ``profile`` or ``family``, not both.
    """

    def __init__(
        self,
        scenario,
        profile=None,
        semantic_profile=None,
        solver: str = "sdr",
        ber_model: str = "normal",
        calibration=None,
        code_rates=None,
        family: str | None = None,
        distortion_model: str | None = None,
        sinr_sigma_db: float = DEFAULT_SINR_SIGMA_DB,
    ):
        self.scenario = load_scenario(scenario)
        if solver not in SOLVER_NAMES:
            raise IsscInputError(f"unknown solver '{solver}' (choose from {', '.join(SOLVER_NAMES)})")
        self.family = _data_family(solver, family, profile)
        if profile is None:
            profile = FAMILY_PROFILES[self.family or "learned"]
        self.profile = profile if isinstance(profile, CodecProfile) else load_profile(profile)
        if DATA_METRIC not in self.profile.metrics:
            raise IsscInputError(
                f"the codec profile has no '{DATA_METRIC}' fits (has: {', '.join(self.profile.metrics)}); "
                "data users are scored by MS-SSIM"
            )
        self.semantic_profile = (
            semantic_profile
            if isinstance(semantic_profile, SemanticProfile)
            else load_semantic_profile(semantic_profile)
        )
        self.solver_name = solver
        # the data users' codewords fail as bursts (optim/rate.py); the semantic models keep the BER objective
        self.ber, self.distortion_model = link_error_model(
            ber_model, calibration, self.scenario.signal.blocklength, distortion_model, self.profile, sinr_sigma_db
        )
        k = len(scenario_users(self.scenario))
        if code_rates is not None and solver not in FIXED_RATE_SOLVERS:
            raise IsscInputError(f"a fixed code rate applies to the {', '.join(FIXED_RATE_SOLVERS)} solvers only")
        rates = [1.0] if code_rates is None else [float(r) for r in np.atleast_1d(code_rates)]
        if len(rates) not in (1, k):
            raise IsscInputError(f"give one code rate or one per user ({k}), got {len(rates)}")
        blocklength = self.scenario.signal.blocklength
        top = BITS_PER_SYMBOL[self.scenario.signal.modulation] - 1.0 / blocklength
        for rate in rates:
            if not (np.isfinite(rate) and 1.0 / blocklength <= rate <= top):
                raise IsscInputError(
                    f"code rate must be in [1/L, 2 - 1/L] = [{1.0 / blocklength:.4g}, {top:.4g}] bits per channel use, "
                    f"got {rate:g}"
                )
        self.code_rates = rates * k if len(rates) == 1 else rates
        if solver == "sdr":
            self.beam_solver = SdrMultiUserSolver()
        else:
            from .multiuser_baselines import PaperMultiUserSolver, ZfWfMultiUserSolver

            if solver == "paper":
                self.beam_solver = PaperMultiUserSolver()
            elif solver == "zf-wf-djscc":
                from .multiuser_baselines import ZfWfDjsccMultiUserSolver

                self.beam_solver = ZfWfDjsccMultiUserSolver(self.code_rates, self.profile.source_dimensions)
            else:
                self.beam_solver = ZfWfMultiUserSolver(self.code_rates, name=solver)

    def problem(self, power_dbm=None, hcrb_threshold_m2=None, abr=None, sensing_streams=None) -> MultiUserProblem:
        return MultiUserProblem.from_scenario(
            self.scenario, power_dbm, hcrb_threshold_m2, abr, sensing_streams, self.profile.source_dimensions
        )

    def sources(self, problem: MultiUserProblem) -> UserSources:
        return UserSources(problem, self.profile, self.semantic_profile, self.ber)

    def decide(self, power_dbm=None, hcrb_threshold_m2=None, abr=None, sensing_streams=None) -> MultiUserDecision:
        """One decision; arguments left at None take the scenario's budget values."""
        problem = self.problem(power_dbm, hcrb_threshold_m2, abr, sensing_streams)
        return self.decide_problem(problem)

    def decide_problem(self, problem: MultiUserProblem) -> MultiUserDecision:
        start = time.perf_counter()
        sources = self.sources(problem)
        try:
            design = self.beam_solver.design(problem, sources)
        except Exception as exc:  # a solver bug must not stall the caller: report it with an empty design
            design = evaluate_design(
                problem,
                np.zeros((problem.n_tx, problem.k), complex),
                np.zeros((problem.n_tx, 0), complex),
                self.solver_name,
                reason=f"{self.solver_name} solver raised {type(exc).__name__}: {exc}",
            )
            design.feasible = False
        decision = self._decision(problem, sources, design)
        decision.solve_ms = 1e3 * (time.perf_counter() - start)
        return decision

    def _decision(self, problem: MultiUserProblem, sources: UserSources, design: MultiUserDesign) -> MultiUserDecision:
        users, total, over_budget = [], 0.0, []
        for k, user in enumerate(problem.users):
            pick = design.choices[k] if design.choices is not None else sources.choose(k, design.sinr[k])
            choice = pick.choice
            family = sources.family(k)
            why = ""
            if not choice.feasible:
                why = f"not served: no {user.task} model fits, the most robust ({choice.model}) {choice.reason}"
            users.append(
                UserDecision(
                    task=user.task,
                    weight=user.weight,
                    sinr=float(design.sinr[k]),
                    model=choice.model,
                    r_s_bits=choice.r_s_bits,
                    code_rate=choice.code_rate,
                    channel_uses=user.channel_uses,
                    log10_ber=choice.log10_ber,
                    distortion=pick.distortion,
                    served=choice.feasible,
                    reason=why,
                    w=design.w[:, k].copy(),
                    predictions=family.predictions(choice),
                )
            )
            total += user.weight * pick.distortion
            if choice.code_rate * user.channel_uses < choice.r_s_bits * (1 - 1e-9):
                over_budget.append(
                    f"user {k}: even the most robust {user.task} model ({choice.model}) needs more than "
                    f"{user.channel_uses:g} channel uses at the top code rate"
                )
        return MultiUserDecision(
            feasible=bool(design.feasible and not over_budget),
            reason="; ".join(([design.reason] if design.reason else []) + over_budget),
            solver=self.solver_name,
            weighted_distortion=float(total),
            hcrb_trace=design.hcrb_trace,
            hcrb_threshold_m2=problem.hcrb_threshold_m2,
            power_w=design.power_w,
            power_budget_w=problem.power_w,
            w_0=design.w_0,
            users=users,
            info={**design.info, "data_family": self.family or "profile"},
        )


def _data_family(solver: str, family: str | None, profile) -> str | None:
    """The data family a solver and ``family`` / ``profile`` arguments name (None: a given profile)."""
    if family is not None and family not in FAMILIES:
        raise IsscInputError(f"unknown data family '{family}' (choose from {', '.join(FAMILIES)})")
    implied = FIXED_RATE_SOLVERS.get(solver)
    if implied is not None:
        if family not in (None, implied) or profile is not None:
            raise IsscInputError(
                f"the {solver} solver uses the {implied} family (give neither a profile nor another family)"
            )
        return implied
    if family is not None and profile is not None:
        raise IsscInputError("give a codec profile or a data family, not both")
    if profile is not None:
        return None
    return family or "learned"
