"""Benchmark of information sharing and of creators who leave, on MovieLens-100k.

1. ``recgym.information.evaluate``: d = 10, n = 10, 5 epsilons x 20 runs plus the
   three baselines (full, exact, no information) on the same runs, each row with
   the true game's NashConv over the strategy set: wall time against the goal of
   ``GOAL_SECONDS`` (2 jobs: the runs are split between two worker processes).
2. The dynamics with exits against the dynamics without, on the same runs:
   (a) an outside option so small that nobody leaves (the same trajectories: the
   cost of checking exits), (b) outside options where producers do leave, per
   iteration (trajectories differ, so time per iteration is compared). Goal: at
   most ``GOAL_EXIT_RATIO`` times the time without, on the minimum CPU time of
   ``--repeat`` timings in turn.

Times are printed by ``benchmarks/timing.py`` (minimum and median, wall and this
process's CPU time: the evaluation's CPU time is spent in its workers, so only its
wall time counts). BLAS is limited to ``--blas-threads`` threads (1 by default), in the
workers too.

    python benchmarks/bench_information.py --data PATH
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from timing import (
    Timer,
    add_blas_argument,
    blas_threads,
    goal,
    header,
    interleave,
    measure,
    ratio,
    rows,
)

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


def _dynamics(users: np.ndarray, option: float, runs: range) -> tuple[int, int]:
    """Iterations and exits of the dynamics over ``runs`` at ``option``."""
    iterations = exits = 0
    for rule in ("softmax:temperature=0.1", "softmax:temperature=1", "linear"):
        game = recgym.EngagementGame(users, 10, rule, outside_option=option)
        for run in runs:
            result = best_response_dynamics(game, np.random.RandomState(run))
            iterations += result.iterations + 1
            exits += len(result.exits)
    return iterations, exits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="MovieLens-100k folder or u.data (default $RECGYM_DATA)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timings of each dynamics variant (part 2)")
    add_blas_argument(parser)
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1, got {args.repeat}")
    with blas_threads(args.blas_threads):
        run(args)


def run(args: argparse.Namespace) -> None:
    """The two measurements of the module docstring."""
    users = recgym.datasets.movielens_100k(10, 17, path=args.data)
    print(f"MovieLens-100k: K={len(users)}, d=10, n=10; {args.jobs} job(s)")
    print(header())
    runs = list(range(1, 21))
    halves = [tuple(runs[i::args.jobs]) for i in range(args.jobs)]

    def evaluate() -> int:
        with LocalBackend(args.jobs) as backend:
            return sum(count for _, count in backend.map_unordered(
                _evaluate, [(users, h) for h in halves]))

    evaluated = Timer(f"information ({args.jobs} job(s))")
    count = measure(evaluated, evaluate, repeat=1, warmup=0)
    print(f"information: {count} rows ({len(EPSILONS)} epsilons x {len(runs)} runs + 3 "
          f"baselines per run)")
    print(rows([evaluated]))
    print(goal("information wall time", evaluated.min(), GOAL_SECONDS, unit=" s"))

    trials = range(1, 41)
    base, checked, leaving = (Timer(name) for name in (
        "without exits", "an option nobody falls below", "option 0.015"))
    (base_iterations, _), (checked_iterations, none), (leaving_iterations, exits) = interleave(
        [(base, lambda: _dynamics(users, 0.0, trials)),
         (checked, lambda: _dynamics(users, 1e-12, trials)),
         (leaving, lambda: _dynamics(users, 0.015, trials))], args.repeat, warmup=0)
    assert checked_iterations == base_iterations and none == 0, "a tiny option changed runs"
    # Time per iteration: the runs with exits take other trajectories.
    for timer, iterations in ((base, base_iterations), (checked, checked_iterations),
                              (leaving, leaving_iterations)):
        timer.per, timer.unit = iterations, "iteration"
    print(f"dynamics, {len(trials)} runs x 3 rules: {base_iterations} iterations without "
          f"exits and with an option nobody falls below; option 0.015: {exits} exits, "
          f"{leaving_iterations} iterations")
    print(rows([base, checked, leaving], base))
    print(goal("with exits / without, per iteration (minimum CPU)",
               max(ratio(checked, base, "cpu"), ratio(leaving, base, "cpu")), GOAL_EXIT_RATIO))


if __name__ == "__main__":
    main()
