# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-model code-rate choice and model selection for a given SINR (docs/model.md §7).

For a fixed SINR ``gamma``, the distortion of model ``g`` depends on ``R_c`` only through
``rho_b(gamma, R_c)`` on ``[R_s / E_a^max, min(C(gamma), R_c,max)]``. The choice is exact: the 1-D
function is evaluated on a dense grid including both ends, and the best cell is refined by repeated
zooming to 1e-12 relative (in practice the lower end wins: every channel use is spent on redundancy).
All models are evaluated together, one vectorised BER call per round (:func:`choose_code_rates`).

Burst-aware distortion (``ber`` a :class:`BurstAwareBer`, the default with the calibrated code): a failed
polar codeword is a burst that loses the rest of the entropy-coded stream, so the objective is the
frame's expected distortion instead of the eq. 7 profile at a scattered BER. With ``K = ceil(R_c L)``
information bits per codeword, ``n = ceil(R_s / K)`` codewords, the calibrated block error rate
``p(s', K / L)`` and the model's burst curve ``D_burst`` (distortion when the first failed codeword falls
in a fraction bin of the payload, :class:`~gnuradio.issc.codec.profile.BurstCurve`),

    E[D] = E_s' [ sum_i P(first failure at block i | s') D_burst(i / n) + (1 - p(s'))^n D_clean ],

where the SINR the frame really gets, ``s'`` (dB), is ``N(s, sigma)`` around the predicted ``s``
(Gauss-Hermite quadrature, :data:`QUADRATURE_NODES` nodes): the link's frame-to-frame spread. A model
without a burst curve (e.g. a semantic model of the multi-user system) keeps the BER objective.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..codec.profile import CodecProfile, ModelProfile
from ..errors import IsscInputError
from ..physics.ber import capacity, log10_ber

DEFAULT_SINR_SIGMA_DB = 0.35
"""Frame-to-frame spread (dB) of the SINR the link measures around the optimiser's prediction: the RMS of
``sinr_db - predicted_sinr_db`` is 0.31 dB over the 720 ASCC frames at 0-20 dB of ``issc experiment fig3
--scenario tradeoff`` (0.21-0.45 dB per cell), rounded up. It contains the preamble estimator's own noise,
so it is an upper bound on the true spread (a margin on the safe side)."""
QUADRATURE_NODES = 8
GRID_POINTS = 257
ZOOM_POINTS = 257  # each zoom round narrows the cell 128-fold (about 5 rounds to 1e-12)
MAX_ZOOM_ROUNDS = 16


DISTORTION_MODELS = ("burst", "ber")


def burst_distortion_model(name: str | None, ber_model: str, profile: CodecProfile) -> str:
    """The distortion model an optimiser uses: ``name``, or with None ``burst`` when the code is the
    calibrated one and the profile has burst curves, else ``ber``; :class:`IsscInputError` for ``burst``
    without either."""
    if name is None:
        return "burst" if ber_model == "calibrated" and profile.has_bursts else "ber"
    if name not in DISTORTION_MODELS:
        raise IsscInputError(f"unknown distortion model '{name}' (choose from {', '.join(DISTORTION_MODELS)})")
    if name == "burst" and ber_model != "calibrated":
        raise IsscInputError("the burst distortion model needs the calibrated BER model (block error rates)")
    if name == "burst" and not profile.has_bursts:
        raise IsscInputError(
            f"profile '{profile.source}' has no burst curves ('bursts'; issc fit --bursts): use distortion model ber"
        )
    return name


def burst_aware(ber, sigma_db: float = DEFAULT_SINR_SIGMA_DB) -> BurstAwareBer:
    """The calibrated BER model ``ber`` (a :class:`~gnuradio.issc.link.calibration.CalibratedBer`) with the
    burst-aware expectation of the same table's block error rate."""
    from ..link.calibration import CalibratedBler

    return BurstAwareBer(ber, CalibratedBler(ber.table), sigma_db)


def link_error_model(ber_model: str, calibration, blocklength: int, distortion_model, profile, sigma_db: float):
    """The optimisers' model of the link's code: ``(ber, distortion_model)``, the ``log10 BER`` model named
    ``ber_model`` (``calibration``: the table's path for ``calibrated``, None for the shipped one), made
    burst-aware when the distortion model (:func:`burst_distortion_model`) is ``burst``.
    :class:`IsscInputError` when the calibration's blocklength is not the scenario's ``blocklength``."""
    from ..link.calibration import ber_model as make_ber_model

    ber = make_ber_model(ber_model, calibration)
    if ber_model == "calibrated" and ber.blocklength != blocklength:
        raise IsscInputError(f"the code calibration is for L = {ber.blocklength}, the scenario has L = {blocklength}")
    distortion_model = burst_distortion_model(distortion_model, ber_model, profile)
    if distortion_model == "burst":
        ber = burst_aware(ber, sigma_db)
    return ber, distortion_model


@dataclass(frozen=True)
class RateChoice:
    model: str
    r_s_bits: float
    code_rate: float
    log10_ber: float
    log10_distortion: float
    feasible: bool
    reason: str = ""
    frame_error: float = float("nan")  # burst model: P(some codeword of the frame fails); NaN otherwise


class BurstAwareBer:
    """A ``log10 BER`` model (calls go to ``ber``) that also gives the burst-aware expected distortion
    (module doc) of a model at a code rate: pass it as ``ber`` to :func:`choose_code_rates`.

    Args:
        ber: the calibrated ``log10 BER(sinr, rate, blocklength)`` (``link.calibration.CalibratedBer``).
        bler: the calibrated ``log10 BLER(sinr, rate)`` of the same code (``link.calibration.CalibratedBler``).
        sigma_db: standard deviation of the frame's SINR around the prediction (dB, >= 0).
        nodes: Gauss-Hermite nodes of the expectation over the SINR.
    """

    def __init__(self, ber, bler, sigma_db: float = DEFAULT_SINR_SIGMA_DB, nodes: int = QUADRATURE_NODES):
        if not (np.isfinite(sigma_db) and 0.0 <= sigma_db <= 20.0):
            raise IsscInputError(f"the SINR spread must be in [0, 20] dB, got {sigma_db!r}")
        self.ber = ber
        self.bler = bler
        self.blocklength = int(bler.blocklength)
        self.table = getattr(ber, "table", None)
        self.sigma_db = float(sigma_db)
        x, w = np.polynomial.hermite_e.hermegauss(int(nodes))  # weight exp(-x^2 / 2)
        self.offsets_db = self.sigma_db * x
        self.weights = w / w.sum()
        self._rows: dict = {}  # K -> log10 BLER at the table's SINRs (block_errors)

    def __call__(self, sinr, rate, blocklength=None):
        return self.ber(sinr, rate, blocklength)

    def info_bits(self, rate):
        """``K = ceil(R_c L)``, the link's information bits per codeword (at least 1)."""
        return np.maximum(np.ceil(np.asarray(rate, float) * self.blocklength - 1e-9), 1.0)

    def blocks(self, r_s_bits: float, rate):
        """Codewords of a payload of ``r_s_bits`` bits at code rate ``rate``."""
        return np.ceil(float(r_s_bits) / self.info_bits(rate) - 1e-9)

    def block_errors(self, sinr: float, rate):
        """Block error probabilities ``p(s', K / L)`` at the quadrature's SINRs: shape ``(nodes, *rate.shape)``."""
        rate = np.asarray(rate, float)
        sinr_db = 10.0 * np.log10(max(float(sinr), 1e-30)) + self.offsets_db
        coded = self.info_bits(rate) / self.blocklength
        table_db = getattr(self.bler, "sinr_db", None)
        if table_db is None:  # a BLER model without a table: call it
            grid = 10.0 ** (sinr_db / 10.0)
            return 10.0 ** np.asarray(self.bler(grid.reshape((-1,) + (1,) * rate.ndim), coded[None]), float)
        # inside the table: at a fixed rate the bilinear interpolation is linear in SINR between the values the
        # model gives at the table's SINRs, so one cached row per K and np.interp give the same numbers
        out = np.empty((len(sinr_db), coded.size))
        for c, k in enumerate(np.rint(coded.ravel() * self.blocklength).astype(int)):
            row = self._rows.get(k)
            if row is None:
                row = np.asarray(self.bler(10.0 ** (table_db / 10.0), np.full(table_db.shape, k / self.blocklength)))
                self._rows[k] = row
            out[:, c] = np.interp(sinr_db, table_db, row)
        above = sinr_db > table_db[-1]
        if np.any(above):  # above the table's SINR range: the model itself
            grid = 10.0 ** (sinr_db[above] / 10.0)
            out[above] = self.bler(grid[:, None], coded.ravel()[None, :])
        return 10.0 ** out.reshape((len(sinr_db),) + rate.shape)

    def expected(self, model, metric: str, sinr: float, rate):
        """``(E[D], P(frame error))`` of ``model`` at code rates ``rate`` (arrays like ``rate``), or None when
        the model has no burst curve."""
        burst = getattr(model, "burst", None)
        if burst is None or metric not in burst.values:
            return None
        rate = np.asarray(rate, float)
        # the frame depends on the rate only through K: evaluate each distinct K once (a zoomed grid has 1 or 2)
        if rate.size == 1:
            info_bits, where = self.info_bits(rate.reshape(1)), np.zeros(1, int)
        else:
            info_bits, where = np.unique(self.info_bits(rate), return_inverse=True)
        p = self.block_errors(sinr, info_bits / self.blocklength)
        n = np.ceil(float(model.r_s_bits) / info_bits - 1e-9)  # broadcasts against p (nodes x rates)
        distortion, frame_error = burst.expected_distortion(metric, p, n, frame_error=True)
        distortion, frame_error = self.weights @ distortion, self.weights @ frame_error  # over the SINR nodes
        return distortion[where].reshape(rate.shape), frame_error[where].reshape(rate.shape)


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
            choices[k] = _choice(model, rate, sinr, blocklength, metric, ber, False, why)
        elif highest - lowest <= 1e-12 * max(highest, 1.0):
            choices[k] = _choice(model, lowest, sinr, blocklength, metric, ber)
        else:
            searched.append((k, lowest))
    if searched:
        burst_rows = [_has_burst(models[k], metric, ber) for k, _ in searched]

        def objective(grid):  # rows: the searched models
            rows_out = [None] * len(searched)
            for r, (k, _) in enumerate(searched):
                if burst_rows[r]:
                    rows_out[r] = _log10_expected(models[k], metric, sinr, grid[r], ber)
            plain = [r for r in range(len(searched)) if not burst_rows[r]]
            if plain:  # one vectorised BER call for the models without a burst curve
                log_ber = np.asarray(ber(sinr, grid[plain].ravel(), blocklength), float).reshape(len(plain), -1)
                for r, row in zip(plain, log_ber):
                    rows_out[r] = models[searched[r][0]].log10_distortion(row, metric)
            return np.array(rows_out)

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
        for (k, _), rate in zip(searched, best_rate):
            choices[k] = _choice(models[k], float(rate), sinr, blocklength, metric, ber)
    return choices


def _has_burst(model, metric: str, ber) -> bool:
    burst = getattr(model, "burst", None)
    return isinstance(ber, BurstAwareBer) and burst is not None and metric in burst.values


def _log10_expected(model, metric: str, sinr: float, rate, ber: BurstAwareBer):
    distortion, _ = ber.expected(model, metric, sinr, rate)
    return np.log10(np.maximum(distortion, 1e-300))


def _choice(
    model: ModelProfile, rate: float, sinr, blocklength, metric, ber, feasible: bool = True, reason: str = ""
) -> RateChoice:
    """The :class:`RateChoice` of ``model`` at ``rate``: the distortion the choice minimises (the burst-aware
    expectation when ``ber`` is a :class:`BurstAwareBer` and the model has a burst curve)."""
    lb = float(ber(sinr, rate, blocklength))
    if _has_burst(model, metric, ber):
        distortion, frame_error = ber.expected(model, metric, sinr, rate)
        log_d = float(np.log10(max(float(distortion), 1e-300)))
        return RateChoice(model.id, model.r_s_bits, rate, lb, log_d, feasible, reason, float(frame_error))
    return RateChoice(model.id, model.r_s_bits, rate, lb, float(model.log10_distortion(lb, metric)), feasible, reason)


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
