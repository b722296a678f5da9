"""Creators who leave: outside options in the dynamics, the environment and RL training."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test

import recgym
from recgym.solvers import Exit, Move, best_response_dynamics

SMALL = {"n_producers": 4, "dim": 3, "n_users": 200}


@pytest.fixture(scope="module")
def users() -> np.ndarray:
    return recgym.users.synthetic_skewed(500, 5, seed=2)


def test_zero_options_leave_the_papers_dynamics_bit_identical(users):
    plain = recgym.EngagementGame(users, 8, "softmax", temperature=0.1)
    zero = recgym.EngagementGame(users, 8, "softmax", temperature=0.1,
                                 outside_option=np.zeros(8))
    for seed in range(5):
        a, b = best_response_dynamics(plain, seed), best_response_dynamics(zero, seed)
        assert a.moves == b.moves and a.iterations == b.iterations and not b.exits
        assert np.array_equal(a.counts, b.counts) and b.active.all()


@pytest.mark.parametrize("rule", ["softmax:temperature=0.1", "linear", "uniform"])
@pytest.mark.parametrize("option", [0.02, 0.035, np.linspace(0.0, 0.06, 10)])
def test_exits_follow_the_rule_and_survivors_earn_their_option(users, rule, option):
    game = recgym.EngagementGame(users, 10, rule, outside_option=option)
    events = []
    result = best_response_dynamics(game, 4, callback=lambda e, d: events.append(e))
    assert result.converged
    # Events in order; exits permanent: an exited producer never moves again.
    exited: set[int] = set()
    for event in events:
        assert event.producer not in exited
        if isinstance(event, Exit):
            exited.add(event.producer)
    assert [e for e in events if isinstance(e, Exit)] == list(result.exits)
    assert [e for e in events if isinstance(e, Move)] == list(result.moves)
    assert result.iterations == len(events)  # an exit counts as an iteration
    assert {e.producer for e in result.exits} == set(np.flatnonzero(~result.active))
    assert result.directions.shape == (10,) and result.counts.sum() == result.active.sum()
    # At the end every active producer earns at least its option per user.
    utilities = game.utilities(result.profile, result.active)
    per_user = utilities.payoff[result.active] / game.total_weight
    assert np.all(per_user >= game.outside_option[result.active])
    assert np.all(utilities.payoff[~result.active] == 0)


def test_exited_producers_leave_the_served_set(users):
    """Not a zero row: softmax would still serve a producer posting nothing."""
    game = recgym.EngagementGame(users, 3, "softmax", temperature=0.5)
    profile = np.eye(5)[[0, 1, 2]]
    active = np.array([True, True, False])
    two = recgym.EngagementGame(users, 2, "softmax", temperature=0.5)
    np.testing.assert_allclose(game.utilities(profile, active).user,
                               two.utilities(profile[:2]).user)


def test_exits_under_a_design_search(users):
    from recgym import design

    frame = design.evaluate(users, 10, ["softmax:temperature=0.1", "softmax:temperature=10"],
                            ["user_welfare", "viable_producers:o=0.06"], [1, 2],
                            outside_option=0.06)
    assert set(frame["producers_retained"]) <= set(range(11))
    assert (frame["producers_retained"] < 10).any()
    left = 10 - frame["producers_retained"]
    assert np.allclose(frame["exited_outside_option"], 0.06 * left)
    assert (frame["viable_producers:o=0.06"] == frame["producers_retained"]).all()


# ---------------------------------------------------------------------- the environment
LEAVING = {**SMALL, "outside_option": [0.0, 0.0, 0.0, 5.0], "patience": 2}


def test_environment_passes_pettingzoo_tests_with_exits():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parallel_api_test(recgym.parallel_env(**LEAVING, horizon=15), num_cycles=20)
        parallel_seed_test(lambda: recgym.parallel_env(**LEAVING, horizon=15), num_cycles=20)
        api_test(recgym.env(**LEAVING, horizon=15), num_cycles=20)


def test_a_producer_below_its_option_for_patience_steps_leaves():
    env = recgym.parallel_env(**LEAVING, horizon=10)
    env.reset(seed=0)
    actions = {a: np.eye(3, dtype=np.float32)[i % 3] for i, a in enumerate(env.agents)}
    _, rewards, terminations, _, _ = env.step(actions)
    assert not any(terminations.values()) and env.agents == env.possible_agents
    observations, rewards, terminations, _, _ = env.step(actions)
    assert terminations == {"producer_0": False, "producer_1": False, "producer_2": False,
                            "producer_3": True}
    # Already on the step it leaves, the others' mean leaves producer_3 out.
    np.testing.assert_allclose(observations["producer_0"][3:6], [0, 0.5, 0.5], atol=1e-7)
    assert env.agents == ["producer_0", "producer_1", "producer_2"]
    assert not env.active[3]
    with pytest.raises(ValueError, match="producer_3 has left the game"):
        env.step(actions)
    del actions["producer_3"]
    observations, rewards, *_ = env.step(actions)
    assert set(observations) == set(rewards) == set(env.agents)
    # The others play against the smaller field: rewards as in a three-producer game.
    three = recgym.EngagementGame(env.users, 3, "softmax")
    expected = three.utilities(np.eye(3)[[0, 1, 2]]).engagement / env.n_users
    np.testing.assert_allclose([rewards[a] for a in env.agents], expected)
    # Others' mean in the observation is over the producers still in.
    np.testing.assert_allclose(observations["producer_0"][3:6], [0, 0.5, 0.5], atol=1e-7)


def test_rendering_shows_the_producers_still_in():
    env = recgym.parallel_env(**LEAVING, horizon=10, render_mode="ansi")
    env.reset(seed=0)
    actions = {a: np.eye(3, dtype=np.float32)[i % 3] for i, a in enumerate(env.agents)}
    env.step(actions)
    assert env.render().splitlines()[2].split()[1] == "2.000"  # producers 0 and 3 on e_0
    env.step(actions)
    text = env.render()
    assert "active 3/4" in text.splitlines()[0]
    assert text.splitlines()[2].split()[1] == "1.000"  # producer 3 has left


def test_the_episode_ends_when_every_producer_has_left():
    env = recgym.parallel_env(**SMALL, outside_option=10.0, horizon=50)
    env.reset(seed=1)
    _, _, terminations, truncations, _ = env.step(
        {a: env.action_space(a).sample() for a in env.agents})
    assert all(terminations.values()) and not any(truncations.values())
    assert env.agents == []


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"outside_option": -0.1}, "outside_option must be non-negative"),
    ({"outside_option": [0.1, 0.2]}, r"outside_option must be a number or an array of shape"),
    ({"outside_option": float("nan")}, "outside_option must contain only finite"),
    ({"patience": 0}, "patience must be an integer >= 1"),
])
def test_bad_exit_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        recgym.parallel_env(**SMALL, **kwargs)


# ---------------------------------------------------------------------- RL with exits
def test_sb3_adapter_black_death_and_evaluation_with_producers_that_leave():
    from agents.rl import ProducerVecEnv, evaluate, shared_model

    venv = ProducerVecEnv([recgym.parallel_env(**LEAVING, horizon=6) for _ in range(2)])
    venv.seed(0)
    venv.reset()
    actions = np.tile(np.eye(3, dtype=np.float32)[[0, 1, 2, 0]], (2, 1))
    for step in range(6):
        obs, rewards, dones, infos = venv.step(actions)
        if 2 <= step < 5:  # producer_3 (slots 3 and 7) left at the second step; at the
            # horizon the copies are reset and it is back
            assert not obs[[3, 7]].any() and not rewards[[3, 7]].any()
        assert dones.all() if step == 5 else not dones.any()  # copies end at the horizon
    assert infos[3]["TimeLimit.truncated"] and not infos[3]["terminal_observation"].any()
    model = shared_model([recgym.parallel_env(**LEAVING, horizon=6) for _ in range(2)],
                         seed=0, n_steps=8, batch_size=16)
    model.learn(64)
    result = evaluate(model, recgym.parallel_env(**LEAVING, horizon=6))
    assert result.to_dict()["producers_retained"] == int(result.active.sum()) == 3
    assert result.producer_utilities[3] == 0.0 and np.isfinite(result.nash_conv)


def test_evaluation_once_every_producer_has_left_is_quiet():
    from agents.rl import evaluate

    env = recgym.parallel_env(**SMALL, outside_option=10.0, horizon=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = evaluate(lambda obs: np.full((SMALL["n_producers"], 3), 1 / 3), env)
    assert not result.active.any() and result.nash_conv == 0.0
    assert result.concentrated_share == 0.0 and result.features_used == 0
    assert np.isnan(result.nash_conv_relative)  # relative to a total payoff of 0


def test_price_of_anarchy_compares_the_equilibria_of_the_game_with_exits(users):
    from recgym import design

    candidate = design.Candidate("softmax:temperature=0.1")
    frame = design.evaluate(users, 10, [candidate], ["user_welfare"], [1, 2, 3],
                            outside_option=0.06, nash_conv=False)
    assert (frame["producers_retained"] < 10).all() and frame["converged"].all()
    result = design.price_of_anarchy(users, 10, candidate, "user_welfare", [1, 2, 3],
                                     outside_option=0.06, starts=0)
    assert result.worst == frame["user_welfare"].min()
    assert result.best == frame["user_welfare"].max()


def test_the_equilibrium_report_names_the_producers_that_left(users):
    from recgym.experiments.config import EquilibriumConfig
    from recgym.experiments.equilibrium import format_report
    from recgym.solvers import summarize_equilibrium

    game = recgym.EngagementGame(users, 4, "softmax", outside_option=[0, 0, 0, 1.0])
    summary = summarize_equilibrium(game, 0)
    assert [e.producer for e in summary.dynamics.exits] == [3]
    report = format_report(summary, EquilibriumConfig())
    assert "producers that left (below their outside option): producer 3" in report
    assert "3 of 4 remain" in report
    quiet = format_report(summarize_equilibrium(recgym.EngagementGame(users, 4), 0),
                          EquilibriumConfig())
    assert "left" not in quiet
