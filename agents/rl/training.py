"""One training run from a ``TrainConfig``: build, train, evaluate, save (``recgym train``).

Both backends write the run directory ``<logdir>/<run name>`` through
``agents.monitoring.RunFolder`` (its layout is documented there, once, and
``agents.monitoring.load_run`` reads it back): ``config.json`` first, the TensorBoard
events of ``agents.rl.callbacks.Evaluator`` (one evaluation routine for both
backends) with the library's own logs, the model(s) and ``evaluation.json`` last
(``evaluation_record``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import CallbackList

from agents.monitoring import RunFolder, tensorboard_logger
from agents.progress import ProgressCallback
from agents.rl.callbacks import EquilibriumEvalCallback, Evaluator
from agents.rl.config import TrainConfig
from agents.rl.evaluation import EvaluationResult
from agents.rl.independent import IndependentLearners
from agents.rl.per_producer import independent_model
from agents.rl.shared import shared_model
from recgym._validation import check_folder
from recgym.environment import EngagementEnv, parallel_env
from recgym.solvers import summarize_equilibrium

__all__ = ["TrainResult", "build", "check_start", "evaluation_record", "format_summary",
           "train"]


@dataclass(frozen=True)
class TrainResult:
    """What one training run produced.

    Attributes
    ----------
    config : TrainConfig
    run_dir : Path
    learner : BaseAlgorithm, IndependentLearners or RLlib algorithm
        The trained shared model, population or (stopped) RLlib algorithm.
    evaluation : EvaluationResult
        At the end of training.
    history : list of (int, EvaluationResult)
        Every evaluation with its agent-step count (the first at 0 steps).
    seconds : float
        Wall-clock time of training (evaluations included).
    agent_steps : int
        Agent-steps actually taken (PPO rounds up to whole rollouts).
    eval_seconds, eval_cpu_seconds : float
        Wall-clock and CPU time (of this process) spent in the evaluations.
    """

    config: TrainConfig
    run_dir: Path
    learner: Any
    evaluation: EvaluationResult
    history: list[tuple[int, EvaluationResult]]
    seconds: float
    agent_steps: int
    eval_seconds: float = 0.0
    eval_cpu_seconds: float = 0.0


def make_envs(config: TrainConfig) -> tuple[list[EngagementEnv], EngagementEnv]:
    """``config.n_envs`` training copies of the game and one evaluation copy."""
    kwargs = config.env_kwargs()
    return [parallel_env(**kwargs) for _ in range(config.n_envs)], parallel_env(**kwargs)


def build(config: TrainConfig, run_dir: Path | RunFolder | None
          ) -> tuple[BaseAlgorithm | IndependentLearners, EquilibriumEvalCallback]:
    """The SB3 learner (shared model or population) and its evaluation callback; with a
    run folder (or its path) the learner logs there."""
    envs, eval_env = make_envs(config)
    folder = run_dir.path if isinstance(run_dir, RunFolder) else run_dir
    common: dict[str, Any] = {"algo": config.algo, "seed": config.seed,
                              "device": config.device, "torch_threads": config.torch_threads,
                              **config.algo_kwargs()}
    if config.mode == "independent" and config.algo != "ppo":
        # One SB3 model per producer: the population's events in the folder, model i's
        # in producer_i/ (agents.monitoring.tensorboard_logger, as RunFolder.logger).
        learner: BaseAlgorithm | IndependentLearners = IndependentLearners(
            envs, logdir=folder, **common)
    else:
        learner = (shared_model if config.mode == "shared" else independent_model)(envs,
                                                                                 **common)
        if isinstance(run_dir, RunFolder):
            learner.set_logger(run_dir.logger())
        elif run_dir is not None:
            learner.set_logger(tensorboard_logger(Path(run_dir)))
    # the reference producers: the paper's dynamics, or --producer-behavior's
    reference = summarize_equilibrium(eval_env.game, config.equilibrium_seed,
                                      behavior=config.producer_behavior)
    callback = EquilibriumEvalCallback(eval_env, config.eval_freq, equilibrium=reference,
                                       equilibrium_seed=config.equilibrium_seed,
                                       eval_seed=config.eval_seed)
    return learner, callback


def train(config: TrainConfig, run_dir: str | Path | None = None) -> TrainResult:
    """Train, evaluate and save one run (with ``config.backend``).

    Sets torch's number of CPU threads for the process to ``config.torch_threads``.

    Parameters
    ----------
    config : TrainConfig
    run_dir : str or Path, optional
        Default: ``config.logdir / config.run_name()``.

    Returns
    -------
    TrainResult
    """
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
    check_start(config, run_dir)
    torch.set_num_threads(config.torch_threads)
    run_dir = Path(run_dir) if run_dir is not None else Path(config.logdir) / config.run_name()
    folder = RunFolder(run_dir, config, "train")
    start = time.perf_counter()
    if config.backend == "rllib":
        from agents.rl.rllib import train_rllib

        learner, evaluator, agent_steps = train_rllib(config, folder)
    else:
        learner, evaluator, agent_steps = _train_sb3(config, folder)
    history = list(evaluator.history)
    result = TrainResult(config, run_dir, learner, history[-1][1], history,
                         time.perf_counter() - start, agent_steps, evaluator.seconds,
                         evaluator.cpu_seconds)
    folder.write_evaluation(evaluation_record(result))
    return result


def check_start(config: TrainConfig, run_dir: str | Path | None = None) -> None:
    """Check, before anything is written, that the run can start: the torch device
    exists here, the run directory's parent is not a file, and ``config.backend`` can
    start (RLlib installed, Ray address reachable).

    Raises
    ------
    ValueError or ImportError
        Naming the option (``--device``, ``--logdir``, ``--backend``) and the fix.
    """
    try:
        device = torch.device(config.device)
    except RuntimeError:
        raise ValueError(f"--device must be a torch device such as cpu, cuda or cuda:0; "
                         f"got {config.device!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {config.device}: no CUDA device is available here "
                         f"(torch.cuda.is_available() is False); use --device cpu")
    if run_dir is None:
        check_folder("--logdir", config.logdir)
    else:
        check_folder("run_dir", run_dir)
    if config.backend == "rllib":
        from agents.rl.rllib import check_rllib  # Ray only when asked for

        check_rllib(config)


def _train_sb3(config: TrainConfig, folder: RunFolder
               ) -> tuple[BaseAlgorithm | IndependentLearners, Evaluator, int]:
    """Train with Stable-Baselines3 and save the model(s) in the run folder."""
    learner, callback = build(config, folder)
    progress = [ProgressCallback()] if config.progress else []
    learner.learn(config.steps, callback=CallbackList([*progress, callback]))
    if isinstance(learner, IndependentLearners):
        learner.save(folder.path)
        learner.close()
    else:
        learner.save(folder.path / "model.zip")
        learner.logger.close()
        learner.get_env().close()
    assert callback.evaluator is not None  # set when training started
    return learner, callback.evaluator, int(learner.num_timesteps)


def evaluation_record(result: TrainResult) -> dict[str, Any]:
    """What ``evaluation.json`` holds (``agents.monitoring``): the final evaluation's
    figures, ``agent_steps``, ``seconds``, ``eval_seconds`` and the ``history``."""
    return {**result.evaluation.to_dict(), "agent_steps": result.agent_steps,
            "seconds": result.seconds, "eval_seconds": result.eval_seconds,
            "history": [{"agent_steps": steps, "nash_conv": ev.nash_conv,
                         "nash_conv_relative": ev.nash_conv_relative,
                         "tv_to_equilibrium": ev.tv_to_equilibrium,
                         "producer_utility_mean": ev.producer_utility_mean,
                         "user_welfare": ev.user_welfare} for steps, ev in result.history]}


def format_summary(result: TrainResult) -> str:
    """The text the CLI prints at the end of a run."""
    config = result.config
    first = result.history[0][1]
    learner = f"{config.algo.upper()} {config.mode}, {config.action_type} actions" + (
        " (RLlib)" if config.backend == "rllib" else "")
    lines = [
        f"{learner}: {result.agent_steps} agent-steps in {result.seconds:.1f} s "
        f"({result.agent_steps / result.seconds:.0f} agent-steps/s, evaluations included)",
        f"NashConv relative to producer utility: {first.nash_conv_relative:.2%} at the start, "
        f"{result.evaluation.nash_conv_relative:.2%} at the end",
        "",
        result.evaluation.summary(),
        "",
        f"run directory: {result.run_dir}",
        f"TensorBoard:   tensorboard --logdir {result.run_dir}",
    ]
    return "\n".join(lines)
