#!/usr/bin/env python3
# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Train the VSCC paper's model set at ABR 1/16 (docs/vscc.md): AE, VAE and VSCC at -5, 5 and 15 dB,
VSCC with every channel-matching constant ``d`` in {1, 2, 5, 10, 15}.

    .venv/bin/python scripts/train_vscc.py IMAGES OUT [--base-steps 2000] [--steps 800]

IMAGES: the offline training set (``gnuradio.issc.codec.images.write_offline_training_set``). One base
model per loss is trained at 5 dB (VSCC with d = 5), then every (loss, SNR, d) model is fine-tuned from its
loss's base, as ``issc train-djscc`` does. One thread (the machine is shared); checkpoints every 100 steps
under OUT/checkpoints, so a rerun continues where it stopped. Results: OUT/<id>.pt (fp16) and
OUT/manifest.yml with how each model was made; ``scripts/ship_djscc.py OUT --vscc`` ships them.
"""

import argparse
import sys
import time
from pathlib import Path

import gnuradio
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
gnuradio.__path__.insert(0, str(ROOT / "python"))
from gnuradio.issc.codec.train import PatchSampler, load_checkpoint  # noqa: E402
from gnuradio.issc.djscc.models import DeepJSCC, abr_label, channels_for_abr, save_fp16  # noqa: E402
from gnuradio.issc.djscc.train import model_id, train_one  # noqa: E402
from gnuradio.issc.files import atomic_write_text  # noqa: E402

ABR = 1 / 16
SNRS_DB = (-5.0, 5.0, 15.0)
CMCS = (1.0, 2.0, 5.0, 10.0, 15.0)
BASE_SNR_DB = 5.0
BASE_CMC = 5.0


def vscc_id(abr: float, snr_db: float, loss: str, cmc: float | None) -> str:
    """``model_id`` plus ``-d<cmc>`` for VSCC (several models per ABR and SNR)."""
    return model_id(abr, snr_db, loss) + (f"-d{cmc:g}" if loss == "vscc" else "")


def jobs():
    """(loss, snr, cmc) in an order that gives every loss at every SNR early (the d sweep last)."""
    order = []
    for snr in SNRS_DB:
        order += [("ae", snr, None), ("vae", snr, None), ("vscc", snr, BASE_CMC)]
    for snr in SNRS_DB:
        order += [("vscc", snr, d) for d in CMCS if d != BASE_CMC]
    return order


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("images")
    parser.add_argument("out")
    parser.add_argument("--base-steps", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--filters", type=int, default=64)
    parser.add_argument("--patch", type=int, default=64)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    sampler = PatchSampler(args.images, args.patch, args.seed)
    channels = channels_for_abr(ABR)
    command = "scripts/train_vscc.py IMAGES OUT " + " ".join(
        f"--{k.replace('_', '-')} {getattr(args, k)}"
        for k in ("base_steps", "steps", "filters", "patch", "batch", "lr", "seed")
    )
    manifest_path = out / "manifest.yml"
    entries = []
    bases = {}
    for loss in ("ae", "vae", "vscc"):
        cmc = BASE_CMC if loss == "vscc" else 1.0
        ckpt = out / "checkpoints" / f"base-{loss}-abr16.pt"
        model = DeepJSCC(channels, args.filters)
        stats = train_one(
            model, sampler, BASE_SNR_DB, loss, args.base_steps, ckpt, args.batch, args.lr, f"base {loss}", cmc
        )
        bases[loss] = (load_checkpoint(ckpt)["model"], stats["seconds"])
    for loss, snr, cmc in jobs():
        ident = vscc_id(ABR, snr, loss, cmc)
        model = DeepJSCC(channels, args.filters)
        model.load_state_dict(bases[loss][0])
        started = time.time()
        stats = train_one(
            model,
            sampler,
            snr,
            loss,
            args.steps,
            out / "checkpoints" / f"{ident}.pt",
            args.batch,
            args.lr / 3,
            ident,
            cmc if cmc is not None else 1.0,
        )
        sha = save_fp16(model, out / f"{ident}.pt")
        entries.append(
            {
                "id": ident,
                "abr": float(ABR),
                "abr_label": abr_label(ABR),
                "snr_db": snr,
                "loss": loss,
                "channels": channels,
                "filters": args.filters,
                "cmc": cmc,
                "kb_variance": round(float(model.kb_variance), 6),
                "base": f"base-{loss}-abr16 ({BASE_SNR_DB:g} dB" + (f", d {BASE_CMC:g})" if loss == "vscc" else ")"),
                "base_steps": args.base_steps,
                "finetune_steps": args.steps,
                "patch": args.patch,
                "batch": args.batch,
                "lr": args.lr,
                "seed": args.seed,
                "train_psnr": round(stats.get("psnr", float("nan")), 3),
                "seconds": stats["seconds"],
                "base_seconds": bases[loss][1],
                "sha256": sha,
                "file": f"{ident}.pt",
                "command": command,
            }
        )
        print(f"{ident}: train PSNR {entries[-1]['train_psnr']} in {time.time() - started:.0f} s", flush=True)
        manifest = {
            "format": "issc-djscc-manifest/1",
            "architecture": f"Bourtsoulatze-style conv autoencoder, {args.filters} filters, PReLU",
            "data": {"images": str(args.images), "count": len(sampler.files)},
            "models": entries,
        }
        atomic_write_text(manifest_path, yaml.safe_dump(manifest, sort_keys=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
