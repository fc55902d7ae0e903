# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The paper's beam algorithm ("paper" solver, ISSC paper Sec. IV-B, P4.5-P4.9), kept for reproduction.

Rank-one beams ``w_c``, ``w_0``. Fractional programming turns the SINR into
``S(y, w) = 2 Re(y h^H w_c) - |y|^2 (|h^H w_0|^2 + sigma_n^2)`` (eq. 34); the HCRB constraint is
written with auxiliary FIM entries ``Gamma_j = f_j(w) = Re tr(zeta_j Sigma)`` (eq. 39-40) and the
coupling ``Gamma_j = f_j(w)`` is moved into the objective as a penalty ``(1/2 kappa) sum_j |f_j - Gamma_j|^2``
(P4.7). Alternating optimisation:

1. FP update ``y = (h^H w_c)^* / (|h^H w_0|^2 + sigma_n^2)`` (closed form);
2. (P4.8) given ``w``: the SDP in ``(Omega, Gamma)``: ``min sum_j (f_j(w) - Gamma_j)^2`` s.t. the Schur
   LMI (39) on ``Gamma`` and ``tr Omega^-1 <= Pi`` (35);
3. (P4.9) given ``(y, Gamma)``: SCA on ``w``: ``f_j`` linearised at the current point (the role of the
   paper's ``G_j``, eq. 48), a convex QCQP under the power budget, plus a small proximal term;
4. ``kappa <- iota kappa``.

Deviations, documented: the ``Gamma_j`` are real (only ``Re f_j`` enters the FIM, so an imaginary part
would be set equal to ``Im f_j`` and play no role); the code rate uses the exact 1-D choice
(optim.rate) instead of the paper's SCA (P4.3-P4.4), which converges to the same 1-D optimum. Stopping
rules: at most ``max_iterations`` rounds; stop earlier when the SINR changes by less than ``rtol``
relative and every ``|f_j - Gamma_j|`` is below ``penalty_tol`` (normalised units). The result is then
re-evaluated in closed form and, if the penalty left ``tr HCRB`` above ``Pi``, the power split between
the two final beam directions is repaired (least sensing power that meets ``Pi``).
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np

from .beams import BeamDesign, BeamSolver, evaluate, least_sensing_scale, mrt_design
from .compiled import lend
from .problem import DesignProblem
from .sdr import OK_STATUSES, PAIRS, solve_first_usable
from .zfwf import ZfWfBeamSolver


class _PaperSubproblems:
    """(P4.8) and (P4.9) for one array size, compiled once."""

    def __init__(self, n_tx: int, prox: float):
        n = 2 * n_tx  # stacked w = [w_c; w_0]
        self.timing: dict = {}
        # P4.8: (Omega, Gamma) given f(w)
        self.f_now = cp.Parameter(6, name="f_now")
        self.prior = cp.Parameter((3, 3), symmetric=True, name="prior")
        self.hcrb_weights = cp.Parameter(2, nonneg=True, name="hcrb_weights")
        self.gamma = cp.Variable(6)
        self.omega = cp.Variable((2, 2), symmetric=True)
        self.x = cp.Variable((2, 2), symmetric=True)
        g = dict(zip(PAIRS, [self.gamma[i] for i in range(6)]))
        fim = (
            cp.bmat(
                [
                    [g[0, 0] - self.omega[0, 0], g[0, 1] - self.omega[0, 1], g[0, 2]],
                    [g[0, 1] - self.omega[0, 1], g[1, 1] - self.omega[1, 1], g[1, 2]],
                    [g[0, 2], g[1, 2], g[2, 2]],
                ]
            )
            + self.prior
        )
        eye = np.eye(2)
        self.p48 = cp.Problem(
            cp.Minimize(cp.sum_squares(self.gamma - self.f_now)),
            [
                fim >> 0,
                cp.bmat([[self.x, eye], [eye, self.omega]]) >> 0,
                self.hcrb_weights[0] * self.x[0, 0] + self.hcrb_weights[1] * self.x[1, 1] <= 1,
            ],
        )
        # P4.9: w given (y, Gamma) and the linearisation point. Weights are folded into the parameters
        # (square roots where they multiply a square) so that the problem stays DPP and compiles once.
        # The complex w is carried as v = [Re w; Im w] and every parameter is real: CVXPY canonicalises a
        # problem with a complex parameter again at every solve (no DPP cache), a real one only once.
        # For complex a, b: Re(a^H b) = [Re a; Im a] . [Re b; Im b], |a^H b|^2 = |[[Re a, Im a],
        # [-Im a, Re a]] [Re b; Im b]|^2, and Re(r b) = [Re r, -Im r] . [Re b; Im b] for a row r.
        self.v = cp.Variable(2 * n)
        self.y_times_u = cp.Parameter(2 * n_tx, name="y_u")  # realified y u: 2 Re((y u)^H w_c)
        self.scaled_u = cp.Parameter((2, 2 * n_tx), name="scaled_u")  # realified |y| sqrt(snr) u^H w_0
        self.lin_rows = cp.Parameter((6, 2 * n), name="lin_rows")  # sqrt(1/2kappa) Re((A_j w_i)^H w)
        self.lin_offset = cp.Parameter(6, name="lin_offset")  # sqrt(1/2kappa) (w_i^H A_j w_i + Gamma_j)
        self.prox_target = cp.Parameter(2 * n, name="prox_target")  # sqrt(prox) [Re w_i; Im w_i]
        self.prox_scale = float(np.sqrt(prox))
        self.n_tx = n_tx
        re_c, im_c = self.v[:n_tx], self.v[n : n + n_tx]
        re_0, im_0 = self.v[n_tx:n], self.v[n + n_tx :]
        fp_objective = 2 * (self.y_times_u @ cp.hstack([re_c, im_c])) - cp.sum_squares(
            self.scaled_u @ cp.hstack([re_0, im_0])
        )
        linearised = 2 * (self.lin_rows @ self.v) - self.lin_offset
        self.p49 = cp.Problem(
            cp.Minimize(
                -fp_objective + cp.sum_squares(linearised) + cp.sum_squares(self.prox_scale * self.v - self.prox_target)
            ),
            [cp.sum_squares(self.v) <= 1],
        )

    def set_p49(self, y_u: np.ndarray, scaled_u: np.ndarray, lin_rows: np.ndarray, prox_target: np.ndarray):
        """Set the P4.9 parameters from their complex values (``lin_offset`` is real and set directly)."""
        self.y_times_u.value = np.concatenate([y_u.real, y_u.imag])
        self.scaled_u.value = np.array(
            [np.concatenate([scaled_u.real, scaled_u.imag]), np.concatenate([-scaled_u.imag, scaled_u.real])]
        )
        self.lin_rows.value = np.concatenate([lin_rows.real, -lin_rows.imag], axis=1)
        self.prox_target.value = np.concatenate([prox_target.real, prox_target.imag])

    @property
    def w(self) -> np.ndarray | None:
        """The complex solution ``w`` of P4.9 (None before a successful solve)."""
        if self.v.value is None:
            return None
        half = len(self.v.value) // 2
        return self.v.value[:half] + 1j * self.v.value[half:]

    def solve(self, problem: cp.Problem):
        """The status of the first usable solve (:func:`~.sdr.solve_first_usable`), or "failed"; CVXPY's
        compile time and the conic solver's time are added to ``self.timing``."""
        status, solver = solve_first_usable(problem)
        self.timing["solves"] = self.timing.get("solves", 0) + 1
        self.timing["compile_ms"] = self.timing.get("compile_ms", 0.0) + 1e3 * float(problem.compilation_time or 0.0)
        stats = problem.solver_stats
        solve_time = getattr(stats, "solve_time", None) if stats is not None else None
        self.timing["conic_ms"] = self.timing.get("conic_ms", 0.0) + 1e3 * float(solve_time or 0.0)
        return status if solver is not None else "failed"


class PaperAoBeamSolver(BeamSolver):
    """The paper's AO (FP + penalty SCA). See the module docstring for the algorithm and stopping rules.

    Args:
        max_iterations: AO rounds at most.
        kappa0: initial penalty parameter ``kappa``.
        iota: factor by which ``kappa`` shrinks each round (``0 < iota < 1``).
        rtol: relative SINR change that counts as converged.
        penalty_tol: largest ``|f_j - Gamma_j|`` (normalised FIM units) that counts as converged.
        prox: weight of the proximal term that keeps SCA steps small.
    """

    name = "paper"

    def __init__(
        self,
        max_iterations: int = 60,
        kappa0: float = 1.0,
        iota: float = 0.7,
        rtol: float = 1e-5,
        penalty_tol: float = 1e-6,
        prox: float = 1e-3,
    ):
        self.max_iterations = max_iterations
        self.kappa0, self.iota = kappa0, iota
        self.rtol, self.penalty_tol, self.prox = rtol, penalty_tol, prox
        self._compiled: dict[int, _PaperSubproblems] = {}
        self._timing: dict | None = None

    def design(self, problem: DesignProblem) -> BeamDesign:
        self._timing = None
        design = super().design(problem)
        if self._timing is not None:
            design.info["sdp"] = dict(self._timing)
        return design

    def _design(self, problem: DesignProblem) -> BeamDesign:
        if not problem.hcrb_threshold_m2 > 0:
            return self._fallback(problem, "the HCRB threshold Pi must be > 0 m^2")
        mrt = mrt_design(problem, self.name)
        mrt.bound_sinr = None
        if mrt.feasible:
            return mrt
        n = problem.n_tx
        if n not in self._compiled:
            self._compiled[n] = lend(self, ("paper-ao", n, self.prox), lambda: _PaperSubproblems(n, self.prox))
        sub = self._compiled[n]
        sub.timing = self._timing = {}
        zeta_n, prior_n, weights = problem.normalised_fisher()
        # f_j(w) = Re tr(zeta_j Sigma_n) = w_c^H A_j w_c + w_0^H A_j w_0 with A_j the Hermitian part
        herm = [0.5 * (zeta_n[p] + zeta_n[p].conj().T) for p in PAIRS]
        stacked = [np.kron(np.eye(2), a) for a in herm]
        snr = problem.mrt_snr
        u = problem.h_c / np.linalg.norm(problem.h_c)
        sub.prior.value = prior_n
        sub.hcrb_weights.value = weights[:2] ** 2 / (problem.hcrb_threshold_m2 * (1 - 1e-6))

        w = self._initial_point(problem) / np.sqrt(problem.power_w)
        kappa, sinr_prev, iterations, converged = self.kappa0, None, 0, False
        gamma = np.array([np.real(w.conj() @ a @ w) for a in stacked])
        for iterations in range(1, self.max_iterations + 1):  # noqa: B007 (the count is reported after the loop)
            w_c, w_0 = w[:n], w[n:]
            interference = snr * abs(np.vdot(u, w_0)) ** 2 + 1.0
            y = np.vdot(u, w_c) / interference  # u^H w_c / (.), the FP auxiliary (conj handled below)
            f_now = np.array([np.real(w.conj() @ a @ w) for a in stacked])
            sub.f_now.value = f_now
            if sub.solve(sub.p48) in OK_STATUSES:
                gamma = sub.gamma.value.copy()
            # S = 2 Re(conj(y) u^H w_c) - |y|^2 (snr |u^H w_0|^2 + 1), maximised at y = u^H w_c / (.);
            # the parameter holds y u so that conj(param) @ w_c = conj(y) u^H w_c
            penalty_root = np.sqrt(1.0 / (2.0 * kappa))
            sub.set_p49(
                y * u,
                abs(y) * np.sqrt(snr) * u,
                penalty_root * np.array([(a @ w).conj() for a in stacked]),
                sub.prox_scale * w,
            )
            sub.lin_offset.value = penalty_root * (f_now + gamma)
            if sub.solve(sub.p49) in OK_STATUSES and sub.w is not None:
                w = sub.w.copy()
            w_c, w_0 = w[:n], w[n:]
            sinr = abs(np.vdot(u, w_c)) ** 2 * snr / (snr * abs(np.vdot(u, w_0)) ** 2 + 1.0)
            residual = np.max(np.abs(np.array([np.real(w.conj() @ a @ w) for a in stacked]) - gamma))
            if (
                sinr_prev is not None
                and abs(sinr - sinr_prev) <= self.rtol * max(sinr, 1e-12)
                and residual <= self.penalty_tol
            ):
                converged = True
                break
            sinr_prev = sinr
            kappa = max(kappa * self.iota, 1e-9)
        w_c = np.sqrt(problem.power_w) * w[:n]
        w_0_col = np.sqrt(problem.power_w) * w[n:]
        info = {"iterations": iterations, "converged": converged}
        w_0 = np.zeros((n, problem.sensing_streams), complex)
        w_0[:, 0] = w_0_col
        design = evaluate(problem, w_c, w_0, self.name, info=info)
        if design.feasible:
            return design
        return self._repair(problem, w_c, w_0_col, info)

    def _initial_point(self, problem: DesignProblem) -> np.ndarray:
        """The benchmark's zero-forcing design (feasible when one exists), else half power on MRT
        and half on the target."""
        zf = ZfWfBeamSolver().design(problem)
        if zf.feasible:
            return np.concatenate([zf.w_c, zf.w_0[:, 0]])
        g = problem.geometry
        steer = g.a_tx(g.theta) / np.sqrt(g.n_tx)
        u = problem.h_c / np.linalg.norm(problem.h_c)
        return np.sqrt(problem.power_w / 2) * np.concatenate([u, steer])

    def _repair(self, problem: DesignProblem, w_c, w_0_col, info) -> BeamDesign:
        """Keep the AO's two beam directions and give the sensing one the least power that meets Pi."""
        u_c = w_c / np.linalg.norm(w_c) if np.linalg.norm(w_c) > 0 else problem.h_c / np.linalg.norm(problem.h_c)
        v = (
            w_0_col / np.linalg.norm(w_0_col)
            if np.linalg.norm(w_0_col) > 0
            else problem.geometry.a_tx(problem.geometry.theta) / np.sqrt(problem.n_tx)
        )
        t = least_sensing_scale(problem, u_c, v)
        if t is None:
            return self._fallback(
                problem,
                f"the AO ended infeasible and no power split of its beams meets Pi = {problem.hcrb_threshold_m2:g} m^2",
            )
        w_0 = np.zeros((problem.n_tx, problem.sensing_streams), complex)
        w_0[:, 0] = np.sqrt(t) * v
        return evaluate(
            problem, np.sqrt(max(problem.power_w - t, 0.0)) * u_c, w_0, self.name, info=dict(info, repaired=True)
        )

    def _fallback(self, problem: DesignProblem, reason: str) -> BeamDesign:
        design = ZfWfBeamSolver()._fallback(problem, reason)
        design.solver = self.name
        return design
