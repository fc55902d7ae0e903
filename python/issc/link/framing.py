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
decoded frames (and header failures) exactly as if it had the whole stream at once.
"""

from __future__ import annotations

import functools
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import correlate

from ..errors import IsscInputError
from .polar import polar_code

HEADER_STRUCT = struct.Struct(">IBH3s3sHH")  # seq, model index, K, z bytes (u24), y bytes (u24), height, width
HEADER_BITS = 8 * (HEADER_STRUCT.size + 4)  # + CRC-32
MAX_U24 = (1 << 24) - 1


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


def scrambler_bits(length: int) -> np.ndarray:
    period = prbs(15, 14, 32767)
    return np.resize(period, length)


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


@functools.lru_cache(maxsize=8)
def preamble(length: int) -> np.ndarray:
    symbols = qpsk_map(prbs(23, 18, 2 * length, seed=0x5A5A5))
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

    ``info_bits == 0`` marks an analog payload of ``y_bytes`` complex symbols (:meth:`analog_frame`).
    """

    seq: int
    model_index: int
    info_bits: int
    z_bytes: int
    y_bytes: int
    height: int
    width: int

    @classmethod
    def analog_frame(cls, seq: int, model_index: int, symbols: int, height: int, width: int) -> FrameHeader:
        """The header of an analog frame carrying ``symbols`` complex payload symbols."""
        return cls(seq, model_index, 0, 0, symbols, height, width)

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
        body = HEADER_STRUCT.pack(
            self.seq,
            self.model_index,
            self.info_bits,
            self.z_bytes.to_bytes(3, "big"),
            self.y_bytes.to_bytes(3, "big"),
            self.height,
            self.width,
        )
        return body + struct.pack(">I", zlib.crc32(body))

    @classmethod
    def unpack(cls, data: bytes) -> FrameHeader | None:
        """The header, or None if the CRC fails."""
        body, crc = data[: HEADER_STRUCT.size], data[HEADER_STRUCT.size : HEADER_STRUCT.size + 4]
        if len(crc) != 4 or struct.unpack(">I", crc)[0] != zlib.crc32(body):
            return None
        seq, model, k, z, y, height, width = HEADER_STRUCT.unpack(body)
        return cls(seq, model, k, int.from_bytes(z, "big"), int.from_bytes(y, "big"), height, width)


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
    coded = fmt.header_code().encode(header_bits).reshape(-1) ^ scrambler_bits(2 * fmt.header_symbols)
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
    return np.concatenate([preamble(fmt.preamble_length), _header_symbols(fmt, header), symbols.astype(np.complex64)])


def build_frame(fmt: FrameFormat, header: FrameHeader, payload: bytes) -> np.ndarray:
    """The frame's complex symbols (unit power)."""
    if header.analog:
        raise IsscInputError("info_bits = 0 marks an analog frame: use build_analog_frame")
    payload = bytes(payload)
    if len(payload) != header.payload_bytes:
        raise IsscInputError(f"payload has {len(payload)} bytes, the header says {header.payload_bytes}")
    parts = [preamble(fmt.preamble_length), _header_symbols(fmt, header)]
    if payload:
        k = header.info_bits
        blocks = fmt.payload_blocks(len(payload), k)
        bits = np.zeros(blocks * k, np.uint8)
        bits[: 8 * len(payload)] = np.unpackbits(np.frombuffer(payload, np.uint8))
        coded = fmt.payload_code(k).encode(bits).reshape(-1)
        # one scrambler sequence runs over header and payload: the payload continues where the header ends
        coded ^= scrambler_bits(2 * fmt.header_symbols + coded.size)[2 * fmt.header_symbols :]
        parts.append(qpsk_map(coded))
    return np.concatenate(parts)


@dataclass
class ReceivedFrame:
    """What the receiver got: a decoded frame, or a detected preamble whose header failed (``header``
    None, ``payload`` empty). An analog frame has an empty ``payload`` and its equalised symbols in
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

    @property
    def header_ok(self) -> bool:
        return self.header is not None


class FrameReceiver:
    """Streaming frame receiver: detection, timing, channel estimate, header, payload.

    Feed it chunks with :meth:`push`; it returns the frames completed by that chunk. Memory is bounded:
    samples before the search point are dropped, and a header announcing more than ``max_payload_bytes``
    is treated as failed.

    Args:
        fmt: the frame format.
        threshold: detection threshold of the normalised preamble correlation (0..1). The metric is
            about ``SINR / (1 + SINR)`` at the true start and ``1/P`` on noise.
        max_payload_bytes: largest payload accepted (an analog payload: at most ``max_payload_bytes / 8``
            symbols, the size of its complex64 samples).
        max_sinr_db: cap of the SINR estimate (bounds the LLRs of a noise-free link).
    """

    def __init__(
        self, fmt: FrameFormat, threshold: float = 0.08, max_payload_bytes: int = 4 << 20, max_sinr_db: float = 60.0
    ):
        if not 0.0 < threshold < 1.0:
            raise IsscInputError(f"detection threshold must be in (0, 1), got {threshold!r}")
        self.fmt = fmt
        self.threshold = float(threshold)
        self.max_payload_bytes = int(max_payload_bytes)
        self.max_sinr_db = float(max_sinr_db)
        self._preamble = preamble(fmt.preamble_length).astype(np.complex128)
        self._buffer = np.zeros(0, np.complex64)
        self._base = 0  # absolute index of _buffer[0]
        self._pending = None  # (start, header, gain, noise_var, metric) while waiting for the payload
        self.frames_decoded = 0
        self.headers_failed = 0
        self.samples_pushed = 0

    @property
    def samples_buffered(self) -> int:
        return self._buffer.size

    def push(self, samples: np.ndarray) -> list[ReceivedFrame]:
        samples = np.asarray(samples, np.complex64)
        if not np.all(np.isfinite(samples)):
            samples = np.where(np.isfinite(samples), samples, 0).astype(np.complex64)
        self._buffer = np.concatenate([self._buffer, samples])
        results = []
        try:
            while True:
                result = self._step()
                if result is None:
                    return results
                if result is not _CONTINUE:
                    results.append(result)
        finally:
            self.samples_pushed += samples.size

    # -- state machine ------------------------------------------------------------------------------------
    def _drop(self, count: int):
        count = max(0, min(count, self._buffer.size))
        self._buffer = self._buffer[count:]
        self._base += count

    def _step(self):
        if self._pending is not None:
            return self._payload()
        p = self.fmt.preamble_length
        if self._buffer.size < 2 * p:
            return None
        metric = self._metric(self._buffer)
        above = np.flatnonzero(metric >= self.threshold)
        if above.size == 0:
            self._drop(metric.size)  # keep the last P-1 samples for windows that straddle the chunks
            return None
        first = int(above[0])
        if first + p > metric.size:  # the peak may lie in samples not here yet
            self._drop(first)
            return None
        peak = first + int(np.argmax(metric[first : first + p]))
        self._drop(peak)
        return self._header(float(metric[peak]))

    def _metric(self, samples: np.ndarray) -> np.ndarray:
        p = self.fmt.preamble_length
        corr = correlate(samples.astype(np.complex128), self._preamble, mode="valid", method="fft")
        energy = np.convolve(np.abs(samples.astype(np.complex128)) ** 2, np.ones(p), mode="valid")
        # an all-zero window (idle 'zeros' without noise) has energy exactly 0 and an FFT correlation of
        # rounding noise: their ratio must not count as a detection
        silent = energy <= 1e-12 * max(float(energy.max(initial=0.0)), 1e-30)
        return np.where(silent, 0.0, np.abs(corr) ** 2 / (p * np.maximum(energy, 1e-30)))

    def _header(self, metric: float):
        fmt = self.fmt
        p, h = fmt.preamble_length, fmt.header_symbols
        if self._buffer.size < p + h:
            # wait for more samples; the buffer now starts at the peak, so the next search finds it again
            return None
        received = self._buffer[:p].astype(np.complex128)
        gain = complex(np.vdot(self._preamble, received) / p)
        noise_var = float(np.mean(np.abs(received - gain * self._preamble) ** 2))
        floor = abs(gain) ** 2 * 10 ** (-self.max_sinr_db / 10)
        noise_var = max(noise_var, floor, 1e-30)
        sinr_db = float(10 * np.log10(max(abs(gain) ** 2, 1e-30) / noise_var))
        llrs = qpsk_llrs(self._buffer[p : p + h], gain, noise_var)
        llrs[scrambler_bits(llrs.size) == 1] *= -1
        bits = fmt.header_code().decode(llrs)[0]
        header = FrameHeader.unpack(np.packbits(bits).tobytes())
        if header is None or not self._acceptable(header):
            self.headers_failed += 1
            start = self._base
            self._drop(1)  # search again just after this peak
            return ReceivedFrame(start, None, b"", sinr_db, gain, noise_var, metric)
        self._pending = (self._base, header, gain, noise_var, sinr_db, metric)
        return _CONTINUE

    def _acceptable(self, header: FrameHeader) -> bool:
        if header.analog:
            return header.z_bytes == 0 and 8 * header.payload_symbols <= self.max_payload_bytes
        return header.payload_bytes <= self.max_payload_bytes and 1 <= header.info_bits <= self.fmt.max_info_bits

    def _payload(self):
        start, header, gain, noise_var, sinr_db, metric = self._pending
        fmt = self.fmt
        total = fmt.frame_symbols(header)
        if self._buffer.size < total:
            return None
        offset = fmt.preamble_length + fmt.header_symbols
        payload, symbols = b"", None
        if header.analog:
            # zero-forcing equalisation with the preamble's gain (the SINR cap floors the noise estimate, not
            # the gain: a zero gain, which detection should never let through, gives zero symbols, not inf)
            received = self._buffer[offset:total].astype(np.complex128)
            symbols = (received / gain if abs(gain) > 1e-30 else np.zeros_like(received)).astype(np.complex64)
        elif header.payload_bytes:
            llrs = qpsk_llrs(self._buffer[offset:total], gain, noise_var)
            scramble = scrambler_bits(2 * fmt.header_symbols + llrs.size)[2 * fmt.header_symbols :]
            llrs[scramble == 1] *= -1
            bits = fmt.payload_code(header.info_bits).decode(llrs).reshape(-1)
            payload = np.packbits(bits[: 8 * header.payload_bytes]).tobytes()
        self._pending = None
        self._drop(total)
        self.frames_decoded += 1
        return ReceivedFrame(start, header, payload, sinr_db, gain, noise_var, metric, symbols=symbols)


_CONTINUE = object()
