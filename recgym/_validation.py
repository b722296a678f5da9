"""Argument checks shared by the public API.

Each ``check_*`` helper returns the validated value and raises ``ValueError`` or
``TypeError`` naming the parameter, the value received and what is allowed.
"""

from __future__ import annotations

import numbers

import numpy as np

#: Tolerance (absolute) used when checking that a profile lies in the strategy set
#: ``{s >= 0, sum(s) <= 1}``: entries down to ``-STRATEGY_TOL`` and row sums up to
#: ``1 + STRATEGY_TOL`` are accepted as rounding error.
STRATEGY_TOL = 1e-9


class NotAnIntegerError(ValueError, TypeError):
    """A non-integer where an integer is required.

    Both a ``ValueError`` (the value is not allowed) and a ``TypeError`` (it has the
    wrong type), as ``numpy.exceptions.AxisError`` is both a ``ValueError`` and an
    ``IndexError``; callers may catch either.
    """


def check_int(name: str, value: object, minimum: int) -> int:
    """Return ``value`` as an ``int`` if it is an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise NotAnIntegerError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_positive_float(name: str, value: object) -> float:
    """Return ``value`` as a finite ``float > 0``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a finite number > 0, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return value


def check_matrix(name: str, value: object, *, shape: tuple[int | None, int | None] = (None, None),
                 nonnegative: bool = True) -> np.ndarray:
    """Return ``value`` as a finite 2-D float64 array of the given shape.

    ``None`` in ``shape`` accepts any length on that axis.
    """
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric 2-D array, got {type(value).__name__}") from exc
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape {_fmt(shape)}, got shape {arr.shape}")
    for axis, want in enumerate(shape):
        if want is not None and arr.shape[axis] != want:
            raise ValueError(f"{name} must have shape {_fmt(shape)}, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values (no NaN or inf)")
    if nonnegative and np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative, got minimum {float(arr.min())!r}")
    return arr


def check_directions(name: str, value: object, n_producers: int, dim: int) -> np.ndarray:
    """Return ``n_producers`` basis-vector indices in ``0..dim-1`` as an int64 array ``(n,)``."""
    arr = np.asarray(value)
    if arr.shape != (n_producers,) or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be {n_producers} integer feature indices in "
                         f"0..{dim - 1}, got {value!r}")
    if arr.min() < 0 or arr.max() >= dim:
        raise ValueError(f"{name} must lie in 0..{dim - 1}, got {value!r}")
    return arr.astype(np.int64)


def check_profile(profile: object, n_producers: int, dim: int,
                  tol: float = STRATEGY_TOL) -> np.ndarray:
    """Return a ``(n_producers, dim)`` profile whose rows lie in the strategy set.

    The strategy set is ``{s in R^dim : s >= 0, sum(s) <= 1}``, checked up to ``tol``
    (absolute). Values within the tolerance are kept as given, not clipped.
    """
    arr = check_matrix("profile", profile, shape=(n_producers, dim), nonnegative=False)
    if arr.min() < -tol:
        raise ValueError(
            f"profile must lie in the strategy set {{s >= 0, sum(s) <= 1}} (tolerance {tol:g}); "
            f"got an entry {float(arr.min())!r}. "
            "Use recgym.project_to_strategy_set to project actions."
        )
    sums = arr.sum(axis=1)
    if sums.max() > 1 + tol:
        raise ValueError(
            f"profile must lie in the strategy set {{s >= 0, sum(s) <= 1}} (tolerance {tol:g}); "
            f"producer {int(sums.argmax())} has sum {float(sums.max())!r}. "
            "Use recgym.project_to_strategy_set to project actions."
        )
    return arr


def _fmt(shape: tuple[int | None, int | None]) -> str:
    return "(" + ", ".join("any" if s is None else str(s) for s in shape) + ")"
