r"""The platform as a learning agent: a single-agent Gymnasium environment.

## Description

Each step is an epoch. The platform sets the parameters of its serving rule it
controls (by default the softmax temperature, as ``log10 T``, and the exposure
floor ``eta``); the producers respond by ``moves_per_epoch`` iterations of the
paper's best-response dynamics under the new rule (one iteration is one move or
one exit of a producer whose best payoff per user falls below its outside option;
fewer if they reach an equilibrium), and the platform is rewarded with its social
choice function (``recgym.welfare``) at the profile after the response. Producers
who leave never come back, so a choice that is best today can cost welfare later.

With ``user_dynamics``, ``user_outside_option`` and ``user_patience`` (as
``recgym.parallel_env``) each step is an epoch of the ecosystem of
docs/ecosystem.md, E7, run by ``recgym.coevolve.Coevolution`` under the chosen
rule: the producers respond in the game of the users active at the start of the
epoch, as they are then; the users are served at the profile after the response;
users served below ``user_outside_option`` in ``user_patience`` consecutive epochs
leave for good; the users still active update their preferences by the model
(``"static"``, ``"exposure:rate=b"``, ``"engagement:rate=e"`` or your own,
``recgym.user_dynamics``). Users who leave do not come back either.

With ``learner`` (``recgym.learners``: ``"greedy"``, ``"epsilon:eps=x"``,
``"ucb:alpha=a"``, ``"thompson:scale=v"``), ``impressions`` and ``elicit`` the
platform does not know its users (docs/ecosystem.md, E8 and E9): it serves by its
scores, each active user gets ``impressions`` impressions per epoch and clicks by
its true rating, and the platform's ridge models learn from the clicks
(``recgym.learning_platform``). The learner's exploration strength
(``learner.exploration``: ``eps``, ``alpha`` or ``scale``) is a control like the
rule's parameters: each step's action sets it for that epoch (the models carry
over). With the defaults (``"static"``, option 0, ``"oracle"``) users never change
nor leave and are served by their true ratings, and the environment is exactly the
one without these arguments (the same episodes, as fast; the observation's last two
entries are new).

## Action space

``Box(low, high, (m,), float32)``: one entry per controlled parameter, in the order
of ``controls``; parameters declared on a log scale (the temperature) are set as
``log10`` of their value, the others (the floor, the exploration) as they are.
The default controls are ``log10 T`` in ``[-2, 2]`` and the floor in ``[0, 0.5]``
(``DEFAULT_CONTROLS``, those the rule declares) and, for a learner that explores,
its exploration parameter over ``DEFAULT_EXPLORATION`` (``eps`` in ``[0, 1]``,
``alpha`` in ``[0, 2]``, ``scale`` in ``[0, 2]``). A control that names neither a
parameter of the rule nor the learner's exploration parameter (the ridge ``lam``
included) is a ``ValueError``. Actions outside the box are clipped to it
(documented, not an error); NaN or the wrong shape raise ``ValueError``.

## Observation space

A flat ``float32`` vector of length ``2 d + 5``, only what a platform can know
(E9: never the users' true preferences under a learner):

==============  =====================================================  ============
index           meaning                                                bounds
==============  =====================================================  ============
``0 .. d-1``    producers' distribution over features (active ones)    ``[0, 1]``
``d .. 2d-1``   the platform's estimated demand per feature over the   ``[0, 1]``
                users still active, after this epoch's feedback (its
                estimates ``c^_k``, ``Coevolution.estimates``; under
                the oracle the users' true demand after this epoch's
                update, ``recgym.metrics.user_distribution``; zeros
                once every user has left)
``2d``          share of the starting users still active               ``[0, 1]``
``2d+1``        share of producers still active                        ``[0, 1]``
``2d+2``        last step's SCF value (0 after ``reset``), clipped to   ``[-1e3, 1e3]``
                ``[-1e3, 1e3]``
``2d+3``        last step's clicks per starting user (0 after          ``[0, impressions]``
                ``reset``)
``2d+4``        share of the horizon left, ``1 - t / horizon``         ``[0, 1]``
==============  =====================================================  ============

``info`` holds ``active_producers``, ``active_users`` (the share of index ``2d``),
``departed_users`` (users who left at this step), ``scf``, ``clicks`` (index
``2d+3``), ``estimation_error`` (mean ``||c^_k - c_k||_1`` over the active users, a
diagnostic only the simulator knows, 0 under the oracle; not in the observation),
``exploration`` (the learner's exploration value this step; 0 for learners that
do not explore), ``iterations`` (the dynamics' moves and exits this step),
``converged`` and, after a step, each controlled parameter's value.

## Rewards

``reward="scf"`` (default): the SCF at the profile after the producers' response
(per user of the starting population: a departed user counts 0, so departures lower
the reward; ``-inf`` values, e.g. ``alpha_fair`` once a payoff is 0, are clipped to
``-1e3``). Once every producer has left the SCF is taken over the users alone
(``user_welfare`` is 0); once every user has left it is 0. ``reward="clicks"``:
the step's clicks per starting user (``info["clicks"]``), what a platform observes.

## Starting state and seeding

``reset(seed=s)`` seeds a legacy ``numpy.random.RandomState(s)`` for the producers,
consumed exactly as the paper's dynamics consume it: the starting vertices
``rng.choice(d, n)``, then one permutation per iteration. So with a constant
action and ``moves_per_epoch`` large enough the producers reach the same
equilibrium as ``recgym.solvers.best_response_dynamics(game, s)``. Without a seed
the stream is seeded from ``self.np_random``. The clicks come from a separate
feedback stream seeded by ``s`` as ``recgym.coevolve`` seeds it
(``recgym.learning_platform``), so an episode equals ``Coevolution(..., seed=s)``
under the same actions, clicks included, and the same seed gives the same episode.
``reset`` also brings back the starting users, all active (the users' dynamics and
departures are deterministic), and fresh models for the learner (then its
``elicit`` questions).

## Episode end

``terminated`` when every producer has left or every user has left; ``truncated``
after ``horizon`` steps.

## Arguments

``platform_env(users=None, n_producers=10, rule="softmax", controls=None,
payoff="engagement", outside_option=0.0, moves_per_epoch=5, scf="user_welfare",
horizon=20, dim=None, n_users=None, users_seed=0, users_path=None,
render_mode=None, user_dynamics="static", user_outside_option=0.0,
user_patience=1, learner="oracle", impressions=1, elicit=0, reward="scf")``; see
``PlatformEnv``. Also ``gymnasium.make("recgym/Platform-v0", ...)``.

## Speed

Each rule used more than once keeps its game and vertex table (an LRU cache of
``RULE_CACHE_SIZE`` rules, fewer for many users), and what it found about the
profiles it has seen: their vertex tables, SCF values, the users' utilities (the
oracle's click chances) of the last few, and which are equilibria (no producer
moves or leaves, whatever the order). A repeated action from a revisited profile
(a static policy at its equilibrium, a look-ahead policy trying the same grid every
epoch) costs dictionary look-ups and the clicks' draw (``impressions`` uniforms per
user); ``simulate`` peeks the stream's next permutations once per state. A new
action every step (a learner's) costs what a fresh game and dynamics would. The
numbers are those of a fresh computation, bit for bit. These caches hold only while
the users never change and the oracle serves: with user dynamics, departures or a
learner every epoch runs on the users' current game (``Coevolution``), and
``simulate`` steps an independent copy of the whole ecosystem
(``Coevolution.copy``: producers, both streams, users and the learner's models).

## Example

>>> import recgym
>>> env = recgym.platform_env(n_users=200, dim=3, n_producers=4, horizon=3)
>>> observation, info = env.reset(seed=0)
>>> observation.shape, info["active_producers"], info["active_users"]
((11,), 4, 1.0)
>>> observation, reward, terminated, truncated, info = env.step([-1.0, 0.1])
>>> round(info["temperature"], 3), round(info["floor"], 3)
(0.1, 0.1)
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import os
from collections.abc import Callable, Mapping
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from recgym import metrics, welfare
from recgym._validation import check_float, check_int
from recgym.coevolve import Coevolution
from recgym.datasets import resolve_users
from recgym.environment import active_demand, make_platform, make_population
from recgym.game import EngagementGame, Serving
from recgym.learners import Learner
from recgym.learning_platform import FEEDBACK_STREAM
from recgym.population import Population
from recgym.registry import Param
from recgym.rules import ServingRule, make_rule
from recgym.solvers import DynamicsState, VertexTable, start_directions
from recgym.user_dynamics import UserDynamics

#: Default controls: ``log10 T`` in [-2, 2] and the floor in [0, 0.5].
DEFAULT_CONTROLS: Mapping[str, tuple[float, float]] = {"temperature": (-2.0, 2.0),
                                                       "floor": (0.0, 0.5)}
#: Default ranges of the learners' exploration parameters (``Learner.exploration``).
DEFAULT_EXPLORATION: Mapping[str, tuple[float, float]] = {"eps": (0.0, 1.0),
                                                          "alpha": (0.0, 2.0),
                                                          "scale": (0.0, 2.0)}
#: What the platform is rewarded with.
REWARDS = ("scf", "clicks")
#: Floats of per-user click chances each cached rule remembers (profiles times users).
CHANCE_FLOATS = 2**16
#: Welfare values are clipped to this range in observations and rewards.
WELFARE_CLIP = 1e3
#: Most rules whose games and vertex tables are kept (each holds about ``4 V K`` floats),
#: and the budget of ``K`` times cached rules that lowers it for many users.
RULE_CACHE_SIZE = 64
RULE_CACHE_USERS = 500_000
#: Entries in each cached rule's memos before they are cleared.
MEMO_SIZE = 4096

__all__ = ["DEFAULT_CONTROLS", "DEFAULT_EXPLORATION", "REWARDS", "PlatformEnv",
           "platform_env"]


class PlatformEnv(gymnasium.Env):
    """The platform chooses its serving rule's parameters each epoch; see the module docs.

    Parameters
    ----------
    users : None, array (K, d) or str
        As ``recgym.parallel_env``: synthetic uniform users by default, an array, or a
        data set name (``users_path`` or ``$RECGYM_DATA``).
    n_producers : int >= 1
    rule : str or ServingRule
        The rule family with its fixed parameters (spec string), e.g. ``"softmax"``
        or ``"topk:k=2"``; the controlled parameters are set by the actions.
    controls : mapping, optional
        Parameter name -> ``(low, high)`` in action units (``log10`` for log-scale
        parameters): the rule's parameters and the learner's exploration parameter
        (``learner.exploration``). Default ``DEFAULT_CONTROLS`` (for rules that declare
        them) and, for a learner that explores, its parameter over
        ``DEFAULT_EXPLORATION``.
    payoff : str
        The producers' payoff (``recgym.payoffs``).
    outside_option : float or array (n,)
        Producers' outside options per user.
    moves_per_epoch : int >= 1
        Iterations of the dynamics per step.
    scf : str or callable
        The platform's social choice function (``recgym.welfare``), default
        ``user_welfare``.
    horizon : int >= 1
        Steps per episode.
    dim, n_users, users_seed, users_path
        As ``recgym.parallel_env``.
    render_mode : {None, "ansi"}
    user_dynamics : str or UserDynamics
        How users change (``recgym.user_dynamics``), default ``"static"``.
    user_outside_option : float >= 0
        Utility per epoch below which a user is unhappy (default 0: nobody leaves).
    user_patience : int >= 1
        Unhappy epochs in a row after which a user leaves.
    learner : str or Learner
        How the platform serves and learns its users (``recgym.learners``): ``"oracle"``
        (default: the true ratings), ``"greedy"``, ``"epsilon:eps=x"``, ``"ucb:alpha=a"``,
        ``"thompson:scale=v"`` (each with ``lam``); its exploration parameter, when
        controlled, is set by the actions.
    impressions : int >= 1
        Impressions (each a click or not) per active user and epoch.
    elicit : int >= 0
        Questions per user before epoch 1 (``recgym.learners``).
    reward : {"scf", "clicks"}
        The SCF (default) or last epoch's clicks per starting user.

    Raises
    ------
    ValueError
        Ranges with low above high or outside the parameter's allowed values, a
        parameter neither the rule nor the learner's exploration declares,
        ``moves_per_epoch < 1``, an unknown SCF or reward, a bad ``user_dynamics``,
        ``user_outside_option``, ``user_patience``, ``learner``, ``impressions`` or
        ``elicit`` (named), users with ``||c_k||_1 > 1`` under a learner.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, users: object = None, n_producers: int = 10,
                 rule: str | ServingRule = "softmax",
                 controls: Mapping[str, tuple[float, float]] | None = None,
                 payoff: str = "engagement", outside_option: object = 0.0,
                 moves_per_epoch: int = 5, scf: object = "user_welfare", horizon: int = 20,
                 dim: int | None = None, n_users: int | None = None, users_seed: int = 0,
                 users_path: str | os.PathLike | None = None,
                 render_mode: str | None = None, user_dynamics: str | UserDynamics = "static",
                 user_outside_option: float = 0.0, user_patience: int = 1,
                 learner: str | Learner = "oracle", impressions: int = 1, elicit: int = 0,
                 reward: str = "scf") -> None:
        base = make_rule(rule)
        self.rule_family: str = base.NAME
        self.fixed_params: dict[str, Any] = base.params()
        self._rule_class: type[ServingRule] = type(base)
        if reward not in REWARDS:
            raise ValueError(f"reward must be one of {', '.join(REWARDS)}, got {reward!r}")
        self.reward: str = reward
        user_matrix = resolve_users(users, dim, n_users, users_seed, users_path)
        self.game: EngagementGame = EngagementGame(user_matrix, n_producers, base, payoff=payoff,
                                                   outside_option=outside_option)
        platform = make_platform(self.game, learner, impressions, elicit)
        self.learner: Learner = platform.learner
        self.impressions: int = platform.impressions
        self.elicit: int = platform.elicit
        self.controls: dict[str, tuple[float, float]] = _check_controls(
            base, self.learner, _default_controls(base, self.learner)
            if controls is None else controls)
        params = [_control_param(base, self.learner, name) for name in self.controls]
        self._log_scale: tuple[bool, ...] = tuple(param.log_scale for param, _ in params)
        self._on_learner: tuple[bool, ...] = tuple(owner == "learner" for _, owner in params)
        # The users over time; frozen (static, nobody leaves, the oracle): the cached path.
        self.population: Population = make_population(self.game, user_dynamics,
                                                      user_outside_option, user_patience)
        self._frozen: bool = self.population.frozen and self.learner.oracle
        self.moves_per_epoch: int = check_int("moves_per_epoch", moves_per_epoch, 1)
        self.horizon: int = check_int("horizon", horizon, 1)
        try:
            self.scf: welfare.SocialChoice = welfare.parse(scf)
        except ValueError as exc:
            raise ValueError(f"scf: {exc}") from None
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or one of "
                             f"{self.metadata['render_modes']}, got {render_mode!r}")
        self.render_mode = render_mode
        self.start_distribution: np.ndarray = metrics.user_distribution(self.game.users)
        # (d,), the demand the platform sees: its estimates' (the oracle's: the users')
        self.user_distribution: np.ndarray = self.start_distribution
        low, high = (np.array([bounds[i] for bounds in self.controls.values()], np.float32)
                     for i in (0, 1))
        self.action_space = spaces.Box(low, high, dtype=np.float32)
        self.observation_space = _observation_space(self.game.dim, self.impressions)
        # Rule parameters -> that rule's game, dynamics state and memos (an LRU cache of
        # the rules used more than once), and the parameters of the rules met so far.
        self._responders: dict[tuple[Any, ...], _Responder] = {}
        self._seen: set[tuple[Any, ...]] = set()
        self._cache_size: int = min(RULE_CACHE_SIZE,
                                    max(8, RULE_CACHE_USERS // self.game.n_users))
        self._scratch_rng = np.random.RandomState(0)  # simulate's copy of the stream
        # The permutations the stream will draw next (moves_per_epoch of them), peeked by
        # simulate; None until then and after every reset and step.
        self._upcoming: list[np.ndarray] | None = None
        # Episode state, set by reset.
        self.rng: np.random.RandomState | None = None
        self.clicks_rng: np.random.Generator | None = None  # the cached path's clicks
        self.directions: np.ndarray = np.zeros(n_producers, dtype=np.int64)
        self.active: np.ndarray = np.ones(n_producers, dtype=bool)
        self.last_scf: float = 0.0
        self.last_clicks: float = 0.0  # last step's clicks per starting user
        self.estimation_error: float = 0.0  # mean ||c^_k - c_k||_1 now (diagnostic)
        self.step_count: int = 0
        self.departed_users: int = 0  # users who left at the last step
        # The ecosystem over time (user dynamics, departures or a learner), set by reset.
        self.engine: Coevolution | None = None

    # ------------------------------------------------------------------ the rule
    def rule_for(self, action: object) -> ServingRule:
        """The serving rule an action sets (clipped to the action space)."""
        return self.decode(action)[0]

    def learner_for(self, action: object) -> Learner:
        """The learner an action sets: its exploration parameter when controlled."""
        return self.decode(action)[1]

    def decode(self, action: object) -> tuple[ServingRule, Learner]:
        """The serving rule and the learner an action sets (clipped to the action space)."""
        values = self._check_action(action)
        params, explore = dict(self.fixed_params), {}
        for name, value, log_scale, on_learner in zip(self.controls, values, self._log_scale,
                                                      self._on_learner, strict=True):
            value = 10.0 ** float(value) if log_scale else float(value)
            (explore if on_learner else params)[name] = value
        learner = dataclasses.replace(self.learner, **explore) if explore else self.learner
        return self._rule_class(**params), learner

    @property
    def exploration_index(self) -> int | None:
        """Index of the learner's exploration parameter in the action (``None``: not
        controlled)."""
        return next((i for i, on in enumerate(self._on_learner) if on), None)

    def _check_action(self, action: object) -> np.ndarray:
        arr = np.asarray(action, dtype=np.float64).reshape(-1)
        if arr.shape != self.action_space.shape:
            raise ValueError(f"action must have shape {self.action_space.shape} (one value per "
                             f"control: {', '.join(self.controls)}), got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"action must be finite, got {action!r}")
        return np.clip(arr, self.action_space.low, self.action_space.high)

    def _responder(self, rule: ServingRule) -> _Responder:
        """The response machinery of ``rule``: cached from the rule's second use on (least
        recently used dropped); a rule met once (a learner's continuous action) is
        built, used and let go, as a fresh computation would."""
        key = tuple(rule.params().values())
        responder = self._responders.pop(key, None)
        if responder is None:
            # The game differs from self.game only in its rule: share the validated,
            # read-only users, weights and vertices instead of copying them.
            game = copy.copy(self.game)
            game.rule = rule
            if key not in self._seen:
                if len(self._seen) >= MEMO_SIZE:
                    self._seen.clear()
                self._seen.add(key)
                return _Responder(game, self.scf, memo=False)
            if len(self._responders) >= self._cache_size:
                del self._responders[next(iter(self._responders))]
            responder = _Responder(game, self.scf, memo=True)
        self._responders[key] = responder  # most recently used last
        return responder

    # ------------------------------------------------------------------ the API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode: the producers' stream, their starting vertices, the feedback
        stream (seeded by the same seed, as ``recgym.coevolve``) and the learner's models."""
        super().reset(seed=seed)
        stream = seed if seed is not None else int(self.np_random.integers(2**32))
        self.rng = np.random.RandomState(check_int("seed", stream, 0))
        if self._frozen:
            self.directions = start_directions(self.game, self.rng)
            self.active = np.ones(self.game.n_producers, dtype=bool)
            self.clicks_rng = np.random.default_rng(np.random.SeedSequence([FEEDBACK_STREAM,
                                                                            stream]))
        else:  # the same stream, consumed the same way (the starting vertices first)
            population = self.population
            self.engine = Coevolution(self.game, population.model, population.outside_option,
                                      population.patience, self.moves_per_epoch, self.rng,
                                      learner=self.learner, impressions=self.impressions,
                                      elicit=self.elicit, feedback_seed=stream)
            self._sync()
            engine = self.engine
            self.estimation_error = engine.platform.estimation_error(
                engine.population.active_users, np.flatnonzero(engine.population.active))
        self.last_scf, self.last_clicks, self.step_count, self.departed_users = 0.0, 0.0, 0, 0
        self._upcoming = None
        return self._observation(), self._info(None, self.learner, 0, False)

    def _sync(self) -> None:
        """The episode state from the engine: producers, users and the demand the platform
        sees (its estimates', the oracle's: the users')."""
        engine = self.engine
        self.directions, self.active = engine.directions, engine.active
        self.population = engine.population
        self.user_distribution = active_demand(self.population) if self.learner.oracle \
            else _estimated_demand(engine)

    def step(self, action: object) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """One epoch: set the rule (and the learner's exploration), let the producers
        respond, serve, collect the SCF and the clicks."""
        if self.rng is None:
            raise RuntimeError("step() called before reset()")
        rule, learner = self.decode(action)
        if self._frozen:
            draw = functools.partial(self.rng.permutation, self.game.n_producers)
            value, iterations, converged, clicks = self._respond(
                rule, draw, self.directions, self.active, self.clicks_rng)
        else:
            self.engine.platform.learner = learner
            row, serving = self.engine.step(rule)
            value = _scf_value(self.scf, self.engine.population, serving)
            iterations, converged = row["iterations"], row["converged"]
            clicks, self.estimation_error = row["clicks"], row["estimation_error"]
            self.departed_users = row["departed"]
            self._sync()
        self._upcoming = None
        self.last_scf, self.last_clicks = value, clicks
        self.step_count += 1
        terminated = not self.active.any() or (not self._frozen
                                               and not self.population.active.any())
        truncated = self.step_count >= self.horizon
        return (self._observation(), self._reward(value, clicks), terminated, truncated,
                self._info(rule, learner, iterations, converged))

    def _reward(self, scf: float, clicks: float) -> float:
        return scf if self.reward == "scf" else clicks

    def simulate(self, action: object) -> float:
        """The reward ``step(action)`` would give from the current state, leaving the
        state (producers, random streams, users, the learner's models) as it is (for
        look-ahead policies)."""
        if self.rng is None:
            raise RuntimeError("simulate() called before reset()")
        if not self._frozen:  # step an independent copy of the whole ecosystem
            rule, learner = self.decode(action)
            twin = self.engine.copy()
            twin.platform.learner = learner
            row, serving = twin.step(rule)
            return self._reward(_scf_value(self.scf, twin.population, serving), row["clicks"])
        if self._upcoming is None:  # the stream's next permutations, peeked once per state
            self._scratch_rng.set_state(self.rng.get_state())
            self._upcoming = [self._scratch_rng.permutation(self.game.n_producers)
                              for _ in range(self.moves_per_epoch)]
        clicks_rng = None
        if self.reward == "clicks":  # the feedback stream's next draws, on a copy
            clicks_rng = np.random.default_rng()
            clicks_rng.bit_generator.state = self.clicks_rng.bit_generator.state
        value, _, _, clicks = self._respond(self.rule_for(action), iter(self._upcoming).__next__,
                                            self.directions.copy(), self.active.copy(),
                                            clicks_rng)
        return self._reward(value, clicks)

    def _respond(self, rule: ServingRule, next_order: Callable[[], np.ndarray],
                 directions: np.ndarray, active: np.ndarray,
                 clicks_rng: np.random.Generator | None
                 ) -> tuple[float, int, bool, float]:
        """Run the producers' response in place, drawing each iteration's visiting order
        from ``next_order()``, then the users' clicks from ``clicks_rng`` (none drawn when
        ``None``); ``(scf, iterations run, converged, clicks per starting user)``."""
        responder = self._responder(rule)
        iterations, converged = responder.respond(next_order, directions, active,
                                                  self.moves_per_epoch)
        value, chance = responder.evaluate(directions, active, clicks_rng is not None)
        clicks = 0.0 if clicks_rng is None else self._draw_clicks(chance, clicks_rng)
        return (float(np.clip(value, -WELFARE_CLIP, WELFARE_CLIP)), iterations, converged,
                clicks)

    def _draw_clicks(self, chance: np.ndarray | None, rng: np.random.Generator) -> float:
        """The oracle's clicks, drawn as ``recgym.learning_platform`` draws them: per
        impression one uniform per user, a click with probability ``v_k`` (``chance``
        ``(K,)``; ``None``: no producer is served, nothing drawn); per starting user."""
        if chance is None:
            return 0.0
        clicks = np.zeros(self.game.n_users)
        for _ in range(self.impressions):
            clicks += rng.random(self.game.n_users) < chance
        weights = self.game.weights
        total = float(clicks.sum() if weights is None else clicks @ weights)
        return total / self.game.total_weight

    def _observation(self) -> np.ndarray:
        d = self.game.dim
        counts = np.bincount(self.directions[self.active], minlength=self.game.n_vertices)[:d]
        n_active = int(self.active.sum())
        distribution = counts / n_active if n_active else np.zeros(d)
        return np.concatenate([distribution, self.user_distribution,
                               [self.active_users, n_active / self.game.n_producers,
                                self.last_scf, self.last_clicks,
                                1.0 - self.step_count / self.horizon]]).astype(np.float32)

    @property
    def active_users(self) -> float:
        """Share of the starting users still active."""
        return 1.0 if self._frozen else self.population.share_active

    def _info(self, rule: ServingRule | None, learner: Learner, iterations: int,
              converged: bool) -> dict[str, Any]:
        name = learner.exploration
        info: dict[str, Any] = {"active_producers": int(self.active.sum()),
                                "active_users": self.active_users,
                                "departed_users": self.departed_users,
                                "scf": self.last_scf, "clicks": self.last_clicks,
                                "estimation_error": self.estimation_error,
                                "exploration": 0.0 if name is None else
                                float(getattr(learner, name)),
                                "iterations": iterations, "converged": converged}
        if rule is not None:
            values = {**rule.params(), **learner.params()}
            info.update({control: values[control] for control in self.controls})
        return info

    def render(self) -> str | None:
        """A line per step: producers per feature, active producers (and users, when some
        have left), SCF."""
        if self.render_mode != "ansi":
            return None
        counts = np.bincount(self.directions[self.active], minlength=self.game.n_vertices)
        users = "" if self.active_users == 1.0 else f"  users {self.active_users:.1%}"
        return (f"step {self.step_count}/{self.horizon}  producers per feature "
                f"{' '.join(map(str, counts[:self.game.dim]))}  active "
                f"{int(self.active.sum())}/{self.game.n_producers}{users}  "
                f"{welfare.name_of(self.scf)} {self.last_scf:.5g}")


class _Responder:
    """One rule's side of the producers' response: its game, one dynamics state reloaded
    for every response, and memos of what is a pure function of the profile: the vertex
    tables, the SCF, and whether it is an equilibrium (no producer moves or leaves,
    whatever the visiting order), so that revisited profiles, e.g. an equilibrium under
    a repeated action, cost dictionary look-ups; results are the same numbers.

    Parameters
    ----------
    game : EngagementGame
        The game under this rule.
    scf : callable
        The platform's social choice function.
    memo : bool
        Remember vertex tables (for a rule that is used again).
    """

    def __init__(self, game: EngagementGame, scf: welfare.SocialChoice, memo: bool) -> None:
        self.game = game
        self.scf = scf
        self.state = DynamicsState(game, np.zeros(game.n_producers, dtype=np.int64))
        if memo:
            self.state.table = _MemoTable(self.state.table)
        self._scf_memo: dict[tuple[bytes, bytes], float] = {}
        # Per-user utilities (click chances) of the last profiles seen, CHANCE_FLOATS in all.
        self._chance_memo: dict[tuple[bytes, bytes], np.ndarray] = {}
        self._chance_size: int = max(1, CHANCE_FLOATS // game.n_users) if memo else 0
        self._equilibria: set[tuple[bytes, bytes]] = set()

    def respond(self, next_order: Callable[[], np.ndarray], directions: np.ndarray,
                active: np.ndarray, moves: int) -> tuple[int, bool]:
        """Up to ``moves`` iterations of the dynamics from ``directions``/``active``
        ``(n,)`` (updated in place), each visiting the producers in the order
        ``next_order()``; returns ``(iterations, converged)``."""
        if (directions.tobytes(), active.tobytes()) in self._equilibria:
            next_order()  # the scan would find nothing, but the stream moves on
            return 0, True
        state = self.state
        state.directions[:], state.active[:] = directions, active
        state.counts = np.bincount(directions[active], minlength=self.game.n_vertices)
        state.moves.clear()
        state.exits.clear()
        iterations, converged = 0, False
        for _ in range(moves):
            if not state.active.any():
                break
            event = state.first_event(next_order(), iterations)
            if event is None:
                converged = True
                if len(self._equilibria) >= MEMO_SIZE:
                    self._equilibria.clear()
                self._equilibria.add((state.directions.tobytes(), state.active.tobytes()))
                break
            state.apply(event)
            iterations += 1
        directions[:], active[:] = state.directions, state.active
        return iterations, converged

    def evaluate(self, directions: np.ndarray, active: np.ndarray, chance: bool
                 ) -> tuple[float, np.ndarray | None]:
        """The SCF at the vertex profile ``directions`` with ``active`` producers (over the
        users alone when nobody is left: ``user_welfare`` is then 0) and, with ``chance``,
        each user's utility ``v_k`` ``(K,)``, the oracle's click probability (``None``
        without ``chance`` or with no producer active)."""
        key = (directions.tobytes(), active.tobytes())
        value = self._scf_memo.get(key)
        chances = self._chance_memo.get(key) if chance else None
        if value is None or (chance and chances is None and active.any()):
            game = self.game
            utilities = game.utilities(game.vertex_profile(directions), active)
            if value is None:
                value = welfare.value(self.scf, utilities)
                if len(self._scf_memo) >= MEMO_SIZE:
                    self._scf_memo.clear()
                self._scf_memo[key] = value
            if chance and active.any():
                chances = utilities.user
                if len(self._chance_memo) >= self._chance_size:
                    self._chance_memo.clear()
                self._chance_memo[key] = chances
        return value, chances


class _MemoTable:
    """A ``VertexTable`` whose answers are remembered. The fast path depends on the
    producer's own vertex and the counts alone (``recgym.solvers.vertex_table``), so
    producers on one vertex share an entry; the generic path is keyed by producer,
    directions and active producers."""

    def __init__(self, table: VertexTable) -> None:
        self.table = table
        self.symmetric: bool = table.symmetric
        self._memo: dict[tuple[Any, ...], np.ndarray] = {}

    def __call__(self, directions: np.ndarray, counts: np.ndarray, producer: int,
                 active: np.ndarray | None = None) -> np.ndarray:
        key = (int(directions[producer]), counts.tobytes()) if self.table.fast else \
            (producer, directions.tobytes(), None if active is None else active.tobytes())
        values = self._memo.get(key)
        if values is None:
            if len(self._memo) >= MEMO_SIZE:
                self._memo.clear()
            values = self.table(directions, counts, producer, active)
            values.setflags(write=False)
            self._memo[key] = values
        return values


def _scf_value(scf: welfare.SocialChoice, population: Population, serving: Serving | None
               ) -> float:
    """The SCF at ``serving`` per user of the starting population, clipped to
    ``WELFARE_CLIP`` (0 once every user has left: ``serving`` is ``None``)."""
    if serving is None:
        return 0.0
    value = welfare.value(scf, population.per_start_user(serving.utilities))
    return float(np.clip(value, -WELFARE_CLIP, WELFARE_CLIP))


def _observation_space(dim: int, impressions: int) -> spaces.Box:
    """The observation's box (module docstring, "Observation space"), ``(2 d + 5,)``."""
    low = np.zeros(2 * dim + 5, dtype=np.float32)
    high = np.ones(2 * dim + 5, dtype=np.float32)
    low[2 * dim + 2], high[2 * dim + 2] = -WELFARE_CLIP, WELFARE_CLIP
    high[2 * dim + 3] = impressions
    return spaces.Box(low, high, dtype=np.float32)


def _estimated_demand(engine: Coevolution) -> np.ndarray:
    """The platform's estimated demand per feature ``(d,)`` over the active users (its
    estimates ``c^_k``, weighted; zeros once every user has left)."""
    population = engine.population
    if not population.active.any():
        return np.zeros(engine.game.dim)
    estimates = engine.estimates()[population.active]
    weights = population.active_weights
    total = estimates.sum() if weights is None else float(weights @ estimates.sum(axis=1))
    if not total > 0:
        return np.zeros(engine.game.dim)
    return metrics.user_distribution(estimates, weights)


def _default_controls(rule: ServingRule, learner: Learner) -> dict[str, tuple[float, float]]:
    """``DEFAULT_CONTROLS`` the rule declares, then the learner's exploration parameter
    over ``DEFAULT_EXPLORATION`` (or its declared range, else ``[0, 2 default]``)."""
    declared = {p.name for p in rule.PARAMS}
    controls = {name: bounds for name, bounds in DEFAULT_CONTROLS.items() if name in declared}
    name = learner.exploration
    if name is not None:
        param = type(learner).param(name, "learner")
        fallback = (0.0 if param.low is None else param.low,
                    max(2.0 * float(param.default or 1.0), 1.0) if param.high is None
                    else param.high)
        controls[name] = DEFAULT_EXPLORATION.get(name, fallback)
    return controls


def _control_param(rule: ServingRule, learner: Learner, name: str) -> tuple[Param, str]:
    """The declared parameter a control sets and its owner (``"rule"`` or ``"learner"``).

    Raises
    ------
    ValueError
        A learner parameter other than its exploration (``lam``), or a name neither the
        rule nor the learner's exploration declares.
    """
    if name == learner.exploration:
        return type(learner).param(name, "learner"), "learner"
    if any(p.name == name for p in rule.PARAMS):
        return rule.param(name, "rule"), "rule"
    exploration = (f"its exploration parameter is {learner.exploration!r}"
                   if learner.exploration else "it has no exploration parameter")
    if any(p.name == name for p in learner.PARAMS):
        raise ValueError(f"controls: {name!r} is a parameter of learner {learner.NAME!r} but "
                         f"not its exploration ({exploration}); only the exploration "
                         "parameter can be set per epoch")
    rules = ", ".join(p.describe() for p in rule.PARAMS) or "none"
    raise ValueError(f"controls: {name!r} is neither a parameter of rule {rule.NAME!r} (its "
                     f"parameters: {rules}) nor the exploration parameter of learner "
                     f"{learner.NAME!r} ({exploration})")


def _check_controls(rule: ServingRule, learner: Learner,
                    controls: Mapping[str, tuple[float, float]]
                    ) -> dict[str, tuple[float, float]]:
    """Validated controls: the rule's declared parameters or the learner's exploration,
    ``low <= high`` inside the allowed values."""
    checked: dict[str, tuple[float, float]] = {}
    if not controls:
        raise ValueError("controls needs at least one parameter for the platform to set")
    for name, bounds in controls.items():
        param, owner = _control_param(rule, learner, name)
        if param.kind is not float:
            raise ValueError(f"controls: {name} is an integer parameter; the platform sets "
                             "continuous parameters only")
        try:
            low, high = (check_float(f"controls[{name!r}]", b) for b in bounds)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"controls[{name!r}] must be (low, high) numbers: {exc}") from None
        if low > high:
            raise ValueError(f"controls[{name!r}]: low {low:g} is above high {high:g}")
        for end in (low, high):
            param.check(10.0 ** end if param.log_scale else end, f"controls {name!r}: {owner}")
        checked[name] = (low, high)
    return checked


def platform_env(**kwargs: Any) -> PlatformEnv:
    """``PlatformEnv(**kwargs)`` (module docstring)."""
    return PlatformEnv(**kwargs)
