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
    assert "issc.transmitter(" in generated[0].read_text()


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


def test_headless_link_example_runs_and_writes_results(tiny_family, tmp_path):
    profile = yaml.safe_load(make_synthetic_profile().to_yaml())
    profile["models"] = profile["models"][:2]
    for i, model in enumerate(profile["models"], start=1):
        model["id"] = f"t{i}"
    profile_path = tmp_path / "profile.yml"
    profile_path.write_text(yaml.safe_dump(profile))
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


@pytest.mark.parametrize("args", [("--frames", "0"), ("--schedule", "x:y"), ("--scenario", "no-such-scenario")])
def test_headless_link_example_rejects_bad_arguments(args, tmp_path):
    result = run_example(*args, "--out", tmp_path / "r")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "error" in result.stderr
