# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Standard image codecs as operating points of the data users' family: HEVC intra and JPEG (docs/codec.md).

    codec = StandardCodec(["hevc-q10", "jpeg-q50"])
    header, payload = codec.encode_parts(image, "hevc-q10")   # ContainerHeader + bytes, as SemanticCodec
    image = codec.decode_parts(header, payload)               # float32 H x W x 3 in [0, 1], always finite
    data = codec.encode(image, "hevc-q10"); image = codec.decode(data)   # the ISC1 container
    family = FamilyCodec.load()       # learned + standard behind one interface: dispatch on the model id

A model id is ``<codec>-q<quality>``: ``hevc-q<q>`` is HEVC intra (the coding BPG uses) by x265 through
``pillow-heif`` at quality ``q`` (0..100, 4:2:0), ``jpeg-q<q>`` is Pillow's baseline JPEG at quality ``q``
(1..100, 4:2:0, the standard Huffman tables). Both are deterministic: the same image and quality give the
same bytes (tests/codec/test_standard.py).

The payload and the header. A HEIF file is its box structure (``ftyp``, ``meta`` with the item location,
the HEVC parameter sets, the image size) and the ``mdat`` box with the coded slices; a JPEG file is its
marker segments (quantisation and Huffman tables, frame and scan headers) and the entropy-coded scan. For a
given quality and image size everything but the coded data is the same whatever the image (the encoders
write no content-dependent side information; checked at every encoding), so the payload is the coded data
only (``mdat``'s content; the scan up to ``EOI``) and the rest is rebuilt by the receiver from the
:class:`~gnuradio.issc.codec.container.ContainerHeader` (model id, height, width, payload length), which
the link carries in its protected frame header as it does for the learned models (``z_bytes = 0``,
``y_bytes`` = payload bytes). ``R_s`` counts the payload bits, as for the learned models (their header is
not counted either); the whole file is 371 (HEVC) or about 625 (JPEG) bytes longer, see docs/codec.md. The
rebuilt structure comes from encoding a flat grey image of the same size and quality (cached); an encoding
whose structure differs from it (another ``pillow-heif`` build writing other boxes) is refused at encode
time with :class:`~gnuradio.issc.codec.container.CodecFormatError`, so a receiver can never rebuild a wrong
file silently.

Decoding is best-effort and bounded: the image size comes from the header (sides at most
:data:`~gnuradio.issc.codec.container.MAX_SIDE`, checked before anything is decoded), never from the
corrupted payload, since the parameter sets or frame header that state it are rebuilt, not received. A
payload that the decoder rejects (a bit error in a NAL length, a slice header, a marker) gives the
fallback image, flat mid-grey (:data:`FALLBACK_LEVEL`); what libde265 or libjpeg decode from a damaged
stream (concealment, garbage blocks) is returned as they decode it.
"""

from __future__ import annotations

import functools
import io
import re
import struct
import threading
import warnings
from dataclasses import dataclass

import numpy as np

from .container import (
    MAGIC,
    MAX_CONTAINER_BYTES,
    MAX_SIDE,
    MAX_STRING,
    VERSION,
    CodecFormatError,
    ContainerHeader,
    pack,
)

STANDARD_CODECS = ("hevc", "jpeg")
CODEC_NAMES = ("hyperprior", *STANDARD_CODECS)
"""The ``codec`` values a profile entry may have (``hyperprior``: the learned family, the default)."""
QUALITY_RANGE = {"hevc": (0, 100), "jpeg": (1, 100)}
MAX_PIXELS_PER_BYTE = 16384
"""Most pixels per payload byte a container read from bytes may declare (:func:`unpack_standard`): a flat grey
2048 x 2048 image, the most compressible, codes at one byte per 4037 pixels at ``hevc-q0``."""
FALLBACK_LEVEL = 0.5
"""Pixel value of the image a rejected payload decodes to (flat mid-grey)."""
_MODEL_ID = re.compile(r"^(hevc|jpeg)-q(0|[1-9][0-9]{0,2})$")


def parse_model_id(model_id: str) -> tuple[str, int]:
    """``("hevc", 30)`` from ``"hevc-q30"``; :class:`CodecFormatError` for anything else."""
    match = _MODEL_ID.match(model_id) if isinstance(model_id, str) else None
    if match is None:
        raise CodecFormatError(f"a standard-codec model id is hevc-q<quality> or jpeg-q<quality>, got {model_id!r}")
    codec, quality = match.group(1), int(match.group(2))
    lo, hi = QUALITY_RANGE[codec]
    if not lo <= quality <= hi:
        raise CodecFormatError(f"model '{model_id}': {codec} quality must be in [{lo}, {hi}], got {quality}")
    return codec, quality


def is_standard(model_id) -> bool:
    """Whether ``model_id`` names a standard-codec operating point (``hevc-q..``, ``jpeg-q..``)."""
    try:
        parse_model_id(model_id)
    except CodecFormatError:
        return False
    return True


def heif_available() -> str:
    """Empty when ``pillow-heif`` with an HEVC encoder and decoder is importable, else why not."""
    try:
        import pillow_heif
    except ImportError as exc:
        return f"pillow-heif is not installed ({exc}); make setup installs it (docs/install.md)"
    info = pillow_heif.libheif_info()
    if "x265" not in str(info.get("HEIF", "")) or not info.get("decoders"):
        return f"pillow-heif has no x265 HEVC encoder or no decoder: {info}"
    return ""


@dataclass(frozen=True)
class _Template:
    """A coded file minus its payload, and where the payload's length is written in it.

    ``prefix + payload + suffix`` is the file; ``length_fields`` are ``(offset, size, extra)``: big-endian
    fields of ``size`` bytes at ``offset`` of the prefix that hold ``len(payload) + extra``."""

    prefix: bytes
    suffix: bytes
    length_fields: tuple = ()

    def rebuild(self, payload: bytes) -> bytes:
        prefix = bytearray(self.prefix)
        for offset, size, extra in self.length_fields:
            value = len(payload) + extra
            if value >= 1 << (8 * size):
                raise CodecFormatError(f"a payload of {len(payload)} bytes does not fit a {size}-byte length field")
            prefix[offset : offset + size] = value.to_bytes(size, "big")
        return bytes(prefix) + bytes(payload) + self.suffix


# ---------------------------------------------------------------------------------------------------
# HEIF: split at mdat, with the iloc extent that points at it
def _boxes(data: bytes, start: int, end: int):
    """``(type, offset, header_size, size)`` of the ISO BMFF boxes in ``data[start:end]``."""
    offset = start
    while offset < end:
        if offset + 8 > end:
            raise CodecFormatError("HEIF box header truncated")
        size = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8].decode("latin-1")
        header = 8
        if size == 1:
            size, header = int.from_bytes(data[offset + 8 : offset + 16], "big"), 16
        elif size == 0:
            size = end - offset
        if size < header or offset + size > end:
            raise CodecFormatError(f"HEIF box '{kind}' at {offset} has a bad size {size}")
        yield kind, offset, header, size
        offset += size


def _heif_template(data: bytes) -> tuple[_Template, bytes]:
    """The template and the payload (``mdat``'s content) of a HEIF file with one item in one extent."""
    top = list(_boxes(data, 0, len(data)))
    if [b[0] for b in top][-1:] != ["mdat"] or [b[0] for b in top].count("mdat") != 1:
        raise CodecFormatError("HEIF file: expected one mdat box, the last one")
    _, mdat_at, mdat_header, mdat_size = top[-1]
    if mdat_header != 8:
        raise CodecFormatError("HEIF file: a 64-bit mdat size is not supported")
    meta = [b for b in top if b[0] == "meta"]
    if len(meta) != 1:
        raise CodecFormatError("HEIF file: expected one meta box")
    _, meta_at, meta_header, meta_size = meta[0]
    iloc = [b for b in _boxes(data, meta_at + meta_header + 4, meta_at + meta_size) if b[0] == "iloc"]
    if len(iloc) != 1:
        raise CodecFormatError("HEIF file: expected one iloc box")
    length_at, length_size = _single_extent(data, iloc[0], mdat_at + 8, mdat_size - 8)
    payload = data[mdat_at + 8 :]
    template = _Template(data[: mdat_at + 8], b"", ((mdat_at, 4, 8), (length_at, length_size, 0)))
    return template, payload


def _single_extent(data: bytes, box, data_at: int, data_bytes: int) -> tuple[int, int]:
    """Offset and size of the length field of the iloc box's only extent, which must cover ``mdat``'s data
    exactly (ISO/IEC 14496-12 8.11.3)."""
    _, at, header, size = box
    pos, end = at + header, at + size

    def read(count):
        nonlocal pos
        if pos + count > end:
            raise CodecFormatError("HEIF iloc box truncated")
        value = int.from_bytes(data[pos : pos + count], "big")
        pos += count
        return value

    version = read(1)
    read(3)  # flags
    sizes = read(2)
    offset_size, length_size, base_size = sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15
    index_size = sizes & 15 if version in (1, 2) else 0
    if version > 2 or length_size not in (4, 8):
        raise CodecFormatError(f"HEIF iloc version {version} with {length_size}-byte lengths is not supported")
    items = read(2 if version < 2 else 4)
    if items != 1:
        raise CodecFormatError(f"HEIF file: expected one item location, got {items}")
    read(2 if version < 2 else 4)  # item id
    if version in (1, 2) and read(2) & 15:
        raise CodecFormatError("HEIF file: the item is not stored by file offset")
    read(2)  # data reference index
    base = read(base_size) if base_size else 0
    if read(2) != 1:
        raise CodecFormatError("HEIF file: expected one extent")
    if index_size:
        read(index_size)
    offset = base + (read(offset_size) if offset_size else 0)
    length_at = pos
    length = read(length_size)
    if offset != data_at or length != data_bytes:
        raise CodecFormatError("HEIF file: the item's extent is not the mdat box's data")
    return length_at, length_size


# ---------------------------------------------------------------------------------------------------
# JPEG: split after the SOS segment, before EOI
def _jpeg_template(data: bytes) -> tuple[_Template, bytes]:
    """The template (marker segments up to the scan, ``EOI``) and the payload (the entropy-coded scan)."""
    if data[:2] != b"\xff\xd8" or data[-2:] != b"\xff\xd9":
        raise CodecFormatError("JPEG file: no SOI or no EOI")
    pos = 2
    while True:
        if pos + 4 > len(data) or data[pos] != 0xFF:
            raise CodecFormatError(f"JPEG file: bad marker at {pos}")
        marker, length = data[pos + 1], int.from_bytes(data[pos + 2 : pos + 4], "big")
        if marker in (0xC2, 0xC3) or 0xC5 <= marker <= 0xCF and marker not in (0xC8, 0xCC):
            raise CodecFormatError("JPEG file: only baseline/extended sequential Huffman JPEG is supported")
        pos += 2 + length
        if marker == 0xDA:  # SOS: the scan follows
            break
    return _Template(data[:pos], b"\xff\xd9"), data[pos:-2]


# ---------------------------------------------------------------------------------------------------
class StandardCodec:
    """HEVC intra and JPEG operating points (module docstring).

    Args:
        model_ids: the operating points, e.g. ``["hevc-q10", "hevc-q30", "jpeg-q50"]``.
    """

    def __init__(self, model_ids):
        ids = list(model_ids)
        if not ids:
            raise CodecFormatError("a standard codec needs at least one operating point")
        parsed = {m: parse_model_id(m) for m in ids}
        if len(parsed) != len(ids):
            raise CodecFormatError(f"duplicate model ids in {ids}")
        self._parsed = parsed
        self.lambdas: dict = {}  # no rate-distortion lambda (the fit writes lambda 0)
        self._lock = threading.Lock()
        if any(c == "hevc" for c, _ in parsed.values()):
            reason = heif_available()
            if reason:
                raise CodecFormatError(f"cannot use the HEVC operating points: {reason}")

    @property
    def model_ids(self) -> list[str]:
        """The operating points, by codec then quality (rate order within a codec)."""
        return sorted(self._parsed, key=lambda m: self._parsed[m])

    def _parse(self, model_id: str) -> tuple[str, int]:
        if model_id not in self._parsed:
            raise CodecFormatError(f"unknown codec model '{model_id}' (have: {', '.join(self.model_ids)})")
        return self._parsed[model_id]

    # -- encoding ---------------------------------------------------------------------------------------
    def encode_file(self, image, model_id: str) -> bytes:
        """The whole coded file (HEIF or JPEG) of an image (``H x W x 3`` uint8, or float in [0, 1])."""
        codec, quality = self._parse(model_id)
        return _encode_file(codec, quality, _to_uint8(image))

    def encode_parts(self, image, model_id: str) -> tuple[ContainerHeader, bytes]:
        """``(header, payload)``: the payload is the coded data only (module docstring)."""
        pixels = _to_uint8(image)
        codec, quality = self._parse(model_id)
        height, width = pixels.shape[:2]
        template, payload = _split(codec, _encode_file(codec, quality, pixels))
        if len(payload) > MAX_STRING:
            raise CodecFormatError(f"{len(payload)} payload bytes is more than a container holds ({MAX_STRING})")
        if template.rebuild(payload) != _template(codec, quality, height, width).rebuild(payload):
            raise CodecFormatError(
                f"{model_id}: the encoder wrote a file structure that depends on the image; the receiver could not "
                "rebuild it from the header (another pillow-heif or Pillow build?)"
            )
        return ContainerHeader(model_id, height, width, 0, len(payload)).validate(), payload

    def encode(self, image, model_id: str) -> bytes:
        """The ISC1 container (docs/codec.md) of an image: the header fields, then the payload."""
        return pack(*self.encode_parts(image, model_id))

    def payload_bits(self, image, model_id: str) -> int:
        """``R_s`` of one image: the payload bits the link carries."""
        return 8 * len(self.encode_parts(image, model_id)[1])

    # -- decoding ---------------------------------------------------------------------------------------
    def decode_parts(self, header: ContainerHeader, payload: bytes) -> np.ndarray:
        """Best-effort image from a header and a (possibly corrupted or truncated) payload: the payload is cut
        or zero-padded to the header's length, the file rebuilt around it and decoded; a rejected stream gives
        flat mid-grey. The size is the header's (validated before any work)."""
        header.validate()
        codec, quality = self._parse(header.model)
        if header.z_bytes:
            raise CodecFormatError(f"a {codec} payload has no z string, the header says z_bytes = {header.z_bytes}")
        payload = bytes(payload)[: header.payload_bytes].ljust(header.payload_bytes, b"\0")
        data = _template(codec, quality, header.height, header.width).rebuild(payload)
        with self._lock:
            pixels = _decode_file(codec, data, header.height, header.width)
        if pixels is None:
            return np.full((header.height, header.width, 3), FALLBACK_LEVEL, np.float32)
        return pixels.astype(np.float32) / 255.0

    def decode(self, data: bytes) -> np.ndarray:
        """Decode an ISC1 container of a standard operating point (:meth:`encode`)."""
        header, payload = unpack_standard(data)
        return self.decode_parts(header, payload)


# ---------------------------------------------------------------------------------------------------
def unpack_standard(data: bytes) -> tuple[ContainerHeader, bytes]:
    """``(header, payload)`` of an ISC1 container of a standard operating point (``z_bytes = 0``), checked
    before any decoding work: a well-formed header, a standard model id, and at least one payload byte per
    :data:`MAX_PIXELS_PER_BYTE` pixels (a few bytes must not ask for a 4096 x 4096 decode)."""
    data = bytes(data)
    if len(data) > MAX_CONTAINER_BYTES:
        raise CodecFormatError(f"{len(data)} bytes is larger than any container ({MAX_CONTAINER_BYTES})")
    if len(data) < 6 or data[:4] != MAGIC:
        raise CodecFormatError("not an ISSC codec container (bad magic)")
    if data[4] != VERSION:
        raise CodecFormatError(f"unsupported container version {data[4]} (this build reads {VERSION})")
    fixed_end = 6 + data[5] + 12
    if len(data) < fixed_end:
        raise CodecFormatError("container truncated inside its header")
    model = data[6 : 6 + data[5]].decode("latin-1")
    parse_model_id(model)
    height, width, z_bytes, y_bytes = struct.unpack(">HHII", data[6 + data[5] : fixed_end])
    header = ContainerHeader(model, height, width, z_bytes, y_bytes).validate()
    payload = data[fixed_end:]
    if z_bytes or len(payload) != header.payload_bytes:
        raise CodecFormatError(
            f"a standard-codec container has z_bytes = 0 and y_bytes = its payload ({len(payload)} bytes), "
            f"the header says {z_bytes} and {y_bytes}"
        )
    least = -(-height * width // MAX_PIXELS_PER_BYTE)
    if len(payload) < least:
        raise CodecFormatError(
            f"a {height} x {width} image needs at least {least} payload bytes, the container has {len(payload)}"
        )
    return header, payload


def _to_uint8(image) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise CodecFormatError(f"an image must be H x W x 3, got shape {image.shape}")
    height, width = image.shape[:2]
    if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE):
        raise CodecFormatError(f"image sides must be in [1, {MAX_SIDE}], got {height} x {width}")
    if image.dtype == np.uint8:
        return np.ascontiguousarray(image)
    x = np.clip(np.nan_to_num(image.astype(np.float64)), 0.0, 1.0)
    return np.ascontiguousarray(np.round(x * 255.0).astype(np.uint8))


def _encode_file(codec: str, quality: int, pixels: np.ndarray) -> bytes:
    height, width = pixels.shape[:2]
    buffer = io.BytesIO()
    if codec == "hevc":
        import pillow_heif

        heif = pillow_heif.from_bytes(mode="RGB", size=(width, height), data=pixels.tobytes())
        heif.save(buffer, quality=quality, chroma=420, save_nclx_profile=False)
    else:
        from PIL import Image

        Image.fromarray(pixels, "RGB").save(
            buffer, format="JPEG", quality=quality, subsampling=2, optimize=False, progressive=False
        )
    return buffer.getvalue()


def _split(codec: str, data: bytes) -> tuple[_Template, bytes]:
    return _heif_template(data) if codec == "hevc" else _jpeg_template(data)


@functools.lru_cache(maxsize=256)
def _template(codec: str, quality: int, height: int, width: int) -> _Template:
    """The file structure of ``codec`` at ``quality`` for a ``height x width`` image (from a flat grey one)."""
    grey = np.full((height, width, 3), 128, np.uint8)
    return _split(codec, _encode_file(codec, quality, grey))[0]


def _decode_file(codec: str, data: bytes, height: int, width: int) -> np.ndarray | None:
    """``H x W x 3`` uint8 pixels, or None when the decoder rejects the stream or gives another shape."""
    # The decoders are third-party C libraries whose error types vary by version and by what is broken
    # (ValueError, RuntimeError, OSError, SyntaxError from Pillow's parser): any failure is the fallback.
    try:
        if codec == "hevc":
            import pillow_heif

            heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
            pixels = np.asarray(heif.to_pillow().convert("RGB"))
        else:
            from PIL import Image

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with Image.open(io.BytesIO(data), formats=["JPEG"]) as img:
                    if img.size != (width, height):
                        return None
                    # the rebuilt file always ends in EOI after the full payload, so the scan is never
                    # truncated; a flipped EOI or RST marker inside it is libjpeg's to conceal (it pads)
                    pixels = np.asarray(img.convert("RGB"))
    except Exception:  # noqa: BLE001 (see above)
        return None
    if pixels.shape != (height, width, 3):
        return None
    return pixels


# ---------------------------------------------------------------------------------------------------
class FamilyCodec:
    """The learned family and the standard operating points behind the learned codec's interface: a model id
    ``hevc-q<q>`` / ``jpeg-q<q>`` goes to a :class:`StandardCodec`, any other to the
    :class:`~gnuradio.issc.codec.codec.SemanticCodec` (what the link's encoder and decoder need to carry the
    mixed family's choices; the header format is the same).

    Args:
        learned: the learned family (a ``SemanticCodec``).
        standard_ids: the standard operating points :attr:`model_ids` lists (any valid id is coded on demand).
    """

    def __init__(self, learned, standard_ids=()):
        self.learned = learned
        self._standard: dict = {}
        for model_id in standard_ids:
            parse_model_id(model_id)  # a bad id fails here, not at its first frame
        self._listed = list(standard_ids)

    @classmethod
    def load(cls, directory=None, lazy: bool = False, standard_ids=None) -> FamilyCodec:
        """The learned family of ``directory`` (default: the shipped one, as ``SemanticCodec.load``) and the
        standard operating points of ``standard_ids`` (default: those of the shipped mixed profile)."""
        from .codec import SemanticCodec
        from .profile import FAMILY_PROFILES, load_profile

        if standard_ids is None:
            standard_ids = [m.id for m in load_profile(FAMILY_PROFILES["mixed"]).models if m.codec != "hyperprior"]
        return cls(SemanticCodec.load(directory, lazy=lazy), standard_ids)

    @property
    def model_ids(self) -> list[str]:
        return [*self.learned.model_ids, *self._listed]

    @property
    def lambdas(self) -> dict:
        return dict(self.learned.lambdas)

    def _codec(self, model_id: str):
        if not is_standard(model_id):
            return self.learned
        if model_id not in self._standard:
            self._standard[model_id] = StandardCodec([model_id])
        return self._standard[model_id]

    def encode_parts(self, image, model_id: str) -> tuple[ContainerHeader, bytes]:
        return self._codec(model_id).encode_parts(image, model_id)

    def encode(self, image, model_id: str) -> bytes:
        return pack(*self.encode_parts(image, model_id))

    def decode_parts(self, header: ContainerHeader, payload: bytes) -> np.ndarray:
        return self._codec(header.model).decode_parts(header, payload)

    def decode(self, data: bytes) -> np.ndarray:
        data = bytes(data)
        model = data[6 : 6 + data[5]].decode("latin-1") if len(data) >= 6 and data[:4] == MAGIC else ""
        return self._codec(model).decode(data)
