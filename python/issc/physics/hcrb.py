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

    Args:
        fim: the 3x3 FIM including the prior on ``delta`` (1/m^2). ``J_dd = inf`` (perfect
            synchronisation, :meth:`FisherModel.fim`) means ``delta`` is known.
        delta_known: use ``J_pp`` alone (the CRB without sync error) whatever ``J_dd`` is.
    """
    j = np.asarray(fim, float)
    if delta_known or j[2, 2] == np.inf:
        schur = j[:2, :2]
    else:
        j_dd = j[2, 2]
        if not j_dd > 0:
            return np.full((2, 2), np.inf)
        schur = j[:2, :2] - np.outer(j[:2, 2], j[2, :2]) / j_dd
    a, c = float(schur[0, 0]), float(schur[1, 1])
    b = 0.5 * (float(schur[0, 1]) + float(schur[1, 0]))
    # closed form for [[a, b], [b, c]]: the larger eigenvalue, and the smaller as det / larger (at the
    # threshold the determinant's rounding error, ~1e-16 larger^2, is 1e-4 of its value)
    largest = 0.5 * (a + c) + np.hypot(0.5 * (a - c), b)
    det = a * c - b * b
    if not (largest > 0 and det / largest > SINGULAR_RCOND * largest):
        return np.full((2, 2), np.inf)
    return np.array([[c, -b], [-b, a]]) / det


def angular_frequencies(n_samples: int, bandwidth_hz: float) -> np.ndarray:
    """``w_k = 2 pi f_k`` with the centred grid ``f_k = fftfreq(N, 1/B)`` (docs/model.md §4)."""
    return 2.0 * np.pi * np.fft.fftfreq(n_samples, d=1.0 / bandwidth_hz)


class FisherModel:
    """The FIM of ``(o_x, o_y, delta)`` as a linear function of ``Sigma``, for one geometry.

    Args:
        geometry: the scene.
        sensing_noise_w: ``sigma_s^2`` per receive antenna, watts.
        n_samples: sensing block length ``N``.
        bandwidth_hz: ``B`` (one sample per symbol).
        sync_sigma_s: ``sigma_dt`` in seconds (0: perfect synchronisation).
    """

    def __init__(
        self, geometry: Geometry, sensing_noise_w: float, n_samples: int, bandwidth_hz: float, sync_sigma_s: float
    ):
        self.geometry = geometry
        self.sensing_noise_w = float(sensing_noise_w)
        self.n_samples = int(n_samples)
        self.bandwidth_hz = float(bandwidth_hz)
        self.sync_sigma_s = float(sync_sigma_s)
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
        return np.inf if spread_m == 0 else 1.0 / spread_m**2

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
        """2x2 HCRB of the position in m^2 (``(J_pp - J_pd J_dd^-1 J_dp)^-1``); inf if unidentifiable."""
        return position_bound_from_fim(self.fim(sigma))

    def crb(self, sigma: np.ndarray) -> np.ndarray:
        """2x2 CRB of the position without sync error (delta known): ``J_D,pp^-1``."""
        return position_bound_from_fim(self.data_fim(sigma), delta_known=True)

    def hcrb_trace(self, sigma: np.ndarray) -> float:
        return float(np.trace(self.hcrb(sigma)))

    def crb_trace(self, sigma: np.ndarray) -> float:
        return float(np.trace(self.crb(sigma)))


def hcrb_position(scenario, sigma) -> np.ndarray:
    """2x2 HCRB (m^2) of the scenario's target position for transmit covariance ``sigma`` (W)."""
    return FisherModel.from_scenario(scenario).hcrb(sigma)


def crb_position(scenario, sigma) -> np.ndarray:
    """2x2 CRB (m^2) without sync error."""
    return FisherModel.from_scenario(scenario).crb(sigma)
