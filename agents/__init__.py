"""The acting layer on top of recgym: producers that respond exactly, and that learn.

* ``BestResponse``: exact best responses, NashConv and the paper's dynamics for a
  game or an environment (the solvers are ``recgym.solvers``);
* ``BehaviorProducers``: boundedly rational producers (quantal, hedge) or best
  responders acting through an environment, baselines for RL producers;
* ``DynamicsLogger``: the dynamics in TensorBoard;
* ``agents.rl``: RL producers trained with Stable-Baselines3 (``evaluate`` compares
  what they play with the exact equilibrium);
* platform policies for ``recgym.platform_env`` (``agents.platform``): static, myopic,
  a schedule that explores early and exploits late, and their evaluation on the same
  seeds.
"""

from agents.behaviors import BehaviorProducers, BehaviorRun
from agents.best_response import BestResponse
from agents.monitoring import DynamicsLogger
from agents.platform import (
    MyopicPlatform,
    PlatformEvaluation,
    SchedulePlatform,
    StaticPlatform,
    action_grid,
    best_schedule,
    best_static,
    compare_platforms,
    evaluate_platform,
)
from agents.rl.evaluation import EvaluationResult, evaluate
from recgym.solvers import (
    BestResponseResult,
    DynamicsResult,
    Exit,
    Move,
    NashConvResult,
    best_response_dynamics,
)

__all__ = [
    "BehaviorProducers",
    "BehaviorRun",
    "BestResponse",
    "BestResponseResult",
    "DynamicsLogger",
    "DynamicsResult",
    "EvaluationResult",
    "Exit",
    "Move",
    "MyopicPlatform",
    "NashConvResult",
    "PlatformEvaluation",
    "SchedulePlatform",
    "StaticPlatform",
    "action_grid",
    "best_response_dynamics",
    "best_schedule",
    "best_static",
    "compare_platforms",
    "evaluate",
    "evaluate_platform",
]
