# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""link_status: the latest frames of the link monitor as a table (Qt GUI)."""

from __future__ import annotations

from gnuradio import gr

from ..errors import IsscInputError
from ..link.views import FrameTable
from ._util import RateLimitedLog, register_message_handlers
from .image_sink import check_update_time, make_widget


class link_status(gr.basic_block):
    """Qt GUI: the latest frames as a table, newest first: sequence number, codec model, code rate
    ``R_c``, the design's predicted and the receiver's measured SINR, whether the frame was decoded (ok,
    with payload bit errors, or lost), PSNR, MS-SSIM, the sensing error and ``sqrt(tr HCRB)`` of the
    design (:class:`~gnuradio.issc.link.views.FrameTable`).

    Rows are ``issc_link_monitor``'s (keys ``ROW_KEYS`` of ``link/ledger.py``). Malformed rows are logged
    and dropped. The widget is ``qwidget()``; GRC places it with the GUI hint (a Qt GUI flowgraph's
    ``QApplication`` must exist before the block).

    Message ports:
        frame (in): one row per completed frame (``issc_link_monitor``'s ``frame``).

    Args:
        title: shown above the table ('' for none).
        rows: frames shown.
        update_time: seconds between redraws.
    """

    def __init__(self, title: str = "Frames", rows: int = 12, update_time: float = 0.25):
        gr.basic_block.__init__(self, name="link_status", in_sig=None, out_sig=None)
        try:
            self.view = FrameTable(rows)
        except IsscInputError as exc:
            raise ValueError(str(exc)) from None
        update_time = check_update_time(update_time)
        self._log = RateLimitedLog(self.logger)
        self.messages_handled = {}
        register_message_handlers(self, {"frame": self.view.add}, self._log, counter=self.messages_handled)
        self._widget = make_widget("issc_link_status", "LinkStatusWidget", self.view, str(title), update_time)

    def qwidget(self):
        """The block's QWidget (GRC adds it to the flowgraph's layout)."""
        return self._widget
