"""examples/platform_learns_users.py runs with a tiny budget and prints its tables."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "platform_learns_users.py"
#: Every learner of the quick comparison (users of d = 4 features: elicit=d is 4).
LEARNERS = ("oracle", "greedy", "epsilon:eps=0.05", "epsilon:eps=0.2", "ucb:alpha=0.1",
            "ucb:alpha=0.3", "ucb:alpha=1", "thompson:scale=0.3", "thompson:scale=1",
            "greedy, elicit=2", "greedy, elicit=4")
BLOCKS = ("static users", "exposure b=0.02")


def _run(*extra: str) -> str:
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", *extra],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout


def test_platform_learns_users_prints_every_learner(tmp_path):
    out = _run("--out", str(tmp_path))
    for block in BLOCKS:
        assert f"synthetic uniform (quick), {block}: K=300 users, d=4" in out
    headers = [line for line in out.splitlines() if line.strip().startswith("learner")]
    assert len(headers) == len(BLOCKS)
    for column in ("welfare", "early (1-4)", "late (5-8)", "est. error", "regret",
                   "TV vs oracle", "features"):
        assert column in headers[0]
    rows = {line.split()[0] for line in out.splitlines() if line.strip()}
    for learner in LEARNERS:
        assert learner.split(",")[0] in rows
        assert sum(line.strip().startswith(learner + " ") for line in out.splitlines()) \
            == len(BLOCKS)
    table = pd.read_csv(tmp_path / "synthetic-uniform.csv")
    assert list(table["learner"]) == list(LEARNERS) * len(BLOCKS)
    assert table["tv_vs_oracle"].between(0, 1).all()
    oracle = table[table["learner"] == "oracle"]
    assert (oracle[["tv_vs_oracle", "estimation_error", "regret"]] == 0).all().all()
    learned = table[table["learner"] != "oracle"]
    assert (learned["estimation_error"] > 0).all()
    runs = pd.read_csv(tmp_path / "synthetic-uniform-runs.csv")
    assert len(runs) == len(LEARNERS) * len(BLOCKS) * 2  # two seeds in quick mode
    assert set(runs["seed"]) == {0, 1}


def test_platform_learns_users_markdown_table():
    rows = [line for line in _run("--markdown", "--exposure-rate", "0").splitlines()
            if line.startswith("|")]
    assert rows[0].startswith("| learner | welfare | early (1-4) | late (5-8) |")
    assert len(rows) == 2 + len(LEARNERS)
