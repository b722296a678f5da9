"""The figure of ``recgym coevolve`` (drawn again by ``recgym plot DIR``).

``coevolve.png`` has four panels against the epochs, one line per serving rule:

* **homogenization**: the mean pairwise cosine similarity of the active users'
  preferences (1 when all point the same way);
* **user welfare**: per user of the starting population (a departed user counts 0);
* **retention**: ``active_users``, the share of the starting users still active;
* **content features**: the distinct features the active producers put most weight on.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

__all__ = ["PANELS", "save_coevolve_figure"]

#: History column and axis label of each panel, in reading order.
PANELS = (("homogenization", "homogenization (mean cosine similarity)"),
          ("user_welfare", "user welfare (per starting user)"),
          ("active_users", "retention (share of users active)"),
          ("content_features", "content features (distinct top features)"))
#: Epochs up to which every point gets a marker.
MARKED_EPOCHS = 30


def save_coevolve_figure(history: pd.DataFrame, path: Path, *,
                         rules: Sequence[str] | None = None, title: str = "",
                         dpi: int = 80) -> Path:
    """Draw ``history`` (columns ``rule``, ``epoch`` and the panels') into ``path``.

    ``rules`` orders the lines (default: as they first appear); rules without rows
    are left out. Returns ``path``.
    """
    order = [r for r in (rules or dict.fromkeys(history["rule"])) if r in set(history["rule"])]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), sharex=True, layout="constrained")
    for ax, (column, label) in zip(axes.flat, PANELS, strict=True):
        _panel(ax, history, order, column, label)
    for ax in axes[1]:
        ax.set_xlabel("epoch")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 4),
                   title="serving rule")
    if title:
        fig.suptitle(title, fontsize="medium")
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def _panel(ax: Axes, history: pd.DataFrame, rules: Sequence[str], column: str,
           label: str) -> None:
    """One panel: ``column`` against the epoch, one line per rule."""
    for rule in rules:
        part = history[history["rule"] == rule].sort_values("epoch")
        marker = "o" if len(part) <= MARKED_EPOCHS else None
        ax.plot(part["epoch"], part[column], marker=marker, markersize=3, label=rule)
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if column == "active_users":
        ax.set_ylim(-0.02, 1.02)
    if column == "content_features":
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
