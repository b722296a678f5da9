"""The loop both resumable sweeps share: run the groups of rows still missing and
append each group's new rows as it finishes.

A sweep is a sequence of groups (a chain of the paper's runs, a design or
information task); group ``g`` computes ``sizes[g]`` rows, which take consecutive
positions of the sweep's order. ``done`` holds the positions whose rows were read
back on resume. ``recgym.experiments.sweep`` and ``recgym.experiments.tasks`` each
check their own rows and folder; this module only runs and appends.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from tqdm import tqdm

from recgym.experiments.backends import LocalBackend, RayBackend
from recgym.experiments.results import CsvStore, ParquetStore


def missing_groups(sizes: Sequence[int], done: set[int]) -> tuple[list[int], list[int]]:
    """``(starts, pending)``: every group's first position, and the groups with a
    position not in ``done``, in sweep order."""
    starts = np.cumsum([0, *sizes]).tolist()
    pending = [g for g in range(len(sizes))
               if not done.issuperset(range(starts[g], starts[g + 1]))]
    return starts[:-1], pending


def append_as_finished(backend: LocalBackend | RayBackend, run: Callable[[Any], list[dict]],
                       arguments: Sequence[Any], starts: Sequence[int], done: set[int],
                       store: CsvStore | ParquetStore, bar: tqdm
                       ) -> tuple[list[int], list[dict]]:
    """Run ``run(arguments[j])`` for every ``j`` on ``backend`` (inside its context) and
    append the rows of each result that are not in ``done`` to ``store`` as it arrives,
    counting them on ``bar``.

    ``run`` returns its group's rows in order; they take positions ``starts[j]``,
    ``starts[j] + 1``, ... Returns the positions and rows appended.
    """
    positions: list[int] = []
    rows: list[dict] = []
    for j, group_rows in backend.map_unordered(run, list(arguments)):
        new = [(starts[j] + k, row) for k, row in enumerate(group_rows)
               if starts[j] + k not in done]
        if new:
            store.append([row for _, row in new])
            positions += [position for position, _ in new]
            rows += [row for _, row in new]
        bar.update(len(new))
    return positions, rows
