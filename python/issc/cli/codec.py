# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Subcommands of the semantic codec: ``train``, ``codec info|encode|decode|eval``, ``fit``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import yaml

from ..jsonutil import jsonable
from .common import (
    fail,
    guarded,
    input_dir,
    int_in,
    output_dir,
    output_file,
    plot_file,
    print_json,
    read_input_bytes,
    reading,
    unique,
)

MAX_LAMBDAS = 64


def lambda_list(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text[:60]!r}") from None
    if not values or any(not (0 < v <= 1e3 and np.isfinite(v)) for v in values):
        raise argparse.ArgumentTypeError(f"lambdas must be in (0, 1000], got {text[:60]!r}")
    if len(values) > MAX_LAMBDAS:
        raise argparse.ArgumentTypeError(f"at most {MAX_LAMBDAS} lambdas, got {len(values)}")
    return unique(values, "lambda")


def standard_model_list(text: str) -> list[str]:
    """``--models`` of ``issc fit``: comma-separated standard-codec operating points (``hevc-q10,jpeg-q50``)."""
    from ..codec.standard import parse_model_id

    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names or len(names) > MAX_LAMBDAS:
        raise argparse.ArgumentTypeError(f"expected 1 to {MAX_LAMBDAS} comma-separated model ids, got {text[:60]!r}")
    for name in names:
        try:
            parse_model_id(name)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return unique(names, "model")


def patch_value(text: str) -> int:
    """``--patch`` of ``issc train``: a multiple of 64 (the hyperprior's total stride) in [64, 1024]."""
    value = int_in(64, 1024)(text)
    if value % 64:
        raise argparse.ArgumentTypeError(f"must be a multiple of 64 in [64, 1024], got {text!r}")
    return value


def register(subparsers):
    p = subparsers.add_parser(
        "train",
        help="train the codec family on a folder of images",
        description="Train a base hyperprior model, then fine-tune one model per lambda. "
        "Checkpoints and resume; writes <id>.pt (fp16) and manifest.yml.",
    )
    data = p.add_argument_group("data")
    data.add_argument("--images", required=True, metavar="DIR", help="folder of images (recursive png/jpg)")
    data.add_argument("--out", required=True, metavar="DIR", help="output directory")
    opt = p.add_argument_group("training")
    opt.add_argument("--lambdas", type=lambda_list, default=None, help="comma-separated rate-distortion lambdas")
    opt.add_argument("--patch", type=patch_value, default=128, help="crop size, a multiple of 64 (default 128)")
    opt.add_argument("--steps", type=int_in(1, 10**7), default=500, help="fine-tuning steps per model (default 500)")
    opt.add_argument("--base-steps", type=int_in(1, 10**7), default=2500, help="base model steps (default 2500)")
    opt.add_argument("--batch", type=int_in(1, 256), default=8, help="crops per step, 1..256 (default 8)")
    opt.add_argument("--resume", action="store_true", help="continue from the checkpoints in --out")
    opt.add_argument("--base", default=None, metavar="CKPT", help="start from this base checkpoint")
    p.set_defaults(handler=guarded(cmd_train))

    p = subparsers.add_parser("codec", help="use the shipped codec family", description="The semantic codec family.")
    sub = p.add_subparsers(dest="codec_command", metavar="ACTION", parser_class=type(p))
    sub.required = True
    info = sub.add_parser("info", help="the shipped models")
    info.add_argument("--json", action="store_true")
    _dir_argument(info)
    info.set_defaults(handler=guarded(cmd_info))
    enc = sub.add_parser("encode", help="image -> container file")
    enc.add_argument("--model", required=True)
    enc.add_argument("--image", required=True, metavar="IN")
    enc.add_argument("--out", required=True, metavar="FILE")
    _dir_argument(enc)
    enc.set_defaults(handler=guarded(cmd_encode))
    dec = sub.add_parser("decode", help="container file -> PNG")
    dec.add_argument("--in", dest="input", required=True, metavar="FILE")
    dec.add_argument("--out", required=True, metavar="OUT.png")
    _dir_argument(dec)
    dec.set_defaults(handler=guarded(cmd_decode))
    tables = sub.add_parser(
        "tables",
        help="rebuild the entropy-table caches (<id>.tables.npz)",
        description="Rebuild every model's entropy-coder tables with CompressAI's update(force=True) and write "
        "them beside the weights (the shipped caches were made this way; loading rebuilds a stale one itself).",
    )
    _dir_argument(tables)
    tables.set_defaults(handler=guarded(cmd_tables))
    ev = sub.add_parser("eval", help="rate, PSNR, MS-SSIM per model, and JPEG at the same bpp")
    ev.add_argument("--images", default=None, metavar="DIR", help="default: the shipped held-out images")
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--no-jpeg", action="store_true")
    ev.add_argument(
        "--models",
        type=standard_model_list,
        default=None,
        metavar="ID[,ID...]",
        help="evaluate standard-codec operating points (hevc-q<q>, jpeg-q<q>) instead of the learned family; "
        "bpp counts the payload (the coded data), file_bpp the whole HEIF/JPEG file",
    )
    _dir_argument(ev)
    ev.set_defaults(handler=guarded(cmd_eval))

    p = subparsers.add_parser(
        "fit",
        help="measure distortion versus BER and fit the codec profile",
        description="Flip bits of the real payload at BERs 1e-7..1e-1, fit docs/model.md eq. 7 "
        "per model for MSE and 1-MS-SSIM, write the profile and a plot.",
    )
    p.add_argument("--images", default=None, metavar="DIR", help="default: the shipped held-out images")
    p.add_argument("--out", required=True, metavar="PROFILE.yml")
    p.add_argument("--plot", default=None, metavar="FIG.png")
    p.add_argument(
        "--repetitions",
        type=int_in(1, 10_000),
        default=None,
        help="corrupted decodes per image and BER (default 8), or with --bursts per image and bin (default 2)",
    )
    p.add_argument(
        "--bursts",
        action="store_true",
        help="measure the burst profile instead (one failed codeword at each fraction of the payload, "
        "codec/bursts.py) and add it to the --base profile",
    )
    p.add_argument("--base", default=None, metavar="PROFILE.yml", help="--bursts: profile to add to (default: shipped)")
    p.add_argument("--bins", type=int_in(1, 1024), default=16, help="--bursts: fraction bins of the payload")
    p.add_argument(
        "--models",
        type=standard_model_list,
        default=None,
        metavar="ID[,ID...]",
        help="profile standard-codec operating points instead of the learned family: hevc-q<quality> (HEVC intra, "
        "pillow-heif/x265) or jpeg-q<quality> (Pillow), e.g. hevc-q0,hevc-q10,hevc-q20 (codec/standard.py)",
    )
    p.add_argument(
        "--include",
        action="append",
        default=[],
        metavar="PROFILE.yml",
        help="add the models of this profile to the output (e.g. the shipped learned one: the mixed family); "
        "repeatable",
    )
    p.add_argument("--block-bits", type=int_in(1, 1 << 20), default=384, help="--bursts: bits of the failed codeword")
    _dir_argument(p)
    p.set_defaults(handler=guarded(cmd_fit))
    _register_bench(subparsers)


def _register_bench(subparsers):
    bench = subparsers.choices.get("bench")  # registered by the optimiser commands (cli/optim.py)
    targets = next((a for a in getattr(bench, "_actions", []) if getattr(a, "dest", None) == "bench_target"), None)
    if targets is None:
        return
    b = targets.add_parser(
        "codec",
        help="codec load time and encode/decode ms per image per model",
        description="Time loading the family (entropy tables from their caches) and the median encode and "
        "decode time per image per model, with one torch thread (as the blocks run).",
    )
    b.add_argument("--images", default=None, metavar="DIR", help="default: the shipped held-out images")
    b.add_argument("--reps", type=int_in(1, 10_000), default=3, help="codings of each image per model (default 3)")
    _dir_argument(b)
    b.set_defaults(handler=guarded(cmd_bench_codec))


def _dir_argument(parser):
    parser.add_argument("--dir", default=None, metavar="DIR", help="codec family directory (default: shipped)")


def _codec(args, lazy: bool = False):
    from ..codec.codec import SemanticCodec, limit_torch_threads

    if args.dir:
        input_dir(args.dir, "--dir")
    limit_torch_threads(1)  # one image: a second intra-op thread does not pay for itself (docs/performance.md)
    with reading(f"--dir '{args.dir}'" if args.dir else "the shipped codec family"):
        return SemanticCodec.load(args.dir, lazy=lazy)


def _images(folder, check: bool = True):
    """The images of ``--images`` (default: the shipped held-out set) and their paths; ``check``: each must
    suit the evaluation (:func:`gnuradio.issc.codec.evaluate.check_images`), checked before any work."""
    from ..codec.evaluate import check_images
    from ..codec.images import list_images, load_rgb, shipped_images

    paths = shipped_images() if folder is None else list_images(folder)
    images = [load_rgb(p) for p in paths]
    if check:
        check_images(images, [str(p) for p in paths])
    return images, [str(p) for p in paths]


def cmd_train(args):
    from ..codec.train import DEFAULT_LAMBDAS, train_family

    input_dir(args.images, "--images")
    output_dir(args.out, "--out")
    manifest = train_family(
        args.images,
        args.out,
        args.lambdas or DEFAULT_LAMBDAS,
        args.patch,
        args.steps,
        args.base_steps,
        args.batch,
        resume=args.resume,
        base=args.base,
    )
    print_json({"out": args.out, "models": [m["id"] for m in manifest["models"]]})
    return 0


def cmd_info(args):
    from ..codec.profile import DATA_DIR, load_profile

    directory = input_dir(args.dir, "--dir") if args.dir else DATA_DIR
    manifest_path = directory / "manifest.yml"
    if not manifest_path.is_file():
        fail(f"no codec manifest in '{directory}'")
    with reading(f"codec manifest '{manifest_path}'"):
        from ..scenario import load_yaml_text

        manifest = load_yaml_text(read_input_bytes(manifest_path, "codec manifest", 1 << 20).decode("utf-8"))
        entries = manifest.get("models", []) if isinstance(manifest, dict) else None
        if not isinstance(entries, list):
            fail(f"codec manifest '{manifest_path}': 'models' must be a list")
        lambdas = {str(m["id"]): m["lambda"] for m in entries}
    profile_path = directory / "profile.yml"
    rows = []
    if profile_path.exists():
        for model in load_profile(profile_path).models:
            rows.append({"id": model.id, "R_s_bits": model.r_s_bits, "bpp": model.bpp, "lambda": lambdas.get(model.id)})
    else:
        rows = [{"id": i, "R_s_bits": None, "bpp": None, "lambda": lam} for i, lam in lambdas.items()]
    with reading(f"codec manifest '{manifest_path}'"):
        rows.sort(key=lambda r: (r["R_s_bits"] is None, r["R_s_bits"] or 0, float(r["lambda"] or 0)))
    print_json(rows)
    return 0


def _image_format(path, what: str) -> str:
    """The Pillow format an output image path names by its suffix (checked before any work)."""
    from PIL import Image

    suffix = Path(path).suffix.lower()
    formats = Image.registered_extensions()
    if suffix not in formats:
        fail(f"{what} '{path}': unknown image format '{suffix or '(no suffix)'}' (use .png)")
    return formats[suffix]


def cmd_encode(args):
    from ..codec.container import MAX_SIDE
    from ..codec.images import load_rgb
    from ..files import atomic_write_bytes

    out = output_file(args.out, "--out")
    codec = _codec(args, lazy=True)  # loads only the model asked for
    with reading(f"--model '{args.model}'"):
        codec._model(args.model)
    data = codec.encode(load_rgb(args.image, max_pixels=MAX_SIDE * MAX_SIDE), args.model)
    try:
        atomic_write_bytes(out, data)
    except OSError as exc:
        fail(f"--out '{args.out}': cannot write ({exc.strerror or exc})")
    print_json({"out": args.out, "bytes": len(data), "model": args.model})
    return 0


def cmd_bench_codec(args):
    import time

    start = time.perf_counter()
    from ..codec.models import coder_class

    coder_class()  # torch and CompressAI's entropy models
    import_s = time.perf_counter() - start
    codec = _codec(args)
    load_s = time.perf_counter() - start - import_s
    images = _images(args.images, check=False)[0]
    rows = []
    for model in codec.model_ids:
        encode_s, decode_s, sizes = [], [], []
        for image in images:
            for _ in range(args.reps):
                t0 = time.perf_counter()
                data = codec.encode(image, model)
                t1 = time.perf_counter()
                codec.decode(data)
                decode_s.append(time.perf_counter() - t1)
                encode_s.append(t1 - t0)
            sizes.append(len(data))
        rows.append(
            {
                "model": model,
                "encode_ms": 1e3 * float(np.median(encode_s)),
                "decode_ms": 1e3 * float(np.median(decode_s)),
                "bytes": float(np.mean(sizes)),
            }
        )
    print_json(
        {
            "benchmark": "codec",
            "images": len(images),
            "reps": args.reps,
            "import_s": import_s,
            "load_s": load_s,
            "threads": 1,
            "models": rows,
        }
    )
    return 0


def cmd_tables(args):
    from ..codec.models import rebuild_tables

    if args.dir:
        input_dir(args.dir, "--dir")
    with reading(f"--dir '{args.dir}'" if args.dir else "the shipped codec family"):
        rows = rebuild_tables(args.dir)
    print_json({"models": rows})
    return 0


def cmd_decode(args):
    import io

    from ..codec.container import MAX_CONTAINER_BYTES, unpack
    from ..files import atomic_write_bytes

    out = output_file(args.out, "--out")
    image_format = _image_format(out, "--out")
    data = read_input_bytes(args.input, "--in", MAX_CONTAINER_BYTES)
    header, payload = unpack(data)  # shape and lengths checked before any model is loaded
    codec = _codec(args, lazy=True)  # loads only the container's model
    image = codec.decode_parts(header, payload)
    from PIL import Image

    buffer = io.BytesIO()
    try:
        Image.fromarray(np.round(image * 255).astype(np.uint8)).save(buffer, format=image_format)
        atomic_write_bytes(out, buffer.getvalue())
    except (OSError, ValueError, KeyError) as exc:
        fail(f"--out '{args.out}': cannot write ({' '.join(str(exc).split())[:200]})")
    print_json({"out": args.out, "height": image.shape[0], "width": image.shape[1]})
    return 0


def cmd_eval(args):
    from ..codec.evaluate import evaluate

    images, paths = _images(args.images)
    if args.models:
        from ..codec.standard import StandardCodec

        codec = StandardCodec(args.models)
        rows = evaluate(codec, images, with_jpeg=not args.no_jpeg)
        for row in rows:  # the whole file too: the HEIF boxes or JPEG tables the header stands for
            sizes = [
                8 * len(codec.encode_file(image, row["id"])) / (image.shape[0] * image.shape[1]) for image in images
            ]
            row["file_bpp"] = float(np.mean(sizes))
    else:
        rows = evaluate(_codec(args), images, with_jpeg=not args.no_jpeg)
    print_json({"images": paths, "models": rows})
    return 0


def _included_profiles(paths) -> list:
    """The raw mappings of ``issc fit --include`` profiles, each validated first (before the measurement)."""
    from ..codec.profile import load_profile
    from ..scenario import load_yaml_text

    out = []
    for path in paths:
        load_profile(path)
        out.append(load_yaml_text(Path(path).read_text(encoding="utf-8")))
    return out


def _fit_bursts(args):
    """``issc fit --bursts``: the burst curves of every model added to the --base profile (codec/bursts.py)."""
    from ..codec.bursts import add_bursts, measure_bursts
    from ..codec.profile import SHIPPED_PROFILE, CodecProfile, load_profile
    from ..files import atomic_write_text
    from ..scenario import load_yaml_text

    base_path = Path(args.base) if args.base else SHIPPED_PROFILE
    base = load_profile(base_path)  # validates; the raw mapping keeps its 'data' entry
    raw = load_yaml_text(base_path.read_text(encoding="utf-8"))
    codec = _codec(args)
    standard_ids = [m.id for m in base.models if m.codec != "hyperprior"]
    if standard_ids:  # a mixed or standard profile: its HEVC/JPEG operating points are coded on demand
        from ..codec.standard import FamilyCodec

        codec = FamilyCodec(codec, standard_ids)
    missing = [m.id for m in base.models if m.id not in codec.model_ids]
    if missing:
        fail(f"--base: the codec family has no model {', '.join(missing)}")
    images, paths = _images(args.images)
    repetitions = args.repetitions or 2
    bursts = measure_bursts(
        codec,
        images,
        bins=args.bins,
        block_bits=args.block_bits,
        repetitions=repetitions,
        progress=lambda m: sys.stderr.write(f"\r{m}   "),
        model_ids=[m.id for m in base.models],
    )
    sys.stderr.write("\n")
    made_by = (
        f"issc fit --bursts{f' --base {base_path.name}' if args.base else ''} --bins {args.bins} "
        f"--block-bits {args.block_bits} --repetitions {repetitions}: "
        f"{args.block_bits} bits of the real entropy-coded payload replaced by random bits at a uniform position "
        f"in each of {args.bins} fraction bins, decoded best-effort, mean over {len(images)} held-out images x "
        f"{repetitions}; made non-increasing (pool adjacent violators), at least the error-free distortion"
    )
    profile = jsonable(add_bursts(raw, bursts, made_by, [Path(p).name for p in paths]))
    CodecProfile.from_dict(profile, source=str(args.out))  # what is written must load
    atomic_write_text(args.out, yaml.safe_dump(profile, sort_keys=False))
    print_json(
        {
            "out": args.out,
            "fractions": bursts["fractions"],
            "ms_ssim_at_start": {m: 1.0 - c["ms_ssim"][0] for m, c in bursts["models"].items()},
            "clean_ms_ssim": {m: 1.0 - c["clean"]["ms_ssim"] for m, c in bursts["models"].items()},
        }
    )
    return 0


def cmd_fit(args):
    from ..codec.fit import measure_curves, plot_curves, profile_from_curves
    from ..files import atomic_write_text

    # every output path is checked before the measurement (minutes), not after it
    output_file(args.out, "--out")
    if args.plot:
        plot_file(args.plot, "--plot")
    if args.bursts and (args.models or args.include):
        fail("--models and --include profile bit flips; --bursts measures the learned family's burst curves")
    if args.bursts:
        return _fit_bursts(args)
    args.repetitions = args.repetitions or 8
    included = _included_profiles(args.include)
    if args.models:
        from ..codec.standard import StandardCodec

        if args.dir:
            fail("--dir names a learned family; --models profiles standard-codec operating points")
        codec = StandardCodec(args.models)
    else:
        codec = _codec(args)
    images, paths = _images(args.images)
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        fail(f"--images: all images must have the same shape for one profile, got {sorted(shapes)}")
    curves = measure_curves(
        codec, images, repetitions=args.repetitions, progress=lambda m, b: sys.stderr.write(f"\r{m} BER {b:.1e}   ")
    )
    sys.stderr.write("\n")
    height, width, channels = images[0].shape
    made_by = (
        f"issc fit --repetitions {args.repetitions}"
        + (f" --models {','.join(args.models)}" if args.models else "")
        + "".join(f" --include {p}" for p in args.include)
        + ": bits of the real "
        + ("HEVC/JPEG payload (the coded data, codec/standard.py)" if args.models else "entropy-coded payload")
        + " flipped "
        f"independently at each BER, expectation over the number of flips (exact P(K=0) term, Monte "
        f"Carlo for K>=1), mean over {len(images)} held-out images; logistic fit by least squares"
    )
    profile = profile_from_curves(
        curves,
        codec.lambdas,
        (channels, height, width),
        made_by,
        {
            "images": [Path(p).name for p in paths],
            "repetitions": args.repetitions,
            "bers": curves[codec.model_ids[0]]["bers"],
        },
    )
    profile = jsonable(profile)  # the measured BER grid and fit results are NumPy values: plain Python for YAML
    if included:
        from ..codec.fit import merge_profiles

        profile = merge_profiles([*included, profile], made_by)
    atomic_write_text(args.out, yaml.safe_dump(profile, sort_keys=False))  # atomically
    if args.plot:
        plot_curves(curves, profile, args.plot)
    print_json(
        {
            "out": args.out,
            "plot": args.plot,
            "r2": {m["id"]: {k: v["r2"] for k, v in m["fits"].items()} for m in profile["models"]},
        }
    )
    return 0
