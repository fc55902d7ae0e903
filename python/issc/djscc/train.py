# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Training the shipped DJSCC models: ``issc train-djscc``.

For each ABR a base model is trained at the middle SNR, then one model per SNR is fine-tuned from it
(as ``issc train`` does for the codec family). The channel in training is AWGN at the model's SNR on
unit-power symbols. Checkpoints every ``checkpoint_every`` steps under ``out/checkpoints``; a rerun
continues from them. Results: ``out/<id>.pt`` (fp16) and ``out/manifest.yml``.

Checkpoints are plain dicts of tensors and numbers, written atomically and loaded with
``weights_only=True`` (:func:`gnuradio.issc.codec.train.save_checkpoint`, ``load_checkpoint``).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
import yaml

from ..codec.train import PatchSampler, drop_learning_rate, load_checkpoint, load_model_state, save_checkpoint
from ..errors import IsscInputError
from ..files import atomic_write_text
from .losses import djscc_loss
from .models import LOSSES, DeepJSCC, abr_label, channels_for_abr, save_fp16

DEFAULT_ABRS = (1 / 48, 1 / 32, 1 / 16)
DEFAULT_SNRS_DB = (0.0, 10.0, 20.0)
MIN_SNR_DB, MAX_SNR_DB = -100.0, 100.0
"""SNRs the training and the evaluation take: noise from 1e10 down to 1e-10 of the signal power."""


def noise_variance_per_real(snr_db: float) -> float:
    """AWGN variance per real dimension for unit-power complex symbols at ``snr_db``."""
    return 0.5 * 10 ** (-snr_db / 10)


def channel_forward(model: DeepJSCC, x: torch.Tensor, snr_db: float, loss: str, generator=None):
    """Encoder, (reparameterised) sample, AWGN, decoder; returns ``x_hat, mean, logvar``."""
    mean, logvar = model.encode(x)
    sent = mean
    if loss != "ae":
        sent = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=generator)
    noise = torch.randn(mean.shape, generator=generator) * noise_variance_per_real(snr_db) ** 0.5
    return model.decode(sent + noise), mean, logvar


def model_id(abr: float, snr_db: float, loss: str) -> str:
    return f"{loss}-abr{round(1 / abr)}-snr{snr_db:g}"


def train_one(model, sampler, snr_db, loss, steps, checkpoint, batch, lr, label, cmc, checkpoint_every=100):
    from tqdm import tqdm

    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    done, stats, seconds = 0, {}, 0.0
    if checkpoint.exists():
        state = load_checkpoint(checkpoint, keys=("model", "optimiser", "step"))
        load_model_state(model, state["model"], checkpoint)
        try:
            optimiser.load_state_dict(state["optimiser"])
        except (ValueError, KeyError, TypeError) as exc:
            raise IsscInputError(f"checkpoint '{checkpoint}': optimiser state does not fit ({exc})") from None
        done, stats, seconds = int(state["step"]), state.get("stats", {}), state.get("seconds", 0.0)
        sampler.rng = np.random.default_rng(done + 12345)
    model.train()
    started = time.time() - seconds
    with tqdm(total=steps, initial=done, desc=label, unit="step", dynamic_ncols=True) as bar:
        for step in range(done, steps):
            drop_learning_rate(optimiser, step, steps, lr)
            x = sampler.batch(batch)
            optimiser.zero_grad()
            x_hat, mean, logvar = channel_forward(model, x, snr_db, loss)
            value = djscc_loss(loss, x, x_hat, mean, logvar, noise_variance_per_real(snr_db), cmc)
            value.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            mse = float((x - x_hat).detach().pow(2).mean())
            stats = {"loss": float(value.detach()), "psnr": -10 * float(np.log10(max(mse, 1e-12)))}
            bar.set_postfix(psnr=f"{stats['psnr']:.2f}")
            bar.update(1)
            if (step + 1) % checkpoint_every == 0 or step + 1 == steps:
                save_checkpoint(
                    {
                        "model": model.state_dict(),
                        "optimiser": optimiser.state_dict(),
                        "step": step + 1,
                        "stats": stats,
                        "seconds": time.time() - started,
                    },
                    checkpoint,
                )
    if loss != "ae":
        with torch.no_grad():
            model.eval()
            variances = [model.encode(sampler.batch(batch))[1].exp().mean() for _ in range(8)]
            model.kb_variance.copy_(torch.stack(variances).mean())
    return {**stats, "seconds": round(time.time() - started, 1)}


def train_djscc(
    images,
    out,
    abrs=DEFAULT_ABRS,
    snrs_db=DEFAULT_SNRS_DB,
    loss="ae",
    patch=64,
    steps=600,
    base_steps=2000,
    batch=16,
    lr=1e-3,
    filters=48,
    cmc=1.0,
    seed=0,
) -> dict:
    """Train one model per (ABR, SNR); see the module docstring. Returns the manifest dict."""
    if loss not in LOSSES:
        raise IsscInputError(f"--loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    channels = [channels_for_abr(a) for a in abrs]
    snrs_db = sorted(float(s) for s in snrs_db)
    if not snrs_db or any(not np.isfinite(s) for s in snrs_db):
        raise IsscInputError("--snrs must be finite numbers in dB")
    if any(not MIN_SNR_DB <= s <= MAX_SNR_DB for s in snrs_db):
        raise IsscInputError(f"--snrs must be in [{MIN_SNR_DB:g}, {MAX_SNR_DB:g}] dB, got {snrs_db}")
    if patch % 4 or not 16 <= patch <= 1024:
        raise IsscInputError(f"--patch must be a multiple of 4 in [16, 1024], got {patch}")
    out = Path(out)
    try:
        (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IsscInputError(f"--out '{out}': cannot create the folder ({exc.strerror or exc})") from None
    torch.manual_seed(seed)
    sampler = PatchSampler(images, patch, seed)
    base_snr = snrs_db[len(snrs_db) // 2]
    manifest_path = out / "manifest.yml"
    entries = []
    for abr, c in zip(abrs, channels):
        base_ckpt = out / "checkpoints" / f"base-{loss}-abr{round(1 / abr)}.pt"
        model = DeepJSCC(c, filters)
        train_one(
            model,
            sampler,
            base_snr,
            loss,
            base_steps,
            base_ckpt,
            batch,
            lr,
            f"base ABR {abr_label(abr)} {base_snr:g} dB",
            cmc,
        )
        base_state = load_checkpoint(base_ckpt)["model"]
        for snr in snrs_db:
            ident = model_id(abr, snr, loss)
            model = DeepJSCC(c, filters)
            model.load_state_dict(base_state)
            stats = train_one(
                model, sampler, snr, loss, steps, out / "checkpoints" / f"{ident}.pt", batch, lr / 3, f"{ident}", cmc
            )
            sha = save_fp16(model, out / f"{ident}.pt")
            entries.append(
                {
                    "id": ident,
                    "abr": float(abr),
                    "abr_label": abr_label(abr),
                    "snr_db": snr,
                    "loss": loss,
                    "channels": c,
                    "filters": filters,
                    "cmc": cmc if loss == "vscc" else None,
                    "kb_variance": float(model.kb_variance),
                    "base_steps": base_steps,
                    "finetune_steps": steps,
                    "patch": patch,
                    "batch": batch,
                    "lr": lr,
                    "seed": seed,
                    "train_psnr": round(stats.get("psnr", float("nan")), 3),
                    "seconds": stats["seconds"],
                    "sha256": sha,
                    "file": f"{ident}.pt",
                }
            )
            manifest = {
                "format": "issc-djscc-manifest/1",
                "architecture": f"Bourtsoulatze-style conv autoencoder, {filters} filters, PReLU",
                "data": {"images": str(images), "count": len(sampler.files)},
                "models": entries,
            }
            atomic_write_text(manifest_path, yaml.safe_dump(manifest, sort_keys=False))
    return manifest
