# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The frame configuration that travels with the data (docs/link.md "How a frame flows").

The controller decides a :class:`LinkConfig` per frame and sends it as a message; the semantic encoder
attaches it to the PDU's metadata; the frame encoder stamps it into the frame-start stream tag
(key :data:`FRAME_TAG`) on the first symbol; the beamformer switches beams exactly at that tag. So a
configuration can never be applied to the wrong frame.

Conversions to and from PMT dictionaries are strict: anything malformed raises
:class:`~gnuradio.issc.errors.IsscInputError` naming the field, so blocks can log and drop it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pmt

from ..errors import IsscInputError

FRAME_TAG = "issc_frame"
"""Stream-tag key of the frame start; its value is :meth:`LinkConfig.to_pmt`."""


@dataclass
class LinkConfig:
    """One frame's configuration.

    Args:
        model: codec model id.
        code_rate: ``R_c`` in bits per channel use (``info_bits / blocklength``); 0 for an analog frame.
        info_bits: ``K`` information bits per channel-code block; 0 marks an analog frame (deep JSCC
            symbols, no channel code), which must have ``code_rate`` 0 too.
        w_c: communication beam, ``N_T`` complex.
        w_0: sensing beams, ``N_T x r_0`` complex.
        seq: frame sequence number (set by the transmitter, -1 until then).
        predicted: what the optimiser predicts (``sinr_db``, ``distortion``, ``hcrb_trace``, ``feasible``...).
    """

    model: str
    code_rate: float
    info_bits: int
    w_c: np.ndarray
    w_0: np.ndarray
    seq: int = -1
    predicted: dict = field(default_factory=dict)

    def __post_init__(self):
        self.w_c = np.asarray(self.w_c, dtype=np.complex128).reshape(-1)
        self.w_0 = np.asarray(self.w_0, dtype=np.complex128)
        if self.w_0.ndim == 1:
            self.w_0 = self.w_0.reshape(-1, 1)
        if self.w_0.shape[0] != self.w_c.shape[0]:
            raise IsscInputError(f"w_0 has {self.w_0.shape[0]} rows but w_c has {self.w_c.shape[0]} antennas")
        if not (np.all(np.isfinite(self.w_c)) and np.all(np.isfinite(self.w_0))):
            raise IsscInputError("beams must be finite")
        if not (isinstance(self.model, str) and self.model):
            raise IsscInputError(f"model must be a non-empty string, got {self.model!r}")
        if not (np.isfinite(self.code_rate) and self.code_rate >= 0):
            raise IsscInputError(f"code_rate must be >= 0, got {self.code_rate!r}")
        if int(self.info_bits) != self.info_bits or self.info_bits < 0:
            raise IsscInputError(f"info_bits must be an integer >= 0, got {self.info_bits!r}")
        self.info_bits = int(self.info_bits)
        if (self.info_bits == 0) != (self.code_rate == 0):
            raise IsscInputError(
                "info_bits and code_rate must both be 0 (an analog frame) or both > 0, got "
                f"{self.info_bits} and {self.code_rate!r}"
            )

    @property
    def analog(self) -> bool:
        """An analog (deep JSCC) frame: symbols straight from the source, no channel code."""
        return self.info_bits == 0

    @property
    def n_tx(self) -> int:
        return self.w_c.shape[0]

    @property
    def sensing_streams(self) -> int:
        return self.w_0.shape[1]

    @property
    def beam_matrix(self) -> np.ndarray:
        """``[w_c, W_0]``: ``N_T x (1 + r_0)``, so ``x = B [s_c; s_0]``."""
        return np.concatenate([self.w_c[:, None], self.w_0], axis=1)

    def for_frame(self, seq: int) -> LinkConfig:
        """A copy for frame ``seq`` (its own ``predicted`` dict), the one that travels with that frame."""
        return LinkConfig(
            self.model, self.code_rate, self.info_bits, self.w_c, self.w_0, int(seq), dict(self.predicted)
        )

    @classmethod
    def from_decision(cls, decision, seq: int = -1) -> LinkConfig:
        """From an :class:`~gnuradio.issc.optim.FrameDecision`."""
        predicted = {
            "sinr_db": decision.sinr_db,
            "log10_ber": decision.log10_ber,
            "distortion": decision.distortion,
            "metric": decision.metric,
            "hcrb_trace": decision.hcrb_trace,
            "feasible": decision.feasible,
            "solver": decision.solver,
            "power_w": decision.power_w,
            **decision.predictions,
        }
        return cls(
            decision.model, decision.code_rate, decision.info_bits_per_block, decision.w_c, decision.w_0, seq, predicted
        )

    # -- PMT ------------------------------------------------------------------------------------------
    def to_pmt(self):
        d = pmt.make_dict()
        d = pmt.dict_add(d, pmt.intern("model"), pmt.intern(self.model))
        d = pmt.dict_add(d, pmt.intern("code_rate"), pmt.from_double(float(self.code_rate)))
        d = pmt.dict_add(d, pmt.intern("info_bits"), pmt.from_long(self.info_bits))
        d = pmt.dict_add(d, pmt.intern("seq"), pmt.from_long(int(self.seq)))
        d = pmt.dict_add(d, pmt.intern("w_c"), pmt.init_c64vector(self.n_tx, self.w_c.tolist()))
        d = pmt.dict_add(d, pmt.intern("w_0"), pmt.init_c64vector(self.w_0.size, self.w_0.reshape(-1).tolist()))
        d = pmt.dict_add(d, pmt.intern("sensing_streams"), pmt.from_long(self.sensing_streams))
        pred = pmt.make_dict()
        for key, value in self.predicted.items():
            if isinstance(value, (bool, np.bool_)):
                pred = pmt.dict_add(pred, pmt.intern(key), pmt.from_bool(bool(value)))
            elif isinstance(value, (int, float, np.integer, np.floating)) and np.isfinite(value):
                pred = pmt.dict_add(pred, pmt.intern(key), pmt.from_double(float(value)))
            elif isinstance(value, str):
                pred = pmt.dict_add(pred, pmt.intern(key), pmt.intern(value))
        return pmt.dict_add(d, pmt.intern("predicted"), pred)

    @classmethod
    def from_pmt(cls, value) -> LinkConfig:
        if not pmt.is_dict(value):
            raise IsscInputError("frame configuration must be a PMT dict")

        def get(key, check, convert, what):
            item = pmt.dict_ref(value, pmt.intern(key), pmt.PMT_NIL)
            if pmt.is_null(item) or not check(item):
                raise IsscInputError(f"frame configuration field '{key}' must be {what}")
            return convert(item)

        model = get("model", pmt.is_symbol, pmt.symbol_to_string, "a symbol")
        code_rate = get("code_rate", lambda x: pmt.is_real(x) or pmt.is_integer(x), pmt.to_double, "a number")
        info_bits = get("info_bits", pmt.is_integer, pmt.to_long, "an integer")
        seq = get("seq", pmt.is_integer, pmt.to_long, "an integer")
        w_c = np.array(get("w_c", pmt.is_c64vector, pmt.c64vector_elements, "a c64vector"))
        w_0_flat = np.array(get("w_0", pmt.is_c64vector, pmt.c64vector_elements, "a c64vector"))
        streams = get("sensing_streams", pmt.is_integer, pmt.to_long, "an integer")
        if streams < 1 or w_0_flat.size != streams * w_c.size:
            raise IsscInputError(
                f"frame configuration: w_0 has {w_0_flat.size} entries, expected {w_c.size} x {streams}"
            )
        predicted = {}
        pred = pmt.dict_ref(value, pmt.intern("predicted"), pmt.PMT_NIL)
        if pmt.is_dict(pred):
            items = pmt.dict_items(pred)
            for i in range(pmt.length(items)):
                pair = pmt.nth(i, items)
                key, item = pmt.symbol_to_string(pmt.car(pair)), pmt.cdr(pair)
                if pmt.is_bool(item):
                    predicted[key] = pmt.to_bool(item)
                elif pmt.is_real(item):
                    predicted[key] = pmt.to_double(item)
                elif pmt.is_symbol(item):
                    predicted[key] = pmt.symbol_to_string(item)
        return cls(model, code_rate, info_bits, w_c, w_0_flat.reshape(w_c.size, streams), seq, predicted)
