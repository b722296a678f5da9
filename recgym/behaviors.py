r"""Producer behaviours: how a producer chooses among the vertices, perfect or not.

The paper's producers best respond. Real creators are not perfect optimisers; two
boundedly rational alternatives are registered beside the paper's:

=========================== ===========================================================
spec                        a producer's choice
=========================== ===========================================================
``best_response`` (default) the paper's: the first strictly better vertex, if any
``quantal:rationality=l``   when visited, vertex ``j`` with probability proportional to
                            ``exp(l * payoff_j / scale)``, ``scale`` the largest
                            ``|payoff|`` at its vertices (so ``l`` is unit-free: a vertex
                            ``x`` times the best payoff worse is ``exp(-l x)`` times as
                            likely); ``l >= 0``, ``l = 0`` is uniform, large ``l`` the best
                            response
``hedge:rate=h``            every producer keeps weights over the vertices and in round
                            ``t`` multiplies them by ``exp(h payoff_j / (K sqrt(t)))`` with
                            the full payoff vector against the others' sampled play (a
                            no-regret learner); ``h > 0``, payoffs per user
=========================== ===========================================================

``recgym.solvers.best_response_dynamics(game, seed, behavior=...)`` runs them
(``recgym.solvers.dynamics`` states the random streams).
"""

from __future__ import annotations

from abc import ABC
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from recgym.registry import Declared, Param, Registry

__all__ = ["BEHAVIORS", "BEHAVIOR_STREAM", "Behavior", "BestResponse", "Hedge", "Quantal",
           "make_behavior", "mixed_strategies"]

#: Tag of the behaviours' own random stream (``SeedSequence([BEHAVIOR_STREAM, seed])``).
BEHAVIOR_STREAM = 0xC4EA7


class Behavior(Declared, ABC):
    """A producer behaviour (an immutable dataclass with declared ``PARAMS``)."""

    #: Draws random numbers of its own (beyond the dynamics' visiting order).
    random: ClassVar[bool] = False

    def __post_init__(self) -> None:
        self._check_params()


#: Producer behaviours by name.
BEHAVIORS: Registry[Behavior] = Registry("producer behavior", Behavior)


@BEHAVIORS.register
@dataclass(frozen=True)
class BestResponse(Behavior):
    """The paper's producers: the first strictly better vertex."""

    NAME: ClassVar[str] = "best_response"


@BEHAVIORS.register
@dataclass(frozen=True)
class Quantal(Behavior):
    """Logit (quantal) choice among the vertices when visited."""

    NAME: ClassVar[str] = "quantal"
    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param("rationality", float, 10.0, low=0.0, doc="l: 0 is uniform, large l best responds"),)
    random: ClassVar[bool] = True
    rationality: float = 10.0

    def choice_probabilities(self, values: np.ndarray) -> np.ndarray:
        """Probabilities ``(V,)`` of each vertex from its payoffs ``values`` ``(V,)``."""
        scale = float(np.abs(values).max())
        if scale == 0.0 or self.rationality == 0.0:
            return np.full(values.shape, 1.0 / values.size)
        with np.errstate(over="ignore", under="ignore"):
            logits = self.rationality * (values - values.max()) / scale
            weights = np.exp(logits)
        return weights / weights.sum()

    def choose(self, values: np.ndarray, rng: np.random.Generator) -> int:
        """One vertex drawn by ``choice_probabilities`` (one uniform from ``rng``)."""
        cumulative = np.cumsum(self.choice_probabilities(values))
        return int(min(np.searchsorted(cumulative, rng.random() * cumulative[-1],
                                       side="right"), values.size - 1))


@BEHAVIORS.register
@dataclass(frozen=True)
class Hedge(Behavior):
    """Multiplicative weights over the vertices, updated every round (no regret)."""

    NAME: ClassVar[str] = "hedge"
    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param("rate", float, 0.1, low=0.0, low_open=True,
              doc="h: learning rate on payoffs per user"),)
    random: ClassVar[bool] = True
    rate: float = 0.1

    def update(self, log_weights: np.ndarray, values: np.ndarray, round_: int) -> np.ndarray:
        """Round ``round_``'s update (in place) of the log-weights ``(n, V)`` with the payoffs
        per user ``(n, V)``, at the anytime rate ``h / sqrt(t)``; returns the mixed strategies
        ``(n, V)`` the weights now give."""
        log_weights += self.rate / np.sqrt(round_) * values
        return mixed_strategies(log_weights)

    @staticmethod
    def draw(mixed: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One vertex per row of ``mixed`` ``(n, V)`` (one uniform per row, in order)."""
        cumulative = np.cumsum(mixed, axis=1)
        return np.minimum((cumulative < rng.random(len(mixed))[:, None]).sum(axis=1),
                          mixed.shape[1] - 1)


def mixed_strategies(log_weights: np.ndarray) -> np.ndarray:
    """The normalised weights ``(n, V)`` of log-weights ``(n, V)`` (shifted, no overflow)."""
    shifted = np.exp(log_weights - log_weights.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def make_behavior(spec: str | Behavior) -> Behavior:
    """A behaviour from its spec string (``"quantal:rationality=5"``) or an instance.

    Raises
    ------
    ValueError
        An unknown behaviour or parameter, or a value outside its range.
    """
    return BEHAVIORS.make(spec)
