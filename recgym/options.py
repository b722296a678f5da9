"""Command-line options generated from documented dataclasses (the CleanRL habit).

A config is a frozen dataclass whose fields carry their help text
(``option(default, help)``); ``add_arguments`` turns the fields into ``--field-name``
options and ``from_namespace`` builds the config back, so the command line and
the documentation cannot drift apart. Validation happens in the config's
``__post_init__`` and names the command-line option.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Callable
from dataclasses import field
from typing import Any

#: Largest seed of a legacy ``numpy.random.RandomState``.
MAX_SEED = 2**32 - 1
#: Most runs one ``--runs`` list may ask for.
MAX_RUNS = 1_000_000


def option(default: Any, help: str, *, parse: Callable[[str], Any] | None = None,
           metavar: str | None = None, extend: bool = False) -> Any:
    """A dataclass field with its command-line help (and optionally its own parser).

    ``extend``: a tuple option that may be repeated (``--scf a --scf b``, or
    ``--scf a b``); its default must be ``None``.
    """
    return field(default=default, metadata={"help": help, "parse": parse, "metavar": metavar,
                                            "extend": extend})



def parse_runs(spec: str) -> tuple[int, ...]:
    """Parse a run list such as ``"1-40"``, ``"3"`` or ``"1-3,7,9-10"`` (ascending, unique).

    Raises
    ------
    ValueError
        Naming ``--runs`` and the bad text.
    """
    runs: set[int] = set()
    for part in str(spec).split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if match is None:
            raise ValueError(f"--runs must be like '1-40' or '1-3,7' (non-negative integers), "
                             f"got {spec!r}")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first:
            raise ValueError(f"--runs range {part.strip()!r} is empty (end before start)")
        if last > MAX_SEED:
            raise ValueError(f"--runs must be at most {MAX_SEED} (a RandomState seed), "
                             f"got {last}")
        if len(runs) + last - first + 1 > MAX_RUNS:
            raise ValueError(f"--runs {spec!r} asks for more than {MAX_RUNS:,} runs")
        runs.update(range(first, last + 1))
    return tuple(sorted(runs))



def _element_type(annotation: str) -> Callable[[str], Any]:
    for name, kind in (("int", int), ("float", float)):
        if annotation.startswith(f"tuple[{name}") or annotation.startswith(name):
            return kind
    return str


def add_arguments(parser: argparse.ArgumentParser, config_class: type) -> None:
    """Add one ``--name`` option per field of ``config_class`` (a dataclass).

    Tuples take several values (``--dims 5 10``), booleans become
    ``--name/--no-name`` flags, fields without a default are required.
    """
    for f in dataclasses.fields(config_class):
        flag = "--" + f.name.replace("_", "-")
        meta = f.metadata
        annotation = str(f.type)
        default = f.default
        shown = ("-".join(map(str, _ranges(default))) if meta.get("parse") is parse_runs
                 else " ".join(map(str, default)) if isinstance(default, tuple) else default)
        text = meta.get("help", "") + ("" if default is None else f" (default: {shown})")
        kwargs: dict[str, Any] = {"dest": f.name, "help": text, "default": default}
        if meta.get("metavar"):
            kwargs["metavar"] = meta["metavar"]
        if annotation == "bool":
            kwargs["action"] = argparse.BooleanOptionalAction
        elif meta.get("extend"):
            kwargs.update(action="extend", nargs="+", type=_element_type(annotation))
        elif meta.get("parse") is not None:
            kwargs["type"] = _wrap(meta["parse"])
        elif annotation.startswith("tuple["):
            kwargs.update(nargs="+", type=_element_type(annotation))
        else:
            kwargs["type"] = _element_type(annotation)
        parser.add_argument(flag, **kwargs)


def _ranges(values: tuple[int, ...]) -> list[int]:
    """``(1, 2, ..., 40)`` shown as ``1-40`` in help texts (first and last only)."""
    return [values[0], values[-1]] if values else []


def _wrap(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc

    convert.__name__ = parse.__name__
    return convert


def from_namespace(config_class: type, namespace: argparse.Namespace) -> Any:
    """Build ``config_class`` from parsed options (tuples stay tuples)."""
    values = {}
    for f in dataclasses.fields(config_class):
        value = getattr(namespace, f.name)
        values[f.name] = tuple(value) if isinstance(value, list) else value
    return config_class(**values)


def add_command(subparsers: argparse._SubParsersAction, name: str,
                handler: Callable[[argparse.Namespace], int], help: str,
                description: str | None = None, config_class: type | None = None
                ) -> argparse.ArgumentParser:
    """Add sub-command ``name`` (options from ``config_class``, if given); its parsed
    arguments carry ``handler`` and ``parser`` (for usage errors)."""
    parser = subparsers.add_parser(name, help=help, description=description or help)
    if config_class is not None:
        add_arguments(parser, config_class)
    parser.set_defaults(handler=handler, parser=parser)
    return parser


def config_from_args(config_class: type, args: argparse.Namespace) -> Any:
    """``from_namespace``, with the config's validation errors as usage errors (exit 2)."""
    try:
        return from_namespace(config_class, args)
    except ValueError as exc:
        args.parser.error(str(exc))


def rule_from_flags(rule: str, temperature: float | None, k: int | None,
                    floor: float | None) -> Any:
    """``recgym.rules.make_rule(rule, temperature, k, floor)``, its errors naming the flag
    they come from: ``--temperature``, ``--k`` or ``--floor`` where that flag set the
    parameter at fault, ``--rule`` otherwise."""
    from recgym.registry import parse_spec
    from recgym.rules import make_rule

    try:
        return make_rule(rule, temperature, k, floor)
    except ValueError as exc:
        try:
            in_spec = set(parse_spec(rule, "rule")[1])
        except ValueError:
            in_spec = set()
        given = {"temperature": temperature, "k": k, "floor": floor}
        named = re.findall(r"parameter '?(\w+)", str(exc))
        flag = next((f"--{name}" for name in named
                     if given.get(name) is not None and name not in in_spec), "--rule")
        raise ValueError(f"{flag}: {exc}") from None
