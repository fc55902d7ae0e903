# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Subcommands of the streaming link: ``calibrate-code`` and ``bench link``."""

from __future__ import annotations

import time

import numpy as np

from .common import add_scenario_argument, positive_int, print_json


def register(subparsers):
    p = subparsers.add_parser(
        "calibrate-code",
        help="measure the polar code's BER/BLER over SINR and rate",
        description="Simulate the link's channel code (gr-fec polar, QPSK, AWGN, the receiver's "
        "LLRs and SCL decoder) over a grid of SINR and code rate; write the table "
        "that --ber-model calibrated uses, and optionally a plot against the "
        "normal approximation.",
    )
    grid = p.add_argument_group("grid")
    grid.add_argument("--sinr-db", default="-8:16:1", metavar="START:STOP:STEP", help="SINR grid (default -8:16:1)")
    grid.add_argument(
        "--info-bits",
        default=None,
        metavar="K,K,...",
        help="information bits per block (default 16,32,48,64,96,128,160,192,256,320,384,448,496)",
    )
    grid.add_argument("--blocklength", type=positive_int, default=256, help="L (default 256)")
    grid.add_argument("--list-size", type=positive_int, default=8)
    run = p.add_argument_group("statistics")
    run.add_argument("--block-errors", type=positive_int, default=50, help="stop a point after this many block errors")
    run.add_argument("--max-blocks", type=positive_int, default=1000, help="at most this many blocks per point")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--quick", action="store_true", help="a coarse grid with few blocks (a minute)")
    out = p.add_argument_group("output")
    out.add_argument("--out", default=None, metavar="FILE.yml", help="table (default: print JSON)")
    out.add_argument("--plot", default=None, metavar="FIG.png", help="BER measured vs the normal approximation")
    p.set_defaults(handler=cmd_calibrate)

    b = _bench_parser(subparsers).add_parser(
        "link",
        help="throughput of the whole streaming link",
        description="Run the closed-loop link (shipped codec and profile) and report samples per second end to end.",
    )
    add_scenario_argument(b, required=False)
    b.add_argument("--frames", type=positive_int, default=8)
    b.add_argument("--size", type=int, default=0, help="crop images to SIZE x SIZE (default: as they are)")
    b.set_defaults(handler=cmd_bench_link)


def _bench_parser(subparsers):
    """The ``bench`` sub-parser registered by the optimiser commands (one ``bench`` with several targets)."""
    bench = subparsers.choices["bench"]
    for action in bench._actions:
        if getattr(action, "dest", None) == "bench_target":
            return action
    raise RuntimeError("the 'bench' command must be registered first")


def _grid(text):
    from ..errors import IsscInputError

    try:
        start, stop, step = (float(v) for v in text.split(":"))
    except ValueError:
        raise IsscInputError(f"--sinr-db must be START:STOP:STEP, got {text!r}") from None
    if not (step > 0 and stop >= start and (stop - start) / step <= 400):
        raise IsscInputError(f"--sinr-db {text!r}: need STEP > 0, STOP >= START and at most 400 points")
    return [float(v) for v in np.arange(start, stop + step / 2, step)]


def cmd_calibrate(args):
    import sys

    from ..errors import IsscInputError
    from ..link.calibration import DEFAULT_INFO_BITS, calibrate, save_calibration
    from ..link.framing import FrameFormat

    sinr = _grid(args.sinr_db)
    try:
        info_bits = [int(k) for k in args.info_bits.split(",")] if args.info_bits else list(DEFAULT_INFO_BITS)
    except ValueError:
        raise IsscInputError(f"--info-bits must be comma-separated integers, got {args.info_bits!r}") from None
    fmt = FrameFormat(blocklength=args.blocklength, list_size=args.list_size)
    if args.quick:
        sinr, info_bits = sinr[::3], info_bits[::3]
        args.block_errors, args.max_blocks = min(args.block_errors, 20), min(args.max_blocks, 100)

    def progress(k, s, result):
        sys.stderr.write(f"\rK={k:4d} SINR={s:6.1f} dB: {result.block_errors}/{result.blocks} block errors   ")

    table = calibrate(fmt, info_bits, sinr, args.seed, args.block_errors, args.max_blocks, progress)
    sys.stderr.write("\n")
    command = " ".join(["issc calibrate-code"] + sys.argv[2:]) if len(sys.argv) > 1 else "issc calibrate-code"
    if args.out:
        save_calibration(table, args.out, made_by=command)
    else:
        print_json(table)
    if args.plot:
        plot_calibration(table, args.plot)
    return 0


def plot_calibration(table: dict, path) -> None:
    """Measured BER (points) and the normal approximation (lines) per code rate, against SINR."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..physics.ber import log10_ber

    sinr = np.asarray(table["sinr_db"], float)
    fine = np.linspace(sinr[0], sinr[-1], 200)
    fig, ax = plt.subplots(figsize=(8, 5.5))
    colours = plt.cm.viridis(np.linspace(0, 1, len(table["info_bits"])))
    for row, (k, colour) in enumerate(zip(table["info_bits"], colours)):
        rate = k / table["blocklength"]
        bits = np.asarray(table["blocks"][row], float) * k
        errors = np.asarray(table["bit_errors"][row], float)
        seen = errors > 0
        ax.semilogy(sinr[seen], errors[seen] / bits[seen], "o", color=colour, ms=4)
        ax.semilogy(
            fine,
            10 ** log10_ber(10 ** (fine / 10), rate, table["blocklength"]),
            "-",
            color=colour,
            lw=1,
            label=f"R_c = {rate:.3f}",
        )
    ax.set_ylim(1e-7, 1)
    ax.set_xlabel("SINR (dB)")
    ax.set_ylabel("payload BER")
    ax.set_title(
        f"polar (N = {2 * table['blocklength']}, SCL-{table['list_size']}), QPSK: measured (points) "
        "vs normal approximation (lines)",
        fontsize=9,
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def cmd_bench_link(args):
    from ..flowgraphs.link import IsscLink

    link = IsscLink(args.scenario or "tradeoff", args.frames, size=args.size)
    started = time.perf_counter()
    summary = link.run_frames()
    elapsed = time.perf_counter() - started
    samples = summary["samples"]
    print_json(
        {
            "benchmark": "streaming link throughput",
            "scenario": link.scenario.name,
            "frames": args.frames,
            "frames_received": summary.get("frames_received"),
            "samples": samples,
            "seconds": elapsed,
            "samples_per_second": samples / elapsed if elapsed > 0 else None,
            "note": "whole closed loop: semantic coding, polar coding/decoding, beamforming, both channels, "
            "optimiser decisions, monitor",
        }
    )
    return 0
