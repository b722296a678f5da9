"""Producer agents: exact best responses, the paper's dynamics, and RL producers."""

from agents.best_response import BestResponse, BestResponseResult, NashConvResult
from agents.dynamics import DynamicsResult, Move, best_response_dynamics

__all__ = [
    "BestResponse",
    "BestResponseResult",
    "DynamicsResult",
    "Move",
    "NashConvResult",
    "best_response_dynamics",
]
