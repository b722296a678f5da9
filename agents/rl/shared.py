"""One SB3 policy shared by every producer (parameter sharing).

The producers of ``C`` copies of the game are the ``C n`` sub-environments of a
``ProducerVecEnv``; a single model (PPO, SAC or TD3) acts for all of them and
learns from all their experience. Producers are told apart by the one-hot id
in their observations (``recgym.parallel_env(agent_ids=True)``, the default).

It is *not* plain ``PPO("MlpPolicy", ProducerVecEnv(envs), gamma=0.0, seed=0)``:
the model gets the defaults of ``agents.rl.algorithms`` (for PPO: learning rate
``PPO_LEARNING_RATE``, rollouts of ``PPO_N_STEPS`` steps used ``PPO_N_EPOCHS``
times, PyTorch's default initialisation instead of SB3's orthogonal one, and for
Box actions the vertex-mixture policy ``VertexMixturePolicy``, or with
``box_policy="gaussian"`` SB3's Gaussian with its mean action at the centre of the
action box), and the vectorised environment (which with ``gamma = 0`` leaves the
horizon's last observations out) is wrapped in ``VecMonitor`` for SB3's episode
statistics. The plain SB3 equivalent of ``shared_model(envs, seed=0)`` is

>>> import recgym, torch
>>> from stable_baselines3 import PPO
>>> from stable_baselines3.common.vec_env import VecMonitor
>>> from agents.rl import ProducerVecEnv, VertexMixturePolicy, shared_model
>>> from agents.rl.algorithms import default_kwargs
>>> def envs():
...     return [recgym.parallel_env(n_producers=2, dim=3, n_users=20)]
>>> venv = VecMonitor(ProducerVecEnv(envs(), terminal_observations=False))
>>> plain = PPO(VertexMixturePolicy, venv, seed=0, **default_kwargs("ppo", venv))
>>> ours = shared_model(envs(), seed=0)
>>> all(torch.equal(a, b) for a, b in zip(ours.policy.state_dict().values(),
...                                       plain.policy.state_dict().values()))
True
>>> import inspect  # plain PPO's own learning rate differs
>>> ours.learning_rate, inspect.signature(PPO).parameters["learning_rate"].default
(0.003, 0.0003)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pettingzoo import ParallelEnv
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import VecMonitor

from agents.rl.adapter import ProducerVecEnv
from agents.rl.algorithms import make_model, tensorboard_logger

__all__ = ["check_agent_ids", "shared_model"]


def shared_model(envs: ParallelEnv | Sequence[ParallelEnv], algo: str = "ppo", seed: int = 0,
                 logdir: str | Path | None = None, device: str = "cpu", verbose: int = 0,
                 **algo_kwargs: Any) -> BaseAlgorithm:
    """An SB3 model acting for every producer of ``envs``.

    Parameters
    ----------
    envs : ParallelEnv or sequence of ParallelEnv
        Copies of the game (see ``ProducerVecEnv``); owned by the model from now on.
    algo : {"ppo", "sac", "td3"}
    seed : int
        SB3's seed: seeds torch, numpy and the copies (copy ``c`` starts from
        ``seed + c``).
    logdir : str or Path, optional
        TensorBoard run directory for SB3's standard logs (and the callbacks').
    device : str
    verbose : int
    **algo_kwargs
        Arguments of ``agents.rl.algorithms.make_model``: SB3 constructor arguments and
        ``torch_threads`` (torch's CPU threads for the process, default 1 as in
        ``recgym train``; ``None`` leaves torch's own setting).

    Returns
    -------
    BaseAlgorithm
        Call ``learn(total_timesteps, callback=...)``; ``total_timesteps`` counts
        agent-steps (every producer of every copy counts one per step).

    Examples
    --------
    >>> import recgym
    >>> from agents.rl import shared_model
    >>> envs = [recgym.parallel_env(n_producers=2, dim=2, n_users=20, horizon=4)]
    >>> model = shared_model(envs, seed=0, n_steps=8, batch_size=8)
    >>> model.learn(32).num_timesteps
    32
    """
    venv = ProducerVecEnv(envs, terminal_observations=algo_kwargs.get("gamma", 0.0) > 0)
    check_agent_ids(venv)
    model = make_model(algo, VecMonitor(venv), seed=seed, device=device, verbose=verbose,
                       **algo_kwargs)
    if logdir is not None:
        model.set_logger(tensorboard_logger(Path(logdir), verbose))
    return model


def check_agent_ids(venv: ProducerVecEnv) -> None:
    """Warn when recgym observations carry no producer id (a shared policy cannot tell
    producers apart, except by their own last content)."""
    layout = getattr(venv.envs[0].unwrapped, "observation_layout", None)
    if layout is not None and not layout.agent_ids:
        warnings.warn("the environment's observations carry no producer id "
                      "(agent_ids=False): the shared policy can tell producers apart only by "
                      "their own last content; create it with agent_ids=True", stacklevel=3)
