"""The paper's experiments, end to end (docs/model.md section 8).

====================  ==============================================================
module                job
====================  ==============================================================
``config``            ``Exp1Config``, ``Exp2Config``, ``EquilibriumConfig``,
                      ``ProducerOptions``: every setting, documented, and the
                      command-line options made from them
``runner``            the one resumable loop every sweep runs through: ``run_tasks``
                      plans, skips, checks, runs, appends and finalizes a ``TaskSweep``
``sweep``             the paper's loops as independent chains (``run_sweep``)
``design_sweep``      ``recgym design``'s tasks; ``information_sweep``: ``recgym
                      information``'s
``backends``          where chains run: ``LocalBackend`` (processes), ``RayBackend``
``results``           the per-run files (the published columns), CSV or Parquet
``compare``           ``compare_runs``: which runs match the published ones exactly
``plots``             ``save_figures``: the paper's figures
``equilibrium``       one dynamics run, reported (``recgym equilibrium``)
``coevolve_run``      the ecosystem over time per rule and learner, written and
                      resumed (``recgym coevolve``)
``coevolve_plots``    its figures: ``coevolve.png``, ``learning.png``
====================  ==============================================================

Examples
--------
>>> import tempfile
>>> from recgym.experiments import Exp1Config, run_sweep
>>> out = tempfile.mkdtemp()
>>> config = Exp1Config(out=out, runs=(1,), dims=(5,), producers=(2, 5), progress=False)
>>> run_sweep(config).n_runs  # 2 rules x 1 run x 1 dim x 2 producer counts
4
"""

from __future__ import annotations

import importlib

#: Public name -> module that defines it. Imported on first use (PEP 562), so that
#: the command line and the sweep's workers do not pay for matplotlib or pandas
#: unless they need them.
_EXPORTS = {
    "Comparison": "compare", "compare_runs": "compare", "format_comparison": "compare",
    "EquilibriumConfig": "config", "Exp1Config": "config", "Exp2Config": "config",
    "LocalBackend": "backends", "RayBackend": "backends", "make_backend": "backends",
    "read_results": "results", "save_figures": "plots",
    "SweepSummary": "sweep", "read_user_distributions": "sweep", "run_sweep": "sweep",
}

__all__ = [
    "Comparison",
    "EquilibriumConfig",
    "Exp1Config",
    "Exp2Config",
    "LocalBackend",
    "RayBackend",
    "SweepSummary",
    "compare_runs",
    "format_comparison",
    "make_backend",
    "read_results",
    "read_user_distributions",
    "run_sweep",
    "save_figures",
]


def __getattr__(name: str) -> object:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'recgym.experiments' has no attribute {name!r}")
    return getattr(importlib.import_module(f"recgym.experiments.{_EXPORTS[name]}"), name)


def __dir__() -> list[str]:
    return sorted(__all__)
