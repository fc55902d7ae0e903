# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller's tracking policy: estimator reports in, the position the beams are designed for out.

In the controller's ``tracking`` mode every sensing report goes through :class:`TrackingPolicy`:

- a usable report (``ok``, finite ``x``, ``y`` and ``hcrb_trace > 0``) updates a constant-velocity
  Kalman filter with measurement covariance ``hcrb_trace / 2 * I`` (the bound's trace split evenly over
  the two axes); any other report is a miss;
- the design position is the filter's position predicted ``lead_s`` ahead (a configuration is used by a
  frame that goes on the air a few frames after the estimated block);
- after ``tracking.max_misses`` misses in a row the track is lost, and the sensing beam is the wider
  sub-array beam of ``scenario.fallback_antennas()`` antennas until a report is accepted again.

The filter's state after each report goes to the estimator as a *track message*
(:class:`TrackState`), which centres the next search region on the track's prediction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import IsscInputError
from ..scenario import load_scenario
from .tracking import ConstantVelocityTracker

TRACK_KEYS = ("t_s", "x", "y", "vx", "vy")


@dataclass(frozen=True)
class TrackState:
    """The tracker's position and velocity at time ``t_s``, as the controller sends them to the
    estimator on its ``track`` port.

    Args:
        t_s: time of the state (the estimated block's time ``block * block_interval_s``), s.
        position: ``[x, y]``, m.
        velocity: ``[vx, vy]``, m/s.
        lost: the track is lost (too many misses in a row).
        misses: misses in a row.
    """

    t_s: float
    position: np.ndarray
    velocity: np.ndarray
    lost: bool = False
    misses: int = 0

    def position_at(self, t_s: float) -> np.ndarray:
        """The position at time ``t_s`` on a straight line at the state's velocity (constant velocity)."""
        return self.position + self.velocity * (t_s - self.t_s)

    def to_message(self) -> dict:
        """The track message: ``t_s``, ``x``, ``y``, ``vx``, ``vy`` (floats), ``lost``, ``misses``."""
        return {
            "t_s": self.t_s,
            "x": float(self.position[0]),
            "y": float(self.position[1]),
            "vx": float(self.velocity[0]),
            "vy": float(self.velocity[1]),
            "lost": self.lost,
            "misses": self.misses,
        }

    @classmethod
    def from_message(cls, values: dict) -> TrackState:
        """Read a track message (a dict as :meth:`to_message` writes it; ``lost`` and ``misses`` optional).

        Raises:
            IsscInputError: a field of ``t_s``, ``x``, ``y``, ``vx``, ``vy`` is missing, not a number, or
                not finite.
        """
        numbers = [values.get(k) for k in TRACK_KEYS]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers):
            raise IsscInputError(f"track message needs numeric {', '.join(TRACK_KEYS)}")
        if not all(math.isfinite(v) for v in numbers):
            raise IsscInputError("track message has non-finite values")
        t_s, x, y, vx, vy = (float(v) for v in numbers)
        misses = values.get("misses", 0)
        return cls(
            t_s,
            np.array([x, y]),
            np.array([vx, vy]),
            bool(values.get("lost", False)),
            misses if isinstance(misses, int) and not isinstance(misses, bool) else 0,
        )


def usable_measurement(report: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """``(position, covariance)`` of an estimator report the tracker may fuse, or None for a miss.

    A report is usable when it is flagged ``ok`` and has finite real ``x``, ``y`` and ``hcrb_trace > 0``;
    its covariance is ``hcrb_trace / 2 * I``: the bound gives the trace of the position error covariance,
    not its shape, so the trace is split evenly over the two axes.
    """
    x, y, hcrb = (report.get(k) for k in ("x", "y", "hcrb_trace"))
    finite = all(isinstance(v, (int, float)) and math.isfinite(v) for v in (x, y, hcrb))
    if not (bool(report.get("ok")) and finite and hcrb > 0):
        return None
    return np.array([x, y], float), np.eye(2) * hcrb / 2


class TrackingPolicy:
    """Turns estimator reports into the design position and the sensing beam's width.

    Args:
        scenario: the scenario (name, path or :class:`~gnuradio.issc.scenario.Scenario`): its target is
            the design position until the first report; ``block_interval_s()`` gives a block's time and
            ``fallback_antennas()`` the width of the beam used while the track is lost.
        tracker: the filter (default :meth:`tracker_for` the scenario).
        lead_s: design for the position predicted this long after the estimated block, s.
    """

    def __init__(self, scenario, tracker: ConstantVelocityTracker | None = None, lead_s: float = 0.0):
        scn = load_scenario(scenario)
        if not (isinstance(lead_s, (int, float)) and math.isfinite(lead_s) and lead_s >= 0):
            raise IsscInputError(f"lead time must be a finite number >= 0 s, got {lead_s!r}")
        self.tracker = self.tracker_for(scn) if tracker is None else tracker
        self.lead_s = float(lead_s)
        self.block_interval_s = scn.block_interval_s()
        self.fallback_antennas = scn.fallback_antennas()
        self.time_s = 0.0  # the time the tracker's state is at
        self.design_position = np.asarray(scn.geometry.target, float)

    @staticmethod
    def tracker_for(scenario) -> ConstantVelocityTracker:
        """The link's tracker for a scenario: it starts at the scenario's target, uncertain to half the
        estimator's search half-width, with the scenario's ``tracking`` velocity prior, process noise
        and miss limit."""
        scn = load_scenario(scenario)
        return ConstantVelocityTracker(
            scn.geometry.target,
            initial_std_m=scn.tracking.search_halfwidth_m / 2,
            initial_speed_std_mps=scn.tracking.initial_speed_std_mps,
            acceleration_std=scn.tracking.acceleration_std,
            max_misses=scn.tracking.max_misses,
        )

    @staticmethod
    def lead_time_s(lead_frames: float, frame_blocks: float, block_interval_s: float) -> float:
        """``lead_frames`` frames of ``frame_blocks`` sensing blocks each, in seconds.

        Raises:
            IsscInputError: ``lead_frames`` is not a finite number >= 0.
        """
        if not (isinstance(lead_frames, (int, float)) and math.isfinite(lead_frames) and lead_frames >= 0):
            raise IsscInputError(f"lead_frames must be a finite number >= 0, got {lead_frames!r}")
        return float(lead_frames) * frame_blocks * block_interval_s

    @property
    def lost(self) -> bool:
        return self.tracker.lost

    @property
    def widen_antennas(self) -> int:
        """Antennas of the wider sensing beam while the track is lost, 0 (the designed beam) otherwise."""
        return self.fallback_antennas if self.tracker.lost else 0

    def state(self) -> TrackState:
        """The tracker's current state as a :class:`TrackState`."""
        return TrackState(
            self.time_s, self.tracker.position, self.tracker.velocity, self.tracker.lost, self.tracker.misses
        )

    def update(self, block: int, report: dict) -> dict | None:
        """Feed the report of sensing block ``block``: advance the filter to the block's time, fuse the
        report or count a miss (:func:`usable_measurement`), and move the design position.

        Returns:
            The track message (:meth:`TrackState.to_message`), or None for a stale report (its block is
            older than the track's time), which changes nothing.
        """
        t_s = block * self.block_interval_s
        if t_s < self.time_s:
            return None
        self.tracker.predict(t_s - self.time_s)
        self.time_s = t_s
        measurement = usable_measurement(report)
        if measurement is None:
            self.tracker.miss()
        else:
            self.tracker.update(*measurement)
        self.design_position = self.tracker.predicted_position(self.lead_s)
        return self.state().to_message()
