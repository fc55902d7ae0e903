# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""``issc experiment ...``: Monte Carlo experiments that regenerate the figures in ``docs/``."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import (
    add_parallel_arguments,
    add_scenario_argument,
    fail,
    guarded,
    int_in,
    message,
    output_dir,
    parallel_options,
    print_json,
    seed_int,
    unique,
)
from .djscc import abr_list
from .optim import power_range

QUICK = {"powers": [10.0, 20.0, 30.0, 40.0], "sigmas": None, "trials": 30}
PAPER_FULL = {
    "fig3": {"powers_text": "20:40:4", "frames": 24, "sensing_every": 8},
    "fig4": {"powers_text": "20:40:2", "frames": 12, "sensing_every": 1},
}
PAPER_QUICK = {
    "fig3": {"powers_text": "24,32", "powers": [24.0, 32.0], "frames": 2, "sensing_every": 8},
    "fig4": {"powers_text": "24,32", "powers": [24.0, 32.0], "frames": 2, "sensing_every": 2},
}
FULL = {"powers": [float(p) for p in range(0, 45, 5)], "sigmas": [1.0, 10.0, 100.0], "trials": 200}


def sigma_list(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated nanoseconds, got {text!r}") from None
    if not values or any(not (0 <= v < 1e6) for v in values):
        raise argparse.ArgumentTypeError(f"sync-error spreads must be in [0, 1e6) ns, got {text[:60]!r}")
    return unique(values, "spread")


def figure_abr_list(text: str) -> list[float]:
    """``--abrs`` of fig3/fig4: :func:`abr_list` without repeats (each ABR is one set of cells)."""
    return unique(abr_list(text), "ABR")


def register(subparsers):
    p = subparsers.add_parser("experiment", help="Monte Carlo experiments (CSV + PNG)")
    sub = p.add_subparsers(dest="experiment", metavar="EXPERIMENT", parser_class=type(p))
    sub.required = True
    est = sub.add_parser(
        "estimator",
        help="estimator RMSE against sqrt(tr HCRB) and sqrt(tr CRB)",
        description="Sweep the transmit power (echo SNR) and the sync-error spread, Monte Carlo "
        "the MAP estimator, write estimator.csv and estimator.png.",
    )
    add_scenario_argument(est)
    est.add_argument("--out", required=True, metavar="DIR", help="output directory")
    sweep = est.add_argument_group("sweep")
    sweep.add_argument(
        "--power-dbm",
        type=power_range,
        default=None,
        metavar="START:STOP:STEP",
        help="transmit powers, all steered at the target (default 0:40:5; quick 10:40:10)",
    )
    sweep.add_argument(
        "--sigma-ns",
        type=sigma_list,
        default=None,
        metavar="S1,S2,...",
        help="sync-error spreads sigma_dt (default 1,10,100; quick: the scenario's)",
    )
    sweep.add_argument(
        "--trials", type=int_in(1, 1_000_000), default=None, help="blocks per cell (default 200; quick 30)"
    )
    sweep.add_argument(
        "--quick", action="store_true", help="fewer powers, the scenario's spread, 30 trials (under a minute here)"
    )
    sweep.add_argument("--seed", type=seed_int, default=0)
    add_parallel_arguments(est)
    est.set_defaults(handler=guarded(cmd_estimator))

    for name, what in (
        ("fig3", "MS-SSIM of ASCC and DJSCC-WF-ZF against P_T, per ABR (ISSC Fig. 3)"),
        ("fig4", "tr HCRB (with and without the sync error) and the estimator's MSE against P_T (ISSC Fig. 4)"),
    ):
        fig = sub.add_parser(
            name,
            help=what,
            description=what + ", measured through the streaming link: "
            "one run per (scheme, P_T, ABR) over the held-out images; writes results.csv, "
            f"frames.jsonl and {name}.png.",
        )
        add_scenario_argument(fig)
        fig.add_argument("--out", required=True, metavar="DIR", help="output directory")
        grid = fig.add_argument_group("sweep")
        preset = PAPER_FULL[name]
        grid.add_argument(
            "--power-dbm",
            type=power_range,
            default=None,
            metavar="START:STOP:STEP",
            help=f"transmit powers (default {preset['powers_text']}; quick {PAPER_QUICK[name]['powers_text']})",
        )
        if name == "fig3":
            grid.add_argument(
                "--abrs",
                type=figure_abr_list,
                default=None,
                metavar="A1,A2,...",
                help="bandwidth ratios (default 1/48,1/32,1/16)",
            )
        else:
            grid.add_argument(
                "--abrs",
                type=figure_abr_list,
                default=None,
                metavar="A",
                help="bandwidth ratio (default: the scenario's)",
            )
        grid.add_argument(
            "--schemes",
            type=scheme_list,
            default=None,
            metavar="S1,S2,...",
            help="schemes (default ascc-sdr,ascc-paper,djscc-wf-zf)",
        )
        grid.add_argument(
            "--frames",
            type=int_in(1, 100_000),
            default=None,
            help=f"images per cell (default {preset['frames']}; quick {PAPER_QUICK[name]['frames']})",
        )
        grid.add_argument(
            "--sensing-every",
            type=int_in(1, 100_000),
            default=None,
            metavar="K",
            help=f"estimate one sensing block in K (default {preset['sensing_every']})",
        )
        grid.add_argument("--quick", action="store_true", help="two powers, two images per cell (a few minutes)")
        grid.add_argument("--seed", type=seed_int, default=0)
        add_parallel_arguments(fig)
        fig.set_defaults(handler=guarded(cmd_paper_figure), figure=name)


def cmd_estimator(args):
    from ..experiments.estimator import plot, run_experiment, write_csv
    from ..scenario import load_scenario

    scenario = load_scenario(args.scenario)
    preset = QUICK if args.quick else FULL
    powers = args.power_dbm or preset["powers"]
    sigmas = args.sigma_ns or preset["sigmas"] or [scenario.sync.sigma_ns]
    trials = args.trials or preset["trials"]
    out = output_dir(args.out, "--out")

    def progress(point):
        message(
            f"sigma_dt {point.sigma_ns:g} ns, P_T {point.power_dbm:g} dBm: RMSE {point.rmse_m:.3g} m, "
            f"sqrt(tr HCRB) {point.hcrb_rmse_m:.3g} m, MSE/HCRB {point.mse_over_hcrb:.3f}"
        )

    points = run_experiment(
        _scenario_arg(args.scenario),
        powers,
        sigmas,
        trials,
        args.seed,
        progress,
        journal=out / "points.jsonl",
        **parallel_options(args),
    )
    write_csv(points, out / "estimator.csv")
    plot(points, out / "estimator.png", f"MAP estimator, scenario '{scenario.name}', {trials} blocks per point")
    print_json(
        {"csv": str(out / "estimator.csv"), "plot": str(out / "estimator.png"), "points": [vars(p) for p in points]}
    )
    return 0


def _scenario_arg(name: str) -> str:
    """A scenario for the workers: a name as it is, a file as an absolute path."""
    return str(Path(name).resolve()) if Path(name).is_file() else name


def scheme_list(text: str) -> list[str]:
    from ..experiments.paper import SCHEMES

    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in SCHEMES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"schemes must be among {', '.join(SCHEMES)}, got {text[:60]!r}")
    return unique(names, "scheme")


def cmd_paper_figure(args):
    from ..djscc.models import abr_label
    from ..experiments import paper as exp
    from ..parallel import PointsInterrupted
    from ..scenario import load_scenario

    scenario = load_scenario(args.scenario)
    preset = PAPER_QUICK[args.figure] if args.quick else PAPER_FULL[args.figure]
    powers = args.power_dbm or preset.get("powers") or power_range(preset["powers_text"])
    if args.figure == "fig3":
        abrs = args.abrs or [1 / 48, 1 / 32, 1 / 16]
    else:
        abrs = args.abrs or [scenario.budget.abr]
        if len(abrs) != 1:
            fail("fig4 takes one --abrs value")
    schemes = args.schemes or list(exp.SCHEMES)
    if "djscc-wf-zf" in schemes:
        from ..djscc.models import load_manifest

        have = {round(m.abr, 9) for m in load_manifest()}
        missing = [abr_label(a) for a in abrs if round(a, 9) not in have]
        if missing:
            fail(
                f"--abrs: no shipped DJSCC model for ABR {', '.join(missing)} (have "
                f"{', '.join(abr_label(a) for a in sorted(have))})"
            )
    out = output_dir(args.out, "--out")

    def progress(cell):
        message(
            f"{cell.scheme:12s} ABR {cell.abr_label:5s} P_T {cell.power_dbm:5.1f} dBm: MS-SSIM "
            f"{cell.ms_ssim:.3f} (predicted {cell.predicted_ms_ssim:.3f}), SINR {cell.sinr_db:.1f} dB, "
            f"tr HCRB {cell.hcrb_trace:.3g} m^2, estimator MSE {cell.sensing_mse_m2:.3g} m^2, "
            f"{cell.frames} frames in {cell.seconds:.0f} s"
        )

    interrupted = False
    try:
        cells = exp.run_experiment(
            _scenario_arg(args.scenario),
            schemes,
            powers,
            abrs,
            args.frames or preset["frames"],
            args.seed,
            args.sensing_every or preset["sensing_every"],
            progress=progress,
            journal=out / "points.jsonl",
            **parallel_options(args),
        )
    except PointsInterrupted as stop:
        interrupted = True
        cells = [exp.cell_from_json(r) for r in stop.results if r is not None]
    exp.write_csv(cells, out / "results.csv")
    exp.write_frames(cells, out / "frames.jsonl")
    title = f"scenario '{scenario.name}', {args.frames or preset['frames']} held-out images per point"
    plot = out / f"{args.figure}.png"
    if cells:
        if args.figure == "fig3":
            exp.plot_quality(cells, plot, title)
        else:
            exp.plot_sensing(cells, plot, scenario.budget.hcrb_threshold_m2, title)
    print_json(
        {
            "csv": str(out / "results.csv"),
            "plot": str(plot) if cells else None,
            "cells": len(cells),
            "interrupted": interrupted,
            "gaps": exp.gaps(cells),
            "journal": str(out / "points.jsonl"),
        }
    )
    return 130 if interrupted else 0
