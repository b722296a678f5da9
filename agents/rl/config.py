"""Settings of one RL training run (``recgym train``), as a documented frozen dataclass.

Every field carries its help text; ``recgym.options.add_arguments``
turns the fields into ``--field-name`` options, so the command line and this
documentation cannot drift apart (the CleanRL habit).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from recgym._validation import check_choice, check_float, check_ints
from recgym.environment import ACTION_TYPES
from recgym.experiments.config import ProducerOptions
from recgym.options import MAX_SEED, option, rule_from_flags
from recgym.rules import RULES, ServingRule

#: PPO: learning rate (ten times SB3's 3e-4: with five gradient steps per update, 3e-4
#: and 1e-3 leave the mixture policy short of equilibrium on some benchmark seeds).
PPO_LEARNING_RATE = 3e-3
#: PPO: steps of every copy of the game per rollout (one update per rollout).
PPO_N_STEPS = 8
#: Copies of the game stepped together (``--n-envs``). With ``n = 5`` producers PPO then
#: updates every ``8 * 8 * 5 = 320`` agent-steps: 94 updates in 30,000 agent-steps. 32
#: copies (an update every 1,280 agent-steps) reached NashConv <= 1% at 200,000
#: agent-steps too, but at 30,000 they had made only 24 updates and ended worse than they
#: started on some seeds; 8 copies end at most where they start at 30,000 and at most 1%
#: at 200,000 on every benchmark seed (``benchmarks/bench_rl.py``; linear learning-rate
#: decay to 0 over ``--steps`` was worse at both budgets).
DEFAULT_N_ENVS = 8

#: How producers are trained: one shared policy, or one model per producer.
MODES = ("shared", "independent")
#: Stable-Baselines3 algorithms (``agents.rl.algorithms.ALGORITHMS``).
ALGOS = ("ppo", "sac", "td3")
#: Training libraries: Stable-Baselines3 in this process, or Ray RLlib (``agents.rl.rllib``).
BACKENDS = ("sb3", "rllib")
#: PPO's policies for Box actions (``agents.rl.algorithms``).
BOX_POLICIES = ("mixture", "gaussian")

__all__ = ["ALGOS", "BACKENDS", "BOX_POLICIES", "DEFAULT_N_ENVS", "MODES", "PPO_N_STEPS",
           "TrainConfig", "check_algo", "check_mode"]


def check_algo(algo: object, name: str = "algo") -> str:
    """Return ``algo`` if it names a known algorithm.

    Raises
    ------
    ValueError
        Naming the value and the allowed ones.
    """
    if not isinstance(algo, str) or algo.lower() not in ALGOS:
        raise ValueError(f"{name} must be one of {', '.join(ALGOS)}; got {algo!r}")
    return algo.lower()


def check_mode(mode: object, name: str = "mode") -> str:
    """Return ``mode`` if it is ``"shared"`` or ``"independent"``; ``ValueError`` otherwise."""
    if not isinstance(mode, str) or mode.lower() not in MODES:
        raise ValueError(f"{name} must be one of {', '.join(MODES)}; got {mode!r}")
    return mode.lower()


@dataclass(frozen=True)
class TrainConfig(ProducerOptions):
    """One training run of RL producers, evaluated against the exact equilibrium."""

    backend: str = option("sb3", "Training library: sb3 (Stable-Baselines3, in this process) or "
                          "rllib (Ray RLlib's multi-agent PPO on a Ray cluster; pip install "
                          "'recgym[rllib]').")
    algo: str = option("ppo", f"Algorithm: {', '.join(ALGOS)} (sb3); ppo only with rllib.")
    mode: str = option("shared", "shared: one policy for every producer (agent id in the "
                       "observation); independent: one network per producer (PPO: all in one "
                       "batched model; SAC/TD3: one SB3 model each).")
    steps: int = option(200_000, "Training budget in agent-steps (every producer's step "
                        "counts once); PPO needs at least one rollout (n-envs x "
                        f"{PPO_N_STEPS} x n-producers, x env-runners with rllib) and "
                        "rounds up to whole rollouts.")
    action_type: str = option("box", "What a producer posts: box (an embedding in [0, 1]^d, "
                              "projected onto the strategy set) or vertex (a feature index j: "
                              "the basis vector e_j; ppo only).")
    box_policy: str = option("mixture", "PPO's policy for box actions: mixture (one "
                             "Gaussian per feature, mixed by learned weights, so producers "
                             "can jump between features) or gaussian (a diagonal Gaussian), "
                             "with either backend.")
    n_producers: int = option(5, "Number of producers n.")
    dim: int = option(5, "Embedding dimension d.")
    n_users: int = option(1000, "Number of synthetic uniform users K.")
    users_seed: int = option(0, "Seed of the synthetic users.")
    rule: str = option("softmax", "Serving rule: a registered name or spec string ("
                       + ", ".join(RULES.names) + "; e.g. topk:k=2,temperature=0.5).",
                       metavar="RULE")
    temperature: float | None = option(None, "Temperature T of rules that have one (default "
                                       "1).")
    k: int | None = option(None, "Producers served per user (topk only, where it is "
                             "required).")
    floor: float | None = option(None, "Exposure floor in [0, 1] (default 0).")
    horizon: int = option(16, "Steps per episode (the game is repeated; short is fine).")
    n_envs: int = option(DEFAULT_N_ENVS, "Copies of the game stepped together (each has n "
                         "producers); PPO updates once per rollout of "
                         f"{PPO_N_STEPS} steps of every copy.")
    learning_rate: float | None = option(None, f"Learning rate (default: {PPO_LEARNING_RATE:g} "
                                         "for PPO, SB3's for SAC and TD3).")
    gamma: float = option(0.0, "Discount factor; 0 because a step's reward depends only on "
                          "that step's actions.")
    eval_freq: int = option(10_000, "Agent-steps between evaluations.")
    eval_seed: int = option(0, "Seed of the evaluation episode's starting profile.")
    equilibrium_seed: int = option(0, "Seed of the best-response dynamics giving the "
                                   "reference equilibrium.")
    seed: int = option(0, "Seeds the rest: the games' starting profiles, the models' weights "
                       "and their exploration.")
    logdir: str = option("runs", "Parent folder of the run directory (TensorBoard events, "
                         "config.json, models, evaluation.json).", metavar="DIR")
    ray_address: str | None = option(None, "rllib: address of an existing Ray cluster "
                                     "(host:port); default: start a local one.",
                                     metavar="ADDRESS")
    env_runners: int = option(0, "rllib: remote environment runners sampling in parallel "
                              "(each steps --n-envs copies); 0 samples in this process.")
    device: str = option("cpu", "Torch device.")
    torch_threads: int = option(1, "Torch CPU threads for this process (1 is fastest for these "
                                "small networks).")
    progress: bool = option(True, "Show a progress bar of the agent-steps on stderr.")

    def __post_init__(self) -> None:
        object.__setattr__(self, "algo", check_algo(self.algo, "--algo"))
        object.__setattr__(self, "mode", check_mode(self.mode, "--mode"))
        check_choice("--backend", self.backend, BACKENDS)
        check_choice("--action-type", self.action_type, ACTION_TYPES)
        check_choice("--box-policy", self.box_policy, BOX_POLICIES)
        if self.action_type == "vertex" and self.algo != "ppo":
            raise ValueError(f"--algo {self.algo} needs --action-type box (its policies are "
                             f"continuous); --action-type vertex works with --algo ppo")
        if self.backend == "rllib" and self.algo != "ppo":
            raise ValueError(f"--backend rllib trains --algo ppo only; got --algo {self.algo}")
        if self.backend != "rllib" and (self.ray_address is not None or self.env_runners):
            raise ValueError("--ray-address and --env-runners are for --backend rllib only")
        self.make_rule()  # validates --rule with --temperature, --k and --floor
        for flag, value, minimum in (("--steps", self.steps, 1),
                                     ("--n-producers", self.n_producers, 1),
                                     ("--dim", self.dim, 1), ("--n-users", self.n_users, 1),
                                     ("--horizon", self.horizon, 1), ("--n-envs", self.n_envs, 1),
                                     ("--eval-freq", self.eval_freq, 1),
                                     ("--env-runners", self.env_runners, 0),
                                     ("--torch-threads", self.torch_threads, 1)):
            check_ints(flag, value, minimum)
        for flag, value in (("--users-seed", self.users_seed), ("--eval-seed", self.eval_seed),
                            ("--equilibrium-seed", self.equilibrium_seed),
                            ("--seed", self.seed)):
            check_ints(flag, value, 0, MAX_SEED)
        if self.algo == "ppo" and self.steps < self.rollout_agent_steps:
            raise ValueError(
                f"--steps {self.steps} is below one PPO rollout ({self.rollout_agent_steps:,} "
                f"agent-steps: --n-envs {self.n_envs} x {PPO_N_STEPS} steps x --n-producers "
                f"{self.n_producers}" + (f" x --env-runners {self.env_runners}"
                                         if self.env_runners > 1 else "")
                + "), so no update could be made; raise --steps or lower --n-envs")
        if self.learning_rate is not None:
            check_float("--learning-rate", self.learning_rate, 0.0, low_open=True)
        check_float("--gamma", self.gamma, 0.0, 1.0)
        self.check_producers(self.n_producers)  # --skill, --cost, --producer-behavior

    @property
    def rollout_agent_steps(self) -> int:
        """Agent-steps of one PPO rollout, i.e. between two updates: ``n_envs * PPO_N_STEPS
        * n_producers``, times ``env_runners`` with RLlib (each runner steps ``n_envs``
        copies)."""
        runners = max(self.env_runners, 1) if self.backend == "rllib" else 1
        return self.n_envs * PPO_N_STEPS * self.n_producers * runners

    def make_rule(self) -> ServingRule:
        """The serving rule of ``--rule`` with ``--temperature``, ``--k`` and ``--floor``."""
        return rule_from_flags(self.rule, self.temperature, self.k, self.floor)

    def env_kwargs(self) -> dict[str, Any]:
        """Arguments of ``recgym.parallel_env`` for this run (training reward per user)."""
        return {"rule": self.make_rule(), "n_producers": self.n_producers, "dim": self.dim,
                "n_users": self.n_users, "users_seed": self.users_seed, "horizon": self.horizon,
                "reward": "engagement", "reward_scale": "mean", "agent_ids": True,
                "action_type": self.action_type, **self.traits()}

    def algo_kwargs(self) -> dict[str, Any]:
        """Constructor overrides for the SB3 models (``agents.rl.algorithms.make_model``)."""
        kwargs: dict[str, Any] = {"gamma": self.gamma, "box_policy": self.box_policy}
        if self.learning_rate is not None:
            kwargs["learning_rate"] = self.learning_rate
        return kwargs

    def run_name(self, when: float | None = None) -> str:
        """``<rule>[-<param><value>...]_n<n>_d<d>_K<K>__[rllib-]<algo>-<mode>[-vertex]__seed<seed>
        __<stamp>``, e.g. ``softmax-T1_n5_d5_K1000__ppo-shared__seed0__20260101-120000``
        (``T`` is the temperature; other parameters by name, a floor of 0 left out; the
        backend and action type only when not the defaults)."""
        rule_object = self.make_rule()
        rule = rule_object.NAME + "".join(
            f"-{'T' if name == 'temperature' else name}{value:g}"
            for name, value in rule_object.params().items() if not (name == "floor" and value == 0))
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when))
        learner = (("rllib-" if self.backend == "rllib" else "") + f"{self.algo}-{self.mode}"
                   + ("-vertex" if self.action_type == "vertex" else ""))
        return (f"{rule}_n{self.n_producers}_d{self.dim}_K{self.n_users}__{learner}"
                f"__seed{self.seed}__{stamp}")

    def to_dict(self) -> dict[str, Any]:
        """All settings as JSON-ready values."""
        return dataclasses.asdict(self)
