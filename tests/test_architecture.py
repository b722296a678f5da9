"""The architecture holds: layers import only downward, heavy libraries load only where
used, and a new serving rule needs one class and one registry entry."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

import recgym
from agents import BestResponse
from recgym.cli import main
from recgym.registry import Param
from recgym.rules import FLOOR, RULES, WeightRule
from recgym.solvers import best_response_dynamics
from recgym.testing import check_game, check_rule

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    """import-linter: recgym never imports agents, layers only downward, no cycles."""
    done = subprocess.run([sys.executable, "-c", "from importlinter.cli import "
                           "lint_imports_command; lint_imports_command()"],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "BROKEN" not in done.stdout and "KEPT" in done.stdout


@pytest.mark.parametrize("code", [
    "import recgym",
    "import recgym.cli; recgym.cli.build_parser()",
    "import recgym.experiments.sweep, recgym.experiments.equilibrium",
    "import recgym.design, recgym.welfare",
])
def test_heavy_libraries_load_only_where_used(code):
    check = ("import sys; heavy = [m for m in ('torch', 'stable_baselines3', 'ray', "
             "'matplotlib') if m in sys.modules]; print(heavy)")
    done = subprocess.run([sys.executable, "-c", f"{code}; {check}"], capture_output=True,
                          text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", f"{code!r} imports {done.stdout.strip()}"


def test_help_loads_neither_pandas_nor_the_heavy_libraries():
    """``recgym --help`` builds the top-level parser only (the sweep commands' options,
    which load pandas, come with those commands)."""
    code = ("import contextlib, io, sys, recgym.cli\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            "    recgym.cli.main(['--help'])\n"
            "print([m for m in ('pandas', 'torch', 'stable_baselines3', 'ray', 'matplotlib') "
            "if m in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]", done.stdout


def test_version_reads_the_package_metadata_without_torch():
    """``recgym --version`` prints the installed version (one source: pyproject.toml)."""
    from importlib.metadata import version

    import recgym

    code = ("import contextlib, io, sys, recgym.cli\n"
            "out = io.StringIO()\n"
            "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
            "    recgym.cli.main(['--version'])\n"
            "print(out.getvalue().strip(), 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["recgym", version("recgym"), "False"]
    assert recgym.__version__ == version("recgym")


@dataclass(frozen=True)
class Cube(WeightRule):
    """A toy rule for this test: serving proportional to the cube of the rating."""

    sharpness: float = 3.0
    floor: float = 0.0
    NAME: ClassVar[str] = "cube"
    PARAMS: ClassVar[tuple[Param, ...]] = (
        Param("sharpness", float, 3.0, low=1.0, doc="exponent of the rating"), FLOOR)
    den_positive: ClassVar[bool] = False

    def __post_init__(self) -> None:
        self._check_params()

    def weights(self, ratings: np.ndarray, shift: np.ndarray) -> np.ndarray:
        return ratings ** self.sharpness

    def own_weight(self, x, shift):
        return x ** self.sharpness, self.sharpness * x ** (self.sharpness - 1), \
            np.ones_like(shift)


@pytest.fixture
def cube_rule():
    RULES.register(Cube)
    yield Cube
    RULES.unregister("cube")


def test_a_new_rule_needs_one_class_and_one_registry_entry(cube_rule, tmp_path, capsys):
    """The toy rule works in the contract kit, the game, the environment, best responses,
    the dynamics and the command line, with nothing else changed."""
    check_rule(Cube(2.0))
    users = recgym.users.synthetic_uniform(300, 4, seed=1)
    game = recgym.EngagementGame(users, 5, "cube:sharpness=2")
    check_game(game)
    result = best_response_dynamics(game, 3)
    assert result.converged
    assert BestResponse(game).nash_conv(result.profile, over="vertices").value == 0.0
    env = recgym.parallel_env(rule="cube", floor=0.1, n_producers=3, dim=4, n_users=100)
    env.reset(seed=0)
    assert env.game.rule == Cube(3.0, 0.1)
    env.step({agent: env.action_space(agent).sample() for agent in env.agents})
    assert BestResponse(env).action("producer_0").shape == (4,)
    assert main(["equilibrium", "--rule", "cube:sharpness=1.5", "--n-producers", "4"]) == 0
    assert "rule=cube:sharpness=1.5" in capsys.readouterr().out
    with pytest.raises(ValueError, match=r"sharpness must be a finite number >= 1"):
        recgym.make_rule("cube:sharpness=0.5")
