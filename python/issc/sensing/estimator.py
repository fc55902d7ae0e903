# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""MAP estimation of the target position and the sync error from one sensing block.

Model (docs/model.md §§1-4): ``y[n] = beta_0 a_NR(phi) s_theta(n - D) + w[n]`` for the block's samples,
with ``s_theta = a_NT(theta)^H x`` the reference projected on the departure direction and
``D = l B / c`` the delay in samples of the bistatic range ``l = d_bo + d_or + delta`` (metres). The
delay operator is :func:`gnuradio.issc.physics.dsp.delayed_segment`, the same the echo channel uses.

Negative log posterior (Gaussian noise, Gaussian prior on ``delta``):

    cost(o, l) = |y - beta a_R(phi) s_theta(. - D)|^2 / sigma_s^2 + (l - d(o))^2 / (2 (c sigma_dt)^2)

1. Coarse search that cannot miss the peak inside the search region: ``s_theta`` depends only on
   ``theta`` and ``z_phi = a_R(phi)^H y`` only on ``phi``, so the data term over a grid of (theta, phi)
   pairs (finer than a tenth of the array beamwidth) and every integer delay in range is a linear map of
   the ``N_T N_R`` antenna-pair cross-correlations of reference and echo (one FFT each), evaluated for
   all pairs whose rays meet inside the region at once.
2. Levenberg-Marquardt refinement of ``(o_x, o_y, l)`` on the exact model, with exact derivatives: the
   angles move the steering vectors, the delay moves the windowed-sinc taps, whose derivative with
   respect to the fraction is in closed form (:func:`gnuradio.issc.physics.dsp.delay_taps_and_derivative`).
   The model and its derivatives are Kronecker products (receive steering vector x delayed signal), so
   the normal equations need only small Gram matrices; MINPACK's LM runs on the equivalent 4-residual
   problem with the same norm, gradient and Gauss-Newton matrix.

The quality statistic is the generalised log-likelihood ratio against "no target" at the estimate
(``glrt``, chi-square-like under no target); ``ok`` is ``glrt >= glrt_threshold``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ..physics.channels import SYNC_TRUNCATION_SIGMAS, echo_history_samples
from ..physics.dsp import DEFAULT_HALF_TAPS, delay_taps_and_derivative, padded_columns
from ..physics.geometry import Geometry, angle_of, bistatic_range_m, steering_vector
from ..physics.hcrb import FisherModel
from ..units import SPEED_OF_LIGHT

# The refinement stops when the distance left to the MAP point, predicted from its Gauss-Newton steps, is
# below this many posterior standard deviations: two orders below the estimate's own error, so the result
# is the MAP point for every statistical purpose (the MSE moves by ~1e-4 of itself; docs/performance.md).
REFINE_STEP_STDS = 1e-2
REFINE_MAX_CONTRACTION = 0.95
"""Largest contraction factor the stopping rule trusts: Gauss-Newton converges linearly where the echo is
weak (the residual's curvature is not in ``J^T J``), so the distance left is the geometric series of the
steps, ``step / (1 - rho)``, with ``rho`` the ratio of successive steps, capped here."""
REFINE_MAX_ITERATIONS = 100
REFINE_INITIAL_DAMPING = 1.0
REFINE_MAX_EVALUATIONS = 400


@dataclass
class SensingEstimate:
    """One block's result. ``position`` is None for a non-estimate (bad input)."""

    position: np.ndarray | None
    bistatic_range_m: float
    sync_error_m: float
    glrt: float
    ok: bool
    hcrb_trace: float
    reason: str = ""
    iterations: int = 0

    @property
    def sync_error_s(self) -> float:
        return self.sync_error_m / SPEED_OF_LIGHT


class TargetEstimator:
    """MAP estimator of ``(p_o, delta)`` for one scene.

    Args:
        geometry: the scene (arrays, positions of TR and SRE; its target is the search centre).
        bandwidth_hz: sample rate ``B``.
        sensing_noise_w: ``sigma_s^2`` per antenna.
        sync_sigma_s: ``sigma_dt`` (0: perfect sync, the prior pins ``l = d(o)``).
        search_halfwidth_m: the search region is the square of this half-width around the centre.
        angle_step_rad: coarse grid step in both angles (default: a tenth of the smaller array's beamwidth).
        glrt_threshold: minimum GLRT for ``ok``. On noise alone (scenario ``tradeoff``, 30 blocks of
            ``tests/test_estimator.py::test_glrt_on_noise_alone_stays_below_the_default_threshold``) the
            GLRT's median is 2.4 and its maximum 8.4; 12 keeps false alarms rare while accepting blocks at
            the SNR where the HCRB is a few tens of m^2 (GLRT 20-35 there).
        half_taps: half-length of the fractional-delay filter; must be the echo channel's
            (:func:`gnuradio.issc.physics.channels.causal_half_taps`) so that model and channel are one operator.
        samples_per_symbol, rolloff: the transmitted pulse shape (the spectrum that weighs the delay
            information of :meth:`hcrb_trace_at`, :class:`~gnuradio.issc.physics.hcrb.FisherModel`).
    """

    def __init__(
        self,
        geometry: Geometry,
        bandwidth_hz: float,
        sensing_noise_w: float,
        sync_sigma_s: float,
        search_halfwidth_m: float = 20.0,
        angle_step_rad: float | None = None,
        glrt_threshold: float = 12.0,
        half_taps: int = DEFAULT_HALF_TAPS,
        samples_per_symbol: int = 1,
        rolloff: float = 0.35,
    ):
        self.geometry = geometry
        self.pulse = (int(samples_per_symbol), float(rolloff))
        self.bandwidth_hz = float(bandwidth_hz)
        self.noise_w = float(sensing_noise_w)
        self.sync_sigma_s = float(sync_sigma_s)
        self.sync_spread_m = SPEED_OF_LIGHT * self.sync_sigma_s
        self.halfwidth = float(search_halfwidth_m)
        beamwidth = 2.0 / (max(min(geometry.n_tx, geometry.n_rx), 1) * 2 * geometry.spacing)
        self.angle_step = angle_step_rad or beamwidth / 10.0
        self.glrt_threshold = float(glrt_threshold)
        self.half_taps = int(half_taps)
        self.samples_per_metre = self.bandwidth_hz / SPEED_OF_LIGHT
        # beta_0 is a known constant (docs/model.md §1), evaluated at the search centre (the scenario's
        # target, or a tracker's prediction): letting it follow the candidate position would add amplitude
        # information that the HCRB excludes
        self.beta = float(geometry.beta_0)
        self._tx_index = np.arange(geometry.n_tx)
        self._rx_index = np.arange(geometry.n_rx)

    @classmethod
    def from_scenario(cls, scenario, **kwargs) -> TargetEstimator:
        from ..physics.geometry import noise_powers_w
        from ..scenario import load_scenario

        scn = load_scenario(scenario)
        return cls(
            Geometry.from_scenario(scn),
            scn.signal.bandwidth_hz,
            noise_powers_w(scn)[1],
            scn.sync.sigma_ns * 1e-9,
            **{"samples_per_symbol": scn.signal.samples_per_symbol, "rolloff": scn.signal.rolloff, **kwargs},
        )

    # -- model ------------------------------------------------------------------------------------------
    def delay_samples(self, bistatic_range_m: float) -> float:
        return bistatic_range_m * self.samples_per_metre

    def model(self, position, bistatic_range_m, reference, block_start, length: int | None = None) -> np.ndarray:
        """Noise-free echo block (``N_R x N``) for a target at ``position``; ``reference`` is the
        transmitted ``N_T x L`` signal whose column 0 is absolute sample 0 of the segment, and the block
        starts at column ``block_start``; ``length`` is ``N`` (default: the block being estimated).

        The same operator as :func:`gnuradio.issc.physics.dsp.delayed_segment` applied to
        ``a_NT(theta)^H x`` (the same taps on the same samples), evaluated on the needed columns only."""
        length = self._block_length if length is None else int(length)
        g = self.geometry
        theta, phi = self._angles(np.asarray(position, float))
        delay = self.delay_samples(float(bistatic_range_m))
        integer = int(np.floor(delay))
        taps, _ = delay_taps_and_derivative(delay - integer, self.half_taps)
        t = self.half_taps
        segment = padded_columns(np.asarray(reference), block_start - integer - t, block_start + length - integer + t)
        s = steering_vector(g.n_tx, theta, g.spacing).conj() @ segment
        delayed = np.convolve(s, taps, mode="valid")[:length]
        return self.beta * np.outer(steering_vector(g.n_rx, phi, g.spacing), delayed)

    def _echo_and_jacobian(self, position, bistatic_range_m, reference, block_start, length):
        """The model ``N_R x N`` and its exact derivatives ``(3, N_R, N)`` with respect to ``(o_x, o_y, l)``
        at fixed ``l`` (the position moves the angles, ``l`` the delay), expanded from the compact form of
        :meth:`_echo_terms` that the refinement uses."""
        rows, signals, coefficients = self._echo_terms(position, bistatic_range_m, reference, block_start, length)
        echo = self.beta * np.outer(rows[0], signals[0])
        terms = rows[:, None, :, None] * signals[None, :, None, :]  # 2 x 3 x N_R x N
        return echo, np.einsum("arv,rvjn->ajn", coefficients, terms)

    def _angles(self, position):
        g = self.geometry
        theta = np.arctan2(position[1] - g.tx[1], position[0] - g.tx[0])
        phi = np.arctan2(position[1] - g.sensing_rx[1], position[0] - g.sensing_rx[0])
        return theta, phi

    def _echo_spectra(self, position, bistatic_range_m, reference, block_start, length, segments=None):
        """What :meth:`_echo_terms` needs, up to the last inverse FFT: ``rows``, the spectra and
        ``coefficients`` (``segments``: a dict that keeps the reference's spectra by whole-sample delay).

        ``d`` is ``s_theta = a_NT(theta)^H x`` delayed by the windowed-sinc taps ``h(f)`` of the delay's
        fraction ``f``; ``dd/dtheta`` delays ``(da_NT/dtheta)^H x`` with the same taps and ``dd/dl`` filters
        ``s_theta`` with ``dh/df`` (closed form, :func:`~gnuradio.issc.physics.dsp.delay_taps_and_derivative`)
        times ``B / c``. The three filterings are one FFT convolution (circular over a length that holds
        the segment, so exactly the linear 'valid' part)."""
        g = self.geometry
        spacing = g.spacing
        dx, dy = float(position[0] - g.tx[0]), float(position[1] - g.tx[1])
        ex, ey = float(position[0] - g.sensing_rx[0]), float(position[1] - g.sensing_rx[1])
        theta, phi = math.atan2(dy, dx), math.atan2(ey, ex)
        a_t = steering_vector(g.n_tx, theta, spacing)
        a_r = steering_vector(g.n_rx, phi, spacing)
        rows = np.empty((2, g.n_rx), complex)
        rows[0] = a_r
        np.multiply((2j * np.pi * spacing * math.cos(phi)) * self._rx_index, a_r, out=rows[1])
        weights = np.empty((2, g.n_tx), complex)
        np.conjugate(a_t, out=weights[0])
        np.multiply((-2j * np.pi * spacing * math.cos(theta)) * self._tx_index, weights[0], out=weights[1])
        delay = bistatic_range_m * self.samples_per_metre
        integer = math.floor(delay)
        t = self.half_taps
        filters = np.empty((2, 2 * t + 1))
        filters[0], filters[1] = delay_taps_and_derivative(delay - integer, t)
        size = _fast_length(length + 2 * t)
        # the reference segment's spectrum depends on the whole-sample delay only (``segments`` caches it)
        spectrum = None if segments is None else segments.get(integer)
        if spectrum is None:
            segment = padded_columns(reference, block_start - integer - t, block_start + length - integer + t)
            spectrum = np.fft.fft(segment, size)
            if segments is not None:
                segments[integer] = spectrum
        projected = weights @ spectrum
        spectra = np.fft.fft(filters, size)
        r2t, r2r = dx * dx + dy * dy, ex * ex + ey * ey
        beta = self.beta
        coefficients = np.zeros((3, 2, 3))
        coefficients[0, 1, 0], coefficients[1, 1, 0] = -beta * ey / r2r, beta * ex / r2r  # dphi/do
        coefficients[0, 0, 1], coefficients[1, 0, 1] = -beta * dy / r2t, beta * dx / r2t  # dtheta/do
        coefficients[2, 0, 2] = beta
        return rows, (projected, spectra, t, length), coefficients

    def _filtered(self, spectra, which):
        """Rows ``which`` of ``V = (d, dd/dtheta, dd/dl)`` from the spectra of :meth:`_echo_spectra`."""
        (projected, filters, t, length) = spectra
        pairs = ((0, 0), (1, 0), (0, 1))
        products = np.empty((len(which), projected.shape[1]), complex)
        for row, v in enumerate(which):
            np.multiply(projected[pairs[v][0]], filters[pairs[v][1]], out=products[row])
        signals = np.fft.ifft(products)[:, 2 * t : 2 * t + length]
        for row, v in enumerate(which):
            if v == 2:
                signals[row] *= self.samples_per_metre
        return signals

    def _echo_terms(self, position, bistatic_range_m, reference, block_start, length):
        """The model and its derivatives as sums of Kronecker products: ``m = beta a_R(phi) d^T`` and
        ``dm/dmu_a = sum_{r,v} C[a, r, v] R_r V_v^T`` with ``R = (a_R, da_R/dphi)`` (``rows``, 2 x N_R),
        ``V = (d, dd/dtheta, dd/dl)`` (``signals``, 3 x N) and ``C`` (``coefficients``, 3 x 2 x 3) over
        ``mu = (o_x, o_y, l)``, so that the normal equations need only 2x2 and 3x3 Gram matrices."""
        rows, spectra, coefficients = self._echo_spectra(position, bistatic_range_m, reference, block_start, length)
        return rows, self._filtered(spectra, (0, 1, 2)), coefficients

    def required_history(self, centre=None) -> int:
        """Reference samples needed before a block's first sample: the echo channel's history
        (:func:`~gnuradio.issc.physics.channels.echo_history_samples`) for the longest bistatic range in the
        region around ``centre`` (default the geometry's target; the range is convex in the position, so
        its maximum over the square is at a corner)."""
        longest = max(self._bistatic_range(c) for c in self._region_corners(centre))
        return echo_history_samples(longest, self.sync_sigma_s, self.bandwidth_hz, self.half_taps)

    def _bistatic_range(self, position) -> float:
        """``d(o) = d_bo + d_or`` for a target at ``position`` (metres)."""
        return bistatic_range_m(self.geometry.tx, position, self.geometry.sensing_rx)

    def _region_corners(self, centre=None):
        c = self.geometry.target if centre is None else np.asarray(centre, float)
        h = self.halfwidth
        return [c + np.array([sx * h, sy * h]) for sx in (-1, 1) for sy in (-1, 1)]

    # -- estimation ---------------------------------------------------------------------------------------
    def estimate(self, echo: np.ndarray, reference: np.ndarray, block_start: int, centre=None) -> SensingEstimate:
        """Estimate from one block.

        Args:
            echo: ``N_R x N`` received block.
            reference: ``N_T x L`` transmitted samples; column ``block_start`` is the block's first sample,
                and at least :meth:`required_history` columns must precede it.
            block_start: index of the block's first sample in ``reference``.
            centre: centre of the search region (default: the geometry's target), e.g. a tracker's prediction.
        """
        echo = np.asarray(echo)
        reference = np.asarray(reference)
        g = self.geometry
        if echo.ndim != 2 or echo.shape[0] != g.n_rx or reference.ndim != 2 or reference.shape[0] != g.n_tx:
            return self._non_estimate("echo must be N_R x N and reference N_T x L")
        if not (np.all(np.isfinite(echo)) and np.all(np.isfinite(reference))):
            return self._non_estimate("non-finite samples in the block")
        if block_start < 0 or block_start + echo.shape[1] > reference.shape[1]:
            return self._non_estimate("the reference does not cover the block")
        self._block_length = echo.shape[1]
        centre = g.target if centre is None else np.asarray(centre, float)
        self.beta = float(g.with_target(centre).beta_0)
        start = self._coarse_search(echo, reference, block_start, centre)
        if start is None:
            return self._non_estimate("no (theta, phi) pair of the grid lies inside the search region")
        # refine with the prior floored at one sample first: with a sharper prior (perfect sync in the limit)
        # the range constraint is so stiff that Levenberg-Marquardt from the grid point cannot find the basin
        sample_m = 1.0 / self.samples_per_metre
        position, ell, iterations, misfit = self._refine(
            echo, reference, block_start, *start, spread_m=max(self.sync_spread_m, sample_m)
        )
        if self.sync_spread_m < sample_m:
            position, ell, more, misfit = self._refine(
                echo, reference, block_start, position, ell, spread_m=self.sync_spread_m
            )
            iterations += more
        glrt = float((np.vdot(echo, echo).real - misfit) / self.noise_w)
        d = self._bistatic_range(position)
        hcrb = self.hcrb_trace_at(position, reference[:, block_start : block_start + echo.shape[1]])
        ok = bool(glrt >= self.glrt_threshold)
        return SensingEstimate(
            position,
            ell,
            ell - d,
            glrt,
            ok,
            hcrb,
            "" if ok else f"GLRT {glrt:.3g} below the threshold {self.glrt_threshold:g}",
            iterations,
        )

    def hcrb_trace_at(self, position, block_reference: np.ndarray) -> float:
        """``tr HCRB`` of the position (m^2) for a target at ``position`` and the block's transmitted
        samples ``N_T x N`` (their sample covariance stands for ``Sigma``)."""
        n = block_reference.shape[1]
        sample_cov = block_reference @ block_reference.conj().T / n
        return FisherModel(
            self.geometry.with_target(position), self.noise_w, n, self.bandwidth_hz, self.sync_sigma_s, *self.pulse
        ).hcrb_trace(sample_cov)

    def _non_estimate(self, reason: str) -> SensingEstimate:
        return SensingEstimate(None, float("nan"), float("nan"), 0.0, False, float("nan"), reason)

    def _coarse_search(self, echo, reference, block_start, centre):
        g = self.geometry
        n = echo.shape[1]
        corners = self._region_corners(centre)
        thetas = [angle_of(g.tx, c) for c in corners]
        phis = [angle_of(g.sensing_rx, c) for c in corners]
        theta_grid = _angle_grid(thetas, self.angle_step)
        phi_grid = _angle_grid(phis, self.angle_step)
        # delays (integer samples) that the region and the sync prior allow: every sync error the echo
        # channel can draw (it truncates at SYNC_TRUNCATION_SIGMAS) is inside the search
        ranges = [self._bistatic_range(c) for c in corners] + [self._bistatic_range(centre)]
        sync_reach_m = SYNC_TRUNCATION_SIGMAS * self.sync_spread_m
        lo_m = max(min(ranges) - self.halfwidth - sync_reach_m, 0.0)
        hi_m = max(ranges) + self.halfwidth + sync_reach_m
        d_lo = int(np.floor(self.delay_samples(lo_m)))
        d_hi = min(int(np.ceil(self.delay_samples(hi_m))), block_start)
        if d_hi < d_lo:
            return None
        lags = np.arange(d_lo, d_hi + 1)
        # the grid pairs whose rays meet inside the region (all of them at once)
        positions = _ray_intersections(g.tx, theta_grid[:, None], g.sensing_rx, phi_grid[None, :])  # T x P x 2
        inside = np.all(np.abs(positions - centre) <= self.halfwidth, axis=-1)  # NaN (no meeting) is outside
        if not inside.any():
            return None
        # the antenna-domain cross-correlations C[i, j, m] = sum_n conj(x_i[m + n]) y_j[n] at the lags'
        # offsets m, by FFT (N_T N_R of them instead of one per (theta, phi) pair); then the data term
        # corr[t, p, m] = sum_ij a_T(theta_t)_i conj(a_R(phi_p)_j) C[i, j, m] is one matrix product
        seg_lo = block_start - d_hi
        seg = reference[:, seg_lo : block_start + n - d_lo]
        offsets = block_start - lags - seg_lo
        # circular correlation over a length that holds the segment is the linear one at these offsets
        size = _fast_length(seg.shape[1])
        x_f = np.fft.fft(seg, size)
        y_f = np.fft.fft(echo, size)
        cross = np.fft.ifft(x_f.conj()[:, None, :] * y_f[None, :, :], axis=-1)[:, :, (-offsets) % size]
        a_t = steering_vector(g.n_tx, theta_grid[:, None], g.spacing)  # T x N_T (m broadcast on the last axis)
        a_r = steering_vector(g.n_rx, phi_grid[:, None], g.spacing)  # P x N_R
        # the pairs whose rays meet inside only: sum over j (the receive array), then over i
        t_in, p_in = np.nonzero(inside)
        over_rx = np.einsum("pj,ijm->pim", a_r.conj(), cross)  # P x N_T x lags
        values = np.einsum("ki,kim->km", a_t[t_in], over_rx[p_in])  # pairs x lags
        # energy of s_theta over each lag's window
        s = _small_product(a_t.conj(), seg)  # T x L
        power = s.real**2 + s.imag**2
        energy_cum = np.concatenate([np.zeros((s.shape[0], 1)), np.cumsum(power, axis=1)], axis=1)
        energy = energy_cum[:, offsets + n] - energy_cum[:, offsets]  # T x lags
        beta = self.beta
        pos = positions[t_in, p_in]
        d = np.linalg.norm(pos - g.tx, axis=-1) + np.linalg.norm(pos - g.sensing_rx, axis=-1)
        ell = lags / self.samples_per_metre
        cost = (beta**2 * g.n_rx / self.noise_w) * energy[t_in] - (2 * beta / self.noise_w) * values.real
        cost += self._coarse_prior_cost(ell[None, :], d[:, None])
        # the first minimum in (theta, phi, lag) order, as a loop over the pairs would find it
        pair, k = np.unravel_index(int(np.argmin(cost)), cost.shape)
        return pos[pair].copy(), ell[k]

    def _coarse_prior_cost(self, ell, d):
        """The sync prior on the integer-lag grid. Its spread is floored at one sample: with a spread below
        the grid step (perfect sync included) no lag would sit at ``d`` and the prior would score every
        candidate position by how close its ``d`` happens to fall to a lag, not by the data."""
        spread = max(self.sync_spread_m, 1.0 / self.samples_per_metre)
        return (np.asarray(ell) - d) ** 2 / (2 * spread**2)

    def _refine(self, echo, reference, block_start, position, ell, spread_m):
        """Levenberg-Marquardt on the negative log posterior with the exact Jacobian of :meth:`_echo_terms`;
        with ``spread_m = 0`` (perfect sync) the parameters are the position alone and ``l = d(o)``.
        Returns the position, ``l``, the number of model evaluations and ``|y - m|^2`` at the result.

        The cost is ``r^T r`` with ``r`` the whitened residuals (and the prior's), so ``J^T J`` is the
        Fisher information of the parameters and ``J^T J delta = -J^T r`` the Gauss-Newton step. The loop
        stops when the distance left to the optimum is below ``REFINE_STEP_STDS`` posterior standard
        deviations: the step's size in those units is ``sqrt(delta^T J^T J delta)`` (the Newton decrement,
        the scale on which the estimate's error lives whatever the scenario's units), and as Gauss-Newton
        converges linearly on a weak echo, the distance left is the geometric series
        ``step / (1 - rho)`` with ``rho`` the ratio of the last two steps (capped at
        ``REFINE_MAX_CONTRACTION``). Marquardt's damping (scaled by the diagonal of
        ``J^T J``) only guards the steps far from the optimum; a rejected trial costs the model alone.
        """
        scale = 2.0 / self.noise_w
        perfect_sync = spread_m == 0
        g = self.geometry
        n = echo.shape[1]
        tx, rx = g.tx, g.sensing_rx
        segments = {}

        def cost_at(p):
            # d(o) = d_bo + d_or and its gradient (physics.geometry.bistatic_range_m and _gradient, inline)
            bx, by, rx_x, rx_y = p[0] - tx[0], p[1] - tx[1], p[0] - rx[0], p[1] - rx[1]
            d_bo, d_or = math.hypot(bx, by), math.hypot(rx_x, rx_y)
            d = d_bo + d_or
            grad_d = np.array([bx / d_bo + rx_x / d_or, by / d_bo + rx_y / d_or])
            bistatic = d if perfect_sync else p[2]
            rows, spectra, coefficients = self._echo_spectra(p, bistatic, reference, block_start, n, segments)
            delayed = self._filtered(spectra, (0,))[0]
            residual = echo - self.beta * rows[0][:, None] * delayed[None, :]
            misfit = float(np.vdot(residual, residual).real)
            prior = 0.0 if perfect_sync else (bistatic - d) / spread_m
            state = (grad_d, prior, rows, spectra, coefficients, delayed, residual)
            return scale * misfit + prior * prior, misfit, state

        def normal_equations(state):
            """``J^T J`` and ``J^T r`` at an evaluated point."""
            grad_d, prior, rows, spectra, coefficients, delayed, residual = state
            signals = np.empty((3, n), complex)
            signals[0] = delayed
            signals[1:] = self._filtered(spectra, (1, 2))
            if perfect_sync:
                # l = d(o): the position moves the delay too
                coefficients = coefficients[:2] + grad_d[:, None, None] * coefficients[2]
            flat = coefficients.reshape(len(coefficients), 6)
            # <R_r V_v, R_s V_w> = (R^H R)_rs (V^H V)_vw and <R_r V_v, residual>
            gram = (rows.conj() @ rows.T)[:, None, :, None] * (signals.conj() @ signals.T)[None, :, None, :]
            projections = (signals.conj() @ (rows.conj() @ residual).T).T.reshape(6)
            # residuals r = sqrt(2)/sigma (y - m) in real and imaginary parts, plus the prior's (l - d)/spread
            normal = scale * (flat @ gram.reshape(6, 6) @ flat.T).real  # J^T J (the residuals' Jacobian is -dm)
            gradient = -scale * (flat @ projections).real  # J^T r
            if not perfect_sync:
                prior_jac = np.array([-grad_d[0] / spread_m, -grad_d[1] / spread_m, 1.0 / spread_m])
                normal += prior_jac[:, None] * prior_jac[None, :]
                gradient += prior_jac * prior
            return normal, gradient

        x = np.array([position[0], position[1]] + ([] if perfect_sync else [ell]), float)
        cost, misfit, state = cost_at(x)
        evaluations = 1
        damping, growth = REFINE_INITIAL_DAMPING, 2.0
        last_step_stds = math.inf
        for _ in range(REFINE_MAX_ITERATIONS):
            normal, gradient = normal_equations(state)
            try:
                newton = np.linalg.solve(normal, -gradient)
            except np.linalg.LinAlgError:
                newton = None
            if newton is not None:
                # the Gauss-Newton step in posterior standard deviations (its Newton decrement), and the
                # distance left if the steps keep shrinking by the last ratio
                step_stds = math.sqrt(max(float(-gradient @ newton), 0.0))
                contraction = min(step_stds / last_step_stds, REFINE_MAX_CONTRACTION)
                if step_stds / (1.0 - contraction) < REFINE_STEP_STDS:
                    break
                last_step_stds = step_stds
            diagonal = np.maximum(np.diag(normal), np.finfo(float).tiny)
            accepted = False
            while not accepted and evaluations < REFINE_MAX_EVALUATIONS:
                try:
                    step = np.linalg.solve(normal + damping * np.diag(diagonal), -gradient)
                except np.linalg.LinAlgError:
                    damping *= 10.0
                    continue
                trial = x + step
                trial_cost, trial_misfit, trial_state = cost_at(trial)
                evaluations += 1
                # Nielsen's update: the damping follows the gain ratio (actual / predicted decrease)
                predicted = -float(step @ gradient) * 2.0 - float(step @ normal @ step)
                gain = (cost - trial_cost) / predicted if predicted > 0 else -1.0
                if np.isfinite(trial_cost) and trial_cost <= cost:
                    x, cost, misfit, state = trial, trial_cost, trial_misfit, trial_state
                    damping *= max(1.0 / 3.0, 1.0 - (2.0 * gain - 1.0) ** 3)
                    growth = 2.0
                    accepted = True
                else:
                    damping *= growth
                    growth *= 2.0
            if not accepted:
                break
        pos = x[:2]
        ell = self._bistatic_range(pos) if perfect_sync else float(x[2])
        return pos, ell, evaluations, misfit


def _angle_grid(angles, step):
    """Grid covering the angular span of the region's corners (unwrapped), padded by two steps."""
    ang = np.unwrap(np.asarray(angles))
    lo, hi = ang.min() - 2 * step, ang.max() + 2 * step
    return np.arange(lo, hi + step / 2, step)


def _small_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for a short inner dimension (the antennas) as a sum of outer products: a matrix product
    of this shape is large enough for OpenBLAS to hand it to its threads, and waking them costs far more
    than the product itself on a busy machine (milliseconds against tens of microseconds)."""
    out = a[:, :1] * b[0]
    for i in range(1, a.shape[1]):
        out += a[:, i : i + 1] * b[i]
    return out


@functools.lru_cache(maxsize=64)
def _fast_length(n: int) -> int:
    """Smallest ``2^a 3^b 5^c >= n`` (an FFT length without large prime factors)."""
    best = 1 << int(np.ceil(np.log2(max(n, 1))))
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best


def _ray_intersections(p1, a1, p2, a2):
    """Points where the rays from p1 at angles a1 and from p2 at angles a2 meet (broadcast over the angles;
    NaN where they are parallel or meet behind either origin)."""
    d1 = np.stack(np.broadcast_arrays(np.cos(a1), np.sin(a1)), axis=-1)
    d2 = np.stack(np.broadcast_arrays(np.cos(a2), np.sin(a2)), axis=-1)
    d1, d2 = np.broadcast_arrays(d1, d2)
    b = np.asarray(p2, float) - np.asarray(p1, float)
    # [d1, -d2] [t1, t2]^T = b by Cramer's rule
    det = d2[..., 0] * d1[..., 1] - d1[..., 0] * d2[..., 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (d2[..., 0] * b[1] - d2[..., 1] * b[0]) / det
        t2 = (d1[..., 0] * b[1] - d1[..., 1] * b[0]) / det
    valid = (np.abs(det) >= 1e-9) & (t1 > 0) & (t2 > 0)
    points = np.asarray(p1, float) + t1[..., None] * d1
    points[~valid] = np.nan
    return points
