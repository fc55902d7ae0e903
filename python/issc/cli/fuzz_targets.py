# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fuzz targets: every place where bytes or messages from outside enter gr-issc, with the promise it keeps.

Each :class:`Target` takes one ``bytes`` input (so a failing input is a file anyone can replay) and
checks one promise of docs/reliability.md: bad input is refused with the documented error
(:class:`~gnuradio.issc.errors.IsscInputError` and its subclasses, or a logged and dropped message),
corrupted streams decode best effort to an image of the announced shape with finite pixels, receivers
stay bounded in memory, nothing is lost silently. A target returns a short outcome label (the runner
keeps inputs with new labels as seeds); anything else it raises is a failure.

Structured targets (messages, scenarios, command lines) read their input with :class:`Draw`, a
byte-driven chooser like libFuzzer's FuzzedDataProvider: the same bytes always build the same message,
and a mutated byte changes one choice. The targets are used by ``issc fuzz`` (the long runs) and by the
hypothesis tests in tests/fuzz/.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import os
import struct
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import IsscInputError, ScenarioError


class FuzzFailure(AssertionError):
    """A promise broken by an input (the message says which)."""


def expect(condition, message: str) -> None:
    if not condition:
        raise FuzzFailure(message)


@dataclass
class Target:
    """One fuzz target.

    Args:
        name: the ``issc fuzz`` name.
        doc: the promise it checks, one line.
        seeds: ``() -> list[bytes]``: real inputs (shipped bitstreams, real frames) to mutate.
        check: ``bytes -> str``: runs one input, returns an outcome label, raises on a broken promise.
        max_len: inputs longer than this are cut by the mutator (bounds the time per input).
    """

    name: str
    doc: str
    seeds: Callable[[], list]
    check: Callable[[bytes], str]
    max_len: int = 4096


# -- the byte-driven chooser --------------------------------------------------------------------------------
INTERESTING_INTS = (0, 1, 2, 7, 8, 15, 16, 63, 64, 127, 128, 255, 256, 4095, 4096, 65535, 65536, 2**24 - 1,
                    2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**62, -1, -2, -(2**31), -(2**63))  # fmt: skip
INTERESTING_FLOATS = (0.0, -0.0, 1.0, -1.0, 0.5, 1e-300, 5e-324, 1e300, 1.7976931348623157e308, -1e308,
                      math.inf, -math.inf, math.nan, 1e-30, 1e30, 3.0, 60.0)  # fmt: skip


class Draw:
    """Choices read from the bytes of one input; once they run out every choice is the first option."""

    def __init__(self, data: bytes):
        self.data = bytes(data)
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def int(self, lo: int, hi: int) -> int:
        """An integer in ``[lo, hi]`` from as many bytes as the range needs."""
        span = hi - lo
        if span <= 0:
            return lo
        value, need = 0, 0
        while (1 << (8 * need)) <= span:
            value = (value << 8) | self.byte()
            need += 1
        return lo + value % (span + 1)

    def bool(self) -> bool:
        return bool(self.byte() & 1)

    def choice(self, options):
        return options[self.int(0, len(options) - 1)]

    def bytes(self, count: int) -> bytes:
        out = self.data[self.pos : self.pos + count]
        self.pos += len(out)
        return out

    def rest(self) -> bytes:
        return self.bytes(len(self.data) - self.pos)

    def integer(self) -> int:
        """An integer that is often a boundary value."""
        if self.bool():
            return self.choice(INTERESTING_INTS)
        return self.int(-4, 300)

    def real(self) -> float:
        """A float that is often special (NaN, inf, subnormal, huge)."""
        kind = self.int(0, 3)
        if kind == 0:
            return self.choice(INTERESTING_FLOATS)
        if kind == 1:
            return struct.unpack(">d", self.bytes(8).ljust(8, b"\0"))[0]
        return self.int(-1000, 1000) / 8.0

    def text(self, max_len: int = 24) -> str:
        n = self.int(0, max_len)
        return self.bytes(n).decode("latin-1")


def _scaled(x: np.ndarray, scale: float) -> np.ndarray:
    with np.errstate(all="ignore"):
        return (x * scale).astype(np.complex64)


# -- air frames ---------------------------------------------------------------------------------------------
def _header_seeds() -> list:
    from ..link.framing import FrameHeader

    headers = [
        FrameHeader(0, 0, 128, 20, 60, 32, 48),
        FrameHeader(7, 3, 511, 1, 2, 256, 256),
        FrameHeader.analog_frame(2, 1, 768, 64, 64),
        FrameHeader(2**32 - 1, 255, 65535, 2**24 - 1, 2**24 - 1, 65535, 65535),
    ]
    return [h.pack() for h in headers]


def check_header(data: bytes) -> str:
    """FrameHeader.unpack: any bytes give a header or None, never an exception; a header that unpacks
    packs back to the same bytes; the same bytes with their CRC fixed always unpack."""
    from ..link.framing import HEADER_STRUCT, FrameHeader

    header = FrameHeader.unpack(data)
    size = HEADER_STRUCT.size
    if header is not None:
        expect(header.pack() == data[: size + 4], f"{header} does not pack back to its bytes")
    body = data[:size].ljust(size, b"\0")
    fixed = FrameHeader.unpack(body + struct.pack(">I", zlib.crc32(body)))
    expect(fixed is not None, "a body with its own CRC-32 must unpack")
    expect(fixed.pack()[:size] == body, "a header with its CRC fixed does not pack back")
    return "crc-ok" if header is not None else "crc-failed"


@functools.cache
def _small_format():
    from ..link.framing import FrameFormat

    # the shipped frame shrunk 8x (same code paths, about 10x faster per input)
    return FrameFormat(blocklength=32, preamble_length=64, header_symbols=128, list_size=2)


def _receiver_stream(d: Draw, fmt, max_payload: int):
    """The samples a fuzzed receiver gets: up to 5 segments of noise, real frames (any header fields,
    any scale), truncated frames, raw bytes as samples (NaN and inf included) and silence."""
    from ..link import framing
    from ..link.framing import FrameHeader, build_analog_frame, build_frame

    rng = np.random.default_rng(d.int(0, 2**16))
    parts = []
    for _ in range(d.int(1, 5)):
        kind = d.int(0, 9)
        scale = d.choice((1.0, 1.0, 1e-3, 1e3, 1e-20, 1e20, 1e-38, 3e38, 0.0))
        if kind == 0:
            n = d.int(0, 3000)
            parts.append(_scaled(rng.normal(size=n) + 1j * rng.normal(size=n), scale / math.sqrt(2)))
        elif kind in (1, 2, 3, 7, 8):  # a real frame, maybe with a hostile header, maybe cut short
            k = d.choice((1, 7, 32, fmt.max_info_bits, fmt.max_info_bits + 1, 0, 65535))
            z, y = d.int(0, 40), d.int(0, 80)
            if d.int(0, 3) == 3:
                z, y = d.choice((z, 2**24 - 1, max_payload)), d.choice((y, 2**24 - 1, max_payload + 1))
            if k == 0:
                z = d.choice((0, 0, z))
            side = d.choice((d.int(1, 70), d.int(1, 70), 0, 65535))
            header = FrameHeader(d.int(0, 2**32 - 1), d.int(0, 255), k, z, y, side, d.choice((side, 48, 0)))
            noise = d.choice((0.0, 0.0, 0.01, 0.1, 0.3, 1.0))
            if k == 0 and z == 0 and y <= 4 * max_payload:
                frame = build_analog_frame(fmt, header, rng.normal(size=y) + 1j * rng.normal(size=y))
            elif 1 <= k <= fmt.max_info_bits and fmt.frame_symbols(header) <= 40_000:
                frame = build_frame(fmt, header, rng.integers(0, 256, header.payload_bytes, np.uint8).tobytes())
            else:  # what no transmitter sends: preamble and header only, then noise
                head = framing._header_symbols(fmt, header)
                frame = np.concatenate([framing.preamble(fmt.preamble_length), head])
            if kind == 3:
                frame = frame[: d.int(0, frame.size)]
            n = frame.size
            frame = frame * np.exp(1j * d.int(0, 63) / 10) + noise * (rng.normal(size=n) + 1j * rng.normal(size=n))
            parts.append(_scaled(frame, scale))
        elif kind == 4:  # raw bytes as complex64 samples: NaN, inf and denormals included
            raw = d.bytes(8 * d.int(0, 256))
            parts.append(np.frombuffer(raw[: len(raw) // 8 * 8], np.complex64).copy())
        elif kind == 5:
            parts.append(np.zeros(d.int(0, 2000), np.complex64))
        elif kind == 6:
            parts.append(np.full(d.int(0, 500), d.choice((np.nan, np.inf, 1e30, -3e38)), np.complex64))
        else:  # a lone preamble
            parts.append(_scaled(framing.preamble(fmt.preamble_length), scale))
    return np.concatenate(parts) if parts else np.zeros(0, np.complex64)


def check_receiver(data: bytes) -> str:
    """FrameReceiver.push: any samples in any chunks give frames or header failures, never an exception;
    every reported number is finite, a decoded frame has the payload its header announces, the samples
    it holds between pushes stay within its bound, and the frames do not depend on the chunking (the
    stream pushed whole gives the same frames)."""
    from ..link.framing import FrameFormat, FrameHeader, FrameReceiver, ReceivedFrame

    d = Draw(data)
    fmt = _small_format() if d.int(0, 3) else FrameFormat()
    max_payload = d.choice((64, 300, 1024))
    # the default threshold's false-alarm rate (about exp(-0.08 P) per sample) at this preamble length:
    # a lower one decodes a header at nearly every noise sample, which costs time, not correctness
    usual = min(0.5, 0.08 * 256 / fmt.preamble_length)
    threshold = d.choice((usual, usual, 0.3, 0.05, 0.9))
    receiver = FrameReceiver(fmt, threshold=threshold, max_payload_bytes=max_payload)
    whole = FrameReceiver(fmt, threshold=threshold, max_payload_bytes=max_payload)
    stream = _receiver_stream(d, fmt, max_payload)
    longest = max(
        fmt.frame_symbols(FrameHeader(0, 0, 1, 0, max_payload, 1, 1)),
        fmt.frame_symbols(FrameHeader.analog_frame(0, 0, max_payload // 8, 1, 1)),
    )
    bound = getattr(receiver, "max_kept_samples", longest + 2 * fmt.preamble_length)
    chunk = max(1, d.choice((stream.size + 1, 4096, 1000, 333, 64)), stream.size // 40)
    labels, frames = set(), []
    for start in range(0, max(stream.size, 1), chunk):
        for frame in receiver.push(stream[start : start + chunk]):
            frames.append(frame)
            expect(isinstance(frame, ReceivedFrame), f"push returned {type(frame).__name__}")
            numbers = (frame.sinr_db, frame.noise_var, frame.detection_metric, frame.gain.real, frame.gain.imag)
            expect(all(math.isfinite(x) for x in numbers), f"non-finite numbers in a received frame: {frame}")
            if frame.header is None:
                labels.add("header-failed")
                expect(frame.payload == b"", "a failed header came with a payload")
            elif frame.header.analog:
                labels.add("analog")
                symbols = frame.symbols
                expect(symbols is not None and symbols.size == frame.header.payload_symbols, "analog size")
                expect(bool(np.all(np.isfinite(symbols))), "non-finite equalised symbols")
            else:
                labels.add("digital")
                expect(len(frame.payload) == frame.header.payload_bytes, "payload size differs from its header")
        expect(receiver.samples_buffered <= bound, f"receiver holds {receiver.samples_buffered} > {bound} samples")
    if chunk <= stream.size:

        def key(f):
            return (f.start, f.header, f.payload, getattr(f, "reason", ""))

        expected = [key(f) for f in whole.push(stream)]
        expect([key(f) for f in frames] == expected, f"chunks of {chunk} give other frames than one push")
    return "+".join(sorted(labels)) or "nothing"


def _receiver_seeds() -> list:
    # Draw bytes: format (1: small), payload cap, threshold, rng seed (3 bytes), segments, then segment bytes
    frame = bytes([2, 0, 9, 0, 0, 0, 3, 0, 1])
    real = bytes([1, 0]) + bytes([1, 2, 3, 0, 5, 0, 3, 0, 2, 9, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 1])
    return [
        bytes([1, 0, 0, 0, 0, 0, 1, 0, 0, 11, 184]),  # noise only
        frame + real,
        bytes([1, 0, 0, 0, 0, 0, 3, 6, 0, 0, 0, 0, 4, 5, 2, 0, 5, 7, 7, 7]),
        bytes([0, 1, 1, 0, 0, 1, 2, 3, 3, 5, 1, 2, 0, 9, 0, 7, 7, 5, 0, 10]),
        bytes([3, 2, 0, 1, 2, 3, 4, 1, 4, 0, 30]) + bytes(range(240)),
    ]


# -- codec containers and bitstreams ---------------------------------------------------------------------
@functools.cache
def _codec():
    from ..codec.codec import SemanticCodec, limit_torch_threads

    limit_torch_threads(1)
    return SemanticCodec.load(lazy=True)


@functools.cache
def real_bitstreams() -> tuple:
    """Containers of crops of the shipped held-out images, coded by the smallest and largest shipped
    models (real entropy-coded strings, small enough to decode in about 10 ms)."""
    from ..codec.images import load_rgb, shipped_images

    codec = _codec()
    paths = shipped_images()
    crops = [load_rgb(paths[0])[:32, :48], load_rgb(paths[4])[40:64, 8:72]]
    models = (codec.model_ids[0], codec.model_ids[-1])
    return tuple(codec.encode(crop, model) for crop in crops for model in models)


def check_container(data: bytes) -> str:
    """codec.container.unpack: CodecFormatError or a header and payload that pack back to the same bytes."""
    from ..codec.container import CodecFormatError, pack, unpack

    try:
        header, payload = unpack(data)
    except CodecFormatError as exc:
        return "refused:" + str(exc).split(" ")[0]
    expect(pack(header, payload) == bytes(data), "an unpacked container does not pack back to its bytes")
    return "ok"


MAX_DECODED_PIXELS = 256 * 256  # the codec target decodes shapes up to this (larger ones cost seconds each)


def _check_image(image, height: int, width: int, what: str) -> None:
    expect(isinstance(image, np.ndarray), f"{what}: not an array")
    expect(image.shape == (height, width, 3), f"{what}: shape {image.shape}, expected {(height, width, 3)}")
    expect(bool(np.all(np.isfinite(image))), f"{what}: non-finite pixels")
    expect(float(image.min(initial=0)) >= 0 and float(image.max(initial=0)) <= 1, f"{what}: pixels outside [0, 1]")


def check_codec(data: bytes) -> str:
    """The full decode of a mutated real bitstream: a best-effort image of the announced shape with
    finite pixels in [0, 1], or CodecFormatError for a malformed container.

    Input: byte 0 picks the mode; byte 1 the real bitstream; the rest is the container (mode 0:
    ``codec.decode(rest)``, as ``issc codec decode`` reads a file) or the payload under the real
    header (mode 1: ``decode_parts``, as the link's semantic decoder gets it: header protected,
    payload with bit errors, truncated or too long). Mode 2 also moves the z/y split.
    """
    from ..codec.container import CodecFormatError, ContainerHeader, unpack

    d = Draw(data)
    mode, index = d.int(0, 2), d.byte()
    codec = _codec()
    if mode == 0:
        rest = d.rest()
        try:
            header, _ = unpack(rest)
        except CodecFormatError:
            return "refused"
        if header.height * header.width > MAX_DECODED_PIXELS:
            return "large-shape-skipped"
        try:
            image = codec.decode(rest)
        except CodecFormatError:
            return "refused-model"
        _check_image(image, header.height, header.width, "decode")
        return "decoded"
    streams = real_bitstreams()
    header, _ = unpack(streams[index % len(streams)])
    if mode == 2:
        total = header.payload_bytes
        z = d.int(0, total)
        header = ContainerHeader(header.model, header.height, header.width, z, total - z)
    payload = d.rest()
    image = codec.decode_parts(header, payload)
    _check_image(image, header.height, header.width, "decode_parts")
    return "parts-" + ("short" if len(payload) < header.payload_bytes else "full")


def _codec_seeds() -> list:
    from ..codec.container import unpack

    seeds = []
    for i, stream in enumerate(real_bitstreams()):
        seeds.append(bytes([0, i]) + stream)
        seeds.append(bytes([1, i]) + unpack(stream)[1])
    return seeds


# -- standard codecs (HEVC intra, JPEG) ----------------------------------------------------------------
STANDARD_MODELS = ("hevc-q10", "jpeg-q30")


@functools.cache
def _family():
    from ..codec.standard import FamilyCodec

    return FamilyCodec(_codec(), STANDARD_MODELS)


@functools.cache
def real_standard_payloads() -> tuple:
    """``(header, payload)`` of crops of the shipped held-out images coded by an HEVC and a JPEG operating
    point (the coded data the link sends; each decodes in about a millisecond)."""
    from ..codec.images import load_rgb, shipped_images

    paths = shipped_images()
    crops = [load_rgb(paths[0])[:32, :48], load_rgb(paths[4])[40:64, 8:72]]
    family = _family()
    return tuple(family.encode_parts(crop, model) for crop in crops for model in STANDARD_MODELS)


def check_standard(data: bytes) -> str:
    """The decode of a mutated real HEVC or JPEG payload: a best-effort image of the announced shape with
    finite pixels in [0, 1] (the decoder's own picture, or mid-grey where libde265 or Pillow refuse it),
    or CodecFormatError for a malformed container.

    Input: byte 0 picks the mode; byte 1 the real payload; the rest is the container (mode 0:
    ``FamilyCodec.decode``, as ``issc codec decode`` reads a file) or the payload under the real header
    (mode 1: ``decode_parts``, as the link's data-user decoder gets it). Mode 2 also announces another
    shape (up to 64 x 64) for the real payload.
    """
    from ..codec.container import CodecFormatError, ContainerHeader
    from ..codec.standard import unpack_standard

    d = Draw(data)
    mode, index = d.int(0, 2), d.byte()
    family = _family()
    if mode == 0:
        rest = d.rest()
        try:
            header, _ = unpack_standard(rest)
        except CodecFormatError:
            return "refused"
        if header.height * header.width > MAX_DECODED_PIXELS:
            return "large-shape-skipped"
        try:
            image = family.decode(rest)
        except CodecFormatError:
            return "refused-model"
        _check_image(image, header.height, header.width, "decode")
        return "decoded"
    header, _ = real_standard_payloads()[index % len(real_standard_payloads())]
    if mode == 2:
        header = ContainerHeader(header.model, d.int(1, 64), d.int(1, 64), 0, header.payload_bytes)
    payload = d.rest()
    try:
        image = family.decode_parts(header, payload)
    except CodecFormatError:
        return "refused-parts"  # e.g. fewer payload bytes than the shape needs (checked before decoding)
    _check_image(image, header.height, header.width, "decode_parts")
    return "parts-" + ("short" if len(payload) < header.payload_bytes else "full")


def _standard_seeds() -> list:
    from ..codec.container import pack

    seeds = []
    for i, (header, payload) in enumerate(real_standard_payloads()):
        seeds.append(bytes([0, i]) + pack(header, payload))
        seeds.append(bytes([1, i]) + payload)
    return seeds


# -- GNU Radio blocks: message handlers ----------------------------------------------------------------
class _Recorder:
    """Stands in for a block's logger: keeps the warnings."""

    def __init__(self):
        self.messages = []

    def warn(self, message):
        self.messages.append(str(message))

    warning = warn
    error = warn
    info = debug = lambda self, message: None  # noqa: E731


@dataclass
class Harness:
    """A block under test: its handlers called directly (no flowgraph), its log and outputs recorded."""

    block: object
    log: _Recorder
    published: list

    @classmethod
    def wrap(cls, block) -> Harness:
        log = _Recorder()
        block.logger = log  # direct logger calls too
        block._log.logger = log
        block._log.interval_s = 0.0  # every warning recorded, none rate-limited away
        published = []
        block.message_port_pub = lambda port, msg: published.append((_port_name(port), msg))
        return cls(block, log, published)

    def handle(self, port: str, msg) -> tuple[list, list]:
        """Call the port's registered handler; the (warnings, messages published) it caused."""
        self.log.messages.clear()
        self.published.clear()  # kept only for this call: a long run must not hold every output
        getattr(self.block, f"_handle_{port}")(msg)
        return list(self.log.messages), list(self.published)

    @property
    def ports(self) -> list:
        return sorted(name.removeprefix("_handle_") for name in dir(self.block) if name.startswith("_handle_"))


def _port_name(port) -> str:
    import pmt

    return pmt.symbol_to_string(port) if pmt.is_symbol(port) else str(port)


BLOCKS_WITH_MESSAGE_INPUTS = (
    "controller",
    "djscc_decoder",
    "djscc_encoder",
    "frame_encoder",
    "image_source",
    "link_monitor",
    "semantic_decoder",
    "semantic_encoder",
    "sensing_estimator",
)


@functools.cache
def harness(name: str) -> Harness:
    """The block ``name`` built once with its defaults (shipped models), wrapped for fuzzing."""
    import importlib

    from gnuradio import gr

    factory = getattr(importlib.import_module(f"{__package__.rpartition('.')[0]}.blocks.{name}"), name)
    logging = gr.logging()
    level = logging.default_level()
    logging.set_default_level(gr.log_levels.off)  # what a constructor logs would go to stdout, amid the JSON
    try:
        block = factory(count=0) if name == "image_source" else factory()
    finally:
        logging.set_default_level(level)
    return Harness.wrap(block)


def valid_config(model: str = "hp1", info_bits: int = 128, n_tx: int = 4, seq: int = -1):
    from ..link.config import LinkConfig

    rate = info_bits / 256
    return LinkConfig(model, rate, info_bits, np.ones(n_tx) / 2, np.full((n_tx, 1), 0.1 + 0.2j), seq)


FIELD_NAMES = ("seq", "height", "width", "model_index", "z_bytes", "y_bytes", "config", "header_ok", "sinr_db",
               "model", "name", "error_m", "ok", "true_x", "true_y", "hcrb_trace_true", "block", "t_s", "x", "y",
               "vx", "vy", "lost", "misses", "symbols", "abr", "code_rate", "info_bits", "w_c", "w_0",
               "sensing_streams", "predicted", "hcrb_trace")  # fmt: skip


def draw_pmt(d: Draw, depth: int = 0):
    """Any PMT: scalars with boundary values, symbols, vectors of every type, dicts, pairs, tuples."""
    import pmt

    kind = d.int(0, 15 if depth < 3 else 8)
    if kind == 0:
        return pmt.PMT_NIL
    if kind == 1:
        return pmt.from_bool(d.bool())
    if kind == 2:
        return pmt.from_long(max(-(2**63), min(2**63 - 1, d.integer())))
    if kind == 3:
        return pmt.from_double(d.real())
    if kind == 4:
        return pmt.intern(d.choice(("hp1", "ae-abr16-snr0", "", "x" * 300, *FIELD_NAMES[:4])) if d.bool() else d.text())
    if kind == 5:
        n = d.choice((0, 1, 3, 768, d.int(0, 64)))
        return pmt.init_u8vector(n, list(d.bytes(n).ljust(n, b"\0")))
    if kind == 6:
        n = d.choice((0, 1, 4, 768, d.int(0, 64)))
        values = [complex(d.real(), d.real()) if d.int(0, 7) == 0 else complex(1, -1) for _ in range(min(n, 8))]
        values = (values * (n // max(len(values), 1) + 1))[:n]
        return pmt.init_c32vector(n, values)
    if kind == 7:
        n = d.int(0, 8)
        return d.choice((pmt.init_f32vector, pmt.init_s32vector, pmt.init_c64vector, pmt.init_f64vector))(n, [0] * n)
    if kind == 8:
        return pmt.from_complex(complex(d.real(), d.real()))
    if kind in (9, 10, 11):
        return draw_meta(d, depth + 1)
    if kind == 12:
        return pmt.cons(draw_pmt(d, depth + 1), draw_pmt(d, depth + 1))
    if kind == 13:
        return pmt.make_tuple(*(draw_pmt(d, depth + 1) for _ in range(d.int(0, 3))))
    if kind == 14:
        v = pmt.make_vector(d.int(0, 3), pmt.PMT_NIL)
        return v
    config = valid_config(d.choice(("hp1", "hp8", "ae-abr16-snr0", "nope")), d.choice((128, 0, 511, 1)))
    if config.info_bits == 0:
        config.code_rate = 0.0
    value = config.to_pmt()
    for _ in range(d.int(0, 2)):  # a real configuration with a field replaced
        value = pmt.dict_add(value, pmt.intern(d.choice(FIELD_NAMES[25:])), draw_pmt(d, depth + 1))
    return value


def draw_meta(d: Draw, depth: int = 0):
    """A PMT dict with PDU field names (and odd keys) holding anything."""
    import pmt

    meta = pmt.make_dict()
    for _ in range(d.int(0, 6)):
        key = pmt.intern(d.choice(FIELD_NAMES)) if d.int(0, 7) else draw_pmt(d, 3)
        with contextlib.suppress(ValueError):
            meta = pmt.dict_add(meta, key, draw_pmt(d, depth + 1))
    return meta


def valid_messages(name: str, port: str) -> list:
    """Messages the port accepts (the starting points of the structured mutations)."""
    from ..link.pdus import dict_to_meta, image_to_pdu, make_pdu, make_symbol_pdu

    rng = np.random.default_rng(0)
    image = (rng.random((16, 24, 3)) * 255).astype(np.uint8)
    bits = make_pdu({"seq": 1, "model_index": 0, "height": 16, "width": 24, "z_bytes": 3, "y_bytes": 5}, bytes(8))
    if name == "frame_encoder":
        meta = {"seq": 1, "model_index": 0, "height": 16, "width": 24, "z_bytes": 3, "y_bytes": 5}
        return [make_pdu({**meta, "config": valid_config().to_pmt()}, bytes(8))]
    if name == "semantic_decoder":
        streams = real_bitstreams()
        from ..codec.container import unpack

        header, payload = unpack(streams[0])
        meta = {"seq": 3, "model_index": 0, "height": header.height, "width": header.width}
        meta.update({"z_bytes": header.z_bytes, "y_bytes": header.y_bytes, "header_ok": True, "sinr_db": 12.0})
        return [make_pdu(meta, payload)]
    if name == "djscc_decoder":
        from ..djscc.models import symbols_for_image

        family = harness("djscc_decoder").block.family
        n = symbols_for_image(64, 64, family.models[0].channels)
        return [make_symbol_pdu({"seq": 2, "model_index": 0, "height": 64, "width": 64}, np.ones(n))]
    if name in ("semantic_encoder", "djscc_encoder"):
        analog = name == "djscc_encoder"
        config = valid_config("ae-abr16-snr0" if analog else "hp1", 0 if analog else 128)
        if analog:
            config.code_rate = 0.0
            image = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
        if port == "config":
            return [config.to_pmt()]
        return [image_to_pdu(4, image, config=config.to_pmt()), image_to_pdu(5, image)]
    if name == "link_monitor":
        return {
            "sent_image": [image_to_pdu(6, image)],
            "received_image": [image_to_pdu(6, image)],
            "sent_bits": [make_pdu({"seq": 6, "config": valid_config().to_pmt()}, bytes(8))],
            "received_bits": [bits],
            "header_failed": [pmt_nil()],
            "sensing": [dict_to_meta({"seq": 6, "error_m": 1.5, "ok": True})],
        }[port]
    if name == "controller":
        return [dict_to_meta({"seq": 0, "block": 3, "x": 1.0, "y": 2.0})]
    if name == "sensing_estimator":
        return [dict_to_meta({"t_s": 0.0, "x": 100.0, "y": 50.0, "vx": 0.0, "vy": 0.0})]
    return [pmt_nil()]


def pmt_nil():
    import pmt

    return pmt.PMT_NIL


def draw_message(d: Draw, name: str, port: str):
    """A message for ``name``'s ``port``: any PMT, a PDU-shaped pair, or one of the port's valid
    messages with its metadata or payload replaced."""
    import pmt

    kind = d.int(0, 5)
    if kind == 0:
        return draw_pmt(d)
    if kind == 1:
        return pmt.cons(draw_meta(d), draw_pmt(d, 2))
    msg = d.choice(valid_messages(name, port))
    if kind == 2:
        return msg
    if pmt.is_pair(msg) and pmt.is_uniform_vector(pmt.cdr(msg)):  # a PDU: (metadata . payload)
        if kind == 5:
            return pmt.cons(pmt.car(msg), draw_pmt(d, 2))
        meta = pmt.car(msg)
        for _ in range(d.int(1, 3)):
            meta = pmt.dict_add(meta, pmt.intern(d.choice(FIELD_NAMES)), draw_pmt(d, 2))
        return pmt.cons(meta, pmt.cdr(msg))
    if pmt.is_dict(msg) and not pmt.is_null(msg):
        for _ in range(d.int(1, 3)):
            msg = pmt.dict_add(msg, pmt.intern(d.choice(FIELD_NAMES)), draw_pmt(d, 2))
        return msg
    return draw_pmt(d)


def check_published(name: str, sent: list) -> None:
    """What a block publishes is well-formed: images of their announced shape, PDUs that split."""
    from ..link.pdus import meta_to_dict, pdu_to_image, split_pdu, split_symbol_pdu

    for port, msg in sent:
        if name in ("semantic_decoder", "djscc_decoder", "image_source"):
            pdu_to_image(msg)
        elif name == "semantic_encoder":
            split_pdu(msg)
        elif name == "djscc_encoder":
            _, symbols = split_symbol_pdu(msg)
            expect(bool(np.all(np.isfinite(symbols))), "non-finite symbols published")
        elif name in ("link_monitor", "controller"):
            meta_to_dict(msg)
        expect(isinstance(port, str), f"{name} published on {port!r}")


def check_block_message(data: bytes) -> str:
    """Every message handler of every block: any PMT is handled (maybe logged and dropped) without an
    exception escaping the handler; what the block publishes is well-formed; its queues stay bounded."""
    d = Draw(data)
    name = d.choice(BLOCKS_WITH_MESSAGE_INPUTS)
    h = harness(name)
    port = d.choice(h.ports)
    msg = draw_message(d, name, port)
    logged, sent = h.handle(port, msg)
    check_published(name, sent)
    block = h.block
    if name == "frame_encoder":
        expect(len(block._queue) <= block.max_queue, "frame queue over its bound")
        block._queue.clear()
    if name in ("semantic_encoder", "djscc_encoder"):
        expect(len(block._inbox._waiting) <= block._inbox.max_waiting, "waiting images over their bound")
    return f"{name}.{port}:" + ("sent" if sent else "logged" if logged else "taken")


def _block_seeds() -> list:
    seeds = []
    for i in range(len(BLOCKS_WITH_MESSAGE_INPUTS)):
        for port_index in range(6):
            for kind in (2, 3, 0):
                seeds.append(bytes([i, port_index, kind, 0, 1, 2, 3]))
    return seeds


def check_djscc(data: bytes) -> str:
    """The DJSCC decoder block's symbol PDUs: every message gives exactly one image of the announced
    shape or exactly one logged warning (nothing lost silently), never an exception."""
    import pmt

    from ..djscc.models import symbols_for_image
    from ..link.pdus import make_symbol_pdu, pdu_to_image

    d = Draw(data)
    h = harness("djscc_decoder")
    family = h.block.family
    index = d.choice((0, 1, 2, 4, 8, len(family.model_ids), -1, 2**40))
    side = d.choice((64, 64, 128, 0, 63, -64, 8192, 2**31))
    height, width = side, d.choice((side, 64, 192))
    meta = {"seq": d.choice((0, 5, -1, 2**40)), "model_index": index, "height": height, "width": width}
    for _ in range(d.int(0, 2)):  # a field of the wrong type or missing
        key = d.choice(tuple(meta))
        meta[key] = d.choice((None, 1.5, "64", True, math.nan, pmt.PMT_NIL))
    try:
        expected = symbols_for_image(height, width, family.models[index].channels)
    except (IndexError, TypeError, IsscInputError):
        expected = 768
    n = d.choice((expected, expected, expected - 1, expected + 1, 0, 1))
    n = n if 0 <= n <= 200_000 else 0
    kind = d.int(0, 4)
    if kind == 0:
        symbols = np.ones(n)
    elif kind == 1:
        rng = np.random.default_rng(d.byte())
        symbols = (rng.normal(size=n) + 1j * rng.normal(size=n)) * d.choice((1.0, 1e-30, 1e30, 3e38))
    elif kind == 2:
        symbols = np.full(n, complex(d.real(), d.real()))
    else:
        raw = d.bytes(8 * n)
        symbols = np.frombuffer(raw.ljust(8 * n, b"\0"), np.complex64)
    with np.errstate(all="ignore"):  # huge values overflow to inf in complex64: on purpose
        symbols = np.asarray(symbols).astype(np.complex64)
    msg = make_symbol_pdu(meta, symbols)
    if d.int(0, 7) == 7:
        msg = pmt.cons(draw_meta(d), pmt.cdr(msg))
    logged, sent = h.handle("in", msg)
    expect(len(logged) + len(sent) == 1, f"{len(sent)} images and {len(logged)} warnings for one PDU: {logged}")
    if sent:
        out_meta, image = pdu_to_image(sent[0][1])
        expect(image.shape[:2] == (height, width), f"image {image.shape} for a {height} x {width} PDU")
        return "decoded"
    return "dropped"


def _djscc_seeds() -> list:
    return [bytes([0, 0, 0, 0, 0, 0, 0, 0, 0, 1]), bytes([1, 0, 0, 0, 0, 0, 0, 2, 1]), bytes([0, 1, 0, 0, 0, 2])]


# -- scenario files -----------------------------------------------------------------------------------------
def draw_yaml_value(d: Draw, depth: int = 0):
    kind = d.int(0, 11 if depth < 4 else 7)
    if kind == 0:
        return None
    if kind == 1:
        return d.bool()
    if kind == 2:
        return d.integer()
    if kind == 3:
        return d.real()
    if kind == 4:
        return d.choice(("1e8", "nan", "inf", "-1", "", "qpsk", "paper", "0x10", "1_000", "yes", "~"))
    if kind == 5:
        return d.text()
    if kind == 6:
        return d.choice((10**400, -(10**30), 2**64))
    if kind == 7:
        return [d.real(), d.real()]
    if kind in (8, 9):
        return [draw_yaml_value(d, depth + 1) for _ in range(d.int(0, 4))]
    if kind == 10:
        return {d.text(8): draw_yaml_value(d, depth + 1) for _ in range(d.int(0, 3))}
    nested = d.choice(([[[[[[1]]]]]], [[0.0, 0.0]] * d.int(0, 2000), {"start": 20, "stop": 40, "step": 0.0}))
    return nested


def check_scenario(data: bytes) -> str:
    """Scenario loading: a mutated shipped scenario (as a dict, or as YAML text whose bytes are mutated too)
    gives a valid scenario that validates again to itself, or a ScenarioError naming the file (and the
    key, when the YAML parsed)."""
    import yaml

    from ..scenario import SCENARIO_DIR, Scenario, load_scenario, shipped_scenarios

    d = Draw(data)
    name = d.choice(shipped_scenarios())
    raw = yaml.safe_load((SCENARIO_DIR / f"{name}.yml").read_text())
    as_text = d.int(0, 2) == 0
    for _ in range(d.int(0, 4)):
        kind = d.int(0, 5)
        sections = [k for k, v in raw.items() if isinstance(v, dict)] if isinstance(raw, dict) else []
        if kind <= 2 and sections:
            section = d.choice(sections)
            keys = list(raw[section]) + [d.text(8)]
            key = d.choice(keys)
            if kind == 2 and key in raw[section]:
                del raw[section][key]
            else:
                raw[section][key] = draw_yaml_value(d)
        elif kind == 3 and isinstance(raw, dict):
            raw[d.choice([*raw, d.text(8)])] = draw_yaml_value(d)
        elif kind == 4:
            raw = draw_yaml_value(d)
        elif isinstance(raw, dict) and raw:
            raw.pop(d.choice(list(raw)))
    if as_text:
        source = _scenario_file()
        try:
            text = yaml.safe_dump(raw, sort_keys=False).encode()
        except (yaml.YAMLError, RecursionError):
            return "undumpable"
        for _ in range(d.int(0, 3)):  # byte edits of the YAML text
            where = d.int(0, max(len(text) - 1, 0))
            text = text[:where] + d.bytes(d.int(0, 3)) + text[where + d.int(0, 3) :]
        source.write_bytes(text)
        load = functools.partial(load_scenario, source)
    else:
        source = "fuzz.yml"
        load = functools.partial(Scenario.from_dict, raw, source=source)
    try:
        scenario = load()
    except ScenarioError as exc:
        message = str(exc)
        expect("\n" not in message.strip(), f"multi-line error: {message!r}")
        expect(message.startswith(f"scenario '{source}'"), f"error does not name the file: {message!r}")
        names_key = "key '" in message
        whole_file = any(s in message for s in ("not valid YAML", "top level", "cannot read"))
        expect(names_key or whole_file, f"error names no key: {message!r}")
        return "refused-key" if names_key else "refused-file"
    again = Scenario.from_dict(scenario.to_dict(), source="again.yml", name=scenario.name)
    expect(again.to_dict() == scenario.to_dict(), "a valid scenario does not validate again to itself")
    return "valid"


@functools.cache
def _scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="issc-fuzz-"))


def _scenario_file() -> Path:
    return _scratch() / "fuzz.yml"


def _scenario_seeds() -> list:
    return [bytes([i, 1, 0]) for i in range(3)] + [bytes([0, 0, 1, 0, 0, 0, 2]), bytes([1, 0, 2, 1, 0, 3, 5, 9])]


# -- command lines --------------------------------------------------------------------------------------------
# Commands run for real (fast with hostile values); the others (training, experiments, flowgraphs,
# benchmarks: minutes each) are fuzzed through the parser only.
RUN_COMMANDS = ("scenario", "regime", "ber", "hcrb", "codec info", "codec decode", "codec encode", "optimize")


@functools.cache
def _parser():
    from .main import build_parser

    return build_parser()


@functools.cache
def _commands() -> dict:
    """``{"codec decode": (parser, [option actions])}`` for every leaf subcommand."""
    import argparse

    found = {}

    def walk(parser, prefix):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*prefix, name])
                return
        options = [a for a in parser._actions if a.option_strings and a.dest != "help"]
        found[" ".join(prefix)] = options

    walk(_parser(), [])
    return found


@functools.cache
def _command_files() -> dict:
    """Files the hostile values point at (in a scratch folder, never the repository)."""
    from ..codec.images import load_rgb, shipped_images

    root = _scratch() / "cli"
    root.mkdir(exist_ok=True)
    files = {"dir": root / "adir", "missing": root / "missing" / "x.yml", "new": root / "new.out"}
    files["dir"].mkdir(exist_ok=True)
    garbage = root / "garbage.yml"
    garbage.write_bytes(b"\x00\xff{[: - :\n\t!!python/object:os.system\n")
    files["garbage"] = garbage
    scenario = root / "ok.yml"
    scenario.write_text("arrays: {n_tx: 2}\n")
    files["scenario"] = scenario
    cov = root / "cov.npy"
    np.save(cov, np.eye(3))
    files["cov"] = cov
    good_cov = root / "cov4.npy"
    np.save(good_cov, np.eye(4) / 4)
    files["cov4"] = good_cov
    bad_cov = root / "nan.npy"
    np.save(bad_cov, np.full((2, 2), np.nan))
    files["nan_cov"] = bad_cov
    container = root / "img.isc"
    container.write_bytes(real_bitstreams()[0])
    files["container"] = container
    truncated = root / "cut.isc"
    truncated.write_bytes(real_bitstreams()[1][:-7])
    files["truncated"] = truncated
    from PIL import Image

    png = root / "img.png"
    Image.fromarray(load_rgb(shipped_images()[0])[:24, :40]).save(png)
    files["png"] = png
    fake_png = root / "fake.png"
    fake_png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    files["fake_png"] = fake_png
    nul = root / "nul.yml"
    nul.write_bytes(b"name: x\x00\n")
    files["nul"] = nul
    files["long"] = root / ("n" * 3000)
    return {k: str(v) for k, v in files.items()}


HOSTILE_TEXT = ("", " ", "-", "--", "0", "-1", "1", "3", "0.5", "1e-320", "1e309", "-1e309", "nan", "inf", "-inf",
                "0x10", "9" * 400, "1,2", ",", "a" * 3000, "é☃", "--json", "-s", "paper", "tradeoff", "hp1", "hp9",
                "mse", "sdr", "20:40:2", "40:20:2", "20:40:0", "1/32", "0/0", "tcp://127.0.0.1:9", "/",
                "/dev/null", "/proc/version")  # fmt: skip


PATH_WORDS = ("FILE", "DIR", "PATH", "IN", "OUT", "CKPT", "PROFILE", "FIG", "S")
PATH_DESTS = ("scenario", "cov", "dir", "input", "image", "images", "profile", "calibration", "out", "plot", "base")


def _is_path(action) -> bool:
    words = str(action.metavar or "").upper().replace(".", " ").split()
    return action.dest in PATH_DESTS or any(w in words for w in PATH_WORDS)


def _value(d: Draw, action):
    files = _command_files()
    kind = d.int(0, 4)
    if kind == 0 and action.choices:
        return d.choice(list(action.choices))
    if kind == 1 or (kind == 0 and _is_path(action)):
        return d.choice(list(files.values()))
    if kind == 2:
        return repr(d.real()) if d.bool() else str(d.integer())
    return d.choice(HOSTILE_TEXT)


def draw_argv(d: Draw) -> tuple[list, bool]:
    """``(argv, run)``: a command line of known option names and hostile values; ``run`` False means
    parse only (the command takes minutes)."""
    commands = _commands()
    names = sorted(commands)
    name = d.choice(names) if d.int(0, 3) == 0 else d.choice(RUN_COMMANDS)
    argv = name.split()
    options = commands[name]
    for action in options:  # required options mostly present, so the command body runs
        if action.required and d.int(0, 7):
            argv += [action.option_strings[0], _value(d, action)]
    for _ in range(d.int(0, 4)):
        if options and d.int(0, 5):
            action = d.choice(options)
            argv.append(d.choice(action.option_strings))
            if action.nargs != 0 and d.int(0, 9):
                argv.append(_value(d, action))
        else:
            argv.append(d.choice(("--nope", "-x", "--help", "--version", "--json", "extra", "--out=", "-h")))
            if d.int(0, 3):
                break  # an unknown option ends the parse: one is enough
    return argv, name in RUN_COMMANDS


def run_cli(argv: list) -> tuple[int, str, str]:
    """``issc`` in-process with stdout and stderr captured, in the scratch folder: (code, out, err)."""
    from .main import main

    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(_scratch())
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code
    finally:
        os.chdir(cwd)
    return code, out.getvalue(), err.getvalue()


def check_cli(data: bytes) -> str:
    """``issc`` with a random command line of real option names and hostile values: exit code 0 or 2,
    never a traceback; an error is one line on stderr and nothing on stdout."""
    d = Draw(data)
    argv, run = draw_argv(d)
    if not run:
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            try:
                _parser().parse_args(argv)
                code = 0
            except SystemExit as exc:
                code = exc.code
        out, err = "", err.getvalue()
    else:
        code, out, err = run_cli(argv)
    expect(code in (0, 2), f"exit code {code!r} for {argv!r}: {err[-500:]}")
    expect("Traceback" not in err, f"traceback for {argv!r}: {err[-2000:]}")
    if code == 2:
        expect(err.count("\n") == 1 and err.startswith("issc"), f"not a one-line error for {argv!r}: {err[:600]!r}")
        expect(out == "", f"an error that also printed a result for {argv!r}: {out[:300]!r}")
    reason = err.split(": ")[2][:24] if code == 2 and err.count(": ") >= 2 else ""
    return f"{' '.join(argv[:2])}:{code}:{reason}"


def _cli_seeds() -> list:
    return [bytes([1, i, 1, 1, 1]) for i in range(len(RUN_COMMANDS))] + [bytes([0, i, 2, 0]) for i in range(0, 30, 3)]


TARGETS = {
    t.name: t
    for t in (
        Target("header", "air-frame headers: FrameHeader.unpack of any bytes", _header_seeds, check_header, 64),
        Target("receiver", "air-frame receiver: FrameReceiver.push of any samples", _receiver_seeds, check_receiver),
        Target("container", "codec containers: container.unpack of any bytes", lambda: list(real_bitstreams()),
               check_container, 2048),
        Target("codec", "codec decode of a mutated real bitstream", _codec_seeds, check_codec, 2048),
        Target("standard", "HEVC/JPEG decode of a mutated real payload", _standard_seeds, check_standard, 2048),
        Target("djscc", "DJSCC symbol PDUs into the djscc_decoder block", _djscc_seeds, check_djscc, 512),
        Target("blocks", "malformed messages to every block's message handlers", _block_seeds, check_block_message,
               512),
        Target("scenario", "scenario files: mutated shipped scenarios as dicts and YAML", _scenario_seeds,
               check_scenario, 512),
        Target("cli", "issc command lines with hostile values", _cli_seeds, check_cli, 256),
    )
}  # fmt: skip
