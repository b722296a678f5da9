r"""RLlib's PPO learner with advantages standardised over real timesteps only.

RLlib 2.60's learner pipeline appends one phantom timestep to every episode chunk
(``AddOneTsToEpisodesAndTruncate``: the observation to bootstrap the value from,
left out of the loss by ``Columns.LOSS_MASK``), then ``GeneralAdvantageEstimation``
standardises the advantages with the mean and standard deviation of *every* row,
phantoms included (ray-project/ray#57989). A phantom's advantage is ``-V(s)``, the
value of the state with no reward, while on this game the real advantages are
``r - V(s)``, thousandths of a reward: on ``recgym train``'s benchmark game (chunks
of two steps, so one row in three is a phantom) the standardised real advantages
come out near ``+0.7 +- 0.15``, so PPO raised the probability of whatever it
sampled, and shared policies collapsed onto a few features
(``benchmarks/bench_rl.py --backend rllib``).

``MaskedAdvantages``, a learner connector placed right after RLlib's GAE, restandardises
each module's advantages with the mean and standard deviation of the rows in the
loss. Standardisation is affine, so this equals standardising the raw advantages
over the real rows (as Stable-Baselines3 does over its rollout); phantom rows keep
a value, but the loss never reads it. ``MaskedAdvantagesPPOLearner`` is RLlib's
torch PPO learner with that connector; ``agents.rl.rllib.ppo_config`` uses it.
"""

from __future__ import annotations

from typing import Any

import torch
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.connectors.learner.general_advantage_estimation import (
    GeneralAdvantageEstimation,
)
from ray.rllib.core.columns import Columns
from ray.rllib.evaluation.postprocessing import Postprocessing

__all__ = ["STD_EPS", "MaskedAdvantages", "MaskedAdvantagesPPOLearner", "standardize"]

#: Added to the standard deviation (as Stable-Baselines3 does), so equal advantages give 0.
STD_EPS = 1e-8


def standardize(advantages: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(A - mean) / (std + STD_EPS)`` over the rows where ``mask`` is true, applied to
    every row; ``advantages`` and ``mask`` of one shape (``mask`` boolean)."""
    real = advantages[mask]
    if real.numel() == 0:
        return advantages
    return (advantages - real.mean()) / (real.std(unbiased=False) + STD_EPS)


class MaskedAdvantages(ConnectorV2):
    """Restandardise each module's advantages over its loss-mask rows (module docstring)."""

    def __call__(self, *, rl_module: Any, batch: dict[str, Any], episodes: Any,
                 **kwargs: Any) -> dict[str, Any]:
        for module_batch in batch.values():
            if Postprocessing.ADVANTAGES in module_batch and Columns.LOSS_MASK in module_batch:
                mask = torch.as_tensor(module_batch[Columns.LOSS_MASK]).bool()
                advantages = module_batch[Postprocessing.ADVANTAGES]
                module_batch[Postprocessing.ADVANTAGES] = standardize(
                    torch.as_tensor(advantages), mask.to(torch.as_tensor(advantages).device))
        return batch


class MaskedAdvantagesPPOLearner(PPOTorchLearner):
    """RLlib's torch PPO learner with ``MaskedAdvantages`` right after its GAE."""

    def build(self) -> None:
        super().build()
        if self._learner_connector is not None:
            self._learner_connector.insert_after(GeneralAdvantageEstimation,
                                                 MaskedAdvantages())
