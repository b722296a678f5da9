"""User generators: the paper's exact streams, the modern path, sparsity, validation."""

from __future__ import annotations

import numpy as np
import pytest

from recgym import users


def _paper_uniform_loop(n_users: int, dim: int, seed: int) -> np.ndarray:
    """docs/model.md section 7, written as the paper's per-user loop (slow, obvious)."""
    rs = np.random.RandomState(seed)
    return np.array([np.diff([0] + sorted(rs.uniform(size=dim - 1)) + [1])
                     for _ in range(n_users)])


def _paper_skewed_loop(n_users: int, dim: int, seed: int) -> np.ndarray:
    rs = np.random.RandomState(seed)
    w = np.sort(np.diff([0] + sorted(rs.uniform(size=dim - 1)) + [1]))
    rows = np.array([np.diff([0] + sorted(rs.uniform(size=dim - 1)) + [1]) * w
                     for _ in range(n_users)])
    return rows / rows.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("seed", [13, 17, 29])
@pytest.mark.parametrize("dim", [2, 5, 20])
def test_synthetic_uniform_is_bit_identical_to_the_paper_loop(seed, dim):
    np.testing.assert_array_equal(users.synthetic_uniform(300, dim, seed),
                                  _paper_uniform_loop(300, dim, seed))


@pytest.mark.parametrize("seed", [13, 23])
@pytest.mark.parametrize("dim", [5, 15])
def test_synthetic_skewed_is_bit_identical_to_the_paper_loop(seed, dim):
    np.testing.assert_array_equal(users.synthetic_skewed(300, dim, seed),
                                  _paper_skewed_loop(300, dim, seed))


def test_skewed_users_favour_the_last_feature():
    u = users.synthetic_skewed(5000, 5, 13)
    means = u.mean(axis=0)
    assert np.argmax(means) == 4 and np.argmin(means) == 0


def test_generator_path_is_uniform_on_the_simplex_and_reproducible():
    a = users.synthetic_uniform(2000, 4, np.random.default_rng(5))
    b = users.synthetic_uniform(2000, 4, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a.sum(axis=1), 1.0)
    # Dirichlet(1,1,1,1) has mean 1/4 per feature; 2000 users: standard error about 0.004.
    np.testing.assert_allclose(a.mean(axis=0), 0.25, atol=0.02)


def test_sparse_users_keep_the_requested_fraction():
    u = users.synthetic_uniform(500, 10, 3, sparse=0.3)
    assert np.all((u > 0).sum(axis=1) == 3)
    np.testing.assert_allclose(u.sum(axis=1), 1.0)
    np.testing.assert_array_equal(u, users.synthetic_uniform(500, 10, 3, sparse=0.3))
    with pytest.raises(ValueError, match=r"sparse .* must be in \(0, 1\]"):
        users.synthetic_uniform(10, 3, 0, sparse=0.0)


@pytest.mark.parametrize("make_seed", [lambda: 3, lambda: np.int64(3),
                                       lambda: np.random.RandomState(3),
                                       lambda: np.random.default_rng(3)],
                         ids=["int", "numpy int", "RandomState", "Generator"])
@pytest.mark.parametrize("generator", [users.synthetic_uniform, users.synthetic_skewed])
def test_sparse_users_are_reproducible_for_every_seed_type(make_seed, generator):
    first = generator(200, 8, make_seed(), sparse=0.5)
    again = generator(200, 8, make_seed(), sparse=0.5)
    np.testing.assert_array_equal(first, again)
    assert np.all((first > 0).sum(axis=1) == 4)
    # The users themselves are the non-sparse ones, masked: the seed's stream is unchanged.
    dense = generator(200, 8, make_seed())
    np.testing.assert_allclose(first, users.l1_normalize(np.where(first > 0, dense, 0.0)))


def test_from_array_normalises_and_validates():
    np.testing.assert_allclose(users.from_array([[1.0, 3.0], [2.0, 2.0]]),
                               [[0.25, 0.75], [0.5, 0.5]])
    raw = users.from_array([[1.0, 3.0]], normalize=False)
    np.testing.assert_array_equal(raw, [[1.0, 3.0]])
    with pytest.raises(ValueError, match="row 1 sums to 0"):
        users.from_array([[1.0, 0.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match="non-negative"):
        users.from_array([[1.0, -1.0]])
    with pytest.raises(ValueError, match="finite"):
        users.from_array([[1.0, np.nan]])
    with pytest.raises(ValueError, match="2-D"):
        users.from_array([1.0, 2.0])


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"n_users": 0}, ValueError), ({"dim": 0}, ValueError), ({"seed": -1}, ValueError),
    ({"seed": 1.5}, TypeError)])
def test_bad_generator_arguments(kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        users.synthetic_uniform(**{"n_users": 10, "dim": 3, "seed": 0, **kwargs})
