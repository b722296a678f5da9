r"""The engagement game as a PettingZoo environment (docs/model.md sections 1-3).

## Description

``n`` content producers repeatedly post content for a population of ``K`` users.
Each step every producer chooses a content embedding at once; the platform serves
each user the producers according to a serving rule (softmax, linear, top-k,
uniform or any registered rule, ``recgym.rules``) and each producer earns its
payoff: the engagement it receives (default), its exposure, or its marginal
contribution to user welfare (``recgym.payoffs``). One step is one round of the
one-shot game ``recgym.EngagementGame`` on the users as they are at the start of
the step. By default the users are static and never leave; with
``user_dynamics``, ``user_outside_option`` and ``user_patience`` they change with
what they are shown and leave when served badly ("Users who change and leave"),
as in an epoch of ``recgym.coevolve`` (docs/ecosystem.md, E7). By default the
platform serves by the true ratings; with ``learner`` it does not know its users,
serves by its estimates and learns them from clicks ("The platform learns";
docs/ecosystem.md, E8).

## Agents

``producer_0 .. producer_{n-1}``, all present from ``reset`` until they leave
("Episode end") or the horizon.

## Action space

``action_type`` chooses what a producer posts:

* ``"box"`` (default): ``Box(0, 1, (d,), float32)`` per producer, a content
  embedding. It is mapped into the strategy set ``S = {s >= 0, sum(s) <= 1}`` by
  the Euclidean projection ``recgym.project_to_strategy_set`` (negative entries
  become 0; if the rest sums to more than 1 it is projected onto the probability
  simplex). Points of ``S`` are kept as they are. Every finite value outside the
  box, however large (``1e300``), is projected the same way, exactly, rather than
  rejected; NaN, inf and wrong shapes raise ``ValueError``, complex or non-numeric
  actions ``TypeError``.
* ``"vertex"``: ``Discrete(d)`` per producer, a feature index ``j``: the producer
  posts the basis vector ``e_j`` (the vertices the paper's dynamics move between,
  the strategies that matter when payoffs are convex in the own strategy). An
  action is an integer (Python or NumPy, or a 0-d integer array) in ``0 .. d-1``;
  anything else raises ``ValueError`` (``TypeError`` for complex or non-numeric
  actions).

``infos[agent]["embedding"]`` reports the embedding posted (projected, or ``e_j``).

## Observation space

``Box(low, high, (3 d + 1 [+ n],), float32)``, the same for every producer
(``recgym.observations``):

==================  ====================================================== ==========
index               meaning                                                bounds
==================  ====================================================== ==========
``0 .. d-1``        own current embedding ``s_i`` (projected)               ``[0, 1]``
``d .. 2d-1``       the others' mean embedding ``sum_{j != i} s_j/(n-1)``   ``[0, 1]``
                    (over the others still in, after this step's exits)
``2d .. 3d-1``      the current users' demand per feature                  ``[0, 1]``
                    ``U.sum(0) / U.sum()`` over the users still active, as
                    they are after this step's update (zeros once every
                    user has left; the starting users' after ``reset``)
``3d``              own reward of this step (after ``reset``: at the        ``[r_min, r_max]``
                    starting profile and users)
``3d+1 .. 3d+n``    one-hot producer id (``agent_ids=True``, the default)   ``{0, 1}``
==================  ====================================================== ==========

The users' demand is the true current users' demand under a learner too: a producer
observes the market (what users want, as a producer sees it in its own analytics),
not the platform's internals (its estimates stay in ``env.platform``).

``[r_min, r_max]`` is the payoff's range (``env.reward_range``): ``r_max`` is
``sum_k max_f U_kf`` for engagement and the marginal payoff (no rating exceeds
``max_f U_kf``) and ``K`` for exposure; ``r_min`` is 0, or ``-r_max`` for the marginal
payoff, which can be negative. With a user-dynamics model other than ``static``
a user's largest entry can grow, so ``max_f U_kf`` is replaced by the user's L1
norm ``||c_k||_1``, which every model keeps. Both are divided by ``K`` when
``reward_scale="mean"`` and widened by one ``float32`` step for rounding; a reward is
clipped to the range, so rounding can never take it outside.

## Rewards

With ``P`` the projected profile ``(n, d)``, producer ``i`` receives its payoff
``EngagementGame.utilities(P).payoff[i]`` (``reward``: ``"engagement"``,
``"exposure"``, ``"marginal"`` or any registered payoff) in the game of the users
active at the start of the step, as they are then, divided by the starting number
of users ``K`` when ``reward_scale="mean"`` (per user of the starting population,
comparable across user populations; departed users count 0, so departures lower
rewards) and as the sum over the active users with ``"sum"`` (the paper's scale).
Once every user has left, every reward is 0. Under a learner ("The platform learns")
the serving probabilities are the rule's on the platform's scores, ``p_i(sigma_k)``
(under ``thompson``, on this step's posterior draw), and the payoff is that of this
serving with the true ratings: engagement ``sum_k p_i(sigma_k) r_ki``, exposure
``sum_k p_i(sigma_k)``. ``infos[agent]`` holds:

====================== ==========================================================
key                    value
====================== ==========================================================
``"embedding"``        the projected embedding, ``(d,)`` float64
``"engagement"``       the producer's engagement, on the reward's scale
``"exposure"``         the producer's exposure, on the reward's scale
``"active_users"``     share of the ``K`` starting users still active (after this
                       step's departures; 1 after ``reset``)
``"departed_users"``   users who left at this step (0 after ``reset``)
``"clicks"``           under a learner only: this step's clicks per starting user
                       (``impressions`` per active user; 0 after ``reset``)
``"estimation_error"`` under a learner only: mean ``||c^_k - c_k||_1`` over the
                       users active during the step, after its clicks (after
                       ``reset``: after the elicitation, over every user)
====================== ==========================================================

## Starting state

``reset`` sets the profile ``env.profile`` ``(n, d)``: by default every producer
plays a basis vector ``e_j`` with ``j`` drawn uniformly from ``0..d-1`` by the
environment's generator (the paper's starting distribution); ``options={"directions":
ints (n,)}`` sets those vertices and ``options={"profile": array (n, d)}`` sets any
profile in ``S``. Before the first reset the profile is all zeros. ``reset``
also restores the starting users, all active (fixed at construction; they change
and leave during an episode only as "Users who change and leave" says).

## Users who change and leave

``user_dynamics`` (default ``"static"``), ``user_outside_option`` ``w >= 0``
(default 0) and ``user_patience`` ``>= 1`` (default 1) make the users part of the
dynamics, through ``recgym.population.Population`` (the code of an epoch of
``recgym.coevolve``, steps 2-4). A step runs, in this order:

1. the producers post their content (the projected profile ``P``);
2. rewards are computed on the users active at the start of the step, as they
   are then ("Rewards");
3. producers below their outside option leave ("Episode end");
4. **serving**: the active users are served at ``P`` by the producers still in:
   user utility ``v_k = sum_i p_i(c_k) r_ki`` and consumption
   ``m_k = sum_i p_i(c_k) s_i``;
5. **departures**: a user whose ``v_k < w`` in ``user_patience`` consecutive steps
   leaves at the end of this step, for good: it is out of every sum (rewards,
   serving, the observation's demand) from the next step on;
6. **preference update** of the users still active by the model
   (``recgym.user_dynamics``): ``"static"`` (none), ``"exposure:rate=b"``
   (``c_k <- (1 - b) c_k + b ||c_k||_1 m_k / ||m_k||_1``, mere exposure),
   ``"engagement:rate=e"`` (``c_k <- ||c_k||_1 g / ||g||_1`` with
   ``g = c_k + e sum_i p_i(c_k) r_ki s_i``, drawn toward what the user enjoyed), or a
   registered model of your own. Every model keeps ``c_k >= 0`` and ``||c_k||_1``.

Departures terminate no producer: producers play on against fewer users (their
outside options stay per user of the starting population, so a producer's
earnings and its chance of staying fall as users leave) until the horizon or
their own exit. With dynamics the observation summarises the users by their
demand per feature only, so it is no longer the whole state. ``env.population``
holds the users now (``users`` ``(K, d)``, ``active`` ``(K,)``);
``env.current_game`` is the game of the active users (``None`` once all have left)
while ``env.game`` and ``env.users`` stay the starting ones. With ``"static"``
users and ``user_outside_option=0`` nothing ever changes: the environment is then
bit-identical to one built without these arguments, and as fast.

## The platform learns

``learner`` (default ``"oracle"``), ``impressions`` ``>= 1`` (default 1) and ``elicit``
``>= 0`` (default 0) make the platform one that does not know its users, through
``recgym.learning_platform.LearningPlatform`` (``env.platform``; the code of an epoch
of ``recgym.coevolve`` under a learner). It keeps a ridge model per user and serves
by its scores ``sigma_ki`` (``recgym.learners``): ``"greedy"`` (the estimate's ratings
``<c^_k, s_i>``), ``"epsilon:eps=x"`` (greedy, a share ``x`` of impressions uniform
over the active producers: the rule with the floor ``1 - (1 - x)(1 - floor)``),
``"ucb:alpha=a"`` (plus ``a`` standard deviations), ``"thompson:scale=v"`` (a
posterior draw per step), each with ``lam``. At ``reset`` the platform starts over
(uniform estimates) and asks each user ``elicit`` questions. Each step, in the order of
"Users who change and leave":

1. the producers post ``P``;
2. the active users are served at ``P`` by the platform's scores over the active
   producers (``LearningPlatform.serve``; the scores of the models as the last step left
   them, under ``thompson`` one posterior draw per step); the rewards are the producers'
   payoffs in this serving with the true ratings ("Rewards");
3. producers below their outside option leave;
4. each active user gets ``impressions`` impressions of the serving by the producers
   still in (the same scores, without the producers who left; a producer drawn from
   ``p(sigma_k)``, a click ``y ~ Bernoulli(r_ki)``) and
   the models learn from them (``LearningPlatform.observe``; ``infos`` ``"clicks"``
   and ``"estimation_error"``);
5. departures (``v_k = sum_i p_i(sigma_k) r_ki``) and the preference update run on that
   serving, as in "Users who change and leave".

Clicks are Bernoulli draws of the ratings, so every user needs ``||c_k||_1 <= 1``
(L1-normalised users, as the synthetic and data-set users are), and the marginal
payoff, defined only for serving by the true ratings, is refused. With
``learner="oracle"`` the platform learns nothing and draws nothing: the environment
is bit-identical to one built without these arguments, and as fast.

``env.served_game`` is the game of the active users as the platform serves them (its
rule with ``epsilon``'s floor) and ``env.estimates`` ``(K, d)`` the platform's estimates
now, which serve the next step. Exact best responses (``agents.BestResponse(env)
.action``) are then the best vertex of the served game, ``u_i = sum_k p_i(sigma_k) r_ki``
with the scores of the models now (``agents.env_play.served_best_vertex``): with
``action_type="vertex"`` and a learner that does not sample (``greedy``, ``epsilon``,
``ucb``) only; otherwise they raise ``ValueError``, as the paper's dynamics through the
environment do under any learner.

## Episode end

**Creators who leave.** Each producer has an outside option ``o_i`` (per user,
``outside_option``, default 0). A producer whose reward per user (its payoff
divided by the starting total user weight ``K``, whatever ``reward_scale``) stays
below ``o_i`` for ``patience`` consecutive steps is terminated (``terminations[agent]``
is True at that step) and leaves ``env.agents``: it is no longer served, and the
others keep playing against the smaller field (its last embedding stays in
``env.profile``; ``env.active`` marks who is still in). With every option 0 and a
non-negative payoff nobody ever leaves; the marginal payoff can be negative, and a
producer whose marginal payoff is below 0 leaves even at option 0.

Truncation after ``horizon`` steps, for every producer still in; ``env.agents`` is
then empty until ``reset``, as it is once every producer has left. Users who leave
end no producer's episode (not even the last user: rewards are then 0).

## Arguments

``parallel_env(rule="softmax", temperature=None, k=None, n_producers=10, dim=None,
n_users=None, users=None, horizon=100, reward="engagement", reward_scale="mean",
render_mode=None, floor=None, outside_option=0.0, patience=1, users_seed=0,
users_path=None, agent_ids=True, action_type="box", user_dynamics="static",
user_outside_option=0.0, user_patience=1, learner="oracle", impressions=1,
elicit=0)``; see ``EngagementEnv``. ``rule`` takes spec strings:
``rule="topk:k=2,temperature=0.5"``, and so do ``user_dynamics``
(``user_dynamics="exposure:rate=0.2"``) and ``learner`` (``learner="ucb:alpha=0.5"``).
Invalid values raise ``ValueError`` naming the argument (users with
``||c_k||_1 > 1`` under a learner name ``users``; the marginal payoff under a
learner, ``reward``).

## Seeding

``reset(seed=s)`` re-seeds the environment's own ``numpy.random.Generator``
(``env.np_random``); before any seeded reset it is seeded from fresh OS entropy,
as Gymnasium does. Only the starting profile is random (the users' dynamics and
departures are deterministic), and under a learner the feedback: after the starting
profile, each ``reset`` draws the seed of a fresh platform's own feedback stream
(``recgym.learning_platform``: elicitation, Thompson's draws, impressions and
clicks) from ``env.np_random``, so the same ``reset`` seed gives the same episode,
clicks included (the oracle draws nothing: its episodes are those without a learner).
Synthetic users come from ``users_seed`` (the paper's stream) and do not depend on
``reset``'s seed.

## Version history

* v0: initial release; users who change and leave (``user_dynamics``,
  ``user_outside_option``, ``user_patience``) added with defaults that change nothing;
  a platform that learns its users (``learner``, ``impressions``, ``elicit``), with
  defaults that change nothing.

## Example

>>> import numpy as np, recgym
>>> env = recgym.parallel_env(rule="softmax", n_producers=3, dim=2, n_users=50)
>>> obs, infos = env.reset(seed=0)
>>> obs["producer_0"].shape
(10,)
>>> actions = {agent: np.array([1.0, 0.0], dtype=np.float32) for agent in env.agents}
>>> obs, rewards, terminations, truncations, infos = env.step(actions)
>>> bool(np.isclose(sum(rewards.values()), env.game.utilities(env.profile).user.mean()))
True

Users who drift toward what they are shown and leave when served below 0.45:

>>> env = recgym.parallel_env(n_producers=3, dim=2, n_users=50,
...                           user_dynamics="exposure:rate=0.5", user_outside_option=0.45)
>>> obs, infos = env.reset(seed=0)
>>> obs, rewards, terminations, truncations, infos = env.step(actions)
>>> infos["producer_0"]["active_users"], infos["producer_0"]["departed_users"]
(0.64, 18)
>>> any(terminations.values())  # user departures end no producer's episode
False
>>> obs["producer_0"][4:6].round(3)  # the remaining users' demand, drawn to feature 0
array([0.854, 0.146], dtype=float32)

A platform that learns its users from one click per user and step:

>>> env = recgym.parallel_env(n_producers=3, dim=2, n_users=50, learner="greedy")
>>> obs, infos = env.reset(seed=0)
>>> obs, rewards, terminations, truncations, infos = env.step(actions)
>>> sorted(key for key in infos["producer_0"] if key in ("clicks", "estimation_error"))
['clicks', 'estimation_error']
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium.spaces import Box, Discrete
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils import BaseWrapper, OrderEnforcingWrapper
from pettingzoo.utils.conversions import parallel_to_aec_wrapper

from recgym import metrics, rendering
from recgym._validation import check_choice, check_int
from recgym.datasets import resolve_users
from recgym.game import EngagementGame, Serving
from recgym.learners import Learner
from recgym.learning_platform import LearningPlatform
from recgym.observations import ObservationLayout
from recgym.payoffs import PAYOFFS
from recgym.population import Population
from recgym.rules import ServingRule
from recgym.strategy import project_finite, project_to_strategy_set
from recgym.user_dynamics import UserDynamics

REWARD_SCALES = ("mean", "sum")
RENDER_MODES = ("ansi", "rgb_array")
RESET_OPTIONS = ("directions", "profile")
#: What a producer's action is: an embedding (``Box``) or a basis vector (``Discrete``).
ACTION_TYPES = ("box", "vertex")


class EngagementEnv(ParallelEnv):
    """Producers competing for users' engagement; see the module docstring for the manual.

    Parameters
    ----------
    rule : str or ServingRule
        The platform's serving rule: a registered name (``"softmax"``, ``"linear"``,
        ``"topk"``, ``"uniform"``) or spec string (``"softmax:temperature=0.1"``), or a
        rule object.
    temperature : float > 0, optional
        Softmax temperature ``T`` (``softmax``, ``topk``; default 1).
    k : int >= 1, optional
        Producers served per user (``topk`` only; an error with any other rule).
    n_producers : int >= 1
        ``n``, the number of agents.
    dim : int >= 1, optional
        ``d``, the number of content features. Default 5; with a user array it is
        the array's width (a different value is an error).
    n_users : int >= 1, optional
        ``K`` synthetic users. Default 1000; with a user array or a data set it is
        their number (a different value is an error).
    users : None, array (K, d) or str
        ``None``: ``K`` users uniform on the simplex, drawn from ``users_seed`` by
        the paper's generator (``recgym.users.synthetic_uniform``; ``K = 10000``,
        ``users_seed=17`` gives the paper's synthetic-uniform users). An array:
        used as given (non-negative and finite; see ``recgym.users.from_array`` to
        L1-normalise). A data set name (``recgym.datasets.DATASETS``, e.g.
        ``"movielens-100k"``): ``recgym.datasets.load_users(name, d, users_seed,
        users_path)``.
    horizon : int >= 1
        Steps per episode before truncation.
    reward : str
        What a producer earns: a registered payoff (``"engagement"``, ``"exposure"``,
        ``"marginal"``, ``recgym.payoffs.PAYOFFS``).
    reward_scale : {"mean", "sum"}
        Per-user mean or sum over users.
    render_mode : {None, "ansi", "rgb_array"}
        ``"ansi"``: ``render()`` returns a text table of producers per feature next
        to the users' distribution; ``"rgb_array"``: the same as an image.
    users_seed : int >= 0
        Seed of the synthetic users (or of the data set's embedding).
    users_path : str or os.PathLike, optional
        The data set's file or folder (default ``$RECGYM_DATA``); only with a data
        set name.
    floor : float in [0, 1], optional
        Exposure floor of the rule (default 0).
    outside_option : float or array (n,)
        Each producer's outside option per user (``o_i >= 0``; "Episode end").
    patience : int >= 1
        Consecutive steps below the outside option after which a producer leaves.
    agent_ids : bool
        Append a one-hot producer id to every observation (for parameter sharing).
    action_type : {"box", "vertex"}
        ``"box"``: an embedding in ``Box(0, 1, (d,))``, projected onto ``S``;
        ``"vertex"``: a feature index in ``Discrete(d)``, posting the basis vector.
    user_dynamics : str or UserDynamics
        How users change with what they are shown (``recgym.user_dynamics``):
        ``"static"`` (default), ``"exposure:rate=b"``, ``"engagement:rate=e"`` or a
        registered model of your own ("Users who change and leave").
    user_outside_option : float >= 0
        ``w``: a user served a utility below it in ``user_patience`` consecutive steps
        leaves (default 0: nobody leaves).
    user_patience : int >= 1
        Consecutive steps below ``user_outside_option`` after which a user leaves.
    learner : str or Learner
        How the platform serves and learns its users ("The platform learns",
        ``recgym.learners``): ``"oracle"`` (default: serves by the true ratings),
        ``"greedy"``, ``"epsilon:eps=x"``, ``"ucb:alpha=a"``, ``"thompson:scale=v"``
        (each with ``lam``) or a registered learner.
    impressions : int >= 1
        Impressions (each a click or not) per active user and step under a learner.
    elicit : int >= 0
        Questions per user the platform asks at ``reset``, before the first step.
    skill : float or array (n,)
        Each producer's skill ``q_i`` in ``(0, 1]`` (default 1): its ratings are
        ``q_i <c_k, s_i>`` (``recgym.producers``).
    cost, cost_exponent : float or array (n,), float
        Cost of effort ``kappa_i >= 0`` (default 0) and ``beta >= 1``: a producer's
        reward is its payoff minus ``kappa_i (sum s_i)^beta`` per user (summed over the
        starting users with ``reward_scale="sum"``), so posting less than a unit can pay.

    Raises
    ------
    ValueError, TypeError
        On invalid or contradictory arguments, naming the argument and the value.
    """

    metadata = {"name": "recgym_engagement_v0", "render_modes": list(RENDER_MODES),
                "is_parallelizable": True, "render_fps": 4}

    def __init__(self, rule: str | ServingRule = "softmax", temperature: float | None = None,
                 k: int | None = None, n_producers: int = 10, dim: int | None = None,
                 n_users: int | None = None, users: object = None, horizon: int = 100,
                 reward: str = "engagement", reward_scale: str = "mean",
                 render_mode: str | None = None, *, floor: float | None = None,
                 outside_option: object = 0.0, patience: int = 1, users_seed: int = 0,
                 users_path: str | os.PathLike | None = None, agent_ids: bool = True,
                 action_type: str = "box", user_dynamics: str | UserDynamics = "static",
                 user_outside_option: float = 0.0, user_patience: int = 1,
                 learner: str | Learner = "oracle", impressions: int = 1,
                 elicit: int = 0, skill: object = 1.0, cost: object = 0.0,
                 cost_exponent: float = 1.0) -> None:
        check_choice("reward", reward, PAYOFFS.names)
        check_choice("action_type", action_type, ACTION_TYPES)
        check_choice("reward_scale", reward_scale, REWARD_SCALES)
        if render_mode is not None:
            check_choice("render_mode", render_mode, RENDER_MODES)
        if not isinstance(agent_ids, bool):
            raise TypeError(f"agent_ids must be True or False, got {agent_ids!r}")
        n_producers = check_int("n_producers", n_producers, 1)
        user_matrix = resolve_users(users, dim, n_users, users_seed, users_path)

        # Constants of the game: users, rule and its parameters live in the game object.
        self.game: EngagementGame = EngagementGame(user_matrix, n_producers, rule, temperature, k,
                                                   floor=floor, payoff=reward,
                                                   outside_option=outside_option, skill=skill,
                                                   cost=cost, cost_exponent=cost_exponent)
        # producers who differ (skill, cost) are served through the game's own utilities
        self._plain: bool = self.game.traits.skill is None and not self.game.has_cost
        self.patience: int = check_int("patience", patience, 1)
        self._may_leave: bool = self.game.producers_may_leave
        # The users over time; frozen (static, nobody leaves): today's fast paths, untouched.
        self.population: Population = make_population(self.game, user_dynamics,
                                                      user_outside_option, user_patience)
        # The platform's serving and learning; the oracle serves by the true ratings.
        self.platform: LearningPlatform = make_platform(self.game, learner, impressions,
                                                        elicit)
        self._learning: bool = not self.platform.oracle
        if self._learning and not self._plain:
            raise ValueError("learner: a platform that learns its users serves by scores of "
                             "the content alone; producers with skill or a cost of effort "
                             "need learner='oracle'")
        self._frozen: bool = self.population.frozen and not self._learning
        self.users: np.ndarray = self.game.users  # (K, d), read-only, ratings per feature
        self.n_producers: int = n_producers  # n
        self.dim: int = self.game.dim  # d
        self.n_users: int = self.game.n_users  # K
        self.horizon: int = check_int("horizon", horizon, 1)  # steps per episode
        self.reward: str = reward
        self.reward_scale: str = reward_scale
        self.action_type: str = action_type
        self.render_mode: str | None = render_mode
        self.start_distribution: np.ndarray = metrics.user_distribution(self.users)  # (d,)
        self.user_distribution: np.ndarray = self.start_distribution  # (d,), the users now
        self._users_t: np.ndarray = np.ascontiguousarray(self.users.T)  # (d, K), for ratings
        self._reward_divisor: float = float(self.n_users) if reward_scale == "mean" else 1.0
        low, high = (bound / self._reward_divisor for bound in self._payoff_bounds())
        # [r_min, r_max], each widened by one float32 step (rewards are rounded to float32).
        self.reward_range: tuple[float, float] = (
            float(np.nextafter(np.float32(low), np.float32(-np.inf))),
            float(np.nextafter(np.float32(high), np.float32(np.inf))))

        # Agents and their spaces (one object per agent, returned every time).
        self.possible_agents: list[str] = [f"producer_{i}" for i in range(n_producers)]
        self.agents: list[str] = []  # live agents: all of them during an episode
        self._index: dict[str, int] = {a: i for i, a in enumerate(self.possible_agents)}

        self.observation_layout: ObservationLayout = ObservationLayout(n_producers, self.dim,
                                                                       agent_ids)
        self._basis: np.ndarray = np.eye(self.dim)  # (d, d), row j is e_j (vertex actions)
        self._action_spaces: dict[str, Box | Discrete] = {
            a: Box(0.0, 1.0, (self.dim,), np.float32) if action_type == "box"
            else Discrete(self.dim) for a in self.possible_agents}
        self._observation_spaces: dict[str, Box] = {
            a: self.observation_layout.space(*self.reward_range) for a in self.possible_agents}

        # Mutable state.
        self.np_random: np.random.Generator = np.random.default_rng()  # re-seeded by reset
        self.profile: np.ndarray = np.zeros((n_producers, self.dim))  # (n, d), projected, in S
        self.engagement: np.ndarray = np.zeros(n_producers)  # (n,), sum over users
        self.exposure: np.ndarray = np.zeros(n_producers)  # (n,), expected users served
        self.rewards_now: np.ndarray = np.zeros(n_producers)  # (n,), reward at the profile
        self.active: np.ndarray = np.ones(n_producers, dtype=bool)  # (n,), still in the game
        self.steps_below: np.ndarray = np.zeros(n_producers, dtype=np.int64)  # (n,), in a row
        self.step_count: int = 0  # steps since reset
        self.departed_users: int = 0  # users who left at the last step
        self._serving: Serving | None = None  # this step's serving, before producer exits
        self._scores: np.ndarray | None = None  # (K_a, m) this step's scores (under a learner)
        self._scored: np.ndarray = self.active.copy()  # (n,) the producers they score
        self.clicks: float = 0.0  # this step's clicks per starting user (under a learner)
        self.estimation_error: float = self._estimation_error()  # mean ||c^_k - c_k||_1

    def _payoff_bounds(self) -> tuple[float, float]:
        """``(low, high)`` on a producer's payoff (sum over users) over a whole episode:
        the game's, with each user's largest entry replaced by its L1 norm (which every
        model keeps) when the users' preferences can move."""
        game = self.game
        if self.population.model.static:
            return game.payoff_bounds()
        norms = self.users.sum(axis=1, keepdims=True)  # (K, 1): no rating exceeds ||c_k||_1
        low = game.payoff.lower_bound(norms, game.weights)
        if game.has_cost:
            low -= game.total_weight * float(game.cost.max())
        return low, game.payoff.bound(norms, game.weights)

    @property
    def current_game(self) -> EngagementGame | None:
        """The game of the users active now, as they are now (``env.game`` while nothing
        has changed; ``None`` once every user has left)."""
        return self.game if self._frozen else self.population.game()

    @property
    def served_game(self) -> EngagementGame | None:
        """The game of the users active now as the platform serves it: ``current_game``
        under the learner's serving rule (``LearningPlatform.serving_rule``: ``epsilon``'s
        uniform share folded into the floor); ``current_game`` itself for the oracle."""
        game = self.current_game
        if game is None or not self._learning:
            return game
        return self.population.game(self.platform.serving_rule(self.game.rule))

    @property
    def estimates(self) -> np.ndarray:
        """The platform's estimates ``c^_k`` of every starting user now ``(K, d)`` (a copy;
        the oracle's are the true current users). Between steps these are what the next
        step is served by."""
        return self.platform.estimates(self.population.users)

    @property
    def active_users(self) -> float:
        """Share of the ``K`` starting users still active."""
        return 1.0 if self._frozen else self.population.share_active

    # ------------------------------------------------------------------ spaces
    def observation_space(self, agent: str) -> Box:
        """The observation space of ``agent`` (the same object on every call)."""
        self.agent_index(agent)  # ValueError for unknown agents
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> Box | Discrete:
        """The action space of ``agent`` (the same object on every call)."""
        self.agent_index(agent)  # ValueError for unknown agents
        return self._action_spaces[agent]

    def agent_index(self, agent: str) -> int:
        """The index ``i`` of ``agent`` (``"producer_i"``); ``ValueError`` for unknown names."""
        try:
            return self._index[agent]
        except (KeyError, TypeError):
            raise ValueError(f"unknown agent {agent!r}; agents are producer_0 .. "
                             f"producer_{self.n_producers - 1}") from None

    # ------------------------------------------------------------------ reset
    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, dict[str, Any]]]:
        """Start an episode; see "Starting state" in the module docstring.

        Parameters
        ----------
        seed : int >= 0, optional
            Re-seeds ``env.np_random``.
        options : dict, optional
            ``{"directions": ints (n,)}`` or ``{"profile": array (n, d) in S}``; other
            keys are ignored with a warning.

        Returns
        -------
        observations, infos : dict
            Keyed by agent.
        """
        if seed is not None:
            self.np_random = np.random.default_rng(check_int("seed", seed, 0))
        self.profile = self._initial_profile(options or {})
        self.active = np.ones(self.n_producers, dtype=bool)
        self.steps_below = np.zeros(self.n_producers, dtype=np.int64)
        if not self._frozen:
            self.population.reset()
            self.user_distribution, self.departed_users = self.start_distribution, 0
        if self._learning:  # a fresh platform, its feedback stream drawn from np_random
            self.platform = self._fresh_platform()
            self.clicks, self.estimation_error = 0.0, self._estimation_error()
        self._evaluate()
        self.step_count = 0
        self.agents = list(self.possible_agents)
        return self._observations(), self._infos()

    def _fresh_platform(self) -> LearningPlatform:
        """The platform knowing nothing yet (then its elicitation), with a feedback seed
        drawn from ``env.np_random`` (after the starting profile's draws)."""
        seed = int(self.np_random.integers(np.iinfo(np.int64).max))
        platform = self.platform
        return LearningPlatform(self.game, platform.learner, platform.impressions,
                                platform.elicit, seed)

    def _initial_profile(self, options: Mapping[str, Any]) -> np.ndarray:
        """The starting profile ``(n, d)`` from ``options`` or the generator."""
        if not isinstance(options, Mapping):
            raise TypeError(f"options must be a dict, got {type(options).__name__}")
        unknown = sorted(str(key) for key in options if key not in RESET_OPTIONS)
        if unknown:
            warnings.warn(f"reset ignores unknown options {unknown}; known options are "
                          f"{list(RESET_OPTIONS)}", stacklevel=3)
        if "directions" in options and "profile" in options:
            raise ValueError("options may set 'directions' or 'profile', not both")
        if "profile" in options:  # in S up to rounding; the projection removes the rounding
            return project_to_strategy_set(self.game.check_profile(options["profile"]))
        if "directions" in options:
            return self.game.vertex_profile(options["directions"])
        return self.game.vertex_profile(self.np_random.integers(self.dim, size=self.n_producers))

    # ------------------------------------------------------------------ step
    def step(self, actions: Mapping[str, object]) -> tuple[
            dict[str, np.ndarray], dict[str, float], dict[str, bool], dict[str, bool],
            dict[str, dict[str, Any]]]:
        """All producers post content at once.

        Parameters
        ----------
        actions : dict
            One action per live agent, every agent included: an embedding ``(d,)``
            (``action_type="box"``) or a feature index (``"vertex"``).

        Returns
        -------
        observations, rewards, terminations, truncations, infos : dict
            Keyed by agent.

        Raises
        ------
        ValueError
            Unknown or missing agents, actions of the wrong shape or with NaN/inf.
        TypeError
            Complex or non-numeric actions.
        RuntimeError
            If the episode has ended (or never started): call ``reset``.
        """
        # Unpack: validate the actions and project them onto the strategy set.
        if not self.agents:
            raise RuntimeError("step() called with no live agents: call reset() first "
                               "(a new environment, or the episode reached its horizon)")
        live = self.agents
        stacked = self._stack_actions(actions)
        if self.action_type == "box":
            stacked = project_finite(stacked)  # _stack_actions checked the values
        if len(live) == self.n_producers:
            self.profile = stacked
        else:
            self.profile = self.profile.copy()
            self.profile[self.active] = stacked

        # Compute: every active producer's utilities at the new profile.
        self._evaluate()
        self.step_count += 1

        # Decide the end: producers below their outside option for `patience` steps
        # leave; truncation at the horizon.
        truncated = self.step_count >= self.horizon
        if not self._may_leave and self._frozen:  # nobody leaves: the fast, common case
            observations, infos = self._observations(live), self._infos(live)
            rewards = dict(zip(live, self.rewards_now.tolist(), strict=True))
            terminations = dict.fromkeys(live, False)
            self.agents = [] if truncated else live
            return observations, rewards, terminations, dict.fromkeys(live, truncated), infos
        leaving = self._leaving() if self._may_leave else np.zeros(self.n_producers, bool)
        self.active &= ~leaving  # the observations' others are those still in
        if not self._frozen:  # serving, departures, preference update
            self._users_step(exits=bool(leaving.any()))

        # Return (for the agents that acted in this step).
        observations, infos = self._observations(live), self._infos(live)
        index = self._index
        rewards = {a: float(self.rewards_now[index[a]]) for a in live}
        terminations = {a: bool(leaving[index[a]]) for a in live}
        truncations = dict.fromkeys(live, truncated)
        self.agents = [] if truncated else [a for a in live if not terminations[a]]
        return observations, rewards, terminations, truncations, infos

    def _users_step(self, exits: bool) -> None:
        """Steps 4-6 of "Users who change and leave": the active users served at the
        posted profile by the producers still in (this step's serving again unless some
        producer just left), departures, preference update; then the demand they show."""
        population = self.population
        serving = self._reserve() if exits else self._serving
        self._serving, self._scores = None, None
        if self._learning:
            self._learn(serving)
        self.departed_users = population.epoch_end(serving)
        self.user_distribution = active_demand(population)

    def _serve(self) -> Serving | None:
        """The active users served at ``self.profile`` over the active producers (``None``
        once every user has left): by the rule on the true ratings (the oracle) or, under
        a learner, by the rule (with the learner's uniform share folded into its floor) on
        the platform's scores of the posted content (``Learner.scores``, as
        ``LearningPlatform.serve`` serves; under ``thompson`` this step's one posterior
        draw), kept in ``self._scores`` for the producers still in after exits; users
        engage by their true ratings either way."""
        population = self.population
        if not self._learning:
            return population.serve(self.profile, self.active)
        game = self.served_game
        self._scores = None
        if game is None:
            return None
        rows = np.flatnonzero(population.active)
        if not self.active.any():
            return self.platform.serve(game, self.profile, self.active, rows)
        platform = self.platform
        self._scores = platform.learner.scores(platform.models, rows,
                                               self.profile[self.active], platform.rng)
        self._scored = self.active.copy()
        return self._serve_by(game, self._scores)

    def _reserve(self) -> Serving | None:
        """This step's serving again, by the producers still in after exits: the oracle
        serves anew; a learner by the columns of this step's scores of those still in (no
        second draw under ``thompson``)."""
        if not self._learning or self._scores is None or not self.active.any():
            return self._serve()
        return self._serve_by(self.served_game, self._scores[:, self.active[self._scored]])

    def _serve_by(self, game: EngagementGame, scores: np.ndarray) -> Serving:
        """The rule of ``game`` on ``scores`` ``(K_a, m)`` of the active producers, with the
        true ratings (``LearningPlatform.serve`` given its scores)."""
        probabilities = game.rule.probabilities(np.ascontiguousarray(scores))
        return game.serve_by(self.profile, self.active, probabilities,
                             symmetric=game.rule.symmetric)  # the rule on per-content scores

    def _learn(self, serving: Serving | None) -> None:
        """This step's impressions and clicks of the active users (``serving``'s rows), the
        models' update, and the figures reported in the infos."""
        population = self.population
        rows = np.flatnonzero(population.active)
        if serving is None:  # every user has left: no feedback
            self.clicks, self.estimation_error = 0.0, 0.0
            return
        clicks = self.platform.observe(serving, rows)  # (K_a,)
        weights = population.active_weights
        total = float(clicks.sum()) if weights is None else float(weights @ clicks)
        self.clicks = total / self.game.total_weight
        self.estimation_error = self.platform.estimation_error(population.active_users, rows)

    def _estimation_error(self) -> float:
        """Mean ``||c^_k - c_k||_1`` over the active users now (0 for the oracle)."""
        population = self.population
        return self.platform.estimation_error(population.active_users,
                                              np.flatnonzero(population.active))

    def _leaving(self) -> np.ndarray:
        """``(n,)`` bool: active producers whose reward per user has stayed below their
        outside option for ``patience`` consecutive steps, this one included."""
        per_user = self.rewards_now * (self._reward_divisor / self.game.total_weight)
        below = self.active & (per_user < self.game.outside_option)
        self.steps_below = np.where(below, self.steps_below + 1, 0)
        return below & (self.steps_below >= self.patience)

    def check_action(self, agent: str, action: object) -> np.ndarray:
        """Validate one action; return the embedding it posts, ``float64`` ``(d,)``: the
        action itself (not projected) or, for vertex actions, the basis vector.

        Raises
        ------
        ValueError
            Unknown agent, wrong shape, NaN/inf values, or (vertex actions) anything
            but an integer in ``0 .. d-1``.
        TypeError
            A complex or non-numeric action.
        """
        self.agent_index(agent)
        if self.action_type == "vertex":
            return self._basis[self._check_vertex(agent, action)]
        arr = _real_array(agent, action, f"a numeric array of shape ({self.dim},)")
        arr = arr.astype(np.float64)
        if arr.shape != (self.dim,):
            raise ValueError(f"action of {agent} must have shape ({self.dim},), "
                             f"got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"action of {agent} must be finite (no NaN or inf), got {action!r}")
        return arr

    def _check_vertex(self, agent: str, action: object) -> int:
        """The feature index of one vertex action (see ``check_action``)."""
        expected = f"a feature index, an integer in 0..{self.dim - 1} (action_type='vertex')"
        arr = _real_array(agent, action, expected)
        if arr.shape != () or arr.dtype.kind not in "iu" or not 0 <= arr < self.dim:
            raise ValueError(f"action of {agent} must be {expected}, got {action!r}")
        return int(arr)

    def _stack_actions(self, actions: Mapping[str, object]) -> np.ndarray:
        """The actions as one ``(n, d)`` array in agent order (vertex actions as their
        basis vectors); errors name the agent."""
        if not isinstance(actions, Mapping):
            raise TypeError(f"actions must be a dict {{agent: action}}, "
                            f"got {type(actions).__name__}")
        if actions.keys() != set(self.agents):
            for agent in actions:
                self.agent_index(agent)  # ValueError for unknown names
                if agent not in self.agents:
                    raise ValueError(f"{agent} has left the game (terminated); live agents "
                                     f"are {self.agents}")
            missing = [a for a in self.agents if a not in actions]
            raise ValueError(f"actions must include every live agent; missing {missing}")
        if self.action_type == "vertex":
            return self._stack_vertices(actions)
        try:
            raw = np.asarray([actions[a] for a in self.agents])
            stacked = raw.astype(np.float64) if raw.dtype.kind in "biuf" else None
        except (TypeError, ValueError):
            stacked = None
        if (stacked is None or stacked.shape != (len(self.agents), self.dim)
                or not np.isfinite(stacked).all()):
            # Slow path, only for bad input: find the offending agent.
            stacked = np.stack([self.check_action(a, actions[a]) for a in self.agents])
        return stacked

    def _stack_vertices(self, actions: Mapping[str, object]) -> np.ndarray:
        """Vertex actions as the ``(n, d)`` basis vectors they post."""
        values = [actions[a] for a in self.agents]
        try:  # bools would be cast to integers with the others: refused below
            raw = (None if any(isinstance(v, bool | np.bool_) for v in values)
                   else np.asarray(values))
        except (TypeError, ValueError):
            raw = None
        if (raw is None or raw.dtype.kind not in "iu" or raw.shape != (len(self.agents),)
                or raw.min() < 0 or raw.max() >= self.dim):
            # Slow path, only for bad input: find the offending agent.
            return np.stack([self.check_action(a, actions[a]) for a in self.agents])
        return self._basis[raw]

    def _evaluate(self) -> None:
        """Utilities and rewards at ``self.profile``.

        Engagement and exposure come from the rule's fast producer totals; payoffs
        that need more (the marginal payoff) from the game's own utilities. With users
        who change or leave, everything comes from serving the users active now
        (``Population.serve``).
        """
        if not self._frozen:
            self._evaluate_current()
            return
        game = self.game
        if game.payoff.needs_welfare_loss or not self._plain:
            utilities = game.utilities(self.profile, self.active)
            self.engagement, self.exposure = utilities.engagement, utilities.exposure
            payoff = utilities.payoff
        elif np.count_nonzero(self.active) == self.n_producers:
            ratings = self.profile @ self._users_t  # (n, K)
            self.engagement, self.exposure = game.rule.producer_totals(ratings)
            payoff = game.payoff.profile_totals(self.engagement, self.exposure, None)
        else:  # the producers who left are out of the served set and earn nothing
            engagement, exposure = game.rule.producer_totals(self.profile[self.active]
                                                             @ self._users_t)
            totals = np.zeros((3, self.n_producers))
            totals[:, self.active] = (engagement, exposure,
                                      game.payoff.profile_totals(engagement, exposure, None))
            self.engagement, self.exposure, payoff = totals
        low, high = self.reward_range  # rounding never takes a reward outside its range
        self.rewards_now = np.maximum(np.minimum(payoff / self._reward_divisor, high), low)

    def _evaluate_current(self) -> None:
        """Utilities and rewards at ``self.profile`` on the users active now (0 once every
        user has left), per user of the starting population with ``reward_scale="mean"``;
        the serving is kept for the step's users' update."""
        serving = self._serve()
        self._serving = serving
        if serving is None:
            self.engagement, self.exposure = np.zeros(self.n_producers), np.zeros(self.n_producers)
            payoff = np.zeros(self.n_producers)
        else:
            utilities = serving.utilities
            self.engagement, self.exposure = utilities.engagement, utilities.exposure
            payoff = utilities.payoff
        low, high = self.reward_range
        self.rewards_now = np.maximum(np.minimum(payoff / self._reward_divisor, high), low)

    def _observations(self, agents: list[str] | None = None) -> dict[str, np.ndarray]:
        """Observations of ``agents`` (default: all), the others' mean over the active."""
        rows = self.observation_layout.build(self.profile, self.rewards_now,
                                             self.user_distribution, self.active)
        if agents is None or len(agents) == self.n_producers:
            return dict(zip(self.possible_agents, rows, strict=True))
        return {a: rows[self._index[a]] for a in agents}

    def _infos(self, agents: list[str] | None = None) -> dict[str, dict[str, Any]]:
        embeddings = self.profile.copy()
        engagement = (self.engagement / self._reward_divisor).tolist()
        exposure = (self.exposure / self._reward_divisor).tolist()
        agents = self.possible_agents if agents is None else agents
        share, departed = self.active_users, self.departed_users
        infos = {a: {"embedding": embeddings[i], "engagement": engagement[i],
                     "exposure": exposure[i], "active_users": share, "departed_users": departed}
                 for a in agents for i in (self._index[a],)}
        if self._learning:
            for info in infos.values():
                info["clicks"], info["estimation_error"] = self.clicks, self.estimation_error
        return infos

    # ------------------------------------------------------------------ render
    def render(self) -> str | np.ndarray | None:
        """Producers still in, per feature, next to the current users' distribution.

        Returns
        -------
        str (``"ansi"``), array (H, W, 3) uint8 (``"rgb_array"``), or None with a
        warning when no render mode was chosen.
        """
        if self.render_mode is None:
            warnings.warn("render() called without a render_mode; pass render_mode='ansi' or "
                          "'rgb_array' when creating the environment", stacklevel=2)
            return None
        header = (f"step {self.step_count}/{self.horizon}  rule {self.game.rule.spec}  "
                  f"{self.reward} ({self.reward_scale}): total {self.rewards_now.sum():.4g}")
        if not self.active.all():
            header += f"  active {int(self.active.sum())}/{self.n_producers}"
        if not self._frozen and not self.population.active.all():
            header += f"  users {self.population.share_active:.1%}"
        posted = self.profile[self.active]  # those who left post nothing any more
        if self.render_mode == "ansi":
            return rendering.ansi_table(posted, self.user_distribution, header)
        return rendering.rgb_image(posted, self.user_distribution, header)

    def close(self) -> None:
        """Nothing to release (images are drawn on fresh figures)."""

    def __repr__(self) -> str:
        return (f"EngagementEnv({self.game!r}, horizon={self.horizon}, reward={self.reward!r}, "
                f"reward_scale={self.reward_scale!r}, action_type={self.action_type!r})")


class CheckActionWrapper(BaseWrapper):
    """Check each AEC action when it is taken.

    ``parallel_to_aec`` only hands the actions to the parallel environment once the
    last producer has acted; this wrapper raises on a bad action at the offending
    producer's own turn. It does not clip: out-of-box values are projected by the
    environment, as in the parallel API (clipping first would change the result).
    """

    def step(self, action: object) -> None:
        agent = self.agent_selection
        if not (self.terminations[agent] or self.truncations[agent]):
            self.unwrapped.check_action(agent, action)
        super().step(action)


def _real_array(agent: str, action: object, expected: str) -> np.ndarray:
    """``np.asarray(action)`` if it is real and numeric; ``TypeError`` naming ``agent`` and
    what is ``expected`` otherwise (complex values, strings, objects, None)."""
    if np.iscomplexobj(action):
        raise TypeError(f"action of {agent} must be real, got complex values {action!r}")
    try:
        arr = np.asarray(action)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.dtype.kind not in "biuf":
        raise TypeError(f"action of {agent} must be {expected}, got {action!r}")
    return arr


def make_population(game: EngagementGame, user_dynamics: str | UserDynamics,
                    user_outside_option: object, user_patience: object) -> Population:
    """``Population(game, ...)`` (``recgym.population``) whose errors name the argument.

    Raises
    ------
    ValueError
        An unknown model, a parameter out of range (blamed on ``user_dynamics``), a
        negative or NaN ``user_outside_option`` or a ``user_patience`` below 1.
    """
    try:
        return Population(game, user_dynamics, user_outside_option, user_patience)
    except ValueError as exc:
        if str(exc).startswith("user_"):
            raise
        raise ValueError(f"user_dynamics: {exc}") from None


def make_platform(game: EngagementGame, learner: str | Learner, impressions: object,
                  elicit: object) -> LearningPlatform:
    """``LearningPlatform(game, learner, impressions, elicit)`` (``recgym.learning_platform``)
    whose errors name the argument (its feedback seed is drawn at each ``reset``).

    Raises
    ------
    ValueError
        An unknown learner or parameter (``learner``), ``impressions`` below 1, ``elicit``
        below 0, users with ``||c_k||_1 > 1`` or a payoff that needs the welfare without
        each producer (``reward="marginal"``) under a learner.
    """
    try:
        return LearningPlatform(game, learner, impressions, elicit, 0)
    except ValueError as exc:
        message = str(exc)
        if message.startswith("payoff"):
            raise ValueError(f"reward: {message}") from None
        if message.startswith(("learner", "impressions", "elicit", "users")):
            raise
        raise ValueError(f"learner: {message}") from None


def active_demand(population: Population) -> np.ndarray:
    """The active users' demand per feature ``(d,)`` (``recgym.metrics.user_distribution``;
    zeros when they have none, e.g. once every user has left)."""
    users, weights = population.active_users, population.active_weights
    total = users.sum() if weights is None else float(weights @ users.sum(axis=1))
    if not population.active.any() or not total > 0:
        return np.zeros(users.shape[1])
    return metrics.user_distribution(users, weights)


def unwrap(env: object) -> EngagementEnv:
    """The ``EngagementEnv`` under any PettingZoo wrapper, parallel or AEC.

    Raises
    ------
    TypeError
        If ``env`` is not a recgym environment.
    """
    base = getattr(env, "unwrapped", env)
    if not isinstance(base, EngagementEnv):
        raise TypeError(f"env must be a recgym environment (recgym.parallel_env, recgym.env or "
                        f"recgym.raw_env), got {type(env).__name__}")
    return base


def parallel_env(**kwargs: Any) -> EngagementEnv:
    """The environment itself: all producers act at once, as the game is defined.

    Keyword arguments are those of ``EngagementEnv``.
    """
    return EngagementEnv(**kwargs)


def raw_env(**kwargs: Any) -> AECEnv:
    """The AEC version, unwrapped: producers act in turn and content is posted when the
    last has acted (PettingZoo's ``parallel_to_aec_wrapper``), for AEC-only tools."""
    return parallel_to_aec_wrapper(parallel_env(**kwargs))


def env(**kwargs: Any) -> AECEnv:
    """The AEC version to use: ``raw_env`` with each action checked at its own turn and
    PettingZoo's ``OrderEnforcingWrapper`` (errors on calls before ``reset``)."""
    return OrderEnforcingWrapper(CheckActionWrapper(raw_env(**kwargs)))


# ---------------------------------------------------------------------- helpers
__all__ = ["ACTION_TYPES", "CheckActionWrapper", "EngagementEnv", "active_demand", "env",
           "make_platform", "make_population", "parallel_env", "raw_env", "unwrap"]
