r"""What one producer gets from each user, as a function of its own ratings.

With the other producers fixed, every serving rule of recgym serves producer ``i``
to user ``k`` with probability

    p(x) = (1 - eta) * a(x) / (a(x) + B) + eta / n,

where ``x = r_ki`` is the own rating, ``a(x)`` the own weight (``x`` for linear,
``exp(x / T)`` for softmax, 1 for uniform; top-k sets it to 0 where the producer is
not among the user's top ``k``), ``B`` the weight of the others the user is served
with, ``eta`` the exposure floor and ``n`` the number of producers. The others
bring the user ``q(x) = (1 - eta) C / (a + B) + eta R / n`` with ``C`` the others'
weight times rating and ``R`` the others' rating sum. All weights may be rescaled
by a common positive factor per user (to keep exponentials finite); the formulas
are ratios and do not change.

``Served`` evaluates these lazily, with the derivatives in ``x`` that gradient
searches need, and the welfare ``W(S_-i)`` the user would get without producer ``i``
(the rule over the others only). Payoffs (``recgym.payoffs``) are combinations of
its attributes, so every path that evaluates a payoff (whole profiles, best
responses, vertex tables, gradients) goes through this one definition.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property

import numpy as np


def ratio(num: np.ndarray, den: np.ndarray, den_positive: bool = False) -> np.ndarray:
    """``num / den``, 0 where ``den == 0`` (a user no producer can reach).

    ``den_positive=True`` promises ``den > 0`` everywhere and skips the check.
    """
    if den_positive:
        return num / den
    return np.divide(num, den, out=np.zeros(np.broadcast(num, den).shape), where=den > 0)


class Served:
    """Per-user serving of one producer at own ratings ``x`` (shape ``(..., K)``).

    Parameters
    ----------
    x : array (..., K)
        Own ratings.
    own_weight, own_weight_slope : array (..., K)
        ``a(x)`` and ``da/dx`` (same scale as the others' weights).
    others_mass, others_rated : array broadcastable to (..., K)
        ``B`` and ``C`` on the same scale as ``a``.
    floor : float
        ``eta`` in ``[0, 1]``.
    n_producers : int
        ``n``, the own producer included.
    others_rating_sum : array (K,)
        ``R``, the others' ratings summed (only read when ``floor > 0``).
    welfare_without : array (K,)
        ``W(S_-i)`` per user: what the rule over the others alone gives the user.
    rated_weight : array (..., K), optional
        ``x * a(x)`` when the caller has it already (saves a pass; same values).
    den_positive : bool
        The caller guarantees ``a + B > 0`` (softmax, uniform), so no division is
        guarded.
    den : array (..., K), optional
        ``a + B`` when the caller has formed it already (e.g. in a reused buffer).
    """

    def __init__(self, x: np.ndarray, own_weight: np.ndarray, own_weight_slope: np.ndarray,
                 others_mass: np.ndarray, others_rated: np.ndarray, floor: float,
                 n_producers: int, others_rating_sum: np.ndarray,
                 welfare_without: np.ndarray, rated_weight: np.ndarray | None = None,
                 den_positive: bool = False, den: np.ndarray | None = None) -> None:
        self.x = x
        self.a = own_weight
        self.da = own_weight_slope
        self.B = others_mass
        self.C = others_rated
        self.floor = floor
        self.n = n_producers
        self.R = others_rating_sum
        self.welfare_without = welfare_without
        self._xa = rated_weight
        self._den_positive = den_positive
        if den is not None:
            self.den = den

    @cached_property
    def den(self) -> np.ndarray:
        """``a + B``: the weight of everybody the user is served with."""
        return self.a + self.B

    def _ratio(self, num: np.ndarray, den: np.ndarray) -> np.ndarray:
        return ratio(num, den, self._den_positive)

    def _mix(self, rule_part: np.ndarray, uniform_part: Callable[[], np.ndarray | float]
             ) -> np.ndarray:
        """``(1 - eta) rule_part + eta uniform_part()`` (the uniform part formed only if
        there is a floor)."""
        if self.floor == 0.0:
            return rule_part
        return (1.0 - self.floor) * rule_part + self.floor * uniform_part()

    @cached_property
    def own(self) -> np.ndarray:
        """``p(x)``: the own serving probability (exposure per user)."""
        return self._mix(self._ratio(self.a, self.den), lambda: 1.0 / self.n)

    @cached_property
    def engagement(self) -> np.ndarray:
        """``x * p(x)``: the own engagement per user."""
        xa = self.x * self.a if self._xa is None else self._xa
        return self._mix(self._ratio(xa, self.den), lambda: self.x / self.n)

    @cached_property
    def others_value(self) -> np.ndarray:
        """``q(x)``: what the others bring the user."""
        return self._mix(self._ratio(self.C, self.den), lambda: self.R / self.n)

    @cached_property
    def own_slope(self) -> np.ndarray:
        """``dp/dx``."""
        slope = self._ratio(self.da * self.B, self.den * self.den)
        return slope if self.floor == 0.0 else (1.0 - self.floor) * slope

    @cached_property
    def engagement_slope(self) -> np.ndarray:
        """``d(x p)/dx = p + x dp/dx``."""
        return self.own + self.x * self.own_slope

    @cached_property
    def others_value_slope(self) -> np.ndarray:
        """``dq/dx``."""
        slope = -self._ratio(self.C * self.da, self.den * self.den)
        return slope if self.floor == 0.0 else (1.0 - self.floor) * slope
