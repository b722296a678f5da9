r"""Independent learners: one SB3 model per producer, all learning at once in the same games.

Each producer ``i`` has its own model (PPO, SAC or TD3), trained by that model's
own, unmodified ``learn`` on a *view* of the shared environment: a ``VecEnv``
whose sub-environments are producer ``i`` in each of the ``C`` copies of the
game. All producers must act before any copy can step, so the views are
synchronised by a coordinator.

How the models take turns
-------------------------
Every model's ``learn`` runs in its own thread, but only one thread runs at a
time (a baton is passed, as between coroutines), so the run is deterministic
for a given seed and no two models touch torch's random generator at once:

1. the coordinator hands the baton to producer 0's thread, which runs SB3's own
   code (collecting, training, logging, callbacks) until its view's
   ``step_wait`` is called; the view stores the actions and hands the baton back;
2. the same for producers ``1 .. n-1``;
3. the coordinator steps the copies with everybody's actions
   (``ProducerVecEnv``, auto-reset included), hands each view its slice of the
   results and calls the population's callback;
4. repeat. A model whose ``learn`` has finished (PPO stops at a multiple of its
   rollout) keeps playing its deterministic policy until all have finished.

One ``seed`` seeds everything: the copies are reset with ``seed + c`` (copy
``c``), and model ``i`` is built with SB3 ``seed = seed + i``.

Logging: model ``i``'s standard SB3 logs go to ``logdir/producer_i``; the
population's logger (``self.logger``, used by callbacks such as
``EquilibriumEvalCallback``) writes to ``logdir`` itself, so one run directory
holds the whole population.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pettingzoo import ParallelEnv
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.vec_env import VecEnv, VecMonitor
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices

from agents.progress import ProgressCallback
from agents.rl.adapter import ProducerVecEnv
from agents.rl.algorithms import check_algo, make_model, tensorboard_logger
from recgym._validation import check_int

__all__ = ["IndependentLearners"]


class _Stop(BaseException):
    """Unwinds a model's ``learn`` when the population stops early (not an error)."""


class _Baton:
    """Passes control between the coordinator and the producers' threads, one at a time."""

    def __init__(self, n: int) -> None:
        self.turns = [threading.Semaphore(0) for _ in range(n)]  # producer i may run
        self.back = threading.Semaphore(0)  # the coordinator may run
        self.stopping = False

    def run(self, i: int) -> None:
        """Coordinator: let producer ``i`` run until it yields back."""
        self.turns[i].release()
        self.back.acquire()

    def wait_turn(self, i: int) -> None:
        """Producer ``i``: wait for the baton (raises ``_Stop`` when stopping)."""
        self.turns[i].acquire()
        if self.stopping:
            raise _Stop

    def yield_back(self) -> None:
        self.back.release()


class _ProducerView(VecEnv):
    """Producer ``i`` of every copy, as the ``VecEnv`` its model learns on."""

    def __init__(self, population: IndependentLearners, index: int) -> None:
        self.population = population
        self.index = index
        venv = population.venv
        super().__init__(venv.n_copies, copy.deepcopy(venv.observation_space),
                         copy.deepcopy(venv.action_space))
        self._rows = slice(index, None, venv.n_agents)  # sub-envs c n + i of the joint env
        self.results: tuple[Any, ...] | None = None  # set by the coordinator after each step

    def reset(self) -> np.ndarray:
        """The current observations (the coordinator resets the copies, not the views)."""
        venv = self.population.venv
        self.reset_infos = venv.reset_infos[self._rows]
        return self.population.observations[self._rows].copy()

    def seed(self, seed: int | None = None) -> list[int | None]:
        """No-op: the copies are seeded by ``IndependentLearners``."""
        return [None] * self.num_envs

    def step_async(self, actions: np.ndarray) -> None:
        self.population.submit(self.index, actions)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        baton = self.population.baton
        baton.yield_back()
        baton.wait_turn(self.index)
        assert self.results is not None, "the coordinator did not deliver the step"
        results, self.results = self.results, None
        return results

    def close(self) -> None:
        """The copies belong to the population (``IndependentLearners.close``)."""

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        return self.population.venv.get_attr(attr_name, self._joint(indices))

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        self.population.venv.set_attr(attr_name, value, self._joint(indices))

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None,
                   **method_kwargs: Any) -> list[Any]:
        return self.population.venv.env_method(method_name, *method_args,
                                                indices=self._joint(indices), **method_kwargs)

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        return [False] * len(self._get_indices(indices))

    def _joint(self, indices: VecEnvIndices) -> list[int]:
        n = self.population.venv.n_agents
        return [c * n + self.index for c in self._get_indices(indices)]


class IndependentLearners:
    """One SB3 model per producer, trained simultaneously against each other.

    Parameters
    ----------
    envs : ParallelEnv or sequence of ParallelEnv
        Copies of the game (as for ``ProducerVecEnv``); owned from now on.
    algo : {"ppo", "sac", "td3"}
        The algorithm of every producer's model.
    seed : int >= 0
        Seeds everything (module docstring).
    logdir : str or Path, optional
        Run directory for TensorBoard (module docstring); no files without it.
    device : str
        Torch device of the models.
    verbose : int
        SB3 verbosity of every model.
    **algo_kwargs
        Arguments of every model's ``agents.rl.algorithms.make_model``: SB3 constructor
        arguments and ``torch_threads`` (default 1, as in ``recgym train``).

    Attributes
    ----------
    models : list of BaseAlgorithm
        Model ``i`` plays ``possible_agents[i]``.
    num_timesteps : int
        Agent-steps taken so far (every producer of every copy counts one per step).
    logger : stable_baselines3.common.logger.Logger
        The population's logger.

    Examples
    --------
    >>> import recgym
    >>> from agents.rl import IndependentLearners
    >>> envs = [recgym.parallel_env(n_producers=2, dim=2, n_users=20, horizon=4)]
    >>> learners = IndependentLearners(envs, algo="ppo", seed=0, n_steps=8, batch_size=8)
    >>> learners.learn(32).num_timesteps
    32
    """

    def __init__(self, envs: ParallelEnv | Sequence[ParallelEnv], algo: str = "ppo",
                 seed: int = 0, logdir: str | Path | None = None, device: str = "cpu",
                 verbose: int = 0, **algo_kwargs: Any) -> None:
        self.algo = check_algo(algo)
        self.seed = check_int("seed", seed, 0)
        self.venv = ProducerVecEnv(envs)
        self.logdir = None if logdir is None else Path(logdir)
        self.n_producers = self.venv.n_agents
        self.num_timesteps = 0
        self.observations = np.zeros((self.venv.num_envs, *self.venv.observation_space.shape),
                                     dtype=self.venv.observation_space.dtype)
        self.baton = _Baton(self.n_producers)
        self._actions: list[np.ndarray | None] = [None] * self.n_producers
        self.views = [_ProducerView(self, i) for i in range(self.n_producers)]
        self.models: list[BaseAlgorithm] = [
            make_model(self.algo, VecMonitor(view), seed=self.seed + i, device=device,
                       verbose=verbose, **copy.deepcopy(algo_kwargs))
            for i, view in enumerate(self.views)]
        self.logger: Logger = tensorboard_logger(self.logdir)
        for i, model in enumerate(self.models):
            model.set_logger(tensorboard_logger(None if self.logdir is None
                                                else self.logdir / f"producer_{i}"))
        self.venv.seed(self.seed)  # the first reset of the copies uses seed + c

    # ------------------------------------------------------------------ duck-typed SB3 model
    def get_env(self) -> ProducerVecEnv:
        """The joint environment (what callbacks see as ``training_env``)."""
        return self.venv

    def submit(self, index: int, actions: np.ndarray) -> None:
        """Called by producer ``index``'s view: its actions ``(C, d)`` for the next step."""
        self._actions[index] = np.asarray(actions)

    # ------------------------------------------------------------------ training
    def learn(self, total_timesteps: int, callback: BaseCallback | list | None = None,
              log_interval: int | None = None, progress_bar: bool = False
              ) -> IndependentLearners:
        """Train every model for ``total_timesteps`` agent-steps in all (about ``/ n`` each),
        counting ``num_timesteps`` from 0 (as SB3's ``learn`` does by default).

        Parameters
        ----------
        total_timesteps : int >= 1
            Agent-steps over all producers, as ``num_timesteps`` counts them.
        callback : BaseCallback or list of them, optional
            Population callbacks: initialised with this object as their ``model``,
            called once per joint step; returning False stops every model.
        log_interval : int, optional
            Passed to every model's ``learn`` (default: the algorithm's own).
        progress_bar : bool
            Show a bar of the agent-steps on stderr (``agents.progress.ProgressCallback``).

        Returns
        -------
        self
        """
        total = check_int("total_timesteps", total_timesteps, 1)
        per_model = -(-total // self.n_producers)
        callback = _as_callback(callback)
        if progress_bar:
            others = [] if callback is None else [callback]
            callback = CallbackList([ProgressCallback(), *others])
        self.num_timesteps = 0
        self.observations = self.venv.reset()
        if callback is not None:
            callback.init_callback(self)
            callback.on_training_start(locals(), globals())
        errors: dict[int, BaseException] = {}
        finished = [False] * self.n_producers
        threads = [threading.Thread(target=self._work, args=(i, per_model, log_interval,
                                                             errors, finished),
                                    name=f"recgym-producer-{i}", daemon=True)
                   for i in range(self.n_producers)]
        for thread in threads:
            thread.start()
        try:
            self._coordinate(finished, errors, callback)
        finally:
            self._stop(finished)
            for thread in threads:
                thread.join()
        if errors:
            index, error = next(iter(errors.items()))
            raise RuntimeError(f"producer_{index}'s model failed while learning") from error
        if callback is not None:
            callback.on_training_end()
        return self

    def _work(self, i: int, total: int, log_interval: int | None,
              errors: dict[int, BaseException], finished: list[bool]) -> None:
        """Thread body: producer ``i``'s model learns, one baton turn at a time."""
        extra = {} if log_interval is None else {"log_interval": log_interval}
        try:
            self.baton.wait_turn(i)
            self.models[i].learn(total, reset_num_timesteps=True, **extra)
        except _Stop:
            pass
        except BaseException as error:  # reported by the coordinator in the main thread
            errors[i] = error
        finally:
            finished[i] = True
            self.baton.yield_back()

    def _coordinate(self, finished: list[bool], errors: dict[int, BaseException],
                    callback: BaseCallback | None) -> None:
        """Main loop: collect every producer's actions, step the copies, deliver results."""
        n = self.n_producers
        while True:
            # Each producer still learning runs until it submits actions (or finishes).
            for i in range(n):
                if not finished[i]:
                    self._actions[i] = None
                    self.baton.run(i)
                    if errors:
                        return
            if all(finished):
                return
            # Finished producers play their deterministic policy.
            for i in range(n):
                if finished[i]:
                    self._actions[i] = self.models[i].predict(self.observations[i::n],
                                                              deterministic=True)[0]
            joint = np.empty((self.venv.num_envs, *self.venv.action_space.shape),
                             dtype=self.venv.action_space.dtype)
            for i in range(n):
                joint[i::n] = self._actions[i]
            obs, rewards, dones, infos = self.venv.step(joint)
            self.observations = obs
            for i, view in enumerate(self.views):
                view.results = (obs[i::n].copy(), rewards[i::n].copy(), dones[i::n].copy(),
                                infos[i::n])
            self.num_timesteps += self.venv.num_envs
            if callback is not None:
                callback.update_locals(locals())
                if not callback.on_step():
                    return

    def _stop(self, finished: list[bool]) -> None:
        """Unwind every thread still inside ``learn``."""
        self.baton.stopping = True
        for i in range(self.n_producers):
            if not finished[i]:
                self.baton.run(i)
        self.baton.stopping = False

    # ------------------------------------------------------------------ files
    def save(self, folder: str | Path) -> list[Path]:
        """Save model ``i`` as ``folder/producer_i.zip``; returns the paths."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = [folder / f"producer_{i}.zip" for i in range(self.n_producers)]
        for model, path in zip(self.models, paths, strict=True):
            model.save(path)
        return paths

    def close(self) -> None:
        """Close the loggers and the copies of the game."""
        for model in self.models:
            model.logger.close()
        self.logger.close()
        self.venv.close()


def _as_callback(callback: BaseCallback | list | None) -> BaseCallback | None:
    if callback is None or isinstance(callback, BaseCallback):
        return callback
    if isinstance(callback, list):
        return CallbackList(callback)
    raise TypeError(f"callback must be a BaseCallback, a list of them or None, "
                    f"got {type(callback).__name__}")
