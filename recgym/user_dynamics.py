r"""User-dynamics models: how what users are shown changes what they want.

After each epoch of the ecosystem (``recgym.coevolve``) every user still active
updates its embedding ``c_k`` from what it was served
(``recgym.game.Serving``: the active producers' ratings ``r_ki``, serving
probabilities ``p_i(c_k)`` and strategies ``s_i``). Every model keeps ``c_k >= 0`` and
the user's L1 norm ``||c_k||_1`` (its total appetite), so only the direction moves:

==========================  =========================================================
spec                        update of ``c_k``
==========================  =========================================================
``static`` (default)        none: users never change
``exposure:rate=b``         ``(1 - b) c_k + b ||c_k||_1 m_k / ||m_k||_1`` with
                            ``m_k = sum_i p_i(c_k) s_i`` what the user consumed in
                            expectation (mere exposure; unchanged where ``m_k = 0``);
                            ``b`` in ``[0, 1]``
``engagement:rate=e``       ``||c_k||_1 g / ||g||_1`` with
                            ``g = c_k + e sum_i p_i(c_k) r_ki s_i``: drawn toward what
                            the user enjoyed; ``e >= 0`` (unchanged where ``g = 0``)
==========================  =========================================================

A model of your own is an immutable dataclass subclassing ``UserDynamics`` with a
``NAME``, its ``PARAMS`` and ``update``, registered with
``USER_DYNAMICS.register``; ``recgym.testing.check_user_dynamics`` checks the
contract (shapes, non-negativity, norms kept, each user's update its own). Updates
are vectorised over users: one model update costs about one utility pass.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from recgym.game import Serving
from recgym.registry import Declared, Param, Registry

__all__ = ["USER_DYNAMICS", "Engagement", "Exposure", "Static", "UserDynamics",
           "make_user_dynamics"]


class UserDynamics(Declared, ABC):
    """Interface of a user-dynamics model (an immutable dataclass with declared ``PARAMS``)."""

    #: The model never changes anybody (the engine then skips the update).
    static: ClassVar[bool] = False

    @abstractmethod
    def update(self, users: np.ndarray, serving: Serving) -> np.ndarray:
        """New embeddings ``(K, d)`` of the active users ``(K, d)`` after they were served
        as ``serving`` says (its rows are the same users); must not modify ``users``."""

    def __post_init__(self) -> None:
        self._check_params()


#: User-dynamics models by name.
USER_DYNAMICS: Registry[UserDynamics] = Registry("user dynamics", UserDynamics)


def _rescaled(directions: np.ndarray, norms: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Rows of ``directions`` ``(K, d)`` rescaled to L1 norms ``norms`` ``(K,)``; rows with
    zero mass are ``fallback``'s."""
    mass = directions.sum(axis=1)
    positive = mass > 0
    if positive.all():  # the common case: one pass, no masking
        return directions * (norms / mass)[:, None]
    safe = np.where(positive, mass, 1.0)
    return np.where(positive[:, None], directions * (norms / safe)[:, None], fallback)


@USER_DYNAMICS.register
@dataclass(frozen=True)
class Static(UserDynamics):
    """Users never change."""

    NAME: ClassVar[str] = "static"
    static: ClassVar[bool] = True

    def update(self, users: np.ndarray, serving: Serving) -> np.ndarray:
        return users.copy()


@USER_DYNAMICS.register
@dataclass(frozen=True)
class Exposure(UserDynamics):
    """Mere exposure: each user moves a share ``rate`` toward what it consumed."""

    NAME: ClassVar[str] = "exposure"
    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param("rate", float, 0.1, low=0.0, high=1.0,
              doc="b: share of the way toward the consumed content per epoch"),)
    rate: float = 0.1

    def update(self, users: np.ndarray, serving: Serving) -> np.ndarray:
        norms = users.sum(axis=1)
        toward = _rescaled(serving.consumed, norms, users)  # ||c_k||_1 m_k / ||m_k||_1
        toward *= self.rate  # a new array: (1 - b) c_k + b toward_k without temporaries
        toward += (1.0 - self.rate) * users
        return toward


@USER_DYNAMICS.register
@dataclass(frozen=True)
class Engagement(UserDynamics):
    """Drawn toward what the user enjoyed, in proportion to the engagement it brought."""

    NAME: ClassVar[str] = "engagement"
    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param("rate", float, 1.0, low=0.0,
              doc="e: weight of the enjoyed content against the current preferences"),)
    rate: float = 1.0

    def update(self, users: np.ndarray, serving: Serving) -> np.ndarray:
        pulled = users + self.rate * serving.enjoyed
        return _rescaled(pulled, users.sum(axis=1), users)


def make_user_dynamics(spec: str | UserDynamics) -> UserDynamics:
    """A model from its spec string (``"exposure:rate=0.2"``) or an instance.

    Raises
    ------
    ValueError
        An unknown model or parameter, or a rate outside its range.
    """
    return USER_DYNAMICS.make(spec)
