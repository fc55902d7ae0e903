# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The two installs work: pip's (the .venv console script ``issc``) and CMake's (the GNU Radio way,
into a temporary prefix, imported as ``from gnuradio import issc`` with that prefix on PYTHONPATH)."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_pip_install_has_every_subpackage():
    """setup.py finds the subpackages: each folder with an ``__init__.py`` is installed in .venv."""
    import gnuradio

    source_dir = REPO / "python" / "issc"
    installed = [Path(p) / "issc" for p in gnuradio.__path__ if (Path(p) / "issc").resolve() != source_dir]
    installed = [p for p in installed if p.is_dir()]
    assert installed, "run `make test` (or scripts/setup.sh) so the package is installed in .venv"
    source = {p.parent.relative_to(REPO / "python" / "issc") for p in (REPO / "python" / "issc").rglob("__init__.py")}
    assert len(source) >= 10
    for package in source:
        assert (installed[0] / package / "__init__.py").is_file(), package


def test_pip_installed_console_script():
    script = Path(sys.executable).with_name("issc")
    assert script.exists(), "run `make test` (or scripts/setup.sh) so the package is installed in .venv"
    out = subprocess.run([script, "regime", "--scenario", "paper"], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["scenario"] == "paper"
    bad = subprocess.run(
        [script, "hcrb", "--scenario", "paper", "--cov", "/nonexistent.npy"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and bad.stdout == "" and bad.stderr.count("\n") == 1
    assert "Traceback" not in bad.stderr


@pytest.fixture(scope="module")
def cmake_install(tmp_path_factory):
    """Configure, build and install into a temporary prefix once: (build dir, prefix)."""
    cmake = shutil.which("cmake")
    assert cmake, "cmake is required (scripts/setup.sh installs it)"
    tmp_path = tmp_path_factory.mktemp("cmake")
    build, prefix = tmp_path / "build", tmp_path / "prefix"
    # GNU Radio's Python, as a GNU Radio user would build with
    gr_python = subprocess.run(
        [sys.executable, "-c", "import sys; print(sys._base_executable)"], capture_output=True, text=True, check=True
    ).stdout.strip()
    subprocess.run(
        [cmake, "-S", REPO, "-B", build, f"-DCMAKE_INSTALL_PREFIX={prefix}", f"-DISSC_PYTHON={gr_python}"],
        check=True,
        capture_output=True,
    )
    subprocess.run([cmake, "--build", build], check=True, capture_output=True)
    subprocess.run([cmake, "--install", build], check=True, capture_output=True)
    return build, prefix


def test_cmake_install_into_a_temporary_prefix(cmake_install):
    build, prefix = cmake_install
    cache = (build / "CMakeCache.txt").read_text()
    gr_python_dir = re.search(r"^GR_PYTHON_DIR:PATH=(.*)$", cache, re.M).group(1)
    site = prefix / gr_python_dir
    assert (site / "gnuradio" / "issc" / "data" / "scenarios" / "paper.yml").is_file()

    # every source and data file, whichever install rules (GNU Radio's GR_PYTHON_INSTALL or plain) ran
    def files(root):
        return {
            p.relative_to(root)
            for p in root.rglob("*")
            if p.is_file() and p.suffix not in (".pyc", ".pyo") and "__pycache__" not in p.parts
        }

    assert files(site / "gnuradio" / "issc") == files(REPO / "python" / "issc")
    grc_files = sorted(p.name for p in (REPO / "grc").glob("*.yml"))
    installed_grc = prefix / "share" / "gnuradio" / "grc" / "blocks"
    assert sorted(p.name for p in installed_grc.glob("*.yml")) == grc_files
    env = dict(os.environ, PYTHONPATH=str(site))
    probe = (
        "from gnuradio import issc; import json; "
        "print(json.dumps([issc.__file__, issc.load_scenario('paper').arrays.n_tx]))"
    )
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    module_file, n_tx = json.loads(out.stdout)
    assert Path(module_file).resolve().is_relative_to(site.resolve()) and n_tx == 4
    # the installed command runs with the same prefix on PYTHONPATH
    run = subprocess.run(
        [prefix / "bin" / "issc", "ber", "--sinr-db", "5", "--rate", "1"], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["log10_ber"] < 0


def test_ctest_runs_the_pytest_suite_on_the_source_tree(cmake_install):
    """``ctest`` in the CMake build lists one test: pytest on tests/ from the source directory (listed
    with --show-only, not run: the suite is already running)."""
    build, _ = cmake_install
    ctest = shutil.which("ctest")
    assert ctest, "ctest comes with cmake"
    listed = subprocess.run([ctest, "-N"], cwd=build, capture_output=True, text=True, check=True).stdout
    assert re.search(r"Test +#1: issc_pytest\b", listed) and "Total Tests: 1" in listed
    info = json.loads(
        subprocess.run([ctest, "--show-only=json-v1"], cwd=build, capture_output=True, text=True, check=True).stdout
    )
    (test,) = info["tests"]
    python, *args = test["command"]
    assert args[:2] == ["-m", "pytest"] and args[-1] == "tests"
    assert Path(python).is_file()
    properties = {p["name"]: p["value"] for p in test["properties"]}
    assert Path(properties["WORKING_DIRECTORY"]).resolve() == REPO
    # the interpreter ctest would use can run the suite (pytest, and GNU Radio through it)
    probe = subprocess.run([python, "-c", "import pytest; from gnuradio import gr"], capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr
