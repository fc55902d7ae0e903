# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Record and replay: a short closed-loop run (two tiny frames) recorded with ``sigmf_dir``, then replayed
from the recordings alone: the communication receiver decodes the same frames as live (same SINR
estimate, same image, from the air without tags), and the sensing estimator on the echo recordings (with
the transmitted streams as reference) gives the same estimates as live. ``issc replay`` does the same
from the command line, and names missing or invalid recordings with exit code 2."""

import json

import numpy as np
import pytest
import yaml
from conftest import make_synthetic_profile
from gnuradio import blocks

from gnuradio.issc.files import read_json_lines
from gnuradio.issc.flowgraphs.link import IsscLink
from gnuradio.issc.flowgraphs.recordings import ReplayComm, ReplaySensing
from gnuradio.issc.link.pdus import meta_to_dict
from gnuradio.issc.link.recording import read_recording

ESTIMATE_KEYS = ("seq", "block", "x", "y", "sync_error_m", "glrt", "ok")


def tiny_profile(path):
    """The synthetic profile cut to the tiny family's two models (t1, t2)."""
    profile = yaml.safe_load(make_synthetic_profile().to_yaml())
    profile["models"] = profile["models"][:2]
    for i, model in enumerate(profile["models"], start=1):
        model["id"] = f"t{i}"
    path.write_text(yaml.safe_dump(profile))
    return path


@pytest.fixture(scope="module")
def recorded(tiny_family, tmp_path_factory):
    """A live run of 2 frames (64 x 64 images, every sensing block estimated) recorded to ``rec/``."""
    root = tmp_path_factory.mktemp("replay")
    link = IsscLink(
        "tradeoff",
        2,
        out_dir=str(root / "live"),
        profile=str(tiny_profile(root / "profile.yml")),
        codec_dir=str(tiny_family),
        size=64,
        schedule=[(0, 30.0, None)],
        sensing_every=1,
        sigmf_dir=str(root / "rec"),
    )
    estimates = blocks.message_debug()
    link.msg_connect(link.estimator, "estimate", estimates, "store")
    summary = link.run_frames(timeout_s=600)
    assert summary["end_reason"] == "complete" and summary["frames_received"] == 2
    live = [meta_to_dict(estimates.get_message(i)) for i in range(estimates.num_messages())]
    return root, read_json_lines(root / "live" / "frames.jsonl"), live


def test_recordings_of_a_run(recorded):
    """N_T + 1 + N_R recordings of one run, equally long; the transmitted ones annotated per frame, the
    receiver's input and the echo not (the channels strip the tags)."""
    root, _, _ = recorded
    names = sorted(p.name for p in (root / "rec").glob("*.sigmf-meta"))
    assert names == sorted(["comm_rx.sigmf-meta"] + [f"{r}{k}.sigmf-meta" for r in ("tx", "echo") for k in range(4)])
    recs = {n: read_recording(root / "rec" / n) for n in names}
    assert len({r.samples.size for r in recs.values()}) == 1 and len({r.run_id for r in recs.values()}) == 1
    assert [f.seq for f in recs["tx0.sigmf-meta"].frames] == [0, 1]
    assert recs["tx0.sigmf-meta"].frames[1].sample_start == recs["tx0.sigmf-meta"].frames[0].sample_count
    assert recs["comm_rx.sigmf-meta"].frames == [] and recs["echo0.sigmf-meta"].frames == []


def test_communication_replay_decodes_the_same_frames_as_live(recorded, tiny_family, tmp_path):
    root, live_rows, _ = recorded
    replay = ReplayComm(
        root / "rec" / "comm_rx.sigmf-meta", str(tmp_path), codec_dir=str(tiny_family), images="", size=64
    )
    summary = replay.run_replay(timeout_s=300)
    assert summary["complete"] and summary["frames_received"] == 2 and summary["samples"] == replay.source.total
    rows = read_json_lines(tmp_path / "frames.jsonl")
    assert [r["seq"] for r in rows] == [r["seq"] for r in live_rows] == [0, 1]
    for row, live in zip(rows, live_rows):
        assert row["model"] == live["model"] and row["header_ok"] and row["received"]
        assert row["sinr_db"] == pytest.approx(live["sinr_db"], abs=1e-9)
        assert row["psnr"] == pytest.approx(live["psnr"], abs=1e-9)  # the same decoded image
        assert row["rate"] == pytest.approx(live["rate"], abs=1 / 256)  # the header's K / L vs the decision's
        assert row["predicted_sinr_db"] is None and row["ber"] is None  # only the transmitter knows these


def test_sensing_replay_gives_the_live_estimates(recorded, tmp_path):
    root, _, live = recorded
    summary = ReplaySensing(root / "rec" / "echo2.sigmf-meta", str(tmp_path), every=1).run_replay(timeout_s=300)
    rows = read_json_lines(tmp_path / "sensing.jsonl")
    assert summary["complete"] and summary["estimates"] == len(rows) == len(live) > 0
    assert summary["frames"] == [0, 1]
    for row, report in zip(rows, live):
        for key in ESTIMATE_KEYS:
            assert row[key] == pytest.approx(report[key], abs=1e-9), key


def test_replay_command(recorded, tiny_family, tmp_path, run_cli):
    """``issc replay`` on the receiver's input prints the summary; a missing, invalid or truncated
    recording, or an echo without its run's transmitted streams, is a one-line error with exit code 2."""
    root, live_rows, _ = recorded
    code, out, err = run_cli(
        "replay", root / "rec" / "comm_rx.sigmf-data", "--out", tmp_path / "a", "--codec-dir", tiny_family
    )
    assert code == 0, err
    assert json.loads(out)["frames_received"] == 2
    assert [r["sinr_db"] for r in read_json_lines(tmp_path / "a" / "frames.jsonl")] == pytest.approx(
        [r["sinr_db"] for r in live_rows], abs=1e-9
    )

    code, out, err = run_cli("replay", tmp_path / "none.sigmf-meta", "--out", tmp_path / "b")
    assert code == 2 and "no such file" in err and err.count("\n") == 1 and "Traceback" not in err

    broken = tmp_path / "broken"
    broken.mkdir()
    meta = json.loads((root / "rec" / "comm_rx.sigmf-meta").read_text())
    meta["global"].pop("core:extensions")
    (broken / "comm_rx.sigmf-meta").write_text(json.dumps(meta))
    (broken / "comm_rx.sigmf-data").write_bytes((root / "rec" / "comm_rx.sigmf-data").read_bytes()[:1000])
    code, _, err = run_cli("replay", broken / "comm_rx.sigmf-meta", "--out", tmp_path / "c")
    assert code == 2 and "undeclared extensions" in err
    meta["global"]["core:extensions"] = [{"name": "issc", "version": "1.0.0", "optional": True}]
    (broken / "comm_rx.sigmf-meta").write_text(json.dumps(meta))
    code, _, err = run_cli("replay", broken / "comm_rx.sigmf-meta", "--out", tmp_path / "c")
    assert code == 2 and "truncated" in err

    lonely = tmp_path / "lonely"
    lonely.mkdir()
    for suffix in (".sigmf-meta", ".sigmf-data"):
        (lonely / f"echo0{suffix}").write_bytes((root / "rec" / f"echo0{suffix}").read_bytes())
    code, _, err = run_cli("replay", lonely / "echo0.sigmf-meta", "--out", tmp_path / "d")
    assert code == 2 and "needs the run's 4 tx recordings" in err


def test_best_effort_replay_of_a_truncated_recording(recorded, tiny_family, tmp_path):
    """The receiver's input cut in the middle of the second frame: strict replay refuses, best effort
    decodes the first frame as live."""
    root, live_rows, _ = recorded
    for suffix in (".sigmf-meta", ".sigmf-data"):
        (tmp_path / f"comm_rx{suffix}").write_bytes((root / "rec" / f"comm_rx{suffix}").read_bytes())
    data = tmp_path / "comm_rx.sigmf-data"
    data.write_bytes(data.read_bytes()[: int(data.stat().st_size * 0.75)])
    with pytest.raises(Exception, match="truncated"):
        ReplayComm(tmp_path / "comm_rx", codec_dir=str(tiny_family))
    summary = ReplayComm(
        tmp_path / "comm_rx", str(tmp_path / "out"), codec_dir=str(tiny_family), strict=False
    ).run_replay(300)
    rows = read_json_lines(tmp_path / "out" / "frames.jsonl")
    assert summary["missing_samples"] > 0 and [r["seq"] for r in rows] == [0]
    assert rows[0]["sinr_db"] == pytest.approx(live_rows[0]["sinr_db"], abs=1e-9)
    assert np.isfinite(rows[0]["sinr_db"])
