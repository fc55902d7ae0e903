"""Every GRC block definition matches its Python block: one YAML per block module, GRC id
``issc_<name>`` for the file ``blocks/<name>.py`` and the class ``issc.<name>`` (gr_modtool's names), the make template passes the constructor's parameters in order, the documentation is the
docstring (scripts/sync_grc_docs.py), and each parameter default builds a block."""
import importlib
import inspect
import re
from pathlib import Path

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
    assert spec["documentation"].strip() == inspect.cleandoc(cls.__doc__).strip(), \
        "run scripts/sync_grc_docs.py"
    make = spec["templates"]["make"]
    assert make.startswith(f"issc.{name}(")
    passed = re.findall(r"\$\{\s*(\w+)\s*\}", make)
    signature = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    assert passed == signature
    assert [p["id"] for p in spec["parameters"]] == signature
    for callback in spec["templates"].get("callbacks", []):
        assert hasattr(cls, callback.split("(")[0])
