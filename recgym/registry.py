"""Registries of named components (serving rules, payoffs) with declared parameters.

A registered class declares its parameters as ``PARAMS``, a tuple of ``Param``
(name, type, allowed range, default). Everything that builds a component by name
goes through ``Registry.make``, which accepts a spec string such as
``"softmax:temperature=0.1"`` or ``"topk:k=2,temperature=0.5"`` and keyword
parameters, and validates both against the declarations: an unknown name lists
the registered names, an unknown parameter lists the declared ones, a value out of
range names the parameter and its range, and a parameter given twice with
different values is an error.

Adding a component is one class with ``NAME`` and ``PARAMS`` and one call of
``Registry.register`` (see ``tests/test_registry.py`` for a toy serving rule).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from recgym._validation import NotAnIntegerError


@dataclass(frozen=True)
class Param:
    """One declared parameter of a registered component.

    Attributes
    ----------
    name : str
    kind : type
        ``int`` or ``float``.
    default : int, float or None
        ``None``: the parameter is required.
    low, high : float or None
        Allowed range (``None``: unbounded on that side).
    low_open, high_open : bool
        Whether the bound itself is excluded.
    doc : str
        One line for help texts.
    log_scale : bool
        Searched and controlled on a log scale (e.g. a temperature): grids are
        geometric and a learning platform sets ``log10`` of it.
    """

    name: str
    kind: type
    default: int | float | None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    doc: str = ""
    log_scale: bool = False

    @property
    def range_text(self) -> str:
        """The allowed values in words, e.g. ``"a number > 0"`` or ``"an integer >= 1"``."""
        what = "an integer" if self.kind is int else "a finite number"
        if self.low is not None and self.high is not None:
            left = "(" if self.low_open else "["
            right = ")" if self.high_open else "]"
            return f"{what} in {left}{self.low:g}, {self.high:g}{right}"
        if self.low is not None:
            return f"{what} {'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None:
            return f"{what} {'<' if self.high_open else '<='} {self.high:g}"
        return what

    def describe(self) -> str:
        """``name (range, default X)``, for error messages and help texts."""
        default = "required" if self.default is None else f"default {self.default:g}"
        return f"{self.name} ({self.range_text}, {default})"

    def check(self, value: object, owner: str) -> int | float:
        """``value`` converted to ``kind`` (strings are parsed) and range-checked.

        Raises
        ------
        ValueError
            Naming ``owner``'s parameter and its range (``NotAnIntegerError`` for a
            non-integer where an integer is declared).
        """
        text = f"{owner} parameter {self.name} must be {self.range_text}, got {value!r}"
        if isinstance(value, str):
            try:
                value = int(value) if self.kind is int else float(value)
            except ValueError:
                raise (NotAnIntegerError if self.kind is int else ValueError)(text) from None
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise (NotAnIntegerError if self.kind is int else ValueError)(text)
        if self.kind is int:
            if not isinstance(value, numbers.Integral):
                if not (math.isfinite(float(value)) and float(value).is_integer()):
                    raise NotAnIntegerError(text)
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(text)
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            raise ValueError(text)
        if self.high is not None and (value > self.high or
                                      (self.high_open and value == self.high)):
            raise ValueError(text)
        return value


class Declared:
    """Mixin of registered dataclasses: ``NAME``, ``PARAMS`` and their validation."""

    NAME: ClassVar[str] = ""
    PARAMS: ClassVar[tuple[Param, ...]] = ()

    def _check_params(self) -> None:
        """Validate and convert every declared field in place (call from ``__post_init__``)."""
        for param in self.PARAMS:
            object.__setattr__(self, param.name,
                               param.check(getattr(self, param.name), repr(self.NAME)))

    @classmethod
    def param(cls, name: str, kind: str = "component") -> Param:
        """The declared parameter ``name``; ``ValueError`` listing the declared ones (as
        ``"<kind> '<NAME>' has no parameter ..."``) if there is none."""
        for param in cls.PARAMS:
            if param.name == name:
                return param
        listed = ", ".join(p.describe() for p in cls.PARAMS) or "none"
        raise ValueError(f"{kind} {cls.NAME!r} has no parameter {name!r}; its parameters: "
                         f"{listed}")

    def params(self) -> dict[str, Any]:
        """The declared parameters and their values, in declaration order."""
        return {p.name: getattr(self, p.name) for p in self.PARAMS}

    @property
    def spec(self) -> str:
        """The spec string that rebuilds this component, e.g. ``"softmax:temperature=0.1"``.

        Parameters at their default are left out.
        """
        parts = [f"{p.name}={getattr(self, p.name):g}" for p in self.PARAMS
                 if getattr(self, p.name) != p.default]
        return self.NAME + (":" + ",".join(parts) if parts else "")


T = TypeVar("T", bound=Declared)


def parse_spec(spec: str, kind: str = "component") -> tuple[str, dict[str, str]]:
    """Split ``"name:p=v,q=w"`` into ``("name", {"p": "v", "q": "w"})``.

    Raises
    ------
    ValueError
        On a malformed spec, naming ``kind`` and the text.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"{kind} spec must be a non-empty string like 'name' or "
                         f"'name:param=value,...', got {spec!r}")
    name, _, rest = spec.strip().partition(":")
    params: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise ValueError(f"{kind} spec {spec!r}: expected param=value, got {item!r}")
        if key.strip() in params:
            raise ValueError(f"{kind} spec {spec!r} sets {key.strip()} twice")
        params[key.strip()] = value.strip()
    return name.strip(), params


class Registry(Generic[T]):
    """Name -> class of registered components of one kind (``"rule"``, ``"payoff"``).

    Parameters
    ----------
    kind : str
        What the components are, for messages.
    base : type
        The class every registered component must subclass.
    """

    def __init__(self, kind: str, base: type[T]) -> None:
        self.kind = kind
        self.base = base
        self._classes: dict[str, type[T]] = {}

    def register(self, cls: type[T]) -> type[T]:
        """Register ``cls`` under ``cls.NAME`` (usable as a class decorator)."""
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise TypeError(f"a {self.kind} must subclass {self.base.__name__}, got {cls!r}")
        if not cls.NAME:
            raise ValueError(f"{cls.__name__} needs a NAME to be registered as a {self.kind}")
        fields = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) \
            else set()
        missing = [p.name for p in cls.PARAMS if p.name not in fields]
        if missing:
            raise TypeError(f"{cls.__name__} declares parameters {missing} that are not "
                            "dataclass fields")
        self._classes[cls.NAME] = cls
        return cls

    def unregister(self, name: str) -> None:
        """Remove ``name`` (for tests that register a toy component)."""
        self._classes.pop(name, None)

    @property
    def names(self) -> tuple[str, ...]:
        """Registered names, in registration order."""
        return tuple(self._classes)

    def __contains__(self, name: object) -> bool:
        return name in self._classes

    def __iter__(self) -> Iterator[str]:
        return iter(self._classes)

    def get(self, name: str) -> type[T]:
        """The class registered as ``name``; ``ValueError`` listing the names otherwise."""
        if not isinstance(name, str) or name not in self._classes:
            raise ValueError(f"{self.kind} must be one of {', '.join(self.names)}, got {name!r}")
        return self._classes[name]

    def make(self, spec: str | T, /, **params: object) -> T:
        """Build a component from a spec string (or pass an instance through).

        ``params`` whose value is ``None`` count as not given. A parameter given in
        ``spec`` and in ``params`` with different values is an error.

        Raises
        ------
        ValueError
            Unknown name or parameter, value out of range, conflicting values.
        """
        given = {k: v for k, v in params.items() if v is not None}
        if isinstance(spec, self.base):
            if given:
                raise ValueError(f"{', '.join(sorted(given))} cannot be combined with a "
                                 f"{self.kind} object ({spec!r}); set them on the object")
            return spec
        if not isinstance(spec, str):
            raise ValueError(f"{self.kind} must be one of {', '.join(self.names)} (optionally "
                             f"with parameters, e.g. '{self.names[0]}:...') or a "
                             f"{self.base.__name__}, got {spec!r}")
        name, from_spec = parse_spec(spec, self.kind)
        cls = self.get(name)
        declared = {key: cls.param(key, self.kind) for key in [*from_spec, *given]}
        owner = repr(name)
        values: dict[str, object] = {}
        for key, text in from_spec.items():
            values[key] = declared[key].check(text, f"{self.kind} {owner}")
        for key, value in given.items():
            checked = declared[key].check(value, f"{self.kind} {owner}")
            if key in values and values[key] != checked:
                raise ValueError(f"{self.kind} {owner}: {key} is {values[key]!r} in the spec "
                                 f"{spec!r} but {checked!r} as an argument")
            values[key] = checked
        for param in cls.PARAMS:
            if param.default is None and param.name not in values:
                raise ValueError(f"{self.kind} {owner} needs {param.describe()}")
        return cls(**values)

    def describe(self) -> str:
        """Every registered name with its parameters, one per line (for help texts)."""
        lines = []
        for name, cls in self._classes.items():
            params = ", ".join(p.describe() for p in cls.PARAMS) or "no parameters"
            lines.append(f"{name}: {params}")
        return "\n".join(lines)


def declared_params(classes: Mapping[str, type[Declared]] | Registry) -> list[Param]:
    """Every parameter declared by the registered classes, first declaration of each name."""
    seen: dict[str, Param] = {}
    registry_classes = classes._classes if isinstance(classes, Registry) else classes
    for cls in registry_classes.values():
        for param in cls.PARAMS:
            seen.setdefault(param.name, param)
    return list(seen.values())
