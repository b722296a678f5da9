"""The PettingZoo environment: API contract, rewards, determinism, bad input, rendering,
and the env side of exact best responses and the paper's dynamics."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from gymnasium.spaces import Box
from hypothesis import given, settings
from hypothesis import strategies as st
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test

import recgym
from agents.best_response import BestResponse
from agents.env_play import (
    best_response_action,
    dynamics_through_env,
    observation_determines_best_response,
)
from recgym.environment import env as aec_env
from recgym.environment import parallel_env, raw_env
from recgym.solvers import best_response_dynamics

SMALL = {"n_producers": 4, "dim": 3, "n_users": 200}
RULES = {  # every serving rule, top-k both proper (k < n) and greedy
    "softmax": {"rule": "softmax", "temperature": 0.5},
    "linear": {"rule": "linear"},
    "topk": {"rule": "topk", "k": 2, "temperature": 0.2},
    "greedy": {"rule": "topk", "k": 1},
    "uniform": {"rule": "uniform"},
}


def _random_actions(env, rng: np.random.Generator, low: float = 0.0, high: float = 1.0):
    return {a: rng.uniform(low, high, env.dim).astype(np.float32) for a in env.agents}


# ------------------------------------------------------------------ PettingZoo's API tests
@pytest.mark.parametrize("config", RULES.values(), ids=RULES.keys())
def test_pettingzoo_api(config):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checkers warn about anything suspicious
        # ... except our own warning: the checkers pass reset(options={"options": 1}).
        warnings.filterwarnings("ignore", message="reset ignores unknown options")
        parallel_api_test(parallel_env(**SMALL, horizon=15, **config), num_cycles=20)
        parallel_seed_test(lambda: parallel_env(**SMALL, horizon=15, **config), num_cycles=20)
        api_test(aec_env(**SMALL, horizon=15, **config), num_cycles=20)
        api_test(raw_env(**SMALL, horizon=15, **config), num_cycles=20)


def test_default_call_works_as_written():
    env = parallel_env(rule="softmax")
    assert (env.n_producers, env.dim, env.n_users, env.horizon) == (10, 5, 1000, 100)
    assert env.possible_agents == [f"producer_{i}" for i in range(10)]
    obs, _ = env.reset(seed=0)
    assert env.observation_space("producer_3").contains(obs["producer_3"])
    assert env.observation_space("producer_3") is env.observation_space("producer_3")
    assert env.action_space("producer_3") == Box(0.0, 1.0, (5,), np.float32)


# ------------------------------------------------------------------ rewards and dynamics
@pytest.mark.parametrize("config", RULES.values(), ids=RULES.keys())
@pytest.mark.parametrize("reward,scale", [("engagement", "mean"), ("exposure", "sum")])
def test_rewards_are_the_games_utilities_of_projected_actions(config, reward, scale):
    env = parallel_env(**SMALL, reward=reward, reward_scale=scale, **config)
    env.reset(seed=1)
    rng = np.random.default_rng(2)
    divisor = env.n_users if scale == "mean" else 1
    for step in range(5):
        actions = _random_actions(env, rng, -0.5, 1.5)  # outside the box: projected too
        _, rewards, _, _, infos = env.step(actions)
        projected = recgym.project_to_strategy_set(np.stack(list(actions.values())))
        utilities = env.game.utilities(projected)  # the game's own, obvious computation
        expected = getattr(utilities, reward) / divisor
        got = np.array([rewards[a] for a in env.agents])
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15, err_msg=f"step {step}")
        np.testing.assert_array_equal(env.profile, projected, err_msg=f"step {step}")
        for i, agent in enumerate(env.agents):
            np.testing.assert_array_equal(infos[agent]["embedding"], projected[i])


def test_rewards_hand_solved_linear():
    # Two users who each like one feature, two producers on different features:
    # linear serving shows each user only the producer on its feature (rating 1), so
    # each producer's engagement is 1 user x rating 1 = 1, i.e. 0.5 per user.
    env = parallel_env(rule="linear", users=np.eye(2), n_producers=2)
    env.reset(options={"directions": [0, 1]})
    _, rewards, _, _, infos = env.step({"producer_0": np.array([1, 0], np.float32),
                                        "producer_1": np.array([0, 1], np.float32)})
    assert rewards == {"producer_0": 0.5, "producer_1": 0.5}
    assert infos["producer_0"]["exposure"] == 0.5


def test_low_temperature_stays_finite():
    env = parallel_env(**SMALL, rule="softmax", temperature=1e-3)
    env.reset(seed=0)
    _, rewards, *_ = env.step(_random_actions(env, np.random.default_rng(0)))
    assert np.all(np.isfinite(list(rewards.values())))
    np.testing.assert_allclose(sum(rewards.values()),
                               env.game.utilities(env.profile).user.mean(), rtol=1e-12)


def test_projection_of_out_of_box_and_in_set_actions():
    env = parallel_env(rule="linear", n_producers=3, dim=3, n_users=10)
    env.reset(seed=0)
    inside = np.array([0.2, 0.3, 0.1], np.float32)
    _, _, _, _, infos = env.step({"producer_0": np.array([2.0, -1.0, 0.0]),  # -> e_0
                                  "producer_1": inside,  # in S: kept
                                  "producer_2": np.array([0.8, 0.8, 0.0], np.float32)})
    np.testing.assert_array_equal(infos["producer_0"]["embedding"], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(infos["producer_1"]["embedding"], inside.astype(np.float64))
    np.testing.assert_allclose(infos["producer_2"]["embedding"], [0.5, 0.5, 0.0])


@settings(max_examples=40, deadline=None)
@given(rule=st.sampled_from(list(RULES)), reward=st.sampled_from(["engagement", "exposure"]),
       values=st.lists(st.floats(-2.0, 3.0), min_size=12, max_size=12))
def test_any_finite_action_gives_valid_state(rule, reward, values):
    env = parallel_env(**SMALL, reward=reward, **RULES[rule])
    env.reset(seed=0)
    actions = dict(zip(env.agents, np.reshape(values, (4, 3)), strict=True))
    obs, rewards, *_ = env.step(actions)
    env.game.check_profile(env.profile)  # in the strategy set
    for agent in env.possible_agents:
        assert env.observation_space(agent).contains(obs[agent]), agent
        assert env.reward_range[0] <= rewards[agent] <= env.reward_range[1], agent


def test_observation_layout():
    env = parallel_env(**SMALL, rule="softmax", reward_scale="sum")
    obs, _ = env.reset(options={"directions": [0, 0, 1, 2]})
    d, n = env.dim, env.n_producers
    o = obs["producer_2"]
    assert o.shape == (3 * d + 1 + n,) and o.dtype == np.float32
    np.testing.assert_array_equal(o[:d], [0, 1, 0])
    np.testing.assert_allclose(o[d:2 * d], [2 / 3, 0, 1 / 3], rtol=1e-6)
    np.testing.assert_allclose(o[2 * d:3 * d], env.users.sum(0) / env.users.sum(), rtol=1e-6)
    assert o[3 * d] == np.float32(env.game.utilities(env.profile).engagement[2])
    np.testing.assert_array_equal(o[3 * d + 1:], [0, 0, 1, 0])
    assert parallel_env(**SMALL, agent_ids=False).observation_space("producer_0").shape == (10,)


def test_truncation_at_horizon_and_step_without_reset():
    env = parallel_env(**SMALL, horizon=3)
    with pytest.raises(RuntimeError, match="reset"):
        env.step({})
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for step in range(3):
        _, _, terminations, truncations, _ = env.step(_random_actions(env, rng))
        assert not any(terminations.values())
        assert all(truncations.values()) == (step == 2), f"step {step}"
    assert env.agents == []
    with pytest.raises(RuntimeError, match="reset"):
        env.step({})


def test_users_fixed_and_seeded():
    env = parallel_env(**SMALL)
    users = env.users.copy()
    env.reset(seed=5)
    env.reset(seed=6)
    np.testing.assert_array_equal(env.users, users)
    np.testing.assert_array_equal(parallel_env(**SMALL).users, users)
    assert not np.array_equal(parallel_env(**SMALL, users_seed=1).users, users)
    # users_seed is the paper's stream: recgym.users.synthetic_uniform(K, d, seed).
    np.testing.assert_array_equal(users, recgym.users.synthetic_uniform(200, 3, seed=0))


def test_same_seed_same_run_step_by_step():
    envs = [parallel_env(n_producers=6, dim=4, n_users=300, rule="softmax") for _ in range(2)]
    first = [env.reset(seed=11) for env in envs]
    start = envs[0].profile.copy()
    np.testing.assert_array_equal(start, envs[1].profile)
    for agent in envs[0].agents:
        np.testing.assert_array_equal(first[0][0][agent], first[1][0][agent])
    rngs = [np.random.default_rng(3) for _ in envs]
    for step in range(20):
        out = [env.step(_random_actions(env, rng)) for env, rng in zip(envs, rngs, strict=True)]
        for agent in envs[0].possible_agents:
            np.testing.assert_array_equal(out[0][0][agent], out[1][0][agent],
                                          err_msg=f"observation of {agent} at step {step}")
            assert out[0][1][agent] == out[1][1][agent], f"reward of {agent} at step {step}"
    other = parallel_env(n_producers=6, dim=4, n_users=300)
    other.reset(seed=12)
    assert not np.array_equal(other.profile, start)  # the seed matters


def test_reset_options():
    env = parallel_env(**SMALL)
    env.reset(options={"directions": [2, 1, 0, 0]})
    np.testing.assert_array_equal(env.profile.argmax(1), [2, 1, 0, 0])
    profile = np.full((4, 3), 0.25)
    env.reset(options={"profile": profile})
    np.testing.assert_array_equal(env.profile, profile)
    with pytest.warns(UserWarning, match="unknown options"):
        env.reset(options={"profiel": profile})
    with pytest.raises(ValueError, match="not both"):
        env.reset(options={"profile": profile, "directions": [0, 0, 0, 0]})
    with pytest.raises(ValueError, match="strategy set"):
        env.reset(options={"profile": np.ones((4, 3))})
    with pytest.raises(ValueError, match="directions"):
        env.reset(options={"directions": [0, 1, 5, 0]})
    with pytest.raises(ValueError, match="seed"):
        env.reset(seed=-1)


# ------------------------------------------------------------------ bad input
def test_bad_actions_name_the_agent():
    env = parallel_env(**SMALL)
    env.reset(seed=0)
    good = _random_actions(env, np.random.default_rng(0))
    cases = [({**good, "producer_1": np.zeros(4, np.float32)}, ValueError, "producer_1.*shape"),
             ({**good, "producer_2": np.array([np.nan, 0, 0])}, ValueError, "producer_2.*finite"),
             ({**good, "producer_0": np.array([np.inf, 0, 0])}, ValueError, "producer_0.*finite"),
             ({**good, "producer_3": "abc"}, TypeError, "producer_3.*numeric"),
             ({**good, "producer_9": good["producer_0"]}, ValueError, "unknown agent 'producer_9'"),
             ({a: v for a, v in good.items() if a != "producer_1"}, ValueError,
              r"missing \['producer_1'\]")]
    for actions, error, message in cases:
        with pytest.raises(error, match=message):
            env.step(actions)
    with pytest.raises(TypeError, match="dict"):
        env.step([good[a] for a in env.agents])
    with pytest.raises(ValueError, match="unknown agent"):
        env.action_space("producer_x")


def test_aec_rejects_a_bad_action_at_its_own_turn():
    env = aec_env(**SMALL)
    env.reset(seed=0)
    assert env.agent_selection == "producer_0"
    with pytest.raises(ValueError, match="producer_0.*finite"):
        env.step(np.array([np.nan, 0, 0], np.float32))


@pytest.mark.parametrize("kwargs,error,message", [
    ({"rule": "soft"}, ValueError, "rule"),
    ({"reward": "clicks"}, ValueError, "reward must be one of"),
    ({"reward_scale": "max"}, ValueError, "reward_scale"),
    ({"render_mode": "human"}, ValueError, "render_mode"),
    ({"horizon": 0}, ValueError, "horizon"),
    ({"n_producers": 0}, ValueError, "n_producers"),
    ({"n_producers": 2.5}, TypeError, "n_producers"),
    ({"temperature": 0.0}, ValueError, "temperature"),
    ({"k": 2}, ValueError, "rule 'softmax' has no parameter 'k'"),
    ({"rule": "topk"}, ValueError, "needs k"),
    ({"reward": "revenue"}, ValueError, "reward must be one of engagement, exposure, marginal"),
    ({"rule": "softmax:temperature=0.5", "temperature": 0.2}, ValueError, "0.5 in the spec"),
    ({"users": np.ones((5, 3)), "dim": 4}, ValueError, "dim=4 contradicts"),
    ({"users": np.ones((5, 3)), "n_users": 6}, ValueError, "n_users=6 contradicts"),
    ({"users": -np.ones((5, 3))}, ValueError, "non-negative"),
    ({"users": np.zeros((5, 3))}, ValueError, "positive total"),
    ({"users_seed": -1}, ValueError, "users_seed"),
    ({"agent_ids": 1}, TypeError, "agent_ids"),
])
def test_invalid_configuration(kwargs, error, message):
    with pytest.raises(error, match=message):
        parallel_env(**kwargs)


def test_user_array_sets_shape():
    users = recgym.users.synthetic_uniform(30, 4, seed=1)
    env = parallel_env(users=users, n_producers=2)
    assert (env.n_users, env.dim) == (30, 4)
    np.testing.assert_array_equal(env.users, users)


def test_users_by_data_set_name():
    env = parallel_env(users="synth-uniform", dim=3, users_seed=17, n_producers=2)
    np.testing.assert_array_equal(env.users, recgym.users.synthetic_uniform(10_000, 3, seed=17))
    with pytest.raises(ValueError, match="n_users=5 contradicts data set 'synth-uniform'"):
        parallel_env(users="synth-uniform", n_users=5)
    with pytest.raises(ValueError, match="name must be one of"):
        parallel_env(users="netflix")
    with pytest.raises(ValueError, match="users_path"):
        parallel_env(users_path="somewhere")


# ------------------------------------------------------------------ rendering
def test_render_ansi_and_rgb():
    env = parallel_env(**SMALL, render_mode="ansi")
    env.reset(options={"directions": [0, 0, 2, 0]})
    text = env.render()
    lines = text.splitlines()
    assert lines[0].startswith("step 0/100  rule softmax")
    assert len(lines) == 2 + env.dim
    share = env.users.sum(0) / env.users.sum()
    for f, line in enumerate(lines[2:]):
        cells = line.split()
        assert int(cells[0]) == f
        assert float(cells[1]) == [3.0, 0.0, 1.0][f]  # producers on feature f
        assert float(cells[3]) == pytest.approx(share[f], abs=5e-4)
    image = parallel_env(**SMALL, render_mode="rgb_array")
    image.reset(seed=0)
    picture = image.render()
    assert picture.ndim == 3 and picture.shape[2] == 3 and picture.dtype == np.uint8
    assert len(np.unique(picture.reshape(-1, 3), axis=0)) > 3  # bars, text, background
    quiet = parallel_env(**SMALL)
    quiet.reset(seed=0)
    with pytest.warns(UserWarning, match="render_mode"):
        assert quiet.render() is None


# ------------------------------------------------------------------ best responses
@pytest.mark.parametrize("config", [RULES["softmax"], RULES["linear"]], ids=["softmax", "linear"])
def test_best_response_action_from_state(config):
    env = parallel_env(**SMALL, **config)
    env.reset(seed=3)
    responder = BestResponse(env.game)
    for i, agent in enumerate(env.agents):
        action = best_response_action(env, agent)
        assert action.dtype == np.float32 and env.action_space(agent).contains(action)
        expected = responder.best_response(env.profile, i)
        np.testing.assert_array_equal(action, expected.strategy.astype(np.float32))
        # Playing it (the others repeating) earns the best-response utility.
        actions = {a: env.profile[j].astype(np.float32) for j, a in enumerate(env.agents)}
        before = env.profile.copy()
        _, rewards, *_ = env.step({**actions, agent: action})
        assert rewards[agent] * env.n_users == pytest.approx(expected.utility, rel=1e-6)
        env.reset(options={"profile": before})


def test_best_response_from_observation():
    # Linear: the others' mean determines the best response, even for a stale observation.
    env = parallel_env(**SMALL, rule="linear", users_seed=4)
    obs, _ = env.reset(options={"profile": np.array([[.2, .3, .1], [.7, 0, .3], [0, .5, .5],
                                                     [.1, .1, .1]])})
    stale, old_profile = obs["producer_1"], env.profile.copy()
    assert observation_determines_best_response(env.game)
    env.step(_random_actions(env, np.random.default_rng(0)))
    expected = BestResponse(env.game).best_response(old_profile, 1).strategy
    np.testing.assert_array_equal(best_response_action(env, "producer_1", stale),
                                  expected.astype(np.float32))
    with pytest.raises(ValueError, match="producer_1, not producer_2"):
        best_response_action(env, "producer_2", stale)
    # Softmax with n > 2: only the current observation (matched to the state) is usable.
    soft = parallel_env(**SMALL, rule="softmax")
    obs, _ = soft.reset(seed=0)
    np.testing.assert_array_equal(best_response_action(soft, "producer_0", obs["producer_0"]),
                                  best_response_action(soft, "producer_0"))
    soft.step(_random_actions(soft, np.random.default_rng(1)))
    with pytest.raises(ValueError, match="does not determine"):
        best_response_action(soft, "producer_0", obs["producer_0"])
    # The best response maximises the environment's reward: exposure here.
    exposure = parallel_env(**SMALL, rule="linear", reward="exposure")
    exposure.reset(seed=3)
    action = best_response_action(exposure, "producer_0")
    expected = BestResponse(exposure.game).best_response(exposure.profile, 0)
    assert exposure.game.payoff.NAME == "exposure" and expected.method == "concave"
    np.testing.assert_allclose(action, expected.strategy, atol=1e-6)


# ------------------------------------------------------------------ dynamics through the env
def _same(result, expected, where):
    assert result.converged == expected.converged, where
    assert result.iterations == expected.iterations, where
    np.testing.assert_array_equal(result.directions, expected.directions, err_msg=where)
    np.testing.assert_array_equal(result.counts, expected.counts, err_msg=where)
    np.testing.assert_array_equal(result.profile, expected.profile, err_msg=where)
    assert result.moves == expected.moves, where


@pytest.mark.parametrize("config", [
    {"rule": "softmax", "n_producers": 6},
    {"rule": "linear", "n_producers": 6},
    {"rule": "topk", "k": 2, "n_producers": 4},
    {"rule": "softmax", "temperature": 0.01, "n_producers": 3},  # cycles: crosses horizons
], ids=["softmax", "linear", "topk", "softmax-T0.01"])
def test_dynamics_through_env_match_the_game(config):
    for seed in range(3):
        env = parallel_env(dim=4, n_users=150, horizon=40, **config)
        expected = best_response_dynamics(env.game, seed, max_iter=120)
        seen: list[np.ndarray] = []
        result = dynamics_through_env(env, seed, max_iter=120,
                                      callback=lambda move, dirs, seen=seen: seen.append(dirs))
        _same(result, expected, f"{config} seed {seed}")
        np.testing.assert_array_equal(env.profile, expected.profile)  # the env really moved
        assert len(seen) == len(expected.moves)
        if seen:
            np.testing.assert_array_equal(seen[-1], expected.directions)
    aec = aec_env(dim=4, n_users=150, horizon=40, **config)
    _same(dynamics_through_env(aec, 7, max_iter=120),
          best_response_dynamics(aec.unwrapped.game, 7, max_iter=120), f"{config} AEC")


def test_best_response_class_accepts_env():
    """``agents.BestResponse(env)`` delegates to ``agents.env_play`` (issue item 5)."""
    env = parallel_env(n_producers=5, dim=3, n_users=100, horizon=10)
    via_env = BestResponse(env).dynamics(seed=4)
    _same(via_env, BestResponse(env.game).dynamics(seed=4), "BestResponse(env)")
    np.testing.assert_array_equal(env.profile, via_env.profile)  # it ran through the env
    obs, _ = env.reset(seed=0)
    expected = BestResponse(env.game).best_response(env.profile, 2).strategy.astype(np.float32)
    np.testing.assert_array_equal(BestResponse(env).action("producer_2"), expected)
    np.testing.assert_array_equal(BestResponse(env).action("producer_2", obs["producer_2"]),
                                  expected)


def test_best_response_action_faces_only_the_producers_still_in():
    users = np.array([[0.9, 0.1]] * 5 + [[0.1, 0.9]] * 5)
    env = parallel_env(users=users, n_producers=3, rule="softmax:temperature=0.05",
                       outside_option=[0.0, 0.0, 0.6])
    env.reset(options={"directions": [0, 1, 1]})
    obs, _, terminations, _, _ = env.step({"producer_0": np.array([1.0, 0.0]),
                                           "producer_1": np.array([1.0, 0.0]),
                                           "producer_2": np.array([0.0, 1.0])})
    assert terminations["producer_2"]
    responder = BestResponse(env)
    expected = responder.best_response(env.profile, 1, active=env.active).strategy
    np.testing.assert_array_equal(expected, [0.0, 1.0])  # the feature producer_2 left
    np.testing.assert_array_equal(responder.action("producer_1"), expected)
    np.testing.assert_array_equal(responder.action("producer_1", obs["producer_1"]), expected)
    with pytest.raises(ValueError, match="producer_2 has left the game"):
        responder.action("producer_2")


def test_vertex_environments_get_feature_indices():
    env = parallel_env(n_producers=5, dim=4, n_users=300, action_type="vertex", horizon=7)
    result = BestResponse(env).dynamics(seed=3)
    _same(result, BestResponse(env.game).dynamics(seed=3), "vertex actions")
    env.reset(seed=0)
    action = BestResponse(env).action("producer_0")
    assert env.action_space("producer_0").contains(action)
    expected = BestResponse(env.game).best_response(env.profile, 0, over="vertices").strategy
    np.testing.assert_array_equal(env.game.vertices[action], expected)


def test_games_whose_producers_can_leave_are_refused_by_the_env_dynamics():
    for kwargs in ({"outside_option": 0.01}, {"reward": "marginal"}):
        env = parallel_env(n_producers=4, dim=3, n_users=100, **kwargs)
        with pytest.raises(ValueError, match="producers can leave this game"):
            BestResponse(env).dynamics(seed=3)


def test_quickstart_example_runs():
    script = Path(__file__).resolve().parents[1] / "examples" / "env_quickstart.py"
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=120, check=True)
    assert "same as on the game directly: True" in done.stdout


def test_dynamics_through_env_reproduce_published_runs(paper_dir):
    # Experiment 1 (docs/model.md section 8): run 1, synthetic uniform users (K = 10,000,
    # embedding seed 17), d = 5; one RandomState(1) shared by n = 2, 5, 10 in turn.
    # Expected values: the paper's published runs (recgym.published).
    published = pd.read_csv(paper_dir / "exp1_iterations.csv.gz")
    for rule in ("linear", "softmax"):
        rows = published[(published.dataset == "synth-uniform") & (published.rule == rule)
                         & (published.run == 1) & (published.dim == 5)]
        rng = np.random.RandomState(1)
        for n in (2, 5, 10):
            want = rows[rows.n_producers == n].iloc[0]
            env = parallel_env(rule=rule, n_producers=n, dim=5, n_users=10_000, users_seed=17,
                               reward_scale="sum")
            result = dynamics_through_env(env, rng)
            where = f"{rule} n={n}"
            assert (result.converged, result.iterations) == (bool(want.converged),
                                                             want.iterations), where
            assert " ".join(map(str, result.counts)) == want.counts, where
            assert env.rewards_now.sum() == pytest.approx(want.total_producer_utility,
                                                          rel=1e-9), where
