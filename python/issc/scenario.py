# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Scenario files: the YAML description of one ISSC deployment, validated into dataclasses.

A scenario is named by a shipped name (``paper``) or by a path to a ``.yml`` file. Keys left out
take the defaults below, which are the paper's values (docs/model.md §9); these dataclass
defaults are the single source of defaults for the CLI, the blocks and the GRC YAML.

Every validation error is a :class:`ScenarioError` whose message names the file, the key and the
allowed range, e.g. ``scenario 'my.yml': key 'arrays.n_tx': must be an integer in [1, 256], got 0``.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .errors import ScenarioError

SCENARIO_DIR = Path(__file__).resolve().parent / "data" / "scenarios"
MIN_SEPARATION_M = 1.0
"""Nodes closer than this are 'co-located': the far-field angles and path losses are meaningless."""

MAX_COORDINATE_M = 1.0e6
MAX_SWEEP_POINTS = 1000
MAX_FILE_BYTES = 1 << 20
"""Largest scenario file read (a complete scenario is about 1 kB)."""
MAX_YAML_DEPTH = 20
"""Deepest nesting of YAML collections in a scenario (a complete one nests 3 deep: section, key, point)."""


# ---------------------------------------------------------------------------------------------
# field kinds: each knows how to check one YAML value and describe its allowed range
@dataclass(frozen=True)
class Number:
    lo: float
    hi: float
    integer: bool = False
    lo_open: bool = False

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a number"
        left = "(" if self.lo_open else "["
        return f"{kind} in {left}{_fmt(self.lo)}, {_fmt(self.hi)}]"

    def check(self, value: Any):
        if isinstance(value, bool) or value is None:
            raise ValueError
        if isinstance(value, str) and not self.integer:
            value = float(value)  # PyYAML reads `1e8` (no dot) as a string
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError
        if self.integer:
            if float(value) != int(value):
                raise ValueError
            value = int(value)
        else:
            value = float(value)
        too_low = value <= self.lo if self.lo_open else value < self.lo
        if too_low or value > self.hi:
            raise ValueError
        return value


@dataclass(frozen=True)
class Point:
    def describe(self) -> str:
        return f"a point [x, y] in metres, each coordinate within +-{_fmt(MAX_COORDINATE_M)}"

    def check(self, value: Any):
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise ValueError
        coord = Number(-MAX_COORDINATE_M, MAX_COORDINATE_M)
        return (coord.check(value[0]), coord.check(value[1]))


@dataclass(frozen=True)
class PointList:
    max_points: int = 100

    def describe(self) -> str:
        return f"a list of at most {self.max_points} points [x, y] in metres (may be empty)"

    def check(self, value: Any):
        if value is None:
            return ()
        if not isinstance(value, (list, tuple)) or len(value) > self.max_points:
            raise ValueError
        return tuple(Point().check(v) for v in value)


@dataclass(frozen=True)
class Sweep:
    lo: float
    hi: float

    def describe(self) -> str:
        return (
            f"{{start, stop, step}} with {_fmt(self.lo)} <= start <= stop <= {_fmt(self.hi)}, "
            f"step > 0 and at most {MAX_SWEEP_POINTS} points"
        )

    def check(self, value: Any):
        if not isinstance(value, Mapping) or set(value) != {"start", "stop", "step"}:
            raise ValueError
        bound = Number(self.lo, self.hi)
        start, stop = bound.check(value["start"]), bound.check(value["stop"])
        step = Number(0.0, self.hi - self.lo if self.hi > self.lo else 1.0, lo_open=True).check(value["step"])
        if stop < start or (stop - start) / step + 1 > MAX_SWEEP_POINTS:
            raise ValueError
        return (start, stop, step)


@dataclass(frozen=True)
class Choice:
    options: tuple

    def describe(self) -> str:
        return "one of " + ", ".join(repr(o) for o in self.options)

    def check(self, value: Any):
        if value not in self.options:
            raise ValueError
        return value


def one_line(text: str) -> str:
    """``text`` with every non-printable character escaped (``\\n``, ``\\x00``): an error names a key or a
    value from the file as it is, on one line, whatever bytes the file holds."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _short(value, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters: an error message stays one readable line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _fmt(x: float) -> str:
    if float(x).is_integer() and abs(x) < 1e7:
        return str(int(x))
    return f"{x:g}"


def _spec(default, kind, doc):
    return field(default=default, metadata={"kind": kind, "doc": doc})


# ---------------------------------------------------------------------------------------------
# sections (YAML section name = the dataclass's SECTION)
@dataclass(frozen=True)
class GeometryConfig:
    SECTION = "geometry"
    tx: tuple = _spec((0.0, 0.0), Point(), "transmitter (TR) array centre, metres")
    target: tuple = _spec((100.0, 50.0), Point(), "point target, metres")
    sensing_rx: tuple = _spec((0.0, 50.0), Point(), "sensing receiver (SRE) array, metres")
    comm_rx: tuple = _spec((20.0, 30.0), Point(), "communication receiver (CRE), metres")


@dataclass(frozen=True)
class ArraysConfig:
    SECTION = "arrays"
    n_tx: int = _spec(4, Number(1, 256, integer=True), "transmit antennas N_T (ULA)")
    n_rx: int = _spec(4, Number(1, 256, integer=True), "sensing receive antennas N_R (ULA)")
    spacing_wavelengths: float = _spec(0.5, Number(0.0, 10.0, lo_open=True), "element spacing d_a / lambda")


@dataclass(frozen=True)
class ChannelConfig:
    SECTION = "channel"
    path_loss_exponent: float = _spec(3.0, Number(1.0, 8.0), "path-loss exponent epsilon")
    rcs_coefficient: float = _spec(0.6, Number(0.0, 1.0e6, lo_open=True), "reflection coefficient beta_s")
    comm_noise_dbm: float = _spec(-50.0, Number(-250.0, 60.0), "CRE noise power sigma_n^2, dBm")
    sensing_noise_dbm: float = _spec(-50.0, Number(-250.0, 60.0), "SRE noise power per antenna sigma_s^2, dBm")


@dataclass(frozen=True)
class SyncConfig:
    SECTION = "sync"
    sigma_ns: float = _spec(100.0, Number(0.0, 1.0e6), "std of the TR-SRE time-sync error, ns (0: perfect sync)")


@dataclass(frozen=True)
class SignalConfig:
    SECTION = "signal"
    bandwidth_hz: float = _spec(
        100.0e6, Number(1.0e3, 1.0e11), "bandwidth = sample rate B, Hz (= the symbol rate at samples_per_symbol 1)"
    )
    carrier_hz: float = _spec(3.5e9, Number(1.0e6, 1.0e12), "carrier frequency, Hz (only d_a/lambda matters)")
    blocklength: int = _spec(256, Number(1, 1_000_000, integer=True), "channel-code blocklength L, channel uses")
    sensing_block: int = _spec(1024, Number(2, 1 << 22, integer=True), "sensing block length N, samples")
    modulation: str = _spec("qpsk", Choice(("qpsk",)), "communication constellation")
    samples_per_symbol: int = _spec(
        1,
        Number(1, 64, integer=True),
        "samples per symbol of the RRC-shaped waveform (1: no pulse shaping); the symbol rate is "
        "bandwidth_hz / samples_per_symbol and the symbol SNR samples_per_symbol times the per-sample SNR",
    )
    rolloff: float = _spec(0.35, Number(0.0, 1.0, lo_open=True), "RRC roll-off factor (samples_per_symbol > 1)")
    rrc_span: int = _spec(
        12, Number(2, 64, integer=True), "RRC filter length in symbols, even (samples_per_symbol > 1)"
    )


@dataclass(frozen=True)
class BudgetConfig:
    SECTION = "budget"
    power_dbm: float = _spec(30.0, Number(-30.0, 80.0), "transmit power budget P_T, dBm")
    power_sweep_dbm: tuple = _spec((20.0, 40.0, 2.0), Sweep(-30.0, 80.0), "P_T sweep {start, stop, step}, dBm")
    hcrb_threshold_m2: float = _spec(500.0, Number(0.0, 1.0e12), "threshold Pi on tr(HCRB) of the position, m^2")
    abr: float = _spec(1.0 / 32.0, Number(0.0, 1.0, lo_open=True), "bandwidth ratio E_a^max / M")
    sensing_streams: int = _spec(1, Number(1, 256, integer=True), "number r_0 of sensing streams (<= n_tx)")


@dataclass(frozen=True)
class MotionConfig:
    SECTION = "motion"
    waypoints: tuple = _spec(
        (), PointList(), "the target moves from geometry.target through these points, metres (empty: a static target)"
    )
    speed_mps: float = _spec(10.0, Number(0.0, 1000.0), "target speed along the waypoints, m/s")
    block_interval_s: float = _spec(
        0.0,
        Number(0.0, 3600.0),
        "target time between the starts of consecutive "
        "sensing blocks, s (0: N/B, continuous transmission; larger values model a "
        "radar that sends one block per interval, the time between is not simulated)",
    )


@dataclass(frozen=True)
class TrackingConfig:
    SECTION = "tracking"
    enabled: bool = _spec(
        False,
        Choice((False, True)),
        "controller mode: false designs the beams for "
        "geometry.target, true for the tracker's prediction of the moving target",
    )
    acceleration_std: float = _spec(2.0, Number(0.0, 1000.0, lo_open=True), "tracker process noise, m/s^2")
    max_misses: int = _spec(
        3,
        Number(1, 1000, integer=True),
        "rejected estimates in a row after which the "
        "track is lost and the controller falls back to a wider sensing beam",
    )
    search_halfwidth_m: float = _spec(
        20.0,
        Number(0.0, 1.0e4, lo_open=True),
        "half-width of the estimator's square search region around the prediction, m",
    )
    fallback_antennas: int = _spec(
        0,
        Number(0, 256, integer=True),
        "antennas of the wider sub-array sensing beam "
        "used while the track is lost (0: half of arrays.n_tx, rounded up)",
    )
    initial_speed_std_mps: float = _spec(
        50.0,
        Number(0.0, 1.0e4, lo_open=True),
        "tracker's prior standard deviation of the target's initial velocity, per axis, m/s",
    )


SECTIONS = (
    GeometryConfig,
    ArraysConfig,
    ChannelConfig,
    SyncConfig,
    SignalConfig,
    BudgetConfig,
    MotionConfig,
    TrackingConfig,
)

TASKS = ("data", "semantic")
MAX_USERS = 16
SENSING_CHOICES = ("target", "none")


@dataclass(frozen=True)
class UserConfig:
    """One single-antenna user of the multi-user system (an entry of the top-level ``users`` list).

    ``noise_dbm`` and ``channel_uses`` are None when the file leaves them out: the noise is then
    ``channel.comm_noise_dbm`` and the channel-use budget ``budget.abr * M`` with ``M = 3 * 256 * 256``
    (the data codec profile's image size; the optimiser resolves it from the profile)."""

    position: tuple = _spec(None, Point(), "the user's single antenna, metres (required)")
    task: str = _spec("data", Choice(TASKS), "data: image reconstruction (1 - MS-SSIM); semantic: classification")
    weight: float = _spec(1.0, Number(0.0, 1.0e6, lo_open=True), "weight beta_k of its distortion in the sum")
    noise_dbm: float | None = _spec(None, Number(-250.0, 60.0), "noise power sigma_k^2, dBm")
    channel_uses: float | None = _spec(
        None, Number(1.0, 1.0e9), "channel-use budget T_k per image (frame length for this user's stream)"
    )


USER_DEFAULTS_TEXT = {
    "position": "required",
    "task": "data",
    "weight": "1",
    "noise_dbm": "channel.comm_noise_dbm",
    "channel_uses": "budget.abr x 3*256*256",
}


def _parse_users(raw: Any, fail) -> tuple:
    """The ``users`` list as a tuple of :class:`UserConfig` (per-entry checks; positions relative to
    the transmitter and to each other are checked in ``Scenario._check_consistency``)."""
    if not isinstance(raw, (list, tuple)) or not 1 <= len(raw) <= MAX_USERS:
        fail("users", f"must be a list of 1 to {MAX_USERS} users {{position: [x, y], task, weight}}, got {_short(raw)}")
    fields = {f.name: f for f in dataclasses.fields(UserConfig)}
    users = []
    for index, entry in enumerate(raw):
        key = f"users[{index}]"
        if not isinstance(entry, Mapping):
            fail(key, f"must be a mapping {{position: [x, y], task, weight}}, got {_short(entry)}")
        for name in entry:
            if name not in fields:
                fail(f"{key}.{name}", "unknown key (allowed: " + ", ".join(fields) + ")")
        if "position" not in entry:
            fail(f"{key}.position", "missing (every user needs a position [x, y] in metres)")
        values = {}
        for name, spec in fields.items():
            if name not in entry:
                continue
            kind = spec.metadata["kind"]
            try:
                values[name] = kind.check(entry[name])
            except (ValueError, TypeError, OverflowError):
                fail(f"{key}.{name}", f"must be {kind.describe()}, got {_short(entry[name])}")
        users.append(UserConfig(**values))
    return tuple(users)


@dataclass(frozen=True)
class Scenario:
    """A validated scenario. Build it with :func:`load_scenario` or :meth:`from_dict`."""

    name: str = "default"
    description: str = ""
    source: str = "<defaults>"
    geometry: GeometryConfig = field(default_factory=GeometryConfig)
    arrays: ArraysConfig = field(default_factory=ArraysConfig)
    channel: ChannelConfig = field(default_factory=ChannelConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    signal: SignalConfig = field(default_factory=SignalConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    users: tuple = ()  # of UserConfig; empty: the single-user form (one data user at geometry.comm_rx)
    sensing: str = "target"  # "none": no sensing target (multi-user designs without the HCRB constraint)

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>", name: str | None = None) -> Scenario:
        """Validate a mapping as read from YAML. Raises :class:`ScenarioError`."""

        def fail(key, message):
            raise ScenarioError(one_line(f"scenario '{source}': key '{key}': {message}"))

        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise ScenarioError(
                f"scenario '{source}': the top level must be a mapping of sections, got {type(data).__name__}"
            )
        known = {s.SECTION: s for s in SECTIONS}
        for key in data:
            if key not in known and key not in ("name", "description", "users", "sensing"):
                fail(key, "unknown section (allowed: name, description, " + ", ".join(known) + ", users, sensing)")
        for key in ("name", "description"):
            if key in data and not isinstance(data[key], str):
                fail(key, f"must be a string, got {_short(data[key])}")
        sections = {}
        for section_name, section_cls in known.items():
            raw = data.get(section_name, {})
            if raw is None:
                raw = {}
            if not isinstance(raw, Mapping):
                fail(section_name, f"must be a mapping, got {_short(raw)}")
            fields = {f.name: f for f in dataclasses.fields(section_cls)}
            for key in raw:
                if key not in fields:
                    fail(f"{section_name}.{key}", "unknown key (allowed: " + ", ".join(fields) + ")")
            values = {}
            for key, spec in fields.items():
                if key not in raw:
                    continue
                kind = spec.metadata["kind"]
                try:
                    values[key] = kind.check(raw[key])
                except (ValueError, TypeError, OverflowError):
                    fail(f"{section_name}.{key}", f"must be {kind.describe()}, got {_short(raw[key])}")
            sections[section_name] = section_cls(**values)
        users = _parse_users(data["users"], fail) if "users" in data else ()
        if users:
            # the users list replaces geometry.comm_rx; single-user tools see the first user there
            raw_geometry = data.get("geometry") or {}
            if "comm_rx" in raw_geometry and sections["geometry"].comm_rx != users[0].position:
                fail(
                    "geometry.comm_rx",
                    "with a users list, leave geometry.comm_rx out (or equal to users[0].position), "
                    f"got {_short(raw_geometry['comm_rx'])}",
                )
            sections["geometry"] = dataclasses.replace(sections["geometry"], comm_rx=users[0].position)
        sensing = data.get("sensing", "target")
        if sensing not in SENSING_CHOICES:
            fail("sensing", f"must be {Choice(SENSING_CHOICES).describe()}, got {_short(sensing)}")
        scenario = cls(
            name=name or data.get("name") or Path(source).stem,
            description=data.get("description", ""),
            source=source,
            **sections,
            users=users,
            sensing=sensing,
        )
        scenario._check_consistency(fail)
        return scenario

    def _check_consistency(self, fail):
        g = self.geometry
        for index, user in enumerate(self.users):
            if math.dist(g.tx, user.position) < MIN_SEPARATION_M:
                fail(
                    f"users[{index}].position",
                    f"is {math.dist(g.tx, user.position):g} m from geometry.tx; users must be at least "
                    f"{MIN_SEPARATION_M:g} m from the transmitter (co-located nodes have no direction)",
                )
            for other in range(index):
                if math.dist(self.users[other].position, user.position) < MIN_SEPARATION_M:
                    fail(
                        f"users[{index}].position",
                        f"is within {MIN_SEPARATION_M:g} m of users[{other}].position; users must be at "
                        "distinct positions (co-located users share one channel)",
                    )
        pairs = (("tx", "target"), ("sensing_rx", "target"), ("tx", "comm_rx"))
        for a, b in pairs:
            dist = math.dist(getattr(g, a), getattr(g, b))
            if dist < MIN_SEPARATION_M:
                fail(
                    f"geometry.{b}",
                    f"is {dist:g} m from geometry.{a}; nodes must be at least "
                    f"{MIN_SEPARATION_M:g} m apart (co-located nodes have no direction)",
                )
        path = (g.target,) + self.motion.waypoints
        for index, point in enumerate(self.motion.waypoints):
            for node in ("tx", "sensing_rx"):
                if math.dist(getattr(g, node), point) < MIN_SEPARATION_M:
                    fail(f"motion.waypoints[{index}]", f"is within {MIN_SEPARATION_M:g} m of geometry.{node}")
        if self.motion.waypoints and self.motion.speed_mps > 0 and len(set(path)) < 2:
            fail("motion.waypoints", "all waypoints equal geometry.target: the target cannot move")
        block_duration = self.signal.sensing_block / self.signal.bandwidth_hz
        if 0 < self.motion.block_interval_s < block_duration * (1 - 1e-9):
            fail(
                "motion.block_interval_s",
                f"must be 0 or at least the block duration N/B = {block_duration:g} s, "
                f"got {self.motion.block_interval_s:g}",
            )
        if self.signal.rrc_span % 2:
            fail("signal.rrc_span", f"must be an even integer in [2, 64], got {self.signal.rrc_span}")
        if self.tracking.fallback_antennas > self.arrays.n_tx:
            fail(
                "tracking.fallback_antennas",
                f"must be an integer in [0, arrays.n_tx = {self.arrays.n_tx}], got {self.tracking.fallback_antennas}",
            )
        if self.budget.sensing_streams > self.arrays.n_tx:
            fail(
                "budget.sensing_streams",
                f"must be an integer in [1, arrays.n_tx = {self.arrays.n_tx}], got {self.budget.sensing_streams}",
            )

    def replace(self, **sections) -> Scenario:
        """A copy with some values changed, e.g. ``scn.replace(budget={"power_dbm": 35})``.

        The result is validated like a file would be.
        """
        data = self.to_dict()
        for section, values in sections.items():
            if section in ("users", "sensing"):  # replaced whole: a list of users, a word
                data[section] = values
                continue
            if section not in data or not isinstance(data[section], dict):
                raise ScenarioError(f"scenario '{self.source}': key '{section}': unknown section")
            data[section].update(values)
        return Scenario.from_dict(data, source=self.source, name=self.name)

    # -- export ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        out: dict = {"name": self.name, "description": self.description}
        for section_cls in SECTIONS:
            section = getattr(self, section_cls.SECTION)
            values = {}
            for f in dataclasses.fields(section):
                value = getattr(section, f.name)
                if isinstance(f.metadata["kind"], Sweep):
                    value = dict(zip(("start", "stop", "step"), value))
                elif isinstance(f.metadata["kind"], PointList):
                    value = [list(v) for v in value]
                elif isinstance(value, tuple):
                    value = list(value)
                values[f.name] = value
            out[section_cls.SECTION] = values
        if self.users:  # the multi-user form only: single-user files keep their shape
            out["users"] = [
                {
                    f.name: list(getattr(u, f.name)) if f.name == "position" else getattr(u, f.name)
                    for f in dataclasses.fields(u)
                    if getattr(u, f.name) is not None
                }
                for u in self.users
            ]
        if self.sensing != "target":
            out["sensing"] = self.sensing
        return out

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    # -- derived quantities ----------------------------------------------------------------
    @property
    def moving(self) -> bool:
        """True when the target moves (waypoints other than the start and a positive speed)."""
        return self.motion.speed_mps > 0 and any(w != self.geometry.target for w in self.motion.waypoints)

    def block_interval_s(self) -> float:
        """Target time per sensing block (``motion.block_interval_s``, or ``N/B`` when 0)."""
        return self.motion.block_interval_s or self.signal.sensing_block / self.signal.bandwidth_hz

    def fallback_antennas(self) -> int:
        return self.tracking.fallback_antennas or -(-self.arrays.n_tx // 2)

    def power_sweep_dbm(self) -> np.ndarray:
        start, stop, step = self.budget.power_sweep_dbm
        count = int(math.floor((stop - start) / step + 1e-9)) + 1
        return start + step * np.arange(count)


def shipped_scenarios() -> list[str]:
    """Names of the scenarios shipped in the package's data directory."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yml"))


def scenario_path(name_or_path: str | Path) -> Path:
    """Resolve a shipped name or a path to a scenario file. Raises :class:`ScenarioError`."""
    text = str(name_or_path)
    path = Path(text)
    try:
        exists = path.exists()
        if path.suffix in (".yml", ".yaml") or exists or "/" in text:
            if not exists:
                raise ScenarioError(f"scenario '{text}': no such file")
            if not path.is_file():
                raise ScenarioError(f"scenario '{text}': not a regular file")
            return path
        shipped = SCENARIO_DIR / f"{text}.yml"
        is_shipped = shipped.is_file()
    except ScenarioError:
        raise
    except (OSError, ValueError) as exc:  # a name too long for the file system, a NUL byte
        raise ScenarioError(f"scenario '{text[:200]}': not a usable file name ({exc.__class__.__name__})") from None
    if not is_shipped:
        raise ScenarioError(
            f"scenario '{text}': not a file and not a shipped scenario (shipped: {', '.join(shipped_scenarios())})"
        )
    return shipped


class StrictYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses what a configuration file should never contain: a key given twice
    in one mapping (YAML says keys are unique; PyYAML silently keeps the last) and collections nested deeper
    than :attr:`max_depth` (PyYAML composes nested nodes recursively: 100 000 ``[`` end in a RecursionError).
    Both raise ``yaml.YAMLError`` with the line."""

    max_depth = MAX_YAML_DEPTH

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                event = self.peek_event()
                raise yaml.composer.ComposerError(
                    None, None, f"collections nested deeper than {self.max_depth} levels", event.start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:
                    continue  # an unhashable key: the base class reports it
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {_short(key)}", key_node.start_mark
                    )
        return super().construct_mapping(node, deep=deep)


PARSED_YAML_KEPT = 32
"""Parsed texts kept by :func:`load_yaml_text` (a process that builds many links parses the same scenario,
codec profile and code calibration each time: pure-Python parsing, 10-15 ms for the larger ones)."""
_parsed_yaml: OrderedDict[str, Any] = OrderedDict()
_parsed_yaml_lock = threading.Lock()


def load_yaml_text(text: str):
    """Parse YAML with :class:`StrictYamlLoader` (``yaml.YAMLError`` on duplicates or deep nesting).

    The same text parses to the same data: the last :data:`PARSED_YAML_KEPT` results are kept and each
    call gets its own deep copy of them (callers may change what they get). Errors are never kept.
    """
    with _parsed_yaml_lock:
        if text in _parsed_yaml:
            _parsed_yaml.move_to_end(text)
            return copy.deepcopy(_parsed_yaml[text])
    data = yaml.load(text, Loader=StrictYamlLoader)  # noqa: S506 - a SafeLoader subclass
    with _parsed_yaml_lock:
        _parsed_yaml[text] = data
        while len(_parsed_yaml) > PARSED_YAML_KEPT:
            _parsed_yaml.popitem(last=False)
    return copy.deepcopy(data)


def load_scenario(name_or_path: str | Path | Scenario) -> Scenario:
    """Load and validate a scenario by shipped name or path (a Scenario is returned unchanged).

    The file must be a regular file of at most :data:`MAX_FILE_BYTES`, UTF-8 YAML without duplicate keys
    and nested at most :data:`MAX_YAML_DEPTH` deep."""
    if isinstance(name_or_path, Scenario):
        return name_or_path
    path = scenario_path(name_or_path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise ScenarioError(f"scenario '{path}': larger than {MAX_FILE_BYTES} bytes, not a scenario file")
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"scenario '{path}': cannot read: {exc}") from None
    try:
        data = load_yaml_text(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        # one line: a reader error (a NUL byte, say) has no 'problem' and a multi-line str()
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())[:300]
        raise ScenarioError(f"scenario '{path}': not valid YAML{line}: {problem}") from None
    except RecursionError:  # nesting the depth limit does not see (none known): still a clean refusal
        raise ScenarioError(f"scenario '{path}': nested too deeply") from None
    return Scenario.from_dict(data, source=str(path), name=path.stem)


def reference_markdown() -> str:
    """The scenario key reference (docs/scenarios.md), generated from the dataclasses above so the
    documented defaults and ranges cannot drift from the validated ones."""
    lines = [
        "# Scenario file reference",
        "",
        "Generated by `issc scenario --reference` from `python/issc/scenario.py`; do not edit by hand.",
        "Every key is optional: a missing key takes the default (the paper's value, docs/model.md §9).",
        "",
        "| key | default | allowed | meaning |",
        "|---|---|---|---|",
    ]
    defaults = Scenario().to_dict()
    for section_cls in SECTIONS:
        for f in dataclasses.fields(section_cls):
            default = defaults[section_cls.SECTION][f.name]
            lines.append(
                f"| `{section_cls.SECTION}.{f.name}` | `{_inline(default)}` | "
                f"{f.metadata['kind'].describe()} | {f.metadata['doc']} |"
            )
    for f in dataclasses.fields(UserConfig):
        lines.append(
            f"| `users[i].{f.name}` | `{USER_DEFAULTS_TEXT[f.name]}` | "
            f"{f.metadata['kind'].describe()} | {f.metadata['doc']} |"
        )
    lines.append(
        f"| `sensing` | `target` | {Choice(SENSING_CHOICES).describe()} | "
        "none: no sensing target (multi-user designs only; the geometry's target is then unused) |"
    )
    lines += [
        "",
        f"Nodes `tx`-`target`, `sensing_rx`-`target` and `tx`-`comm_rx` must be at least "
        f"{MIN_SEPARATION_M:g} m apart; `budget.sensing_streams` must not exceed `arrays.n_tx`.",
        "",
        f"`users` (top level, 1 to {MAX_USERS} entries) describes the multi-user system (docs/multiuser.md): "
        "each entry is a mapping with the `users[i].*` keys above. It replaces `geometry.comm_rx` (leave that "
        "out, or equal to the first user's position; single-user tools see the first user there). Users "
        f"must be at least {MIN_SEPARATION_M:g} m from `geometry.tx` and from each other. Without `users` "
        "the scenario has one data user at `geometry.comm_rx` (the single-user form).",
        "",
    ]
    return "\n".join(lines)


def _inline(value) -> str:
    if isinstance(value, list) and not value:
        return "[]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float):
        return _fmt(value)
    return str(value)
