r"""Platform policies for ``recgym.platform_env``: static, myopic and learned.

A platform policy is called as ``policy(observation, env) -> action`` (``env`` the
platform environment, for policies that look ahead). Three kinds:

* ``StaticPlatform(action)``: the same rule parameters every epoch;
  ``best_static(env, grid, episodes, seed)`` finds the best one of a grid,
  judged over whole episodes (cumulative SCF, the same seeds for every action);
* ``MyopicPlatform(grid)``: each epoch, the action of the grid whose immediate
  post-response SCF is best, found by simulating the producers' response to every
  action from the same state (``PlatformEnv.simulate``);
* a trained Stable-Baselines3 model (``as_platform_policy`` wraps it; its actions
  are deterministic).

``evaluate_platform(policy, env, episodes, seed)`` plays whole episodes and reports
each one's cumulative SCF, producers retained and share of users retained (below 1
only with user departures, ``recgym.platform``); ``compare_platforms`` does it for
several policies on the same seeds. With user dynamics or departures the myopic
policy's look-ahead simulates the users too (``PlatformEnv.simulate``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from recgym._validation import check_int
from recgym.platform import PlatformEnv

if TYPE_CHECKING:  # pandas loads with the tables: `recgym --help` does not need it
    import pandas as pd

#: ``policy(observation, env) -> action``.
PlatformPolicy = Callable[[np.ndarray, PlatformEnv], np.ndarray]

__all__ = ["MyopicPlatform", "PlatformEvaluation", "PlatformPolicy", "StaticPlatform",
           "action_grid", "as_platform_policy", "best_static", "compare_platforms",
           "evaluate_platform"]


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


def as_platform_policy(policy: object) -> PlatformPolicy:
    """A platform policy from an SB3 model (``predict``), a callable ``obs -> action`` or a
    policy ``(obs, env) -> action`` (``StaticPlatform``, ``MyopicPlatform``)."""
    if isinstance(policy, StaticPlatform | MyopicPlatform):
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
    """

    cumulative_scf: np.ndarray
    producers_retained: np.ndarray
    steps: np.ndarray
    seeds: np.ndarray
    users_retained: np.ndarray

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
    totals, retained, lengths, users = [], [], [], []
    for episode in range(episodes):
        observation, _ = base.reset(seed=seed + episode)
        total, steps, done = 0.0, 0, False
        while not done:
            observation, reward, terminated, truncated, _ = base.step(act(observation, base))
            total += reward
            steps += 1
            done = terminated or truncated
        totals.append(total)
        retained.append(int(base.active.sum()))
        users.append(base.active_users)
        lengths.append(steps)
    return PlatformEvaluation(np.array(totals), np.array(retained), np.array(lengths),
                              np.arange(seed, seed + episodes), np.array(users))


def best_static(env: object, grid: np.ndarray, episodes: int = 5, seed: int = 0
                ) -> tuple[StaticPlatform, pd.DataFrame]:
    """The grid action with the best mean cumulative SCF over whole episodes (same seeds
    for every action), and the table of every action's figures."""
    rows = []
    for action in np.asarray(grid, dtype=np.float32):
        result = evaluate_platform(StaticPlatform(action), env, episodes, seed)
        rows.append({"action": action, "cumulative_scf": result.mean_cumulative_scf,
                     "producers_retained": result.mean_producers_retained,
                     "users_retained": result.mean_users_retained})
    import pandas as pd

    table = pd.DataFrame(rows)
    return StaticPlatform(table["action"][int(table["cumulative_scf"].idxmax())]), table


def compare_platforms(policies: Mapping[str, object], env: object, episodes: int = 5,
                      seed: int = 0) -> pd.DataFrame:
    """One row per policy: mean cumulative SCF, producers and share of users retained on
    the same seeds, and the cumulative SCF relative to the first policy."""
    rows = []
    for name, policy in policies.items():
        result = evaluate_platform(policy, env, episodes, seed)
        rows.append({"policy": name, "cumulative_scf": result.mean_cumulative_scf,
                     "producers_retained": result.mean_producers_retained,
                     "users_retained": result.mean_users_retained, "episodes": episodes})
    import pandas as pd

    table = pd.DataFrame(rows)
    table["relative_to_first"] = table["cumulative_scf"] / table["cumulative_scf"].iloc[0]
    return table
