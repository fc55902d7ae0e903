# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Target motion and the constant-velocity tracker: closed forms, Kalman consistency by Monte Carlo,
gating, and tracking a straight-line target with the real MAP estimator in the loop."""

import math

import numpy as np
import pytest

from gnuradio.issc.errors import IsscInputError
from gnuradio.issc.experiments.estimator import simulate_block
from gnuradio.issc.physics.geometry import noise_powers_w
from gnuradio.issc.physics.motion import Trajectory
from gnuradio.issc.scenario import load_scenario
from gnuradio.issc.sensing.estimator import TargetEstimator
from gnuradio.issc.sensing.tracking import ConstantVelocityTracker
from gnuradio.issc.units import SPEED_OF_LIGHT, dbm_to_w


def test_trajectory_positions_and_velocities_follow_the_legs():
    path = Trajectory([[0, 0], [30, 40], [30, 0]], speed_mps=10.0)  # legs of 50 m and 40 m
    assert path.length_m == pytest.approx(90.0)
    np.testing.assert_allclose(path.position(0.0), [0, 0])
    np.testing.assert_allclose(path.position(2.5), [15, 20])  # half of the first leg
    np.testing.assert_allclose(path.position(5.0), [30, 40])
    np.testing.assert_allclose(path.position(7.0), [30, 20])
    np.testing.assert_allclose(path.position(100.0), [30, 0])  # stays at the last waypoint
    np.testing.assert_allclose(path.velocity(1.0), [6, 8])
    np.testing.assert_allclose(path.velocity(6.0), [0, -10])
    np.testing.assert_allclose(path.velocity(20.0), [0, 0])
    np.testing.assert_allclose(Trajectory([[5, 6]], 3.0).position(10.0), [5, 6])
    for waypoints, speed in (([], 1.0), ([[0, 0, 0]], 1.0), ([[0, math.nan]], 1.0), ([[0, 0]], -1.0)):
        with pytest.raises(IsscInputError):
            Trajectory(waypoints, speed)


def test_kalman_errors_are_consistent_with_its_covariance():
    """Monte Carlo: a target whose velocity follows the filter's own white-acceleration model, measured
    with known covariance. The normalised estimation error squared (NEES), averaged over 200 runs x
    the last 20 of 40 steps, must be near the state dimension 4. A chi-square with 4 degrees of freedom
    has std 2.83; the errors of one run are correlated over a few steps, so about 1000 of the 4000
    samples are independent: std of the mean ~0.09, and +-0.3 is a 3.3-sigma band."""
    rng = np.random.default_rng(0)
    dt, accel, meas_std = 0.1, 2.0, 1.5
    nees, rejected = [], 0
    for _ in range(200):
        truth = np.array([100.0, 50.0, 8.0, -3.0])
        tracker = ConstantVelocityTracker(
            truth[:2] + rng.normal(size=2) * 10.0,
            initial_std_m=10.0,
            initial_speed_std_mps=20.0,
            acceleration_std=accel,
        )
        tracker.state[2:] = truth[2:] + rng.normal(size=2) * 20.0
        for step in range(40):
            # the discretised white-acceleration model, exactly as the filter assumes it
            noise = np.zeros(4)
            cov = accel**2 * np.array([[dt**4 / 4, dt**3 / 2], [dt**3 / 2, dt**2]])
            chol = np.linalg.cholesky(cov + 1e-15 * np.eye(2))
            for axis in (0, 1):
                pos_vel = chol @ rng.normal(size=2)
                noise[axis], noise[axis + 2] = pos_vel
            truth = np.array([truth[0] + dt * truth[2], truth[1] + dt * truth[3], truth[2], truth[3]]) + noise
            tracker.predict(dt)
            prior_state, prior_cov = tracker.state.copy(), tracker.covariance.copy()
            measured, meas_cov = truth[:2] + rng.normal(size=2) * meas_std, meas_std**2 * np.eye(2)
            result = tracker.update(measured, meas_cov)
            # the gate decision, recomputed from the predicted state and covariance
            innovation = measured - prior_state[:2]
            distance2 = innovation @ np.linalg.inv(prior_cov[:2, :2] + meas_cov) @ innovation
            assert result.distance2 == pytest.approx(distance2, rel=1e-9)
            assert result.accepted == (distance2 <= tracker.gate)
            if not result.accepted:
                rejected += 1
                np.testing.assert_array_equal(tracker.state, prior_state)
                np.testing.assert_array_equal(tracker.covariance, prior_cov)
            if step >= 20:
                err = tracker.state - truth
                nees.append(err @ np.linalg.solve(tracker.covariance, err))
    assert 3.7 <= np.mean(nees) <= 4.3
    # the gate is the 99.9 % point of the consistent innovations' chi-square: ~8 of the 8000 are rejected
    assert 1 <= rejected <= 30


def test_the_gate_is_the_mahalanobis_distance_of_the_innovation():
    """Measurements placed at a chosen Mahalanobis distance from the prediction, in a direction where
    the innovation covariance is anisotropic (correlated measurement noise): just inside the gate is
    accepted and fused as the textbook Kalman update, just outside is rejected and changes nothing."""
    meas_cov = np.array([[4.0, 1.5], [1.5, 1.0]])
    for direction in ([1.0, 0.0], [0.0, 1.0], [1.0, -1.0], [3.0, 2.0]):
        for fraction, inside in ((0.95, True), (1.05, False), (0.2, True), (25.0, False)):
            tracker = ConstantVelocityTracker([100.0, 50.0], initial_std_m=3.0, initial_speed_std_mps=5.0)
            tracker.state[2:] = [4.0, -2.0]
            tracker.predict(0.5)
            state, cov = tracker.state.copy(), tracker.covariance.copy()
            innovation_cov = cov[:2, :2] + meas_cov
            u = np.asarray(direction) / np.linalg.norm(direction)
            scale = math.sqrt(fraction * tracker.gate / (u @ np.linalg.inv(innovation_cov) @ u))
            measured = state[:2] + scale * u
            result = tracker.update(measured, meas_cov)
            assert result.distance2 == pytest.approx(fraction * tracker.gate, rel=1e-9)
            assert result.accepted is inside and not result.lost
            if inside:
                gain = cov[:, :2] @ np.linalg.inv(innovation_cov)
                np.testing.assert_allclose(tracker.state, state + gain @ (measured - state[:2]), rtol=1e-12)
                np.testing.assert_allclose(tracker.covariance, cov - gain @ cov[:2, :], rtol=1e-9, atol=1e-12)
                assert tracker.misses == 0 and tracker.updates == 1
            else:
                np.testing.assert_array_equal(tracker.state, state)
                np.testing.assert_array_equal(tracker.covariance, cov)
                assert tracker.misses == 1 and tracker.updates == 0


def test_outliers_are_gated_and_the_track_is_lost_after_repeated_misses():
    tracker = ConstantVelocityTracker([100.0, 50.0], initial_std_m=2.0, max_misses=3)
    for _ in range(5):
        tracker.predict(0.1)
        assert tracker.update([100.0, 50.0], np.eye(2)).accepted
    before = tracker.state.copy()
    result = tracker.update([160.0, 50.0], np.eye(2))  # 60 m off: an outlier
    assert not result.accepted and result.distance2 > tracker.gate and not result.lost
    np.testing.assert_array_equal(tracker.state, before)
    tracker.update([100.0, 50.0], np.full((2, 2), np.nan))  # a non-estimate counts as a miss
    assert tracker.miss().lost and tracker.lost
    assert tracker.update([100.2, 50.0], np.eye(2)).accepted and not tracker.lost
    with pytest.raises(IsscInputError):
        tracker.predict(-1.0)


def test_tracking_a_straight_line_target_with_the_map_estimator():
    """The target crosses 30 m at 20 m/s; every 50 ms one echo block (40 dBm, isotropic, fresh sync
    error and noise) is estimated around the tracker's prediction, and the accepted estimates are fused
    with their block's HCRB as covariance. After 10 steps the filtered error stays below the per-block
    bound and the velocity is within 2 m/s."""
    scenario = load_scenario("tradeoff")
    estimator = TargetEstimator.from_scenario(scenario, search_halfwidth_m=15.0)
    noise_std = math.sqrt(noise_powers_w(scenario)[1])
    spread_m = SPEED_OF_LIGHT * scenario.sync.sigma_ns * 1e-9
    path = Trajectory([[92.0, 40.0], [116.0, 58.0]], speed_mps=20.0)  # 30 m in 1.5 s
    tracker = ConstantVelocityTracker(scenario.geometry.target, initial_std_m=10.0, acceleration_std=1.0)
    rng = np.random.default_rng(3)
    dt = 0.05
    errors, bounds = [], []
    for step in range(30):
        t = step * dt
        centre = tracker.predict(dt if step else 0.0)
        echo, reference, start = simulate_block(
            estimator,
            rng,
            path.position(t),
            rng.normal() * spread_m,
            float(dbm_to_w(40.0)),
            noise_std,
            scenario.signal.sensing_block,
            beam="iso",
        )
        estimate = estimator.estimate(echo, reference, start, centre=centre)
        if estimate.ok:
            tracker.update(estimate.position, estimate.hcrb_trace / 2 * np.eye(2))
        else:
            tracker.miss()
        if step >= 10:
            errors.append(np.linalg.norm(tracker.position - path.position(t)))
            bounds.append(math.sqrt(estimate.hcrb_trace))
    assert not tracker.lost
    assert np.sqrt(np.mean(np.square(errors))) < np.mean(bounds)
    np.testing.assert_allclose(tracker.velocity, path.velocity(29 * dt), atol=2.0)
