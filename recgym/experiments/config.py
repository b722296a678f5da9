"""Settings of the paper's experiments, one documented frozen dataclass each.

Every field carries its help text in ``metadata["help"]``; ``add_arguments``
turns the fields of a config class into ``argparse`` options (``--field-name``),
so the command line and the documentation cannot drift apart (the CleanRL habit).
Validation happens in ``__post_init__`` and names the command-line option.

The grid (docs/model.md section 8): ``d in {5, 10, 15, 20}``,
``n in {2, 5, 10, 20, ..., 100}``, embedding seeds ``{13, 17, 19, 23, 29}``,
temperatures ``{0.01, 0.1, 1, 10, 100}`` plus linear serving.

* ``Exp1Config``: rules softmax ``T = 1`` and linear, embedding seed 17, runs
  ``1..40``; each ``(rule, run)`` is one chain whose ``RandomState(run)`` is shared by
  ``for d in dims: for n in producers``.
* ``Exp2Config``: every temperature and linear, every embedding seed; each
  ``(rule, temperature, seed)`` is one chain with ``RandomState(505)``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from recgym._validation import check_choice, check_float, check_ints
from recgym.datasets import require_data
from recgym.datasets.catalog import DATASET_NAMES, SYNTHETIC
from recgym.options import MAX_SEED, option, parse_runs, rule_from_flags
from recgym.registry import parse_spec
from recgym.rules import RULES, make_rule

#: The paper's grid (docs/model.md section 8).
PAPER_DIMS = (5, 10, 15, 20)
PAPER_PRODUCERS = (2, 5, *range(10, 101, 10))
PAPER_SEEDS = (13, 17, 19, 23, 29)
PAPER_TEMPERATURES = (0.01, 0.1, 1.0, 10.0, 100.0)
PAPER_RULES = ("linear", "softmax")
BACKENDS = ("local", "ray")
FORMATS = ("csv", "parquet")
#: Settings that do not change any result (where and how the sweep runs, where its
#: files are); a sweep may be resumed with other values of these.
NON_RESULT_FIELDS = frozenset({"out", "data", "jobs", "backend", "ray_address", "progress"})

__all__ = ["BACKENDS", "DATASET_NAMES", "EXPERIMENTS", "FORMATS", "NON_RESULT_FIELDS",
           "PAPER_DIMS", "PAPER_PRODUCERS", "PAPER_RULES", "PAPER_SEEDS", "PAPER_TEMPERATURES",
           "SYNTHETIC", "EquilibriumConfig", "Exp1Config", "Exp2Config", "ResumableSweep",
           "SweepConfig",
           "parse_runs", "rule_settings"]

RULES_HELP = ("Serving rules: registered names or spec strings (" + ", ".join(RULES.names)
              + "; e.g. topk:k=2 or softmax:floor=0.05). Rules with a temperature run at "
              "each of --temperatures unless their spec sets one.")


def rule_settings(rules: tuple[str, ...], temperatures: tuple[float, ...]
                  ) -> list[tuple[str, float | None]]:
    """``(rule spec without temperature, temperature or None)`` pairs, in loop order.

    A rule declaring a temperature runs at each of ``temperatures`` unless its spec
    sets one; rules without one get ``None``.

    Raises
    ------
    ValueError
        Unknown rules or parameters (naming ``--rules``), a repeated setting.
    """
    pairs: list[tuple[str, float | None]] = []
    for spec in rules:
        try:
            rule = make_rule(spec)
        except ValueError as exc:
            raise ValueError(f"--rules: {exc}") from None
        name, params = parse_spec(spec, "rule")
        if "temperature" not in rule.params():
            pairs.append((rule.spec, None))
            continue
        rest = ",".join(f"{k}={v}" for k, v in params.items() if k != "temperature")
        base = name + (":" + rest if rest else "")
        given = (rule.temperature,) if "temperature" in params else temperatures
        pairs.extend((base, float(t)) for t in given)
    if len(set(pairs)) != len(pairs):
        raise ValueError(f"--rules and --temperatures repeat a setting: {pairs}")
    return pairs


@dataclass(frozen=True)
class ResumableSweep:
    """What every resumable sweep has: its folder, its users, how it runs.

    ``recgym reproduce``, ``recgym design`` and ``recgym information`` extend it; the
    settings that change no result (``NON_RESULT_FIELDS``) may differ on resume.
    """

    out: str = option(None, "Output folder: results and config.json.", metavar="DIR")
    dataset: str = option("synth-uniform", f"User data: {', '.join(DATASET_NAMES)}.")
    data: str | None = option(None, "Folder or file with the real rating data (default: the "
                              "RECGYM_DATA environment variable; ignored for synthetic data).",
                              metavar="PATH")
    seeds: tuple[int, ...] = option(PAPER_SEEDS, "Embedding seeds of the user data.")
    dims: tuple[int, ...] = option(PAPER_DIMS, "Embedding dimensions d.")
    producers: tuple[int, ...] = option(PAPER_PRODUCERS, "Numbers of producers n.")
    format: str = option("csv", "Results file format: csv or parquet (needs recgym[parquet]).")
    jobs: int = option(1, "Worker processes of the local backend.")
    backend: str = option("local", "Where the work runs: local (processes) or ray "
                          "(needs recgym[ray]).")
    ray_address: str | None = option(None, "Ray cluster address (default: start or join a "
                                     "local one).", metavar="ADDRESS")
    progress: bool = option(True, "Show a progress bar over runs on stderr.")

    #: The experiment's name in ``config.json``; set by the subclasses.
    experiment = ""

    def __post_init__(self) -> None:
        if not self.out:
            raise ValueError("--out (the output folder) is required")
        check_choice("--dataset", self.dataset, DATASET_NAMES)
        check_ints("--seeds", self.seeds, 0, MAX_SEED)
        check_ints("--dims", self.dims, 1)
        check_ints("--producers", self.producers, 1)
        check_choice("--format", self.format, FORMATS)
        check_ints("--jobs", self.jobs, 1)
        check_choice("--backend", self.backend, BACKENDS)

    @property
    def data_path(self) -> str | None:
        """``data`` for the real datasets, ``None`` for the synthetic ones."""
        return None if self.dataset in SYNTHETIC else self.data

    def settings(self) -> dict[str, Any]:
        """What ``config.json`` records: ``to_dict`` and, for real data, the ratings
        file's sha256 (``recgym.datasets.require_data``, which also refuses a missing
        file or another dataset's: call it before anything is written)."""
        return {**self.to_dict(), **require_data(self.dataset, self.data_path)}

    def to_dict(self) -> dict[str, Any]:
        """All settings as JSON-ready values, with ``experiment`` first."""
        values = {"experiment": self.experiment}
        for key, value in dataclasses.asdict(self).items():
            values[key] = list(value) if isinstance(value, tuple) else value
        return values


@dataclass(frozen=True)
class SweepConfig(ResumableSweep):
    """Settings shared by both experiments (see the ``help`` of each field).

    Each chain shares one ``RandomState`` over ``for d in dims: for n in producers``,
    so a subset of the grid reproduces the published runs only if it keeps every
    ``(d, n)`` that comes before them in the paper's order (e.g. ``dims=(5, 10)``,
    not ``dims=(10,)``).
    """

    dims: tuple[int, ...] = option(PAPER_DIMS, "Embedding dimensions d, in loop order (to "
                                   "match published runs keep every earlier (d, n) of the "
                                   "paper's loops: 5 10 works, 10 alone does not).")
    producers: tuple[int, ...] = option(PAPER_PRODUCERS, "Numbers of producers n, in loop "
                                        "order (the same caveat).")
    rules: tuple[str, ...] = option(PAPER_RULES, RULES_HELP, metavar="RULE")
    temperatures: tuple[float, ...] = option(PAPER_TEMPERATURES,
                                             "Temperatures of the rules that have one "
                                             "(linear has none).")
    max_iter: int = option(500, "Iteration budget of each dynamics run (the paper's 500).")

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.rules) == 0:
            raise ValueError("--rules needs at least one rule")
        if len(self.temperatures) == 0:
            raise ValueError("--temperatures needs at least one value")
        for temperature in self.temperatures:
            check_float("--temperatures", temperature, 0.0, low_open=True)
        if len(set(self.temperatures)) != len(self.temperatures):
            raise ValueError(f"--temperatures must not repeat values, got "
                             f"{list(self.temperatures)}")
        self.rule_settings()  # validates --rules
        check_ints("--max-iter", self.max_iter, 1)

    def rule_settings(self) -> list[tuple[str, float | None]]:
        """``(rule, temperature)`` pairs in loop order (``rule_settings``); the rule is a
        spec string without its temperature, ``None`` for rules without one."""
        return rule_settings(self.rules, self.temperatures)


@dataclass(frozen=True)
class Exp1Config(SweepConfig):
    """Experiment 1: iterations to converge (docs/model.md section 8).

    One chain per ``(rule, temperature, embedding seed, run)``, with ``RandomState(run)``.
    """

    seeds: tuple[int, ...] = option((17,), "Embedding seeds of the user data.")
    temperatures: tuple[float, ...] = option((1.0,), "Temperatures of the rules that have one "
                                             "(linear has none).")
    runs: tuple[int, ...] = option(tuple(range(1, 41)), "Runs, e.g. 1-40 or 1-3,7; run r "
                                   "seeds its chain with RandomState(r).", parse=parse_runs,
                                   metavar="RUNS")

    experiment = "exp1"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_ints("--runs", self.runs, 0, MAX_SEED)


@dataclass(frozen=True)
class Exp2Config(SweepConfig):
    """Experiment 2: equilibria across temperatures (docs/model.md section 8).

    One chain per ``(rule, temperature, embedding seed)``, with
    ``RandomState(dynamics_seed)``.
    """

    dynamics_seed: int = option(505, "Seed of the RandomState each chain starts from.")

    experiment = "exp2"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_ints("--dynamics-seed", self.dynamics_seed, 0, MAX_SEED)


EXPERIMENTS: dict[str, type[SweepConfig]] = {"exp1": Exp1Config, "exp2": Exp2Config}


@dataclass(frozen=True)
class ProducerOptions:
    """Producers who differ and how they choose (``recgym.producers``,
    ``recgym.behaviors``): shared by the commands that run the producers' game."""

    skill: tuple[float, ...] = option((1.0,), "Producer skill q in (0, 1]: one value for "
                                      "every producer or one per producer (ratings "
                                      "q <c, s>).", metavar="Q")
    cost: tuple[float, ...] = option((0.0,), "Cost of effort kappa >= 0 per user: one value "
                                     "or one per producer (payoff minus kappa (sum s)^beta).",
                                     metavar="KAPPA")
    cost_exponent: float = option(1.0, "Exponent beta >= 1 of the cost of effort.")
    producer_behavior: str = option("best_response", "How producers choose: best_response "
                                    "(the paper's), quantal:rationality=L or hedge:rate=H.",
                                    metavar="SPEC")

    def check_producers(self, n_producers: int) -> None:
        """Validate the four options against ``n_producers`` (errors name the option)."""
        from recgym.behaviors import make_behavior
        from recgym.producers import check_traits

        for flag, values in (("--skill", self.skill), ("--cost", self.cost)):
            if len(values) not in (1, n_producers):
                raise ValueError(f"{flag} takes one value or one per producer "
                                 f"({n_producers}), got {len(values)}")
        try:
            check_traits(n_producers, *self.traits().values())
        except (TypeError, ValueError) as exc:
            flag = str(exc).split(" ", 1)[0].replace("_", "-")
            raise ValueError(f"--{flag}: {exc}") from None
        try:
            behavior = make_behavior(self.producer_behavior)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"--producer-behavior: {exc}") from None
        if behavior.NAME != "best_response" and any(c > 0 for c in self.cost):
            raise ValueError("--producer-behavior: quantal and hedge choose among the "
                             "vertices; with --cost above 0 use best_response")

    @property
    def paper_producers(self) -> bool:
        """All four options at their defaults: the paper's producers."""
        return all(getattr(self, f.name) == f.default
                   for f in dataclasses.fields(ProducerOptions))

    def traits(self) -> dict[str, Any]:
        """``skill``, ``cost``, ``cost_exponent`` as ``EngagementGame`` takes them."""
        def value(values: tuple[float, ...]) -> float | tuple[float, ...]:
            return values[0] if len(values) == 1 else values

        return {"skill": value(self.skill), "cost": value(self.cost),
                "cost_exponent": self.cost_exponent}


@dataclass(frozen=True)
class EquilibriumConfig(ProducerOptions):
    """One run of the paper's best-response dynamics (``recgym equilibrium``)."""

    dataset: str = option("synth-uniform", f"User data: {', '.join(DATASET_NAMES)}.")
    data: str | None = option(None, "Folder or file with the real rating data (default: the "
                              "RECGYM_DATA environment variable; ignored for synthetic data).",
                              metavar="PATH")
    embedding_seed: int = option(17, "Embedding seed of the user data.")
    dim: int = option(5, "Embedding dimension d.")
    n_producers: int = option(10, "Number of producers n.")
    rule: str = option("softmax", "Serving rule: a registered name or spec string ("
                       + ", ".join(RULES.names) + "; e.g. topk:k=2,temperature=0.5).",
                       metavar="RULE")
    temperature: float | None = option(None, "Temperature of rules that have one (default: "
                                       "the rule's, 1).")
    k: int | None = option(None, "Producers served per user (topk only).")
    floor: float | None = option(None, "Exposure floor in [0, 1] (default 0).")
    payoff: str = option("engagement", "Producer payoff: engagement, exposure or marginal.")
    seed: int = option(0, "Seed of the dynamics' RandomState.")
    max_iter: int = option(500, "Iteration budget of the dynamics.")

    def __post_init__(self) -> None:
        check_choice("--dataset", self.dataset, DATASET_NAMES)
        check_ints("--embedding-seed", self.embedding_seed, 0, MAX_SEED)
        check_ints("--dim", self.dim, 1)
        check_ints("--n-producers", self.n_producers, 1)
        self.make_rule()  # validates --rule with --temperature, --k, --floor
        from recgym.payoffs import PAYOFFS

        check_choice("--payoff", self.payoff, PAYOFFS.names)
        check_ints("--seed", self.seed, 0, MAX_SEED)
        check_ints("--max-iter", self.max_iter, 1)
        self.check_producers(self.n_producers)

    def make_rule(self) -> Any:
        """The serving rule of ``--rule`` with ``--temperature``, ``--k``, ``--floor``."""
        return rule_from_flags(self.rule, self.temperature, self.k, self.floor)

    @property
    def data_path(self) -> str | None:
        """``data`` for the real datasets, ``None`` for the synthetic ones."""
        return None if self.dataset in SYNTHETIC else self.data
