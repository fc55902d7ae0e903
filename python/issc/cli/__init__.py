# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ``issc`` command line. ``main()`` is the console-script entry point."""

from .main import main

__all__ = ["main"]
