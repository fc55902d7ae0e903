# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The estimator in a child process: the same reports as in-process, to the last bit (including
non-estimates and the bound at the truth), and a child that dies or fails is replaced by in-process
estimation without losing a block."""

from pathlib import Path

import numpy as np
import pytest
from test_streaming import feed, synthetic_echo

from gnuradio.issc.sensing.streaming import StreamingEstimator
from gnuradio.issc.sensing.worker import EstimatorProcess, EstimatorProcessError, evaluate_block

FRAMES = [(0, 0), (2500, 1), (4200, 2)]


@pytest.fixture(scope="module")
def echo_with_a_bad_block():
    reference, echo, tags = synthetic_echo("tradeoff", 6)
    echo = echo.copy()
    echo[1, 3100:3150] = np.inf  # block 3: a flagged non-estimate
    return reference, echo, tags


def test_reports_from_the_child_equal_the_in_process_ones(echo_with_a_bad_block):
    reference, echo, tags = echo_with_a_bad_block
    here = feed(StreamingEstimator.from_scenario("tradeoff", every=1), reference, echo, tags, [700, 3000], FRAMES)
    streaming = StreamingEstimator.from_scenario("tradeoff", every=1)
    streaming.start_process()
    try:
        child = feed(streaming, reference, echo, tags, [2000, 2047, 5000], FRAMES)
        assert streaming.worker is not None and streaming.worker.alive and streaming.worker_failure == ""
    finally:
        streaming.close()
    assert streaming.worker is None
    assert [r["block"] for r in child] == list(range(6))
    assert child[3]["ok"] is False and "non-finite" in child[3]["reason"]
    assert all("hcrb_trace_true" in r for i, r in enumerate(child) if i != 3)
    assert child == here


def test_a_child_that_dies_is_replaced_by_in_process_estimation(echo_with_a_bad_block):
    """The child is killed after the first chunk: the next block reports the failure once, every block is
    still reported, and the reports equal the in-process ones."""
    reference, echo, tags = echo_with_a_bad_block
    here = feed(StreamingEstimator.from_scenario("tradeoff", every=2), reference, echo, tags, [], FRAMES)
    streaming = StreamingEstimator.from_scenario("tradeoff", every=2)
    streaming.start_process()
    first = feed(streaming, reference[:, :2048], echo[:, :2048], tags, [], FRAMES)
    streaming.worker._process.kill()
    streaming.worker._process.wait()
    for offset, info in tags:
        if offset >= 2048:
            streaming.echo_tag(info)
    for offset, seq in FRAMES:
        if offset >= 2048:
            streaming.frame_started(offset, seq)
    rest = streaming.process(reference[:, 2048:], echo[:, 2048:])
    assert streaming.worker is None and "estimator process" in streaming.worker_failure
    assert first + rest == here


def test_an_error_in_the_child_is_reported_not_raised_there():
    """A request the estimator cannot take (a search centre that is not a position) comes back as an error
    message naming it, and the child keeps serving."""
    streaming = StreamingEstimator.from_scenario("tradeoff", every=1)
    with EstimatorProcess(streaming.estimator, timeout_s=60) as worker:
        reference, echo, _ = synthetic_echo("tradeoff", 2)
        start = streaming.history
        padded = np.concatenate([np.zeros((4, start), np.complex64), reference], axis=1)
        with pytest.raises(EstimatorProcessError, match="estimator process: ValueError"):
            worker.evaluate(echo[:, :1024], padded, start, "nowhere")
        assert worker.alive
        result, hcrb_true = worker.evaluate(echo[:, :1024], padded, start, None, streaming.target)
        local, local_true = evaluate_block(streaming.estimator, echo[:, :1024], padded, start, None, streaming.target)
        assert np.array_equal(result.position, local.position) and result.glrt == local.glrt
        assert hcrb_true == local_true and hcrb_true > 0
    assert not worker.alive
    with pytest.raises(EstimatorProcessError, match="not running"):
        worker.evaluate(echo[:, :1024], padded, start, None)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc")
def test_the_child_reuses_freed_memory_instead_of_faulting_in_new_pages(echo_with_a_bad_block):
    """Each request's arrays are new allocations of ~100 KB; with glibc's defaults the child took ~320 minor
    page faults a block (fresh zeroed pages each time). parallel.keep_freed_memory keeps them in the heap."""
    reference, echo, _ = echo_with_a_bad_block
    streaming = StreamingEstimator.from_scenario("tradeoff", every=1)
    streaming.start_process()
    try:
        streaming.process(reference[:, :2048], echo[:, :2048])  # the child's imports and first blocks
        stat = Path(f"/proc/{streaming.worker._process.pid}/stat")
        faults = lambda: int(stat.read_text().rsplit(")", 1)[1].split()[7])  # noqa: E731  minflt
        before = faults()
        streaming.process(reference[:, 2048:], echo[:, 2048:])
        assert streaming.process_estimates == 6
        assert (faults() - before) / 4 < 40
    finally:
        streaming.close()
