"""Boundedly rational producers as environment baselines (``agents.BehaviorProducers``)."""

from __future__ import annotations

import numpy as np
import pytest

import recgym
from agents import BehaviorProducers, BestResponse


def small_env(**kwargs) -> object:
    settings = dict(n_producers=4, dim=3, n_users=200, horizon=40, action_type="vertex")
    return recgym.parallel_env(**{**settings, **kwargs})


def test_best_responders_reach_an_equilibrium_through_the_env():
    env = small_env()
    run = BehaviorProducers(env, "best_response", seed=1).run(60)
    assert BestResponse(env).nash_conv(run.profiles[-1]).value <= 1e-9


def test_hedge_regret_falls_with_steps():
    regrets = [BehaviorProducers(small_env(), "hedge:rate=30", seed=0).run(steps)
               .max_average_regret for steps in (20, 400)]
    assert regrets[1] < regrets[0]


def test_quantal_with_large_rationality_plays_like_best_responders():
    env = small_env()
    run = BehaviorProducers(env, "quantal:rationality=1e6", seed=2).run(60)
    assert BestResponse(env).nash_conv(run.profiles[-1], over="vertices").value <= 1e-9


def test_box_actions_and_a_cost_of_effort():
    env = small_env(action_type="box", cost=0.1, cost_exponent=2.0)
    run = BehaviorProducers(env, "best_response", seed=0).run(30)
    assert np.all(run.profiles[-1].sum(axis=1) < 1.0)  # effort below a unit at this cost
    assert BestResponse(env).nash_conv(run.profiles[-1]).value <= 1e-5 * env.n_users


def test_runs_are_deterministic_and_rewards_match_the_game():
    a = BehaviorProducers(small_env(), "hedge:rate=10", seed=3).run(25)
    b = BehaviorProducers(small_env(), "hedge:rate=10", seed=3).run(25)
    assert np.array_equal(a.profiles, b.profiles) and np.array_equal(a.rewards, b.rewards)
    env = small_env()
    run = BehaviorProducers(env, "quantal:rationality=5", seed=0).run(5)
    expected = env.game.utilities(run.profiles[-1]).payoff / env.n_users
    assert np.allclose(run.rewards[-1], expected, rtol=1e-6)


def test_vertex_behaviours_are_refused_with_a_cost():
    with pytest.raises(ValueError, match="cost of effort"):
        BehaviorProducers(small_env(cost=0.1), "hedge:rate=1")
