r"""PPO's policy for embedding actions: a Gaussian mixture with one component per vertex.

Why not PPO's single Gaussian
-----------------------------
Under softmax serving with ``T`` not small a producer's payoff is convex in its
own embedding: along the segment from one basis vector to another it first
falls, then rises, so every vertex is a local optimum. A Gaussian policy learns
where it is; it explores by small perturbations, which only ever show that mixing
in another feature costs engagement, and it stays on its vertex even when another
vertex pays more (``benchmarks/bench_rl.py``: shared PPO stalled at NashConv 2-4%
of total utility on most seeds).

The mixture
-----------
``d`` Gaussians, one per feature, mixed by learned weights, with one standard
deviation (a free parameter here) shared by the components; the mathematics and
its starting values are ``agents.rl.mixture`` (RLlib's copy of this policy,
``agents.rl.rllib_mixture``, uses the same). The policy starts by sampling
features the way a ``Discrete(d)`` policy does: a producer jumps between features
by moving weight between components (the likelihood-ratio gradient of the weights
needs no path between them), and each component's mean still moves anywhere in
the box, so interior embeddings remain reachable. The deterministic action
(``mode``) is the mean of the heaviest component. Samples are clipped to the
action box by SB3 and projected onto the strategy set by the environment, as for
the plain Gaussian.

The mixture has no closed-form entropy (``entropy`` returns ``None``; PPO then
uses the sampled ``-log pi``), which matters only with ``ent_coef > 0``.
"""

from __future__ import annotations

from typing import Any

import torch
from stable_baselines3.common.distributions import DiagGaussianDistribution
from stable_baselines3.common.policies import ActorCriticPolicy
from torch import nn

from agents.rl.mixture import VertexMixture, init_mixture_head, mixture_outputs

__all__ = ["VertexMixtureDistribution", "VertexMixturePolicy"]


class VertexMixtureDistribution(DiagGaussianDistribution):
    """``d``-component Gaussian mixture over ``Box`` actions of dimension ``d`` (module
    docstring; the mathematics: ``agents.rl.mixture.VertexMixture``).

    The action net outputs ``d`` logits followed by the ``d x d`` component means
    (row ``j`` is component ``j``); it subclasses SB3's diagonal Gaussian only so
    that ``ActorCriticPolicy`` builds its layers and passes it the shared
    ``log_std`` ``(d,)``.
    """

    def proba_distribution_net(self, latent_dim: int, log_std_init: float = 0.0
                               ) -> tuple[nn.Module, nn.Parameter]:
        """Linear layer ``latent -> d + d^2`` (logits, means), means starting at ``e_j``;
        ``log_std`` ``(d,)`` at ``log_std_init``."""
        d = self.action_dim
        action_net = nn.Linear(latent_dim, mixture_outputs(d))
        init_mixture_head(action_net, d)
        log_std = nn.Parameter(torch.full((d,), float(log_std_init)), requires_grad=True)
        return action_net, log_std

    def proba_distribution(self, mean_actions: torch.Tensor, log_std: torch.Tensor
                           ) -> VertexMixtureDistribution:
        """``mean_actions`` ``(batch, d + d^2)`` from the action net; ``log_std`` ``(d,)``,
        or ``(batch, d)`` for one per row (``agents.rl.per_producer``)."""
        self.mixture = VertexMixture(mean_actions, log_std)
        return self

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """``log pi(a)`` ``(batch,)`` of actions ``(batch, d)``."""
        return self.mixture.log_prob(actions)

    def entropy(self) -> None:
        """No closed form (module docstring)."""
        return None

    def sample(self) -> torch.Tensor:
        """One action per row ``(batch, d)``: a component by weight, then its Gaussian."""
        return self.mixture.sample()

    def mode(self) -> torch.Tensor:
        """The mean of the heaviest component ``(batch, d)``."""
        return self.mixture.mode()

    def actions_from_params(self, mean_actions: torch.Tensor, log_std: torch.Tensor,
                            deterministic: bool = False) -> torch.Tensor:
        self.proba_distribution(mean_actions, log_std)
        return self.get_actions(deterministic=deterministic)

    def log_prob_from_params(self, mean_actions: torch.Tensor, log_std: torch.Tensor
                             ) -> tuple[torch.Tensor, torch.Tensor]:
        actions = self.actions_from_params(mean_actions, log_std)
        return actions, self.log_prob(actions)


class VertexMixturePolicy(ActorCriticPolicy):
    """SB3's ``MlpPolicy`` for ``Box`` actions with ``VertexMixtureDistribution`` in place
    of the diagonal Gaussian (same networks, value head and optimizer)."""

    def _build(self, lr_schedule: Any) -> None:
        self.action_dist = VertexMixtureDistribution(self.action_space.shape[0])
        super()._build(lr_schedule)
