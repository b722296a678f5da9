"""The paper's published per-run results, shipped with the package.

=========  ==========================  ======  =============================================
key        file                        runs    what
=========  ==========================  ======  =============================================
``exp1``   ``exp1_iterations.csv.gz``  19,200  experiment 1: iterations to converge, runs 1-40
``exp2``   ``exp2_equilibria.csv.gz``   7,200  experiment 2: equilibria across temperatures
=========  ==========================  ======  =============================================

One row per run of the paper's best-response dynamics, for all five datasets:
``dataset, rule, temperature, embedding_seed, [run], dim, n_producers,
converged, iterations, counts`` (producers per feature, space-separated) and the
utility summaries (see ``recgym.experiments.results``). These are the paper's
results, not rating data; ``recgym compare`` checks a sweep against them.

Examples
--------
>>> import pandas as pd
>>> from recgym.published import published_path
>>> len(pd.read_csv(published_path("exp2")))
7200
"""

from __future__ import annotations

import atexit
import contextlib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from recgym._validation import check_choice

__all__ = ["PUBLISHED_FILES", "PUBLISHED_RUNS", "published_path"]

#: Experiment key -> file name inside this package.
PUBLISHED_FILES: Mapping[str, str] = MappingProxyType({
    "exp1": "exp1_iterations.csv.gz",
    "exp2": "exp2_equilibria.csv.gz",
})

#: Experiment key -> number of runs (rows) in its file.
PUBLISHED_RUNS: Mapping[str, int] = MappingProxyType({"exp1": 19_200, "exp2": 7_200})

_extracted = contextlib.ExitStack()
atexit.register(_extracted.close)


def published_path(experiment: str) -> Path:
    """Path of the published results of ``experiment`` (``"exp1"`` or ``"exp2"``).

    Parameters
    ----------
    experiment : str
        A key of ``PUBLISHED_FILES``.

    Returns
    -------
    pathlib.Path of an existing gzip-compressed CSV file (read it with
    ``pandas.read_csv`` or ``recgym.experiments.results.read_results``).

    Raises
    ------
    ValueError
        If ``experiment`` is not ``"exp1"`` or ``"exp2"``.
    FileNotFoundError
        If the installation lacks the file (a broken or partial install).
    """
    experiment = check_choice("experiment", experiment, tuple(PUBLISHED_FILES))
    resource = resources.files(__name__).joinpath(PUBLISHED_FILES[experiment])
    if not resource.is_file():
        raise FileNotFoundError(f"the published results {PUBLISHED_FILES[experiment]!r} are "
                                f"missing from the installed package at {resource}; reinstall "
                                "recgym")
    if isinstance(resource, Path):
        return resource
    # A zipped installation: extract once, kept until the interpreter exits.
    return _extracted.enter_context(resources.as_file(resource))
