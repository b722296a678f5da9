"""The timing every benchmark shares, so that each prints its figures the same way.

* :class:`Timer` collects the wall and CPU seconds (``time.process_time``) of repeated
  runs of one variant, ``per`` units (steps, epochs, ...) a run; its figures are the
  minimum and the median per unit.
* :func:`interleave` times several variants in turn (one run of each per round, after
  ``warmup`` untimed rounds), so that a change of the machine's load hits them alike;
  :func:`ratio` divides a candidate's time per unit by a baseline's measured in the same
  process.
* :func:`blas_threads` pins BLAS: ``threadpoolctl`` for this process (the ``bench``
  extra), the thread variables for the processes it starts; both restored on exit.
* :func:`header` is the line every benchmark starts with (machine, load, BLAS threads);
  :func:`row` / :func:`rows` print a timer as
  ``name: min ..., median ... per unit (CPU ...), N repeats; ratio vs BASELINE ...``;
  :func:`goal` prints a goal's verdict.

Benchmarks are run as scripts (``python benchmarks/bench_x.py``), so they import this
module as ``timing``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:  # pip install -e ".[bench]"
    threadpool_info = threadpool_limits = None

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
CLOCKS = ("wall", "cpu")
T = TypeVar("T")


def clocks() -> tuple[float, float]:
    """The wall clock and this process's CPU clock now, in seconds."""
    return time.perf_counter(), time.process_time()


class Timer:
    """Wall and CPU seconds of repeated runs of one variant, each run ``per`` ``unit``\\ s."""

    def __init__(self, name: str, per: float = 1, unit: str = "call") -> None:
        if per <= 0:
            raise ValueError(f"per must be > 0, got {per}")
        self.name, self.per, self.unit = name, per, unit
        self.wall: list[float] = []
        self.cpu: list[float] = []

    @property
    def repeats(self) -> int:
        return len(self.wall)

    def add(self, wall: float, cpu: float) -> None:
        """Record one run that took ``wall`` and ``cpu`` seconds."""
        self.wall.append(wall)
        self.cpu.append(cpu)

    def time(self, fn: Callable[[], T]) -> T:
        """``fn()``, recorded as one run."""
        wall, cpu = clocks()
        value = fn()
        end_wall, end_cpu = clocks()
        self.add(end_wall - wall, end_cpu - cpu)
        return value

    def _samples(self, clock: str) -> list[float]:
        if clock not in CLOCKS:
            raise ValueError(f"clock must be one of {CLOCKS}, got {clock!r}")
        if not self.wall:
            raise ValueError(f"{self.name!r} has no timed run")
        return self.wall if clock == "wall" else self.cpu

    def min(self, clock: str = "wall") -> float:
        """The fastest run's seconds per unit."""
        return min(self._samples(clock)) / self.per

    def median(self, clock: str = "wall") -> float:
        """The median run's seconds per unit."""
        return statistics.median(self._samples(clock)) / self.per


def interleave(runs: Sequence[tuple[Timer, Callable[[], object]]], repeat: int,
               warmup: int = 1) -> list[object]:
    """Time each ``(timer, fn)`` ``repeat`` times, one run of each per round, after
    ``warmup`` untimed rounds; returns each ``fn``'s last value."""
    if repeat < 1 or warmup < 0:
        raise ValueError(f"need repeat >= 1 and warmup >= 0, got {repeat} and {warmup}")
    last: list[object] = []
    for _ in range(warmup):
        last = [fn() for _, fn in runs]
    for _ in range(repeat):
        last = [timer.time(fn) for timer, fn in runs]
    return last


def measure(timer: Timer, fn: Callable[[], T], repeat: int, warmup: int = 1) -> T:
    """:func:`interleave` of one variant: ``fn``'s last value."""
    return interleave([(timer, fn)], repeat, warmup)[0]


def ratio(candidate: Timer, baseline: Timer, clock: str = "wall", stat: str = "min") -> float:
    """``candidate``'s seconds per unit over ``baseline``'s (``stat``: min or median)."""
    if stat not in ("min", "median"):
        raise ValueError(f"stat must be 'min' or 'median', got {stat!r}")
    return getattr(candidate, stat)(clock) / getattr(baseline, stat)(clock)


# ---------------------------------------------------------------------- BLAS threads
@contextmanager
def blas_threads(threads: int = 1) -> Iterator[None]:
    """BLAS limited to ``threads`` threads inside (0: the libraries' default).

    This process: with ``threadpoolctl`` (without it only BLAS libraries not yet loaded
    follow the variables); the processes it starts: ``OMP_NUM_THREADS``,
    ``OPENBLAS_NUM_THREADS`` and ``MKL_NUM_THREADS``. Both are restored on exit.
    """
    if threads < 0:
        raise ValueError(f"threads must be >= 0, got {threads}")
    if threads == 0:
        yield
        return
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, str(threads)))
    try:
        if threadpool_limits is None:
            yield
        else:
            with threadpool_limits(limits=threads, user_api="blas"):
                yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _threads(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def add_blas_argument(parser: argparse.ArgumentParser) -> None:
    """``--blas-threads N`` (default 1; 0: the libraries' default), for :func:`blas_threads`."""
    parser.add_argument("--blas-threads", type=_threads, default=1, metavar="N",
                        help="BLAS threads (threadpoolctl); 0 keeps the libraries' default")


def blas_report() -> str:
    """The loaded BLAS libraries and their threads, e.g. ``openblas 1 thread``."""
    if threadpool_info is None:
        variables = ", ".join(f"{name}={os.environ[name]}" for name in THREAD_VARIABLES
                              if name in os.environ) or "no thread variable set"
        return f"threads unknown, threadpoolctl not installed ({variables})"
    pools = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    return ", ".join(f"{pool['internal_api']} {pool['num_threads']} thread"
                     f"{'' if pool['num_threads'] == 1 else 's'}"
                     for pool in pools) or "no BLAS library loaded"


def header() -> str:
    """One line: the machine, the CPUs this process may use, the load, the BLAS threads."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = f", load {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""
    numpy = sys.modules.get("numpy")
    versions = f"Python {platform.python_version()}" + (
        f", NumPy {numpy.__version__}" if numpy is not None else "")
    torch = "torch loaded" if "torch" in sys.modules else "torch not loaded"
    return (f"# {platform.system()} {platform.machine()}, {versions}; {cpus} CPU(s) usable"
            f"{load}; BLAS: {blas_report()}; {torch}")


# ---------------------------------------------------------------------- printing
def seconds(value: float) -> str:
    """``value`` seconds in s, ms, us or ns, right-aligned in 10 characters."""
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
        if abs(value) >= scale:
            return f"{value / scale:.3f} {unit}".rjust(10)
    return f"{value / 1e-9:.1f} ns".rjust(10)


def number(value: float) -> str:
    """``value`` with 3 significant digits (``1.00``, ``0.0433``), whole with commas from
    1,000."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    return f"{value:.{max(0, 2 - math.floor(math.log10(abs(value))))}f}"


def row(timer: Timer, baseline: Timer | None = None, width: int = 0) -> str:
    """``name: min ..., median ... per unit (CPU min ..., median ...), N repeats`` (and the
    best rate where the unit is not a call), then ``; ratio vs BASELINE: ...x wall (median
    ...x), ...x CPU`` (minimum over minimum, median over median), the name padded to
    ``width``."""
    per_call = timer.unit == "call" and timer.per == 1
    text = (f"  {timer.name + ':':<{width + 1}} min {seconds(timer.min())}, median "
            f"{seconds(timer.median())}{'' if per_call else ' per ' + timer.unit} (CPU min "
            f"{seconds(timer.min('cpu'))}, median {seconds(timer.median('cpu'))}), "
            f"{timer.repeats} repeat{'' if timer.repeats == 1 else 's'}")
    if not per_call:
        text += f", best {number(1 / timer.min())} {timer.unit}/s"
    if baseline is not None:
        wall = ratio(timer, baseline)
        faster = f" = {number(1 / wall)}x faster" if wall < 0.5 else ""
        text += (f"; ratio vs {baseline.name}: {number(wall)}x wall{faster} (median "
                 f"{number(ratio(timer, baseline, stat='median'))}x), "
                 f"{number(ratio(timer, baseline, 'cpu'))}x CPU")
    return text


def rows(timers: Sequence[Timer], baseline: Timer | None = None) -> str:
    """:func:`row` of each timer, names aligned; the baseline's own row has no ratio."""
    width = max(len(timer.name) for timer in timers)
    return "\n".join(row(timer, None if timer is baseline else baseline, width)
                     for timer in timers)


def goal(label: str, value: float, limit: float, at_most: bool = True,
         unit: str = "x") -> str:
    """``  goal: LABEL 1.18x <= 1.3x: met`` (``at_most=False``: ``>=``)."""
    met = value <= limit if at_most else value >= limit
    return (f"  goal: {label} {number(value)}{unit} {'<=' if at_most else '>='} "
            f"{limit:,g}{unit}: {'met' if met else 'NOT met'}")
