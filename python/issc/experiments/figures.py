# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
"""Figure plumbing shared by the experiments: a headless pyplot, and the finishing of a figure (legend,
title, layout) before it is written and closed."""

from __future__ import annotations


def pyplot():
    """matplotlib's pyplot on the Agg backend (no display needed), imported only where a figure is drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path) -> None:
    """Lay ``fig`` out, write it to ``path`` (PNG at 120 dpi) and close it."""
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    pyplot().close(fig)


def save_panels(fig, axes, path, ylabel: str, title: str = "") -> None:
    """Finish a grid of panels (``axes[row][col]``): ``ylabel`` on the first panel, the legend on the last of
    the first row, ``title`` over the figure; then :func:`save_figure`.

    Args:
        fig: the figure.
        axes: its panels, a 2-D array or nested list.
        path: the PNG to write.
        ylabel: the first panel's y label.
        title: the figure's title ('' for none).
    """
    axes[0][0].set_ylabel(ylabel)
    axes[0][-1].legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    save_figure(fig, path)


def save_single(fig, ax, path, title: str = "") -> None:
    """Finish a one-panel figure: its legend, ``title`` over the panel ('' for none); then :func:`save_figure`."""
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    save_figure(fig, path)
