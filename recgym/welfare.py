r"""Social choice functions (SCFs): one number that judges a profile for users and producers.

An SCF is any callable ``scf(utilities) -> float`` where ``utilities`` is
``EngagementGame.utilities(profile, active)`` (``recgym.game.Utilities``): the
producers' payoffs, the users' utilities, the user weights and their total ``W``
(``K`` with unit weights), and which producers are still active. Every built-in
reports **per user** (sums over users divided by ``W``), over the users and the
active producers:

======================== =================================================================
spec                     value
======================== =================================================================
``user_welfare``         ``(1/W) sum_k w_k v_k``
``producer_welfare``     ``(1/W) sum_i pi_i``
``utilitarian:lam=L``    ``L * user_welfare + (1 - L) * producer_welfare``, ``L`` in [0, 1]
``user_min``             ``min_k v_k`` over users of positive weight (the worst-off user)
``producer_min``         ``(1/W) min_i pi_i`` (the worst-off producer)
``alpha_fair:alpha=A``   ``sum_i u_i^(1-A) / (1-A)`` with ``u_i = pi_i / W``; ``A = 1`` is
                         ``sum_i log u_i`` (Nash welfare), ``A = 0`` is producer welfare,
                         large ``A`` orders like ``producer_min``
``viable_producers:o=O`` the number of producers with ``pi_i / W >= O``
======================== =================================================================

``alpha_fair`` is defined for positive payoffs; where some ``u_i <= 0`` with
``A >= 1``, or some ``u_i < 0`` with ``A < 1``, its value is ``-inf`` (the worst
value, documented, not an error).

Under the engagement payoff ``sum_i u_i = sum_k v_k``, so ``user_welfare`` equals
``producer_welfare``; the trade-offs lie in distributions (worst-off user or
producer, Nash welfare), in other payoffs, and over time.

``parse("utilitarian:lam=0.5")`` builds an SCF from its spec string (the command
line's form); ``value(scf, utilities)`` evaluates any SCF and refuses NaN;
``user_welfare_upper_bound(users)`` is the bound no rule, payoff or profile can
beat: every rating is at most ``max_f c_kf``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from recgym.game import Utilities
from recgym.registry import Declared, Param, Registry

#: ``scf(utilities) -> float``: what every function here accepts as an SCF.
SocialChoice = Callable[[Utilities], float]

__all__ = ["SCFS", "SocialChoice", "alpha_fair", "name_of", "parse", "producer_min",
           "producer_welfare", "user_min", "user_welfare", "user_welfare_upper_bound",
           "utilitarian", "value", "viable_producers"]


class SCF(Declared, ABC):
    """A registered social choice function (an immutable dataclass with ``PARAMS``)."""

    @abstractmethod
    def __call__(self, utilities: Utilities) -> float:
        """The SCF's value at ``utilities``."""


def _user_welfare(u: Utilities) -> float:
    return u.user_total / u.total_weight


def _payoffs_per_user(u: Utilities) -> np.ndarray:
    """Active producers' payoffs divided by the total user weight."""
    return u.payoff[u.active] / u.total_weight


#: Social choice functions by name.
SCFS: Registry[SCF] = Registry("social choice function", SCF)


@SCFS.register
@dataclass(frozen=True)
class UserWelfare(SCF):
    """Mean user utility ``(1/W) sum_k w_k v_k``."""

    NAME: ClassVar[str] = "user_welfare"

    def __call__(self, utilities: Utilities) -> float:
        return _user_welfare(utilities)


@SCFS.register
@dataclass(frozen=True)
class ProducerWelfare(SCF):
    """Total payoff of the active producers per user ``(1/W) sum_i pi_i``."""

    NAME: ClassVar[str] = "producer_welfare"

    def __call__(self, utilities: Utilities) -> float:
        return float(_payoffs_per_user(utilities).sum())


@SCFS.register
@dataclass(frozen=True)
class Utilitarian(SCF):
    """``lam * user_welfare + (1 - lam) * producer_welfare``."""

    lam: float = 0.5
    NAME: ClassVar[str] = "utilitarian"
    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param("lam", float, 0.5, low=0.0, high=1.0, doc="weight of the users"),)

    def __post_init__(self) -> None:
        self._check_params()

    def __call__(self, utilities: Utilities) -> float:
        return (self.lam * _user_welfare(utilities)
                + (1.0 - self.lam) * float(_payoffs_per_user(utilities).sum()))


@SCFS.register
@dataclass(frozen=True)
class UserMin(SCF):
    """The worst-off user's utility ``min_k v_k`` (users of positive weight)."""

    NAME: ClassVar[str] = "user_min"

    def __call__(self, utilities: Utilities) -> float:
        users = utilities.user
        if utilities.user_weights is not None:
            users = users[utilities.user_weights > 0]
        return float(users.min())


@SCFS.register
@dataclass(frozen=True)
class ProducerMin(SCF):
    """The worst-off active producer's payoff per user ``(1/W) min_i pi_i`` (``nan`` with
    no active producer is refused by ``value``; ``-inf`` is returned instead)."""

    NAME: ClassVar[str] = "producer_min"

    def __call__(self, utilities: Utilities) -> float:
        payoffs = _payoffs_per_user(utilities)
        return float(payoffs.min()) if payoffs.size else -math.inf


@SCFS.register
@dataclass(frozen=True)
class AlphaFair(SCF):
    """``sum_i u_i^(1-alpha) / (1-alpha)``, ``u_i = pi_i / W`` (``alpha = 1``: Nash welfare)."""

    alpha: float = 1.0
    NAME: ClassVar[str] = "alpha_fair"
    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param("alpha", float, 1.0, low=0.0, doc="inequality aversion"),)

    def __post_init__(self) -> None:
        self._check_params()

    def __call__(self, utilities: Utilities) -> float:
        u = _payoffs_per_user(utilities)
        if u.size == 0 or np.any(u < 0) or (self.alpha >= 1 and np.any(u <= 0)):
            return -math.inf
        if self.alpha == 1.0:
            return float(np.log(u).sum())
        return float((u ** (1.0 - self.alpha)).sum() / (1.0 - self.alpha))


@SCFS.register
@dataclass(frozen=True)
class ViableProducers(SCF):
    """The number of active producers whose payoff per user is at least ``o``."""

    o: float = 0.0
    NAME: ClassVar[str] = "viable_producers"
    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param("o", float, 0.0, doc="payoff per user a producer needs"),)

    def __post_init__(self) -> None:
        self._check_params()

    def __call__(self, utilities: Utilities) -> float:
        return float(np.count_nonzero(_payoffs_per_user(utilities) >= self.o))


user_welfare = UserWelfare()
producer_welfare = ProducerWelfare()
user_min = UserMin()
producer_min = ProducerMin()


def utilitarian(lam: float) -> Utilitarian:
    """``lam * user_welfare + (1 - lam) * producer_welfare``, ``lam`` in [0, 1]."""
    return Utilitarian(lam)


def alpha_fair(alpha: float) -> AlphaFair:
    """Alpha-fair welfare of the producers, ``alpha >= 0``."""
    return AlphaFair(alpha)


def viable_producers(o: float) -> ViableProducers:
    """The number of producers earning at least ``o`` per user."""
    return ViableProducers(o)


def parse(spec: str | SocialChoice) -> SocialChoice:
    """An SCF from its spec string (``"utilitarian:lam=0.5"``); callables pass through.

    Raises
    ------
    ValueError
        Unknown name (lists the names) or parameter, a value out of range.
    """
    if callable(spec) and not isinstance(spec, str):
        return spec
    return SCFS.make(spec)


def name_of(scf: SocialChoice) -> str:
    """The column name of an SCF: its spec string, or a callable's ``__name__``."""
    if isinstance(scf, SCF):
        return scf.spec
    return getattr(scf, "__name__", None) or repr(scf)


def value(scf: SocialChoice, utilities: Utilities) -> float:
    """``scf(utilities)`` as a float; ``ValueError`` naming the SCF if it is NaN."""
    result = float(scf(utilities))
    if math.isnan(result):
        raise ValueError(f"social choice function {name_of(scf)} returned NaN; an SCF must "
                         "return a number (-inf and inf are allowed)")
    return result


def user_welfare_upper_bound(users: np.ndarray, weights: np.ndarray | None = None) -> float:
    """``(1/W) sum_k w_k max_f c_kf``: no rule, payoff or profile gives users more."""
    users = np.asarray(users, dtype=float)
    best = users.max(axis=1)
    if weights is None:
        return float(best.mean())
    weights = np.asarray(weights, dtype=float)
    return float(best @ weights / weights.sum())
