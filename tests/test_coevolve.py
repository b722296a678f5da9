"""The epoch engine (recgym.coevolve), the user-dynamics models and the population."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import ClassVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import recgym
from recgym import metrics
from recgym.coevolve import HISTORY_COLUMNS, Coevolution
from recgym.population import Population
from recgym.registry import Param
from recgym.solvers import best_response_dynamics
from recgym.testing import check_user_dynamics
from recgym.user_dynamics import USER_DYNAMICS, UserDynamics, make_user_dynamics


def _softmax(ratings: np.ndarray, temperature: float) -> np.ndarray:
    z = np.exp((ratings - ratings.max(axis=1, keepdims=True)) / temperature)
    return z / z.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def users() -> np.ndarray:
    return recgym.users.synthetic_uniform(300, 4, seed=17)


# ---------------------------------------------------------------- static users
@pytest.mark.parametrize("rule", ["softmax:temperature=0.1", "linear",
                                  "topk:k=2,temperature=0.1", "uniform"])
@pytest.mark.parametrize("seed", [0, 5])
def test_static_users_end_at_the_papers_dynamics(users, rule, seed):
    game = recgym.EngagementGame(users, 6, rule)
    reference = best_response_dynamics(game, seed)
    assert reference.converged
    trajectory = recgym.coevolve(game, epochs=reference.iterations + 3, moves_per_epoch=1,
                                 seed=seed)
    assert np.array_equal(trajectory.profiles[-1], reference.profile)
    assert np.array_equal(trajectory.active_producers[-1], reference.active)
    assert all(np.array_equal(u, users) for u in trajectory.users)
    assert trajectory.active_users.all()
    assert int(trajectory.history["iterations"].sum()) == reference.iterations
    assert trajectory.history["converged"].iloc[-1]


def test_static_users_follow_a_cycling_run_move_for_move(users):
    """top-k with k = 2 cycles here: the streams must agree iteration by iteration."""
    game = recgym.EngagementGame(users, 6, "topk:k=2")
    reference = best_response_dynamics(game, 0, max_iter=37)
    assert not reference.converged
    trajectory = recgym.coevolve(game, epochs=37, moves_per_epoch=1, seed=0)
    assert np.array_equal(trajectory.profiles[-1], reference.profile)
    trajectory = recgym.coevolve(game, epochs=4, moves_per_epoch=10, seed=0)
    assert np.array_equal(trajectory.profiles[-1], best_response_dynamics(game, 0, 40).profile)


def test_static_with_exits_matches_the_dynamics(users):
    game = recgym.EngagementGame(users, 8, "softmax:temperature=0.5", outside_option=0.05)
    reference = best_response_dynamics(game, 2)
    trajectory = recgym.coevolve(game, epochs=60, moves_per_epoch=2, seed=2)
    assert len(reference.exits) > 0  # the instance does have exits
    assert np.array_equal(trajectory.active_producers[-1], reference.active)
    assert np.array_equal(trajectory.profiles[-1], reference.profile)
    assert int(trajectory.history["exits"].sum()) == len(reference.exits)


# ---------------------------------------------------------------- the models
def _served(users: np.ndarray, profile: np.ndarray, temperature: float):
    game = recgym.EngagementGame(users, len(profile), "softmax", temperature)
    return game.serve(profile)


def test_exposure_update_against_a_reference(users):
    profile = np.random.default_rng(1).dirichlet(np.ones(4), size=5)
    serving = _served(users, profile, 0.2)
    new = make_user_dynamics("exposure:rate=0.3").update(users, serving)
    probs = _softmax(users @ profile.T, 0.2)
    expected = np.empty_like(users)
    for k, c in enumerate(users):  # one user at a time, on purpose: the reference
        m = probs[k] @ profile
        expected[k] = 0.7 * c + 0.3 * c.sum() * m / m.sum()
    np.testing.assert_allclose(new, expected, rtol=1e-12)


def test_engagement_update_against_a_reference(users):
    profile = np.random.default_rng(2).dirichlet(np.ones(4), size=5)
    serving = _served(users, profile, 0.5)
    new = make_user_dynamics("engagement:rate=2").update(users, serving)
    ratings = users @ profile.T
    probs = _softmax(ratings, 0.5)
    expected = np.empty_like(users)
    for k, c in enumerate(users):
        g = c + 2.0 * sum(probs[k, i] * ratings[k, i] * profile[i] for i in range(5))
        expected[k] = c.sum() * g / g.sum()
    np.testing.assert_allclose(new, expected, rtol=1e-12)


def test_zero_consumption_leaves_a_user_unchanged():
    users = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    profile = np.zeros((2, 3))  # nobody posts anything: m_k = 0
    serving = recgym.EngagementGame(users, 2, "uniform").serve(profile)
    for spec in ("exposure:rate=0.5", "engagement:rate=3"):
        np.testing.assert_array_equal(make_user_dynamics(spec).update(users, serving), users)


@pytest.mark.parametrize("spec", ["static", "exposure:rate=0", "exposure:rate=1",
                                  "exposure:rate=0.4", "engagement:rate=0",
                                  "engagement:rate=5"])
def test_builtin_models_pass_the_contract(spec):
    check_user_dynamics(make_user_dynamics(spec))


@given(seed=st.integers(0, 2**31), rate=st.floats(0, 1), erate=st.floats(0, 50),
       temperature=st.floats(1e-3, 10))
@settings(max_examples=40, deadline=None)
def test_updates_keep_norms_and_signs(seed, rate, erate, temperature):
    rng = np.random.default_rng(seed)
    users = rng.dirichlet(np.ones(3), size=20) * rng.uniform(0, 1, (20, 1))
    profile = rng.dirichlet(np.ones(3), size=3) * rng.uniform(0, 1, (3, 1))
    serving = _served(users, profile, temperature)
    for model in (make_user_dynamics(f"exposure:rate={rate!r}"),
                  make_user_dynamics(f"engagement:rate={erate!r}")):
        new = model.update(users, serving)
        assert new.min() >= 0
        np.testing.assert_allclose(new.sum(axis=1), users.sum(axis=1), rtol=1e-12, atol=1e-15)


def test_a_broken_model_fails_the_contract():
    @dataclass(frozen=True)
    class Inflating(UserDynamics):
        NAME: ClassVar[str] = "inflating"

        def update(self, users, serving):
            return users * 2.0

    with pytest.raises(AssertionError, match="L1 norm"):
        check_user_dynamics(Inflating())


# ---------------------------------------------------------------- a registered toy model
@dataclass(frozen=True)
class TowardFirst(UserDynamics):
    """Moves a share ``rate`` of every user's mass to feature 0."""

    NAME: ClassVar[str] = "toward_first"
    PARAMS: ClassVar[tuple[Param, ...]] = (Param("rate", float, 0.5, low=0.0, high=1.0),)
    rate: float = 0.5

    def update(self, users, serving):
        moved = (1.0 - self.rate) * users
        moved[:, 0] += self.rate * users.sum(axis=1)
        return moved


def test_a_registered_toy_model_end_to_end(users):
    USER_DYNAMICS.register(TowardFirst)
    try:
        check_user_dynamics(make_user_dynamics("toward_first:rate=0.25"))
        trajectory = recgym.coevolve(users, n_producers=4, rule="linear",
                                     user_dynamics="toward_first:rate=0.25", epochs=6, seed=1)
        share_first = trajectory.users[:, :, 0].sum(axis=1) / users.sum()
        assert np.all(np.diff(share_first) > 0)
        assert trajectory.history["demand_entropy"].is_monotonic_decreasing
    finally:
        USER_DYNAMICS.unregister("toward_first")


# ---------------------------------------------------------------- departures
def test_departures_count_consecutive_epochs():
    game = recgym.EngagementGame(np.eye(3) / 2, 1, "uniform")
    population = Population(game, "static", user_outside_option=0.5, user_patience=2)

    def serve(values):
        return SimpleNamespace(utilities=SimpleNamespace(user=np.array(values)))

    assert population.depart(serve([0.4, 0.4, 0.6])) == 0
    assert population.below.tolist() == [1, 1, 0]
    assert population.depart(serve([0.4, 0.6, 0.4])) == 1  # user 0: twice in a row
    assert population.active.tolist() == [False, True, True]
    assert population.below.tolist() == [2, 0, 1]  # user 1 recovered before P
    assert population.depart(serve([0.4, 0.4])) == 1  # rows of the users still active
    assert population.active.tolist() == [False, True, False]
    assert population.depart(serve([0.5])) == 0  # exactly at the option is not below
    assert population.depart(serve([0.1])) == 0
    assert population.depart(serve([0.1])) == 1
    assert not population.active.any()
    population.reset()
    assert population.active.all() and not population.below.any()


@pytest.mark.parametrize("patience", [1, 3])
def test_departures_follow_the_recorded_utilities(users, patience):
    """Every user's utility recomputed from the record: who leaves and when."""
    option = 0.3
    trajectory = recgym.coevolve(users, n_producers=3, rule="linear",
                                 user_dynamics="exposure:rate=0.2", user_outside_option=option,
                                 user_patience=patience, epochs=8, moves_per_epoch=2, seed=4)
    below = np.zeros(len(users), dtype=int)
    active = np.ones(len(users), dtype=bool)
    for t in range(1, trajectory.epochs + 1):
        c = trajectory.users[t - 1]
        live = trajectory.active_producers[t]
        ratings = c @ trajectory.profiles[t][live].T
        v = (ratings ** 2).sum(axis=1) / np.maximum(ratings.sum(axis=1), 1e-300)
        below = np.where(active & (v < option), below + 1, 0)
        leaving = active & (below >= patience)
        active &= ~leaving
        assert np.array_equal(trajectory.active_users[t], active), t
        assert trajectory.history["departed"].iloc[t - 1] == leaving.sum()
    assert 0 < active.sum() < len(users)  # the instance has departures and survivors


def test_everybody_leaving_ends_cleanly(users):
    trajectory = recgym.coevolve(users, n_producers=3, user_outside_option=10.0, epochs=4,
                                 scf=["user_min", "alpha_fair:alpha=0.5"])
    history = trajectory.history
    assert not trajectory.active_users[1:].any()
    assert history["active_users"].tolist() == [1.0, 0.0, 0.0, 0.0]
    later = history.iloc[1:]
    assert (later[["user_welfare", "producer_welfare", "user_min",
                   "alpha_fair:alpha=0.5"]] == 0).all().all()
    assert not history.isna().any().any()
    assert (later["iterations"] == 0).all()


def test_welfare_is_per_starting_user(users):
    trajectory = recgym.coevolve(users, n_producers=3, rule="linear",
                                 user_outside_option=0.3, user_patience=1, epochs=3, seed=4)
    t = 2  # users active during epoch 2 are those after epoch 1
    active = trajectory.active_users[t - 1]
    assert 0 < active.sum() < len(users)
    game = recgym.EngagementGame(users[active], 3, "linear")
    utilities = game.utilities(trajectory.profiles[t], trajectory.active_producers[t])
    assert trajectory.history["user_welfare"].iloc[t - 1] == pytest.approx(
        utilities.user.sum() / len(users), rel=1e-12)


# ---------------------------------------------------------------- metrics
def test_homogenization_against_all_pairs():
    rng = np.random.default_rng(3)
    population = rng.dirichlet(np.ones(4), size=30)
    unit = population / np.linalg.norm(population, axis=1, keepdims=True)
    pairs = [unit[a] @ unit[b] for a in range(30) for b in range(30) if a != b]
    assert metrics.homogenization(population) == pytest.approx(np.mean(pairs), rel=1e-12)
    assert metrics.homogenization(np.tile([0.2, 0.8], (5, 1))) == pytest.approx(1.0)
    assert metrics.homogenization(np.eye(3)) == pytest.approx(0.0, abs=1e-15)


def test_demand_entropy():
    assert metrics.demand_entropy(np.eye(4)) == pytest.approx(np.log(4))
    assert metrics.demand_entropy(np.array([[0.0, 1.0], [0.0, 0.5]])) == 0.0
    assert metrics.demand_entropy(np.zeros((0, 3))) == 0.0


def test_history_columns_and_record(users):
    trajectory = recgym.coevolve(users, n_producers=4, user_dynamics="exposure:rate=0.5",
                                 epochs=5, scf="user_min")
    assert list(trajectory.history.columns) == [*HISTORY_COLUMNS, "user_min"]
    assert trajectory.history["epoch"].tolist() == [1, 2, 3, 4, 5]
    assert trajectory.users.shape == (6, *users.shape)
    assert trajectory.profiles.shape == (6, 4, 4)
    np.testing.assert_array_equal(trajectory.users[0], users)
    expected = metrics.homogenization(trajectory.users[2])  # epoch 3 starts from users[2]
    assert trajectory.history["homogenization"].iloc[2] == pytest.approx(expected)
    chosen = recgym.coevolve(users, n_producers=4, user_dynamics="exposure:rate=0.5",
                             epochs=5, record=[5, 0])
    assert chosen.record_epochs.tolist() == [0, 5]
    np.testing.assert_array_equal(chosen.users_at(5), trajectory.users[5])
    with pytest.raises(KeyError, match="not recorded"):
        chosen.users_at(3)
    assert recgym.coevolve(users, n_producers=2, epochs=2, record="none").users.shape[0] == 0


def test_same_seed_same_trajectory(users):
    kwargs = dict(n_producers=5, rule="softmax:temperature=0.2", epochs=6,
                  user_dynamics="engagement:rate=1", user_outside_option=0.25, seed=9)
    a, b = recgym.coevolve(users, **kwargs), recgym.coevolve(users, **kwargs)
    np.testing.assert_array_equal(a.users, b.users)
    np.testing.assert_array_equal(a.profiles, b.profiles)
    assert a.history.equals(b.history)
    c = recgym.coevolve(users, **{**kwargs, "seed": 10})
    assert not np.array_equal(a.profiles, c.profiles)


def test_engine_steps_match_coevolve(users):
    game = recgym.EngagementGame(users, 4, "softmax")
    engine = Coevolution(game, "exposure:rate=0.3", moves_per_epoch=3, seed=1)
    rows = [engine.step()[0] for _ in range(4)]
    trajectory = recgym.coevolve(game, user_dynamics="exposure:rate=0.3", epochs=4,
                                 moves_per_epoch=3, seed=1)
    assert [r["user_welfare"] for r in rows] == trajectory.history["user_welfare"].tolist()


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(("kwargs", "match"), [
    ({"user_dynamics": "exposure:rate=1.5"}, "rate"),
    ({"user_dynamics": "exposure:rate=-0.1"}, "rate"),
    ({"user_dynamics": "engagement:rate=-1"}, "rate"),
    ({"user_dynamics": "engagement:rate=nan"}, "rate"),
    ({"user_dynamics": "exposure:speed=1"}, "speed"),
    ({"user_dynamics": "drift"}, "user dynamics must be one of"),
    ({"user_patience": 0}, "user_patience"),
    ({"user_patience": 1.5}, "user_patience"),
    ({"user_outside_option": -0.1}, "user_outside_option"),
    ({"user_outside_option": float("nan")}, "user_outside_option"),
    ({"user_outside_option": float("inf")}, "user_outside_option"),
    ({"epochs": -1}, "epochs"),
    ({"moves_per_epoch": 0}, "moves_per_epoch"),
    ({"record": [7]}, "record"),
    ({"record": "some"}, "record"),
    ({"scf": "nonsense"}, "scf"),
])
def test_bad_input_is_refused(users, kwargs, match):
    with pytest.raises(ValueError, match=match):
        recgym.coevolve(users, n_producers=2, epochs=kwargs.pop("epochs", 3), **kwargs)


def test_a_game_with_game_arguments_is_refused(users):
    game = recgym.EngagementGame(users, 2)
    with pytest.raises(ValueError, match="rule"):
        recgym.coevolve(game, rule="linear")


# ---------------------------------------------------------------- review regressions
def test_a_zero_rated_vertex_at_a_tiny_temperature_is_not_nan():
    """A user who rates a vertex 0 gives it weight exp(-max/T) = 0 at T = 1e-3; the
    count-weighted fast path would divide 0 by 0 there, so the exact path is taken."""
    from recgym.solvers import VertexTable

    users = np.array([[1.0, 0.0, 0.0], [0.2, 0.3, 0.5]])
    game = recgym.EngagementGame(users, 3, "softmax:temperature=0.001")
    directions = np.array([1, 1, 1])
    counts = np.bincount(directions, minlength=3)
    fast = VertexTable(game)(directions, counts, 0)
    exact = VertexTable(game, fast=False)(directions, counts, 0)
    np.testing.assert_allclose(fast, exact)
    assert np.all(np.isfinite(fast))
    result = best_response_dynamics(game, 0, init=directions)
    assert result.iterations > 0  # producer 0 does better on feature 0


def test_weighted_homogenization_counts_a_weight_as_copies():
    rng = np.random.default_rng(3)
    population = rng.dirichlet(np.ones(4), size=20)
    weights = rng.integers(1, 4, size=20)
    assert metrics.homogenization(population, weights.astype(float)) == pytest.approx(
        metrics.homogenization(np.repeat(population, weights, axis=0)), rel=1e-12)


def test_only_weightless_users_left_means_nobody_is_left():
    users = np.array([[0.5, 0.5], [1.0, 0.0]])
    game = recgym.EngagementGame(users, 2, "linear", weights=[1.0, 0.0])
    population = Population(game, user_outside_option=0.6)
    population.active[0] = False
    population._game = None
    assert population.game() is None
    trajectory = recgym.coevolve(game, user_outside_option=0.6, epochs=3,
                                 outside_option=None)
    assert not trajectory.history.isna().any().any()


def test_serve_by_checks_the_probabilities_and_mixes_per_producer():
    users = np.array([[0.8, 0.2], [0.7, 0.3]])
    game = recgym.EngagementGame(users, 2, "softmax")
    profile = np.eye(2)[[0, 0]]
    given = np.array([[0.9, 0.1], [0.4, 0.6]])  # unequal shares of equal content
    serving = game.serve_by(profile, None, given)
    np.testing.assert_allclose(serving.consumed, given @ profile)
    with pytest.raises(ValueError, match="shape"):
        game.serve_by(profile, None, given[:, :1])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        game.serve_by(profile, None, given * 2)


def test_oracle_estimates_are_the_recorded_users(users):
    trajectory = recgym.coevolve(users, n_producers=3, epochs=2,
                                 user_dynamics="exposure:rate=0.3")
    assert trajectory.estimates is trajectory.users
