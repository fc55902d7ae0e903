# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Polar decoding in a child process (link/polar.py::PolarProcess, FrameReceiver.start_process): the same
bits as gr-fec's decoder in this process, the same frames from a receiver whose decoding runs in the child,
and a child that dies mid-stream is replaced by in-process decoding without losing a codeword."""

import numpy as np
import pytest
from test_framing_robust import FMT, coded_frame, noise, push_in_chunks, summary

from gnuradio.issc.link.framing import FrameReceiver
from gnuradio.issc.link.polar import PolarProcess, PolarProcessError, polar_code


@pytest.fixture(scope="module")
def polar_process():
    with PolarProcess(timeout_s=60) as child:
        yield child


@pytest.mark.parametrize("block_size, info_bits, list_size", [(512, 120, 8), (256, 200, 1), (1024, 900, 4)])
def test_the_child_decodes_the_same_bits(polar_process, block_size, info_bits, list_size):
    """Noisy codewords of random data (some decoded wrongly at this SNR) and LLRs with inf, NaN and 1e38:
    the child's bits equal the in-process decoder's."""
    rng = np.random.default_rng(block_size + info_bits)
    code = polar_code(block_size, info_bits, list_size)
    data = rng.integers(0, 2, (6, info_bits), np.uint8)
    coded = code.encode(data)
    llrs = (1.0 - 2.0 * coded) * 2.0 + rng.normal(0, 1.6, coded.shape)  # positive means 0
    llrs[0, :5] = [np.inf, -np.inf, np.nan, 1e38, -1e38]
    here = code.decode(llrs)
    there = polar_process.decode(code, llrs)
    assert there.dtype == np.uint8 and there.shape == (6, info_bits)
    assert np.array_equal(there, here)
    if info_bits / block_size < 0.3:  # the low rate is decoded right, the high ones are not: same bits either way
        assert np.array_equal(there[1:], data[1:])
    else:
        assert not np.array_equal(there[1:], data[1:])


def test_a_request_the_decoder_cannot_take_names_the_process_and_keeps_it():
    with PolarProcess(timeout_s=60) as child:
        code = polar_code(512, 100)
        with pytest.raises(PolarProcessError, match="polar decoder process: ValueError"):
            child.decode(code, np.zeros(300))  # not a whole codeword
        assert child.alive
        assert child.decode(code, np.ones((1, 512))).sum() == 0  # all LLRs say 0


def stream_of_frames(seed=3, frames=5):
    rng = np.random.default_rng(seed)
    parts = [noise(rng, 300, 1.0)]
    for seq in range(frames):
        parts += [coded_frame(rng, seq, payload_bytes=400, info_bits=150)[2], noise(rng, 50, 1.0)]
    clean = np.concatenate(parts)
    return rng, (clean + noise(rng, clean.size, 0.05)).astype(np.complex64)


def test_a_receiver_decoding_in_the_child_gives_the_same_frames():
    rng, stream = stream_of_frames()
    here, _ = push_in_chunks(FrameReceiver(FMT), stream, np.random.default_rng(1))
    receiver = FrameReceiver(FMT)
    receiver.start_process(timeout_s=60)
    try:
        there, _ = push_in_chunks(receiver, stream, rng, largest=4000)
        assert receiver.process_decodes >= 10 and receiver.worker_failure == ""  # headers and payloads
        busy = receiver.process_cpu_s
        assert busy > 0
    finally:
        receiver.close()
    assert receiver.worker is None and receiver.process_cpu_s == busy  # kept after the child went
    assert [r.header.seq for r in there] == list(range(5))
    assert summary(there) == summary(here)


def test_a_child_that_dies_mid_stream_is_replaced_by_in_process_decoding():
    _, stream = stream_of_frames(seed=4)
    here = FrameReceiver(FMT).push(stream)
    receiver = FrameReceiver(FMT)
    receiver.start_process(timeout_s=60)
    try:
        half = stream.size // 2
        first = receiver.push(stream[:half])
        assert receiver.process_decodes > 0
        receiver.worker._process.kill()
        receiver.worker._process.wait()
        rest = receiver.push(stream[half:])
    finally:
        receiver.close()
    assert receiver.worker is None and "polar decoder process" in receiver.worker_failure
    assert summary(first + rest) == summary(here)
    assert len(here) == 5 and all(r.header is not None for r in here)
