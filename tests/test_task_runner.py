"""The runner's contract (``recgym.experiments.runner``), on a toy sweep declared in a
few lines: it plans, skips what the folder holds, recomputes damaged rows, appends
as tasks finish and rewrites the file in the sweep's order."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from recgym.experiments.config import ResumableSweep
from recgym.experiments.folders import LOCK_FILE
from recgym.experiments.runner import Task, TaskSweep, run_tasks
from recgym.experiments.tasks import ColumnKinds, key_of

#: The arguments every ``toy_run`` call got, in order (the toy runs in this process).
CALLS: list[Any] = []
#: ``toy_run`` raises ``KeyboardInterrupt`` on the task whose ``a`` is in here.
INTERRUPT_AT: set[int] = set()
SCHEMA = ColumnKinds({"a": "int", "k": "int", "value": "float"}, ("a", "k"))
ROWS_PER_TASK = 2


@dataclass(frozen=True)
class ToyConfig(ResumableSweep):
    """A toy sweep: one task per ``a`` of ``tasks``, each writing ``ROWS_PER_TASK`` rows."""

    tasks: tuple[int, ...] = (1, 2, 3)
    offset: float = 0.5
    progress: bool = False

    experiment = "toy"


@dataclass(frozen=True)
class ToyArguments:
    a: int
    offset: float


def toy_run(arguments: ToyArguments) -> list[dict]:
    CALLS.append(arguments)
    if arguments.a in INTERRUPT_AT:
        raise KeyboardInterrupt
    return [{"a": arguments.a, "k": k, "value": arguments.a * 10 + k + arguments.offset}
            for k in range(ROWS_PER_TASK)]


def toy_sweep(config: ToyConfig, group: Callable[[int], int] = lambda a: 0,
              **declared: Any) -> TaskSweep:
    """The whole declaration: tasks (with their rows' keys), the schema, the task."""
    tasks = [Task(tuple(key_of([a, k]) for k in range(ROWS_PER_TASK)),
                  ToyArguments(a, config.offset), cache_group=group(a)) for a in config.tasks]
    return TaskSweep(tasks, SCHEMA, toy_run, **declared)


@pytest.fixture(autouse=True)
def _fresh_calls() -> None:
    CALLS.clear()
    INTERRUPT_AT.clear()


def _run(out: Path, **changes: Any):
    config = ToyConfig(out=str(out), **changes)
    return run_tasks(config, toy_sweep(config))


def _expected_csv(tasks: tuple[int, ...] = (1, 2, 3), offset: float = 0.5) -> str:
    lines = ["a,k,value"] + [f"{a},{k},{a * 10 + k + offset}" for a in tasks
                             for k in range(ROWS_PER_TASK)]
    return "\n".join(lines) + "\n"


def test_a_run_writes_every_row_in_sweep_order(tmp_path: Path) -> None:
    result = _run(tmp_path)
    assert result.n_computed == 6 and len(CALLS) == 3
    assert result.path == tmp_path / "runs.csv"
    assert result.path.read_text() == _expected_csv()
    assert result.frame["value"].tolist() == [10.5, 11.5, 20.5, 21.5, 30.5, 31.5]
    assert (tmp_path / "config.json").is_file() and not (tmp_path / LOCK_FILE).exists()


def test_resume_runs_nothing_when_the_folder_is_complete(tmp_path: Path) -> None:
    _run(tmp_path)
    before = (tmp_path / "runs.csv").read_bytes()
    CALLS.clear()
    assert _run(tmp_path).n_computed == 0
    assert CALLS == []
    assert (tmp_path / "runs.csv").read_bytes() == before


def test_only_the_tasks_missing_a_row_run_again(tmp_path: Path) -> None:
    _run(tmp_path)
    path = tmp_path / "runs.csv"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:4] + lines[5:]))  # task 2's second row is gone
    CALLS.clear()
    result = _run(tmp_path)
    assert CALLS == [ToyArguments(2, 0.5)]
    assert result.n_computed == 1  # only the missing row is appended
    assert path.read_text() == _expected_csv()


def test_a_damaged_row_is_named_and_recomputed(tmp_path: Path) -> None:
    _run(tmp_path)
    path = tmp_path / "runs.csv"
    lines = path.read_text().splitlines(keepends=True)
    lines[5] = "3,0,not a number\n"
    path.write_text("".join(lines))
    CALLS.clear()
    with pytest.warns(RuntimeWarning, match=r"runs\.csv: 1 damaged row.*line 6 value is "
                                            "missing or not a finite number"):
        assert _run(tmp_path).n_computed == 1
    assert CALLS == [ToyArguments(3, 0.5)]
    assert path.read_text() == _expected_csv()


def test_an_interrupted_sweep_keeps_its_finished_tasks_and_resumes_identically(
        tmp_path: Path) -> None:
    INTERRUPT_AT.add(2)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path)
    path = tmp_path / "runs.csv"
    assert path.read_text() == "a,k,value\n1,0,10.5\n1,1,11.5\n"  # task 1 finished
    assert not (tmp_path / LOCK_FILE).exists()
    INTERRUPT_AT.clear()
    CALLS.clear()
    assert _run(tmp_path).n_computed == 4
    assert CALLS == [ToyArguments(2, 0.5), ToyArguments(3, 0.5)]
    assert path.read_text() == _expected_csv()


def test_pending_tasks_are_handed_out_by_cache_group(tmp_path: Path) -> None:
    seen: list[list[int]] = []
    config = ToyConfig(out=str(tmp_path))
    sweep = toy_sweep(config, group=lambda a: -a, prepare=lambda backend, arguments: seen.append(
        [a.a for a in arguments]))
    run_tasks(config, sweep)
    assert seen == [[3, 2, 1]]  # cache groups -3, -2, -1
    assert [a.a for a in CALLS] == [3, 2, 1]
    assert (tmp_path / "runs.csv").read_text() == _expected_csv()  # still in sweep order
    run_tasks(config, sweep)
    assert seen[-1] == []  # prepare runs on resume too, with nothing pending


def test_other_result_settings_are_refused(tmp_path: Path) -> None:
    _run(tmp_path)
    before = (tmp_path / "runs.csv").read_bytes()
    with pytest.raises(ValueError, match=r"other settings \(different: offset\)"):
        _run(tmp_path, offset=1.5)
    assert _run(tmp_path, jobs=2).n_computed == 0  # how it runs is not a result setting
    assert (tmp_path / "runs.csv").read_bytes() == before


def test_side_files_without_config_are_refused(tmp_path: Path) -> None:
    (tmp_path / "extra.csv").write_text("x\n")
    config = ToyConfig(out=str(tmp_path))
    with pytest.raises(ValueError, match=r"holds extra\.csv but no config\.json"):
        run_tasks(config, toy_sweep(config, side_files=("extra.csv",)))
    assert CALLS == [] and not (tmp_path / "runs.csv").exists()


def test_a_repeated_key_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"repeats a setting \(a=2\.0, k=0\.0\)"):
        _run(out, tasks=(1, 2, 2))
    assert not out.exists() and CALLS == []


def test_a_folder_in_use_is_refused(tmp_path: Path) -> None:
    _run(tmp_path)
    before = (tmp_path / "runs.csv").read_bytes()
    (tmp_path / LOCK_FILE).write_text(f"{os.getpid()} {socket.gethostname()}\n")
    CALLS.clear()
    with pytest.raises(ValueError, match="in use by another sweep"):
        _run(tmp_path, tasks=(1, 2, 3, 4))
    assert CALLS == [] and (tmp_path / "runs.csv").read_bytes() == before

