"""Every Python snippet of the README runs (training budgets cut to seconds)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
SNIPPETS = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)
#: Calls whose budgets are cut: ``learn(50_000, ...)`` trains for a few hundred steps.
BUDGETS = (re.compile(r"learn\((\d[\d_]*)"), "learn(512")


def _runnable(index: int) -> str:
    """Snippet ``index`` with the snippets it continues prepended (a "continuing the
    example above" comment marks one), budgets cut."""
    code = SNIPPETS[index]
    if "continuing the example above" in code:
        code = SNIPPETS[index - 1] + code
    return BUDGETS[0].sub(BUDGETS[1], code)


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_readme_snippet_runs(index, tmp_path):
    code = _runnable(index)
    if "movielens_100k" in code and not (ROOT.parent / "shared" / "data").exists():
        pytest.skip("needs the MovieLens-100k file of the development workspace")
    env = {"RECGYM_DATA": str(ROOT.parent / "shared" / "data"), "PATH": "",
           "PYTHONPATH": str(ROOT), "HOME": str(tmp_path), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"README snippet {index} failed:\n{code}\n{done.stderr}"


def test_readme_numbers_that_the_quick_start_prints():
    """The interior best response the README quotes (its comment) is what the code prints."""
    code = _runnable(next(i for i, s in enumerate(SNIPPETS) if "temperature=0.03" in s))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert re.fullmatch(r"2\.578 \[0\.\s+0\.55 0\.45\] False", done.stdout.splitlines()[-1])
