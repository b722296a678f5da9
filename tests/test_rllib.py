"""recgym train --backend rllib: a small RLlib run of each mode on a local Ray instance.

RLlib is an optional extra (``pip install "recgym[rllib]"``, which pins its own
Gymnasium); ``.ci/run`` installs it, so CI runs these tests (elsewhere, without it,
they skip). They take about half a minute (Ray's start and RLlib's first
iterations), so they train shared and independent producers end to end on a tiny
game and check the plumbing: evaluations, tags, evaluation.json, the run folder read
back by the loader both backends share (``agents.monitoring.load_run``), the
checkpoint and the modules of each mode.
"""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

pytest.importorskip("ray.rllib", reason='RLlib is not installed (pip install "recgym[rllib]")')

import ray  # noqa: E402
import torch  # noqa: E402
from ray.rllib.algorithms.algorithm import Algorithm  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

import recgym  # noqa: E402
from agents.monitoring import load_run  # noqa: E402
from agents.rl import TrainConfig, evaluate, train  # noqa: E402
from agents.rl.rllib import rllib_policy  # noqa: E402

SMALL = dict(n_producers=3, dim=3, n_users=200, horizon=8, n_envs=4, steps=2000,
             eval_freq=1000, seed=0, backend="rllib")


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    """One local Ray instance for the module (``train`` joins it instead of starting one)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def env_agents(config: TrainConfig) -> list[str]:
    return recgym.parallel_env(**config.env_kwargs()).possible_agents


def scalar_tags(folder) -> dict[str, list[float]]:
    accumulator = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    accumulator.Reload()
    return {tag: [e.value for e in accumulator.Scalars(tag)]
            for tag in accumulator.Tags()["scalars"]}


@pytest.mark.parametrize(("mode", "action_type", "box_policy"),
                         [("shared", "vertex", "mixture"), ("independent", "box", "mixture"),
                          ("shared", "box", "gaussian")])
def test_rllib_training_evaluates_logs_and_saves(tmp_path, mode, action_type, box_policy):
    config = TrainConfig(**SMALL, mode=mode, action_type=action_type, box_policy=box_policy,
                         logdir=str(tmp_path))
    result = train(config)
    steps = [s for s, _ in result.history]
    assert steps[0] == 0 and steps[-1] == result.agent_steps >= config.steps
    assert all(b - a >= config.eval_freq for a, b in zip(steps[:-2], steps[1:-1], strict=True))
    run_dir = result.run_dir
    assert "__rllib-ppo-" in run_dir.name
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    assert evaluation["nash_conv"] == result.evaluation.nash_conv
    assert evaluation["nash_conv_relative"] == pytest.approx(
        evaluation["nash_conv"] / sum(evaluation["producer_utilities"]))
    assert [h["agent_steps"] for h in evaluation["history"]] == steps
    run = load_run(run_dir)  # the loader of SB3's run folders
    assert run.command == "train" and run.backend == "rllib" and run.finished
    assert run.config == {**json.loads(json.dumps(config.to_dict())), "command": "train"}
    assert [h["agent_steps"] for h in run.history] == steps
    assert run.evaluation["eval_seconds"] == result.eval_seconds > 0
    assert [s for s, _ in run.scalars()["eval/nash_conv"]] == steps
    sb3 = load_run(train(TrainConfig(**{**SMALL, "backend": "sb3"}, mode=mode,
                                     action_type=action_type, box_policy=box_policy,
                                     logdir=str(tmp_path / "sb3"))).run_dir)
    assert sb3.backend == "sb3" and set(sb3.evaluation) == set(run.evaluation)
    assert set(sb3.history[0]) == set(run.history[0])
    logged = scalar_tags(run_dir)
    for tag in ("eval/nash_conv", "eval/nash_conv_relative", "eval/tv_to_equilibrium",
                "eval/producer_reward_mean", "eval/user_welfare", "eval/features_used",
                "eval/equilibrium/nash_conv", "eval/producer_reward/producer_2",
                "rllib/agent_steps"):
        assert len(logged[tag]) >= len(steps) - 1 and all(map(math.isfinite, logged[tag])), tag
    assert logged["eval/nash_conv"] == pytest.approx([ev.nash_conv for _, ev in result.history])

    # The checkpoint plays the evaluated profile again.
    restored = Algorithm.from_checkpoint(str(run_dir / "rllib"))
    env = recgym.parallel_env(**config.env_kwargs())
    agents = env.possible_agents
    modules = ["shared"] * 3 if mode == "shared" else agents
    policy = rllib_policy(restored, modules, env.action_space(agents[0]))
    again = evaluate(policy, env, result.evaluation.equilibrium, seed=config.eval_seed)
    np.testing.assert_allclose(again.profile, result.evaluation.profile, atol=1e-6)
    if action_type == "vertex":  # feature indices: producers post basis vectors
        np.testing.assert_array_equal(again.profile, np.eye(3)[again.profile.argmax(axis=1)])
    else:  # box actions: the vertex mixture unless the Gaussian was asked for
        mixture = type(restored.get_module(modules[0])).__name__ == "VertexMixturePPOModule"
        assert mixture == (box_policy == "mixture")
    if mode == "independent":  # one module per producer, trained apart
        weights = [next(iter(restored.get_module(a).state_dict().values())) for a in agents]
        assert not torch.equal(weights[0], weights[1])
    restored.stop()


def test_rllib_vertex_mixture_is_sb3s_mixture():
    """RLlib's mixture distribution gives SB3's log-probabilities and modes on the same
    outputs, and a fresh module starts on the vertices of the action box with SB3's
    standard deviation, once RLlib's env runners rescale from [-1, 1]."""
    from gymnasium import spaces
    from ray.rllib.core.columns import Columns
    from ray.rllib.utils.spaces.space_utils import unsquash_action

    from agents.rl import VertexMixtureDistribution as SB3Mixture
    from agents.rl.algorithms import PPO_LOG_STD_INIT
    from agents.rl.rllib import ppo_config
    from agents.rl.rllib_mixture import VertexMixtureDistribution, VertexMixturePPOModule

    d = 3
    torch.manual_seed(0)
    logits = torch.randn(16, d + d * d + d)
    rllib = VertexMixtureDistribution.from_logits(logits)
    sb3 = SB3Mixture(d).proba_distribution(logits[:, :d + d * d], logits[:, d + d * d:])
    actions = rllib.sample()
    assert actions.shape == (16, d)
    torch.testing.assert_close(rllib.logp(actions), sb3.log_prob(actions))
    torch.testing.assert_close(rllib.to_deterministic().sample(), sb3.mode())
    assert VertexMixtureDistribution.required_input_dim(spaces.Box(0, 1, (d,))) == 15
    with pytest.raises(ValueError, match="d\\^2 \\+ 2d outputs"):
        VertexMixtureDistribution.from_logits(torch.zeros(2, 14))

    config = TrainConfig(**SMALL, mode="shared", action_type="box")
    spec = ppo_config(config).rl_module_spec.rl_module_specs["shared"]
    env = recgym.parallel_env(**config.env_kwargs())
    space = env.action_space("producer_0")
    module = dataclasses.replace(spec, observation_space=env.observation_space("producer_0"),
                                 action_space=space).build()
    assert isinstance(module, VertexMixturePPOModule)
    head = [m for m in module.pi.modules() if isinstance(m, torch.nn.Linear)][-1]
    start = VertexMixtureDistribution.from_logits(head.bias.detach()[None])
    np.testing.assert_allclose((start.mixture.means[0].numpy() + 1.0) / 2.0, np.eye(d))
    np.testing.assert_allclose(start.mixture.log_weights.exp(), 1.0 / d, rtol=1e-6)
    obs = torch.as_tensor(np.stack([env.reset(seed=0)[0][a] for a in env.possible_agents]))
    played = VertexMixtureDistribution.from_logits(
        module.forward_inference({Columns.OBS: obs})[Columns.ACTION_DIST_INPUTS])
    np.testing.assert_allclose(played.mixture.log_std.exp().detach() / 2.0,
                               np.exp(PPO_LOG_STD_INIT), rtol=1e-6)
    box = np.stack([unsquash_action(a, space)
                    for a in played.to_deterministic().sample().detach().numpy()])
    # The heaviest component j plays near e_j of the box (its mean's weights add noise).
    heaviest = played.mixture.log_weights.argmax(dim=1).numpy()
    np.testing.assert_array_equal(box.argmax(axis=1), heaviest)


def test_the_learner_updates_as_sb3_does():
    """RLlib 2.60 standardises advantages over its phantom bootstrap rows too; the learner
    restandardises over the loss mask, which equals standardising the raw advantages
    over the real rows, and sits right after RLlib's GAE in the learner pipeline. Each
    update makes PPO_N_EPOCHS gradient steps over each module's whole batch."""
    from agents.rl.algorithms import PPO_N_EPOCHS
    from agents.rl.config import PPO_N_STEPS
    from agents.rl.rllib import ppo_config
    from agents.rl.rllib_learner import standardize

    advantages = torch.tensor([0.001, 0.003, -0.002, -0.2, 0.004, -0.2])
    real = torch.tensor([True, True, True, False, True, False])
    expected = (advantages[real] - advantages[real].mean()) / advantages[real].std()
    torch.testing.assert_close(standardize(advantages, real)[real], expected)
    rllib_standardised = (advantages - advantages.mean()) / advantages.std()
    assert rllib_standardised[real].min() > 0.5  # every real action looks good
    torch.testing.assert_close(standardize(rllib_standardised, real)[real], expected)
    torch.testing.assert_close(standardize(torch.ones(3), torch.ones(3, dtype=bool)),
                               torch.zeros(3))
    torch.testing.assert_close(standardize(torch.tensor([2.0, 5.0]), torch.tensor([True, False])),
                               torch.tensor([0.0, 3.0]))

    for mode in ("shared", "independent"):
        config = TrainConfig(**SMALL, mode=mode, action_type="vertex")
        algo = ppo_config(config).build_algo()
        try:
            pipeline = algo.learner_group._learner._learner_connector
            names = [type(piece).__name__ for piece in pipeline.connectors]
            assert names[names.index("GeneralAdvantageEstimation") + 1] == "MaskedAdvantages"
            # Every update is PPO_N_EPOCHS passes over each module's whole batch: the
            # real rows (PPO_N_STEPS per copy and producer) and one phantom per chunk.
            learners = algo.train()["learners"]
            producers = config.n_producers if mode == "shared" else 1
            rows = (PPO_N_STEPS + 1) * config.n_envs * producers
            for module in ["shared"] if mode == "shared" else env_agents(config):
                assert learners[module]["module_train_batch_size_mean"] == rows
                assert learners[module]["num_module_steps_trained"] == PPO_N_EPOCHS * rows
        finally:
            algo.stop()


def test_a_seed_gives_the_same_starting_modules_in_every_process():
    """RLlib builds the producers' modules one after another from one seeded generator;
    their order must not depend on Python's string hashing."""
    import os
    import subprocess
    import sys

    script = (
        "import ray, torch\n"
        "from agents.rl import TrainConfig\n"
        "from agents.rl.rllib import ppo_config\n"
        "ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)\n"
        f"config = TrainConfig(**{SMALL!r}, mode='independent', action_type='box')\n"
        "algo = ppo_config(config).build_algo()\n"
        "print([round(float(sum(p.sum() for p in algo.get_module(f'producer_{i}')"
        ".parameters())), 5) for i in range(3)])\n"
        "algo.stop()\n")
    sums = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           check=True, env={**os.environ, "PYTHONHASHSEED": seed,
                                            "RAY_ADDRESS": ""}).stdout.splitlines()[-1]
            for seed in ("0", "4")]  # two orders of the set of the producers' ids
    assert sums[0] == sums[1]
    assert len(set(eval(sums[0]))) == 3  # and the producers start apart
