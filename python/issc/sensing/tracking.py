# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Target tracking: a constant-velocity Kalman tracker.

The tracker is the piece the controller's ``tracking`` mode needs: it predicts where the target will be
at the next frame (the beams are designed for that point and the estimator searches around it), takes
the estimator's accepted position estimates with their bound as measurement covariance, gates outliers,
and says when the track is lost (the controller then falls back to a wider sensing beam).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import IsscInputError

CHI2_2DOF_999 = 13.8155  # 99.9 % point of chi-square with 2 degrees of freedom


@dataclass
class TrackUpdate:
    """What one measurement did: ``accepted`` (inside the gate), its Mahalanobis distance squared, and
    whether the track is now ``lost`` (too many consecutive misses)."""

    accepted: bool
    distance2: float
    lost: bool


class ConstantVelocityTracker:
    """Kalman filter on ``[x, y, vx, vy]`` with white-acceleration process noise.

    Args:
        initial_position: where the track starts (e.g. the scenario's target), m.
        initial_std_m: standard deviation of that start, m.
        initial_speed_std_mps: standard deviation of the unknown initial velocity, m/s (the scenario's
            ``tracking.initial_speed_std_mps`` has the same default).
        acceleration_std: process noise, m/s^2 (how fast the target may change velocity).
        gate: Mahalanobis distance squared above which a measurement is an outlier (default: 99.9 % of
            chi-square with 2 degrees of freedom).
        max_misses: consecutive rejected or missing measurements after which the track is lost.
    """

    def __init__(
        self,
        initial_position,
        initial_std_m: float = 10.0,
        initial_speed_std_mps: float = 50.0,
        acceleration_std: float = 2.0,
        gate: float = CHI2_2DOF_999,
        max_misses: int = 5,
    ):
        position = np.asarray(initial_position, dtype=float)
        if position.shape != (2,) or not np.all(np.isfinite(position)):
            raise IsscInputError(f"initial position must be a finite [x, y], got {initial_position!r}")
        for name, value in (
            ("initial_std_m", initial_std_m),
            ("initial_speed_std_mps", initial_speed_std_mps),
            ("acceleration_std", acceleration_std),
            ("gate", gate),
        ):
            if not (math.isfinite(value) and value > 0):
                raise IsscInputError(f"{name} must be a finite number > 0, got {value!r}")
        if int(max_misses) != max_misses or max_misses < 1:
            raise IsscInputError(f"max_misses must be an integer >= 1, got {max_misses!r}")
        self.state = np.concatenate([position, np.zeros(2)])
        self.covariance = np.diag([initial_std_m**2] * 2 + [initial_speed_std_mps**2] * 2)
        self.acceleration_std = float(acceleration_std)
        self.gate = float(gate)
        self.max_misses = int(max_misses)
        self.misses = 0
        self.updates = 0

    @property
    def position(self) -> np.ndarray:
        return self.state[:2].copy()

    @property
    def velocity(self) -> np.ndarray:
        return self.state[2:].copy()

    @property
    def lost(self) -> bool:
        return self.misses >= self.max_misses

    def predict(self, dt_s: float) -> np.ndarray:
        """Advance the state by ``dt_s`` seconds; returns the predicted position."""
        if not (math.isfinite(dt_s) and dt_s >= 0):
            raise IsscInputError(f"time step must be a finite number >= 0 s, got {dt_s!r}")
        transition = np.eye(4)
        transition[0, 2] = transition[1, 3] = dt_s
        # white acceleration: Q = q * [[dt^4/4, dt^3/2], [dt^3/2, dt^2]] per axis
        q = self.acceleration_std**2
        block = q * np.array([[dt_s**4 / 4, dt_s**3 / 2], [dt_s**3 / 2, dt_s**2]])
        noise = np.zeros((4, 4))
        noise[np.ix_([0, 2], [0, 2])] = block
        noise[np.ix_([1, 3], [1, 3])] = block
        self.state = transition @ self.state
        self.covariance = transition @ self.covariance @ transition.T + noise
        return self.position

    def predicted_position(self, dt_s: float) -> np.ndarray:
        """Where the target will be ``dt_s`` seconds from now, without changing the filter."""
        return self.state[:2] + dt_s * self.state[2:]

    def miss(self) -> TrackUpdate:
        """No usable measurement this time (the estimator flagged its block)."""
        self.misses += 1
        return TrackUpdate(False, math.nan, self.lost)

    def update(self, measured_position, measurement_cov) -> TrackUpdate:
        """Fuse one position estimate with its ``2 x 2`` covariance (e.g. the block's HCRB); outliers
        beyond the gate are counted as misses and leave the state unchanged."""
        z = np.asarray(measured_position, dtype=float)
        r = np.asarray(measurement_cov, dtype=float)
        if z.shape != (2,) or r.shape != (2, 2) or not (np.all(np.isfinite(z)) and np.all(np.isfinite(r))):
            return self.miss()
        innovation = z - self.state[:2]
        innovation_cov = self.covariance[:2, :2] + r
        try:
            distance2 = float(innovation @ np.linalg.solve(innovation_cov, innovation))
        except np.linalg.LinAlgError:
            return self.miss()
        if distance2 > self.gate:
            self.misses += 1
            return TrackUpdate(False, distance2, self.lost)
        gain = np.linalg.solve(innovation_cov, self.covariance[:2, :]).T  # 4 x 2 = P H^T S^-1
        self.state = self.state + gain @ innovation
        self.covariance = self.covariance - gain @ self.covariance[:2, :]
        self.covariance = (self.covariance + self.covariance.T) / 2
        self.misses = 0
        self.updates += 1
        return TrackUpdate(True, distance2, False)
