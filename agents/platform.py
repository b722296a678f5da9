r"""Platform policies for ``recgym.platform_env``: static, myopic and learned.

A platform policy is called as ``policy(observation, env) -> action`` (``env`` the
platform environment, for policies that look ahead). Three kinds:

* ``StaticPlatform(action)``: the same rule parameters every epoch;
  ``best_static(env, grid, episodes, seed)`` finds the best one of a grid,
  judged over whole episodes (cumulative SCF, the same seeds for every action);
* ``MyopicPlatform(grid)``: each epoch, the action of the grid whose immediate
  post-response SCF is best, found by simulating the producers' response to every
  action from the same state (``PlatformEnv.simulate``);
* ``SchedulePlatform(action, fraction, env)``: a hand-written schedule for a learner
  (``recgym.platform_env(learner=...)``): the rule parameters of ``action`` throughout,
  the exploration at the top of its range for the first ``fraction`` of the horizon,
  then at the bottom (explore early, exploit late); ``best_schedule`` picks the best
  fraction of a few, around the best static action's rule parameters;
* a trained Stable-Baselines3 model (``as_platform_policy`` wraps it; its actions
  are deterministic).

``evaluate_platform(policy, env, episodes, seed)`` plays whole episodes and reports
each one's cumulative SCF, producers retained, share of users retained (below 1
only with user departures, ``recgym.platform``) and cumulative clicks per starting
user; ``compare_platforms`` does it for several policies on the same seeds. The
static and schedule baselines are judged by the environment's reward (``scf`` or
``clicks``). With user dynamics, departures or a learner the myopic policy's
look-ahead simulates the users and the learner too, on an independent copy
(``PlatformEnv.simulate``, ``Coevolution.copy``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from recgym._validation import check_float, check_int
from recgym.platform import PlatformEnv

if TYPE_CHECKING:  # pandas loads with the tables: `recgym --help` does not need it
    import pandas as pd

#: ``policy(observation, env) -> action``.
PlatformPolicy = Callable[[np.ndarray, PlatformEnv], np.ndarray]

__all__ = ["MyopicPlatform", "PlatformEvaluation", "PlatformPolicy", "SchedulePlatform",
           "StaticPlatform", "action_grid", "as_platform_policy", "best_schedule",
           "best_static", "compare_platforms", "evaluate_platform"]

#: Fractions of the horizon ``best_schedule`` tries by default.
SCHEDULE_FRACTIONS = (0.1, 0.2, 0.3, 0.5)


def _platform(env: object) -> PlatformEnv:
    base = getattr(env, "unwrapped", env)
    if not isinstance(base, PlatformEnv):
        raise TypeError(f"env must be a recgym platform environment (recgym.platform_env or "
                        f"gymnasium.make('recgym/Platform-v0')), got {type(env).__name__}")
    return base


def action_grid(env: object, points: int = 5) -> np.ndarray:
    """Every combination of ``points`` evenly spaced values per control, ``(points^m, m)``."""
    base = _platform(env)
    check_int("points", points, 1)
    axes = [np.linspace(low, high, points) for low, high in
            zip(base.action_space.low, base.action_space.high, strict=True)]
    return np.array(list(itertools.product(*axes)), dtype=np.float32)


@dataclass(frozen=True)
class StaticPlatform:
    """The same action every epoch."""

    action: np.ndarray

    def __call__(self, observation: np.ndarray, env: PlatformEnv) -> np.ndarray:
        return np.asarray(self.action, dtype=np.float32)


class MyopicPlatform:
    """Each epoch, the grid action with the best immediate SCF after the producers'
    response, simulated from the current state (ties: the first in the grid).

    Parameters
    ----------
    grid : array (m, a)
        Candidate actions (``action_grid``).
    """

    def __init__(self, grid: np.ndarray) -> None:
        self.grid = np.asarray(grid, dtype=np.float32)
        if self.grid.ndim != 2 or len(self.grid) == 0:
            raise ValueError(f"grid must be a non-empty 2-D array of actions, got shape "
                             f"{self.grid.shape}")

    def __call__(self, observation: np.ndarray, env: PlatformEnv) -> np.ndarray:
        base = _platform(env)
        values = [base.simulate(action) for action in self.grid]
        return self.grid[int(np.argmax(values))]


@dataclass(frozen=True)
class SchedulePlatform:
    """Explore early, exploit late: ``action``'s rule parameters every epoch, the
    learner's exploration at the top of its range while less than ``fraction`` of the
    horizon has passed (steps ``t < fraction * horizon``), then at the bottom.

    Parameters
    ----------
    action : array (m,)
        The rule parameters (its exploration entry is overwritten).
    fraction : float in [0, 1]
        Share of the horizon spent exploring.
    """

    action: np.ndarray
    fraction: float

    def __post_init__(self) -> None:
        check_float("fraction", self.fraction, 0.0, 1.0)

    def __call__(self, observation: np.ndarray, env: PlatformEnv) -> np.ndarray:
        base = _platform(env)
        index = _exploration_index(base)
        action = np.array(self.action, dtype=np.float32)
        exploring = base.step_count < self.fraction * base.horizon
        action[index] = (base.action_space.high if exploring else base.action_space.low)[index]
        return action


def _exploration_index(env: PlatformEnv) -> int:
    index = env.exploration_index
    if index is None:
        raise ValueError(f"the environment does not control a learner's exploration "
                         f"(learner {env.learner.spec!r}, controls {', '.join(env.controls)}): "
                         "a schedule needs learner= with an exploration parameter among the "
                         "controls")
    return index


def as_platform_policy(policy: object) -> PlatformPolicy:
    """A platform policy from an SB3 model (``predict``), a callable ``obs -> action`` or a
    policy ``(obs, env) -> action`` (``StaticPlatform``, ``MyopicPlatform``,
    ``SchedulePlatform``)."""
    if isinstance(policy, StaticPlatform | MyopicPlatform | SchedulePlatform):
        return policy
    if hasattr(policy, "predict"):
        return lambda observation, env: policy.predict(observation, deterministic=True)[0]
    if callable(policy):
        return lambda observation, env: policy(observation)
    raise TypeError(f"policy must be an SB3 model, a callable obs -> action or a platform "
                    f"policy, got {type(policy).__name__}")


@dataclass(frozen=True)
class PlatformEvaluation:
    """Whole episodes played by one policy.

    Attributes
    ----------
    cumulative_scf : array (episodes,)
        Sum of the SCF over each episode's steps.
    producers_retained : array (episodes,)
        Producers still active at each episode's end.
    steps : array (episodes,)
        Steps each episode lasted (less than the horizon if every producer or every
        user left).
    seeds : array (episodes,)
    users_retained : array (episodes,)
        Share of the starting users still active at each episode's end.
    clicks : array (episodes,)
        Sum of the clicks per starting user over each episode's steps.
    cumulative_reward : array (episodes,)
        Sum of the rewards (the SCF or the clicks, the environment's ``reward``).
    """

    cumulative_scf: np.ndarray
    producers_retained: np.ndarray
    steps: np.ndarray
    seeds: np.ndarray
    users_retained: np.ndarray
    clicks: np.ndarray
    cumulative_reward: np.ndarray

    @property
    def mean_clicks(self) -> float:
        """Mean over episodes."""
        return float(self.clicks.mean())

    @property
    def mean_cumulative_reward(self) -> float:
        """Mean over episodes."""
        return float(self.cumulative_reward.mean())

    @property
    def mean_cumulative_scf(self) -> float:
        """Mean over episodes."""
        return float(self.cumulative_scf.mean())

    @property
    def mean_producers_retained(self) -> float:
        """Mean over episodes."""
        return float(self.producers_retained.mean())

    @property
    def mean_users_retained(self) -> float:
        """Mean over episodes."""
        return float(self.users_retained.mean())


def evaluate_platform(policy: object, env: object, episodes: int = 5, seed: int = 0
                      ) -> PlatformEvaluation:
    """Play ``episodes`` episodes with seeds ``seed, seed + 1, ...``; see the module docs."""
    base = _platform(env)
    act = as_platform_policy(policy)
    episodes = check_int("episodes", episodes, 1)
    seed = check_int("seed", seed, 0)
    rows = [_episode(act, base, seed + episode) for episode in range(episodes)]
    totals, retained, lengths, users, clicks, rewards = (np.array(column) for column in
                                                         zip(*rows, strict=True))
    return PlatformEvaluation(totals, retained, lengths, np.arange(seed, seed + episodes),
                              users, clicks, rewards)


def _episode(act: PlatformPolicy, env: PlatformEnv, seed: int
             ) -> tuple[float, int, int, float, float, float]:
    """One episode: ``(cumulative SCF, producers retained, steps, users retained,
    cumulative clicks, cumulative reward)``."""
    observation, _ = env.reset(seed=seed)
    scf = clicks = reward_total = 0.0
    steps, done = 0, False
    while not done:
        observation, reward, terminated, truncated, info = env.step(act(observation, env))
        scf += info["scf"]
        clicks += info["clicks"]
        reward_total += reward
        steps += 1
        done = terminated or truncated
    return scf, int(env.active.sum()), steps, env.active_users, clicks, reward_total


def _figures(result: PlatformEvaluation) -> dict[str, float]:
    """The comparison tables' columns of one evaluation (means over episodes)."""
    return {"cumulative_scf": result.mean_cumulative_scf,
            "users_retained": result.mean_users_retained,
            "producers_retained": result.mean_producers_retained,
            "clicks": result.mean_clicks, "cumulative_reward": result.mean_cumulative_reward}


def best_static(env: object, grid: np.ndarray, episodes: int = 5, seed: int = 0
                ) -> tuple[StaticPlatform, pd.DataFrame]:
    """The grid action with the best mean cumulative reward over whole episodes (the SCF
    or the clicks, as the environment rewards; same seeds for every action; ties: the
    first), and the table of every action's figures. The grid spans every control, the
    learner's exploration included (``action_grid``)."""
    rows = [{"action": action, **_figures(evaluate_platform(StaticPlatform(action), env,
                                                            episodes, seed))}
            for action in np.asarray(grid, dtype=np.float32)]
    import pandas as pd

    table = pd.DataFrame(rows)
    return StaticPlatform(table["action"][int(table["cumulative_reward"].idxmax())]), table


def best_schedule(env: object, action: np.ndarray,
                  fractions: Sequence[float] = SCHEDULE_FRACTIONS, episodes: int = 5,
                  seed: int = 0) -> tuple[SchedulePlatform, pd.DataFrame]:
    """The schedule (``SchedulePlatform(action, f)``) with the best mean cumulative reward
    over the ``fractions`` (same seeds; ties: the first), and the table of each one's
    figures. ``action`` is usually the best static action (its rule parameters)."""
    _exploration_index(_platform(env))
    rows = [{"fraction": float(f), **_figures(evaluate_platform(
        SchedulePlatform(np.asarray(action, dtype=np.float32), float(f)), env, episodes,
        seed))} for f in fractions]
    if not rows:
        raise ValueError("fractions must name at least one share of the horizon")
    import pandas as pd

    table = pd.DataFrame(rows)
    best = float(table["fraction"][int(table["cumulative_reward"].idxmax())])
    return SchedulePlatform(np.asarray(action, dtype=np.float32), best), table


def compare_platforms(policies: Mapping[str, object], env: object, episodes: int = 5,
                      seed: int = 0) -> pd.DataFrame:
    """One row per policy: mean cumulative SCF, share of users and producers retained,
    cumulative clicks per starting user and cumulative reward on the same seeds, and
    the cumulative SCF relative to the first policy."""
    rows = [{"policy": name, **_figures(evaluate_platform(policy, env, episodes, seed)),
             "episodes": episodes} for name, policy in policies.items()]
    import pandas as pd

    table = pd.DataFrame(rows)
    table["relative_to_first"] = table["cumulative_scf"] / table["cumulative_scf"].iloc[0]
    return table
