"""The platform's sweeps from the command line: ``recgym design`` and ``recgym information``
(resumable, one-line errors, summaries, figures)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import recgym
from recgym import design, welfare
from recgym.cli import main
from recgym.solvers import best_response_dynamics

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ["design", "--dataset", "synth-skewed", "--dims", "4", "--producers", "5",
          "--rules", "softmax:temperature=0.05..5x3", "linear", "--payoffs", "engagement",
          "marginal", "--scf", "user_welfare", "--scf", "producer_min", "--runs", "1-3",
          "--no-progress"]
#: A smaller sweep (no planner search) for the tests of resuming and refusing.
QUICK = [*DESIGN[:8], "softmax:temperature=0.05", "linear", *DESIGN[10:],
         "--no-price-of-anarchy"]


@pytest.fixture(scope="module")
def design_run(tmp_path_factory) -> tuple[Path, str]:
    """One design sweep shared by the tests that read it: its folder and printed text."""
    out = tmp_path_factory.mktemp("design") / "out"
    import contextlib
    import io

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main([*DESIGN, "--out", str(out)]) == 0
    return out, printed.getvalue()


def test_design_writes_rows_a_summary_and_figures(design_run):
    out, printed = design_run
    assert "best candidate per SCF" in printed and "user_welfare" in printed
    frame = pd.read_csv(out / "runs.csv")
    assert len(frame) == 4 * 2 * 3
    assert {"user_welfare", "producer_min", "nash_conv", "opt", "temperature",
            "floor"} <= set(frame.columns)
    # A row equals the dynamics on the same users (synthetic skewed, seed 17, d=4).
    users = recgym.datasets.load_users("synth-skewed", 4, 17)
    row = frame[(frame["rule"] == "linear") & (frame["payoff"] == "marginal")
                & (frame["run"] == 2)].iloc[0]
    game = recgym.EngagementGame(users, 5, "linear", payoff="marginal")
    result = best_response_dynamics(game, np.random.RandomState(2))
    assert row["counts"] == " ".join(map(str, result.counts))
    assert row["user_welfare"] == pytest.approx(
        welfare.user_welfare(game.utilities(result.profile, result.active)))
    assert main(["plot", str(out), "--fig-dir", str(out.parent / "figures")]) == 0
    names = {p.name for p in (out.parent / "figures").iterdir()}
    assert any(n.endswith("user_welfare_vs_temperature.png") for n in names)
    assert any(n.endswith("pareto.png") for n in names)
    assert any(n.endswith("price_of_anarchy.png") for n in names)


def test_a_killed_design_sweep_resumes_with_nothing_lost_or_duplicated(tmp_path):
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert main([*QUICK, "--out", str(whole)]) == 0
    command = [sys.executable, "-m", "recgym.cli", *QUICK, "--out", str(cut)]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.time() + 60
    while time.time() < deadline and not (cut / "runs.csv").exists():
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(pd.read_csv(cut / "runs.csv")) if (cut / "runs.csv").stat().st_size else 0
    assert done < 12  # killed part-way
    assert main([*QUICK, "--out", str(cut)]) == 0
    a, b = pd.read_csv(whole / "runs.csv"), pd.read_csv(cut / "runs.csv")
    pd.testing.assert_frame_equal(a, b)


def test_design_rows_with_an_integer_parameter_resume(tmp_path, capsys):
    """Top-k's k is computed as an int and read back as 2.0: still the same run."""
    args = ["design", "--dataset", "synth-uniform", "--dims", "3", "--producers", "3",
            "--rules", "topk:k=2,temperature=0.5", "linear", "--runs", "1-2",
            "--no-price-of-anarchy", "--no-progress", "--out", str(tmp_path / "d")]
    assert main(args) == 0
    assert "(4 computed now)" in capsys.readouterr().out
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(args) == 0
    assert "(0 computed now)" in capsys.readouterr().out


def test_design_refuses_other_settings_in_the_same_folder(design_run, capsys):
    out, _ = design_run
    assert main([*DESIGN, "--runs", "1-2", "--out", str(out)]) == 1
    assert "holds a sweep with other settings (different: runs)" in capsys.readouterr().err


@pytest.mark.parametrize(("flags", "message"), [
    (["--scf", "happiness"], "--scf: social choice function must be one of"),
    (["--scf", "utilitarian:lam=2"], "lam must be a finite number in"),
    (["--rules", "softmax:temperature=1..0.1x3"], "reversed"),
    (["--rules", "softmax:temperature=-1..1x3"], "lower bound must be a finite number > 0"),
    (["--rules", "softmax:floor=2"], "floor must be a finite number in"),
    (["--payoffs", "revenue"], "--payoffs must be one of engagement, exposure, marginal"),
    (["--floors", "1.5"], "--floors must be a finite number >= 0 and <= 1"),
    (["--outside-option", "-1"], "--outside-option must be a finite number >= 0"),
    (["--rules", "softmax:temperature=0.1..10x2.5"], "N a whole number of points"),
    (["--rules", "topk:k=1..4x3"], "parameter k is an integer"),
    (["--rules", "softmax:temperature=0.1..10x3", "softmax:temperature=1"],
     "--rules gives the same candidate twice: softmax / engagement"),
    (["--rules", "softmax:temperature=0.1..1x²"], "N a whole number of points"),
])
def test_bad_design_settings_are_usage_errors(flags, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["design", "--out", str(tmp_path / "x"), *flags])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_information_sweep_resumes_and_plots(tmp_path, capsys):
    out = tmp_path / "info"
    args = ["information", "--dataset", "synth-uniform", "--dims", "3", "--producers", "4",
            "--rule", "softmax:temperature=0.1", "--epsilons", "0.1", "10", "inf",
            "--runs", "1-2", "--no-progress", "--out", str(out)]
    assert main(args) == 0
    assert "means over runs" in capsys.readouterr().out
    frame = pd.read_csv(out / "runs.csv")
    assert len(frame) == 2 * (3 + 3)
    assert set(frame["setting"]) == {"full", "exact", "none", "private"}
    first = frame.drop(columns=[]).copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no row may look damaged (epsilon = inf included)
        assert main(args) == 0
    assert "(0 computed now)" in capsys.readouterr().out  # nothing to do: every row is there
    pd.testing.assert_frame_equal(first, pd.read_csv(out / "runs.csv"))
    assert main(["plot", str(out)]) == 0
    assert {p.name.split("_")[-1] for p in (out / "figures").iterdir()} == {"welfare.png",
                                                                             "regret.png"}
    with pytest.raises(SystemExit):
        main([*args[:-2], "--epsilons", "0", "--out", str(tmp_path / "bad")])
    assert "--epsilons must be a number > 0" in capsys.readouterr().err


def test_design_api_and_cli_agree(design_run):
    users = recgym.datasets.load_users("synth-skewed", 4, 17)
    frame = design.evaluate(users, 5, [design.Candidate("softmax:temperature=0.05",
                                                        "marginal")],
                            ["user_welfare"], [1, 2, 3])
    cli = pd.read_csv(design_run[0] / "runs.csv")
    part = cli[(cli["payoff"] == "marginal") & np.isclose(cli["temperature"], 0.05)]
    np.testing.assert_allclose(part["user_welfare"], frame["user_welfare"])


@pytest.mark.parametrize("script", ["platform_design.py", "creators_and_information.py"])
def test_platform_examples_run_with_a_tiny_budget(script):
    done = subprocess.run([sys.executable, str(ROOT / "examples" / script), "--quick"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    if script == "platform_design.py":
        assert "upper bound on user welfare" in done.stdout and "marginal" in done.stdout
    else:
        assert "producers retained" in done.stdout and "private" in done.stdout


def test_each_real_user_matrix_is_fitted_once_before_the_tasks():
    """The sweeps' warm-up fits every real dataset's (seed, dim) once, in the workers,
    and leaves synthetic users (nothing to fit) to the tasks."""
    from recgym.experiments import tasks

    class Recording:
        runs_here = False

        def __init__(self) -> None:
            self.calls: list = []

        def map_unordered(self, function, arguments):
            self.calls.append((function, list(arguments)))
            return iter(enumerate([None] * len(arguments)))

    backend = Recording()
    keys = [("movielens-100k", 5, 0, "/d"), ("synth-uniform", 5, 0, None),
            ("movielens-100k", 5, 0, "/d"), ("movielens-100k", 10, 0, "/d")]
    tasks._fit_users(backend, keys, progress=False)
    assert backend.calls == [(tasks.fit_users, [(("movielens-100k", 5, 0, "/d"), False),
                                                (("movielens-100k", 10, 0, "/d"), False)])]
