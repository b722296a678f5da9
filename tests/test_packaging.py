"""The release artifacts: the sdist and the wheel build (``python -m build``), pass
``twine check``, carry the version ``recgym.__version__`` reports, and hold no test data
and no file from the development workspace's shared folder (``../shared``)."""

from __future__ import annotations

import email
import hashlib
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

import pytest

import recgym

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

pytest.importorskip("build")
pytest.importorskip("twine")

#: rating files and other data that must never ship (the published per-run results,
#: ``recgym/published/*.csv.gz``, are not rating data and do ship)
DATA = re.compile(r"(^u\.(data|item|user)$|ratings|\.dat$|^ml-\d+|movielens|amazon|\.parquet$"
                  r"|\.npz$|\.npy$|\.zip$)", re.IGNORECASE)


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """``python -m build --no-isolation``: this environment's setuptools (the build-system
    requirement, >=77, is checked by ``build``), no network."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir",
                           str(out), str(ROOT)], capture_output=True, text=True, check=False,
                          timeout=180)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out


def _one(dist: Path, pattern: str) -> Path:
    (found,) = dist.glob(pattern)
    return found


def test_twine_check_passes(dist):
    done = subprocess.run([sys.executable, "-m", "twine", "check", "--strict",
                           *map(str, sorted(dist.iterdir()))],
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_wheel_metadata_version_is_the_package_version(dist):
    wheel = _one(dist, "recgym-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        metadata = email.message_from_bytes(archive.read(name))
    assert metadata["Name"] == "recgym"
    assert metadata["Version"] == recgym.__version__
    assert wheel.name.startswith(f"recgym-{recgym.__version__}-")
    assert metadata["License-Expression"] == "MIT"


#: the one deliberate exception: the paper's published per-run results (not rating data)
#: ship as package data for ``recgym compare`` (``recgym.published``); they are byte-for-
#: byte the files of ``../shared/paper``
PUBLISHED = re.compile(r"^recgym/published/[^/]+\.csv\.gz$")


def _shared_digests(sizes: set[int]) -> set[str]:
    """sha256 of the files under ../shared whose size matches a wheel member's."""
    digests = set()
    if SHARED.is_dir():
        for path in SHARED.rglob("*"):
            if path.is_file() and not path.is_symlink() and path.stat().st_size in sizes:
                digests.add(hashlib.sha256(path.read_bytes()).hexdigest())
    return digests


def test_wheel_holds_no_test_data_and_nothing_from_shared(dist):
    with zipfile.ZipFile(_one(dist, "recgym-*.whl")) as archive:
        members = {info.filename: info for info in archive.infolist() if not info.is_dir()}
        for name in members:
            parts = PurePosixPath(name).parts
            assert parts[0] in {"recgym", "agents"} or parts[0].endswith(".dist-info"), name
            assert "tests" not in parts and "shared" not in parts, name
            assert not DATA.search(parts[-1]), f"data file in the wheel: {name}"
        sizes = {info.file_size for info in members.values() if info.file_size > 0}
        shared = _shared_digests(sizes)
        for name, info in members.items():
            if info.file_size in sizes and shared and not PUBLISHED.match(name):
                digest = hashlib.sha256(archive.read(name)).hexdigest()
                assert digest not in shared, f"{name} is a file of ../shared"


def test_sdist_holds_nothing_from_shared(dist):
    with tarfile.open(_one(dist, "recgym-*.tar.gz")) as archive:
        for name in archive.getnames():
            parts = PurePosixPath(name).parts[1:]
            assert "shared" not in parts and ".venv" not in parts, name
            assert not DATA.search(parts[-1] if parts else ""), f"data file in the sdist: {name}"
