"""The example gallery's helpers (named in ``sphinx_gallery_conf`` by their dotted
paths, so Sphinx can cache the configuration).

The examples are argparse scripts. The gallery runs a staged copy of each (the only
change: an RST underline under its docstring's first line, the page title) with a
small budget and shows what it prints and the figures it draws. Outputs go to a
temporary folder, never into the tree.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
STAGED = ROOT / "docs" / "_gallery_src"
OUT = Path(tempfile.mkdtemp(prefix="recgym-gallery-"))

#: each example's small budget (the same as the tests'); any other: ``--quick``
ARGV = {
    "reproduce_paper.py": lambda out: ["--quick", "--out", str(out)],
    "heuristic_fails.py": lambda out: ["--steps", "1000"],
    "train_rl_producers.py": lambda out: ["--steps", "1500", "--logdir", str(out)],
    "env_quickstart.py": lambda out: [],
}

HEADER = """\
Example gallery
===============

The scripts of ``examples/``, each run when the site is built, with a small budget
(most with ``--quick``: small synthetic users instead of MovieLens-100k, seconds),
with what it prints and the figures it draws. The full runs are in each script's
docstring; ``python examples/NAME.py --help`` lists its options.
"""

_TITLE = re.compile(r'(\s*(?:#[^\n]*\n\s*)*[rRuU]?"""\s*)([^\n]+)\n(?![=\-~^]{3})')


def _write(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def stage_examples() -> Path:
    """Copy ``examples/*.py`` into ``docs/_gallery_src`` with a title underline."""
    STAGED.mkdir(exist_ok=True)
    wanted = {p.name for p in EXAMPLES.glob("*.py")}
    for stale in STAGED.glob("*.py"):
        if stale.name not in wanted:
            stale.unlink()
    for name in sorted(wanted):
        text = (EXAMPLES / name).read_text()
        match = _TITLE.match(text)
        if match:
            title = match.group(2).rstrip()
            text = text[:match.end(2)] + "\n" + "=" * len(title) + text[match.end(2):]
        _write(STAGED / name, text)
    _write(STAGED / "GALLERY_HEADER.rst", HEADER)
    return STAGED


def reset_argv(gallery_conf, script_vars) -> list[str]:
    """The command line each example runs with."""
    name = Path(script_vars["src_file"]).name
    return ARGV.get(name, lambda out: ["--quick"])(OUT / Path(name).stem)


def written_figures(block, block_vars, gallery_conf) -> str:
    """Image scraper: the PNG files an example wrote into its output folder."""
    from sphinx_gallery.scrapers import figure_rst

    out = OUT / Path(block_vars["src_file"]).stem
    written = sorted(out.rglob("*.png")) if out.exists() else []
    names = []
    for png, target in zip(written, block_vars["image_path_iterator"], strict=False):
        shutil.copyfile(png, target)
        names.append(target)
    return figure_rst(names, gallery_conf["src_dir"])
