# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""``issc semantic info|train|fit|eval``: the semantic users' task-oriented source coding (docs/semantic.md)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np

from .common import fail, float_in, input_dir, output_dir, output_file, positive_int, print_json, seed_int

MAX_EPOCHS = 100_000


def int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or any(not 1 <= v <= 1024 for v in values):
        raise argparse.ArgumentTypeError(f"channel counts must be in [1, 1024], got {text!r}")
    return values


def lambda_list(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values or any(not (v >= 0 and np.isfinite(v)) for v in values):
        raise argparse.ArgumentTypeError(f"lambdas must be finite and >= 0, got {text!r}")
    return values


def register(subparsers):
    p = subparsers.add_parser(
        "semantic",
        help="the semantic users' task-oriented models (classification from entropy-coded features)",
        description="Task-oriented source coding for the semantic users: encoder -> entropy-coded features "
        "(real bitstream) -> classifier; its error versus BER profile (docs/semantic.md).",
    )
    sub = p.add_subparsers(dest="semantic_command", metavar="ACTION", parser_class=type(p))
    sub.required = True

    info = sub.add_parser("info", help="models, rates, accuracy and the fitted profile")
    _dir_argument(info)
    info.add_argument("--json", action="store_true", help="JSON instead of a table")
    info.set_defaults(handler=cmd_info)

    train = sub.add_parser(
        "train",
        help="train a family on the digits or on a labelled folder",
        description="Train one model per (channels, lambda) with cross-entropy + lambda * bits per image. "
        "--data digits (scikit-learn's bundled digits) or a folder with one sub-folder of images per class "
        "(resized to --size). Checkpoints every epoch under OUT/checkpoints; --resume continues from them.",
    )
    train.add_argument("--data", required=True, metavar="FOLDER|digits", help="labelled folder or 'digits'")
    train.add_argument("--out", required=True, metavar="DIR", help="output folder (weights, manifest.yml)")
    train.add_argument("--epochs", type=int_in_epochs, default=None, help="epochs per model (default 80)")
    train.add_argument("--resume", action="store_true", help="continue from the checkpoints in --out")
    train.add_argument("--channels", type=int_list, default=None, help="feature channels per model (default 1,2,4,8)")
    train.add_argument(
        "--lambdas",
        type=lambda_list,
        default=None,
        help="rate weight per model, or one for all (default 0.01,0.003,0.001,0.0003)",
    )
    train.add_argument("--size", type=_size, default=None, help="folder images are resized to SIZE x SIZE (default 32)")
    train.add_argument("--gray", action="store_true", help="folder images as grey (1 channel) instead of RGB")
    train.add_argument("--batch", type=positive_int, default=64)
    train.add_argument("--lr", type=float_in(1e-6, 1.0), default=2e-3)
    train.add_argument("--seed", type=seed_int, default=0)
    train.add_argument("--threads", type=positive_int, default=1, help="torch threads (default 1)")
    train.add_argument("--max-steps", type=positive_int, default=None, help="stop each model after this many steps")
    train.set_defaults(handler=cmd_train)

    fit = sub.add_parser(
        "fit",
        help="measure error versus BER from bit flips of the real bitstreams and fit the logistic",
        description="Encode the held-out split, flip payload bits at BERs 1e-5..0.3, decode best-effort, "
        "classify, and fit D = d_s + d_c / (1 + exp(-a1 (log10 BER - a0))) per model.",
    )
    _dir_argument(fit)
    fit.add_argument("--out", required=True, metavar="PROFILE.json")
    fit.add_argument("--plot", default=None, metavar="FIG.png")
    fit.add_argument("--repetitions", type=_repetitions, default=16, help="corrupted decodes per image and BER")
    fit.add_argument("--seed", type=seed_int, default=0)
    fit.add_argument("--data", default=None, metavar="FOLDER|digits", help="default: the family's own data")
    fit.set_defaults(handler=cmd_fit)

    ev = sub.add_parser(
        "eval",
        help="accuracy and bits per image on the held-out split, at a BER",
        description="Accuracy of every model on the held-out split with payload bits flipped independently "
        "at --ber (plain Monte Carlo), the mean payload bits per image, and the profile's prediction.",
    )
    _dir_argument(ev)
    ev.add_argument("--ber", type=float_in(0.0, 0.5), default=0.0, help="payload bit-error rate (default 0)")
    ev.add_argument("--repetitions", type=_repetitions, default=4, help="Monte Carlo repetitions when --ber > 0")
    ev.add_argument("--seed", type=seed_int, default=1)
    ev.add_argument("--data", default=None, metavar="FOLDER|digits", help="default: the family's own data")
    ev.add_argument("--json", action="store_true", help="JSON (the default output is JSON too)")
    ev.set_defaults(handler=cmd_eval)


def int_in_epochs(text: str) -> int:
    value = positive_int(text)
    if value > MAX_EPOCHS:
        raise argparse.ArgumentTypeError(f"must be <= {MAX_EPOCHS}, got {text!r}")
    return value


def _size(text: str) -> int:
    value = positive_int(text)
    if not 4 <= value <= 1024:
        raise argparse.ArgumentTypeError(f"must be in [4, 1024], got {text!r}")
    return value


def _repetitions(text: str) -> int:
    value = positive_int(text)
    if value > 10_000:
        raise argparse.ArgumentTypeError(f"must be <= 10000, got {text!r}")
    return value


def _dir_argument(parser):
    parser.add_argument("--dir", default=None, metavar="DIR", help="semantic family folder (default: shipped)")


def _family_dir(args) -> Path:
    from ..semantic.family import DATA_DIR

    return input_dir(args.dir, "--dir") if args.dir is not None else DATA_DIR


def _family(directory):
    from ..codec.codec import limit_torch_threads
    from ..semantic.family import SemanticFamily

    limit_torch_threads(1)
    return SemanticFamily.load(directory)


def _data(args, family):
    from ..semantic.data import data_from_spec, load_data

    if args.data is None:
        return data_from_spec(family.manifest.get("data"), "the family's manifest 'data'")
    first = family.model(family.model_ids[0]).config
    data = load_data(args.data, first["size"], first["in_channels"])
    if len(data.classes) != first["classes"]:
        fail(f"--data '{args.data}': {len(data.classes)} classes, the models classify {first['classes']}")
    return data


def cmd_info(args):
    from ..semantic.family import read_manifest
    from ..semantic.profile import load_semantic_profile

    directory = _family_dir(args)
    manifest = read_manifest(directory)
    profile_path = directory / "profile.json"
    fits = {}
    if profile_path.exists():
        fits = {m.id: m for m in load_semantic_profile(profile_path).models}

    def number(value):
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    rows = []
    for entry in manifest["models"]:
        fit = fits.get(entry["id"])
        rows.append(
            {
                "id": entry["id"],
                "channels": entry["channels"],
                "lambda": number(entry.get("lambda")),
                "R_s_bits": fit.r_s_bits if fit else number(entry.get("test_bits_per_image")),
                "bpp": fit.bpp if fit else None,
                "accuracy": fit.accuracy if fit else number(entry.get("test_accuracy")),
                "d_s": fit.d_s if fit else None,
                "d_c": fit.d_c if fit else None,
                "a1": fit.a1 if fit else None,
                "a0": fit.a0 if fit else None,
                "rms_residual": fit.rms_residual if fit else None,
            }
        )
    rows.sort(key=lambda r: (r["R_s_bits"] is None, r["R_s_bits"] or 0))
    if args.json:
        print_json(
            {
                "dir": str(directory),
                "data": manifest.get("data"),
                "classes": manifest.get("classes"),
                "profile": str(profile_path) if fits else None,
                "models": rows,
            }
        )
        return 0
    data = manifest.get("data", {})
    print(f"semantic family {directory} ({data.get('kind', '?')}: {len(manifest.get('classes', []))} classes)")
    print(
        f"{'id':<8}{'C':>4}{'lambda':>9}{'bits/img':>10}{'bpp':>8}{'accuracy':>10}{'d_c':>8}{'a1':>7}{'a0':>7}{'rms':>8}"
    )

    def cell(value, fmt, width):
        return f"{value:>{width}{fmt}}" if isinstance(value, (int, float)) else f"{'-':>{width}}"

    for r in rows:
        print(
            f"{r['id']:<8}{r['channels']:>4}{cell(r['lambda'], 'g', 9)}{cell(r['R_s_bits'], '.1f', 10)}"
            f"{cell(r['bpp'], '.3f', 8)}{cell(r['accuracy'], '.4f', 10)}{cell(r['d_c'], '.3f', 8)}"
            f"{cell(r['a1'], '.2f', 7)}{cell(r['a0'], '.2f', 7)}{cell(r['rms_residual'], '.4f', 8)}"
        )
    return 0


def cmd_train(args):
    import torch

    from ..semantic.data import load_data
    from ..semantic.train import DEFAULT_CHANNELS, DEFAULT_EPOCHS, DEFAULT_LAMBDAS, parse_family, train_family

    channels = args.channels or list(DEFAULT_CHANNELS)
    lambdas = args.lambdas or (list(DEFAULT_LAMBDAS) if len(channels) == len(DEFAULT_LAMBDAS) else [0.003])
    parse_family(channels, lambdas)  # refuse a bad pairing before loading anything
    out = output_dir(args.out, "--out")
    if not args.resume and (out / "checkpoints").is_dir() and any((out / "checkpoints").iterdir()):
        fail(f"--out '{out}': has checkpoints from an earlier run; pass --resume to continue it or use a new folder")
    data = load_data(args.data, args.size, 1 if args.gray else None)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    epochs = args.epochs or DEFAULT_EPOCHS
    command = " ".join(
        [
            f"issc semantic train --data {shlex.quote(str(args.data))} --out {shlex.quote(str(args.out))}",
            f"--epochs {epochs} --channels {','.join(map(str, channels))}",
            f"--lambdas {','.join(f'{v:g}' for v in lambdas)} --batch {args.batch} --lr {args.lr:g} --seed {args.seed}",
            *([f"--size {args.size}"] if args.size else []),
            *(["--gray"] if args.gray else []),
        ]
    )
    try:
        manifest = train_family(
            data,
            out,
            epochs=epochs,
            resume=args.resume,
            channels=channels,
            lambdas=lambdas,
            batch=args.batch,
            lr=args.lr,
            seed=args.seed,
            max_steps=args.max_steps,
            command=command,
            log=lambda text: print(text, file=sys.stderr, flush=True),
        )
    finally:
        torch.set_num_threads(threads_before)
    print_json(
        {
            "out": str(out),
            "models": [
                {k: m[k] for k in ("id", "channels", "lambda", "test_accuracy", "test_bits_per_image", "seconds")}
                for m in manifest["models"]
            ],
        }
    )
    return 0


def cmd_fit(args):
    from ..files import atomic_write_json
    from ..jsonutil import jsonable
    from ..semantic.fit import DEFAULT_BERS, measure_curve, plot_profile, profile_from_curves

    directory = _family_dir(args)
    out = output_file(args.out, "--out")
    plot = output_file(args.plot, "--plot") if args.plot else None
    family = _family(directory)
    data = _data(args, family)
    if len(data.test_y) == 0:
        fail("the held-out split is empty: give each class at least two images")
    curves = {}
    for model_id in family.model_ids:
        sys.stderr.write(f"measuring {model_id} ...\n")
        curves[model_id] = measure_curve(
            family, model_id, data.test_x, data.test_y, DEFAULT_BERS, args.repetitions, args.seed
        )
    made_by = (
        f"issc semantic fit --repetitions {args.repetitions} --seed {args.seed}: the {len(data.test_y)} held-out "
        "images encoded to their real payloads, every payload bit flipped independently at each BER (exact "
        "P(K=0) term, Monte Carlo over the zero-truncated number of flips K>=1), decoded best-effort and "
        "classified; d_s measured error-free, (d_c, a1, a0) by least squares"
    )
    profile = profile_from_curves(
        curves,
        family.manifest,
        data.image_shape,
        len(data.test_y),
        made_by,
        repetitions=args.repetitions,
        seed=args.seed,
        data=data.spec,
    )
    atomic_write_json(out, jsonable(profile))
    if out.resolve() == (directory / "profile.json").resolve():
        _record_profile(directory, out, args)
    if plot:
        plot_profile(profile, plot)
    print_json(
        {
            "out": str(out),
            "plot": str(plot) if plot else None,
            "models": [
                {k: m[k] for k in ("id", "R_s_bits", "accuracy", "d_c", "a1", "a0", "rms_residual")}
                for m in profile["models"]
            ],
        }
    )
    return 0


def _record_profile(directory: Path, profile: Path, args) -> None:
    """Record the family's own profile (file, sha256, command) in its manifest, so the manifest's
    checksums cover every shipped file and it says how to regenerate all of them."""
    import yaml

    from ..codec.models import sha256_of
    from ..files import atomic_write_text
    from ..jsonutil import jsonable

    manifest_path = directory / "manifest.yml"
    manifest = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))
    command = (
        f"issc semantic fit --dir {shlex.quote(str(directory))} --out {shlex.quote(str(profile))} "
        f"--repetitions {args.repetitions} --seed {args.seed}"
    )
    manifest["profile"] = {"file": profile.name, "sha256": sha256_of(profile), "made_by": command}
    if manifest.get("made_by"):
        manifest["regenerate"] = f"{manifest['made_by']} && {command}"
    atomic_write_text(manifest_path, yaml.safe_dump(jsonable(manifest), sort_keys=False))


def cmd_eval(args):
    from ..semantic.fit import encode_split, simulate_error
    from ..semantic.profile import load_semantic_profile

    directory = _family_dir(args)
    family = _family(directory)
    data = _data(args, family)
    if len(data.test_y) == 0:
        fail("the held-out split is empty: give each class at least two images")
    profile = None
    if (directory / "profile.json").exists():
        profile = {m.id: m for m in load_semantic_profile(directory / "profile.json").models}
    rows = []
    for model_id in family.model_ids:
        _, payloads = encode_split(family, model_id, data.test_x)
        repetitions = args.repetitions if args.ber > 0 else 1
        error = simulate_error(family, model_id, data.test_x, data.test_y, args.ber, repetitions, args.seed)
        row = {
            "id": model_id,
            "accuracy": 1.0 - error,
            "bits_per_image": float(np.mean([8 * len(p) for p in payloads])),
            "bpp": float(np.mean([8 * len(p) for p in payloads]) / np.prod(data.image_shape[1:])),
        }
        if profile and model_id in profile and args.ber > 0:
            row["predicted_accuracy"] = float(1.0 - profile[model_id].distortion(np.log10(args.ber)))
        elif profile and model_id in profile:
            row["predicted_accuracy"] = profile[model_id].accuracy
        rows.append(row)
    print_json(
        {
            "dir": str(directory),
            "ber": args.ber,
            "repetitions": args.repetitions if args.ber > 0 else 1,
            "test_images": len(data.test_y),
            "models": rows,
        }
    )
    return 0
