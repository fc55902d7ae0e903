# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The PDU payload copies (link/pdus.py: one memmove through PMT's data pointer instead of a Python list)
against PMT's own element-by-element converters, for every length that matters (empty, odd, an image),
and non-finite symbols kept bit for bit."""

import numpy as np
import pmt
import pytest

from gnuradio.issc.link.pdus import (
    c32vector,
    image_to_pdu,
    make_pdu,
    pdu_to_image,
    split_pdu,
    split_symbol_pdu,
    u8vector,
    uniform_vector_bytes,
)


@pytest.mark.parametrize("size", [0, 1, 7, 256 * 256 * 3])
def test_u8vectors_equal_pmts_own_both_ways(size):
    data = np.random.default_rng(size).integers(0, 256, size, np.uint8).tobytes()
    reference = pmt.init_u8vector(size, list(data))
    assert pmt.equal(u8vector(data), reference)
    assert pmt.equal(u8vector(bytearray(data)), reference) and pmt.equal(u8vector(memoryview(data)), reference)
    assert uniform_vector_bytes(reference) == data == bytes(pmt.u8vector_elements(reference))
    meta, payload = split_pdu(make_pdu({"seq": 3}, data))
    assert meta == {"seq": 3} and payload == data


@pytest.mark.parametrize("size", [0, 1, 1000])
def test_c32vectors_equal_pmts_own_both_ways_non_finite_included(size):
    rng = np.random.default_rng(size)
    symbols = (rng.normal(size=size) + 1j * rng.normal(size=size)).astype(np.complex64)
    symbols[:1] = complex(np.nan, -np.inf)
    reference = pmt.init_c32vector(size, symbols.tolist())
    built = np.asarray(pmt.c32vector_elements(c32vector(symbols)), np.complex64)
    assert np.array_equal(built, symbols, equal_nan=True)
    _, read = split_symbol_pdu(pmt.cons(pmt.make_dict(), reference))
    assert read.dtype == np.complex64 and read.flags.writeable
    assert np.array_equal(read, symbols, equal_nan=True)


def test_an_image_survives_the_pdu_and_a_strided_view_is_copied_in_order():
    image = np.random.default_rng(1).integers(0, 256, (48, 64, 3), np.uint8)
    flipped = image[:, ::-1]  # not contiguous
    meta, back = pdu_to_image(image_to_pdu(5, flipped, sinr_db=1.5))
    assert meta["seq"] == 5 and meta["sinr_db"] == 1.5
    assert np.array_equal(back, flipped)
