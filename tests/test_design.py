"""The platform as designer: candidates, evaluation, summaries, optimisation, Pareto
frontiers and the price of anarchy (recgym.design)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

import recgym
from recgym import design, welfare
from recgym.solvers import best_response_dynamics


@pytest.fixture(scope="module")
def users() -> np.ndarray:
    return recgym.users.synthetic_skewed(400, 4, seed=3)


def test_evaluate_rows_match_the_dynamics_and_the_scfs(users):
    candidates = [design.Candidate("softmax:temperature=0.1"),
                  design.Candidate("linear:floor=0.2", "marginal")]
    frame = design.evaluate(users, 5, candidates, ["user_welfare", "producer_min"], [1, 2])
    assert len(frame) == 4
    assert list(frame.columns[:5]) == ["rule", "temperature", "k", "floor", "payoff"]
    row = frame.iloc[3]
    assert (row["rule"], row["floor"], row["payoff"], row["run"]) == ("linear", 0.2,
                                                                      "marginal", 2)
    assert math.isnan(row["temperature"]) and math.isnan(row["k"])
    game = recgym.EngagementGame(users, 5, "linear:floor=0.2", payoff="marginal")
    result = best_response_dynamics(game, np.random.RandomState(2))
    u = game.utilities(result.profile, result.active)
    assert row["counts"] == " ".join(map(str, result.counts))
    assert row["user_welfare"] == pytest.approx(welfare.user_welfare(u))
    assert row["producer_min"] == pytest.approx(welfare.producer_min(u))
    assert row["nash_conv_certified"]  # linear: vertex search is exact for marginal
    assert row["nash_conv"] == pytest.approx(0.0, abs=1e-12)


def test_summarize_worst_best_over_distinct_equilibria_and_mean_over_runs():
    frame = pd.DataFrame({
        "rule": "softmax", "temperature": 0.1, "k": math.nan, "floor": 0.0,
        "payoff": "engagement", "run": [1, 2, 3, 4, 5],
        "converged": [True, True, True, False, True],
        "iterations": [3, 4, 3, 499, 2], "counts": ["1 2", "1 2", "3 0", "2 1", "1 2"],
        "user_welfare": [0.5, 0.5, 0.2, 0.9, 0.5]})
    row = design.summarize(frame).iloc[0]
    assert (row["equilibria"], row["converged_runs"], row["not_converged"]) == (2, 4, 1)
    assert row["user_welfare_worst"] == 0.2 and row["user_welfare_best"] == 0.5
    assert row["user_welfare_mean"] == pytest.approx((0.5 * 3 + 0.2) / 4)  # 0.9 left out


def test_pareto_frontier_keeps_the_undominated_equilibria():
    frame = pd.DataFrame({"converged": [True, True, True, True, False],
                          "a": [1.0, 2.0, 3.0, 2.5, 9.0], "b": [3.0, 2.0, 1.0, 0.5, 9.0]})
    front = design.pareto(frame, "a", "b")
    assert front[["a", "b"]].values.tolist() == [[1, 3], [2, 2], [3, 1]]
    with pytest.raises(ValueError, match="no column 'c'"):
        design.pareto(frame, "a", "c")


def test_optimize_returns_the_best_evaluated_point(users):
    result = design.optimize(users, 4, "softmax", "temperature", (0.01, 10), "user_welfare",
                             runs=[1, 2], grid=4, refine=2)
    column = result.points["user_welfare_worst"]
    assert result.objective == column.max()
    assert result.value == result.points["value"][column.idxmax()]
    assert set(result.points["stage"]) == {"grid", "refine"}
    assert result.equilibria == len(result.points) * 2


def _brute_force_best(game: recgym.EngagementGame, scf) -> float:
    return max(welfare.value(scf, game.utilities(game.vertex_profile(np.array(d))))
               for d in itertools.product(range(game.n_vertices), repeat=game.n_producers))


@pytest.mark.parametrize("spec,payoff,scf", [
    ("linear", "engagement", "user_welfare"), ("softmax:temperature=0.3", "engagement",
                                               "producer_min"),
    ("uniform", "exposure", "user_welfare")])
def test_price_of_anarchy_on_a_tiny_instance_against_enumeration(spec, payoff, scf):
    users = np.random.default_rng(0).dirichlet(np.ones(3), size=12)
    game = recgym.EngagementGame(users, 3, spec, payoff=payoff)
    result = design.price_of_anarchy(users, 3, design.Candidate(spec, payoff), scf,
                                     runs=range(1, 8))
    assert result.opt >= _brute_force_best(game, welfare.parse(scf)) - 1e-12
    assert result.opt >= result.best >= result.worst
    if result.worst > 0:
        assert result.price_of_anarchy == pytest.approx(result.opt / result.worst)
        assert result.price_of_anarchy >= result.price_of_stability >= 1
    assert result.anarchy_gap == pytest.approx(result.opt - result.worst)
    if scf == "user_welfare":
        assert result.upper_bound >= result.opt
        assert result.upper_bound_ratio == pytest.approx(result.upper_bound / result.worst)
    else:
        assert result.upper_bound is None and result.upper_bound_ratio is None


def test_price_of_anarchy_reports_differences_when_the_scf_is_not_positive():
    users = np.random.default_rng(2).dirichlet(np.ones(2), size=10)
    result = design.price_of_anarchy(users, 2, design.Candidate("softmax:temperature=0.05",
                                                                "marginal"),
                                     lambda u: float(u.payoff.sum() - 100.0), runs=[1, 2])
    assert result.price_of_anarchy is None and result.price_of_stability is None
    assert result.anarchy_gap >= 0 and result.stability_gap >= 0


def test_expand_grid_is_a_log_grid():
    specs = design.expand_grid("softmax:temperature=0.01..100x5,floor=0.1")
    assert [recgym.make_rule(s).temperature for s in specs] == pytest.approx(
        [0.01, 0.1, 1.0, 10.0, 100.0])
    assert {recgym.make_rule(s).floor for s in specs} == {0.1}


@pytest.mark.parametrize(("call", "message"), [
    (lambda: design.expand_grid("softmax:temperature=1..0.1x3"), "reversed"),
    (lambda: design.expand_grid("softmax:temperature=0..1x3"), "lower bound must be"),
    (lambda: design.expand_grid("softmax:temperature=0.1..1x0"), "points must be"),
    (lambda: design.expand_grid("softmax:temperature=0.1..1"), "a grid is low..highxN"),
    (lambda: design.expand_grid("softmax:floor=0.1..2x3"), r"floor must be .* \[0, 1\]"),
    (lambda: design.Candidate("softmax", "revenue"), "payoff must be one of engagement"),
    (lambda: design.Candidate("hardmax"), "rule must be one of"),
    (lambda: design.Candidate("softmax:floor=2"), r"floor must be .* \[0, 1\]"),
    (lambda: design.evaluate(np.eye(2), 2, ["linear"], ["welfare"]),
     "social choice function must be one of"),
    (lambda: design.evaluate(np.eye(2), 2, ["linear"], ["utilitarian:lam=2"]), "lam must be"),
    (lambda: design.evaluate(np.eye(2), 2, ["linear"], ["alpha_fair:alpha=-0.5"]),
     "alpha must be"),
    (lambda: design.evaluate(np.eye(2), 2, ["linear"], [lambda u: float("nan")]),
     "returned NaN"),
    (lambda: design.optimize(np.eye(2), 2, "linear", "temperature", (0.1, 1)),
     "rule 'linear' has no parameter 'temperature'"),
    (lambda: design.optimize(np.eye(2), 2, "softmax", "temperature", (1, 0.1)), "reversed"),
    (lambda: design.optimize(np.eye(2), 2, "softmax", "temperature", (-1, 1)),
     "lower bound must be a finite number > 0"),
])
def test_bad_input_names_the_parameter(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_temperature_figures_draw_one_curve_per_payoff_and_floor():
    """Softmax rows with different floors are separate curves, each sorted by T."""
    from recgym.experiments import design_plots

    users = recgym.users.synthetic_uniform(200, 3, seed=0)
    candidates = [design.Candidate(f"softmax:temperature={t},floor={f}", "engagement")
                  for t in (0.1, 1.0, 10.0) for f in (0.0, 0.1)]
    summary = design.summarize(design.evaluate(users, 3, candidates, runs=[1],
                                               scfs=["user_welfare"]), ["user_welfare"])
    curves = design_plots._curves(design_plots._by_temperature(summary)[0])
    assert [label for label, _ in curves] == ["softmax / engagement",
                                              "softmax:floor=0.1 / engagement"]
    for _, part in curves:
        assert part["temperature"].tolist() == [0.1, 1.0, 10.0]


def test_candidates_are_the_same_only_when_their_parameters_are():
    from recgym.experiments.design_sweep import DesignConfig

    close = DesignConfig(out="unused", dataset="synth-uniform",
                         rules=("softmax:temperature=2", "softmax:temperature=2.0000001"))
    assert len(close.candidates()) == 2  # their labels round to the same 6 digits
    with pytest.raises(ValueError, match="same candidate twice"):
        DesignConfig(out="unused", dataset="synth-uniform",
                     rules=("softmax:temperature=2", "softmax:temperature=2.0"))
