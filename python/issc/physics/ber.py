# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Finite-blocklength bit-error model (docs/model.md §3), computed in the log domain.

``eps_b = Q( sqrt(L) (C(gamma) - R_c) ln2 / sqrt(V(gamma)) )`` with ``C = log2(1+gamma)`` and
``V = 1 - 1/(1+gamma)^2`` (the normal approximation as in the MU-ASCC paper, eq. 8), and
``rho_b = eps_b / (R_c L)``. BERs as small as 1e-300 occur at high SINR, so everything is done
with ``log Q(x) = log_ndtr(-x)``, which stays finite far beyond where ``Q`` underflows.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_ndtr

from ..errors import IsscInputError

LN10 = np.log(10.0)


def capacity(sinr):
    """Shannon capacity ``log2(1 + gamma)`` in bits per channel use."""
    return np.log2(1.0 + np.asarray(sinr, dtype=float))


def dispersion(sinr):
    """Channel dispersion ``V = 1 - 1/(1+gamma)^2`` (in nats^2, as in the normal approximation)."""
    return 1.0 - 1.0 / (1.0 + np.asarray(sinr, dtype=float)) ** 2


def log_block_error(sinr, rate, blocklength):
    """Natural log of the block error probability ``eps_b``."""
    sinr = np.asarray(sinr, dtype=float)
    rate = np.asarray(rate, dtype=float)
    margin = (capacity(sinr) - rate) * np.log(2.0) * np.sqrt(float(blocklength))
    v = dispersion(sinr)
    with np.errstate(divide="ignore", invalid="ignore"):
        # gamma -> 0 gives V -> 0 with C - R < 0: the argument tends to -inf and eps_b -> 1.
        argument = np.where(v > 0, margin / np.sqrt(np.where(v > 0, v, 1.0)), -np.inf)
    return log_ndtr(-argument)


def log10_ber(sinr, rate, blocklength):
    """``log10 rho_b`` for linear SINR ``gamma >= 0``, code rate ``R_c > 0`` (bits per channel
    use) and blocklength ``L >= 1``. Finite for every valid input."""
    _validate(sinr, rate, blocklength)
    rate = np.asarray(rate, dtype=float)
    log_rho = log_block_error(sinr, rate, blocklength) - np.log(rate * float(blocklength))
    return log_rho / LN10


def ber(sinr, rate, blocklength):
    """``rho_b`` itself (underflows to 0 below ~1e-308: prefer :func:`log10_ber`)."""
    return 10.0 ** log10_ber(sinr, rate, blocklength)


def _validate(sinr, rate, blocklength):
    sinr, rate = np.asarray(sinr, dtype=float), np.asarray(rate, dtype=float)
    if not np.all(np.isfinite(sinr)) or np.any(sinr < 0):
        raise IsscInputError("sinr must be finite and >= 0 (linear)")
    if not np.all(np.isfinite(rate)) or np.any(rate <= 0):
        raise IsscInputError("rate must be finite and > 0 bits per channel use")
    if isinstance(blocklength, bool) or int(blocklength) != blocklength or blocklength < 1:
        raise IsscInputError("blocklength must be an integer >= 1")
