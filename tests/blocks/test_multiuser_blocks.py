# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The multi-user link's blocks, each in a small flowgraph of vector sources and sinks:

- multiuser_beamformer: the output equals ``sum_k w_k s_k + W_0 s_0`` sample by sample, with each user's
  beam switching exactly at the tag on its input and ``W_0`` at input 0's;
- multiuser_frame_encoder: one slot per frame of every user, all starting on the same sample, each output
  its user's frame (built independently) then zeros, a tag per output, the PDUs re-published with ``user``;
- user_channels: noise-free, user ``k``'s output is ``h_k^H x`` with ``h_k`` from the scenario's geometry;
- task_encoder -> task_decoder: the class decoded is the model's class on the clean image;
- multiuser_controller: each user's configuration is its part of the optimiser's decision.
"""

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr, issc

from gnuradio.issc.link.config import FRAME_TAG, LinkConfig
from gnuradio.issc.link.framing import FrameFormat, FrameHeader, build_frame
from gnuradio.issc.link.pdus import image_to_pdu, make_pdu, meta_to_dict, split_pdu
from gnuradio.issc.physics.geometry import Geometry
from gnuradio.issc.scenario import load_scenario


def config(n_tx, w, w_0, seq=0, model="m", info_bits=10):
    return LinkConfig(model, info_bits / 64, info_bits, w, w_0, seq)


def tag(offset, value):
    t = gr.tag_t()
    t.offset, t.key, t.value = offset, pmt.intern(FRAME_TAG), value
    return t


def test_multiuser_beamformer_superposes_the_beamformed_streams_sample_by_sample():
    """
    vector sources s_0, s_1 (tags at 0 and 40), s_sense --> multiuser_beamformer --> 3 vector sinks
    Before sample 40 the first beams, from 40 on the second; the expected samples are computed by hand.
    """
    rng = np.random.default_rng(0)
    n_tx, n = 3, 100
    s = (rng.normal(size=(3, n)) + 1j * rng.normal(size=(3, n))).astype(np.complex64)
    beams = [rng.normal(size=(n_tx, 2)) + 1j * rng.normal(size=(n_tx, 2)) for _ in range(2)]
    sensing = [rng.normal(size=(n_tx, 1)) + 1j * rng.normal(size=(n_tx, 1)) for _ in range(2)]
    tb = gr.top_block()
    sources = []
    for user in range(3):
        tags = []
        if user < 2:
            tags = [tag(at, config(n_tx, beams[i][:, user], sensing[i], i).to_pmt()) for i, at in enumerate((0, 40))]
        sources.append(blocks.vector_source_c(s[user].tolist(), False, 1, tags))
    bf = issc.multiuser_beamformer(n_tx, 2, 1)
    sinks = [blocks.vector_sink_c() for _ in range(n_tx)]
    for i, src in enumerate(sources):
        tb.connect(src, (bf, i))
    for a, sink in enumerate(sinks):
        tb.connect((bf, a), sink)
    tb.run()
    out = np.array([sink.data() for sink in sinks])
    expected = np.zeros((n_tx, n), complex)
    for t in range(n):
        i = 0 if t < 40 else 1
        expected[:, t] = beams[i][:, 0] * s[0, t] + beams[i][:, 1] * s[1, t] + sensing[i][:, 0] * s[2, t]
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    assert bf.frames_switched == 2
    for sink in sinks:  # input 0's tags go on to every antenna (the sensing estimator's frame numbers)
        assert [t.offset for t in sink.tags()] == [0, 40]


def test_multiuser_frame_encoder_sends_the_users_frames_in_synchronous_slots(wait_for):
    """
    PDUs posted to in0, in1 --> multiuser_frame_encoder (2 slots) --> 2 vector sinks; bits, sent --> debug
    Each output is its user's frame (rebuilt here with the user's id), zero-padded to the slot's longest
    frame; both slots back to back; a tag at each slot start on every output.
    """
    fmt = FrameFormat()
    rng = np.random.default_rng(3)
    enc = issc.multiuser_frame_encoder(2)
    w_0 = np.zeros((2, 1))
    payloads = {}
    for seq in range(2):
        for user, size in ((0, 300), (1, 20)):
            payload = rng.integers(0, 256, size + seq, dtype=np.uint8).tobytes()
            payloads[user, seq] = payload
            cfg = config(2, [1, 0], w_0, model=f"m{user}", info_bits=200 - 50 * user)
            meta = {"seq": seq, "model_index": user, "height": 8, "width": 8, "z_bytes": 0, "y_bytes": len(payload)}
            enc._on_pdu(user, make_pdu({**meta, "config": cfg.to_pmt(), "label": 7}, payload))
    enc.set_frame_limit(2)
    sinks = [blocks.vector_sink_c() for _ in range(2)]
    bits, sent = blocks.message_debug(), blocks.message_debug()
    tb = gr.top_block()
    for user in range(2):
        tb.connect((enc, user), sinks[user])
    tb.msg_connect(enc, "bits", bits, "store")
    tb.msg_connect(enc, "sent", sent, "store")
    tb.run()
    assert wait_for(lambda: bits.num_messages() == 4 and sent.num_messages() == 2)
    expected = [[], []]
    for seq in range(2):
        frames = [
            build_frame(fmt, FrameHeader(seq, u, 200 - 50 * u, 0, len(payloads[u, seq]), 8, 8, u), payloads[u, seq])
            for u in range(2)
        ]
        length = max(f.size for f in frames)
        for u in range(2):
            expected[u].append(np.concatenate([frames[u], np.zeros(length - frames[u].size)]))
    starts = [0, expected[0][0].size]
    for u in range(2):
        np.testing.assert_allclose(sinks[u].data(), np.concatenate(expected[u]), atol=1e-6)
        assert [t.offset for t in sinks[u].tags()] == starts
        assert [LinkConfig.from_pmt(t.value).seq for t in sinks[u].tags()] == [0, 1]
    first = [split_pdu(bits.get_message(i)) for i in range(2)]
    assert [m["user"] for m, _ in first] == [0, 1] and [p for _, p in first] == [payloads[0, 0], payloads[1, 0]]
    assert first[0][0]["label"] == 7 and first[0][0]["slot"] == 0 and first[1][0]["code_rate"] == 150 / 256
    assert [meta_to_dict(sent.get_message(i))["seq"] for i in range(2)] == [0, 1]


def test_user_channels_give_each_user_its_own_channel():
    """Noise-free (noise -inf dBm): output k = h_k^H x, h_k = Geometry.channel_to(user k's position)."""
    scn = load_scenario("multiuser-sensing")
    rng = np.random.default_rng(4)
    n = 64
    x = rng.normal(size=(4, n)) + 1j * rng.normal(size=(4, n))
    tb = gr.top_block()
    channels = issc.user_channels(scn, noise_dbm=float("-inf"))
    sinks = [blocks.vector_sink_c() for _ in range(3)]
    for a in range(4):
        tb.connect(blocks.vector_source_c(x[a].tolist()), (channels, a))
    for u, sink in enumerate(sinks):
        tb.connect((channels, u), sink)
    tb.run()
    geometry = Geometry.from_scenario(scn)
    for u, sink in enumerate(sinks):
        h = geometry.channel_to(scn.users[u].position)
        np.testing.assert_allclose(sink.data(), h.conj() @ x, rtol=1e-4, atol=1e-9)
    with pytest.raises(ValueError, match="users"):
        issc.user_channels("tradeoff")


def test_task_encoder_and_decoder_recover_the_clean_class(wait_for):
    """
    image PDUs --> task_encoder --> task_decoder --> message_debug   (config posted first)
    Over a clean channel the class out is the clean class the encoder computed, which is the model's
    class on the clean image, and the label rides along.
    """
    from gnuradio.issc.semantic.family import SemanticFamily

    source = issc.labelled_source("digits", 0, 0)
    enc, dec = issc.task_encoder(), issc.task_decoder()
    out, bits = blocks.message_debug(), blocks.message_debug()
    tb = gr.top_block()
    tb.msg_connect(enc, "out", dec, "in")
    tb.msg_connect(enc, "out", bits, "store")
    tb.msg_connect(dec, "out", out, "store")
    tb.start()
    try:
        cfg = config(2, [1, 0], np.zeros((2, 1)), model="sem2", info_bits=100)
        enc._post(pmt.intern("config"), cfg.to_pmt())
        images = [source.image(seq) for seq in range(5)]
        for seq, (image, label, name) in enumerate(images):
            enc._post(pmt.intern("image"), image_to_pdu(seq, image, label=label, name=name))
        assert wait_for(lambda: out.num_messages() == 5, timeout=60)
    finally:
        tb.stop()
        tb.wait()
    family = SemanticFamily.load()
    for seq, (image, label, _) in enumerate(images):
        got = meta_to_dict(out.get_message(seq))
        clean = int(family.classify_features(family.features(image, "sem2"), "sem2")[0])
        assert got["class"] == clean and got["seq"] == seq and got["model"] == "sem2"
        assert 0 < got["confidence"] <= 1
        meta, payload = split_pdu(bits.get_message(seq))
        assert meta["clean_class"] == clean and meta["label"] == label and meta["y_bytes"] == len(payload)


def test_multiuser_controller_splits_the_decision_per_user(wait_for):
    """
    multiuser_controller --config0, config1, sensing--> message_debug
    Each user's configuration is its model, K = floor(R_c L), beam w_k and W_0 (padded to r_0 = 1 zero
    column: the multiuser scenario has no target); a feedback message publishes the next frame's.
    """
    ctrl = issc.multiuser_controller("multiuser", power_dbm=36.0)
    decision = ctrl.decision
    sinks = [blocks.message_debug() for _ in range(3)]
    tb = gr.top_block()
    for port, sink in zip(("config0", "config1", "sensing"), sinks):
        tb.msg_connect(ctrl, port, sink, "store")
    tb.start()
    try:
        ctrl._post(pmt.intern("feedback"), pmt.dict_add(pmt.make_dict(), pmt.intern("seq"), pmt.from_long(0)))
        assert wait_for(lambda: all(s.num_messages() == 2 for s in sinks))
    finally:
        tb.stop()
        tb.wait()
    assert ctrl.solves == 1 and ctrl.decisions == 2
    for k in range(2):
        cfg = LinkConfig.from_pmt(sinks[k].get_message(1))
        user = decision.users[k]
        assert cfg.model == user.model and cfg.info_bits == int(np.floor(user.code_rate * 256 + 1e-9))
        np.testing.assert_allclose(cfg.w_c, user.w, atol=1e-12)
        assert cfg.w_0.shape == (2, 1) and not np.any(cfg.w_0)
        assert cfg.predicted["sinr_db"] == pytest.approx(user.sinr_db)
    report = meta_to_dict(sinks[2].get_message(0))
    assert report["power_w"] == pytest.approx(decision.power_w)
    with pytest.raises(ValueError, match="users"):
        issc.multiuser_controller("multiuser", users=3)
