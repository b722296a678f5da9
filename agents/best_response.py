r"""``BestResponse``: exact best responses, NashConv and the paper's dynamics, for a game
or an environment.

The solvers themselves live in ``recgym.solvers`` (``ExactSolver``: certified best
responses and NashConv; ``best_response_dynamics``: the paper's dynamics). This is
the acting layer's entry point on top of them:

* ``BestResponse(game)`` for an ``EngagementGame``;
* ``BestResponse(env)`` for a recgym environment (``recgym.parallel_env``,
  ``recgym.env``, ``recgym.raw_env``, possibly wrapped): ``best_response`` and
  ``nash_conv`` solve the environment's game ``env.game`` (the starting users),
  ``action(agent)`` returns the exact best-response action from the environment's
  state, for the users active now (``env.current_game``, which differs from
  ``env.game`` only with user dynamics or departures; under a learning platform, the
  best vertex of the game its serving makes, ``agents.env_play.served_best_vertex``),
  and ``dynamics`` plays the paper's dynamics through the environment's own API
  (``agents.env_play``), with identical results.

Best responses maximise the game's payoff (``recgym.payoffs``), which for an
environment is its ``reward``.
"""

from __future__ import annotations

import numpy as np

from agents.env_play import best_response_action, dynamics_through_env, solver_for
from recgym.environment import unwrap
from recgym.game import EngagementGame
from recgym.solvers import (
    BestResponseResult,
    DynamicsResult,
    EventCallback,
    ExactSolver,
    NashConvResult,
    best_response_dynamics,
)


class BestResponse:
    """Exact best responses, NashConv and the paper's dynamics for a game or environment.

    Parameters
    ----------
    target : EngagementGame or a recgym environment
        A game, or an environment (its game, and its state for ``action``).
    n_random_starts, max_steps, seed
        Settings of the continuous search (``recgym.solvers.ExactSolver``).

    Examples
    --------
    >>> import recgym
    >>> from agents import BestResponse
    >>> game = recgym.EngagementGame(recgym.users.synthetic_uniform(200, 3, seed=0), 4)
    >>> result = BestResponse(game).dynamics(seed=1)
    >>> BestResponse(game).nash_conv(result.profile, over="vertices").value
    0.0
    """

    def __init__(self, target: object, n_random_starts: int = 16, max_steps: int = 300,
                 seed: int = 0) -> None:
        if isinstance(target, EngagementGame):
            self.env, game = None, target
        else:
            try:
                game = unwrap(target).game
            except TypeError:
                raise TypeError("target must be a recgym.EngagementGame or a recgym environment "
                                f"(recgym.parallel_env, recgym.env, recgym.raw_env), got "
                                f"{type(target).__name__}") from None
            self.env = target
        self.game: EngagementGame = game
        self.solver = ExactSolver(game, n_random_starts, max_steps, seed)
        self._acting = self.solver  # of the environment's current game (``action``)

    def best_response(self, profile: object, producer: int, over: str = "strategy_set",
                      active: object | None = None) -> BestResponseResult:
        """Best response of ``producer`` to the others in ``profile`` ``(n, d)``
        (``ExactSolver.best_response``)."""
        return self.solver.best_response(profile, producer, over, active)

    def nash_conv(self, profile: object, over: str = "strategy_set",
                  active: object | None = None) -> NashConvResult:
        """NashConv of ``profile`` ``(n, d)`` (``ExactSolver.nash_conv``)."""
        return self.solver.nash_conv(profile, over, active)

    def action(self, agent: str, observation: object | None = None) -> np.ndarray | np.int64:
        """Exact best-response action of ``agent`` in the environment: an embedding
        ``(d,)`` float32, or a feature index with ``action_type="vertex"``.

        Computed against the producers still in, for the users active now
        (``env.current_game``: with user dynamics, the users of this step, not the
        starting ones), from the environment's current state or from ``observation``
        where it determines the answer (``agents.env_play.best_response_action``). Under
        a learning platform (``learner`` other than ``"oracle"``): the best vertex of the
        game its serving makes (``agents.env_play.served_best_vertex``; vertex actions and
        learners that do not sample only, ``ValueError`` otherwise).
        """
        if self.env is None:
            raise TypeError("action() needs an environment: construct BestResponse(env)")
        if not unwrap(self.env).platform.oracle:  # the served game's best vertex
            return best_response_action(self.env, agent, observation)
        solver = solver_for(self.env, self._acting)  # None once every user has left
        if solver is not None:
            self._acting = solver
        return best_response_action(self.env, agent, observation, self._acting)

    def dynamics(self, seed: int | np.random.RandomState = 0, max_iter: int = 500,
                 init: object | None = None, callback: EventCallback | None = None
                 ) -> DynamicsResult:
        """The paper's best-response dynamics (``recgym.solvers.dynamics``).

        With an environment, the dynamics step it through its API (one mover per
        step, the others repeat their action); the results are identical.
        """
        if self.env is not None:
            return dynamics_through_env(self.env, seed, max_iter, init, callback)
        return best_response_dynamics(self.game, seed, max_iter, init, callback)
