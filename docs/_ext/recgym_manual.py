"""Module docstrings written in Markdown, as pages and as API text.

* At ``builder-inited`` the docstrings of the environments' modules (``MANUALS``: RST
  with Markdown headings) are written to ``_generated/<name>.rst`` with the headings as
  RST subsections, and ``environments.rst`` includes them: the manuals live in the code
  and the site shows them as they are.
* At ``builder-inited`` one API page per public module (``API_MODULES``) is written
  to ``api/<module>.rst`` (``automodule`` with its members; for ``recgym`` itself, an
  ``autosummary`` table of what it re-exports, linked to where each is documented), and
  ``api.rst``, an ``autosummary`` table of the modules. The modules are named by their
  dotted paths, so ``recgym.coevolve``, both a module and a function re-exported by
  ``recgym``, is documented as the module.
* In the API reference (autodoc), a module docstring's Markdown headings
  (``## Action space``) become RST rubrics, so the same text reads well there too.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

#: page stem -> module whose docstring is that environment's manual
MANUALS = {"environment": "recgym.environment", "platform": "recgym.platform"}

#: the public modules of the API reference, in the order of the page
API_MODULES = [
    "recgym", "recgym.game", "recgym.rules", "recgym.payoffs", "recgym.welfare",
    "recgym.solvers", "recgym.coevolve", "recgym.population", "recgym.user_dynamics",
    "recgym.learners", "recgym.learning_platform", "recgym.behaviors", "recgym.producers",
    "recgym.design",
    "recgym.information",
    "recgym.environment", "recgym.platform", "recgym.testing", "recgym.metrics", "agents",
]

#: ``agents`` re-exports its API from its submodules: document those names on its page
#: (what it re-exports from ``recgym`` is skipped: it is documented there)
IMPORTED_MEMBERS = {"agents"}

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*$")


def write_manuals(app) -> None:
    out = Path(app.srcdir) / "_generated"
    out.mkdir(exist_ok=True)
    for stem, module in MANUALS.items():
        lines = inspect.cleandoc(importlib.import_module(module).__doc__ or "").splitlines()
        for i, line in enumerate(lines):
            match = _HEADING.match(line)
            if match:
                lines[i] = f"{match.group(2)}\n{'~' * len(match.group(2))}"
        text = "\n".join(lines) + "\n"
        target = out / f"{stem}.rst"
        _write(target, text)


def _write(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _reexports() -> list[str]:
    """``recgym.__all__`` as the dotted paths where each name is documented (its defining
    module's page), for the ``recgym`` page's summary table."""
    import recgym

    documented = set(API_MODULES)
    paths = []
    for name in recgym.__all__:
        obj = getattr(recgym, name)
        home = getattr(obj, "__module__", None)
        if inspect.ismodule(obj) or home not in documented:
            continue
        paths.append(f"~{home}.{name}")
    return paths


def write_api_pages(app) -> None:
    out = Path(app.srcdir) / "api"
    out.mkdir(exist_ok=True)
    for module in API_MODULES:
        lines = [module, "=" * len(module), "", f".. automodule:: {module}"]
        if module == "recgym":
            # the package re-exports its main names: a table links each to its module
            lines += ["", "Re-exported names", "-----------------", "",
                      "``import recgym`` gives these names; each is documented in the module",
                      "that defines it.", "", ".. currentmodule:: None", "",
                      ".. autosummary::", ""]
            lines += [f"   {path}" for path in _reexports()]
        else:
            lines += ["   :members:", "   :show-inheritance:"]
            if module in IMPORTED_MEMBERS:
                lines.append("   :imported-members:")
        _write(out / f"{module}.rst", "\n".join(lines) + "\n")
    toc = ["API reference", "=============", "",
           "Generated from the docstrings (numpy style), one page per public module.",
           "``import recgym`` re-exports the main names (``recgym.EngagementGame``,",
           "``recgym.parallel_env``, ``recgym.platform_env``, ``recgym.coevolve``...); each",
           "is documented in the module that defines it.", "", ".. autosummary::", ""]
    toc += [f"   {module}" for module in API_MODULES]
    toc += ["", ".. toctree::", "   :hidden:", "   :maxdepth: 1", ""]
    toc += [f"   api/{module}" for module in API_MODULES]
    _write(Path(app.srcdir) / "api.rst", "\n".join(toc) + "\n")


def skip_reexported(app, what, name, obj, skip, options):
    """On a page with imported members, skip what comes from ``recgym``."""
    imported = "imported-members" in options or "imported_members" in options
    if what == "module" and imported and getattr(obj, "__module__", "").startswith("recgym"):
        return True
    return None


def markdown_headings_to_rubrics(app, what, name, obj, options, lines) -> None:
    if what != "module":
        return
    for i, line in enumerate(lines):
        match = _HEADING.match(line)
        if match:
            lines[i] = f".. rubric:: {match.group(2)}"


def setup(app):
    app.connect("builder-inited", write_manuals)
    app.connect("builder-inited", write_api_pages)
    app.connect("autodoc-skip-member", skip_reexported)
    app.connect("autodoc-process-docstring", markdown_headings_to_rubrics)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
