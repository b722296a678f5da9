"""examples/creators_as_people.py runs its quick mode and its tables say what they must."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "examples" / "creators_as_people.py"
SLUG = "synthetic-skewed"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("creators")
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return done.stdout, out


def test_prints_the_four_tables_and_writes_the_figures(quick):
    out, folder = quick
    for header in ("[1] skill", "[2] cost of effort", "[3] bounded rationality",
                   "[3b] top-K serving", "who occupies which feature"):
        assert header in out
    for label in ("softmax T=0.1", "softmax T=1", "linear", "top-2 T=0.1",
                  "best response (exact)", "quantal l=5", "hedge h=30"):
        assert label in out
    for name in ("cost.png", "hedge_regret.png", "skill.png"):
        assert (folder / name).stat().st_size > 0


def test_hedge_regret_falls_with_rounds(quick):
    _, folder = quick
    table = pd.read_csv(folder / f"{SLUG}-behaviors.csv")
    hedge = table[table["producers"].str.startswith("hedge")].copy()
    hedge["rounds"] = hedge["producers"].str.extract(r"(\d+) rounds").astype(int)
    assert hedge["rule"].nunique() == 3
    for _, part in hedge.groupby("rule"):
        regret = part.sort_values("rounds")["max avg regret"].to_numpy()
        assert len(regret) >= 3 and np.all(regret >= 0)
        assert np.all(np.diff(regret) < 0), regret
    curves = pd.read_csv(folder / f"{SLUG}-hedge-regret.csv")
    for rule in ("softmax T=0.1", "linear", "top-2 T=0.1"):
        assert curves[rule].iloc[-1] < curves[rule].iloc[9]
    # the exact equilibrium of linear serving is certified (the vertex certificate)
    exact = table[(table["producers"] == "best response (exact)") & (table["rule"] == "linear")]
    assert exact["NashConv/user"].iloc[0] < 1e-9
    assert (table["NashConv/user"] >= -1e-12).all()


def test_effort_falls_with_cost(quick):
    _, folder = quick
    table = pd.read_csv(folder / f"{SLUG}-cost.csv")
    assert table["mean effort"].between(0, 1 + 1e-12).all()
    assert (table["posting"] <= 6).all() and (table["features used"] <= 4).all()
    for _, rule in table.groupby("rule"):
        free = rule[rule["kappa/base"] == 0]
        assert len(free) == 1 and free["mean effort"].iloc[0] == 1.0
        # without cost the producers' engagement adds up to the users' welfare
        assert np.isclose(free["producer surplus"].iloc[0], free["user welfare"].iloc[0])
        costly = rule[rule["kappa/base"] > 0]
        for _, part in costly.groupby("beta"):
            top = part[part["kappa/base"] == part["kappa/base"].max()]
            assert top["mean effort"].iloc[0] < free["mean effort"].iloc[0]


def test_skilled_producers_earn_more_and_welfare_ratios_are_at_most_one(quick):
    _, folder = quick
    skill = pd.read_csv(folder / f"{SLUG}-skill.csv")
    spread = skill[skill["skills"].str.startswith("spread")]
    assert len(spread) == 3 and (spread["payoff share, skilled half"] > 0.5).all()
    producers = pd.read_csv(folder / f"{SLUG}-skill-producers.csv")
    assert set(producers.loc[producers["skills"] == "all 1", "skill"]) == {1.0}
    topk = pd.read_csv(folder / f"{SLUG}-topk.csv")
    # the best vertex profile bounds every vertex profile and every average of them
    for column in ("exact eq. / best", "hedge play / best", "RUM: exact / best",
                   "RUM: hedge / best"):
        assert topk[column].between(0, 1 + 1e-9).all(), column


def test_movielens_is_skipped_without_data(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "RECGYM_DATA"}
    done = subprocess.run([sys.executable, str(SCRIPT), "--datasets", "movielens"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert "MovieLens-100k skipped" in done.stdout
    done = subprocess.run([sys.executable, str(SCRIPT), "--datasets", "movielens", "--data",
                           str(tmp_path / "absent")],
                          capture_output=True, text=True, cwd=ROOT, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert "MovieLens-100k skipped" in done.stdout
