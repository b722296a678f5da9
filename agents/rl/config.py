"""Settings of one RL training run (``recgym train``), as a documented frozen dataclass.

Every field carries its help text; ``recgym.experiments.config.add_arguments``
turns the fields into ``--field-name`` options, so the command line and this
documentation cannot drift apart (the CleanRL habit).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Any

from agents.rl.algorithms import ALGOS, check_algo
from recgym.experiments.config import option

#: How producers are trained: one shared policy, or one model per producer.
MODES = ("shared", "independent")
#: Serving rules the command line offers.
RULES = ("softmax", "linear", "topk", "uniform")

__all__ = ["MODES", "RULES", "TrainConfig", "check_mode"]


def check_mode(mode: object) -> str:
    """Return ``mode`` if it is ``"shared"`` or ``"independent"``; ``ValueError`` otherwise."""
    if not isinstance(mode, str) or mode.lower() not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    return mode.lower()


def _check_int(flag: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{flag} must be an integer >= {minimum}, got {value!r}")


def _check_float(flag: str, value: object, low: float, high: float = math.inf,
                 low_open: bool = True) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) \
        and (value > low if low_open else value >= low) and value <= high
    if not ok:
        bound = f"{'>' if low_open else '>='} {low:g}" + ("" if high == math.inf
                                                          else f" and <= {high:g}")
        raise ValueError(f"{flag} must be a finite number {bound}, got {value!r}")


@dataclass(frozen=True)
class TrainConfig:
    """One training run of RL producers, evaluated against the exact equilibrium."""

    algo: str = option("ppo", f"SB3 algorithm: {', '.join(ALGOS)}.")
    mode: str = option("shared", "shared: one policy for every producer (agent id in the "
                       "observation); independent: one model per producer.")
    steps: int = option(200_000, "Training budget in agent-steps (every producer's step "
                        "counts once).")
    n_producers: int = option(5, "Number of producers n.")
    dim: int = option(5, "Embedding dimension d.")
    n_users: int = option(1000, "Number of synthetic uniform users K.")
    users_seed: int = option(0, "Seed of the synthetic users.")
    rule: str = option("softmax", f"Serving rule: {', '.join(RULES)}.")
    temperature: float = option(1.0, "Softmax temperature T (softmax and topk).")
    k: int | None = option(None, "Producers served per user (topk only, where it is "
                             "required).")
    horizon: int = option(16, "Steps per episode (the game is repeated; short is fine).")
    n_envs: int = option(4, "Copies of the game stepped together (each has n producers).")
    learning_rate: float | None = option(None, "Learning rate (default: 1e-3 for PPO, SB3's "
                                         "for SAC and TD3).")
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
    device: str = option("cpu", "Torch device.")
    torch_threads: int = option(1, "Torch CPU threads for this process (1 is fastest for these "
                                "small networks).")

    def __post_init__(self) -> None:
        object.__setattr__(self, "algo", check_algo(self.algo))
        object.__setattr__(self, "mode", check_mode(self.mode))
        if self.rule not in RULES:
            raise ValueError(f"--rule must be one of {', '.join(RULES)}; got {self.rule!r}")
        for flag, value, minimum in (("--steps", self.steps, 1),
                                     ("--n-producers", self.n_producers, 1),
                                     ("--dim", self.dim, 1), ("--n-users", self.n_users, 1),
                                     ("--users-seed", self.users_seed, 0),
                                     ("--horizon", self.horizon, 1), ("--n-envs", self.n_envs, 1),
                                     ("--eval-freq", self.eval_freq, 1),
                                     ("--eval-seed", self.eval_seed, 0),
                                     ("--equilibrium-seed", self.equilibrium_seed, 0),
                                     ("--seed", self.seed, 0),
                                     ("--torch-threads", self.torch_threads, 1)):
            _check_int(flag, value, minimum)
        _check_float("--temperature", self.temperature, 0.0)
        if self.k is None and self.rule == "topk":
            raise ValueError("--rule topk needs --k, the number of producers served per user "
                             "(an integer >= 1)")
        if self.k is not None:
            if self.rule != "topk":
                raise ValueError(f"--k is used only by --rule topk; got --k {self.k} with "
                                 f"--rule {self.rule}")
            _check_int("--k", self.k, 1)
        if self.learning_rate is not None:
            _check_float("--learning-rate", self.learning_rate, 0.0)
        _check_float("--gamma", self.gamma, 0.0, 1.0, low_open=False)

    def env_kwargs(self) -> dict[str, Any]:
        """Arguments of ``recgym.parallel_env`` for this run (training reward per user)."""
        kwargs: dict[str, Any] = {
            "rule": self.rule, "n_producers": self.n_producers, "dim": self.dim,
            "n_users": self.n_users, "users_seed": self.users_seed, "horizon": self.horizon,
            "reward": "engagement", "reward_scale": "mean", "agent_ids": True}
        if self.rule in ("softmax", "topk"):
            kwargs["temperature"] = self.temperature
        if self.k is not None:
            kwargs["k"] = self.k
        return kwargs

    def algo_kwargs(self) -> dict[str, Any]:
        """Constructor overrides for the SB3 models."""
        kwargs: dict[str, Any] = {"gamma": self.gamma}
        if self.learning_rate is not None:
            kwargs["learning_rate"] = self.learning_rate
        return kwargs

    def run_name(self, when: float | None = None) -> str:
        """``<rule>-T<T>_n<n>_d<d>_K<K>__<algo>-<mode>__seed<seed>__<YYYYmmdd-HHMMSS>``."""
        rule = self.rule + (f"-T{self.temperature:g}" if self.rule in ("softmax", "topk")
                            else "") + (f"-k{self.k}" if self.k is not None else "")
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when))
        return (f"{rule}_n{self.n_producers}_d{self.dim}_K{self.n_users}__{self.algo}-"
                f"{self.mode}__seed{self.seed}__{stamp}")

    def to_dict(self) -> dict[str, Any]:
        """All settings as JSON-ready values."""
        return dataclasses.asdict(self)
