"""User populations for the engagement game: the paper's five datasets.

=================  ===============================  ==========  =========================
CLI name           source                           users K     loader
=================  ===============================  ==========  =========================
synth-uniform      uniform on the simplex           10,000      ``synthetic_uniform``
synth-skewed       skewed feature popularity        10,000      ``synthetic_skewed``
movielens-100k     GroupLens MovieLens-100k         943         ``movielens_100k``
rentrunway         the paper's RentTheRunway file   ~90.4k      ``rent_the_runway``
amazon-music       Amazon v2 Digital Music          ~714k       ``amazon_digital_music``
=================  ===============================  ==========  =========================

Every loader in ``DATASETS`` has the signature ``load(dim, seed, path=None, *,
progress=True)`` and returns a float64 array of shape ``(K, dim)`` whose rows are
non-negative and sum to 1 (``progress`` shows the NMF fit's bar on stderr; the
synthetic loaders fit nothing and show nothing). ``load_users(name, dim, seed,
path=None, *, progress=True)`` looks one up by name;
``PUBLISHED_NAMES`` maps the CLI names to the names used in the paper's published
CSV files (``amazon-music`` is ``amznmusic`` there).

Real data (docs/model.md section 7). The embedding is the paper's: scikit-surprise
``NMF(n_factors=dim)`` fitted inside ``cross_validate(..., cv=5)`` right after
``np.random.seed(seed)``, ``algo.pu`` of the last fold, L1-normalised per row. It
reproduces the published MovieLens-100k and RentTheRunway runs bit for bit.
numpy's global random state is restored after each fit.

* Data files are never shipped. Give ``path`` (the file or a folder) or set
  ``RECGYM_DATA`` to a folder holding ``ml-100k/u.data``,
  ``rentrunway/rentrunway_preproc.csv`` and ``amazon/Digital_Music.csv``. A
  missing file raises ``FileNotFoundError`` saying where it was looked for and
  where to get it.
* Fits are cached as ``.npy`` files in ``$RECGYM_CACHE`` (default
  ``$XDG_CACHE_HOME/recgym`` or ``~/.cache/recgym``), keyed by the data's sha256,
  the dataset, ``dim``, ``seed``, the rating scale and the scikit-surprise version.
  Pass ``cache=False`` to skip the cache, ``progress=False`` to hide the progress bar.
* ``from_ratings(table, dim, seed, rating_scale=(1, 5))`` embeds any
  ``user, item, rating`` table (DataFrame or CSV path).

Examples
--------
>>> from recgym import datasets
>>> datasets.load_users("synth-uniform", dim=5, seed=17).shape
(10000, 5)
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import numpy as np

from recgym._validation import check_int, check_matrix
from recgym.datasets.catalog import (
    DATASET_NAMES,
    PUBLISHED_NAMES,
    SYNTHETIC,
    SYNTHETIC_USERS,
    canonical_name,
)
from recgym.users import synthetic_skewed, synthetic_uniform

__all__ = [
    "DATASETS",
    "DEFAULT_DIM",
    "DEFAULT_N_USERS",
    "DATASET_NAMES",
    "DEFAULT_RATING_SCALE",
    "PUBLISHED_NAMES",
    "SYNTHETIC",
    "SYNTHETIC_USERS",
    "amazon_digital_music",
    "from_ratings",
    "load_users",
    "movielens_100k",
    "rent_the_runway",
    "require_data",
    "resolve_users",
]

#: Features of built-in synthetic users when neither the users nor ``dim`` fix it.
DEFAULT_DIM = 5
#: Built-in synthetic users when ``n_users`` is not given.
DEFAULT_N_USERS = 1000

Loader = Callable[..., np.ndarray]

#: Names defined by ``recgym.datasets.real``, imported on first use (it loads pandas
#: and scikit-surprise).
_REAL = ("DEFAULT_RATING_SCALE", "amazon_digital_music", "from_ratings", "movielens_100k",
         "rent_the_runway")
#: Dataset name -> the loader's name in ``recgym.datasets.real``.
_REAL_LOADERS = {"movielens-100k": "movielens_100k", "rentrunway": "rent_the_runway",
                 "amazon-music": "amazon_digital_music"}


def _synthetic(name: str, generate: Callable[..., np.ndarray]) -> Loader:
    def load(dim: int, seed: int, path: str | os.PathLike | None = None, *,
             progress: bool = True) -> np.ndarray:
        del progress  # generating is instant: there is no fit to show
        if path is not None:
            raise ValueError(f"{name} is generated, it reads no file; got path={path!r}")
        return generate(SYNTHETIC_USERS, dim, seed)

    load.__name__ = name.replace("-", "_")
    load.__doc__ = (f"The paper's {name} users: ``{generate.__name__}({SYNTHETIC_USERS}, dim, "
                    "seed)``; ``path`` must be None, ``progress`` has no effect.")
    return load


_SYNTHETIC_LOADERS = {"synth-uniform": _synthetic("synth-uniform", synthetic_uniform),
                      "synth-skewed": _synthetic("synth-skewed", synthetic_skewed)}


def loader(name: str) -> Loader:
    """``load(dim, seed, path=None, *, progress=True) -> array (K, dim)`` of dataset ``name``."""
    key = canonical_name(name)
    if key in _SYNTHETIC_LOADERS:
        return _SYNTHETIC_LOADERS[key]
    return getattr(importlib.import_module("recgym.datasets.real"), _REAL_LOADERS[key])


def __getattr__(name: str) -> Any:
    if name in _REAL:
        return getattr(importlib.import_module("recgym.datasets.real"), name)
    if name == "DATASETS":  # name -> loader, for every dataset
        return MappingProxyType({key: loader(key) for key in DATASET_NAMES})
    raise AttributeError(f"module 'recgym.datasets' has no attribute {name!r}")


def load_users(name: str, dim: int, seed: int, path: str | os.PathLike | None = None, *,
               progress: bool = True) -> np.ndarray:
    """The users of dataset ``name``.

    Parameters
    ----------
    name : str
        A name of ``DATASET_NAMES`` or its published name (``"amznmusic"``).
    dim : int >= 1
    seed : int >= 0
        Generator seed (synthetic) or NMF seed (real data).
    path : str or os.PathLike, optional
        Data file or folder for real datasets (default ``$RECGYM_DATA``).
    progress : bool
        Show a progress bar on stderr while fitting a real dataset's embedding
        (a cache hit or a synthetic dataset shows nothing).

    Returns
    -------
    array, shape (K, dim), float64, rows summing to 1.
    """
    return loader(name)(dim, seed, path, progress=progress)


def require_data(name: str, path: str | os.PathLike | None = None) -> dict[str, str]:
    """Check that dataset ``name``'s ratings file can be found (synthetic data need none).

    Returns
    -------
    dict
        What identifies the data beyond its name, for a sweep's settings:
        ``{"data_sha256": hex}`` of the ratings file found, ``{}`` for synthetic users
        (so a sweep resumed on another file is refused, wherever the file lies).

    Raises
    ------
    FileNotFoundError
        As the loaders do, saying where it was looked for and how to get it.
    ValueError
        If the file found does not start like the dataset's ratings.
    """
    key = canonical_name(name)
    if key in SYNTHETIC:
        return {}
    from recgym.datasets.files import DATA_FILES, check_layout, locate, sha256_of_file

    file = locate(DATA_FILES[key], path)
    check_layout(DATA_FILES[key], file)
    return {"data_sha256": sha256_of_file(file)}


def resolve_users(users: object = None, dim: int | None = None, n_users: int | None = None,
                  seed: int = 0, path: str | os.PathLike | None = None) -> np.ndarray:
    """The user matrix ``(K, d)`` the environments take, validated.

    Parameters
    ----------
    users : None, array (K, d) or str
        ``None``: ``n_users`` (default ``DEFAULT_N_USERS``) users uniform on the simplex
        with ``dim`` (default ``DEFAULT_DIM``) features, from ``seed`` by the paper's
        generator. An array: used as given (non-negative, finite). A dataset name:
        ``load_users(name, dim, seed, path)``.
    dim, n_users : int, optional
        When given with an array or a dataset, they must agree with its shape.
    seed : int >= 0
        Seed of the synthetic users (or of the dataset's embedding).
    path : str or os.PathLike, optional
        The dataset's file or folder; only with a dataset name.

    Raises
    ------
    ValueError
        Contradictory sizes, ``path`` without a dataset name, bad values.
    """
    dim = None if dim is None else check_int("dim", dim, 1)
    n_users = None if n_users is None else check_int("n_users", n_users, 1)
    seed = check_int("users_seed", seed, 0)
    if path is not None and not isinstance(users, str):
        raise ValueError(f"users_path is read only for a data set name (users='<name>'); got "
                         f"users_path={path!r} with users of type {type(users).__name__}")
    if users is None:
        return synthetic_uniform(n_users or DEFAULT_N_USERS, dim or DEFAULT_DIM, seed=seed)
    if isinstance(users, str):
        matrix, source = load_users(users, dim or DEFAULT_DIM, seed, path), f"data set {users!r}"
    else:
        matrix, source = check_matrix("users", users), "the users array"
    if dim is not None and matrix.shape[1] != dim:
        raise ValueError(f"dim={dim} contradicts {source} of shape {matrix.shape}")
    if n_users is not None and matrix.shape[0] != n_users:
        raise ValueError(f"n_users={n_users} contradicts {source} of shape {matrix.shape}")
    return matrix
