"""One run-folder writer and loader (``agents.monitoring.RunFolder``, ``load_run``):
``recgym train`` and ``recgym train-platform`` write through it and read back the same
way (RLlib's folders: ``tests/test_rllib.py``)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

import recgym.cli
from agents.monitoring import RunFolder, load_run
from agents.rl import TrainConfig, train

TINY = dict(n_producers=3, dim=3, n_users=100, horizon=4, n_envs=2, steps=480,
            eval_freq=240, seed=0, progress=False)


@dataclass(frozen=True)
class _Settings:
    steps: int = 3
    names: tuple[str, ...] = ("a", "b")


def test_run_folder_writes_config_first_and_evaluation_last(tmp_path):
    folder = RunFolder(tmp_path / "run", _Settings(), "train")
    assert json.loads((tmp_path / "run" / "config.json").read_text()) == {
        "steps": 3, "names": ["a", "b"], "command": "train"}
    run = load_run(folder.path)
    assert not run.finished and run.history == [] and run.backend == "sb3"
    logger = folder.logger()
    logger.record("eval/nash_conv", 0.5)
    logger.dump(7)
    logger.close()
    folder.write_evaluation({"nash_conv": 0.25, "history": [{"agent_steps": 7}]})
    run = load_run(tmp_path / "run")
    assert run.finished and run.evaluation["nash_conv"] == 0.25
    assert run.history == [{"agent_steps": 7}]
    assert run.scalars()["eval/nash_conv"] == [(7, 0.5)]
    with pytest.raises(FileExistsError):
        RunFolder(tmp_path / "run", _Settings(), "train", exist_ok=False)
    with pytest.raises(ValueError, match="command must be one of train, train-platform"):
        RunFolder(tmp_path / "other", _Settings(), "reproduce")
    with pytest.raises(FileNotFoundError, match="is not a run folder: it has no config.json"):
        load_run(tmp_path)


def test_train_and_train_platform_folders_read_by_one_loader(tmp_path):
    result = train(TrainConfig(**TINY, logdir=str(tmp_path / "train")))
    run = load_run(result.run_dir)
    assert run.command == "train" and run.backend == "sb3" and run.finished
    # config.json holds every setting (tuples as JSON lists)
    assert run.config == {**json.loads(json.dumps(result.config.to_dict())), "command": "train"}
    assert [h["agent_steps"] for h in run.history] == [s for s, _ in result.history] \
        == [0, 240, 480]
    assert run.evaluation["nash_conv"] == result.evaluation.nash_conv
    assert run.evaluation["eval_seconds"] == result.eval_seconds > 0
    assert [v for _, v in run.scalars()["eval/nash_conv"]] == pytest.approx(
        [ev.nash_conv for _, ev in result.history])
    assert [s for s, _ in run.scalars()["eval/nash_conv"]] == [0, 240, 480]
    assert (run.path / "model.zip").is_file()

    assert recgym.cli.main([
        "train-platform", "--steps", "16", "--logdir", str(tmp_path / "platform"),
        "--n-users", "30", "--dim", "2", "--n-producers", "2", "--horizon", "4",
        "--n-envs", "1", "--grid", "2", "--eval-episodes", "1", "--no-progress"]) == 0
    (platform_dir,) = (tmp_path / "platform").iterdir()
    platform = load_run(platform_dir)
    assert platform.command == "train-platform" and platform.finished
    assert platform.config["steps"] == 16 and platform.config["controls"] == [
        "temperature", "floor"]
    assert [row["policy"] for row in platform.evaluation] == ["trained", "best static",
                                                              "myopic"]
    assert platform.history == []
    assert "platform/scf" in platform.scalars()
    assert (platform.path / "model.zip").is_file()


def test_independent_sac_folder_holds_each_models_events(tmp_path):
    result = train(TrainConfig(**{**TINY, "steps": 120, "eval_freq": 60}, algo="sac",
                               mode="independent", logdir=str(tmp_path)))
    run = load_run(result.run_dir)
    assert run.finished and len(run.history) == 3
    assert sorted(p.name for p in run.path.glob("producer_*.zip")) == [
        "producer_0.zip", "producer_1.zip", "producer_2.zip"]
    assert "eval/nash_conv" in run.scalars()  # the population's events in the folder
    assert run.scalars("producer_0") is not None  # model 0's own SB3 events
    assert any((run.path / "producer_0").glob("events.out.tfevents.*"))
