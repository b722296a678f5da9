r"""Exact best responses and NashConv in the engagement game (model.md section 4).

Producer ``i``'s best response maximises its engagement
``u_i(s) = sum_k p_i(c_k) <c_k, s>`` over ``S = {s >= 0, sum(s) <= 1}`` with the
others fixed.

**Vertex search.** ``u_i`` is a sum of per-user terms ``f_k(<c_k, s>)``. When every
``f_k`` is convex on the ratings user ``k`` can give, ``u_i`` is convex on ``S`` and
its maximum is at a vertex: a basis vector ``e_j`` (the vertex 0 earns nothing).
This holds for ``linear`` and ``uniform`` always, and for ``softmax`` (and ``topk``
with ``k >= n``) when, for every user, ``T >= x_max_k / 2`` or
``exp(x_max_k / T) <= sum_{j != i} exp(r_kj / T)``, with ``x_max_k = max_f c_kf`` the
actual largest rating (``recgym.rules``). Then the answer is ``certified``.

**Otherwise** (small ``T`` and few producers, top-k with ``k < n``) the vertex
answer is only a heuristic, so the continuous set is searched too: projected
gradient ascent (``agents.continuous_search``) from every vertex, the current
strategy, the simplex centre and ``n_random_starts`` random points. The better
strategy is returned with ``certified=False``.

**NashConv** (OpenSpiel's definition): ``sum_i (max_s u_i(s, s_-i) - u_i(s_i, s_-i))``,
zero exactly at a Nash equilibrium; exploitability is NashConv / n. Over basis
vectors only (``over="vertices"``) the maximum is over ``{e_j} ∪ {s_i}``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.continuous_search import ascend, utility
from agents.dynamics import DynamicsResult, MoveCallback, best_response_dynamics
from agents.env_agent import best_response_action, dynamics_through_env
from agents.vertex_utilities import VertexUtilities
from recgym._validation import check_int
from recgym.game import EngagementGame
from recgym.rules import Others

SEARCH_SETS = ("simplex", "vertices")


@dataclass(frozen=True)
class BestResponseResult:
    """A best response of one producer.

    Attributes
    ----------
    strategy : array, shape (d,)
        The best strategy found (the current one if nothing beats it).
    utility : float
        Its engagement (sum over users).
    current_utility : float
        Engagement of the current strategy.
    certified : bool
        True when ``strategy`` is proven optimal over the searched set.
    method : str
        ``"current"``, ``"vertex"`` or ``"continuous"``: where ``strategy`` came from.
    """

    strategy: np.ndarray
    utility: float
    current_utility: float
    certified: bool
    method: str

    @property
    def gain(self) -> float:
        """``utility - current_utility`` (>= 0)."""
        return self.utility - self.current_utility


@dataclass(frozen=True)
class NashConvResult:
    """NashConv of a profile.

    Attributes
    ----------
    value : float
        ``sum(gains)``; a lower bound on the true value unless ``certified``.
    gains : array, shape (n,)
        Each producer's best-response utility minus its current utility.
    utilities : array, shape (n,)
        Each producer's current engagement.
    certified : bool
        True when every best response is proven optimal over the searched set.
    over : str
        ``"simplex"`` (the full strategy set) or ``"vertices"`` (basis vectors).
    """

    value: float
    gains: np.ndarray
    utilities: np.ndarray
    certified: bool
    over: str

    @property
    def exploitability(self) -> float:
        """NashConv / n."""
        return self.value / len(self.gains)

    @property
    def relative(self) -> float:
        """NashConv relative to total producer engagement (``nan`` if that is 0)."""
        total = float(self.utilities.sum())
        return self.value / total if total > 0 else float("nan")


class BestResponse:
    """Exact best responses, NashConv and the paper's dynamics for one game.

    Parameters
    ----------
    game : EngagementGame or a recgym environment
        An environment contributes its ``game`` (and its state, for actions).
    n_random_starts : int >= 0
        Random interior starts of the continuous search, besides every vertex,
        the current strategy and the simplex centre.
    max_steps : int >= 1
        Gradient steps per start of the continuous search.
    seed : int
        Seeds the random starts (the same inputs always give the same answer).
    """

    def __init__(self, game: object, n_random_starts: int = 16, max_steps: int = 300,
                 seed: int = 0) -> None:
        self.env = None
        if not isinstance(game, EngagementGame):
            inner = getattr(getattr(game, "unwrapped", game), "game", None)
            if not isinstance(inner, EngagementGame):
                raise TypeError("game must be a recgym.EngagementGame or a recgym environment, "
                                f"got {type(game).__name__}")
            self.env, game = game, inner
        self.game: EngagementGame = game
        self.n_random_starts = check_int("n_random_starts", n_random_starts, 0)
        self.max_steps = check_int("max_steps", max_steps, 1)
        self.seed = check_int("seed", seed, 0)
        self._vertex_utilities = VertexUtilities(game)

    def best_response(self, profile: object, producer: int,
                      over: str = "simplex") -> BestResponseResult:
        """Best response of ``producer`` to the others in ``profile`` ``(n, d)``.

        ``over="vertices"`` searches only the basis vectors (and keeps the current
        strategy if it is better); ``certified`` then means optimal among those.
        """
        profile = self.game.check_profile(profile)
        producer = self._check_producer(producer)
        if over not in SEARCH_SETS:
            raise ValueError(f"over must be one of {SEARCH_SETS}, got {over!r}")
        users, rule = self.game.users, self.game.rule
        others = rule.summarize_others(users @ profile.T, producer)
        current, vertex_values = self._vertex_values(profile, producer, others)
        best = int(np.argmax(vertex_values))
        if vertex_values[best] > current:
            result = BestResponseResult(np.eye(self.game.dim)[best], float(vertex_values[best]),
                                        current, True, "vertex")
        else:
            result = BestResponseResult(profile[producer].copy(), current, current, True,
                                        "current")
        if over == "vertices" or rule.vertex_search_is_exact(users, others):
            return result
        return self._continuous(profile[producer], result, others)

    def _vertex_values(self, profile: np.ndarray, producer: int,
                       others: Others) -> tuple[float, np.ndarray]:
        """The producer's current utility and its utility at each basis vector ``(d,)``.

        At a profile of basis vectors this uses the dynamics' own evaluation
        (``VertexUtilities``), so a profile where the dynamics stopped has no
        rounding-level "gains" from exact ties. Otherwise the current strategy and
        the basis vectors are evaluated as one block, so staying put is never
        scored differently from itself.
        """
        directions = self.game.vertex_directions(profile)
        if directions is not None:
            counts = np.bincount(directions, minlength=self.game.dim)
            values = self._vertex_utilities(directions, counts, producer)
            return float(values[directions[producer]]), values
        strategies = np.vstack([profile[producer], np.eye(self.game.dim)])
        values = utility(strategies, self.game.users, self.game.rule, others)
        return float(values[0]), values[1:]

    def _continuous(self, current: np.ndarray, found: BestResponseResult,
                    others: Others) -> BestResponseResult:
        """Search the simplex from many starts; keep the better of it and ``found``."""
        d = self.game.dim
        rng = np.random.default_rng(self.seed)
        starts = np.vstack([np.eye(d), current, np.full(d, 1.0 / d),
                            rng.dirichlet(np.ones(d), size=self.n_random_starts)])
        points, values = ascend(starts, self.game.users, self.game.rule, others, self.max_steps)
        best = int(np.argmax(values))
        if values[best] > found.utility:
            return BestResponseResult(points[best], float(values[best]), found.current_utility,
                                      False, "continuous")
        return BestResponseResult(found.strategy, found.utility, found.current_utility, False,
                                  found.method)

    def nash_conv(self, profile: object, over: str = "simplex") -> NashConvResult:
        """NashConv of ``profile`` ``(n, d)``: the sum of every producer's best-response gain."""
        profile = self.game.check_profile(profile)
        responses = [self.best_response(profile, i, over) for i in range(self.game.n_producers)]
        gains = np.array([r.gain for r in responses])
        utilities = np.array([r.current_utility for r in responses])
        return NashConvResult(float(gains.sum()), gains, utilities,
                              all(r.certified for r in responses), over)

    def action(self, agent: str, observation: object | None = None) -> np.ndarray:
        """Exact best-response action ``(d,)`` float32 of ``agent`` in the environment.

        Computed from the environment's current state, or from ``observation``
        where it determines the answer (``agents.env_agent.best_response_action``).
        """
        if self.env is None:
            raise TypeError("action() needs an environment: construct BestResponse(env)")
        return best_response_action(
            self.env, agent, observation,
            solver=lambda profile, i: self.best_response(profile, i).strategy)

    def dynamics(self, seed: int | np.random.RandomState = 0, max_iter: int = 500,
                 init: object | None = None, callback: MoveCallback | None = None
                 ) -> DynamicsResult:
        """The paper's best-response dynamics (``agents.dynamics``).

        With an environment, the dynamics step it through its API (one mover per
        step, the others repeat their action); the results are identical.
        """
        if self.env is not None:
            return dynamics_through_env(self.env, seed, max_iter, init, callback)
        return best_response_dynamics(self.game, seed, max_iter, init, callback)

    def _check_producer(self, producer: int) -> int:
        producer = check_int("producer", producer, 0)
        if producer >= self.game.n_producers:
            raise ValueError(f"producer must be in 0..{self.game.n_producers - 1}, "
                             f"got {producer}")
        return producer

