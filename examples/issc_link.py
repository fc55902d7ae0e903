#!/usr/bin/env python3
# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ISSC link, headless: images over the simulated multi-antenna channel while sensing a target,
with the optimiser choosing the codec model, the code rate and the beams between frames.

    python examples/issc_link.py --scenario tradeoff --frames 12 --out results

Writes to --out: frames.jsonl (one row per frame), summary.json, frames/frame_NNNN.png (original |
received) and summary.png; prints the per-frame table. Ctrl-C stops cleanly (the frames so far are
reported).
"""

import argparse
import json
import signal
import sys
from pathlib import Path

from gnuradio.issc.cli.common import positive_int

DEFAULT_SCHEDULE = "0:22,3:24,6:28,9:34"


def schedule_arg(text):
    """'FRAME:POWER_DBM[:PI],...' -> [(frame, power, pi or None), ...]"""
    steps = []
    for item in filter(None, text.split(",")):
        parts = item.split(":")
        try:
            if len(parts) not in (2, 3):
                raise ValueError
            frame, power = int(parts[0]), float(parts[1])
            pi = float(parts[2]) if len(parts) == 3 else None
        except ValueError:
            raise argparse.ArgumentTypeError(f"schedule step '{item}' must be FRAME:POWER_DBM[:PI_M2]") from None
        steps.append((frame, power, pi))
    return steps


def abr_arg(text):
    from gnuradio.issc.cli.optim import abr_value

    return abr_value(text)


def format_db(value):
    """'23.17 dB', or 'n/a' when there is no value (no frame received)."""
    return "n/a" if value is None else f"{value:.2f} dB"


def build_parser():
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    link = p.add_argument_group("link")
    link.add_argument("--scenario", default="tradeoff", help="shipped scenario name or YAML file (default tradeoff)")
    link.add_argument("--frames", type=positive_int, default=12, help="images to send (default 12)")
    link.add_argument("--images", default="", metavar="DIR", help="image folder (default: shipped test images)")
    link.add_argument("--size", type=int, default=0, help="crop images to SIZE x SIZE (default: as they are)")
    link.add_argument("--seed", type=int, default=0)
    link.add_argument(
        "--sensing-every",
        type=positive_int,
        default=None,
        metavar="K",
        help="estimate one sensing block in K (default 4; 2 when the scenario tracks a target)",
    )
    ctl = p.add_argument_group("control")
    ctl.add_argument(
        "--scheme",
        choices=("ascc", "djscc"),
        default="ascc",
        help="ascc (hyperprior codec + polar code, default) or djscc (the deep JSCC benchmark's "
        "analog frames; with --solver zf-wf it is DJSCC-WF-ZF)",
    )
    ctl.add_argument("--solver", choices=("sdr", "paper", "zf-wf"), default="sdr")
    ctl.add_argument("--abr", type=abr_arg, default=None, help="bandwidth ratio, e.g. 1/32 (default: the scenario's)")
    ctl.add_argument("--metric", choices=("mse", "ms_ssim"), default="mse")
    ctl.add_argument(
        "--ber-model",
        choices=("calibrated", "normal"),
        default="calibrated",
        help="code BER the optimiser assumes: the measured polar-code table (default) or the normal approximation",
    )
    ctl.add_argument(
        "--schedule",
        type=schedule_arg,
        default=schedule_arg(DEFAULT_SCHEDULE),
        help=f"power/threshold schedule FRAME:POWER_DBM[:PI_M2],... (default {DEFAULT_SCHEDULE}; '' for none)",
    )
    ctl.add_argument("--profile", default="", help="codec profile (default: shipped)")
    ctl.add_argument("--codec-dir", default="", help="codec family directory (default: shipped)")
    out = p.add_argument_group("output")
    out.add_argument("--out", default="results", metavar="DIR", help="output directory (default results)")
    out.add_argument("--timeout", type=float, default=1800.0, help="give up after this many seconds")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    from gnuradio.issc.errors import IsscInputError
    from gnuradio.issc.flowgraphs.link import IsscLink
    from gnuradio.issc.link.pdus import pdu_to_image
    from gnuradio.issc.link.report import format_table, plot_summary, save_side_by_side

    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        from gnuradio.issc.scenario import load_scenario

        every = args.sensing_every or (2 if load_scenario(args.scenario).tracking.enabled else 4)
        link = IsscLink(
            args.scenario,
            args.frames,
            args.images,
            str(out),
            args.seed,
            args.solver,
            args.metric,
            args.schedule,
            args.profile,
            args.codec_dir,
            args.size,
            sensing_every=every,
            ber_model=args.ber_model,
            scheme=args.scheme,
            abr=args.abr,
        )
    except (IsscInputError, ValueError, OSError) as exc:
        sys.stderr.write(f"issc_link.py: error: {exc}\n")
        return 2
    signal.signal(signal.SIGINT, lambda *_: link.interrupt())
    summary = link.run_frames(args.timeout)

    rows = link.monitor.ledger.rows
    print(format_table(rows))
    pairs = {}
    for i in range(link.sent_images.num_messages()):
        meta, image = pdu_to_image(link.sent_images.get_message(i))
        pairs[meta["seq"]] = (image, None)
    for i in range(link.received_images.num_messages()):
        meta, image = pdu_to_image(link.received_images.get_message(i))
        if meta["seq"] in pairs:
            pairs[meta["seq"]] = (pairs[meta["seq"]][0], image)
    save_side_by_side({s: p for s, p in pairs.items() if s < args.frames}, out / "frames")
    plot_summary(rows, out / "summary.png")
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    print(
        f"\n{summary['frames_received']}/{summary['frames']} frames received, {summary['headers_failed']} headers "
        f"failed, mean PSNR {format_db(summary['mean_psnr'])}, models {', '.join(summary['models'])}; "
        f"{summary['samples']} samples in {summary['elapsed_s']:.1f} s. Results in {out}/"
    )
    if link.tracking and summary.get("mean_tracking_error_m") is not None:
        print(
            f"tracking: mean error {summary['mean_tracking_error_m']:.2f} m between the designed and the true "
            f"target position (max {summary['max_tracking_error_m']:.2f} m), mean estimate error "
            f"{summary['mean_sensing_error_m']:.2f} m, {summary['frames_track_lost']} frames with the track lost"
        )
    return 130 if summary["interrupted"] else 0


if __name__ == "__main__":
    sys.exit(main())
