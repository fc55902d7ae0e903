# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The semantic bitstream container: a small self-describing wrapper around one entropy-coded feature map.

    offset  size  field
    0       4     magic b"ISF1"
    4       1     version (1)
    5       1     length k of the model id
    6       k     model id (ASCII)
    6+k     2     feature channels C (big-endian)
    8+k     2     feature height H
    10+k    2     feature width W
    12+k    4     payload length in bytes
    16+k    ...   payload: the EntropyBottleneck's string for the C x H x W features

Like the data users' container (``codec/container.py``) the header travels in the frame's protected header
and only the payload goes through the channel code. Every header field is range-checked before anything is
allocated for it (:data:`MAX_SYMBOLS`, :data:`MAX_PAYLOAD`); a malformed header raises
:class:`SemanticFormatError`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..codec.container import CodecFormatError

MAGIC = b"ISF1"
VERSION = 1
MAX_SIDE = 4096
MAX_CHANNELS = 4096
MAX_SYMBOLS = 1 << 20
"""Most feature values one container may describe (the decoder pads 8 bytes per symbol: 8 MiB at most)."""
MAX_PAYLOAD = 16 * 1024 * 1024
_FIXED = struct.Struct(">HHHI")


class SemanticFormatError(CodecFormatError):
    """A semantic container or header that cannot be decoded: bad magic, version, lengths, shape or model."""


@dataclass(frozen=True)
class FeatureHeader:
    """The container's header.

    Args:
        model: id of the model that made the features.
        channels, height, width: the feature map's shape ``C x H x W``.
        payload_bytes: length of the entropy-coded string.
    """

    model: str
    channels: int
    height: int
    width: int
    payload_bytes: int

    def validate(self) -> FeatureHeader:
        if not (isinstance(self.model, str) and 0 < len(self.model) <= 255 and self.model.isascii()):
            raise SemanticFormatError(f"model id must be 1-255 ASCII characters, got {self.model!r}")
        for name, top in (("channels", MAX_CHANNELS), ("height", MAX_SIDE), ("width", MAX_SIDE)):
            value = getattr(self, name)
            if isinstance(value, bool) or not (isinstance(value, int) and 1 <= value <= top):
                raise SemanticFormatError(f"feature {name} must be in [1, {top}], got {value!r}")
        if self.symbols > MAX_SYMBOLS:
            raise SemanticFormatError(f"feature map {self.shape} has {self.symbols} values, more than {MAX_SYMBOLS}")
        value = self.payload_bytes
        if isinstance(value, bool) or not (isinstance(value, int) and 0 <= value <= MAX_PAYLOAD):
            raise SemanticFormatError(f"payload_bytes must be in [0, {MAX_PAYLOAD}], got {value!r}")
        return self

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.channels, self.height, self.width)

    @property
    def symbols(self) -> int:
        return self.channels * self.height * self.width


def pack(header: FeatureHeader, payload: bytes) -> bytes:
    """The container bytes of a header and its payload (lengths must agree)."""
    header.validate()
    if len(payload) != header.payload_bytes:
        raise SemanticFormatError(f"payload has {len(payload)} bytes, the header says {header.payload_bytes}")
    model = header.model.encode("ascii")
    return (
        MAGIC
        + struct.pack(">BB", VERSION, len(model))
        + model
        + _FIXED.pack(header.channels, header.height, header.width, header.payload_bytes)
        + bytes(payload)
    )


def unpack(data: bytes, exact_payload: bool = True) -> tuple[FeatureHeader, bytes]:
    """``(header, payload)`` of a container.

    Args:
        data: the container bytes.
        exact_payload: if False, a payload shorter or longer than the header says is returned as it is
            (a receiver then decodes it best-effort: :meth:`SemanticFamily.decode_features` pads or cuts
            it); if True such a container is refused.
    """
    data = bytes(data)
    if len(data) < 6 or data[:4] != MAGIC:
        raise SemanticFormatError("not an ISSC semantic container (bad magic)")
    version, model_len = data[4], data[5]
    if version != VERSION:
        raise SemanticFormatError(f"unsupported semantic container version {version} (this build reads {VERSION})")
    fixed_end = 6 + model_len + _FIXED.size
    if len(data) < fixed_end:
        raise SemanticFormatError("container truncated inside its header")
    try:
        model = data[6 : 6 + model_len].decode("ascii")
    except UnicodeDecodeError:
        raise SemanticFormatError("model id is not ASCII") from None
    channels, height, width, payload_bytes = _FIXED.unpack(data[6 + model_len : fixed_end])
    header = FeatureHeader(model, channels, height, width, payload_bytes).validate()
    payload = data[fixed_end:]
    if exact_payload and len(payload) != header.payload_bytes:
        raise SemanticFormatError(f"payload has {len(payload)} bytes, the header says {header.payload_bytes}")
    return header, payload
