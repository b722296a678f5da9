"""The engagement game between content producers.

``K`` users with embeddings ``c_k`` (rows of ``users``, shape ``(K, d)``) and ``n``
producers with strategies ``s_i`` in ``S = {s >= 0, sum(s) <= 1}`` (rows of a
profile, shape ``(n, d)``). Ratings ``r_ki = <c_k, s_i>``; a serving rule
(``recgym.rules``) turns them into probabilities ``p_i(c_k)``. Utilities, **summed
over users** as in the paper (divide by the total user weight for per-user means):

* producer engagement ``u_i = sum_k p_i(c_k) r_ki``,
* producer exposure ``x_i = sum_k p_i(c_k)``,
* user utility ``v_k = sum_i p_i(c_k) r_ki`` (so ``sum_i u_i = sum_k v_k``),
* the producers' **payoff** ``pi_i`` (``recgym.payoffs``: engagement by default,
  exposure, or the marginal welfare contribution).

Optional ``weights`` ``w_k >= 0`` weight every sum over users (a user of weight 2
counts as that user twice). ``outside_option`` ``o_i`` (per user, the scale of
per-user payoffs) is what a producer earns elsewhere: the dynamics let a producer
whose best payoff per user falls below it leave (``recgym.solvers.dynamics``).
Producers that left are not served: ``utilities(profile, active=mask)`` serves only
the active ones.

Producers may differ (``recgym.producers``): ``skill`` ``q_i`` in ``(0, 1]`` makes the
ratings ``q_i <c_k, s_i>`` everywhere, and a ``cost`` of effort ``kappa_i`` with
``cost_exponent`` ``beta`` makes the payoff ``pi_i - W kappa_i (sum s_i)^beta``
(``W`` the total user weight). With ``q = 1`` and ``kappa = 0`` (the defaults) results
are bit-identical to a game without them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from recgym._validation import (
    STRATEGY_TOL,
    check_directions,
    check_int,
    check_matrix,
    check_profile,
    check_vector,
)
from recgym.payoffs import Payoff, make_payoff
from recgym.producers import ProducerTraits, ProducerView, check_traits
from recgym.rules import Others, ServingRule, make_rule


@dataclass(frozen=True)
class Utilities:
    """Utilities at one profile (sums over users, weighted by the user weights).

    Attributes
    ----------
    engagement : array, shape (n,)
        Producer engagement ``u_i`` (0 for producers that left).
    exposure : array, shape (n,)
        Producer exposure ``x_i`` (expected number of users served).
    user : array, shape (K,)
        User utility ``v_k`` (per user, not weighted).
    payoff : array, shape (n,)
        The game's payoff ``pi_i`` (0 for producers that left); computed on first use
        (the marginal payoff needs every producer's welfare without it).
    total_weight : float
        ``sum_k w_k`` (``K`` with unit weights): divide sums by it for per-user values.
    active : bool array, shape (n,)
        Producers still in the game.
    outside_option : array, shape (n,)
        Each producer's outside option (per user).
    user_weights : array (K,) or None
        ``w_k``; ``None`` for unit weights.
    """

    engagement: np.ndarray
    exposure: np.ndarray
    user: np.ndarray
    payoff_of: Callable[[], np.ndarray] = field(repr=False, compare=False)
    total_weight: float
    active: np.ndarray
    outside_option: np.ndarray
    user_weights: np.ndarray | None = None

    @cached_property
    def payoff(self) -> np.ndarray:
        """The game's payoff ``pi_i`` ``(n,)`` (see the class docstring)."""
        return self.payoff_of()

    @property
    def user_total(self) -> float:
        """``sum_k w_k v_k``."""
        if self.user_weights is None:
            return float(self.user.sum())
        return float(self.user @ self.user_weights)


@dataclass(frozen=True)
class Serving:
    """What the users were served at one profile, over the active producers.

    Attributes
    ----------
    ratings : array, shape (K, m)
        ``r_ki`` of the ``m`` active producers (in index order).
    probabilities : array, shape (K, m)
        ``p_i(c_k)`` of the active producers (0 everywhere when none is active).
    profile : array, shape (m, d)
        The active producers' strategies.
    utilities : Utilities
        The game's utilities at the profile (all ``n`` producers).
    symmetric : bool
        The rule serves producers with equal ratings equally (``ServingRule.symmetric``).
    """

    ratings: np.ndarray
    probabilities: np.ndarray
    profile: np.ndarray
    utilities: Utilities
    symmetric: bool = False

    @cached_property
    def consumed(self) -> np.ndarray:
        """``m_k = sum_i p_i(c_k) s_i``, what each user consumes in expectation ``(K, d)``."""
        return _mix(self.probabilities, self.profile, self.symmetric)

    @cached_property
    def enjoyed(self) -> np.ndarray:
        """``sum_i p_i(c_k) r_ki s_i``, consumption weighted by engagement ``(K, d)``."""
        return _mix(self.probabilities * self.ratings, self.profile, self.symmetric)


def _mix(weights: np.ndarray, profile: np.ndarray, symmetric: bool) -> np.ndarray:
    """``weights @ profile`` ``(K, d)`` from ``(K, m)`` and ``(m, d)``.

    Where every row of ``profile`` is a basis vector (the dynamics' vertices) and the
    rule is symmetric, producers on one feature have equal columns of ``weights``, so one
    column per feature times its count gives the product in ``O(K d)``.
    """
    dim = profile.shape[1]
    if profile.shape[0] == 0:
        return np.zeros((weights.shape[0], dim))
    features = profile.argmax(axis=1)
    if not (symmetric and np.array_equal(profile, np.eye(dim)[features])):
        return weights @ profile
    used, first, counts = np.unique(features, return_index=True, return_counts=True)
    mixed = np.zeros((weights.shape[0], dim))
    mixed[:, used] = weights[:, first] * counts
    return mixed


class EngagementGame:
    """A static engagement game: users, producers, a serving rule and a payoff.

    Parameters
    ----------
    users : array-like, shape (K, d)
        Non-negative, finite user embeddings (used as given; see ``recgym.users``
        to normalise).
    n_producers : int >= 1
    rule : str or ServingRule
        A registered rule name or spec string (``"softmax:temperature=0.1"``,
        ``recgym.rules.RULES``) or a rule object.
    temperature, k, floor : optional
        The rule's parameters as arguments (``None``: the rule's default).
    payoff : str or Payoff
        ``"engagement"`` (default), ``"exposure"``, ``"marginal"`` or any registered
        payoff (``recgym.payoffs.PAYOFFS``).
    weights : array-like, shape (K,), optional
        Non-negative user weights; ``None`` (or all ones) weighs every user 1.
    outside_option : float or array (n,), optional
        Per-user outside option of each producer (default 0).
    skill : float or array (n,), optional
        ``q_i`` in ``(0, 1]`` (default 1): ratings are ``q_i <c_k, s_i>``.
    cost : float or array (n,), optional
        ``kappa_i >= 0`` (default 0), the per-user cost of a full unit of effort.
    cost_exponent : float >= 1, optional
        ``beta`` (default 1): effort ``sum(s)`` costs ``kappa (sum s)^beta`` per user.

    Examples
    --------
    >>> import numpy as np, recgym
    >>> game = recgym.EngagementGame(recgym.users.synthetic_uniform(100, 3, seed=0), 2)
    >>> u = game.utilities(np.eye(3)[[0, 1]])
    >>> bool(np.isclose(u.engagement.sum(), u.user.sum()))
    True
    """

    def __init__(self, users: object, n_producers: int, rule: str | ServingRule = "softmax",
                 temperature: float | None = None, k: int | None = None, *,
                 floor: float | None = None, payoff: str | Payoff = "engagement",
                 weights: object | None = None, outside_option: object = 0.0,
                 skill: object = 1.0, cost: object = 0.0, cost_exponent: object = 1.0) -> None:
        # (K, d), ratings per feature; a private read-only copy (the caller's array stays as is)
        self.users: np.ndarray = check_matrix("users", users).copy()
        self.n_producers: int = check_int("n_producers", n_producers, 1)
        self.rule: ServingRule = make_rule(rule, temperature, k, floor)
        self.payoff: Payoff = make_payoff(payoff)
        self.weights: np.ndarray | None = _user_weights(weights, self.users.shape[0])
        self.outside_option: np.ndarray = check_vector("outside_option", outside_option,
                                                       self.n_producers)
        self.traits: ProducerTraits = check_traits(self.n_producers, skill, cost, cost_exponent)
        self.total_weight: float = float(self.n_users if self.weights is None
                                         else self.weights.sum())
        if self.total_weight <= 0:
            raise ValueError("weights must not all be 0 (the total user weight must be > 0)")
        self.users.setflags(write=False)
        self.outside_option.setflags(write=False)
        # The vertices of S a vertex search visits: e_0..e_{d-1}, then 0 if the payoff
        # can prefer posting nothing (or effort costs).
        vertices = np.eye(self.dim)
        if self.payoff.searches_zero or self.traits.cost is not None:
            vertices = np.vstack([vertices, np.zeros(self.dim)])
        self.vertices: np.ndarray = vertices
        self.vertices.setflags(write=False)

    def with_users(self, users: np.ndarray, weights: np.ndarray | None,
                   outside_option: np.ndarray) -> EngagementGame:
        """The same game (rule, payoff, producers) over other users ``(K', d)``, weights
        ``(K',)`` or ``None`` and outside options ``(n,)``, which the caller has
        validated (non-negative and finite); the arrays are taken as they are."""
        total = float(users.shape[0] if weights is None else weights.sum())
        if total <= 0:
            raise ValueError("weights must not all be 0 (the total user weight must be > 0)")
        game = copy.copy(self)
        game.users = users
        game.weights = weights
        game.outside_option = outside_option
        game.total_weight = total
        for array in (users, outside_option) if weights is None else \
                (users, weights, outside_option):
            array.setflags(write=False)
        return game

    @property
    def n_users(self) -> int:
        """``K``, the number of users."""
        return self.users.shape[0]

    @property
    def dim(self) -> int:
        """``d``, the embedding dimension."""
        return self.users.shape[1]

    @property
    def n_vertices(self) -> int:
        """Vertices of a vertex search: ``d``, or ``d + 1`` with the zero strategy."""
        return self.vertices.shape[0]

    @property
    def skill(self) -> np.ndarray:
        """``q_i`` ``(n,)`` (all 1 by default)."""
        q = self.traits.skill
        return np.ones(self.n_producers) if q is None else q.copy()

    @property
    def cost(self) -> np.ndarray:
        """``kappa_i`` ``(n,)`` (all 0 by default)."""
        kappa = self.traits.cost
        return np.zeros(self.n_producers) if kappa is None else kappa.copy()

    @property
    def cost_exponent(self) -> float:
        """``beta``."""
        return self.traits.cost_exponent

    @property
    def has_cost(self) -> bool:
        """Some producer pays for effort (``kappa_i > 0``)."""
        return self.traits.cost is not None

    @property
    def identical_producers(self) -> bool:
        """Every producer has the same skill and cost, so producers posting the same
        content face the same problem wherever the rule is symmetric."""
        return self.traits.identical

    @property
    def producers_may_leave(self) -> bool:
        """Some producer can fall below its outside option: an option above 0, or a
        payoff that can be negative (the marginal payoff)."""
        return bool(np.any(self.outside_option > 0)) or not self.payoff.nonnegative

    def check_profile(self, profile: object, tol: float = STRATEGY_TOL) -> np.ndarray:
        """Validate a profile ``(n, d)`` in the strategy set (up to ``tol``); return it."""
        return check_profile(profile, self.n_producers, self.dim, tol)

    def check_active(self, active: object | None) -> np.ndarray:
        """``active`` as a bool array ``(n,)`` with at least one producer (default: all)."""
        if active is None:
            return np.ones(self.n_producers, dtype=bool)
        mask = np.asarray(active)
        if mask.shape != (self.n_producers,) or mask.dtype != bool:
            raise ValueError(f"active must be a bool array of shape ({self.n_producers},), "
                             f"got {active!r}")
        return mask

    def ratings(self, profile: object) -> np.ndarray:
        """Ratings ``R = users @ (q * profile).T``, shape ``(K, n)`` (``q`` the skills)."""
        return self.users @ self.traits.effective(self.check_profile(profile)).T

    def probabilities(self, profile: object, active: object | None = None) -> np.ndarray:
        """Serving probabilities ``P``, shape ``(K, n)`` (0 for producers that left)."""
        mask = self.check_active(active)
        ratings = self.ratings(profile)
        if mask.all():
            return self.rule.probabilities(ratings)
        probs = np.zeros_like(ratings)
        if mask.any():
            probs[:, mask] = self.rule.probabilities(np.ascontiguousarray(ratings[:, mask]))
        return probs

    def user_sum(self, per_user: np.ndarray) -> np.ndarray:
        """``sum_k w_k x_k`` over the last axis of ``per_user`` ``(..., K)``."""
        if self.weights is None:
            return per_user.sum(axis=-1)
        return per_user @ self.weights

    def utilities(self, profile: object, active: object | None = None) -> Utilities:
        """Engagement, exposure, payoff ``(n,)`` and user utility ``(K,)`` at ``profile``.

        ``active`` (bool ``(n,)``): the producers still in the game; the others are
        not served and get 0.
        """
        return self.serve(profile, active).utilities

    def serve(self, profile: object, active: object | None = None) -> Serving:
        """How every user is served at ``profile``: the active producers' ratings and
        serving probabilities ``(K, n_active)`` and the ``Utilities`` they give."""
        return self.serve_by(profile, active)

    def serve_by(self, profile: object, active: object | None = None,
                 probabilities: np.ndarray | None = None, symmetric: bool = False) -> Serving:
        """As ``serve``, with the serving probabilities ``(K, n_active)`` given (a platform
        that serves by its own scores, ``recgym.learners``; default: the rule on the
        ratings). Users engage by their true ratings either way. ``symmetric``: the
        caller promises that producers posting the same content are served alike (the
        rule applied to per-content scores), which lets ``Serving`` mix per content.

        Raises
        ------
        ValueError
            Given probabilities of the wrong shape, not finite or outside ``[0, 1]``, or
            with a payoff that needs the welfare without each producer (the marginal
            payoff), which only the rule on the ratings defines.
        """
        mask = self.check_active(active)
        ratings = self.ratings(profile)
        n = self.n_producers
        engagement, exposure = np.zeros(n), np.zeros(n)
        user = np.zeros(self.n_users)
        live = ratings if mask.all() else np.ascontiguousarray(ratings[:, mask])
        if probabilities is not None and self.payoff.needs_welfare_loss:
            raise ValueError(f"payoff {self.payoff.spec!r} needs the welfare without each "
                             "producer, defined only when the rule serves by the ratings")
        if probabilities is not None:
            probabilities = np.asarray(probabilities, dtype=float)
            if probabilities.shape != live.shape or not np.all(np.isfinite(probabilities)) \
                    or probabilities.min(initial=0.0) < 0 or probabilities.max(initial=0.0) > 1:
                raise ValueError(f"probabilities must be finite numbers in [0, 1] of shape "
                                 f"{live.shape} (users, active producers), got shape "
                                 f"{probabilities.shape}")
        probs = live  # (K, 0) with nobody active
        if mask.any():
            probs = self.rule.probabilities(live) if probabilities is None else probabilities
            weighted = probs * live
            user = weighted.sum(axis=1)
            if self.weights is None:
                engagement[mask], exposure[mask] = weighted.sum(axis=0), probs.sum(axis=0)
            else:
                engagement[mask], exposure[mask] = self.weights @ weighted, self.weights @ probs

        def payoff() -> np.ndarray:
            totals = np.zeros(n)
            if mask.any():
                loss = None
                if self.payoff.needs_welfare_loss:
                    without = self.rule.welfare_without_each(live)
                    loss = self.user_sum((user[:, None] - without).T)
                totals[mask] = self.payoff.profile_totals(engagement[mask], exposure[mask], loss)
                if self.traits.cost is not None:
                    totals[mask] -= self.traits.effort_cost(
                        np.asarray(profile, dtype=float)[mask], np.flatnonzero(mask),
                        self.total_weight)
            return totals

        utilities = Utilities(engagement, exposure, user, payoff, self.total_weight, mask,
                              self.outside_option, self.weights)
        symmetric = self.rule.symmetric if probabilities is None else symmetric
        return Serving(live, probs, np.asarray(profile, dtype=float)[mask], utilities,
                       symmetric and self.traits.skill is None)

    # ------------------------------------------------------------ one producer's view
    def others(self, profile: np.ndarray, producer: int, active: np.ndarray | None = None
               ) -> Others | ProducerView:
        """Producer ``producer``'s view of the other active producers of ``profile``
        (a ``ProducerView`` carrying its skill and cost where it has them)."""
        mask = self.check_active(active).copy()
        mask[producer] = True
        live = np.flatnonzero(mask)
        ratings = self.users @ self.traits.effective(profile)[live].T
        view = self.rule.others(ratings, int(np.searchsorted(live, producer)))
        return self.traits.view(view, producer)

    def payoff_of(self, strategies: np.ndarray, others: Others | ProducerView) -> np.ndarray:
        """The producer's payoff ``(m,)`` (sum over users) at ``m`` strategies ``(m, d)``,
        its effort's cost included."""
        served = others.served(strategies @ self.users.T)
        value = self.user_sum(self.payoff.per_user(served))
        if isinstance(others, ProducerView) and others.cost > 0:
            value = value - self.traits.effort_cost(strategies, others.producer,
                                                    self.total_weight)
        return value

    def payoff_and_gradient(self, strategies: np.ndarray, others: Others | ProducerView
                            ) -> tuple[np.ndarray, np.ndarray]:
        """The payoff ``(m,)`` and its gradient in the strategy ``(m, d)``."""
        served = others.served(strategies @ self.users.T)
        value = self.user_sum(self.payoff.per_user(served))
        slope = self.payoff.slope(served)
        if self.weights is not None:
            slope = slope * self.weights
        grad = slope @ self.users
        if isinstance(others, ProducerView):
            grad = grad * others.skill
            if others.cost > 0:
                value = value - self.traits.effort_cost(strategies, others.producer,
                                                        self.total_weight)
                grad = grad - self.traits.effort_slope(strategies, others.producer,
                                                       self.total_weight)[:, None]
        return value, grad

    def payoff_bounds(self) -> tuple[float, float]:
        """``(low, high)``: bounds on any producer's payoff (sum over users)."""
        low = self.payoff.lower_bound(self.users, self.weights)
        if self.traits.cost is not None:
            low -= self.total_weight * float(self.traits.cost.max())
        return low, self.payoff.bound(self.users, self.weights)

    # ------------------------------------------------------------ vertex profiles
    def vertex_profile(self, directions: object) -> np.ndarray:
        """Profile ``(n, d)`` where producer ``i`` plays vertex ``directions[i]``
        (``e_j`` for ``j < d``; ``d`` is the zero strategy where the payoff searches it)."""
        dirs = check_directions("directions", directions, self.n_producers, self.n_vertices)
        return self.vertices[dirs].copy()

    def vertex_directions(self, profile: np.ndarray) -> np.ndarray | None:
        """Inverse of ``vertex_profile``: each row's vertex index ``(n,)``, or ``None``
        unless every row of ``profile`` ``(n, d)`` is exactly one of ``vertices``."""
        directions = profile.argmax(axis=1)
        if self.payoff.searches_zero:
            directions = np.where(profile.any(axis=1), directions, self.dim)
        if np.array_equal(profile, self.vertices[directions]):
            return directions
        return None

    def __repr__(self) -> str:
        extra = "" if self.payoff.NAME == "engagement" else f", payoff={self.payoff.spec}"
        if self.weights is not None:
            extra += ", weighted users"
        if np.any(self.outside_option > 0):
            extra += ", outside options"
        if self.traits.skill is not None:
            extra += ", skill"
        if self.traits.cost is not None:
            extra += f", cost (exponent {self.traits.cost_exponent:g})"
        return (f"EngagementGame(n_users={self.n_users}, dim={self.dim}, "
                f"n_producers={self.n_producers}, rule={self.rule.spec}{extra})")


def _user_weights(weights: object | None, n_users: int) -> np.ndarray | None:
    """Validated weights ``(K,)``, or ``None`` for unit weights (so results are bit-identical)."""
    if weights is None:
        return None
    w = check_vector("weights", weights, n_users)
    if np.all(w == 1.0):
        return None
    w.setflags(write=False)
    return w
