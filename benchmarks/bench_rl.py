"""RL producers vs the exact equilibria: agent-steps to NashConv <= 1%, TV distance, throughput.

The game: synthetic uniform users (``K = 1000``, ``d = 5``, users seed 0),
``n = 5`` producers, softmax serving with ``T = 1``, horizon 16, 32 copies of the
game per learner, PPO with ``agents.rl``'s defaults. Configurations (``--configs``):

* ``shared-vertex``: one shared policy, feature indices as actions (``Discrete(5)``);
* ``shared-box``: one shared policy, embeddings, the vertex-mixture policy;
* ``shared-gaussian``: the same with SB3's Gaussian policy (the old default);
* ``independent-vertex``, ``independent-box``: a network per producer, batched in
  one model (``independent_model``);
* ``threads-box``: one SB3 model per producer in turns (``IndependentLearners``),
  for its throughput (not in the default set).

For each configuration and seed the deterministic policies are evaluated every
``--eval-freq`` agent-steps (``agents.rl.evaluate``, one line each as it runs);
the script reports

* the first evaluated agent-step count at which NashConv (over the whole strategy
  set) is at most ``--goal`` (1%) of the total producer utility, and NashConv at
  the end;
* the total-variation distance between the learned producers' distribution over
  features and the NEAREST of the vertex equilibria that the paper's dynamics
  reach from ``--equilibrium-seeds`` seeds (``recgym.solvers.best_response_dynamics``,
  ``recgym.metrics.total_variation``);
* training throughput in agent-steps per CPU-second of this process (evaluations
  excluded; CPU time, so that other processes on the machine do not bias the
  ratio) next to a baseline measured in the same process just before and just
  after each run: uniformly random actions of the same action type stepped
  through the same adapter (``ProducerVecEnv``), i.e. the environment's own cost.
  The ratio is what training keeps of it; wall-clock figures are recorded too.

Results are appended to ``--out/results.jsonl`` as each run finishes; runs
already there are skipped (resume by running the same command again).

Usage::

    python benchmarks/bench_rl.py --out /tmp/bench_rl --seeds 0 1 2 3 4 5 6 7 8 9
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from agents.rl import (
    EquilibriumEvalCallback,
    IndependentLearners,
    ProducerVecEnv,
    independent_model,
    shared_model,
)
from agents.rl.evaluation import EvaluationResult
from recgym import parallel_env
from recgym.metrics import total_variation
from recgym.solvers import best_response_dynamics, summarize_equilibrium

SETTINGS = dict(n_producers=5, dim=5, n_users=1000, users_seed=0, rule="softmax",
                temperature=1.0, horizon=16)
COPIES = 32
BASELINE_STEPS = 40_000  # agent-steps of each random-action baseline measurement


@dataclass(frozen=True)
class Config:
    """One learner: how it is built and what its actions are."""

    name: str
    learner: str  # "shared", "independent" or "threads"
    action_type: str
    box_policy: str = "mixture"


CONFIGS = {c.name: c for c in (
    Config("shared-vertex", "shared", "vertex"),
    Config("shared-box", "shared", "box"),
    Config("shared-gaussian", "shared", "box", "gaussian"),
    Config("independent-vertex", "independent", "vertex"),
    Config("independent-box", "independent", "box"),
    Config("threads-box", "threads", "box"),
)}
DEFAULT_CONFIGS = ["shared-vertex", "shared-box", "shared-gaussian", "independent-vertex",
                   "independent-box"]


class TimedEvalCallback(EquilibriumEvalCallback):
    """``EquilibriumEvalCallback`` that also measures the time spent evaluating and prints
    one line per evaluation."""

    def __init__(self, *args, label: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.label = label
        self.eval_cpu = 0.0
        self.eval_wall = 0.0

    def evaluate_now(self) -> EvaluationResult:
        cpu, wall = time.process_time(), time.perf_counter()
        result = super().evaluate_now()
        self.eval_cpu += time.process_time() - cpu
        self.eval_wall += time.perf_counter() - wall
        print(f"  {self.label}: {self.num_timesteps:>7,} agent-steps  NashConv "
              f"{result.nash_conv_relative:6.2%}  producers per feature "
              f"{np.round(result.distribution, 2)}", flush=True)
        return result


def vertex_equilibria(seeds: range) -> list[np.ndarray]:
    """Distinct producer distributions ``counts / n`` ``(d,)`` at which the paper's
    dynamics converge from each seed."""
    game = parallel_env(**SETTINGS).game
    found: dict[tuple[int, ...], np.ndarray] = {}
    for seed in seeds:
        result = best_response_dynamics(game, seed)
        if result.converged:
            counts = tuple(int(c) for c in result.counts)
            found.setdefault(counts, result.counts / game.n_producers)
    return list(found.values())


def random_rollout(action_type: str, steps: int, seed: int = 0) -> tuple[float, float]:
    """Agent-steps per CPU-second and per wall-second of random actions through the adapter."""
    venv = ProducerVecEnv([parallel_env(**SETTINGS, action_type=action_type)
                           for _ in range(COPIES)])
    venv.seed(seed)
    venv.reset()
    rng = np.random.default_rng(seed)
    rounds = steps // venv.num_envs
    if action_type == "box":
        actions = rng.uniform(0.0, 1.0, (rounds, venv.num_envs, SETTINGS["dim"]))
        actions = actions.astype(np.float32)
    else:
        actions = rng.integers(SETTINGS["dim"], size=(rounds, venv.num_envs))
    for batch in actions[: max(rounds // 10, 1)]:  # warm-up
        venv.step(batch)
    cpu, wall = time.process_time(), time.perf_counter()
    for batch in actions:
        venv.step(batch)
    done = rounds * venv.num_envs
    return done / (time.process_time() - cpu), done / (time.perf_counter() - wall)


def build(config: Config, seed: int) -> object:
    envs = [parallel_env(**SETTINGS, action_type=config.action_type) for _ in range(COPIES)]
    if config.learner == "shared":
        return shared_model(envs, seed=seed, box_policy=config.box_policy)
    if config.learner == "independent":
        return independent_model(envs, seed=seed, box_policy=config.box_policy)
    return IndependentLearners(envs, seed=seed, box_policy=config.box_policy)


def run(config: Config, seed: int, steps: int, eval_freq: int, goal: float,
        equilibria: list[np.ndarray]) -> dict:
    """Train one learner, evaluating as it goes; the figures of the module docstring."""
    before = random_rollout(config.action_type, BASELINE_STEPS, seed)
    learner = build(config, seed)
    eval_env = parallel_env(**SETTINGS, action_type=config.action_type)
    callback = TimedEvalCallback(eval_env, eval_freq,
                                 equilibrium=summarize_equilibrium(eval_env.game, 0),
                                 log_figure=False, label=f"{config.name} seed {seed}")
    cpu, wall = time.process_time(), time.perf_counter()
    learner.learn(steps, callback=callback)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    after = random_rollout(config.action_type, BASELINE_STEPS, seed)
    agent_steps = int(learner.num_timesteps)
    reached = [(n, ev) for n, ev in callback.history if ev.nash_conv_relative <= goal]
    final = callback.last
    nearest = [total_variation(final.distribution, q) for q in equilibria]
    throughput = agent_steps / (cpu - callback.eval_cpu)
    baseline = (before[0] + after[0]) / 2
    wall_throughput = agent_steps / (wall - callback.eval_wall)
    wall_baseline = (before[1] + after[1]) / 2
    return {
        "config": config.name, "seed": seed, "agent_steps": agent_steps,
        "steps_to_goal": reached[0][0] if reached else None,
        "final_nash_conv_relative": final.nash_conv_relative,
        "best_nash_conv_relative": min(ev.nash_conv_relative for _, ev in callback.history),
        "tv_to_nearest_equilibrium": min(nearest),
        "nearest_equilibrium": equilibria[int(np.argmin(nearest))].tolist(),
        "final_distribution": final.distribution.round(4).tolist(),
        "final_concentrated_share": final.concentrated_share,
        "final_producer_utility_mean": final.producer_utility_mean,
        "final_user_welfare": final.user_welfare,
        "train_cpu_seconds": cpu - callback.eval_cpu, "eval_cpu_seconds": callback.eval_cpu,
        "throughput": throughput, "baseline_throughput": baseline,
        "baseline_before_after": [before[0], after[0]], "ratio": throughput / baseline,
        "wall_throughput": wall_throughput, "wall_baseline_throughput": wall_baseline,
        "wall_ratio": wall_throughput / wall_baseline,
        "history": [[n, ev.nash_conv_relative] for n, ev in callback.history],
    }


def report(rows: list[dict], goal: float, equilibria: list[np.ndarray]) -> str:
    lines = [f"vertex equilibria of the dynamics: {len(equilibria)} distinct: "
             + ", ".join(str(np.round(q, 2).tolist()) for q in equilibria),
             "NC: NashConv / total producer utility; TV: to the nearest of those; "
             "throughput in agent-steps per CPU-second, baseline: random actions through "
             "ProducerVecEnv (mean of before and after the run)",
             f"{'config':19} {'seed':>4} {'steps to <= ' + format(goal, '.0%'):>16} "
             f"{'final NC':>8} {'TV':>6} {'agent-steps/s':>13} {'baseline':>9} {'ratio':>6} "
             f"{'wall ratio':>10}"]
    for row in rows:
        to_goal = "not reached" if row["steps_to_goal"] is None else f"{row['steps_to_goal']:,}"
        lines.append(f"{row['config']:19} {row['seed']:>4} {to_goal:>16} "
                     f"{row['final_nash_conv_relative']:>8.2%} "
                     f"{row['tv_to_nearest_equilibrium']:>6.3f} {row['throughput']:>13,.0f} "
                     f"{row['baseline_throughput']:>9,.0f} {row['ratio']:>6.3f} "
                     f"{row['wall_ratio']:>10.3f}")
    lines.append("")
    for name in CONFIGS:
        mine = [r for r in rows if r["config"] == name]
        if not mine:
            continue
        hit = [r["steps_to_goal"] for r in mine if r["steps_to_goal"] is not None]
        at_end = sum(r["final_nash_conv_relative"] <= goal for r in mine)
        median = f"median {int(np.median(hit)):,}, max {max(hit):,} agent-steps" if hit else "-"
        lines.append(f"{name}: {len(hit)}/{len(mine)} seeds reached NC <= {goal:.0%} ({median}); "
                     f"{at_end}/{len(mine)} at the end; TV to the nearest equilibrium "
                     f"{np.mean([r['tv_to_nearest_equilibrium'] for r in mine]):.3f} on "
                     f"average; throughput ratio {np.mean([r['ratio'] for r in mine]):.3f} "
                     f"(CPU), {np.mean([r['wall_ratio'] for r in mine]):.3f} (wall)")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder of results.jsonl (resumable)")
    parser.add_argument("--configs", nargs="+", default=DEFAULT_CONFIGS, choices=list(CONFIGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(10)))
    parser.add_argument("--steps", type=int, default=200_000, help="agent-steps per run")
    parser.add_argument("--eval-freq", type=int, default=5_000)
    parser.add_argument("--goal", type=float, default=0.01)
    parser.add_argument("--equilibrium-seeds", type=int, default=20,
                        help="dynamics seeds 0..N-1 whose equilibria TV is measured against")
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.jsonl"
    rows = [json.loads(line) for line in results.read_text().splitlines()] \
        if results.exists() else []
    done = {(r["config"], r["seed"]) for r in rows if r["agent_steps"] >= args.steps}
    equilibria = vertex_equilibria(range(args.equilibrium_seeds))
    for name in args.configs:
        for seed in args.seeds:
            if (name, seed) in done:
                continue
            row = run(CONFIGS[name], seed, args.steps, args.eval_freq, args.goal, equilibria)
            rows.append(row)
            with results.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
            print(f"{name} seed {seed}: NashConv {row['final_nash_conv_relative']:.2%} after "
                  f"{row['agent_steps']:,} agent-steps, <= {args.goal:.0%} at "
                  f"{row['steps_to_goal']}, TV {row['tv_to_nearest_equilibrium']:.3f}, "
                  f"throughput ratio {row['ratio']:.3f}", flush=True)
    print()
    print(report([r for r in rows if r["config"] in args.configs and r["seed"] in args.seeds],
                 args.goal, equilibria))


if __name__ == "__main__":
    main()
