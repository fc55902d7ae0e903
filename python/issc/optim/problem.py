# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The design problem of one frame (docs/model.md §7): every constant the solvers need, built
once from a scenario, plus the closed-form evaluation of a candidate design.

Solvers work on normalised quantities (power in units of ``P_T``, FIM in units of its isotropic
scale, see :meth:`DesignProblem.normalised_fisher`) so that conic solvers see O(1) numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import IsscInputError
from ..link.waveform import Waveform
from ..physics.ber import capacity
from ..physics.geometry import Geometry, noise_powers_w
from ..physics.hcrb import FisherModel
from ..scenario import Scenario, load_scenario
from ..units import dbm_to_w

BITS_PER_SYMBOL = {"qpsk": 2}


@dataclass
class DesignProblem:
    """Constants of one frame decision.

    Args:
        scenario: the validated scenario (geometry, noise, blocklength, ...).
        power_w: power budget ``P_T`` in watts.
        hcrb_threshold_m2: ``Pi`` on ``tr HCRB`` of the position, m^2.
        abr: bandwidth ratio; the channel-use budget is ``E_a^max = abr * M``.
        sensing_streams: ``r_0``, columns of ``W_0`` (1 reproduces the paper; ``N_T`` allows any ``R_0``).
        source_dimensions: ``M`` (``3 H W`` of the images the codec profile describes).
        target: position the beams are designed for (default: the scenario's).

    Attributes:
        sample_noise_w: the CRE's noise power per sample ``sigma_n^2`` (over the sample rate ``B``).
        symbol_snr_gain: the receiver's matched-filter gain, ``signal.samples_per_symbol`` (1 unshaped).
        comm_noise_w: the noise in the SINR, per symbol after the matched filter: ``sigma_n^2 / gain``.
    """

    scenario: Scenario
    power_w: float
    hcrb_threshold_m2: float
    abr: float
    sensing_streams: int = 1
    source_dimensions: int = 3 * 256 * 256
    target: np.ndarray | None = None
    geometry: Geometry = field(init=False)
    fisher: FisherModel = field(init=False)

    def __post_init__(self):
        scn = self.scenario
        if not (np.isfinite(self.power_w) and self.power_w > 0):
            raise IsscInputError(f"power must be a finite positive number of watts, got {self.power_w!r}")
        if not (np.isfinite(self.hcrb_threshold_m2) or self.hcrb_threshold_m2 == np.inf) or self.hcrb_threshold_m2 < 0:
            raise IsscInputError(f"HCRB threshold Pi must be >= 0 m^2, got {self.hcrb_threshold_m2!r}")
        if not (np.isfinite(self.abr) and 0 < self.abr <= 1):
            raise IsscInputError(f"ABR must be in (0, 1], got {self.abr!r}")
        if not (1 <= int(self.sensing_streams) <= scn.arrays.n_tx):
            raise IsscInputError(
                f"sensing streams must be in [1, n_tx = {scn.arrays.n_tx}], got {self.sensing_streams!r}"
            )
        self.sensing_streams = int(self.sensing_streams)
        self.geometry = Geometry.from_scenario(scn, target=self.target)
        comm_noise, sensing_noise = noise_powers_w(scn)
        # The SINR the receiver sees is per symbol, after its matched filter: the white noise (per-sample
        # variance sigma_n^2) drops by the filter's gain (sps for the unit-power-per-sample RRC), while the
        # communication beam and the sensing streams, shaped with the same pulse on the same symbol clock,
        # come through at their per-sample powers (Nyquist cascade). So every SINR below is the per-sample
        # formula with the noise sigma_n^2 / gain; at sps = 1 the gain is 1 and nothing changes.
        self.sample_noise_w = comm_noise
        self.symbol_snr_gain = Waveform.from_scenario(scn).symbol_snr_gain
        self.comm_noise_w = comm_noise / self.symbol_snr_gain
        self.fisher = FisherModel(
            self.geometry,
            sensing_noise,
            scn.signal.sensing_block,
            scn.signal.bandwidth_hz,
            scn.sync.sigma_ns * 1e-9,
            scn.signal.samples_per_symbol,  # the pulse's spectrum weighs the delay information
            scn.signal.rolloff,
        )
        self.h_c = self.geometry.h_c

    @classmethod
    def from_scenario(
        cls,
        scenario,
        power_dbm=None,
        hcrb_threshold_m2=None,
        abr=None,
        sensing_streams=None,
        source_dimensions=3 * 256 * 256,
        target=None,
    ) -> DesignProblem:
        """Build from a scenario; arguments left at None take the scenario's budget values."""
        scn = load_scenario(scenario)
        b = scn.budget
        return cls(
            scn,
            float(dbm_to_w(b.power_dbm if power_dbm is None else power_dbm)),
            float(b.hcrb_threshold_m2 if hcrb_threshold_m2 is None else hcrb_threshold_m2),
            float(b.abr if abr is None else abr),
            int(b.sensing_streams if sensing_streams is None else sensing_streams),
            int(source_dimensions),
            target,
        )

    # -- budgets -------------------------------------------------------------------------------
    @property
    def n_tx(self) -> int:
        return self.geometry.n_tx

    @property
    def blocklength(self) -> int:
        return self.scenario.signal.blocklength

    @property
    def channel_use_budget(self) -> float:
        """``E_a^max = ABR * M`` channel uses per image. A channel use is a symbol of the code, whatever the
        pulse: at ``samples_per_symbol = sps`` a frame of ``E_a`` symbols takes ``E_a sps`` samples."""
        return self.abr * self.source_dimensions

    @property
    def max_code_rate(self) -> float:
        """Largest code rate of the link: bits per symbol minus one bit per block (``K < N``)."""
        bits = BITS_PER_SYMBOL[self.scenario.signal.modulation]
        return bits - 1.0 / self.blocklength

    @property
    def mrt_snr(self) -> float:
        """CRE symbol SNR with all power on MRT (an upper bound on any design's SINR):
        ``gain P_T |h_c|^2 / sigma_n^2`` with the matched filter's :attr:`symbol_snr_gain`."""
        return self.power_w * float(np.linalg.norm(self.h_c) ** 2) / self.comm_noise_w

    # -- evaluation of a design ------------------------------------------------------------------
    def covariance(self, w_c: np.ndarray, w_0: np.ndarray) -> np.ndarray:
        w_0 = np.asarray(w_0, complex).reshape(self.n_tx, -1)
        return np.outer(w_c, np.conj(w_c)) + w_0 @ w_0.conj().T

    def sinr(self, w_c: np.ndarray, w_0: np.ndarray) -> float:
        """The CRE's symbol SINR after the matched filter (what the frame receiver measures on the preamble),
        ``|h^H w_c|^2 / (h^H R_0 h + sigma_n^2 / gain) = gain |h^H w_c|^2 / (gain h^H R_0 h + sigma_n^2)``
        with ``gain`` = :attr:`symbol_snr_gain` (``sps``; 1 without pulse shaping: the per-sample SINR).

        Args:
            w_c: the communication beam (``N_T``).
            w_0: the sensing beams (``N_T x r_0``).
        """
        w_0 = np.asarray(w_0, complex).reshape(self.n_tx, -1)
        signal = abs(np.vdot(self.h_c, w_c)) ** 2
        interference = float(np.sum(np.abs(self.h_c.conj() @ w_0) ** 2))
        return signal / (interference + self.comm_noise_w)

    def capacity(self, sinr: float) -> float:
        return float(capacity(sinr))

    def hcrb_trace(self, sigma: np.ndarray) -> float:
        return self.fisher.hcrb_trace(sigma)

    # -- normalisation for conic solvers ---------------------------------------------------------
    def normalised_fisher(self):
        """``(zeta_n, prior_n, weights)`` such that, for ``Sigma = P_T Sigma_n``,
        ``J_n[a,b] = Re tr(zeta_n[a,b] Sigma_n) + prior_n[a,b]`` is the FIM of ``(o_x, o_y, l)`` scaled by
        ``D = diag(weights)``, and ``tr HCRB = sum_i weights_i^2 [J_n^-1]_ii`` over the two position entries.

        ``l = d_bo + d_or + delta`` is the measured bistatic range (metres,
        :func:`~gnuradio.issc.physics.geometry.bistatic_range_m`; ``grad d`` is its gradient in the target
        position, :func:`~gnuradio.issc.physics.geometry.bistatic_range_gradient`). In ``(o_x, o_y, delta)`` the
        range and the sync error are confounded: the FIM is nearly singular along ``(grad d, -1)`` and held
        up only by the weak prior, which conic solvers cannot handle. The change of variables
        ``T = [[I, 0], [grad d^T, 1]]`` leaves the position block of ``J^-1`` unchanged, separates angle
        from range information and turns the prior into ``p r r^T`` with ``r = (-grad d, 1)``. ``D`` gives
        isotropic transmission a unit diagonal. With perfect synchronisation ``delta`` is known and drops
        out: the third row is decoupled (``prior_n = e3 e3^T``), so the Schur complement is ``J_pp``.
        """
        scale = self.fisher.fim_scale * self.power_w
        zeta = self.fisher.zeta * scale
        prior = self.fisher.prior_information
        if np.isinf(prior):
            zeta = zeta.copy()
            zeta[2, :] = 0
            zeta[:, 2] = 0
            prior_matrix = np.zeros((3, 3))
        else:
            t_inv = np.eye(3)
            t_inv[2, :2] = -self.geometry.path_length_gradient
            zeta = np.einsum("ca,db,cdij->abij", t_inv, t_inv, zeta)
            r = t_inv[2]
            prior_matrix = prior * np.outer(r, r)
        iso = np.einsum("abij,ji->ab", zeta, np.eye(self.n_tx) / self.n_tx).real + prior_matrix
        diag = np.diag(iso).copy()
        if np.isinf(prior):
            diag[2] = 1.0
        weights = 1.0 / np.sqrt(np.maximum(diag, np.finfo(float).tiny))
        zeta_n = zeta * np.multiply.outer(weights, weights)[:, :, None, None]
        prior_n = prior_matrix * np.outer(weights, weights)
        if np.isinf(prior):
            prior_n[2, 2] = 1.0
        return zeta_n, prior_n, weights
