"""Sphinx configuration of recgym's documentation site.

Build it (warnings are errors, the example gallery executed on small budgets)::

    sphinx-build -W -b html docs docs/_build/html
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "_ext"))
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars in the gallery's output

import recgym_gallery  # noqa: E402

import recgym  # noqa: E402

project = "recgym"
author = "recgym contributors"
copyright = "recgym contributors"  # noqa: A001
release = recgym.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
    "recgym_cli_docs",
    "recgym_manual",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_generated", "_gallery_src", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip", "**.codeobj.json"]
html_theme = "furo"
html_title = f"recgym {release}"

myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_ivar = True


# -- the example gallery (helpers in _ext/recgym_gallery.py) ------------------------

#: examples not executed at build time (a regex on the file name); none today: every
#: example runs on synthetic users in its small budget, without MovieLens
GALLERY_SKIP = None

sphinx_gallery_conf = {
    "examples_dirs": [str(recgym_gallery.stage_examples())],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": rf"^(?!.*({GALLERY_SKIP})).*\.py$" if GALLERY_SKIP else r"\.py$",
    "reset_argv": "recgym_gallery.reset_argv",
    # RECGYM_DOCS_RERUN=1 (the tests): run every example again, even unchanged ones
    "run_stale_examples": os.environ.get("RECGYM_DOCS_RERUN") == "1",
    "image_scrapers": ("matplotlib", "recgym_gallery.written_figures"),
    "download_all_examples": False,
    "remove_config_comments": True,
    "min_reported_time": 0,
    "within_subsection_order": "FileNameSortKey",
}

