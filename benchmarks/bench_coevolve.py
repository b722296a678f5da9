"""Speed benchmark of the epoch engine (``recgym.coevolve``): what users who change and
leave cost per epoch.

At ``K = 10,000`` synthetic uniform users, ``d = 20`` features, ``n = 100`` producers,
softmax ``T = 1``, ``moves_per_epoch = 5``:

(a) **One dynamic epoch against one static epoch from the same state.** A dynamic
    engine (``exposure:rate=0.1`` users who leave: outside option ``w`` the
    ``--quantile`` quantile of the users' utilities in a static first epoch, patience
    ``P = 2``) first runs ``--warm-epochs`` epochs, so that producers are near
    equilibrium and the first departures have happened. From that state (users, who is
    active, profile, the producers' random stream) two epochs are timed with
    ``Coevolution.step()``, each on a fresh copy of the state:

    * the dynamic epoch: the producers' response (the users changed last epoch, so
      their game and the dynamics' payoff table are rebuilt), serving, metrics,
      departures and the preference update;
    * the static epoch: a static engine (``static`` users, no departures) over the
      same active users with the dynamics' state already built for them, as a static
      run keeps it from epoch to epoch: the same response (same game, profile and
      permutations), the same serving and metrics, and nothing after.

    The ratio dynamic / static is checked against ``EPOCH_RATIO_GOAL``. The static
    epoch with the dynamics' state built inside the timed epoch ("static, cold") is
    printed too: the difference to the warm one is what rebuilding the payoff table
    costs.

(b) **The user update alone** (``Population.epoch_end``: departures and the
    ``exposure`` update, and the model's ``update`` by itself) against one bare numpy
    utility pass written here: ``R = U @ S.T``, softmax probabilities ``P``,
    ``v = (P * R).sum(1)``.

(c) **A learning platform's epoch against the oracle's** (issue: "the platform does not
    know its users"): an engine with ``learner="ucb:alpha=1"`` and 1 impression against
    one with ``learner="oracle"`` (static users), each after ``--warm-epochs`` epochs,
    one ``step()`` timed on fresh copies (``Coevolution.copy``). The UCB epoch serves by
    its scores, draws the impressions and clicks, updates the ridge models and computes
    the estimation error and the regret against the oracle. Its producers face a new
    served game every epoch (the scores move), so they keep moving where the oracle's
    may have converged: the moves each epoch made are printed. Goal: at most
    ``LEARNER_RATIO_GOAL``. The peak traced memory of one UCB epoch and the size of the
    ridge models are printed too.

Peak traced memory (``tracemalloc``) of one dynamic epoch is printed as a multiple of
the ``(K, d)`` user matrix. Times are the minimum and the median over ``--repeat``
timings, wall and CPU (``time.process_time``), the variants' timings interleaved
(``benchmarks/timing.py``). BLAS is limited to ``--blas-threads`` threads (1 by default)
with ``threadpoolctl``; for a strict one-CPU figure add ``taskset -c 0`` in front of the
command.

Examples
--------
``python benchmarks/bench_coevolve.py``            (K = 10,000, d = 20, n = 100; seconds)
``python benchmarks/bench_coevolve.py --quick``    (K = 2,000, d = 10, n = 20 smoke run)
``python benchmarks/bench_coevolve.py --profile``  (also cProfile one dynamic epoch)
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import cProfile
import io
import pstats
import sys
import tracemalloc
from collections.abc import Callable, Sequence

import numpy as np
from timing import Timer, add_blas_argument, blas_threads, goal, header, ratio, rows

from recgym.coevolve import Coevolution
from recgym.game import EngagementGame
from recgym.population import Population
from recgym.solvers import DynamicsState
from recgym.users import synthetic_uniform

EPOCH_RATIO_GOAL = 1.3  # dynamic epoch / static epoch from the same state
LEARNER_RATIO_GOAL = 3.0  # ucb epoch / oracle epoch
LEARNER = "ucb:alpha=1"
GOAL_CONFIG = {"n_users": 10_000, "dim": 20, "n_producers": 100}
QUICK = {"n_users": 2_000, "dim": 10, "n_producers": 20, "repeat": 5}
DYNAMICS = "exposure:rate=0.1"
RULE, TEMPERATURE = "softmax", 1.0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--n-users", type=int, default=10_000, help="K, synthetic uniform users")
    parser.add_argument("--dim", type=int, default=20, help="d, features")
    parser.add_argument("--n-producers", type=int, default=100, help="n, producers")
    parser.add_argument("--moves-per-epoch", type=int, default=5, help="dynamics iterations")
    parser.add_argument("--warm-epochs", type=int, default=5,
                        help="epochs run before the timed one")
    parser.add_argument("--quantile", type=float, default=0.05,
                        help="w: this quantile of the users' utilities in a static epoch 1")
    parser.add_argument("--patience", type=int, default=2, help="P")
    parser.add_argument("--seed", type=int, default=17, help="users' seed")
    parser.add_argument("--run-seed", type=int, default=1, help="the producers' stream")
    parser.add_argument("--repeat", type=int, default=30,
                        help="timings of each epoch; the minimum and median are reported")
    add_blas_argument(parser)
    parser.add_argument("--profile", action="store_true",
                        help="print a cProfile of one dynamic and one static epoch")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: K={QUICK['n_users']:,}, d={QUICK['dim']}, "
                             f"n={QUICK['n_producers']}, {QUICK['repeat']} repeats")
    args = parser.parse_args(argv)
    for name in ("n_users", "dim", "n_producers", "moves_per_epoch", "repeat", "patience"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.warm_epochs < 0:
        parser.error(f"--warm-epochs must be >= 0, got {args.warm_epochs}")
    if not 0.0 < args.quantile < 1.0:
        parser.error(f"--quantile must be in (0, 1), got {args.quantile}")
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    return args


# ---------------------------------------------------------------------- timing
def timed_steps(makers: Sequence[tuple[str, Callable[[], Coevolution]]], repeat: int
                ) -> list[tuple[Timer, dict]]:
    """``repeat`` timings of ``step()`` for each named maker, each on a fresh engine from it
    (built outside the timing), interleaved (one of each per round, so that a change
    of the machine's load hits every variant alike); each one's last history row.

    The previous epoch's serving stays alive through the next epoch, as in a run
    (``row, _ = engine.step()`` in a loop): which arrays are held changes the times."""
    timings = [Timer(name) for name, _ in makers]
    last: list[dict] = [{} for _ in makers]
    for _ in range(repeat):
        for j, (_name, make) in enumerate(makers):
            engine = make()
            last[j], serving = timings[j].time(engine.step)
    return list(zip(timings, last, strict=True))


# ---------------------------------------------------------------------- the engines
def make_game(args: argparse.Namespace) -> EngagementGame:
    users = synthetic_uniform(args.n_users, args.dim, seed=args.seed)
    return EngagementGame(users, args.n_producers, RULE, TEMPERATURE)


def outside_option(game: EngagementGame, args: argparse.Namespace) -> float:
    """``w``: the ``--quantile`` quantile of the users' utilities in a static epoch 1."""
    _, serving = Coevolution(game, moves_per_epoch=args.moves_per_epoch,
                             seed=args.run_seed).step()
    return float(np.quantile(serving.utilities.user, args.quantile))


def warmed(game: EngagementGame, w: float, args: argparse.Namespace) -> tuple[Coevolution, int]:
    """The dynamic engine after ``--warm-epochs`` epochs, and how many users left."""
    engine = Coevolution(game, DYNAMICS, w, args.patience, args.moves_per_epoch, args.run_seed)
    departed = 0
    for _ in range(args.warm_epochs):
        departed += engine.step()[0]["departed"]
    return engine, departed


def static_from(engine: Coevolution, warm: bool) -> Coevolution:
    """A static engine (static users, no departures) at ``engine``'s state: its active
    users, profile, active producers and the producers' stream. ``warm``: with the
    dynamics' state already built for those users, as a static run has it."""
    state = copy.deepcopy(engine)
    base = engine.game
    game = EngagementGame(np.array(state.population.active_users), base.n_producers,
                          base.rule, payoff=base.payoff)
    state.game = game
    state.population = Population(game)
    if warm:
        # What a static run has from its previous epoch: the payoff table of its game
        # at the current profile (the engine reuses it while the game is unchanged).
        state._state = DynamicsState(game, state.directions, state.active)
    else:
        state._state = None
    return state


# ---------------------------------------------------------------------- (b) bare numpy
def bare_utility_pass(users: np.ndarray, profile: np.ndarray, temperature: float
                      ) -> np.ndarray:
    """One utility pass in plain numpy: ratings, softmax probabilities, ``v_k``."""
    ratings = users @ profile.T
    logits = ratings / temperature
    logits -= logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    probabilities = weights / weights.sum(axis=1, keepdims=True)
    return (probabilities * ratings).sum(axis=1)


# ---------------------------------------------------------------------- report
def profile_epoch(make: Callable[[], Coevolution], label: str, lines: int = 18) -> None:
    """cProfile of one epoch (sorted by cumulative time)."""
    engine = make()
    profiler = cProfile.Profile()
    profiler.enable()
    engine.step()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(lines)
    print(f"\ncProfile of one {label} epoch:\n{out.getvalue()}")


def run(args: argparse.Namespace) -> int:
    game = make_game(args)
    print(f"epoch engine, K={args.n_users:,}, d={args.dim}, n={args.n_producers}, "
          f"{RULE} T={TEMPERATURE:g}, {args.moves_per_epoch} moves per epoch")
    print(header())
    w = outside_option(game, args)
    engine, departed = warmed(game, w, args)
    print(f"dynamic engine: {DYNAMICS}, outside option w = {w:.5f} (the {args.quantile:g} "
          f"quantile of the users' utility in a static epoch 1), patience {args.patience}; "
          f"after {args.warm_epochs} warm-up epochs {departed} users have left, "
          f"{engine.population.share_active:.2%} active")

    # (a) one epoch, dynamic against static from the same state.
    (dynamic, dyn_row), (static, static_row), (cold, _) = timed_steps(
        [("dynamic", lambda: copy.deepcopy(engine)),
         ("static", lambda: static_from(engine, warm=True)),
         ("static, cold", lambda: static_from(engine, warm=False))], args.repeat)
    # Welfare is per starting user: the static engine started with the active users only.
    scale = engine.game.n_users / max(int(engine.population.active.sum()), 1)
    same = bool(np.isclose(dyn_row["user_welfare"] * scale, static_row["user_welfare"])
                and np.isclose(dyn_row["homogenization"], static_row["homogenization"])
                and dyn_row["iterations"] == static_row["iterations"])
    print(f"\n(a) one epoch from the same state ({args.repeat} timings each; the timed "
          f"epochs made {dyn_row['iterations']} moves, {dyn_row['departed']} users left in "
          f"the dynamic one; same response and serving in both: {same}); dynamic: "
          f"{DYNAMICS} + departures; static: the dynamics' state kept, as in a run; "
          "static, cold: the payoff table built in the epoch")
    print(rows([static, dynamic, cold], static))
    if all(getattr(args, key) == value for key, value in GOAL_CONFIG.items()):
        print(goal("dynamic / static (minimum wall)", ratio(dynamic, static), EPOCH_RATIO_GOAL))

    # (b) the user update alone against a bare utility pass.
    population = engine.population
    profile, active = engine.profile, engine.active
    update = Timer("epoch_end")
    model_only = Timer("update alone")
    bare = Timer("bare pass")
    users_now = np.array(population.active_users)
    for _ in range(args.repeat):
        fresh = copy.deepcopy(population)
        serving = fresh.serve(profile, active)  # untimed; its cached products are not
        update.time(lambda fresh=fresh, serving=serving: fresh.epoch_end(serving))
        serving = copy.deepcopy(population).serve(profile, active)
        model_only.time(lambda serving=serving: population.model.update(users_now, serving))
        bare.time(lambda: bare_utility_pass(users_now, profile[active], TEMPERATURE))
    print(f"\n(b) the user update alone ({args.repeat} timings each, "
          f"{users_now.shape[0]:,} active users; epoch_end: Population.epoch_end, departures "
          f"+ update; update alone: the {DYNAMICS} model's update; bare pass: one numpy "
          "utility pass, R, softmax, v)")
    print(rows([bare, update, model_only], bare))

    # Peak memory of one dynamic epoch (traced outside the timings).
    fresh = copy.deepcopy(engine)
    tracemalloc.start()
    fresh.step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    user_bytes = game.users.nbytes
    kn_bytes = args.n_users * args.n_producers * 8
    print(f"\npeak traced memory of one dynamic epoch: {peak / 2**20:.1f} MiB = "
          f"{peak / user_bytes:.1f}x the (K, d) user matrix ({user_bytes / 2**20:.1f} MiB); "
          f"one (K, n) float64 array is {kn_bytes / 2**20:.1f} MiB")

    learning_epochs(game, args)

    if args.profile:
        profile_epoch(lambda: copy.deepcopy(engine), "dynamic")
        profile_epoch(lambda: static_from(engine, warm=True), "static")
    return 0


def learning_epochs(game: EngagementGame, args: argparse.Namespace) -> None:
    """(c): a UCB epoch against an oracle epoch, each after the warm-up epochs."""
    engines = {}
    for learner in ("oracle", LEARNER):
        engine = Coevolution(game, moves_per_epoch=args.moves_per_epoch, seed=args.run_seed,
                             learner=learner, impressions=1)
        for _ in range(args.warm_epochs):
            engine.step()
        engines[learner] = engine
    (oracle, oracle_row), (ucb, ucb_row) = timed_steps(
        [("oracle", engines["oracle"].copy), (LEARNER, engines[LEARNER].copy)], args.repeat)
    print(f"\n(c) a learning platform's epoch ({args.repeat} timings each, after "
          f"{args.warm_epochs} warm-up epochs; moves in the timed epoch: oracle "
          f"{oracle_row['iterations']}, {LEARNER} {ucb_row['iterations']}; oracle: serving "
          f"by the true ratings; {LEARNER}: 1 impression)")
    print(rows([oracle, ucb], oracle))
    if all(getattr(args, key) == value for key, value in GOAL_CONFIG.items()):
        print(goal(f"{LEARNER} / oracle (minimum wall)", ratio(ucb, oracle), LEARNER_RATIO_GOAL))
    fresh = engines[LEARNER].copy()
    tracemalloc.start()
    fresh.step()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    models = fresh.platform.models
    held = sum(a.nbytes for a in (models.diagonal, models.b) if a is not None)
    print(f"  peak traced memory of one {LEARNER} epoch: {peak / 2**20:.1f} MiB = "
          f"{peak / game.users.nbytes:.1f}x the (K, d) user matrix; the ridge models hold "
          f"{held / 2**20:.1f} MiB (diagonal A while content is on the vertices; full "
          f"inverses would be {game.n_users * game.dim ** 2 * 8 / 2**20:.1f} MiB)")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with blas_threads(args.blas_threads):
        return run(args)


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
