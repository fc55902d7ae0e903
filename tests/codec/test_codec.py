# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The semantic codec with tiny random-initialised models (fast): container format, determinism across
processes, robustness to bit errors and truncation, the logistic fit, and the CLI."""

import json
import struct
import subprocess
import sys

import numpy as np
import pytest

from gnuradio.issc.codec.codec import SemanticCodec
from gnuradio.issc.codec.container import CodecFormatError, ContainerHeader, pack, unpack
from gnuradio.issc.codec.fit import fit_logistic, flip_bits
from gnuradio.issc.codec.profile import load_profile, logistic_log10_distortion

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:96, 0:80] / 96
    base = np.stack([xx, yy, 0.5 * (xx + yy)], axis=-1) + 0.05 * rng.normal(size=(96, 80, 3))
    return (np.clip(base, 0, 1) * 255).astype(np.uint8)  # not a multiple of 64: exercises padding


def test_container_round_trip_and_malformed_inputs():
    header = ContainerHeader("hp3", 256, 256, 5, 7)
    data = pack(header, b"z" * 5 + b"y" * 7)
    assert unpack(data) == (header, b"z" * 5 + b"y" * 7)
    bad = {
        "magic": b"XXXX" + data[4:],
        "version": data[:4] + b"\x09" + data[5:],
        "truncated header": data[:9],
        "payload length": data[:-1],
        "shape": b"ISC1" + struct.pack(">BB", 1, 3) + b"hp3" + struct.pack(">HHII", 0, 256, 5, 7) + b"\0" * 12,
        "model id": b"ISC1" + struct.pack(">BB", 1, 2) + b"\xff\xfe" + struct.pack(">HHII", 64, 64, 0, 0),
    }
    for _what, blob in bad.items():
        with pytest.raises(CodecFormatError):
            unpack(blob)
    with pytest.raises(CodecFormatError):
        ContainerHeader("hp3", 0, 256, 1, 1).validate()
    with pytest.raises(CodecFormatError):
        pack(header, b"short")


def test_encode_decode_round_trip(tiny_family, image):
    codec = SemanticCodec.load(tiny_family)
    assert codec.model_ids == ["t1", "t2"]
    data = codec.encode(image, "t1")
    decoded = codec.decode(data)
    assert decoded.shape == image.shape and decoded.dtype == np.float32
    assert np.all(np.isfinite(decoded)) and decoded.min() >= 0 and decoded.max() <= 1
    np.testing.assert_array_equal(codec.decode(data), decoded)  # deterministic
    header, payload = unpack(data)
    assert header.model == "t1" and (header.height, header.width) == image.shape[:2]
    with pytest.raises(CodecFormatError, match="unknown codec model"):
        codec.encode(image, "nope")
    with pytest.raises(CodecFormatError, match="unknown codec model"):
        codec.decode_parts(ContainerHeader("nope", 64, 64, 0, 0), b"")


def test_weights_that_do_not_match_the_manifest_are_refused(tiny_family, tmp_path):
    import shutil

    copy = tmp_path / "family"
    shutil.copytree(tiny_family, copy)
    (copy / "t1.pt").write_bytes((copy / "t1.pt").read_bytes()[:-10] + b"0123456789")
    with pytest.raises(CodecFormatError, match="sha256"):
        SemanticCodec.load(copy)


PROBE = """
import sys, hashlib, numpy as np
import gnuradio
gnuradio.__path__.insert(0, sys.argv[1])
from gnuradio.issc.codec.codec import SemanticCodec
codec = SemanticCodec.load(sys.argv[2])
image = np.load(sys.argv[3])
data = codec.encode(image, "t2")
print(hashlib.sha256(data).hexdigest(), hashlib.sha256(codec.decode(data).tobytes()).hexdigest())
"""


def test_bit_exact_and_deterministic_across_processes(tiny_family, image, tmp_path):
    np.save(tmp_path / "image.npy", image)
    runs = [
        subprocess.run(
            [sys.executable, "-c", PROBE, str(REPO / "python"), str(tiny_family), str(tmp_path / "image.npy")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for _ in range(2)
    ]
    assert runs[0] == runs[1] and len(runs[0].split()) == 2
    codec = SemanticCodec.load(tiny_family)
    import hashlib

    data = codec.encode(image, "t2")
    assert runs[0].split() == [
        hashlib.sha256(data).hexdigest(),
        hashlib.sha256(codec.decode(data).tobytes()).hexdigest(),
    ]


FUZZ = """
import sys, numpy as np
import gnuradio
gnuradio.__path__.insert(0, sys.argv[1])
from gnuradio.issc.codec.codec import SemanticCodec
from gnuradio.issc.codec.container import unpack
codec = SemanticCodec.load(sys.argv[2])
image = np.load(sys.argv[3])
rng = np.random.default_rng(0)
checked = 0
for model in codec.model_ids:
    header, payload = unpack(codec.encode(image, model))
    for trial in range(60):
        kind = trial % 4
        if kind == 0:
            ber = 10 ** rng.uniform(-4, -0.3)
            bits = np.unpackbits(np.frombuffer(payload, np.uint8))
            bits ^= (rng.random(bits.size) < ber).astype(np.uint8)
            corrupted = np.packbits(bits).tobytes()
        elif kind == 1:
            corrupted = payload[: rng.integers(0, len(payload) + 1)]
        elif kind == 2:
            corrupted = rng.integers(0, 256, len(payload), dtype=np.uint8).tobytes()
        else:
            corrupted = bytes(len(payload)) if trial % 8 == 3 else b"\\xff" * len(payload)
        out = codec.decode_parts(header, corrupted)
        assert out.shape == image.shape and np.all(np.isfinite(out)) and out.min() >= 0 and out.max() <= 1
        checked += 1
print(checked)
"""


def test_bit_flips_and_truncations_never_crash_hang_or_nan(tiny_family, image, tmp_path):
    """Run in a subprocess with a time limit: a crash of the C++ entropy decoder or a hang fails the test."""
    np.save(tmp_path / "image.npy", image)
    run = subprocess.run(
        [sys.executable, "-c", FUZZ, str(REPO / "python"), str(tiny_family), str(tmp_path / "image.npy")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert int(run.stdout.split()[-1]) == 120


def test_flip_bits_flips_exactly_count_bits():
    rng = np.random.default_rng(0)
    payload = bytes(rng.integers(0, 256, 100, dtype=np.uint8))
    for count in (0, 1, 17, 800):
        flipped = flip_bits(payload, count, rng)
        diff = np.unpackbits(np.frombuffer(payload, np.uint8) ^ np.frombuffer(flipped, np.uint8)).sum()
        assert diff == count


def test_fit_recovers_known_logistic_parameters():
    rng = np.random.default_rng(1)
    truth = (-2.7, 1.9, 2.3, -3.6)
    x = np.arange(-7, -0.99, 0.5)
    y = logistic_log10_distortion(x, *truth) + 0.005 * rng.normal(size=x.size)
    params, r2 = fit_logistic(x, y)
    np.testing.assert_allclose([params[k] for k in ("Ds", "Dc", "E1", "E2")], truth, rtol=0.05, atol=0.05)
    assert r2 > 0.999


def test_codec_cli(tiny_family, image, tmp_path, run_cli):
    from gnuradio.issc.codec.images import save_rgb

    save_rgb(image, tmp_path / "in.png")
    code, out, err = run_cli(
        "codec",
        "encode",
        "--model",
        "t1",
        "--image",
        tmp_path / "in.png",
        "--out",
        tmp_path / "x.isc",
        "--dir",
        tiny_family,
    )
    assert code == 0, err
    code, out, err = run_cli(
        "codec", "decode", "--in", tmp_path / "x.isc", "--out", tmp_path / "out.png", "--dir", tiny_family
    )
    assert code == 0 and json.loads(out)["height"] == 96
    code, out, _ = run_cli("codec", "info", "--json", "--dir", tiny_family)
    assert code == 0 and [r["id"] for r in json.loads(out)] == ["t1", "t2"]
    (tmp_path / "fit_images").mkdir()
    save_rgb(image, tmp_path / "fit_images" / "a.png")
    save_rgb(image[::-1].copy(), tmp_path / "fit_images" / "b.png")
    code, out, err = run_cli(
        "fit",
        "--images",
        tmp_path / "fit_images",
        "--repetitions",
        "1",
        "--out",
        tmp_path / "profile.yml",
        "--plot",
        tmp_path / "fit.png",
        "--dir",
        tiny_family,
    )
    assert code == 0, err
    profile = load_profile(tmp_path / "profile.yml")
    assert [m.id for m in profile.models] == ["t1", "t2"] and (tmp_path / "fit.png").stat().st_size > 0
    (tmp_path / "junk.isc").write_bytes(b"junk")
    for argv in (
        ["codec", "decode", "--in", tmp_path / "junk.isc", "--out", tmp_path / "o.png", "--dir", tiny_family],
        ["codec", "decode", "--in", tmp_path / "missing", "--out", tmp_path / "o.png", "--dir", tiny_family],
        [
            "codec",
            "encode",
            "--model",
            "zz",
            "--image",
            tmp_path / "in.png",
            "--out",
            tmp_path / "y",
            "--dir",
            tiny_family,
        ],
        [
            "codec",
            "encode",
            "--model",
            "t1",
            "--image",
            tmp_path / "junk.isc",
            "--out",
            tmp_path / "y",
            "--dir",
            tiny_family,
        ],
        ["codec", "info", "--dir", tmp_path / "nowhere"],
        ["train", "--images", tmp_path / "nowhere", "--out", tmp_path / "t"],
        ["fit", "--images", tmp_path / "nowhere", "--out", tmp_path / "p.yml", "--dir", tiny_family],
    ):
        code, out, err = run_cli(*argv)
        assert code == 2 and out == "" and err.count("\n") == 1, (argv, err)
