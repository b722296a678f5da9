"""``recgym information``: demand shared under differential privacy, over runs and sizes.

One task per (embedding seed, dimension, number of producers, run): the run seeds
both the release's noise (``numpy.random.default_rng(run)``, for simulation) and the
dynamics (``RandomState(run)``); the task writes one row per private release (each
``--epsilons`` value) and one per baseline (``full``, ``exact``, ``none``), as
``recgym.information.evaluate`` computes them. Rows go to ``DIR/runs.csv`` (or
``runs.parquet``) as tasks finish, with columns ``dataset, embedding_seed, dim,
n_producers, setting, epsilon, run, converged, counts, user_welfare,
producer_welfare, nash_conv, nash_conv_certified, tv_to_full_information``; the
sweep runs and resumes like ``recgym reproduce`` (``recgym.experiments.runner``).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from recgym import information
from recgym._validation import check_choice, check_float, check_ints
from recgym.datasets.catalog import DATASET_NAMES
from recgym.experiments.config import ProducerOptions, ResumableSweep
from recgym.experiments.runner import SweepResult, Task, TaskSweep, run_tasks
from recgym.experiments.tasks import ColumnKinds, fit_users_first, key_of
from recgym.options import MAX_SEED, option, parse_runs
from recgym.payoffs import PAYOFFS
from recgym.rules import RULES, make_rule

KEY_NAMES = ("dataset", "embedding_seed", "dim", "n_producers", "setting", "epsilon", "run")
SCHEMA = {"dataset": "text", "embedding_seed": "int", "dim": "int", "n_producers": "int",
          "setting": "text", "epsilon": "number_or_missing", "run": "int", "converged": "bool",
          "counts": "counts", "user_welfare": "float", "producer_welfare": "float",
          "nash_conv": "float", "nash_conv_certified": "bool", "tv_to_full_information": "float"}

__all__ = ["InformationConfig", "format_summary", "run_information"]


@dataclass(frozen=True)
class InformationConfig(ResumableSweep, ProducerOptions):
    """Demand shared under differential privacy (``recgym information``)."""

    dataset: str = option("movielens-100k", f"User data: {', '.join(DATASET_NAMES)}.")
    seeds: tuple[int, ...] = option((17,), "Embedding seeds of the user data.")
    dims: tuple[int, ...] = option((10,), "Embedding dimensions d.")
    producers: tuple[int, ...] = option((10,), "Numbers of producers n.")
    rule: str = option("softmax", "Serving rule (spec string: " + ", ".join(RULES.names)
                       + ").", metavar="RULE")
    payoff: str = option("engagement", "Producer payoff: " + ", ".join(PAYOFFS.names) + ".")
    epsilons: tuple[float, ...] = option((0.01, 0.1, 1.0, 10.0, math.inf),
                                         "Privacy parameters (> 0; inf: the exact numbers).")
    kind: str = option("feature-demand", "What is released: feature-demand or "
                       "type-histogram (over the basis vectors).")
    runs: tuple[int, ...] = option(tuple(range(1, 21)), "Runs, e.g. 1-20; run r seeds the "
                                   "noise and the dynamics.", parse=parse_runs, metavar="RUNS")
    max_iter: int = option(500, "Iteration budget of each dynamics run.")

    experiment = "information"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_ints("--runs", self.runs, 0, MAX_SEED)
        try:
            make_rule(self.rule)
        except ValueError as exc:
            raise ValueError(f"--rule: {exc}") from None
        check_choice("--payoff", self.payoff, PAYOFFS.names)
        if not self.epsilons:
            raise ValueError("--epsilons needs at least one value")
        for epsilon in self.epsilons:
            check_float("--epsilons", epsilon, 0.0, low_open=True, allow_inf=True)
        if len(set(self.epsilons)) != len(self.epsilons):
            raise ValueError(f"--epsilons must not repeat values, got {list(self.epsilons)}")
        check_choice("--kind", self.kind, tuple(k.replace("_", "-") for k in information.KINDS))
        check_ints("--max-iter", self.max_iter, 1)
        for n in self.producers:
            self.check_producers(n)

    def to_dict(self) -> dict[str, Any]:
        """All settings as JSON-ready values (epsilons as text: ``"inf"`` is not JSON); the
        producers' options only when set, so folders written before them resume."""
        values = {**super().to_dict(), "epsilons": [repr(float(e)) for e in self.epsilons]}
        if self.paper_producers:
            for f in dataclasses.fields(ProducerOptions):
                values.pop(f.name)
        return values


@dataclass(frozen=True)
class InformationTask:
    """The arguments of one task (picklable for worker processes)."""

    dataset: str
    data: str | None
    embedding_seed: int
    dim: int
    n_producers: int
    rule: str
    payoff: str
    epsilons: tuple[float, ...]
    kind: str
    run: int
    max_iter: int
    producers: tuple[tuple[str, Any], ...] = ()
    behavior: str = "best_response"


def _settings(epsilons: tuple[float, ...]) -> list[tuple[str, float]]:
    """``(setting, epsilon)`` of a task's rows, in ``information.evaluate``'s order."""
    return [("full", math.nan), ("exact", math.inf), ("none", math.nan),
            *(("private", float(e)) for e in epsilons)]


def run_information_task(task: InformationTask) -> list[dict]:
    """One task's rows (``recgym.information.evaluate`` for one run, plus the keys)."""
    from recgym.experiments.sweep import cached_users, published_name

    users = cached_users(task.dataset, task.dim, task.embedding_seed, task.data, False)
    frame = information.evaluate(users, task.n_producers, task.rule, task.epsilons,
                                 [task.run], task.kind.replace("-", "_"), payoff=task.payoff,
                                 max_iter=task.max_iter, behavior=task.behavior,
                                 **dict(task.producers))
    head = {"dataset": published_name(task.dataset), "embedding_seed": task.embedding_seed,
            "dim": task.dim, "n_producers": task.n_producers}
    return [{**head, **row} for row in frame.to_dict("records")]


def build_tasks(config: InformationConfig) -> list[Task]:
    """The sweep's tasks in order: seed, dim, producers, run."""
    from recgym.experiments.sweep import published_name

    data, name = config.data_path, published_name(config.dataset)
    settings = _settings(config.epsilons)
    tasks = []
    for seed, dim, n, run in itertools.product(config.seeds, config.dims, config.producers,
                                               config.runs):
        keys = tuple(key_of([name, seed, dim, n, setting, epsilon, run])
                     for setting, epsilon in settings)
        tasks.append(Task(keys, InformationTask(
            config.dataset, data, seed, dim, n, config.rule, config.payoff, config.epsilons,
            config.kind, run, config.max_iter,
            () if config.paper_producers else tuple(config.traits().items()),
            config.producer_behavior)))
    return tasks


def run_information(config: InformationConfig) -> SweepResult:
    """Run (or resume) the sweep ``config`` into ``config.out``."""
    return run_tasks(config, TaskSweep(build_tasks(config), ColumnKinds(SCHEMA, KEY_NAMES),
                                       run_information_task, fit_users_first(config.progress)))


def summary_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean over runs of welfare, regret and distance, per setting and epsilon."""
    columns = ["user_welfare", "producer_welfare", "nash_conv", "tv_to_full_information"]
    table = frame.groupby(["setting", "epsilon"], dropna=False, sort=False)[columns].mean()
    return table.reset_index()


def format_summary(result: SweepResult) -> str:
    """The printed summary: means over runs per setting and epsilon."""
    table = summary_table(result.frame)
    return "\n".join([f"{len(result.frame)} rows in {result.path} ({result.n_computed} "
                      f"computed now) in {result.seconds:.1f} s",
                      "means over runs (per user; nash_conv: regret in the true game):",
                      table.to_string(index=False, float_format=lambda x: f"{x:.5g}")])
