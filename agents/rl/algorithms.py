"""The SB3 algorithms RL producers can use, and their default settings for this game.

The engagement game is static: a step's reward depends only on that step's
actions (the observation only tells a producer what the others played last).
There is no credit to assign across steps, so the defaults use ``gamma = 0``
(each update is a best-response step against the others' current play); a
larger ``gamma`` is legal but adds variance. The other defaults are small MLPs
(two layers of 64) and, for PPO, short rollouts so that policies update often.

PPO's Gaussian policy is started where SAC's and TD3's squashed policies start:
its mean action is the centre of the action box (``0.5``: every producer posts
the uniform mix once projected), with a small standard deviation
(``exp(-1)``). Its weights use PyTorch's default initialisation rather than
SB3's orthogonal one (whose last layer has gain 0.01): the initial actions then
differ between producers, which breaks the symmetry of a shared policy; with
orthogonal initialisation every producer starts with the same action and the
shared policy tends to herd all producers onto the same few features.
(Both choices were picked on the benchmark game, ``benchmarks/bench_rl.py``.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import PPO, SAC, TD3
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.noise import NormalActionNoise
from stable_baselines3.common.vec_env import VecEnv

from agents.rl.config import ALGOS, check_algo

#: Algorithm name -> SB3 class (names: ``agents.rl.config.ALGOS``).
ALGORITHMS: dict[str, type[BaseAlgorithm]] = dict(zip(ALGOS, (PPO, SAC, TD3), strict=True))
#: Hidden layers of every policy and value network.
NET_ARCH = [64, 64]
#: PPO: steps per sub-environment per rollout, and minibatches per epoch.
PPO_N_STEPS = 64
PPO_MINIBATCHES = 4
#: PPO: initial log standard deviation of the Gaussian policy (actions live in [0, 1]).
PPO_LOG_STD_INIT = -1.0
#: PPO: learning rate (SB3's default 3e-4 converges about twice as slowly here).
PPO_LEARNING_RATE = 1e-3
#: SAC/TD3: replay buffer size, minibatch size, random steps (per model) before learning.
OFF_POLICY_BUFFER = 100_000
OFF_POLICY_BATCH = 256
OFF_POLICY_LEARNING_STARTS = 1_000
#: TD3: standard deviation of the Gaussian exploration noise (actions live in [0, 1]).
TD3_NOISE_STD = 0.2

__all__ = ["ALGORITHMS", "ALGOS", "check_algo", "default_kwargs", "make_model"]


def default_kwargs(algo: str, env: VecEnv, gamma: float = 0.0) -> dict[str, Any]:
    """Constructor arguments of ``algo`` for RL producers on ``env`` (module docstring)."""
    algo = check_algo(algo)
    policy_kwargs: dict[str, Any] = {"net_arch": list(NET_ARCH)}
    if algo == "ppo":
        policy_kwargs.update(log_std_init=PPO_LOG_STD_INIT, ortho_init=False)
        batch = max(PPO_N_STEPS * env.num_envs // PPO_MINIBATCHES, 2)
        return {"n_steps": PPO_N_STEPS, "batch_size": batch, "gamma": gamma,
                "learning_rate": PPO_LEARNING_RATE, "policy_kwargs": policy_kwargs}
    kwargs: dict[str, Any] = {"buffer_size": OFF_POLICY_BUFFER, "batch_size": OFF_POLICY_BATCH,
                              "learning_starts": OFF_POLICY_LEARNING_STARTS, "gamma": gamma,
                              "policy_kwargs": policy_kwargs}
    if algo == "td3":
        dim = env.action_space.shape[0]
        kwargs["action_noise"] = NormalActionNoise(np.zeros(dim), np.full(dim, TD3_NOISE_STD))
    return kwargs


def make_model(algo: str, env: VecEnv, seed: int | None = 0, device: str = "cpu",
               verbose: int = 0, **overrides: Any) -> BaseAlgorithm:
    """An SB3 model of ``algo`` on ``env`` with ``default_kwargs``, updated by ``overrides``.

    Parameters
    ----------
    algo : {"ppo", "sac", "td3"}
    env : VecEnv
        With ``Box`` observation and action spaces.
    seed : int, optional
        SB3's seed (seeds torch, numpy, the action space and ``env.seed``).
    device : str
        Torch device; small MLPs run fastest on ``"cpu"``.
    verbose : int
    **overrides
        Any constructor argument of the SB3 class (``learning_rate``, ``gamma``, ...).

    Raises
    ------
    ValueError
        Unknown ``algo`` or spaces that are not ``Box``.
    """
    algo = check_algo(algo)
    for kind, space in (("observation", env.observation_space), ("action", env.action_space)):
        if not isinstance(space, spaces.Box):
            raise ValueError(f"incompatible {kind} space {space!r}: {algo} producers need "
                             f"gymnasium.spaces.Box {kind}s")
    kwargs = default_kwargs(algo, env, overrides.pop("gamma", 0.0))
    policy_kwargs = {**kwargs.pop("policy_kwargs"), **overrides.pop("policy_kwargs", {})}
    kwargs.update(overrides)
    model = ALGORITHMS[algo]("MlpPolicy", env, seed=seed, device=device, verbose=verbose,
                             policy_kwargs=policy_kwargs, **kwargs)
    if isinstance(model, PPO) and not model.policy.squash_output:
        _centre_mean_action(model, env.action_space)
    return model


def _centre_mean_action(model: PPO, space: spaces.Box) -> None:
    """Start the Gaussian policy's mean action at the centre of the action box."""
    centre = torch.as_tensor((space.low + space.high) / 2.0, dtype=torch.float32)
    with torch.no_grad():
        model.policy.action_net.bias.copy_(centre.to(model.policy.action_net.bias.device))
