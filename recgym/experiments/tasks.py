"""A resumable sweep of independent tasks, each writing a known set of rows.

``recgym design`` and ``recgym information`` run through this: a task is the unit
of parallel work and of resumption (it computes all its rows at once, from its own
arguments only), and every row has a key naming the run it belongs to. Rows are
appended to ``runs.csv`` (or ``runs.parquet``) as tasks finish; on resume, rows
read back are checked against a schema (present, typed, in range, one of this
sweep's keys, no repeats), damaged rows are left out with a warning naming the
file and line, tasks whose rows are all present are skipped and the others run
again (only their missing rows are appended). At the end the file is rewritten
in the sweep's order, so it does not depend on the backend or the interruptions.
The folder's settings, lock and SIGTERM handling are ``recgym.experiments.folders``.
"""

from __future__ import annotations

import numbers
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from recgym.datasets.catalog import SYNTHETIC
from recgym.experiments.backends import LocalBackend, RayBackend
from recgym.experiments.folders import (
    folder_lock,
    make_folder,
    sigterm_as_interrupt,
    warn_damaged,
    write_or_check_config,
)
from recgym.experiments.results import (
    RESULT_NAMES,
    CsvStore,
    ParquetStore,
    Problems,
    RowCheck,
)
from recgym.experiments.resume import append_as_finished, missing_groups

#: Column kinds a schema may use (``check_schema``).
KINDS = ("text", "int", "float", "float_or_missing", "number", "number_or_missing", "bool",
         "counts")

__all__ = ["KINDS", "Task", "TaskSweepResult", "check_schema", "key_of", "run_tasks"]


@dataclass(frozen=True)
class Task:
    """One unit of work: the keys of the rows it writes, in order, and its arguments."""

    keys: tuple[tuple[str, ...], ...]
    arguments: Any


@dataclass(frozen=True)
class TaskSweepResult:
    """What ``run_tasks`` did: every row in sweep order, the file, rows computed now."""

    frame: pd.DataFrame
    path: Path
    n_computed: int
    seconds: float


def key_of(values: Sequence[object]) -> tuple[str, ...]:
    """A row key as text: numbers by the ``repr`` of their float value (so that a
    parameter computed as the int 2 and read back as 2.0 is one key; ``nan`` where
    missing), the rest by ``str``."""
    return tuple(repr(float(v)) if isinstance(v, numbers.Real) and not isinstance(v, bool)
                 else str(v) for v in values)


def check_schema(frame: pd.DataFrame, schema: Mapping[str, str], key_names: Sequence[str],
                 position: Mapping[tuple[str, ...], int]) -> tuple[pd.DataFrame, Problems]:
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


def _open(out: Path, fmt: str, columns: tuple[str, ...]) -> CsvStore | ParquetStore:
    store = {"csv": CsvStore, "parquet": ParquetStore}[fmt]
    return store(out, columns)


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


def run_tasks(out: str | Path, settings: dict[str, Any], non_result: Sequence[str], fmt: str,
              schema: Mapping[str, str], key_names: Sequence[str], tasks: Sequence[Task],
              run: Callable[[Any], list[dict]], backend: LocalBackend | RayBackend,
              progress: bool, description: str,
              users_of: Callable[[Any], UsersKey] | None = None) -> TaskSweepResult:
    """Run (or resume) ``tasks`` into ``out``; see the module docstring.

    ``run(task.arguments)`` returns the task's rows (dicts with every schema column)
    in the order of ``task.keys``. ``settings`` is written to ``config.json``;
    ``non_result`` names the settings a resumed sweep may change. ``users_of(arguments)``
    names the user matrix a task needs: each real dataset's matrix is then fitted once,
    by the workers in parallel, before the tasks start (not by every worker at once).
    """
    start = time.perf_counter()
    out = Path(out)
    columns = tuple(schema)
    order = [key for task in tasks for key in task.keys]
    position = {key: i for i, key in enumerate(order)}
    if len(position) != len(order):
        repeated = next(key for key, count in Counter(order).items() if count > 1)
        named = ", ".join(f"{n}={v}" for n, v in zip(key_names, repeated, strict=True))
        raise ValueError(f"the sweep repeats a setting ({named}): two candidates or runs "
                         "are the same")
    store = _open(out, fmt, columns)
    make_folder(out)
    with sigterm_as_interrupt(), folder_lock(out):
        write_or_check_config(out, settings, non_result, tuple(RESULT_NAMES.values()))
        frame, problems = store.load()
        kept, damaged = check_schema(frame, schema, key_names, position)
        warn_damaged(store.path, {**problems, **damaged})
        done = set(kept.index.tolist())
        starts, pending = missing_groups([len(t.keys) for t in tasks], done)
        with backend:
            if users_of is not None:
                _fit_users(backend, [users_of(tasks[i].arguments) for i in pending], progress)
            with tqdm(total=len(order), initial=len(done), unit="run", desc=description,
                      file=sys.stderr, disable=not progress, dynamic_ncols=True) as bar:
                positions, rows = append_as_finished(
                    backend, run, [tasks[i].arguments for i in pending],
                    [starts[i] for i in pending], done, store, bar)
        computed = pd.DataFrame(rows, columns=list(columns), index=positions)
        result = pd.concat([f for f in (kept, computed) if len(f)]).sort_index()
        store.finalize(result)
    return TaskSweepResult(result.reset_index(drop=True), store.path, len(rows),
                           time.perf_counter() - start)


def _fit_users(backend: LocalBackend | RayBackend, keys: list[UsersKey], progress: bool
               ) -> None:
    """Fit the real datasets' matrices among ``keys`` once each (``fit_users``): the fit
    bars show in this process; workers show one bar over the matrices instead."""
    real = list(dict.fromkeys(key for key in keys if key[0] not in SYNTHETIC))
    here = backend.runs_here
    with tqdm(total=len(real), unit="matrix", desc="users", file=sys.stderr,
              disable=here or not progress or not real, dynamic_ncols=True) as bar:
        for _ in backend.map_unordered(fit_users, [(key, progress and here) for key in real]):
            bar.update()
