"""Reproduce the paper's two experiments on synthetic users and draw its figures.

Experiment 1 (iterations to converge) runs on synthetic uniform users, experiment 2
(equilibria across temperatures) on synthetic skewed users. Each sweep is checked
run by run against the paper's published results (shipped with recgym,
``recgym.published``) and the figures land in ``OUT/figures``::

    python examples/reproduce_paper.py --quick --out runs/quick   # seconds
    python examples/reproduce_paper.py --jobs 2 --out runs/paper  # the full grids

Sweeps resume: run the same command again after an interruption. The same work from
the command line::

    recgym reproduce exp1 --dataset synth-uniform --jobs 2 --out runs/paper/exp1
    recgym compare runs/paper/exp1
    recgym plot runs/paper/exp1
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from recgym.experiments.compare import compare_runs, format_comparison
from recgym.experiments.config import Exp1Config, Exp2Config
from recgym.experiments.plots import save_figures
from recgym.experiments.results import read_results
from recgym.experiments.sweep import read_user_distributions, run_sweep
from recgym.published import published_path

#: The quick budget: a prefix of each experiment's loops (so the runs still match).
QUICK_EXP1 = {"runs": (1, 2), "dims": (5,), "producers": (2, 5, 10, 20)}
QUICK_EXP2 = {"seeds": (13,), "dims": (5,), "producers": (2, 5, 10, 20)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="runs/paper", help="Output folder.")
    parser.add_argument("--quick", action="store_true", help="A few seconds: a prefix of "
                        "each experiment (runs 1-2 of experiment 1, embedding seed 13 of "
                        "experiment 2, d = 5, n up to 20).")
    parser.add_argument("--jobs", type=int, default=1, help="Worker processes.")
    args = parser.parse_args()
    out = Path(args.out)
    common = {"jobs": args.jobs, "progress": not args.quick}
    sweeps = {
        "exp1": Exp1Config(out=str(out / "exp1"), dataset="synth-uniform", **common,
                           **(QUICK_EXP1 if args.quick else {})),
        "exp2": Exp2Config(out=str(out / "exp2"), dataset="synth-skewed", **common,
                           **(QUICK_EXP2 if args.quick else {})),
    }
    frames, users = [], []
    for name, config in sweeps.items():
        summary = run_sweep(config)
        print(f"{name} {config.dataset}: {summary.n_runs} runs in {summary.results} "
              f"({summary.n_computed} computed, {summary.seconds:.1f} s)")
        frames.append(read_results(config.out))
        users.append(read_user_distributions(config.out))
        comparison = compare_runs(frames[-1], read_results(published_path(name)))
        print(format_comparison(comparison, limit=10))
    paths = save_figures(pd.concat(frames, ignore_index=True), pd.concat(users),
                         out / "figures")
    print("figures:", *map(str, paths), sep="\n  ")


if __name__ == "__main__":
    main()
