"""The paper's best-response dynamics over vertices, with creators who can leave.

Random numbers are consumed exactly as in the paper, from a legacy
``numpy.random.RandomState``:

1. ``dirs = rng.choice(d, n)``: producer ``i`` starts on ``e_{dirs[i]}`` (skipped
   when ``init`` is given).
2. Each iteration draws ``order = rng.permutation(n)`` over **all** ``n`` producers
   and scans them in that order, skipping producers that left. A producer on
   vertex ``a`` compares its payoff at ``a`` with each vertex ``b = 0..V-1`` (the
   basis vectors, then the zero strategy for payoffs that search it), keeping the
   first strictly better one.
3. **Exit.** If that best payoff per user (divided by the total user weight) is
   below the producer's outside option ``o_i``, the producer leaves: it is no longer
   served, its exit ends the iteration and counts as one. Exits are permanent.
4. **Move.** Otherwise, the first producer whose best vertex differs from its own
   moves there; the iteration ends.
5. If nobody moves or leaves the profile is a vertex equilibrium: ``converged=True``
   and ``iterations`` = the number of moves and exits made.
6. After ``max_iter`` iterations with an event each: ``converged=False`` and
   ``iterations = max_iter - 1`` (the paper's convention).

With every outside option 0 and a non-negative payoff nobody ever leaves and the
run is the paper's, bit for bit. Producers on the same vertex face the same
problem (where the rule is symmetric), so within one iteration each occupied
vertex is evaluated at most once.

**Cost of effort** (``EngagementGame(cost=...)``, ``recgym.producers``): a visited
producer moves to the best point of the rays ``t e_j`` (``recgym.solvers.rays``; the
zero strategy is the vertex ``d``) when it beats its current payoff by more than
``MOVE_TOL`` per user; everything else, the random stream included, is as above. With
``kappa = 0`` for everybody the run is the paper's, bit for bit (the vertex path).
``DynamicsResult.levels`` holds each producer's effort ``t``.

``callback(event, directions)`` is called after every move or exit; the
environment path (``agents``) uses it to play each move in the environment.

**Boundedly rational producers** (``behavior=``, ``recgym.behaviors``). Both draw from a
``numpy.random.Generator`` of their own, ``SeedSequence([BEHAVIOR_STREAM,
behavior_seed])`` (``behavior_seed`` defaults to ``seed``), so the legacy stream above is
consumed exactly as the paper's:

* ``quantal:rationality=l``: as above, except that a visited active producer that does
  not exit picks a vertex by the logit rule (one uniform from the behaviour stream per
  visit); a pick other than its own vertex is a move (its ``gain`` may be negative). The
  run stops when a full pass picks no move and no exit.
* ``hedge:rate=h``: ``max_iter`` rounds. Round 1 plays the starting vertices; every
  round ``t`` each producer sees its payoff at every vertex against the others' play
  (per user), adds ``h / sqrt(t)`` times it to its log-weights (the anytime rate, so
  the average regret falls as ``O(1 / sqrt(T))``), and the next round's vertices are
  drawn from the normalised weights (one uniform per producer and round, in index
  order). Reported: the last play, ``average_profile`` (the time average of the mixed
  strategies played, as embeddings ``(n, d)``), each producer's average regret against
  its best fixed vertex and the largest, ``max_average_regret`` (per user, per round),
  which falls toward 0 as the rounds grow. Hedge producers never leave: games whose
  producers may leave are refused.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from recgym._validation import check_directions, check_int
from recgym.behaviors import BEHAVIOR_STREAM, Behavior, Hedge, Quantal, make_behavior
from recgym.game import EngagementGame
from recgym.solvers.rays import ray_search
from recgym.solvers.vertex_table import VertexTable

#: With a cost of effort, a move must gain more than this per user (the ray search is
#: exact to about ``1e-9`` per user, so re-solving an optimum is no move).
MOVE_TOL = 1e-8
#: Vertex profiles whose payoff tables a hedge run keeps (play tends to settle).
HEDGE_MEMO = 4096


@dataclass(frozen=True)
class Move:
    """One move of the dynamics: ``producer`` left vertex ``source`` for ``target``.

    ``gain`` is the mover's payoff increase (sum over users); ``iteration`` counts
    from 0; ``level`` is the effort ``t`` of the new strategy ``t e_target`` (1 unless
    effort costs).
    """

    iteration: int
    producer: int
    source: int
    target: int
    gain: float
    level: float = 1.0


class Exit(NamedTuple):
    """``producer`` left the game in ``iteration`` (its best payoff fell below its option)."""

    iteration: int
    producer: int


Event = Move | Exit
#: ``callback(event, directions (n,))`` after each move or exit.
EventCallback = Callable[[Event, np.ndarray], None]


@dataclass(frozen=True)
class DynamicsResult:
    """Outcome of one run of the best-response dynamics.

    Attributes
    ----------
    converged : bool
        True if the run stopped at a vertex equilibrium.
    iterations : int
        Moves and exits made if converged, else ``max_iter - 1``.
    directions : int array, shape (n,)
        Final vertex of every producer (exited ones: their last vertex).
    counts : int array, shape (d,)
        Active producers per feature at the end.
    profile : array, shape (n, d)
        Final profile (``game.vertex_profile(directions)``).
    moves : tuple of Move
        Every move, in order.
    active : bool array, shape (n,)
        Producers still in the game.
    exits : tuple of Exit
        Every exit ``(iteration, producer)``, in order.
    average_profile : array (n, d) or None
        ``hedge`` only: the time-averaged mixed play, as embeddings.
    average_regret : array (n,) or None
        ``hedge`` only: each producer's average regret (per user, per round).
    max_average_regret : float or None
        ``hedge`` only: the largest average regret.
    played : int array (rounds, n) or None
        ``hedge`` only: the vertices every producer played in each round (the empirical
        distribution of play, which no-regret guarantees are about).
    regret_by_round : array (rounds,) or None
        ``hedge`` only: ``max_average_regret`` after each round.
    levels : array (n,) or None
        With a cost of effort: each producer's effort ``t`` (``profile = t e_j``; 0 at the
        zero strategy, the vertex ``d``).
    """

    converged: bool
    iterations: int
    directions: np.ndarray
    counts: np.ndarray
    profile: np.ndarray
    moves: tuple[Move, ...]
    active: np.ndarray
    exits: tuple[Exit, ...] = ()
    average_profile: np.ndarray | None = None
    average_regret: np.ndarray | None = None
    max_average_regret: float | None = None
    levels: np.ndarray | None = None
    played: np.ndarray | None = None
    regret_by_round: np.ndarray | None = None


def as_random_state(seed: int | np.random.RandomState) -> np.random.RandomState:
    """An ``int`` seeds a new legacy ``RandomState``; a ``RandomState`` is continued."""
    if isinstance(seed, np.random.RandomState):
        return seed
    if isinstance(seed, np.random.Generator):
        raise TypeError("seed must be an int or a numpy.random.RandomState (the paper's "
                        "legacy stream), got a numpy.random.Generator")
    return np.random.RandomState(check_int("seed", seed, 0))


def start_directions(game: EngagementGame, rng: np.random.RandomState,
                     init: object | None = None) -> np.ndarray:
    """The starting vertices ``(n,)``: ``init`` if given, else ``rng.choice(d, n)``."""
    if init is None:
        return rng.choice(game.dim, game.n_producers).astype(np.int64)
    return check_directions("init", init, game.n_producers, game.n_vertices)


def best_response_dynamics(game: EngagementGame, seed: int | np.random.RandomState = 0,
                           max_iter: int = 500, init: object | None = None,
                           callback: EventCallback | None = None,
                           behavior: str | Behavior = "best_response",
                           behavior_seed: int | None = None) -> DynamicsResult:
    """Run the paper's best-response dynamics on ``game`` (module docstring).

    Parameters
    ----------
    game : EngagementGame
    seed : int or numpy.random.RandomState
        An ``int`` starts a new stream; a ``RandomState`` is continued (the paper's
        experiment loops share one across runs).
    max_iter : int >= 1
        Iterations (rounds for ``hedge``).
    init : int array, shape (n,), optional
        Starting vertex per producer; when given, no ``rng.choice`` is drawn.
    callback : callable(event, directions), optional
        Called after every move or exit with the new directions ``(n,)``.
    behavior : str or Behavior
        ``"best_response"`` (default, the paper's), ``"quantal:rationality=l"`` or
        ``"hedge:rate=h"`` (``recgym.behaviors``).
    behavior_seed : int >= 0, optional
        Seed of the behaviour's own stream (default ``seed``, or 0 for a ``RandomState``).

    Returns
    -------
    DynamicsResult
    """
    rng = as_random_state(seed)
    max_iter = check_int("max_iter", max_iter, 1)
    chosen = make_behavior(behavior)
    stream = None
    if chosen.random:
        if behavior_seed is None:
            behavior_seed = 0 if isinstance(seed, np.random.RandomState) else int(seed)
        stream = np.random.default_rng(np.random.SeedSequence(
            [BEHAVIOR_STREAM, check_int("behavior_seed", behavior_seed, 0)]))
    if game.has_cost and chosen.NAME != "best_response":
        raise ValueError(f"behavior {chosen.spec!r} chooses among the vertices; with a cost "
                         "of effort the producers best respond along the rays "
                         "(behavior='best_response')")
    if isinstance(chosen, Hedge):
        return _hedge(game, chosen, start_directions(game, rng, init), max_iter, stream)
    state_type = RayState if game.has_cost else DynamicsState
    state = state_type(game, start_directions(game, rng, init))
    if isinstance(chosen, Quantal):
        state = QuantalState(game, state.directions, chooser=chosen, stream=stream)
    for iteration in range(max_iter):
        event = state.first_event(rng.permutation(game.n_producers), iteration)
        if event is None:
            return state.result(True, iteration)
        state.apply(event)
        if callback is not None:
            callback(event, state.directions.copy())
    return state.result(False, max_iter - 1)


def _hedge(game: EngagementGame, hedge: Hedge, start: np.ndarray, rounds: int,
           stream: np.random.Generator) -> DynamicsResult:
    """Every producer runs Hedge over the vertices for ``rounds`` rounds (module docstring)."""
    if game.producers_may_leave:
        raise ValueError("behavior 'hedge': hedge producers never leave; the game's producers "
                         "may (an outside option above 0 or the marginal payoff)")
    n, n_vertices = game.n_producers, game.n_vertices
    table = VertexTable(game)
    directions = start.copy()
    mixed = np.eye(n_vertices)[directions]  # round 1 plays the starting vertices
    log_weights = np.zeros((n, n_vertices))
    played_sum = np.zeros((n, n_vertices))
    vertex_total = np.zeros((n, n_vertices))  # sum over rounds of each vertex's payoff
    realised = np.zeros(n)
    played = np.zeros((rounds, n), dtype=np.int64)
    by_round = np.zeros(rounds)
    tables: dict[bytes, np.ndarray] = {}  # play often settles: a profile's tables, once
    for round_ in range(1, rounds + 1):
        played[round_ - 1] = directions
        key = directions.tobytes()
        if key not in tables:
            if len(tables) >= HEDGE_MEMO:
                tables.clear()
            counts = np.bincount(directions, minlength=n_vertices)
            tables[key] = _all_tables(table, directions, counts) / game.total_weight
        values = tables[key]  # (n, V)
        played_sum += mixed
        vertex_total += values
        realised += values[np.arange(n), directions]
        by_round[round_ - 1] = ((vertex_total.max(axis=1) - realised) / round_).max()
        mixed = hedge.update(log_weights, values, round_)  # anytime rate h / sqrt(t)
        directions = hedge.draw(mixed, stream)
    regret = (vertex_total.max(axis=1) - realised) / rounds
    average = played_sum / rounds
    last = directions
    return DynamicsResult(False, rounds, last, np.bincount(last, minlength=n_vertices)[:game.dim],
                          game.vertex_profile(last), (), np.ones(n, dtype=bool), (),
                          average @ game.vertices, regret, float(regret.max()),
                          played=played, regret_by_round=by_round)


def _all_tables(table: VertexTable, directions: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Every producer's payoffs at every vertex ``(n, V)`` (shared per vertex where the
    rule is symmetric)."""
    shared: dict[int, np.ndarray] = {}
    rows = []
    for producer, own in enumerate(directions.tolist()):
        key = own if table.symmetric else -1 - producer
        if key not in shared:
            shared[key] = table(directions, counts, producer)
        rows.append(shared[key])
    return np.stack(rows)


class DynamicsState:
    """Where the dynamics stand: every producer's vertex, who is active, what happened.

    Parameters
    ----------
    game : EngagementGame
    directions : int array (n,)
        Starting vertices.
    active : bool array (n,), optional
        Producers in the game (default: all).
    table : VertexTable, optional
        The payoffs at every vertex (default ``VertexTable(game)``; the epoch engine
        passes the table of the game the platform's serving makes).
    """

    def __init__(self, game: EngagementGame, directions: np.ndarray,
                 active: np.ndarray | None = None, table: VertexTable | None = None) -> None:
        self.game = game
        self.table = VertexTable(game) if table is None else table
        self.directions = np.array(directions, dtype=np.int64)
        self.active = np.ones(game.n_producers, dtype=bool) if active is None else \
            np.array(active, dtype=bool)
        self.counts = np.bincount(self.directions[self.active], minlength=game.n_vertices)
        self.moves: list[Move] = []
        self.exits: list[Exit] = []

    def copy(self) -> DynamicsState:
        """An independent state at the same point (the game and its table are shared)."""
        other = copy.copy(self)
        other.directions, other.active = self.directions.copy(), self.active.copy()
        other.counts = self.counts.copy()
        other.moves, other.exits = list(self.moves), list(self.exits)
        return other

    def first_event(self, order: np.ndarray, iteration: int) -> Event | None:
        """The exit or move of the first producer in ``order`` that has one."""
        decided: dict[int, tuple[int, float, float]] = {}
        for producer in order:
            producer = int(producer)
            if not self.active[producer]:
                continue
            own = int(self.directions[producer])
            key = own if self.table.symmetric else producer
            if key not in decided:
                values = self.table(self.directions, self.counts, producer, self.active)
                best = int(np.argmax(values))  # first index of the maximum
                if values[best] > values[own]:
                    decided[key] = (best, float(values[best] - values[own]),
                                    float(values[best]))
                else:
                    decided[key] = (own, 0.0, float(values[own]))
            target, gain, best_value = decided[key]
            if best_value / self.game.total_weight < self.game.outside_option[producer]:
                return Exit(iteration, producer)
            if target != own:
                return Move(iteration, producer, own, target, gain)
        return None

    def apply(self, event: Event) -> None:
        """Make ``event`` happen."""
        if isinstance(event, Exit):
            self.active[event.producer] = False
            self.counts[self.directions[event.producer]] -= 1
            self.exits.append(event)
            return
        self.directions[event.producer] = event.target
        self.counts[event.source] -= 1
        self.counts[event.target] += 1
        self.moves.append(event)

    def result(self, converged: bool, iterations: int) -> DynamicsResult:
        """The run's outcome so far."""
        game = self.game
        return DynamicsResult(converged, iterations, self.directions.copy(),
                              self.counts[:game.dim].copy(),
                              game.vertex_profile(self.directions), tuple(self.moves),
                              self.active.copy(), tuple(self.exits))


class QuantalState(DynamicsState):
    """The dynamics with quantal producers: a visited producer picks its vertex by the
    logit rule (``recgym.behaviors.Quantal``) instead of the first better one.

    Parameters
    ----------
    game, directions, active, table
        As ``DynamicsState``.
    chooser : Quantal
    stream : numpy.random.Generator
        The behaviour's stream (one uniform per visit of an active producer that stays).
    """

    def __init__(self, game: EngagementGame, directions: np.ndarray,
                 active: np.ndarray | None = None, table: VertexTable | None = None, *,
                 chooser: Quantal, stream: np.random.Generator) -> None:
        super().__init__(game, directions, active, table)
        self.chooser = chooser
        self.stream = stream

    def first_event(self, order: np.ndarray, iteration: int) -> Event | None:
        tables: dict[int, np.ndarray] = {}
        for producer in order.tolist():
            if not self.active[producer]:
                continue
            own = int(self.directions[producer])
            key = own if self.table.symmetric else -1 - producer
            if key not in tables:
                tables[key] = self.table(self.directions, self.counts, producer, self.active)
            values = tables[key]
            if values.max() / self.game.total_weight < self.game.outside_option[producer]:
                return Exit(iteration, producer)
            target = self.chooser.choose(values, self.stream)
            if target != own:
                return Move(iteration, producer, own, target, float(values[target] - values[own]))
        return None


class RayState(DynamicsState):
    """The dynamics when effort costs: each producer plays ``t_i e_{j_i}`` (``levels``
    ``t`` in ``[0, 1]``; the zero strategy is the vertex ``d``) and a visited producer
    moves to the best point of the rays (module docstring).

    Parameters
    ----------
    game, directions, active
        As ``DynamicsState`` (the table is not used).
    levels : array (n,), optional
        Starting efforts (default 1: the vertices).
    """

    def __init__(self, game: EngagementGame, directions: np.ndarray,
                 active: np.ndarray | None = None, table: VertexTable | None = None,
                 levels: np.ndarray | None = None) -> None:
        super().__init__(game, directions, active, table)
        self.levels = np.ones(game.n_producers) if levels is None else \
            np.array(levels, dtype=float)

    def copy(self) -> RayState:
        other = super().copy()
        other.levels = self.levels.copy()
        return other

    @property
    def profile(self) -> np.ndarray:
        """``t_i e_{j_i}`` ``(n, d)``."""
        return self.levels[:, None] * self.game.vertices[self.directions]

    def first_event(self, order: np.ndarray, iteration: int) -> Event | None:
        game = self.game
        profile = self.profile
        shared = game.rule.symmetric and game.identical_producers
        decided: dict[object, tuple[int, float, float, float]] = {}
        for producer in order.tolist():
            if not self.active[producer]:
                continue
            own = int(self.directions[producer])
            key = (own, float(self.levels[producer])) if shared else producer
            if key not in decided:
                view = game.others(profile, producer, self.active)
                current = float(game.payoff_of(profile[producer][None, :], view)[0])
                ray = ray_search(game, view)
                if ray.value > current + MOVE_TOL * game.total_weight:
                    target = ray.feature if ray.level > 0 else game.dim
                    decided[key] = (target, ray.level, ray.value - current, ray.value)
                else:
                    decided[key] = (own, float(self.levels[producer]), 0.0, current)
            target, level, gain, best_value = decided[key]
            if best_value / game.total_weight < game.outside_option[producer]:
                return Exit(iteration, producer)
            if gain > 0:
                return Move(iteration, producer, own, target, gain, level)
        return None

    def apply(self, event: Event) -> None:
        super().apply(event)
        if isinstance(event, Move):
            self.levels[event.producer] = event.level

    def result(self, converged: bool, iterations: int) -> DynamicsResult:
        base = super().result(converged, iterations)
        return dataclasses.replace(base, profile=self.profile, levels=self.levels.copy())
