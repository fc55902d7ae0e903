# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The compiled (DPP) fast paths of the optimiser against fresh, uncompiled CVXPY models built here from
the FIM in the original coordinates, against closed forms, and for warm/cold and repeated-solve agreement.
"""

import warnings

import cvxpy as cp
import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from gnuradio.issc.optim import Optimizer, compiled
from gnuradio.issc.optim.paper_ao import _PaperSubproblems
from gnuradio.issc.optim.problem import DesignProblem
from gnuradio.issc.optim.rate import GRID_POINTS, choose_code_rate
from gnuradio.issc.optim.sdr import SdrBeamSolver, hermitian_trace_rows
from gnuradio.issc.physics.ber import log10_ber

# (scenario, power dBm, Pi m^2): MRT-optimal, HCRB-active and infeasible points of both scenarios
GRID = [
    (scenario, p, pi)
    for scenario, powers, thresholds in (
        ("tradeoff", (18.0, 22.0, 26.0, 32.0), (5.0, 25.0, 40.0)),
        ("paper", (30.0, 36.0, 40.0), (100.0, 300.0, 1000.0)),
    )
    for p in powers
    for pi in thresholds
]


USABLE = (cp.OPTIMAL, cp.OPTIMAL_INACCURATE, cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE)


def _solve_reference(prob):
    """Clarabel with the default settings, then without chordal decomposition (see test_optim's
    REFERENCE_SETTINGS); the first usable status wins."""
    for settings in ({}, {"chordal_decomposition_enable": False}):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Solution may be inaccurate", category=UserWarning)
            prob.solve(solver="CLARABEL", **settings)
        if prob.status in USABLE:
            return prob.status
    return prob.status


def reference_sdp(problem, objective):
    """A fresh CVXPY model without parameters: the FIM ``J(Sigma)`` of ``(o_x, o_y, delta)`` built from
    ``FisherModel.zeta`` (complex constants), and ``tr HCRB <= Pi`` as one 5x5 LMI
    ``[[X, E^T], [E, J']] >= 0`` (``X >= E^T J'^-1 E``, the position block of the inverse) with ``tr X <= Pi``,
    instead of the fast path's Schur-complement pair. ``objective`` is "sinr" (max ``u^H Sigma u`` s.t. the
    HCRB) or "hcrb" (min ``tr X``).

    ``J' = T^-T J T^-1`` with ``T = [[I, 0], [g^T, 1]]`` is the FIM of ``(o_x, o_y, g.o + delta)`` with ``g``
    a finite-difference gradient of the bistatic path length: for ANY ``g`` the position block of ``J'^-1``
    equals that of ``J^-1`` (``T`` is identity on the position), so the model is exact whatever the
    difference's error; ``g`` only removes the range/sync confounding that stalls conic solvers. ``J'`` is
    then scaled by the square root of its isotropic diagonal (conditioning only)."""
    fisher, g = problem.fisher, problem.geometry
    n = problem.n_tx
    sigma = cp.Variable((n, n), hermitian=True)
    x = cp.Variable((2, 2), symmetric=True)

    def path(o):
        return np.linalg.norm(o - g.tx) + np.linalg.norm(o - g.sensing_rx)

    step = 1e-4
    grad = np.array([(path(g.target + step * e) - path(g.target - step * e)) / (2 * step) for e in np.eye(2)])
    t_inv = np.eye(3)
    t_inv[2, :2] = -grad
    prior = np.diag([0, 0, fisher.prior_information])
    zeta = np.einsum("ca,db,cdij->abij", t_inv, t_inv, fisher.zeta) * fisher.fim_scale * problem.power_w
    prior_t = t_inv.T @ prior @ t_inv
    iso = np.einsum("abij,ji->ab", zeta, np.eye(n) / n).real + prior_t
    d = 1 / np.sqrt(np.diag(iso))
    entries = [[cp.real(cp.trace(zeta[a, b] * d[a] * d[b] @ sigma)) for b in range(3)] for a in range(3)]
    fim = cp.bmat(entries) + prior_t * np.outer(d, d)
    e = np.vstack([np.eye(2), np.zeros((1, 2))])
    lmi = cp.bmat([[x, e.T], [e, fim]])
    # position block of J^-1 = D [J_n^-1]_pp D: tr HCRB <= sum_i d_i^2 X_ii
    hcrb = d[0] ** 2 * x[0, 0] + d[1] ** 2 * x[1, 1]
    common = [sigma >> 0, cp.real(cp.trace(sigma)) <= 1, (lmi + lmi.T) / 2 >> 0]
    u = problem.h_c / np.linalg.norm(problem.h_c)
    if objective == "sinr":
        prob = cp.Problem(cp.Maximize(cp.real(u.conj() @ sigma @ u)), common + [hcrb <= problem.hcrb_threshold_m2])
    else:
        prob = cp.Problem(cp.Minimize(hcrb), common)
    status = _solve_reference(prob)
    return status, prob.value


@pytest.mark.parametrize("scenario,power_dbm,pi", GRID)
def test_compiled_sdr_matches_a_fresh_uncompiled_model(scenario, power_dbm, pi, shared_sdr):
    """Feasibility equal to the fresh model's; feasible: the bound SINR within 1e-3 dB of its optimum;
    infeasible: the fallback's tr HCRB within 1e-3 (relative) of its least HCRB, which exceeds Pi."""
    problem = DesignProblem.from_scenario(scenario, power_dbm=power_dbm, hcrb_threshold_m2=pi)
    design = shared_sdr.design(problem)
    status, value = reference_sdp(problem, "sinr")
    assert status in USABLE, status
    if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
        # an inaccurate infeasibility certificate is confirmed by the least tr HCRB exceeding Pi
        assert not design.feasible
        min_status, min_hcrb = reference_sdp(problem, "hcrb")
        assert min_status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)
        assert min_hcrb > pi * (1 + 1e-3)
        assert design.hcrb_trace == pytest.approx(min_hcrb, rel=1e-3)
    else:
        assert design.feasible, design.reason
        assert 10 * np.log10(design.bound_sinr) == pytest.approx(10 * np.log10(value * problem.mrt_snr), abs=1e-3)
        assert design.sinr <= design.bound_sinr * (1 + 1e-6)


@pytest.fixture(scope="module")
def shared_sdr():
    """One solver for the whole grid: its compiled problems are re-solved with new parameters."""
    return SdrBeamSolver()


def test_fast_path_skips_canonicalisation():
    """Both compiled SDPs are DPP with real parameters only, so a re-solve reuses CVXPY's cached
    canonicalisation: compile time well below the first one (a loose factor: never a wall-time assertion
    on an absolute number)."""
    solver = SdrBeamSolver()
    problems = [DesignProblem.from_scenario("tradeoff", power_dbm=p, hcrb_threshold_m2=25.0) for p in (22.0, 24.0)]
    solver.design(problems[0])
    sdp = solver._compiled[problems[0].n_tx]
    for conic in (sdp.max_sinr, sdp.min_hcrb):
        assert conic.is_dpp()
        assert not any(p.is_complex() for p in conic.parameters())
        assert conic._cache.param_prog is not None  # compiled once, at the first design
    design = solver.design(problems[1])
    assert design.info["sdp"]["solves"] == 1


def test_warm_and_cold_solves_agree():
    """A solver that has solved other frames first (warm: its compiled problems and CVXPY caches in use) and
    a fresh one (cold, compiling now) give the same design on the same problem."""
    warm = SdrBeamSolver()
    for p, pi in ((30.0, 5.0), (20.0, 80.0), (18.0, 5.0), (26.0, 30.0)):
        warm.design(DesignProblem.from_scenario("tradeoff", power_dbm=p, hcrb_threshold_m2=pi))
    for p, pi in ((22.0, 30.0), (24.0, 25.0), (20.0, 5.0)):
        problem = DesignProblem.from_scenario("tradeoff", power_dbm=p, hcrb_threshold_m2=pi)
        compiled.forget()  # no free compiled problem: the cold solver compiles its own
        a, b = warm.design(problem), SdrBeamSolver().design(problem)
        assert a.feasible == b.feasible
        assert a.sinr == pytest.approx(b.sinr, rel=1e-6, abs=1e-12)
        assert a.hcrb_trace == pytest.approx(b.hcrb_trace, rel=1e-6)
        assert np.allclose(a.covariance, b.covariance, rtol=1e-6, atol=1e-9 * problem.power_w)


@pytest.mark.parametrize("solver", ["sdr", "paper"])
def test_repeated_decisions_are_identical(solver, synthetic_profile):
    """The same inputs give bit-identical decisions, also with other frames solved in between."""
    optimizer = Optimizer("tradeoff", synthetic_profile, solver=solver)
    first = optimizer.decide(23.0, 30.0)
    optimizer.decide(27.0, 60.0)
    again = optimizer.decide(23.0, 30.0)
    for key in ("feasible", "model", "code_rate", "sinr", "hcrb_trace", "power_w", "distortion"):
        assert getattr(first, key) == getattr(again, key), key
    assert np.array_equal(first.w_c, again.w_c) and np.array_equal(first.w_0, again.w_0)


def test_a_compiled_sdp_serves_one_live_solver_at_a_time_and_then_decides_as_a_new_one():
    """optim/compiled.py: a live solver keeps its compiled SDPs (a second solver compiles its own); once it
    is collected the next solver gets them, and after solving another frame with them it designs exactly
    what a solver with newly compiled SDPs designs."""
    import gc

    compiled.forget()
    problem = DesignProblem.from_scenario("tradeoff", power_dbm=22.0, hcrb_threshold_m2=25.0)  # HCRB active
    other = DesignProblem.from_scenario("tradeoff", power_dbm=26.0, hcrb_threshold_m2=5.0)
    first = SdrBeamSolver()
    first.design(problem)
    sdp = first._compiled[problem.n_tx]
    second = SdrBeamSolver()
    second.design(problem)
    assert second._compiled[problem.n_tx] is not sdp
    del first
    gc.collect()
    third = SdrBeamSolver()
    third.design(other)
    assert third._compiled[problem.n_tx] is sdp
    reused = third.design(problem)
    compiled.forget()
    fresh = SdrBeamSolver().design(problem)
    assert reused.info["sdp"]["solves"] >= 1 and reused.feasible == fresh.feasible
    assert reused.sinr == fresh.sinr and reused.hcrb_trace == fresh.hcrb_trace
    assert np.array_equal(reused.covariance, fresh.covariance)


def test_lend_builds_only_when_nothing_is_free():
    class Owner:
        pass

    compiled.forget()
    built = []
    build = lambda: built.append(object()) or built[-1]  # noqa: E731
    a, b = Owner(), Owner()
    first, second = compiled.lend(a, "key", build), compiled.lend(b, "key", build)
    assert first is not second and len(built) == 2
    del a
    assert compiled.lend(Owner(), "other key", build) is built[2]  # another key: built
    c = Owner()
    assert compiled.lend(c, "key", build) is first and len(built) == 3  # a's, given back when a went


def test_hermitian_trace_rows_match_the_trace():
    """``rows . [vec Re S; vec Im S]`` equals ``Re tr(A S)`` for random complex A and Hermitian S."""
    rng = np.random.default_rng(3)
    n = 5
    a = rng.standard_normal((4, n, n)) + 1j * rng.standard_normal((4, n, n))
    g = rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
    s = g @ g.conj().T
    rows = hermitian_trace_rows(a)
    stacked = np.concatenate([s.real.ravel(), s.imag.ravel()])
    assert np.allclose(rows @ stacked, [np.trace(m @ s).real for m in a], rtol=1e-12, atol=1e-12)


def test_realified_p49_matches_the_complex_formulation():
    """The paper AO's SCA step (P4.9) with real parameters equals a fresh CVXPY model written with a
    complex variable and complex constants, on random data."""
    rng = np.random.default_rng(7)
    n_tx = 4
    n = 2 * n_tx
    sub = _PaperSubproblems(n_tx, prox=1e-3)

    def crandn(*shape):
        return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)

    for _ in range(3):
        y_u, scaled_u, lin_rows, w_i = crandn(n_tx), 3 * crandn(n_tx), crandn(6, n), crandn(n) / 4
        offset = rng.standard_normal(6)
        prox_target = sub.prox_scale * w_i
        sub.set_p49(y_u, scaled_u, lin_rows, prox_target)
        sub.lin_offset.value = offset
        assert sub.solve(sub.p49) in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE)
        w = cp.Variable(n, complex=True)
        objective = (
            -(2 * cp.real(np.conj(y_u) @ w[:n_tx]) - cp.square(cp.abs(np.conj(scaled_u) @ w[n_tx:])))
            + cp.sum_squares(2 * cp.real(lin_rows @ w) - offset)
            + cp.sum_squares(sub.prox_scale * w - prox_target)
        )
        reference = cp.Problem(cp.Minimize(objective), [cp.sum_squares(w) <= 1])
        reference.solve(solver="CLARABEL")
        assert sub.p49.value == pytest.approx(reference.value, rel=1e-6, abs=1e-7)
        assert np.allclose(sub.w, w.value, atol=1e-4)


def test_code_rate_refinement_is_at_least_as_good_as_a_bounded_scalar_search(synthetic_profile):
    """The zoomed refinement against the grid + bounded scalar search it replaced (scipy, 1e-12 xatol):
    never a worse distortion, and a rate within one grid cell of the best grid point."""
    uses = 3 * 256 * 256 / 32
    for model in synthetic_profile.models:
        for sinr_db in np.linspace(-6, 25, 12):
            sinr = 10 ** (sinr_db / 10)
            choice = choose_code_rate(model, sinr, uses, 1024, 2 - 1 / 1024, "mse")
            lo, hi = model.r_s_bits / uses, min(np.log2(1 + sinr), 2 - 1 / 1024)
            if lo > hi:
                assert not choice.feasible
                continue

            def objective(r, model=model, sinr=sinr):
                return model.log10_distortion(log10_ber(sinr, r, 1024), "mse")

            grid = np.linspace(lo, hi, GRID_POINTS)
            k = int(np.argmin(objective(grid)))
            a, b = grid[max(k - 1, 0)], grid[min(k + 1, GRID_POINTS - 1)]
            best = float(objective(grid[k]))
            if b > a:
                res = minimize_scalar(lambda r: float(objective(r)), bounds=(a, b), method="bounded")
                best = min(best, float(res.fun))
            assert choice.feasible
            assert choice.log10_distortion <= best + 1e-12
            assert abs(choice.code_rate - grid[k]) <= (hi - lo) / (GRID_POINTS - 1) + 1e-12
