"""The documentation site builds with warnings as errors, the example gallery executed on
its small budgets, and its command-line reference lists every command and every flag of
the parsers (plug-in commands included)."""

from __future__ import annotations

import argparse
import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from recgym.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("sphinx")
pytest.importorskip("furo")
pytest.importorskip("myst_parser")
pytest.importorskip("sphinx_gallery")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "RECGYM_DOCS_RERUN": "1", "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-E", "-q",
                           "-b", "html", "-d", str(out / "doctrees"), "docs", str(out / "html")],
                          cwd=ROOT, env=env, capture_output=True, text=True, check=False,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    return out / "html"


def _commands(parser: argparse.ArgumentParser, path=("recgym",)):
    """Every (nested) command of the parsers, walked here independently of docs/_ext."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _commands(child, (*path, name))


def _sections(page: str) -> dict[str, str]:
    chunks = page.split('<section id="')[1:]
    return {chunk.split('"', 1)[0]: chunk for chunk in chunks}


def test_site_pages_and_gallery(site):
    for page in ["index", "getting_started", "model", "environments", "platform",
                 "ecosystem", "benchmarks", "cli", "api", "auto_examples/index",
                 "api/recgym.coevolve", "api/agents"]:
        assert (site / f"{page}.html").is_file(), page
    examples = sorted(p.stem for p in (ROOT / "examples").glob("*.py"))
    for name in examples:
        text = (site / "auto_examples" / f"{name}.html").read_text()
        assert "sphx-glr-script-out" in text, f"{name}: no printed output in the gallery"
    figures = (site / "auto_examples" / "reproduce_paper.html").read_text()
    assert "sphx_glr_reproduce_paper_001.png" in figures
    manual = (site / "environments.html").read_text()
    assert "Action space" in manual and "Observation space" in manual


def test_cli_reference_lists_every_command_and_flag(site):
    sections = _sections((site / "cli.html").read_text())
    commands = list(_commands(build_parser()))
    assert {"train", "train-platform"} <= {path[1] for path, _ in commands if len(path) > 1}
    for path, parser in commands:
        section_id = "-".join(path)
        assert section_id in sections, f"no section for {' '.join(path)}"
        literals = {html.unescape(t) for t in
                    re.findall(r'<span class="pre">([^<]*)</span>', sections[section_id])}
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name in action.choices:
                    assert f"{' '.join(path)} {name}" in " ".join(literals) or name in literals
                continue
            names = action.option_strings or [action.metavar or action.dest]
            for name in names:
                assert name in literals, f"{' '.join(path)}: {name} missing from the reference"
