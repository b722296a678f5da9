"""The ``recgym`` command: its four sub-commands, run in-process through ``main``, the
console entry point and the example script run as subprocesses with tiny budgets."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from recgym.cli import main
from recgym.datasets import load_users
from recgym.experiments.results import read_results
from recgym.game import EngagementGame
from recgym.solvers import best_response_dynamics

ROOT = Path(__file__).resolve().parents[1]
#: A small experiment-1 sweep on the command line (both rules, runs 1-2, d = 5).
SWEEP = ["reproduce", "exp1", "--dataset", "synth-uniform", "--runs", "1-2", "--dims", "5",
         "--producers", "2", "5", "10", "--no-progress"]


def test_equilibrium_defaults_report_the_dynamics(capsys: pytest.CaptureFixture) -> None:
    assert main(["equilibrium"]) == 0
    out = capsys.readouterr().out
    # The same run done directly: defaults are synth-uniform, d=5, n=10, softmax T=1,
    # embedding seed 17, dynamics seed 0.
    game = EngagementGame(load_users("synth-uniform", 5, 17), 10, "softmax", 1.0)
    result = best_response_dynamics(game, np.random.RandomState(0))
    utilities = game.utilities(result.profile)
    assert f"counts per feature: {' '.join(map(str, result.counts))}" in out
    assert f"converged after {result.iterations} iterations" in out
    assert f"mean {utilities.user.mean():.6g}" in out
    assert "NashConv over vertices:" in out and "NashConv over strategy set:" in out
    assert "certified" in out
    assert "TV distance, producers vs users:" in out


def test_equilibrium_linear_skewed(capsys: pytest.CaptureFixture) -> None:
    args = ["equilibrium", "--dataset", "synth-skewed", "--rule", "linear", "--dim", "3",
            "--n-producers", "4", "--seed", "2", "--embedding-seed", "5"]
    assert main(args) == 0
    out = capsys.readouterr().out
    game = EngagementGame(load_users("synth-skewed", 3, 5), 4, "linear")
    result = best_response_dynamics(game, np.random.RandomState(2))
    assert f"counts per feature: {' '.join(map(str, result.counts))}" in out
    assert "rule=linear" in out


@pytest.mark.parametrize(("args", "flag"), [
    (["equilibrium", "--n-producers", "0"], "--n-producers"),
    (["equilibrium", "--rule", "hardmax"], "--rule"),
    (["equilibrium", "--temperature", "-1"], "--temperature"),
    (["reproduce", "exp1", "--out", "x", "--runs", "a-b"], "--runs"),
    (["reproduce", "exp1", "--out", "x", "--dims", "0"], "--dims"),
    (["reproduce", "exp1", "--out", "x", "--jobs", "0"], "--jobs"),
    (["reproduce", "exp2", "--out", "x", "--dataset", "netflix"], "--dataset"),
    (["reproduce", "exp2", "--dataset", "synth-skewed"], "--out"),
])
def test_bad_options_are_usage_errors(args: list[str], flag: str,
                                      capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert flag in capsys.readouterr().err


def test_reproduce_compare_plot(tmp_path: Path, paper_dir: Path,
                                capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "sweep"
    assert main([*SWEEP, "--out", str(out)]) == 0
    n_runs = len(read_results(out))
    assert n_runs == 2 * 2 * 3
    assert (out / "config.json").exists()
    # Resuming a finished sweep computes nothing.
    assert main([*SWEEP, "--out", str(out)]) == 0
    assert f"({0} computed now, {n_runs} already there)" in capsys.readouterr().out

    published = str(paper_dir / "exp1_iterations.csv.gz")
    assert main(["compare", str(out), "--published", published]) == 0
    assert f"{n_runs} runs compared: {n_runs} match exactly, 0 differ" in capsys.readouterr().out

    frame = read_results(out)
    frame.loc[3, "iterations"] += 1
    frame.to_csv(out / "runs.csv", index=False)
    assert main(["compare", str(out), "--published", published]) == 1
    report = capsys.readouterr().out
    assert f"{n_runs - 1} match exactly, 1 differ" in report
    assert "iterations" in report.split("differing runs")[1]

    assert main(["plot", str(out)]) == 0
    printed = capsys.readouterr().out.split()
    assert sorted(Path(p).name for p in printed) == ["synth-uniform_distribution.png",
                                                     "synth-uniform_iterations.png"]
    assert all(Path(p).parent == out / "figures" and Path(p).stat().st_size > 0
               for p in printed)
    # A bare results file (no user_distributions.csv): synthetic users are regenerated.
    assert main(["plot", str(out / "runs.csv"), "--fig-dir", str(tmp_path / "f")]) == 0
    assert "synth-uniform_distribution.png" in capsys.readouterr().out


def test_runtime_errors_exit_with_a_message(tmp_path: Path, paper_dir: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    published = str(paper_dir / "exp1_iterations.csv.gz")
    assert main(["compare", str(tmp_path), "--published", published]) == 1
    assert capsys.readouterr().err.startswith("recgym: error: no results file")


def _run(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)


def test_console_entry_point_runs() -> None:
    done = _run(["-m", "recgym.cli", "equilibrium", "--n-producers", "3"])
    assert done.returncode == 0, done.stderr
    assert "NashConv over strategy set" in done.stdout


def test_example_script_quick(tmp_path: Path, paper_dir: Path) -> None:
    done = _run([str(ROOT / "examples" / "reproduce_paper.py"), "--quick", "--out",
                 str(tmp_path)])
    assert done.returncode == 0, done.stderr
    assert "match exactly" in done.stdout
    figures = sorted(p.name for p in (tmp_path / "figures").glob("*.png"))
    assert "synth-uniform_iterations.png" in figures
    assert "synth-skewed_specialisation.png" in figures


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:  # ended meanwhile
            continue
        if stat and int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, dead but not yet reaped, counts as ended)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_sigterm_stops_reproduce_like_ctrl_c(tmp_path: Path) -> None:
    """SIGTERM mid-sweep: finished rows kept, the interrupted message, status 143
    (128 + SIGTERM), and no worker process left behind."""
    out = tmp_path / "out"
    # Hundreds of short chains: the sweep is far from done when the first rows appear.
    proc = subprocess.Popen([sys.executable, "-m", "recgym.cli", "reproduce", "exp1",
                             "--dataset", "synth-uniform", "--runs", "1-300", "--dims", "5",
                             "--producers", "2", "5", "--jobs", "2", "--out", str(out),
                             "--no-progress"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    workers: list[int] = []
    try:
        results, deadline = out / "runs.csv", time.monotonic() + 60
        while not (results.exists() and results.read_text().count("\n") > 2):
            if proc.poll() is not None:
                pytest.fail(f"the sweep ended early: {proc.communicate()}")
            assert time.monotonic() < deadline, "no results within a minute"
            time.sleep(0.05)
        workers = _children(proc.pid)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        deadline = time.monotonic() + 10
        while any(_running(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [pid for pid in workers if _running(pid)]
    finally:  # whatever failed, leave no process of this test behind
        for pid in [proc.pid, *workers]:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == 143, err
    assert "interrupted; the finished runs are saved" in err
    assert len(workers) >= 2 and left == []
    finished = read_results(out)
    assert 0 < len(finished) < 2 * 300 * 2
