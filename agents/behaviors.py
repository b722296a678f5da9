"""Boundedly rational producers acting in a recgym environment: baselines for RL producers.

``BehaviorProducers(env, behavior)`` plays a producer behaviour (``recgym.behaviors``)
through the environment's own API, one joint action per step, from the environment's
state (the users active now, ``env.current_game``):

* ``best_response``: one producer per step, in a fresh random order each pass over
  the active producers, posts its exact best response (``BestResponse(env).action``,
  which knows skill and the cost of effort); the others repeat their content;
* ``quantal:rationality=l``: the visited producer draws a vertex by the logit rule on
  its payoffs at every vertex against the others;
* ``hedge:rate=h``: every producer updates multiplicative weights over the vertices
  with its payoff at every vertex against the others' current play (per user, anytime
  rate ``h / sqrt(t)``), then all post a vertex drawn from their weights.

Random numbers come from ``numpy.random.default_rng(SeedSequence([BEHAVIOR_STREAM,
seed]))``, one stream per baseline. ``run(steps)`` returns the rewards, the profiles, the
time-averaged play and (``hedge``) each producer's average regret, so a learned policy
can be compared with these producers on the same environment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.best_response import BestResponse
from recgym.behaviors import (
    BEHAVIOR_STREAM,
    Behavior,
    Hedge,
    Quantal,
    make_behavior,
    mixed_strategies,
)
from recgym.environment import unwrap
from recgym.solvers import VertexTable


@dataclass(frozen=True)
class BehaviorRun:
    """What ``BehaviorProducers.run`` played.

    Attributes
    ----------
    rewards : array (T, n)
        Every producer's reward at each step (0 after it left).
    profiles : array (T, n, d)
        The profile posted at each step.
    average_profile : array (n, d)
        The time average of the posted profiles (``hedge``: of its mixed strategies).
    average_regret : array (n,) or None
        ``hedge``: each producer's regret per user per step against its best fixed vertex.
    """

    rewards: np.ndarray
    profiles: np.ndarray
    average_profile: np.ndarray
    average_regret: np.ndarray | None

    @property
    def max_average_regret(self) -> float | None:
        """The largest ``average_regret`` (``hedge`` only)."""
        return None if self.average_regret is None else float(self.average_regret.max())


class BehaviorProducers:
    """Producers choosing by ``behavior`` in ``env`` (module docstring).

    Parameters
    ----------
    env : a recgym producers' environment (``recgym.parallel_env``)
    behavior : str or Behavior
        ``"best_response"``, ``"quantal:rationality=l"`` or ``"hedge:rate=h"``.
    seed : int >= 0
        Seed of the baseline's own stream.
    """

    def __init__(self, env: object, behavior: str | Behavior = "best_response",
                 seed: int = 0) -> None:
        self.env = env
        self.base = unwrap(env)
        self.behavior: Behavior = make_behavior(behavior)
        if self.base.game.has_cost and self.behavior.NAME != "best_response":
            raise ValueError(f"behavior {self.behavior.spec!r} chooses among the vertices; "
                             "with a cost of effort use best_response")
        if not self.base.platform.oracle:
            raise ValueError("BehaviorProducers needs learner='oracle' (payoffs at every "
                             "vertex are those of the true ratings)")
        self.rng = np.random.default_rng(np.random.SeedSequence([BEHAVIOR_STREAM, seed]))
        self.responder = BestResponse(env)
        n, dim = self.base.n_producers, self.base.dim
        self.log_weights = np.zeros((n, dim))
        self.round = 0
        self._order: list[int] = []

    def reset(self) -> dict:
        """Reset the environment at vertices drawn from the stream; the observations."""
        base = self.base
        directions = self.rng.integers(base.dim, size=base.n_producers)
        observations, _ = self.env.reset(options={"directions": directions})
        self.log_weights[:] = 0.0
        self.round, self._order = 0, []
        return observations

    def actions(self) -> dict[str, object]:
        """The next joint action, from the environment's state."""
        base = self.base
        directions = base.profile.argmax(axis=1)
        choice = directions.copy()
        if isinstance(self.behavior, Hedge):
            choice = self._hedge(directions)
        else:
            producer = self._next_producer()
            if producer is not None:
                if isinstance(self.behavior, Quantal):
                    values = self._values(directions, producer)
                    choice[producer] = self.behavior.choose(values, self.rng)
                else:  # the others repeat their content as posted
                    agent = base.possible_agents[producer]
                    return {**self._repeat(), agent: self.responder.action(agent)}
        return self._post(choice)

    def run(self, steps: int) -> BehaviorRun:
        """Reset, then play ``steps`` joint actions (episodes restart at the horizon)."""
        base = self.base
        self.reset()
        rewards = np.zeros((steps, base.n_producers))
        profiles = np.zeros((steps, base.n_producers, base.dim))
        mixed_sum = np.zeros((base.n_producers, base.dim))
        regret = np.zeros((base.n_producers, base.dim))  # vertex payoff - realised, summed
        for t in range(steps):
            if not base.agents:
                self.env.reset(options={"profile": base.profile.copy()})
            if isinstance(self.behavior, Hedge):
                directions = base.profile.argmax(axis=1)
                values = self._all_values(directions)
                regret += values - values[np.arange(base.n_producers), directions][:, None]
            actions = self.actions()
            _, reward, _, _, _ = self.env.step({a: actions[a] for a in base.agents})
            for agent, value in reward.items():
                rewards[t, base.agent_index(agent)] = value
            profiles[t] = base.profile
            mixed_sum += mixed_strategies(self.log_weights) if isinstance(self.behavior, Hedge) \
                else base.profile
        average_regret = regret.max(axis=1) / steps if isinstance(self.behavior, Hedge) \
            else None
        return BehaviorRun(rewards, profiles, mixed_sum / steps, average_regret)

    # ------------------------------------------------------------------ helpers
    def _next_producer(self) -> int | None:
        """The producer visited this step (a new random order each pass)."""
        active = np.flatnonzero(self.base.active)
        if not active.size:
            return None
        if not self._order:
            self._order = self.rng.permutation(active).tolist()
        return int(self._order.pop(0))

    def _values(self, directions: np.ndarray, producer: int) -> np.ndarray:
        """Producer's payoff per user at every feature ``(d,)`` against the others now."""
        game = self.base.current_game
        table = VertexTable(game)
        counts = np.bincount(directions[self.base.active], minlength=game.n_vertices)
        return table(directions, counts, producer, self.base.active)[:game.dim] / \
            self.base.game.total_weight

    def _all_values(self, directions: np.ndarray) -> np.ndarray:
        return np.stack([self._values(directions, i) for i in range(self.base.n_producers)])

    def _hedge(self, directions: np.ndarray) -> np.ndarray:
        self.round += 1
        mixed = self.behavior.update(self.log_weights, self._all_values(directions),
                                     self.round)
        return self.behavior.draw(mixed, self.rng)

    def _repeat(self) -> dict[str, object]:
        """Every producer's current content, as an action."""
        base = self.base
        if base.action_type == "vertex":
            return self._post(base.profile.argmax(axis=1))
        return {a: row.astype(np.float32) for a, row in zip(base.possible_agents, base.profile,
                                                             strict=True)}

    def _post(self, directions: np.ndarray) -> dict[str, object]:
        base = self.base
        if base.action_type == "vertex":
            return {a: int(j) for a, j in zip(base.possible_agents, directions, strict=True)}
        basis = np.eye(base.dim, dtype=np.float32)
        return {a: basis[j] for a, j in zip(base.possible_agents, directions, strict=True)}
