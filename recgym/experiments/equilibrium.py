"""One run of the paper's dynamics, reported: ``recgym equilibrium``.

The report gives the equilibrium counts, the iterations, the producers that left
(with the marginal payoff, which can be negative, even at outside option 0), producer
payoffs over the producers still in (sums over users and per-user means), user
utilities, NashConv over the vertices and over the whole strategy set (with whether
each is certified, see ``recgym.solvers.best_response``) and the producers'
distribution over features (``counts / n``) next to the users'
(``recgym.metrics.user_distribution``).
"""

from __future__ import annotations

import sys

from tqdm import tqdm

from recgym.datasets import load_users
from recgym.experiments.config import EquilibriumConfig
from recgym.game import EngagementGame
from recgym.solvers import (
    DynamicsResult,
    EquilibriumSummary,
    ExactSolver,
    summarize_equilibrium,
)

#: How each NashConv line names its search set.
SET_NAMES = {"vertices": "vertices", "strategy_set": "strategy set"}


def run_equilibrium(config: EquilibriumConfig) -> EquilibriumSummary:
    """Load the users, run the dynamics and evaluate the end point."""
    users = load_users(config.dataset, config.dim, config.embedding_seed, path=config.data_path)
    game = EngagementGame(users, config.n_producers, config.make_rule(), payoff=config.payoff,
                          **config.traits())
    # a bar on stderr once the run takes over a second (large data, a cost of effort)
    with tqdm(desc="dynamics", unit="event", delay=1.0, file=sys.stderr,
              dynamic_ncols=True) as bar:
        return summarize_equilibrium(game, config.seed, config.max_iter,
                                     behavior=config.producer_behavior,
                                     callback=lambda event, directions: bar.update())


def format_report(summary: EquilibriumSummary, config: EquilibriumConfig) -> str:
    """The report as text (every number computed from ``summary``)."""
    game, result, util = summary.game, summary.dynamics, summary.utilities
    weight = util.total_weight
    payoff = util.payoff[util.active]
    status = (f"converged after {result.iterations} iterations" if result.converged else
              f"did not converge within {config.max_iter} iterations")
    lines = [repr(game),
             f"users: {config.dataset} (embedding seed {config.embedding_seed}); "
             f"dynamics seed {config.seed}",
             f"dynamics: {status}",
             *_producers(summary),
             *_exits(result),
             f"counts per feature: {' '.join(str(int(c)) for c in result.counts)}",
             "", f"producer {game.payoff.NAME}"
             f"{' minus the cost of effort' if game.has_cost else ''}:",
             f"{'':8}{'sum over users':>16}{'per user':>12}"]
    for name, value in (("total", payoff.sum()), ("min", payoff.min()), ("max", payoff.max())):
        lines.append(f"{name:8}{value:16.6g}{value / weight:12.6g}")
    lines += ["", f"user utility: mean {summary.user_welfare:.6g}, min {util.user.min():.6g}, "
              f"max {util.user.max():.6g}", ""]
    for over, nc in summary.nash_conv.items():
        lines.append(f"NashConv over {SET_NAMES[over]}: {nc.value:.6g} (relative "
                     f"{nc.relative:.3g}, "
                     f"{'certified' if nc.certified else 'not certified: a lower bound'})")
    lines += ["", "distribution over features:", f"{'feature':>8}{'producers':>11}{'users':>9}"]
    for feature, (ours, theirs) in enumerate(zip(summary.producer_distribution,
                                                 summary.user_distribution, strict=True)):
        lines.append(f"{feature:8d}{ours:11.4f}{theirs:9.4f}")
    lines.append(f"TV distance, producers vs users: {summary.tv_distance:.4f}")
    return "\n".join(lines)


def _producers(summary: EquilibriumSummary) -> list[str]:
    """Lines on the producers' skill, effort and behaviour, where they are not the paper's."""
    game, result = summary.game, summary.dynamics
    lines = []
    if game.traits.skill is not None:
        lines.append("skill per producer: " + " ".join(f"{q:.3g}" for q in game.skill))
    if game.has_cost:
        effort = summary.profile.sum(axis=1)
        lines.append(f"effort sum(s) per producer (cost {' '.join(f'{c:.3g}' for c in game.cost)},"
                     f" exponent {game.cost_exponent:g}): "
                     + " ".join(f"{e:.4f}" for e in effort))
    if result.max_average_regret is not None:
        last = ExactSolver(game).nash_conv(result.profile)
        lines += [f"hedge: largest average regret {result.max_average_regret:.3g} per user "
                  "per round; the NashConv below is of the time-averaged play (a mixture "
                  "of vertices, which top-k serving can rank low)",
                  f"hedge: the last round's play has NashConv {last.value:.6g} (relative "
                  f"{last.relative:.3g}, "
                  f"{'certified' if last.certified else 'not certified: a lower bound'})"]
    return lines


def _exits(result: DynamicsResult) -> list[str]:
    """A line naming the producers that left, if any (the counts are of the others)."""
    if not result.exits:
        return []
    left = ", ".join(f"producer {e.producer} (iteration {e.iteration})" for e in result.exits)
    return [f"producers that left (below their outside option): {left}; "
            f"{int(result.active.sum())} of {len(result.active)} remain"]
