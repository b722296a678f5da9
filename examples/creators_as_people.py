"""Creators as people: skill, cost of effort and bounded rationality (ecosystem spec E10).

Three experiments, on synthetic skewed users (the paper's "synthetic skewed" data: the
features' popularity differs, so "the most demanded feature" means something) and on
MovieLens-100k. Every number is computed here.

1. **Skill.** ``n`` producers with skills ``q`` spread evenly over ``[q_min, 1]`` against
   the same producers all at skill 1 and all at the spread's mean skill (the same seeds,
   so the same starts and visiting orders): which feature each producer occupies at the
   end of the best-response dynamics (the demand ``U.sum(0) / U.sum()`` of its feature
   and how many producers share it, for the more skilled and the less skilled half), the
   rank correlation between a producer's skill and the demand of its feature (with equal
   skills the same labels are a placebo), the skilled half's share of the producers'
   payoff, user welfare and NashConv, under softmax (T = 0.1 and T = 1) and linear
   serving; mean over ``--seeds`` seeds.
2. **Cost of effort** over a grid of ``kappa`` and ``beta``: ``kappa`` is a multiple of
   ``base``, one producer's mean payoff per user at the costless equilibrium (computed,
   printed), so ``kappa = base`` makes a full unit of effort cost what an average producer
   earned without cost. Mean effort ``sum(s)``, producers posting (effort > 0), features
   used, the largest feature's share of the posters, user welfare, the producers' surplus
   (payoff net of cost) and NashConv over the strategy set (certified or not).
3. **Bounded rationality** on a smaller game (``--n-small`` producers, so that the best
   vertex profile can be found by brute force): the exact equilibrium (best response)
   against quantal producers (a few rationalities; the end profile) and Hedge (a few
   rounds counts; NashConv of the time-averaged profile, the largest average regret)
   under softmax, linear and top-K serving; then the welfare of Hedge play under top-K
   for several ``K`` and temperatures, as a ratio to the best vertex profile, next to what
   Yao et al. (ICML 2023) prove for top-K serving and, for ``K = 1`` (a valid utility game),
   the floor ``1/2 - sum of regrets / (2 best)`` that no-regret play must reach.

The Hedge play of every round (needed for the welfare of the empirical play, which is what
a no-regret bound speaks about) is recgym's own record of the run
(``DynamicsResult.played``, ``regret_by_round``).

    python examples/creators_as_people.py --data PATH   # synthetic and MovieLens-100k (~3 min)
    python examples/creators_as_people.py --quick       # small synthetic game (~15 s)

``--data`` is the MovieLens-100k folder or ``u.data`` file (default ``$RECGYM_DATA``; without
either, or without the file, the MovieLens part is skipped with a message). ``--out DIR``
writes every table as CSV and the figures (``cost.png``, ``hedge_regret.png``,
``skill.png``).
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

import recgym
from recgym import metrics
from recgym.solvers import ExactSolver, best_response_dynamics, summarize_equilibrium

#: (label, rule spec) of the skill and cost experiments.
SKILL_RULES = (("softmax T=0.1", "softmax:temperature=0.1"),
               ("softmax T=1", "softmax:temperature=1"),
               ("linear", "linear"))
COST_RULES = (("softmax T=0.1", "softmax:temperature=0.1"), ("linear", "linear"))
#: The behaviour comparison's rules.
BEHAVIOR_RULES = (("softmax T=0.1", "softmax:temperature=0.1"), ("linear", "linear"),
                  ("top-2 T=0.1", "topk:k=2,temperature=0.1"))


@dataclass(frozen=True)
class Setting:
    """One dataset's run settings."""

    name: str
    users: np.ndarray
    n_producers: int
    n_small: int
    small_users: np.ndarray  # the users of the bounded-rationality game


def markdown(table: pd.DataFrame) -> str:
    """A GitHub markdown table of strings (no dependency on tabulate)."""
    lines = ["| " + " | ".join(map(str, table.columns)) + " |",
             "|" + "|".join(":--" if table[c].dtype == object else "--:"
                            for c in table.columns) + "|"]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def show(table: pd.DataFrame, args: argparse.Namespace, digits: dict[str, int]) -> None:
    """Print ``table`` with the given columns rounded."""
    shown = table.copy()
    for column, d in digits.items():
        if column in shown:
            shown[column] = shown[column].map(
                lambda v, d=d: v if isinstance(v, str) else f"{v:.{d}f}")
    for column in shown.columns:
        if shown[column].dtype == bool:
            shown[column] = shown[column].map({True: "yes", False: "no"})
    print(markdown(shown) if args.markdown else shown.to_string(index=False))


def lapse(since: float) -> float:
    """Print the seconds since ``since``; return now."""
    now = time.perf_counter()
    print(f"({now - since:.1f} s)")
    return now


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties; nan when one side is constant)."""
    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


# ---------------------------------------------------------------------- 1. skill
def skill_experiment(setting: Setting, q_min: float, seeds: list[int], max_iter: int
                     ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, str]]:
    """One row per rule and skill profile (means over seeds), the per-producer records and
    one occupancy line per rule and skill profile (first seed)."""
    n = setting.n_producers
    spread = np.linspace(1.0, q_min, n)  # producer 0 the most skilled
    skilled = spread >= np.median(spread)
    demand = metrics.user_distribution(setting.users)
    rows, records, occupancy = [], [], {}
    for label, spec in SKILL_RULES:
        profiles = (("all 1", 1.0), (f"all {spread.mean():.2g} (the mean)", spread.mean()),
                    (f"spread {q_min:g}-1", spread))
        for skills_label, skill in profiles:
            per_seed = []
            for seed in seeds:
                game = recgym.EngagementGame(setting.users, n, spec, skill=skill)
                summary = summarize_equilibrium(game, seed, max_iter)
                dyn = summary.dynamics
                feature_demand = demand[dyn.directions]
                crowd = dyn.counts[dyn.directions]
                payoff = summary.utilities.payoff
                per_seed.append({
                    "converged": dyn.converged,
                    "features used": summary.features_used,
                    "demand, skilled half": feature_demand[skilled].mean(),
                    "demand, less skilled": feature_demand[~skilled].mean(),
                    "sharing, skilled half": crowd[skilled].mean(),
                    "sharing, less skilled": crowd[~skilled].mean(),
                    "payoff share, skilled half": payoff[skilled].sum() / payoff.sum(),
                    "user welfare": summary.user_welfare,
                    "NashConv/user": summary.nash_conv_per_user,
                    "certified": summary.nash_conv_certified})
                for i in range(n):
                    records.append({"rule": label, "skills": skills_label, "seed": seed,
                                    "producer": i, "skill label": spread[i],
                                    "skill": spread[i] if skill is spread else float(skill),
                                    "feature": int(dyn.directions[i]),
                                    "feature demand": feature_demand[i],
                                    "producers on feature": int(crowd[i]),
                                    "payoff per user": payoff[i] / summary.utilities.total_weight})
                if seed == seeds[0]:
                    occupancy[f"{label}, {skills_label}"] = occupancy_line(
                        dyn.directions, spread if skill is spread else np.full(n, skill),
                        demand)
            frame = pd.DataFrame(per_seed)
            seed_records = pd.DataFrame(records[-n * len(seeds):])
            row = {"rule": label, "skills": skills_label,
                   "converged": f"{int(frame['converged'].sum())}/{len(seeds)}"}
            row.update(frame.drop(columns=["converged", "certified"]).mean().to_dict())
            row["skill-demand corr."] = spearman(seed_records["skill label"].to_numpy(),
                                                 seed_records["feature demand"].to_numpy())
            row["certified"] = f"{int(frame['certified'].sum())}/{len(seeds)}"
            rows.append(row)
    return pd.DataFrame(rows), pd.DataFrame(records), occupancy


def occupancy_line(directions: np.ndarray, skill: np.ndarray, demand: np.ndarray) -> str:
    """``f4 (demand 0.42): q 1.00 0.91 | f3 (...)``, features by demand, most demanded first."""
    parts = []
    for f in np.argsort(-demand, kind="stable"):
        on = np.flatnonzero(directions == f)
        if on.size:
            parts.append(f"f{f} ({demand[f]:.3f}): q " + " ".join(f"{skill[i]:.2f}" for i in on))
    return " | ".join(parts)


# ---------------------------------------------------------------------- 2. cost
def cost_experiment(setting: Setting, multiples: list[float], betas: list[float], seed: int,
                    max_iter: int) -> tuple[pd.DataFrame, dict[str, float]]:
    """One row per rule, kappa and beta (``kappa = 0`` once per rule); ``base`` per rule."""
    n = setting.n_producers
    rows, bases = [], {}
    for label, spec in COST_RULES:
        free = summarize_equilibrium(recgym.EngagementGame(setting.users, n, spec), seed,
                                     max_iter)
        base = float(free.producer_payoffs_per_user.mean())
        bases[label] = base
        grid = [(0.0, 1.0)] + [(m, b) for m in multiples if m > 0 for b in betas]
        for multiple, beta in grid:
            if multiple == 0:
                summary = free
            else:
                game = recgym.EngagementGame(setting.users, n, spec, cost=multiple * base,
                                             cost_exponent=beta)
                summary = summarize_equilibrium(game, seed, max_iter)
            dyn, u = summary.dynamics, summary.utilities
            effort = dyn.profile.sum(axis=1)  # (levels say 1 for the zero strategy)
            posting = int(np.count_nonzero(effort > 0))
            rows.append({"rule": label, "kappa/base": multiple,
                         "beta": "-" if multiple == 0 else f"{beta:g}",
                         "kappa": multiple * base,
                         "mean effort": effort.mean(), "posting": posting,
                         "features used": int(np.count_nonzero(dyn.counts)),
                         "largest feature share": dyn.counts.max() / max(posting, 1),
                         "user welfare": summary.user_welfare,
                         "producer surplus": u.payoff.sum() / u.total_weight,
                         "NashConv/user": summary.nash_conv_per_user,
                         "certified": summary.nash_conv_certified,
                         "converged": dyn.converged})
    return pd.DataFrame(rows), bases


# ---------------------------------------------------------------------- 3. behaviours
def hedge_play(game: recgym.EngagementGame, rate: float, seed: int, rounds: int
               ) -> dict[str, np.ndarray]:
    """``best_response_dynamics(game, seed, rounds, behavior='hedge:rate=h')`` and what its
    result records per round: the vertices played ``(rounds, n)``, the user welfare of
    each round's profile, the largest average regret after each round, the time-averaged
    profile and the producers' average regrets summed."""
    result = best_response_dynamics(game, seed, rounds, behavior=f"hedge:rate={rate:g}")
    profiles, index = np.unique(result.played, axis=0, return_inverse=True)
    welfare = np.array([vertex_welfare(game, d)[0] for d in profiles])[index.ravel()]
    return {"welfare": welfare, "regret": result.regret_by_round, "directions": result.played,
            "average": result.average_profile,
            "regret_sum": float(result.average_regret.sum())}


def hedge_average(game: recgym.EngagementGame, rate: float, seed: int, rounds: int
                  ) -> np.ndarray:
    """The time-averaged profile after ``rounds`` rounds (a shorter run plays the same first
    rounds: the streams are drawn round by round)."""
    return best_response_dynamics(game, seed, rounds,
                                  behavior=f"hedge:rate={rate:g}").average_profile


def vertex_welfare(game: recgym.EngagementGame, directions: np.ndarray) -> tuple[float, float]:
    """User welfare (mean expected rating of what is served) and, for top-K, the random
    utility welfare ``T log sum_{top K} exp(r / T)`` (mean over users) of a vertex profile."""
    profile = game.vertex_profile(directions)
    welfare = game.utilities(profile).user_total / game.total_weight
    rule = game.rule
    if getattr(rule, "NAME", "") != "topk":
        return welfare, float("nan")
    ratings = game.ratings(profile)
    top = -np.sort(-ratings, axis=1)[:, :rule.k]
    temperature = rule.temperature
    peak = top.max(axis=1, keepdims=True)
    rum = peak[:, 0] + temperature * np.log(np.exp((top - peak) / temperature).sum(axis=1))
    return welfare, float(rum.mean())


def best_vertex_welfare(game: recgym.EngagementGame) -> tuple[float, float]:
    """The largest user welfare and random utility welfare over all vertex profiles (the
    producers are identical, so over multisets of features)."""
    best, best_rum = -np.inf, -np.inf
    for combo in itertools.combinations_with_replacement(range(game.dim), game.n_producers):
        welfare, rum = vertex_welfare(game, np.array(combo))
        best, best_rum = max(best, welfare), max(best_rum, rum)
    return best, best_rum


def behavior_experiment(setting: Setting, rationalities: list[float], rounds: list[int],
                        rate: float, seeds: list[int], max_iter: int
                        ) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """NashConv and welfare of best response, quantal and Hedge play per rule (means over
    seeds), and the mean regret curve of Hedge per rule."""
    rows, curves = [], {}
    n = setting.n_small
    for label, spec in BEHAVIOR_RULES:
        game = recgym.EngagementGame(setting.small_users, n, spec)
        solver = ExactSolver(game)
        found: dict[str, list[dict]] = {}

        def add(behavior: str, record: dict, found: dict = found) -> None:
            found.setdefault(behavior, []).append(record)

        regret_curves = []
        for seed in seeds:
            exact = summarize_equilibrium(game, seed, max_iter, solver=solver)
            add("best response (exact)", {
                "NashConv/user": exact.nash_conv_per_user,
                "certified": exact.nash_conv_certified,
                "user welfare": exact.user_welfare, "converged": exact.dynamics.converged})
            for rationality in rationalities:
                quantal = summarize_equilibrium(game, seed, max_iter, solver=solver,
                                                behavior=f"quantal:rationality={rationality:g}")
                add(f"quantal l={rationality:g}", {
                    "NashConv/user": quantal.nash_conv_per_user,
                    "certified": quantal.nash_conv_certified,
                    "user welfare": quantal.user_welfare,
                    "converged": quantal.dynamics.converged})
            play = hedge_play(game, rate, seed, max(rounds))
            regret_curves.append(play["regret"])
            for count in rounds:
                average = play["average"] if count == max(rounds) else \
                    hedge_average(game, rate, seed, count)
                nash_conv = solver.nash_conv(average)
                last = solver.nash_conv(game.vertex_profile(play["directions"][count - 1]))
                add(f"hedge h={rate:g}, {count} rounds", {
                    "NashConv/user": nash_conv.value / game.total_weight,
                    "NashConv/user, last play": last.value / game.total_weight,
                    "certified": nash_conv.certified,
                    "user welfare": game.utilities(average).user_total / game.total_weight,
                    "welfare of play": play["welfare"][:count].mean(),
                    "max avg regret": play["regret"][count - 1]})
        curves[label] = np.mean(regret_curves, axis=0)
        for behavior, records in found.items():
            frame = pd.DataFrame(records)
            row = {"rule": label, "producers": behavior}
            for column in ("NashConv/user", "NashConv/user, last play", "user welfare",
                           "welfare of play", "max avg regret"):
                row[column] = frame[column].mean() if column in frame else float("nan")
            row["certified"] = f"{int(frame['certified'].sum())}/{len(frame)}"
            row["converged"] = (f"{int(frame['converged'].sum())}/{len(frame)}"
                                if "converged" in frame else "-")
            rows.append(row)
    return pd.DataFrame(rows), curves


def topk_experiment(setting: Setting, ks: list[int], temperatures: list[float], rate: float,
                    rounds: int, seeds: list[int], max_iter: int) -> pd.DataFrame:
    """Top-K serving: the welfare of Hedge play and of the exact equilibrium as a ratio to
    the best vertex profile (brute force), for each K and temperature."""
    rows = []
    n = setting.n_small
    for k in ks:
        for temperature in (temperatures if k > 1 else temperatures[:1]):
            spec = f"topk:k={k},temperature={temperature:g}"
            game = recgym.EngagementGame(setting.small_users, n, spec)
            best, best_rum = best_vertex_welfare(game)
            hedge, hedge_rum, exact, exact_rum, converged, floor = [], [], [], [], 0, []
            for seed in seeds:
                result = best_response_dynamics(game, seed, max_iter)
                converged += result.converged
                welfare, rum = vertex_welfare(game, result.directions)
                exact.append(welfare / best)
                exact_rum.append(rum / best_rum)
                play = hedge_play(game, rate, seed, rounds)
                hedge.append(play["welfare"].mean() / best)
                # K = 1: a valid utility game, so no-regret play keeps 1/2 - sum regret / 2
                floor.append(0.5 - play["regret_sum"] / (2 * best))
                played, times = np.unique(play["directions"], axis=0, return_counts=True)
                rum_of = np.array([vertex_welfare(game, d)[1] for d in played])
                hedge_rum.append(float(rum_of @ times) / rounds / best_rum)
            rows.append({"K": k, "T": "-" if k == 1 else f"{temperature:g}",
                         "best welfare": best, "BR converged": f"{converged}/{len(seeds)}",
                         "exact eq. / best": np.mean(exact),
                         "hedge play / best": np.mean(hedge),
                         "hedge play / best (worst seed)": np.min(hedge),
                         "guarantee": f"{min(floor):.4f}" if k == 1 else "-",
                         "RUM best": best_rum, "RUM: exact / best": np.mean(exact_rum),
                         "RUM: hedge / best": np.mean(hedge_rum)})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------- figures
def figures(out: Path, results: dict[str, dict]) -> None:
    """``cost.png`` (mean effort and user welfare against kappa), ``hedge_regret.png`` (the
    largest average regret against the rounds) and ``skill.png`` (skill against the demand
    of the feature taken), one panel row per dataset."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, axes = plt.subplots(len(names), 2, figsize=(10, 3.6 * len(names)), squeeze=False)
    for row, name in enumerate(names):
        cost = results[name]["cost"]
        for (label, _), marker in zip(COST_RULES, "os", strict=True):
            table = cost[cost["rule"] == label]
            free = table[table["kappa/base"] == 0]
            for beta in sorted(set(table["beta"]) - {"-"}):
                part = pd.concat([free, table[table["beta"] == beta]])
                for col, column in enumerate(("mean effort", "user welfare")):
                    axes[row, col].plot(part["kappa/base"], part[column], marker=marker,
                                        label=f"{label}, beta={beta}")
        for col, column in enumerate(("mean effort", "user welfare")):
            axes[row, col].set(xlabel="kappa / base", ylabel=column, title=name)
        axes[row, 0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "cost.png", dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.6), squeeze=False)
    for col, name in enumerate(names):
        for label, curve in results[name]["regret"].items():
            axes[0, col].loglog(np.arange(1, curve.size + 1), curve, label=label)
        rounds = np.arange(1, curve.size + 1)
        axes[0, col].loglog(rounds, curve[0] / np.sqrt(rounds), "k:", label="1/sqrt(t)")
        axes[0, col].set(xlabel="rounds", ylabel="largest average regret (per user)",
                         title=name)
        axes[0, col].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "hedge_regret.png", dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.6), squeeze=False)
    for col, name in enumerate(names):
        records = results[name]["skill records"]
        spread = records[records["skills"] != "all 1"]
        for label, _ in SKILL_RULES:
            part = spread[spread["rule"] == label].groupby("skill")["feature demand"].mean()
            axes[0, col].plot(part.index, part.to_numpy(), marker="o", label=label)
        axes[0, col].set(xlabel="skill q", ylabel="demand of the feature taken (mean over seeds)",
                         title=name)
        axes[0, col].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "skill.png", dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------- driver
def settings(args: argparse.Namespace) -> list[Setting]:
    """Small synthetic users for ``--quick``, else synthetic skewed users and
    MovieLens-100k (skipped with a message when its data is absent)."""
    if args.quick:
        users = recgym.users.synthetic_skewed(400, 4, seed=args.users_seed)
        return [Setting("synthetic skewed (quick)", users, 6, 4, users)]
    chosen = []
    if "synthetic" in args.datasets:
        users = recgym.users.synthetic_skewed(args.n_users, 5, seed=args.users_seed)
        chosen.append(Setting("synthetic skewed", users, args.n_producers, args.n_small,
                              users[:args.n_users_small]))
    if "movielens" in args.datasets:
        path = args.data or os.environ.get("RECGYM_DATA")
        if path is None:
            print("MovieLens-100k skipped: no data (give --data PATH or set RECGYM_DATA; "
                  "`recgym download movielens-100k` fetches it)")
        else:
            try:
                users = recgym.datasets.load_users("movielens-100k", 10, args.users_seed, path,
                                                   progress=False)
            except FileNotFoundError as error:
                print(f"MovieLens-100k skipped: {str(error).split(':')[0]} under {path}")
            else:
                chosen.append(Setting("MovieLens-100k", users, args.n_producers,
                                      args.n_small, users))
    return chosen


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="MovieLens-100k folder or u.data (default $RECGYM_DATA)")
    parser.add_argument("--datasets", nargs="+", choices=("synthetic", "movielens"),
                        default=["synthetic", "movielens"], help="which datasets to run")
    parser.add_argument("--n-users", type=int, default=2_000,
                        help="K, synthetic skewed users (d = 5)")
    parser.add_argument("--n-users-small", type=int, default=1_000,
                        help="synthetic users of the bounded-rationality game (the first ones)")
    parser.add_argument("--n-producers", type=int, default=10,
                        help="n, producers (skill and cost)")
    parser.add_argument("--n-small", type=int, default=6,
                        help="producers of the bounded-rationality game (brute force)")
    parser.add_argument("--q-min", type=float, default=0.2,
                        help="skills spread evenly over [q_min, 1]")
    parser.add_argument("--seeds", type=int, default=5,
                        help="seeds of the skill experiment (0, 1, ...)")
    parser.add_argument("--behavior-seeds", type=int, default=3,
                        help="seeds of the bounded-rationality experiment")
    parser.add_argument("--kappa", type=float, nargs="+", default=[0.5, 1.0, 2.0, 4.0],
                        help="cost kappa as multiples of base (0 is always run)")
    parser.add_argument("--beta", type=float, nargs="+", default=[1.0, 2.0, 3.0],
                        help="cost exponents beta")
    parser.add_argument("--rationality", type=float, nargs="+", default=[5.0, 20.0, 100.0],
                        help="rationalities l of quantal producers")
    parser.add_argument("--rounds", type=int, nargs="+", default=[30, 300, 3000],
                        help="rounds counts of Hedge")
    parser.add_argument("--rate", type=float, default=30.0,
                        help="Hedge's rate h (on payoffs per user, which are about 1/n)")
    parser.add_argument("--topk-rounds", type=int, default=1000,
                        help="rounds of Hedge in the top-K welfare comparison")
    parser.add_argument("--topk", type=int, nargs="+", default=[1, 2, 3],
                        help="K of the top-K welfare comparison")
    parser.add_argument("--temperature", type=float, nargs="+", default=[0.1, 1.0],
                        help="temperatures of the top-K welfare comparison")
    parser.add_argument("--max-iter", type=int, default=500,
                        help="iterations of the best-response and quantal dynamics")
    parser.add_argument("--users-seed", type=int, default=17,
                        help="synthetic users' seed and MovieLens embedding seed")
    parser.add_argument("--out", type=Path, help="folder for the tables (CSV) and figures")
    parser.add_argument("--markdown", action="store_true", help="print markdown tables")
    parser.add_argument("--quick", action="store_true",
                        help="400 synthetic users, d=4, n=6 (4 in the small game), small "
                             "grids (for tests)")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.behavior_seeds = 2, 2
        args.kappa, args.beta = [1.0, 4.0], [1.0, 2.0]
        args.rationality, args.rounds = [5.0, 100.0], [10, 100, 1000]
        args.topk, args.temperature, args.topk_rounds = [1, 2], [0.1, 1.0], 300
        args.max_iter = 200
    if not 0 < args.q_min <= 1:
        parser.error(f"--q-min must be in (0, 1], got {args.q_min}")
    if min(args.seeds, args.behavior_seeds, min(args.rounds), args.n_small,
           args.topk_rounds) < 1:
        parser.error("--seeds, --behavior-seeds, --rounds, --topk-rounds and --n-small must "
                     "be at least 1")
    if min(args.kappa) < 0 or min(args.beta) < 1:
        parser.error("--kappa must be >= 0 and --beta >= 1")
    args.rounds = sorted(set(args.rounds))
    return args


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    digits = {c: 4 for c in ("user welfare", "producer surplus", "welfare of play",
                             "demand, skilled half", "demand, less skilled", "best welfare",
                             "RUM best")}
    digits.update({"kappa": 5, "mean effort": 3, "largest feature share": 2,
                   "sharing, skilled half": 2, "sharing, less skilled": 2,
                   "payoff share, skilled half": 3, "skill-demand corr.": 2,
                   "features used": 1, "exact eq. / best": 4, "hedge play / best": 4,
                   "hedge play / best (worst seed)": 4, "RUM: exact / best": 4,
                   "RUM: hedge / best": 4})
    for setting in settings(args):
        users = setting.users
        slug = setting.name.split(" (")[0].lower().replace(" ", "-")
        demand = metrics.user_distribution(users)
        print(f"\n=== {setting.name}: K={users.shape[0]} users, d={users.shape[1]}, demand per "
              f"feature {np.round(demand, 3).tolist()}")
        lap = time.perf_counter()

        seeds = list(range(args.seeds))
        skill, records, occupancy = skill_experiment(setting, args.q_min, seeds, args.max_iter)
        print(f"\n[1] skill: n={setting.n_producers} producers, skills spread evenly over "
              f"[{args.q_min:g}, 1] (producer 0 the most skilled) or all equal (1, or the "
              f"spread's mean); mean over seeds "
              f"{seeds[0]}-{seeds[-1]}. demand: the users' demand of the feature a producer "
              f"ends on; sharing: producers on that feature; skill-demand corr.: Spearman, "
              f"pooled over seeds (placebo labels where all skills are equal); skilled half: "
              f"producers 0..n/2-1, the most skilled under the spread; NashConv over the strategy "
              f"set per user")
        show(skill, args, {**digits, "NashConv/user": 6})
        lap = lapse(lap)
        print(f"who occupies which feature (seed {seeds[0]}; features by demand, the skills of "
              f"the producers on each):")
        for key, line in occupancy.items():
            print(f"  {key}: {line}")

        cost, bases = cost_experiment(setting, args.kappa, args.beta, 0, args.max_iter)
        print(f"\n[2] cost of effort: n={setting.n_producers}, seed 0; kappa = multiple x base, "
              f"base = one producer's mean payoff per user at the costless equilibrium ("
              + ", ".join(f"{k}: {v:.5f}" for k, v in bases.items())
              + "); effort = sum(s); producer surplus = payoffs net of cost, per user")
        show(cost, args, {**digits, "NashConv/user": 8})
        lap = lapse(lap)

        behaviors, curves = behavior_experiment(
            setting, args.rationality, args.rounds, args.rate,
            list(range(args.behavior_seeds)), args.max_iter)
        print(f"\n[3] bounded rationality: n={setting.n_small} producers, "
              f"K={setting.small_users.shape[0]} users, mean over seeds "
              f"0-{args.behavior_seeds - 1}. NashConv (over the strategy set, per user) and "
              f"user welfare of the end profile (quantal) or of the time-averaged profile "
              f"(hedge); last play: the vertices hedge played in the last round; welfare of "
              f"play: "
              f"hedge's user welfare averaged over the rounds played (the empirical play "
              f"distribution); max avg regret: per user and round")
        show(behaviors, args, {**digits, "NashConv/user": 6, "NashConv/user, last play": 6,
                               "max avg regret": 6})
        lap = lapse(lap)

        topk = topk_experiment(setting, args.topk, args.temperature, args.rate,
                               args.topk_rounds, list(range(args.behavior_seeds)),
                               args.max_iter)
        print(f"\n[3b] top-K serving vs the best vertex profile (brute force over all "
              f"{setting.n_small}-producer vertex profiles): user welfare of the exact "
              f"equilibrium (the end of the best-response dynamics, converged or not) and of "
              f"Hedge play (h={args.rate:g}, {args.topk_rounds} rounds, mean over the rounds) "
              f"over the best, mean over seeds 0-{args.behavior_seeds - 1}; RUM: the same with "
              f"the random-utility welfare T log sum_topK exp(r/T) (Yao et al.'s); guarantee "
              f"(K=1 only, worst seed): 1/2 - (sum of the producers' average regrets) / (2 "
              f"best), what no-regret play must reach in a valid utility game (Vetta 2002; "
              f"Roughgarden 2015), where for K=1 the best vertex profile is the optimum")
        show(topk, args, digits)
        lap = lapse(lap)

        results[setting.name] = {"cost": cost, "regret": curves, "skill records": records}
        if args.out is not None:
            skill.to_csv(args.out / f"{slug}-skill.csv", index=False)
            records.to_csv(args.out / f"{slug}-skill-producers.csv", index=False)
            cost.to_csv(args.out / f"{slug}-cost.csv", index=False)
            behaviors.to_csv(args.out / f"{slug}-behaviors.csv", index=False)
            topk.to_csv(args.out / f"{slug}-topk.csv", index=False)
            pd.DataFrame(curves).assign(round=lambda f: f.index + 1).to_csv(
                args.out / f"{slug}-hedge-regret.csv", index=False)
    if args.out is not None and results:
        figures(args.out, results)
        print(f"\nfigures: {args.out / 'cost.png'}, {args.out / 'hedge_regret.png'}, "
              f"{args.out / 'skill.png'}")
    print(f"\n({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
