r"""The ecosystem over time: producers and users co-evolve, epoch by epoch.

An **epoch** ``t = 1..E`` runs, in this order:

1. **Producers respond**: up to ``moves_per_epoch`` iterations of the paper's
   best-response dynamics (``recgym.solvers.dynamics``; one iteration is one move or
   one exit of a producer whose best payoff per user falls below its outside option)
   in the game of the users as they are at the start of the epoch (only the active
   ones, with their weights). One legacy ``RandomState(seed)`` is consumed across the
   whole run exactly as the paper's dynamics consume it: the starting vertices
   ``rng.choice(d, n)`` once, before epoch 1, then one ``rng.permutation(n)`` per
   iteration (an epoch that finds an equilibrium has drawn one for that scan). With
   ``static`` users who never leave and enough epochs the producers end at
   ``best_response_dynamics(game, seed)``'s profile, bit for bit.
2. **Serving** at the profile after the response, over the active producers: each
   active user's utility ``v_k = sum_i p_i(c_k) r_ki`` and what it consumes in
   expectation ``m_k = sum_i p_i(c_k) s_i``.
3. **Departures**: a user whose ``v_k < user_outside_option`` in ``user_patience``
   consecutive epochs leaves at the end of this epoch, for good.
4. **Preference update** of the users still active by the user-dynamics model
   (``recgym.user_dynamics``: ``static``, ``exposure:rate=b``, ``engagement:rate=e`` or
   your own).

Steps 2-4 are ``recgym.population.Population``, the same code the environments use.

## What a run records (``Trajectory``)

* ``users`` ``(R, K, d)``: the users after epoch ``t``'s update at the recorded epochs
  ``record_epochs`` (``users[0]`` is the input; with every epoch recorded, the default
  up to ``RECORD_BYTES``, ``users[t]`` is epoch ``t``'s). ``users_at(t)`` looks one up.
* ``profiles`` ``(E + 1, n, d)``: after epoch ``t``'s response (``profiles[0]``: the
  starting vertices).
* ``active_users`` ``(E + 1, K)`` and ``active_producers`` ``(E + 1, n)`` bool: after
  epoch ``t`` (index 0: everybody).
* ``history``: a ``pandas.DataFrame``, one row per epoch ``1..E``, computed at step 2
  over the users active during the epoch, per user of the **starting** population
  (a departed user counts 0, so departures lower welfare):

  =====================  ==========================================================
  column                 meaning
  =====================  ==========================================================
  ``epoch``              ``t``
  ``user_welfare``       ``(1/K) sum_k v_k`` over the active users
  ``producer_welfare``   ``(1/K) sum_i pi_i`` over the active producers
  ``active_users``       share of the ``K`` starting users active during the epoch
  ``active_producers``   producers active after the response
  ``homogenization``     mean pairwise cosine similarity of the active users'
                         preferences (``recgym.metrics.homogenization``; 1 when all
                         point the same way, and with fewer than two users)
  ``demand_entropy``     entropy (nats) of the active users' demand per feature
  ``content_features``   distinct features the active producers put most weight on
  ``departed``           users who left at the end of the epoch
  ``exits``              producers who left during the response
  ``iterations``         iterations of the dynamics with an event (moves and exits)
  ``converged``          the response ended at a vertex equilibrium
  ``<scf name>``         each requested SCF (``recgym.welfare``)
  =====================  ==========================================================

**Everybody gone.** Once every user has left nothing is served: producers no longer
respond (no permutation is drawn), and every welfare and SCF value is 0,
``homogenization`` 1 and ``demand_entropy`` 0 (no NaN anywhere).

## Example

>>> import recgym
>>> run = recgym.coevolve(n_users=500, dim=3, n_producers=4,
...                       user_dynamics="exposure:rate=0.5", epochs=3, seed=0)
>>> run.users.shape, run.profiles.shape
((4, 500, 3), (4, 4, 3))
>>> print(run.history[["epoch", "user_welfare", "homogenization"]].round(3).to_string(index=False))
 epoch  user_welfare  homogenization
     1         0.391           0.688
     2         0.418           0.830
     3         0.709           0.972
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from recgym import metrics, welfare
from recgym._validation import check_int
from recgym.behaviors import BEHAVIOR_STREAM, Behavior, Hedge, Quantal, make_behavior
from recgym.datasets import resolve_users
from recgym.game import EngagementGame, Serving
from recgym.learners import Learner
from recgym.learning_platform import LearningPlatform
from recgym.population import Population
from recgym.rules import ServingRule
from recgym.solvers import (
    DynamicsState,
    ExactSolver,
    QuantalState,
    RayState,
    VertexTable,
    as_random_state,
    start_directions,
)
from recgym.user_dynamics import UserDynamics

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["HISTORY_COLUMNS", "RECORD_BYTES", "Coevolution", "Trajectory", "coevolve"]

#: Every epoch's users are recorded by default while the record stays below this size.
RECORD_BYTES = 256 * 2**20
#: The history's columns before the requested SCFs.
HISTORY_COLUMNS = ("epoch", "user_welfare", "producer_welfare", "active_users",
                   "active_producers", "homogenization", "demand_entropy", "content_features",
                   "clicks", "estimation_error", "regret_vs_oracle", "cumulative_regret",
                   "departed", "exits", "iterations", "converged")


@dataclass(frozen=True)
class Trajectory:
    """One run of ``coevolve`` (module docstring, "What a run records")."""

    users: np.ndarray
    record_epochs: np.ndarray
    profiles: np.ndarray
    active_users: np.ndarray
    active_producers: np.ndarray
    history: pd.DataFrame
    config: dict[str, Any]
    estimates: np.ndarray

    @property
    def epochs(self) -> int:
        """``E``, the number of epochs run."""
        return self.profiles.shape[0] - 1

    def users_at(self, epoch: int) -> np.ndarray:
        """The users after ``epoch``'s update ``(K, d)``; ``KeyError`` unless recorded."""
        return self.users[self._index(epoch)]

    def estimates_at(self, epoch: int) -> np.ndarray:
        """The platform's estimates after ``epoch``'s feedback ``(K, d)`` (epoch 0: after
        the elicitation); ``KeyError`` unless recorded."""
        return self.estimates[self._index(epoch)]

    def _index(self, epoch: int) -> int:
        where = np.flatnonzero(self.record_epochs == epoch)
        if where.size == 0:
            raise KeyError(f"epoch {epoch} was not recorded; recorded epochs: "
                           f"{self.record_epochs.tolist()} (pass record=... to coevolve)")
        return int(where[0])


class Coevolution:
    """The epoch engine: one run of the ecosystem, advanced with ``step()``.

    Parameters
    ----------
    game : EngagementGame
        The starting users, the producers, the rule and the payoff.
    user_dynamics, user_outside_option, user_patience
        As ``Population``.
    moves_per_epoch : int >= 1
        Iterations of the dynamics per epoch.
    seed : int or RandomState
        The producers' legacy stream (module docstring, step 1); an ``int`` also seeds
        the feedback stream (``recgym.learning_platform``).
    scfs : sequence of SCFs
        Recorded in the history by name, besides user and producer welfare.
    learner, impressions, elicit
        How the platform serves and learns (``recgym.learners``; default ``"oracle"``,
        the true ratings).
    feedback_seed : int, optional
        Seed of the feedback stream (default: ``seed``, or 0 for a ``RandomState``) and of
        the quantal producers' choices.
    behavior : str or Behavior
        How producers choose (``recgym.behaviors``): ``"best_response"`` (default) or
        ``"quantal:rationality=l"``; ``hedge`` is refused (it plays simultaneous rounds).
    """

    def __init__(self, game: EngagementGame, user_dynamics: str | UserDynamics = "static",
                 user_outside_option: object = 0.0, user_patience: object = 1,
                 moves_per_epoch: object = 5, seed: int | np.random.RandomState = 0,
                 scfs: Sequence[welfare.SocialChoice] = (), learner: str | Learner = "oracle",
                 impressions: object = 1, elicit: object = 0,
                 feedback_seed: int | None = None,
                 behavior: str | Behavior = "best_response") -> None:
        self.game = game
        self.behavior: Behavior = make_behavior(behavior)
        if isinstance(self.behavior, Hedge):
            raise ValueError("behavior 'hedge' plays simultaneous rounds; the epoch engine's "
                             "producers move one at a time: use best_response or quantal here "
                             "(hedge runs in recgym.solvers.best_response_dynamics)")
        if game.has_cost and self.behavior.NAME != "best_response":
            raise ValueError(f"behavior {self.behavior.spec!r} chooses among the vertices; with "
                             "a cost of effort producers best respond along the rays")
        self.population = Population(game, user_dynamics, user_outside_option, user_patience)
        self.moves_per_epoch: int = check_int("moves_per_epoch", moves_per_epoch, 1)
        self.scfs = tuple(scfs)
        if feedback_seed is None:
            feedback_seed = 0 if isinstance(seed, np.random.RandomState) else seed
        self.platform = LearningPlatform(game, learner, impressions, elicit, feedback_seed)
        if not self.platform.oracle and not (game.traits.skill is None and not game.has_cost):
            raise ValueError("learner: a platform that learns its users serves by scores of the "
                             "content alone; producers with skill or a cost of effort need "
                             "learner='oracle'")
        # The quantal producers' own stream (recgym.solvers.dynamics), seeded like the feedback.
        self._choices = np.random.default_rng(np.random.SeedSequence(
            [BEHAVIOR_STREAM, feedback_seed])) if self.behavior.random else None
        self.rng: np.random.RandomState = as_random_state(seed)
        self.directions: np.ndarray = start_directions(game, self.rng)
        self.levels: np.ndarray = np.ones(game.n_producers)  # efforts (with a cost of effort)
        self.active: np.ndarray = np.ones(game.n_producers, dtype=bool)
        self.iterations: int = 0  # events (moves and exits) over the whole run
        self.epoch: int = 0
        self.cumulative_regret: float = 0.0
        self.last_clicks: np.ndarray = np.zeros(game.n_users)  # (K,), last epoch's
        self._state: DynamicsState | None = None
        self._scores: np.ndarray | None = None  # the producers' scores this epoch

    @property
    def profile(self) -> np.ndarray:
        """The producers' current profile ``(n, d)`` (exited ones: their last strategy):
        ``t_i e_{j_i}``, the vertices where effort is free."""
        profile = self.game.vertex_profile(self.directions)
        return profile if not self.game.has_cost else self.levels[:, None] * profile

    def copy(self) -> Coevolution:
        """An independent engine in the same state (users, models, both random streams),
        sharing the read-only games: stepping one leaves the other as it was (for
        look-ahead policies)."""
        other = copy.copy(self)
        other.population = self.population.copy()
        other.platform = self.platform.copy()
        other.rng = np.random.RandomState()
        other.rng.set_state(self.rng.get_state())
        other.directions, other.active = self.directions.copy(), self.active.copy()
        other.levels = self.levels.copy()
        other.last_clicks = self.last_clicks.copy()
        other._state = None if self._state is None else self._state.copy()
        if self._choices is not None:
            other._choices = copy.deepcopy(self._choices)
            if isinstance(other._state, QuantalState):
                other._state.stream = other._choices
        return other

    def served_game(self, rule: ServingRule | None = None) -> EngagementGame | None:
        """The game of the active users under ``rule`` (default the game's) as the platform
        serves it (``None`` once every user has left)."""
        base = self.population.game(rule)
        if base is None or self.platform.oracle:
            return base
        return self.population.game(self.platform.serving_rule(base.rule))

    def respond(self, rule: ServingRule | None = None) -> tuple[int, int, bool]:
        """Step 1 under ``rule`` (default the game's): ``(events, exits, converged)``."""
        game = self.served_game(rule)
        if game is None:
            return 0, 0, False
        state = self._state
        if not self.platform.oracle:  # the scores move with every epoch's feedback
            self._scores = self.platform.producer_scores(game, self._rows())
            state = self._new_state(game, self.platform.table(game, self._scores))
        elif state is None or state.game is not game:
            state = self._new_state(game, None)
        self._state = state
        exits_before, events = len(state.exits), 0
        converged = False
        for _ in range(self.moves_per_epoch):
            event = state.first_event(self.rng.permutation(game.n_producers), self.iterations)
            if event is None:
                converged = True
                break
            state.apply(event)
            self.iterations += 1
            events += 1
        self.directions, self.active = state.directions.copy(), state.active.copy()
        if isinstance(state, RayState):
            self.levels = state.levels.copy()
        return events, len(state.exits) - exits_before, converged

    def _new_state(self, game: EngagementGame, table: VertexTable | None) -> DynamicsState:
        """The dynamics' state in ``game`` at the current profile, for the behaviour."""
        if isinstance(self.behavior, Quantal):
            return QuantalState(game, self.directions, self.active, table,
                                chooser=self.behavior, stream=self._choices)
        if game.has_cost:
            return RayState(game, self.directions, self.active, table, levels=self.levels)
        return DynamicsState(game, self.directions, self.active, table)

    def _rows(self) -> np.ndarray:
        """Indices of the active users among the starting ones ``(K_a,)``."""
        return np.flatnonzero(self.population.active)

    def serve(self, rule: ServingRule | None = None) -> Serving | None:
        """Step 2 at the current profile (``None`` once every user has left)."""
        game = self.served_game(rule)
        if game is None:
            return None
        scores = None if self._scores is None else self._scores[:, self.directions[self.active]]
        return self.platform.serve(game, self.profile, self.active, self._rows(), scores)

    def step(self, rule: ServingRule | None = None) -> tuple[dict[str, Any], Serving | None]:
        """One epoch (module docstring): its history row and the serving of step 2."""
        self.epoch += 1
        self._scores = None
        events, exits, converged = self.respond(rule)
        population = self.population
        users_now = population.active_users
        weights_now = population.active_weights
        share = population.share_active
        serving = self.serve(rule)
        row = {"epoch": self.epoch, **self.welfare_of(serving),
               "active_users": share, "active_producers": int(self.active.sum()),
               "homogenization": 1.0 if serving is None else
               metrics.homogenization(users_now, weights_now),
               "demand_entropy": 0.0 if serving is None else
               metrics.demand_entropy(users_now, weights_now),
               "content_features": metrics.features_used(self.profile[self.active]),
               **self._learn(serving, rule, users_now),
               "departed": population.epoch_end(serving), "exits": exits,
               "iterations": events, "converged": converged}
        return row, serving

    def _learn(self, serving: Serving | None, rule: ServingRule | None,
               users_now: np.ndarray) -> dict[str, float]:
        """Feedback, the estimates' update and the platform's figures of the epoch."""
        self.last_clicks = np.zeros(self.game.n_users)
        if serving is None:
            return {"clicks": 0.0, "estimation_error": 0.0, "regret_vs_oracle": 0.0,
                    "cumulative_regret": self.cumulative_regret}
        rows = self._rows()
        clicks = self.platform.observe(serving, rows)
        self._scores = None  # the models moved: the epoch's scores are stale
        self.last_clicks[rows] = clicks
        total = self.game.total_weight
        regret = self.platform.regret_vs_oracle(self.population.game(rule), serving)
        regret_value = _weighted(regret, self.population.active_weights) / total
        self.cumulative_regret += regret_value
        return {"clicks": float(_weighted(clicks, self.population.active_weights)) / total,
                "estimation_error": self.platform.estimation_error(users_now, rows),
                "regret_vs_oracle": regret_value,
                "cumulative_regret": self.cumulative_regret}

    def estimates(self) -> np.ndarray:
        """The platform's estimates ``(K, d)`` of every starting user now."""
        return self.platform.estimates(self.population.users)

    def nash_conv(self, rule: ServingRule | None = None) -> tuple[float, bool]:
        """``(NashConv per starting user, certified)`` at the current profile, in the game
        the platform's serving makes for the current users.

        Oracle: over the strategy set, certified where the rule proves it (as
        ``recgym.solvers.ExactSolver``). A learner: over the vertices (and 0 where the
        payoff searches it) of the served game, certified only where serving ignores
        the scores (uniform serving, or a floor of 1), since the rule's certificates
        are about payoffs of the own rating alone and a served payoff depends on the
        rating and the score.
        """
        game = self.served_game(rule)
        if game is None or not self.active.any():
            return 0.0, True
        if self.platform.oracle:
            result = ExactSolver(game).nash_conv(self.profile, "strategy_set", self.active)
            return result.value / self.game.total_weight, bool(result.certified)
        table = self.platform.table(game, self.platform.producer_scores(game, self._rows()))
        counts = np.bincount(self.directions[self.active], minlength=game.n_vertices)
        gains = [float(values.max() - values[self.directions[i]])
                 for i in np.flatnonzero(self.active)
                 for values in (table(self.directions, counts, int(i), self.active),)]
        certified = game.rule.ignores_ratings or game.rule.floor == 1.0
        return float(sum(gains)) / self.game.total_weight, bool(certified)

    def welfare_of(self, serving: Serving | None) -> dict[str, float]:
        """User and producer welfare and each SCF, per starting user (0 with nobody left)."""
        names = ["user_welfare", "producer_welfare", *map(welfare.name_of, self.scfs)]
        if serving is None:
            return dict.fromkeys(names, 0.0)
        utilities = self.population.per_start_user(serving.utilities)
        values = [utilities.user_total / utilities.total_weight,
                  float(utilities.payoff[utilities.active].sum()) / utilities.total_weight]
        values += [welfare.value(scf, utilities) for scf in self.scfs]
        return dict(zip(names, values, strict=True))


def _weighted(values: np.ndarray, weights: np.ndarray | None) -> float:
    """``sum_k w_k x_k`` (``w = 1`` when ``None``)."""
    return float(values.sum() if weights is None else values @ weights)


def _record_epochs(record: object, epochs: int, n_users: int, dim: int) -> np.ndarray:
    """Epochs whose users are kept: ``None`` (all up to ``RECORD_BYTES``, else the first
    and last), ``"all"``, ``"none"`` or explicit epochs in ``0..E``."""
    if record is None:
        fits = (epochs + 1) * n_users * dim * 8 <= RECORD_BYTES
        return np.arange(epochs + 1) if fits else np.unique([0, epochs])
    if isinstance(record, str):
        if record == "all":
            return np.arange(epochs + 1)
        if record == "none":
            return np.zeros(0, dtype=np.int64)
        raise ValueError(f"record must be None, 'all', 'none' or epochs in 0..{epochs}, "
                         f"got {record!r}")
    if not isinstance(record, Iterable):
        raise ValueError(f"record must be None, 'all', 'none' or epochs in 0..{epochs}, "
                         f"got {record!r}")
    chosen = [check_int("record", t, 0) for t in record]
    if any(t > epochs for t in chosen):
        raise ValueError(f"record must name epochs in 0..{epochs}, got {sorted(chosen)}")
    return np.unique(np.asarray(chosen, dtype=np.int64))


def _scfs(scf: object) -> list[welfare.SocialChoice]:
    """The requested SCFs (``None``, one spec or callable, or a sequence of them)."""
    if scf is None:
        return []
    items = [scf] if isinstance(scf, str) or callable(scf) else list(scf)
    parsed = []
    for item in items:
        try:
            parsed.append(welfare.parse(item))
        except ValueError as exc:
            raise ValueError(f"scf: {exc}") from None
    names = {"user_welfare", "producer_welfare"}
    unique = []
    for item in parsed:
        if welfare.name_of(item) not in names:
            names.add(welfare.name_of(item))
            unique.append(item)
    return unique


def coevolve(users: object = None, n_producers: int | None = None, rule: str | ServingRule |
             None = None, payoff: str | None = None, user_dynamics: str | UserDynamics = "static",
             user_outside_option: float = 0.0, user_patience: int = 1, epochs: int = 50,
             moves_per_epoch: int = 5, seed: int = 0, scf: object = None, record: object = None,
             *, temperature: float | None = None, k: int | None = None,
             floor: float | None = None, outside_option: object = None,
             dim: int | None = None, n_users: int | None = None, users_seed: int = 0,
             users_path: str | None = None, learner: str | Learner = "oracle",
             impressions: int = 1, elicit: int = 0, behavior: str = "best_response",
             progress: Any = None) -> Trajectory:
    """Run the ecosystem for ``epochs`` epochs (module docstring) and record it.

    Parameters
    ----------
    users : None, array (K, d), str or EngagementGame
        As ``recgym.parallel_env`` (synthetic uniform users by default, an array used as
        given, or a data set name), or a whole game (then ``n_producers``, ``rule`` and
        its parameters, ``payoff`` and ``outside_option`` come from it).
    n_producers : int >= 1
        Default 10.
    rule, temperature, k, floor : optional
        The serving rule (spec string or object; default ``"softmax"``).
    payoff : str, optional
        The producers' payoff (default ``"engagement"``).
    user_dynamics : str or UserDynamics
        ``"static"`` (default), ``"exposure:rate=b"``, ``"engagement:rate=e"`` or a
        registered model of your own.
    user_outside_option : float >= 0
        ``w``, per user and epoch.
    user_patience : int >= 1
        ``P``.
    epochs : int >= 0
    moves_per_epoch : int >= 1
    seed : int >= 0
        The producers' stream.
    scf : SCF spec, callable or sequence of them, optional
        Extra history columns (``recgym.welfare``).
    record : None, "all", "none" or epochs
        Which epochs' users to keep (module docstring).
    outside_option : float or array (n,), optional
        The producers' outside options per user (default 0).
    dim, n_users, users_seed, users_path
        As ``recgym.parallel_env``.
    learner : str or Learner
        How the platform serves and learns its users (``recgym.learners``): ``"oracle"``
        (default: the true ratings, no learning), ``"greedy"``, ``"epsilon:eps=x"``,
        ``"ucb:alpha=a"``, ``"thompson:scale=v"``, each with ``lam``.
    impressions : int >= 1
        Impressions (and clicks) per active user and epoch.
    elicit : int >= 0
        Questions per user before epoch 1.
    behavior : str
        The producers' behaviour: ``"best_response"`` (default, the paper's) or
        ``"quantal:rationality=l"`` (``recgym.behaviors``).
    progress : callable(row), optional
        Called with each epoch's history row as it finishes.

    Returns
    -------
    Trajectory

    Raises
    ------
    ValueError
        Naming the argument: a model or parameter unknown or out of range, NaN, a
        ``user_patience`` below 1 or not an integer, a negative or NaN
        ``user_outside_option``, ``epochs < 0``, ``moves_per_epoch < 1``.
    """
    game = _game_of(users, n_producers, rule, payoff, temperature, k, floor, outside_option,
                    dim, n_users, users_seed, users_path)
    epochs = check_int("epochs", epochs, 0)
    scfs = _scfs(scf)
    engine = Coevolution(game, user_dynamics, user_outside_option, user_patience,
                         moves_per_epoch, check_int("seed", seed, 0), scfs, learner,
                         impressions, elicit, behavior=behavior)
    copies = 1 if engine.platform.oracle else 2  # the users, and a learner's estimates
    recorded = _record_epochs(record, epochs, game.n_users, game.dim * copies)
    keep = set(recorded.tolist())
    users_kept = [np.array(game.users)] if 0 in keep else []
    learning = not engine.platform.oracle  # the oracle's estimates are the users
    estimates_kept = [engine.estimates()] if 0 in keep and learning else []
    profiles = [engine.profile]
    active_users = [engine.population.active.copy()]
    active_producers = [engine.active.copy()]
    rows = []
    for _ in range(epochs):
        row, _ = engine.step()
        rows.append(row)
        if engine.epoch in keep:
            users_kept.append(np.array(engine.population.users))
            if learning:
                estimates_kept.append(engine.estimates())
        profiles.append(engine.profile)
        active_users.append(engine.population.active.copy())
        active_producers.append(engine.active.copy())
        if progress is not None:
            progress(row)
    import pandas as pd  # loaded on use: `recgym --help` stays light

    columns = [*HISTORY_COLUMNS, *map(welfare.name_of, scfs)]
    history = pd.DataFrame(rows, columns=columns)
    config = {"n_users": game.n_users, "dim": game.dim, "n_producers": game.n_producers,
              "rule": game.rule.spec, "payoff": game.payoff.spec,
              "user_dynamics": engine.population.model.spec,
              "user_outside_option": engine.population.outside_option,
              "user_patience": engine.population.patience, "epochs": epochs,
              "moves_per_epoch": engine.moves_per_epoch, "seed": seed,
              "scf": [welfare.name_of(s) for s in scfs],
              "learner": engine.platform.learner.spec, "impressions": engine.platform.impressions,
              "elicit": engine.platform.elicit, "behavior": engine.behavior.spec}
    shape = (0, game.n_users, game.dim)
    users_record = np.stack(users_kept) if users_kept else np.zeros(shape)
    return Trajectory(users_record, recorded,
                      np.stack(profiles), np.stack(active_users), np.stack(active_producers),
                      history, config,
                      (np.stack(estimates_kept) if estimates_kept else np.zeros(shape))
                      if learning else users_record)


def _game_of(users: object, n_producers: int | None, rule: object, payoff: str | None,
             temperature: float | None, k: int | None, floor: float | None,
             outside_option: object, dim: int | None, n_users: int | None, users_seed: int,
             users_path: str | None) -> EngagementGame:
    """The starting game: ``users`` itself, or built from the arguments."""
    if isinstance(users, EngagementGame):
        given = {"n_producers": n_producers, "rule": rule, "payoff": payoff,
                 "temperature": temperature, "k": k, "floor": floor,
                 "outside_option": outside_option, "dim": dim, "n_users": n_users}
        clash = [name for name, value in given.items() if value is not None]
        if clash:
            raise ValueError(f"users is an EngagementGame, which sets {', '.join(clash)}; "
                             "pass them to the game instead")
        return users
    matrix = resolve_users(users, dim, n_users, users_seed, users_path)
    return EngagementGame(matrix, 10 if n_producers is None else n_producers,
                          "softmax" if rule is None else rule, temperature, k, floor=floor,
                          payoff="engagement" if payoff is None else payoff,
                          outside_option=0.0 if outside_option is None else outside_option)
