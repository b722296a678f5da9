r"""Train the platform with Stable-Baselines3 and compare it with static and myopic policies.

``train_platform(PlatformTrainConfig(...))`` is the whole run behind
``recgym train-platform``. The run directory ``<logdir>/<run name>`` is written by
``agents.monitoring.RunFolder``, as ``recgym train``'s (layout documented there;
``agents.monitoring.load_run`` reads it): TensorBoard events (SB3's own, plus the
tags below), ``config.json``, ``model.zip`` and ``evaluation.json`` (a list: the
trained policy next to the best static action and the myopic policy, on the same
evaluation seeds).

=============================  ======================================================
tag                            value (at every training step of the first copy)
=============================  ======================================================
``platform/scf``               the SCF after the producers' response
``platform/active_producers``  producers still in the game
``platform/active_users``      share of the starting users still active
``platform/clicks``            the step's clicks per starting user
``platform/estimation_error``  mean ``||c^_k - c_k||_1`` of the learner's estimates
                               over the active users (0 under the oracle)
``platform/exploration``       the learner's exploration value this step (0 for
                               learners that do not explore)
``platform/<control>``         each controlled parameter, e.g. ``platform/temperature``
                               and ``platform/floor`` (and ``platform/alpha``)
``platform/cumulative_scf``    the SCF summed over the episode, at each episode's end
``eval/cumulative_scf``        with ``--eval-every N``: every ``N`` steps, the
                               deterministic policy's mean cumulative SCF over the
                               evaluation seeds (``evaluation_callback``)
``eval/producers_retained``    the same episodes' mean producers retained
``eval/users_retained``        the same episodes' mean share of users retained
``eval/clicks``                the same episodes' mean cumulative clicks per user
=============================  ======================================================

``--learner``, ``--impressions`` and ``--elicit`` make the platform learn its users
from clicks (``recgym.platform``; default ``oracle``: the true ratings);
``--controls temperature floor alpha`` (``eps``, ``alpha`` or ``scale``, as the
learner names it) lets the policy set the learner's exploration each epoch, over
``recgym.platform.DEFAULT_EXPLORATION``. ``--reward clicks`` rewards clicks instead of
the SCF. With a controlled exploration the comparison adds the best hand-written
schedule (``agents.platform.best_schedule``: explore for the first fraction of the
horizon, then exploit, at the best static action's rule parameters).

``--user-dynamics``, ``--user-outside-option`` and ``--user-patience`` make users
change and leave (``recgym.platform``: each epoch then runs the ecosystem of
``recgym.coevolve``); the defaults (``static``, 0, 1) keep them fixed.

With ``gamma`` close to 1 the learner values the long run: producers who leave do
not come back, which is where a far-sighted policy can beat a myopic one.
``LONG_RUN_SETTINGS`` is such a setting (``examples/platform_long_run.py``): near
hardmax one of two producers sharing a feature leaves at no immediate cost, and one
epoch later the last producer of the other feature joins the survivor (under the
exposure payoff two producers on one vertex split every user), so both features
collapse into one; a temperature near 0.1 keeps all three.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from agents.monitoring import RunFolder
from agents.platform import (
    MyopicPlatform,
    action_grid,
    best_schedule,
    best_static,
    compare_platforms,
    evaluate_platform,
)
from recgym._validation import check_choice, check_float, check_folder, check_ints
from recgym.datasets.catalog import DATASET_NAMES
from recgym.options import MAX_SEED, option
from recgym.platform import DEFAULT_CONTROLS, DEFAULT_EXPLORATION, REWARDS, PlatformEnv
from recgym.population import check_population_args
from recgym.welfare import parse as parse_scf

if TYPE_CHECKING:  # `recgym --help` builds this command's options without pandas
    import pandas as pd

#: Stable-Baselines3 algorithms the platform can be trained with.
PLATFORM_ALGOS = ("ppo", "sac")

#: The long-run scenario (``recgym train-platform --dim 2 --n-producers 3 --payoff exposure
#: --outside-option 0.265 --moves-per-epoch 1``; the other settings are the defaults).
LONG_RUN_SETTINGS: dict[str, Any] = dict(
    algo="ppo", n_users=1000, dim=2, users_seed=0, n_producers=3, rule="softmax",
    controls=("temperature", "floor"), payoff="exposure", outside_option=0.265,
    moves_per_epoch=1, scf="user_welfare", horizon=20, gamma=0.99, grid=5, eval_seed=1000)

__all__ = ["LONG_RUN_SETTINGS", "PLATFORM_ALGOS", "PlatformTrainConfig", "PlatformTrainResult",
           "build_model", "evaluation_callback", "format_comparison", "train_platform"]


@dataclass(frozen=True)
class PlatformTrainConfig:
    """One training run of a learning platform (``recgym train-platform``)."""

    algo: str = option("ppo", "SB3 algorithm: ppo or sac.")
    steps: int = option(20_000, "Training budget in platform steps (epochs).")
    users: str | None = option(None, "Users: a dataset name (" + ", ".join(DATASET_NAMES)
                               + ") or none for synthetic uniform users.", metavar="NAME")
    data: str | None = option(None, "Folder or file with the real rating data (default: the "
                              "RECGYM_DATA environment variable).", metavar="PATH")
    n_users: int = option(1000, "Synthetic users K (ignored with --users).")
    dim: int = option(5, "Features d.")
    users_seed: int = option(0, "Seed of the users (or of the dataset's embedding).")
    n_producers: int = option(10, "Producers n.")
    rule: str = option("softmax", "Rule family with its fixed parameters (spec string).",
                       metavar="RULE")
    controls: tuple[str, ...] = option(("temperature", "floor"), "Parameters the platform "
                                       "sets (log10 for the temperature; the learner's "
                                       "exploration: eps, alpha or scale).", metavar="PARAM")
    payoff: str = option("engagement", "Producer payoff: engagement, exposure or marginal.")
    outside_option: float = option(0.0, "Producers' outside option per user.")
    user_dynamics: str = option("static", "How users change with what they are shown: "
                                "static, exposure:rate=B or engagement:rate=E.",
                                metavar="MODEL")
    user_outside_option: float = option(0.0, "Utility per epoch below which a user is "
                                        "unhappy (0: nobody leaves).")
    user_patience: int = option(1, "Unhappy epochs in a row after which a user leaves.")
    learner: str = option("oracle", "How the platform learns its users: oracle, greedy, "
                          "epsilon:eps=X, ucb:alpha=A or thompson:scale=V.", metavar="LEARNER")
    impressions: int = option(1, "Impressions (clicks or not) per active user and epoch.")
    elicit: int = option(0, "Questions per user before the first epoch.")
    reward: str = option("scf", "The platform's reward: scf or clicks.")
    moves_per_epoch: int = option(5, "Iterations of the producers' dynamics per step.")
    scf: str = option("user_welfare", "The platform's reward (a social choice function spec).",
                      metavar="SCF")
    horizon: int = option(20, "Steps per episode.")
    gamma: float = option(0.99, "Discount factor (close to 1: the platform values the long "
                          "run).")
    n_envs: int = option(4, "Copies of the environment stepped together.")
    grid: int = option(5, "Values per control of the static and myopic baselines' grid.")
    eval_episodes: int = option(5, "Evaluation episodes (seeds eval-seed, eval-seed + 1, ...).")
    eval_seed: int = option(1000, "First evaluation seed.")
    eval_every: int = option(0, "Evaluate the deterministic policy on the evaluation seeds "
                             "every N training steps (eval/* tags); 0: only at the end.")
    seed: int = option(0, "Seeds the model and the training copies.")
    logdir: str = option("runs", "Parent folder of the run directory.", metavar="DIR")
    torch_threads: int = option(1, "Torch CPU threads (1 is fastest for these small networks).")
    progress: bool = option(True, "Show a progress bar on stderr.")

    def __post_init__(self) -> None:
        check_choice("--algo", self.algo, PLATFORM_ALGOS)
        for flag, value, minimum in (("--steps", self.steps, 1), ("--n-users", self.n_users, 1),
                                     ("--dim", self.dim, 1), ("--n-producers", self.n_producers, 1),
                                     ("--moves-per-epoch", self.moves_per_epoch, 1),
                                     ("--horizon", self.horizon, 1), ("--n-envs", self.n_envs, 1),
                                     ("--grid", self.grid, 1),
                                     ("--eval-episodes", self.eval_episodes, 1),
                                     ("--torch-threads", self.torch_threads, 1)):
            check_ints(flag, value, minimum)
        check_ints("--eval-every", self.eval_every, 0)
        for flag, value in (("--users-seed", self.users_seed), ("--eval-seed", self.eval_seed),
                            ("--seed", self.seed)):
            check_ints(flag, value, 0, MAX_SEED)
        if self.users is not None:
            check_choice("--users", self.users, DATASET_NAMES)
        check_float("--outside-option", self.outside_option, 0.0)
        self._check_users()
        check_float("--gamma", self.gamma, 0.0, 1.0)
        check_choice("--reward", self.reward, REWARDS)
        check_ints("--impressions", self.impressions, 1)
        check_ints("--elicit", self.elicit, 0)
        try:
            parse_scf(self.scf)
            self.make_env()
        except ValueError as exc:
            raise ValueError(f"{exc} (check --rule, --controls, --payoff, --scf and "
                             "--learner)") from None

    def _check_users(self) -> None:
        """``--user-dynamics``, ``--user-outside-option``, ``--user-patience``: errors name
        the flag."""
        try:
            check_population_args(self.user_dynamics, 0.0, 1)
        except ValueError as exc:
            raise ValueError(f"--user-dynamics: {exc}") from None
        check_float("--user-outside-option", self.user_outside_option, 0.0)
        check_ints("--user-patience", self.user_patience, 1)

    def make_env(self) -> PlatformEnv:
        """A platform environment with these settings."""
        return PlatformEnv(users=self.users, n_producers=self.n_producers, rule=self.rule,
                           controls={c: DEFAULT_CONTROLS.get(c, DEFAULT_EXPLORATION.get(
                                               c, (0.0, 1.0))) for c in self.controls},
                           payoff=self.payoff, outside_option=self.outside_option,
                           moves_per_epoch=self.moves_per_epoch, scf=self.scf,
                           horizon=self.horizon, dim=self.dim,
                           n_users=None if self.users else self.n_users,
                           users_seed=self.users_seed, users_path=self.data,
                           user_dynamics=self.user_dynamics,
                           user_outside_option=self.user_outside_option,
                           user_patience=self.user_patience, learner=self.learner,
                           impressions=self.impressions, elicit=self.elicit,
                           reward=self.reward)

    def run_name(self) -> str:
        """``platform-<rule>_n<n>_d<d>__<algo>__seed<seed>__<YYYYmmdd-HHMMSS>``."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        rule = self.rule.replace(":", "-").replace(",", "-").replace("=", "")
        return f"platform-{rule}_n{self.n_producers}_d{self.dim}__{self.algo}__seed" \
               f"{self.seed}__{stamp}"


@dataclass(frozen=True)
class PlatformTrainResult:
    """What a training run produced: the model, its directory and the comparison table
    (``agents.platform.compare_platforms``: trained, best static, myopic, and the best
    schedule when the exploration is controlled)."""

    config: PlatformTrainConfig
    run_dir: Path
    model: Any
    comparison: pd.DataFrame
    seconds: float


def _logging_callback(controls: tuple[str, ...]) -> Any:
    """An SB3 callback recording the ``platform/*`` tags (module docstring) of the first
    copy; ``controls`` are the controlled parameters' names."""
    from stable_baselines3.common.callbacks import BaseCallback

    class PlatformLogger(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self._episode_total = 0.0

        def _on_step(self) -> bool:
            info = self.locals["infos"][0]
            self.logger.record("platform/scf", float(info["scf"]))
            self.logger.record("platform/active_producers", info["active_producers"])
            self.logger.record("platform/active_users", info["active_users"])
            self.logger.record("platform/clicks", float(info["clicks"]))
            self.logger.record("platform/estimation_error", float(info["estimation_error"]))
            self.logger.record("platform/exploration", float(info["exploration"]))
            for name in controls:
                self.logger.record(f"platform/{name}", float(info[name]))
            self._episode_total += float(info["scf"])
            if self.locals["dones"][0]:
                self.logger.record("platform/cumulative_scf", self._episode_total)
                self._episode_total = 0.0
            self.logger.dump(self.num_timesteps)
            return True

    return PlatformLogger()


def evaluation_callback(env: PlatformEnv, every: int, episodes: int, seed: int,
                        target: float | None = None, verbose: bool = False) -> Any:
    """An SB3 callback that evaluates the deterministic policy while it trains.

    Every ``every`` training steps (platform steps over all copies) it plays
    ``episodes`` episodes of ``env`` with seeds ``seed, seed + 1, ...``
    (``agents.platform.evaluate_platform``) and records ``eval/cumulative_scf`` and
    ``eval/producers_retained`` (means over the episodes).

    Parameters
    ----------
    env : PlatformEnv
        The evaluation environment (not one of the training copies).
    every, episodes, seed : int
    target : float, optional
        Stop training once the mean cumulative reward (the SCF, or the clicks under
        ``reward="clicks"``) reaches it.
    verbose : bool
        Print one line per evaluation.

    Returns
    -------
    BaseCallback
        With ``history``, a list of ``(steps, mean cumulative SCF, mean producers
        retained)``, and ``reached_at``, the steps at the first evaluation that reached
        ``target`` (``None`` until then).
    """
    from stable_baselines3.common.callbacks import BaseCallback

    check_ints("every", every, 1)

    class PlatformEvaluator(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.history: list[tuple[int, float, float]] = []
            self.reached_at: int | None = None
            self._next = every

        def _on_step(self) -> bool:
            if self.num_timesteps < self._next:
                return True
            self._next = (self.num_timesteps // every + 1) * every
            result = evaluate_platform(self.model, env, episodes, seed)
            total, retained = result.mean_cumulative_scf, result.mean_producers_retained
            self.history.append((self.num_timesteps, total, retained))
            self.logger.record("eval/cumulative_scf", total)
            self.logger.record("eval/producers_retained", retained)
            self.logger.record("eval/users_retained", result.mean_users_retained)
            self.logger.record("eval/clicks", result.mean_clicks)
            if verbose:
                print(f"  {self.num_timesteps:>8,} steps: cumulative SCF {total:.4f}, "
                      f"producers retained {retained:.2f}", flush=True)
            reached = target is not None and result.mean_cumulative_reward >= target
            if reached and self.reached_at is None:
                self.reached_at = self.num_timesteps
            return self.reached_at is None

    return PlatformEvaluator()


def build_model(config: PlatformTrainConfig) -> Any:
    """The untrained SB3 model of a run: ``config.algo`` with an MLP policy on
    ``config.n_envs`` seeded copies of ``config.make_env()``, discount ``config.gamma``
    (PPO: rollouts of ``max(horizon, 64)`` steps per copy, minibatches of 64)."""
    import torch
    from stable_baselines3 import PPO, SAC
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.logger import Logger

    torch.set_num_threads(config.torch_threads)
    venv = make_vec_env(config.make_env, n_envs=config.n_envs, seed=config.seed)
    algo = {"ppo": PPO, "sac": SAC}[config.algo]
    kwargs: dict[str, Any] = {"gamma": config.gamma, "seed": config.seed, "verbose": 0}
    if config.algo == "ppo":
        kwargs.update(n_steps=max(config.horizon, 64), batch_size=64)
    model = algo("MlpPolicy", venv, **kwargs)
    # Without a logger of its own, SB3 would make an empty /tmp/SB3-<date> folder per learn().
    model.set_logger(Logger(folder=None, output_formats=[]))
    return model


def train_platform(config: PlatformTrainConfig) -> PlatformTrainResult:
    """Train, evaluate against the baselines on the same seeds, save (module docstring)."""
    from stable_baselines3.common.callbacks import CallbackList

    from agents.progress import ProgressCallback

    check_folder("--logdir", config.logdir)
    folder = RunFolder(Path(config.logdir) / config.run_name(), config, "train-platform",
                       exist_ok=False)
    run_dir = folder.path
    model = build_model(config)
    model.set_logger(folder.logger())
    start = time.perf_counter()
    callbacks = [_logging_callback(config.controls)]  # dumps every step: the last one
    if config.eval_every:
        callbacks.insert(0, evaluation_callback(config.make_env(), config.eval_every,
                                                config.eval_episodes, config.eval_seed))
    if config.progress:
        callbacks.insert(0, ProgressCallback(unit="step"))
    model.learn(config.steps, callback=CallbackList(callbacks))
    seconds = time.perf_counter() - start
    model.save(run_dir / "model.zip")
    env = config.make_env()
    grid = action_grid(env, config.grid)
    if config.progress:
        print(f"comparing with the best of {len(grid)} static actions and the myopic policy "
              f"on {config.eval_episodes} evaluation seeds ...", file=sys.stderr, flush=True)
    static, _ = best_static(env, grid, config.eval_episodes, config.eval_seed)
    policies: dict[str, object] = {"trained": model, "best static": static,
                                   "myopic": MyopicPlatform(grid)}
    if env.exploration_index is not None:
        policies["schedule"], _ = best_schedule(env, static.action,
                                                episodes=config.eval_episodes,
                                                seed=config.eval_seed)
    comparison = compare_platforms(policies, env, config.eval_episodes, config.eval_seed)
    table = comparison.assign(static_action=[None, np.asarray(static.action).tolist(),
                                             *[None] * (len(policies) - 2)])
    folder.write_evaluation(json.loads(table.to_json(orient="records")))
    return PlatformTrainResult(config, run_dir, model, comparison, seconds)


def format_comparison(result: PlatformTrainResult) -> str:
    """The comparison as a small text table."""
    lines = [f"run directory: {result.run_dir}", f"training: {result.seconds:.1f} s",
             f"{'policy':<14}{'cumulative SCF':>16}{'retained':>10}{'users':>8}"
             f"{'clicks':>10}{'vs trained':>12}"]
    for row in result.comparison.itertuples():
        lines.append(f"{row.policy:<14}{row.cumulative_scf:16.5f}{row.producers_retained:10.2f}"
                     f"{row.users_retained:8.1%}{row.clicks:10.3f}{row.relative_to_first:12.3f}")
    return "\n".join(lines)
