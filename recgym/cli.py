"""The ``recgym`` command.

Sub-commands
------------
``recgym equilibrium``
    One run of the paper's best-response dynamics: counts, iterations, producer
    and user utilities, NashConv (certified or not), producers vs users over
    features. Without options it runs on the built-in synthetic users.
``recgym reproduce exp1|exp2 --dataset NAME --out DIR``
    The paper's experiment loops, in parallel, resumable; one row per run in
    ``DIR/runs.csv`` (or ``runs.parquet``).
``recgym design --dataset NAME --rules SPEC... --scf SPEC... --out DIR``
    The platform's design search (``recgym.design``): candidates' equilibria
    judged by social choice functions, resumable, with a summary table.
``recgym information --dataset NAME --epsilons E... --out DIR``
    Demand shared under differential privacy (``recgym.information``), resumable.
``recgym coevolve --rule SPEC... --learner SPEC... --user-dynamics SPEC --epochs E --out DIR``
    The ecosystem over time (``recgym.coevolve``): producers respond, users change
    (``--user-dynamics``) and leave (``--user-outside-option``, ``--user-patience``),
    the platform serves by the true ratings (``--learner oracle``, the default) or
    learns its users from clicks (``--learner greedy ucb:alpha=0.5 ...``,
    ``--impressions``, ``--elicit``), epoch by epoch, one run per rule and learner from
    the same users and seed; a table every ``--every`` epochs, ``DIR/history.csv``
    (one row per rule, learner and epoch), ``DIR/coevolve.png`` and, with a learner
    other than the oracle, ``DIR/learning.png``; resumable.
``recgym compare DIR``
    How many runs match the paper's published ones exactly (shipped with recgym),
    and which do not.
``recgym plot DIR``
    The figures of a sweep (the paper's, the design search's or information
    sharing's), as PNGs in ``DIR/figures``; of a ``recgym coevolve`` folder, its
    ``coevolve.png`` (and ``learning.png``) again (in ``DIR``, or ``--fig-dir``).
``recgym download NAME``
    A real dataset's ratings file from its original source, checked.
Plug-in commands
    Other packages add commands through the entry-point group ``recgym.commands``
    (a function ``add(subparsers)``); recgym's own ``agents`` package adds
    ``recgym train`` (RL producers) this way, so ``recgym`` never imports it.

Options are generated from the documented dataclasses of the configs
(``recgym.options``). Heavy libraries load inside the command that needs them:
``recgym --help`` imports no pandas, matplotlib, torch, Stable-Baselines3 or Ray (the
tests check).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Container, Sequence
from importlib.metadata import entry_points, version
from pathlib import Path

from recgym._validation import check_folder
from recgym.datasets.download import NAMES as DOWNLOADABLE_NAMES
from recgym.datasets.download import sources_help
from recgym.experiments.config import EXPERIMENTS, EquilibriumConfig
from recgym.options import add_arguments, add_command, config_from_args

#: Errors reported as one line ``recgym: error: ...`` with exit status 1 (bad data,
#: missing extras, files that cannot be read or written).
RUNTIME_ERRORS = (ValueError, ImportError, OSError)
#: Entry-point group of plug-in sub-commands.
COMMANDS_GROUP = "recgym.commands"
#: Real datasets that ``recgym download`` fetches.


def _equilibrium(args: argparse.Namespace) -> int:
    from recgym.experiments.equilibrium import format_report, run_equilibrium

    config = config_from_args(EquilibriumConfig, args)
    print(format_report(run_equilibrium(config), config))
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from recgym.experiments.sweep import run_sweep

    config = config_from_args(EXPERIMENTS[args.experiment], args)

    def work() -> None:
        summary = run_sweep(config)
        print(f"{summary.n_runs} runs in {summary.results} ({summary.n_computed} computed "
              f"now, {summary.n_runs - summary.n_computed} already there) in "
              f"{summary.seconds:.1f} s")

    return _interruptible(config.out, work)


def _design(args: argparse.Namespace) -> int:
    from recgym.experiments.design_sweep import DesignConfig, format_summary, run_design

    config = config_from_args(DesignConfig, args)
    return _interruptible(config.out, lambda: print(format_summary(run_design(config), config)))


def _information(args: argparse.Namespace) -> int:
    from recgym.experiments.information_sweep import (
        InformationConfig,
        format_summary,
        run_information,
    )

    config = config_from_args(InformationConfig, args)
    return _interruptible(config.out, lambda: print(format_summary(run_information(config))))


def _coevolve(args: argparse.Namespace) -> int:
    from recgym.experiments.coevolve_run import CoevolveConfig, format_summary, run_coevolve

    config = config_from_args(CoevolveConfig, args)
    return _interruptible(config.out, lambda: print(format_summary(run_coevolve(config))))


def _interruptible(out: str, work: Callable[[], None]) -> int:
    """Run a resumable sweep; Ctrl-C and SIGTERM exit 130 and 143 with a one-line note."""
    try:
        work()
    except KeyboardInterrupt as stop:
        print(f"recgym: interrupted; the finished runs are saved in {out}: run the same "
              "command again to resume", file=sys.stderr)
        return 128 + int(getattr(stop, "signum", 2))  # 130 for Ctrl-C, 143 for SIGTERM
    return 0


def _compare(args: argparse.Namespace) -> int:
    from recgym.experiments.compare import compare_runs, format_comparison
    from recgym.experiments.results import read_results
    from recgym.published import published_path

    _check_rtol(args)
    if args.limit < 0:
        args.parser.error(f"--limit must be an integer >= 0 (0 lists all), got {args.limit}")
    source = _existing(args.results, "DIR", "a sweep folder or results file")
    results = _results(read_results(source), source)
    if args.published is None:
        published = published_path("exp1" if "run" in results.columns else "exp2")
    else:
        published = _existing(args.published, "--published", "a published results file")
    comparison = compare_runs(results, read_results(published), args.rtol, args.atol)
    print(format_comparison(comparison, None if args.limit == 0 else args.limit))
    return 0 if comparison.ok else 1


def _plot(args: argparse.Namespace) -> int:
    from recgym.experiments.plots import save_figures
    from recgym.experiments.results import read_results
    from recgym.experiments.sweep import compute_user_distributions, read_user_distributions

    if args.dpi < 1:
        args.parser.error(f"--dpi must be an integer >= 1, got {args.dpi}")
    source = _existing(args.results, "DIR", "a sweep folder or results file")
    coevolve_folder = _coevolve_folder(source)
    if coevolve_folder is not None:
        return _plot_coevolve(args, coevolve_folder)
    settings = _settings_of(source)
    frame = read_results(source)
    if settings.get("experiment") not in ("design", "information"):
        frame = _results(frame, source)
    if args.fig_dir is not None:
        fig_dir = Path(args.fig_dir)
    elif source.is_dir():
        fig_dir = source / "figures"
    else:
        raise ValueError(f"DIR {source} is a file: pass --fig-dir to say where the figures go")
    check_folder("--fig-dir", fig_dir)
    if settings.get("experiment") in ("design", "information"):
        from recgym.experiments.design_plots import save_design_figures, save_information_figures

        paths = (save_design_figures(frame, _scf_names(settings["scf"]), fig_dir, args.dpi)
                 if settings["experiment"] == "design" else
                 save_information_figures(frame, fig_dir, args.dpi))
        for path in paths:
            print(path)
        return 0
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


def _coevolve_folder(source: Path) -> Path | None:
    """The ``recgym coevolve`` folder ``source`` is (or whose ``history.csv`` it is)."""
    from recgym.experiments.coevolve_run import HISTORY_FILE, is_coevolve_folder

    folder = source.parent if source.is_file() and source.name == HISTORY_FILE else source
    return folder if is_coevolve_folder(folder) else None


def _plot_coevolve(args: argparse.Namespace, folder: Path) -> int:
    """``recgym plot`` of a ``recgym coevolve`` folder: its ``coevolve.png`` (and
    ``learning.png``) again."""
    from recgym.experiments.coevolve_run import draw_folder

    given = [flag for flag, value in (("--data", args.data), ("--dim", args.dim),
                                      ("--n-producers", args.n_producers),
                                      ("--seed", args.seed)) if value is not None]
    if given:
        args.parser.error(f"{', '.join(given)}: only for the paper's figures, not for the "
                          f"recgym coevolve folder {folder}")
    fig_dir = folder if args.fig_dir is None else check_folder("--fig-dir", args.fig_dir)
    fig_dir.mkdir(parents=True, exist_ok=True)
    for path in draw_folder(folder, fig_dir, args.dpi):
        print(path)
    return 0


def _results(frame: object, source: Path) -> object:
    """``frame`` if it has the columns of the paper's per-run results; else ``ValueError``."""
    from recgym.experiments.results import KEY_COLUMNS, UTILITY_COLUMNS

    needed = [c for c in (*KEY_COLUMNS, "converged", "iterations", "counts", *UTILITY_COLUMNS)
              if c != "run"]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"{source} is not a results file of recgym reproduce (it lacks "
                         f"{', '.join(missing)}); give a sweep folder or its runs.csv")
    return frame


def _settings_of(source: Path) -> dict:
    """The ``config.json`` of a result folder (``{}`` for a file or a folder without one)."""
    from recgym.experiments.folders import CONFIG_FILE, read_config

    return (read_config(source / CONFIG_FILE) or {}) if source.is_dir() else {}


def _scf_names(specs: list[str]) -> list[str]:
    from recgym import welfare

    return [welfare.name_of(welfare.parse(spec)) for spec in specs]


def _download(args: argparse.Namespace) -> int:
    from recgym.datasets.download import download_command

    return download_command(args.name, args.data, args.progress, force=args.force)


def _existing(path: str, flag: str, what: str) -> Path:
    """``path`` as a ``Path`` if it exists; ``FileNotFoundError`` naming ``flag`` otherwise."""
    found = Path(path)
    if not found.exists():
        raise FileNotFoundError(f"{flag} {path}: no such file or folder (expected {what})")
    return found


def _check_rtol(args: argparse.Namespace) -> None:
    for flag, value in (("--rtol", args.rtol), ("--atol", args.atol)):
        if not value >= 0:  # also refuses NaN
            args.parser.error(f"{flag} must be a number >= 0, got {value!r}")


def build_parser(options_of: Container[str] | None = None) -> argparse.ArgumentParser:
    """The ``recgym`` argument parser with its sub-commands (plug-ins included).

    ``options_of`` names the commands whose options come from the sweep modules
    (``design``, ``information``, ``coevolve``; they load pandas); ``None``: every
    command's. ``main`` names only the command it runs, so ``recgym --help`` loads none.
    """
    parser = argparse.ArgumentParser(
        prog="recgym", description="Strategic content producers in engagement-driven "
        "recommender systems: equilibria, the paper's dynamics, experiments and figures. "
        "`recgym COMMAND --help` lists each command's options.")
    parser.add_argument("--version", action="version", version=f"recgym {version('recgym')}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, handler: Callable[[argparse.Namespace], int], text: str,
                parent: argparse._SubParsersAction = commands) -> argparse.ArgumentParser:
        return add_command(parent, name, handler, text)

    add_arguments(command("equilibrium", _equilibrium,
                          "Run the paper's best-response dynamics once and report the "
                          "equilibrium."), EquilibriumConfig)

    reproduce = command("reproduce", _reproduce, "Run the paper's experiments; resumable.")
    experiments = reproduce.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT")
    for name, config_class in EXPERIMENTS.items():
        add_arguments(command(name, _reproduce, config_class.__doc__.splitlines()[0],
                              experiments), config_class)

    design = command("design", _design, "The platform's design search: serving rules, "
                     "floors and payoffs compared by social choice functions at their "
                     "equilibria; resumable.")
    if options_of is None or "design" in options_of:
        from recgym.experiments.design_sweep import DesignConfig

        add_arguments(design, DesignConfig)
    information = command("information", _information, "Demand shared with producers under "
                          "differential privacy: welfare and regret against epsilon, next to "
                          "full, exact and no information; resumable.")
    if options_of is None or "information" in options_of:
        from recgym.experiments.information_sweep import InformationConfig

        add_arguments(information, InformationConfig)

    coevolve = command("coevolve", _coevolve, "The ecosystem over time: producers respond, "
                       "users change and leave, the platform serves by the true ratings or "
                       "learns its users from clicks, epoch by epoch; one run per serving "
                       "rule and learner, drawn side by side; resumable.")
    if options_of is None or "coevolve" in options_of:
        from recgym.experiments.coevolve_run import CoevolveConfig

        add_arguments(coevolve, CoevolveConfig)

    compare = command("compare", _compare, "Compare a sweep's runs with the paper's published "
                      "runs (shipped with recgym).")
    compare.add_argument("results", metavar="DIR", help="Sweep folder or results file.")
    compare.add_argument("--published", metavar="FILE",
                         help="Published results to compare with (default: the paper's, "
                              "experiment 1 or 2 by the results' columns).")
    compare.add_argument("--rtol", type=float, default=1e-9,
                         help="Relative tolerance on utilities (default: 1e-9).")
    compare.add_argument("--atol", type=float, default=0.0,
                         help="Absolute tolerance on utilities (default: 0).")
    compare.add_argument("--limit", type=int, default=50,
                         help="List at most this many differing runs; 0 lists all "
                              "(default: 50).")

    plot = command("plot", _plot, "Draw the figures of a sweep (the paper's, design, "
                   "information) or of a recgym coevolve folder.")
    plot.add_argument("results", metavar="DIR", help="Sweep folder or results file, or a "
                      "recgym coevolve folder (its coevolve.png and learning.png are "
                      "drawn again).")
    plot.add_argument("--data", metavar="PATH", help="Real rating data, to load the users "
                      "of results that come without user_distributions.csv (e.g. a "
                      "published file).")
    plot.add_argument("--fig-dir", metavar="DIR",
                      help="Where the PNGs go (default: DIR/figures, DIR for a recgym "
                      "coevolve folder; required for a file).")
    plot.add_argument("--dim", type=int, help="Dimension of the distribution and temperature "
                      "figures (default: the smallest).")
    plot.add_argument("--n-producers", type=int, help="Producers of the distribution figure "
                      "(default: the largest).")
    plot.add_argument("--seed", type=int, help="Embedding seed of the distribution figure "
                      "(default: the smallest).")
    plot.add_argument("--dpi", type=int, default=80, help="Resolution (default: 80).")

    download = command("download", _download, "Download a real dataset's ratings file from "
                       "its original source and check its sha256 (`recgym download --help` "
                       "names the sources).")
    download.add_argument("name", choices=DOWNLOADABLE_NAMES, metavar="NAME",
                          help=f"Dataset: {', '.join(DOWNLOADABLE_NAMES)}.")
    download.add_argument("--data", metavar="DIR", help="Data folder to write into (default: "
                          "$RECGYM_DATA, else ~/.local/share/recgym); the loaders look there.")
    download.add_argument("--force", action="store_true",
                          help="Download again even if the file is already there.")
    download.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                          help="Show the download's progress on stderr (default: on).")
    download.formatter_class = argparse.RawDescriptionHelpFormatter
    download.epilog = sources_help()

    for plugin in entry_points(group=COMMANDS_GROUP):
        plugin.load()(commands)
    return parser


def _one_line_warning(message: Warning | str, category: type[Warning], *_: object) -> None:
    print(f"recgym: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``recgym`` console script; returns the exit status.

    Errors of the user's making are one line ``recgym: error: ...`` (exit 1) or a usage
    error (exit 2); warnings are one line ``recgym: warning: ...``.
    """
    warnings.showwarning = _one_line_warning
    argv = sys.argv[1:] if argv is None else list(argv)
    command = next((a for a in argv if not a.startswith("-")), None)  # none before it
    args = build_parser(options_of={command}).parse_args(argv)
    try:
        return args.handler(args)
    except RUNTIME_ERRORS as exc:
        print(f"recgym: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
