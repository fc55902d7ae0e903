# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Scene geometry and channels (docs/model.md §1): steering vectors, angles, path losses,
the CRE channel ``h_c``, the echo channel ``H_0`` and the bistatic range and delay.

Angles are ``atan2`` of the 2-D difference vectors, distances in metres, delays in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..scenario import Scenario, load_scenario
from ..units import SPEED_OF_LIGHT, dbm_to_w


def steering_vector(n_antennas: int, angle_rad: float, spacing_wavelengths: float = 0.5) -> np.ndarray:
    """ULA steering vector ``a_N(psi)[m] = exp(j 2 pi (d_a/lambda) m sin psi)``, m = 0..N-1."""
    m = np.arange(n_antennas)
    return np.exp(2j * np.pi * spacing_wavelengths * m * np.sin(angle_rad))


def steering_vector_derivative(n_antennas: int, angle_rad: float, spacing_wavelengths: float = 0.5) -> np.ndarray:
    """``d a_N(psi) / d psi``."""
    m = np.arange(n_antennas)
    phase_rate = 2j * np.pi * spacing_wavelengths * m * np.cos(angle_rad)
    return phase_rate * steering_vector(n_antennas, angle_rad, spacing_wavelengths)


def angle_of(frm, to) -> float:
    """Direction of ``to`` seen from ``frm``: ``atan2(to_y - frm_y, to_x - frm_x)``."""
    return float(np.arctan2(to[1] - frm[1], to[0] - frm[0]))


def angle_gradient(frm, to) -> np.ndarray:
    """Gradient of :func:`angle_of` with respect to the position ``to`` (rad/m)."""
    dx, dy = to[0] - frm[0], to[1] - frm[1]
    r2 = dx * dx + dy * dy
    return np.array([-dy / r2, dx / r2])


def bistatic_range_m(tx, target, rx, sync_error_m: float = 0.0) -> float:
    """The bistatic range ``l = d_bo + d_or + delta`` in metres: TR -> target -> receiver, plus the
    sync error ``delta = c dtau`` (metres) that the receiver cannot tell apart from path length.

    Args:
        tx: transmitter position (m).
        target: target position (m).
        rx: sensing receiver position (m).
        sync_error_m: ``delta`` (0: the geometric path only).
    """
    target = np.asarray(target, float)
    path = np.linalg.norm(target - np.asarray(tx, float)) + np.linalg.norm(target - np.asarray(rx, float))
    return float(path + sync_error_m)


def bistatic_range_gradient(tx, target, rx) -> np.ndarray:
    """Gradient of :func:`bistatic_range_m` with respect to the target position: the sum of the unit
    vectors from the transmitter and from the receiver towards the target (dimensionless, length <= 2).

    Args:
        tx: transmitter position (m).
        target: target position (m).
        rx: sensing receiver position (m).
    """
    target = np.asarray(target, float)
    from_tx = target - np.asarray(tx, float)
    from_rx = target - np.asarray(rx, float)
    return from_tx / np.linalg.norm(from_tx) + from_rx / np.linalg.norm(from_rx)


@dataclass(frozen=True)
class Geometry:
    """Positions, arrays and propagation constants of one scenario, with the derived channels.

    Args:
        tx, target, sensing_rx, comm_rx: 2-D positions in metres.
        n_tx, n_rx: ULA sizes ``N_T`` and ``N_R``.
        spacing: element spacing in wavelengths.
        path_loss_exponent: ``eps``.
        rcs_coefficient: ``beta_s``.
    """

    tx: np.ndarray
    target: np.ndarray
    sensing_rx: np.ndarray
    comm_rx: np.ndarray
    n_tx: int = 4
    n_rx: int = 4
    spacing: float = 0.5
    path_loss_exponent: float = 3.0
    rcs_coefficient: float = 0.6

    @classmethod
    def from_scenario(cls, scenario: Scenario | str, target=None) -> Geometry:
        """The scenario's geometry; ``target`` overrides the target position (e.g. for tracking)."""
        scn = load_scenario(scenario)
        g = scn.geometry
        return cls(
            tx=np.asarray(g.tx, float),
            target=np.asarray(g.target if target is None else target, float),
            sensing_rx=np.asarray(g.sensing_rx, float),
            comm_rx=np.asarray(g.comm_rx, float),
            n_tx=scn.arrays.n_tx,
            n_rx=scn.arrays.n_rx,
            spacing=scn.arrays.spacing_wavelengths,
            path_loss_exponent=scn.channel.path_loss_exponent,
            rcs_coefficient=scn.channel.rcs_coefficient,
        )

    def with_target(self, target) -> Geometry:
        return Geometry(
            self.tx,
            np.asarray(target, float),
            self.sensing_rx,
            self.comm_rx,
            self.n_tx,
            self.n_rx,
            self.spacing,
            self.path_loss_exponent,
            self.rcs_coefficient,
        )

    # -- angles and distances -------------------------------------------------------------
    @property
    def theta(self) -> float:
        """Departure angle TR -> target, rad."""
        return angle_of(self.tx, self.target)

    @property
    def phi(self) -> float:
        """Arrival angle at the SRE (from the target), rad."""
        return angle_of(self.sensing_rx, self.target)

    @property
    def varphi_c(self) -> float:
        """Departure angle TR -> CRE, rad."""
        return angle_of(self.tx, self.comm_rx)

    @property
    def d_bo(self) -> float:
        return float(np.linalg.norm(self.target - self.tx))

    @property
    def d_or(self) -> float:
        return float(np.linalg.norm(self.target - self.sensing_rx))

    @property
    def d_c(self) -> float:
        return float(np.linalg.norm(self.comm_rx - self.tx))

    @property
    def path_length(self) -> float:
        """Bistatic path TR -> target -> SRE, metres (:func:`bistatic_range_m` without sync error)."""
        return bistatic_range_m(self.tx, self.target, self.sensing_rx)

    @property
    def path_length_gradient(self) -> np.ndarray:
        """Gradient of :attr:`path_length` in the target position (:func:`bistatic_range_gradient`)."""
        return bistatic_range_gradient(self.tx, self.target, self.sensing_rx)

    def delay(self, sync_error_s: float = 0.0) -> float:
        """Echo delay ``tau = (d_bo + d_or)/c + dtau`` in seconds."""
        return self.path_length / SPEED_OF_LIGHT + sync_error_s

    # -- channels -------------------------------------------------------------------------
    @property
    def eta_c(self) -> float:
        """CRE large-scale gain ``d_c^-eps``."""
        return self.d_c ** (-self.path_loss_exponent)

    @property
    def beta_0(self) -> float:
        """Echo reflection gain ``beta_s (d_bo d_or)^(-eps/2)``, a known constant."""
        return self.rcs_coefficient * (self.d_bo * self.d_or) ** (-self.path_loss_exponent / 2.0)

    def a_tx(self, angle: float) -> np.ndarray:
        return steering_vector(self.n_tx, angle, self.spacing)

    def a_rx(self, angle: float) -> np.ndarray:
        return steering_vector(self.n_rx, angle, self.spacing)

    @property
    def h_c(self) -> np.ndarray:
        """CRE channel ``sqrt(eta_c) a_NT(varphi_c)`` (``y_c = h_c^H x + n``)."""
        return np.sqrt(self.eta_c) * self.a_tx(self.varphi_c)

    def channel_to(self, position) -> np.ndarray:
        """Channel to a single-antenna node at ``position`` with the model of :attr:`h_c`: line of sight,
        ``sqrt(d^-eps) a_NT(angle)`` (``y = h^H x + n``); the multi-user system gives every user this
        channel. Equal to :attr:`h_c` bit for bit at ``position = comm_rx``.

        Args:
            position: the node's 2-D position, metres.
        """
        position = np.asarray(position, float)
        distance = float(np.linalg.norm(position - self.tx))
        return np.sqrt(distance ** (-self.path_loss_exponent)) * self.a_tx(angle_of(self.tx, position))

    @property
    def echo_matrix(self) -> np.ndarray:
        """Echo channel ``H_0 = beta_0 a_NR(phi) a_NT(theta)^H`` (``N_R x N_T``)."""
        return self.beta_0 * np.outer(self.a_rx(self.phi), self.a_tx(self.theta).conj())


def noise_powers_w(scenario: Scenario) -> tuple[float, float]:
    """(sigma_n^2, sigma_s^2) in watts."""
    ch = scenario.channel
    return float(dbm_to_w(ch.comm_noise_dbm)), float(dbm_to_w(ch.sensing_noise_dbm))
