# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The air frame of the communication link: preamble, protected header, rate-adaptive polar payload.

    | preamble  P symbols | header  H symbols           | payload  B x L symbols                |
    | known, constant-    | 136 bits + CRC-32, polar    | z+y strings, polar (2L, K) per block, |
    | modulus (PRBS QPSK) | (2H, 168), QPSK, scrambled  | QPSK, scrambled                       |

- Preamble: ``P`` (default 256) QPSK symbols from a PRBS-23, used for detection (normalised
  correlation on the raw stream, no tags needed), timing, the complex gain and the noise-plus-
  interference power (hence the SINR estimate and the LLR scaling).
- Header (:class:`FrameHeader`): sequence, codec model index, ``K``, the two string lengths and the
  image shape, protected by CRC-32 and a low-rate polar code (default ``2H = 2048`` coded bits for
  168 information bits, 0.16 bits per channel use, usable down to about -8 dB SINR).
- Users (the multi-user link, docs/multiuser.md): a frame belongs to user ``u`` (0-255). Its CRC-32 is
  XORed with the user's mask (:func:`user_crc_mask`, 0 for user 0), as LTE scrambles a control
  message's CRC with the receiver's RNTI: the header keeps its 168 bits and user 0's frames are the
  single-user frames bit for bit. Its preamble is the user's own (:func:`preamble`: the PRBS-23 XOR a
  second PRBS-23 seeded by ``u``; user 0's is the single-user preamble) and its scrambler starts at its
  own place in the PRBS-15 (:func:`scrambler_start`), so the K users' frames can go out at the same
  instant: each receiver correlates with its own preamble, its gain and noise estimates see the other
  users' signals as interference (the measured SINR is the SINR), and a header of another user that
  decodes anyway is refused (``reason`` 'user N').
- Payload: the codec strings (``z`` then ``y``) as bits, cut into blocks of ``K = R_c L`` bits (the
  last zero-padded), each a polar codeword of ``N = 2L`` bits = ``L`` QPSK symbols (one channel-code
  block = ``L`` channel uses, docs/model.md §3).
- Coded bits of header and payload are XORed with a PRBS-15 (DVB-S2 polynomial) so padding and
  repeated bytes cannot produce a spectral line or a false preamble.
- Analog payload (deep JSCC, the benchmark): a header with ``K = 0`` announces ``y_bytes`` complex
  channel symbols sent as they are (no entropy or channel code; ``z_bytes`` must be 0). The receiver
  equalises them with the preamble's gain, so a DJSCC decoder sees ``s + n / g`` as in training.
  The same preamble and coded header serve both kinds of frame, so both share the detector, the SINR
  estimate and the monitor.

:class:`FrameReceiver` is the streaming receiver: feed it samples in chunks of any size and it returns
decoded frames (and failures: failed or implausible headers, frames cut short by the next one) exactly
as if it had the whole stream at once, in bounded memory. :class:`FrameLimits` says what a header may
announce.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from ..errors import IsscInputError
from ..service_process import UsesServiceProcess
from .pdus import MAX_IMAGE_SIDE
from .polar import PolarCode, PolarProcess, PolarProcessError, polar_code
from .waveform import FrameSynchroniser, SymbolTracker, Waveform

HEADER_STRUCT = struct.Struct(">IBH3s3sHH")  # seq, model index, K, z bytes (u24), y bytes (u24), height, width
HEADER_BITS = 8 * (HEADER_STRUCT.size + 4)  # + CRC-32
MAX_U24 = (1 << 24) - 1
CODEC_ALIGN = 64  # the codec codes an image padded to multiples of 64 pixels (codec/codec.py ALIGN)
MAX_USERS = 256  # user ids 0..255


@functools.lru_cache(maxsize=1)
def _user_masks() -> tuple:
    """The CRC masks of users 0..255 (user 0: none): the first 4 bytes of SHA-256 of a per-user string (not a
    CRC of it: a CRC is linear, and the masks of ids differing in one bit would differ by a single-bit error's
    syndrome), all distinct, no two differing by the CRC change of a single-bit error in the header
    (tests/link/test_framing_users.py checks both)."""
    return (0,) + tuple(
        int.from_bytes(hashlib.sha256(b"issc-user-%d" % u).digest()[:4], "big") for u in range(1, MAX_USERS)
    )


@functools.lru_cache(maxsize=1)
def _mask_users() -> dict:
    return {mask: u for u, mask in enumerate(_user_masks())}


def user_crc_mask(user: int) -> int:
    """The 32-bit mask XORed into the header CRC of user ``user``'s frames (0 for user 0)."""
    if isinstance(user, bool) or not isinstance(user, (int, np.integer)) or not 0 <= user < MAX_USERS:
        raise IsscInputError(f"user id must be an integer in [0, {MAX_USERS - 1}], got {user!r}")
    return _user_masks()[int(user)]


@functools.lru_cache(maxsize=4)
def prbs(degree: int, tap: int, length: int, seed: int = 1) -> np.ndarray:
    """Bits of the Fibonacci LFSR ``x^degree + x^tap + 1`` (e.g. 15/14, 23/18), ``length`` of them."""
    state = [(seed >> i) & 1 for i in range(degree)]
    out = np.empty(length, np.uint8)
    for n in range(length):
        bit = state[degree - 1] ^ state[tap - 1]
        out[n] = bit
        state = [bit] + state[:-1]
    out.setflags(write=False)
    return out


def scrambler_start(user: int) -> int:
    """Where user ``user``'s scrambler starts in the PRBS-15 period (0 for user 0, the single-user link):
    users sending the same bits (the same image, model and rate) still put different symbols on the air."""
    user_crc_mask(user)  # the range check
    return int(user) * 4099 % 32767


def scrambler_bits(length: int, user: int = 0) -> np.ndarray:
    period = prbs(15, 14, 32767)
    start = scrambler_start(user)
    return np.resize(np.roll(period, -start) if start else period, length)


@functools.lru_cache(maxsize=1)
def _scrambler_signs() -> np.ndarray:
    """One period of the scrambler as LLR signs: +1 for a 0 bit, -1 for a 1 bit."""
    signs = 1.0 - 2.0 * prbs(15, 14, 32767)
    signs.setflags(write=False)
    return signs


def qpsk_map(bits: np.ndarray) -> np.ndarray:
    """Gray QPSK, unit power: bit pairs ``(b0, b1)`` -> ``((1 - 2 b0) + j (1 - 2 b1)) / sqrt 2``."""
    pairs = np.asarray(bits, np.float32).reshape(-1, 2)
    return ((1 - 2 * pairs[:, 0]) + 1j * (1 - 2 * pairs[:, 1])).astype(np.complex64) / np.float32(np.sqrt(2))


def qpsk_llrs(symbols: np.ndarray, gain: complex, noise_var: float) -> np.ndarray:
    """Exact bit LLRs ``log P(b=0)/P(b=1)`` of Gray QPSK through ``y = g s + n``, ``n ~ CN(0, noise_var)``."""
    z = np.conj(gain) * np.asarray(symbols, np.complex128)
    scale = 2.0 * np.sqrt(2.0) / noise_var
    llrs = np.empty(2 * z.size)
    llrs[0::2], llrs[1::2] = scale * z.real, scale * z.imag
    return llrs


@functools.lru_cache(maxsize=32)
def preamble(length: int, user: int = 0) -> np.ndarray:
    """The ``length`` known QPSK symbols that start user ``user``'s frames: the PRBS-23 ``x^23 + x^18 + 1``,
    for users ``u > 0`` XORed with the PRBS-23 ``x^23 + x^5 + 1`` seeded by ``u`` (a Gold-like family: low
    cross-correlation at every lag, so a receiver does not detect another user's frames)."""
    user_crc_mask(user)  # the range check
    bits = prbs(23, 18, 2 * length, seed=0x5A5A5)
    if user:
        bits = bits ^ prbs(23, 5, 2 * length, seed=int(user) * 0x9E37 % ((1 << 23) - 1) or 1)
    symbols = qpsk_map(bits)
    symbols.setflags(write=False)
    return symbols


@dataclass(frozen=True)
class FrameHeader:
    """The frame header (what the receiver needs before the payload).

    Args:
        seq: frame sequence number (u32).
        model_index: index of the codec model in the family's rate order (u8).
        info_bits: ``K`` information bits per payload block.
        z_bytes, y_bytes: lengths of the hyper-latent and latent strings (u24 each).
        height, width: image shape (u16 each).
        user: the user the frame is for (0-255; not a field: it masks the CRC, :func:`user_crc_mask`).

    ``info_bits == 0`` marks an analog payload of ``y_bytes`` complex symbols (:meth:`analog_frame`).
    """

    seq: int
    model_index: int
    info_bits: int
    z_bytes: int
    y_bytes: int
    height: int
    width: int
    user: int = 0

    @classmethod
    def analog_frame(
        cls, seq: int, model_index: int, symbols: int, height: int, width: int, user: int = 0
    ) -> FrameHeader:
        """The header of an analog frame carrying ``symbols`` complex payload symbols."""
        return cls(seq, model_index, 0, 0, symbols, height, width, user)

    @property
    def analog(self) -> bool:
        return self.info_bits == 0

    @property
    def payload_symbols(self) -> int:
        """Complex symbols of an analog payload (0 for a coded one)."""
        return self.y_bytes if self.analog else 0

    @property
    def payload_bytes(self) -> int:
        return 0 if self.analog else self.z_bytes + self.y_bytes

    def pack(self) -> bytes:
        fields = (self.seq, self.model_index, self.info_bits, self.z_bytes, self.y_bytes, self.height, self.width)
        limits = (0xFFFFFFFF, 0xFF, 0xFFFF, MAX_U24, MAX_U24, 0xFFFF, 0xFFFF)
        names = ("seq", "model_index", "info_bits", "z_bytes", "y_bytes", "height", "width")
        for name, value, limit in zip(names, fields, limits):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= limit:
                raise IsscInputError(f"frame header field '{name}' must be an integer in [0, {limit}], got {value!r}")
        mask = user_crc_mask(self.user)
        body = HEADER_STRUCT.pack(
            self.seq,
            self.model_index,
            self.info_bits,
            self.z_bytes.to_bytes(3, "big"),
            self.y_bytes.to_bytes(3, "big"),
            self.height,
            self.width,
        )
        return body + struct.pack(">I", zlib.crc32(body) ^ mask)

    @classmethod
    def unpack(cls, data: bytes) -> FrameHeader | None:
        """The header in the first 25 bytes of ``data``, or None if they are fewer or the CRC fails (any
        bytes give one or the other; a CRC that matches under user ``u``'s mask gives a header of user
        ``u``; every field of a header that unpacks is in range, so it packs back to the same bytes).
        Whether the link's transmitter could have sent it is :meth:`FrameLimits.reject_reason`'s question.

        Args:
            data: a bytes-like object.
        """
        try:
            data = memoryview(data).tobytes()
        except TypeError:
            raise IsscInputError(f"a frame header is read from bytes, got {type(data).__name__}") from None
        body, crc = data[: HEADER_STRUCT.size], data[HEADER_STRUCT.size : HEADER_STRUCT.size + 4]
        if len(crc) != 4:
            return None
        user = _mask_users().get(struct.unpack(">I", crc)[0] ^ zlib.crc32(body))
        if user is None:
            return None
        seq, model, k, z, y, height, width = HEADER_STRUCT.unpack(body)
        return cls(seq, model, k, int.from_bytes(z, "big"), int.from_bytes(y, "big"), height, width, user)


@dataclass(frozen=True)
class FrameFormat:
    """Sizes of the frame; transmitter and receiver must agree on them.

    Args:
        blocklength: ``L`` channel uses per payload codeword (polar ``N = 2L``; a power of two).
        preamble_length: ``P`` preamble symbols.
        header_symbols: ``H`` header symbols (polar ``2H``; a power of two).
        list_size: SCL list size of the decoders.
    """

    blocklength: int = 256
    preamble_length: int = 256
    header_symbols: int = 1024
    list_size: int = 8

    def __post_init__(self):
        for name in ("blocklength", "header_symbols"):
            value = getattr(self, name)
            if not (isinstance(value, int) and value >= 8 and value & (value - 1) == 0):
                raise IsscInputError(f"{name} must be a power of two >= 8, got {value!r}")
        if not (isinstance(self.preamble_length, int) and 32 <= self.preamble_length <= 65536):
            raise IsscInputError(f"preamble_length must be in [32, 65536], got {self.preamble_length!r}")
        if 2 * self.header_symbols <= HEADER_BITS:
            raise IsscInputError(f"header_symbols must exceed {HEADER_BITS // 2} to carry the header")
        if not (isinstance(self.list_size, int) and 1 <= self.list_size <= 64):
            raise IsscInputError(f"list_size must be in [1, 64], got {self.list_size!r}")

    @property
    def max_info_bits(self) -> int:
        return 2 * self.blocklength - 1

    def payload_blocks(self, payload_bytes: int, info_bits: int) -> int:
        return -(-8 * payload_bytes // info_bits)

    def frame_symbols(self, header: FrameHeader) -> int:
        if header.analog:
            return self.preamble_length + self.header_symbols + header.payload_symbols
        return (
            self.preamble_length
            + self.header_symbols
            + self.payload_blocks(header.payload_bytes, header.info_bits) * self.blocklength
        )

    def header_code(self):
        return polar_code(2 * self.header_symbols, HEADER_BITS, self.list_size)

    def payload_code(self, info_bits: int):
        if not 1 <= info_bits <= self.max_info_bits:
            raise IsscInputError(f"info_bits must be in [1, {self.max_info_bits}], got {info_bits}")
        return polar_code(2 * self.blocklength, int(info_bits), self.list_size)


def _header_symbols(fmt: FrameFormat, header: FrameHeader) -> np.ndarray:
    header_bits = np.unpackbits(np.frombuffer(header.pack(), np.uint8))
    coded = fmt.header_code().encode(header_bits).reshape(-1) ^ scrambler_bits(2 * fmt.header_symbols, header.user)
    return qpsk_map(coded)


def build_analog_frame(fmt: FrameFormat, header: FrameHeader, symbols: np.ndarray) -> np.ndarray:
    """Preamble, coded header and the analog payload ``symbols`` as they are (the source's own power
    normalisation: a DJSCC encoder's symbols have unit mean power, like the rest of the frame)."""
    symbols = np.asarray(symbols).reshape(-1)
    if not header.analog or header.z_bytes:
        raise IsscInputError("an analog frame needs a header with info_bits = 0 and z_bytes = 0")
    if symbols.size != header.payload_symbols:
        raise IsscInputError(f"analog payload has {symbols.size} symbols, the header says {header.payload_symbols}")
    if not np.all(np.isfinite(symbols)):
        raise IsscInputError("analog payload symbols must be finite")
    return np.concatenate(
        [preamble(fmt.preamble_length, header.user), _header_symbols(fmt, header), symbols.astype(np.complex64)]
    )


def build_frame(fmt: FrameFormat, header: FrameHeader, payload: bytes) -> np.ndarray:
    """The frame's complex symbols (unit power)."""
    if header.analog:
        raise IsscInputError("info_bits = 0 marks an analog frame: use build_analog_frame")
    payload = bytes(payload)
    if len(payload) != header.payload_bytes:
        raise IsscInputError(f"payload has {len(payload)} bytes, the header says {header.payload_bytes}")
    parts = [preamble(fmt.preamble_length, header.user), _header_symbols(fmt, header)]
    if payload:
        k = header.info_bits
        blocks = fmt.payload_blocks(len(payload), k)
        bits = np.zeros(blocks * k, np.uint8)
        bits[: 8 * len(payload)] = np.unpackbits(np.frombuffer(payload, np.uint8))
        coded = fmt.payload_code(k).encode(bits).reshape(-1)
        # one scrambler sequence runs over header and payload: the payload continues where the header ends
        coded ^= scrambler_bits(2 * fmt.header_symbols + coded.size, header.user)[2 * fmt.header_symbols :]
        parts.append(qpsk_map(coded))
    return np.concatenate(parts)


@dataclass(frozen=True)
class FrameLimits:
    """What a transmitter of this link can announce: a header outside these limits is refused (reported as
    a failed header) even when its CRC holds, so no header can make the receiver wait for more air time
    or hold more memory than a real frame needs.

    The defaults follow from the largest image the link carries (``MAX_IMAGE_SIDE`` = 8192, the image
    PDU limit) and what the codec can produce: the shipped family's worst case is about 1 bit per pixel
    (uniform noise at the highest rate; 0.1-0.6 on photos), so 24 bits per pixel (raw RGB) of the image
    padded to the codec's 64-pixel grid leaves a wide margin; 4 MiB is a 4096 x 4096 image at 2 bits per
    pixel; ``2^27`` payload symbols carry those 4 MiB at a code rate of 0.25 bits per channel use.

    Args:
        max_payload_bytes: coded payload (z + y strings) bytes at most; an analog payload has at most
            ``max_payload_bytes / 8`` symbols (the size of its complex64 samples).
        max_payload_symbols: payload channel symbols at most (``B L`` of a coded frame, the symbols of an
            analog one): the air time a header may claim.
        model_count: model indices ``0 .. model_count - 1`` are accepted (256: any).
        max_image_side: height and width must lie in ``[1, max_image_side]``.
        max_bits_per_pixel: coded payload bits per pixel of the image padded to multiples of
            ``CODEC_ALIGN``.
        min_info_bits: smallest ``K`` a transmitter uses (the largest is ``2L - 1``).
    """

    max_payload_bytes: int = 4 << 20
    max_payload_symbols: int = 1 << 27
    model_count: int = 256
    max_image_side: int = MAX_IMAGE_SIDE
    max_bits_per_pixel: float = 24.0
    min_info_bits: int = 1

    def __post_init__(self):
        for name in ("max_payload_bytes", "max_payload_symbols", "model_count", "max_image_side", "min_info_bits"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise IsscInputError(f"frame limit '{name}' must be an integer >= 1, got {value!r}")
        bpp = self.max_bits_per_pixel
        if isinstance(bpp, bool) or not isinstance(bpp, (int, float, np.integer, np.floating)) or not bpp > 0:
            raise IsscInputError(f"frame limit 'max_bits_per_pixel' must be > 0, got {bpp!r}")
        if not np.isfinite(bpp):
            raise IsscInputError(f"frame limit 'max_bits_per_pixel' must be finite, got {bpp!r}")

    def max_analog_symbols(self) -> int:
        return min(self.max_payload_bytes // 8, self.max_payload_symbols)

    def reject_reason(self, fmt: FrameFormat, header: FrameHeader) -> str:
        """Why ``header`` cannot come from a transmitter of this link ('' when it can)."""
        if header.model_index >= self.model_count:
            return f"model index {header.model_index} >= {self.model_count}"
        side = self.max_image_side
        if not (1 <= header.height <= side and 1 <= header.width <= side):
            return f"image {header.height} x {header.width} outside [1, {side}]"
        if header.analog:
            if header.z_bytes:
                return "analog frame with a z string"
            if header.payload_symbols > self.max_analog_symbols():
                return f"{header.payload_symbols} analog symbols > {self.max_analog_symbols()}"
            return ""
        if not self.min_info_bits <= header.info_bits <= fmt.max_info_bits:
            return f"K = {header.info_bits} outside [{self.min_info_bits}, {fmt.max_info_bits}]"
        if header.payload_bytes > self.max_payload_bytes:
            return f"{header.payload_bytes} payload bytes > {self.max_payload_bytes}"
        symbols = fmt.payload_blocks(header.payload_bytes, header.info_bits) * fmt.blocklength
        if symbols > self.max_payload_symbols:
            return f"{symbols} payload symbols > {self.max_payload_symbols}"
        pixels = _aligned(header.height) * _aligned(header.width)
        if 8 * header.payload_bytes > self.max_bits_per_pixel * pixels:
            return f"{header.payload_bytes} bytes for a {header.height} x {header.width} image"
        return ""


def _aligned(side: int) -> int:
    return -(-side // CODEC_ALIGN) * CODEC_ALIGN


@dataclass
class ReceivedFrame:
    """What the receiver got: a decoded frame, or a failure (``header`` None, ``payload`` empty): a
    detected preamble whose header failed its CRC or the link's limits (``reason`` says which), or a frame
    lost because the next frame's preamble cut into its payload (``reason`` 'truncated', its decoded
    header in ``lost_header``). An analog frame has an empty ``payload`` and its equalised symbols in
    ``symbols`` (``s + n / g``, noise variance ``noise_var / |g|^2``)."""

    start: int  # absolute sample index of the preamble's first symbol
    header: FrameHeader | None
    payload: bytes
    sinr_db: float
    gain: complex
    noise_var: float
    detection_metric: float
    extra: dict = field(default_factory=dict)
    symbols: np.ndarray | None = None
    reason: str = ""  # for a failure: 'crc', 'truncated' or the limit the header broke
    lost_header: FrameHeader | None = None  # the header of a truncated frame

    @property
    def header_ok(self) -> bool:
        return self.header is not None


@dataclass(frozen=True)
class _Detection:
    """A preamble found by :meth:`FrameReceiver._find_preamble` and its header (decoded or not)."""

    start: int
    metric: float
    header: FrameHeader | None
    reason: str
    gain: complex
    noise_var: float
    sinr_db: float
    acquisition: object = None  # shaped waveform: the synchroniser's acquisition, for a buffer from ``origin``
    origin: int = 0

    def failure(self) -> ReceivedFrame:
        return ReceivedFrame(
            self.start, None, b"", self.sinr_db, self.gain, self.noise_var, self.metric, reason=self.reason
        )


@dataclass
class _Pending:
    """A frame whose header decoded, while its payload arrives."""

    found: _Detection
    end: int  # absolute index one past the frame's last symbol
    next_symbol: int  # first payload symbol not yet decoded (coded) or equalised (analog)
    scan: int  # first position not yet checked for a preamble that would cut this frame short
    payload: np.ndarray  # decoded bytes (coded) or equalised symbols (analog), filled as they arrive
    resume: int  # where the search resumes after this frame (earlier than its end - P + 1 for a weak
    # candidate whose header would end past the frame: the search decodes that header then)
    filled: int = 0  # bytes of ``payload`` filled (coded)
    carry: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint8))  # decoded bits not yet packed
    cut_stop: int = 0  # one past the last position searched for a preamble that cuts this frame short
    # shaped waveform: the symbol tracker, the frame's symbol count, and the tracked symbols from
    # ``next_symbol`` (a frame symbol index there) not yet decoded
    tracker: SymbolTracker | None = None
    count: int = 0
    held: np.ndarray = field(default_factory=lambda: np.zeros(0, np.complex128))


# a candidate preamble inside a payload cuts the frame when its header decodes, or without a header when
# its metric exceeds STRONG_EXPONENT / P: noise or scrambled data reach a metric m with probability about
# exp(-m P) per position (9e-14 here), a real preamble's metric is about SINR / (1 + SINR)
STRONG_EXPONENT = 30.0
DEFAULT_THRESHOLD = 0.08  # unshaped: noise reaches a metric m with probability exp(-m P) = 1e-9 per position
FALSE_ALARM = 1e-9  # shaped: the default threshold is the metric noise exceeds with this probability
SEARCH_SEGMENT = 1 << 14  # metric positions per correlation call (bounds the work and memory of one step)
DECODE_BATCH = 64  # payload codewords decoded per call (bounds the LLR arrays)


class FrameReceiver(UsesServiceProcess):
    """Streaming frame receiver: detection, header, payload, in that order, each its own stage.

    Feed it chunks with :meth:`push`; it returns the frames (and failures) completed by that chunk, the
    same whatever the chunking. Stages:

    - detection (:meth:`_find_preamble`, :meth:`_metric`): the normalised preamble correlation
      ``|sum y p*|^2 / (P sum |y|^2)``, which depends on the SINR only, never on the signal's level;
      the peak within ``P`` samples of the first crossing of ``threshold`` is the frame start.
    - header (:meth:`_header`): gain and noise-plus-interference power from the preamble, exact QPSK
      LLRs, polar list decoding, CRC-32, then :meth:`FrameLimits.reject_reason`: a header no transmitter
      of this link sends is a failure. After a failure the search resumes one sample after that preamble
      start.
    - payload (:meth:`_payload`): codewords are decoded as their samples arrive (analog symbols are
      equalised), so only the decoded bytes are held, never the payload's samples; meanwhile the frame,
      from the end of its preamble on, is searched for a preamble lying wholly inside it
      (:meth:`_cut_by_next_frame`). One whose header decodes, or whose metric is strong
      (``>= 30 / P``), means this frame was cut short: it is reported as ``truncated`` and the new frame
      is decoded. It never waits for samples past the frame's end. A preamble straddling the end of a
      frame (cut in its last ``P - 1`` symbols) is found by the search, which resumes ``P - 1`` samples
      before each end; that frame itself is then returned as it decoded (best effort).

    Memory is bounded: between pushes the receiver keeps fewer than :attr:`max_kept_samples`
    ``= max(L, 2P + H)`` samples (1536 with the default format), plus the pending frame's decoded
    payload (at most ``limits.max_payload_bytes``); during a push, that plus the push. Each push costs
    time proportional to its own length (no copy of older samples beyond that bound).

    With a shaped waveform (``waveform.sps > 1``, :mod:`gnuradio.issc.link.waveform`) the samples are
    ``sps`` per symbol and the stages work on the matched-filter output: detection is the synchroniser's
    carrier-tolerant metric (segments of ``Ls`` symbols combined non-coherently, about ``1 / Ls`` on
    noise; :meth:`FrameSynchroniser.direct_metric`, computed directly so it is chunking-exact); the
    header comes from the synchroniser's acquisition (timing, CFO, gain, noise) on a window around the
    metric's peak and its tracked symbols; the payload from a :class:`SymbolTracker` (timing and carrier
    phase across the frame, one timing block of samples held at a time) with the preamble and the
    re-encoded header as known symbols, decoded codeword by codeword as the tracked symbols come out.
    Positions (``start``, the search) are sample indices; a failed header moves the search ``sps``
    samples past its peak (the neighbouring samples of a shaped peak also cross the threshold). The
    bound on the samples kept is then about ``(2P + H) sps`` plus the filters (:attr:`max_kept_samples`),
    plus the tracker's few arrays of symbols. ``sps = 1`` is the receiver above, unchanged.

    Args:
        fmt: the frame format.
        threshold: detection threshold of the normalised preamble correlation (0..1). The metric is
            about ``SINR / (1 + SINR)`` at the true start and ``1/P`` on noise (shaped: ``1 / Ls``).
            None: 0.08 unshaped (about ``exp(-20)`` false alarms per position); shaped, the metric that
            noise exceeds with probability ``1e-9`` per position (0.21 with the defaults).
        max_payload_bytes: overrides ``limits.max_payload_bytes`` (None: keep it).
        max_sinr_db: cap of the SINR estimate (bounds the LLRs of a noise-free link).
        limits: what a header may announce (:class:`FrameLimits`; None: the defaults).
        waveform: the pulse shape (None: unshaped, one sample per symbol).
        max_cfo: shaped: the largest carrier offset searched, cycles per symbol.
        max_ppm: shaped: the largest sample-rate offset expected, ppm.
        user: the user whose frames this receiver decodes (0-255; 0: the single-user link): it searches
            for that user's preamble and refuses a header of another user (``reason`` 'user N').
    """

    def __init__(
        self,
        fmt: FrameFormat,
        threshold: float | None = None,
        max_payload_bytes: int | None = None,
        max_sinr_db: float = 60.0,
        limits: FrameLimits | None = None,
        waveform: Waveform | None = None,
        max_cfo: float = 0.02,
        max_ppm: float = 200.0,
        user: int = 0,
    ):
        waveform = Waveform() if waveform is None else waveform
        if not isinstance(waveform, Waveform):
            raise IsscInputError(f"waveform must be a Waveform, got {type(waveform).__name__}")
        self.waveform = waveform
        user_crc_mask(user)  # the range check
        self.user = int(user)
        self._scrambler = scrambler_start(self.user)
        self.sync = FrameSynchroniser(waveform, preamble(fmt.preamble_length, self.user), max_cfo, max_ppm)
        if threshold is None:
            threshold = DEFAULT_THRESHOLD if not waveform.shaped else self.sync.noise_metric_quantile(FALSE_ALARM)
        if not (isinstance(threshold, (int, float, np.integer, np.floating)) and 0.0 < threshold < 1.0):
            raise IsscInputError(f"detection threshold must be in (0, 1), got {threshold!r}")
        if not (isinstance(max_sinr_db, (int, float, np.integer, np.floating)) and 0 < max_sinr_db <= 200):
            raise IsscInputError(f"max_sinr_db must be in (0, 200], got {max_sinr_db!r}")
        limits = limits if limits is not None else FrameLimits()
        if max_payload_bytes is not None:
            limits = dataclasses.replace(limits, max_payload_bytes=max_payload_bytes)
        self.fmt = fmt
        self.limits = limits
        self.threshold = float(threshold)
        if waveform.shaped:
            strong = self.sync.noise_metric_quantile(math.exp(-STRONG_EXPONENT))
        else:
            strong = STRONG_EXPONENT / fmt.preamble_length
        self.strong_threshold = max(self.threshold, strong)
        self._sps = waveform.sps
        p, h = fmt.preamble_length, fmt.header_symbols
        if waveform.shaped:
            gd, taps = waveform.group_delay, self.sync.interp_half_taps
            _, self._tail = self.sync.metric_span()  # a position's metric reads up to tail - 1 after it
            # the acquisition window starts this far before a peak: the matched filter, the interpolator
            # and a symbol either side for the fine timing
            self._lead = gd + taps + 2 * waveform.sps + 8
            drift = math.ceil((p + h - 1) * waveform.sps * (1 + max_ppm * 1e-6))
            self._header_need = 2 * self._lead + 2 + drift + gd + taps + 2
        else:
            self._tail, self._lead, self._header_need = p, 0, p + h
        self.max_sinr_db = float(max_sinr_db)
        self._preamble = preamble(fmt.preamble_length, self.user).astype(np.complex128)
        self._buffer = np.zeros(0, np.complex64)
        self._base = 0  # absolute index of _buffer[0]
        self._search = 0  # detection stage: first position not yet searched
        self._pending: _Pending | None = None
        self.frames_decoded = 0
        self.headers_failed = 0
        self.frames_lost = 0
        self.samples_pushed = 0
        self.process_decodes = 0  # polar decoder calls the child process answered

    def _new_process(self, timeout_s: float) -> PolarProcess:
        return PolarProcess(timeout_s)

    def _decode(self, code: PolarCode, llrs: np.ndarray) -> np.ndarray:
        """``code.decode(llrs)``: in the child process when there is one (a failed child is closed and the
        decoding goes on here, the failure kept in ``worker_failure``: no codeword is lost)."""
        if self.worker is not None:
            try:
                bits = self.worker.decode(code, llrs)
                self.process_decodes += 1
                return bits
            except PolarProcessError as exc:
                self._process_failed(exc)
        return code.decode(llrs)

    @property
    def max_payload_bytes(self) -> int:
        return self.limits.max_payload_bytes

    @property
    def max_kept_samples(self) -> int:
        """Bound on :attr:`samples_buffered` between pushes."""
        fmt = self.fmt
        if not self.waveform.shaped:
            return max(fmt.blocklength, 2 * fmt.preamble_length + fmt.header_symbols)
        # detection: a peak window of P sps positions, then the header's window from lead before the peak;
        # payload: one timing block of the tracker (and the cut search, bounded like detection)
        sps, taps = self._sps, self.sync.interp_half_taps
        detection = self.fmt.preamble_length * sps + self._header_need + self._lead
        tracking = math.ceil((self.sync.timing_block + 2) * sps * (1 + self.sync.max_ppm * 1e-6))
        tracking += 2 * (self.waveform.group_delay + taps + SymbolTracker.MARGIN) + 2 * sps
        return max(detection, tracking)

    @property
    def samples_buffered(self) -> int:
        return self._buffer.size

    def push(self, samples: np.ndarray) -> list[ReceivedFrame]:
        """Feed the next samples; returns the frames and failures they complete, in stream order.

        Args:
            samples: 1-D complex samples (non-finite ones count as 0).
        """
        samples = np.asarray(samples)
        if samples.ndim != 1:
            raise IsscInputError(f"samples must be a 1-D array, got shape {samples.shape}")
        try:
            samples = samples.astype(np.complex64)
        except (TypeError, ValueError) as exc:
            raise IsscInputError(f"samples must be complex numbers: {exc}") from None
        if not np.all(np.isfinite(samples)):
            samples = np.where(np.isfinite(samples), samples, 0).astype(np.complex64)
        self._buffer = np.concatenate([self._buffer, samples])  # the kept tail (bounded) and this push
        results: list[ReceivedFrame] = []
        try:
            while (step := self._step()) is not None:
                results += step
        finally:
            self.samples_pushed += samples.size
            self._keep_from(self._needed_from())
        return results

    # -- buffer ---------------------------------------------------------------------------------------------
    @property
    def _end(self) -> int:
        return self._base + self._buffer.size

    def _samples(self, start: int, stop: int) -> np.ndarray:
        return self._buffer[start - self._base : stop - self._base]

    def _padded(self, start: int, stop: int) -> np.ndarray:
        """Samples ``[start, stop)`` as complex128, zeros before the stream's first sample."""
        if start >= 0:
            return self._samples(start, stop).astype(np.complex128)
        out = np.zeros(stop - start, np.complex128)
        out[-start:] = self._samples(0, stop)
        return out

    def _needed_from(self) -> int:
        if self._pending is None:
            return self._search - self._lead
        pending = self._pending
        if pending.tracker is None:
            return min(pending.scan, pending.next_symbol, pending.resume)
        tracking = pending.tracker.needed_from()
        earliest = min(pending.scan, pending.resume) - self._lead
        return earliest if tracking is None else min(earliest, tracking)

    def _keep_from(self, position: int):
        count = min(max(0, position - self._base), self._buffer.size)
        # a copy, not a view: a view would keep the whole push alive until the next one
        self._buffer = self._buffer[count:].copy()
        self._base += count

    # -- stages ---------------------------------------------------------------------------------------------
    def _step(self) -> list[ReceivedFrame] | None:
        """One decision: the results it completes (maybe none), or None when more samples are needed."""
        if self._pending is not None:
            return self._payload()
        return self._detect()

    def _detect(self) -> list[ReceivedFrame] | None:
        """Detection stage: the next preamble from the search point and its header."""
        crossing, peak, metric = self._find_preamble(self._search, None)
        if peak is None:
            self._search = crossing
            return None
        found = self._header(peak, metric)
        if found is None:
            self._search = crossing  # the same peak is found again once the header is here
            return None
        if found.header is None:
            self.headers_failed += 1
            self._search = peak + self._sps  # past the whole correlation peak (sps samples wide)
            return [found.failure()]
        self._start_payload(found)
        return []

    def _find_preamble(self, start: int, stop: int | None) -> tuple[int, int | None, float]:
        """Search correlation positions ``[start, stop)`` (``stop`` None: no end) in the samples here.

        Returns ``(position, peak, metric)``: ``peak`` None and ``position`` the first position not
        searched when no crossing of the threshold was found; ``peak`` None and ``position`` the crossing
        when the peak (the maximum over the ``P`` positions from the crossing, and before ``stop``) needs
        samples not here yet; else the crossing, the peak and its metric.
        """
        width = self.fmt.preamble_length * self._sps  # the peak lies within a preamble's length of a crossing
        last = self._end - self._tail  # last position whose window is complete
        high = last + 1 if stop is None else min(stop, last + 1)
        position = start
        while position < high:
            segment_end = min(high, position + SEARCH_SEGMENT)
            metric = self._metric_range(position, segment_end)
            above = np.flatnonzero(metric >= self.threshold)
            if above.size == 0:
                position = segment_end
                continue
            crossing = position + int(above[0])
            peak_end = crossing + width if stop is None else min(crossing + width, stop)
            if peak_end - 1 > last:
                return crossing, None, 0.0
            window = self._metric_range(crossing, peak_end)
            best = int(np.argmax(window))
            return crossing, crossing + best, float(window[best])
        return max(position, start), None, 0.0

    def _metric_range(self, start: int, stop: int) -> np.ndarray:
        """The detection metric at positions ``[start, stop)`` (their samples must be here)."""
        if not self.waveform.shaped:
            return self._metric(self._samples(start, stop + self.fmt.preamble_length - 1))
        lead, tail = self.sync.metric_span()
        return self.sync.direct_metric(self._padded(start - lead, stop - 1 + tail))

    def _metric(self, samples: np.ndarray) -> np.ndarray:
        """Normalised correlation ``|sum y p*|^2 / (P sum |y|^2)`` at each complete window of ``samples``.

        Computed directly, window by window, in float64 (``P`` multiply-adds per sample): each value
        depends on its own window's samples only, bit for bit, so neither the signal's level (1e-38 to
        3e38 all fit), nor loud samples nearby (an FFT's rounding error scales with the loudest sample in
        it), nor the chunking can change a decision; an all-zero window has metric 0.
        """
        p = self.fmt.preamble_length
        if samples.size < p:
            return np.zeros(0)
        x = samples.astype(np.complex128)
        corr = np.correlate(x, self._preamble, "valid")  # conjugates the preamble
        energy = np.convolve(x.real**2 + x.imag**2, np.ones(p), "valid")
        with np.errstate(divide="ignore", invalid="ignore"):
            metric = (corr.real**2 + corr.imag**2) / (p * energy)
        return np.where(energy > 0, np.minimum(metric, 1.0), 0.0)

    def _header(self, start: int, metric: float) -> _Detection | None:
        """Header stage: the preamble's estimates and the header at ``start`` (None: samples not here)."""
        fmt = self.fmt
        p, h = fmt.preamble_length, fmt.header_symbols
        if self._header_end(start) > self._end:
            return None
        if self.waveform.shaped:
            return self._header_shaped(start, metric)
        received = self._samples(start, start + p).astype(np.complex128)
        gain = complex(np.vdot(self._preamble, received) / p)
        power = abs(gain) ** 2
        noise_var = float(np.mean(np.abs(received - gain * self._preamble) ** 2))
        # floors relative to the gain (the SINR cap), never absolute: the level of the signal is arbitrary
        noise_var = max(noise_var, power * 10 ** (-self.max_sinr_db / 10), np.finfo(float).tiny)
        sinr_db = float(10 * np.log10(max(power, np.finfo(float).tiny) / noise_var))
        llrs = self._llrs(self._samples(start + p, start + p + h), gain, noise_var, self._scrambler)
        bits = self._decode(fmt.header_code(), llrs)[0]
        header = FrameHeader.unpack(np.packbits(bits).tobytes())
        reason = self._reject_reason(header)
        return _Detection(start, metric, None if reason else header, reason, gain, noise_var, sinr_db)

    def _reject_reason(self, header: FrameHeader | None) -> str:
        """'' for a header this receiver takes, else why not: 'crc', another user's or a broken limit."""
        if header is None:
            return "crc"
        if header.user != self.user:
            return f"user {header.user}"
        return self.limits.reject_reason(self.fmt, header)

    def _header_end(self, peak: int) -> int:
        """One past the last sample the header stage reads for a preamble peak at ``peak``."""
        return peak - self._lead + self._header_need

    def _header_shaped(self, peak: int, metric: float) -> _Detection:
        """Header stage of a shaped waveform: the acquisition on a window around the metric's peak, the
        preamble and header symbols tracked, the header decoded from them."""
        fmt, sync = self.fmt, self.sync
        p, h = fmt.preamble_length, fmt.header_symbols
        origin = peak - self._lead
        window = self._padded(origin, self._header_end(peak))
        acquisition = sync.acquire(window, search=2 * self._lead + 1)
        symbols = sync.symbols(window, acquisition, p + h)[p:]
        gain = acquisition.gain
        power = abs(gain) ** 2
        noise_var = max(acquisition.noise_var, power * 10 ** (-self.max_sinr_db / 10), np.finfo(float).tiny)
        sinr_db = float(10 * np.log10(max(power, np.finfo(float).tiny) / noise_var))
        bits = self._decode(fmt.header_code(), self._llrs(symbols, gain, noise_var, self._scrambler))[0]
        header = FrameHeader.unpack(np.packbits(bits).tobytes())
        reason = self._reject_reason(header)
        start = origin + acquisition.start
        return _Detection(
            start, metric, None if reason else header, reason, gain, noise_var, sinr_db, acquisition, origin
        )

    @staticmethod
    def _llrs(symbols: np.ndarray, gain: complex, noise_var: float, scrambler_offset: int) -> np.ndarray:
        """Descrambled bit LLRs of ``symbols``, whose first bit is bit ``scrambler_offset`` of the
        scrambler; clipped to +-1e4 as the decoder does anyway (a garbage sample of 1e38 would overflow
        its float32 input)."""
        llrs = qpsk_llrs(symbols, gain, noise_var)
        signs = _scrambler_signs()
        llrs *= signs.take(np.arange(scrambler_offset, scrambler_offset + llrs.size) % signs.size)
        return np.clip(llrs, -1e4, 1e4, out=llrs)

    def _start_payload(self, found: _Detection):
        fmt, header = self.fmt, found.header
        first = found.start + fmt.preamble_length + fmt.header_symbols
        if header.analog:
            payload = np.zeros(header.payload_symbols, np.complex64)
        else:
            payload = np.zeros(header.payload_bytes, np.uint8)
        if self.waveform.shaped:
            self._start_payload_shaped(found, payload)
            return
        end = found.start + fmt.frame_symbols(header)
        # the search resumes P - 1 samples before the end: a frame cut in its last P - 1 symbols hides
        # the next preamble there
        # the cut search starts right after the preamble: the low-rate header code may decode a header
        # whose last symbols are already the next frame's preamble
        after = found.start + fmt.preamble_length
        cut_stop = end - fmt.preamble_length + 1
        self._pending = _Pending(found, end, first, after, payload, cut_stop, cut_stop=cut_stop)

    def _start_payload_shaped(self, found: _Detection, payload: np.ndarray):
        """The payload stage of a shaped waveform: the tracker from the frame's first symbol (the known
        preamble and header symbols steer its phase), positions in samples. The frame's end in samples
        depends on the sample-rate offset, so the cut search stops short of the nominal end by the
        largest drift (``max_ppm``); a preamble there is found by the search after the frame."""
        fmt, sps = self.fmt, self._sps
        count = fmt.frame_symbols(found.header)
        known = np.concatenate([self.sync.preamble, _header_symbols(fmt, found.header)])
        tracker = SymbolTracker(self.sync, found.acquisition, count, known, origin=found.origin)
        end = found.start + count * sps
        slack = math.ceil(count * sps * self.sync.max_ppm * 1e-6) + sps
        cut_stop = end - (fmt.preamble_length - 1) * sps - slack
        after = found.start + fmt.preamble_length * sps
        first = fmt.preamble_length + fmt.header_symbols  # a frame symbol index here
        self._pending = _Pending(
            found, end, first, after, payload, cut_stop, cut_stop=cut_stop, tracker=tracker, count=count
        )

    def _payload(self) -> list[ReceivedFrame] | None:
        """Payload stage: look for a frame that cuts this one short, decode what arrived, finish."""
        pending = self._pending
        cut = self._cut_by_next_frame(pending)
        if cut is not None:
            return cut
        self._decode_available(pending)
        last = pending.end if pending.tracker is None else pending.count
        if pending.next_symbol < last or pending.scan < self._cut_stop(pending):
            return None
        self._pending = None
        self._search = pending.resume
        self.frames_decoded += 1
        found, header = pending.found, pending.found.header
        payload, symbols = (b"", pending.payload) if header.analog else (pending.payload.tobytes(), None)
        return [
            ReceivedFrame(
                found.start, header, payload, found.sinr_db, found.gain, found.noise_var, found.metric, symbols=symbols
            )
        ]

    def _cut_stop(self, pending: _Pending) -> int:
        """One past the last position where a preamble lies wholly inside the frame."""
        return pending.cut_stop

    def _cut_by_next_frame(self, pending: _Pending) -> list[ReceivedFrame] | None:
        """The results when a preamble inside the payload window shows this frame was cut short (the frame
        is reported lost, the new frame's header taken over), else None (searched as far as possible).

        Never waits for samples past the frame's end (the last frame of a stream must come out): the
        peak search stops at the window's end, and a candidate whose header would end past the frame is
        judged on its metric alone: a strong one cuts the frame (the search then finds it again and
        decodes its header), a weak one is left to the search after the frame.
        """
        stop = self._cut_stop(pending)
        while pending.scan < stop:
            crossing, peak, metric = self._find_preamble(pending.scan, stop)
            if peak is None:
                pending.scan = crossing
                return None
            if self._header_end(peak) > pending.end:  # decided on positions, not what is here: chunk-invariant
                if metric < self.strong_threshold:
                    pending.resume = min(pending.resume, crossing)
                    pending.scan = peak + self._sps
                    continue
                self._search = crossing
                return [self._lose(pending, peak)]
            found = self._header(peak, metric)
            if found is None:
                pending.scan = crossing
                return None
            if found.header is None and metric < self.strong_threshold:
                pending.scan = peak + self._sps  # the payload's own data or noise: keep going
                continue
            results = [self._lose(pending, peak)]
            if found.header is None:
                self.headers_failed += 1
                self._search = peak + self._sps
                results.append(found.failure())
            else:
                self._start_payload(found)
            return results
        return None

    def _lose(self, pending: _Pending, cut_at: int) -> ReceivedFrame:
        """End the pending frame as lost to truncation (the caller sets what comes next)."""
        self._pending = None
        self.frames_lost += 1
        lost = pending.found
        return ReceivedFrame(
            lost.start,
            None,
            b"",
            lost.sinr_db,
            lost.gain,
            lost.noise_var,
            lost.metric,
            extra={"cut_at": cut_at},
            reason="truncated",
            lost_header=lost.header,
        )

    def _decode_available(self, pending: _Pending):
        """Decode the payload codewords (equalise the analog symbols) whose samples are all here."""
        if pending.tracker is not None:
            self._decode_tracked(pending)
            return
        fmt, found = self.fmt, pending.found
        header = found.header
        first = found.start + fmt.preamble_length + fmt.header_symbols
        here = min(self._end, pending.end)
        if header.analog:
            if here > pending.next_symbol:
                received = self._samples(pending.next_symbol, here).astype(np.complex128)
                # zero-forcing with the preamble's gain; a zero gain (never detected) gives zeros, not inf,
                # and garbage samples far above the preamble's level stay within complex64's range
                equalised = received / found.gain if found.gain != 0 else np.zeros_like(received)
                top = float(np.finfo(np.float32).max)
                equalised = np.clip(equalised.real, -top, top) + 1j * np.clip(equalised.imag, -top, top)
                pending.payload[pending.next_symbol - first : here - first] = equalised
                pending.next_symbol = here
            return
        length = fmt.blocklength
        code = fmt.payload_code(header.info_bits) if header.payload_bytes else None
        while here - pending.next_symbol >= length:
            blocks = min((here - pending.next_symbol) // length, DECODE_BATCH)
            a = pending.next_symbol
            b = a + blocks * length
            # the scrambler runs on over header and payload: the payload's bits continue after the header's
            llrs = self._llrs(
                self._samples(a, b),
                found.gain,
                found.noise_var,
                self._scrambler + 2 * fmt.header_symbols + 2 * (a - first),
            )
            self._store_bits(pending, self._decode(code, llrs).reshape(-1))
            pending.next_symbol = b

    def _decode_tracked(self, pending: _Pending):
        """Shaped waveform: run the tracker on the samples here, then decode the payload codewords (equalise
        the analog symbols) whose tracked symbols are out."""
        fmt, found = self.fmt, pending.found
        header = found.header
        tracker = pending.tracker
        tracker.advance(self._buffer, self._base)
        new = tracker.pop()
        m = fmt.preamble_length + fmt.header_symbols
        skip = max(0, m - (tracker.emitted - new.size))  # the preamble and header symbols are not payload
        held = np.concatenate([pending.held, new[skip:]])
        if header.analog:
            if held.size:
                equalised = held / found.gain if found.gain != 0 else np.zeros_like(held)
                top = float(np.finfo(np.float32).max)
                equalised = np.clip(equalised.real, -top, top) + 1j * np.clip(equalised.imag, -top, top)
                pending.payload[pending.next_symbol - m : pending.next_symbol - m + held.size] = equalised
                pending.next_symbol += held.size
            pending.held = held[:0]
            return
        length = fmt.blocklength
        code = fmt.payload_code(header.info_bits) if header.payload_bytes else None
        used = 0
        while held.size - used >= length:
            blocks = min((held.size - used) // length, DECODE_BATCH)
            a = pending.next_symbol
            llrs = self._llrs(
                held[used : used + blocks * length],
                found.gain,
                found.noise_var,
                self._scrambler + 2 * fmt.header_symbols + 2 * (a - m),
            )
            self._store_bits(pending, self._decode(code, llrs).reshape(-1))
            used += blocks * length
            pending.next_symbol = a + blocks * length
        pending.held = held[used:].copy()

    @staticmethod
    def _store_bits(pending: _Pending, bits: np.ndarray):
        """Pack decoded bits into the payload (the last codeword's zero padding is dropped)."""
        room = 8 * (pending.payload.size - pending.filled) - pending.carry.size
        bits = np.concatenate([pending.carry, bits[: max(room, 0)]])
        whole = bits.size // 8
        pending.payload[pending.filled : pending.filled + whole] = np.packbits(bits[: 8 * whole])
        pending.filled += whole
        pending.carry = bits[8 * whole :]
