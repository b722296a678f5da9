r"""The vertex-mixture policy for RLlib's PPO on Box actions (``--box-policy mixture``).

The same mixture as Stable-Baselines3's (``agents.rl.mixture.VertexMixture``: one
Gaussian per feature, mixed by learned weights, so that a producer can jump between
features), as RLlib pieces:

* ``VertexMixtureDistribution``: RLlib's ``Distribution`` over the policy head's
  ``d + d^2 + d`` outputs (logits, component means, log standard deviation);
* ``VertexMixtureCatalog``: PPO's catalog with that distribution for Box actions;
* ``VertexMixturePPOModule``: RLlib's default PPO module, with the head's biases set
  so that the weights start uniform, component ``j``'s mean at the vertex ``e_j`` and
  the standard deviation at SB3's (``agents.rl.algorithms.PPO_LOG_STD_INIT``), and the
  log standard deviation's weights at zero (it starts state-independent, as SB3's).

RLlib's env runners treat a Box policy's actions as lying in ``[-1, 1]`` and rescale
them to the action box (``normalize_actions``), so every starting value is set in
those coordinates: ``e_j`` of ``[0, 1]^d`` is ``2 e_j - 1`` there and a standard
deviation doubles. Two differences from SB3's copy remain: the log standard
deviation is an output of the head (RLlib's default for its own Gaussian too), so it
may come to depend on the observation once trained, and a parameter step of the
same size moves an action half as far in the box.

The mixture has no closed-form entropy; ``entropy`` returns the one-sample estimate
``-log pi(a)``, which RLlib only reports (PPO's entropy coefficient is 0 here). KL
divergence is not implemented (``use_kl_loss`` is off).
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import torch
from ray.rllib.algorithms.ppo.ppo_catalog import PPOCatalog
from ray.rllib.algorithms.ppo.torch.default_ppo_torch_rl_module import DefaultPPOTorchRLModule
from ray.rllib.core.distribution.distribution import Distribution
from ray.rllib.core.distribution.torch.torch_distribution import TorchDeterministic
from torch import nn

from agents.rl.algorithms import PPO_LOG_STD_INIT
from agents.rl.mixture import VertexMixture, init_mixture_head, mixture_outputs

__all__ = ["VertexMixtureCatalog", "VertexMixtureDistribution", "VertexMixturePPOModule"]

#: Width of RLlib's normalised action coordinates over the action box ``[0, 1]``.
NORMALISED_SCALE = 2.0


class VertexMixtureDistribution(Distribution):
    """RLlib's view of ``VertexMixture``; ``logits`` ``(batch, d + d^2 + d)``: ``d`` logits,
    the ``d x d`` means, ``d`` log standard deviations."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        d = _dim(logits.shape[-1])
        self.mixture = VertexMixture(logits[:, :mixture_outputs(d)],
                                     logits[:, mixture_outputs(d):])

    @classmethod
    def from_logits(cls, logits: torch.Tensor, **kwargs: Any) -> VertexMixtureDistribution:
        return cls(logits)

    @staticmethod
    def required_input_dim(space: gym.Space, **kwargs: Any) -> int:
        d = int(space.shape[0])
        return mixture_outputs(d) + d

    def logp(self, value: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return self.mixture.log_prob(value)

    def sample(self, *, sample_shape: Any = None, **kwargs: Any) -> torch.Tensor:
        if sample_shape:
            raise ValueError("VertexMixtureDistribution samples one action per row")
        return self.mixture.sample()

    def rsample(self, *, sample_shape: Any = None, **kwargs: Any) -> torch.Tensor:
        raise NotImplementedError("a mixture's component choice is not reparameterisable")

    def entropy(self, **kwargs: Any) -> torch.Tensor:
        """One-sample estimate ``-log pi(a)``, ``a ~ pi`` (module docstring)."""
        return -self.mixture.log_prob(self.mixture.sample())

    def kl(self, other: Distribution, **kwargs: Any) -> torch.Tensor:
        raise NotImplementedError("no closed-form KL between mixtures; keep use_kl_loss off")

    def to_deterministic(self) -> TorchDeterministic:
        """The mean of the heaviest component."""
        return TorchDeterministic(loc=self.mixture.mode())


def _dim(outputs: int) -> int:
    """``d`` from the head's ``d + d^2 + d`` outputs."""
    d = math.isqrt(outputs + 1) - 1
    if mixture_outputs(d) + d != outputs:
        raise ValueError(f"a vertex mixture's head has d^2 + 2d outputs, got {outputs}")
    return d


class VertexMixtureCatalog(PPOCatalog):
    """PPO's catalog, with ``VertexMixtureDistribution`` as the action distribution."""

    def get_action_dist_cls(self, framework: str) -> type[Distribution]:
        return VertexMixtureDistribution


class VertexMixturePPOModule(DefaultPPOTorchRLModule):
    """RLlib's default PPO module with the mixture head's starting values (module
    docstring)."""

    def setup(self) -> None:
        super().setup()
        d = int(self.action_space.shape[0])
        layer = [m for m in self.pi.modules() if isinstance(m, nn.Linear)][-1]
        init_mixture_head(layer, d, low=-1.0, high=1.0)
        with torch.no_grad():
            layer.weight[mixture_outputs(d):] = 0.0
            layer.bias[mixture_outputs(d):] = PPO_LOG_STD_INIT + math.log(NORMALISED_SCALE)
