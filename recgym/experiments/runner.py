"""The one resumable loop every sweep runs through (``recgym reproduce``, ``recgym design``,
``recgym information``, ``recgym coevolve``).

A sweep declares a ``TaskSweep``: its tasks in sweep order, its row schema and how a
task runs. A task is the unit of parallel work and of resumption: it computes its rows
from its own arguments only, and every row has a key naming the run it belongs to.
``run_tasks`` then, for any sweep:

1. plans: every row's position in the sweep's order (a repeated key is refused);
2. opens ``--out`` (``folders``): creates it, takes its lock, turns SIGTERM into
   ``KeyboardInterrupt``, writes or checks ``config.json``;
3. reads back the rows there (``results`` stores: ``runs.csv`` or ``runs.parquet``,
   or the sweep's own ``store``), checks them against the schema, warns about the
   damaged ones (file and line);
4. runs the tasks missing a row on the backend (``backends``), after the sweep's own
   ``prepare`` step, appending each task's missing rows as it finishes;
5. rewrites the file in the sweep's order, so it does not depend on the backend, the
   number of workers or the interruptions; then the sweep's ``finish`` step (its
   figures), still holding the lock.

Two options serve sweeps whose rows follow from one another, like ``recgym
coevolve``'s epochs (an epoch needs the state the ones before left, which is not
saved):

* ``whole_tasks``: a task's rows are kept only all together. The rows of a task that
  lacks one (cut short, or a row damaged) are left out and the file is rewritten
  without them before anything runs; the task then writes all its rows again, so the
  final file is the one an uninterrupted run writes.
* ``streams`` (the row-streaming hook): ``run(arguments, deliver)`` hands over each
  row by ``deliver(row)`` as soon as it is computed, in the order of the task's keys,
  and each is appended (and flushed) at once, so an interruption keeps every row
  delivered. Where the backend runs tasks in this process (``runs_here``) that is
  literal; on worker processes the rows a task delivers come back when it ends and
  are appended then, like any task's.
"""

from __future__ import annotations

import functools
import sys
import time
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from tqdm import tqdm

from recgym.experiments.backends import LocalBackend, RayBackend, make_backend
from recgym.experiments.config import NON_RESULT_FIELDS
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
    open_store,
)

Backend = LocalBackend | RayBackend
#: Where a sweep's rows go (``results``).
Store = CsvStore | ParquetStore

__all__ = ["Backend", "FolderConfig", "RowSchema", "Store", "SweepResult", "Task",
           "TaskSweep", "run_tasks"]


class FolderConfig(Protocol):
    """What ``run_tasks`` reads of a sweep's settings (a ``config.ResumableSweep`` has it
    all): the folder, the progress bar's label and whether it shows; ``settings()``
    unless ``run_tasks`` is given them; ``format`` unless the sweep has its own
    ``store``; ``backend``, ``jobs`` and ``ray_address`` unless a backend is given."""

    @property
    def out(self) -> str: ...

    @property
    def experiment(self) -> str: ...

    @property
    def dataset(self) -> str: ...

    @property
    def progress(self) -> bool: ...


class RowSchema(Protocol):
    """A sweep's rows: their columns, which of them name a run, how rows read back
    are checked."""

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column of the results file, in order."""
        ...

    @property
    def key_names(self) -> tuple[str, ...]:
        """The columns of a row's key."""
        ...

    def check(self, frame: pd.DataFrame, keys: Sequence[Hashable]
              ) -> tuple[pd.DataFrame, Problems]:
        """The rows of ``frame`` (as a store loads them) that are well formed and whose
        key is one of ``keys`` (the sweep's, in order, unique), typed as the sweep
        writes them and indexed by that key's position; and location -> problem for
        the others."""
        ...


@dataclass(frozen=True)
class Task:
    """One unit of work: the keys of the rows it writes, in order, and the arguments
    ``TaskSweep.run`` gets (picklable for worker processes).

    Pending tasks are handed out sorted by ``cache_group`` (in sweep order within a
    group), so tasks that share what a worker caches run together.
    """

    keys: tuple[Hashable, ...]
    arguments: Any
    cache_group: int = 0


@dataclass(frozen=True)
class TaskSweep:
    """What a sweep declares.

    Attributes
    ----------
    tasks : sequence of Task
        In the sweep's order, which is the order of the final file.
    schema : RowSchema
    run : callable
        ``run(task.arguments)`` returns the task's rows (dicts with every column) in
        the order of ``task.keys``; a module-level function, so workers can load it
        (any callable where the backend runs tasks here). With ``streams``,
        ``run(task.arguments, deliver)`` calls ``deliver(row)`` for each row instead,
        in that order, as it is computed (module docstring).
    prepare : callable, optional
        ``prepare(backend, arguments)``, inside the backend's ``with`` block before
        the pending tasks (``arguments``, in the order they are handed out) run: e.g.
        load the user matrices they need once each.
    side_files : tuple of str
        Other files the sweep writes into the folder: like the results, they are
        refused without a ``config.json`` next to them.
    store : Store, optional
        Where the rows go, in ``--out``; by default ``runs.csv`` or ``runs.parquet``
        by the config's ``format``.
    non_result : frozenset of str
        The settings of ``config.json`` that change no result: they may differ on
        resume.
    whole_tasks : bool
        A task's rows are kept only all together (module docstring).
    streams : bool
        ``run`` delivers its rows one at a time (module docstring).
    finish : callable, optional
        ``finish(frame)`` with every row in sweep order, after the file is rewritten
        and before the lock is released (e.g. draw the figures); what it returns is
        ``SweepResult.finished``.
    unit : str
        What the progress bar counts (one per row).
    """

    tasks: Sequence[Task]
    schema: RowSchema
    run: Callable[..., Any]
    prepare: Callable[[Backend, list[Any]], None] | None = None
    side_files: tuple[str, ...] = ()
    store: Store | None = None
    non_result: frozenset[str] = NON_RESULT_FIELDS
    whole_tasks: bool = False
    streams: bool = False
    finish: Callable[[pd.DataFrame], Any] | None = None
    unit: str = "run"


@dataclass(frozen=True)
class SweepResult:
    """What ``run_tasks`` did: every row in sweep order, the file, the rows computed
    now, the seconds it took, the tasks run now and what ``TaskSweep.finish``
    returned."""

    frame: pd.DataFrame
    path: Path
    n_computed: int
    seconds: float
    tasks_computed: int = 0
    finished: Any = None


def run_tasks(config: FolderConfig, sweep: TaskSweep, backend: Backend | None = None,
              settings: dict[str, Any] | None = None) -> SweepResult:
    """Run (or resume) ``sweep`` into ``config.out``; see the module docstring.

    ``config`` gives the folder, ``config.json``'s settings (``config.settings()``,
    computed before anything is written, unless ``settings`` are given; those of
    ``sweep.non_result`` may change on resume), the progress bar, and unless they are
    given the file format (``sweep.store``) and the backend.

    Raises
    ------
    ValueError
        If the sweep repeats a key, ``config.out`` cannot hold it, holds another
        sweep or results without ``config.json``, or another sweep writes to it.
    KeyboardInterrupt
        On Ctrl-C, or ``SweepTerminated`` on SIGTERM (from the main thread); the rows
        finished (with ``streams``: delivered) so far are on disk and the workers
        terminated.
    """
    start = time.perf_counter()
    out = Path(config.out)
    if settings is None:
        settings = config.settings()
    if backend is None:
        backend = make_backend(config.backend, config.jobs, config.ray_address)
    tasks, schema = sweep.tasks, sweep.schema
    order = [key for task in tasks for key in task.keys]
    _refuse_repeats(order, schema.key_names)
    if sweep.store is None:
        store = open_store(out, config.format, schema.columns)
        held: tuple[str, ...] = (*RESULT_NAMES.values(), *sweep.side_files)
    else:
        store = sweep.store
        held = (store.path.name, *sweep.side_files)
    make_folder(out)
    with sigterm_as_interrupt(), folder_lock(out):
        write_or_check_config(out, settings, sweep.non_result, held)
        frame, problems = store.load()
        kept, damaged = schema.check(frame, order)
        warn_damaged(store.path, {**problems, **damaged})
        sizes = [len(task.keys) for task in tasks]
        if sweep.whole_tasks:
            kept = whole_tasks_only(kept, sizes)
            if len(kept) < len(frame) + len(problems):  # the file holds rows left out
                store.finalize(kept)
        done = set(kept.index.tolist())
        starts, pending = missing_tasks(sizes, done)
        pending.sort(key=lambda i: tasks[i].cache_group)
        arguments = [tasks[i].arguments for i in pending]
        with backend:
            if sweep.prepare is not None:
                sweep.prepare(backend, arguments)
            with tqdm(total=len(order), initial=len(done), unit=sweep.unit,
                      desc=f"{config.experiment} {config.dataset}", file=sys.stderr,
                      disable=not config.progress, dynamic_ncols=True) as bar:
                append = append_as_delivered if sweep.streams else append_as_finished
                positions, rows = append(backend, sweep.run, arguments,
                                         [starts[i] for i in pending],
                                         [sizes[i] for i in pending], done, store, bar)
        computed = pd.DataFrame(rows, columns=list(schema.columns), index=positions)
        result = pd.concat([f for f in (kept, computed) if len(f)]).sort_index()
        store.finalize(result)
        result = result.reset_index(drop=True)
        finished = sweep.finish(result) if sweep.finish is not None else None
    return SweepResult(result, store.path, len(rows), time.perf_counter() - start,
                       len(pending), finished)


def whole_tasks_only(kept: pd.DataFrame, sizes: Sequence[int]) -> pd.DataFrame:
    """The rows of ``kept`` (indexed by position) whose task has every row there, in
    sweep order (task ``t`` holds ``sizes[t]`` consecutive positions)."""
    bounds = np.cumsum([0, *sizes])
    positions = kept.index.to_numpy(dtype=np.int64)
    task = np.searchsorted(bounds, positions, side="right") - 1
    whole = np.bincount(task, minlength=len(sizes)) == np.asarray(sizes, dtype=np.int64)
    return kept[whole[task]].sort_index()


def _refuse_repeats(order: list[Hashable], key_names: Sequence[str]) -> None:
    """A ``ValueError`` naming the first key that ``order`` holds twice."""
    counts = Counter(order)
    if len(counts) == len(order):
        return
    repeated = next(key for key, count in counts.items() if count > 1)
    named = ", ".join(f"{n}={v}" for n, v in zip(key_names, repeated, strict=True))
    raise ValueError(f"the sweep repeats a setting ({named}): two candidates or runs are "
                     "the same")


def missing_tasks(sizes: Sequence[int], done: set[int]) -> tuple[list[int], list[int]]:
    """``(starts, pending)``: every task's first position, and the tasks with a position
    not in ``done``, in sweep order (task ``t`` holds ``sizes[t]`` consecutive rows)."""
    starts = np.cumsum([0, *sizes]).tolist()
    pending = [t for t in range(len(sizes))
               if not done.issuperset(range(starts[t], starts[t + 1]))]
    return starts[:-1], pending


def append_as_finished(backend: Backend, run: Callable[[Any], list[dict]],
                       arguments: Sequence[Any], starts: Sequence[int],
                       sizes: Sequence[int], done: set[int], store: Store, bar: tqdm
                       ) -> tuple[list[int], list[dict]]:
    """Run ``run(arguments[j])`` for every ``j`` on ``backend`` (inside its context) and
    append the rows of each result that are not in ``done`` to ``store`` as it arrives,
    counting them on ``bar``.

    The ``sizes[j]`` rows of ``arguments[j]`` take positions ``starts[j]``,
    ``starts[j] + 1``, ... Returns the positions and rows appended.
    """
    positions: list[int] = []
    rows: list[dict] = []
    for j, task_rows in backend.map_unordered(run, list(arguments)):
        _check_count(len(task_rows), sizes[j])
        new = [(starts[j] + k, row) for k, row in enumerate(task_rows)
               if starts[j] + k not in done]
        if new:
            store.append([row for _, row in new])
            positions += [position for position, _ in new]
            rows += [row for _, row in new]
        bar.update(len(new))
    return positions, rows


def append_as_delivered(backend: Backend, run: Callable[[Any, Callable[[dict], None]], Any],
                        arguments: Sequence[Any], starts: Sequence[int],
                        sizes: Sequence[int], done: set[int], store: Store, bar: tqdm
                        ) -> tuple[list[int], list[dict]]:
    """``append_as_finished`` for a sweep that ``streams``: ``run(arguments[j], deliver)``
    calls ``deliver(row)`` per row, and where the backend runs tasks here each row not
    in ``done`` is appended to ``store`` (and counted on ``bar``) when it is delivered;
    on worker processes the delivered rows come back when the task ends."""
    if not backend.runs_here:
        return append_as_finished(backend, functools.partial(delivered_rows, run), arguments,
                                  starts, sizes, done, store, bar)
    positions: list[int] = []
    rows: list[dict] = []

    def task(j: int) -> int:
        count = 0

        def deliver(row: dict) -> None:
            nonlocal count
            _check_count(count + 1, sizes[j], more_only=True)
            position, count = starts[j] + count, count + 1
            if position not in done:
                store.append([row])
                positions.append(position)
                rows.append(row)
                bar.update()

        run(arguments[j], deliver)
        return count

    for j, count in backend.map_unordered(task, range(len(arguments))):
        _check_count(count, sizes[j])
    return positions, rows


def delivered_rows(run: Callable[[Any, Callable[[dict], None]], Any], arguments: Any
                   ) -> list[dict]:
    """The rows ``run(arguments, deliver)`` delivers, as a list (in a worker process)."""
    rows: list[dict] = []
    run(arguments, rows.append)
    return rows


def _check_count(count: int, size: int, more_only: bool = False) -> None:
    """A ``RuntimeError`` if a task gave ``count`` rows for its ``size`` keys (with
    ``more_only``, only if ``count`` exceeds them)."""
    if count > size or (count < size and not more_only):
        raise RuntimeError(f"a task gave {count} rows for its {size} keys: a sweep's task "
                           "must give one row per key, in order")
