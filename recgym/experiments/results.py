"""Per-run results files, written as runs finish, safe to resume, checked when read.

One row per dynamics run, with exactly the columns of the paper's published
files (``recgym.published``):

``dataset, rule, temperature, embedding_seed, [run], dim, n_producers, converged,
iterations, counts, total_producer_utility, min_producer_utility,
max_producer_utility, avg_user_utility, min_user_utility, max_user_utility``

(``run`` only in experiment 1; ``temperature`` empty for linear serving;
``counts`` the producers per feature, space-separated). Utilities are sums over
users for producers and per-user values for users, at the final profile. Unlike
the published files, which hold ``-1`` there, runs that did not converge carry
their real final utilities.

Stores
------
``CsvStore`` appends rows to ``runs.csv`` and flushes them to disk after every
batch; a line cut short by an interruption is dropped when the file is opened
again, and a file holding only the start of its header line (interrupted while
it was written) is started afresh with a ``RuntimeWarning`` naming it.
``ParquetStore`` writes one part file per batch into the folder ``runs.parquet``.
``finalize`` rewrites the rows in the sweep's own order, so the final file does
not depend on which worker finished first. A ``CsvStore`` may have another name
(``recgym coevolve``'s ``history.csv``) and write every value by ``csv_cell``
(``exact=True``): floats by ``repr``, so that a row read back and written again is
the same text, however the frame holding it is typed.

Resuming
--------
``load`` returns the rows as found (a CSV store: every field as text) indexed by
their location (``"line 7"``, ``"part-000002.parquet row 3"``), plus the lines it
could not split into fields. ``check_rows`` keeps the rows that are complete,
well formed and belong to the sweep; the sweep recomputes the others.

Files stay inside their folder
------------------------------
Whole files are written by ``replace_file``: to a fresh temporary file made by
``tempfile.mkstemp`` in the same folder (never an existing name or symlink), then
renamed over the target. A target (or a file appended to) that exists but is not
a regular file, such as a symlink, is refused with a ``ValueError``.
"""

from __future__ import annotations

import csv
import io
import numbers
import os
import stat
import tempfile
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

BASE_COLUMNS = ("dataset", "rule", "temperature", "embedding_seed", "run", "dim", "n_producers",
                "converged", "iterations", "counts", "total_producer_utility",
                "min_producer_utility", "max_producer_utility", "avg_user_utility",
                "min_user_utility", "max_user_utility")
#: Columns that identify a run (``run`` only where present).
KEY_COLUMNS = ("dataset", "rule", "temperature", "embedding_seed", "run", "dim", "n_producers")
UTILITY_COLUMNS = BASE_COLUMNS[-6:]
RESULT_NAMES = {"csv": "runs.csv", "parquet": "runs.parquet"}
#: Stands for linear serving's missing temperature when keys are matched
#: (temperatures are > 0, so it cannot be mistaken for one).
LINEAR_TEMPERATURE = -1.0

#: Largest integer a float64 holds exactly; integer fields above it are refused.
MAX_EXACT_INT = 2**53

#: ``(dataset, rule, temperature or None, embedding_seed, [run], dim, n_producers)``.
Key = tuple
#: Where a row was read (``"line 7"``) -> what is wrong with it.
Problems = dict[str, str]


def columns_for(experiment: str) -> tuple[str, ...]:
    """Result columns of ``exp1`` (with ``run``) or ``exp2`` (without)."""
    return BASE_COLUMNS if experiment == "exp1" else tuple(c for c in BASE_COLUMNS if c != "run")


def key_columns(columns: object) -> tuple[str, ...]:
    """The key columns present among ``columns``."""
    present = set(columns)
    return tuple(c for c in KEY_COLUMNS if c in present)


def key_index(keys: Sequence[Key], names: tuple[str, ...]) -> pd.MultiIndex:
    """``keys`` as a MultiIndex with levels ``names`` (linear: ``LINEAR_TEMPERATURE``)."""
    position = names.index("temperature")
    rows = [k[:position] + (LINEAR_TEMPERATURE if k[position] is None else float(k[position]),)
            + k[position + 1:] for k in keys]
    return pd.MultiIndex.from_tuples(rows, names=list(names))


def read_results(path: str | os.PathLike) -> pd.DataFrame:
    """Read a results file (``.csv``, ``.csv.gz``, ``.parquet``) or a sweep folder.

    CSV floats are parsed round-trip exact.
    """
    path = Path(path)
    if path.is_dir() and not path.name.endswith(".parquet"):
        for name in RESULT_NAMES.values():
            if (path / name).exists():
                return read_results(path / name)
        raise FileNotFoundError(f"no results file ({' or '.join(RESULT_NAMES.values())}) in "
                                f"{path}")
    if path.name.endswith(".parquet"):
        _require_pyarrow()
        return pd.read_parquet(path)
    return read_csv_exact(path)


def read_csv_exact(path: str | os.PathLike) -> pd.DataFrame:
    """``pandas.read_csv`` with floats parsed round-trip exact (pandas 2 needs asking)."""
    if int(pd.__version__.split(".")[0]) < 3:
        return pd.read_csv(path, float_precision="round_trip")
    return pd.read_csv(path)  # round-trip exact by default


def _require_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise ImportError('Parquet results need pyarrow: pip install "recgym[parquet]" '
                          "(or use --format csv)") from exc


# ---------------------------------------------------------------------------
# Files that stay inside their folder
# ---------------------------------------------------------------------------

def check_regular_file(path: Path) -> bool:
    """True if ``path`` is a regular file, False if absent; else a ``ValueError``.

    A symlink is refused even if it points to a regular file: recgym writes only
    files it created in the output folder.
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(mode):
        what = "a symlink" if stat.S_ISLNK(mode) else "a folder" if stat.S_ISDIR(mode) else \
            "not a regular file"
        raise ValueError(f"{path} is {what}; recgym reads and writes only regular files it "
                         "created there: remove it or choose another --out folder")
    return True


def _open_regular(path: Path, flags: int) -> int:
    """``os.open(path, flags)`` refusing symlinks (``O_NOFOLLOW``) and non-regular files."""
    check_regular_file(path)
    try:
        fd = os.open(path, flags | getattr(os, "O_NOFOLLOW", 0), 0o666)
    except OSError as exc:  # e.g. ELOOP: replaced by a symlink since the check
        raise ValueError(f"{path} cannot be opened ({exc.strerror}); remove it or choose "
                         "another --out folder") from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        check_regular_file(path)  # raises, naming what it is
    return fd


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def replace_file(path: Path, write: Callable[[IO], None], binary: bool = False) -> None:
    """Make ``path`` hold what ``write(handle)`` writes, atomically.

    ``write`` fills a fresh temporary file that ``tempfile.mkstemp`` creates in the
    same folder (it never opens an existing name, so a planted symlink is not
    followed); the file gets the usual permissions (``0o666`` less the umask) and is
    renamed over ``path``. Raises ``ValueError`` if ``path`` exists and is not a
    regular file (``check_regular_file``).
    """
    check_regular_file(path)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb" if binary else "w", newline=None if binary else "") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        if os.path.lexists(temporary):
            os.unlink(temporary)


# ---------------------------------------------------------------------------
# Checking rows read back
# ---------------------------------------------------------------------------

def parse_lines(text: str, columns: tuple[str, ...], first_line: int = 2
                ) -> tuple[pd.DataFrame, Problems]:
    """The lines of ``text`` (CSV without header) as a frame of text fields.

    Each physical line is one record (the sweep never writes a line break inside a
    field; a rule spec with a comma is quoted). Returns the lines that split into
    ``len(columns)`` fields (every field a ``str``), indexed by ``"line N"`` counting
    from ``first_line``, and the other lines -> their problem.
    """
    pieces = text.split("\n")
    if pieces[-1] == "":  # what follows the last newline
        pieces.pop()
    labels = np.array([f"line {n}" for n in range(first_line, first_line + len(pieces))],
                      dtype=object)
    fields = [_fields(line.removesuffix("\r")) for line in pieces]
    counts = np.array([-1 if f is None else len(f) for f in fields], dtype=np.int64)
    good = counts == len(columns)
    problems = {label: "is not a well-formed CSV line" if count < 0 else
                f"has {count} fields, expected {len(columns)}"
                for label, count in zip(labels[~good], counts[~good], strict=True)}
    frame = pd.DataFrame([fields[i] for i in np.flatnonzero(good)], columns=list(columns),
                         index=pd.Index(labels[good], dtype=object), dtype=object)
    return frame, problems


def _fields(line: str) -> list[str] | None:
    """The CSV fields of one line, or None if its quoting is broken."""
    try:
        return next(csv.reader([line], strict=True), [])
    except csv.Error:
        return None


def read_text_rows(path: Path, columns: tuple[str, ...]) -> tuple[pd.DataFrame, Problems]:
    """``parse_lines`` of a CSV file whose header must be exactly ``columns``.

    Raises ``ValueError`` if the header differs (or ``path`` is not a regular file).
    """
    fd = _open_regular(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as handle:
        text = handle.read().decode("utf-8", errors="replace")
    header, _, body = text.partition("\n")
    if header.removesuffix("\r") != ",".join(columns):
        raise ValueError(f"{path} does not have the expected columns {', '.join(columns)}; "
                         "use another --out folder")
    return parse_lines(body, columns)


def _whole(values: np.ndarray) -> np.ndarray:
    """Where ``values`` are finite whole numbers (NaN and infinities are not)."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(values) & (np.mod(values, 1) == 0)


class RowCheck:
    """The first problem of each row of ``frame``, found column by column.

    Each method checks one column of every row at once (vectorised), flags the
    rows that fail, and returns the column's parsed values (meaningless where a
    row is flagged).
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.problem = np.full(len(frame), "", dtype=object)

    def flag(self, bad: np.ndarray, what: str) -> None:
        """Record ``what`` for the rows ``bad`` that have no problem yet."""
        self.problem[np.asarray(bad, dtype=bool) & (self.problem == "")] = what

    @property
    def valid(self) -> np.ndarray:
        """Rows with no problem."""
        return self.problem == ""

    def problems(self) -> Problems:
        """Location (the frame's index) -> problem, for every flagged row."""
        bad = ~self.valid
        return dict(zip(self.frame.index[bad].astype(str), self.problem[bad], strict=True))

    def repeats(self, keys: np.ndarray | pd.Index, what: str) -> None:
        """Flag the rows without a problem whose ``keys`` entry an earlier such row has."""
        keys = keys if isinstance(keys, pd.Index) else pd.Index(keys)
        rows = np.flatnonzero(self.valid)
        bad = np.zeros(len(self.problem), dtype=bool)
        bad[rows[keys[rows].duplicated()]] = True
        self.flag(bad, what)

    def text(self, name: str) -> np.ndarray:
        """Column ``name`` as ``str`` (``""`` where missing), flagging empty fields."""
        column = self.frame[name]
        text = column.astype(str).where(column.notna(), "").to_numpy(dtype=object)
        self.flag(text == "", f"{name} is missing")
        return text

    def numbers(self, name: str, missing_ok: bool = False, infinite_ok: bool = False
                ) -> np.ndarray:
        """Column ``name`` as float64, flagging text that is not a finite number.

        With ``missing_ok``, empty fields are allowed and read as NaN; with
        ``infinite_ok``, infinities are numbers too.
        """
        column = self.frame[name]
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
        missing = column.isna().to_numpy() | (column.astype(str) == "").to_numpy()
        bad = np.isnan(values) if infinite_ok else ~np.isfinite(values)
        self.flag(bad & ~(missing & missing_ok),
                  f"{name} is {'not' if missing_ok else 'missing or not'} a "
                  f"{'' if infinite_ok else 'finite '}number")
        return values

    def integers(self, name: str, low: int = 0, high: int | None = None) -> np.ndarray:
        """Column ``name`` as int64, flagging values that are not integers in ``low..high``.

        Without ``high`` the bound is ``MAX_EXACT_INT``.
        """
        values = self.numbers(name)
        top = MAX_EXACT_INT if high is None else high
        ok = _whole(values) & (values >= low) & (values <= top)
        self.flag(~ok, f"{name} must be an integer in {low}.."
                  + ("2**53" if high is None else str(high)))
        return np.where(ok, values, 0).astype(np.int64)

    def number_lists(self, name: str, lengths: np.ndarray) -> np.ndarray:
        """Column ``name``: ``lengths[i]`` numbers separated by single spaces in row ``i``.

        Returns a ``(rows, max(lengths))`` float array (NaN beyond each row's length
        and in flagged rows).
        """
        lengths = np.where(self.valid, lengths, 0)  # a flagged row's length may be garbage
        text = pd.Series(self.text(name), dtype=object)
        fits = ((text.str.count(" ") + 1).to_numpy() == lengths) & (text != "").to_numpy()
        width = int(lengths.max(initial=0))
        table = np.full((len(text), width), np.nan)
        if fits.any():
            parts = text[fits].str.split(" ", expand=True)
            table[fits, :parts.shape[1]] = parts.apply(pd.to_numeric, errors="coerce") \
                .to_numpy(dtype=np.float64)
        inside = np.arange(width) < lengths[:, None]
        self.flag(~fits | ~(np.isfinite(table) | ~inside).all(axis=1),
                  f"{name} must hold dim finite numbers separated by single spaces")
        return table


def check_rows(frame: pd.DataFrame, grid: pd.MultiIndex, max_iter: int
               ) -> tuple[pd.DataFrame, Problems]:
    """Keep the complete, well-formed rows of ``frame`` that belong to the sweep.

    A row is kept when every field is present and right: its key is one of ``grid``
    (the sweep's runs, ``key_index``) and no earlier kept row has it; ``converged``
    is ``True`` or ``False``; ``iterations`` is an integer in ``0..max_iter - 1``
    (``max_iter - 1`` if the run did not converge, the dynamics' convention);
    ``counts`` holds ``dim`` non-negative integers summing to ``n_producers``; every
    utility is a finite number. Every check is vectorised over the rows.

    Parameters
    ----------
    frame : DataFrame
        Rows as a store's ``load`` returns them (text or typed columns), indexed by
        location.
    grid : MultiIndex
        The sweep's keys in sweep order, unique.
    max_iter : int
        The sweep's iteration budget.

    Returns
    -------
    (DataFrame, dict)
        The kept rows, typed as the sweep writes them and indexed by their position
        in ``grid``; and location -> problem for every other row.
    """
    check = RowCheck(frame)
    names = list(grid.names)
    typed: dict[str, np.ndarray] = {name: check.text(name) for name in ("dataset", "rule")}
    temperature = check.numbers("temperature", missing_ok=True)
    typed["temperature"] = temperature
    for name in names[3:]:
        typed[name] = check.integers(name)
    matched = key_index(list(zip(*(typed[n] for n in names[:2]),
                                 np.where(np.isnan(temperature), LINEAR_TEMPERATURE,
                                          temperature),
                                 *(typed[n] for n in names[3:]), strict=True)), tuple(names))
    position = grid.get_indexer(matched)
    check.flag(position < 0, "is not a run of this sweep (its dataset, rule, temperature, "
               "seed, run, dim or n_producers is not among the sweep's settings)")
    converged = check.text("converged")
    check.flag(~np.isin(converged, ["True", "False"]), "converged must be True or False")
    typed["converged"] = converged == "True"
    typed["iterations"] = check.integers("iterations", 0, max_iter - 1)
    check.flag(~typed["converged"] & (typed["iterations"] != max_iter - 1),
               f"a run that did not converge must have iterations = {max_iter - 1}")
    counts = check.number_lists("counts", typed["dim"])
    check.flag(np.any((counts < 0) | ~_whole(counts), axis=1, where=~np.isnan(counts))
               | (np.nansum(counts, axis=1) != typed["n_producers"]),
               "counts must be non-negative integers summing to n_producers")
    typed["counts"] = check.text("counts")
    for name in UTILITY_COLUMNS:
        typed[name] = check.numbers(name)
    check.repeats(position, "repeats the run of an earlier row")
    keep = check.valid
    columns = [c for c in frame.columns if c in typed]
    kept = pd.DataFrame({c: typed[c][keep] for c in columns}, index=position[keep])
    return kept, check.problems()


# ---------------------------------------------------------------------------
# Stores
# ---------------------------------------------------------------------------

def csv_cell(value: object) -> str:
    """One value as CSV text that reads back exactly: bools ``True``/``False``, integers
    as integers, other numbers by the ``repr`` of their float (round-trip exact), the
    rest by ``str``."""
    kind = type(value)
    if kind is float:  # the common cases first: a row of history has dozens of cells
        return repr(value)
    if kind is int or kind is str:
        return str(value)
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))
    return str(value)


def write_cells(handle: IO, columns: Sequence[str], rows: Sequence[dict[str, Any]],
                header: bool = False) -> None:
    """Write ``rows`` (each with every column) to ``handle`` by ``csv_cell``, after the
    header line when ``header``."""
    writer = csv.writer(handle, lineterminator="\n")
    if header:
        writer.writerow(columns)
    writer.writerows([csv_cell(row[c]) for c in columns] for row in rows)


class CsvStore:
    """Results in ``folder/runs.csv`` (or ``folder/name``), appended batch by batch.

    Parameters
    ----------
    folder : path
    columns : tuple of str
        The sweep's columns (the paper's: ``columns_for(experiment)``).
    name : str
        The file's name in ``folder``.
    exact : bool
        Write every value by ``csv_cell`` (and the header by ``csv.writer``) rather
        than by ``DataFrame.to_csv``: a value is written the same whether it comes
        from a task or from a row read back, whatever the column's dtype.
    sync : bool
        ``fsync`` every batch appended, so that it survives a crash of the machine,
        not only of the process (which a flush is enough for). A store appended to
        row by row (``recgym coevolve``'s, every epoch) may leave it off: an ``fsync``
        costs milliseconds, more than a small epoch.
    """

    def __init__(self, folder: str | os.PathLike, columns: tuple[str, ...],
                 name: str = RESULT_NAMES["csv"], exact: bool = False,
                 sync: bool = True) -> None:
        self.path = Path(folder) / name
        self.columns = columns
        self.exact = exact
        self.sync = sync
        if exact:
            line = io.StringIO()
            write_cells(line, columns, [], header=True)
            self._header = line.getvalue()
        else:
            self._header = ",".join(columns) + "\n"

    def load(self) -> tuple[pd.DataFrame, Problems]:
        """Rows already written (every field as text) and the malformed lines.

        A line cut short by an interruption is cut off the file; a file holding only
        the start of the header is removed, with a ``RuntimeWarning``. Raises
        ``ValueError`` if the header differs or ``runs.csv`` is not a regular file.
        """
        empty = pd.DataFrame(columns=list(self.columns), dtype=object)
        if not check_regular_file(self.path):
            return empty, {}
        with os.fdopen(_open_regular(self.path, os.O_RDWR), "r+b") as handle:
            raw = handle.read()
            header = self._header.encode()
            if not raw.startswith(header):
                if not header.startswith(raw):
                    raise ValueError(f"{self.path} does not have the expected columns "
                                     f"{', '.join(self.columns)}; use another --out folder")
                warnings.warn(f"{self.path} holds only {len(raw)} bytes of its header line "
                              "(interrupted while it was written); starting it again",
                              RuntimeWarning, stacklevel=2)
                handle.truncate(0)
                return empty, {}
            cut = raw.rfind(b"\n") + 1
            if cut != len(raw):  # drop a line cut short
                handle.truncate(cut)
        return parse_lines(raw[len(header):cut].decode("utf-8", errors="replace"),
                           self.columns)

    def append(self, rows: list[dict]) -> None:
        """Append ``rows`` (writing the header first into an empty file) and flush them
        (``fsync`` too, with ``sync``)."""
        fd = _open_regular(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        new = os.fstat(fd).st_size == 0
        with os.fdopen(fd, "a", newline="") as handle:
            if new:
                handle.write(self._header)
            if self.exact:
                write_cells(handle, self.columns, rows)
            else:
                pd.DataFrame(rows, columns=list(self.columns)).to_csv(handle, header=False,
                                                                      index=False)
            handle.flush()
            if self.sync:
                os.fsync(handle.fileno())

    def finalize(self, frame: pd.DataFrame) -> None:
        """Replace the file with ``frame`` (``replace_file``)."""
        if self.exact:
            rows = frame[list(self.columns)].to_dict("records")
            replace_file(self.path, lambda handle: write_cells(handle, self.columns, rows,
                                                               header=True))
        else:
            replace_file(self.path, lambda handle: frame.to_csv(handle, index=False,
                                                                columns=list(self.columns)))


class ParquetStore:
    """Results in the folder ``folder/runs.parquet``, one part file per batch.

    Each part is written by ``replace_file``, so it is whole or absent; temporary
    files left by an interruption are deleted by ``load``.
    """

    def __init__(self, folder: str | os.PathLike, columns: tuple[str, ...]) -> None:
        _require_pyarrow()
        self.path = Path(folder) / RESULT_NAMES["parquet"]
        self.columns = columns

    def _parts(self) -> list[Path]:
        """The part files, in order; ``ValueError`` if the folder or a part is a symlink."""
        if not os.path.lexists(self.path):
            return []
        if self.path.is_symlink() or not self.path.is_dir():
            raise ValueError(f"{self.path} is not a folder recgym created (a symlink or a "
                             "file); remove it or choose another --out folder")
        parts = sorted(self.path.glob("part-*.parquet"))
        for part in parts:
            check_regular_file(part)
        return parts

    def load(self) -> tuple[pd.DataFrame, Problems]:
        """Rows already written, indexed by ``"part-N.parquet row i"``; unreadable parts."""
        parts = self._parts()
        if self.path.is_dir():
            for tmp in self.path.glob("*.tmp"):
                tmp.unlink()
        frames, problems = [], {}
        for part in parts:
            try:
                frame = pd.read_parquet(part)
            except (OSError, ValueError) as exc:
                problems[part.name] = f"is unreadable ({str(exc).splitlines()[0]})"
                continue
            frame.index = pd.Index([f"{part.name} row {i}" for i in range(len(frame))])
            frames.append(frame.reindex(columns=list(self.columns)))
        if not frames:
            return pd.DataFrame(columns=list(self.columns), dtype=object), problems
        return pd.concat(frames), problems

    def append(self, rows: list[dict]) -> None:
        """Write ``rows`` as a new part file."""
        parts = self._parts()
        self.path.mkdir(exist_ok=True)
        number = int(parts[-1].stem.split("-")[1]) + 1 if parts else 0
        self._write(pd.DataFrame(rows, columns=list(self.columns)), number)

    def _write(self, frame: pd.DataFrame, number: int) -> None:
        replace_file(self.path / f"part-{number:06d}.parquet",
                     lambda handle: frame.to_parquet(handle, index=False), binary=True)

    def finalize(self, frame: pd.DataFrame) -> None:
        """Replace all parts with one part holding ``frame``."""
        old = self._parts()
        self.path.mkdir(exist_ok=True)
        number = int(old[-1].stem.split("-")[1]) + 1 if old else 0
        self._write(frame[list(self.columns)], number)
        for part in old:
            part.unlink()


def open_store(folder: str | os.PathLike, fmt: str, columns: tuple[str, ...]
               ) -> CsvStore | ParquetStore:
    """The store for ``fmt`` (``csv`` or ``parquet``) in ``folder``, with ``columns``."""
    store = {"csv": CsvStore, "parquet": ParquetStore}[fmt]
    return store(folder, columns)
