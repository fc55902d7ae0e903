# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Target motion: a piecewise-linear waypoint trajectory at constant speed (the scenario's ``motion``)."""

from __future__ import annotations

import math

import numpy as np

from ..errors import IsscInputError


class Trajectory:
    """Piecewise-linear motion through waypoints at constant speed; the target stays at the last one.

    Args:
        waypoints: ``K x 2`` positions in metres (one waypoint: a static target).
        speed_mps: speed along the path, m/s (>= 0).
    """

    def __init__(self, waypoints, speed_mps: float):
        points = np.asarray(waypoints, dtype=float)
        if points.ndim != 2 or points.shape[1] != 2 or points.shape[0] < 1 or not np.all(np.isfinite(points)):
            raise IsscInputError(f"waypoints must be a non-empty list of finite [x, y] pairs, got {waypoints!r}")
        if not (math.isfinite(speed_mps) and speed_mps >= 0):
            raise IsscInputError(f"speed must be a finite number >= 0 m/s, got {speed_mps!r}")
        self.waypoints = points
        self.speed_mps = float(speed_mps)
        legs = np.linalg.norm(np.diff(points, axis=0), axis=1)
        self._cumulative = np.concatenate([[0.0], np.cumsum(legs)])

    @property
    def length_m(self) -> float:
        return float(self._cumulative[-1])

    def position(self, t_s: float) -> np.ndarray:
        """Position at time ``t_s`` (s) after the start."""
        travelled = min(max(t_s, 0.0) * self.speed_mps, self.length_m)
        leg = int(np.searchsorted(self._cumulative, travelled, side="right") - 1)
        if leg >= len(self.waypoints) - 1:
            return self.waypoints[-1].copy()
        span = self._cumulative[leg + 1] - self._cumulative[leg]
        fraction = 0.0 if span == 0 else (travelled - self._cumulative[leg]) / span
        return self.waypoints[leg] + fraction * (self.waypoints[leg + 1] - self.waypoints[leg])

    def velocity(self, t_s: float) -> np.ndarray:
        travelled = max(t_s, 0.0) * self.speed_mps
        if travelled >= self.length_m or self.speed_mps == 0:
            return np.zeros(2)
        leg = int(np.searchsorted(self._cumulative, travelled, side="right") - 1)
        direction = self.waypoints[leg + 1] - self.waypoints[leg]
        return self.speed_mps * direction / np.linalg.norm(direction)


def scenario_trajectory(scenario) -> Trajectory:
    """The target's trajectory in a scenario (one point when the target is static)."""
    points = (scenario.geometry.target,) + (scenario.motion.waypoints if scenario.moving else ())
    return Trajectory(points, scenario.motion.speed_mps)
