r"""Exact best responses and the paper's dynamics, played through the recgym environment.

``agents.BestResponse`` calls these functions when it is given an environment
(``recgym.parallel_env``, ``recgym.env`` or ``recgym.raw_env``) instead of a game.

**Best-response action.** Producer ``i``'s best response to the others' current
embeddings maximises its engagement ``u_i`` over ``S = {s >= 0, sum(s) <= 1}``
(model.md section 4); the objective is the game's, so the environment must use
``reward="engagement"`` (either ``reward_scale``: dividing by ``K`` keeps the
maximiser). The others' embeddings come from

* the environment's state ``env.profile`` (exact), when no observation is given
  or when the observation is the environment's current one for that producer;
* otherwise the observation alone. It holds the producer's own embedding and the
  others' *mean* embedding, which fixes every user's total rating of the others,
  ``<c_k, sum_{j != i} s_j>``. That total is all the linear rule depends on, the
  uniform rule depends on nothing, and with ``n = 2`` the mean *is* the other
  producer: in these cases the others are replaced by ``n - 1`` copies of their
  mean, which gives the same best response (up to the ``float32`` rounding of the
  observation). For softmax and top-k with ``n > 2`` the mean does not determine
  the others' ratings, and a ``ValueError`` says so.

The action is the best strategy rounded to ``float32`` (basis vectors exactly).

**Dynamics.** ``dynamics_through_env`` runs ``agents.dynamics.best_response_dynamics``
(model.md section 5, the same ``RandomState`` draws in the same order) by stepping
the environment: the start ``rng.choice(d, n)`` (or ``init``) is set with
``reset(options={"directions": ...})``; each iteration draws ``order =
rng.permutation(n)``, finds the first producer in ``order`` with a strictly better
basis vector from the environment's current profile, and steps the environment
with that producer playing the new vertex and every other producer repeating its
action. The horizon does not cut the run short: on truncation the environment is
reset to the current vertices and the run continues in a new episode.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from pettingzoo import ParallelEnv

from agents.dynamics import DynamicsResult, Move, MoveCallback, as_random_state, first_move
from agents.vertex_utilities import VertexUtilities
from recgym._validation import check_directions, check_int
from recgym.environment import EngagementEnv
from recgym.game import EngagementGame
from recgym.rules import Linear, Uniform
from recgym.strategy import project_to_strategy_set

#: ``solver(profile (n, d), i) -> strategy (d,)``: a best response of producer ``i``.
Solver = Callable[[np.ndarray, int], np.ndarray]

__all__ = ["Solver", "base_env", "best_response_action", "dynamics_through_env",
           "observation_determines_best_response", "profile_from_observation"]


def base_env(env: object) -> EngagementEnv:
    """The ``EngagementEnv`` under any PettingZoo wrapper (``env.unwrapped``).

    Raises
    ------
    TypeError
        If ``env`` is not a recgym environment.
    """
    base = getattr(env, "unwrapped", env)
    if not isinstance(base, EngagementEnv):
        raise TypeError(f"env must be a recgym environment (recgym.parallel_env, recgym.env or "
                        f"recgym.raw_env), got {type(env).__name__}")
    return base


def observation_determines_best_response(game: EngagementGame) -> bool:
    """True when the others' mean embedding fixes every best response (module docstring)."""
    return isinstance(game.rule, Linear | Uniform) or game.n_producers <= 2


def profile_from_observation(env: object, agent: str, observation: object) -> np.ndarray:
    """The profile ``(n, d)`` that producer ``agent``'s best response faces, given its observation.

    The environment's exact profile when ``observation`` is the current one;
    otherwise own embedding plus ``n - 1`` copies of the others' mean (projected onto
    ``S`` to undo ``float32`` rounding), when that determines the best response.

    Raises
    ------
    ValueError
        A malformed observation, one from another producer or user population, or
        one that does not determine the best response for this rule.
    """
    base = base_env(env)
    index = base.agent_index(agent)
    layout = base.observation_layout
    parts = layout.parse(observation)
    if parts.agent_index is not None and parts.agent_index != index:
        raise ValueError(f"observation belongs to producer_{parts.agent_index}, not {agent}")
    if not np.array_equal(parts.user_distribution,
                          base.user_distribution.astype(np.float32).astype(np.float64)):
        raise ValueError("observation's user distribution differs from this environment's: "
                         "it comes from another user population")
    current = layout.build(base.profile, base.rewards_now, base.user_distribution)[index]
    if np.array_equal(np.asarray(observation, dtype=np.float32), current):
        return base.profile.copy()
    if not observation_determines_best_response(base.game):
        raise ValueError(
            f"the observation is not {agent}'s current one, and with rule "
            f"{base.game.rule.name!r} and n_producers={base.n_producers} the others' mean "
            "embedding does not determine the best response; call without an observation "
            "to use the environment's state")
    others = np.repeat(parts.others_mean[None, :], base.n_producers - 1, axis=0)
    return project_to_strategy_set(np.insert(others, index, parts.own, axis=0))


def best_response_action(env: object, agent: str, observation: object | None = None,
                         solver: Solver | None = None) -> np.ndarray:
    """The exact best-response action of ``agent`` (module docstring).

    Parameters
    ----------
    env : recgym environment
        With ``reward="engagement"``.
    agent : str
        ``"producer_i"``.
    observation : array, shape (obs_size,), optional
        The agent's observation; default: the environment's current state.
    solver : callable(profile, i) -> strategy, optional
        Default: ``agents.BestResponse(env.game).best_response(profile, i).strategy``.

    Returns
    -------
    array, shape (d,), float32
        A valid action (in the action space and in ``S`` up to ``float32`` rounding).
    """
    base = base_env(env)
    if base.reward != "engagement":
        raise ValueError(f"best responses maximise engagement, but this environment rewards "
                         f"{base.reward!r}; create it with reward='engagement'")
    index = base.agent_index(agent)
    profile = base.profile.copy() if observation is None else \
        profile_from_observation(base, agent, observation)
    if solver is None:
        solver = _game_solver(base.game)
    strategy = np.asarray(solver(profile, index), dtype=np.float64)
    if strategy.shape != (base.dim,):
        raise ValueError(f"solver must return a strategy of shape ({base.dim},), "
                         f"got shape {strategy.shape}")
    return strategy.astype(np.float32)


def _game_solver(game: EngagementGame) -> Solver:
    # Imported here: agents.best_response imports this module.
    from agents.best_response import BestResponse

    responder = BestResponse(game)
    return lambda profile, index: responder.best_response(profile, index).strategy


def dynamics_through_env(env: object, seed: int | np.random.RandomState = 0,
                         max_iter: int = 500, init: object | None = None,
                         callback: MoveCallback | None = None) -> DynamicsResult:
    """The paper's best-response dynamics, one environment step per move.

    Same parameters and result as ``agents.dynamics.best_response_dynamics(env.game,
    seed, max_iter, init, callback)``, and the same result for the same seed. The
    environment (parallel or AEC) is reset by this function and left at the final
    profile. Movers maximise engagement whatever ``env.reward`` is.

    Parameters
    ----------
    env : recgym environment
    seed : int or numpy.random.RandomState
        An ``int`` starts a new stream; a ``RandomState`` is continued.
    max_iter : int >= 1
    init : int array, shape (n,), optional
        Starting vertex per producer; when given, no ``rng.choice`` is drawn.
    callback : callable(move, directions), optional
        Called after every move with the new directions ``(n,)``.

    Returns
    -------
    agents.dynamics.DynamicsResult
    """
    base = base_env(env)
    rng = as_random_state(seed)
    max_iter = check_int("max_iter", max_iter, 1)
    game = base.game
    n, d = game.n_producers, game.dim
    start = rng.choice(d, n) if init is None else check_directions("init", init, n, d)
    env.reset(options={"directions": np.asarray(start)})
    utilities = VertexUtilities(game)
    moves: list[Move] = []
    for iteration in range(max_iter):
        # Decide: the first producer in a fresh random order with a better vertex.
        directions = _directions(base)
        counts = np.bincount(directions, minlength=d)
        move = first_move(utilities, directions, counts, rng.permutation(n), iteration)
        if move is None:
            return _result(base, True, iteration, moves)
        # Act: the mover posts its new vertex, everybody else repeats its action.
        actions = dict(zip(base.possible_agents, base.profile.astype(np.float32), strict=True))
        actions[base.possible_agents[move.producer]] = np.eye(d, dtype=np.float32)[move.target]
        truncated = _play(env, actions)
        directions[move.producer] = move.target
        assert np.array_equal(_directions(base), directions), "the environment lost the move"
        moves.append(move)
        if callback is not None:
            callback(move, directions.copy())
        if truncated:  # a new episode from the same vertices
            env.reset(options={"directions": directions})
    return _result(base, False, max_iter - 1, moves)


def _directions(base: EngagementEnv) -> np.ndarray:
    """Each producer's vertex ``(n,)`` read from the environment's profile."""
    directions = base.game.vertex_directions(base.profile)
    assert directions is not None, "profile left the vertices"
    return directions


def _play(env: object, actions: dict[str, np.ndarray]) -> bool:
    """One parallel step (every producer's turn under AEC); True if the episode was truncated."""
    if isinstance(env, ParallelEnv):
        return any(env.step(actions)[3].values())
    for agent in env.agent_iter(len(actions)):
        env.step(actions[agent])
    return any(env.truncations.values())


def _result(base: EngagementEnv, converged: bool, iterations: int,
            moves: list[Move]) -> DynamicsResult:
    directions = _directions(base)
    return DynamicsResult(converged, iterations, directions,
                          np.bincount(directions, minlength=base.dim),
                          base.game.vertex_profile(directions), tuple(moves))
