r"""Best responses along the rays ``t e_j`` when effort costs (``recgym.producers``).

With a cost ``W kappa (sum s)^beta`` the cost is constant on each face
``{s in S : sum(s) = t}``. Where the payoff without cost, ``f``, is convex in the own
strategy (the rule's vertex certificate), its maximum over a face is at one of the face's
vertices ``t e_j``, so the best response is ``max_j max_{t in [0, 1]} f(t e_j) - c(t)``
with ``c(t) = W kappa t^beta``: one one-dimensional problem per feature.

**The search** (``ray_search``): every ray on a grid of ``GRID`` levels, then
branch and bound. On an interval ``[a, b]`` of a ray, ``f`` (convex along the ray)
lies below its chord ``l(t)``, so ``max_{[a, b]} f - c <= max_{[a, b]} l - c``, a concave
problem solved in closed form (``_chord_bound``). Intervals whose bound beats the best
value found by more than ``tol`` are split at their bound's maximiser (or their middle)
and evaluated there, for at most ``MAX_ROUNDS`` rounds. The largest bound left,
minus the best value, is ``gap``: a proof that no point of any ray, hence (under the
certificate) no strategy, gains more than ``gap``. Without the certificate the same
search is a heuristic (its ``gap`` bounds the rays only if ``f`` is convex along them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recgym.game import EngagementGame
from recgym.producers import ProducerView
from recgym.rules import Others

#: Levels per ray of the first pass (``0, 1/(GRID-1), ..., 1``).
GRID = 33
#: Rounds of branch and bound at most.
MAX_ROUNDS = 60
#: Default tolerance of the ray search, per user (the gap is at most ``RAY_TOL * W``).
RAY_TOL = 1e-9


@dataclass(frozen=True)
class RayResult:
    """The best point found on the rays.

    Attributes
    ----------
    strategy : array (d,)
        ``t e_j`` (the zero strategy where posting nothing is best).
    value : float
        Its payoff, cost included (sum over users).
    feature, level : int, float
        ``j`` and ``t``.
    gap : float
        Largest chord bound over the rays minus ``value`` (sum over users; ``<= tol``
        unless the rounds ran out); a proof of optimality only where ``f`` is convex.
    """

    strategy: np.ndarray
    value: float
    feature: int
    level: float
    gap: float


def ray_search(game: EngagementGame, view: Others | ProducerView, tol: float = RAY_TOL
               ) -> RayResult:
    """Maximise the producer's payoff over the rays ``t e_j``, ``t in [0, 1]`` (module
    docstring); ``tol`` is per user."""
    dim = game.dim
    absolute = tol * game.total_weight
    levels = np.linspace(0.0, 1.0, GRID)
    # points[j]: the levels evaluated on ray j, values[j] the payoffs there (cost included)
    points = [levels.copy() for _ in range(dim)]
    values = list(_payoffs(game, view, np.repeat(np.arange(dim), GRID), np.tile(levels, dim))
                  .reshape(dim, GRID))
    gap = np.inf
    for _ in range(MAX_ROUNDS):
        best = max(float(v.max()) for v in values)
        splits_feature, splits_level = [], []
        largest = best
        for j in range(dim):
            bound, at = _chord_bound(points[j], values[j], game, view)
            largest = max(largest, float(bound.max()))
            open_ = np.flatnonzero(bound > best + absolute)
            a, b = points[j][open_], points[j][open_ + 1]
            middle = (a + b) / 2
            inside = (at[open_] > a + 1e-3 * (b - a)) & (at[open_] < b - 1e-3 * (b - a))
            new = np.unique(np.where(inside, at[open_], middle))
            splits_feature.append(np.full(len(new), j))
            splits_level.append(new)
        gap = largest - best
        features, new_levels = np.concatenate(splits_feature), np.concatenate(splits_level)
        if gap <= absolute or len(new_levels) == 0:
            break
        new_values = _payoffs(game, view, features, new_levels)
        for j in range(dim):
            mine = features == j
            if mine.any():
                merged = np.concatenate([points[j], new_levels[mine]])
                merged_values = np.concatenate([values[j], new_values[mine]])
                order = np.argsort(merged, kind="stable")
                points[j], values[j] = merged[order], merged_values[order]
    tops = [int(np.argmax(v)) for v in values]
    feature = int(np.argmax([values[j][tops[j]] for j in range(dim)]))
    level = float(points[feature][tops[feature]])
    strategy = np.zeros(dim)
    strategy[feature] = level
    return RayResult(strategy, float(values[feature][tops[feature]]), feature, level,
                     max(float(gap), 0.0))


def _payoffs(game: EngagementGame, view: Others | ProducerView, features: np.ndarray,
             levels: np.ndarray) -> np.ndarray:
    """The payoff (cost included) at ``levels[m] e_{features[m]}`` ``(m,)``."""
    strategies = np.zeros((len(levels), game.dim))
    strategies[np.arange(len(levels)), features] = levels
    return game.payoff_of(strategies, view)


def _chord_bound(points: np.ndarray, values: np.ndarray, game: EngagementGame,
                 view: Others | ProducerView) -> tuple[np.ndarray, np.ndarray]:
    """For each interval ``[t_m, t_{m+1}]`` of one ray: ``max l - c`` with ``l`` the chord
    of ``f = value + c`` and its maximiser ``(m - 1,)`` each."""
    weight = game.total_weight * float(getattr(view, "cost", 0.0))
    beta = game.cost_exponent
    cost = weight * points ** beta
    f = values + cost
    a, b = points[:-1], points[1:]
    slope = (f[1:] - f[:-1]) / (b - a)
    # the concave l(t) - c(t) peaks where slope = weight * beta * t^(beta - 1)
    if beta > 1.0 and weight > 0:
        with np.errstate(divide="ignore", invalid="ignore"):
            peak = np.where(slope > 0, (np.maximum(slope, 0.0) / (weight * beta))
                            ** (1.0 / (beta - 1.0)), 0.0)
        at = np.clip(peak, a, b)
    else:  # linear cost: l - c is linear, its maximum at an end
        at = np.where(slope > weight, b, a)
    bound = f[:-1] + slope * (at - a) - weight * at ** beta
    return np.maximum(bound, np.maximum(values[:-1], values[1:])), at
