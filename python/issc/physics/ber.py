# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Finite-blocklength bit-error model (docs/model.md §3), computed in the log domain.

``eps_b = Q( sqrt(L) (C(gamma) - R_c) ln2 / sqrt(V(gamma)) )`` with ``C = log2(1+gamma)`` and
``V = 1 - 1/(1+gamma)^2`` (the normal approximation as in the MU-ASCC paper, eq. 8), and
``rho_b = min(eps_b / (R_c L), 1/2)``. BERs as small as 1e-300 occur at high SINR, so everything is done
with ``log Q(x) = log_ndtr(-x)``, which stays finite far beyond where ``Q`` underflows.

Domain: linear SINR ``gamma >= 0`` and code rate ``R_c > 0``, both finite, blocklength ``L`` an integer in
``[1, MAX_BLOCKLENGTH]``, and at least one information bit per block, ``K = R_c L >= 1``: the model counts
one wrong bit among the ``K`` of a failed block, so for ``K < 1`` its ``eps_b / K`` is no probability at all
(``R_c = 0.002, L = 1`` gave 205). Outside the domain :class:`IsscInputError`. Inside it ``eps_b / K`` is
at most 1, and above 1/2 only for ``1 <= K < 2`` with ``eps_b > K/2``; there it is capped at 1/2, the BER
of a receiver that ignores the channel and guesses (a BER above 1/2 is undone by inverting the bits), the
same cap the calibrated model applies. Every value in the domain is finite: ``C``, ``V`` and ``log(R_c L)``
are evaluated so that none of them overflows or cancels (``V = -expm1(-2 log1p(gamma))``).
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_ndtr

from ..errors import IsscInputError

LN10 = np.log(10.0)
LOG_HALF = np.log(0.5)
MAX_BLOCKLENGTH = 10**9
"""Longest blocklength the model accepts (far beyond any code here; keeps ``sqrt(L)`` and ``R_c L`` exact)."""


def capacity(sinr):
    """Shannon capacity ``log2(1 + gamma)`` in bits per channel use."""
    return np.log1p(np.asarray(sinr, dtype=float)) / np.log(2.0)


def dispersion(sinr):
    """Channel dispersion ``V = 1 - 1/(1+gamma)^2`` (in nats^2, as in the normal approximation), computed as
    ``-expm1(-2 log1p(gamma))``: no cancellation at small ``gamma`` (``V ~ 2 gamma``), no overflow at large."""
    return -np.expm1(-2.0 * np.log1p(np.asarray(sinr, dtype=float)))


def log_block_error(sinr, rate, blocklength):
    """Natural log of the block error probability ``eps_b``."""
    sinr = np.asarray(sinr, dtype=float)
    rate = np.asarray(rate, dtype=float)
    v = dispersion(sinr)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # a rate far above capacity overflows the margin to -inf: eps_b -> 1, the right limit
        margin = (capacity(sinr) - rate) * np.log(2.0) * np.sqrt(float(blocklength))
        # gamma -> 0 gives V -> 0 with C - R < 0: the argument tends to -inf and eps_b -> 1.
        argument = np.where(v > 0, margin / np.sqrt(np.where(v > 0, v, 1.0)), -np.inf)
    return log_ndtr(-argument)


def log10_ber(sinr, rate, blocklength):
    """``log10 rho_b`` for linear SINR ``gamma >= 0``, code rate ``R_c > 0`` (bits per channel use) and
    blocklength ``L >= 1`` with ``R_c L >= 1`` (module doc). Finite for every valid input, at most
    ``log10(1/2)``."""
    _validate(sinr, rate, blocklength)
    rate = np.asarray(rate, dtype=float)
    # log(R_c) + log(L) rather than log(R_c L): no overflow for any finite rate
    log_rho = log_block_error(sinr, rate, blocklength) - (np.log(rate) + np.log(float(blocklength)))
    return np.minimum(log_rho, LOG_HALF) / LN10


def ber(sinr, rate, blocklength):
    """``rho_b`` itself (underflows to 0 below ~1e-308: prefer :func:`log10_ber`)."""
    return 10.0 ** log10_ber(sinr, rate, blocklength)


def _validate(sinr, rate, blocklength):
    sinr, rate = np.asarray(sinr, dtype=float), np.asarray(rate, dtype=float)
    if not np.all(np.isfinite(sinr)) or np.any(sinr < 0):
        raise IsscInputError("sinr must be finite and >= 0 (linear)")
    if not np.all(np.isfinite(rate)) or np.any(rate <= 0):
        raise IsscInputError("rate must be finite and > 0 bits per channel use")
    if (
        isinstance(blocklength, bool)
        or not isinstance(blocklength, (int, np.integer, float))
        or not np.isfinite(blocklength)
        or int(blocklength) != blocklength
        or not 1 <= blocklength <= MAX_BLOCKLENGTH
    ):
        raise IsscInputError(f"blocklength must be an integer in [1, {MAX_BLOCKLENGTH}], got {blocklength!r}")
    smallest = float(np.min(rate)) * float(blocklength) if rate.size else 1.0
    # 1e-12: a rate computed as K / L for an integer K may round a hair below K / L
    if smallest < 1.0 - 1e-12:
        raise IsscInputError(
            f"rate * blocklength must be >= 1 (at least one information bit per block, where rho_b = "
            f"eps_b / (R_c L) is a bit-error probability), got R_c L = {smallest:.4g}"
        )
