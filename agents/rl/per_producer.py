r"""Independent PPO learners batched into one SB3 model: one network per producer.

``IndependentLearners`` runs one SB3 model per producer, each in its own thread:
every step costs ``n`` forward passes, ``n`` rounds of SB3's bookkeeping and ``2 n``
thread hand-overs, and every update ``n`` separate trainings (about 0.1 times a
random rollout's throughput on the benchmark game). ``independent_model`` gives
the same learners one PPO model whose policy, ``PerProducerPolicy``, holds ``n``
separate policy and value networks: producer ``i``'s rows of every batch go
through network ``i`` only (its id is the one-hot at the end of its observation,
``recgym.parallel_env(agent_ids=True)``), all ``n`` at once as batched matrix
products. Producers share no parameter, no gradient and no optimiser state
(Adam's moments are per parameter), and nothing else couples their updates:
advantages are not normalised over the batch (``normalize_advantage=False``:
Adam is insensitive to the gradients' scale) and gradients are not clipped by a
global norm (``max_grad_norm=inf``). What they share is the rollout schedule,
the PPO hyperparameters and the minibatches' sampling.

Layout
------
For a batch of ``B`` observations ``(B, obs_size)`` with producer ids ``p (B,)``
the rows are gathered per producer into ``(n, m, obs_size)`` (``m``: the largest
count, shorter groups padded with zeros that no output reads), passed through
``n`` stacked MLPs (weights ``(n, in, out)``) and scattered back to ``(B, ...)``.
The policy head of producer ``i`` starts exactly as a shared policy's head would
(the action distribution's own layer: PyTorch's default initialisation, the
mixture's means at the basis vectors, the Gaussian's mean at the centre of the
box; SB3's orthogonal initialisation is not applied) and its log standard
deviation (Box actions) is producer ``i``'s own ``(d,)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from gymnasium import spaces
from pettingzoo import ParallelEnv
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.distributions import (
    CategoricalDistribution,
    DiagGaussianDistribution,
    Distribution,
)
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.vec_env import VecMonitor
from torch import nn

from agents.rl.adapter import ProducerVecEnv
from agents.rl.algorithms import make_model, tensorboard_logger
from agents.rl.config import BOX_POLICIES
from agents.rl.policies import VertexMixtureDistribution
from recgym._validation import check_choice

__all__ = ["PerProducerPolicy", "StackedMLP", "independent_model"]


class StackedMLP(nn.Module):
    """``n`` independent MLPs ``in -> hidden... -> out`` applied to ``(n, m, in)``.

    Hidden layers use ``activation``; the last layer is linear. Weights
    ``(n, fan_in, fan_out)`` start like ``nn.Linear``'s (uniform in
    ``+-1/sqrt(fan_in)``), independently per producer.
    """

    def __init__(self, n: int, sizes: Sequence[int], activation: type[nn.Module]) -> None:
        super().__init__()
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            bound = 1.0 / math.sqrt(fan_in)
            self.weights.append(nn.Parameter(torch.empty(n, fan_in, fan_out).uniform_(-bound,
                                                                                     bound)))
            self.biases.append(nn.Parameter(torch.empty(n, 1, fan_out).uniform_(-bound, bound)))
        self.activation = activation()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, m, in) -> (n, m, out)``."""
        last = len(self.weights) - 1
        for k, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.baddbmm(bias, x, weight)
            if k < last:
                x = self.activation(x)
        return x


class _Groups:
    """Where each of ``B`` rows goes in the per-producer padded layout ``(n, m, ...)``."""

    def __init__(self, producer: torch.Tensor, n: int) -> None:
        counts = torch.bincount(producer, minlength=n)
        self.order = torch.argsort(producer, stable=True)
        self.rows = producer[self.order]
        starts = torch.cumsum(counts, 0) - counts
        self.cols = torch.arange(producer.shape[0], device=producer.device) - starts[self.rows]
        self.shape = (n, int(counts.max()))

    def gather(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, f) -> (n, m, f)``, zeros where a producer has fewer rows."""
        padded = x.new_zeros((*self.shape, x.shape[-1]))
        padded[self.rows, self.cols] = x[self.order]
        return padded

    def scatter(self, y: torch.Tensor) -> torch.Tensor:
        """``(n, m, f) -> (B, f)`` in the original row order."""
        out = y.new_empty((self.order.shape[0], y.shape[-1]))
        out[self.order] = y[self.rows, self.cols]
        return out


class _PerProducerNets(nn.Module):
    """SB3's ``mlp_extractor`` slot: actor and critic outputs, each producer its own nets.

    ``forward_actor(features (B, F))`` returns the action distribution's inputs
    followed, for Box actions, by the producer's log standard deviation;
    ``forward_critic`` the values ``(B, 1)``.
    """

    def __init__(self, n: int, features_dim: int, pi_sizes: list[int], vf_sizes: list[int],
                 head_out: int, activation: type[nn.Module], log_std: torch.Tensor | None
                 ) -> None:
        super().__init__()
        self.n = n
        self.pi = StackedMLP(n, [features_dim, *pi_sizes, head_out], activation)
        self.vf = StackedMLP(n, [features_dim, *vf_sizes, 1], activation)
        self.log_std = None if log_std is None else nn.Parameter(log_std)  # (n, d)
        self.latent_dim_pi = head_out + (0 if log_std is None else log_std.shape[1])
        self.latent_dim_vf = 1

    def _groups(self, features: torch.Tensor) -> tuple[torch.Tensor, _Groups]:
        producer = features[:, -self.n:].argmax(dim=1)
        return producer, _Groups(producer, self.n)

    def forward_actor(self, features: torch.Tensor) -> torch.Tensor:
        producer, groups = self._groups(features)
        out = groups.scatter(self.pi(groups.gather(features)))
        if self.log_std is None:
            return out
        return torch.cat([out, self.log_std[producer]], dim=1)

    def forward_critic(self, features: torch.Tensor) -> torch.Tensor:
        _, groups = self._groups(features)
        return groups.scatter(self.vf(groups.gather(features)))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        producer, groups = self._groups(features)
        padded = groups.gather(features)
        actor = groups.scatter(self.pi(padded))
        if self.log_std is not None:
            actor = torch.cat([actor, self.log_std[producer]], dim=1)
        return actor, groups.scatter(self.vf(padded))


class PerProducerPolicy(ActorCriticPolicy):
    """SB3 actor-critic policy with one policy and one value network per producer.

    Parameters (besides ``ActorCriticPolicy``'s)
    ----------
    n_producers : int >= 1
        ``n``; the last ``n`` observation entries must be the one-hot producer id.
    vertex_mixture : bool
        Box actions: ``VertexMixtureDistribution`` (one Gaussian per vertex) instead
        of the diagonal Gaussian.
    """

    def __init__(self, *args: Any, n_producers: int, vertex_mixture: bool = False,
                 **kwargs: Any) -> None:
        self.n_producers = int(n_producers)
        self.vertex_mixture = bool(vertex_mixture)
        super().__init__(*args, **kwargs)

    def _build(self, lr_schedule: Any) -> None:
        n, d = self.n_producers, None
        if isinstance(self.action_space, spaces.Box):
            d = self.action_space.shape[0]
            if self.vertex_mixture:
                self.action_dist = VertexMixtureDistribution(d)
        elif not isinstance(self.action_dist, CategoricalDistribution):
            raise ValueError(f"PerProducerPolicy supports Box and Discrete actions, got "
                             f"{self.action_space!r}")
        arch = self.net_arch if isinstance(self.net_arch, dict) else {
            "pi": list(self.net_arch), "vf": list(self.net_arch)}
        hidden = arch["pi"][-1] if arch["pi"] else self.features_dim
        heads = [self._head(hidden) for _ in range(n)]
        log_std = None if d is None else torch.stack([torch.as_tensor(log) for _, log in heads])
        self.mlp_extractor = _PerProducerNets(n, self.features_dim, list(arch["pi"]),
                                              list(arch["vf"]), heads[0][0].out_features,
                                              self.activation_fn, log_std)
        last = len(self.mlp_extractor.pi.weights) - 1
        with torch.no_grad():  # each producer's head starts as the distribution's own layer
            self.mlp_extractor.pi.weights[last].copy_(torch.stack([h.weight.T for h, _ in heads]))
            self.mlp_extractor.pi.biases[last].copy_(
                torch.stack([h.bias for h, _ in heads]).unsqueeze(1))
        self.action_net = nn.Identity()
        self.value_net = nn.Identity()
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1),
                                              **self.optimizer_kwargs)

    def _head(self, latent_dim: int) -> tuple[nn.Linear, torch.Tensor | None]:
        """One producer's head as the distribution builds it, and its log std ``(d,)``."""
        if isinstance(self.action_dist, CategoricalDistribution):
            return self.action_dist.proba_distribution_net(latent_dim), None
        layer, log_std = self.action_dist.proba_distribution_net(latent_dim, self.log_std_init)
        if not isinstance(self.action_dist, VertexMixtureDistribution):
            with torch.no_grad():  # the Gaussian's mean starts at the centre of the box
                space = self.action_space
                layer.bias.copy_(torch.as_tensor((space.low + space.high) / 2.0))
        return layer, log_std.detach()

    def _get_action_dist_from_latent(self, latent_pi: torch.Tensor) -> Distribution:
        if isinstance(self.action_dist, CategoricalDistribution):
            return self.action_dist.proba_distribution(action_logits=latent_pi)
        d = self.action_space.shape[0]
        assert isinstance(self.action_dist, DiagGaussianDistribution)
        return self.action_dist.proba_distribution(latent_pi[:, :-d], latent_pi[:, -d:])

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.update(n_producers=self.n_producers, vertex_mixture=self.vertex_mixture)
        return data


def independent_model(envs: ParallelEnv | Sequence[ParallelEnv], algo: str = "ppo",
                      seed: int = 0, logdir: str | Path | None = None, device: str = "cpu",
                      verbose: int = 0, box_policy: str = "mixture",
                      **algo_kwargs: Any) -> BaseAlgorithm:
    """One PPO model acting for every producer of ``envs`` with a network per producer.

    Parameters are those of ``shared_model`` (``algo`` must be ``"ppo"``); the
    policy is ``PerProducerPolicy`` and PPO runs without advantage normalisation
    and gradient clipping (module docstring).

    Raises
    ------
    ValueError
        ``algo`` other than PPO, or observations without producer ids.

    Examples
    --------
    >>> import recgym
    >>> from agents.rl import independent_model
    >>> envs = [recgym.parallel_env(n_producers=2, dim=2, n_users=20, horizon=4)]
    >>> model = independent_model(envs, seed=0, n_steps=8)
    >>> model.learn(32).num_timesteps
    32
    """
    if algo != "ppo":
        raise ValueError(f"algo must be ppo for independent_model (one network per producer "
                         f"in one PPO model); got {algo!r}: use IndependentLearners for "
                         f"sac and td3")
    venv = ProducerVecEnv(envs, terminal_observations=algo_kwargs.get("gamma", 0.0) > 0)
    layout = getattr(venv.envs[0].unwrapped, "observation_layout", None)
    if layout is None or not layout.agent_ids:
        raise ValueError("independent_model needs the producer's id in its observations: "
                         "create the environments with agent_ids=True")
    mixture = (isinstance(venv.action_space, spaces.Box)
               and check_choice("box_policy", box_policy, BOX_POLICIES) == "mixture")
    policy_kwargs = {"n_producers": venv.n_agents, "vertex_mixture": mixture,
                     **algo_kwargs.pop("policy_kwargs", {})}
    model = make_model("ppo", VecMonitor(venv), seed=seed, device=device, verbose=verbose,
                       policy=PerProducerPolicy, policy_kwargs=policy_kwargs,
                       **{"normalize_advantage": False, "max_grad_norm": math.inf,
                          **algo_kwargs})
    if logdir is not None:
        model.set_logger(tensorboard_logger(Path(logdir), verbose))
    return model
