# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Efficiency of the MAP target estimator: Monte Carlo RMSE against sqrt(tr HCRB) and sqrt(tr CRB).

Each trial draws a fresh sync error ``delta ~ N(0, (c sigma_dt)^2)`` (truncated where the echo channel
truncates it, :func:`gnuradio.issc.physics.channels.truncated_standard_normal`), fresh QPSK sensing symbols and
fresh noise, builds one echo block of ``N`` samples with the estimator's own band-limited delay operator
(the same operator as the echo channel's), and estimates ``(p_o, delta)``. All the power is steered at
the target (``Sigma = P_T a a^H / N_T``), so the bound of every trial is the same closed form.
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import asdict, dataclass

import numpy as np

from ..physics.channels import truncated_standard_normal
from ..physics.geometry import Geometry, bistatic_range_m, noise_powers_w
from ..physics.hcrb import FisherModel
from ..scenario import load_scenario
from ..sensing.estimator import TargetEstimator
from ..units import SPEED_OF_LIGHT, dbm_to_w
from .stats import Z95

CSV_COLUMNS = (
    "power_dbm",
    "sigma_ns",
    "trials",
    "accepted",
    "rmse_m",
    "rmse_ci_low_m",
    "rmse_ci_high_m",
    "hcrb_rmse_m",
    "crb_rmse_m",
    "mse_over_hcrb",
    "mse_over_hcrb_ci_low",
    "mse_over_hcrb_ci_high",
    "seconds_per_block",
)


def simulate_block(
    estimator: TargetEstimator,
    rng: np.random.Generator,
    position,
    sync_error_m: float,
    power_w: float,
    noise_std: float,
    block_length: int,
    beam: str = "steer",
):
    """One echo block and its reference: returns ``(echo N_R x N, reference N_T x L, block_start)``.

    Args:
        estimator: supplies the geometry and the echo model.
        rng: random generator of the symbols and the noise.
        position: true target position (m).
        sync_error_m: the block's sync error times ``c``.
        power_w: transmit power.
        noise_std: per-antenna noise standard deviation (complex, ``sqrt(sigma_s^2)``).
        block_length: ``N``.
        beam: 'steer' (all power towards the scenario's target) or 'iso' (independent streams per antenna).
    """
    g = estimator.geometry
    history = estimator.required_history()
    length = history + block_length
    if beam == "steer":
        symbols = (rng.choice([-1, 1], length) + 1j * rng.choice([-1, 1], length)) / np.sqrt(2)
        reference = np.sqrt(power_w) * np.outer(g.a_tx(g.theta) / np.sqrt(g.n_tx), symbols)
    elif beam == "iso":
        shape = (g.n_tx, length)
        reference = (
            np.sqrt(power_w / g.n_tx) * (rng.choice([-1, 1], shape) + 1j * rng.choice([-1, 1], shape)) / np.sqrt(2)
        )
    else:
        raise ValueError(f"beam must be 'steer' or 'iso', got {beam!r}")
    echo = estimator.model(
        position, bistatic_range_m(g.tx, position, g.sensing_rx, sync_error_m), reference, history, block_length
    )
    if noise_std:
        echo = echo + noise_std * (rng.normal(size=echo.shape) + 1j * rng.normal(size=echo.shape)) / np.sqrt(2)
    return echo, reference, history


@dataclass
class EfficiencyPoint:
    """One (power, sigma_dt) cell of the experiment (see :data:`CSV_COLUMNS`)."""

    power_dbm: float
    sigma_ns: float
    trials: int
    accepted: int
    rmse_m: float
    rmse_ci_low_m: float
    rmse_ci_high_m: float
    hcrb_rmse_m: float
    crb_rmse_m: float
    mse_over_hcrb: float
    mse_over_hcrb_ci_low: float
    mse_over_hcrb_ci_high: float
    seconds_per_block: float


def efficiency_point(
    scenario, power_dbm: float, sigma_ns: float, trials: int, rng: np.random.Generator
) -> EfficiencyPoint:
    """Monte Carlo of ``trials`` blocks at one transmit power and sync-error spread.

    The RMSE is over every estimate (also those the GLRT flags: the flag is for a tracker, the bound is
    about the estimator); ``accepted`` counts the flagged-good ones. The 95 % interval of the MSE is the
    normal one of a mean of ``trials`` squared errors.
    """
    scn = load_scenario(scenario).replace(sync={"sigma_ns": float(sigma_ns)})
    estimator = TargetEstimator.from_scenario(scn)
    g = Geometry.from_scenario(scn)
    noise_std = math.sqrt(noise_powers_w(scn)[1])
    spread_m = SPEED_OF_LIGHT * sigma_ns * 1e-9
    power_w = float(dbm_to_w(power_dbm))
    block = scn.signal.sensing_block
    squared, accepted = [], 0
    started = time.perf_counter()
    for _ in range(trials):
        echo, reference, start = simulate_block(
            estimator, rng, g.target, truncated_standard_normal(rng) * spread_m, power_w, noise_std, block
        )
        result = estimator.estimate(echo, reference, start)
        if result.position is None:
            continue
        accepted += int(result.ok)
        squared.append(float(np.sum((result.position - g.target) ** 2)))
    seconds = (time.perf_counter() - started) / max(trials, 1)
    steer = g.a_tx(g.theta) / np.sqrt(g.n_tx)
    sigma = power_w * np.outer(steer, steer.conj())
    fisher = FisherModel.from_scenario(scn)
    hcrb, crb = fisher.hcrb_trace(sigma), fisher.crb_trace(sigma)
    squared = np.asarray(squared)
    mse = float(np.mean(squared)) if squared.size else math.nan
    half = Z95 * float(np.std(squared, ddof=1)) / math.sqrt(squared.size) if squared.size > 1 else math.nan
    low, high = max(mse - half, 0.0), mse + half
    return EfficiencyPoint(
        float(power_dbm),
        float(sigma_ns),
        int(squared.size),
        accepted,
        math.sqrt(mse),
        math.sqrt(low),
        math.sqrt(high),
        math.sqrt(hcrb),
        math.sqrt(crb),
        mse / hcrb,
        low / hcrb,
        high / hcrb,
        seconds,
    )


def efficiency_task(point: dict) -> dict:
    """One (sigma index ``i``, power index ``j``) point on a worker; its generator is ``[seed, i, j]``."""
    rng = np.random.default_rng([point["seed"], point["i"], point["j"]])
    return asdict(efficiency_point(point["scenario"], point["power_dbm"], point["sigma_ns"], point["trials"], rng))


def run_experiment(
    scenario,
    powers_dbm,
    sigmas_ns,
    trials: int,
    seed: int = 0,
    progress=None,
    workers: int | None = None,
    scheduler: str | None = None,
    journal=None,
) -> list[EfficiencyPoint]:
    """Every (sigma, power) cell, each with its own seeded generator (cells are reproducible alone), as
    tasks of :func:`gnuradio.issc.parallel.run_points` (``scenario``: a name or a path, loaded on the
    workers; ``journal``: JSON lines of the finished cells, which a rerun skips)."""
    from ..parallel import run_points

    points = [
        {
            "scenario": str(scenario),
            "power_dbm": float(power_dbm),
            "sigma_ns": float(sigma_ns),
            "trials": int(trials),
            "seed": int(seed),
            "i": i,
            "j": j,
        }
        for i, sigma_ns in enumerate(sigmas_ns)
        for j, power_dbm in enumerate(powers_dbm)
    ]

    def report(_index, _point, result):
        if progress is not None:
            progress(_efficiency_from_json(result))

    results = run_points(
        points, efficiency_task, out=journal, workers=workers, scheduler=scheduler, desc="cells", on_result=report
    )
    return [_efficiency_from_json(r) for r in results]


def _efficiency_from_json(value: dict) -> EfficiencyPoint:
    return EfficiencyPoint(**{k: (math.nan if v is None else v) for k, v in value.items()})


def write_csv(points, path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for point in points:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in asdict(point).items()})


def plot(points, path, title: str = "") -> None:
    """RMSE (with 95 % intervals) against sqrt(tr HCRB) and sqrt(tr CRB), one colour per sigma_dt."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    sigmas = sorted({p.sigma_ns for p in points})
    colours = plt.cm.viridis(np.linspace(0, 0.85, len(sigmas)))
    for colour, sigma in zip(colours, sigmas):
        cell = sorted((p for p in points if p.sigma_ns == sigma), key=lambda p: p.power_dbm)
        power = [p.power_dbm for p in cell]
        rmse = np.array([p.rmse_m for p in cell])
        err = np.array([[p.rmse_m - p.rmse_ci_low_m for p in cell], [p.rmse_ci_high_m - p.rmse_m for p in cell]])
        ax.errorbar(power, rmse, yerr=err, fmt="o", color=colour, capsize=3, label=f"RMSE, sigma_dt {sigma:g} ns")
        ax.plot(power, [p.hcrb_rmse_m for p in cell], "-", color=colour, label=f"sqrt(tr HCRB), {sigma:g} ns")
    first = sorted((p for p in points if p.sigma_ns == sigmas[0]), key=lambda p: p.power_dbm)
    ax.plot([p.power_dbm for p in first], [p.crb_rmse_m for p in first], "k--", label="sqrt(tr CRB), no sync error")
    ax.set_yscale("log")
    ax.set_xlabel("transmit power P_T (dBm), all of it steered at the target")
    ax.set_ylabel("position error (m)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
