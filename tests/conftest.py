"""Shared fixtures: where ../shared lives, and small reusable games."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
PAPER = SHARED / "paper"


@pytest.fixture(scope="session")
def paper_dir() -> Path:
    """The published per-run results (../shared/paper), or skip if this checkout lacks them."""
    if not (PAPER / "exp1_iterations.csv.gz").exists():
        pytest.skip(f"published results not found at {PAPER} (they ship in ../shared)")
    return PAPER
