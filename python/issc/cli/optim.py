# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Subcommands of the optimiser: ``optimize``, ``sweep``, ``bench optimizer``."""

from __future__ import annotations

import argparse
import csv
import io
import statistics
import time
from pathlib import Path

import numpy as np

from ..scenario import load_scenario
from .common import (
    POWER_DBM_RANGE,
    add_parallel_arguments,
    add_scenario_argument,
    fail,
    float_in,
    guarded,
    int_in,
    output_dir,
    parallel_options,
    power_dbm,
    print_json,
    unique,
)

SOLVER_CHOICES = ("sdr", "paper", "zf-wf")
MULTI_USER_SOLVERS = ("zf-wf-bpg", "zf-wf-jpeg", "zf-wf-djscc")
"""``issc optimize --solver`` on multi-user scenarios also: zf-wf with the HEVC / JPEG operating points or the
data users on the DJSCC models trained at 10 dB."""
FAMILY_CHOICES = ("learned", "mixed", "hevc", "jpeg")


def power_range(text: str) -> list[float]:
    """``20:40:2`` (start:stop:step, inclusive) or a single value, in dBm within :data:`POWER_DBM_RANGE`."""
    parts = text.split(":")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:STOP:STEP or a number, got {text[:60]!r}") from None
    if not all(np.isfinite(values)):
        raise argparse.ArgumentTypeError(f"values must be finite, got {text!r}")
    lo, hi = POWER_DBM_RANGE
    if not all(lo <= v <= hi for v in values[:2]):
        raise argparse.ArgumentTypeError(f"powers must be in [{lo:g}, {hi:g}] dBm, got {text!r}")
    if len(values) == 1:
        return values
    if len(values) != 3 or values[2] <= 0 or values[1] < values[0]:
        raise argparse.ArgumentTypeError(f"expected START:STOP:STEP with STEP > 0 and STOP >= START, got {text!r}")
    span = (values[1] - values[0]) / values[2]
    if span + 1 > 1000:
        raise argparse.ArgumentTypeError(f"at most 1000 points, got {span + 1:.4g} from {text!r}")
    count = int(np.floor(span + 1e-9)) + 1
    return [values[0] + i * values[2] for i in range(count)]


def abr_value(text: str) -> float:
    """A bandwidth ratio: a number in (0, 1] or a fraction like ``1/32``."""
    try:
        if "/" in text:
            num, den = text.split("/", 1)
            value = float(num) / float(den)
        else:
            value = float(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected a number or a fraction like 1/32, got {text!r}") from None
    if not (np.isfinite(value) and 0 < value <= 1):
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text!r}")
    return value


def solver_list(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in names if s not in SOLVER_CHOICES]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"solvers must be from {', '.join(SOLVER_CHOICES)}, got {text[:60]!r}")
    return unique(names, "solver")


def _common_problem_args(p, power_help):
    add_scenario_argument(p)
    p.add_argument(
        "--pi",
        type=float_in(0.0, 1.0e12, "m^2"),
        default=None,
        metavar="PI",
        help="HCRB threshold on tr(HCRB), m^2, 0..1e12 as in a scenario (default: the scenario's)",
    )
    p.add_argument("--abr", type=abr_value, default=None, help="bandwidth ratio, e.g. 1/32 (default: the scenario's)")
    p.add_argument(
        "--sensing-streams",
        type=int_in(1, 256),
        default=None,
        metavar="R",
        help="number r_0 of sensing streams (default: the scenario's)",
    )
    p.add_argument("--profile", default=None, metavar="FILE", help="codec profile YAML (default: the shipped one)")
    p.add_argument(
        "--metric",
        choices=("mse", "ms_ssim"),
        default=None,
        help="distortion to minimise (default mse; multi-user scenarios score data users by ms_ssim only)",
    )
    p.add_argument(
        "--ber-model",
        choices=("normal", "calibrated"),
        default="normal",
        help="BER of the channel code: the normal approximation or the measured polar-code table",
    )
    p.add_argument(
        "--calibration",
        default=None,
        metavar="FILE",
        help="code calibration table for --ber-model calibrated (default: the shipped one)",
    )
    p.add_argument(
        "--distortion-model",
        choices=("burst", "ber"),
        default=None,
        help="burst: a failed codeword loses the rest of the stream, expected distortion from the calibrated "
        "block error rate and the profile's burst curves (default with --ber-model calibrated); ber: the eq. 7 "
        "profile at the scattered BER (docs/model.md §7)",
    )
    p.add_argument(
        "--sinr-sigma-db",
        type=float_in(0.0, 20.0),
        default=None,
        metavar="DB",
        help="burst: the frame's SINR spread around the prediction in dB (default 0.35, measured on the link)",
    )
    add_sensing_surplus_argument(p)


def add_sensing_surplus_argument(p):
    """``--sensing-surplus on|off`` (the ``sdr`` solver's second stage, docs/optimizer.md)."""
    p.add_argument(
        "--sensing-surplus",
        choices=("on", "off"),
        default="on",
        help="sdr solver, single-user: keep the chosen model and rate and spend the SINR they do not need on "
        "sensing (least tr HCRB at the same predicted quality; default on; the other solvers ignore it)",
    )


def register(subparsers):
    p = subparsers.add_parser(
        "optimize",
        help="one frame decision: model, code rate and beams",
        description="Solve the ASCC problem for one frame and print the configuration. On a multi-user "
        "scenario (a users list or sensing: none, docs/multiuser.md): every user's beam, model and code rate.",
    )
    _common_problem_args(p, "transmit power budget, dBm")
    p.add_argument(
        "--power-dbm",
        type=power_dbm,
        default=None,
        help=f"power budget P_T, dBm in [{POWER_DBM_RANGE[0]:g}, {POWER_DBM_RANGE[1]:g}] (default: the scenario's)",
    )
    p.add_argument(
        "--solver",
        choices=SOLVER_CHOICES + MULTI_USER_SOLVERS,
        default="sdr",
        help="multi-user scenarios also: zf-wf-bpg / zf-wf-jpeg (zf-wf with the HEVC intra / JPEG operating points), "
        "zf-wf-djscc (zf-wf, data users on the DJSCC models trained at 10 dB)",
    )
    p.add_argument(
        "--family",
        choices=FAMILY_CHOICES,
        default=None,
        help="the data users' shipped codec family (instead of --profile): learned (default), mixed (learned + "
        "HEVC intra, the solver picks per user), hevc or jpeg (docs/codec.md)",
    )
    p.add_argument(
        "--semantic-profile",
        default=None,
        metavar="FILE",
        help="multi-user scenarios: the semantic users' profile JSON (default: the shipped one)",
    )
    p.add_argument(
        "--code-rate",
        type=code_rate_list,
        default=None,
        metavar="R[,R...]",
        help="multi-user scenarios, --solver zf-wf[-bpg|-jpeg]: the fixed code rate in bits per channel use, one "
        "for all users or one per user (default 1)",
    )
    p.add_argument("--json", action="store_true", help="print JSON (the default output is JSON as well)")
    p.set_defaults(handler=guarded(cmd_optimize))

    p = subparsers.add_parser(
        "sweep",
        help="predicted performance versus P_T per solver (CSV + PNG)",
        description="Sweep the power budget and write sweep.csv and sweep.png: predicted "
        "distortion, chosen model, SINR and tr(HCRB) per solver.",
    )
    _common_problem_args(p, "")
    p.add_argument(
        "--power-dbm",
        type=power_range,
        default=None,
        metavar="START:STOP:STEP",
        help="power sweep in dBm (default: the scenario's sweep)",
    )
    p.add_argument("--solvers", type=solver_list, default=list(SOLVER_CHOICES), help="comma-separated solvers")
    p.add_argument(
        "--out", required=True, metavar="DIR", help="output directory (finished points: points.jsonl, resumed)"
    )
    add_parallel_arguments(p)
    p.set_defaults(handler=guarded(cmd_sweep))

    p = subparsers.add_parser("bench", help="benchmarks", description="Benchmarks (never part of the tests).")
    bench = p.add_subparsers(dest="bench_target", metavar="TARGET", parser_class=type(p))
    bench.required = True
    b = bench.add_parser(
        "optimizer",
        help="decision time per solver",
        description="Median and 95th-percentile decision time per solver: solvers compiled "
        "once, re-solved with a new power and threshold every frame.",
    )
    add_scenario_argument(b, required=False)
    b.add_argument("--frames", type=int_in(1, 100_000), default=40, help="decisions per solver (default 40)")
    b.add_argument("--solvers", type=solver_list, default=list(SOLVER_CHOICES))
    b.add_argument("--profile", default=None, metavar="FILE")
    add_sensing_surplus_argument(b)
    b.set_defaults(handler=guarded(cmd_bench_optimizer))


def code_rate_list(text: str) -> list[float]:
    """``1.0`` or ``1.8,1.3``: code rates in (0, 2] bits per channel use (the link's top rate is checked later)."""
    parts = [t.strip() for t in text.split(",")]
    if not parts or len(parts) > 16:
        raise argparse.ArgumentTypeError(f"expected one to 16 comma-separated rates, got {text[:60]!r}")
    return [float_in(0.0, 2.0, "bits per channel use")(t) for t in parts]


def _optimizer(args, solver):
    from ..optim import Optimizer

    if args.calibration is not None and args.ber_model != "calibrated":
        # a table given but not used would be silently ignored: the user meant the calibrated model
        fail("--calibration is read only with --ber-model calibrated; add it, or leave --calibration out")
    profile = args.profile
    if getattr(args, "family", None) is not None:
        from ..codec.profile import FAMILY_PROFILES

        if profile is not None:
            fail("give --profile or --family, not both")
        profile = str(FAMILY_PROFILES[args.family])

    return Optimizer(
        args.scenario,
        profile,
        solver=solver,
        metric=args.metric or "mse",
        ber_model=args.ber_model,
        calibration=args.calibration,
        sensing_surplus=getattr(args, "sensing_surplus", "on") == "on",
        **_distortion_arguments(args),
    )


def _distortion_arguments(args) -> dict:
    """``distortion_model`` and ``sinr_sigma_db`` of the optimisers from ``--distortion-model`` and
    ``--sinr-sigma-db`` (absent or None: the optimiser's defaults)."""
    out = {"distortion_model": getattr(args, "distortion_model", None)}
    if getattr(args, "sinr_sigma_db", None) is not None:
        out["sinr_sigma_db"] = args.sinr_sigma_db
    return out


def _refuse_multi_user(scenario, command: str):
    from ..optim.multiuser import is_multi_user

    if is_multi_user(scenario):
        fail(
            f"scenario '{scenario.name}' is multi-user (a users list or sensing: none): {command} supports "
            "single-user scenarios only; use issc optimize"
        )


def cmd_optimize(args):
    from ..optim.multiuser import is_multi_user

    scenario = load_scenario(args.scenario)
    if is_multi_user(scenario):
        return _optimize_multi_user(args, scenario)
    if args.semantic_profile is not None or args.code_rate is not None:
        fail("--semantic-profile and --code-rate apply to multi-user scenarios only")
    if args.solver in MULTI_USER_SOLVERS:
        fail(f"--solver {args.solver} applies to multi-user scenarios only (single-user: --solver zf-wf --family ...)")
    decision = _optimizer(args, args.solver).decide(args.power_dbm, args.pi, args.abr, args.sensing_streams)
    print_json(decision.to_json())
    return 0


def _optimize_multi_user(args, scenario):
    """``issc optimize`` on a multi-user scenario (docs/multiuser.md)."""
    from ..optim.multiuser import MultiUserOptimizer

    if args.metric not in (None, "ms_ssim"):
        fail("multi-user scenarios score data users by MS-SSIM (the weighted sum adds 1 - MS-SSIM and error rates)")
    if args.code_rate is not None and args.solver not in ("zf-wf", *MULTI_USER_SOLVERS):
        fail(
            "--code-rate applies to --solver zf-wf only (and zf-wf-bpg, zf-wf-jpeg, zf-wf-djscc; the other solvers "
            "choose the code rates)"
        )
    optimizer = MultiUserOptimizer(
        scenario,
        args.profile,
        args.semantic_profile,
        solver=args.solver,
        ber_model=args.ber_model,
        calibration=args.calibration,
        code_rates=args.code_rate,
        family=args.family,
    )
    print_json(optimizer.decide(args.power_dbm, args.pi, args.abr, args.sensing_streams).to_json())
    return 0


SWEEP_COLUMNS = (
    "solver",
    "power_dbm",
    "feasible",
    "model",
    "R_s",
    "R_c",
    "sinr_db",
    "log10_ber",
    "distortion",
    "metric",
    "predicted_psnr_db",
    "predicted_ms_ssim",
    "hcrb_trace",
    "power_w",
    "bound_sinr_db",
    "solve_ms",
    "reason",
)


def cmd_sweep(args):
    scenario = load_scenario(args.scenario)
    _refuse_multi_user(scenario, "issc sweep")
    powers = args.power_dbm or scenario.power_sweep_dbm().tolist()
    _optimizer(args, args.solvers[0])  # profile and calibration read and checked here, before the points run
    out = output_dir(args.out, "--out")
    from ..files import atomic_write_text
    from ..parallel import run_points

    def absolute(path):
        return str(Path(path).resolve()) if path and Path(path).is_file() else path

    common = {
        "scenario": absolute(args.scenario),
        "profile": absolute(args.profile),
        "metric": args.metric or "mse",
        "ber_model": args.ber_model,
        "calibration": absolute(args.calibration),
        "pi": args.pi,
        "abr": args.abr,
        "sensing_streams": args.sensing_streams,
        "sensing_surplus": args.sensing_surplus,
    }
    points = [{**common, "solver": solver, "power_dbm": float(power)} for solver in args.solvers for power in powers]
    rows = run_points(points, sweep_point, out=out / "points.jsonl", desc="decisions", **parallel_options(args))
    csv_path = out / "sweep.csv"
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=SWEEP_COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in SWEEP_COLUMNS})
    atomic_write_text(csv_path, text.getvalue())
    png_path = out / "sweep.png"
    plot_sweep(rows, args.solvers, png_path, scenario.name)
    print_json({"csv": str(csv_path), "png": str(png_path), "rows": len(rows)})
    return 0


def sweep_point(point: dict) -> dict:
    """One (solver, power) decision of ``issc sweep`` on a worker: a fresh optimiser (no warm start from
    other points, so a row does not depend on which worker ran which points before it)."""
    optimizer = _optimizer(argparse.Namespace(**point), point["solver"])
    decision = optimizer.decide(point["power_dbm"], point["pi"], point["abr"], point["sensing_streams"]).to_json()
    return {k: decision.get(k) for k in SWEEP_COLUMNS if k != "power_dbm"} | {"power_dbm": point["power_dbm"]}


def plot_sweep(rows, solvers, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..codec.fit import save_figure

    has_ms_ssim = any(r.get("predicted_ms_ssim") is not None for r in rows)
    panels = [
        ("sinr_db", "CRE SINR (dB)"),
        ("hcrb_trace", "tr HCRB (m$^2$)"),
        (
            "predicted_ms_ssim" if has_ms_ssim else "predicted_psnr_db",
            "predicted MS-SSIM" if has_ms_ssim else "predicted PSNR (dB)",
        ),
        ("R_s", "chosen model R$_s$ (bits)"),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    for ax, (key, label) in zip(axes.flat, panels):
        for solver in solvers:
            pts = [
                (r["power_dbm"], r[key], r["feasible"])
                for r in rows
                if r["solver"] == solver and r.get(key) is not None and np.isfinite(r[key])
            ]
            if not pts:
                continue
            x, y, ok = map(np.array, zip(*pts))
            (line,) = ax.plot(
                x, y, marker="o", ms=3, label=solver, drawstyle="steps-mid" if key == "R_s" else "default"
            )
            if (~ok.astype(bool)).any():
                ax.plot(x[~ok.astype(bool)], y[~ok.astype(bool)], "x", color=line.get_color(), ms=7)
        ax.set_xlabel("P$_T$ (dBm)")
        ax.set_ylabel(label)
        if key == "hcrb_trace":
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes.flat[0].legend(title="solver (x: infeasible)")
    fig.suptitle(f"ASCC design versus power budget: scenario '{title}'")
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def cmd_bench_optimizer(args):
    from ..optim import Optimizer

    scenario = load_scenario(args.scenario)
    _refuse_multi_user(scenario, "issc bench optimizer")
    rng = np.random.default_rng(1)
    sweep = scenario.power_sweep_dbm()
    results = {}
    for solver in args.solvers:
        optimizer = Optimizer(scenario, args.profile, solver=solver, sensing_surplus=args.sensing_surplus == "on")
        start = time.perf_counter()
        optimizer.decide()  # compile once
        first_ms = 1e3 * (time.perf_counter() - start)
        times, feasible, beam_ms, sdp = [], 0, [], []
        for _ in range(args.frames):
            power = float(rng.uniform(sweep[0], sweep[-1]))
            pi = scenario.budget.hcrb_threshold_m2 * float(rng.uniform(0.5, 2.0))
            start = time.perf_counter()
            decision = optimizer.decide(power, pi)
            times.append(1e3 * (time.perf_counter() - start))
            feasible += decision.feasible
            beam_ms.append(float(decision.beam_info.get("solve_ms", float("nan"))))
            if decision.beam_info.get("sdp", {}).get("solves"):
                sdp.append(decision.beam_info["sdp"])
        results[solver] = {
            "frames": args.frames,
            "median_ms": statistics.median(times),
            "p95_ms": float(np.percentile(times, 95)),
            "max_ms": max(times),
            "feasible_fraction": feasible / args.frames,
            # the split: the first decision compiles the solver's problems once per process; per frame, the
            # beam solver's share, and for frames that solved conic problems, CVXPY's compile (parameter
            # mapping) and the conic solver's own time summed over that frame's solves
            "first_decision_ms": first_ms,
            "beams_median_ms": statistics.median(beam_ms),
            "conic_frames": len(sdp),
            "conic_solves_median": statistics.median([s["solves"] for s in sdp]) if sdp else 0,
            "cvxpy_compile_median_ms": statistics.median([s["compile_ms"] for s in sdp]) if sdp else None,
            "conic_solver_median_ms": statistics.median([s["conic_ms"] for s in sdp]) if sdp else None,
        }
    print_json({"scenario": scenario.name, "benchmark": "optimizer decision time", "solvers": results})
    return 0
