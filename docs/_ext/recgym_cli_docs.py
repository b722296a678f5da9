"""``.. recgym-cli::``: the command-line reference, generated from the argparse parsers.

The directive walks ``recgym.cli.build_parser()`` (every command, the plug-in commands
registered through the ``recgym.commands`` entry points included, and nested commands
such as ``reproduce exp1``) and writes one section per command: its help, its usage,
and a table of every argument with its option strings, help, choices and default.
Nothing is typed by hand, so the page cannot drift from ``recgym --help``.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

_RST_SPECIAL = re.compile(r"([\\`*_|\[\]])")


def _escape(text: str) -> str:
    """Plain text as RST: markup characters escaped, whitespace folded."""
    return _RST_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def walk_commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ("recgym",),
                  text: str = "") -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser, str]]:
    """``(path, parser, help)`` for the parser and every (nested) sub-command, in order."""
    yield path, parser, text or parser.description or ""
    sub = _subparsers(parser)
    if sub is None:
        return
    helps = {a.dest: a.help or "" for a in sub._choices_actions}
    for name, child in sub.choices.items():
        yield from walk_commands(child, (*path, name), helps.get(name, ""))


def _metavar(action: argparse.Action, formatter: argparse.HelpFormatter) -> str:
    if action.nargs == 0:
        return ""
    default = action.dest.upper() if action.option_strings else action.dest
    return formatter._format_args(action, default)


def _argument_row(action: argparse.Action, formatter: argparse.HelpFormatter) -> list[str]:
    names = action.option_strings or [action.metavar or action.dest]
    left = " ".join(f"``{name}``" for name in names)
    metavar = _metavar(action, formatter)
    if metavar and action.option_strings:
        left += f" ``{metavar}``"
    help_text = "" if action.help in (None, argparse.SUPPRESS) else formatter._expand_help(action)
    parts = [_escape(help_text)] if help_text else []
    if action.choices is not None and not isinstance(action, argparse._SubParsersAction):
        parts.append("Choices: " + ", ".join(f"``{c}``" for c in action.choices) + ".")
    if action.required and action.option_strings:
        parts.append("Required.")
    right = " ".join(parts) or "\\ "
    return [f"   * - {left}", f"     - {right}"]


def command_rst(path: tuple[str, ...], parser: argparse.ArgumentParser, text: str) -> list[str]:
    """One command's section as RST lines."""
    title = " ".join(path)
    formatter = parser._get_formatter()
    lines = [f"``{title}``", "-" * (len(title) + 4), ""]
    if text:
        lines += [_escape(text), ""]
    usage = parser.format_usage().strip()
    lines += [".. code-block:: text", ""] + [f"   {line}" for line in usage.splitlines()] + [""]
    actions = [a for a in parser._actions if not isinstance(a, argparse._SubParsersAction)]
    sub = _subparsers(parser)
    if sub is not None:
        commands = ", ".join(f"``{' '.join((*path, name))}``" for name in sub.choices)
        lines += [f"Commands: {commands}.", ""]
    if actions:
        lines += [".. list-table::", "   :header-rows: 1", "   :widths: 35 65", "",
                  "   * - argument", "     - meaning"]
        for action in actions:
            lines += _argument_row(action, formatter)
        lines.append("")
    if parser.epilog:
        lines += [".. code-block:: text", ""]
        lines += [f"   {line}" if line.strip() else "" for line in parser.epilog.splitlines()]
        lines.append("")
    return lines


class RecgymCli(SphinxDirective):
    """Insert the whole command-line reference."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        from recgym.cli import build_parser

        lines: list[str] = []
        for path, parser, text in walk_commands(build_parser()):
            lines += command_rst(path, parser, text)
        container = nodes.section()
        container.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, source="recgym-cli"), container)
        return container.children


def setup(app):
    app.add_directive("recgym-cli", RecgymCli)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
