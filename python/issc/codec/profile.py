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
        codec: hyperprior                # optional: hyperprior (default), hevc or jpeg (codec/standard.py;
                                         # a standard entry's id is <codec>-q<quality>, e.g. hevc-q10)
        fits:
          mse:     {Ds: -2.1, Dc: 1.3, E1: 2.0, E2: -3.5, r2: 0.995}
          ms_ssim: {Ds: -1.3, Dc: 1.0, E1: 2.2, E2: -3.4, r2: 0.991}
        burst:                           # optional, with the top-level 'bursts' (below)
          clean: {mse: 0.006, ms_ssim: 0.2}
          mse: [0.2, 0.15, ...]          # mean D when the first failed codeword starts in bin j
          ms_ssim: [0.95, 0.9, ...]
    bursts:                              # optional: the burst profile (codec/bursts.py)
      format: issc-burst-profile/1
      made_by: "issc fit --bursts ..."
      block_bits: 384
      fractions: [0.0, 0.0625, ...]      # bin j is [fractions[j], fractions[j+1]) of the payload (last: to 1)

The burst curves say what a failed channel codeword does (the stream is lost from there on):
:meth:`BurstCurve.expected_distortion` is a frame's expected distortion when each of its ``n`` codewords
fails independently with probability ``p``. Profiles without them load as before.

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
BURST_FORMAT = "issc-burst-profile/1"
MAX_BURST_BINS = 1024
METRICS = ("mse", "ms_ssim")
DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "codecs"
SHIPPED_PROFILE = DATA_DIR / "profile.yml"
FAMILY_PROFILES = {
    "learned": SHIPPED_PROFILE,
    "mixed": DATA_DIR / "profile-mixed.yml",
    "hevc": DATA_DIR / "profile-hevc.yml",
    "jpeg": DATA_DIR / "profile-jpeg.yml",
}
"""The shipped data-user families (docs/codec.md): the learned hyperprior models, those plus the HEVC intra
operating points (``mixed``), and the HEVC or JPEG operating points alone (the ZF-WF benchmarks)."""
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
class BurstCurve:
    """A model's distortion when its first failed codeword starts in fraction bin ``j`` of the payload.

    Args:
        fractions: the bins' left edges (``0 = f_0 < f_1 < ... < 1``; the last bin ends at 1).
        values: ``{metric: D_j}`` (non-increasing in ``j``).
        clean: ``{metric: D}`` of the error-free payload.
    """

    fractions: tuple
    values: Mapping[str, tuple]
    clean: Mapping[str, float]

    def expected_distortion(self, metric: str, block_error, blocks, frame_error: bool = False):
        """``E[D]`` of a payload of ``blocks`` codewords, each failing independently with probability
        ``block_error`` (arrays broadcast): block ``i`` (of ``n``) is in bin ``j`` when
        ``f_j <= i / n < f_{j+1}``, so ``P(first failure in bin j) = q^a_j - q^b_j`` with ``q = 1 - p``,
        ``a_j = ceil(f_j n)``, ``b_j = ceil(f_{j+1} n)``, and no failure at all has probability ``q^n``.
        With ``frame_error``: ``(E[D], 1 - q^n)``."""
        # p = 1 - 1e-16 stands for 1 (q^a = 1e-16^a): no -inf, no floating-point state to switch per call
        p = np.clip(np.asarray(block_error, float), 0.0, 1.0 - 1e-16)
        n = np.maximum(np.asarray(blocks, float), 1.0)
        counts = np.ceil(self._edges * n[..., None] - 1e-9)  # a_0 = 0, ..., b_last = n
        log_q = np.log1p(-p)[..., None]
        survive = np.exp(counts * log_q)  # q^a_j, j = 0..J (q^0 = 1)
        # q^a - q^b = q^a (1 - q^(b - a)), accurate for the tiny p of a good code
        first_in_bin = survive[..., :-1] * -np.expm1(np.diff(counts, axis=-1) * log_q)
        expected = first_in_bin @ self._values[metric] + survive[..., -1] * self.clean[metric]
        return (expected, 1.0 - survive[..., -1]) if frame_error else expected

    def __post_init__(self):  # the arrays expected_distortion needs, once
        object.__setattr__(self, "_edges", np.append(np.asarray(self.fractions, float), 1.0))
        object.__setattr__(self, "_values", {m: np.asarray(v, float) for m, v in self.values.items()})

    def to_dict(self) -> dict:
        return {"clean": dict(self.clean), **{m: list(v) for m, v in self.values.items()}}


@dataclass(frozen=True)
class ModelProfile:
    id: str
    r_s_bits: float
    bpp: float
    lam: float
    fits: Mapping[str, DistortionFit] = field(default_factory=dict)
    burst: BurstCurve | None = None
    codec: str = "hyperprior"  # or a standard codec (hevc, jpeg: codec/standard.py)

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
            **({"burst": self.burst.to_dict()} if self.burst is not None else {}),
            **({"codec": self.codec} if self.codec != "hyperprior" else {}),
        }


def model_entries(data: Mapping, fail):
    """``(key, entry, id)`` of each entry of a profile's ``models`` list, checked as every profile kind needs:
    a non-empty list of mappings with unique non-empty string ids; ``fail(key, message)`` raises."""
    raw_models = data.get("models")
    if not isinstance(raw_models, list) or not raw_models:
        fail("models", "must be a non-empty list")
    seen = set()
    for i, raw in enumerate(raw_models):
        key = f"models[{i}]"
        if not isinstance(raw, Mapping):
            fail(key, "must be a mapping")
        model_id = raw.get("id")
        if not isinstance(model_id, str) or not model_id or model_id in seen:
            fail(f"{key}.id", f"must be a unique non-empty string, got {_short(model_id)}")
        seen.add(model_id)
        yield key, raw, model_id


class ProfileModels:
    """What every profile kind offers over its ``models`` (each with an ``id``), ``image_shape`` and
    ``source`` (the codec profile here, the semantic users' in :mod:`gnuradio.issc.semantic.profile`)."""

    @property
    def source_dimensions(self) -> int:
        """``M = C H W`` of the images, the denominator of the bandwidth ratio."""
        return int(np.prod(self.image_shape))

    def model(self, model_id: str):
        """The model ``model_id``; ProfileError naming the profile and the models it has otherwise."""
        for m in self.models:
            if m.id == model_id:
                return m
        raise ProfileError(
            f"profile '{self.source}': no model '{model_id}' (has: {', '.join(m.id for m in self.models)})"
        )


@dataclass(frozen=True)
class CodecProfile(ProfileModels):
    models: tuple  # of ModelProfile, sorted by R_s_bits
    image_shape: tuple = (3, 256, 256)
    made_by: str = ""
    source: str = "<memory>"
    bursts: Mapping | None = None  # the top-level 'bursts' entry (format, made_by, block_bits, fractions)

    @property
    def has_bursts(self) -> bool:
        """Whether every model has a burst curve (:class:`BurstCurve`)."""
        return self.bursts is not None and all(m.burst is not None for m in self.models)

    @property
    def metrics(self) -> tuple:
        """Metrics every model has a fit for."""
        common = set(METRICS)
        for m in self.models:
            common &= set(m.fits)
        return tuple(x for x in METRICS if x in common)

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "image_shape": list(self.image_shape),
            "made_by": self.made_by,
            "models": [m.to_dict() for m in self.models],
            **({"bursts": dict(self.bursts)} if self.bursts is not None else {}),
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
        unknown = set(data) - {"format", "image_shape", "made_by", "models", "data", "bursts"}
        if unknown:
            fail(sorted(unknown)[0], "unknown key (allowed: format, image_shape, made_by, models, data, bursts)")
        bursts = _burst_meta(data["bursts"], fail) if "bursts" in data else None
        shape = data.get("image_shape", [3, 256, 256])
        if (
            not isinstance(shape, list)
            or len(shape) != 3
            or not all(isinstance(s, int) and not isinstance(s, bool) and 0 < s <= MAX_SHAPE for s in shape)
        ):
            fail("image_shape", f"must be [C, H, W] integers in [1, {MAX_SHAPE}], got {_short(shape)}")
        models = []
        for key, raw, model_id in model_entries(data, fail):
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
            burst = None
            if "burst" in raw:
                if bursts is None:
                    fail(f"{key}.burst", "a model's burst curve needs the top-level 'bursts' entry")
                burst = _burst_curve(raw["burst"], f"{key}.burst", tuple(bursts["fractions"]), tuple(fits), fail)
            elif bursts is not None:
                fail(f"{key}.burst", "missing: with a top-level 'bursts' entry every model needs its burst curve")
            codec = _codec_of(raw, model_id, key, fail)
            models.append(
                ModelProfile(
                    model_id,
                    number(raw.get("R_s_bits"), f"{key}.R_s_bits", True),
                    number(raw.get("bpp"), f"{key}.bpp", True),
                    number(raw.get("lambda", 0.0), f"{key}.lambda"),
                    fits,
                    burst,
                    codec,
                )
            )
        models.sort(key=lambda m: m.r_s_bits)
        return cls(tuple(models), tuple(shape), str(data.get("made_by", "")), source, bursts)


def _codec_of(raw: Mapping, model_id: str, key: str, fail) -> str:
    """A model entry's ``codec`` (default ``hyperprior``); a standard codec's id must name its operating point
    (``hevc-q30``: codec/standard.py), so the optimiser's choice is an encoder setting."""
    from .standard import CODEC_NAMES, parse_model_id

    codec = raw.get("codec", "hyperprior")
    if codec not in CODEC_NAMES:
        fail(f"{key}.codec", f"must be one of {', '.join(CODEC_NAMES)}, got {_short(codec)}")
    if codec != "hyperprior":
        try:
            named = parse_model_id(model_id)[0]
        except IsscInputError as exc:
            fail(f"{key}.id", str(exc))
        if named != codec:
            fail(f"{key}.id", f"a {codec} operating point is named {codec}-q<quality>, got {model_id!r}")
    return codec


def _number_list(value, key, fail, length=None) -> list:
    if not isinstance(value, list) or not value or (length is not None and len(value) != length):
        fail(key, "must be a list of " + (f"{length} numbers" if length is not None else "numbers"))
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not _finite(v):
            fail(key, f"must hold finite numbers, got {_short(v)}")
    return [float(v) for v in value]


def _burst_meta(raw, fail) -> dict:
    """The validated top-level ``bursts`` entry."""
    if not isinstance(raw, Mapping):
        fail("bursts", "must be a mapping")
    allowed = {"format", "made_by", "block_bits", "fractions", "images"}
    unknown = set(raw) - allowed
    if unknown:
        fail(f"bursts.{sorted(unknown)[0]}", f"unknown key (allowed: {', '.join(sorted(allowed))})")
    if raw.get("format") != BURST_FORMAT:
        fail("bursts.format", f"must be '{BURST_FORMAT}', got {_short(raw.get('format'))}")
    block_bits = raw.get("block_bits")
    if isinstance(block_bits, bool) or not isinstance(block_bits, int) or not 1 <= block_bits <= 1 << 20:
        fail("bursts.block_bits", f"must be an integer in [1, {1 << 20}], got {_short(block_bits)}")
    fractions = _number_list(raw.get("fractions"), "bursts.fractions", fail)
    if (
        len(fractions) > MAX_BURST_BINS
        or fractions[0] != 0.0
        or fractions[-1] >= 1.0
        or any(b <= a for a, b in zip(fractions, fractions[1:]))
    ):
        fail("bursts.fractions", f"must start at 0, increase and stay below 1 (at most {MAX_BURST_BINS} bins)")
    images = raw.get("images", [])
    if not isinstance(images, list) or not all(isinstance(i, str) for i in images):
        fail("bursts.images", "must be a list of file names")
    made_by = raw.get("made_by", "")
    if not isinstance(made_by, str):
        fail("bursts.made_by", "must be a string")
    return {
        "format": BURST_FORMAT,
        "made_by": made_by,
        "block_bits": block_bits,
        "fractions": fractions,
        "images": images,
    }


def _burst_curve(raw, key, fractions: tuple, metrics: tuple, fail) -> BurstCurve:
    """A model's validated ``burst`` entry: ``clean`` and one non-increasing list per fitted metric."""
    if not isinstance(raw, Mapping):
        fail(key, "must be a mapping")
    unknown = set(raw) - {"clean", *METRICS}
    if unknown:
        fail(f"{key}.{sorted(unknown)[0]}", f"unknown key (allowed: clean, {', '.join(METRICS)})")
    clean_raw = raw.get("clean")
    if not isinstance(clean_raw, Mapping):
        fail(f"{key}.clean", "must map metrics to the error-free distortion")
    clean, values = {}, {}
    for metric in metrics:
        top = 1.0 if metric == "ms_ssim" else float("inf")
        value = clean_raw.get(metric)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not _finite(value)
            or not 0 <= value <= top
        ):
            fail(f"{key}.clean.{metric}", f"must be a number in [0, {top:g}], got {_short(value)}")
        clean[metric] = float(value)
        curve = _number_list(raw.get(metric), f"{key}.{metric}", fail, len(fractions))
        if any(not 0 <= v <= top for v in curve):
            fail(f"{key}.{metric}", f"values must be in [0, {top:g}]")
        if any(b > a for a, b in zip(curve, curve[1:])):
            fail(f"{key}.{metric}", "must not increase (a later failed codeword never hurts more)")
        values[metric] = tuple(curve)
    return BurstCurve(fractions, values, clean)


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
