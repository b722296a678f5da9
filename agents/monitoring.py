"""TensorBoard monitoring: the run folder every training command writes, and the
paper's best-response dynamics logged one point per move.

Run folders
-----------
``recgym train`` (both backends, ``agents.rl.training``) and ``recgym train-platform``
(``agents.platform_training``) write their runs through ``RunFolder``, and
``load_run`` reads any of them back. A run folder ``<logdir>/<run name>`` holds

=========================  =================================================================
file                       content
=========================  =================================================================
``config.json``            every setting of the run (the command's config dataclass), plus
                           ``"command"``: ``"train"`` or ``"train-platform"``; written first
``events.out.tfevents.*``  TensorBoard events: the ``eval/*`` tags (``agents.rl.callbacks``;
                           the platform's ``platform/*`` and ``eval/*``) with the training
                           library's own (SB3's ``rollout/``, ``train/``, ``time/``; RLlib's
                           ``rllib/*``), the agent-step (platform step) as the step
``evaluation.json``        written last: ``recgym train``: the final evaluation's figures
                           at the top level (``EvaluationResult.to_dict``), ``agent_steps``,
                           ``seconds``, ``eval_seconds`` and ``history``, every evaluation
                           with its ``agent_steps``; ``recgym train-platform``: a list, one
                           record per compared policy
models                     ``model.zip`` (SB3: shared, independent PPO, the platform),
                           ``producer_i.zip`` (independent SAC/TD3) or ``rllib/`` (RLlib's
                           checkpoint)
``producer_i/``            independent SAC/TD3 only: model ``i``'s own SB3 events
=========================  =================================================================

A folder without ``evaluation.json`` is a run that did not finish.

Dynamics
--------
``DynamicsLogger`` is a ``callback(event, directions)`` for
``BestResponse(game).dynamics`` (and ``recgym.solvers.best_response_dynamics``).
After each move or exit it writes, with the event's index (1, 2, ...) as the step:

=====================================  =============================================
tag                                    value
=====================================  =============================================
``dynamics/nash_conv_vertices``        NashConv over vertices (sum over users)
``dynamics/producer_utility_total``    total producer payoff (sum over users)
``dynamics/user_utility_mean``         mean user utility
``dynamics/gain``                      the mover's payoff gain (0 for an exit)
``dynamics/active_producers``          producers still in the game
=====================================  =============================================

NashConv over vertices is the cheap kind (``d`` candidates per producer, no
continuous search); it reaches 0 exactly when the dynamics stop.

Example
-------
>>> import tempfile, recgym
>>> from agents import BestResponse
>>> from agents.monitoring import DynamicsLogger
>>> game = recgym.EngagementGame(recgym.users.synthetic_uniform(50, 3, seed=0), 4)
>>> with DynamicsLogger(game, tempfile.mkdtemp()) as logger:
...     result = BestResponse(game).dynamics(seed=0, callback=logger)
>>> logger.events == len(result.moves) + len(result.exits)
True
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from recgym.game import EngagementGame
from recgym.solvers import Event, ExactSolver, Exit

__all__ = ["COMMANDS", "DynamicsLogger", "Run", "RunFolder", "load_run", "tensorboard_logger"]

#: What ``config.json``'s ``"command"`` names: the command that wrote the folder.
COMMANDS = ("train", "train-platform")
CONFIG_FILE = "config.json"
EVALUATION_FILE = "evaluation.json"


def tensorboard_logger(folder: str | Path | None, verbose: int = 0) -> Any:
    """An SB3 ``Logger`` writing TensorBoard events into ``folder`` itself (with
    ``verbose``, also a table on stdout); without a folder it writes no file and makes no
    folder (SB3 alone would make an empty ``/tmp/SB3-<date>`` folder per ``learn``)."""
    import sys

    from stable_baselines3.common.logger import HumanOutputFormat, Logger, configure

    if folder is None:
        return Logger(folder=None, output_formats=[HumanOutputFormat(sys.stdout)] if verbose
                      else [])
    return configure(str(folder), ["stdout", "tensorboard"] if verbose else ["tensorboard"])


class RunFolder:
    """The run folder of one training run (module docstring): created with its
    ``config.json``; ``logger()`` writes its TensorBoard events; ``write_evaluation``
    finishes it.

    Parameters
    ----------
    path : str or Path
        The folder (created with its parents).
    config : dataclass instance or mapping
        The run's settings, written to ``config.json`` with ``"command"``.
    command : {"train", "train-platform"}
    exist_ok : bool
        False refuses a folder that already exists.
    """

    def __init__(self, path: str | Path, config: Any, command: str,
                 exist_ok: bool = True) -> None:
        if command not in COMMANDS:
            raise ValueError(f"command must be one of {', '.join(COMMANDS)}, got {command!r}")
        self.path = Path(path)
        self.command = command
        self.path.mkdir(parents=True, exist_ok=exist_ok)
        settings = dataclasses.asdict(config) if dataclasses.is_dataclass(config) \
            else dict(config)
        self._write(CONFIG_FILE, {**settings, "command": command})

    def logger(self, subfolder: str | None = None, verbose: int = 0) -> Any:
        """An SB3 logger writing TensorBoard events into the folder (or its ``subfolder``)."""
        return tensorboard_logger(self.path if subfolder is None else self.path / subfolder,
                                  verbose)

    def write_evaluation(self, evaluation: Mapping[str, Any] | list[Any]) -> Path:
        """Write ``evaluation.json`` (the last file of a finished run); returns its path."""
        return self._write(EVALUATION_FILE, evaluation)

    def _write(self, name: str, data: Any) -> Path:
        path = self.path / name
        path.write_text(json.dumps(data, indent=2, default=_json_default) + "\n")
        return path


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


@dataclass(frozen=True)
class Run:
    """A run folder read back by ``load_run``.

    Attributes
    ----------
    path : Path
    config : dict
        ``config.json`` (``"command"`` included).
    evaluation : dict, list or None
        ``evaluation.json``; None if the run did not finish.
    """

    path: Path
    config: dict[str, Any]
    evaluation: dict[str, Any] | list[Any] | None

    @property
    def command(self) -> str:
        """``"train"`` or ``"train-platform"``."""
        return str(self.config.get("command", "train"))

    @property
    def backend(self) -> str:
        """The training library: ``"sb3"`` or ``"rllib"`` (``train-platform``: ``"sb3"``)."""
        return str(self.config.get("backend", "sb3"))

    @property
    def finished(self) -> bool:
        return self.evaluation is not None

    @property
    def history(self) -> list[dict[str, Any]]:
        """``recgym train``: every evaluation (``agent_steps``, ``nash_conv``, ...); empty
        for ``train-platform`` and unfinished runs."""
        if isinstance(self.evaluation, dict):
            return list(self.evaluation.get("history", []))
        return []

    def scalars(self, subfolder: str | None = None) -> dict[str, list[tuple[int, float]]]:
        """Every scalar tag of the TensorBoard events, as ``(step, value)`` pairs."""
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

        folder = self.path if subfolder is None else self.path / subfolder
        accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0})
        accumulator.Reload()
        return {tag: [(event.step, event.value) for event in accumulator.Scalars(tag)]
                for tag in accumulator.Tags()["scalars"]}


def load_run(path: str | Path) -> Run:
    """Read a run folder written by ``recgym train`` (either backend) or ``recgym
    train-platform``.

    Raises
    ------
    FileNotFoundError
        If ``path`` has no ``config.json`` (not a run folder).
    """
    path = Path(path)
    config_file = path / CONFIG_FILE
    if not config_file.is_file():
        raise FileNotFoundError(f"{path} is not a run folder: it has no {CONFIG_FILE}")
    evaluation_file = path / EVALUATION_FILE
    evaluation = json.loads(evaluation_file.read_text()) if evaluation_file.is_file() else None
    return Run(path, json.loads(config_file.read_text()), evaluation)


class DynamicsLogger:
    """Write each move's NashConv and utilities to TensorBoard event files in ``logdir``.

    Parameters
    ----------
    game : EngagementGame
        The game the dynamics run on.
    logdir : str or Path
        Folder of the event files (created if needed).

    Attributes
    ----------
    events : int
        Moves and exits logged so far.
    """

    def __init__(self, game: EngagementGame, logdir: str | Path) -> None:
        if not isinstance(game, EngagementGame):
            raise TypeError(f"game must be a recgym.EngagementGame, got {type(game).__name__}")
        from torch.utils.tensorboard import SummaryWriter  # heavy import, only when used

        self.game = game
        self.logdir = Path(logdir)
        self._solver = ExactSolver(game)
        self._writer = SummaryWriter(log_dir=str(self.logdir))
        self._active = np.ones(game.n_producers, dtype=bool)
        self.events = 0

    def __call__(self, event: Event, directions: np.ndarray) -> None:
        """Log the profile reached by ``event`` (``directions (n,)``: each producer's vertex)."""
        if self._writer is None:
            raise RuntimeError("DynamicsLogger is closed")
        if isinstance(event, Exit):
            self._active[event.producer] = False
        profile = self.game.vertex_profile(np.asarray(directions))
        utilities = self.game.utilities(profile, self._active)
        nash_conv = self._solver.nash_conv(profile, "vertices", self._active)
        self.events += 1
        gain = 0.0 if isinstance(event, Exit) else event.gain
        for tag, value in (("dynamics/nash_conv_vertices", nash_conv.value),
                           ("dynamics/producer_utility_total", utilities.payoff.sum()),
                           ("dynamics/user_utility_mean",
                            utilities.user_total / utilities.total_weight),
                           ("dynamics/gain", gain),
                           ("dynamics/active_producers", self._active.sum())):
            self._writer.add_scalar(tag, float(value), self.events)

    def flush(self) -> None:
        """Write pending events to disk."""
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        """Flush and close the event file (idempotent)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def __enter__(self) -> DynamicsLogger:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
