r"""The users' side of the ecosystem over time: who is still here and what they want.

One ``Population`` holds the users as they are now (embeddings ``(K, d)``, who is
still active, how many consecutive epochs each has been served below its outside
option) and runs steps 2-4 of an epoch (``recgym.coevolve``):

2. **serving** at a profile over the active producers: ``EngagementGame.serve`` in the
   game of the active users (``game()``), giving each user's utility
   ``v_k = sum_i p_i(c_k) r_ki`` and what it consumed;
3. **departures**: a user whose ``v_k < w`` (``user_outside_option``, per user) in
   ``user_patience`` consecutive epochs leaves at the end of this epoch, for good;
4. **preference update** of the users still active by the user-dynamics model
   (``recgym.user_dynamics``).

Both the epoch engine (``recgym.coevolve``) and the environments
(``recgym.parallel_env``, ``recgym.platform_env``) drive their users through this
one class. Departed users keep their last embedding and are out of every sum.

Scales: welfare figures are **per user of the starting population** (sums over
the active users divided by the starting total weight ``K``), so a departed user
counts 0; producers' outside options stay per user of that population too (a
producer's earnings fall as users leave).
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np

from recgym._validation import check_float, check_int
from recgym.game import EngagementGame, Serving, Utilities
from recgym.rules import ServingRule
from recgym.user_dynamics import UserDynamics, make_user_dynamics

__all__ = ["Population", "check_population_args"]


def check_population_args(user_dynamics: str | UserDynamics, user_outside_option: object,
                          user_patience: object) -> tuple[UserDynamics, float, int]:
    """Validated ``(model, w, P)``: a model spec or instance, ``w >= 0`` finite, ``P >= 1``.

    Raises
    ------
    ValueError
        Naming the argument and its allowed values.
    """
    try:
        model = make_user_dynamics(user_dynamics)
    except ValueError as exc:
        raise ValueError(f"user_dynamics: {exc}") from None
    option = check_float("user_outside_option", user_outside_option, 0.0)
    patience = check_int("user_patience", user_patience, 1)
    return model, option, patience


class Population:
    """The users over time (module docstring).

    Parameters
    ----------
    game : EngagementGame
        The game of the starting population: its users, weights, rule, payoff and
        the producers' outside options.
    user_dynamics : str or UserDynamics
        How users change (``recgym.user_dynamics``), default ``"static"``.
    user_outside_option : float >= 0
        ``w``: utility per epoch below which a user is unhappy.
    user_patience : int >= 1
        ``P``: unhappy epochs in a row after which a user leaves.

    Attributes
    ----------
    users : array (K, d)
        Current embeddings (departed users: their last one).
    active : bool array (K,)
        Users still on the platform.
    below : int array (K,)
        Consecutive epochs each user has been served below ``w``.
    """

    def __init__(self, game: EngagementGame, user_dynamics: str | UserDynamics = "static",
                 user_outside_option: object = 0.0, user_patience: object = 1) -> None:
        self.start: EngagementGame = game
        self.model, self.outside_option, self.patience = check_population_args(
            user_dynamics, user_outside_option, user_patience)
        #: Nothing ever changes: static users who never leave (the game stays ``start``).
        self.frozen: bool = self.model.static and self.outside_option == 0.0
        self.reset()

    def reset(self) -> None:
        """Back to the starting users, all active."""
        game = self.start
        self.users: np.ndarray = np.array(game.users)
        self.active: np.ndarray = np.ones(game.n_users, dtype=bool)
        self.below: np.ndarray = np.zeros(game.n_users, dtype=np.int64)
        self._game: EngagementGame | None = game

    def copy(self) -> Population:
        """An independent population in the same state (the games are shared: read-only)."""
        other = copy.copy(self)
        other.active, other.below = self.active.copy(), self.below.copy()
        return other  # ``users`` is replaced, never written in place

    @property
    def share_active(self) -> float:
        """Share of the starting users still active."""
        return float(np.count_nonzero(self.active)) / self.start.n_users

    @property
    def active_users(self) -> np.ndarray:
        """The active users' embeddings ``(K_a, d)``."""
        return self.users if self.active.all() else self.users[self.active]

    @property
    def active_weights(self) -> np.ndarray | None:
        """The active users' weights ``(K_a,)`` (``None`` for unit weights)."""
        weights = self.start.weights
        return weights if weights is None or self.active.all() else weights[self.active]

    def game(self, rule: ServingRule | None = None) -> EngagementGame | None:
        """The game of the active users as they are now (``None`` once all have left),
        under ``rule`` (default: the starting game's).

        Rebuilt only after a change; the producers' outside options are rescaled so
        that they stay per user of the starting population.
        """
        if rule is not None and rule != self.start.rule:
            base = self.game()
            if base is None:
                return None
            game = copy.copy(base)  # shares the validated, read-only users and vertices
            game.rule = rule
            return game
        if self._game is None and self.active.any():
            start = self.start
            weights = self.active_weights
            total = float(np.count_nonzero(self.active)) if weights is None else \
                float(weights.sum())
            if total <= 0:  # only users of weight 0 are left: nobody counts any more
                return None
            scale = start.total_weight / total
            self._game = start.with_users(self.active_users, weights,
                                          np.asarray(start.outside_option) * scale)
        return self._game

    def serve(self, profile: np.ndarray, active_producers: np.ndarray,
              rule: ServingRule | None = None) -> Serving | None:
        """Step 2: serving at ``profile`` ``(n, d)`` over ``active_producers`` ``(n,)``
        for the active users, by ``rule`` (default the game's; ``None`` once all users
        have left)."""
        game = self.game(rule)
        return None if game is None else game.serve(profile, active_producers)

    def per_start_user(self, utilities: Utilities) -> Utilities:
        """``utilities`` with sums divided by the starting population's total weight."""
        if utilities.total_weight == self.start.total_weight:
            return utilities
        return dataclasses.replace(utilities, total_weight=self.start.total_weight)

    def depart(self, serving: Serving | None) -> int:
        """Step 3: count unhappy epochs and let the users out of patience leave; returns
        how many left. ``serving=None`` (nobody left) changes nothing."""
        if serving is None or self.outside_option == 0.0:
            return 0  # v_k >= 0 > ... nobody is ever below an option of 0
        where = np.flatnonzero(self.active)
        unhappy = serving.utilities.user < self.outside_option
        below = np.where(unhappy, self.below[where] + 1, 0)
        self.below[where] = below
        leaving = where[below >= self.patience]
        if leaving.size:
            self.active[leaving] = False
            self._game = None
        return int(leaving.size)

    def epoch_end(self, serving: Serving | None) -> int:
        """Steps 3 and 4 after ``serving`` (step 2, over the users active now): departures,
        then the preference update of those still active (a user who leaves keeps the
        embedding it had); returns how many users left."""
        if serving is None:
            return 0
        n_users = self.users.shape[0]
        where = np.flatnonzero(self.active)  # the rows of ``serving``
        left = self.depart(serving)
        if self.model.static:
            return left
        new = np.asarray(self.model.update(
            self.users if where.size == n_users else self.users[where], serving), dtype=float)
        shape = (where.size, self.users.shape[1])
        if new.shape != shape or not np.isfinite(new).all() or new.min(initial=0.0) < 0:
            raise ValueError(f"user dynamics {self.model.spec!r} must return finite, "
                             f"non-negative embeddings of shape {shape}")
        if left:
            stay = self.active[where]
            users = self.users.copy()
            users[where[stay]] = new[stay]
        elif where.size < n_users:
            users = self.users.copy()
            users[where] = new
        else:
            users = new
        self.users = users
        self._game = None
        return left
