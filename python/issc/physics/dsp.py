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

import numpy as np

DEFAULT_HALF_TAPS = 48
DEFAULT_KAISER_BETA = 8.0


def delay_taps(fraction: float, half_taps: int = DEFAULT_HALF_TAPS, beta: float = DEFAULT_KAISER_BETA) -> np.ndarray:
    """Taps ``h[k]``, ``k = -half_taps .. half_taps``, of a delay by ``fraction`` samples (``|fraction| <= 1``):
    ``y[n] = sum_k h[k] x[n - k]`` approximates ``x(n - fraction)``."""
    k = np.arange(-half_taps, half_taps + 1)
    t = k - fraction
    window = np.kaiser(2 * half_taps + 1 + 2, beta)[1:-1]  # symmetric, nonzero at the ends
    # shift the window with the sinc so that the delay is exactly linear-phase about the fraction
    window = np.interp(t, np.arange(-half_taps, half_taps + 1), window, left=0.0, right=0.0)
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
