"""The paper's best-response dynamics over basis vectors (model.md section 5).

Random numbers are consumed exactly as in the paper, from a legacy
``numpy.random.RandomState``:

1. ``dirs = rng.choice(d, n)``: producer ``i`` starts on ``e_{dirs[i]}`` (skipped
   when ``init`` is given).
2. Each iteration draws ``order = rng.permutation(n)`` and scans producers in that
   order. A producer on ``e_a`` compares its utility at ``e_a`` with each ``e_b``,
   ``b = 0..d-1``, keeping the first strictly better one. The first producer whose
   best vertex differs from its own moves there; the iteration ends.
3. If nobody moves the profile is a vertex equilibrium: ``converged=True`` and
   ``iterations`` = the number of moves made.
4. After ``max_iter`` iterations with a move each: ``converged=False`` and
   ``iterations = max_iter - 1`` (the paper's convention).

Producers on the same vertex face the same problem, so within one iteration each
occupied vertex is evaluated at most once (not for top-k, whose ties depend on
indices).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from agents.vertex_utilities import VertexUtilities
from recgym._validation import check_directions, check_int
from recgym.game import EngagementGame


@dataclass(frozen=True)
class Move:
    """One move of the dynamics: ``producer`` left ``e_source`` for ``e_target``.

    ``gain`` is the mover's utility increase (sum over users); ``iteration`` counts
    from 0.
    """

    iteration: int
    producer: int
    source: int
    target: int
    gain: float


@dataclass(frozen=True)
class DynamicsResult:
    """Outcome of one run of the best-response dynamics.

    Attributes
    ----------
    converged : bool
        True if the run stopped at a vertex equilibrium.
    iterations : int
        Moves made if converged, else ``max_iter - 1``.
    directions : int array, shape (n,)
        Final vertex of every producer.
    counts : int array, shape (d,)
        Producers per feature at the end.
    profile : array, shape (n, d)
        Final profile (basis vectors).
    moves : tuple of Move
        Every move, in order.
    """

    converged: bool
    iterations: int
    directions: np.ndarray
    counts: np.ndarray
    profile: np.ndarray
    moves: tuple[Move, ...]


MoveCallback = Callable[[Move, np.ndarray], None]


def as_random_state(seed: int | np.random.RandomState) -> np.random.RandomState:
    """An ``int`` seeds a new legacy ``RandomState``; a ``RandomState`` is continued."""
    if isinstance(seed, np.random.RandomState):
        return seed
    if isinstance(seed, np.random.Generator):
        raise TypeError("seed must be an int or a numpy.random.RandomState (the paper's "
                        "legacy stream), got a numpy.random.Generator")
    return np.random.RandomState(check_int("seed", seed, 0))


def best_response_dynamics(game: EngagementGame, seed: int | np.random.RandomState = 0,
                           max_iter: int = 500, init: object | None = None,
                           callback: MoveCallback | None = None) -> DynamicsResult:
    """Run the paper's best-response dynamics on ``game``.

    Parameters
    ----------
    game : EngagementGame
    seed : int or numpy.random.RandomState
        An ``int`` starts a new stream; a ``RandomState`` is continued (the paper's
        experiment loops share one across runs).
    max_iter : int >= 1
    init : int array, shape (n,), optional
        Starting vertex per producer; when given, no ``rng.choice`` is drawn.
    callback : callable(move, directions), optional
        Called after every move with the new directions ``(n,)``.

    Returns
    -------
    DynamicsResult
    """
    rng = as_random_state(seed)
    max_iter = check_int("max_iter", max_iter, 1)
    n, d = game.n_producers, game.dim
    if init is None:
        directions = rng.choice(d, n)
    else:
        directions = check_directions("init", init, n, d)
    directions = directions.astype(np.int64)
    counts = np.bincount(directions, minlength=d)
    utilities = VertexUtilities(game)
    moves: list[Move] = []
    for iteration in range(max_iter):
        order = rng.permutation(n)
        move = first_move(utilities, directions, counts, order, iteration)
        if move is None:
            return _result(game, True, iteration, directions, counts, moves)
        directions[move.producer] = move.target
        counts[move.source] -= 1
        counts[move.target] += 1
        moves.append(move)
        if callback is not None:
            callback(move, directions.copy())
    return _result(game, False, max_iter - 1, directions, counts, moves)


def first_move(utilities: VertexUtilities, directions: np.ndarray, counts: np.ndarray,
                order: np.ndarray, iteration: int) -> Move | None:
    """The move of the first producer in ``order`` that has a strictly better vertex."""
    decided: dict[int, tuple[int, float]] = {}
    for producer in order:
        own = int(directions[producer])
        key = own if utilities.symmetric else int(producer)
        if key not in decided:
            values = utilities(directions, counts, int(producer))
            best = int(np.argmax(values))  # first index of the maximum
            if values[best] > values[own]:
                decided[key] = (best, float(values[best] - values[own]))
            else:
                decided[key] = (own, 0.0)
        target, gain = decided[key]
        if target != own:
            return Move(iteration, int(producer), own, target, gain)
    return None


def _result(game: EngagementGame, converged: bool, iterations: int, directions: np.ndarray,
            counts: np.ndarray, moves: list[Move]) -> DynamicsResult:
    return DynamicsResult(converged, iterations, directions.copy(), counts.copy(),
                          game.vertex_profile(directions), tuple(moves))
