# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Subcommands of the streaming link: ``calibrate-code`` and ``bench link``."""

from __future__ import annotations

import time

import numpy as np

from .common import (
    add_parallel_arguments,
    add_scenario_argument,
    fail,
    guarded,
    int_in,
    message,
    output_file,
    parallel_options,
    plot_file,
    positive_int,
    print_json,
    seed_int,
)

MAX_BENCH_FRAMES = 100_000


def blocklength_value(text: str) -> int:
    """``--blocklength`` of calibrate-code: a power of two the polar code supports, up to 4096."""
    import argparse

    from ..link.calibration import MAX_BLOCKLENGTH

    value = int_in(8, MAX_BLOCKLENGTH)(text)
    if value & (value - 1):
        raise argparse.ArgumentTypeError(f"must be a power of two in [8, {MAX_BLOCKLENGTH}], got {text!r}")
    return value


def size_value(text: str) -> int:
    """``--size`` of bench link: 0 (images as they are) or a crop side in [16, 4096]."""
    import argparse

    value = int_in(0, 4096)(text)
    if 0 < value < 16:
        raise argparse.ArgumentTypeError(f"must be 0 or in [16, 4096], got {text!r}")
    return value


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
    grid.add_argument(
        "--blocklength", type=blocklength_value, default=256, help="L, a power of two in [8, 4096] (default 256)"
    )
    grid.add_argument("--list-size", type=int_in(1, 64), default=8, help="SCL list size, 1..64 (default 8)")
    run = p.add_argument_group("statistics")
    run.add_argument("--block-errors", type=positive_int, default=50, help="stop a point after this many block errors")
    run.add_argument(
        "--max-blocks", type=int_in(1, 10**7), default=1000, help="at most this many blocks per point (<= 1e7)"
    )
    run.add_argument("--seed", type=seed_int, default=0)
    run.add_argument("--quick", action="store_true", help="a coarse grid with few blocks (a minute)")
    add_parallel_arguments(p)
    out = p.add_argument_group("output")
    out.add_argument(
        "--out",
        default=None,
        metavar="FILE.yml",
        help="table (default: print JSON); finished rates go to FILE.yml.points.jsonl, which a rerun resumes",
    )
    out.add_argument("--plot", default=None, metavar="FIG.png", help="BER measured vs the normal approximation")
    p.set_defaults(handler=guarded(cmd_calibrate))

    b = _bench_parser(subparsers).add_parser(
        "link",
        help="throughput of the whole streaming link",
        description="Run the closed-loop link (shipped codec and profile) and report samples per second end to end.",
    )
    add_scenario_argument(b, required=False)
    b.add_argument("--frames", type=int_in(1, MAX_BENCH_FRAMES), default=8)
    b.add_argument(
        "--size", type=size_value, default=0, help="crop images to SIZE x SIZE, 16..4096 (default 0: as they are)"
    )
    b.add_argument(
        "--sensing-every",
        type=int_in(0, MAX_BENCH_FRAMES),
        default=4,
        metavar="K",
        help="run the sensing estimator on one sensing block in K (0: no estimator; default 4)",
    )
    b.add_argument(
        "--profile",
        action="store_true",
        help="report each block's share of the busy time (JSON 'profile', and a table on stderr)",
    )
    b.set_defaults(handler=guarded(cmd_bench_link))


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
    if not all(np.isfinite([start, stop, step])) or max(abs(start), abs(stop)) > 1000:
        raise IsscInputError(f"--sinr-db {text!r}: values must be finite and within [-1000, 1000] dB")
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
        shown = args.info_bits if len(args.info_bits) <= 60 else args.info_bits[:57] + "..."
        raise IsscInputError(f"--info-bits must be comma-separated integers, got {shown!r}") from None
    fmt = FrameFormat(blocklength=args.blocklength, list_size=args.list_size)
    if any(not 1 <= k <= fmt.max_info_bits for k in info_bits):
        fail(f"--info-bits: each must be in [1, {fmt.max_info_bits}] for --blocklength {fmt.blocklength}")
    if args.out:  # before the simulation: the table, its journal beside it, and the plot must be writable
        output_file(args.out, "--out")
        output_file(f"{args.out}.points.jsonl", "--out (its journal FILE.yml.points.jsonl)")
    if args.plot:
        plot_file(args.plot, "--plot")
    if args.quick:
        sinr, info_bits = sinr[::3], info_bits[::3]
        args.block_errors, args.max_blocks = min(args.block_errors, 20), min(args.max_blocks, 100)

    def progress(k, row):
        message(f"K={k:4d}: {sum(row['block_errors'])}/{sum(row['blocks'])} block errors over the SINRs")

    journal = f"{args.out}.points.jsonl" if args.out else None
    table = calibrate(
        fmt,
        info_bits,
        sinr,
        args.seed,
        args.block_errors,
        args.max_blocks,
        progress,
        journal=journal,
        **parallel_options(args),
    )
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

    from ..codec.fit import save_figure
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
    save_figure(fig, path)
    plt.close(fig)


PERF_COUNTERS_ENV = "GR_CONF_PERFCOUNTERS_ON"  # GNU Radio's [PerfCounters] on, for this process


def cmd_bench_link(args):
    import os
    import sys

    from ..flowgraphs.link import IsscLink

    link = IsscLink(args.scenario or "tradeoff", args.frames, size=args.size, sensing_every=args.sensing_every)
    previous = os.environ.get(PERF_COUNTERS_ENV)
    if args.profile:
        # GNU Radio reads this preference when the flowgraph starts: it turns on the blocks' work-time counters
        os.environ[PERF_COUNTERS_ENV] = "True"
    try:
        started = time.perf_counter()
        summary = link.run_frames()
        elapsed = time.perf_counter() - started
    finally:
        if args.profile:
            if previous is None:
                os.environ.pop(PERF_COUNTERS_ENV, None)
            else:
                os.environ[PERF_COUNTERS_ENV] = previous
    samples = summary["samples"]
    result = {
        "benchmark": "streaming link throughput",
        "scenario": link.scenario.name,
        "frames": args.frames,
        "frames_received": summary.get("frames_received"),
        "sensing_every": args.sensing_every,
        "samples": samples,
        "seconds": elapsed,
        "samples_per_second": samples / elapsed if elapsed > 0 else None,
        "images_per_second": args.frames / elapsed if elapsed > 0 else None,
        "note": "whole closed loop: semantic coding, polar coding/decoding, beamforming, both channels, "
        "optimiser decisions, monitor",
    }
    if args.profile:
        rows = block_profile(link)
        result["profile"] = rows
        result["profile_note"] = (
            "busy_s: a block's time in work() (GNU Radio performance counters) plus in its message handlers; "
            "share: of the sum over blocks (blocks run in parallel threads, so the sum can exceed 'seconds')"
        )
        sys.stderr.write(profile_table(rows, elapsed))
    print_json(result)
    return 0


def _blocks(root, prefix=""):
    """``(dotted name, block)`` for every block under ``root`` (a top or hier block), found through the
    attributes that hold them, hier blocks descended into, each block once."""
    from gnuradio import gr

    seen = set()

    def walk(obj, path):
        for name, value in sorted(vars(obj).items()):
            if name.startswith("_") or id(value) in seen:
                continue
            if isinstance(value, (list, tuple)):
                items = [(f"{path}{name}[{k}]", v) for k, v in enumerate(value)]
            else:
                items = [(f"{path}{name}", value)]
            for label, item in items:
                if id(item) in seen:
                    continue
                if isinstance(item, gr.hier_block2):
                    seen.add(id(item))
                    yield from walk(item, label + ".")
                elif hasattr(item, "pc_work_time_total") and not isinstance(item, gr.top_block):
                    seen.add(id(item))
                    yield label, item

    yield from walk(root, prefix)


def block_profile(top) -> list[dict]:
    """Each block's busy time in the run just finished, largest first: ``work`` time from GNU Radio's
    performance counters (on when ``GR_CONF_PERFCOUNTERS_ON=True`` was set before the run) plus the time in
    its message handlers (``message_busy_s``, kept by ``blocks._util.register_message_handlers``: the
    performance counters do not see message handlers); a block with a worker thread of its own
    (``background_busy_s``: the monitor) gets a second row, ``<name> (worker)``, and one with a child
    process (``process_busy_s``, the child's CPU time on its requests: the estimator, the frame decoder)
    a row ``<name> (process)``."""
    from gnuradio import gr

    ticks = float(gr.high_res_timer_tps())
    rows = []
    for name, block in _blocks(top):
        streams = block.input_signature().max_streams() != 0 or block.output_signature().max_streams() != 0
        # a message-only block never runs work(): its counter is left uninitialised (any value)
        work_s = max(0.0, float(block.pc_work_time_total()) / ticks) if streams else 0.0
        message_s = float(getattr(block, "message_busy_s", 0.0))
        rows.append({"block": name, "work_s": work_s, "message_s": message_s, "busy_s": work_s + message_s})
        background_s = float(getattr(block, "background_busy_s", 0.0))
        if background_s:  # a block's own worker thread (the monitor's rows)
            rows.append({"block": f"{name} (worker)", "work_s": 0.0, "message_s": 0.0, "busy_s": background_s})
        process_s = float(getattr(block, "process_busy_s", 0.0))
        if process_s:  # CPU time in a block's child process (the estimator's, the polar decoder's)
            rows.append({"block": f"{name} (process)", "work_s": 0.0, "message_s": 0.0, "busy_s": process_s})
    total = sum(r["busy_s"] for r in rows)
    for r in rows:
        r["share"] = r["busy_s"] / total if total > 0 else 0.0
    rows.sort(key=lambda r: -r["busy_s"])
    return rows


def profile_table(rows: list[dict], elapsed_s: float) -> str:
    """The profile as a readable table (blocks above 0.1 % of the busy time)."""
    lines = [f"{'block':40s} {'busy s':>8s} {'work s':>8s} {'msg s':>8s} {'share':>7s}"]
    for r in rows:
        if r["share"] >= 1e-3:
            lines.append(
                f"{r['block']:40s} {r['busy_s']:8.3f} {r['work_s']:8.3f} {r['message_s']:8.3f} {100 * r['share']:6.1f}%"
            )
    lines.append(f"(wall time {elapsed_s:.3f} s; busy times overlap across threads)")
    return "\n".join(lines) + "\n"
