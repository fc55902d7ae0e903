# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Codec profiles: the measured distortion-versus-BER model of each source model (docs/model.md §6).

Per model ``g`` and metric, the fitted curve is

    log10 D(rho) = Ds + Dc / (1 + exp(-E1 (log10 rho - E2)))

with ``D`` the MSE on [0, 1] pixels (metric ``mse``) or ``1 - MS-SSIM`` (metric ``ms_ssim``).
A profile is a versioned YAML file shipped next to the weights::

    format: issc-codec-profile/1
    image_shape: [3, 256, 256]          # C, H, W the rates refer to
    made_by: "issc fit --images ... (how, when, data)"
    models:                              # sorted by rate
      - id: hp1
        R_s_bits: 3072.0                 # mean payload bits per image (entropy-coded strings)
        bpp: 0.0469
        lambda: 0.0018
        fits:
          mse:     {Ds: -2.1, Dc: 1.3, E1: 2.0, E2: -3.5, r2: 0.995}
          ms_ssim: {Ds: -1.3, Dc: 1.0, E1: 2.2, E2: -3.4, r2: 0.991}

Loading validates every field and raises :class:`ProfileError` naming the file and the key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..errors import IsscInputError

FORMAT = "issc-codec-profile/1"
METRICS = ("mse", "ms_ssim")
DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "codecs"
SHIPPED_PROFILE = DATA_DIR / "profile.yml"
MAX_FILE_BYTES = 4 << 20
MAX_SHAPE = 65536


class ProfileError(IsscInputError):
    """A codec profile that does not validate; the message names the file and the key."""


def logistic_log10_distortion(log10_ber, ds, dc, e1, e2):
    """``log10 D = Ds + Dc / (1 + exp(-E1 (log10 rho - E2)))`` (array-friendly, overflow-safe)."""
    z = -e1 * (np.asarray(log10_ber, dtype=float) - e2)
    # 1/(1+exp(z)) computed as expit(-z) without overflow warnings for very negative BERs
    return ds + dc * np.exp(-np.logaddexp(0.0, z))


@dataclass(frozen=True)
class DistortionFit:
    ds: float
    dc: float
    e1: float
    e2: float
    r2: float = float("nan")

    def log10_distortion(self, log10_ber):
        return logistic_log10_distortion(log10_ber, self.ds, self.dc, self.e1, self.e2)

    def distortion(self, log10_ber):
        return 10.0 ** self.log10_distortion(log10_ber)

    def to_dict(self) -> dict:
        return {"Ds": self.ds, "Dc": self.dc, "E1": self.e1, "E2": self.e2, "r2": self.r2}


@dataclass(frozen=True)
class ModelProfile:
    id: str
    r_s_bits: float
    bpp: float
    lam: float
    fits: Mapping[str, DistortionFit] = field(default_factory=dict)

    def log10_distortion(self, log10_ber, metric: str = "mse"):
        if metric not in self.fits:
            raise ProfileError(f"model '{self.id}' has no fit for metric '{metric}' (has: {', '.join(self.fits)})")
        return self.fits[metric].log10_distortion(log10_ber)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "R_s_bits": self.r_s_bits,
            "bpp": self.bpp,
            "lambda": self.lam,
            "fits": {m: f.to_dict() for m, f in self.fits.items()},
        }


@dataclass(frozen=True)
class CodecProfile:
    models: tuple  # of ModelProfile, sorted by R_s_bits
    image_shape: tuple = (3, 256, 256)
    made_by: str = ""
    source: str = "<memory>"

    @property
    def metrics(self) -> tuple:
        """Metrics every model has a fit for."""
        common = set(METRICS)
        for m in self.models:
            common &= set(m.fits)
        return tuple(x for x in METRICS if x in common)

    @property
    def source_dimensions(self) -> int:
        """``M = C H W``, the denominator of the bandwidth ratio."""
        return int(np.prod(self.image_shape))

    def model(self, model_id: str) -> ModelProfile:
        for m in self.models:
            if m.id == model_id:
                return m
        raise ProfileError(
            f"profile '{self.source}': no model '{model_id}' (has: {', '.join(m.id for m in self.models)})"
        )

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "image_shape": list(self.image_shape),
            "made_by": self.made_by,
            "models": [m.to_dict() for m in self.models],
        }

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> CodecProfile:
        def fail(key, message):
            raise ProfileError(f"profile '{source}': key '{key}': {message}")

        def number(value, key, positive=False):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not _finite(value):
                fail(key, f"must be a finite number, got {_short(value)}")
            if positive and value <= 0:
                fail(key, f"must be > 0, got {value!r}")
            return float(value)

        if not isinstance(data, Mapping):
            raise ProfileError(f"profile '{source}': the top level must be a mapping")
        if data.get("format") != FORMAT:
            fail("format", f"must be '{FORMAT}', got {data.get('format')!r}")
        unknown = set(data) - {"format", "image_shape", "made_by", "models", "data"}
        if unknown:
            fail(sorted(unknown)[0], "unknown key (allowed: format, image_shape, made_by, models, data)")
        shape = data.get("image_shape", [3, 256, 256])
        if (
            not isinstance(shape, list)
            or len(shape) != 3
            or not all(isinstance(s, int) and not isinstance(s, bool) and 0 < s <= MAX_SHAPE for s in shape)
        ):
            fail("image_shape", f"must be [C, H, W] integers in [1, {MAX_SHAPE}], got {_short(shape)}")
        raw_models = data.get("models")
        if not isinstance(raw_models, list) or not raw_models:
            fail("models", "must be a non-empty list")
        models, seen = [], set()
        for i, raw in enumerate(raw_models):
            key = f"models[{i}]"
            if not isinstance(raw, Mapping):
                fail(key, "must be a mapping")
            model_id = raw.get("id")
            if not isinstance(model_id, str) or not model_id or model_id in seen:
                fail(f"{key}.id", f"must be a unique non-empty string, got {_short(model_id)}")
            seen.add(model_id)
            fits = {}
            raw_fits = raw.get("fits")
            if not isinstance(raw_fits, Mapping) or not raw_fits:
                fail(f"{key}.fits", f"must map metrics ({', '.join(METRICS)}) to fits")
            for metric, params in raw_fits.items():
                if metric not in METRICS:
                    fail(f"{key}.fits.{metric}", f"unknown metric (allowed: {', '.join(METRICS)})")
                if not isinstance(params, Mapping) or not {"Ds", "Dc", "E1", "E2"} <= set(params):
                    fail(f"{key}.fits.{metric}", "must have Ds, Dc, E1, E2")
                p = {k: number(params[k], f"{key}.fits.{metric}.{k}") for k in ("Ds", "Dc", "E1", "E2")}
                r2 = params.get("r2", float("nan"))
                usable = isinstance(r2, (int, float)) and not isinstance(r2, bool) and _finite(r2)
                fits[metric] = DistortionFit(p["Ds"], p["Dc"], p["E1"], p["E2"], float(r2) if usable else float("nan"))
            models.append(
                ModelProfile(
                    model_id,
                    number(raw.get("R_s_bits"), f"{key}.R_s_bits", True),
                    number(raw.get("bpp"), f"{key}.bpp", True),
                    number(raw.get("lambda", 0.0), f"{key}.lambda"),
                    fits,
                )
            )
        models.sort(key=lambda m: m.r_s_bits)
        return cls(tuple(models), tuple(shape), str(data.get("made_by", "")), source)


def _finite(value) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond the float range
        return False


def _short(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load_profile(path: str | Path | None = None) -> CodecProfile:
    """Load and validate a codec profile (default: the shipped one): a regular file of at most
    :data:`MAX_FILE_BYTES`, UTF-8 YAML without duplicate keys."""
    from ..scenario import load_yaml_text

    path = Path(path) if path is not None else SHIPPED_PROFILE
    try:
        if not path.is_file():
            raise ProfileError(f"profile '{path}': " + ("no such file" if not path.exists() else "not a regular file"))
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise ProfileError(f"profile '{path}': larger than {MAX_FILE_BYTES} bytes, not a codec profile")
        data = load_yaml_text(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ProfileError(f"profile '{path}': cannot read: {' '.join(str(exc).split())[:300]}") from None
    return CodecProfile.from_dict(data, source=str(path))
