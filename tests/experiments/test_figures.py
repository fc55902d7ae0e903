# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""The experiments' figure finishing (experiments/figures.py)."""

from __future__ import annotations

from gnuradio.issc.experiments.figures import pyplot, save_panels, save_single


def test_save_panels_and_save_single_write_pngs_and_close_the_figures(tmp_path):
    """Each writes a PNG (its magic bytes) with the labels asked for, and closes the figure."""
    plt = pyplot()
    fig, axes = plt.subplots(2, 3, squeeze=False)
    axes[0][2].plot([0, 1], [0, 1], label="a")
    save_panels(fig, axes, tmp_path / "grid.png", "y label", "a title")
    assert axes[0][0].get_ylabel() == "y label" and fig._suptitle.get_text() == "a title"
    fig2, ax = plt.subplots()
    ax.plot([0, 1], [1, 0], label="b")
    save_single(fig2, ax, tmp_path / "one.png", "t")
    assert ax.get_title() == "t" and ax.get_legend() is not None
    for name in ("grid.png", "one.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not {fig.number, fig2.number} & set(plt.get_fignums())
