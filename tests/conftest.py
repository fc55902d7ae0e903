# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test set-up: the tests exercise the working tree's python/issc as ``gnuradio.issc``.

``gnuradio/__init__.py`` extends its ``__path__`` with every ``gnuradio`` directory on ``sys.path``;
putting ``python/`` first on that path makes ``gnuradio.issc`` resolve to ``python/issc`` here, so a
test run never sees a stale installed copy. The installed copies (pip's and CMake's) are checked
separately in tests/test_install.py.
"""

import functools
from pathlib import Path

import gnuradio
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
gnuradio.__path__.insert(0, str(REPO_ROOT / "python"))

from gnuradio import issc  # noqa: E402

assert Path(issc.__file__).resolve().parent == REPO_ROOT / "python" / "issc", issc.__file__


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def run_cli(capsys):
    """Run ``issc`` in-process: returns (exit code, stdout, stderr)."""
    from gnuradio.issc.cli import main

    def run(*argv):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse errors
            code = exc.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


def make_synthetic_profile():
    """A plausible 6-model codec profile (0.05..0.8 bpp on 256x256 RGB), independent of the shipped
    weights, so optimiser tests do not depend on training results."""
    from gnuradio.issc.codec.profile import CodecProfile

    bpp = [0.05, 0.09, 0.16, 0.28, 0.48, 0.8]
    models = []
    for i, rate in enumerate(bpp):
        psnr = 23.0 + 2.0 * i
        models.append(
            {
                "id": f"syn{i + 1}",
                "R_s_bits": rate * 65536,
                "bpp": rate,
                "lambda": 0.001 * 2**i,
                "fits": {
                    "mse": {"Ds": -psnr / 10, "Dc": psnr / 10 - 1.0, "E1": 2.5, "E2": -3.0 - 0.3 * i, "r2": 0.99},
                    "ms_ssim": {
                        "Ds": -1.0 - 0.12 * i,
                        "Dc": 0.8 + 0.12 * i,
                        "E1": 2.2,
                        "E2": -3.1 - 0.3 * i,
                        "r2": 0.99,
                    },
                },
            }
        )
    return CodecProfile.from_dict(
        {
            "format": "issc-codec-profile/1",
            "image_shape": [3, 256, 256],
            "made_by": "synthetic (tests/conftest.py)",
            "models": models,
        }
    )


@pytest.fixture
def synthetic_profile():
    return make_synthetic_profile()


@pytest.fixture
def synthetic_profile_path(tmp_path):
    path = tmp_path / "profile.yml"
    path.write_text(make_synthetic_profile().to_yaml())
    return path


def _wait_for(predicate, timeout=300.0):
    """Poll a condition on asynchronous message delivery, bounded in time (never a fixed sleep). The
    bound only catches hangs: it is generous because a loaded CI machine can take long to import torch."""
    import threading
    import time

    deadline = time.monotonic() + timeout
    tick = threading.Event()
    while not predicate():
        if time.monotonic() > deadline:
            return False
        tick.wait(0.005)
    return True


@pytest.fixture
def wait_for():
    return _wait_for


@pytest.fixture(scope="session")
def tiny_family(tmp_path_factory):
    """Two tiny untrained models (N=8, M=12) saved like the shipped family (fp16 + manifest with
    sha256): real entropy-coded bitstreams at a fraction of the cost of the shipped weights."""
    import torch
    import yaml

    from gnuradio.issc.codec.models import build_model, save_fp16

    directory = tmp_path_factory.mktemp("family")
    entries = []
    for i, lam in enumerate((0.001, 0.01), start=1):
        torch.manual_seed(i)
        model = build_model(8, 12)
        model.update(force=True)
        sha = save_fp16(model, directory / f"t{i}.pt")
        entries.append({"id": f"t{i}", "lambda": lam, "N": 8, "M": 12, "sha256": sha, "file": f"t{i}.pt"})
    (directory / "manifest.yml").write_text(yaml.safe_dump({"models": entries}))
    return directory


@functools.lru_cache(maxsize=1)
def _qt_starts() -> str:
    """'' if a QApplication starts here (offscreen without a display), else why not. Probed in a
    subprocess: a Qt platform that cannot start aborts the process instead of raising."""
    import subprocess
    import sys

    code = "from PyQt5 import QtWidgets; QtWidgets.QApplication([]); import pyqtgraph"
    try:
        probe = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return "starting Qt timed out"
    return "" if probe.returncode == 0 else (probe.stderr.strip().splitlines() or ["Qt failed"])[-1]


@pytest.fixture(scope="session")
def qt_app():
    """The QApplication the Qt GUI blocks need (platform 'offscreen' when there is no display); skips the
    test when Qt (PyQt5 and pyqtgraph) cannot start here."""
    import os

    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    reason = _qt_starts()
    if reason:
        pytest.skip(f"Qt GUI cannot start here: {reason}")
    from PyQt5 import QtWidgets

    return QtWidgets.QApplication.instance() or QtWidgets.QApplication([])


def pytest_unconfigure(config):
    """pytest restores the warning filters after each test, so the GUI blocks' filter for pyqtgraph's exit
    clean-up (blocks/_widgets.py) is gone by the time that clean-up runs: set it again at exit, before it
    (atexit runs the handlers registered last first)."""
    import atexit
    import warnings

    atexit.register(
        warnings.filterwarnings, "ignore", message=r".*torch\.distributed\.reduce_op.*", category=FutureWarning
    )
