r"""Demand the platform shares with producers under differential privacy.

Producers do not see users. The platform publishes a summary of demand, each
release ``epsilon``-differentially private with respect to adding or removing one
user; producers reason in the game the summary implies (the **belief game**) and
the outcome is judged in the true game.

Releases (``release``):

* ``"feature_demand"``: ``sum_k c_k`` (``d`` numbers) over rows clipped to
  ``c_k / max(1, ||c_k||_1)``. Clipping is what makes the release private: a clipped
  row is non-negative with L1 norm at most 1, so one user changes the sum by at
  most 1 in L1 (sensitivity 1), and Laplace noise of scale ``1 / epsilon`` per
  coordinate gives ``epsilon``-DP. The public codebook is the basis vectors.
* ``"type_histogram"``: user counts over a public codebook of ``m`` types (rows of
  an ``m x d`` array, chosen without looking at the users; default: the basis
  vectors, i.e. each user's top feature). A user is counted once, at the type it
  rates highest (``argmax_t <c_k, t>``, ties to the lowest index); sensitivity 1,
  Laplace ``1 / epsilon`` per count.

Negative noisy values are set to 0 (post-processing keeps the guarantee);
``epsilon = inf`` releases the exact numbers. With ``rng=None`` the noise comes
from OpenDP's vetted Laplace sampler, which cannot be seeded: use it for real
releases. With a seeded ``numpy.random.Generator`` the release is reproducible,
for simulation only (``Release.simulated`` says which).

The belief population (``belief_game``) is the codebook rows weighted by the
released numbers; producers run the paper's dynamics there. ``evaluate`` compares
the outcome on the true users with three baselines on the same runs: full
information (the dynamics on the true users), the exact release
(``epsilon = inf``: the loss from coarseness alone) and no information (uniform
weights over the codebook).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recgym import metrics, welfare
from recgym._validation import check_choice, check_float, check_int, check_ints, check_matrix
from recgym.game import EngagementGame
from recgym.rules import ServingRule
from recgym.solvers import ExactSolver, best_response_dynamics

__all__ = ["KINDS", "SETTINGS", "Release", "belief_game", "clip_rows", "evaluate", "release",
           "statistics"]

#: What can be released.
KINDS = ("feature_demand", "type_histogram")
#: The rows of ``evaluate``: the private releases and the three baselines.
SETTINGS = ("private", "exact", "none", "full")


@dataclass(frozen=True)
class Release:
    """A released summary of demand.

    Attributes
    ----------
    values : array (m,)
        The released numbers, one per codebook row, non-negative.
    codebook : array (m, d)
        The public types (the basis vectors for feature demand).
    epsilon : float
        The privacy parameter (``inf``: exact numbers, no privacy).
    kind : str
        ``"feature_demand"`` or ``"type_histogram"``.
    simulated : bool
        True when the noise came from a seeded numpy generator (simulation only),
        False for OpenDP's sampler or an exact release.
    """

    values: np.ndarray
    codebook: np.ndarray
    epsilon: float
    kind: str
    simulated: bool


def clip_rows(users: np.ndarray) -> np.ndarray:
    """Rows ``c_k / max(1, ||c_k||_1)``: non-negative with L1 norm at most 1."""
    norms = np.abs(users).sum(axis=1, keepdims=True)
    return users / np.maximum(norms, 1.0)


def _codebook(kind: str, codebook: object | None, dim: int) -> np.ndarray:
    if codebook is None:
        return np.eye(dim)
    if kind == "feature_demand":
        raise ValueError("codebook is fixed for kind 'feature_demand' (the basis vectors); "
                         "pass codebook=None or use kind='type_histogram'")
    return check_matrix("codebook", codebook, shape=(None, dim))


def statistics(users: object, kind: str = "feature_demand", codebook: object | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """The exact numbers a release perturbs, and the codebook: ``((m,), (m, d))``."""
    check_choice("kind", kind, KINDS)
    users = clip_rows(check_matrix("users", users))
    book = _codebook(kind, codebook, users.shape[1])
    if kind == "feature_demand":
        return users.sum(axis=0), book
    top = np.argmax(users @ book.T, axis=1)  # the first maximum: ties to the lowest index
    return np.bincount(top, minlength=book.shape[0]).astype(np.float64), book


def release(users: object, epsilon: float, kind: str = "feature_demand",
            codebook: object | None = None, rng: np.random.Generator | None = None
            ) -> Release:
    """An ``epsilon``-differentially private release of demand (module docstring).

    Parameters
    ----------
    users : array (K, d)
    epsilon : float > 0 or ``inf``
    kind : ``"feature_demand"`` or ``"type_histogram"``
    codebook : array (m, d), optional
        Public types for ``type_histogram`` (non-negative); default the basis vectors.
    rng : numpy.random.Generator, optional
        ``None``: OpenDP's Laplace mechanism (not seedable; for real releases). A
        seeded generator: reproducible noise, for simulation only.

    Raises
    ------
    ValueError
        ``epsilon <= 0`` or NaN, unknown ``kind``, a codebook of the wrong width or
        with negative entries.
    """
    epsilon = check_float("epsilon", epsilon, 0.0, low_open=True, allow_inf=True)
    exact, book = statistics(users, kind, codebook)
    if math.isinf(epsilon):
        return Release(exact, book, epsilon, kind, simulated=False)
    if rng is None:
        noisy = _opendp_laplace(exact, 1.0 / epsilon, epsilon)
    elif isinstance(rng, np.random.Generator):
        noisy = exact + rng.laplace(0.0, 1.0 / epsilon, size=exact.shape)
    else:
        raise TypeError(f"rng must be None (OpenDP) or a numpy.random.Generator, got "
                        f"{type(rng).__name__}")
    return Release(np.maximum(noisy, 0.0), book, epsilon, kind, simulated=rng is not None)


def _opendp_laplace(values: np.ndarray, scale: float, epsilon: float) -> np.ndarray:
    """OpenDP's vector Laplace mechanism at ``scale`` for L1 sensitivity 1."""
    import opendp.prelude as dp  # imported here: only real releases need it

    dp.enable_features("contrib")
    space = dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.l1_distance(T=float)
    measurement = dp.m.make_laplace(*space, scale=scale)
    assert measurement.map(1.0) <= epsilon * (1 + 1e-12), "privacy loss above epsilon"
    return np.asarray(measurement(values.tolist()), dtype=np.float64)


def belief_game(released: Release, n_producers: int, rule: str | ServingRule = "softmax",
                **game_kwargs: object) -> EngagementGame:
    """The game producers believe in: the codebook rows weighted by the released numbers.

    If every released number is 0 there is nothing to believe but uniform demand: the
    rows are then weighted equally (the no-information baseline). ``game_kwargs``
    go to ``EngagementGame`` (``temperature``, ``payoff``, ...).
    """
    weights = released.values if released.values.sum() > 0 else np.ones(len(released.values))
    return EngagementGame(released.codebook, n_producers, rule, weights=weights, **game_kwargs)


def evaluate(users: object, n_producers: int, rule: str | ServingRule = "softmax",
             epsilons: Sequence[float] = (0.01, 0.1, 1.0, 10.0),
             runs: Iterable[int] = range(1, 21), kind: str = "feature_demand",
             codebook: object | None = None, *, payoff: str = "engagement",
             max_iter: int = 500, skill: object = 1.0, cost: object = 0.0,
             cost_exponent: object = 1.0, behavior: str = "best_response") -> pd.DataFrame:
    """What private demand releases do to the equilibrium, judged on the true users.

    ``skill``, ``cost`` and ``cost_exponent`` are the producers' (``recgym.producers``),
    the same in the true game and in every belief game; ``behavior`` how they choose
    (``recgym.behaviors``; for ``hedge`` the time-averaged play is evaluated).

    For each run ``r`` (which seeds both the noise, ``default_rng(r)``, and the
    dynamics, ``RandomState(r)``) and each ``epsilon``: release, run the dynamics in
    the belief game, and evaluate the profile in the true game. Baselines on the
    same runs: ``full`` (the dynamics on the true users), ``exact`` (the release
    at ``epsilon = inf``) and ``none`` (uniform weights over the codebook).

    Returns
    -------
    DataFrame
        One row per (setting, epsilon, run): ``setting`` (``SETTINGS``), ``epsilon``
        (``inf`` for the exact release, NaN for ``none`` and ``full``), ``run``,
        ``converged``, ``counts``, ``user_welfare`` and ``producer_welfare`` on the
        true users (per user), ``nash_conv`` (the true game's NashConv over the
        strategy set, per user: the regret misinformation causes),
        ``nash_conv_certified`` and ``tv_to_full_information`` (total-variation
        distance between the producers' distribution and the full-information
        equilibrium's).
    """
    users = check_matrix("users", users)
    n_producers = check_int("n_producers", n_producers, 1)
    epsilons = [check_float("epsilons", e, 0.0, low_open=True, allow_inf=True)
                for e in epsilons]
    runs = check_ints("runs", tuple(runs), 0, 2**32 - 1)
    traits = {"skill": skill, "cost": cost, "cost_exponent": cost_exponent}
    truth = EngagementGame(users, n_producers, rule, payoff=payoff, **traits)
    solver = ExactSolver(truth)
    exact, book = statistics(users, kind, codebook)
    rows: list[dict] = []

    def record(setting: str, epsilon: float, run: int, believed: EngagementGame | None,
               full: np.ndarray) -> np.ndarray:
        game = truth if believed is None else believed
        result = best_response_dynamics(game, np.random.RandomState(run), max_iter,
                                        behavior=behavior, behavior_seed=run)
        profile = result.profile if result.average_profile is None else result.average_profile
        utilities = truth.utilities(profile)
        nash_conv = solver.nash_conv(profile)
        distribution = metrics.producer_distribution(profile)
        rows.append({"setting": setting, "epsilon": epsilon, "run": run,
                     "converged": bool(result.converged),
                     "counts": " ".join(str(int(c)) for c in result.counts),
                     "user_welfare": welfare.user_welfare(utilities),
                     "producer_welfare": welfare.producer_welfare(utilities),
                     "nash_conv": nash_conv.value / truth.total_weight,
                     "nash_conv_certified": nash_conv.certified,
                     "tv_to_full_information": metrics.total_variation(distribution, full)})
        return distribution

    uniform = Release(np.ones(len(exact)), book, math.nan, kind, simulated=False)
    for run in runs:
        full = record("full", math.nan, run, None, np.zeros(users.shape[1]))
        rows[-1]["tv_to_full_information"] = 0.0
        record("exact", math.inf, run, belief_game(Release(exact, book, math.inf, kind, False),
                                                   n_producers, truth.rule, payoff=payoff,
                                                   **traits),
               full)
        record("none", math.nan, run, belief_game(uniform, n_producers, truth.rule,
                                                  payoff=payoff, **traits), full)
        noise = np.random.default_rng(run)
        for epsilon in epsilons:
            released = release(users, epsilon, kind, codebook, rng=noise)
            record("private", epsilon, run, belief_game(released, n_producers, truth.rule,
                                                        payoff=payoff, **traits), full)
    return pd.DataFrame(rows)
