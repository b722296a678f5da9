"""The environments over the epoch engine (docs/ecosystem.md, E7): users who change with
what they are shown and leave when served badly, in ``recgym.parallel_env`` and
``recgym.platform_env``.

Reference values are computed here independently: softmax serving and the exposure
update written out by hand, games rebuilt on the surviving users, and environments
built without the new arguments for the defaults.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test, parallel_seed_test

import agents
import recgym
from recgym import metrics
from recgym.game import EngagementGame
from recgym.population import Population

SMALL = {"n_producers": 4, "dim": 3, "n_users": 60}
MODELS = ["static", "exposure:rate=0.3", "engagement:rate=1"]
#: Each model, and each with departures (patience 2).
SETTINGS = [{"user_dynamics": m} for m in MODELS] + [
    {"user_dynamics": m, "user_outside_option": 0.3, "user_patience": 2} for m in MODELS]
IDS = [f"{s['user_dynamics']}{'+departures' if 'user_outside_option' in s else ''}"
       for s in SETTINGS]
PLATFORM = dict(n_users=40, dim=3, n_producers=4, users_seed=3, horizon=6)


def _actions(env, rng: np.random.Generator) -> dict[str, object]:
    """Random actions of every live agent: embeddings, or feature indices (vertex actions)."""
    if env.action_type == "vertex":
        return {a: int(rng.integers(env.dim)) for a in env.agents}
    return {a: rng.uniform(0.0, 1.0, env.dim).astype(np.float32) for a in env.agents}


def _play(env, seed: int, steps: int) -> list[tuple]:
    """Every step's (observations, rewards, terminations, truncations, infos) of one episode
    of seeded random actions (after the reset's observations and infos)."""
    rng = np.random.default_rng(seed)
    out = [env.reset(seed=seed)]
    for _ in range(steps):
        if not env.agents:
            break
        out.append(env.step(_actions(env, rng)))
    return out


def _assert_same_steps(first: list[tuple], second: list[tuple]) -> None:
    """Bit-identical observations and infos, equal rewards and ends, step by step."""
    assert len(first) == len(second)
    for t, (a, b) in enumerate(zip(first, second, strict=True)):
        obs_a, obs_b = a[0], b[0]
        assert obs_a.keys() == obs_b.keys()
        for agent in obs_a:
            assert obs_a[agent].tobytes() == obs_b[agent].tobytes(), f"step {t} {agent}"
        for part_a, part_b in zip(a[1:-1], b[1:-1], strict=True):
            assert part_a == part_b, f"step {t}"
        infos_a, infos_b = a[-1], b[-1]
        assert infos_a.keys() == infos_b.keys()
        for agent in infos_a:
            assert infos_a[agent].keys() == infos_b[agent].keys()
            for key, value in infos_a[agent].items():
                np.testing.assert_array_equal(value, infos_b[agent][key], err_msg=f"{t} {key}")


def _softmax(ratings: np.ndarray, temperature: float) -> np.ndarray:
    z = np.exp((ratings - ratings.max(axis=1, keepdims=True)) / temperature)
    return z / z.sum(axis=1, keepdims=True)


# ---------------------------------------------------------------------- PettingZoo
@pytest.mark.parametrize("settings", SETTINGS, ids=IDS)
def test_pettingzoo_api_and_seed_tests(settings):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", message="reset ignores unknown options")
        parallel_api_test(recgym.parallel_env(**SMALL, horizon=12, **settings), num_cycles=15)
        parallel_seed_test(lambda: recgym.parallel_env(**SMALL, horizon=12, **settings),
                           num_cycles=15)


# ---------------------------------------------------------------------- the defaults
@pytest.mark.parametrize("extra", [{}, {"outside_option": 0.06, "patience": 2},
                                   {"reward": "marginal", "action_type": "vertex"}], ids=str)
def test_defaults_are_bit_identical_to_an_env_without_the_arguments(extra, monkeypatch):
    plain = _play(recgym.parallel_env(**SMALL, horizon=20, **extra), 5, 20)
    explicit = recgym.parallel_env(**SMALL, horizon=20, user_dynamics="static",
                                   user_outside_option=0.0, user_patience=1, **extra)
    assert explicit.population.frozen

    def no_serving(*args, **kwargs):
        raise AssertionError("the frozen environment must keep today's fast path")

    monkeypatch.setattr(Population, "serve", no_serving)
    monkeypatch.setattr(Population, "epoch_end", no_serving)
    _assert_same_steps(plain, _play(explicit, 5, 20))
    assert all(info["active_users"] == 1.0 and info["departed_users"] == 0
               for step in plain for info in step[-1].values())


def test_static_users_who_never_leave_give_the_default_rewards_through_the_engine():
    """An outside option no user falls below: the Population path, the same numbers."""
    default = _play(recgym.parallel_env(**SMALL, horizon=10), 2, 10)
    engine = recgym.parallel_env(**SMALL, horizon=10, user_outside_option=1e-12)
    assert not engine.population.frozen
    for t, (a, b) in enumerate(zip(default[1:], _play(engine, 2, 10)[1:], strict=True)):
        np.testing.assert_allclose(list(a[1].values()), list(b[1].values()), rtol=1e-12,
                                   atol=1e-15, err_msg=f"step {t}")
        for agent in a[0]:
            np.testing.assert_allclose(a[0][agent], b[0][agent], rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------------- users over time
def test_exposure_update_after_one_step_is_the_hand_computation():
    rate, temperature = 0.3, 0.5
    env = recgym.parallel_env(**SMALL, rule="softmax", temperature=temperature,
                              user_dynamics=f"exposure:rate={rate}")
    env.reset(seed=0)
    profile = np.array([[0.7, 0.2, 0.1], [0.0, 1.0, 0.0], [0.2, 0.2, 0.2], [0.1, 0.3, 0.6]])
    env.step({a: profile[i].astype(np.float32) for i, a in enumerate(env.agents)})
    posted = env.profile  # the float32 actions, in S already
    np.testing.assert_allclose(posted, profile, atol=1e-7)
    users = np.array(env.game.users)
    probs = _softmax(users @ posted.T, temperature)  # (K, n)
    consumed = probs @ posted  # m_k = sum_i p_ki s_i
    norms = users.sum(axis=1, keepdims=True)
    expected = (1 - rate) * users + rate * norms * consumed / consumed.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(env.population.users, expected, rtol=1e-12, atol=1e-15)
    assert not np.allclose(env.population.users, users)


@pytest.mark.parametrize("settings", SETTINGS[1:], ids=IDS[1:])
def test_observed_demand_is_that_of_the_current_active_users(settings):
    env = recgym.parallel_env(**SMALL, horizon=12, **settings)
    d = env.dim
    rng = np.random.default_rng(1)
    observations, _ = env.reset(seed=1)
    for _ in range(12):
        population = env.population
        active_users = population.users[population.active]
        expected = metrics.user_distribution(active_users).astype(np.float32)
        for obs in observations.values():
            np.testing.assert_array_equal(obs[2 * d:3 * d], expected)
        np.testing.assert_array_equal(env.user_distribution.astype(np.float32), expected)
        if not env.agents:
            break
        observations, _, _, _, _ = env.step(_actions(env, rng))
    if "user_outside_option" in settings:
        assert not env.population.active.all()  # the demand was checked after departures


def test_rewards_are_on_the_users_at_the_start_of_the_step_per_starting_user():
    env = recgym.parallel_env(**SMALL, rule="softmax", temperature=0.3,
                              user_dynamics="engagement:rate=2", user_outside_option=0.28)
    env.reset(seed=3)
    rng = np.random.default_rng(3)
    for t in range(6):
        users = env.population.users.copy()
        active = env.population.active.copy()
        _, rewards, _, _, infos = env.step(_actions(env, rng))
        game = EngagementGame(users[active], 4, "softmax", temperature=0.3)
        expected = game.utilities(env.profile).engagement / 60  # the starting K
        np.testing.assert_allclose(list(rewards.values()), expected, rtol=1e-10,
                                   err_msg=f"step {t}")
        assert infos["producer_0"]["active_users"] == env.population.active.mean()
        assert infos["producer_0"]["departed_users"] == active.sum() - env.population.active.sum()
    assert 0 < env.population.active.mean() < 1  # some left, not all


def test_departures_terminate_no_producer_and_shrink_active_users():
    env = recgym.parallel_env(**SMALL, horizon=8, user_outside_option=0.36, user_patience=2)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    shares, totals = [1.0], []
    for _ in range(8):
        _, rewards, terminations, truncations, infos = env.step(_actions(env, rng))
        assert not any(terminations.values())
        shares.append(infos["producer_0"]["active_users"])
        totals.append(sum(rewards.values()))
        assert len(env.agents) == (4 if not any(truncations.values()) else 0)
    assert shares[1] == 1.0  # patience 2: nobody leaves after one unhappy step
    assert np.all(np.diff(shares) <= 0) and shares[-1] < 1.0


def test_everybody_gone_gives_zero_rewards_and_no_nan():
    env = recgym.parallel_env(**SMALL, horizon=5, reward="marginal",
                              user_dynamics="exposure:rate=0.5", user_outside_option=10.0)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    _, rewards, _, _, infos = env.step(_actions(env, rng))
    assert sum(rewards.values()) != 0.0  # served at the start of the step: all users there
    assert infos["producer_0"]["active_users"] == 0.0
    assert infos["producer_0"]["departed_users"] == 60
    assert env.current_game is None
    for _ in range(4):
        observations, rewards, terminations, _, infos = env.step(_actions(env, rng))
        assert all(r == 0.0 for r in rewards.values())
        assert not any(terminations.values())
        for obs in observations.values():
            assert np.isfinite(obs).all()
            np.testing.assert_array_equal(obs[6:9], 0.0)  # no demand left
    assert not env.agents  # truncated at the horizon


def test_reset_restores_the_starting_users():
    env = recgym.parallel_env(**SMALL, horizon=10, user_dynamics="exposure:rate=0.5",
                              user_outside_option=0.34)
    first = _play(env, 4, 10)
    assert not np.array_equal(env.population.users, env.game.users)
    assert not env.population.active.all()
    observations, infos = env.reset(seed=4)
    np.testing.assert_array_equal(env.population.users, env.game.users)
    assert env.population.active.all() and not env.population.below.any()
    assert env.current_game is env.game
    assert infos["producer_0"]["active_users"] == 1.0
    np.testing.assert_array_equal(observations["producer_0"][6:9],
                                  metrics.user_distribution(env.users).astype(np.float32))
    _assert_same_steps(first, _play(env, 4, 10))  # the same episode again


def test_reward_range_holds_while_preferences_move():
    """A user's largest entry can grow; rewards are never clipped by a too small range."""
    users = np.full((30, 3), 1 / 3)
    env = recgym.parallel_env(users=users, n_producers=2, reward_scale="sum",
                              user_dynamics="exposure:rate=1", horizon=3)
    env.reset(seed=0)
    low, high = env.reward_range
    assert high >= 30.0 - 1e-5  # the L1 norms, not the largest entries (1/3 each)
    for _ in range(3):
        _, rewards, _, _, _ = env.step({a: np.array([1.0, 0.0, 0.0], np.float32)
                                        for a in env.agents})
    assert sum(rewards.values()) == pytest.approx(30.0)  # everyone moved to feature 0


def test_render_shows_the_users_still_active():
    env = recgym.parallel_env(**SMALL, render_mode="ansi", user_outside_option=10.0)
    env.reset(seed=0)
    assert "users" not in env.render().splitlines()[0]
    env.step(_actions(env, np.random.default_rng(0)))
    assert "users 0.0%" in env.render().splitlines()[0]


BAD = [({"user_dynamics": "bogus"}, "user_dynamics"),
       ({"user_dynamics": "exposure:rate=2"}, "user_dynamics.*rate"),
       ({"user_dynamics": "engagement:rate=-1"}, "user_dynamics.*rate"),
       ({"user_dynamics": "exposure:speed=1"}, "user_dynamics.*speed"),
       ({"user_outside_option": -0.1}, "user_outside_option"),
       ({"user_outside_option": float("nan")}, "user_outside_option"),
       ({"user_patience": 0}, "user_patience"),
       ({"user_patience": 1.5}, "user_patience")]


@pytest.mark.parametrize("kwargs, message", BAD, ids=[m for _, m in BAD])
@pytest.mark.parametrize("make", [lambda **kw: recgym.parallel_env(**SMALL, **kw),
                                  lambda **kw: recgym.platform_env(**PLATFORM, **kw)],
                         ids=["parallel_env", "platform_env"])
def test_bad_arguments_raise_naming_the_parameter(make, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make(**kwargs)


# ---------------------------------------------------------------------- the platform
def _platform_episode(env, seed: int, actions: np.ndarray) -> list[tuple]:
    out = [env.reset(seed=seed)]
    for action in actions:
        out.append(env.step(action))
        if out[-1][2] or out[-1][3]:
            break
    return out


def _assert_same_episode(first: list[tuple], second: list[tuple]) -> None:
    assert len(first) == len(second)
    for t, (a, b) in enumerate(zip(first, second, strict=True)):
        assert a[0].tobytes() == b[0].tobytes(), f"observation at step {t}"
        assert a[1:] == b[1:], f"step {t}"


@pytest.mark.parametrize("settings", SETTINGS, ids=IDS)
def test_platform_passes_gymnasiums_checker(settings):
    env = recgym.platform_env(**PLATFORM, **settings)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*symmetric and normalized")
        check_env(env, skip_render_check=True)


@pytest.mark.parametrize("settings", SETTINGS[1:], ids=IDS[1:])
def test_platform_same_seed_same_episode(settings):
    actions = np.random.default_rng(0).uniform([-2, 0], [2, 0.5], (6, 2))
    first = _platform_episode(recgym.platform_env(**PLATFORM, **settings), 11, actions)
    second = _platform_episode(recgym.platform_env(**PLATFORM, **settings), 11, actions)
    _assert_same_episode(first, second)


@pytest.mark.parametrize("outside_option", [0.0, 0.08])
def test_platform_static_defaults_are_todays_episodes(outside_option):
    actions = np.random.default_rng(1).uniform([-2, 0], [2, 0.5], (6, 2))
    plain = recgym.platform_env(**PLATFORM, outside_option=outside_option)
    explicit = recgym.platform_env(**PLATFORM, outside_option=outside_option,
                                   user_dynamics="static", user_outside_option=0.0,
                                   user_patience=1)
    assert explicit.engine is None or explicit.population.frozen
    for seed in range(3):
        _assert_same_episode(_platform_episode(plain, seed, actions),
                             _platform_episode(explicit, seed, actions))
    # The engine path with users who could leave but never do: the same episodes.
    engine = recgym.platform_env(**PLATFORM, outside_option=outside_option,
                                 user_outside_option=1e-12)
    for seed in range(3):
        a, b = _platform_episode(plain, seed, actions), _platform_episode(engine, seed, actions)
        assert engine.engine is not None
        _assert_same_episode(a, b)


def test_platform_observation_has_the_users_share_and_their_demand():
    env = recgym.platform_env(**PLATFORM, user_dynamics="exposure:rate=0.4",
                              user_outside_option=0.37, user_patience=1)
    d = env.game.dim
    observation, info = env.reset(seed=0)
    assert observation.shape == (2 * d + 5,) == env.observation_space.shape
    assert observation[2 * d] == 1.0 and info["active_users"] == 1.0
    shares = []
    for _ in range(6):
        observation, reward, terminated, truncated, info = env.step([0.5, 0.0])
        population = env.population
        assert observation[2 * d] == np.float32(population.active.mean()) == np.float32(
            info["active_users"])
        assert observation[2 * d + 1] == np.float32(info["active_producers"] / 4)
        assert observation[2 * d + 2] == np.float32(reward)
        if population.active.any():
            np.testing.assert_array_equal(
                observation[d:2 * d],
                metrics.user_distribution(population.users[population.active]).astype(
                    np.float32))
        shares.append(info["active_users"])
        if terminated or truncated:
            break
    assert shares[-1] < 1.0


def test_platform_epochs_are_coevolve_epochs():
    """A constant action: the platform's rewards are ``recgym.coevolve``'s user welfare."""
    action = np.array([-0.5, 0.1], dtype=np.float32)
    settings = dict(user_dynamics="engagement:rate=1.5", user_outside_option=0.36,
                    user_patience=2)
    env = recgym.platform_env(**{**PLATFORM, "horizon": 8}, moves_per_epoch=2, **settings)
    episode = _platform_episode(env, 7, [action] * 8)
    game = EngagementGame(env.game.users, 4, env.rule_for(action))
    run = recgym.coevolve(game, epochs=len(episode) - 1, moves_per_epoch=2, seed=7, **settings)
    rewards = [step[1] for step in episode[1:]]
    np.testing.assert_array_equal(rewards, run.history["user_welfare"].to_numpy())
    np.testing.assert_array_equal(env.population.users, run.users_at(run.epochs))
    np.testing.assert_array_equal(env.active, run.active_producers[-1])


def test_platform_everybody_leaving_terminates_with_finite_rewards():
    env = recgym.platform_env(**PLATFORM, user_dynamics="exposure:rate=0.2",
                              user_outside_option=5.0, scf="alpha_fair:alpha=1")
    env.reset(seed=0)
    observation, reward, terminated, truncated, info = env.step([0.0, 0.0])
    assert terminated and not truncated
    assert np.isfinite(reward) and np.isfinite(observation).all()
    assert info["active_users"] == 0.0 and info["departed_users"] == 40
    np.testing.assert_array_equal(observation[3:6], 0.0)  # no demand left
    assert env.simulate([0.0, 0.0]) == 0.0  # nobody to serve


@pytest.mark.parametrize("settings", SETTINGS[1:], ids=IDS[1:])
def test_platform_simulate_leaves_everything_as_it_is(settings):
    env = recgym.platform_env(**PLATFORM, moves_per_epoch=2, **settings)
    grid = agents.action_grid(env, 2)
    env.reset(seed=2)
    for _ in range(4):
        before = (env.directions.copy(), env.active.copy(), env.rng.get_state()[1].copy(),
                  env.population.users.copy(), env.population.active.copy(),
                  env.population.below.copy())
        simulated = [env.simulate(action) for action in grid]
        after = (env.directions, env.active, env.rng.get_state()[1], env.population.users,
                 env.population.active, env.population.below)
        for kept, now in zip(before, after, strict=True):
            np.testing.assert_array_equal(kept, now)
        stepped = [copy.deepcopy(env).step(action)[1] for action in grid]
        assert simulated == stepped
        if env.step(grid[0])[2]:
            break


def test_platform_policies_run_with_user_dynamics():
    env = recgym.platform_env(**PLATFORM, moves_per_epoch=1, user_dynamics="exposure:rate=0.3",
                              user_outside_option=0.36, user_patience=2)
    grid = agents.action_grid(env, 2)
    table = agents.compare_platforms({"static": agents.StaticPlatform(grid[0]),
                                      "myopic": agents.MyopicPlatform(grid)}, env, episodes=2)
    assert list(table["policy"]) == ["static", "myopic"]
    assert ((table["users_retained"] >= 0) & (table["users_retained"] <= 1)).all()
    assert table["cumulative_scf"].map(np.isfinite).all()
