"""Boundedly rational producers (recgym.behaviors) in the dynamics."""

from __future__ import annotations

import numpy as np
import pytest

import recgym
from recgym.behaviors import make_behavior
from recgym.solvers import best_response_dynamics


@pytest.fixture(scope="module")
def users() -> np.ndarray:
    return recgym.users.synthetic_uniform(600, 4, seed=17)


def _same(a, b) -> bool:
    return (a.converged == b.converged and a.iterations == b.iterations
            and np.array_equal(a.profile, b.profile) and a.moves == b.moves)


@pytest.mark.parametrize("rule", ["softmax:temperature=0.1", "linear", "topk:k=2,temperature=0.1"])
def test_best_response_behavior_is_the_papers(users, rule):
    game = recgym.EngagementGame(users, 6, rule)
    for seed in (0, 1):
        assert _same(best_response_dynamics(game, seed),
                     best_response_dynamics(game, seed, behavior="best_response"))


@pytest.mark.parametrize("rule", ["softmax:temperature=0.1", "linear"])
@pytest.mark.parametrize("seed", [0, 3, 8])
def test_very_rational_quantal_producers_best_respond(users, rule, seed):
    game = recgym.EngagementGame(users, 6, rule)
    exact = best_response_dynamics(game, seed)
    quantal = best_response_dynamics(game, seed, behavior="quantal:rationality=1e9")
    assert exact.converged
    assert np.array_equal(quantal.profile, exact.profile)
    assert [(m.producer, m.target) for m in quantal.moves] == \
        [(m.producer, m.target) for m in exact.moves]


def test_quantal_choice_probabilities():
    quantal = make_behavior("quantal:rationality=3")
    values = np.array([2.0, 1.0, 0.5])
    expected = np.exp(3 * values / 2.0)
    np.testing.assert_allclose(quantal.choice_probabilities(values), expected / expected.sum())
    np.testing.assert_allclose(make_behavior("quantal:rationality=0").choice_probabilities(
        values), 1 / 3)
    np.testing.assert_allclose(quantal.choice_probabilities(np.zeros(4)), 0.25)


def test_quantal_producers_wander(users):
    game = recgym.EngagementGame(users, 6, "softmax:temperature=0.1")
    result = best_response_dynamics(game, 0, max_iter=60, behavior="quantal:rationality=2")
    assert not result.converged  # the logit rule keeps moving at low rationality
    assert any(m.gain < 0 for m in result.moves)  # some moves make things worse


def test_hedge_regret_falls_with_rounds(users):
    game = recgym.EngagementGame(users, 5, "softmax:temperature=0.1")
    short = [best_response_dynamics(game, s, max_iter=20, behavior="hedge:rate=20")
             .max_average_regret for s in range(3)]
    long = [best_response_dynamics(game, s, max_iter=1500, behavior="hedge:rate=20")
            .max_average_regret for s in range(3)]
    assert np.mean(long) < 0.5 * np.mean(short)


def test_hedge_reports_the_time_averaged_play(users):
    game = recgym.EngagementGame(users, 5, "linear")
    result = best_response_dynamics(game, 2, max_iter=50, behavior="hedge:rate=5")
    assert result.average_profile.shape == (5, 4)
    np.testing.assert_allclose(result.average_profile.sum(axis=1), 1.0)
    assert result.average_profile.min() >= 0
    assert result.iterations == 50 and not result.converged
    assert result.max_average_regret == pytest.approx(result.average_regret.max())
    assert result.average_regret.min() >= -1e-12  # the best fixed vertex includes the played


@pytest.mark.parametrize("behavior", ["quantal:rationality=4", "hedge:rate=3"])
def test_behaviors_are_deterministic(users, behavior):
    game = recgym.EngagementGame(users, 5, "softmax:temperature=0.2")
    a = best_response_dynamics(game, 4, max_iter=40, behavior=behavior)
    b = best_response_dynamics(game, 4, max_iter=40, behavior=behavior)
    c = best_response_dynamics(game, 4, max_iter=40, behavior=behavior, behavior_seed=5)
    assert _same(a, b)
    assert not np.array_equal(
        a.average_profile if a.average_profile is not None else [m.target for m in a.moves],
        c.average_profile if c.average_profile is not None else [m.target for m in c.moves])


@pytest.mark.parametrize(("behavior", "match"), [
    ("quantal:rationality=-1", "rationality"), ("quantal:rationality=nan", "rationality"),
    ("hedge:rate=0", "rate"), ("hedge:rate=-2", "rate"), ("lazy", "producer behavior"),
    ("hedge:eta=1", "eta")])
def test_bad_behaviors_are_refused(users, behavior, match):
    game = recgym.EngagementGame(users, 3)
    with pytest.raises(ValueError, match=match):
        best_response_dynamics(game, 0, behavior=behavior)


def test_hedge_refuses_producers_who_may_leave(users):
    game = recgym.EngagementGame(users, 3, outside_option=0.1)
    with pytest.raises(ValueError, match="never leave"):
        best_response_dynamics(game, 0, behavior="hedge")


def test_quantal_producers_in_the_epoch_engine(users):
    """Very rational quantal producers in the engine follow the paper's dynamics; hedge
    is refused there (it plays simultaneous rounds)."""
    game = recgym.EngagementGame(users, 5, "softmax:temperature=0.1")
    exact = best_response_dynamics(game, 2)
    run = recgym.coevolve(game, epochs=exact.iterations + 2, moves_per_epoch=1, seed=2,
                          behavior="quantal:rationality=1e9")
    np.testing.assert_array_equal(run.profiles[-1], exact.profile)
    noisy = recgym.coevolve(game, epochs=10, seed=2, behavior="quantal:rationality=1")
    again = recgym.coevolve(game, epochs=10, seed=2, behavior="quantal:rationality=1")
    np.testing.assert_array_equal(noisy.profiles, again.profiles)
    with pytest.raises(ValueError, match="hedge"):
        recgym.coevolve(game, epochs=1, behavior="hedge")


def test_hedge_records_its_play_round_by_round(users):
    game = recgym.EngagementGame(users, 4, "softmax")
    result = best_response_dynamics(game, 3, max_iter=60, behavior="hedge:rate=20")
    assert result.played.shape == (60, 4) and result.regret_by_round.shape == (60,)
    assert result.regret_by_round[-1] == result.max_average_regret
    start = np.random.RandomState(3).choice(game.dim, 4)  # round 1 plays the start
    assert np.array_equal(result.played[0], start)
    # a shorter run plays the same first rounds
    short = best_response_dynamics(game, 3, max_iter=20, behavior="hedge:rate=20")
    assert np.array_equal(short.played, result.played[:20])
    assert np.array_equal(short.regret_by_round, result.regret_by_round[:20])
    # the time average of the mixed play is a mixture of the vertices each producer played
    assert np.allclose(result.average_profile.sum(axis=1), 1.0)
