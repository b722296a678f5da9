"""A training progress bar on stderr for SB3 learners (stdout stays for results).

SB3's own ``progress_bar=True`` draws with rich on stdout, which mixes the bar
into piped output; ``ProgressCallback`` draws a tqdm bar on stderr and counts
agent-steps from the learner's ``num_timesteps``, so it also works with
``agents.rl.IndependentLearners``.
"""

from __future__ import annotations

import sys

from stable_baselines3.common.callbacks import BaseCallback
from tqdm import tqdm

__all__ = ["ProgressCallback"]


class ProgressCallback(BaseCallback):
    """A tqdm bar of the steps of one ``learn`` call, on stderr.

    Parameters
    ----------
    unit : str
        What a step is called in the bar (singular).

    Examples
    --------
    >>> import recgym
    >>> from agents.progress import ProgressCallback
    >>> from agents.rl import shared_model
    >>> model = shared_model([recgym.parallel_env(n_producers=2, dim=2, n_users=20)],
    ...                      n_steps=8)
    >>> model.learn(32, callback=ProgressCallback()).num_timesteps  # doctest: +SKIP
    32
    """

    def __init__(self, unit: str = "agent-step") -> None:
        super().__init__()
        self.unit = unit
        self.bar: tqdm | None = None
        self._start = 0

    def _on_training_start(self) -> None:
        self._start = self.model.num_timesteps
        total = self.locals.get("total_timesteps")
        self.bar = tqdm(total=None if total is None else max(total - self._start, 0),
                        unit=f" {self.unit}s", unit_scale=True, file=sys.stderr, dynamic_ncols=True)

    def _on_step(self) -> bool:
        if self.bar is None:
            return True
        done = self.model.num_timesteps - self._start
        if self.bar.total is not None:
            done = min(done, self.bar.total)  # the last rollout may overshoot the total
        if done > self.bar.n:
            self.bar.update(done - self.bar.n)
        return True

    def _on_training_end(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
