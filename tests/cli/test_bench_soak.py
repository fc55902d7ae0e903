# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""``issc bench soak``: the closed loop for many frames at a power where every frame decodes; a short
run in CI (the long one is in docs/link.md)."""

import json

import pytest


def test_bench_soak_short_run_receives_every_frame_without_bit_errors(run_cli):
    """20 frames of 32 x 32 at the default power: every frame sent is received with no failed header and
    no payload bit error; the JSON has its interface keys, resident memory readings in MiB (a process
    with torch loaded holds well over 50 MiB) and a series of readings ending at the last frame."""
    code, out, err = run_cli("bench", "soak", "--frames", "20", "--json")
    assert code == 0, err
    data = json.loads(out)
    for key in (
        "frames_sent",
        "frames_received",
        "headers_failed",
        "bit_errors",
        "rss_mb_start",
        "rss_mb_end",
        "seconds",
    ):
        assert key in data
    assert data["frames_sent"] == 20 and data["frames_received"] == data["frames_sent"]
    assert data["headers_failed"] == 0 and data["bit_errors"] == 0
    assert data["complete"] and data["end_reason"] == "complete" and data["warmup_frames"] == 20
    assert data["rss_mb_start"] > 50 and data["rss_mb_end"] > 50 and data["seconds"] > 0
    assert data["rss_mb_growth"] == pytest.approx(data["rss_mb_end"] - data["rss_mb_start"])
    frames = [f for f, _ in data["rss_series"]]
    assert frames == sorted(frames) and frames[-1] == 20


@pytest.mark.parametrize(
    "args",
    [
        ("--frames", "0"),
        ("--size", "8"),
        ("--sensing-every", "-1"),
        ("--power-dbm", "nan"),
        ("--seed", "-1"),
        ("--timeout", "-1"),
    ],
)
def test_bench_soak_rejects_bad_arguments(run_cli, args):
    code, out, err = run_cli("bench", "soak", *args)
    assert code == 2 and out == "" and "error" in err and "Traceback" not in err
