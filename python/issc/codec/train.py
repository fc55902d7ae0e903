# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Training the codec family: ``issc train``.

A base model is trained at the middle lambda, then every lambda is fine-tuned from it (much faster
than training each from scratch on 2 CPU cores). Loss: ``lambda 255^2 MSE + bpp`` (CompressAI's
convention) plus the entropy bottleneck's auxiliary loss. Checkpoints every ``checkpoint_every`` steps
under ``out/checkpoints``; ``resume`` continues from them. Results: ``out/<id>.pt`` (fp16) and
``out/manifest.yml``.

Checkpoints hold tensors, numbers and strings only (model and optimiser state dicts, the step, the stats),
so they load with ``torch.load(weights_only=True)``: a checkpoint file cannot run code. They are written
atomically (:func:`save_checkpoint`), so a run killed at any instant leaves the previous checkpoint or the
new one, never a torn file; a file that still does not load is a clean error naming it.
"""

from __future__ import annotations

import io
import math
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from ..errors import IsscInputError
from ..files import atomic_write_bytes, atomic_write_text
from .images import list_images, load_rgb
from .models import DEFAULT_M, DEFAULT_N, build_model, save_fp16

DEFAULT_LAMBDAS = (0.0009, 0.0018, 0.0035, 0.0067, 0.013, 0.025, 0.05)
MAX_PATCH = 1024
MAX_TRAINING_BYTES = 4 << 30
"""Most decoded pixel data a training set may hold in memory (the shipped one: about 70 MB)."""
MAX_CHECKPOINT_BYTES = 2 << 30


def save_checkpoint(state: dict, path) -> None:
    """``torch.save`` of ``state`` (tensors, numbers, strings, lists and dicts of them) written atomically."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path, what: str = "checkpoint", keys=("model",)) -> dict:
    """A checkpoint written by :func:`save_checkpoint` (or by earlier versions: the same plain dict),
    loaded with ``weights_only=True``; anything else (missing, not a regular file, not a torch file, pickled
    objects, missing ``keys``) is an :class:`IsscInputError` naming ``what`` and the file."""
    path = Path(path)
    if not path.is_file():
        raise IsscInputError(f"{what} '{path}': " + ("no such file" if not path.exists() else "not a regular file"))
    if path.stat().st_size > MAX_CHECKPOINT_BYTES:
        raise IsscInputError(f"{what} '{path}': larger than {MAX_CHECKPOINT_BYTES} bytes, not a checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises pickle, runtime, zip and EOF errors alike
        raise IsscInputError(f"{what} '{path}': not a loadable checkpoint ({_load_error(exc)})") from None
    if not isinstance(state, dict) or any(key not in state for key in keys):
        raise IsscInputError(f"{what} '{path}': not a checkpoint (needs the keys {', '.join(keys)})")
    return state


def _load_error(exc: Exception) -> str:
    """The gist of a ``torch.load`` failure (torch's own text is a page of advice to load unsafely)."""
    import re

    text = str(exc)
    found = re.search(r"WeightsUnpickler error:\s*(.*?)(?:\. Please|\n\s*Check|$)", text, re.S)
    if found:
        gist = " ".join(found.group(1).split())
        if "global" in gist.lower():
            return f"it holds Python objects, which are not loaded ({gist[:120]}); only tensors and plain values are"
        return f"not a torch file ({gist[:120]})"
    return " ".join(text.split())[:160] or type(exc).__name__


def load_model_state(model, state: dict, path, what: str = "checkpoint") -> None:
    """``model.load_state_dict`` with a mismatch (another architecture or size) as a clean error."""
    try:
        model.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        text = " ".join(str(exc).split())[:200]
        raise IsscInputError(f"{what} '{path}': does not fit the model ({text})") from None


class PatchSampler:
    """Random ``patch x patch`` crops (with flips) from images held in memory."""

    def __init__(self, folder, patch: int, seed: int):
        self.files = list_images(folder)
        self.images = []
        held = 0
        for path in self.files:
            image = load_rgb(path)
            if min(image.shape[:2]) < patch:
                pad = [(0, max(0, patch - image.shape[0])), (0, max(0, patch - image.shape[1])), (0, 0)]
                # reflection needs the image longer than the padding; a tiny image repeats its edge instead
                fits = all(before_after[1] < size for before_after, size in zip(pad, image.shape[:2]))
                image = np.pad(image, pad, mode="reflect" if fits else "edge")
            held += image.nbytes
            if held > MAX_TRAINING_BYTES:
                raise IsscInputError(
                    f"--images '{folder}': more than {MAX_TRAINING_BYTES >> 30} GiB of pixels to hold in memory"
                )
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
        state = load_checkpoint(checkpoint, keys=("model", "optimiser", "aux_optimiser", "step"))
        load_model_state(model, state["model"], checkpoint)
        try:
            optimiser.load_state_dict(state["optimiser"])
            aux_optimiser.load_state_dict(state["aux_optimiser"])
        except (ValueError, KeyError, TypeError) as exc:
            raise IsscInputError(f"checkpoint '{checkpoint}': optimiser state does not fit ({exc})") from None
        done = min(int(state["step"]), steps)
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
            stats = {
                "loss": float(loss.detach()),
                "bpp": float(bpp.detach()),
                "psnr": float(-10 * torch.log10(mse.detach())),
                "aux": float(aux.detach()),
            }
            bar.set_postfix(bpp=f"{stats['bpp']:.3f}", psnr=f"{stats['psnr']:.2f}")
            bar.update(1)
            if (step + 1) % checkpoint_every == 0 or step + 1 == steps:
                save_checkpoint(
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
    if patch % 64 or not 64 <= patch <= MAX_PATCH:
        raise IsscInputError(f"--patch must be a multiple of 64 in [64, {MAX_PATCH}] (the model's stride), got {patch}")
    out = Path(out)
    try:
        (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise IsscInputError(f"--out '{out}': cannot create the folder ({exc.strerror or exc})") from None
    model = build_model(n, m)
    if base:
        # checked before the images are read: a wrong --base fails at once
        load_model_state(model, load_checkpoint(base, "--base")["model"], base, "--base")
    torch.manual_seed(seed)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    sampler = PatchSampler(images, patch, seed)
    base_lambda = lambdas[len(lambdas) // 2]
    base_ckpt = out / "checkpoints" / "base.pt"
    if base:
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
    base_state = load_checkpoint(base_ckpt, "--base" if base else "checkpoint")["model"]
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
    atomic_write_text(out / "manifest.yml", yaml.safe_dump(manifest, sort_keys=False))
    return manifest
