"""No silent wrong numbers at extreme scales (the adversarial cases of the robustness issue).

Projections are exact for any finite input, best responses stay in the strategy
set and never claim more than any producer can earn, NashConv stays finite and
bounded for temperatures from 1e-8 to 1e8, and the environment never lets a
reward or an observation out of its declared range.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import recgym
from agents import BestResponse
from recgym.strategy import project_to_simplex, project_to_strategy_set

STRATEGY_TOL = 1e-9


def reference_simplex_projection(x: np.ndarray) -> np.ndarray:
    """Projection onto the simplex by bisection on the threshold (another algorithm than
    the sort-based one under test): ``p = max(y - t, 0)`` with ``sum(p) = 1``, on the row
    shifted by its maximum ``y = x - max(x)`` (projection ignores a common shift, and the
    threshold then lies in ``[-1, 0]``)."""
    with np.errstate(over="ignore"):
        y = np.maximum(x - x.max(), -2.0)
    low, high = -1.0, 0.0
    for _ in range(200):
        middle = (low + high) / 2
        if np.maximum(y - middle, 0.0).sum() > 1.0:
            low = middle
        else:
            high = middle
    return np.maximum(y - high, 0.0)


magnitudes = st.sampled_from([1e-300, 1e-100, 1e-16, 1e-3, 1.0, 1e3, 1e16, 1e17, 1e100, 1e300])


@given(seed=st.integers(0, 2**32 - 1), scale=magnitudes, d=st.integers(1, 6))
@settings(max_examples=300, deadline=None)
def test_projections_are_exact_at_every_scale(seed, scale, d):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=d) * scale
    projected = project_to_strategy_set(x[None, :])[0]
    assert np.all(projected >= 0) and projected.sum() <= 1 + STRATEGY_TOL
    clipped = np.maximum(x, 0)
    if clipped.sum() <= 1:
        np.testing.assert_array_equal(projected, clipped)
    else:
        np.testing.assert_allclose(projected, reference_simplex_projection(x), atol=1e-12)
    simplex = project_to_simplex(x)
    assert abs(simplex.sum() - 1) <= 1e-12
    np.testing.assert_allclose(simplex, reference_simplex_projection(x), atol=1e-12)


@given(x=arrays(np.float64, st.integers(1, 6), elements=st.integers(-8, 8).map(lambda v: v / 4)))
@settings(max_examples=200, deadline=None)
def test_projections_of_tied_grid_points(x):
    """Quarter-grid inputs: ties, and entries exactly at the threshold, are common."""
    np.testing.assert_allclose(project_to_simplex(x), reference_simplex_projection(x),
                               atol=1e-12)


@pytest.mark.parametrize(("x", "expected"), [
    ([1e17, 1, 0], [1, 0, 0]),  # the issue's reproduction: was [6.7e16, 0, 0]
    ([1e20, 1, 0], [1, 0, 0]),
    ([1e300, -1e300, 5], [1, 0, 0]),
    ([1.7e308, -1.7e308, 0], [1, 0, 0]),  # x - max overflows to -inf
    ([1e300, 1e300, 0], [0.5, 0.5, 0]),
    ([3.0, 3.0 + 1e-300, 3.0], [1 / 3, 1 / 3, 1 / 3]),
    ([2.0, 1.0, 0.0], [1, 0, 0]),  # the second entry sits exactly at the threshold
    ([1.0, 0.5, 0.5], [2 / 3, 1 / 6, 1 / 6]),
])
def test_projection_of_the_issues_inputs(x, expected):
    np.testing.assert_allclose(project_to_strategy_set(np.array([x]))[0], expected, atol=1e-15)


def test_projection_rejects_complex_and_non_finite_inputs():
    with pytest.raises(TypeError, match="real"):
        project_to_strategy_set(np.array([1 + 2j, 0]))
    with pytest.raises(ValueError, match="finite"):
        project_to_strategy_set(np.array([np.inf, 0]))


temperatures = st.sampled_from([1e-8, 1e-6, 1e-5, 1e-3, 0.03, 1.0, 1e3, 1e8])


@given(seed=st.integers(0, 2**32 - 1), temperature=temperatures, n=st.integers(1, 6),
       rule=st.sampled_from(["softmax", "topk"]))
@settings(max_examples=60, deadline=None)
def test_best_responses_and_nash_conv_stay_bounded(seed, temperature, n, rule):
    """The issue's scan: at T <= 1e-5 best responses left S and NashConv reached 1e275."""
    rng = np.random.default_rng(seed)
    users = rng.dirichlet(np.ones(3), size=20)
    game = recgym.EngagementGame(users, n, rule, temperature=temperature,
                                 k=2 if rule == "topk" else None)
    bound = users.max(axis=1).sum()
    profile = rng.dirichlet(np.ones(3), size=n)
    solver = BestResponse(game, n_random_starts=4, max_steps=100)
    for i in range(n):
        response = solver.best_response(profile, i)
        s = response.strategy
        assert np.all(np.isfinite(s)) and s.min() >= 0 and s.sum() <= 1 + STRATEGY_TOL
        assert np.isfinite(response.utility) and response.utility <= bound * (1 + 1e-12)
        assert response.utility >= response.current_utility
    nash_conv = solver.nash_conv(profile)
    assert np.isfinite(nash_conv.value) and 0 <= nash_conv.value <= n * bound * (1 + 1e-12)


def test_low_temperature_best_response_action_is_in_the_box():
    """``BestResponse(env).action`` returned [0, inf, 0] at T = 1e-5."""
    env = recgym.parallel_env(rule="softmax", temperature=1e-5, n_producers=3, dim=3,
                              n_users=50)
    env.reset(seed=0)
    action = BestResponse(env).action("producer_0")
    assert env.action_space("producer_0").contains(action)
    assert action.sum() <= 1 + 1e-6


finite_floats = st.floats(allow_nan=False, allow_infinity=False, width=64)


@pytest.mark.parametrize("reward", ["engagement", "exposure", "marginal"])
@given(values=st.lists(finite_floats, min_size=9, max_size=9))
@settings(max_examples=50, deadline=None)
def test_rewards_and_observations_stay_in_their_declared_ranges(reward, values):
    env = recgym.parallel_env(rule="softmax", temperature=0.1, n_producers=3, dim=3,
                              n_users=40, reward=reward, reward_scale="sum")
    env.reset(seed=0)
    rows = np.array(values).reshape(3, 3)
    actions = dict(zip(env.possible_agents, rows, strict=True))
    observations, rewards, *_ = env.step(actions)
    low, high = env.reward_range
    for agent in env.possible_agents:
        assert low <= rewards[agent] <= high
        assert env.observation_space(agent).contains(observations[agent])


def test_huge_actions_are_projected_exactly():
    """``[1e20, 1, 0]`` was "projected" to ``[6.7e19, 0, 0]`` with rewards near 7e18."""
    env = recgym.parallel_env(n_producers=2, dim=3, n_users=30)
    env.reset(seed=0)
    _, rewards, _, _, infos = env.step({"producer_0": np.array([1e20, 1.0, 0.0]),
                                        "producer_1": np.array([0.0, 1.0, 0.0])})
    np.testing.assert_array_equal(infos["producer_0"]["embedding"], [1.0, 0.0, 0.0])
    assert 0 <= rewards["producer_0"] <= env.reward_range[1]


@pytest.mark.parametrize("action", [np.array([1 + 1j, 0, 0]), np.array(["a", "b", "c"]),
                                    [0.5, None, 0.1]])
def test_complex_and_non_numeric_actions_are_rejected(action):
    env = recgym.parallel_env(n_producers=2, dim=3, n_users=30)
    env.reset(seed=0)
    actions = {"producer_0": action, "producer_1": np.array([0.0, 1.0, 0.0])}
    with pytest.raises(TypeError, match="producer_0"):
        env.step(actions)
