"""The paper's figures, drawn from per-run results (matplotlib, no display needed).

* ``iterations_figure`` (experiment 1): mean iterations to converge against the
  number of producers, one line per dimension, with standard-error bars
  (``std / sqrt(runs)``) over runs; one panel per serving rule.
* ``distribution_figure``: the producers' distribution over features at the end
  (``counts / n``) next to the users' (``U.sum(0) / U.sum()``); one panel per rule.
* ``utility_figure`` (experiment 2): producer utility (per producer and per user,
  ``total_producer_utility / (n K)``) and user utility (``avg_user_utility``)
  against the softmax temperature (log scale), mean and standard error over
  embedding seeds, one line per number of producers; linear serving is the dashed
  horizontal line of the same colour.
* ``specialisation_figure`` (experiment 2): the number of features with at least
  one producer, and the total-variation distance
  ``0.5 * sum_f |counts_f / n - user_distribution_f|`` between the producers' and
  the users' distributions, against the temperature, drawn the same way.

Utilities and specialisation are averaged over runs that converged (the paper
reports no utilities for the others).
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

#: Lines per panel in the temperature figures at most (numbers of producers shown).
MAX_LINES = 4


def _counts(frame: pd.DataFrame) -> np.ndarray:
    """Producers per feature of each row, shape ``(rows, d)`` (one ``d`` per frame)."""
    return np.array([np.array(c.split(), dtype=float) for c in frame["counts"]])


def _rule_label(rule: str, temperature: float) -> str:
    return "linear" if rule == "linear" else f"softmax T={temperature:g}"


def _settings(frame: pd.DataFrame) -> list[tuple[str, float]]:
    """``(rule, temperature)`` pairs present: linear first, then by temperature."""
    pairs = frame[["rule", "temperature"]].drop_duplicates()
    return sorted(((r, t) for r, t in pairs.itertuples(index=False)),
                  key=lambda p: (p[0] != "linear", 0.0 if np.isnan(p[1]) else p[1]))


def _select(frame: pd.DataFrame, rule: str, temperature: float) -> pd.DataFrame:
    if rule == "linear":
        return frame[frame["rule"] == rule]
    return frame[(frame["rule"] == rule) & np.isclose(frame["temperature"], temperature)]


def _mean_se(values: pd.core.groupby.SeriesGroupBy) -> pd.DataFrame:
    """Mean and standard error (0 for a single value) of each group."""
    stats = values.agg(["mean", "std", "count"])
    stats["se"] = (stats["std"] / np.sqrt(stats["count"])).fillna(0.0)
    return stats


def iterations_figure(frame: pd.DataFrame) -> Figure:
    """Iterations to converge vs producers, per dimension, standard-error bars (exp 1)."""
    settings = _settings(frame)
    fig, axes = plt.subplots(1, len(settings), figsize=(4.2 * len(settings), 3.4),
                             sharey=True, squeeze=False)
    for ax, (rule, temperature) in zip(axes[0], settings, strict=True):
        part = _select(frame, rule, temperature)
        for dim, rows in part.groupby("dim"):
            stats = _mean_se(rows.groupby("n_producers")["iterations"])
            ax.errorbar(stats.index, stats["mean"], yerr=stats["se"], marker="o", ms=3,
                        capsize=2, label=f"d={dim}")
        runs = part["run"].nunique() if "run" in part else 1
        ax.set(title=f"{_rule_label(rule, temperature)} ({runs} runs)",
               xlabel="producers n")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("iterations to converge")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"{frame['dataset'].iloc[0]}: best-response dynamics")
    fig.tight_layout()
    return fig


def distribution_figure(frame: pd.DataFrame, users: pd.DataFrame, dim: int, n: int,
                        seed: int) -> Figure:
    """Producers' vs users' distribution over features at ``(dim, n, seed)``, per rule.

    ``users`` is a sweep's ``user_distributions.csv``; with several runs (exp 1)
    the producers' distribution is averaged over them.
    """
    part = frame[(frame["dim"] == dim) & (frame["n_producers"] == n) &
                 (frame["embedding_seed"] == seed)]
    user_rows = users[(users["dim"] == dim) & (users["embedding_seed"] == seed)]
    if len(part) == 0 or len(user_rows) == 0:
        raise ValueError(f"no runs (or no users) with --dim {dim}, --n-producers {n} and "
                         f"--seed {seed} in the results; choose values present there")
    user_row = user_rows.iloc[0]
    user_dist = np.array(user_row["user_distribution"].split(), dtype=float)
    settings = _settings(part)
    cols = min(3, len(settings))
    rows = -(-len(settings) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), sharey=True,
                             squeeze=False)
    features = np.arange(dim)
    for ax, (rule, temperature) in zip(axes.flat, settings, strict=False):
        producers = (_counts(_select(part, rule, temperature)) / n).mean(axis=0)
        ax.bar(features - 0.2, producers, width=0.4, label="producers")
        ax.bar(features + 0.2, user_dist, width=0.4, label="users")
        ax.set(title=_rule_label(rule, temperature), xlabel="feature", xticks=features)
    for ax in axes.flat[len(settings):]:
        ax.set_visible(False)
    axes[0][0].set_ylabel("share")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"{frame['dataset'].iloc[0]}: producer vs user distribution "
                 f"(d={dim}, n={n}, embedding seed {seed})")
    fig.tight_layout()
    return fig


def _producer_lines(frame: pd.DataFrame) -> list[int]:
    """At most ``MAX_LINES`` numbers of producers, spread over those present."""
    ns = np.sort(frame["n_producers"].unique())
    picks = np.unique(np.linspace(0, len(ns) - 1, min(MAX_LINES, len(ns))).round().astype(int))
    return [int(ns[i]) for i in picks]


def _versus_temperature(frame: pd.DataFrame, metrics: dict[str, str], title: str,
                        log_y: tuple[str, ...] = ()) -> Figure:
    """One panel per metric column: mean +- SE over seeds vs temperature, per n."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics) + 1.2, 3.4),
                             squeeze=False)
    softmax = frame[frame["rule"] == "softmax"]
    linear = frame[frame["rule"] == "linear"]
    for ax, (column, label) in zip(axes[0], metrics.items(), strict=True):
        for i, n in enumerate(_producer_lines(frame)):
            colour = f"C{i}"
            stats = _mean_se(softmax[softmax["n_producers"] == n].groupby("temperature")[column])
            ax.errorbar(stats.index, stats["mean"], yerr=stats["se"], marker="o", ms=3,
                        capsize=2, color=colour, label=f"n={n}")
            lin = linear.loc[linear["n_producers"] == n, column]
            if len(lin):
                ax.axhline(lin.mean(), color=colour, linestyle="--", linewidth=1)
        ax.set_xscale("log")
        if column in log_y:
            ax.set_yscale("log")
        ax.set(xlabel="softmax temperature T", ylabel=label)
        ax.grid(alpha=0.3)
    axes[0][-1].plot([], [], color="grey", linestyle="--", label="linear serving")
    axes[0][-1].legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def utility_figure(frame: pd.DataFrame, users: pd.DataFrame, dim: int) -> Figure:
    """Producer and user utility vs temperature at dimension ``dim`` (converged runs)."""
    part = _with_user_columns(frame[(frame["dim"] == dim) & frame["converged"]], users)
    part["producer_utility"] = part["total_producer_utility"] / (
        part["n_producers"] * part["n_users"])
    return _versus_temperature(
        part, {"producer_utility": "producer utility (per producer, per user)",
               "avg_user_utility": "user utility (mean over users)"},
        f"{frame['dataset'].iloc[0]}: utilities vs temperature (d={dim})",
        log_y=("producer_utility",))


def specialisation_figure(frame: pd.DataFrame, users: pd.DataFrame, dim: int) -> Figure:
    """Features used and TV distance to the users vs temperature at ``dim`` (converged)."""
    part = _with_user_columns(frame[(frame["dim"] == dim) & frame["converged"]], users)
    counts = _counts(part)
    producer_dist = counts / counts.sum(axis=1, keepdims=True)
    user_dist = np.array([np.array(u.split(), dtype=float) for u in part["user_distribution"]])
    part["features_used"] = (counts > 0).sum(axis=1)
    part["tv_distance"] = 0.5 * np.abs(producer_dist - user_dist).sum(axis=1)
    return _versus_temperature(
        part, {"features_used": "features with a producer",
               "tv_distance": "TV distance, producers vs users"},
        f"{frame['dataset'].iloc[0]}: specialisation vs temperature (d={dim})")


def _with_user_columns(frame: pd.DataFrame, users: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each row's ``n_users`` and ``user_distribution``."""
    return frame.merge(users[["embedding_seed", "dim", "n_users", "user_distribution"]],
                       on=["embedding_seed", "dim"], how="left", validate="many_to_one")


def save_figures(frame: pd.DataFrame, users: pd.DataFrame | None, fig_dir: str | os.PathLike,
                 dim: int | None = None, n: int | None = None, seed: int | None = None,
                 dpi: int = 80) -> list[Path]:
    """Draw every figure the results allow, one set per dataset; return the PNG paths.

    Parameters
    ----------
    frame : DataFrame
        Per-run results (``recgym.experiments.results`` columns).
    users : DataFrame or None
        ``user_distributions.csv`` rows (all datasets); without them only the
        iterations figure is drawn.
    fig_dir : path
    dim, n, seed : int, optional
        Dimension, number of producers and embedding seed of the distribution
        figure (default: smallest dimension, largest n, first seed); ``dim`` is
        also the dimension of the temperature figures.
    dpi : int
        Resolution of the PNGs.
    """
    fig_dir = Path(fig_dir)
    fig_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for dataset, part in frame.groupby("dataset", sort=False):
        figures: dict[str, Figure] = {}
        if "run" in part.columns and part["run"].notna().all():
            figures["iterations"] = iterations_figure(part)
        known = None if users is None else users[users["dataset"] == dataset]
        if known is not None and len(known):
            d = int(part["dim"].min()) if dim is None else dim
            figures["distribution"] = distribution_figure(
                part, known, d, int(part["n_producers"].max()) if n is None else n,
                int(part["embedding_seed"].min()) if seed is None else seed)
            if part.loc[part["rule"] == "softmax", "temperature"].nunique() >= 2:
                figures["utility"] = utility_figure(part, known, d)
                figures["specialisation"] = specialisation_figure(part, known, d)
        for name, fig in figures.items():
            path = fig_dir / f"{dataset}_{name}.png"
            fig.savefig(path, dpi=dpi)
            plt.close(fig)
            paths.append(path)
    return paths
