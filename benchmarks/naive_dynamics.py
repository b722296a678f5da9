"""A slow, obviously-correct baseline of the paper's best-response dynamics.

Written directly from docs/model.md section 5, the way the paper's original code
worked: every candidate utility is computed from scratch. For producer ``i`` on
``e_a`` and each candidate ``e_b`` the whole profile ``(n, d)`` with row ``i``
replaced is built, the ratings ``U @ profile.T`` ``(K, n)`` and the serving
probabilities ``(K, n)`` (the game's own rule) are formed, and the producer's
engagement ``sum_k p_ki r_ki`` is read off. That is ``d + 1`` full ``K x n``
serving matrices per producer checked.

Random numbers are consumed as in the paper (and as in
``recgym.solvers.best_response_dynamics``) from a legacy ``RandomState``:
``rng.choice(d, n)`` for the start, then one ``rng.permutation(n)`` per iteration.

Only the benchmark uses this module; it is the reference the fast dynamics is
timed against and must agree with exactly.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from recgym._validation import check_int
from recgym.game import EngagementGame


@dataclass(frozen=True)
class NaiveResult:
    """Outcome of one naive run (the fields that ``DynamicsResult`` also has).

    Attributes
    ----------
    converged : bool
        True if the run stopped at a vertex equilibrium.
    iterations : int
        Moves made if converged, else ``max_iter - 1``.
    directions : int array, shape (n,)
        Final vertex of every producer.
    counts : int array, shape (d,)
        Producers per feature at the end.
    """

    converged: bool
    iterations: int
    directions: np.ndarray
    counts: np.ndarray


def producer_utility(game: EngagementGame, profile: np.ndarray, producer: int) -> float:
    """Engagement ``sum_k p_ik r_ki`` of ``producer`` at ``profile`` ``(n, d)``, from scratch."""
    ratings = game.users @ profile.T  # (K, n)
    probs = game.rule.probabilities(ratings)  # (K, n)
    return float(np.sum(probs[:, producer] * ratings[:, producer]))


def best_vertex(game: EngagementGame, directions: np.ndarray, producer: int) -> int:
    """Producer's best basis vector, the others fixed (its own one unless strictly beaten).

    Scans ``b = 0 .. d-1`` in order and keeps ``b`` when its utility is strictly
    greater than the best so far, starting from the current utility.
    """
    d = game.dim
    basis = np.eye(d)
    profile = basis[directions]  # (n, d), float64
    own = int(directions[producer])
    best, best_utility = own, producer_utility(game, profile, producer)
    for b in range(d):
        candidate = profile.copy()
        candidate[producer] = basis[b]
        utility = producer_utility(game, candidate, producer)
        if utility > best_utility:
            best, best_utility = b, utility
    return best


def naive_dynamics(game: EngagementGame, rng: np.random.RandomState,
                   max_iter: int = 500,
                   on_iteration: Callable[[int], None] | None = None) -> NaiveResult:
    """Run the paper's dynamics (docs/model.md section 5) the slow, direct way.

    Parameters
    ----------
    game : EngagementGame
    rng : numpy.random.RandomState
        Consumed exactly as the paper does.
    max_iter : int >= 1
    on_iteration : callable(iteration), optional
        Called after each iteration (e.g. to show progress).

    Returns
    -------
    NaiveResult
    """
    if not isinstance(rng, np.random.RandomState):
        raise TypeError(f"rng must be a numpy.random.RandomState, got {type(rng).__name__}")
    max_iter = check_int("max_iter", max_iter, 1)
    n, d = game.n_producers, game.dim
    directions = rng.choice(d, n).astype(np.int64)
    for iteration in range(max_iter):
        order = rng.permutation(n)
        moved = False
        for producer in order:
            target = best_vertex(game, directions, int(producer))
            if target != directions[producer]:
                directions[producer] = target
                moved = True
                break
        if on_iteration is not None:
            on_iteration(iteration)
        if not moved:
            return NaiveResult(True, iteration, directions, np.bincount(directions, minlength=d))
    return NaiveResult(False, max_iter - 1, directions, np.bincount(directions, minlength=d))
