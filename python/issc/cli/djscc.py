# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Subcommands of the DJSCC benchmark: ``train-djscc`` and ``djscc info|eval``."""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

from .common import (
    fail,
    float_in,
    guarded,
    input_dir,
    int_in,
    output_dir,
    print_json,
    reading,
    seed_int,
    unique,
)

MAX_LIST = 64
SNR_RANGE_DB = (-100.0, 100.0)
"""SNRs of training and evaluation (djscc.train.MIN_SNR_DB, MAX_SNR_DB): noise 1e10 to 1e-10 of the signal."""


def _shown(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


def abr_list(text: str) -> list[float]:
    try:
        values = [float(Fraction(v.strip())) for v in text.split(",") if v.strip()]
    except (ValueError, ZeroDivisionError, OverflowError):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated ratios like 1/48,1/32, got {_shown(text)}"
        ) from None
    if not values or any(not 0 < v <= 1 for v in values):
        raise argparse.ArgumentTypeError(f"ABRs must be in (0, 1], got {_shown(text)}")
    if len(values) > MAX_LIST:
        raise argparse.ArgumentTypeError(f"at most {MAX_LIST} ABRs, got {len(values)}")
    return values


def unique_abr_list(text: str) -> list[float]:
    return unique(abr_list(text), "ABR")


def number_list(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {_shown(text)}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    if len(values) > MAX_LIST:
        raise argparse.ArgumentTypeError(f"at most {MAX_LIST} values, got {len(values)}")
    return values


def snr_list(text: str) -> list[float]:
    """SNRs in dB within :data:`SNR_RANGE_DB`, none twice."""
    values = number_list(text)
    lo, hi = SNR_RANGE_DB
    if any(not lo <= v <= hi for v in values):  # also NaN and inf
        raise argparse.ArgumentTypeError(f"SNRs must be in [{lo:g}, {hi:g}] dB, got {_shown(text)}")
    return unique(values, "SNR")


def cmc_value(text: str) -> float:
    value = float_in(0.0, 1e6)(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1e6], got {text!r}")
    return value


def djscc_patch(text: str) -> int:
    """``--patch`` of train-djscc: a multiple of 4 (the encoder's stride) in [16, 1024]."""
    value = int_in(16, 1024)(text)
    if value % 4:
        raise argparse.ArgumentTypeError(f"must be a multiple of 4 in [16, 1024], got {text!r}")
    return value


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
    model.add_argument("--abrs", type=unique_abr_list, default=None, help="bandwidth ratios (default 1/48,1/32,1/16)")
    model.add_argument("--snrs", type=snr_list, default=None, help="training SNRs in dB, -100..100 (default 0,10,20)")
    model.add_argument(
        "--loss",
        choices=("ae", "vae", "vscc"),
        default="ae",
        help="ae: MSE (eq. 12); vae: eq. 11; vscc: eq. 10 with the channel matching constant",
    )
    model.add_argument("--cmc", type=cmc_value, default=1.0, help="VSCC channel matching constant d, in (0, 1e6]")
    model.add_argument("--filters", type=int_in(1, 512), default=64, help="hidden-layer width, 1..512 (default 64)")
    opt = p.add_argument_group("training")
    opt.add_argument(
        "--patch", type=djscc_patch, default=64, help="crop size, a multiple of 4 in [16, 1024] (default 64)"
    )
    opt.add_argument("--batch", type=int_in(1, 256), default=16, help="crops per step, 1..256 (default 16)")
    opt.add_argument("--base-steps", type=int_in(1, 10**7), default=3000)
    opt.add_argument("--steps", type=int_in(1, 10**7), default=800, help="fine-tuning steps per SNR (default 800)")
    p.set_defaults(handler=guarded(cmd_train))

    p = subparsers.add_parser("djscc", help="use the shipped DJSCC models", description="The DJSCC benchmark models.")
    sub = p.add_subparsers(dest="djscc_command", metavar="ACTION", parser_class=type(p))
    sub.required = True
    info = sub.add_parser(
        "info",
        help="the shipped models",
        description="Every model of the directory with its ABR, training SNR, loss, VSCC channel-matching "
        "constant (cmc) and whether the link's DJSCC-WF-ZF may pick it (link; of a VSCC d sweep only the "
        "best d, best_cmc).",
    )
    info.add_argument("--dir", default="", help="model directory (default: shipped)")
    info.add_argument("--json", action="store_true", help="print JSON (the default output is JSON as well)")
    info.set_defaults(handler=guarded(cmd_info))
    ev = sub.add_parser("eval", help="PSNR / MS-SSIM over AWGN on the held-out images")
    ev.add_argument("--dir", default="", help="model directory (default: shipped)")
    ev.add_argument(
        "--snrs", type=snr_list, default=None, help="test SNRs in dB, -100..100 (default: each model's own)"
    )
    ev.add_argument("--images", default="", metavar="DIR", help="images (default: the shipped held-out set)")
    ev.add_argument("--seed", type=seed_int, default=0)
    ev.set_defaults(handler=guarded(cmd_eval))


def cmd_train(args):
    from ..djscc.models import channels_for_abr
    from ..djscc.train import DEFAULT_ABRS, DEFAULT_SNRS_DB, train_djscc

    input_dir(args.images, "--images")
    for abr in args.abrs or ():
        channels_for_abr(abr)  # an ABR no whole number of latent channels gives: refused before any work
    output_dir(args.out, "--out")
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

    return input_dir(args.dir, "--dir") if args.dir else DATA_DIR


def _manifest(directory):
    """The models of ``directory``'s manifest; a missing, unreadable or malformed one is a clean error."""
    from ..djscc.models import load_manifest

    with reading(f"DJSCC manifest in '{directory}'"):
        manifest = Path(directory) / "manifest.yml"
        if manifest.exists() and not manifest.is_file():
            fail(f"DJSCC manifest '{manifest}': not a regular file")
        if manifest.is_file() and manifest.stat().st_size > 1 << 20:
            fail(f"DJSCC manifest '{manifest}': larger than 1 MiB")
        return load_manifest(directory)


def cmd_info(args):
    from ..djscc.models import abr_label

    directory = _directory(args)
    models = _manifest(directory)
    with reading(f"DJSCC manifest in '{directory}'"):
        rows = [
            {
                "id": m.id,
                "abr": abr_label(m.abr),
                "snr_db": m.snr_db,
                "loss": m.loss,
                "cmc": m.cmc,
                "channels": m.channels,
                "link": m.link,
                "best_cmc": m.loss == "vscc" and m.link,
            }
            for m in models
        ]
    print_json({"dir": str(directory), "models": rows})
    return 0


def cmd_eval(args):
    from ..codec.evaluate import check_images
    from ..codec.images import list_images, load_rgb, shipped_images
    from ..djscc.codec import DjsccCodec, evaluate_awgn
    from ..djscc.models import abr_label

    directory = _directory(args)
    models = _manifest(directory)
    paths = list_images(args.images) if args.images else shipped_images()
    images = [load_rgb(p) for p in paths]
    check_images(images, [str(p) for p in paths])
    rows = []
    for info in models:
        with reading(f"DJSCC model '{info.id}' in '{directory}'"):
            codec = DjsccCodec(info, directory)
        for row in evaluate_awgn(codec, images, args.snrs or [info.snr_db], args.seed):
            rows.append({"id": info.id, "abr": abr_label(info.abr), "train_snr_db": info.snr_db, **row})
    print_json({"images": [str(p) for p in paths], "models": rows})
    return 0
