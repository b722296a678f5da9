"""Real-data user embeddings: MovieLens-100k, RentTheRunway, Amazon Digital Music.

Each loader finds the ratings file (``path``, or the data folder ``$RECGYM_DATA``
or ``~/.local/share/recgym``, see ``recgym.datasets.files``; with ``download=True``
a missing file is downloaded, see ``recgym.datasets.download``), returns the
cached embedding if there is one (see ``recgym.datasets.cache``) and otherwise
fits the paper's NMF recipe (see ``recgym.datasets.nmf``) and caches it.

Rating scale. Ratings are handed to scikit-surprise with
``Reader(rating_scale=rating_scale)``, ``(1, 5)`` by default, as in the paper.
In scikit-surprise 1.1 the scale does not change the fit (it only clips the
cross-validation predictions, whose scores are discarded), so it acts here as a
check: every rating must lie in the scale, and the scale must be non-negative,
because NMF needs non-negative ratings. For a signed scale such as Jester's
``(-10, 10)``, shift the ratings first (e.g. ``rating + 11`` with scale ``(1, 21)``).
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import pandas as pd

from recgym._validation import check_int
from recgym.datasets import cache as _cache
from recgym.datasets.download import locate_or_download
from recgym.datasets.files import (
    AMAZON_DIGITAL_MUSIC,
    MOVIELENS_100K,
    RENT_THE_RUNWAY,
    check_ratings_table,
    read_ratings_csv,
    sha256_of_file,
    sha256_of_frame,
)
from recgym.datasets.nmf import (
    CV_FOLDS,
    dataset_from_frame,
    dataset_from_ml100k_file,
    fit_nmf_embedding,
)

#: MovieLens-100k users; each has at least 20 ratings, so all are in the last fold's
#: training set and in the embedding.
MOVIELENS_100K_USERS = 943

#: The paper's rating scale for every dataset.
DEFAULT_RATING_SCALE = (1.0, 5.0)

#: Headerless column layout of the Amazon v2 "ratings only" files, accepted besides
#: the three-column ``user_id,item_id,rating`` layout.
AMAZON_RATINGS_ONLY = ("item", "user", "rating", "timestamp")

Table = pd.DataFrame | str | os.PathLike


@dataclass(frozen=True)
class _Ratings:
    """Ratings ready to fit: a label, a content fingerprint and a surprise loader."""

    kind: str
    label: str
    fingerprint: str
    rating_scale: tuple[float, float]
    load: Callable[[], object]
    #: Users the embedding must have, where known before fitting (the cache checks it).
    n_users: int | None = None


def movielens_100k(dim: int, seed: int, path: str | os.PathLike | None = None, *,
                   cache: bool = True, cache_dir: str | os.PathLike | None = None,
                   progress: bool = True, download: bool = False) -> np.ndarray:
    """MovieLens-100k users (943), embedded by the paper's NMF recipe.

    Parameters
    ----------
    dim : int >= 1
        Embedding dimension ``d`` (NMF factors).
    seed : int in [0, 2**32)
        The paper's embedding seed (13, 17, 19, 23 or 29).
    path : str or os.PathLike, optional
        ``u.data`` itself, a folder holding ``ml-100k/u.data`` or ``u.data``;
        default: ``$RECGYM_DATA``.
    cache : bool
        Read and write the on-disk cache (keyed by the file's sha256, ``dim``, ``seed``).
    cache_dir : str or os.PathLike, optional
        Cache folder; default ``$RECGYM_CACHE``, else the user cache dir.
    progress : bool
        Show a progress bar on stderr while fitting (and downloading).
    download : bool
        If the file is not found, download it from its original source into
        ``path`` (a folder) or the data folder, checking its sha256
        (``recgym.datasets.download``; the same as ``recgym download movielens-100k``).

    Returns
    -------
    array, shape (943, dim), float64, non-negative rows summing to 1.

    Raises
    ------
    FileNotFoundError
        If the file is not found and ``download`` is False (the message says where
        it was looked for and how to download it).

    Examples
    --------
    >>> users = movielens_100k(5, 17)  # doctest: +SKIP
    >>> users.shape  # doctest: +SKIP
    (943, 5)
    """
    file = locate_or_download(MOVIELENS_100K, path, fetch=download, progress=progress)
    ratings = _Ratings("movielens-100k", f"MovieLens-100k ({file.name})", sha256_of_file(file),
                       DEFAULT_RATING_SCALE, lambda: _checked(dataset_from_ml100k_file(str(file)),
                                                              file, DEFAULT_RATING_SCALE),
                       n_users=MOVIELENS_100K_USERS)
    return _embedding(ratings, dim, seed, cache=cache, cache_dir=cache_dir, progress=progress)


def rent_the_runway(dim: int, seed: int, path: str | os.PathLike | None = None, *,
                    cache: bool = True, cache_dir: str | os.PathLike | None = None,
                    progress: bool = True, download: bool = False) -> np.ndarray:
    """RentTheRunway users (about 90.4k), embedded by the paper's NMF recipe.

    The file is the paper's ``rentrunway_preproc.csv``: CSV ``user_id,item_id,rating``
    (the paper's file has that header line; a file without it is read the same way).
    Fitting takes about half a minute; the result is cached.

    Parameters and returns as ``movielens_100k``; ``path`` may be the CSV file or a
    folder holding ``rentrunway/rentrunway_preproc.csv`` or ``rentrunway_preproc.csv``.
    """
    file = locate_or_download(RENT_THE_RUNWAY, path, fetch=download, progress=progress)
    return _csv_embedding("rentrunway", RENT_THE_RUNWAY.title, file, dim, seed, None,
                          cache=cache, cache_dir=cache_dir, progress=progress)


def amazon_digital_music(dim: int, seed: int, path: str | os.PathLike | None = None, *,
                         cache: bool = True, cache_dir: str | os.PathLike | None = None,
                         progress: bool = True, download: bool = False) -> np.ndarray:
    """Amazon Digital Music users, embedded by the paper's NMF recipe.

    Accepted files: CSV ``user_id,item_id,rating`` like RentTheRunway's (header
    optional), or the Amazon v2 "ratings only" CSV as downloaded (four columns
    ``item,user,rating,timestamp``, without a header or with one naming them, e.g.
    ``item_id,user_id,rating,timestamp``; rows kept in file order). The paper's
    own preprocessing of this file is not published, so unlike MovieLens and
    RentTheRunway its published runs could not be checked against this loader.
    Fitting the full file (about 1.6M ratings) takes minutes; the result is cached.

    Parameters and returns as ``movielens_100k``; ``path`` may be the CSV file or a
    folder holding ``amazon/Digital_Music.csv`` or ``Digital_Music.csv``.
    """
    file = locate_or_download(AMAZON_DIGITAL_MUSIC, path, fetch=download, progress=progress)
    return _csv_embedding("amazon-music", AMAZON_DIGITAL_MUSIC.title, file, dim, seed,
                          {len(AMAZON_RATINGS_ONLY): AMAZON_RATINGS_ONLY},
                          cache=cache, cache_dir=cache_dir, progress=progress)


def from_ratings(table: Table, dim: int, seed: int, *,
                 rating_scale: tuple[float, float] = DEFAULT_RATING_SCALE, cache: bool = True,
                 cache_dir: str | os.PathLike | None = None, progress: bool = True) -> np.ndarray:
    """Embed the users of any ratings table by the paper's NMF recipe.

    Parameters
    ----------
    table : pandas.DataFrame, str or os.PathLike
        Three columns, by position: user id, item id, rating (one row per rating,
        at least 5 rows). A path names a CSV file with those columns, header
        optional (see ``recgym.datasets.files``).
    dim, seed, cache, cache_dir, progress
        As ``movielens_100k``. The cache key is the sha256 of the file, or of the
        DataFrame written as CSV.
    rating_scale : (low, high)
        ``0 <= low < high``; every rating must lie in it (see the module docstring).

    Returns
    -------
    array, shape (K, dim), float64, rows summing to 1; K users of the last
    cross-validation fold's trainset, in its inner-id order.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"user": [1, 1, 2, 2, 3, 3], "item": [1, 2, 1, 3, 2, 3],
    ...                       "rating": [5, 3, 4, 1, 2, 5]})
    >>> from_ratings(table, 2, 0, cache=False, progress=False).shape[1]
    2
    """
    scale = _check_rating_scale(rating_scale)
    if isinstance(table, str | os.PathLike):
        file = Path(table).expanduser()
        if not file.is_file():
            raise FileNotFoundError(f"ratings file {str(file)!r} (table) does not exist")
        return _csv_embedding("ratings-csv", file.name, file, dim, seed, None, scale,
                              cache=cache, cache_dir=cache_dir, progress=progress)
    frame = check_ratings_table(table, "table")
    _check_in_scale(frame["rating"].to_numpy(), scale, "table")
    ratings = _Ratings("ratings-frame", "ratings table", sha256_of_frame(frame), scale,
                       lambda: dataset_from_frame(frame, scale))
    return _embedding(ratings, dim, seed, cache=cache, cache_dir=cache_dir, progress=progress)


def _csv_embedding(kind: str, title: str, file: Path, dim: int, seed: int,
                   layouts: dict[int, tuple[str, ...]] | None,
                   scale: tuple[float, float] = DEFAULT_RATING_SCALE, **options: object
                   ) -> np.ndarray:
    def load() -> object:
        frame = read_ratings_csv(file, headerless_layouts=layouts)
        _check_in_scale(frame["rating"].to_numpy(), scale, f"ratings file {str(file)!r}")
        return dataset_from_frame(frame, scale)

    ratings = _Ratings(kind, f"{title} ({file.name})", sha256_of_file(file), scale, load)
    return _embedding(ratings, dim, seed, **options)


def _embedding(ratings: _Ratings, dim: int, seed: int, *, cache: bool,
               cache_dir: str | os.PathLike | None, progress: bool) -> np.ndarray:
    """Cached embedding of ``ratings``; fit and store it on a miss."""
    dim = check_int("dim", dim, 1)
    seed = _check_seed(seed)
    entry = None
    if cache:
        entry = _cache.entry_path(_cache.cache_root(cache_dir), {
            "kind": ratings.kind, "dim": dim, "seed": seed, "sha256": ratings.fingerprint,
            "rating_scale": list(ratings.rating_scale), "surprise": _surprise_version()})
        hit = _cache.load(entry, dim, n_users=ratings.n_users)
        if hit is not None:
            return hit
    users = fit_nmf_embedding(ratings.load(), dim, seed, ratings.label, progress)
    if entry is not None:
        _cache.save(entry, users)
    return users


def _checked(data: object, file: Path, scale: tuple[float, float]) -> object:
    """``data`` after checking its ratings (a surprise Dataset from ``file``)."""
    values = np.array([rating for _, _, rating, _ in data.raw_ratings], dtype=np.float64)
    name = f"ratings file {str(file)!r}"
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} has NaN or infinite ratings")
    _check_in_scale(values, scale, name)
    return data


def _check_in_scale(values: np.ndarray, scale: tuple[float, float], name: str) -> None:
    if values.size < CV_FOLDS:
        raise ValueError(f"{name} must hold at least {CV_FOLDS} ratings (one per "
                         f"cross-validation fold), got {values.size}")
    outside = np.flatnonzero((values < scale[0]) | (values > scale[1]))
    if outside.size:
        first = int(outside[0])
        raise ValueError(f"{name} has {outside.size} rating(s) outside rating_scale={scale}; "
                         f"first in row {first}: {values[first]!r}. Pass the right "
                         "rating_scale (non-negative) or shift the ratings.")


def _check_rating_scale(scale: object) -> tuple[float, float]:
    ok = (isinstance(scale, tuple | list) and len(scale) == 2
          and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in scale))
    if not ok:
        raise TypeError(f"rating_scale must be a pair (low, high) of numbers, got {scale!r}")
    low, high = float(scale[0]), float(scale[1])
    if not (np.isfinite(low) and np.isfinite(high) and 0 <= low < high):
        raise ValueError(f"rating_scale must satisfy 0 <= low < high (NMF needs non-negative "
                         f"ratings), got {scale!r}")
    return low, high


def _check_seed(seed: object) -> int:
    seed = check_int("seed", seed, 0)
    if seed >= 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    return seed


def _surprise_version() -> str:
    try:
        return version("scikit-surprise")
    except PackageNotFoundError:  # fitting will fail with an install hint
        return "missing"
