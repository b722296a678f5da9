"""Projected gradient ascent of one producer's payoff over the strategy set.

With the others fixed, producer ``i``'s payoff is ``sum_k w_k f_k(<c_k, s>)`` with
``f_k`` the payoff's per-user term (``recgym.payoffs``); its gradient is
``sum_k w_k f_k'(<c_k, s>) c_k``. The ascent runs on ``S = {s >= 0, sum(s) <= 1}``
with the Euclidean projection ``recgym.project_to_strategy_set``.

**Bounded steps.** Each start moves along its gradient scaled to unit max-norm, by a
step length of its own: a step that does not decrease the payoff is taken and the
length grows by ``GROW`` (up to ``MAX_MOVE``, about the diameter of ``S``);
otherwise it shrinks by ``SHRINK``. So iterates stay in ``S`` and steps stay
bounded however steep the payoff is (softmax at tiny temperature has gradients of
order ``1 / T``).

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


def _unit(grads: np.ndarray) -> np.ndarray:
    """Each row of ``grads`` ``(m, d)`` divided by its max-norm (zero rows stay zero)."""
    scale = np.abs(grads).max(axis=1, keepdims=True)
    return np.divide(grads, scale, out=np.zeros_like(grads), where=scale > 0)


def ascend(game: EngagementGame, others: Others, starts: np.ndarray, max_steps: int = 300
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

    Returns
    -------
    strategies : array, shape (m, d)
        Final point of each start, in ``S``.
    values : array, shape (m,)
        Payoff at each final point (sum over users).
    """
    points = project_to_strategy_set(starts)
    values, grads = game.payoff_and_gradient(points, others)
    directions = _unit(grads)
    step = np.full(len(points), FIRST_MOVE)
    active = np.ones(len(points), dtype=bool)
    for _ in range(max_steps):
        if not active.any():
            break
        idx = np.flatnonzero(active)
        trial = project_to_strategy_set(points[idx] + step[idx, None] * directions[idx])
        moved = np.abs(trial - points[idx]).max(axis=1)
        trial_values, trial_grads = game.payoff_and_gradient(trial, others)
        accept = trial_values >= values[idx]
        take = idx[accept]
        points[take], values[take] = trial[accept], trial_values[accept]
        directions[take] = _unit(trial_grads[accept])
        step[idx] = np.minimum(step[idx] * np.where(accept, GROW, SHRINK), MAX_MOVE)
        active[idx[moved < MIN_STEP_MOVE]] = False
    return points, values


def frank_wolfe_gap(game: EngagementGame, others: Others, strategy: np.ndarray) -> float:
    """``max_{v in S} <grad, v - s>`` at ``strategy`` ``(d,)``: for a concave payoff, an
    upper bound on what any strategy gains over ``strategy`` (0 at the optimum)."""
    _, grad = game.payoff_and_gradient(strategy[None, :], others)
    best_vertex = max(float(grad[0].max()), 0.0)  # the vertices of S: e_j and 0
    return max(best_vertex - float(grad[0] @ strategy), 0.0)
