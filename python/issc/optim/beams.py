# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Beam designs and the operations on them that every solver shares: evaluation, the exact
rank-one recovery of ``w_c`` from a covariance, and reduction to ``r_0`` sensing streams."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..physics.hcrb import position_bound_from_fim
from ..units import lin_to_db
from .problem import DesignProblem

RANK_TOL = 1e-7


class BeamSolver:
    """Base of the beam solvers: :meth:`design` runs the solver's ``_design`` and records its wall time
    in ``info['solve_ms']`` (what ``issc bench optimizer`` reports)."""

    name = ""

    def design(self, problem: DesignProblem) -> BeamDesign:
        start = time.perf_counter()
        design = self._design(problem)
        design.info["solve_ms"] = 1e3 * (time.perf_counter() - start)
        return design

    def _design(self, problem: DesignProblem) -> BeamDesign:
        raise NotImplementedError


@dataclass
class BeamDesign:
    """One transmit design: ``x = w_c s_c + W_0 s_0`` (``W_0`` is ``N_T x r_0``).

    ``feasible`` says whether the HCRB and power constraints hold (re-evaluated in closed form);
    ``bound_sinr`` is the relaxation's optimal SINR where a solver has one.
    """

    w_c: np.ndarray
    w_0: np.ndarray
    sinr: float
    hcrb_trace: float
    power_w: float
    feasible: bool
    reason: str = ""
    bound_sinr: float | None = None
    solver: str = ""
    info: dict = field(default_factory=dict)

    @property
    def sinr_db(self) -> float:
        return float(lin_to_db(self.sinr)) if self.sinr > 0 else float("-inf")

    @property
    def covariance(self) -> np.ndarray:
        return np.outer(self.w_c, self.w_c.conj()) + self.w_0 @ self.w_0.conj().T


def evaluate(
    problem: DesignProblem,
    w_c,
    w_0,
    solver: str,
    bound_sinr=None,
    reason="",
    info=None,
    power_tol: float = 1e-6,
    hcrb_tol: float = 1e-4,
) -> BeamDesign:
    """Closed-form evaluation of a design against the problem's constraints."""
    w_c = np.asarray(w_c, complex)
    w_0 = np.asarray(w_0, complex).reshape(problem.n_tx, -1)
    sigma = np.outer(w_c, w_c.conj()) + w_0 @ w_0.conj().T
    power = float(np.trace(sigma).real)
    hcrb = problem.hcrb_trace(sigma)
    meets_power = power <= problem.power_w * (1 + power_tol)
    meets_hcrb = hcrb <= problem.hcrb_threshold_m2 * (1 + hcrb_tol)
    if not reason and not meets_power:
        reason = f"power {power:.6g} W exceeds the budget {problem.power_w:.6g} W"
    if not reason and not meets_hcrb:
        reason = f"tr HCRB {hcrb:.6g} m^2 exceeds the threshold {problem.hcrb_threshold_m2:.6g} m^2"
    return BeamDesign(
        w_c,
        w_0,
        problem.sinr(w_c, w_0),
        hcrb,
        power,
        bool(meets_power and meets_hcrb),
        reason,
        bound_sinr,
        solver,
        dict(info or {}),
    )


def hermitian_psd(matrix: np.ndarray) -> np.ndarray:
    """Nearest Hermitian PSD matrix (solver output has tiny negative eigenvalues)."""
    matrix = 0.5 * (matrix + matrix.conj().T)
    eig, vec = np.linalg.eigh(matrix)
    return (vec * np.maximum(eig, 0.0)) @ vec.conj().T


def recover_rank_one(sigma: np.ndarray, h: np.ndarray):
    """Exact split ``Sigma = w_c w_c^H + R_0`` with ``w_c = Sigma h / sqrt(h^H Sigma h)``.

    ``R_0`` is PSD and invisible to the CRE (``h^H R_0 h = 0``), so the SINR is ``h^H Sigma h / sigma_n^2``,
    the most any split of ``Sigma`` can give (docs/model.md §7).
    """
    gain = float(np.real(h.conj() @ sigma @ h))
    if gain <= 0:
        return np.zeros(len(h), complex), hermitian_psd(sigma)
    w_c = sigma @ h / np.sqrt(gain)
    return w_c, hermitian_psd(sigma - np.outer(w_c, w_c.conj()))


def streams_from_covariance(r_0_cov: np.ndarray, streams: int) -> tuple[np.ndarray, int]:
    """``W_0`` (``N_T x streams``) with ``W_0 W_0^H`` the best rank-``streams`` part of ``R_0``,
    and the numerical rank of ``R_0`` (exact when that rank is at most ``streams``)."""
    eig, vec = np.linalg.eigh(hermitian_psd(r_0_cov))
    order = np.argsort(eig)[::-1]
    eig, vec = eig[order], vec[:, order]
    top = max(float(eig[0]), 0.0)
    rank = int(np.sum(eig > RANK_TOL * max(top, np.finfo(float).tiny))) if top > 0 else 0
    w_0 = vec[:, :streams] * np.sqrt(np.maximum(eig[:streams], 0.0))
    return w_0, rank


def null_projection(h: np.ndarray) -> np.ndarray:
    """Projector onto the subspace the CRE does not see (``h^H P = 0``)."""
    n = len(h)
    norm2 = float(np.real(np.vdot(h, h)))
    if norm2 == 0:
        return np.eye(n, dtype=complex)
    return np.eye(n, dtype=complex) - np.outer(h, h.conj()) / norm2


def least_sensing_scale(
    problem: DesignProblem, comm_dir: np.ndarray, sensing: np.ndarray, grid_points: int = 96, refine_steps: int = 48
):
    """For ``x = sqrt(P - t |S|^2) u s_c + sqrt(t) S s_0`` (all power used), the smallest ``t`` that meets
    the HCRB threshold, or None. ``comm_dir`` is a unit vector, ``sensing`` an ``N_T x r`` matrix.

    The FIM is linear in ``Sigma``, so each candidate ``t`` costs a 3x3 evaluation. ``tr HCRB(t)`` need
    not be monotone, so a grid finds the first feasible cell and bisection refines it.
    """
    fisher = problem.fisher
    sensing = np.asarray(sensing, complex).reshape(problem.n_tx, -1)
    sensing_power = float(np.sum(np.abs(sensing) ** 2))
    if sensing_power <= 0:
        return None
    t_max = problem.power_w / sensing_power
    j_comm = fisher.data_fim(np.outer(comm_dir, comm_dir.conj()))
    j_sens = fisher.data_fim(sensing @ sensing.conj().T)
    prior = np.diag([0.0, 0.0, fisher.prior_information])

    def hcrb_at(t):
        fim = (problem.power_w - t * sensing_power) * j_comm + t * j_sens + prior
        # the same bound and identifiability test as problem.hcrb_trace, which evaluate() applies
        return float(np.trace(position_bound_from_fim(fim)))

    pi = problem.hcrb_threshold_m2
    return least_feasible(lambda t: hcrb_at(t) <= pi, t_max, grid_points, refine_steps)


def least_feasible(feasible, upper: float, grid_points: int = 96, refine_steps: int = 48):
    """The smallest ``t`` in ``[0, upper]`` with ``feasible(t)``, or None: the first feasible point of a
    uniform grid, refined by bisection against the grid point before it. For sensing scales, where
    ``tr HCRB(t)`` need not be monotone (a grid, not bisection alone, finds the first feasible cell).

    Args:
        feasible: predicate of ``t``.
        upper: the largest ``t``.
        grid_points: points of the grid over ``[0, upper]``.
        refine_steps: bisection steps inside the first feasible cell.
    """
    grid = np.linspace(0.0, upper, grid_points)
    # the first feasible grid point, evaluated lazily (the points after it are never needed)
    first = next((k for k, t in enumerate(grid) if feasible(t)), None)
    if first is None:
        return None
    if first == 0:
        return 0.0
    lo, hi = grid[first - 1], grid[first]
    for _ in range(refine_steps):
        mid = 0.5 * (lo + hi)
        if feasible(mid):
            hi = mid
        else:
            lo = mid
    return hi


def mrt_design(problem: DesignProblem, solver: str) -> BeamDesign:
    """All power on the CRE (no sensing stream); feasible if the MRT beam alone meets the HCRB."""
    h = problem.h_c
    w_c = np.sqrt(problem.power_w) * h / np.linalg.norm(h)
    return evaluate(
        problem, w_c, np.zeros((problem.n_tx, problem.sensing_streams), complex), solver, bound_sinr=problem.mrt_snr
    )


def widened_sensing_design(problem: DesignProblem, design: BeamDesign, antennas: int) -> BeamDesign:
    """``design`` with its sensing beams replaced by one wider beam at the same sensing power: the first
    ``antennas`` elements of the ULA steered at the problem's target (a sub-array beam is
    ``N_T / antennas`` times wider), the other streams silent. Used while a track is lost, when the
    target may be anywhere in a region wider than the designed beam."""
    if not 1 <= antennas <= problem.n_tx:
        raise ValueError(f"antennas must be in [1, {problem.n_tx}], got {antennas}")
    g = problem.geometry
    sensing_power = float(np.linalg.norm(design.w_0) ** 2)
    beam = g.a_tx(g.theta) * (np.arange(problem.n_tx) < antennas)
    w_0 = np.zeros((problem.n_tx, design.w_0.shape[1]), complex)
    w_0[:, 0] = np.sqrt(sensing_power / antennas) * beam
    widened = evaluate(
        problem,
        design.w_c,
        w_0,
        design.solver,
        bound_sinr=design.bound_sinr,
        info={**design.info, "widened_antennas": antennas},
    )
    widened.reason = "; ".join(r for r in (design.reason, widened.reason) if r)
    return widened
