# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The user id of the air frame (docs/multiuser.md "The GNU Radio link", python/issc/link/framing.py):

- user 0's frames are the single-user frames bit for bit (plain CRC-32, the PRBS-23 preamble, the
  PRBS-15 scrambler from its start), built here independently of the framing module's helpers;
- the users' CRC masks are distinct, and no single-bit error of a header turns one user's CRC into
  another's (brute force over every bit);
- K frames superimposed on the same samples: each user's receiver decodes exactly its own frame, with no
  bit error and its user id; a receiver given only other users' frames delivers nothing; a header of
  another user behind this user's preamble is refused with reason 'user N'.
"""

import struct
import zlib

import numpy as np
import pytest

from gnuradio.issc.errors import IsscInputError
from gnuradio.issc.link.framing import (
    HEADER_STRUCT,
    MAX_USERS,
    FrameFormat,
    FrameHeader,
    FrameReceiver,
    build_frame,
    prbs,
    preamble,
    qpsk_map,
    scrambler_bits,
    user_crc_mask,
)

FMT = FrameFormat(blocklength=64, preamble_length=128, header_symbols=128, list_size=4)
P, H, L = FMT.preamble_length, FMT.header_symbols, FMT.blocklength


def noise(rng, n, power):
    return np.sqrt(power / 2) * (rng.normal(size=n) + 1j * rng.normal(size=n))


def user_frame(rng, user, seq, payload_bytes=60, info_bits=70):
    payload = rng.integers(0, 256, payload_bytes, dtype=np.uint8).tobytes()
    header = FrameHeader(seq, 1, info_bits, 10, payload_bytes - 10, 16, 16, user)
    return build_frame(FMT, header, payload), header, payload


def test_user_0_frames_are_the_single_user_frames_bit_for_bit():
    """The LFSRs and the CRC written out here: user 0's header bytes, preamble and scrambler are the
    single-user ones, so existing recordings and receivers are unaffected."""
    header = FrameHeader(7, 2, 100, 3, 40, 32, 48)
    body = struct.pack(">IBH3s3sHH", 7, 2, 100, (3).to_bytes(3, "big"), (40).to_bytes(3, "big"), 32, 48)
    assert header.pack() == body + struct.pack(">I", zlib.crc32(body))

    def lfsr(degree, tap, n, seed):
        state = [(seed >> i) & 1 for i in range(degree)]
        out = []
        for _ in range(n):
            bit = state[degree - 1] ^ state[tap - 1]
            out.append(bit)
            state = [bit] + state[:-1]
        return np.array(out, np.uint8)

    bits = lfsr(23, 18, 2 * P, 0x5A5A5)
    expected = ((1 - 2.0 * bits[0::2]) + 1j * (1 - 2.0 * bits[1::2])) / np.sqrt(2)
    np.testing.assert_allclose(preamble(P), expected, atol=1e-7)
    np.testing.assert_array_equal(preamble(P, 0), preamble(P))
    np.testing.assert_array_equal(scrambler_bits(40000), np.resize(lfsr(15, 14, 32767, 1), 40000))
    assert user_crc_mask(0) == 0


def test_masks_are_distinct_and_no_single_bit_error_maps_one_user_to_another():
    """A single flipped bit changes the CRC field by a fixed syndrome (CRC-32 is affine): none of the 168
    syndromes is the XOR of two users' masks, so one bit error never turns a header into another user's."""
    masks = [user_crc_mask(u) for u in range(MAX_USERS)]
    assert len(set(masks)) == MAX_USERS and masks[0] == 0
    size = HEADER_STRUCT.size
    zero = bytes(size)
    syndromes = {1 << i for i in range(32)}  # a flipped CRC bit
    for bit in range(8 * size):
        flipped = bytearray(zero)
        flipped[bit // 8] ^= 0x80 >> (bit % 8)
        syndromes.add(zlib.crc32(bytes(flipped)) ^ zlib.crc32(zero))
    differences = {a ^ b for a in masks for b in masks if a != b}
    assert not syndromes & differences
    header = FrameHeader(1, 0, 5, 0, 9, 8, 8, 3)
    packed = header.pack()
    for bit in range(8 * len(packed)):
        flipped = bytearray(packed)
        flipped[bit // 8] ^= 0x80 >> (bit % 8)
        assert FrameHeader.unpack(bytes(flipped)) is None


@pytest.mark.parametrize("user", [0, 1, 17, 255])
def test_header_round_trip_keeps_the_user(user):
    """pack/unpack round trip of every field, the user included."""
    header = FrameHeader(2**32 - 1, 255, 65535, 2**24 - 1, 5, 65535, 1, user)
    assert FrameHeader.unpack(header.pack()) == header


@pytest.mark.parametrize("user", [-1, 256, 1.5, True])
def test_bad_user_ids_are_refused(user):
    with pytest.raises(IsscInputError, match="user id"):
        FrameHeader(0, 0, 1, 0, 1, 8, 8, user).pack()


def test_preambles_of_different_users_barely_correlate():
    """Users 0-15, the link's 256-symbol preamble: the normalised correlation of one user's preamble with
    another's, at every lag, stays below the detection threshold (0.08): a receiver does not detect the
    other users' frames (random sequences reach about 0.05 over these 61 000 lags)."""
    p = 256
    pre = [preamble(p, u).astype(complex) for u in range(16)]
    worst = 0.0
    for a in range(16):
        for b in range(16):
            if a != b:
                corr = np.correlate(np.concatenate([pre[b], pre[b]]), pre[a], "valid")
                worst = max(worst, float(np.max(np.abs(corr) ** 2)) / p**2)
        assert abs(np.vdot(pre[a], pre[a])) == pytest.approx(p)
    assert worst < 0.06


def test_superimposed_users_each_decode_their_own_frame_only():
    """Three users' frames start on the same sample with different gains (+ noise, SNR >= 10 dB over the
    other users' power): each user's receiver returns one frame, its own (user id, sequence, payload bit for
    bit), and the SINR it measures counts the other users as interference."""
    rng = np.random.default_rng(1)
    gains = [1.0, 0.25 * np.exp(1j), 0.2j]
    frames = [user_frame(rng, u, 10 + u) for u in range(3)]
    length = max(f[0].size for f in frames)
    for u in range(3):
        # receiver u sees its own user with gain 1 and the others with the gains above
        mix = np.zeros(length + 50, complex)
        for j, (symbols, _, _) in enumerate(frames):
            g = 1.0 if j == u else gains[(j - u) % 3]
            mix[: symbols.size] += g * symbols
        interference = sum(abs(gains[(j - u) % 3]) ** 2 for j in range(3) if j != u)
        mix += noise(rng, mix.size, 1e-3)
        receiver = FrameReceiver(FMT, user=u)
        got = receiver.push(mix.astype(np.complex64))
        assert len(got) == 1 and got[0].header is not None
        assert got[0].header.user == u and got[0].header.seq == 10 + u
        assert got[0].payload == frames[u][2]
        expected_sinr = 10 * np.log10(1 / (interference + 1e-3))
        assert got[0].sinr_db == pytest.approx(expected_sinr, abs=1.5)


def test_a_receiver_ignores_other_users_frames():
    """User 1's frames alone at high SNR: user 0's and user 2's receivers find nothing; user 1's all."""
    rng = np.random.default_rng(2)
    stream = np.concatenate([user_frame(rng, 1, s)[0] for s in range(3)] + [np.zeros(200)])
    stream = (stream + noise(rng, stream.size, 1e-3)).astype(np.complex64)
    for user, count in ((0, 0), (2, 0), (1, 3)):
        got = FrameReceiver(FMT, user=user).push(stream)
        assert len([f for f in got if f.header is not None]) == count
        assert all(f.header.user == user for f in got if f.header is not None)


def test_another_users_header_behind_this_users_preamble_is_refused():
    """A header that decodes but names user 2, behind user 1's preamble and scrambler: user 1's receiver
    reports it as a failure with reason 'user 2' and delivers no frame."""
    header = FrameHeader(3, 0, 70, 0, 20, 8, 8, user=2)
    bits = np.unpackbits(np.frombuffer(header.pack(), np.uint8))
    coded = FMT.header_code().encode(bits).reshape(-1) ^ scrambler_bits(2 * H, user=1)
    samples = np.concatenate([preamble(P, 1), qpsk_map(coded), np.zeros(3 * L)]).astype(np.complex64)
    got = FrameReceiver(FMT, user=1).push(samples)
    assert [f.reason for f in got] == ["user 2"]
    assert got[0].header is None
    assert prbs(15, 14, 10).size == 10  # the scrambler's generator as imported
