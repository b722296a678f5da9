"""Train RL producers with Stable-Baselines3 and compare them with the exact equilibrium.

Both ways of training, each in about ten lines:

* ``shared``: one PPO policy acts for every producer (their ids are in the
  observations), through the vectorised multi-agent adapter; producers post
  embeddings (``action_type="box"``, the vertex-mixture policy);
* ``independent``: a network per producer, all batched in one PPO model; here
  producers choose a feature (``action_type="vertex"``: they post basis vectors).

Run ``python examples/train_rl_producers.py --steps 100000`` and then
``tensorboard --logdir runs/example`` to watch ``eval/nash_conv_relative``,
``eval/tv_to_equilibrium`` and the producer vs user distribution figure.
"""

from __future__ import annotations

import argparse

import recgym
from agents.progress import ProgressCallback
from agents.rl import EquilibriumEvalCallback, evaluate, independent_model, shared_model
from agents.rl.config import DEFAULT_N_ENVS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100_000, help="agent-steps per mode")
    parser.add_argument("--logdir", default="runs/example", help="TensorBoard folder")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    settings = dict(n_producers=5, dim=5, n_users=1000, rule="softmax", temperature=1.0,
                    horizon=16)
    copies = DEFAULT_N_ENVS  # recgym train's default: an update every 320 agent-steps

    # (a) One shared policy for every producer, embeddings as actions.
    model = shared_model([recgym.parallel_env(**settings) for _ in range(copies)], algo="ppo",
                         seed=args.seed, logdir=f"{args.logdir}/shared")
    eval_env = recgym.parallel_env(**settings)
    model.learn(args.steps, callback=[ProgressCallback(), EquilibriumEvalCallback(eval_env,
                                                                                  10_000)])
    print("shared PPO, embeddings\n" + evaluate(model, eval_env).summary() + "\n")

    # (b) A network per producer, trained at once; each producer picks a feature.
    vertex = dict(settings, action_type="vertex")
    learners = independent_model([recgym.parallel_env(**vertex) for _ in range(copies)],
                                 seed=args.seed, logdir=f"{args.logdir}/independent")
    eval_env = recgym.parallel_env(**vertex)
    learners.learn(args.steps, callback=[ProgressCallback(), EquilibriumEvalCallback(eval_env,
                                                                                     10_000)])
    print("independent PPO, features\n" + evaluate(learners, eval_env).summary())


if __name__ == "__main__":
    main()
