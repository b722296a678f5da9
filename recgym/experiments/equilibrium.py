"""One run of the paper's dynamics, summarised: ``recgym equilibrium``.

The report gives the equilibrium counts, the iterations, producer utilities
(sums over users and per-user means), user utilities, NashConv over the basis
vectors and over the whole strategy set (with whether each is certified, see
``agents.best_response``) and the producers' distribution over features
(``counts / n``) next to the users' (``U.sum(0) / U.sum()``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from agents import BestResponse, DynamicsResult, NashConvResult, best_response_dynamics
from recgym.datasets import load_users
from recgym.experiments.config import EquilibriumConfig
from recgym.game import EngagementGame, Utilities


@dataclass(frozen=True)
class EquilibriumReport:
    """Outcome of ``run_equilibrium``.

    Attributes
    ----------
    game : EngagementGame
    result : DynamicsResult
    utilities : Utilities
        At the final profile (sums over users).
    nash_conv : dict
        ``{"vertices": NashConvResult, "simplex": NashConvResult}`` at the final
        profile (``agents.BestResponse.nash_conv``).
    distribution : DataFrame
        Per feature: ``producers`` (``counts / n``) and ``users`` (``U.sum(0) / U.sum()``).
    """

    game: EngagementGame
    result: DynamicsResult
    utilities: Utilities
    nash_conv: dict[str, NashConvResult]
    distribution: pd.DataFrame

    @property
    def tv_distance(self) -> float:
        """Total-variation distance between the two distributions."""
        d = self.distribution
        return float(0.5 * np.abs(d["producers"] - d["users"]).sum())


def run_equilibrium(config: EquilibriumConfig) -> EquilibriumReport:
    """Load the users, run the dynamics and evaluate the final profile."""
    users = load_users(config.dataset, config.dim, config.embedding_seed, path=config.data_path)
    temperature = config.temperature if config.rule == "softmax" else None
    game = EngagementGame(users, config.n_producers, config.rule, temperature)
    result = best_response_dynamics(game, np.random.RandomState(config.seed),
                                    max_iter=config.max_iter)
    responder = BestResponse(game)
    nash_conv = {over: responder.nash_conv(result.profile, over=over)
                 for over in ("vertices", "simplex")}
    user_dist = game.users.sum(axis=0) / game.users.sum()
    distribution = pd.DataFrame({"producers": result.counts / game.n_producers,
                                 "users": user_dist}, index=pd.RangeIndex(game.dim,
                                                                          name="feature"))
    return EquilibriumReport(game, result, game.utilities(result.profile), nash_conv,
                             distribution)


def format_report(report: EquilibriumReport, config: EquilibriumConfig) -> str:
    """The report as text (every number computed from ``report``)."""
    game, result, util = report.game, report.result, report.utilities
    k = game.n_users
    status = (f"converged after {result.iterations} iterations" if result.converged else
              f"did not converge within {config.max_iter} iterations")
    producer = pd.DataFrame({"sum over users": [util.engagement.sum(), util.engagement.min(),
                                                util.engagement.max()]},
                            index=["total", "min", "max"])
    producer["per user"] = producer["sum over users"] / k
    lines = [repr(game),
             f"users: {config.dataset} (embedding seed {config.embedding_seed}); "
             f"dynamics seed {config.seed}",
             f"dynamics: {status}",
             f"counts per feature: {' '.join(str(int(c)) for c in result.counts)}",
             "", "producer utility:", producer.to_string(float_format=lambda x: f"{x:.6g}"),
             "", f"user utility: mean {util.user.mean():.6g}, min {util.user.min():.6g}, "
             f"max {util.user.max():.6g}", ""]
    for over, nc in report.nash_conv.items():
        lines.append(f"NashConv over {over}: {nc.value:.6g} (relative {nc.relative:.3g}, "
                     f"{'certified' if nc.certified else 'not certified: a lower bound'})")
    lines += ["", "distribution over features:",
              report.distribution.to_string(float_format=lambda x: f"{x:.4f}"),
              f"TV distance, producers vs users: {report.tv_distance:.4f}"]
    return "\n".join(lines)
