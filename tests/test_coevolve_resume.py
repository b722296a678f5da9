"""``recgym coevolve`` resumes through the sweeps' one runner (``runner.run_tasks`` with
``streams`` and ``whole_tasks``): killed (``kill -9``) or terminated in the middle of a
run, cut short in a line, or with a damaged row, the resumed ``history.csv`` is byte
for byte the one an uninterrupted run writes; and the runner's row-streaming hook on
a toy sweep."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from recgym.cli import main
from recgym.experiments.backends import LocalBackend
from recgym.experiments.config import ResumableSweep
from recgym.experiments.folders import LOCK_FILE
from recgym.experiments.runner import Task, TaskSweep, run_tasks
from recgym.experiments.tasks import ColumnKinds, key_of

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = 6
#: Two rules (one with a comma in its spec) and two learners: four runs of EPOCHS rows.
ARGS = ["coevolve", "--n-users", "30", "--dim", "3", "--n-producers", "3", "--epochs",
        str(EPOCHS), "--user-dynamics", "exposure:rate=0.2", "--user-outside-option", "0.3",
        "--rule", "softmax:temperature=0.1,floor=0.05", "linear", "--learner", "oracle",
        "greedy", "--scf", "user_min", "--no-progress"]
#: Seconds the killed command sleeps after each epoch, so that it is killed mid-run.
EPOCH_DELAY = 0.15


def _run(out: Path) -> int:
    return main([*ARGS, "--out", str(out)])


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """``history.csv`` of an uninterrupted run."""
    out = tmp_path_factory.mktemp("reference") / "run"
    assert _run(out) == 0
    return (out / "history.csv").read_bytes()


def _rows(path: Path) -> list[str]:
    return path.read_text().splitlines()[1:]


def _start_slow(out: Path) -> subprocess.Popen:
    """``recgym coevolve`` in another process, sleeping ``EPOCH_DELAY`` after each epoch
    (the rows it computes are the same)."""
    script = out.parent / "slow_coevolve.py"
    script.write_text(textwrap.dedent(f"""
        import sys, time
        import recgym.experiments.coevolve_run as coevolve_run
        from recgym.cli import main

        real = coevolve_run.coevolve

        def slow(*args, progress, **kwargs):
            def tick(row):
                progress(row)
                time.sleep({EPOCH_DELAY})
            return real(*args, progress=tick, **kwargs)

        coevolve_run.coevolve = slow
        sys.exit(main({[*ARGS, "--out", str(out)]!r}))
    """))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get(
        "PYTHONPATH", "")])}  # this tree's recgym, whatever is installed
    return subprocess.Popen([sys.executable, str(script)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_for_rows(path: Path, n: int, process: subprocess.Popen, timeout: float = 60.0
                   ) -> None:
    """Until ``path`` holds ``n`` rows (``process`` still running)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the command ended before it was stopped"
        if path.exists() and len(_rows(path)) >= n:
            return
        time.sleep(0.01)
    raise AssertionError(f"{path} did not reach {n} rows in {timeout} s")


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "sigterm"])
def test_a_run_stopped_midway_resumes_byte_identical(
        tmp_path: Path, reference: bytes, stop: signal.Signals,
        capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "run"
    history = out / "history.csv"
    process = _start_slow(out)
    try:
        _wait_for_rows(history, EPOCHS + 2, process)  # the second run is half written
        process.send_signal(stop)
        code = process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    rows = _rows(history)
    assert EPOCHS + 2 <= len(rows) < 2 * EPOCHS  # epochs were appended as they ended
    assert history.read_bytes() != reference
    if stop == signal.SIGKILL:
        assert code == -signal.SIGKILL
        assert (out / LOCK_FILE).exists()  # left behind: its process is gone, it is taken over
    else:
        assert code == 128 + signal.SIGTERM
        assert not (out / LOCK_FILE).exists()
    capsys.readouterr()
    assert _run(out) == 0
    # The half-written run is computed again from its first epoch, its rows replaced.
    assert "(3 run(s) computed now, 1 already there)" in capsys.readouterr().out
    assert history.read_bytes() == reference
    assert sorted(p.name for p in out.iterdir()) == ["coevolve.png", "config.json",
                                                     "history.csv", "learning.png"]


def _copy_of(reference: bytes, tmp_path: Path) -> Path:
    """A finished folder (``config.json`` and ``reference`` as ``history.csv``)."""
    out = tmp_path / "run"
    assert _run(out) == 0
    assert (out / "history.csv").read_bytes() == reference
    return out


def test_a_partial_run_is_recomputed_not_trusted(tmp_path: Path, reference: bytes,
                                                 capsys: pytest.CaptureFixture) -> None:
    """A run missing its last epoch: its other rows are replaced, even a changed one."""
    out = _copy_of(reference, tmp_path)
    history = out / "history.csv"
    lines = history.read_text().splitlines(keepends=True)
    third = lines[1 + 2 * EPOCHS:1 + 3 * EPOCHS]  # linear with the oracle
    fields = third[0].split(",")
    assert fields[:3] == ["linear", "oracle", "1"]
    fields[3] = repr(float(fields[3]) + 0.125)  # its user_welfare, still a valid number
    third[0] = ",".join(fields)
    history.write_text("".join(lines[:1 + 2 * EPOCHS] + third[:-1] + lines[1 + 3 * EPOCHS:]))
    capsys.readouterr()
    assert _run(out) == 0
    assert "(1 run(s) computed now, 3 already there)" in capsys.readouterr().out
    assert history.read_bytes() == reference


def test_a_line_cut_short_is_dropped_and_its_run_recomputed(
        tmp_path: Path, reference: bytes, capsys: pytest.CaptureFixture) -> None:
    out = _copy_of(reference, tmp_path)
    history = out / "history.csv"
    history.write_bytes(reference[:-20])  # the last run's last line cut short
    capsys.readouterr()
    assert _run(out) == 0
    assert "(1 run(s) computed now, 3 already there)" in capsys.readouterr().out
    assert history.read_bytes() == reference


def test_a_damaged_row_is_named_and_its_run_recomputed(
        tmp_path: Path, reference: bytes, capsys: pytest.CaptureFixture) -> None:
    out = _copy_of(reference, tmp_path)
    history = out / "history.csv"
    lines = history.read_text().splitlines(keepends=True)
    line = 1 + 2 * EPOCHS + 2  # a row of the third run (file line line + 1)
    lines[line] = lines[line].replace("True", "maybe")
    history.write_text("".join(lines))
    capsys.readouterr()
    assert _run(out) == 0
    printed = capsys.readouterr()
    assert f"history.csv: 1 damaged row(s) left out, their runs are recomputed: line " \
           f"{line + 1} converged must be True or False" in printed.err
    assert "(1 run(s) computed now, 3 already there)" in printed.out
    assert history.read_bytes() == reference


def test_a_folder_in_use_is_refused_and_left_alone(tmp_path: Path, reference: bytes,
                                                   capsys: pytest.CaptureFixture) -> None:
    out = _copy_of(reference, tmp_path)
    history = out / "history.csv"
    history.write_bytes(reference[:len(reference) // 2])
    before = history.read_bytes()
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (out / LOCK_FILE).write_text(f"{process.pid} {os.uname().nodename}\n")
        capsys.readouterr()
        assert _run(out) == 1
        assert "in use by another sweep" in capsys.readouterr().err
        assert history.read_bytes() == before
    finally:
        process.kill()
        process.wait()


# --- the runner's row-streaming hook, on a toy sweep ------------------------------------

#: Rows per toy task; the task raises ``KeyboardInterrupt`` after delivering row
#: ``STOP_AFTER[a]`` of task ``a``.
ROWS = 3
STOP_AFTER: dict[int, int] = {}
SCHEMA = ColumnKinds({"a": "int", "k": "int", "value": "float"}, ("a", "k"))


@dataclass(frozen=True)
class ToyConfig(ResumableSweep):
    tasks: tuple[int, ...] = (1, 2, 3)
    progress: bool = False

    experiment = "toy"


def toy_stream(arguments: tuple[int, float], deliver: Any) -> None:
    """Delivers ``ROWS`` rows, the value of each row following from the one before."""
    a, offset = arguments
    value = a * 10 + offset
    for k in range(ROWS):
        deliver({"a": a, "k": k, "value": value})
        if STOP_AFTER.get(a) == k:
            raise KeyboardInterrupt
        value = value * 2


def _toy(out: Path, offset: float = 0.5, **declared: Any
         ) -> tuple[ToyConfig, TaskSweep]:
    config = ToyConfig(out=str(out))
    tasks = [Task(tuple(key_of([a, k]) for k in range(ROWS)), (a, offset))
             for a in config.tasks]
    return config, TaskSweep(tasks, SCHEMA, toy_stream, streams=True, **declared)


@pytest.fixture(autouse=True)
def _no_stops() -> None:
    STOP_AFTER.clear()


def _expected(offset: float = 0.5) -> str:
    lines = ["a,k,value"] + [f"{a},{k},{(a * 10 + offset) * 2 ** k}" for a in (1, 2, 3)
                             for k in range(ROWS)]
    return "\n".join(lines) + "\n"


def test_streamed_rows_are_appended_as_delivered_and_whole_tasks_redone(
        tmp_path: Path) -> None:
    config, sweep = _toy(tmp_path, whole_tasks=True)
    STOP_AFTER[2] = 1
    with pytest.raises(KeyboardInterrupt):
        run_tasks(config, sweep)
    path = tmp_path / "runs.csv"
    assert path.read_text() == "".join(_expected().splitlines(keepends=True)[:1 + ROWS + 2])
    STOP_AFTER.clear()
    # Task 2's two rows are damaged in value: whole_tasks drops them and redoes task 2.
    path.write_text(path.read_text().replace("2,1,41.0", "2,1,99.0"))
    result = run_tasks(config, sweep)
    assert result.tasks_computed == 2 and result.n_computed == 2 * ROWS
    assert path.read_text() == _expected()


def test_without_whole_tasks_a_partial_task_is_completed(tmp_path: Path) -> None:
    config, sweep = _toy(tmp_path)
    STOP_AFTER[2] = 1
    with pytest.raises(KeyboardInterrupt):
        run_tasks(config, sweep)
    STOP_AFTER.clear()
    result = run_tasks(config, sweep)
    assert result.tasks_computed == 2 and result.n_computed == 1 + ROWS  # rows kept
    assert (tmp_path / "runs.csv").read_text() == _expected()


def test_streamed_rows_come_back_from_worker_processes(tmp_path: Path) -> None:
    config, sweep = _toy(tmp_path)
    result = run_tasks(config, sweep, LocalBackend(2))
    assert result.n_computed == 3 * ROWS
    assert (tmp_path / "runs.csv").read_text() == _expected()


def test_a_task_delivering_more_rows_than_keys_is_refused(tmp_path: Path) -> None:
    config, sweep = _toy(tmp_path)
    short = TaskSweep([Task(task.keys[:-1], task.arguments) for task in sweep.tasks],
                      SCHEMA, toy_stream, streams=True)
    with pytest.raises(RuntimeError, match="gave 3 rows for its 2 keys"):
        run_tasks(config, short)
