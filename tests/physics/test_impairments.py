# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Receiver impairments against physics: a tone's measured CFO is the set one, the phase-noise increments
have variance ``2 pi linewidth Ts``, the sample-rate-offset resampler reproduces a band-limited signal at
the drifted instants and gives ``N / (1 + ppm 1e-6)`` outputs for ``N`` inputs, any chunking equals the
one-shot stream, the IQ imbalance's image rejection is the closed form; the channels and their blocks keep
today's output by default and apply the impairments when asked."""

import math

import numpy as np
import pytest
from gnuradio import blocks, gr, issc

from gnuradio.issc.errors import IsscInputError
from gnuradio.issc.physics.channels import CommChannel, EchoChannel, complex_noise
from gnuradio.issc.physics.impairments import Impairments, ImpairmentSettings


def multitone(rng, tones=24, fmax=0.3):
    """A band-limited test signal: complex tones below ``fmax`` cycles per sample, and its analytic form."""
    freqs = rng.uniform(-fmax, fmax, tones)
    amps = (rng.standard_normal(tones) + 1j * rng.standard_normal(tones)) / np.sqrt(2 * tones)
    return lambda t: np.exp(2j * np.pi * np.multiply.outer(np.asarray(t, float), freqs)) @ amps


def tone_frequency(y):
    """Least-squares slope of the unwrapped phase of a noise-free tone (cycles per sample)."""
    phase = np.unwrap(np.angle(y))
    n = np.arange(y.size)
    return np.polyfit(n, phase, 1)[0] / (2 * np.pi)


@pytest.mark.parametrize("cfo", [1e-3, -0.0125, 0.2])
def test_measured_cfo_of_a_tone_is_the_set_one(cfo):
    """A tone at f0 comes out at f0 + cfo; the per-symbol form divides by sps, the hertz form by the rate."""
    f0 = 0.01
    x = np.exp(2j * np.pi * f0 * np.arange(20000))
    y = Impairments(ImpairmentSettings(cfo=cfo)).process(x)
    assert tone_frequency(y) == pytest.approx(f0 + cfo, abs=1e-12)
    assert ImpairmentSettings.cycles_per_sample(0.01, 4) == pytest.approx(0.0025)
    assert ImpairmentSettings.physical(20e6, cfo_hz=200e3).cfo == pytest.approx(0.01)


@pytest.mark.parametrize("linewidth", [1e-5, 1e-3])
def test_phase_noise_increments_have_variance_two_pi_linewidth(linewidth):
    """Wiener phase noise: increments Gaussian, independent (lag-1 correlation ~0), of variance
    2 pi dnu Ts (200 000 samples: the variance estimate's relative std is 0.3 %, the bound 2 %)."""
    n = 200000
    y = Impairments(ImpairmentSettings(linewidth=linewidth), seed=4).process(np.ones(n))
    increments = np.diff(np.unwrap(np.angle(y)))
    assert np.var(increments) == pytest.approx(2 * np.pi * linewidth, rel=0.02)
    assert abs(np.corrcoef(increments[1:], increments[:-1])[0, 1]) < 0.01
    assert np.allclose(np.abs(y), 1.0)


@pytest.mark.parametrize("ppm, timing", [(100.0, 0.0), (-100.0, 0.0), (5000.0, 0.0), (50.0, 0.37), (0.0, 0.8)])
def test_sro_resampler_reproduces_the_signal_at_the_drifted_instants(ppm, timing):
    """Output n is x(n (1 + ppm 1e-6) - timing - H) of the analytic band-limited signal (RMS error below
    1e-3 of the signal, the windowed sinc's accuracy), and N inputs give N / (1 + ppm 1e-6) outputs
    within 1 (plus the timing offset's share)."""
    rng = np.random.default_rng(1)
    signal = multitone(rng)
    n = 20000
    impairments = Impairments(ImpairmentSettings(timing_offset=timing, sro_ppm=ppm))
    y = impairments.process(signal(np.arange(n)))
    rate = 1 + ppm * 1e-6
    assert abs(y.size - (n + timing) / rate) <= 1.0
    t = np.arange(y.size) * rate - timing - impairments.half_taps
    inside = (t > 100) & (t < n - 100)
    error = y[inside] - signal(t[inside])
    assert np.sqrt(np.mean(np.abs(error) ** 2) / np.mean(np.abs(y[inside]) ** 2)) < 1e-3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_streaming_in_random_chunks_equals_one_shot(seed):
    """All impairments at once (CFO, phase noise, timing, SRO, IQ imbalance, additive noise drawn per
    output sample), fed in random chunks, give the one-shot output; bounded output budgets
    (inputs_for_outputs, as a GNU Radio block uses it) are never exceeded and lose nothing."""
    rng = np.random.default_rng(seed)
    settings = ImpairmentSettings(
        cfo=0.003, linewidth=1e-4, timing_offset=2.6, sro_ppm=-250.0, iq_gain_db=0.5, iq_phase_deg=3.0
    )
    x = multitone(rng)(np.arange(20000))

    def run(chunks=None, budgets=False):
        impairments = Impairments(settings, seed=seed)
        noise_rng = np.random.default_rng(99)

        def noise(shape):
            return complex_noise(noise_rng, shape, 1e-4)

        if chunks is None and not budgets:
            return impairments.process(x, noise)
        out, position = [], 0
        local = np.random.default_rng(seed + 10)
        while position < x.size:
            if budgets:
                space = int(local.integers(1, 700))
                take = min(x.size - position, impairments.inputs_for_outputs(space))
                y = impairments.process(x[position : position + take], noise)
                assert y.size <= space
            else:
                take = int(local.integers(0, 900))
                y = impairments.process(x[position : position + take], noise)
            out.append(y)
            position += take
        return np.concatenate(out)

    once = run()
    np.testing.assert_allclose(run(chunks=True), once, rtol=0, atol=1e-9)
    np.testing.assert_allclose(run(budgets=True), once, rtol=0, atol=1e-9)


@pytest.mark.parametrize("gain_db, phase_deg", [(1.0, 0.0), (0.0, 5.0), (-0.7, -8.0), (3.0, 20.0)])
def test_iq_imbalance_image_rejection_matches_the_closed_form(gain_db, phase_deg):
    """A tone at +f through the imbalanced demodulator has an image at -f; the power ratio is
    (1 + 2 g cos phi + g^2) / (1 - 2 g cos phi + g^2), g the Q-branch amplitude gain."""
    f, n = 0.0625, 4096
    k = np.arange(n)
    y = Impairments(ImpairmentSettings(iq_gain_db=gain_db, iq_phase_deg=phase_deg)).process(np.exp(2j * np.pi * f * k))
    wanted = abs(np.vdot(np.exp(2j * np.pi * f * k), y)) ** 2
    image = abs(np.vdot(np.exp(-2j * np.pi * f * k), y)) ** 2
    g, phi = 10 ** (gain_db / 20), math.radians(phase_deg)
    expected = (1 + 2 * g * math.cos(phi) + g * g) / (1 - 2 * g * math.cos(phi) + g * g)
    assert wanted / image == pytest.approx(expected, rel=1e-9)


def test_settings_are_checked_and_all_off_is_the_identity():
    for kwargs in (
        {"cfo": 0.6},
        {"linewidth": -1e-3},
        {"timing_offset": -0.5},
        {"sro_ppm": 2e4},
        {"iq_phase_deg": 90.0},
        {"cfo": float("nan")},
        {"cfo": "0.1"},
    ):
        with pytest.raises(IsscInputError):
            ImpairmentSettings(**kwargs)
    x = np.random.default_rng(0).standard_normal(100) + 0j
    assert not ImpairmentSettings().active
    np.testing.assert_array_equal(Impairments().process(x), x)


def test_comm_channel_default_is_unchanged_and_impairments_keep_the_noise_power():
    """Default CommChannel: the same output as without the option. With a CFO and SRO, the noise-free part
    is the rotated, resampled signal and the noise power per output sample is still sigma_n^2."""
    h = np.array([0.3 + 0.1j, -0.2j, 0.5])
    x = np.random.default_rng(2).standard_normal((3, 5000)) * (1 + 1j)
    plain = CommChannel(h, 0.01, seed=3).process(x)
    again = CommChannel(h, 0.01, seed=3, impairments=ImpairmentSettings()).process(x)
    np.testing.assert_array_equal(plain, again)
    settings = ImpairmentSettings(cfo=0.01, sro_ppm=100.0)
    noisy = CommChannel(h, 0.01, seed=3, impairments=settings).process(x)
    clean = CommChannel(h, 0.0, impairments=settings).process(x)
    assert noisy.size == clean.size == 5000  # 5000 / (1 + 1e-4) rounds to 5000 within 1
    assert np.var(noisy - clean) == pytest.approx(0.01, rel=0.06)


def test_echo_channel_with_cfo_rotates_the_echo_and_rejects_clock_offsets():
    """The echo's carrier impairments: with a CFO the noise-free echo is the ideal one times
    exp(j 2 pi f n) on every antenna; a timing or sample-rate offset is refused (that is the sync error)."""
    ideal = EchoChannel.from_scenario("tradeoff", seed=5)
    ideal.noise_w = 0.0
    rotated = EchoChannel.from_scenario("tradeoff", seed=5, impairments=ImpairmentSettings(cfo=1e-3))
    rotated.noise_w = 0.0
    x = np.random.default_rng(1).standard_normal((ideal.geometry.n_tx, 3000)) + 0j
    a, tags_a = ideal.process(x)
    b, tags_b = rotated.process(x)
    assert tags_a == tags_b
    np.testing.assert_allclose(b, a * np.exp(2j * np.pi * 1e-3 * np.arange(3000)), atol=1e-12)
    with pytest.raises(IsscInputError, match="sync error"):
        EchoChannel.from_scenario("tradeoff", impairments=ImpairmentSettings(sro_ppm=10.0))


def test_comm_channel_block_resamples_like_the_core():
    """In a flowgraph, comm_channel with CFO, SRO and IQ imbalance (noise-free) gives the core channel's
    samples (fewer than it was fed), and with no impairment exactly one output per input."""
    n = 20000
    x = (np.random.default_rng(3).standard_normal((4, n)) * (1 + 1j) / 4).astype(np.complex64)
    for kwargs, expected_size in (({}, n), ({"cfo_hz": 1e5, "sro_ppm": 500.0, "iq_gain_db": 0.3}, None)):
        tb = gr.top_block()
        channel = issc.comm_channel("paper", float("-inf"), 1, 4, **kwargs)
        sink = blocks.vector_sink_c()
        sources = [blocks.vector_source_c(x[k].tolist()) for k in range(4)]
        for k, source in enumerate(sources):
            tb.connect(source, (channel, k))
        tb.connect(channel, sink)
        tb.run()
        out = np.array(sink.data())
        reference = CommChannel(
            channel.channel.h_c, 0.0, impairments=channel.channel.impairments.settings if kwargs else None
        )
        expected = reference.process(x.astype(np.complex128)).astype(np.complex64)
        assert out.size == (expected_size or expected.size)
        np.testing.assert_allclose(out, expected, atol=1e-5)
    assert out.size < n


def test_channels_hier_block_passes_the_impairments_on():
    """The hier block's options reach its children in the scenario's units (Hz at the sample rate); by
    default neither child has impairments."""
    plain = issc.channels("tradeoff", seed=1)
    assert plain.comm_channel.channel.impairments is None and plain.echo_channel.channel.impairments is None
    rate = plain.echo_channel.channel.bandwidth_hz
    hier = issc.channels(
        "tradeoff",
        seed=1,
        cfo_hz=1e-3 * rate,
        sro_ppm=20.0,
        iq_phase_deg=2.0,
        echo_cfo_hz=2e-3 * rate,
        echo_linewidth_hz=1e-6 * rate,
    )
    comm = hier.comm_channel.channel.impairments.settings
    echo = hier.echo_channel.channel.impairments.settings
    assert (comm.cfo, comm.sro_ppm, comm.iq_phase_deg) == pytest.approx((1e-3, 20.0, 2.0))
    assert (echo.cfo, echo.linewidth, echo.sro_ppm) == pytest.approx((2e-3, 1e-6, 0.0))
