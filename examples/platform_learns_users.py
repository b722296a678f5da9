"""A platform that learns its users from clicks: what does exploration cost, what does it gain?

The platform never sees the users' preferences; it serves by its estimates and learns
from clicks (``recgym.coevolve(..., learner=...)``, docs/ecosystem.md section E8), and
the producers best respond to the game its serving makes. This script runs the epoch
engine with every learner of the comparison:

* ``oracle``: serves by the true ratings (the benchmark, no learning);
* ``greedy``: serves by the current estimate, no exploration;
* ``epsilon:eps=x``: a share ``x`` of impressions uniform over the producers;
* ``ucb:alpha=a``: the estimate plus ``a`` standard deviations of the ridge model;
* ``thompson:scale=v``: one posterior draw per user and epoch;
* ``greedy`` with elicitation: ``q`` questions per user before epoch 1 (``elicit=d``:
  one question per feature).

One table per dataset (synthetic uniform users, d = 5, then MovieLens-100k, d = 10)
and user dynamics (static users, then mere exposure ``exposure:rate=b``, default
b = 0.02; ``--exposure-rate 0`` leaves it out), each number
the mean over ``--seeds`` runs (the run's seed sets the producers' starting content and
the feedback stream; the users are the same in every run):

* ``welfare``: cumulative user welfare, the sum over the epochs of the welfare per user
  (with its standard deviation over the seeds);
* ``early`` and ``late``: user welfare per epoch averaged over the first and the last
  ``--window`` epochs (what exploration costs the users early and gains them later);
* ``est. error``: the final estimation error, the mean ``||c^_k - c_k||_1``;
* ``regret``: the cumulative regret against serving the same content by the true
  ratings (the producers' response to the learner is not in it);
* ``TV vs oracle``: total variation between the feature distributions of the producers'
  final content under the learner and under the oracle with the same seed;
* ``features``: distinct features the producers' final content puts most weight on.

Every number is computed here.

    python examples/platform_learns_users.py --data PATH   # synthetic and MovieLens-100k (~30 s)
    python examples/platform_learns_users.py --quick       # small synthetic users, seconds

``--data`` is the MovieLens-100k folder or ``u.data`` file (default ``$RECGYM_DATA``;
``recgym download movielens-100k`` fetches it). ``--out DIR`` also writes each table and
every run's figures as CSV files.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import recgym
from recgym.metrics import producer_distribution, total_variation

#: The figures of one run, in the table's order (CSV names).
FIGURES = ("welfare", "early", "late", "estimation_error", "regret", "tv_vs_oracle",
           "features")


@dataclass(frozen=True)
class Setting:
    """One dataset's run settings."""

    name: str
    users: np.ndarray
    n_producers: int
    epochs: int
    moves_per_epoch: int
    impressions: int
    temperature: float


@dataclass(frozen=True)
class Arm:
    """One learner of the comparison: its spec and its elicitation questions."""

    learner: str
    elicit: int = 0

    @property
    def label(self) -> str:
        return self.learner if not self.elicit else f"{self.learner}, elicit={self.elicit}"


def arms(args: argparse.Namespace, dim: int) -> list[Arm]:
    """The compared learners for users of ``dim`` features (the oracle first)."""
    chosen = [Arm("oracle"), Arm("greedy")]
    chosen += [Arm(f"epsilon:eps={eps:g}") for eps in args.eps]
    chosen += [Arm(f"ucb:alpha={alpha:g}") for alpha in args.alpha]
    chosen += [Arm(f"thompson:scale={scale:g}") for scale in args.scale]
    questions = [dim if q == "d" else int(q) for q in args.elicit]
    chosen += [Arm("greedy", q) for q in dict.fromkeys(questions) if q > 0]
    return chosen


def run_figures(setting: Setting, arm: Arm, dynamics: str, seed: int, window: int,
                oracle_profile: np.ndarray | None) -> tuple[dict[str, float], np.ndarray]:
    """One run's figures and its final profile (``oracle_profile``: the oracle's final
    profile at this seed, ``None`` for the oracle's own run)."""
    run = recgym.coevolve(setting.users, setting.n_producers, "softmax",
                          temperature=setting.temperature, user_dynamics=dynamics,
                          epochs=setting.epochs, moves_per_epoch=setting.moves_per_epoch,
                          seed=seed, record="none", learner=arm.learner,
                          impressions=setting.impressions, elicit=arm.elicit)
    history, final = run.history, run.profiles[-1]
    reference = final if oracle_profile is None else oracle_profile
    figures = {"welfare": float(history["user_welfare"].sum()),
               "early": float(history["user_welfare"].iloc[:window].mean()),
               "late": float(history["user_welfare"].iloc[-window:].mean()),
               "estimation_error": float(history["estimation_error"].iloc[-1]),
               "regret": float(history["cumulative_regret"].iloc[-1]),
               "tv_vs_oracle": total_variation(producer_distribution(final),
                                               producer_distribution(reference)),
               "features": float(history["content_features"].iloc[-1])}
    return figures, final


def compare(setting: Setting, chosen: list[Arm], dynamics: str, seeds: list[int],
            window: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The table (mean and standard deviation over the seeds per learner) and every
    run's figures."""
    runs = []
    for seed in seeds:
        oracle_profile = None
        for arm in chosen:
            figures, final = run_figures(setting, arm, dynamics, seed, window, oracle_profile)
            if arm.learner == "oracle" and not arm.elicit:
                oracle_profile = final
            runs.append({"learner": arm.label, "seed": seed, **figures})
    per_run = pd.DataFrame(runs)
    grouped = per_run.groupby("learner", sort=False)[list(FIGURES)]
    table = grouped.mean().join(grouped.std(ddof=0).add_suffix("_sd")).reset_index()
    return table, per_run


def printable(table: pd.DataFrame, setting: Setting, window: int, spread: bool
              ) -> pd.DataFrame:
    """The table's numbers as strings, with the windows' epochs in the headers."""
    epochs = setting.epochs

    def cell(column: str, digits: int) -> pd.Series:
        values = table[column].map(lambda v: f"{v:.{digits}f}")
        if spread:
            values = values + table[f"{column}_sd"].map(lambda v: f" ± {v:.{digits}f}")
        return values

    return pd.DataFrame({
        "learner": table["learner"],
        "welfare": cell("welfare", 2),
        f"early (1-{window})": table["early"].map(lambda v: f"{v:.4f}"),
        f"late ({epochs - window + 1}-{epochs})": table["late"].map(lambda v: f"{v:.4f}"),
        "est. error": table["estimation_error"].map(lambda v: f"{v:.3f}"),
        "regret": table["regret"].map(lambda v: f"{v:.3f}"),
        "TV vs oracle": cell("tv_vs_oracle", 2),
        "features": table["features"].map(lambda v: f"{v:.1f}")})


def markdown(table: pd.DataFrame) -> str:
    """A GitHub markdown table of strings (no dependency on tabulate)."""
    lines = ["| " + " | ".join(table.columns) + " |",
             "|" + "|".join(":--" if i == 0 else "--:" for i in range(table.shape[1])) + "|"]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def settings(args: argparse.Namespace) -> list[Setting]:
    """The datasets to run: small synthetic users for ``--quick``, else synthetic uniform
    users and MovieLens-100k."""
    if args.quick:
        return [Setting("synthetic uniform (quick)",
                        recgym.users.synthetic_uniform(300, 4, seed=args.users_seed), 5, 8, 3,
                        args.impressions, args.temperature)]
    chosen = []
    if "synthetic" in args.datasets:
        chosen.append(Setting("synthetic uniform", recgym.users.synthetic_uniform(
            args.n_users, 5, seed=args.users_seed), args.n_producers, args.epochs,
            args.moves_per_epoch, args.impressions, args.temperature))
    if "movielens" in args.datasets:
        path = args.data or os.environ.get("RECGYM_DATA")
        users = recgym.datasets.load_users("movielens-100k", 10, args.users_seed, path)
        chosen.append(Setting("MovieLens-100k", users, args.n_producers, args.epochs,
                              args.moves_per_epoch, args.impressions, args.temperature))
    return chosen


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="MovieLens-100k folder or u.data (default $RECGYM_DATA)")
    parser.add_argument("--datasets", nargs="+", choices=("synthetic", "movielens"),
                        default=["synthetic", "movielens"], help="which datasets to run")
    parser.add_argument("--n-users", type=int, default=3_000, help="K, synthetic users (d = 5)")
    parser.add_argument("--n-producers", type=int, default=10, help="n, producers")
    parser.add_argument("--epochs", type=int, default=80, help="epochs per run")
    parser.add_argument("--moves-per-epoch", type=int, default=5,
                        help="iterations of the producers' dynamics per epoch")
    parser.add_argument("--impressions", type=int, default=2,
                        help="impressions (and clicks) per user and epoch")
    parser.add_argument("--temperature", type=float, default=0.1, help="softmax temperature")
    parser.add_argument("--eps", type=float, nargs="+", default=[0.05, 0.2],
                        help="eps values of epsilon-greedy")
    parser.add_argument("--alpha", type=float, nargs="+", default=[0.1, 0.3, 1.0],
                        help="alpha values of UCB")
    parser.add_argument("--scale", type=float, nargs="+", default=[0.3, 1.0],
                        help="scale values of Thompson sampling")
    parser.add_argument("--elicit", nargs="+", default=["2", "d"],
                        help="questions per user before epoch 1 for greedy with elicitation "
                             "(an integer, or d: one per feature)")
    parser.add_argument("--exposure-rate", type=float, default=0.02,
                        help="b of the exposure:rate=b block (0: static users only)")
    parser.add_argument("--seeds", type=int, default=3, help="runs per learner (seeds 0, 1, ...)")
    parser.add_argument("--window", type=int, default=10,
                        help="epochs at the start and at the end for early and late welfare")
    parser.add_argument("--users-seed", type=int, default=17,
                        help="synthetic users' seed and MovieLens embedding seed")
    parser.add_argument("--out", type=Path, help="folder for the tables and runs (CSV)")
    parser.add_argument("--markdown", action="store_true", help="print markdown tables")
    parser.add_argument("--quick", action="store_true",
                        help="300 synthetic users, d=4, n=5, 8 epochs, 2 seeds (for tests)")
    args = parser.parse_args()
    if args.quick:
        args.seeds = min(args.seeds, 2)
    for q in args.elicit:
        if q != "d" and not q.isdigit():
            parser.error(f"--elicit takes integers >= 0 or d, got {q!r}")
    if args.seeds < 1 or args.window < 1:
        parser.error("--seeds and --window must be at least 1")
    if args.exposure_rate < 0:
        parser.error(f"--exposure-rate must be >= 0, got {args.exposure_rate}")
    return args


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    models = [("static users", "static")]
    if args.exposure_rate > 0:
        models.append((f"exposure b={args.exposure_rate:g}",
                       f"exposure:rate={args.exposure_rate:g}"))
    seeds = list(range(args.seeds))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    for setting in settings(args):
        users = setting.users
        window = min(args.window, max(setting.epochs // 2, 1))
        chosen = arms(args, users.shape[1])
        tables, runs = [], []
        for name, model in models:
            table, per_run = compare(setting, chosen, model, seeds, window)
            print(f"\n{setting.name}, {name}: K={users.shape[0]} users, d={users.shape[1]}, "
                  f"n={setting.n_producers} producers, softmax T={setting.temperature:g}, "
                  f"{setting.epochs} epochs of {setting.moves_per_epoch} moves, "
                  f"{setting.impressions} impressions per user and epoch, "
                  f"mean over seeds {seeds[0]}-{seeds[-1]}")
            print(f"welfare: cumulative user welfare (sum over epochs, ± sd over seeds); early, "
                  f"late: welfare per epoch over the first and last {window} epochs; "
                  f"est. error, regret (cumulative, vs the true ratings at the same content), "
                  f"TV vs oracle (final content, ± sd), features: at the end")
            shown = printable(table, setting, window, spread=len(seeds) > 1)
            print(markdown(shown) if args.markdown else shown.to_string(index=False))
            tables.append(table.assign(dynamics=model))
            runs.append(per_run.assign(dynamics=model))
        if args.out is not None:
            slug = setting.name.split(" (")[0].lower().replace(" ", "-")
            pd.concat(tables, ignore_index=True).to_csv(args.out / f"{slug}.csv", index=False)
            pd.concat(runs, ignore_index=True).to_csv(args.out / f"{slug}-runs.csv", index=False)
    print(f"\n({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
