# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The hardware waveform of the link: root-raised-cosine pulses and the receiver's synchronisation.

Transmitter: the frame's symbols (:mod:`gnuradio.issc.link.framing`) at ``sps`` samples per symbol through
an RRC pulse (:class:`PulseShaper`, a streaming polyphase interpolator). The taps are GNU Radio's
``firdes.root_raised_cosine`` (the closed form, to float32 precision), rescaled so that the samples have
unit mean power for unit-power symbols (``sum h^2 = sps``): the beamformer's covariance and the
scenario's powers stay per sample, and the symbol energy is ``sps`` samples' worth, so the symbol SNR
after the matched filter is ``sps`` times the per-sample SNR (the noise bandwidth is the sample rate).
The receiver's matched filter is ``h / sps``: unit gain at the symbol instants, white noise of variance
``sigma^2 / sps`` there, and the cascade is a raised cosine (Nyquist: no ISI up to the truncation).

Receiver (:class:`FrameSynchroniser`, on a buffered frame, vectorised):

1. Detection and coarse timing: the preamble correlation of the matched-filter output, split into
   segments of ``Ls`` symbols combined non-coherently, so that a carrier offset up to ``max_cfo``
   (cycles per symbol) costs at most ``sinc^2(0.3)`` (1.2 dB) of a segment's energy; integer sample.
2. Coarse CFO: the known preamble modulation removed, the periodogram of the ``P`` products on a
   4x zero-padded grid over ``|nu| <= 1.5 max_cfo``, then the exact maximum of the DTFT (the ML estimate
   for a tone in white noise).
3. Fine timing: the samples de-rotated and matched-filtered again; the coherent preamble correlation
   ``C(m)`` at integer samples is band-limited like the signal, so ``C(tau)`` at any ``tau`` is its
   windowed-sinc interpolation, whose maximum (a bounded scalar search) is the ML timing.
   Then the gain, the phase, a data-aided residual CFO and the noise (hence SNR) on the interpolated preamble.
4. Timing across the frame (sample-rate offset): Gardner's error, averaged over blocks of
   ``timing_block`` symbols at the currently predicted instants, scaled by the S-curve slope of the
   raised cosine, feeds a Kalman filter of ``tau_k = a + (k - k_ref) T`` (offset and symbol period, no
   process noise: recursive least squares with the preamble's timing and ``+-max_ppm`` as the prior).
   The final line resamples the whole frame at once (windowed sinc, :func:`~gnuradio.issc.physics.dsp.interpolate_at`).
5. Carrier phase across the frame (residual CFO and phase noise), feed-forward: Viterbi-Viterbi
   (4th power, ``|y|^2 e^{j4 arg y}``, centred moving average, unwrapped) anchored to the preamble's
   data-aided phase (resolving the ``pi/2`` ambiguity), then decision-directed passes (known symbols
   where given, hard QPSK decisions elsewhere; centred moving average; unwrapped) whose length minimises
   the error of a random walk in white noise, ``sqrt(6 / (SNR q))``, with the walk's increment variance
   ``q`` measured on the frame itself (block phases' variance at two lags).

:class:`SymbolTracker` runs steps 4 and 5 as a stream (the frame receiver's payload stage,
:class:`~gnuradio.issc.link.framing.FrameReceiver`): one timing block of samples at a time, the phase
passes on a fixed grid of symbol blocks, so its symbols do not depend on how the samples were chunked
and its memory does not grow with the frame.

The symbols come out at one per symbol, ``y_k ~ g s_k + n_k`` with the preamble's complex gain ``g``
and noise variance, exactly what the existing LLR code (:func:`~gnuradio.issc.link.framing.qpsk_llrs`)
takes. With ``sps = 1`` (no pulse shaping: today's link) the synchroniser is the current receiver: the
coherent correlation peak, the preamble's gain and noise, and the samples as they are.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import numpy as np
from scipy.fft import next_fast_len
from scipy.optimize import minimize_scalar
from scipy.signal import fftconvolve, oaconvolve, upfirdn

from ..errors import IsscInputError
from ..physics.dsp import interpolate_at

DEFAULT_ROLLOFF = 0.35
DEFAULT_SPAN = 12


def raised_cosine(t: np.ndarray, rolloff: float) -> np.ndarray:
    """The raised-cosine pulse (the RRC cascade) at ``t`` symbol periods: ``sinc(t) cos(pi a t) / (1 - (2 a t)^2)``,
    with its limit ``pi/4 sinc(1 / (2a))`` at ``|t| = 1 / (2a)``."""
    t = np.asarray(t, float)
    a = float(rolloff)
    denominator = 1.0 - (2.0 * a * t) ** 2
    singular = np.abs(denominator) < 1e-10
    safe = np.where(singular, 1.0, denominator)
    value = np.sinc(t) * np.cos(np.pi * a * t) / safe
    if a > 0:
        value = np.where(singular, np.pi / 4 * np.sinc(1.0 / (2.0 * a)), value)
    return value


@functools.lru_cache(maxsize=16)
def rrc_taps(sps: int, rolloff: float, span: int) -> np.ndarray:
    """Transmit RRC taps: ``span sps + 1`` of them (odd, symmetric, group delay ``span sps / 2`` samples),
    scaled to ``sum h^2 = sps`` (unit sample power for unit-power symbols). GNU Radio's ``firdes``
    computes them (normalised to unit DC gain there; we only rescale)."""
    from gnuradio.filter import firdes

    taps = np.array(firdes.root_raised_cosine(1.0, float(sps), 1.0, float(rolloff), int(span * sps + 1)), float)
    taps *= math.sqrt(sps / float(np.sum(taps**2)))
    taps.setflags(write=False)
    return taps


@dataclass(frozen=True)
class Waveform:
    """The pulse shape transmitter and receiver agree on.

    Args:
        sps: samples per symbol (1: no pulse shaping, one sample per symbol, today's link).
        rolloff: RRC roll-off factor in (0, 1] (ignored at ``sps = 1``).
        span: filter length in symbols (even; ``span sps + 1`` taps; ignored at ``sps = 1``).
    """

    sps: int = 1
    rolloff: float = DEFAULT_ROLLOFF
    span: int = DEFAULT_SPAN

    def __post_init__(self):
        if isinstance(self.sps, bool) or not isinstance(self.sps, (int, np.integer)) or not 1 <= self.sps <= 64:
            raise IsscInputError(f"samples per symbol must be an integer in [1, 64], got {self.sps!r}")
        rolloff = self.rolloff
        if isinstance(rolloff, bool) or not (isinstance(rolloff, (int, float, np.floating)) and 0.0 < rolloff <= 1.0):
            raise IsscInputError(f"RRC roll-off must be in (0, 1], got {self.rolloff!r}")
        span = self.span
        if isinstance(span, bool) or not isinstance(span, (int, np.integer)) or not (2 <= span <= 64 and span % 2 == 0):
            raise IsscInputError(f"RRC span must be an even integer in [2, 64] symbols, got {self.span!r}")
        object.__setattr__(self, "sps", int(self.sps))
        object.__setattr__(self, "rolloff", float(self.rolloff))
        object.__setattr__(self, "span", int(self.span))

    @classmethod
    def from_scenario(cls, scenario) -> Waveform:
        """The waveform of a scenario's ``signal`` section (``samples_per_symbol``, ``rolloff``,
        ``rrc_span``).

        Args:
            scenario: a :class:`~gnuradio.issc.scenario.Scenario`, a shipped name or a YAML path.
        """
        from ..scenario import load_scenario

        signal = load_scenario(scenario).signal
        return cls(signal.samples_per_symbol, signal.rolloff, signal.rrc_span)

    def block_args(self) -> dict:
        """The blocks' keyword arguments for this waveform (``frame_encoder``, ``frame_decoder``,
        ``sensing_source``, ``transmitter``, ``comm_receiver``)."""
        return {"samples_per_symbol": self.sps, "rolloff": self.rolloff, "rrc_span": self.span}

    @property
    def shaped(self) -> bool:
        return self.sps > 1

    @property
    def taps(self) -> np.ndarray:
        """Transmit pulse (``[1]`` without shaping)."""
        return rrc_taps(self.sps, self.rolloff, self.span) if self.shaped else np.ones(1)

    @property
    def matched_taps(self) -> np.ndarray:
        """Receive matched filter ``h / sps`` (unit gain at the symbol instants)."""
        return self.taps / self.sps

    @property
    def symbol_snr_gain(self) -> float:
        """The matched filter's gain on the SNR against white noise: the symbol SNR over the per-sample SNR,
        ``sps`` (the taps carry ``sum h^2 = sps``: unit gain on the symbol, white noise of variance
        ``sigma^2 / sps`` at the symbol instants; 1 without shaping). A stream shaped with this pulse on the
        same symbol clock (the sensing streams) is not reduced: at the symbol instants the cascade is a
        Nyquist raised cosine, so its per-sample power comes through unchanged."""
        return float(self.sps)

    @property
    def group_delay(self) -> int:
        """Delay of each filter in samples (``span sps / 2``; 0 without shaping)."""
        return self.span * self.sps // 2 if self.shaped else 0

    @property
    def occupied_bandwidth(self) -> float:
        """Two-sided bandwidth of the pulse as a fraction of the sample rate, ``(1 + rolloff) / sps``."""
        return min(1.0, (1.0 + self.rolloff) / self.sps) if self.shaped else 1.0

    @property
    def rms_bandwidth(self) -> float:
        """RMS bandwidth of the shaped sample stream in units of the sample rate: ``sqrt(int f^2 S df)``,
        ``(1/sps) sqrt(1/12 + rolloff^2 (1/4 - 2/pi^2))`` for the RRC, ``sqrt(1/12)`` for white samples.
        (The delay information of the echo scales with its square: :class:`~gnuradio.issc.physics.hcrb.FisherModel`
        weighs its frequency bins with the pulse's spectrum.)"""
        if not self.shaped:
            return math.sqrt(1.0 / 12.0)
        return math.sqrt(1.0 / 12.0 + self.rolloff**2 * (0.25 - 2.0 / np.pi**2)) / self.sps


class PulseShaper:
    """Streaming RRC interpolator: ``n`` symbols in, ``n sps`` samples out, state (the last ``span`` symbols)
    kept across calls, so any chunking gives the samples of the whole stream. Symbol ``k``'s pulse peaks
    at output sample ``k sps + group_delay``; :meth:`flush` emits the tail of the last pulses.

    Args:
        waveform: the pulse.
    """

    def __init__(self, waveform: Waveform):
        self.waveform = waveform
        self._history = np.zeros(waveform.span if waveform.shaped else 0, np.complex128)

    def process(self, symbols: np.ndarray) -> np.ndarray:
        symbols = np.asarray(symbols, np.complex128).reshape(-1)
        w = self.waveform
        if not w.shaped:
            return symbols.copy()
        full = np.concatenate([self._history, symbols])
        start = self._history.size * w.sps
        out = upfirdn(w.taps, full, up=w.sps)[start : start + symbols.size * w.sps]
        self._history = full[full.size - self._history.size :]
        return out

    def flush(self) -> np.ndarray:
        """The remaining ``span sps`` samples (the pulses' tails), as if ``span`` zero symbols followed."""
        return self.process(np.zeros(self.waveform.span if self.waveform.shaped else 0))


def shape(symbols: np.ndarray, waveform: Waveform) -> np.ndarray:
    """The shaped samples of ``symbols`` including the tail: ``(n + span) sps`` samples (``n`` at sps 1),
    symbol ``k`` peaking at ``k sps + group_delay``."""
    shaper = PulseShaper(waveform)
    return np.concatenate([shaper.process(symbols), shaper.flush()])


class MatchedFilter:
    """Streaming matched filter (causal FIR ``h / sps``, latency ``group_delay``), same rate in and out.

    Args:
        waveform: the pulse.
    """

    def __init__(self, waveform: Waveform):
        self.waveform = waveform
        self._history = np.zeros(waveform.taps.size - 1, np.complex128)

    def process(self, samples: np.ndarray) -> np.ndarray:
        samples = np.asarray(samples, np.complex128).reshape(-1)
        if not self.waveform.shaped:
            return samples.copy()
        full = np.concatenate([self._history, samples])
        self._history = full[full.size - self._history.size :]
        return oaconvolve(full, self.waveform.matched_taps, mode="valid")


def matched_filter(samples: np.ndarray, waveform: Waveform) -> np.ndarray:
    """Matched-filter output aligned with the input (the group delay removed): a pulse centred at sample
    ``m`` of ``samples`` peaks at sample ``m`` of the output. Same length as ``samples``."""
    samples = np.asarray(samples, np.complex128).reshape(-1)
    if not waveform.shaped:
        return samples.copy()
    return fftconvolve(samples, waveform.matched_taps, mode="same")


@dataclass(frozen=True)
class Acquisition:
    """What the preamble told the receiver.

    ``start + timing`` is the (real) sample position of the preamble's first symbol in the buffer given to
    :meth:`FrameSynchroniser.acquire` (the peak of its matched-filter pulse); ``cfo`` is in cycles per
    sample, referenced to that buffer's sample 0 (the receiver de-rotates sample ``n`` by
    ``exp(-j 2 pi cfo n)``); ``gain`` is the complex gain of the de-rotated, matched-filtered preamble
    (``y_k = gain p_k + noise``), ``noise_var`` the noise per symbol there.
    """

    start: int
    timing: float
    cfo: float
    gain: complex
    noise_var: float
    snr_db: float
    metric: float

    @property
    def position(self) -> float:
        return self.start + self.timing

    @property
    def phase(self) -> float:
        return float(np.angle(self.gain))

    def cfo_per_symbol(self, sps: int) -> float:
        return self.cfo * sps

    def shifted(self, offset: int) -> Acquisition:
        """The same acquisition for a buffer whose sample 0 is sample ``offset`` of this one (a receiver
        that dropped ``offset`` samples): the start moves, and so does the CFO's phase reference."""
        gain = self.gain * np.exp(2j * np.pi * ((self.cfo * offset) % 1.0))
        return replace(self, start=self.start - int(offset), gain=complex(gain))


@dataclass
class SyncResult:
    """The frame's symbols and how the synchroniser got them.

    Attributes:
        symbols: one per symbol, ``~ gain s_k + noise`` (frame symbols ``0 .. count-1``, preamble first).
        positions: the sample position of every symbol (the timing track).
        phase: the carrier phase removed from every symbol (rad, relative to the gain's).
        symbol_period: the estimated symbol period in samples (``sps / (1 + ppm 1e-6)``).
        phase_window: the decision-directed averaging length used (symbols).
    """

    symbols: np.ndarray
    positions: np.ndarray
    phase: np.ndarray
    symbol_period: float
    phase_window: int = 0

    def sro_ppm(self, sps: int) -> float:
        """The sample-rate offset the timing track found (ppm, the impairments' sign convention)."""
        return (sps / self.symbol_period - 1.0) * 1e6


def _qpsk_decisions(y: np.ndarray) -> np.ndarray:
    return ((np.where(y.real >= 0, 1.0, -1.0) + 1j * np.where(y.imag >= 0, 1.0, -1.0)) / math.sqrt(2.0)).astype(
        np.complex128
    )


def _centred_mean(u: np.ndarray, window: int) -> np.ndarray:
    """Centred moving sum of ``u`` over ``window`` samples (shorter at the edges); vectorised cumsum."""
    n = u.size
    half = max(1, int(window)) // 2
    cumulative = np.concatenate([[0], np.cumsum(u)])
    k = np.arange(n)
    lo, hi = np.maximum(k - half, 0), np.minimum(k + half + 1, n)
    return cumulative[hi] - cumulative[lo]


class FrameSynchroniser:
    """Receiver synchronisation on a buffered frame (see the module doc for the algorithms).

    Args:
        waveform: the pulse (``sps = 1``: no synchronisation beyond the preamble peak, today's receiver).
        preamble_symbols: the known preamble (``framing.preamble(P)``).
        max_cfo: largest carrier offset searched, cycles per symbol (0.02 = 2 % of the symbol rate; up to
            0.25). Larger values shorten the detector's coherent segments (``0.3 / max_cfo`` symbols), which
            costs detection sensitivity at low SNR.
        max_ppm: largest sample-rate offset expected (the prior on the symbol period).
        timing_block: symbols per Gardner timing-error average.
        phase_window: symbols in the decision-directed phase average (None: the length that minimises the
            phase error for the SNR and the phase-noise rate measured on the frame).
        vv_window: symbols in the 4th-power phase average (None: from the SNR, 64 at high SNR, longer below).
        interp_half_taps: half-length of the windowed-sinc interpolator (24: -59 dB error).
    """

    def __init__(
        self,
        waveform: Waveform,
        preamble_symbols: np.ndarray,
        max_cfo: float = 0.02,
        max_ppm: float = 200.0,
        timing_block: int = 256,
        phase_window: int | None = None,
        vv_window: int | None = None,
        interp_half_taps: int = 24,
    ):
        self.waveform = waveform
        self.preamble = np.asarray(preamble_symbols, np.complex128).reshape(-1)
        if self.preamble.size < 16:
            raise IsscInputError(f"the preamble needs at least 16 symbols, got {self.preamble.size}")
        if not (np.isfinite(max_cfo) and 0 < max_cfo <= 0.25):
            raise IsscInputError(f"max_cfo must be in (0, 0.25] cycles per symbol, got {max_cfo!r}")
        if not (np.isfinite(max_ppm) and 0 <= max_ppm <= 1e4):
            raise IsscInputError(f"max_ppm must be in [0, 1e4], got {max_ppm!r}")
        for name, value in (("timing_block", timing_block), ("phase_window", phase_window), ("vv_window", vv_window)):
            if value is None and name != "timing_block":
                continue
            if not (isinstance(value, (int, np.integer)) and 8 <= value <= 1 << 20):
                raise IsscInputError(f"{name} must be an integer in [8, 2^20] symbols, got {value!r}")
        if not (isinstance(interp_half_taps, (int, np.integer)) and 4 <= interp_half_taps <= 128):
            raise IsscInputError(f"interp_half_taps must be an integer in [4, 128], got {interp_half_taps!r}")
        self.max_cfo = float(max_cfo)
        self.max_ppm = float(max_ppm)
        self.timing_block = int(timing_block)
        self.phase_window = int(phase_window) if phase_window else None
        self.vv_window = int(vv_window) if vv_window else None
        self.interp_half_taps = int(interp_half_taps)
        p = self.preamble.size
        self.segment = int(min(p, max(4, math.floor(0.3 / self.max_cfo))))
        if waveform.shaped:
            sps = waveform.sps
            # Gardner's S-curve slope at zero error for i.i.d. unit-power symbols through the raised cosine:
            # E[e](d) = sum_n p(-T/2 + d - nT) [p(-T + d - nT) - p(d - nT)], d in samples, T = sps
            n = np.arange(-64, 65)

            def s_curve(d):
                pulse = functools.partial(raised_cosine, rolloff=waveform.rolloff)
                return float(np.sum(pulse((d - sps / 2) / sps - n) * (pulse((d - sps) / sps - n) - pulse(d / sps - n))))

            self._gardner_slope = (s_curve(1e-3) - s_curve(-1e-3)) / 2e-3

    # -- detection --------------------------------------------------------------------------------------
    def matched(self, samples: np.ndarray, cfo: float = 0.0) -> np.ndarray:
        """Matched-filter output (aligned) of ``samples`` de-rotated by ``cfo`` cycles per sample."""
        samples = np.asarray(samples, np.complex128).reshape(-1)
        if cfo:
            samples = samples * np.exp(-2j * np.pi * ((cfo * np.arange(samples.size)) % 1.0))
        return matched_filter(samples, self.waveform)

    def _symbol_energy(self, z: np.ndarray, count: int) -> np.ndarray:
        """``E(m) = sum_k |z[m + k sps]|^2``, ``k < P``, for ``m < count`` (polyphase cumulative sums)."""
        sps, p = self.waveform.sps, self.preamble.size
        rows = -(-(count + p * sps) // sps)
        power = np.zeros(rows * sps)
        length = min(z.size, power.size)
        power[:length] = np.abs(z[:length]) ** 2
        cumulative = np.concatenate([np.zeros((1, sps)), np.cumsum(power.reshape(rows, sps), axis=0)])
        m = np.arange(count)
        row, phase = m // sps, m % sps
        return cumulative[row + p, phase] - cumulative[row, phase]

    def detection_metric(self, z: np.ndarray, count: int | None = None) -> np.ndarray:
        """Normalised preamble metric at sample offsets ``m < count`` of the matched-filter output ``z``.

        Shaped: ``sum_j |c_j(m)|^2 / (Ls E(m))`` over segments of ``Ls`` symbols, about ``SNR / (1 + SNR)``
        at the true start (no CFO) and ``1 / Ls`` on noise. Unshaped: the coherent ``|c(m)|^2 / (P E(m))``
        of the current receiver.
        """
        sps, p = self.waveform.sps, self.preamble.size
        span = (p - 1) * sps + 1
        available = z.size - span + 1
        count = available if count is None else max(0, min(int(count), available))
        if count <= 0:
            return np.zeros(0)
        z = z[: count + span - 1]
        energy = self._symbol_energy(z, count)
        ls = self.segment if self.waveform.shaped else p
        nfft = next_fast_len(z.size + (ls - 1) * sps)
        spectrum = np.fft.fft(z, nfft)
        total = np.zeros(count)
        for first in range(0, p, ls):
            segment = self.preamble[first : first + ls]
            template = np.zeros((segment.size - 1) * sps + 1, np.complex128)
            template[::sps] = segment
            # c_j(m) = sum_k conj(p_k) z[m + k sps]: the circular correlation, valid where it does not wrap
            corr = np.fft.ifft(spectrum * np.conj(np.fft.fft(template, nfft)))
            total += np.abs(corr[first * sps : first * sps + count]) ** 2
        tiny = np.finfo(float).tiny  # floors relative to the signal, never absolute: its level is arbitrary
        floor = 1e-12 * max(float(energy.max(initial=0.0)), tiny)
        with np.errstate(over="ignore", invalid="ignore"):  # the windows below the floor are set to 0
            return np.where(energy <= floor, 0.0, total / (ls * np.maximum(energy, tiny)))

    @property
    def segments(self) -> float:
        """Effective number of non-coherent segments of the detection metric (``P / Ls``; 1 unshaped)."""
        if not self.waveform.shaped:
            return 1.0
        p, ls = self.preamble.size, self.segment
        return p // ls + (p % ls) / ls

    def noise_metric_quantile(self, probability: float) -> float:
        """The detection metric that noise (or random data) exceeds with ``probability`` at one position.

        On noise every segment's ``|c_j|^2 / (Ls E)`` is about ``Exp(1) / P`` and independent (the matched
        filter's output is white at the symbol spacing), so the metric is about ``Gamma(P / Ls) / P``:
        its upper quantile. Unshaped, the coherent metric is ``Exp(1) / P``: ``-ln(probability) / P``.
        """
        from scipy.stats import gamma

        return float(gamma.isf(probability, self.segments)) / self.preamble.size

    def metric_span(self) -> tuple[int, int]:
        """``(lead, tail)``: the metric at position ``m`` reads samples ``m - lead .. m + tail - 1``."""
        w, p = self.waveform, self.preamble.size
        return w.group_delay, (p - 1) * w.sps + w.group_delay + 1

    def direct_metric(self, samples: np.ndarray) -> np.ndarray:
        """:meth:`detection_metric` at every position ``m`` whose samples (:meth:`metric_span`) lie in
        ``samples`` (position ``m`` is sample ``m + lead`` of ``samples``), computed directly, window by
        window, in float64: the matched filter and the polyphase segment correlations are direct sums, so
        each value depends on its own window's samples only, bit for bit, whatever the chunking of a stream
        (an FFT's rounding depends on the whole block); an all-zero window has metric 0."""
        w, p = self.waveform, self.preamble.size
        sps = w.sps
        lead, tail = self.metric_span()
        count = samples.size - lead - tail + 1
        if count <= 0:
            return np.zeros(0)
        x = np.asarray(samples, np.complex128)
        z = np.convolve(x, w.matched_taps, "valid") if w.shaped else x  # z[i] is position i (lead removed)
        ls = self.segment if w.shaped else p
        total = np.zeros(count)
        energy = np.zeros(count)
        for phase in range(min(sps, count)):
            zr = z[phase::sps]
            outputs = (count - 1 - phase) // sps + 1  # positions phase, phase + sps, ... below count
            power = zr.real**2 + zr.imag**2
            energy[phase::sps] = np.convolve(power, np.ones(p), "valid")[:outputs]
            for first in range(0, p, ls):
                segment = self.preamble[first : first + ls]
                corr = np.correlate(zr[first : first + outputs + segment.size - 1], segment, "valid")
                total[phase::sps] += corr.real**2 + corr.imag**2
        with np.errstate(divide="ignore", invalid="ignore"):
            metric = total / (ls * energy)
        return np.where(energy > 0, np.minimum(metric, 1.0), 0.0)

    # -- acquisition ------------------------------------------------------------------------------------
    def acquire(self, samples: np.ndarray, search: int | None = None) -> Acquisition | None:
        """Find the preamble in ``samples`` and estimate timing, CFO, gain and noise from it.

        Args:
            samples: received samples (at ``sps`` per symbol), the preamble somewhere in the first
                ``search`` of them followed by at least ``P sps`` samples.
            search: candidate start positions (None: all that leave room for the preamble).

        Returns:
            the acquisition, or None if the buffer is too short to hold a preamble.
        """
        samples = np.asarray(samples, np.complex128).reshape(-1)
        if not self.waveform.shaped:
            return self._acquire_unshaped(samples, search)
        sps, p = self.waveform.sps, self.preamble.size
        z = self.matched(samples)
        metric = self.detection_metric(z, search)
        if metric.size == 0:
            return None
        m0 = int(np.argmax(metric))
        # coarse CFO from the integer-timed preamble: the periodogram, then the exact DTFT maximum
        index = m0 + sps * np.arange(p)
        x = np.where(index < z.size, z[np.minimum(index, z.size - 1)], 0) * np.conj(self.preamble)
        nu = self._tone_frequency(x, min(0.5, 1.5 * self.max_cfo))
        cfo = nu / sps
        # fine timing on the de-rotated, matched-filtered samples: maximise |C(tau)|, C interpolated
        z = self.matched(samples, cfo)
        h = self.interp_half_taps
        lags = np.arange(m0 - sps - h - 2, m0 + sps + h + 3)
        gather = lags[:, None] + sps * np.arange(p)[None, :]
        inside = (gather >= 0) & (gather < z.size)
        corr = np.where(inside, z[np.clip(gather, 0, z.size - 1)], 0) @ np.conj(self.preamble)

        def negative_peak(tau):
            return -abs(complex(interpolate_at(corr, np.array([tau - lags[0]]), h)[0]))

        # the coarse peak is within half a symbol of the true one: a 0.1-sample grid, then the exact maximum
        grid = m0 + np.arange(-(sps // 2 + 1.0), sps // 2 + 1.0 + 1e-9, 0.1)
        best = grid[int(np.argmax(np.abs(interpolate_at(corr, grid - lags[0], h))))]
        found = minimize_scalar(
            negative_peak, bounds=(best - 0.1, best + 0.1), method="bounded", options={"xatol": 1e-5}
        )
        tau0 = float(found.x)
        # the interpolated preamble: a data-aided residual CFO, then gain and noise
        y = interpolate_at(z, tau0 + sps * np.arange(p), h) * np.conj(self.preamble)
        residual = self._tone_frequency(y, 2.0 / p)
        k = np.arange(p) - (p - 1) / 2.0
        y = y * np.exp(-2j * np.pi * residual * k)
        cfo += residual / sps
        # de-rotation by the residual is referenced to the preamble's centre: move the gain's phase to
        # the buffer's sample 0 (the convention of Acquisition.cfo)
        gain = complex(np.mean(y) * np.exp(-2j * np.pi * residual / sps * (tau0 + sps * (p - 1) / 2.0)))
        noise_var = float(np.mean(np.abs(y - np.mean(y)) ** 2)) * p / (p - 1)
        tiny = np.finfo(float).tiny  # floors relative to the gain, never absolute: the level is arbitrary
        noise_var = max(noise_var, abs(gain) ** 2 * 1e-6, tiny)
        start = int(math.floor(tau0))
        return Acquisition(
            start=start,
            timing=tau0 - start,
            cfo=float(cfo),
            gain=gain,
            noise_var=noise_var,
            snr_db=float(10 * np.log10(max(abs(gain) ** 2, tiny) / noise_var)),
            metric=float(metric[m0]),
        )

    @staticmethod
    def _tone_frequency(x: np.ndarray, limit: float) -> float:
        """ML frequency (cycles per sample, ``|f| <= limit``) of a complex tone in white noise: the
        periodogram's peak on a 4x zero-padded grid, then the exact DTFT maximum around it."""
        n = x.size
        nfft = next_fast_len(4 * max(n, int(np.ceil(2.0 / max(limit, 1e-9)))))
        freqs = np.fft.fftfreq(nfft)
        power = np.abs(np.fft.fft(x, nfft)) ** 2
        power[np.abs(freqs) > limit] = -1.0
        coarse = float(freqs[int(np.argmax(power))])
        k = np.arange(n) - (n - 1) / 2.0

        def negative(f):
            return -abs(np.dot(x, np.exp(-2j * np.pi * f * k)))

        step = 1.0 / nfft
        found = minimize_scalar(
            negative, bounds=(coarse - step, coarse + step), method="bounded", options={"xatol": 1e-9}
        )
        return float(found.x)

    def _acquire_unshaped(self, samples: np.ndarray, search: int | None) -> Acquisition | None:
        p = self.preamble.size
        metric = self.detection_metric(samples, search)
        if metric.size == 0:
            return None
        start = int(np.argmax(metric))
        received = samples[start : start + p]
        gain = complex(np.vdot(self.preamble, received) / p)
        noise_var = max(float(np.mean(np.abs(received - gain * self.preamble) ** 2)), 1e-30)
        return Acquisition(
            start=start,
            timing=0.0,
            cfo=0.0,
            gain=gain,
            noise_var=noise_var,
            snr_db=float(10 * np.log10(max(abs(gain) ** 2, 1e-30) / noise_var)),
            metric=float(metric[start]),
        )

    # -- the frame ----------------------------------------------------------------------------------------
    def samples_needed(self, acquisition: Acquisition, count: int) -> int:
        """Samples of the buffer (from its sample 0) that :meth:`track` reads for ``count`` symbols, with
        the sample clock up to ``max_ppm`` fast or slow."""
        w = self.waveform
        if not w.shaped:
            return acquisition.start + int(count)
        last = acquisition.position + max(int(count) - 1, 0) * w.sps * (1 + self.max_ppm * 1e-6)
        return int(math.ceil(last)) + w.group_delay + self.interp_half_taps + 2

    def symbols(
        self, samples: np.ndarray, acquisition: Acquisition, count: int, known: np.ndarray | None = None
    ) -> np.ndarray:
        """The frame's first ``count`` symbols (preamble included), one per symbol, ``~ gain s_k + noise``."""
        return self.track(samples, acquisition, count, known).symbols

    def track(
        self, samples: np.ndarray, acquisition: Acquisition, count: int, known: np.ndarray | None = None
    ) -> SyncResult:
        """Timing and carrier across the frame; the symbols and the tracks.

        Args:
            samples: the buffer given to :meth:`acquire` (or one matched with :meth:`Acquisition.shifted`).
            acquisition: its result.
            count: frame symbols wanted (from the preamble's first).
            known: the frame's known leading symbols (None: the preamble; a receiver that decoded the header
                can pass preamble + re-encoded header), used as decisions by the phase tracker.
        """
        samples = np.asarray(samples, np.complex128).reshape(-1)
        count = int(count)
        w = self.waveform
        if not w.shaped:
            symbols = np.zeros(count, np.complex128)
            piece = samples[acquisition.start : acquisition.start + count]
            symbols[: piece.size] = piece
            return SyncResult(symbols, acquisition.start + np.arange(count, dtype=float), np.zeros(count), 1.0)
        known = self.preamble if known is None else np.asarray(known, np.complex128).reshape(-1)
        z = self.matched(samples, acquisition.cfo)
        offset, period = self._timing(z, acquisition, count)
        k_ref = (self.preamble.size - 1) / 2.0
        positions = offset + (np.arange(count) - k_ref) * period
        y = interpolate_at(z, positions, self.interp_half_taps)
        phase, window = self._phase(y, acquisition.gain, 10 ** (acquisition.snr_db / 10), known[:count])
        symbols = y * np.exp(-1j * phase)
        return SyncResult(symbols, positions, phase, period, window)

    def _timing(self, z: np.ndarray, acquisition: Acquisition, count: int) -> tuple[float, float]:
        """Kalman (recursive least squares) fit of ``tau_k = a + (k - k_ref) T`` from block Gardner errors."""
        sps, p, h = self.waveform.sps, self.preamble.size, self.interp_half_taps
        k_ref = (p - 1) / 2.0
        snr = 10 ** (acquisition.snr_db / 10)
        amplitude2 = abs(acquisition.gain) ** 2
        # the preamble's ML timing is that of its centre (a sample-rate offset tilts it about the centre)
        state = np.array([acquisition.position + k_ref * sps, float(sps)])
        timing_var = sps**2 / (8 * np.pi**2 * p * snr) + 1e-4
        cov = np.diag([timing_var, (self.max_ppm * 1e-6 * sps) ** 2 + 1e-12])
        # Gardner's per-block error variance (self-noise plus noise), roughly; it only weighs the prior
        block_var = sps**2 * (0.02 + 0.5 / snr) / self.timing_block
        for first in range(p, count, self.timing_block):
            last = min(first + self.timing_block, count)
            if last - first < 8:
                break
            k = np.arange(first - 1, last)
            on_time = state[0] + (k - k_ref) * state[1]
            points = interpolate_at(z, np.concatenate([on_time, on_time[1:] - state[1] / 2]), h)
            on, mid = points[: k.size], points[k.size :]
            error = float(np.mean(np.real(np.conj(mid) * (on[:-1] - on[1:]))))
            # the S-curve is that of sampling ``late`` samples after the pulse peaks
            late = float(np.clip(error / (amplitude2 * self._gardner_slope), -0.5, 0.5))
            centre = (first + last - 1) / 2.0 - k_ref
            row = np.array([1.0, centre])
            innovation = -late  # measured tau at the block centre minus the prediction
            gain_vector = cov @ row / (row @ cov @ row + block_var)
            state = state + gain_vector * innovation
            cov = cov - np.outer(gain_vector, row @ cov)
        return float(state[0]), float(state[1])

    def _phase(self, y: np.ndarray, gain: complex, snr: float, known: np.ndarray) -> tuple[np.ndarray, int]:
        """Carrier phase of every symbol relative to ``gain``'s, and the decision-directed window used:
        Viterbi-Viterbi anchored on the known symbols, then decision-directed (module doc)."""
        n, m = y.size, known.size
        if n == 0:
            return np.zeros(0), 0
        reference = float(np.angle(gain))
        # 4th-power window: the estimate's variance grows like (1 + 4.5/snr + 6/snr^2 + 1.5/snr^3) / snr
        # (squaring loss), so low SNR needs a longer average; it only has to be good enough for decisions
        vv_window = self.vv_window_for(snr)
        magnitude2 = np.abs(y) ** 2
        fourth = -(y**4) / np.maximum(magnitude2, 1e-300)  # QPSK at odd multiples of pi/4: s^4 = -|s|^4
        vv = np.unwrap(np.angle(_centred_mean(fourth, vv_window))) / 4.0
        # the pi/2 ambiguity: the branch closest to the data-aided phase over the known symbols
        anchor = np.angle(np.sum(y[:m] * np.conj(known))) if m else reference
        lead = max(m, 1)
        offset = np.angle(np.sum(np.exp(1j * (anchor - vv[:lead]))))  # circular mean: never averages +-pi to 0
        phase = vv + np.round(offset / (np.pi / 2)) * (np.pi / 2)
        window = self.phase_window or max(16, vv_window // 2)
        for iteration in range(3):
            decisions = _qpsk_decisions(y * np.exp(-1j * phase))
            decisions[:m] = known
            products = y * np.conj(decisions)
            if iteration == 1 and not self.phase_window:
                window = self._dd_window(products, phase, snr)
            dd = np.unwrap(np.angle(_centred_mean(products, window)))
            # keep the branch of the previous estimate (np.unwrap starts wherever the first angle lands)
            phase = dd + 2 * np.pi * np.round(np.mean(phase[:lead] - dd[:lead]) / (2 * np.pi))
        return phase - reference, window

    def vv_window_for(self, snr: float) -> int:
        """Symbols in the 4th-power phase average at symbol SNR ``snr`` (linear)."""
        return self.vv_window or int(np.clip(64 * (1 + 8 / max(snr, 1e-3) ** 2), 64, 8192))

    @staticmethod
    def _dd_window(products: np.ndarray, track: np.ndarray, snr: float, block: int = 16) -> int:
        """The moving-average length that minimises the phase error of a random walk in white noise,
        ``sqrt(6 / (snr q))`` with the walk's increment variance ``q`` per symbol measured from the data:
        phases of blocks of ``block`` symbols differ at lag ``L`` blocks by ``L block q`` plus a constant
        (noise and decision errors), so ``q = (D(8) - D(1)) / (7 block)`` from the two lags' variances."""
        blocks = products.size // block
        if blocks < 64:
            return int(max(16, products.size))
        sums = products[: blocks * block].reshape(blocks, block).sum(axis=1)
        centre = track[: blocks * block].reshape(blocks, block).mean(axis=1)
        theta = centre + np.angle(sums * np.exp(-1j * centre))  # unwrapped along the track
        lag1, lag8 = np.var(np.diff(theta)), np.var(theta[8:] - theta[:-8])
        q = (lag8 - lag1) / (7 * block)
        if not q > 0:
            return int(min(products.size, 8192))
        return int(np.clip(np.sqrt(6.0 / (max(snr, 1e-3) * q)), 4, 8192))


class _Series:
    """A growing 1-D array indexed from ``base`` (entries before it dropped once no longer needed)."""

    def __init__(self, dtype, initial=()):
        self.base = 0
        self.data = np.asarray(initial, dtype)

    @property
    def end(self) -> int:
        return self.base + self.data.size

    def append(self, values: np.ndarray):
        self.data = np.concatenate([self.data, values])

    def get(self, lo: int, hi: int) -> np.ndarray:
        return self.data[lo - self.base : hi - self.base]

    def at(self, index: np.ndarray) -> np.ndarray:
        return self.data[np.asarray(index) - self.base]

    def drop_before(self, index: int):
        count = min(max(0, int(index) - self.base), self.data.size)
        if count:
            self.data = self.data[count:].copy()
            self.base += count


def _unwrap_corrections(previous: float, raw: np.ndarray) -> np.ndarray:
    """``np.unwrap``'s per-step corrections of ``raw`` continuing after the angle ``previous`` (the same
    formula, so a stream unwrapped block by block equals the whole array unwrapped at once)."""
    dd = np.diff(np.concatenate([[previous], raw]))
    ddmod = np.mod(dd + np.pi, 2 * np.pi) - np.pi
    ddmod[(ddmod == -np.pi) & (dd > 0)] = np.pi
    correction = ddmod - dd
    correction[np.abs(dd) < np.pi] = 0.0
    return correction


class _PhaseStage:
    """One pass of the phase tracker: the centred moving sum of its input (the 4th-power terms, or the
    decision-directed products), its angle unwrapped along the frame, on a fixed grid of blocks."""

    def __init__(self, window: int, fourth: bool):
        self.window = max(1, int(window))
        self.half = self.window // 2
        self.fourth = fourth
        self.prefix = _Series(np.complex128, [0.0])  # prefix[i] = sum of the inputs before symbol i
        self.theta = _Series(np.float64)  # the phase estimate, one per symbol
        self.next = 0  # first symbol of the next output block
        self._raw = 0.0  # the last raw angle (unwrapping state)
        self._correction = 0.0  # the accumulated unwrapping correction
        self._branch = 0.0  # the constant that puts the estimate on the previous stage's branch

    @property
    def inputs(self) -> int:
        return self.prefix.end - 1

    def extend(self, u: np.ndarray):
        if u.size:
            self.prefix.append(np.cumsum(np.concatenate([[self.prefix.data[-1]], u]))[1:])

    def angles(self, first: int, last: int, count: int) -> np.ndarray:
        """The unwrapped angle of the centred sums at symbols ``first .. last - 1`` (``count``: frame length)."""
        k = np.arange(first, last)
        sums = self.prefix.at(np.minimum(k + self.half + 1, count)) - self.prefix.at(np.maximum(k - self.half, 0))
        raw = np.angle(sums)
        if first == 0:  # np.unwrap starts from the first angle as it is
            self._raw, self._correction = float(raw[0]), 0.0
        correction = np.cumsum(np.concatenate([[self._correction], _unwrap_corrections(self._raw, raw)]))[1:]
        self._raw, self._correction = float(raw[-1]), float(correction[-1])
        return raw + correction


class SymbolTracker:
    """:meth:`FrameSynchroniser.track` as a stream: the frame's symbols come out as the samples arrive, in
    bounded memory, whatever the chunking (every computation runs on a fixed grid of symbol blocks, so the
    result does not depend on when the samples came).

    Timing: the same Kalman filter of Gardner block errors, causal: block ``b``'s symbols are interpolated
    at the state after its own update (the batch tracker resamples the whole frame with the final state).
    Carrier phase: the same passes (4th power, then three decision-directed passes, the first with
    ``max(16, V / 2)`` symbols, the others with ``W``), each a centred moving sum, so a symbol's phase is
    final once the symbols ``V / 2 + max(8, V / 4) + W`` after it are here; ``W`` is fixed after the
    known leading symbols (preamble and header) from the phase-noise rate measured on them.

    Memory: the samples of one timing block (``timing_block sps`` plus the filters) and a few arrays of
    ``W + V`` symbols.

    Args:
        sync: the synchroniser (its waveform must be shaped).
        acquisition: its acquisition of the frame, for a buffer whose sample 0 is absolute sample ``origin``.
        count: the frame's symbols (preamble included).
        known: the frame's known leading symbols (preamble and re-encoded header).
        origin: the absolute index of the acquisition buffer's sample 0.
        max_phase_window: longest decision-directed average (symbols; bounds the look-ahead).
    """

    MARGIN = 4  # samples of matched-filter output beyond the predicted positions (the update moves them)

    def __init__(
        self,
        sync: FrameSynchroniser,
        acquisition: Acquisition,
        count: int,
        known: np.ndarray,
        origin: int = 0,
        max_phase_window: int = 4096,
    ):
        if not sync.waveform.shaped:
            raise IsscInputError("the symbol tracker needs a shaped waveform (sps > 1)")
        self.sync = sync
        self.acquisition = acquisition
        self.count = int(count)
        self.known = np.asarray(known, np.complex128).reshape(-1)[: self.count]
        self.origin = int(origin)
        self.max_phase_window = int(max_phase_window)
        w, p = sync.waveform, sync.preamble.size
        self._k_ref = (p - 1) / 2.0
        self._snr = 10 ** (acquisition.snr_db / 10)
        self._state = np.array([acquisition.position + self._k_ref * w.sps, float(w.sps)])
        timing_var = w.sps**2 / (8 * np.pi**2 * p * self._snr) + 1e-4
        self._cov = np.diag([timing_var, (sync.max_ppm * 1e-6 * w.sps) ** 2 + 1e-12])
        self._block_var = w.sps**2 * (0.02 + 0.5 / self._snr) / sync.timing_block
        self._reference = float(np.angle(acquisition.gain))
        self._t_next = 0  # first symbol of the next timing block
        self.y = _Series(np.complex128)
        m = self.known.size
        self._lead = max(m, 1)
        self._first_block = min(self.count, max(self._lead, sync.timing_block))
        vv = sync.vv_window_for(self._snr)
        first_dd = sync.phase_window or max(16, vv // 2)
        self._stages = [_PhaseStage(vv, True), _PhaseStage(first_dd, False)]
        self._window_fixed = bool(sync.phase_window)
        if self._window_fixed:
            self._stages += [_PhaseStage(sync.phase_window, False), _PhaseStage(sync.phase_window, False)]
        self.emitted = 0  # symbols returned by pop()
        self._out: list[np.ndarray] = []  # finalised symbols not yet popped
        self.phase_window = sync.phase_window or 0

    # -- the stream -------------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.emitted >= self.count

    def needed_from(self) -> int | None:
        """The first absolute sample still needed (None when every timing block is done)."""
        bounds = self._timing_bounds()
        if bounds is None:
            return None
        return self.origin + bounds[0]

    def advance(self, samples: np.ndarray, base: int):
        """Run every block whose inputs are here: ``samples`` are absolute samples ``base ..`` (the
        receiver's buffer; before ``base`` it must hold everything from :meth:`needed_from`)."""
        end = base + samples.size
        while True:
            progressed = self._timing_step(samples, base, end)
            for index in range(len(self._stages)):
                while self._stage_step(index):
                    progressed = True
            if not progressed:
                break
        self._trim()

    def pop(self) -> np.ndarray:
        """The symbols finalised since the last call (``~ gain s_k + noise``, from symbol ``emitted``)."""
        if not self._out:
            return np.zeros(0, np.complex128)
        out = np.concatenate(self._out)
        self._out = []
        self.emitted += out.size
        self._trim()
        return out

    # -- timing -------------------------------------------------------------------------------------------
    def _timing_bounds(self) -> tuple[int, int] | None:
        """The raw samples (relative to ``origin``) the next timing block reads, ``[lo, hi)``."""
        first, last, update = self._next_timing_block()
        if first >= last:
            return None
        w, h = self.sync.waveform, self.sync.interp_half_taps
        a, period = self._state
        k = np.arange(first - 1 if update else first, last)
        predicted = a + (k - self._k_ref) * period
        lo = int(math.floor(predicted[0] - period / 2)) - h - self.MARGIN - w.group_delay
        hi = int(math.ceil(predicted[-1])) + h + self.MARGIN + 1 + w.group_delay
        return lo, hi

    def _next_timing_block(self) -> tuple[int, int, bool]:
        p, block = self.sync.preamble.size, self.sync.timing_block
        first = self._t_next
        if first == 0:
            return 0, min(p, self.count), False
        last = min(first + block, self.count)
        return first, last, last - first >= 8

    def _timing_step(self, samples: np.ndarray, base: int, end: int) -> bool:
        bounds = self._timing_bounds()
        if bounds is None:
            return False
        lo, hi = bounds
        if self.origin + hi > end:
            return False
        first, last, update = self._next_timing_block()
        sync, w = self.sync, self.sync.waveform
        h, gd = sync.interp_half_taps, w.group_delay
        x = np.zeros(hi - lo, np.complex128)
        a_lo, a_hi = max(self.origin + lo, 0), self.origin + hi
        if a_lo < base:
            raise RuntimeError(f"symbol tracker: sample {a_lo} was dropped (buffer from {base})")
        x[a_lo - self.origin - lo :] = samples[a_lo - base : a_hi - base]
        n = np.arange(lo, hi)
        x *= np.exp(-2j * np.pi * ((self.acquisition.cfo * n) % 1.0))
        z = fftconvolve(x, w.matched_taps, mode="valid")  # z[i] is the matched output at lo + gd + i
        z_lo = lo + gd
        if update:
            a, period = self._state
            k = np.arange(first - 1, last)
            on_time = a + (k - self._k_ref) * period
            points = interpolate_at(z, np.concatenate([on_time, on_time[1:] - period / 2]) - z_lo, h)
            on, mid = points[: k.size], points[k.size :]
            error = float(np.mean(np.real(np.conj(mid) * (on[:-1] - on[1:]))))
            amplitude2 = abs(self.acquisition.gain) ** 2
            late = float(np.clip(error / (amplitude2 * sync._gardner_slope), -0.5, 0.5))
            row = np.array([1.0, (first + last - 1) / 2.0 - self._k_ref])
            gain_vector = self._cov @ row / (row @ self._cov @ row + self._block_var)
            self._state = self._state + gain_vector * (-late)
            self._cov = self._cov - np.outer(gain_vector, row @ self._cov)
        a, period = self._state
        positions = a + (np.arange(first, last) - self._k_ref) * period
        y = interpolate_at(z, positions - z_lo, h)
        self.y.append(y)
        self._t_next = last
        self._stages[0].extend(-(y**4) / np.maximum(np.abs(y) ** 2, 1e-300))
        return True

    # -- carrier phase ------------------------------------------------------------------------------------
    def _block(self, stage: _PhaseStage) -> tuple[int, int]:
        first = stage.next
        last = self._first_block if first == 0 else min(first + self.sync.timing_block, self.count)
        return first, last

    def _stage_step(self, index: int) -> bool:
        stage = self._stages[index]
        first, last = self._block(stage)
        if first >= last or stage.inputs < min(last + stage.half, self.count):
            return False
        theta = stage.angles(first, last, self.count)
        if stage.fourth:
            theta = theta / 4.0
            if first == 0:
                m = self.known.size
                y = self.y.get(0, self._lead)
                anchor = np.angle(np.sum(y[:m] * np.conj(self.known))) if m else self._reference
                offset = np.angle(np.sum(np.exp(1j * (anchor - theta[: self._lead]))))
                stage._branch = np.round(offset / (np.pi / 2)) * (np.pi / 2)
        elif first == 0:
            previous = self._stages[index - 1].theta.get(0, self._lead)
            stage._branch = 2 * np.pi * np.round(np.mean(previous - theta[: self._lead]) / (2 * np.pi))
        theta = theta + stage._branch
        stage.theta.append(theta)
        stage.next = last
        if index == 3:  # the final pass: these symbols are done (computed per block: chunking-exact)
            self._out.append(self.y.get(first, last) * np.exp(-1j * (theta - self._reference)))
        if index + 1 == len(self._stages) and index < 3:
            self._add_stages()
        if index + 1 < len(self._stages):
            self._feed(index + 1)
        return True

    def _feed(self, index: int):
        """Extend stage ``index``'s inputs (decision-directed products) as far as its predecessor's phase."""
        stage, previous = self._stages[index], self._stages[index - 1]
        lo, hi = stage.inputs, previous.theta.end
        if hi <= lo:
            return
        y = self.y.get(lo, hi)
        decisions = _qpsk_decisions(y * np.exp(-1j * previous.theta.get(lo, hi)))
        m = self.known.size
        if lo < m:
            decisions[: min(hi, m) - lo] = self.known[lo : min(hi, m)]
        stage.extend(y * np.conj(decisions))

    def _add_stages(self):
        """After the first decision-directed pass: fix ``W`` from the known symbols' phase-noise rate (the
        batch tracker's rule, on the preamble and header), and add the two passes that use it."""
        if not self._window_fixed:
            m = self.known.size
            y = self.y.get(0, m)
            products = y * np.conj(self.known)
            track = self._stages[1].theta.get(0, m)
            window = self.sync._dd_window(products, track, self._snr) if m else self.max_phase_window
            window = int(min(window, self.max_phase_window))
            self.phase_window = window
            self._stages += [_PhaseStage(window, False), _PhaseStage(window, False)]
            self._window_fixed = True
            self._feed(2)

    def _trim(self):
        """Drop the symbols and sums no block will read again."""
        keep = self._stages[-1].next
        for stage in self._stages:
            keep = min(keep, stage.next - stage.half - 1, stage.inputs)
            if stage.next == 0:
                keep = min(keep, 0)
        if len(self._stages) < 4:
            keep = min(keep, 0)
        keep = max(keep, 0)
        self.y.drop_before(keep)
        for stage in self._stages:
            stage.prefix.drop_before(keep)
            stage.theta.drop_before(keep)
