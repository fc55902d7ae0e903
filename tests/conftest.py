"""Test set-up: the tests exercise the working tree's python/issc as ``gnuradio.issc``.

``gnuradio/__init__.py`` extends its ``__path__`` with every ``gnuradio`` directory on ``sys.path``;
putting ``python/`` first on that path makes ``gnuradio.issc`` resolve to ``python/issc`` here, so a
test run never sees a stale installed copy. The installed copies (pip's and CMake's) are checked
separately in tests/test_install.py.
"""
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
