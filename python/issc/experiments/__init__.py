# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Experiments: the paper's Figs. 3/4 through the link, the estimator's efficiency, shared statistics."""
