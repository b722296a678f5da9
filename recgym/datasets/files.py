"""Finding and reading ratings files.

A data file is found either at a ``path`` the caller gives (the file itself, or a
folder) or under the data folder: the one named by the environment variable
``RECGYM_DATA``, else the user data folder (``$XDG_DATA_HOME/recgym``, default
``~/.local/share/recgym``), where ``recgym download NAME`` puts files by default.
A folder may be laid out like the data folder (``ml-100k/u.data``,
``rentrunway/rentrunway_preproc.csv``, ``amazon/Digital_Music.csv``) or be the
dataset's own folder holding the file directly (``ml-100k/`` from GroupLens'
zip). An explicit ``path`` is never silently replaced by the data folder. With
``download=True`` a missing file is downloaded (``recgym.datasets.download``).

Ratings CSV files (RentTheRunway, Amazon, ``from_ratings``) hold three
comma-separated columns ``user_id,item_id,rating``, with or without a header
line: the first line is a header exactly when its third field is not a number.
User and item ids are read as strings (ids such as ``007`` stay distinct from
``7``); ratings as float64. Readers may accept extra layouts of more columns
(the Amazon v2 ``item,user,rating,timestamp`` file): without a header by
position, with a header by the columns' names.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pandas loads inside the readers: `recgym --help` does not need it
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
    name : str
        Name for ``recgym download NAME`` (``recgym.datasets.download``), or ``""``
        if the file cannot be downloaded.
    separator : str
        Between the fields of a line.
    """

    title: str
    relative_path: str
    source: str
    name: str = ""
    separator: str = ","

    @property
    def filename(self) -> str:
        """The file's own name, e.g. ``"u.data"``."""
        return Path(self.relative_path).name


def data_root() -> Path:
    """The data folder: ``$RECGYM_DATA``, else ``$XDG_DATA_HOME/recgym``, else
    ``~/.local/share/recgym`` (not created here)."""
    env = os.environ.get(DATA_ENV, "")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "recgym"


#: Where each real dataset's ratings file lives and where it comes from.
MOVIELENS_100K = DataFile(
    "MovieLens-100k", "ml-100k/u.data",
    "https://grouplens.org/datasets/movielens/100k/ (ml-100k.zip; the ratings are "
    "ml-100k/u.data, tab-separated user item rating timestamp)", "movielens-100k",
    separator="\t")
RENT_THE_RUNWAY = DataFile(
    "RentTheRunway", "rentrunway/rentrunway_preproc.csv",
    "the paper's preprocessed ratings file rentrunway_preproc.csv (CSV user_id,item_id,rating "
    "with ratings in 1..5), built from the RentTheRunway clothing-fit data at "
    "https://cseweb.ucsd.edu/~jmcauley/datasets.html#clothing_fit", "rentrunway")
AMAZON_DIGITAL_MUSIC = DataFile(
    "Amazon Digital Music", "amazon/Digital_Music.csv",
    "https://cseweb.ucsd.edu/~jmcauley/datasets/amazon_v2/ (the 'ratings only' CSV of the "
    "Digital Music category, Digital_Music.csv)", "amazon-music")


#: Dataset name -> its ratings file.
DATA_FILES = {spec.name: spec for spec in (MOVIELENS_100K, RENT_THE_RUNWAY,
                                           AMAZON_DIGITAL_MUSIC)}


def locate(spec: DataFile, path: PathLike | None = None) -> Path:
    """The ratings file of ``spec``, from ``path`` or else from the data folder.

    Parameters
    ----------
    spec : DataFile
    path : str or os.PathLike, optional
        The file itself, or a folder holding ``spec.relative_path`` or
        ``spec.filename``. Default: the data folder (``data_root()``).

    Returns
    -------
    pathlib.Path of an existing file.

    Raises
    ------
    FileNotFoundError
        Naming the file, every place looked at and how to obtain it (including
        ``recgym download NAME`` and the loaders' ``download=True``).
    TypeError
        If ``path`` is not a string or path.
    """
    if path is not None and not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    if path is not None:
        root, origin = Path(path).expanduser(), f"path={os.fspath(path)!r}"
    else:
        root, origin = data_root(), _root_origin()
    if root.is_file():
        return root
    candidates = [root / spec.relative_path, root / spec.filename]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(_missing_message(spec, origin, candidates, path is not None))


def _root_origin() -> str:
    """Where ``data_root()`` comes from, for messages."""
    env = os.environ.get(DATA_ENV, "")
    if env:
        return f"${DATA_ENV}={env!r}"
    return f"the default data folder; {DATA_ENV} is not set"


def _missing_message(spec: DataFile, origin: str, candidates: list[Path],
                     explicit: bool) -> str:
    """One line: what is missing, where it was looked for and how to get it."""
    looked = " and ".join(str(c) for c in candidates)
    note = (f" ({DATA_ENV} is not consulted when a path (--data) is given)" if explicit
            else "")
    fetch = ""
    if spec.name:
        fetch = (f"download it with `recgym download {spec.name}` (into the data folder, or "
                 f"--data DIR) or download=True in Python, or ")
    return (f"{spec.title} ratings file {spec.filename!r} not found{note}: looked for "
            f"{looked} (from {origin}); {fetch}obtain it from {spec.source} and give the file "
            f"or its folder (--data PATH on the command line, path= in Python), or set "
            f"{DATA_ENV} to a folder holding {spec.relative_path}")


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


def check_layout(spec: DataFile, file: Path) -> None:
    """``ValueError`` unless ``file`` starts like a ratings table split by
    ``spec.separator``: one of its first two lines (the first may be a header) has at
    least 3 fields, one of them a number. A cheap check, before a sweep writes
    anything, that a data path names a table of this layout (not another dataset's
    file, an archive or a folder listing); the loaders check the rest."""
    with open(file, newline="", encoding="utf-8", errors="replace") as handle:
        lines = list(itertools.islice(handle, 2))
    rows = list(csv.reader(lines, delimiter=spec.separator))
    if not any(len(row) >= 3 and any(_is_number(field) for field in row) for row in rows):
        shown = [line.rstrip("\r\n")[:80] for line in lines]
        raise ValueError(f"{file} does not hold {spec.title} ratings: its first lines {shown!r} "
                         f"are not {spec.source}; check --data (or RECGYM_DATA)")


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


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
    import pandas as pd

    frame = pd.read_csv(path, header=0 if header else None, dtype=str)
    if frame.shape[1] in (headerless_layouts or {}):
        layout = headerless_layouts[frame.shape[1]]
        columns = _columns_by_name(frame) if header else [layout.index(r) for r in ROLES]
        if columns is not None:
            frame = frame.iloc[:, columns]
    return check_ratings_table(frame, f"ratings file {str(path)!r}")


def _columns_by_name(frame: pd.DataFrame) -> list[int] | None:
    """Positions of the user, item and rating columns named in a header (see
    ``COLUMN_ALIASES``), or None unless each role is named exactly once."""
    names = [str(column).strip().lower() for column in frame.columns]
    found = [[i for i, name in enumerate(names) if name in COLUMN_ALIASES[role]]
             for role in ROLES]
    return [hits[0] for hits in found] if all(len(hits) == 1 for hits in found) else None


def check_ratings_table(table: object, name: str = "table") -> pd.DataFrame:
    """Validate a ``user, item, rating`` table; return a fresh copy with those names.

    The three columns are taken by position; recognised names (see
    ``COLUMN_ALIASES``) in the wrong position are an error. Ids must be present;
    ratings must be finite numbers.
    """
    import pandas as pd

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
    import pandas as pd

    values = pd.to_numeric(ratings, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        first = int(bad[0])
        raise ValueError(f"{name} has {bad.size} rating(s) that are missing, NaN, infinite or not "
                         f"numbers; first in row {first}: {ratings.iloc[first]!r}")
    return values
