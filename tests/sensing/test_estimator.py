# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fractional delay and the MAP sensing estimator against physics and the HCRB."""

import numpy as np
import pytest

from gnuradio.issc.experiments.estimator import simulate_block
from gnuradio.issc.physics.channels import SYNC_TRUNCATION_SIGMAS, EchoChannel
from gnuradio.issc.physics.dsp import delayed_segment
from gnuradio.issc.physics.geometry import Geometry, noise_powers_w
from gnuradio.issc.physics.hcrb import FisherModel
from gnuradio.issc.scenario import load_scenario
from gnuradio.issc.sensing.estimator import TargetEstimator
from gnuradio.issc.units import SPEED_OF_LIGHT, dbm_to_w

N = 1024


def bandlimited(rng, n, max_freq=0.3, tones=24):
    f = rng.uniform(-max_freq, max_freq, tones)
    a = rng.normal(size=tones) + 1j * rng.normal(size=tones)
    return lambda t: (a[None, :] * np.exp(2j * np.pi * f[None, :] * np.asarray(t, float)[:, None])).sum(1)


@pytest.mark.parametrize("delay", [0.0, 0.37, 12.5, 69.93, 131.001])
def test_fractional_delay_matches_the_true_delay(delay):
    """The output equals the analytic band-limited signal delayed by D, and the delay fitted to the
    output by least squares (an independent measurement) is D within 1e-3 samples."""
    from scipy.optimize import minimize_scalar

    rng = np.random.default_rng(4)
    signal = bandlimited(rng, 4096)
    x = signal(np.arange(4096))
    y = delayed_segment(x, 1500, 1024, delay)
    ideal = signal(np.arange(1500, 2524) - delay)
    assert np.max(np.abs(y - ideal)) < 1e-3 * np.max(np.abs(ideal))
    fit = minimize_scalar(
        lambda d: np.sum(np.abs(y - signal(np.arange(1500, 2524) - d)) ** 2),
        bounds=(delay - 0.5, delay + 0.5),
        method="bounded",
        options={"xatol": 1e-7},
    )
    assert fit.x == pytest.approx(delay, abs=1e-3)


def test_fractional_delay_is_chunking_invariant():
    x = np.random.default_rng(1).normal(size=3000) + 0j
    whole = delayed_segment(x, 500, 1000, 33.3)
    parts = np.concatenate([delayed_segment(x, 500 + a, b - a, 33.3) for a, b in ((0, 1), (1, 400), (400, 1000))])
    np.testing.assert_array_equal(whole, parts)


def make_block(estimator, rng, position, delta_m, power_w, noise_std, beam="steer"):
    return simulate_block(estimator, rng, position, delta_m, power_w, noise_std, N, beam)


@pytest.mark.parametrize("sigma_ns", [100.0, 0.5, 0.0])
def test_noise_free_echo_is_recovered_exactly_anywhere_in_the_region(sigma_ns):
    """Also with a sync spread below one sample and with perfect sync (sigma_dt = 0), where the prior is
    sharper than the coarse grid's lag step."""
    scenario = load_scenario("tradeoff").replace(channel={"sensing_noise_dbm": -200}, sync={"sigma_ns": sigma_ns})
    estimator = TargetEstimator.from_scenario(scenario, search_halfwidth_m=20.0)
    rng = np.random.default_rng(5)
    for _ in range(6):
        position = estimator.geometry.target + rng.uniform(-19, 19, 2)
        delta = rng.normal() * 0.3 * sigma_ns
        y, x, history = make_block(estimator, rng, position, delta, 1.0, 0.0, beam=rng.choice(["steer", "iso"]))
        result = estimator.estimate(y, x, history)
        assert result.ok
        np.testing.assert_allclose(result.position, position, atol=1e-6)
        assert result.sync_error_m == pytest.approx(delta, abs=1e-6)


def test_the_search_covers_the_largest_sync_errors_the_channel_draws():
    """Noise-free blocks with the sync error at +-SYNC_TRUNCATION_SIGMAS sigma (the extremes of the echo
    channel's draw) and the target near the region's corners: recovered exactly, so the coarse search's
    lags and the reference history reach every delay the channel can produce."""
    scenario = load_scenario("tradeoff").replace(channel={"sensing_noise_dbm": -200})
    estimator = TargetEstimator.from_scenario(scenario, search_halfwidth_m=20.0)
    extreme = SYNC_TRUNCATION_SIGMAS * SPEED_OF_LIGHT * scenario.sync.sigma_ns * 1e-9
    rng = np.random.default_rng(6)
    for sign, corner in ((1, (18, 18)), (-1, (-18, -18)), (1, (18, -18)), (-1, (-18, 18))):
        position = estimator.geometry.target + np.array(corner, float)
        y, x, history = make_block(estimator, rng, position, sign * extreme, 1.0, 0.0)
        result = estimator.estimate(y, x, history)
        np.testing.assert_allclose(result.position, position, atol=1e-6)
        assert result.sync_error_m == pytest.approx(sign * extreme, abs=1e-6)


@pytest.mark.parametrize("scenario", ["paper", "tradeoff"])
def test_estimator_asks_for_the_history_the_echo_channel_keeps(scenario):
    """Both come from one formula: with a search region shrunk to the target, the estimator needs exactly
    the past reference the echo channel keeps (same filter, same longest delay)."""
    channel = EchoChannel.from_scenario(scenario)
    estimator = TargetEstimator.from_scenario(scenario, search_halfwidth_m=0.0, half_taps=channel.half_taps)
    assert estimator.required_history() == channel._history
    wider = TargetEstimator.from_scenario(scenario, search_halfwidth_m=20.0, half_taps=channel.half_taps)
    assert wider.required_history() > channel._history


@pytest.mark.parametrize("power_dbm", [30.0, 40.0])
def test_mse_reaches_the_hcrb_at_high_snr(power_dbm):
    """Monte Carlo (fixed seed, 100 blocks, fresh sync error and noise per block, all power steered at
    the target): MSE / tr HCRB within [0.7, 1.4], a ~2.5-sigma band for 100 two-dimensional errors."""
    scenario = load_scenario("tradeoff")
    estimator = TargetEstimator.from_scenario(scenario)
    g = Geometry.from_scenario(scenario)
    noise_std = np.sqrt(noise_powers_w(scenario)[1])
    spread = SPEED_OF_LIGHT * scenario.sync.sigma_ns * 1e-9
    power = float(dbm_to_w(power_dbm))
    rng = np.random.default_rng(int(power_dbm))
    errors = []
    for _ in range(100):
        y, x, history = make_block(estimator, rng, g.target, rng.normal() * spread, power, noise_std)
        result = estimator.estimate(y, x, history)
        assert result.ok
        errors.append(np.sum((result.position - g.target) ** 2))
    steer = g.a_tx(g.theta) / np.sqrt(g.n_tx)
    bound = FisherModel.from_scenario(scenario).hcrb_trace(power * np.outer(steer, steer.conj()))
    assert 0.7 <= np.mean(errors) / bound <= 1.4


def test_bad_blocks_give_flagged_non_estimates():
    estimator = TargetEstimator.from_scenario("tradeoff")
    rng = np.random.default_rng(0)
    y, x, history = make_block(estimator, rng, estimator.geometry.target, 0.0, 1.0, 1e-4)
    bad = y.copy()
    bad[0, 5] = np.nan
    for args in ((bad, x, history), (y[:2], x, history), (y, x, x.shape[1] - 10), (y, x[:, :, None], history)):
        result = estimator.estimate(*args)
        assert result.position is None and not result.ok and result.reason
    # pure noise: no target, the GLRT flags it
    noise = 1e-4 * (rng.normal(size=y.shape) + 1j * rng.normal(size=y.shape))
    quiet = TargetEstimator.from_scenario(load_scenario("tradeoff").replace(channel={"sensing_noise_dbm": -50}))
    assert not quiet.estimate(noise, x, history).ok


def test_experiment_cli_writes_the_efficiency_table(tmp_path, run_cli):
    """`issc experiment estimator` on a tiny grid: a well-formed CSV with the documented columns, finite
    bounds that shrink with power (the CRB below the HCRB), and the plot; bad arguments exit 2."""
    import csv

    code, out, err = run_cli(
        "experiment",
        "estimator",
        "--scenario",
        "tradeoff",
        "--quick",
        "--power-dbm",
        "30:40:10",
        "--sigma-ns",
        "100",
        "--trials",
        "4",
        "--out",
        tmp_path,
    )
    assert code == 0, err
    with open(tmp_path / "estimator.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for column in ("power_dbm", "sigma_ns", "trials", "rmse_m", "hcrb_rmse_m", "crb_rmse_m"):
        assert column in rows[0]
    assert [float(r["power_dbm"]) for r in rows] == [30.0, 40.0] and all(r["trials"] == "4" for r in rows)
    hcrb = [float(r["hcrb_rmse_m"]) for r in rows]
    assert hcrb[1] == pytest.approx(hcrb[0] / np.sqrt(10), rel=0.2)
    assert all(float(r["crb_rmse_m"]) < float(r["hcrb_rmse_m"]) for r in rows)
    assert all(np.isfinite(float(r["rmse_m"])) for r in rows)
    assert (tmp_path / "estimator.png").stat().st_size > 0
    for argv in (["--sigma-ns", "-1"], ["--power-dbm", "40:30:1"], ["--scenario", "nowhere"]):
        args = ["experiment", "estimator", "--scenario", "tradeoff", "--out", tmp_path / "x", *argv]
        code, out, err = run_cli(*args)
        assert code == 2 and out == "", (argv, err)


def test_glrt_on_noise_alone_stays_below_the_default_threshold():
    """False alarms: 30 blocks of noise alone (the scenario's sensing noise, a real reference on the air).
    The GLRT maximised over the whole search region must stay below the default threshold with margin,
    so that a flagged-good estimate means a target was there (the threshold of 12 in TargetEstimator
    was chosen from this distribution: median ~2, maximum ~8)."""
    scenario = load_scenario("tradeoff")
    estimator = TargetEstimator.from_scenario(scenario)
    noise_std = np.sqrt(noise_powers_w(scenario)[1])
    rng = np.random.default_rng(21)
    glrts = []
    for _ in range(30):
        _, reference, start = simulate_block(estimator, rng, estimator.geometry.target, 0.0, 1.0, 0.0, N)
        noise = (
            noise_std
            * (rng.normal(size=(estimator.geometry.n_rx, N)) + 1j * rng.normal(size=(estimator.geometry.n_rx, N)))
            / np.sqrt(2)
        )
        result = estimator.estimate(noise, reference, start)
        assert not result.ok
        glrts.append(result.glrt)
    assert max(glrts) < 0.8 * estimator.glrt_threshold
    assert 0.5 < np.median(glrts) < 4.0


# -- the fast model, its exact derivatives and the vectorised coarse search --------------------------------


@pytest.mark.parametrize("fraction", [0.0, 1e-7, 0.25, 0.5, 0.73, 0.999999])
def test_delay_taps_derivative_is_the_derivative_of_the_taps(fraction):
    """``delay_taps_and_derivative``: the taps are bit-identical to ``delay_taps`` and the closed-form
    derivative matches central differences of ``delay_taps`` (one-sided at 0, where the window's
    interpolation has a kink) to the difference quotient's own accuracy."""
    from gnuradio.issc.physics.dsp import delay_taps, delay_taps_and_derivative

    taps, derivative = delay_taps_and_derivative(fraction)
    np.testing.assert_array_equal(taps, delay_taps(fraction))
    step = 1e-6
    if fraction < step:
        numeric = (-3 * delay_taps(fraction) + 4 * delay_taps(fraction + step) - delay_taps(fraction + 2 * step)) / (
            2 * step
        )
    else:
        numeric = (delay_taps(fraction + step) - delay_taps(fraction - step)) / (2 * step)
    np.testing.assert_allclose(derivative, numeric, atol=1e-7 * np.max(np.abs(derivative)))


def _direct_model(estimator, position, bistatic, reference, start, length):
    """The echo model written out with the time-domain operator the echo channel uses."""
    g = estimator.geometry.with_target(position)
    s = g.a_tx(g.theta).conj() @ reference
    delayed = delayed_segment(s, start, length, bistatic * estimator.samples_per_metre, estimator.half_taps)
    return estimator.beta * np.outer(g.a_rx(g.phi), delayed)


@pytest.mark.parametrize("block_start", [300, 40, 0])
def test_fast_model_matches_the_time_domain_windowed_sinc(block_start):
    """The model (convolution on the needed columns) and the refinement's FFT evaluation of the same
    operator agree with ``delayed_segment`` applied to ``a_NT(theta)^H x`` to 1e-9 relative, also where the
    reference does not reach back far enough (zeros before its first column)."""
    estimator = TargetEstimator.from_scenario("tradeoff")
    rng = np.random.default_rng(11)
    reference = rng.normal(size=(4, 1500)) + 1j * rng.normal(size=(4, 1500))
    for _ in range(5):
        position = estimator.geometry.target + rng.uniform(-20, 20, 2)
        bistatic = estimator._bistatic_range(position) + rng.normal() * 30
        direct = _direct_model(estimator, position, bistatic, reference, block_start, N)
        scale = np.max(np.abs(direct))
        fast = estimator.model(position, bistatic, reference, block_start, N)
        np.testing.assert_allclose(fast, direct, rtol=0, atol=1e-9 * scale)
        rows, signals, _ = estimator._echo_terms(position, bistatic, reference, block_start, N)
        np.testing.assert_allclose(estimator.beta * np.outer(rows[0], signals[0]), direct, rtol=0, atol=1e-9 * scale)


def test_analytic_jacobian_matches_central_differences():
    """The exact derivatives of the model with respect to ``(o_x, o_y, l)`` against central differences of
    the model (steps 1e-4 m: truncation ~1e-8 of the derivative, rounding far below), at positions and
    delays with fractions across the sample."""
    estimator = TargetEstimator.from_scenario("tradeoff")
    rng = np.random.default_rng(12)
    reference = rng.normal(size=(4, 1600)) + 1j * rng.normal(size=(4, 1600))
    start = 400
    step = 1e-4
    for _ in range(4):
        position = estimator.geometry.target + rng.uniform(-20, 20, 2)
        bistatic = estimator._bistatic_range(position) + rng.normal() * 30
        _, jac = estimator._echo_and_jacobian(position, bistatic, reference, start, N)
        for a in range(3):
            shift = np.zeros(3)
            shift[a] = step
            plus = estimator.model(position + shift[:2], bistatic + shift[2], reference, start, N)
            minus = estimator.model(position - shift[:2], bistatic - shift[2], reference, start, N)
            numeric = (plus - minus) / (2 * step)
            np.testing.assert_allclose(jac[a], numeric, rtol=0, atol=1e-6 * np.max(np.abs(numeric)))


def test_estimate_is_a_stationary_point_of_the_full_posterior():
    """On noisy blocks the refined estimate minimises the negative log posterior written out in full
    (every residual of the N_R x N block and the prior): its gradient by central differences is zero to
    within a Newton step of ``REFINE_STEP_STDS`` (1e-2) of the estimate's standard deviation, the distance
    to the optimum the refinement promises."""
    from gnuradio.issc.sensing.estimator import REFINE_STEP_STDS

    scenario = load_scenario("tradeoff")
    estimator = TargetEstimator.from_scenario(scenario)
    g = estimator.geometry
    noise_std = np.sqrt(noise_powers_w(scenario)[1])
    spread = SPEED_OF_LIGHT * scenario.sync.sigma_ns * 1e-9
    rng = np.random.default_rng(13)
    for _ in range(3):
        y, x, start = make_block(estimator, rng, g.target, rng.normal() * spread, float(dbm_to_w(30)), noise_std)
        result = estimator.estimate(y, x, start)

        def cost(p, y=y, x=x, start=start):
            fitted = _direct_model(estimator, p[:2], p[2], x, start, N)
            prior = (p[2] - estimator._bistatic_range(p[:2])) / spread
            return np.sum(np.abs(y - fitted) ** 2) / estimator.noise_w + prior**2 / 2

        p0 = np.array([*result.position, result.bistatic_range_m])
        h = 1e-3
        grad, hess = np.zeros(3), np.zeros((3, 3))
        for a in range(3):
            e_a = np.eye(3)[a] * h
            grad[a] = (cost(p0 + e_a) - cost(p0 - e_a)) / (2 * h)
            for b in range(3):
                e_b = np.eye(3)[b] * h
                hess[a, b] = (
                    cost(p0 + e_a + e_b) - cost(p0 + e_a - e_b) - cost(p0 - e_a + e_b) + cost(p0 - e_a - e_b)
                ) / (4 * h * h)
        newton = np.linalg.solve(hess, grad)
        std = np.sqrt(np.diag(np.linalg.inv(hess)))
        assert np.all(np.abs(newton) < REFINE_STEP_STDS * std), (newton, std)


def test_coarse_search_is_the_grid_minimum_by_brute_force():
    """The vectorised coarse search (antenna-domain FFT correlations, all pairs at once) returns the grid
    point that a direct time-domain evaluation of the cost at every (theta, phi) pair inside the region
    and every integer lag finds, on noisy blocks with the target anywhere in the region."""
    from gnuradio.issc.physics.geometry import angle_of, steering_vector
    from gnuradio.issc.sensing.estimator import _angle_grid

    scenario = load_scenario("tradeoff")
    estimator = TargetEstimator.from_scenario(scenario)
    g = estimator.geometry
    noise_std = np.sqrt(noise_powers_w(scenario)[1])
    rng = np.random.default_rng(14)
    for _ in range(3):
        position = g.target + rng.uniform(-18, 18, 2)
        y, x, start = make_block(estimator, rng, position, rng.normal() * 30, float(dbm_to_w(20)), noise_std)
        found_position, found_ell = estimator._coarse_search(y, x, start, g.target)
        corners = estimator._region_corners()
        thetas = _angle_grid([angle_of(g.tx, c) for c in corners], estimator.angle_step)
        phis = _angle_grid([angle_of(g.sensing_rx, c) for c in corners], estimator.angle_step)
        # every integer delay of a bistatic range the region and +-5 sigma of sync error allow
        ranges = [estimator._bistatic_range(c) for c in corners + [g.target]]
        reach = SYNC_TRUNCATION_SIGMAS * estimator.sync_spread_m + estimator.halfwidth
        lags = np.arange(
            int(np.floor(estimator.delay_samples(max(min(ranges) - reach, 0)))),
            min(int(np.ceil(estimator.delay_samples(max(ranges) + reach))), start) + 1,
        )
        best = (np.inf, None, None)
        for theta in thetas:
            s = steering_vector(g.n_tx, theta, g.spacing).conj() @ x
            shifted = np.stack([s[start - lag : start - lag + N] for lag in lags])  # lags x N
            for phi in phis:
                d1, d2 = np.array([np.cos(theta), np.sin(theta)]), np.array([np.cos(phi), np.sin(phi)])
                t1, t2 = np.linalg.solve(np.column_stack([d1, -d2]), g.sensing_rx - g.tx)
                point = g.tx + t1 * d1
                if t1 <= 0 or t2 <= 0 or np.max(np.abs(point - g.target)) > estimator.halfwidth:
                    continue
                fitted = estimator.beta * steering_vector(g.n_rx, phi, g.spacing)[None, :, None] * shifted[:, None, :]
                data = np.sum(np.abs(y[None] - fitted) ** 2, axis=(1, 2)) / estimator.noise_w
                ell = lags / estimator.samples_per_metre
                cost = data + estimator._coarse_prior_cost(ell, estimator._bistatic_range(point))
                k = int(np.argmin(cost))
                if cost[k] < best[0]:
                    best = (cost[k], point, ell[k])
        np.testing.assert_allclose(found_position, best[1], atol=1e-9)
        assert found_ell == pytest.approx(best[2], abs=1e-9)
