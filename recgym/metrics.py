"""Statistics of users and profiles: distributions over features and how they compare.

Every figure that compares where producers are with where users are comes from
here: the users' demand per feature, the producers' distribution over features,
their total-variation distance, the features in use and how concentrated
producers are on single features (the paper's specialisation).
"""

from __future__ import annotations

import numpy as np

#: A producer "concentrates on a single feature" when at least this share of its
#: content is on its largest feature.
CONCENTRATION_THRESHOLD = 0.9


def user_distribution(users: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """The users' demand per feature ``U.sum(0) / U.sum()`` (weighted rows), shape ``(d,)``.

    Raises
    ------
    ValueError
        If the users carry no weight at all.
    """
    totals = users.sum(axis=0) if weights is None else weights @ users
    total = totals.sum()
    if total <= 0:
        raise ValueError("users must have a positive total weight; got an all-zero matrix")
    return totals / total


def producer_distribution(profile: np.ndarray) -> np.ndarray:
    """Each feature's share of all content, ``sum_i P_i / sum(P)``, shape ``(d,)`` (0 if none).

    For a profile of basis vectors this is ``counts / n``.
    """
    total = profile.sum()
    return profile.sum(axis=0) / total if total > 0 else np.zeros(profile.shape[1])


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """``1/2 sum |p - q|`` of two distributions ``(d,)``."""
    return 0.5 * float(np.abs(np.asarray(p, dtype=float) - np.asarray(q, dtype=float)).sum())


def features_used(profile: np.ndarray) -> int:
    """Distinct largest-weight features among producers that post content."""
    posting = profile.sum(axis=1) > 0
    return int(np.unique(profile[posting].argmax(axis=1)).size)


def concentrated_share(profile: np.ndarray, threshold: float = CONCENTRATION_THRESHOLD) -> float:
    """Share of producers with ``max_f P_if >= threshold * sum_f P_if > 0`` (0 with none)."""
    if len(profile) == 0:
        return 0.0
    totals = profile.sum(axis=1)
    return float(np.mean((totals > 0) & (profile.max(axis=1) >= threshold * totals)))


def homogenization(users: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Mean pairwise cosine similarity of the rows of ``users`` ``(K, d)``.

    ``(||sum_k h_k||^2 - K) / (K (K - 1))`` with ``h_k = c_k / ||c_k||_2``, in ``O(K d)``:
    1 when every user points the same way. With ``weights`` ``w_k`` ``(K,)`` a user of
    weight 2 counts as that user twice (its two copies a pair of similarity 1):
    ``(||sum_k w_k h_k||^2 - sum_k w_k) / (W^2 - W)``, ``W = sum_k w_k``. All-zero rows point
    nowhere (similarity 0 with everybody). With fewer than two users (a total weight of
    at most 1) no pair disagrees: 1.
    """
    w = np.ones(users.shape[0]) if weights is None else np.asarray(weights, dtype=float)
    total_weight = float(w.sum())
    if users.shape[0] < 2 or total_weight <= 1.0:
        return 1.0
    norms = np.linalg.norm(users, axis=1)
    unit = users / np.where(norms > 0, norms, 1.0)[:, None]
    total = w @ unit
    self_terms = float(w[norms > 0].sum())
    return float((total @ total - self_terms) / (total_weight ** 2 - total_weight))


def demand_entropy(users: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Shannon entropy (nats) of the demand per feature ``sum_k c_k`` normalised to sum 1;
    0 for users with no demand at all (or no users)."""
    totals = users.sum(axis=0) if weights is None else weights @ users
    mass = totals.sum()
    if mass <= 0:
        return 0.0
    share = totals[totals > 0] / mass
    return float(-(share * np.log(share)).sum())
