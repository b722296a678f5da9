"""The paper's experiment loops, split into independent chains and run in parallel.

Within one chain a single legacy ``RandomState`` is shared, in order, by
``for d in dims: for n in producers: best_response_dynamics(...)`` (docs/model.md
section 8), so a chain is the unit of parallel work and of resumption:

* experiment 1: one chain per ``(rule, temperature, embedding seed, run)``,
  started from ``RandomState(run)``;
* experiment 2: one chain per ``(rule, temperature, embedding seed)``, started
  from ``RandomState(dynamics_seed)`` (505 in the paper).

A chain's rows are appended to the results file as soon as it finishes. On
resume, chains whose rows are all present are skipped; any other chain is
recomputed from its seed (its random stream must be replayed from the start) and
only its missing rows are appended, so no row is lost or written twice. At the
end the file is rewritten in the sweep's own order, which makes it identical
whatever the backend, the number of workers or the interruptions. That loop is
``recgym.experiments.runner``'s, shared by every sweep: this module declares the
chains, the rows and how a chain runs (``paper_sweep``).

What a result folder holds is known, not guessed:

* ``config.json`` records the settings the results were computed with. A sweep
  with other result settings, results without a readable ``config.json`` next to
  them, or a ``config.json`` that is not a JSON object are refused.
* Every row read back is checked (``results.check_rows``): complete, well formed,
  in range, one of this sweep's runs. Damaged rows are left out, with a
  ``RuntimeWarning`` naming the file and line, and their runs recomputed; the final
  rewrite drops them from the file.
* ``sweep.lock`` holds ``"pid host"`` of the sweep writing the folder; a second
  sweep on the same folder is refused while that process runs. A lock whose
  process has ended on this host is taken over (not atomically: two sweeps
  started at the same instant on such a folder could both take it).
* Whole files are replaced through fresh temporary files in the folder, and a
  symlink or other non-regular file where a result file belongs is refused
  (``results.replace_file``), so nothing is written outside ``--out``.

Besides the results, ``user_distributions.csv`` records each user matrix's size
and distribution over features ``U.sum(0) / U.sum()`` (needed by the plots).
Computing it is also what loads (for real data: fits and caches on disk) every
user matrix before any chain starts, one task per matrix, so chains only read
the cache. Parallel workers fit without their own progress bars, which would
interleave; the sweep shows one bar over the matrices instead.

Stopping: Ctrl-C, and SIGTERM while ``run_sweep`` runs in the main thread, raise
``KeyboardInterrupt`` (``SweepTerminated`` for SIGTERM, whose ``signum`` gives a
command line's exit status ``128 + 15 = 143``); finished rows are already on
disk, the workers are terminated, the lock is released, and running the sweep
again resumes it. Workers also end by themselves if the sweep's process dies
(``backends.LocalBackend``).
"""

from __future__ import annotations

import functools
import itertools
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from recgym.experiments.backends import LocalBackend, RayBackend, make_backend
from recgym.experiments.config import SYNTHETIC, SweepConfig
from recgym.experiments.folders import warn_damaged
from recgym.experiments.results import (
    Key,
    Problems,
    RowCheck,
    check_regular_file,
    check_rows,
    columns_for,
    key_columns,
    key_index,
    read_csv_exact,
    read_text_rows,
    replace_file,
)
from recgym.experiments.runner import Task, TaskSweep, run_tasks

USER_DISTRIBUTIONS = "user_distributions.csv"
USER_COLUMNS = ("dataset", "embedding_seed", "dim", "n_users", "user_distribution")
#: Tolerance on the sum of a recorded user distribution (1 up to rounding).
DISTRIBUTION_TOL = 1e-9


@dataclass(frozen=True)
class Chain:
    """A sequence of dynamics runs sharing one ``RandomState``.

    Attributes
    ----------
    dataset : str
        Command-line dataset name (``recgym.datasets``).
    data : str or None
        Where real rating data are read from.
    rule : str
        ``linear`` or ``softmax``.
    temperature : float or None
        Softmax temperature; ``None`` for linear.
    embedding_seed : int
    rng_seed : int
        Seed of the chain's ``RandomState``.
    run : int or None
        Experiment 1's run number (``None`` in experiment 2).
    dims, producers : tuple of int
        Loop order: ``for d in dims: for n in producers``.
    max_iter : int
    progress : bool
        Show a progress bar if the chain has to fit real users' embedding (only
        set where the chain runs in the sweep's own process). No effect on results.
    """

    dataset: str
    data: str | None
    rule: str
    temperature: float | None
    embedding_seed: int
    rng_seed: int
    run: int | None
    dims: tuple[int, ...]
    producers: tuple[int, ...]
    max_iter: int
    progress: bool = False

    @property
    def n_runs(self) -> int:
        """Dynamics runs in the chain."""
        return len(self.dims) * len(self.producers)

    def keys(self) -> list[Key]:
        """The key (``results.Key``) of each of the chain's rows, in order."""
        name = published_name(self.dataset)
        head = (name, self.rule, self.temperature, self.embedding_seed)
        head = head + ((self.run,) if self.run is not None else ())
        return [head + (d, n) for d in self.dims for n in self.producers]


def published_name(dataset: str) -> str:
    """The dataset's name in the published results (``amazon-music`` -> ``amznmusic``)."""
    from recgym.datasets import PUBLISHED_NAMES

    return PUBLISHED_NAMES[dataset]


def build_chains(config: SweepConfig, progress: bool = False) -> list[Chain]:
    """The chains of ``config``, in the sweep's order (rule, temperature, seed, run).

    ``progress`` is handed to every chain (``Chain.progress``).
    """
    runs: tuple[int | None, ...] = getattr(config, "runs", (None,))
    chains = []
    for rule, temperature in config.rule_settings():
        for seed in config.seeds:
            for run in runs:
                rng_seed = run if run is not None else config.dynamics_seed
                chains.append(Chain(config.dataset, config.data_path, rule, temperature, seed,
                                    rng_seed, run, config.dims, config.producers,
                                    config.max_iter, progress))
    return chains


# ---------------------------------------------------------------------------
# Work done in the workers
# ---------------------------------------------------------------------------

#: User matrices kept per worker process: two embedding seeds' worth of the paper's grid.
USER_CACHE_SIZE = 8


@functools.lru_cache(maxsize=USER_CACHE_SIZE)
def cached_users(dataset: str, dim: int, seed: int, data: str | None, progress: bool
                 ) -> np.ndarray:
    """``recgym.datasets.load_users``, cached per process; shape ``(K, dim)``, read-only.

    ``progress`` shows the bar of an NMF fit (a real dataset not yet in the disk
    cache). The sweep hands out chains grouped by embedding seed, so a worker
    seldom needs more than the most recent seed's matrices.
    """
    from recgym.datasets import load_users

    users = np.asarray(load_users(dataset, dim, seed, path=data, progress=progress),
                       dtype=np.float64)
    users.setflags(write=False)
    return users


def run_chain(chain: Chain) -> list[dict]:
    """Run every ``(d, n)`` of ``chain`` in order; one result row per run.

    Returns
    -------
    list of dict
        Rows with the columns of ``results.columns_for`` (``run`` only in
        experiment 1).
    """
    from recgym.game import EngagementGame
    from recgym.solvers import best_response_dynamics

    rng = np.random.RandomState(chain.rng_seed)
    rows = []
    for key, (dim, n) in zip(chain.keys(), _grid(chain), strict=True):
        users = cached_users(chain.dataset, dim, chain.embedding_seed, chain.data,
                             chain.progress)
        game = EngagementGame(users, n, chain.rule, chain.temperature)
        result = best_response_dynamics(game, rng, max_iter=chain.max_iter)
        rows.append(_row(key, chain, result, game.utilities(result.profile)))
    return rows


def _grid(chain: Chain) -> list[tuple[int, int]]:
    return [(d, n) for d in chain.dims for n in chain.producers]


def _row(key: Key, chain: Chain, result: object, utilities: object) -> dict:
    names = key_columns(columns_for("exp1" if chain.run is not None else "exp2"))
    row = dict(zip(names, key, strict=True))
    row["temperature"] = math.nan if chain.temperature is None else chain.temperature
    producer, user = utilities.engagement, utilities.user
    row.update(converged=bool(result.converged), iterations=int(result.iterations),
               counts=" ".join(str(int(c)) for c in result.counts),
               total_producer_utility=float(producer.sum()),
               min_producer_utility=float(producer.min()),
               max_producer_utility=float(producer.max()),
               avg_user_utility=float(user.mean()), min_user_utility=float(user.min()),
               max_user_utility=float(user.max()))
    return row


def user_summary(task: tuple[str, int, int, str | None, bool]) -> dict:
    """Size and feature distribution ``U.sum(0) / U.sum()`` of one user matrix.

    ``task`` is ``(dataset, dim, embedding_seed, data, progress)``. Loading the
    users here also warms the worker's cache (and the dataset's disk cache).
    """
    dataset, dim, seed, data, progress = task
    users = cached_users(dataset, dim, seed, data, progress)
    distribution = users.sum(axis=0) / users.sum()
    return {"dataset": published_name(dataset), "embedding_seed": seed, "dim": dim,
            "n_users": users.shape[0],
            "user_distribution": " ".join(repr(float(x)) for x in distribution)}


# ---------------------------------------------------------------------------
# The driver
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SweepSummary:
    """What ``run_sweep`` did.

    Attributes
    ----------
    results : Path
        The results file (or Parquet folder).
    n_runs : int
        Rows in the results.
    n_computed : int
        Rows written by this call (the rest were already there).
    seconds : float
        Wall time of this call.
    """

    results: Path
    n_runs: int
    n_computed: int
    seconds: float


def run_sweep(config: SweepConfig, backend: LocalBackend | RayBackend | None = None
              ) -> SweepSummary:
    """Run (or resume) the sweep ``config`` and write its results into ``config.out``.

    Parameters
    ----------
    config : Exp1Config or Exp2Config
    backend : LocalBackend or RayBackend, optional
        Default: the one ``config.backend``, ``config.jobs`` describe.

    Returns
    -------
    SweepSummary

    Raises
    ------
    ValueError
        If ``config.out`` cannot hold the sweep (a file, inside a file, a result
        file that is a symlink), holds a sweep with other settings or results
        without a readable ``config.json``, or another sweep writes to it; if
        ``--ray-address`` accepts no connection. Nothing is written before the
        folder and settings are checked.
    KeyboardInterrupt
        On Ctrl-C, or ``SweepTerminated`` on SIGTERM (when called from the main
        thread); the rows finished so far are saved and the workers terminated.

    Warns
    -----
    RuntimeWarning
        For damaged rows found on resume (naming the file and line); their runs are
        recomputed.
    """
    if backend is None:
        backend = make_backend(config.backend, config.jobs, config.ray_address)
    result = run_tasks(config, paper_sweep(config, backend.runs_here), backend)
    return SweepSummary(result.path, len(result.frame), result.n_computed, result.seconds)


def paper_sweep(config: SweepConfig, runs_here: bool) -> TaskSweep:
    """``config`` declared for the runner: one task per chain (handed out by embedding
    seed, so workers reuse their cached users), the paper's rows (``PaperRows``),
    ``run_chain``; before the chains, ``_load_users``.

    Fit progress bars show only where the chains run in this process (``runs_here``),
    where nothing else prints beside them.
    """
    chains = build_chains(config, progress=config.progress and runs_here)
    tasks = [Task(tuple(chain.keys()), chain, chain.embedding_seed) for chain in chains]
    return TaskSweep(tasks, PaperRows(config.experiment, config.max_iter), run_chain,
                     functools.partial(_load_users, Path(config.out), config),
                     side_files=(USER_DISTRIBUTIONS,))


@dataclass(frozen=True)
class PaperRows:
    """The paper's rows (``runner.RowSchema``): the published columns of ``experiment``
    (``results.columns_for``), checked on resume by ``results.check_rows``."""

    experiment: str
    max_iter: int

    @property
    def columns(self) -> tuple[str, ...]:
        """The published columns (``run`` only in experiment 1)."""
        return columns_for(self.experiment)

    @property
    def key_names(self) -> tuple[str, ...]:
        """The columns naming a run (``results.key_columns``)."""
        return key_columns(self.columns)

    def check(self, frame: pd.DataFrame, keys: Sequence[Key]
              ) -> tuple[pd.DataFrame, Problems]:
        """``results.check_rows`` against the sweep's ``keys`` (``Chain.keys``, in order)."""
        return check_rows(frame, key_index(list(keys), self.key_names), self.max_iter)


def _load_users(out: Path, config: SweepConfig, backend: LocalBackend | RayBackend,
                pending: list[Chain]) -> None:
    """Load the user matrices ``pending`` needs; add missing ``user_distributions.csv`` rows.

    One task per ``(seed, dim)``: a real dataset's embedding is fitted here (by the
    workers in parallel, each writing the disk cache), so the chains only read it.
    Workers show no fit bars (they would interleave); the sweep shows one bar over
    the matrices instead. In this process (``backend.runs_here``) the fit bars show.
    Damaged rows of the file are left out (with a warning) and computed again.
    """
    path = out / USER_DISTRIBUTIONS
    known, problems = _known_users(path, config)
    have = set(zip(known["embedding_seed"].tolist(), known["dim"].tolist(), strict=True))
    needed = {c.embedding_seed for c in pending}
    here = backend.runs_here
    tasks = [(config.dataset, d, s, config.data_path, config.progress and here)
             for s in config.seeds for d in config.dims if s in needed or (s, d) not in have]
    found = []
    with tqdm(total=len(tasks), unit="matrix", desc=f"users {config.dataset}", file=sys.stderr,
              disable=here or not config.progress or not tasks, dynamic_ncols=True) as bar:
        for _, row in backend.map_unordered(user_summary, tasks):
            if (row["embedding_seed"], row["dim"]) not in have:
                found.append(row)
            bar.update()
    if not found and not problems:
        return
    found.sort(key=lambda r: (r["embedding_seed"], r["dim"]))
    frame = pd.concat([f for f in (known, pd.DataFrame(found, columns=list(USER_COLUMNS)))
                       if len(f)])
    replace_file(path, lambda handle: frame.to_csv(handle, index=False))


def _known_users(path: Path, config: SweepConfig) -> tuple[pd.DataFrame, Problems]:
    """The valid rows of ``user_distributions.csv`` and the others' problems (warned about).

    A valid row is one of the sweep's ``(embedding_seed, dim)``, not repeated, for
    its dataset, with ``n_users >= 1`` and ``dim`` non-negative numbers summing to 1.
    Raises ``ValueError`` if the file does not have the expected columns.
    """
    if not check_regular_file(path):
        return pd.DataFrame(columns=list(USER_COLUMNS)), {}
    frame, problems = read_text_rows(path, USER_COLUMNS)
    check = RowCheck(frame)
    name = published_name(config.dataset)
    check.flag(check.text("dataset") != name, f"dataset is not {name}")
    seed, dim = check.integers("embedding_seed"), check.integers("dim")
    pairs = pd.MultiIndex.from_arrays([seed, dim])
    check.flag(~pairs.isin(list(itertools.product(config.seeds, config.dims))),
               "is not one of the sweep's (embedding_seed, dim)")
    n_users = check.integers("n_users", 1)
    shares = check.number_lists("user_distribution", dim)
    check.flag(np.any(shares < 0, axis=1, where=~np.isnan(shares))
               | (np.abs(np.nansum(shares, axis=1) - 1) > DISTRIBUTION_TOL),
               "user_distribution must be non-negative and sum to 1")
    check.repeats(pairs, "repeats an earlier (embedding_seed, dim)")
    keep = check.valid
    problems.update(check.problems())
    warn_damaged(path, problems)
    known = pd.DataFrame({"dataset": name, "embedding_seed": seed[keep], "dim": dim[keep],
                          "n_users": n_users[keep],
                          "user_distribution": frame["user_distribution"].to_numpy()[keep]},
                         columns=list(USER_COLUMNS))
    return known, problems


def compute_user_distributions(frame: pd.DataFrame, dims: dict[str, int],
                               data: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """``user_distributions.csv`` rows for results that lack them (e.g. a published file).

    Parameters
    ----------
    frame : DataFrame
        Per-run results; every embedding seed of each dataset is loaded.
    dims : dict
        Dataset (published name) -> the dimension to load.
    data : str, optional
        Real rating data (``recgym.datasets``); synthetic users need none.

    Returns
    -------
    (DataFrame, list of str)
        The rows that could be computed, and a note for each dataset that could not
        be loaded.
    """
    from recgym.datasets import PUBLISHED_NAMES

    cli_names = {published: name for name, published in PUBLISHED_NAMES.items()}
    rows, notes = [], []
    for dataset, part in frame.groupby("dataset", sort=False):
        name = cli_names.get(dataset, dataset)
        path = None if name in SYNTHETIC else data
        try:
            rows += [user_summary((name, dims[dataset], int(seed), path, True))
                     for seed in sorted(part["embedding_seed"].unique())]
        except (FileNotFoundError, ValueError) as exc:
            notes.append(f"{dataset}: users not loaded ({str(exc).splitlines()[0]})")
    return pd.DataFrame(rows), notes


def read_user_distributions(folder: str | Path) -> pd.DataFrame | None:
    """``user_distributions.csv`` of a sweep folder, or ``None`` if there is none."""
    path = Path(folder) / USER_DISTRIBUTIONS
    return read_csv_exact(path) if path.is_file() else None
