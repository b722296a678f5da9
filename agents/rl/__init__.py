"""RL producers trained with Stable-Baselines3 and compared with the exact equilibrium.

* ``shared_model``: one SB3 policy for every producer, through ``ProducerVecEnv``
  (each producer of each copy of the game is one sub-environment; the producer's
  id is in its observation).
* ``IndependentLearners``: one SB3 model per producer, all learning at once.
* ``evaluate``: NashConv, TV distance to the equilibrium, utilities and
  specialisation of the profile the deterministic policies play.
* ``EquilibriumEvalCallback``: those figures in TensorBoard during training.
* ``train(TrainConfig(...))``: the whole run behind ``recgym train``.
"""

from agents.rl.adapter import ProducerVecEnv, check_parallel_env
from agents.rl.algorithms import ALGOS, make_model
from agents.rl.callbacks import EquilibriumEvalCallback
from agents.rl.config import MODES, TrainConfig
from agents.rl.evaluation import (
    CONCENTRATION_THRESHOLD,
    EquilibriumReference,
    EvaluationResult,
    equilibrium_reference,
    evaluate,
)
from agents.rl.independent import IndependentLearners
from agents.rl.shared import shared_model
from agents.rl.training import TrainResult, train

__all__ = [
    "ALGOS",
    "CONCENTRATION_THRESHOLD",
    "EquilibriumEvalCallback",
    "EquilibriumReference",
    "EvaluationResult",
    "IndependentLearners",
    "MODES",
    "ProducerVecEnv",
    "TrainConfig",
    "TrainResult",
    "check_parallel_env",
    "equilibrium_reference",
    "evaluate",
    "make_model",
    "shared_model",
    "train",
]
