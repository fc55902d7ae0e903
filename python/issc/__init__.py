"""gr-issc: integrated sensing and semantic communication for GNU Radio.

The core (scenario, geometry, BER model, HCRB, ...) is importable without building a flowgraph:

    from gnuradio import issc
    scn = issc.load_scenario("paper")
    geo = issc.Geometry.from_scenario(scn)

Heavy dependencies (torch, compressai, cvxpy) are imported only by the modules that need them.
"""
__version__ = "0.1.0"

from .errors import IsscInputError, ScenarioError
from .scenario import Scenario, load_scenario, shipped_scenarios
from .geometry import Geometry, steering_vector
from .ber import log10_ber, ber, capacity, dispersion
from .hcrb import FisherModel, hcrb_position, crb_position



def __getattr__(name):
    """Blocks load on first use (``issc.issc_beamformer``), so ``import issc`` stays light."""
    if name.startswith("issc_"):
        import importlib
        try:
            module = importlib.import_module(f".blocks.{name}", __name__)
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.blocks.{name}":
                raise AttributeError(f"gr-issc has no block '{name}'") from None
            raise
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "IsscInputError", "ScenarioError", "Scenario", "load_scenario", "shipped_scenarios",
    "Geometry", "steering_vector", "log10_ber", "ber", "capacity", "dispersion",
    "FisherModel", "hcrb_position", "crb_position", "__version__",
]
