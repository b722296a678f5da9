"""Demand shared under differential privacy (recgym.information)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import recgym
import recgym.solvers
from recgym import information


@pytest.fixture(scope="module")
def users() -> np.ndarray:
    return recgym.users.synthetic_skewed(300, 4, seed=5)


def test_exact_release_is_the_exact_histogram(users):
    released = information.release(users, math.inf, "type_histogram")
    top = users.argmax(axis=1)
    np.testing.assert_array_equal(released.values, np.bincount(top, minlength=4))
    assert released.values.sum() == len(users) and not released.simulated
    demand = information.release(users, math.inf)
    np.testing.assert_allclose(demand.values, users.sum(axis=0))
    np.testing.assert_array_equal(demand.codebook, np.eye(4))


def test_rows_are_clipped_to_unit_l1_norm():
    big = np.array([[3.0, 1.0], [0.2, 0.1]])
    np.testing.assert_allclose(information.clip_rows(big), [[0.75, 0.25], [0.2, 0.1]])
    np.testing.assert_allclose(information.release(big, math.inf).values, [0.95, 0.35])


def test_type_histogram_counts_each_user_at_its_top_type_ties_to_the_lowest():
    codebook = np.array([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]])
    users = np.array([[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]])  # user 0 ties all three: type 0
    released = information.release(users, math.inf, "type_histogram", codebook)
    np.testing.assert_array_equal(released.values, [2, 1, 0])


def _laplace_scale_check(samples: np.ndarray, epsilon: float) -> None:
    """The mean absolute deviation of Laplace(1/eps) is 1/eps; its standard error with
    ``N`` samples is ``(1/eps) / sqrt(N)`` (the absolute value is exponential, whose
    standard deviation equals its mean). Five standard errors: a false alarm in about
    one run in three million."""
    n = samples.size
    mad = np.abs(samples).mean()
    assert abs(mad - 1 / epsilon) <= 5 * (1 / epsilon) / math.sqrt(n), (mad, 1 / epsilon)
    assert abs(samples.mean()) <= 5 * math.sqrt(2) / epsilon / math.sqrt(n)


@pytest.mark.parametrize("epsilon", [0.5, 2.0])
def test_seeded_laplace_noise_has_scale_one_over_epsilon(users, epsilon):
    """Where counts are far from 0 (no negative value set to 0), value - exact is the
    noise."""
    big = np.repeat(users, 40, axis=0)
    exact, _ = information.statistics(big, "type_histogram")
    far = exact > 40 / epsilon  # P(noise < -40 / eps) = exp(-40) / 2
    assert far.sum() >= 2
    rng = np.random.default_rng(0)
    noise = np.concatenate([(information.release(big, epsilon, "type_histogram", rng=rng).values
                             - exact)[far] for _ in range(4000)])
    _laplace_scale_check(noise, epsilon)


def test_opendp_noise_has_scale_one_over_epsilon(users):
    big = np.repeat(users, 40, axis=0)
    exact, _ = information.statistics(big)
    far = exact > 40.0
    assert far.sum() >= 2
    noise = np.concatenate([(information.release(big, 1.0).values - exact)[far]
                            for _ in range(1500)])
    _laplace_scale_check(noise, 1.0)
    assert not information.release(big, 1.0).simulated


def test_negative_noisy_values_are_set_to_zero():
    users = np.eye(3)[[0]]  # one user: counts 1, 0, 0; tiny epsilon: noise dominates
    values = np.stack([information.release(users, 0.01, "type_histogram",
                                           rng=np.random.default_rng(s)).values
                       for s in range(50)])
    assert values.min() == 0.0 and (values == 0).any()


def test_belief_game_weights_the_codebook_rows(users):
    released = information.release(users, math.inf)
    game = information.belief_game(released, 5, "softmax", temperature=0.5)
    np.testing.assert_array_equal(game.users, np.eye(4))
    np.testing.assert_allclose(game.weights, users.sum(axis=0))
    empty = information.Release(np.zeros(4), np.eye(4), 0.1, "feature_demand", True)
    assert information.belief_game(empty, 5).weights is None  # uniform: no information


def test_evaluate_has_every_setting_on_the_same_runs(users):
    frame = information.evaluate(users, 5, "softmax", [0.1, 10.0], runs=[1, 2])
    assert len(frame) == 2 * (2 + 3)
    assert set(frame["setting"]) == set(information.SETTINGS)
    full = frame[frame["setting"] == "full"]
    assert (full["tv_to_full_information"] == 0).all()
    assert (frame["nash_conv"] >= 0).all()
    game = recgym.EngagementGame(users, 5, "softmax")
    result = recgym.solvers.best_response_dynamics(game, np.random.RandomState(1))
    first = full.iloc[0]
    assert first["counts"] == " ".join(map(str, result.counts))
    assert first["user_welfare"] == pytest.approx(game.utilities(result.profile).user.mean())
    exact = frame[frame["setting"] == "exact"]
    assert exact["epsilon"].map(math.isinf).all()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"epsilon": 0.0}, "epsilon must be a number > 0"),
    ({"epsilon": -1.0}, "epsilon must be a number > 0"),
    ({"epsilon": float("nan")}, "epsilon must be a number > 0"),
    ({"epsilon": 1.0, "kind": "census"}, "kind must be one of feature_demand, type_histogram"),
    ({"epsilon": 1.0, "kind": "type_histogram", "codebook": np.ones((2, 3))},
     r"codebook must have shape \(any, 4\)"),
    ({"epsilon": 1.0, "kind": "type_histogram", "codebook": -np.eye(4)},
     "codebook must be non-negative"),
    ({"epsilon": 1.0, "codebook": np.eye(4)}, "codebook is fixed for kind 'feature_demand'"),
])
def test_bad_release_arguments(users, kwargs, message):
    with pytest.raises(ValueError, match=message):
        information.release(users, **kwargs)
