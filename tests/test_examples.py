# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The surfaces a user runs: every .grc under examples/ compiles with grcc, and the headless link example
runs end to end (tiny codec family and a matching synthetic profile, a few frames) and writes its
results; bad arguments exit with code 2."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import yaml
from conftest import REPO_ROOT, make_synthetic_profile

GRC_FILES = sorted((REPO_ROOT / "examples").glob("*.grc"))


@pytest.mark.skipif(shutil.which("grcc") is None, reason="grcc not installed")
@pytest.mark.parametrize("path", GRC_FILES, ids=[p.name for p in GRC_FILES])
def test_grc_example_compiles(path, tmp_path):
    env = dict(os.environ, GRC_BLOCKS_PATH=str(REPO_ROOT / "grc"))
    result = subprocess.run(
        ["grcc", "-o", str(tmp_path), str(path)], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    generated = list(tmp_path.glob("*.py"))
    assert len(generated) == 1
    compile(generated[0].read_text(), str(generated[0]), "exec")
    text = generated[0].read_text()
    assert "from gnuradio import issc" in text and ("issc.transmitter(" in text or "issc.comm_receiver(" in text)


def run_example(*args, timeout=900):
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT / "tests"))
    code = (
        "import sys, gnuradio; gnuradio.__path__.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2]); "
        "import issc_link; sys.exit(issc_link.main(sys.argv[3:]))"
    )
    return subprocess.run(
        [sys.executable, "-c", code, str(REPO_ROOT / "python"), str(REPO_ROOT / "examples"), *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def tiny_profile(tmp_path):
    """The synthetic profile cut to the tiny family's two models (ids t1, t2)."""
    profile = yaml.safe_load(make_synthetic_profile().to_yaml())
    profile["models"] = profile["models"][:2]
    for i, model in enumerate(profile["models"], start=1):
        model["id"] = f"t{i}"
    profile_path = tmp_path / "profile.yml"
    profile_path.write_text(yaml.safe_dump(profile))
    return profile_path


def test_headless_link_example_runs_and_writes_results(tiny_family, tmp_path):
    profile_path = tiny_profile(tmp_path)
    out = tmp_path / "results"
    result = run_example(
        "--codec-dir",
        tiny_family,
        "--profile",
        profile_path,
        "--frames",
        3,
        "--size",
        64,
        "--schedule",
        "0:30",
        "--out",
        out,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "frames.jsonl").read_text().splitlines()]
    assert [r["seq"] for r in rows] == [0, 1, 2]
    assert all(r["header_ok"] and r["power_dbm"] == 30 for r in rows)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames_received"] == 3
    assert len(list((out / "frames").glob("frame_*.png"))) == 3 and (out / "summary.png").stat().st_size > 0
    assert "P_T" in result.stdout.splitlines()[0]


@pytest.mark.parametrize(
    "args",
    [
        ("--frames", "0"),
        ("--schedule", "x:y"),
        ("--scenario", "no-such-scenario"),
        ("--timeout", "-1"),
        ("--timeout", "nan"),
        ("--tx-to", "a.cf32", "--rx-from", "b.cf32"),
    ],
)
def test_headless_link_example_rejects_bad_arguments(args, tmp_path):
    result = run_example(*args, "--out", tmp_path / "r")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "error" in result.stderr


@pytest.fixture
def example(capsys):
    """``examples/issc_link.py``'s ``main`` run in this process (no interpreter start-up per run): returns
    (exit code, stdout, stderr); the SIGINT handler it installs is put back."""
    import signal

    sys.path.insert(0, str(REPO_ROOT / "examples"))
    handler = signal.getsignal(signal.SIGINT)
    try:
        import issc_link
    finally:
        sys.path.remove(str(REPO_ROOT / "examples"))

    def run(*args):
        try:
            code = issc_link.main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code
        finally:
            signal.signal(signal.SIGINT, handler)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_headless_link_example_skips_an_unreadable_image_in_a_folder_and_refuses_a_named_one(example, tmp_path):
    """Regression: one unreadable .png in --images DIR made the run hang until --timeout (1800 s) and
    then exit 0 with fewer frames. It is skipped (the report names it), every frame goes out, and the
    run ends 0; the same file named on its own is a one-line error naming it (exit 2)."""
    folder = tmp_path / "images"
    folder.mkdir()
    shutil.copy(REPO_ROOT / "python/issc/data/images/astronaut_c.png", folder / "a.png")
    (folder / "b.png").write_bytes(b"\x89PNG but not really")
    out = tmp_path / "results"
    code, stdout, err = example("--images", folder, "--frames", 2, "--size", 32, "--schedule", "0:40", "--out", out)
    assert code == 0, err[-3000:]
    assert "skipped unreadable image" in stdout and "b.png" in stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames_received"] == 2 and summary["complete"] and summary["images_skipped"][0].endswith("b.png")
    code, _, err = example("--images", folder / "b.png", "--frames", 2, "--out", tmp_path / "r2")
    assert code == 2 and "b.png" in err and "Traceback" not in err


def test_headless_link_example_that_ends_short_says_why_and_exits_1(example, tmp_path):
    """A run that ends before its frames are all accounted for (here the timeout, reached at once) is not
    a success: exit 1, the reason on stderr and in summary.json."""
    out = tmp_path / "results"
    code, _, err = example("--frames", 3, "--size", 32, "--timeout", "1e-6", "--out", out)
    assert code == 1, err[-3000:]
    assert "ended short" in err and "timeout" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["end_reason"] == "timeout" and not summary["complete"]


def test_transmitter_and_receiver_apart_decode_what_one_process_decodes(example, tiny_family, tmp_path):
    """--tx-to runs the transmitter and the channels and ends when its 2 frames are sent; --rx-from
    decodes that recording (no tags: the configuration only from the air) into the same results as a
    run of the whole link: the same decoded images, the same measured SINR and PSNR."""
    common = ("--codec-dir", tiny_family, "--profile", tiny_profile(tmp_path), "--frames", 2, "--size", 64)
    common += ("--schedule", "0:30")
    air = tmp_path / "air.cf32"
    code, out, err = example(*common, "--tx-to", air)
    assert code == 0, err[-3000:]
    assert air.stat().st_size > 0 and air.stat().st_size % 8 == 0 and "2/2 frames" in out
    code, _, err = example(*common, "--rx-from", air, "--out", tmp_path / "rx")
    assert code == 0, err[-3000:]
    code, _, err = example(*common, "--out", tmp_path / "whole")
    assert code == 0, err[-3000:]

    from PIL import Image

    for seq in range(2):
        name = f"frames/frame_{seq:04d}.png"
        apart = np.asarray(Image.open(tmp_path / "rx" / name))
        together = np.asarray(Image.open(tmp_path / "whole" / name))
        assert np.array_equal(apart, together)
    rows = {}
    for run in ("rx", "whole"):
        rows[run] = [json.loads(line) for line in (tmp_path / run / "frames.jsonl").read_text().splitlines()]
    assert [r["seq"] for r in rows["rx"]] == [0, 1]
    for a, t in zip(rows["rx"], rows["whole"], strict=True):
        assert (a["seq"], a["model"], a["sinr_db"], a["psnr"]) == (t["seq"], t["model"], t["sinr_db"], t["psnr"])
