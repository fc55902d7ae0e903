# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The two channels against physics (docs/model.md §§3-4): the echo's per-antenna phases follow H_0,
its delay (integer and fractional) matches tau to 1e-3 samples, the sync error's sample variance
matches sigma_dt^2, and the streaming output does not depend on how the stream is chunked."""

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr, issc

from gnuradio.issc.errors import IsscInputError
from gnuradio.issc.physics.channels import (
    SYNC_TRUNCATION_SIGMAS,
    CommChannel,
    EchoChannel,
    causal_half_taps,
    echo_history_samples,
    truncated_standard_normal,
)
from gnuradio.issc.physics.geometry import Geometry
from gnuradio.issc.units import SPEED_OF_LIGHT


def tone_through(channel, frequency, n, chunks):
    """A complex tone steered at the target (so a_T^H x = the tone) through the channel, in chunks."""
    g = channel.geometry
    tone = np.exp(2j * np.pi * frequency * np.arange(n))
    x = np.outer(g.a_tx(g.theta), tone) / g.n_tx
    outputs, tags = [], []
    for idx in np.array_split(np.arange(n), chunks):
        y, t = channel.process(x[:, idx])
        outputs.append(y)
        tags += t
    return np.concatenate(outputs, axis=1), tags


@pytest.mark.parametrize("scenario", ["paper", "tradeoff"])
def test_echo_delay_and_phases_match_the_geometry(scenario):
    """Noise-free, a band-limited tone: per block, the echo equals beta_0 a_R(phi) s(n - tau_b) with the
    tag's tau_b, to 1e-3 samples of delay; the phases across antennas are those of a_R(phi)."""
    channel = EchoChannel.from_scenario(scenario, seed=11)
    channel.noise_w = 0.0
    g = channel.geometry
    frequency = 0.05
    y, tags = tone_through(channel, frequency, 12 * channel.block, chunks=29)
    assert [t[0] for t in tags] == [b * channel.block for b in range(12)]
    margin = channel.half_taps + int(np.ceil(channel.max_delay_samples)) + 2
    for start, info in tags[1:]:
        assert info["delay_s"] == pytest.approx(info["nominal_delay_s"] + info["sync_error_s"])
        segment = slice(start + margin, start + channel.block)
        n = np.arange(segment.start, segment.stop)
        delay = info["delay_s"] * channel.bandwidth_hz
        expected = g.beta_0 * np.outer(g.a_rx(g.phi), np.exp(2j * np.pi * frequency * (n - delay)))
        ratio = np.vdot(expected, y[:, segment]) / np.vdot(expected, expected)
        measured_delay = delay - np.angle(ratio) / (2 * np.pi * frequency)
        assert abs(measured_delay - delay) < 1e-3
        assert abs(abs(ratio) - 1) < 5e-3  # pass-band gain of the windowed sinc
        phases = y[:, segment.start] / y[0, segment.start]
        np.testing.assert_allclose(phases, g.a_rx(g.phi) / g.a_rx(g.phi)[0], atol=1e-9)


def test_integer_delay_of_an_impulse_lands_on_the_sample():
    """With sigma_dt = 0 and the delay shifted to an integer, an impulse comes out as an impulse at
    exactly n0 + delay (the windowed sinc at integer delay is a unit sample)."""
    g = Geometry.from_scenario("paper")
    channel = EchoChannel(g, 100e6, 0.0, 0.0, 1024)
    channel.nominal_delay_s = 71 / channel.bandwidth_hz
    x = np.zeros((g.n_tx, 300), complex)
    x[:, 10] = g.a_tx(g.theta) / g.n_tx
    y, _ = channel.process(x)
    assert np.argmax(np.abs(y[0])) == 81
    assert abs(y[0, 81]) == pytest.approx(g.beta_0, rel=1e-12)
    assert np.max(np.abs(np.delete(y[0], 81))) < 1e-12 * g.beta_0


def test_sync_error_variance_matches_sigma():
    """Over 4000 blocks, the drawn sync errors have mean 0 and variance sigma_dt^2 (chi-square 99.9 %
    band; the 5-sigma truncation changes the variance by 1.5e-5)."""
    channel = EchoChannel.from_scenario("tradeoff", seed=5)
    channel.block = 8
    _, tags = channel.process(np.zeros((4, 8 * 4000), complex))
    errors = np.array([t[1]["sync_error_s"] for t in tags])
    sigma = channel.sync_sigma_s
    assert len(errors) == 4000
    assert abs(errors.mean()) < 3.3 * sigma / np.sqrt(4000)
    assert 0.93 < errors.var() / sigma**2 < 1.075
    assert np.max(np.abs(errors)) <= SYNC_TRUNCATION_SIGMAS * sigma


class ScriptedDraws:
    """Stands in for a numpy Generator: ``standard_normal`` returns the given values in turn."""

    def __init__(self, values):
        self.values = list(values)

    def standard_normal(self):
        return self.values.pop(0)


def test_truncated_draws_reject_exactly_what_lies_beyond_the_truncation():
    k = SYNC_TRUNCATION_SIGMAS
    draws = ScriptedDraws([k + 1e-9, -(k + 0.5), -k, 7.0, k * 0.999])
    assert truncated_standard_normal(draws) == -k  # the bound itself is kept
    assert truncated_standard_normal(draws) == k * 0.999
    # inside the bounds a draw is the generator's own standard normal, one number per draw
    a, b = np.random.default_rng(4), np.random.default_rng(4)
    assert [truncated_standard_normal(a) for _ in range(1000)] == [float(b.standard_normal()) for _ in range(1000)]


@pytest.mark.parametrize("scenario", ["paper", "tracking"])
def test_echo_channel_keeps_the_history_of_its_longest_delay(scenario):
    """The history is the longest delay the channel can apply (longest path along the trajectory plus
    SYNC_TRUNCATION_SIGMAS sigma, computed here by brute force over the path) rounded up, plus the filter."""
    channel = EchoChannel.from_scenario(scenario)
    if channel.trajectory is None:
        longest = channel.geometry.path_length
    else:
        points = channel.trajectory.waypoints
        longest = max(
            channel.geometry.with_target(a + f * (b - a)).path_length
            for a, b in zip(points[:-1], points[1:])
            for f in np.linspace(0, 1, 2001)
        )
    delay = (longest / SPEED_OF_LIGHT + SYNC_TRUNCATION_SIGMAS * channel.sync_sigma_s) * channel.bandwidth_hz
    assert channel.max_delay_samples == pytest.approx(delay, rel=1e-12)
    expected = int(np.ceil(delay)) + channel.half_taps + 2
    assert (
        channel._history
        == expected
        == echo_history_samples(longest, channel.sync_sigma_s, channel.bandwidth_hz, channel.half_taps)
    )


def test_chunking_does_not_change_the_output():
    first = EchoChannel.from_scenario("paper", seed=3)
    second = EchoChannel.from_scenario("paper", seed=3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 5000)) + 1j * rng.normal(size=(4, 5000))
    whole, _ = first.process(x)
    parts = [second.process(x[:, idx])[0] for idx in np.array_split(np.arange(5000), 41)]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, atol=1e-12)


def test_comm_channel_noise_power_and_gain():
    """y = h^H x + n: the noise has the configured power (Monte Carlo) and the signal part is exact."""
    h = np.array([1 + 1j, 0.5, -0.2j, 0.1])
    channel = CommChannel(h, 0.01, seed=1)
    x = np.zeros((4, 200000), complex)
    noise = channel.process(x)
    assert np.var(noise) == pytest.approx(0.01, rel=0.02)
    quiet = CommChannel(h, 0.0)
    x = np.random.default_rng(1).normal(size=(4, 10)) + 0j
    np.testing.assert_allclose(quiet.process(x), h.conj() @ x)


def test_too_short_an_echo_delay_is_refused_with_a_clear_error():
    with pytest.raises(IsscInputError, match="too short"):
        causal_half_taps(20.0, 5.0)


def test_echo_block_tags_and_sample_counts():
    """
    vector_source (N_T streams) --> echo_channel --> vector_sink (x N_R)

    One output sample per input sample on every antenna, an issc_echo tag at each block start, and no
    transmitter tag passes the channel.
    """
    n = 5000
    tb = gr.top_block()
    sources = [blocks.vector_source_c([0.1 + 0j] * n, False, 1, []) for _ in range(4)]
    tag = gr.tag_t()
    tag.offset, tag.key, tag.value = 7, pmt.intern("issc_frame"), pmt.PMT_T
    sources[0] = blocks.vector_source_c([0.1 + 0j] * n, False, 1, [tag])
    echo = issc.echo_channel("tradeoff", float("-inf"), seed=2, n_tx=4, n_rx=4)
    sinks = [blocks.vector_sink_c() for _ in range(4)]
    for k in range(4):
        tb.connect(sources[k], (echo, k))
        tb.connect((echo, k), sinks[k])
    tb.run()
    for sink in sinks:
        assert len(sink.data()) == n
        keys = [pmt.symbol_to_string(t.key) for t in sink.tags()]
        assert keys == ["issc_echo"] * 5
        assert [t.offset for t in sink.tags()] == [0, 1024, 2048, 3072, 4096]
    with pytest.raises(ValueError, match="antennas"):
        issc.echo_channel("tradeoff", n_tx=3)


def direct_echo(channel, x, tags):
    """The noise-free echo sample by sample from the model: per block (its tag's delay and target), ``y[:, n]
    = beta_0 a_R(phi) sum_k h[k] a_T(theta)^H x[:, n - floor(D) - k]`` with ``h = dsp.delay_taps`` (zero
    before the stream starts), an explicit loop independent of the channel's vectorised filter."""
    from gnuradio.issc.physics.dsp import delay_taps

    n_rx, n = channel.geometry.n_rx, x.shape[1]
    y = np.zeros((n_rx, n), complex)
    half = channel.half_taps
    for tag_index, (start, info) in enumerate(tags):
        stop = tags[tag_index + 1][0] if tag_index + 1 < len(tags) else n
        g = channel.geometry.with_target(np.array([info["target_x"], info["target_y"]]))
        delay = info["delay_s"] * channel.bandwidth_hz
        integer = int(np.floor(delay))
        taps = delay_taps(delay - integer, half)
        s = g.a_tx(g.theta).conj() @ x
        for m in range(start, stop):
            acc = 0j
            for k in range(-half, half + 1):
                i = m - integer - k
                if i >= 0:
                    acc += taps[k + half] * s[i]
            y[:, m] = g.beta_0 * g.a_rx(g.phi) * acc
    return y


@pytest.mark.parametrize("chunks", [1, 7, 64, 613])
def test_moving_target_echo_matches_the_direct_sum_whatever_the_chunking(chunks):
    """Moving target (scenario 'tracking': delay, beta_0 and both angles change per block), every receive
    antenna, noise-free: the streaming echo processed in ``chunks`` pieces (uneven, some shorter than the
    filter) equals the direct per-sample time-domain sum to 1e-9 relative."""
    from gnuradio.issc.scenario import load_scenario

    scn = load_scenario("tracking")
    assert scn.moving
    channel = EchoChannel.from_scenario(scn, seed=5)
    channel.noise_w = 0.0
    n = 3 * channel.block + 517
    rng = np.random.default_rng(chunks)
    x = rng.normal(size=(channel.geometry.n_tx, n)) + 1j * rng.normal(size=(channel.geometry.n_tx, n))
    parts, tags = [], []
    cuts = np.sort(rng.choice(np.arange(1, n), size=chunks - 1, replace=False)) if chunks > 1 else []
    for idx in np.split(np.arange(n), cuts):
        y, t = channel.process(x[:, idx])
        parts.append(y)
        tags += t
    y = np.concatenate(parts, axis=1)
    assert [t[1]["block"] for t in tags] == [0, 1, 2, 3]
    assert len({(t[1]["target_x"], t[1]["target_y"]) for t in tags}) == 4  # the target moved every block
    expected = direct_echo(channel, x, tags)
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-9 * np.max(np.abs(expected)))
