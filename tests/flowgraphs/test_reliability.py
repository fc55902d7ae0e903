# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The whole link's runtime failure modes, each a regression test: an unreadable image, a frame that
never comes, memory that grew with every frame, decoded pixels that depended on torch's thread count,
a transmitter flowgraph that never ended, and output files a kill could leave torn.

Runs use the shipped codec on 32 x 32 crops at a power where every frame decodes (a frame takes
milliseconds), and no sensing estimator where it is not the point."""

import json
import shutil

import numpy as np
import pytest
from gnuradio import blocks

from gnuradio.issc.codec.images import SHIPPED_IMAGE_DIR
from gnuradio.issc.errors import IsscInputError
from gnuradio.issc.files import read_json_lines
from gnuradio.issc.flowgraphs.link import IsscLink, IsscLinkRx, IsscLinkTx
from gnuradio.issc.link.ledger import FrameLedger
from gnuradio.issc.link.report import load_rows

HIGH_POWER = [(0, 40.0, None)]  # ~20 dB SINR, far above the waterfall of the rate the optimiser picks
GOOD = ("astronaut_c.png", "coffee_c.png")


@pytest.fixture
def folder_with_a_broken_image(tmp_path):
    """Two readable images and, between them in name order, a .png that is not an image (and a text
    file, which is not an image name at all)."""
    folder = tmp_path / "images"
    folder.mkdir()
    for name in GOOD:
        shutil.copy(SHIPPED_IMAGE_DIR / name, folder / name)
    (folder / "broken.png").write_bytes(b"not a png at all")
    (folder / "notes.txt").write_text("not an image name")
    return folder


def small_link(frames, images="", **kwargs):
    kwargs.setdefault("sensing_every", 0)
    return IsscLink("tradeoff", frames, images, size=32, schedule=HIGH_POWER, **kwargs)


def test_unreadable_image_in_a_folder_is_skipped_and_every_frame_still_goes_out(folder_with_a_broken_image):
    """Defect: the source skipped the unreadable image at send time, the link waited for a frame that
    never came (until the 1800 s timeout) and then reported success. Now it is found when the source is
    built, left out of the cycle with a warning, and the run sends and receives all frames, cycling the
    readable images (so the PSNRs of frames 0 and 2, the same image, agree)."""
    link = small_link(3, str(folder_with_a_broken_image))
    assert [p.name for p in link.image_source.paths] == list(GOOD)
    summary = link.run_frames(timeout_s=600, stall_s=120)
    assert summary["end_reason"] == "complete" and summary["complete"]
    assert summary["frames_sent"] == 3 and summary["frames"] == 3 and summary["frames_received"] == 3
    assert [p.rsplit("/", 1)[-1] for p in summary["images_skipped"]] == ["broken.png"]
    rows = sorted(link.monitor.ledger.rows, key=lambda r: r["seq"])
    assert rows[0]["psnr"] == pytest.approx(rows[2]["psnr"])


def test_unreadable_image_the_user_named_is_an_error_naming_it(folder_with_a_broken_image):
    """A file named on its own, or in a list, must be readable: the error names it; a folder with no
    readable image is an error too (naming what it skipped)."""
    from gnuradio.issc.blocks.image_source import image_source

    broken = folder_with_a_broken_image / "broken.png"
    with pytest.raises(IsscInputError, match="broken.png"):
        image_source(str(broken), 2)
    with pytest.raises(IsscInputError, match="broken.png"):
        image_source([str(folder_with_a_broken_image / GOOD[0]), str(broken)], 2)
    only_broken = folder_with_a_broken_image / "only"
    only_broken.mkdir()
    shutil.copy(broken, only_broken / "broken.png")
    with pytest.raises(IsscInputError, match="no readable image.*broken.png"):
        image_source(str(only_broken), 2)


def test_a_frame_that_never_comes_ends_the_run_as_stalled():
    """A frame lost before the air (here the source encoder drops image 1) used to make the run wait
    until its timeout; now a run in which nothing moves for ``stall_s`` ends, short and saying why."""
    link = small_link(3)
    encode = link.semantic_encoder._inbox.encode
    link.semantic_encoder._inbox.encode = lambda meta, image, config: (
        None if meta["seq"] == 1 else encode(meta, image, config)
    )
    summary = link.run_frames(timeout_s=600, stall_s=3.0)
    assert summary["end_reason"] == "stalled" and not summary["complete"] and not summary["interrupted"]
    assert summary["frames_sent"] == 2 and summary["frames_received"] == 2


def test_an_image_unreadable_when_due_is_not_waited_for(folder_with_a_broken_image, monkeypatch):
    """An image that passed the check but cannot be read when due (the file went away; nothing cached)
    gives no frame: the link stops waiting for it, ends promptly and reports the run as short."""
    from gnuradio.issc.blocks import image_source as module

    monkeypatch.setattr(module, "CACHE_BYTES", 0)
    link = small_link(3, str(folder_with_a_broken_image))
    (folder_with_a_broken_image / GOOD[1]).unlink()  # frame 1's image
    summary = link.run_frames(timeout_s=600, stall_s=300)
    assert summary["end_reason"] == "complete" and not summary["complete"]
    assert summary["images_failed"] == 1 and summary["frames_sent"] == 2 and summary["frames_received"] == 2


def test_the_link_keeps_nothing_per_frame(tmp_path):
    """Defect: two message_debug stores kept every sent and received image (~31 KB per frame). After a
    run no block stores messages, the ledger holds no open frame, its set of closed frames is compacted,
    only ``keep_rows`` rows stay in memory, and the summary still counts every frame (running totals)
    while frames.jsonl has every row."""
    link = small_link(5, out_dir=str(tmp_path), keep_rows=2)
    assert not [name for name, value in vars(link).items() if isinstance(value, blocks.message_debug)]
    summary = link.run_frames(timeout_s=600, stall_s=120)
    ledger = link.monitor.ledger
    assert summary["complete"] and summary["frames"] == 5 and summary["frames_received"] == 5
    assert ledger.frames == {} and len(ledger._closed) <= 1 and ledger._closed_floor >= 4
    assert [r["seq"] for r in ledger.rows] == [3, 4]
    assert [r["seq"] for r in load_rows(tmp_path / "frames.jsonl")] == [0, 1, 2, 3, 4]


def test_codec_output_does_not_depend_on_the_callers_torch_threads():
    """Defect: with 2 torch threads the decoded pixels differed by up to 1 LSB from 1 thread (the
    convolutions' sums split differently). The codec now codes on one thread whatever the caller set,
    and gives the caller its setting back: identical bitstreams and identical float pixels."""
    import torch

    from gnuradio.issc.codec.codec import SemanticCodec
    from gnuradio.issc.codec.images import center_crop, load_rgb

    codec = SemanticCodec.load(lazy=True)
    image = center_crop(load_rgb(SHIPPED_IMAGE_DIR / "astronaut_c.png"), 64)
    before = torch.get_num_threads()
    results = {}
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            data = codec.encode(image, "hp3")
            results[threads] = (data, codec.decode(data))
            assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(before)
    assert results[1][0] == results[2][0]
    assert np.array_equal(results[1][1], results[2][1])


def test_transmitter_alone_ends_by_itself_and_the_receiver_alone_decodes_its_recording(tmp_path):
    """Defect: a transmitter flowgraph never returned from run(). With a frame limit the frame encoder
    ends its stream and the whole flowgraph ends (end reason 'complete' only comes from tb.wait()
    returning); the file holds exactly the samples sent. The receiver alone, on that file (no tags),
    decodes every frame with the same measured SINR and PSNR as the whole link in one process."""
    air = tmp_path / "air.cf32"
    tx = IsscLinkTx("tradeoff", 2, "", str(air), size=32, schedule=HIGH_POWER)
    sent = tx.run_frames(timeout_s=600, stall_s=120)
    assert sent["end_reason"] == "complete" and sent["complete"] and sent["frames_sent"] == 2
    assert air.stat().st_size == 8 * sent["samples"]
    rx = IsscLinkRx(str(air), str(tmp_path / "rx"), "", 32)
    received = rx.run_frames(timeout_s=600, stall_s=120)
    assert received["complete"] and received["frames_received"] == 2 and received["samples"] == sent["samples"]
    whole = small_link(2, sensing_every=4)
    whole.run_frames(timeout_s=600, stall_s=120)
    apart = load_rows(tmp_path / "rx" / "frames.jsonl")
    together = sorted(whole.monitor.ledger.rows, key=lambda r: r["seq"])
    for a, t in zip(apart, together, strict=True):
        assert (a["seq"], a["model"]) == (t["seq"], t["model"])
        assert abs(a["rate"] - t["rate"]) < 1 / 256  # K / L from the air; the design's rate before rounding K
        assert a["sinr_db"] == t["sinr_db"] and a["psnr"] == t["psnr"]
        assert a["power_dbm"] is None and t["power_dbm"] == 40.0  # the receiver knows only the air


def test_rows_are_on_disk_as_frames_complete_and_a_torn_row_is_skipped(tmp_path):
    """frames.jsonl is appended and flushed row by row (a row is on disk before the run ends) and the
    summary written atomically; a run killed mid-row leaves a torn last line, which reading the rows
    back (the example's table and figure) skips."""
    ledger = FrameLedger(tmp_path)
    image = np.full((16, 16, 3), 100, np.uint8)
    for seq in range(2):
        ledger.sent_image(seq, image)
        ledger.sent_bitstream(seq, b"\x01\x02", {"model": "m1"})
        ledger.received_bitstream(seq, b"\x01\x02", {"header_ok": True})
        ledger.received_image(seq, image)
        assert [r["seq"] for r in read_json_lines(tmp_path / "frames.jsonl")] == list(range(seq + 1))
    ledger.flush()
    ledger.close()
    assert json.loads((tmp_path / "summary.json").read_text())["frames"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames.jsonl", "summary.json"]  # no temporary left
    with open(tmp_path / "frames.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"seq": 2, "received": tr')  # SIGKILL inside write()
    assert [r["seq"] for r in load_rows(tmp_path / "frames.jsonl")] == [0, 1]
