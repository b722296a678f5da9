"""The producers' strategy set ``S = {s in R^d : s >= 0, sum(s) <= 1}``.

``project_to_strategy_set`` is the Euclidean projection onto ``S``: it clips
negative entries to 0 and, if the clipped vector sums to more than 1, projects it
onto the probability simplex ``{s >= 0, sum(s) = 1}`` with the sort-based
algorithm (Held, Wolfe and Crowder 1974; Duchi et al. 2008). Points already in
``S`` are returned unchanged.

**Every finite input is projected exactly, at any scale.** The simplex projection
is invariant to adding a constant to every entry, so each row is first shifted by
its maximum; entries more than 1 below the maximum can never be in the support
(the threshold lies within 1 of the maximum), so they are clamped there. The
sorted sums then stay between -2d and 0: no overflow and no cancellation, whether
the inputs are ``1e-300`` or ``1e300``.
"""

from __future__ import annotations

import functools

import numpy as np

#: Arrays whose entries stay within this size (actions of the unit box, say) are
#: projected without the shift by their maximum: at this scale the sums lose nothing.
UNSHIFTED = 4.0


def project_to_simplex(x: np.ndarray) -> np.ndarray:
    """Euclidean projection of each row of ``x`` onto ``{s >= 0, sum(s) = 1}``.

    Parameters
    ----------
    x : array, shape (..., d)
        Finite values, any magnitude.

    Returns
    -------
    array, shape (..., d), float64
    """
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore"):  # x - max may overflow to -inf: clamped to -2
        return _simplex(x)


def _simplex(x: np.ndarray, non_negative: bool = False) -> np.ndarray:
    """``project_to_simplex`` of float64 ``x`` (the caller sees to overflow warnings);
    ``non_negative``: the caller knows ``x >= 0``."""
    shape, d = x.shape, x.shape[-1]
    y = x.reshape(-1, d)
    # Shifting each row by its maximum keeps huge rows exact; rows of ordinary size
    # need no shift (the projection is invariant to adding a constant to a row).
    if y.size and (y.max() > UNSHIFTED or (not non_negative and y.min() < -UNSHIFTED)):
        y = np.maximum(y - y.max(axis=1, keepdims=True), -2.0)
    u = np.sort(y, axis=1)[:, ::-1]  # descending
    # The threshold is the largest (u_1 + ... + u_j - 1) / j over j: each term averages
    # the one before with u_j, so the terms rise while u_j lies above them and fall
    # after: the peak is at the support size rho, the sort-based algorithm's threshold.
    partial = np.cumsum(u, axis=1)
    partial -= 1.0
    partial /= _ranks(d)
    theta = partial.max(axis=1, keepdims=True)
    return np.maximum(y - theta, 0.0).reshape(shape)


@functools.cache
def _ranks(d: int) -> np.ndarray:
    """``[1, 2, ..., d]`` as floats (read-only, shared)."""
    ranks = np.arange(1.0, d + 1.0)
    ranks.flags.writeable = False
    return ranks


def project_to_strategy_set(x: np.ndarray) -> np.ndarray:
    """Euclidean projection of each row of ``x`` onto ``{s >= 0, sum(s) <= 1}``.

    Parameters
    ----------
    x : array, shape (..., d)
        Finite real values, any magnitude.

    Returns
    -------
    array, shape (..., d), float64
        The nearest point of the strategy set, row by row.

    Raises
    ------
    ValueError
        NaN or infinite entries.
    TypeError
        Complex or non-numeric input.
    """
    if np.iscomplexobj(x):
        raise TypeError("x must be real; got complex values")
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("x must contain only finite values (no NaN or inf) to be projected")
    return project_finite(x)


def project_finite(x: np.ndarray) -> np.ndarray:
    """``project_to_strategy_set`` of a float64 array the caller has checked is finite."""
    clipped = np.maximum(x, 0.0)
    # Entries capped at 2 sum to more than 1 exactly when the entries do, and never
    # overflow; the clipped rows are non-negative, so the projection cannot overflow.
    over = np.minimum(clipped, 2.0).sum(axis=-1) > 1.0
    if not over.any():
        return clipped
    projected = _simplex(clipped, non_negative=True)
    return projected if over.all() else np.where(over[..., None], projected, clipped)
