"""Tests for getting the data: recgym.datasets.download (real transfers from a local
HTTP server) and the published results shipped in recgym.published.

Nothing of the download layer is mocked: a ThreadingHTTPServer on 127.0.0.1 serves
files built from the shared test data (../shared/data, next to the repository),
and pooch fetches them through ``base_url`` or ``$RECGYM_DOWNLOAD_URL``. The
recorded hashes are those of these very files (the paper's), so a served copy
passes and a one-byte change fails.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recgym import datasets
from recgym.datasets import real
from recgym.datasets.download import (
    DOWNLOAD_URL_ENV,
    NAMES,
    SOURCES,
    ChecksumError,
    DownloadError,
    UnverifiedDownloadWarning,
    download,
    download_command,
    sources_help,
)
from recgym.datasets.files import DATA_ENV, data_root, locate, sha256_of_file
from recgym.published import PUBLISHED_FILES, PUBLISHED_RUNS, published_path

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
ML_FILE = SHARED / "data" / "ml-100k" / "u.data"
RTR_FILE = SHARED / "data" / "rentrunway" / "rentrunway_preproc.csv"
PAPER = SHARED / "paper"

needs_shared = pytest.mark.skipif(
    not (ML_FILE.is_file() and RTR_FILE.is_file()),
    reason=f"needs the MovieLens and RentTheRunway test files at {ML_FILE} and {RTR_FILE}")


# --- a local server ----------------------------------------------------------------------

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib name)
        """No request log on stderr."""


def _zip_u_data(archive: Path, content: bytes) -> None:
    """An ``ml-100k.zip`` like GroupLens', holding ``ml-100k/u.data`` (and a README)."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        handle.writestr("ml-100k/README", "test archive\n")
        handle.writestr("ml-100k/u.data", content)


def _amazon_ratings() -> pd.DataFrame:
    """A small Amazon v2 "ratings only" table: item, user, rating, timestamp."""
    rng = np.random.default_rng(3)
    users = [f"A{i:03d}" for i in rng.integers(0, 30, 300)]
    items = [f"B{i:04d}" for i in rng.integers(0, 40, 300)]
    return pd.DataFrame({"item": items, "user": users, "rating": rng.integers(1, 6, 300) * 1.0,
                         "timestamp": 1_500_000_000})


def _serve_folder(root: Path) -> None:
    """Good copies at ``root``, corrupted ones at ``root/bad``, garbage at ``root/junk``."""
    movielens, rentrunway = ML_FILE.read_bytes(), RTR_FILE.read_bytes()
    _zip_u_data(root / "ml-100k.zip", movielens)
    (root / "rentrunway_preproc.csv").write_bytes(rentrunway)
    _amazon_ratings().to_csv(root / "Digital_Music.csv", index=False, header=False)
    bad, junk = root / "bad", root / "junk"
    bad.mkdir()
    junk.mkdir()
    _zip_u_data(bad / "ml-100k.zip", movielens[:-2] + b"9\n")  # last timestamp changed
    (bad / "rentrunway_preproc.csv").write_bytes(rentrunway.replace(b"5.0", b"4.0", 1))
    (junk / "ml-100k.zip").write_bytes(b"this is not a zip archive\n")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a local server holding the three datasets' remote files."""
    if not (ML_FILE.is_file() and RTR_FILE.is_file()):
        pytest.skip(f"needs the shared test data at {ML_FILE} and {RTR_FILE}")
    root = tmp_path_factory.mktemp("served")
    _serve_folder(root)
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No data folder, mirror or proxy from the caller's shell; loopback only."""
    for name in (DATA_ENV, DOWNLOAD_URL_ENV, "HTTP_PROXY", "http_proxy", "ALL_PROXY",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("RECGYM_CACHE", str(tmp_path / "cache"))


def _unreachable_url() -> str:
    """An address on 127.0.0.1 where nothing listens (a port just released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _files_under(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*")) if folder.exists() else []


# --- recorded sources ----------------------------------------------------------------------

@needs_shared
@pytest.mark.parametrize(("name", "file"), [("movielens-100k", ML_FILE),
                                            ("rentrunway", RTR_FILE)])
def test_recorded_hashes_are_those_of_the_papers_files(name: str, file: Path) -> None:
    # The recorded sha256 was computed from the paper's files (the shared test data).
    assert SOURCES[name].sha256 == hashlib.sha256(file.read_bytes()).hexdigest()


def test_sources_match_the_loaders() -> None:
    specs = {real.MOVIELENS_100K, real.RENT_THE_RUNWAY, real.AMAZON_DIGITAL_MUSIC}
    assert {source.spec for source in SOURCES.values()} == specs
    for name, source in SOURCES.items():
        assert source.spec.name == name and name in datasets.DATASETS
        assert source.url.startswith("https://")
    assert SOURCES["amazon-music"].sha256 is None  # no copy to hash: unverified
    assert [source.remote_name for source in SOURCES.values()] == [
        "ml-100k.zip", "rentrunway_preproc.csv", "Digital_Music.csv"]
    text = sources_help()
    assert all(name in text and SOURCES[name].url in text for name in NAMES)
    assert text.count("sha256-checked") == 2 and "amazon/Digital_Music.csv, unverified" in text


# --- successful downloads --------------------------------------------------------------------

def test_movielens_zip_is_unpacked_verified_and_loaded(server: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv(DATA_ENV, str(data))
    monkeypatch.setenv(DOWNLOAD_URL_ENV, server)
    # The loader downloads the missing file into $RECGYM_DATA, then fits as usual.
    users = datasets.movielens_100k(2, 17, download=True, cache=False, progress=False)
    target = data / "ml-100k" / "u.data"
    assert target.read_bytes() == ML_FILE.read_bytes()
    assert sha256_of_file(target) == SOURCES["movielens-100k"].sha256
    assert _files_under(data) == [data / "ml-100k", target]  # no zip, no temporary folder
    assert users.shape == (943, 2)
    assert locate(real.MOVIELENS_100K) == target  # found without downloading again


def test_rentrunway_lands_in_the_data_folder(server: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # Default destination: $XDG_DATA_HOME/recgym when RECGYM_DATA is unset.
    path = download("rentrunway", base_url=server, progress=False)
    assert path == tmp_path / "xdg-data" / "recgym" / "rentrunway" / "rentrunway_preproc.csv"
    assert data_root() == tmp_path / "xdg-data" / "recgym"
    assert sha256_of_file(path) == SOURCES["rentrunway"].sha256
    assert locate(real.RENT_THE_RUNWAY) == path
    # Already there and verified: returned without fetching (the mirror is unreachable).
    assert download("rentrunway", base_url=_unreachable_url(), progress=False) == path


def test_amazon_download_warns_unverified_and_loads(server: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    with pytest.warns(UnverifiedDownloadWarning, match="UNVERIFIED") as caught:
        path = download("amazon-music", data, base_url=server, progress=False)
    assert path == data / "amazon" / "Digital_Music.csv"
    assert sha256_of_file(path) in str(caught[0].message)  # says what it got
    users = datasets.amazon_digital_music(2, 0, path=data, cache=False, progress=False)
    assert users.shape[1] == 2 and np.allclose(users.sum(axis=1), 1.0)


def test_amazon_file_with_a_header_is_read_by_its_column_names(tmp_path: Path) -> None:
    # The ratings-only file may come with a header naming its four columns.
    table = _amazon_ratings()
    plain, headed = tmp_path / "plain.csv", tmp_path / "headed.csv"
    table.to_csv(plain, index=False, header=False)
    table.rename(columns={"item": "item_id", "user": "user_id"}).to_csv(headed, index=False)
    expected = datasets.amazon_digital_music(2, 0, path=plain, cache=False, progress=False)
    got = datasets.amazon_digital_music(2, 0, path=headed, cache=False, progress=False)
    np.testing.assert_array_equal(got, expected)


def test_progress_says_what_is_fetched(server: str, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    download("rentrunway", tmp_path, base_url=server + "/", progress=True)
    err = capsys.readouterr().err
    assert f"Downloading RentTheRunway from {server}/rentrunway_preproc.csv" in err


def test_download_command(server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(DOWNLOAD_URL_ENV, server)
    assert download_command("rentrunway", str(tmp_path), progress=False) == 0
    out = capsys.readouterr().out
    assert out.strip() == str(tmp_path / "rentrunway" / "rentrunway_preproc.csv")
    monkeypatch.setenv(DOWNLOAD_URL_ENV, server + "/bad")
    assert download_command("movielens-100k", str(tmp_path), progress=False) == 1
    assert "recgym: error: MovieLens-100k: sha256 mismatch" in capsys.readouterr().err


# --- failures leave nothing behind -------------------------------------------------------------

@pytest.mark.parametrize(("name", "relative"), [("movielens-100k", "ml-100k/u.data"),
                                                ("rentrunway",
                                                 "rentrunway/rentrunway_preproc.csv")])
def test_corrupted_download_is_a_clear_error_and_leaves_nothing(server: str, tmp_path: Path,
                                                                name: str,
                                                                relative: str) -> None:
    data = tmp_path / "new" / "data"  # created for the download, removed again
    with pytest.raises(ChecksumError) as error:
        download(name, data, base_url=server + "/bad", progress=False)
    message = str(error.value)
    assert f"sha256 mismatch for {relative}" in message
    assert f"expected {SOURCES[name].sha256}" in message
    assert "got " in message and "nothing was written" in message
    actual = message.split("got ")[1][:64]
    assert len(actual) == 64 and actual != SOURCES[name].sha256
    assert not (tmp_path / "new").exists()


def test_corrupted_download_keeps_other_files(server: str, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ChecksumError):
        download("rentrunway", tmp_path, base_url=server + "/bad", progress=False)
    assert _files_under(tmp_path) == [tmp_path / "notes.txt"]


def test_file_already_there_with_another_hash(server: str, tmp_path: Path) -> None:
    target = tmp_path / "rentrunway" / "rentrunway_preproc.csv"
    target.parent.mkdir()
    target.write_text("user_id,item_id,rating\n1,2,5.0\n")
    with pytest.raises(ChecksumError, match="force=True"):
        download("rentrunway", tmp_path, base_url=server, progress=False)
    assert target.read_text().startswith("user_id")  # the user's file is left alone
    download("rentrunway", tmp_path, base_url=server, progress=False, force=True)
    assert sha256_of_file(target) == SOURCES["rentrunway"].sha256


def test_not_a_zip_archive(server: str, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="not a zip archive holding ml-100k/u.data"):
        download("movielens-100k", tmp_path, base_url=server + "/junk", progress=False)
    assert _files_under(tmp_path) == []


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    url = _unreachable_url()
    with pytest.raises(DownloadError) as error:
        download("rentrunway", tmp_path / "data", base_url=url, progress=False)
    message = str(error.value)
    assert f"could not download RentTheRunway from {url}/rentrunway_preproc.csv" in message
    assert DOWNLOAD_URL_ENV in message
    assert not (tmp_path / "data").exists()


def test_missing_remote_file_is_a_clear_error(server: str, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="404"):
        download("rentrunway", tmp_path, base_url=server + "/junk", progress=False)
    assert _files_under(tmp_path) == []


# --- arguments and messages --------------------------------------------------------------------

def test_bad_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="name must be one of movielens-100k, rentrunway, "
                                         "amazon-music; got 'ml-1m'"):
        download("ml-1m", tmp_path)
    with pytest.raises(ValueError, match="base_url must be an http"):
        download("rentrunway", tmp_path, base_url="ftp://example.org")
    monkeypatch.setenv(DOWNLOAD_URL_ENV, "example.org/mirror")
    with pytest.raises(ValueError, match=f"{DOWNLOAD_URL_ENV} must be an http"):
        download("rentrunway", tmp_path)
    with pytest.raises(ValueError, match="path must be a folder"):
        datasets.rent_the_runway(2, 0, path=tmp_path / "rentrunway_preproc.csv", download=True)
    with pytest.raises(TypeError, match="download must be a bool"):
        datasets.rent_the_runway(2, 0, path=tmp_path, download="yes")
    assert _files_under(tmp_path) == []


@pytest.mark.parametrize("name", NAMES)
def test_missing_file_says_how_to_download(name: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    loader = datasets.DATASETS[name]
    with pytest.raises(FileNotFoundError) as error:
        loader(2, 0)
    message = str(error.value)
    assert "download=True" in message and f"recgym download {name}" in message
    assert str(data_root() / SOURCES[name].spec.relative_path) in message


# --- published results: shipped, nothing to download ------------------------------------------

@pytest.mark.parametrize("experiment", ["exp1", "exp2"])
def test_published_results_ship_with_the_package(experiment: str) -> None:
    path = published_path(experiment)
    assert path.is_file() and path.name == PUBLISHED_FILES[experiment]
    frame = pd.read_csv(path)
    assert len(frame) == PUBLISHED_RUNS[experiment]  # 19,200 and 7,200 runs (the paper's)
    assert ("run" in frame.columns) == (experiment == "exp1")
    assert set(frame["dataset"]) == {"synth-uniform", "synth-skewed", "movielens-100k",
                                     "rentrunway", "amznmusic"}
    reference = PAPER / PUBLISHED_FILES[experiment]
    if reference.is_file():  # the shipped copy is the paper's file, byte for byte
        assert path.read_bytes() == reference.read_bytes()


def test_published_path_rejects_unknown_experiments() -> None:
    with pytest.raises(ValueError, match="experiment must be one of exp1, exp2; got 'exp3'"):
        published_path("exp3")
