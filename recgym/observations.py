r"""What each producer observes in the recgym environment: one flat ``float32`` vector.

Every producer's observation has the same shape, so one policy can be shared by
all of them (parameter sharing). With ``n`` producers and ``d`` features:

==================  ======================================================  ==========
slice               meaning                                                 bounds
==================  ======================================================  ==========
``[0, d)``          own current (projected) embedding ``s_i``               ``[0, 1]``
``[d, 2d)``         the others' mean embedding ``sum_{j != i} s_j / (n-1)``  ``[0, 1]``
                    over the producers still in the game (zeros when
                    there are none); order-invariant
``[2d, 3d)``        the current users' demand per feature                   ``[0, 1]``
                    ``U.sum(0) / U.sum()`` over the users still active
                    (zeros once every user has left)
``3d``              own reward of the last step (after ``reset``: at the     ``[r_min, r_max]``
                    starting profile)
``[3d+1, 3d+1+n)``  one-hot producer id (only with ``agent_ids=True``)       ``{0, 1}``
==================  ======================================================  ==========

With static users who never leave (the default) the observation is a function of
the current profile only, so it is Markov; with user dynamics or departures
(``recgym.environment``, "Users who change and leave") the users are summarised
by their demand per feature. The others' mean is formed from the others' rows
directly (a fixed ``(n, n)`` averaging matrix), never as "total minus own".
``[r_min, r_max]`` is the environment's reward range (see ``recgym.environment``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from gymnasium.spaces import Box


@dataclass(frozen=True)
class ObservationParts:
    """One observation split into its named parts (``float64`` copies).

    Attributes
    ----------
    own : array, shape (d,)
        The producer's own embedding.
    others_mean : array, shape (d,)
        The other producers' mean embedding.
    user_distribution : array, shape (d,)
        The current users' demand per feature.
    reward : float
        The producer's reward at the current profile.
    agent_index : int or None
        The producer's index from the one-hot id, ``None`` without ids.
    """

    own: np.ndarray
    others_mean: np.ndarray
    user_distribution: np.ndarray
    reward: float
    agent_index: int | None


@dataclass(frozen=True)
class ObservationLayout:
    """Positions of the parts of an observation, and how to build and read them.

    Parameters
    ----------
    n_producers : int
        ``n``.
    dim : int
        ``d``.
    agent_ids : bool
        Append a one-hot producer id.
    """

    n_producers: int
    dim: int
    agent_ids: bool

    @property
    def size(self) -> int:
        """Length of one observation: ``3 d + 1`` (``+ n`` with agent ids)."""
        return 3 * self.dim + 1 + (self.n_producers if self.agent_ids else 0)

    @property
    def reward_index(self) -> int:
        """Position of the reward, ``3 d``."""
        return 3 * self.dim

    def space(self, reward_low: float, reward_high: float) -> Box:
        """A new ``Box`` of shape ``(size,)``, ``float32``, with the bounds of the table."""
        low = np.zeros(self.size, dtype=np.float32)
        high = np.ones(self.size, dtype=np.float32)
        low[self.reward_index], high[self.reward_index] = reward_low, reward_high
        return Box(low, high, dtype=np.float32)

    @cached_property
    def _averaging(self) -> np.ndarray:
        """``(n, n)`` matrix whose row ``i`` averages the rows ``j != i`` of a profile."""
        n = self.n_producers
        if n == 1:
            return np.zeros((1, 1))
        return (1.0 - np.eye(n)) / (n - 1)

    @cached_property
    def _template(self) -> np.ndarray:
        """``(n, size)`` observations with the one-hot ids filled in, the rest 0."""
        obs = np.zeros((self.n_producers, self.size), dtype=np.float32)
        if self.agent_ids:
            obs[:, 3 * self.dim + 1:] = np.eye(self.n_producers, dtype=np.float32)
        return obs

    def build(self, profile: np.ndarray, rewards: np.ndarray,
              user_distribution: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        """Every producer's observation, one per row.

        Parameters
        ----------
        profile : array, shape (n, d)
            Current embeddings, in the strategy set.
        rewards : array, shape (n,)
            Current rewards.
        user_distribution : array, shape (d,)
            The current users' demand per feature.
        active : bool array, shape (n,), optional
            Producers still in the game; the others' mean is over the active others
            (zeros when there are none). Default: all.

        Returns
        -------
        array, shape (n, size), float32 (a new array).
        """
        d = self.dim
        obs = self._template.copy()
        obs[:, :d] = profile
        if active is None or np.count_nonzero(active) == len(active):
            obs[:, d:2 * d] = self._averaging @ profile
        else:
            others = active[None, :] & ~np.eye(self.n_producers, dtype=bool)  # (n, n)
            count = others.sum(axis=1, keepdims=True)
            obs[:, d:2 * d] = np.divide(others @ profile, count, out=np.zeros((len(profile), d)),
                                        where=count > 0)
        obs[:, 2 * d:3 * d] = user_distribution
        obs[:, 3 * d] = rewards
        return obs

    def parse(self, observation: object) -> ObservationParts:
        """Split one observation ``(size,)`` into its parts.

        Raises
        ------
        ValueError
            If the shape is wrong, a value is not finite, or the id is not one-hot.
        """
        obs = np.asarray(observation, dtype=np.float64)
        if obs.shape != (self.size,):
            raise ValueError(f"observation must have shape ({self.size},), got shape {obs.shape}")
        if not np.all(np.isfinite(obs)):
            raise ValueError("observation must contain only finite values (no NaN or inf)")
        d = self.dim
        agent_index = None
        if self.agent_ids:
            one_hot = obs[3 * d + 1:]
            if np.count_nonzero(one_hot) != 1 or one_hot.max() != 1.0:
                raise ValueError(f"observation's agent id (entries {3 * d + 1}..{self.size - 1}) "
                                 f"must be one-hot, got {one_hot.tolist()}")
            agent_index = int(np.argmax(one_hot))
        return ObservationParts(obs[:d].copy(), obs[d:2 * d].copy(), obs[2 * d:3 * d].copy(),
                                float(obs[3 * d]), agent_index)
