# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""``issc replay``: the receivers on a SigMF recording of a link run (docs/hardware.md "SigMF recordings")."""

from __future__ import annotations

import signal

from ..errors import IsscInputError
from .common import non_negative_float, positive_float, positive_int, print_json


def register(subparsers):
    p = subparsers.add_parser(
        "replay",
        help="run the receivers on a SigMF recording of the link",
        description="Replay a SigMF recording (issc_link.py --sigmf, issc_channel.py --sigmf, or the "
        "sigmf_recorder block). The communication receiver's input (role comm_rx) is decoded with no tags "
        "(configuration from the air): --out gets frames.jsonl and summary.json like the link monitor's. An "
        "echo recording (role echo) is given to the sensing estimator with the run's other echo recordings and "
        "its transmitted streams (role tx, the reference), found in the same folder by issc:run_id: --out gets "
        "sensing.jsonl and summary.json. The summary is printed as JSON.",
    )
    p.add_argument("recording", metavar="RECORDING.sigmf-meta", help="the recording (its .sigmf-meta or .sigmf-data)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument(
        "--scenario", "-s", default=None, metavar="S", help="scenario (default: the one stored in the recording)"
    )
    rx = p.add_argument_group("communication receiver (role comm_rx)")
    rx.add_argument("--scheme", choices=("ascc", "djscc"), default=None, help="default: the recording's")
    rx.add_argument("--codec-dir", default="", help="codec family directory (default: shipped)")
    rx.add_argument("--djscc-dir", default="", help="DJSCC model directory (default: shipped)")
    rx.add_argument(
        "--images",
        default=None,
        metavar="DIR|shipped",
        help="the transmitter's images, for PSNR and MS-SSIM (default: none)",
    )
    rx.add_argument("--size", type=int, default=0, help="the transmitter's crop size (default: none)")
    sense = p.add_argument_group("sensing estimator (role echo)")
    sense.add_argument("--sensing-every", type=positive_int, default=1, metavar="K", help="estimate one block in K")
    sense.add_argument(
        "--search-halfwidth", type=positive_float, default=None, metavar="M", help="default: the scenario's"
    )
    p.add_argument(
        "--best-effort",
        action="store_true",
        help="replay the samples a truncated data file has (default: a truncated recording is an error)",
    )
    p.add_argument("--timeout", type=non_negative_float, default=0.0, help="give up after S seconds (0: never)")
    p.set_defaults(handler=cmd_replay)


def cmd_replay(args):
    from ..files import check_output_dir
    from ..flowgraphs.recordings import replay

    out = check_output_dir(args.out)
    images = None if args.images is None else ("" if args.images == "shipped" else args.images)
    try:
        tb = replay(
            args.recording,
            str(out),
            scenario=args.scenario,
            scheme=args.scheme,
            codec_dir=args.codec_dir,
            djscc_dir=args.djscc_dir,
            images=images,
            size=args.size,
            every=args.sensing_every,
            search_halfwidth_m=args.search_halfwidth,
            strict=not args.best_effort,
        )
    except ValueError as exc:  # a block's constructor (models, images) names what is wrong
        if isinstance(exc, IsscInputError):
            raise
        raise IsscInputError(str(exc)) from None
    previous = signal.signal(signal.SIGINT, lambda *_: tb.interrupt())
    try:
        summary = tb.run_replay(args.timeout or None)
    finally:
        signal.signal(signal.SIGINT, previous)
    print_json(summary)
    return 0 if summary.get("complete") else 1
