# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The codec family: CompressAI scale-hyperprior models (Balle et al. 2018), small enough to ship.

Weights are stored as fp16 state dicts (``<id>.pt``) next to ``manifest.yml`` under the package's
``data/codecs`` directory; :func:`load_model` restores fp32 and rebuilds the entropy-coder tables with
``update(force=True)``, which is deterministic, so encoders and decoders agree bit for bit.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import torch

from .profile import DATA_DIR

DEFAULT_N, DEFAULT_M = 64, 96


def build_model(n: int = DEFAULT_N, m: int = DEFAULT_M):
    # CompressAI (1.2.x) decorates helpers with torch.jit.script at import time, which torch >= 2.5
    # reports as deprecated on every import; the warning is about CompressAI's code, not ours, and
    # nothing here relies on TorchScript. Filter exactly that message while importing it.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`?torch\.jit\.script`? is deprecated", category=FutureWarning)
        from compressai.models import ScaleHyperprior
    return ScaleHyperprior(n, m)


def save_fp16(model, path: str | Path) -> str:
    """Save the state dict with floating tensors in fp16; returns the file's sha256."""
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    torch.save(state, path)
    return sha256_of(path)


def load_model(path: str | Path, n: int = DEFAULT_N, m: int = DEFAULT_M):
    """A ready-to-code fp32 model (entropy tables rebuilt) from an fp16 weights file."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}
    model = build_model(n, m)
    model.load_state_dict(state)
    model.update(force=True)
    model.eval()
    return model


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def shipped_dir() -> Path:
    return DATA_DIR
