"""Projected gradient ascent of one producer's payoff over the strategy set.

With the others fixed, producer ``i``'s payoff is ``sum_k w_k f_k(<c_k, s>)`` with
``f_k`` the payoff's per-user term (``recgym.payoffs``); its gradient is
``sum_k w_k f_k'(<c_k, s>) c_k``. The ascent runs on ``S = {s >= 0, sum(s) <= 1}``
with the Euclidean projection ``recgym.project_to_strategy_set``.

**Bounded steps.** Each start moves along its gradient scaled to unit spread (``_unit``), by a
step length of its own: a step that increases the payoff (by more than rounding,
``IMPROVEMENT_TOL`` of the payoff's bound) is taken and the
length grows by ``GROW`` (up to ``MAX_MOVE``, about the diameter of ``S``);
otherwise it shrinks by ``SHRINK``. So iterates stay in ``S`` and steps stay
bounded however steep the payoff is (softmax at tiny temperature has gradients of
order ``1 / T``). A start ends when its steps move less than ``MIN_STEP_MOVE``, when
they gain less than ``STALL_GAIN`` of the payoff's bound ``STALL_STEPS`` times in a
row, or when it comes within ``AT_VERTEX`` of a vertex (every vertex is searched
separately, so what remains of such a start is no better than one).

The search is a heuristic (payoffs need not be concave); callers certify
optimality separately. ``frank_wolfe_gap`` is that certificate for concave payoffs:
``max_{v in S} <grad, v - s>`` bounds how much any strategy can gain over ``s``.
"""

from __future__ import annotations

import numpy as np

from recgym.game import EngagementGame
from recgym.rules import Others
from recgym.strategy import project_to_strategy_set

GROW = 1.5  # step-length factor after an accepted step
SHRINK = 0.5  # step-length factor after a rejected step
FIRST_MOVE = 0.1  # first step moves the largest coordinate by this much
MAX_MOVE = 2.0  # longest step (S has diameter sqrt(2))
MIN_STEP_MOVE = 1e-10  # a start stops once its trial steps move less than this
IMPROVEMENT_TOL = 1e-12  # gains below this share of the payoff bound count as none
STALL_GAIN = 1e-10  # a step gaining less than this share of the payoff bound gains next to
STALL_STEPS = 40  # nothing; a start that does so this many steps in a row ends
AT_VERTEX = 1e-7  # a start this close to a vertex ends: the vertices are searched anyway


def _unit(grads: np.ndarray) -> np.ndarray:
    """Each row of ``grads`` ``(m, d)`` divided by its spread ``max - min`` (by its max-norm
    where the spread is negligible; zero rows stay zero).

    On a face ``sum(s) = 1`` only the differences between coordinates move the point
    (the projection removes a common shift), so scaling by the spread keeps the
    useful part of a step of order one even where the payoff is nearly flat.
    """
    spread = grads.max(axis=1, keepdims=True) - grads.min(axis=1, keepdims=True)
    size = np.abs(grads).max(axis=1, keepdims=True)
    scale = np.where(spread > 1e-9 * size, spread, size)
    return np.divide(grads, scale, out=np.zeros_like(grads), where=scale > 0)


def ascend(game: EngagementGame, others: Others, starts: np.ndarray, max_steps: int = 300,
           stall_steps: int = STALL_STEPS, improvement_tol: float = IMPROVEMENT_TOL
           ) -> tuple[np.ndarray, np.ndarray]:
    """Projected gradient ascent of the producer's payoff from each start.

    Parameters
    ----------
    game : EngagementGame
    others : the producer's view of the others (``game.others``).
    starts : array, shape (m, d)
        Starting strategies (projected onto ``S`` first).
    max_steps : int
        Gradient evaluations per start.
    stall_steps : int
        Steps in a row gaining next to nothing after which a start ends.
    improvement_tol : float
        Gains below this share of the payoff's bound count as none (0: any gain).

    Returns
    -------
    strategies : array, shape (m, d)
        Final point of each start, in ``S``.
    values : array, shape (m,)
        Payoff at each final point (sum over users).
    """
    points = project_to_strategy_set(starts)
    values, grads = game.payoff_and_gradient(points, others)
    bound = game.payoff_bounds()[1]
    tolerance = improvement_tol * bound
    directions = _unit(grads)
    step = np.full(len(points), FIRST_MOVE)
    active = np.ones(len(points), dtype=bool)
    stalled = np.zeros(len(points), dtype=np.int64)  # steps in a row gaining next to nothing
    for _ in range(max_steps):
        if not active.any():
            break
        idx = np.flatnonzero(active)
        trial = project_to_strategy_set(points[idx] + step[idx, None] * directions[idx])
        moved = np.abs(trial - points[idx]).max(axis=1)
        trial_values, trial_grads = game.payoff_and_gradient(trial, others)
        # Strictly better beyond rounding: a plateau shrinks the step and the start ends.
        accept = trial_values > values[idx] + tolerance
        small = ~accept | (trial_values - values[idx] < STALL_GAIN * bound)
        take = idx[accept]
        points[take], values[take] = trial[accept], trial_values[accept]
        directions[take] = _unit(trial_grads[accept])
        step[idx] = np.minimum(step[idx] * np.where(accept, GROW, SHRINK), MAX_MOVE)
        stalled[idx] = np.where(small, stalled[idx] + 1, 0)
        done = (moved < MIN_STEP_MOVE) | (stalled[idx] >= stall_steps) | \
            (_vertex_distance(points[idx]) < AT_VERTEX)
        active[idx[done]] = False
    return points, values


def _vertex_distance(points: np.ndarray) -> np.ndarray:
    """Max-norm distance of each point ``(m, d)`` to the nearest vertex of ``S``
    (the basis vector of its largest coordinate, or 0)."""
    top = points.max(axis=1)
    rest = np.sort(points, axis=1)[:, -2] if points.shape[1] > 1 else np.zeros(len(points))
    return np.minimum(np.maximum(1.0 - top, rest), top)


def frank_wolfe_gap(game: EngagementGame, others: Others, strategy: np.ndarray) -> float:
    """``max_{v in S} <grad, v - s>`` at ``strategy`` ``(d,)``: for a concave payoff, an
    upper bound on what any strategy gains over ``strategy`` (0 at the optimum)."""
    _, grad = game.payoff_and_gradient(strategy[None, :], others)
    best_vertex = max(float(grad[0].max()), 0.0)  # the vertices of S: e_j and 0
    return max(best_vertex - float(grad[0] @ strategy), 0.0)
