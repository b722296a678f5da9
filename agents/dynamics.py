"""Temporary alias of ``recgym.solvers.dynamics`` while the sweep still imports it here."""

from recgym.solvers.dynamics import *  # noqa: F403
from recgym.solvers.dynamics import best_response_dynamics  # noqa: F401
