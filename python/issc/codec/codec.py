# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Encoding and decoding images with the codec family (the API the semantic blocks use).

    codec = SemanticCodec.load()                 # the shipped family
    data = codec.encode(image, "hp3")            # container bytes
    image = codec.decode(data)                   # float32 H x W x 3 in [0, 1], always finite

Images of any size are padded (edge replication) to a multiple of 64 and cropped back. Decoding is
robust: payload bit errors or truncation give a best-effort image (the strings are zero-padded so the
entropy decoder's reads stay in bounds and its escape loops end; non-finite pixels are zeroed and the
result clamped); malformed headers raise :class:`~gnuradio.issc.codec.container.CodecFormatError`.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from pathlib import Path

import numpy as np
import torch
import yaml

from .container import CodecFormatError, ContainerHeader, pack, unpack
from .models import load_model, sha256_of
from .profile import DATA_DIR

ALIGN = 64
# bytes of zeros appended to each string before decoding: >= 4 per coded symbol bounds the rANS reads
PAD_BYTES_PER_SYMBOL = 8


class SemanticCodec:
    """A family of loaded hyperprior models keyed by id.

    Args:
        models: ``{id: model}`` of CompressAI models with ``update()`` done.
        lambdas: optional ``{id: lambda}``; ids are ordered by it (rate order).
    """

    def __init__(self, models: dict, lambdas: dict | None = None, loaders: dict | None = None):
        if not models and not loaders:
            raise CodecFormatError("a codec family needs at least one model")
        self.models = dict(models)
        self.lambdas = dict(lambdas or {})
        self._loaders = {k: v for k, v in (loaders or {}).items() if k not in self.models}
        self._lock = threading.Lock()  # one coding at a time: torch thread pools are not re-entrant here

    @classmethod
    def load(cls, directory: str | Path | None = None, lazy: bool = False) -> SemanticCodec:
        """Load the family described by ``manifest.yml`` in ``directory`` (default: the shipped one),
        checking each weights file's sha256; the entropy tables come from the ``<id>.tables.npz``
        caches beside the weights (see :func:`~gnuradio.issc.codec.models.load_model`). ``lazy``: load
        each model (and check its weights) on its first use instead (one-shot commands)."""
        directory = Path(directory) if directory else DATA_DIR
        manifest_path = directory / "manifest.yml"
        try:
            manifest = yaml.safe_load(manifest_path.read_text())
        except FileNotFoundError:
            raise CodecFormatError(f"no codec manifest at '{manifest_path}'") from None
        loaders, lambdas = {}, {}
        for entry in manifest.get("models", []):
            loaders[entry["id"]] = functools.partial(_load_entry, directory, entry)
            lambdas[entry["id"]] = entry["lambda"]
        if lazy:
            return cls({}, lambdas, loaders)
        return cls({model_id: load() for model_id, load in loaders.items()}, lambdas)

    @property
    def model_ids(self) -> list[str]:
        return sorted({*self.models, *self._loaders}, key=lambda i: (self.lambdas.get(i, 0.0), i))

    def _model(self, model_id: str):
        if model_id not in self.models:
            if model_id not in self._loaders:
                raise CodecFormatError(f"unknown codec model '{model_id}' (have: {', '.join(self.model_ids)})")
            with self._lock:
                if model_id not in self.models:
                    self.models[model_id] = self._loaders[model_id]()
        return self.models[model_id]

    # -- encoding ---------------------------------------------------------------------------------------
    def encode_parts(self, image, model_id: str) -> tuple[ContainerHeader, bytes]:
        """``(header, payload)`` of an image (``H x W x 3`` uint8, or float in [0, 1])."""
        model = self._model(model_id)
        x, height, width = _to_tensor(image)
        with self._lock, one_torch_thread(), torch.inference_mode():
            out = model.compress(x)
        y_string, z_string = out["strings"][0][0], out["strings"][1][0]
        header = ContainerHeader(model_id, height, width, len(z_string), len(y_string)).validate()
        return header, z_string + y_string

    def encode(self, image, model_id: str) -> bytes:
        return pack(*self.encode_parts(image, model_id))

    # -- decoding ---------------------------------------------------------------------------------------
    def decode_parts(self, header: ContainerHeader, payload: bytes) -> np.ndarray:
        """Best-effort image from a header and a (possibly corrupted or truncated) payload."""
        header.validate()
        model = self._model(header.model)
        payload = bytes(payload)[: header.payload_bytes].ljust(header.payload_bytes, b"\0")
        z_string, y_string = payload[: header.z_bytes], payload[header.z_bytes :]
        padded_h = -(-header.height // ALIGN) * ALIGN
        padded_w = -(-header.width // ALIGN) * ALIGN
        z_shape = (padded_h // ALIGN, padded_w // ALIGN)
        y_symbols = model.M * (padded_h // 16) * (padded_w // 16)
        z_symbols = model.N * z_shape[0] * z_shape[1]
        strings = [
            [y_string + b"\0" * (PAD_BYTES_PER_SYMBOL * y_symbols)],
            [z_string + b"\0" * (PAD_BYTES_PER_SYMBOL * z_symbols)],
        ]
        with self._lock, one_torch_thread(), torch.inference_mode():
            x_hat = model.decompress(strings, z_shape)["x_hat"]
        image = x_hat[0, :, : header.height, : header.width].permute(1, 2, 0).numpy().astype(np.float32)
        return np.clip(np.nan_to_num(image, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)

    def decode(self, data: bytes) -> np.ndarray:
        return self.decode_parts(*unpack(data))


def _load_entry(directory: Path, entry: dict):
    path = directory / entry["file"]
    sha256 = sha256_of(path)
    if sha256 != entry["sha256"]:
        raise CodecFormatError(f"weights '{path}' do not match the manifest's sha256")
    return load_model(path, entry["N"], entry["M"], sha256=sha256)


def limit_torch_threads(threads: int = 1) -> None:
    """Give torch's intra-op pool ``threads`` threads (process-wide).

    GNU Radio runs every block in its own thread; torch's default pool (one thread per core) then
    competes with the scheduler's threads, and on a 2-core machine a 64 x 64 to 256 x 256 image codes
    no faster with two threads than with one (docs/performance.md). The semantic and DJSCC blocks and
    the codec commands call this; library users keep torch's default unless they call it.
    """
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


@contextlib.contextmanager
def one_torch_thread():
    """Run the enclosed torch code on one intra-op thread, then give the caller back its setting.

    The convolutions' float sums are split across the intra-op threads, so their rounding (and with
    it the decoded pixels, by one LSB, and in rare cases a quantised symbol of the bitstream) depends on
    the thread count. Coding always on one thread makes bitstreams and pixels the same whatever the
    caller set (docs/codec.md). With OpenMP (torch's CPU backend here) the setting is per calling
    thread, so two codecs in two GNU Radio block threads cannot undo each other's.
    """
    before = torch.get_num_threads()
    if before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before != 1:
            torch.set_num_threads(before)


def _to_tensor(image):
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise CodecFormatError(f"an image must be H x W x 3, got shape {image.shape}")
    height, width = image.shape[:2]
    if not (1 <= height <= 4096 and 1 <= width <= 4096):
        raise CodecFormatError(f"image sides must be in [1, 4096], got {height} x {width}")
    if image.dtype == np.uint8:
        x = image.astype(np.float32) / 255.0
    else:
        x = np.clip(np.nan_to_num(image.astype(np.float32)), 0.0, 1.0)
    pad_h, pad_w = (-height) % ALIGN, (-width) % ALIGN
    if pad_h or pad_w:
        x = np.pad(x, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None], height, width
