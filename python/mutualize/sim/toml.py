"""Scenario files: TOML read with limits a stranger's file cannot get round, and written.

:func:`read_toml` refuses, before parsing, a file larger than :data:`MAX_BYTES`, tables
or arrays nested deeper than :data:`MAX_DEPTH` and lines with more than
:data:`MAX_DOTS` dots (a long dotted key costs the parser quadratic time and memory);
every refusal is a :class:`~mutualize.sim.checks.ScenarioError`, never a
``RecursionError`` or a hang. :func:`dumps_toml` writes the plain form back.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Mapping
from typing import Any

from .checks import ScenarioError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_DOTS", "dumps_toml", "read_toml"]

#: The largest scenario file, in bytes of text.
MAX_BYTES = 1 << 20
#: The deepest nesting of arrays and inline tables (a scenario needs about 4).
MAX_DEPTH = 32
#: The most dots on one line outside strings and comments (keys and numbers).
MAX_DOTS = 1_024
#: The most dots in the whole file.
MAX_ALL_DOTS = 4_096


def read_toml(text: str, source: str = "<string>") -> dict[str, Any]:
    """Parse scenario TOML, after checking its size, nesting and dotted keys.

    Raises:
        ScenarioError: naming ``source``: too large, too deep, a key too long, or a
            syntax error (with its line).
    """
    if len(text) > MAX_BYTES:
        raise ScenarioError("", f"larger than {MAX_BYTES:,} characters; is it a scenario?", source)
    # A backstop that no lexing can get round: dots anywhere, strings included.
    if text.count(".") > MAX_ALL_DOTS:
        raise ScenarioError("", f"more than {MAX_ALL_DOTS:,} dots; is it a scenario?", source)
    _check_shape(text, source)
    try:
        data: dict[str, Any] = tomllib.loads(text)
        return data
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError("", f"TOML syntax error: {exc}", source) from None
    except ValueError as exc:  # a number too long for int() (4,300 digits), say
        raise ScenarioError("", f"a value cannot be read: {exc}", source) from None
    except RecursionError:  # _check_shape bounds the nesting first; this is a backstop
        raise ScenarioError("", f"nested more than {MAX_DEPTH} levels deep", source) from None


def _check_shape(text: str, source: str) -> None:
    """Nesting depth and dots per line, outside strings and comments (a lexer's view:
    syntax errors are left to the parser)."""
    depth = 0
    dots = 0
    i = 0
    n = len(text)
    while i < n:
        char = text[i]
        if char == "\n":
            dots = 0
        elif char == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif char in "\"'":
            i = _skip_string(text, i)
            continue
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise _shape_error(text, i, f"nested more than {MAX_DEPTH} levels deep", source)
        elif char in "]}":
            depth = max(0, depth - 1)
        elif char == ".":
            dots += 1
            if dots > MAX_DOTS:
                raise _shape_error(
                    text, i, f"more than {MAX_DOTS} dotted key parts or numbers", source
                )
        i += 1


def _shape_error(text: str, at: int, detail: str, source: str) -> ScenarioError:
    return ScenarioError("", f"line {text.count(chr(10), 0, at) + 1}: {detail}", source)


def _skip_string(text: str, start: int) -> int:
    """The index after the string starting at ``start``: basic (``\\`` escapes) or
    literal, single-line or multi-line (whose closing quotes may run to five)."""
    quote = text[start]
    basic = quote == '"'
    n = len(text)
    if text.startswith(quote * 3, start):
        i = start + 3
        while i < n:
            if basic and text[i] == "\\":
                i += 2
            elif text.startswith(quote * 3, i):
                i += 3
                extra = 0
                while i < n and text[i] == quote and extra < 2:
                    i += 1
                    extra += 1
                return i
            else:
                i += 1
        return n
    i = start + 1
    while i < n and text[i] not in (quote, "\n"):
        i += 2 if basic and text[i] == "\\" else 1
    return i + 1


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def dumps_toml(data: Mapping[str, Any]) -> str:
    """A plain dict (str keys; bool, int, finite float, str, lists and dicts as values)
    as TOML: values first, then ``[tables]``, then ``[[arrays of tables]]``."""
    lines: list[str] = []
    tables: list[tuple[str, Mapping[str, Any]]] = []
    arrays: list[tuple[str, list[Mapping[str, Any]]]] = []
    for key, value in data.items():
        if isinstance(value, Mapping):
            tables.append((key, value))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            arrays.append((key, value))
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, table in tables:
        lines += ["", f"[{_key(key)}]"]
        lines += [f"{_key(k)} = {_value(v)}" for k, v in table.items()]
    for key, items in arrays:
        for item in items:
            lines += ["", f"[[{_key(key)}]]"]
            lines += [f"{_key(k)} = {_value(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def _string(text: str) -> str:
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ScenarioError("", f"cannot write the non-finite number {value!r} to TOML")
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        if value and any(isinstance(v, Mapping) for v in value):
            return "[\n" + "".join(f"    {_value(v)},\n" for v in value) + "]"
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise ScenarioError("", f"cannot write {json.dumps(str(value))} to TOML")
