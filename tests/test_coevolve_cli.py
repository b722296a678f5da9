"""``recgym coevolve`` end to end on a tiny game, and ``recgym plot`` of its folder."""

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

#: A tiny game: 30 users, d = 3, 3 producers, 3 epochs; users who are served badly leave.
TINY = ["--n-users", "30", "--dim", "3", "--n-producers", "3", "--epochs", "3",
        "--user-dynamics", "exposure:rate=0.2", "--user-outside-option", "0.4",
        "--no-progress"]
RULES = ["softmax:temperature=0.1", "linear", "uniform"]
PNG = b"\x89PNG\r\n\x1a\n"


def _run(out: Path, *extra: str) -> int:
    return main(["coevolve", *TINY, "--rule", *RULES, "--scf", "user_min", *extra,
                 "--out", str(out)])


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("coevolve") / "run"
    assert _run(out) == 0
    return out


def _expected(rule: str) -> pd.DataFrame:
    """The same run through the library (``recgym.coevolve``)."""
    users = load_users("synth-uniform", 3, 17)[:30]
    game = EngagementGame(users, 3, rule)
    history = coevolve(game, user_dynamics="exposure:rate=0.2", user_outside_option=0.4,
                       epochs=3, scf=["user_min"], record="none").history
    return history.assign(rule=rule, learner="oracle")


def test_writes_config_history_and_figure(folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == ["coevolve.png", "config.json",
                                                         "history.csv"]
    config = json.loads((folder / "config.json").read_text())
    assert config["experiment"] == "coevolve" and config["rules"] == RULES
    assert config["epochs"] == 3 and config["user_dynamics"] == "exposure:rate=0.2"
    assert config["start_users"] == 30 and config["data_file"] is None
    assert config["scf_columns"] == ["user_min"]
    assert config["learners"] == ["oracle"] and config["impressions"] == 1
    assert config["elicit"] == 0
    history = pd.read_csv(folder / "history.csv")
    assert list(history.columns) == ["rule", "learner", *HISTORY_COLUMNS, "user_min"]
    assert set(history["learner"]) == {"oracle"}
    assert history["rule"].tolist() == [rule for rule in RULES for _ in range(3)]
    assert history["epoch"].tolist() == [1, 2, 3] * 3
    assert not history.isna().to_numpy().any()
    for rule in RULES:  # every value as the library computes it, exactly
        ours = history[history["rule"] == rule].reset_index(drop=True)
        pd.testing.assert_frame_equal(ours, _expected(rule)[list(history.columns)],
                                      check_dtype=False)
    assert (folder / "coevolve.png").read_bytes().startswith(PNG)


def test_prints_a_table_and_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["coevolve", *TINY, "--rule", "softmax", "linear", "softmax:temperature=2",
                 "--temperature", "0.5",
                 "--every", "2", "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    # --temperature goes to the rules that have one and whose spec sets none.
    assert "rule softmax:temperature=0.5:" in out and "rule linear:" in out
    assert "rule softmax:temperature=2:" in out
    assert "user_w" in out and "retained" in out and "homog" in out
    assert "9 epochs of 3 rule(s)" in out and "3 rule(s) computed now" in out
    assert f"figure: {tmp_path / 'run' / 'coevolve.png'}" in out
    rules = pd.read_csv(tmp_path / "run" / "history.csv")["rule"].unique().tolist()
    assert rules == ["softmax:temperature=0.5", "linear", "softmax:temperature=2"]


def test_a_finished_folder_is_resumed_and_other_settings_are_refused(
        folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    copy = tmp_path / "run"
    copy.mkdir()
    for name in ("config.json", "history.csv"):
        (copy / name).write_bytes((folder / name).read_bytes())
    before = (copy / "history.csv").read_bytes()
    assert _run(copy) == 0
    assert "0 rule(s) computed now, 3 already there" in capsys.readouterr().out
    assert (copy / "history.csv").read_bytes() == before
    assert main(["coevolve", *TINY, "--rule", *RULES, "--seed", "1",
                 "--out", str(copy)]) == 1
    err = capsys.readouterr().err
    assert "other settings" in err and "seed" in err
    assert (copy / "history.csv").read_bytes() == before


def test_an_interrupted_run_keeps_its_epochs_and_resumes(
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
    assert "interrupted" in capsys.readouterr().err
    kept = pd.read_csv(out / "history.csv")
    assert kept["rule"].tolist() == [RULES[0]] * 3 + [RULES[1]] * 2
    monkeypatch.undo()
    assert _run(out) == 0  # the second rule is computed again from its first epoch
    assert "2 rule(s) computed now, 1 already there" in capsys.readouterr().out
    assert (out / "history.csv").read_bytes() == (folder / "history.csv").read_bytes()


def test_plot_draws_a_coevolve_folder_again(folder: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture) -> None:
    copy = tmp_path / "run"
    copy.mkdir()
    for name in ("config.json", "history.csv"):
        (copy / name).write_bytes((folder / name).read_bytes())
    assert main(["plot", str(copy)]) == 0
    assert (copy / "coevolve.png").read_bytes().startswith(PNG)
    assert capsys.readouterr().out.strip() == str(copy / "coevolve.png")
    figures = tmp_path / "figures"
    assert main(["plot", str(copy / "history.csv"), "--fig-dir", str(figures),
                 "--dpi", "40"]) == 0
    assert (figures / "coevolve.png").read_bytes().startswith(PNG)
    with pytest.raises(SystemExit) as exit_info:
        main(["plot", str(copy), "--dim", "3"])
    assert exit_info.value.code == 2 and "--dim" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "flag"), [
    (["--user-patience", "0"], "--user-patience"),
    (["--user-dynamics", "exposure:rate=2"], "--user-dynamics"),
    (["--user-dynamics", "drift"], "--user-dynamics"),
    (["--epochs", "-1"], "--epochs"),
    (["--moves-per-epoch", "0"], "--moves-per-epoch"),
    (["--user-outside-option", "-0.5"], "--user-outside-option"),
    (["--rule", "hardmax"], "--rule"),
    (["--rule", "softmax", "softmax:temperature=1"], "--rule"),
    (["--rule", "linear", "uniform", "--temperature", "0.5"], "--temperature"),
    (["--rule", "topk", "--k", "0"], "--k"),
    (["--scf", "nope"], "--scf"),
    (["--n-users", "0"], "--n-users"),
    (["--every", "0"], "--every"),
    (["--payoff", "clicks"], "--payoff"),
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


def test_help_lists_the_flags(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["coevolve", "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    flags = ["--out", "--dataset", "--data", "--embedding-seed", "--dim", "--n-users",
             "--n-producers", "--rule", "--temperature", "--k", "--floor", "--payoff",
             "--outside-option", "--user-dynamics", "--user-outside-option",
             "--user-patience", "--learner", "--impressions", "--elicit", "--epochs",
             "--moves-per-epoch", "--seed", "--scf", "--every", "--progress"]
    assert [flag for flag in flags if flag not in text] == []
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "coevolve" in capsys.readouterr().out


def test_same_users_and_seed_for_every_rule(folder: Path) -> None:
    """Every rule starts from the same users: the first epoch's homogenization (of the
    starting users) is the same for all."""
    history = pd.read_csv(folder / "history.csv")
    first = history[history["epoch"] == 1]["homogenization"].to_numpy()
    assert np.all(first == first[0])
