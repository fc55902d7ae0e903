# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""sensing_map: the sensing scene in a 2-D plot (Qt GUI)."""

from __future__ import annotations

from gnuradio import gr

from ..errors import IsscInputError
from ..sensing.views import SensingMapView
from ._util import RateLimitedLog, register_message_handlers
from .image_sink import check_update_time, make_widget


class sensing_map(gr.basic_block):
    """Qt GUI: the scene in metres (:class:`~gnuradio.issc.sensing.views.SensingMapView`): transmitter,
    communication and sensing receivers and the target's path from the scenario; the true target (from
    the estimator's reports, when the echo channel's truth reaches it), the recent estimates (rejected
    ones greyed), the tracker's positions and its straight-line prediction ``horizon_s`` ahead, the
    position the latest configuration's beams were designed for, and the ``probability`` confidence
    ellipse of the HCRB: the 2x2 bound of the latest configuration's transmit covariance
    ``w_c w_c^H + W_0 W_0^H`` at the latest accepted estimate (before any configuration: the report's
    ``hcrb_trace / 2 * I``). Drawn with pyqtgraph (drag to pan, wheel to zoom).

    Malformed messages are logged and dropped. The widget is ``qwidget()``; GRC places it with the GUI
    hint (a Qt GUI flowgraph's ``QApplication`` must exist before the block).

    Message ports:
        estimate (in): ``issc_sensing_estimator``'s reports (``block``, ``ok``, ``x``, ``y``, ``hcrb_trace``,
            ``error_m``, ``true_x``, ``true_y``).
        track (in): ``issc_controller``'s track messages (tracking mode).
        config (in): ``issc_controller``'s frame configurations (beams, ``design_x``, ``design_y``).

    Args:
        scenario: shipped scenario name or YAML path (the nodes, the path, and the bound's noise, block
            length, bandwidth and sync prior); the link's.
        title: the plot's title ('' for none).
        history: estimates, true positions and track points kept.
        probability: confidence level of the ellipse, in (0, 1).
        horizon_s: how far ahead the track's prediction is drawn, s.
        update_time: seconds between redraws.
    """

    def __init__(
        self,
        scenario="paper",
        title: str = "Sensing",
        history: int = 50,
        probability: float = 0.95,
        horizon_s: float = 0.25,
        update_time: float = 0.25,
    ):
        gr.basic_block.__init__(self, name="sensing_map", in_sig=None, out_sig=None)
        try:
            self.view = SensingMapView(scenario, history, probability, horizon_s)
        except IsscInputError as exc:
            raise ValueError(str(exc)) from None
        update_time = check_update_time(update_time)
        self._log = RateLimitedLog(self.logger)
        self.messages_handled = {}
        handlers = {"estimate": self.view.estimate, "track": self.view.track, "config": self.view.config}
        register_message_handlers(self, handlers, self._log, counter=self.messages_handled)
        self._widget = make_widget("issc_sensing_map", "SensingMapWidget", self.view, str(title), update_time)

    def qwidget(self):
        """The block's QWidget (GRC adds it to the flowgraph's layout)."""
        return self._widget
