# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""gr-issc: integrated sensing and semantic communication for GNU Radio.

The core (scenario, geometry, BER model, HCRB, ...) is importable without building a flowgraph:

    from gnuradio import issc
    scn = issc.load_scenario("paper")
    geo = issc.Geometry.from_scenario(scn)

Heavy dependencies (torch, compressai, cvxpy) are imported only by the modules that need them.
"""

__version__ = "0.1.0"

from .errors import IsscInputError, ScenarioError
from .physics.ber import ber, capacity, dispersion, log10_ber
from .physics.geometry import Geometry, steering_vector
from .physics.hcrb import FisherModel, crb_position, hcrb_position
from .scenario import Scenario, load_scenario, shipped_scenarios

BLOCKS = (
    "beamformer",
    "channels",
    "comm_channel",
    "comm_receiver",
    "controller",
    "djscc_decoder",
    "djscc_encoder",
    "echo_channel",
    "frame_decoder",
    "frame_encoder",
    "image_sink",
    "image_source",
    "labelled_source",
    "link_monitor",
    "link_status",
    "multiuser_beamformer",
    "multiuser_controller",
    "multiuser_frame_encoder",
    "multiuser_monitor",
    "multiuser_transmitter",
    "sample_counter",
    "semantic_decoder",
    "semantic_encoder",
    "sensing_estimator",
    "sensing_map",
    "sensing_source",
    "sigmf_recorder",
    "sigmf_source",
    "task_decoder",
    "task_encoder",
    "transmitter",
    "user_channels",
    "user_receiver",
)


def __getattr__(name):
    """Blocks load on first use (``issc.frame_encoder``, file ``blocks/frame_encoder.py``), so
    ``import issc`` stays light; the GRC id of each is ``issc_<name>``."""
    if name in BLOCKS:
        import importlib

        block = getattr(importlib.import_module(f".blocks.{name}", __name__), name)
        globals()[name] = block
        return block
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "IsscInputError",
    "ScenarioError",
    "Scenario",
    "load_scenario",
    "shipped_scenarios",
    "Geometry",
    "steering_vector",
    "log10_ber",
    "ber",
    "capacity",
    "dispersion",
    "FisherModel",
    "hcrb_position",
    "crb_position",
    "__version__",
]
