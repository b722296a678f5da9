r"""Exact best responses and NashConv in the engagement game.

Producer ``i``'s best response maximises its payoff (``recgym.payoffs``) over
``S = {s >= 0, sum(s) <= 1}`` with the others fixed. The answer's ``certified``
says whether it is proven optimal:

1. **Vertex search** (every payoff): the vertices of ``S``, i.e. the basis vectors
   ``e_j`` (and 0 for payoffs that can prefer posting nothing). Exact when the
   payoff is convex in the own strategy: the rule says when
   (``ServingRule.vertex_certificate``): linear serving for engagement and the
   marginal payoff, uniform serving always, softmax engagement when every user's
   term is convex (``T >= x_max/2`` or the others crowd the user,
   ``recgym.rules.softmax_terms_convex``).
2. **Concave payoffs** (``ServingRule.concave_payoff``: exposure under linear
   serving): projected gradient ascent to the maximum, certified by the
   Frank-Wolfe duality gap ``max_v <grad, v - s>`` (``gap``: no strategy gains more).
3. **Otherwise** (small ``T`` and few producers, top-k with ``k < n``, exposure or
   marginal under softmax) the vertex answer is only a heuristic, so the
   continuous set is searched too: projected gradient ascent
   (``recgym.solvers.continuous``) from every vertex, the current strategy, the
   simplex centre and ``n_random_starts`` random points. The better strategy is
   returned with ``certified=False``.

**Skill and cost** (``recgym.producers``). Skill scales the producer's ratings,
``q <c_k, s>``, a linear change of variable: a payoff convex (concave) in the own
rating stays convex (concave) in ``s``, so every certificate above holds with skill
(the softmax one is checked on the users scaled by ``q``, the range the own rating
spans). A cost of effort ``W kappa (sum s)^beta`` is constant on each face
``sum(s) = t``: where the rule certifies convexity the best response lies on a ray
``t e_j`` and the one-dimensional search of ``recgym.solvers.rays`` proves its answer
within ``gap`` (``method="ray"``); a concave payoff minus the convex cost is still
concave (Frank-Wolfe certificate, cost included); elsewhere the rays' best point
joins the continuous search's starts and the answer is flagged.

At a profile of vertices the current payoff and the vertex payoffs come from the
dynamics' own table (``VertexTable``), so where the dynamics stopped no
rounding-level "gains" appear from exact ties.

**NashConv** (OpenSpiel's definition): ``sum_i (max_s pi_i(s, s_-i) - pi_i(s_i, s_-i))``
over the active producers, zero exactly at a Nash equilibrium; exploitability is
NashConv / n. Over vertices only (``over="vertices"``) the maximum is over the
vertices and the current strategy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recgym._validation import check_choice, check_int
from recgym.game import EngagementGame
from recgym.producers import ProducerView
from recgym.rules import Others
from recgym.solvers.continuous import ascend, frank_wolfe_gap
from recgym.solvers.rays import ray_search
from recgym.solvers.vertex_table import VertexTable

#: The sets a best response searches: all of ``S``, or its vertices.
SEARCH_SETS = ("strategy_set", "vertices")
#: Relative Frank-Wolfe gap under which a concave maximisation counts as solved.
CONCAVE_TOL = 1e-6
#: Gradient steps of the concave maximisation.
CONCAVE_STEPS = 3000
#: How many recent profiles' NashConv an ``ExactSolver`` keeps (the same profile gives the
#: same answer: the search is seeded).
NASH_CONV_MEMO = 256


@dataclass(frozen=True)
class BestResponseResult:
    """A best response of one producer.

    Attributes
    ----------
    strategy : array, shape (d,)
        The best strategy found (the current one if nothing beats it).
    utility : float
        Its payoff (sum over users).
    current_utility : float
        Payoff of the current strategy.
    certified : bool
        True when ``strategy`` is proven optimal over the searched set (up to ``gap``).
    method : str
        ``"current"``, ``"vertex"``, ``"ray"``, ``"concave"`` or ``"continuous"``.
    gap : float
        A proven bound on what any strategy gains over ``strategy`` (0 for a vertex
        certificate, the ray search's bound with a cost of effort, the Frank-Wolfe gap
        for concave payoffs, ``nan`` if unknown).
    """

    strategy: np.ndarray
    utility: float
    current_utility: float
    certified: bool
    method: str
    gap: float = 0.0

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
        Each producer's best-response payoff minus its current payoff (0 for
        producers that left).
    utilities : array, shape (n,)
        Each producer's current payoff.
    certified : bool
        True when every best response behind it is proven optimal.
    over : str
        ``"strategy_set"`` or ``"vertices"``.
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
        """NashConv relative to the total payoff (``nan`` if that is not positive)."""
        total = float(self.utilities.sum())
        return self.value / total if total > 0 else float("nan")


def check_search_set(over: object) -> str:
    """``over`` validated (``"simplex"`` is accepted for ``"strategy_set"``)."""
    return check_choice("over", "strategy_set" if over == "simplex" else over, SEARCH_SETS)


class ExactSolver:
    """Best responses and NashConv for one game.

    Parameters
    ----------
    game : EngagementGame
    n_random_starts : int >= 0
        Random interior starts of the continuous search, besides every vertex,
        the current strategy and the simplex centre.
    max_steps : int >= 1
        Gradient steps per start of the continuous search.
    seed : int
        Seeds the random starts (the same inputs always give the same answer).
    """

    def __init__(self, game: EngagementGame, n_random_starts: int = 16, max_steps: int = 300,
                 seed: int = 0) -> None:
        if not isinstance(game, EngagementGame):
            raise TypeError(f"game must be a recgym.EngagementGame, got {type(game).__name__}")
        self.game = game
        self.n_random_starts = check_int("n_random_starts", n_random_starts, 0)
        self.max_steps = check_int("max_steps", max_steps, 1)
        self.seed = check_int("seed", seed, 0)
        self.table = VertexTable(game)
        # NashConv of recent profiles: runs of the dynamics often end at the same one.
        self._nash_conv_memo: dict[tuple[bytes, bytes, str], NashConvResult] = {}

    def best_response(self, profile: object, producer: int, over: str = "strategy_set",
                      active: object | None = None) -> BestResponseResult:
        """Best response of ``producer`` to the other active producers of ``profile``.

        ``over="vertices"`` searches only the vertices (and keeps the current
        strategy if it is better); ``certified`` then means optimal among those.
        """
        game = self.game
        profile = game.check_profile(profile)
        mask = game.check_active(active)
        producer = self._check_producer(producer)
        over = check_search_set(over)
        others = game.others(profile, producer, mask)
        current, values = self._vertex_values(profile, producer, mask, others)
        best = int(np.argmax(values))
        if values[best] > current:
            result = BestResponseResult(game.vertices[best].copy(), float(values[best]),
                                        current, True, "vertex")
        else:
            result = BestResponseResult(profile[producer].copy(), current, current, True,
                                        "current")
        name = game.payoff.NAME
        if over == "vertices":
            return result
        convex = game.rule.vertex_certificate(name, *_certificate_view(game, others))
        if convex and not game.has_cost:
            return result
        if convex:
            return self._rays(result, others)
        if game.rule.concave_payoff(name):
            return self._concave(profile[producer], result, others)
        return self._continuous(profile[producer], result, others)

    def _rays(self, found: BestResponseResult, others: Others | ProducerView
              ) -> BestResponseResult:
        """The best point of the rays ``t e_j``, proven within its gap (module docstring)."""
        ray = ray_search(self.game, others)
        if ray.value > found.utility:
            found = BestResponseResult(ray.strategy, ray.value, found.current_utility, True,
                                       "ray")
        gap = max(ray.value + ray.gap - found.utility, 0.0)
        return BestResponseResult(found.strategy, found.utility, found.current_utility, True,
                                  found.method, gap)

    def _vertex_values(self, profile: np.ndarray, producer: int, active: np.ndarray,
                       others: Others) -> tuple[float, np.ndarray]:
        """The producer's current payoff and its payoff at each vertex ``(V,)``.

        At a profile of vertices this is the dynamics' table; otherwise the current
        strategy and the vertices are evaluated as one block, so staying put is never
        scored differently from itself.
        """
        game = self.game
        directions = game.vertex_directions(profile)
        if directions is not None:
            counts = np.bincount(directions[active], minlength=game.n_vertices)
            values = self.table(directions, counts, producer, active)
            return float(values[directions[producer]]), values
        values = game.payoff_of(np.vstack([profile[producer], game.vertices]), others)
        return float(values[0]), values[1:]

    def _concave(self, current: np.ndarray, found: BestResponseResult,
                 others: Others) -> BestResponseResult:
        """Maximise a concave payoff; certify the answer by its Frank-Wolfe gap."""
        d = self.game.dim
        starts = np.vstack([found.strategy, current, np.full(d, 1.0 / d)])
        points, values = ascend(self.game, others, starts, CONCAVE_STEPS,
                                stall_steps=CONCAVE_STEPS, improvement_tol=0.0)
        best = int(np.argmax(values))
        if values[best] > found.utility:
            found = BestResponseResult(points[best], float(values[best]),
                                       found.current_utility, False, "concave")
        gap = frank_wolfe_gap(self.game, others, found.strategy)
        certified = gap <= CONCAVE_TOL * max(abs(found.utility), 1e-300)
        return BestResponseResult(found.strategy, found.utility, found.current_utility,
                                  certified, found.method, gap)

    def _continuous(self, current: np.ndarray, found: BestResponseResult,
                    others: Others) -> BestResponseResult:
        """Search ``S`` from many starts; keep the better of it and ``found``."""
        game = self.game
        d = game.dim
        rng = np.random.default_rng(self.seed)
        starts = np.vstack([game.vertices, current, np.full(d, 1.0 / d),
                            rng.dirichlet(np.ones(d), size=self.n_random_starts)])
        if game.has_cost:  # the rays' best point, and the interior at a lower effort
            ray = ray_search(game, others)
            if ray.value > found.utility:
                found = BestResponseResult(ray.strategy, ray.value, found.current_utility,
                                           False, "ray", float("nan"))
            starts = np.vstack([starts, ray.strategy, np.full(d, ray.level / d)])
        points, values = ascend(game, others, starts, self.max_steps)
        best = int(np.argmax(values))
        if values[best] > found.utility:
            return BestResponseResult(points[best], float(values[best]), found.current_utility,
                                      False, "continuous", float("nan"))
        return BestResponseResult(found.strategy, found.utility, found.current_utility, False,
                                  found.method, float("nan"))

    def nash_conv(self, profile: object, over: str = "strategy_set",
                  active: object | None = None) -> NashConvResult:
        """NashConv of ``profile`` ``(n, d)``: every active producer's best-response gain."""
        profile = self.game.check_profile(profile)
        mask = self.game.check_active(active)
        over = check_search_set(over)
        key = (profile.tobytes(), mask.tobytes(), over)
        if key not in self._nash_conv_memo:
            if len(self._nash_conv_memo) >= NASH_CONV_MEMO:
                del self._nash_conv_memo[next(iter(self._nash_conv_memo))]  # the oldest
            self._nash_conv_memo[key] = self._nash_conv(profile, over, mask)
        return self._nash_conv_memo[key]

    def _nash_conv(self, profile: np.ndarray, over: str, mask: np.ndarray) -> NashConvResult:
        n = self.game.n_producers
        gains, utilities, certified = np.zeros(n), np.zeros(n), True
        # Where the rule is symmetric, producers on the same vertex face the same problem.
        same = self.game.rule.symmetric and self.game.identical_producers
        directions = self.game.vertex_directions(profile) if same else None
        solved: dict[int, BestResponseResult] = {}
        for i in np.flatnonzero(mask):
            key = int(directions[i]) if directions is not None else -1 - int(i)
            if key not in solved:
                solved[key] = self.best_response(profile, int(i), over, mask)
            response = solved[key]
            gains[i], utilities[i] = response.gain, response.current_utility
            certified = certified and response.certified
        return NashConvResult(float(gains.sum()), gains, utilities, certified, over)

    def _check_producer(self, producer: int) -> int:
        producer = check_int("producer", producer, 0)
        if producer >= self.game.n_producers:
            raise ValueError(f"producer must be in 0..{self.game.n_producers - 1}, "
                             f"got {producer}")
        return producer


def _certificate_view(game: EngagementGame, others: Others | ProducerView
                      ) -> tuple[np.ndarray, Others]:
    """The users and the rule's own view a certificate reads: with skill ``q`` the own
    rating spans ``[0, q x_max]``, so the users scaled by ``q``."""
    if isinstance(others, ProducerView):
        users = game.users if others.skill == 1.0 else game.users * others.skill
        return users, others.others
    return game.users, others
