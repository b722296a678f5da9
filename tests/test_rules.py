"""Serving rules: probabilities, the one-producer view, ties and numerics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from recgym.rules import Linear, Softmax, TopK, Uniform, make_rule

RULES = [Linear(), Softmax(0.05), Softmax(1.0), TopK(1, 0.5), TopK(2, 0.1), TopK(10, 1.0),
         Uniform()]

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
        # A user who rates everybody 0 brings nobody engagement.
        zero = ratings.sum(axis=1) == 0
        np.testing.assert_allclose(sums[~zero], 1.0)
        assert np.all(sums[zero] == 0)
    else:
        np.testing.assert_allclose(sums, 1.0)


@pytest.mark.parametrize("rule", RULES, ids=repr)
@given(ratings=ratings_arrays, data=st.data())
@settings(max_examples=40, deadline=None)
def test_one_producer_view_matches_full_probabilities(rule, ratings, data):
    """share(x_i, summary of the others) is column i of the full probability matrix."""
    i = data.draw(st.integers(0, ratings.shape[1] - 1))
    # Snap to a grid so that ties (which top-k breaks by index) actually occur.
    ratings = np.round(ratings * 4) / 4
    others = rule.summarize_others(ratings, i)
    np.testing.assert_allclose(rule.share(ratings[:, i], others),
                               rule.probabilities(ratings)[:, i], atol=1e-12)


@pytest.mark.parametrize("rule", [Linear(), Softmax(0.3), TopK(2, 0.3)], ids=repr)
def test_share_slope_matches_finite_differences(rule):
    rng = np.random.default_rng(0)
    ratings = rng.uniform(0.1, 0.9, size=(50, 4))
    others = rule.summarize_others(ratings, 1)
    x = rng.uniform(0.2, 0.8, size=50)
    h = 1e-6
    numeric = (rule.share(x + h, others) - rule.share(x - h, others)) / (2 * h)
    # Top-k is piecewise smooth; compare where membership does not change within h.
    same = rule.share(x + h, others) * rule.share(x - h, others) > 0
    same |= (rule.share(x + h, others) == 0) & (rule.share(x - h, others) == 0)
    np.testing.assert_allclose(rule.share_slope(x, others)[same], numeric[same], rtol=1e-5,
                               atol=1e-7)


def test_topk_ties_go_to_the_lower_index():
    # One user rating three producers equally: greedy serves producer 0 only.
    probs = TopK(1, 1.0).probabilities(np.array([[0.5, 0.5, 0.5]]))
    np.testing.assert_array_equal(probs, [[1.0, 0.0, 0.0]])
    # k = 2: producers 0 and 1 share the user equally.
    probs = TopK(2, 1.0).probabilities(np.array([[0.5, 0.5, 0.5]]))
    np.testing.assert_allclose(probs, [[0.5, 0.5, 0.0]])


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
        share = rule.share(ratings[:, i], rule.summarize_others(ratings, i))
        assert np.all(np.isfinite(share))
        np.testing.assert_allclose(share, probs[:, i], atol=1e-12)


def test_softmax_low_temperature_is_nearly_greedy():
    ratings = np.array([[0.30, 0.31, 0.10]])
    probs = Softmax(1e-3).probabilities(ratings)
    # exp(-0.01 / 1e-3) = exp(-10): producer 1 gets all but about 4.5e-5.
    np.testing.assert_allclose(probs[0], [np.exp(-10) / (1 + np.exp(-10)),
                                          1 / (1 + np.exp(-10)), 0.0], atol=1e-15)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"rule": "soft"}, "rule must be one of"),
    ({"rule": "softmax", "temperature": 0.0}, "temperature must be a finite number > 0"),
    ({"rule": "softmax", "temperature": -1.0}, "temperature"),
    ({"rule": "softmax", "temperature": float("nan")}, "temperature"),
    ({"rule": "softmax", "temperature": None}, "temperature"),
    ({"rule": "topk", "k": 0}, "k must be an integer >= 1"),
    ({"rule": "topk", "k": None}, "k must be an integer >= 1"),
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
    with pytest.raises(ValueError, match="k is only used by rule 'topk'"):
        make_rule(rule, k=3)


@pytest.mark.parametrize("rule", RULES, ids=repr)
@given(ratings=ratings_arrays)
@settings(max_examples=30, deadline=None)
def test_producer_totals_equal_summed_probabilities(rule, ratings):
    """The fast producer-major totals agree with the (K, n) probabilities they skip."""
    probs = rule.probabilities(ratings)
    engagement, exposure = rule.producer_totals(np.ascontiguousarray(ratings.T))
    np.testing.assert_allclose(engagement, (probs * ratings).sum(axis=0), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(exposure, probs.sum(axis=0), rtol=1e-12, atol=1e-15)
