"""TensorBoard logging of the paper's best-response dynamics, one point per move.

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

from pathlib import Path
from types import TracebackType

import numpy as np

from recgym.game import EngagementGame
from recgym.solvers import Event, ExactSolver, Exit

__all__ = ["DynamicsLogger"]


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
