"""``recgym design``: the platform's design search over datasets, sizes and candidates.

One task per (embedding seed, dimension, number of producers, candidate): it loads
the users, runs the paper's dynamics from every run's ``RandomState(run)`` and
evaluates each end point (``recgym.design.evaluate_candidate``): every requested
SCF, NashConv over the strategy set (per user), producers retained. Where
``--price-of-anarchy`` is on, the task also records ``opt``: the best value of the
first SCF found by a central planner (``recgym.design.price_of_anarchy``), so the
summary and the plots can give the price of anarchy against it.

Rows go to ``DIR/runs.csv`` (or ``runs.parquet``) as tasks finish, with columns
``dataset, embedding_seed, dim, n_producers, rule, temperature, k, floor, payoff,
run, converged, iterations, counts, producers_retained, exited_outside_option``,
one column per SCF (its spec string), ``nash_conv``, ``nash_conv_certified`` and
``opt``; the sweep runs and resumes like ``recgym reproduce``
(``recgym.experiments.runner``).

**The long run** (E7): with ``--epochs N`` (N >= 1) or users who change or leave
(``--user-dynamics``, ``--user-outside-option``, ``--user-patience``; then
``--epochs`` defaults to 50), every run is simulated by the epoch engine
(``recgym.design``, module docstring) with ``--moves-per-epoch`` iterations of the
producers' dynamics per epoch (default ``--max-iter``: they settle before the users
move). Each SCF's column is then its value averaged over the epochs (the ranking
column), and ``<scf>@last`` per SCF, ``retention`` and ``homogenization`` (last
epoch) follow the SCF columns; NashConv is taken at the final profile in the last
epoch's game, and the planner's search (``opt``) is skipped (left empty: it is of
today's game). The five settings are recorded in ``config.json`` only in the long-run
mode, so today's folders and files stay as they were, and a folder is resumed only
with the same users' settings.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recgym import design, welfare
from recgym._validation import check_choice, check_float, check_ints
from recgym.datasets.catalog import DATASET_NAMES
from recgym.experiments.config import ProducerOptions, ResumableSweep
from recgym.experiments.runner import SweepResult, Task, TaskSweep, run_tasks
from recgym.experiments.tasks import ColumnKinds, fit_users_first, key_of
from recgym.options import MAX_SEED, option, parse_runs
from recgym.payoffs import PAYOFFS
from recgym.rules import RULES, make_rule
from recgym.user_dynamics import USER_DYNAMICS

KEY_NAMES = ("dataset", "embedding_seed", "dim", "n_producers", *design.candidate_columns(),
             "run")

__all__ = ["DesignConfig", "format_summary", "run_design"]

#: The long-run mode's fields, recorded in ``config.json`` only when it is on.
#: The producers' options (``ProducerOptions``), in ``config.json`` only when set.
PRODUCER_FIELDS = ("skill", "cost", "cost_exponent", "producer_behavior")
LONG_RUN_FIELDS = ("user_dynamics", "user_outside_option", "user_patience", "epochs",
                   "moves_per_epoch")
#: Parameter names in ``recgym.design.long_run``'s messages, and their flags.
_FLAGGED = re.compile(r"\b(" + "|".join((*LONG_RUN_FIELDS, "max_iter")) + r")\b")


def _flagged(message: str) -> str:
    """``message`` with the long-run parameters named by their flags."""
    return _FLAGGED.sub(lambda m: "--" + m.group(1).replace("_", "-"), message)


def _scf_list(specs: tuple[str, ...] | None) -> tuple[str, ...]:
    return ("user_welfare",) if not specs else specs


@dataclass(frozen=True)
class DesignConfig(ResumableSweep, ProducerOptions):
    """The platform's design search (``recgym design``)."""

    dataset: str = option("movielens-100k", f"User data: {', '.join(DATASET_NAMES)}.")
    seeds: tuple[int, ...] = option((17,), "Embedding seeds of the user data.")
    dims: tuple[int, ...] = option((10,), "Embedding dimensions d.")
    producers: tuple[int, ...] = option((10,), "Numbers of producers n.")
    rules: tuple[str, ...] = option(
        ("softmax:temperature=0.01..100x25", "linear"),
        "Serving rules as spec strings (" + ", ".join(RULES.names) + "); a parameter may be a "
        "log grid low..highxN, e.g. softmax:temperature=0.01..100x25.", metavar="RULE")
    floors: tuple[float, ...] = option((0.0,), "Exposure floors applied to every rule.")
    payoffs: tuple[str, ...] = option(("engagement",), "Producer payoffs: "
                                      + ", ".join(PAYOFFS.names) + ".", metavar="PAYOFF")
    scf: tuple[str, ...] | None = option(None, "Social choice functions as spec strings "
                                         "(repeatable; default user_welfare), e.g. --scf "
                                         "user_welfare --scf producer_min --scf "
                                         "utilitarian:lam=0.5.", metavar="SCF", extend=True)
    runs: tuple[int, ...] = option(tuple(range(1, 11)), "Runs, e.g. 1-10; run r seeds the "
                                   "dynamics with RandomState(r).", parse=parse_runs,
                                   metavar="RUNS")
    outside_option: float = option(0.0, "Producers' outside option per user (they may leave).")
    max_iter: int = option(500, "Iteration budget of each dynamics run.")
    nash_conv: bool = option(True, "Compute NashConv over the strategy set at each end point.")
    price_of_anarchy: bool = option(True, "Record the planner's best value of the first SCF "
                                    "per candidate (the price of anarchy's numerator; "
                                    "today's mode with the paper's producers only).")
    user_dynamics: str = option("static", "Long run: how users change after each epoch ("
                                + ", ".join(USER_DYNAMICS.names) + "), e.g. exposure:rate=0.3.",
                                metavar="MODEL")
    user_outside_option: float = option(0.0, "Long run: a user served below this utility "
                                        "in --user-patience epochs in a row leaves.")
    user_patience: int = option(1, "Long run: epochs in a row below --user-outside-option "
                                "after which a user leaves.")
    epochs: int | None = option(None, "Epochs of the long run, each SCF ranked by its mean "
                                "over them (default 0: today's mode, the dynamics to their "
                                f"end; {design.DEFAULT_EPOCHS} with users who change or "
                                "leave).")
    moves_per_epoch: int | None = option(None, "Long run: iterations of the producers' "
                                         "dynamics per epoch (default: --max-iter, they "
                                         "settle before the users move).")

    experiment = "design"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_ints("--runs", self.runs, 0, MAX_SEED)
        for floor in self.floors:
            check_float("--floors", floor, 0.0, 1.0)
        if len(set(self.floors)) != len(self.floors):
            raise ValueError(f"--floors must not repeat values, got {list(self.floors)}")
        for payoff in self.payoffs:
            check_choice("--payoffs", payoff, PAYOFFS.names)
        check_float("--outside-option", self.outside_option, 0.0)
        check_ints("--max-iter", self.max_iter, 1)
        try:
            names = [welfare.name_of(welfare.parse(s)) for s in self.scfs]
        except ValueError as exc:
            raise ValueError(f"--scf: {exc}") from None
        if len(set(names)) != len(names):
            raise ValueError(f"--scf must not repeat, got {names}")
        self.candidates()  # validates --rules with --floors and --payoffs
        self.long_run()  # validates the long-run flags
        for n in self.producers:
            self.check_producers(n)

    def long_run(self) -> design.LongRun | None:
        """The long-run settings (``recgym.design.long_run``), ``None`` in today's mode.

        Raises
        ------
        ValueError
            Naming the flag at fault.
        """
        try:
            return design.long_run(self.user_dynamics, self.user_outside_option,
                                   self.user_patience, self.epochs, self.moves_per_epoch,
                                   self.max_iter)
        except (TypeError, ValueError) as exc:
            raise ValueError(_flagged(str(exc))) from None

    @property
    def scfs(self) -> tuple[str, ...]:
        """The SCF specs (``user_welfare`` when none is given)."""
        return _scf_list(self.scf)

    def candidates(self) -> list[design.Candidate]:
        """Every rule of ``--rules`` (grids expanded) with every floor and payoff."""
        found = []
        for spec in self.rules:
            try:
                expanded = design.expand_grid(spec)
                for rule in expanded:
                    for floor in self.floors:
                        serving = make_rule(rule, floor=floor if floor else None)
                        found += [design.Candidate(serving, p) for p in self.payoffs]
            except ValueError as exc:
                raise ValueError(f"--rules {spec}: {exc}") from None
        counts = Counter((c.serving, c.reward) for c in found)  # exact parameters
        repeated = sorted({c.label for c in found if counts[c.serving, c.reward] > 1})
        if repeated:
            raise ValueError(f"--rules gives the same candidate twice: {', '.join(repeated)} "
                             "(a grid point given again, or a repeated floor)")
        return found

    def to_dict(self) -> dict[str, Any]:
        """All settings as JSON-ready values (the SCFs as used), ``experiment`` first; the
        long-run settings as used (``LongRun.settings``) only when the mode is on, so that
        today's ``config.json`` is unchanged and folders written before them resume."""
        values = {**super().to_dict(), "scf": list(self.scfs)}
        for name in LONG_RUN_FIELDS:
            values.pop(name)
        if self.paper_producers:  # folders written before these options resume
            for name in PRODUCER_FIELDS:
                values.pop(name)
        setting = self.long_run()
        if setting is not None:
            values.update(setting.settings())
        return values

    def schema(self) -> dict[str, str]:
        """Every column of the results and its kind (``recgym.experiments.tasks.KINDS``)."""
        columns = {"dataset": "text", "embedding_seed": "int", "dim": "int",
                   "n_producers": "int", "rule": "text"}
        columns.update({name: "float_or_missing" for name in design.PARAM_COLUMNS})
        columns.update(payoff="text", run="int", converged="bool", iterations="int",
                       counts="counts", producers_retained="int",
                       exited_outside_option="float")
        names = [welfare.name_of(welfare.parse(s)) for s in self.scfs]
        columns.update(dict.fromkeys(names, "number"))
        if self.long_run() is not None:
            columns.update({name + design.LAST: "number" for name in names})
            columns.update(dict.fromkeys(design.LONG_RUN_COLUMNS, "float"))
        columns.update(nash_conv="float_or_missing", nash_conv_certified="bool",
                       opt="float_or_missing")
        return columns


@dataclass(frozen=True)
class DesignTask:
    """The arguments of one design task (picklable for worker processes)."""

    dataset: str
    data: str | None
    embedding_seed: int
    dim: int
    n_producers: int
    candidate: design.Candidate
    scfs: tuple[str, ...]
    runs: tuple[int, ...]
    outside_option: float
    max_iter: int
    nash_conv: bool
    price_of_anarchy: bool
    long_run: design.LongRun | None = None
    producers: tuple[tuple[str, Any], ...] = ()
    behavior: str = "best_response"


def run_design_task(task: DesignTask) -> list[dict]:
    """One task's rows (``recgym.design.evaluate_candidate`` plus the sweep's keys)."""
    from recgym.experiments.sweep import cached_users, published_name

    users = cached_users(task.dataset, task.dim, task.embedding_seed, task.data, False)
    scfs = [welfare.parse(s) for s in task.scfs]
    rows = design.evaluate_candidate(users, task.n_producers, task.candidate, scfs, task.runs,
                                     outside_option=task.outside_option,
                                     max_iter=task.max_iter, nash_conv=task.nash_conv,
                                     long_run=task.long_run, producers=dict(task.producers),
                                     behavior=task.behavior)
    opt = math.nan
    paper = not task.producers and task.behavior == "best_response"
    if task.price_of_anarchy and paper and task.long_run is None and \
            any(r["converged"] for r in rows):
        opt = design.price_of_anarchy(users, task.n_producers, task.candidate, scfs[0],
                                      task.runs, outside_option=task.outside_option,
                                      max_iter=task.max_iter).opt
    head = {"dataset": published_name(task.dataset), "embedding_seed": task.embedding_seed,
            "dim": task.dim, "n_producers": task.n_producers}
    for row in rows:
        row.setdefault("nash_conv", math.nan)
        row.setdefault("nash_conv_certified", False)
        row["opt"] = opt
    return [{**head, **row} for row in rows]


def build_tasks(config: DesignConfig) -> list[Task]:
    """The sweep's tasks in order: seed, dim, producers, candidate."""
    from recgym.experiments.sweep import published_name

    data, name = config.data_path, published_name(config.dataset)
    setting = config.long_run()
    candidates = [(candidate, tuple(candidate.columns().values()))
                  for candidate in config.candidates()]
    tasks = []
    for seed, dim, n in itertools.product(config.seeds, config.dims, config.producers):
        for candidate, columns in candidates:
            keys = tuple(key_of([name, seed, dim, n, *columns, run]) for run in config.runs)
            tasks.append(Task(keys, DesignTask(
                config.dataset, data, seed, dim, n, candidate, config.scfs, config.runs,
                config.outside_option, config.max_iter, config.nash_conv,
                config.price_of_anarchy, setting,
                () if config.paper_producers else tuple(config.traits().items()),
                config.producer_behavior)))
    return tasks


def run_design(config: DesignConfig) -> SweepResult:
    """Run (or resume) the design sweep ``config`` into ``config.out``."""
    return run_tasks(config, TaskSweep(build_tasks(config),
                                       ColumnKinds(config.schema(), KEY_NAMES),
                                       run_design_task, fit_users_first(config.progress)))


#: The summary's group: one block of candidates per user matrix and game size.
SUMMARY_GROUP = ["dataset", "embedding_seed", "dim", "n_producers"]


def summary_table(frame: pd.DataFrame, scfs: list[str]) -> pd.DataFrame:
    """Per (seed, dim, n) and SCF: the best candidate by its worst equilibrium, with that
    value and the price of anarchy against the planner's best found (first SCF only).
    Long-run rows (``recgym.design.is_long_run``): ``long_run_table``."""
    if design.is_long_run(frame):
        return long_run_table(frame, scfs)
    summary = design.summarize(frame, scfs)
    rows = []
    for head, scf, best in _best_candidates(summary, scfs):
        worst = float(best[f"{scf}_worst"])
        opt = float(best["opt"]) if scf == scfs[0] and "opt" in best else math.nan
        rows.append({**head, "scf": scf, "best candidate": _label(best),
                     "worst equilibrium": worst, "best equilibrium": float(
                         best[f"{scf}_best"]), "planner (best found)": opt,
                     "price of anarchy": opt / worst if worst > 0 and
                     np.isfinite(opt) else math.nan})
    return pd.DataFrame(rows)


def long_run_table(frame: pd.DataFrame, scfs: list[str]) -> pd.DataFrame:
    """Per (seed, dim, n) and SCF of long-run rows: the best candidate by its worst run's
    SCF averaged over the epochs, that value and the best run's, the SCF at the last
    epoch (worst run), and the mean retention and homogenization at the last epoch."""
    last = [scf + design.LAST for scf in scfs]
    summary = design.summarize(frame, [*scfs, *last, *design.LONG_RUN_COLUMNS])
    rows = []
    for head, scf, best in _best_candidates(summary, scfs):
        rows.append({**head, "scf": scf, "best candidate": _label(best),
                     "worst run (mean over epochs)": float(best[f"{scf}_worst"]),
                     "best run (mean over epochs)": float(best[f"{scf}_best"]),
                     "last epoch (worst run)": float(best[f"{scf}{design.LAST}_worst"]),
                     "retention": float(best["retention_mean"]),
                     "homogenization": float(best["homogenization_mean"])})
    return pd.DataFrame(rows)


def _best_candidates(summary: pd.DataFrame, scfs: list[str]
                     ) -> list[tuple[dict[str, object], str, pd.Series]]:
    """``(group keys, scf, summary row)``: per group and SCF, the candidate with the
    highest ``<scf>_worst`` (groups where no run converged are left out)."""
    found = []
    for values, part in summary.groupby(SUMMARY_GROUP, sort=False):
        head = dict(zip(SUMMARY_GROUP, values, strict=True))
        for scf in scfs:
            column = f"{scf}_worst"
            if part[column].notna().any():
                found.append((head, scf, part.loc[part[column].idxmax()]))
    return found


def _label(row: pd.Series) -> str:
    """The candidate label of a summary row."""
    return design.Candidate(_rule_of(row), row["payoff"]).label


def _rule_of(row: pd.Series) -> str:
    """The rule spec of a summary row (its family and the parameters it has)."""
    params = {name: row[name] for name in design.PARAM_COLUMNS
              if name in row and not pd.isna(row[name])}
    cls = RULES.get(row["rule"])
    declared = {p.name: p for p in cls.PARAMS}
    given = {k: (int(v) if declared[k].kind is int else float(v)) for k, v in params.items()
             if k in declared}
    return make_rule(row["rule"], **given).spec


def format_summary(result: SweepResult, config: DesignConfig) -> str:
    """The printed summary: per SCF the best candidate, its worst equilibrium and PoA."""
    scfs = [welfare.name_of(welfare.parse(s)) for s in config.scfs]
    table = summary_table(result.frame, scfs)
    lines = [f"{len(result.frame)} runs in {result.path} ({result.n_computed} computed now) "
             f"in {result.seconds:.1f} s"]
    if len(table):
        shown = table.drop(columns=["dataset"]).to_string(
            index=False, float_format=lambda x: f"{x:.5g}")
        lines += [_heading(config), shown]
    if config.long_run() is not None:
        lines.append("price of anarchy: not computed in the long-run mode (the planner's "
                     "optimum is of today's game)")
    return "\n".join(lines)


def _heading(config: DesignConfig) -> str:
    """The summary table's heading line."""
    setting = config.long_run()
    if setting is None:
        return "best candidate per SCF (by its worst equilibrium):"
    leaving = "" if setting.user_outside_option == 0.0 else \
        f", leaving below {setting.user_outside_option:g} for {setting.user_patience} epochs"
    return (f"best candidate per SCF after {setting.epochs} epochs of "
            f"{setting.user_dynamics.spec} users{leaving}, {setting.moves_per_epoch} moves "
            "per epoch (by its worst run's SCF averaged over the epochs):")
