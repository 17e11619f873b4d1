"""The scenario's error and the value checks every section shares.

A check returns the value converted (an exact ``int``, a ``float``, a ``str``) or raises
:class:`ScenarioError` naming the key and what was expected, e.g.
``population.leverage.hi: expected a number >= 1, got "x"``.
"""

from __future__ import annotations

import json
import math
import numbers
import reprlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import InvalidInputError

__all__ = [
    "ScenarioError",
    "bound",
    "check_choice",
    "check_int",
    "check_list",
    "check_number",
    "check_path",
    "check_str",
    "check_table",
    "expected",
    "show",
]

# Longest text a name or path may be (characters).
MAX_TEXT = 1_000


class ScenarioError(InvalidInputError):
    """A scenario (file, dict or object) has a missing, unknown or invalid value.

    The message names the key path and what was expected, e.g.
    ``population.leverage.hi: expected a number >= 1, got "x"``; for a file it starts
    with the file name.

    Attributes:
        key: the dotted key path (``""`` for the whole scenario).
        detail: what was wrong with it.
        source: the file the scenario came from, or ``None``.
    """

    def __init__(self, key: str, detail: str, source: str | None = None) -> None:
        self.key = key
        self.detail = detail
        self.source = source
        text = f"{key}: {detail}" if key else detail
        super().__init__(f"{source}: {text}" if source else text)

    def within(self, prefix: str) -> ScenarioError:
        """The same error with its key under ``prefix`` (``leverage.hi`` -> ``population.
        leverage.hi``)."""
        if not prefix:
            return self
        if not self.key:
            key = prefix
        elif self.key.startswith("["):
            key = prefix + self.key
        else:
            key = f"{prefix}.{self.key}"
        return ScenarioError(key, self.detail, self.source)

    def from_source(self, source: str) -> ScenarioError:
        """The same error, its message prefixed with the file it came from."""
        return ScenarioError(self.key, self.detail, source)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.key, self.detail, self.source))


_SHORT = reprlib.Repr()
_SHORT.maxlevel = 2
_SHORT.maxstring = 60
_SHORT.maxother = 60


def show(value: object) -> str:
    """A value as the error messages quote it: strings in double quotes, anything
    nested or long cut short (a stranger's file can hold anything)."""
    if isinstance(value, str):
        text = value if len(value) <= 60 else value[:57] + "..."
        return json.dumps(text, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return f"a list ({len(value)} items)" if len(value) > 8 else _SHORT.repr(list(value))
    if value is None:
        return "nothing"
    return _SHORT.repr(value)


def expected(key: str, what: str, value: object) -> ScenarioError:
    """``key: expected <what>, got <value>``."""
    return ScenarioError(key, f"expected {what}, got {show(value)}")


def bound(number: float) -> str:
    """A bound as messages and docs write it: ``2**62`` for large powers of two."""
    if isinstance(number, int) or float(number).is_integer():
        whole = int(number)
        for offset, suffix in ((0, ""), (1, " - 1")):
            power = (abs(whole) + offset).bit_length() - 1
            if power >= 30 and abs(whole) + offset == 2**power:
                return f"{'-' if whole < 0 else ''}2**{power}{suffix}"
        return f"{whole:_}" if abs(whole) >= 100_000 else str(whole)
    return repr(float(number))


def check_int(
    value: object,
    key: str,
    *,
    lo: int | None = None,
    hi: int | None = None,
    unit: str = "",
) -> int:
    """An exact integer (bools and floats refused) within ``lo..=hi``."""
    what = "an integer"
    if lo is not None and hi is not None:
        what += f" in {bound(lo)}..={bound(hi)}"
    elif lo is not None:
        what += f" >= {bound(lo)}"
    elif hi is not None:
        what += f" <= {bound(hi)}"
    if unit:
        what += f" ({unit})"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise expected(key, what, value)
    number = int(value)
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        raise expected(key, what, number)
    return number


def check_number(
    value: object,
    key: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    """A finite real number (int or float; bools refused) within the bounds, as a float."""
    what = "a number"
    bounds = []
    if lo is not None:
        bounds.append(f"{'>' if lo_open else '>='} {bound(lo)}")
    if hi is not None:
        bounds.append(f"{'<' if hi_open else '<='} {bound(hi)}")
    if bounds:
        what += " " + " and ".join(bounds)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise expected(key, what, value)
    try:
        number = float(value)
    except OverflowError:  # an int beyond any float
        raise expected(key, what, value) from None
    if not math.isfinite(number):
        raise expected(key, what, value)
    if lo is not None and (number < lo or (lo_open and number == lo)):
        raise expected(key, what, value)
    if hi is not None and (number > hi or (hi_open and number == hi)):
        raise expected(key, what, value)
    return number


def check_choice(value: object, key: str, allowed: Sequence[str]) -> str:
    """One of ``allowed``."""
    if not isinstance(value, str) or value not in allowed:
        raise expected(key, "one of " + ", ".join(json.dumps(a) for a in allowed), value)
    return value


def check_str(value: object, key: str, max_length: int = MAX_TEXT) -> str:
    """A non-empty string of at most ``max_length`` characters."""
    if not isinstance(value, str) or not value:
        raise expected(key, "a non-empty string", value)
    if len(value) > max_length:
        raise expected(key, f"at most {max_length:,} characters", value)
    return value


def check_path(value: object, key: str) -> str:
    """A file path (a non-empty string or ``os.PathLike``), kept as a string."""
    if isinstance(value, Path):
        value = str(value)
    return check_str(value, key)


def check_list(value: object, key: str, what: str, most: int) -> Sequence[Any]:
    """A list (not a string or table) of at most ``most`` items."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
        raise expected(key, f"a list of {what}", value)
    if len(value) > most:
        raise ScenarioError(key, f"expected at most {most:,} {what}, got {len(value):,}")
    return value


def check_table(
    value: object,
    key: str,
    allowed: Iterable[str],
    required: Iterable[str] = (),
) -> Mapping[str, Any]:
    """A mapping with only ``allowed`` keys and every ``required`` one."""
    if not isinstance(value, Mapping):
        raise expected(key, "a table", value)
    names = tuple(allowed)
    for name in value:
        if name not in names:
            where = f"{key}.{name}" if key else str(name)
            raise ScenarioError(where, "unknown key; expected one of " + ", ".join(names))
    for name in required:
        if name not in value:
            where = f"{key}.{name}" if key else name
            raise ScenarioError(where, "missing")
    return value
