# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The semantic users' source coding: task-oriented models (encoder -> entropy-coded features ->
classifier), their bitstream container, and the semantic profile (classification error versus BER per
model, the logistic of docs/semantic.md) that the optimiser can use.

Import the torch-based parts explicitly (``from gnuradio.issc.semantic.family import SemanticFamily``);
this package's ``__init__`` only exposes the profile, which needs NumPy alone.
"""

from .profile import SemanticModelProfile, SemanticProfile, load_semantic_profile, semantic_distortion

__all__ = ["SemanticProfile", "SemanticModelProfile", "load_semantic_profile", "semantic_distortion"]
