# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The streaming estimator (the sensing estimator block's core) on synthetic echoes from the echo channel:
which blocks it estimates, the frame and truth it names for each, estimates within the bound of the
truth, the track's search centre, and reports that do not depend on how the streams are cut into chunks."""

import numpy as np
import pytest

from gnuradio.issc.errors import IsscInputError
from gnuradio.issc.physics.channels import EchoChannel
from gnuradio.issc.physics.geometry import Geometry
from gnuradio.issc.physics.motion import scenario_trajectory
from gnuradio.issc.scenario import load_scenario
from gnuradio.issc.sensing.policy import TrackState
from gnuradio.issc.sensing.streaming import StreamingEstimator
from gnuradio.issc.units import SPEED_OF_LIGHT

BLOCK = 1024


def synthetic_echo(scenario, blocks, seed=9, power_w=1.0):
    """``blocks`` sensing blocks of a white stream beamed at the scenario's (start) target with ``power_w``
    (30 dBm), through the scenario's echo channel (noise and sync errors on): (reference, echo, tags)."""
    scn = load_scenario(scenario)
    geometry = Geometry.from_scenario(scn)
    rng = np.random.default_rng(seed)
    stream = (rng.standard_normal(blocks * BLOCK) + 1j * rng.standard_normal(blocks * BLOCK)) / np.sqrt(2)
    reference = np.outer(np.sqrt(power_w / geometry.n_tx) * geometry.a_tx(geometry.theta), stream)
    reference = reference.astype(np.complex64)  # what the block's inputs carry
    echo, tags = EchoChannel.from_scenario(scn, seed).process(reference)
    return reference, echo.astype(np.complex64), tags


def feed(streaming, reference, echo, tags, cuts, frame_starts=()):
    """Feed the streams cut at ``cuts``, each chunk's tags and frame starts first (as the block does)."""
    reports = []
    edges = [0, *cuts, reference.shape[1]]
    for lo, hi in zip(edges[:-1], edges[1:]):
        for offset, seq in frame_starts:
            if lo <= offset < hi:
                streaming.frame_started(offset, seq)
        for offset, info in tags:
            if lo <= offset < hi:
                streaming.echo_tag(info)
        reports += streaming.process(reference[:, lo:hi], echo[:, lo:hi])
    return reports


@pytest.fixture(scope="module")
def static_echo():
    return synthetic_echo("tradeoff", 6)


def test_one_block_in_every_named_by_frame_with_truth_and_within_the_bound(static_echo):
    """every = 2 over 6 blocks: blocks 0, 2, 4. Frames start at samples 0, 2500 and 4200, so the blocks
    starting at 0, 2048, 4096 belong to frames 0, 0, 1. The truth is the tag's (the static target, the
    block's sync error), and the estimate lies within 5 sqrt(tr HCRB) of it."""
    reference, echo, tags = static_echo
    streaming = StreamingEstimator.from_scenario("tradeoff", every=2)
    reports = feed(streaming, reference, echo, tags, [], frame_starts=[(0, 0), (2500, 1), (4200, 2)])
    assert [r["block"] for r in reports] == [0, 2, 4] and [r["seq"] for r in reports] == [0, 0, 1]
    assert streaming.estimates == 3 and streaming.samples_seen == 6 * BLOCK
    truth = {info["block"]: info for _, info in tags}
    target = load_scenario("tradeoff").geometry.target
    for r in reports:
        assert r["ok"] is True and r["glrt"] > 25
        assert (r["true_x"], r["true_y"]) == target and (r["centre_x"], r["centre_y"]) == target
        assert r["true_sync_error_m"] == truth[r["block"]]["sync_error_s"] * SPEED_OF_LIGHT
        assert r["error_m"] == pytest.approx(np.hypot(r["x"] - target[0], r["y"] - target[1]), rel=1e-12)
        assert r["error_m"] < 5 * np.sqrt(r["hcrb_trace"])
        assert 0 < r["hcrb_trace_true"] < 100


def test_chunk_boundaries_do_not_change_the_reports(static_echo):
    """One chunk, one chunk per sample-ish handful at the start, and random uneven chunks (some shorter
    than the history, some spanning several blocks) give identical reports, to the last bit."""
    reference, echo, tags = static_echo
    frames = [(0, 0), (2500, 1), (4200, 2)]
    rng = np.random.default_rng(2)
    cuttings = [
        [],
        [1, 2, 3, 50, 1023, 1024, 1025],
        sorted(rng.choice(np.arange(1, 6 * BLOCK), 40, replace=False)),
        list(range(100, 6 * BLOCK, 100)),
    ]
    results = [
        feed(StreamingEstimator.from_scenario("tradeoff", every=1), reference, echo, tags, list(cuts), frames)
        for cuts in cuttings
    ]
    assert [r["block"] for r in results[0]] == list(range(6))
    assert [r["seq"] for r in results[0]] == [0, 0, 0, 1, 1, 2]
    for other in results[1:]:
        assert other == results[0]


def test_without_frames_or_truth_the_report_says_so(static_echo):
    """No frame starts: seq -1. No echo tags: no true_* keys, and error_m is measured from the scenario's
    target."""
    reference, echo, _ = static_echo
    reports = feed(StreamingEstimator.from_scenario("tradeoff", every=3), reference, echo, [], [])
    assert [(r["block"], r["seq"]) for r in reports] == [(0, -1), (3, -1)]
    target = load_scenario("tradeoff").geometry.target
    for r in reports:
        assert not any(k.startswith("true") for k in r)
        assert r["error_m"] == pytest.approx(np.hypot(r["x"] - target[0], r["y"] - target[1]), rel=1e-12)


def test_non_finite_echo_gives_a_flagged_non_estimate_without_nan_values(static_echo):
    reference, echo, tags = static_echo
    echo = echo.copy()
    echo[0, 2100:2200] = np.nan
    reports = feed(StreamingEstimator.from_scenario("tradeoff", every=1), reference, echo, tags, [3000])
    bad = reports[2]
    assert bad["block"] == 2 and bad["ok"] is False and "non-finite" in bad["reason"]
    assert "x" not in bad and "glrt" in bad and "hcrb_trace" not in bad  # NaN bound left out
    assert all(r["ok"] for i, r in enumerate(reports) if i != 2)


def test_a_track_centres_the_search_on_its_prediction_for_a_moving_target():
    """Tracking scenario (30 m/s, one block per 5 ms): with the true state at t = 0 as the track, the search
    centre of block b is p0 + v * 0.005 b (hand-computed for block 3), the truth follows the trajectory,
    and the estimates lie within the bound of it."""
    scn = load_scenario("tracking")
    trajectory = scenario_trajectory(scn)
    reference, echo, tags = synthetic_echo(scn, 4)
    streaming = StreamingEstimator.from_scenario(scn, every=1)
    velocity = trajectory.velocity(0.0)
    streaming.set_track(TrackState(0.0, np.array([100.0, 50.0]), velocity))
    np.testing.assert_allclose(
        streaming.search_centre(3), [100.0 + velocity[0] * 0.015, 50.0 + velocity[1] * 0.015], rtol=1e-15
    )
    reports = feed(streaming, reference, echo, tags, [700, 2900])
    assert [r["block"] for r in reports] == [0, 1, 2, 3]
    for r in reports:
        truth = trajectory.position(r["block"] * 0.005)
        np.testing.assert_allclose([r["true_x"], r["true_y"]], truth, atol=1e-9)
        np.testing.assert_allclose([r["centre_x"], r["centre_y"]], streaming.search_centre(r["block"]), rtol=1e-15)
        assert r["ok"] and np.hypot(r["x"] - truth[0], r["y"] - truth[1]) < 5 * np.sqrt(r["hcrb_trace"])
    streaming.set_track(None)
    np.testing.assert_array_equal(streaming.search_centre(3), [100.0, 50.0])


def test_malformed_inputs_are_named():
    streaming = StreamingEstimator.from_scenario("tradeoff", every=1)
    with pytest.raises(IsscInputError, match="integer 'block'"):
        streaming.echo_tag({"block": True, "sync_error_s": 0.0})
    with pytest.raises(IsscInputError, match="sync_error_s"):
        streaming.echo_tag({"block": 1})
    with pytest.raises(IsscInputError, match="4 x n reference and 4 x n echo"):
        streaming.process(np.zeros((4, 10)), np.zeros((3, 10)))
    with pytest.raises(IsscInputError, match="every"):
        StreamingEstimator.from_scenario("tradeoff", every=0)
