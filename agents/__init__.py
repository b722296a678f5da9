"""Producer agents: exact best responses, the paper's dynamics, and RL producers."""

from agents.best_response import BestResponse, BestResponseResult, NashConvResult
from agents.dynamics import DynamicsResult, Move, best_response_dynamics
from agents.monitoring import DynamicsLogger
from agents.rl.evaluation import EvaluationResult, evaluate

__all__ = [
    "BestResponse",
    "BestResponseResult",
    "DynamicsLogger",
    "DynamicsResult",
    "EvaluationResult",
    "Move",
    "NashConvResult",
    "best_response_dynamics",
    "evaluate",
]
