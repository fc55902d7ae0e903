#!/usr/bin/env python3
# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Screenshots of the Qt GUI blocks for the docs (docs/images/), from real runs of the link.

    xvfb-run -a .venv/bin/python scripts/gui_screenshots.py [--out docs/images] [--frames 8]

1. ``examples/issc_link.grc`` is compiled with grcc and its Qt window run as GRC runs it (scenario
   'tradeoff', throttled) until ``--frames`` frames are in its frame table; the window is saved
   (``grc_issc_link.png``).
2. A short ``IsscLink`` run of the 'tracking' scenario (python/issc/flowgraphs/link.py) with the three
   views connected to it (``sensing_map_tracking.png``, ``image_sink.png``, ``link_status.png``).

Without a display (no Xvfb) it falls back to Qt's offscreen platform. The PNGs are quantised to 256
colours (Pillow) to stay small.
"""

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import gnuradio

ROOT = Path(__file__).resolve().parents[1]
gnuradio.__path__.insert(0, str(ROOT / "python"))


def save_png(widget, path: Path, width: int) -> int:
    """Grab ``widget``, scale it to ``width`` pixels, quantise to 256 colours and write it; returns bytes."""
    from PIL import Image
    from PyQt5 import QtCore

    from gnuradio.issc.files import atomic_write_bytes

    pixmap = widget.grab()
    if pixmap.width() > width:
        pixmap = pixmap.scaledToWidth(width, QtCore.Qt.SmoothTransformation)
    buffer = QtCore.QBuffer()
    buffer.open(QtCore.QIODevice.WriteOnly)
    pixmap.save(buffer, "PNG")
    image = Image.open(io.BytesIO(bytes(buffer.data()))).convert("RGB")
    out = io.BytesIO()
    image.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(out, "PNG", optimize=True)
    atomic_write_bytes(path, out.getvalue())
    return len(out.getvalue())


def wait_events(app, predicate, timeout_s: float) -> bool:
    """Run the Qt event loop until ``predicate()`` or the timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        app.processEvents()
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def grc_window(app, out: Path, frames: int, timeout_s: float) -> None:
    """Compile and run examples/issc_link.grc; save its window once ``frames`` rows are in its table."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, GRC_BLOCKS_PATH=str(ROOT / "grc"))
        subprocess.run(["grcc", "-o", tmp, str(ROOT / "examples" / "issc_link.grc")], check=True, env=env,
                       capture_output=True)  # fmt: skip
        sys.path.insert(0, tmp)
        cwd = os.getcwd()
        os.chdir(tmp)  # the monitor's out_dir (results_grc) is relative
        try:
            import issc_link_grc

            tb = issc_link_grc.issc_link_grc()
            tb.resize(1400, 1250)
            tb.start()
            tb.show()
            done = wait_events(app, lambda: len(tb.frames.view.snapshot()[1]) >= frames, timeout_s)
            wait_events(app, lambda: False, 1.0)  # one more redraw of every view
            size = save_png(tb, out / "grc_issc_link.png", 1000)
            print(f"grc_issc_link.png: {size} bytes, {len(tb.frames.view.snapshot()[1])} frames (done: {done})")
            tb.stop()
            tb.wait()
            tb.close()
        finally:
            os.chdir(cwd)
            sys.path.remove(tmp)


def tracking_views(app, out: Path, frames: int, timeout_s: float) -> None:
    """A short IsscLink run of the 'tracking' scenario with the three views attached; save each view."""
    from gnuradio import issc

    from gnuradio.issc.flowgraphs.link import IsscLink

    link = IsscLink("tracking", frames=frames)
    images = issc.image_sink("Sent | received", 16, 0.1)
    table = issc.link_status("Frames (tracking scenario)", frames, 0.1)
    scene = issc.sensing_map("tracking", "Sensing, tracking scenario", 100, 0.95, 0.25, 0.1)
    link.msg_connect(link.image_source, "out", images, "sent")
    link.msg_connect(link.receiver, "image", images, "received")
    link.msg_connect(link.monitor, "frame", table, "frame")
    link.msg_connect(link.estimator, "estimate", scene, "estimate")
    link.msg_connect(link.controller, "config", scene, "config")
    link.msg_connect(link.controller, "track", scene, "track")
    summary = link.run_frames(timeout_s=timeout_s)
    wait_events(app, lambda: len(table.view.snapshot()[1]) >= summary.get("frames", frames), 10.0)
    print(f"tracking run: {summary.get('frames')} frames in {summary['elapsed_s']:.1f} s")
    for block, name, size in ((scene, "sensing_map_tracking", (1100, 560)), (images, "image_sink", (640, 380)),
                              (table, "link_status", (700, 330))):  # fmt: skip
        widget = block.qwidget()
        widget.resize(*size)
        widget.show()
        wait_events(app, lambda: False, 0.5)
        widget.refresh()
        print(f"{name}.png: {save_png(widget, out / f'{name}.png', size[0])} bytes")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "images"))
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--only", choices=("grc", "tracking"))
    args = parser.parse_args(argv)
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt5 import QtWidgets

    app = QtWidgets.QApplication(sys.argv[:1])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.only in (None, "tracking"):
        tracking_views(app, out, args.frames, args.timeout)
    if args.only in (None, "grc"):
        grc_window(app, out, args.frames, args.timeout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
