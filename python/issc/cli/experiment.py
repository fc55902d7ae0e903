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
        grid.add_argument(
            "--sensing-surplus",
            choices=("on", "off"),
            default="on",
            help="ascc-sdr: spend the SINR the chosen model and rate do not need on sensing (default on)",
        )
        grid.add_argument("--quick", action="store_true", help="two powers, two images per cell (a few minutes)")
        grid.add_argument("--seed", type=seed_int, default=0)
        add_parallel_arguments(fig)
        fig.set_defaults(handler=guarded(cmd_paper_figure), figure=name)

    vscc = sub.add_parser(
        "vscc",
        help="the VSCC paper's Figs. 7-9: AE, VAE and VSCC models at ABR 1/16 (docs/vscc.md)",
        description="Transmitted- against fixed-variance resampling (Fig. 7), the channel-matching constant "
        "sweep (Fig. 8) and VSCC against VAE against AE (Fig. 9), test SNR -10 to 25 dB over AWGN on the "
        "held-out images; writes results.csv, fig7.png, fig8.png, fig9.png, summary.json and points.jsonl "
        "(a rerun resumes from it).",
    )
    vscc.add_argument("--out", required=True, metavar="DIR", help="output directory")
    vscc.add_argument("--dir", default="", metavar="DIR", help="DJSCC model directory (default: shipped)")
    vscc.add_argument(
        "--quick",
        action="store_true",
        help="the 5 dB models, test SNRs -10,5,25, one image, 20/4 resamples (well under a minute)",
    )
    vscc.add_argument("--seed", type=seed_int, default=0)
    vscc.set_defaults(handler=guarded(cmd_vscc))
    register_multiuser(sub)


def cmd_vscc(args):
    from ..djscc.models import DATA_DIR
    from ..experiments import vscc as exp
    from .common import input_dir

    directory = input_dir(args.dir, "--dir") if args.dir else DATA_DIR
    preset = exp.QUICK if args.quick else exp.FULL
    out = output_dir(args.out, "--out")

    def progress(row):
        message(
            f"{row['set']:5s} {row['model']:24s} {row['test_snr_db']:5g} dB {row['resampling']:11s}: PSNR "
            f"{row['psnr']:.2f} [{row['psnr_min']:.2f}, {row['psnr_max']:.2f}], SSIM {row['ssim']:.3f}, "
            f"{row['resamples']} x {row['images']} in {row['seconds']:.1f} s"
        )

    rows = exp.run_experiment(preset, directory, args.seed, journal=out / "points.jsonl", progress=progress)
    result = exp.write_outputs(rows, out, "quick" if args.quick else "full", args.seed)
    print_json({"csv": str(out / "results.csv"), "plots": [str(out / f"fig{k}.png") for k in (7, 8, 9)], **result})
    return 0


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


def _schemes_of(text: str, schemes) -> list[str]:
    """The comma-separated scheme names of ``text``, each one of ``schemes``, none twice (else an argparse error)."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in schemes]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"schemes must be among {', '.join(schemes)}, got {text[:60]!r}")
    return unique(names, "scheme")


def scheme_list(text: str) -> list[str]:
    from ..experiments.paper import SCHEMES

    return _schemes_of(text, SCHEMES)


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
            sensing_surplus=args.sensing_surplus == "on",
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


# -- the multi-user experiments (docs/multiuser.md "Experiments") ----------------------------------------
def mu_power_list(text: str) -> list[float]:
    """``--powers``: comma-separated dBm values or ``START:STOP:STEP`` ranges, no repeats."""
    values = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            raise argparse.ArgumentTypeError(f"expected comma-separated powers, got {text[:60]!r}")
        values += power_range(part)
    return unique(values, "power")


def mu_scheme_list(text: str) -> list[str]:
    from ..experiments.multiuser import SCHEMES

    return _schemes_of(text, SCHEMES)


def mu_weight_list(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated weights in (0, 1), got {text[:60]!r}") from None
    if not values or not all(0.0 < v < 1.0 for v in values):
        raise argparse.ArgumentTypeError(f"data weights must be in (0, 1), got {text[:60]!r}")
    return unique(values, "weight")


def register_multiuser(sub):
    """``issc experiment mu-power`` and ``mu-region``."""
    from ..experiments.multiuser import FULL, QUICK, REGION_WEIGHTS

    for name, what in (
        (
            "mu-power",
            "weighted distortion of MU-ASCC, MU-ASCC-mixed, ZF-WF-BPG and ZF-WF-DJSCC against P_T, with and without "
            "the sensing constraint (the seed's Fig. 7)",
        ),
        (
            "mu-region",
            "the achievable region: data users' MS-SSIM against semantic users' accuracy over the user weights, "
            "with the benchmarks' points (the seed's Fig. 8)",
        ),
    ):
        p = sub.add_parser(
            name,
            help=what,
            description=what + ", measured through the streaming multi-user link: one run per point; writes "
            f"results.csv, frames.jsonl, {name}.png and points.jsonl (a rerun resumes from it). zf-wf-djscc "
            "data users send analog DJSCC frames.",
        )
        p.add_argument(
            "--scenario",
            "-s",
            default="multiuser-sensing",
            metavar="S",
            help="multi-user scenario name or YAML path (default multiuser-sensing)",
        )
        p.add_argument("--out", required=True, metavar="DIR", help="output directory")
        grid = p.add_argument_group("sweep")
        grid.add_argument(
            "--schemes",
            type=mu_scheme_list,
            default=None,
            metavar="S1,S2,...",
            help="schemes (default mu-ascc,mu-ascc-mixed,zf-wf-bpg,zf-wf-djscc)",
        )
        if name == "mu-power":
            grid.add_argument(
                "--powers",
                type=mu_power_list,
                default=None,
                metavar="P1,P2,...|START:STOP:STEP",
                help=f"transmit powers, dBm (default {','.join(f'{v:g}' for v in FULL['powers'])}; quick "
                f"{','.join(f'{v:g}' for v in QUICK['powers'])})",
            )
            grid.add_argument(
                "--sensing",
                choices=("both", "target", "none"),
                default="both",
                help="with the scenario's sensing target, without it (sensing: none), or both (default; a "
                "scenario without a target: none)",
            )
        else:
            grid.add_argument(
                "--powers",
                type=mu_power_list,
                default=None,
                metavar="P",
                help="transmit power, dBm (default: the scenario's)",
            )
            grid.add_argument(
                "--weights",
                type=mu_weight_list,
                default=None,
                metavar="A1,A2,...",
                help=f"the data users' total weight a, the semantic users' 1 - a (default "
                f"{','.join(f'{v:g}' for v in REGION_WEIGHTS)}; quick {','.join(f'{v:g}' for v in QUICK['weights'])})",
            )
        grid.add_argument(
            "--frames",
            type=int_in(1, 100_000),
            default=None,
            help=f"slots per point (one frame per user each; default {FULL['frames']}; quick {QUICK['frames']})",
        )
        grid.add_argument(
            "--quick",
            action="store_true",
            help="64 x 64 images, two powers or weights, two slots (well under a minute)",
        )
        grid.add_argument("--seed", type=seed_int, default=0)
        add_parallel_arguments(p)
        p.set_defaults(handler=guarded(cmd_multiuser), experiment_name=name)


def cmd_multiuser(args):
    from ..experiments import multiuser as exp
    from ..parallel import PointsInterrupted
    from ..scenario import load_scenario

    scenario = load_scenario(args.scenario)
    if not scenario.users:
        fail(f"--scenario: '{scenario.name}' has no users list (the multi-user experiments need one)")
    preset = exp.QUICK if args.quick else exp.FULL
    schemes = args.schemes or list(exp.SCHEMES)
    frames = args.frames or preset["frames"]
    name = args.experiment_name
    if name == "mu-power":
        powers = args.powers or preset["powers"]
        if args.sensing == "both":
            sensings = ["target", "none"] if scenario.sensing == "target" else ["none"]
        elif args.sensing == "target" and scenario.sensing != "target":
            fail(f"--sensing target: scenario '{scenario.name}' has no sensing target")
        else:
            sensings = [args.sensing]
        points = exp.power_points(
            _scenario_arg(args.scenario), schemes, powers, sensings, frames, args.seed, preset["size"]
        )
    else:
        if args.powers and len(args.powers) != 1:
            fail("mu-region takes one --powers value")
        power = args.powers[0] if args.powers else scenario.budget.power_dbm
        if {u.task for u in scenario.users} != {"data", "semantic"}:
            fail(f"--scenario: '{scenario.name}' needs data and semantic users for a weight sweep")
        weights = args.weights or (preset["weights"] or exp.REGION_WEIGHTS)
        points = exp.region_points(
            _scenario_arg(args.scenario), schemes, power, weights, frames, args.seed, preset["size"]
        )
    out = output_dir(args.out, "--out")

    def progress(r):
        message(
            f"{r['scheme']:13s} {r['sensing']:6s} P_T {r['power_dbm']:5.1f} dBm weights {r['weights']}: weighted "
            f"distortion {r['weighted_distortion']:.4f} (predicted {r['predicted_weighted_distortion']:.4f}), MS-SSIM "
            f"{r['ms_ssim']:.3f}, accuracy {r['accuracy']:.3f}, {r['frames'] - r['frames_lost']}/{r['frames']} "
            f"frames in {r['seconds']:.0f} s"
        )

    interrupted = False
    try:
        results = exp.run_points_for(points, journal=out / "points.jsonl", progress=progress, **parallel_options(args))
    except PointsInterrupted as stop:
        interrupted = True
        results = [r for r in stop.results if r is not None]
    exp.write_csv(results, out / "results.csv")
    exp.write_frames(results, out / "frames.jsonl")
    plot = out / f"{name}.png"
    title = f"scenario '{scenario.name}', {frames} slots per point"
    if results:
        (exp.plot_power if name == "mu-power" else exp.plot_region)(results, plot, title)
    print_json(
        {
            "csv": str(out / "results.csv"),
            "plot": str(plot) if results else None,
            "points": len(results),
            "interrupted": interrupted,
            "journal": str(out / "points.jsonl"),
        }
    )
    return 130 if interrupted else 0
