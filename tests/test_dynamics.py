"""The paper's best-response dynamics: published runs bit for bit, fast path vs slow path."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import recgym
from agents import BestResponse, best_response_dynamics
from recgym.published import published_path
from recgym.solvers import VertexTable

DIMS = (5, 10, 15, 20)
PRODUCERS = (2, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100)
GENERATORS = {"synth-uniform": recgym.users.synthetic_uniform,
              "synth-skewed": recgym.users.synthetic_skewed}


@cache
def paper_users(dataset: str, dim: int, seed: int) -> np.ndarray:
    return GENERATORS[dataset](10_000, dim, seed)


@cache
def published(name: str) -> pd.DataFrame:
    return pd.read_csv(published_path("exp1" if name.startswith("exp1") else "exp2"))


def _check_chain(rows: pd.DataFrame, dataset: str, seed: int, rule: str,
                 temperature: float | None, rng: np.random.RandomState) -> int:
    """Run one of the paper's loops (docs/model.md section 8); compare every run with ``rows``."""
    checked = 0
    for d in DIMS:
        for n in PRODUCERS:
            game = recgym.EngagementGame(paper_users(dataset, d, seed), n, rule, temperature)
            result = best_response_dynamics(game, rng)
            want = rows[(rows.dim == d) & (rows.n_producers == n)]
            assert len(want) == 1, (d, n)
            want = want.iloc[0]
            where = f"{dataset} {rule} T={temperature} seed={seed} d={d} n={n}"
            assert result.converged == bool(want.converged), where
            assert result.iterations == want.iterations, where
            assert " ".join(map(str, result.counts)) == want.counts, where
            if want.converged:  # the paper stores -1 for runs that did not converge
                u = game.utilities(result.profile)
                got = [u.engagement.sum(), u.engagement.min(), u.engagement.max(),
                       u.user.mean(), u.user.min(), u.user.max()]
                expected = want[["total_producer_utility", "min_producer_utility",
                                 "max_producer_utility", "avg_user_utility",
                                 "min_user_utility", "max_user_utility"]].to_numpy(float)
                np.testing.assert_allclose(got, expected, rtol=1e-9, atol=0, err_msg=where)
            checked += 1
    return checked


@pytest.mark.parametrize("dataset,run", [("synth-uniform", 3), ("synth-uniform", 40),
                                         ("synth-skewed", 1)])
@pytest.mark.parametrize("rule", ["linear", "softmax"])
def test_experiment1_published_runs(paper_dir, dataset, run, rule):
    """Experiment 1: one RandomState(run) shared by the whole (d, n) loop, T = 1, seed 17."""
    pub = published("exp1_iterations.csv.gz")
    rows = pub[(pub.dataset == dataset) & (pub.rule == rule) & (pub.run == run)]
    temperature = 1.0 if rule == "softmax" else None
    assert _check_chain(rows, dataset, 17, rule, temperature,
                        np.random.RandomState(run)) == 48


EXP2_SETTINGS = [("linear", None), ("softmax", 0.01), ("softmax", 0.1), ("softmax", 1.0),
                 ("softmax", 10.0), ("softmax", 100.0)]


@pytest.mark.parametrize("dataset,seed", [("synth-uniform", 13), ("synth-skewed", 29)])
@pytest.mark.parametrize("rule,temperature", EXP2_SETTINGS)
def test_experiment2_published_runs(paper_dir, dataset, seed, rule, temperature):
    """Experiment 2: one RandomState(505) per (dataset, rule, seed); includes cycling runs."""
    pub = published("exp2_equilibria.csv.gz")
    rows = pub[(pub.dataset == dataset) & (pub.rule == rule) & (pub.embedding_seed == seed)]
    rows = rows[rows.temperature.isna()] if temperature is None else \
        rows[np.isclose(rows.temperature, temperature)]
    assert _check_chain(rows, dataset, seed, rule, temperature,
                        np.random.RandomState(505)) == 48


def test_published_non_converged_run_is_reproduced(paper_dir):
    """synth-uniform, softmax T=0.01, seed 13, d=10, n=5 cycles for 500 iterations."""
    pub = published("exp2_equilibria.csv.gz")
    row = pub[(pub.dataset == "synth-uniform") & (pub.temperature == 0.01) &
              (pub.embedding_seed == 13) & (pub.dim == 10) & (pub.n_producers == 5)].iloc[0]
    assert not row.converged
    rng = np.random.RandomState(505)
    # Consume the stream as the loop does: all of d=5, then d=10 with n=2 first.
    for d, n in [(5, m) for m in PRODUCERS] + [(10, 2)]:
        best_response_dynamics(recgym.EngagementGame(paper_users("synth-uniform", d, 13), n,
                                                     "softmax", 0.01), rng)
    game = recgym.EngagementGame(paper_users("synth-uniform", 10, 13), 5, "softmax", 0.01)
    result = best_response_dynamics(game, rng)
    assert not result.converged and result.iterations == 499 == row.iterations
    assert len(result.moves) == 500
    assert " ".join(map(str, result.counts)) == row.counts


def _naive_dynamics(game: recgym.EngagementGame, rng: np.random.RandomState,
                    max_iter: int = 500) -> tuple[bool, int, np.ndarray]:
    """docs/model.md section 5 verbatim: full serving matrix for every candidate (slow, obvious)."""
    n, d = game.n_producers, game.dim
    dirs = rng.choice(d, n)
    eye = np.eye(d)

    def utility(directions: np.ndarray, i: int) -> float:
        ratings = game.users @ eye[directions].T
        return float((game.rule.probabilities(ratings)[:, i] * ratings[:, i]).sum())

    for it in range(max_iter):
        order = rng.permutation(n)
        for i in order:
            best, best_value = dirs[i], utility(dirs, i)
            for b in range(d):
                trial = dirs.copy()
                trial[i] = b
                value = utility(trial, i)
                if value > best_value:
                    best, best_value = b, value
            if best != dirs[i]:
                dirs[i] = best
                break
        else:
            return True, it, dirs
    return False, max_iter - 1, dirs


@pytest.mark.parametrize("rule,temperature,k", [
    ("linear", None, None), ("softmax", 1.0, None), ("softmax", 0.02, None),
    ("softmax", 1e-3, None), ("softmax", 1e3, None), ("uniform", None, None),
    ("topk", 0.5, 1), ("topk", 0.1, 3)])
@pytest.mark.parametrize("seed", [0, 1])
def test_fast_dynamics_equal_naive_reference(rule, temperature, k, seed):
    users = recgym.users.synthetic_uniform(60, 4, np.random.default_rng(seed))
    game = recgym.EngagementGame(users, 6, rule, temperature, k)
    fast = best_response_dynamics(game, np.random.RandomState(seed), max_iter=60)
    converged, iterations, dirs = _naive_dynamics(game, np.random.RandomState(seed), 60)
    assert (fast.converged, fast.iterations) == (converged, iterations)
    np.testing.assert_array_equal(fast.directions, dirs)


@pytest.mark.parametrize("rule,temperature", [("linear", None), ("softmax", 0.05),
                                              ("softmax", 1.0)])
def test_fast_path_equals_generic_path(rule, temperature):
    game = recgym.EngagementGame(recgym.users.synthetic_uniform(500, 6, 2), 9, rule, temperature)
    fast, generic = VertexTable(game), VertexTable(game, fast=False)
    rng = np.random.default_rng(0)
    for _ in range(5):
        dirs = rng.integers(0, 6, size=9)
        counts = np.bincount(dirs, minlength=6)
        for i in range(9):
            np.testing.assert_allclose(fast(dirs, counts, i), generic(dirs, counts, i),
                                       rtol=1e-12)


def test_low_temperature_has_no_nan_and_no_cancellation():
    """At T = 1e-3 weights underflow: the stable generic path takes over, answers stay finite."""
    game = recgym.EngagementGame(recgym.users.synthetic_uniform(300, 5, 4), 4, "softmax", 1e-3)
    utilities = VertexTable(game)
    dirs = np.array([0, 0, 1, 2])
    values = utilities(dirs, np.bincount(dirs, minlength=5), 0)
    assert np.all(np.isfinite(values))
    # Moving to an empty feature wins every user who likes it best: never less than staying.
    assert values[3] > values[0] and values[4] > values[0]
    result = best_response_dynamics(game, 4)
    assert np.all(np.isfinite(game.utilities(result.profile).engagement))


@pytest.mark.parametrize("rule,temperature,k", [
    ("linear", None, None), ("softmax", 0.05, None), ("softmax", 2.0, None),
    ("topk", 0.3, 2), ("uniform", None, None)])
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 6), duplicate=st.booleans())
@settings(max_examples=15, deadline=None)
def test_converged_profiles_have_zero_vertex_nash_conv(rule, temperature, k, seed, n, duplicate):
    """Where the dynamics stop, no basis vector is better: NashConv over vertices is 0.

    A duplicated feature creates exact ties, which must not show up as rounding "gains".
    """
    rng = np.random.default_rng(seed)
    users = rng.dirichlet(np.ones(3), size=25)
    if duplicate:
        users = np.column_stack([users, users[:, 0]])
    game = recgym.EngagementGame(users, n, rule, temperature, k)
    br = BestResponse(game)
    result = br.dynamics(seed=seed % 1000)
    if result.converged:
        nc = br.nash_conv(result.profile, over="vertices")
        assert nc.value == 0.0, nc.gains


def test_seed_int_equals_random_state_and_stream_continues():
    game = recgym.EngagementGame(recgym.users.synthetic_uniform(200, 4, 0), 5, "linear")
    a = best_response_dynamics(game, 7)
    b = best_response_dynamics(game, np.random.RandomState(7))
    np.testing.assert_array_equal(a.directions, b.directions)
    rng = np.random.RandomState(7)
    best_response_dynamics(game, rng)
    second = best_response_dynamics(game, rng)  # continues the stream: a different start
    assert second.moves != a.moves or not np.array_equal(second.directions, a.directions)


def test_init_callback_and_moves():
    game = recgym.EngagementGame(recgym.users.synthetic_uniform(200, 3, 0), 4, "softmax", 1.0)
    seen = []
    result = best_response_dynamics(game, 0, init=[0, 0, 0, 0],
                                    callback=lambda move, dirs: seen.append((move, dirs)))
    assert [m for m, _ in seen] == list(result.moves) and len(seen) == result.iterations
    dirs = np.zeros(4, dtype=int)
    for move, after in seen:
        assert dirs[move.producer] == move.source and move.gain > 0
        dirs[move.producer] = move.target
        np.testing.assert_array_equal(dirs, after)
    np.testing.assert_array_equal(dirs, result.directions)
    np.testing.assert_array_equal(np.bincount(dirs, minlength=3), result.counts)
    with pytest.raises(ValueError, match="init must lie in 0..2"):
        best_response_dynamics(game, 0, init=[0, 0, 0, 3])
    with pytest.raises(ValueError, match="init must be 4 integer vertex indices"):
        best_response_dynamics(game, 0, init=[0.7, 1.9, 0.0, 0.0])
    with pytest.raises(TypeError, match="seed must be an int or a numpy.random.RandomState"):
        best_response_dynamics(game, np.random.default_rng(0))
    with pytest.raises(ValueError, match="max_iter must be an integer >= 1"):
        best_response_dynamics(game, 0, max_iter=0)
