# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Training the codec family: ``issc train``.

A base model is trained at the middle lambda, then every lambda is fine-tuned from it (much faster
than training each from scratch on 2 CPU cores). Loss: ``lambda 255^2 MSE + bpp`` (CompressAI's
convention) plus the entropy bottleneck's auxiliary loss. Checkpoints every ``checkpoint_every`` steps
under ``out/checkpoints``; ``resume`` continues from them. Results: ``out/<id>.pt`` (fp16) and
``out/manifest.yml``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from ..errors import IsscInputError
from .images import list_images, load_rgb
from .models import DEFAULT_M, DEFAULT_N, build_model, save_fp16

DEFAULT_LAMBDAS = (0.0009, 0.0018, 0.0035, 0.0067, 0.013, 0.025, 0.05)


class PatchSampler:
    """Random ``patch x patch`` crops (with flips) from images held in memory."""

    def __init__(self, folder, patch: int, seed: int):
        self.files = list_images(folder)
        self.images = []
        for path in self.files:
            image = load_rgb(path)
            if min(image.shape[:2]) < patch:
                pad = [(0, max(0, patch - image.shape[0])), (0, max(0, patch - image.shape[1])), (0, 0)]
                image = np.pad(image, pad, mode="reflect")
            self.images.append(image)
        self.patch = patch
        self.rng = np.random.default_rng(seed)

    def batch(self, size: int) -> torch.Tensor:
        out = np.empty((size, self.patch, self.patch, 3), np.uint8)
        for i in range(size):
            image = self.images[self.rng.integers(len(self.images))]
            top = self.rng.integers(0, image.shape[0] - self.patch + 1)
            left = self.rng.integers(0, image.shape[1] - self.patch + 1)
            crop = image[top : top + self.patch, left : left + self.patch]
            if self.rng.random() < 0.5:
                crop = crop[:, ::-1]
            out[i] = crop
        return torch.from_numpy(out).permute(0, 3, 1, 2).float().div_(255.0)


def drop_learning_rate(optimiser, step: int, steps: int, lr: float, at: float = 0.85):
    """The one-step schedule both trainings use: ``lr`` until ``at`` of the steps, then ``lr / 10``."""
    if step == int(at * steps):
        for group in optimiser.param_groups:
            group["lr"] = lr / 10


def rd_loss(output, target, lam):
    n, _, h, w = target.shape
    bpp = sum(torch.log(likelihood).sum() for likelihood in output["likelihoods"].values()) / (-math.log(2) * n * h * w)
    mse = torch.mean((output["x_hat"] - target) ** 2)
    return lam * 255**2 * mse + bpp, bpp, mse


def _optimisers(model, lr):
    main = [p for n, p in model.named_parameters() if not n.endswith(".quantiles")]
    aux = [p for n, p in model.named_parameters() if n.endswith(".quantiles")]
    return torch.optim.Adam(main, lr=lr), torch.optim.Adam(aux, lr=1e-3)


def train_one(
    model, sampler, lam, steps, checkpoint, batch, lr, progress_label, checkpoint_every=100, resume=True, log=print
):
    """Train ``model`` at ``lam`` up to ``steps`` total steps, checkpointing; returns the final stats."""
    from tqdm import tqdm

    optimiser, aux_optimiser = _optimisers(model, lr)
    done = 0
    stats, seconds = {}, 0.0
    if resume and checkpoint.exists():
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        aux_optimiser.load_state_dict(state["aux_optimiser"])
        done = state["step"]
        stats, seconds = state.get("stats", {}), state.get("seconds", 0.0)
        sampler.rng = np.random.default_rng(state["step"] + 12345)
    model.train()
    started = time.time() - seconds
    with tqdm(total=steps, initial=done, desc=progress_label, unit="step", dynamic_ncols=True) as bar:
        for step in range(done, steps):
            drop_learning_rate(optimiser, step, steps, lr)
            x = sampler.batch(batch)
            optimiser.zero_grad()
            aux_optimiser.zero_grad()
            out = model(x)
            loss, bpp, mse = rd_loss(out, x, lam)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            aux = model.aux_loss()
            aux.backward()
            aux_optimiser.step()
            stats = {"loss": float(loss), "bpp": float(bpp), "psnr": float(-10 * torch.log10(mse)), "aux": float(aux)}
            bar.set_postfix(bpp=f"{stats['bpp']:.3f}", psnr=f"{stats['psnr']:.2f}")
            bar.update(1)
            if (step + 1) % checkpoint_every == 0 or step + 1 == steps:
                torch.save(
                    {
                        "model": model.state_dict(),
                        "optimiser": optimiser.state_dict(),
                        "aux_optimiser": aux_optimiser.state_dict(),
                        "step": step + 1,
                        "stats": stats,
                        "seconds": time.time() - started,
                    },
                    checkpoint,
                )
    # stats and time survive a resume: they live in the checkpoint
    return {**stats, "seconds": round(time.time() - started if done < steps else seconds, 1)}


def train_family(
    images,
    out,
    lambdas=DEFAULT_LAMBDAS,
    patch=128,
    steps=1200,
    base_steps=4000,
    batch=8,
    lr=1e-4,
    resume=False,
    base=None,
    n=DEFAULT_N,
    m=DEFAULT_M,
    seed=0,
    log=print,
):
    """Train the whole family; see the module docstring. Returns the manifest dict."""
    lambdas = sorted(float(v) for v in lambdas)
    if not lambdas or any(not (v > 0 and math.isfinite(v)) for v in lambdas):
        raise IsscInputError("--lambdas must be positive numbers")
    out = Path(out)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    sampler = PatchSampler(images, patch, seed)
    base_lambda = lambdas[len(lambdas) // 2]
    base_ckpt = out / "checkpoints" / "base.pt"
    model = build_model(n, m)
    if base:
        model.load_state_dict(torch.load(base, map_location="cpu", weights_only=False)["model"])
        base_ckpt = Path(base)
    else:
        train_one(
            model,
            sampler,
            base_lambda,
            base_steps,
            base_ckpt,
            batch,
            lr,
            f"base (lambda {base_lambda:g})",
            resume=resume or base_ckpt.exists(),
            log=log,
        )
    base_state = torch.load(base_ckpt, map_location="cpu", weights_only=False)["model"]
    entries = []
    for index, lam in enumerate(lambdas, start=1):
        model_id = f"hp{index}"
        model = build_model(n, m)
        model.load_state_dict(base_state)
        ckpt = out / "checkpoints" / f"{model_id}.pt"
        stats = train_one(
            model, sampler, lam, steps, ckpt, batch, lr, f"{model_id} (lambda {lam:g})", resume=True, log=log
        )
        model.update(force=True)
        sha = save_fp16(model, out / f"{model_id}.pt")
        entries.append(
            {
                "id": model_id,
                "lambda": lam,
                "N": n,
                "M": m,
                "base_steps": base_steps,
                "finetune_steps": steps,
                "patch": patch,
                "batch": batch,
                "seed": seed,
                "train_bpp": stats.get("bpp"),
                "train_psnr": stats.get("psnr"),
                "seconds": stats["seconds"],
                "sha256": sha,
                "file": f"{model_id}.pt",
            }
        )
    manifest = {
        "format": "issc-codec-manifest/1",
        "architecture": "compressai ScaleHyperprior",
        "data": {"images": str(images), "count": len(sampler.files)},
        "models": entries,
    }
    (out / "manifest.yml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    return manifest
