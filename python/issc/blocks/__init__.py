# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""GNU Radio blocks of gr-issc: thin adapters between streams/messages and the core.

One block per module; module name = class name = GRC id (``issc_<name>``).
"""
