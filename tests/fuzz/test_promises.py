# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The promises of docs/reliability.md that are properties of the source, read with ``ast``: model
weights are loaded with ``weights_only=True`` (no pickled code runs), and the local Dask cluster
listens on the loopback interface only."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "python" / "issc"


def calls(name: str):
    """(file relative to the package, call node) of every call of ``*.name(...)`` or ``name(...)``."""
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
                if called == name:
                    yield path.relative_to(PACKAGE).as_posix(), node


def keyword(node: ast.Call, name: str):
    for kw in node.keywords:
        if kw.arg == name:
            return ast.literal_eval(kw.value) if isinstance(kw.value, ast.Constant) else "<not a constant>"
    return "<missing>"


def test_model_weights_are_loaded_without_pickled_code():
    """Every torch.load passes weights_only=True (weights, training checkpoints and resumes alike): a
    weights_only=False, or a torch.load without the keyword, fails here."""
    loads = list(calls("load"))
    torch_loads = [(path, node) for path, node in loads if "weights_only" in {k.arg for k in node.keywords}]
    assert len(torch_loads) >= 2
    unsafe = {path for path, node in torch_loads if keyword(node, "weights_only") is not True}
    assert unsafe == set()
    inference = {path for path, node in torch_loads if keyword(node, "weights_only") is True}
    assert {"codec/models.py", "djscc/models.py"} <= inference
    bare = [
        path
        for path, node in loads
        if isinstance(node.func, ast.Attribute)
        and getattr(node.func.value, "id", None) == "torch"
        and "weights_only" not in {k.arg for k in node.keywords}
    ]
    assert bare == []


def test_the_local_cluster_listens_on_loopback_only():
    """LocalCluster gets host 127.0.0.1 and no dashboard; no source binds 0.0.0.0."""
    [(path, node)] = list(calls("LocalCluster"))
    assert keyword(node, "host") == "127.0.0.1"
    assert keyword(node, "dashboard_address") is None
    assert not [p for p in PACKAGE.rglob("*.py") if "0.0.0.0" in p.read_text()]
