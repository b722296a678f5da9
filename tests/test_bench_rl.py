"""benchmarks/bench_rl.py's comparison of two backends: the reference's slowest seed sets
the bound, and a seed is on par only at the goal at the end, having got there in time."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_bench_rl():
    sys.path.insert(0, str(BENCHMARKS))  # bench_rl imports its sibling timing.py
    try:
        spec = importlib.util.spec_from_file_location("bench_rl", BENCHMARKS / "bench_rl.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_rl"] = module  # its dataclasses look their module up
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCHMARKS))


def row(backend: str, seed: int, to_goal: int | None, final: float) -> dict:
    """A run evaluated every 10,000 agent-steps, at 5% until ``to_goal``, then at 0.5%."""
    history = [[n, 0.05 if to_goal is None or n < to_goal else 0.005]
               for n in range(0, 60_000, 10_000)]
    history[-1][1] = final
    return {"backend": backend, "config": "shared-vertex", "seed": seed, "steps": 200_000,
            "history": history, "final_nash_conv_relative": final}


def test_compare_bounds_by_the_reference_slowest_seed():
    bench = load_bench_rl()
    reference = [row("sb3", 0, 10_000, 0.0), row("sb3", 1, 20_000, 0.0)]
    mine = [row("rllib", 0, 30_000, 0.005),  # within 2 x 20,000 and at the goal: on par
            row("rllib", 1, 50_000, 0.0)]  # too slow
    text = bench.compare(mine, reference, [200_000], 0.01)
    assert "sb3's slowest seed (200,000-step runs) reaches 1% at 20,000 agent-steps" in text
    assert "within 2x that (40,000) on 1/2 seeds" in text
    assert "per seed 2.50-3.00x, median 2.75x" in text
    drifted = [row("rllib", 0, 30_000, 0.02), row("rllib", 1, 10_000, 0.0)]
    assert "on 1/2 seeds" in bench.compare(drifted, reference, [200_000], 0.01)
    never = [row("sb3", 0, None, 0.05), row("sb3", 1, 20_000, 0.0)]
    assert "sb3 does not reach 1% on every seed" in bench.compare(mine, never, [200_000],
                                                                   0.01)
    # Runs of another budget are compared with the reference's longest runs.
    shorter = [{**r, "steps": 100_000} for r in mine]
    assert "on 1/2 seeds" in bench.compare(shorter, reference, [100_000], 0.01)
    assert bench.compare(mine, reference, [30_000], 0.01) == ""
    # The goal is read off the evaluations, so another goal moves every count.
    strict = bench.compare(mine, reference, [200_000], 0.001)
    assert "reaches 0.1% at 50,000 agent-steps" in strict
    assert "within 2x that (100,000) on 1/2 seeds" in strict
    # A reference seed already at the goal at the start bounds, but has no ratio.
    started = [row("sb3", 0, 0, 0.0), row("sb3", 1, 20_000, 0.0)]
    text = bench.compare(mine, started, [200_000], 0.01)
    assert "on 1/2 seeds" in text and "median 2.50x" in text and "1 seeds" in text
