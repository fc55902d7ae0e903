# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Polar codes from gr-fec, called per codeword (docs/install.md: ``generic_work`` on NumPy buffers).

gr-fec's polar encoder and successive-cancellation list decoder are the code of the link: a fixed
blocklength ``N`` (a power of two) and any number ``K`` of information bits, so the rate adapts per
frame without changing the frame structure. The frozen set is the library's Bhattacharyya (BEC)
construction (its AWGN construction crashes with NumPy >= 1.24) with a rate-dependent design point
(:func:`design_erasure`) instead of one fixed SNR for every ``K``.

LLR convention of gr-fec's polar decoders: negative means bit 0.
"""

from __future__ import annotations

import ctypes
import functools
import threading

import numpy as np
from gnuradio import fec
from gnuradio.fec.polar import channel_construction

from ..service_process import ServiceProcess, ServiceProcessError

_capsule_new = ctypes.pythonapi.PyCapsule_New
_capsule_new.restype = ctypes.py_object
_capsule_new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]


def _capsule(array: np.ndarray):
    return _capsule_new(array.ctypes.data, None, None)


def design_erasure(block_size: int, info_bits: int) -> float:
    """Erasure probability ``eta`` of the BEC used to construct the frozen set.

    ``eta = exp(-Es/N0)`` (the Bhattacharyya parameter of BPSK at ``Es/N0`` per coded bit), designed at
    the ``Es/N0`` where the code rate is 40 % of the binary-input capacity (Gaussian form
    ``0.5 log2(1 + 2 Es/N0)``, capped at 0.99). Measured here: a fixed design (gr-fec's 0 dB) loses
    about 2 dB at low rates (header BLER 0.5 at -6.4 dB SINR for rate 0.08, against 0.0 with this rule).
    """
    rate = info_bits / block_size
    capacity = min(2.5 * rate, 0.99)
    es_n0 = (2.0 ** (2.0 * capacity) - 1.0) / 2.0
    return float(np.exp(-es_n0))


class PolarCode:
    """One polar code ``(N, K)``: encode ``K`` bits to ``N``, list-decode ``N`` LLRs to ``K`` bits.

    Args:
        block_size: ``N`` coded bits (a power of two, >= 8).
        info_bits: ``K`` information bits, ``1 <= K < N``.
        list_size: list size of the SCL decoder (1 = plain successive cancellation).
    """

    def __init__(self, block_size: int, info_bits: int, list_size: int = 8):
        if block_size < 8 or block_size & (block_size - 1):
            raise ValueError(f"polar block size must be a power of two >= 8, got {block_size}")
        if not 1 <= info_bits < block_size:
            raise ValueError(f"polar info bits must be in [1, {block_size - 1}], got {info_bits}")
        if list_size < 1:
            raise ValueError(f"list size must be >= 1, got {list_size}")
        self.block_size, self.info_bits, self.list_size = int(block_size), int(info_bits), int(list_size)
        frozen = [
            int(i)
            for i in channel_construction.get_bec_frozen_indices(
                self.block_size, self.block_size - self.info_bits, design_erasure(self.block_size, self.info_bits)
            )
        ]
        values = [0] * len(frozen)
        self._encoder = fec.polar_encoder.make(self.block_size, self.info_bits, frozen, values, False)
        if self.list_size == 1:
            self._decoder = fec.polar_decoder_sc.make(self.block_size, self.info_bits, frozen, values)
        else:
            self._decoder = fec.polar_decoder_sc_list.make(
                self.list_size, self.block_size, self.info_bits, frozen, values
            )
        self._lock = threading.Lock()  # the coder objects keep per-call state

    def _per_codeword(self, coder, rows: np.ndarray, out_width: int) -> np.ndarray:
        """Run a gr-fec coder's ``generic_work`` on each row (one codeword) into a ``rows x out_width``
        uint8 array; the coder objects keep per-call state, hence the lock."""
        out = np.zeros((rows.shape[0], out_width), np.uint8)
        with self._lock:
            for row_in, row_out in zip(rows, out):
                coder.generic_work(_capsule(np.ascontiguousarray(row_in)), _capsule(row_out))
        return out

    @property
    def rate(self) -> float:
        return self.info_bits / self.block_size

    def encode(self, bits: np.ndarray) -> np.ndarray:
        """``(blocks, K)`` or ``(blocks * K,)`` bits (0/1) -> ``(blocks, N)`` uint8 coded bits."""
        bits = np.ascontiguousarray(np.asarray(bits, dtype=np.uint8).reshape(-1, self.info_bits))
        return self._per_codeword(self._encoder, bits, self.block_size)

    def decode(self, llrs: np.ndarray) -> np.ndarray:
        """``(blocks, N)`` LLRs (``log P(0)/P(1)``, positive means 0) -> ``(blocks, K)`` uint8 bits."""
        # gr-fec wants the opposite sign; non-finite LLRs carry no information
        llrs = np.nan_to_num(
            -np.asarray(llrs, dtype=np.float32).reshape(-1, self.block_size), nan=0.0, posinf=1e4, neginf=-1e4
        )
        llrs = np.ascontiguousarray(np.clip(llrs, -1e4, 1e4))
        return self._per_codeword(self._decoder, llrs, self.info_bits)


@functools.lru_cache(maxsize=64)
def polar_code(block_size: int, info_bits: int, list_size: int = 8) -> PolarCode:
    """A cached :class:`PolarCode` (building the frozen set and the decoder takes milliseconds)."""
    return PolarCode(block_size, info_bits, list_size)


class PolarDecoding:
    """A :class:`~gnuradio.issc.service_process.ServiceProcess` service: ``(block_size, info_bits,
    list_size, llrs)`` -> :meth:`PolarCode.decode` of the cached code."""

    def __call__(self, request: tuple) -> np.ndarray:
        block_size, info_bits, list_size, llrs = request
        return polar_code(block_size, info_bits, list_size).decode(llrs)


class PolarProcessError(ServiceProcessError):
    """The polar decoder's child process failed, died or did not answer."""


class PolarProcess(ServiceProcess):
    """Polar list decoding in a child process.

    gr-fec's decoder binding keeps the interpreter lock for a whole call (about 0.34 ms a 512-bit
    codeword with list 8, some 20 ms a frame of the link): in the child it runs beside the flowgraph's
    Python blocks instead of stopping them. Same bits as :meth:`PolarCode.decode` here (the same code
    on the same float32 LLRs).

    Args:
        timeout_s: longest wait for one answer (the first also waits for the child's imports).
    """

    error = PolarProcessError

    def __init__(self, timeout_s: float = 30.0):
        super().__init__(PolarDecoding(), "polar decoder", timeout_s)

    def decode(self, code: PolarCode, llrs: np.ndarray) -> np.ndarray:
        """``code.decode(llrs)``, in the child.

        Raises:
            PolarProcessError: the child died, failed or did not answer within ``timeout_s``.
        """
        # float32 is what the decoder takes: half the bytes through the pipe, the same bits
        request = (code.block_size, code.info_bits, code.list_size, np.asarray(llrs, dtype=np.float32))
        return self.call(request)
