# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The package's layout rules: one role per folder, at most 8 loose modules at the top, and imports
only downward (surfaces, then blocks, then the core; physics at the bottom), so no cycles.

Every ``from .. import`` in ``python/issc`` is parsed (the AST, lazy imports inside functions too) and
resolved to the layer it lands in::

    cli ─> experiments ─> flowgraphs ─> blocks ─> optim ─> sensing ─> link ─> djscc ─> codec ─> physics ─> foundation
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "issc"
# lower rank = lower layer; a module may import its own layer or any lower one
LAYERS = {
    "errors": 0,
    "units": 0,
    "jsonutil": 0,
    "parallel": 0,
    "service_process": 0,
    "files": 0,
    "metrics": 1,
    "scenario": 1,
    "physics": 2,
    "codec": 3,
    "djscc": 4,
    "semantic": 4,
    "link": 5,
    "sensing": 6,
    "optim": 7,
    "blocks": 8,
    "flowgraphs": 9,
    "experiments": 10,
    "cli": 11,
}
TOP = "__init__"  # the package's face: re-exports the core, loads blocks lazily


def layer_of(parts: tuple[str, ...]) -> str:
    return parts[0].removesuffix(".py") if parts else TOP


def imports_of(path: Path, root: Path = PACKAGE):
    """(line, absolute dotted target inside the package) of every relative import of ``path``."""
    rel = path.relative_to(root).with_suffix("").parts
    package = rel[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
            target = base + tuple(node.module.split(".") if node.module else ())
            if node.module is None:
                for alias in node.names:
                    yield node.lineno, target + (alias.name,)
            else:
                yield node.lineno, target


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_at_most_eight_loose_modules_and_every_folder_has_a_layer():
    loose = [p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    assert len(loose) <= 8, loose
    folders = [p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    assert sorted(set(folders) - set(LAYERS)) == []
    assert sorted(p.removesuffix(".py") for p in loose if p.removesuffix(".py") not in LAYERS) == []


def upward_imports(path: Path, root: Path = PACKAGE) -> list:
    source = layer_of(path.relative_to(root).parts)
    if source == TOP:
        return []
    upward = []
    for line, target in imports_of(path, root):
        if target == ("__version__",):  # the package's version, defined before anything is imported
            continue
        dest = layer_of(target)
        if dest == TOP:
            upward.append((line, ".".join(target)))
        elif LAYERS[dest] > LAYERS[source]:
            upward.append((line, ".".join(target)))
    return upward


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(PACKAGE)) for p in SOURCES])
def test_imports_only_go_down(path):
    upward = upward_imports(path)
    assert not upward, f"{path.relative_to(PACKAGE)} imports upward: {upward}"


def test_the_layer_check_catches_an_upward_import(tmp_path):
    """The rule can fail: a physics module importing a block (lazily, inside a function) is flagged,
    one importing the foundation is not."""
    (tmp_path / "physics").mkdir()
    bad = tmp_path / "physics" / "bad.py"
    bad.write_text("from ..units import dbm_to_w\ndef f():\n    from ..blocks.frame_encoder import frame_encoder\n")
    assert upward_imports(bad, tmp_path) == [(3, "blocks.frame_encoder")]


def test_every_source_file_has_an_spdx_header():
    """Python sources, GRC YAML, shipped scenarios and build scripts carry the GPL-3.0-or-later SPDX
    identifier in their first lines (LICENSE has the text)."""
    root = PACKAGE.parents[1]
    sources = [
        *root.glob("python/issc/**/*.py"),
        *root.glob("tests/**/*.py"),
        *root.glob("examples/*.py"),
        *root.glob("scripts/*"),
        *root.glob("grc/*.yml"),
        *root.glob("python/issc/data/scenarios/*.yml"),
        root / "setup.py",
        root / "CMakeLists.txt",
        root / "Makefile",
    ]
    missing = [
        str(p.relative_to(root))
        for p in sources
        if p.is_file()
        and "SPDX-License-Identifier: GPL-3.0-or-later" not in "".join(p.read_text().splitlines(True)[:4])
    ]
    assert not missing
    assert "GNU GENERAL PUBLIC LICENSE" in (root / "LICENSE").read_text()[:200]
