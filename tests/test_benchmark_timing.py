"""benchmarks/timing.py: repeats, minimum and median, ratios, BLAS threads and the printed
format; every benchmark uses it."""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
_spec = importlib.util.spec_from_file_location("timing", BENCHMARKS / "timing.py")
timing = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(timing)


def make_timer(name: str, wall: list[float], cpu: list[float], per: float = 1,
               unit: str = "call") -> timing.Timer:
    timer = timing.Timer(name, per, unit)
    for w, c in zip(wall, cpu, strict=True):
        timer.add(w, c)
    return timer


def test_interleave_counts_repeats_after_the_warm_up_one_of_each_per_round():
    calls: list[str] = []
    a, b = timing.Timer("a"), timing.Timer("b")
    last = timing.interleave([(a, lambda: calls.append("a") or len(calls)),
                              (b, lambda: calls.append("b") or -len(calls))], repeat=3, warmup=2)
    assert calls == ["a", "b"] * 5
    assert (a.repeats, b.repeats) == (3, 3)
    assert last == [9, -10]
    assert all(w >= 0 and c >= 0 for w, c in zip(a.wall + b.wall, a.cpu + b.cpu, strict=True))
    assert timing.measure(timing.Timer("c"), lambda: 7, repeat=1, warmup=0) == 7


def test_minimum_and_median_are_per_unit_on_each_clock():
    timer = make_timer("t", [3.0, 1.0, 2.0, 9.0], [1.0, 2.0, 4.0, 3.0], per=2)
    assert timer.min() == 0.5 and timer.median() == 1.25
    assert timer.min("cpu") == 0.5 and timer.median("cpu") == 1.25
    assert timer.min() <= timer.median()
    with pytest.raises(ValueError, match="clock"):
        timer.min("gpu")
    with pytest.raises(ValueError, match="no timed run"):
        timing.Timer("empty").median()
    with pytest.raises(ValueError, match="repeat"):
        timing.interleave([(timing.Timer("x"), lambda: None)], repeat=0)


def test_ratio_divides_the_candidate_time_per_unit_by_the_baseline():
    baseline = make_timer("base", [1.0, 3.0], [2.0, 2.0])
    candidate = make_timer("cand", [40.0, 80.0], [10.0, 30.0], per=10)
    assert timing.ratio(candidate, baseline) == 4.0
    assert timing.ratio(candidate, baseline, stat="median") == 3.0
    assert timing.ratio(candidate, baseline, "cpu") == 0.5


def test_rows_print_minimum_median_repeats_and_ratio_in_one_format():
    baseline = make_timer("naive", [2.0, 4.0, 3.0], [2.0, 2.0, 2.0], per=100, unit="step")
    fast = make_timer("fast env", [0.02, 0.04], [0.01, 0.03], per=1000, unit="step")
    slow = make_timer("slow", [40.0], [20.0], per=100, unit="step")
    assert timing.rows([fast, baseline, slow], baseline).splitlines() == [
        "  fast env: min  20.000 us, median  30.000 us per step (CPU min  10.000 us, median "
        " 20.000 us), 2 repeats, best 50,000 step/s; ratio vs naive: 0.00100x wall = 1,000x "
        "faster (median 0.00100x), 0.000500x CPU",
        "  naive:    min  20.000 ms, median  30.000 ms per step (CPU min  20.000 ms, median "
        " 20.000 ms), 3 repeats, best 50.0 step/s",
        "  slow:     min 400.000 ms, median 400.000 ms per step (CPU min 200.000 ms, median "
        "200.000 ms), 1 repeat, best 2.50 step/s; ratio vs naive: 20.0x wall (median 13.3x), "
        "10.0x CPU"]
    assert timing.row(make_timer("once", [2.5], [1.0])) == (
        "  once: min    2.500 s, median    2.500 s (CPU min    1.000 s, median    1.000 s), "
        "1 repeat")
    assert timing.goal("a / b", 1.18, 1.3) == "  goal: a / b 1.18x <= 1.3x: met"
    assert timing.goal("rate", 8_391, 10_000, at_most=False, unit=" steps/s") == (
        "  goal: rate 8,391 steps/s >= 10,000 steps/s: NOT met")


def test_header_reports_the_machine_and_the_blas_threads():
    line = timing.header()
    assert line.startswith("# ") and "CPU(s) usable" in line and "BLAS: " in line
    assert f"NumPy {np.__version__}" in line


def test_blas_threads_sets_and_restores_the_thread_variables(monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    with timing.blas_threads(1):
        assert all(os.environ[name] == "1" for name in timing.THREAD_VARIABLES)
    assert os.environ["OPENBLAS_NUM_THREADS"] == "3" and "OMP_NUM_THREADS" not in os.environ
    with timing.blas_threads(0):
        assert os.environ["OPENBLAS_NUM_THREADS"] == "3"
    with pytest.raises(ValueError, match=">= 0"):
        with timing.blas_threads(-1):
            pass


def test_blas_threads_pins_this_process_and_restores_it():
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads() -> list[int]:
        return [pool["num_threads"] for pool in threadpoolctl.threadpool_info()
                if pool["user_api"] == "blas"]

    before = blas_threads()
    assert before, "NumPy's BLAS is loaded"
    with timing.blas_threads(1):
        assert blas_threads() == [1] * len(before)
        assert "1 thread" in timing.blas_report() and "threads unknown" not in timing.header()
    assert blas_threads() == before


def test_without_threadpoolctl_the_report_says_so(monkeypatch):
    monkeypatch.setattr(timing, "threadpool_info", None)
    monkeypatch.setattr(timing, "threadpool_limits", None)
    with timing.blas_threads(2):
        assert timing.blas_report().startswith("threads unknown, threadpoolctl not installed")
        assert "OPENBLAS_NUM_THREADS=2" in timing.header()


def test_the_blas_argument_defaults_to_one_thread_and_refuses_negatives():
    parser = argparse.ArgumentParser()
    timing.add_blas_argument(parser)
    assert parser.parse_args([]).blas_threads == 1
    assert parser.parse_args(["--blas-threads", "0"]).blas_threads == 0
    with pytest.raises(SystemExit):
        parser.parse_args(["--blas-threads", "-1"])


@pytest.mark.parametrize("path", sorted(BENCHMARKS.glob("bench_*.py")), ids=lambda p: p.name)
def test_every_benchmark_imports_timing(path):
    tree = ast.parse(path.read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert "timing" in imported, f"{path.name} does not import benchmarks/timing.py"
