"""Exact solvers of the engagement game.

==================  ===========================================================
module              job
==================  ===========================================================
``vertex_table``    one producer's payoff at every vertex (the dynamics' table)
``continuous``      projected gradient ascent over the strategy set, with bounded
                    steps; the Frank-Wolfe gap of concave payoffs
``best_response``   ``ExactSolver``: certified best responses and NashConv
``dynamics``        the paper's best-response dynamics, with creators who leave
``summary``         ``summarize_equilibrium``: one run of the dynamics, evaluated
==================  ===========================================================

The acting layer ``agents.BestResponse`` wraps these for games and environments.
"""

from recgym.solvers.best_response import (
    SEARCH_SETS,
    BestResponseResult,
    ExactSolver,
    NashConvResult,
)
from recgym.solvers.dynamics import (
    DynamicsResult,
    DynamicsState,
    Event,
    EventCallback,
    Exit,
    Move,
    QuantalState,
    RayState,
    as_random_state,
    best_response_dynamics,
    start_directions,
)
from recgym.solvers.rays import RayResult, ray_search
from recgym.solvers.summary import EquilibriumSummary, summarize_equilibrium
from recgym.solvers.vertex_table import ServedVertexTable, VertexTable

__all__ = [
    "SEARCH_SETS",
    "BestResponseResult",
    "DynamicsResult",
    "DynamicsState",
    "EquilibriumSummary",
    "Event",
    "EventCallback",
    "ExactSolver",
    "Exit",
    "Move",
    "NashConvResult",
    "QuantalState",
    "RayResult",
    "RayState",
    "ServedVertexTable",
    "VertexTable",
    "as_random_state",
    "best_response_dynamics",
    "ray_search",
    "start_directions",
    "summarize_equilibrium",
]
