# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The air interface: the frame format and polar code, the code calibration, the frame configuration,
PDUs, the frame ledger and the link report."""
