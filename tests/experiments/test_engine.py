# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Dask engine of the Monte Carlo commands (python/issc/parallel.py): the numbers do not depend on
the number of workers, finished points are journalled and a rerun resumes from them, the workers run the
working tree's package with one thread, and a failing task is a clear error (exit 2), not a hang."""

import csv
import json

import numpy as np
import pytest

from gnuradio.issc import parallel
from gnuradio.issc.errors import IsscInputError
from gnuradio.issc.experiments.estimator import efficiency_task

TIMING = {"seconds_per_block", "seconds", "solve_ms"}  # wall-clock columns, the only ones allowed to differ
ESTIMATOR = ["experiment", "estimator", "--scenario", "tradeoff", "--sigma-ns", "10,100", "--trials", "3"]


def read_rows(path, drop=TIMING):
    with open(path, newline="") as f:
        return [{k: v for k, v in row.items() if k not in drop} for row in csv.DictReader(f)]


def journal_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_same_seed_same_csv_with_one_and_two_workers(run_cli, tmp_path):
    """`experiment estimator` on a 2 x 2 grid with --workers 1 and --workers 2: the CSVs are equal
    (every column but the wall-clock one), and equal to the point's own generator run in-process
    (seed [seed, i, j], independent of the worker that ran it)."""
    for workers in (1, 2):
        argv = [*ESTIMATOR, "--power-dbm", "30:40:10", "--out", tmp_path / f"w{workers}", "--workers", workers]
        code, _, err = run_cli(*argv)
        assert code == 0, err
    one, two = read_rows(tmp_path / "w1" / "estimator.csv"), read_rows(tmp_path / "w2" / "estimator.csv")
    assert len(one) == 4 and one == two
    local = efficiency_task(
        {"scenario": "tradeoff", "power_dbm": 40.0, "sigma_ns": 100.0, "trials": 3, "seed": 0, "i": 1, "j": 1}
    )
    assert float(one[3]["rmse_m"]) == pytest.approx(local["rmse_m"], rel=1e-5)  # the CSV keeps 6 digits


def test_rerun_resumes_from_the_journal_and_equals_a_clean_run(run_cli, tmp_path):
    """A run on a subset of the powers (as if killed after those points), then the full run on the same
    --out: only the missing points run (the journal gains exactly them, the old point keeps its timing),
    and the final CSV equals a clean full run's."""
    partial = tmp_path / "resumed"
    code, _, err = run_cli(*ESTIMATOR, "--sigma-ns", "100", "--power-dbm", "30", "--out", partial, "--workers", 1)
    assert code == 0, err
    first = journal_lines(partial / "points.jsonl")
    assert len(first) == 1
    code, _, err = run_cli(*ESTIMATOR, "--sigma-ns", "100", "--power-dbm", "30:40:10", "--out", partial)
    assert code == 0, err
    assert "1 of 2 points already done" in err
    lines = journal_lines(partial / "points.jsonl")
    assert len(lines) == 2 and lines[0] == first[0] and lines[1]["point"]["power_dbm"] == 40.0
    resumed = read_rows(partial / "estimator.csv", drop=())
    assert float(resumed[0]["seconds_per_block"]) == pytest.approx(first[0]["result"]["seconds_per_block"], rel=1e-5)
    clean = tmp_path / "clean"
    code, _, err = run_cli(*ESTIMATOR, "--sigma-ns", "100", "--power-dbm", "30:40:10", "--out", clean, "--workers", 1)
    assert code == 0, err
    assert read_rows(partial / "estimator.csv") == read_rows(clean / "estimator.csv")
    code, _, err = run_cli(*ESTIMATOR, "--sigma-ns", "100", "--power-dbm", "30:40:10", "--out", partial)
    assert code == 0 and "2 of 2 points already done" in err  # nothing left: no cluster at all


def test_failing_task_is_an_error_naming_the_point_and_keeps_the_others(tmp_path):
    """A point whose task raises (here: a missing key) ends the run with IsscInputError naming the
    point and the exception; the points that finished are in the journal, the bad one is not."""
    good = {"scenario": "tradeoff", "power_dbm": 30.0, "sigma_ns": 10.0, "trials": 1, "seed": 0, "i": 0, "j": 0}
    bad = {"scenario": "tradeoff", "power_dbm": 30.0}
    journal = tmp_path / "points.jsonl"
    parallel.run_points([good], efficiency_task, out=journal, workers=1)
    with pytest.raises(IsscInputError, match=r"point .*KeyError: 'seed'"):
        parallel.run_points([good, bad], efficiency_task, out=journal, workers=1)
    assert [line["point"] for line in journal_lines(journal)] == [good]


def test_workers_import_the_parents_package_with_one_thread():
    """Local workers run the package the parent runs (the working tree here, not the copy installed in
    .venv) with one BLAS/OpenMP thread, and a seed's generator does not depend on the process."""
    import gnuradio.issc

    client, cluster = parallel.open_client(workers=1)
    try:
        files = client.run(lambda: __import__("gnuradio.issc", fromlist=["x"]).__file__)
        threads = client.run(lambda: __import__("os").environ.get("OMP_NUM_THREADS"))
        draws = client.run(lambda: float(parallel.point_rng(7, 1, 2).standard_normal()))
    finally:
        client.close()
        cluster.close()
    assert set(files.values()) == {gnuradio.issc.__file__}
    assert set(threads.values()) == {"1"}
    assert set(draws.values()) == {float(np.random.default_rng(np.random.SeedSequence([7, 1, 2])).standard_normal())}


def test_unreachable_scheduler_exits_2(run_cli, tmp_path):
    """--scheduler with nothing listening: exit 2 with the address in the message."""
    code, out, err = run_cli(
        *ESTIMATOR, "--power-dbm", "30", "--out", tmp_path, "--scheduler", "tcp://127.0.0.1:9", "--workers", 1
    )
    assert code == 2 and out == "" and "tcp://127.0.0.1:9" in err


def test_ctrl_c_shuts_the_local_cluster_down(tmp_path):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) once a point is journalled:
    exit 130, and no process of the group (workers, nannies) is left behind."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    code = (
        "import sys, gnuradio; gnuradio.__path__.insert(0, sys.argv[1]); from gnuradio.issc.cli import main; "
        "sys.exit(main(sys.argv[2:]))"
    )
    argv = [*ESTIMATOR, "--sigma-ns", "100", "--power-dbm", "0:40:5", "--trials", "20", "--workers", "2"]
    process = subprocess.Popen(
        [sys.executable, "-c", code, str(repo / "python"), *argv, "--out", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    journal = tmp_path / "points.jsonl"
    deadline = time.monotonic() + 120
    while not (journal.exists() and journal.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert process.poll() is None, process.communicate()[1].decode()
    os.killpg(process.pid, signal.SIGINT)
    try:
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130, err.decode()[-2000:]
    deadline = time.monotonic() + 15  # the fork server and the resource tracker exit once they see it
    while (left := _group(process.pid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, left
    assert 1 <= len(journal_lines(journal)) < 9


def _group(pgid):
    """Command lines of the live (not zombie) processes of a process group."""
    import os
    from pathlib import Path

    left = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and os.getpgid(int(entry.name)) == pgid:
                if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                    left.append((entry / "cmdline").read_text().replace("\0", " ")[:120])
        except OSError:
            continue
    return left


def test_sweep_points_do_not_depend_on_the_workers(run_cli, tmp_path):
    """`issc sweep`: each (solver, power) decision is a task with a fresh optimiser, so the CSV is the same
    with 1 and 2 workers (all but the solve time)."""
    for workers in (1, 2):
        argv = ["sweep", "-s", "tradeoff", "--power-dbm", "20:26:2", "--solvers", "sdr,zf-wf", "--workers", workers]
        code, _, err = run_cli(*argv, "--out", tmp_path / f"w{workers}")
        assert code == 0, err
    one, two = read_rows(tmp_path / "w1" / "sweep.csv"), read_rows(tmp_path / "w2" / "sweep.csv")
    assert len(one) == 8 and one == two
