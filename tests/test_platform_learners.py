"""The platform environment with a learner (docs/ecosystem.md, E9): ``recgym.platform_env(
learner=, impressions=, elicit=, reward=)``, its exploration control, and the baselines."""

from __future__ import annotations

import itertools

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import recgym
from agents.platform import (
    MyopicPlatform,
    SchedulePlatform,
    StaticPlatform,
    action_grid,
    best_schedule,
    best_static,
    compare_platforms,
    evaluate_platform,
)
from recgym.coevolve import Coevolution
from recgym.users import synthetic_uniform

TINY = dict(n_users=60, dim=3, n_producers=3, horizon=4, moves_per_epoch=2)
LEARNERS = ("oracle", "greedy", "epsilon:eps=0.2", "ucb:alpha=0.5", "thompson:scale=1")
MODELS = ("static", "exposure:rate=0.1", "engagement:rate=0.5")
DYNAMIC = dict(user_dynamics="exposure:rate=0.1", user_outside_option=0.3, user_patience=1)


def _episode(env, actions, seed=0):
    """Observations, rewards, infos and producers' directions of one episode."""
    observation, info = env.reset(seed=seed)
    out = [(observation, 0.0, info, env.directions.copy())]
    for action in actions:
        observation, reward, terminated, truncated, info = env.step(action)
        out.append((observation, reward, info, env.directions.copy()))
        if terminated or truncated:
            break
    return out


def _actions(env, count=8, seed=1):
    rng = np.random.default_rng(seed)
    return rng.uniform(env.action_space.low, env.action_space.high,
                       (count, env.action_space.shape[0])).astype(np.float32)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("learner", LEARNERS)
def test_check_env_with_every_learner_and_model(learner, model):
    env = recgym.platform_env(**TINY, learner=learner, user_dynamics=model,
                              user_outside_option=0.2, impressions=2)
    check_env(env, skip_render_check=True)
    made = gymnasium.make("recgym/Platform-v0", **TINY, learner=learner, user_dynamics=model)
    check_env(made.unwrapped, skip_render_check=True)


@pytest.mark.parametrize("learner", ["ucb:alpha=0.5", "thompson:scale=1", "epsilon:eps=0.3"])
def test_the_same_seed_gives_the_same_episode(learner):
    envs = [recgym.platform_env(**TINY, **DYNAMIC, learner=learner, elicit=1) for _ in (0, 1)]
    actions = _actions(envs[0])
    a, b = (_episode(env, actions, seed=7) for env in envs)
    assert len(a) == len(b)
    for (obs_a, rew_a, info_a, dir_a), (obs_b, rew_b, info_b, dir_b) in zip(a, b, strict=True):
        np.testing.assert_array_equal(obs_a, obs_b)
        assert rew_a == rew_b and info_a == info_b
        np.testing.assert_array_equal(dir_a, dir_b)


def test_static_oracle_episodes_are_those_of_the_env_without_the_new_arguments():
    plain = recgym.platform_env(**TINY, outside_option=0.05)
    new = recgym.platform_env(**TINY, outside_option=0.05, learner="oracle", impressions=1,
                              elicit=0, reward="scf")
    d = plain.game.dim
    actions = _actions(plain)
    for seed in (0, 3):
        a, b = _episode(plain, actions, seed), _episode(new, actions, seed)
        engine = Coevolution(plain.game, "static", 0.0, 1, TINY["moves_per_epoch"], seed)
        for t, ((obs_a, rew_a, _, dir_a), (obs_b, rew_b, info_b, dir_b)) in enumerate(
                zip(a, b, strict=True)):
            np.testing.assert_array_equal(obs_a, obs_b)
            assert rew_a == rew_b
            np.testing.assert_array_equal(dir_a, dir_b)
            # the existing entries keep their values; the clicks are Coevolution's
            np.testing.assert_array_equal(obs_b[d:2 * d], plain.start_distribution.astype(
                np.float32))
            assert obs_b[2 * d] == 1.0 and obs_b[2 * d + 2] == np.float32(rew_b)
            assert obs_b[2 * d + 4] == np.float32(1 - t / TINY["horizon"])
            if t:
                row, _ = engine.step(plain.rule_for(actions[t - 1]))
                assert rew_b == row["user_welfare"] and info_b["clicks"] == row["clicks"]
                np.testing.assert_array_equal(dir_b, engine.directions)
                assert obs_b[2 * d + 3] == np.float32(row["clicks"])
    assert new._frozen and new.engine is None  # the cached path


def test_the_observation_does_not_read_the_true_preferences():
    users = synthetic_uniform(80, 3, seed=0)
    other = synthetic_uniform(80, 3, seed=1)  # both L1-normalised: the same ||c_k||_1
    np.testing.assert_allclose(users.sum(1), other.sum(1))
    for learner in LEARNERS[1:]:
        observations = [recgym.platform_env(users=u, n_producers=3, learner=learner,
                                            elicit=0).reset(seed=4)[0] for u in (users, other)]
        np.testing.assert_array_equal(*observations)
    oracle = [recgym.platform_env(users=u, n_producers=3).reset(seed=4)[0] for u in (users, other)]
    assert not np.array_equal(*oracle)  # the oracle's demand is the truth


def test_the_estimated_demand_is_the_learners():
    env = recgym.platform_env(**TINY, learner="ucb:alpha=0.5", impressions=3)
    d = env.game.dim
    env.reset(seed=0)
    for action in _actions(env, 3):
        observation, *_ = env.step(action)
        estimates = env.engine.estimates()
        np.testing.assert_allclose(observation[d:2 * d], estimates.sum(0) / estimates.sum(),
                                   rtol=1e-6)


@pytest.mark.parametrize("learner", ["oracle", "ucb:alpha=0.5"])
def test_the_clicks_reward_is_the_info_clicks(learner):
    env = recgym.platform_env(**TINY, learner=learner, reward="clicks", impressions=2)
    scf = recgym.platform_env(**TINY, learner=learner, impressions=2)
    d = env.game.dim
    actions = _actions(env)
    a, b = _episode(env, actions), _episode(scf, actions)
    assert any(reward > 0 for _, reward, _, _ in a[1:])
    for (obs, reward, info, _), (_, reward_scf, info_scf, _) in zip(a[1:], b[1:], strict=True):
        assert reward == info["clicks"] == info_scf["clicks"]
        assert obs[2 * d + 3] == np.float32(reward)
        assert 0.0 <= reward <= 2.0 and reward_scf == info_scf["scf"] == info["scf"]


def test_the_exploration_control_sets_the_learners_parameter():
    env = recgym.platform_env(**TINY, learner="ucb:alpha=0.5",
                              controls={"temperature": (-2, 2), "alpha": (0, 3)})
    assert env.exploration_index == 1 and env.controls["alpha"] == (0.0, 3.0)
    env.reset(seed=0)
    for alpha in (0.0, 2.5, 1.25, 9.0):
        *_, info = env.step([-1.0, alpha])
        expected = min(alpha, 3.0)  # clipped to the box
        assert info["alpha"] == info["exploration"] == pytest.approx(expected)
        assert env.engine.platform.learner.alpha == pytest.approx(expected)
        assert env.engine.platform.learner.lam == 1.0
    default = recgym.platform_env(**TINY, learner="epsilon:eps=0.1")
    assert list(default.controls) == ["temperature", "floor", "eps"]
    assert default.controls["eps"] == (0.0, 1.0)
    default.reset(seed=0)
    *_, info = default.step([0.0, 0.0, 0.7])
    assert info["eps"] == pytest.approx(0.7) and default.engine.platform.learner.eps == \
        pytest.approx(0.7)
    fixed = recgym.platform_env(**TINY, learner="ucb:alpha=0.5", controls={"floor": (0, 0.5)})
    fixed.reset(seed=0)
    assert fixed.step([0.1])[-1]["exploration"] == 0.5  # not controlled: the spec's


@pytest.mark.parametrize("learner, controls, match", [
    ("epsilon:eps=0.1", {"alpha": (0, 1)}, "neither a parameter of rule"),
    ("greedy", {"eps": (0, 1)}, "no exploration parameter"),
    ("oracle", {"scale": (0, 1)}, "no exploration parameter"),
    ("ucb", {"lam": (0.5, 1)}, "not its exploration"),
    ("ucb", {"alpha": (-1, 1)}, "alpha"),
    ("ucb", {"alpha": (2, 1)}, "above high"),
])
def test_a_control_the_learner_lacks_is_refused(learner, controls, match):
    with pytest.raises(ValueError, match=match):
        recgym.platform_env(**TINY, learner=learner, controls=controls)


def test_bad_new_arguments_are_refused():
    with pytest.raises(ValueError, match="reward"):
        recgym.platform_env(**TINY, reward="likes")
    with pytest.raises(ValueError, match="impressions"):
        recgym.platform_env(**TINY, learner="ucb", impressions=0)
    with pytest.raises(ValueError, match="learner"):
        recgym.platform_env(**TINY, learner="nope")


@pytest.mark.parametrize("learner", ["ucb:alpha=0.5", "thompson:scale=1"])
def test_simulate_leaves_the_state_untouched(learner):
    envs = [recgym.platform_env(**TINY, **DYNAMIC, learner=learner) for _ in (0, 1)]
    actions = _actions(envs[0], 4)
    for env in envs:
        env.reset(seed=2)
        env.step(actions[0])
    looking = MyopicPlatform(action_grid(envs[0], 2))
    chosen = looking(None, envs[0])  # simulates every grid action on envs[0] only
    for action in (chosen, actions[1]):
        a, b = (env.step(action) for env in envs)
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1:] == b[1:]
        np.testing.assert_array_equal(envs[0].engine.estimates(), envs[1].engine.estimates())
        np.testing.assert_array_equal(envs[0].directions, envs[1].directions)


def test_simulate_with_the_clicks_reward_on_the_cached_path():
    env = recgym.platform_env(**TINY, reward="clicks")
    env.reset(seed=1)
    action = [0.0, 0.1]
    predicted = env.simulate(action)
    assert env.step(action)[1] == predicted


def _brute_force(env, grid, episodes, seed):
    """Mean cumulative SCF of each constant action, by playing the episodes by hand."""
    means = []
    for action in grid:
        totals = []
        for episode in range(episodes):
            env.reset(seed=seed + episode)
            total, done = 0.0, False
            while not done:
                _, reward, terminated, truncated, _ = env.step(action)
                total += reward
                done = terminated or truncated
            totals.append(total)
        means.append(np.mean(totals))
    return np.array(means)


def test_best_static_over_a_grid_with_the_exploration_is_the_brute_force_best():
    env = recgym.platform_env(**TINY, **DYNAMIC, learner="ucb:alpha=0.5")
    grid = action_grid(env, 2)
    assert grid.shape == (8, 3)  # temperature, floor, alpha
    assert set(grid[:, 2]) == {0.0, 2.0}
    enumerated = _brute_force(env, grid, 2, 5)
    best, table = best_static(env, grid, episodes=2, seed=5)
    np.testing.assert_allclose(table["cumulative_scf"], enumerated)
    assert table["cumulative_scf"].max() == pytest.approx(enumerated.max())
    np.testing.assert_array_equal(best.action, grid[int(np.argmax(enumerated))])
    assert {"users_retained", "producers_retained", "clicks"} <= set(table.columns)


def test_the_schedule_explores_first_then_exploits():
    env = recgym.platform_env(**{**TINY, "horizon": 5}, learner="ucb:alpha=0.5",
                              controls={"temperature": (-2, 2), "alpha": (0, 1.5)})
    policy = SchedulePlatform(np.array([-1.0, 0.7], np.float32), 0.4)
    env.reset(seed=0)
    alphas, temperatures = [], []
    for _ in range(5):
        *_, info = env.step(policy(None, env))
        alphas.append(info["alpha"])
        temperatures.append(info["temperature"])
    assert alphas == [1.5, 1.5, 0.0, 0.0, 0.0]
    assert temperatures == pytest.approx([0.1] * 5)
    schedule, table = best_schedule(env, policy.action, (0.0, 0.4, 1.0), episodes=2, seed=3)
    assert list(table["fraction"]) == [0.0, 0.4, 1.0]
    assert schedule.fraction == table["fraction"][int(table["cumulative_reward"].idxmax())]
    evaluation = evaluate_platform(schedule, env, 2, 3)
    assert evaluation.mean_cumulative_scf == pytest.approx(table["cumulative_scf"].max())
    with pytest.raises(ValueError, match="exploration"):
        SchedulePlatform(policy.action, 0.5)(None, recgym.platform_env(**TINY))


def test_comparison_tables_show_scf_users_producers_and_clicks():
    env = recgym.platform_env(**TINY, **DYNAMIC, learner="epsilon:eps=0.1")
    grid = action_grid(env, 2)
    table = compare_platforms({"static": StaticPlatform(grid[0]),
                               "schedule": SchedulePlatform(grid[0], 0.5)}, env, 2, 0)
    assert {"cumulative_scf", "users_retained", "producers_retained", "clicks"} <= set(
        table.columns)
    assert (table["clicks"] > 0).all() and (table["users_retained"] <= 1).all()


def test_every_learner_enumerates_constant_actions_in_itertools_order():
    env = recgym.platform_env(**TINY, learner="thompson:scale=1")
    grid = action_grid(env, 2)
    expected = list(itertools.product(*[np.linspace(lo, hi, 2) for lo, hi in
                                        env.controls.values()]))
    np.testing.assert_allclose(grid, np.array(expected, np.float32))


# ---------------------------------------------------------------------- training
def test_train_platform_with_a_learner_logs_its_tags_and_compares_a_schedule(tmp_path, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    import recgym.cli

    status = recgym.cli.main([
        "train-platform", "--steps", "64", "--logdir", str(tmp_path), "--n-users", "40",
        "--dim", "3", "--n-producers", "3", "--horizon", "4", "--n-envs", "2", "--grid", "2",
        "--eval-episodes", "1", "--learner", "ucb:alpha=0.5", "--impressions", "2",
        "--elicit", "1", "--reward", "clicks", "--controls", "temperature", "alpha",
        "--user-dynamics", "exposure:rate=0.1", "--no-progress"])
    assert status == 0
    (run_dir,) = tmp_path.iterdir()
    accumulator = EventAccumulator(str(run_dir), size_guidance={"scalars": 0})
    accumulator.Reload()
    scalars = {tag: [e.value for e in accumulator.Scalars(tag)]
               for tag in accumulator.Tags()["scalars"]}
    for tag in ("estimation_error", "exploration", "active_users", "alpha", "clicks"):
        assert scalars[f"platform/{tag}"], tag
    assert all(0.0 <= a <= 2.0 for a in scalars["platform/exploration"])
    assert scalars["platform/exploration"] == scalars["platform/alpha"]
    assert all(e > 0 for e in scalars["platform/estimation_error"])
    out = capsys.readouterr().out
    assert "schedule" in out and "clicks" in out


def test_train_config_refuses_bad_learner_settings():
    from agents.platform_training import PlatformTrainConfig

    with pytest.raises(ValueError, match="--reward"):
        PlatformTrainConfig(reward="likes", n_users=40, dim=3)
    with pytest.raises(ValueError, match="alpha"):
        PlatformTrainConfig(learner="greedy", controls=("alpha",), n_users=40, dim=3)
    env = PlatformTrainConfig(learner="thompson", controls=("scale",), n_users=40,
                              dim=3).make_env()
    assert env.controls == {"scale": (0.0, 2.0)}
