"""The ``recgym`` command.

Sub-commands
------------
``recgym equilibrium``
    One run of the paper's best-response dynamics: counts, iterations, producer
    and user utilities, NashConv (certified or not), producers vs users over
    features. Without options it runs on the built-in synthetic users.
``recgym reproduce exp1|exp2 --dataset NAME --out DIR``
    The paper's experiment loops (model.md section 7), in parallel, resumable;
    one row per run in ``DIR/runs.csv`` (or ``runs.parquet``).
``recgym compare DIR --published FILE``
    How many runs match the published ones exactly, and which do not.
``recgym plot DIR``
    The paper's figures, as PNGs in ``DIR/figures``.
``recgym train --algo ppo|sac|td3 --mode shared|independent ...``
    RL producers trained with Stable-Baselines3, evaluated against the exact
    equilibrium every few thousand steps, logged to TensorBoard (``agents.rl``).

The options of ``equilibrium`` and ``reproduce`` are generated from the
documented dataclasses of ``recgym.experiments.config``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from agents.rl.cli import add_train_parser
from recgym.experiments.config import (
    EXPERIMENTS,
    EquilibriumConfig,
    add_arguments,
    from_namespace,
)

#: Errors reported as ``recgym: error: ...`` with exit status 1 (bad data, missing extras).
RUNTIME_ERRORS = (ValueError, ImportError, FileNotFoundError)


def _equilibrium(args: argparse.Namespace) -> int:
    from recgym.experiments.equilibrium import format_report, run_equilibrium

    config = _config(args, EquilibriumConfig)
    print(format_report(run_equilibrium(config), config))
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from recgym.experiments.sweep import run_sweep

    config = _config(args, EXPERIMENTS[args.experiment])
    try:
        summary = run_sweep(config)
    except KeyboardInterrupt:
        print(f"recgym: interrupted; the finished runs are saved in {config.out}: run the "
              "same command again to resume", file=sys.stderr)
        return 130
    print(f"{summary.n_runs} runs in {summary.results} ({summary.n_computed} computed now, "
          f"{summary.n_runs - summary.n_computed} already there) in {summary.seconds:.1f} s")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from recgym.experiments.compare import compare_runs, format_comparison
    from recgym.experiments.results import read_results

    published = read_results(args.published)
    comparison = compare_runs(read_results(args.results), published, args.rtol, args.atol)
    print(format_comparison(comparison, None if args.limit == 0 else args.limit))
    return 0 if comparison.ok else 1


def _plot(args: argparse.Namespace) -> int:
    from recgym.experiments.plots import save_figures
    from recgym.experiments.results import read_results
    from recgym.experiments.sweep import compute_user_distributions, read_user_distributions

    source = Path(args.results)
    frame = read_results(source)
    fig_dir = args.fig_dir or (source / "figures" if source.is_dir() else
                               source.parent / "figures")
    users = read_user_distributions(source) if source.is_dir() else None
    if users is None:  # e.g. a published file: load the users the figures need
        dims = {name: args.dim or int(part["dim"].min())
                for name, part in frame.groupby("dataset")}
        users, notes = compute_user_distributions(frame, dims, args.data)
        for note in notes:
            print(f"recgym: {note}; skipping its figures that need the users",
                  file=sys.stderr)
    paths = save_figures(frame, users, fig_dir, args.dim, args.n_producers, args.seed,
                         args.dpi)
    for path in paths:
        print(path)
    return 0


def _config(args: argparse.Namespace, config_class: type) -> object:
    """Build the config, turning its validation errors into usage errors (exit 2)."""
    try:
        return from_namespace(config_class, args)
    except ValueError as exc:
        args.parser.error(str(exc))


def build_parser() -> argparse.ArgumentParser:
    """The ``recgym`` argument parser with its five sub-commands."""
    parser = argparse.ArgumentParser(
        prog="recgym", description="Strategic content producers in engagement-driven "
        "recommender systems: the paper's dynamics, experiments and figures. "
        "`recgym COMMAND --help` lists each command's options.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Callable[[argparse.Namespace], int], text: str,
                parent: argparse._SubParsersAction = commands) -> argparse.ArgumentParser:
        sub = parent.add_parser(name, help=text, description=text)
        sub.set_defaults(handler=handler, parser=sub)
        return sub

    add_arguments(command("equilibrium", _equilibrium,
                          "Run the paper's best-response dynamics once and report the "
                          "equilibrium."), EquilibriumConfig)

    reproduce = command("reproduce", _reproduce, "Run the paper's experiments; resumable.")
    experiments = reproduce.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT")
    for name, config_class in EXPERIMENTS.items():
        add_arguments(command(name, _reproduce, config_class.__doc__.splitlines()[0],
                              experiments), config_class)

    compare = command("compare", _compare, "Compare a sweep's runs with the published runs.")
    compare.add_argument("results", metavar="DIR", help="Sweep folder or results file.")
    compare.add_argument("--published", required=True, metavar="FILE",
                         help="Published results, e.g. ../shared/paper/exp1_iterations.csv.gz")
    compare.add_argument("--rtol", type=float, default=1e-9,
                         help="Relative tolerance on utilities (default: 1e-9).")
    compare.add_argument("--atol", type=float, default=0.0,
                         help="Absolute tolerance on utilities (default: 0).")
    compare.add_argument("--limit", type=int, default=50,
                         help="List at most this many differing runs; 0 lists all "
                              "(default: 50).")

    plot = command("plot", _plot, "Draw the paper's figures from a sweep.")
    plot.add_argument("results", metavar="DIR", help="Sweep folder or results file.")
    plot.add_argument("--data", metavar="PATH", help="Real rating data, to load the users "
                      "of results that come without user_distributions.csv (e.g. a "
                      "published file).")
    plot.add_argument("--fig-dir", metavar="DIR",
                      help="Where the PNGs go (default: DIR/figures).")
    plot.add_argument("--dim", type=int, help="Dimension of the distribution and temperature "
                      "figures (default: the smallest).")
    plot.add_argument("--n-producers", type=int, help="Producers of the distribution figure "
                      "(default: the largest).")
    plot.add_argument("--seed", type=int, help="Embedding seed of the distribution figure "
                      "(default: the smallest).")
    plot.add_argument("--dpi", type=int, default=80, help="Resolution (default: 80).")

    add_train_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``recgym`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except RUNTIME_ERRORS as exc:
        print(f"recgym: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
