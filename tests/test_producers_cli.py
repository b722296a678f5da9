"""``--skill``, ``--cost``, ``--cost-exponent`` and ``--producer-behavior`` on the commands
that run the producers' game."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import recgym
from recgym.cli import main
from recgym.solvers import best_response_dynamics


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code)
    out, err = capsys.readouterr()
    return code, out, err


def test_equilibrium_reports_effort_and_matches_the_library(capsys):
    code, out, _ = run(["equilibrium", "--n-producers", "4", "--dim", "3", "--cost", "0.05",
                        "--cost-exponent", "2"], capsys)
    assert code == 0
    users = recgym.datasets.load_users("synth-uniform", 3, 17)
    game = recgym.EngagementGame(users, 4, "softmax", cost=0.05, cost_exponent=2.0)
    effort = best_response_dynamics(game, 0).profile.sum(axis=1)
    line = next(x for x in out.splitlines() if x.startswith("effort"))
    assert np.allclose([float(v) for v in line.split(":")[-1].split()], effort, atol=1e-4)


def test_equilibrium_hedge_prints_its_regret(capsys):
    code, out, _ = run(["equilibrium", "--n-producers", "3", "--dim", "3",
                        "--producer-behavior", "hedge:rate=50", "--max-iter", "50"], capsys)
    assert code == 0 and "largest average regret" in out


@pytest.mark.parametrize("command", [["equilibrium"], ["coevolve", "--out", "X"],
                                     ["design", "--out", "X", "--dataset", "synth-uniform"],
                                     ["information", "--out", "X", "--dataset",
                                      "synth-uniform"]])
@pytest.mark.parametrize("flags,message", [
    (["--skill", "0"], "--skill"), (["--skill", "0.5", "0.5"], "--skill"),
    (["--cost", "-1"], "--cost"), (["--cost-exponent", "0.5"], "--cost-exponent"),
    (["--producer-behavior", "smart"], "--producer-behavior"),
    (["--producer-behavior", "quantal:rationality=-1"], "--producer-behavior"),
])
def test_bad_producer_flags_give_one_line_naming_the_flag(command, flags, message, capsys,
                                                          tmp_path):
    argv = [tmp_path.as_posix() if a == "X" else a for a in command] + flags
    code, out, err = run(argv, capsys)
    assert code == 2 and not out
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"recgym {command[0]}: error: {message}")


def test_coevolve_with_cost_records_it_and_refuses_learners(capsys, tmp_path):
    out = tmp_path / "co"
    code, _, _ = run(["coevolve", "--out", str(out), "--epochs", "2", "--n-users", "300",
                      "--cost", "0.1", "--cost-exponent", "2", "--no-progress"], capsys)
    assert code == 0
    assert json.loads((out / "config.json").read_text())["cost"] == [0.1]
    history = pd.read_csv(out / "history.csv")
    assert len(history) == 2
    code, _, err = run(["coevolve", "--out", str(tmp_path / "x"), "--learner", "ucb",
                        "--skill", "0.5"], capsys)
    assert code == 2 and "--learner ucb" in err


def test_design_with_skill_matches_the_library(capsys, tmp_path):
    out = tmp_path / "d"
    code, _, _ = run(["design", "--out", str(out), "--dataset", "synth-uniform", "--dims", "3",
                      "--producers", "4", "--rules", "linear", "--runs", "1",
                      "--skill", "1", "0.8", "0.6", "0.4", "--no-progress"], capsys)
    assert code == 0
    frame = pd.read_csv(out / "runs.csv")
    users = recgym.datasets.load_users("synth-uniform", 3, 17)
    game = recgym.EngagementGame(users, 4, "linear", skill=[1, 0.8, 0.6, 0.4])
    end = best_response_dynamics(game, np.random.RandomState(1))
    assert np.isclose(frame["user_welfare"].iloc[0], game.utilities(end.profile).user.mean())
    assert json.loads((out / "config.json").read_text())["skill"] == [1, 0.8, 0.6, 0.4]


def test_information_with_cost_matches_the_library(capsys, tmp_path):
    out = tmp_path / "i"
    code, _, _ = run(["information", "--out", str(out), "--dataset", "synth-uniform",
                      "--dims", "3", "--producers", "3", "--runs", "1", "--epsilons", "1",
                      "--cost", "0.05", "--cost-exponent", "2", "--no-progress"], capsys)
    assert code == 0
    frame = pd.read_csv(out / "runs.csv")
    users = recgym.datasets.load_users("synth-uniform", 3, 17)
    game = recgym.EngagementGame(users, 3, "softmax", cost=0.05, cost_exponent=2.0)
    end = best_response_dynamics(game, np.random.RandomState(1))
    full = frame[frame["setting"] == "full"].iloc[0]
    assert np.isclose(full["user_welfare"], game.utilities(end.profile).user.mean())


def test_train_takes_the_producers_options(capsys, tmp_path):
    code, out, _ = run(["train", "--steps", "2000", "--n-producers", "3", "--dim", "3",
                        "--n-users", "100", "--n-envs", "2", "--eval-freq", "1000",
                        "--skill", "1", "0.7", "0.5", "--cost", "0.05", "--cost-exponent",
                        "2", "--logdir", str(tmp_path / "a"), "--no-progress"], capsys)
    assert code == 0
    (folder,) = (tmp_path / "a").iterdir()
    config = json.loads((folder / "config.json").read_text())
    assert config["skill"] == [1, 0.7, 0.5] and config["cost"] == [0.05]
    code, out, _ = run(["train", "--steps", "2000", "--n-producers", "3", "--dim", "3",
                        "--n-users", "100", "--n-envs", "2", "--eval-freq", "1000",
                        "--producer-behavior", "hedge:rate=30", "--logdir",
                        str(tmp_path / "b"), "--no-progress"], capsys)
    assert code == 0
    (folder,) = (tmp_path / "b").iterdir()
    assert json.loads((folder / "config.json").read_text())["producer_behavior"] == \
        "hedge:rate=30"
    code, _, err = run(["train", "--cost", "-1"], capsys)
    assert code == 2 and err.strip().splitlines()[-1].startswith("recgym train: error: --cost")
