"""RL producers vs the exact equilibria, at every budget: first and last NashConv per seed.

The game: synthetic uniform users (``K = 1000``, ``d = 5``, users seed 0),
``n = 5`` producers, softmax serving with ``T = 1``, horizon 16: ``recgym train``'s
defaults. Every run is one ``agents.rl.train`` of a ``TrainConfig`` with those
defaults (8 copies of the game, PPO's settings of ``agents.rl.algorithms``), so the
benchmark measures what a user of ``recgym train`` gets; ``--backend rllib`` trains
the same settings with RLlib's multi-agent PPO (``--env-runners``: remote samplers).
Configurations (``--configs``):

* ``shared-vertex``: one shared policy, feature indices as actions (``Discrete(5)``);
* ``shared-box``: one shared policy, embeddings (the vertex-mixture policy, on both
  backends);
* ``shared-gaussian``: embeddings with a diagonal Gaussian instead (not in the
  default set);
* ``independent-vertex``, ``independent-box``: a network per producer.

For each configuration, budget (``--steps``, several allowed: 30000 200000) and seed
the deterministic policies are evaluated at the start and every ``--eval-freq``
agent-steps (``agents.rl.callbacks.Evaluator``); the script reports per seed the
**first** and **last** evaluation's NashConv (over the whole strategy set, relative to
the total producer utility), the first agent-step count at which it is at most
``--goal`` (1%), the TV distance from the learned producer distribution to the
nearest vertex equilibrium of the paper's dynamics (``--equilibrium-seeds`` seeds),
and throughput: training agent-steps per second, evaluations left out, next to a
baseline timed before and after each run with ``benchmarks/timing.py``
(``Timer``): uniformly random actions of the same type through ``ProducerVecEnv``
on as many copies, i.e. the environment's own cost; ``ratio`` is the share of that
throughput training keeps (``timing.ratio``; CPU time of this process for SB3, so
that other processes do not bias it; wall time for RLlib, whose env runners are
other processes).

The budgets' rows of a seed are printed side by side (30,000 next to 200,000), then a
verdict per configuration and budget: last <= first on how many seeds, and NashConv <=
goal at the end on how many.

With ``--reference DIR`` (another backend's ``results.jsonl`` on the same settings) it
also prints, per configuration and budget, that backend's slowest seed to the goal and
on how many seeds this one is at the goal at the end having got there within twice
that (``PAR_FACTOR``), with each seed's ratio of agent-steps to the goal.

Results are appended to ``--out/results.jsonl`` as each run finishes; runs already
there (same backend, configuration, seed, budget, copies and env runners) are skipped:
rerun the same command to resume, and partial runs count.

Usage::

    python benchmarks/bench_rl.py --out /tmp/bench_rl --steps 30000 200000 \\
        --seeds 0 1 2 3 4 5 6 7 8 9
    python benchmarks/bench_rl.py --out /tmp/bench_rllib --backend rllib \\
        --steps 30000 200000 --seeds 0 1 2 3 4 5 6 7 8 9 --reference /tmp/bench_rl
    python benchmarks/bench_rl.py --out /tmp/bench_rllib1 --backend rllib --env-runners 1 \\
        --configs shared-vertex --steps 20000 --seeds 0
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from timing import Timer, add_blas_argument, blas_threads, header, ratio

from agents.rl import ProducerVecEnv, TrainConfig, train
from agents.rl.config import DEFAULT_N_ENVS
from recgym import parallel_env
from recgym.metrics import total_variation
from recgym.solvers import best_response_dynamics

#: The benchmark game: ``recgym train``'s defaults, spelled out.
SETTINGS = dict(n_producers=5, dim=5, n_users=1000, users_seed=0, rule="softmax",
                temperature=1.0, horizon=16)
BASELINE_STEPS = 20_000  # agent-steps of each random-action baseline measurement
#: The box policy of rows written before rows recorded it: each backend's default then.
LEGACY_BOX_POLICY = {"sb3": "mixture", "rllib": "gaussian"}
PAR_FACTOR = 2.0  # --reference: "on par" is at the goal within this many times its agent-steps


@dataclass(frozen=True)
class Config:
    """One learner: its mode, its actions and (box actions) SB3's policy."""

    name: str
    mode: str
    action_type: str
    box_policy: str | None = None  # None: the backend's default


CONFIGS = {c.name: c for c in (
    Config("shared-vertex", "shared", "vertex"),
    Config("shared-box", "shared", "box"),
    Config("shared-gaussian", "shared", "box", "gaussian"),
    Config("independent-vertex", "independent", "vertex"),
    Config("independent-box", "independent", "box"),
)}
DEFAULT_CONFIGS = ["shared-box", "shared-vertex", "independent-box", "independent-vertex"]


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


def random_rollout(action_type: str, copies: int, steps: int, seed: int = 0) -> None:
    """``steps`` agent-steps of uniformly random actions through the adapter."""
    venv = ProducerVecEnv([parallel_env(**SETTINGS, action_type=action_type)
                           for _ in range(copies)])
    venv.seed(seed)
    venv.reset()
    rng = np.random.default_rng(seed)
    for _ in range(max(steps // venv.num_envs, 1)):
        if action_type == "box":
            venv.step(rng.uniform(0.0, 1.0, (venv.num_envs, SETTINGS["dim"]))
                      .astype(np.float32))
        else:
            venv.step(rng.integers(SETTINGS["dim"], size=venv.num_envs))
    venv.close()


def train_config(config: Config, seed: int, steps: int, args: argparse.Namespace,
                 logdir: str) -> TrainConfig:
    """The ``TrainConfig`` of one run (``recgym train``'s defaults otherwise)."""
    extra = {} if config.box_policy is None else {"box_policy": config.box_policy}
    return TrainConfig(backend=args.backend, mode=config.mode, action_type=config.action_type,
                       steps=steps, seed=seed, eval_freq=args.eval_freq, n_envs=args.n_envs,
                       env_runners=args.env_runners, progress=False, logdir=logdir,
                       **SETTINGS, **extra)


def run(config: Config, seed: int, steps: int, args: argparse.Namespace,
        equilibria: list[np.ndarray]) -> dict:
    """Train one learner (``agents.rl.train``); the figures of the module docstring."""
    copies = args.n_envs
    baseline = Timer("random actions", per=BASELINE_STEPS, unit="agent-step")
    baseline.time(lambda: random_rollout(config.action_type, copies, BASELINE_STEPS, seed))
    with tempfile.TemporaryDirectory() as logdir:
        settings = train_config(config, seed, steps, args, logdir)
        cpu = time.process_time()
        result = train(settings, Path(logdir) / "run")
        cpu = time.process_time() - cpu
    baseline.time(lambda: random_rollout(config.action_type, copies, BASELINE_STEPS, seed))
    training = Timer("training", per=result.agent_steps, unit="agent-step")
    training.add(result.seconds - result.eval_seconds, cpu - result.eval_cpu_seconds)
    clock = "wall" if args.backend == "rllib" else "cpu"
    history = [(n, ev.nash_conv_relative) for n, ev in result.history]
    reached = [n for n, value in history if value <= args.goal]
    final = result.evaluation
    nearest = [total_variation(final.distribution, q) for q in equilibria]
    return {
        "backend": args.backend, "config": config.name, "seed": seed, "steps": steps,
        "box_policy": settings.box_policy,
        "n_envs": copies, "env_runners": args.env_runners, "agent_steps": result.agent_steps,
        "first_nash_conv_relative": history[0][1], "final_nash_conv_relative": history[-1][1],
        "steps_to_goal": reached[0] if reached else None, "goal": args.goal,
        "best_nash_conv_relative": min(value for _, value in history),
        "tv_to_nearest_equilibrium": min(nearest),
        "final_distribution": final.distribution.round(4).tolist(),
        "final_concentrated_share": final.concentrated_share,
        "train_seconds": result.seconds - result.eval_seconds,
        "train_cpu_seconds": cpu - result.eval_cpu_seconds,
        "eval_seconds": result.eval_seconds,
        "throughput": 1.0 / training.min(clock), "throughput_clock": clock,
        "wall_throughput": 1.0 / training.min("wall"),
        "baseline_throughput": 1.0 / baseline.min(clock),
        "ratio": ratio(baseline, training, clock),
        "history": [list(point) for point in history],
    }


def key(row: dict) -> tuple:
    """What identifies a run in ``results.jsonl`` (older rows: SB3, 32 copies, no runners,
    the box policy that was then the backend's default)."""
    backend = row.get("backend", "sb3")
    return (backend, row["config"], row["seed"], row.get("steps", row["agent_steps"]),
            row.get("n_envs", 32), row.get("env_runners", 0),
            row.get("box_policy", LEGACY_BOX_POLICY[backend]))


def box_policy(name: str) -> str:
    """The box policy configuration ``name`` trains with (``recgym train``'s default unless
    it names one)."""
    return CONFIGS[name].box_policy or TrainConfig.box_policy


def _cell(row: dict | None) -> str:
    if row is None:
        return f"{'(not run)':>34}"
    to_goal = "-" if row["steps_to_goal"] is None else f"{row['steps_to_goal']:,}"
    mark = "ok " if row["final_nash_conv_relative"] <= row["first_nash_conv_relative"] \
        else "BAD"
    return (f"{row['first_nash_conv_relative']:>6.2%} -> {row['final_nash_conv_relative']:>6.2%}"
            f" {mark} {to_goal:>9}")


def report(rows: list[dict], budgets: list[int], goal: float,
           equilibria: list[np.ndarray]) -> str:
    """Per configuration: one line per seed with every budget's first -> last NashConv side
    by side, then the verdicts."""
    lines = [f"vertex equilibria of the dynamics: {len(equilibria)} distinct: "
             + ", ".join(str(np.round(q, 2).tolist()) for q in equilibria),
             f"cells: NashConv / total producer utility at the first -> last evaluation, ok "
             f"when last <= first, then the first agent-step count at NashConv <= {goal:.0%}"]
    for name in CONFIGS:
        mine = [r for r in rows if r["config"] == name]
        if not mine:
            continue
        backend = mine[0].get("backend", "sb3")
        lines += ["", f"{name} ({backend}, {mine[0].get('n_envs')} copies, "
                  f"{mine[0].get('env_runners', 0)} env runners)",
                  f"{'seed':>4}  " + "  ".join(f"{format(b, ',') + ' agent-steps':>34}"
                                                for b in budgets)]
        for seed in sorted({r["seed"] for r in mine}):
            cells = []
            for budget in budgets:
                found = [r for r in mine if r["seed"] == seed and r.get("steps") == budget]
                cells.append(_cell(found[-1] if found else None))
            lines.append(f"{seed:>4}  " + "  ".join(cells))
        for budget in budgets:
            done = [r for r in mine if r.get("steps") == budget]
            if not done:
                continue
            kept = sum(r["final_nash_conv_relative"] <= r["first_nash_conv_relative"]
                       for r in done)
            at_goal = sum(r["final_nash_conv_relative"] <= goal for r in done)
            hit = [r["steps_to_goal"] for r in done if r["steps_to_goal"] is not None]
            median = (f"median {int(np.median(hit)):,}, max {max(hit):,} agent-steps to "
                      f"<= {goal:.0%}" if hit else f"never <= {goal:.0%}")
            lines.append(
                f"  {budget:,}: last <= first on {kept}/{len(done)} seeds, NashConv <= "
                f"{goal:.0%} at the end on {at_goal}/{len(done)} ({median}); mean last "
                f"{np.mean([r['final_nash_conv_relative'] for r in done]):.2%}; TV to the "
                f"nearest equilibrium {np.mean([r['tv_to_nearest_equilibrium'] for r in done]):.3f}"
                f"; {np.mean([r['throughput'] for r in done]):,.0f} agent-steps/s "
                f"({done[0].get('throughput_clock', 'cpu')}), ratio to random actions "
                f"{np.mean([r['ratio'] for r in done]):.3f}")
    return "\n".join(lines)


def percent(share: float) -> str:
    """``0.01`` -> ``"1%"``, ``0.001`` -> ``"0.1%"``."""
    return f"{100 * share:g}%"


def steps_to(row: dict, goal: float) -> int | None:
    """The first agent-step count of ``row``'s evaluations at NashConv <= ``goal``."""
    return next((n for n, value in row["history"] if value <= goal), None)


def compare(rows: list[dict], reference: list[dict], budgets: list[int], goal: float,
            factor: float = PAR_FACTOR) -> str:
    """Per configuration and budget: this backend against ``reference`` (another backend's
    rows of the same settings, of the same budget or else its longest runs):
    ``reference``'s slowest seed to ``goal``, and on how many
    seeds this backend is at ``goal`` at the end having got there within ``factor`` times
    that; with each seed's ratio of agent-steps to ``goal`` (this / reference, over the
    seeds where both got there after the start)."""
    lines = []
    for name in CONFIGS:
        for budget in budgets:
            mine = {r["seed"]: r for r in rows if r["config"] == name and r.get("steps") == budget}
            budgets_there = {r.get("steps") for r in reference if r["config"] == name}
            if not mine or not budgets_there:
                continue
            # The reference's runs of the same budget, else its longest ones (the agent-steps
            # to the goal are read off the evaluations, whatever the budget).
            theirs_budget = budget if budget in budgets_there else max(budgets_there)
            theirs = {r["seed"]: r for r in reference
                      if r["config"] == name and r.get("steps") == theirs_budget}
            backend = next(iter(theirs.values())).get("backend", "sb3")
            reached = {seed: steps_to(r, goal) for seed, r in theirs.items()}
            if None in reached.values():
                lines.append(f"{name} {budget:,}: {backend} does not reach {percent(goal)} on "
                             f"every seed; no bound to compare with")
                continue
            bound = factor * max(reached.values())
            here = {seed: steps_to(r, goal) for seed, r in mine.items()}
            par = sum(here[s] is not None and here[s] <= bound
                      and mine[s]["final_nash_conv_relative"] <= goal for s in mine)
            ratios = [here[s] / reached[s] for s in sorted(mine)
                      if here[s] is not None and reached.get(s)]
            spread = (f"per seed {min(ratios):.2f}-{max(ratios):.2f}x, median "
                      f"{np.median(ratios):.2f}x {backend}'s agent-steps to {percent(goal)}, "
                      f"{len(ratios)} seeds" if ratios else "no seed to compare")
            lines.append(f"{name} {budget:,}: {backend}'s slowest seed ({theirs_budget:,}-step "
                         f"runs) reaches {percent(goal)} "
                         f"at {max(reached.values()):,} agent-steps; here at <= {percent(goal)} "
                         f"at the end having got there within {factor:g}x that ({bound:,.0f}) "
                         f"on {par}/{len(mine)} seeds ({spread})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder of results.jsonl (resumable)")
    parser.add_argument("--configs", nargs="+", default=DEFAULT_CONFIGS, choices=list(CONFIGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(range(10)))
    parser.add_argument("--steps", nargs="+", type=int, default=[30_000, 200_000],
                        help="budgets in agent-steps, each run on every seed")
    parser.add_argument("--backend", choices=("sb3", "rllib"), default="sb3")
    parser.add_argument("--env-runners", type=int, default=0, help="rllib: remote samplers")
    parser.add_argument("--n-envs", type=int, default=DEFAULT_N_ENVS,
                        help="copies of the game (recgym train's default)")
    parser.add_argument("--eval-freq", type=int, default=5_000)
    parser.add_argument("--goal", type=float, default=0.01)
    parser.add_argument("--equilibrium-seeds", type=int, default=20,
                        help="dynamics seeds 0..N-1 whose equilibria TV is measured against")
    parser.add_argument("--reference", type=Path, default=None,
                        help="folder of another backend's results.jsonl (same settings): "
                             "compare agent-steps to --goal with it")
    parser.add_argument("--report-only", action="store_true",
                        help="print the table of results.jsonl without training")
    add_blas_argument(parser)
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = out / "results.jsonl"
    rows = [json.loads(line) for line in results.read_text().splitlines()] \
        if results.exists() else []
    with blas_threads(args.blas_threads):
        print(header(), flush=True)
        equilibria = vertex_equilibria(range(args.equilibrium_seeds))
        done = {key(r) for r in rows}
        for name in [] if args.report_only else args.configs:
            for steps in args.steps:
                for seed in args.seeds:
                    wanted = (args.backend, name, seed, steps, args.n_envs, args.env_runners,
                              box_policy(name))
                    if wanted in done:
                        continue
                    row = run(CONFIGS[name], seed, steps, args, equilibria)
                    rows.append(row)
                    with results.open("a") as handle:
                        handle.write(json.dumps(row) + "\n")
                    print(f"{name} seed {seed} {steps:,}: NashConv "
                          f"{row['first_nash_conv_relative']:.2%} -> "
                          f"{row['final_nash_conv_relative']:.2%} after "
                          f"{row['agent_steps']:,} agent-steps, <= {args.goal:.0%} at "
                          f"{row['steps_to_goal']}, {row['throughput']:,.0f} agent-steps/s",
                          flush=True)
    mine = [r for r in rows if key(r)[0] == args.backend and r["config"] in args.configs
            and r["seed"] in args.seeds and key(r)[4] == args.n_envs
            and key(r)[5] == args.env_runners and key(r)[3] in args.steps
            and key(r)[6] == box_policy(r["config"])]
    print()
    print(report(mine, args.steps, args.goal, equilibria))
    if args.reference is not None:
        reference = [json.loads(line) for line in
                     (args.reference / "results.jsonl").read_text().splitlines()]
        reference = [r for r in reference if key(r)[0] != args.backend
                     and r["seed"] in args.seeds and key(r)[4] == args.n_envs
                     and key(r)[6] == box_policy(r["config"])]
        print()
        print(compare(mine, reference, args.steps, args.goal))


if __name__ == "__main__":
    main()
