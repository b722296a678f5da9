"""Speed benchmark of the platform's environment, and how fast PPO learns the long run.

1. **Environment steps per second** at ``K = 1,000`` and ``10,000`` users, ``n = 10``
   producers, ``d = 5`` features, ``moves_per_epoch = 5``, against a straightforward
   baseline in the same process that rebuilds the game under every action's rule and
   runs the dynamics from scratch (``recgym.solvers.DynamicsState``, as
   ``best_response_dynamics`` does), then evaluates the SCF on the whole profile. Both
   are checked to give identical rewards and observations on the same actions and
   seeds, played epoch by epoch in turn. Three loads:

   * ``random``: a fresh continuous action every step (what a learner sends: every
     step is a new rule, so no cache can help);
   * ``static``: one action of a 5 x 5 grid per episode, the next one each episode
     (what ``best_static`` and evaluations do);
   * ``myopic``: the myopic policy's look-ahead, every action of the grid simulated
     from the current state, then one step (counted as 26 steps).

   The baseline builds the observation the environment returns (``recgym.platform``:
   producers per feature, the users' demand, the shares of users and producers still
   active, the SCF, the clicks per user drawn from the same feedback stream, the share
   of the horizon left), so the check covers every entry.

2. **A learner and user dynamics**: steps per second of the environment with
   ``learner="ucb"`` (its ``alpha`` controlled) and ``user_dynamics="exposure:rate=0.1"``
   with departures (``user_outside_option=0.3``, ``user_patience=2``: each epoch a
   ``Coevolution`` epoch), against the same environment with ``static`` users and the
   ``oracle`` (the cached path), on the same random actions, in turn: the ratio is the
   price of learning and changing users.

3. **Agent-steps to learn the long run**: PPO on the scenario of
   ``examples/platform_long_run.py`` (``agents.platform_training.LONG_RUN_SETTINGS``),
   evaluated every ``--eval-every`` steps on the evaluation seeds until its mean
   cumulative SCF is within 2% of the best static action's (or ``--max-steps``).

4. **Agent-steps to match the best constant exploration**: PPO setting UCB's
   ``alpha`` each epoch on a small setting with departures (``LEARNER_SETTINGS``),
   evaluated every ``--learner-eval-every`` steps until its mean cumulative SCF reaches
   the best constant action's (a grid over ``alpha``), or ``--learner-max-steps``.

Parts 1 and 2 time each episode of each implementation (``benchmarks/timing.py``): the
minimum and median time per step over the episodes, wall and the process's CPU time
(BLAS is limited to ``--blas-threads`` threads, 1 by default, so CPU time is the
one-core figure even on a busy machine), and the ratio against the baseline.

Examples
--------
``python benchmarks/bench_platform.py``                 (about 3 minutes)
``python benchmarks/bench_platform.py --skip-training --users 1000``
``python benchmarks/bench_platform.py --skip-training --skip-learner-training``
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Sequence

import numpy as np
from timing import Timer, add_blas_argument, blas_threads, clocks, header, rows

from agents.platform import action_grid, best_schedule, best_static
from agents.platform_training import (
    LONG_RUN_SETTINGS,
    PlatformTrainConfig,
    build_model,
    evaluation_callback,
)
from recgym import welfare
from recgym.game import EngagementGame
from recgym.learning_platform import FEEDBACK_STREAM
from recgym.platform import WELFARE_CLIP, PlatformEnv
from recgym.rules import make_rule
from recgym.solvers import DynamicsState, start_directions

SETTINGS = dict(n_producers=10, dim=5, moves_per_epoch=5, outside_option=0.02, horizon=20)
WITHIN = 0.02  # the learning target: within 2% of the best static action
#: The learner's load: UCB with its alpha controlled, users drawn to what they see and
#: leaving when served below 0.3 two epochs in a row.
DYNAMIC = dict(learner="ucb", user_dynamics="exposure:rate=0.1", user_outside_option=0.3,
               user_patience=2)
#: The small learning setting of part 4 (PPO sets alpha at a fixed temperature 0.1).
LEARNER_SETTINGS: dict[str, object] = dict(
    algo="ppo", n_users=500, dim=3, users_seed=17, n_producers=5,
    rule="softmax:temperature=0.1", controls=("alpha",), learner="ucb",
    user_outside_option=0.3, user_patience=2, moves_per_epoch=5, horizon=15, gamma=0.99,
    grid=9, eval_seed=1000, n_envs=4)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--users", type=int, nargs="+", default=[1_000, 10_000],
                        help="K, synthetic users")
    parser.add_argument("--seconds", type=float, default=4.0,
                        help="time per implementation and load (at least two episodes)")
    parser.add_argument("--skip-training", action="store_true", help="speed only")
    parser.add_argument("--max-steps", type=int, default=200_000, help="PPO budget")
    parser.add_argument("--eval-every", type=int, default=5_000, help="PPO evaluation period")
    parser.add_argument("--seed", type=int, default=0, help="PPO seed")
    parser.add_argument("--skip-learner-training", action="store_true",
                        help="skip part 4 (PPO on the learner's exploration)")
    parser.add_argument("--learner-max-steps", type=int, default=30_000,
                        help="PPO budget of part 4")
    parser.add_argument("--learner-eval-every", type=int, default=3_000,
                        help="PPO evaluation period of part 4")
    add_blas_argument(parser)
    args = parser.parse_args(argv)
    for name in ("seconds", "max_steps", "eval_every", "learner_max_steps",
                 "learner_eval_every"):
        if not getattr(args, name) > 0:
            parser.error(f"--{name.replace('_', '-')} must be > 0, got {getattr(args, name)}")
    if min(args.users) < 1:
        parser.error(f"--users must be >= 1, got {args.users}")
    return args


# ---------------------------------------------------------------------- the baseline
class NaivePlatform:
    """The platform's step done the obvious way: the rule from the action by
    ``make_rule``, a new game and a new dynamics state per step, the SCF from
    ``game.utilities`` on the whole profile, the observation from the counts."""

    def __init__(self, env: PlatformEnv) -> None:
        self.env = env  # for its users and settings only
        self.rng = np.random.RandomState(0)
        self.clicks_rng = np.random.default_rng(0)
        self.directions = np.zeros(env.game.n_producers, dtype=np.int64)
        self.active = np.ones(env.game.n_producers, dtype=bool)
        self.t = 0

    def reset(self, seed: int) -> None:
        self.rng = np.random.RandomState(seed)
        self.clicks_rng = np.random.default_rng(np.random.SeedSequence([FEEDBACK_STREAM, seed]))
        self.directions = start_directions(self.env.game, self.rng)
        self.active[:] = True
        self.t = 0

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float]:
        """``(observation, reward)``: the observation in the environment's layout
        (``recgym.platform``, "Observation space")."""
        value, self.directions, self.active, chance = self._respond(action, self.rng)
        clicks = self._clicks(chance)
        self.t += 1
        env = self.env
        d, n = env.game.dim, env.game.n_producers
        counts = np.bincount(self.directions[self.active], minlength=d)
        alive = int(self.active.sum())
        share = counts / alive if alive else np.zeros(d)
        demand = env.start_distribution  # static users, the oracle: the true demand
        return np.concatenate([share, demand, [1.0, alive / n, value, clicks,
                                               1.0 - self.t / env.horizon]]
                              ).astype(np.float32), value

    def _clicks(self, chance: np.ndarray | None) -> float:
        """Clicks per user: per impression a uniform per user, a click below ``v_k``."""
        if chance is None:
            return 0.0
        clicks = np.zeros(chance.shape[0])
        for _ in range(self.env.impressions):
            clicks += self.clicks_rng.random(chance.shape[0]) < chance
        return float(clicks.sum()) / chance.shape[0]

    def simulate(self, action: np.ndarray) -> float:
        rng = np.random.RandomState()
        rng.set_state(self.rng.get_state())
        return self._respond(action, rng)[0]

    def _respond(self, action: np.ndarray, rng: np.random.RandomState
                 ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray | None]:
        env, base = self.env, self.env.game
        log_t, floor = np.clip(np.asarray(action, dtype=np.float64), env.action_space.low,
                               env.action_space.high)
        rule = make_rule("softmax", temperature=10.0 ** float(log_t), floor=float(floor))
        game = EngagementGame(base.users, base.n_producers, rule, payoff=base.payoff,
                              outside_option=base.outside_option)
        state = DynamicsState(game, self.directions, self.active)
        for iteration in range(env.moves_per_epoch):
            if not state.active.any():
                break
            event = state.first_event(rng.permutation(game.n_producers), iteration)
            if event is None:
                break
            state.apply(event)
        utilities = game.utilities(game.vertex_profile(state.directions), state.active)
        value = float(np.clip(welfare.value(env.scf, utilities), -WELFARE_CLIP, WELFARE_CLIP))
        chance = utilities.user if state.active.any() else None
        return value, state.directions.copy(), state.active.copy(), chance


# ---------------------------------------------------------------------- the loads
def play_epoch(load: str, platform: PlatformEnv | NaivePlatform, action: np.ndarray,
               grid: np.ndarray) -> tuple[bytes, float]:
    """One epoch under ``load`` (``action`` is the random or static one); returns the
    observation's bytes and the reward. It counts :func:`steps_per_epoch` steps."""
    if load == "myopic":  # look at every grid action, take the best
        action = grid[int(np.argmax([platform.simulate(a) for a in grid]))]
    observation, reward = platform.step(action)[:2]
    return observation.tobytes(), reward


def steps_per_epoch(load: str, grid: np.ndarray) -> int:
    """The steps one epoch under ``load`` counts (the myopic look-ahead's included)."""
    return 1 + len(grid) if load == "myopic" else 1


def bench_speed(n_users: int, seconds: float) -> None:
    """Steps per second of the environment and of the baseline at ``n_users`` users,
    epoch by epoch in turn on the same actions (so both see the same machine load)."""
    env = PlatformEnv(n_users=n_users, **SETTINGS)
    grid = action_grid(env, 5)
    actions = np.random.default_rng(0).uniform(env.action_space.low, env.action_space.high,
                                               (4096, 2)).astype(np.float32)
    horizon = SETTINGS["horizon"]
    for load in ("random", "static", "myopic"):
        fast, naive = PlatformEnv(n_users=n_users, **SETTINGS), NaivePlatform(env)
        per = horizon * steps_per_epoch(load, grid)
        timers = (Timer(f"K={n_users:,} {load} env", per, "step"),
                  Timer(f"K={n_users:,} {load} baseline", per, "step"))
        episode, start = 0, time.perf_counter()
        while episode < 2 or time.perf_counter() - start < 2 * seconds:
            fast.reset(seed=episode)
            naive.reset(episode)
            spent = np.zeros((2, 2))  # (env, baseline) x (wall s, CPU s) this episode
            for t in range(horizon):
                action = actions[(episode * horizon + t) % len(actions)] if load == "random" \
                    else grid[episode % len(grid)]
                played = []
                for row, platform in enumerate((fast, naive)):
                    before = clocks()
                    played.append(play_epoch(load, platform, action, grid))
                    spent[row] += np.subtract(clocks(), before)
                if played[0] != played[1]:
                    raise AssertionError(f"K={n_users} {load} episode {episode} step {t}: the "
                                         f"environment and the baseline disagree")
            for timer, (wall, cpu) in zip(timers, spent, strict=True):
                timer.add(wall, cpu)
            episode += 1
        print(rows(timers, timers[1]) + f"; {episode} episodes, identical", flush=True)


def bench_learner_speed(n_users: int, seconds: float) -> None:
    """Steps per second with a learner and user dynamics (``DYNAMIC``) against ``static``
    users and the ``oracle``, on the same random actions, epoch by epoch in turn."""
    learning = PlatformEnv(n_users=n_users, **SETTINGS, **DYNAMIC)
    oracle = PlatformEnv(n_users=n_users, **SETTINGS)
    actions = np.random.default_rng(0).uniform(learning.action_space.low,
                                               learning.action_space.high, (4096, 3))
    horizon = SETTINGS["horizon"]
    timers = (Timer(f"K={n_users:,} ucb+exposure", horizon, "step"),
              Timer(f"K={n_users:,} static+oracle", horizon, "step"))
    episode, start, kept = 0, time.perf_counter(), []
    while episode < 2 or time.perf_counter() - start < 2 * seconds:
        for env in (learning, oracle):
            env.reset(seed=episode)
        spent = np.zeros((2, 2))  # (learner, oracle) x (wall s, CPU s) this episode
        for t in range(horizon):
            action = actions[(episode * horizon + t) % len(actions)].astype(np.float32)
            for row, (env, act) in enumerate(((learning, action), (oracle, action[:2]))):
                before = clocks()
                env.step(act)
                spent[row] += np.subtract(clocks(), before)
        for timer, (wall, cpu) in zip(timers, spent, strict=True):
            timer.add(wall, cpu)
        kept.append(learning.active_users)
        episode += 1
    print(rows(timers, timers[1]) + f"; {episode} episodes, departures: {np.mean(kept):.0%} "
          "of users kept (the episodes differ in departures: compare the medians)", flush=True)


# ---------------------------------------------------------------------- learning
def bench_learning(max_steps: int, every: int, seed: int) -> None:
    """Agent-steps until PPO's deterministic policy is within 2% of the best static."""
    config = PlatformTrainConfig(**LONG_RUN_SETTINGS, steps=max_steps, eval_episodes=5,
                                 seed=seed, progress=False)
    env = config.make_env()
    static, table = best_static(env, action_grid(env, config.grid), config.eval_episodes,
                                config.eval_seed)
    best = float(table["cumulative_scf"].max())
    target = (1 - WITHIN) * best
    print(f"\nlong-run scenario: best static action {np.round(static.action, 2)} (log10 T, "
          f"floor), cumulative SCF {best:.4f}; target {target:.4f}; PPO seed {seed}, "
          f"evaluated every {every:,} steps on {config.eval_episodes} seeds", flush=True)
    model = build_model(config)
    callback = evaluation_callback(env, every, config.eval_episodes, config.eval_seed,
                                   target=target, verbose=True)
    wall = time.perf_counter()
    model.learn(max_steps, callback=callback)
    seconds = time.perf_counter() - wall
    if callback.reached_at is None:
        final = callback.history[-1][1] if callback.history else math.nan
        print(f"not within {WITHIN:.0%} after {model.num_timesteps:,} agent-steps "
              f"({seconds:.0f} s; last evaluation {final:.4f})")
    else:
        print(f"within {WITHIN:.0%} of the best static action after {callback.reached_at:,} "
              f"agent-steps ({seconds:.0f} s of training and evaluation)")


def bench_learner_training(max_steps: int, every: int, seed: int) -> None:
    """Agent-steps until PPO setting UCB's ``alpha`` reaches the best constant action's
    mean cumulative SCF (``LEARNER_SETTINGS``); also the best hand-written schedule."""
    config = PlatformTrainConfig(**LEARNER_SETTINGS, steps=max_steps, eval_episodes=5,
                                 seed=seed, progress=False)
    env = config.make_env()
    static, table = best_static(env, action_grid(env, config.grid), config.eval_episodes,
                                config.eval_seed)
    target = float(table["cumulative_scf"].max())
    schedule, schedules = best_schedule(env, static.action, episodes=config.eval_episodes,
                                        seed=config.eval_seed)
    print(f"\nlearner (ucb, alpha in [0, 2], K={config.n_users}, d={config.dim}, "
          f"n={config.n_producers}, T=0.1, user outside option 0.3, patience 2, horizon "
          f"{config.horizon}): best constant alpha {float(static.action[0]):.2f}, cumulative "
          f"SCF {target:.4f}; best schedule (alpha 2 for the first {schedule.fraction:.0%}, "
          f"then 0) {schedules['cumulative_scf'].max():.4f}; PPO seed {seed}, evaluated every "
          f"{every:,} steps on {config.eval_episodes} seeds", flush=True)
    model = build_model(config)
    callback = evaluation_callback(env, every, config.eval_episodes, config.eval_seed,
                                   target=target, verbose=True)
    wall = time.perf_counter()
    model.learn(max_steps, callback=callback)
    seconds = time.perf_counter() - wall
    if callback.reached_at is None:
        final = callback.history[-1][1] if callback.history else math.nan
        print(f"the best constant action's cumulative SCF was not reached within "
              f"{model.num_timesteps:,} agent-steps ({seconds:.0f} s; last evaluation "
              f"{final:.4f})")
    else:
        print(f"reached the best constant action's cumulative SCF after "
              f"{callback.reached_at:,} agent-steps ({seconds:.0f} s of training and "
              "evaluation)")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    with blas_threads(args.blas_threads):
        run(args)


def run(args: argparse.Namespace) -> None:
    """The four parts of the module docstring (the training ones unless skipped)."""
    print(f"platform steps: n={SETTINGS['n_producers']}, d={SETTINGS['dim']}, "
          f"moves_per_epoch={SETTINGS['moves_per_epoch']}, outside option "
          f"{SETTINGS['outside_option']}, about {args.seconds:g} s per implementation and load",
          flush=True)
    print(header(), flush=True)
    for n_users in args.users:
        bench_speed(n_users, args.seconds)
    print(f"\na learner and user dynamics: {DYNAMIC}", flush=True)
    for n_users in args.users:
        bench_learner_speed(n_users, args.seconds)
    if not args.skip_training:
        bench_learning(args.max_steps, args.eval_every, args.seed)
    if not args.skip_learner_training:
        bench_learner_training(args.learner_max_steps, args.learner_eval_every, args.seed)


if __name__ == "__main__":
    main()
