# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The exact ("sdr") beam solver: maximise the CRE SINR under the HCRB and power constraints.

After relaxing ``R_c = w_c w_c^H`` to ``R_c >= 0``, the rank-one recovery (beams.recover_rank_one)
turns any feasible ``Sigma`` into a design with SINR ``h^H Sigma h / sigma_n^2`` and no interference,
and no split of ``Sigma`` does better. So the relaxation's optimum is one linear SDP in ``Sigma``:

    max  u^H Sigma_n u                         (u = h_c / |h_c|, Sigma = P_T Sigma_n)
    s.t. tr Sigma_n <= 1,  Sigma_n >= 0
         J_n(Sigma_n) - blkdiag(Omega, 0) >= 0                  (Omega <= Schur complement)
         [[X, I], [I, Omega]] >= 0                             (X >= Omega^-1)
         sum_i (w_i^2 / Pi) X_ii <= 1                          (tr HCRB <= Pi)

with the FIM of ``(o_x, o_y, bistatic range)`` normalised as in ``DesignProblem.normalised_fisher``
(the same position bound, but without the range/sync-error confounding that breaks conic solvers). This is the
global optimum of the
relaxation that docs/model.md's bisection on ``t`` over ``(R_c, R_0)`` finds, without the bisection: since
``SINR <= h^H R_c h / sigma_n^2 <= h^H Sigma h / sigma_n^2`` and the recovery attains it. (The
bisection form is also badly conditioned: the interference term ``h^H R_0 h`` is multiplied by the
MRT SNR, ~1e4 here, so solver-level PSD errors in ``R_0`` become fake SINR.) The tests compare this
solver with an independent CVXPY model of the constraint (``matrix_frac``). The problem is compiled
once with CVXPY parameters (DPP) and re-solved per frame.
"""

from __future__ import annotations

import warnings

import cvxpy as cp
import numpy as np

from .beams import (
    BeamDesign,
    BeamSolver,
    evaluate,
    hermitian_psd,
    least_sensing_scale,
    mrt_design,
    null_projection,
    recover_rank_one,
    streams_from_covariance,
)
from .compiled import lend
from .problem import DesignProblem

SOLVERS = ("CLARABEL", "SCS")
OK_STATUSES = (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)
INFEASIBLE_STATUSES = (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE)
PAIRS = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))


def solve_first_usable(problem: cp.Problem) -> tuple[str, str | None]:
    """Solve with the first of :data:`SOLVERS` that returns a usable status (optimal or infeasible, each
    possibly inaccurate); returns ``(status, solver name)``, or ``(what went wrong, None)``.

    An "optimal_inaccurate" status is accepted on purpose: every design is re-evaluated with the
    closed-form HCRB and power before it is called feasible (beams.evaluate). cvxpy's warning about it
    is silenced here, around the solve only, because it would clutter the CLI, the demo and the GNU
    Radio log at every frame. (``catch_warnings`` swaps the process-wide filter list: a thread that
    warns meanwhile may miss this one warning, and two overlapping solves can at worst leave this same
    filter installed.)

    No warm start: Clarabel is an interior-point method and has none (CVXPY's ``warm_start`` only makes it
    update the previous solver object in place, which makes the last digits depend on the frames solved
    before), and SCS's would make the fallback's answer depend on them too. Cold solves keep decisions a
    function of their inputs alone (tests/optim/test_fast_path.py); the saving is in the compiled DPP
    problem, whose re-solve skips CVXPY's canonicalisation.

    Args:
        problem: a compiled CVXPY problem.
    """
    last = "not solved"
    for name in SOLVERS:
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Solution may be inaccurate", category=UserWarning)
                problem.solve(solver=name, warm_start=False)
        except Exception as exc:  # noqa: BLE001 - Clarabel raises a bare Exception on bad data; try the next
            last = f"{name}: {exc}"
            continue
        if problem.status in OK_STATUSES or problem.status in INFEASIBLE_STATUSES:
            return problem.status, name
        last = f"{name}: {problem.status}"
    return last, None


def hermitian_trace_rows(matrices: np.ndarray) -> np.ndarray:
    """Rows ``r_k`` with ``Re tr(A_k S) = r_k . [vec Re S; vec Im S]`` for every Hermitian ``S`` (``vec`` in
    row-major order): ``Re tr(A S) = sum_ij Re A_ji Re S_ij - Im A_ji Im S_ij``.

    The compiled SDP takes its data through these real rows: CVXPY only caches the canonicalisation of a
    DPP problem (re-solves then skip it) when every parameter is real; a complex parameter makes it
    evaluate the parameters and canonicalise again at every solve."""
    a = np.asarray(matrices, complex)
    a_t = np.swapaxes(a, -1, -2)
    lead = a.shape[:-2]
    return np.concatenate([a_t.real.reshape(lead + (-1,)), -a_t.imag.reshape(lead + (-1,))], axis=-1)


class _CompiledHcrbSdp:
    """The two SDPs over ``Sigma_n`` for one array size, built once with real parameters (DPP): after the
    first solve, a re-solve maps the parameters into the cached conic data and calls the solver, without
    canonicalising again (``problem.compilation_time`` drops from ~10 ms to ~1 ms, see docs/performance.md).

    The six FIM entries and the CRE gain are linear in ``[vec Re Sigma_n; vec Im Sigma_n]``
    (:func:`hermitian_trace_rows`): one 6 x 2n^2 parameter and one 2n^2 parameter carry them."""

    def __init__(self, n_tx: int):
        self.n_tx = n_tx
        self.sigma = cp.Variable((n_tx, n_tx), hermitian=True)
        self.omega = cp.Variable((2, 2), symmetric=True)
        self.x = cp.Variable((2, 2), symmetric=True)
        self.fim_rows = cp.Parameter((len(PAIRS), 2 * n_tx * n_tx), name="fim_rows")
        self.prior = cp.Parameter((3, 3), symmetric=True, name="prior")
        self.hcrb_weights = cp.Parameter(2, nonneg=True, name="hcrb_weights")
        self.comm_row = cp.Parameter(2 * n_tx * n_tx, name="comm_row")
        stacked = cp.hstack([cp.vec(cp.real(self.sigma), order="C"), cp.vec(cp.imag(self.sigma), order="C")])
        entries = self.fim_rows @ stacked
        j = {p: entries[k] for k, p in enumerate(PAIRS)}
        fim = (
            cp.bmat(
                [
                    [j[0, 0] - self.omega[0, 0], j[0, 1] - self.omega[0, 1], j[0, 2]],
                    [j[0, 1] - self.omega[0, 1], j[1, 1] - self.omega[1, 1], j[1, 2]],
                    [j[0, 2], j[1, 2], j[2, 2]],
                ]
            )
            + self.prior
        )
        eye = np.eye(2)
        inverse_bound = cp.bmat([[self.x, eye], [eye, self.omega]])
        weighted_trace = self.hcrb_weights[0] * self.x[0, 0] + self.hcrb_weights[1] * self.x[1, 1]
        common = [self.sigma >> 0, cp.real(cp.trace(self.sigma)) <= 1, fim >> 0, inverse_bound >> 0]
        self.max_sinr = cp.Problem(cp.Maximize(self.comm_row @ stacked), common + [weighted_trace <= 1])
        self.min_hcrb = cp.Problem(cp.Minimize(weighted_trace), common)

    def set_parameters(self, problem: DesignProblem, weight_scale: float):
        zeta_n, prior_n, weights = problem.normalised_fisher()
        self.fim_rows.value = hermitian_trace_rows(np.array([zeta_n[p] for p in PAIRS]))
        self.prior.value = prior_n
        self.hcrb_weights.value = weights[:2] ** 2 / weight_scale
        u = problem.h_c / np.linalg.norm(problem.h_c)
        self.comm_row.value = hermitian_trace_rows(np.outer(u, u.conj()))


def _compile_hcrb_sdp(problem: DesignProblem) -> _CompiledHcrbSdp:
    """Both SDPs for the problem's array size, canonicalised now, so that a later frame that needs the
    sensing-optimal SDP (fallback, feasibility repair) does not pay for it."""
    sdp = _CompiledHcrbSdp(problem.n_tx)
    sdp.set_parameters(problem, 1.0)
    for conic in (sdp.max_sinr, sdp.min_hcrb):
        try:
            conic.get_problem_data(SOLVERS[0])  # fills CVXPY's DPP cache; solve() then reuses it
        except Exception:  # noqa: BLE001 - the first solve will report it
            pass
    return sdp


class SdrBeamSolver(BeamSolver):
    """Exact beam design by the SDP above, with ``r_0`` sensing streams.

    Args:
        randomisations: Gaussian draws for ``r_0`` smaller than the rank the relaxation needs.
        seed: seed of those draws (decisions are reproducible).
    """

    name = "sdr"

    def __init__(self, randomisations: int = 24, seed: int = 0):
        self.randomisations = randomisations
        self.seed = seed
        self._compiled: dict[int, _CompiledHcrbSdp] = {}
        self.timing: dict = {}

    def _sdp(self, problem: DesignProblem) -> _CompiledHcrbSdp:
        """The compiled SDPs for the problem's array size (this solver's own, from the pool of
        :mod:`.compiled`)."""
        n_tx = problem.n_tx
        if n_tx not in self._compiled:
            self._compiled[n_tx] = lend(self, ("sdr", n_tx), lambda: _compile_hcrb_sdp(problem))
        return self._compiled[n_tx]

    def _solve(self, conic: cp.Problem) -> tuple[str, str | None]:
        """:func:`solve_first_usable`, adding CVXPY's compile time and the conic solver's time to
        ``self.timing`` (reported in ``info`` and by ``issc bench optimizer``)."""
        status, solver_used = solve_first_usable(conic)
        self.timing["solves"] = self.timing.get("solves", 0) + 1
        self.timing["compile_ms"] = self.timing.get("compile_ms", 0.0) + 1e3 * float(conic.compilation_time or 0.0)
        stats = conic.solver_stats
        solve_time = getattr(stats, "solve_time", None) if stats is not None else None
        self.timing["conic_ms"] = self.timing.get("conic_ms", 0.0) + 1e3 * float(solve_time or 0.0)
        return status, solver_used

    def design(self, problem: DesignProblem) -> BeamDesign:
        self.timing = {}
        design = super().design(problem)
        design.info["sdp"] = dict(self.timing)
        return design

    # -- public --------------------------------------------------------------------------------------
    def sensing_optimal(self, problem: DesignProblem):
        """``(Sigma, tr HCRB)`` of the covariance that minimises the HCRB under the power budget, or
        ``(None, inf)`` if the solvers fail."""
        sdp = self._sdp(problem)
        _, _, weights = problem.normalised_fisher()
        scale = float(weights[0] ** 2 + weights[1] ** 2)
        sdp.set_parameters(problem, scale)
        status, _ = self._solve(sdp.min_hcrb)
        if status not in OK_STATUSES:
            return None, float("inf")
        sigma = problem.power_w * hermitian_psd(sdp.sigma.value)
        return sigma, problem.hcrb_trace(sigma)

    # -- internals ------------------------------------------------------------------------------------
    def _design(self, problem: DesignProblem) -> BeamDesign:
        pi = problem.hcrb_threshold_m2
        if not pi > 0:
            return self._infeasible(problem, "the HCRB threshold Pi must be > 0 m^2")
        mrt = mrt_design(problem, self.name)
        if mrt.feasible:
            # the HCRB constraint is inactive: MRT is optimal (SINR = P |h|^2 / sigma_n^2 is the upper bound)
            mrt.info["active_constraint"] = "power"
            return mrt
        sdp = self._sdp(problem)
        # a hair inside the threshold so that solver tolerance cannot push the result past Pi
        sdp.set_parameters(problem, pi * (1 - 1e-6))
        status, solver_used = self._solve(sdp.max_sinr)
        if status in INFEASIBLE_STATUSES:
            return self._infeasible(
                problem, f"no covariance within the power budget meets the HCRB threshold Pi = {pi:g} m^2"
            )
        if status not in OK_STATUSES:
            return self._infeasible(problem, f"conic solvers failed ({status})")
        sigma = problem.power_w * hermitian_psd(sdp.sigma.value)
        sigma = self._restore_feasibility(problem, sigma)
        if sigma is None:
            return self._infeasible(problem, "the relaxation's solution could not be made feasible")
        bound_sinr = float(np.real(problem.h_c.conj() @ sigma @ problem.h_c)) / problem.comm_noise_w
        w_c, r_0_cov = recover_rank_one(sigma, problem.h_c)
        w_0, rank = streams_from_covariance(r_0_cov, problem.sensing_streams)
        info = {"conic_solver": solver_used, "sensing_rank": rank, "active_constraint": "hcrb"}
        if rank <= problem.sensing_streams:
            return evaluate(problem, w_c, w_0, self.name, bound_sinr=bound_sinr, info=info)
        return self._reduce_streams(problem, w_c, r_0_cov, bound_sinr, info)

    def _restore_feasibility(self, problem: DesignProblem, sigma: np.ndarray):
        """Scale into the power budget, then, if solver tolerance left tr HCRB above Pi, mix with the
        sensing-optimal covariance (tr HCRB is convex in Sigma, so a mix that meets Pi exists)."""
        power = float(np.trace(sigma).real)
        if power > problem.power_w:
            sigma = sigma * (problem.power_w / power)
        pi = problem.hcrb_threshold_m2
        if problem.hcrb_trace(sigma) <= pi:
            return sigma
        best, best_hcrb = self.sensing_optimal(problem)
        if best is None or best_hcrb > pi:
            return None
        lo, hi = 0.0, 1.0
        for _ in range(50):
            mid = 0.5 * (lo + hi)
            if problem.hcrb_trace((1 - mid) * sigma + mid * best) <= pi:
                hi = mid
            else:
                lo = mid
        return (1 - hi) * sigma + hi * best

    def _reduce_streams(self, problem: DesignProblem, w_c, r_0_cov, bound_sinr, info) -> BeamDesign:
        """Gaussian randomisation: fewer sensing streams than the relaxation's ``R_0`` needs. Each
        candidate sensing matrix (the truncation, random draws from ``CN(0, R_0)``, and their projections
        onto the CRE's null space) gets the least power that meets the HCRB; the best SINR wins."""
        rng = np.random.default_rng(self.seed)
        streams = problem.sensing_streams
        truncated, _ = streams_from_covariance(r_0_cov, streams)
        root, _ = streams_from_covariance(r_0_cov, problem.n_tx)
        candidates = [truncated]
        for _ in range(self.randomisations):
            draw = (
                root
                @ (rng.standard_normal((problem.n_tx, streams)) + 1j * rng.standard_normal((problem.n_tx, streams)))
                / np.sqrt(2)
            )
            candidates.append(draw)
        null = null_projection(problem.h_c)
        # interference-free versions first: they usually attain the bound at once
        candidates = [null @ c for c in candidates] + candidates
        u_c = w_c / np.linalg.norm(w_c) if np.linalg.norm(w_c) > 0 else problem.h_c / np.linalg.norm(problem.h_c)
        best = None
        for cand in candidates:
            t = least_sensing_scale(problem, u_c, cand)
            if t is None:
                continue
            w_0 = np.sqrt(t) * cand
            p_c = problem.power_w - float(np.sum(np.abs(w_0) ** 2))
            design = evaluate(
                problem,
                np.sqrt(max(p_c, 0.0)) * u_c,
                w_0,
                self.name,
                bound_sinr=bound_sinr,
                info=dict(info, randomised=True),
            )
            if design.feasible and (best is None or design.sinr > best.sinr):
                best = design
                if best.sinr >= bound_sinr * (1 - 1e-6):
                    break  # attains the relaxation bound: nothing can do better
        if best is None:
            return self._infeasible(
                problem,
                f"no rank-{streams} sensing beam found that meets the HCRB "
                f"(the relaxation needs rank {info['sensing_rank']}); "
                "allow more sensing streams",
            )
        return best

    def _infeasible(self, problem: DesignProblem, reason: str) -> BeamDesign:
        """The documented fallback: the sensing-optimal covariance (least tr HCRB), with ``w_c``
        recovered from it, flagged infeasible with the reason."""
        sigma, _ = self.sensing_optimal(problem) if problem.hcrb_threshold_m2 >= 0 else (None, None)
        if sigma is None:
            fallback = mrt_design(problem, self.name)
            fallback.feasible, fallback.reason = False, reason + "; fallback: MRT (sensing SDP failed)"
            return fallback
        w_c, r_0_cov = recover_rank_one(sigma, problem.h_c)
        w_0, _ = streams_from_covariance(r_0_cov, problem.sensing_streams)
        design = evaluate(problem, w_c, w_0, self.name, reason=reason + "; fallback: sensing-optimal beam")
        design.feasible = False
        return design
