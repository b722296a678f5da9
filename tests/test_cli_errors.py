"""Every command-line failure is one line naming the flag or path, never a traceback
(the adversarial pass's reproductions, run through the real console entry point)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--runs", "1", "--dims", "5", "--producers", "2", "--no-progress"]


def _recgym(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "recgym.cli", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "sweep"
    done = _recgym("reproduce", "exp1", *TINY, "--out", str(out), cwd=out.parent)
    assert done.returncode == 0, done.stderr
    return out


def _cases(sweep: Path, tmp: Path) -> list[tuple[list[str], str]]:
    a_file = tmp / "a_file"
    a_file.write_text("not a folder\n")
    return [
        (["reproduce", "exp1", *TINY, "--out", str(a_file)], "--out"),
        (["reproduce", "exp1", *TINY, "--out", str(a_file / "under")], "--out"),
        (["plot", str(sweep), "--fig-dir", str(a_file)], "--fig-dir"),
        (["plot", str(sweep / "user_distributions.csv"), "--fig-dir", str(tmp / "f")],
         "user_distributions.csv"),
        (["reproduce", "exp1", "--runs", "1-99999999999", "--out", str(tmp / "r")], "--runs"),
        (["reproduce", "exp1", "--seeds", "99999999999999", "--out", str(tmp / "s")], "--seeds"),
        (["reproduce", "exp2", "--temperatures", "1", "1", "--out", str(tmp / "t")],
         "--temperatures"),
        (["reproduce", "exp1", "--rules", "softmax:temprature=1", "--out", str(tmp / "u")],
         "--rules"),
        (["compare", str(sweep), "--rtol", "nan"], "--rtol"),
        (["compare", str(tmp / "missing")], "missing"),
        (["plot", str(tmp / "missing")], "missing"),
        (["equilibrium", "--rule", "topk"], "--rule"),
        (["equilibrium", "--temperature", "0"], "temperature"),
        (["equilibrium", "--dataset", "movielens-100k", "--data", str(tmp / "nodata")],
         "--data"),
        (["download", "netflix"], "NAME"),
        (["train", "--device", "bogus", "--logdir", str(tmp / "runs")], "--device"),
        (["train", "--logdir", str(a_file)], "--logdir"),
        (["train", "--logdir", str(a_file / "under")], "--logdir"),
        (["train-platform", "--logdir", str(a_file)], "--logdir"),
        (["train-platform", "--logdir", str(a_file / "under")], "--logdir"),
        (["plot", str(sweep), "--fig-dir", str(a_file / "under")], "--fig-dir"),
        (["equilibrium", "--temperature", "-1"], "--temperature: "),
        (["equilibrium", "--rule", "topk", "--k", "0"], "--k: "),
        (["equilibrium", "--rule", "softmax:temperature=-1", "--temperature", "2"], "--rule: "),
        (["equilibrium", "--rule", "linear", "--temperature", "1"], "--temperature: "),
        (["plot", str(sweep), "--dpi", "0"], "--dpi"),
        (["compare", str(sweep), "--limit", "-1"], "--limit"),
        (["train", "--algo", "foo", "--logdir", str(tmp / "runs")], "--algo"),
        (["train", "--mode", "foo", "--logdir", str(tmp / "runs")], "--mode"),
    ]


def test_every_failure_is_one_line_without_a_traceback(sweep, tmp_path):
    for args, named in _cases(sweep, tmp_path):
        done = _recgym(*args, cwd=tmp_path)
        err = done.stderr
        assert done.returncode in (1, 2), (args, done.returncode, err)
        assert "Traceback" not in err, (args, err)
        error_lines = [line for line in err.splitlines() if "error:" in line]
        assert len(error_lines) == 1, (args, err)
        assert named in error_lines[0], (args, error_lines[0])


def test_a_failed_start_writes_nothing(tmp_path):
    out = tmp_path / "never"
    done = _recgym("reproduce", "exp1", "--dataset", "movielens-100k", "--data",
                   str(tmp_path / "nodata"), *TINY, "--out", str(out), cwd=tmp_path)
    assert done.returncode == 1 and "not found" in done.stderr
    assert not out.exists()
    # Another dataset's ratings given as MovieLens-100k: refused before anything is written.
    wrong = tmp_path / "ratings.csv"
    wrong.write_text("user_id,item_id,rating\n1,2,5.0\n")
    for command in (["reproduce", "exp1"], ["design"], ["information"]):
        done = _recgym(*command, "--dataset", "movielens-100k", "--data", str(wrong),
                       "--out", str(out), "--no-progress", cwd=tmp_path)
        assert done.returncode == 1 and "does not hold MovieLens-100k ratings" in done.stderr
        assert "--data" in done.stderr and "Traceback" not in done.stderr
        assert not out.exists(), command


def test_a_failed_training_start_writes_nothing(tmp_path):
    runs = tmp_path / "runs"
    done = _recgym("train", "--device", "no-such-device", "--logdir", str(runs), cwd=tmp_path)
    assert done.returncode == 2 and "--device" in done.stderr
    assert not runs.exists()
