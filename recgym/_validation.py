"""Argument checks shared by the public API.

Each ``check_*`` helper returns the validated value and raises ``ValueError`` or
``TypeError`` naming the parameter, the value received and what is allowed.
"""

from __future__ import annotations

import numbers
from pathlib import Path

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


def check_float(name: str, value: object, low: float = -np.inf, high: float = np.inf, *,
                low_open: bool = False, high_open: bool = False,
                allow_inf: bool = False) -> float:
    """Return ``value`` as a ``float`` in the given range (finite unless ``allow_inf``).

    Raises ``ValueError`` naming ``name`` and the range (``TypeError`` for non-numbers).
    """
    parts = []
    if np.isfinite(low):
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if np.isfinite(high):
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    what = ("a number" if allow_inf else "a finite number") + \
        (" " + " and ".join(parts) if parts else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {what}, got {value!r}")
    value = float(value)
    bad = np.isnan(value) or (not allow_inf and not np.isfinite(value))
    bad = bad or value < low or (low_open and value == low)
    bad = bad or value > high or (high_open and value == high)
    if bad:
        raise ValueError(f"{name} must be {what}, got {value!r}")
    return value


def check_choice(name: str, value: object, allowed: tuple[str, ...] | list[str]) -> str:
    """Return ``value`` if it is one of ``allowed``; ``ValueError`` listing them otherwise."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {value!r}")
    return value


def check_ints(name: str, values: object, minimum: int, maximum: int | None = None
               ) -> tuple[int, ...]:
    """Return a non-empty tuple of distinct integers in ``minimum..maximum`` (a single
    value is checked as a one-element tuple)."""
    single = not isinstance(values, tuple | list)
    values = (values,) if single else tuple(values)
    if len(values) == 0:
        raise ValueError(f"{name} needs at least one value")
    bound = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
    what = "an integer" if single else "integers"
    for value in values:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
                or value < minimum or (maximum is not None and value > maximum):
            raise ValueError(f"{name} must be {what} {bound}, got {value!r}")
    if len(set(values)) != len(values):
        raise ValueError(f"{name} must not repeat values, got {list(values)}")
    return tuple(int(v) for v in values)


def check_vector(name: str, value: object, length: int, *, nonnegative: bool = True
                 ) -> np.ndarray:
    """Return a scalar or array as a finite float64 array ``(length,)`` (scalars broadcast)."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a number or an array of shape ({length},), "
                        f"got {type(value).__name__}") from exc
    if arr.ndim == 0:
        arr = np.full(length, float(arr))
    if arr.shape != (length,):
        raise ValueError(f"{name} must be a number or an array of shape ({length},), "
                         f"got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values (no NaN or inf)")
    if nonnegative and np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative, got minimum {float(arr.min())!r}")
    return arr


def check_matrix(name: str, value: object, *, shape: tuple[int | None, int | None] = (None, None),
                 nonnegative: bool = True) -> np.ndarray:
    """Return ``value`` as a finite 2-D float64 array of the given shape.

    ``None`` in ``shape`` accepts any length on that axis.
    """
    if np.iscomplexobj(value):
        raise TypeError(f"{name} must be a real 2-D array, got complex values")
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


def check_directions(name: str, value: object, n_producers: int, n_vertices: int
                     ) -> np.ndarray:
    """Return ``n_producers`` vertex indices in ``0..n_vertices-1`` as an int64 array ``(n,)``."""
    arr = np.asarray(value)
    if arr.shape != (n_producers,) or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be {n_producers} integer vertex indices in "
                         f"0..{n_vertices - 1}, got {value!r}")
    if arr.min() < 0 or arr.max() >= n_vertices:
        raise ValueError(f"{name} must lie in 0..{n_vertices - 1}, got {value!r}")
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


def check_folder(name: str, path: str | Path) -> Path:
    """``Path(path)`` if it is, or can become, a folder: ``ValueError`` naming ``name``
    when it, or a folder above it, is a file."""
    path = Path(path)
    blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
    if blocker == path:
        raise ValueError(f"{name} {path} is a file, not a folder")
    if blocker is not None:
        raise ValueError(f"{name} {path} is inside {blocker}, which is a file, not a folder")
    return path
