# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The entropy-table caches and the lean CompressAI import: cached tables code exactly like CompressAI's
own model after a fresh ``update(force=True)``; a corrupt, stale or foreign cache is rebuilt, never an
error; the CLI and a codec load do not pull in what they do not need."""

import logging
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml

from gnuradio.issc.codec import models
from gnuradio.issc.codec.codec import SemanticCodec
from gnuradio.issc.codec.images import load_rgb, shipped_images
from gnuradio.issc.codec.profile import DATA_DIR

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


def _compressai_reference(path, n, m):
    """CompressAI's own ScaleHyperprior with the fp16 weights restored and the tables rebuilt."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    reference = models.build_model(n, m)
    reference.load_state_dict({k: (v.float() if v.is_floating_point() else v) for k, v in state.items()})
    reference.update(force=True)
    return reference.eval()


def test_shipped_caches_code_bit_identically_to_a_fresh_update():
    """Every shipped model: the shipped cache is valid for its weights, its tables equal CompressAI's
    rebuilt ones, and the bitstreams and decoded images of a shipped image are identical."""
    manifest = yaml.safe_load((DATA_DIR / "manifest.yml").read_text())
    image = load_rgb(shipped_images()[0])
    x = torch.from_numpy(image.astype(np.float32).transpose(2, 0, 1) / 255.0)[None]
    for entry in manifest["models"]:
        path = DATA_DIR / entry["file"]
        cached = models.load_tables(models.tables_path(path), entry["sha256"])
        assert cached is not None, f"{entry['id']}: shipped cache missing or stale (run issc codec tables)"
        reference = _compressai_reference(path, entry["N"], entry["M"])
        rebuilt = reference.state_dict()
        for key in models.TABLE_KEYS:
            assert np.array_equal(cached[key], rebuilt[key].numpy()), (entry["id"], key)
            assert cached[key].dtype == rebuilt[key].numpy().dtype, (entry["id"], key)
        coder = models.load_model(path, entry["N"], entry["M"], sha256=entry["sha256"])
        with torch.inference_mode():
            ours, theirs = coder.compress(x), reference.compress(x)
            assert ours["strings"] == theirs["strings"], entry["id"]
            assert torch.equal(
                coder.decompress(ours["strings"], ours["shape"])["x_hat"],
                reference.decompress(theirs["strings"], theirs["shape"])["x_hat"],
            ), entry["id"]


def _codes(codec, image):
    data = codec.encode(image, "t2")
    return data, codec.decode(data)


def test_corrupt_stale_or_foreign_caches_are_rebuilt(tiny_family, tmp_path, caplog, monkeypatch):
    """A cache written on first load is used on the next; a truncated file, a wrong format, weights hash
    or checksum each log a warning and rebuild (rewriting a valid cache), with identical coding; an
    unwritable directory keeps the tables in memory. (Each load here first forgets what the process
    kept, so that it reads the files.)"""

    def load_from_files(directory):
        models.forget_loaded_weights()
        return SemanticCodec.load(directory)

    family = tmp_path / "family"
    shutil.copytree(tiny_family, family)
    for cache in family.glob("*" + models.TABLES_SUFFIX):
        cache.unlink()
    image = (np.random.default_rng(1).random((64, 96, 3)) * 255).astype(np.uint8)
    reference = _codes(load_from_files(family), image)  # rebuilds, writes the caches
    cache = family / ("t2" + models.TABLES_SUFFIX)
    weights_sha = models.sha256_of(family / "t2.pt")
    good = models.load_tables(cache, weights_sha)
    assert good is not None

    calls = []
    real_update = models.coder_class().update
    monkeypatch.setattr(
        models.coder_class(), "update", lambda self, force=False: calls.append(1) or real_update(self, force)
    )
    load_from_files(family)
    assert calls == []  # every table came from a cache

    def tampered(tables):
        tables = dict(tables)
        tables["gaussian_conditional._quantized_cdf"] = tables["gaussian_conditional._quantized_cdf"].copy()
        tables["gaussian_conditional._quantized_cdf"][0, 1] += 1
        return tables

    corruptions = {
        "unreadable": lambda: cache.write_bytes(cache.read_bytes()[: cache.stat().st_size // 2]),
        "weights_sha256": lambda: models.write_tables(cache, good, "0" * 64),
        "format": lambda: (
            monkeypatch.setattr(models, "TABLES_FORMAT", "issc-codec-tables/0")
            or models.write_tables(cache, good, weights_sha)
            or monkeypatch.undo()
        ),
        "checksum": lambda: _write_with_digest_of(cache, tampered(good), good, weights_sha),
    }
    for reason, corrupt in corruptions.items():
        corrupt()
        monkeypatch.setattr(
            models.coder_class(), "update", lambda self, force=False: calls.append(1) or real_update(self, force)
        )
        calls.clear()
        with caplog.at_level(logging.WARNING, logger=models.__name__):
            caplog.clear()
            assert _codes(load_from_files(family), image)[0] == reference[0], reason
        assert calls == [1], reason
        assert any("rebuilding" in r.message for r in caplog.records), reason
        assert models.load_tables(cache, weights_sha) is not None, reason  # rewritten
        monkeypatch.undo()

    cache.unlink()

    def unwritable(*args, **kwargs):
        raise PermissionError("read-only")

    monkeypatch.setattr(models, "write_tables", unwritable)
    data, decoded = _codes(load_from_files(family), image)
    assert data == reference[0] and np.array_equal(decoded, reference[1])
    assert not cache.exists()


def test_a_process_reads_each_weights_file_once_and_never_shares_a_tensor(tiny_family, tmp_path, monkeypatch):
    """The second load of the same weights reads no file (torch.load and the table cache fail if called)
    and codes identically; the two models share no tensor; a changed weights file is hashed and read
    again."""
    family = tmp_path / "family"
    shutil.copytree(tiny_family, family)
    image = (np.random.default_rng(2).random((64, 64, 3)) * 255).astype(np.uint8)
    models.forget_loaded_weights()
    first = SemanticCodec.load(family)
    reference = _codes(first, image)

    def no_reads(*args, **kwargs):
        raise AssertionError("read a file the process had already loaded")

    with monkeypatch.context() as patched:
        patched.setattr(torch, "load", no_reads)
        patched.setattr(models, "load_tables", no_reads)
        patched.setattr(models.hashlib, "sha256", no_reads)
        second = SemanticCodec.load(family)
        data, decoded = _codes(second, image)
    assert data == reference[0] and np.array_equal(decoded, reference[1])
    a, b = first.models["t2"], second.models["t2"]
    pointers = lambda model: {t.data_ptr() for t in [*model.parameters(), *model.buffers()] if t.numel()}  # noqa: E731
    assert not pointers(a) & pointers(b)
    with torch.no_grad():
        next(b.parameters()).add_(1.0)  # a model changed in place changes neither the other nor the next load
    assert _codes(SemanticCodec.load(family), image)[0] == reference[0] == _codes(first, image)[0]

    weights = family / "t2.pt"
    sha_before = models.sha256_of(weights)
    state = torch.load(weights, map_location="cpu", weights_only=True)
    key = next(k for k, v in state.items() if v.is_floating_point() and v.numel() > 1)
    state[key] = state[key] * 0.5
    torch.save(state, weights)
    assert models.sha256_of(weights) != sha_before  # new size/mtime: hashed again


def _write_with_digest_of(path, tables, digest_source, weights_sha):
    """A well-formed cache whose tables were changed after the checksum was taken."""
    original = models._tables_digest
    try:
        models._tables_digest = lambda _tables: original(digest_source)
        models.write_tables(path, tables, weights_sha)
    finally:
        models._tables_digest = original


IMPORTS = """
import sys, gnuradio
gnuradio.__path__.insert(0, sys.argv[1])
from gnuradio.issc.cli.main import build_parser
build_parser()
heavy = sorted(m for m in ("torch", "compressai", "cvxpy", "scipy.stats") if m in sys.modules)
print(",".join(heavy))
"""

LEAN = """
import sys, gnuradio
gnuradio.__path__.insert(0, sys.argv[1])
import numpy as np
from gnuradio.issc.codec.codec import SemanticCodec
codec = SemanticCodec.load(lazy=True)
codec.decode(codec.encode(np.zeros((64, 64, 3), np.uint8), "hp1"))
heavy = ("torch_geometric", "torchvision", "compressai.datasets")
print(sorted(codec.models), ",".join(m for m in heavy if m in sys.modules))
import compressai
from importlib.metadata import version
print(compressai.__version__ == version("compressai"), compressai.get_entropy_coder(), compressai.zoo.__name__)
"""


def test_the_cli_parser_imports_no_torch():
    """Building the whole ``issc`` parser (what ``issc --help`` and every command pay) imports neither
    torch nor CompressAI."""
    run = subprocess.run([sys.executable, "-c", IMPORTS, str(REPO / "python")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == ""


def test_coding_skips_compressai_package_init_and_loads_only_the_model_used():
    """A lazy codec encodes and decodes with one model loaded and without CompressAI's datasets,
    torch_geometric or torchvision; the package then still offers everything on demand."""
    run = subprocess.run([sys.executable, "-c", LEAN, str(REPO / "python")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    first, second = run.stdout.strip().splitlines()
    assert first == "['hp1'] "
    assert second == "True ans compressai.zoo"


@pytest.mark.parametrize("threads", [1])
def test_limit_torch_threads(threads):
    """The blocks' thread setting is what torch then reports."""
    from gnuradio.issc.codec.codec import limit_torch_threads

    before = torch.get_num_threads()
    try:
        limit_torch_threads(threads)
        assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)


def test_cli_tables_and_bench_codec(tiny_family, tmp_path, run_cli):
    """``issc codec tables`` writes a valid cache per model; ``issc bench codec`` reports every model."""
    import json

    family = tmp_path / "family"
    shutil.copytree(tiny_family, family)
    for cache in family.glob("*" + models.TABLES_SUFFIX):
        cache.unlink()
    code, out, err = run_cli("codec", "tables", "--dir", family)
    assert code == 0, err
    rows = json.loads(out)["models"]
    assert [r["id"] for r in rows] == ["t1", "t2"]
    for row in rows:
        assert models.load_tables(row["tables"], models.sha256_of(family / f"{row['id']}.pt")) is not None
    image_dir = tmp_path / "images"
    image_dir.mkdir()
    from gnuradio.issc.codec.images import save_rgb

    save_rgb((np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8), image_dir / "a.png")
    code, out, err = run_cli("bench", "codec", "--dir", family, "--images", image_dir, "--reps", "1")
    assert code == 0, err
    report = json.loads(out)
    assert [r["model"] for r in report["models"]] == ["t1", "t2"]
    assert all(r["encode_ms"] > 0 and r["decode_ms"] > 0 and r["bytes"] > 0 for r in report["models"])


def test_only_a_model_about_to_be_loaded_skips_its_random_initialisation():
    """load_model builds its model without the convolutions' Kaiming draws (the weights follow); a coder
    built directly is initialised as torch does: the same seed gives the same finite, non-zero weights."""
    torch.manual_seed(7)
    first = models.coder_class()(8, 12)
    torch.manual_seed(7)
    second = models.coder_class()(8, 12)
    weights = [m.weight for m in first.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    assert len(weights) == 14  # g_a 4, g_s 4, h_a 3, h_s 3
    assert all(torch.isfinite(w).all() and w.abs().sum() > 0 for w in weights)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values()))
    assert not getattr(models._weights_follow, "active", False)
