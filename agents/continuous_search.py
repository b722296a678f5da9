"""Projected gradient ascent of one producer's utility over the strategy set.

With the others fixed, producer ``i``'s engagement is
``u(s) = sum_k f_k(<c_k, s>)`` with ``f_k(x) = x * share_k(x)``, and
``grad u(s) = sum_k f_k'(<c_k, s>) c_k`` where ``f_k' = share_k + x * share_k'``.
Every serving rule's share is non-decreasing in the own rating and users are
non-negative, so ``u`` is non-decreasing along ``s`` and a maximiser lies on the face
``sum(s) = 1``: the ascent works on the probability simplex, with the Euclidean
projection ``recgym.project_to_simplex``.

Each start runs its own step size: a step that does not decrease ``u`` is taken
and the step grows by ``GROW``; otherwise the step shrinks by ``SHRINK``. The
search is a heuristic (``u`` need not be concave); callers certify optimality
separately.
"""

from __future__ import annotations

import numpy as np

from recgym.rules import Others, ServingRule
from recgym.strategy import project_to_simplex

GROW = 1.5  # step-size factor after an accepted step
SHRINK = 0.5  # step-size factor after a rejected step
FIRST_MOVE = 0.1  # first step moves the largest coordinate by about this much
MIN_STEP_MOVE = 1e-10  # a start stops once its trial steps move less than this


def utility_and_gradient(strategies: np.ndarray, users: np.ndarray, rule: ServingRule,
                         others: Others) -> tuple[np.ndarray, np.ndarray]:
    """Own utility ``(m,)`` and its gradient ``(m, d)`` at ``m`` strategies ``(m, d)``."""
    x = strategies @ users.T  # (m, K) own ratings
    share = rule.share(x, others)
    slope = share + x * rule.share_slope(x, others)
    return (x * share).sum(axis=1), slope @ users


def utility(strategies: np.ndarray, users: np.ndarray, rule: ServingRule,
            others: Others) -> np.ndarray:
    """Own utility ``(m,)`` at ``m`` strategies ``(m, d)`` (sum over users)."""
    x = strategies @ users.T
    return (x * rule.share(x, others)).sum(axis=1)


def ascend(starts: np.ndarray, users: np.ndarray, rule: ServingRule, others: Others,
           max_steps: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """Projected gradient ascent from each start.

    Parameters
    ----------
    starts : array, shape (m, d)
        Starting strategies (projected onto the simplex first).
    users : array, shape (K, d)
    rule, others : the serving rule and the others' summary for the producer.
    max_steps : int
        Gradient evaluations per start.

    Returns
    -------
    strategies : array, shape (m, d)
        Final point of each start.
    values : array, shape (m,)
        Utility at each final point.
    """
    points = project_to_simplex(starts)
    values, grads = utility_and_gradient(points, users, rule, others)
    scale = np.abs(grads).max(axis=1)
    step = FIRST_MOVE / np.where(scale > 0, scale, 1.0)
    active = np.ones(len(points), dtype=bool)
    for _ in range(max_steps):
        if not active.any():
            break
        idx = np.flatnonzero(active)
        trial = project_to_simplex(points[idx] + step[idx, None] * grads[idx])
        moved = np.abs(trial - points[idx]).max(axis=1)
        trial_values, trial_grads = utility_and_gradient(trial, users, rule, others)
        accept = trial_values >= values[idx]
        take = idx[accept]
        points[take], values[take], grads[take] = trial[accept], trial_values[accept], \
            trial_grads[accept]
        step[idx] *= np.where(accept, GROW, SHRINK)
        active[idx[moved < MIN_STEP_MOVE]] = False
    return points, values
