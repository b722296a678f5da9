"""Speed benchmark of the paper's best-response dynamics (docs/model.md section 5).

Two modes:

* **default**: runs the naive baseline (``naive_dynamics.py``, ``d + 1`` full
  ``K x n`` serving matrices per producer checked, the way the paper's original
  code worked) and
  ``recgym.solvers.dynamics.best_response_dynamics`` on the same users and the same
  ``RandomState`` seed, in one process; checks that both give identical results
  (converged, iterations, counts, directions) and prints both wall times and the
  speed ratio baseline / project against the goal of ``SPEEDUP_GOAL``.
* ``--amazon-scale``: runs only the project's dynamics at Amazon Digital Music
  scale (``AMAZON_USERS`` synthetic uniform users, d = 20, n = 100, softmax T = 1)
  and prints its wall time against ``AMAZON_SECONDS_GOAL`` seconds and its peak
  traced memory as a multiple of the ``(K, d)`` user matrix (memory must stay
  ``O(K d)``: a ``K x n x d`` array would be ``n`` = 100 times the user matrix).

Threads. BLAS (OpenBLAS under numpy) is limited to ``--blas-threads`` threads,
1 by default, with ``threadpoolctl`` (``benchmarks/timing.py``); ``--blas-threads 0``
leaves the library's default. On a busy machine a multi-threaded BLAS can make the baseline's small
``(K, d) @ (d, n)`` products tens of times slower, which would inflate the ratio.
The elementwise numpy work is single-threaded either way. The CPUs this process
may use, the BLAS pools and whether torch is loaded are printed; for a strict
one-CPU figure add ``taskset -c 0`` in front of the command. Times are the minimum
and median over the runs, wall and CPU (``time.process_time``); the ratio is the
project's time over the baseline's, measured in the same process.

Examples
--------
``python benchmarks/bench_dynamics.py``                  (K = 10,000; the baseline builds
                                                         about 10^4 serving matrices of
                                                         10^6 entries: minutes)
``python benchmarks/bench_dynamics.py --quick``          (K = 2,000, n = 50 smoke run)
``python benchmarks/bench_dynamics.py --amazon-scale``
"""

from __future__ import annotations

import argparse
import sys
import tracemalloc
from collections.abc import Sequence

import numpy as np
from naive_dynamics import naive_dynamics
from timing import Timer, add_blas_argument, blas_threads, goal, header, ratio, rows
from tqdm import tqdm

try:
    import resource  # POSIX only: peak RSS
except ImportError:
    resource = None

from recgym.game import EngagementGame
from recgym.rules import RULES
from recgym.solvers import best_response_dynamics
from recgym.users import synthetic_uniform

SPEEDUP_GOAL = 1000.0  # baseline time / project time at GOAL_CONFIG
GOAL_CONFIG = {"n_users": 10_000, "dim": 20, "n_producers": 100, "rule": "softmax",
               "temperature": 1.0}  # the configuration the speed-ratio goal is set for
AMAZON_USERS = 714_000  # users in the paper's Amazon Digital Music embedding
AMAZON_SECONDS_GOAL = 20.0  # wall time of one run at Amazon scale
QUICK_USERS = 2_000  # --quick: K and n small enough for a CI smoke run (< 30 s)
QUICK_PRODUCERS = 50
COMPARED_FIELDS = ("converged", "iterations", "counts", "directions")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--n-users", type=int, default=10_000, help="K, synthetic uniform users")
    parser.add_argument("--dim", type=int, default=20, help="d, embedding dimension")
    parser.add_argument("--n-producers", type=int, default=100, help="n, producers")
    parser.add_argument("--rule", choices=RULES.names, default="softmax", help="serving rule")
    parser.add_argument("--temperature", type=float, default=1.0, help="softmax/topk T")
    parser.add_argument("--k", type=int, default=None, help="top-k: producers served per user")
    parser.add_argument("--seed", type=int, default=17, help="user embedding seed")
    parser.add_argument("--run-seed", type=int, default=1, help="RandomState seed of the run")
    parser.add_argument("--max-iter", type=int, default=500, help="iteration cap")
    add_blas_argument(parser)
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of the project's dynamics; the minimum and median are "
                             "reported")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar for the baseline (on stderr)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true",
                      help=f"smoke run with K={QUICK_USERS:,}, n={QUICK_PRODUCERS} (overrides "
                      "--n-users and --n-producers)")
    mode.add_argument("--amazon-scale", action="store_true",
                      help=f"project only, K={AMAZON_USERS:,}, d=20, n=100, softmax T=1")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error(f"--repeat must be >= 1, got {args.repeat}")
    if args.quick:
        args.n_users, args.n_producers = QUICK_USERS, QUICK_PRODUCERS
    if args.amazon_scale:
        args.n_users, args.dim, args.n_producers = AMAZON_USERS, 20, 100
        args.rule, args.temperature, args.k = "softmax", 1.0, None
    return args


def make_game(args: argparse.Namespace) -> EngagementGame:
    """The game of the configuration: synthetic uniform users (paper-exact stream)."""
    users = synthetic_uniform(args.n_users, args.dim, seed=args.seed)
    temperature = args.temperature if args.rule in ("softmax", "topk") else None
    return EngagementGame(users, args.n_producers, args.rule, temperature, args.k)


def differences(baseline: object, project: object) -> list[str]:
    """Fields of ``COMPARED_FIELDS`` on which the two results differ, with both values."""
    out = []
    for name in COMPARED_FIELDS:
        a, b = getattr(baseline, name), getattr(project, name)
        if not np.array_equal(np.asarray(a), np.asarray(b)):
            out.append(f"{name}: baseline {a!r} != project {b!r}")
    return out


def run_project(game: EngagementGame, args: argparse.Namespace) -> tuple[object, Timer]:
    """The project's dynamics ``args.repeat`` times: its result and their timings.

    Every run must give the same result.
    """
    timer = Timer("project (recgym.solvers.dynamics)")
    result = None
    for _ in range(args.repeat):
        rng = np.random.RandomState(args.run_seed)
        out = timer.time(lambda r=rng: best_response_dynamics(game, r, args.max_iter))
        if result is None:
            result = out
        elif differences(result, out):
            raise RuntimeError("the project's dynamics is not deterministic: "
                               + "; ".join(differences(result, out)))
    return result, timer


def print_header(game: EngagementGame, args: argparse.Namespace) -> None:
    """The configuration, the machine, its load and the BLAS threads."""
    print(f"{game}, seed={args.seed}, run_seed={args.run_seed}, max_iter={args.max_iter}")
    print(header())


def print_result(result: object) -> None:
    """Outcome of the run."""
    print(f"result: converged={result.converged}, iterations={result.iterations}, "
          f"counts={result.counts.tolist()}")


def compare(args: argparse.Namespace) -> int:
    """Baseline against project on identical inputs; exit status 1 if results differ."""
    game = make_game(args)
    print_header(game, args)
    baseline = Timer("naive baseline")  # d+1 full K x n serving matrices per check
    with tqdm(desc="baseline (naive dynamics)", unit="iteration", file=sys.stderr,
              disable=args.no_progress) as bar:
        expected = baseline.time(lambda: naive_dynamics(
            game, np.random.RandomState(args.run_seed), args.max_iter,
            on_iteration=lambda _: bar.update()))
    result, project = run_project(game, args)
    print_result(result)
    diffs = differences(expected, result)
    if diffs:
        print("MISMATCH between baseline and project:\n  " + "\n  ".join(diffs))
        return 1
    print(f"identical results ({', '.join(COMPARED_FIELDS)})")
    print(rows([baseline, project], baseline))
    if all(getattr(args, key) == value for key, value in GOAL_CONFIG.items()):
        print(goal("speed-up baseline / project (wall)", ratio(baseline, project),
                   SPEEDUP_GOAL, at_most=False))
    return 0


def amazon_scale(args: argparse.Namespace) -> int:
    """The project's dynamics alone at Amazon scale: wall time and peak memory."""
    game = make_game(args)
    print_header(game, args)
    result, project = run_project(game, args)
    print_result(result)
    print(rows([project]))
    print(goal("wall time of the fastest run", project.min(), AMAZON_SECONDS_GOAL, unit=" s"))

    # Memory: one more run, traced (tracing is kept out of the timed runs).
    # Only allocations made during the dynamics count, not the users themselves.
    tracemalloc.start()
    traced = best_response_dynamics(game, np.random.RandomState(args.run_seed), args.max_iter)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    if differences(result, traced):
        raise RuntimeError("traced run differs: " + "; ".join(differences(result, traced)))
    user_bytes = game.users.nbytes
    knd_bytes = game.n_users * game.n_producers * game.dim * np.dtype(np.float64).itemsize
    print(f"user matrix (K, d): {user_bytes / 2**20:.1f} MiB; peak traced allocation during "
          f"the dynamics: {peak / 2**20:.1f} MiB = {peak / user_bytes:.2f}x the user matrix "
          f"(a K x n x d float64 array alone would be {knd_bytes / user_bytes:.0f}x)")
    if resource is not None:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
        print(f"process peak RSS (whole process: interpreter, user generation, dynamics): "
              f"{rss / 2**20:.1f} MiB = {rss / user_bytes:.2f}x the user matrix")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    run = amazon_scale if args.amazon_scale else compare
    with blas_threads(args.blas_threads):
        return run(args)


if __name__ == "__main__":
    sys.exit(main())
