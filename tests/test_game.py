"""EngagementGame: utilities by hand, conservation, symmetry and input validation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import recgym
from recgym._validation import STRATEGY_TOL


def test_linear_utilities_by_hand():
    # Two users, two producers; ratings R = [[1, 0], [0.5, 0.5]] (hand computation):
    # user 0 -> producer 0 w.p. 1 (engagement 1); user 1 splits 1/2 each (0.25 each).
    users = np.array([[1.0, 0.0], [0.5, 0.5]])
    game = recgym.EngagementGame(users, 2, rule="linear")
    u = game.utilities(np.array([[1.0, 0.0], [0.0, 1.0]]))
    np.testing.assert_allclose(u.engagement, [1.25, 0.25])
    np.testing.assert_allclose(u.exposure, [1.5, 0.5])
    np.testing.assert_allclose(u.user, [1.0, 0.5])


def test_uniform_utilities_by_hand():
    users = np.array([[0.2, 0.8]])
    game = recgym.EngagementGame(users, 2, rule="uniform")
    u = game.utilities(np.array([[1.0, 0.0], [0.0, 1.0]]))
    np.testing.assert_allclose(u.engagement, [0.1, 0.4])


RULE_KW = [dict(rule="linear"), dict(rule="softmax", temperature=0.05),
           dict(rule="softmax", temperature=5.0), dict(rule="topk", k=2, temperature=0.1),
           dict(rule="uniform")]


@pytest.mark.parametrize("kw", RULE_KW, ids=str)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 6), d=st.integers(1, 5))
@settings(max_examples=25, deadline=None)
def test_producer_total_equals_user_total(kw, seed, n, d):
    rng = np.random.default_rng(seed)
    game = recgym.EngagementGame(rng.dirichlet(np.ones(d), size=30), n, **kw)
    profile = rng.dirichlet(np.ones(d + 1), size=n)[:, :d]  # inside S, sums < 1
    u = game.utilities(profile)
    np.testing.assert_allclose(u.engagement.sum(), u.user.sum(), rtol=1e-12)
    assert np.all(u.engagement >= 0) and np.all(u.exposure <= game.n_users + 1e-9)


@pytest.mark.parametrize("kw", [k for k in RULE_KW if k["rule"] != "topk"], ids=str)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 6))
@settings(max_examples=25, deadline=None)
def test_relabelling_producers_permutes_utilities(kw, seed, n):
    rng = np.random.default_rng(seed)
    game = recgym.EngagementGame(rng.dirichlet(np.ones(3), size=20), n, **kw)
    profile = rng.dirichlet(np.ones(3), size=n)
    perm = rng.permutation(n)
    u, v = game.utilities(profile), game.utilities(profile[perm])
    np.testing.assert_allclose(v.engagement, u.engagement[perm], rtol=1e-12)
    np.testing.assert_allclose(v.user, u.user, rtol=1e-12)


def test_relabelling_under_topk_without_ties():
    # Top-k breaks ties by index, so relabelling permutes utilities when no ties occur.
    rng = np.random.default_rng(3)
    game = recgym.EngagementGame(rng.dirichlet(np.ones(3), size=20), 4, rule="topk", k=2)
    profile = rng.dirichlet(np.ones(3), size=4)
    perm = np.array([2, 0, 3, 1])
    np.testing.assert_allclose(game.utilities(profile[perm]).engagement,
                               game.utilities(profile).engagement[perm])


@pytest.mark.parametrize(("users", "message"), [
    (np.array([1.0, 2.0]), "users must be a 2-D array"),
    (np.array([[np.nan, 1.0]]), "users must contain only finite values"),
    (np.array([[np.inf, 1.0]]), "users must contain only finite values"),
    (np.array([[-0.1, 1.0]]), "users must be non-negative"),
    (np.zeros((0, 3)), "users must not be empty"),
])
def test_bad_users(users, message):
    with pytest.raises(ValueError, match=message):
        recgym.EngagementGame(users, 2)


@pytest.mark.parametrize(("n", "error"), [(0, ValueError), (-3, ValueError), (2.5, TypeError),
                                          (True, TypeError)])
def test_bad_number_of_producers(n, error):
    with pytest.raises(error, match="n_producers must be an integer >= 1"):
        recgym.EngagementGame(np.ones((3, 2)) / 2, n)


@pytest.mark.parametrize(("profile", "message"), [
    (np.ones((2, 3)) / 3, r"profile must have shape \(3, 3\)"),
    (np.full((3, 3), 0.5), "producer 0 has sum"),
    (np.array([[-0.1, 0.5, 0.5]] * 3), "got an entry"),
    (np.array([[np.nan, 0, 0]] * 3), "finite"),
])
def test_profiles_outside_the_strategy_set(profile, message):
    game = recgym.EngagementGame(np.ones((4, 3)) / 3, 3)
    with pytest.raises(ValueError, match=message):
        game.utilities(profile)


def test_strategy_set_tolerance_is_documented_and_applied():
    game = recgym.EngagementGame(np.ones((4, 3)) / 3, 1)
    game.utilities(np.array([[1.0 + STRATEGY_TOL / 2, 0.0, 0.0]]))  # accepted
    with pytest.raises(ValueError, match="tolerance"):
        game.utilities(np.array([[1.0 + 10 * STRATEGY_TOL, 0.0, 0.0]]))


def test_projection_onto_the_strategy_set():
    x = np.array([[0.2, -0.3, 0.1], [2.0, 0.0, 0.0], [0.6, 0.6, 0.0], [0.1, 0.2, 0.3]])
    s = recgym.project_to_strategy_set(x)
    np.testing.assert_allclose(s, [[0.2, 0.0, 0.1], [1.0, 0.0, 0.0], [0.5, 0.5, 0.0],
                                   [0.1, 0.2, 0.3]])
    with pytest.raises(ValueError, match="finite"):
        recgym.project_to_strategy_set(np.array([np.nan, 0.0]))


@given(seed=st.integers(0, 2**32 - 1))
@settings(max_examples=50, deadline=None)
def test_projection_is_the_nearest_point(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=4)
    s = recgym.project_to_strategy_set(x)
    assert s.min() >= 0 and s.sum() <= 1 + 1e-12
    # No random point of S is closer (the projection is the Euclidean minimiser).
    candidates = rng.dirichlet(np.ones(5), size=200)[:, :4]
    assert np.linalg.norm(x - s) <= np.linalg.norm(x - candidates, axis=1).min() + 1e-12


def test_the_game_copies_the_users_and_leaves_the_callers_array_writeable():
    users = np.full((4, 2), 0.5)
    game = recgym.EngagementGame(users, 2)
    users[0, 0] = 0.0  # the caller may keep using its array
    assert game.users[0, 0] == 0.5 and not game.users.flags.writeable
