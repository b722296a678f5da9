r"""Serving rules: how the platform splits each user's attention among producers.

A rule maps the ratings ``R`` (shape ``(K, n)``, ``R[k, i] = <c_k, s_i>``) to serving
probabilities ``P`` of the same shape, each row summing to 1 (or to 0 for a user
that brings nobody engagement under the linear rule).

=========  ============================================================  ===================
name       ``p_i(c_k)`` (before the floor)                               parameters
=========  ============================================================  ===================
linear     ``r_ki / sum_j r_kj`` (0 for every producer if the sum is 0)  floor
softmax    ``exp(r_ki / T) / sum_j exp(r_kj / T)``                        temperature, floor
topk       softmax over the user's ``k`` highest-rated producers          k, temperature, floor
uniform    ``1 / n``                                                       floor
=========  ============================================================  ===================

**Exposure floor.** Every rule takes ``floor`` ``eta`` in ``[0, 1]`` (default 0) and
serves ``(1 - eta) p_i + eta / n``: each producer is guaranteed ``eta / n`` of every
user's attention. The floor adds a term linear in the own rating, so the vertex
certificates below carry over.

**Top-k ties.** Producers are ranked per user by rating, highest first; equal
ratings are ranked by producer index, lowest first (a stable sort). The first
``k`` in that ranking are served. ``k = 1`` is the greedy (hardmax) rule and
``k >= n`` is plain softmax.

**Numerics.** Exponentials are shifted by a per-user maximum, so any temperature
``> 0`` neither overflows nor returns NaN.

**What a rule states about itself** (so that no code outside this module needs
to know which rule it has):

* ``others(ratings, i)``: the one-producer view, whose ``served(x)`` gives producer
  ``i``'s serving at any own ratings ``x`` (``recgym.served.Served``); the others'
  summaries are formed from the others directly, never as "total minus own",
  which cancels to 0 at low temperature;
* ``symmetric``: producers with equal ratings face the same problem (top-k is not:
  its ties depend on producer indices); ``others_through_total``: a producer's
  serving depends on the others only through their rating total (linear, uniform);
* ``vertex_certificate(payoff, users, others)``: whether searching the vertices is
  exact for that payoff (the payoff is convex in the own strategy), and
  ``concave_payoff(payoff)`` where it is concave instead;
* optional fast paths: ``vertex_view`` (the count-weighted vertex table of the
  best-response dynamics) and ``producer_totals`` (engagement and exposure of a
  whole profile, for the environment).

Rules are registered by name (``RULES``) and built with ``make_rule``, which takes
spec strings such as ``"softmax:temperature=0.1,floor=0.05"``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from recgym.registry import Declared, Param, Registry
from recgym.served import Served, ratio

FLOOR = Param("floor", float, 0.0, low=0.0, high=1.0,
              doc="exposure floor eta: each producer gets at least eta/n of every user")
TEMPERATURE = Param("temperature", float, 1.0, low=0.0, low_open=True,
                    doc="softmax temperature T", log_scale=True)
K_SERVED = Param("k", int, None, low=1, doc="producers served per user")

#: The paper's payoff (``recgym.payoffs``), the one the softmax certificate is about.
ENGAGEMENT = "engagement"


class Others(ABC):
    """Producer ``index``'s view of the other producers (one serving rule, one profile).

    Attributes
    ----------
    index : int
        The producer this view is for.
    n_producers : int
        Total number of producers, including ``index``.
    """

    index: int
    n_producers: int
    rule: ServingRule
    rating_sum: np.ndarray

    @abstractmethod
    def served(self, x: np.ndarray) -> Served:
        """The producer's serving at own ratings ``x`` ``(..., K)``."""

    @abstractmethod
    def rule_welfare_without(self) -> np.ndarray:
        """What each user ``(K,)`` gets from the rule itself over the others alone
        (before the floor; at least one other producer)."""

    def welfare_without(self) -> np.ndarray:
        """``W(S_-i)`` per user ``(K,)``: the rule over the others alone, floor included
        (the floor spreads over the ``n - 1`` others)."""
        if self.n_producers == 1:
            return np.zeros_like(self.rating_sum)
        eta = self.rule.floor
        if eta == 0.0:
            return self.rule_welfare_without()
        return (1.0 - eta) * self.rule_welfare_without() + \
            eta * self.rating_sum / (self.n_producers - 1)


class ServingRule(Declared, ABC):
    """Interface of a serving rule (an immutable dataclass with declared ``PARAMS``)."""

    floor: float
    #: Producers with equal ratings face the same problem (results can be shared).
    symmetric: ClassVar[bool] = True
    #: A producer's serving depends on the others only through their rating total.
    others_through_total: ClassVar[bool] = False
    #: Serving does not depend on the ratings at all (the uniform rule).
    ignores_ratings: ClassVar[bool] = False

    def probabilities(self, ratings: np.ndarray) -> np.ndarray:
        """Serving probabilities ``(K, n)`` from ratings ``(K, n)``, floor included."""
        probs = self.rule_probabilities(ratings)
        if self.floor == 0.0:
            return probs
        return (1.0 - self.floor) * probs + self.floor / ratings.shape[1]

    @abstractmethod
    def rule_probabilities(self, ratings: np.ndarray) -> np.ndarray:
        """Probabilities ``(K, n)`` of the rule itself, before the floor."""

    @abstractmethod
    def others(self, ratings: np.ndarray, index: int) -> Others:
        """Producer ``index``'s view of the others, from ratings ``(K, n)``."""

    def producer_totals(self, ratings_by_producer: np.ndarray,
                        weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Engagement and exposure ``(n,)`` (sums over users) from ratings ``(n, K)``.

        ``weights`` ``(K,)`` weight the users (``None``: all 1). The same numbers as
        summing ``probabilities`` (up to rounding); rules override it to skip forming
        the ``(K, n)`` matrix.
        """
        probs = self.probabilities(ratings_by_producer.T)  # (K, n)
        if weights is not None:
            probs = probs * weights[:, None]
        return (probs * ratings_by_producer.T).sum(axis=0), probs.sum(axis=0)

    def welfare_without_each(self, ratings: np.ndarray) -> np.ndarray:
        """``W(S_-i)`` per user for every producer ``i``: ``(K, n)`` from ratings ``(K, n)``.

        What each user would get from the rule over the others alone (the marginal
        payoff's baseline). The default asks each producer's view; rules override it
        with an ``O(K n)`` computation.
        """
        return np.stack([self.others(ratings, i).welfare_without()
                         for i in range(ratings.shape[1])], axis=1)

    def vertex_view(self, users: np.ndarray, vertices: np.ndarray) -> VertexView | None:
        """Fast path of the best-response dynamics' vertex table, or ``None``.

        Where every producer plays one of ``vertices`` ``(V, d)``, the others are
        described by their counts per vertex; a ``VertexView`` gives any producer's
        serving at every vertex from those counts in ``O(K V)``.
        """
        return None

    def scored_vertex_view(self, ratings: np.ndarray, scores: np.ndarray) -> VertexView | None:
        """As ``vertex_view``, for a platform that serves by ``scores`` ``(K, V)`` (its
        estimates of the ratings) while users engage by the true ``ratings`` ``(K, V)``
        at each vertex; ``None`` where the rule has no such fast path."""
        return None

    def vertex_certificate(self, payoff: str, users: np.ndarray, others: Others) -> bool:
        """True when ``payoff`` is convex in the own strategy, others fixed.

        Then the best response lies at a vertex of the strategy set and searching the
        vertices is exact. The default proves nothing.
        """
        return False

    def concave_payoff(self, payoff: str) -> bool:
        """True when ``payoff`` is concave in the own strategy (a concave maximisation)."""
        return False


# ---------------------------------------------------------------------- weight rules
@dataclass(frozen=True)
class WeightOthers(Others):
    """The others under a weight rule ``p_i = w(r_i) / sum_j w(r_j)``.

    Attributes
    ----------
    rule : WeightRule
    index, n_producers : int
    shift : array (K,)
        Per-user scale of the others' weights (the others' top rating for softmax).
    mass : array (K,)
        ``B``: the others' weight summed.
    rated : array (K,)
        ``C``: the others' weight times rating, summed.
    rating_sum : array (K,)
        ``R``: the others' ratings summed.
    """

    rule: WeightRule
    index: int
    n_producers: int
    shift: np.ndarray
    mass: np.ndarray
    rated: np.ndarray
    rating_sum: np.ndarray

    def rule_welfare_without(self) -> np.ndarray:
        return ratio(self.rated, self.mass)

    def served(self, x: np.ndarray) -> Served:
        a, da, scale = self.rule.own_weight(x, self.shift)
        return Served(x, a, da, self.mass * scale, self.rated * scale, self.rule.floor,
                      self.n_producers, self.rating_sum, self.welfare_without(),
                      den_positive=self.rule.den_positive)


class WeightRule(ServingRule):
    """A rule ``p_i = w(r_i) / sum_j w(r_j)`` defined by its weight function ``w``."""

    #: ``a + B > 0`` for every user (no user can be left unserved).
    den_positive: ClassVar[bool] = True

    @abstractmethod
    def weights(self, ratings: np.ndarray, shift: np.ndarray) -> np.ndarray:
        """``w(ratings)`` on the scale set by ``shift`` (broadcastable, per user)."""

    @abstractmethod
    def own_weight(self, x: np.ndarray, shift: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(a, da/dx, scale)``: the own weight at ``x`` ``(..., K)`` and its slope on a
        scale where the others' weights (computed at ``shift``) are multiplied by
        ``scale``, chosen so that nothing overflows."""

    def shift_of(self, ratings: np.ndarray) -> np.ndarray:
        """Per-user scale of a ratings matrix ``(K, m)`` (0 where the rule needs none)."""
        return np.zeros(ratings.shape[0])

    def welfare_without_each(self, ratings: np.ndarray) -> np.ndarray:
        # W(S_-i) = C_-i / B_-i with B and C the others' sums of w and w r, each formed
        # from the producers before i plus those after i: sums of non-negative terms,
        # never "total minus own". Rules whose weights can overflow (softmax) override.
        n = ratings.shape[1]
        if n == 1:
            return np.zeros((ratings.shape[0], 1))
        w = self.weights(ratings, np.zeros((ratings.shape[0], 1)))
        mass, rated = _leave_one_out_sum(w), _leave_one_out_sum(w * ratings)
        return self._with_floor(ratio(rated, mass), ratings)

    def _with_floor(self, rule_part: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        """``(1 - eta) W_-i + eta R_-i / (n - 1)`` for every producer ``i``."""
        if self.floor == 0.0:
            return rule_part
        n = ratings.shape[1]
        return (1.0 - self.floor) * rule_part + \
            self.floor * _leave_one_out_sum(ratings) / (n - 1)

    def rule_probabilities(self, ratings: np.ndarray) -> np.ndarray:
        w = self.weights(ratings, self.shift_of(ratings)[:, None])
        return ratio(w, w.sum(axis=1, keepdims=True), self.den_positive)

    def others(self, ratings: np.ndarray, index: int) -> WeightOthers:
        rest = np.delete(ratings, index, axis=1)
        n_users = ratings.shape[0]
        if rest.shape[1] == 0:
            zeros = np.zeros(n_users)
            return WeightOthers(self, index, 1, zeros, zeros, zeros, zeros)
        shift = self.shift_of(rest)
        w = self.weights(rest, shift[:, None])
        return WeightOthers(self, index, ratings.shape[1], shift, w.sum(axis=1),
                            (w * rest).sum(axis=1), rest.sum(axis=1))

    def producer_totals(self, ratings_by_producer: np.ndarray,
                        weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        # With W = w(R) and v_k = 1 / sum_i W_ik: engagement = (W * R) @ v, exposure = W @ v.
        w = self.weights(ratings_by_producer, self.shift_of(ratings_by_producer.T))
        total = w.sum(axis=0)
        inverse = ratio(np.ones_like(total), total, self.den_positive)
        if weights is not None:
            inverse = inverse * weights
        engagement, exposure = (w * ratings_by_producer) @ inverse, w @ inverse
        if self.floor == 0.0:
            return engagement, exposure
        n = ratings_by_producer.shape[0]
        mass = float(ratings_by_producer.shape[1] if weights is None else weights.sum())
        uniform_engagement = ratings_by_producer.sum(axis=1) if weights is None else \
            ratings_by_producer @ weights
        eta = self.floor
        return ((1 - eta) * engagement + eta * uniform_engagement / n,
                (1 - eta) * exposure + eta * mass / n)

    def vertex_view(self, users: np.ndarray, vertices: np.ndarray) -> VertexView | None:
        ratings = _vertex_ratings(users, vertices)  # (V, K)
        # each user's top rating over the vertices (the users' largest entry where they are
        # the basis vectors), reduced over the contiguous (V, K) rows
        return self._view(ratings, ratings, self.shift_of(ratings.T))

    def scored_vertex_view(self, ratings: np.ndarray, scores: np.ndarray) -> VertexView | None:
        return self._view(np.ascontiguousarray(ratings.T), np.ascontiguousarray(scores.T),
                          self.shift_of(scores))

    def _view(self, ratings: np.ndarray, scores: np.ndarray, shift: np.ndarray
              ) -> VertexView | None:
        """The view from ratings and scores ``(V, K)`` and the per-user shift ``(K,)``."""
        w = self.weights(scores, shift[None, :])
        # Underflow would lose producers from the count-weighted sums: a positive score's
        # weight, or (where the rule promises a positive denominator) any weight, e.g. a
        # vertex a user rates 0 at a tiny temperature. The generic path is exact there.
        checked = w if self.den_positive else w[scores > 0]
        if checked.size and checked.min() < np.finfo(float).tiny:
            return None
        return VertexView(self, ratings, w)


def _vertex_ratings(users: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Every user's rating of every vertex, ``(V, K)`` from users ``(K, d)`` and vertices
    ``(V, d)``: the users' columns where the vertices are the basis vectors (then 0)."""
    dim = users.shape[1]
    if vertices.shape[0] >= dim and np.array_equal(vertices[:dim], np.eye(dim)) \
            and not vertices[dim:].any():
        ratings = np.zeros((vertices.shape[0], users.shape[0]))
        ratings[:dim] = users.T
        return ratings
    return vertices @ users.T


class VertexView:
    """A weight rule's serving at every vertex, the others given by counts per vertex.

    With ``W[k, v]`` the weight user ``k`` gives a producer on vertex ``v`` (all on one
    per-user scale), a producer facing others with counts ``c`` (``(V,)``, itself not
    included) has, at vertex ``b``: own weight ``W[k, b]``, the others' mass
    ``O_k = sum_v c_v W[k, v]`` and rated mass ``Q_k = sum_v c_v W[k, v] r_kv``, formed
    from the others' own counts (never as "total minus own", which cancels to 0 at
    low temperature).

    Parameters
    ----------
    rule : WeightRule
    ratings : array (V, K)
        Each user's rating of each vertex (vertices by row, users contiguous).
    weights : array (V, K)
        ``W`` transposed.
    """

    def __init__(self, rule: WeightRule, ratings: np.ndarray, weights: np.ndarray) -> None:
        self.rule = rule
        self._ratings = np.ascontiguousarray(ratings)  # (V, K)
        self._weights = np.ascontiguousarray(weights)  # (V, K)
        self._rated = self._ratings * self._weights  # (V, K)
        #: ``a + B > 0`` everywhere (not so for linear users who rate some vertex 0).
        self._den_positive = rule.den_positive or not bool(np.any(weights == 0))
        self._buffer = np.empty_like(self._weights)  # scratch for a + B, one block at a time

    def served(self, others: np.ndarray, users: slice, with_others: bool) -> Served:
        """Serving ``(V, m)`` at every vertex, for the users ``users`` (a slice).

        ``others`` ``(V,)`` float counts of the other producers per vertex;
        ``with_others`` also forms what the others bring (for payoffs that need it).
        """
        weights = self._weights[:, users]
        mass = others @ weights  # (m,)
        den = np.add(weights, mass, out=self._buffer[:, users])
        n = int(round(others.sum())) + 1
        rated = rating_sum = without = None
        if with_others:  # only what the others bring reads their rating sum
            rating_sum = others @ self._ratings[:, users]
            rated = others @ self._rated[:, users]
            view = WeightOthers(self.rule, 0, n, np.zeros(0), mass, rated, rating_sum)
            without = view.welfare_without()
        return Served(self._ratings[:, users], weights, None, mass, rated, self.rule.floor, n,
                      rating_sum, without, rated_weight=self._rated[:, users],
                      den_positive=self._den_positive, den=den)

#: Serving rules by name.
RULES: Registry[ServingRule] = Registry("rule", ServingRule)


@RULES.register
@dataclass(frozen=True)
class Linear(WeightRule):
    """Proportional serving ``p_i = r_i / sum_j r_j`` (weight ``w(x) = x``).

    Each user's engagement term ``x^2 / (x + A_k)`` and marginal-welfare term
    ``x - A_k + (A_k^2 + C_k) / (x + A_k)`` are convex in ``x >= 0``, so the vertex search
    is exact for ``engagement`` and ``marginal``; exposure ``x / (x + A_k)`` is concave.
    """

    floor: float = 0.0
    NAME: ClassVar[str] = "linear"
    PARAMS: ClassVar[tuple[Param, ...]] = (FLOOR,)
    den_positive: ClassVar[bool] = False
    others_through_total: ClassVar[bool] = True

    def __post_init__(self) -> None:
        self._check_params()

    def weights(self, ratings: np.ndarray, shift: np.ndarray) -> np.ndarray:
        return ratings

    def own_weight(self, x: np.ndarray, shift: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return x, np.ones_like(x), np.ones_like(shift)

    def vertex_certificate(self, payoff: str, users: np.ndarray, others: Others) -> bool:
        return payoff in (ENGAGEMENT, "marginal")

    def concave_payoff(self, payoff: str) -> bool:
        return payoff == "exposure"


@RULES.register
@dataclass(frozen=True)
class Softmax(WeightRule):
    """Softmax serving with temperature ``T``: ``p_i ∝ exp(r_i / T)``.

    Vertex search is exact for ``engagement`` when every user's term
    ``f(x) = x * share(x)`` is convex on ``[0, x_max_k]``, with ``x_max_k = max_f c_kf``
    the largest rating user ``k`` can give: ``T >= x_max_k / 2`` or
    ``exp(x_max_k / T) <= sum_j exp(r_kj / T)`` over the others (then ``share <= 1/2``).
    Other payoffs are searched and flagged.
    """

    temperature: float = 1.0
    floor: float = 0.0
    NAME: ClassVar[str] = "softmax"
    PARAMS: ClassVar[tuple[Param, ...]] = (TEMPERATURE, FLOOR)

    def __post_init__(self) -> None:
        self._check_params()

    def shift_of(self, ratings: np.ndarray) -> np.ndarray:
        return ratings.max(axis=1)

    def weights(self, ratings: np.ndarray, shift: np.ndarray) -> np.ndarray:
        scaled = np.subtract(ratings, shift)  # one new array, then in place
        with np.errstate(over="ignore"):  # (r - max) / T may be -inf: weight 0, the limit
            scaled /= self.temperature
            return np.exp(scaled, out=scaled)

    def welfare_without_each(self, ratings: np.ndarray) -> np.ndarray:
        # As for every weight rule, in the log domain: exp(r / T) overflows at small T.
        n = ratings.shape[1]
        if n == 1:
            return np.zeros((ratings.shape[0], 1))
        log_w = ratings / self.temperature
        with np.errstate(divide="ignore"):
            log_wr = log_w + np.log(ratings)  # -inf where a rating is 0
        rule_part = np.exp(_leave_one_out_logsumexp(log_wr) - _leave_one_out_logsumexp(log_w))
        return self._with_floor(rule_part, ratings)

    def own_weight(self, x: np.ndarray, shift: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        top = np.maximum(x, shift)
        a = np.exp((x - top) / self.temperature)
        return a, a / self.temperature, np.exp((shift - top) / self.temperature)

    def producer_totals(self, ratings_by_producer: np.ndarray,
                        weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        if self.floor != 0.0 or weights is not None:
            return super().producer_totals(ratings_by_producer, weights)
        # The hot path of the environment.
        w = exp_weights(ratings_by_producer, self.temperature)
        return served_totals(w, ratings_by_producer)

    def vertex_certificate(self, payoff: str, users: np.ndarray, others: Others) -> bool:
        return payoff == ENGAGEMENT and softmax_terms_convex(users, others, self.temperature)


# ---------------------------------------------------------------------- top-k
@dataclass(frozen=True)
class TopKOthers(Others):
    """The others under top-k: who beats the own producer, and the others served.

    Attributes
    ----------
    rule : TopK
    index, n_producers : int
    ratings : array (K, n - 1)
        The others' ratings in producer order (to rank the own producer).
    shift : array (K,)
        The others' top rating (the common scale of the weights).
    with_own : tuple of arrays (K,)
        ``(B, C)`` of the others' top ``k - 1``: served together with the own producer.
    without_own : tuple of arrays (K,)
        ``(B, C)`` of the others' top ``k``: served when the own producer is not.
    rating_sum : array (K,)
    """

    rule: TopK
    index: int
    n_producers: int
    ratings: np.ndarray
    shift: np.ndarray
    with_own: tuple[np.ndarray, np.ndarray]
    without_own: tuple[np.ndarray, np.ndarray]
    rating_sum: np.ndarray

    def is_served(self, x: np.ndarray) -> np.ndarray:
        """Whether own ratings ``x`` ``(..., K)`` are among each user's top ``k``."""
        x = np.asarray(x)
        beaten = np.zeros(x.shape, dtype=np.int64)
        for j in range(self.ratings.shape[1]):  # loop over the n - 1 others, not users
            column = self.ratings[:, j]
            beaten += (column > x) | ((column == x) & (j < self.index))
        return beaten < self.rule.k

    def rule_welfare_without(self) -> np.ndarray:
        """Top-k softmax over the others alone: their top ``k`` served."""
        mass, rated = self.without_own
        return rated / mass

    def served(self, x: np.ndarray) -> Served:
        temperature = self.rule.temperature
        served = self.is_served(x)
        top = np.maximum(x, self.shift)
        scale = np.exp((self.shift - top) / temperature)
        a = np.where(served, np.exp((x - top) / temperature), 0.0)
        mass = np.where(served, self.with_own[0], self.without_own[0]) * scale
        rated = np.where(served, self.with_own[1], self.without_own[1]) * scale
        return Served(x, a, a / temperature, mass, rated, self.rule.floor, self.n_producers,
                      self.rating_sum, self.welfare_without(), den_positive=True)


@RULES.register
@dataclass(frozen=True)
class TopK(ServingRule):
    """Softmax over each user's ``k`` highest-rated producers (ties: lower index first).

    Not symmetric (ties depend on producer indices). With ``k >= n`` it is softmax and
    softmax's engagement certificate applies; otherwise nothing is certified.
    """

    k: int = 1
    temperature: float = 1.0
    floor: float = 0.0
    NAME: ClassVar[str] = "topk"
    PARAMS: ClassVar[tuple[Param, ...]] = (K_SERVED, TEMPERATURE, FLOOR)
    symmetric: ClassVar[bool] = False

    def __post_init__(self) -> None:
        self._check_params()

    def served_mask(self, ratings: np.ndarray, axis: int = 1) -> np.ndarray:
        """Bool mask of the ``k`` top-ranked producers of each user (ties by index).

        ``ratings`` is ``(K, n)`` (``axis=1``, producers along the rows) or ``(n, K)``
        (``axis=0``).
        """
        if self.k >= ratings.shape[axis]:
            return np.ones(ratings.shape, dtype=bool)
        return self._mask_at(ratings, self._kth(ratings, axis), axis)

    def _kth(self, ratings: np.ndarray, axis: int) -> np.ndarray:
        """Each user's ``k``-th largest rating, shaped to broadcast against ``ratings``
        (``k < n``)."""
        n = ratings.shape[axis]
        # Partitioning runs along contiguous rows (one order statistic: asking for two
        # costs about three times as much on varied data).
        rows = np.array(ratings if axis == 1 else ratings.T, order="C")
        rows.partition(n - self.k, axis=1)
        return rows[:, n - self.k, None] if axis == 1 else rows[None, :, n - self.k]

    def _mask_at(self, ratings: np.ndarray, kth: np.ndarray, axis: int) -> np.ndarray:
        """The served mask given each user's ``k``-th largest rating ``kth``: every
        producer at or above it, unless more than ``k`` tie there, and then the lower
        indices among the tied ones first."""
        mask = ratings >= kth
        if np.count_nonzero(mask) == self.k * ratings.shape[1 - axis]:
            return mask  # no ties at the k-th rating: exactly k served per user
        crowded = np.flatnonzero(mask.sum(axis=axis) > self.k)
        if crowded.size:
            part = np.take(ratings, crowded, axis=1 - axis)
            level = np.take(kth, crowded, axis=1 - axis)
            above, tied = part > level, part == level
            room = self.k - above.sum(axis=axis, keepdims=True)
            fixed = above | (tied & (np.cumsum(tied, axis=axis) <= room))
            if axis == 1:
                mask[crowded] = fixed
            else:
                mask[:, crowded] = fixed
        return mask

    def rule_probabilities(self, ratings: np.ndarray) -> np.ndarray:
        mask = self.served_mask(ratings)
        z = np.where(mask, ratings, -np.inf)
        e = np.exp((z - z.max(axis=1, keepdims=True)) / self.temperature)
        return e / e.sum(axis=1, keepdims=True)

    def producer_totals(self, ratings_by_producer: np.ndarray,
                        weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        ratings = ratings_by_producer  # (n, K): the hot path of the environment
        if self.floor != 0.0 or weights is not None:
            return super().producer_totals(ratings, weights)
        w = exp_weights(ratings, self.temperature)
        w *= self.served_mask(ratings, axis=0)
        return served_totals(w, ratings)

    def others(self, ratings: np.ndarray, index: int) -> TopKOthers:
        rest = np.delete(ratings, index, axis=1)
        n_users = ratings.shape[0]
        zeros = np.zeros(n_users)
        if rest.shape[1] == 0:
            return TopKOthers(self, index, 1, rest, zeros, (zeros, zeros), (zeros, zeros),
                              zeros)
        ordered = -np.sort(-rest, axis=1)
        shift = ordered[:, 0]
        w = np.exp((ordered - shift[:, None]) / self.temperature)

        def top(m: int) -> tuple[np.ndarray, np.ndarray]:
            return w[:, :m].sum(axis=1), (w[:, :m] * ordered[:, :m]).sum(axis=1)

        return TopKOthers(self, index, ratings.shape[1], rest, shift, top(self.k - 1),
                          top(self.k), rest.sum(axis=1))

    def vertex_certificate(self, payoff: str, users: np.ndarray, others: Others) -> bool:
        # With k >= n every producer is served: the rule is plain softmax, and the
        # others' top k - 1 summarised here are all of them.
        if payoff != ENGAGEMENT or self.k < others.n_producers:
            return False
        return softmax_terms_convex(users, others, self.temperature)


@RULES.register
@dataclass(frozen=True)
class Uniform(WeightRule):
    """Round-robin serving ``p_i = 1 / n``: every payoff is linear in the own rating, so
    the vertex search is exact."""

    floor: float = 0.0
    NAME: ClassVar[str] = "uniform"
    PARAMS: ClassVar[tuple[Param, ...]] = (FLOOR,)
    others_through_total: ClassVar[bool] = True
    ignores_ratings: ClassVar[bool] = True

    def __post_init__(self) -> None:
        self._check_params()

    def weights(self, ratings: np.ndarray, shift: np.ndarray) -> np.ndarray:
        return np.ones_like(ratings)

    def own_weight(self, x: np.ndarray, shift: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return np.ones_like(x), np.zeros_like(x), np.ones_like(shift)

    def producer_totals(self, ratings_by_producer: np.ndarray,
                        weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        n, n_users = ratings_by_producer.shape
        if weights is None:
            return ratings_by_producer.sum(axis=1) / n, np.full(n, n_users / n)
        return ratings_by_producer @ weights / n, np.full(n, weights.sum() / n)

    def vertex_certificate(self, payoff: str, users: np.ndarray, others: Others) -> bool:
        return payoff in (ENGAGEMENT, "exposure", "marginal")


#: Ratings within ``UNSHIFTED_EXPONENT`` temperatures of 0 (and at most
#: ``UNSHIFTED_RATING`` in size) are exponentiated as they are: the weights stay within
#: ``[e^-30, e^30]`` and weights times ratings within about ``1e303``.
UNSHIFTED_EXPONENT = 30.0
UNSHIFTED_RATING = 1e290


def exp_weights(ratings_by_producer: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax weights ``exp(r / T)`` ``(n, K)`` (a new array), up to a factor per user.

    Shifted by each user's top rating, ``exp((r - max_i r_i) / T)``, unless every
    ``|r|`` is at most ``UNSHIFTED_EXPONENT * T`` and ``UNSHIFTED_RATING`` (there the
    shift changes nothing but rounding, and costs a pass over the matrix).
    """
    r = ratings_by_producer
    if r.size and max(-r.min(), r.max()) <= min(UNSHIFTED_EXPONENT * temperature,
                                                 UNSHIFTED_RATING):
        return np.exp(r if temperature == 1.0 else r / temperature)
    w = r - r.max(axis=0)
    if temperature != 1.0:
        # Divided (1 / T is inf for a subnormal T, and 0 * inf NaN); a difference may
        # overflow to -inf, whose weight 0 is the limit.
        with np.errstate(over="ignore"):
            w /= temperature
    return np.exp(w, out=w)


def served_totals(w: np.ndarray, ratings_by_producer: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Engagement and exposure ``(n,)`` of serving weights ``w`` ``(n, K)`` (every
    user's column has a positive sum): with ``v_k = 1 / sum_i w_ik``, engagement is
    ``(w * r) @ v`` and exposure ``w @ v``."""
    inverse = 1.0 / w.sum(axis=0)
    return (w * ratings_by_producer) @ inverse, w @ inverse


def _leave_one_out_sum(values: np.ndarray) -> np.ndarray:
    """``sum_{j != i} values[:, j]`` for every column ``i`` of ``values`` ``(K, n)``: the
    sum of the columns before ``i`` plus the sum of those after (no cancellation)."""
    zeros = np.zeros((values.shape[0], 1))
    before = np.hstack([zeros, np.cumsum(values[:, :-1], axis=1)])
    after = np.hstack([np.cumsum(values[:, :0:-1], axis=1)[:, ::-1], zeros])
    return before + after


def _leave_one_out_logsumexp(values: np.ndarray) -> np.ndarray:
    """``log sum_{j != i} exp(values[:, j])`` for every column ``i`` of ``values`` ``(K, n)``
    (``-inf`` where nothing is left), from prefix and suffix sums over the producers
    (a loop over the ``n`` producers, each step vectorised over the users)."""
    rows = np.ascontiguousarray(values.T)  # (n, K)
    n = rows.shape[0]
    before = np.full_like(rows, -np.inf)
    after = np.full_like(rows, -np.inf)
    for i in range(1, n):
        np.logaddexp(before[i - 1], rows[i - 1], out=before[i])
        np.logaddexp(after[n - i], rows[n - i], out=after[n - i - 1])
    return np.logaddexp(before, after).T


def softmax_terms_convex(users: np.ndarray, others: Others, temperature: float) -> bool:
    """Whether every user's softmax term ``x * share(x)`` is convex on ``[0, x_max_k]``.

    ``f'' = share' * (2 + (x/T)(1 - 2 share))`` is non-negative when ``T >= x_max_k / 2``
    or when ``share <= 1/2`` on the whole range, i.e.
    ``exp(x_max_k / T) <= sum_j exp(r_kj / T)`` over the others. ``x_max_k = max_f c_kf``
    is the largest rating user ``k`` can give any strategy. ``others`` is a softmax
    (or top-k with ``k >= n``) view: its ``shift`` and others' mass define the sum.
    """
    if others.n_producers == 1:
        return True
    shift = others.shift
    mass = others.mass if isinstance(others, WeightOthers) else others.with_own[0]
    x_max = users.max(axis=1)
    wide = temperature >= x_max / 2
    with np.errstate(divide="ignore"):
        crowded = (x_max - shift) / temperature <= np.log(mass)
    return bool(np.all(wide | crowded))


def make_rule(rule: str | ServingRule = "softmax", temperature: float | None = None,
              k: int | None = None, floor: float | None = None, **params: object
              ) -> ServingRule:
    """Create a serving rule from a name or spec string, or pass a rule object through.

    Parameters
    ----------
    rule : str or ServingRule
        A registered name (``RULES.names``), optionally with parameters:
        ``"softmax:temperature=0.1,floor=0.05"``, ``"topk:k=2,temperature=0.5"``.
    temperature, k, floor, **params
        The rule's declared parameters as arguments (``None``: not given). A
        parameter given here and in the spec with different values is an error.

    Raises
    ------
    ValueError
        Unknown rule (lists the names) or parameter (lists the rule's parameters),
        a value out of range (names the parameter and its range).
    """
    return RULES.make(rule, temperature=temperature, k=k, floor=floor, **params)
