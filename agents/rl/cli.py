"""``recgym train``: train RL producers, evaluate them against the equilibrium, save them.

``recgym`` finds it through the package's entry point (group ``recgym.commands``,
name ``train``): ``recgym.cli`` never imports ``agents``. Its options are generated
from ``agents.rl.config.TrainConfig``; torch, Stable-Baselines3 and Ray load only
when a run starts.
"""

from __future__ import annotations

import argparse

from agents.rl.config import TrainConfig
from recgym.options import add_command, config_from_args

__all__ = ["add_train_parser", "run_train"]

DESCRIPTION = ("Train RL producers with Stable-Baselines3 or Ray RLlib (one shared policy or "
               "one per producer; embeddings or basis vectors as actions), evaluate them "
               "against the best-response-dynamics equilibrium every --eval-freq agent-steps "
               "(TensorBoard), print a summary and save the models and evaluation.json.")


def add_train_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``train`` sub-command to ``subparsers``; returns its parser."""
    return add_command(subparsers, "train", run_train, "Train RL producers and compare them "
                       "with the exact equilibrium.", DESCRIPTION, TrainConfig)


def run_train(args: argparse.Namespace) -> int:
    """Handler of ``recgym train``: bad settings, an unusable device or --logdir, a missing
    RLlib and an unreachable Ray address are usage errors (exit status 2)."""
    config = config_from_args(TrainConfig, args)
    from agents.rl.training import check_start, format_summary, train  # heavy imports

    try:
        check_start(config)
    except (ImportError, ValueError) as exc:
        args.parser.error(str(exc))
    print(format_summary(train(config)))
    return 0
