r"""The platform that does not know its users: serving by its scores, learning from clicks.

``LearningPlatform`` is the platform's side of an epoch of ``recgym.coevolve`` when it
serves with a learner (``recgym.learners``) instead of the true ratings:

* **the served game** (step 1): producers know how the platform serves and best respond
  to ``u_i = sum_k p_i(sigma_k) r_ki``, the rule applied to the platform's scores
  ``sigma`` (the posterior mean's under ``thompson``), engagement by the true ratings
  (``recgym.solvers.ServedVertexTable``); ``epsilon:eps=x`` serves a share ``x`` of
  impressions uniformly, which is the rule with the exposure floor
  ``1 - (1 - x)(1 - floor)``;
* **serving** (step 2): ``p(sigma_k)`` over the active producers; user utility
  ``v_k = sum_i p_i(sigma_k) r_ki``; ``regret_vs_oracle`` compares it with the rule on the
  true ratings at the same profile;
* **feedback**: each active user gets ``impressions`` impressions, a producer drawn from
  ``p(sigma_k)`` and a click ``y ~ Bernoulli(r_ki)`` (true rating), and the ridge models
  are updated after the epoch's impressions; before epoch 1, ``elicit`` questions per
  user (``RidgeModels.elicit``).

Random numbers: one ``numpy.random.Generator`` seeded by
``SeedSequence([FEEDBACK_STREAM, seed])``, separate from the producers' legacy stream,
consumed in this order: elicitation (one uniform per user and question), then each
epoch Thompson's draws (``standard_normal((K_a, d))``), then per impression one uniform
per active user for the content shown (drawn over the distinct contents: producers
posting the same content are one option) and one for the click. So
``learner="oracle"`` leaves the producers exactly as without a learner, and the same
seed gives the same run. The oracle's clicks come from this stream only: it learns
nothing, so each impression is one uniform per user, a click with probability ``v_k``
(the same distribution as drawing the content first).
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np

from recgym._validation import check_int
from recgym.game import EngagementGame, Serving
from recgym.learners import Learner, RidgeModels, make_learner
from recgym.rules import ServingRule
from recgym.solvers import ServedVertexTable

__all__ = ["FEEDBACK_STREAM", "LearningPlatform"]

#: Tag of the feedback stream's seed sequence (keeps it apart from any other stream).
FEEDBACK_STREAM = 0x5EED_FEED
#: Slack on ``||c_k||_1 <= 1`` (ratings must be probabilities for Bernoulli clicks).
NORM_TOL = 1e-9


class LearningPlatform:
    """How the platform serves and learns (module docstring).

    Parameters
    ----------
    game : EngagementGame
        The starting game (its users are the truth the clicks come from).
    learner : str or Learner
        ``"oracle"`` (default), ``"greedy"``, ``"epsilon:eps=x"``, ``"ucb:alpha=a"``,
        ``"thompson:scale=v"`` (each with ``lam``) or a registered learner.
    impressions : int >= 1
        Impressions per active user and epoch.
    elicit : int >= 0
        Questions per user before epoch 1.
    seed : int >= 0
        Seed of the feedback stream.

    Raises
    ------
    ValueError
        Bad parameters (naming them), users with ``||c_k||_1 > 1`` or a payoff that needs
        the welfare without each producer (``marginal``) under a learner.
    """

    def __init__(self, game: EngagementGame, learner: str | Learner = "oracle",
                 impressions: object = 1, elicit: object = 0, seed: int = 0) -> None:
        self.learner: Learner = make_learner(learner)
        self.impressions: int = check_int("impressions", impressions, 1)
        self.elicit: int = check_int("elicit", elicit, 0)
        self.seed: int = check_int("seed", seed, 0)
        if not self.learner.oracle:
            norms = game.users.sum(axis=1)
            if norms.max(initial=0.0) > 1.0 + NORM_TOL:
                raise ValueError(
                    f"users must have ||c_k||_1 <= 1 under learner {self.learner.spec!r} "
                    f"(clicks are Bernoulli draws of the ratings); the largest is "
                    f"{norms.max():.6g}: L1-normalise them (recgym.users.from_array)")
            if game.payoff.needs_welfare_loss:
                raise ValueError(f"payoff {game.payoff.spec!r} is not supported with learner "
                                 f"{self.learner.spec!r}: it needs the welfare without each "
                                 "producer, defined only for serving by the true ratings")
        self.start = game
        self.reset()

    def reset(self) -> None:
        """A fresh stream and fresh models (then the elicitation)."""
        self.rng = np.random.default_rng(np.random.SeedSequence([FEEDBACK_STREAM, self.seed]))
        self.models: RidgeModels | None = None
        if not self.learner.oracle:
            game = self.start
            self.models = RidgeModels(game.users.sum(axis=1), game.dim, self.learner.lam)
            if self.elicit:
                self.models.elicit(np.asarray(game.users), self.elicit, self.rng)

    def copy(self) -> LearningPlatform:
        """An independent platform in the same state (models and feedback stream)."""
        other = copy.copy(self)
        other.rng = copy.deepcopy(self.rng)
        other.models = None if self.models is None else self.models.copy()
        return other

    @property
    def oracle(self) -> bool:
        """Serves by the true ratings."""
        return self.learner.oracle

    def serving_rule(self, rule: ServingRule) -> ServingRule:
        """``rule`` with the learner's uniform share of impressions folded into its floor."""
        share = self.learner.uniform_share()
        if share == 0.0:
            return rule
        return dataclasses.replace(rule, floor=1.0 - (1.0 - share) * (1.0 - rule.floor))

    def estimates(self, users: np.ndarray) -> np.ndarray:
        """The platform's estimates ``(K, d)`` of every starting user (the oracle's: the
        true ``users``)."""
        return np.array(users) if self.models is None else self.models.estimate().copy()

    def producer_scores(self, game: EngagementGame, rows: np.ndarray) -> np.ndarray:
        """Scores ``(K_a, V)`` the producers best respond to, of the users ``rows``."""
        return self.learner.scores(self.models, rows, game.vertices, None)

    def table(self, game: EngagementGame, scores: np.ndarray) -> ServedVertexTable:
        """The served game's vertex table (``game``'s rule already ``serving_rule``'s)."""
        return ServedVertexTable(game, scores)

    def serve(self, game: EngagementGame, profile: np.ndarray, active: np.ndarray,
              rows: np.ndarray, scores: np.ndarray | None = None) -> Serving:
        """Step 2 at ``profile`` ``(n, d)`` over ``active``: the rule on the serving scores
        of the users ``rows`` (the oracle: on the ratings). ``scores`` ``(K_a, m)``: the
        active producers' scores when the caller has them (ignored by learners that
        sample their serving scores)."""
        if self.oracle or not active.any():
            return game.serve(profile, active)
        if self.learner.samples or scores is None:
            scores = self.learner.scores(self.models, rows, profile[active], self.rng)
        return game.serve_by(profile, active,
                             game.rule.probabilities(np.ascontiguousarray(scores)),
                             symmetric=game.rule.symmetric)

    def observe(self, serving: Serving, rows: np.ndarray) -> np.ndarray:
        """The epoch's impressions and clicks of the users ``rows`` ``(K_a,)``; updates the
        models. Returns the clicks per user ``(K_a,)``.

        Producers posting the same content are one option (the click depends on the
        content alone), so impressions are drawn over the distinct contents; the oracle,
        which learns nothing, draws each click directly with probability ``v_k``.
        """
        n_users = serving.ratings.shape[0]
        clicks = np.zeros(n_users)
        if serving.ratings.shape[1] == 0:
            return clicks
        if self.models is None:
            chance = serving.utilities.user  # P(click) = sum_i p_i r_ki
            for _ in range(self.impressions):
                clicks += self.rng.random(n_users) < chance
            return clicks
        contents, shares, ratings = _options(serving)
        cumulative = np.cumsum(shares, axis=1)
        total = cumulative[:, -1]
        reached = total > 0  # a user the rule serves nobody gets no impression
        everyone = np.arange(n_users)
        last = contents.shape[0] - 1
        for _ in range(self.impressions):
            pick = (cumulative < (self.rng.random(n_users) * total)[:, None]).sum(axis=1)
            pick = np.minimum(pick, last)
            clicked = (self.rng.random(n_users) < ratings[everyone, pick]) & reached
            clicks += clicked
            self.models.update(rows[reached], contents[pick[reached]],
                               clicked[reached].astype(float))
        return clicks

    def estimation_error(self, users: np.ndarray, rows: np.ndarray) -> float:
        """Mean ``||c^_k - c_k||_1`` over the users ``rows`` (their true ``users``
        ``(K_a, d)``); 0 for the oracle and with nobody left."""
        if self.models is None or rows.size == 0:
            return 0.0
        return float(np.abs(self.models.estimate()[rows] - users).sum(axis=1).mean())

    def regret_vs_oracle(self, game: EngagementGame, serving: Serving) -> np.ndarray:
        """``sum_i p_i(r_k) r_ki - v_k`` per active user ``(K_a,)``: the rule on the true
        ratings (``game``'s rule) against the platform's serving, at the same profile."""
        if self.oracle or serving.ratings.shape[1] == 0:
            return np.zeros(serving.ratings.shape[0])
        ratings = serving.ratings
        oracle = (game.rule.probabilities(ratings) * ratings).sum(axis=1)
        return oracle - serving.utilities.user


def _options(serving: Serving) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct contents shown ``(m', d)``, each user's chance of each ``(K, m')`` and
    its rating of each ``(K, m')``: for a profile of basis vectors one option per
    feature in use, otherwise one per producer."""
    profile = serving.profile
    features = profile.argmax(axis=1)
    if not np.array_equal(profile, np.eye(profile.shape[1])[features]):
        return profile, serving.probabilities, serving.ratings
    used, first = np.unique(features, return_index=True)
    return (np.eye(profile.shape[1])[used], np.ascontiguousarray(serving.consumed[:, used]),
            np.ascontiguousarray(serving.ratings[:, first]))
