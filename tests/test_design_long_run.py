"""Design for the long run (docs/ecosystem.md E3 with E7): candidates simulated by the
epoch engine, each SCF averaged over epochs (recgym.design, ``recgym design --epochs``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import recgym
from recgym import design, welfare
from recgym.cli import main
from recgym.coevolve import coevolve
from recgym.experiments.design_sweep import DesignConfig
from recgym.solvers import ExactSolver, best_response_dynamics

SCFS = ["user_welfare", "producer_min"]
CANDIDATES = ["softmax:temperature=0.1", "linear:floor=0.2"]
#: Today's columns of ``evaluate`` (the long-run mode off).
TODAY = ["rule", "temperature", "k", "floor", "payoff", "run", "converged", "iterations",
         "counts", "producers_retained", "exited_outside_option", *SCFS, "nash_conv",
         "nash_conv_certified"]
CLI = ["design", "--dataset", "synth-skewed", "--dims", "3", "--producers", "3", "--rules",
       "softmax:temperature=0.1..1x2", "linear", "--scf", "user_welfare", "--scf",
       "producer_min", "--runs", "1-2", "--no-progress"]
LONG = ["--epochs", "3", "--user-dynamics", "exposure:rate=0.3"]


@pytest.fixture(scope="module")
def users() -> np.ndarray:
    return recgym.users.synthetic_skewed(80, 3, seed=5)


def _game(users: np.ndarray, spec: str) -> recgym.EngagementGame:
    return recgym.EngagementGame(users, 3, spec)


# ---------------------------------------------------------------------- today's mode
def test_the_default_mode_is_todays(users):
    frame = design.evaluate(users, 3, CANDIDATES, SCFS, [1, 2])
    assert list(frame.columns) == TODAY
    same = design.evaluate(users, 3, CANDIDATES, SCFS, [1, 2], user_dynamics="static",
                           user_outside_option=0.0, user_patience=1, epochs=0)
    pd.testing.assert_frame_equal(frame, same)
    for (_, row), (spec, run) in zip(frame.iterrows(), [(c, r) for c in CANDIDATES
                                                       for r in (1, 2)], strict=True):
        game = _game(users, spec)
        result = best_response_dynamics(game, np.random.RandomState(run))
        u = game.utilities(result.profile, result.active)
        assert row["counts"] == " ".join(map(str, result.counts))
        assert row["iterations"] == result.iterations
        assert row["user_welfare"] == welfare.user_welfare(u)
        assert row["producer_min"] == welfare.producer_min(u)
    assert design.long_run() is None


def test_todays_config_records_no_long_run_settings(tmp_path):
    settings = DesignConfig(out=str(tmp_path / "d")).to_dict()
    assert not {"user_dynamics", "user_outside_option", "user_patience", "epochs",
                "moves_per_epoch"} & set(settings)
    schema = DesignConfig(out=str(tmp_path / "d")).schema()
    assert not any(c.endswith(design.LAST) for c in schema) and "retention" not in schema


# ---------------------------------------------------------------------- the long run
def test_long_run_columns_are_the_epoch_engines_history(users):
    options = dict(user_dynamics="exposure:rate=0.3", user_outside_option=0.5,
                   user_patience=2, epochs=6, moves_per_epoch=2)
    frame = design.evaluate(users, 3, CANDIDATES, SCFS, [1, 2], **options)
    assert list(frame.columns) == [*TODAY[:-2], *(s + design.LAST for s in SCFS),
                                   "retention", "homogenization", *TODAY[-2:]]
    for (_, row), (spec, run) in zip(frame.iterrows(), [(c, r) for c in CANDIDATES
                                                       for r in (1, 2)], strict=True):
        trajectory = coevolve(_game(users, spec), seed=run, scf=SCFS, **options)
        history = trajectory.history
        for scf in SCFS:
            assert row[scf] == pytest.approx(history[scf].mean(), rel=1e-12, abs=1e-15)
            assert row[scf + design.LAST] == history[scf].iloc[-1]
        assert row["retention"] == history["active_users"].iloc[-1]
        assert row["homogenization"] == history["homogenization"].iloc[-1]
        assert row["converged"] == bool(history["converged"].iloc[-1])
        assert row["iterations"] == history["iterations"].sum()
        active = trajectory.active_producers[-1]
        directions = _game(users, spec).vertex_directions(trajectory.profiles[-1])
        counts = np.bincount(directions[active], minlength=3)
        assert row["counts"] == " ".join(map(str, counts))
        assert row["producers_retained"] == active.sum()
    assert (frame["retention"] < 1).any()  # some users left: departures are in the numbers


def test_nash_conv_is_taken_in_the_last_epochs_game(users):
    options = dict(user_dynamics="exposure:rate=0.5", epochs=4)
    row = design.evaluate(users, 3, CANDIDATES[:1], SCFS, [1], **options).iloc[0]
    trajectory = coevolve(_game(users, CANDIDATES[0]), seed=1, scf=SCFS, record="all",
                          **options)
    last = recgym.EngagementGame(trajectory.users_at(3), 3, CANDIDATES[0])
    nc = ExactSolver(last).nash_conv(trajectory.profiles[-1], "strategy_set")
    assert row["nash_conv"] == pytest.approx(nc.value / last.total_weight)


def test_static_users_end_at_todays_equilibrium(users):
    today = design.evaluate(users, 3, CANDIDATES, SCFS, [1, 2, 3])
    slow = design.evaluate(users, 3, CANDIDATES, SCFS, [1, 2, 3], epochs=60,
                           moves_per_epoch=1)
    assert (today["converged"] & slow["converged"]).all()
    assert slow["iterations"].tolist() == today["iterations"].tolist()
    assert slow["counts"].tolist() == today["counts"].tolist()
    for scf in SCFS:
        assert slow[scf + design.LAST].tolist() == today[scf].tolist()
    # Producers settle in every epoch by default (moves_per_epoch = max_iter): every
    # epoch is today's equilibrium, and so is the average.
    settled = design.evaluate(users, 3, CANDIDATES, SCFS, [1, 2, 3], epochs=4)
    for scf in SCFS:
        np.testing.assert_allclose(settled[scf], today[scf], rtol=1e-12)
    assert (settled["retention"] == 1.0).all()


def test_long_run_settings_and_their_defaults():
    assert design.long_run(epochs=3, max_iter=40) == design.LongRun(
        recgym.user_dynamics.make_user_dynamics("static"), 0.0, 1, 3, 40)
    drifting = design.long_run("exposure:rate=0.3")
    assert (drifting.epochs, drifting.moves_per_epoch) == (design.DEFAULT_EPOCHS, 500)
    assert drifting.settings()["user_dynamics"] == "exposure:rate=0.3"
    assert design.long_run(user_outside_option=0.1).epochs == design.DEFAULT_EPOCHS


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"user_dynamics": "bogus"}, "user_dynamics: user dynamics must be one of"),
    ({"user_dynamics": "exposure:rate=2"}, "user_dynamics: user dynamics 'exposure'"),
    ({"user_outside_option": -1.0}, "user_outside_option must be a finite number >= 0"),
    ({"user_outside_option": math.nan}, "user_outside_option must be a finite number"),
    ({"user_patience": 0}, "user_patience must be an integer >= 1"),
    ({"epochs": -1}, "epochs must be an integer >= 0"),
    ({"epochs": 0, "user_dynamics": "exposure"}, "epochs is 0"),
    ({"moves_per_epoch": 3}, "moves_per_epoch applies to the long run only"),
    ({"epochs": 2, "moves_per_epoch": 0}, "moves_per_epoch must be an integer >= 1"),
])
def test_bad_long_run_arguments_name_the_parameter(users, kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        design.evaluate(users, 3, CANDIDATES[:1], SCFS, [1], **kwargs)


def test_long_run_extremes_are_over_runs_not_final_counts():
    frame = pd.DataFrame({
        "rule": "linear", "temperature": math.nan, "k": math.nan, "floor": 0.0,
        "payoff": "engagement", "run": [1, 2, 3], "converged": [True, True, False],
        "iterations": 5, "counts": ["1 2", "1 2", "3 0"], "user_welfare": [0.4, 0.6, 0.1],
        "retention": [1.0, 0.8, 0.5], "homogenization": [0.9, 0.9, 0.9]})
    row = design.summarize(frame, ["user_welfare"]).iloc[0]
    assert (row["equilibria"], row["converged_runs"], row["not_converged"]) == (1, 2, 1)
    assert (row["user_welfare_worst"], row["user_welfare_best"]) == (0.4, 0.6)
    today = design.summarize(frame.drop(columns=["retention", "homogenization"]),
                             ["user_welfare"]).iloc[0]
    assert today["user_welfare_worst"] == today["user_welfare_best"] == 0.4


# ---------------------------------------------------------------------- the command line
@pytest.fixture(scope="module")
def long_run_folder(tmp_path_factory) -> tuple[Path, str]:
    """One long-run sweep from the command line: its folder and printed summary."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("long") / "out"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main([*CLI, *LONG, "--out", str(out)]) == 0
    return out, printed.getvalue()


def test_the_command_line_writes_the_long_run_columns(long_run_folder, capsys):
    out, printed = long_run_folder
    frame = pd.read_csv(out / "runs.csv")
    assert len(frame) == 3 * 2
    assert {"user_welfare", "user_welfare@last", "producer_min@last", "retention",
            "homogenization"} <= set(frame.columns)
    assert frame["opt"].isna().all()  # the planner's search is today's game only
    assert "after 3 epochs of exposure:rate=0.3 users" in printed
    assert "retention" in printed and "homogenization" in printed
    assert "price of anarchy: not computed in the long-run mode" in printed
    settings = json.loads((out / "config.json").read_text())
    assert {k: settings[k] for k in ("user_dynamics", "user_outside_option", "user_patience",
                                     "epochs", "moves_per_epoch")} == {
        "user_dynamics": "exposure:rate=0.3", "user_outside_option": 0.0,
        "user_patience": 1, "epochs": 3, "moves_per_epoch": 500}
    # The rows are the API's on the same users.
    users = recgym.datasets.load_users("synth-skewed", 3, 17)
    api = design.evaluate(users, 3, ["linear"], ["user_welfare", "producer_min"], [1, 2],
                          user_dynamics="exposure:rate=0.3", epochs=3)
    cli = frame[frame["rule"] == "linear"].reset_index(drop=True)
    np.testing.assert_allclose(cli["user_welfare"], api["user_welfare"], rtol=1e-12)
    np.testing.assert_allclose(cli["retention"], api["retention"], rtol=1e-12)
    # Figures of a long-run folder.
    capsys.readouterr()
    assert main(["plot", str(out), "--fig-dir", str(out.parent / "figures")]) == 0
    names = {p.name for p in (out.parent / "figures").iterdir()}
    for name in ("user_welfare_vs_temperature", "user_welfare_last_vs_temperature",
                 "retention_vs_temperature", "homogenization_vs_temperature", "pareto"):
        assert any(n.endswith(f"{name}.png") for n in names), (name, names)


def test_a_long_run_folder_resumes_only_with_the_same_users(long_run_folder, capsys):
    out, _ = long_run_folder
    capsys.readouterr()
    same = ["--epochs", "3", "--user-dynamics", "exposure:rate=0.30"]  # the same model
    assert main([*CLI, *same, "--out", str(out)]) == 0
    assert "(0 computed now)" in capsys.readouterr().out
    assert main([*CLI, "--epochs", "3", "--user-dynamics", "exposure:rate=0.2",
                 "--out", str(out)]) == 1
    assert "other settings (different: user_dynamics)" in capsys.readouterr().err
    assert main([*CLI, "--out", str(out)]) == 1  # today's mode in a long-run folder
    assert "different: epochs, moves_per_epoch, user_dynamics" in capsys.readouterr().err


def test_a_folder_of_todays_mode_records_and_resumes_as_before(tmp_path, capsys):
    out = tmp_path / "today"
    args = [*CLI, "--no-price-of-anarchy", "--out", str(out)]
    assert main(args) == 0
    settings = json.loads((out / "config.json").read_text())
    assert "user_dynamics" not in settings and "epochs" not in settings
    assert "user_welfare@last" not in pd.read_csv(out / "runs.csv").columns
    capsys.readouterr()
    assert main(args) == 0  # a folder without the long-run keys resumes
    assert "(0 computed now)" in capsys.readouterr().out
    assert main([*args, *LONG]) == 1
    assert "different: epochs" in capsys.readouterr().err


@pytest.mark.parametrize(("flags", "message"), [
    (["--user-dynamics", "bogus"], "--user-dynamics: user dynamics must be one of"),
    (["--user-dynamics", "exposure:rate=2"], "--user-dynamics: user dynamics 'exposure'"),
    (["--user-dynamics", "exposure:rat=2"], "--user-dynamics: user dynamics 'exposure' has "
     "no parameter"),
    (["--user-outside-option", "-1"], "--user-outside-option must be a finite number >= 0"),
    (["--user-outside-option", "nan"], "--user-outside-option must be a finite number"),
    (["--user-patience", "0"], "--user-patience must be an integer >= 1"),
    (["--user-patience", "1.5"], "argument --user-patience: invalid int value"),
    (["--epochs", "-2"], "--epochs must be an integer >= 0"),
    (["--epochs", "0", "--user-dynamics", "exposure"], "--epochs is 0"),
    (["--moves-per-epoch", "5"], "--moves-per-epoch applies to the long run only"),
    (["--epochs", "2", "--moves-per-epoch", "0"], "--moves-per-epoch must be an integer"),
])
def test_bad_long_run_flags_are_usage_errors(flags, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["design", "--out", str(tmp_path / "x"), *flags])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in err
    assert not (tmp_path / "x").exists()
