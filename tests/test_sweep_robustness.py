"""No silent wrong results: sweeps and caches under adversarial conditions (issue 14).

Each test reproduces one case of the issue: a result folder whose settings are
unknown, damaged rows, planted symlinks, a second writer, unreadable settings,
an unreachable Ray cluster, SIGTERM, a killed parent process, and tampered
embedding caches. The sweeps are tiny (4 runs: both rules, run 1, d = 5, n = 2, 5)
and the embeddings are fitted on a generated 40-user ratings table.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recgym import datasets
from recgym.datasets import cache, real
from recgym.experiments.backends import LocalBackend, RayBackend, check_ray_address
from recgym.experiments.config import Exp1Config
from recgym.experiments.folders import LOCK_FILE, SweepTerminated
from recgym.experiments.results import BASE_COLUMNS
from recgym.experiments.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[1]
HAS_PYARROW = importlib.util.find_spec("pyarrow") is not None
TINY = {"runs": (1,), "dims": (5,), "producers": (2, 5), "progress": False}
needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run of TINY, computed once."""
    out = tmp_path_factory.mktemp("tiny")
    run_sweep(Exp1Config(out=str(out), **TINY))
    return out


@pytest.fixture
def sweep_copy(tmp_path: Path, tiny_sweep: Path) -> Path:
    """A copy of the tiny sweep's folder, to damage."""
    out = tmp_path / "sweep"
    shutil.copytree(tiny_sweep, out)
    return out


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def _edit_field(line: str, column: str, value: str) -> str:
    """``line`` of runs.csv with ``column`` set to ``value``."""
    fields = line.rstrip("\n").split(",")
    fields[BASE_COLUMNS.index(column)] = value
    return ",".join(fields) + "\n"


# --- sweeps know what they hold (issue cases 3 and 5) ----------------------------------

def test_results_without_config_are_refused(sweep_copy: Path) -> None:
    """Case 3: without config.json the rows' settings are unknown; nothing is guessed."""
    before = (sweep_copy / "runs.csv").read_bytes()
    (sweep_copy / "config.json").unlink()
    for settings in (TINY, {**TINY, "runs": (1, 2), "max_iter": 3}):
        with pytest.raises(ValueError, match=r"runs\.csv.*no config\.json"):
            run_sweep(Exp1Config(out=str(sweep_copy), **settings))
    assert (sweep_copy / "runs.csv").read_bytes() == before
    assert not (sweep_copy / "config.json").exists()


@pytest.mark.parametrize(("content", "match"), [
    ("[1, 2]", "JSON list, not an object"),
    ("{not json", "not readable JSON"),
    ("", "not readable JSON"),
])
def test_unreadable_config_is_one_clear_error(sweep_copy: Path, content: str,
                                              match: str) -> None:
    """Case 7: a config.json that is not an object of settings (was AttributeError)."""
    (sweep_copy / "config.json").write_text(content)
    with pytest.raises(ValueError, match=match):
        run_sweep(Exp1Config(out=str(sweep_copy), **TINY))


def _damage(line: int, edit: Callable[[str], str]) -> Callable[[list[str]], list[str]]:
    def apply(lines: list[str]) -> list[str]:
        return lines[:line - 1] + [edit(lines[line - 1])] + lines[line:]
    return apply


@pytest.mark.parametrize(("damage", "line", "problem"), [
    (_damage(3, lambda s: _edit_field(s, "counts", "")), 3, "counts is missing"),
    (_damage(2, lambda s: _edit_field(s, "avg_user_utility", "NaN")), 2,
     "avg_user_utility is missing or not a finite number"),
    (_damage(4, lambda s: "garbage\n"), 4, "has 1 fields, expected 16"),
    (_damage(5, lambda s: s.rstrip("\n") + ",1,2\n"), 5, "has 18 fields"),
    (_damage(2, lambda s: "\n"), 2, "has 0 fields"),
    (_damage(4, lambda s: _edit_field(s, "rule", '"linear')), 4, "not a well-formed CSV line"),
    (_damage(2, lambda s: _edit_field(s, "counts", "1 1 1 1 1")), 2,
     "summing to n_producers"),
    (_damage(3, lambda s: _edit_field(s, "counts", "1 4")), 3, "dim finite numbers"),
    (_damage(3, lambda s: _edit_field(s, "converged", "maybe")), 3, "True or False"),
    (_damage(3, lambda s: _edit_field(s, "iterations", "1.5")), 3, r"integer in 0\.\.499"),
    (_damage(3, lambda s: _edit_field(s, "iterations", "500")), 3, r"integer in 0\.\.499"),
    (_damage(3, lambda s: _edit_field(s, "converged", "False")), 3, "iterations = 499"),
    (_damage(2, lambda s: _edit_field(s, "temperature", "abc")), 2,
     "temperature is not a finite number"),
    (_damage(5, lambda s: _edit_field(s, "run", "7")), 5, "not a run of this sweep"),
    (_damage(5, lambda s: _edit_field(s, "dim", "10")), 5, "not a run of this sweep"),
    (_damage(4, lambda s: _edit_field(s, "dataset", "synth-skewed")), 4,
     "not a run of this sweep"),
    (lambda lines: lines + [_edit_field(lines[1], "max_user_utility", "0.5")], 6,
     "repeats the run of an earlier row"),
])
def test_damaged_rows_are_recomputed(sweep_copy: Path, tiny_sweep: Path,
                                     damage: Callable[[list[str]], list[str]], line: int,
                                     problem: str) -> None:
    """Case 5: every resumed row is checked; a damaged one is named, left out, recomputed."""
    results = sweep_copy / "runs.csv"
    results.write_text("".join(damage(_lines(results))))
    with pytest.warns(RuntimeWarning, match=rf"runs\.csv: 1 damaged row.*line {line} .*{problem}"):
        run_sweep(Exp1Config(out=str(sweep_copy), **TINY))
    assert results.read_bytes() == (tiny_sweep / "runs.csv").read_bytes()


def test_damaged_user_distribution_is_recomputed(sweep_copy: Path, tiny_sweep: Path) -> None:
    path = sweep_copy / "user_distributions.csv"
    path.write_text(_lines(path)[0] + "synth-uniform,17,5,10000,0.5 0.5\n")
    with pytest.warns(RuntimeWarning, match=r"user_distributions\.csv: 1 damaged.*line 2 "
                                            "user_distribution must hold dim"):
        run_sweep(Exp1Config(out=str(sweep_copy), **TINY))
    assert path.read_bytes() == (tiny_sweep / "user_distributions.csv").read_bytes()


def test_unrelated_user_distributions_is_one_clear_error(sweep_copy: Path) -> None:
    """Case 7: a user_distributions.csv with other columns (was AttributeError)."""
    (sweep_copy / "user_distributions.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"user_distributions\.csv does not have the expected "
                                         "columns dataset, embedding_seed"):
        run_sweep(Exp1Config(out=str(sweep_copy), **TINY))


def test_header_prefix_is_restarted_with_a_warning(sweep_copy: Path, tiny_sweep: Path) -> None:
    """Case 8: a runs.csv holding part of its header is not deleted silently."""
    results = sweep_copy / "runs.csv"
    results.write_bytes(results.read_bytes()[:20])
    with pytest.warns(RuntimeWarning, match=r"runs\.csv holds only 20 bytes of its header"):
        summary = run_sweep(Exp1Config(out=str(sweep_copy), **TINY))
    assert summary.n_computed == 4
    assert results.read_bytes() == (tiny_sweep / "runs.csv").read_bytes()


@pytest.mark.skipif(not HAS_PYARROW, reason="pyarrow is not installed (recgym[parquet])")
def test_unreadable_parquet_part_is_recomputed(tmp_path: Path, tiny_sweep: Path) -> None:
    config = Exp1Config(out=str(tmp_path), **{**TINY, "format": "parquet"})
    run_sweep(config)
    (part,) = (tmp_path / "runs.parquet").glob("part-*.parquet")
    part.write_bytes(b"PAR1 not really")
    with pytest.warns(RuntimeWarning, match=rf"{part.name} is unreadable"):
        assert run_sweep(config).n_computed == 4
    expected = pd.read_csv(tiny_sweep / "runs.csv")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "runs.parquet"), expected,
                                  check_dtype=False)


def test_quoted_rule_spec_is_read_back(tmp_path: Path) -> None:
    """A rule spec with a comma is quoted in runs.csv; resuming finds its rows valid."""
    config = Exp1Config(out=str(tmp_path), **{**TINY, "rules": ("topk:k=2,floor=0.05",)})
    run_sweep(config)
    assert '"topk:k=2,floor=0.05"' in (tmp_path / "runs.csv").read_text()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert run_sweep(config).n_computed == 0


# --- one writer per folder (lock) --------------------------------------------------------

def test_second_writer_is_refused(sweep_copy: Path) -> None:
    lock = sweep_copy / LOCK_FILE
    lock.write_text(f"{os.getpid()} {socket.gethostname()}\n")  # a live process
    before = (sweep_copy / "runs.csv").read_bytes()
    with pytest.raises(ValueError, match=rf"in use by another sweep \(process {os.getpid()}"):
        run_sweep(Exp1Config(out=str(sweep_copy), **TINY))
    lock.write_text("12345 some-other-host\n")  # cannot be checked from here
    with pytest.raises(ValueError, match="process 12345 on some-other-host"):
        run_sweep(Exp1Config(out=str(sweep_copy), **TINY))
    assert (sweep_copy / "runs.csv").read_bytes() == before


def test_stale_lock_is_taken_over(sweep_copy: Path, tiny_sweep: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # reaped: its pid names no process now
    (sweep_copy / LOCK_FILE).write_text(f"{dead.pid} {socket.gethostname()}\n")
    (sweep_copy / "runs.csv").write_text(_lines(tiny_sweep / "runs.csv")[0])
    assert run_sweep(Exp1Config(out=str(sweep_copy), **TINY)).n_computed == 4
    assert not (sweep_copy / LOCK_FILE).exists()  # released


# --- writes stay inside --out (case 6) --------------------------------------------------

@pytest.mark.parametrize("planted", ["runs.csv.tmp", "user_distributions.csv.tmp",
                                     "config.json.tmp"])
def test_planted_temporary_symlink_is_not_followed(tmp_path: Path, planted: str) -> None:
    out, outside = tmp_path / "out", tmp_path / "outside.txt"
    out.mkdir()
    outside.write_text("keep me\n")
    (out / planted).symlink_to(outside)
    run_sweep(Exp1Config(out=str(out), **TINY))
    assert outside.read_text() == "keep me\n"
    for name in ("runs.csv", "user_distributions.csv", "config.json"):
        assert (out / name).is_file() and not (out / name).is_symlink()


@pytest.mark.parametrize("name", ["runs.csv", "config.json", "user_distributions.csv"])
def test_symlinked_result_file_is_refused(sweep_copy: Path, tmp_path: Path, name: str) -> None:
    outside = tmp_path / "outside.txt"
    shutil.move(sweep_copy / name, outside)
    (sweep_copy / name).symlink_to(outside)
    before = outside.read_bytes()
    with pytest.raises(ValueError, match=rf"{name} is a symlink"):
        run_sweep(Exp1Config(out=str(sweep_copy), **TINY))
    assert outside.read_bytes() == before and (sweep_copy / name).is_symlink()


def test_out_that_is_a_file_is_one_clear_error(tmp_path: Path) -> None:
    """Case 7: --out naming a file, or a path under a file (were tracebacks)."""
    file = tmp_path / "x"
    file.write_text("")
    with pytest.raises(ValueError, match=rf"--out {file} is a file, not a folder"):
        run_sweep(Exp1Config(out=str(file), **TINY))
    with pytest.raises(ValueError, match=rf"--out {file}/y/z is inside {file}, which is a file"):
        run_sweep(Exp1Config(out=str(file / "y" / "z"), **TINY))


# --- Ray address (case 7) ---------------------------------------------------------------

def test_unreachable_ray_address_fails_fast_before_writing(tmp_path: Path) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # a port nobody listens on
    port = closed.getsockname()[1]
    closed.close()
    started = time.monotonic()
    with pytest.raises(ValueError, match=rf"--ray-address 127\.0\.0\.1:{port}: cannot connect"):
        run_sweep(Exp1Config(out=str(tmp_path / "out"), **TINY, backend="ray",
                             ray_address=f"127.0.0.1:{port}"))
    assert time.monotonic() - started < 2.0
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="--ray-address must be HOST:PORT"):
        check_ray_address("head-node")


def test_ray_finding_no_cluster_names_the_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoCluster:  # stands for Ray, whose import takes seconds
        @staticmethod
        def is_initialized() -> bool:
            return False

        @staticmethod
        def init(address: str | None) -> None:
            raise ConnectionError("Could not find any running Ray instance.")

    monkeypatch.setitem(sys.modules, "ray", NoCluster)
    with pytest.raises(ValueError, match="--ray-address auto: Ray found no cluster"):
        with RayBackend("auto"):
            pass


# --- stopping (case 8) ------------------------------------------------------------------

class SigtermAfterFirst(LocalBackend):
    """Runs tasks here and sends this process SIGTERM after the first chain."""

    def map_unordered(self, fn, items):
        for index, item in enumerate(items):
            yield index, fn(item)
            if fn.__name__ == "run_chain":
                os.kill(os.getpid(), signal.SIGTERM)


def test_sigterm_saves_rows_releases_the_lock_and_exits_143(tmp_path: Path,
                                                            tiny_sweep: Path) -> None:
    config = Exp1Config(out=str(tmp_path), **TINY)
    with pytest.raises(SweepTerminated) as raised:
        run_sweep(config, backend=SigtermAfterFirst())
    assert 128 + raised.value.signum == 143  # the command line's exit status
    assert len(_lines(tmp_path / "runs.csv")) == 1 + 2  # the first chain's rows are saved
    assert not (tmp_path / LOCK_FILE).exists()
    assert run_sweep(config).n_computed == 2
    assert (tmp_path / "runs.csv").read_bytes() == (tiny_sweep / "runs.csv").read_bytes()


def test_stopping_early_terminates_the_workers_quietly() -> None:
    """An error in the consumer terminates the workers; the pool's own thread must not
    fail on futures cancelled by hand (it printed InvalidStateError: CANCELLED)."""
    errors: list[BaseException] = []
    hook = threading.excepthook
    threading.excepthook = lambda args: errors.append(args.exc_value)
    try:
        with pytest.raises(RuntimeError, match="stop"), LocalBackend(2) as backend:
            for _ in backend.map_unordered(time.sleep, [0.01, *[5.0] * 6]):
                raise RuntimeError("stop")
        time.sleep(1.0)  # the pool's manager thread notices the terminated workers
    finally:
        threading.excepthook = hook
    assert errors == []


def test_stopping_early_without_an_error_drops_the_queued_tasks(tmp_path: Path) -> None:
    commands = [f"sleep 0.5 && touch {tmp_path / str(i)}" for i in range(12)]
    with LocalBackend(2) as backend:
        for _ in backend.map_unordered(os.system, commands):
            break
    assert len(list(tmp_path.iterdir())) < 12  # the queued ones never ran


@needs_proc
def test_workers_exit_when_the_parent_is_killed(tmp_path: Path, processes_end) -> None:
    """Case 8: after ``kill -9`` of the sweep's process its busy workers end too."""
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent("""
        import os, time
        from recgym.experiments.backends import LocalBackend

        def report_then_sleep(seconds):
            print(os.getpid(), flush=True)  # the workers share the parent's stdout
            time.sleep(seconds)

        if __name__ == "__main__":
            with LocalBackend(2) as backend:
                for _ in backend.map_unordered(report_then_sleep, [60, 60]):
                    pass
    """))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get(
        "PYTHONPATH", "")])}  # this tree's recgym, whatever is installed
    parent = subprocess.Popen([sys.executable, str(script)], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        pids = [int(parent.stdout.readline()) for _ in range(2)]  # both workers are busy
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()
    assert pids and processes_end(pids, 5)


# --- tamper-evident embedding cache (case 4) --------------------------------------------

def _ratings_table(n_users: int = 40, n_items: int = 30, n_ratings: int = 400) -> pd.DataFrame:
    """A small random ratings table with distinct (user, item) pairs and ratings 1..5."""
    rng = np.random.default_rng(0)
    pairs = rng.choice(n_users * n_items, size=n_ratings, replace=False)
    return pd.DataFrame({"user_id": [f"A{u}" for u in pairs // n_items],
                         "item_id": [f"B{i:04d}" for i in pairs % n_items],
                         "rating": rng.integers(1, 6, size=n_ratings).astype(float)})


@pytest.fixture
def fitted(monkeypatch: pytest.MonkeyPatch, tmp_path: Path
           ) -> tuple[Callable[[int], np.ndarray], list[int], Path]:
    """``embed(seed)`` through the cache in a fresh RECGYM_CACHE, the fits made, the folder."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(cache.CACHE_ENV, str(folder))
    fits: list[int] = []

    def counting_fit(data: object, dim: int, seed: int, *args: object) -> np.ndarray:
        fits.append(seed)
        return fit(data, dim, seed, *args)

    fit = real.fit_nmf_embedding
    monkeypatch.setattr(real, "fit_nmf_embedding", counting_fit)
    table = _ratings_table()
    return (lambda seed: datasets.from_ratings(table, 3, seed, progress=False)), fits, folder


def _entry(folder: Path, seed: int) -> Path:
    (path,) = folder.glob(f"ratings-frame_dim3_seed{seed}_*.npy")
    return path


def _flip_one_float(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[-cache.TRAILER_SIZE - 3] ^= 0x01  # inside the last float of the array
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize(("tamper", "problem"), [
    (_flip_one_float, "checksum does not match"),
    (lambda path: np.save(path, np.full((3, 3), 1 / 3)), "has no checksum"),
    (lambda path: path.write_bytes(b""), "is empty"),
    (lambda path: path.write_bytes(path.read_bytes()[:100]), "has no checksum"),
])
def test_tampered_cache_is_refitted(fitted: tuple, tamper: Callable[[Path], None],
                                    problem: str) -> None:
    """A changed float, a valid array of 3 users, a 0-byte or cut file: warn and refit."""
    embed, fits, folder = fitted
    first = embed(17)
    path = _entry(folder, 17)
    tamper(path)
    with pytest.warns(RuntimeWarning, match=rf"cache file {path}: .*{problem}"):
        again = embed(17)
    assert fits == [17, 17]
    np.testing.assert_array_equal(again, first)
    np.testing.assert_array_equal(embed(17), first)  # the refit was cached again
    assert fits == [17, 17]


def test_cache_entry_under_another_key_is_refitted(fitted: tuple) -> None:
    """A valid entry copied to another key's name (another seed) fails its checksum."""
    embed, fits, folder = fitted
    embed(17)
    embed(19)
    shutil.copyfile(_entry(folder, 17), _entry(folder, 19))
    with pytest.warns(RuntimeWarning, match="checksum does not match its contents or name"):
        embed(19)
    assert fits == [17, 19, 19]


def test_cache_checks_the_number_of_users(fitted: tuple) -> None:
    embed, _, folder = fitted
    users = embed(17)
    path = _entry(folder, 17)
    np.testing.assert_array_equal(cache.load(path, 3, n_users=users.shape[0]), users)
    with pytest.warns(RuntimeWarning, match=rf"shape \({users.shape[0]}, 3\), expected \(3, 3\)"):
        assert cache.load(path, 3, n_users=3) is None
    with pytest.warns(RuntimeWarning, match=r"expected \(K, 4\)"):
        assert cache.load(path, 4) is None


def test_cache_checks_row_values(tmp_path: Path) -> None:
    """Even with a valid checksum, rows must be non-negative and sum to 1."""
    path = tmp_path / "x_dim2_seed0_abc.npy"
    cache.save(path, np.array([[0.5, 0.5], [2.0, -1.0]]))
    with pytest.warns(RuntimeWarning, match="rows are not finite non-negative"):
        assert cache.load(path, 2) is None
    cache.save(path, np.array([[0.25, 0.75]]))
    np.testing.assert_array_equal(np.load(path), [[0.25, 0.75]])  # still a plain .npy
    np.testing.assert_array_equal(cache.load(path, 2), [[0.25, 0.75]])
