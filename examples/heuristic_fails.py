"""Where the paper's vertex heuristic fails, do learning producers find what it misses?

At a small softmax temperature with two producers, a mix of features can beat
every basis vector. For each instance of ``agents.rl.heuristic.INSTANCES`` this
prints the gap (against a rival on the feature where it is widest: the best
basis vector's payoff and the best payoff over the whole strategy set), then
three profiles judged by NashConv over the whole strategy set:

* the paper's vertex dynamics;
* continuous best-response dynamics (``recgym.solvers.ExactSolver.best_response``
  over the strategy set, producers in turn) started from the vertex end point;
* PPO producers with embedding actions (``action_type="box"``; one network per
  producer, vertex-mixture policy), after ``--steps`` agent-steps.

Run ``python examples/heuristic_fails.py`` (about a minute);
``benchmarks/bench_heuristic.py`` repeats the learned part over several seeds.
"""

from __future__ import annotations

import argparse

from agents.rl.heuristic import (
    INSTANCES,
    best_vertex_and_best_response,
    continuous_dynamics,
    format_outcomes,
    learned,
    vertex_dynamics,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=60_000, help="agent-steps of PPO")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--instances", nargs="+", default=list(INSTANCES),
                        choices=list(INSTANCES))
    args = parser.parse_args()

    for name in args.instances:
        instance = INSTANCES[name]
        game = instance.game()
        gaps = [best_vertex_and_best_response(game, j) for j in range(instance.dim)]
        rival = max(range(instance.dim), key=lambda j: gaps[j][1] / gaps[j][0])
        vertex, best, strategy = gaps[rival]
        print(f"== {name}: {instance.n_users} users Dirichlet(1,...,1) from "
              f"default_rng({instance.users_seed}), d = {instance.dim}, "
              f"n = {instance.n_producers}, softmax T = {instance.temperature}")
        print(f"against a rival on feature {rival}: the best basis vector earns {vertex:.3f}, "
              f"the best strategy {best:.3f} at {strategy.round(3).tolist()} "
              f"({best / vertex - 1:+.1%})")
        at_vertices = vertex_dynamics(game, seed=0)
        outcomes = [at_vertices, continuous_dynamics(game, at_vertices.profile),
                    learned(instance, args.steps, seed=args.seed, progress=True)]
        print(format_outcomes(outcomes))
        print()


if __name__ == "__main__":
    main()
