# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The model's physics: geometry and channels, the finite-blocklength BER, the HCRB, DSP helpers,
target motion and the regime map."""
