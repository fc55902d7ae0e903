# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The codec family: CompressAI scale-hyperprior models (Balle et al. 2018), small enough to ship.

Weights are stored as fp16 state dicts (``<id>.pt``) next to ``manifest.yml`` under the package's
``data/codecs`` directory. :func:`load_model` restores fp32 and needs the entropy coder's tables, which
CompressAI rebuilds with ``update(force=True)`` (deterministic, so encoders and decoders agree bit for
bit, but about 0.2 s per model). The rebuilt tables are therefore cached next to the weights in
``<id>.tables.npz`` (:func:`load_tables`, :func:`write_tables`): versioned (format and CompressAI
version), tied to the weights by their sha256 and checksummed; a missing, stale or corrupt cache is
rebuilt (and rewritten where the directory is writable), never an error.

Start-up: ``import compressai`` runs ``compressai/__init__.py``, which imports its point-cloud datasets
and transform registry and with them torch_geometric, torchvision and ``torch._dynamo`` (seconds). For
coding, :func:`coder_class` imports only the modules it needs (entropy models, GDN, the rANS coder)
under a lazy stand-in for the package's ``__init__`` (:func:`_compressai_core`), and
:class:`ScaleHyperpriorCoder` is CompressAI 1.2.8's ``ScaleHyperprior`` coding path (same modules,
same state-dict keys, same ``compress``/``decompress``). Training (:func:`build_model`) still uses
CompressAI's own class; a test checks both give identical bitstreams and images.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import io
import logging
import math
import os
import sys
import tempfile
import threading
import warnings
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .profile import DATA_DIR

DEFAULT_N, DEFAULT_M = 64, 96
TABLES_FORMAT = "issc-codec-tables/1"
TABLES_SUFFIX = ".tables.npz"
# CompressAI's default scale table (compressai.models.base.get_scale_table)
SCALES_MIN, SCALES_MAX, SCALES_LEVELS = 0.11, 256.0, 64
TABLE_KEYS = (
    "entropy_bottleneck._quantized_cdf",
    "entropy_bottleneck._cdf_length",
    "entropy_bottleneck._offset",
    "gaussian_conditional._quantized_cdf",
    "gaussian_conditional._cdf_length",
    "gaussian_conditional._offset",
    "gaussian_conditional.scale_table",
)

log = logging.getLogger(__name__)


def _quiet_jit():
    # CompressAI (1.2.x) decorates helpers with torch.jit.script at import time, which torch >= 2.5
    # reports as deprecated on every import; the warning is about CompressAI's code, not ours, and
    # nothing here relies on TorchScript. Filter exactly that message while importing it.
    context = warnings.catch_warnings()
    context.__enter__()
    warnings.filterwarnings("ignore", message=r"`?torch\.jit\.script`? is deprecated", category=FutureWarning)
    return context


def build_model(n: int = DEFAULT_N, m: int = DEFAULT_M):
    """CompressAI's own ``ScaleHyperprior`` (for training: forward pass, likelihoods, aux loss)."""
    context = _quiet_jit()
    try:
        from compressai.models import ScaleHyperprior
    finally:
        context.__exit__(None, None, None)
    return ScaleHyperprior(n, m)


def _compressai_core():
    """``(EntropyBottleneck, GaussianConditional, GDN)`` imported without ``compressai/__init__.py``.

    If CompressAI is not imported yet, ``sys.modules['compressai']`` gets the real package's module
    object (same spec, ``__path__`` and files) with a lazy ``__init__`` in place of the eager one: the
    entropy-coder functions of the real one, ``__version__``, and every submodule (``compressai.zoo``,
    ``compressai.models``, ...) imported on first access (PEP 562 module ``__getattr__``), so later users
    of CompressAI still find all of it.
    """
    if "compressai" not in sys.modules:
        spec = importlib.util.find_spec("compressai")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("CompressAI is not installed (pip install compressai)")
        package = importlib.util.module_from_spec(spec)
        coders = ["ans"] + (["rangecoder"] if importlib.util.find_spec("range_coder") else [])
        state = {"coder": "ans"}

        def get_entropy_coder():
            return state["coder"]

        def available_entropy_coders():
            return list(coders)

        def set_entropy_coder(entropy_coder):
            if entropy_coder not in coders:
                raise ValueError(f'Invalid entropy coder "{entropy_coder}", choose from ({", ".join(coders)}).')
            state["coder"] = entropy_coder

        def lazy_attribute(name):
            if name == "__version__":
                return importlib.import_module("compressai.version").__version__
            if not name.startswith("_") and importlib.util.find_spec(f"compressai.{name}") is not None:
                return importlib.import_module(f"compressai.{name}")
            raise AttributeError(f"module 'compressai' has no attribute '{name}'")

        package.get_entropy_coder = get_entropy_coder
        package.available_entropy_coders = available_entropy_coders
        package.set_entropy_coder = set_entropy_coder
        package.__getattr__ = lazy_attribute
        sys.modules["compressai"] = package
    context = _quiet_jit()
    try:
        entropy = importlib.import_module("compressai.entropy_models")
        gdn = importlib.import_module("compressai.layers.gdn")
    finally:
        context.__exit__(None, None, None)
    return entropy.EntropyBottleneck, entropy.GaussianConditional, gdn.GDN


_CODER_CLASS = None


def coder_class():
    """:class:`ScaleHyperpriorCoder` (defined on first use: it needs torch and CompressAI's entropy models)."""
    global _CODER_CLASS
    if _CODER_CLASS is None:
        _CODER_CLASS = _define_coder_class()
    return _CODER_CLASS


# Set by load_model in its thread while it builds a model whose weights it is about to load: the
# convolutions then skip their random initialisation (Kaiming draws, a third of a load's time).
_weights_follow = threading.local()


def _define_coder_class():
    import torch
    from torch import nn

    entropy_bottleneck, gaussian_conditional, gdn = _compressai_core()

    class Conv2d(nn.Conv2d):
        def reset_parameters(self):
            if not getattr(_weights_follow, "active", False):
                super().reset_parameters()

    class ConvTranspose2d(nn.ConvTranspose2d):
        def reset_parameters(self):
            if not getattr(_weights_follow, "active", False):
                super().reset_parameters()

    def conv(cin, cout, kernel_size=5, stride=2):
        return Conv2d(cin, cout, kernel_size=kernel_size, stride=stride, padding=kernel_size // 2)

    def deconv(cin, cout, kernel_size=5, stride=2):
        return ConvTranspose2d(
            cin, cout, kernel_size=kernel_size, stride=stride, output_padding=stride - 1, padding=kernel_size // 2
        )

    class ScaleHyperpriorCoder(nn.Module):
        """The coding path of CompressAI 1.2.8's ``ScaleHyperprior`` (compressai/models/google.py,
        BSD-3-Clause-Clear, InterDigital): the same layers under the same names, ``compress`` and
        ``decompress`` line for line, ``update`` as ``CompressionModel.update`` with the default scale
        table."""

        def __init__(self, N, M):  # noqa: N803 - CompressAI's argument names
            super().__init__()
            self.entropy_bottleneck = entropy_bottleneck(N)
            self.g_a = nn.Sequential(
                conv(3, N), gdn(N), conv(N, N), gdn(N), conv(N, N), gdn(N), conv(N, M)
            )  # fmt: skip
            self.g_s = nn.Sequential(
                deconv(M, N), gdn(N, inverse=True), deconv(N, N), gdn(N, inverse=True),
                deconv(N, N), gdn(N, inverse=True), deconv(N, 3),
            )  # fmt: skip
            self.h_a = nn.Sequential(
                conv(M, N, stride=1, kernel_size=3), nn.ReLU(inplace=True), conv(N, N), nn.ReLU(inplace=True),
                conv(N, N),
            )  # fmt: skip
            self.h_s = nn.Sequential(
                deconv(N, N), nn.ReLU(inplace=True), deconv(N, N), nn.ReLU(inplace=True),
                conv(N, M, stride=1, kernel_size=3), nn.ReLU(inplace=True),
            )  # fmt: skip
            self.gaussian_conditional = gaussian_conditional(None)
            self.N = int(N)
            self.M = int(M)

        def load_state_dict(self, state_dict, strict=True):
            # the entropy tables are registered empty: size them like the state dict's (as CompressAI does)
            for key in TABLE_KEYS:
                if key in state_dict:
                    module_name, buffer_name = key.split(".")
                    getattr(self, module_name)._buffers[buffer_name] = torch.empty_like(state_dict[key])
            return super().load_state_dict(state_dict, strict=strict)

        def update(self, force=False):
            scale_table = torch.exp(torch.linspace(math.log(SCALES_MIN), math.log(SCALES_MAX), SCALES_LEVELS))
            updated = self.entropy_bottleneck.update(force=force)
            updated |= self.gaussian_conditional.update_scale_table(scale_table, force=force)
            return updated

        def tables(self) -> dict:
            """The entropy coder's tables as NumPy arrays (the cache's content)."""
            state = self.state_dict()
            return {key: state[key].detach().cpu().numpy().copy() for key in TABLE_KEYS}

        def set_tables(self, tables: dict) -> None:
            for key in TABLE_KEYS:
                module_name, buffer_name = key.split(".")
                setattr(getattr(self, module_name), buffer_name, torch.from_numpy(np.array(tables[key])))

        def compress(self, x):
            y = self.g_a(x)
            z = self.h_a(torch.abs(y))
            z_strings = self.entropy_bottleneck.compress(z)
            z_hat = self.entropy_bottleneck.decompress(z_strings, z.size()[-2:])
            scales_hat = self.h_s(z_hat)
            indexes = self.gaussian_conditional.build_indexes(scales_hat)
            y_strings = self.gaussian_conditional.compress(y, indexes)
            return {"strings": [y_strings, z_strings], "shape": z.size()[-2:]}

        def decompress(self, strings, shape):
            assert isinstance(strings, list) and len(strings) == 2
            z_hat = self.entropy_bottleneck.decompress(strings[1], shape)
            scales_hat = self.h_s(z_hat)
            indexes = self.gaussian_conditional.build_indexes(scales_hat)
            y_hat = self.gaussian_conditional.decompress(strings[0], indexes, z_hat.dtype)
            x_hat = self.g_s(y_hat).clamp_(0, 1)
            return {"x_hat": x_hat}

    return ScaleHyperpriorCoder


def save_fp16(model, path: str | Path) -> str:
    """Save the state dict with floating tensors in fp16; returns the file's sha256."""
    import torch

    state = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    torch.save(state, path)
    return sha256_of(path)


def compressai_version() -> str:
    try:
        from importlib.metadata import version

        return version("compressai")
    except Exception:  # noqa: BLE001 - a version we cannot read never matches a cache
        return "unknown"


def tables_path(weights: str | Path) -> Path:
    weights = Path(weights)
    return weights.with_name(weights.stem + TABLES_SUFFIX)


def _tables_digest(tables: dict) -> str:
    digest = hashlib.sha256()
    for key in TABLE_KEYS:
        array = np.ascontiguousarray(tables[key])
        digest.update(f"{key}:{array.dtype.str}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def write_tables(path: str | Path, tables: dict, weights_sha256: str) -> None:
    """Write a table cache atomically (compressed npz, int32 tables, float32 scale table)."""
    path = Path(path)
    meta = {
        "format": TABLES_FORMAT,
        "compressai": compressai_version(),
        "weights_sha256": weights_sha256,
        "tables_sha256": _tables_digest(tables),
    }
    arrays = {key: np.asarray(value) for key, value in tables.items()}
    arrays.update({f"meta.{k}": np.array(v) for k, v in meta.items()})
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(buffer.getvalue())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a cache is as readable as the weights
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_tables(path: str | Path, weights_sha256: str) -> dict | None:
    """The cached tables if ``path`` holds a valid cache for these weights, else ``None`` (reason logged)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = {k[5:]: str(data[k]) for k in data.files if k.startswith("meta.")}
            tables = {key: data[key] for key in TABLE_KEYS}
    except Exception as exc:  # noqa: BLE001 - any unreadable cache is rebuilt
        log.warning("codec table cache %s is unreadable (%s); rebuilding the tables", path, exc)
        return None
    expected = {"format": TABLES_FORMAT, "compressai": compressai_version(), "weights_sha256": weights_sha256}
    for key, value in expected.items():
        if meta.get(key) != value:
            log.warning("codec table cache %s: %s %r != %r; rebuilding the tables", path, key, meta.get(key), value)
            return None
    if meta.get("tables_sha256") != _tables_digest(tables):
        log.warning("codec table cache %s fails its checksum; rebuilding the tables", path)
        return None
    return tables


# Loaded weights and validated tables, by the weights' sha256 (content-addressed, so never stale): a process
# that builds many flowgraphs (an experiment's points, the tests) reads and checks each file once. The
# models themselves are never shared: each load builds its own from copies.
_CACHED_WEIGHTS = 16
_weights: OrderedDict[str, tuple[dict, dict | None]] = OrderedDict()
_weights_lock = threading.Lock()


def _cached_weights(sha256: str):
    with _weights_lock:
        if sha256 in _weights:
            _weights.move_to_end(sha256)
            return _weights[sha256]
    return None


def _remember_weights(sha256: str, state: dict, tables: dict | None) -> None:
    with _weights_lock:
        _weights[sha256] = (state, tables)
        _weights.move_to_end(sha256)
        while len(_weights) > _CACHED_WEIGHTS:
            _weights.popitem(last=False)


def forget_loaded_weights() -> None:
    """Drop the weights and tables kept in memory: the next loads read and check the files again."""
    with _weights_lock:
        _weights.clear()
    _sha256_of_version.cache_clear()


def load_model(path: str | Path, n: int = DEFAULT_N, m: int = DEFAULT_M, sha256: str | None = None, cache: bool = True):
    """A ready-to-code fp32 :class:`ScaleHyperpriorCoder` from an fp16 weights file.

    The entropy tables come from the cache ``<stem>.tables.npz`` when it is valid for these weights
    (``sha256``: theirs, computed if not given); otherwise they are rebuilt with ``update(force=True)``
    and, if ``cache`` and the directory is writable, the cache is (re)written. With ``cache`` the weights
    and tables read are also kept in memory for the next load of the same weights (by their sha256).
    """
    import torch

    path = Path(path)
    sha256 = sha256 or sha256_of(path)
    kept = _cached_weights(sha256) if cache else None
    if kept is not None:
        saved, tables = kept
    else:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        tables = load_tables(tables_path(path), sha256) if cache else None
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in saved.items()}
    _weights_follow.active = True
    try:
        model = coder_class()(n, m)
    finally:
        _weights_follow.active = False
    model.load_state_dict(state)  # strict, so every parameter is set; copies: no tensor shared with the kept weights
    if tables is not None:
        model.set_tables(tables)
    else:
        model.update(force=True)
        if cache:
            tables = model.tables()
            try:
                write_tables(tables_path(path), tables, sha256)
            except OSError as exc:
                log.info("codec tables for %s kept in memory only (%s)", path, exc)
    if cache and kept is None:
        _remember_weights(sha256, saved, tables)
    model.eval()
    return model


def rebuild_tables(directory: str | Path | None = None) -> list[dict]:
    """Rebuild (``update(force=True)``) and rewrite the table cache of every model in a family directory's
    ``manifest.yml`` (what ``issc codec tables`` runs; the shipped caches were made this way)."""
    import yaml

    directory = Path(directory) if directory else DATA_DIR
    rows = []
    for entry in yaml.safe_load((directory / "manifest.yml").read_text()).get("models", []):
        path = directory / entry["file"]
        sha256 = sha256_of(path)
        if sha256 != entry["sha256"]:
            raise ValueError(f"weights '{path}' do not match the manifest's sha256")
        model = load_model(path, entry["N"], entry["M"], sha256=sha256, cache=False)
        write_tables(tables_path(path), model.tables(), sha256)
        rows.append({"id": entry["id"], "tables": str(tables_path(path)), "weights_sha256": sha256})
    return rows


def sha256_of(path: str | Path) -> str:
    """The file's sha256, computed once per version of the file in this process (the cache's key is the
    file's identity, size and modification time in nanoseconds, like git's index)."""
    info = os.stat(path)
    return _sha256_of_version(os.path.realpath(path), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _sha256_of_version(path: str, device: int, inode: int, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def shipped_dir() -> Path:
    return DATA_DIR


__all__ = [
    "build_model",
    "coder_class",
    "forget_loaded_weights",
    "load_model",
    "load_tables",
    "rebuild_tables",
    "write_tables",
    "tables_path",
    "save_fp16",
    "sha256_of",
    "shipped_dir",
]
