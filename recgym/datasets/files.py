"""Finding and reading ratings files.

A data file is found either at a ``path`` the caller gives (the file itself, or a
folder) or under the folder named by the environment variable ``RECGYM_DATA``.
A folder may be laid out like ``RECGYM_DATA`` (``ml-100k/u.data``,
``rentrunway/rentrunway_preproc.csv``, ``amazon/Digital_Music.csv``) or be the
dataset's own folder holding the file directly (``ml-100k/`` from GroupLens'
zip). An explicit ``path`` is never silently replaced by ``RECGYM_DATA``.

Ratings CSV files (RentTheRunway, Amazon, ``from_ratings``) hold three
comma-separated columns ``user_id,item_id,rating``, with or without a header
line: the first line is a header exactly when its third field is not a number.
User and item ids are read as strings (ids such as ``007`` stay distinct from
``7``); ratings as float64.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

#: Environment variable naming the folder that holds the data files.
DATA_ENV = "RECGYM_DATA"

#: Recognised column names (lower case) per role, to catch tables whose columns
#: are in the wrong order. Other names are accepted by position.
COLUMN_ALIASES = {
    "user": frozenset({"user", "user_id", "userid", "uid", "reviewerid"}),
    "item": frozenset({"item", "item_id", "itemid", "iid", "asin"}),
    "rating": frozenset({"rating", "ratings", "overall", "score"}),
}
ROLES = ("user", "item", "rating")

PathLike = str | os.PathLike


@dataclass(frozen=True)
class DataFile:
    """Where a dataset's ratings file lives and how to get it.

    Attributes
    ----------
    title : str
        Human-readable name, e.g. ``"MovieLens-100k"``.
    relative_path : str
        Location under ``RECGYM_DATA``, e.g. ``"ml-100k/u.data"``.
    source : str
        Where to obtain the file (shown when it is missing).
    """

    title: str
    relative_path: str
    source: str

    @property
    def filename(self) -> str:
        """The file's own name, e.g. ``"u.data"``."""
        return Path(self.relative_path).name


def locate(spec: DataFile, path: PathLike | None = None) -> Path:
    """The ratings file of ``spec``, from ``path`` or else from ``$RECGYM_DATA``.

    Parameters
    ----------
    spec : DataFile
    path : str or os.PathLike, optional
        The file itself, or a folder holding ``spec.relative_path`` or
        ``spec.filename``.

    Returns
    -------
    pathlib.Path of an existing file.

    Raises
    ------
    FileNotFoundError
        Naming the file, every place looked at and where to obtain it.
    TypeError
        If ``path`` is not a string or path.
    """
    if path is not None and not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    if path is not None:
        root, origin = Path(path).expanduser(), f"path={os.fspath(path)!r}"
    else:
        env = os.environ.get(DATA_ENV, "")
        root, origin = (Path(env).expanduser() if env else None), f"${DATA_ENV}={env!r}"
    if root is not None and root.is_file():
        return root
    candidates = [] if root is None else [root / spec.relative_path, root / spec.filename]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(_missing_message(spec, origin, candidates, path is not None))


def _missing_message(spec: DataFile, origin: str, candidates: list[Path],
                     explicit: bool) -> str:
    if candidates:
        looked = "\n".join(f"  - {c} (from {origin})" for c in candidates)
    else:
        looked = f"  - nowhere: no path was given and {DATA_ENV} is not set"
    note = f" ({DATA_ENV} is not consulted when path is given)" if explicit else ""
    return (
        f"{spec.title} ratings file {spec.filename!r} not found{note}. Looked for:\n{looked}\n"
        f"Obtain it from {spec.source}.\n"
        f"Then pass path=<the file or its folder>, or set {DATA_ENV} to a folder holding "
        f"{spec.relative_path}, e.g. `export {DATA_ENV}=$HOME/recgym-data` with the file at "
        f"$HOME/recgym-data/{spec.relative_path}."
    )


def sha256_of_file(path: Path) -> str:
    """Hex sha256 of the file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_of_frame(frame: pd.DataFrame) -> str:
    """Hex sha256 of the table written as CSV (no index): equal content, equal hash."""
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()


def has_header(path: Path) -> bool:
    """True if the first line's third field is not a number (a header line)."""
    with open(path, newline="", encoding="utf-8") as handle:
        first = next(csv.reader(handle), [])
    if len(first) < 3:
        raise ValueError(f"ratings file {str(path)!r} must have at least 3 comma-separated "
                         f"columns (user_id,item_id,rating); its first line has {len(first)}")
    try:
        float(first[2])
    except ValueError:
        return True
    return False


def read_ratings_csv(path: Path, *, headerless_layouts: dict[int, tuple[str, ...]] | None = None
                     ) -> pd.DataFrame:
    """Read a ratings CSV as a validated ``user, item, rating`` table.

    Parameters
    ----------
    path : pathlib.Path
    headerless_layouts : dict, optional
        Extra column layouts accepted for files without a header, keyed by the
        number of columns; each names the role of every column (``"user"``,
        ``"item"``, ``"rating"`` or anything else to drop), e.g.
        ``{4: ("item", "user", "rating", "timestamp")}``.

    Returns
    -------
    pandas.DataFrame with columns ``user`` (str), ``item`` (str), ``rating`` (float64),
    rows in file order.
    """
    header = has_header(path)
    frame = pd.read_csv(path, header=0 if header else None, dtype=str)
    layout = (headerless_layouts or {}).get(frame.shape[1]) if not header else None
    if layout is not None:
        frame = frame.iloc[:, [layout.index(role) for role in ROLES]]
    return check_ratings_table(frame, f"ratings file {str(path)!r}")


def check_ratings_table(table: object, name: str = "table") -> pd.DataFrame:
    """Validate a ``user, item, rating`` table; return a fresh copy with those names.

    The three columns are taken by position; recognised names (see
    ``COLUMN_ALIASES``) in the wrong position are an error. Ids must be present;
    ratings must be finite numbers.
    """
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame, got {type(table).__name__}")
    columns = list(table.columns)
    if len(columns) != len(ROLES):
        raise ValueError(f"{name} must have exactly 3 columns (user, item, rating), "
                         f"got {len(columns)}: {columns!r}")
    for position, column in enumerate(columns):
        for role, aliases in COLUMN_ALIASES.items():
            if str(column).strip().lower() in aliases and role != ROLES[position]:
                raise ValueError(f"{name} must have its columns in the order (user, item, rating); "
                                 f"column {position} is named {column!r}, which is a {role} column")
    frame = table.copy()
    frame.columns = list(ROLES)
    for role in ("user", "item"):
        missing = np.flatnonzero(frame[role].isna().to_numpy())
        if missing.size:
            raise ValueError(f"{name} has {missing.size} missing {role} id(s), first in row "
                             f"{int(missing[0])}")
    frame["rating"] = _numeric_ratings(frame["rating"], name)
    return frame


def _numeric_ratings(ratings: pd.Series, name: str) -> np.ndarray:
    values = pd.to_numeric(ratings, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        first = int(bad[0])
        raise ValueError(f"{name} has {bad.size} rating(s) that are missing, NaN, infinite or not "
                         f"numbers; first in row {first}: {ratings.iloc[first]!r}")
    return values
