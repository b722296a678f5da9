r"""The platform as mechanism designer: compare serving rules and reward mechanisms.

A **candidate** is a serving rule with its parameters (the exposure floor is one of
them) and a producer payoff (``recgym.payoffs``). For each candidate the paper's
best-response dynamics run from the random streams ``runs`` (``RandomState(run)``,
as ``recgym reproduce`` does), and every requested social choice function
(``recgym.welfare``) is computed at each end point, with NashConv over the whole
strategy set (certified or flagged).

* ``evaluate``: one row per (candidate, run), a tidy ``pandas.DataFrame``;
* ``summarize``: per candidate, each SCF at the **worst** and **best** distinct
  converged equilibrium (distinct: different counts per feature, producers being
  identical), its mean over converged runs (frequency-weighted), the number of
  distinct equilibria and of runs that did not converge (reported, never averaged);
* ``optimize``: a rule parameter chosen on a grid refined around the best grid
  point, maximising the worst-equilibrium SCF (robust) by default;
* ``pareto``: the frontier of two SCFs over all equilibria;
* ``price_of_anarchy``: the best profile found by a central planner controlling
  every producer (``OPT``, best found, not proven optimal) against the worst and
  best equilibria, and for ``user_welfare`` against the upper bound of
  ``recgym.welfare.user_welfare_upper_bound``.

With outside options (``outside_option``), producers whose best payoff per user
falls below theirs leave during the dynamics; the rows then report the producers
retained, and SCFs are over the users and the producers that stayed.

**The long run** (E7, ``long_run``): with ``epochs >= 1`` or users who change or
leave (``user_dynamics``, ``user_outside_option``, ``user_patience``), each run is
simulated by the epoch engine (``recgym.coevolve.Coevolution``, the engine of
``coevolve``) from ``seed=run``: each epoch the producers make up to
``moves_per_epoch`` moves of the paper's dynamics (default ``max_iter``: they settle
before the users move), then the users are served, may leave and update. Each SCF's
column is then its value **averaged over the epochs** (the column that ``summarize``
and the rankings use), ``<scf>@last`` its value at the last epoch, ``retention`` the
share of the starting users active during the last epoch and ``homogenization`` the
active users' homogenization then. With ``static`` users who never leave the
producers play exactly the paper's dynamics (the same ``RandomState(run)``, one
permutation per iteration), so the last epoch is today's end point once
``epochs * moves_per_epoch`` covers its iterations. ``converged`` says the last
epoch's response ended at an equilibrium of the users of that epoch, and NashConv
is computed at the final profile in that game (per user of the starting
population); ``optimize`` and ``price_of_anarchy`` are today's mode only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recgym import welfare
from recgym._validation import check_choice, check_float, check_int, check_ints
from recgym.behaviors import make_behavior
from recgym.coevolve import Coevolution
from recgym.game import EngagementGame
from recgym.payoffs import Payoff, make_payoff
from recgym.population import check_population_args
from recgym.producers import check_traits
from recgym.registry import declared_params, parse_spec
from recgym.rules import RULES, ServingRule, make_rule
from recgym.solvers import DynamicsResult, ExactSolver, best_response_dynamics
from recgym.user_dynamics import UserDynamics

#: Rounds of continuous moves (every producer once per round) refining the planner's profile.
REFINE_ROUNDS = 5

__all__ = ["DEFAULT_EPOCHS", "LAST", "LONG_RUN_COLUMNS", "Candidate", "LongRun",
           "OptimizeResult", "PriceOfAnarchy", "candidate_columns", "evaluate", "expand_grid",
           "is_long_run", "log_grid", "long_run", "optimize", "pareto", "price_of_anarchy",
           "summarize"]

#: Columns that identify a candidate: the rule family, every declared rule parameter
#: (empty where a rule lacks it) and the payoff.
PARAM_COLUMNS = tuple(sorted((p.name for p in declared_params(RULES)),
                             key=lambda name: name == "floor"))


def candidate_columns() -> tuple[str, ...]:
    """``rule``, one column per declared rule parameter, ``payoff``."""
    return ("rule", *PARAM_COLUMNS, "payoff")


@dataclass(frozen=True)
class Candidate:
    """A serving rule (spec string or rule object, floor included) and a payoff.

    Raises
    ------
    ValueError
        Unknown rule, payoff or parameter (names them and the allowed values).
    """

    rule: str | ServingRule
    payoff: str | Payoff = "engagement"
    serving: ServingRule = field(init=False, repr=False, compare=False)
    reward: Payoff = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "serving", make_rule(self.rule))
        object.__setattr__(self, "reward", make_payoff(self.payoff))

    @property
    def label(self) -> str:
        """``"<rule spec> / <payoff>"``."""
        return f"{self.serving.spec} / {self.reward.spec}"

    def columns(self) -> dict[str, object]:
        """The candidate's identifying columns (``candidate_columns``)."""
        params = self.serving.params()
        values: dict[str, object] = {"rule": self.serving.NAME}
        values.update({name: params.get(name, math.nan) for name in PARAM_COLUMNS})
        values["payoff"] = self.reward.spec
        return values


def log_grid(low: float, high: float, points: int, name: str = "grid") -> np.ndarray:
    """``points`` log-spaced values from ``low`` to ``high`` (both > 0, ``low <= high``)."""
    check_int(f"{name} points", points, 1)
    low = check_float(f"{name} lower bound", low, 0.0, low_open=True)
    high = check_float(f"{name} upper bound", high, 0.0, low_open=True)
    if high < low:
        raise ValueError(f"{name} is reversed: {low:g}..{high:g} (the lower bound must come "
                         "first)")
    if points == 1:
        if low != high:
            raise ValueError(f"{name} {low:g}..{high:g} needs at least 2 points")
        return np.array([low])
    return np.geomspace(low, high, points)


def expand_grid(spec: str) -> list[str]:
    """Rule specs from a spec with grids: ``softmax:temperature=0.01..100x25`` is a
    25-point log grid of temperatures (``low..highxN``, both bounds > 0).

    Raises
    ------
    ValueError
        Malformed, empty, reversed or non-positive grids, naming the parameter.
    """
    name, params = parse_spec(spec, "rule")
    axes: list[list[str]] = []
    for key, text in params.items():
        if ".." not in text:
            axes.append([f"{key}={text}"])
            continue
        bounds, sep, count = text.partition("x")
        low, dots, high = bounds.partition("..")
        if not sep or not dots or not re.fullmatch(r"[0-9]+", count):
            raise ValueError(f"rule {name!r} parameter {key}: a grid is low..highxN with N a "
                             f"whole number of points, e.g. 0.01..100x25; got {text!r}")
        if any(p.name == key and p.kind is int for p in declared_params(RULES)):
            raise ValueError(f"rule {name!r} parameter {key} is an integer: give its values "
                             f"one candidate each (grids are log-spaced reals); got {text!r}")
        try:
            values = log_grid(float(low), float(high), int(count), f"{key} grid")
        except ValueError as exc:
            raise ValueError(f"rule {name!r} parameter {key}: {exc}") from None
        axes.append([f"{key}={v!r}" for v in values.tolist()])
    specs = [name]
    for options in axes:
        specs = [f"{s}{':' if ':' not in s else ','}{o}" for s in specs for o in options]
    for item in specs:
        make_rule(item)  # validates every parameter against its declaration
    return specs


# ---------------------------------------------------------------------- evaluate
def _runs(runs: Iterable[int]) -> tuple[int, ...]:
    return check_ints("runs", tuple(runs), 0, 2**32 - 1)


def _scfs(scfs: Sequence[object] | object) -> list[welfare.SocialChoice]:
    items = [scfs] if isinstance(scfs, str) or callable(scfs) else list(scfs)
    if not items:
        raise ValueError("scfs needs at least one social choice function")
    parsed = [welfare.parse(s) for s in items]
    names = [welfare.name_of(s) for s in parsed]
    if len(set(names)) != len(names):
        raise ValueError(f"scfs must have distinct names, got {names}")
    return parsed


# ---------------------------------------------------------------------- the long run
#: Epochs of the long-run mode when users who change or leave are given without ``epochs``.
DEFAULT_EPOCHS = 50
#: Suffix of an SCF's last-epoch column in the long-run mode (``user_welfare@last``).
LAST = "@last"
#: The long-run mode's columns besides the SCFs': at the last epoch, the share of the
#: starting users active and the active users' homogenization.
LONG_RUN_COLUMNS = ("retention", "homogenization")
#: Columns of ``coevolve``'s history that are not requested SCFs (never passed as SCFs).
_HISTORY_WELFARE = ("user_welfare", "producer_welfare")


@dataclass(frozen=True)
class LongRun:
    """How each run is simulated in the long-run mode (module docstring; ``long_run``).

    Attributes
    ----------
    user_dynamics : UserDynamics
        How users change (``recgym.user_dynamics``).
    user_outside_option : float >= 0
        ``w``: utility per epoch below which a user is unhappy.
    user_patience : int >= 1
        ``P``: unhappy epochs in a row after which a user leaves.
    epochs : int >= 1
    moves_per_epoch : int >= 1
        Iterations of the paper's dynamics per epoch.
    """

    user_dynamics: UserDynamics
    user_outside_option: float
    user_patience: int
    epochs: int
    moves_per_epoch: int

    def settings(self) -> dict[str, object]:
        """The settings as JSON-ready values (the model as its spec string)."""
        return {"user_dynamics": self.user_dynamics.spec,
                "user_outside_option": self.user_outside_option,
                "user_patience": self.user_patience, "epochs": self.epochs,
                "moves_per_epoch": self.moves_per_epoch}


def long_run(user_dynamics: str | UserDynamics = "static", user_outside_option: object = 0.0,
             user_patience: object = 1, epochs: object = None,
             moves_per_epoch: object = None, max_iter: int = 500) -> LongRun | None:
    """The long-run settings, or ``None`` for today's mode (the dynamics to their end).

    The mode is on with ``epochs >= 1``, or where any users' setting is not its
    default (a model other than ``static``, ``user_outside_option > 0``,
    ``user_patience != 1``); ``epochs`` then defaults to ``DEFAULT_EPOCHS`` and
    ``moves_per_epoch`` to ``max_iter`` (the producers settle before the users move).

    Raises
    ------
    ValueError
        Naming the parameter: an unknown model or parameter, a value out of range,
        ``epochs=0`` with users who change or leave, ``moves_per_epoch`` without the
        long run.
    """
    try:
        model, option, patience = check_population_args(user_dynamics, user_outside_option,
                                                        user_patience)
    except ValueError as exc:
        text = str(exc)
        raise ValueError(text if text.startswith("user_") else f"user_dynamics: {text}") \
            from None
    changed = not model.static or option != 0.0 or patience != 1
    if epochs is None:
        epochs = DEFAULT_EPOCHS if changed else 0
    epochs = check_int("epochs", epochs, 0)
    if epochs == 0:
        if changed:
            raise ValueError("epochs is 0, so users who change or leave (user_dynamics, "
                             "user_outside_option, user_patience) would have no effect: give "
                             f"epochs >= 1 (or leave it out for {DEFAULT_EPOCHS})")
        if moves_per_epoch is not None:
            raise ValueError("moves_per_epoch applies to the long run only: give epochs >= 1 "
                             "or users who change or leave")
        return None
    moves = check_int("max_iter", max_iter, 1) if moves_per_epoch is None else \
        check_int("moves_per_epoch", moves_per_epoch, 1)
    return LongRun(model, option, patience, epochs, moves)


def _history_scfs(scfs: Sequence[welfare.SocialChoice]) -> list[welfare.SocialChoice]:
    """The SCFs to pass to the epoch engine (user and producer welfare are already
    history columns, computed by the same formulas)."""
    return [s for s in scfs if welfare.name_of(s) not in _HISTORY_WELFARE]


def _simulate(game: EngagementGame, scfs: Sequence[welfare.SocialChoice], run: int,
              setting: LongRun, behavior: str = "best_response"
              ) -> tuple[Coevolution, list[dict], EngagementGame | None]:
    """One long run: the engine at the end, its history rows (those of ``coevolve``) and
    the game of the users during the last epoch (``None`` if all had left)."""
    engine = Coevolution(game, setting.user_dynamics, setting.user_outside_option,
                         setting.user_patience, setting.moves_per_epoch, run,
                         _history_scfs(scfs), behavior=behavior)
    history, last_game = [], None
    for epoch in range(1, setting.epochs + 1):
        if epoch == setting.epochs:
            last_game = engine.population.game()
        history.append(engine.step()[0])
    return engine, history, last_game


def _long_run_row(game: EngagementGame, candidate: Candidate,
                  scfs: Sequence[welfare.SocialChoice], run: int, setting: LongRun,
                  solver: ExactSolver | None, behavior: str = "best_response") -> dict:
    """The row of one long run (``evaluate``); ``solver``: the starting game's, or
    ``None`` without NashConv."""
    engine, history, last_game = _simulate(game, scfs, run, setting, behavior)
    last = history[-1]
    counts = np.bincount(engine.directions[engine.active], minlength=game.n_vertices)
    row = dict(candidate.columns(), run=int(run), converged=bool(last["converged"]),
               iterations=int(engine.iterations),
               counts=" ".join(str(int(c)) for c in counts[:game.dim]),
               producers_retained=int(engine.active.sum()),
               exited_outside_option=float(game.outside_option[~engine.active].sum()))
    names = [welfare.name_of(scf) for scf in scfs]
    row.update({name: float(np.mean([epoch[name] for epoch in history])) for name in names})
    row.update({name + LAST: float(last[name]) for name in names})
    row.update(retention=float(last["active_users"]),
               homogenization=float(last["homogenization"]))
    if solver is not None:
        row.update(_final_nash_conv(engine, last_game, game, solver))
    return row


def _final_nash_conv(engine: Coevolution, last_game: EngagementGame | None,
                     game: EngagementGame, solver: ExactSolver) -> dict[str, object]:
    """NashConv over the strategy set at the final profile in the last epoch's game,
    per user of the starting population (NaN, uncertified, once every user has left)."""
    if last_game is None:
        return {"nash_conv": math.nan, "nash_conv_certified": False}
    if last_game is not solver.game:
        solver = ExactSolver(last_game)
    nc = solver.nash_conv(engine.profile, "strategy_set", engine.active)
    return {"nash_conv": nc.value / game.total_weight, "nash_conv_certified": nc.certified}


def evaluate_candidate(users: np.ndarray, n_producers: int, candidate: Candidate,
                       scfs: Sequence[welfare.SocialChoice], runs: Sequence[int], *,
                       outside_option: object = 0.0, weights: object | None = None,
                       max_iter: int = 500, nash_conv: bool = True,
                       long_run: LongRun | None = None,
                       producers: Mapping[str, object] | None = None,
                       behavior: str = "best_response") -> list[dict]:
    """The rows of ``evaluate`` for one candidate (one row per run); ``long_run``: the
    long-run mode's settings (``recgym.design.long_run``), ``None`` for today's;
    ``producers``: ``skill``, ``cost``, ``cost_exponent`` of ``EngagementGame``."""
    game = EngagementGame(users, n_producers, candidate.serving, payoff=candidate.reward,
                          weights=weights, outside_option=outside_option, **(producers or {}))
    solver = ExactSolver(game) if nash_conv else None
    if long_run is not None:
        return [_long_run_row(game, candidate, scfs, int(run), long_run, solver, behavior)
                for run in runs]
    rows = []
    for run in runs:
        result = best_response_dynamics(game, np.random.RandomState(run), max_iter,
                                        behavior=behavior, behavior_seed=int(run))
        # hedge: the time-averaged play is what the SCFs and NashConv evaluate
        profile = result.profile if result.average_profile is None else result.average_profile
        utilities = game.utilities(profile, result.active)
        row = dict(candidate.columns(), run=int(run), converged=bool(result.converged),
                   iterations=int(result.iterations),
                   counts=" ".join(str(int(c)) for c in result.counts),
                   producers_retained=int(result.active.sum()),
                   exited_outside_option=float(game.outside_option[~result.active].sum()))
        for scf in scfs:
            row[welfare.name_of(scf)] = welfare.value(scf, utilities)
        if solver is not None:
            nc = solver.nash_conv(profile, "strategy_set", result.active)
            row.update(nash_conv=nc.value / game.total_weight, nash_conv_certified=nc.certified)
        rows.append(row)
    return rows


def evaluate(users: object, n_producers: int, candidates: Sequence[Candidate | str],
             scfs: Sequence[object] | object = ("user_welfare",),
             runs: Iterable[int] = range(1, 11), *, outside_option: object = 0.0,
             weights: object | None = None, max_iter: int = 500, nash_conv: bool = True,
             progress: Callable[[int], None] | None = None,
             user_dynamics: str | UserDynamics = "static", user_outside_option: float = 0.0,
             user_patience: int = 1, epochs: int | None = None,
             moves_per_epoch: int | None = None, skill: object = 1.0, cost: object = 0.0,
             cost_exponent: object = 1.0, behavior: str = "best_response") -> pd.DataFrame:
    """Every candidate's equilibria from every run, evaluated by every SCF.

    Parameters
    ----------
    users : array (K, d)
    n_producers : int >= 1
    candidates : sequence of Candidate (or rule spec strings, engagement payoff)
    scfs : SCF callables or spec strings (``recgym.welfare``)
    runs : the dynamics' random streams (``RandomState(run)``)
    outside_option : float or array (n,)
        Producers' outside options per user (E4): producers may leave.
    weights : array (K,), optional
        User weights.
    max_iter : int
    nash_conv : bool
        Also compute NashConv over the strategy set (per user) at each end point.
    progress : callable(rows), optional
        Called after each candidate with its number of rows.
    user_dynamics, user_outside_option, user_patience, epochs, moves_per_epoch
        The long-run mode (module docstring; ``long_run``): off by default.
    skill, cost, cost_exponent
        The producers' skill and cost of effort (``recgym.producers``).
    behavior : str
        The producers' behaviour (``recgym.behaviors``; ``hedge``: its time-averaged play
        is evaluated; ``quantal`` and ``best_response`` also in the long run).

    Returns
    -------
    DataFrame
        One row per (candidate, run): ``candidate_columns()``, ``run``, ``converged``,
        ``iterations``, ``counts``, ``producers_retained``, ``exited_outside_option``
        (the exited producers' options summed), one column per SCF (its spec
        string), ``nash_conv`` and ``nash_conv_certified``. In the long-run mode each
        SCF's column is its mean over the epochs, followed by ``<scf>@last`` per SCF,
        ``retention`` and ``homogenization`` (at the last epoch) before ``nash_conv``;
        ``iterations`` counts the moves and exits of all epochs, ``counts`` and
        ``producers_retained`` are those of the final profile.

    Raises
    ------
    ValueError
        Naming the parameter at fault.
    """
    n_producers = check_int("n_producers", n_producers, 1)
    runs = _runs(runs)
    parsed = _scfs(scfs)
    setting = long_run(user_dynamics, user_outside_option, user_patience, epochs,
                       moves_per_epoch, max_iter)
    producers = {"skill": skill, "cost": cost, "cost_exponent": cost_exponent}
    check_traits(n_producers, skill, cost, cost_exponent)
    make_behavior(behavior)
    chosen = [c if isinstance(c, Candidate) else Candidate(c) for c in candidates]
    if not chosen:
        raise ValueError("candidates needs at least one candidate")
    rows: list[dict] = []
    for candidate in chosen:
        part = evaluate_candidate(users, n_producers, candidate, parsed, runs,
                                  outside_option=outside_option, weights=weights,
                                  max_iter=max_iter, nash_conv=nash_conv,
                                  long_run=setting, producers=producers, behavior=behavior)
        rows += part
        if progress is not None:
            progress(len(part))
    return pd.DataFrame(rows)


#: Columns a sweep adds to ``evaluate``'s rows to say which users and game they are of.
SWEEP_KEYS = ("dataset", "embedding_seed", "dim", "n_producers", "outside_option")
#: A sweep's per-candidate column: the planner's best SCF value found (``price_of_anarchy``).
OPT = "opt"


def scf_columns(frame: pd.DataFrame) -> list[str]:
    """The SCF columns of an ``evaluate`` frame (everything that is not bookkeeping; in
    the long-run mode also ``<scf>@last``, ``retention`` and ``homogenization``)."""
    fixed = {*candidate_columns(), *SWEEP_KEYS, OPT, "run", "converged", "iterations",
             "counts", "producers_retained", "exited_outside_option", "nash_conv",
             "nash_conv_certified"}
    return [c for c in frame.columns if c not in fixed]


def _candidate_keys(frame: pd.DataFrame) -> list[str]:
    extra = [c for c in SWEEP_KEYS if c in frame.columns]
    return [*extra, *candidate_columns()]


def is_long_run(frame: pd.DataFrame) -> bool:
    """Whether ``frame`` holds long-run rows (``evaluate`` with the long-run mode on)."""
    return all(column in frame.columns for column in LONG_RUN_COLUMNS)


def summarize(frame: pd.DataFrame, scfs: Sequence[str] | None = None) -> pd.DataFrame:
    """Per candidate: each SCF's worst, best and mean over its converged equilibria
    (``scfs``: column names or spec strings; default every SCF column).

    Worst and best are over **distinct** equilibria (different ``counts``); the mean
    is over converged runs (so frequent equilibria weigh more). Runs that did not
    converge are counted in ``not_converged`` and left out of every value. Long-run
    rows (``is_long_run``) are trajectories: runs that end at the same ``counts``
    may have averaged differently on the way, so worst and best are over every
    converged run (``equilibria`` still counts distinct final ``counts``).

    Returns
    -------
    DataFrame
        The candidate columns, ``equilibria`` (distinct), ``converged_runs``,
        ``not_converged``, and ``<scf>_worst``, ``<scf>_best``, ``<scf>_mean`` per SCF
        (NaN where no run converged); a sweep's ``opt`` column is carried through.
    """
    scfs = scf_columns(frame) if scfs is None else \
        [s if s in frame.columns else welfare.name_of(welfare.parse(s)) for s in scfs]
    keys = _candidate_keys(frame)
    trajectories = is_long_run(frame)
    rows = []
    for values, part in frame.groupby(keys, sort=False, dropna=False):
        row = dict(zip(keys, values if isinstance(values, tuple) else (values,), strict=True))
        done = part[part["converged"].astype(bool)]
        distinct = done.drop_duplicates("counts")
        row.update(equilibria=len(distinct), converged_runs=len(done),
                   not_converged=len(part) - len(done))
        extremes = done if trajectories else distinct
        for scf in scfs:
            row[f"{scf}_worst"] = float(extremes[scf].min()) if len(done) else math.nan
            row[f"{scf}_best"] = float(extremes[scf].max()) if len(done) else math.nan
            row[f"{scf}_mean"] = float(done[scf].mean()) if len(done) else math.nan
        if OPT in part.columns:
            known = part[OPT].dropna()
            row[OPT] = float(known.iloc[0]) if len(known) else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def pareto(frame: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    """The rows of ``frame`` (converged equilibria) that no other row beats on both ``x``
    and ``y`` (higher is better), sorted by ``x``."""
    for column in (x, y):
        if column not in frame.columns:
            raise ValueError(f"pareto: no column {column!r}; SCF columns are "
                             f"{scf_columns(frame)}")
    done = frame[frame["converged"].astype(bool)].sort_values([x, y], ascending=False)
    keep, best_y = [], -math.inf
    for index, value in done[y].items():
        if value > best_y:
            keep.append(index)
            best_y = value
    return done.loc[keep].sort_values(x).reset_index(drop=True)


# ---------------------------------------------------------------------- optimize
@dataclass(frozen=True)
class OptimizeResult:
    """The parameter value ``optimize`` chose and everything it evaluated.

    Attributes
    ----------
    value : float
        The chosen parameter value.
    objective : float
        Its objective (the SCF at its worst, best or mean equilibrium).
    points : DataFrame
        Every evaluated value with its summary row (``summarize``), in order of
        evaluation; ``stage`` is ``"grid"`` or ``"refine"``.
    equilibria : int
        Dynamics runs made in all (grid and refinement).
    """

    value: float
    objective: float
    points: pd.DataFrame
    equilibria: int


OBJECTIVES = ("worst", "best", "mean")


def optimize(users: object, n_producers: int, family: str, param: str,
             bounds: tuple[float, float], scf: object = "user_welfare",
             runs: Iterable[int] = range(1, 11), *, log: bool = True,
             payoff: str = "engagement", objective: str = "worst", grid: int = 9,
             refine: int = 5, fixed: dict[str, object] | None = None,
             outside_option: object = 0.0) -> OptimizeResult:
    """Choose ``param`` of rule ``family`` in ``bounds`` to maximise ``scf`` (E3).

    The objective jumps wherever the equilibria change with the parameter, so it is
    searched on a grid of ``grid`` points (log-spaced if ``log``), then on ``refine``
    points strictly between the best grid point's neighbours.

    Raises
    ------
    ValueError
        Unknown family, parameter or objective; empty or reversed bounds.
    """
    RULES.get(family).param(param, "rule")  # a declared parameter of the family
    check_choice("objective", objective, OBJECTIVES)
    check_int("grid", grid, 2)
    check_int("refine", refine, 0)
    low, high = (float(b) for b in bounds)
    if log:
        points = log_grid(low, high, grid, f"{param} bounds")
    else:
        if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
            raise ValueError(f"{param} bounds must be finite with low < high, got {bounds}")
        points = np.linspace(low, high, grid)
    parsed = _scfs([scf])
    name = welfare.name_of(parsed[0])
    runs = _runs(runs)
    fixed = dict(fixed or {})

    def score(values: np.ndarray, stage: str) -> pd.DataFrame:
        candidates = [Candidate(make_rule(family, **{**fixed, param: float(v)}), payoff)
                      for v in values]
        frame = evaluate(users, n_producers, candidates, parsed, runs, nash_conv=False,
                         outside_option=outside_option)
        summary = summarize(frame, [name])
        summary.insert(0, "stage", stage)
        summary.insert(1, "value", values)
        return summary

    column = f"{name}_{objective}"
    first = score(points, "grid")
    best = int(np.nanargmax(first[column].to_numpy())) if first[column].notna().any() else 0
    tables = [first]
    if refine:
        left = points[max(best - 1, 0)]
        right = points[min(best + 1, len(points) - 1)]
        inner = (np.geomspace(left, right, refine + 2) if log else
                 np.linspace(left, right, refine + 2))[1:-1]
        inner = inner[~np.isin(inner, points)]
        if inner.size:
            tables.append(score(inner, "refine"))
    table = pd.concat(tables, ignore_index=True)
    choice = int(np.nanargmax(table[column].to_numpy())) if table[column].notna().any() else 0
    return OptimizeResult(float(table["value"].iloc[choice]), float(table[column].iloc[choice]),
                          table, len(table) * len(runs))


# ---------------------------------------------------------------------- price of anarchy
@dataclass(frozen=True)
class PriceOfAnarchy:
    """How much the equilibria lose against the best profile a planner could pick.

    Attributes
    ----------
    scf : str
    opt : float
        The best SCF value found for a central planner controlling every producer
        (local search over vertex profiles from every equilibrium and random starts,
        refined continuously for ``user_welfare`` where vertices are not certified).
        A lower bound on the true optimum: best found, not proven optimal.
    opt_profile : array (n, d)
    worst, best : float
        The SCF at the worst and best distinct converged equilibrium.
    price_of_anarchy, price_of_stability : float or None
        ``opt / worst`` and ``opt / best`` where the SCF is positive at every
        equilibrium involved (then they are at least 1), else ``None``.
    anarchy_gap, stability_gap : float
        ``opt - worst`` and ``opt - best`` (always given).
    upper_bound : float or None
        For ``user_welfare``: the bound no profile can beat
        (``recgym.welfare.user_welfare_upper_bound``); else ``None``.
    upper_bound_ratio : float or None
        ``upper_bound / worst`` (where ``worst > 0``); else ``None``.
    equilibria : int
        Distinct converged equilibria found.
    """

    scf: str
    opt: float
    opt_profile: np.ndarray
    worst: float
    best: float
    price_of_anarchy: float | None
    price_of_stability: float | None
    anarchy_gap: float
    stability_gap: float
    upper_bound: float | None
    upper_bound_ratio: float | None
    equilibria: int


def price_of_anarchy(users: object, n_producers: int, candidate: Candidate | str,
                     scf: object = "user_welfare", runs: Iterable[int] = range(1, 11), *,
                     outside_option: object = 0.0, weights: object | None = None,
                     max_iter: int = 500, starts: int = 8, seed: int = 0) -> PriceOfAnarchy:
    """The price of anarchy and of stability of ``candidate`` for ``scf`` (E3), over the
    equilibria of the same game and dynamics as ``evaluate`` (``outside_option``,
    ``weights``, ``max_iter``); an equilibrium's value counts its active producers only.

    Raises
    ------
    ValueError
        If no run converged (there is no equilibrium to compare).
    """
    candidate = candidate if isinstance(candidate, Candidate) else Candidate(candidate)
    parsed = _scfs([scf])[0]
    name = welfare.name_of(parsed)
    game = EngagementGame(users, check_int("n_producers", n_producers, 1), candidate.serving,
                          payoff=candidate.reward, weights=weights,
                          outside_option=outside_option)
    equilibria: dict[str, DynamicsResult] = {}
    for run in _runs(runs):
        result = best_response_dynamics(game, np.random.RandomState(run), max_iter)
        if result.converged:
            key = " ".join(map(str, result.counts)) + " / " + " ".join(
                map(str, result.active.astype(int)))
            equilibria.setdefault(key, result)
    if not equilibria:
        raise ValueError(f"no run of {candidate.label} converged: no equilibrium to compare")
    values = [welfare.value(parsed, game.utilities(r.profile, r.active))
              for r in equilibria.values()]
    rng = np.random.RandomState(check_int("seed", seed, 0))
    begin = [*(r.directions for r in equilibria.values()),
             *(rng.choice(game.dim, game.n_producers) for _ in range(check_int("starts", starts,
                                                                                0)))]
    opt, opt_profile = max((_planner_search(game, parsed, d) for d in begin),
                           key=lambda found: found[0])
    if name == "user_welfare":
        opt, opt_profile = _refine_user_welfare(game, opt, opt_profile)
    worst, best = min(values), max(values)
    opt = max(opt, best)  # every equilibrium is a profile the planner could pick
    positive = worst > 0
    bound = welfare.user_welfare_upper_bound(game.users) if name == "user_welfare" else None
    return PriceOfAnarchy(
        name, opt, opt_profile, worst, best, opt / worst if positive else None,
        opt / best if positive else None, opt - worst, opt - best, bound,
        bound / worst if bound is not None and positive else None, len(equilibria))


def _planner_search(game: EngagementGame, scf: welfare.SocialChoice, start: np.ndarray
                    ) -> tuple[float, np.ndarray]:
    """Best-improvement local search of ``scf`` over vertex profiles from ``start``."""
    directions = np.array(start, dtype=np.int64)
    current = welfare.value(scf, game.utilities(game.vertex_profile(directions)))
    while True:
        best_value, best_move = current, None
        for i in range(game.n_producers):
            for v in range(game.n_vertices):
                if v == directions[i]:
                    continue
                trial = directions.copy()
                trial[i] = v
                value = welfare.value(scf, game.utilities(game.vertex_profile(trial)))
                if value > best_value:
                    best_value, best_move = value, (i, v)
        if best_move is None:
            return current, game.vertex_profile(directions)
        directions[best_move[0]] = best_move[1]
        current = best_value


def _refine_user_welfare(game: EngagementGame, value: float, profile: np.ndarray
                         ) -> tuple[float, np.ndarray]:
    """Raise user welfare by continuous moves of one producer at a time.

    A producer's marginal payoff changes exactly as user welfare does (it is an
    exact potential), so its best response under the marginal payoff is the
    planner's best move for that producer. Skipped where vertex search is exact.
    """
    planner = EngagementGame(game.users, game.n_producers, game.rule, payoff="marginal",
                             weights=game.weights)
    solver = ExactSolver(planner, n_random_starts=0, max_steps=150)
    others = planner.others(profile, 0)
    if planner.rule.vertex_certificate("marginal", planner.users, others):
        return value, profile
    moved = profile.copy()
    for _ in range(REFINE_ROUNDS):
        improved = False
        for i in range(planner.n_producers):
            response = solver.best_response(moved, i)
            if response.gain > 1e-12 * max(1.0, abs(response.utility)):
                moved[i] = response.strategy
                improved = True
        if not improved:
            break
    refined = welfare.value(welfare.user_welfare, game.utilities(moved))
    return (refined, moved) if refined > value else (value, profile)
