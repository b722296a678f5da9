"""The paper's user embedding: NMF of the ratings inside 5-fold cross-validation.

Recipe (docs/model.md section 7), reproduced bit for bit::

    algo = NMF(n_factors=dim)            # scikit-surprise, default hyper-parameters
    np.random.seed(seed)
    cross_validate(algo, data, cv=5)     # default measures (RMSE, MAE), not printed
    users = algo.pu                      # (K, dim): the last fold's fit, users of that
                                         # fold's trainset in its inner-id order
    users = users / users.sum(axis=1, keepdims=True)

surprise draws all its randomness from numpy's global ``RandomState`` (the fold
shuffle, then each fold's uniform initialisation), which is why the seed is set
globally. Here the caller's global state is saved before and restored after, so
the fit leaves no trace on it (not thread-safe: do not fit from two threads).

``cv=5`` makes surprise build ``KFold(n_splits=5)``; the splitter passed here wraps
that same object (same shuffle, same folds) and only ticks a progress bar after
each fold. K is the number of users in the last fold's trainset: users all of
whose ratings fell in the last test fold are absent (RentTheRunway: about 90.4k of
105.5k users remain).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import numpy as np
import pandas as pd
from tqdm import tqdm

try:
    from surprise import NMF, Dataset, Reader
    from surprise.model_selection import KFold, cross_validate
    _SURPRISE_MISSING: ImportError | None = None
except ImportError as _exc:  # only the real-data embeddings need scikit-surprise
    _SURPRISE_MISSING = _exc

#: Number of cross-validation folds, as in the paper's ``cross_validate(..., cv=5)``.
CV_FOLDS = 5


def _require_surprise() -> None:
    if _SURPRISE_MISSING is not None:
        raise ImportError("the real-data embeddings need scikit-surprise: "
                          "pip install scikit-surprise") from _SURPRISE_MISSING


class _FoldProgress:
    """surprise's ``KFold(n_splits=5)``, ticking ``bar`` when each fold is done."""

    def __init__(self, bar: tqdm) -> None:
        self._folds = KFold(n_splits=CV_FOLDS)
        self._bar = bar

    def split(self, data: Dataset) -> Iterator:
        for fold in self._folds.split(data):
            yield fold  # cross_validate fits and scores this fold before asking again
            self._bar.update(1)


def dataset_from_ml100k_file(path: str) -> Dataset:
    """MovieLens-100k ``u.data`` read with surprise's builtin ``ml-100k`` reader."""
    _require_surprise()
    return Dataset.load_from_file(path, reader=Reader("ml-100k"))


def dataset_from_frame(frame: pd.DataFrame, rating_scale: tuple[float, float]) -> Dataset:
    """A ``user, item, rating`` table loaded with ``Reader(rating_scale=...)``."""
    _require_surprise()
    return Dataset.load_from_df(frame, Reader(rating_scale=rating_scale))


def fit_nmf_embedding(data: Dataset, dim: int, seed: int, label: str,
                      progress: bool = True) -> np.ndarray:
    """Fit the paper's NMF embedding and L1-normalise it.

    Parameters
    ----------
    data : surprise.Dataset
        The ratings, at least ``CV_FOLDS`` of them, non-negative.
    dim : int >= 1
        Number of factors ``d``.
    seed : int in [0, 2**32)
        Seed for numpy's global generator, restored afterwards.
    label : str
        Name shown on the progress bar and in errors.
    progress : bool
        Show a progress bar over the folds on stderr.

    Returns
    -------
    array, shape (K, dim), float64, rows summing to 1.

    Raises
    ------
    ValueError
        If a user's factors sum to 0 (or are not finite), so the row cannot be
        L1-normalised.
    """
    _require_surprise()
    algo = NMF(n_factors=dim)
    # surprise reads numpy's global RandomState; save it and give it back untouched.
    saved = np.random.get_state()  # noqa: NPY002
    try:
        with tqdm(total=CV_FOLDS, desc=f"NMF {label} (dim={dim}, seed={seed})", unit="fold",
                  file=sys.stderr, disable=not progress) as bar:
            np.random.seed(seed)  # noqa: NPY002 - the paper's recipe
            cross_validate(algo, data, cv=_FoldProgress(bar))
    finally:
        np.random.set_state(saved)  # noqa: NPY002
    return _l1_rows(np.array(algo.pu, dtype=np.float64), algo.trainset, label)


def _l1_rows(factors: np.ndarray, trainset: object, label: str) -> np.ndarray:
    """``factors / row sums``; a row with a zero or non-finite sum is an error."""
    sums = factors.sum(axis=1, keepdims=True)
    bad = np.flatnonzero(~(np.isfinite(sums[:, 0]) & (sums[:, 0] > 0)))
    if bad.size:
        first = int(bad[0])
        raise ValueError(
            f"the NMF embedding of {label} has {bad.size} user(s) whose factors sum to 0 or are "
            f"not finite (first: raw user id {trainset.to_raw_uid(first)!r}, sum "
            f"{sums[first, 0]!r}); they cannot be L1-normalised. Users whose ratings are all 0 "
            "end up with zero factors: drop them or use positive ratings.")
    return factors / sums
