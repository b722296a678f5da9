r"""How far the profile that trained producers play is from equilibrium.

**The evaluated profile.** The deterministic policies (SB3 ``predict(...,
deterministic=True)``) play one episode of the environment from
``reset(seed=seed)`` for ``steps`` steps (default: the horizon); the projected
profile ``P`` ``(n, d)`` of the last step is evaluated. All utilities below are
**per user** (sums over users divided by ``K``; the environment's
``reward_scale="mean"``), and producer utilities are the game's payoff.

**Metrics** of ``P``:

* NashConv over the full strategy set ``S`` (``recgym.solvers.ExactSolver.nash_conv``):
  ``sum_i (max_s u_i(s, P_-i) - u_i(P))``; ``relative`` divides it by the total
  producer utility ``sum_i u_i(P)``.
* The producer distribution over features, ``m = sum_i P_i / sum(P)`` (each
  feature's share of all content posted), compared with the equilibrium's
  ``counts / n`` by the total-variation distance ``TV(m, q) = 1/2 sum_f |m_f - q_f|``
  (for vertex profiles ``m`` *is* ``counts / n``). A profile with no content at
  all has ``m = 0``.
* ``features_used``: features that are the largest weight of at least one
  producer who posts anything.
* ``concentrated_share``: the share of producers that put at least
  ``recgym.metrics.CONCENTRATION_THRESHOLD`` of their content on one feature
  (``max_f P_if >= 0.9 sum_f P_if``), the paper's structural prediction that
  producers specialise on single features.

**The equilibrium** is the end point of the paper's best-response dynamics
(``recgym.solvers.summarize_equilibrium(game, seed)``) on the same users, with its per-user
producer and user utilities. It is only an equilibrium among basis vectors, and
only if the dynamics converged: with small softmax temperatures and few producers
a producer may gain by mixing features, so its NashConv over ``S`` and its
concentrated share are computed like the learned profile's, not assumed to be 0
and 1.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium.spaces import Discrete
from pettingzoo import ParallelEnv

from recgym._validation import check_int
from recgym.environment import EngagementEnv, unwrap
from recgym.game import EngagementGame
from recgym.metrics import (
    CONCENTRATION_THRESHOLD,
    concentrated_share,
    features_used,
    producer_distribution,
    total_variation,
    user_distribution,
)
from recgym.solvers import EquilibriumSummary, ExactSolver, summarize_equilibrium

#: ``policy(observations (m, obs_size)) -> actions (m, d)``, or feature indices ``(m,)``
#: for vertex actions: what ``evaluate`` plays.
JointPolicy = Callable[[np.ndarray], np.ndarray]

__all__ = ["EvaluationResult", "as_joint_policy", "evaluate", "evaluate_profile"]


# ---------------------------------------------------------------------- the evaluation
@dataclass(frozen=True)
class EvaluationResult:
    """The profile that trained producers play, next to the equilibrium (module docstring).

    Attributes
    ----------
    profile : array, shape (n, d)
        The evaluated (projected) profile.
    producer_utilities : array, shape (n,)
        Each producer's engagement at ``profile``, per user.
    user_welfare : float
        Mean user utility at ``profile``.
    nash_conv : float
        NashConv over the full strategy set, per user.
    nash_conv_relative : float
        ``nash_conv / sum(producer_utilities)``.
    nash_conv_certified : bool
        True when every best response behind ``nash_conv`` is proven optimal.
    gains : array, shape (n,)
        Each producer's best-response gain, per user.
    distribution : array, shape (d,)
        Producer distribution over features (each feature's share of all content).
    user_distribution : array, shape (d,)
        ``U.sum(0) / U.sum()``.
    features_used : int
        Features that are some posting producer's largest weight.
    concentrated_share : float
        Share of producers concentrated on a single feature (``CONCENTRATION_THRESHOLD``).
    tv_to_equilibrium : float
        Total-variation distance between ``distribution`` and the equilibrium's.
    equilibrium : EquilibriumSummary
        The dynamics' end point (``recgym.solvers.summarize_equilibrium``).
    active : bool array, shape (n,)
        Producers still in the game at the evaluated step (those that left count as
        0 and are left out of the distribution).
    """

    profile: np.ndarray
    producer_utilities: np.ndarray
    user_welfare: float
    nash_conv: float
    nash_conv_relative: float
    nash_conv_certified: bool
    gains: np.ndarray
    distribution: np.ndarray
    user_distribution: np.ndarray
    features_used: int
    concentrated_share: float
    tv_to_equilibrium: float
    equilibrium: EquilibriumSummary
    active: np.ndarray

    @property
    def producer_utility_mean(self) -> float:
        """Mean producer utility, per user."""
        return float(self.producer_utilities.mean())

    @property
    def producer_utility_min(self) -> float:
        """Smallest producer utility, per user."""
        return float(self.producer_utilities.min())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (lists for arrays), equilibrium figures under ``equilibrium_*``."""
        eq = self.equilibrium
        return {
            "nash_conv": self.nash_conv, "nash_conv_relative": self.nash_conv_relative,
            "nash_conv_certified": self.nash_conv_certified,
            "producer_utility_mean": self.producer_utility_mean,
            "producer_utility_min": self.producer_utility_min,
            "producer_utilities": self.producer_utilities.tolist(),
            "user_welfare": self.user_welfare, "features_used": self.features_used,
            "concentrated_share": self.concentrated_share,
            "tv_to_equilibrium": self.tv_to_equilibrium,
            "distribution": self.distribution.tolist(),
            "user_distribution": self.user_distribution.tolist(),
            "profile": self.profile.tolist(),
            "producers_retained": int(self.active.sum()),
            "equilibrium_counts": eq.dynamics.counts.tolist(),
            "equilibrium_converged": bool(eq.dynamics.converged),
            "equilibrium_iterations": int(eq.dynamics.iterations),
            "equilibrium_nash_conv": eq.nash_conv_per_user,
            "equilibrium_nash_conv_relative": eq.nash_conv_relative,
            "equilibrium_nash_conv_certified": eq.nash_conv_certified,
            "equilibrium_concentrated_share": eq.concentrated_share,
            "equilibrium_producer_utility_mean": float(eq.producer_payoffs_per_user.mean()),
            "equilibrium_producer_utility_min": float(eq.producer_payoffs_per_user.min()),
            "equilibrium_user_welfare": eq.user_welfare,
            "equilibrium_seed": eq.seed,
        }

    def summary(self) -> str:
        """A small text table: learned profile next to the dynamics' end point.

        The heading of the second column says whether the dynamics converged (to an
        equilibrium among basis vectors); its NashConv says how far that end point
        is from a Nash equilibrium over the full strategy set.
        """
        eq = self.equilibrium
        rows = [
            ("NashConv (per user)", _nash_conv(self.nash_conv, self.nash_conv_certified),
             _nash_conv(eq.nash_conv_per_user, eq.nash_conv_certified)),
            ("NashConv / producer utility", f"{self.nash_conv_relative:.2%}",
             f"{eq.nash_conv_relative:.2%}"),
            ("producer utility mean", f"{self.producer_utility_mean:.5f}",
             f"{eq.producer_payoffs_per_user.mean():.5f}"),
            ("producer utility min", f"{self.producer_utility_min:.5f}",
             f"{eq.producer_payoffs_per_user.min():.5f}"),
            ("user welfare (mean)", f"{self.user_welfare:.5f}", f"{eq.user_welfare:.5f}"),
            ("features used", str(self.features_used), str(eq.features_used)),
            (f"share concentrated (>= {CONCENTRATION_THRESHOLD:g})",
             f"{self.concentrated_share:.2f}", f"{eq.concentrated_share:.2f}"),
            ("producers per feature", _fmt(self.distribution),
             _fmt(eq.producer_distribution)),
            ("users per feature", _fmt(self.user_distribution), ""),
            ("TV to equilibrium", f"{self.tv_to_equilibrium:.4f}", ""),
        ]
        width = max(len(name) for name, _, _ in rows)
        column = max(len(ours) for _, ours, _ in rows)
        status = (f"converged after {eq.dynamics.iterations} moves" if eq.dynamics.converged
                  else f"NOT converged, stopped after {eq.dynamics.iterations + 1} iterations")
        lines = [f"{'':{width}}  {'learned':{column}}  equilibrium (dynamics seed {eq.seed}, "
                 f"{status})"]
        lines += [f"{name:{width}}  {ours:{column}}  {theirs}".rstrip()
                  for name, ours, theirs in rows]
        return "\n".join(lines)


def _nash_conv(value: float, certified: bool) -> str:
    return f"{value:.3e}" + ("" if certified else " (lower bound: not certified)")


def _fmt(values: np.ndarray) -> str:
    return "[" + " ".join(f"{v:.2f}" for v in values) + "]"


def evaluate(policies: object, env: object, equilibrium: EquilibriumSummary | None = None,
             seed: int = 0, steps: int | None = None,
             equilibrium_seed: int = 0) -> EvaluationResult:
    """Evaluate the profile that the deterministic ``policies`` play in ``env``.

    Parameters
    ----------
    policies : SB3 model, IndependentLearners, sequence or mapping of models, or callable
        A single model (anything with ``predict``) or callable ``obs (m, obs_size) ->
        actions (m, d)`` is shared by every producer; ``IndependentLearners``, a
        sequence of ``n`` models/callables (one per producer, in agent order) or a
        mapping ``agent -> model`` gives each producer its own.
    env : recgym parallel environment
        Possibly wrapped (any PettingZoo ``BaseParallelWrapper``, e.g. one that
        transforms actions): the policies act on ``env`` as they were trained.
        Reset by this function (``reset(seed=seed)``) and left at the evaluated
        profile.
    equilibrium : EquilibriumSummary, optional
        Default: ``recgym.solvers.summarize_equilibrium(env.game, equilibrium_seed)``.
    seed : int >= 0
        Seed of the evaluation episode's starting profile.
    steps : int >= 1, optional
        Steps to play before evaluating; default ``env.horizon``.
    equilibrium_seed : int >= 0
        Seed of the dynamics when ``equilibrium`` is not given.

    Returns
    -------
    EvaluationResult
    """
    base = _check_env(env)
    steps = base.horizon if steps is None else check_int("steps", steps, 1)
    if steps > base.horizon:
        raise ValueError(f"steps={steps} exceeds the environment's horizon {base.horizon}")
    act = as_joint_policy(policies, base.possible_agents)
    if equilibrium is None:
        equilibrium = summarize_equilibrium(base.game, check_int("equilibrium_seed",
                                                                 equilibrium_seed, 0))
    elif not isinstance(equilibrium, EquilibriumSummary):
        raise TypeError(f"equilibrium must be an EquilibriumSummary, got "
                        f"{type(equilibrium).__name__}")
    observations, _ = env.reset(seed=check_int("seed", seed, 0))
    blank = np.zeros(base.observation_space(base.possible_agents[0]).shape, dtype=np.float32)
    space = env.action_space(base.possible_agents[0])
    for _ in range(steps):
        if not env.agents:  # every producer has left
            break
        # A producer that left sees zeros and its action is dropped (black death).
        obs = np.stack([observations.get(a, blank) for a in base.possible_agents])
        actions = _as_actions(act(obs), space, base.n_producers)
        observations = env.step({a: actions[i] for i, a in enumerate(base.possible_agents)
                                 if a in env.agents})[0]
    return evaluate_profile(base.game, base.profile, equilibrium, base.active)


def _as_actions(actions: object, space: object, n: int) -> np.ndarray:
    """The joint policy's output as ``n`` actions of ``space``: embeddings ``(n, d)``
    ``float32``, or ``(n,)`` feature indices for a ``Discrete`` space (kept as given,
    so that the environment refuses anything but integers)."""
    if isinstance(space, Discrete):
        return np.asarray(actions).reshape(n)
    return np.asarray(actions, dtype=np.float32).reshape(n, -1)


def evaluate_profile(game: EngagementGame, profile: np.ndarray,
                     equilibrium: EquilibriumSummary, active: np.ndarray | None = None
                     ) -> EvaluationResult:
    """The metrics of the module docstring for a given ``profile`` ``(n, d)`` among the
    ``active`` producers (default: all; producers that left count as 0)."""
    profile = game.check_profile(profile)
    active = game.check_active(active)
    k = game.total_weight
    utilities = game.utilities(profile, active)
    nash_conv = ExactSolver(game).nash_conv(profile, active=active)
    distribution = producer_distribution(profile[active])
    return EvaluationResult(
        profile=profile.copy(), producer_utilities=utilities.payoff / k,
        user_welfare=utilities.user_total / k, nash_conv=nash_conv.value / k,
        nash_conv_relative=nash_conv.relative, nash_conv_certified=nash_conv.certified,
        gains=nash_conv.gains / k, distribution=distribution,
        user_distribution=user_distribution(game.users, game.weights),
        features_used=features_used(profile[active]),
        concentrated_share=concentrated_share(profile[active]),
        tv_to_equilibrium=total_variation(distribution, equilibrium.producer_distribution),
        equilibrium=equilibrium, active=active.copy())


def _check_env(env: object) -> EngagementEnv:
    """The recgym environment under ``env``, which must be a parallel one (wrappers allowed)."""
    base = unwrap(env)
    if not isinstance(env, ParallelEnv):
        raise TypeError(f"env must be a recgym parallel environment (recgym.parallel_env(), "
                        f"possibly wrapped), got {type(env).__name__}")
    return base

# ---------------------------------------------------------------------- policies
def as_joint_policy(policies: object, agents: Sequence[str]) -> JointPolicy:
    """One function giving every producer's action from every producer's observation.

    See ``evaluate`` for the accepted ``policies``. SB3 models act deterministically.

    Raises
    ------
    TypeError, ValueError
        Unusable objects, or a number of per-producer policies other than ``n``.
    """
    models = getattr(policies, "models", None)  # IndependentLearners
    if models is not None:
        policies = list(models)
    if isinstance(policies, Mapping):
        missing = [a for a in agents if a not in policies]
        if missing:
            raise ValueError(f"policies must have one entry per agent; missing {missing}")
        policies = [policies[a] for a in agents]
    if isinstance(policies, Sequence) and not isinstance(policies, str | bytes):
        if len(policies) != len(agents):
            raise ValueError(f"policies must hold one policy per producer ({len(agents)}), "
                             f"got {len(policies)}")
        singles = [_single(p, f"policies[{i}]") for i, p in enumerate(policies)]
        return lambda obs: np.stack([f(obs[i:i + 1])[0] for i, f in enumerate(singles)])
    return _single(policies, "policies")


def _single(policy: object, name: str) -> JointPolicy:
    if hasattr(policy, "predict"):
        return lambda obs: policy.predict(obs, deterministic=True)[0]
    if callable(policy):
        return policy
    raise TypeError(f"{name} must be an SB3 model (with predict), a callable obs -> action, "
                    f"or a sequence/mapping of those, got {type(policy).__name__}")
