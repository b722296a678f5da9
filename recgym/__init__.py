"""recgym: strategic content producers in engagement-driven recommender systems."""

from importlib import metadata as _metadata

import gymnasium

from recgym import users
from recgym.coevolve import Trajectory, coevolve
from recgym.environment import EngagementEnv, env, parallel_env, raw_env
from recgym.game import EngagementGame, Utilities
from recgym.payoffs import make_payoff
from recgym.platform import PlatformEnv, platform_env
from recgym.rules import Linear, ServingRule, Softmax, TopK, Uniform, make_rule
from recgym.strategy import project_to_simplex, project_to_strategy_set

#: The platform's Gymnasium environment (``recgym.platform``).
PLATFORM_ENV_ID = "recgym/Platform-v0"
if PLATFORM_ENV_ID not in gymnasium.registry:
    gymnasium.register(id=PLATFORM_ENV_ID, entry_point="recgym.platform:PlatformEnv")

__all__ = [
    "EngagementEnv",
    "Trajectory",
    "coevolve",
    "env",
    "parallel_env",
    "raw_env",
    "EngagementGame",
    "PLATFORM_ENV_ID",
    "PlatformEnv",
    "Linear",
    "ServingRule",
    "Softmax",
    "TopK",
    "Uniform",
    "Utilities",
    "make_payoff",
    "make_rule",
    "platform_env",
    "project_to_simplex",
    "project_to_strategy_set",
    "datasets",
    "users",
]
try:  # one version source: the package metadata (pyproject.toml)
    __version__: str = _metadata.version("recgym")
except _metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"


def __getattr__(name: str) -> object:
    """Import ``recgym.datasets`` on first use (it loads pandas and scikit-surprise)."""
    if name == "datasets":
        import importlib

        return importlib.import_module("recgym.datasets")
    raise AttributeError(f"module 'recgym' has no attribute {name!r}")
