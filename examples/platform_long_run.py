"""The platform's long run: a learned policy against every constant action and the myopic one.

The setting (``SETTINGS`` below, all through ``recgym train-platform``): 2,000 synthetic
users on d = 5 features, n = 10 producers, softmax serving at T = 0.1, and a platform
that does not know its users: it serves by UCB (``learner="ucb"``) and learns from one
click per user and epoch. Users who get less than 0.25 utility in 2 epochs in a row
leave for good. Each epoch the platform sets UCB's exploration strength ``alpha`` in
[0, 2] (the only control); producers respond by 5 iterations of the paper's dynamics;
the reward is user welfare; 30 epochs.

Exploring costs users now (they are served content the platform is unsure of, and some
leave) and pays later (better estimates, and producers drawn to features the estimates
would miss), so the best policy changes over the horizon. The script trains PPO for
``--steps`` platform steps, then evaluates on ``--eval-seeds`` (never seen in training):
the trained policy, the best constant ``alpha`` of a 9-point grid (chosen on those same
seeds), the best explore-then-exploit schedule (``agents.SchedulePlatform``, chosen on
those seeds) and the myopic policy (each epoch the grid action with the best immediate
welfare, simulated with the real random streams). Every number is computed here.

    python examples/platform_long_run.py                      # 60,000 steps, about 3 minutes
    python examples/platform_long_run.py --eval-seeds 1000,1001,1002,1003,1004
    python examples/platform_long_run.py --quick              # a tiny budget, seconds
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np

from agents.platform import (
    SCHEDULE_FRACTIONS,
    MyopicPlatform,
    SchedulePlatform,
    StaticPlatform,
    action_grid,
    evaluate_platform,
)
from agents.platform_training import PlatformTrainConfig, train_platform

#: The scenario, as ``recgym train-platform`` flags would set it.
SETTINGS: dict[str, object] = dict(
    algo="ppo", n_users=2000, dim=5, users_seed=0, n_producers=10,
    rule="softmax:temperature=0.1", controls=("alpha",), learner="ucb", impressions=1,
    moves_per_epoch=5, horizon=30, user_outside_option=0.25, user_patience=2,
    scf="user_welfare", gamma=0.99, grid=9)
#: A tiny version for the tests.
QUICK: dict[str, object] = dict(n_users=200, n_producers=4, horizon=6, grid=3, steps=256)
COLUMNS = ("cumulative_scf", "users_retained", "producers_retained", "clicks")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=60_000, help="PPO training steps")
    parser.add_argument("--seed", type=int, default=0, help="seed of the model and its copies")
    parser.add_argument("--eval-seeds", default="1000,1001,1002,1003,1004",
                        help="comma-separated evaluation seeds (not used in training)")
    parser.add_argument("--logdir", default=None,
                        help="TensorBoard parent folder (default: a temporary one)")
    parser.add_argument("--quick", action="store_true", help="tiny budget (for the tests)")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bar")
    args = parser.parse_args()
    try:
        args.eval_seeds = [int(s) for s in args.eval_seeds.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--eval-seeds must be comma-separated integers, got {args.eval_seeds!r}")
    if not args.eval_seeds or min(args.eval_seeds) < 0:
        parser.error("--eval-seeds needs at least one seed >= 0")
    if args.quick:
        args.eval_seeds = args.eval_seeds[:2]
    return args


def evaluate(policy: object, env: object, seeds: list[int]) -> dict[str, float]:
    """Mean figures of whole episodes on ``seeds`` (``agents.evaluate_platform`` per seed)."""
    runs = [evaluate_platform(policy, env, 1, seed) for seed in seeds]
    return {"cumulative_scf": float(np.mean([r.mean_cumulative_scf for r in runs])),
            "users_retained": float(np.mean([r.mean_users_retained for r in runs])),
            "producers_retained": float(np.mean([r.mean_producers_retained for r in runs])),
            "clicks": float(np.mean([r.mean_clicks for r in runs]))}


def best_of(candidates: list[object], env: object, seeds: list[int]
            ) -> tuple[object, dict[str, float]]:
    """The candidate with the best mean cumulative SCF on ``seeds`` (ties: the first)."""
    figures = [evaluate(candidate, env, seeds) for candidate in candidates]
    best = int(np.argmax([f["cumulative_scf"] for f in figures]))
    return candidates[best], figures[best]


def compare(model: object, config: PlatformTrainConfig, seeds: list[int]
            ) -> tuple[dict[str, dict[str, float]], dict[str, str]]:
    """Every policy's figures on ``seeds`` and what the baselines chose."""
    env = config.make_env()
    grid = action_grid(env, config.grid)
    constant, constant_figures = best_of([StaticPlatform(a) for a in grid], env, seeds)
    schedule, schedule_figures = best_of(
        [SchedulePlatform(np.asarray(constant.action), f) for f in SCHEDULE_FRACTIONS],
        env, seeds)
    rows = {"learned (PPO)": evaluate(model, env, seeds), "best constant": constant_figures,
            "schedule": schedule_figures, "myopic": evaluate(MyopicPlatform(grid), env, seeds)}
    alpha = float(np.asarray(constant.action)[0])
    chosen = {"best constant": f"alpha = {alpha:g}",
              "schedule": f"alpha = 2 for the first {schedule.fraction:.0%} of the horizon, "
                          "then 0"}
    return rows, chosen


def table(rows: dict[str, dict[str, float]], n_producers: int) -> str:
    """The comparison with the gaps of the learned policy."""
    lines = [f"{'policy':<15}{'cumulative SCF':>16}{'users retained':>16}"
             f"{'producers retained':>20}{'clicks':>9}"]
    for name, row in rows.items():
        lines.append(f"{name:<15}{row['cumulative_scf']:16.4f}{row['users_retained']:16.1%}"
                     f"{row['producers_retained']:15.2f}/{n_producers:<4}{row['clicks']:9.3f}")
    learned = rows["learned (PPO)"]["cumulative_scf"]
    for name, goal in (("myopic", 5), ("best constant", 2)):
        gap = learned / rows[name]["cumulative_scf"] - 1
        lines.append(f"learned vs {name}: {gap:+.2%} (goal: at least +{goal}%)")
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    settings = {**SETTINGS, **(QUICK if args.quick else {"steps": args.steps})}
    with tempfile.TemporaryDirectory() as scratch:
        config = PlatformTrainConfig(**settings, eval_episodes=1, eval_seed=args.eval_seeds[0],
                                     seed=args.seed, logdir=args.logdir or scratch,
                                     progress=args.progress)
        print(f"settings: {settings}")
        print(f"training PPO for {config.steps:,} steps ...", flush=True)
        result = train_platform(config)
        rows, chosen = compare(result.model, config, args.eval_seeds)
    print(f"trained in {result.seconds:.1f} s; means over the evaluation seeds "
          f"{', '.join(map(str, args.eval_seeds))}, episodes of {config.horizon} epochs:\n")
    print(table(rows, config.n_producers))
    for name, what in chosen.items():
        print(f"{name}: {what}")


if __name__ == "__main__":
    main()
