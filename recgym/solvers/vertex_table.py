"""The deviation table of the dynamics: one producer's payoff at every vertex.

Used where every producer plays a vertex of the strategy set (a basis vector, or
the zero strategy for payoffs that search it), so a profile is described by
``directions`` ``(n,)`` and ``counts`` ``(V,)``. Payoffs are the game's
(``recgym.payoffs``), evaluated on the rule's serving (``recgym.served``):

* **fast path**, where the rule offers one (``ServingRule.vertex_view``: linear,
  softmax and uniform): the others are summed from their counts per vertex, over
  blocks of ``USER_BLOCK`` users so that scratch arrays stay in cache; one table
  costs ``O(K V)`` and memory stays ``O(K V)``;
* **generic path** (every rule): the rule's own one-producer view on the
  ``(K, n)`` vertex ratings, ``O(K (n + V))`` per producer.

Producers that left the game (``active`` false) are not among the others.

**Skill and cost** (``recgym.producers``): with one skill ``q`` for everybody the fast
path runs on the users scaled by ``q`` (a vertex's rating is ``q <c_k, v>`` for all);
with skills that differ the generic path serves each producer's view (its own skill
on its candidates, the others' on theirs), and producers on one vertex no longer share
a table. A cost of effort is subtracted from each vertex's payoff.
"""

from __future__ import annotations

import numpy as np

from recgym.game import EngagementGame

USER_BLOCK = 8192  # users per block of the fast sweep


class VertexTable:
    """Payoffs at every vertex for a fixed game.

    Parameters
    ----------
    game : EngagementGame
    fast : bool
        Use the rule's fast path where it has one; ``False`` forces the generic path.

    Attributes
    ----------
    symmetric : bool
        True when producers on the same vertex face the same problem (the rule says
        so), so their tables can be shared.
    fast : bool
        Whether the fast path is in use.
    """

    def __init__(self, game: EngagementGame, fast: bool = True) -> None:
        self.game = game
        self.symmetric: bool = game.rule.symmetric and game.identical_producers
        skill = game.traits.skill
        if skill is not None and np.any(skill != skill[0]):
            fast = False  # producers on one vertex are rated differently
        users = game.users if skill is None else game.users * skill[0]
        self._view = game.rule.vertex_view(users, game.vertices) if fast else None
        self.fast: bool = self._view is not None
        self._with_others: bool = game.payoff.needs_welfare_loss

    def __call__(self, directions: np.ndarray, counts: np.ndarray, producer: int,
                 active: np.ndarray | None = None) -> np.ndarray:
        """Payoffs ``(V,)`` (sums over users) of ``producer`` at each vertex.

        Parameters
        ----------
        directions : int array, shape (n,)
            Current vertex of every producer.
        counts : int array, shape (V,)
            Active producers per vertex (``bincount`` of the active directions).
        producer : int
        active : bool array (n,), optional
            Producers still in the game (default: all).
        """
        if self._view is not None:
            values = self._fast(counts, int(directions[producer]))
        else:
            values = self._generic(directions, producer, active)
        if self.game.has_cost:
            values = values - self.game.traits.effort_cost(self.game.vertices, producer,
                                                           self.game.total_weight)
        return values

    def _fast(self, counts: np.ndarray, own: int) -> np.ndarray:
        others = counts.astype(np.float64)
        others[own] -= 1.0
        total = np.zeros(self.game.n_vertices)
        weights = self.game.weights
        for start in range(0, self.game.n_users, USER_BLOCK):
            block = slice(start, start + USER_BLOCK)
            served = self._view.served(others, block, self._with_others)
            values = self.game.payoff.per_user(served)
            total += values.sum(axis=1) if weights is None else values @ weights[block]
        return total

    def _generic(self, directions: np.ndarray, producer: int,
                 active: np.ndarray | None) -> np.ndarray:
        game = self.game
        profile = game.vertices[directions]
        others = game.others(profile, producer, active)
        served = others.served(game.vertices @ game.users.T)  # (V, K)
        return game.user_sum(game.payoff.per_user(served))


class ServedVertexTable(VertexTable):
    """Payoffs at every vertex when the platform serves by scores, not ratings.

    Users engage by their true ratings ``r_kv = <c_k, v>``; the rule serves by the
    platform's ``scores`` ``(K, V)`` at each vertex (``recgym.learners``), so a producer on
    vertex ``b`` earns ``sum_k p_b(sigma_k) r_kb``. Fast path: the rule's
    ``scored_vertex_view``; generic path (top-k): the rule on the active producers'
    scores with the producer's own column set to each vertex in turn, ``O(V K n)``.
    Payoffs must not need the welfare without each producer (engagement, exposure).
    """

    def __init__(self, game: EngagementGame, scores: np.ndarray) -> None:
        self.game = game
        self.symmetric = game.rule.symmetric
        self.scores = scores
        self.ratings = game.users @ game.vertices.T  # (K, V)
        self._view = game.rule.scored_vertex_view(self.ratings, scores)
        self.fast = self._view is not None
        self._with_others = False

    def _generic(self, directions: np.ndarray, producer: int,
                 active: np.ndarray | None) -> np.ndarray:
        game = self.game
        mask = np.ones(game.n_producers, dtype=bool) if active is None else active.copy()
        mask[producer] = True
        live = np.flatnonzero(mask)
        own = int(np.searchsorted(live, producer))
        scores = self.scores[:, directions[live]]  # (K, m)
        engagement, exposure = np.zeros(game.n_vertices), np.zeros(game.n_vertices)
        for vertex in range(game.n_vertices):  # over vertices, vectorised over users
            scores[:, own] = self.scores[:, vertex]
            share = game.rule.probabilities(scores)[:, own]
            engagement[vertex] = game.user_sum(share * self.ratings[:, vertex])
            exposure[vertex] = game.user_sum(share)
        return game.payoff.profile_totals(engagement, exposure, None)
