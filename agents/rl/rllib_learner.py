r"""RLlib's PPO learner made to update as Stable-Baselines3 does here.

Two departures of RLlib 2.60's PPO learner from SB3's, each of which on
``recgym train``'s benchmark game kept shared policies from the equilibrium
(``benchmarks/bench_rl.py --backend rllib``):

Advantages over phantom rows
    The learner pipeline appends one phantom timestep to every episode chunk
    (``AddOneTsToEpisodesAndTruncate``: the observation to bootstrap the value
    from, left out of the loss by ``Columns.LOSS_MASK``), and
    ``GeneralAdvantageEstimation`` then standardises the advantages with the mean
    and standard deviation of *every* row, phantoms included
    (ray-project/ray#57989). With ``gamma = 0`` a phantom's advantage is ``-V(s)``,
    the value of a state with no reward, while the real advantages ``r - V(s)`` are
    thousandths of a reward; measured with chunks of two steps (one row in three a
    phantom), the standardised real advantages came out near ``+0.7 +- 0.15``, so
    PPO raised the probability of whatever it sampled. ``MaskedAdvantages``, placed
    right after RLlib's GAE, restandardises each module's advantages over the rows
    in the loss. Standardisation is affine, so this equals standardising the raw
    advantages over the real rows (as SB3's shared PPO does over its rollout);
    phantom rows keep a value, but the loss never reads it.

Minibatches that cut across epochs
    RLlib cuts each module's rows, phantoms included, into cyclic minibatches of
    ``minibatch_size`` rows: with one module per producer (64 real rows and 8
    phantoms on the benchmark game, against a minibatch of 320) that made two
    gradient steps per update instead of ``num_epochs``. ``WholeBatchEpochs``
    makes every gradient step one pass over each module's whole batch,
    ``num_epochs`` of them (SB3's ``n_epochs`` with one minibatch,
    ``agents.rl.algorithms.PPO_MINIBATCHES``); ``minibatch_size`` is ignored.

``MaskedAdvantagesPPOLearner`` is RLlib's torch PPO learner with both;
``agents.rl.rllib.ppo_config`` uses it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import torch
from ray.rllib.algorithms.ppo.torch.ppo_torch_learner import PPOTorchLearner
from ray.rllib.connectors.connector_v2 import ConnectorV2
from ray.rllib.connectors.learner.general_advantage_estimation import (
    GeneralAdvantageEstimation,
)
from ray.rllib.core.columns import Columns
from ray.rllib.evaluation.postprocessing import Postprocessing

__all__ = ["STD_EPS", "MaskedAdvantages", "MaskedAdvantagesPPOLearner", "WholeBatchEpochs",
           "standardize"]

#: Added to the standard deviation (as Stable-Baselines3 does), so equal advantages give 0.
STD_EPS = 1e-8


def standardize(advantages: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(A - mean) / (std + STD_EPS)`` with the mean and (sample) standard deviation of the
    rows where ``mask`` is true, as SB3 computes them, applied to every row;
    ``advantages`` and ``mask`` of one shape (``mask`` boolean). With fewer than two
    real rows only the mean is taken off."""
    real = advantages[mask]
    if real.numel() == 0:
        return advantages
    if real.numel() == 1:
        return advantages - real.mean()
    return (advantages - real.mean()) / (real.std() + STD_EPS)


class MaskedAdvantages(ConnectorV2):
    """Restandardise each module's advantages over its loss-mask rows (module docstring)."""

    def __call__(self, *, rl_module: Any, batch: dict[str, Any], episodes: Any,
                 **kwargs: Any) -> dict[str, Any]:
        for module_batch in batch.values():
            if Postprocessing.ADVANTAGES in module_batch and Columns.LOSS_MASK in module_batch:
                advantages = torch.as_tensor(module_batch[Postprocessing.ADVANTAGES])
                mask = torch.as_tensor(module_batch[Columns.LOSS_MASK],
                                       device=advantages.device).bool()
                module_batch[Postprocessing.ADVANTAGES] = standardize(advantages, mask)
        return batch


class WholeBatchEpochs:
    """Iterate ``num_epochs`` times over one whole batch (module docstring)."""

    def __init__(self, whole: Iterable[Any], num_epochs: int) -> None:
        self.whole = whole
        self.num_epochs = num_epochs

    def __iter__(self) -> Iterator[Any]:
        for batch in self.whole:  # one batch
            for _ in range(self.num_epochs):
                yield batch


class MaskedAdvantagesPPOLearner(PPOTorchLearner):
    """RLlib's torch PPO learner with ``MaskedAdvantages`` right after its GAE and
    ``WholeBatchEpochs`` (module docstring)."""

    def build(self) -> None:
        super().build()
        if self._learner_connector is not None:
            self._learner_connector.insert_after(GeneralAdvantageEstimation,
                                                 MaskedAdvantages())

    def _create_iterator_if_necessary(self, *, training_data: Any, num_epochs: int = 1,
                                      **kwargs: Any) -> Any:
        if training_data.data_iterators:  # Ray Data input: RLlib's own iteration
            return super()._create_iterator_if_necessary(
                training_data=training_data, num_epochs=num_epochs, **kwargs)
        whole = super()._create_iterator_if_necessary(training_data=training_data)
        if isinstance(whole, dict):  # no module to update
            return whole
        return WholeBatchEpochs(whole, num_epochs)
