# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sensing: the MAP target estimator, the tracker, and the streaming estimator and tracking policy
that the blocks drive."""
