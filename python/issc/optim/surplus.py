# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sensing from the SINR surplus: the second stage of the ``sdr`` decision (docs/optimizer.md).

Stage 1 (:class:`~gnuradio.issc.optim.sdr.SdrBeamSolver`) maximises the CRE SINR ``s1`` under
``tr HCRB <= Pi``; the rate module then picks the model ``m`` and code rate ``R`` with the least predicted
distortion ``D1`` at ``s1``. When the codec family saturates (the best model that fits the channel-use
budget is already chosen), ``(m, R)`` reaches ``D1`` at an SINR well below ``s1``: the rest is surplus.
Stage 2 keeps ``(m, R)`` and spends the surplus on sensing:

1. :func:`required_sinr`: the least SINR ``s_req`` with ``D_{m,R}(s_req) <= D1 (1 + rel_tol)`` (bisection in
   dB; ``D`` is the decision's own distortion function of ``(m, R)``, so whatever margin it builds in,
   e.g. an expectation over the link's SINR spread, is kept).
2. :class:`SurplusSolver`: ``min tr HCRB`` subject to ``SINR >= s_req`` and the power budget. By the same
   argument as stage 1 (beams.recover_rank_one) the SINR of any covariance ``Sigma`` is attained as
   ``h^H Sigma h / sigma_n^2`` without interference, so the problem is the linear SDP

       min  sum_i (w_i^2 / s) X_ii
       s.t. tr Sigma_n <= 1, Sigma_n >= 0, the HCRB LMIs of stage 1,
            u^H Sigma_n u >= s_req sigma_n^2 / (P_T |h_c|^2)

   (its optimum is a lower bound on ``tr HCRB`` of any design meeting ``s_req``, and it is attained). With
   ``r_0`` sensing streams the covariance must have rank ``<= r_0 + 1``: :func:`reduce_rank` moves the
   solution, keeping the six FIM entries, the CRE gain and the power (so ``tr HCRB`` and the SINR), to an
   extreme point of rank ``r`` with ``r^2 <= 8`` (``r <= 2``: rank one ``R_0`` for every ``N_T``), so one
   sensing stream attains the relaxation's bound. Every result is re-evaluated in closed form; stage 2
   is kept only if it meets ``Pi``, the budget and ``s_req`` and lowers ``tr HCRB``, otherwise stage 1 stays.
"""

from __future__ import annotations

import math

import cvxpy as cp
import numpy as np

from ..units import lin_to_db
from .beams import BeamDesign, evaluate, hermitian_psd, recover_rank_one, streams_from_covariance
from .compiled import lend
from .problem import DesignProblem
from .sdr import OK_STATUSES, PAIRS, SOLVERS, _CompiledHcrbSdp, solve_first_usable

# D(s_req) <= D1 (1 + REL_TOL): 1e-3 of the distortion (for MS-SSIM, 1 - MS-SSIM = 0.08 gives up 8e-5)
REL_TOL = 1e-3
# the bisection's range below s1 and its resolution
SEARCH_DB = 60.0
BISECTION_STEPS = 32
# relative margin on the SDP's SINR constraint, so that solver tolerance does not end below s_req
SINR_MARGIN = 1e-6
RANK_TOL = 1e-9


def required_sinr(distortion, sinr_1: float, rel_tol: float = REL_TOL) -> float:
    """The least SINR (linear) at which ``distortion`` is within ``rel_tol`` of its value at ``sinr_1``.

    Bisection in dB over ``[sinr_1 / 10^6, sinr_1]``, keeping the upper end feasible, so the result always
    meets ``distortion(s) <= distortion(sinr_1) (1 + rel_tol)`` (exact for a distortion that falls with the
    SINR, as every model's does). Returns ``sinr_1`` when it is not positive or the distortion not finite.

    Args:
        distortion: the predicted distortion (linear, > 0) as a function of the SINR (linear).
        sinr_1: the SINR of the stage-1 design.
        rel_tol: the tolerance relative to ``distortion(sinr_1)``.
    """
    if not (sinr_1 > 0 and math.isfinite(sinr_1)):
        return sinr_1
    d_1 = float(distortion(sinr_1))
    if not math.isfinite(d_1):
        return sinr_1
    target = d_1 * (1.0 + rel_tol) if d_1 >= 0 else d_1 * (1.0 - rel_tol)

    def meets(db):
        value = float(distortion(10.0 ** (db / 10.0)))
        return math.isfinite(value) and value <= target

    hi = float(lin_to_db(sinr_1))
    lo = hi - SEARCH_DB
    if meets(lo):
        return 10.0 ** (lo / 10.0)
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        if meets(mid):
            hi = mid
        else:
            lo = mid
    return min(10.0 ** (hi / 10.0), sinr_1)


def constraint_matrices(problem: DesignProblem) -> list[np.ndarray]:
    """Hermitian ``A_k`` with ``tr(A_k Sigma)`` the six FIM entries' data parts, the CRE gain ``h^H Sigma h``
    and the power ``tr Sigma``: a covariance with the same eight values has the same ``tr HCRB``, SINR
    and power (the FIM is ``Re tr(zeta_ab Sigma)`` plus the prior)."""
    zeta = problem.fisher.zeta
    mats = [0.5 * (zeta[a, b] + zeta[a, b].conj().T) for a, b in PAIRS]
    mats.append(np.outer(problem.h_c, problem.h_c.conj()))
    mats.append(np.eye(problem.n_tx, dtype=complex))
    # unit scale per constraint: only their null space matters
    return [m / max(float(np.abs(m).max()), np.finfo(float).tiny) for m in mats]


def _hermitian_basis(r: int) -> list[np.ndarray]:
    """A real basis of the ``r x r`` Hermitian matrices (``r^2`` elements)."""
    basis = []
    for i in range(r):
        e = np.zeros((r, r), complex)
        e[i, i] = 1
        basis.append(e)
        for j in range(i + 1, r):
            e = np.zeros((r, r), complex)
            e[i, j] = e[j, i] = 1
            basis.append(e)
            e = np.zeros((r, r), complex)
            e[i, j], e[j, i] = 1j, -1j
            basis.append(e)
    return basis


def reduce_rank(sigma: np.ndarray, matrices, target_rank: int) -> np.ndarray:
    """A PSD matrix of rank ``<= max(target_rank, r*)`` with the same ``tr(A_k Sigma)`` for every ``A_k``
    of ``matrices``, where ``r*`` is the least ``r`` with ``r^2 > len(matrices)`` minus one (the rank-reduction
    step of Pataki / Huang-Palomar): write ``Sigma = V V^H`` (rank ``r``); if ``r^2 > m`` some Hermitian
    ``Delta != 0`` has ``tr(V^H A_k V Delta) = 0`` for all ``k``; ``V (I - Delta / lambda_max) V^H`` keeps the
    values, stays PSD and loses a rank. Repeated until the rank is ``target_rank`` or no ``Delta`` is left.

    Args:
        sigma: the PSD matrix.
        matrices: Hermitian matrices whose traces against ``sigma`` are kept.
        target_rank: the rank wanted.
    """
    eig, vec = np.linalg.eigh(hermitian_psd(sigma))
    top = max(float(eig.max()), 0.0)
    keep = eig > RANK_TOL * top
    v = vec[:, keep] * np.sqrt(eig[keep])
    while v.shape[1] > target_rank:
        r = v.shape[1]
        basis = _hermitian_basis(r)
        reduced = [v.conj().T @ a @ v for a in matrices]
        m = np.array([[np.real(np.trace(b @ e)) for e in basis] for b in reduced])
        _, sv, vt = np.linalg.svd(m)
        rank_m = int(np.sum(sv > 1e-12 * max(float(sv.max(initial=0.0)), np.finfo(float).tiny)))
        if rank_m >= r * r:
            break  # no direction keeps all values
        coeffs = vt[-1]
        delta = sum(c * e for c, e in zip(coeffs, basis))
        lam = np.linalg.eigvalsh(delta)
        if abs(lam[0]) > abs(lam[-1]):
            delta, lam = -delta, -lam[::-1]
        if not lam[-1] > 0:
            break
        eig_r, vec_r = np.linalg.eigh(np.eye(r) - delta / lam[-1])
        # drop the zeroed direction (and any other the step zeroed)
        keep = eig_r > RANK_TOL * max(float(eig_r.max()), np.finfo(float).tiny)
        v = v @ (vec_r[:, keep] * np.sqrt(eig_r[keep]))
    return v @ v.conj().T


class _CompiledSurplusSdp(_CompiledHcrbSdp):
    """Stage 1's compiled model (:class:`~gnuradio.issc.optim.sdr._CompiledHcrbSdp`, real DPP parameters) plus
    the stage-2 problem: stage 1's sensing-optimal SDP with the CRE gain bounded below by a parameter."""

    def __init__(self, n_tx: int):
        super().__init__(n_tx)
        self.min_gain = cp.Parameter(nonneg=True, name="min_gain")
        gain = self.max_sinr.objective.expr  # u^H Sigma_n u through the real comm_row
        self.min_hcrb_at_sinr = cp.Problem(self.min_hcrb.objective, self.min_hcrb.constraints + [gain >= self.min_gain])


def _compile_surplus_sdp(problem: DesignProblem) -> _CompiledSurplusSdp:
    sdp = _CompiledSurplusSdp(problem.n_tx)
    sdp.set_parameters(problem, 1.0)
    sdp.min_gain.value = 0.0
    try:
        sdp.min_hcrb_at_sinr.get_problem_data(SOLVERS[0])  # fills CVXPY's DPP cache
    except Exception:  # noqa: BLE001 - the first solve will report it
        pass
    return sdp


class SurplusSolver:
    """Stage 2: the design with the least ``tr HCRB`` that still gives the CRE ``s_req``, with the SDP
    compiled once per array size (real DPP parameters, as stage 1's)."""

    def __init__(self):
        self._compiled: dict[int, _CompiledSurplusSdp] = {}

    def _sdp(self, problem: DesignProblem) -> _CompiledSurplusSdp:
        n_tx = problem.n_tx
        if n_tx not in self._compiled:
            self._compiled[n_tx] = lend(self, ("surplus", n_tx), lambda: _compile_surplus_sdp(problem))
        return self._compiled[n_tx]

    def design(self, problem: DesignProblem, stage1: BeamDesign, sinr_required: float) -> BeamDesign:
        """The stage-2 design, or ``stage1`` itself (with the reason in ``info['surplus']``) when stage 2
        fails its checks or does not lower ``tr HCRB``.

        Args:
            problem: the frame's problem.
            stage1: the stage-1 design (feasible, SINR ``>= sinr_required``).
            sinr_required: ``s_req`` (linear).
        """
        report = {
            "stage1_hcrb_trace": stage1.hcrb_trace,
            "stage1_sinr_db": stage1.sinr_db,
            "required_sinr_db": float(lin_to_db(sinr_required)) if sinr_required > 0 else None,
        }

        def keep_stage1(why: str) -> BeamDesign:
            stage1.info["surplus"] = dict(report, applied=False, why=why)
            return stage1

        if not stage1.feasible:
            return keep_stage1("stage 1 is infeasible")
        if not (sinr_required > 0 and math.isfinite(sinr_required)):
            return keep_stage1("no positive required SINR")
        if sinr_required >= stage1.sinr * (1 - 1e-9):
            return keep_stage1("no SINR surplus")
        gain_scale = problem.power_w * float(np.linalg.norm(problem.h_c) ** 2) / problem.comm_noise_w
        min_gain = sinr_required * (1 + SINR_MARGIN) / gain_scale
        if min_gain > 1:
            return keep_stage1("the required SINR is above the MRT SNR")
        sdp = self._sdp(problem)
        _, _, weights = problem.normalised_fisher()
        scale = float(weights[0] ** 2 + weights[1] ** 2)
        sdp.set_parameters(problem, scale)
        sdp.min_gain.value = min_gain
        status, solver_used = solve_first_usable(sdp.min_hcrb_at_sinr)
        if status not in OK_STATUSES:
            return keep_stage1(f"conic solvers failed ({status})")
        report["conic_solver"] = solver_used
        report["bound_hcrb_trace"] = float(sdp.min_hcrb_at_sinr.value) * scale
        sigma = problem.power_w * hermitian_psd(sdp.sigma.value)
        power = float(np.trace(sigma).real)
        if power > problem.power_w:
            sigma = sigma * (problem.power_w / power)
        sigma = self._restore_sinr(problem, sigma, stage1, sinr_required)
        sigma = reduce_rank(sigma, constraint_matrices(problem), problem.sensing_streams + 1)
        w_c, r_0_cov = recover_rank_one(sigma, problem.h_c)
        w_0, _ = streams_from_covariance(r_0_cov, problem.sensing_streams)
        # R_0's rank at the solver's precision (1e-6 of the power): 0 when one beam does both jobs
        report["sensing_rank"] = int(np.sum(np.linalg.eigvalsh(r_0_cov) > 1e-6 * float(np.trace(sigma).real)))
        design = evaluate(problem, w_c, w_0, stage1.solver, bound_sinr=stage1.bound_sinr, info=dict(stage1.info))
        if not design.feasible:
            return keep_stage1(f"stage 2 failed its check: {design.reason}")
        if design.sinr < sinr_required:
            return keep_stage1(f"stage 2's SINR {design.sinr_db:.4f} dB is below the required one")
        if not design.hcrb_trace < stage1.hcrb_trace:
            return keep_stage1("stage 2 does not lower tr HCRB")
        design.info["surplus"] = dict(report, applied=True)
        return design

    @staticmethod
    def _restore_sinr(problem: DesignProblem, sigma, stage1: BeamDesign, sinr_required: float):
        """If solver tolerance left the CRE gain below ``s_req``, mix with stage 1's covariance (its SINR is
        above ``s_req``; the gain is linear in ``Sigma``, ``tr HCRB`` convex, so the mix stays below ``Pi``)."""
        h = problem.h_c
        gain = float(np.real(h.conj() @ sigma @ h)) / problem.comm_noise_w
        if gain >= sinr_required * (1 + 0.5 * SINR_MARGIN):
            return sigma
        cov_1 = stage1.covariance
        gain_1 = float(np.real(h.conj() @ cov_1 @ h)) / problem.comm_noise_w
        target = sinr_required * (1 + 0.5 * SINR_MARGIN)
        mix = min(1.0, (target - gain) / max(gain_1 - gain, np.finfo(float).tiny))
        return (1 - mix) * sigma + mix * cov_1
