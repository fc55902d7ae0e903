# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Property tests (hypothesis, bounded and derandomised for CI) of the air frame's header and receiver.

- ``FrameHeader.unpack`` of any bytes returns None or a header that packs back to the same bytes; a
  valid header round-trips; CRC-32 catches every single-bit error.
- ``FrameReceiver.push`` of any stream (frames at any level, frames cut anywhere, hostile headers, noise,
  silence, raw bytes as samples, in any chunks) never raises, never returns a header that was not sent
  (nor a hostile one), holds fewer than ``max(L, 2P + H)`` samples between pushes, returns every intact
  frame exactly, and gives the same results whatever the chunking.

Long runs: ``issc fuzz header`` and ``issc fuzz receiver`` call the same two functions.
"""

import zlib

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gnuradio.issc.link.framing import (
    HEADER_STRUCT,
    FrameFormat,
    FrameHeader,
    FrameReceiver,
    _header_symbols,
    build_analog_frame,
    build_frame,
    preamble,
)

HEADER_BYTES = HEADER_STRUCT.size + 4
# the shipped frame shrunk 8x: the same code paths, much faster per example
FMT = FrameFormat(blocklength=32, preamble_length=64, header_symbols=128, list_size=2)
SCALES = (1e-30, 1e-17, 1e-3, 1.0, 1e6, 1e30)
SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

headers = st.builds(
    FrameHeader,
    st.integers(0, 2**32 - 1),
    st.integers(0, 255),
    st.integers(0, 2**16 - 1),
    st.integers(0, 2**24 - 1),
    st.integers(0, 2**24 - 1),
    st.integers(0, 2**16 - 1),
    st.integers(0, 2**16 - 1),
)


@settings(max_examples=300, **SETTINGS)
@given(st.one_of(st.binary(max_size=64), headers.map(FrameHeader.pack)))
def test_unpack_of_any_bytes_is_none_or_a_header_that_packs_back(data):
    """Any bytes: None, or a header whose packing is the first 25 bytes; 25 bytes with a matching CRC-32
    always unpack."""
    header = FrameHeader.unpack(data)
    if header is not None:
        assert header.pack() == data[:HEADER_BYTES]
    elif len(data) >= HEADER_BYTES:
        body, crc = data[: HEADER_STRUCT.size], data[HEADER_STRUCT.size : HEADER_BYTES]
        assert int.from_bytes(crc, "big") != zlib.crc32(body)
    else:
        assert len(data) < HEADER_BYTES


@settings(max_examples=200, **SETTINGS)
@given(headers, st.integers(0, 8 * HEADER_BYTES - 1), st.binary(max_size=8))
def test_valid_headers_round_trip_and_a_flipped_bit_is_caught(header, bit, tail):
    """pack/unpack round trip (also with trailing bytes); any single flipped bit fails the CRC."""
    packed = header.pack()
    assert FrameHeader.unpack(packed) == header == FrameHeader.unpack(packed + tail)
    flipped = bytearray(packed)
    flipped[bit // 8] ^= 0x80 >> (bit % 8)
    assert FrameHeader.unpack(bytes(flipped)) is None


# -- the receiver -------------------------------------------------------------------------------------------
# what no transmitter of this link sends: CRC-valid, but refused by the default FrameLimits
HOSTILE = (
    FrameHeader(10**6, 0, 1, 0, 4_000_000, 256, 256),  # 8.2e9 payload symbols
    FrameHeader(10**6 + 1, 0, 2 * FMT.blocklength, 1, 1, 8, 8),  # K past 2L - 1
    FrameHeader(10**6 + 2, 0, 5, 0, 100, 0, 8),  # no image
    FrameHeader(10**6 + 3, 0, 0, 3, 100, 8, 8),  # analog with a z string
    FrameHeader.analog_frame(10**6 + 4, 0, 2**24 - 1, 8, 8),  # 16 M analog symbols
)

frame_segments = st.tuples(
    st.just("frame"),
    st.integers(0, FMT.max_info_bits),  # K (0: analog)
    st.integers(0, 60),  # payload bytes (analog: symbols)
    st.sampled_from(SCALES),
    st.one_of(st.none(), st.none(), st.floats(0.0, 1.0)),  # where it is cut (fraction of its length), None: intact
)
other_segments = st.one_of(
    st.tuples(st.just("noise"), st.integers(0, 1500), st.sampled_from(SCALES)),
    st.tuples(st.just("zeros"), st.integers(0, 400)),
    st.tuples(st.just("garbage"), st.binary(max_size=1600)),  # raw bytes as complex64: NaN, inf, 1e38
    st.tuples(st.just("hostile"), st.sampled_from(HOSTILE)),
)
streams = st.lists(st.one_of(frame_segments, frame_segments, frame_segments, other_segments), min_size=1, max_size=6)


def build_stream(segments, seed):
    """The samples, the headers sent (hostile ones apart) and the intact frames ``{header: payload}``."""
    rng = np.random.default_rng(seed)
    parts, sent, intact = [], [], {}
    for seq, segment in enumerate(segments):
        kind = segment[0]
        if kind == "frame":
            _, k, size, scale, cut = segment
            if k == 0:
                header = FrameHeader.analog_frame(seq, 1, size, 16, 16)
                payload = (rng.normal(size=size) + 1j * rng.normal(size=size)) / np.sqrt(2)
                frame = build_analog_frame(FMT, header, payload)
            else:
                header = FrameHeader(seq, 1, k, size // 3, size - size // 3, 16, 16)
                payload = rng.integers(0, 256, size, np.uint8).tobytes()
                frame = build_frame(FMT, header, payload)
            if cut is not None:
                frame = frame[: min(int(cut * frame.size), frame.size - 1)]
            else:
                intact[header] = payload
            sent.append(header)
            n = frame.size
            frame = frame + np.sqrt(1e-3 / 2) * (rng.normal(size=n) + 1j * rng.normal(size=n))  # 30 dB
            parts.append(scale * frame)
        elif kind == "noise":
            _, n, scale = segment
            parts.append(scale * np.sqrt(0.5) * (rng.normal(size=n) + 1j * rng.normal(size=n)))
        elif kind == "zeros":
            parts.append(np.zeros(segment[1]))
        elif kind == "garbage":
            raw = segment[1]
            parts.append(np.frombuffer(raw[: len(raw) // 8 * 8], np.complex64))
        else:
            parts.append(np.concatenate([preamble(FMT.preamble_length), _header_symbols(FMT, segment[1])]))
    with np.errstate(all="ignore"):  # garbage and scales meet float32's range
        stream = np.concatenate([np.asarray(p, np.complex128) for p in parts] or [np.zeros(0)]).astype(np.complex64)
    return stream, sent, intact


def summary(results):
    return [
        (r.start, r.header, r.payload, r.reason, r.lost_header, None if r.symbols is None else r.symbols.tobytes())
        for r in results
    ]


@settings(max_examples=300, **SETTINGS)
@given(streams, st.lists(st.integers(1, 4000), min_size=1, max_size=8), st.integers(0, 2**32 - 1))
def test_receiver_on_any_stream(segments, chunks, seed):
    """Frames (coded and analog, K = 1 .. 2L - 1, at 1e-30 .. 1e30), frames cut anywhere, hostile
    CRC-valid headers, noise, silence and raw bytes, pushed in random chunks: no exception; every header
    returned (decoded, or lost to truncation) is one that was sent and no hostile one ever is; fewer
    than max(L, 2P + H) samples held between pushes; every intact frame decoded exactly (analog: to the
    noise); the same results as one push of the whole stream."""
    stream, sent, intact = build_stream(segments, seed)
    receiver = FrameReceiver(FMT)
    results, position, turn = [], 0, 0
    while position < stream.size:
        step = chunks[turn % len(chunks)]
        results += receiver.push(stream[position : position + step])
        assert receiver.samples_buffered < receiver.max_kept_samples
        position, turn = position + step, turn + 1
    event(f"intact frames: {len(intact)}")
    event(f"lost to truncation: {sum(r.reason == 'truncated' for r in results)}")
    decoded = {r.header: r for r in results if r.header is not None}
    assert len(decoded) == sum(r.header is not None for r in results)  # none twice
    assert set(decoded) <= set(sent)
    assert {r.lost_header for r in results if r.lost_header is not None} <= set(sent)
    assert all(r.reason for r in results if r.header is None)
    for header, payload in intact.items():
        assert header in decoded, f"intact frame {header} not returned"
        frame = decoded[header]
        if header.analog:
            assert frame.symbols.shape == payload.shape
            assert np.all(np.abs(frame.symbols - payload) < 0.3)  # 30 dB: noise std 0.03 per symbol
        else:
            assert frame.payload == payload
    assert summary(FrameReceiver(FMT).push(stream)) == summary(results)


chained_frames = st.lists(
    st.tuples(
        st.integers(0, FMT.max_info_bits),  # K (0: analog)
        st.integers(0, 60),  # payload bytes (analog: symbols)
        st.sampled_from(SCALES),
        st.one_of(st.none(), st.integers(0, 4000)),  # symbols kept of a cut frame, None: intact
        st.integers(0, 200),  # gap after it
        st.booleans(),  # the gap is noise (else silence)
    ),
    min_size=2,
    max_size=4,
)


@settings(max_examples=150, **SETTINGS)
@given(chained_frames, st.integers(1, 3000), st.integers(0, 2**32 - 1))
def test_a_cut_frame_never_hides_the_next_one(frames, chunk, seed):
    """Frames one after another, some cut anywhere, with short gaps: every intact frame decodes exactly,
    and a frame cut after its preamble whose successor (preamble and header present) starts at least P
    symbols before the cut frame's announced end is never returned as decoded: it is lost to truncation
    (whenever its own header was complete) or a failed header."""
    rng = np.random.default_rng(seed)
    p, h = FMT.preamble_length, FMT.header_symbols
    parts, position, placed = [], 0, []  # placed: (header, payload, start, kept symbols, announced end)
    for seq, (k, size, scale, keep, gap, noisy) in enumerate(frames):
        if k == 0:
            header = FrameHeader.analog_frame(seq, 1, size, 16, 16)
            payload = (rng.normal(size=size) + 1j * rng.normal(size=size)) / np.sqrt(2)
            frame = build_analog_frame(FMT, header, payload)
        else:
            header = FrameHeader(seq, 1, k, size // 3, size - size // 3, 16, 16)
            payload = rng.integers(0, 256, size, np.uint8).tobytes()
            frame = build_frame(FMT, header, payload)
        kept = frame.size if keep is None else min(keep, frame.size - 1)
        frame = frame[:kept] + np.sqrt(1e-3 / 2) * (rng.normal(size=kept) + 1j * rng.normal(size=kept))
        placed.append((header, payload, position, kept, position + FMT.frame_symbols(header), keep is None))
        filler = np.sqrt(0.5) * (rng.normal(size=gap) + 1j * rng.normal(size=gap)) if noisy else np.zeros(gap)
        parts += [scale * frame, filler]
        position += kept + gap
    stream = np.concatenate(parts).astype(np.complex64)
    receiver = FrameReceiver(FMT)
    results = [r for i in range(0, stream.size, chunk) for r in receiver.push(stream[i : i + chunk])]
    decoded = {r.header: r for r in results if r.header is not None}
    lost = {r.lost_header for r in results if r.lost_header is not None}
    for (header, payload, _start, kept, end, intact), successor in zip(placed, placed[1:] + [None]):
        if intact:
            assert header in decoded, f"intact frame {header} not returned"
            if not header.analog:
                assert decoded[header].payload == payload
            continue
        next_complete = successor is not None and successor[3] >= p + h
        if kept >= p and next_complete and successor[2] + p <= end:
            event("cut frame with its successor inside its window")
            assert header not in decoded, f"cut frame {header} returned as decoded"
            if kept >= p + h:
                assert header in lost
