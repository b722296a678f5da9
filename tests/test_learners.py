"""The platform learns its users (recgym.learners, recgym.learning_platform, the engine)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

import recgym
from recgym.coevolve import Coevolution
from recgym.learners import (
    LEARNERS,
    Learner,
    RidgeModels,
    make_learner,
    project_to_scaled_simplex,
)
from recgym.learning_platform import FEEDBACK_STREAM, LearningPlatform
from recgym.registry import Param
from recgym.solvers import ServedVertexTable
from recgym.testing import check_learner

LEARNER_SPECS = ["oracle", "greedy", "epsilon:eps=0.3", "ucb:alpha=0.5,lam=2",
                 "thompson:scale=0.5"]
E7_COLUMNS = ["user_welfare", "producer_welfare", "active_users", "active_producers",
              "homogenization", "demand_entropy", "content_features", "departed", "exits",
              "iterations", "converged"]


@pytest.fixture(scope="module")
def users() -> np.ndarray:
    return recgym.users.synthetic_uniform(400, 4, seed=17)


@pytest.mark.parametrize("spec", LEARNER_SPECS)
def test_builtin_learners_pass_the_contract(spec):
    check_learner(make_learner(spec))


def test_oracle_runs_are_the_runs_without_learning(users):
    """The feedback stream is the producers' business in no way: more impressions, a
    different feedback seed, the same trajectory."""
    kwargs = dict(n_producers=5, rule="softmax:temperature=0.2", epochs=6, seed=3,
                  user_dynamics="exposure:rate=0.3", user_outside_option=0.2)
    plain = recgym.coevolve(users, **kwargs)
    busy = recgym.coevolve(users, learner="oracle", impressions=4, **kwargs)
    np.testing.assert_array_equal(plain.users, busy.users)
    np.testing.assert_array_equal(plain.profiles, busy.profiles)
    assert plain.history[E7_COLUMNS].equals(busy.history[E7_COLUMNS])
    assert (busy.history["estimation_error"] == 0).all()
    assert (busy.history["regret_vs_oracle"] == 0).all()
    np.testing.assert_array_equal(busy.estimates, busy.users)


@pytest.mark.parametrize("content", ["basis", "mixed", "interior"])
def test_ridge_against_least_squares(content):
    """Basis-vector content keeps A diagonal; other content switches to full inverses;
    either way the model is the ridge solution of the recorded history."""
    rng = np.random.default_rng(0)
    models = RidgeModels(np.ones(3), 4, lam=0.7)
    shown_log, clicks_log = [], []
    for step in range(9):
        basis = content == "basis" or (content == "mixed" and step < 6)
        shown = np.eye(4)[rng.integers(4, size=3)] if basis else \
            rng.dirichlet(np.ones(4), size=3)
        clicks = rng.integers(0, 2, size=3).astype(float)
        models.update(np.arange(3), shown, clicks)
        shown_log.append(shown)
        clicks_log.append(clicks)
    shown_all, clicks_all = np.stack(shown_log), np.stack(clicks_log)  # (T, K, d), (T, K)
    for k in range(3):
        s, y = shown_all[:, k], clicks_all[:, k]
        a = 0.7 * np.eye(4) + s.T @ s
        np.testing.assert_allclose(models.inverse[k], np.linalg.inv(a), rtol=1e-10)
        np.testing.assert_allclose(models.mean()[k], np.linalg.solve(a, s.T @ y), rtol=1e-10)
        np.testing.assert_allclose(models.variances()[k], np.diag(np.linalg.inv(a)), rtol=1e-10)
        probe = rng.dirichlet(np.ones(4), size=2)
        np.testing.assert_allclose(models.spread(np.array([k]), probe)[0],
                                   [v @ np.linalg.inv(a) @ v for v in probe], rtol=1e-10)
    assert (models.diagonal is not None) == (content == "basis")


def _projection_by_bisection(x: np.ndarray, total: float) -> np.ndarray:
    """The threshold tau with sum(max(x - tau, 0)) = total, found by bisection."""
    low, high = x.min() - total - 1.0, x.max()
    for _ in range(200):
        tau = (low + high) / 2
        low, high = (tau, high) if np.maximum(x - tau, 0).sum() > total else (low, tau)
    return np.maximum(x - (low + high) / 2, 0)


def test_projection_onto_the_scaled_simplex():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 5)) * 3
    totals = rng.uniform(0, 1, 50)
    totals[0] = 0.0
    projected = project_to_scaled_simplex(x, totals)
    np.testing.assert_allclose(projected.sum(axis=1), totals, atol=1e-12)
    assert projected.min() >= 0
    for k in range(1, 50):
        np.testing.assert_allclose(projected[k], _projection_by_bisection(x[k], totals[k]),
                                   atol=1e-9)
    np.testing.assert_array_equal(projected[0], np.zeros(5))
    assert np.allclose(project_to_scaled_simplex(np.zeros((2, 4)), np.full(2, 0.8)), 0.2)


@pytest.mark.parametrize("rule", ["softmax:temperature=0.1", "linear", "topk:k=2",
                                  "uniform:floor=0.3"])
def test_served_payoffs_against_a_direct_computation(users, rule):
    """A producer's payoff at every vertex, in the game the platform's scores make."""
    rng = np.random.default_rng(2)
    game = recgym.EngagementGame(users, 4, rule)
    estimate = project_to_scaled_simplex(rng.normal(size=users.shape), users.sum(axis=1))
    scores = estimate @ game.vertices.T  # greedy scores at the vertices
    directions = np.array([0, 2, 2, 3])
    table = ServedVertexTable(game, scores)
    counts = np.bincount(directions, minlength=game.n_vertices)
    rule_object = game.rule
    for producer in range(4):
        values = table(directions, counts, producer)
        for vertex in range(game.n_vertices):
            chosen = directions.copy()
            chosen[producer] = vertex
            served = rule_object.probabilities(estimate @ np.eye(4)[chosen].T)[:, producer]
            expected = (served * users[:, vertex]).sum()
            assert values[vertex] == pytest.approx(expected, rel=1e-9), (producer, vertex)


def test_epsilon_one_serves_uniformly(users):
    game = recgym.EngagementGame(users, 5, "softmax:temperature=0.05")
    engine = Coevolution(game, learner="epsilon:eps=1", seed=0)
    engine.respond()
    serving = engine.serve()
    np.testing.assert_allclose(serving.probabilities, 1 / 5)
    value, certified = engine.nash_conv()
    assert certified and value >= 0


def test_served_nash_conv_is_flagged_where_unproven(users):
    engine = Coevolution(recgym.EngagementGame(users, 5, "linear"), learner="greedy", seed=0)
    engine.step()
    value, certified = engine.nash_conv()
    assert not certified and value >= 0
    oracle = Coevolution(recgym.EngagementGame(users, 5, "linear"), seed=0)
    for _ in range(20):
        oracle.step()
    value, certified = oracle.nash_conv()
    assert certified and value == pytest.approx(0.0, abs=1e-12)


def test_estimation_error_falls_with_feedback():
    """UCB, averaged over 4 seeds: the error after 15 epochs of 3 impressions is below the
    error after the first epoch by at least a quarter."""
    population = recgym.users.synthetic_uniform(500, 3, seed=5)
    first, last = [], []
    for seed in range(4):
        history = recgym.coevolve(population, n_producers=4, rule="softmax:temperature=0.1",
                                  learner="ucb:alpha=1", impressions=3, epochs=15,
                                  seed=seed).history
        first.append(history["estimation_error"].iloc[0])
        last.append(history["estimation_error"].iloc[-1])
    assert np.mean(last) < 0.75 * np.mean(first)


def test_elicitation_asks_the_most_uncertain_feature_first():
    """Three questions on three features from the same start ask features 0, 1, 2 in
    turn (ties to the lower index), with one uniform per user and question."""
    users = np.array([[0.2, 0.3, 0.5], [0.9, 0.05, 0.05]])
    game = recgym.EngagementGame(users, 2, "softmax")
    platform = LearningPlatform(game, "greedy", elicit=3, seed=4)
    np.testing.assert_allclose(platform.models.variances(), np.full((2, 3), 0.5))
    stream = np.random.default_rng(np.random.SeedSequence([FEEDBACK_STREAM, 4]))
    answers = np.stack([stream.random(2) < users[:, j] for j in range(3)], axis=1)
    np.testing.assert_array_equal(platform.models.b, answers.astype(float))
    fresh = LearningPlatform(game, "greedy", elicit=0, seed=0)
    np.testing.assert_allclose(fresh.models.estimate(), np.full((2, 3), 1 / 3))


def test_thompson_producers_face_the_posterior_mean(users):
    game = recgym.EngagementGame(users, 4, "softmax:temperature=0.1")
    thompson = Coevolution(game, learner="thompson:scale=0.5", seed=1)
    greedy = Coevolution(game, learner="greedy", seed=1)
    thompson.respond()
    greedy.respond()
    np.testing.assert_array_equal(thompson.directions, greedy.directions)  # same first scores
    thompson.directions = greedy.directions = np.arange(4)  # one producer per feature
    a, b = thompson.serve(), greedy.serve()
    np.testing.assert_allclose(b.probabilities, 0.25)  # the mean: uniform before feedback
    assert not np.allclose(a.probabilities, 0.25)  # the draws differ


@pytest.mark.parametrize("spec", LEARNER_SPECS)
def test_same_seed_same_run(users, spec):
    kwargs = dict(n_producers=4, epochs=4, learner=spec, impressions=2, elicit=1, seed=7,
                  user_dynamics="engagement:rate=1")
    a, b = recgym.coevolve(users, **kwargs), recgym.coevolve(users, **kwargs)
    assert a.history.equals(b.history)
    np.testing.assert_array_equal(a.estimates, b.estimates)
    assert a.estimates.shape == a.users.shape


def test_regret_is_the_oracle_gap_at_the_same_profile(users):
    engine = Coevolution(recgym.EngagementGame(users, 4, "softmax:temperature=0.1"),
                         learner="greedy", seed=2)
    row, serving = engine.step()
    ratings = users @ engine.profile[engine.active].T
    z = np.exp((ratings - ratings.max(1, keepdims=True)) / 0.1)
    oracle = ((z / z.sum(1, keepdims=True)) * ratings).sum(1)
    assert row["regret_vs_oracle"] == pytest.approx((oracle - serving.utilities.user).mean())
    assert row["clicks"] == pytest.approx(engine.last_clicks.mean())


@dataclass(frozen=True)
class Pessimist(Learner):
    """Scores every vertex by the estimate minus a margin (a toy learner)."""

    NAME: ClassVar[str] = "pessimist"
    PARAMS: ClassVar[tuple[Param, ...]] = (Param("margin", float, 0.1, low=0.0),
                                           Param("lam", float, 1.0, low=0.0, low_open=True))
    margin: float = 0.1
    lam: float = 1.0

    def scores(self, models, rows, vertices, rng):
        return np.maximum(models.estimate()[rows] @ vertices.T - self.margin, 0.0)


def test_a_registered_learner_end_to_end(users):
    LEARNERS.register(Pessimist)
    try:
        check_learner(make_learner("pessimist:margin=0.05"))
        history = recgym.coevolve(users, n_producers=3, rule="softmax", epochs=3,
                                  learner="pessimist:margin=0.05").history
        assert (history["estimation_error"] > 0).all()
    finally:
        LEARNERS.unregister("pessimist")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"learner": "greedy:lam=0"}, "lam"),
    ({"learner": "ucb:lam=-1"}, "lam"),
    ({"learner": "epsilon:eps=1.5"}, "eps"),
    ({"learner": "epsilon:eps=nan"}, "eps"),
    ({"learner": "ucb:alpha=-0.1"}, "alpha"),
    ({"learner": "thompson:scale=-1"}, "scale"),
    ({"learner": "thompson:scale=inf"}, "scale"),
    ({"learner": "bandit"}, "learner must be one of"),
    ({"learner": "greedy:alpha=1"}, "alpha"),
    ({"impressions": 0}, "impressions"),
    ({"impressions": 1.5}, "impressions"),
    ({"elicit": -1}, "elicit"),
    ({"learner": "greedy", "payoff": "marginal"}, "marginal"),
])
def test_bad_learning_input_is_refused(users, kwargs, match):
    with pytest.raises(ValueError, match=match):
        recgym.coevolve(users, n_producers=2, epochs=1, **kwargs)


def test_users_above_unit_norm_need_the_oracle():
    heavy = np.full((10, 2), 0.8)  # ||c_k||_1 = 1.6: ratings are not probabilities
    with pytest.raises(ValueError, match="<= 1"):
        recgym.coevolve(heavy, n_producers=2, epochs=1, learner="greedy")
    assert len(recgym.coevolve(heavy, n_producers=2, epochs=1).history) == 1


@pytest.mark.parametrize("spec", ["oracle", "ucb:alpha=0.5", "thompson:scale=0.3"])
def test_a_copied_engine_is_independent(users, spec):
    game = recgym.EngagementGame(users, 4, "softmax:temperature=0.1")
    engine = Coevolution(game, "exposure:rate=0.3", 0.2, 2, learner=spec, seed=5)
    engine.step()
    twin = engine.copy()
    ahead = [twin.step()[0] for _ in range(3)]  # the copy runs ahead ...
    behind = [engine.step()[0] for _ in range(3)]  # ... and the original is where it was
    assert ahead == behind
    np.testing.assert_array_equal(engine.population.users, twin.population.users)
    np.testing.assert_array_equal(engine.estimates(), twin.estimates())


def test_serving_after_a_step_uses_the_updated_models(users):
    engine = Coevolution(recgym.EngagementGame(users, 4, "softmax:temperature=0.1"),
                         learner="greedy", impressions=5, seed=0)
    engine.step()
    after = engine.serve()
    fresh = engine.platform.learner.scores(engine.platform.models, engine._rows(),
                                           engine.profile[engine.active], None)
    z = np.exp((fresh - fresh.max(1, keepdims=True)) / 0.1)
    np.testing.assert_allclose(after.probabilities, z / z.sum(1, keepdims=True), rtol=1e-12)
