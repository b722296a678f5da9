"""The documented examples run, and the code passes the project's lint configuration."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import recgym.environment
import recgym.game

ROOT = Path(__file__).resolve().parents[1]


#: ``recgym.coevolve`` the attribute is the function: the module comes from importlib.
DOCUMENTED = [recgym.game, recgym.environment, importlib.import_module("recgym.coevolve")]


@pytest.mark.parametrize("module", DOCUMENTED, ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert attempted > 0 and failed == 0


def test_ruff_finds_nothing():
    """ruff comes with the test extra (pip install -e ".[test]")."""
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "recgym", "agents", "tests",
                           "benchmarks", "examples"],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
