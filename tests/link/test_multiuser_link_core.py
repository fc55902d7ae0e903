# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The multi-user link's core (python/issc/link/multiuser.py): the superposition against an explicit sum,
the slots (frames start together, padded to the longest with zeros, queues bounded), a semantic user's
class from its bitstream against the model on the clean features, and the per-user ledger's rows and
weighted distortion against hand-computed values."""

import json

import numpy as np
import pytest

from gnuradio.issc.errors import IsscInputError
from gnuradio.issc.link.framing import FrameFormat, FrameHeader, FrameReceiver, build_frame
from gnuradio.issc.link.multiuser import (
    SLOT_ROW_KEYS,
    USER_ROW_KEYS,
    MultiUserLedger,
    SlotFramer,
    classify_payload,
    parse_tasks,
    superpose,
)

FMT = FrameFormat(blocklength=64, preamble_length=128, header_symbols=128, list_size=4)


def test_superpose_is_the_sum_of_the_beamformed_streams():
    """x[n] = sum_k w_k s_k[n] + sum_r W_0[:, r] s_0,r[n], sample by sample (explicit loops)."""
    rng = np.random.default_rng(0)
    n_tx, k, r, n = 4, 3, 2, 50
    w = rng.normal(size=(n_tx, k)) + 1j * rng.normal(size=(n_tx, k))
    w_0 = rng.normal(size=(n_tx, r)) + 1j * rng.normal(size=(n_tx, r))
    s = rng.normal(size=(k, n)) + 1j * rng.normal(size=(k, n))
    s_0 = rng.normal(size=(r, n)) + 1j * rng.normal(size=(r, n))
    expected = np.zeros((n_tx, n), complex)
    for t in range(n):
        for user in range(k):
            expected[:, t] += w[:, user] * s[user, t]
        for j in range(r):
            expected[:, t] += w_0[:, j] * s_0[j, t]
    np.testing.assert_allclose(superpose(w, w_0, s, s_0), expected, atol=1e-12)


def test_slots_start_together_and_pad_shorter_frames_with_zeros():
    """A slot goes out once every user has a frame; each row is that user's frame (its user id in the
    header), then zeros up to the longest frame; the slot's frames decode at their users' receivers."""
    rng = np.random.default_rng(1)
    framer = SlotFramer(FMT, 2)
    payloads = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in (90, 9)]
    headers = [FrameHeader(5, 0, 60, 0, len(p), 8, 8) for p in payloads]
    framer.add(0, headers[0], payloads[0], config="c0")
    assert not framer.ready() and framer.pop() is None
    framer.add(1, headers[1], payloads[1], config="c1")
    slot = framer.pop()
    lengths = [build_frame(FMT, FrameHeader(5, 0, 60, 0, len(p), 8, 8, u), p).size for u, p in enumerate(payloads)]
    assert slot.frame_lengths == lengths and slot.symbols.shape == (2, max(lengths))
    assert slot.configs == ["c0", "c1"] and slot.seqs == [5, 5] and slot.number == 0
    assert np.all(slot.symbols[1, lengths[1] :] == 0) and np.all(slot.symbols[1, : lengths[1]] != 0)
    for user in range(2):
        got = FrameReceiver(FMT, user=user).push(np.concatenate([slot.symbols[user], np.zeros(10)]))
        assert len(got) == 1 and got[0].header.user == user and got[0].payload == payloads[user]


def test_a_full_user_queue_drops_its_oldest_frame():
    framer = SlotFramer(FMT, 2, max_queue=2)
    for seq in range(3):
        kept = framer.add(0, FrameHeader(seq, 0, 60, 0, 5, 8, 8), bytes(5))
    assert not kept and framer.dropped == 1
    framer.add(1, FrameHeader(9, 0, 60, 0, 5, 8, 8), bytes(5))
    assert framer.pop().seqs == [1, 9]
    with pytest.raises(IsscInputError):
        framer.add(2, FrameHeader(0, 0, 60, 0, 5, 8, 8), bytes(5))


def test_parse_tasks():
    assert parse_tasks("data, semantic,data") == ["data", "semantic", "data"]
    for bad in ("", "data,video", []):
        with pytest.raises(IsscInputError):
            parse_tasks(bad)


def test_classify_payload_gives_the_class_of_the_clean_features():
    """The class decoded from a clean bitstream is the model's class on the clean (quantised) features, and
    the confidence is that class's softmax probability; a corrupted payload still gives a valid class."""
    torch = pytest.importorskip("torch")
    from gnuradio.issc.semantic.data import load_digits
    from gnuradio.issc.semantic.family import SemanticFamily

    family = SemanticFamily.load()
    images = load_digits().test_x[:6]
    for model in ("sem1", "sem4"):
        for image in images:
            ((_, payload),) = family.encode_batch(image, model)
            label, confidence = classify_payload(family, model, payload)
            logits = family.logits(family.features(image, model), model)
            probabilities = torch.softmax(logits.double(), dim=1)[0].numpy()
            assert label == int(np.argmax(probabilities))
            assert confidence == pytest.approx(float(probabilities[label]), abs=1e-6)
    label, confidence = classify_payload(family, "sem2", bytes(3))
    assert 0 <= label < 10 and 0 < confidence <= 1


def test_ledger_rows_per_user_and_the_weighted_distortion(tmp_path):
    """Two users (data 0.7, semantic 0.3), two slots: every user row and slot row has its keys; bit errors
    are counted against the sent bytes; a lost frame (truncated) counts distortion 1; the slot's weighted
    distortion is sum_k beta_k (1 - metric_k), here computed by hand; frames.jsonl and summary.json hold
    them."""
    image = np.full((40, 40, 3), 100, np.uint8)
    (tmp_path / "frames.jsonl").write_text('{"stale": true}\n')  # a new run starts a new table
    ledger = MultiUserLedger(["data", "semantic"], [0.7, 0.3], [lambda seq: image, None], tmp_path)
    info0 = {"model": "hp1", "code_rate": 0.5, "sinr_db": 3.0, "distortion": 0.2, "weighted_distortion": 0.25}
    info1 = {"model": "sem1", "code_rate": 0.4, "sinr_db": 1.0, "distortion": 0.1, "label": 4, "clean_class": 4}
    clean_wrong = dict(info1, clean_class=6)  # the model misclassifies the clean image of slot 1
    for slot in range(2):
        ledger.sent(0, slot, slot, b"\x00\x00", info0)
        ledger.sent(1, slot, slot, b"\xff", info1 if slot == 0 else clean_wrong)
    ledger.received_bits(0, 0, b"\x00\x01", {"sinr_db": 2.5})  # one bit wrong
    ledger.received_image(0, 0, image)  # identical: MS-SSIM 1
    ledger.received_bits(1, 0, b"\xff", {"sinr_db": 0.5})
    ledger.received_label(1, 0, 4, 0.9)
    ledger.header_failed(0, 1, "truncated")  # user 0's slot-1 frame lost
    ledger.header_failed(1, None, "user 0")  # another user's header: not a failure of this user
    ledger.received_bits(1, 1, b"\xff", {"sinr_db": 0.7})
    ledger.received_label(1, 1, 6, 0.6)  # the clean image's class, not the label
    summary = ledger.flush()
    users = [r for r in ledger.rows if r["kind"] == "user"]
    slots = [r for r in ledger.rows if r["kind"] == "slot"]
    assert len(users) == 4 and len(slots) == 2
    assert all(list(r) == list(USER_ROW_KEYS) for r in users) and all(list(r) == list(SLOT_ROW_KEYS) for r in slots)
    row = {(r["user"], r["slot"]): r for r in users}
    assert row[0, 0]["bit_errors"] == 1 and row[0, 0]["ber"] == pytest.approx(1 / 16)
    assert row[0, 0]["ms_ssim"] == pytest.approx(1.0) and row[0, 0]["sinr_db"] == 2.5
    assert row[0, 1]["received"] is False and row[0, 1]["distortion"] == 1.0
    assert row[1, 0]["correct"] is True and row[1, 1]["correct"] is False
    assert row[1, 0]["matches_clean"] is True and row[1, 1]["matches_clean"] is True
    by_slot = {r["slot"]: r for r in slots}
    assert by_slot[0]["weighted_distortion"] == pytest.approx(0.7 * 0.0 + 0.3 * 0.0)
    assert by_slot[1]["weighted_distortion"] == pytest.approx(0.7 * 1.0 + 0.3 * 1.0)
    assert by_slot[0]["predicted_weighted_distortion"] == 0.25
    assert summary["users"][0]["frames_received"] == 1 and summary["users"][1]["task_metric"] == 0.5
    assert summary["other_user_headers"] == 1 and summary["users"][0]["headers_failed"] == 1
    assert summary["weighted_distortion"] == pytest.approx(0.5)
    lines = (tmp_path / "frames.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == ledger.rows
    assert json.loads((tmp_path / "summary.json").read_text())["slots"] == 2


def test_an_earlier_frame_still_open_when_a_later_one_closes_is_lost():
    """A frame whose header failed cannot say which it was: once the user's next frame closes, it is lost."""
    ledger = MultiUserLedger(["semantic"], [1.0])
    for seq in range(2):
        ledger.sent(0, seq, seq, b"\x01", {"label": 1, "clean_class": 1})
    ledger.received_bits(0, 1, b"\x01", {})
    ledger.received_label(0, 1, 1, 0.99)
    assert [(r["seq"], r["received"]) for r in ledger.rows if r["kind"] == "user"] == [(0, False), (1, True)]


def test_results_that_come_before_the_sent_record_wait_for_it():
    """A monitor handles its ports in no set order: a class, bits or a loss reported before the frame's
    'sent' record are kept and applied when it comes."""
    ledger = MultiUserLedger(["semantic", "data"], [0.5, 0.5])
    ledger.received_label(0, 0, 2, 0.8)
    ledger.received_bits(0, 0, b"\x07", {"sinr_db": 1.0})
    ledger.header_failed(1, 0, "truncated")
    assert ledger.rows == []
    ledger.sent(0, 0, 0, b"\x07", {"label": 2, "clean_class": 2})
    ledger.sent(1, 0, 0, b"\x00", {})
    rows = {r["user"]: r for r in ledger.rows if r["kind"] == "user"}
    assert rows[0]["received"] and rows[0]["correct"] and rows[0]["bit_errors"] == 0
    assert rows[1]["received"] is False and rows[1]["distortion"] == 1.0
    assert [r["weighted_distortion"] for r in ledger.rows if r["kind"] == "slot"] == [0.5]
