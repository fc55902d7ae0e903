# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The multi-user solvers other than ``sdr`` (docs/multiuser.md): the MU-ASCC paper's alternating
optimisation (``paper``) and the zero-forcing / water-filling benchmark at a fixed code rate (``zf-wf``).

``paper`` follows the MU-ASCC paper's Sec. IV (Fig. 6):

1. Source rates relaxed to a continuous ``R_s`` with the logistic parameters interpolated linearly between
   adjacent models (eq. 26-30), ``R_c = R_s / T_k`` (every channel use spent, eq. 24);
2. AO between (a) the rate step, per user, by subgradient descent from the lowest rate with the
   one-sided derivatives at the models' rates (eq. 31) and a backtracking step (Algorithm 1), and (b) the
   power and beam step by uplink-downlink duality (Algorithm 3): MMSE receive beams for fixed uplink
   powers (eq. 43), then the uplink powers for fixed beams, and the downlink powers from the uplink
   SINRs (eq. 34-37, same total power, same SINRs);
3. round each relaxed ``R_s`` down to a model and run the power and beam step once more.

Simplifications, documented: the uplink power step (P6) minimises the same objective over the same
simplex by projected gradient descent with backtracking and finite-difference gradients, instead of the
paper's SCA (P6.1-P6.2) (both are local methods for P6); the subgradient uses finite differences.

Sensing, when there is a target, is added as the ISSC paper adds it to its single user: one sensing
stream ``w_0`` superimposed on the users' streams, counted as interference at every user and in the
power, with the HCRB constraint on the total covariance. Simplification: ``w_0`` points along the
target's steering vector projected onto the null space of the users' channels (interference-free when
``N_T > K``; the plain steering vector otherwise; the strongest direction of the covariance with the least
``tr HCRB`` when that cannot meet ``Pi``) and gets the least power that meets ``Pi`` for the
current user beams (grid and bisection on the closed-form HCRB), instead of the ISSC paper's
penalty/FP optimisation of its direction. The AO's power and beam step then sees the sensing
interference as extra noise, which keeps the duality exact; the sensing power is re-found after every
round.

``zf-wf``: zero-forcing beams (the normalised columns of ``H^+``), water-filling of the users' power over
their interference-free gains, the sensing stream as above; each user at a fixed code rate with the
largest model of its family that fits its channel uses at that rate (the benchmark's fixed codec
filling its budget). ``zf-wf-bpg`` and ``zf-wf-jpeg`` are the same with the data users' family set to the
HEVC intra (BPG's coding, pillow-heif/x265) or JPEG operating points (codec/standard.py), each profiled
from real bit flips of its real bitstreams: the paper's ZF-WF-BPG and ZF-WF-JPEG benchmarks.
``zf-wf-djscc`` (the paper's ZF-WF-DJSCC): the same beams and powers; each data user sends the deep JSCC
model of its bandwidth ratio trained at 10 dB (docs/djscc.md), predicted by that model's held-out AWGN
evaluation at the user's SINR (as :mod:`.djscc_decision` predicts one user); semantic users keep the fixed
code rate.
"""

from __future__ import annotations

import math
import time

import numpy as np

from ..physics.ber import capacity
from ..physics.hcrb import position_bound_from_fim
from .beams import least_feasible
from .multiuser import (
    COIN_FLIP_LOG10_BER,
    MultiUserDesign,
    MultiUserProblem,
    SdrMultiUserSolver,
    SourceChoice,
    UserSources,
    evaluate_design,
)
from .rate import RateChoice
from .rate import _choice as rate_choice
from .sdr import SdrBeamSolver

NULL_TOL = 1e-9


# ---------------------------------------------------------------------------------------------------
# the sensing stream shared by the baselines
def sensing_direction(problem: MultiUserProblem) -> np.ndarray:
    """Unit sensing beam: the target's steering vector projected onto the null space of every user's
    channel (no interference), or the steering vector itself when that leaves nothing (``N_T <= K``)."""
    g = problem.geometry
    steer = g.a_tx(g.theta)
    h = problem.channels  # rows h_k^H
    projected = steer - np.linalg.pinv(h) @ (h @ steer)
    if np.linalg.norm(projected) > NULL_TOL * np.linalg.norm(steer):
        return projected / np.linalg.norm(projected)
    return steer / np.linalg.norm(steer)


def least_sensing_power(
    problem: MultiUserProblem, comm_shape: np.ndarray, v: np.ndarray, grid_points: int = 96, refine_steps: int = 48
):
    """The least ``t`` in ``[0, P_T]`` with ``tr HCRB((P_T - t) C + t v v^H) <= Pi`` (``C``: the users' covariance
    with unit trace, or zero), or None. ``tr HCRB(t)`` need not be monotone: a grid finds the first feasible
    cell and bisection refines it (as :func:`~.beams.least_sensing_scale` for one user)."""
    fisher = problem.sensing.fisher
    power = problem.power_w
    j_comm = fisher.data_fim(comm_shape)
    j_sens = fisher.data_fim(np.outer(v, v.conj()))
    prior = np.diag([0.0, 0.0, fisher.prior_information])
    pi = problem.hcrb_threshold_m2

    def hcrb_at(t):
        return float(np.trace(position_bound_from_fim((power - t) * j_comm + t * j_sens + prior)))

    return least_feasible(lambda t: hcrb_at(t) <= pi, power, grid_points, refine_steps)


def _unit_shape(w: np.ndarray) -> np.ndarray:
    sigma = w @ w.conj().T
    total = float(np.trace(sigma).real)
    return sigma / total if total > 0 else np.zeros_like(sigma)


def _fixed_rate_choice(sources: UserSources, k: int, model, code_rate: float, sinr: float) -> SourceChoice:
    """``model`` at ``code_rate`` and ``sinr``: served when the rate is below capacity and fits the budget; an
    unserved user gets the coin-flip distortion (as in :class:`~.multiuser.TaskSource`)."""
    problem = sources.problem
    family = sources.family(k)
    user = problem.users[k]
    rate = float(code_rate)
    lb = float(sources.ber(max(float(sinr), 0.0), rate, problem.blocklength))
    fits = model.r_s_bits <= rate * user.channel_uses * (1 + 1e-9)
    below = rate <= float(capacity(max(float(sinr), 0.0)))
    reason = ""
    if not fits:
        reason = (
            f"needs R_c >= {model.r_s_bits / user.channel_uses:.4g} bits/use to fit {user.channel_uses:g} channel uses"
        )
    elif not below:
        reason = f"R_c = {rate:.4g} is above the capacity {float(capacity(max(float(sinr), 0.0))):.4g}"
    served = fits and below
    if served:  # the rate module's prediction (burst-aware with a BurstAwareBer and a data model's burst curve)
        choice = rate_choice(model, rate, max(float(sinr), 0.0), problem.blocklength, family.metric, sources.ber)
        return SourceChoice(choice, float(10.0**choice.log10_distortion))
    lb = COIN_FLIP_LOG10_BER
    log_d = float(model.log10_distortion(lb, family.metric))
    return SourceChoice(RateChoice(model.id, model.r_s_bits, rate, lb, log_d, served, reason), float(10.0**log_d))


# ---------------------------------------------------------------------------------------------------
# zf-wf
class ZfWfMultiUserSolver:
    """Zero-forcing beams, water-filling power, fixed code rates (module docstring).

    Args:
        code_rates: the fixed code rate of each user, bits per channel use.
        name: the solver name the designs report (``zf-wf``, or ``zf-wf-bpg`` / ``zf-wf-jpeg`` when the data
            family is the HEVC / JPEG operating points: the beams and the model rule are the same).
    """

    name = "zf-wf"

    def __init__(self, code_rates, name: str = "zf-wf"):
        self.code_rates = [float(r) for r in code_rates]
        self.name = name

    def design(self, problem: MultiUserProblem, sources: UserSources) -> MultiUserDesign:
        start = time.perf_counter()
        design = self._design(problem, sources)
        design.info["solve_ms"] = 1e3 * (time.perf_counter() - start)
        return design

    def _design(self, problem: MultiUserProblem, sources: UserSources) -> MultiUserDesign:
        h = problem.channels
        n, k = problem.n_tx, problem.k
        rates = [min(max(r, 1.0 / problem.blocklength), problem.max_code_rate) for r in self.code_rates]
        if k > n or np.linalg.matrix_rank(h) < k:
            return self._fallback(
                problem, sources, rates, f"zero-forcing needs K <= N_T independent channels (K = {k})"
            )
        f = np.linalg.pinv(h)
        f = f / np.linalg.norm(f, axis=0, keepdims=True)
        gains = np.abs(np.diag(h @ f)) ** 2
        v = sensing_direction(problem) if problem.has_target else None
        leak = np.abs(h @ v) ** 2 if v is not None else np.zeros(k)

        def comm_powers(total, sensing_power):
            return water_filling(gains / (problem.noise_w + sensing_power * leak), total)

        sensing_power = 0.0
        if problem.has_target:
            if not problem.hcrb_threshold_m2 > 0:
                return self._fallback(problem, sources, rates, "the HCRB threshold Pi must be > 0 m^2")
            # the least sensing power t with the users water-filled over P - t (grid and bisection in t)
            sensing_power = self._least_sensing(problem, f, v, comm_powers)
            if sensing_power is None:
                return self._fallback(
                    problem,
                    sources,
                    rates,
                    "even all power on the sensing beam misses the HCRB threshold "
                    f"Pi = {problem.hcrb_threshold_m2:g} m^2",
                )
        p = comm_powers(problem.power_w - sensing_power, sensing_power)
        w = f * np.sqrt(p)[None, :]
        w_0 = (np.sqrt(sensing_power) * v)[:, None] if v is not None else np.zeros((n, 0), complex)
        design = evaluate_design(problem, w, w_0, self.name, info={"code_rates": rates})
        design.choices = self._choices(sources, rates, design.sinr)
        return design

    def _least_sensing(self, problem, f, v, comm_powers, grid_points=64, refine_steps=40):
        fisher = problem.sensing.fisher
        prior = np.diag([0.0, 0.0, fisher.prior_information])
        pi = problem.hcrb_threshold_m2

        def hcrb_at(t):
            w = f * np.sqrt(comm_powers(problem.power_w - t, t))[None, :]
            sigma = w @ w.conj().T + t * np.outer(v, v.conj())
            return float(np.trace(position_bound_from_fim(fisher.data_fim(sigma) + prior)))

        return least_feasible(lambda t: hcrb_at(t) <= pi, problem.power_w, grid_points, refine_steps)

    def _choices(self, sources: UserSources, rates, sinrs) -> list:
        out = []
        for k, (rate, sinr) in enumerate(zip(rates, sinrs)):
            family = sources.family(k)
            uses = sources.problem.users[k].channel_uses
            fitting = [m for m in family.models if m.r_s_bits <= rate * uses * (1 + 1e-9)]
            model = fitting[-1] if fitting else family.models[0]  # the largest that fits (models sorted by rate)
            out.append(_fixed_rate_choice(sources, k, model, rate, sinr))
        return out

    def _fallback(self, problem, sources, rates, reason) -> MultiUserDesign:
        w = np.zeros((problem.n_tx, problem.k), complex)
        if problem.has_target:
            v = sensing_direction(problem)
            w_0 = (np.sqrt(problem.power_w) * v)[:, None]
        else:
            w_0 = np.zeros((problem.n_tx, 0), complex)
        design = evaluate_design(problem, w, w_0, self.name, reason=reason + "; fallback: no user beams")
        design.feasible = False
        design.choices = self._choices(sources, rates, design.sinr)
        return design


DJSCC_TRAIN_SNR_DB = 10.0
"""The training SNR of the ZF-WF-DJSCC benchmark's models."""


class ZfWfDjsccMultiUserSolver(ZfWfMultiUserSolver):
    """``zf-wf`` beams with the data users on the deep JSCC models trained at 10 dB (module docstring).

    Args:
        code_rates: the semantic users' fixed code rates (the data users' entries are unused).
        data_dimensions: ``M = 3 H W`` of the data users' images (their ABR is ``T_k / M``).
        djscc_dir: DJSCC model directory (None: the shipped models).
    """

    def __init__(self, code_rates, data_dimensions: int, djscc_dir=None):
        from ..djscc.models import DATA_DIR, load_manifest

        super().__init__(code_rates, name="zf-wf-djscc")
        self.data_dimensions = int(data_dimensions)
        self.models = load_manifest(djscc_dir or DATA_DIR)

    def _choices(self, sources: UserSources, rates, sinrs) -> list:
        out = super()._choices(sources, rates, sinrs)
        for k, user in enumerate(sources.problem.users):
            if user.task == "data":
                out[k] = self._djscc_choice(user.channel_uses / self.data_dimensions, float(sinrs[k]))
        return out

    def _djscc_choice(self, abr: float, sinr: float) -> SourceChoice:
        """The ABR's 10 dB AE model and its predicted ``1 - MS-SSIM`` at ``sinr``; not served (``D = 1``) where
        no model has that ABR or the SINR is below the lowest evaluated SNR (no prediction there)."""
        from ..djscc.models import abr_label, select_model
        from ..errors import IsscInputError

        try:
            model = select_model(self.models, abr, DJSCC_TRAIN_SNR_DB, "ae")
        except IsscInputError as exc:
            return SourceChoice(RateChoice("none", 0.0, 0.0, math.nan, 0.0, False, str(exc)), 1.0)
        sinr_db = 10.0 * math.log10(sinr) if sinr > 0 else -math.inf
        predicted = model.predicted_quality(sinr_db).get("predicted_ms_ssim")
        if predicted is None or 1.0 - predicted <= 0:
            why = f"SINR {sinr_db:.3g} dB is below the lowest SNR of {model.id}'s evaluation (ABR {abr_label(abr)})"
            return SourceChoice(RateChoice(model.id, 0.0, 0.0, math.nan, 0.0, False, why), 1.0)
        distortion = 1.0 - predicted
        return SourceChoice(RateChoice(model.id, 0.0, 0.0, math.nan, math.log10(distortion), True), distortion)


def water_filling(gains: np.ndarray, total: float) -> np.ndarray:
    """Powers ``p_k = max(mu - 1/g_k, 0)`` with ``sum p_k = total`` (gains ``g_k`` = SNR per watt)."""
    gains = np.asarray(gains, float)
    p = np.zeros_like(gains)
    if total <= 0 or not np.any(gains > 0):
        return p
    active = np.flatnonzero(gains > 0)
    inverse = 1.0 / gains[active]
    order = np.argsort(inverse)
    for count in range(len(order), 0, -1):
        chosen = order[:count]
        mu = (total + inverse[chosen].sum()) / count
        if mu > inverse[chosen].max():
            p[active[chosen]] = mu - inverse[chosen]
            return p
    return p


# ---------------------------------------------------------------------------------------------------
# paper
class _RelaxedFamily:
    """A user's model family with ``R_s`` relaxed to an interval (the paper's eq. 26-30): the logistic
    parameters interpolated linearly between the adjacent models."""

    def __init__(self, sources: UserSources, k: int):
        problem = sources.problem
        self.sources, self.k = sources, k
        self.family = sources.family(k)
        self.user = problem.users[k]
        self.blocklength = problem.blocklength
        self.max_code_rate = problem.max_code_rate
        models = self.family.models
        self.rates = np.array([m.r_s_bits for m in models])
        if self.family.task == "data":
            fits = [m.fits[self.family.metric] for m in models]
            self.params = np.array([[f.ds, f.dc, f.e1, f.e2] for f in fits])
        else:
            self.params = np.array([[m.model.d_s, m.model.d_c, m.model.a1, m.model.a0] for m in models])
        self.lowest = float(self.rates[0])
        self.highest = float(min(self.rates[-1], self.user.channel_uses * problem.max_code_rate))
        self.servable = self.highest >= self.lowest

    def code_rate(self, r_s: float) -> float:
        """``R_s / T`` within ``[1/L, R_c,max]`` (a model that cannot fit is left at the top rate, not served)."""
        return min(max(r_s / self.user.channel_uses, 1.0 / self.blocklength), self.max_code_rate)

    def distortion(self, r_s: float, sinr: float) -> float:
        """``D~(R_s, gamma)`` (linear: 1 - MS-SSIM or the classification error)."""
        r_s = min(max(r_s, self.lowest), self.rates[-1])
        n = int(np.clip(np.searchsorted(self.rates, r_s, side="right") - 1, 0, len(self.rates) - 1))
        if n + 1 < len(self.rates):
            lam = (r_s - self.rates[n]) / (self.rates[n + 1] - self.rates[n])
            p = self.params[n] + lam * (self.params[n + 1] - self.params[n])
        else:
            p = self.params[n]
        lb = float(self.sources.ber(max(sinr, 0.0), self.code_rate(r_s), self.blocklength))
        value = p[0] + p[1] / (1.0 + math.exp(min(-p[2] * (lb - p[3]), 700.0)))
        return 10.0**value if self.family.task == "data" else value

    def rate_step(self, sinr: float, start: float | None = None, iterations: int = 60, eps: float = 1e-7) -> float:
        """Algorithm 1: subgradient descent on ``R_s`` in ``[R^1, min(R^N, T R_c,max)]`` from the lowest rate."""
        lo, hi = self.lowest, self.highest
        if hi <= lo:
            return lo
        r = lo if start is None else min(max(start, lo), hi)
        value = self.distortion(r, sinr)
        span = hi - lo
        delta = 1e-6 * span
        at_model = np.isclose(self.rates, r, rtol=0, atol=delta).any
        for _ in range(iterations):
            right = (self.distortion(min(r + delta, hi), sinr) - value) / delta if r < hi else 0.0
            left = (value - self.distortion(max(r - delta, lo), sinr)) / delta if r > lo else 0.0
            if r <= lo:
                d = right
            elif r >= hi:
                d = left
            elif at_model():
                d = 0.5 * (left + right)  # eq. (31)
            else:
                d = 0.5 * (left + right)
            if d == 0.0:
                break
            step = 0.25 * span / abs(d)
            moved = False
            while step * abs(d) > 1e-9 * span:  # backtracking (Armijo)
                cand = min(max(r - step * d, lo), hi)
                cand_value = self.distortion(cand, sinr)
                if cand_value <= value - 1e-4 * abs(d) * abs(cand - r):
                    moved = cand != r
                    decrease = value - cand_value
                    r, value = cand, cand_value
                    break
                step *= 0.5
            if not moved or decrease <= eps * max(abs(value), 1e-12):
                break
            at_model = np.isclose(self.rates, r, rtol=0, atol=delta).any
        return r

    def round_down(self, r_s: float) -> float:
        """The largest model rate at most ``r_s`` (the paper's round-down quantisation)."""
        below = self.rates[self.rates <= r_s * (1 + 1e-12)]
        return float(below[-1]) if below.size else float(self.rates[0])


class PaperMultiUserSolver:
    """The MU-ASCC paper's AO (module docstring).

    Args:
        max_rounds: outer AO rounds (rates, then power and beams).
        inner_rounds: rounds of the power-and-beam AO (MMSE beams, then uplink powers).
        power_steps: projected-gradient steps of one uplink power update.
        tol: fractional decrease of the weighted distortion that counts as converged.
    """

    name = "paper"

    def __init__(self, max_rounds: int = 12, inner_rounds: int = 8, power_steps: int = 20, tol: float = 1e-4):
        self.max_rounds = max_rounds
        self.inner_rounds = inner_rounds
        self.power_steps = power_steps
        self.tol = tol

    def design(self, problem: MultiUserProblem, sources: UserSources) -> MultiUserDesign:
        start = time.perf_counter()
        design = self._design(problem, sources)
        design.info["solve_ms"] = 1e3 * (time.perf_counter() - start)
        return design

    # -- pieces -----------------------------------------------------------------------------------------
    @staticmethod
    def _mmse_beams(hbar: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Eq. (43): unit receive beams ``(I + sum_j q_j hbar_j hbar_j^H)^-1 hbar_i``; columns."""
        n = hbar.shape[1]
        cov = np.eye(n, dtype=complex) + (hbar.T * q) @ hbar.conj()
        beams = np.linalg.solve(cov, hbar.T)
        return beams / np.linalg.norm(beams, axis=0, keepdims=True)

    @staticmethod
    def _gains(hbar: np.ndarray, beams: np.ndarray) -> np.ndarray:
        """``G[k, j] = |hbar_k^H w_j|^2``."""
        return np.abs(hbar.conj() @ beams) ** 2

    @staticmethod
    def _uplink_sinr(gains: np.ndarray, q: np.ndarray) -> np.ndarray:
        """Eq. (33): ``q_k G_kk / (sum_{j != k} q_j G_jk + 1)``."""
        received = gains.T @ q  # [k] = sum_j q_j G_jk
        own = np.diag(gains) * q
        return own / (received - own + 1.0)

    @staticmethod
    def _downlink_powers(gains: np.ndarray, sinr: np.ndarray) -> np.ndarray:
        """Eq. (34): downlink powers with the uplink SINRs (same beams, same total power); users with zero
        SINR get none."""
        p = np.zeros(len(sinr))
        on = np.flatnonzero(sinr > 0)
        if on.size:
            g = gains[np.ix_(on, on)]
            matrix = -g.copy()
            np.fill_diagonal(matrix, np.diag(g) / sinr[on])
            try:
                p[on] = np.maximum(np.linalg.solve(matrix, np.ones(on.size)), 0.0)
            except np.linalg.LinAlgError:  # SINRs on the edge of the feasible set: nothing to convert
                p[on] = 0.0
        return p

    def _power_step(self, objective, q: np.ndarray, total: float) -> np.ndarray:
        """(P6) by projected gradient descent on the simplex ``sum q = total`` with backtracking."""
        value = objective(q)
        for _ in range(self.power_steps):
            h = 1e-6 * total
            grad = np.array([(objective(q + h * e) - value) / h for e in np.eye(len(q))])
            if not np.any(grad):
                break
            step = 0.5 * total / max(np.max(np.abs(grad)), 1e-300)
            moved = False
            while step * np.max(np.abs(grad)) > 1e-9 * total:
                cand = project_simplex(q - step * grad, total)
                cand_value = objective(cand)
                if cand_value < value - 1e-12:
                    q, value, moved = cand, cand_value, True
                    break
                step *= 0.5
            if not moved:
                break
        return q

    def _power_and_beams(self, problem, families, r_s, sensing_power, v, start_w, start_p):
        """Algorithm 3 for fixed rates: unit beams and downlink powers of the users."""
        noise = problem.noise_w + (sensing_power * np.abs(problem.channels @ v) ** 2 if v is not None else 0.0)
        hbar = np.array([u.channel / np.sqrt(nk) for u, nk in zip(problem.users, noise)])  # rows hbar_k
        total = problem.power_w - sensing_power
        weights = problem.weights
        if not total > 0:  # the sensing stream takes the whole budget
            return start_w, np.zeros(problem.k), np.zeros(problem.k)

        def weighted(sinr):
            return float(sum(w * f.distortion(r, s) for w, f, r, s in zip(weights, families, r_s, sinr)))

        beams = start_w
        gains = self._gains(hbar, beams)
        # uplink powers with the downlink SINRs of the start point (eq. 35), then normalised to the budget
        sinr_dl = downlink_sinr(gains, start_p)
        q = self._uplink_powers(gains, sinr_dl, total)
        best = None
        for _ in range(self.inner_rounds):
            beams = self._mmse_beams(hbar, q)
            gains = self._gains(hbar, beams)
            q = self._power_step(lambda x, g=gains: weighted(self._uplink_sinr(g, x)), q, total)
            value = weighted(self._uplink_sinr(gains, q))
            if best is not None and best - value <= self.tol * max(abs(best), 1e-12):
                best = min(best, value)
                break
            best = value
        sinr = self._uplink_sinr(gains, q)
        return beams, self._downlink_powers(gains, sinr), sinr

    @staticmethod
    def _uplink_powers(gains, sinr, total):
        """Eq. (35), then scaled to the budget (or equal powers if the start point has no SINR)."""
        k = len(sinr)
        on = np.flatnonzero(sinr > 0)
        q = np.zeros(k)
        if on.size:
            g = gains[np.ix_(on, on)]
            matrix = -g.T.copy()
            np.fill_diagonal(matrix, np.diag(g) / sinr[on])
            try:
                q[on] = np.maximum(np.linalg.solve(matrix, np.ones(on.size)), 0.0)
            except np.linalg.LinAlgError:
                q[:] = 0.0
        if q.sum() <= 0:
            return np.full(k, total / k)
        return q * (total / q.sum())

    # -- the AO ---------------------------------------------------------------------------------------------
    def _design(self, problem: MultiUserProblem, sources: UserSources) -> MultiUserDesign:
        k, n = problem.k, problem.n_tx
        families = [_RelaxedFamily(sources, i) for i in range(k)]
        v = sensing_direction(problem) if problem.has_target else None
        if problem.has_target and not problem.hcrb_threshold_m2 > 0:
            return self._fallback(problem, sources, "the HCRB threshold Pi must be > 0 m^2")
        # start: MRT beams with equal power (the zero-forcing start of the single-user AO needs K <= N_T)
        beams = np.array([u.channel / np.linalg.norm(u.channel) for u in problem.users]).T
        sensing_power = 0.0
        if v is not None:
            sensing_power = least_sensing_power(problem, _unit_shape(beams), v)
            if sensing_power is None:
                # the interference-free direction cannot meet Pi: the strongest direction of the covariance
                # with the least tr HCRB (where the ISSC paper's free w_0 could go)
                sigma, _ = SdrBeamSolver().sensing_optimal(problem.sensing)
                if sigma is not None:
                    v = np.linalg.eigh(sigma)[1][:, -1]
                    sensing_power = least_sensing_power(problem, _unit_shape(beams), v)
            if sensing_power is None:
                return self._fallback(
                    problem,
                    sources,
                    f"no power split meets the HCRB threshold Pi = {problem.hcrb_threshold_m2:g} m^2",
                )
        p = np.full(k, (problem.power_w - sensing_power) / k)
        r_s = np.array([f.lowest for f in families])
        best, rounds = None, 0
        for rounds in range(1, self.max_rounds + 1):  # noqa: B007 (reported after the loop)
            sinr = problem.sinrs(beams * np.sqrt(p), self._w0(v, sensing_power, n))
            r_s = np.array([f.rate_step(s, start=r) for f, s, r in zip(families, sinr, r_s)])
            beams, p, _ = self._power_and_beams(problem, families, r_s, sensing_power, v, beams, p)
            if v is not None:  # the least sensing power for the new user beams
                t = least_sensing_power(problem, _unit_shape(beams * np.sqrt(p)), v)
                if t is not None and t != sensing_power:
                    p = p * ((problem.power_w - t) / max(p.sum(), 1e-300)) if p.sum() > 0 else p
                    sensing_power = t
            sinr = problem.sinrs(beams * np.sqrt(p), self._w0(v, sensing_power, n))
            value = float(sum(u.weight * f.distortion(r, s) for u, f, r, s in zip(problem.users, families, r_s, sinr)))
            if best is not None and best - value <= self.tol * max(abs(best), 1e-12):
                break
            best = value if best is None else min(best, value)
        # round down to the models, then the power and beams once more (Sec. IV-D)
        r_s = np.array([f.round_down(r) for f, r in zip(families, r_s)])
        beams, p, _ = self._power_and_beams(problem, families, r_s, sensing_power, v, beams, p)
        w_0 = self._w0(v, sensing_power, n)
        if v is not None:
            t = least_sensing_power(problem, _unit_shape(beams * np.sqrt(p)), v)
            if t is not None and t > sensing_power:  # keep the HCRB: take the extra sensing power from the users
                p = p * ((problem.power_w - t) / max(p.sum(), 1e-300))
                sensing_power = t
                w_0 = self._w0(v, sensing_power, n)
        design = evaluate_design(problem, beams * np.sqrt(p), w_0, self.name, info={"rounds": rounds})
        design.choices = [
            _fixed_rate_choice(sources, i, f.family.models[int(np.flatnonzero(f.rates == r)[0])], f.code_rate(r), s)
            for i, (f, r, s) in enumerate(zip(families, r_s, design.sinr))
        ]
        return design

    @staticmethod
    def _w0(v, sensing_power, n):
        if v is None:
            return np.zeros((n, 0), complex)
        return (np.sqrt(sensing_power) * v)[:, None]

    def _fallback(self, problem, sources, reason) -> MultiUserDesign:
        design = SdrMultiUserSolver()._infeasible(problem, reason)
        design.solver = self.name
        return design


def downlink_sinr(gains: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Eq. (7) with noise-normalised channels: ``p_k G_kk / (sum_{j != k} p_j G_kj + 1)``."""
    received = gains @ p
    own = np.diag(gains) * p
    return own / (received - own + 1.0)


def project_simplex(x: np.ndarray, total: float) -> np.ndarray:
    """Euclidean projection onto ``{q >= 0, sum q = total}``."""
    u = np.sort(x)[::-1]
    cumulative = np.cumsum(u) - total
    index = np.arange(1, len(x) + 1)
    rho = np.flatnonzero(u - cumulative / index > 0)
    theta = cumulative[rho[-1]] / (rho[-1] + 1) if rho.size else (x.sum() - total) / len(x)
    return np.maximum(x - theta, 0.0)
