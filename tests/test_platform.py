"""The platform's environment (recgym.platform) and its policies (agents.platform).

Reference values come from the obvious slow computation each time: the paper's
dynamics (``recgym.solvers.best_response_dynamics``) for the producers' response,
deep copies of the environment stepped with every grid action for the myopic
policy, and whole episodes replayed by hand for the best static action.
"""

from __future__ import annotations

import copy
import doctest
import json
import subprocess
import sys
from pathlib import Path

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import agents
import recgym
import recgym.cli
import recgym.platform
from recgym import welfare
from recgym.game import EngagementGame
from recgym.solvers import DynamicsState, best_response_dynamics, start_directions

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(n_users=40, dim=3, n_producers=4, users_seed=3, horizon=6)


def _episode(env: recgym.PlatformEnv, seed: int, actions: np.ndarray) -> list[tuple]:
    """Observation, reward, ends and info of every step of one episode."""
    out = [env.reset(seed=seed)]
    for action in actions:
        out.append(env.step(action))
    return out


# ---------------------------------------------------------------------- the API
def test_gymnasium_checker_passes_on_the_registered_environment():
    env = gymnasium.make(recgym.PLATFORM_ENV_ID, **TINY)
    with pytest.warns(UserWarning, match="symmetric and normalized"):  # documented units
        check_env(env.unwrapped)
    assert isinstance(env.unwrapped, recgym.PlatformEnv)


def test_the_module_example_runs():
    failed, attempted = doctest.testmod(recgym.platform)
    assert attempted > 0 and failed == 0


def test_same_seed_gives_the_same_episode_at_every_step():
    actions = np.random.default_rng(0).uniform([-2, 0], [2, 0.5], (6, 2))
    first = _episode(recgym.platform_env(outside_option=0.05, **TINY), 11, actions)
    second = _episode(recgym.platform_env(outside_option=0.05, **TINY), 11, actions)
    for t, (a, b) in enumerate(zip(first, second, strict=True)):
        np.testing.assert_array_equal(a[0], b[0], err_msg=f"observation at step {t}")
        assert a[1:] == b[1:], f"step {t}"
    other = _episode(recgym.platform_env(outside_option=0.05, **TINY), 12, actions)
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(first, other, strict=True))


@pytest.mark.parametrize("moves", [1, 500])
@pytest.mark.parametrize("outside_option", [0.0, 0.08])  # 0.08: one producer leaves
def test_constant_action_reaches_the_dynamics_end_point(moves, outside_option):
    """The env consumes the paper's stream exactly, one epoch after another."""
    env = recgym.platform_env(n_users=60, dim=4, n_producers=6, users_seed=1,
                              outside_option=outside_option, moves_per_epoch=moves,
                              horizon=500)
    action = np.array([-1.5, 0.1], dtype=np.float32)
    game = EngagementGame(env.game.users, 6, env.rule_for(action),
                          outside_option=outside_option)
    for seed in range(4):
        expected = best_response_dynamics(game, seed)
        assert expected.converged and len(expected.exits) == (outside_option > 0)
        env.reset(seed=seed)
        for _ in range(500):
            _, _, terminated, _, info = env.step(action)
            assert not terminated
            if info["converged"]:
                break
        assert info["converged"]
        np.testing.assert_array_equal(env.directions, expected.directions, err_msg=f"seed {seed}")
        np.testing.assert_array_equal(env.active, expected.active, err_msg=f"seed {seed}")


def test_exits_reduce_active_producers_and_end_the_episode():
    env = recgym.platform_env(outside_option=0.9, moves_per_epoch=1, **{**TINY, "horizon": 10})
    _, info = env.reset(seed=0)
    assert info["active_producers"] == 4
    for t in range(1, 5):
        observation, reward, terminated, truncated, info = env.step([0.0, 0.0])
        assert info["active_producers"] == 4 - t  # payoffs per user are below 0.9: one exit
        d = env.game.dim  # index 2d + 1: the share of producers still active
        assert observation[2 * d + 1] == pytest.approx((4 - t) / 4)
        assert terminated == (t == 4) and not truncated
    assert reward == 0.0  # users served by nobody: user welfare 0


def test_horizon_truncates():
    env = recgym.platform_env(**TINY)
    env.reset(seed=0)
    ends = [env.step([0.0, 0.0])[2:4] for _ in range(6)]
    assert ends == [(False, False)] * 5 + [(False, True)]


def test_each_rules_game_is_the_base_game_with_that_rule():
    env = recgym.platform_env(outside_option=[0.1, 0.2, 0.0, 0.05], payoff="exposure", **TINY)
    rule = env.rule_for([-0.5, 0.2])
    assert rule == recgym.make_rule("softmax", temperature=10 ** -0.5, floor=0.2)
    shared = env._responder(rule).game
    fresh = EngagementGame(env.game.users, 4, rule, payoff="exposure",
                           outside_option=[0.1, 0.2, 0.0, 0.05])
    assert vars(shared).keys() == vars(fresh).keys()
    for name, value in vars(fresh).items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(getattr(shared, name), value, err_msg=name)
        else:
            assert getattr(shared, name) == value, name
    assert env.game.rule == recgym.make_rule("softmax")  # the base game is left as it was


@pytest.mark.parametrize("settings", [dict(rule="softmax"), dict(rule="topk:k=2"),
                                      dict(rule="linear", controls={"floor": (0.0, 0.5)},
                                           payoff="exposure", scf="user_min")], ids=str)
def test_cached_responses_equal_a_fresh_computation_bit_for_bit(settings):
    """The per-rule caches and memos against a new game and dynamics state every step."""
    env = recgym.platform_env(n_users=50, dim=3, n_producers=5, outside_option=0.1,
                              moves_per_epoch=2, horizon=30, **settings)
    grid = agents.action_grid(env, 3)
    rng = np.random.default_rng(0)
    for seed in range(3):
        env.reset(seed=seed)
        stream = np.random.RandomState(seed)
        directions = start_directions(env.game, stream)
        active = np.ones(5, dtype=bool)
        for t in range(30):
            for action in grid[:4]:
                env.simulate(action)  # look-ahead fills the caches, changes nothing
            action = grid[t % 2] if t % 3 else rng.uniform(env.action_space.low,
                                                          env.action_space.high)
            game = EngagementGame(env.game.users, 5, env.rule_for(action),
                                  payoff=env.game.payoff, outside_option=0.1)
            state = DynamicsState(game, directions, active)
            for iteration in range(2):
                event = state.first_event(stream.permutation(5), iteration) \
                    if state.active.any() else None
                if event is None:
                    break
                state.apply(event)
            directions, active = state.directions, state.active
            expected = welfare.value(env.scf, game.utilities(game.vertex_profile(directions),
                                                            active))
            _, reward, terminated, _, _ = env.step(action)
            assert reward == np.clip(expected, -1e3, 1e3), f"seed {seed} step {t}"
            np.testing.assert_array_equal(env.directions, directions, f"seed {seed} step {t}")
            np.testing.assert_array_equal(env.active, active, f"seed {seed} step {t}")
            if terminated:
                break


# ---------------------------------------------------------------------- actions
def test_actions_outside_the_box_are_clipped_and_bad_ones_raise():
    env = recgym.platform_env(**TINY)
    env.reset(seed=0)
    clipped = copy.deepcopy(env).step([9.0, -3.0])
    boundary = copy.deepcopy(env).step([2.0, 0.0])
    assert clipped[1] == boundary[1]
    assert clipped[4]["temperature"] == pytest.approx(100.0) and clipped[4]["floor"] == 0.0
    for bad in ([np.nan, 0.0], [0.0, np.inf]):
        with pytest.raises(ValueError, match="finite"):
            env.step(bad)
    for bad in ([0.0], [0.0, 0.0, 0.0], [[0.0, 0.1], [0.2, 0.3]]):
        with pytest.raises(ValueError, match="shape"):
            env.step(bad)


@pytest.mark.parametrize("kwargs, name", [
    (dict(controls={"temperature": (1.0, -1.0)}), "controls"),
    (dict(controls={"k": (1.0, 2.0)}), "controls"),
    (dict(controls={"floor": (0.0, 1.5)}), "floor"),
    (dict(moves_per_epoch=0), "moves_per_epoch"),
    (dict(scf="happiness"), "scf"),
    (dict(horizon=0), "horizon"),
])
def test_bad_settings_raise_naming_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=name):
        recgym.platform_env(**{**TINY, **kwargs})


# ---------------------------------------------------------------------- policies
def test_myopic_policy_picks_the_argmax_of_every_grid_action_actually_stepped():
    env = recgym.platform_env(outside_option=0.12, moves_per_epoch=1, **TINY)
    grid = agents.action_grid(env, 3)
    policy = agents.MyopicPlatform(grid)
    for seed in range(3):
        observation, _ = env.reset(seed=seed)
        done, t = False, 0
        while not done:
            rewards = [copy.deepcopy(env).step(action)[1] for action in grid]
            before = (env.directions.copy(), env.active.copy(), env.rng.get_state()[1].copy())
            action = policy(observation, env)
            np.testing.assert_array_equal(action, grid[int(np.argmax(rewards))],
                                          err_msg=f"seed {seed} step {t}")
            for kept, now in zip(before, (env.directions, env.active, env.rng.get_state()[1]),
                                 strict=True):
                np.testing.assert_array_equal(kept, now)  # looking ahead changed nothing
            observation, reward, terminated, truncated, _ = env.step(action)
            assert reward == max(rewards)
            done, t = terminated or truncated, t + 1


def test_best_static_is_the_best_grid_action_over_whole_episodes():
    env = recgym.platform_env(outside_option=0.12, moves_per_epoch=1, **TINY)
    grid = agents.action_grid(env, 3)
    best, table = agents.best_static(env, grid, episodes=2, seed=5)
    totals = []
    for action in grid:
        per_seed = []
        for seed in (5, 6):
            env.reset(seed=seed)
            total, done = 0.0, False
            while not done:
                _, reward, terminated, truncated, _ = env.step(action)
                total, done = total + reward, terminated or truncated
            per_seed.append(total)
        totals.append(np.mean(per_seed))
    np.testing.assert_allclose(table["cumulative_scf"], totals, rtol=1e-12)
    np.testing.assert_array_equal(best.action, grid[int(np.argmax(totals))])
    result = agents.evaluate_platform(best, env, episodes=2, seed=5)
    assert result.mean_cumulative_scf == pytest.approx(max(totals), rel=1e-12)


# ---------------------------------------------------------------------- training
def _scalars(folder: Path) -> dict[str, list[float]]:
    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    accumulator.Reload()
    return {tag: [e.value for e in accumulator.Scalars(tag)]
            for tag in accumulator.Tags()["scalars"]}


def test_train_platform_command_logs_the_platform_tags_and_the_comparison(tmp_path, capsys):
    status = recgym.cli.main([
        "train-platform", "--algo", "ppo", "--steps", "64", "--logdir", str(tmp_path),
        "--seed", "0", "--n-users", "40", "--dim", "3", "--n-producers", "4",
        "--outside-option", "0.1", "--horizon", "4", "--n-envs", "2", "--grid", "2",
        "--eval-episodes", "2", "--eval-every", "32", "--no-progress"])
    assert status == 0
    (run_dir,) = tmp_path.iterdir()
    scalars = _scalars(run_dir)
    for tag in ("scf", "active_producers", "temperature", "floor", "cumulative_scf"):
        assert scalars[f"platform/{tag}"], tag
    assert all(0.0099 < t < 100.01 for t in scalars["platform/temperature"])  # float32
    assert len(scalars["platform/cumulative_scf"]) >= 64 // 4 // 2  # an episode end each
    assert len(scalars["eval/cumulative_scf"]) == 4  # one rollout: 2 x 64 steps, every 32
    assert all(0 <= r <= 4 for r in scalars["eval/producers_retained"])
    rows = json.loads((run_dir / "evaluation.json").read_text())
    assert [row["policy"] for row in rows] == ["trained", "best static", "myopic"]
    assert "best static" in capsys.readouterr().out


def test_long_run_example_prints_the_computed_table():
    """The example's table: every policy, the figures in range, the gaps it claims
    computed from the rows it prints."""
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "platform_long_run.py"),
                           "--quick", "--no-progress", "--eval-seeds", "7,9"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "evaluation seeds 7, 9" in done.stdout
    rows = {}
    for name in ("learned (PPO)", "best constant", "schedule", "myopic"):
        line = next(line for line in lines if line.startswith(name + " "))
        fields = line[len(name):].split()
        rows[name] = float(fields[0])
        assert 0 <= float(fields[1].rstrip("%")) <= 100 and fields[2].endswith("/4")
    for name in ("myopic", "best constant"):
        claimed = next(line for line in lines if line.startswith(f"learned vs {name}:"))
        gap = 100 * (rows["learned (PPO)"] / rows[name] - 1)  # from the rounded rows
        printed = claimed.split(":", 1)[1].split()[0]
        assert abs(float(printed.rstrip("%")) - gap) < 0.05
    assert any(line.startswith("schedule: alpha = 2 for the first") for line in lines)


def test_the_platform_model_learns_without_making_a_folder(tmp_path, monkeypatch):
    """SB3 alone makes an empty ``<tmp>/SB3-<date>`` folder per ``learn()``."""
    import tempfile

    from agents.platform_training import PlatformTrainConfig, build_model

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    config = PlatformTrainConfig(n_users=40, dim=2, n_producers=2, horizon=2, n_envs=1,
                                 progress=False)
    build_model(config).learn(8)
    assert list(tmp_path.glob("SB3-*")) == []


@pytest.mark.parametrize("rule", ["linear", "uniform"])
def test_default_controls_are_the_ones_the_rule_declares(rule):
    env = recgym.platform_env(rule=rule, n_users=50, dim=2, n_producers=2, horizon=3)
    assert list(env.controls) == ["floor"]
    check_env(env, skip_render_check=True)
