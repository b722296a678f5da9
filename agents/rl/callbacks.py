"""TensorBoard monitoring of RL producers against the exact equilibrium.

``EquilibriumEvalCallback`` evaluates the deterministic policies
(``agents.rl.evaluation.evaluate``) at the start of training, every
``eval_freq`` agent-steps and at the end, and records through the model's SB3
logger (so next to SB3's own ``rollout/``, ``train/`` and ``time/`` logs):

=============================================  ==========================================
tag                                            value
=============================================  ==========================================
``eval/nash_conv``                             NashConv over the strategy set, per user
``eval/nash_conv_relative``                    NashConv / total producer utility
``eval/producer_reward_mean``, ``_min``        producer engagement, per user
``eval/producer_reward/producer_i``            each producer's engagement, per user
``eval/user_welfare``                          mean user utility
``eval/features_used``                         features some producer specialises in
``eval/concentrated_share``                    share of producers on a single feature
``eval/tv_to_equilibrium``                     TV distance of the producer distributions
``eval/equilibrium/producer_reward_mean``      the same figures at the dynamics' end
``eval/equilibrium/user_welfare``              point (``EquilibriumSummary``, computed
``eval/equilibrium/nash_conv``, ``_relative``  once); its NashConv is 0 only at a Nash
``eval/equilibrium/concentrated_share``        equilibrium over the strategy set
``eval/content_weights``                       histogram of the profile's ``n d`` weights
``eval/distribution``                          figure: producers (learned, equilibrium)
                                               and users per feature
=============================================  ==========================================

The step of every record is ``num_timesteps``: agent-steps, all producers.
It works with an SB3 model (shared policy) and with ``IndependentLearners``.

Both backends evaluate through one routine, ``Evaluator``: the callback holds one
for the SB3 model's logger, and RLlib's training loop (``agents.rl.rllib``) calls one
with its own; it evaluates (``agents.rl.evaluation.evaluate``), records the tags,
dumps the logger at the agent-step, keeps the ``history`` and times itself
(``seconds``, ``cpu_seconds``), so that throughput can leave evaluations out.
"""

from __future__ import annotations

import time

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Figure, Logger

from agents.rl.evaluation import EvaluationResult, evaluate
from recgym._validation import check_int
from recgym.environment import unwrap
from recgym.solvers import EquilibriumSummary, summarize_equilibrium

#: Outputs that cannot show arrays or figures.
_TEXT_OUTPUTS = ("stdout", "log", "json", "csv")

__all__ = ["EquilibriumEvalCallback", "Evaluator", "evaluate_and_record",
           "learned_vs_equilibrium_figure", "record_evaluation"]


class Evaluator:
    """The evaluation routine of both backends: evaluate a policy at an agent-step, record
    the ``eval/*`` tags, write them, remember the result.

    Parameters
    ----------
    eval_env : recgym parallel environment
        A separate copy of the game (reset by every evaluation).
    equilibrium : EquilibriumSummary
    seed : int >= 0
        Seed of every evaluation episode.
    logger : SB3 Logger, optional
        Where the tags go (``agents.monitoring.RunFolder.logger``); None records nothing.
    log_figure : bool
        Also record the distribution figure.
    verbose : int
        1 prints one line per evaluation.

    Attributes
    ----------
    history : list of (int, EvaluationResult)
    seconds, cpu_seconds : float
        Wall-clock and CPU time spent evaluating so far.
    """

    def __init__(self, eval_env: object, equilibrium: EquilibriumSummary, seed: int = 0,
                 logger: Logger | None = None, log_figure: bool = True,
                 verbose: int = 0) -> None:
        if not isinstance(equilibrium, EquilibriumSummary):
            raise TypeError(f"equilibrium must be an EquilibriumSummary, got "
                            f"{type(equilibrium).__name__}")
        self.eval_env = eval_env
        self.equilibrium = equilibrium
        self.seed = check_int("seed", seed, 0)
        self.logger = logger
        self.log_figure = bool(log_figure)
        self.verbose = verbose
        self.history: list[tuple[int, EvaluationResult]] = []
        self.seconds = 0.0
        self.cpu_seconds = 0.0

    @property
    def last_step(self) -> int | None:
        """Agent-step of the latest evaluation, if any."""
        return self.history[-1][0] if self.history else None

    def __call__(self, policy: object, step: int) -> EvaluationResult:
        """Evaluate ``policy`` (anything ``evaluate`` takes) at agent-step ``step``."""
        wall, cpu = time.perf_counter(), time.process_time()
        if self.logger is None:
            result = evaluate(policy, self.eval_env, self.equilibrium, seed=self.seed)
            self.history.append((step, result))
        else:
            result = evaluate_and_record(policy, self.eval_env, self.equilibrium, self.seed,
                                         self.logger, step, self.history, self.log_figure)
        self.seconds += time.perf_counter() - wall
        self.cpu_seconds += time.process_time() - cpu
        if self.verbose:
            print(f"agent-steps {step}: NashConv {result.nash_conv_relative:.2%} of producer "
                  f"utility, TV to equilibrium {result.tv_to_equilibrium:.3f}", flush=True)
        return result


class EquilibriumEvalCallback(BaseCallback):
    """Evaluate the producers against the equilibrium every ``eval_freq`` agent-steps.

    Parameters
    ----------
    eval_env : recgym parallel environment
        A separate copy of the game (reset by every evaluation).
    eval_freq : int >= 1
        Agent-steps between evaluations.
    equilibrium : EquilibriumSummary, optional
        Default: computed from ``eval_env.game`` with ``equilibrium_seed``.
    equilibrium_seed : int >= 0
    eval_seed : int >= 0
        Seed of every evaluation episode (the same start each time).
    log_figure : bool
        Also record the distribution figure (matplotlib; about 0.1 s each).
    verbose : int
        1 prints one line per evaluation.

    Attributes
    ----------
    history : list of (int, EvaluationResult)
        Every evaluation with its agent-step count.
    evaluator : Evaluator
        The evaluation routine (set when training starts), with its timings.
    """

    def __init__(self, eval_env: object, eval_freq: int = 10_000,
                 equilibrium: EquilibriumSummary | None = None, equilibrium_seed: int = 0,
                 eval_seed: int = 0, log_figure: bool = True, verbose: int = 0) -> None:
        super().__init__(verbose)
        self.eval_env = eval_env
        self.eval_freq = check_int("eval_freq", eval_freq, 1)
        self.equilibrium = equilibrium
        self.equilibrium_seed = check_int("equilibrium_seed", equilibrium_seed, 0)
        self.eval_seed = check_int("eval_seed", eval_seed, 0)
        self.log_figure = bool(log_figure)
        self.evaluator: Evaluator | None = None
        self._last_eval: int | None = None
        self._total: int | None = None

    @property
    def history(self) -> list[tuple[int, EvaluationResult]]:
        """Every evaluation with its agent-step count."""
        return [] if self.evaluator is None else self.evaluator.history

    def _init_callback(self) -> None:
        if self.equilibrium is None:
            self.equilibrium = summarize_equilibrium(unwrap(self.eval_env).game,
                                                     self.equilibrium_seed)
        if self.evaluator is None:
            self.evaluator = Evaluator(self.eval_env, self.equilibrium, self.eval_seed,
                                       self.logger, self.log_figure, self.verbose)
        self.evaluator.logger = self.logger

    def _on_training_start(self) -> None:
        self._total = self.locals.get("total_timesteps")
        if self._last_eval != self.num_timesteps:
            self.evaluate_now()

    def _on_step(self) -> bool:
        if self._total is not None and self.num_timesteps >= self._total:
            return True  # the last rollout: the model updates once more, then the end evaluates
        if self._last_eval is None or self.num_timesteps - self._last_eval >= self.eval_freq:
            self.evaluate_now()
        return True

    def _on_training_end(self) -> None:
        if self._last_eval != self.num_timesteps:
            self.evaluate_now()

    @property
    def last(self) -> EvaluationResult | None:
        """The latest evaluation, if any."""
        return self.history[-1][1] if self.history else None

    def evaluate_now(self) -> EvaluationResult:
        """Evaluate, record every tag and write them at step ``num_timesteps``."""
        assert self.evaluator is not None  # set by _init_callback
        result = self.evaluator(self.model, self.num_timesteps)
        self._last_eval = self.num_timesteps
        return result


def evaluate_and_record(policy: object, eval_env: object, equilibrium: EquilibriumSummary,
                        seed: int, logger: Logger, step: int,
                        history: list[tuple[int, EvaluationResult]],
                        log_figure: bool = True) -> EvaluationResult:
    """One evaluation (``evaluate``) at agent-step ``step``: appended to ``history``,
    recorded (``record_evaluation``) and written by ``logger`` at ``step``."""
    result = evaluate(policy, eval_env, equilibrium, seed=seed)
    history.append((step, result))
    record_evaluation(logger, result, log_figure)
    logger.dump(step)
    return result


def record_evaluation(logger: Logger, result: EvaluationResult, log_figure: bool = True) -> None:
    """Record every ``eval/*`` tag of the module docstring for ``result`` in ``logger``
    (an SB3 ``Logger``; the caller dumps it at its step)."""
    record = logger.record
    eq = result.equilibrium
    record("eval/nash_conv", result.nash_conv)
    record("eval/nash_conv_relative", result.nash_conv_relative)
    record("eval/producer_reward_mean", result.producer_utility_mean)
    record("eval/producer_reward_min", result.producer_utility_min)
    record("eval/user_welfare", result.user_welfare)
    record("eval/features_used", result.features_used)
    record("eval/concentrated_share", result.concentrated_share)
    record("eval/tv_to_equilibrium", result.tv_to_equilibrium)
    for i, value in enumerate(result.producer_utilities):
        record(f"eval/producer_reward/producer_{i}", float(value))
    record("eval/equilibrium/producer_reward_mean", float(eq.producer_payoffs_per_user.mean()))
    record("eval/equilibrium/user_welfare", eq.user_welfare)
    record("eval/equilibrium/nash_conv", eq.nash_conv_per_user)
    record("eval/equilibrium/nash_conv_relative", eq.nash_conv_relative)
    record("eval/equilibrium/concentrated_share", eq.concentrated_share)
    record("eval/content_weights", result.profile.ravel().astype(np.float32),
           exclude=_TEXT_OUTPUTS)
    if log_figure:
        record("eval/distribution", Figure(learned_vs_equilibrium_figure(result), close=True),
               exclude=_TEXT_OUTPUTS)


def learned_vs_equilibrium_figure(result: EvaluationResult) -> object:
    """Bars per feature: learned producers, equilibrium producers, users (a matplotlib Figure)."""
    from matplotlib.figure import Figure as MplFigure  # no pyplot: no global figure state

    d = result.distribution.size
    features = np.arange(d)
    figure = MplFigure(figsize=(max(4.0, 0.6 * d + 2.0), 3.0))
    axes = figure.subplots()
    width = 0.27
    axes.bar(features - width, result.distribution, width, label="producers (learned)")
    axes.bar(features, result.equilibrium.producer_distribution, width,
             label="producers (equilibrium)")
    axes.bar(features + width, result.user_distribution, width, label="users")
    axes.set_xticks(features)
    axes.set_xlabel("feature")
    axes.set_ylabel("share")
    axes.legend(fontsize="small")
    figure.tight_layout()
    return figure
