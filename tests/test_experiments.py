"""The experiment sweeps: exact reproduction of published runs, resumption, parallel
backends, comparison with the published files, figures and config validation.

Expected values come from the paper's published per-run files (``recgym.published``)
(read, never typed in). A sweep reproduces a published run only if it contains every
(d, n) that precedes it in the paper's loop order (the chain's RandomState is shared),
so the subsets below are prefixes of the paper's loops.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recgym.experiments.backends import RAY_MISSING, LocalBackend, make_backend
from recgym.experiments.compare import compare_runs, format_comparison
from recgym.experiments.config import Exp1Config, Exp2Config, parse_runs
from recgym.experiments.plots import save_figures
from recgym.experiments.results import read_results
from recgym.experiments.sweep import build_chains, read_user_distributions, run_sweep

ROOT = Path(__file__).resolve().parents[1]
HAS_PYARROW = importlib.util.find_spec("pyarrow") is not None
HAS_RAY = importlib.util.find_spec("ray") is not None
#: A small experiment-1 sweep: runs 1-2, the paper's first producer counts at d = 5.
SMALL = {"dataset": "synth-uniform", "runs": (1, 2), "dims": (5,), "producers": (2, 5, 10, 20),
         "progress": False}


@pytest.fixture(scope="module")
def exp1_published(paper_dir: Path) -> pd.DataFrame:
    return read_results(paper_dir / "exp1_iterations.csv.gz")


@pytest.fixture(scope="module")
def exp2_published(paper_dir: Path) -> pd.DataFrame:
    return read_results(paper_dir / "exp2_equilibria.csv.gz")


@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run of SMALL, computed once (jobs=1)."""
    out = tmp_path_factory.mktemp("small")
    run_sweep(Exp1Config(out=str(out), **SMALL))
    return out


# --- exact reproduction of published runs -------------------------------------------

def test_exp1_run3_matches_published(tmp_path: Path, exp1_published: pd.DataFrame) -> None:
    # Published: exp1_iterations.csv.gz, synth-uniform, run 3, d = 5 and 10, both rules.
    config = Exp1Config(out=str(tmp_path), dataset="synth-uniform", runs=(3,), dims=(5, 10),
                        progress=False)
    summary = run_sweep(config)
    ours = read_results(tmp_path)
    assert summary.n_runs == summary.n_computed == len(ours) == 2 * 2 * 12
    comparison = compare_runs(ours, exp1_published)
    assert comparison.ok, format_comparison(comparison)
    assert list(ours.columns) == list(exp1_published.columns)


def test_exp2_matches_published_including_a_cycle(tmp_path: Path,
                                                  exp2_published: pd.DataFrame) -> None:
    # Published: exp2_equilibria.csv.gz, synth-uniform, embedding seed 13, d = 5 and 10,
    # T = 0.01 and linear; at d = 10 the T = 0.01 chain holds runs that never converge.
    config = Exp2Config(out=str(tmp_path), dataset="synth-uniform", seeds=(13,), dims=(5, 10),
                        temperatures=(0.01,), progress=False)
    run_sweep(config)
    ours = read_results(tmp_path)
    comparison = compare_runs(ours, exp2_published)
    assert comparison.ok, format_comparison(comparison)
    assert list(ours.columns) == list(exp2_published.columns)
    cycles = ours[~ours["converged"]]
    assert len(cycles) >= 1
    # The published file reports -1 for their utilities; ours are real and positive.
    assert (cycles["total_producer_utility"] > 0).all()


def test_exp2_skewed_matches_published(tmp_path: Path, exp2_published: pd.DataFrame) -> None:
    # Published: exp2_equilibria.csv.gz, synth-skewed, embedding seed 13, d = 5.
    config = Exp2Config(out=str(tmp_path), dataset="synth-skewed", seeds=(13,), dims=(5,),
                        temperatures=(0.01, 1.0), progress=False)
    run_sweep(config)
    comparison = compare_runs(read_results(tmp_path), exp2_published)
    assert comparison.ok and comparison.n_runs == 3 * 12, format_comparison(comparison)


def test_movielens_exp1_matches_published(tmp_path: Path, data_dir: Path,
                                          exp1_published: pd.DataFrame) -> None:
    # Published: exp1_iterations.csv.gz, movielens-100k, run 1, d = 5, both rules; the
    # users are the paper's NMF embedding of ../shared/data/ml-100k/u.data.
    data = data_dir
    if not (data / "ml-100k" / "u.data").exists():
        pytest.skip(f"MovieLens-100k ratings not found at {data / 'ml-100k'}")
    config = Exp1Config(out=str(tmp_path), dataset="movielens-100k", data=str(data), runs=(1,),
                        dims=(5,), progress=False)
    run_sweep(config)
    comparison = compare_runs(read_results(tmp_path), exp1_published)
    assert comparison.ok and comparison.n_runs == 2 * 12, format_comparison(comparison)
    # The same file elsewhere resumes (nothing to compute); another file is refused.
    moved = tmp_path.parent / "moved" / "ml-100k"
    moved.mkdir(parents=True)
    shutil.copy(data / "ml-100k" / "u.data", moved / "u.data")
    assert run_sweep(dataclasses.replace(config, data=str(moved.parent))).n_computed == 0
    # A sweep started before the data's sha256 was recorded resumes, and records it.
    settings = json.loads((tmp_path / "config.json").read_text())
    sha = settings.pop("data_sha256")
    (tmp_path / "config.json").write_text(json.dumps(settings))
    assert run_sweep(config).n_computed == 0
    assert json.loads((tmp_path / "config.json").read_text())["data_sha256"] == sha
    with open(moved / "u.data", "a") as handle:
        handle.write("1\t2\t3\t881250949\n")
    with pytest.raises(ValueError, match="different: data_sha256"):
        run_sweep(dataclasses.replace(config, data=str(moved.parent)))


@pytest.fixture(scope="module")
def rentrunway_sweep(tmp_path_factory: pytest.TempPathFactory, data_dir: Path
                     ) -> tuple[Path, Path, subprocess.CompletedProcess]:
    """``recgym reproduce exp1 --dataset rentrunway --runs 1 --dims 5 --no-progress``, once.

    The embedding (dim 5, seed 17) is fitted inside the sweep (about 30 s) into an
    empty cache folder. Returns the output folder, the cache folder and the process.
    """
    data = data_dir
    if not (data / "rentrunway" / "rentrunway_preproc.csv").is_file():
        pytest.skip(f"RentTheRunway ratings not found at {data / 'rentrunway'}")
    root = tmp_path_factory.mktemp("rentrunway")
    out, cache = root / "out", root / "cache"
    env = {key: value for key, value in os.environ.items() if key != "RECGYM_DATA"}
    env["RECGYM_CACHE"] = str(cache)
    done = subprocess.run([sys.executable, "-m", "recgym.cli", "reproduce", "exp1", "--dataset",
                           "rentrunway", "--data", str(data), "--runs", "1", "--dims", "5",
                           "--out", str(out), "--no-progress"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    return out, cache, done


@pytest.mark.slow
def test_rentrunway_exp1_run1_matches_published(
        rentrunway_sweep: tuple[Path, Path, subprocess.CompletedProcess],
        exp1_published: pd.DataFrame) -> None:
    # Published: exp1_iterations.csv.gz, rentrunway, run 1, d = 5, all 12 n, both rules
    # (sharing one fit); users: the paper's NMF embedding of rentrunway_preproc.csv.
    out, _, done = rentrunway_sweep
    assert done.returncode == 0, done.stderr
    ours = read_results(out)
    comparison = compare_runs(ours, exp1_published)
    assert comparison.ok, format_comparison(comparison)
    published = exp1_published[(exp1_published.dataset == "rentrunway")
                               & (exp1_published.run == 1) & (exp1_published.dim == 5)]
    assert len(published) == comparison.n_runs == 2 * 12
    assert set(ours.rule) == {"linear", "softmax"}


@pytest.mark.slow
def test_no_progress_hides_the_embedding_fit(
        rentrunway_sweep: tuple[Path, Path, subprocess.CompletedProcess]) -> None:
    """The sweep fitted the embedding (the cache was empty) without showing its bar."""
    _, cache, done = rentrunway_sweep
    assert done.returncode == 0, done.stderr
    assert len(list(cache.glob("rentrunway_dim5_seed17_*.npy"))) == 1
    assert "NMF" not in done.stderr and "fold" not in done.stderr, done.stderr


def test_parallel_fits_show_one_bar_not_the_workers(tmp_path: Path, data_dir: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capfd: pytest.CaptureFixture) -> None:
    """Two workers fit one embedding each; their fold bars would interleave, so they are
    off and the sweep counts the fitted matrices instead."""
    data = data_dir
    if not (data / "ml-100k" / "u.data").exists():
        pytest.skip(f"MovieLens-100k ratings not found at {data / 'ml-100k'}")
    monkeypatch.setenv("RECGYM_CACHE", str(tmp_path / "cache"))  # empty: both are fitted
    config = Exp1Config(out=str(tmp_path / "out"), dataset="movielens-100k", data=str(data),
                        runs=(1,), dims=(2, 3), producers=(2,), rules=("linear",), jobs=2)
    run_sweep(config)
    err = capfd.readouterr().err
    assert len(list((tmp_path / "cache").glob("movielens-100k_*.npy"))) == 2
    assert "NMF" not in err and "fold" not in err
    assert "users movielens-100k" in err and "2/2" in err


def test_missing_real_data_is_reported(tmp_path: Path) -> None:
    config = Exp1Config(out=str(tmp_path / "out"), dataset="rentrunway",
                        data=str(tmp_path / "nowhere"), runs=(1,), dims=(5,), progress=False)
    with pytest.raises(FileNotFoundError):
        run_sweep(config)


# --- resumption ---------------------------------------------------------------------

def _truncate(path: Path, fraction: float) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[:int(len(raw) * fraction)])


@pytest.mark.parametrize("fraction", [0.05, 0.45, 0.8])
def test_resume_after_interruption_equals_uninterrupted(tmp_path: Path, small_sweep: Path,
                                                        fraction: float) -> None:
    out = tmp_path / "sweep"
    shutil.copytree(small_sweep, out)
    results = out / "runs.csv"
    header = results.read_bytes().index(b"\n") + 1
    _truncate(results, fraction)  # an interruption, possibly in the middle of a line
    kept = max(0, results.read_bytes().count(b"\n") - 1)  # whole lines, less the header
    # A cut inside the header line is reported; a cut row is simply computed again.
    expected = (pytest.warns(RuntimeWarning, match="of its header line")
                if len(results.read_bytes()) < header else contextlib.nullcontext())
    with expected:
        summary = run_sweep(Exp1Config(out=str(out), **SMALL))
    assert summary.n_computed == summary.n_runs - kept
    assert results.read_bytes() == (small_sweep / "runs.csv").read_bytes()


def test_resume_skips_complete_chains(tmp_path: Path, small_sweep: Path) -> None:
    out = tmp_path / "sweep"
    shutil.copytree(small_sweep, out)
    results = out / "runs.csv"
    frame = read_results(results)
    chain = build_chains(Exp1Config(out=str(out), **SMALL))[0]
    first = frame.iloc[:chain.n_runs].copy()  # exactly the first chain
    # A mark that a recomputation would erase (valid: rows out of range are recomputed).
    first.loc[0, "iterations"] = 123
    first.to_csv(results, index=False)
    summary = run_sweep(Exp1Config(out=str(out), **SMALL))
    resumed = read_results(results)
    assert summary.n_computed == len(frame) - chain.n_runs
    assert resumed.loc[0, "iterations"] == 123
    pd.testing.assert_frame_equal(resumed.drop(index=0), frame.drop(index=0))


def test_resume_with_other_settings_is_refused(tmp_path: Path, small_sweep: Path) -> None:
    out = tmp_path / "sweep"
    shutil.copytree(small_sweep, out)
    with pytest.raises(ValueError, match="runs"):
        run_sweep(Exp1Config(out=str(out), **{**SMALL, "runs": (1, 2, 3)}))
    # Execution settings may change.
    assert run_sweep(Exp1Config(out=str(out), **{**SMALL, "jobs": 2})).n_computed == 0


# --- backends -------------------------------------------------------------------------

def test_two_jobs_give_identical_results(tmp_path: Path, small_sweep: Path) -> None:
    run_sweep(Exp1Config(out=str(tmp_path), **{**SMALL, "jobs": 2}))
    assert (tmp_path / "runs.csv").read_bytes() == (small_sweep / "runs.csv").read_bytes()


def _blas_threads(_: object) -> str | None:
    return os.environ.get("OPENBLAS_NUM_THREADS")


def test_local_workers_use_one_blas_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    with LocalBackend(2) as backend:
        found = dict(backend.map_unordered(_blas_threads, [0, 1]))
    assert found == {0: "1", 1: "1"}
    assert "OPENBLAS_NUM_THREADS" not in os.environ  # the parent's setting is restored


def _pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_workers_are_terminated_when_the_sweep_stops(processes_end) -> None:
    """On an exception inside the block, busy workers are killed, not waited for."""
    with pytest.raises(RuntimeError, match="stop"):
        with LocalBackend(2) as backend:
            pids = {pid for _, pid in backend.map_unordered(_pid_after, [0.3, 0.3])}
            for _ in backend.map_unordered(_pid_after, [0, 60, 60]):
                raise RuntimeError("stop")  # while the other tasks sleep a minute
    assert len(pids) == 2 and processes_end(pids, 10)


class ReversedBackend(LocalBackend):
    """Finishes tasks in reverse order: results must not depend on completion order."""

    def map_unordered(self, fn, items):
        for index in reversed(range(len(items))):
            yield index, fn(items[index])


def test_completion_order_does_not_matter(tmp_path: Path, small_sweep: Path) -> None:
    run_sweep(Exp1Config(out=str(tmp_path), **SMALL), backend=ReversedBackend())
    assert (tmp_path / "runs.csv").read_bytes() == (small_sweep / "runs.csv").read_bytes()
    users = read_user_distributions(tmp_path)
    assert users.equals(read_user_distributions(small_sweep))


def test_ray_backend_without_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(ImportError, match=r'pip install "recgym\[ray\]"'):
        make_backend("ray")
    assert "recgym[ray]" in RAY_MISSING


@pytest.mark.skipif(not HAS_RAY, reason="Ray is not installed (pip install 'recgym[ray]')")
def test_ray_backend_gives_identical_results(tmp_path: Path, small_sweep: Path) -> None:
    run_sweep(Exp1Config(out=str(tmp_path), **{**SMALL, "backend": "ray"}))
    assert (tmp_path / "runs.csv").read_bytes() == (small_sweep / "runs.csv").read_bytes()


# --- parquet ------------------------------------------------------------------------

@pytest.mark.skipif(not HAS_PYARROW, reason="pyarrow is not installed (recgym[parquet])")
def test_parquet_results_equal_csv_and_resume(tmp_path: Path, small_sweep: Path) -> None:
    config = Exp1Config(out=str(tmp_path), **{**SMALL, "format": "parquet"})
    run_sweep(config)
    parts = sorted((tmp_path / "runs.parquet").glob("part-*.parquet"))
    assert len(parts) == 1
    expected = read_results(small_sweep)
    pd.testing.assert_frame_equal(read_results(tmp_path), expected, check_dtype=False)
    # Interrupt: keep only the first chain's rows, plus a half-written part.
    first = expected.iloc[:build_chains(config)[0].n_runs]
    first.to_parquet(parts[0], index=False)
    (tmp_path / "runs.parquet" / "part-000009.parquet.tmp").write_bytes(b"PAR1 cut short")
    summary = run_sweep(config)
    assert summary.n_computed == len(expected) - len(first)
    pd.testing.assert_frame_equal(read_results(tmp_path), expected, check_dtype=False)


def test_parquet_without_pyarrow_names_the_extra(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if pyarrow were not installed
    with pytest.raises(ImportError, match=r'pip install "recgym\[parquet\]"'):
        run_sweep(Exp1Config(out=str(tmp_path), **{**SMALL, "format": "parquet"}))


# --- compare ------------------------------------------------------------------------

def test_compare_lists_what_differs(small_sweep: Path, exp1_published: pd.DataFrame) -> None:
    ours = read_results(small_sweep)
    assert compare_runs(ours, exp1_published).ok
    ours.loc[1, "iterations"] += 1
    ours.loc[2, "counts"] = " ".join(reversed(ours.loc[2, "counts"].split())) + " 0"
    ours.loc[3, "avg_user_utility"] *= 1 + 1e-6
    ours.loc[4, "min_producer_utility"] *= 1 + 1e-12  # within the published precision
    ours.loc[5, "n_producers"] = 3  # no such published run
    comparison = compare_runs(ours, exp1_published)
    assert not comparison.ok
    assert comparison.n_match == len(ours) - 4
    assert list(comparison.mismatches["columns"]) == ["iterations", "counts",
                                                      "avg_user_utility"]
    assert comparison.unpublished["n_producers"].tolist() == [3]
    text = format_comparison(comparison)
    assert text.startswith(f"{len(ours)} runs compared: {len(ours) - 4} match exactly, "
                           "3 differ, 1 not in the published file")


def test_compare_refuses_the_wrong_experiment(small_sweep: Path,
                                              exp2_published: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="exp1_iterations"):
        compare_runs(read_results(small_sweep), exp2_published)


# --- figures ------------------------------------------------------------------------

def test_figures_are_written(tmp_path: Path, small_sweep: Path) -> None:
    exp2 = tmp_path / "exp2"
    run_sweep(Exp2Config(out=str(exp2), dataset="synth-skewed", seeds=(13, 17), dims=(5,),
                         producers=(2, 5, 10), temperatures=(0.01, 1.0, 100.0), progress=False))
    frame = pd.concat([read_results(small_sweep), read_results(exp2)], ignore_index=True)
    users = pd.concat([read_user_distributions(small_sweep), read_user_distributions(exp2)])
    paths = save_figures(frame, users, tmp_path / "figures")
    names = sorted(p.name for p in paths)
    assert names == sorted(["synth-uniform_iterations.png", "synth-uniform_distribution.png",
                            "synth-skewed_distribution.png", "synth-skewed_utility.png",
                            "synth-skewed_specialisation.png"])
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_user_distribution_is_recorded(small_sweep: Path) -> None:
    from recgym.datasets import load_users

    users = load_users("synth-uniform", 5, 17)
    row = read_user_distributions(small_sweep).iloc[0]
    assert row["n_users"] == users.shape[0]
    np.testing.assert_array_equal(np.array(row["user_distribution"].split(), dtype=float),
                                  users.sum(axis=0) / users.sum())


# --- configuration ------------------------------------------------------------------

@pytest.mark.parametrize(("change", "flag"), [
    ({"dataset": "netflix"}, "--dataset"),
    ({"dims": (5, 0)}, "--dims"),
    ({"dims": ()}, "--dims"),
    ({"producers": (2, 2)}, "--producers"),
    ({"jobs": 0}, "--jobs"),
    ({"temperatures": (0.0,)}, "--temperatures"),
    ({"rules": ("hardmax",)}, "--rules"),
    ({"format": "xlsx"}, "--format"),
    ({"backend": "dask"}, "--backend"),
    ({"out": None}, "--out"),
])
def test_bad_settings_name_the_option(tmp_path: Path, change: dict, flag: str) -> None:
    with pytest.raises(ValueError, match=flag):
        Exp1Config(**{"out": str(tmp_path), **change})


@pytest.mark.parametrize(("spec", "runs"), [("1-3", (1, 2, 3)), ("7", (7,)),
                                            ("1-2, 5,9-10", (1, 2, 5, 9, 10))])
def test_parse_runs(spec: str, runs: tuple[int, ...]) -> None:
    assert parse_runs(spec) == runs


@pytest.mark.parametrize("spec", ["", "a-b", "3-1", "1--2", "-1"])
def test_parse_runs_rejects_malformed(spec: str) -> None:
    with pytest.raises(ValueError, match="--runs"):
        parse_runs(spec)


def test_chains_follow_the_paper() -> None:
    exp1 = build_chains(Exp1Config(out="unused"))
    assert len(exp1) == 2 * 40 and sum(c.n_runs for c in exp1) == 3840
    assert {c.rng_seed for c in exp1} == set(range(1, 41))
    assert all(c.rng_seed == c.run for c in exp1)
    exp2 = build_chains(Exp2Config(out="unused"))
    assert len(exp2) == 6 * 5 and sum(c.n_runs for c in exp2) == 1440
    assert {c.rng_seed for c in exp2} == {505}
    assert dataclasses.asdict(exp2[0])["temperature"] is None  # linear comes first
    # Synthetic users read no file: a data path is not passed on to them.
    assert {c.data for c in build_chains(Exp1Config(out="unused", data="/x"))} == {None}
    assert {c.data for c in build_chains(Exp1Config(out="unused", dataset="rentrunway",
                                                    data="/x"))} == {"/x"}


def test_package_exports_resolve() -> None:
    import recgym.experiments as experiments

    for name in experiments.__all__:
        assert getattr(experiments, name).__name__ == name
    with pytest.raises(AttributeError, match="no_such_name"):
        experiments.no_such_name  # noqa: B018
