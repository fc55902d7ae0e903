# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The link monitor: the per-frame join against hand-computed numbers, and the block in a flowgraph."""

import json

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr, issc

from gnuradio.issc.link.config import LinkConfig
from gnuradio.issc.link.ledger import FrameLedger
from gnuradio.issc.link.pdus import (
    image_to_pdu,
    is_int,
    is_real,
    make_pdu,
    meta_seq,
    nested_pmt,
    pdu_to_image,
    require_int,
    require_real,
    split_pdu,
)

rng = np.random.default_rng(11)


def image(seed):
    return np.random.default_rng(seed).integers(0, 256, size=(64, 64, 3), dtype=np.uint8)


def test_ledger_rows_match_hand_computed_numbers(tmp_path):
    ledger = FrameLedger(tmp_path)
    original = image(1)
    received = original.copy()
    received[0, 0, 0] ^= 0xFF
    ledger.sent_image(0, original)
    ledger.sent_bitstream(0, b"\x00\x00\xff", {"model": "m2", "code_rate": 1.0, "hcrb_trace": 16.0})
    ledger.received_bitstream(0, b"\x01\x00\xff", {"header_ok": True, "sinr_db": 7.5})
    ledger.sent_image(1, image(2))  # frame 1 never arrives
    ledger.sent_bitstream(1, b"\x00", {"model": "m2"})
    ledger.sent_image(2, image(3))
    ledger.sent_bitstream(2, b"\x00", {"model": "m3"})
    ledger.received_image(0, received)
    ledger.received_bitstream(2, b"\x00", {"header_ok": True})
    ledger.received_image(2, image(3))
    ledger.received_bitstream(0, b"\xff", {})  # late duplicate for a closed frame: ignored
    summary = ledger.flush()
    ledger.close()
    rows = [json.loads(line) for line in (tmp_path / "frames.jsonl").read_text().splitlines()]
    assert [r["seq"] for r in rows] == [0, 1, 2]
    first = rows[0]
    mse = (255.0 / 255.0) ** 2 / original.size
    assert first["psnr"] == pytest.approx(-10 * np.log10(mse))
    assert first["ber"] == pytest.approx(1 / 24) and first["bit_errors"] == 1
    assert first["header_ok"] and first["sinr_db"] == 7.5 and first["hcrb_rmse_m"] == 4.0
    assert 0.9 < first["ms_ssim"] < 1.0
    assert rows[1]["header_ok"] is False and rows[1]["psnr"] is None
    assert rows[1]["received"] is False and rows[2]["received"] is True
    assert rows[2]["psnr"] is None and rows[2]["ms_ssim"] == pytest.approx(1.0)  # identical: PSNR inf -> null
    assert summary["frames"] == 3 and summary["frames_received"] == 2 and summary["models"] == ["m2", "m3"]
    assert json.loads((tmp_path / "summary.json").read_text())["frames"] == 3
    for key in (
        "seq",
        "model",
        "rate",
        "sinr_db",
        "ber",
        "header_ok",
        "psnr",
        "ms_ssim",
        "predicted_distortion",
        "sensing_error_m",
        "hcrb_rmse_m",
    ):
        assert key in first


@pytest.mark.parametrize("order", [(0, 1, 2, 3), (3, 2, 1, 0), (1, 3, 0, 2), (2, 0, 3, 1)])
def test_a_frame_closes_as_soon_as_its_last_piece_arrives_whatever_the_order(order):
    """The four inputs come from four message ports, handled in no set order by GNU Radio: the row is
    written when the last of them arrives, not at the next frame or at the flush."""
    ledger = FrameLedger()
    pieces = [
        lambda: ledger.sent_image(0, image(1)),
        lambda: ledger.sent_bitstream(0, b"\x0f", {"model": "m1"}),
        lambda: ledger.received_bitstream(0, b"\x0f", {"header_ok": True}),
        lambda: ledger.received_image(0, image(1)),
    ]
    for count, index in enumerate(order, start=1):
        pieces[index]()
        assert len(ledger.rows) == (1 if count == 4 else 0)
    assert ledger.rows[0]["ber"] == 0.0


def test_image_pdu_round_trip_and_validation():
    img = image(5)
    meta, back = pdu_to_image(image_to_pdu(9, img, note="x"))
    assert meta["seq"] == 9 and meta["note"] == "x"
    np.testing.assert_array_equal(back, img)
    bad = make_pdu({"seq": 1, "height": 64, "width": 64}, b"\x00" * 10)
    with pytest.raises(issc.IsscInputError, match="expected 64 x 64 x 3"):
        pdu_to_image(bad)
    with pytest.raises(issc.IsscInputError):
        split_pdu(pmt.intern("nope"))


def test_metadata_checks_reject_bools_and_name_the_field_and_the_carrier():
    """One place for the PDU field checks: integers (NumPy's too) pass, bools, floats, strings and missing
    fields do not, and the message names what carried the field and which field it is."""
    assert [is_int(v) for v in (3, np.int64(3), True, np.bool_(True), 3.0, "3", None)] == [True, True] + [False] * 5
    assert [is_real(v) for v in (3, 2.5, np.float32(1.5), False, "1")] == [True, True, True, False, False]
    assert require_int({"block": np.int32(7)}, "block", "estimate") == 7
    assert meta_seq({"seq": 12}, "feedback message") == 12
    with pytest.raises(issc.IsscInputError, match=r"^feedback message needs an integer 'seq', got True$"):
        meta_seq({"seq": True}, "feedback message")
    with pytest.raises(issc.IsscInputError, match=r"^bitstream PDU needs an integer 'height'$"):
        require_int({}, "height", "bitstream PDU")
    with pytest.raises(issc.IsscInputError, match=r"needs an integer 'seq', got 1.0"):
        meta_seq({"seq": 1.0}, "sensing report")
    assert require_real({"error_m": 2}, "error_m", "sensing report") == 2.0
    with pytest.raises(issc.IsscInputError, match=r"^sensing report needs a real 'error_m', got False$"):
        require_real({"error_m": False}, "error_m", "sensing report")
    config = LinkConfig("m1", 0.5, 128, np.ones(4), np.zeros((4, 1))).to_pmt()
    assert nested_pmt({"config": config}, "config") is config
    assert [nested_pmt({"config": v}, "config") for v in (None, 1, 2.0, "x", True)] == [None] * 5
    # an image PDU whose seq or size is a bool is malformed (True would pass as 1 otherwise)
    for meta in ({"seq": True, "height": 1, "width": 1}, {"seq": 0, "height": True, "width": 1}):
        with pytest.raises(issc.IsscInputError, match="seq|height and width"):
            pdu_to_image(make_pdu(meta, b"\x00" * 3))


def test_link_monitor_block_joins_frames_and_survives_garbage(tmp_path, wait_for):
    """
    (posted PDUs) --> link_monitor --frame--> message_debug
    The handlers run on the scheduler's thread: wait (bounded) until the monitor has seen everything,
    then stop; stop() flushes the summary.
    """
    tb = gr.top_block()
    monitor = issc.link_monitor(str(tmp_path))
    sink = blocks.message_debug()
    tb.msg_connect(monitor, "frame", sink, "store")
    config = LinkConfig(
        "m1",
        0.5,
        128,
        np.ones(4),
        np.zeros((4, 1)),
        0,
        {"hcrb_trace": 9.0, "distortion": 0.01, "metric": "mse", "sinr_db": 3.0},
    )
    original = image(7)
    tb.start()
    monitor._post(pmt.intern("sent_image"), image_to_pdu(0, original))
    monitor._post(pmt.intern("sent_bits"), make_pdu({"seq": 0, "config": config.to_pmt()}, b"\xaa\xbb"))
    monitor._post(pmt.intern("received_bits"), make_pdu({"seq": 0, "header_ok": True, "sinr_db": 2.9}, b"\xaa\xbb"))
    monitor._post(pmt.intern("sent_bits"), pmt.intern("garbage"))
    monitor._post(pmt.intern("received_image"), make_pdu({"seq": 0, "height": 3, "width": 3}, b"\x00"))
    monitor._post(pmt.intern("sensing"), pmt.dict_add(pmt.make_dict(), pmt.intern("seq"), pmt.from_long(0)))
    monitor._post(pmt.intern("header_failed"), pmt.PMT_T)
    monitor._post(pmt.intern("received_image"), image_to_pdu(0, original))
    try:
        assert wait_for(lambda: len(monitor.ledger.rows) == 1 and monitor.ledger.headers_failed == 1)
        assert wait_for(lambda: sink.num_messages() == 1)
    finally:
        tb.stop()
        tb.wait()
    rows = [json.loads(line) for line in (tmp_path / "frames.jsonl").read_text().splitlines()]
    assert len(rows) == 1 and rows[0]["model"] == "m1" and rows[0]["ber"] == 0.0 and rows[0]["hcrb_rmse_m"] == 3.0
    assert rows[0]["psnr"] is None  # identical images: infinite PSNR is reported as null
    assert rows[0]["ms_ssim"] == pytest.approx(1.0)
    assert sink.num_messages() == 1
    assert json.loads((tmp_path / "summary.json").read_text())["headers_failed"] == 1


def test_every_ledger_row_has_exactly_the_documented_columns(tmp_path):
    """FrameLedger rows, in memory and in frames.jsonl, have the keys of ROW_KEYS in that order, whatever
    the frame: decoded with a sensing report, lost, analog. (A ledger test: tests/link/test_ledger.py is its
    natural home.)"""
    import json

    from gnuradio.issc.link.ledger import ROW_KEYS, FrameLedger

    image = np.zeros((8, 8, 3), np.uint8)
    ledger = FrameLedger(tmp_path, expect_sensing=True)
    ledger.sent_image(0, image)
    ledger.sent_bitstream(0, b"\x00\x01", {"model": "m1", "code_rate": 1.0, "hcrb_trace": 4.0})
    ledger.received_bitstream(0, b"\x00\x01", {"header_ok": True, "sinr_db": 3.0})
    ledger.received_image(0, image)
    ledger.sensing_error(0, 1.5, {"true_x": 1.0, "true_y": 2.0, "hcrb_trace_true": 9.0})
    ledger.sent_image(1, image)  # never arrives
    ledger.sent_bitstream(1, b"\x00", {"model": "m1"})
    ledger.sent_image(2, image)  # analog (deep JSCC) frame
    ledger.sent_symbols(2, np.ones(4, np.complex64), {"model": "djscc"})
    ledger.received_symbols(2, np.ones(4, np.complex64), {"header_ok": True})
    ledger.received_image(2, image)
    ledger.flush()
    ledger.close()
    assert [row["seq"] for row in ledger.rows] == [0, 1, 2]
    for row in ledger.rows:
        assert tuple(row) == ROW_KEYS
    for line in (tmp_path / "frames.jsonl").read_text().splitlines():
        assert tuple(json.loads(line)) == ROW_KEYS


def test_background_rows_equal_synchronous_rows_and_direct_metrics(tmp_path):
    """The monitor's mode (rows built in the ledger's worker thread): for 192 x 192 images (the full 11-tap
    MS-SSIM), six frames with one lost, the rows, frames.jsonl and the summary are identical to the
    synchronous ledger's, in frame order; PSNR matches the closed form of a constant offset (+8/255 on
    every pixel: MSE (8/255)^2) and MS-SSIM equals metrics.ms_ssim called directly."""
    from gnuradio.issc.metrics import ms_ssim

    def feed(ledger):
        for seq in range(6):
            sent = np.random.default_rng(seq).integers(0, 248, size=(192, 192, 3), dtype=np.uint8)
            ledger.sent_image(seq, sent)
            ledger.sent_bitstream(seq, bytes([seq, 1, 2]), {"model": "m1", "code_rate": 0.5})
            if seq == 3:
                continue  # lost on the air
            ledger.received_bitstream(seq, bytes([seq, 1, 3]), {"header_ok": True, "sinr_db": float(seq)})
            ledger.received_image(seq, sent + np.uint8(8))
        return ledger.flush()

    (tmp_path / "sync").mkdir()
    direct = FrameLedger(tmp_path / "sync")
    direct_summary = feed(direct)
    direct.close()
    rows_seen = []
    background = FrameLedger(tmp_path / "bg", background=True, on_row=rows_seen.append)
    background_summary = feed(background)
    background.close()
    assert background.rows == direct.rows and rows_seen == direct.rows
    assert background_summary == direct_summary
    assert (tmp_path / "bg" / "frames.jsonl").read_text() == (tmp_path / "sync" / "frames.jsonl").read_text()
    assert [r["seq"] for r in background.rows] == [0, 1, 2, 3, 4, 5] and background.worker_busy_s > 0
    for row in background.rows:
        if row["seq"] == 3:
            assert row["received"] is False and row["psnr"] is None
            continue
        sent = np.random.default_rng(row["seq"]).integers(0, 248, size=(192, 192, 3), dtype=np.uint8)
        assert row["psnr"] == pytest.approx(-10 * np.log10((8 / 255) ** 2), rel=1e-12)
        assert row["ms_ssim"] == ms_ssim(sent, sent + np.uint8(8))


def test_images_the_encoder_never_sent_do_not_accumulate():
    """An image reaches the monitor but its frame is never encoded (a refused configuration), every
    other frame: the ledger closes those frames as lost once later frames complete, so the number of
    open frames, and the images they hold, stays bounded over a long run (it grew by one per drop)."""
    from gnuradio.issc.link.ledger import MAX_OPEN_FRAMES, STALE_FRAMES, FrameLedger

    ledger = FrameLedger(None)
    image = np.zeros((16, 16, 3), np.uint8)
    open_counts = []
    for seq in range(400):
        ledger.sent_image(seq, image)
        if seq % 2:
            ledger.sent_bitstream(seq, b"x", {})
            ledger.received_bitstream(seq, b"x", {"header_ok": True})
            ledger.received_image(seq, image)
        open_counts.append(len(ledger.frames))
    assert max(open_counts[100:]) <= STALE_FRAMES + 2 < MAX_OPEN_FRAMES
    summary = ledger.flush()
    assert len(ledger.rows) == 400  # every frame reported, the dropped ones as lost
    assert summary is not None


def test_open_frames_are_capped_even_when_nothing_completes():
    """Images only, never a decoded frame: the oldest open frames close (as lost) past MAX_OPEN_FRAMES."""
    from gnuradio.issc.link.ledger import MAX_OPEN_FRAMES, FrameLedger

    ledger = FrameLedger(None)
    for seq in range(3 * MAX_OPEN_FRAMES):
        ledger.sent_image(seq, np.zeros((8, 8, 3), np.uint8))
        assert len(ledger.frames) <= MAX_OPEN_FRAMES
    ledger.flush()
    assert len(ledger.rows) == 3 * MAX_OPEN_FRAMES
