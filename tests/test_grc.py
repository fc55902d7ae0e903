# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every GRC block definition matches its Python block: one YAML per block module, GRC id
``issc_<name>`` for the file ``blocks/<name>.py`` and the class ``issc.<name>`` (gr_modtool's names), the
make template passes the constructor's parameters in order, the documentation is the docstring
(scripts/sync_grc_docs.py), and each parameter default builds a block."""

import cmath
import importlib
import inspect
import math
import re
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from gnuradio import issc

ROOT = Path(__file__).resolve().parents[1]
YAMLS = sorted((ROOT / "grc").glob("*.block.yml"))
MODULES = sorted(p.stem for p in (ROOT / "python" / "issc" / "blocks").glob("*.py") if not p.stem.startswith("_"))


def test_one_yaml_per_block_module():
    assert sorted(p.name[: -len(".block.yml")] for p in YAMLS) == ["issc_" + m for m in MODULES]
    assert MODULES, "no blocks found"


@pytest.mark.parametrize("path", YAMLS, ids=[p.name for p in YAMLS])
def test_block_yaml_matches_its_python_block(path):
    spec = yaml.safe_load(path.read_text())
    block_id = path.name[: -len(".block.yml")]
    assert spec["id"] == block_id and spec["file_format"] == 1
    name = block_id.removeprefix("issc_")
    cls = getattr(issc, name)
    assert cls.__name__ == name
    module = importlib.import_module(f"gnuradio.issc.blocks.{name}")
    assert getattr(module, name) is cls
    assert spec["documentation"].strip() == inspect.cleandoc(cls.__doc__).strip(), "run scripts/sync_grc_docs.py"
    make = spec["templates"]["make"]
    assert make.startswith(f"issc.{name}(")
    passed = re.findall(r"\$\{\s*(\w+)\s*\}", make)
    signature = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    assert passed == signature
    assert [p["id"] for p in block_parameters(spec)] == signature
    if is_gui_block(spec):  # a Qt GUI block: GRC places its widget with the GUI hint, as the stock ones do
        assert "gui_hint() %" in make and ".qwidget()" in make and callable(cls.qwidget)
    for callback in spec["templates"].get("callbacks", []):
        assert hasattr(cls, callback.split("(")[0])


# GRC 3.10's parameter evaluation (grc/core/params/param.py), enough of it for block defaults: every
# default is a Python expression evaluated in the flow graph's namespace, which holds the other
# parameters' values; a string-typed parameter whose expression does not evaluate to a str is the text
# itself (GRC's "stringify", e.g. ``default: paper``), and numeric types are checked and converted.
STRING_DTYPES = {"string", "file_open", "file_save", "dir_select", "_multiline", "_multiline_python_external"}
NAMESPACE = {"math": math, "cmath": cmath, "np": np, "numpy": np}


def grc_value(param, namespace):
    dtype, text = param.get("dtype", "raw"), str(param.get("default", ""))
    if dtype in STRING_DTYPES:
        try:
            value = eval(text, dict(namespace))  # GRC defaults are Python expressions
        except Exception:
            return text
        return value if isinstance(value, str) else text
    value = eval(text, dict(namespace)) if text.strip() else None
    if dtype == "int":
        assert isinstance(value, (int, np.integer)) and not isinstance(value, bool), (param["id"], text)
        return int(value)
    if dtype in ("real", "float"):
        assert isinstance(value, (int, float, np.integer, np.floating)), (param["id"], text)
        return float(value)
    if dtype == "complex":
        return complex(value)
    if dtype == "bool":
        assert isinstance(value, (bool, np.bool_)), (param["id"], text)
        return bool(value)
    if dtype == "enum":
        options = [eval(o, dict(namespace)) for o in param["options"]]
        assert value in options, (param["id"], text, options)
    if dtype.endswith("_vector"):
        assert isinstance(value, (list, tuple, np.ndarray)), (param["id"], text)
    return value


def is_gui_block(spec) -> bool:
    """A Qt GUI block: it has GRC's ``gui_hint`` parameter (layout, not a constructor argument)."""
    return any(p.get("dtype") == "gui_hint" for p in spec["parameters"])


def block_parameters(spec) -> list:
    """The YAML parameters passed to the constructor (all but the GUI hint)."""
    return [p for p in spec["parameters"] if p.get("dtype") != "gui_hint"]


def grc_defaults(spec):
    namespace = dict(NAMESPACE)
    kwargs = {}
    for param in block_parameters(spec):  # GRC resolves references between parameters; in order suffices here
        kwargs[param["id"]] = namespace[param["id"]] = grc_value(param, namespace)
    return kwargs


# blocks whose YAML defaults are known not to build: {GRC id: reason naming the bug}
DEFAULTS_KNOWN_BROKEN: dict[str, str] = {}


@pytest.mark.parametrize("path", YAMLS, ids=[p.name for p in YAMLS])
def test_each_parameter_default_builds_a_block(path, request):
    """A block dropped into GRC with its defaults builds: the YAML is read at test time, each
    ``default:`` evaluated as GRC does, and the block constructed with them (and released again). A Qt
    GUI block gets the QApplication a Qt GUI flowgraph has (offscreen; skipped where Qt cannot start)."""
    spec = yaml.safe_load(path.read_text())
    if spec["id"] in DEFAULTS_KNOWN_BROKEN:
        pytest.xfail(DEFAULTS_KNOWN_BROKEN[spec["id"]])
    if is_gui_block(spec):
        request.getfixturevalue("qt_app")
    kwargs = grc_defaults(spec)
    cls = getattr(issc, spec["id"].removeprefix("issc_"))
    block = None
    started = time.perf_counter()
    try:
        block = cls(**kwargs)
        seconds = time.perf_counter() - started
        assert block is not None
        assert seconds < 30, f"{spec['id']} took {seconds:.1f} s to build with its defaults"
    finally:
        if block is not None and hasattr(block, "stop"):
            block.stop()
        del block
