# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""image_sink: the sent and the received image of each frame, side by side (Qt GUI)."""

from __future__ import annotations

import math

from gnuradio import gr

from ..errors import IsscInputError
from ..link.views import ImagePairs
from ._util import RateLimitedLog, register_message_handlers


def check_update_time(update_time) -> float:
    """The widgets' poll period in seconds, in [0.01, 10] (ValueError otherwise)."""
    if isinstance(update_time, bool) or not isinstance(update_time, (int, float)) or not math.isfinite(update_time):
        raise ValueError(f"update_time must be a number of seconds in [0.01, 10], got {update_time!r}")
    if not 0.01 <= update_time <= 10:
        raise ValueError(f"update_time must be in [0.01, 10] s, got {update_time!r}")
    return float(update_time)


def make_widget(block: str, widget: str, *args):
    """The GUI block ``block``'s widget, the class ``widget`` of ``_widgets.py`` built with ``args``; Qt is
    imported here, when a GUI block is built, never with the package.

    Raises:
        ValueError: PyQt5 is missing, or no QApplication exists (a widget made without one would abort
            the process).
    """
    try:
        from . import _widgets
    except ImportError as exc:
        raise ValueError(f"{block} is a Qt GUI block and needs PyQt5 (GNU Radio's Qt GUI): {exc}") from None
    _widgets.require_application(block)
    return getattr(_widgets, widget)(*args)


class image_sink(gr.basic_block):
    """Qt GUI: the sent and the received image of each frame side by side, with the decoder's model, the
    code rate ``R_c``, the receiver's SINR estimate, and the PSNR and MS-SSIM of the received image
    against the sent one (:class:`~gnuradio.issc.link.views.ImagePairs`).

    Images are paired by sequence number, in whatever order the two ports deliver them; the latest pair
    is shown. An image waits for its partner (at most ``history`` per side: a frame whose header failed
    never arrives). Malformed messages are logged and dropped. The widget is ``qwidget()``; GRC places it
    with the GUI hint (a Qt GUI flowgraph's ``QApplication`` must exist before the block).

    Message ports:
        sent (in): image PDUs as sent (``issc_image_source``'s ``out``).
        received (in): decoded image PDUs (``issc_comm_receiver``'s ``image``, or a source decoder's
            ``out``; metadata ``model``, ``code_rate``, ``sinr_db``).

    Args:
        title: shown above the images ('' for none).
        history: pairs kept, and images waiting per side.
        update_time: seconds between redraws.
    """

    def __init__(self, title: str = "Sent | received", history: int = 16, update_time: float = 0.25):
        gr.basic_block.__init__(self, name="image_sink", in_sig=None, out_sig=None)
        try:
            self.view = ImagePairs(history)
        except IsscInputError as exc:
            raise ValueError(str(exc)) from None
        update_time = check_update_time(update_time)
        self._log = RateLimitedLog(self.logger)
        self.messages_handled = {}
        handlers = {"sent": self.view.sent, "received": self.view.received}
        register_message_handlers(self, handlers, self._log, counter=self.messages_handled)
        self._widget = make_widget("issc_image_sink", "ImageSinkWidget", self.view, str(title), update_time)

    def qwidget(self):
        """The block's QWidget (GRC adds it to the flowgraph's layout)."""
        return self._widget
