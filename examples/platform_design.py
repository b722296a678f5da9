"""The platform's side: which serving rule and reward mechanism should a platform choose?

Computes the README's table on MovieLens-100k (d = 10, n = 10 producers): for
softmax over a temperature grid, linear and top-k serving, with each of the three
payoffs (engagement, exposure, marginal), the user welfare, the worst-off
producer and the Nash welfare of the producers at the worst and best equilibria
the paper's dynamics reach from several runs, next to the upper bound on user
welfare that no rule, payoff or profile can beat. Every number is computed here.

    python examples/platform_design.py --data PATH          # MovieLens-100k (about 2 min)
    python examples/platform_design.py --quick              # synthetic users, seconds

``--data`` is the MovieLens-100k folder or ``u.data`` file (default ``$RECGYM_DATA``;
``recgym download movielens-100k`` fetches it).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

import recgym
from recgym import design, welfare

SCFS = ["user_welfare", "producer_min", "alpha_fair:alpha=1"]
PAYOFFS = ["engagement", "exposure", "marginal"]


def candidates(temperatures: np.ndarray) -> list[design.Candidate]:
    """Softmax at every temperature, linear and top-2, each with every payoff."""
    rules = [f"softmax:temperature={float(t)!r}" for t in temperatures] + ["linear",
                                                                     "topk:k=2,temperature=0.1"]
    return [design.Candidate(rule, payoff) for rule in rules for payoff in PAYOFFS]


def table(users: np.ndarray, n_producers: int, temperatures: np.ndarray, runs: list[int]
          ) -> pd.DataFrame:
    """One row per candidate: each SCF at its worst and best equilibrium (per user)."""
    frame = design.evaluate(users, n_producers, candidates(temperatures), SCFS, runs,
                            nash_conv=False)
    summary = design.summarize(frame, SCFS)
    rows = []
    for row in summary.itertuples(index=False):
        values = row._asdict()
        rule = "softmax T=" + f"{values['temperature']:.3g}" if values["rule"] == "softmax" \
            else ("top-2 T=0.1" if values["rule"] == "topk" else values["rule"])
        rows.append({"rule": rule, "payoff": values["payoff"],
                     "user welfare": _range(values, "user_welfare"),
                     "worst-off producer (x1000)": _range(values, "producer_min", scale=1000),
                     "Nash welfare": _range(values, "alpha_fair"),
                     "equilibria": values["equilibria"],
                     "not converged": values["not_converged"],
                     "worst user welfare": values["user_welfare_worst"]})
    return pd.DataFrame(rows)


def _range(values: dict, scf: str, scale: float = 1.0) -> str:
    """``worst`` or ``worst..best`` over the distinct equilibria; ``-`` if none converged."""
    worst, best = values[f"{scf}_worst"] * scale, values[f"{scf}_best"] * scale
    if np.isnan(worst):
        return "-"
    return f"{worst:.4f}" if np.isclose(worst, best) else f"{worst:.4f}..{best:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="MovieLens-100k folder or u.data (default $RECGYM_DATA)")
    parser.add_argument("--quick", action="store_true",
                        help="synthetic users, 3 temperatures, 2 runs (for tests)")
    args = parser.parse_args()
    start = time.perf_counter()
    if args.quick:
        users = recgym.users.synthetic_skewed(300, 4, seed=17)
        temperatures, runs, n, name = np.geomspace(0.01, 1, 3), [1, 2], 5, "synthetic skewed"
    else:
        users = recgym.datasets.movielens_100k(10, 17, path=args.data)
        temperatures, runs, n, name = np.geomspace(0.01, 100, 9), list(range(1, 11)), 10, \
            "MovieLens-100k"
    result = table(users, n, temperatures, runs)
    bound = welfare.user_welfare_upper_bound(users)
    print(f"{name}: K={len(users)} users, d={users.shape[1]}, n={n} producers, "
          f"{len(runs)} runs per candidate. Per-user values at the worst..best distinct "
          "equilibrium (one value: they agree); producers' SCFs are in the payoff's own "
          "units (engagement, exposure or marginal welfare); Nash welfare is the sum of "
          "the producers' log payoffs per user.")
    shown = result.drop(columns=["worst user welfare"])
    print(shown.to_markdown(index=False) if _has_tabulate() else shown.to_string(index=False))
    print(f"\nupper bound on user welfare (every user served its best feature): {bound:.4f}")
    best = result.loc[result["worst user welfare"].idxmax()]
    print(f"best worst-equilibrium user welfare: {best['rule']} / {best['payoff']}, "
          f"{best['worst user welfare']:.4f} = {best['worst user welfare'] / bound:.1%} of the "
          f"bound ({time.perf_counter() - start:.1f} s)")


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
