"""Best responses and NashConv: certification, the continuous search, properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import recgym
from agents import BestResponse
from recgym.solvers import ExactSolver
from recgym.solvers.continuous import ascend


def _dirichlet_game(seed: int, n_users: int, dim: int, n: int, **rule) -> recgym.EngagementGame:
    users = np.random.default_rng(seed).dirichlet(np.ones(dim), size=n_users)
    return recgym.EngagementGame(users, n, **rule)


def test_interior_best_response_beats_every_vertex():
    """The issue's example: 8 Dirichlet users (seed 15), softmax T=0.03, other on e_0.

    Hand-checked values: best basis vector about 2.394, an interior strategy near
    (0, 0.55, 0.45) about 2.578.
    """
    game = _dirichlet_game(15, 8, 3, 2, rule="softmax", temperature=0.03)
    profile = np.array([[1.0, 0, 0], [1.0, 0, 0]])
    br = BestResponse(game)
    vertex = br.best_response(profile, 1, over="vertices")
    np.testing.assert_allclose(vertex.utility, 2.394, atol=1e-3)
    np.testing.assert_array_equal(vertex.strategy, [0, 0, 1])
    full = br.best_response(profile, 1)
    assert not full.certified and full.method == "continuous"
    np.testing.assert_allclose(full.utility, 2.578, atol=1e-3)
    np.testing.assert_allclose(full.strategy, [0, 0.55, 0.45], atol=0.01)
    # The reported utility is the game's own utility at the returned strategy.
    check = game.utilities(np.vstack([profile[0], full.strategy])).engagement[1]
    np.testing.assert_allclose(full.utility, check, rtol=1e-12)


def test_linear_best_response_is_certified_and_beats_a_dense_grid():
    game = _dirichlet_game(1, 50, 3, 3, rule="linear")
    profile = np.array([[0.2, 0.3, 0.5], [1.0, 0, 0], [0, 0.5, 0.5]])
    result = BestResponse(game).best_response(profile, 0)
    assert result.certified
    grid = np.array([(a, b, 1 - a - b) for a in np.linspace(0, 1, 51)
                     for b in np.linspace(0, 1, 51) if a + b <= 1 + 1e-12])
    grid = np.clip(grid, 0, 1)
    values = [game.utilities(np.vstack([g, profile[1:]])).engagement[0] for g in grid]
    assert result.utility >= max(values) - 1e-12


@pytest.mark.parametrize("temperature,n,expected", [
    (1.0, 2, True),     # T >= r_max / 2 (r_max <= 1)
    (0.03, 2, False),   # small T, few producers: vertex search is not proven
    (0.2, 300, True),   # n >= 1 + exp(r_max / T): every share stays below 1/2
])
def test_softmax_certification_conditions(temperature, n, expected):
    game = _dirichlet_game(15, 8, 3, n, rule="softmax", temperature=temperature)
    profile = np.tile([1.0, 0, 0], (n, 1))
    br = BestResponse(game, n_random_starts=2)
    assert br.best_response(profile, 0).certified is expected


def test_certification_uses_the_actual_largest_rating():
    # Users' largest weight is 0.5, so T = 0.25 >= r_max / 2 certifies, though T < 1/2.
    users = np.array([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5], [0.5, 0.0, 0.5]])
    game = recgym.EngagementGame(users, 2, "softmax", 0.25)
    assert BestResponse(game).best_response(np.eye(3)[[0, 1]], 0).certified
    game = recgym.EngagementGame(users, 2, "softmax", 0.24)
    assert not BestResponse(game).best_response(np.eye(3)[[0, 1]], 0).certified


@given(seed=st.integers(0, 2**32 - 1), temperature=st.floats(0.5, 20.0),
       n=st.integers(2, 5))
@settings(max_examples=20, deadline=None)
def test_certified_vertex_answers_are_not_beaten_by_the_continuous_search(seed, temperature, n):
    """Cross-check of the certificate: where convexity is proven, ascent finds nothing better."""
    game = _dirichlet_game(seed, 30, 4, n, rule="softmax", temperature=temperature)
    rng = np.random.default_rng(seed)
    profile = rng.dirichlet(np.ones(4), size=n)
    result = BestResponse(game).best_response(profile, 0)
    assert result.certified
    others = game.others(profile, 0)
    _, values = ascend(game, others, rng.dirichlet(np.ones(4), size=8))
    assert values.max() <= result.utility * (1 + 1e-9)


RULES = [dict(rule="linear"), dict(rule="softmax", temperature=0.02),
         dict(rule="softmax", temperature=2.0), dict(rule="topk", k=1, temperature=0.1),
         dict(rule="topk", k=2, temperature=0.05), dict(rule="uniform")]


@pytest.mark.parametrize("rule", RULES, ids=str)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 4))
@settings(max_examples=15, deadline=None)
def test_best_response_is_never_worse_and_nash_conv_is_consistent(rule, seed, n):
    game = _dirichlet_game(seed, 25, 3, n, **rule)
    profile = np.random.default_rng(seed).dirichlet(np.ones(4), size=n)[:, :3]
    br = BestResponse(game, n_random_starts=4, max_steps=60)
    current = game.utilities(profile).engagement
    for over in ("vertices", "simplex"):
        nc = br.nash_conv(profile, over=over)
        assert nc.value >= 0 and np.all(nc.gains >= 0)
        np.testing.assert_allclose(nc.utilities, current, rtol=1e-12)
        np.testing.assert_allclose(nc.value, nc.gains.sum())
        np.testing.assert_allclose(nc.exploitability, nc.value / n)
    vertex = br.nash_conv(profile, over="vertices")
    simplex = br.nash_conv(profile, over="simplex")
    assert np.all(simplex.gains >= vertex.gains - 1e-12)
    result = br.best_response(profile, n - 1)
    assert result.utility >= result.current_utility
    strategy = result.strategy
    assert strategy.min() >= 0 and strategy.sum() <= 1 + 1e-9
    realised = game.utilities(np.vstack([profile[:-1], strategy])).engagement[-1]
    np.testing.assert_allclose(realised, result.utility, rtol=1e-9)


def test_best_response_to_an_empty_feature_under_greedy_serving():
    # Greedy (top-1): joining nobody's feature wins every user who rates it highest.
    users = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7]])
    game = recgym.EngagementGame(users, 2, "topk", k=1, temperature=1.0)
    result = BestResponse(game).best_response(np.array([[0.0, 1.0], [0.0, 1.0]]), 1)
    assert result.utility >= 0.9  # e_0 wins user 0 alone (rating 0.9); by hand
    assert not result.certified


def test_bad_best_response_arguments():
    game = _dirichlet_game(0, 5, 2, 2, rule="linear")
    br = BestResponse(game)
    with pytest.raises(ValueError, match="producer must be in 0..1"):
        br.best_response(np.eye(2), 2)
    with pytest.raises(ValueError, match="over must be one of"):
        br.best_response(np.eye(2), 0, over="grid")
    with pytest.raises(TypeError, match="EngagementGame or a recgym environment"):
        BestResponse(np.eye(2))
    with pytest.raises(ValueError, match="n_random_starts"):
        BestResponse(game, n_random_starts=-1)


def test_nash_conv_of_a_profile_met_again_is_remembered_per_active_set():
    users = np.random.default_rng(4).dirichlet(np.ones(3), size=30)
    game = recgym.EngagementGame(users, 3, "softmax", temperature=0.2)
    solver = ExactSolver(game)
    profile = np.eye(3)[[0, 0, 1]]
    first = solver.nash_conv(profile)
    assert solver.nash_conv(profile.copy()) is first
    fresh = ExactSolver(game).nash_conv(profile)
    assert fresh.value == first.value and np.array_equal(fresh.gains, first.gains)
    without_last = solver.nash_conv(profile, active=[True, True, False])
    assert without_last is not first and without_last.gains[2] == 0.0
