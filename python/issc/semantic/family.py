# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Encoding images to semantic bitstreams and classifying (possibly corrupted) bitstreams.

    family = SemanticFamily.load()                   # the shipped family (data/semantic)
    data = family.encode(image, "sem2")              # container bytes
    label = family.classify(data)                    # int class, whatever the payload's bit errors

The payload is the EntropyBottleneck's rANS string (CompressAI ``compress``/``decompress``). Decoding is
best-effort as in the data users' codec (codec/codec.py): the payload is cut or zero-padded to the
header's length and then padded with :data:`~gnuradio.issc.codec.codec.PAD_BYTES_PER_SYMBOL` zero bytes per
symbol, so the decoder's reads stay in bounds and its escape loops end; decoded features are clamped to
the entropy model's support (:meth:`SemanticModel.feature_bounds`) and the logits are finite, so any
payload gives a valid class. A malformed header raises :class:`~.container.SemanticFormatError`.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import numpy as np
import torch
import yaml

from ..codec.codec import PAD_BYTES_PER_SYMBOL, one_torch_thread
from ..codec.models import sha256_of
from .container import FeatureHeader, SemanticFormatError, pack, unpack
from .models import CONFIG_KEYS, load_model

DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "semantic"
MANIFEST_FORMAT = "issc-semantic-manifest/1"
MAX_BATCH = 4096


def read_manifest(directory: str | Path | None = None) -> dict:
    """The validated-enough ``manifest.yml`` of a family directory (default: the shipped one)."""
    directory = Path(directory) if directory else DATA_DIR
    path = directory / "manifest.yml"
    try:
        manifest = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SemanticFormatError(f"no semantic manifest at '{path}'") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SemanticFormatError(f"manifest '{path}': cannot read ({str(exc)[:200]})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise SemanticFormatError(f"manifest '{path}': format must be '{MANIFEST_FORMAT}'")
    models = manifest.get("models")
    if not isinstance(models, list) or not models:
        raise SemanticFormatError(f"manifest '{path}': 'models' must be a non-empty list")
    for i, entry in enumerate(models):
        if not isinstance(entry, dict) or not {"id", "file", "sha256", *CONFIG_KEYS} <= set(entry):
            raise SemanticFormatError(
                f"manifest '{path}': models[{i}] needs id, file, sha256 and {', '.join(CONFIG_KEYS)}"
            )
        if not isinstance(entry["file"], str) or Path(entry["file"]).name != entry["file"]:
            raise SemanticFormatError(f"manifest '{path}': models[{i}].file must be a file name in the folder")
        if not isinstance(entry["id"], str) or not entry["id"] or not isinstance(entry["sha256"], str):
            raise SemanticFormatError(f"manifest '{path}': models[{i}].id and .sha256 must be strings")
    return manifest


class SemanticFamily:
    """The semantic models of one family directory, keyed by id (in the manifest's rate order).

    Args:
        models: ``{id: SemanticModel}`` ready to code.
        manifest: the family's manifest (its ``data`` entry says which data set the models classify).
    """

    def __init__(self, models: dict, manifest: dict | None = None, loaders: dict | None = None):
        if not models and not loaders:
            raise SemanticFormatError("a semantic family needs at least one model")
        self.models = dict(models)
        self.manifest = manifest or {}
        self._order = [e["id"] for e in self.manifest.get("models", [])]
        self._loaders = {k: v for k, v in (loaders or {}).items() if k not in self.models}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, directory: str | Path | None = None, lazy: bool = False) -> SemanticFamily:
        """Load the family in ``directory`` (default: the shipped one), checking each file's sha256.
        ``lazy``: load each model on first use."""
        directory = Path(directory) if directory else DATA_DIR
        manifest = read_manifest(directory)
        loaders = {e["id"]: functools.partial(_load_entry, directory, e) for e in manifest["models"]}
        if lazy:
            return cls({}, manifest, loaders)
        return cls({i: load() for i, load in loaders.items()}, manifest)

    @property
    def model_ids(self) -> list[str]:
        known = {*self.models, *self._loaders}
        return [i for i in self._order if i in known] + sorted(known - set(self._order))

    @property
    def classes(self) -> list:
        return list(self.manifest.get("classes", []))

    def model(self, model_id: str):
        if model_id not in self.models:
            if model_id not in self._loaders:
                raise SemanticFormatError(f"unknown semantic model '{model_id}' (have: {', '.join(self.model_ids)})")
            with self._lock:
                if model_id not in self.models:
                    self.models[model_id] = self._loaders[model_id]()
        return self.models[model_id]

    # -- encoding ---------------------------------------------------------------------------------------
    def batch(self, images, model_id: str) -> torch.Tensor:
        """Images as the model's input tensor ``N x C x S x S``.

        Args:
            images: one image or a stack: float in [0, 1] or uint8, shaped ``C x S x S`` / ``N x C x S x S``
                (the model's channels and size) or ``H x W`` / ``H x W x 3`` of any size (converted and
                resized like the training data).
        """
        model = self.model(model_id)
        cfg = model.config
        array = np.asarray(images)
        expected = (cfg["in_channels"], cfg["size"], cfg["size"])
        if array.ndim == 3 and array.shape == expected:
            array = array[None]
        elif array.ndim != 4 or array.shape[1:] != expected:
            array = _resize_one(array, cfg)[None]
        if array.shape[0] > MAX_BATCH:
            raise SemanticFormatError(f"at most {MAX_BATCH} images per call, got {array.shape[0]}")
        if array.dtype == np.uint8:
            array = array.astype(np.float32) / 255.0
        array = np.clip(np.nan_to_num(array.astype(np.float32)), 0.0, 1.0)
        return torch.from_numpy(np.ascontiguousarray(array))

    def features(self, images, model_id: str) -> torch.Tensor:
        """The quantised features in memory (what the bitstream carries), ``N x C x H x W``."""
        model = self.model(model_id)
        x = self.batch(images, model_id)
        with self._lock, one_torch_thread(), torch.inference_mode():
            return model.quantise(model.g_a(x))

    def encode_batch(self, images, model_id: str) -> list[tuple[FeatureHeader, bytes]]:
        """``[(header, payload)]``, one per image."""
        model = self.model(model_id)
        x = self.batch(images, model_id)
        with self._lock, one_torch_thread(), torch.inference_mode():
            y = model.g_a(x)
            strings = model.entropy_bottleneck.compress(y)
        c, h, w = y.shape[1:]
        return [(FeatureHeader(model_id, c, h, w, len(s)).validate(), s) for s in strings]

    def encode(self, image, model_id: str) -> bytes:
        """Container bytes of one image."""
        (parts,) = self.encode_batch(image, model_id)
        return pack(*parts)

    # -- decoding ---------------------------------------------------------------------------------------
    def decode_features(self, headers, payloads) -> torch.Tensor:
        """Best-effort features ``N x C x H x W`` from headers of one model and (corrupted, truncated or
        over-long) payloads."""
        headers = list(headers)
        if not headers or len(headers) != len(payloads) or len(headers) > MAX_BATCH:
            raise SemanticFormatError(f"need 1..{MAX_BATCH} headers and as many payloads")
        first = headers[0].validate()
        model = self.model(first.model)
        if first.shape != model.feature_shape:
            raise SemanticFormatError(
                f"header feature shape {first.shape} does not match model '{first.model}' {model.feature_shape}"
            )
        pad = b"\0" * (PAD_BYTES_PER_SYMBOL * first.symbols)
        strings = []
        for header, payload in zip(headers, payloads):
            if header.validate().model != first.model or header.shape != first.shape:
                raise SemanticFormatError("decode_features: all headers must be of one model")
            strings.append(bytes(payload)[: header.payload_bytes].ljust(header.payload_bytes, b"\0") + pad)
        with self._lock, one_torch_thread(), torch.inference_mode():
            return model.entropy_bottleneck.decompress(strings, first.shape[1:])

    def logits(self, features, model_id: str) -> torch.Tensor:
        """Class logits ``N x classes`` (always finite) of features ``N x C x H x W``."""
        model = self.model(model_id)
        with self._lock, one_torch_thread(), torch.inference_mode():
            return model.classify_features(features)

    def classify_features(self, features, model_id: str) -> np.ndarray:
        """Class indices of features ``N x C x H x W`` (decoded or from :meth:`features`)."""
        return self.logits(features, model_id).argmax(dim=1).numpy()

    def classify_parts(self, headers, payloads) -> np.ndarray:
        headers = list(headers)
        return self.classify_features(self.decode_features(headers, payloads), headers[0].model)

    def classify(self, data: bytes) -> int:
        """The class of one container (its payload may be corrupted, truncated or too long)."""
        header, payload = unpack(data, exact_payload=False)
        return int(self.classify_parts([header], [payload])[0])


def _resize_one(array: np.ndarray, cfg: dict) -> np.ndarray:
    """One ``H x W`` or ``H x W x 3`` image converted and resized like :func:`.data.load_image`."""
    from PIL import Image

    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3)):
        raise SemanticFormatError(
            f"an image must be {cfg['in_channels']} x {cfg['size']} x {cfg['size']} (or a stack of them), "
            f"H x W or H x W x 3; got shape {array.shape}"
        )
    if not (1 <= array.shape[0] <= 8192 and 1 <= array.shape[1] <= 8192):
        raise SemanticFormatError(f"image sides must be in [1, 8192], got {array.shape[:2]}")
    if array.dtype != np.uint8:
        array = np.round(np.clip(np.nan_to_num(array.astype(np.float32)), 0, 1) * 255).astype(np.uint8)
    img = Image.fromarray(array).convert("L" if cfg["in_channels"] == 1 else "RGB")
    img = img.resize((cfg["size"], cfg["size"]), Image.BILINEAR)
    out = np.asarray(img, dtype=np.float32) / 255.0
    return out[None] if cfg["in_channels"] == 1 else np.ascontiguousarray(out.transpose(2, 0, 1))


def _load_entry(directory: Path, entry: dict):
    path = directory / entry["file"]
    try:
        sha256 = sha256_of(path)
    except FileNotFoundError:
        raise SemanticFormatError(f"weights '{path}': no such file") from None
    except OSError as exc:
        raise SemanticFormatError(f"weights '{path}': cannot read ({exc.strerror or exc})") from None
    if sha256 != entry["sha256"]:
        raise SemanticFormatError(f"weights '{path}' do not match the manifest's sha256")
    return load_model(path, {k: entry[k] for k in CONFIG_KEYS})
