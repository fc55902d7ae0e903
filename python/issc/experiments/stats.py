# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Statistics shared by the experiments."""

from __future__ import annotations

import math

import numpy as np

Z95 = 1.959964  # two-sided 95 % point of the standard normal


def mean_and_ci(values) -> tuple[float, float]:
    """Mean and the half-width of its 95 % normal interval (NaN when there is nothing to average)."""
    values = np.array([v for v in values if isinstance(v, (int, float)) and math.isfinite(v)], float)
    if values.size == 0:
        return math.nan, math.nan
    half = Z95 * values.std(ddof=1) / math.sqrt(values.size) if values.size > 1 else math.nan
    return float(values.mean()), float(half)
