"""Utilities of one producer at every basis vector ``e_0 .. e_{d-1}``, others on vertices.

Used by the best-response dynamics, where every producer plays a basis vector, so
the profile is described by ``directions`` ``(n,)`` and ``counts`` ``(d,)``.

Fast path (linear and softmax). With ``W[k, f]`` the weight user ``k`` gives a
producer on ``e_f`` (``U[k, f]`` for linear, ``exp((U[k, f] - max_f U[k, f]) / T)`` for
softmax), a producer on ``e_a`` moving to ``e_b`` earns

    u(a -> b) = sum_k U[k, b] * W[k, b] / (W[k, b] + O[k, a]),
    O[k, a]   = sum_f (counts[f] - [f == a]) * W[k, f],

the others' weight formed from their own counts (never as "total minus own", which
cancels to 0 at low temperature, model.md section 5). One candidate sweep costs
``O(K d)``; it runs over blocks of ``USER_BLOCK`` users so that the scratch arrays
stay in cache, and memory stays ``O(K d)``. If some softmax weight underflows (``T``
below about ``max rating / 700``) the generic path is used instead.

Generic path (every rule): the rule's own ``summarize_others``/``share`` on the
``(K, n)`` vertex ratings, ``O(K (n + d))`` per producer.
"""

from __future__ import annotations

import numpy as np

from recgym.game import EngagementGame
from recgym.rules import Linear, Softmax, TopK

USER_BLOCK = 8192  # users per block of the fast sweep: two (d, 8192) float64 scratch arrays


class VertexUtilities:
    """Candidate-vertex utilities for a fixed game.

    Parameters
    ----------
    game : EngagementGame
    fast : bool
        Use the count-weighted fast path where the rule allows it (linear, and
        softmax without underflow); ``False`` forces the generic path.

    Attributes
    ----------
    symmetric : bool
        True when producers on the same vertex face the same problem (every rule
        except top-k, whose ties depend on producer indices), so results can be
        shared between them.
    """

    def __init__(self, game: EngagementGame, fast: bool = True) -> None:
        self.game = game
        users = game.users
        self.symmetric: bool = not isinstance(game.rule, TopK)
        self._weights: np.ndarray | None = None  # (d, K): W above, transposed
        self._weighted_ratings: np.ndarray | None = None  # (d, K): (U * W) transposed
        self._buffer: np.ndarray | None = None  # (d, USER_BLOCK) scratch for one block
        self._other_buffer: np.ndarray | None = None  # (USER_BLOCK,) others' weight per user
        self._zero_weights = False  # some W == 0: denominators can vanish (linear only)
        rule = game.rule
        if isinstance(rule, Linear):
            weights = users
        elif isinstance(rule, Softmax):
            weights = np.exp((users - users.max(axis=1, keepdims=True)) / rule.temperature)
        else:
            weights = None
        if fast and weights is not None and (weights.size == 0 or
                                    weights[users > 0].min(initial=1.0) >= np.finfo(float).tiny):
            self._weights = np.ascontiguousarray(weights.T)
            self._weighted_ratings = np.ascontiguousarray((users * weights).T)
            block = min(USER_BLOCK, users.shape[0])
            self._buffer = np.empty((users.shape[1], block))
            self._other_buffer = np.empty(block)
            self._zero_weights = bool(np.any(weights == 0))

    def __call__(self, directions: np.ndarray, counts: np.ndarray, producer: int) -> np.ndarray:
        """Utilities ``(d,)`` of ``producer`` at each basis vector, the others fixed.

        Parameters
        ----------
        directions : int array, shape (n,)
            Current vertex of every producer.
        counts : int array, shape (d,)
            ``bincount(directions, minlength=d)``.
        producer : int
        """
        if self._weights is not None:
            return self._fast(counts, int(directions[producer]))
        return self._generic(directions, producer)

    def _fast(self, counts: np.ndarray, own: int) -> np.ndarray:
        others = counts.astype(np.float64)
        others[own] -= 1.0
        total = np.zeros(self.game.dim)
        for start in range(0, self.game.n_users, USER_BLOCK):
            weights = self._weights[:, start:start + USER_BLOCK]  # (d, m)
            size = weights.shape[1]
            other_weight = np.matmul(others, weights, out=self._other_buffer[:size])  # (m,)
            den = np.add(weights, other_weight, out=self._buffer[:, :size])
            numerator = self._weighted_ratings[:, start:start + USER_BLOCK]
            if self._zero_weights:
                # A user rating the candidate and every other producer 0 brings nothing.
                share = np.divide(numerator, den, out=np.zeros_like(den), where=den > 0)
            else:
                share = np.divide(numerator, den, out=den)
            total += share.sum(axis=1)
        return total

    def _generic(self, directions: np.ndarray, producer: int) -> np.ndarray:
        users = self.game.users
        summary = self.game.rule.summarize_others(users[:, directions], producer)
        candidates = users.T  # (d, K): own ratings at each vertex
        return (candidates * self.game.rule.share(candidates, summary)).sum(axis=1)
