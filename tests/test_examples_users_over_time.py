"""examples/users_over_time.py runs with a tiny budget and prints its table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "users_over_time.py"


def test_users_over_time_example_prints_its_table(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    out = done.stdout
    assert "users' outside option w = " in out and "homogenization at the start" in out
    header = next(line for line in out.splitlines() if line.strip().startswith("rule"))
    for column in ("dynamics", "user welfare", "homogenization", "content features",
                   "retention"):
        assert column in header
    for label in ("softmax T=0.1", "softmax T=1, floor 0.2", "linear", "uniform",
                  "exposure b=0.1 + departures", "engagement e=1"):
        assert label in out
    table = pd.read_csv(tmp_path / "synthetic-uniform.csv")
    assert len(table) == 7 * 5  # rules x dynamics
    assert table["retention"].between(0, 1).all()
    static = table[~table["dynamics"].str.contains("departures")]
    assert (static["retention"] == 1).all()  # nobody leaves without an outside option
    assert (table["retention"] < 1).any()  # the computed option makes some users leave
    history = pd.read_csv(tmp_path / "synthetic-uniform-history.csv")
    assert len(history) == 7 * 5 * 6  # one row per epoch of every run


def test_users_over_time_markdown_table():
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--markdown"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("|")]
    assert rows[0].startswith("| rule | dynamics | user welfare |")
    assert len(rows) == 2 + 7 * 5
