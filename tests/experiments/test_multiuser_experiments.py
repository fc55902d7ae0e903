# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""``issc experiment mu-power|mu-region`` (python/issc/experiments/multiuser.py) and the standard codecs'
payloads through the multi-user link (docs/multiuser.md "Experiments").

The quick runs (64 x 64 images, two slots, one worker) check the CSV against the monitor's own rows: the
columns, one row per point, ``frames`` = slots x users = received + lost, the weighted distortion the mean
over the slots of ``sum_k beta_k (1 - metric_k)`` recomputed from the per-user rows, and at 40 dBm every
frame without a bit error at the SINR the optimiser designed. A rerun with the same output folder runs no
point. A data user on an HEVC or JPEG operating point gets exactly the clean decode of its image.
"""

import csv
import json

import numpy as np
import pytest

from gnuradio.issc.errors import IsscInputError

POWER = ["experiment", "mu-power", "--quick", "--sensing", "target", "--workers", 1]
POWER_SCHEMES = "mu-ascc-mixed,zf-wf-bpg,zf-wf-djscc"
REQUIRED = {"scheme", "power_dbm", "weighted_distortion", "ms_ssim", "accuracy", "hcrb_trace", "frames", "frames_lost"}


def _csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def power_run(tmp_path_factory):
    from gnuradio.issc.cli import main

    out = tmp_path_factory.mktemp("mu-power")
    assert main([str(a) for a in [*POWER, "--schemes", POWER_SCHEMES, "--out", out]]) == 0
    return out


def test_mu_power_csv_matches_the_monitor_rows(power_run):
    """One row per (scheme, power) with the documented columns; frames = slots x users = received + lost; the
    weighted distortion and the data users' MS-SSIM are the means of the per-frame rows in frames.jsonl,
    recomputed here (the analog zf-wf-djscc frames included)."""
    rows = _csv(power_run / "results.csv")
    assert REQUIRED <= set(rows[0]) and {"predicted_weighted_distortion", "u2_metric", "seconds"} <= set(rows[0])
    assert {(r["scheme"], float(r["power_dbm"])) for r in rows} == {
        (s, p) for s in POWER_SCHEMES.split(",") for p in (28.0, 40.0)
    }
    frames = _lines(power_run / "frames.jsonl")
    assert (power_run / "mu-power.png").stat().st_size > 10000
    for r in rows:
        assert r["sensing"] == "target" and float(r["hcrb_trace"]) <= 20.0 * (1 + 1e-4)
        assert 0 < float(r["predicted_weighted_distortion"]) < 1
        assert r["through_link"] == "True"
        mine = [f for f in frames if f["scheme"] == r["scheme"] and f["power_dbm"] == float(r["power_dbm"])]
        users = [f for f in mine if f["kind"] == "user"]
        slots = [f for f in mine if f["kind"] == "slot"]
        assert int(r["slots"]) == len(slots) == 2 and int(r["frames"]) == len(users) == 3 * 2
        received = sum(int(r[f"u{k}_frames_received"]) for k in range(3))
        assert received + int(r["frames_lost"]) == int(r["frames"])
        assert int(r["frames_lost"]) == sum(not f["received"] for f in users)
        weights = [float(w) for w in r["weights"].split("/")]
        per_slot = [
            sum(weights[f["user"]] * (1 - f["task_metric"]) for f in users if f["slot"] == s["slot"]) for s in slots
        ]
        assert float(r["weighted_distortion"]) == pytest.approx(np.mean(per_slot), rel=1e-5)
        data = [f["task_metric"] for f in users if f["task"] == "data"]
        assert float(r["ms_ssim"]) == pytest.approx(np.mean(data), rel=1e-5)


def test_mu_power_at_high_power_every_frame_arrives_as_designed(power_run):
    """At 40 dBm: every frame of every user arrives, no bit error for any digital user, each user's measured
    SINR within 1.5 dB of the optimiser's, the semantic user's class the clean image's, and each HEVC data
    user's MS-SSIM within 0.1 of the profile's prediction (64 x 64 images against a profile fitted on 256 x
    256 ones); zf-wf-djscc's data users get analog frames (no bits) from the 10 dB model."""
    rows = [r for r in _csv(power_run / "results.csv") if float(r["power_dbm"]) == 40.0]
    assert len(rows) == 3
    for r in rows:
        assert int(r["bit_errors"]) == 0 and int(r["frames_lost"]) == 0
        for k in range(3):
            assert abs(float(r[f"u{k}_sinr_db"]) - float(r[f"u{k}_predicted_sinr_db"])) < 1.5
            if r[f"u{k}_task"] == "data" and r["scheme"] == "zf-wf-djscc":
                assert r[f"u{k}_model"] == "ae-abr16-snr10" and float(r[f"u{k}_code_rate"]) == 0
                assert 0.5 < float(r[f"u{k}_metric"]) <= 1
            elif r[f"u{k}_task"] == "data":
                assert r[f"u{k}_model"].startswith("hevc-")
                assert abs(float(r[f"u{k}_metric"]) - float(r[f"u{k}_predicted_metric"])) < 0.1
    analog = [f for f in _lines(power_run / "frames.jsonl") if f["scheme"] == "zf-wf-djscc" and f.get("task") == "data"]
    assert analog and all(f["received"] and f["bit_errors"] is None and f["code_rate"] == 0 for f in analog)
    semantic = [f for f in _lines(power_run / "frames.jsonl") if f.get("task") == "semantic" and f["power_dbm"] == 40]
    assert semantic and all(f["matches_clean"] for f in semantic)


def test_mu_power_rerun_resumes_without_running_a_point(power_run, run_cli):
    """The same command on the same folder finds every point in points.jsonl and writes the same CSV."""
    before = (power_run / "results.csv").read_text()
    code, out, err = run_cli(*POWER, "--schemes", POWER_SCHEMES, "--out", power_run)
    assert code == 0, err
    assert "6 of 6 points already done" in err and json.loads(out)["points"] == 6
    assert (power_run / "results.csv").read_text() == before


def test_mu_region_sweeps_the_weights(run_cli, tmp_path):
    """mu-region: the swept scheme once per data weight (the weights in the CSV sum to 1 with the data users'
    share as asked), the benchmark once; a larger data weight never predicts a lower data MS-SSIM or a higher
    semantic accuracy (the weighted optimum moves along the trade-off)."""
    argv = ["experiment", "mu-region", "--quick", "--frames", 1, "--workers", 1, "--out", tmp_path]
    code, out, err = run_cli(*argv, "--schemes", "mu-ascc-mixed,zf-wf-djscc", "--weights", "0.2,0.8")
    assert code == 0, err
    rows = _csv(tmp_path / "results.csv")
    swept = sorted((r for r in rows if r["scheme"] == "mu-ascc-mixed"), key=lambda r: float(r["data_weight"]))
    assert [float(r["data_weight"]) for r in swept] == pytest.approx([0.2, 0.8])
    for r in swept:
        assert sum(float(w) for w in r["weights"].split("/")) == pytest.approx(1.0, abs=1e-3)
        assert int(r["frames"]) == 3
    assert float(swept[1]["predicted_ms_ssim"]) >= float(swept[0]["predicted_ms_ssim"]) - 1e-9
    assert float(swept[1]["predicted_accuracy"]) <= float(swept[0]["predicted_accuracy"]) + 1e-9
    assert [r["weights"] for r in rows if r["scheme"] == "zf-wf-djscc"] == ["0.4/0.3/0.3"]
    assert (tmp_path / "mu-region.png").stat().st_size > 10000


@pytest.mark.parametrize("family", ["mixed", "jpeg"])
def test_standard_codec_frames_decode_through_the_link(family):
    """A data user on an HEVC (mixed family) or JPEG operating point at 40 dBm: the frames arrive without a bit
    error and its MS-SSIM is the clean decode's (encode + decode of the same image with StandardCodec, no
    channel); the transmitter and the receiver index the same model list, the learned models first."""
    from gnuradio.issc.codec.standard import StandardCodec, is_standard
    from gnuradio.issc.flowgraphs.multiuser_link import IsscMultiUserLink
    from gnuradio.issc.metrics import ms_ssim

    link = IsscMultiUserLink("multiuser", 2, size=64, power_dbm=40.0, family=family)
    summary = link.run_frames(timeout_s=300, stall_s=60)
    assert summary["complete"]
    encoder, decoder = link.transmitter.encoders[0], link.receivers[0].decoder
    learned = encoder.codec.learned.model_ids
    assert encoder.model_ids == decoder.model_ids and encoder.model_ids[: len(learned)] == learned
    rows = [r for r in link.monitor.ledger.rows if r["kind"] == "user" and r["task"] == "data"]
    assert len(rows) == 2
    for row in rows:
        assert is_standard(row["model"]) and row["model"].startswith("hevc" if family == "mixed" else "jpeg")
        assert row["bit_errors"] == 0 and row["received"]
        reference = link.monitor.ledger.references[0](row["seq"])
        codec = StandardCodec([row["model"]])
        clean = codec.decode_parts(*codec.encode_parts(reference, row["model"]))
        assert row["ms_ssim"] == pytest.approx(ms_ssim(reference, clean), abs=1e-7)  # float32 image PDUs


def test_a_djscc_frame_pdu_needs_an_analog_configuration():
    """The slot framer sends an analog frame only for an analog configuration (info_bits 0), and its 'bits'
    record has an empty payload; a symbol PDU with a digital configuration is refused."""
    from gnuradio.issc.blocks.multiuser_frame_encoder import multiuser_frame_encoder
    from gnuradio.issc.link.config import LinkConfig
    from gnuradio.issc.link.pdus import make_symbol_pdu

    encoder = multiuser_frame_encoder(2)
    symbols = np.exp(2j * np.pi * np.arange(192) / 7).astype(np.complex64)
    meta = {"seq": 0, "model_index": 0, "height": 8, "width": 8}
    digital = LinkConfig("hp1", 0.5, 128, np.ones(2, complex), np.zeros((2, 1), complex), 0, {})
    with pytest.raises(IsscInputError, match="analog configuration"):
        encoder._on_pdu(0, make_symbol_pdu({**meta, "config": digital.to_pmt()}, symbols))
    analog = LinkConfig("ae", 0.0, 0, np.ones(2, complex), np.zeros((2, 1), complex), 0, {})
    encoder._on_pdu(0, make_symbol_pdu({**meta, "config": analog.to_pmt()}, symbols))
    assert encoder.framer.queued() == 0 and len(encoder.framer._queues[0]) == 1


@pytest.mark.parametrize(
    "argv, names",
    [
        (["mu-power", "--powers", "28,28"], "power"),
        (["mu-power", "--schemes", "mu-ascc,nope"], "schemes"),
        (["mu-power", "--scenario", "paper"], "users"),
        (["mu-power", "--scenario", "multiuser", "--sensing", "target"], "sensing target"),
        (["mu-region", "--powers", "28,30"], "one --powers"),
        (["mu-region", "--weights", "0.5,1.5"], "weights"),
        (["mu-power", "--frames", "0"], "frames"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(run_cli, tmp_path, argv, names):
    """Bad options end as one line naming what is wrong, exit code 2, and no output written."""
    code, out, err = run_cli("experiment", *argv, "--out", tmp_path / "o")
    assert code == 2 and out == ""
    lines = [line for line in err.splitlines() if line.strip()]
    assert names in lines[-1] and "Traceback" not in err
    assert not (tmp_path / "o" / "results.csv").exists()
