# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""``issc fuzz``: the summary it prints, the failures it finds (a planted bug, a planted hang), the
reproducer files it writes and replays, and its own bad-argument handling."""

import json
import random
import time

import pytest

from gnuradio.issc.cli import fuzz_targets as ft
from gnuradio.issc.cli.fuzz import mutate


def test_a_short_run_prints_the_summary(run_cli):
    """--max-inputs bounds the run exactly; the JSON has the documented fields."""
    code, out, err = run_cli("fuzz", "header", "--seconds", 60, "--max-inputs", 300, "--json")
    summary = json.loads(out)
    assert code == 0, err
    assert summary["target"] == "header" and summary["inputs"] == 300 and summary["failures"] == 0
    assert summary["inputs_per_second"] > 0 and summary["seconds"] > 0
    assert summary["distinct_failures"] == []


@pytest.fixture
def planted(monkeypatch):
    """Replace the 'header' target by one with a planted bug: any 0xFF byte raises a KeyError."""

    def check(data):
        if b"\xff" in data:
            raise KeyError("planted")
        return "ok"

    target = ft.Target("header", "planted", lambda: [bytes(8)], check, 64)
    monkeypatch.setitem(ft.TARGETS, "header", target)
    return target


def test_a_planted_bug_is_found_written_and_replayed(run_cli, tmp_path, planted):
    """The mutator finds the bad byte; the run exits 1 and writes one reproducer per distinct failure,
    which --replay runs again (exit 1); a clean input replays with exit 0."""
    code, out, err = run_cli("fuzz", "header", "--seconds", 60, "--max-inputs", 3000, "--out", tmp_path, "--json")
    summary = json.loads(out)
    assert code == 1 and summary["failures"] > 0
    [failure] = summary["distinct_failures"]
    assert failure["signature"].startswith("KeyError")
    reproducer = tmp_path / failure["reproducer"].rsplit("/", 1)[-1]
    assert b"\xff" in reproducer.read_bytes()
    assert "KeyError: 'planted'" in reproducer.with_suffix(".txt").read_text()
    code, out, err = run_cli("fuzz", "header", "--replay", reproducer, "--json")
    assert code == 1 and json.loads(out)["replayed"][0]["failure"].startswith("KeyError")
    clean = tmp_path / "clean.bin"
    clean.write_bytes(b"\x00\x01")
    code, out, err = run_cli("fuzz", "header", "--replay", clean, "--json")
    assert code == 0 and json.loads(out)["replayed"][0]["outcome"] == "ok"


def test_a_hang_is_a_failure(run_cli, monkeypatch):
    """An input that runs past --timeout is stopped and counted as a failure."""

    def slow(data):
        time.sleep(5)
        return "ok"

    monkeypatch.setitem(ft.TARGETS, "header", ft.Target("header", "slow", lambda: [b""], slow))
    code, out, err = run_cli("fuzz", "header", "--max-inputs", 1, "--timeout", 0.2, "--json")
    summary = json.loads(out)
    assert code == 1 and summary["distinct_failures"][0]["signature"].startswith("FuzzTimeout")
    assert summary["seconds"] < 4


@pytest.mark.parametrize(
    "argv,message",
    [
        (["nope"], "invalid choice"),
        (["header", "--seconds", "nan"], "--seconds"),
        (["header", "--seconds", "0"], "--seconds"),
        (["all", "--replay", "x.bin"], "--replay"),
        (["header", "--replay", "/nonexistent/x.bin"], "--replay"),
    ],
)
def test_bad_arguments_are_one_line_errors(run_cli, argv, message):
    code, out, err = run_cli("fuzz", *argv)
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err


def test_an_output_path_that_is_a_file_is_refused_before_the_run(run_cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, out, err = run_cli("fuzz", "header", "--out", blocker)
    assert code == 2 and "--out" in err and out == ""


def test_mutate_is_seeded_and_bounded():
    """The same seed gives the same mutants; they never exceed max_len; they differ from the input."""
    corpus = [bytes(range(40)), b"abc"]
    first = [mutate(corpus[0], random.Random(3), corpus, 48) for _ in range(1)]
    again = [mutate(corpus[0], random.Random(3), corpus, 48) for _ in range(1)]
    assert first == again
    rng = random.Random(0)
    mutants = [mutate(corpus[0], rng, corpus, 48) for _ in range(500)]
    assert all(len(m) <= 48 for m in mutants)
    assert sum(m != corpus[0] for m in mutants) > 450
