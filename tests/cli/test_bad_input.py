# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hostile command lines: every one ends in exit code 2 and a single stderr line that starts with
``issc`` and names the offending option or value, never a traceback, and before any long work.

The cases are the ones that ended in tracebacks, wrong numbers or unbounded work (unwritable outputs
checked only after minutes of measurement, a file as --dir, garbage checkpoints, deeply nested or
duplicate-key YAML, a .npy header claiming petabytes, binary calibration files, decompression bombs, images
too small for the model, overflowing numbers, a blocklength of 2^20), plus probes of each subcommand with
empty files, folders, devices, negative, zero, NaN, inf and huge numbers.
"""

import json
import struct
import zlib

import numpy as np
import pytest

from gnuradio.issc.cli.main import build_parser

PNG_IMAGES = "python/issc/data/images"


def _png_header(width, height) -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The hostile inputs, by name: ``{name}`` in a case's argv is replaced by the path."""
    from PIL import Image

    root = tmp_path_factory.mktemp("hostile")
    paths = {"root": root}

    def add(name, data):
        path = root / name
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        paths[name.split(".")[0]] = path

    add("afile.txt", "hello\n")
    add("empty.bin", b"")
    add("binary.bin", b"\x00\x01\x02\xff\xfe binary")
    add("nested.yml", "budget: " + "[" * 100_000 + "]" * 100_000 + "\n")
    add("dup.yml", "budget:\n  power_dbm: 30\n  power_dbm: 40\n")
    header = "{'descr': '<c16', 'fortran_order': False, 'shape': (100000000, 100000000), }"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    add("huge.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    add("bomb.png", _png_header(30000, 30000))
    add(
        "bombc.isc", b"ISC1" + struct.pack(">BB", 1, 3) + b"hp3" + struct.pack(">HHII", 4096, 4096, 0, 0)
    )  # the 21-byte container of a 4096 x 4096 image
    add(
        "badcal.yml",
        "format: issc-code-calibration/1\nblocklength: 256\ninfo_bits: [16, x]\nsinr_db: [0, 1]\n"
        "bit_errors: [[0, 0], [0, 0]]\nblock_errors: [[0, 0], [0, 0]]\nblocks: [[0, 0], [0, 0]]\n",
    )
    add("notmanifest.yml", "models: 5\n")
    for name in ("adir", "emptydir", "small", "badmanifest"):
        (root / name).mkdir()
        paths[name] = root / name
    (root / "adir" / "x.txt").write_text("x")
    Image.fromarray(np.zeros((32, 48, 3), np.uint8)).save(root / "small" / "s.png")
    (root / "badmanifest" / "manifest.yml").write_text("models: 5\n")
    np.save(root / "max.npy", 1e308 * np.eye(4))
    paths["max"] = root / "max.npy"
    return paths


# (argv, words that must be in the one error line); {name} is a hostile file, {root} a scratch folder
CASES = [
    # A: tracebacks: unwritable or folder outputs, checked before the work
    ("fit --out {adir} --repetitions 1", "--out"),
    ("fit --out {root}/nowhere/p.yml --repetitions 1", "--out"),
    ("fit --out {root}/p.yml --plot {adir}", "--plot"),
    ("fit --out {root}/p.yml --plot {root}/fig.xyz", "'.xyz'"),
    ("train --images " + PNG_IMAGES + " --out {afile}", "--out"),
    ("train --images " + PNG_IMAGES + " --out {root}/t --base {binary}", "--base"),
    ("train --images " + PNG_IMAGES + " --out {root}/t --base {root}/missing.pt", "--base"),
    ("train --images {afile} --out {root}/t", "--images"),
    ("train-djscc --images " + PNG_IMAGES + " --out {afile}", "--out"),
    ("calibrate-code --quick --out {adir}", "--out"),
    ("calibrate-code --quick --out {root}/nowhere/c.yml", "--out"),
    ("calibrate-code --quick --plot {adir}", "--plot"),
    ("sweep -s paper --out {afile}", "--out"),
    ("codec info --dir {afile}", "--dir"),
    ("djscc info --dir {afile}", "--dir"),
    ("scenario -s {nested}", "nested.yml"),
    ("hcrb -s paper --cov {huge}", "huge.npy"),
    ("optimize -s paper --ber-model calibrated --calibration {binary}", "binary.bin"),
    ("codec encode --model hp3 --image {bomb} --out {root}/x.isc", "bomb.png"),
    ("codec eval --images {small} --no-jpeg", "s.png"),
    ("hcrb -s paper --cov {max} --sync-ns 1e308", "--sync-ns"),
    ("djscc eval --snrs 1e300", "--snrs"),
    ("bench link --size -5", "--size"),
    # B: numbers out of the model's domain
    ("ber --sinr-db=-10 --rate 0.002 --blocklength 1", "R_c L = 0.002"),
    ("ber --sinr-db 0 --rate 1e-320", "rate * blocklength"),
    ("ber --sinr-db 0 --rate 1e308", "--rate"),
    ("hcrb -s paper --cov {max}", "max.npy"),
    # C: unbounded work and memory
    ("calibrate-code --blocklength 1048576", "--blocklength"),
    ("calibrate-code --blocklength 4096 --max-blocks 10000000", "--max-blocks"),
    ("codec decode --in /dev/zero --out {root}/o.png", "/dev/zero"),
    ("codec decode --in {bombc} --out {root}/o.png", "z_bytes = 0"),
    # D: ranges, negative numbers in any notation, duplicate YAML keys
    ("scenario -s {dup}", "power_dbm"),
    ("ber --sinr-db 1e308 --rate 1", "--sinr-db"),
    ("ber --sinr-db -1e308 --rate 1", "--sinr-db"),
    ("ber --sinr-db=-1e308 --rate 1", "--sinr-db"),
    ("ber --sinr-db -inf --rate 1", "--sinr-db"),
    ("ber --sinr-db 3 --rate 1 --blocklength " + "9" * 40, "--blocklength"),
    # probes of each subcommand: empty files, folders, devices, 0, negative, NaN, inf, huge
    ("scenario -s {emptydir}", "emptydir"),
    ("scenario -s /dev/zero", "/dev/zero"),
    ("regime -s {binary}", "binary.bin"),
    ("hcrb -s paper --cov /dev/zero", "/dev/zero"),
    ("hcrb -s paper --cov {empty}", "empty.bin"),
    ("hcrb -s paper --cov {adir}", "adir"),
    ("optimize -s paper --power-dbm 1e308", "--power-dbm"),
    ("optimize -s paper --power-dbm nan", "--power-dbm"),
    ("optimize -s paper --pi=-1", "--pi"),
    ("optimize -s paper --sensing-streams 99999999999999999999", "--sensing-streams"),
    ("optimize -s paper --profile /dev/zero", "/dev/zero"),
    ("optimize -s paper --profile {empty}", "empty.bin"),
    ("optimize -s paper --ber-model calibrated --calibration {badcal}", "info_bits"),
    ("optimize -s paper --calibration {badcal}", "--ber-model calibrated"),
    ("optimize -s paper --ber-model calibrated --calibration {adir}", "adir"),
    ("sweep -s paper --out {root}/sw --solvers sdr,sdr", "--solvers"),
    ("sweep -s paper --out {root}/sw --power-dbm 20:40:1e-300", "--power-dbm"),
    ("sweep -s paper --out {root}/sw --power-dbm=-1e308:0:1", "--power-dbm"),
    ("sweep -s paper --out {root}/sw --workers 0", "--workers"),
    ("sweep -s paper --out {root}/sw --workers 100000", "--workers"),
    ("bench optimizer --frames 0", "--frames"),
    ("bench estimator --blocks 10000000", "--blocks"),
    ("bench estimator --seed -1", "--seed"),
    ("bench estimator --power-dbm 1e308", "power_dbm"),
    ("bench link --sensing-every=-1", "--sensing-every"),
    ("bench codec --reps 0", "--reps"),
    ("codec info --dir {badmanifest}", "manifest"),
    ("codec tables --dir {afile}", "--dir"),
    ("codec encode --model hp3 --image /dev/zero --out {root}/x.isc", "/dev/zero"),
    ("codec encode --model hp3 --image {empty} --out {root}/x.isc", "empty.bin"),
    ("codec decode --in {empty} --out {root}/o.png", "bad magic"),
    ("codec decode --in {adir} --out {root}/o.png", "--in"),
    ("codec eval --images /dev/null", "--images"),
    ("djscc info --dir {badmanifest}", "manifest"),
    ("djscc eval --seed -1", "--seed"),
    ("djscc eval --snrs 1,1", "--snrs"),
    ("train --images {small} --out {root}/t --lambdas nan", "--lambdas"),
    ("train --images {small} --out {root}/t --patch 100", "--patch"),
    ("train --images {small} --out {root}/t --batch 100000", "--batch"),
    ("train-djscc --images {small} --out {root}/t --abrs 1/7", "1/7"),
    ("train-djscc --images {small} --out {root}/t --snrs=-1e300", "--snrs"),
    ("train-djscc --images {small} --out {root}/t --cmc inf", "--cmc"),
    ("calibrate-code --sinr-db nan:1:1", "--sinr-db"),
    ("calibrate-code --sinr-db=-1e308:0:1", "--sinr-db"),
    ("calibrate-code --info-bits=-5", "--info-bits"),
    ("calibrate-code --list-size 65", "--list-size"),
    ("calibrate-code --seed -1", "--seed"),
    ("experiment estimator -s paper --out {afile}", "--out"),
    ("experiment estimator -s paper --out {root}/e --sigma-ns nan", "--sigma-ns"),
    ("experiment estimator -s paper --out {root}/e --power-dbm 1e308", "--power-dbm"),
    ("experiment fig3 -s paper --out {root}/e --abrs 1/32,1/32", "--abrs"),
    ("experiment fig4 -s paper --out {root}/e --abrs 1/32,1/16", "--abrs"),
    # a file name longer than the file system allows (Path.exists raises ENAMETOOLONG)
    ("scenario -s {root}/" + "a" * 300 + ".yml", "a" * 100),
    ("codec info --dir {root}/" + "a" * 300, "a" * 100),
    ("codec encode --model hp1 --image {root}/" + "a" * 300 + " --out {root}/x.isc", "a" * 100),
    ("train --images {root}/" + "a" * 300 + " --out {root}/t", "a" * 100),
]


def _argv(template: str, files: dict) -> list[str]:
    names = {k: str(v) for k, v in files.items()}
    return [part.format(**names) for part in template.split()]


@pytest.mark.parametrize("template,words", CASES, ids=[c[0][:60] for c in CASES])
def test_bad_command_line_is_one_clean_line_with_exit_2(run_cli, files, template, words):
    """Exit 2, nothing on stdout, one stderr line starting 'issc' that names the option or value."""
    code, out, err = run_cli(*_argv(template, files))
    assert code == 2, (template, code, err[-2000:])
    assert out == "" and "Traceback" not in err
    assert err.startswith("issc") and err.count("\n") == 1 and err.endswith("\n"), err
    assert words in err, err


def test_negative_values_reach_the_type_function_in_both_spellings():
    """argparse took '-1e308', '-inf', '-8:16:1' for options ('expected one argument'): now they are
    values, so a valid one parses and an invalid one gets the type's own message."""
    parser = build_parser()
    for argv, attribute, expected in (
        (["ber", "--sinr-db", "-1e1", "--rate", "1"], "sinr_db", -10.0),
        (["ber", "--sinr-db=-1e1", "--rate", "1"], "sinr_db", -10.0),
        (["ber", "--sinr-db", "-.5", "--rate", "1"], "sinr_db", -0.5),
        (["calibrate-code", "--sinr-db", "-8:-2:1"], "sinr_db", "-8:-2:1"),
        (["sweep", "-s", "paper", "--out", "x", "--power-dbm", "-10:0:5"], "power_dbm", [-10.0, -5.0, 0.0]),
        (["optimize", "-s", "paper", "--power-dbm", "-2.5e1"], "power_dbm", -25.0),
    ):
        assert getattr(parser.parse_args(argv), attribute) == expected, argv


def test_calibrate_code_refuses_before_simulating(run_cli, files, monkeypatch):
    """The output checks come before the simulation: the simulation must not even start."""
    import gnuradio.issc.link.calibration as calibration

    def boom(*args, **kwargs):
        raise AssertionError("the simulation started")

    monkeypatch.setattr(calibration, "calibrate", boom)
    code, out, err = run_cli(
        "calibrate-code", "--info-bits", "16", "--sinr-db", "0:1:1", "--plot", files["root"] / "nope" / "f.png"
    )
    assert code == 2 and "--plot" in err and "simulation" not in err


def test_fit_checks_its_outputs_before_measuring(run_cli, files, monkeypatch):
    """'issc fit' with an unwritable --out failed after the whole measurement: now before it starts."""
    import gnuradio.issc.codec.fit as fit

    def boom(*args, **kwargs):
        raise AssertionError("the measurement started")

    monkeypatch.setattr(fit, "measure_curves", boom)
    for argv in (["--out", files["adir"]], ["--out", files["root"] / "p.yml", "--plot", files["adir"]]):
        code, out, err = run_cli("fit", "--repetitions", "1", *argv)
        assert code == 2 and out == "" and "is a directory" in err


def test_ber_valid_range_edges_give_numbers(run_cli):
    """The documented range is inclusive and every value in it is a number in (0, 1/2]."""
    for argv in (
        ["--sinr-db", "-3000", "--rate", "1"],
        ["--sinr-db", "3000", "--rate", "1"],
        ["--sinr-db", "0", "--rate", "1e6"],
        ["--sinr-db", "0", "--rate", "1", "--blocklength", "1"],
        ["--sinr-db", "0", "--rate", "1e-9", "--blocklength", "1000000000"],
    ):
        code, out, err = run_cli("ber", *argv)
        assert code == 0, err
        data = json.loads(out)
        assert data["log10_ber"] is not None and data["log10_ber"] <= np.log10(0.5) + 1e-15
