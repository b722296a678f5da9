"""Shared fixtures: the paper's published results (shipped with recgym) and the rating
files of the development workspace (``../shared/data``, for tests only)."""

from __future__ import annotations

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
