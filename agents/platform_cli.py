"""``recgym train-platform``: train the platform with Stable-Baselines3, compare it with the
best static and the myopic policy on the same seeds, save it.

``recgym`` finds it through the package's entry point (group ``recgym.commands``,
name ``train-platform``); torch and Stable-Baselines3 load only when a run starts.
Its options are generated from ``agents.platform_training.PlatformTrainConfig``.
"""

from __future__ import annotations

import argparse

from agents.platform_training import PlatformTrainConfig
from recgym.options import add_command, config_from_args

__all__ = ["add_train_platform_parser", "run_train_platform"]

DESCRIPTION = ("Train the platform (its serving rule's parameters, epoch by epoch) with "
               "Stable-Baselines3 on recgym's platform environment, logging platform/* to "
               "TensorBoard, then compare the trained policy with the best static action and "
               "the myopic policy on the same evaluation seeds.")


def add_train_platform_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``train-platform`` sub-command to ``subparsers``; returns its parser."""
    return add_command(subparsers, "train-platform", run_train_platform,
                       "Train a learning platform and compare it with static and myopic "
                       "policies.", DESCRIPTION, PlatformTrainConfig)


def run_train_platform(args: argparse.Namespace) -> int:
    """Handler of ``recgym train-platform``: bad settings are usage errors (exit 2)."""
    config = config_from_args(PlatformTrainConfig, args)
    from agents.platform_training import format_comparison, train_platform

    print(format_comparison(train_platform(config)))
    return 0
