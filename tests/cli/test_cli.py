# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The physics subcommands: JSON on stdout, one-line errors with exit code 2."""

import json

import numpy as np
import pytest

from gnuradio.issc import FisherModel, load_scenario
from gnuradio.issc.units import dbm_to_w


def write(tmp_path, name, array):
    path = tmp_path / name
    np.save(path, array)
    return path


def test_hcrb_cli_matches_the_core(run_cli, tmp_path):
    a = np.random.default_rng(1).normal(size=(4, 4)) + 1j * np.random.default_rng(2).normal(size=(4, 4))
    sigma = a @ a.conj().T
    sigma *= 1.0 / np.trace(sigma).real
    code, out, _ = run_cli("hcrb", "--scenario", "paper", "--cov", write(tmp_path, "s.npy", sigma))
    assert code == 0
    data = json.loads(out)
    fisher = FisherModel.from_scenario("paper")
    np.testing.assert_allclose(data["hcrb_pos"], fisher.hcrb(sigma), rtol=1e-12)
    assert data["trace"] == pytest.approx(fisher.hcrb_trace(sigma))
    assert data["crb_trace"] == pytest.approx(fisher.crb_trace(sigma)) and data["crb_trace"] < data["trace"]
    # a real-valued covariance is accepted, a sync override changes the bound
    code, out, _ = run_cli("hcrb", "-s", "paper", "--cov", write(tmp_path, "r.npy", np.eye(4) / 4), "--sync-ns", 0)
    assert code == 0 and json.loads(out)["trace"] == pytest.approx(json.loads(out)["crb_trace"])


def test_hcrb_cli_zero_power_reports_unidentifiable(run_cli, tmp_path):
    code, out, _ = run_cli("hcrb", "-s", "paper", "--cov", write(tmp_path, "z.npy", np.zeros((4, 4), complex)))
    data = json.loads(out)
    assert code == 0 and data["identifiable"] is False and data["trace"] is None


@pytest.mark.parametrize(
    "content,words",
    [
        (np.eye(3), "shape must be (4, 4)"),
        (np.array([[1, 2j, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]), "Hermitian"),
        (-np.eye(4), "positive semidefinite"),
        (np.full((4, 4), np.nan), "NaN"),
        (np.array(["a", "b"]), "numeric"),
    ],
)
def test_hcrb_cli_rejects_bad_covariances(run_cli, tmp_path, content, words):
    code, out, err = run_cli("hcrb", "-s", "paper", "--cov", write(tmp_path, "bad.npy", content))
    assert code == 2 and out == "" and words in err and "bad.npy" in err and err.count("\n") == 1


def test_hcrb_cli_rejects_missing_and_garbage_files(run_cli, tmp_path):
    assert run_cli("hcrb", "-s", "paper", "--cov", tmp_path / "none.npy")[0] == 2
    garbage = tmp_path / "garbage.npy"
    garbage.write_bytes(b"\x93NUMPY garbage" * 10)
    code, _, err = run_cli("hcrb", "-s", "paper", "--cov", garbage)
    assert code == 2 and "garbage.npy" in err
    pickled = tmp_path / "obj.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert run_cli("hcrb", "-s", "paper", "--cov", pickled)[0] == 2


def test_regime_cli(run_cli):
    code, out, _ = run_cli("regime", "--scenario", "paper")
    assert code == 0
    regime = json.loads(out)
    scn = load_scenario("paper")
    rows = regime["rows"]
    assert [r["power_dbm"] for r in rows] == scn.power_sweep_dbm().tolist()
    snr = np.array([r["snr_mrt_db"] for r in rows])
    np.testing.assert_allclose(np.diff(snr), 2.0, atol=1e-9)  # SNR follows P_T dB for dB
    h_c_gain = 4 * np.hypot(20, 30) ** -3.0
    assert snr[0] == pytest.approx(10 * np.log10(dbm_to_w(20) * h_c_gain / dbm_to_w(-50)))
    for key in ("hcrb_trace_isotropic_m2", "hcrb_trace_steered_m2", "crb_trace_steered_m2"):
        values = np.array([r[key] for r in rows])
        assert np.all(np.diff(values) < 0), key
    for r in rows:
        assert r["hcrb_trace_steered_m2"] >= r["crb_trace_steered_m2"]
    code, out, _ = run_cli("regime", "--scenario", "paper", "--format", "table")
    assert code == 0 and "Regime map" in out and len(out.splitlines()) >= len(rows) + 5


def test_cli_usage_errors_are_one_line(run_cli):
    for argv in ([], ["no-such-command"], ["regime", "--format", "xml"]):
        code, out, err = run_cli(*argv)
        assert code == 2 and out == "" and err.count("\n") == 1, (argv, err)


def test_headless_example_runs(repo_root):
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, repo_root / "examples" / "regime_map.py", "paper"], capture_output=True, text=True, check=True
    ).stdout
    assert "Regime map" in out and "% sensing" in out
    bad = subprocess.run(
        [sys.executable, repo_root / "examples" / "regime_map.py", "no-such"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_gnu_radio_logs_go_to_stderr_so_stdout_stays_the_result(repo_root):
    """Debian's gnuradio-runtime.conf sends GNU Radio's log to stdout ([LOG] log_file = stdout), which put a
    controller warning in front of `issc bench link`'s JSON; once `issc` has started, a GNU Radio logger
    writes to stderr. Without the entry point the same script's warning lands on stdout (the check bites)."""
    import os
    import subprocess
    import sys

    script = (
        "import sys, gnuradio\n"
        "gnuradio.__path__.insert(0, sys.argv[1])\n"
        "from gnuradio.issc.cli import main\n"
        "if sys.argv[2] == 'cli':\n"
        "    try:\n"
        "        main(['no-such-command'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "from gnuradio import gr\n"
        "gr.logger('issc-test').warn('issc-log-marker')\n"
        "print('{}')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "GR_CONF_LOG_LOG_FILE"}
    runs = {
        how: subprocess.run(
            [sys.executable, "-c", script, str(repo_root / "python"), how], capture_output=True, text=True, env=env
        )
        for how in ("cli", "plain")
    }
    assert runs["cli"].stdout == "{}\n" and "issc-log-marker" in runs["cli"].stderr
    if "issc-log-marker" not in runs["plain"].stderr:  # the machine's GNU Radio logs to stdout by default
        assert "issc-log-marker" in runs["plain"].stdout
