# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit conversions used across gr-issc (powers in watts, angles in radians, distances in metres)."""

import numpy as np

SPEED_OF_LIGHT = 299_792_458.0  # m/s


def dbm_to_w(dbm):
    """Power in dBm -> watts (array-friendly)."""
    return 10.0 ** ((np.asarray(dbm, dtype=float) - 30.0) / 10.0)


def w_to_dbm(watts):
    """Power in watts -> dBm (array-friendly); 0 W gives -inf."""
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(np.asarray(watts, dtype=float)) + 30.0


def db_to_lin(db):
    return 10.0 ** (np.asarray(db, dtype=float) / 10.0)


def lin_to_db(lin):
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(np.asarray(lin, dtype=float))
