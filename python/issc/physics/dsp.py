# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Signal-processing primitives shared by the channel models and the sensing estimator.

The fractional delay is a windowed-sinc FIR (Kaiser window), linear rather than circular, so a stream
processed in blocks gives exactly the same samples as in one piece, and a channel and an estimator that
both call :func:`delay_taps` use the identical operator. It is band-limited: accurate (error below
~1e-4) up to about 0.4 of the sample rate for the default length, and it rolls off towards Nyquist,
as any realisable fractional delay does.
"""

from __future__ import annotations

import functools

import numpy as np

DEFAULT_HALF_TAPS = 48
DEFAULT_KAISER_BETA = 8.0


def delay_taps(fraction: float, half_taps: int = DEFAULT_HALF_TAPS, beta: float = DEFAULT_KAISER_BETA) -> np.ndarray:
    """Taps ``h[k]``, ``k = -half_taps .. half_taps``, of a delay by ``fraction`` samples (``|fraction| <= 1``):
    ``y[n] = sum_k h[k] x[n - k]`` approximates ``x(n - fraction)``."""
    k = np.arange(-half_taps, half_taps + 1)
    t = k - fraction
    # shift the window with the sinc so that the delay is exactly linear-phase about the fraction
    window = np.interp(t, k, _kaiser_window(int(half_taps), float(beta)), left=0.0, right=0.0)
    return np.sinc(t) * window


def delayed_segment(
    x: np.ndarray,
    start: int,
    length: int,
    delay: float,
    half_taps: int = DEFAULT_HALF_TAPS,
    beta: float = DEFAULT_KAISER_BETA,
) -> np.ndarray:
    """Samples ``n = start .. start + length - 1`` of ``x(n - delay)`` for a signal ``x`` given on
    ``n = 0 .. len(x) - 1`` along the last axis (zero outside). ``delay`` may be any real number of samples.

    Needs ``x`` on ``[start - floor(delay) - half_taps - 1, start + length - floor(delay) + half_taps]``
    for exact results away from the signal's edges.
    """
    x = np.asarray(x)
    integer = int(np.floor(delay))
    fraction = float(delay - integer)
    taps = delay_taps(fraction, half_taps, beta)
    lo = start - integer - half_taps
    hi = start + length - integer + half_taps
    pad_lo, pad_hi = max(0, -lo), max(0, hi - x.shape[-1])
    segment = x[..., max(lo, 0) : min(hi, x.shape[-1])]
    if pad_lo or pad_hi:
        widths = [(0, 0)] * (segment.ndim - 1) + [(pad_lo, pad_hi)]
        segment = np.pad(segment, widths)
    # y[n] = sum_k taps[k] x[n - integer - k]: a 'valid' correlation over the gathered segment
    if segment.ndim == 1:
        return np.convolve(segment, taps, mode="valid")[:length]
    return np.stack(
        [np.convolve(row, taps, mode="valid")[:length] for row in segment.reshape(-1, segment.shape[-1])]
    ).reshape(segment.shape[:-1] + (length,))


@functools.lru_cache(maxsize=16)
def _kaiser_window(half_taps: int, beta: float) -> np.ndarray:
    """The window of :func:`delay_taps`, symmetric and nonzero at the ends (cached: ``np.kaiser`` costs far
    more than the taps themselves, and was a third of the echo channel's time when computed per block)."""
    window = np.kaiser(2 * half_taps + 1 + 2, beta)[1:-1]
    window.flags.writeable = False
    return window


@functools.lru_cache(maxsize=16)
def _kaiser_slope(half_taps: int, beta: float) -> np.ndarray:
    """Slope of the linearly interpolated window on ``(k - 1, k]``; 0 for the first tap (see below)."""
    grid = _kaiser_window(half_taps, beta)
    slope = np.diff(grid, prepend=grid[0])
    slope.flags.writeable = False
    return slope


def delay_taps_and_derivative(
    fraction: float, half_taps: int = DEFAULT_HALF_TAPS, beta: float = DEFAULT_KAISER_BETA
) -> tuple[np.ndarray, np.ndarray]:
    """``(h, dh/dfraction)`` for ``0 <= fraction < 1``: ``h`` equal to :func:`delay_taps` (same operations
    on a cached window, so bit-identical) and its exact derivative. With ``t = k - fraction``,
    ``h[k] = sinc(t) w(t)`` where ``w`` is the Kaiser window linearly interpolated between integers, so
    ``dh/dfraction = -(sinc'(t) w(t) + sinc(t) w'(t))`` with ``sinc'(t) = (cos(pi t) - sinc(t)) / t``
    (0 at ``t = 0``) and ``w'`` the slope of the window's segment ``(k - 1, k]`` that ``t`` moves along
    as the fraction grows (the derivative from the right at ``fraction = 0``)."""
    k = np.arange(-half_taps, half_taps + 1)
    t = k - fraction
    grid = _kaiser_window(half_taps, beta)
    window = np.interp(t, k, grid, left=0.0, right=0.0)
    sinc = np.sinc(t)
    taps = sinc * window
    # slope of the window on (k - 1, k]; left of the first tap the window is 0 (for any fraction > 0 the
    # first tap is there, so from the right its value and slope are 0)
    slope = _kaiser_slope(half_taps, beta)
    window_right = window.copy()
    window_right[0] = 0.0
    # t = 0 only at the centre tap for fraction 0, where sinc'(0) = 0
    centre = fraction == 0.0
    d_sinc = (np.cos(np.pi * t) - sinc) / (np.where(t == 0.0, 1.0, t) if centre else t)
    if centre:
        d_sinc[half_taps] = 0.0
    return taps, -(d_sinc * window_right + sinc * slope)


def padded_columns(x: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Columns ``lo .. hi - 1`` of ``x`` (last axis), zeros where they fall outside ``0 .. len - 1``."""
    n = x.shape[-1]
    a, b = min(max(lo, 0), n), min(max(hi, 0), n)
    if b <= a:
        return np.zeros(x.shape[:-1] + (hi - lo,), dtype=x.dtype)
    segment = x[..., a:b]
    if a - lo or hi - b:
        segment = np.pad(segment, [(0, 0)] * (segment.ndim - 1) + [(a - lo, hi - b)])
    return segment


def interpolate_at(
    x: np.ndarray,
    positions: np.ndarray,
    half_taps: int = DEFAULT_HALF_TAPS,
    beta: float = DEFAULT_KAISER_BETA,
    chunk: int = 8192,
) -> np.ndarray:
    """``x(t)`` at the real sample positions ``t = positions`` along the last axis of ``x`` (zero outside
    ``0 .. len - 1``): the windowed sinc of :func:`delay_taps`, centred on the nearest sample, so every
    point gets the same operator as a delay by its fraction (``|fraction| <= 1/2``). Vectorised over
    the points (in chunks of ``chunk`` points to bound memory); the SRO resampler of the channel and the
    receiver's symbol timing both use it.

    Args:
        x: samples, time on the last axis.
        positions: real sample positions (any shape; the result has ``x.shape[:-1] + positions.shape``).
        half_taps: half-length of the interpolation filter.
        beta: Kaiser window parameter.
        chunk: points interpolated per vectorised step.
    """
    x = np.asarray(x)
    positions = np.asarray(positions, float)
    flat = positions.reshape(-1)
    offsets = np.arange(-half_taps, half_taps + 1)
    grid = _kaiser_window(int(half_taps), float(beta))
    out = np.empty(x.shape[:-1] + (flat.size,), np.result_type(x.dtype, np.float64))
    n = x.shape[-1]
    for lo in range(0, flat.size, chunk):
        t = flat[lo : lo + chunk]
        centre = np.rint(t)
        # t = centre + u, |u| <= 1/2: weight of x[centre + j] is sinc(j - u) w(j - u), as delay_taps(-u)
        rel = offsets[None, :] - (t - centre)[:, None]
        weights = np.sinc(rel) * np.interp(rel, offsets, grid, left=0.0, right=0.0)
        index = centre.astype(np.int64)[:, None] + offsets[None, :]
        inside = (index >= 0) & (index < n)
        gathered = x[..., np.clip(index, 0, max(n - 1, 0))] if n else np.zeros(x.shape[:-1] + index.shape, x.dtype)
        out[..., lo : lo + t.size] = np.einsum("...pt,pt->...p", gathered, np.where(inside, weights, 0.0))
    return out.reshape(x.shape[:-1] + positions.shape)
