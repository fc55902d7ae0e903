# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Semantic source coding: the hyperprior codec family, its bitstream container, and the codec
profile (distortion versus BER per model) that the optimiser uses.

Import the torch-based parts explicitly (``from gnuradio.issc.codec import ...``); this package's
``__init__`` only exposes the profile, which needs NumPy and PyYAML alone.
"""

from .profile import CodecProfile, DistortionFit, ModelProfile, load_profile, logistic_log10_distortion

__all__ = ["CodecProfile", "ModelProfile", "DistortionFit", "load_profile", "logistic_log10_distortion"]
