"""Social choice functions and reward mechanisms (payoffs)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import recgym
import recgym.solvers
from agents import BestResponse
from recgym import welfare
from recgym.payoffs import PAYOFFS
from recgym.solvers import best_response_dynamics


def _game(seed: int = 0, n: int = 4, dim: int = 3, n_users: int = 60, **kwargs
          ) -> recgym.EngagementGame:
    users = np.random.default_rng(seed).dirichlet(np.ones(dim), size=n_users)
    return recgym.EngagementGame(users, n, **kwargs)


def test_builtin_scfs_by_hand():
    game = _game(payoff="exposure", rule="linear")
    profile = np.eye(3)[[0, 1, 1, 2]]
    u = game.utilities(profile)
    k = game.n_users
    assert welfare.user_welfare(u) == pytest.approx(u.user.mean())
    assert welfare.producer_welfare(u) == pytest.approx(u.exposure.sum() / k)
    assert welfare.user_min(u) == pytest.approx(u.user.min())
    assert welfare.producer_min(u) == pytest.approx(u.exposure.min() / k)
    assert welfare.utilitarian(0.3)(u) == pytest.approx(0.3 * u.user.mean()
                                                        + 0.7 * u.exposure.sum() / k)
    shares = u.exposure / k  # producers 1 and 2 share a vertex: three distinct values
    assert welfare.viable_producers(float(shares.max()))(u) == 1
    assert welfare.viable_producers(float(np.sort(shares)[2]))(u) == 2
    assert welfare.viable_producers(0.0)(u) == 4
    assert welfare.alpha_fair(2.0)(u) == pytest.approx(np.sum(shares ** -1.0) / -1.0)


def test_alpha_fair_identities():
    """E1: alpha = 0 is producer welfare, alpha = 1 is Nash welfare (sum of logs)."""
    u = _game().utilities(np.random.default_rng(1).dirichlet(np.ones(3), size=4))
    assert welfare.alpha_fair(0.0)(u) == pytest.approx(welfare.producer_welfare(u))
    assert welfare.alpha_fair(1.0)(u) == pytest.approx(np.log(u.payoff / 60).sum())
    # alpha -> 1 approaches Nash welfare up to the constant n / (1 - alpha).
    alpha = 1 + 1e-6
    near = welfare.alpha_fair(alpha)(u) - 4 / (1 - alpha)
    assert near == pytest.approx(welfare.alpha_fair(1.0)(u), abs=1e-3)


def test_alpha_fair_is_minus_infinity_where_a_payoff_is_not_positive():
    game = _game(payoff="marginal", rule="softmax", temperature=0.05)
    profile = np.vstack([np.eye(3)[[0, 1, 2]], np.zeros(3)])  # producer 3 posts nothing
    u = game.utilities(profile)
    assert u.payoff[3] < 0  # it dilutes the others under softmax
    assert welfare.alpha_fair(1.0)(u) == -math.inf
    assert welfare.alpha_fair(0.5)(u) == -math.inf


def test_scf_engagement_identity():
    """Under engagement, user welfare equals producer welfare (sum_i u_i = sum_k v_k)."""
    u = _game().utilities(np.random.default_rng(2).dirichlet(np.ones(3), size=4))
    assert welfare.user_welfare(u) == pytest.approx(welfare.producer_welfare(u))


@pytest.mark.parametrize(("spec", "expected"), [
    ("user_welfare", welfare.user_welfare), ("utilitarian:lam=0.25", welfare.utilitarian(0.25)),
    ("alpha_fair:alpha=2", welfare.alpha_fair(2)), ("viable_producers:o=0.01",
                                                    welfare.viable_producers(0.01)),
])
def test_parse_spec_strings(spec, expected):
    assert welfare.parse(spec) == expected
    assert welfare.name_of(welfare.parse(spec)) == spec.replace("=2", "=2")


@pytest.mark.parametrize(("spec", "message"), [
    ("happiness", "social choice function must be one of user_welfare"),
    ("utilitarian:lam=1.5", r"lam must be a finite number in \[0, 1\]"),
    ("alpha_fair:alpha=-1", "alpha must be a finite number >= 0"),
    ("utilitarian:mu=0.5", "has no parameter 'mu'; its parameters: lam"),
])
def test_bad_scf_specs(spec, message):
    with pytest.raises(ValueError, match=message):
        welfare.parse(spec)


def test_user_callables_work_and_nan_is_refused():
    u = _game().utilities(np.eye(3)[[0, 1, 2, 0]])

    def top_user(utilities):
        return float(utilities.user.max())

    assert welfare.parse(top_user) is top_user and welfare.name_of(top_user) == "top_user"
    assert welfare.value(top_user, u) == pytest.approx(u.user.max())
    with pytest.raises(ValueError, match="returned NaN"):
        welfare.value(lambda utilities: float("nan"), u)


@given(seed=st.integers(0, 2**32 - 1), payoff=st.sampled_from(PAYOFFS.names),
       rule=st.sampled_from(["linear", "softmax:temperature=0.05", "topk:k=2", "uniform",
                             "softmax:floor=0.3"]))
@settings(max_examples=60, deadline=None)
def test_user_welfare_never_exceeds_its_upper_bound(seed, payoff, rule):
    rng = np.random.default_rng(seed)
    users = rng.dirichlet(np.ones(4), size=30)
    weights = rng.uniform(0, 2, size=30)
    game = recgym.EngagementGame(users, 3, rule, payoff=payoff, weights=weights)
    u = game.utilities(rng.dirichlet(np.ones(4), size=3) * rng.uniform(0, 1, (3, 1)))
    assert welfare.user_welfare(u) <= welfare.user_welfare_upper_bound(users, weights) + 1e-12


# ---------------------------------------------------------------------- payoffs
@given(seed=st.integers(0, 2**32 - 1),
       rule=st.sampled_from(["linear", "softmax:temperature=0.05", "softmax", "topk:k=2",
                             "uniform", "softmax:temperature=0.2,floor=0.3"]))
@settings(max_examples=60, deadline=None)
def test_marginal_payoff_is_an_exact_potential(seed, rule):
    """E2: any unilateral deviation, interior strategies included, changes the deviator's
    marginal payoff by exactly the change in total user welfare W."""
    rng = np.random.default_rng(seed)
    game = _game(seed % 1000, n=3, dim=4, rule=rule, payoff="marginal")
    before = rng.dirichlet(np.ones(4), size=3) * rng.uniform(0, 1, (3, 1))
    after = before.copy()
    i = int(rng.integers(3))
    after[i] = rng.dirichlet(np.ones(4)) * rng.uniform()
    u0, u1 = game.utilities(before), game.utilities(after)
    assert u1.payoff[i] - u0.payoff[i] == pytest.approx(u1.user.sum() - u0.user.sum(),
                                                        abs=1e-9)


@pytest.mark.parametrize("rule", ["linear", "softmax:temperature=0.1", "uniform"])
def test_marginal_dynamics_raise_welfare_at_every_move(rule):
    """Under the marginal payoff each move raises W by exactly the mover's gain (an exit,
    where a producer's best payoff is negative, removes it from the served set)."""
    game = _game(3, n=6, dim=4, n_users=200, rule=rule, payoff="marginal")
    active = np.ones(6, dtype=bool)
    start = np.random.RandomState(0).choice(4, 6)  # the dynamics' own first draw
    history = [game.utilities(game.vertex_profile(start)).user.sum()]

    def record(event, directions):
        if isinstance(event, recgym.solvers.Exit):
            active[event.producer] = False
        history.append(game.utilities(game.vertex_profile(directions), active).user.sum())
        if isinstance(event, recgym.solvers.Move):
            assert event.gain > 0
            assert history[-1] - history[-2] == pytest.approx(event.gain, abs=1e-9)

    result = best_response_dynamics(game, 0, callback=record)
    assert result.converged and len(result.moves) >= 2


def test_marginal_best_response_can_post_nothing():
    """A producer whose every feature dilutes better-matched ones is best off posting
    nothing (an instance found by search: five users, softmax T = 0.05)."""
    users = np.random.default_rng(80).dirichlet(np.ones(2) * 0.3, size=5)
    game = recgym.EngagementGame(users, 3, "softmax", temperature=0.05, payoff="marginal")
    assert game.n_vertices == 3  # e_0, e_1 and the zero strategy
    profile = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    response = BestResponse(game).best_response(profile, 2, over="vertices")
    np.testing.assert_array_equal(response.strategy, [0.0, 0.0])
    values = game.payoff_of(game.vertices, game.others(profile, 2))
    assert values.argmax() == 2 and values[2] > values[:2].max()


def test_exposure_under_linear_serving_is_solved_and_certified():
    """E2: exposure under linear serving is concave; interior strategies beat every
    vertex, and the Frank-Wolfe gap certifies the answer."""
    game = _game(7, n=3, dim=3, n_users=50, rule="linear", payoff="exposure")
    profile = np.array([[0.6, 0.4, 0.0], [0.0, 0.5, 0.5], [0.3, 0.3, 0.4]])
    br = BestResponse(game)
    vertex = br.best_response(profile, 0, over="vertices")
    full = br.best_response(profile, 0)
    assert full.certified and full.method == "concave" and full.gap <= 1e-6 * full.utility
    assert full.utility > vertex.utility
    # Nothing on a dense grid of the simplex does better.
    grid = np.array([(a, b, 1 - a - b) for a in np.linspace(0, 1, 41)
                     for b in np.linspace(0, 1, 41) if a + b <= 1])
    values = game.payoff_of(grid, game.others(profile, 0))
    assert values.max() <= full.utility + 1e-9


def test_default_payoff_keeps_the_papers_dynamics():
    game = _game(5, n=5, dim=4, n_users=300)
    explicit = recgym.EngagementGame(game.users, 5, payoff="engagement")
    a, b = best_response_dynamics(game, 3), best_response_dynamics(explicit, 3)
    assert a.moves == b.moves and np.array_equal(a.counts, b.counts)


def test_unit_weights_are_bit_identical_and_weight_two_is_duplication():
    users = np.random.default_rng(4).dirichlet(np.ones(3), size=40)
    plain = recgym.EngagementGame(users, 4, "softmax", temperature=0.2)
    unit = recgym.EngagementGame(users, 4, "softmax", temperature=0.2, weights=np.ones(40))
    profile = np.random.default_rng(5).dirichlet(np.ones(3), size=4)
    np.testing.assert_array_equal(plain.utilities(profile).payoff,
                                  unit.utilities(profile).payoff)
    weights = np.ones(40)
    weights[7] = 2.0
    weighted = recgym.EngagementGame(users, 4, "softmax", temperature=0.2, weights=weights)
    duplicated = recgym.EngagementGame(np.vstack([users, users[7]]), 4, "softmax",
                                       temperature=0.2)
    np.testing.assert_allclose(weighted.utilities(profile).payoff,
                               duplicated.utilities(profile).payoff, rtol=1e-12)
    a, b = best_response_dynamics(weighted, 1), best_response_dynamics(duplicated, 1)
    assert np.array_equal(a.counts, b.counts)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"weights": -np.ones(60)}, "weights must be non-negative"),
    ({"weights": np.ones(59)}, r"weights must be a number or an array of shape \(60,\)"),
    ({"weights": np.zeros(60)}, "weights must not all be 0"),
    ({"weights": np.full(60, np.nan)}, "weights must contain only finite values"),
    ({"outside_option": [0.1, 0.2]}, r"outside_option must be a number or an array of shape"),
    ({"outside_option": -0.5}, "outside_option must be non-negative"),
    ({"payoff": "revenue"}, "payoff must be one of engagement, exposure, marginal"),
])
def test_bad_game_settings_name_the_parameter(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _game(**kwargs)
