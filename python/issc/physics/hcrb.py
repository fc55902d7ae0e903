# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hybrid Cramer-Rao bound of the target position (docs/model.md §5, paper Sec. III-B).

Parameters ``mu = (o_x, o_y, delta)`` with the sync error ``delta = c * dtau`` in metres, so the
three parameters share a unit and the Fisher matrices are well conditioned. For every frequency bin
the echo response is ``G_k(mu) = exp(-j w_k tau(mu)) H_0(mu)`` and the data FIM is

    J_D[a, b] = (2 / sigma_s^2) Re tr( zeta_ab Sigma ),   zeta_ab = sum_k (dG_k/dmu_a)^H (dG_k/dmu_b),

linear in the transmit covariance ``Sigma``. The six distinct ``zeta_ab`` depend on the geometry
only, so :class:`FisherModel` computes them once and every FIM afterwards costs six traces.
With the Gaussian prior on the sync error, ``J = J_D + diag(0, 0, 1/(c sigma_dt)^2)`` and the HCRB
of the position is the 2x2 block of ``J^-1``; the CRB without sync error is ``J_D,pp^-1``. Both go
through :func:`position_bound_from_fim`, the one place that inverts a FIM and decides identifiability.
"""

from __future__ import annotations

import math

import numpy as np

from ..scenario import Scenario, load_scenario
from ..units import SPEED_OF_LIGHT
from .geometry import Geometry, angle_gradient, bistatic_range_gradient, noise_powers_w, steering_vector_derivative

PARAMETERS = ("o_x", "o_y", "delta")
# Identifiability: the position information (Schur complement) must have its smaller eigenvalue above
# this fraction of the larger one. 1e-12 is four decades above the rounding error of a 2x2 determinant
# (~1e-16 of the larger eigenvalue squared), so the test never depends on rounding, and far below the
# conditioning of any bound that a design could use (a ratio of 1e-12 means a bound 1e12 times worse
# in one direction than in the other).
SINGULAR_RCOND = 1e-12


def position_bound_from_fim(fim, delta_known: bool = False) -> np.ndarray:
    """The 2x2 bound (m^2) on the position: the position block of ``J^-1`` for the 3x3 FIM ``J`` of
    ``(o_x, o_y, delta)``, i.e. the inverse of the Schur complement ``S = J_pp - J_pd J_dp / J_dd``.

    This is the only place that inverts a FIM: the HCRB, the CRB and the optimisers' line searches all
    call it, so they agree on which designs are identifiable.

    "Not identifiable" (a 2x2 matrix of inf) when the smaller eigenvalue of the symmetrised ``S``,
    computed as ``det S / lambda_max``, is not above ``SINGULAR_RCOND * lambda_max`` (this includes
    ``S`` indefinite, zero, or not finite), or when ``J_dd <= 0`` with ``delta`` unknown.

    The FIM is first divided by a power of two near its largest entry, then ``S`` by one near its own
    (exact, so the result is bit-identical to the unscaled formula wherever that neither overflows nor
    underflows): a FIM with entries near the
    largest double (a covariance of 1e300 W) gives its bound instead of an overflow to inf.

    Args:
        fim: the 3x3 FIM including the prior on ``delta`` (1/m^2). ``J_dd = inf`` (perfect
            synchronisation, :meth:`FisherModel.fim`) means ``delta`` is known.
        delta_known: use ``J_pp`` alone (the CRB without sync error) whatever ``J_dd`` is.
    """
    j = np.asarray(fim, float)
    unidentifiable = np.full((2, 2), np.inf)
    known = delta_known or j[2, 2] == np.inf
    if not known and not j[2, 2] > 0:
        return unidentifiable
    finite = np.abs(j[:2, :2] if known else j)
    size = float(finite.max())
    if not (math.isfinite(size) and size > 0):
        return unidentifiable
    s = math.ldexp(1.0, math.frexp(size)[1] - 1)  # a power of two: J / s is exact, no product overflows
    j = j / s
    if known:
        schur = j[:2, :2]
    else:
        schur = j[:2, :2] - np.outer(j[:2, 2], j[2, :2]) / j[2, 2]
    # and S by a power of two near its own size (J_dd >> J_pp would leave S so small that det S underflows)
    top = float(np.abs(schur).max())
    if not (math.isfinite(top) and top > 0):
        return unidentifiable
    t = math.ldexp(1.0, math.frexp(top)[1] - 1)
    schur = schur / t
    a, c = float(schur[0, 0]), float(schur[1, 1])
    b = 0.5 * (float(schur[0, 1]) + float(schur[1, 0]))
    # closed form for [[a, b], [b, c]]: the larger eigenvalue, and the smaller as det / larger (at the
    # threshold the determinant's rounding error, ~1e-16 larger^2, is 1e-4 of its value)
    largest = 0.5 * (a + c) + np.hypot(0.5 * (a - c), b)
    det = a * c - b * b
    if not (largest > 0 and det / largest > SINGULAR_RCOND * largest):
        return unidentifiable
    with np.errstate(over="ignore"):  # a bound beyond the double range is inf: not usable, as unidentifiable
        return np.array([[c, -b], [-b, a]]) / det / t / s


def angular_frequencies(n_samples: int, bandwidth_hz: float) -> np.ndarray:
    """``w_k = 2 pi f_k`` with the centred grid ``f_k = fftfreq(N, 1/B)`` (docs/model.md §4)."""
    return 2.0 * np.pi * np.fft.fftfreq(n_samples, d=1.0 / bandwidth_hz)


def pulse_spectrum(n_samples: int, samples_per_symbol: int = 1, rolloff: float = 0.35) -> np.ndarray:
    """Relative power of the transmitted samples in each frequency bin ``fftfreq(N)``, averaging 1 (unit
    power per sample): all ones for white samples (one symbol per sample), the raised-cosine spectrum of
    RRC pulses at ``samples_per_symbol`` (``1`` up to ``(1 - a) / (2 sps)`` of the sample rate, the cosine
    roll-off to ``(1 + a) / (2 sps)``, zero beyond).

    Args:
        n_samples: bins ``N``.
        samples_per_symbol: samples per symbol (1: white).
        rolloff: the RRC roll-off ``a`` in (0, 1].
    """
    if int(samples_per_symbol) <= 1:
        return np.ones(int(n_samples))
    a = float(rolloff)
    nu = np.abs(np.fft.fftfreq(int(n_samples))) * int(samples_per_symbol)  # cycles per symbol
    edge = (1.0 - a) / 2.0
    spectrum = np.where(nu <= edge, 1.0, np.where(nu <= (1 + a) / 2, 0.5 * (1 + np.cos(np.pi / a * (nu - edge))), 0.0))
    return spectrum * (spectrum.size / spectrum.sum())


class FisherModel:
    """The FIM of ``(o_x, o_y, delta)`` as a linear function of ``Sigma``, for one geometry.

    With pulse-shaped samples (``samples_per_symbol > 1``) the transmit covariance of bin ``k`` is
    ``Sigma S_k`` with the pulse's spectrum ``S`` (:func:`pulse_spectrum`, mean 1), so the sums over the
    bins become ``sum_k S_k``, ``sum_k w_k S_k`` and ``sum_k w_k^2 S_k``: the delay information scales
    with the mean square bandwidth, ``(1 + a^2 (3 - 24 / pi^2)) / sps^2`` of the white samples' at the
    same sample rate (``a`` the roll-off), the angle information is unchanged.

    Args:
        geometry: the scene.
        sensing_noise_w: ``sigma_s^2`` per receive antenna, watts.
        n_samples: sensing block length ``N``.
        bandwidth_hz: ``B``, the sample rate.
        sync_sigma_s: ``sigma_dt`` in seconds (0: perfect synchronisation).
        samples_per_symbol: samples per symbol of the transmitted streams (1: white samples).
        rolloff: their RRC roll-off (``samples_per_symbol > 1``).
    """

    def __init__(
        self,
        geometry: Geometry,
        sensing_noise_w: float,
        n_samples: int,
        bandwidth_hz: float,
        sync_sigma_s: float,
        samples_per_symbol: int = 1,
        rolloff: float = 0.35,
    ):
        self.geometry = geometry
        self.sensing_noise_w = float(sensing_noise_w)
        self.n_samples = int(n_samples)
        self.bandwidth_hz = float(bandwidth_hz)
        self.sync_sigma_s = float(sync_sigma_s)
        self.samples_per_symbol = int(samples_per_symbol)
        self.rolloff = float(rolloff)
        self.zeta = self._zeta_matrices()
        # J_D[a,b] = Re tr(zeta_ab Sigma) * scale; tr(A Sigma) = sum(A^T * Sigma) as a vectorised map
        self.fim_scale = 2.0 / self.sensing_noise_w
        self._zeta_t = np.ascontiguousarray(np.transpose(self.zeta, (0, 1, 3, 2)))

    @classmethod
    def from_scenario(cls, scenario: Scenario | str, target=None, sync_sigma_ns: float | None = None):
        scn = load_scenario(scenario)
        _, sigma_s2 = noise_powers_w(scn)
        sigma_ns = scn.sync.sigma_ns if sync_sigma_ns is None else sync_sigma_ns
        return cls(
            Geometry.from_scenario(scn, target=target),
            sigma_s2,
            scn.signal.sensing_block,
            scn.signal.bandwidth_hz,
            sigma_ns * 1e-9,
            scn.signal.samples_per_symbol,
            scn.signal.rolloff,
        )

    # -- the geometry-only part -------------------------------------------------------------
    def echo_derivatives(self):
        """``(H_0, [dH_0/dmu_a], [dtau/dmu_a])`` with tau in seconds and mu in metres."""
        g = self.geometry
        a_t, a_r = g.a_tx(g.theta), g.a_rx(g.phi)
        da_t = steering_vector_derivative(g.n_tx, g.theta, g.spacing)
        da_r = steering_vector_derivative(g.n_rx, g.phi, g.spacing)
        grad_theta = angle_gradient(g.tx, g.target)
        grad_phi = angle_gradient(g.sensing_rx, g.target)
        h0 = g.beta_0 * np.outer(a_r, a_t.conj())
        # beta_0 is a known constant (docs/model.md §1): only the steering vectors move with p_o
        dh_dphi = g.beta_0 * np.outer(da_r, a_t.conj())
        dh_dtheta = g.beta_0 * np.outer(a_r, da_t.conj())
        d_h = [dh_dphi * grad_phi[i] + dh_dtheta * grad_theta[i] for i in range(2)]
        d_h.append(np.zeros_like(h0))
        d_tau = list(bistatic_range_gradient(g.tx, g.target, g.sensing_rx) / SPEED_OF_LIGHT) + [1.0 / SPEED_OF_LIGHT]
        return h0, d_h, d_tau

    def _zeta_matrices(self) -> np.ndarray:
        h0, d_h, d_tau = self.echo_derivatives()
        w = angular_frequencies(self.n_samples, self.bandwidth_hz)
        if self.samples_per_symbol > 1:  # the bins weighted by the pulse's spectrum
            weight = pulse_spectrum(self.n_samples, self.samples_per_symbol, self.rolloff)
            s0, s1, s2 = float(weight.sum()), float((w * weight).sum()), float((w * w * weight).sum())
        else:
            s0, s1, s2 = float(len(w)), float(w.sum()), float((w * w).sum())
        n_tx = h0.shape[1]
        zeta = np.empty((3, 3, n_tx, n_tx), dtype=complex)
        hh = h0.conj().T @ h0
        for a in range(3):
            for b in range(3):
                # sum_k (D_a - j w_k t_a H)^H (D_b - j w_k t_b H), expanded with the sums of w_k
                zeta[a, b] = (
                    s0 * d_h[a].conj().T @ d_h[b]
                    + 1j * s1 * d_tau[a] * h0.conj().T @ d_h[b]
                    - 1j * s1 * d_tau[b] * d_h[a].conj().T @ h0
                    + s2 * d_tau[a] * d_tau[b] * hh
                )
        return zeta

    # -- Fisher information and bounds ------------------------------------------------------
    @property
    def prior_information(self) -> float:
        """``1 / (c sigma_dt)^2`` in 1/m^2 (inf for perfect synchronisation)."""
        spread_m = SPEED_OF_LIGHT * self.sync_sigma_s
        if spread_m == 0:
            return np.inf
        # spread^2 overflows (a Python OverflowError) beyond 1e154 m; (1/spread)^2 then underflows to 0 instead
        return 1.0 / spread_m**2 if spread_m < 1e150 else (1.0 / spread_m) ** 2

    def data_fim(self, sigma: np.ndarray) -> np.ndarray:
        """``J_D`` (3x3, 1/m^2) for the transmit covariance ``Sigma`` (watts)."""
        sigma = np.asarray(sigma, dtype=complex)
        return self.fim_scale * np.einsum("abij,ij->ab", self._zeta_t, sigma).real

    def fim(self, sigma: np.ndarray) -> np.ndarray:
        """``J = J_D + J_B`` (3x3); with perfect sync the delta entry is inf."""
        j = self.data_fim(sigma)
        j[2, 2] += self.prior_information
        return j

    def hcrb(self, sigma: np.ndarray) -> np.ndarray:
        """2x2 HCRB of the position in m^2 (``(J_pp - J_pd J_dd^-1 J_dp)^-1``); inf if unidentifiable.

        Evaluated as ``(J_D(Sigma/p) + J_B/p)^-1 / p`` (:meth:`scaled_bounds`): the same numbers as the
        direct formula, and finite for any finite covariance whose bound is a double (1e300 W included)."""
        bound, _, p = self.scaled_bounds(sigma, crb=False)
        return _divide(bound, p)

    def crb(self, sigma: np.ndarray) -> np.ndarray:
        """2x2 CRB of the position without sync error (delta known): ``J_D,pp^-1`` (scaled as :meth:`hcrb`)."""
        _, bound, p = self.scaled_bounds(sigma, hcrb=False)
        return _divide(bound, p)

    def scaled_bounds(self, sigma: np.ndarray, hcrb: bool = True, crb: bool = True):
        """``(H, C, p)`` with HCRB ``= H / p`` and CRB ``= C / p`` for a power of two ``p`` near the largest
        entry of ``Sigma`` (exact scaling; 1 for a zero or non-finite ``Sigma``). ``H``, ``C``: inf when not
        identifiable (None where not asked for); a finite ``H`` with an infinite ``H / p`` is a bound beyond
        the double range (a power near 1e-308 W), not an unidentifiable design."""
        sigma = np.asarray(sigma, dtype=complex)
        p = _power_scale(sigma) or 1.0
        j = self.data_fim(sigma / p)
        c = position_bound_from_fim(j, delta_known=True) if crb else None
        if hcrb:
            j[2, 2] += self.prior_information / p
            h = position_bound_from_fim(j)
        else:
            h = None
        return h, c, p

    def hcrb_trace(self, sigma: np.ndarray) -> float:
        return float(np.trace(self.hcrb(sigma)))

    def crb_trace(self, sigma: np.ndarray) -> float:
        return float(np.trace(self.crb(sigma)))


def _power_scale(sigma) -> float | None:
    """A power of two near the largest magnitude in ``sigma``; None for a zero or non-finite matrix."""
    largest = float(np.max(np.abs(sigma))) if np.size(sigma) else 0.0
    if not (math.isfinite(largest) and largest > 0):
        return None
    return math.ldexp(1.0, math.frexp(largest)[1] - 1)


def _divide(bound: np.ndarray, p: float) -> np.ndarray:
    with np.errstate(over="ignore"):  # a bound beyond the double range (p near 1e-308) becomes inf
        return bound / p


def hcrb_position(scenario, sigma) -> np.ndarray:
    """2x2 HCRB (m^2) of the scenario's target position for transmit covariance ``sigma`` (W)."""
    return FisherModel.from_scenario(scenario).hcrb(sigma)


def crb_position(scenario, sigma) -> np.ndarray:
    """2x2 CRB (m^2) without sync error."""
    return FisherModel.from_scenario(scenario).crb(sigma)
