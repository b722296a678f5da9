"""The one resumable loop every sweep runs through (``recgym reproduce``, ``recgym design``,
``recgym information``).

A sweep declares a ``TaskSweep``: its tasks in sweep order, its row schema and how a
task runs. A task is the unit of parallel work and of resumption: it computes all its
rows at once, from its own arguments only, and every row has a key naming the run it
belongs to. ``run_tasks`` then, for any sweep:

1. plans: every row's position in the sweep's order (a repeated key is refused);
2. opens ``--out`` (``folders``): creates it, takes its lock, turns SIGTERM into
   ``KeyboardInterrupt``, writes or checks ``config.json``;
3. reads back the rows there (``results`` stores: ``runs.csv`` or ``runs.parquet``),
   checks them against the schema, warns about the damaged ones (file and line);
4. runs the tasks missing a row on the backend (``backends``), after the sweep's own
   ``prepare`` step, appending each task's missing rows as it finishes;
5. rewrites the file in the sweep's order, so it does not depend on the backend, the
   number of workers or the interruptions.
"""

from __future__ import annotations

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
from recgym.experiments.config import NON_RESULT_FIELDS, ResumableSweep
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

__all__ = ["Backend", "RowSchema", "SweepResult", "Task", "TaskSweep", "run_tasks"]


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
        the order of ``task.keys``; a module-level function, so workers can load it.
    prepare : callable, optional
        ``prepare(backend, arguments)``, inside the backend's ``with`` block before
        the pending tasks (``arguments``, in the order they are handed out) run: e.g.
        load the user matrices they need once each.
    side_files : tuple of str
        Other files the sweep writes into the folder: like the results, they are
        refused without a ``config.json`` next to them.
    """

    tasks: Sequence[Task]
    schema: RowSchema
    run: Callable[[Any], list[dict]]
    prepare: Callable[[Backend, list[Any]], None] | None = None
    side_files: tuple[str, ...] = ()


@dataclass(frozen=True)
class SweepResult:
    """What ``run_tasks`` did: every row in sweep order, the file, rows computed now."""

    frame: pd.DataFrame
    path: Path
    n_computed: int
    seconds: float


def run_tasks(config: ResumableSweep, sweep: TaskSweep, backend: Backend | None = None
              ) -> SweepResult:
    """Run (or resume) ``sweep`` into ``config.out``; see the module docstring.

    ``config`` gives the folder, the file format, ``config.json``'s settings
    (``config.settings()``, computed before anything is written; those of
    ``NON_RESULT_FIELDS`` may change on resume), the progress bar and, unless
    ``backend`` is given, the backend.

    Raises
    ------
    ValueError
        If the sweep repeats a key, ``config.out`` cannot hold it, holds another
        sweep or results without ``config.json``, or another sweep writes to it.
    KeyboardInterrupt
        On Ctrl-C, or ``SweepTerminated`` on SIGTERM (from the main thread); the rows
        finished so far are on disk and the workers terminated.
    """
    start = time.perf_counter()
    out = Path(config.out)
    settings = config.settings()
    if backend is None:
        backend = make_backend(config.backend, config.jobs, config.ray_address)
    tasks, schema = sweep.tasks, sweep.schema
    order = [key for task in tasks for key in task.keys]
    _refuse_repeats(order, schema.key_names)
    store = open_store(out, config.format, schema.columns)
    make_folder(out)
    with sigterm_as_interrupt(), folder_lock(out):
        write_or_check_config(out, settings, NON_RESULT_FIELDS,
                              (*RESULT_NAMES.values(), *sweep.side_files))
        frame, problems = store.load()
        kept, damaged = schema.check(frame, order)
        warn_damaged(store.path, {**problems, **damaged})
        done = set(kept.index.tolist())
        starts, pending = missing_tasks([len(task.keys) for task in tasks], done)
        pending.sort(key=lambda i: tasks[i].cache_group)
        arguments = [tasks[i].arguments for i in pending]
        with backend:
            if sweep.prepare is not None:
                sweep.prepare(backend, arguments)
            with tqdm(total=len(order), initial=len(done), unit="run",
                      desc=f"{config.experiment} {config.dataset}", file=sys.stderr,
                      disable=not config.progress, dynamic_ncols=True) as bar:
                positions, rows = append_as_finished(backend, sweep.run, arguments,
                                                     [starts[i] for i in pending], done,
                                                     store, bar)
        computed = pd.DataFrame(rows, columns=list(schema.columns), index=positions)
        result = pd.concat([f for f in (kept, computed) if len(f)]).sort_index()
        store.finalize(result)
    return SweepResult(result.reset_index(drop=True), store.path, len(rows),
                       time.perf_counter() - start)


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
                       arguments: Sequence[Any], starts: Sequence[int], done: set[int],
                       store: CsvStore | ParquetStore, bar: tqdm
                       ) -> tuple[list[int], list[dict]]:
    """Run ``run(arguments[j])`` for every ``j`` on ``backend`` (inside its context) and
    append the rows of each result that are not in ``done`` to ``store`` as it arrives,
    counting them on ``bar``.

    The rows of ``arguments[j]`` take positions ``starts[j]``, ``starts[j] + 1``, ...
    Returns the positions and rows appended.
    """
    positions: list[int] = []
    rows: list[dict] = []
    for j, task_rows in backend.map_unordered(run, list(arguments)):
        new = [(starts[j] + k, row) for k, row in enumerate(task_rows)
               if starts[j] + k not in done]
        if new:
            store.append([row for _, row in new])
            positions += [position for position, _ in new]
            rows += [row for _, row in new]
        bar.update(len(new))
    return positions, rows
