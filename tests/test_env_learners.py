"""The environment with a platform that learns its users (docs/ecosystem.md, E8):
``recgym.parallel_env(learner=..., impressions=..., elicit=...)``.

Reference values are computed here independently: softmax serving of the platform's
estimate written out by hand, uniform serving for ``eps=1``, departures from the
uniform estimate before any feedback, and environments built without the new
arguments for the oracle.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from pettingzoo.test import parallel_api_test, parallel_seed_test

import agents
import recgym
from agents.env_play import (
    best_response_action,
    dynamics_through_env,
    served_best_vertex,
    solver_for,
)
from recgym.learners import Thompson
from recgym.population import Population
from recgym.solvers import ExactSolver

SMALL = {"n_producers": 4, "dim": 3, "n_users": 60}
LEARNERS = [{"learner": "greedy"}, {"learner": "epsilon:eps=0.2"},
            {"learner": "ucb:alpha=0.5"}, {"learner": "thompson:scale=0.5"},
            {"learner": "greedy", "elicit": 2, "impressions": 3},
            {"learner": "thompson:scale=0.5", "user_dynamics": "exposure:rate=0.3",
             "user_outside_option": 0.3, "user_patience": 2}]
IDS = ["greedy", "epsilon", "ucb", "thompson", "greedy+elicit+impressions",
       "thompson+dynamics+departures"]


def _actions(env, rng: np.random.Generator) -> dict[str, object]:
    """Random embeddings of every live agent."""
    return {a: rng.uniform(0.0, 1.0, env.dim).astype(np.float32) for a in env.agents}


def _play(env, seed: int, steps: int, options: dict | None = None) -> list[tuple]:
    """Every step's (observations, rewards, terminations, truncations, infos) of one
    episode of seeded random actions (after the reset's observations and infos)."""
    rng = np.random.default_rng(seed)
    out = [env.reset(seed=seed, options=options)]
    for _ in range(steps):
        if not env.agents:
            break
        out.append(env.step(_actions(env, rng)))
    return out


def _same_steps(first: list[tuple], second: list[tuple]) -> bool:
    """Bit-identical observations and infos, equal rewards and ends, step by step."""
    if len(first) != len(second):
        return False
    for a, b in zip(first, second, strict=True):
        if a[0].keys() != b[0].keys() or any(a[0][k].tobytes() != b[0][k].tobytes()
                                             for k in a[0]):
            return False
        if any(part_a != part_b for part_a, part_b in zip(a[1:-1], b[1:-1], strict=True)):
            return False
        for agent in a[-1]:
            info_a, info_b = a[-1][agent], b[-1][agent]
            if info_a.keys() != info_b.keys() or not all(
                    np.array_equal(info_a[key], info_b[key]) for key in info_a):
                return False
    return True


def _softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = np.exp((scores - scores.max(axis=1, keepdims=True)) / temperature)
    return z / z.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------------- PettingZoo
@pytest.mark.parametrize("settings", LEARNERS, ids=IDS)
def test_pettingzoo_api_and_seed_tests(settings):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message="reset ignores unknown options")
        parallel_api_test(recgym.parallel_env(**SMALL, horizon=12, **settings), num_cycles=15)
        parallel_seed_test(lambda: recgym.parallel_env(**SMALL, horizon=12, **settings),
                           num_cycles=15)


# ---------------------------------------------------------------------- the oracle
@pytest.mark.parametrize("extra", [{}, {"outside_option": 0.06, "patience": 2},
                                   {"reward": "marginal"}], ids=str)
def test_oracle_is_bit_identical_to_an_env_without_a_learner_on_the_fast_path(extra,
                                                                              monkeypatch):
    plain = _play(recgym.parallel_env(**SMALL, horizon=20, **extra), 5, 20)
    oracle = recgym.parallel_env(**SMALL, horizon=20, learner="oracle", impressions=3,
                                 elicit=2, **extra)

    def no_serving(*args, **kwargs):
        raise AssertionError("the oracle must keep today's fast path")

    monkeypatch.setattr(Population, "serve", no_serving)
    monkeypatch.setattr(Population, "epoch_end", no_serving)
    assert _same_steps(plain, _play(oracle, 5, 20))
    assert all("clicks" not in info for step in plain for info in step[-1].values())


def test_oracle_with_user_dynamics_is_bit_identical_to_the_same_env_without_a_learner():
    dynamics = {"user_dynamics": "exposure:rate=0.5", "user_outside_option": 0.45}
    plain = _play(recgym.parallel_env(**SMALL, horizon=15, **dynamics), 3, 15)
    oracle = _play(recgym.parallel_env(**SMALL, horizon=15, learner="oracle", **dynamics),
                   3, 15)
    assert _same_steps(plain, oracle)


# ---------------------------------------------------------------------- rewards
@pytest.mark.parametrize("reward", ["engagement", "exposure"])
def test_greedy_rewards_are_the_softmax_of_the_estimates_scores_with_true_ratings(reward):
    env = recgym.parallel_env(**SMALL, horizon=8, learner="greedy", elicit=1, reward=reward)
    env.reset(seed=4)
    rng = np.random.default_rng(4)
    users = np.asarray(env.users)
    for _ in range(8):
        estimate = env.platform.estimates(users)  # (K, d), at the start of the step
        actions = _actions(env, rng)
        profile = recgym.project_to_strategy_set(
            np.stack([actions[a] for a in env.agents]).astype(np.float64))
        probabilities = _softmax(estimate @ profile.T, env.game.rule.temperature)  # (K, n)
        expected = (probabilities * (users @ profile.T)).sum(axis=0) if reward == \
            "engagement" else probabilities.sum(axis=0)
        _, rewards, _, _, infos = env.step(actions)
        got = np.array([rewards[a] for a in env.possible_agents])
        np.testing.assert_allclose(got, expected / env.n_users, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose([infos[a][reward] for a in env.possible_agents],
                                   expected / env.n_users, rtol=1e-12, atol=1e-15)
    # The platform learned: its estimate is no longer the uniform one.
    assert not np.allclose(env.platform.estimates(users), users.sum(1, keepdims=True) / 3)


def test_epsilon_one_gives_every_producer_equal_exposure():
    env = recgym.parallel_env(**SMALL, horizon=5, learner="epsilon:eps=1", reward="exposure")
    env.reset(seed=1)
    rng = np.random.default_rng(1)
    for _ in range(5):
        _, rewards, _, _, _ = env.step(_actions(env, rng))
        np.testing.assert_allclose(list(rewards.values()), 1.0 / env.n_producers, rtol=1e-12)


def test_thompson_draws_once_per_step_even_when_producers_leave(monkeypatch):
    """The serving after exits (for the clicks, departures and update) uses the columns of
    the step's own draw of the producers still in: one draw at reset, one per step."""
    draws = []
    scores = Thompson.scores

    def counted(self, models, rows, vertices, rng):
        out = scores(self, models, rows, vertices, rng)
        if rng is not None:
            draws.append(out)
        return out

    monkeypatch.setattr(Thompson, "scores", counted)
    env = recgym.parallel_env(**SMALL, horizon=10, learner="thompson:scale=0.5",
                              outside_option=0.08)
    steps = _play(env, 0, 10)
    assert any(any(step[2].values()) for step in steps[1:])  # some producer left
    assert len(draws) == len(steps)


def test_served_game_and_estimates():
    env = recgym.parallel_env(**SMALL, learner="epsilon:eps=0.5", floor=0.2)
    env.reset(seed=0)
    assert env.served_game.rule.floor == pytest.approx(1 - 0.5 * 0.8)
    users = np.asarray(env.users)
    np.testing.assert_allclose(env.estimates,
                               np.repeat(users.sum(1, keepdims=True) / env.dim, env.dim, 1))
    oracle = recgym.parallel_env(**SMALL)
    assert oracle.served_game is oracle.game
    np.testing.assert_array_equal(oracle.estimates, oracle.users)


def test_departures_under_a_learner_come_from_its_serving():
    """Before any feedback the estimates are uniform, so greedy serves producers with the
    same total weight uniformly: a user leaves when its mean rating is below ``w``."""
    env = recgym.parallel_env(**SMALL, horizon=3, learner="greedy", user_outside_option=0.3)
    env.reset(seed=0)
    actions = {a: np.eye(3, dtype=np.float32)[i % 3] for i, a in enumerate(env.agents)}
    profile = np.eye(3)[[0, 1, 2, 0]]
    utility = (np.asarray(env.users) @ profile.T).mean(axis=1)  # uniform serving
    _, rewards, terminations, _, infos = env.step(actions)
    assert infos["producer_0"]["departed_users"] == int((utility < 0.3).sum()) > 0
    np.testing.assert_array_equal(env.population.active, utility >= 0.3)
    assert not any(terminations.values())
    np.testing.assert_allclose(rewards["producer_1"],
                               (np.asarray(env.users)[:, 1] / 4).sum() / env.n_users)


# ---------------------------------------------------------------------- infos
def test_clicks_and_estimation_error_in_the_infos():
    env = recgym.parallel_env(**SMALL, horizon=30, learner="ucb:alpha=0.5", impressions=3)
    _, infos = env.reset(seed=2)
    users = np.asarray(env.users)
    uniform = users.sum(axis=1, keepdims=True) / env.dim  # the estimate before feedback
    start = np.abs(uniform - users).sum(axis=1).mean()
    for info in infos.values():
        assert info["clicks"] == 0.0
        assert info["estimation_error"] == pytest.approx(start, rel=1e-12)
    rng = np.random.default_rng(2)
    clicks = []
    for _ in range(30):
        _, _, _, _, infos = env.step(_actions(env, rng))
        info = infos["producer_0"]
        assert all(other["clicks"] == info["clicks"] for other in infos.values())
        assert 0.0 <= info["clicks"] <= 3.0
        # A click is a count over the K users: a multiple of 1/K.
        assert info["clicks"] * env.n_users == pytest.approx(round(info["clicks"] *
                                                                   env.n_users))
        error = np.abs(env.platform.estimates(users) - users).sum(axis=1).mean()
        assert info["estimation_error"] == pytest.approx(error, rel=1e-12)
        clicks.append(info["clicks"])
    assert sum(clicks) > 0
    assert info["estimation_error"] < start  # it learned


def test_elicitation_starts_from_better_estimates():
    errors = []
    for elicit in (0, 3):
        env = recgym.parallel_env(**SMALL, learner="greedy", elicit=elicit)
        errors.append(env.reset(seed=0)[1]["producer_0"]["estimation_error"])
    assert errors[1] < errors[0]


# ---------------------------------------------------------------------- seeding
@pytest.mark.parametrize("settings", LEARNERS, ids=IDS)
def test_same_seed_same_episode_and_another_seed_other_feedback(settings):
    start = {"directions": [0, 1, 2, 0]}  # the same starting profile for every seed
    first = _play(recgym.parallel_env(**SMALL, horizon=10, **settings), 7, 10, start)
    assert _same_steps(first, _play(recgym.parallel_env(**SMALL, horizon=10, **settings), 7,
                                    10, start))
    env = recgym.parallel_env(**SMALL, horizon=10, **settings)
    rng = np.random.default_rng(7)  # the same actions, another feedback stream
    env.reset(seed=8, options=start)
    other = [env.step(_actions(env, rng)) for _ in range(10) if env.agents]
    assert [s[-1]["producer_0"]["clicks"] for s in first[1:]] != \
        [s[-1]["producer_0"]["clicks"] for s in other]


def test_reset_starts_a_fresh_platform():
    env = recgym.parallel_env(**SMALL, horizon=10, learner="greedy")
    first = _play(env, 3, 10)
    assert _same_steps(first, _play(env, 3, 10))  # the models start over at reset
    seed = env.platform.seed
    env.reset()  # unseeded: the generator goes on, another feedback stream
    assert env.platform.seed != seed
    env.reset(seed=3)
    assert env.platform.seed == seed


# ---------------------------------------------------------------------- arguments
@pytest.mark.parametrize(("kwargs", "message"), [
    ({"learner": "foo"}, "learner"),
    ({"learner": "epsilon:eps=2"}, "learner 'epsilon' parameter eps"),
    ({"learner": "ucb:beta=1"}, "learner 'ucb' has no parameter"),
    ({"learner": 3}, "learner"),
    ({"learner": "greedy", "impressions": 0}, "impressions"),
    ({"learner": "greedy", "impressions": 1.5}, "impressions"),
    ({"learner": "greedy", "elicit": -1}, "elicit"),
    ({"impressions": 0}, "impressions"),
    ({"learner": "greedy", "reward": "marginal"}, "reward: payoff 'marginal'"),
    ({"learner": "greedy", "users": np.full((5, 3), 0.5), "n_users": None}, r"users must"),
])
def test_bad_arguments_are_refused_naming_the_parameter(kwargs, message):
    settings = {**SMALL, **kwargs}
    with pytest.raises(ValueError, match=message):
        recgym.parallel_env(**{k: v for k, v in settings.items() if v is not None})


def test_unnormalised_users_are_fine_for_the_oracle():
    env = recgym.parallel_env(n_producers=2, users=np.full((5, 3), 0.5))
    env.reset(seed=0)


# ---------------------------------------------------------------------- best responses
def test_exact_solvers_and_dynamics_refuse_a_learner():
    env = recgym.parallel_env(**SMALL, learner="greedy")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="action_type='vertex'"):
        agents.BestResponse(env).action("producer_0")
    with pytest.raises(ValueError, match="action_type='vertex'"):
        best_response_action(env, "producer_0")
    with pytest.raises(ValueError, match="true game"):
        dynamics_through_env(env)
    with pytest.raises(ValueError, match="true game"):
        solver_for(env)


@pytest.mark.parametrize("settings", [
    {"learner": "greedy", "elicit": 1},
    {"learner": "epsilon:eps=0.3"},
    {"learner": "ucb:alpha=0.5", "rule": "topk:k=2"},  # the table's generic path
    {"learner": "ucb:alpha=1", "outside_option": 0.05},  # producers who leave
    {"learner": "greedy", "rule": "linear", "user_dynamics": "exposure:rate=0.3",
     "user_outside_option": 0.2}], ids=["greedy", "epsilon", "ucb-topk", "ucb-exits",
                                         "greedy-users-change"])
def test_served_best_vertex_is_the_best_next_reward_by_stepping_copies(settings):
    """Against brute force: each vertex played in a copy of the environment, the others
    repeating theirs; the answer earns the best of these rewards (and stays put unless
    some vertex is strictly better)."""
    env = recgym.parallel_env(**SMALL, horizon=30, action_type="vertex", **settings)
    responder = agents.BestResponse(env)
    env.reset(seed=2)
    rng = np.random.default_rng(0)
    for _ in range(6):
        if not env.agents:
            break
        current = {a: int(env.profile[env.agent_index(a)].argmax()) for a in env.agents}
        for agent in env.agents:
            rewards = np.array([copy.deepcopy(env).step({**current, agent: v})[1][agent]
                                for v in range(env.dim)])
            answer = best_response_action(env, agent)
            assert responder.action(agent) == answer == served_best_vertex(env, agent)
            assert rewards[answer] >= rewards.max() - 1e-12
            if rewards.max() <= rewards[current[agent]] + 1e-12:
                assert rewards[answer] >= rewards[current[agent]] - 1e-12
        env.step({a: int(rng.integers(env.dim)) for a in env.agents})


def test_served_best_vertex_refusals_say_why():
    env = recgym.parallel_env(**SMALL, learner="thompson:scale=0.5", action_type="vertex")
    env.reset(seed=0)
    with pytest.raises(ValueError, match="posterior draw"):
        agents.BestResponse(env).action("producer_0")
    env = recgym.parallel_env(**SMALL, learner="greedy", action_type="vertex")
    observations, _ = env.reset(seed=0)
    assert best_response_action(env, "producer_1", observations["producer_1"]) == \
        best_response_action(env, "producer_1")  # the current observation is the state
    with pytest.raises(ValueError, match="observation"):
        best_response_action(env, "producer_1", observations["producer_0"])
    env.reset(seed=0, options={"profile": np.full((4, 3), 0.25)})
    with pytest.raises(ValueError, match="vertices"):
        best_response_action(env, "producer_0")
    with pytest.raises(ValueError, match="true ratings"):
        served_best_vertex(recgym.parallel_env(**SMALL, action_type="vertex"), "producer_0")


def test_served_best_vertex_once_every_user_has_left_is_the_current_one():
    env = recgym.parallel_env(**SMALL, horizon=5, learner="greedy", action_type="vertex",
                              user_outside_option=10.0)
    env.reset(seed=0, options={"directions": [2, 1, 0, 2]})
    env.step({a: 1 for a in env.agents})
    assert env.served_game is None
    assert best_response_action(env, "producer_0") == 1


def test_best_responses_face_the_current_users():
    env = recgym.parallel_env(**SMALL, horizon=10, user_dynamics="exposure:rate=0.5",
                              user_outside_option=0.3)
    responder = agents.BestResponse(env)
    env.reset(seed=1)
    rng = np.random.default_rng(1)
    for _ in range(4):
        env.step(_actions(env, rng))
    current = env.current_game
    assert current is not env.game and current.n_users < env.n_users
    for agent in env.agents:
        i = env.agent_index(agent)
        expected = ExactSolver(current).best_response(env.profile, i, "strategy_set",
                                                      env.active).strategy
        np.testing.assert_array_equal(responder.action(agent), expected.astype(np.float32))
        np.testing.assert_array_equal(best_response_action(env, agent),
                                      expected.astype(np.float32))
    with pytest.raises(ValueError, match="users change or leave"):
        responder.dynamics(seed=0)


def test_best_response_once_every_user_has_left_is_the_current_embedding():
    env = recgym.parallel_env(**SMALL, horizon=5, user_outside_option=10.0,
                              action_type="vertex")
    env.reset(seed=0, options={"directions": [2, 1, 0, 2]})
    env.step({a: 1 for a in env.agents})
    assert env.current_game is None
    assert best_response_action(env, "producer_0") == 1
    assert agents.BestResponse(env).action("producer_3") == 1
