r"""Producer payoffs: what the platform credits each producer with (reward mechanisms).

The serving rule decides who is shown; the payoff decides what a producer earns
from it. Each payoff is defined once, per user, from the producer's serving
``recgym.served.Served`` at its own rating ``x`` (shown with probability ``p(x)``;
the others bring the user ``q(x)``; ``W_-i`` is the user's welfare without the
producer):

============  ======================================  ==============================
name          per-user value                          meaning
============  ======================================  ==============================
engagement    ``x p(x)``                              the paper's payoff ``u_i``
exposure      ``p(x)``                                expected users served ``x_i``
marginal      ``x p(x) + q(x) - W_-i``                ``W(S) - W(S_-i)``, the marginal
                                                      welfare contribution
============  ======================================  ==============================

A producer's payoff is the (user-weighted) sum of the per-user values. Best
responses, NashConv, the vertex table of the dynamics, gradients and the
environment's rewards all evaluate this one definition (``slope`` is its derivative
in ``x``, for gradient searches).

``marginal`` makes the game an exact potential game with potential
``W = sum_k v_k`` (a deviation changes the deviator's payoff by exactly the change in
``W``). Its payoffs can be negative, so its vertex search includes the zero
strategy (``searches_zero``) and its reward range is ``[-bound, bound]``.

Payoffs are registered by name in ``PAYOFFS`` and built with ``make_payoff``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from recgym.registry import Declared, Registry
from recgym.served import Served


class Payoff(Declared, ABC):
    """Interface of a payoff (an immutable dataclass with declared ``PARAMS``)."""

    #: Never negative (engagement, exposure).
    nonnegative: ClassVar[bool] = True
    #: The zero strategy can be a best response, so vertex searches include it.
    searches_zero: ClassVar[bool] = False

    @abstractmethod
    def per_user(self, served: Served) -> np.ndarray:
        """The payoff per user ``(..., K)``."""

    @abstractmethod
    def slope(self, served: Served) -> np.ndarray:
        """Its derivative in the own rating ``(..., K)``."""

    @abstractmethod
    def profile_totals(self, engagement: np.ndarray, exposure: np.ndarray,
                       welfare_loss: np.ndarray | None) -> np.ndarray:
        """Payoffs ``(n,)`` of a whole profile from its engagement and exposure ``(n,)``
        and, when ``needs_welfare_loss``, each producer's ``W(S) - W(S_-i)`` ``(n,)``."""

    #: ``profile_totals`` needs ``W(S) - W(S_-i)`` for every producer.
    needs_welfare_loss: ClassVar[bool] = False

    def bound(self, users: np.ndarray, weights: np.ndarray | None = None) -> float:
        """An upper bound on one producer's payoff (sum over users), for any profile.

        Every rating is at most ``max_f c_kf`` (strategies lie in the simplex).
        """
        best = users.max(axis=1)
        return float(best.sum() if weights is None else best @ weights)

    def lower_bound(self, users: np.ndarray, weights: np.ndarray | None = None) -> float:
        """A lower bound on one producer's payoff: 0 unless payoffs can be negative."""
        return 0.0 if self.nonnegative else -self.bound(users, weights)


#: Payoffs by name.
PAYOFFS: Registry[Payoff] = Registry("payoff", Payoff)


@PAYOFFS.register
@dataclass(frozen=True)
class Engagement(Payoff):
    """``u_i = sum_k p_i(c_k) r_ki``: the engagement the producer receives (the paper's)."""

    NAME: ClassVar[str] = "engagement"

    def per_user(self, served: Served) -> np.ndarray:
        return served.engagement

    def slope(self, served: Served) -> np.ndarray:
        return served.engagement_slope

    def profile_totals(self, engagement: np.ndarray, exposure: np.ndarray,
                       welfare_loss: np.ndarray | None) -> np.ndarray:
        return engagement


@PAYOFFS.register
@dataclass(frozen=True)
class Exposure(Payoff):
    """``x_i = sum_k p_i(c_k)``: expected users served (Hron et al., ICLR 2023)."""

    NAME: ClassVar[str] = "exposure"

    def per_user(self, served: Served) -> np.ndarray:
        return served.own

    def slope(self, served: Served) -> np.ndarray:
        return served.own_slope

    def profile_totals(self, engagement: np.ndarray, exposure: np.ndarray,
                       welfare_loss: np.ndarray | None) -> np.ndarray:
        return exposure

    def bound(self, users: np.ndarray, weights: np.ndarray | None = None) -> float:
        """At most every user served: ``K`` (the total user weight)."""
        return float(users.shape[0] if weights is None else weights.sum())


@PAYOFFS.register
@dataclass(frozen=True)
class Marginal(Payoff):
    """``W(S) - W(S_-i)``: the producer's marginal contribution to user welfare
    ``W = sum_k v_k`` (Yao et al., NeurIPS 2023). Can be negative."""

    NAME: ClassVar[str] = "marginal"
    nonnegative: ClassVar[bool] = False
    searches_zero: ClassVar[bool] = True
    needs_welfare_loss: ClassVar[bool] = True

    def per_user(self, served: Served) -> np.ndarray:
        return served.engagement + served.others_value - served.welfare_without

    def slope(self, served: Served) -> np.ndarray:
        return served.engagement_slope + served.others_value_slope

    def profile_totals(self, engagement: np.ndarray, exposure: np.ndarray,
                       welfare_loss: np.ndarray | None) -> np.ndarray:
        assert welfare_loss is not None
        return welfare_loss


def make_payoff(payoff: str | Payoff = "engagement", **params: object) -> Payoff:
    """A payoff from its registered name or spec string, or a ``Payoff`` passed through.

    Raises
    ------
    ValueError
        Unknown payoff (lists the names) or parameter.
    """
    return PAYOFFS.make(payoff, **params)


__all__ = ["PAYOFFS", "Engagement", "Exposure", "Marginal", "Payoff", "make_payoff"]
