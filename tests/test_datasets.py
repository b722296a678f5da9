"""Tests for recgym.datasets: the paper's real-data embeddings, files, cache, registry.

Published values come from the paper's exp1_iterations.csv.gz (``recgym.published``) (the paper's
per-run results of experiment 1); the MovieLens and RentTheRunway files from
../shared/data. Tests that need them skip when they are absent.

numpy's legacy global generator is used on purpose here: the paper's recipe seeds
it, and the loaders must leave it as they found it.
"""
# ruff: noqa: NPY002

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from surprise import NMF, Dataset, Reader
from surprise.model_selection import cross_validate

import recgym
from recgym import datasets
from recgym.datasets import nmf, real
from recgym.datasets.files import DATA_ENV
from recgym.published import published_path
from recgym.solvers import best_response_dynamics
from recgym.users import synthetic_skewed, synthetic_uniform

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DATA = SHARED / "data"
EXP1 = published_path("exp1")
ML_FILE = DATA / "ml-100k" / "u.data"
RTR_FILE = DATA / "rentrunway" / "rentrunway_preproc.csv"

needs_movielens = pytest.mark.skipif(
    not (ML_FILE.is_file() and EXP1.is_file()),
    reason=f"needs {ML_FILE} and {EXP1} (the shared data and published results)")
needs_rentrunway = pytest.mark.skipif(not RTR_FILE.is_file(), reason=f"needs {RTR_FILE}")

#: The paper's experiment-1 producer counts (docs/model.md section 8).
EXP1_NS = (2, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100)
UTILITY_COLUMNS = ("total_producer_utility", "min_producer_utility", "max_producer_utility",
                   "avg_user_utility", "min_user_utility", "max_user_utility")


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path):
    """No RECGYM_DATA from the caller's shell; caches go to a temporary folder."""
    monkeypatch.delenv(DATA_ENV, raising=False)
    monkeypatch.setenv("RECGYM_CACHE", str(tmp_path / "default-cache"))


@pytest.fixture(scope="session")
def movielens_cache(tmp_path_factory):
    """Cache folder holding the MovieLens-100k embedding at dim 5, seed 17 (fitted once)."""
    if not ML_FILE.is_file():
        pytest.skip(f"needs {ML_FILE}")
    cache_dir = tmp_path_factory.mktemp("ml-cache")
    datasets.movielens_100k(5, 17, path=ML_FILE, cache_dir=cache_dir, progress=False)
    return cache_dir


@pytest.fixture
def movielens_users(movielens_cache, fit_counter):
    """The MovieLens-100k embedding at the published experiment-1 setting (dim 5, seed 17)."""
    users = datasets.movielens_100k(5, 17, path=ML_FILE, cache_dir=movielens_cache,
                                    progress=False)
    assert fit_counter == []  # a cache hit: the fit above is the only one
    return users


@pytest.fixture
def fit_counter(monkeypatch):
    """Counts calls of the NMF fit, which still runs."""
    calls = []

    def counting_fit(*args, **kwargs):
        calls.append(args[1:3])
        return nmf.fit_nmf_embedding(*args, **kwargs)

    monkeypatch.setattr(real, "fit_nmf_embedding", counting_fit)
    return calls


def _ratings_table(n_users=40, n_items=30, n_ratings=400, seed=0):
    """A small random ratings table with distinct (user, item) pairs and ratings 1..5."""
    rng = np.random.default_rng(seed)
    pairs = rng.choice(n_users * n_items, size=n_ratings, replace=False)
    return pd.DataFrame({
        "user_id": [f"A{u}" for u in pairs // n_items],
        "item_id": [f"B{i:04d}" for i in pairs % n_items],
        "rating": rng.integers(1, 6, size=n_ratings).astype(float),
    })


def _paper_recipe(data, dim, seed):
    """docs/model.md section 7 written out directly, as the paper did (global seed)."""
    saved = np.random.get_state()
    try:
        algo = NMF(n_factors=dim)
        np.random.seed(seed)
        cross_validate(algo, data, cv=5)
    finally:
        np.random.set_state(saved)
    return algo.pu / algo.pu.sum(axis=1, keepdims=True)


def _same_state(a, b):
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and a[2:] == b[2:]


# --- MovieLens-100k: the paper's embedding and published runs ---------------------------

@needs_movielens
def test_movielens_embedding_shape_and_normalisation(movielens_users):
    assert movielens_users.shape == (943, 5)
    assert movielens_users.dtype == np.float64
    assert movielens_users.min() >= 0
    np.testing.assert_allclose(movielens_users.sum(axis=1), 1.0, rtol=0, atol=1e-12)


@needs_movielens
@pytest.mark.parametrize("run", [1, 2, 3])
@pytest.mark.parametrize("rule", ["linear", "softmax"])
def test_movielens_reproduces_published_experiment1(movielens_users, rule, run):
    """All d = 5 rows of a published run: the first 12 games of RandomState(run)."""
    published = pd.read_csv(EXP1)
    published = published[(published.dataset == "movielens-100k") & (published.rule == rule)
                          & (published.run == run) & (published.dim == 5)]
    published = published.set_index("n_producers")
    rng = np.random.RandomState(run)  # shared by the loop, as in the paper
    for n in EXP1_NS:
        game = recgym.EngagementGame(movielens_users, n, rule=rule,
                                     temperature=1.0 if rule == "softmax" else None)
        result = best_response_dynamics(game, rng)
        row = published.loc[n]
        assert bool(result.converged) == bool(row.converged), n
        assert result.iterations == row.iterations, n
        assert " ".join(map(str, result.counts)) == row.counts, n
        u = game.utilities(result.profile)
        ours = (u.engagement.sum(), u.engagement.min(), u.engagement.max(), u.user.mean(),
                u.user.min(), u.user.max())
        for column, value in zip(UTILITY_COLUMNS, ours, strict=True):
            assert value == pytest.approx(row[column], rel=1e-9), (n, column)


@needs_movielens
def test_movielens_found_through_recgym_data(monkeypatch, movielens_users, movielens_cache,
                                            fit_counter):
    """The file found under $RECGYM_DATA has the fixture's sha256, so its cache entry is hit."""
    monkeypatch.setenv(DATA_ENV, str(DATA))
    users = datasets.movielens_100k(5, 17, cache_dir=movielens_cache, progress=False)
    np.testing.assert_array_equal(users, movielens_users)
    assert fit_counter == []


# --- RentTheRunway: the full fit takes about 30 s, so these use the head of the file ----

@needs_rentrunway
def test_rentrunway_reads_the_paper_file_as_the_paper_did(tmp_path):
    """Header or not, the loader equals the recipe applied to pd.read_csv of the file."""
    lines = RTR_FILE.read_text().splitlines()[:3001]
    with_header = tmp_path / "with" / "rentrunway_preproc.csv"
    without_header = tmp_path / "without" / "rentrunway_preproc.csv"
    with_header.parent.mkdir()
    without_header.parent.mkdir()
    with_header.write_text("\n".join(lines) + "\n")
    without_header.write_text("\n".join(lines[1:]) + "\n")
    assert lines[0] == "user_id,item_id,rating"  # the paper's file has this header

    ours = datasets.rent_the_runway(4, 17, path=with_header.parent, cache=False, progress=False)
    headerless = datasets.rent_the_runway(4, 17, path=without_header, cache=False,
                                          progress=False)
    frame = pd.read_csv(with_header)  # as the paper read it: integer ids
    paper = _paper_recipe(Dataset.load_from_df(frame, Reader(rating_scale=(1, 5))), 4, 17)
    np.testing.assert_array_equal(ours, paper)
    np.testing.assert_array_equal(headerless, paper)


# --- Amazon format, from_ratings and the recipe -----------------------------------------

def test_amazon_format_on_generated_file(tmp_path):
    table = _ratings_table()
    file = tmp_path / "amazon" / "Digital_Music.csv"
    file.parent.mkdir()
    table.to_csv(file, index=False)
    users = datasets.amazon_digital_music(3, 5, path=file, cache=False, progress=False)
    # K: the users of the last fold's trainset, at most all of them.
    assert 0 < users.shape[0] <= table.user_id.nunique() and users.shape[1] == 3
    assert users.dtype == np.float64 and users.min() >= 0
    np.testing.assert_allclose(users.sum(axis=1), 1.0, rtol=0, atol=1e-12)

    # Same ratings without header, and as the Amazon v2 "ratings only" download
    # (no header, item,user,rating,timestamp): same embedding.
    headerless = tmp_path / "headerless.csv"
    table.to_csv(headerless, index=False, header=False)
    raw = tmp_path / "raw.csv"
    table.assign(timestamp=1_500_000_000)[["item_id", "user_id", "rating", "timestamp"]].to_csv(
        raw, index=False, header=False)
    for other in (headerless, raw):
        again = datasets.amazon_digital_music(3, 5, path=other, cache=False, progress=False)
        np.testing.assert_array_equal(again, users, err_msg=str(other))


def test_from_ratings_dataframe_matches_the_paper_recipe():
    table = _ratings_table(seed=1)
    users = datasets.from_ratings(table, 4, 23, cache=False, progress=False)
    paper = _paper_recipe(Dataset.load_from_df(table, Reader(rating_scale=(1, 5))), 4, 23)
    np.testing.assert_array_equal(users, paper)
    assert users.shape[0] <= table.user_id.nunique()
    np.testing.assert_allclose(users.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_from_ratings_path_equals_dataframe(tmp_path):
    table = _ratings_table(seed=2)
    file = tmp_path / "ratings.csv"
    table.to_csv(file, index=False)
    from_file = datasets.from_ratings(file, 3, 13, cache=False, progress=False)
    from_frame = datasets.from_ratings(table, 3, 13, cache=False, progress=False)
    np.testing.assert_array_equal(from_file, from_frame)


def test_rating_scale_parameter_accepts_other_scales():
    table = _ratings_table(seed=3)
    table["rating"] *= 2  # ratings 2..10
    with pytest.raises(ValueError, match="outside rating_scale"):
        datasets.from_ratings(table, 3, 0, cache=False, progress=False)
    users = datasets.from_ratings(table, 3, 0, rating_scale=(1, 10), cache=False,
                                  progress=False)
    np.testing.assert_allclose(users.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_user_with_only_zero_ratings_is_a_clear_error():
    table = _ratings_table(seed=4)
    zeros = pd.DataFrame({"user_id": "Z0", "item_id": [f"B{i:04d}" for i in range(30)],
                          "rating": 0.0})
    with pytest.raises(ValueError, match="'Z0'.*cannot be L1-normalised"):
        datasets.from_ratings(pd.concat([table, zeros]), 3, 0, rating_scale=(0, 5),
                              cache=False, progress=False)


# --- numpy's global random state ---------------------------------------------------------

def test_global_random_state_is_unchanged():
    before = np.random.get_state()
    datasets.from_ratings(_ratings_table(), 3, 17, cache=False, progress=False)
    assert _same_state(before, np.random.get_state())


def test_global_random_state_is_restored_when_the_fit_fails(monkeypatch):
    def failing_cross_validate(*args, **kwargs):
        np.random.uniform(size=3)
        raise RuntimeError("fit failed")

    monkeypatch.setattr(nmf, "cross_validate", failing_cross_validate)
    before = np.random.get_state()
    with pytest.raises(RuntimeError, match="fit failed"):
        datasets.from_ratings(_ratings_table(), 3, 17, cache=False, progress=False)
    assert _same_state(before, np.random.get_state())


# --- cache -----------------------------------------------------------------------------

def test_cache_hit_returns_the_same_array_without_refitting(fit_counter, tmp_path):
    table = _ratings_table()
    first = datasets.from_ratings(table, 3, 17, cache_dir=tmp_path, progress=False)
    second = datasets.from_ratings(table.copy(), 3, 17, cache_dir=tmp_path, progress=False)
    assert fit_counter == [(3, 17)]
    np.testing.assert_array_equal(first, second)
    assert [p.suffix for p in tmp_path.iterdir()] == [".npy"]  # no temporary file left

    datasets.from_ratings(table, 3, 19, cache_dir=tmp_path, progress=False)  # other seed
    changed = table.copy()
    changed.loc[0, "rating"] = 2.0 if table.rating[0] == 1 else 1.0
    datasets.from_ratings(changed, 3, 17, cache_dir=tmp_path, progress=False)  # other data
    datasets.from_ratings(table, 3, 17, cache=False, progress=False)
    assert fit_counter == [(3, 17), (3, 19), (3, 17), (3, 17)]


def test_cache_folder_from_environment(fit_counter, monkeypatch, tmp_path):
    monkeypatch.setenv("RECGYM_CACHE", str(tmp_path / "env-cache"))
    table = _ratings_table()
    datasets.from_ratings(table, 2, 17, progress=False)
    datasets.from_ratings(table, 2, 17, progress=False)
    assert len(fit_counter) == 1
    assert len(list((tmp_path / "env-cache").glob("*.npy"))) == 1


# --- progress ---------------------------------------------------------------------------

def test_progress_goes_to_stderr_only_when_asked(capsys):
    table = _ratings_table()
    datasets.from_ratings(table, 2, 17, cache=False, progress=False)
    quiet = capsys.readouterr()
    assert quiet.out == "" and quiet.err == ""
    datasets.from_ratings(table, 2, 17, cache=False, progress=True)
    shown = capsys.readouterr()
    assert shown.out == ""
    assert "5/5" in shown.err and "dim=2, seed=17" in shown.err


# --- finding files ----------------------------------------------------------------------

@pytest.mark.parametrize(("loader", "relative", "where"), [
    (datasets.movielens_100k, "ml-100k/u.data", "https://grouplens.org/datasets/movielens/100k/"),
    (datasets.rent_the_runway, "rentrunway/rentrunway_preproc.csv",
     "https://cseweb.ucsd.edu/~jmcauley/datasets.html#clothing_fit"),
    (datasets.amazon_digital_music, "amazon/Digital_Music.csv",
     "https://cseweb.ucsd.edu/~jmcauley/datasets/amazon_v2/"),
])
def test_missing_file_says_what_where_and_how(monkeypatch, tmp_path, loader, relative, where):
    filename = Path(relative).name
    with pytest.raises(FileNotFoundError) as unset:
        loader(5, 17)
    assert filename in str(unset.value) and f"{DATA_ENV} is not set" in str(unset.value)
    assert where in str(unset.value)

    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    with pytest.raises(FileNotFoundError) as from_env:
        loader(5, 17)
    message = str(from_env.value)
    assert str(tmp_path / relative) in message and str(tmp_path / filename) in message
    assert where in message and f"set {DATA_ENV} to a folder holding {relative}" in message
    assert "\n" not in message  # one line

    explicit = tmp_path / "elsewhere"
    with pytest.raises(FileNotFoundError) as from_path:
        loader(5, 17, path=explicit)
    assert str(explicit / relative) in str(from_path.value)
    assert f"{DATA_ENV} is not consulted" in str(from_path.value)


def test_file_resolution_from_recgym_data_path_folder_and_file(monkeypatch, tmp_path):
    table = _ratings_table(seed=5)
    layout = tmp_path / "data"
    (layout / "amazon").mkdir(parents=True)
    table.to_csv(layout / "amazon" / "Digital_Music.csv", index=False)
    expected = datasets.from_ratings(table, 2, 7, cache=False, progress=False)

    monkeypatch.setenv(DATA_ENV, str(layout))
    found = [datasets.amazon_digital_music(2, 7, cache=False, progress=False)]
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "empty"))  # an explicit path wins
    for path in (layout, layout / "amazon", layout / "amazon" / "Digital_Music.csv"):
        found.append(datasets.amazon_digital_music(2, 7, path=path, cache=False, progress=False))
    for index, users in enumerate(found):
        np.testing.assert_array_equal(users, expected, err_msg=f"lookup {index}")


# --- bad input --------------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"dim": 0}, ValueError, "dim"),
    ({"dim": 2.5}, TypeError, "dim"),
    ({"seed": -1}, ValueError, "seed"),
    ({"seed": 2**32}, ValueError, "seed"),
    ({"seed": "17"}, TypeError, "seed"),
    ({"seed": np.random.RandomState(0)}, TypeError, "seed"),
    ({"rating_scale": (-1, 5)}, ValueError, "rating_scale"),
    ({"rating_scale": (5, 1)}, ValueError, "rating_scale"),
    ({"rating_scale": 5}, TypeError, "rating_scale"),
])
def test_bad_arguments(kwargs, error, match, fit_counter):
    arguments = {"table": _ratings_table(), "dim": 3, "seed": 17, "cache": False,
                 "progress": False, **kwargs}
    with pytest.raises(error, match=match):
        datasets.from_ratings(**arguments)
    assert fit_counter == []


def _with_nan(table):
    table = table.copy()
    table.loc[7, "rating"] = np.nan
    return table


@pytest.mark.parametrize(("make_table", "error", "match"), [
    (lambda t: t[["user_id", "item_id"]], ValueError, "exactly 3 columns"),
    (lambda t: t.assign(extra=1), ValueError, "exactly 3 columns"),
    (lambda t: t[["item_id", "user_id", "rating"]], ValueError, "order"),
    (_with_nan, ValueError, "row 7"),
    (lambda t: t.assign(rating="five"), ValueError, "not numbers"),
    (lambda t: t.head(4), ValueError, "at least 5"),
    (lambda t: t.assign(user_id=None), ValueError, "missing user"),
    (lambda t: t.to_numpy(), TypeError, "DataFrame"),
])
def test_bad_tables(make_table, error, match, fit_counter):
    with pytest.raises(error, match=match):
        datasets.from_ratings(make_table(_ratings_table()), 3, 17, cache=False, progress=False)
    assert fit_counter == []


def test_bad_csv_file(tmp_path):
    file = tmp_path / "bad.csv"
    file.write_text("user_id,item_id,rating\nu1,i1,4\nu2,i2,\nu3,i3,5\nu4,i4,5\nu5,i5,1\n")
    with pytest.raises(ValueError, match="row 1"):
        datasets.from_ratings(file, 3, 17, cache=False, progress=False)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        datasets.from_ratings(tmp_path / "absent.csv", 3, 17, cache=False, progress=False)


# --- registry ---------------------------------------------------------------------------

def test_registry_names_and_published_aliases():
    names = {"synth-uniform", "synth-skewed", "movielens-100k", "rentrunway", "amazon-music"}
    assert set(datasets.DATASETS) == names == set(datasets.PUBLISHED_NAMES)
    assert datasets.PUBLISHED_NAMES["amazon-music"] == "amznmusic"
    if EXP1.is_file():
        published = set(pd.read_csv(EXP1, usecols=["dataset"]).dataset)
        assert set(datasets.PUBLISHED_NAMES.values()) == published


def test_load_users_synthetic_is_the_paper_generator():
    np.testing.assert_array_equal(datasets.load_users("synth-uniform", 5, 17),
                                  synthetic_uniform(10_000, 5, 17))
    np.testing.assert_array_equal(datasets.DATASETS["synth-skewed"](4, 13, progress=False),
                                  synthetic_skewed(10_000, 4, 13))
    with pytest.raises(ValueError, match="reads no file"):
        datasets.load_users("synth-uniform", 5, 17, path="x.csv")


def test_load_users_real_names_and_aliases(monkeypatch, tmp_path):
    table = _ratings_table(seed=6)
    (tmp_path / "amazon").mkdir()
    table.to_csv(tmp_path / "amazon" / "Digital_Music.csv", index=False)
    monkeypatch.setenv("RECGYM_CACHE", str(tmp_path / "cache"))
    by_name = datasets.load_users("amazon-music", 2, 17, path=tmp_path)
    by_alias = datasets.load_users("amznmusic", 2, 17, path=tmp_path)
    np.testing.assert_array_equal(by_name, by_alias)
    with pytest.raises(ValueError, match="movielens-100k"):
        datasets.load_users("movielens", 2, 17)


def test_load_users_passes_progress_to_the_fit(monkeypatch, tmp_path, capsys):
    """``recgym reproduce --no-progress`` relies on this: no fit bar unless asked."""
    table = _ratings_table(seed=8)
    (tmp_path / "amazon").mkdir()
    table.to_csv(tmp_path / "amazon" / "Digital_Music.csv", index=False)
    monkeypatch.setenv("RECGYM_CACHE", str(tmp_path / "quiet"))
    quiet = datasets.load_users("amazon-music", 2, 17, path=tmp_path, progress=False)
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("RECGYM_CACHE", str(tmp_path / "shown"))  # a miss: fitted again
    shown = datasets.load_users("amazon-music", 2, 17, path=tmp_path, progress=True)
    assert "5/5" in capsys.readouterr().err
    np.testing.assert_array_equal(quiet, shown)
    assert len(list((tmp_path / "quiet").glob("*.npy"))) == 1


def test_the_layout_check_accepts_what_the_loaders_read(tmp_path):
    """Quoted fields, a header naming the columns in another order, CRLF line ends."""
    from recgym.datasets.files import (
        AMAZON_DIGITAL_MUSIC,
        MOVIELENS_100K,
        RENT_THE_RUNWAY,
        check_layout,
    )

    quoted = tmp_path / "quoted.csv"
    quoted.write_text('"1","2","5.0"\r\n"3","4","1.0"\r\n')
    named = tmp_path / "named.csv"
    named.write_text("overall,asin,reviewerID,unixReviewTime\n5.0,B0001,A1,123\n")
    check_layout(RENT_THE_RUNWAY, quoted)
    check_layout(AMAZON_DIGITAL_MUSIC, named)
    with pytest.raises(ValueError, match="does not hold MovieLens-100k ratings"):
        check_layout(MOVIELENS_100K, quoted)  # commas, not tabs
    archive = tmp_path / "ml-100k.zip"
    archive.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8)
    with pytest.raises(ValueError, match="does not hold MovieLens-100k ratings") as raised:
        check_layout(MOVIELENS_100K, archive)
    assert len(str(raised.value)) < 600  # the lines shown are cut short
