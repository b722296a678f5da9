"""The producers' strategy set ``S = {s in R^d : s >= 0, sum(s) <= 1}``.

``project_to_strategy_set`` is the Euclidean projection onto ``S``: it clips
negative entries to 0 and, if the clipped vector sums to more than 1, projects it
onto the probability simplex ``{s >= 0, sum(s) = 1}`` with the sort-based
algorithm (Held, Wolfe and Crowder 1974; Duchi et al. 2008). Points already in
``S`` are returned unchanged.
"""

from __future__ import annotations

import numpy as np


def project_to_simplex(x: np.ndarray) -> np.ndarray:
    """Euclidean projection of each row of ``x`` onto ``{s >= 0, sum(s) = 1}``.

    Parameters
    ----------
    x : array, shape (..., d)

    Returns
    -------
    array, shape (..., d), float64
    """
    x = np.asarray(x, dtype=np.float64)
    d = x.shape[-1]
    u = -np.sort(-x, axis=-1)
    css = np.cumsum(u, axis=-1) - 1.0
    ind = np.arange(1, d + 1, dtype=np.float64)
    cond = u - css / ind > 0
    rho = d - 1 - np.argmax(cond[..., ::-1], axis=-1)
    theta = np.take_along_axis(css, rho[..., None], axis=-1) / (rho[..., None] + 1.0)
    return np.maximum(x - theta, 0.0)


def project_to_strategy_set(x: np.ndarray) -> np.ndarray:
    """Euclidean projection of each row of ``x`` onto ``{s >= 0, sum(s) <= 1}``.

    Parameters
    ----------
    x : array, shape (..., d)
        Finite values.

    Returns
    -------
    array, shape (..., d), float64
        The nearest point of the strategy set, row by row.
    """
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("x must contain only finite values (no NaN or inf) to be projected")
    clipped = np.maximum(x, 0.0)
    over = clipped.sum(axis=-1) > 1.0
    if np.any(over):
        clipped[over] = project_to_simplex(x[over])
    return clipped
