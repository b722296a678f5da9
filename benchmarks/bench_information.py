"""Benchmark of information sharing and of creators who leave, on MovieLens-100k.

1. ``recgym.information.evaluate``: d = 10, n = 10, 5 epsilons x 20 runs plus the
   three baselines (full, exact, no information) on the same runs, each row with
   the true game's NashConv over the strategy set: wall time against the goal of
   ``GOAL_SECONDS`` (2 jobs: the runs are split between two worker processes).
2. The dynamics with exits against the dynamics without, on the same runs:
   (a) an outside option so small that nobody leaves (the same trajectories: the
   cost of checking exits), (b) outside options where producers do leave, per
   iteration (trajectories differ, so time per iteration is compared). Goal: at
   most ``GOAL_EXIT_RATIO`` times the time without.

    python benchmarks/bench_information.py --data PATH
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np

import recgym
from recgym import information
from recgym.experiments.backends import LocalBackend
from recgym.solvers import best_response_dynamics

GOAL_SECONDS = 20.0
GOAL_EXIT_RATIO = 1.5
EPSILONS = (0.01, 0.1, 1.0, 10.0, math.inf)


def _evaluate(task: tuple[np.ndarray, tuple[int, ...]]) -> int:
    users, runs = task
    return len(information.evaluate(users, 10, "softmax:temperature=0.1", EPSILONS, runs))


def _dynamics(users: np.ndarray, option: float, runs: range) -> tuple[float, int, int]:
    """CPU seconds, iterations and exits of the dynamics over ``runs`` at ``option``."""
    iterations = exits = 0
    start = time.process_time()
    for rule in ("softmax:temperature=0.1", "softmax:temperature=1", "linear"):
        game = recgym.EngagementGame(users, 10, rule, outside_option=option)
        for run in runs:
            result = best_response_dynamics(game, np.random.RandomState(run))
            iterations += result.iterations + 1
            exits += len(result.exits)
    return time.process_time() - start, iterations, exits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="MovieLens-100k folder or u.data (default $RECGYM_DATA)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    args = parser.parse_args()
    users = recgym.datasets.movielens_100k(10, 17, path=args.data)
    print(f"MovieLens-100k: K={len(users)}, d=10, n=10; {args.jobs} job(s), "
          f"{len(os.sched_getaffinity(0))} CPU(s), load {os.getloadavg()[0]:.1f}")
    runs = list(range(1, 21))
    halves = [tuple(runs[i::args.jobs]) for i in range(args.jobs)]
    start = time.perf_counter()
    with LocalBackend(args.jobs) as backend:
        rows = sum(count for _, count in backend.map_unordered(_evaluate,
                                                               [(users, h) for h in halves]))
    wall = time.perf_counter() - start
    print(f"information: {rows} rows ({len(EPSILONS)} epsilons x {len(runs)} runs + 3 baselines "
          f"per run) in {wall:.1f} s (goal <= {GOAL_SECONDS:.0f} s: "
          f"{'met' if wall <= GOAL_SECONDS else 'NOT met'})")
    trials = range(1, 41)
    base, base_iterations, _ = _dynamics(users, 0.0, trials)
    checked, checked_iterations, none = _dynamics(users, 1e-12, trials)
    assert checked_iterations == base_iterations and none == 0, "a tiny option changed runs"
    leaving, leaving_iterations, exits = _dynamics(users, 0.015, trials)
    ratio = checked / base
    per_iteration = (leaving / leaving_iterations) / (base / base_iterations)
    print(f"dynamics, {len(trials)} runs x 3 rules: without exits {base:.2f} s CPU "
          f"({base_iterations} iterations); with an option nobody falls below {checked:.2f} s "
          f"(ratio {ratio:.2f}); with option 0.015 ({exits} exits) {leaving:.2f} s for "
          f"{leaving_iterations} iterations, {per_iteration:.2f} x the time per iteration "
          f"(goal <= {GOAL_EXIT_RATIO:g}: "
          f"{'met' if max(ratio, per_iteration) <= GOAL_EXIT_RATIO else 'NOT met'})")


if __name__ == "__main__":
    main()
