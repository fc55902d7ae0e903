# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""``issc bench soak``: the closed loop for many frames, for memory leaks and rare failures.

Runs :class:`~gnuradio.issc.flowgraphs.link.IsscLink` (tiny images, a power at which every frame should
decode) and reports what went out, what arrived and the process's resident memory after a warm-up and
at the end: a link that keeps something per frame shows up as growth (docs/link.md "Long runs").
"""

from __future__ import annotations

import sys
import time

from .common import MAX_SEED, POWER_DBM_RANGE, float_in, int_in, message, positive_float, positive_int, print_json

DEFAULT_POWER_DBM = 40.0  # tradeoff: ~20 dB SINR at the receiver, far above the chosen rate's waterfall
RSS_SAMPLES = 20  # RSS readings spread over the run (the JSON's rss_series)


def register(subparsers):
    from .link import _bench_parser

    b = _bench_parser(subparsers).add_parser(
        "soak",
        help="many frames through the closed loop: losses, bit errors and memory growth",
        description="Run the closed-loop link (shipped codec and profile) for N frames of tiny images at a "
        "fixed power where every frame should decode; report frames sent and received, failed headers, "
        "payload bit errors, the resident memory after the warm-up and at the end, and the time taken. "
        "Exit code 1 if the run ended short (timeout or stall).",
    )
    b.add_argument("--frames", type=positive_int, default=1000, help="frames to send (default 1000)")
    b.add_argument("--size", type=positive_int, default=32, help="crop images to SIZE x SIZE (default 32)")
    b.add_argument("--scenario", default="tradeoff", metavar="S", help="shipped scenario or YAML (default tradeoff)")
    b.add_argument(
        "--power-dbm",
        type=float_in(*POWER_DBM_RANGE, "dBm"),
        default=DEFAULT_POWER_DBM,
        help=f"transmit power budget for every frame (default {DEFAULT_POWER_DBM:g})",
    )
    b.add_argument(
        "--sensing-every",
        type=int,
        default=4,
        metavar="K",
        help="run the sensing estimator on one sensing block in K (0: none; default 4)",
    )
    b.add_argument(
        "--warmup",
        type=positive_int,
        default=None,
        metavar="F",
        help="read the start RSS after F frames (default: 10 %% of the frames, at least 20, at most all)",
    )
    b.add_argument("--seed", type=int_in(0, MAX_SEED), default=0, help="seed of the noises and sync errors")
    b.add_argument("--timeout", type=positive_float, default=None, metavar="S", help="give up after S seconds")
    b.add_argument(
        "--stall-timeout",
        type=positive_float,
        default=300.0,
        metavar="S",
        help="give up when nothing moved for S seconds (default 300)",
    )
    b.add_argument(
        "--tracemalloc",
        type=positive_int,
        default=None,
        metavar="N",
        help="trace Python allocations (slow): the N source lines whose memory grew most after the warm-up",
    )
    b.add_argument("--json", action="store_true", help="print the result as JSON (else one line)")
    b.set_defaults(handler=cmd_bench_soak)


def rss_mb() -> float | None:
    """This process's resident set size in MiB (``VmRSS`` of /proc/self/status; None where there is none)."""
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return None


class _MemoryProbe:
    """Called on every poll of the run: RSS after the warm-up, a reading every ``frames / RSS_SAMPLES``
    frames and, optionally, a tracemalloc snapshot at the warm-up."""

    def __init__(self, frames: int, warmup: int, trace: bool):
        self.warmup = warmup
        self.step = max(1, frames // RSS_SAMPLES)
        self.next_sample = 0
        self.start = None
        self.series = []
        self.trace = trace
        self.snapshot = None

    def __call__(self, link):
        sent = link.frame_encoder.frames_sent
        if self.start is None and sent >= self.warmup:
            self.start = rss_mb()
            if self.trace:
                import tracemalloc

                self.snapshot = tracemalloc.take_snapshot()
        if sent >= self.next_sample:
            self.series.append([sent, rss_mb()])
            self.next_sample = (sent // self.step + 1) * self.step


def cmd_bench_soak(args):
    from ..errors import IsscInputError

    if not 16 <= args.size <= 4096:
        raise IsscInputError(f"--size must be in [16, 4096], got {args.size}")
    if args.sensing_every < 0:
        raise IsscInputError(f"--sensing-every must be >= 0, got {args.sensing_every}")
    warmup = args.warmup if args.warmup is not None else max(20, args.frames // 10)
    warmup = min(warmup, args.frames)
    if args.tracemalloc:
        import tracemalloc

        tracemalloc.start(8)
    from ..flowgraphs.link import IsscLink

    link = IsscLink(
        args.scenario,
        args.frames,
        size=args.size,
        seed=args.seed,
        schedule=[(0, args.power_dbm, None)],
        sensing_every=args.sensing_every,
        keep_rows=0,  # the summary keeps running totals: nothing per frame stays in memory
    )
    probe = _MemoryProbe(args.frames, warmup, bool(args.tracemalloc))
    if not args.json:
        message(f"soak: {args.frames} frames of {args.size} x {args.size} at {args.power_dbm:g} dBm ...")
    started = time.perf_counter()
    summary = link.run_frames(args.timeout, args.stall_timeout, on_poll=probe)
    seconds = time.perf_counter() - started
    end = rss_mb()
    start = probe.start if probe.start is not None else end  # the run ended before the warm-up
    result = {
        "benchmark": "closed-loop soak",
        "scenario": link.scenario.name,
        "size": args.size,
        "power_dbm": args.power_dbm,
        "sensing_every": args.sensing_every,
        "frames_requested": args.frames,
        "frames_sent": summary["frames_sent"],
        "frames_received": summary["frames_received"],
        "headers_failed": summary["headers_failed"],
        "bit_errors": summary["total_bit_errors"],
        "mean_psnr": summary["mean_psnr"],
        "models": summary["models"],
        "warmup_frames": warmup,
        "rss_mb_start": start,
        "rss_mb_end": end,
        "rss_mb_growth": None if start is None or end is None else end - start,
        "rss_series": probe.series,
        "seconds": seconds,
        "frames_per_second": summary["frames_sent"] / seconds if seconds > 0 else None,
        "end_reason": summary["end_reason"],
        "complete": summary["complete"],
    }
    if args.tracemalloc:
        result["tracemalloc_top"] = _growth(probe.snapshot, args.tracemalloc)
    if args.json:
        print_json(result)
    else:
        growth = result["rss_mb_growth"]
        print(
            f"{result['frames_received']}/{result['frames_sent']} frames received, {result['headers_failed']} "
            f"headers failed, {result['bit_errors']} bit errors; RSS {_mb(start)} after {warmup} frames, "
            f"{_mb(end)} at the end ({'n/a' if growth is None else f'{growth:+.1f} MiB'}); {seconds:.1f} s "
            f"({result['end_reason']})"
        )
    if not summary["complete"]:
        sys.stderr.write(f"issc bench: the soak ended short: {summary['end_reason']}\n")
        return 1
    return 0


def _mb(value) -> str:
    return "n/a" if value is None else f"{value:.1f} MiB"


def _growth(before, top: int) -> list[dict]:
    """The ``top`` source lines whose traced memory grew most since ``before`` (None: since the start)."""
    import tracemalloc

    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    if before is None:
        stats = after.statistics("lineno")
        return [{"where": str(s.traceback), "size_kib": s.size / 1024, "count": s.count} for s in stats[:top]]
    stats = after.compare_to(before, "lineno")
    return [
        {"where": str(s.traceback), "growth_kib": s.size_diff / 1024, "count_growth": s.count_diff} for s in stats[:top]
    ]
