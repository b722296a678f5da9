"""Speed benchmark of one parallel step of the recgym environment.

Times ``env.step`` at ``K = 1,000`` users, ``n = 10`` producers, ``d = 5`` features,
for every registered serving rule by default (top-k with ``k = 3``), on pre-drawn
random actions (``Box(0, 1)`` samples, so every step projects onto the strategy
set), and a straightforward baseline in the same process: per-agent projection in
plain Python and the rule's probabilities user by user, computing the same rewards.
Both are checked to give the same rewards on the same actions. Prints steps per
second of both, their ratio, and the environment's rate against the goal of
``GOAL_STEPS_PER_SECOND``.

Both are timed in turn, repeat by repeat (``benchmarks/timing.py``): the minimum and
median time per step on the wall clock and on the process's CPU clock
(``time.process_time``). With one BLAS thread the process runs on one core at a
time, so steps per CPU-second is the one-core rate even on a shared machine,
where wall time also counts the time the process waited for a free core.

BLAS is limited to ``--blas-threads`` threads (1 by default); for a one-CPU figure
also pin the process: ``taskset -c 0 python benchmarks/bench_env.py``.

Examples
--------
``python benchmarks/bench_env.py``                       (about 30 seconds)
``python benchmarks/bench_env.py --rules linear topk:k=2 --steps 2000``
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

import numpy as np
from timing import Timer, add_blas_argument, blas_threads, goal, header, interleave, rows

from recgym.environment import EngagementEnv, parallel_env
from recgym.rules import RULES, make_rule

GOAL_STEPS_PER_SECOND = 10_000.0  # the goal at K = 1,000, n = 10, d = 5, for every rule
#: Every registered rule (top-k serving 3 of the 10 producers).
DEFAULT_RULES = tuple("topk:k=3" if name == "topk" else name for name in RULES.names)
ACTION_POOL = 256  # distinct pre-drawn action dicts, cycled through


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--n-users", type=int, default=1_000, help="K, synthetic users")
    parser.add_argument("--n-producers", type=int, default=10, help="n, producers")
    parser.add_argument("--dim", type=int, default=5, help="d, features")
    parser.add_argument("--rules", nargs="+", default=list(DEFAULT_RULES), metavar="RULE",
                        help="serving rules (registered names or spec strings, e.g. "
                             "topk:k=2); default: every registered rule")
    parser.add_argument("--steps", type=int, default=5_000, help="environment steps per repeat")
    parser.add_argument("--baseline-steps", type=int, default=20, help="baseline steps per repeat")
    parser.add_argument("--repeat", type=int, default=3,
                        help="repeats; the minimum and median are reported")
    add_blas_argument(parser)
    args = parser.parse_args(argv)
    for name in ("steps", "baseline_steps", "repeat"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    for spec in args.rules:
        try:
            make_rule(spec)
        except ValueError as exc:
            parser.error(f"--rules: {exc}")
    return args


# ---------------------------------------------------------------------- the baseline
def naive_project(action: list[float]) -> list[float]:
    """Euclidean projection of one action onto ``{s >= 0, sum(s) <= 1}``, in plain Python."""
    clipped = [max(a, 0.0) for a in action]
    if sum(clipped) <= 1.0:
        return clipped
    ordered = sorted(action, reverse=True)
    running, theta = 0.0, 0.0
    for j, value in enumerate(ordered, start=1):
        running += value
        if value - (running - 1.0) / j > 0:
            theta = (running - 1.0) / j
    return [max(a - theta, 0.0) for a in action]


def naive_probabilities(env: EngagementEnv, ratings: list[float]) -> list[float]:
    """One user's serving probabilities over the producers: the rule's own definition
    applied to that user alone."""
    return env.game.rule.probabilities(np.array([ratings]))[0].tolist()


def naive_step(env: EngagementEnv, users: list[list[float]],
               actions: dict[str, np.ndarray]) -> dict[str, float]:
    """Rewards of one step (engagement, per-user mean), one agent and one user at a time."""
    profile = [naive_project([float(a) for a in actions[agent]]) for agent in env.possible_agents]
    engagement = [0.0] * len(profile)
    for user in users:
        ratings = [sum(c * s for c, s in zip(user, strategy, strict=True)) for strategy in profile]
        for i, p in enumerate(naive_probabilities(env, ratings)):
            engagement[i] += p * ratings[i]
    return {agent: engagement[i] / len(users) for i, agent in enumerate(env.possible_agents)}


# ---------------------------------------------------------------------- timing
def stepping(step: Callable[[dict[str, np.ndarray]], object],
             pool: list[dict[str, np.ndarray]], steps: int) -> Callable[[], None]:
    """One repeat: ``steps`` calls of ``step(actions)`` on the pool's actions in turn."""
    def run() -> None:
        for t in range(steps):
            step(pool[t % len(pool)])
    return run


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    with blas_threads(args.blas_threads):
        print(f"environment steps, K={args.n_users}, n={args.n_producers}, d={args.dim}; "
              f"{args.repeat} repeats of {args.steps} env steps and of {args.baseline_steps} "
              f"baseline steps, in turn, after one untimed")
        print(header())
        for spec in args.rules:
            bench_rule(args, spec)


def bench_rule(args: argparse.Namespace, spec: str) -> None:
    """Time one rule's environment against the per-user baseline and print the figures."""
    env = parallel_env(rule=spec, n_producers=args.n_producers, dim=args.dim,
                       n_users=args.n_users, horizon=args.steps * (args.repeat + 1) + 1)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    pool = [{agent: rng.random(env.dim, dtype=np.float32) for agent in env.possible_agents}
            for _ in range(ACTION_POOL)]
    users = env.users.tolist()

    # Same rewards from both implementations on the same actions.
    for actions in pool[:3]:
        rewards = env.step(actions)[1]
        expected = naive_step(env, users, actions)
        np.testing.assert_allclose([rewards[a] for a in env.possible_agents],
                                   [expected[a] for a in env.possible_agents], rtol=1e-9)

    env.reset(seed=0)  # a fresh episode long enough for every step, warm-up included
    fast = Timer("recgym env", per=args.steps, unit="step")
    naive = Timer("per-user baseline", per=args.baseline_steps, unit="step")
    interleave([(fast, stepping(env.step, pool, args.steps)),
                (naive, stepping(lambda actions: naive_step(env, users, actions), pool,
                                 args.baseline_steps))], args.repeat)
    print(f"rule {env.game.rule!r}")
    print(rows([fast, naive], naive))
    for clock, label in (("wall", "wall"), ("cpu", "CPU")):
        print(goal(f"env steps per {label}-second", 1 / fast.min(clock), GOAL_STEPS_PER_SECOND,
                   at_most=False, unit=""))


if __name__ == "__main__":
    main()
