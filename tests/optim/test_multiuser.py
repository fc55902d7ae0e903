# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The multi-user optimiser (docs/multiuser.md): reported SINRs, tr HCRB and power against an independent
recomputation from the beams, the rank-one recovery, the sdr design against a brute force (no target) and
an enumeration of the SINR boundary with the SDP (with a target), infeasible thresholds, K = 1 against the
single-user decision, the baselines' duality, the scenario's users list and the CLI."""

import json

import numpy as np
import pytest
import yaml

from gnuradio.issc import ScenarioError, load_scenario
from gnuradio.issc.optim import Optimizer
from gnuradio.issc.optim.multiuser import (
    MultiUserOptimizer,
    SdrMultiUserSolver,
    comm_power_exceeds,
    recover_beams,
)
from gnuradio.issc.optim.multiuser_baselines import PaperMultiUserSolver, project_simplex, water_filling
from gnuradio.issc.physics.hcrb import FisherModel
from gnuradio.issc.scenario import SCENARIO_DIR, Scenario
from gnuradio.issc.units import dbm_to_w


def los_channel(tx, position, n_tx, spacing, exponent):
    """``h = d^(-eps/2) [exp(j 2 pi s m sin(angle))]_m``, written out here rather than taken from geometry.py."""
    dx, dy = position[0] - tx[0], position[1] - tx[1]
    angle = np.arctan2(dy, dx)
    return np.hypot(dx, dy) ** (-exponent / 2) * np.exp(2j * np.pi * spacing * np.arange(n_tx) * np.sin(angle))


def recomputed(scenario_name, out):
    """(SINRs, tr HCRB or None, power) of the JSON decision ``out``, from its beams alone."""
    scn = load_scenario(scenario_name)
    w = np.array([np.array(u["w"]["re"]) + 1j * np.array(u["w"]["im"]) for u in out["users"]]).T
    w_0 = np.array(out["W_0"]["re"]) + 1j * np.array(out["W_0"]["im"])
    w_0 = w_0.reshape(scn.arrays.n_tx, -1)
    sinrs = []
    for k, user in enumerate(scn.users):
        arrays = scn.arrays
        h = los_channel(
            scn.geometry.tx, user.position, arrays.n_tx, arrays.spacing_wavelengths, scn.channel.path_loss_exponent
        )
        noise = dbm_to_w(scn.channel.comm_noise_dbm if user.noise_dbm is None else user.noise_dbm)
        received = np.abs(h.conj() @ w) ** 2
        sensing = float(np.sum(np.abs(h.conj() @ w_0) ** 2))
        sinrs.append(received[k] / (received.sum() - received[k] + sensing + noise))
    sigma = w @ w.conj().T + w_0 @ w_0.conj().T
    hcrb = FisherModel.from_scenario(scn).hcrb_trace(sigma) if scn.sensing == "target" else None
    return np.array(sinrs), hcrb, float(np.trace(sigma).real)


@pytest.fixture(scope="module")
def sensing_decision():
    """The sdr decision on the shipped three-user scenario with a target, through the CLI's code path."""
    return MultiUserOptimizer("multiuser-sensing").decide().to_json()


def test_reported_sinrs_hcrb_and_power_match_the_beams(sensing_decision):
    """Every number the decision reports follows from its beams: the SINRs (channels rebuilt here), tr HCRB
    (FisherModel with the design's covariance) and the power; the HCRB constraint binds at the budget."""
    out = sensing_decision
    sinrs, hcrb, power = recomputed("multiuser-sensing", out)
    scn = load_scenario("multiuser-sensing")
    assert out["feasible"] and [u["task"] for u in out["users"]] == [u.task for u in scn.users]
    assert np.allclose(10 * np.log10(sinrs), [u["sinr_db"] for u in out["users"]], atol=1e-9)
    assert hcrb == pytest.approx(out["hcrb_trace"], rel=1e-9)
    assert hcrb <= scn.budget.hcrb_threshold_m2 * (1 + 1e-4)
    assert hcrb == pytest.approx(scn.budget.hcrb_threshold_m2, rel=1e-3)  # binding: the trade-off is live
    assert power == pytest.approx(out["power_w"], rel=1e-9)
    assert power <= dbm_to_w(scn.budget.power_dbm) * (1 + 1e-6)
    weighted = sum(u["weight"] * u["predicted_distortion"] for u in out["users"])
    assert weighted == pytest.approx(out["weighted_distortion"], rel=1e-12)


def test_rank_one_recovery_keeps_the_sinrs_and_the_covariance():
    """Liu et al.'s construction on random relaxed solutions of rank 2-3: the total covariance is unchanged,
    R_0 stays PSD, each beam is rank one and every user's SINR is the relaxed one."""
    rng = np.random.default_rng(7)
    for trial in range(20):
        n, k = rng.integers(2, 5), rng.integers(1, 4)

        def random_psd(rank, n=n):
            a = rng.standard_normal((n, rank)) + 1j * rng.standard_normal((n, rank))
            return a @ a.conj().T

        r = [random_psd(int(rng.integers(1, 4))) for _ in range(k)]
        r_0 = random_psd(int(rng.integers(1, 3))) * (trial % 2)
        sigma = sum(r) + r_0
        channels = rng.standard_normal((k, n)) + 1j * rng.standard_normal((k, n))  # rows h_k^H
        noise = rng.uniform(0.1, 2.0, k)
        w, r_0_new = recover_beams(r, sigma, channels)
        assert np.allclose(w @ w.conj().T + r_0_new, sigma, atol=1e-9 * np.abs(sigma).max())
        assert np.linalg.eigvalsh(r_0_new).min() >= -1e-9 * np.abs(sigma).max()
        for j in range(k):
            h = channels[j].conj()
            relaxed = np.real(h.conj() @ r[j] @ h) / (np.real(h.conj() @ (sigma - r[j]) @ h) + noise[j])
            beam = abs(h.conj() @ w[:, j]) ** 2
            after = beam / (np.real(h.conj() @ sigma @ h) - beam + noise[j])
            assert after == pytest.approx(relaxed, rel=1e-9)


def _floor_curve(sources, k, cap, step_db=0.05):
    """User k's distortion on a fine SINR grid; looked up at the grid point below (an upper bound: it does
    not increase with the SINR)."""
    grid = np.concatenate([[0.0], 10 ** (np.arange(-25.0, 10 * np.log10(cap) + step_db, step_db) / 10)])
    values = np.array([sources.distortion(k, g) for g in grid])
    return lambda x: values[np.clip(np.searchsorted(grid, x, side="right") - 1, 0, len(grid) - 1)]


@pytest.mark.parametrize("power_dbm", [26, 28, 32])
def test_sdr_is_within_tolerance_of_a_brute_force_without_target(power_dbm):
    """K = 2, N_T = 2 (the shipped multiuser scenario): a brute force over the beam family that contains every
    Pareto-optimal MISO design, w_k ~ (I + sum_j lambda_j hbar_j hbar_j^H)^-1 hbar_k (37 x 37 lambdas), and
    201 power splits, all power used, evaluated in closed form. The sdr decision is at least as good up to
    1e-3 (about 1 % of the weighted distortion), and the brute force comes within 0.01 of it."""
    optimizer = MultiUserOptimizer("multiuser")
    problem = optimizer.problem(power_dbm)
    sources = optimizer.sources(problem)
    cap = problem.mrt_snr()
    curves = [_floor_curve(sources, k, cap[k]) for k in range(2)]
    hbar = np.array([u.channel / np.sqrt(u.noise_w) for u in problem.users])
    power = problem.power_w
    split = np.linspace(0.0, 1.0, 201)
    p1, p2 = split * power, (1 - split) * power
    best = np.inf
    for l1 in power * np.concatenate([[0.0], np.logspace(-3, 2, 36)]):
        for l2 in power * np.concatenate([[0.0], np.logspace(-3, 2, 36)]):
            m = np.eye(2) + l1 * np.outer(hbar[0], hbar[0].conj()) + l2 * np.outer(hbar[1], hbar[1].conj())
            u = np.linalg.solve(m, hbar.T)
            u /= np.linalg.norm(u, axis=0)
            g = np.abs(hbar.conj() @ u) ** 2  # [k, j] = |hbar_k^H u_j|^2
            s1 = p1 * g[0, 0] / (p2 * g[0, 1] + 1)
            s2 = p2 * g[1, 1] / (p1 * g[1, 0] + 1)
            best = min(best, float(np.min(problem.weights[0] * curves[0](s1) + problem.weights[1] * curves[1](s2))))
    decision = optimizer.decide(power_dbm)
    assert decision.feasible
    assert decision.weighted_distortion <= best + 1e-3
    assert best <= decision.weighted_distortion + 0.01


def test_sdr_matches_an_enumeration_of_the_sinr_boundary_with_a_target():
    """K = 2, N_T = 2 with the target and a binding Pi: for every SINR of user 0 on a 0.25 dB grid (and 0), the
    largest feasible SINR of user 1 by bisection with the SDP; the best point of that boundary is not better
    than the sdr decision by more than 1e-4."""
    raw = yaml.safe_load((SCENARIO_DIR / "multiuser.yml").read_text())
    raw.pop("sensing")
    raw["budget"].update(hcrb_threshold_m2=80.0, sensing_streams=2)
    optimizer = MultiUserOptimizer(Scenario.from_dict(raw, source="multiuser-target"))
    decision = optimizer.decide(28)
    assert decision.feasible and decision.hcrb_trace == pytest.approx(80.0, rel=1e-3)
    problem = optimizer.problem(28)
    sources = optimizer.sources(problem)
    solver = SdrMultiUserSolver()
    cap = solver.caps(problem)
    best = np.inf
    top = 10 * np.log10(cap[0])
    for g1 in np.concatenate([[0.0], 10 ** (np.arange(top - 12, top, 0.25) / 10), [cap[0]]]):
        if solver.least_power(problem, [g1, 0.0]) > 1:
            continue
        lo, hi = cap[1] * 1e-4, cap[1]
        if solver.least_power(problem, [g1, hi]) <= 1:
            lo = hi
        for _ in range(14):
            mid = np.sqrt(lo * hi)
            if solver.least_power(problem, [g1, mid]) <= 1:
                lo = mid
            else:
                hi = mid
        best = min(best, sources.weighted([g1, lo]))
    assert decision.weighted_distortion <= best + 1e-4


def test_unreachable_threshold_is_reported_with_a_reason(run_cli):
    """Pi below the least tr HCRB that the power allows (6.2 m^2 at 28 dBm): every solver answers with
    feasible false, a reason naming the threshold, and a design (exit code 0)."""
    for solver in ("sdr", "paper", "zf-wf"):
        code, out, err = run_cli("optimize", "--scenario", "multiuser-sensing", "--pi", "5", "--solver", solver)
        assert code == 0, err
        result = json.loads(out)
        assert result["feasible"] is False
        assert "Pi = 5" in result["reason"] and "HCRB" in result["reason"]
        assert result["hcrb_trace"] > 5


@pytest.mark.parametrize("power_dbm", [20, 21, 24, 30])
def test_one_data_user_gives_the_single_user_decision(power_dbm):
    """K = 1 (the tradeoff scenario in its single-user form): the same SINR within 0.01 dB, model, code rate and
    tr HCRB as optim/decision.py with the MS-SSIM metric (at 20 dBm no model fits in either), without the
    single-user decision's sensing-surplus second stage (the multi-user optimiser has none)."""
    single = Optimizer("tradeoff", metric="ms_ssim", sensing_surplus=False).decide(power_dbm)
    multi = MultiUserOptimizer("tradeoff").decide(power_dbm)
    user = multi.users[0]
    assert abs(user.sinr_db - single.sinr_db) < 0.01
    assert (user.model, user.served) == (single.model, single.feasible)
    assert user.code_rate == pytest.approx(single.code_rate, rel=1e-3)
    assert multi.hcrb_trace == pytest.approx(single.hcrb_trace, rel=1e-3)


def test_solvers_keep_their_order_and_every_design_is_verified():
    """On the shipped two-user scenario sdr is not worse than paper or zf-wf (up to 1e-4: its SINR-target search
    is heuristic and its final scaling stops within 1e-3 dB of the boundary), and each solver's reported SINRs
    and power follow from its beams."""
    results = {}
    for solver in ("sdr", "paper", "zf-wf"):
        out = MultiUserOptimizer("multiuser", solver=solver).decide().to_json()
        sinrs, hcrb, power = recomputed("multiuser", out)
        assert hcrb is None and out["hcrb_trace"] is None
        assert np.allclose(10 * np.log10(np.maximum(sinrs, 1e-300)), [u["sinr_db"] or -3000 for u in out["users"]])
        assert power == pytest.approx(out["power_w"]) and power <= out["power_budget_w"] * (1 + 1e-6)
        results[solver] = out["weighted_distortion"]
    assert results["sdr"] <= results["paper"] + 1e-4
    assert results["sdr"] <= results["zf-wf"] + 1e-4


def test_uplink_downlink_duality_of_the_paper_solver():
    """Eq. (34): the downlink powers found from uplink SINRs give the same SINRs downlink, with the same
    total power (random channels and receive beams)."""
    rng = np.random.default_rng(3)
    for _ in range(10):
        n, k = 4, 3
        hbar = rng.standard_normal((k, n)) + 1j * rng.standard_normal((k, n))
        q = rng.uniform(0.1, 2.0, k)
        beams = PaperMultiUserSolver._mmse_beams(hbar, q)
        gains = PaperMultiUserSolver._gains(hbar, beams)
        uplink = PaperMultiUserSolver._uplink_sinr(gains, q)
        p = PaperMultiUserSolver._downlink_powers(gains, uplink)
        received = gains @ p
        downlink = np.diag(gains) * p / (received - np.diag(gains) * p + 1)
        assert np.allclose(downlink, uplink, rtol=1e-9)
        assert p.sum() == pytest.approx(q.sum(), rel=1e-9)


def test_power_allocation_helpers():
    """Water-filling meets its KKT conditions; the simplex projection is a projection."""
    rng = np.random.default_rng(5)
    for _ in range(20):
        gains, total = rng.uniform(0.01, 10.0, 4), rng.uniform(0.1, 5.0)
        p = water_filling(gains, total)
        level = p + 1.0 / gains
        assert p.sum() == pytest.approx(total) and np.all(p >= 0)
        assert np.allclose(level[p > 0], level[p > 0][0]) and np.all(1.0 / gains[p == 0] >= level[p > 0][0] - 1e-12)
        x = rng.normal(size=5)
        y = project_simplex(x, total)
        assert y.sum() == pytest.approx(total) and np.all(y >= 0)
        assert np.allclose(project_simplex(y, total), y)


def test_comm_power_certificate_never_contradicts_the_sdp():
    """The fixed-point test that prunes SINR targets only says 'infeasible' where the SDP needs more than P_T."""
    optimizer = MultiUserOptimizer("multiuser")
    problem = optimizer.problem()
    solver = SdrMultiUserSolver()
    rng = np.random.default_rng(11)
    cap = problem.mrt_snr()
    certified = 0
    for _ in range(25):
        gammas = cap * 10 ** rng.uniform(-1.5, 0.0, 2)
        if comm_power_exceeds(problem, gammas):
            certified += 1
            assert solver.least_power(problem, gammas) > 1.0
    assert certified > 0


BAD_USERS = [
    ("users: []", "users", "list of 1 to 16"),
    ("users: [{task: data}]", "users[0].position", "missing"),
    ("users: [{position: [1, 2, 3]}]", "users[0].position", "a point [x, y]"),
    ("users: [{position: [.nan, 0]}]", "users[0].position", "a point [x, y]"),
    ("users: [{position: [10, 0], task: radar}]", "users[0].task", "one of 'data', 'semantic'"),
    ("users: [{position: [10, 0], weight: 0}]", "users[0].weight", "(0, "),
    ("users: [{position: [10, 0]}, {position: [10, 0.5]}]", "users[1].position", "distinct positions"),
    ("users: [{position: [0.2, 0]}]", "users[0].position", "from the transmitter"),
    ("users: [{position: [10, 0], colour: red}]", "users[0].colour", "unknown key"),
    ("users: [{position: [10, 0], noise_dbm: 100}]", "users[0].noise_dbm", "[-250, 60]"),
    ("users: [{position: [10, 0]}]\ngeometry: {comm_rx: [5, 5]}", "geometry.comm_rx", "users[0].position"),
    ("sensing: off", "sensing", "one of 'target', 'none'"),
]


@pytest.mark.parametrize("text,key,words", BAD_USERS, ids=[b[1] + ":" + b[0][:24] for b in BAD_USERS])
def test_bad_users_are_rejected_naming_the_key(tmp_path, run_cli, text, key, words):
    """A bad users list or sensing key: a ScenarioError naming the file and the key, exit 2 on the CLI."""
    path = tmp_path / "bad.yml"
    path.write_text(text + "\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert f"'{path}'" in message and f"key '{key}'" in message and words in message
    code, out, err = run_cli("optimize", "--scenario", path)
    assert code == 2 and out == "" and err.count("\n") == 1 and f"key '{key}'" in err


def test_users_list_round_trips_and_single_user_files_keep_their_shape():
    """The users list survives to_dict/from_dict; the first user becomes geometry.comm_rx; a single-user
    scenario's dictionary has no users or sensing key."""
    scn = load_scenario("multiuser-sensing")
    again = Scenario.from_dict(yaml.safe_load(scn.to_yaml()), source="again")
    assert again.to_dict() == scn.to_dict() and again.users == scn.users
    assert scn.geometry.comm_rx == scn.users[0].position
    assert "users" not in load_scenario("tradeoff").to_dict() and "sensing" not in load_scenario("paper").to_dict()
    assert load_scenario("multiuser").sensing == "none"


def test_optimize_cli_on_multi_user_and_single_user_scenarios(run_cli):
    """Multi-user output: the documented keys, users in scenario order, W_0 with no column without a target;
    single-user output unchanged (w_c, no users); --pi without a target and --metric mse are one-line errors."""
    code, out, err = run_cli("optimize", "--scenario", "multiuser", "--power-dbm", "28", "--json")
    assert code == 0, err
    result = json.loads(out)
    for key in ("feasible", "reason", "weighted_distortion", "hcrb_trace", "power_w", "W_0", "users"):
        assert key in result
    assert [u["task"] for u in result["users"]] == ["data", "semantic"]
    for user in result["users"]:
        for key in ("task", "sinr_db", "model", "code_rate", "predicted_distortion", "w"):
            assert key in user
        assert len(user["w"]["re"]) == 2
    assert result["W_0"]["re"] == [[], []]
    code, out, _ = run_cli("optimize", "--scenario", "tradeoff", "--power-dbm", "24")
    single = json.loads(out)
    assert code == 0 and "w_c" in single and "users" not in single
    for argv, words in (
        (("--pi", "10"), "no sensing target"),
        (("--metric", "mse"), "MS-SSIM"),
        (("--code-rate", "1"), "zf-wf only"),
        (("--solver", "zf-wf", "--code-rate", "1,1,1"), "one per user"),
    ):
        code, out, err = run_cli("optimize", "--scenario", "multiuser", *argv)
        assert code == 2 and out == "" and err.count("\n") == 1 and words in err, err
    code, _, err = run_cli("sweep", "--scenario", "multiuser", "--out", "unused")
    assert code == 2 and "multi-user" in err


def test_search_fallbacks_still_give_a_verified_design():
    """With the level search cut to two SDP checks (coarser levels, then the greedy placement take over) the
    design still meets the power and the HCRB threshold, reports what its beams give, and is no better than
    the full search."""
    optimizer = MultiUserOptimizer("multiuser-sensing")
    full = optimizer.decide(28, 10.0)
    optimizer.beam_solver = SdrMultiUserSolver(max_checks=2)
    cut = optimizer.decide(28, 10.0)
    assert cut.feasible and cut.hcrb_trace <= 10.0 * (1 + 1e-4) and cut.power_w <= cut.power_budget_w * (1 + 1e-6)
    sinrs, hcrb, _ = recomputed("multiuser-sensing", cut.to_json())
    assert np.allclose(sinrs, [u.sinr for u in cut.users], rtol=1e-9) and hcrb == pytest.approx(cut.hcrb_trace)
    assert cut.info["level_checks"] > 2 or cut.info.get("greedy")
    assert full.weighted_distortion <= cut.weighted_distortion + 1e-4
