# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""PDU conventions of the link (what flows between the data-path blocks) and strict converters.

- image PDU:     meta ``{seq, height, width, ...}``, payload ``u8vector`` of ``H * W * 3`` RGB bytes.
- bitstream PDU: meta ``{seq, config (LinkConfig dict), ...}``, payload ``u8vector`` of codec bytes.
- received bitstream PDU (frame decoder): meta ``{seq, header_ok, sinr_db, model, code_rate, ...}``.
- symbol PDU (deep JSCC): meta ``{seq, config, model_index, height, width, ...}``, payload ``c32vector``
  of the analog channel symbols (sent, or received and equalised).

Every converter raises :class:`~gnuradio.issc.errors.IsscInputError` on malformed input, so a block
can log and drop it instead of crashing. The metadata checks (:func:`require_int`, :func:`meta_seq`,
:func:`require_real`, :func:`nested_pmt`) are the one place that says what a valid field is; their
messages name the field and what carried it.
"""

from __future__ import annotations

import ctypes

import numpy as np
import pmt

from ..errors import IsscInputError

MAX_IMAGE_SIDE = 8192

# PMT's Python bindings convert uniform vectors element by element through Python lists (1.8 ms to build
# and 0.6 ms to read a 256 x 256 image's u8vector, holding the interpreter lock; the link moves four image
# PDUs a frame). Their `uniform_vector_(writable_)elements` return the C++ data pointer as a capsule, so
# the bytes can be copied in one memmove instead (0.05 ms / 3 us).
_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.restype = ctypes.c_void_p
_capsule_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
_capsule_name = ctypes.pythonapi.PyCapsule_GetName
_capsule_name.restype = ctypes.c_char_p
_capsule_name.argtypes = [ctypes.py_object]


def _data_pointer(capsule) -> int:
    return _capsule_pointer(capsule, _capsule_name(capsule))


def uniform_vector_bytes(vector) -> bytes:
    """The raw bytes of a PMT uniform vector (u8vector, c32vector, ...), copied in one piece."""
    size = pmt.length(vector) * pmt.uniform_vector_itemsize(vector)
    if size == 0:
        return b""
    return ctypes.string_at(_data_pointer(pmt.uniform_vector_elements(vector, 0)), size)


def _filled_vector(make, data: np.ndarray):
    """A new uniform vector from ``make(n, 0)`` holding ``data`` (its item type), copied in one piece."""
    data = np.ascontiguousarray(data)
    vector = make(data.size, 0)
    if data.size:
        ctypes.memmove(_data_pointer(pmt.uniform_vector_writable_elements(vector, 0)), data.ctypes.data, data.nbytes)
    return vector


def u8vector(data) -> object:
    """A PMT ``u8vector`` of the bytes of ``data`` (any bytes-like object)."""
    return _filled_vector(pmt.make_u8vector, np.frombuffer(bytes(data), np.uint8))


def c32vector(symbols: np.ndarray) -> object:
    """A PMT ``c32vector`` of ``symbols`` (cast to complex64)."""
    return _filled_vector(pmt.make_c32vector, np.asarray(symbols, np.complex64).reshape(-1))


def is_int(value) -> bool:
    """True for a Python or NumPy integer; False for a bool (``True`` is an ``int`` in Python, but a
    flag where a count or a sequence number belongs is a malformed message)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_real(value) -> bool:
    """True for a Python or NumPy integer or float (bools excluded, see :func:`is_int`)."""
    return is_int(value) or isinstance(value, (float, np.floating))


def require_int(meta: dict, key: str, where: str) -> int:
    """``meta[key]`` as an ``int``.

    Args:
        meta: a message's metadata as a Python dict (e.g. from :func:`meta_to_dict`).
        key: the field.
        where: what carried it, for the message (e.g. "bitstream PDU", "feedback message").

    Raises:
        IsscInputError: ``"<where> needs an integer '<key>'"`` when the field is missing, a bool or not
            an integer.
    """
    value = meta.get(key)
    if not is_int(value):
        raise IsscInputError(f"{where} needs an integer '{key}'" + (f", got {value!r}" if key in meta else ""))
    return int(value)


def meta_seq(meta: dict, where: str) -> int:
    """The frame sequence number ``meta['seq']`` (:func:`require_int` with key ``seq``)."""
    return require_int(meta, "seq", where)


def require_real(meta: dict, key: str, where: str) -> float:
    """``meta[key]`` as a ``float``; IsscInputError ``"<where> needs a real '<key>'"`` when it is missing,
    a bool or not a number (NaN and inf pass: whether they are usable is the caller's decision)."""
    value = meta.get(key)
    if not is_real(value):
        raise IsscInputError(f"{where} needs a real '{key}'" + (f", got {value!r}" if key in meta else ""))
    return float(value)


def nested_pmt(meta: dict, key: str):
    """The nested PMT value (e.g. a configuration dict) at ``meta[key]``, or None when the field is
    missing or holds a plain scalar or string, which no nested structure can be."""
    value = meta.get(key)
    if value is None or isinstance(value, (bool, int, float, str)):
        return None
    return value


def meta_to_dict(meta) -> dict:
    """A PMT dict of scalars/symbols/bools (and nested PMT values kept as PMT) to a Python dict."""
    if not pmt.is_dict(meta):
        raise IsscInputError("PDU metadata must be a PMT dict")
    out = {}
    items = pmt.dict_items(meta)
    for i in range(pmt.length(items)):
        pair = pmt.nth(i, items)
        key, value = pmt.car(pair), pmt.cdr(pair)
        if not pmt.is_symbol(key):
            continue
        name = pmt.symbol_to_string(key)
        if pmt.is_bool(value):
            out[name] = pmt.to_bool(value)
        elif pmt.is_integer(value):
            out[name] = pmt.to_long(value)
        elif pmt.is_real(value):
            out[name] = pmt.to_double(value)
        elif pmt.is_symbol(value):
            out[name] = pmt.symbol_to_string(value)
        else:
            out[name] = value
    return out


def dict_to_meta(values: dict, meta=None):
    """Python scalars/strings/bools (and PMT values) into a PMT dict."""
    meta = pmt.make_dict() if meta is None else meta
    for key, value in values.items():
        if isinstance(value, (bool, np.bool_)):
            item = pmt.from_bool(bool(value))
        elif isinstance(value, (int, np.integer)):
            item = pmt.from_long(int(value))
        elif isinstance(value, (float, np.floating)):
            item = pmt.from_double(float(value))
        elif isinstance(value, str):
            item = pmt.intern(value)
        elif value is None:
            continue
        else:
            item = value
        meta = pmt.dict_add(meta, pmt.intern(key), item)
    return meta


def split_pdu(pdu) -> tuple[dict, bytes]:
    """``(metadata dict, payload bytes)`` of a PDU with a ``u8vector`` payload."""
    if not pmt.is_pair(pdu):
        raise IsscInputError("a PDU must be a PMT pair (metadata . payload)")
    payload = pmt.cdr(pdu)
    if not pmt.is_u8vector(payload):
        raise IsscInputError("PDU payload must be a u8vector")
    return meta_to_dict(pmt.car(pdu)), uniform_vector_bytes(payload)


def is_symbol_pdu(pdu) -> bool:
    """A PDU whose payload is a ``c32vector`` (analog symbols), not bytes."""
    return pmt.is_pair(pdu) and pmt.is_c32vector(pmt.cdr(pdu))


def split_symbol_pdu(pdu) -> tuple[dict, np.ndarray]:
    """``(metadata dict, complex64 symbols)`` of a PDU with a ``c32vector`` payload."""
    if not pmt.is_pair(pdu):
        raise IsscInputError("a PDU must be a PMT pair (metadata . payload)")
    payload = pmt.cdr(pdu)
    if not pmt.is_c32vector(payload):
        raise IsscInputError("symbol PDU payload must be a c32vector")
    return meta_to_dict(pmt.car(pdu)), np.frombuffer(uniform_vector_bytes(payload), np.complex64).copy()


def make_symbol_pdu(meta: dict, symbols: np.ndarray):
    return pmt.cons(dict_to_meta(meta), c32vector(symbols))


def make_pdu(meta: dict, payload: bytes):
    return pmt.cons(dict_to_meta(meta), u8vector(payload))


def image_to_pdu(seq: int, image: np.ndarray, **extra):
    """An ``H x W x 3`` image (uint8, or float in [0, 1]) as an image PDU."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise IsscInputError(f"an image must be H x W x 3, got shape {image.shape}")
    if image.dtype != np.uint8:
        image = np.round(np.clip(np.nan_to_num(image.astype(np.float64)), 0.0, 1.0) * 255).astype(np.uint8)
    return make_pdu({"seq": int(seq), "height": image.shape[0], "width": image.shape[1], **extra}, image.tobytes())


def pdu_to_image(pdu) -> tuple[dict, np.ndarray]:
    """``(metadata, uint8 image)`` of an image PDU; checks that the size matches the shape."""
    meta, payload = split_pdu(pdu)
    height, width = meta.get("height"), meta.get("width")
    if not (is_int(height) and is_int(width) and 0 < height <= MAX_IMAGE_SIDE and 0 < width <= MAX_IMAGE_SIDE):
        raise IsscInputError(f"image PDU needs integer height and width in [1, {MAX_IMAGE_SIDE}]")
    if len(payload) != height * width * 3:
        raise IsscInputError(f"image PDU payload has {len(payload)} bytes, expected {height} x {width} x 3")
    meta_seq(meta, "image PDU")
    return meta, np.frombuffer(payload, dtype=np.uint8).reshape(height, width, 3)
