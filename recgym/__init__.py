"""recgym: strategic content producers in engagement-driven recommender systems."""

from recgym import users
from recgym.environment import EngagementEnv, env, parallel_env, raw_env
from recgym.game import EngagementGame, Utilities
from recgym.rules import Linear, ServingRule, Softmax, TopK, Uniform, make_rule
from recgym.strategy import project_to_simplex, project_to_strategy_set

__all__ = [
    "EngagementEnv",
    "env",
    "parallel_env",
    "raw_env",
    "EngagementGame",
    "Linear",
    "ServingRule",
    "Softmax",
    "TopK",
    "Uniform",
    "Utilities",
    "make_rule",
    "project_to_simplex",
    "project_to_strategy_set",
    "datasets",
    "users",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """Import ``recgym.datasets`` on first use (it loads pandas and scikit-surprise)."""
    if name == "datasets":
        import importlib

        return importlib.import_module("recgym.datasets")
    raise AttributeError(f"module 'recgym' has no attribute {name!r}")
