"""Where the vertex heuristic fails: learned embedding producers vs exact play, over seeds.

For each instance of ``agents.rl.heuristic.INSTANCES`` (small temperature, two
producers, mixes of features can beat every basis vector) the script computes,
each judged by NashConv over the whole strategy set (``recgym.solvers.ExactSolver``,
a lower bound where the continuous search is not certified):

* the paper's vertex dynamics from ``--seeds`` (their distinct end points);
* continuous best-response dynamics from each vertex end point and from
  ``--seeds`` random interior profiles (Dirichlet starts);
* PPO producers with embedding actions for ``--steps`` agent-steps per seed, for
  each learner of ``--learners`` (``independent`` or ``shared``, with the
  ``mixture`` or ``gaussian`` box policy).

It prints one line per run as it goes, then per instance and method the
NashConv of every run, how many learned runs end at least as close to a Nash
equilibrium as the vertex dynamics and as the continuous dynamics, and the time
each method's runs took (``benchmarks/timing.py``: minimum and median per run, wall
and CPU, and the ratio against the vertex dynamics). BLAS is limited to
``--blas-threads`` threads (1 by default), torch to one thread.

Usage::

    python benchmarks/bench_heuristic.py --seeds 0 1 2 3 4 --steps 100000
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from functools import partial

import numpy as np
import torch
from timing import Timer, add_blas_argument, blas_threads, clocks, header, rows

from agents.rl.heuristic import (
    INSTANCES,
    Outcome,
    continuous_dynamics,
    learned,
    vertex_dynamics,
)

LEARNERS = ("independent-mixture", "independent-gaussian", "shared-mixture",
            "shared-gaussian")


def line(instance: str, outcome: Outcome, seconds: float) -> str:
    """One run: its NashConv, payoffs and profile, and the seconds it took."""
    profile = "; ".join(" ".join(f"{v:.2f}" for v in row) for row in outcome.profile)
    return (f"  {instance:7} {outcome.method:32} NashConv {outcome.nash_conv:.4f} "
            f"({outcome.nash_conv_relative:6.2%}) payoffs {np.round(outcome.payoffs, 3)} "
            f"[{profile}] {outcome.note} ({seconds:.1f} s)")


def record(instance: str, runs: dict[str, list[Outcome]], timers: dict[str, Timer],
           fn: Callable[[], Outcome], method: str = "", note: str = "") -> None:
    """Time one run ``fn()`` and keep its outcome under ``method`` (default: the outcome's
    own), with ``note`` added to its note; print its line."""
    before = clocks()
    outcome = fn()
    wall, cpu = np.subtract(clocks(), before)
    if note:
        outcome = dataclasses.replace(outcome, note=f"{outcome.note}, {note}")
    method = method or outcome.method
    runs.setdefault(method, []).append(outcome)
    timers.setdefault(method, Timer(method, unit="run")).add(wall, cpu)
    print(line(instance, outcome, wall), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", nargs="+", default=list(INSTANCES),
                        choices=list(INSTANCES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int, default=100_000, help="agent-steps per PPO run")
    parser.add_argument("--learners", nargs="+", default=["independent-mixture",
                                                           "independent-gaussian"],
                        choices=LEARNERS)
    add_blas_argument(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with blas_threads(args.blas_threads):
        run(args)


def run(args: argparse.Namespace) -> None:
    """Every method on every instance, then the summary of the module docstring."""
    print(header())
    summary = []
    for name in args.instances:
        instance = INSTANCES[name]
        game = instance.game()
        runs: dict[str, list[Outcome]] = {}
        timers: dict[str, Timer] = {}
        for seed in args.seeds:
            record(name, runs, timers, partial(vertex_dynamics, game, seed),
                   "vertex dynamics")
        ends = {tuple(o.profile.argmax(axis=1)): o.profile for o in runs["vertex dynamics"]}
        rng = np.random.default_rng(0)
        starts = [("from the vertex end point", p) for p in ends.values()] + [
            ("from a random profile", rng.dirichlet(np.ones(instance.dim),
                                                    size=instance.n_producers))
            for _ in args.seeds]
        for label, start in starts:
            record(name, runs, timers, partial(continuous_dynamics, game, start),
                   "continuous best responses", label)
        for learner in args.learners:
            mode, box_policy = learner.split("-")
            for seed in args.seeds:
                record(name, runs, timers, partial(learned, instance, args.steps, seed=seed,
                                                   mode=mode, box_policy=box_policy))
        summary.append((name, runs, timers))

    print()
    for name, runs, timers in summary:
        vertex = min(o.nash_conv for o in runs["vertex dynamics"])
        continuous = min(o.nash_conv for o in runs["continuous best responses"])
        print(f"{name}: NashConv over the strategy set (sum over users; lower bounds), per run")
        for method, outcomes in runs.items():
            values = [o.nash_conv for o in outcomes]
            relative = [o.nash_conv_relative for o in outcomes]
            text = f"  {method:32} {' '.join(f'{v:.4f}' for v in values)}  (median " \
                   f"{np.median(values):.4f}, {np.median(relative):.2%})"
            if method.startswith("PPO"):
                text += (f"; {sum(v <= vertex + 1e-9 for v in values)}/{len(values)} at most "
                         f"the vertex dynamics' best {vertex:.4f}, "
                         f"{sum(v <= continuous + 1e-9 for v in values)}/{len(values)} at "
                         f"most the continuous dynamics' best {continuous:.4f}")
            print(text)
        print(f"{name}: time per run")
        print(rows(list(timers.values()), timers["vertex dynamics"]))


if __name__ == "__main__":
    main()
