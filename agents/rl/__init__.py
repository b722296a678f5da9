"""RL producers trained with Stable-Baselines3 and compared with the exact equilibrium.

* ``shared_model``: one SB3 policy for every producer, through ``ProducerVecEnv``
  (each producer of each copy of the game is one sub-environment; the producer's
  id is in its observation). Actions are embeddings (``action_type="box"``, PPO's
  ``VertexMixturePolicy`` by default) or feature indices (``"vertex"``, PPO).
* ``independent_model``: one PPO model with a separate network per producer
  (``PerProducerPolicy``), all producers' passes batched.
* ``IndependentLearners``: one SB3 model per producer (PPO, SAC or TD3), all
  learning at once in turns.
* ``evaluate``: NashConv, TV distance to the equilibrium, utilities and
  specialisation of the profile the deterministic policies play.
* ``EquilibriumEvalCallback``: those figures in TensorBoard during training.
* ``train(TrainConfig(...))``: the whole run behind ``recgym train``, with
  Stable-Baselines3 or (``backend="rllib"``) Ray RLlib (``agents.rl.rllib``, with
  the same vertex mixture, ``agents.rl.rllib_mixture``, and advantages standardised
  over real timesteps, ``agents.rl.rllib_learner``).

Names are imported on first use (PEP 562), so that ``agents.rl.evaluation``
does not pull in torch and Stable-Baselines3.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ProducerVecEnv": "adapter", "check_parallel_env": "adapter",
    "ALGOS": "config", "make_model": "algorithms",
    "EquilibriumEvalCallback": "callbacks", "Evaluator": "callbacks",
    "record_evaluation": "callbacks",
    "VertexMixture": "mixture",
    "VertexMixtureDistribution": "policies", "VertexMixturePolicy": "policies",
    "MODES": "config", "TrainConfig": "config",
    "EvaluationResult": "evaluation", "evaluate": "evaluation",
    "IndependentLearners": "independent",
    "PerProducerPolicy": "per_producer", "independent_model": "per_producer",
    "shared_model": "shared",
    "TrainResult": "training", "train": "training",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"agents.rl.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'agents.rl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
