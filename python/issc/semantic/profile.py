# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Semantic profiles: classification error versus BER per semantic model (docs/semantic.md).

Per model ``n`` the end-to-end semantic distortion (the probability that the receiver's class is wrong)
at bit-error rate ``rho`` of the payload is modelled by the logistic

    D(rho) = d_s + d_c / (1 + exp(-a1 (log10 rho - a0)))

``d_s``: the error rate with an error-free payload (source coding and classification); ``d_c``: the
extra error that channel errors add at worst; ``a1``, ``a0``: steepness and midpoint (log10 BER). The
distortion is linear here (an error rate), unlike the data users' profile (codec/profile.py), which
models log10 of MSE or 1 - MS-SSIM; the formula is the same function
(:func:`~gnuradio.issc.codec.profile.logistic_log10_distortion`). A profile is a JSON file::

    {"format": "issc-semantic-profile/1",
     "task": "classification", "metric": "error rate",
     "image_shape": [1, 8, 8], "classes": 10, "test_images": 360,
     "bers": [1e-05, ...], "repetitions": 16, "seed": 0, "made_by": "...", "data": {...},
     "models": [                                  # sorted by rate
       {"id": "sem1", "channels": 1, "lambda": 0.01,
        "R_s_bits": 84.6, "bpp": 1.32,              # mean payload bits per image, per input pixel
        "accuracy": 0.87, "d_s": 0.13, "d_c": 0.77, "a1": 3.1, "a0": -2.0,
        "rms_residual": 0.01, "max_residual": 0.02, "r2": 0.999,
        "measured": [0.13, ...]}]}                 # the error at each of "bers"

Loading validates every field and raises :class:`~gnuradio.issc.codec.profile.ProfileError` naming the
file and the key.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..codec.profile import ProfileError, ProfileModels, logistic_log10_distortion, model_entries

FORMAT = "issc-semantic-profile/1"
DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "semantic"
SHIPPED_PROFILE = DATA_DIR / "profile.json"
TOP_KEYS = {
    "format",
    "task",
    "metric",
    "image_shape",
    "classes",
    "test_images",
    "bers",
    "repetitions",
    "seed",
    "made_by",
    "data",
    "models",
}


def semantic_distortion(log10_ber, d_s, d_c, a1, a0):
    """``D = d_s + d_c / (1 + exp(-a1 (log10 rho - a0)))`` (array-friendly, overflow-safe)."""
    return logistic_log10_distortion(log10_ber, d_s, d_c, a1, a0)


@dataclass(frozen=True)
class SemanticModelProfile:
    id: str
    channels: int
    lam: float
    r_s_bits: float
    bpp: float
    accuracy: float
    d_s: float
    d_c: float
    a1: float
    a0: float
    rms_residual: float
    max_residual: float
    r2: float
    measured: tuple = ()

    def distortion(self, log10_ber):
        """Predicted classification error at ``log10 BER``."""
        return semantic_distortion(log10_ber, self.d_s, self.d_c, self.a1, self.a0)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "channels": self.channels,
            "lambda": self.lam,
            "R_s_bits": self.r_s_bits,
            "bpp": self.bpp,
            "accuracy": self.accuracy,
            "d_s": self.d_s,
            "d_c": self.d_c,
            "a1": self.a1,
            "a0": self.a0,
            "rms_residual": self.rms_residual,
            "max_residual": self.max_residual,
            "r2": self.r2,
            "measured": list(self.measured),
        }


@dataclass(frozen=True)
class SemanticProfile(ProfileModels):
    models: tuple  # of SemanticModelProfile, sorted by r_s_bits
    image_shape: tuple
    bers: tuple = ()
    extra: Mapping = None  # the other top-level keys, kept as they are
    source: str = "<memory>"

    def to_dict(self) -> dict:
        out = {"format": FORMAT, **dict(self.extra or {})}
        out.update(image_shape=list(self.image_shape), bers=list(self.bers), models=[m.to_dict() for m in self.models])
        return out

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> SemanticProfile:
        def fail(key, message):
            raise ProfileError(f"profile '{source}': key '{key}': {message}")

        def number(value, key, lo=-math.inf, hi=math.inf):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                fail(key, f"must be a finite number, got {value!r}")
            if not lo <= value <= hi:
                fail(key, f"must be in [{lo:g}, {hi:g}], got {value!r}")
            return float(value)

        if not isinstance(data, Mapping):
            raise ProfileError(f"profile '{source}': the top level must be a mapping")
        if data.get("format") != FORMAT:
            fail("format", f"must be '{FORMAT}', got {data.get('format')!r}")
        unknown = set(data) - TOP_KEYS
        if unknown:
            fail(sorted(unknown)[0], f"unknown key (allowed: {', '.join(sorted(TOP_KEYS))})")
        shape = data.get("image_shape")
        if (
            not isinstance(shape, list)
            or len(shape) != 3
            or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape)
        ):
            fail("image_shape", f"must be [C, H, W] positive integers, got {shape!r}")
        bers = data.get("bers", [])
        if not isinstance(bers, list):
            fail("bers", "must be a list of BERs")
        bers = [number(b, f"bers[{i}]", 0.0, 1.0) for i, b in enumerate(bers)]
        models = []
        for key, raw, model_id in model_entries(data, fail):
            for name in ("R_s_bits", "bpp", "d_s", "d_c", "a1", "a0"):
                if name not in raw:
                    fail(f"{key}.{name}", "missing")
            channels = raw.get("channels", 1)
            if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
                fail(f"{key}.channels", f"must be a positive integer, got {channels!r}")
            measured = raw.get("measured", [])
            if not isinstance(measured, list) or (measured and len(measured) != len(bers)):
                fail(f"{key}.measured", f"must be a list with one error per BER ({len(bers)})")
            models.append(
                SemanticModelProfile(
                    id=model_id,
                    channels=channels,
                    lam=number(raw.get("lambda", 0.0), f"{key}.lambda", 0.0),
                    r_s_bits=number(raw["R_s_bits"], f"{key}.R_s_bits", 1e-9),
                    bpp=number(raw["bpp"], f"{key}.bpp", 1e-12),
                    accuracy=number(raw.get("accuracy", 1.0 - raw["d_s"]), f"{key}.accuracy", 0.0, 1.0),
                    d_s=number(raw["d_s"], f"{key}.d_s", 0.0, 1.0),
                    d_c=number(raw["d_c"], f"{key}.d_c", -1.0, 1.0),
                    a1=number(raw["a1"], f"{key}.a1", 0.0),
                    a0=number(raw["a0"], f"{key}.a0"),
                    rms_residual=number(raw.get("rms_residual", 0.0), f"{key}.rms_residual", 0.0),
                    max_residual=number(raw.get("max_residual", 0.0), f"{key}.max_residual", 0.0),
                    r2=number(raw.get("r2", 1.0), f"{key}.r2", -math.inf, 1.0),
                    measured=tuple(number(v, f"{key}.measured[{j}]", 0.0, 1.0) for j, v in enumerate(measured)),
                )
            )
        models.sort(key=lambda m: m.r_s_bits)
        extra = {k: v for k, v in data.items() if k not in ("format", "image_shape", "bers", "models")}
        return cls(tuple(models), tuple(shape), tuple(bers), extra, source)


def load_semantic_profile(path: str | Path | None = None) -> SemanticProfile:
    """Load and validate a semantic profile (default: the shipped one)."""
    path = Path(path) if path is not None else SHIPPED_PROFILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(f"profile '{path}': no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProfileError(f"profile '{path}': cannot read: {str(exc)[:200]}") from None
    return SemanticProfile.from_dict(data, source=str(path))
