r"""How the platform learns its users from feedback (the platform does not know ``c_k``).

The platform serves by **scores** ``sigma_ki``, its estimate of the ratings
``r_ki = <c_k, s_i>``, and learns from what users click. Per user it keeps a ridge
model over the content ``s`` it showed and the feedback ``y`` it got,

    ``A_k = lam I + sum s s^T``,   ``b_k = sum y s``   (``lam > 0``, default 1),

held batched: while every content shown is a basis vector (the dynamics' vertices)
each ``A_k`` is diagonal and is kept as its diagonal ``(K, d)``; after any other content,
as the inverses ``A_k^-1`` ``(K, d, d)`` with rank-one Sherman-Morrison updates
(``O(K d^2)`` per impression); and ``b_k`` ``(K, d)``. Its estimate ``c^_k`` is the Euclidean
projection of ``A_k^-1 b_k`` onto ``{c >= 0, sum(c) = ||c_k||_1}`` (the uniform vector
before any feedback).

==========================  ===========================================================
spec                        scores ``sigma_ki``
==========================  ===========================================================
``oracle``                  the true ratings ``r_ki`` (no learning)
``greedy``                  ``<c^_k, s_i>``
``epsilon:eps=x``           as ``greedy``; each impression is uniform over the active
                            producers with probability ``x`` (``x`` in ``[0, 1]``)
``ucb:alpha=a``             ``<c^_k, s_i> + a sqrt(s_i^T A_k^-1 s_i)`` (``a >= 0``)
``thompson:scale=v``        ``<proj(theta_k), s_i>``, ``theta_k ~ N(A_k^-1 b_k, v^2 A_k^-1)``
                            drawn once per epoch (``v >= 0``)
==========================  ===========================================================

Every learner takes ``lam``. Producers best respond to the game the platform's serving
makes (``recgym.coevolve``); under ``thompson`` they face the posterior mean's scores
(they know how the platform serves, not its draws). All the epoch engine needs of a
learner is its scores of any content (``scores``: ``(K, V)`` for ``V`` strategies, the
vertices of the strategy set in the dynamics) and the extra uniform share of its
impressions (``uniform_share``); a learner of your own
is a frozen dataclass subclassing ``Learner``, registered with ``LEARNERS.register``
(``recgym.testing.check_learner`` checks the contract).
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from recgym.registry import Declared, Param, Registry
from recgym.strategy import project_to_simplex

__all__ = ["LEARNERS", "Epsilon", "Greedy", "Learner", "Oracle", "RidgeModels", "Thompson",
           "UCB", "make_learner", "project_to_scaled_simplex"]

LAM = Param("lam", float, 1.0, low=0.0, low_open=True, doc="ridge regularisation lam")


def project_to_scaled_simplex(x: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Euclidean projection of each row of ``x`` ``(K, d)`` onto
    ``{c >= 0, sum(c) = totals_k}`` (``totals`` ``(K,)``, ``>= 0``; 0 gives the zero row)."""
    safe = np.where(totals > 0, totals, 1.0)[:, None]
    return np.where(totals[:, None] > 0, project_to_simplex(x / safe) * safe, 0.0)


class RidgeModels:
    """The platform's per-user ridge models, batched over users (module docstring).

    While every content shown is a basis vector (the dynamics' vertices), every ``A_k``
    is diagonal, ``lam`` plus the impressions per feature, and is kept as its diagonal
    ``(K, d)`` (``O(K)`` per impression); the first other content turns the models into
    the full inverses ``A_k^-1`` ``(K, d, d)``, kept by Sherman-Morrison updates. Both
    hold the same numbers (up to rounding).

    Parameters
    ----------
    norms : array (K,)
        ``||c_k||_1``, the total each estimate sums to.
    dim : int
        ``d``.
    lam : float > 0
    """

    def __init__(self, norms: np.ndarray, dim: int, lam: float) -> None:
        n_users = norms.shape[0]
        self.norms = np.asarray(norms, dtype=float)
        self.diagonal: np.ndarray | None = np.full((n_users, dim), float(lam))  # diag of A
        self._inverse: np.ndarray | None = None  # A^-1 (K, d, d) once content is not a vertex
        self.b = np.zeros((n_users, dim))
        self._estimate: np.ndarray | None = None

    def copy(self) -> RidgeModels:
        """Independent models in the same state."""
        other = copy.copy(self)
        other.diagonal = None if self.diagonal is None else self.diagonal.copy()
        other._inverse = None if self._inverse is None else self._inverse.copy()
        other.b = self.b.copy()
        return other

    @property
    def inverse(self) -> np.ndarray:
        """``A_k^-1`` ``(K, d, d)`` (formed from the diagonal while it is one)."""
        if self._inverse is not None:
            return self._inverse
        n_users, dim = self.b.shape
        full = np.zeros((n_users, dim, dim))
        full[:, np.arange(dim), np.arange(dim)] = 1.0 / self.diagonal
        return full

    def mean(self, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        """``A_k^-1 b_k`` ``(K', d)`` for the users ``rows``."""
        if self._inverse is None:
            return self.b[rows] / self.diagonal[rows]
        return np.einsum("kde,ke->kd", self._inverse[rows], self.b[rows])

    def estimate(self) -> np.ndarray:
        """``c^_k`` ``(K, d)``: the mean projected onto ``{c >= 0, sum(c) = ||c_k||_1}``."""
        if self._estimate is None:
            self._estimate = project_to_scaled_simplex(self.mean(), self.norms)
        return self._estimate

    def update(self, rows: np.ndarray, shown: np.ndarray, feedback: np.ndarray) -> None:
        """Add one observation per user ``rows`` ``(m,)`` (distinct): content ``shown``
        ``(m, d)`` and feedback ``feedback`` ``(m,)``."""
        if rows.size == 0:
            return
        feature = shown.argmax(axis=1)
        basis = np.array_equal(shown, np.eye(shown.shape[1])[feature])
        if basis and self._inverse is None:
            self.diagonal[rows, feature] += 1.0
        else:
            if self._inverse is None:
                self._inverse, self.diagonal = self.inverse, None
            self._sherman_morrison(rows, shown, feature if basis else None)
        self.b[rows] += feedback[:, None] * shown
        self._estimate = None

    def _sherman_morrison(self, rows: np.ndarray, shown: np.ndarray,
                          feature: np.ndarray | None) -> None:
        """``A^-1 <- A^-1 - A^-1 s s^T A^-1 / (1 + s^T A^-1 s)`` for the users ``rows``, in
        place when they are everybody; ``feature``: the basis vector's index, if one."""
        everyone = rows.size == self.b.shape[0] and np.array_equal(rows, np.arange(rows.size))
        inverse = self._inverse if everyone else self._inverse[rows]
        index = np.arange(rows.size)
        if feature is not None:
            u = inverse[index, :, feature]  # A^-1 e_j, a column (A^-1 is symmetric)
            gain = 1.0 + inverse[index, feature, feature]
        else:
            u = np.einsum("kde,ke->kd", inverse, shown)
            gain = 1.0 + np.einsum("kd,kd->k", shown, u)
        inverse -= u[:, :, None] * (u / gain[:, None])[:, None, :]
        if not everyone:
            self._inverse[rows] = inverse

    def variances(self) -> np.ndarray:
        """``e_j^T A_k^-1 e_j`` ``(K, d)``: the uncertainty along each feature."""
        if self._inverse is None:
            return 1.0 / self.diagonal
        return np.einsum("kjj->kj", self._inverse)

    def spread(self, rows: np.ndarray, contents: np.ndarray) -> np.ndarray:
        """``s^T A_k^-1 s`` ``(K', V)`` of the users ``rows`` for contents ``(V, d)``."""
        if self._inverse is None:
            return (1.0 / self.diagonal[rows]) @ (contents * contents).T
        if _basis(contents):
            return self.variances()[rows] @ contents.T
        return np.einsum("kde,vd,ve->kv", self._inverse[rows], contents, contents)

    def draw(self, rows: np.ndarray, scale: float, rng: np.random.Generator) -> np.ndarray:
        """``theta_k ~ N(A_k^-1 b_k, scale^2 A_k^-1)`` ``(K', d)`` for the users ``rows``
        (one ``standard_normal((K', d))`` from ``rng``)."""
        noise = rng.standard_normal((rows.size, self.b.shape[1]))
        if self._inverse is None:
            return self.mean(rows) + scale * noise / np.sqrt(self.diagonal[rows])
        chol = np.linalg.cholesky(self._inverse[rows])
        return self.mean(rows) + scale * np.einsum("kde,ke->kd", chol, noise)

    def elicit(self, users: np.ndarray, questions: int, rng: np.random.Generator) -> None:
        """Ask every user ``questions`` questions: show ``e_j`` with the largest
        ``(A_k^-1)_jj`` (ties to the lower index), observe ``y ~ Bernoulli(c_kj)``."""
        rows = np.arange(users.shape[0])
        for _ in range(questions):
            feature = self.variances().argmax(axis=1)
            clicked = rng.random(rows.size) < users[rows, feature]
            self.update(rows, np.eye(users.shape[1])[feature], clicked.astype(float))


class Learner(Declared, ABC):
    """Interface of a platform learner (an immutable dataclass with declared ``PARAMS``)."""

    lam: float
    #: Serves by the true ratings (learns nothing).
    oracle: ClassVar[bool] = False
    #: The parameter that sets how much it explores (``None``: it does not explore).
    exploration: ClassVar[str | None] = None
    #: Its serving scores are random draws (the producers face other scores).
    samples: ClassVar[bool] = False

    def __post_init__(self) -> None:
        self._check_params()

    @abstractmethod
    def scores(self, models: RidgeModels, rows: np.ndarray, vertices: np.ndarray,
               rng: np.random.Generator | None) -> np.ndarray:
        """Serving scores ``(K', V)`` of the users ``rows`` for the strategies ``vertices``
        ``(V, d)`` (the vertices of the strategy set in the dynamics, or any posted
        content). ``rng`` is the feedback stream for learners that sample (``None``: the
        producers' view, the posterior mean)."""

    def uniform_share(self) -> float:
        """Share of impressions served uniformly over the active producers."""
        return 0.0


#: Learners by name.
LEARNERS: Registry[Learner] = Registry("learner", Learner)


def _greedy_scores(models: RidgeModels, rows: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    return models.estimate()[rows] @ vertices.T


@LEARNERS.register
@dataclass(frozen=True)
class Oracle(Learner):
    """Serves by the true ratings: recgym without learning."""

    NAME: ClassVar[str] = "oracle"
    PARAMS: ClassVar[tuple[Param, ...]] = (LAM,)
    oracle: ClassVar[bool] = True
    lam: float = 1.0

    def scores(self, models, rows, vertices, rng):
        raise TypeError("the oracle serves by the true ratings; it has no scores")


@LEARNERS.register
@dataclass(frozen=True)
class Greedy(Learner):
    """Serves by the current estimate: no exploration."""

    NAME: ClassVar[str] = "greedy"
    PARAMS: ClassVar[tuple[Param, ...]] = (LAM,)
    lam: float = 1.0

    def scores(self, models, rows, vertices, rng):
        return _greedy_scores(models, rows, vertices)


@LEARNERS.register
@dataclass(frozen=True)
class Epsilon(Learner):
    """Greedy, with a share ``eps`` of impressions uniform over the active producers."""

    NAME: ClassVar[str] = "epsilon"
    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param("eps", float, 0.1, low=0.0, high=1.0, doc="share of uniform impressions"), LAM)
    exploration: ClassVar[str | None] = "eps"
    eps: float = 0.1
    lam: float = 1.0

    def scores(self, models, rows, vertices, rng):
        return _greedy_scores(models, rows, vertices)

    def uniform_share(self) -> float:
        return self.eps


@LEARNERS.register
@dataclass(frozen=True)
class UCB(Learner):
    """Optimism: the estimate plus ``alpha`` standard deviations of the ridge model."""

    NAME: ClassVar[str] = "ucb"
    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param("alpha", float, 1.0, low=0.0, doc="width of the confidence bonus"), LAM)
    exploration: ClassVar[str | None] = "alpha"
    alpha: float = 1.0
    lam: float = 1.0

    def scores(self, models, rows, vertices, rng):
        spread = models.spread(rows, vertices)  # s^T A^-1 s (0 for the zero strategy)
        return _greedy_scores(models, rows, vertices) + self.alpha * np.sqrt(
            np.maximum(spread, 0.0))


@LEARNERS.register
@dataclass(frozen=True)
class Thompson(Learner):
    """Posterior sampling: one draw per user and epoch from the ridge posterior."""

    NAME: ClassVar[str] = "thompson"
    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param("scale", float, 1.0, low=0.0, doc="v: posterior scale of the draws"), LAM)
    exploration: ClassVar[str | None] = "scale"
    samples: ClassVar[bool] = True
    scale: float = 1.0
    lam: float = 1.0

    def scores(self, models, rows, vertices, rng):
        if rng is None:  # the producers' view: the posterior mean's scores
            return _greedy_scores(models, rows, vertices)
        theta = models.draw(rows, self.scale, rng)
        return project_to_scaled_simplex(theta, models.norms[rows]) @ vertices.T


def _basis(vertices: np.ndarray) -> bool:
    """Every row is a basis vector or 0 (so ``s^T A s`` is a diagonal entry or 0)."""
    return bool(np.all((vertices == 0) | (vertices == 1)) and np.all(vertices.sum(1) <= 1))


def make_learner(spec: str | Learner) -> Learner:
    """A learner from its spec string (``"ucb:alpha=0.5,lam=2"``) or an instance.

    Raises
    ------
    ValueError
        An unknown learner or parameter, or a value outside its range.
    """
    return LEARNERS.make(spec)
