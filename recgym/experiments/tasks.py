"""What the design and information sweeps declare alike for the runner
(``recgym.experiments.runner``): rows checked by column kinds, keys as text, and the
warm-up that fits each real user matrix once before the tasks.

A ``ColumnKinds`` schema maps every column to a kind of ``KINDS``; rows read back on
resume are checked against it (present, typed, in range, one of this sweep's keys,
no repeats). A key is the ``key_of`` text of a row's key columns, so a parameter
computed as the int 2 and read back as 2.0 is one key.
"""

from __future__ import annotations

import numbers
import sys
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from recgym.datasets.catalog import SYNTHETIC
from recgym.experiments.results import Problems, RowCheck
from recgym.experiments.runner import Backend

#: Column kinds a schema may use (``check_schema``).
KINDS = ("text", "int", "float", "float_or_missing", "number", "number_or_missing", "bool",
         "counts")

__all__ = ["KINDS", "ColumnKinds", "check_schema", "fit_users_first", "key_of", "users_key"]


def key_of(values: Sequence[object]) -> tuple[str, ...]:
    """A row key as text: numbers by the ``repr`` of their float value (so that a
    parameter computed as the int 2 and read back as 2.0 is one key; ``nan`` where
    missing), the rest by ``str``."""
    return tuple(repr(float(v)) if isinstance(v, numbers.Real) and not isinstance(v, bool)
                 else str(v) for v in values)


@dataclass(frozen=True)
class ColumnKinds:
    """A row schema (``runner.RowSchema``): column -> kind of ``KINDS``, in file order,
    and the key columns (keys are ``key_of`` their values)."""

    kinds: Mapping[str, str]
    key_names: tuple[str, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column, in order."""
        return tuple(self.kinds)

    def check(self, frame: pd.DataFrame, keys: Sequence[Hashable]
              ) -> tuple[pd.DataFrame, Problems]:
        """``check_schema`` against the sweep's ``keys`` (in order)."""
        position = {key: i for i, key in enumerate(keys)}
        return check_schema(frame, self.kinds, self.key_names, position)


def check_schema(frame: pd.DataFrame, schema: Mapping[str, str], key_names: Sequence[str],
                 position: Mapping[Hashable, int]) -> tuple[pd.DataFrame, Problems]:
    """Keep the well-formed rows of ``frame`` whose key is one of ``position``.

    ``schema`` maps every column to a kind of ``KINDS``: ``text`` (non-empty),
    ``int``, ``float`` (finite), ``float_or_missing`` (finite or empty), ``number``
    (a number, infinities allowed, not NaN), ``number_or_missing`` (a number or
    empty), ``bool`` (``True``/``False``) and
    ``counts`` (non-negative integers separated by spaces, as many as the row's
    ``dim``). Returns the kept rows, typed and indexed by their position in the
    sweep, and location -> problem for the others.
    """
    check = RowCheck(frame)
    typed: dict[str, np.ndarray] = {}
    for name, kind in schema.items():
        if kind == "text":
            typed[name] = check.text(name)
        elif kind == "int":
            typed[name] = check.integers(name)
        elif kind in ("float", "float_or_missing", "number", "number_or_missing"):
            typed[name] = check.numbers(name, missing_ok=kind.endswith("_or_missing"),
                                        infinite_ok=kind.startswith("number"))
        elif kind == "bool":
            text = check.text(name)
            check.flag(~np.isin(text, ["True", "False"]), f"{name} must be True or False")
            typed[name] = text == "True"
    for name, kind in schema.items():
        if kind == "counts":
            lengths = typed["dim"] if "dim" in typed else np.full(len(frame), 0)
            counts = check.number_lists(name, lengths)
            check.flag(np.any((counts < 0) | (np.mod(np.nan_to_num(counts), 1) != 0), axis=1,
                              where=~np.isnan(counts)), f"{name} must be non-negative integers")
            typed[name] = check.text(name)
    keys = [key_of(values) for values in zip(*(typed[n] for n in key_names), strict=True)]
    where = np.array([position.get(key, -1) for key in keys], dtype=np.int64)
    check.flag(where < 0, "is not a run of this sweep (its settings are not the sweep's)")
    check.repeats(where, "repeats the run of an earlier row")
    keep = check.valid
    kept = pd.DataFrame({name: typed[name][keep] for name in schema}, index=where[keep])
    return kept, check.problems()


#: ``(dataset, dim, embedding_seed, data path)``: which user matrix a task needs.
UsersKey = tuple[str, int, int, "str | None"]


def users_key(arguments: Any) -> UsersKey:
    """The user matrix of task ``arguments`` that have ``dataset``, ``dim``,
    ``embedding_seed`` and ``data`` (the design and information sweeps' tasks)."""
    return arguments.dataset, arguments.dim, arguments.embedding_seed, arguments.data


def fit_users(task: tuple[UsersKey, bool]) -> None:
    """Load one user matrix (fitting a real dataset's embedding into the disk cache if
    it is not there yet); ``task`` is ``(key, progress)``."""
    from recgym.datasets import load_users

    (dataset, dim, seed, data), progress = task
    load_users(dataset, dim, seed, path=data, progress=progress)


def fit_users_first(progress: bool) -> Callable[[Backend, list[Any]], None]:
    """A ``TaskSweep.prepare``: the pending tasks' real user matrices (``users_key``) are
    fitted once each, by the workers in parallel, before the tasks start (not by every
    worker at once)."""
    def prepare(backend: Backend, arguments: list[Any]) -> None:
        _fit_users(backend, [users_key(a) for a in arguments], progress)

    return prepare


def _fit_users(backend: Backend, keys: list[UsersKey], progress: bool) -> None:
    """Fit the real datasets' matrices among ``keys`` once each (``fit_users``): the fit
    bars show in this process; workers show one bar over the matrices instead."""
    real = list(dict.fromkeys(key for key in keys if key[0] not in SYNTHETIC))
    here = backend.runs_here
    with tqdm(total=len(real), unit="matrix", desc="users", file=sys.stderr,
              disable=here or not progress or not real, dynamic_ncols=True) as bar:
        for _ in backend.map_unordered(fit_users, [(key, progress and here) for key in real]):
            bar.update()
