# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Training the semantic family: ``issc semantic train``.

Each model (its feature channels ``C`` and rate weight ``lambda``) is trained from scratch on the
training split with ``cross-entropy + lambda * bits per image`` (the bits are ``-log2`` of the entropy
model's likelihoods, CompressAI's noisy-quantisation proxy) plus the entropy bottleneck's auxiliary
quantile loss on its own optimiser. Adam, batches of ``batch`` images shifted by up to one pixel at
random, the learning rate divided by ten for the last 20 % of the epochs. A checkpoint is written
atomically after every epoch under ``out/checkpoints``; ``resume`` continues from it (the epoch's
shuffling and torch's random state come back with it, so a resumed run equals an uninterrupted one).
Results: ``out/<id>.pt`` (fp16, with the entropy tables) and ``out/manifest.yml``.
"""

from __future__ import annotations

import io
import math
import platform
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from ..codec.train import drop_learning_rate
from ..errors import IsscInputError
from ..files import atomic_write_bytes, atomic_write_text
from ..jsonutil import jsonable
from .data import LabelledData
from .family import MANIFEST_FORMAT
from .models import DEFAULT_WIDTH, build_model, save_fp16

DEFAULT_CHANNELS = (1, 2, 4, 8)
DEFAULT_LAMBDAS = (0.01, 0.003, 0.001, 0.0003)
DEFAULT_EPOCHS = 80
AUX_LR = 1e-3
LR_DROP_AT = 0.8


def versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "torch": str(torch.__version__), "numpy": str(np.__version__)}
    for name in ("compressai", "scikit-learn"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def default_downsample(size: int) -> int:
    """Stride-2 stages for an input side: one up to 16 (8 -> 4 x 4 features, 16 -> 8 x 8), above that
    down to about 8 x 8 (32 -> 2 stages, 64 -> 3), at most 4 (224 -> 14 x 14)."""
    if size <= 16:
        return 1
    return min(4, max(1, round(math.log2(size / 8))))


def _shifted(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Each image shifted by -1, 0 or 1 pixel in each direction (zero fill): cheap augmentation."""
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1))
    size = x.shape[-1]
    out = torch.empty_like(x)
    offsets = rng.integers(0, 3, size=(x.shape[0], 2))
    for i, (dy, dx) in enumerate(offsets):
        out[i] = padded[i, :, dy : dy + size, dx : dx + size]
    return out


def _save_checkpoint(path: Path, state: dict) -> None:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    atomic_write_bytes(path, buffer.getvalue())


def rate_bits(likelihoods: torch.Tensor) -> torch.Tensor:
    """Mean bits per image of the entropy model's likelihoods (``N x C x H x W``)."""
    return torch.log(likelihoods).sum() / (-math.log(2) * likelihoods.shape[0])


def train_one(
    model,
    data: LabelledData,
    lam: float,
    epochs: int,
    checkpoint: Path,
    batch: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    resume: bool = True,
    max_steps: int | None = None,
    log=print,
) -> dict:
    """Train one model up to ``epochs`` epochs (or ``max_steps`` optimiser steps in all), checkpointing
    after every epoch and at the step limit (which ends its epoch early: a resume goes on with the next
    epoch); returns the final statistics."""
    main = [p for n, p in model.named_parameters() if not n.endswith(".quantiles")]
    aux = [p for n, p in model.named_parameters() if n.endswith(".quantiles")]
    optimiser, aux_optimiser = torch.optim.Adam(main, lr=lr), torch.optim.Adam(aux, lr=AUX_LR)
    epoch, steps, seconds, stats = 0, 0, 0.0, {}
    torch.manual_seed(seed)
    if resume and checkpoint.exists():
        state = torch.load(checkpoint, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        aux_optimiser.load_state_dict(state["aux_optimiser"])
        epoch, steps, seconds = int(state["epoch"]), int(state["steps"]), float(state["seconds"])
        stats = {k: float(v) for k, v in state["stats"].items()}
        torch.set_rng_state(state["torch_rng"])
        log(f"resumed {checkpoint.name}: epoch {epoch}, step {steps}")
    x_all = torch.from_numpy(np.ascontiguousarray(data.train_x, dtype=np.float32))
    y_all = torch.from_numpy(np.asarray(data.train_y, dtype=np.int64))
    started = time.time() - seconds
    model.train()
    while epoch < epochs and (max_steps is None or steps < max_steps):
        if epoch:  # a run of one or two epochs keeps its learning rate
            drop_learning_rate(optimiser, epoch, epochs, lr, at=LR_DROP_AT)
        rng = np.random.default_rng([seed, epoch])
        order = torch.from_numpy(rng.permutation(len(y_all)))
        totals = np.zeros(4)
        for start in range(0, len(order), batch):
            if max_steps is not None and steps >= max_steps:
                break
            index = order[start : start + batch]
            x, y = _shifted(x_all[index], rng), y_all[index]
            optimiser.zero_grad()
            aux_optimiser.zero_grad()
            logits, likelihoods = model(x)
            ce = torch.nn.functional.cross_entropy(logits, y)
            bits = rate_bits(likelihoods)
            loss = ce + lam * bits
            loss.backward()
            torch.nn.utils.clip_grad_norm_(main, 5.0)
            optimiser.step()
            aux_loss = model.entropy_bottleneck.loss()
            aux_loss.backward()
            aux_optimiser.step()
            steps += 1
            correct = float((logits.argmax(1) == y).float().sum())
            totals += (ce.item() * len(y), bits.item() * len(y), correct, len(y))
        epoch += 1
        if totals[3]:
            stats = {k: float(v / totals[3]) for k, v in zip(("ce", "bits", "accuracy"), totals[:3])}
        if epoch % 10 == 0 or epoch == epochs:
            log(
                f"{checkpoint.stem} epoch {epoch}/{epochs}: ce {stats.get('ce', 0):.3f} "
                f"bits {stats.get('bits', 0):.1f} train accuracy {stats.get('accuracy', 0):.3f}"
            )
        _save_checkpoint(
            checkpoint,
            {
                "model": model.state_dict(),
                "optimiser": optimiser.state_dict(),
                "aux_optimiser": aux_optimiser.state_dict(),
                "epoch": epoch,
                "steps": steps,
                "seconds": time.time() - started,
                "stats": stats,
                "torch_rng": torch.get_rng_state(),
            },
        )
    return {**stats, "epochs": epoch, "steps": steps, "seconds": round(time.time() - started, 1)}


def parse_family(channels, lambdas) -> list[tuple[str, int, float]]:
    """``[(id, C, lambda)]``: ids ``sem1..`` in the given order (list them by increasing rate)."""
    channels = list(channels)
    lambdas = list(lambdas)
    if len(lambdas) == 1:
        lambdas = lambdas * len(channels)
    if not channels or len(lambdas) != len(channels):
        raise IsscInputError(f"--lambdas: give one lambda or one per model ({len(channels)}), got {len(lambdas)}")
    if any(isinstance(c, bool) or not isinstance(c, int) or not 1 <= c <= 1024 for c in channels):
        raise IsscInputError(f"--channels must be integers in [1, 1024], got {channels}")
    if any(not (math.isfinite(v) and v >= 0) for v in lambdas):
        raise IsscInputError(f"--lambdas must be finite and >= 0, got {lambdas}")
    return [(f"sem{i}", int(c), float(v)) for i, (c, v) in enumerate(zip(channels, lambdas), start=1)]


def train_family(
    data: LabelledData,
    out,
    epochs: int = DEFAULT_EPOCHS,
    resume: bool = False,
    channels=DEFAULT_CHANNELS,
    lambdas=DEFAULT_LAMBDAS,
    batch: int = 64,
    lr: float = 2e-3,
    seed: int = 0,
    width: int = DEFAULT_WIDTH,
    downsample: int | None = None,
    max_steps: int | None = None,
    command: str = "",
    log=print,
) -> dict:
    """Train every model of the family on ``data`` (see the module docstring); returns the manifest."""
    family = parse_family(channels, lambdas)
    out = Path(out)
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    in_channels, size = data.image_shape[0], data.image_shape[1]
    downsample = default_downsample(size) if downsample is None else downsample
    config = {
        "classes": len(data.classes),
        "in_channels": in_channels,
        "size": size,
        "width": width,
        "downsample": downsample,
    }
    entries = []
    for model_id, c, lam in family:
        torch.manual_seed(seed)
        model = build_model(channels=c, **config)
        checkpoint = out / "checkpoints" / f"{model_id}.pt"
        stats = train_one(model, data, lam, epochs, checkpoint, batch, lr, seed, resume, max_steps, log)
        model.finalise()
        sha = save_fp16(model, out / f"{model_id}.pt")
        accuracy, bits = _held_out(model, data)
        log(f"{model_id}: C={c} lambda={lam:g}: held-out accuracy {accuracy:.4f}, {bits:.1f} bits per image")
        entries.append(
            {
                "id": model_id,
                "channels": c,
                "lambda": lam,
                **config,
                "epochs": stats["epochs"],
                "steps": stats["steps"],
                "train_accuracy": stats.get("accuracy"),
                "train_bits_estimate": stats.get("bits"),
                "test_accuracy": accuracy,
                "test_bits_per_image": bits,
                "seconds": stats["seconds"],
                "file": f"{model_id}.pt",
                "sha256": sha,
            }
        )
    manifest = {
        "format": MANIFEST_FORMAT,
        "architecture": "3x3 conv encoder -> CompressAI EntropyBottleneck (rANS bitstream) -> conv classifier "
        "(gnuradio.issc.semantic.models)",
        "task": "classification",
        "classes": list(data.classes),
        "data": data.spec,
        "training": {
            "loss": "cross-entropy + lambda * bits per image (+ entropy bottleneck aux loss)",
            "epochs": epochs,
            "batch": batch,
            "lr": lr,
            "lr_drop": f"/10 from epoch {int(LR_DROP_AT * epochs)}",
            "augmentation": "random shift by -1..1 pixel",
            "seed": seed,
            "threads": torch.get_num_threads(),
            "machine": f"{platform.machine()} CPU",
        },
        "made_by": command,
        "versions": versions(),
        "weights": "fp16 state dicts with the EntropyBottleneck's tables (semantic.models.save_fp16 after finalise)",
        "models": entries,
    }
    atomic_write_text(out / "manifest.yml", yaml.safe_dump(jsonable(manifest), sort_keys=False))
    return manifest


def _held_out(model, data: LabelledData) -> tuple[float, float]:
    """Accuracy of the in-memory quantised pipeline and mean real bitstream bits on the test split."""
    if len(data.test_y) == 0:
        return float("nan"), float("nan")
    x = torch.from_numpy(np.ascontiguousarray(data.test_x, dtype=np.float32))
    with torch.inference_mode():
        y = model.g_a(x)
        predicted = model.classify_features(model.quantise(y)).argmax(1).numpy()
        strings = model.entropy_bottleneck.compress(y)
    accuracy = float(np.mean(predicted == data.test_y))
    return accuracy, float(np.mean([8 * len(s) for s in strings]))
