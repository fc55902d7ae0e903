# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Finds the subpackages of python/issc, installed as gnuradio.issc.*; everything else is in pyproject.toml."""

from pathlib import Path

from setuptools import setup

SOURCE = Path(__file__).resolve().parent / "python" / "issc"
PACKAGES = sorted(
    ".".join(("gnuradio", "issc", *init.parent.relative_to(SOURCE).parts)) for init in SOURCE.rglob("__init__.py")
)

setup(packages=PACKAGES)
