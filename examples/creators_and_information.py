"""Creators who leave, and demand shared under differential privacy.

Computes the README's two tables on MovieLens-100k (d = 10, n = 10 producers):

1. Producers retained and user welfare at the end of the paper's dynamics against
   the producers' outside option, for three serving rules, each without and with
   an exposure floor (means over runs).
2. User welfare and the true game's NashConv (the regret misinformation causes)
   against the privacy parameter epsilon of the released feature demand, next to
   full information, the exact release and no information (means over runs).

Every number is computed here.

    python examples/creators_and_information.py --data PATH   # MovieLens-100k
    python examples/creators_and_information.py --quick       # synthetic users, seconds
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import pandas as pd

import recgym
from recgym import design, information

RULES = ("softmax:temperature=0.1", "softmax:temperature=1", "linear")


def exits_table(users: np.ndarray, n: int, options: list[float], floor: float,
                runs: list[int]) -> pd.DataFrame:
    """Producers retained and user welfare per rule, floor and outside option."""
    rows = []
    for rule in RULES:
        for eta in (0.0, floor):
            candidate = design.Candidate(recgym.make_rule(rule, floor=eta or None))
            for option in options:
                frame = design.evaluate(users, n, [candidate], ["user_welfare"], runs,
                                        outside_option=option, nash_conv=False)
                rows.append({"rule": rule, "floor": eta, "outside option": option,
                             "producers retained": frame["producers_retained"].mean(),
                             "user welfare": frame["user_welfare"].mean()})
    table = pd.DataFrame(rows)
    return table.pivot_table(index=["rule", "floor"], columns="outside option",
                             values=["producers retained", "user welfare"], sort=False)


def information_table(users: np.ndarray, n: int, epsilons: list[float], runs: list[int]
                      ) -> pd.DataFrame:
    """Welfare and regret against epsilon, with the baselines (means over runs)."""
    frame = information.evaluate(users, n, "softmax:temperature=0.1", epsilons, runs)
    table = frame.groupby(["setting", "epsilon"], dropna=False, sort=False)[
        ["user_welfare", "nash_conv", "tv_to_full_information"]].mean().reset_index()
    table["epsilon"] = [("-" if math.isnan(e) else f"{e:g}") for e in table["epsilon"]]
    return table.rename(columns={"nash_conv": "regret (true NashConv)",
                                 "tv_to_full_information": "TV to full information"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="MovieLens-100k folder or u.data (default $RECGYM_DATA)")
    parser.add_argument("--quick", action="store_true", help="synthetic users (for tests)")
    args = parser.parse_args()
    start = time.perf_counter()
    if args.quick:
        users, n, runs = recgym.users.synthetic_skewed(300, 4, seed=17), 5, [1, 2]
        options, epsilons, name = [0.0, 0.05], [0.1, 10.0], "synthetic skewed"
    else:
        users, n, runs = recgym.datasets.movielens_100k(10, 17, path=args.data), 10, \
            list(range(1, 11))
        options, epsilons, name = [0.0, 0.01, 0.012, 0.015, 0.02], [0.01, 0.1, 1.0, 10.0], \
            "MovieLens-100k"
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        print(f"{name}: K={len(users)}, d={users.shape[1]}, n={n}, {len(runs)} runs; "
              "outside options and welfare per user")
        print("\n1. creators who leave (floor 0 and 0.2):")
        print(exits_table(users, n, options, 0.2, runs).round(4).to_string())
        print("\n2. feature demand released with epsilon-DP (softmax T = 0.1):")
        print(information_table(users, n, epsilons, runs).round(5).to_string(index=False))
    print(f"\n({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
