r"""A PettingZoo parallel environment seen by Stable-Baselines3 as a vectorised environment.

Every producer of every copy of the game is one SB3 sub-environment, so one SB3
model acting on ``ProducerVecEnv`` is one policy shared by all producers
(parameter sharing); the producer's identity reaches the policy through the
one-hot id in its observation (``recgym.observations``).

Layout
------
With ``C`` copies of a game of ``n`` producers, ``num_envs = C n`` and sub-env
``c n + i`` is producer ``i`` (``possible_agents[i]``) of copy ``c``.

* ``step_async(actions (C n, d))`` (embeddings) or ``(C n,)`` (feature indices,
  ``action_type="vertex"``) stores the actions; ``step_wait`` steps each copy
  once with all its producers' actions.
* ``rewards (C n,) float32`` and ``dones (C n,) bool``; a copy's episode ends for
  all its producers at once, when every producer has left or at the horizon.
* Producers that leave (outside options, ``recgym.environment``) stay in their
  slots with zero observations and zero rewards until their copy's episode ends,
  as SuperSuit's black-death wrapper does: a departed producer's slot carries no
  learning signal, and its actions are ignored.
* When a copy's episode ends it is reset at once (SB3's auto-reset): the
  returned observations are the new episode's first ones, and each of its
  producers' ``infos`` holds ``"TimeLimit.truncated": True`` when the end was a
  truncation and the last observation of the finished episode under
  ``"terminal_observation"``, so that SB3 bootstraps the value there. With
  ``terminal_observations=False`` that observation is left out: with ``gamma = 0``
  (``shared_model``'s default) SB3 would compute one value per finished copy only
  to multiply it by 0.
* Seeding: ``seed(s)`` (which SB3 models call with their ``seed``) makes the next
  ``reset`` reset copy ``c`` with seed ``s + c``; later auto-resets continue each
  copy's own generator.

Why not SuperSuit
-----------------
SuperSuit 3.11's ``pettingzoo_env_to_vec_env_v1`` + ``concat_vec_envs_v1`` produce
the same observations and rewards (``tests/test_rl.py`` checks this when SuperSuit
is installed), but with SB3 2.9 they cannot be seeded (``PPO(..., seed=0)`` raises
``AttributeError: 'ConcatVecEnv' object has no attribute 'seed'``) and they drop
the truncation flag, so SB3 cannot bootstrap at the horizon. This adapter has
neither problem and no extra dependency.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv
from stable_baselines3.common.vec_env.base_vec_env import (
    VecEnv,
    VecEnvIndices,
    VecEnvObs,
    VecEnvStepReturn,
)

__all__ = ["ProducerVecEnv", "check_parallel_env"]

def check_parallel_env(env: object) -> tuple[spaces.Box, spaces.Box | spaces.Discrete]:
    """Check that ``env`` can be trained by SB3 policies; return its (observation, action) spaces.

    Requirements: a PettingZoo ``ParallelEnv`` whose producers all share one
    ``Box`` observation space and one action space, ``Box`` (embeddings,
    ``action_type="box"``) or ``Discrete`` (feature indices, ``action_type="vertex"``).

    Raises
    ------
    TypeError
        If ``env`` is not a PettingZoo ``ParallelEnv``.
    ValueError
        If the spaces are of other kinds or differ between agents.
    """
    if not isinstance(env, ParallelEnv):
        raise TypeError(f"env must be a PettingZoo ParallelEnv (e.g. recgym.parallel_env()), "
                        f"got {type(env).__name__}")
    agents = list(env.possible_agents)
    if not agents:
        raise ValueError("env has no agents (possible_agents is empty)")
    observation_space = env.observation_space(agents[0])
    action_space = env.action_space(agents[0])
    if not isinstance(observation_space, spaces.Box):
        raise ValueError(f"incompatible observation space {observation_space!r} of "
                         f"{agents[0]}: the RL producers need gymnasium.spaces.Box observations")
    if not isinstance(action_space, spaces.Box | spaces.Discrete):
        raise ValueError(f"incompatible action space {action_space!r} of {agents[0]}: the RL "
                         f"producers need gymnasium.spaces.Box or Discrete actions")
    for agent in agents[1:]:
        if (env.observation_space(agent) != observation_space
                or env.action_space(agent) != action_space):
            raise ValueError(f"incompatible spaces: {agent} has observation space "
                             f"{env.observation_space(agent)} and action space "
                             f"{env.action_space(agent)}, {agents[0]} has {observation_space} "
                             f"and {action_space}; every producer must have the same spaces")
    return observation_space, action_space


class ProducerVecEnv(VecEnv):
    """SB3 ``VecEnv`` over the producers of one or more copies of a parallel environment.

    Parameters
    ----------
    envs : ParallelEnv or sequence of ParallelEnv
        The copies of the game (e.g. ``[recgym.parallel_env(**kw) for _ in
        range(4)]``); all with the same agents and spaces. They are owned by the
        adapter from now on (stepped and reset by it).
    terminal_observations : bool
        Put each finished episode's last observations in ``infos`` (module docstring).

    Raises
    ------
    TypeError, ValueError
        Not parallel environments, unusable or differing spaces, copies with
        different agents (see ``check_parallel_env``).
    """

    def __init__(self, envs: ParallelEnv | Sequence[ParallelEnv],
                 terminal_observations: bool = True) -> None:
        self.envs: list[ParallelEnv] = list(envs) if isinstance(envs, Sequence) else [envs]
        self.terminal_observations = bool(terminal_observations)
        if not self.envs:
            raise ValueError("envs must hold at least one parallel environment, got none")
        observation_space, action_space = check_parallel_env(self.envs[0])
        self.agents: list[str] = list(self.envs[0].possible_agents)
        for copy in self.envs[1:]:
            if check_parallel_env(copy) != (observation_space, action_space) \
                    or list(copy.possible_agents) != self.agents:
                raise ValueError("every copy in envs must have the same agents and spaces as "
                                 f"the first; got agents {list(copy.possible_agents)}")
        self.n_agents: int = len(self.agents)  # n, producers per copy
        self.n_copies: int = len(self.envs)  # C
        super().__init__(self.n_copies * self.n_agents, observation_space, action_space)
        self._copy_seeds: list[int | None] = [None] * self.n_copies
        self._actions: np.ndarray | None = None  # (C n, d) or (C n,), set by step_async
        self._obs: np.ndarray = np.zeros((self.num_envs, *observation_space.shape),
                                         dtype=observation_space.dtype)  # current observations

    # ------------------------------------------------------------------ seeding and reset
    def seed(self, seed: int | None = None) -> list[int | None]:
        """Seed the next ``reset``: copy ``c`` gets ``seed + c``; returns one seed per sub-env."""
        self._copy_seeds = [None if seed is None else int(seed) + c for c in range(self.n_copies)]
        return [s for s in self._copy_seeds for _ in range(self.n_agents)]

    def reset(self) -> VecEnvObs:
        """Reset every copy (seeds from ``seed`` apply once); observations ``(C n, ...)``."""
        for c, env in enumerate(self.envs):
            options = self._options[c * self.n_agents] or None
            obs, infos = env.reset(seed=self._copy_seeds[c], options=options)
            self._store(c, obs)
            for i, agent in enumerate(self.agents):
                self.reset_infos[c * self.n_agents + i] = infos.get(agent, {})
        self._copy_seeds = [None] * self.n_copies
        self._reset_seeds()
        self._reset_options()
        return self._obs.copy()

    # ------------------------------------------------------------------ stepping
    def step_async(self, actions: np.ndarray) -> None:
        """Store the actions ``(C n, *action_shape)`` of every producer of every copy."""
        actions = np.asarray(actions)
        expected = (self.num_envs, *self.action_space.shape)
        if actions.shape != expected:
            raise ValueError(f"actions must have shape {expected} (one row per producer of "
                             f"each copy), got shape {actions.shape}")
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        """Step every copy once; auto-reset the copies whose episode ended."""
        if self._actions is None:
            raise RuntimeError("step_wait called without step_async")
        actions, self._actions = self._actions, None
        rewards = np.zeros(self.num_envs, dtype=np.float32)
        dones = np.zeros(self.num_envs, dtype=bool)
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for c, env in enumerate(self.envs):
            rows = slice(c * self.n_agents, (c + 1) * self.n_agents)
            live = list(env.agents)
            step_actions = {a: actions[rows][i] for i, a in enumerate(self.agents) if a in live}
            obs, rew, term, trunc, info = env.step(step_actions)
            self._store(c, obs)
            rewards[rows] = [rew.get(a, 0.0) for a in self.agents]  # 0 once a producer left
            for i, agent in enumerate(self.agents):
                infos[c * self.n_agents + i] = dict(info.get(agent, {}))
            if not env.agents:  # every producer left, or the horizon: the copy's episode ends
                dones[rows] = True
                truncated = any(trunc.get(a, False) for a in live)
                self._end_episode(c, infos, truncated)
        return self._obs.copy(), rewards, dones, infos

    def _end_episode(self, c: int, infos: list[dict[str, Any]], truncated: bool) -> None:
        """Record copy ``c``'s last observations in ``infos`` and reset it (SB3 auto-reset).

        ``truncated``: the episode ended at the horizon (SB3 then bootstraps its value).
        """
        for i in range(self.n_agents):
            k = c * self.n_agents + i
            if self.terminal_observations:
                infos[k]["terminal_observation"] = self._obs[k].copy()
            infos[k]["TimeLimit.truncated"] = truncated
        obs, reset_infos = self.envs[c].reset()
        self._store(c, obs)
        for i, agent in enumerate(self.agents):
            self.reset_infos[c * self.n_agents + i] = reset_infos.get(agent, {})

    def _store(self, c: int, obs: dict[str, np.ndarray]) -> None:
        """Copy ``c``'s observations; a producer that left sees zeros (black death)."""
        for i, agent in enumerate(self.agents):
            k = c * self.n_agents + i
            if agent in obs:
                self._obs[k] = obs[agent]
            else:
                self._obs[k] = 0

    # ------------------------------------------------------------------ VecEnv plumbing
    def close(self) -> None:
        for env in self.envs:
            env.close()

    def _copies(self, indices: VecEnvIndices) -> list[int]:
        """The copy of each requested sub-env."""
        return [k // self.n_agents for k in self._get_indices(indices)]

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """Attribute of the copy each requested sub-env belongs to (``env.unwrapped``)."""
        return [getattr(self.envs[c].unwrapped, attr_name) for c in self._copies(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        for c in sorted(set(self._copies(indices))):
            setattr(self.envs[c].unwrapped, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None,
                   **method_kwargs: Any) -> list[Any]:
        return [getattr(self.envs[c].unwrapped, method_name)(*method_args, **method_kwargs)
                for c in self._copies(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        """Parallel environments are not gymnasium wrappers: always False."""
        return [False] * len(self._get_indices(indices))

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [env.render() for env in self.envs]
