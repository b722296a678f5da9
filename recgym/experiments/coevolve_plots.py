"""The figures of ``recgym coevolve`` (drawn again by ``recgym plot DIR``).

``coevolve.png`` has four panels against the epochs, one line per serving rule and
learner:

* **homogenization**: the mean pairwise cosine similarity of the active users'
  preferences (1 when all point the same way);
* **user welfare**: per user of the starting population (a departed user counts 0);
* **retention**: ``active_users``, the share of the starting users still active;
* **content features**: the distinct features the active producers put most weight on.

``learning.png``, drawn when a learner is not the oracle, has four more, one line per
rule and learner (the oracle's lines, if any, are the reference: no error, no regret):

* **estimation error**: mean ``||c^_k - c_k||_1`` over the active users;
* **cumulative regret against the oracle**: the sum over epochs so far of
  ``regret_vs_oracle``, per starting user (the rule on the true ratings at the same
  profile, minus the platform's serving; it can fall, as that rule is not the
  user-optimal serving);
* **user welfare**, as in ``coevolve.png``, next to what learning costs;
* **clicks**: the realized engagements per starting user in the epoch.

Lines: with one learner, one colour per rule, labelled by the rule (and the learner
named in the legend's title unless it is the oracle); with one rule, one colour per
learner; with several of both, the colour is the rule and the line style the learner.
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

__all__ = ["LEARNING_PANELS", "PANELS", "save_coevolve_figure", "save_learning_figure"]

#: History column and axis label of each panel, in reading order.
PANELS = (("homogenization", "homogenization (mean cosine similarity)"),
          ("user_welfare", "user welfare (per starting user)"),
          ("active_users", "retention (share of users active)"),
          ("content_features", "content features (distinct top features)"))
#: The panels of ``learning.png``, in reading order.
LEARNING_PANELS = (("estimation_error", "estimation error (mean ||c^_k - c_k||_1)"),
                   ("cumulative_regret", "cumulative regret vs the oracle (per user)"),
                   ("user_welfare", "user welfare (per starting user)"),
                   ("clicks", "clicks (per starting user and epoch)"))
#: Epochs up to which every point gets a marker.
MARKED_EPOCHS = 30
#: Line styles of the learners when the colour is the rule's.
LINE_STYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1)), (0, (1, 3)), (0, (8, 2)))
#: The learner of a history without a ``learner`` column.
ORACLE = "oracle"


def save_coevolve_figure(history: pd.DataFrame, path: Path, *,
                         runs: Sequence[tuple[str, str]] | None = None,
                         rules: Sequence[str] | None = None, title: str = "",
                         dpi: int = 80) -> Path:
    """Draw ``history`` (columns ``rule``, ``epoch``, the panels' and optionally
    ``learner``) into ``path``: ``PANELS``.

    ``runs`` orders the lines by ``(rule, learner)`` (or ``rules``, for a history of the
    oracle alone; default: as they first appear); runs without rows are left out.
    Returns ``path``.
    """
    return _save(history, path, PANELS, _order(history, runs, rules), title, dpi)


def save_learning_figure(history: pd.DataFrame, path: Path, *,
                         runs: Sequence[tuple[str, str]] | None = None, title: str = "",
                         dpi: int = 80) -> Path:
    """Draw ``history`` into ``path``: ``LEARNING_PANELS``, one line per ``runs``
    (``(rule, learner)`` pairs; default: as they first appear). Returns ``path``."""
    return _save(history, path, LEARNING_PANELS, _order(history, runs, None), title, dpi)


def _with_learner(history: pd.DataFrame) -> pd.DataFrame:
    return history if "learner" in history.columns else history.assign(learner=ORACLE)


def _order(history: pd.DataFrame, runs: Sequence[tuple[str, str]] | None,
           rules: Sequence[str] | None) -> list[tuple[str, str]]:
    history = _with_learner(history)
    found = list(dict.fromkeys(zip(history["rule"], history["learner"], strict=True)))
    if runs is None:
        runs = [(rule, ORACLE) for rule in rules] if rules is not None else found
    present = set(found)
    return [run for run in runs if tuple(run) in present]


def _save(history: pd.DataFrame, path: Path, panels: Sequence[tuple[str, str]],
          runs: Sequence[tuple[str, str]], title: str, dpi: int) -> Path:
    history = _with_learner(history)
    styles, legend_title = _styles(runs)
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), sharex=True, layout="constrained")
    for ax, (column, label) in zip(axes.flat, panels, strict=True):
        _panel(ax, history, runs, styles, column, label)
    for ax in axes[1]:
        ax.set_xlabel("epoch")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 4),
                   title=legend_title)
    if title:
        fig.suptitle(title, fontsize="medium")
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def _styles(runs: Sequence[tuple[str, str]]
            ) -> tuple[dict[tuple[str, str], dict[str, object]], str]:
    """Colour, line style and label of each run; the legend's title."""
    rules = list(dict.fromkeys(rule for rule, _ in runs))
    learners = list(dict.fromkeys(learner for _, learner in runs))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    styles: dict[tuple[str, str], dict[str, object]] = {}
    for rule, learner in runs:
        i, j = rules.index(rule), learners.index(learner)
        if len(learners) == 1:
            style = {"color": colours[i % len(colours)], "label": rule}
        elif len(rules) == 1:
            style = {"color": colours[j % len(colours)], "label": learner}
        else:
            style = {"color": colours[i % len(colours)], "label": f"{rule}, {learner}",
                     "linestyle": LINE_STYLES[j % len(LINE_STYLES)]}
        styles[rule, learner] = style
    if len(learners) == 1:
        title = "serving rule" if learners == [ORACLE] else \
            f"serving rule (learner {learners[0]})"
    elif len(rules) == 1:
        title = f"learner (serving rule {rules[0]})"
    else:
        title = "serving rule, learner"
    return styles, title


def _panel(ax: Axes, history: pd.DataFrame, runs: Sequence[tuple[str, str]],
           styles: dict[tuple[str, str], dict[str, object]], column: str,
           label: str) -> None:
    """One panel: ``column`` against the epoch, one line per run."""
    for rule, learner in runs:
        part = history[(history["rule"] == rule) & (history["learner"] == learner)]
        part = part.sort_values("epoch")
        marker = "o" if len(part) <= MARKED_EPOCHS else None
        ax.plot(part["epoch"], part[column], marker=marker, markersize=3,
                **styles[rule, learner])
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if column == "active_users":
        ax.set_ylim(-0.02, 1.02)
    if column == "content_features":
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
