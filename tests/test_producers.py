"""Producers who differ: skill and cost of effort (``recgym.producers``), against brute
force over fine grids of the strategy set on small games, and bit for bit against the
paper's game where they are off."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import recgym
from recgym.solvers import ExactSolver, VertexTable, best_response_dynamics, ray_search

coevolve_module = importlib.import_module("recgym.coevolve")

RULES = [("linear", {}), ("softmax", {"temperature": 1.0}), ("softmax", {"temperature": 0.05}),
         ("topk", {"k": 2, "temperature": 0.1}), ("uniform", {})]


def strategy_grid(dim: int, step: float) -> np.ndarray:
    """Every point of ``S = {s >= 0, sum(s) <= 1}`` on a grid of ``step`` ``(m, dim)``."""
    ticks = np.arange(0.0, 1.0 + step / 2, step)
    mesh = np.stack(np.meshgrid(*[ticks] * dim, indexing="ij"), axis=-1).reshape(-1, dim)
    return mesh[mesh.sum(axis=1) <= 1.0 + 1e-12]


def brute_best(game: recgym.EngagementGame, profile: np.ndarray, producer: int,
               grid: np.ndarray) -> float:
    view = game.others(profile, producer)
    return float(max(game.payoff_of(block, view).max()
                     for block in np.array_split(grid, max(1, len(grid) // 20000))))


def small_game(dim: int, rule: str, kwargs: dict, seed: int, **traits) -> recgym.EngagementGame:
    users = recgym.users.synthetic_uniform(40, dim, seed=seed)
    return recgym.EngagementGame(users, 3, rule, **kwargs, **traits)


def random_profile(dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.ones(dim + 1), size=3)[:, :dim]


# ------------------------------------------------------------------ off: bit for bit
@pytest.mark.parametrize("rule,kwargs", RULES)
def test_unit_skill_and_free_effort_are_the_papers_dynamics_bit_for_bit(rule, kwargs):
    users = recgym.users.synthetic_uniform(300, 4, seed=3)
    plain = recgym.EngagementGame(users, 6, rule, **kwargs)
    traited = recgym.EngagementGame(users, 6, rule, **kwargs, skill=np.ones(6), cost=0.0,
                                    cost_exponent=2.0)
    assert traited.traits.skill is None and traited.traits.cost is None
    for seed in range(3):
        a, b = best_response_dynamics(plain, seed), best_response_dynamics(traited, seed)
        assert a.moves == b.moves and np.array_equal(a.profile, b.profile)
        assert a.converged == b.converged and a.iterations == b.iterations
    profile = random_profile(4, 0).repeat(2, axis=0)
    u, v = plain.utilities(profile), traited.utilities(profile)
    assert np.array_equal(u.payoff, v.payoff) and np.array_equal(u.user, v.user)


# ------------------------------------------------------------------ skill
def test_skill_scales_each_producers_ratings():
    users = recgym.users.synthetic_uniform(50, 3, seed=0)
    skill = np.array([1.0, 0.5, 0.25])
    game = recgym.EngagementGame(users, 3, "linear", skill=skill)
    profile = random_profile(3, 1)
    assert np.allclose(game.ratings(profile), (users @ profile.T) * skill)
    # a skilled producer is served as a skill-1 producer posting q s
    plain = recgym.EngagementGame(users, 3, "linear")
    assert np.allclose(game.utilities(profile).engagement,
                       plain.utilities(profile * skill[:, None]).engagement)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), case=st.sampled_from(RULES),
       skill=st.lists(st.floats(0.05, 1.0), min_size=3, max_size=3))
def test_skill_keeps_producer_total_equal_to_user_total(seed, case, skill):
    game = small_game(3, case[0], case[1], seed, skill=skill)
    u = game.utilities(random_profile(3, seed))
    assert np.isclose(u.engagement.sum(), u.user.sum(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dim,step", [(2, 0.002), (3, 0.01)])
@pytest.mark.parametrize("rule,kwargs", RULES)
def test_skill_best_response_against_brute_force(dim, step, rule, kwargs):
    grid = strategy_grid(dim, step)
    for seed in range(3):
        game = small_game(dim, rule, kwargs, seed, skill=[0.9, 0.4, 0.7])
        profile = random_profile(dim, seed)
        solver = ExactSolver(game)
        for producer in range(3):
            response = solver.best_response(profile, producer)
            brute = brute_best(game, profile, producer, grid)
            scale = game.total_weight
            # never worse than the grid's best by more than the grid's resolution
            assert response.utility >= brute - 1e-3 * scale
            if response.certified:  # a certificate is a proof: the grid cannot beat it
                assert brute <= response.utility + response.gap + 1e-9 * scale


@pytest.mark.parametrize("rule,kwargs", RULES)
def test_skill_certificates_hold_on_each_rule(rule, kwargs):
    """Where the rule certifies the vertex search under skill, no point of a fine grid
    beats the best vertex."""
    grid = strategy_grid(3, 0.01)
    certified = 0
    for seed in range(4):
        game = small_game(3, rule, kwargs, seed, skill=[0.3, 1.0, 0.6])
        profile = random_profile(3, seed)
        for producer in range(3):
            response = ExactSolver(game).best_response(profile, producer)
            if response.certified and response.method in ("vertex", "current"):
                certified += 1
                assert brute_best(game, profile, producer, grid) <= \
                    response.utility + 1e-9 * game.total_weight
    if rule in ("linear", "uniform"):
        assert certified > 0  # linear and uniform engagement are always certified


def test_uniform_skill_fast_table_matches_the_generic_table():
    users = recgym.users.synthetic_uniform(200, 4, seed=2)
    game = recgym.EngagementGame(users, 5, "softmax", temperature=0.3, skill=0.6)
    fast, generic = VertexTable(game), VertexTable(game, fast=False)
    assert fast.fast and not generic.fast
    directions = np.array([0, 1, 1, 3, 2])
    counts = np.bincount(directions, minlength=game.n_vertices)
    for producer in range(5):
        assert np.allclose(fast(directions, counts, producer),
                           generic(directions, counts, producer), rtol=1e-12)


def test_dynamics_with_differing_skill_end_at_a_vertex_equilibrium():
    users = recgym.users.synthetic_uniform(400, 3, seed=0)
    game = recgym.EngagementGame(users, 4, "linear", skill=[1.0, 0.8, 0.5, 0.3])
    result = best_response_dynamics(game, 0)
    assert result.converged
    nash = ExactSolver(game).nash_conv(result.profile)
    assert nash.certified and nash.value <= 1e-9 * game.total_weight


# ------------------------------------------------------------------ cost of effort
@pytest.mark.parametrize("dim,step", [(2, 0.002), (3, 0.01)])
@pytest.mark.parametrize("rule,kwargs", RULES)
@pytest.mark.parametrize("cost,beta", [(0.3, 2.0), (0.1, 1.0), (0.5, 3.0)])
def test_cost_best_response_against_brute_force(dim, step, rule, kwargs, cost, beta):
    grid = strategy_grid(dim, step)
    for seed in range(2):
        game = small_game(dim, rule, kwargs, seed, cost=cost, cost_exponent=beta)
        profile = random_profile(dim, seed)
        solver = ExactSolver(game)
        for producer in range(3):
            response = solver.best_response(profile, producer)
            brute = brute_best(game, profile, producer, grid)
            scale = game.total_weight
            # the grid's resolution: a step moves a rating by at most `step`
            assert response.utility >= brute - 2e-3 * scale
            if response.certified:
                assert brute <= response.utility + response.gap + 1e-9 * scale
                assert response.gap <= 1e-6 * scale


@pytest.mark.parametrize("rule,kwargs", [("linear", {}), ("softmax", {"temperature": 1.0})])
def test_certified_cost_best_responses_lie_on_a_ray_within_the_tolerance(rule, kwargs):
    game = small_game(3, rule, kwargs, 5, cost=0.4, cost_exponent=2.0)
    profile = random_profile(3, 5)
    view = game.others(profile, 0)
    ray = ray_search(game, view)
    assert np.count_nonzero(ray.strategy) <= 1 and 0.0 <= ray.level <= 1.0
    assert ray.gap <= 1e-9 * game.total_weight
    levels = np.linspace(0, 1, 100_001)
    for j in range(3):
        points = np.zeros((len(levels), 3))
        points[:, j] = levels
        assert game.payoff_of(points, view).max() <= ray.value + ray.gap + 1e-12


def test_costly_effort_lowers_effort_and_posting_nothing_can_be_best():
    users = recgym.users.synthetic_uniform(300, 3, seed=1)
    efforts = []
    for cost in (0.05, 0.2, 0.5):
        game = recgym.EngagementGame(users, 4, "linear", cost=cost, cost_exponent=2.0)
        result = best_response_dynamics(game, 0)
        assert result.converged and result.levels is not None
        efforts.append(float(result.profile.sum(axis=1).mean()))
        nash = ExactSolver(game).nash_conv(result.profile)
        assert nash.certified
        # the dynamics stop when no ray point gains more than MOVE_TOL per user
        assert nash.value <= 4 * 1e-8 * game.total_weight
    assert efforts[0] > efforts[1] > efforts[2]
    expensive = recgym.EngagementGame(users, 4, "linear", cost=5.0)
    result = best_response_dynamics(expensive, 0)
    assert np.all(result.profile == 0) and np.all(result.levels == 0)
    assert np.all(result.directions == expensive.dim)  # the zero strategy's vertex


def test_cost_payoff_is_engagement_minus_the_cost_of_effort():
    users = recgym.users.synthetic_uniform(80, 3, seed=0)
    game = recgym.EngagementGame(users, 3, "softmax", cost=[0.1, 0.2, 0.0], cost_exponent=1.5)
    profile = random_profile(3, 2)
    u = game.utilities(profile)
    expected = u.engagement - 80 * np.array([0.1, 0.2, 0.0]) * profile.sum(axis=1) ** 1.5
    assert np.allclose(u.payoff, expected)
    for i in range(3):  # the one-producer view agrees with the profile's payoff
        assert np.isclose(game.payoff_of(profile[i:i + 1], game.others(profile, i))[0],
                          u.payoff[i])


def test_cost_gradient_matches_finite_differences():
    users = recgym.users.synthetic_uniform(60, 3, seed=4)
    game = recgym.EngagementGame(users, 3, "softmax", temperature=0.5, skill=[0.7, 1, 1],
                                 cost=0.3, cost_exponent=2.5)
    profile = random_profile(3, 4)
    view = game.others(profile, 0)
    point = np.array([[0.2, 0.3, 0.1]])
    _, grad = game.payoff_and_gradient(point, view)
    h = 1e-6
    numeric = [(game.payoff_of(point + h * e, view) - game.payoff_of(point - h * e, view))[0]
               / (2 * h) for e in np.eye(3)]
    assert np.allclose(grad[0], numeric, rtol=1e-5)


def test_cost_in_the_epoch_engine():
    users = recgym.users.synthetic_uniform(200, 3, seed=0)
    game = recgym.EngagementGame(users, 4, "linear", cost=0.3, cost_exponent=2.0)
    run = recgym.coevolve(game, epochs=3, moves_per_epoch=50)
    final = run.profiles[-1]
    assert np.all(final.sum(axis=1) < 1.0)  # nobody posts a full unit at this cost
    static = best_response_dynamics(game, 0)
    assert np.allclose(final, static.profile)  # static users: the dynamics' end point
    with pytest.raises(ValueError, match="learner"):
        coevolve_module.Coevolution(game, learner="ucb")
    with pytest.raises(ValueError, match="behavior"):
        coevolve_module.Coevolution(game, behavior="quantal:rationality=5")


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("kwargs,match", [
    ({"skill": 0.0}, "skill must be in"), ({"skill": 1.5}, "skill must be in"),
    ({"skill": [1.0, 0.5]}, "skill must be a number or an array of shape"),
    ({"skill": np.nan}, "skill must contain only finite"),
    ({"cost": -0.1}, "cost must be non-negative"), ({"cost": np.inf}, "cost must contain"),
    ({"cost": [0.1, 0.1]}, "cost must be a number or an array of shape"),
    ({"cost_exponent": 0.5}, "cost_exponent must be"),
    ({"cost_exponent": np.nan}, "cost_exponent must be"),
])
def test_bad_traits_are_refused(kwargs, match):
    users = recgym.users.synthetic_uniform(10, 2, seed=0)
    with pytest.raises(ValueError, match=match):
        recgym.EngagementGame(users, 3, **kwargs)


def test_behaviours_over_vertices_are_refused_with_a_cost():
    game = small_game(2, "linear", {}, 0, cost=0.2)
    with pytest.raises(ValueError, match="behavior"):
        best_response_dynamics(game, 0, behavior="hedge:rate=0.1")


def test_hardmax_best_responses_are_flagged_not_certified():
    """Top-1 serving makes the payoff piecewise constant in the own strategy: the search
    is a heuristic there, and says so."""
    for traits in ({"skill": [0.9, 0.4, 0.7]}, {"cost": 0.3, "cost_exponent": 2.0}):
        game = small_game(3, "topk", {"k": 1}, 0, **traits)
        response = ExactSolver(game).best_response(random_profile(3, 0), 0)
        assert not response.certified and np.isnan(response.gap)


# ------------------------------------------------------------------ design and information
def test_design_and_information_take_skill_cost_and_behaviour():
    from recgym import design, information

    users = recgym.users.synthetic_uniform(300, 3, seed=0)
    skilled = design.evaluate(users, 4, ["linear"], runs=[1], skill=[1.0, 0.8, 0.6, 0.4])
    game = recgym.EngagementGame(users, 4, "linear", skill=[1.0, 0.8, 0.6, 0.4])
    end = best_response_dynamics(game, np.random.RandomState(1))
    assert np.isclose(skilled["user_welfare"].iloc[0],
                      game.utilities(end.profile).user.mean())
    costly = design.evaluate(users, 4, ["linear"], runs=[1], cost=0.2, cost_exponent=2.0)
    assert bool(costly["nash_conv_certified"].iloc[0])
    assert costly["user_welfare"].iloc[0] < skilled["user_welfare"].iloc[0]  # less effort
    hedge = design.evaluate(users, 4, ["linear"], runs=[1], behavior="hedge:rate=50",
                            max_iter=50)
    assert not bool(hedge["converged"].iloc[0])
    with pytest.raises(ValueError, match="skill"):
        design.evaluate(users, 4, ["linear"], runs=[1], skill=2.0)
    frame = information.evaluate(users, 3, epsilons=[1.0], runs=[1], skill=[1.0, 0.5, 0.5])
    truth = recgym.EngagementGame(users, 3, "softmax", skill=[1.0, 0.5, 0.5])
    full = best_response_dynamics(truth, np.random.RandomState(1))
    row = frame[frame["setting"] == "full"].iloc[0]
    assert np.isclose(row["user_welfare"], truth.utilities(full.profile).user.mean())
