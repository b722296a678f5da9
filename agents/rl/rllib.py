r"""``recgym train --backend rllib``: RLlib's multi-agent PPO on a local or existing Ray cluster.

The same game as the Stable-Baselines3 path (``TrainConfig.env_kwargs``), wrapped
by RLlib's ParallelPettingZooEnv and registered as ``ENV_NAME``; producers map
to one RLlib module ``"shared"`` (``--mode shared``; ids in the observations) or
each to its own module named after it (``--mode independent``). PPO's settings
follow ``agents.rl.algorithms``: rollouts of ``PPO_N_STEPS`` steps of each of
``--n-envs`` copies per environment runner (RLlib counts the fragment in
agent-steps: ``PPO_N_STEPS x n`` of them per copy, so more steps once producers
have left), each update ``PPO_N_EPOCHS`` gradient steps over the whole batch of
each module, learning rate ``PPO_LEARNING_RATE``, ``gamma`` from ``--gamma``, MLPs
of ``net_arch`` with separate value networks, the clipped objective without
RLlib's extra KL penalty, and advantages standardised over the real timesteps only
(both by ``agents.rl.rllib_learner``: RLlib 2.60 also counts its phantom bootstrap
rows, which on this game swamps the learning signal, and cuts minibatches across
epochs). Box actions use the vertex mixture (``--box-policy mixture``, the
default: ``agents.rl.rllib_mixture``, SB3's policy in RLlib's coordinates) or
RLlib's diagonal Gaussian (``--box-policy gaussian``), both over ``[-1, 1]``
rescaled to the action box (RLlib's ``normalize_actions``; the Gaussian's mean
starts at the box's centre, as SB3's Gaussian does here); ``--action-type
vertex`` a categorical policy.

Ray: with ``--ray-address`` RLlib joins that cluster (checked first, as
``recgym reproduce --backend ray`` does), otherwise it joins the cluster named by
``RAY_ADDRESS`` or starts a local one, shut down at the end. ``--env-runners N``
samples in ``N`` remote actors, each stepping ``--n-envs`` copies; 0 samples in
this process.

Evaluation and logging are the SB3 path's: the same evaluation routine
(``agents.rl.callbacks.Evaluator``) of the deterministic policies (``rllib_policy``)
every ``--eval-freq`` agent-steps, its ``eval/*`` tags in the run folder's
TensorBoard events (``agents.monitoring.RunFolder``, the SB3 path's writer) next to
RLlib's own ``rllib/episode_return_mean`` and ``rllib/agent_steps``, and RLlib's
checkpoint in ``<run dir>/rllib``.

Install with ``pip install "recgym[rllib]"`` (RLlib pins its own Gymnasium).
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import PPO
from tqdm import tqdm

from agents.monitoring import RunFolder
from agents.rl.algorithms import PPO_N_EPOCHS, net_arch
from agents.rl.callbacks import Evaluator
from agents.rl.config import PPO_LEARNING_RATE, PPO_N_STEPS, TrainConfig
from recgym.environment import EngagementEnv, parallel_env
from recgym.experiments.backends import RayBackend, check_ray_address
from recgym.solvers import summarize_equilibrium

#: Name of the environment in Ray's registry.
ENV_NAME = "recgym_engagement_v0"
#: SB3's PPO settings that RLlib's defaults differ from (clip range 0.3, GAE lambda 1, no
#: gradient clipping): SB3's defaults, the gradient clipped by its global norm in both
#: modes. (SB3's independent producers, ``agents.rl.per_producer``, are not clipped, but
#: neither are their advantages standardised; RLlib standardises each module's, and
#: without the clipping 6 of 10 independent box runs drifted back above 1% NashConv
#: between 10,000 and 100,000 agent-steps: ``benchmarks/bench_rl.py``.)
_SB3_PPO = inspect.signature(PPO).parameters
PPO_CLIP = _SB3_PPO["clip_range"].default
PPO_GAE_LAMBDA = _SB3_PPO["gae_lambda"].default
PPO_MAX_GRAD_NORM = _SB3_PPO["max_grad_norm"].default
#: Module of every producer in shared mode.
SHARED_MODULE = "shared"
RLLIB_MISSING = ('--backend rllib needs Ray RLlib: pip install "recgym[rllib]" '
                 '(or use --backend sb3)')

__all__ = ["ENV_NAME", "check_rllib", "make_env", "ppo_config", "rllib_policy", "train_rllib"]


def make_env(env_config: dict[str, Any]) -> Any:
    """RLlib's view of one copy of the game (``parallel_env(**env_config)``, wrapped)."""
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv

    return ParallelPettingZooEnv(parallel_env(**env_config))


def _env_config(config: TrainConfig) -> dict[str, Any]:
    """``config.env_kwargs()`` with the rule as its spec string (sent to Ray's workers)."""
    kwargs = config.env_kwargs()
    kwargs["rule"] = kwargs["rule"].spec
    return kwargs


def _module_ids(config: TrainConfig) -> list[str]:
    """RLlib module of each producer, in agent order."""
    agents = [f"producer_{i}" for i in range(config.n_producers)]
    return [SHARED_MODULE] * len(agents) if config.mode == "shared" else agents


def check_rllib(config: TrainConfig) -> None:
    """Check, before anything is written, that ``config`` can start: RLlib is installed
    and ``--ray-address`` (if given) accepts a connection.

    Raises
    ------
    ImportError
        If RLlib is not installed, naming the extra to install.
    ValueError
        Naming ``--ray-address``, if it is malformed or unreachable.
    """
    check_ray_address(config.ray_address)
    try:
        import ray.rllib  # noqa: F401
    except ImportError as exc:
        raise ImportError(RLLIB_MISSING) from exc


def ppo_config(config: TrainConfig) -> Any:
    """RLlib's PPOConfig for ``config`` (module docstring); registers ``ENV_NAME``."""
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.tune.registry import register_env

    from agents.rl.rllib_learner import MaskedAdvantagesPPOLearner

    register_env(ENV_NAME, make_env)
    modules = sorted(set(_module_ids(config)))
    space = parallel_env(**config.env_kwargs()).action_space("producer_0")
    model = DefaultModelConfig(fcnet_hiddens=net_arch(space), fcnet_activation="tanh",
                               vf_share_layers=False)
    module = _module_spec(model, space, config.box_policy)
    batch = PPO_N_STEPS * config.n_envs * config.n_producers * max(config.env_runners, 1)
    return (
        PPOConfig()
        .environment(ENV_NAME, env_config=_env_config(config))
        .env_runners(num_env_runners=config.env_runners, num_envs_per_env_runner=config.n_envs,
                     rollout_fragment_length=PPO_N_STEPS * config.n_producers)
        # A list, not a set: RLlib builds the modules in this order from one seeded
        # generator, and a set's order changes with PYTHONHASHSEED.
        .multi_agent(policies=modules, policy_mapping_fn=_policy_mapping(config.mode),
                     count_steps_by="agent_steps")
        .rl_module(rl_module_spec=MultiRLModuleSpec(
            rl_module_specs={m: module for m in modules}))
        # minibatch_size: RLlib requires one; the learner ignores it (whole-batch epochs).
        .training(train_batch_size_per_learner=batch, minibatch_size=batch,
                  num_epochs=PPO_N_EPOCHS, gamma=config.gamma, use_kl_loss=False,
                  clip_param=PPO_CLIP, lambda_=PPO_GAE_LAMBDA,
                  grad_clip=PPO_MAX_GRAD_NORM,
                  grad_clip_by="global_norm",
                  learner_class=MaskedAdvantagesPPOLearner,
                  lr=config.learning_rate or PPO_LEARNING_RATE)
        .debugging(seed=config.seed)
    )


def _module_spec(model: Any, space: spaces.Space, box_policy: str) -> Any:
    """Every module's spec: RLlib's default PPO module, with the vertex mixture
    (``agents.rl.rllib_mixture``) for Box actions under ``box_policy="mixture"``."""
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    if isinstance(space, spaces.Box) and box_policy == "mixture":
        from agents.rl.rllib_mixture import VertexMixtureCatalog, VertexMixturePPOModule

        return RLModuleSpec(module_class=VertexMixturePPOModule,
                            catalog_class=VertexMixtureCatalog, model_config=model)
    return RLModuleSpec(model_config=model)


def _policy_mapping(mode: str) -> Callable[..., str]:
    if mode == "shared":
        return _to_shared
    return _to_own


def _to_shared(agent_id: str, *args: Any, **kwargs: Any) -> str:
    return SHARED_MODULE


def _to_own(agent_id: str, *args: Any, **kwargs: Any) -> str:
    return agent_id


def rllib_policy(algo: Any, module_ids: list[str], action_space: spaces.Space
                 ) -> Callable[[np.ndarray], np.ndarray]:
    """The deterministic joint policy of a trained RLlib PPO, for ``agents.rl.evaluate``.

    ``policy(obs (n, obs_size))`` runs producer ``i``'s observation through module
    ``module_ids[i]`` and returns actions ``(n, d)`` in the action box (the
    Gaussian's mean or the mixture's heaviest component's mean, rescaled as RLlib's
    env runners rescale samples) or feature indices ``(n,)``.
    """
    from ray.rllib.utils.spaces.space_utils import unsquash_action

    modules = {m: algo.get_module(m) for m in set(module_ids)}

    def policy(obs: np.ndarray) -> np.ndarray:
        actions = []
        with torch.no_grad():
            for i, module_id in enumerate(module_ids):
                module = modules[module_id]
                out = module.forward_inference({"obs": torch.as_tensor(obs[i:i + 1])})
                dist = module.get_inference_action_dist_cls().from_logits(
                    out["action_dist_inputs"])
                actions.append(dist.to_deterministic().sample()[0].numpy())
        joint = np.stack(actions)
        if isinstance(action_space, spaces.Box):
            return np.stack([unsquash_action(a, action_space) for a in joint])
        return joint

    return policy


def _agent_steps(results: dict[str, Any]) -> int:
    """Agent-steps sampled so far, from an RLlib result dict."""
    from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, NUM_AGENT_STEPS_SAMPLED_LIFETIME

    value = results[ENV_RUNNER_RESULTS][NUM_AGENT_STEPS_SAMPLED_LIFETIME]
    return int(sum(value.values()) if isinstance(value, dict) else value)


def train_rllib(config: TrainConfig, folder: RunFolder | str | Path
                ) -> tuple[Any, Evaluator, int]:
    """Train with RLlib, evaluating every ``config.eval_freq`` agent-steps (module docstring).

    Parameters
    ----------
    config : TrainConfig
    folder : RunFolder, or the path of one (then created, with ``config.json``)

    Returns
    -------
    algo : RLlib algorithm (stopped), evaluator : Evaluator (its ``history``: every
    evaluation with its agent-step count), agent_steps : int
    """
    if not isinstance(folder, RunFolder):
        folder = RunFolder(folder, config, "train")
    with RayBackend(config.ray_address):
        algo = ppo_config(config).build_algo()
        try:
            return _learn(algo, config, folder)
        finally:
            algo.stop()


def _learn(algo: Any, config: TrainConfig, folder: RunFolder) -> tuple[Any, Evaluator, int]:
    eval_env: EngagementEnv = parallel_env(**config.env_kwargs())
    equilibrium = summarize_equilibrium(eval_env.game, config.equilibrium_seed,
                                        behavior=config.producer_behavior)
    policy = rllib_policy(algo, _module_ids(config),
                          eval_env.action_space(eval_env.possible_agents[0]))
    logger = folder.logger()
    evaluator = Evaluator(eval_env, equilibrium, config.eval_seed, logger)
    history = evaluator.history

    def evaluate_at(steps: int) -> None:
        evaluator(policy, steps)

    steps = 0
    evaluate_at(steps)
    bar = tqdm(total=config.steps, unit=" agent-steps", unit_scale=True, file=sys.stderr,
               disable=not config.progress)
    while steps < config.steps:
        results = algo.train()
        steps = _agent_steps(results)
        bar.update(min(steps, config.steps) - bar.n)
        episode_return = results.get("env_runners", {}).get("episode_return_mean")
        if episode_return is not None and np.isfinite(episode_return):
            logger.record("rllib/episode_return_mean", float(episode_return))
        logger.record("rllib/agent_steps", steps)
        if steps - history[-1][0] >= config.eval_freq or steps >= config.steps:
            evaluate_at(steps)
        else:
            logger.dump(steps)
    bar.close()
    algo.save_to_path(str((folder.path / "rllib").resolve()))
    logger.close()
    return algo, evaluator, steps
