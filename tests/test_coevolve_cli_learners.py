"""``recgym coevolve --learner ... --impressions N --elicit Q``: runs per rule and learner
side by side, end to end on a tiny game; ``learning.png``; ``recgym plot``; bad flags."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import recgym.experiments.coevolve_run as coevolve_run
from recgym.cli import main
from recgym.coevolve import HISTORY_COLUMNS, coevolve
from recgym.datasets import load_users
from recgym.game import EngagementGame

#: A tiny game: 30 users, d = 3, 3 producers, 3 epochs, users who drift and leave.
TINY = ["--n-users", "30", "--dim", "3", "--n-producers", "3", "--epochs", "3",
        "--user-dynamics", "exposure:rate=0.2", "--user-outside-option", "0.3",
        "--no-progress"]
RULES = ["softmax:temperature=0.1", "linear"]
LEARNERS = ["greedy", "ucb:alpha=0.5"]
FEEDBACK = ["--impressions", "2", "--elicit", "1"]
PNG = b"\x89PNG\r\n\x1a\n"


def _run(out: Path, *extra: str, learners: list[str] = LEARNERS) -> int:
    return main(["coevolve", *TINY, "--rule", *RULES, "--learner", *learners, *FEEDBACK,
                 "--scf", "user_min", *extra, "--out", str(out)])


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("coevolve_learners") / "run"
    assert _run(out) == 0
    return out


def _expected(rule: str, learner: str) -> pd.DataFrame:
    """The same run through the library (``recgym.coevolve``)."""
    users = load_users("synth-uniform", 3, 17)[:30]
    game = EngagementGame(users, 3, rule)
    history = coevolve(game, user_dynamics="exposure:rate=0.2", user_outside_option=0.3,
                       epochs=3, scf=["user_min"], record="none", learner=learner,
                       impressions=2, elicit=1).history
    return history.assign(rule=rule, learner=learner)


def test_every_rule_runs_with_every_learner_as_the_library_does(folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == ["coevolve.png", "config.json",
                                                         "history.csv", "learning.png"]
    config = json.loads((folder / "config.json").read_text())
    assert config["rules"] == RULES and config["learners"] == LEARNERS
    assert config["learner"] == LEARNERS
    assert config["impressions"] == 2 and config["elicit"] == 1
    history = pd.read_csv(folder / "history.csv")
    assert list(history.columns) == ["rule", "learner", *HISTORY_COLUMNS, "user_min"]
    pairs = [(rule, learner) for rule in RULES for learner in LEARNERS]
    assert list(zip(history["rule"], history["learner"], strict=True)) == \
        [pair for pair in pairs for _ in range(3)]
    assert history["epoch"].tolist() == [1, 2, 3] * len(pairs)
    assert not history.isna().to_numpy().any()
    for rule, learner in pairs:  # every value as the library computes it, exactly
        ours = history[(history["rule"] == rule) & (history["learner"] == learner)]
        pd.testing.assert_frame_equal(ours.reset_index(drop=True),
                                      _expected(rule, learner)[list(history.columns)],
                                      check_dtype=False)
    assert (history["estimation_error"] > 0).all()  # the platform does not know its users
    # Same users for every run: the first epoch's homogenization is the same for all.
    first = history[history["epoch"] == 1]["homogenization"].to_numpy()
    assert np.all(first == first[0])
    for name in ("coevolve.png", "learning.png"):
        assert (folder / name).read_bytes().startswith(PNG)


def test_the_table_shows_what_learning_costs(tmp_path: Path,
                                              capsys: pytest.CaptureFixture) -> None:
    assert main(["coevolve", *TINY, "--rule", "linear", "--learner", "oracle", "greedy",
                 "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "rule linear, learner oracle:" in out and "rule linear, learner greedy:" in out
    assert "est_err" in out and "clicks" in out and "cum_regret" in out
    assert "6 epochs of 2 run(s) (1 rule(s) x 2 learner(s))" in out
    assert "2 run(s) computed now, 0 already there" in out
    assert "last epoch per rule and learner:" in out
    assert f"figure: {tmp_path / 'run' / 'learning.png'}" in out
    # The oracle alone keeps the table of recgym without learning, and draws no
    # learning.png.
    assert main(["coevolve", *TINY, "--rule", "linear", "--out", str(tmp_path / "oracle")]) == 0
    out = capsys.readouterr().out
    assert "rule linear:" in out and "est_err" not in out and "cum_regret" not in out
    assert not (tmp_path / "oracle" / "learning.png").exists()


def test_resuming_with_other_learners_or_feedback_is_refused(
        folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    copy = tmp_path / "run"
    copy.mkdir()
    for name in ("config.json", "history.csv"):
        (copy / name).write_bytes((folder / name).read_bytes())
    before = (copy / "history.csv").read_bytes()
    assert _run(copy) == 0
    assert "0 run(s) computed now, 4 already there" in capsys.readouterr().out
    assert (copy / "history.csv").read_bytes() == before
    for extra, learners, setting in (([], ["greedy"], "learner"),
                                     (["--impressions", "3"], LEARNERS, "impressions"),
                                     (["--elicit", "0"], LEARNERS, "elicit")):
        assert _run(copy, *extra, learners=learners) == 1
        err = capsys.readouterr().err
        assert "other settings" in err and setting in err
        assert (copy / "history.csv").read_bytes() == before


def test_a_folder_from_before_learners_is_refused_and_still_drawn(
        folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A config.json without the learners' settings (and a history.csv without their
    columns) is other settings, as for every sweep; ``recgym plot`` draws it as the
    oracle."""
    old = tmp_path / "old"
    old.mkdir()
    config = json.loads((folder / "config.json").read_text())
    for key in ("learner", "learners", "impressions", "elicit"):
        del config[key]
    (old / "config.json").write_text(json.dumps(config))
    history = pd.read_csv(folder / "history.csv")
    history = history[history["learner"] == "greedy"].drop(
        columns=["learner", "clicks", "estimation_error", "regret_vs_oracle",
                 "cumulative_regret"])
    history.to_csv(old / "history.csv", index=False)
    before = (old / "history.csv").read_bytes()
    assert main(["coevolve", *TINY, "--rule", *RULES, "--scf", "user_min",
                 "--out", str(old)]) == 1
    err = capsys.readouterr().err
    assert "other settings" in err and "learners" in err
    assert (old / "history.csv").read_bytes() == before
    assert main(["plot", str(old)]) == 0
    assert capsys.readouterr().out.split() == [str(old / "coevolve.png")]
    assert (old / "coevolve.png").read_bytes().startswith(PNG)


def test_an_interrupted_run_resumes_by_rule_and_learner(
        folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    calls = []

    def interrupted(*args: object, progress: object, **kwargs: object) -> object:
        def stop_at_fifth(row: dict) -> None:
            progress(row)
            calls.append(row["epoch"])
            if len(calls) == 5:
                raise KeyboardInterrupt
        return coevolve(*args, progress=stop_at_fifth, **kwargs)

    monkeypatch.setattr(coevolve_run, "coevolve", interrupted)
    out = tmp_path / "run"
    assert _run(out) == 130
    capsys.readouterr()
    kept = pd.read_csv(out / "history.csv")
    assert kept["learner"].tolist() == [LEARNERS[0]] * 3 + [LEARNERS[1]] * 2
    monkeypatch.undo()
    assert _run(out) == 0  # the second run is computed again from its first epoch
    assert "3 run(s) computed now, 1 already there" in capsys.readouterr().out
    assert (out / "history.csv").read_bytes() == (folder / "history.csv").read_bytes()


def test_plot_draws_both_figures_again(folder: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture) -> None:
    copy = tmp_path / "run"
    copy.mkdir()
    for name in ("config.json", "history.csv"):
        (copy / name).write_bytes((folder / name).read_bytes())
    assert main(["plot", str(copy)]) == 0
    assert capsys.readouterr().out.split() == [str(copy / "coevolve.png"),
                                               str(copy / "learning.png")]
    for name in ("coevolve.png", "learning.png"):
        assert (copy / name).read_bytes().startswith(PNG)
    figures = tmp_path / "figures"
    assert main(["plot", str(copy / "history.csv"), "--fig-dir", str(figures),
                 "--dpi", "40"]) == 0
    assert sorted(p.name for p in figures.iterdir()) == ["coevolve.png", "learning.png"]
    (copy / "config.json").unlink()  # a history.csv alone: its learners are in its rows
    assert main(["plot", str(copy), "--fig-dir", str(tmp_path / "bare")]) == 0
    assert sorted(p.name for p in (tmp_path / "bare").iterdir()) == ["coevolve.png",
                                                                      "learning.png"]


@pytest.mark.parametrize(("args", "flag"), [
    (["--learner", "ucb:alpha=-1"], "--learner"),
    (["--learner", "nope"], "--learner"),
    (["--learner", "epsilon:eps=2"], "--learner"),
    (["--learner", "greedy", "greedy:lam=1"], "--learner"),
    (["--impressions", "0"], "--impressions"),
    (["--impressions", "1.5"], "--impressions"),
    (["--elicit", "-1"], "--elicit"),
    (["--learner", "greedy", "--payoff", "marginal"], "--learner"),
    (["--learner", "oracle", "thompson", "--payoff", "marginal"], "--payoff"),
])
def test_bad_flags_are_one_line_and_write_nothing(args: list[str], flag: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as exit_info:
        main(["coevolve", *TINY, *args, "--out", str(out)])
    assert exit_info.value.code == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and flag in errors[0], errors
    assert not out.exists()


def test_the_oracle_takes_the_marginal_payoff(tmp_path: Path) -> None:
    assert main(["coevolve", *TINY, "--rule", "linear", "--learner", "oracle", "--payoff",
                 "marginal", "--out", str(tmp_path / "run")]) == 0


def test_users_above_norm_one_are_refused_before_anything_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    """The data sets' users are L1-normalised; users of one's own with ||c_k||_1 > 1
    cannot click with probability r_ki under a learner."""
    monkeypatch.setattr(coevolve_run, "load_users", lambda *a, **k: 2 * load_users(
        "synth-uniform", 3, 17)[:30])
    out = tmp_path / "never"
    assert main(["coevolve", *TINY, "--learner", "greedy", "--out", str(out)]) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "--learner greedy" in errors[0] and "<= 1" in errors[0]
    assert not out.exists()
