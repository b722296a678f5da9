r"""The vertex mixture's mathematics, for both backends' PPO policies on Box actions.

For ``d`` features the policy is, per observation,

    pi(a | o) = sum_j w_j(o) N(a; m_j(o), diag(sigma^2)),

``d`` components with weights ``w = softmax(logits(o))`` ``(d,)``, means ``m_j(o)``
``(d,)`` each and one standard deviation ``sigma`` ``(d,)`` shared by the
components. Component ``j``'s mean starts at the basis vector ``e_j`` and the
weights start uniform (``init_mixture_head``), so the policy starts by sampling
features the way a ``Discrete(d)`` policy does. Why: ``agents.rl.policies``.

``VertexMixture`` is pure torch; ``agents.rl.policies`` wraps it as SB3's
distribution and ``agents.rl.rllib_mixture`` as RLlib's.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["LOG_2PI", "VertexMixture", "init_mixture_head", "mixture_outputs"]

LOG_2PI = math.log(2.0 * math.pi)


def mixture_outputs(d: int) -> int:
    """Outputs of the action layer: ``d`` logits followed by ``d x d`` component means."""
    return d + d * d


class VertexMixture:
    """A batch of ``d``-component Gaussian mixtures over ``R^d``.

    Parameters
    ----------
    outputs : Tensor ``(batch, d + d^2)``
        ``d`` logits, then the component means row by row (row ``j``: component ``j``).
    log_std : Tensor ``(d,)`` or ``(batch, d)``
        The components' common log standard deviation.
    """

    def __init__(self, outputs: torch.Tensor, log_std: torch.Tensor) -> None:
        d = log_std.shape[-1]
        if outputs.shape[-1] != mixture_outputs(d):
            raise ValueError(f"outputs must have d + d^2 = {mixture_outputs(d)} columns for "
                             f"d = {d}, got shape {tuple(outputs.shape)}")
        self.dim = d
        self.log_weights = torch.log_softmax(outputs[:, :d], dim=-1)  # (batch, d)
        self.means = outputs[:, d:].reshape(-1, d, d)  # (batch, component, d)
        self.log_std = log_std.expand(outputs.shape[0], d)  # (batch, d)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """``log pi(a)`` ``(batch,)`` of actions ``(batch, d)``."""
        z = (actions.unsqueeze(1) - self.means) / self.log_std.exp().unsqueeze(1)
        log_normal = (-0.5 * (z * z).sum(-1) - self.log_std.sum(-1, keepdim=True)
                      - 0.5 * self.dim * LOG_2PI)  # (batch, component)
        return torch.logsumexp(self.log_weights + log_normal, dim=-1)

    def sample(self) -> torch.Tensor:
        """One action per row ``(batch, d)``: a component by weight, then its Gaussian."""
        component = torch.multinomial(self.log_weights.exp(), 1).squeeze(-1)
        mean = self.means[torch.arange(self.means.shape[0], device=self.means.device),
                          component]
        return mean + self.log_std.exp() * torch.randn_like(mean)

    def mode(self) -> torch.Tensor:
        """The mean of the heaviest component ``(batch, d)``."""
        heaviest = self.log_weights.argmax(dim=-1)
        return self.means[torch.arange(self.means.shape[0], device=self.means.device),
                          heaviest]


def init_mixture_head(layer: nn.Linear, d: int, low: float = 0.0, high: float = 1.0) -> None:
    """Start ``layer``'s outputs (``mixture_outputs(d)`` of them first) at uniform weights and
    component ``j``'s mean at the vertex ``e_j`` of the box ``[low, high]^d`` (``low`` in
    every coordinate but ``j``, which is ``high``); only the biases are set."""
    with torch.no_grad():
        layer.bias[:mixture_outputs(d)] = 0.0
        layer.bias[d:mixture_outputs(d)] = (low + (high - low) * torch.eye(d)).reshape(-1)
