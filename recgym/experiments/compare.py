"""Compare a sweep's runs with the paper's published runs, row by row.

Rows are matched on their key (``dataset, rule, temperature, embedding_seed,
[run], dim, n_producers``; linear serving's empty temperature matches empty).
A run **matches** when ``converged``, ``iterations`` and ``counts`` are equal and
every utility agrees to ``rtol`` (relative) plus ``atol`` (absolute). The
published utilities carry 10 significant digits, so they can differ from exact
values by up to ``5e-10`` relative; the default ``rtol = 1e-9`` allows that and no
more. The published files hold ``-1`` as the utilities of runs that did not
converge (not reported); for those runs the utilities are not compared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from recgym.experiments.results import UTILITY_COLUMNS, key_columns

#: Published utilities of runs that did not converge.
NOT_REPORTED = -1.0
EXACT_COLUMNS = ("converged", "iterations", "counts")


@dataclass(frozen=True)
class Comparison:
    """Outcome of ``compare_runs``.

    Attributes
    ----------
    n_runs : int
        Runs in the sweep.
    n_match : int
        Runs that match their published run.
    mismatches : DataFrame
        One row per run that differs: its key, ``columns`` (the columns that
        differ) and, for each compared column, ``<column>`` (ours) and
        ``<column>_published``.
    unpublished : DataFrame
        Keys of the sweep's runs that the published file lacks.
    n_published : int
        Published runs of the sweep's datasets.
    """

    n_runs: int
    n_match: int
    mismatches: pd.DataFrame
    unpublished: pd.DataFrame
    n_published: int

    @property
    def ok(self) -> bool:
        """True when every run of the sweep is published and matches."""
        return self.n_match == self.n_runs


def _keyed(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the NaN temperature of linear rows made comparable in merges."""
    frame = frame.copy()
    frame["temperature"] = frame["temperature"].astype(float).fillna(NOT_REPORTED)
    frame["counts"] = frame["counts"].astype(str).str.split().str.join(" ")
    return frame


def compare_runs(ours: pd.DataFrame, published: pd.DataFrame, rtol: float = 1e-9,
                 atol: float = 0.0) -> Comparison:
    """Match every run of ``ours`` with its published run.

    Parameters
    ----------
    ours, published : DataFrame
        Results with the published columns (``recgym.experiments.results``).
    rtol, atol : float >= 0
        Relative and absolute tolerance on the utilities.

    Returns
    -------
    Comparison

    Raises
    ------
    ValueError
        If the two frames do not share the key columns (e.g. experiment 1 results
        compared with experiment 2's file).
    """
    if rtol < 0 or atol < 0:
        raise ValueError(f"rtol and atol must be >= 0, got rtol={rtol!r}, atol={atol!r}")
    keys = key_columns(ours.columns)
    if keys != key_columns(published.columns):
        raise ValueError(f"the results have key columns {keys} but the published file has "
                         f"{key_columns(published.columns)}; compare experiment 1 results "
                         "with exp1_iterations.csv.gz and experiment 2 with "
                         "exp2_equilibria.csv.gz")
    columns = EXACT_COLUMNS + UTILITY_COLUMNS
    merged = _keyed(ours).merge(_keyed(published)[list(keys + columns)], on=list(keys),
                                how="left", suffixes=("", "_published"), indicator=True,
                                validate="one_to_one")
    found = merged["_merge"] == "both"
    # Unmatched rows leave NaN in the published columns, so compare by value, not dtype.
    differs = {
        "converged": merged["converged"].astype(str) != merged["converged_published"].astype(str),
        "iterations": merged["iterations"].astype(float)
        != merged["iterations_published"].astype(float),
        "counts": merged["counts"] != merged["counts_published"],
    }
    reported = merged["converged_published"].astype(bool) | (
        merged[list(f"{c}_published" for c in UTILITY_COLUMNS)] != NOT_REPORTED).any(axis=1)
    for c in UTILITY_COLUMNS:
        close = np.isclose(merged[c].astype(float), merged[f"{c}_published"].astype(float),
                           rtol=rtol, atol=atol)
        differs[c] = reported & ~close
    bad = pd.DataFrame(differs)
    mismatch = found & bad.any(axis=1)
    report = merged.loc[mismatch].copy()
    report.insert(len(keys), "columns", bad.loc[mismatch].apply(
        lambda r: " ".join(c for c in columns if r[c]), axis=1))
    report["temperature"] = report["temperature"].replace(NOT_REPORTED, np.nan)
    unpublished = merged.loc[~found, list(keys)].copy()
    unpublished["temperature"] = unpublished["temperature"].replace(NOT_REPORTED, np.nan)
    n_published = int(published["dataset"].isin(set(ours["dataset"])).sum())
    return Comparison(len(ours), int((found & ~bad.any(axis=1)).sum()),
                      report.drop(columns="_merge").reset_index(drop=True),
                      unpublished.reset_index(drop=True), n_published)


def format_comparison(comparison: Comparison, limit: int | None = 50) -> str:
    """A readable report: the counts, then up to ``limit`` differing runs (all if None).

    Each differing run is listed with its key, the columns that differ, and its
    ``converged``, ``iterations`` and ``counts``, ours and published.
    """
    c = comparison
    lines = [f"{c.n_runs} runs compared: {c.n_match} match exactly, {len(c.mismatches)} differ, "
             f"{len(c.unpublished)} not in the published file "
             f"({c.n_published} published runs for these datasets)"]
    keys = list(key_columns(c.mismatches.columns))
    shown_columns = keys + ["columns"] + [f"{col}{suffix}" for col in EXACT_COLUMNS
                                          for suffix in ("", "_published")]
    for title, frame in (("differing runs", c.mismatches[shown_columns]),
                         ("runs not in the published file", c.unpublished)):
        if len(frame):
            shown = frame if limit is None else frame.head(limit)
            more = "" if len(shown) == len(frame) else f", the first {len(shown)} shown"
            lines.append(f"\n{title} ({len(frame)}{more}):")
            lines.append(shown.to_string(index=False))
    return "\n".join(lines)
