"""Per-run results files, written as runs finish and safe to resume.

One row per dynamics run, with exactly the columns of the paper's published
files (``../shared/paper/*.csv.gz``):

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
again. ``ParquetStore`` writes one part file per batch into the folder
``runs.parquet`` (each part written to a temporary name, then renamed, so a part
is either whole or absent). ``finalize`` rewrites the rows in the sweep's own
order, so the final file does not depend on which worker finished first.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd

BASE_COLUMNS = ("dataset", "rule", "temperature", "embedding_seed", "run", "dim", "n_producers",
                "converged", "iterations", "counts", "total_producer_utility",
                "min_producer_utility", "max_producer_utility", "avg_user_utility",
                "min_user_utility", "max_user_utility")
#: Columns that identify a run (``run`` only where present).
KEY_COLUMNS = ("dataset", "rule", "temperature", "embedding_seed", "run", "dim", "n_producers")
UTILITY_COLUMNS = BASE_COLUMNS[-6:]
RESULT_NAMES = {"csv": "runs.csv", "parquet": "runs.parquet"}

Key = tuple


def columns_for(experiment: str) -> tuple[str, ...]:
    """Result columns of ``exp1`` (with ``run``) or ``exp2`` (without)."""
    return BASE_COLUMNS if experiment == "exp1" else tuple(c for c in BASE_COLUMNS if c != "run")


def key_columns(columns: object) -> tuple[str, ...]:
    """The key columns present among ``columns``."""
    present = set(columns)
    return tuple(c for c in KEY_COLUMNS if c in present)


def _temperature_key(value: object) -> float | None:
    """``None`` for linear serving (``None`` or NaN), else the float."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def row_key(row: dict, keys: tuple[str, ...]) -> Key:
    """Hashable identity of a row (``temperature`` NaN and ``None`` are the same)."""
    return tuple(_temperature_key(row[c]) if c == "temperature" else
                 (str(row[c]) if c in ("dataset", "rule") else int(row[c])) for c in keys)


def frame_keys(frame: pd.DataFrame) -> list[Key]:
    """``row_key`` of every row of ``frame``, in order."""
    keys = key_columns(frame.columns)
    return [row_key(row, keys) for row in frame[list(keys)].to_dict("records")]


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


class CsvStore:
    """Results in ``folder/runs.csv``, appended batch by batch.

    Parameters
    ----------
    folder : path
    columns : tuple of str
        ``columns_for(experiment)``.
    """

    def __init__(self, folder: str | os.PathLike, columns: tuple[str, ...]) -> None:
        self.path = Path(folder) / RESULT_NAMES["csv"]
        self.columns = columns
        self._header = ",".join(columns) + "\n"

    def load(self) -> pd.DataFrame:
        """Rows already written (repairing a line cut short by an interruption)."""
        if not self.path.exists():
            return pd.DataFrame(columns=list(self.columns))
        raw = self.path.read_bytes()
        header = self._header.encode()
        if not raw.startswith(header):
            if header.startswith(raw):  # interrupted while writing the header
                self.path.unlink()
                return pd.DataFrame(columns=list(self.columns))
            raise ValueError(f"{self.path} does not have the expected columns "
                             f"{', '.join(self.columns)}; use another --out folder")
        cut = raw.rfind(b"\n") + 1
        if cut != len(raw):  # drop a line cut short
            with open(self.path, "r+b") as handle:
                handle.truncate(cut)
        return read_results(self.path)

    def append(self, rows: list[dict]) -> None:
        """Append ``rows`` and flush them to disk."""
        new = not self.path.exists()
        with open(self.path, "a", newline="") as handle:
            if new:
                handle.write(self._header)
            pd.DataFrame(rows, columns=list(self.columns)).to_csv(handle, header=False,
                                                                  index=False)
            handle.flush()
            os.fsync(handle.fileno())

    def finalize(self, frame: pd.DataFrame) -> None:
        """Replace the file with ``frame`` (written to a temporary name, then renamed)."""
        tmp = self.path.with_name(self.path.name + ".tmp")
        frame.to_csv(tmp, index=False, columns=list(self.columns))
        os.replace(tmp, self.path)


class ParquetStore:
    """Results in the folder ``folder/runs.parquet``, one part file per batch."""

    def __init__(self, folder: str | os.PathLike, columns: tuple[str, ...]) -> None:
        _require_pyarrow()
        self.path = Path(folder) / RESULT_NAMES["parquet"]
        self.columns = columns

    def _parts(self) -> list[Path]:
        return sorted(self.path.glob("part-*.parquet")) if self.path.exists() else []

    def load(self) -> pd.DataFrame:
        """Rows already written (unfinished temporary parts are deleted)."""
        if self.path.exists():
            for tmp in self.path.glob("*.tmp"):
                tmp.unlink()
        parts = self._parts()
        if not parts:
            return pd.DataFrame(columns=list(self.columns))
        return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)

    def append(self, rows: list[dict]) -> None:
        """Write ``rows`` as a new part file."""
        self.path.mkdir(parents=True, exist_ok=True)
        parts = self._parts()
        number = int(parts[-1].stem.split("-")[1]) + 1 if parts else 0
        self._write(pd.DataFrame(rows, columns=list(self.columns)), number)

    def _write(self, frame: pd.DataFrame, number: int) -> Path:
        target = self.path / f"part-{number:06d}.parquet"
        tmp = target.with_name(target.name + ".tmp")
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, target)
        return target

    def finalize(self, frame: pd.DataFrame) -> None:
        """Replace all parts with one part holding ``frame``."""
        old = self._parts()
        number = int(old[-1].stem.split("-")[1]) + 1 if old else 0
        self._write(frame[list(self.columns)], number)
        for part in old:
            part.unlink()


def open_store(folder: str | os.PathLike, fmt: str, experiment: str) -> CsvStore | ParquetStore:
    """The store for ``fmt`` (``csv`` or ``parquet``) in ``folder``."""
    store = {"csv": CsvStore, "parquet": ParquetStore}[fmt]
    return store(folder, columns_for(experiment))
