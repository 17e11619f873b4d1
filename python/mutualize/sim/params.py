"""``Scenario.with_params``: values replaced by dotted keys into the plain form, checked
against the scenario's key tree (``schema.SCENARIO.tree()``) so that an unknown key is
named before anything runs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .checks import ScenarioError, expected
from .schema import SCENARIO

__all__ = ["set_params"]

# A dict per table, a one-item list per list of tables, None per value; a policy's
# stages take any keys (Waterfall.from_dict checks them).
_KEY_TREE: dict[str, Any] = SCENARIO.tree()


def set_params(plain: dict[str, Any], params: Mapping[str, object]) -> dict[str, Any]:
    """``plain`` (a scenario's dict form, changed in place and returned) with each
    dotted key of ``params`` set; ``None`` removes a key."""
    for key, value in params.items():
        _set_dotted(plain, key, value)
    return plain


def _split_key(key: str) -> list[str]:
    parts: list[str] = []
    for piece in key.split("."):
        match = re.fullmatch(r"([^\[\]]*)((?:\[\d+\])*)", piece)
        if match is None or (not match.group(1) and not match.group(2)):
            raise ScenarioError(key, "not a dotted parameter key")
        if match.group(1):
            parts.append(match.group(1))
        parts.extend(re.findall(r"\[(\d+)\]", match.group(2)))
    return parts


def _set_dotted(d: dict[str, Any], key: str, value: object) -> None:
    """Set ``d[key]`` for a dotted key, checking it against the scenario's keys."""
    if not isinstance(key, str) or not key:
        raise expected("params", "dotted keys such as population.count", key)
    parts = _split_key(key)
    node: Any = d
    schema: Any = _KEY_TREE
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[: depth + 1])
        if isinstance(schema, list):
            if not isinstance(node, list) or not part.isdigit() or int(part) >= len(node):
                count = len(node) if isinstance(node, list) else 0
                raise ScenarioError(where, f"expected an index below {count}")
            if last:
                raise ScenarioError(where, "replace a key inside the list item, not the item")
            node, schema = node[int(part)], schema[0]
            continue
        if schema == "any":
            allowed: tuple[str, ...] | None = None
        elif isinstance(schema, dict):
            allowed = tuple(schema)
        else:
            raise ScenarioError(where, "not a table: cannot set a key inside it")
        if allowed is not None and part not in allowed:
            raise ScenarioError(where, "unknown parameter; expected one of " + ", ".join(allowed))
        if not isinstance(node, dict):
            raise ScenarioError(where, "not a table: cannot set a key inside it")
        if last:
            if value is None:
                node.pop(part, None)
            else:
                node[part] = value
            return
        child_schema = schema[part] if isinstance(schema, dict) else None
        if child_schema is None:
            raise ScenarioError(where, "not a table: cannot set a key inside it")
        if part not in node:
            if isinstance(child_schema, list):
                raise ScenarioError(where, "not set: no list items to index")
            node[part] = {}
        node, schema = node[part], child_schema
