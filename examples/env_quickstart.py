"""Quick start: the recgym PettingZoo environment.

1. Random producers for a few steps, then the text rendering.
2. Producers taking turns to play their exact best response (the others repeat
   their content) until nobody can gain.
3. The paper's best-response dynamics run through the environment, checked against
   the same dynamics run on the game directly.

Run: ``python examples/env_quickstart.py`` (a few seconds).
"""

from __future__ import annotations

import numpy as np

from agents.env_play import best_response_action, dynamics_through_env
from recgym.environment import parallel_env
from recgym.solvers import best_response_dynamics

SEED = 0
ROUNDS = 5  # best-response rounds (each producer once per round)


def random_play(steps: int = 3) -> None:
    env = parallel_env(rule="softmax", temperature=0.1, n_producers=6, dim=4, n_users=500,
                       render_mode="ansi")
    env.reset(seed=SEED)
    for i, agent in enumerate(env.agents):
        env.action_space(agent).seed(SEED + i)
    for _ in range(steps):
        actions = {agent: env.action_space(agent).sample() for agent in env.agents}
        _, rewards, _, _, infos = env.step(actions)
    print("random actions, last step:")
    for agent in env.possible_agents:
        print(f"  {agent}: posted {np.round(infos[agent]['embedding'], 3)} "
              f"-> reward {rewards[agent]:.4f} (engagement per user)")
    print(env.render())


def best_response_play() -> None:
    env = parallel_env(rule="softmax", temperature=0.1, n_producers=6, dim=4, n_users=500,
                       render_mode="ansi")
    env.reset(seed=SEED)
    for round_ in range(ROUNDS):
        moved = 0
        for agent in env.possible_agents:
            actions = {a: env.profile[i].astype(np.float32)
                       for i, a in enumerate(env.possible_agents)}
            response = best_response_action(env, agent)
            moved += int(not np.array_equal(response, actions[agent]))
            env.step({**actions, agent: response})
        print(f"best-response round {round_}: {moved} producer(s) changed content")
        if moved == 0:
            break
    print(env.render())


def paper_dynamics() -> None:
    env = parallel_env(rule="linear", n_producers=10, dim=5, n_users=1000)
    through_env = dynamics_through_env(env, seed=SEED)
    on_game = best_response_dynamics(env.game, seed=SEED)
    print(f"paper dynamics through the env: converged={through_env.converged}, "
          f"{through_env.iterations} moves, producers per feature {through_env.counts.tolist()}")
    print(f"same as on the game directly: {through_env.moves == on_game.moves}")


if __name__ == "__main__":
    random_play()
    best_response_play()
    paper_dynamics()
