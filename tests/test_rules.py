"""Serving rules: probabilities, the one-producer view, ties and numerics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from recgym.rules import RULES as REGISTRY
from recgym.rules import Linear, Softmax, TopK, Uniform, make_rule
from recgym.testing import check_rule

# Softmax(0.01) and TopK(3, 0.01) take the fast totals' shifted path (r / T up to 100).
RULES = [Linear(), Softmax(0.05), Softmax(1.0), Softmax(0.01), TopK(1, 0.5), TopK(2, 0.1),
         TopK(10, 1.0), TopK(3, 0.01), Uniform(), Softmax(0.2, floor=0.1),
         TopK(2, 0.3, floor=0.5), Linear(floor=0.25)]

ratings_arrays = st.integers(1, 6).flatmap(lambda n: arrays(
    np.float64, (5, n), elements=st.floats(0, 1, allow_nan=False, allow_subnormal=False)))


@pytest.mark.parametrize("rule", RULES, ids=repr)
@given(ratings=ratings_arrays)
@settings(max_examples=40, deadline=None)
def test_probabilities_are_distributions(rule, ratings):
    probs = rule.probabilities(ratings)
    assert probs.shape == ratings.shape
    assert np.all(probs >= 0) and np.all(probs <= 1)
    sums = probs.sum(axis=1)
    if isinstance(rule, Linear):
        # A user who rates everybody 0 brings nobody engagement (beyond the floor).
        zero = ratings.sum(axis=1) == 0
        np.testing.assert_allclose(sums[~zero], 1.0)
        np.testing.assert_allclose(sums[zero], rule.floor)
    else:
        np.testing.assert_allclose(sums, 1.0)


@pytest.mark.parametrize("rule", RULES, ids=repr)
@given(ratings=ratings_arrays, data=st.data())
@settings(max_examples=40, deadline=None)
def test_one_producer_view_matches_full_probabilities(rule, ratings, data):
    """The view's own share and what the others bring are read off the full matrix."""
    i = data.draw(st.integers(0, ratings.shape[1] - 1))
    # Snap to a grid so that ties (which top-k breaks by index) actually occur.
    ratings = np.round(ratings * 4) / 4
    probs = rule.probabilities(ratings)
    served = rule.others(ratings, i).served(ratings[:, i])
    np.testing.assert_allclose(served.own, probs[:, i], atol=1e-12)
    np.testing.assert_allclose(served.others_value,
                               (np.delete(probs * ratings, i, axis=1)).sum(axis=1), atol=1e-12)


@pytest.mark.parametrize("spec", [*REGISTRY.names, "softmax:temperature=0.05,floor=0.2",
                                  "topk:k=1,temperature=0.05", "topk:k=3,floor=0.1",
                                  "linear:floor=1"])
def test_every_rule_passes_the_contract_kit(spec):
    check_rule(make_rule(spec, k=2 if spec == "topk" else None))


def test_topk_ties_go_to_the_lower_index():
    # One user rating three producers equally: greedy serves producer 0 only.
    probs = TopK(1, 1.0).probabilities(np.array([[0.5, 0.5, 0.5]]))
    np.testing.assert_array_equal(probs, [[1.0, 0.0, 0.0]])
    # k = 2: producers 0 and 1 share the user equally.
    probs = TopK(2, 1.0).probabilities(np.array([[0.5, 0.5, 0.5]]))
    np.testing.assert_allclose(probs, [[0.5, 0.5, 0.0]])


@given(ratings=ratings_arrays, k=st.integers(1, 7), grid=st.sampled_from([0, 2, 4]))
@settings(max_examples=200, deadline=None)
def test_topk_served_mask_is_the_k_best_by_rating_then_index(ratings, k, grid):
    """Both layouts and both ways of finding the k-th rating serve each user's k best
    producers, ties to the lower index (grid > 0 snaps ratings so that ties occur)."""
    if grid:
        ratings = np.round(ratings * grid) / grid
    n_users, n = ratings.shape
    expected = np.zeros(ratings.shape, dtype=bool)
    for user in range(n_users):  # reference: sort by (-rating, index), one user at a time
        best = sorted(range(n), key=lambda j: (-ratings[user, j], j))[:k]
        expected[user, best] = True
    rule = TopK(k, 1.0)
    np.testing.assert_array_equal(rule.served_mask(ratings, axis=1), expected)
    np.testing.assert_array_equal(rule.served_mask(np.ascontiguousarray(ratings.T), axis=0),
                                  expected.T)


def test_topk_with_k_at_least_n_is_softmax():
    ratings = np.random.default_rng(1).uniform(size=(20, 3))
    np.testing.assert_allclose(TopK(3, 0.2).probabilities(ratings),
                               Softmax(0.2).probabilities(ratings))
    np.testing.assert_allclose(TopK(7, 0.2).probabilities(ratings),
                               Softmax(0.2).probabilities(ratings))


def test_linear_is_proportional_by_hand():
    # Ratings 1 and 3: probabilities 1/4 and 3/4 (hand computation).
    np.testing.assert_allclose(Linear().probabilities(np.array([[1.0, 3.0]])), [[0.25, 0.75]])


@pytest.mark.parametrize("temperature", [1e-3, 1e-2, 1.0, 1e3])
def test_softmax_numerics_extreme_temperatures(temperature):
    ratings = np.random.default_rng(2).uniform(size=(200, 6))
    rule = Softmax(temperature)
    probs = rule.probabilities(ratings)
    assert np.all(np.isfinite(probs))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    for i in range(6):
        served = rule.others(ratings, i).served(ratings[:, i])
        for values in (served.own, served.own_slope, served.engagement_slope,
                       served.others_value, served.welfare_without):
            assert np.all(np.isfinite(values))
        np.testing.assert_allclose(served.own, probs[:, i], atol=1e-12)


def test_softmax_low_temperature_is_nearly_greedy():
    ratings = np.array([[0.30, 0.31, 0.10]])
    probs = Softmax(1e-3).probabilities(ratings)
    # exp(-0.01 / 1e-3) = exp(-10): producer 1 gets all but about 4.5e-5.
    np.testing.assert_allclose(probs[0], [np.exp(-10) / (1 + np.exp(-10)),
                                          1 / (1 + np.exp(-10)), 0.0], atol=1e-15)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"rule": "soft"}, "rule must be one of linear, softmax, topk, uniform"),
    ({"rule": "softmax", "temperature": 0.0}, "temperature must be a finite number > 0"),
    ({"rule": "softmax", "temperature": -1.0}, "temperature"),
    ({"rule": "softmax", "temperature": float("nan")}, "temperature"),
    ({"rule": "softmax:temperature=abc"}, "temperature must be a finite number > 0"),
    ({"rule": "topk", "k": 0}, "k must be an integer >= 1"),
    ({"rule": "topk"}, "needs k"),
    ({"rule": "softmax", "floor": 1.5}, r"floor must be a finite number in \[0, 1\]"),
    ({"rule": "linear:floor=-0.1"}, r"floor must be a finite number in \[0, 1\]"),
    ({"rule": "softmax:temprature=0.1"}, "has no parameter 'temprature'; its parameters: "
                                         "temperature"),
    ({"rule": "softmax:temperature=0.1", "temperature": 0.2}, "0.1 in the spec"),
    ({"rule": "softmax:temperature"}, "expected param=value"),
])
def test_bad_rule_parameters(kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_rule(**kwargs)


@pytest.mark.parametrize("error", [ValueError, TypeError])
def test_non_integer_k_is_rejected_as_a_value_and_a_type_error(error):
    with pytest.raises(error, match="k must be an integer >= 1, got 1.5"):
        make_rule("topk", k=1.5)


@pytest.mark.parametrize("rule", ["linear", "softmax", "uniform"])
def test_k_with_a_rule_that_ignores_it_is_an_error(rule):
    with pytest.raises(ValueError, match=f"rule '{rule}' has no parameter 'k'; its parameters"):
        make_rule(rule, k=3)


@pytest.mark.parametrize(("spec", "expected"), [
    ("softmax:temperature=0.1", Softmax(0.1)),
    ("topk:k=2,temperature=0.5", TopK(2, 0.5)),
    ("softmax:temperature=0.1,floor=0.05", Softmax(0.1, floor=0.05)),
    (" linear : floor = 0.5 ", Linear(floor=0.5)),
    ("uniform", Uniform()),
])
def test_spec_strings_build_rules_and_round_trip(spec, expected):
    rule = make_rule(spec)
    assert rule == expected
    assert make_rule(rule.spec) == rule
    assert make_rule(spec, temperature=getattr(expected, "temperature", None)) == expected


def test_floor_mixes_in_uniform_serving():
    ratings = np.random.default_rng(3).uniform(size=(30, 4))
    eta = 0.2
    np.testing.assert_allclose(Softmax(0.3, floor=eta).probabilities(ratings),
                               (1 - eta) * Softmax(0.3).probabilities(ratings) + eta / 4)
    # Every producer is guaranteed eta / n of every user's attention.
    assert Softmax(0.01, floor=eta).probabilities(ratings).min() >= eta / 4 - 1e-15


@pytest.mark.parametrize("rule", RULES, ids=repr)
@given(ratings=ratings_arrays)
@settings(max_examples=30, deadline=None)
def test_producer_totals_equal_summed_probabilities(rule, ratings):
    """The fast producer-major totals agree with the (K, n) probabilities they skip."""
    probs = rule.probabilities(ratings)
    engagement, exposure = rule.producer_totals(np.ascontiguousarray(ratings.T))
    np.testing.assert_allclose(engagement, (probs * ratings).sum(axis=0), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(exposure, probs.sum(axis=0), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("scale", [29.0, 30.0, 31.0, 1e3])
@pytest.mark.parametrize("rule", [Softmax(1.0), TopK(2, 1.0)], ids=repr)
def test_exp_weights_agree_on_both_sides_of_the_unshifted_bound(rule, scale):
    """Ratings up to ``scale`` temperatures: unshifted below ``UNSHIFTED_EXPONENT``,
    shifted above; both give the probabilities' totals."""
    ratings = np.random.default_rng(4).uniform(size=(50, 4)) * scale
    probs = rule.probabilities(ratings)
    engagement, exposure = rule.producer_totals(np.ascontiguousarray(ratings.T))
    np.testing.assert_allclose(engagement, (probs * ratings).sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(exposure, probs.sum(axis=0), rtol=1e-12, atol=1e-300)


def test_fast_totals_stay_finite_and_quiet_at_extreme_scales():
    """Huge ratings with a huge temperature, and moderate ones with a tiny temperature:
    finite totals (the probabilities' own) and no floating-point warning."""
    cases = [(np.array([[1e307, 5e306]]), 1e306), (np.array([[20.0, 19.0]]), 1e-307),
             (np.array([[0.3, 0.1, 0.0]]), 1e-320)]  # a subnormal temperature
    for ratings, temperature in cases:
        for rule in (Softmax(temperature), TopK(1, temperature)):
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                probs = rule.probabilities(ratings)
                engagement, exposure = rule.producer_totals(np.ascontiguousarray(ratings.T))
            np.testing.assert_allclose(engagement, (probs * ratings).sum(axis=0), rtol=1e-12)
            np.testing.assert_allclose(exposure, probs.sum(axis=0), rtol=1e-12)
