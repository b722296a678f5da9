"""``recgym coevolve``: the ecosystem over time (``recgym.coevolve``), one run per rule.

Every rule of ``--rule`` runs ``recgym.coevolve.coevolve`` on the same starting users,
producers, payoff, user dynamics and seed, so the rules can be compared epoch by
epoch. The command writes into ``--out``:

* ``config.json``: every setting (``CoevolveConfig.settings``: the flags, the rules'
  spec strings as they appear in ``history.csv``, the SCF columns, the number of
  starting users, and for real data the ratings file found and its sha256);
* ``history.csv``: one row per rule and epoch, appended as epochs finish, with the
  columns ``rule`` (the rule's spec string), ``recgym.coevolve.HISTORY_COLUMNS`` and
  one per extra SCF (``--scf``); no value is missing;
* ``coevolve.png``: homogenization, user welfare, retention (``active_users``) and
  content features against the epochs, one line per rule
  (``recgym.experiments.coevolve_plots``); ``recgym plot DIR`` draws it again.

**Resuming.** Like the sweeps, the folder is resumable: run the same command again
and the rules whose epochs are all in ``history.csv`` are not computed again; a rule
cut short (Ctrl-C, SIGTERM) is computed again from its first epoch (an epoch needs
the state of the ones before, which is not saved), its partial rows replaced. Other
result settings are refused (``recgym.experiments.folders.write_or_check_config``);
``--out``, ``--data``, ``--progress`` and ``--every`` may change. Every flag, the
data file and the users are checked before anything is written.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import numbers
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from recgym import welfare
from recgym._validation import check_choice, check_float, check_ints
from recgym.coevolve import HISTORY_COLUMNS, coevolve
from recgym.datasets import load_users, require_data
from recgym.datasets.catalog import DATASET_NAMES, SYNTHETIC, SYNTHETIC_USERS
from recgym.experiments.folders import (
    CONFIG_FILE,
    folder_lock,
    make_folder,
    read_config,
    sigterm_as_interrupt,
    write_or_check_config,
)
from recgym.experiments.results import check_regular_file, replace_file
from recgym.game import EngagementGame
from recgym.options import MAX_SEED, option, rule_from_flags
from recgym.payoffs import PAYOFFS
from recgym.registry import parse_spec
from recgym.rules import RULES, ServingRule
from recgym.user_dynamics import USER_DYNAMICS, make_user_dynamics

__all__ = ["EXPERIMENT", "FIGURE_FILE", "HISTORY_FILE", "CoevolveConfig", "CoevolveResult",
           "draw_folder", "format_summary", "is_coevolve_folder", "read_history",
           "run_coevolve"]

EXPERIMENT = "coevolve"
HISTORY_FILE = "history.csv"
FIGURE_FILE = "coevolve.png"
#: Resolution of the figure the command writes (``recgym plot`` takes ``--dpi``).
FIGURE_DPI = 80
#: Settings that change no result: they may differ when a folder is resumed.
NON_RESULT_FIELDS = frozenset({"out", "data", "data_file", "progress", "every"})
#: The printed table: history column, header, format.
TABLE = (("epoch", "epoch", "d"), ("user_welfare", "user_w", ".4f"),
         ("producer_welfare", "prod_w", ".4f"), ("active_users", "retained", ".3f"),
         ("active_producers", "producers", "d"), ("homogenization", "homog", ".4f"),
         ("demand_entropy", "entropy", ".4f"), ("content_features", "features", "d"),
         ("departed", "departed", "d"), ("exits", "exits", "d"),
         ("converged", "eq", ""))


@dataclass(frozen=True)
class CoevolveConfig:
    """Producers and users co-evolving over epochs (``recgym coevolve``)."""

    out: str = option(None, "Output folder: config.json, history.csv, coevolve.png.",
                      metavar="DIR")
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
        self.make_rules()  # validates --rule with --temperature, --k, --floor
        check_choice("--payoff", self.payoff, PAYOFFS.names)
        check_float("--outside-option", self.outside_option, 0.0)
        try:
            make_user_dynamics(self.user_dynamics)
        except ValueError as exc:
            raise ValueError(f"--user-dynamics: {exc}") from None
        check_float("--user-outside-option", self.user_outside_option, 0.0)
        check_ints("--user-patience", self.user_patience, 1)
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
        return ["rule", *HISTORY_COLUMNS, *self.scf_columns]

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
        """What ``config.json`` records: every flag, the rules' and SCFs' column names,
        the ``n_users`` starting users, the data file and its sha256 (real data;
        ``require_data`` refuses a missing or wrong file: call it before writing)."""
        values: dict[str, Any] = {"experiment": self.experiment}
        for key, value in dataclasses.asdict(self).items():
            values[key] = list(value) if isinstance(value, tuple) else value
        values.update(rules=[rule.spec for rule in self.make_rules()],
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
    """What ``run_coevolve`` did: every rule's history, where it went, what it computed."""

    history: pd.DataFrame
    folder: Path
    figure: Path
    rules: list[str]
    n_computed: int
    seconds: float


def load_start_users(config: CoevolveConfig) -> np.ndarray:
    """The starting users ``(K, d)``: the first ``--n-users`` of the data (all by default)."""
    users = load_users(config.dataset, config.dim, config.embedding_seed, path=config.data_path)
    if config.n_users is not None and config.n_users > users.shape[0]:
        raise ValueError(f"--n-users {config.n_users}: {config.dataset} has only "
                         f"{users.shape[0]} users")
    return users if config.n_users is None else users[:config.n_users]


def run_coevolve(config: CoevolveConfig, echo: Callable[[str], None] | None = None
                 ) -> CoevolveResult:
    """Run every rule of ``config`` (module docstring), writing ``config.out``.

    ``echo`` prints the table's lines (default: ``tqdm.write`` to stdout, which keeps
    the progress bar on stderr intact).
    """
    echo = echo or (lambda line: tqdm.write(line, file=sys.stdout))
    start = time.perf_counter()
    users = load_start_users(config)
    games = [EngagementGame(users, config.n_producers, rule, payoff=config.payoff,
                            outside_option=config.outside_option)
             for rule in config.make_rules()]
    settings = config.settings(users.shape[0])
    out = Path(config.out)
    make_folder(out)
    with folder_lock(out), sigterm_as_interrupt():
        write_or_check_config(out, settings, NON_RESULT_FIELDS, (HISTORY_FILE, FIGURE_FILE))
        rules = settings["rules"]
        kept = _finished_rules(out / HISTORY_FILE, config.columns, rules, config.epochs)
        done = set(kept["rule"])
        new_rows = _run_rules(config, [g for g, r in zip(games, rules, strict=True)
                                       if r not in done], len(done), out, echo)
        on_disk = _joined(kept, pd.DataFrame(new_rows, columns=config.columns))
        history = _in_rule_order(on_disk, rules)
        _write_history(out / HISTORY_FILE, config.columns, history.to_dict("records"),
                       replace=history["rule"].tolist() != on_disk["rule"].tolist())
        figure = _draw(history, settings, out / FIGURE_FILE, FIGURE_DPI)
    return CoevolveResult(history, out, figure, rules, len(rules) - len(done),
                          time.perf_counter() - start)


def _run_rules(config: CoevolveConfig, games: Sequence[EngagementGame], n_done: int,
               out: Path, echo: Callable[[str], None]) -> list[dict[str, Any]]:
    """Run ``games`` in turn, appending each epoch's row to ``history.csv`` as it ends."""
    rows: list[dict[str, Any]] = []
    total = (n_done + len(games)) * config.epochs
    with tqdm(total=total, initial=n_done * config.epochs, unit="epoch", desc=EXPERIMENT,
              file=sys.stderr, disable=not config.progress, dynamic_ncols=True) as bar, \
            _appender(out / HISTORY_FILE, config.columns) as append:
        for game in games:
            spec = game.rule.spec
            echo(f"rule {spec}:")
            echo(_header(config.scf_columns))

            def finished(row: dict[str, Any], spec: str = spec) -> None:
                row = {"rule": spec, **row}
                append(row)
                rows.append(row)
                bar.update()
                if row["epoch"] in (1, config.epochs) or row["epoch"] % config.every == 0:
                    echo(_line(row, config.scf_columns))

            coevolve(game, user_dynamics=config.user_dynamics,
                     user_outside_option=config.user_outside_option,
                     user_patience=config.user_patience, epochs=config.epochs,
                     moves_per_epoch=config.moves_per_epoch, seed=config.seed,
                     scf=list(config.scf or ()), record="none", progress=finished)
    return rows


# ---------------------------------------------------------------------------
# history.csv
# ---------------------------------------------------------------------------

def _cell(value: object) -> str:
    """A history value as CSV text (floats round-trip exactly)."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))
    return str(value)


def _write_rows(handle: IO, columns: Sequence[str], rows: Sequence[dict[str, Any]],
                header: bool) -> None:
    writer = csv.writer(handle, lineterminator="\n")
    if header:
        writer.writerow(columns)
    writer.writerows([_cell(row[c]) for c in columns] for row in rows)


@contextlib.contextmanager
def _appender(path: Path, columns: Sequence[str]) -> Iterator[Callable[[dict], None]]:
    """``append(row)`` adds one row to ``path`` (with the header if it is new) and
    flushes it, so an interrupted run keeps every finished epoch."""
    check_regular_file(path)
    new = not path.exists()
    with open(path, "a", encoding="utf-8", newline="") as handle:
        if new:
            _write_rows(handle, columns, [], header=True)
            handle.flush()

        def append(row: dict[str, Any]) -> None:
            _write_rows(handle, columns, [row], header=False)
            handle.flush()

        yield append


def _write_history(path: Path, columns: Sequence[str], rows: Sequence[dict[str, Any]],
                   replace: bool) -> None:
    """Rewrite ``history.csv`` with ``rows`` (atomically) when ``replace``."""
    if replace:
        replace_file(path, lambda handle: _write_rows(handle, columns, rows, header=True))


def _read_csv(path: Path, columns: Sequence[str] | None) -> pd.DataFrame:
    """The rows of ``path`` (a last line cut short is left out); ``ValueError`` if its
    header is not ``columns`` (any header with a ``rule`` and an ``epoch`` column when
    ``columns`` is None) or it cannot be parsed."""
    text = path.read_text(encoding="utf-8")
    text = text[:text.rfind("\n") + 1]
    found = next(csv.reader([text.partition("\n")[0]]), [])
    wanted = list(columns) if columns is not None else found
    if found != wanted or not {"rule", "epoch"} <= set(found):
        raise ValueError(f"{path} does not have the columns of this run "
                         f"({', '.join(columns or ('rule', 'epoch', '...'))}); choose another "
                         "--out folder")
    try:
        return pd.read_csv(io.StringIO(text), dtype={"rule": str})
    except (ValueError, pd.errors.ParserError) as exc:
        raise ValueError(f"{path} cannot be read ({exc}); delete it to compute it again, or "
                         "choose another --out folder") from None


def _finished_rules(path: Path, columns: Sequence[str], rules: Sequence[str],
                    epochs: int) -> pd.DataFrame:
    """The rows of the rules whose ``epochs`` epochs are all in ``path`` (complete, no
    value missing); the file is rewritten without the others' rows."""
    empty = pd.DataFrame(columns=list(columns))
    if not check_regular_file(path):
        return empty
    raw = path.read_bytes()
    if b"\n" not in raw:  # cut short while its header was written
        _write_history(path, columns, [], replace=True)
        return empty
    frame = _read_csv(path, columns)
    complete = [rule for rule in rules if _complete(frame[frame["rule"] == rule], epochs)]
    kept = _in_rule_order(frame[frame["rule"].isin(complete)], complete)
    if len(kept) != len(frame) or not raw.endswith(b"\n"):
        _write_history(path, columns, kept.to_dict("records"), replace=True)
    return kept


def _complete(rows: pd.DataFrame, epochs: int) -> bool:
    return (sorted(rows["epoch"].tolist()) == list(range(1, epochs + 1))
            and not rows.isna().to_numpy().any())


def _joined(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """``first``'s rows, then ``second``'s (either may be empty)."""
    parts = [frame for frame in (first, second) if not frame.empty]
    return pd.concat(parts, ignore_index=True) if len(parts) == 2 else \
        (parts[0] if parts else first).reset_index(drop=True)


def _in_rule_order(frame: pd.DataFrame, rules: Sequence[str]) -> pd.DataFrame:
    """``frame`` sorted by the position of its rule in ``rules``, then by epoch."""
    position = frame["rule"].map({rule: i for i, rule in enumerate(rules)})
    order = np.lexsort((frame["epoch"].to_numpy(), position.to_numpy()))
    return frame.iloc[order].reset_index(drop=True)


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
    """The settings (``{}`` without ``config.json``) and the rows of a saved run."""
    settings = read_config(folder / CONFIG_FILE) or {}
    path = folder / HISTORY_FILE
    if not check_regular_file(path):
        raise ValueError(f"{folder} holds no {HISTORY_FILE}: nothing to draw")
    columns = (["rule", *HISTORY_COLUMNS, *settings["scf_columns"]]
               if "scf_columns" in settings else None)
    return settings, _read_csv(path, columns)


def draw_folder(folder: Path, figure: Path, dpi: int = FIGURE_DPI) -> Path:
    """Draw the saved run in ``folder`` into ``figure`` (a PNG); its path."""
    settings, history = read_history(folder)
    return _draw(history, settings, figure, dpi)


def _draw(history: pd.DataFrame, settings: dict[str, Any], figure: Path, dpi: int) -> Path:
    from recgym.experiments.coevolve_plots import save_coevolve_figure

    rules = settings.get("rules") or list(dict.fromkeys(history["rule"]))
    return save_coevolve_figure(history, figure, rules=rules, title=_title(settings), dpi=dpi)


def _title(settings: dict[str, Any]) -> str:
    """The figure's title: the users, the game and the users' dynamics."""
    if not settings:
        return ""
    return (f"{settings['dataset']} (K={settings['start_users']}, d={settings['dim']}), "
            f"n={settings['n_producers']}, payoff {settings['payoff']}; users "
            f"{settings['user_dynamics']}, w={settings['user_outside_option']:g}, "
            f"P={settings['user_patience']}; {settings['moves_per_epoch']} moves per epoch, "
            f"seed {settings['seed']}")


# ---------------------------------------------------------------------------
# The printed table
# ---------------------------------------------------------------------------

def _widths(scf_columns: Sequence[str]) -> list[tuple[str, str, str, int]]:
    columns = [*TABLE, *((name, name, ".4f") for name in scf_columns)]
    return [(key, head, fmt, max(len(head), 6)) for key, head, fmt in columns]


def _header(scf_columns: Sequence[str]) -> str:
    return "  ".join(f"{head:>{width}}" for _, head, _, width in _widths(scf_columns))


def _line(row: dict[str, Any], scf_columns: Sequence[str]) -> str:
    cells = []
    for key, _, fmt, width in _widths(scf_columns):
        value = row[key]
        text = ("yes" if value else "no") if key == "converged" else format(value, fmt)
        cells.append(f"{text:>{width}}")
    return "  ".join(cells)


def format_summary(result: CoevolveResult) -> str:
    """The closing lines: where the history and figure are and every rule's last epoch."""
    width = max(len(rule) for rule in result.rules)
    scfs = [c for c in result.history.columns if c not in ("rule", *HISTORY_COLUMNS)]
    last = result.history.groupby("rule", sort=False).tail(1)
    lines = [f"{len(result.history)} epochs of {len(result.rules)} rule(s) in "
             f"{result.folder / HISTORY_FILE} ({result.n_computed} rule(s) computed now, "
             f"{len(result.rules) - result.n_computed} already there) in "
             f"{result.seconds:.1f} s", "last epoch per rule:",
             f"{'rule':<{width}}  {_header(scfs)}"]
    lines += [f"{row['rule']:<{width}}  {_line(row, scfs)}" for row in last.to_dict("records")]
    lines.append(f"figure: {result.figure}")
    return "\n".join(lines)
