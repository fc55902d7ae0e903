# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The sensing estimator block in a flowgraph: output count, message format, truth from the echo tags,
and non-finite samples giving a flagged non-estimate instead of an exception."""

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr, issc

from gnuradio.issc.link.config import FRAME_TAG, LinkConfig
from gnuradio.issc.link.pdus import meta_to_dict
from gnuradio.issc.physics.geometry import Geometry


class NanInjector(gr.sync_block):
    """Copies its input and poisons samples [start, stop) with NaN (to test the estimator's guard)."""

    def __init__(self, start, stop):
        gr.sync_block.__init__(self, name="nan_injector", in_sig=[np.complex64], out_sig=[np.complex64])
        self.start_at, self.stop_at = start, stop

    def work(self, input_items, output_items):
        n = len(output_items[0])
        out = output_items[0]
        out[:n] = input_items[0][:n]
        first = self.nitems_written(0)
        idx = np.arange(first, first + n)
        out[(idx >= self.start_at) & (idx < self.stop_at)] = np.nan
        return n


def run(wait_for, poison=None, blocks_count=6, every=2, frame_starts=(), separate_process=True):
    """
    sensing_source --> beamformer (W_0 at the target, 30 dBm) --+--> echo_channel --> [nan] --> estimator
                                                                +------------------------------> (reference)

    The estimates reach message_debug on the message thread, possibly after tb.run() returns: wait
    (bounded) until it holds one per block the estimator estimated, ``ceil(blocks_count / every)``. The
    estimator's child process (``separate_process``) made them all and is gone when the flowgraph stops.
    """
    geo = Geometry.from_scenario("tradeoff")
    w_0 = np.sqrt(1.0 / geo.n_tx) * geo.a_tx(geo.theta)
    n = 1024 * blocks_count
    tb = gr.top_block()
    source = issc.sensing_source(1, 4)
    # the comm stream: silent, with an issc_frame tag (same beams) at each (offset, seq) of frame_starts
    tags = [
        gr.tag_utils.python_to_tag(
            (offset, pmt.intern(FRAME_TAG), LinkConfig("m", 1.0, 256, np.zeros(4), w_0[:, None], seq).to_pmt())
        )
        for offset, seq in frame_starts
    ]
    zeros = blocks.vector_source_c([0j] * n, False, 1, tags)
    head = blocks.head(gr.sizeof_gr_complex, n)
    beams = issc.beamformer(4, 1, [0j] * 4, list(w_0))
    echo = issc.echo_channel("tradeoff", seed=9)
    estimator = issc.sensing_estimator("tradeoff", every, separate_process=separate_process)
    debug = blocks.message_debug()
    tb.keep = [source, zeros, head, beams, echo, estimator, debug]
    tb.connect(zeros, head, (beams, 0))
    tb.connect(source, (beams, 1))
    injector = NanInjector(*poison) if poison else None
    for k in range(4):
        tb.connect((beams, k), (echo, k))
        tb.connect((beams, k), (estimator, k))
    for k in range(4):
        if injector is not None and k == 0:
            tb.connect((echo, 0), injector, (estimator, 4))
        else:
            tb.connect((echo, k), (estimator, 4 + k))
    tb.msg_connect(estimator, "estimate", debug, "store")
    tb.keep.append(injector)
    tb.run()
    assert estimator.estimates == -(-blocks_count // every)
    assert estimator.stream.process_estimates == (estimator.estimates if separate_process else 0)
    assert estimator.stream.worker is None  # stopped with the flowgraph
    assert wait_for(lambda: debug.num_messages() == estimator.estimates)
    return [meta_to_dict(debug.get_message(i)) for i in range(debug.num_messages())]


def test_estimates_one_block_in_every_with_truth_and_the_bound(wait_for):
    reports = run(wait_for)
    assert [r["block"] for r in reports] == [0, 2, 4]
    target = Geometry.from_scenario("tradeoff").target
    for r in reports:
        assert r["ok"] is True and r["glrt"] > 25
        assert r["error_m"] == pytest.approx(np.hypot(r["x"] - target[0], r["y"] - target[1]), rel=1e-12)
        # 30 dBm all on the target: sqrt(tr HCRB) is a few metres; allow 5 sigma
        assert r["error_m"] < 5 * np.sqrt(r["hcrb_trace"])
        assert "true_sync_error_m" in r and abs(r["sync_error_m"] - r["true_sync_error_m"]) < 60


def test_non_finite_samples_give_a_flagged_non_estimate(wait_for):
    reports = run(wait_for, poison=(2100, 2200), blocks_count=4, every=1)
    by_block = {r["block"]: r for r in reports}
    assert sorted(by_block) == [0, 1, 2, 3]
    assert by_block[2]["ok"] is False and "non-finite" in by_block[2]["reason"] and "x" not in by_block[2]
    assert by_block[1]["ok"] is True and by_block[3]["ok"] is True


def test_each_estimate_names_the_frame_on_the_air_at_its_block_start(wait_for):
    """Frames start at samples 0, 2500 and 4200 (issc_frame tags on the reference): the six blocks of
    1024 samples starting at 0, 1024, ..., 5120 belong to frames 0, 0, 0, 1, 1, 2."""
    reports = run(wait_for, every=1, frame_starts=[(0, 0), (2500, 1), (4200, 2)])
    assert [r["block"] for r in reports] == list(range(6))
    assert [r["seq"] for r in reports] == [0, 0, 0, 1, 1, 2]


def test_the_child_process_and_the_block_thread_give_the_same_reports(wait_for):
    frames = [(0, 0), (2500, 1), (4200, 2)]
    child = run(wait_for, poison=(2100, 2200), every=1, frame_starts=frames, separate_process=True)
    here = run(wait_for, poison=(2100, 2200), every=1, frame_starts=frames, separate_process=False)
    assert [r["block"] for r in child] == list(range(6)) and child == here
