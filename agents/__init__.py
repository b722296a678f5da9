"""Producer agents: exact best responses, the paper's dynamics, and RL producers."""

from agents.dynamics import DynamicsResult, Move, best_response_dynamics

__all__ = ["DynamicsResult", "Move", "best_response_dynamics"]
