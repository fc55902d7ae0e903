# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Regression tests of the air-frame receiver's robustness (docs/link.md, "The frame receiver"):

- a CRC-valid header announcing what no transmitter sends is a failed header, and memory stays bounded
  (at most ``max(L, 2P + H)`` samples between pushes) even while a huge accepted frame is pending;
- a frame cut short by the next frame is reported lost ('truncated') and the next frame decodes;
- detection depends on the SINR only: the same frame at any level decodes the same, noise at any level
  gives nothing, and loud garbage next to a frame does not hide it.
"""

import numpy as np
import pmt
import pytest
from gnuradio import blocks, gr, issc

from gnuradio.issc.errors import IsscInputError
from gnuradio.issc.link.framing import (
    CODEC_ALIGN,
    FrameFormat,
    FrameHeader,
    FrameLimits,
    FrameReceiver,
    _header_symbols,
    build_analog_frame,
    build_frame,
    preamble,
)

FMT = FrameFormat()
P, H, L = FMT.preamble_length, FMT.header_symbols, FMT.blocklength


def noise(rng, n, power):
    return np.sqrt(power / 2) * (rng.normal(size=n) + 1j * rng.normal(size=n))


def coded_frame(rng, seq, payload_bytes=200, info_bits=300, shape=(8, 8)):
    z = min(50, payload_bytes)
    header = FrameHeader(seq, 0, info_bits, z, payload_bytes - z, *shape)
    payload = rng.integers(0, 256, payload_bytes, np.uint8).tobytes()
    return header, payload, build_frame(FMT, header, payload)


def bogus_head(header):
    """Preamble and coded header only: what a hostile or broken transmitter could put on the air."""
    return np.concatenate([preamble(P), _header_symbols(FMT, header)])


def push_in_chunks(receiver, stream, rng, largest=5000):
    """All results, and the most samples the receiver held between pushes."""
    results, most, position = [], receiver.samples_buffered, 0
    while position < stream.size:
        step = int(rng.integers(1, largest))
        results += receiver.push(stream[position : position + step])
        most = max(most, receiver.samples_buffered)
        position += step
    return results, most


def summary(results):
    return [
        (
            r.start,
            r.header,
            r.payload,
            r.reason,
            r.lost_header,
            r.sinr_db,
            None if r.symbols is None else r.symbols.tobytes(),
        )
        for r in results
    ]


def test_header_announcing_4_megabytes_at_k1_is_refused_and_the_next_frame_decodes():
    """Defect: a CRC-valid header announcing K = 1 and a 4,000,000-byte payload (8.2e9 symbols) made the
    receiver wait for ever, buffering every sample, and the valid frame right after it was never
    returned. Now that header is a failed header (it breaks the payload-symbol limit), the search goes
    on, the next frame decodes bit-exact, and between pushes the receiver holds < max(L, 2P + H) samples."""
    rng = np.random.default_rng(1)
    header, payload, good = coded_frame(rng, 2)
    attack = bogus_head(FrameHeader(1, 0, 1, 0, 4_000_000, 256, 256))
    clean = np.concatenate([attack, np.zeros(500), good, np.zeros(1000)])
    stream = (clean + noise(rng, clean.size, 1e-3)).astype(np.complex64)
    receiver = FrameReceiver(FMT)
    results, most = push_in_chunks(receiver, stream, rng)
    assert [(r.start, r.reason) for r in results if r.header is None] == [(0, "8192000000 payload symbols > 134217728")]
    (decoded,) = [r for r in results if r.header is not None]
    assert decoded.header == header and decoded.payload == payload and decoded.start == attack.size + 500
    assert receiver.max_kept_samples == 2 * P + H
    assert most < receiver.max_kept_samples
    assert receiver.headers_failed == 1 and receiver.frames_decoded == 1


def test_memory_stays_bounded_while_a_huge_accepted_frame_is_pending():
    """With the limits lifted so the 4 MB, K = 1 header is accepted: its payload is decoded as it arrives
    (only the decoded bytes are held), so 300 pushes of 4096 noise samples leave fewer than
    max(L, 2P + H) samples buffered after each push (the old receiver held all 1.2 million); the next
    real frame's preamble inside the announced payload shows the frame was cut: it is reported
    'truncated' with its header, and the next frame decodes."""
    rng = np.random.default_rng(2)
    big = FrameHeader(1, 0, 1, 0, 4_000_000, 4096, 4096)
    receiver = FrameReceiver(FMT, limits=FrameLimits(max_payload_symbols=1 << 40))
    assert receiver.push((bogus_head(big) + noise(rng, P + H, 1e-3)).astype(np.complex64)) == []
    most = 0
    for _ in range(300):
        assert receiver.push(noise(rng, 4096, 1e-3).astype(np.complex64)) == []
        most = max(most, receiver.samples_buffered)
    assert most < receiver.max_kept_samples
    header, payload, good = coded_frame(rng, 2)
    lost, decoded = receiver.push(
        (np.concatenate([good, np.zeros(10)]) + noise(rng, good.size + 10, 1e-3)).astype(np.complex64)
    )
    assert lost.header is None and lost.reason == "truncated" and lost.lost_header == big and lost.start == 0
    assert lost.extra["cut_at"] == P + H + 300 * 4096 == decoded.start
    assert decoded.header == header and decoded.payload == payload
    assert receiver.frames_lost == 1 and receiver.headers_failed == 0


FH, AF, FL = FrameHeader, FrameHeader.analog_frame, FrameLimits
LIMITS_CASES = [
    # (limits, accepted header, refused header, words of the reason)
    (FL(model_count=4), FH(0, 3, 100, 1, 1, 8, 8), FH(0, 4, 100, 1, 1, 8, 8), "model index 4"),
    (FL(max_image_side=100), FH(0, 0, 100, 1, 1, 100, 1), FH(0, 0, 100, 1, 1, 101, 1), "image 101 x 1"),
    (FL(), FH(0, 0, 100, 1, 1, 1, 1), FH(0, 0, 100, 1, 1, 0, 1), "image 0 x 1"),
    (FL(), FH(0, 0, 100, 1, 1, 8, 8), FH(0, 0, 100, 1, 1, 8, 0), "image 8 x 0"),
    (FL(min_info_bits=8), FH(0, 0, 8, 1, 1, 8, 8), FH(0, 0, 7, 1, 1, 8, 8), "K = 7"),
    (FL(), FH(0, 0, 2 * L - 1, 1, 1, 8, 8), FH(0, 0, 2 * L, 1, 1, 8, 8), "K = 512"),
    (
        FL(max_payload_bytes=1000),
        FH(0, 0, 500, 400, 600, 64, 64),
        FH(0, 0, 500, 400, 601, 64, 64),
        "1001 payload bytes",
    ),
    # 4 codewords of K = 100 carry 400 bits = 50 bytes; 51 bytes need a fifth
    (FL(max_payload_symbols=4 * L), FH(0, 0, 100, 0, 50, 8, 8), FH(0, 0, 100, 0, 51, 8, 8), "1280 payload symbols"),
    # an 8 x 8 image is coded padded to 64 x 64: 2 bits per pixel of 4096 pixels are 1024 bytes
    (FL(max_bits_per_pixel=2.0), FH(0, 0, 500, 24, 1000, 8, 8), FH(0, 0, 500, 25, 1000, 8, 8), "1025 bytes"),
    (FL(max_bits_per_pixel=2.0), FH(0, 0, 500, 0, 2048, 65, 1), FH(0, 0, 500, 0, 2049, 65, 1), "2049 bytes"),
    (FL(max_payload_bytes=800), AF(0, 0, 100, 8, 8), AF(0, 0, 101, 8, 8), "101 analog symbols > 100"),
    (FL(max_payload_symbols=50), AF(0, 0, 50, 8, 8), AF(0, 0, 51, 8, 8), "51 analog symbols > 50"),
    (FL(), AF(0, 0, 50, 8, 8), FH(0, 0, 0, 1, 50, 8, 8), "z string"),
]


@pytest.mark.parametrize("limits, accepted, refused, reason", LIMITS_CASES, ids=[c[3] for c in LIMITS_CASES])
def test_each_limit_accepts_its_boundary_and_refuses_one_past_it(limits, accepted, refused, reason):
    """Every limit of FrameLimits, at its exact boundary (closed forms: codewords, padded pixels) and one
    step past it; the reason names what was wrong."""
    assert limits.reject_reason(FMT, accepted) == ""
    assert reason in limits.reject_reason(FMT, refused)


def test_codec_align_is_the_codecs():
    """The bits-per-pixel limit pads the image like the codec does."""
    from gnuradio.issc.codec.codec import ALIGN

    assert CODEC_ALIGN == ALIGN


def test_implausible_header_end_to_end_is_a_failure_with_its_reason():
    """A frame naming model 5 to a receiver that knows 4 models: reported failed ('model index 5 >= 4'),
    its payload skipped, the frame after it decoded."""
    rng = np.random.default_rng(3)
    bad = build_frame(FMT, FrameHeader(0, 5, 300, 0, 100, 8, 8), bytes(100))
    header, payload, good = coded_frame(rng, 1)
    stream = np.concatenate([bad, good, np.zeros(10)]).astype(np.complex64)
    results = FrameReceiver(FMT, limits=FrameLimits(model_count=4)).push(stream)
    assert [(r.start, r.reason) for r in results if r.header is None] == [(0, "model index 5 >= 4")]
    assert [(r.header, r.payload) for r in results if r.header is not None] == [(header, payload)]


@pytest.mark.parametrize("cut", [-10, 0, 1, 4000, 40 * L - P - 1, 40 * L - P], ids=lambda c: f"cut{c}")
def test_truncated_frame_is_reported_lost_and_the_next_frame_decodes(cut):
    """Defect: a frame cut inside its payload was returned as decoded with the next frame's samples as
    payload, and the next frame was lost. Frame A (40 codewords) is cut ``cut`` symbols into its payload
    and frame B follows at once: A is reported 'truncated' (header None, its header in lost_header) and B
    decodes bit-exact, in random chunks. A cut at the last position where B's preamble still lies
    wholly inside A's payload window (40 L - P) is the edge of the window search; a cut 10 symbols
    before A's header ends leaves a header the rate-0.08 code still decodes, with B's preamble starting
    inside it (the search for a cut starts right after A's preamble, not at its payload)."""
    rng = np.random.default_rng(10 + cut)
    header_a, _, frame_a = coded_frame(rng, 1, payload_bytes=640, info_bits=128, shape=(64, 64))
    header_b, payload_b, frame_b = coded_frame(rng, 2)
    clean = np.concatenate([frame_a[: P + H + cut], frame_b, np.zeros(100)])
    stream = (clean + noise(rng, clean.size, 1e-2)).astype(np.complex64)
    receiver = FrameReceiver(FMT)
    results, _ = push_in_chunks(receiver, stream, rng)
    lost, decoded = results
    assert (lost.start, lost.header, lost.reason, lost.lost_header) == (0, None, "truncated", header_a)
    assert decoded.start == P + H + cut and decoded.header == header_b and decoded.payload == payload_b
    assert receiver.frames_lost == 1 and receiver.frames_decoded == 1 and receiver.headers_failed == 0
    # the same whatever the chunking
    assert summary(FrameReceiver(FMT).push(stream)) == summary(results)


@pytest.mark.parametrize("early", [1, P // 2, P - 1])
def test_a_frame_cut_in_its_last_symbols_is_returned_and_the_next_frame_still_decodes(early):
    """A cut in the last P - 1 symbols leaves the next preamble straddling the frame's end, where no
    window search can see it: the cut frame comes back as decoded (best effort, its header is the one
    sent), and the search, which resumes P - 1 samples before each frame's end, finds the next frame."""
    rng = np.random.default_rng(20 + early)
    header_a, _, frame_a = coded_frame(rng, 1, payload_bytes=640, info_bits=128, shape=(64, 64))
    header_b, payload_b, frame_b = coded_frame(rng, 2)
    clean = np.concatenate([frame_a[:-early], frame_b, np.zeros(100)])
    stream = (clean + noise(rng, clean.size, 1e-2)).astype(np.complex64)
    first, second = FrameReceiver(FMT).push(stream)
    assert first.header == header_a and first.start == 0
    assert second.header == header_b and second.payload == payload_b and second.start == frame_a.size - early


def test_truncated_analog_frame_is_reported_lost():
    """The same for an analog (deep JSCC) frame cut by a coded one: no symbols come back for it."""
    rng = np.random.default_rng(5)
    symbols = (rng.normal(size=5000) + 1j * rng.normal(size=5000)) / np.sqrt(2)
    analog = build_analog_frame(FMT, FrameHeader.analog_frame(9, 1, 5000, 64, 64), symbols)
    header_b, payload_b, frame_b = coded_frame(rng, 10)
    clean = np.concatenate([analog[: P + H + 2345], frame_b, np.zeros(10)])
    lost, decoded = FrameReceiver(FMT).push((clean + noise(rng, clean.size, 1e-2)).astype(np.complex64))
    assert lost.reason == "truncated" and lost.lost_header.seq == 9 and lost.symbols is None
    assert decoded.header == header_b and decoded.payload == payload_b


def test_a_weak_false_preamble_in_a_payload_does_not_cut_the_frame_but_a_strong_one_does():
    """Inside a payload, a candidate preamble whose header fails cuts the frame only when its metric is
    strong (>= 30 / P: 9e-14 per position on data or noise). A weak one (0.08 <= metric < 0.117, a
    preamble at 1/3 amplitude over the payload) leaves frame A decoded; a full-strength preamble with a
    garbage header cuts A (lost) and is itself a failed header; frame B decodes either way."""
    rng = np.random.default_rng(6)
    header_a, _, frame_a = coded_frame(rng, 1, payload_bytes=640, info_bits=128, shape=(64, 64))
    header_b, payload_b, frame_b = coded_frame(rng, 2)
    at = P + H + 3000
    receiver = FrameReceiver(FMT)
    weak = frame_a.astype(np.complex128)
    weak[at : at + P] += 0.34 * preamble(P)
    metric = receiver._metric(weak[at : at + P])[0]
    assert receiver.threshold <= metric < receiver.strong_threshold  # the test's premise
    results = receiver.push(np.concatenate([weak, frame_b, np.zeros(10)]).astype(np.complex64))
    assert [r.header for r in results] == [header_a, header_b] and results[1].payload == payload_b

    strong = frame_a.copy()
    strong[at : at + P] = preamble(P)  # a preamble, then the payload's own symbols as its "header"
    receiver = FrameReceiver(FMT)
    lost, failed, decoded = receiver.push(np.concatenate([strong, frame_b, np.zeros(10)]))
    assert lost.reason == "truncated" and lost.lost_header == header_a
    assert failed.header is None and failed.reason == "crc" and failed.start == at
    assert decoded.header == header_b and decoded.payload == payload_b
    assert receiver.frames_lost == 1 and receiver.headers_failed == 1


@pytest.mark.parametrize("scale", [1e-30, 1e-17, 1e-3, 1e6, 1e30])
def test_detection_depends_on_the_sinr_not_on_the_level(scale):
    """Defect: the detector's absolute energy floor (1e-30) missed a 40 dB-SNR frame at amplitude 1e-17.
    The same frame and noise scaled by 1e-30 ... 1e30 decodes exactly as at level 1: same start, header,
    payload, SINR estimate (to 1e-4 dB: complex64 rounding of the scaled samples); the gain scales with it."""
    rng = np.random.default_rng(7)
    header, payload, frame = coded_frame(rng, 4)
    clean = np.concatenate([np.zeros(700), frame, np.zeros(300)])
    stream = clean + noise(rng, clean.size, 1e-4)
    (reference,) = FrameReceiver(FMT).push(stream.astype(np.complex64))
    (scaled,) = FrameReceiver(FMT).push((scale * stream).astype(np.complex64))
    assert (scaled.start, scaled.header, scaled.payload) == (700, header, payload)
    assert (reference.start, reference.header, reference.payload) == (700, header, payload)
    assert abs(scaled.sinr_db - reference.sinr_db) < 1e-4 and 39 < reference.sinr_db < 41
    assert abs(scaled.gain / scale - reference.gain) < 1e-5 * abs(reference.gain)


@pytest.mark.parametrize("scale", [1e-38, 1e-17, 1.0, 1e6, 1e30])
def test_noise_at_any_level_gives_no_frame(scale):
    """50 000 samples of complex Gaussian noise (and exact silence) at any level: nothing detected (the
    metric on noise is about Exp(1) / P: 1e-9 per position above 0.08)."""
    rng = np.random.default_rng(8)
    receiver = FrameReceiver(FMT)
    stream = np.concatenate([scale * noise(rng, 50_000, 1.0), np.zeros(5000)]).astype(np.complex64)
    results, most = push_in_chunks(receiver, stream, rng)
    assert results == [] and receiver.headers_failed == 0 and most < receiver.max_kept_samples


def test_loud_garbage_next_to_a_frame_does_not_hide_it():
    """Garbage samples at 1e30 (a saturated or corrupted capture) right before and after a unit-level
    frame: the frame decodes. (An FFT correlation's rounding error scales with the loudest sample in its
    block, which would bury the frame's correlation; the direct one does not.)"""
    rng = np.random.default_rng(9)
    header, payload, frame = coded_frame(rng, 3)
    loud = 1e30 * noise(rng, 2000, 1.0)
    stream = np.concatenate([loud, frame, loud, np.zeros(10)]).astype(np.complex64)
    decoded = [r for r in FrameReceiver(FMT).push(stream) if r.header is not None]
    assert [(r.start, r.header, r.payload) for r in decoded] == [(2000, header, payload)]


def test_results_do_not_depend_on_the_chunking():
    """A stream of frames, truncations, a refused header, garbage and noise: pushed whole, one sample at
    a time over its first 3000 samples, and in random chunks, the results are identical (bit for bit:
    every metric is computed from its own window's samples only)."""
    rng = np.random.default_rng(11)
    frames = [coded_frame(rng, s, payload_bytes=300, info_bits=200)[2] for s in range(4)]
    garbage = np.frombuffer(rng.integers(0, 256, 8 * 700, np.uint8).tobytes(), np.complex64)  # NaN, 1e38...
    with np.errstate(invalid="ignore", over="ignore"):  # the garbage
        clean = np.concatenate(
            [
                noise(rng, 500, 1.0),
                frames[0][: P + H + 700],
                frames[1],
                bogus_head(FrameHeader(9, 0, 1, 0, 4_000_000, 256, 256)),
                garbage,
                frames[2][: P + 100],
                frames[3],
                np.zeros(300),
            ]
        )
        stream = (clean + noise(rng, clean.size, 1e-2)).astype(np.complex64)
    whole = FrameReceiver(FMT).push(stream)
    assert [r.header.seq for r in whole if r.header is not None] == [1, 3]
    assert [r.reason for r in whole if r.header is None][:1] == ["truncated"]
    receiver = FrameReceiver(FMT)
    trickle = [r for x in stream[:3000] for r in receiver.push(x[None])] + receiver.push(stream[3000:])
    chunked, _ = push_in_chunks(FrameReceiver(FMT), stream, rng, largest=3000)
    assert summary(trickle) == summary(whole) == summary(chunked)


def test_bad_input_is_refused_with_a_message():
    """Samples that are not a 1-D array of numbers, limits that are not positive, header bytes that are not
    bytes: IsscInputError naming what is wrong. Short header bytes are just no header."""
    receiver = FrameReceiver(FMT)
    with pytest.raises(IsscInputError, match="1-D"):
        receiver.push(np.zeros((2, 3)))
    with pytest.raises(IsscInputError, match="complex numbers"):
        receiver.push(np.array(["a", "b"]))
    with pytest.raises(IsscInputError, match="max_payload_symbols"):
        FrameLimits(max_payload_symbols=0)
    with pytest.raises(IsscInputError, match="max_bits_per_pixel"):
        FrameLimits(max_bits_per_pixel=float("nan"))
    with pytest.raises(IsscInputError, match="max_sinr_db"):
        FrameReceiver(FMT, max_sinr_db=float("inf"))
    with pytest.raises(IsscInputError, match="from bytes"):
        FrameHeader.unpack("not bytes")
    packed = FrameHeader(1, 2, 3, 4, 5, 6, 7).pack()
    assert FrameHeader.unpack(packed[:-1]) is None
    assert FrameHeader.unpack(np.frombuffer(packed, np.uint8)) == FrameHeader.unpack(bytearray(packed))


@pytest.mark.parametrize("separate_process", [True, False])
def test_frame_decoder_block_reports_a_truncated_frame_with_its_seq(separate_process):
    """The block publishes the lost frame on header_failed ({start, sinr_db, reason 'truncated', seq}), a
    refused header with its reason, and the next frame on out, the same with its polar decoding in a child
    process (started and stopped with the flowgraph) or in its thread; comm_receiver accepts only its
    decoder's model indices.

    ::

        vector_source_c --> frame_decoder --+-- out ----------> message_debug
                                            +-- header_failed -> message_debug
    """
    rng = np.random.default_rng(12)
    _, _, frame_a = coded_frame(rng, 21, payload_bytes=640, info_bits=128, shape=(64, 64))
    header_b, payload_b, frame_b = coded_frame(rng, 22)
    refused = build_frame(FMT, FrameHeader(23, 7, 300, 0, 10, 8, 8), bytes(10))
    stream = np.concatenate([frame_a[: P + H + 1000], frame_b, refused, np.zeros(100)]).astype(np.complex64)
    tb = gr.top_block()
    source = blocks.vector_source_c(stream.tolist())
    decoder = issc.frame_decoder(model_count=7, separate_process=separate_process)
    failed, out = blocks.message_debug(), blocks.message_debug()
    tb.connect(source, decoder)
    tb.msg_connect(decoder, "header_failed", failed, "store")
    tb.msg_connect(decoder, "out", out, "store")
    tb.run()
    assert (decoder.receiver.process_decodes > 0) is separate_process
    assert decoder.receiver.worker is None  # stopped with the flowgraph
    messages = [pmt.to_python(failed.get_message(i)) for i in range(failed.num_messages())]
    assert [(m["reason"], m.get("seq"), m["start"]) for m in messages] == [
        ("truncated", 21, 0),
        ("model index 7 >= 7", None, P + H + 1000 + frame_b.size),
    ]
    assert out.num_messages() == 1
    meta = pmt.to_python(pmt.car(out.get_message(0)))
    assert meta["seq"] == 22 and bytes(pmt.u8vector_elements(pmt.cdr(out.get_message(0)))) == payload_b
    receiver = issc.comm_receiver("ascc")
    assert receiver.frame_decoder.receiver.limits.model_count == len(receiver.semantic_decoder.model_ids) > 1
