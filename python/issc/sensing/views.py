# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""View model of ``issc_sensing_map``: the scene, the estimates, the track and the HCRB ellipse.

The block's message handlers hand the sensing estimator's reports, the controller's track messages and
its frame configurations to :class:`SensingMapView`; a Qt timer in the GUI thread draws each new
:meth:`SensingMapView.snapshot`. No Qt here (the tests run without a display).

The ellipse: an unbiased estimator's error ``e`` with covariance ``C`` (here the 2x2 HCRB of the
position) has, if Gaussian, ``e^T C^-1 e`` chi-square with 2 degrees of freedom, whose quantile is
``-2 ln(1 - p)``; the region holding a fraction ``p`` of the estimates is the ellipse with semi-axes
``sqrt(-2 ln(1 - p) * lambda_i)`` along the eigenvectors of ``C`` (:func:`covariance_ellipse`). For
``p = 0.95`` the scale is ``sqrt(5.991) = 2.448``. The map's ``C`` is the bound of the frame's
design: the HCRB (docs/model.md §5) for the transmit covariance ``Sigma = w_c w_c^H + W_0 W_0^H`` of
the latest configuration, evaluated at the latest accepted estimate; before any configuration it is
``hcrb_trace / 2 * I`` from the estimator's report, the tracker's measurement covariance
(:func:`~gnuradio.issc.sensing.policy.usable_measurement`).
"""

from __future__ import annotations

import collections
import math
import threading
from dataclasses import dataclass

import numpy as np

from ..errors import IsscInputError
from ..link.config import LinkConfig
from ..link.pdus import is_int, is_real
from ..link.views import as_dict, check_history
from ..physics.geometry import Geometry, noise_powers_w
from ..physics.hcrb import FisherModel
from ..physics.motion import scenario_trajectory
from ..scenario import load_scenario
from .policy import TrackState


def chi2_2dof_scale(probability: float) -> float:
    """``sqrt(-2 ln(1 - p))``: the Mahalanobis radius holding a fraction ``p`` of a 2-D Gaussian.

    Raises:
        IsscInputError: ``p`` not in (0, 1).
    """
    if not (is_real(probability) and 0 < probability < 1):
        raise IsscInputError(f"probability must be in (0, 1), got {probability!r}")
    return math.sqrt(-2.0 * math.log1p(-float(probability)))


def check_covariance(cov) -> np.ndarray:
    """``cov`` as a symmetric positive definite finite 2x2 float array.

    Raises:
        IsscInputError: not 2x2, not finite, not symmetric (to 1e-9 relative) or not positive definite.
    """
    c = np.asarray(cov, dtype=float)
    if c.shape != (2, 2) or not np.all(np.isfinite(c)):
        raise IsscInputError(f"a position covariance must be a finite 2x2 matrix, got {np.asarray(cov)!r}")
    if abs(c[0, 1] - c[1, 0]) > 1e-9 * max(abs(c[0, 0]), abs(c[1, 1]), 1e-300):
        raise IsscInputError("a position covariance must be symmetric")
    if not (c[0, 0] > 0 and np.linalg.det(c) > 0):
        raise IsscInputError("a position covariance must be positive definite")
    return 0.5 * (c + c.T)


def ellipse_axes(cov) -> tuple[float, float, float]:
    """``(semi-major, semi-minor, angle)`` of the one-sigma ellipse ``e^T C^-1 e = 1``: the square roots
    of ``C``'s eigenvalues, and the major axis's angle from the x axis in radians, in (-pi/2, pi/2]."""
    c = check_covariance(cov)
    values, vectors = np.linalg.eigh(c)
    major = vectors[:, 1]
    angle = math.atan2(major[1], major[0])
    if angle <= -math.pi / 2:
        angle += math.pi
    elif angle > math.pi / 2:
        angle -= math.pi
    return math.sqrt(values[1]), math.sqrt(values[0]), angle


def covariance_ellipse(cov, centre, probability: float = 0.95, points: int = 73) -> np.ndarray:
    """The ``probability`` confidence ellipse of a 2-D Gaussian as a closed polyline (``points x 2``,
    the last point equal to the first): ``centre + k (a cos t u + b sin t v)`` with the semi-axes ``a``,
    ``b`` and their directions ``u``, ``v`` of :func:`ellipse_axes` and ``k = chi2_2dof_scale(probability)``.
    With ``points - 1`` a multiple of 4 (the default 73) the four ends of the axes are vertices, so a
    thin ellipse keeps its true width when drawn.

    Raises:
        IsscInputError: a bad covariance (:func:`check_covariance`), probability, centre or point count.
    """
    major, minor, angle = ellipse_axes(cov)
    centre = np.asarray(centre, dtype=float)
    if centre.shape != (2,) or not np.all(np.isfinite(centre)):
        raise IsscInputError(f"ellipse centre must be a finite [x, y], got {centre!r}")
    if not is_int(points) or points < 5:
        raise IsscInputError(f"an ellipse needs at least 5 points, got {points!r}")
    t = np.linspace(0.0, 2.0 * np.pi, int(points))
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    axes = np.stack([major * np.cos(t), minor * np.sin(t)])
    curve = centre[:, None] + chi2_2dof_scale(probability) * rotation @ axes
    curve[:, -1] = curve[:, 0]  # closed exactly
    return curve.T


def design_covariance(config: LinkConfig) -> np.ndarray:
    """The transmit covariance ``Sigma = w_c w_c^H + W_0 W_0^H`` (W) of a frame configuration
    (docs/model.md §2)."""
    beams = config.beam_matrix
    return beams @ beams.conj().T


@dataclass(frozen=True)
class Scene:
    """The fixed part of the map, from the scenario.

    Args:
        tx: the transmitter's position.
        sensing_rx: the sensing receiver's position.
        comm_rx: the communication receiver's position.
        target: the target's initial position.
        path: the target's waypoints (``K x 2``; one row for a static target).
    """

    tx: np.ndarray
    sensing_rx: np.ndarray
    comm_rx: np.ndarray
    target: np.ndarray
    path: np.ndarray

    def extent(self, margin: float = 0.1) -> tuple[float, float, float, float]:
        """``(x_min, x_max, y_min, y_max)`` around every node and the path, with ``margin`` of the span
        (at least 5 m) on each side."""
        points = np.vstack([self.tx, self.sensing_rx, self.comm_rx, self.target, self.path])
        low, high = points.min(axis=0), points.max(axis=0)
        pad = np.maximum((high - low) * margin, 5.0)
        return float(low[0] - pad[0]), float(high[0] + pad[0]), float(low[1] - pad[1]), float(high[1] + pad[1])


@dataclass(frozen=True)
class MapSnapshot:
    """What the map draws, at one moment (arrays are copies).

    Args:
        version: changes whenever anything below does.
        scene: the scenario's nodes and path.
        estimates: accepted estimates, oldest first (``k x 2``).
        rejected: estimates the estimator flagged (``ok`` false) that still had a position (``k x 2``).
        truths: true target positions of the estimated blocks (``k x 2``; empty outside simulation).
        latest: the latest accepted estimate, or None.
        latest_error_m: its distance to the truth (``error_m``), or None.
        track: the tracker's positions after each track message (``k x 2``).
        predicted: the track's straight-line prediction ``horizon_s`` ahead (``2 x 2``: from, to), or None.
        track_lost: the latest track message said the track is lost.
        design: the position the latest configuration's beams were designed for, or None.
        ellipse: the HCRB confidence ellipse (``points x 2``), or None.
        ellipse_source: 'design' (the configuration's full 2x2 HCRB), 'trace' (``hcrb_trace / 2 * I`` of
            the report) or '' (no ellipse).
        hcrb_rmse_m: ``sqrt(tr C)`` of the ellipse's covariance, or None.
        reports: estimator reports taken; non_estimates: reports without a position.
    """

    version: int
    scene: Scene
    estimates: np.ndarray
    rejected: np.ndarray
    truths: np.ndarray
    latest: np.ndarray | None
    latest_error_m: float | None
    track: np.ndarray
    predicted: np.ndarray | None
    track_lost: bool
    design: np.ndarray | None
    ellipse: np.ndarray | None
    ellipse_source: str
    hcrb_rmse_m: float | None
    reports: int
    non_estimates: int


def _points(values) -> np.ndarray:
    return np.array(list(values), dtype=float).reshape(-1, 2)


def _finite_point(values: dict, kx: str, ky: str, where: str) -> np.ndarray | None:
    """``[values[kx], values[ky]]`` when both are present; None when both are absent."""
    x, y = values.get(kx), values.get(ky)
    if x is None and y is None:
        return None
    if not (is_real(x) and is_real(y) and math.isfinite(x) and math.isfinite(y)):
        raise IsscInputError(f"{where} needs finite real '{kx}' and '{ky}', got {x!r}, {y!r}")
    return np.array([float(x), float(y)])


class SensingMapView:
    """The sensing map's state, fed by the estimator and the controller.

    Args:
        scenario: shipped scenario name, YAML path or :class:`~gnuradio.issc.scenario.Scenario`: the nodes,
            the target's path, and the noise, block length, bandwidth and sync prior of the HCRB.
        history: estimates, truths and track points kept.
        probability: the ellipse's confidence level.
        horizon_s: how far ahead the track's prediction is drawn, s.
    """

    def __init__(self, scenario="paper", history: int = 50, probability: float = 0.95, horizon_s: float = 0.25):
        scn = load_scenario(scenario)
        self.history = check_history(history)
        self.scale = chi2_2dof_scale(probability)
        self.probability = float(probability)
        if not (is_real(horizon_s) and math.isfinite(horizon_s) and horizon_s >= 0):
            raise IsscInputError(f"horizon_s must be a finite number >= 0, got {horizon_s!r}")
        self.horizon_s = float(horizon_s)
        self.geometry = Geometry.from_scenario(scn)
        g = self.geometry
        path = scenario_trajectory(scn).waypoints.copy()
        self.scene = Scene(g.tx.copy(), g.sensing_rx.copy(), g.comm_rx.copy(), g.target.copy(), path)
        # FisherModel's arguments after the geometry: sensing noise, block length, bandwidth, sync sigma (s),
        # the pulse shape
        self._fisher_args = (
            noise_powers_w(scn)[1],
            scn.signal.sensing_block,
            scn.signal.bandwidth_hz,
            scn.sync.sigma_ns * 1e-9,
            scn.signal.samples_per_symbol,
            scn.signal.rolloff,
        )
        self._lock = threading.Lock()
        self._estimates = collections.deque(maxlen=self.history)
        self._rejected = collections.deque(maxlen=self.history)
        self._truths = collections.deque(maxlen=self.history)
        self._track = collections.deque(maxlen=self.history)
        self._latest = None
        self._latest_error = None
        self._latest_trace = None  # hcrb_trace of the latest accepted report
        self._state: TrackState | None = None
        self._sigma = None
        self._design = None
        self._cov = None  # the ellipse's covariance and centre
        self._centre = None
        self._source = ""
        self.version = 0
        self.reports = 0
        self.non_estimates = 0

    # -- the bound -----------------------------------------------------------------------------------------
    def hcrb_at(self, position, sigma) -> np.ndarray:
        """The 2x2 HCRB (m^2) of a target at ``position`` for transmit covariance ``sigma``, with the
        scenario's noise, block length, bandwidth and sync prior (inf entries if not identifiable)."""
        return FisherModel(self.geometry.with_target(position), *self._fisher_args).hcrb(sigma)

    def _update_ellipse_locked(self):
        """Recompute the ellipse's covariance: the design's HCRB at the latest estimate (or at the design
        position before any estimate), else the isotropic ``hcrb_trace / 2 * I`` of the latest report."""
        centre = self._latest if self._latest is not None else self._design
        cov, source = None, ""
        if self._sigma is not None and centre is not None:
            bound = self.hcrb_at(centre, self._sigma)
            if np.all(np.isfinite(bound)):
                cov, source = bound, "design"
        if cov is None and self._latest is not None and self._latest_trace is not None:
            centre, cov, source = self._latest, np.eye(2) * self._latest_trace / 2, "trace"
        self._cov, self._centre, self._source = cov, centre, source

    # -- messages ------------------------------------------------------------------------------------------
    def estimate(self, msg) -> None:
        """A sensing estimator report (``issc_sensing_estimator``'s ``estimate``): PMT dict or dict.

        Raises:
            IsscInputError: not a dict, no integer ``block``, ``ok`` not a bool, a half-given or non-finite
                ``x``/``y`` or ``true_x``/``true_y``, or a non-numeric ``hcrb_trace``/``error_m``.
        """
        values = as_dict(msg, "sensing report")
        if not is_int(values.get("block")):
            raise IsscInputError(f"sensing report needs an integer 'block', got {values.get('block')!r}")
        ok = values.get("ok")
        if not isinstance(ok, (bool, np.bool_)):
            raise IsscInputError(f"sensing report needs a bool 'ok', got {ok!r}")
        position = _finite_point(values, "x", "y", "sensing report")
        truth = _finite_point(values, "true_x", "true_y", "sensing report")
        numbers = {}
        for key in ("hcrb_trace", "error_m"):
            value = values.get(key)
            if value is not None and not is_real(value):
                raise IsscInputError(f"sensing report: '{key}' must be a number, got {value!r}")
            numbers[key] = float(value) if value is not None and math.isfinite(value) else None
        with self._lock:
            self.reports += 1
            if truth is not None:
                self._truths.append(truth)
            if position is None:
                self.non_estimates += 1
            elif ok:
                self._estimates.append(position)
                self._latest, self._latest_error = position, numbers["error_m"]
                trace = numbers["hcrb_trace"]
                self._latest_trace = trace if trace is not None and trace > 0 else None
                self._update_ellipse_locked()
            else:
                self._rejected.append(position)
            self.version += 1

    def track(self, msg) -> None:
        """A track message (``issc_controller``'s ``track``, :meth:`TrackState.to_message`).

        Raises:
            IsscInputError: see :meth:`TrackState.from_message`.
        """
        state = TrackState.from_message(as_dict(msg, "track message"))
        with self._lock:
            self._state = state
            self._track.append(state.position.copy())
            self.version += 1

    def config(self, msg) -> None:
        """A frame configuration (``issc_controller``'s ``config``): PMT dict or :class:`LinkConfig`; its
        beams give the ellipse's covariance, its ``design_x``, ``design_y`` the design position.

        Raises:
            IsscInputError: a malformed configuration (:meth:`LinkConfig.from_pmt`), beams for another
                array than the scenario's, or a non-finite design position.
        """
        config = msg if isinstance(msg, LinkConfig) else LinkConfig.from_pmt(msg)
        if config.n_tx != self.geometry.n_tx:
            raise IsscInputError(
                f"configuration has beams for {config.n_tx} antennas, the scenario has {self.geometry.n_tx}"
            )
        design = _finite_point(config.predicted, "design_x", "design_y", "configuration")
        with self._lock:
            self._sigma = design_covariance(config)
            if design is not None:
                self._design = design
            self._update_ellipse_locked()
            self.version += 1

    # -- reading -------------------------------------------------------------------------------------------
    def snapshot(self) -> MapSnapshot:
        """Everything the map draws, consistent (taken under the lock)."""
        with self._lock:
            predicted = None
            if self._state is not None:
                start = self._state.position
                predicted = np.stack([start, self._state.position_at(self._state.t_s + self.horizon_s)])
            ellipse = None
            rmse = None
            if self._cov is not None:
                ellipse = covariance_ellipse(self._cov, self._centre, self.probability)
                rmse = math.sqrt(float(np.trace(self._cov)))
            return MapSnapshot(
                self.version,
                self.scene,
                _points(self._estimates),
                _points(self._rejected),
                _points(self._truths),
                None if self._latest is None else self._latest.copy(),
                self._latest_error,
                _points(self._track),
                predicted,
                bool(self._state is not None and self._state.lost),
                None if self._design is None else self._design.copy(),
                ellipse,
                self._source,
                rmse,
                self.reports,
                self.non_estimates,
            )

    @property
    def covariance(self) -> np.ndarray | None:
        """The ellipse's current 2x2 covariance (m^2), or None."""
        with self._lock:
            return None if self._cov is None else self._cov.copy()
