"""Speed benchmark of one parallel step of the recgym environment.

Times ``env.step`` at ``K = 1,000`` users, ``n = 10`` producers, ``d = 5`` features,
for every registered serving rule by default (top-k with ``k = 3``), on pre-drawn
random actions (``Box(0, 1)`` samples, so every step projects onto the strategy
set), and a straightforward baseline in the same process: per-agent projection in
plain Python and the rule's probabilities user by user, computing the same rewards.
Both are checked to give the same rewards on the same actions. Prints steps per
second of both, their ratio, and the environment's rate against the goal of
``GOAL_STEPS_PER_SECOND``.

Two clocks are reported: wall time, and the process's CPU time
(``time.process_time``). With one BLAS thread the process runs on one core at a
time, so steps per CPU-second is the one-core rate even on a shared machine,
where wall time also counts the time the process waited for a free core.

BLAS/OpenMP are limited to one thread below, before NumPy is imported; for a
one-CPU figure also pin the process:
``taskset -c 0 python benchmarks/bench_env.py``.

Examples
--------
``python benchmarks/bench_env.py``                       (about 30 seconds)
``python benchmarks/bench_env.py --rules linear topk:k=2 --steps 2000``
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")  # one core: must precede the NumPy import

import argparse  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402

import numpy as np  # noqa: E402

from recgym.environment import EngagementEnv, parallel_env  # noqa: E402
from recgym.rules import RULES, make_rule  # noqa: E402

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
    parser.add_argument("--repeat", type=int, default=3, help="repeats; the fastest is reported")
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
def steps_per_second(step, pool: list[dict[str, np.ndarray]], steps: int,
                     repeat: int) -> tuple[float, float]:
    """Steps per wall-second and per CPU-second, each the fastest of ``repeat`` timings
    of ``steps`` calls of ``step(actions)``."""
    wall = cpu = math.inf
    for _ in range(repeat):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        for t in range(steps):
            step(pool[t % len(pool)])
        wall = min(wall, time.perf_counter() - start_wall)
        cpu = min(cpu, time.process_time() - start_cpu)
    return steps / wall, steps / cpu


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    print(f"environment steps, K={args.n_users}, n={args.n_producers}, d={args.dim}; "
          f"{len(os.sched_getaffinity(0))} CPU(s) allowed, load average "
          f"{os.getloadavg()[0]:.1f}, " + ", ".join(
              f"{v}={os.environ.get(v)}" for v in
              ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")))
    print(f"  (best of {args.repeat} x {args.steps} env steps, "
          f"{args.repeat} x {args.baseline_steps} baseline steps)")
    for spec in args.rules:
        bench_rule(args, spec)


def bench_rule(args: argparse.Namespace, spec: str) -> None:
    """Time one rule's environment against the per-user baseline and print the figures."""
    env = parallel_env(rule=spec, n_producers=args.n_producers, dim=args.dim,
                       n_users=args.n_users, horizon=args.steps * args.repeat + 1)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    pool = [{agent: rng.random(env.dim, dtype=np.float32) for agent in env.possible_agents}
            for _ in range(ACTION_POOL)]
    users = env.users.tolist()

    # Same rewards from both implementations on the same actions.
    for actions in pool[:3]:
        fast = env.step(actions)[1]
        slow = naive_step(env, users, actions)
        np.testing.assert_allclose([fast[a] for a in env.possible_agents],
                                   [slow[a] for a in env.possible_agents], rtol=1e-9)

    env.reset(seed=0)  # a fresh episode long enough for every timed step
    env_rates = steps_per_second(env.step, pool, args.steps, args.repeat)
    base_rates = steps_per_second(lambda actions: naive_step(env, users, actions), pool,
                                  args.baseline_steps, args.repeat)
    print(f"rule {env.game.rule!r}")
    for clock, env_rate, base_rate in zip(("wall", "CPU"), env_rates, base_rates, strict=True):
        verdict = "meets" if env_rate >= GOAL_STEPS_PER_SECOND else "misses"
        print(f"  per {clock}-second: recgym env {env_rate:9,.0f} steps/s "
              f"({1e6 / env_rate:6.1f} us/step); per-user baseline {base_rate:7,.1f} steps/s; "
              f"speed-up {env_rate / base_rate:,.0f}x; "
              f"{env_rate / GOAL_STEPS_PER_SECOND:.2f}x the goal of "
              f"{GOAL_STEPS_PER_SECOND:,.0f} ({verdict} it)")


if __name__ == "__main__":
    main()
