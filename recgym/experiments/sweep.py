"""The paper's experiment loops, split into independent chains and run in parallel.

Within one chain a single legacy ``RandomState`` is shared, in order, by
``for d in dims: for n in producers: best_response_dynamics(...)`` (model.md
section 7), so a chain is the unit of parallel work and of resumption:

* experiment 1: one chain per ``(rule, temperature, embedding seed, run)``,
  started from ``RandomState(run)``;
* experiment 2: one chain per ``(rule, temperature, embedding seed)``, started
  from ``RandomState(dynamics_seed)`` (505 in the paper).

A chain's rows are appended to the results file as soon as it finishes. On
resume, chains whose rows are all present are skipped; any other chain is
recomputed from its seed (its random stream must be replayed from the start) and
only its missing rows are appended, so no row is lost or written twice. At the
end the file is rewritten in the sweep's own order, which makes it identical
whatever the backend, the number of workers or the interruptions.

Besides the results, ``user_distributions.csv`` records each user matrix's size
and distribution over features ``U.sum(0) / U.sum()`` (needed by the plots).
Computing it is also what loads (for real data: fits and caches on disk) every
user matrix before any chain starts, one task per matrix, so chains only read
the cache. Parallel workers fit without their own progress bars, which would
interleave; the sweep shows one bar over the matrices instead.

Stopping: Ctrl-C, and SIGTERM while ``run_sweep`` runs in the main thread, raise
``KeyboardInterrupt`` (``SweepTerminated`` for SIGTERM); finished rows are already
on disk, the workers are terminated, and running the sweep again resumes it.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from recgym.experiments.backends import LocalBackend, RayBackend, make_backend
from recgym.experiments.config import NON_RESULT_FIELDS, SYNTHETIC, SweepConfig
from recgym.experiments.results import (
    Key,
    columns_for,
    frame_keys,
    key_columns,
    open_store,
    read_csv_exact,
    row_key,
)

USER_DISTRIBUTIONS = "user_distributions.csv"
CONFIG_FILE = "config.json"


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
        """``row_key`` of each of the chain's rows, in order."""
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
    from agents.dynamics import best_response_dynamics
    from recgym.game import EngagementGame

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
        If ``config.out`` holds a sweep with other settings.
    KeyboardInterrupt
        On Ctrl-C, or ``SweepTerminated`` on SIGTERM (when called from the main
        thread); the rows finished so far are saved and the workers terminated.
    """
    start = time.perf_counter()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    _write_or_check_config(out, config)
    if backend is None:
        backend = make_backend(config.backend, config.jobs, config.ray_address)
    # Fit progress bars only where nothing else prints beside them.
    chains = build_chains(config, progress=config.progress and backend.runs_here)
    store = open_store(out, config.format, config.experiment)
    done = set(frame_keys(store.load()))
    # Grouped by embedding seed so that workers reuse their cached users.
    pending = sorted((c for c in chains if not done.issuperset(c.keys())),
                     key=lambda c: c.embedding_seed)
    total = sum(c.n_runs for c in chains)
    keys = key_columns(store.columns)
    computed = 0
    with _sigterm_as_interrupt():
        with backend:
            _load_users(out, config, backend, pending)
            with tqdm(total=total,
                      initial=total - sum(len(set(c.keys()) - done) for c in pending),
                      unit="run", desc=f"{config.experiment} {config.dataset}",
                      file=sys.stderr, disable=not config.progress, dynamic_ncols=True) as bar:
                for _, rows in backend.map_unordered(run_chain, pending):
                    new = [r for r in rows if row_key(r, keys) not in done]
                    if new:
                        store.append(new)
                        done.update(row_key(r, keys) for r in new)
                        computed += len(new)
                    bar.update(len(new))
        frame = _in_sweep_order(store.load(), chains)
        store.finalize(frame)
    return SweepSummary(store.path, len(frame), computed, time.perf_counter() - start)


class SweepTerminated(KeyboardInterrupt):
    """SIGTERM received during ``run_sweep``; handled like Ctrl-C.

    Attributes
    ----------
    signum : int
        ``signal.SIGTERM``; a command line exits with ``128 + signum``.
    """

    signum = int(signal.SIGTERM)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, the first SIGTERM raises ``SweepTerminated`` in the main thread.

    Python's default for SIGTERM ends the process without unwinding, leaving the
    pool's workers behind. Later SIGTERMs are ignored while the first one unwinds
    (terminating the workers); the previous handler is restored on leaving. Off
    the main thread, where handlers cannot be set, this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def handle(signum: int, frame: object) -> None:
        if not received:
            received.append(signum)
            raise SweepTerminated("terminated (SIGTERM)")

    previous = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _in_sweep_order(frame: pd.DataFrame, chains: list[Chain]) -> pd.DataFrame:
    """Rows of ``frame`` in chain order, the first of any repeated key only."""
    position = {key: i for i, key in enumerate(k for c in chains for k in c.keys())}
    keys = frame_keys(frame)
    order = np.array([position.get(k, len(position)) for k in keys], dtype=np.int64)
    first = ~pd.Series(keys, dtype=object).duplicated().to_numpy()
    index = np.flatnonzero(first)
    index = index[np.argsort(order[index], kind="stable")]
    return frame.iloc[index].reset_index(drop=True)


def _write_or_check_config(out: Path, config: SweepConfig) -> None:
    """Write ``config.json``, or check that the one there describes the same results."""
    path = out / CONFIG_FILE
    wanted = config.to_dict()
    if path.exists():
        found = json.loads(path.read_text())
        differ = sorted(k for k in set(found) | set(wanted)
                        if k not in NON_RESULT_FIELDS and found.get(k) != wanted.get(k))
        if differ:
            raise ValueError(f"{out} holds a sweep with other settings (different: "
                             f"{', '.join(differ)}); resume it with the same settings or "
                             "choose another --out folder")
    path.write_text(json.dumps(wanted, indent=2) + "\n")


def _load_users(out: Path, config: SweepConfig, backend: LocalBackend | RayBackend,
                pending: list[Chain]) -> None:
    """Load the user matrices ``pending`` needs; add missing ``user_distributions.csv`` rows.

    One task per ``(seed, dim)``: a real dataset's embedding is fitted here (by the
    workers in parallel, each writing the disk cache), so the chains only read it.
    Workers show no fit bars (they would interleave); the sweep shows one bar over
    the matrices instead. In this process (``backend.runs_here``) the fit bars show.
    """
    path = out / USER_DISTRIBUTIONS
    known = read_csv_exact(path) if path.exists() else None
    have = set() if known is None else set(zip(known.embedding_seed, known.dim, strict=True))
    needed = {c.embedding_seed for c in pending}
    here = backend.runs_here
    tasks = [(config.dataset, d, s, config.data_path, config.progress and here)
             for s in config.seeds for d in config.dims if s in needed or (s, d) not in have]
    if not tasks:
        return
    found = []
    with tqdm(total=len(tasks), unit="matrix", desc=f"users {config.dataset}", file=sys.stderr,
              disable=here or not config.progress, dynamic_ncols=True) as bar:
        for _, row in backend.map_unordered(user_summary, tasks):
            if (row["embedding_seed"], row["dim"]) not in have:
                found.append(row)
            bar.update()
    if not found:
        return
    found.sort(key=lambda r: (r["embedding_seed"], r["dim"]))
    frame = pd.DataFrame(found) if known is None else pd.concat([known, pd.DataFrame(found)])
    tmp = path.with_name(path.name + ".tmp")
    frame.to_csv(tmp, index=False)
    tmp.replace(path)


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
