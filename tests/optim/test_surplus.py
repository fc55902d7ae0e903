# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The sensing-surplus second stage of the ``sdr`` decision (optim/surplus.py) against independent
numbers: brute force over two-antenna designs, the required SINR against a closed form and a dense
grid, the rank reduction's invariants, and the decision with the stage on against the decision with it off."""

import json
import math

import numpy as np
import pytest
from scipy.optimize import minimize

from gnuradio.issc.optim import Optimizer
from gnuradio.issc.optim.problem import DesignProblem
from gnuradio.issc.optim.sdr import SdrBeamSolver
from gnuradio.issc.optim.surplus import REL_TOL, SurplusSolver, reduce_rank, required_sinr
from gnuradio.issc.scenario import load_scenario


def two_antenna_problem(power_dbm: float, pi: float) -> DesignProblem:
    scn = load_scenario("tradeoff").replace(arrays={"n_tx": 2, "n_rx": 2})
    return DesignProblem.from_scenario(scn, power_dbm=power_dbm, hcrb_threshold_m2=pi)


def brute_force_hcrb(problem: DesignProblem, sinr_required: float, rng, draws: int = 3000, polish: int = 6):
    """The least ``tr HCRB`` over ``x = w_c s_c + w_0 s_0`` (two antennas, one sensing stream) with
    ``SINR >= sinr_required`` and the power budget, from the closed forms only: random designs on the
    power sphere, then a local polish (SLSQP) of the best few. An upper bound on the true optimum."""
    p = problem.power_w

    def unpack(v):
        w = v[:4] + 1j * v[4:]
        return w[:2], w[2:]

    def hcrb(v):
        w_c, w_0 = unpack(v)
        value = problem.hcrb_trace(problem.covariance(w_c, w_0))
        return value if math.isfinite(value) else 1e12

    def sinr_margin_db(v):
        w_c, w_0 = unpack(v)
        s = problem.sinr(w_c, w_0)
        return 10 * np.log10(max(s, 1e-300)) - 10 * np.log10(sinr_required)

    def power_margin(v):
        return 1.0 - float(np.sum(v**2)) / p

    candidates = []
    for _ in range(draws):
        v = rng.standard_normal(8)
        v *= np.sqrt(p) / np.linalg.norm(v)
        if sinr_margin_db(v) >= 0:
            candidates.append((hcrb(v), v))
    # also the MRT-plus-null-space family, where most good designs lie
    h = problem.h_c / np.linalg.norm(problem.h_c)
    null = np.array([-np.conj(h[1]), np.conj(h[0])])
    for frac in np.linspace(0, 1, 201):
        for phase in np.linspace(0, 2 * np.pi, 16, endpoint=False):
            w_c = np.sqrt((1 - frac) * p) * h
            w_0 = np.sqrt(frac * p) * (np.cos(phase) * null + np.sin(phase) * h)
            w = np.concatenate([w_c, w_0])
            v = np.concatenate([w.real, w.imag])
            if sinr_margin_db(v) >= 0:
                candidates.append((hcrb(v), v))
    candidates.sort(key=lambda c: c[0])
    best = candidates[0][0] if candidates else math.inf
    scale = max(best, 1e-12)
    for _, start in candidates[:polish]:
        res = minimize(
            lambda v: hcrb(v) / scale,
            start,
            method="SLSQP",
            constraints=[{"type": "ineq", "fun": sinr_margin_db}, {"type": "ineq", "fun": power_margin}],
            options={"maxiter": 300, "ftol": 1e-12},
        )
        if sinr_margin_db(res.x) >= -1e-9 and power_margin(res.x) >= -1e-9:
            best = min(best, hcrb(res.x))
    return best


@pytest.mark.parametrize("power_dbm, pi, fraction", [(30.0, 150.0, 0.7), (36.0, 60.0, 0.9), (40.0, 30.0, 0.5)])
def test_stage_two_matches_brute_force_on_two_antennas(power_dbm, pi, fraction):
    """N_T = 2, r_0 = 1: stage 2's tr HCRB is no worse than the best brute-force design with the same SINR
    floor (within 1e-4), its relaxation bound is no better than any brute-force design (it is a lower
    bound), and the design meets the SINR floor, the power budget and Pi in closed form."""
    problem = two_antenna_problem(power_dbm, pi)
    stage1 = SdrBeamSolver().design(problem)
    assert stage1.feasible
    sinr_required = fraction * stage1.sinr
    stage2 = SurplusSolver().design(problem, stage1, sinr_required)
    report = stage2.info["surplus"]
    assert report["applied"], report
    brute = brute_force_hcrb(problem, sinr_required, np.random.default_rng(7))
    assert stage2.hcrb_trace <= brute * (1 + 1e-4)
    # (the SDP's SINR floor is 1e-6 above s_req, and its tolerance is ~1e-8: 1e-4 covers both)
    assert report["bound_hcrb_trace"] <= brute * (1 + 1e-4)
    assert stage2.hcrb_trace == pytest.approx(report["bound_hcrb_trace"], rel=1e-4)
    cov = stage2.covariance
    assert problem.sinr(stage2.w_c, stage2.w_0) >= sinr_required
    assert float(np.trace(cov).real) <= problem.power_w * (1 + 1e-6)
    assert problem.hcrb_trace(cov) <= min(pi, stage1.hcrb_trace)
    assert stage2.hcrb_trace < stage1.hcrb_trace
    # the SINR floor is active: the sensing-optimal covariance alone does better on the bound
    assert SdrBeamSolver().sensing_optimal(problem)[1] < stage2.hcrb_trace * (1 - 1e-3)


def test_required_sinr_against_a_closed_form_and_a_grid():
    """For D(s) = 0.1 + e^-s the least s with D(s) <= D(s1)(1 + tol) is -ln(D(s1)(1 + tol) - 0.1); and on a
    real decision (tradeoff, 36 dBm: hp6 saturated) a 0.001 dB grid finds the same first feasible SINR."""
    s1, tol = 8.0, 1e-2
    exact = -math.log((0.1 + math.exp(-s1)) * (1 + tol) - 0.1)
    got = required_sinr(lambda s: 0.1 + math.exp(-s), s1, tol)
    assert got == pytest.approx(exact, rel=1e-9)
    assert got < s1

    opt = Optimizer("tradeoff", metric="ms_ssim", ber_model="calibrated", sensing_surplus=False)
    problem = opt.problem(power_dbm=36.0)
    decision = opt.decide_problem(problem)
    distortion = opt.fixed_choice_distortion(problem, decision.model, decision.code_rate)
    assert distortion(decision.sinr) == pytest.approx(decision.distortion, rel=1e-12)
    s_req = required_sinr(distortion, decision.sinr)
    limit = decision.distortion * (1 + REL_TOL)
    grid_db = np.arange(10 * np.log10(decision.sinr), -10.0, -0.001)
    ok = np.array([distortion(10 ** (g / 10)) <= limit for g in grid_db])
    first_bad = int(np.argmin(ok))  # the grid runs downwards: every point above the cliff meets the limit
    assert ok[:first_bad].all() and not ok[first_bad:].any()
    assert 10 * np.log10(s_req) == pytest.approx(grid_db[first_bad - 1], abs=1.5e-3)
    assert distortion(s_req) <= limit
    assert 10 * np.log10(s_req) < 10 * np.log10(decision.sinr) - 3  # the saturated model needs far less


def test_rank_reduction_keeps_the_traces_and_reaches_rank_two():
    """Eight Hermitian constraints on a rank-4 4x4 covariance: the reduced matrix is PSD, of rank <= 2
    (r^2 <= 8), with every trace kept to 1e-9."""
    rng = np.random.default_rng(3)
    root = rng.standard_normal((4, 4)) + 1j * rng.standard_normal((4, 4))
    sigma = root @ root.conj().T
    mats = []
    for _ in range(8):
        a = rng.standard_normal((4, 4)) + 1j * rng.standard_normal((4, 4))
        mats.append(a + a.conj().T)
    reduced = reduce_rank(sigma, mats, 1)
    eig = np.linalg.eigvalsh(reduced)
    assert eig.min() >= -1e-9 * eig.max()
    assert int(np.sum(eig > 1e-9 * eig.max())) <= 2
    for a in mats:
        assert np.real(np.trace(a @ reduced)) == pytest.approx(np.real(np.trace(a @ sigma)), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("scenario, powers, pis", [("tradeoff", (22.0, 26.0, 32.0, 40.0), (40.0, 80.0))])
def test_surplus_never_raises_the_bound_nor_lowers_the_quality(scenario, powers, pis):
    """Over powers and thresholds: with the stage on, the same model and rate, tr HCRB at most the stage-1
    value and at most Pi, the predicted distortion within REL_TOL of stage 1's, the power budget met,
    the reported SINR and bound reproduced in closed form from the beams, and one sensing stream attaining
    the relaxation's bound on four antennas; with the stage off, the
    stage-1 decision itself (the beam solver's design and the rate module's choice)."""
    on = Optimizer(scenario, metric="ms_ssim", ber_model="calibrated")
    off = Optimizer(scenario, metric="ms_ssim", ber_model="calibrated", sensing_surplus=False)
    gained = 0
    for power in powers:
        for pi in pis:
            problem = on.problem(power_dbm=power, hcrb_threshold_m2=pi)
            d_on, d_off = on.decide_problem(problem), off.decide_problem(problem)
            # off: exactly the stage-1 decision
            beams = SdrBeamSolver().design(problem)
            assert np.allclose(d_off.w_c, beams.w_c) and d_off.hcrb_trace == pytest.approx(beams.hcrb_trace)
            assert "sensing_surplus" not in d_off.predictions
            assert (d_on.model, d_on.code_rate, d_on.feasible) == (d_off.model, d_off.code_rate, d_off.feasible)
            assert d_on.hcrb_trace <= d_off.hcrb_trace * (1 + 1e-12)
            assert d_on.distortion <= d_off.distortion * (1 + REL_TOL) * (1 + 1e-9)
            cov = problem.covariance(d_on.w_c, d_on.w_0)
            assert problem.hcrb_trace(cov) == pytest.approx(d_on.hcrb_trace, rel=1e-12)
            assert problem.sinr(d_on.w_c, d_on.w_0) == pytest.approx(d_on.sinr, rel=1e-12)
            assert float(np.trace(cov).real) <= problem.power_w * (1 + 1e-6)
            if d_on.feasible:
                assert d_on.hcrb_trace <= pi * (1 + 1e-4)
                assert d_on.predictions["stage1_hcrb_trace"] == pytest.approx(d_off.hcrb_trace)
            if d_on.predictions.get("sensing_surplus"):
                gained += 1
                assert d_on.sinr >= 10 ** (d_on.predictions["required_sinr_db"] / 10) * (1 - 1e-12)
                # four antennas, one sensing stream: the rank reduction attains the relaxation's bound
                assert d_on.w_0.shape == (4, 1)
                assert d_on.hcrb_trace == pytest.approx(d_on.beam_info["surplus"]["bound_hcrb_trace"], rel=1e-3)
    assert gained >= len(powers)  # the stage must actually do something here


def test_other_solvers_and_widened_beams_ignore_the_stage():
    """zf-wf (the benchmark) and a widened sensing beam (lost track) give the same decision on and off."""
    for solver in ("zf-wf",):
        on = Optimizer("tradeoff", solver=solver).decide(power_dbm=36.0)
        off = Optimizer("tradeoff", solver=solver, sensing_surplus=False).decide(power_dbm=36.0)
        assert np.array_equal(on.w_c, off.w_c) and on.hcrb_trace == off.hcrb_trace
    on = Optimizer("tradeoff").decide(power_dbm=36.0, widen_sensing_antennas=2)
    off = Optimizer("tradeoff", sensing_surplus=False).decide(power_dbm=36.0, widen_sensing_antennas=2)
    assert np.allclose(on.w_0, off.w_0) and on.hcrb_trace == pytest.approx(off.hcrb_trace)


def test_optimize_cli_switch(run_cli):
    """``issc optimize --sensing-surplus on|off``: on reports the stage-1 numbers, the required SINR and a
    lower tr HCRB at the same model and rate; off is the stage-1 decision; a bad value is a clean error."""
    args = ("optimize", "--scenario", "tradeoff", "--power-dbm", 36, "--pi", 40, "--json")
    code, out, err = run_cli(*args, "--sensing-surplus", "on")
    assert code == 0, err
    on = json.loads(out)
    code, out, err = run_cli(*args, "--sensing-surplus", "off")
    assert code == 0, err
    off = json.loads(out)
    assert on["sensing_surplus"] is True and "sensing_surplus" not in off
    assert (on["model"], on["R_c"]) == (off["model"], off["R_c"])
    assert on["stage1_hcrb_trace"] == pytest.approx(off["hcrb_trace"])
    assert on["hcrb_trace"] < 0.5 * off["hcrb_trace"]
    assert on["required_sinr_db"] <= on["sinr_db"] < off["sinr_db"]
    code, _, err = run_cli(*args, "--sensing-surplus", "maybe")
    assert code == 2 and "--sensing-surplus" in err


def test_a_failing_second_stage_keeps_the_stage_one_decision(monkeypatch):
    """A second stage that raises leaves the stage-1 decision, with the error in ``beam_info``."""
    from gnuradio.issc.optim import surplus

    def broken(self, problem, stage1, sinr_required):
        raise RuntimeError("boom")

    monkeypatch.setattr(surplus.SurplusSolver, "design", broken)
    on = Optimizer("tradeoff").decide(power_dbm=36.0)
    off = Optimizer("tradeoff", sensing_surplus=False).decide(power_dbm=36.0)
    assert np.array_equal(on.w_c, off.w_c) and on.hcrb_trace == off.hcrb_trace
    assert on.predictions["sensing_surplus"] is False
    assert "boom" in on.beam_info["surplus"]["why"]
