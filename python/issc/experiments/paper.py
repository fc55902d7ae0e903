# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The paper's comparison (ISSC Figs. 3 and 4) measured through the streaming link.

Every cell (scheme, ``P_T``, ABR) is one run of :class:`~gnuradio.issc.flowgraphs.link.IsscLink` at a fixed power: the
held-out images go through the source encoder, the framing, the beamformer, both channels (with the
propagation delay and a fresh sync-error draw per sensing block), the receivers and the monitor. The
cell's numbers are the monitor's per-frame rows:

- ``ms_ssim``, ``psnr``: of the received images (frames that never arrived are counted in
  ``frames_lost`` and left out of the means), with 95 % intervals over the frames;
- ``predicted_*``: what the scheme's model predicted for the frame's design (ASCC: the codec profile at
  the predicted BER; DJSCC: the model's held-out AWGN table at the predicted SINR);
- ``hcrb_trace``, ``crb_trace``: ``tr HCRB`` of the frame's beams with the sync error, and the CRB of the
  same beams with perfect synchronisation (m^2);
- ``sensing_mse_m2``: the MAP estimator's mean squared position error on the sensed blocks.

Schemes: ``ascc-sdr`` and ``ascc-paper`` (hyperprior codec + polar code, the optimiser with the exact or
the paper's beam solver) and ``djscc-wf-zf`` (deep JSCC, MRT + zero-forced sensing beam with the least
sensing power that meets ``Pi``).
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from .figures import pyplot, save_panels, save_single
from .stats import mean_and_ci

SCHEMES = {"ascc-sdr": ("ascc", "sdr"), "ascc-paper": ("ascc", "paper"), "djscc-wf-zf": ("djscc", "zf-wf")}
CSV_COLUMNS = (
    "scheme",
    "power_dbm",
    "abr",
    "abr_label",
    "frames",
    "frames_lost",
    "ms_ssim",
    "ms_ssim_ci",
    "psnr",
    "psnr_ci",
    "predicted_ms_ssim",
    "predicted_psnr_db",
    "sinr_db",
    "predicted_sinr_db",
    "hcrb_trace",
    "crb_trace",
    "sensing_mse_m2",
    "sensing_mse_ci",
    "sensed_frames",
    "feasible",
    "models",
    "seconds",
)


@dataclass
class CellResult:
    """One (scheme, power, ABR) cell of the experiment (the CSV row)."""

    scheme: str
    power_dbm: float
    abr: float
    abr_label: str
    frames: int
    frames_lost: int
    ms_ssim: float
    ms_ssim_ci: float
    psnr: float
    psnr_ci: float
    predicted_ms_ssim: float
    predicted_psnr_db: float
    sinr_db: float
    predicted_sinr_db: float
    hcrb_trace: float
    crb_trace: float
    sensing_mse_m2: float
    sensing_mse_ci: float
    sensed_frames: int
    feasible: bool
    models: str
    seconds: float
    rows: list = field(default_factory=list, repr=False)


def summarise(
    scheme: str, power_dbm: float, abr: float, rows: list[dict], seconds: float, feasible: bool
) -> CellResult:
    """The cell's numbers from the monitor's rows."""
    from ..djscc.models import abr_label

    received = [r for r in rows if r.get("received")]
    ms_ssim, ms_ssim_ci = mean_and_ci(r.get("ms_ssim") for r in received)
    psnr, psnr_ci = mean_and_ci(r.get("psnr") for r in received)
    sensed = [r["sensing_error_m"] ** 2 for r in rows if isinstance(r.get("sensing_error_m"), (int, float))]
    sensing_mse, sensing_ci = mean_and_ci(sensed)

    def mean_of(key, transform=lambda v: v):
        values = [transform(r[key]) for r in rows if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])]
        return float(np.mean(values)) if values else math.nan

    return CellResult(
        scheme=scheme,
        power_dbm=float(power_dbm),
        abr=float(abr),
        abr_label=abr_label(abr),
        frames=len(rows),
        frames_lost=len(rows) - len(received),
        ms_ssim=ms_ssim,
        ms_ssim_ci=ms_ssim_ci,
        psnr=psnr,
        psnr_ci=psnr_ci,
        predicted_ms_ssim=mean_of("predicted_ms_ssim"),
        predicted_psnr_db=mean_of("predicted_psnr_db"),
        sinr_db=mean_of("sinr_db"),
        predicted_sinr_db=mean_of("predicted_sinr_db"),
        hcrb_trace=mean_of("hcrb_rmse_m", lambda v: v * v),
        crb_trace=mean_of("crb_rmse_m", lambda v: v * v),
        sensing_mse_m2=sensing_mse,
        sensing_mse_ci=sensing_ci,
        sensed_frames=len(sensed),
        feasible=bool(feasible),
        models=";".join(sorted({str(r["model"]) for r in rows if r.get("model")})),
        seconds=float(seconds),
        rows=list(rows),
    )


def run_cell(
    scenario,
    scheme: str,
    power_dbm: float,
    abr: float,
    frames: int,
    seed: int = 0,
    sensing_every: int = 4,
    images="",
    timeout_s: float = 900.0,
    link_hook=None,
    sensing_surplus: bool = True,
) -> CellResult:
    """One streaming run of ``frames`` held-out images at a fixed power.

    Args:
        scenario: Scenario, name or path.
        scheme: a key of :data:`SCHEMES`.
        power_dbm: transmit power budget.
        abr: bandwidth ratio (DJSCC needs a model for it).
        frames: images sent (the shipped held-out images, 256 x 256, cycled).
        seed: seed of the sensing streams, the noises and the sync errors of this run.
        sensing_every: the estimator runs on one sensing block in this many.
        images: image folder ('' for the shipped held-out images).
        timeout_s: give up on the run after this long.
        link_hook: called with the link before it runs (e.g. to keep it for a SIGINT handler).
        sensing_surplus: the ``sdr`` decision's second stage (least ``tr HCRB`` at the chosen model's
            predicted quality, docs/optimizer.md); the other schemes ignore it.
    """
    from ..flowgraphs.link import IsscLink

    source, solver = SCHEMES[scheme]
    started = time.monotonic()
    link = IsscLink(
        scenario,
        frames=frames,
        images=images,
        seed=seed,
        solver=solver,
        metric="ms_ssim",
        schedule=[(0, float(power_dbm), None)],
        size=256,
        sensing_every=sensing_every,
        scheme=source,
        abr=abr,
        sensing_surplus=sensing_surplus,
    )
    feasible = bool(link.controller.current.predicted.get("feasible", False))
    if link_hook is not None:
        link_hook(link)
    link.run_frames(timeout_s=timeout_s)
    return summarise(scheme, power_dbm, abr, link.monitor.ledger.rows, time.monotonic() - started, feasible)


def experiment_points(
    scenario: str,
    schemes,
    powers,
    abrs,
    frames: int,
    seed: int = 0,
    sensing_every: int = 4,
    images="",
    sensing_surplus: bool = True,
) -> list[dict]:
    """The cells as points of :func:`gnuradio.issc.parallel.run_points` (ABR, then scheme, then power).

    One seed per power and ABR (``seed + 1000 a + 10 p``), shared by the schemes: the same sync-error and
    noise draws. ``scenario`` is a name or a path (it is loaded again on the worker).
    """
    return [
        {
            "scenario": str(scenario),
            "scheme": scheme,
            "power_dbm": float(power),
            "abr": float(abr),
            "frames": int(frames),
            "seed": int(seed + 1000 * a + 10 * p),
            "sensing_every": int(sensing_every),
            "images": str(images),
            "sensing_surplus": bool(sensing_surplus),
        }
        for a, abr in enumerate(abrs)
        for scheme in schemes
        for p, power in enumerate(powers)
    ]


def cell_task(point: dict) -> dict:
    """One point of :func:`experiment_points` (run on a worker): the cell as a JSON-able dict."""
    cell = run_cell(
        point["scenario"],
        point["scheme"],
        point["power_dbm"],
        point["abr"],
        point["frames"],
        point["seed"],
        point["sensing_every"],
        point["images"],
        sensing_surplus=point.get("sensing_surplus", True),
    )
    return asdict(cell)


def cell_from_json(value: dict) -> CellResult:
    """A :class:`CellResult` back from :func:`cell_task`'s dict (JSON null as NaN)."""
    floats = {f.name for f in fields(CellResult) if f.type == "float"}
    return CellResult(**{k: (math.nan if v is None and k in floats else v) for k, v in value.items()})


def run_experiment(
    scenario,
    schemes,
    powers,
    abrs,
    frames: int,
    seed: int = 0,
    sensing_every: int = 4,
    images="",
    progress=None,
    workers: int | None = None,
    scheduler: str | None = None,
    journal=None,
    sensing_surplus: bool = True,
) -> list[CellResult]:
    """Every (scheme, ABR, power) cell, each a task of :func:`gnuradio.issc.parallel.run_points`.

    Args:
        scenario: scenario name or path (loaded on the workers).
        progress: called with each new cell as it finishes.
        workers, scheduler: the cluster (see :func:`~gnuradio.issc.parallel.run_points`).
        journal: JSON lines file of the finished cells; a rerun skips the cells in it.
        sensing_surplus: the ``sdr`` decision's second stage (see :func:`run_cell`).

    Raises:
        gnuradio.issc.parallel.PointsInterrupted: Ctrl-C; its ``results`` are the finished cells' dicts.
    """
    from ..parallel import run_points

    points = experiment_points(scenario, schemes, powers, abrs, frames, seed, sensing_every, images, sensing_surplus)

    def report(_index, _point, result):
        if progress is not None:
            progress(cell_from_json(result))

    results = run_points(
        points, cell_task, out=journal, workers=workers, scheduler=scheduler, desc="cells", on_result=report
    )
    return [cell_from_json(r) for r in results]


def write_csv(cells: list[CellResult], path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for cell in cells:
            row = asdict(cell)
            writer.writerow({k: _csv_value(row[k]) for k in CSV_COLUMNS})


def _csv_value(value):
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.6g}"
    return value


def write_frames(cells: list[CellResult], path) -> None:
    """Every frame row of every cell (JSON lines), for analyses the CSV does not cover."""
    import json

    from ..jsonutil import jsonable

    with open(path, "w", encoding="utf-8") as f:
        for cell in cells:
            for row in cell.rows:
                f.write(
                    json.dumps(
                        jsonable({"scheme": cell.scheme, "power_dbm": cell.power_dbm, "abr": cell.abr, **row}),
                        allow_nan=False,
                    )
                    + "\n"
                )


COLOURS = {"ascc-sdr": "tab:blue", "ascc-paper": "tab:green", "djscc-wf-zf": "tab:red"}


def plot_quality(cells: list[CellResult], path, title: str = "") -> None:
    """Fig. 3: measured MS-SSIM (95 % intervals) against P_T, one panel per ABR, with each scheme's
    predicted curve dashed."""
    plt = pyplot()
    abrs = sorted({c.abr for c in cells})
    fig, axes = plt.subplots(1, len(abrs), figsize=(4.2 * len(abrs), 4), sharey=True, squeeze=False)
    schemes = _schemes(cells)
    for ax, abr in zip(axes[0], abrs):
        for k, scheme in enumerate(schemes):
            cell = sorted((c for c in cells if c.abr == abr and c.scheme == scheme), key=lambda c: c.power_dbm)
            if not cell:
                continue
            # a small horizontal offset per scheme, so coinciding points stay visible
            power = np.array([c.power_dbm for c in cell]) + 0.2 * (k - (len(schemes) - 1) / 2)
            colour = COLOURS.get(scheme)
            ax.errorbar(
                power,
                [c.ms_ssim for c in cell],
                yerr=[np.nan_to_num(c.ms_ssim_ci) for c in cell],
                fmt="o-",
                color=colour,
                capsize=3,
                label=f"{scheme} measured",
            )
            ax.plot(
                power, [c.predicted_ms_ssim for c in cell], "--", color=colour, alpha=0.7, label=f"{scheme} predicted"
            )
            lost = [x for x, c in zip(power, cell) if c.frames and c.frames_lost == c.frames]
            if lost:
                ax.plot(lost, [0.0] * len(lost), "x", color=colour, ms=9, mew=2, label=f"{scheme}: no frame received")
        ax.set_title(f"ABR {cell[0].abr_label if cell else abr}")
        ax.set_xlabel("P_T (dBm)")
        ax.grid(True, alpha=0.3)
    save_panels(fig, axes, path, "MS-SSIM of the received images", title)


def plot_sensing(cells: list[CellResult], path, hcrb_threshold_m2: float | None = None, title: str = "") -> None:
    """Fig. 4: tr HCRB of the designs (with the sync error) and tr CRB of the same beams (perfect sync)
    against P_T, with the estimator's measured MSE (95 % intervals), one colour per scheme."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    abr = max(c.abr for c in cells)  # one ABR per figure (fig4 runs only the scenario's)
    for scheme in _schemes(cells):
        cell = sorted((c for c in cells if c.abr == abr and c.scheme == scheme), key=lambda c: c.power_dbm)
        power = [c.power_dbm for c in cell]
        colour = COLOURS.get(scheme)
        ax.plot(power, [c.hcrb_trace for c in cell], "-", color=colour, label=f"{scheme}: tr HCRB (sync error)")
        ax.plot(power, [c.crb_trace for c in cell], ":", color=colour, label=f"{scheme}: tr CRB (perfect sync)")
        ax.errorbar(
            power,
            [c.sensing_mse_m2 for c in cell],
            yerr=[np.nan_to_num(c.sensing_mse_ci) for c in cell],
            fmt="o",
            color=colour,
            capsize=3,
            alpha=0.8,
            label=f"{scheme}: estimator MSE (measured)",
        )
    if hcrb_threshold_m2:
        ax.axhline(hcrb_threshold_m2, color="k", lw=0.8, ls="--", label=f"Pi = {hcrb_threshold_m2:g} m^2")
    ax.set_yscale("log")
    ax.set_xlabel("P_T (dBm)")
    ax.set_ylabel("position bound / MSE (m^2)")
    ax.grid(True, which="both", alpha=0.3)
    save_single(fig, ax, path, title)


def gaps(cells: list[CellResult], reference: str = "djscc-wf-zf") -> list[dict]:
    """Per (power, ABR): each ASCC scheme's measured MS-SSIM and tr HCRB minus the reference's."""
    out = []
    for cell in cells:
        if cell.scheme == reference:
            continue
        ref = next(
            (c for c in cells if c.scheme == reference and c.abr == cell.abr and c.power_dbm == cell.power_dbm), None
        )
        if ref is None:
            continue
        out.append(
            {
                "scheme": cell.scheme,
                "power_dbm": cell.power_dbm,
                "abr": cell.abr_label,
                "ms_ssim_gap": cell.ms_ssim - ref.ms_ssim,
                "psnr_gap_db": cell.psnr - ref.psnr,
                "hcrb_ratio": cell.hcrb_trace / ref.hcrb_trace if ref.hcrb_trace else math.nan,
                "sensing_mse_ratio": (cell.sensing_mse_m2 / ref.sensing_mse_m2 if ref.sensing_mse_m2 else math.nan),
            }
        )
    return out


def _schemes(cells):
    return [s for s in SCHEMES if any(c.scheme == s for c in cells)]
