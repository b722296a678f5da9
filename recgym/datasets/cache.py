"""On-disk cache of fitted user embeddings.

An embedding is stored as one ``.npy`` file under the cache folder, chosen in this
order: the ``cache_dir`` argument, the environment variable ``RECGYM_CACHE``,
``$XDG_CACHE_HOME/recgym``, ``~/.cache/recgym``. Its name is derived from every
input that determines the result: the dataset kind, ``dim``, ``seed``, the rating
scale, the sha256 of the ratings, the scikit-surprise version and ``RECIPE_VERSION``
(bumped whenever the fitting recipe changes). Files are written to a temporary
name in the same folder and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
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


def load(path: Path, dim: int) -> np.ndarray | None:
    """The cached ``(K, dim)`` array at ``path``, or None if absent or unreadable."""
    if not path.is_file():
        return None
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        warnings.warn(f"ignoring unreadable cache file {path}: {exc}", RuntimeWarning,
                      stacklevel=3)
        return None
    if array.ndim != 2 or array.shape[1] != dim or array.dtype != np.float64:
        warnings.warn(f"ignoring cache file {path}: shape {array.shape}, dtype {array.dtype}, "
                      f"expected (K, {dim}) float64", RuntimeWarning, stacklevel=3)
        return None
    return array


def save(path: Path, array: np.ndarray) -> None:
    """Write ``array`` to ``path`` atomically; warn (not raise) if that fails."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                np.save(stream, array, allow_pickle=False)
            os.replace(temporary, path)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    except OSError as exc:
        warnings.warn(f"could not write the embedding cache {path}: {exc}; the result is "
                      f"returned but will be refitted next time", RuntimeWarning, stacklevel=3)
