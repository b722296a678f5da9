"""Figures of the platform's design search (``recgym design``) and of information
sharing (``recgym information``), drawn by ``recgym plot DIR``.

Design (``save_design_figures``), per (dataset, embedding seed, dim, n):

* ``<scf>_vs_temperature``: each SCF against the softmax temperature (log scale),
  one colour per payoff and floor: the band from the worst to the best distinct equilibrium
  and the mean over converged runs; rules without a temperature (linear, uniform,
  top-k with a fixed one) are dashed horizontal lines at their worst equilibrium;
* ``pareto``: every converged equilibrium in the plane of the first two SCFs, with
  the Pareto frontier (``recgym.design.pareto``);
* ``price_of_anarchy``: the planner's best found over the worst equilibrium, for
  the first SCF, against the temperature (where it is positive).

A long-run folder (``recgym design --epochs N``, ``recgym.design.is_long_run``) draws
the same figures from the SCFs averaged over the epochs (bands from the worst to the
best run; no price of anarchy, which the long run does not compute), and also
``<scf>_last_vs_temperature`` (the SCF at the last epoch), ``retention_vs_temperature``
and ``homogenization_vs_temperature`` (at the last epoch).

Information (``save_information_figures``): user welfare and the true game's
NashConv (regret) against ``epsilon`` (log scale, mean and standard error over
runs), the baselines (full information, exact release, no information) as
horizontal lines.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from recgym import design  # noqa: E402

GROUP = ["dataset", "embedding_seed", "dim", "n_producers"]


def _save(figures: dict[str, Figure], fig_dir: Path, prefix: str, dpi: int) -> list[Path]:
    paths = []
    for name, fig in figures.items():
        path = fig_dir / f"{prefix}_{name}.png".replace(":", "-").replace("=", "")
        fig.savefig(path, dpi=dpi)
        plt.close(fig)
        paths.append(path)
    return paths


def _by_temperature(summary: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Softmax rows without other parameters (sorted by temperature), and the rest."""
    plain = (summary["rule"] == "softmax") & summary["temperature"].notna()
    return summary[plain].sort_values("temperature"), summary[~plain]


def _curves(softmax: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """One curve per payoff and floor of the softmax rows: its label and rows."""
    return [(f"softmax{f':floor={floor:g}' if floor else ''} / {payoff}", part)
            for (payoff, floor), part in softmax.groupby(["payoff", "floor"], sort=False)]


def scf_figure(summary: pd.DataFrame, scf: str, ylabel: str | None = None,
               title: str | None = None) -> Figure:
    """One SCF (any summarized column) against the temperature, per payoff (module
    docstring); ``ylabel`` and ``title`` default to the SCF per user at the equilibria."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    softmax, others = _by_temperature(summary)
    curves = _curves(softmax)
    for i, (label, part) in enumerate(curves):
        colour = f"C{i}"
        ax.fill_between(part["temperature"], part[f"{scf}_worst"], part[f"{scf}_best"],
                        color=colour, alpha=0.25)
        ax.plot(part["temperature"], part[f"{scf}_mean"], color=colour, marker=".",
                label=f"{label} (mean; band: worst to best)")
    for j, (_, row) in enumerate(others.iterrows()):
        label = design.Candidate(_spec(row.to_dict()), row["payoff"]).label
        ax.axhline(row[f"{scf}_worst"], color=f"C{len(curves) + j}", linestyle="--",
                   label=f"{label} (worst)")
    ax.set(xscale="log", xlabel="softmax temperature T",
           ylabel=ylabel or f"{scf} (per user)", title=title or f"{scf} at the equilibria")
    ax.legend(fontsize="x-small")
    fig.tight_layout()
    return fig


def _spec(row: dict) -> str:
    """A rule spec from a summary row's family and parameters."""
    params = [f"{name}={row[name]:g}" for name in design.PARAM_COLUMNS
              if name in row and not pd.isna(row[name]) and not (name == "floor"
                                                                 and row[name] == 0)]
    return row["rule"] + (":" + ",".join(params) if params else "")


def pareto_figure(frame: pd.DataFrame, x: str, y: str) -> Figure:
    """Every converged equilibrium in the (x, y) plane, with the Pareto frontier."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    done = frame[frame["converged"].astype(bool)]
    for i, (payoff, part) in enumerate(done.groupby("payoff", sort=False)):
        ax.scatter(part[x], part[y], s=10, color=f"C{i}", alpha=0.6, label=payoff)
    front = design.pareto(frame, x, y)
    ax.plot(front[x], front[y], color="black", drawstyle="steps-post", label="Pareto frontier")
    ax.set(xlabel=x, ylabel=y, title="equilibria of every candidate")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def anarchy_figure(summary: pd.DataFrame, scf: str) -> Figure:
    """The planner's best found over the worst equilibrium, against the temperature."""
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for i, (label, part) in enumerate(_curves(_by_temperature(summary)[0])):
        worst = part[f"{scf}_worst"]
        ratio = np.where(worst > 0, part["opt"] / worst, np.nan)
        ax.plot(part["temperature"], ratio, color=f"C{i}", marker=".", label=label)
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set(xscale="log", xlabel="softmax temperature T",
           ylabel="planner's best found / worst equilibrium",
           title=f"price of anarchy ({scf}; best found, not proven optimal)")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def save_design_figures(frame: pd.DataFrame, scfs: list[str], fig_dir: str | os.PathLike,
                        dpi: int = 80) -> list[Path]:
    """Draw the design figures (module docstring); return the PNG paths."""
    def figures(part: pd.DataFrame) -> dict[str, Figure]:
        if design.is_long_run(part):
            return _long_run_figures(part, scfs)
        summary = design.summarize(part, scfs)
        drawn = {f"{scf}_vs_temperature": scf_figure(summary, scf) for scf in scfs}
        if len(scfs) >= 2:
            drawn["pareto"] = pareto_figure(part, scfs[0], scfs[1])
        if summary["opt"].notna().any() and _by_temperature(summary)[0].shape[0] >= 2:
            drawn["price_of_anarchy"] = anarchy_figure(summary, scfs[0])
        return drawn

    return _save_per_group(frame, "design", figures, fig_dir, dpi)


def _long_run_figures(part: pd.DataFrame, scfs: list[str]) -> dict[str, Figure]:
    """The figures of one group of long-run rows (module docstring)."""
    last = [scf + design.LAST for scf in scfs]
    summary = design.summarize(part, [*scfs, *last, *design.LONG_RUN_COLUMNS])
    drawn = {f"{scf}_vs_temperature": scf_figure(
        summary, scf, f"{scf} (per starting user, mean over epochs)",
        f"{scf} averaged over the epochs") for scf in scfs}
    drawn.update({f"{scf}_last_vs_temperature": scf_figure(
        summary, scf + design.LAST, f"{scf} (per starting user)",
        f"{scf} at the last epoch") for scf in scfs})
    drawn["retention_vs_temperature"] = scf_figure(
        summary, "retention", "share of the starting users active", "retention at the last epoch")
    drawn["homogenization_vs_temperature"] = scf_figure(
        summary, "homogenization", "mean pairwise cosine similarity",
        "users' homogenization at the last epoch")
    if len(scfs) >= 2:
        drawn["pareto"] = pareto_figure(part, scfs[0], scfs[1])
    return drawn


def _save_per_group(frame: pd.DataFrame, kind: str,
                    figures: Callable[[pd.DataFrame], dict[str, Figure]],
                    fig_dir: str | os.PathLike, dpi: int) -> list[Path]:
    """Save ``figures(part)`` for each (dataset, seed, dim, n) part of ``frame`` as
    ``<kind>_<dataset>_seed<s>_d<d>_n<n>_<name>.png``; return the paths."""
    fig_dir = Path(fig_dir)
    fig_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for values, part in frame.groupby(GROUP, sort=False):
        prefix = f"{kind}_{{}}_seed{{}}_d{{}}_n{{}}".format(*values)
        paths += _save(figures(part), fig_dir, prefix, dpi)
    return paths


def information_figure(frame: pd.DataFrame, column: str, label: str) -> Figure:
    """``column`` against epsilon (mean and standard error), baselines as lines."""
    fig, ax = plt.subplots(figsize=(6, 3.8))
    private = frame[(frame["setting"] == "private") & np.isfinite(frame["epsilon"])]
    stats = private.groupby("epsilon")[column].agg(["mean", "std", "count"])
    se = (stats["std"] / np.sqrt(stats["count"])).fillna(0.0)
    ax.errorbar(stats.index, stats["mean"], yerr=se, marker="o", color="C0",
                label="private release")
    names = {"full": "full information", "exact": "exact release (epsilon = inf)",
             "none": "no information"}
    for i, (setting, name) in enumerate(names.items()):
        part = frame[frame["setting"] == setting]
        if len(part):
            ax.axhline(float(part[column].mean()), color=f"C{i + 1}", linestyle="--",
                       label=name)
    ax.set(xscale="log", xlabel="epsilon", ylabel=label)
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def save_information_figures(frame: pd.DataFrame, fig_dir: str | os.PathLike,
                             dpi: int = 80) -> list[Path]:
    """Welfare and regret against epsilon, per (dataset, seed, dim, n); PNG paths."""
    return _save_per_group(frame, "information", lambda part: {
        "welfare": information_figure(part, "user_welfare", "user welfare"),
        "regret": information_figure(part, "nash_conv", "NashConv in the true game (per user)"),
    }, fig_dir, dpi)


__all__ = ["save_design_figures", "save_information_figures"]
