# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tracking mode end to end: the moving target in the echo channel, the controller's tracker and its
fallback beam, and the closed loop through the streaming link.

::

    image_source -> semantic_encoder -> frame_encoder -> beamformer -+-> comm_channel -> frame_decoder -> ...
                        ^ config                                     +-> echo_channel (moving target)
                    controller <--estimate-- sensing_estimator <-----+        |
                        +---------track------------^  <-------------------------+
"""

import json

import numpy as np
import pytest

from gnuradio.issc.errors import ScenarioError
from gnuradio.issc.physics.channels import EchoChannel
from gnuradio.issc.physics.dsp import delayed_segment
from gnuradio.issc.physics.motion import scenario_trajectory
from gnuradio.issc.scenario import Scenario, load_scenario
from gnuradio.issc.units import SPEED_OF_LIGHT


def moving_scenario(**motion):
    values = {"waypoints": [[140, 80]], "speed_mps": 1000.0, "block_interval_s": 0.01}
    values.update(motion)
    return load_scenario("tradeoff").replace(motion=values, sync={"sigma_ns": 0.0})


def test_moving_echo_follows_the_trajectory_block_by_block():
    """Noise-free, no sync error, a white reference in uneven chunks: each block's tag carries the
    trajectory's position at ``b * interval``, its delay is the path length of that position over c,
    and its samples equal ``beta_0 a_R(phi) (a_T(theta)^H x)(n - tau)`` with that block's geometry."""
    scn = moving_scenario()
    channel = EchoChannel.from_scenario(scn)
    channel.noise_w = 0.0
    n_blocks, block = 5, scn.signal.sensing_block
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((4, n_blocks * block)) + 1j * rng.standard_normal((4, n_blocks * block))) / 2
    outputs, tags = [], []
    edges = np.sort(rng.choice(np.arange(1, x.shape[1]), 17, replace=False))
    for idx in np.split(np.arange(x.shape[1]), edges):
        y, t = channel.process(x[:, idx])
        outputs.append(y)
        tags += t
    y = np.concatenate(outputs, axis=1)
    trajectory = scenario_trajectory(scn)
    starts = {info["block"]: (offset, info) for offset, info in tags}
    positions = []
    for b in range(n_blocks):
        offset, info = starts[b]
        assert offset == b * block
        truth = trajectory.position(b * 0.01)
        positions.append(truth)
        np.testing.assert_allclose([info["target_x"], info["target_y"]], truth, atol=1e-9)
        g = channel.geometry.with_target(truth)
        assert info["delay_s"] == pytest.approx(g.path_length / SPEED_OF_LIGHT, rel=1e-12)
        projected = g.a_tx(g.theta).conj() @ x
        expected = np.outer(
            g.beta_0 * g.a_rx(g.phi),
            delayed_segment(projected, offset, block, info["delay_s"] * scn.signal.bandwidth_hz, channel.half_taps),
        )
        np.testing.assert_allclose(y[:, offset : offset + block], expected, atol=1e-9 * np.abs(expected).max())
    # the target really moved: 10 m per block at 1000 m/s and 10 ms
    assert np.linalg.norm(positions[-1] - positions[0]) == pytest.approx(40.0, rel=1e-9)


@pytest.mark.parametrize(
    "section, values, key",
    [
        ("motion", {"waypoints": [[0, 0.5]]}, "motion.waypoints[0]"),
        ("motion", {"block_interval_s": 1e-6}, "motion.block_interval_s"),
        ("motion", {"waypoints": "north"}, "motion.waypoints"),
        ("motion", {"speed_mps": -1}, "motion.speed_mps"),
        ("tracking", {"enabled": "yes"}, "tracking.enabled"),
        ("tracking", {"fallback_antennas": 5}, "tracking.fallback_antennas"),
    ],
)
def test_bad_motion_and_tracking_keys_are_named(section, values, key):
    with pytest.raises(ScenarioError, match=key.replace("[", r"\[").replace("]", r"\]")):
        Scenario.from_dict({section: values})


def test_static_scenarios_do_not_move():
    for name in ("paper", "tradeoff"):
        scn = load_scenario(name)
        assert not scn.moving and not scn.tracking.enabled
    assert load_scenario("tracking").moving and load_scenario("tracking").tracking.enabled


@pytest.fixture
def controller():
    from gnuradio.issc import controller

    return controller("tracking", solver="zf-wf", mode="tracking", ber_model="calibrated")


def test_controller_designs_for_the_tracked_target_and_widens_the_beam_when_lost(controller):
    """Accurate estimates along the trajectory: the design target converges to the trajectory's position
    one lead ahead along a straight line. Then max_misses rejected estimates: the track is lost and the sensing
    beam becomes
    the sub-array beam (only the first ceil(N_T/2) antennas, same sensing power); one accepted estimate
    restores the full design."""
    scn = load_scenario("tracking")
    trajectory, interval = scenario_trajectory(scn), scn.block_interval_s()
    lead_s = controller._lead_s()
    for block in range(0, 152, 4):  # the first leg (the turn is at 0.89 s, block 178)
        truth = trajectory.position(block * interval)
        track = controller.track_update(block, {"ok": True, "x": truth[0], "y": truth[1], "hcrb_trace": 0.02})
    assert not track["lost"]
    # constant velocity: the prediction goes straight on, also past the turn that lies within the lead
    ahead = trajectory.position(148 * interval) + lead_s * trajectory.velocity(148 * interval)
    assert np.linalg.norm(controller._target - ahead) < 0.5
    normal = controller._decide(controller._parameters())
    assert normal.predicted["design_x"] == pytest.approx(controller._target[0])
    assert not normal.predicted["track_lost"]
    for block in range(152, 152 + 4 * scn.tracking.max_misses, 4):
        track = controller.track_update(block, {"ok": False, "hcrb_trace": 5.0})
    assert track["lost"]
    widened = controller._decide(controller._parameters())
    assert widened.predicted["widened"] and widened.predicted["track_lost"]
    half = -(-scn.arrays.n_tx // 2)
    assert np.all(widened.w_0[half:] == 0) and np.all(widened.w_0[:half] != 0)
    assert np.linalg.norm(widened.w_0) == pytest.approx(np.linalg.norm(normal.w_0), rel=0.3)  # both meet ~Pi
    truth = trajectory.position(170 * interval)
    track = controller.track_update(170, {"ok": True, "x": truth[0], "y": truth[1], "hcrb_trace": 0.02})
    assert not track["lost"]
    assert not controller._decide(controller._parameters()).predicted["widened"]


def test_stale_and_malformed_estimates_do_not_move_the_track(controller):
    assert controller.track_update(10, {"ok": True, "x": 101.0, "y": 51.0, "hcrb_trace": 4.0}) is not None
    target = controller._target.copy()
    assert controller.track_update(5, {"ok": True, "x": 0.0, "y": 0.0, "hcrb_trace": 4.0}) is None  # older
    assert controller.track_update(12, {"ok": True, "x": float("nan"), "y": 1.0, "hcrb_trace": 4.0})["misses"] == 1
    assert np.linalg.norm(controller._target - target) < 1.0


def test_link_in_tracking_mode_follows_the_moving_target(tmp_path):
    """The whole link on the shipped ``tracking`` scenario with the shipped codec (full-size frames: the
    loop's latency is a few frames, as in the demo): the true positions the monitor reports lie on the
    trajectory's first leg and move; over the last frames the beams' design position is much closer to
    the target than the static design (the scenario's start) would be."""
    from gnuradio.issc.flowgraphs.link import IsscLink

    link = IsscLink("tracking", frames=10, out_dir=str(tmp_path / "out"), sensing_every=2)
    summary = link.run_frames(timeout_s=600)
    rows = [json.loads(line) for line in (tmp_path / "out" / "frames.jsonl").read_text().splitlines()]
    assert summary["frames"] == 10 and not summary["interrupted"]
    assert all(r["true_x"] is not None for r in rows)
    scn = load_scenario("tracking")
    start, first_turn = np.array(scn.geometry.target), np.array(scn.motion.waypoints[0])
    direction = (first_turn - start) / np.linalg.norm(first_turn - start)
    truths = np.array([[r["true_x"], r["true_y"]] for r in rows])
    along = (truths - start) @ direction
    np.testing.assert_allclose(start + np.outer(along, direction), truths, atol=1e-6)
    assert np.all(np.diff(along) > 0)
    late = rows[-4:]
    tracked = np.mean([r["tracking_error_m"] for r in late])
    static = np.mean([np.hypot(r["true_x"] - start[0], r["true_y"] - start[1]) for r in late])
    assert tracked < 0.6 * static, (tracked, static)
    assert all(r["hcrb_rmse_true_m"] > 0 for r in rows)


@pytest.mark.parametrize("scenario, wide", [("tradeoff", True), ("tracking", False)])
def test_wide_buffers_and_child_processes_except_in_tracking_mode(scenario, wide):
    """Outside tracking mode the transmitter's and the channels' blocks get STREAM_BUFFER_ITEMS of output
    buffer and the estimator and the polar decoder their own processes; in tracking mode all stay as GNU
    Radio and the blocks have them
    (flowgraphs/link.py: the track's lag in frames depends on the transmitter's pace)."""
    from gnuradio.issc.flowgraphs.link import STREAM_BUFFER_ITEMS, IsscLink

    link = IsscLink(scenario, frames=1, size=64, sensing_every=1)
    blocks = [
        link.frame_encoder,
        link.sensing_source,
        link.beamformer,
        link.channels.comm_channel,
        link.channels.echo_channel,
    ]
    assert [block.min_output_buffer(0) == STREAM_BUFFER_ITEMS for block in blocks] == [wide] * 5
    assert link.estimator.separate_process is wide
    assert link.frame_decoder.separate_process is wide
