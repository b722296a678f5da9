"""Downloading the real datasets from their original public sources.

==============  ======================================  =====================================
name            fetched from                            written to (under the data folder)
==============  ======================================  =====================================
movielens-100k  GroupLens ``ml-100k.zip`` (``u.data``)  ``ml-100k/u.data``
rentrunway      the paper's repository                  ``rentrunway/rentrunway_preproc.csv``
amazon-music    UCSD Amazon v2, Digital Music ratings   ``amazon/Digital_Music.csv``
==============  ======================================  =====================================

The data folder is the one the loaders read (``recgym.datasets.files.data_root``):
``$RECGYM_DATA``, else ``$XDG_DATA_HOME/recgym`` or ``~/.local/share/recgym``.
Transfers go through pooch.

Integrity. The sha256 of each file the loaders read is recorded in ``SOURCES``
(for MovieLens the extracted ``u.data``, not the zip). A download whose hash
differs raises ``ChecksumError`` naming the file, the expected and the actual
hash. Amazon Digital Music has no recorded hash: its download warns
(``UnverifiedDownloadWarning``) and reports the hash it got.

Nothing is left behind on failure: files are fetched into a temporary folder
inside the data folder, checked, and only then renamed into place.

Mirrors. ``base_url`` (or the environment variable ``RECGYM_DOWNLOAD_URL``)
replaces every source's address by ``{base_url}/{remote name}``, the remote name
being the last part of the original address (``ml-100k.zip``,
``rentrunway_preproc.csv``, ``Digital_Music.csv``).

Examples
--------
>>> from recgym.datasets.download import download
>>> download("movielens-100k")  # doctest: +SKIP
PosixPath('/home/me/.local/share/recgym/ml-100k/u.data')
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from recgym._validation import check_choice
from recgym.datasets.files import (
    AMAZON_DIGITAL_MUSIC,
    DATA_ENV,
    MOVIELENS_100K,
    RENT_THE_RUNWAY,
    DataFile,
    data_root,
    locate,
    sha256_of_file,
)

#: Environment variable naming a mirror that replaces every source's address.
DOWNLOAD_URL_ENV = "RECGYM_DOWNLOAD_URL"

#: GroupLens' MovieLens-100k archive.
MOVIELENS_100K_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"

#: The paper's preprocessed RentTheRunway ratings, in the paper's public repository
#: (github.com/krishnacharya/recsys_eq, data/rentrunway_preproc.csv), pinned to the
#: commit whose file the published results were computed from.
RENT_THE_RUNWAY_URL = ("https://raw.githubusercontent.com/krishnacharya/recsys_eq/"
                       "1ac3b9c009c7790440ba1bc254bea56b7d8ba7cd/data/rentrunway_preproc.csv")

#: UCSD Amazon review data (2018, "v2"), ratings only, Digital Music category.
AMAZON_DIGITAL_MUSIC_URL = ("https://jmcauley.ucsd.edu/data/amazon_v2/categoryFilesSmall/"
                            "Digital_Music.csv")

#: Seconds to wait for the server before giving up (per connection or read).
TIMEOUT_S = 60.0


class DownloadError(OSError):
    """The file could not be fetched (unreachable server, HTTP error, bad archive)."""


class ChecksumError(ValueError):
    """A file's sha256 differs from the recorded one."""


class UnverifiedDownloadWarning(UserWarning):
    """A file was downloaded for which no sha256 is recorded."""


@dataclass(frozen=True)
class Source:
    """Where one dataset's ratings file comes from.

    Attributes
    ----------
    spec : DataFile
        The loader's file (title, place under the data folder).
    url : str
        Address at the original source.
    sha256 : str or None
        Hex sha256 of the file the loader reads; None if none is recorded.
    origin : str
        Who publishes the file, e.g. ``"GroupLens"`` (for help texts).
    member : str or None
        The file's path inside the archive, if ``url`` is a zip archive.
    """

    spec: DataFile
    url: str
    sha256: str | None
    origin: str
    member: str | None = None

    @property
    def remote_name(self) -> str:
        """Last part of ``url``, e.g. ``"ml-100k.zip"``; also the name on a mirror."""
        return self.url.rsplit("/", 1)[-1]


#: Dataset name -> its source. Hashes were computed from the files the paper used.
SOURCES: Mapping[str, Source] = MappingProxyType({
    "movielens-100k": Source(
        MOVIELENS_100K, MOVIELENS_100K_URL,
        "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
        "GroupLens (u.data is extracted from the zip)", member="ml-100k/u.data"),
    "rentrunway": Source(
        RENT_THE_RUNWAY, RENT_THE_RUNWAY_URL,
        "2bffe96bf27b5022230b17e386be2b8d47eb1341639689b10956365facf67ca5",
        "the paper's repository (its preprocessed RentTheRunway ratings)"),
    "amazon-music": Source(AMAZON_DIGITAL_MUSIC, AMAZON_DIGITAL_MUSIC_URL, None,
                           "UCSD Amazon review data 2018, ratings only"),
})

#: Names ``download`` accepts.
NAMES = tuple(SOURCES)


def download(name: str, dest: str | os.PathLike | None = None, *, progress: bool = True,
             base_url: str | None = None, force: bool = False) -> Path:
    """Download dataset ``name``'s ratings file where the loaders look for it.

    Parameters
    ----------
    name : str
        One of ``NAMES``: ``"movielens-100k"``, ``"rentrunway"``, ``"amazon-music"``.
    dest : str or os.PathLike, optional
        Data folder to write into; default ``data_root()`` (``$RECGYM_DATA`` or the
        user data folder). The file goes to ``dest/<relative path>`` (see the table
        in the module docstring).
    progress : bool
        Say what is fetched and show a progress bar, on stderr.
    base_url : str, optional
        Mirror replacing every source's address (``{base_url}/{remote name}``);
        default ``$RECGYM_DOWNLOAD_URL``, else the original sources.
    force : bool
        Download even if the file is already there (it is replaced only once the
        new one is checked).

    Returns
    -------
    pathlib.Path of the file, checked against the recorded sha256 when there is one.

    Raises
    ------
    ValueError
        Unknown ``name`` or a ``base_url`` that is not http(s).
    ChecksumError
        The downloaded (or already present) file has another sha256.
    DownloadError
        The server is unreachable, answers with an error, or sends no valid archive.
    """
    source = _source(name)
    root = data_root() if dest is None else Path(dest).expanduser()
    target = root / source.spec.relative_path
    if target.is_file() and not force:
        _check_present(target, source)
        return target
    url = _url(source, base_url)
    if progress:
        print(f"Downloading {source.spec.title} from {url}", file=sys.stderr)
    with _staging(root) as staging:
        fetched = _fetch(url, source, staging, progress)
        actual = sha256_of_file(fetched)
        _check_fetched(actual, source, url, target)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(fetched, target)
    return target


def locate_or_download(spec: DataFile, path: str | os.PathLike | None = None, *,
                       fetch: bool = False, progress: bool = True) -> Path:
    """``recgym.datasets.files.locate``, downloading the file if it is missing and
    ``fetch`` is True (into ``path``, then a folder, or the data folder); the loaders'
    ``download=True``.

    Raises
    ------
    FileNotFoundError
        The file is missing and ``fetch`` is False (or the dataset cannot be
        downloaded); the message says where it was looked for and how to get it.
    ValueError
        ``download=True`` with ``path`` naming the file rather than a folder.
    TypeError
        ``download`` is not a bool.
    """
    if not isinstance(fetch, bool):
        raise TypeError(f"download must be a bool, got {type(fetch).__name__}")
    try:
        return locate(spec, path)
    except FileNotFoundError:
        if not fetch or not spec.name:
            raise
    root = data_root() if path is None else Path(path).expanduser()
    if root.name == spec.filename:
        raise ValueError(f"with download=True, path must be a folder (the file goes to "
                         f"<path>/{spec.relative_path}), got path={os.fspath(path)!r}") from None
    return download(spec.name, root, progress=progress)


def download_command(name: str, data: str | os.PathLike | None = None, progress: bool = True,
                     *, force: bool = False) -> int:
    """``recgym download NAME [--data DIR]``: download, print the file's path.

    Returns the exit status: 0 on success, 1 with ``recgym: error: ...`` on stderr.
    """
    try:
        path = download(name, data, progress=progress, force=force)
    except (ValueError, OSError) as exc:
        print(f"recgym: error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0


def sources_help() -> str:
    """Per dataset: who publishes it, its address, the file written and its check;
    for ``--help`` texts."""
    blocks = []
    for name, source in SOURCES.items():
        check = "sha256-checked" if source.sha256 else "unverified (no sha256 recorded)"
        blocks.append(f"  {name:<16}{source.origin}\n  {'':<16}{source.url}\n"
                      f"  {'':<16}-> <data folder>/{source.spec.relative_path}, {check}")
    return ("sources:\n" + "\n".join(blocks) + f"\n\nThe data folder is ${DATA_ENV}, else "
            f"~/.local/share/recgym (the loaders look there). ${DOWNLOAD_URL_ENV}=URL fetches "
            "every file from URL/<its remote name> instead (a mirror).")


# --- helpers -----------------------------------------------------------------------------

def _source(name: object) -> Source:
    return SOURCES[check_choice("name", name, NAMES)]


def _url(source: Source, base_url: str | None) -> str:
    """The address to fetch: the mirror's, if one is given, else the original."""
    base = base_url if base_url is not None else os.environ.get(DOWNLOAD_URL_ENV, "")
    if not base:
        return source.url
    if not base.startswith(("http://", "https://")):
        where = "base_url" if base_url is not None else f"${DOWNLOAD_URL_ENV}"
        raise ValueError(f"{where} must be an http:// or https:// address, got {base!r}")
    return f"{base.rstrip('/')}/{source.remote_name}"


@contextlib.contextmanager
def _staging(root: Path) -> Iterator[Path]:
    """A temporary folder inside ``root``, removed on exit; on failure, the folders
    created for it are removed again if they are empty."""
    created = _missing_parents(root)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".recgym-download-", dir=root))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for folder in created:  # deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    shutil.rmtree(staging, ignore_errors=True)


def _missing_parents(folder: Path) -> list[Path]:
    """``folder`` and its ancestors that do not exist yet, deepest first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def _fetch(url: str, source: Source, staging: Path, progress: bool) -> Path:
    """Fetch ``url`` into ``staging`` with pooch; the loader's file (extracted if zipped)."""
    import pooch
    import requests

    downloader = pooch.HTTPDownloader(progressbar=progress, timeout=TIMEOUT_S)
    processor = pooch.Unzip(members=[source.member]) if source.member else None
    try:
        with _pooch_quiet():
            result = pooch.retrieve(url, known_hash=None, fname=source.remote_name,
                                    path=staging, processor=processor, downloader=downloader)
    except requests.RequestException as exc:
        raise DownloadError(f"could not download {source.spec.title} from {url}: {exc}. "
                            f"Check the connection, or set ${DOWNLOAD_URL_ENV} to a mirror "
                            f"holding {source.remote_name}.") from exc
    except (zipfile.BadZipFile, KeyError) as exc:
        raise DownloadError(f"{source.remote_name} from {url} is not a zip archive holding "
                            f"{source.member}: {exc}") from exc
    return _fetched_file(result, source, url)


def _fetched_file(result: str | list[str], source: Source, url: str) -> Path:
    """The loader's file among pooch's results (one path, or an archive's list)."""
    if source.member is None:
        return Path(result)
    wanted = Path(*source.member.split("/"))
    for name in result:
        if Path(name).parts[-len(wanted.parts):] == wanted.parts:
            return Path(name)
    raise DownloadError(f"{source.remote_name} from {url} does not hold {source.member}")


@contextlib.contextmanager
def _pooch_quiet() -> Iterator[None]:
    """Silence pooch's informational log lines (we say what we fetch ourselves)."""
    import pooch

    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _check_fetched(actual: str, source: Source, url: str, target: Path) -> None:
    """Raise if a fresh download's hash differs; warn if none is recorded."""
    title, relative = source.spec.title, source.spec.relative_path
    if source.sha256 is None:
        warnings.warn(f"{title}: {relative} downloaded from {url} is UNVERIFIED (no sha256 is "
                      f"recorded for it); its sha256 is {actual}", UnverifiedDownloadWarning,
                      stacklevel=3)
    elif actual != source.sha256:
        raise ChecksumError(f"{title}: sha256 mismatch for {relative} downloaded from {url}: "
                            f"expected {source.sha256}, got {actual}. The download was deleted "
                            f"and nothing was written to {target}. The file at the source may "
                            "have changed or been corrupted in transit; try again or use a "
                            f"mirror (${DOWNLOAD_URL_ENV}).")


def _check_present(target: Path, source: Source) -> None:
    """Raise if a file already in place has another hash than the recorded one."""
    if source.sha256 is None:
        return
    actual = sha256_of_file(target)
    if actual != source.sha256:
        raise ChecksumError(f"{source.spec.title}: {target} is already there but its sha256 is "
                            f"{actual}, expected {source.sha256}. Delete it, or download again "
                            "with force=True (recgym download --force).")
