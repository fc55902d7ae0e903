# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The hardware waveform against closed forms: the RRC taps are the textbook pulse, the matched-filter
cascade is Nyquist up to the truncation bound, shaping and matched filtering stream chunk-exactly, the
symbol SNR is ``sps`` times the sample SNR, and the synchroniser recovers QPSK through CFO, sample-rate
offset, timing offset, phase noise and AWGN with the symbol error rate and EVM of the ideal AWGN channel
(``SER = 2Q(sqrt(g)) - Q(sqrt(g))^2``, ``EVM^2 = 1/g``). At ``sps = 1`` it is today's receiver."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.special import erfc

from gnuradio.issc.errors import IsscInputError
from gnuradio.issc.link.framing import (
    FrameFormat,
    FrameHeader,
    FrameReceiver,
    build_analog_frame,
    build_frame,
    preamble,
    qpsk_map,
)
from gnuradio.issc.link.waveform import (
    FrameSynchroniser,
    MatchedFilter,
    PulseShaper,
    Waveform,
    matched_filter,
    shape,
)
from gnuradio.issc.physics.channels import complex_noise
from gnuradio.issc.physics.impairments import Impairments, ImpairmentSettings

P = 256


def rrc_closed_form(t, a):
    """The root-raised-cosine pulse at ``t`` symbol periods (unnormalised), written out independently."""
    t = np.asarray(t, float)
    out = np.empty_like(t)
    zero = np.isclose(t, 0.0)
    singular = np.isclose(np.abs(4 * a * t), 1.0)
    rest = ~zero & ~singular
    u = t[rest]
    out[rest] = (np.sin(np.pi * u * (1 - a)) + 4 * a * u * np.cos(np.pi * u * (1 + a))) / (
        np.pi * u * (1 - (4 * a * u) ** 2)
    )
    out[zero] = 1 - a + 4 * a / np.pi
    out[singular] = (
        a / np.sqrt(2) * ((1 + 2 / np.pi) * np.sin(np.pi / (4 * a)) + (1 - 2 / np.pi) * np.cos(np.pi / (4 * a)))
    )
    return out


def qpsk_ser(snr):
    q = 0.5 * erfc(np.sqrt(snr / 2.0))
    return 2 * q - q * q


@pytest.mark.parametrize("sps, rolloff, span", [(2, 0.35, 12), (4, 0.25, 16), (8, 0.5, 8), (3, 1.0, 10)])
def test_rrc_taps_are_the_closed_form_with_unit_sample_power(sps, rolloff, span):
    """GNU Radio's taps equal the textbook RRC to float32 precision, symmetric, ``sum h^2 = sps``."""
    w = Waveform(sps, rolloff, span)
    h = w.taps
    assert h.size == span * sps + 1 and w.group_delay == span * sps // 2
    reference = rrc_closed_form((np.arange(h.size) - (h.size - 1) / 2) / sps, rolloff)
    reference *= np.sqrt(sps / np.sum(reference**2))
    np.testing.assert_allclose(h, reference, atol=1e-6 * np.abs(reference).max())
    np.testing.assert_allclose(h, h[::-1])
    assert np.sum(h**2) == pytest.approx(sps, rel=1e-12)


@pytest.mark.parametrize("sps, rolloff, span", [(2, 0.35, 12), (4, 0.35, 12), (4, 0.2, 8), (2, 0.5, 24)])
def test_matched_filter_cascade_is_nyquist_up_to_the_truncation_bound(sps, rolloff, span):
    """Transmit pulse * matched filter at the symbol instants: 1 at the centre, and every ISI tap below the
    Cauchy-Schwarz bound of the truncation, ``(2 |e| |h| + |e|^2) / sps`` with ``e`` the closed-form pulse's
    tails beyond the span (the untruncated band-limited cascade is exactly ISI-free at sps >= 2)."""
    w = Waveform(sps, rolloff, span)
    cascade = np.convolve(w.taps, w.matched_taps)
    centre = cascade.size // 2
    at_symbols = cascade[centre % sps :: sps]
    k0 = centre // sps
    assert at_symbols[k0] == pytest.approx(1.0, abs=1e-12)
    isi = np.delete(at_symbols, k0)
    half = 400 * sps
    t = np.arange(-half, half + 1) / sps
    ideal = rrc_closed_form(t, rolloff)
    ideal *= np.sqrt(sps / np.sum(ideal**2))
    tails = ideal[np.abs(t) > span / 2 + 1e-9]
    e2 = float(np.sum(tails**2))
    # the truncated taps are renormalised to sum h^2 = sps: a factor of 1 / (1 - e2 / sps) on the cascade
    bound = (2 * np.sqrt(e2 * sps) + e2) / sps / (1 - e2 / sps)
    assert np.abs(isi).max() <= bound
    # and the bound is not vacuous: it shrinks with the span, and so does the ISI
    longer = Waveform(sps, rolloff, span + 8)
    c2 = np.convolve(longer.taps, longer.matched_taps)
    isi2 = np.delete(c2[c2.size // 2 % sps :: sps], c2.size // 2 // sps)
    assert np.abs(isi2).max() < np.abs(isi).max()


@pytest.mark.parametrize("sps", [2, 4])
def test_shaping_and_matched_filter_stream_chunk_exactly(sps):
    """Random chunkings of the symbol and sample streams give the one-shot outputs; an impulse gives
    the taps; the aligned matched filter is the causal one advanced by the group delay."""
    rng = np.random.default_rng(3)
    w = Waveform(sps)
    symbols = qpsk_map(rng.integers(0, 2, 2 * 500)).astype(complex)
    once = shape(symbols, w)
    assert once.size == (symbols.size + w.span) * sps
    shaper = PulseShaper(w)
    cuts = np.sort(rng.integers(0, symbols.size, 9))
    pieces = [shaper.process(part) for part in np.split(symbols, cuts)] + [shaper.flush()]
    np.testing.assert_allclose(np.concatenate(pieces), once, atol=1e-12)
    impulse = shape(np.array([1.0]), w)
    np.testing.assert_allclose(impulse[: w.taps.size], w.taps, atol=1e-15)
    mf = MatchedFilter(w)
    cuts = np.sort(rng.integers(0, once.size, 13))
    causal = np.concatenate([mf.process(part) for part in np.split(once, cuts)])
    aligned = matched_filter(once, w)
    np.testing.assert_allclose(causal[w.group_delay :], aligned[: once.size - w.group_delay], atol=1e-10)
    # at the symbol instants the aligned output is the symbols (up to the truncation ISI)
    peaks = aligned[w.group_delay : w.group_delay + symbols.size * sps : sps]
    assert np.max(np.abs(peaks - symbols)) < 0.02


@pytest.mark.parametrize("sps", [2, 4])
def test_unit_sample_power_and_symbol_snr_is_sps_times_sample_snr(sps):
    """Shaped unit-power QPSK has unit mean sample power; white noise of variance s2 per sample has
    variance s2 / sps at the matched filter's symbol instants, so the symbol SNR is sps / s2."""
    rng = np.random.default_rng(5)
    w = Waveform(sps)
    symbols = qpsk_map(rng.integers(0, 2, 2 * 40000)).astype(complex)
    x = shape(symbols, w)[w.span * sps : -w.span * sps]
    assert np.mean(np.abs(x) ** 2) == pytest.approx(1.0, rel=0.02)
    noise = complex_noise(rng, 40000 * sps, 0.5)
    filtered = matched_filter(noise, w)[::sps]
    assert np.var(filtered) == pytest.approx(0.5 / sps, rel=0.03)


def test_waveform_rejects_bad_parameters():
    for kwargs in ({"sps": 0}, {"sps": 2.5}, {"rolloff": 0.0}, {"rolloff": 1.5}, {"span": 7}, {"sps": True}):
        with pytest.raises(IsscInputError):
            Waveform(**kwargs)
    for kwargs in ({"max_cfo": 0.3}, {"phase_window": 2}, {"interp_half_taps": 2}, {"max_ppm": -1.0}):
        with pytest.raises(IsscInputError):
            FrameSynchroniser(Waveform(2), preamble(P), **kwargs)
    assert Waveform(2, 0.35).occupied_bandwidth == pytest.approx(0.675)
    # RMS bandwidth of the RRC spectrum, by numerical integration of the raised-cosine spectrum
    f = np.linspace(-1, 1, 200001)
    a = 0.35
    spectrum = np.where(
        np.abs(f) <= (1 - a) / 2,
        1.0,
        np.where(np.abs(f) <= (1 + a) / 2, 0.5 * (1 + np.cos(np.pi / a * (np.abs(f) - (1 - a) / 2))), 0.0),
    )
    rms = np.sqrt(np.sum(f**2 * spectrum) / np.sum(spectrum)) / 2  # symbol rate = sample rate / 2
    assert Waveform(2, a).rms_bandwidth == pytest.approx(rms, rel=1e-4)


def test_sps_one_is_todays_receiver():
    """Unshaped (sps = 1): the frame start is the coherent correlation peak, the gain and noise are the
    preamble's least squares (today's FrameReceiver formulas) and the symbols are the samples unchanged."""
    rng = np.random.default_rng(9)
    symbols = np.concatenate([preamble(P), qpsk_map(rng.integers(0, 2, 2 * 3000))]).astype(complex)
    gain = 0.7 * np.exp(0.4j)
    received = np.concatenate([complex_noise(rng, 501, 0.05), gain * symbols]) + complex_noise(
        rng, 501 + symbols.size, 0.05
    )
    sync = FrameSynchroniser(Waveform(1), preamble(P))
    acq = sync.acquire(received)
    assert acq.start == 501 and acq.timing == 0.0 and acq.cfo == 0.0
    window = received[501 : 501 + P]
    expected_gain = np.vdot(preamble(P), window) / P
    assert acq.gain == pytest.approx(expected_gain, rel=1e-12)
    assert acq.noise_var == pytest.approx(np.mean(np.abs(window - expected_gain * preamble(P)) ** 2), rel=1e-12)
    out = sync.symbols(received, acq, symbols.size)
    np.testing.assert_array_equal(out, received[501 : 501 + symbols.size])


def impaired_frame(sps, cfo_per_symbol, ppm, linewidth_per_symbol, esn0_db, count, seed, timing=0.37, lead=137):
    """QPSK frame (preamble first) -> RRC -> impairments -> AWGN at Es/N0; returns (samples, symbols,
    the true sample position of every symbol)."""
    rng = np.random.default_rng(seed)
    symbols = np.concatenate([preamble(P), qpsk_map(rng.integers(0, 2, 2 * (count - P)))]).astype(complex)
    w = Waveform(sps)
    x = np.concatenate([np.zeros(lead), shape(symbols, w), np.zeros(100)])
    settings = ImpairmentSettings(
        cfo=ImpairmentSettings.cycles_per_sample(cfo_per_symbol, sps),
        linewidth=linewidth_per_symbol / sps,
        timing_offset=timing,
        sro_ppm=ppm,
    )
    impairments = Impairments(settings, seed=seed)
    noise_rng = np.random.default_rng(seed + 100)
    sigma2 = sps / 10 ** (esn0_db / 10)  # unit sample power: Es/N0 = sps / sigma^2
    received = impairments.process(x, lambda s: complex_noise(noise_rng, s, sigma2))
    # output n reads the input at n (1 + ppm) - timing - 48: symbol k's pulse peak is at this output position
    truth = (lead + w.group_delay + sps * np.arange(count) + timing + impairments.half_taps) / (1 + ppm * 1e-6)
    return received, symbols, truth


def evm2(y, s):
    """EVM^2 after the best complex scaling (least squares)."""
    g = np.vdot(s, y) / np.vdot(s, s)
    return float(np.mean(np.abs(y - g * s) ** 2) / abs(g) ** 2)


@pytest.mark.parametrize(
    "sps, cfo, ppm",
    [(2, 0.01, 100.0), (4, -0.01, -100.0), (2, 0.005, 50.0), (4, 0.0, 0.0)],
)
def test_synchroniser_reaches_the_ideal_awgn_ser_and_evm(sps, cfo, ppm):
    """Es/N0 = 10 dB, CFO up to 1 % of the symbol rate, 100 ppm, a 0.37-sample timing offset, Wiener phase
    noise of 2 pi 1e-5 rad^2 per symbol, 30 000 symbols: the symbols' SER stays below the ideal SER at
    9.5 dB (2.8e-3; ideal 1.56e-3, expected ~47 errors), EVM within 0.15 dB of 1/SNR, the timing track
    within 0.05 samples of the truth, the SRO within 2 ppm, the CFO within 3e-4 cycles per symbol."""
    count, esn0_db = 30000, 10.0
    received, symbols, truth = impaired_frame(sps, cfo, ppm, 1e-5, esn0_db, count, seed=int(1000 * sps + ppm))
    sync = FrameSynchroniser(Waveform(sps), preamble(P))
    acq = sync.acquire(received, search=1000)
    assert abs(acq.position - truth[0]) < 0.1
    assert abs(acq.cfo_per_symbol(sps) - cfo) < 3e-4
    assert sync.samples_needed(acq, count) <= received.size
    result = sync.track(received, acq, count)
    assert np.max(np.abs(result.positions - truth)) < 0.05
    assert abs(result.sro_ppm(sps) - ppm) < 2.0
    y = result.symbols[P:] / acq.gain
    decisions = (np.sign(y.real) + 1j * np.sign(y.imag)) / math.sqrt(2)
    ser = np.mean(np.abs(decisions - symbols[P:]) > 1e-6)
    assert ser < qpsk_ser(10 ** ((esn0_db - 0.5) / 10))
    assert 10 * np.log10(evm2(result.symbols[P:], symbols[P:])) < -esn0_db + 0.15
    # the preamble's SNR estimate is the symbol SNR
    assert acq.snr_db == pytest.approx(esn0_db, abs=1.0)


def test_wide_cfo_and_low_snr():
    """A 5 % CFO (max_cfo 0.06) is acquired to 1e-4 cycles per symbol; at Es/N0 = 3 dB without phase
    noise the SER is within 0.3 dB of the ideal (ideal 0.152)."""
    received, symbols, truth = impaired_frame(2, 0.05, 100.0, 0.0, 10.0, 3000, seed=7)
    sync = FrameSynchroniser(Waveform(2), preamble(P), max_cfo=0.06)
    acq = sync.acquire(received, search=1000)
    assert abs(acq.cfo_per_symbol(2) - 0.05) < 1e-4
    received, symbols, truth = impaired_frame(2, 0.01, 100.0, 0.0, 3.0, 20000, seed=8)
    sync = FrameSynchroniser(Waveform(2), preamble(P))
    acq = sync.acquire(received, search=1000)
    y = sync.symbols(received, acq, symbols.size)[P:] / acq.gain
    ser = np.mean(np.abs((np.sign(y.real) + 1j * np.sign(y.imag)) / math.sqrt(2) - symbols[P:]) > 1e-6)
    assert ser < qpsk_ser(10 ** (2.7 / 10))


def test_acquisition_of_a_shifted_buffer_is_the_shifted_acquisition():
    """Acquiring on the buffer without its first 300 samples gives Acquisition.shifted(300) of the full
    buffer's (start, timing, CFO and the gain's phase reference), so a streaming receiver may drop
    samples between acquisition and tracking."""
    received, symbols, truth = impaired_frame(2, 0.01, 100.0, 0.0, 15.0, 2000, seed=11, lead=600)
    sync = FrameSynchroniser(Waveform(2), preamble(P))
    full = sync.acquire(received, search=1500)
    part = sync.acquire(received[300:], search=1200)
    moved = full.shifted(300)
    assert part.start == moved.start
    assert part.timing == pytest.approx(moved.timing, abs=1e-4)
    assert part.cfo == pytest.approx(moved.cfo, abs=1e-9)
    assert abs(part.gain / moved.gain - 1) < 1e-3
    # the symbols are ~ gain s_k in either frame of reference
    a = sync.symbols(received, full, 2000) / full.gain
    b = sync.symbols(received[300:], moved, 2000) / moved.gain
    assert np.max(np.abs(a - b)) < 1e-6


def test_decision_directed_tracking_follows_strong_phase_noise():
    """Es/N0 = 25 dB with strong phase noise (increments of variance q = 2 pi 1e-4 rad^2 per symbol): a
    centred moving average of W decision-directed products has phase error 1 / (2 W g) + q W / 12, at best
    sqrt(q / (6 g)), so the expected EVM^2 is 1/g + sqrt(q / (6 g)) (-24.3 dB). The tracker, which measures
    q on the frame to choose W, stays within 0.75 dB of that (a fixed 4th-power average of 64 symbols,
    the first stage alone, measures -21.9 dB here)."""
    g, q = 10**2.5, 2 * np.pi * 1e-4
    bound_db = 10 * np.log10(1 / g + np.sqrt(q / (6 * g)))
    received, symbols, truth = impaired_frame(4, 0.01, 100.0, 1e-4, 25.0, 10000, seed=3)
    sync = FrameSynchroniser(Waveform(4), preamble(P))
    acq = sync.acquire(received, search=1000)
    result = sync.track(received, acq, symbols.size)
    assert 10 * np.log10(evm2(result.symbols[P:], symbols[P:])) < bound_db + 0.75


# -- the sensing bound's bandwidth terms ------------------------------------------------------------------
@pytest.mark.parametrize("sps, rolloff", [(2, 0.35), (4, 0.25)])
def test_fisher_information_of_shaped_streams_is_the_pulse_spectrum_weighted_model(sps, rolloff):
    """The FIM of ``(o_x, o_y, delta)`` measured on the actual signal: RRC-shaped random QPSK streams
    (PulseShaper's taps) through a transmit covariance, delayed in the time domain with the echo channel's
    windowed sinc, the echo's derivatives by central finite differences of the whole model (steering
    vectors and delay), ``J = (2 / s^2) Re sum_n dm^H dm`` averaged over realisations. It matches
    FisherModel with the pulse spectrum (every entry within 4 % of ``sqrt(J_aa J_bb)``; Monte Carlo
    spread about 1 %), and the white-spectrum model, 1 / 0.267 (sps 2) or 1 / 0.0636 (sps 4) too much
    delay information, does not."""
    from gnuradio.issc.physics.dsp import DEFAULT_HALF_TAPS, interpolate_at
    from gnuradio.issc.physics.geometry import Geometry, angle_of
    from gnuradio.issc.physics.hcrb import FisherModel
    from gnuradio.issc.units import SPEED_OF_LIGHT

    g = Geometry.from_scenario("tradeoff")
    rate, n, pad, realisations = 100e6, 2048, 256, 24
    rng = np.random.default_rng(sps)
    a = rng.standard_normal((g.n_tx, g.n_tx)) + 1j * rng.standard_normal((g.n_tx, g.n_tx))
    sigma = a @ a.conj().T / g.n_tx
    factor = np.linalg.cholesky(sigma)
    w = Waveform(sps, rolloff)
    base_range = np.linalg.norm(g.target - g.tx) + np.linalg.norm(g.target - g.sensing_rx)

    def mean(x, params):
        target = np.array(params[:2])
        echo = g.beta_0 * np.outer(g.a_rx(angle_of(g.sensing_rx, target)), g.a_tx(angle_of(g.tx, target)).conj())
        bistatic = np.linalg.norm(target - g.tx) + np.linalg.norm(target - g.sensing_rx) + params[2]
        shift = (bistatic - base_range) / SPEED_OF_LIGHT * rate  # samples, relative to the nominal delay
        positions = pad + np.arange(n) + 0.3 - shift  # x(t - tau) at the samples
        return echo @ interpolate_at(x, positions, DEFAULT_HALF_TAPS)

    mu = np.array([g.target[0], g.target[1], 0.0])
    steps = np.array([1e-2, 1e-2, 1e-2])  # metres: 3e-3 samples of delay, 1e-4 rad of angle
    fim = np.zeros((3, 3))
    for _ in range(realisations):
        streams = np.stack(
            [shape(qpsk_map(rng.integers(0, 2, 2 * ((n + 2 * pad) // sps + w.span))), w) for _ in range(g.n_tx)]
        )[:, w.span * sps : w.span * sps + n + 2 * pad]
        x = factor @ streams
        derivatives = [
            (mean(x, mu + steps[i] * np.eye(3)[i]) - mean(x, mu - steps[i] * np.eye(3)[i])) / (2 * steps[i])
            for i in range(3)
        ]
        for i in range(3):
            for j in range(3):
                fim[i, j] += 2.0 * np.real(np.vdot(derivatives[i], derivatives[j])) / realisations
    shaped = FisherModel(g, 1.0, n, rate, 1e-7, sps, rolloff).data_fim(sigma)
    white = FisherModel(g, 1.0, n, rate, 1e-7).data_fim(sigma)
    scale = np.sqrt(np.outer(np.diag(fim), np.diag(fim)))
    np.testing.assert_array_less(np.abs(shaped - fim) / scale, 0.04)
    assert white[2, 2] / fim[2, 2] > 0.8 * sps**2 / (1 + rolloff**2 * (3 - 24 / np.pi**2))
    # the spectrum's mean square bandwidth is the closed form the waveform reports
    ratio = shaped[2, 2] / white[2, 2]
    assert ratio == pytest.approx((w.rms_bandwidth / math.sqrt(1 / 12)) ** 2, rel=0.01)


def test_fisher_model_at_one_sample_per_symbol_is_unchanged():
    """``samples_per_symbol = 1`` (and a scenario without the key) gives the white-spectrum sums exactly."""
    from gnuradio.issc.physics.geometry import Geometry
    from gnuradio.issc.physics.hcrb import FisherModel, pulse_spectrum

    g = Geometry.from_scenario("tradeoff")
    a = FisherModel(g, 1e-8, 1024, 100e6, 1e-7)
    b = FisherModel(g, 1e-8, 1024, 100e6, 1e-7, 1, 0.5)
    np.testing.assert_array_equal(a.zeta, b.zeta)
    np.testing.assert_array_equal(pulse_spectrum(64), np.ones(64))
    assert pulse_spectrum(4096, 4, 0.35).mean() == pytest.approx(1.0)


# -- the streaming receiver on the shaped waveform --------------------------------------------------------
FMT = FrameFormat()


def shaped_stream(sps, esn0_db, frames, seed=0, cfo=0.01, ppm=100.0, linewidth=1e-5, timing=0.37, lead=500):
    """Frames (symbol arrays) back to back through one RRC shaper, its tails, then the receiver's
    impairments (CFO and linewidth per symbol, ppm, timing offset) and AWGN at ``esn0_db`` per symbol."""
    w = Waveform(sps)
    shaper = PulseShaper(w)
    x = np.concatenate([np.zeros(lead * sps)] + [shaper.process(f) for f in frames] + [shaper.flush(), np.zeros(400)])
    settings = ImpairmentSettings(
        cfo=ImpairmentSettings.cycles_per_sample(cfo, sps), linewidth=linewidth / sps, timing_offset=timing, sro_ppm=ppm
    )
    noise_rng = np.random.default_rng(seed + 1)
    sigma2 = sps / 10 ** (esn0_db / 10)
    return Impairments(settings, seed=seed).process(x, lambda shape: complex_noise(noise_rng, shape, sigma2))


def coded(rng, seq, payload_bytes=600, info_bits=300):
    header = FrameHeader(seq, 0, info_bits, 50, payload_bytes - 50, 64, 64)
    payload = rng.integers(0, 256, payload_bytes, np.uint8).tobytes()
    return header, payload, build_frame(FMT, header, payload)


def push_chunks(receiver, stream, rng, largest):
    results, most, position = [], 0, 0
    while position < stream.size:
        step = int(rng.integers(1, largest))
        results += receiver.push(stream[position : position + step])
        most = max(most, receiver.samples_buffered)
        position += step
    return results, most


@pytest.mark.parametrize("sps", [2, 4])
def test_shaped_receiver_decodes_through_impairments_whatever_the_chunking(sps):
    """Three coded frames at Es/N0 = 8 dB through a 1 % CFO, 100 ppm, a 0.37-sample timing offset and phase
    noise: every payload bit-exact (rate 0.59: the calibrated BER there is ~1e-5 per bit, ~0.05 errors per
    frame expected), the SINR estimate within 1 dB of the truth, starts at the true pulse peaks, and the
    same results (bit for bit) whether the stream comes at once or in random chunks, holding fewer than
    ``max_kept_samples`` samples between pushes."""
    rng = np.random.default_rng(sps)
    sent = [coded(rng, seq) for seq in range(3)]
    stream = shaped_stream(sps, 8.0, [f for _, _, f in sent], seed=sps)
    whole = FrameReceiver(FMT, waveform=Waveform(sps)).push(stream)
    receiver = FrameReceiver(FMT, waveform=Waveform(sps))
    chunked, most = push_chunks(receiver, stream, rng, 4000)
    assert [(r.start, r.header, r.payload, r.sinr_db) for r in whole] == [
        (r.start, r.header, r.payload, r.sinr_db) for r in chunked
    ]
    assert [r.header for r in whole] == [h for h, _, _ in sent]
    assert [r.payload for r in whole] == [p for _, p, _ in sent]
    assert all(abs(r.sinr_db - 8.0) < 1.0 for r in whole)
    # the pulse peak of frame k's first symbol, through the channel's latency, timing offset and clock
    length = FMT.frame_symbols(sent[0][0])
    w = Waveform(sps)
    peaks = [(500 * sps + k * length * sps + w.group_delay + 0.37 + 48) / (1 + 1e-4) for k in range(3)]
    np.testing.assert_allclose([r.start for r in whole], peaks, atol=1.0)
    assert most < receiver.max_kept_samples and receiver.samples_buffered < receiver.max_kept_samples


def test_shaped_failed_header_is_reported_once_and_the_next_frame_decodes():
    """A burst of noise over the first frame's header: one failure (not one per sample of its wide
    correlation peak), the second frame decodes bit-exact."""
    rng = np.random.default_rng(7)
    sent = [coded(rng, seq) for seq in range(2)]
    sps = 4
    stream = shaped_stream(sps, 12.0, [f for _, _, f in sent], seed=7)
    header = slice((500 + P + 8) * sps, (500 + P + FMT.header_symbols) * sps)
    stream[header] = complex_noise(rng, stream[header].size, 4.0)
    receiver = FrameReceiver(FMT, waveform=Waveform(sps))
    results = receiver.push(stream)
    assert [r.reason for r in results] == ["crc", ""]
    assert results[1].payload == sent[1][1] and receiver.headers_failed == 1


def test_shaped_truncated_frame_is_reported_lost_and_the_next_frame_decodes():
    """The first frame cut after 3000 of its symbols by the second frame: 'truncated' (with its header),
    then the second frame, bit-exact."""
    rng = np.random.default_rng(8)
    (h0, _, f0), (h1, p1, f1) = coded(rng, 0, 2000), coded(rng, 1)
    stream = shaped_stream(2, 12.0, [f0[:3000], f1], seed=8)
    results = FrameReceiver(FMT, waveform=Waveform(2)).push(stream)
    assert [r.reason for r in results] == ["truncated", ""]
    assert results[0].lost_header == h0 and results[1].header == h1 and results[1].payload == p1


def test_shaped_analog_frame_is_equalised():
    """An analog frame (K = 0): the equalised symbols are ``s + n / g``, their error variance within 10 %
    of ``1 / SNR`` at Es/N0 = 15 dB through the impairments."""
    rng = np.random.default_rng(9)
    symbols = qpsk_map(rng.integers(0, 2, 2 * 4000))
    header = FrameHeader.analog_frame(3, 1, symbols.size, 32, 32)
    stream = shaped_stream(2, 15.0, [build_analog_frame(FMT, header, symbols)], seed=9)
    (frame,) = FrameReceiver(FMT, waveform=Waveform(2)).push(stream)
    assert frame.header == header
    error = np.mean(np.abs(frame.symbols - symbols) ** 2)
    assert error == pytest.approx(10**-1.5, rel=0.1)


def test_shaped_detection_threshold_is_the_noise_quantile():
    """On white noise the shaped metric exceeds its ``Gamma(P / Ls) / P`` quantile of probability ``q`` at
    a fraction of the positions between ``q / 5`` and ``q`` (2e5 positions; the approximation is
    conservative, the energy in the denominator shortens the tail: measured 0.74 q at q = 1e-2, 0.5 q at
    1e-3), so the default threshold (``q = 1e-9``) false-alarms at most that often: nothing is detected."""
    rng = np.random.default_rng(10)
    receiver = FrameReceiver(FMT, waveform=Waveform(2))
    noise = complex_noise(rng, 200_000, 1.0)
    metric = receiver.sync.direct_metric(noise)
    for q in (1e-2, 1e-3):
        fraction = np.mean(metric > receiver.sync.noise_metric_quantile(q))
        assert q / 5 < fraction <= q
    assert receiver.push(noise) == [] and receiver.threshold == pytest.approx(0.2126, abs=1e-3)


@pytest.mark.parametrize("scale", [1e-18, 1e18])
def test_shaped_receiver_is_level_free(scale):
    """The same shaped frames at amplitude 1e-18 or 1e18 (complex64) give the results at amplitude 1:
    starts, headers, payloads, and the SINR estimate to 1e-6 dB (every floor is relative to the signal)."""
    rng = np.random.default_rng(3)
    sent = [coded(rng, seq) for seq in range(2)]
    stream = shaped_stream(2, 10.0, [f for _, _, f in sent], seed=3)
    unit = FrameReceiver(FMT, waveform=Waveform(2)).push(stream.astype(np.complex64))
    scaled = FrameReceiver(FMT, waveform=Waveform(2)).push((stream * scale).astype(np.complex64))
    assert [(r.start, r.header, r.payload) for r in scaled] == [(r.start, r.header, r.payload) for r in unit]
    assert [r.payload for r in unit] == [p for _, p, _ in sent]
    np.testing.assert_allclose([r.sinr_db for r in scaled], [r.sinr_db for r in unit], atol=1e-6)


shaped_segments = st.lists(
    st.one_of(
        st.tuples(
            st.just("frame"),
            st.integers(0, FMT.max_info_bits),  # K (0: analog)
            st.integers(0, 300),  # payload bytes (analog: symbols)
            st.sampled_from((1e-12, 1.0, 1e12)),
            st.floats(0.0, 0.99),  # fractional delay
            st.floats(-0.015, 0.015),  # CFO, cycles per symbol
            st.one_of(st.none(), st.floats(0.05, 0.95)),  # cut after this fraction (None: intact)
        ),
        st.tuples(st.just("noise"), st.integers(1, 3000), st.sampled_from((1e-9, 1.0, 1e9))),
        st.tuples(st.just("zeros"), st.integers(1, 3000)),
        st.tuples(st.just("garbage"), st.binary(min_size=8, max_size=4000)),
    ),
    max_size=4,
)


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(shaped_segments, st.lists(st.integers(1, 6000), min_size=1, max_size=6), st.integers(0, 2**32 - 1))
def test_shaped_receiver_on_any_stream(segments, chunks, seed):
    """sps 2: shaped frames (coded and analog, any K, at 1e-12 .. 1e12, each with its own fractional delay
    and CFO, 30 dB SNR, 64 silent samples either side: a transmitter's guard), frames cut anywhere, noise,
    silence and raw bytes, pushed in random chunks: no exception; every header returned (decoded or lost
    to truncation) was sent; fewer than ``max_kept_samples`` samples held between pushes; every intact
    frame decoded exactly (analog: to the noise); the same results as one push of the whole stream."""
    sps = 2
    w = Waveform(sps)
    rng = np.random.default_rng(seed)
    parts, sent, intact = [], [], {}
    for seq, segment in enumerate(segments):
        kind = segment[0]
        if kind == "frame":
            _, k, size, scale, delay, cfo, cut = segment
            if k == 0:
                header = FrameHeader.analog_frame(seq, 1, size, 16, 16)
                payload = qpsk_map(rng.integers(0, 2, 2 * size)).astype(complex)
                frame = build_analog_frame(FMT, header, payload)
            else:
                header = FrameHeader(seq, 1, k, size // 3, size - size // 3, 16, 16)
                payload = rng.integers(0, 256, size, np.uint8).tobytes()
                frame = build_frame(FMT, header, payload)
            if cut is not None:
                frame = frame[: int(cut * frame.size)]
            else:
                intact[header] = payload
            sent.append(header)
            x = np.concatenate([np.zeros(64), shape(frame, w), np.zeros(64)])  # the resampler lags 48 samples
            settings_ = ImpairmentSettings(cfo=cfo / sps, timing_offset=delay)
            y = Impairments(settings_).process(x)
            y = y + complex_noise(rng, y.size, 1e-3)
            parts.append(scale * y)
        elif kind == "noise":
            parts.append(segment[2] * complex_noise(rng, segment[1], 1.0))
        elif kind == "zeros":
            parts.append(np.zeros(segment[1]))
        else:
            raw = segment[1]
            parts.append(np.frombuffer(raw[: len(raw) // 8 * 8], np.complex64))
    with np.errstate(all="ignore"):
        stream = np.concatenate([np.asarray(p, np.complex128) for p in parts] + [np.zeros(200)]).astype(np.complex64)
    receiver = FrameReceiver(FMT, waveform=w)
    results, position, turn = [], 0, 0
    while position < stream.size:
        step = chunks[turn % len(chunks)]
        results += receiver.push(stream[position : position + step])
        assert receiver.samples_buffered < receiver.max_kept_samples
        position, turn = position + step, turn + 1
    decoded = {r.header: r for r in results if r.header is not None}
    assert set(decoded) <= set(sent)
    assert {r.lost_header for r in results if r.lost_header is not None} <= set(sent)
    for header, payload in intact.items():
        assert header in decoded, f"intact frame {header} not returned"
        if header.analog:
            assert np.all(np.abs(decoded[header].symbols - payload) < 0.3)
        else:
            assert decoded[header].payload == payload
    once = FrameReceiver(FMT, waveform=w).push(stream)
    assert [(r.start, r.header, r.payload, r.reason) for r in once] == [
        (r.start, r.header, r.payload, r.reason) for r in results
    ]
