"""Benchmark of the platform's design search on MovieLens-100k.

Measures, in one process (workers from ``--jobs``):

1. The design search of the platform issue: d = 10, n = 10, 25 softmax
   temperatures (0.01..100, log grid) x 3 payoffs (engagement, exposure, marginal)
   x 10 runs = 750 equilibria, each with its NashConv over the whole strategy set
   and three SCFs; equilibria per second and the wall time against the goal of
   ``GOAL_SECONDS`` with 2 jobs.
2. The marginal payoff's dynamics against the engagement dynamics on the same runs
   (same users, rules and random streams, no NashConv): the time ratio, against
   the goal of at most ``GOAL_MARGINAL_RATIO``.

    python benchmarks/bench_design.py --data PATH --jobs 2

``--data`` is the MovieLens-100k folder or ``u.data`` (default ``$RECGYM_DATA``).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from tqdm import tqdm

import recgym
from recgym import design
from recgym.experiments.backends import LocalBackend
from recgym.solvers import best_response_dynamics

GOAL_SECONDS = 30.0
GOAL_MARGINAL_RATIO = 3.0
PAYOFFS = ("engagement", "exposure", "marginal")
SCFS = ("user_welfare", "producer_min", "alpha_fair")


def _evaluate(task: tuple[np.ndarray, design.Candidate, tuple[int, ...]]) -> int:
    users, candidate, runs = task
    rows = design.evaluate_candidate(users, 10, candidate, [recgym.welfare.parse(s)
                                                            for s in SCFS], runs)
    return len(rows)


def _dynamics_seconds(users: np.ndarray, payoff: str, temperatures: np.ndarray,
                      runs: tuple[int, ...]) -> float:
    start = time.process_time()
    for t in temperatures:
        game = recgym.EngagementGame(users, 10, "softmax", temperature=float(t), payoff=payoff)
        for run in runs:
            best_response_dynamics(game, np.random.RandomState(run))
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="MovieLens-100k folder or u.data (default $RECGYM_DATA)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--temperatures", type=int, default=25, help="grid points")
    parser.add_argument("--runs", type=int, default=10, help="runs per candidate")
    args = parser.parse_args()
    users = recgym.datasets.movielens_100k(10, 17, path=args.data)
    temperatures = np.geomspace(0.01, 100, args.temperatures)
    runs = tuple(range(1, args.runs + 1))
    candidates = [design.Candidate(f"softmax:temperature={float(t)!r}", p)
                  for t in temperatures for p in PAYOFFS]
    print(f"MovieLens-100k: K={len(users)}, d=10, n=10; {len(candidates)} candidates x "
          f"{len(runs)} runs = {len(candidates) * len(runs)} equilibria with NashConv; "
          f"{args.jobs} job(s), {len(os.sched_getaffinity(0))} CPU(s), load "
          f"{os.getloadavg()[0]:.1f}")
    start = time.perf_counter()
    done = 0
    with LocalBackend(args.jobs) as backend, tqdm(total=len(candidates) * len(runs),
                                                  unit="equilibrium") as bar:
        for _, count in backend.map_unordered(_evaluate, [(users, c, runs) for c in candidates]):
            done += count
            bar.update(count)
    wall = time.perf_counter() - start
    verdict = "met" if wall <= GOAL_SECONDS else "NOT met"
    print(f"design search: {done} equilibria in {wall:.1f} s = {done / wall:.1f} equilibria/s "
          f"(goal <= {GOAL_SECONDS:.0f} s with 2 jobs: {verdict})")
    base = _dynamics_seconds(users, "engagement", temperatures, runs)
    marginal = _dynamics_seconds(users, "marginal", temperatures, runs)
    ratio = marginal / base
    print(f"dynamics CPU time on the same {len(temperatures) * len(runs)} runs: engagement "
          f"{base:.2f} s, marginal {marginal:.2f} s; ratio {ratio:.2f} (goal <= "
          f"{GOAL_MARGINAL_RATIO:g}: {'met' if ratio <= GOAL_MARGINAL_RATIO else 'NOT met'})")


if __name__ == "__main__":
    main()
