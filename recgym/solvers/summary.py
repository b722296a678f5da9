"""One run of the paper's dynamics, evaluated: the equilibrium summary.

``summarize_equilibrium(game, seed)`` runs the dynamics and reports the end point
with every figure the command line, the RL evaluation and the examples need:
counts, utilities and payoffs (sums over users, and per user), NashConv over the
vertices and over the whole strategy set (certified or not), and the producers'
distribution over features next to the users'.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recgym import metrics
from recgym.game import EngagementGame, Utilities
from recgym.solvers.best_response import SEARCH_SETS, ExactSolver, NashConvResult
from recgym.solvers.dynamics import DynamicsResult, EventCallback, best_response_dynamics


@dataclass(frozen=True)
class EquilibriumSummary:
    """The end point of one dynamics run, evaluated.

    Attributes
    ----------
    game : EngagementGame
    dynamics : DynamicsResult
    utilities : Utilities
        At the end point, among the producers still active (sums over users).
    nash_conv : dict
        ``{"vertices": NashConvResult, "strategy_set": NashConvResult}``.
    producer_distribution : array (d,)
        ``counts / (active producers)``.
    user_distribution : array (d,)
        The users' demand per feature.
    seed : int or None
        Seed of the dynamics (``None`` when a ``RandomState`` was continued).
    """

    game: EngagementGame
    dynamics: DynamicsResult
    utilities: Utilities
    nash_conv: dict[str, NashConvResult]
    producer_distribution: np.ndarray
    user_distribution: np.ndarray
    seed: int | None

    @property
    def profile(self) -> np.ndarray:
        """The evaluated profile ``(n, d)``: the end point, or for ``hedge`` the
        time-averaged play."""
        average = self.dynamics.average_profile
        return self.dynamics.profile if average is None else average

    @property
    def tv_distance(self) -> float:
        """Total-variation distance between producers' and users' distributions."""
        return metrics.total_variation(self.producer_distribution, self.user_distribution)

    @property
    def features_used(self) -> int:
        """Features with at least one active producer."""
        return int(np.count_nonzero(self.dynamics.counts))

    @property
    def concentrated_share(self) -> float:
        """Share of active producers concentrated on one feature."""
        return metrics.concentrated_share(self.dynamics.profile[self.dynamics.active])

    @property
    def producer_payoffs_per_user(self) -> np.ndarray:
        """Each active producer's payoff divided by the total user weight ``(n_active,)``."""
        u = self.utilities
        return u.payoff[u.active] / u.total_weight

    @property
    def user_welfare(self) -> float:
        """Mean user utility (weighted)."""
        return self.utilities.user_total / self.utilities.total_weight

    @property
    def nash_conv_per_user(self) -> float:
        """NashConv over the whole strategy set, divided by the total user weight (a
        lower bound unless ``nash_conv_certified``)."""
        return self.nash_conv["strategy_set"].value / self.utilities.total_weight

    @property
    def nash_conv_relative(self) -> float:
        """NashConv over the strategy set relative to the total payoff."""
        return self.nash_conv["strategy_set"].relative

    @property
    def nash_conv_certified(self) -> bool:
        """Whether every best response behind the strategy-set NashConv is proven optimal."""
        return self.nash_conv["strategy_set"].certified


def summarize_equilibrium(game: EngagementGame, seed: int | np.random.RandomState = 0,
                          max_iter: int = 500, solver: ExactSolver | None = None,
                          behavior: str = "best_response",
                          callback: EventCallback | None = None) -> EquilibriumSummary:
    """Run the paper's dynamics on ``game`` and evaluate the end point.

    Parameters
    ----------
    game : EngagementGame
    seed : int or RandomState
        The dynamics' stream.
    max_iter : int >= 1
    solver : ExactSolver, optional
        Reused for NashConv (default: a new one for ``game``).
    behavior : str
        The producers' behaviour (``recgym.behaviors``); for ``hedge`` the time-averaged
        play is evaluated.
    callback : callable(event, directions), optional
        Called after every move or exit of the dynamics (``best_response_dynamics``).
    """
    solver = ExactSolver(game) if solver is None else solver
    result = best_response_dynamics(game, seed, max_iter, callback=callback, behavior=behavior)
    profile = result.profile if result.average_profile is None else result.average_profile
    nash_conv = {over: solver.nash_conv(profile, over, result.active)
                 for over in reversed(SEARCH_SETS)}
    n_active = int(result.active.sum())
    return EquilibriumSummary(
        game, result, game.utilities(profile, result.active), nash_conv,
        result.counts / max(n_active, 1), metrics.user_distribution(game.users, game.weights),
        seed if isinstance(seed, int) else None)
