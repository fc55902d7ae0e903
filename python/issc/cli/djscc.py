# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Subcommands of the DJSCC benchmark: ``train-djscc`` and ``djscc info|eval``."""

from __future__ import annotations

import argparse
from fractions import Fraction

from .common import finite_float, positive_float, positive_int, print_json


def abr_list(text: str) -> list[float]:
    try:
        values = [float(Fraction(v.strip())) for v in text.split(",") if v.strip()]
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"expected comma-separated ratios like 1/48,1/32, got {text!r}") from None
    if not values or any(not 0 < v <= 1 for v in values):
        raise argparse.ArgumentTypeError(f"ABRs must be in (0, 1], got {text!r}")
    return values


def number_list(text: str) -> list[float]:
    try:
        values = [finite_float(v) for v in text.split(",") if v.strip()]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def register(subparsers):
    p = subparsers.add_parser(
        "train-djscc",
        help="train the DJSCC benchmark models on a folder of images",
        description="Per ABR: a base model at the middle SNR, then one fine-tuned model per "
        "SNR. Checkpoints (a rerun resumes); writes <id>.pt (fp16) and "
        "manifest.yml.",
    )
    data = p.add_argument_group("data")
    data.add_argument("--images", required=True, metavar="DIR", help="folder of images (recursive png/jpg)")
    data.add_argument("--out", required=True, metavar="DIR", help="output directory")
    model = p.add_argument_group("model")
    model.add_argument("--abrs", type=abr_list, default=None, help="bandwidth ratios (default 1/48,1/32,1/16)")
    model.add_argument("--snrs", type=number_list, default=None, help="training SNRs in dB (default 0,10,20)")
    model.add_argument(
        "--loss",
        choices=("ae", "vae", "vscc"),
        default="ae",
        help="ae: MSE (eq. 12); vae: eq. 11; vscc: eq. 10 with the channel matching constant",
    )
    model.add_argument("--cmc", type=positive_float, default=1.0, help="VSCC channel matching constant d")
    model.add_argument("--filters", type=positive_int, default=64)
    opt = p.add_argument_group("training")
    opt.add_argument("--patch", type=positive_int, default=64, help="crop size (default 64)")
    opt.add_argument("--batch", type=positive_int, default=16)
    opt.add_argument("--base-steps", type=positive_int, default=3000)
    opt.add_argument("--steps", type=positive_int, default=800, help="fine-tuning steps per SNR (default 800)")
    p.set_defaults(handler=cmd_train)

    p = subparsers.add_parser("djscc", help="use the shipped DJSCC models", description="The DJSCC benchmark models.")
    sub = p.add_subparsers(dest="djscc_command", metavar="ACTION", parser_class=type(p))
    sub.required = True
    info = sub.add_parser("info", help="the shipped models")
    info.add_argument("--dir", default="", help="model directory (default: shipped)")
    info.set_defaults(handler=cmd_info)
    ev = sub.add_parser("eval", help="PSNR / MS-SSIM over AWGN on the held-out images")
    ev.add_argument("--dir", default="", help="model directory (default: shipped)")
    ev.add_argument("--snrs", type=number_list, default=None, help="test SNRs in dB (default: each model's own)")
    ev.add_argument("--images", default="", metavar="DIR", help="images (default: the shipped held-out set)")
    ev.add_argument("--seed", type=int, default=0)
    ev.set_defaults(handler=cmd_eval)


def cmd_train(args):
    from ..djscc.train import DEFAULT_ABRS, DEFAULT_SNRS_DB, train_djscc

    manifest = train_djscc(
        args.images,
        args.out,
        args.abrs or DEFAULT_ABRS,
        args.snrs or DEFAULT_SNRS_DB,
        args.loss,
        args.patch,
        args.steps,
        args.base_steps,
        args.batch,
        filters=args.filters,
        cmc=args.cmc,
    )
    print_json({"out": args.out, "models": [m["id"] for m in manifest["models"]]})
    return 0


def _directory(args):
    from ..djscc.models import DATA_DIR

    return args.dir or DATA_DIR


def cmd_info(args):
    from ..djscc.models import abr_label, load_manifest

    print_json(
        {
            "dir": str(_directory(args)),
            "models": [
                {"id": m.id, "abr": abr_label(m.abr), "snr_db": m.snr_db, "loss": m.loss, "channels": m.channels}
                for m in load_manifest(_directory(args))
            ],
        }
    )
    return 0


def cmd_eval(args):
    from ..codec.images import list_images, load_rgb, shipped_images
    from ..djscc.codec import DjsccCodec, evaluate_awgn
    from ..djscc.models import abr_label, load_manifest

    paths = list_images(args.images) if args.images else shipped_images()
    images = [load_rgb(p) for p in paths]
    rows = []
    for info in load_manifest(_directory(args)):
        codec = DjsccCodec(info, _directory(args))
        for row in evaluate_awgn(codec, images, args.snrs or [info.snr_db], args.seed):
            rows.append({"id": info.id, "abr": abr_label(info.abr), "train_snr_db": info.snr_db, **row})
    print_json({"images": [str(p) for p in paths], "models": rows})
    return 0
