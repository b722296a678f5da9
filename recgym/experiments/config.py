"""Settings of the paper's experiments, one documented frozen dataclass each.

Every field carries its help text in ``metadata["help"]``; ``add_arguments``
turns the fields of a config class into ``argparse`` options (``--field-name``),
so the command line and the documentation cannot drift apart (the CleanRL habit).
Validation happens in ``__post_init__`` and names the command-line option.

The grid (model.md section 7): ``d in {5, 10, 15, 20}``,
``n in {2, 5, 10, 20, ..., 100}``, embedding seeds ``{13, 17, 19, 23, 29}``,
temperatures ``{0.01, 0.1, 1, 10, 100}`` plus linear serving.

* ``Exp1Config``: rules softmax ``T = 1`` and linear, embedding seed 17, runs
  ``1..40``; each ``(rule, run)`` is one chain whose ``RandomState(run)`` is shared by
  ``for d in dims: for n in producers``.
* ``Exp2Config``: every temperature and linear, every embedding seed; each
  ``(rule, temperature, seed)`` is one chain with ``RandomState(505)``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Datasets the experiments know (command-line names).
DATASETS = ("synth-uniform", "synth-skewed", "movielens-100k", "rentrunway", "amazon-music")
#: Datasets generated from a seed (they read no file, so ``--data`` is ignored).
SYNTHETIC = ("synth-uniform", "synth-skewed")
#: The paper's grid (model.md section 7).
PAPER_DIMS = (5, 10, 15, 20)
PAPER_PRODUCERS = (2, 5, *range(10, 101, 10))
PAPER_SEEDS = (13, 17, 19, 23, 29)
PAPER_TEMPERATURES = (0.01, 0.1, 1.0, 10.0, 100.0)
RULES = ("linear", "softmax")
BACKENDS = ("local", "ray")
FORMATS = ("csv", "parquet")
#: Settings that do not change any result (where and how the sweep runs, where its
#: files are); a sweep may be resumed with other values of these.
NON_RESULT_FIELDS = frozenset({"out", "data", "jobs", "backend", "ray_address", "progress"})


def option(default: Any, help: str, *, parse: Callable[[str], Any] | None = None,
           metavar: str | None = None) -> Any:
    """A dataclass field with its command-line help (and optionally its own parser)."""
    return field(default=default, metadata={"help": help, "parse": parse, "metavar": metavar})


def parse_runs(spec: str) -> tuple[int, ...]:
    """Parse a run list such as ``"1-40"``, ``"3"`` or ``"1-3,7,9-10"`` (ascending, unique).

    Raises
    ------
    ValueError
        Naming ``--runs`` and the bad text.
    """
    runs: list[int] = []
    for part in str(spec).split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if match is None:
            raise ValueError(f"--runs must be like '1-40' or '1-3,7' (non-negative integers), "
                             f"got {spec!r}")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first:
            raise ValueError(f"--runs range {part.strip()!r} is empty (end before start)")
        runs.extend(range(first, last + 1))
    return tuple(sorted(set(runs)))


def _check_ints(flag: str, values: tuple, minimum: int, single: bool = False
                ) -> tuple[int, ...]:
    if len(values) == 0:
        raise ValueError(f"{flag} needs at least one value")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            what = "an integer" if single else "integers"
            raise ValueError(f"{flag} must be {what} >= {minimum}, got {value!r}")
    if len(set(values)) != len(values):
        raise ValueError(f"{flag} must not repeat values, got {list(values)}")
    return tuple(values)


def _check_choice(flag: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{flag} must be one of {', '.join(allowed)}; got {value!r}")


@dataclass(frozen=True)
class SweepConfig:
    """Settings shared by both experiments (see the ``help`` of each field).

    Each chain shares one ``RandomState`` over ``for d in dims: for n in producers``,
    so a subset of the grid reproduces the published runs only if it keeps every
    ``(d, n)`` that comes before them in the paper's order (e.g. ``dims=(5, 10)``,
    not ``dims=(10,)``).
    """

    out: str = option(None, "Output folder: results, config.json, user distributions.",
                      metavar="DIR")
    dataset: str = option("synth-uniform", f"User data: {', '.join(DATASETS)}.")
    data: str | None = option(None, "Folder or file with the real rating data (default: the "
                              "RECGYM_DATA environment variable; ignored for synthetic data).",
                              metavar="PATH")
    seeds: tuple[int, ...] = option(PAPER_SEEDS, "Embedding seeds of the user data.")
    dims: tuple[int, ...] = option(PAPER_DIMS, "Embedding dimensions d, in loop order (to "
                                   "match published runs keep every earlier (d, n) of the "
                                   "paper's loops: 5 10 works, 10 alone does not).")
    producers: tuple[int, ...] = option(PAPER_PRODUCERS, "Numbers of producers n, in loop "
                                        "order (the same caveat).")
    rules: tuple[str, ...] = option(RULES, "Serving rules: linear and/or softmax.")
    temperatures: tuple[float, ...] = option(PAPER_TEMPERATURES,
                                             "Softmax temperatures (linear has none).")
    max_iter: int = option(500, "Iteration budget of each dynamics run (the paper's 500).")
    format: str = option("csv", "Results file format: csv or parquet (needs recgym[parquet]).")
    jobs: int = option(1, "Worker processes of the local backend.")
    backend: str = option("local", "Where chains run: local (processes) or ray "
                          "(needs recgym[ray]).")
    ray_address: str | None = option(None, "Ray cluster address (default: start or join a "
                                     "local one).", metavar="ADDRESS")
    progress: bool = option(True, "Show a progress bar over runs on stderr.")

    #: ``exp1`` or ``exp2``; set by the subclasses.
    experiment = ""

    def __post_init__(self) -> None:
        if not self.out:
            raise ValueError("--out (the output folder) is required")
        _check_choice("--dataset", self.dataset, DATASETS)
        _check_ints("--seeds", self.seeds, 0)
        _check_ints("--dims", self.dims, 1)
        _check_ints("--producers", self.producers, 1)
        if len(self.rules) == 0 or len(set(self.rules)) != len(self.rules):
            raise ValueError(f"--rules needs distinct values among {RULES}, got {self.rules}")
        for rule in self.rules:
            _check_choice("--rules", rule, RULES)
        if "softmax" in self.rules:
            if len(self.temperatures) == 0:
                raise ValueError("--temperatures needs at least one value for softmax")
            for temp in self.temperatures:
                if not (isinstance(temp, float | int) and math.isfinite(temp) and temp > 0):
                    raise ValueError(f"--temperatures must be finite numbers > 0, got {temp!r}")
        _check_ints("--max-iter", (self.max_iter,), 1, single=True)
        _check_choice("--format", self.format, FORMATS)
        _check_ints("--jobs", (self.jobs,), 1, single=True)
        _check_choice("--backend", self.backend, BACKENDS)

    @property
    def data_path(self) -> str | None:
        """``data`` for the real datasets, ``None`` for the synthetic ones."""
        return None if self.dataset in SYNTHETIC else self.data

    def rule_settings(self) -> list[tuple[str, float | None]]:
        """``(rule, temperature)`` pairs in loop order; linear has temperature ``None``."""
        pairs: list[tuple[str, float | None]] = []
        for rule in self.rules:
            if rule == "linear":
                pairs.append(("linear", None))
            else:
                pairs.extend(("softmax", float(t)) for t in self.temperatures)
        return pairs

    def to_dict(self) -> dict[str, Any]:
        """All settings as JSON-ready values, with ``experiment`` first."""
        values = {"experiment": self.experiment}
        for key, value in dataclasses.asdict(self).items():
            values[key] = list(value) if isinstance(value, tuple) else value
        return values


@dataclass(frozen=True)
class Exp1Config(SweepConfig):
    """Experiment 1: iterations to converge (model.md section 7).

    One chain per ``(rule, temperature, embedding seed, run)``, with ``RandomState(run)``.
    """

    seeds: tuple[int, ...] = option((17,), "Embedding seeds of the user data.")
    temperatures: tuple[float, ...] = option((1.0,), "Softmax temperatures (linear has none).")
    runs: tuple[int, ...] = option(tuple(range(1, 41)), "Runs, e.g. 1-40 or 1-3,7; run r "
                                   "seeds its chain with RandomState(r).", parse=parse_runs,
                                   metavar="RUNS")

    experiment = "exp1"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_ints("--runs", self.runs, 0)


@dataclass(frozen=True)
class Exp2Config(SweepConfig):
    """Experiment 2: equilibria across temperatures (model.md section 7).

    One chain per ``(rule, temperature, embedding seed)``, with
    ``RandomState(dynamics_seed)``.
    """

    dynamics_seed: int = option(505, "Seed of the RandomState each chain starts from.")

    experiment = "exp2"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_ints("--dynamics-seed", (self.dynamics_seed,), 0, single=True)


EXPERIMENTS: dict[str, type[SweepConfig]] = {"exp1": Exp1Config, "exp2": Exp2Config}


# ---------------------------------------------------------------------------
# Command-line options generated from the dataclass fields
# ---------------------------------------------------------------------------

def _element_type(annotation: str) -> Callable[[str], Any]:
    for name, kind in (("int", int), ("float", float)):
        if annotation.startswith(f"tuple[{name}") or annotation.startswith(name):
            return kind
    return str


def add_arguments(parser: argparse.ArgumentParser, config_class: type) -> None:
    """Add one ``--name`` option per field of ``config_class`` (a dataclass).

    Tuples take several values (``--dims 5 10``), booleans become
    ``--name/--no-name`` flags, fields without a default are required.
    """
    for f in dataclasses.fields(config_class):
        flag = "--" + f.name.replace("_", "-")
        meta = f.metadata
        annotation = str(f.type)
        default = f.default
        shown = ("-".join(map(str, _ranges(default))) if meta.get("parse") is parse_runs
                 else " ".join(map(str, default)) if isinstance(default, tuple) else default)
        text = meta.get("help", "") + ("" if default is None else f" (default: {shown})")
        kwargs: dict[str, Any] = {"dest": f.name, "help": text, "default": default}
        if meta.get("metavar"):
            kwargs["metavar"] = meta["metavar"]
        if annotation == "bool":
            kwargs["action"] = argparse.BooleanOptionalAction
        elif meta.get("parse") is not None:
            kwargs["type"] = _wrap(meta["parse"])
        elif annotation.startswith("tuple["):
            kwargs.update(nargs="+", type=_element_type(annotation))
        else:
            kwargs["type"] = _element_type(annotation)
        parser.add_argument(flag, **kwargs)


def _ranges(values: tuple[int, ...]) -> list[int]:
    """``(1, 2, ..., 40)`` shown as ``1-40`` in help texts (first and last only)."""
    return [values[0], values[-1]] if values else []


def _wrap(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc

    convert.__name__ = parse.__name__
    return convert


def from_namespace(config_class: type, namespace: argparse.Namespace) -> Any:
    """Build ``config_class`` from parsed options (tuples stay tuples)."""
    values = {}
    for f in dataclasses.fields(config_class):
        value = getattr(namespace, f.name)
        values[f.name] = tuple(value) if isinstance(value, list) else value
    return config_class(**values)


@dataclass(frozen=True)
class EquilibriumConfig:
    """One run of the paper's best-response dynamics (``recgym equilibrium``)."""

    dataset: str = option("synth-uniform", f"User data: {', '.join(DATASETS)}.")
    data: str | None = option(None, "Folder or file with the real rating data (default: the "
                              "RECGYM_DATA environment variable; ignored for synthetic data).",
                              metavar="PATH")
    embedding_seed: int = option(17, "Embedding seed of the user data.")
    dim: int = option(5, "Embedding dimension d.")
    n_producers: int = option(10, "Number of producers n.")
    rule: str = option("softmax", "Serving rule: linear or softmax.")
    temperature: float = option(1.0, "Softmax temperature (ignored by linear).")
    seed: int = option(0, "Seed of the dynamics' RandomState.")
    max_iter: int = option(500, "Iteration budget of the dynamics.")

    def __post_init__(self) -> None:
        _check_choice("--dataset", self.dataset, DATASETS)
        _check_ints("--embedding-seed", (self.embedding_seed,), 0, single=True)
        _check_ints("--dim", (self.dim,), 1, single=True)
        _check_ints("--n-producers", (self.n_producers,), 1, single=True)
        _check_choice("--rule", self.rule, RULES)
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(f"--temperature must be a finite number > 0, got "
                             f"{self.temperature!r}")
        _check_ints("--seed", (self.seed,), 0, single=True)
        _check_ints("--max-iter", (self.max_iter,), 1, single=True)

    @property
    def data_path(self) -> str | None:
        """``data`` for the real datasets, ``None`` for the synthetic ones."""
        return None if self.dataset in SYNTHETIC else self.data
