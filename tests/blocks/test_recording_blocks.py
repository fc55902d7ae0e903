# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The recording and link-accounting blocks in flowgraphs: sigmf_recorder writes one recording per input
with the frame tags as annotations, sigmf_source plays it back (samples and tags) exactly, and
sample_counter counts the items a link between processes loses (synthetic stamps with a known gap, and a
real ZeroMQ PUSH/PULL hop that loses none)."""

import socket

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr, issc

from gnuradio.issc.link.config import FRAME_TAG, LinkConfig
from gnuradio.issc.link.pdus import dict_to_meta, meta_to_dict
from gnuradio.issc.link.recording import FrameAnnotation, read_recording


def tag(offset, key, value):
    t = gr.tag_t()
    t.offset, t.key, t.value = offset, pmt.intern(key), value
    return t


def config(model, bits, seq):
    return LinkConfig(model, bits / 256, bits, np.ones(4) / 2, np.zeros((4, 1)), seq).to_pmt()


def test_recorder_writes_each_input_with_its_frame_tags_and_the_source_plays_it_back(tmp_path):
    """Two inputs, frame tags on the first only (a tag that is not a configuration still names its frame):
    each recording holds its input's samples; the first has one annotation per tag; sigmf_source plays
    the samples back and, asked to, puts the frames back as tags at the same offsets."""
    rng = np.random.default_rng(0)
    a = (rng.normal(size=3000) + 1j * rng.normal(size=3000)).astype(np.complex64)
    b = (a * 2j).astype(np.complex64)
    tags = [
        tag(0, FRAME_TAG, config("t1", 128, 0)),
        tag(1200, FRAME_TAG, dict_to_meta({"seq": 1})),
        tag(2100, FRAME_TAG, config("t2", 64, 2)),
        tag(2500, FRAME_TAG, pmt.intern("garbage")),
    ]
    tb = gr.top_block()
    src_a, src_b = blocks.vector_source_c(a.tolist(), False, 1, tags), blocks.vector_source_c(b.tolist())
    recorder = issc.sigmf_recorder(str(tmp_path), "tx", 2, "tradeoff", run_id="run")
    tb.connect(src_a, (recorder, 0))
    tb.connect(src_b, (recorder, 1))
    tb.run()
    first, second = read_recording(tmp_path / "tx0"), read_recording(tmp_path / "tx1.sigmf-data")
    np.testing.assert_array_equal(first.samples, a)
    np.testing.assert_array_equal(second.samples, b)
    assert first.frames == [
        FrameAnnotation(0, 1200, 0, "t1", 0.5, 128),
        FrameAnnotation(1200, 900, 1),
        FrameAnnotation(2100, 900, 2, "t2", 0.25, 64),
    ]
    assert second.frames == [] and second.stream_index == 1 and second.run_id == "run" and first.complete
    assert first.sample_rate == 100e6 and first.global_info["issc:scheme"] == "ascc"

    tb = gr.top_block()
    source = issc.sigmf_source(str(first.meta_path), True)
    sink = blocks.vector_sink_c()
    tb.connect(source, sink)
    tb.run()  # ends by itself (finish=True)
    np.testing.assert_array_equal(np.array(sink.data(), np.complex64), a)
    played = [(t.offset, meta_to_dict(t.value)) for t in sink.tags() if pmt.symbol_to_string(t.key) == FRAME_TAG]
    assert [(o, v["seq"], v.get("model")) for o, v in played] == [(0, 0, "t1"), (1200, 1, None), (2100, 2, "t2")]


def test_recorder_and_source_reject_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="role"):
        issc.sigmf_recorder(str(tmp_path), "rx")
    with pytest.raises(ValueError, match="streams"):
        issc.sigmf_recorder(str(tmp_path), "tx", 0)
    (tmp_path / "file").write_text("")
    with pytest.raises(ValueError, match="not a directory"):
        issc.sigmf_recorder(str(tmp_path / "file"), "tx")
    with pytest.raises(ValueError, match="no such file"):
        issc.sigmf_source(str(tmp_path / "none.sigmf-meta"))


def test_sample_counter_check_counts_the_gaps_between_stamps():
    """Stamps at items 0, 100, 200 of the sender arrive at 0, 100 and 150 (50 items lost between 100 and
    200), the last also saying 7 were lost upstream: the checker reports 50 lost on this hop, 57 in all,
    and passes every sample through."""
    x = np.arange(400).astype(np.complex64)
    stamps = [
        tag(o, "issc_count", dict_to_meta({"count": c, "dropped": d}))
        for o, c, d in ((0, 0, 0), (100, 100, 0), (150, 200, 7))
    ]
    tb = gr.top_block()
    check = issc.sample_counter("check", 1, 100)
    sink, messages = blocks.vector_sink_c(), blocks.message_debug()
    tb.connect(blocks.vector_source_c(x.tolist(), False, 1, stamps), check, sink)
    tb.msg_connect(check, "dropped", messages, "store")
    tb.run()
    assert (check.hop_dropped, check.dropped, check.stamps, check.items) == (50, 57, 3, 400)
    np.testing.assert_array_equal(np.array(sink.data()), x)
    last = meta_to_dict(messages.get_message(messages.num_messages() - 1))
    assert (last["dropped"], last["hop_dropped"]) == (57, 50) and 150 < last["items"] <= 400


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_stamps_over_a_zeromq_push_pull_hop_count_no_loss(wait_for):
    """A vector stream (vlen 4) stamped every 64 items, over PUSH/PULL with tags: every stamp arrives at
    its own item (nothing lost), the samples are intact, and a stamp that carries upstream losses (a
    'dropped' message to the stamper) reaches the checker's total."""
    from gnuradio import zeromq

    address = f"tcp://127.0.0.1:{free_port()}"
    x = (np.arange(4 * 1000) * (1 + 0.5j)).astype(np.complex64)
    tb = gr.top_block()
    source = blocks.vector_source_c(x.tolist(), False, 4)
    stamp = issc.sample_counter("stamp", 4, 64)
    sink = zeromq.push_sink(gr.sizeof_gr_complex, 4, address, 100, True, -1)
    pull = zeromq.pull_source(gr.sizeof_gr_complex, 4, address, 100, True, -1)
    check = issc.sample_counter("check", 4, 64)
    out = blocks.vector_sink_c(4)
    stamp._post(pmt.intern("dropped"), dict_to_meta({"dropped": 3}))
    tb.connect(source, stamp, sink)
    tb.connect(pull, check, out)
    tb.start()
    try:
        assert wait_for(lambda: check.items >= 1000, timeout=60)
    finally:
        tb.stop()
        tb.wait()
    np.testing.assert_array_equal(np.array(out.data(), np.complex64), x)
    assert stamp.stamps == check.stamps == 16 and check.hop_dropped == 0 and check.dropped == 3


@pytest.mark.parametrize(
    "kwargs, message", [({"mode": "x"}, "mode"), ({"vlen": 0}, "vlen"), ({"interval": 0}, "interval")]
)
def test_sample_counter_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        issc.sample_counter(**kwargs)
