# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Qt widgets of the GUI blocks (image_sink, sensing_map, link_status).

Imported only when a GUI block is built, never by the package: PyQt5 (and pyqtgraph for the map) are
GNU Radio's own Qt GUI dependencies, and the CLI and the tests must not need them or a display.

Each widget draws a view model (``link/views.py``, ``sensing/views.py``) that the block's message
handlers fill from GNU Radio's message threads. Widgets may only be touched from the GUI thread, so a
``QTimer`` there polls the model's ``version`` every ``update_time`` seconds and redraws when it changed
(as the stock Qt GUI sinks redraw at their update period).
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np
from PyQt5 import QtCore, QtGui, QtWidgets


def require_application(block: str) -> None:
    """Raise ValueError unless a ``QApplication`` exists: a widget made without one aborts the process.

    GRC's Qt GUI flowgraphs (Generate Options 'QT GUI') create it before any block.
    """
    if QtWidgets.QApplication.instance() is None:
        raise ValueError(
            f"{block} is a Qt GUI block: it needs a QApplication (a GRC flowgraph with Generate Options "
            "'QT GUI', or QtWidgets.QApplication([]) before the block)"
        )


class PollingWidget(QtWidgets.QWidget):
    """A widget that redraws from its view model when the model's version changes.

    Args:
        update_time: seconds between polls.
    """

    def __init__(self, update_time: float, parent=None):
        super().__init__(parent)
        self._drawn_version = 0
        self.timer = QtCore.QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(max(int(round(update_time * 1000)), 10))

    def refresh(self) -> bool:
        """Redraw if the model changed since the last redraw; True if it did."""
        version = self.model_version()
        if version == self._drawn_version:
            return False
        self._drawn_version = version
        self.redraw()
        return True

    def model_version(self) -> int:
        raise NotImplementedError

    def redraw(self) -> None:
        raise NotImplementedError


def _pixmap(image: np.ndarray) -> QtGui.QPixmap:
    """An ``H x W x 3`` uint8 RGB array as a QPixmap (copied: the array may go away)."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    height, width = image.shape[:2]
    qimage = QtGui.QImage(image.data, width, height, 3 * width, QtGui.QImage.Format_RGB888)
    return QtGui.QPixmap.fromImage(qimage.copy())


def _number(value, fmt: str, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float) and math.isinf(value):
        return "∞" + unit
    return format(value, fmt) + unit


class ImageSinkWidget(PollingWidget):
    """Sent | received, side by side, with the frame's model, code rate, SINR, PSNR and MS-SSIM.

    Args:
        view: an :class:`~gnuradio.issc.link.views.ImagePairs`.
        title: shown above the images.
        update_time: seconds between polls.
    """

    def __init__(self, view, title: str = "", update_time: float = 0.25, parent=None):
        super().__init__(update_time, parent)
        self.view = view
        layout = QtWidgets.QGridLayout(self)
        self.title = QtWidgets.QLabel(f"<b>{title}</b>" if title else "")
        self.title.setVisible(bool(title))
        layout.addWidget(self.title, 0, 0, 1, 2)
        self.captions, self.images = [], []
        for col, text in enumerate(("sent", "received")):
            caption = QtWidgets.QLabel(text)
            caption.setAlignment(QtCore.Qt.AlignCenter)
            caption.setWordWrap(True)
            image = QtWidgets.QLabel("waiting for a frame")
            image.setAlignment(QtCore.Qt.AlignCenter)
            image.setMinimumSize(160, 160)
            image.setSizePolicy(QtWidgets.QSizePolicy.Ignored, QtWidgets.QSizePolicy.Ignored)
            layout.addWidget(caption, 1, col)
            layout.addWidget(image, 2, col)
            self.captions.append(caption)
            self.images.append(image)
        self.metrics = QtWidgets.QLabel("")
        self.metrics.setAlignment(QtCore.Qt.AlignCenter)
        layout.addWidget(self.metrics, 3, 0, 1, 2)
        layout.setRowStretch(2, 1)
        layout.setColumnStretch(0, 1)
        layout.setColumnStretch(1, 1)
        self._pixmaps = [None, None]

    def model_version(self) -> int:
        return self.view.version

    def redraw(self) -> None:
        _, pair = self.view.snapshot()
        if pair is None:
            return
        name = f" ({pair.name})" if pair.name else ""
        self.captions[0].setText(f"sent: frame {pair.seq}{name}")
        rate = "analog" if pair.code_rate == 0 else _number(pair.code_rate, ".3f")
        self.captions[1].setText(
            f"received: model {pair.model or '—'}, R_c {rate}, SINR {_number(pair.sinr_db, '.1f', ' dB')}"
        )
        self.metrics.setText(
            f"<b>PSNR {_number(pair.psnr, '.2f', ' dB')} &nbsp; MS-SSIM {_number(pair.ms_ssim, '.4f')}</b>"
        )
        self._pixmaps = [_pixmap(pair.sent), _pixmap(pair.received)]
        self._scale()

    def _scale(self):
        for label, pixmap in zip(self.images, self._pixmaps):
            if pixmap is not None:
                label.setPixmap(pixmap.scaled(label.size(), QtCore.Qt.KeepAspectRatio, QtCore.Qt.SmoothTransformation))

    def resizeEvent(self, event):  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._scale()


STATUS_COLOURS = {"ok": "#c8f0c8", "errors": "#ffe0a0", "header": "#ffb0b0", "lost": "#ffb0b0"}


class LinkStatusWidget(PollingWidget):
    """The latest frames as a table, newest first; the 'decoded' cell coloured by the frame's status.

    Args:
        view: a :class:`~gnuradio.issc.link.views.FrameTable`.
        title: shown above the table.
        update_time: seconds between polls.
    """

    def __init__(self, view, title: str = "", update_time: float = 0.25, parent=None):
        from ..link.views import COLUMNS

        super().__init__(update_time, parent)
        self.view = view
        layout = QtWidgets.QVBoxLayout(self)
        self.title = QtWidgets.QLabel(f"<b>{title}</b>" if title else "")
        self.title.setVisible(bool(title))
        layout.addWidget(self.title)
        self.table = QtWidgets.QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels([header for _, header, _ in COLUMNS])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.NoEditTriggers)
        self._status_column = [key for key, _, _ in COLUMNS].index("status")
        header = self.table.horizontalHeader()
        header.setMinimumSectionSize(40)
        header.setSectionResizeMode(QtWidgets.QHeaderView.Stretch)  # the numbers share the width
        header.setSectionResizeMode(self._status_column, QtWidgets.QHeaderView.ResizeToContents)
        layout.addWidget(self.table)

    def model_version(self) -> int:
        return self.view.version

    def redraw(self) -> None:
        from ..link.views import row_cells

        _, rows = self.view.snapshot()
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row_cells(row)):
                item = QtWidgets.QTableWidgetItem(text)
                item.setTextAlignment(QtCore.Qt.AlignCenter)
                if c == self._status_column:
                    item.setBackground(QtGui.QColor(STATUS_COLOURS[row["status"]]))
                self.table.setItem(r, c, item)


def _pyqtgraph():
    """pyqtgraph on PyQt5 (it would pick PyQt6 if that were imported first; GNU Radio's Qt GUI is PyQt5)."""
    os.environ.setdefault("PYQTGRAPH_QT_LIB", "PyQt5")
    try:
        import pyqtgraph
    except ImportError as exc:
        raise ValueError(
            "issc_sensing_map draws with pyqtgraph (Debian/Ubuntu: python3-pyqtgraph, which GNU Radio's "
            f"package depends on): {exc}"
        ) from None
    if pyqtgraph.Qt.QT_LIB != "PyQt5":
        raise ValueError(f"pyqtgraph was loaded with {pyqtgraph.Qt.QT_LIB}; GNU Radio's Qt GUI needs PyQt5")
    # pyqtgraph's exit clean-up tests every live object with isinstance(), which touches torch's deprecated
    # ``torch.distributed.reduce_op`` and prints a FutureWarning at every exit: not ours to act on
    warnings.filterwarnings("ignore", message=r".*torch\.distributed\.reduce_op.*", category=FutureWarning)
    return pyqtgraph


class SensingMapWidget(PollingWidget):
    """The scene in metres, twice: the whole scenario (transmitter, receivers, the target's path), with the
    legend under it, and a larger close-up that follows the target; both show the true positions, the
    estimates, the track and its prediction, the design position and the HCRB ellipse.

    Args:
        view: a :class:`~gnuradio.issc.sensing.views.SensingMapView`.
        title: the plots' title.
        update_time: seconds between polls.
        zoom_m: half-width of the close-up, m.
    """

    def __init__(self, view, title: str = "", update_time: float = 0.25, zoom_m: float = 20.0, parent=None):
        super().__init__(update_time, parent)
        pg = _pyqtgraph()
        self.view = view
        self.zoom_m = float(zoom_m)
        self._title = title
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.setBackground("w")
        layout.addWidget(self.canvas)
        self.title = self.canvas.addLabel(title, row=0, col=0, colspan=2, color="k", size="9pt")
        self.overview = self.canvas.addPlot(row=1, col=0)
        self.closeup = self.canvas.addPlot(row=1, col=1)
        self.canvas.ci.layout.setColumnStretchFactor(0, 2)
        self.canvas.ci.layout.setColumnStretchFactor(1, 3)
        # a rich-text legend under the plots: two lines, where pyqtgraph's would take a third of the height
        self.legend = QtWidgets.QLabel()
        self.legend.setWordWrap(True)
        self.legend.setStyleSheet("background: white; color: black; padding: 2px")
        layout.addWidget(self.legend)
        scene = view.scene
        for plot, label in ((self.overview, "scene"), (self.closeup, "around the target")):
            plot.setAspectLocked(True)
            plot.showGrid(x=True, y=True, alpha=0.3)
            plot.setLabel("bottom", f"x (m), {label}")
            plot.setLabel("left", "y (m)")
        self.items = {}
        pens = {
            "path": ("line", "#999999", 1, QtCore.Qt.DashLine, "target path (scenario)"),
            "truth_trail": ("line", "#2ca02c", 2, QtCore.Qt.SolidLine, "true target"),
            "track": ("line", "#ff7f0e", 2, QtCore.Qt.SolidLine, "track"),
            "predicted": ("line", "#ff7f0e", 2, QtCore.Qt.DashLine, f"predicted {view.horizon_s:g} s"),
            "ellipse": ("line", "#d62728", 2, QtCore.Qt.SolidLine, f"HCRB {100 * view.probability:g} %"),
        }
        marks = {
            "tx": ("t1", "#1f77b4", 14, "k", "transmitter"),
            "comm_rx": ("s", "#2ca02c", 12, "k", "comm. receiver"),
            "sensing_rx": ("d", "#9467bd", 14, "k", "sensing receiver"),
            "static_target": ("star", "#cccccc", 14, "k", "target (scenario)"),
            "rejected": ("x", "#aaaaaa", 8, "#aaaaaa", "rejected estimates"),
            "estimates": ("o", "#1f77b4", 6, None, "estimates"),
            "truth": ("star", "#2ca02c", 16, "k", None),
            "latest": ("o", "#d62728", 9, "k", "latest estimate"),
            "design": ("+", "#ff7f0e", 14, pg.mkPen("#ff7f0e", width=2), "beams designed for"),
        }
        for plot in (self.overview, self.closeup):
            items = {}
            for key, (_, colour, width, style, _name) in pens.items():
                # antialiased: pyqtgraph 0.13.1 draws a wide aliased pen as segments and fails on < 2 points
                items[key] = plot.plot([], [], pen=pg.mkPen(colour, width=width, style=style), antialias=True)
            for key, (symbol, colour, size, outline, _name) in marks.items():
                items[key] = plot.plot(
                    [], [], pen=None, symbol=symbol, symbolSize=size, symbolBrush=colour, symbolPen=outline
                )
            self.items[plot] = items
        glyphs = {"t1": "▲", "s": "■", "d": "◆", "star": "★", "x": "✕", "o": "●", "+": "✚"}
        entries = [
            f"<span style='color:{colour}'>{glyphs[symbol]}</span>&nbsp;{name}"
            for symbol, colour, _, _, name in marks.values()
            if name
        ] + [
            f"<span style='color:{colour}'>{'╍╍' if style == QtCore.Qt.DashLine else '━━'}</span>&nbsp;{name}"
            for _, colour, _, style, name in pens.values()
        ]
        self.legend.setText("<small>" + " &nbsp; ".join(entries) + "</small>")
        for plot in (self.overview, self.closeup):
            items = self.items[plot]
            if len(scene.path) > 1:
                items["path"].setData(scene.path[:, 0], scene.path[:, 1])
            for key in ("tx", "comm_rx", "sensing_rx", "static_target"):
                position = getattr(scene, "target" if key == "static_target" else key)
                items[key].setData([position[0]], [position[1]])
        x0, x1, y0, y1 = scene.extent()
        self.overview.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        self._centre_closeup(scene.target)

    def _centre_closeup(self, centre):
        z = self.zoom_m
        self.closeup.setRange(xRange=(centre[0] - z, centre[0] + z), yRange=(centre[1] - z, centre[1] + z), padding=0)

    def model_version(self) -> int:
        return self.view.version

    def redraw(self) -> None:
        s = self.view.snapshot()

        def put(curve, points):
            points = np.zeros((0, 2)) if points is None else np.asarray(points).reshape(-1, 2)
            curve.setData(points[:, 0], points[:, 1])

        for plot in (self.overview, self.closeup):
            items = self.items[plot]
            put(items["truth_trail"], s.truths)
            put(items["truth"], s.truths[-1:] if len(s.truths) else None)
            if len(s.truths):
                put(items["static_target"], None)  # the truth replaces the scenario's starting point
            put(items["estimates"], s.estimates)
            put(items["rejected"], s.rejected)
            put(items["latest"], s.latest)
            put(items["track"], s.track)
            put(items["predicted"], s.predicted)
            put(items["design"], s.design)
            put(items["ellipse"], s.ellipse)
        for centre in (s.truths[-1] if len(s.truths) else None, s.latest, s.design):
            if centre is not None:
                self._centre_closeup(centre)
                break
        parts = [f"<b>{self._title}</b>"] if self._title else []
        if s.latest is not None:
            parts.append(f"estimate ({s.latest[0]:.1f}, {s.latest[1]:.1f}) m")
        if s.latest_error_m is not None:
            parts.append(f"error {s.latest_error_m:.2f} m")
        if s.hcrb_rmse_m is not None:
            parts.append(f"√tr HCRB {s.hcrb_rmse_m:.2f} m")
        parts.append(f"{s.reports} reports")
        if s.track_lost:
            parts.append("<span style='color:#d62728'>track lost</span>")
        self.title.setText(" · ".join(parts), color="k", size="9pt")
