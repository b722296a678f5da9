r"""Where the paper's vertex heuristic fails: learned embedding producers next to exact play.

At small softmax temperatures with few producers a producer's payoff is no longer
convex in its own embedding: a mix of features can earn more than every basis
vector, so the paper's dynamics (which move between basis vectors only) can stop
at a profile that is not a Nash equilibrium over the strategy set ``S``. This
module puts three ways of playing such a game side by side, each judged by
NashConv over the whole of ``S`` (``recgym.solvers.ExactSolver``; where the
vertex certificate does not hold the continuous search is not certified, so
NashConv is then a lower bound, marked in ``Outcome.certified``):

* ``vertex_dynamics``: the paper's best-response dynamics over basis vectors;
* ``continuous_dynamics``: best-response dynamics over all of ``S``: producers in
  turn play ``ExactSolver.best_response`` (vertex search plus projected gradient
  ascent from many starts) until a round moves nobody by more than ``tol``
  relative payoff, or ``max_rounds``;
* ``learned``: RL producers with embedding actions (``action_type="box"``),
  trained with PPO (``independent_model`` or ``shared_model``), playing their
  deterministic policies.

``INSTANCES`` holds the games of ``examples/heuristic_fails.py`` and
``benchmarks/bench_heuristic.py``. All utilities here are sums over users (the
paper's scale).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from agents.progress import ProgressCallback
from agents.rl.evaluation import evaluate
from agents.rl.per_producer import independent_model
from agents.rl.shared import shared_model
from recgym._validation import check_choice, check_int
from recgym.environment import parallel_env
from recgym.game import EngagementGame
from recgym.solvers import ExactSolver, best_response_dynamics, summarize_equilibrium

__all__ = ["INSTANCES", "Instance", "Outcome", "best_vertex_and_best_response",
           "continuous_dynamics", "format_outcomes", "learned", "vertex_dynamics"]


@dataclass(frozen=True)
class Instance:
    """A game: ``K`` users ``(K, d)`` from the flat Dirichlet distribution (generator
    ``numpy.random.default_rng(users_seed)``), ``n_producers`` producers, softmax
    serving at ``temperature``, engagement payoffs."""

    name: str
    users_seed: int
    n_users: int
    dim: int
    n_producers: int
    temperature: float

    def users(self) -> np.ndarray:
        """The users ``(K, d)``, rows summing to 1."""
        return np.random.default_rng(self.users_seed).dirichlet(np.ones(self.dim),
                                                                size=self.n_users)

    def env_kwargs(self, horizon: int = 16) -> dict[str, Any]:
        """Arguments of ``recgym.parallel_env`` for this game with embedding actions."""
        return {"users": self.users(), "n_producers": self.n_producers, "rule": "softmax",
                "temperature": self.temperature, "horizon": horizon, "action_type": "box"}

    def game(self) -> EngagementGame:
        return parallel_env(**self.env_kwargs()).game


#: The brief's instance (a rival on feature 0 leaves the best basis vector 2.394, a mix
#: 2.578) and a larger one, found by search, where the dynamics stop off equilibrium.
INSTANCES = {
    "small": Instance("small", users_seed=15, n_users=8, dim=3, n_producers=2,
                      temperature=0.03),
    "larger": Instance("larger", users_seed=36, n_users=40, dim=3, n_producers=2,
                       temperature=0.02),
}


@dataclass(frozen=True)
class Outcome:
    """A profile reached by one method, judged over the whole strategy set.

    Attributes
    ----------
    method : str
    profile : array (n, d)
    payoffs : array (n,)
        Each producer's engagement (sum over users).
    user_welfare : float
        Total user utility.
    nash_conv : float
        NashConv over ``S`` (sum over users); a lower bound unless ``certified``.
    nash_conv_relative : float
        ``nash_conv`` / total payoff.
    certified : bool
    note : str
        How the method ended (converged or not, iterations, agent-steps).
    """

    method: str
    profile: np.ndarray
    payoffs: np.ndarray
    user_welfare: float
    nash_conv: float
    nash_conv_relative: float
    certified: bool
    note: str


def _outcome(game: EngagementGame, method: str, profile: np.ndarray, note: str,
             solver: ExactSolver | None = None) -> Outcome:
    solver = ExactSolver(game) if solver is None else solver
    utilities = game.utilities(profile)
    nash_conv = solver.nash_conv(profile)
    return Outcome(method, profile.copy(), utilities.payoff.copy(), float(utilities.user_total),
                   nash_conv.value, nash_conv.relative, nash_conv.certified, note)


def best_vertex_and_best_response(game: EngagementGame, rival_feature: int
                                  ) -> tuple[float, float, np.ndarray]:
    """Against producers all on ``e_{rival_feature}``, producer 0's best basis-vector
    payoff, its best payoff over ``S`` and that strategy ``(d,)`` (sums over users)."""
    profile = game.vertex_profile(np.full(game.n_producers, rival_feature))
    vertex = ExactSolver(game).best_response(profile, 0, over="vertices")
    best = ExactSolver(game).best_response(profile, 0)
    return vertex.utility, best.utility, best.strategy


def vertex_dynamics(game: EngagementGame, seed: int = 0) -> Outcome:
    """The end point of the paper's dynamics from ``seed``."""
    result = best_response_dynamics(game, check_int("seed", seed, 0))
    note = (f"converged after {result.iterations} moves" if result.converged
            else f"not converged after {result.iterations + 1} iterations")
    return _outcome(game, "vertex dynamics", result.profile, note)


def continuous_dynamics(game: EngagementGame, start: np.ndarray, max_rounds: int = 50,
                        tol: float = 1e-9) -> Outcome:
    """Best-response dynamics over ``S`` from ``start`` ``(n, d)`` (module docstring).

    A producer moves when its best response gains more than ``tol`` times its
    current payoff; the run stops after a round without moves (converged) or
    ``max_rounds`` rounds.
    """
    solver = ExactSolver(game)
    profile = game.check_profile(start).copy()
    for rounds in range(1, check_int("max_rounds", max_rounds, 1) + 1):
        moved = False
        for i in range(game.n_producers):
            response = solver.best_response(profile, i)
            if response.gain > tol * max(abs(response.current_utility), 1e-300):
                profile[i] = response.strategy
                moved = True
        if not moved:
            return _outcome(game, "continuous best responses", profile,
                            f"converged after {rounds - 1} rounds of moves", solver)
    return _outcome(game, "continuous best responses", profile,
                    f"not converged after {max_rounds} rounds", solver)


def learned(instance: Instance, steps: int, seed: int = 0, mode: str = "independent",
            box_policy: str = "mixture", copies: int = 32, progress: bool = False,
            **algo_kwargs: Any) -> Outcome:
    """Train PPO producers with embedding actions on ``instance`` for ``steps``
    agent-steps (``progress``: a bar on stderr) and evaluate their deterministic profile."""
    check_choice("mode", mode, ("independent", "shared"))
    kwargs = instance.env_kwargs()
    envs = [parallel_env(**kwargs) for _ in range(check_int("copies", copies, 1))]
    make = independent_model if mode == "independent" else shared_model
    model = make(envs, seed=seed, box_policy=box_policy, **algo_kwargs)
    model.learn(check_int("steps", steps, 1), callback=ProgressCallback() if progress else None)
    eval_env = parallel_env(**kwargs)
    result = evaluate(model, eval_env, summarize_equilibrium(eval_env.game, 0))
    return _outcome(eval_env.game, f"PPO {mode}, {box_policy} policy", result.profile,
                    f"{model.num_timesteps:,} agent-steps, seed {seed}")


def format_outcomes(outcomes: list[Outcome]) -> str:
    """A table of the outcomes, and which has the smallest NashConv over ``S``."""
    width = max(len(o.method) for o in outcomes)
    lines = [f"{'method':{width}}  {'NashConv':>9}  {'relative':>8}  {'payoffs':>15}  "
             f"{'users':>7}  profile (rows: producers)  how it ended"]
    for o in outcomes:
        mark = "" if o.certified else "*"
        profile = "; ".join(" ".join(f"{v:.2f}" for v in row) for row in o.profile)
        payoffs = " ".join(f"{p:.3f}" for p in o.payoffs)
        lines.append(f"{o.method:{width}}  {o.nash_conv:>8.4f}{mark:1}  "
                     f"{o.nash_conv_relative:>8.2%}  {payoffs:>15}  {o.user_welfare:>7.3f}  "
                     f"[{profile}]  {o.note}")
    best = min(o.nash_conv for o in outcomes)
    winners = [o.method for o in outcomes if o.nash_conv <= best + 1e-9]
    lines.append("* lower bound: the continuous search is not certified at this temperature")
    lines.append(f"closest to a Nash equilibrium over the strategy set: {', '.join(winners)} "
                 f"(NashConv {best:.4f})")
    return "\n".join(lines)
