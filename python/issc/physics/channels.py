# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The two propagation channels of the scene (docs/model.md §§3-4), streaming and chunk-exact.

- :class:`CommChannel`: ``y_c[n] = h_c^H x[n] + n[n]``, optionally through a receiver front end's
  impairments (:mod:`gnuradio.issc.physics.impairments`: CFO, phase noise, timing and sample-rate offset,
  IQ imbalance; all off by default).
- :class:`EchoChannel`: ``y_s[n] = beta_0 a_NR(phi) a_NT(theta)^H x(n - tau_b) + n_s[n]`` with
  ``tau_b = (d_bo + d_or)/c + dtau_b`` constant over sensing block ``b`` (``N`` samples) and a fresh
  sync error ``dtau_b ~ N(0, sigma_dt^2)`` per block. The delay is the band-limited windowed-sinc
  fractional delay of :mod:`gnuradio.issc.physics.dsp`, never a rounding to whole samples.

Causality: a windowed-sinc delay by ``D`` samples with ``T`` taps on each side needs the input up to
``n - D + T``; a streaming channel only has the past, so ``D >= T + 1`` is required. Sync errors are
drawn from the normal distribution truncated at ``K = SYNC_TRUNCATION_SIGMAS`` (5) sigma, so the
shortest delay is ``D_nominal - K sigma`` and the filter's half-length is
``min(48, floor(D_nominal - K sigma) - 1)`` samples (at least 16, else the scene is rejected with a
clear error). The longest delay, ``D_max + K sigma``, sets how much past input the channel keeps
(:func:`echo_history_samples`); the sensing estimator searches the same ``+-K sigma`` and keeps the
same history, so every echo the channel can produce is one the estimator's model can reproduce.
The echo can optionally carry the sensing receiver's carrier impairments (CFO, phase noise, IQ
imbalance), common to its antennas (one local oscillator); its timing error is the sync error above.
"""

from __future__ import annotations

import numpy as np

from ..errors import IsscInputError
from ..scenario import load_scenario
from ..units import SPEED_OF_LIGHT
from .dsp import DEFAULT_HALF_TAPS, delay_taps
from .geometry import Geometry, noise_powers_w
from .impairments import Impairments, ImpairmentSettings
from .motion import scenario_trajectory

# The sync error's normal distribution is truncated at this many sigma, by the channel's draw and in
# the estimator's search and history alike. Why 5: it discards a draw with probability 5.7e-7 (the
# variance shrinks by a factor 1 - 1.5e-5, invisible next to any Monte Carlo's own error), while every
# extra sigma costs causal filter taps: in the shipped scenes (sigma_dt = 100 ns = 10 samples, echo
# delay 71 samples) 5 sigma leaves floor(71 - 50) - 1 = 19 taps a side, 6 sigma would leave 9, below
# MIN_HALF_TAPS, and the scenes would be rejected.
SYNC_TRUNCATION_SIGMAS = 5.0
MIN_HALF_TAPS = 16


def complex_noise(rng: np.random.Generator, shape, variance: float) -> np.ndarray:
    """``CN(0, variance)`` samples of ``shape`` (last axis = time), drawn time-major so that a stream
    processed in chunks gets exactly the noise it would get in one piece."""
    shape = tuple(np.atleast_1d(shape))
    draws = rng.standard_normal((shape[-1],) + shape[:-1] + (2,))
    noise = np.sqrt(variance / 2.0) * (draws[..., 0] + 1j * draws[..., 1])
    return np.moveaxis(noise, 0, -1)


def impairment_stage(settings: ImpairmentSettings | None, seed: int) -> Impairments | None:
    """The streaming impairments of ``settings`` (None when there are none), their phase noise seeded
    apart from the channel's noise so that turning them on leaves the noise stream as it was."""
    if settings is None or not settings.active:
        return None
    return Impairments(settings, seed=[int(seed), 0x1A7])


class CommChannel:
    """``y_c = h_c^H x + n`` (docs/model.md §3), optionally with receiver impairments.

    With impairments the signal ``h_c^H x`` goes through the carrier (CFO, phase noise) and the sampling
    clock (timing offset, sample-rate offset: the output then has ``n / (1 + ppm 1e-6)`` samples for ``n``
    inputs, after a latency of the interpolator's half-length), the noise is added per output sample,
    and the IQ imbalance acts on signal plus noise (:mod:`gnuradio.issc.physics.impairments`).

    Args:
        h_c: channel vector (``N_T``), including the path loss.
        noise_w: ``sigma_n^2`` in watts (0: noise-free).
        seed: noise seed (and, derived from it, the phase noise's).
        impairments: :class:`~gnuradio.issc.physics.impairments.ImpairmentSettings` (None: none).
    """

    def __init__(self, h_c, noise_w: float, seed: int = 0, impairments: ImpairmentSettings | None = None):
        self.h_c = np.asarray(h_c, np.complex128).reshape(-1)
        if not np.all(np.isfinite(self.h_c)) or self.h_c.size == 0:
            raise IsscInputError("h_c must be a non-empty finite complex vector")
        if not (np.isfinite(noise_w) and noise_w >= 0):
            raise IsscInputError(f"noise power must be finite and >= 0, got {noise_w!r}")
        self.noise_w = float(noise_w)
        self._rng = np.random.default_rng(seed)
        self.impairments = impairment_stage(impairments, seed)

    @classmethod
    def from_scenario(cls, scenario, seed: int = 0, impairments: ImpairmentSettings | None = None) -> CommChannel:
        scn = load_scenario(scenario)
        return cls(Geometry.from_scenario(scn).h_c, noise_powers_w(scn)[0], seed, impairments)

    def inputs_for_outputs(self, outputs: int) -> int:
        """The most input samples :meth:`process` may take next without giving more than ``outputs``."""
        return self.impairments.inputs_for_outputs(outputs) if self.impairments else max(0, int(outputs))

    def _noise(self, shape) -> np.ndarray:
        return complex_noise(self._rng, shape, self.noise_w)

    def process(self, x: np.ndarray) -> np.ndarray:
        """``N_T x n`` transmitted samples -> received samples (``n`` of them unless the impairments
        resample)."""
        y = self.h_c.conj() @ np.asarray(x)
        if self.impairments is not None:
            return self.impairments.process(y, self._noise if self.noise_w else None)
        if self.noise_w:
            y = y + self._noise(y.shape)
        return y


def truncated_standard_normal(rng: np.random.Generator) -> float:
    """One draw of the standard normal truncated at ``SYNC_TRUNCATION_SIGMAS``, by rejection (a draw inside
    the bounds consumes exactly one ``standard_normal``, so streams match untruncated ones until a rare
    rejection)."""
    while True:
        draw = float(rng.standard_normal())
        if abs(draw) <= SYNC_TRUNCATION_SIGMAS:
            return draw


def max_echo_delay_samples(longest_range_m: float, sync_sigma_s: float, bandwidth_hz: float) -> float:
    """The longest echo delay in samples: the longest bistatic range plus the largest sync error the
    channel draws (``SYNC_TRUNCATION_SIGMAS`` sigma).

    Args:
        longest_range_m: the longest ``d_bo + d_or`` the target can have (m).
        sync_sigma_s: ``sigma_dt``.
        bandwidth_hz: sample rate ``B``.
    """
    return (longest_range_m / SPEED_OF_LIGHT + SYNC_TRUNCATION_SIGMAS * sync_sigma_s) * bandwidth_hz


def echo_history_samples(longest_range_m: float, sync_sigma_s: float, bandwidth_hz: float, half_taps: int) -> int:
    """Samples of past transmitted signal needed before an echo sample: the longest delay
    (:func:`max_echo_delay_samples`, rounded up) plus the delay filter's ``half_taps`` and 2 (the filter
    reaches ``floor(D) + half_taps + 1`` samples back, :func:`~gnuradio.issc.physics.dsp.delayed_segment`,
    plus one of slack). The echo channel keeps this much input and the sensing estimator asks for it.

    Args:
        longest_range_m: the longest ``d_bo + d_or`` the target can have (m).
        sync_sigma_s: ``sigma_dt``.
        bandwidth_hz: sample rate ``B``.
        half_taps: half-length of the fractional-delay filter.
    """
    return int(np.ceil(max_echo_delay_samples(longest_range_m, sync_sigma_s, bandwidth_hz))) + int(half_taps) + 2


def causal_half_taps(nominal_delay_samples: float, sync_sigma_samples: float) -> int:
    """Half-length of the fractional-delay filter that keeps the echo channel causal (module doc)."""
    half = min(
        DEFAULT_HALF_TAPS, int(np.floor(nominal_delay_samples - SYNC_TRUNCATION_SIGMAS * sync_sigma_samples)) - 1
    )
    if half < MIN_HALF_TAPS:
        raise IsscInputError(
            f"the echo delay ({nominal_delay_samples:.1f} samples) is too short for a causal band-limited delay "
            f"with sync errors of {sync_sigma_samples:.1f} samples: it must exceed "
            f"{MIN_HALF_TAPS + 1} + {SYNC_TRUNCATION_SIGMAS:g} sigma samples (move the target or lower sigma_dt)"
        )
    return half


class EchoChannel:
    """The bistatic echo at the sensing receiver, streaming.

    A moving target (``trajectory``) is static within a sensing block and at the trajectory's position at
    the block's time ``b * block_interval_s``: the delay, ``beta_0`` and both angles follow it block by block.

    Args:
        geometry: the scene (its target is the static target when no trajectory is given).
        bandwidth_hz: sample rate ``B``.
        noise_w: ``sigma_s^2`` per receive antenna (0: noise-free).
        sync_sigma_s: ``sigma_dt``.
        block: sensing block length ``N`` (a fresh sync error per block).
        seed: seed of the sync errors and the noise.
        trajectory: a :class:`~gnuradio.issc.physics.motion.Trajectory` (None: static target).
        block_interval_s: target time per block (None: ``N / B``).
        impairments: the sensing receiver's carrier impairments
            (:class:`~gnuradio.issc.physics.impairments.ImpairmentSettings`: CFO, phase noise, IQ imbalance;
            None: none), common to its antennas. A timing or sample-rate offset is rejected: the echo's
            timing error is the sync error.
    """

    def __init__(
        self,
        geometry: Geometry,
        bandwidth_hz: float,
        noise_w: float,
        sync_sigma_s: float,
        block: int = 1024,
        seed: int = 0,
        trajectory=None,
        block_interval_s: float | None = None,
        impairments: ImpairmentSettings | None = None,
    ):
        if impairments is not None and impairments.resamples:
            raise IsscInputError(
                "the echo channel takes carrier impairments only (CFO, phase noise, IQ imbalance): its timing "
                "error is the sync error sigma_dt"
            )
        if not (block >= 1 and int(block) == block):
            raise IsscInputError(f"sensing block must be an integer >= 1, got {block!r}")
        if not (np.isfinite(noise_w) and noise_w >= 0):
            raise IsscInputError(f"noise power must be finite and >= 0, got {noise_w!r}")
        if not (np.isfinite(sync_sigma_s) and sync_sigma_s >= 0):
            raise IsscInputError(f"sigma_dt must be finite and >= 0, got {sync_sigma_s!r}")
        self.geometry = geometry
        self.bandwidth_hz = float(bandwidth_hz)
        self.noise_w = float(noise_w)
        self.sync_sigma_s = float(sync_sigma_s)
        self.block = int(block)
        self.trajectory = trajectory
        self.block_interval_s = float(block_interval_s) if block_interval_s else self.block / self.bandwidth_hz
        shortest, longest = self._path_length_range()
        self.nominal_delay_s = geometry.path_length / SPEED_OF_LIGHT
        self.half_taps = causal_half_taps(
            shortest / SPEED_OF_LIGHT * self.bandwidth_hz, self.sync_sigma_s * self.bandwidth_hz
        )
        self.max_delay_samples = max_echo_delay_samples(longest, self.sync_sigma_s, self.bandwidth_hz)
        self._history = echo_history_samples(longest, self.sync_sigma_s, self.bandwidth_hz, self.half_taps)
        seeds = np.random.SeedSequence(seed).spawn(2)
        self._sync_rng, self._noise_rng = np.random.default_rng(seeds[0]), np.random.default_rng(seeds[1])
        self._past = np.zeros((geometry.n_tx, self._history), np.complex128)  # inputs before _next
        self._next = 0  # absolute index of the next input sample
        self._block_index = -1
        self._sync_error_s = 0.0
        self._block_geometry = geometry
        self.impairments = impairment_stage(impairments, seed)

    @classmethod
    def from_scenario(cls, scenario, seed: int = 0, impairments: ImpairmentSettings | None = None) -> EchoChannel:
        scn = load_scenario(scenario)
        return cls(
            Geometry.from_scenario(scn),
            scn.signal.bandwidth_hz,
            noise_powers_w(scn)[1],
            scn.sync.sigma_ns * 1e-9,
            scn.signal.sensing_block,
            seed,
            scenario_trajectory(scn) if scn.moving else None,
            scn.block_interval_s(),
            impairments,
        )

    def _path_length_range(self) -> tuple[float, float]:
        """Shortest and longest ``d_bo + d_or`` along the trajectory (the sum of distances is convex along
        a straight leg: the maximum is at a waypoint, the minimum is found on a fine grid)."""
        if self.trajectory is None:
            return self.geometry.path_length, self.geometry.path_length
        points = self.trajectory.waypoints
        lengths = []
        for a, b in zip(points[:-1], points[1:]):
            for f in np.linspace(0.0, 1.0, 1001):
                lengths.append(self.geometry.with_target(a + f * (b - a)).path_length)
        lengths += [self.geometry.with_target(p).path_length for p in points]
        return min(lengths), max(lengths)

    def target_position(self, block: int) -> np.ndarray:
        """The target's position during sensing block ``block``."""
        if self.trajectory is None:
            return np.asarray(self.geometry.target, float)
        return self.trajectory.position(block * self.block_interval_s)

    def _nominal_delay_s(self, block_geometry: Geometry) -> float:
        if self.trajectory is None:
            return self.nominal_delay_s
        return block_geometry.path_length / SPEED_OF_LIGHT

    def _draw_sync_error(self) -> float:
        if self.sync_sigma_s == 0:
            return 0.0
        return truncated_standard_normal(self._sync_rng) * self.sync_sigma_s

    def process(self, x: np.ndarray) -> tuple[np.ndarray, list[tuple[int, dict]]]:
        """``N_T x n`` transmitted samples -> (``N_R x n`` echo samples, block tags).

        Each sensing block that starts in this chunk gives a tag ``(absolute index, {block, delay_s,
        sync_error_s, nominal_delay_s, target_x, target_y})`` with the block's true total delay, sync error
        and target position.
        """
        x = np.asarray(x)
        n = x.shape[1]
        signal = np.concatenate([self._past, x], axis=1)
        offset = self._next - self._history  # absolute index of signal[:, 0]
        y = np.empty((self.geometry.n_rx, n), np.complex128)
        tags = []
        position = self._next
        end = self._next + n
        while position < end:
            block = position // self.block
            if block != self._block_index:
                self._block_index = block
                self._sync_error_s = self._draw_sync_error()
                self._block_geometry = self.geometry.with_target(self.target_position(block))
                if position == block * self.block:
                    g = self._block_geometry
                    nominal = self._nominal_delay_s(g)
                    tags.append(
                        (
                            position,
                            {
                                "block": int(block),
                                "delay_s": nominal + self._sync_error_s,
                                "sync_error_s": self._sync_error_s,
                                "nominal_delay_s": nominal,
                                "target_x": float(g.target[0]),
                                "target_y": float(g.target[1]),
                            },
                        )
                    )
            g = self._block_geometry
            stop = min(end, (block + 1) * self.block)
            delay = (self._nominal_delay_s(g) + self._sync_error_s) * self.bandwidth_hz
            # y[n] = sum_k h[k] s[n - floor(D) - k], s = a_T(theta)^H x, h the windowed sinc of the
            # fraction (physics/dsp.py): only the inputs the filter reaches are projected (all are in
            # `signal`, since the history covers the longest delay), and a 'valid' convolution gives the
            # block's samples
            integer = int(np.floor(delay))
            taps = delay_taps(float(delay - integer), self.half_taps)
            lo = position - offset - integer - self.half_taps
            projected = g.a_tx(g.theta).conj() @ signal[:, lo : stop - offset - integer + self.half_taps]
            segment = np.convolve(projected, taps, mode="valid")
            y[:, position - self._next : stop - self._next] = np.outer(g.beta_0 * g.a_rx(g.phi), segment)
            position = stop
        self._past = signal[:, -self._history :]
        self._next = end
        if self.impairments is not None:
            noise = (lambda shape: complex_noise(self._noise_rng, shape, self.noise_w)) if self.noise_w else None
            return self.impairments.process(y, noise), tags
        if self.noise_w:
            y = y + complex_noise(self._noise_rng, y.shape, self.noise_w)
        return y, tags
