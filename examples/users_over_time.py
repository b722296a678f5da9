"""Users who change and leave: which serving rule keeps the ecosystem diverse and the users?

Runs the epoch engine (``recgym.coevolve``) for every serving rule of the comparison
(softmax at T = 0.1 and T = 1 and linear, each without and with an exposure floor of
0.2, and uniform serving, the mass-media rule a floor cannot change) under five user
dynamics:

* ``static``: users never change and never leave (the paper's game);
* ``exposure``: mere exposure, ``exposure:rate=b``;
* ``engagement``: drawn toward what the user enjoyed, ``engagement:rate=e``;
* ``departures``: static users who leave after ``P`` epochs in a row below the outside
  option ``w``;
* ``exposure + departures``: both.

The users' outside option ``w`` is computed from the data, not typed in: the
``--quantile`` (default 5%) quantile of the users' utilities in the first epoch under
softmax T = 1 (the paper's rule) with static users. It is printed.

One table per dataset (synthetic uniform users, then MovieLens-100k): user welfare per
starting user averaged over the epochs (departed users count 0), the users'
homogenization (mean pairwise cosine similarity) in the last epoch against its value
at the start, the distinct features the producers' content puts most weight on in the
last epoch, and retention (the share of the starting users still active in the last
epoch). Every number is computed here.

    python examples/users_over_time.py --data PATH      # synthetic and MovieLens-100k (~10 s)
    python examples/users_over_time.py --quick          # small synthetic users, a second

``--data`` is the MovieLens-100k folder or ``u.data`` file (default ``$RECGYM_DATA``;
``recgym download movielens-100k`` fetches it). ``--out DIR`` also writes each table and
every run's per-epoch history as CSV files.
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
from recgym.coevolve import Coevolution

#: (label, rule spec); uniform serving is the same with any floor.
RULES = (("softmax T=0.1", "softmax:temperature=0.1"),
         ("softmax T=0.1, floor 0.2", "softmax:temperature=0.1,floor=0.2"),
         ("softmax T=1", "softmax:temperature=1"),
         ("softmax T=1, floor 0.2", "softmax:temperature=1,floor=0.2"),
         ("linear", "linear"),
         ("linear, floor 0.2", "linear:floor=0.2"),
         ("uniform", "uniform"))
#: The rule whose first-epoch utilities set the users' outside option.
REFERENCE_RULE = "softmax:temperature=1"


@dataclass(frozen=True)
class Setting:
    """One dataset's run settings."""

    name: str
    users: np.ndarray
    n_producers: int
    epochs: int
    moves_per_epoch: int
    seed: int


def dynamics(exposure_rate: float, engagement_rate: float) -> list[tuple[str, str, bool]]:
    """``(label, model spec, departures on)`` of the compared user dynamics."""
    exposure = f"exposure:rate={exposure_rate:g}"
    return [("static", "static", False),
            (f"exposure b={exposure_rate:g}", exposure, False),
            (f"engagement e={engagement_rate:g}", f"engagement:rate={engagement_rate:g}", False),
            ("departures", "static", True),
            (f"exposure b={exposure_rate:g} + departures", exposure, True)]


def outside_option(setting: Setting, quantile: float) -> float:
    """``w``: the ``quantile`` of the users' utilities in epoch 1 under ``REFERENCE_RULE``,
    static users (the producers' first response from the run's seed)."""
    game = recgym.EngagementGame(setting.users, setting.n_producers, REFERENCE_RULE)
    engine = Coevolution(game, moves_per_epoch=setting.moves_per_epoch, seed=setting.seed)
    _, serving = engine.step()
    return float(np.quantile(serving.utilities.user, quantile))


def compare(setting: Setting, models: list[tuple[str, str, bool]], w: float, patience: int
            ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per rule and dynamics, and every run's history (long format)."""
    rows, histories = [], []
    for label, spec in RULES:
        for name, model, leave in models:
            run = recgym.coevolve(setting.users, setting.n_producers, spec,
                                  user_dynamics=model,
                                  user_outside_option=w if leave else 0.0,
                                  user_patience=patience, epochs=setting.epochs,
                                  moves_per_epoch=setting.moves_per_epoch,
                                  seed=setting.seed, record="none")
            history = run.history
            last = history.iloc[-1]
            rows.append({"rule": label, "dynamics": name,
                         "user welfare": history["user_welfare"].mean(),
                         "homogenization (start)": history["homogenization"].iloc[0],
                         "homogenization": last["homogenization"],
                         "content features": int(last["content_features"]),
                         "retention": last["active_users"]})
            histories.append(history.assign(rule=spec, dynamics=name))
    return pd.DataFrame(rows), pd.concat(histories, ignore_index=True)


def printable(table: pd.DataFrame) -> pd.DataFrame:
    """The table with the start homogenization (the same in every row) left out and the
    numbers rounded for printing."""
    shown = table.drop(columns="homogenization (start)").copy()
    for column in ("user welfare", "homogenization"):
        shown[column] = shown[column].map(lambda v: f"{v:.4f}")
    shown["retention"] = shown["retention"].map(lambda v: f"{v:.3f}")
    return shown


def markdown(table: pd.DataFrame) -> str:
    """A GitHub markdown table of strings (no dependency on tabulate)."""
    lines = ["| " + " | ".join(table.columns) + " |",
             "|" + "|".join(":--" if i < 2 else "--:" for i in range(table.shape[1])) + "|"]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def settings(args: argparse.Namespace) -> list[Setting]:
    """The datasets to run: small synthetic users for ``--quick``, else synthetic uniform
    users and MovieLens-100k."""
    if args.quick:
        return [Setting("synthetic uniform (quick)",
                        recgym.users.synthetic_uniform(300, 4, seed=args.users_seed), 5, 6, 3,
                        args.seed)]
    chosen = []
    if "synthetic" in args.datasets:
        chosen.append(Setting("synthetic uniform", recgym.users.synthetic_uniform(
            args.n_users, 5, seed=args.users_seed), args.n_producers, args.epochs,
            args.moves_per_epoch, args.seed))
    if "movielens" in args.datasets:
        path = args.data or os.environ.get("RECGYM_DATA")
        users = recgym.datasets.load_users("movielens-100k", 10, args.users_seed, path)
        chosen.append(Setting("MovieLens-100k", users, args.n_producers, args.epochs,
                              args.moves_per_epoch, args.seed))
    return chosen


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="MovieLens-100k folder or u.data (default $RECGYM_DATA)")
    parser.add_argument("--datasets", nargs="+", choices=("synthetic", "movielens"),
                        default=["synthetic", "movielens"], help="which datasets to run")
    parser.add_argument("--n-users", type=int, default=5_000, help="K, synthetic users (d = 5)")
    parser.add_argument("--n-producers", type=int, default=10, help="n, producers")
    parser.add_argument("--epochs", type=int, default=40, help="epochs per run")
    parser.add_argument("--moves-per-epoch", type=int, default=5,
                        help="iterations of the producers' dynamics per epoch")
    parser.add_argument("--exposure-rate", type=float, default=0.1, help="b of exposure:rate=b")
    parser.add_argument("--engagement-rate", type=float, default=1.0,
                        help="e of engagement:rate=e")
    parser.add_argument("--quantile", type=float, default=0.05,
                        help="w is this quantile of the users' first-epoch utility under "
                             "softmax T=1")
    parser.add_argument("--patience", type=int, default=2,
                        help="P: epochs in a row below w before a user leaves")
    parser.add_argument("--seed", type=int, default=1, help="the producers' stream")
    parser.add_argument("--users-seed", type=int, default=17,
                        help="synthetic users' seed and MovieLens embedding seed")
    parser.add_argument("--out", type=Path, help="folder for the tables and histories (CSV)")
    parser.add_argument("--markdown", action="store_true", help="print markdown tables")
    parser.add_argument("--quick", action="store_true",
                        help="300 synthetic users, d=4, n=5, 6 epochs (for tests)")
    args = parser.parse_args()
    if not 0.0 <= args.quantile <= 1.0:
        parser.error(f"--quantile must be in [0, 1], got {args.quantile}")
    return args


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    models = dynamics(args.exposure_rate, args.engagement_rate)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    for setting in settings(args):
        w = outside_option(setting, args.quantile)
        table, histories = compare(setting, models, w, args.patience)
        users = setting.users
        print(f"\n{setting.name}: K={users.shape[0]} users, d={users.shape[1]}, "
              f"n={setting.n_producers} producers, {setting.epochs} epochs of "
              f"{setting.moves_per_epoch} moves, producers' seed {setting.seed}")
        print(f"users' outside option w = {w:.4f} (the {args.quantile:g} quantile of the "
              f"users' utility in epoch 1 under softmax T=1, static users), patience "
              f"P = {args.patience}")
        print(f"user welfare: per starting user, mean over the epochs; homogenization, content "
              f"features, retention: in the last epoch (homogenization at the start: "
              f"{table['homogenization (start)'].iloc[0]:.4f})")
        shown = printable(table)
        print(markdown(shown) if args.markdown else shown.to_string(index=False))
        if args.out is not None:
            slug = setting.name.split(" (")[0].lower().replace(" ", "-")
            table.assign(user_outside_option=w).to_csv(args.out / f"{slug}.csv", index=False)
            histories.to_csv(args.out / f"{slug}-history.csv", index=False)
    print(f"\n({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
