"""The SB3 algorithms RL producers can use, and their default settings for this game.

The engagement game is static: a step's reward depends only on that step's
actions (the observation only tells a producer what the others played last).
There is no credit to assign across steps, so the defaults use ``gamma = 0``
(each update is a best-response step against the others' current play); a
larger ``gamma`` is legal but adds variance. The other defaults are small MLPs
(two layers of 64 for Box actions, of 32 for Discrete ones: the vertex-mixture
policy learns markedly more slowly with 32, the categorical policy does not)
and, for PPO, short rollouts (``PPO_N_STEPS`` steps of every copy of the game)
used whole, ``PPO_N_EPOCHS`` times: with ``recgym train``'s 8 copies of the benchmark
game (``n = 5``, ``agents.rl.config.DEFAULT_N_ENVS``) an update every 320 agent-steps,
five gradient steps each. Compared with SB3's ten epochs of minibatches, this costs
nothing in agent-steps to equilibrium and takes about half the time per
agent-step (``benchmarks/bench_rl.py``).

PPO's policy depends on the action space:

* ``Discrete`` (``action_type="vertex"``): SB3's categorical ``MlpPolicy``.
* ``Box`` (``action_type="box"``), ``box_policy="mixture"`` (default): one Gaussian
  per vertex, mixed by learned weights (``agents.rl.policies``), so that a
  producer can jump between features; ``box_policy="gaussian"``: SB3's diagonal
  Gaussian, which stalls on a vertex when every vertex is a local optimum.

Both Box policies start with a small standard deviation (``exp(-1)``) and use
PyTorch's default initialisation rather than SB3's orthogonal one (whose last
layer has gain 0.01): the initial actions then differ between producers, which
breaks the symmetry of a shared policy. The Gaussian's mean action starts at the
centre of the action box (``0.5``: every producer posts the uniform mix once
projected), where SAC's and TD3's squashed policies start.
(These choices were picked on the benchmark game, ``benchmarks/bench_rl.py``.)
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

from agents.monitoring import tensorboard_logger
from agents.rl.config import ALGOS, BOX_POLICIES, PPO_LEARNING_RATE, PPO_N_STEPS, check_algo
from agents.rl.policies import VertexMixturePolicy
from recgym._validation import check_choice, check_int

#: Algorithm name -> SB3 class (names: ``agents.rl.config.ALGOS``).
ALGORITHMS: dict[str, type[BaseAlgorithm]] = dict(zip(ALGOS, (PPO, SAC, TD3), strict=True))
#: Hidden layers of the policy and value networks: Box actions (the mixture's ``d + d^2``
#: outputs need the width), Discrete actions (``d`` logits; half the time per agent-step).
NET_ARCH_BOX = [64, 64]
NET_ARCH_DISCRETE = [32, 32]
#: PPO: minibatches per epoch, epochs per rollout (steps per sub-environment per rollout:
#: ``agents.rl.config.PPO_N_STEPS``).
PPO_MINIBATCHES = 1
PPO_N_EPOCHS = 5
#: PPO: initial log standard deviation of the Box policies (actions live in [0, 1]).
PPO_LOG_STD_INIT = -1.0
#: SAC/TD3: replay buffer size, minibatch size, random steps (per model) before learning.
OFF_POLICY_BUFFER = 100_000
OFF_POLICY_BATCH = 256
OFF_POLICY_LEARNING_STARTS = 1_000
#: TD3: standard deviation of the Gaussian exploration noise (actions live in [0, 1]).
TD3_NOISE_STD = 0.2
#: Torch CPU threads set by ``make_model`` (as ``recgym train``): these networks are small,
#: and one thread is faster than torch's default of one per core.
DEFAULT_TORCH_THREADS = 1

__all__ = ["ALGORITHMS", "ALGOS", "BOX_POLICIES", "DEFAULT_TORCH_THREADS", "check_algo",
           "check_spaces", "default_kwargs", "make_model", "net_arch",
           "policy_class", "tensorboard_logger"]


def net_arch(action_space: spaces.Space) -> list[int]:
    """Hidden layers for policies acting in ``action_space`` (``NET_ARCH_BOX`` or
    ``NET_ARCH_DISCRETE``)."""
    return list(NET_ARCH_BOX if isinstance(action_space, spaces.Box) else NET_ARCH_DISCRETE)


def default_kwargs(algo: str, env: VecEnv, gamma: float = 0.0, n_steps: int = PPO_N_STEPS
                   ) -> dict[str, Any]:
    """Constructor arguments of ``algo`` for RL producers on ``env`` (module docstring);
    PPO's minibatches split rollouts of ``n_steps`` steps."""
    algo = check_algo(algo)
    policy_kwargs: dict[str, Any] = {"net_arch": net_arch(env.action_space)}
    if algo == "ppo":
        if isinstance(env.action_space, spaces.Box):
            policy_kwargs.update(log_std_init=PPO_LOG_STD_INIT, ortho_init=False)
        else:
            policy_kwargs.update(ortho_init=False)
        batch = max(n_steps * env.num_envs // PPO_MINIBATCHES, 2)
        return {"n_steps": n_steps, "batch_size": batch, "n_epochs": PPO_N_EPOCHS,
                "gamma": gamma, "learning_rate": PPO_LEARNING_RATE,
                "policy_kwargs": policy_kwargs}
    kwargs: dict[str, Any] = {"buffer_size": OFF_POLICY_BUFFER, "batch_size": OFF_POLICY_BATCH,
                              "learning_starts": OFF_POLICY_LEARNING_STARTS, "gamma": gamma,
                              "policy_kwargs": policy_kwargs}
    if algo == "td3":
        dim = env.action_space.shape[0]
        kwargs["action_noise"] = NormalActionNoise(np.zeros(dim), np.full(dim, TD3_NOISE_STD))
    return kwargs


def policy_class(algo: str, env: VecEnv, box_policy: str = "mixture") -> type | str:
    """The policy ``algo`` uses on ``env``: ``VertexMixturePolicy`` for PPO on Box actions
    with ``box_policy="mixture"``, SB3's ``"MlpPolicy"`` otherwise."""
    if (check_algo(algo) == "ppo" and isinstance(env.action_space, spaces.Box)
            and check_choice("box_policy", box_policy, BOX_POLICIES) == "mixture"):
        return VertexMixturePolicy
    return "MlpPolicy"


def make_model(algo: str, env: VecEnv, seed: int | None = 0, device: str = "cpu",
               verbose: int = 0, box_policy: str = "mixture", policy: type | None = None,
               torch_threads: int | None = DEFAULT_TORCH_THREADS, **overrides: Any
               ) -> BaseAlgorithm:
    """An SB3 model of ``algo`` on ``env`` with ``default_kwargs``, updated by ``overrides``.

    Parameters
    ----------
    algo : {"ppo", "sac", "td3"}
    env : VecEnv
        With ``Box`` observations and ``Box`` actions (``Discrete`` ones for PPO).
    seed : int, optional
        SB3's seed (seeds torch, numpy, the action space and ``env.seed``).
    device : str
        Torch device; small MLPs run fastest on ``"cpu"``.
    verbose : int
    box_policy : {"mixture", "gaussian"}
        PPO's policy for Box actions (module docstring); ignored otherwise.
    policy : SB3 policy class, optional
        Instead of ``policy_class(algo, env, box_policy)``.
    torch_threads : int >= 1 or None
        Sets torch's CPU threads for the process (``torch.set_num_threads``); default
        ``DEFAULT_TORCH_THREADS``, as ``recgym train``; ``None`` leaves torch's setting.
    **overrides
        Any constructor argument of the SB3 class (``learning_rate``, ``gamma``, ...).

    Raises
    ------
    ValueError
        Unknown ``algo`` or ``box_policy``, or spaces ``algo`` cannot use
        (``check_spaces``).
    """
    algo = check_algo(algo)
    check_spaces(algo, env)
    if torch_threads is not None:
        torch.set_num_threads(check_int("torch_threads", torch_threads, 1))
    policy = policy_class(algo, env, box_policy) if policy is None else policy
    kwargs = default_kwargs(algo, env, overrides.pop("gamma", 0.0),
                            overrides.get("n_steps", PPO_N_STEPS))
    policy_kwargs = {**kwargs.pop("policy_kwargs"), **overrides.pop("policy_kwargs", {})}
    kwargs.update(overrides)
    model = ALGORITHMS[algo](policy, env, seed=seed, device=device, verbose=verbose,
                             policy_kwargs=policy_kwargs, **kwargs)
    if policy == "MlpPolicy" and isinstance(model, PPO) and isinstance(env.action_space,
                                                                       spaces.Box):
        _centre_mean_action(model, env.action_space)
    if kwargs.get("tensorboard_log") is None:
        # SB3 alone would make an empty /tmp/SB3-<date> folder per learn().
        model.set_logger(tensorboard_logger(None, verbose))
    return model


def check_spaces(algo: str, env: VecEnv) -> None:
    """``ValueError`` unless ``algo`` can act on ``env``: ``Box`` observations, and ``Box``
    actions or (PPO only) ``Discrete`` ones (``action_type="vertex"``)."""
    if not isinstance(env.observation_space, spaces.Box):
        raise ValueError(f"incompatible observation space {env.observation_space!r}: {algo} "
                         f"producers need gymnasium.spaces.Box observations")
    allowed = (spaces.Box, spaces.Discrete) if algo == "ppo" else (spaces.Box,)
    if not isinstance(env.action_space, allowed):
        raise ValueError(f"incompatible action space {env.action_space!r}: {algo} producers "
                         f"need action_type 'box' (gymnasium.spaces.Box actions); "
                         f"action_type 'vertex' (Discrete) works with ppo only")


def _centre_mean_action(model: PPO, space: spaces.Box) -> None:
    """Start the Gaussian policy's mean action at the centre of the action box."""
    centre = torch.as_tensor((space.low + space.high) / 2.0, dtype=torch.float32)
    with torch.no_grad():
        model.policy.action_net.bias.copy_(centre.to(model.policy.action_net.bias.device))
