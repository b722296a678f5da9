"""Producers who differ: skill and cost of effort.

* **Skill** ``q_i`` in ``(0, 1]`` (default 1): producer ``i``'s ratings are
  ``q_i <c_k, s_i>``; a more skilled producer's content on the same topic is liked
  more. Since ``q <c, s> = <c, q s>``, a skilled producer is served, and engages, as a
  skill-1 producer posting ``q s``: every rule, payoff and serving computation takes
  the *effective* profile ``q_i s_i``, and what users consume is still the content
  ``s_i``.
* **Cost of effort** ``kappa_i >= 0`` with exponent ``beta >= 1``: producer ``i``'s
  payoff is ``pi_i - W kappa_i (sum_f s_if)^beta`` (``W`` the total user weight, ``K``
  for unit weights; per user ``pi_i / W - kappa_i (sum s)^beta``). Posting less than a
  full unit (``sum s < 1``) is then worth it where the last bit of effort costs more
  than it brings.

With ``q = 1`` and ``kappa = 0`` for everybody, nothing here is used and every result is
bit-identical to a game without producer traits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from recgym._validation import check_float, check_vector
from recgym.rules import Others
from recgym.served import Served

__all__ = ["ProducerTraits", "ProducerView", "check_traits"]


@dataclass(frozen=True)
class ProducerTraits:
    """Validated skill and cost of every producer.

    Attributes
    ----------
    skill : array (n,) or None
        ``q_i`` in ``(0, 1]``; ``None`` when every producer has skill 1.
    cost : array (n,) or None
        ``kappa_i >= 0`` (per user); ``None`` when nobody pays for effort.
    cost_exponent : float
        ``beta >= 1``.
    """

    skill: np.ndarray | None
    cost: np.ndarray | None
    cost_exponent: float

    @property
    def identical(self) -> bool:
        """Every producer has the same skill and cost (so producers posting the same
        content face the same problem)."""
        return all(a is None or bool(np.all(a == a[0])) for a in (self.skill, self.cost))

    def effective(self, profile: np.ndarray) -> np.ndarray:
        """``q_i s_i`` ``(m, d)`` of a profile ``(m, d)`` of all ``n`` producers."""
        if self.skill is None:
            return profile
        return profile * self.skill[:, None]

    def effort_cost(self, strategies: np.ndarray, producer: int | np.ndarray,
                    total_weight: float) -> np.ndarray:
        """``W kappa_i (sum s)^beta`` ``(m,)`` of strategies ``(m, d)`` (sum over users);
        ``producer`` is one index or one per strategy."""
        if self.cost is None:
            return np.zeros(strategies.shape[0])
        effort = np.clip(strategies.sum(axis=1), 0.0, None)
        return total_weight * self.cost[producer] * effort ** self.cost_exponent

    def effort_slope(self, strategies: np.ndarray, producer: int, total_weight: float
                     ) -> np.ndarray:
        """``d cost / d s_f`` ``(m,)``, the same for every feature ``f``."""
        if self.cost is None:
            return np.zeros(strategies.shape[0])
        effort = np.clip(strategies.sum(axis=1), 0.0, None)
        beta = self.cost_exponent
        return total_weight * self.cost[producer] * beta * effort ** (beta - 1.0)

    def view(self, others: Others, producer: int) -> Others | ProducerView:
        """``others`` as producer ``producer`` sees them: scaled by its skill and with its
        cost (the rule's view itself where the producer has neither)."""
        skill = 1.0 if self.skill is None else float(self.skill[producer])
        cost = 0.0 if self.cost is None else float(self.cost[producer])
        if skill == 1.0 and cost == 0.0:
            return others
        return ProducerView(others, producer, skill, cost)


@dataclass(frozen=True)
class ProducerView:
    """One producer's view of the others when it has a skill or a cost.

    ``served(x)`` takes the producer's ratings *before* its skill (``<c_k, s>``) and
    serves it at ``q x``; every other attribute is the rule's view (``others``), so a
    rule's certificate reads it as it reads its own.

    Attributes
    ----------
    others : Others
        The rule's view of the other producers (built from their effective profile).
    producer : int
        The producer's index in the game.
    skill : float
        ``q_i``.
    cost : float
        ``kappa_i`` (per user).
    """

    others: Others
    producer: int
    skill: float
    cost: float

    def served(self, x: np.ndarray) -> Served:
        """The producer's serving at own unskilled ratings ``x`` ``(..., K)``."""
        return self.others.served(x if self.skill == 1.0 else self.skill * x)

    def __getattr__(self, name: str) -> object:
        return getattr(self.others, name)


def check_traits(n_producers: int, skill: object, cost: object, cost_exponent: object
                 ) -> ProducerTraits:
    """Validate skill (``(0, 1]``), cost (``>= 0``, scalars or ``(n,)``) and the cost
    exponent (``>= 1``); all-1 skills and all-0 costs become ``None``."""
    q = check_vector("skill", skill, n_producers, nonnegative=False)
    if np.any(q <= 0) or np.any(q > 1):
        raise ValueError(f"skill must be in (0, 1] for every producer, got "
                         f"{np.round(q, 6).tolist()}")
    kappa = check_vector("cost", cost, n_producers)
    beta = check_float("cost_exponent", cost_exponent, 1.0)
    q.setflags(write=False)
    kappa.setflags(write=False)
    return ProducerTraits(None if np.all(q == 1.0) else q,
                          None if np.all(kappa == 0.0) else kappa, beta)
