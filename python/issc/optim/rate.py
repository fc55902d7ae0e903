# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-model code-rate choice and model selection for a given SINR (docs/model.md §7).

For a fixed SINR ``gamma``, the distortion of model ``g`` depends on ``R_c`` only through
``rho_b(gamma, R_c)`` on ``[R_s / E_a^max, min(C(gamma), R_c,max)]``. The choice is exact: the 1-D
function is evaluated on a dense grid including both ends, and the best cell is refined with a bounded
scalar search (in practice the lower end wins: every channel use is spent on redundancy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

from ..codec.profile import CodecProfile, ModelProfile
from ..physics.ber import capacity, log10_ber

GRID_POINTS = 257


@dataclass(frozen=True)
class RateChoice:
    model: str
    r_s_bits: float
    code_rate: float
    log10_ber: float
    log10_distortion: float
    feasible: bool
    reason: str = ""


def choose_code_rate(
    model: ModelProfile,
    sinr: float,
    channel_uses: float,
    blocklength: int,
    max_code_rate: float,
    metric: str = "mse",
    ber=log10_ber,
) -> RateChoice:
    """The code rate minimising the model's predicted distortion at SINR ``sinr`` (linear); ``ber`` is
    the ``log10 BER(sinr, rate, blocklength)`` model (normal approximation or a calibrated table)."""
    lowest = model.r_s_bits / channel_uses
    highest = min(float(capacity(sinr)), max_code_rate)

    def objective(rate):
        return model.log10_distortion(ber(sinr, rate, blocklength), metric)

    if lowest > highest:
        why = f"needs R_c >= {lowest:.4g} bits/use to fit {channel_uses:g} channel uses but " + (
            f"capacity is {capacity(sinr):.4g}"
            if capacity(sinr) < max_code_rate
            else f"the link's top rate is {max_code_rate:.4g}"
        )
        rate = min(lowest, max_code_rate)
        lb = float(ber(sinr, rate, blocklength))
        return RateChoice(model.id, model.r_s_bits, rate, lb, float(model.log10_distortion(lb, metric)), False, why)
    if highest - lowest <= 1e-12 * max(highest, 1.0):
        rate = lowest
    else:
        grid = np.linspace(lowest, highest, GRID_POINTS)
        values = objective(grid)
        best = int(np.argmin(values))
        rate, value = float(grid[best]), float(values[best])
        lo_cell, hi_cell = grid[max(best - 1, 0)], grid[min(best + 1, GRID_POINTS - 1)]
        if hi_cell > lo_cell:
            refined = minimize_scalar(
                lambda r: float(objective(r)),
                bounds=(lo_cell, hi_cell),
                method="bounded",
                options={"xatol": 1e-12 * max(hi_cell, 1.0)},
            )
            if refined.success and refined.fun < value:
                rate = float(refined.x)
    lb = float(ber(sinr, rate, blocklength))
    return RateChoice(model.id, model.r_s_bits, rate, lb, float(model.log10_distortion(lb, metric)), True)


def choose_model(
    profile: CodecProfile,
    sinr: float,
    channel_uses: float,
    blocklength: int,
    max_code_rate: float,
    metric: str = "mse",
    ber=log10_ber,
) -> tuple[RateChoice, list[RateChoice]]:
    """Best model and rate over the profile; if no model fits, the most robust one (lowest rate),
    flagged infeasible. Also returns every model's choice."""
    choices = [choose_code_rate(m, sinr, channel_uses, blocklength, max_code_rate, metric, ber) for m in profile.models]
    feasible = [c for c in choices if c.feasible]
    if feasible:
        return min(feasible, key=lambda c: c.log10_distortion), choices
    return choices[0], choices
