r"""Exact best responses and the paper's dynamics, played through the recgym environment.

``agents.BestResponse`` calls these functions when it is given an environment
(``recgym.parallel_env``, ``recgym.env`` or ``recgym.raw_env``) instead of a game.

**Best-response action.** Producer ``i``'s best response to the others' current
embeddings maximises its payoff, the environment's ``reward`` (whatever its
``reward_scale``: dividing by ``K`` keeps the maximiser), over
``S = {s >= 0, sum(s) <= 1}``. The others' embeddings come from

* the environment's state ``env.profile`` (exact), when no observation is given
  or when the observation is the environment's current one for that producer;
* otherwise the observation alone. It holds the producer's own embedding and the
  others' *mean* embedding, which fixes every user's total rating of the others,
  ``<c_k, sum_{j != i} s_j>``. Where the rule's serving depends on the others only
  through that total (``ServingRule.others_through_total``: linear, uniform) and
  the payoff only on the own serving (engagement, exposure), or where ``n = 2``
  (the mean *is* the other producer), the others are replaced by ``n - 1`` copies
  of their mean, which gives the same best response (up to the ``float32``
  rounding of the observation). Otherwise the mean does not determine the answer,
  and a ``ValueError`` says so.

The action is the best strategy rounded to ``float32`` (basis vectors exactly).

**The users it faces.** Best responses are computed in ``env.current_game``, the game
of the users active now, as they are now (``env.game`` while nothing has changed, so
without user dynamics everything is as before): with user dynamics or departures
(``user_dynamics``, ``user_outside_option``), a producer best responds to the users of
this moment, not the starting ones. Once every user has left every action earns 0 and
is a best response: the producer's current embedding is returned (with vertex actions
its feature, 0 if it posts none).

**Under a learner** (``learner`` other than ``"oracle"``) the platform serves by its
scores, not the true ratings, so a producer's payoff is that of the **served game**
``u_i = sum_k p_i(sigma_k) r_ki`` (``env.served_game``, the scores of the platform's
models as they are now: those that serve the next step). The exact best response there
is computed over the vertices, from the served game's vertex table
(``recgym.solvers.ServedVertexTable`` with ``LearningPlatform.producer_scores``), so it
is supported only

* with ``action_type="vertex"`` (the action space is the vertices: the best vertex is
  the best action; over the whole strategy set no served payoff is certified), at a
  profile of vertices (not after ``reset(options={"profile": ...})`` off the vertices),
* from the environment's state (no observation, or the current one: the others' mean
  does not fix the others' scores),
* for learners whose scores are not random draws (``greedy``, ``epsilon``, ``ucb``):
  ``thompson`` serves by a fresh posterior draw each step, whose expected payoff is not
  the posterior mean's.

The producer moves to the best vertex only if it is strictly better than its own, as
``recgym.solvers.ExactSolver`` does. Anything else raises a ``ValueError`` saying why
(the exact best responses of ``agents.BestResponse(env.game)`` stay those of the true
game, serving by the true ratings).

**Dynamics.** ``dynamics_through_env`` runs the one dynamics loop,
``recgym.solvers.best_response_dynamics`` (the same ``RandomState`` draws in the
same order), and plays each move in the environment: the start ``rng.choice(d, n)``
(or ``init``) is set with ``reset(options={"directions": ...})``; after each move the
environment is stepped with the mover playing its new vertex and every other
producer repeating its action, and the environment's profile is checked against
the dynamics'. The horizon does not cut the run short: on truncation the
environment is reset to the current vertices and the run continues in a new
episode. Vertex environments post feature indices. Games whose producers can leave
(an outside option, or the marginal payoff, which can be negative) are not played
through the environment: use ``BestResponse(env.game).dynamics``; nor are
environments whose users change or leave (the dynamics are those of one fixed game:
``recgym.coevolve`` runs producers and users together), nor a learning platform (its
served game changes with every step's clicks: ``recgym.coevolve`` runs producers who
best respond to a learning platform).
"""

from __future__ import annotations

import numpy as np
from pettingzoo import ParallelEnv

from recgym.environment import EngagementEnv, unwrap
from recgym.game import EngagementGame
from recgym.solvers import (
    DynamicsResult,
    Event,
    EventCallback,
    ExactSolver,
    Exit,
    as_random_state,
    best_response_dynamics,
    start_directions,
)
from recgym.strategy import project_to_strategy_set

__all__ = ["best_response_action", "check_true_game", "dynamics_through_env",
           "observation_determines_best_response", "profile_from_observation",
           "served_best_vertex", "solver_for"]


def check_true_game(env: object) -> None:
    """Refuse an environment whose platform learns, for the exact solvers of the true game
    (module docstring).

    Raises
    ------
    ValueError
        Under a learner other than ``"oracle"``.
    """
    base = unwrap(env)
    if not base.platform.oracle:
        raise ValueError(
            f"the exact solvers (ExactSolver, the paper's dynamics) are for the true game "
            f"(serving by the true ratings); this environment's platform serves by learner "
            f"{base.platform.learner.spec!r}: best-response actions in its served game are "
            "agents.env_play.served_best_vertex (action_type='vertex'), and recgym.coevolve "
            "runs producers best responding to a learning platform")


def solver_for(env: object, solver: ExactSolver | None = None) -> ExactSolver | None:
    """An ``ExactSolver`` of ``env.current_game``: ``solver`` itself when it is of that
    game, else a new one with ``solver``'s settings (default settings without one);
    ``None`` once every user has left.

    Raises
    ------
    ValueError
        Under a learner (``check_true_game``).
    """
    check_true_game(env)
    game = unwrap(env).current_game
    if game is None or (solver is not None and solver.game is game):
        return None if game is None else solver
    if solver is None:
        return ExactSolver(game)
    return ExactSolver(game, solver.n_random_starts, solver.max_steps, solver.seed)


def observation_determines_best_response(game: EngagementGame) -> bool:
    """True when the others' mean embedding fixes every best response (module docstring)."""
    return game.n_producers <= 2 or (game.rule.others_through_total
                                     and not game.payoff.needs_welfare_loss)


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
    base = unwrap(env)
    index = base.agent_index(agent)
    layout = base.observation_layout
    parts = layout.parse(observation)
    if parts.agent_index is not None and parts.agent_index != index:
        raise ValueError(f"observation belongs to producer_{parts.agent_index}, not {agent}")
    if not np.array_equal(parts.user_distribution,
                          base.user_distribution.astype(np.float32).astype(np.float64)):
        raise ValueError("observation's user distribution differs from this environment's: "
                         "it comes from another user population")
    current = layout.build(base.profile, base.rewards_now, base.user_distribution,
                           base.active)[index]
    if np.array_equal(np.asarray(observation, dtype=np.float32), current):
        return base.profile.copy()
    if not observation_determines_best_response(base.game):
        raise ValueError(
            f"the observation is not {agent}'s current one, and with rule "
            f"{base.game.rule.spec!r}, payoff {base.game.payoff.NAME!r} and "
            f"n_producers={base.n_producers} the others' mean embedding does not determine "
            "the best response; call without an observation to use the environment's state")
    # Every other producer at the mean: those still in (env.active) make up its total.
    others = np.repeat(parts.others_mean[None, :], base.n_producers - 1, axis=0)
    return project_to_strategy_set(np.insert(others, index, parts.own, axis=0))


def best_response_action(env: object, agent: str, observation: object | None = None,
                         solver: ExactSolver | None = None) -> np.ndarray | np.int64:
    """The exact best-response action of ``agent`` (module docstring), against the
    producers still in the game (``env.active``), for the users active now
    (``env.current_game``).

    Parameters
    ----------
    env : recgym environment
    agent : str
        ``"producer_i"``, still in the game.
    observation : array, shape (obs_size,), optional
        The agent's observation; default: the environment's current state.
    solver : ExactSolver, optional
        Of ``env.current_game`` (default: a new ``recgym.solvers.ExactSolver`` of it; a
        solver of another game is replaced by one of the current game with its settings,
        ``solver_for``).

    Returns
    -------
    array, shape (d,), float32, or int
        A valid action: the best strategy (in ``S`` up to ``float32`` rounding), or with
        ``action_type="vertex"`` the index of the best basis vector.

    Raises
    ------
    ValueError
        ``agent`` has left; an observation that does not determine the answer; with
        vertex actions, a best vertex that posts nothing (the marginal payoff's zero);
        under a learner, what ``served_best_vertex`` refuses.
    """
    base = unwrap(env)
    index = base.agent_index(agent)
    if not base.active[index]:
        raise ValueError(f"{agent} has left the game (terminated): it takes no action")
    if not base.platform.oracle:
        return served_best_vertex(base, agent, observation)
    profile = base.profile.copy() if observation is None else \
        profile_from_observation(base, agent, observation)
    solver = solver_for(base, solver)
    vertex = base.action_type == "vertex"
    if solver is None:  # every user has left: every action earns 0
        return _current_action(base, index)
    strategy = solver.best_response(profile, index, "vertices" if vertex else "strategy_set",
                                    base.active).strategy
    if not vertex:
        return strategy.astype(np.float32)
    direction = base.game.vertex_directions(strategy[None, :])
    if direction is None or direction[0] >= base.dim:
        raise ValueError(f"{agent}'s best vertex posts nothing (the zero strategy), which "
                         "action_type='vertex' cannot post")
    return np.int64(direction[0])


def served_best_vertex(env: object, agent: str, observation: object | None = None
                       ) -> np.int64:
    """The exact best vertex of ``agent`` in the game the learning platform's serving makes
    (module docstring, "Under a learner"), against the producers still in, for the users
    active now: a feature index (``action_type="vertex"``).

    Raises
    ------
    ValueError
        The oracle (use ``best_response_action``), ``agent`` has left, box actions, a
        profile off the vertices, an observation other than the current one, or a learner
        whose serving scores are random draws (``thompson``).
    """
    base = unwrap(env)
    index = base.agent_index(agent)
    platform = base.platform
    why = _served_refusal(base, index, observation)
    if why is not None:
        raise ValueError(f"no exact best response of {agent} under learner "
                         f"{platform.learner.spec!r}: {why}")
    game = base.served_game
    if game is None:  # every user has left: every action earns 0
        return _current_action(base, index)
    directions = game.vertex_directions(base.profile)  # (n,), checked by _served_refusal
    scores = platform.producer_scores(game, np.flatnonzero(base.population.active))  # (K_a, V)
    counts = np.bincount(directions[base.active], minlength=game.n_vertices)
    values = platform.table(game, scores)(directions, counts, index, base.active)  # (V,)
    best, own = int(np.argmax(values)), int(directions[index])
    return np.int64(best if values[best] > values[own] else own)


def _served_refusal(base: EngagementEnv, index: int, observation: object | None) -> str | None:
    """Why the served game's exact best response of producer ``index`` is not available
    (``None`` when it is)."""
    platform = base.platform
    if platform.oracle:
        return "the platform serves by the true ratings: use best_response_action"
    if not base.active[index]:
        return "it has left the game (terminated): it takes no action"
    if base.action_type != "vertex":
        return ("served payoffs are searched over the vertices only, which are the actions "
                "with action_type='vertex', not with 'box'")
    if platform.learner.samples:
        return ("it serves by a fresh posterior draw every step, whose expected payoff is "
                "not the posterior mean's")
    if base.game.vertex_directions(base.profile) is None:
        return "the profile is not made of vertices (basis vectors)"
    if observation is not None:
        current = base.observation_layout.build(base.profile, base.rewards_now,
                                                base.user_distribution, base.active)[index]
        if not np.array_equal(np.asarray(observation, dtype=np.float32), current):
            return ("the observation is not its current one, and the others' mean embedding "
                    "does not fix the others' scores: call without an observation")
    return None


def _current_action(base: EngagementEnv, index: int) -> np.ndarray | np.int64:
    """Producer ``index``'s current embedding as an action ``(d,)`` float32 or, with vertex
    actions, its feature (0 when it posts no basis vector)."""
    own = base.profile[index]
    if base.action_type != "vertex":
        return own.astype(np.float32)
    direction = base.game.vertex_directions(own[None, :])
    return np.int64(0 if direction is None or direction[0] >= base.dim else direction[0])


def dynamics_through_env(env: object, seed: int | np.random.RandomState = 0,
                         max_iter: int = 500, init: object | None = None,
                         callback: EventCallback | None = None) -> DynamicsResult:
    """The paper's best-response dynamics, one environment step per move.

    Same parameters and result as ``recgym.solvers.best_response_dynamics(env.game,
    seed, max_iter, init, callback)``, and the same result for the same seed. The
    environment (parallel or AEC) is reset by this function and left at the final
    profile.

    Raises
    ------
    ValueError
        If producers can leave the environment's game (``producers_may_leave``), its
        users change or leave (``env.population.frozen`` is False) or its platform learns.
    """
    base = unwrap(env)
    check_true_game(base)
    game = base.game
    if not base.population.frozen:
        population = base.population
        raise ValueError(
            f"users change or leave in this environment (user_dynamics="
            f"{population.model.spec!r}, user_outside_option={population.outside_option}): "
            "the paper's dynamics are those of one fixed game; use recgym.coevolve for "
            "producers and users together, or BestResponse(env.game).dynamics for the "
            "starting users")
    if game.producers_may_leave:
        raise ValueError(f"producers can leave this game (an outside option > 0, or the "
                         f"{game.payoff.NAME} payoff, which can be negative): its dynamics run "
                         "on the game: use BestResponse(env.game).dynamics")
    rng = as_random_state(seed)
    start = start_directions(game, rng, init)
    env.reset(options={"directions": start})
    # Vertex actions are feature indices; box actions the vertices themselves.
    post = (lambda vertex: int(vertex)) if base.action_type == "vertex" else \
        (lambda vertex: game.vertices[vertex].astype(np.float32))

    def play(event: Event, directions: np.ndarray) -> None:
        assert not isinstance(event, Exit), "nobody leaves a game where producers cannot"
        # The mover posts its new vertex, everybody else repeats the one it is on.
        current = game.vertex_directions(base.profile)
        actions = {agent: post(v) for agent, v in zip(base.possible_agents, current,
                                                        strict=True)}
        actions[base.possible_agents[event.producer]] = post(event.target)
        truncated = _play(env, actions)
        assert np.array_equal(game.vertex_directions(base.profile), directions), \
            "the environment lost the move"
        if truncated:  # a new episode from the same vertices
            env.reset(options={"directions": directions})
        if callback is not None:
            callback(event, directions)

    return best_response_dynamics(game, rng, max_iter, start, play)


def _play(env: object, actions: dict[str, np.ndarray]) -> bool:
    """One parallel step (every producer's turn under AEC); True if the episode was truncated."""
    if isinstance(env, ParallelEnv):
        return any(env.step(actions)[3].values())
    for agent in env.agent_iter(len(actions)):
        env.step(actions[agent])
    return any(env.truncations.values())
