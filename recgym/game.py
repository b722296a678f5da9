"""The engagement game between content producers (model.md sections 1-3).

``K`` users with embeddings ``c_k`` (rows of ``users``, shape ``(K, d)``) and ``n``
producers with strategies ``s_i`` in ``S = {s >= 0, sum(s) <= 1}`` (rows of a
profile, shape ``(n, d)``). Ratings ``r_ki = <c_k, s_i>``; a serving rule turns
them into probabilities ``p_i(c_k)``. Utilities, **summed over users** as in the
paper (divide by ``n_users`` for per-user means):

* producer engagement ``u_i = sum_k p_i(c_k) r_ki``,
* producer exposure ``x_i = sum_k p_i(c_k)``,
* user utility ``v_k = sum_i p_i(c_k) r_ki`` (so ``sum_i u_i = sum_k v_k``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recgym._validation import (
    STRATEGY_TOL,
    check_directions,
    check_int,
    check_matrix,
    check_profile,
)
from recgym.rules import ServingRule, make_rule


@dataclass(frozen=True)
class Utilities:
    """Utilities at one profile (sums over users).

    Attributes
    ----------
    engagement : array, shape (n,)
        Producer engagement ``u_i``.
    exposure : array, shape (n,)
        Producer exposure ``x_i`` (expected number of users served).
    user : array, shape (K,)
        User utility ``v_k``.
    """

    engagement: np.ndarray
    exposure: np.ndarray
    user: np.ndarray


class EngagementGame:
    """A static engagement game: users, a number of producers and a serving rule.

    Parameters
    ----------
    users : array-like, shape (K, d)
        Non-negative, finite user embeddings (used as given; see ``recgym.users``
        to normalise).
    n_producers : int >= 1
    rule : {"linear", "softmax", "topk", "uniform"} or ServingRule
    temperature : float > 0
        For ``softmax`` and ``topk``.
    k : int >= 1
        For ``topk``.

    Examples
    --------
    >>> import numpy as np, recgym
    >>> game = recgym.EngagementGame(recgym.users.synthetic_uniform(100, 3, seed=0), 2)
    >>> u = game.utilities(np.eye(3)[[0, 1]])
    >>> bool(np.isclose(u.engagement.sum(), u.user.sum()))
    True
    """

    def __init__(self, users: object, n_producers: int, rule: str | ServingRule = "softmax",
                 temperature: float | None = 1.0, k: int | None = None) -> None:
        # (K, d), ratings per feature; a private read-only copy (the caller's array stays as is)
        self.users: np.ndarray = check_matrix("users", users).copy()
        self.n_producers: int = check_int("n_producers", n_producers, 1)
        self.rule: ServingRule = make_rule(rule, temperature, k)
        self.users.setflags(write=False)

    @property
    def n_users(self) -> int:
        """``K``, the number of users."""
        return self.users.shape[0]

    @property
    def dim(self) -> int:
        """``d``, the embedding dimension."""
        return self.users.shape[1]

    def check_profile(self, profile: object, tol: float = STRATEGY_TOL) -> np.ndarray:
        """Validate a profile ``(n, d)`` in the strategy set (up to ``tol``); return it."""
        return check_profile(profile, self.n_producers, self.dim, tol)

    def ratings(self, profile: object) -> np.ndarray:
        """Ratings ``R = users @ profile.T``, shape ``(K, n)``."""
        return self.users @ self.check_profile(profile).T

    def probabilities(self, profile: object) -> np.ndarray:
        """Serving probabilities ``P``, shape ``(K, n)``."""
        return self.rule.probabilities(self.ratings(profile))

    def utilities(self, profile: object) -> Utilities:
        """Producer engagement and exposure ``(n,)`` and user utility ``(K,)`` (sums)."""
        ratings = self.ratings(profile)
        probs = self.rule.probabilities(ratings)
        weighted = probs * ratings
        return Utilities(weighted.sum(axis=0), probs.sum(axis=0), weighted.sum(axis=1))

    def vertex_profile(self, directions: object) -> np.ndarray:
        """Profile ``(n, d)`` where producer ``i`` plays the basis vector ``e_{directions[i]}``."""
        dirs = check_directions("directions", directions, self.n_producers, self.dim)
        return np.eye(self.dim)[dirs]

    @staticmethod
    def vertex_directions(profile: np.ndarray) -> np.ndarray | None:
        """Inverse of ``vertex_profile``: each row's basis-vector index ``(n,)``, or
        ``None`` unless every row of ``profile`` ``(n, d)`` is exactly a basis vector."""
        directions = profile.argmax(axis=1)
        if np.array_equal(profile, np.eye(profile.shape[1])[directions]):
            return directions
        return None

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.rule.params().items())
        rule = f"{self.rule.name}" + (f"({params})" if params else "")
        return (f"EngagementGame(n_users={self.n_users}, dim={self.dim}, "
                f"n_producers={self.n_producers}, rule={rule})")
