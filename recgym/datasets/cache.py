"""On-disk cache of fitted user embeddings, tamper-evident.

An embedding is stored as one ``.npy`` file under the cache folder, chosen in this
order: the ``cache_dir`` argument, the environment variable ``RECGYM_CACHE``,
``$XDG_CACHE_HOME/recgym``, ``~/.cache/recgym``. Its name is derived from every
input that determines the result: the dataset kind, ``dim``, ``seed``, the rating
scale, the sha256 of the ratings, the scikit-surprise version and ``RECIPE_VERSION``
(bumped whenever the fitting recipe changes). Files are written to a fresh
temporary name in the same folder and renamed, so a reader never sees half a file.

File layout: the array as a standard ``.npy`` file (float64, shape ``(K, dim)``),
then a trailer, ``CHECKSUM_MARK`` followed by the sha256 of the file's name and
the ``.npy`` bytes. The name encodes the key, so the checksum ties the array, and
the shape in its header, to what it was fitted from (``numpy.load`` still reads
the array and ignores the trailer). ``load`` uses an entry only if the checksum
matches, the shape is ``(K, dim)`` (``K = n_users`` where the caller knows it) and
the rows are finite, non-negative and sum to 1; anything else (an empty,
unreadable, edited, renamed or older file) is ignored with a ``RuntimeWarning``
naming the file, and the caller refits and overwrites it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

#: Environment variable overriding the cache folder.
CACHE_ENV = "RECGYM_CACHE"

#: Version of the embedding recipe; part of every key.
RECIPE_VERSION = 1

#: Start of the trailer after the ``.npy`` bytes; the sha256 digest (32 bytes) follows.
CHECKSUM_MARK = b"\nrecgym-sha256:"
TRAILER_SIZE = len(CHECKSUM_MARK) + hashlib.sha256().digest_size

#: Tolerance on each row's sum (1 up to rounding; rows are L1-normalised).
ROW_SUM_TOL = 1e-9


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache folder (not created here)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "recgym"


def entry_path(root: Path, key: dict[str, object]) -> Path:
    """The file for ``key`` (a JSON-serialisable dict with ``kind``, ``dim``, ``seed``)."""
    key = {**key, "recipe": RECIPE_VERSION}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    return root / f"{key['kind']}_dim{key['dim']}_seed{key['seed']}_{digest}.npy"


def _checksum(name: str, body: bytes) -> bytes:
    """sha256 of the file name and the ``.npy`` bytes."""
    return hashlib.sha256(name.encode() + b"\0" + body).digest()


def load(path: Path, dim: int, n_users: int | None = None) -> np.ndarray | None:
    """The cached array at ``path``, shape ``(K, dim)``; None if absent or not trusted.

    Parameters
    ----------
    path : Path
        The entry (``entry_path``).
    dim : int
        Columns the array must have.
    n_users : int, optional
        Rows ``K`` the array must have, where the caller knows them.

    Warns
    -----
    RuntimeWarning
        Naming ``path``, when a file is there but is unreadable, empty, lacks or
        fails its checksum, or holds the wrong shape or values; None is returned
        so that the caller refits.
    """
    if not os.path.lexists(path):
        return None
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return _ignore(path, f"it cannot be read ({exc.strerror or exc})")
    array, problem = _decode(path.name, raw)
    if array is not None:
        problem = _problem(array, dim, n_users)
    return array if problem is None else _ignore(path, problem)


def _ignore(path: Path, problem: str) -> None:
    warnings.warn(f"ignoring cache file {path}: {problem}; the embedding is fitted again",
                  RuntimeWarning, stacklevel=3)


def _decode(name: str, raw: bytes) -> tuple[np.ndarray | None, str | None]:
    """The array stored in ``raw`` (a file named ``name``), or None and why not."""
    if not raw:
        return None, "it is empty"
    body, mark, digest = raw[:-TRAILER_SIZE], raw[-TRAILER_SIZE:-32], raw[-32:]
    if len(raw) <= TRAILER_SIZE or mark != CHECKSUM_MARK:
        return None, "it has no checksum (damaged, or written by an older recgym)"
    if _checksum(name, body) != digest:
        return None, "its checksum does not match its contents or name (edited or damaged)"
    try:
        return np.load(io.BytesIO(body), allow_pickle=False), None
    except (OSError, ValueError, EOFError) as exc:
        return None, f"it is not a valid .npy array ({exc})"


def _problem(array: np.ndarray, dim: int, n_users: int | None) -> str | None:
    """What is wrong with a decoded array, or None: shape, dtype, row values."""
    rows = "K" if n_users is None else n_users
    if (array.dtype != np.float64 or array.ndim != 2 or array.shape[0] == 0
            or array.shape[1] != dim or array.shape[0] != (n_users or array.shape[0])):
        return f"it holds a {array.dtype} array of shape {array.shape}, expected ({rows}, {dim})"
    if not (np.isfinite(array).all() and (array >= 0).all()
            and np.allclose(array.sum(axis=1), 1.0, rtol=0.0, atol=ROW_SUM_TOL)):
        return "its rows are not finite non-negative numbers summing to 1"
    return None


def save(path: Path, array: np.ndarray) -> None:
    """Write ``array`` with its checksum to ``path`` atomically; warn (not raise) on failure."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    body = buffer.getvalue()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(body + CHECKSUM_MARK + _checksum(path.name, body))
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    except OSError as exc:
        warnings.warn(f"could not write the embedding cache {path}: {exc}; the result is "
                      f"returned but will be refitted next time", RuntimeWarning, stacklevel=3)
