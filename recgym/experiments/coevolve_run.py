"""``recgym coevolve``: the ecosystem over time (``recgym.coevolve``), one run per rule
and learner.

Every pair of a rule of ``--rule`` and a learner of ``--learner`` (rule by rule, the
learners in turn) runs ``recgym.coevolve.coevolve`` on the same starting users,
producers, payoff, user dynamics and seed (the producers' stream and the feedback
stream both come from ``--seed``), with ``--impressions`` and ``--elicit``, so the
runs can be compared epoch by epoch. The learner ``oracle`` (the default) serves by
the true ratings, exactly recgym without learning; the others serve by their
estimates and learn from Bernoulli clicks (``recgym.learners``, docs/ecosystem.md
E8). The command writes into ``--out``:

* ``config.json``: every setting (``CoevolveConfig.settings``: the flags, the rules'
  and learners' spec strings as they appear in ``history.csv`` (``rules``,
  ``learners``), ``impressions``, ``elicit``, the SCF columns, the number of starting
  users, and for real data the ratings file found and its sha256);
* ``history.csv``: one row per rule, learner and epoch, appended as epochs finish,
  with the columns ``rule`` and ``learner`` (spec strings),
  ``recgym.coevolve.HISTORY_COLUMNS`` (with ``clicks``, ``estimation_error``,
  ``regret_vs_oracle`` and ``cumulative_regret``, 0 for the oracle but its clicks) and
  one per extra SCF (``--scf``); no value is missing;
* ``coevolve.png``: homogenization, user welfare, retention (``active_users``) and
  content features against the epochs, one line per rule and learner
  (``recgym.experiments.coevolve_plots``);
* ``learning.png``, when a learner is not the oracle: estimation error, cumulative
  regret against the oracle, user welfare and clicks against the epochs, one line per
  rule and learner. ``recgym plot DIR`` draws both again.

**Resuming.** The command runs through the sweeps' one resumable loop
(``recgym.experiments.runner.run_tasks``): one task per (rule, learner) run, whose
epochs it streams to ``history.csv`` as they end (``streams``) and which is kept only
whole (``whole_tasks``). Run the same command again and the runs whose epochs are
all in ``history.csv`` are not computed again; a run cut short (Ctrl-C, SIGTERM,
``kill -9``) is computed again from its first epoch (an epoch needs the state of the
ones before, which is not saved), its partial rows replaced, so the final file is
byte for byte the one an uninterrupted run writes. A damaged row is named in a
warning and its run computed again. The folder is locked while the command writes
it (``sweep.lock``). Other result settings are refused
(``recgym.experiments.folders.write_or_check_config``), the learners,
``--impressions`` and ``--elicit`` included;
``--out``, ``--data``, ``--progress`` and ``--every`` may change. A folder written
before ``recgym coevolve`` had learners (its ``config.json`` without ``learner``,
``learners``, ``impressions``, ``elicit``, its ``history.csv`` without the learner's
columns) is refused like any other settings (missing settings are different ones,
as for every sweep, and its history lacks the clicks the engine now records): run it
again into a new folder; ``recgym plot`` still draws it (as the oracle).

**Checks.** Every flag, the data file and the users are checked before anything is
written. A learner other than the oracle refuses ``--payoff marginal`` (it needs the
welfare without each producer, defined only for serving by the true ratings; exit 2
naming ``--learner``) and users with ``||c_k||_1 > 1`` (clicks are Bernoulli draws of
the ratings; the data sets' users are L1-normalised, so only users of one's own reach
this ``ValueError``).
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from recgym import welfare
from recgym._validation import check_choice, check_float, check_ints
from recgym.coevolve import HISTORY_COLUMNS, coevolve
from recgym.datasets import load_users, require_data
from recgym.datasets.catalog import DATASET_NAMES, SYNTHETIC, SYNTHETIC_USERS
from recgym.experiments.backends import LocalBackend
from recgym.experiments.config import ProducerOptions
from recgym.experiments.folders import CONFIG_FILE, read_config
from recgym.experiments.results import CsvStore, check_regular_file
from recgym.experiments.runner import Task, TaskSweep, run_tasks
from recgym.experiments.tasks import ColumnKinds, key_of
from recgym.game import EngagementGame
from recgym.learners import LEARNERS, Learner, make_learner
from recgym.learning_platform import NORM_TOL
from recgym.options import MAX_SEED, option, rule_from_flags
from recgym.payoffs import PAYOFFS
from recgym.registry import parse_spec
from recgym.rules import RULES, ServingRule
from recgym.user_dynamics import USER_DYNAMICS, make_user_dynamics

__all__ = ["EXPERIMENT", "FIGURE_FILE", "HISTORY_FILE", "LEARNING_FIGURE_FILE", "RUN_KEYS",
           "CoevolveConfig", "CoevolveResult", "draw_folder", "format_summary",
           "is_coevolve_folder", "read_history", "run_coevolve"]

EXPERIMENT = "coevolve"
HISTORY_FILE = "history.csv"
FIGURE_FILE = "coevolve.png"
#: The second figure, drawn when a learner is not the oracle.
LEARNING_FIGURE_FILE = "learning.png"
#: The columns of ``history.csv`` that name a run.
RUN_KEYS = ("rule", "learner")
#: The learner of a folder that records none (written before learners).
ORACLE = "oracle"
#: Resolution of the figure the command writes (``recgym plot`` takes ``--dpi``).
FIGURE_DPI = 80
#: Settings that change no result: they may differ when a folder is resumed.
NON_RESULT_FIELDS = frozenset({"out", "data", "data_file", "progress", "every"})
#: The history columns (after ``RUN_KEYS``) that hold integers, and the one that holds
#: a bool; every other one (the SCFs' included) holds a number (infinities allowed).
INT_COLUMNS = ("epoch", "active_producers", "content_features", "departed", "exits",
               "iterations")
BOOL_COLUMNS = ("converged",)
#: The printed table: history column, header, format.
TABLE = (("epoch", "epoch", "d"), ("user_welfare", "user_w", ".4f"),
         ("producer_welfare", "prod_w", ".4f"), ("active_users", "retained", ".3f"),
         ("active_producers", "producers", "d"), ("homogenization", "homog", ".4f"),
         ("demand_entropy", "entropy", ".4f"), ("content_features", "features", "d"),
         ("departed", "departed", "d"), ("exits", "exits", "d"),
         ("converged", "eq", ""))
#: Columns the table adds, after ``features``, when a learner is not the oracle.
LEARNING_TABLE = (("estimation_error", "est_err", ".4f"), ("clicks", "clicks", ".3f"),
                  ("cumulative_regret", "cum_regret", ".4f"))


@dataclass(frozen=True)
class CoevolveConfig(ProducerOptions):
    """Producers and users co-evolving over epochs (``recgym coevolve``)."""

    out: str = option(None, "Output folder: config.json, history.csv, coevolve.png (and "
                      "learning.png with a learner other than oracle).", metavar="DIR")
    dataset: str = option("synth-uniform", f"User data: {', '.join(DATASET_NAMES)}.")
    data: str | None = option(None, "Folder or file with the real rating data (default: the "
                              "RECGYM_DATA environment variable; ignored for synthetic data).",
                              metavar="PATH")
    embedding_seed: int = option(17, "Embedding seed of the user data.")
    dim: int = option(5, "Embedding dimension d.")
    n_users: int | None = option(None, "Use the first K users of the data (default: all; the "
                                 f"synthetic data have {SYNTHETIC_USERS:,}).", metavar="K")
    n_producers: int = option(10, "Number of producers n.")
    rule: tuple[str, ...] = option(
        ("softmax",), "Serving rules: registered names or spec strings ("
        + ", ".join(RULES.names) + "; e.g. softmax:temperature=0.1 linear topk:k=2); each "
        "runs from the same users and seed and they are drawn side by side.",
        metavar="RULE")
    temperature: float | None = option(None, "Temperature of the rules that have one and "
                                       "whose spec sets none (default: the rule's, 1).")
    k: int | None = option(None, "Producers served per user, for the rules that have k "
                           "(topk) and whose spec sets none.")
    floor: float | None = option(None, "Exposure floor in [0, 1] of the rules whose spec sets "
                                 "none (default 0).")
    payoff: str = option("engagement", "Producer payoff: " + ", ".join(PAYOFFS.names) + ".")
    outside_option: float = option(0.0, "Producers' outside option per user (below it they "
                                   "leave).")
    user_dynamics: str = option("static", "How users change: a spec string ("
                                + ", ".join(USER_DYNAMICS.names) + "; e.g. exposure:rate=0.2, "
                                "engagement:rate=1).", metavar="SPEC")
    user_outside_option: float = option(0.0, "Users' outside option w: a user whose utility "
                                        "stays below it for --user-patience epochs leaves.",
                                        metavar="W")
    user_patience: int = option(1, "Users' patience P: consecutive epochs below w before "
                                "leaving.", metavar="P")
    learner: tuple[str, ...] = option(
        ("oracle",), "How the platform serves and learns its users: learner spec strings ("
        + ", ".join(LEARNERS.names) + "; e.g. greedy epsilon:eps=0.1 ucb:alpha=0.5 "
        "thompson:scale=1, each with lam); oracle serves by the true ratings, the others by "
        "their estimates, learning from clicks. Every rule runs with every learner, from the "
        "same users and seed.", metavar="SPEC")
    impressions: int = option(1, "Impressions (each with a Bernoulli click) per active user "
                              "and epoch, which the learners learn from.", metavar="N")
    elicit: int = option(0, "Questions the platform asks each user before epoch 1 (a basis "
                         "vector shown, a click observed).", metavar="Q")
    epochs: int = option(50, "Epochs E.", metavar="E")
    moves_per_epoch: int = option(5, "Iterations of the producers' dynamics per epoch.",
                                  metavar="M")
    seed: int = option(0, "Seed of the producers' RandomState (the same for every rule).",
                       metavar="S")
    scf: tuple[str, ...] | None = option(None, "Extra social choice functions recorded per "
                                         "epoch, as spec strings (repeatable), e.g. --scf "
                                         "user_min utilitarian:lam=0.5.", metavar="SPEC",
                                         extend=True)
    every: int = option(10, "Print the table every N epochs (and the first and last).",
                        metavar="N")
    progress: bool = option(True, "Show a progress bar over epochs on stderr.")

    experiment = EXPERIMENT

    def __post_init__(self) -> None:
        if not self.out:
            raise ValueError("--out (the output folder) is required")
        check_choice("--dataset", self.dataset, DATASET_NAMES)
        check_ints("--embedding-seed", self.embedding_seed, 0, MAX_SEED)
        check_ints("--dim", self.dim, 1)
        if self.n_users is not None:
            check_ints("--n-users", self.n_users, 1,
                       SYNTHETIC_USERS if self.dataset in SYNTHETIC else None)
        check_ints("--n-producers", self.n_producers, 1)
        self.check_producers(self.n_producers)
        if self.producer_behavior.split(":")[0] == "hedge":
            raise ValueError("--producer-behavior: hedge plays simultaneous rounds; the epoch "
                             "engine's producers move one at a time (use best_response or "
                             "quantal here; recgym equilibrium runs hedge)")
        self.make_rules()  # validates --rule with --temperature, --k, --floor
        check_choice("--payoff", self.payoff, PAYOFFS.names)
        check_float("--outside-option", self.outside_option, 0.0)
        try:
            make_user_dynamics(self.user_dynamics)
        except ValueError as exc:
            raise ValueError(f"--user-dynamics: {exc}") from None
        check_float("--user-outside-option", self.user_outside_option, 0.0)
        check_ints("--user-patience", self.user_patience, 1)
        learners = self.make_learners()  # validates --learner
        check_ints("--impressions", self.impressions, 1)
        check_ints("--elicit", self.elicit, 0)
        learning = [learner.spec for learner in learners if not learner.oracle]
        if learning and (any(q != 1.0 for q in self.skill) or any(c != 0 for c in self.cost)):
            raise ValueError(f"--learner {learning[0]}: a platform that learns its users serves "
                             "by scores of the content alone; --skill and --cost need --learner "
                             "oracle")
        if learning and PAYOFFS.get(self.payoff).needs_welfare_loss:
            raise ValueError(f"--learner {learning[0]}: --payoff {self.payoff} is not supported "
                             "with a learner other than oracle (it needs the welfare without "
                             "each producer, defined only for serving by the true ratings)")
        check_ints("--epochs", self.epochs, 1)
        check_ints("--moves-per-epoch", self.moves_per_epoch, 1)
        check_ints("--seed", self.seed, 0, MAX_SEED)
        self.scf_columns  # noqa: B018 (validates --scf)
        check_ints("--every", self.every, 1)

    def make_rules(self) -> list[ServingRule]:
        """The rules of ``--rule``, in order. ``--temperature``, ``--k`` and ``--floor`` go
        to the rules that declare the parameter and whose spec does not set it (if no
        rule is such, to every rule: one without the parameter is refused naming the
        flag, as ``recgym equilibrium`` does)."""
        if len(self.rule) == 0:
            raise ValueError("--rule needs at least one rule")
        declared = [_open_params(spec) for spec in self.rule]
        flags = {"temperature": self.temperature, "k": self.k, "floor": self.floor}
        anyone = {key for names in declared for key in names}
        rules = []
        for spec, names in zip(self.rule, declared, strict=True):
            given = {key: value if key in names or key not in anyone else None
                     for key, value in flags.items()}
            rules.append(rule_from_flags(spec, given["temperature"], given["k"],
                                         given["floor"]))
        specs = [rule.spec for rule in rules]
        repeated = sorted({spec for spec in specs if specs.count(spec) > 1})
        if repeated:
            raise ValueError(f"--rule gives the same rule twice: {', '.join(repeated)}")
        return rules

    def make_learners(self) -> list[Learner]:
        """The learners of ``--learner``, in order; ``ValueError`` naming ``--learner``."""
        if len(self.learner) == 0:
            raise ValueError("--learner needs at least one learner")
        learners = []
        for spec in self.learner:
            try:
                learners.append(make_learner(spec))
            except ValueError as exc:
                raise ValueError(f"--learner {spec}: {exc}") from None
        specs = [learner.spec for learner in learners]
        repeated = sorted({spec for spec in specs if specs.count(spec) > 1})
        if repeated:
            raise ValueError(f"--learner gives the same learner twice: {', '.join(repeated)}")
        return learners

    @property
    def learns(self) -> bool:
        """A learner is not the oracle (the platform learns its users)."""
        return any(not learner.oracle for learner in self.make_learners())

    @property
    def scf_columns(self) -> list[str]:
        """The history columns of ``--scf`` (``user_welfare`` and ``producer_welfare``
        are always there); ``ValueError`` naming ``--scf``."""
        try:
            names = [welfare.name_of(welfare.parse(spec)) for spec in self.scf or ()]
        except ValueError as exc:
            raise ValueError(f"--scf: {exc}") from None
        if len(set(names)) != len(names):
            raise ValueError(f"--scf must not repeat, got {names}")
        return [name for name in names if name not in HISTORY_COLUMNS]

    @property
    def columns(self) -> list[str]:
        """The columns of ``history.csv``."""
        return [*RUN_KEYS, *HISTORY_COLUMNS, *self.scf_columns]

    @property
    def data_path(self) -> str | None:
        """``data`` for the real datasets, ``None`` for the synthetic ones."""
        return None if self.dataset in SYNTHETIC else self.data

    def data_file(self) -> str | None:
        """The ratings file found for real data (``None`` for synthetic users)."""
        if self.dataset in SYNTHETIC:
            return None
        from recgym.datasets.files import DATA_FILES, locate

        return str(locate(DATA_FILES[self.dataset], self.data_path).resolve())

    def settings(self, n_users: int) -> dict[str, Any]:
        """What ``config.json`` records: every flag, the rules', learners' and SCFs' names,
        the ``n_users`` starting users, the data file and its sha256 (real data;
        ``require_data`` refuses a missing or wrong file: call it before writing)."""
        values: dict[str, Any] = {"experiment": self.experiment}
        for key, value in dataclasses.asdict(self).items():
            values[key] = list(value) if isinstance(value, tuple) else value
        values.update(rules=[rule.spec for rule in self.make_rules()],
                      learners=[learner.spec for learner in self.make_learners()],
                      scf_columns=self.scf_columns, start_users=n_users,
                      data_file=self.data_file())
        return {**values, **require_data(self.dataset, self.data_path)}


def _open_params(spec: str) -> set[str]:
    """The parameters the rule of ``spec`` declares and ``spec`` does not set (none if
    ``spec`` names no rule)."""
    try:
        name, given = parse_spec(spec, "rule")
        return {param.name for param in RULES.get(name).PARAMS} - set(given)
    except ValueError:
        return set()


@dataclass(frozen=True)
class CoevolveResult:
    """What ``run_coevolve`` did: every run's history, where it went, what it computed.

    ``runs`` are the ``(rule, learner)`` pairs in order, ``n_computed`` of them computed
    now; ``figure`` is ``coevolve.png``, ``figures`` every figure drawn (with
    ``learning.png`` when a learner is not the oracle).
    """

    history: pd.DataFrame
    folder: Path
    figure: Path
    rules: list[str]
    n_computed: int
    seconds: float
    learners: list[str] = dataclasses.field(default_factory=lambda: [ORACLE])
    figures: list[Path] = dataclasses.field(default_factory=list)

    @property
    def runs(self) -> list[tuple[str, str]]:
        return [(rule, learner) for rule in self.rules for learner in self.learners]


def load_start_users(config: CoevolveConfig) -> np.ndarray:
    """The starting users ``(K, d)``: the first ``--n-users`` of the data (all by default)."""
    users = load_users(config.dataset, config.dim, config.embedding_seed, path=config.data_path)
    if config.n_users is not None and config.n_users > users.shape[0]:
        raise ValueError(f"--n-users {config.n_users}: {config.dataset} has only "
                         f"{users.shape[0]} users")
    return users if config.n_users is None else users[:config.n_users]


def check_learnable(config: CoevolveConfig, users: np.ndarray) -> None:
    """Users with ``||c_k||_1 > 1`` cannot click with probability ``r_ki`` under a learner
    other than the oracle: ``ValueError`` naming ``--learner`` (the data sets' users are
    L1-normalised, so only users of your own get here)."""
    if not config.learns or users.shape[0] == 0:
        return
    largest = float(users.sum(axis=1).max())
    if largest > 1.0 + NORM_TOL:
        learner = next(lr.spec for lr in config.make_learners() if not lr.oracle)
        raise ValueError(f"--learner {learner}: the users must have ||c_k||_1 <= 1 (clicks "
                         f"are Bernoulli draws of the ratings); the largest is {largest:.6g}")


def run_coevolve(config: CoevolveConfig, echo: Callable[[str], None] | None = None
                 ) -> CoevolveResult:
    """Run every (rule, learner) pair of ``config`` (module docstring), writing
    ``config.out``.

    ``echo`` prints the table's lines (default: ``tqdm.write`` to stdout, which keeps
    the progress bar on stderr intact).
    """
    echo = echo or (lambda line: tqdm.write(line, file=sys.stdout))
    start = time.perf_counter()
    users = load_start_users(config)
    check_learnable(config, users)
    games = [EngagementGame(users, config.n_producers, rule, payoff=config.payoff,
                            outside_option=config.outside_option, **config.traits())
             for rule in config.make_rules()]
    settings = config.settings(users.shape[0])
    rules, learners = settings["rules"], settings["learners"]
    out = Path(config.out)
    result = run_tasks(config, coevolve_sweep(config, games, rules, learners, settings, echo),
                       LocalBackend(), settings=settings)
    return CoevolveResult(result.frame, out, result.finished[0], rules,
                          result.tasks_computed, time.perf_counter() - start, learners,
                          result.finished)


def coevolve_sweep(config: CoevolveConfig, games: Sequence[EngagementGame],
                   rules: Sequence[str], learners: Sequence[str], settings: dict[str, Any],
                   echo: Callable[[str], None]) -> TaskSweep:
    """``config`` declared for the runner: one task per (rule, learner) run, rule by rule,
    whose ``--epochs`` rows (keyed by rule, learner and epoch) it streams to
    ``history.csv`` and keeps only whole; the figures drawn at the end."""
    epochs = range(1, config.epochs + 1)
    tasks = [Task(tuple(key_of([rule, learner, epoch]) for epoch in epochs),
                  (game, rule, learner))
             for game, rule in zip(games, rules, strict=True) for learner in learners]
    columns = tuple(config.columns)
    out = Path(config.out)
    return TaskSweep(tasks, ColumnKinds(history_kinds(columns), (*RUN_KEYS, "epoch")),
                     functools.partial(_run_one, config, echo),
                     side_files=(FIGURE_FILE, LEARNING_FIGURE_FILE),
                     store=CsvStore(out, columns, name=HISTORY_FILE, exact=True, sync=False),
                     non_result=NON_RESULT_FIELDS, whole_tasks=True, streams=True,
                     finish=lambda history: _draw(history, settings, out, FIGURE_DPI),
                     unit="epoch")


def history_kinds(columns: Sequence[str]) -> dict[str, str]:
    """``history.csv``'s columns -> their ``tasks.KINDS``, checked on resume."""
    return {column: "text" if column in RUN_KEYS else "int" if column in INT_COLUMNS
            else "bool" if column in BOOL_COLUMNS else "number" for column in columns}


def _run_one(config: CoevolveConfig, echo: Callable[[str], None],
             arguments: tuple[EngagementGame, str, str],
             deliver: Callable[[dict[str, Any]], None]) -> None:
    """One (rule, learner) run: its table's lines, and each epoch's row delivered to the
    runner (which appends it to ``history.csv``) as the epoch ends."""
    game, spec, learner = arguments
    learns = config.learns
    echo(f"rule {spec}, learner {learner}:" if _names_learners(config.learner)
         else f"rule {spec}:")
    echo(_header(config.scf_columns, learns))

    def finished(row: dict[str, Any]) -> None:
        row = dict(zip(RUN_KEYS, (spec, learner), strict=True)) | row
        deliver(row)
        if row["epoch"] in (1, config.epochs) or row["epoch"] % config.every == 0:
            echo(_line(row, config.scf_columns, learns))

    coevolve(game, user_dynamics=config.user_dynamics,
             user_outside_option=config.user_outside_option,
             user_patience=config.user_patience, epochs=config.epochs,
             moves_per_epoch=config.moves_per_epoch, seed=config.seed,
             scf=list(config.scf or ()), record="none", learner=learner,
             impressions=config.impressions, elicit=config.elicit,
             behavior=config.producer_behavior, progress=finished)


def _names_learners(learners: Sequence[str]) -> bool:
    """The table and summary name the learner unless the only one is the oracle."""
    return list(learners) != [ORACLE]


# ---------------------------------------------------------------------------
# history.csv
# ---------------------------------------------------------------------------

def _read_csv(path: Path, columns: Sequence[str] | None) -> pd.DataFrame:
    """The rows of ``path`` (a last line cut short is left out); ``ValueError`` if its
    header is not ``columns`` (any header with a ``rule`` and an ``epoch`` column when
    ``columns`` is None) or it cannot be parsed. Without a ``learner`` column (a folder
    written before learners) every row's learner is ``oracle``."""
    text = path.read_text(encoding="utf-8")
    text = text[:text.rfind("\n") + 1]
    found = next(csv.reader([text.partition("\n")[0]]), [])
    wanted = list(columns) if columns is not None else found
    if found != wanted or not {"rule", "epoch"} <= set(found):
        raise ValueError(f"{path} does not have the columns of this run "
                         f"({', '.join(columns or ('rule', 'epoch', '...'))}); choose another "
                         "--out folder")
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=dict.fromkeys(RUN_KEYS, str))
    except (ValueError, pd.errors.ParserError) as exc:
        raise ValueError(f"{path} cannot be read ({exc}); delete it to compute it again, or "
                         "choose another --out folder") from None
    if "learner" not in frame.columns:
        frame.insert(1, "learner", ORACLE)
    return frame


def _keys(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """The ``(rule, learner)`` of every row of ``frame``."""
    return list(zip(frame["rule"], frame["learner"], strict=True))


# ---------------------------------------------------------------------------
# Reading a folder back and drawing it
# ---------------------------------------------------------------------------

def is_coevolve_folder(folder: Path) -> bool:
    """True if ``folder`` holds a ``recgym coevolve`` run (by its ``config.json``, or a
    ``history.csv`` without one)."""
    if not folder.is_dir():
        return False
    settings = read_config(folder / CONFIG_FILE)
    if settings is not None:
        return settings.get("experiment") == EXPERIMENT
    return (folder / HISTORY_FILE).is_file()


def read_history(folder: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """The settings (``{}`` without ``config.json``) and the rows of a saved run (with a
    ``learner`` column, ``oracle`` for a folder written before learners)."""
    settings = read_config(folder / CONFIG_FILE) or {}
    path = folder / HISTORY_FILE
    if not check_regular_file(path):
        raise ValueError(f"{folder} holds no {HISTORY_FILE}: nothing to draw")
    columns = ([*RUN_KEYS, *HISTORY_COLUMNS, *settings["scf_columns"]]
               if {"scf_columns", "learners"} <= set(settings) else None)
    return settings, _read_csv(path, columns)


def draw_folder(folder: Path, fig_dir: Path, dpi: int = FIGURE_DPI) -> list[Path]:
    """Draw the saved run in ``folder`` into ``fig_dir``: ``coevolve.png``, and
    ``learning.png`` when a learner is not the oracle; their paths."""
    settings, history = read_history(folder)
    return _draw(history, settings, fig_dir, dpi)


def _draw(history: pd.DataFrame, settings: dict[str, Any], fig_dir: Path,
          dpi: int) -> list[Path]:
    from recgym.experiments.coevolve_plots import (
        LEARNING_PANELS,
        save_coevolve_figure,
        save_learning_figure,
    )

    found = list(dict.fromkeys(_keys(history)))
    if "rules" in settings:
        learners = settings.get("learners") or [ORACLE]
        runs = [(rule, learner) for rule in settings["rules"] for learner in learners]
    else:
        runs = found
    title = _title(settings)
    paths = [save_coevolve_figure(history, fig_dir / FIGURE_FILE, runs=runs, title=title,
                                  dpi=dpi)]
    learning = {column for column, _ in LEARNING_PANELS} <= set(history.columns)
    if learning and not all(_is_oracle(learner) for _, learner in runs):
        paths.append(save_learning_figure(history, fig_dir / LEARNING_FIGURE_FILE, runs=runs,
                                          title=title, dpi=dpi))
    return paths


def _is_oracle(spec: str) -> bool:
    """``spec`` names the oracle (a learner unknown here, e.g. a plug-in's, is not)."""
    try:
        return make_learner(spec).oracle
    except ValueError:
        return False


def _title(settings: dict[str, Any]) -> str:
    """The figure's title: the users, the game, the users' dynamics, the feedback."""
    if not settings:
        return ""
    feedback = ""
    if not all(_is_oracle(learner) for learner in settings.get("learners") or [ORACLE]):
        feedback = (f"; {settings['impressions']} impression(s) per user and epoch, "
                    f"{settings['elicit']} elicited")
    return (f"{settings['dataset']} (K={settings['start_users']}, d={settings['dim']}), "
            f"n={settings['n_producers']}, payoff {settings['payoff']}; users "
            f"{settings['user_dynamics']}, w={settings['user_outside_option']:g}, "
            f"P={settings['user_patience']}; {settings['moves_per_epoch']} moves per epoch, "
            f"seed {settings['seed']}{feedback}")


# ---------------------------------------------------------------------------
# The printed table
# ---------------------------------------------------------------------------

def _widths(scf_columns: Sequence[str], learns: bool = False
            ) -> list[tuple[str, str, str, int]]:
    """The table's columns: ``TABLE`` (with ``LEARNING_TABLE`` after ``features`` when
    ``learns``) and the SCFs'."""
    cut = [key for key, _, _ in TABLE].index("content_features") + 1
    columns = [*TABLE[:cut], *(LEARNING_TABLE if learns else ()), *TABLE[cut:],
               *((name, name, ".4f") for name in scf_columns)]
    return [(key, head, fmt, max(len(head), 6)) for key, head, fmt in columns]


def _header(scf_columns: Sequence[str], learns: bool = False) -> str:
    return "  ".join(f"{head:>{width}}" for _, head, _, width in _widths(scf_columns, learns))


def _line(row: dict[str, Any], scf_columns: Sequence[str], learns: bool = False) -> str:
    cells = []
    for key, _, fmt, width in _widths(scf_columns, learns):
        value = row[key]
        text = ("yes" if value else "no") if key == "converged" else format(value, fmt)
        cells.append(f"{text:>{width}}")
    return "  ".join(cells)


def format_summary(result: CoevolveResult) -> str:
    """The closing lines: where the history and figures are and every run's last epoch
    (with the estimation error, clicks and cumulative regret when a learner is not the
    oracle)."""
    learns = not all(_is_oracle(learner) for learner in result.learners)
    named = _names_learners(result.learners)
    scfs = [c for c in result.history.columns if c not in (*RUN_KEYS, *HISTORY_COLUMNS)]
    last = result.history.groupby(list(RUN_KEYS), sort=False).tail(1)
    rule_width = max(len("rule"), *map(len, result.rules))
    learner_width = max(len("learner"), *map(len, result.learners))
    n_runs = len(result.runs)

    def key(rule: str, learner: str) -> str:
        return f"{rule:<{rule_width}}  " + (f"{learner:<{learner_width}}  " if named else "")

    runs = (f"{n_runs} run(s) ({len(result.rules)} rule(s) x {len(result.learners)} "
            "learner(s))" if named else f"{n_runs} rule(s)")
    lines = [f"{len(result.history)} epochs of {runs} in {result.folder / HISTORY_FILE} "
             f"({result.n_computed} {'run' if named else 'rule'}(s) computed now, "
             f"{n_runs - result.n_computed} already there) in {result.seconds:.1f} s",
             "last epoch per rule and learner:" if named else "last epoch per rule:",
             key("rule", "learner") + _header(scfs, learns)]
    lines += [key(row["rule"], row["learner"]) + _line(row, scfs, learns)
              for row in last.to_dict("records")]
    lines += [f"figure: {path}" for path in (result.figures or [result.figure])]
    return "\n".join(lines)
