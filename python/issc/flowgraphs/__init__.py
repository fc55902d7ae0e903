# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Top blocks: the whole closed-loop link composed of the module's hier blocks."""
