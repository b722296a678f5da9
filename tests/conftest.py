"""Shared fixtures: the paper's published results (shipped with recgym) and the rating
files of the development workspace (``../shared/data``, for tests only)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from recgym.published import published_path

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DATA = SHARED / "data"


@pytest.fixture(scope="session")
def paper_dir() -> Path:
    """The folder of the paper's published per-run results (``recgym.published``)."""
    return published_path("exp1").parent


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The rating files of the development workspace, or skip where this checkout lacks
    them (they are never shipped: ``recgym download`` fetches them)."""
    if not (DATA / "ml-100k" / "u.data").exists():
        pytest.skip(f"rating files not found at {DATA} (the development workspace's test data)")
    return DATA


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, dead but not yet reaped, counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


@pytest.fixture
def processes_end() -> Callable[[Iterable[int], float], bool]:
    """``processes_end(pids, seconds)``: whether every process ends within ``seconds``
    (reads ``/proc``, Linux)."""
    def wait(pids: Iterable[int], seconds: float) -> bool:
        pids = list(pids)
        deadline = time.monotonic() + seconds
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        return not any(_alive(pid) for pid in pids)

    return wait
