# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-model code-rate choice and model selection for a given SINR (docs/model.md §7).

For a fixed SINR ``gamma``, the distortion of model ``g`` depends on ``R_c`` only through
``rho_b(gamma, R_c)`` on ``[R_s / E_a^max, min(C(gamma), R_c,max)]``. The choice is exact: the 1-D
function is evaluated on a dense grid including both ends, and the best cell is refined by repeated
zooming to 1e-12 relative (in practice the lower end wins: every channel use is spent on redundancy).
All models are evaluated together, one vectorised BER call per round (:func:`choose_code_rates`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..codec.profile import CodecProfile, ModelProfile
from ..physics.ber import capacity, log10_ber

GRID_POINTS = 257
ZOOM_POINTS = 257  # each zoom round narrows the cell 128-fold (about 5 rounds to 1e-12)
MAX_ZOOM_ROUNDS = 16


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
    return choose_code_rates((model,), sinr, channel_uses, blocklength, max_code_rate, metric, ber)[0]


def choose_code_rates(
    models,
    sinr: float,
    channel_uses: float,
    blocklength: int,
    max_code_rate: float,
    metric: str = "mse",
    ber=log10_ber,
) -> list[RateChoice]:
    """:func:`choose_code_rate` for several models at once: one vectorised ``ber`` call per grid and per
    refinement round for all models together (the per-model 1-D problems are independent).

    Each model's interval ``[R_s / E_a^max, min(C, R_c,max)]`` gets a grid of :data:`GRID_POINTS` points
    including both ends; the cell around the best grid point is then zoomed into (:data:`ZOOM_POINTS`
    points, both ends included, the best point's neighbours become the next cell) until it is narrower than
    ``1e-12 max(R, 1)``, the tolerance of the bounded scalar search this replaces. Every round keeps the
    best point seen, so the result is never worse than the grid's best point."""
    models = tuple(models)
    highest = min(float(capacity(sinr)), max_code_rate)
    choices: list[RateChoice | None] = [None] * len(models)
    searched = []  # (index, lowest) of models with a non-empty interval
    for k, model in enumerate(models):
        model.log10_distortion(np.zeros(0), metric)  # raises ProfileError for a missing fit, as before
        lowest = model.r_s_bits / channel_uses
        if lowest > highest:
            why = f"needs R_c >= {lowest:.4g} bits/use to fit {channel_uses:g} channel uses but " + (
                f"capacity is {capacity(sinr):.4g}"
                if capacity(sinr) < max_code_rate
                else f"the link's top rate is {max_code_rate:.4g}"
            )
            rate = min(lowest, max_code_rate)
            lb = float(ber(sinr, rate, blocklength))
            choices[k] = RateChoice(
                model.id, model.r_s_bits, rate, lb, float(model.log10_distortion(lb, metric)), False, why
            )
        elif highest - lowest <= 1e-12 * max(highest, 1.0):
            choices[k] = _choice(model, lowest, sinr, blocklength, metric, ber)
        else:
            searched.append((k, lowest))
    if searched:

        def objective(grid):  # rows: the searched models
            log_ber = np.asarray(ber(sinr, grid.ravel(), blocklength), float).reshape(grid.shape)
            return np.array([models[k].log10_distortion(row, metric) for (k, _), row in zip(searched, log_ber)])

        rows = np.arange(len(searched))
        grid = np.linspace([lo for _, lo in searched], highest, GRID_POINTS, axis=1)
        values = objective(grid)
        best = np.argmin(values, axis=1)
        best_rate, best_value = grid[rows, best], values[rows, best]
        last = GRID_POINTS - 1
        lo_cell, hi_cell = grid[rows, np.maximum(best - 1, 0)], grid[rows, np.minimum(best + 1, last)]
        for _ in range(MAX_ZOOM_ROUNDS):
            if np.all(hi_cell - lo_cell <= 1e-12 * np.maximum(hi_cell, 1.0)):
                break
            grid = np.linspace(lo_cell, hi_cell, ZOOM_POINTS, axis=1)
            values = objective(grid)
            best = np.argmin(values, axis=1)
            better = values[rows, best] < best_value
            best_rate = np.where(better, grid[rows, best], best_rate)
            best_value = np.where(better, values[rows, best], best_value)
            lo_cell = grid[rows, np.maximum(best - 1, 0)]
            hi_cell = grid[rows, np.minimum(best + 1, ZOOM_POINTS - 1)]
        best_ber = np.asarray(ber(sinr, best_rate, blocklength), float).reshape(best_rate.shape)
        for (k, _), rate, lb in zip(searched, best_rate, best_ber):
            model = models[k]
            choices[k] = RateChoice(
                model.id, model.r_s_bits, float(rate), float(lb), float(model.log10_distortion(lb, metric)), True
            )
    return choices


def _choice(model: ModelProfile, rate: float, sinr, blocklength, metric, ber) -> RateChoice:
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
    choices = choose_code_rates(profile.models, sinr, channel_uses, blocklength, max_code_rate, metric, ber)
    feasible = [c for c in choices if c.feasible]
    if feasible:
        return min(feasible, key=lambda c: c.log10_distortion), choices
    return choices[0], choices
