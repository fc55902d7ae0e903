# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The benchmark's beams ("zf-wf", docs/model.md §8, our reading of the paper's DJSCC-WF-ZF).

``w_c`` along ``h_c`` (MRT); the sensing beam is ``a_NT(theta)`` projected onto the null space of
``h_c`` (no interference at the CRE). Power: the least sensing power that meets ``Pi`` (found by a
grid and bisection, since ``tr HCRB`` need not fall monotonically once the MRT beam also lights the
target), the rest to communication. This is the one place that reading lives.
"""

from __future__ import annotations

import numpy as np

from .beams import BeamDesign, BeamSolver, evaluate, least_sensing_scale, mrt_design, null_projection
from .problem import DesignProblem

NULL_TOL = 1e-9


class ZfWfBeamSolver(BeamSolver):
    name = "zf-wf"

    def _design(self, problem: DesignProblem) -> BeamDesign:
        h = problem.h_c
        u_c = h / np.linalg.norm(h)
        if not problem.hcrb_threshold_m2 > 0:
            return self._fallback(problem, "the HCRB threshold Pi must be > 0 m^2")
        mrt = mrt_design(problem, self.name)
        mrt.bound_sinr = None
        if mrt.feasible:
            return mrt
        steer = null_projection(h) @ problem.geometry.a_tx(problem.geometry.theta)
        if np.linalg.norm(steer) <= NULL_TOL * np.sqrt(problem.n_tx):
            return self._fallback(
                problem,
                "the target lies in the CRE's direction: zero-forcing leaves "
                "no sensing beam, and MRT alone misses the HCRB threshold",
            )
        v = steer / np.linalg.norm(steer)
        t = least_sensing_scale(problem, u_c, v)
        if t is None:
            return self._fallback(
                problem,
                "even all power on the zero-forcing sensing beam misses the "
                f"HCRB threshold Pi = {problem.hcrb_threshold_m2:g} m^2",
            )
        w_0 = np.zeros((problem.n_tx, problem.sensing_streams), complex)
        w_0[:, 0] = np.sqrt(t) * v
        w_c = np.sqrt(max(problem.power_w - t, 0.0)) * u_c
        return evaluate(problem, w_c, w_0, self.name)

    def _fallback(self, problem: DesignProblem, reason: str) -> BeamDesign:
        """All power on the (zero-forced, if possible) sensing beam, flagged infeasible."""
        steer = null_projection(problem.h_c) @ problem.geometry.a_tx(problem.geometry.theta)
        if np.linalg.norm(steer) <= NULL_TOL * np.sqrt(problem.n_tx):
            steer = problem.geometry.a_tx(problem.geometry.theta)
        w_0 = np.zeros((problem.n_tx, problem.sensing_streams), complex)
        w_0[:, 0] = np.sqrt(problem.power_w) * steer / np.linalg.norm(steer)
        design = evaluate(
            problem,
            np.zeros(problem.n_tx, complex),
            w_0,
            self.name,
            reason=reason + "; fallback: all power on the sensing beam",
        )
        design.feasible = False
        return design
