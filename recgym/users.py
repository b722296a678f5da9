"""User populations: the ``(K, d)`` non-negative, L1-normalised embedding matrix.

Paper-exact generators (docs/model.md section 7) take an ``int`` seed or a legacy
``numpy.random.RandomState`` and consume it exactly as the paper's code did:

* ``synthetic_uniform``: for each user in turn,
  ``np.diff([0] + sorted(rs.uniform(size=d - 1)) + [1])`` -- uniform on the simplex;
  the rows already sum to 1 and are returned as generated.
* ``synthetic_skewed``: one such draw ``w`` sorted ascending, then ``K`` uniform
  users multiplied elementwise by ``w`` and L1-normalised.

Passing a ``numpy.random.Generator`` instead selects the modern path for new work
(``rng.dirichlet(ones(d))``, the same distribution, a different stream).
"""

from __future__ import annotations

import numpy as np

from recgym._validation import check_int, check_matrix

Seed = int | np.random.RandomState | np.random.Generator

__all__ = ["from_array", "sparsify", "synthetic_skewed", "synthetic_uniform", "l1_normalize"]


def _legacy_or_modern(seed: Seed) -> np.random.RandomState | np.random.Generator:
    if isinstance(seed, np.random.RandomState | np.random.Generator):
        return seed
    return np.random.RandomState(check_int("seed", seed, 0))


def _simplex_rows(rng: np.random.RandomState | np.random.Generator, n_rows: int,
                  dim: int) -> np.ndarray:
    """``n_rows`` points uniform on the simplex, shape ``(n_rows, dim)``."""
    if isinstance(rng, np.random.Generator):
        return rng.dirichlet(np.ones(dim), size=n_rows)
    # One uniform(size=(K, d-1)) call draws the same numbers, in the same order,
    # as K calls of uniform(size=d-1).
    cuts = np.sort(rng.uniform(size=(n_rows, dim - 1)), axis=1)
    padded = np.concatenate([np.zeros((n_rows, 1)), cuts, np.ones((n_rows, 1))], axis=1)
    return np.diff(padded, axis=1)


def l1_normalize(users: np.ndarray) -> np.ndarray:
    """Divide each row by its sum (``row / row.sum()``); rows must have positive sums."""
    sums = users.sum(axis=1, keepdims=True)
    if np.any(sums <= 0):
        bad = int(np.flatnonzero(sums[:, 0] <= 0)[0])
        raise ValueError(f"users must have a positive sum in every row to be L1-normalised; "
                         f"row {bad} sums to {float(sums[bad, 0])!r}")
    return users / sums


def synthetic_uniform(n_users: int = 10_000, dim: int = 5, seed: Seed = 0, *,
                      sparse: float | None = None) -> np.ndarray:
    """Users uniform on the simplex, the paper's "synthetic uniform" data.

    Parameters
    ----------
    n_users, dim : int
        ``K >= 1`` users with ``d >= 1`` features.
    seed : int, RandomState or Generator
        ``int``/``RandomState``: the paper's exact stream. ``Generator``: modern path.
    sparse : float in (0, 1], optional
        Keep only this fraction of features per user (see ``sparsify``); the mask is
        drawn from the same seed, after the users, so the result is reproducible.

    Returns
    -------
    array, shape (n_users, dim), float64, rows summing to 1.
    """
    n_users = check_int("n_users", n_users, 1)
    dim = check_int("dim", dim, 1)
    rng = _legacy_or_modern(seed)
    users = _simplex_rows(rng, n_users, dim)
    return users if sparse is None else sparsify(users, sparse, seed=_mask_rng(rng))


def synthetic_skewed(n_users: int = 10_000, dim: int = 5, seed: Seed = 0, *,
                     sparse: float | None = None) -> np.ndarray:
    """Users whose features have unequal popularity, the paper's "synthetic skewed" data.

    A weight vector ``w`` (uniform on the simplex, sorted ascending) multiplies
    every uniform user elementwise; rows are then L1-normalised, so feature
    ``d - 1`` is the most popular on average. Parameters as ``synthetic_uniform``.

    Returns
    -------
    array, shape (n_users, dim), float64, rows summing to 1.
    """
    n_users = check_int("n_users", n_users, 1)
    dim = check_int("dim", dim, 1)
    rng = _legacy_or_modern(seed)
    weights = np.sort(_simplex_rows(rng, 1, dim)[0])
    users = l1_normalize(_simplex_rows(rng, n_users, dim) * weights)
    return users if sparse is None else sparsify(users, sparse, seed=_mask_rng(rng))


def _mask_rng(rng: np.random.RandomState | np.random.Generator) -> np.random.Generator:
    """Generator of the sparsity mask, continuing the stream that drew the users.

    A ``Generator`` is used as is; a legacy ``RandomState`` contributes one further
    draw as the seed, so the same seed always gives the same mask.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng.randint(2**32, dtype=np.uint64))


def sparsify(users: np.ndarray, keep: float, seed: int | np.random.Generator | None = None
             ) -> np.ndarray:
    """Keep a random ``keep`` fraction of each user's features and renormalise.

    Each user keeps ``max(1, round(keep * d))`` features chosen uniformly at random
    among those with positive weight (all of them if fewer are positive).

    Parameters
    ----------
    users : array, shape (K, d), non-negative, rows with positive sums
    keep : float in (0, 1]
    seed : int or Generator, optional

    Returns
    -------
    array, shape (K, d), L1-normalised.
    """
    users = check_matrix("users", users)
    if not (isinstance(keep, float | int) and 0 < keep <= 1):
        raise ValueError(f"sparse (fraction of features kept) must be in (0, 1], got {keep!r}")
    rng = np.random.default_rng(seed)
    n_keep = max(1, round(keep * users.shape[1]))
    # Random keys, pushing zero-weight features last; keep the n_keep smallest keys.
    keys = rng.random(users.shape) + (users <= 0)
    kept = np.argsort(keys, axis=1)[:, :n_keep]
    mask = np.zeros(users.shape, dtype=bool)
    np.put_along_axis(mask, kept, True, axis=1)
    return l1_normalize(np.where(mask, users, 0.0))


def from_array(users: object, normalize: bool = True) -> np.ndarray:
    """Validate a user matrix and (by default) L1-normalise its rows.

    Parameters
    ----------
    users : array-like, shape (K, d)
        Finite, non-negative; with ``normalize=True`` every row needs a positive sum.
    normalize : bool
        Divide each row by its sum, as the paper does for real data.

    Returns
    -------
    array, shape (K, d), float64 (a new array).
    """
    arr = check_matrix("users", users)
    return l1_normalize(arr) if normalize else arr.copy()
