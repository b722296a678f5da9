"""RL producers vs the exact equilibrium: agent-steps to NashConv <= 2%, TV distance, throughput.

The game: synthetic uniform users (``K = 1000``, ``d = 5``, users seed 0),
``n = 5`` producers, softmax serving with ``T = 1``, horizon 16, 4 copies of the
game per learner. For each mode (shared PPO, independent PPO) and seed, the
deterministic policies are evaluated every ``--eval-freq`` agent-steps
(``agents.rl.evaluate``); the script reports

* the first evaluated agent-step count at which NashConv (over the whole strategy
  set) is at most ``--goal`` (2%) of the total producer utility, and the TV
  distance to the best-response-dynamics equilibrium there and at the end;
* training throughput in agent-steps per second (evaluation time excluded), next
  to a baseline measured in the same process just before each run: uniformly
  random actions stepped through the same adapter (``ProducerVecEnv``), i.e. the
  environment's own cost (the ratio is what training keeps of it).

Results are appended to ``--out/results.jsonl`` as each run finishes; runs
already there are skipped (resume by running the same command again).

Usage::

    python benchmarks/bench_rl.py --out /tmp/bench_rl --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from agents.rl import (
    EquilibriumEvalCallback,
    IndependentLearners,
    ProducerVecEnv,
    equilibrium_reference,
    shared_model,
)
from agents.rl.evaluation import EvaluationResult
from recgym import parallel_env

SETTINGS = dict(n_producers=5, dim=5, n_users=1000, users_seed=0, rule="softmax",
                temperature=1.0, horizon=16)
COPIES = 4
BASELINE_STEPS = 20_000  # agent-steps of the random-action baseline
MODES = ("shared", "independent")


class TimedEvalCallback(EquilibriumEvalCallback):
    """``EquilibriumEvalCallback`` that also measures the time spent evaluating."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.eval_seconds = 0.0

    def evaluate_now(self) -> EvaluationResult:
        start = time.perf_counter()
        result = super().evaluate_now()
        self.eval_seconds += time.perf_counter() - start
        return result


def random_rollout_throughput(steps: int, seed: int = 0) -> float:
    """Agent-steps per second of uniformly random actions through the same adapter."""
    venv = ProducerVecEnv([parallel_env(**SETTINGS) for _ in range(COPIES)])
    venv.seed(seed)
    venv.reset()
    rng = np.random.default_rng(seed)
    actions = rng.uniform(0.0, 1.0, size=(steps // venv.num_envs, venv.num_envs, SETTINGS["dim"]))
    start = time.perf_counter()
    for batch in actions.astype(np.float32):
        venv.step(batch)
    return actions.shape[0] * venv.num_envs / (time.perf_counter() - start)


def run(mode: str, seed: int, steps: int, eval_freq: int, goal: float) -> dict:
    """Train one learner, evaluating as it goes; the figures of the module docstring."""
    baseline = random_rollout_throughput(BASELINE_STEPS, seed)
    envs = [parallel_env(**SETTINGS) for _ in range(COPIES)]
    eval_env = parallel_env(**SETTINGS)
    learner = (shared_model(envs, algo="ppo", seed=seed) if mode == "shared"
               else IndependentLearners(envs, algo="ppo", seed=seed))
    callback = TimedEvalCallback(eval_env, eval_freq,
                                 equilibrium=equilibrium_reference(eval_env.game, 0),
                                 log_figure=False)
    start = time.perf_counter()
    learner.learn(steps, callback=callback)
    seconds = time.perf_counter() - start
    reached = [(n, ev) for n, ev in callback.history if ev.nash_conv_relative <= goal]
    final = callback.last
    return {
        "mode": mode, "seed": seed, "agent_steps": int(learner.num_timesteps),
        "steps_to_goal": reached[0][0] if reached else None,
        "tv_at_goal": reached[0][1].tv_to_equilibrium if reached else None,
        "final_nash_conv_relative": final.nash_conv_relative,
        "best_nash_conv_relative": min(ev.nash_conv_relative for _, ev in callback.history),
        "final_tv": final.tv_to_equilibrium,
        "final_distribution": final.distribution.round(3).tolist(),
        "equilibrium_distribution": final.equilibrium.distribution.tolist(),
        "final_concentrated_share": final.concentrated_share,
        "final_producer_utility_mean": final.producer_utility_mean,
        "equilibrium_producer_utility_mean": float(final.equilibrium.producer_utilities.mean()),
        "final_user_welfare": final.user_welfare,
        "equilibrium_user_welfare": final.equilibrium.user_welfare,
        "train_seconds": seconds - callback.eval_seconds, "eval_seconds": callback.eval_seconds,
        "throughput": learner.num_timesteps / (seconds - callback.eval_seconds),
        "baseline_throughput": baseline,
        "history": [[n, ev.nash_conv_relative, ev.tv_to_equilibrium]
                    for n, ev in callback.history],
    }


def report(rows: list[dict], goal: float) -> str:
    lines = ["NC: NashConv / total producer utility; TV: to the dynamics' equilibrium; "
             "baseline: random actions through ProducerVecEnv, measured before each run",
             f"{'mode':12} {'seed':>4} {'steps to <= ' + format(goal, '.0%'):>16} "
             f"{'TV there':>8} {'final NC':>8} {'final TV':>8} {'agent-steps/s':>13} "
             f"{'baseline':>9} {'ratio':>6}"]
    for row in rows:
        to_goal = "not reached" if row["steps_to_goal"] is None else f"{row['steps_to_goal']:,}"
        tv_goal = "" if row["tv_at_goal"] is None else f"{row['tv_at_goal']:.3f}"
        lines.append(f"{row['mode']:12} {row['seed']:>4} {to_goal:>16} {tv_goal:>8} "
                     f"{row['final_nash_conv_relative']:>8.2%} {row['final_tv']:>8.3f} "
                     f"{row['throughput']:>13,.0f} {row['baseline_throughput']:>9,.0f} "
                     f"{row['throughput'] / row['baseline_throughput']:>6.3f}")
    for mode in MODES:
        mine = [r for r in rows if r["mode"] == mode]
        if mine:
            hit = [r["steps_to_goal"] for r in mine if r["steps_to_goal"] is not None]
            median = f"median {int(np.median(hit)):,} agent-steps" if hit else "no run"
            lines.append(f"{mode}: {len(hit)}/{len(mine)} runs reached <= {goal:.0%} "
                         f"({median}); mean throughput "
                         f"{np.mean([r['throughput'] for r in mine]):,.0f} agent-steps/s")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder of results.jsonl (resumable)")
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--steps", type=int, default=200_000, help="agent-steps per run")
    parser.add_argument("--eval-freq", type=int, default=5_000)
    parser.add_argument("--goal", type=float, default=0.02)
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.jsonl"
    rows = [json.loads(line) for line in results.read_text().splitlines()] \
        if results.exists() else []
    done = {(r["mode"], r["seed"], r["agent_steps"] >= args.steps) for r in rows}
    for mode in args.modes:
        for seed in args.seeds:
            if (mode, seed, True) in done:
                continue
            row = run(mode, seed, args.steps, args.eval_freq, args.goal)
            rows.append(row)
            with results.open("a") as handle:
                handle.write(json.dumps(row) + "\n")
            print(f"{mode} seed {seed}: NashConv {row['final_nash_conv_relative']:.2%} after "
                  f"{row['agent_steps']:,} agent-steps, goal at {row['steps_to_goal']}",
                  flush=True)
    print()
    print(report([r for r in rows if r["mode"] in args.modes and r["seed"] in args.seeds],
                 args.goal))


if __name__ == "__main__":
    main()
