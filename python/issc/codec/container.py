# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The bitstream container: a small self-describing wrapper around the hyperprior's strings.

    offset  size  field
    0       4     magic b"ISC1"
    4       1     version (1)
    5       1     length k of the model id
    6       k     model id (ASCII)
    6+k     2     image height (big-endian)
    8+k     2     image width
    10+k    4     length of the z string (hyper-latent)
    14+k    4     length of the y string (latent)
    18+k    ...   payload: z string, then y string

The header fields (:class:`ContainerHeader`) travel in the frame's protected header; only the payload
goes through the channel code and may get bit errors. Malformed containers raise :class:`CodecFormatError`.

A container read from bytes (:func:`unpack`) must also be plausible for its declared shape before anything
is allocated for it: decoding costs time and memory in proportion to the declared image (a 4096 x 4096
decode takes tens of seconds and gigabytes), so a 21-byte file must not be able to ask for one. Each string
is the rANS coder's output, whole 32-bit words ending with its 64-bit final state (at least
:data:`MIN_STRING_BYTES`), and the payload has at least one byte per :data:`MAX_PIXELS_PER_BYTE` pixels.
The shipped models never come near that rate: a flat grey image, the most compressible there is, codes at
one byte per ~700 pixels with the lowest-rate model (512 x 512: 388 bytes), so the rule leaves a margin of
about 6 and bounds the decoding work a container can cause per byte it holds.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import IsscInputError

MAGIC = b"ISC1"
VERSION = 1
MAX_SIDE = 4096
MAX_STRING = 64 * 1024 * 1024
HEADER_BYTES = 18  # without the model id
MAX_CONTAINER_BYTES = HEADER_BYTES + 255 + 2 * MAX_STRING
"""Largest well-formed container: read caps for container files use it."""
RANS_WORD = 4
MIN_STRING_BYTES = 8
MAX_PIXELS_PER_BYTE = 4096


class CodecFormatError(IsscInputError):
    """A container or header that cannot be decoded: bad magic, version, lengths, shape or model."""


@dataclass(frozen=True)
class ContainerHeader:
    model: str
    height: int
    width: int
    z_bytes: int
    y_bytes: int

    def validate(self) -> ContainerHeader:
        if not (isinstance(self.model, str) and 0 < len(self.model) <= 255 and self.model.isascii()):
            raise CodecFormatError(f"model id must be 1-255 ASCII characters, got {self.model!r}")
        for name in ("height", "width"):
            value = getattr(self, name)
            if not (isinstance(value, int) and 1 <= value <= MAX_SIDE):
                raise CodecFormatError(f"image {name} must be in [1, {MAX_SIDE}], got {value!r}")
        for name in ("z_bytes", "y_bytes"):
            value = getattr(self, name)
            if not (isinstance(value, int) and 0 <= value <= MAX_STRING):
                raise CodecFormatError(f"{name} must be in [0, {MAX_STRING}], got {value!r}")
        return self

    @property
    def payload_bytes(self) -> int:
        return self.z_bytes + self.y_bytes

    @property
    def min_payload_bytes(self) -> int:
        """Fewest payload bytes a real encoding of this shape has (module doc)."""
        return max(2 * MIN_STRING_BYTES, -(-self.height * self.width // MAX_PIXELS_PER_BYTE))

    def check_plausible(self) -> ContainerHeader:
        """Refuse string lengths no rANS coder writes and a payload too small for the declared shape, before
        any decoding work (module doc). The link's decoder gets its headers from the protected frame header
        and skips this: a truncated payload there is decoded best-effort."""
        for name in ("z_bytes", "y_bytes"):
            value = getattr(self, name)
            if value < MIN_STRING_BYTES or value % RANS_WORD:
                raise CodecFormatError(
                    f"{name} = {value} is not a rANS string length (a multiple of {RANS_WORD}, at least "
                    f"{MIN_STRING_BYTES})"
                )
        if self.payload_bytes < self.min_payload_bytes:
            raise CodecFormatError(
                f"a {self.height} x {self.width} image needs at least {self.min_payload_bytes} payload bytes, "
                f"the container has {self.payload_bytes}"
            )
        return self


def pack(header: ContainerHeader, payload: bytes) -> bytes:
    header.validate()
    if len(payload) != header.payload_bytes:
        raise CodecFormatError(f"payload has {len(payload)} bytes, the header says {header.payload_bytes}")
    model = header.model.encode("ascii")
    return (
        MAGIC
        + struct.pack(">BB", VERSION, len(model))
        + model
        + struct.pack(">HHII", header.height, header.width, header.z_bytes, header.y_bytes)
        + bytes(payload)
    )


def unpack(data: bytes) -> tuple[ContainerHeader, bytes]:
    """``(header, payload)`` of a complete container; :class:`CodecFormatError` for a malformed or
    implausible one (:meth:`ContainerHeader.check_plausible`), checked before anything is allocated."""
    data = bytes(data)
    if len(data) > MAX_CONTAINER_BYTES:
        raise CodecFormatError(f"{len(data)} bytes is larger than any container ({MAX_CONTAINER_BYTES})")
    if len(data) < 6 or data[:4] != MAGIC:
        raise CodecFormatError("not an ISSC codec container (bad magic)")
    version, model_len = data[4], data[5]
    if version != VERSION:
        raise CodecFormatError(f"unsupported container version {version} (this build reads {VERSION})")
    fixed_end = 6 + model_len + 12
    if len(data) < fixed_end:
        raise CodecFormatError("container truncated inside its header")
    try:
        model = data[6 : 6 + model_len].decode("ascii")
    except UnicodeDecodeError:
        raise CodecFormatError("model id is not ASCII") from None
    height, width, z_bytes, y_bytes = struct.unpack(">HHII", data[6 + model_len : fixed_end])
    header = ContainerHeader(model, height, width, z_bytes, y_bytes).validate()
    payload = data[fixed_end:]
    if len(payload) != header.payload_bytes:
        raise CodecFormatError(f"payload has {len(payload)} bytes, the header says {header.payload_bytes}")
    header.check_plausible()
    return header, payload
