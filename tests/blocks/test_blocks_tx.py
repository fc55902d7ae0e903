# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Transmitter-side blocks in real flowgraphs: sensing source, beamformer, controller."""

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr, issc

from gnuradio.issc.link.config import FRAME_TAG, LinkConfig


def frame_tag(offset, config):
    tag = gr.tag_t()
    tag.offset = offset
    tag.key = pmt.intern(FRAME_TAG)
    tag.value = config.to_pmt() if isinstance(config, LinkConfig) else config
    return tag


def random_config(rng, n_tx=4, streams=1, seq=0):
    return LinkConfig(
        "m1",
        1.0,
        256,
        rng.normal(size=n_tx) + 1j * rng.normal(size=n_tx),
        rng.normal(size=(n_tx, streams)) + 1j * rng.normal(size=(n_tx, streams)),
        seq,
    )


def test_sensing_source_is_unit_power_qpsk_and_reproducible():
    """
    sensing_source (r_0 = 3) --> head --> vector_sink  (x3)
    """

    def run(seed):
        tb = gr.top_block()
        src = issc.sensing_source(3, seed)
        heads = [blocks.head(gr.sizeof_gr_complex, 20000) for _ in range(3)]
        sinks = [blocks.vector_sink_c() for _ in range(3)]
        for k in range(3):
            tb.connect((src, k), heads[k], sinks[k])
        tb.run()
        return np.array([s.data() for s in sinks])

    first, again, other = run(5), run(5), run(6)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    np.testing.assert_allclose(np.abs(first), 1.0, rtol=1e-6)
    assert set(np.round(np.angle(first.ravel(), deg=True)).astype(int)) == {45, 135, -45, -135}
    # independent streams: sample cross-correlation ~ 1/sqrt(n)
    assert abs(np.mean(first[0] * first[1].conj())) < 5 / np.sqrt(20000)


def test_beamformer_switches_exactly_at_frame_tags():
    """
    vector_source (s_c, frame tags at 0, 1000, 2500) --+
                                                       +--> beamformer --> vector_sink x4 (+ tag_debug)
    vector_source (s_0) -------------------------------+
    Each segment must equal B_k [s_c; s_0] with the beams of the tag that opened it; a malformed tag
    (at 1800) is ignored; sample counts are conserved; tags reach every antenna.
    """
    rng = np.random.default_rng(0)
    n = 4000
    s_c = (rng.normal(size=n) + 1j * rng.normal(size=n)).astype(np.complex64)
    s_0 = (rng.normal(size=n) + 1j * rng.normal(size=n)).astype(np.complex64)
    configs = {0: random_config(rng), 1000: random_config(rng, seq=1), 2500: random_config(rng, seq=2)}
    tags = [frame_tag(k, c) for k, c in configs.items()] + [frame_tag(1800, pmt.intern("garbage"))]
    tb = gr.top_block()
    src_c = blocks.vector_source_c(s_c.tolist(), False, 1, tags)
    src_0 = blocks.vector_source_c(s_0.tolist(), False, 1, [])
    bf = issc.beamformer(4, 1)
    sinks = [blocks.vector_sink_c() for _ in range(4)]
    debug = blocks.tag_debug(gr.sizeof_gr_complex, "bf", FRAME_TAG)
    debug.set_display(False)
    tb.connect(src_c, (bf, 0))
    tb.connect(src_0, (bf, 1))
    for k in range(4):
        tb.connect((bf, k), sinks[k])
    tb.connect((bf, 3), debug)
    tb.run()
    out = np.array([s.data() for s in sinks])
    assert out.shape == (4, n)
    bounds = [0, 1000, 2500, n]
    for (start, stop), config in zip(zip(bounds, bounds[1:]), configs.values()):
        expected = config.beam_matrix @ np.stack([s_c[start:stop], s_0[start:stop]])
        np.testing.assert_allclose(out[:, start:stop], expected, rtol=1e-5, atol=1e-5)
    assert bf.frames_switched == 3
    assert debug.num_tags() == 4
    for sink in sinks:  # every antenna carries the frame tags
        assert sorted(t.offset for t in sink.tags() if pmt.symbol_to_string(t.key) == FRAME_TAG) == [
            0,
            1000,
            1800,
            2500,
        ]


def test_beamformer_replaces_non_finite_samples():
    s_c = [1 + 0j, np.nan, np.inf, 2 + 0j]
    tb = gr.top_block()
    src_c, src_0 = blocks.vector_source_c(s_c), blocks.vector_source_c([0j] * 4)
    bf = issc.beamformer(2, 1, w_c=[1, 1j])
    sinks = [blocks.vector_sink_c(), blocks.vector_sink_c()]
    tb.connect(src_c, (bf, 0))
    tb.connect(src_0, (bf, 1))
    tb.connect((bf, 0), sinks[0])
    tb.connect((bf, 1), sinks[1])
    tb.run()
    np.testing.assert_array_equal(sinks[0].data(), [1, 0, 0, 2])
    np.testing.assert_array_equal(sinks[1].data(), [1j, 0, 0, 2j])


def test_controller_publishes_decisions_and_follows_its_schedule(synthetic_profile_path, wait_for):
    """
    controller --config--> message_debug        (feedback posted directly to the controller)
    The first decision is published at start; feedback for frame 2 reaches the schedule step at
    frame 3 (40 dBm) and a new decision with more power follows. Bad messages are dropped.
    """
    tb = gr.top_block()
    ctrl = issc.controller("tradeoff", str(synthetic_profile_path), schedule=[(0, 20.0, None), (3, 40.0, None)])
    sink = blocks.message_debug()
    tb.msg_connect(ctrl, "config", sink, "store")
    tb.start()
    try:
        ctrl.wait_until_idle(timeout=60)
        ctrl._post(pmt.intern("feedback"), pmt.intern("not a dict"))
        ctrl._post(pmt.intern("feedback"), pmt.dict_add(pmt.make_dict(), pmt.intern("seq"), pmt.from_long(0)))
        ctrl._post(pmt.intern("feedback"), pmt.dict_add(pmt.make_dict(), pmt.intern("seq"), pmt.from_long(2)))
        ctrl._post(pmt.intern("estimate"), pmt.dict_add(pmt.make_dict(), pmt.intern("x"), pmt.from_double(1.0)))
        # handlers run on the scheduler's thread, decisions on the worker, delivery on message_debug's
        assert wait_for(lambda: ctrl.decisions >= 2 and ctrl.estimates_ignored >= 1)
        assert ctrl.wait_until_idle(timeout=60)
        assert wait_for(lambda: sink.num_messages() >= 2)
    finally:
        tb.stop()
        tb.wait()
    assert sink.num_messages() == 2 and ctrl.decisions == 2
    first, second = (LinkConfig.from_pmt(sink.get_message(i)) for i in range(2))
    assert first.predicted["power_w"] == pytest.approx(0.1) and second.predicted["power_w"] == pytest.approx(10.0)
    assert second.predicted["sinr_db"] > first.predicted["sinr_db"] + 10
    assert first.model != second.model


def test_controller_rejects_bad_parameters(synthetic_profile_path):
    with pytest.raises(ValueError):
        issc.controller("tradeoff", str(synthetic_profile_path), schedule=[(-1, 20.0, None)])
    with pytest.raises(ValueError):
        issc.controller("tradeoff", str(synthetic_profile_path), mode="psychic")
    with pytest.raises(issc.ScenarioError):
        issc.controller("no-such-scenario", str(synthetic_profile_path))
    with pytest.raises(AttributeError):
        _ = issc.issc_no_such_block


def test_link_config_pmt_round_trip_and_validation():
    rng = np.random.default_rng(1)
    config = random_config(rng, 4, 2, seq=7)
    config.predicted = {"sinr_db": 3.5, "feasible": True, "solver": "sdr"}
    again = LinkConfig.from_pmt(config.to_pmt())
    np.testing.assert_allclose(again.beam_matrix, config.beam_matrix)
    assert (again.seq, again.model, again.info_bits, again.predicted) == (7, "m1", 256, config.predicted)
    broken = pmt.dict_add(config.to_pmt(), pmt.intern("w_0"), pmt.init_c64vector(3, [0j] * 3))
    with pytest.raises(issc.IsscInputError, match="w_0"):
        LinkConfig.from_pmt(broken)
    with pytest.raises(issc.IsscInputError):
        LinkConfig.from_pmt(pmt.intern("x"))


def test_controller_in_tracking_mode_feeds_its_policy_and_drops_malformed_estimates(wait_for):
    """
    (posted estimates) --> controller (mode tracking) --track--> message_debug
    The controller's tracker is the policy's (TrackingPolicy.tracker_for: one initial speed prior) and its
    lead is 3 frames of 12 blocks of 5 ms (scenario ``tracking``). A report for block 4 gives one track
    message at t = 4 * 5 ms; reports whose ``block`` is a bool, a float or missing are dropped.
    """
    from gnuradio.issc.link.pdus import dict_to_meta, meta_to_dict
    from gnuradio.issc.sensing.policy import TrackingPolicy

    ctrl = issc.controller("tracking", solver="zf-wf", mode="tracking", ber_model="calibrated")
    np.testing.assert_array_equal(ctrl.tracker.covariance, TrackingPolicy.tracker_for("tracking").covariance)
    assert ctrl._lead_s() == pytest.approx(0.18, rel=1e-12)
    tb = gr.top_block()
    sink = blocks.message_debug()
    tb.msg_connect(ctrl, "track", sink, "store")
    tb.start()
    try:
        for block in (True, 4.0, None, 4):
            report = {"ok": True, "x": 100.5, "y": 50.0, "hcrb_trace": 1.0, "block": block}
            ctrl._post(pmt.intern("estimate"), dict_to_meta(report))
        assert wait_for(lambda: sink.num_messages() >= 1)
        assert ctrl.wait_until_idle(timeout=60)
    finally:
        tb.stop()
        tb.wait()
    assert sink.num_messages() == 1 and ctrl.estimates_used == 1 and ctrl.estimates_ignored == 0
    track = meta_to_dict(sink.get_message(0))
    assert track["t_s"] == pytest.approx(0.02, rel=1e-12) and track["misses"] == 0 and track["lost"] is False
