# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The documentation names only what exists, and needs nothing outside the repository.

In ``README.md``, ``CONTRIBUTING.md`` and ``docs/*.md`` (fenced code blocks left out):

- every path in backticks under ``python/issc/``, ``tests/``, ``docs/``, ``examples/``, ``scripts/`` or
  ``grc/`` (or a package folder such as ``physics/hcrb.py``) exists, and a ``::Symbol`` after a ``.py``
  path (``python/issc/physics/hcrb.py::FisherModel``, ``tests/physics/test_hcrb.py::test_name``,
  ``Class.method``) is defined there (top-level ``def``/``class``/assignment, or a method or class
  attribute), read with ``ast``;
- a dotted module path in backticks (``gnuradio.issc.link.framing.FrameReceiver``) resolves to a module
  of the package and, when it goes on past the module, to a symbol in it;
- a block named ``issc.<name>`` has its file ``python/issc/blocks/<name>.py``; an ``issc_<name>`` is a
  GRC id (``grc/issc_<name>.block.yml``) or a string the code uses (a tag key such as ``issc_frame``);
- a bare file name in backticks (``setup.py``) is a tracked file somewhere or a file at the top;
- relative links and images (``[text](file)``) point at files that exist.

Every numbered section 1-9 of docs/model.md ends with a ``Code:`` line that points at code and tests.
No tracked text file cites the team-internal design notes or an issue number.
"""

import ast
import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "python" / "issc"
# CHANGELOG.md is left out: it names what was removed or renamed.
DOC_FILES = sorted(
    p for p in [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *(ROOT / "docs").glob("*.md")] if p.exists()
)
PACKAGE_FOLDERS = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and not p.name.startswith("_"))
TOP_FOLDERS = ("python/issc", "tests", "docs", "examples", "scripts", "grc")
PLACEHOLDER = set("<*{|$")

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.S | re.M)
SPAN = re.compile(r"(`+)(.+?)\1", re.S)
PATH = re.compile(
    r"(?<![\w./-])((?:{})/[\w./-]*\w)(?:::([\w.]+))?".format(
        "|".join(re.escape(f) for f in (*TOP_FOLDERS, *PACKAGE_FOLDERS))
    )
)
BARE_FILE = re.compile(r"(?<![\w./-])(\w[\w-]*\.(?:py|sh|yml|cff|txt|toml))(?![\w/])")
DOTTED = re.compile(r"(?<![\w.])gnuradio\.issc((?:\.\w+)+)")
BLOCK = re.compile(r"(?<![\w./])issc\.([a-z][a-z0-9_]*)(?![\w<])")
GRC_ID = re.compile(r"(?<![\w./<])(issc_[a-z0-9_]+)(?![\w<])")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def prose(text: str) -> str:
    """The text without fenced code blocks (commands and their output are not references)."""
    return FENCE.sub("", text)


def spans(path: Path):
    """(line number, content) of every inline code span of a document."""
    text = prose(path.read_text(encoding="utf-8"))
    for m in SPAN.finditer(text):
        yield text.count("\n", 0, m.start()) + 1, m.group(2)


def whole(match, content: str) -> bool:
    """False where the match runs into a placeholder (``grc/issc_<name>.block.yml``, ``examples/*.grc``)."""
    end = match.end()
    return not (end < len(content) and content[end] in PLACEHOLDER)


@cache
def tracked_files() -> tuple[str, ...]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return ()
    return tuple(p for p in out.decode().split("\0") if p)


@cache
def defined_names(path: Path) -> frozenset:
    """Top-level names of a module, and ``Class.attribute`` for what its classes define."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()

    def targets(node):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return [node.name]
        if isinstance(node, ast.Assign):
            return [t.id for t in node.targets if isinstance(t, ast.Name)]
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            return [node.target.id]
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            return [(a.asname or a.name).split(".")[0] for a in node.names]
        return []

    for node in tree.body:
        for name in targets(node):
            names.add(name)
        if isinstance(node, ast.ClassDef):
            for member in node.body:
                names.update(f"{node.name}.{name}" for name in targets(member))
    return frozenset(names)


def resolve_path(token: str) -> Path:
    first = token.split("/")[0]
    if first in PACKAGE_FOLDERS and not token.startswith(TOP_FOLDERS):
        return PACKAGE / token
    return ROOT / token


@cache
def code_strings() -> frozenset:
    """String constants of the package (stream-tag keys, top-block names...)."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return frozenset(found)


def resolve_dotted(parts: list[str]) -> str | None:
    """None if ``gnuradio.issc.<parts>`` names a module (and a symbol in it), else what is wrong."""
    base = PACKAGE
    for i, part in enumerate(parts):
        if (base / part).is_dir() and (base / part / "__init__.py").exists():
            base = base / part
            continue
        module = base / f"{part}.py"
        if module.exists():
            rest = parts[i + 1 :]
            if not rest or ".".join(rest[:2]) in defined_names(module):
                return None
            return f"{'.'.join(rest)} is not defined in {module.relative_to(ROOT)}"
        init = base / "__init__.py"
        name = ".".join(parts[i : i + 2])
        if init.exists() and (name in defined_names(init) or (base == PACKAGE and part in block_names())):
            return None
        return f"no module or symbol {part!r} in {base.relative_to(ROOT)}"
    return None


@cache
def block_names() -> frozenset:
    return frozenset(p.stem for p in (PACKAGE / "blocks").glob("*.py") if not p.stem.startswith("_"))


def reference_problems(path: Path) -> list[str]:
    problems = []
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    basenames = {Path(p).name for p in tracked_files()} or {p.name for p in ROOT.rglob("*") if p.is_file()}
    for line, content in spans(path):
        for m in PATH.finditer(content):
            if not whole(m, content):
                continue
            token, symbol = m.group(1), m.group(2)
            target = resolve_path(token)
            if not target.exists():
                problems.append(f"{where}:{line}: `{token}` does not exist")
            elif symbol and target.suffix == ".py" and symbol not in defined_names(target):
                problems.append(f"{where}:{line}: `{symbol}` is not defined in {token}")
        for m in BARE_FILE.finditer(content):
            if whole(m, content) and m.group(1) not in basenames and not (ROOT / m.group(1)).exists():
                problems.append(f"{where}:{line}: no file is called `{m.group(1)}`")
        for m in DOTTED.finditer(content):
            error = resolve_dotted(m.group(1).lstrip(".").split("."))
            if error:
                problems.append(f"{where}:{line}: `gnuradio.issc{m.group(1)}`: {error}")
        for m in BLOCK.finditer(content):
            if m.group(1) not in block_names() and m.group(1) not in defined_names(PACKAGE / "__init__.py"):
                problems.append(f"{where}:{line}: `issc.{m.group(1)}` is no block (python/issc/blocks/)")
        for m in GRC_ID.finditer(content):
            name = m.group(1)
            if not (ROOT / "grc" / f"{name}.block.yml").exists() and name not in code_strings():
                problems.append(f"{where}:{line}: `{name}` is neither a GRC id nor a name the code uses")
    return problems


@pytest.mark.parametrize("path", DOC_FILES, ids=[str(p.relative_to(ROOT)) for p in DOC_FILES])
def test_every_path_and_symbol_a_doc_names_exists(path):
    problems = reference_problems(path)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", DOC_FILES, ids=[str(p.relative_to(ROOT)) for p in DOC_FILES])
def test_relative_links_and_images_resolve(path):
    missing = []
    for m in LINK.finditer(prose(path.read_text(encoding="utf-8"))):
        target = m.group(1).split("#")[0]
        if target and not re.match(r"^[a-z]+:", target) and not (path.parent / target).exists():
            missing.append(target)
    assert not missing, f"{path.relative_to(ROOT)} links to missing files: {missing}"


def model_sections() -> dict[int, str]:
    text = (ROOT / "docs" / "model.md").read_text(encoding="utf-8")
    parts = re.split(r"^## (\d+)\. .*$", text, flags=re.M)
    return {int(number): body for number, body in zip(parts[1::2], parts[2::2])}


def test_model_sections_end_with_their_code_and_tests():
    sections = model_sections()
    assert set(range(1, 10)) <= set(sections), sorted(sections)
    for number in range(1, 10):
        last = [line for line in sections[number].strip().splitlines() if line.strip()][-1]
        assert last.startswith("Code:"), f"docs/model.md §{number} does not end with a 'Code:' line"
        assert re.search(r"`python/issc/[\w/]+\.py::\w", last), f"§{number}: no code pointer"
        assert re.search(r"`tests/[\w/]+\.py", last), f"§{number}: no test pointer"


def test_the_checker_catches_stale_references(tmp_path):
    """The checks can fail: a moved module, a missing symbol, a stale dotted path and an old block name."""
    doc = tmp_path / "stale.md"
    doc.write_text(
        "`python/issc/hcrb.py`, `python/issc/physics/hcrb.py::NoSuchThing`, "
        "`gnuradio.issc.monitor`, `issc.issc_frame_encoder`, `issc_no_such_block`, `linkconfig.py`, "
        "`python/issc/physics/hcrb.py::FisherModel.hcrb`, `issc.frame_encoder`\n"
        "```\n`python/issc/inside_a_fence.py`\n```\n",
        encoding="utf-8",
    )
    problems = reference_problems(doc)
    assert len(problems) == 6, problems
    assert not any("FisherModel.hcrb" in p or "inside_a_fence" in p or "`issc.frame_encoder`" in p for p in problems)


INTERNAL = re.compile(r"\b(?:MODEL|PLATFORM|DESIGN)\.md\b")
ISSUE = re.compile(r"\bissues?\s*(?:#|no\.?\s*|number\s*)?\d+", re.I)


def test_no_tracked_file_cites_internal_notes_or_issue_numbers():
    files = tracked_files()
    if not files:
        pytest.skip("not a git checkout")
    this = Path(__file__).resolve().relative_to(ROOT).as_posix()
    problems = []
    for name in files:
        path = ROOT / name
        if name == this or not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        text = data.decode("utf-8", errors="replace")
        for pattern in (INTERNAL, ISSUE):
            for m in pattern.finditer(text):
                problems.append(f"{name}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)!r}")
    assert not problems, "\n".join(problems)
