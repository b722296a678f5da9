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
equilibrium as the vertex dynamics and as the continuous dynamics, and the
seconds each method took (this process, wall clock).

Usage::

    python benchmarks/bench_heuristic.py --seeds 0 1 2 3 4 --steps 100000
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

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
    profile = "; ".join(" ".join(f"{v:.2f}" for v in row) for row in outcome.profile)
    return (f"  {instance:7} {outcome.method:32} NashConv {outcome.nash_conv:.4f} "
            f"({outcome.nash_conv_relative:6.2%}) payoffs {np.round(outcome.payoffs, 3)} "
            f"[{profile}] {outcome.note} ({seconds:.1f} s)")


def timed(fn, *args, **kwargs) -> tuple[Outcome, float]:
    start = time.perf_counter()
    outcome = fn(*args, **kwargs)
    return outcome, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", nargs="+", default=list(INSTANCES),
                        choices=list(INSTANCES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int, default=100_000, help="agent-steps per PPO run")
    parser.add_argument("--learners", nargs="+", default=["independent-mixture",
                                                           "independent-gaussian"],
                        choices=LEARNERS)
    args = parser.parse_args()
    torch.set_num_threads(1)

    summary = []
    for name in args.instances:
        instance = INSTANCES[name]
        game = instance.game()
        runs: dict[str, list[tuple[Outcome, float]]] = {}
        for seed in args.seeds:
            runs.setdefault("vertex dynamics", []).append(timed(vertex_dynamics, game, seed))
            print(line(name, *runs["vertex dynamics"][-1]), flush=True)
        ends = {tuple(o.profile.argmax(axis=1)): o.profile for o, _ in runs["vertex dynamics"]}
        rng = np.random.default_rng(0)
        starts = [("from the vertex end point", p) for p in ends.values()] + [
            ("from a random profile", rng.dirichlet(np.ones(instance.dim),
                                                    size=instance.n_producers))
            for _ in args.seeds]
        for label, start in starts:
            outcome, seconds = timed(continuous_dynamics, game, start)
            outcome = Outcome(outcome.method, outcome.profile, outcome.payoffs,
                              outcome.user_welfare, outcome.nash_conv,
                              outcome.nash_conv_relative, outcome.certified,
                              f"{outcome.note}, {label}")
            runs.setdefault("continuous best responses", []).append((outcome, seconds))
            print(line(name, outcome, seconds), flush=True)
        for learner in args.learners:
            mode, box_policy = learner.split("-")
            for seed in args.seeds:
                result = timed(learned, instance, args.steps, seed=seed, mode=mode,
                               box_policy=box_policy)
                runs.setdefault(result[0].method, []).append(result)
                print(line(name, *result), flush=True)
        summary.append((name, runs))

    print()
    for name, runs in summary:
        vertex = min(o.nash_conv for o, _ in runs["vertex dynamics"])
        continuous = min(o.nash_conv for o, _ in runs["continuous best responses"])
        print(f"{name}: NashConv over the strategy set (sum over users; lower bounds), per run")
        for method, results in runs.items():
            values = [o.nash_conv for o, _ in results]
            relative = [o.nash_conv_relative for o, _ in results]
            text = f"  {method:32} {' '.join(f'{v:.4f}' for v in values)}  (median " \
                   f"{np.median(values):.4f}, {np.median(relative):.2%}; " \
                   f"{np.mean([s for _, s in results]):.1f} s per run)"
            if method.startswith("PPO"):
                text += (f"; {sum(v <= vertex + 1e-9 for v in values)}/{len(values)} at most "
                         f"the vertex dynamics' best {vertex:.4f}, "
                         f"{sum(v <= continuous + 1e-9 for v in values)}/{len(values)} at "
                         f"most the continuous dynamics' best {continuous:.4f}")
            print(text)


if __name__ == "__main__":
    main()
