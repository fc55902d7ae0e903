# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller's tracking policy against hand-computed numbers: the first Kalman update in closed form,
a straight-line target's design position one lead ahead, track loss and the widened beam, stale reports,
which reports are measurements, the track message and the lead time."""

import math

import numpy as np
import pytest

from gnuradio.issc.errors import IsscInputError
from gnuradio.issc.scenario import Scenario, load_scenario
from gnuradio.issc.sensing.policy import TrackingPolicy, TrackState, usable_measurement

INTERVAL_S = 0.005  # the shipped tracking scenario's motion.block_interval_s


@pytest.fixture
def scenario():
    """Target starts at (100, 50); search half-width 20 m (initial std 10 m); N_T = 4; 3 misses lose it."""
    return load_scenario("tracking")


def test_the_links_tracker_starts_at_the_target_with_the_policys_speed_prior(scenario):
    tracker = TrackingPolicy.tracker_for(scenario)
    np.testing.assert_array_equal(tracker.state, [100.0, 50.0, 0.0, 0.0])
    np.testing.assert_array_equal(np.diag(tracker.covariance), [100.0, 100.0, 50.0**2, 50.0**2])
    assert (tracker.acceleration_std, tracker.max_misses) == (5.0, 3)
    policy = TrackingPolicy(scenario)
    np.testing.assert_array_equal(policy.tracker.covariance, tracker.covariance)
    np.testing.assert_array_equal(policy.design_position, [100.0, 50.0])  # no report yet: the scenario's


def test_first_report_is_the_scalar_kalman_update_per_axis(scenario):
    """At t = 0 nothing is predicted; position variance 100, measurement variance hcrb/2 = 2 per axis, no
    position-velocity correlation: the position moves by 100/102 of the innovation, the velocity stays 0,
    and with zero velocity the design position (any lead) is the position."""
    policy = TrackingPolicy(scenario, lead_s=0.5)
    track = policy.update(0, {"ok": True, "x": 110.0, "y": 45.0, "hcrb_trace": 4.0})
    gain = 100.0 / 102.0
    assert track == pytest.approx(
        {
            "t_s": 0.0,
            "x": 100.0 + 10.0 * gain,
            "y": 50.0 - 5.0 * gain,
            "vx": 0.0,
            "vy": 0.0,
            "lost": False,
            "misses": 0,
        },
        rel=1e-12,
        abs=1e-12,
    )
    np.testing.assert_allclose(policy.design_position, [track["x"], track["y"]], rtol=1e-12)
    assert policy.widen_antennas == 0


def test_design_position_is_a_straight_line_target_one_lead_ahead(scenario):
    """Exact measurements (hcrb 1e-8 m^2) of a target at 20 m/s east and 10 m/s south: the filter locks on,
    and the design is where the target will be lead_s = 0.18 s after the last block, p(t) + v * lead."""
    velocity = np.array([20.0, -10.0])
    policy = TrackingPolicy(scenario, lead_s=0.18)
    for block in range(0, 60, 6):
        truth = np.array([100.0, 50.0]) + velocity * block * INTERVAL_S
        track = policy.update(block, {"ok": True, "x": truth[0], "y": truth[1], "hcrb_trace": 1e-8})
    t_last = 54 * INTERVAL_S
    assert track["t_s"] == pytest.approx(t_last)
    np.testing.assert_allclose([track["vx"], track["vy"]], velocity, atol=1e-3)
    expected = np.array([100.0, 50.0]) + velocity * (t_last + 0.18)
    np.testing.assert_allclose(policy.design_position, expected, atol=1e-3)


@pytest.mark.parametrize("fallback, widened", [(0, 2), (3, 3)])  # 0: ceil(N_T / 2) of N_T = 4
def test_max_misses_lose_the_track_widen_the_beam_and_one_accepted_report_restores_it(scenario, fallback, widened):
    policy = TrackingPolicy(scenario.replace(tracking={"fallback_antennas": fallback}))
    policy.update(0, {"ok": True, "x": 100.0, "y": 50.0, "hcrb_trace": 1.0})
    for k, block in enumerate((4, 8, 12), start=1):
        track = policy.update(block, {"ok": False, "hcrb_trace": 5.0})
        assert track["misses"] == k and track["lost"] == (k == 3)
        assert policy.widen_antennas == (widened if k == 3 else 0)
    track = policy.update(16, {"ok": True, "x": 100.0, "y": 50.0, "hcrb_trace": 1.0})
    assert not track["lost"] and track["misses"] == 0 and policy.widen_antennas == 0


def test_a_stale_report_changes_nothing(scenario):
    policy = TrackingPolicy(scenario, lead_s=0.1)
    policy.update(10, {"ok": True, "x": 101.0, "y": 51.0, "hcrb_trace": 4.0})
    state, design = policy.tracker.state.copy(), policy.design_position.copy()
    assert policy.update(5, {"ok": True, "x": 0.0, "y": 0.0, "hcrb_trace": 4.0}) is None
    np.testing.assert_array_equal(policy.tracker.state, state)
    np.testing.assert_array_equal(policy.design_position, design)
    assert policy.time_s == 10 * INTERVAL_S and policy.tracker.updates == 1


@pytest.mark.parametrize(
    "report",
    [
        {"ok": False, "x": 1.0, "y": 2.0, "hcrb_trace": 4.0},
        {"x": 1.0, "y": 2.0, "hcrb_trace": 4.0},
        {"ok": True, "y": 2.0, "hcrb_trace": 4.0},
        {"ok": True, "x": math.nan, "y": 2.0, "hcrb_trace": 4.0},
        {"ok": True, "x": 1.0, "y": 2.0, "hcrb_trace": math.inf},
        {"ok": True, "x": 1.0, "y": 2.0, "hcrb_trace": 0.0},
        {"ok": True, "x": 1.0, "y": "2", "hcrb_trace": 4.0},
    ],
)
def test_unusable_reports_are_misses(report):
    assert usable_measurement(report) is None


def test_a_usable_report_splits_the_bound_over_both_axes():
    position, covariance = usable_measurement({"ok": True, "x": 1.0, "y": 2, "hcrb_trace": 6.0})
    np.testing.assert_array_equal(position, [1.0, 2.0])
    np.testing.assert_array_equal(covariance, [[3.0, 0.0], [0.0, 3.0]])


def test_track_state_predicts_on_a_straight_line_and_round_trips_as_a_message():
    state = TrackState(1.0, np.array([100.0, 50.0]), np.array([10.0, -2.0]), True, 4)
    np.testing.assert_allclose(state.position_at(1.5), [105.0, 49.0], rtol=1e-15)
    np.testing.assert_allclose(state.position_at(0.0), [90.0, 52.0], rtol=1e-15)
    message = state.to_message()
    assert message == {"t_s": 1.0, "x": 100.0, "y": 50.0, "vx": 10.0, "vy": -2.0, "lost": True, "misses": 4}
    back = TrackState.from_message(message)
    assert (back.t_s, back.lost, back.misses) == (1.0, True, 4)
    np.testing.assert_array_equal(np.concatenate([back.position, back.velocity]), [100.0, 50.0, 10.0, -2.0])


@pytest.mark.parametrize(
    "change, message",
    [
        ({"vx": None}, "numeric t_s, x, y, vx, vy"),
        ({"x": True}, "numeric"),
        ({"t_s": "0"}, "numeric"),
        ({"y": math.nan}, "non-finite"),
    ],
)
def test_malformed_track_messages_are_named(change, message):
    values = {"t_s": 0.0, "x": 1.0, "y": 2.0, "vx": 0.0, "vy": 0.0, **change}
    with pytest.raises(IsscInputError, match=message):
        TrackState.from_message({k: v for k, v in values.items() if v is not None})


def test_lead_time_is_frames_times_blocks_per_frame_times_the_block_interval(scenario):
    # tracking scenario: ABR 1/16 of 3 * 256 * 256 = 12288 channel uses = 12 blocks of 1024 per frame
    assert TrackingPolicy.lead_time_s(3.0, 12.0, 0.005) == pytest.approx(0.18, rel=1e-15)
    assert TrackingPolicy.lead_time_s(0, 12.0, 0.005) == 0.0
    for bad in (-1.0, math.nan, math.inf, "3"):
        with pytest.raises(IsscInputError, match="lead_frames"):
            TrackingPolicy.lead_time_s(bad, 12.0, 0.005)
    with pytest.raises(IsscInputError, match="lead time"):
        TrackingPolicy(scenario, lead_s=-0.1)


def test_the_velocity_prior_comes_from_the_scenario(scenario):
    """``tracking.initial_speed_std_mps`` is the one place the link's velocity prior is set."""
    data = scenario.to_dict()
    data["tracking"]["initial_speed_std_mps"] = 7.0
    tracker = TrackingPolicy.tracker_for(Scenario.from_dict(data))
    np.testing.assert_array_equal(np.diag(tracker.covariance)[2:], [49.0, 49.0])
