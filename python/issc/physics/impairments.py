# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Radio impairments of a receiver front end, streaming and chunk-exact (seeded).

In the order a real receiver applies them to the received signal ``r`` (one stream, or several sharing
one local oscillator and one ADC clock, time on the last axis):

1. Carrier: ``r[n] exp(j (2 pi f n + theta[n]))`` with the carrier frequency offset ``f`` (cycles per
   input sample) and Wiener phase noise ``theta[n] = theta[n-1] + w[n]``, ``w ~ N(0, 2 pi dnu Ts)``
   (``dnu Ts`` the oscillator's 3 dB linewidth in units of the sample rate: the Lorentzian spectrum of
   a free-running oscillator).
2. Sampling clock (only when a timing offset or a sample-rate offset is set): output sample ``n`` is
   the input at ``t_n = n (1 + ppm 1e-6) - d - H``, a receiver whose sample period is ``1 + ppm 1e-6``
   transmitter samples (``N`` inputs give ``N / (1 + ppm 1e-6)`` outputs), with the timing offset ``d``
   (samples) and a bulk latency of ``H`` samples (the interpolator's half-length: it needs ``H`` inputs
   ahead of each point, so a streaming resampler must lag them). The interpolation is the windowed sinc
   of :func:`gnuradio.issc.physics.dsp.interpolate_at`, exact to ~3e-4 (-70 dB) for signals band-limited
   below 0.4 of the sample rate; ``t_n`` is computed from the absolute output index, so the result does
   not depend on how the stream is chunked and nothing accumulates rounding over a long run.
3. Additive noise (the caller's: :meth:`Impairments.process` takes a callable), drawn per output sample.
4. IQ imbalance of the quadrature demodulator: the Q branch has gain ``g`` (``gain_db``) and phase error
   ``phi`` (``phase_deg``): ``I' = I``, ``Q' = g (cos(phi) Q - sin(phi) I)``, i.e.
   ``y = mu r + nu conj(r)`` with ``mu = (1 + g e^{-j phi}) / 2``, ``nu = (1 - g e^{j phi}) / 2``, and the
   image-rejection ratio ``|mu|^2 / |nu|^2 = (1 + 2 g cos phi + g^2) / (1 - 2 g cos phi + g^2)``.

Every impairment defaults to off; with all off :meth:`Impairments.process` returns its input unchanged
(plus the caller's noise), so a channel with default settings is the ideal one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from ..errors import IsscInputError
from .dsp import DEFAULT_HALF_TAPS, interpolate_at

MAX_PPM = 1e4  # 1 %: far beyond any crystal, small enough that the resampler's latency bound holds


@dataclass(frozen=True)
class ImpairmentSettings:
    """What the receiver's front end does to the signal (all off by default), in units of the sample rate.

    Args:
        cfo: carrier frequency offset, cycles per sample (:meth:`cycles_per_sample` converts from cycles
            per symbol).
        linewidth: phase-noise 3 dB linewidth times the sample period (``dnu Ts``; increment variance
            ``2 pi dnu Ts`` rad^2 per sample).
        timing_offset: delay in samples (>= 0, fractional allowed).
        sro_ppm: sample-rate offset in ppm (positive: the receiver samples slower, fewer samples).
        iq_gain_db: Q-branch gain imbalance in dB.
        iq_phase_deg: Q-branch phase imbalance in degrees.
    """

    cfo: float = 0.0
    linewidth: float = 0.0
    timing_offset: float = 0.0
    sro_ppm: float = 0.0
    iq_gain_db: float = 0.0
    iq_phase_deg: float = 0.0

    def __post_init__(self):
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise IsscInputError(f"impairment '{item.name}' must be a real number, got {value!r}")
            if not math.isfinite(value):
                raise IsscInputError(f"impairment '{item.name}' must be finite, got {value!r}")
        if not abs(self.cfo) <= 0.5:
            raise IsscInputError(f"cfo must be in [-0.5, 0.5] cycles per sample, got {self.cfo!r}")
        if self.linewidth < 0 or self.linewidth > 0.1:
            raise IsscInputError(
                f"phase-noise linewidth must be in [0, 0.1] of the sample rate, got {self.linewidth!r}"
            )
        if not 0 <= self.timing_offset <= 1e6:
            raise IsscInputError(f"timing offset must be in [0, 1e6] samples, got {self.timing_offset!r}")
        if not abs(self.sro_ppm) <= MAX_PPM:
            raise IsscInputError(f"sample-rate offset must be within +-{MAX_PPM:g} ppm, got {self.sro_ppm!r}")
        if not abs(self.iq_gain_db) <= 20:
            raise IsscInputError(f"IQ gain imbalance must be within +-20 dB, got {self.iq_gain_db!r}")
        if not abs(self.iq_phase_deg) < 90:
            raise IsscInputError(f"IQ phase imbalance must be within (-90, 90) degrees, got {self.iq_phase_deg!r}")

    @staticmethod
    def cycles_per_sample(cycles_per_symbol: float, sps: int) -> float:
        """A CFO given in cycles per symbol, at ``sps`` samples per symbol, in cycles per sample."""
        return float(cycles_per_symbol) / int(sps)

    @classmethod
    def physical(
        cls,
        sample_rate_hz: float,
        cfo_hz: float = 0.0,
        linewidth_hz: float = 0.0,
        timing_offset: float = 0.0,
        sro_ppm: float = 0.0,
        iq_gain_db: float = 0.0,
        iq_phase_deg: float = 0.0,
    ) -> ImpairmentSettings:
        """The settings from a CFO and a linewidth in hertz at ``sample_rate_hz`` (the blocks' units)."""
        if not (math.isfinite(sample_rate_hz) and sample_rate_hz > 0):
            raise IsscInputError(f"sample rate must be a positive number of Hz, got {sample_rate_hz!r}")
        return cls(
            float(cfo_hz) / sample_rate_hz,
            float(linewidth_hz) / sample_rate_hz,
            timing_offset,
            sro_ppm,
            iq_gain_db,
            iq_phase_deg,
        )

    @property
    def rotates(self) -> bool:
        return self.cfo != 0.0 or self.linewidth != 0.0

    @property
    def resamples(self) -> bool:
        return self.timing_offset != 0.0 or self.sro_ppm != 0.0

    @property
    def imbalanced(self) -> bool:
        return self.iq_gain_db != 0.0 or self.iq_phase_deg != 0.0

    @property
    def active(self) -> bool:
        return self.rotates or self.resamples or self.imbalanced

    @property
    def iq_coefficients(self) -> tuple[complex, complex]:
        """``(mu, nu)`` of ``y = mu r + nu conj(r)``."""
        g = 10 ** (self.iq_gain_db / 20)
        phi = math.radians(self.iq_phase_deg)
        return (1 + g * complex(math.cos(phi), -math.sin(phi))) / 2, (1 - g * complex(math.cos(phi), math.sin(phi))) / 2


class Impairments:
    """The impairments of :class:`ImpairmentSettings` as a stream: :meth:`process` chunks of any size and
    the output equals that of the whole stream processed at once (the phase-noise walk, the carrier
    phase, the resampler's position and its input history all carry over).

    Args:
        settings: the impairments.
        seed: seed of the phase noise.
        half_taps: half-length of the resampler's interpolator (also its latency in samples).
    """

    def __init__(self, settings: ImpairmentSettings | None = None, seed: int = 0, half_taps: int = DEFAULT_HALF_TAPS):
        self.settings = settings if settings is not None else ImpairmentSettings()
        if not isinstance(self.settings, ImpairmentSettings):
            raise IsscInputError(f"impairments need an ImpairmentSettings, got {type(settings).__name__}")
        self.half_taps = int(half_taps)
        self._rng = np.random.default_rng(seed)
        self._inputs = 0  # input samples seen (absolute index of the next one)
        self._walk = 0.0  # phase-noise phase after the last input (rad)
        s = self.settings
        self._rate = 1.0 + s.sro_ppm * 1e-6
        self._outputs = 0  # resampler outputs produced
        # resampler input history: _history[..., 0] is absolute input index _history_start (zeros before 0)
        self._history = None
        self._history_start = 0

    @property
    def outputs_produced(self) -> int:
        return self._outputs if self.settings.resamples else self._inputs

    def _position(self, n: np.ndarray) -> np.ndarray:
        """Input position of output ``n`` (absolute): ``n (1 + ppm) - d - H``, split so that the large
        integer part never loses the fraction."""
        s = self.settings
        return n + (n * (s.sro_ppm * 1e-6) - s.timing_offset - self.half_taps)

    def _last_output_for(self, inputs: int) -> int:
        """Outputs computable from ``inputs`` input samples: output ``n`` needs the inputs up to
        ``rint(t_n) + H``, and ``t_n`` grows with ``n``."""
        h = self.half_taps
        # first guess from the linear relation, then step to the exact boundary
        n = max(0, int(math.floor((inputs - 1 + self.settings.timing_offset + 0.5) / self._rate)) + 1)
        while n > 0 and np.rint(self._position(np.float64(n - 1))) + h > inputs - 1:
            n -= 1
        while np.rint(self._position(np.float64(n))) + h <= inputs - 1:
            n += 1
        return n

    def inputs_for_outputs(self, outputs: int) -> int:
        """The most new input samples :meth:`process` can take without producing more than ``outputs``
        samples (for a block with a bounded output buffer)."""
        if not self.settings.resamples:
            return max(0, int(outputs))
        # output n = produced + outputs must stay out of reach: rint(t_n) + H > total inputs - 1
        limit = int(np.rint(self._position(np.float64(self._outputs + max(0, int(outputs)))))) + self.half_taps
        return max(0, limit - self._inputs)

    def process(self, x: np.ndarray, noise=None) -> np.ndarray:
        """Impair a chunk of received samples (time on the last axis).

        Args:
            x: the chunk.
            noise: None, or a callable ``shape -> array`` of additive noise for the output samples, added
                after the sampling clock and before the IQ imbalance (see the module doc).

        Returns:
            the impaired samples: as many as ``x`` has, unless the sampling clock resamples.
        """
        s = self.settings
        y = np.asarray(x, np.complex128)
        n = y.shape[-1]
        if s.rotates:
            phase = 2.0 * np.pi * ((s.cfo * (self._inputs + np.arange(n))) % 1.0)
            if s.linewidth:
                steps = self._rng.standard_normal(n) * math.sqrt(2.0 * np.pi * s.linewidth)
                walk = self._walk + np.cumsum(steps)
                if n:
                    self._walk = float(walk[-1])
                phase = phase + walk
            y = y * np.exp(1j * phase)
        self._inputs += n
        if s.resamples:
            y = self._resample(y)
        if noise is not None:
            y = y + noise(y.shape)
        if s.imbalanced:
            mu, nu = s.iq_coefficients
            y = mu * y + nu * np.conj(y)
        return y

    def _resample(self, y: np.ndarray) -> np.ndarray:
        h = self.half_taps
        if self._history is None:
            # zeros before the stream: the earliest point reads from index -d - 2H - 1
            reach = int(math.ceil(self.settings.timing_offset)) + 2 * h + 2
            self._history = np.zeros(y.shape[:-1] + (reach,), np.complex128)
            self._history_start = -reach
        signal = np.concatenate([self._history, y], axis=-1)
        stop = self._last_output_for(self._inputs)
        n = np.arange(self._outputs, stop, dtype=np.float64)
        out = interpolate_at(signal, self._position(n) - self._history_start, h)
        self._outputs = stop
        # keep what the next output reaches back to (rint(t) - H, minus one for the rounding)
        keep_from = int(np.floor(self._position(np.float64(stop)))) - h - 1
        drop = min(max(0, keep_from - self._history_start), signal.shape[-1])
        self._history = signal[..., drop:]
        self._history_start += drop
        return out
