r"""Serving rules: how the platform splits each user's attention among producers.

A rule maps the ratings ``R`` (shape ``(K, n)``, ``R[k, i] = <c_k, s_i>``) to serving
probabilities ``P`` of the same shape, each row summing to 1 (or to 0 for a user
that brings nobody engagement under the linear rule).

=========  ==========================================================  ==========
name       ``p_i(c_k)``                                                parameters
=========  ==========================================================  ==========
linear     ``r_ki / sum_j r_kj`` (0 for every producer if the sum is 0)  --
softmax    ``exp(r_ki / T) / sum_j exp(r_kj / T)``                      ``T > 0``
topk       softmax over the user's ``k`` highest-rated producers        ``k >= 1, T > 0``
uniform    ``1 / n``                                                     --
=========  ==========================================================  ==========

**Top-k ties.** Producers are ranked per user by rating, highest first; equal
ratings are ranked by producer index, lowest first (a stable sort). The first
``k`` in that ranking are served. ``k = 1`` is the greedy (hardmax) rule and
``k >= n`` is plain softmax.

**Numerics.** Exponentials are shifted by a per-user maximum, so temperatures down
to ``1e-3`` (and below) neither overflow nor return NaN.

Besides ``probabilities``, each rule exposes the one-producer view used by best
responses: ``summarize_others(ratings, i)`` condenses the other producers'
ratings per user (formed from the others directly, never as "total minus own"),
and ``share(x, others)`` / ``share_slope(x, others)`` give producer ``i``'s serving
probability and its derivative as functions of its own ratings ``x``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recgym._validation import check_int, check_positive_float

RULE_NAMES = ("linear", "softmax", "topk", "uniform")


@dataclass(frozen=True)
class Others:
    """Per-user summary of the other producers, as seen by producer ``index``.

    Attributes
    ----------
    index : int
        The producer this summary is for.
    n_producers : int
        Total number of producers, including ``index``.
    shift : array, shape (K,)
        Per-user reference rating (max over the others, 0 with no others).
    mass : array, shape (K,)
        Rule-specific weight of the others per user (see each rule).
    ratings : array, shape (K, n - 1) or None
        The others' ratings, kept only by rules that need them (top-k).
    """

    index: int
    n_producers: int
    shift: np.ndarray
    mass: np.ndarray
    ratings: np.ndarray | None = field(default=None, repr=False)


class ServingRule(ABC):
    """Interface of a serving rule. Instances are immutable."""

    name: str

    @abstractmethod
    def probabilities(self, ratings: np.ndarray) -> np.ndarray:
        """Serving probabilities, shape ``(K, n)``, from ratings of shape ``(K, n)``."""

    @abstractmethod
    def summarize_others(self, ratings: np.ndarray, index: int) -> Others:
        """Summarise the producers other than ``index`` from ratings ``(K, n)``."""

    @abstractmethod
    def share(self, x: np.ndarray, others: Others) -> np.ndarray:
        """Own serving probability for own ratings ``x`` of shape ``(..., K)``."""

    @abstractmethod
    def share_slope(self, x: np.ndarray, others: Others) -> np.ndarray:
        """Derivative of ``share`` with respect to ``x``, shape ``(..., K)``."""

    def producer_totals(self, ratings_by_producer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Engagement and exposure ``(n,)`` (sums over users) from ratings ``(n, K)``.

        The same numbers as summing ``probabilities`` (up to rounding), laid out
        producer-major so that the per-user reductions run over long rows; rules
        override it to skip forming the ``(K, n)`` probabilities.
        """
        probs = self.probabilities(ratings_by_producer.T)  # (K, n)
        return (probs * ratings_by_producer.T).sum(axis=0), probs.sum(axis=0)

    def vertex_search_is_exact(self, users: np.ndarray, others: Others) -> bool:
        """True when ``sum_k x_k * share(x_k)`` is convex in the own strategy.

        Then the best response lies at a vertex of the strategy set and searching
        the basis vectors is exact. The default says nothing is proven.
        """
        return False

    def params(self) -> dict[str, Any]:
        """The rule's parameters, for logging and result tables."""
        return {}


def _others(ratings: np.ndarray, index: int) -> np.ndarray:
    return np.delete(ratings, index, axis=1)


@dataclass(frozen=True)
class Linear(ServingRule):
    """Proportional serving ``p_i = r_i / sum_j r_j``.

    ``Others.mass`` is the others' rating sum ``A_k``. Each user's engagement term
    ``x^2 / (x + A_k)`` is convex in ``x >= 0``, so the vertex search is exact.
    """

    name: str = field(default="linear", init=False)

    def probabilities(self, ratings: np.ndarray) -> np.ndarray:
        total = ratings.sum(axis=1, keepdims=True)
        return np.divide(ratings, total, out=np.zeros_like(ratings), where=total > 0)

    def summarize_others(self, ratings: np.ndarray, index: int) -> Others:
        rest = _others(ratings, index)
        k = ratings.shape[0]
        return Others(index, ratings.shape[1], np.zeros(k), rest.sum(axis=1))

    def share(self, x: np.ndarray, others: Others) -> np.ndarray:
        den = x + others.mass
        return np.divide(x, den, out=np.zeros(np.broadcast(x, den).shape), where=den > 0)

    def share_slope(self, x: np.ndarray, others: Others) -> np.ndarray:
        den = x + others.mass
        num = np.broadcast_to(others.mass, den.shape)
        return np.divide(num, den**2, out=np.zeros(den.shape), where=den > 0)

    def producer_totals(self, ratings_by_producer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # With w_k = 1 / sum_i r_ik (0 if the sum is 0): engagement = R^2 @ w, exposure = R @ w.
        total = ratings_by_producer.sum(axis=0)
        inverse = np.divide(1.0, total, out=np.zeros_like(total), where=total > 0)
        return (ratings_by_producer * ratings_by_producer) @ inverse, ratings_by_producer @ inverse

    def vertex_search_is_exact(self, users: np.ndarray, others: Others) -> bool:
        return True


@dataclass(frozen=True)
class Softmax(ServingRule):
    """Softmax serving with temperature ``T``: ``p_i ∝ exp(r_i / T)``.

    ``Others.shift`` is ``m_k = max_j r_kj`` over the others and ``Others.mass`` is
    ``B_k = sum_j exp((r_kj - m_k) / T) >= 1``, so that
    ``share(x) = 1 / (1 + B_k exp((m_k - x) / T))``.

    Vertex search is exact (model.md section 4) when every user's term
    ``f(x) = x * share(x)`` is convex on ``[0, x_max_k]`` with ``x_max_k = max_f c_kf``
    the largest rating user ``k`` can give: ``T >= x_max_k / 2`` or
    ``exp(x_max_k / T) <= sum_j exp(r_kj / T)`` (then ``share <= 1/2``).
    """

    temperature: float = 1.0
    name: str = field(default="softmax", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "temperature",
                           check_positive_float("temperature", self.temperature))

    def probabilities(self, ratings: np.ndarray) -> np.ndarray:
        z = (ratings - ratings.max(axis=1, keepdims=True)) / self.temperature
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def summarize_others(self, ratings: np.ndarray, index: int) -> Others:
        rest = _others(ratings, index)
        if rest.shape[1] == 0:
            k = ratings.shape[0]
            return Others(index, 1, np.zeros(k), np.zeros(k))
        shift = rest.max(axis=1)
        mass = np.exp((rest - shift[:, None]) / self.temperature).sum(axis=1)
        return Others(index, ratings.shape[1], shift, mass)

    def share(self, x: np.ndarray, others: Others) -> np.ndarray:
        if others.n_producers == 1:
            return np.ones(np.shape(x))
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + others.mass * np.exp((others.shift - x) / self.temperature))

    def share_slope(self, x: np.ndarray, others: Others) -> np.ndarray:
        p = self.share(x, others)
        return p * (1.0 - p) / self.temperature

    def producer_totals(self, ratings_by_producer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Weights W = exp((r - max_i r_i) / T) and w_k = 1 / sum_i W_ik (>= 1 term is 1):
        # engagement = (W * R) @ w, exposure = W @ w.
        weights = ratings_by_producer - ratings_by_producer.max(axis=0)
        weights *= 1.0 / self.temperature
        np.exp(weights, out=weights)
        inverse = 1.0 / weights.sum(axis=0)
        return (weights * ratings_by_producer) @ inverse, weights @ inverse

    def vertex_search_is_exact(self, users: np.ndarray, others: Others) -> bool:
        return _softmax_terms_convex(users, others, self.temperature)

    def params(self) -> dict[str, Any]:
        return {"temperature": self.temperature}


@dataclass(frozen=True)
class TopK(ServingRule):
    """Softmax over each user's ``k`` highest-rated producers (ties: lower index first).

    ``Others.ratings`` keeps the others' ratings ``(K, n - 1)`` (in producer order)
    to decide membership; ``Others.shift``/``mass`` describe the others' top ``k - 1``
    (those always served together with the own producer when it is served).
    """

    k: int = 1
    temperature: float = 1.0
    name: str = field(default="topk", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "k", check_int("k", self.k, 1))
        object.__setattr__(self, "temperature",
                           check_positive_float("temperature", self.temperature))

    def _served(self, ratings: np.ndarray) -> np.ndarray:
        order = np.argsort(-ratings, axis=1, kind="stable")[:, : self.k]
        mask = np.zeros(ratings.shape, dtype=bool)
        np.put_along_axis(mask, order, True, axis=1)
        return mask

    def probabilities(self, ratings: np.ndarray) -> np.ndarray:
        mask = self._served(ratings)
        z = np.where(mask, ratings, -np.inf)
        e = np.exp((z - z.max(axis=1, keepdims=True)) / self.temperature)
        return e / e.sum(axis=1, keepdims=True)

    def summarize_others(self, ratings: np.ndarray, index: int) -> Others:
        rest = _others(ratings, index)
        n_users = ratings.shape[0]
        top = -np.sort(-rest, axis=1)[:, : self.k - 1]
        if top.shape[1] == 0:
            return Others(index, ratings.shape[1], np.zeros(n_users), np.zeros(n_users), rest)
        shift = top[:, 0]
        mass = np.exp((top - shift[:, None]) / self.temperature).sum(axis=1)
        return Others(index, ratings.shape[1], shift, mass, rest)

    def _is_served(self, x: np.ndarray, others: Others) -> np.ndarray:
        rest = others.ratings
        assert rest is not None
        xe = np.asarray(x)[..., None]
        lower_index = np.arange(rest.shape[1]) < others.index
        beaten_by = (rest > xe) | ((rest == xe) & lower_index)
        return beaten_by.sum(axis=-1) < self.k

    def share(self, x: np.ndarray, others: Others) -> np.ndarray:
        served = self._is_served(x, others)
        with np.errstate(over="ignore"):
            p = 1.0 / (1.0 + others.mass * np.exp((others.shift - x) / self.temperature))
        return np.where(served, p, 0.0)

    def share_slope(self, x: np.ndarray, others: Others) -> np.ndarray:
        p = self.share(x, others)
        return p * (1.0 - p) / self.temperature

    def vertex_search_is_exact(self, users: np.ndarray, others: Others) -> bool:
        # With k >= n every producer is served: the rule is plain softmax, and the
        # others' top k - 1 summarised here are all of them.
        if self.k < others.n_producers:
            return False
        return _softmax_terms_convex(users, others, self.temperature)

    def params(self) -> dict[str, Any]:
        return {"k": self.k, "temperature": self.temperature}


@dataclass(frozen=True)
class Uniform(ServingRule):
    """Round-robin serving ``p_i = 1 / n``; utilities are linear, vertex search is exact."""

    name: str = field(default="uniform", init=False)

    def probabilities(self, ratings: np.ndarray) -> np.ndarray:
        return np.full(ratings.shape, 1.0 / ratings.shape[1])

    def summarize_others(self, ratings: np.ndarray, index: int) -> Others:
        k = ratings.shape[0]
        return Others(index, ratings.shape[1], np.zeros(k), np.zeros(k))

    def share(self, x: np.ndarray, others: Others) -> np.ndarray:
        return np.full(np.shape(x), 1.0 / others.n_producers)

    def share_slope(self, x: np.ndarray, others: Others) -> np.ndarray:
        return np.zeros(np.shape(x))

    def producer_totals(self, ratings_by_producer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n, n_users = ratings_by_producer.shape
        return ratings_by_producer.sum(axis=1) / n, np.full(n, n_users / n)

    def vertex_search_is_exact(self, users: np.ndarray, others: Others) -> bool:
        return True


def _softmax_terms_convex(users: np.ndarray, others: Others, temperature: float) -> bool:
    """Whether every user's softmax term ``x * share(x)`` is convex on ``[0, x_max_k]``.

    ``f'' = share' * (2 + (x/T)(1 - 2 share))`` is non-negative when ``T >= x_max_k / 2``
    or when ``share <= 1/2`` on the whole range, i.e.
    ``exp(x_max_k / T) <= sum_j exp(r_kj / T)`` over the others (model.md section 4).
    ``x_max_k = max_f c_kf`` is the largest rating user ``k`` can give any strategy.
    """
    if others.n_producers == 1:
        return True
    x_max = users.max(axis=1)
    wide = temperature >= x_max / 2
    with np.errstate(divide="ignore"):
        crowded = (x_max - others.shift) / temperature <= np.log(others.mass)
    return bool(np.all(wide | crowded))


def make_rule(rule: str | ServingRule = "softmax", temperature: float | None = 1.0,
              k: int | None = None) -> ServingRule:
    """Create a serving rule by name, or pass an existing rule through.

    Parameters
    ----------
    rule : {"linear", "softmax", "topk", "uniform"} or ServingRule
    temperature : float > 0
        Used by ``softmax`` and ``topk``.
    k : int >= 1
        Required by ``topk``.
    """
    if isinstance(rule, ServingRule):
        return rule
    if not isinstance(rule, str) or rule not in RULE_NAMES:
        raise ValueError(f"rule must be one of {RULE_NAMES} or a ServingRule, got {rule!r}")
    if k is not None and rule != "topk":
        raise ValueError(f"k is only used by rule 'topk'; got k={k!r} with rule {rule!r}")
    if rule == "linear":
        return Linear()
    if rule == "uniform":
        return Uniform()
    if temperature is None:
        raise ValueError(f"temperature must be a finite number > 0 for rule {rule!r}, got None")
    if rule == "softmax":
        return Softmax(temperature)
    if k is None:
        raise ValueError("k must be an integer >= 1 for rule 'topk', got None")
    return TopK(k, temperature)
