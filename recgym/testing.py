"""A contract kit for serving rules and games, as ``pettingzoo.test`` is for environments.

``check_rule(rule)`` and ``check_game(game)`` take any instance, registered or not,
run it on seeded random instances and return ``None`` when every property holds;
otherwise they raise ``AssertionError`` naming the violated property. A new
serving rule that passes ``check_rule`` works everywhere a rule is used: the game,
the environment, best responses, the dynamics and the command line.

``check_rule`` checks that

* probabilities are finite, non-negative and each user's sum to 1 (a user the rule
  serves nobody sums to the floor);
* the fast producer totals (``producer_totals``) agree with the probabilities;
* the one-producer view (``others(...).served(x)``) agrees with the probabilities:
  own share, own engagement, what the others bring, the welfare without the
  producer, and the slopes (against finite differences where the share is smooth);
  so does ``welfare_without_each``, every producer's at once;
* the fast vertex table (``vertex_view``), where the rule has one, agrees with the
  one-producer view;
* the vertex certificate holds: where the rule certifies a payoff, no point of the
  strategy set beats the best vertex (a dense random sample is tried); where it
  declares a payoff concave, the payoff is concave along random segments;
* nothing overflows or turns NaN at temperature ``1e-3`` (for rules with a
  temperature).

``check_game`` checks a game's utilities (producer totals equal user totals under
the engagement payoff, payoffs within their bounds), that every producer's payoff
from the whole profile equals the one-producer view's, that gradients match
finite differences, and that best responses are never worse than the current
strategy.

``check_user_dynamics(model)`` checks a user-dynamics model (``recgym.user_dynamics``):
its update returns finite, non-negative embeddings of the input's shape, keeps every
user's L1 norm, leaves its inputs unchanged, is deterministic, and updates each user
from that user's own row alone (permuting the users permutes the result).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from recgym.coevolve import Coevolution
from recgym.game import EngagementGame
from recgym.learners import Learner, RidgeModels
from recgym.payoffs import PAYOFFS
from recgym.rules import ServingRule
from recgym.solvers import ExactSolver, VertexTable
from recgym.user_dynamics import UserDynamics

__all__ = ["check_game", "check_learner", "check_rule", "check_user_dynamics"]

RTOL = 1e-8  # agreement of two computations of the same number
FD_STEP = 1e-6  # finite-difference step on own ratings


def _fail(what: str, detail: str) -> AssertionError:
    return AssertionError(f"{what}: {detail}")


def _close(a: np.ndarray, b: np.ndarray, what: str, rtol: float = RTOL,
           atol: float = 1e-12) -> None:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise _fail(what, f"shapes {a.shape} and {b.shape} differ")
    if not np.allclose(a, b, rtol=rtol, atol=atol):
        worst = int(np.argmax(np.abs(a - b)))
        raise _fail(what, f"{a.ravel()[worst]!r} != {b.ravel()[worst]!r} (largest difference "
                          f"{np.abs(a - b).max():.3g})")


def _instances(seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(users (K, d), profile (n, d))`` pairs: random, vertex and tied profiles."""
    rng = np.random.default_rng(seed)
    cases = []
    for n_users, dim, n in ((40, 3, 1), (40, 3, 2), (60, 4, 3), (50, 5, 5)):
        users = rng.dirichlet(np.ones(dim), size=n_users)
        users[0] = 0.0  # a user who rates everybody 0
        cases.append((users, rng.dirichlet(np.ones(dim), size=n) * rng.uniform(0.5, 1, (n, 1))))
        cases.append((users, np.eye(dim)[rng.integers(dim, size=n)]))  # vertices, with ties
    return cases


def check_rule(rule: ServingRule, seed: int = 0) -> None:
    """Check the serving-rule contract (module docstring) on seeded random instances.

    Raises
    ------
    AssertionError
        Naming the violated property.
    """
    if not isinstance(rule, ServingRule):
        raise _fail("type", f"{rule!r} is not a recgym.rules.ServingRule")
    for users, profile in _instances(seed):
        ratings = users @ profile.T
        _check_probabilities(rule, ratings)
        _check_view(rule, ratings)
        _check_vertex_view(rule, users, profile)
        _check_certificates(rule, users, profile, seed)
    if "temperature" in rule.params():
        cold = dataclasses.replace(rule, temperature=1e-3)
        with np.errstate(over="raise", invalid="raise"):
            for users, profile in _instances(seed):
                ratings = users @ profile.T
                try:
                    probs = cold.probabilities(ratings)
                    served = cold.others(ratings, 0).served(ratings[:, 0])
                    values = (served.own, served.engagement, served.own_slope,
                              served.others_value, served.welfare_without)
                except FloatingPointError as exc:
                    raise _fail("numerics at temperature 1e-3", str(exc)) from None
                if not all(np.all(np.isfinite(v)) for v in (probs, *values)):
                    raise _fail("numerics at temperature 1e-3", "NaN or inf")


def _check_probabilities(rule: ServingRule, ratings: np.ndarray) -> None:
    probs = rule.probabilities(ratings)
    if probs.shape != ratings.shape:
        raise _fail("probabilities shape", f"{probs.shape} for ratings {ratings.shape}")
    if not np.all(np.isfinite(probs)) or probs.min() < 0:
        raise _fail("probabilities", "not finite and non-negative")
    sums = probs.sum(axis=1)
    unserved = np.isclose(rule.rule_probabilities(ratings).sum(axis=1), 0.0)
    expected = np.where(unserved, rule.floor, 1.0)
    _close(sums, expected, "probabilities sum to 1 per user (the floor for unserved users)")
    engagement, exposure = rule.producer_totals(ratings.T)
    _close(engagement, (probs * ratings).sum(axis=0), "producer_totals engagement")
    _close(exposure, probs.sum(axis=0), "producer_totals exposure")
    weights = np.linspace(0.5, 2.0, ratings.shape[0])
    engagement, exposure = rule.producer_totals(ratings.T, weights)
    _close(engagement, weights @ (probs * ratings), "weighted producer_totals engagement")
    _close(exposure, weights @ probs, "weighted producer_totals exposure")


def _welfare(rule: ServingRule, ratings: np.ndarray) -> np.ndarray:
    """Each user's utility under ``rule`` with the producers of ``ratings`` (K, m)."""
    if ratings.shape[1] == 0:
        return np.zeros(ratings.shape[0])
    return (rule.probabilities(ratings) * ratings).sum(axis=1)


def _check_view(rule: ServingRule, ratings: np.ndarray) -> None:
    probs = rule.probabilities(ratings)
    n = ratings.shape[1]
    for i in range(n):
        others = rule.others(ratings, i)
        x = ratings[:, i]
        served = others.served(x)
        _close(served.own, probs[:, i], f"view of producer {i}: own share")
        _close(served.engagement, probs[:, i] * x, f"view of producer {i}: own engagement")
        rest = np.delete(ratings, i, axis=1)
        _close(served.others_value, (np.delete(probs, i, axis=1) * rest).sum(axis=1),
               f"view of producer {i}: what the others bring")
        _close(served.welfare_without, _welfare(rule, rest),
               f"view of producer {i}: welfare without the producer")
        _check_slopes(others, x, i)
    _close(rule.welfare_without_each(ratings),
           np.stack([_welfare(rule, np.delete(ratings, i, axis=1)) for i in range(n)], axis=1),
           "welfare_without_each: each producer's welfare without it")


def _check_slopes(others: object, x: np.ndarray, index: int) -> None:
    """Slopes against central differences, where the forward and backward differences
    agree (no kink or jump, as top-k has where a producer enters a user's top k)."""
    inside = (x > 2 * FD_STEP) & (x < 1 - 2 * FD_STEP)
    served, up, down = (others.served(x + h) for h in (0.0, FD_STEP, -FD_STEP))
    for name, slope in (("own", served.own_slope), ("engagement", served.engagement_slope),
                        ("others_value", served.others_value_slope)):
        here, above, below = (getattr(v, name) for v in (served, up, down))
        forward, backward = (above - here) / FD_STEP, (here - below) / FD_STEP
        central = (above - below) / (2 * FD_STEP)
        smooth = inside & np.isclose(forward, backward, rtol=1e-3, atol=1e-4)
        scale = max(1.0, float(np.abs(central[smooth]).max(initial=0.0)))
        if not np.allclose(slope[smooth], central[smooth], rtol=1e-4, atol=1e-5 * scale):
            raise _fail(f"view of producer {index}: {name}_slope",
                        "does not match finite differences")


def _check_vertex_view(rule: ServingRule, users: np.ndarray, profile: np.ndarray) -> None:
    for payoff in PAYOFFS.names:
        game = EngagementGame(users, profile.shape[0], rule, payoff=payoff)
        fast = VertexTable(game)
        if not fast.fast:
            return
        slow = VertexTable(game, fast=False)
        directions = np.random.default_rng(1).integers(game.dim, size=game.n_producers)
        counts = np.bincount(directions, minlength=game.n_vertices)
        for i in range(game.n_producers):
            _close(fast(directions, counts, i), slow(directions, counts, i),
                   f"vertex_view ({payoff}) vs the one-producer view, producer {i}",
                   rtol=1e-9, atol=1e-9)


def _check_certificates(rule: ServingRule, users: np.ndarray, profile: np.ndarray,
                        seed: int) -> None:
    rng = np.random.default_rng(seed)
    for payoff in PAYOFFS.names:
        game = EngagementGame(users, profile.shape[0], rule, payoff=payoff)
        others = game.others(profile, 0)
        inside = rng.dirichlet(np.ones(game.dim), size=100) * rng.uniform(size=(100, 1))
        sample = np.vstack([rng.dirichlet(np.ones(game.dim), size=300), inside])
        values = game.payoff_of(sample, others)
        vertex_best = game.payoff_of(game.vertices, others).max()
        if rule.vertex_certificate(payoff, game.users, others):
            if values.max() > vertex_best + 1e-9 * max(1.0, abs(vertex_best)):
                raise _fail(f"vertex certificate ({payoff})",
                            f"an interior strategy earns {values.max()!r} > best vertex "
                            f"{vertex_best!r}")
        if rule.concave_payoff(payoff):
            a, b = sample[:50], sample[50:100]
            middle = game.payoff_of((a + b) / 2, others)
            chords = (game.payoff_of(a, others) + game.payoff_of(b, others)) / 2
            if np.any(middle < chords - 1e-9 * np.abs(chords).max()):
                raise _fail(f"concave payoff ({payoff})", "a midpoint lies below its chord")


def check_game(game: EngagementGame, seed: int = 0) -> None:
    """Check a game's utilities, payoff paths, gradients and best responses.

    Raises
    ------
    AssertionError
        Naming the violated property.
    """
    if not isinstance(game, EngagementGame):
        raise _fail("type", f"{game!r} is not a recgym.EngagementGame")
    rng = np.random.default_rng(seed)
    n, d = game.n_producers, game.dim
    low, high = game.payoff_bounds()
    solver = ExactSolver(game, n_random_starts=2, max_steps=50)
    for profile in (rng.dirichlet(np.ones(d), size=n),
                    game.vertices[rng.integers(game.n_vertices, size=n)]):
        u = game.utilities(profile)
        if game.payoff.NAME == "engagement":
            _close(u.engagement.sum(), u.user_total,
                   "producer engagement total equals user utility total")
        if u.payoff.min() < low - 1e-9 * abs(low) or u.payoff.max() > high * (1 + 1e-9):
            raise _fail("payoff bounds", f"payoffs {u.payoff} outside [{low}, {high}]")
        for i in range(n):
            others = game.others(profile, i)
            _close(game.payoff_of(profile[i:i + 1], others), u.payoff[i:i + 1],
                   f"payoff of producer {i}: whole profile vs one-producer view")
            _check_gradient(game, others, profile[i], i)
            response = solver.best_response(profile, i)
            if response.utility < u.payoff[i] - 1e-9 * max(1.0, abs(u.payoff[i])):
                raise _fail(f"best response of producer {i}",
                            f"{response.utility!r} is worse than the current {u.payoff[i]!r}")


def _check_gradient(game: EngagementGame, others: object, strategy: np.ndarray,
                    index: int) -> None:
    """The gradient along a random direction against central differences, unless the
    forward and backward differences disagree (a kink or jump, as top-k has where a
    producer enters a user's top k)."""
    direction = np.random.default_rng(index).normal(size=game.dim)
    h = 1e-6
    here, above, below = game.payoff_of(np.vstack([strategy, strategy + h * direction,
                                                   strategy - h * direction]), others)
    forward, backward = (above - here) / h, (here - below) / h
    central = (above - below) / (2 * h)
    scale = max(1.0, abs(central))
    if abs(forward - backward) > 1e-3 * scale:
        return
    _, grad = game.payoff_and_gradient(strategy[None, :], others)
    if abs(float(grad[0] @ direction) - central) > 1e-4 * scale:
        raise _fail(f"gradient of producer {index}",
                    f"{float(grad[0] @ direction)!r} vs finite difference {central!r}")


def check_user_dynamics(model: UserDynamics, seed: int = 0) -> None:
    """Check the user-dynamics contract (module docstring) on seeded random instances,
    served by softmax, linear and top-k rules (a zero user and a zero producer included).

    Raises
    ------
    AssertionError
        Naming the violated property.
    """
    if not isinstance(model, UserDynamics):
        raise _fail("type", f"{model!r} is not a recgym.user_dynamics.UserDynamics")
    rng = np.random.default_rng(seed)
    for rule, (n_users, dim, n) in zip(("softmax:temperature=0.1", "linear", "topk:k=2"),
                                       ((40, 3, 2), (50, 4, 3), (60, 5, 4)), strict=True):
        users = rng.dirichlet(np.ones(dim), size=n_users) * rng.uniform(0.2, 1, (n_users, 1))
        users[0] = 0.0
        profile = rng.dirichlet(np.ones(dim), size=n)
        profile[-1] = 0.0
        serving = EngagementGame(users, n, rule).serve(profile)
        before = users.copy()
        new = np.asarray(model.update(users, serving))
        if not np.array_equal(users, before):
            raise _fail("inputs", "update modified the users it was given")
        if new.shape != users.shape:
            raise _fail("shape", f"update returned {new.shape}, expected {users.shape}")
        if not np.all(np.isfinite(new)) or new.min() < 0:
            raise _fail("embeddings", "update returned negative, NaN or inf entries")
        _close(new.sum(axis=1), users.sum(axis=1), "L1 norm of every user kept", rtol=1e-9)
        if not np.array_equal(np.asarray(model.update(users, serving)), new):
            raise _fail("determinism", "two updates of the same input differ")
        order = rng.permutation(n_users)
        permuted = EngagementGame(users[order], n, rule).serve(profile)
        _close(np.asarray(model.update(users[order], permuted)), new[order],
               "each user's update depends on its own row (permuting users permutes it)")


def check_learner(learner: Learner, seed: int = 0) -> None:
    """Check the learner contract (module docstring) on seeded random instances.

    Raises
    ------
    AssertionError
        Naming the violated property.
    """
    if not isinstance(learner, Learner):
        raise _fail("type", f"{learner!r} is not a recgym.learners.Learner")
    share = learner.uniform_share()
    if not 0.0 <= share <= 1.0:
        raise _fail("uniform share", f"{share!r} is outside [0, 1]")
    rng = np.random.default_rng(seed)
    users = rng.dirichlet(np.ones(4), size=30)
    if not learner.oracle:
        models = RidgeModels(users.sum(axis=1), 4, learner.lam)
        rows = np.arange(30)
        for _ in range(3):
            shown = np.eye(4)[rng.integers(4, size=30)]
            models.update(rows, shown, (rng.random(30) < (users * shown).sum(1)).astype(float))
        vertices = np.vstack([np.eye(4), np.zeros(4)])
        scores = np.asarray(learner.scores(models, rows, vertices, None))
        if scores.shape != (30, 5) or not np.all(np.isfinite(scores)):
            raise _fail("scores", f"expected finite scores of shape (30, 5), got {scores.shape}")
        subset = rows[::3]
        _close(learner.scores(models, subset, vertices, None), scores[subset],
               "each user's scores its own (a subset of rows)")
        _close(learner.scores(models, rows, vertices, None), scores,
               "the producers' scores are deterministic")
        sampled = learner.scores(models, rows, vertices, np.random.default_rng(seed))
        if np.shape(sampled) != (30, 5) or not np.all(np.isfinite(sampled)):
            raise _fail("serving scores", "not finite of shape (30, 5)")
    engine = Coevolution(EngagementGame(users, 3, "softmax"), learner=learner, seed=seed)
    for _ in range(2):
        row, _ = engine.step()
        if not all(np.isfinite(float(v)) for v in row.values()):
            raise _fail("epoch", f"a figure is not finite: {row}")
