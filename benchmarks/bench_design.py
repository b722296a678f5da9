"""Benchmark of the platform's design search on MovieLens-100k.

Measures, in one process (workers from ``--jobs``):

1. The design search of the platform issue: d = 10, n = 10, 25 softmax
   temperatures (0.01..100, log grid) x 3 payoffs (engagement, exposure, marginal)
   x 10 runs = 750 equilibria, each with its NashConv over the whole strategy set
   and three SCFs; equilibria per second and the wall time against the goal of
   ``GOAL_SECONDS`` with 2 jobs.
2. The marginal payoff's dynamics against the engagement dynamics on the same runs
   (same users, rules and random streams, no NashConv), ``--repeat`` times in turn:
   the ratio of their minimum CPU times, against the goal of at most
   ``GOAL_MARGINAL_RATIO``.

Times are printed by ``benchmarks/timing.py`` (minimum and median, wall and this
process's CPU time: the design search's CPU time is spent in its workers, so only its
wall time counts). BLAS is limited to ``--blas-threads`` threads (1 by default), in the
workers too.

    python benchmarks/bench_design.py --data PATH --jobs 2

``--data`` is the MovieLens-100k folder or ``u.data`` (default ``$RECGYM_DATA``).
"""

from __future__ import annotations

import argparse

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


def _dynamics(users: np.ndarray, payoff: str, temperatures: np.ndarray,
              runs: tuple[int, ...]) -> None:
    """The dynamics of every run at every temperature under ``payoff``."""
    for t in temperatures:
        game = recgym.EngagementGame(users, 10, "softmax", temperature=float(t), payoff=payoff)
        for run in runs:
            best_response_dynamics(game, np.random.RandomState(run))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="MovieLens-100k folder or u.data (default $RECGYM_DATA)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--temperatures", type=int, default=25, help="grid points")
    parser.add_argument("--runs", type=int, default=10, help="runs per candidate")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timings of each payoff's dynamics (part 2)")
    add_blas_argument(parser)
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1, got {args.repeat}")
    with blas_threads(args.blas_threads):
        run(args)


def run(args: argparse.Namespace) -> None:
    """The two measurements of the module docstring."""
    users = recgym.datasets.movielens_100k(10, 17, path=args.data)
    temperatures = np.geomspace(0.01, 100, args.temperatures)
    runs = tuple(range(1, args.runs + 1))
    candidates = [design.Candidate(f"softmax:temperature={float(t)!r}", p)
                  for t in temperatures for p in PAYOFFS]
    print(f"MovieLens-100k: K={len(users)}, d=10, n=10; {len(candidates)} candidates x "
          f"{len(runs)} runs = {len(candidates) * len(runs)} equilibria with NashConv; "
          f"{args.jobs} job(s)")
    print(header())

    def search() -> int:
        done = 0
        with LocalBackend(args.jobs) as backend, tqdm(total=len(candidates) * len(runs),
                                                      unit="equilibrium") as bar:
            for _, count in backend.map_unordered(_evaluate,
                                                  [(users, c, runs) for c in candidates]):
                done += count
                bar.update(count)
        return done

    searched = Timer(f"design search ({args.jobs} job(s))", len(candidates) * len(runs),
                     "equilibrium")
    done = measure(searched, search, repeat=1, warmup=0)
    print(rows([searched]))
    if done != searched.per:
        raise AssertionError(f"the search evaluated {done} equilibria, not {searched.per}")
    if (args.jobs, args.temperatures, args.runs) == (2, 25, 10):
        print(goal("design search wall time", searched.min() * searched.per, GOAL_SECONDS,
                   unit=" s"))

    n_runs = len(temperatures) * len(runs)
    base = Timer("engagement dynamics", n_runs, "run")
    marginal = Timer("marginal dynamics", n_runs, "run")
    interleave([(base, lambda: _dynamics(users, "engagement", temperatures, runs)),
                (marginal, lambda: _dynamics(users, "marginal", temperatures, runs))],
               args.repeat, warmup=0)
    print(f"dynamics on the same {n_runs} runs, without NashConv:")
    print(rows([base, marginal], base))
    print(goal("marginal / engagement (minimum CPU)", ratio(marginal, base, "cpu"),
               GOAL_MARGINAL_RATIO))


if __name__ == "__main__":
    main()
