# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The multi-user link end to end (python/issc/flowgraphs/multiuser_link.py, docs/multiuser.md "The GNU
Radio link")::

    image_source 0  --+                                                  +--> user_receiver 0 (data)     --+
    image_source 1  --+--> multiuser_transmitter ==N_T==> user_channels --+--> user_receiver 1 (data)     --+
    labelled_source 2 +     ^ config0..2  | sent, bits       | echo (N_R) +--> user_receiver 2 (semantic) --+
                            |             v                  v                                              v
                     multiuser_controller <-- feedback    sensing_estimator ---------------------> multiuser_monitor

At high SINR (40 dBm) every user's frames arrive with no bit error, each receiver decodes exactly its own
frames (its user id; no other user's header is even seen), the semantic user's class is the model's class
on the clean image, the SINR each receiver measures on the air is the one the optimiser predicted, and the
monitor has one row per user and frame and one per slot. The example script dispatches a multi-user
scenario to this link. Tiny images (64 x 64) and three slots keep it fast.
"""

import json
import os
import subprocess
import sys

import pytest
from conftest import REPO_ROOT

from gnuradio.issc.errors import IsscInputError
from gnuradio.issc.flowgraphs.multiuser_link import IsscMultiUserLink

FRAMES = 3


@pytest.fixture(scope="module")
def sensing_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("mu")
    link = IsscMultiUserLink("multiuser-sensing", FRAMES, size=64, out_dir=str(out), power_dbm=40.0)
    summary = link.run_frames(timeout_s=600, stall_s=120)
    rows = [json.loads(line) for line in (out / "frames.jsonl").read_text().splitlines()]
    return link, summary, rows, out


def test_every_users_frames_arrive_without_bit_errors_at_high_sinr(sensing_run):
    link, summary, rows, out = sensing_run
    assert summary["end_reason"] == "complete" and summary["complete"]
    assert summary["frames_sent"] == FRAMES and summary["frames_delivered"] == 3 * FRAMES
    for user in summary["users"]:
        assert user["frames_sent"] == FRAMES and user["frames_received"] == FRAMES
        assert user["bit_errors"] == 0 and user["headers_failed"] == 0
        # measured on each frame's preamble with the other users and the sensing streams as interference
        assert user["sinr_db"] == pytest.approx(user["predicted_sinr_db"], abs=1.5)
    assert json.loads((out / "summary.json").read_text())["slots"] == FRAMES


def test_each_receiver_keeps_only_its_own_frames(sensing_run):
    link, summary, rows, _ = sensing_run
    assert summary["other_user_headers"] == 0
    for u, receiver in enumerate(link.receivers):
        frames = receiver.frame_decoder.receiver
        assert frames.user == u and frames.frames_decoded == FRAMES and frames.headers_failed == 0
    users = [r for r in rows if r["kind"] == "user"]
    assert sorted((r["user"], r["seq"]) for r in users) == [(u, s) for u in range(3) for s in range(FRAMES)]
    assert all(r["bit_errors"] == 0 and r["received"] for r in users)


def test_semantic_user_gets_the_clean_class_and_rows_cover_every_user(sensing_run):
    link, summary, rows, _ = sensing_run
    semantic = [r for r in rows if r["kind"] == "user" and r["task"] == "semantic"]
    assert len(semantic) == FRAMES
    for row in semantic:
        assert row["predicted_class"] == row["clean_class"] and row["matches_clean"] is True
        assert row["correct"] == (row["predicted_class"] == row["label"])
        assert 0 < row["confidence"] <= 1 and row["model"] and row["code_rate"] > 0
    data = [r for r in rows if r["kind"] == "user" and r["task"] == "data"]
    assert all(0.5 < r["ms_ssim"] <= 1 and r["predicted_sinr_db"] is not None for r in data)
    slots = [r for r in rows if r["kind"] == "slot"]
    assert sorted(r["slot"] for r in slots) == list(range(FRAMES))
    weights = {u: w for u, w in enumerate(link.weights)}
    for slot in slots:
        parts = [r for r in rows if r["kind"] == "user" and r["slot"] == slot["slot"]]
        assert slot["users_received"] == 3
        assert slot["weighted_distortion"] == pytest.approx(sum(weights[r["user"]] * r["distortion"] for r in parts))
    assert summary["sensing_estimates"] > 0 and summary["controller_solves"] == 1


def test_single_user_scenarios_are_refused():
    with pytest.raises(IsscInputError, match="users"):
        IsscMultiUserLink("tradeoff", 1)


def test_example_runs_the_multiuser_scenario(tmp_path):
    """examples/issc_link.py --scenario multiuser: exit 0, the per-user table, summary.json per user."""
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT / "tests"))
    code = (
        "import sys, gnuradio; gnuradio.__path__.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2]); "
        "import issc_link; sys.exit(issc_link.main(sys.argv[3:]))"
    )
    out = tmp_path / "out"
    args = ["--scenario", "multiuser", "--frames", "2", "--size", "64", "--out", str(out)]
    result = subprocess.run(
        [sys.executable, "-c", code, str(REPO_ROOT / "python"), str(REPO_ROOT / "examples"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "semantic" in result.stdout and "4 frames delivered in 2 slots" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert [u["task"] for u in summary["users"]] == ["data", "semantic"]
    assert all(u["frames_received"] == 2 for u in summary["users"])
    split = [*args, "--tx-to", str(tmp_path / "x.cf32")]
    refused = subprocess.run(
        [sys.executable, "-c", code, str(REPO_ROOT / "python"), str(REPO_ROOT / "examples"), *split],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert refused.returncode == 2 and "single-user" in refused.stderr
    assert not (tmp_path / "x.cf32").exists()
