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
   pairs (finer than a tenth of the array beamwidth) and every integer delay in range is one FFT
   cross-correlation per pair; pairs whose rays meet outside the region are skipped.
2. Gauss-Newton / Levenberg-Marquardt refinement of ``(o_x, o_y, l)`` on the exact model.

The quality statistic is the generalised log-likelihood ratio against "no target" at the estimate
(``glrt``, chi-square-like under no target); ``ok`` is ``glrt >= glrt_threshold``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares

from ..physics.channels import SYNC_TRUNCATION_SIGMAS, echo_history_samples
from ..physics.dsp import DEFAULT_HALF_TAPS, delayed_segment
from ..physics.geometry import Geometry, angle_of, bistatic_range_m, steering_vector
from ..physics.hcrb import FisherModel
from ..units import SPEED_OF_LIGHT


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
    ):
        self.geometry = geometry
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
            **kwargs,
        )

    # -- model ------------------------------------------------------------------------------------------
    def delay_samples(self, bistatic_range_m: float) -> float:
        return bistatic_range_m * self.samples_per_metre

    def model(self, position, bistatic_range_m, reference, block_start, length: int | None = None) -> np.ndarray:
        """Noise-free echo block (``N_R x N``) for a target at ``position``; ``reference`` is the
        transmitted ``N_T x L`` signal whose column 0 is absolute sample 0 of the segment, and the block
        starts at column ``block_start``; ``length`` is ``N`` (default: the block being estimated)."""
        g = self.geometry.with_target(position)
        s = steering_vector(g.n_tx, g.theta, g.spacing).conj() @ reference
        length = self._block_length if length is None else int(length)
        delayed = delayed_segment(s, block_start, length, self.delay_samples(bistatic_range_m), self.half_taps)
        return self.beta * np.outer(steering_vector(g.n_rx, g.phi, g.spacing), delayed)

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
        position, ell, iterations = self._refine(
            echo, reference, block_start, *start, spread_m=max(self.sync_spread_m, sample_m)
        )
        if self.sync_spread_m < sample_m:
            position, ell, more = self._refine(echo, reference, block_start, position, ell, spread_m=self.sync_spread_m)
            iterations += more
        glrt = self._glrt(echo, reference, block_start, position, ell)
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
            self.geometry.with_target(position), self.noise_w, n, self.bandwidth_hz, self.sync_sigma_s
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
        # s_theta on the span the lags need; z_phi on the block
        seg_lo = block_start - d_hi
        seg = reference[:, seg_lo : block_start + n - d_lo]
        a_t = np.stack([steering_vector(g.n_tx, t, g.spacing) for t in theta_grid])  # T x N_T
        a_r = np.stack([steering_vector(g.n_rx, p, g.spacing) for p in phi_grid])  # P x N_R
        s = a_t.conj() @ seg  # T x L
        z = a_r.conj() @ echo  # P x N
        size = int(2 ** np.ceil(np.log2(s.shape[1] + n)))
        s_f = np.fft.fft(s, size)
        z_f = np.fft.fft(z, size)
        # corr[t, p, m] = sum_n conj(s[t, m + n]) z[p, n]  for m = block_start - D - seg_lo
        offsets = block_start - lags - seg_lo
        energy_cum = np.concatenate([np.zeros((s.shape[0], 1)), np.cumsum(np.abs(s) ** 2, axis=1)], axis=1)
        energy = energy_cum[:, offsets + n] - energy_cum[:, offsets]  # T x lags
        beta = self.beta
        best = None
        for ti, theta in enumerate(theta_grid):
            corr = np.fft.ifft(z_f * np.conj(s_f[ti])[None, :], axis=1)  # P x size
            # corr_full[k] = sum_n z[n] conj(s[n - k]) ... gather lag m = offsets via index (-m) mod size
            values = corr[:, (-offsets) % size]  # P x lags
            data = (-2 * beta * values.real + beta**2 * g.n_rx * energy[ti][None, :]) / self.noise_w
            for pi, phi in enumerate(phi_grid):
                position = _ray_intersection(g.tx, theta, g.sensing_rx, phi)
                if position is None or np.max(np.abs(position - centre)) > self.halfwidth:
                    continue
                d = self._bistatic_range(position)
                ell = lags / self.samples_per_metre
                cost = data[pi] + self._coarse_prior_cost(ell, d)
                k = int(np.argmin(cost))
                if best is None or cost[k] < best[0]:
                    best = (cost[k], position, ell[k])
        return None if best is None else (best[1], best[2])

    def _coarse_prior_cost(self, ell, d):
        """The sync prior on the integer-lag grid. Its spread is floored at one sample: with a spread below
        the grid step (perfect sync included) no lag would sit at ``d`` and the prior would score every
        candidate position by how close its ``d`` happens to fall to a lag, not by the data."""
        spread = max(self.sync_spread_m, 1.0 / self.samples_per_metre)
        return (np.asarray(ell) - d) ** 2 / (2 * spread**2)

    def _refine(self, echo, reference, block_start, position, ell, spread_m):
        sigma = np.sqrt(self.noise_w)
        perfect_sync = spread_m == 0

        def residuals(p):
            pos = p[:2]
            d = self._bistatic_range(pos)
            bistatic = d if perfect_sync else p[2]
            diff = (echo - self.model(pos, bistatic, reference, block_start)).reshape(-1) * (np.sqrt(2) / sigma)
            parts = [diff.real, diff.imag]
            if not perfect_sync:
                parts.append(np.array([(bistatic - d) / spread_m]))
            return np.concatenate(parts)

        x0 = np.array([position[0], position[1]] + ([] if perfect_sync else [ell]))
        result = least_squares(
            residuals, x0, method="lm", x_scale="jac", xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=400
        )
        pos = result.x[:2]
        d = self._bistatic_range(pos)
        return pos, (d if perfect_sync else float(result.x[2])), int(result.nfev)

    def _glrt(self, echo, reference, block_start, position, ell) -> float:
        fitted = self.model(position, ell, reference, block_start)
        gain = np.sum(np.abs(echo) ** 2) - np.sum(np.abs(echo - fitted) ** 2)
        return float(gain / self.noise_w)


def _angle_grid(angles, step):
    """Grid covering the angular span of the region's corners (unwrapped), padded by two steps."""
    ang = np.unwrap(np.asarray(angles))
    lo, hi = ang.min() - 2 * step, ang.max() + 2 * step
    return np.arange(lo, hi + step / 2, step)


def _ray_intersection(p1, a1, p2, a2):
    """Point where the rays from p1 at angle a1 and from p2 at angle a2 meet (None if parallel/behind)."""
    d1 = np.array([np.cos(a1), np.sin(a1)])
    d2 = np.array([np.cos(a2), np.sin(a2)])
    matrix = np.column_stack([d1, -d2])
    det = np.linalg.det(matrix)
    if abs(det) < 1e-9:
        return None
    t1, t2 = np.linalg.solve(matrix, np.asarray(p2, float) - np.asarray(p1, float))
    if t1 <= 0 or t2 <= 0:
        return None
    return np.asarray(p1, float) + t1 * d1
