"""The public ``Ledger``: the compiled one, or the pure-Python reference as fallback.

Both follow docs/ledger.md to the unit. Operations return an event (a mapping in the
plain form: ``dict(event)``) and append it to ``ledger.journal()``. This module adds what
is the same for both backends: replaying events (from a journal file, say), pickling
through snapshots, and writing the journal to a file.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from mutualize import journal as _journal
from mutualize.errors import CorruptJournalError, InvalidInputError
from mutualize.events import EVENTS
from mutualize.waterfall import Waterfall

__all__ = ["ARGUMENTS", "event_dict", "replay_into", "write_journal_of"]

#: The arguments each operation's event records, in call order (from ``mutualize.events``).
ARGUMENTS: dict[str, tuple[str, ...]] = {op: kind.argument_names for op, kind in EVENTS.items()}


def event_dict(event: Mapping[str, Any]) -> dict[str, Any]:
    """The plain dict form of an event from either backend."""
    to_dict = getattr(event, "to_dict", None)
    return dict(to_dict() if callable(to_dict) else event)


def _arguments(event: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The operation and call arguments that re-execute a recorded event: a recorded
    ``prices`` list of pairs becomes the mapping ``liquidate`` takes, and a recorded
    column the int64 array the batch operations take (the kinds of ``mutualize.events``)."""
    op = event.get("op")
    if op not in EVENTS:
        raise CorruptJournalError(f"unknown operation {op!r} in event {dict(event)!r}")
    args: dict[str, Any] = {}
    for field in EVENTS[op].arguments:
        try:
            value = event[field.name]
        except KeyError:
            raise CorruptJournalError(f"event {op!r} lacks the argument {field.name!r}") from None
        if field.kind == "prices" and value is not None:
            value = {int(m): p for m, p in value}
        elif field.kind == "column":
            import numpy as np

            value = np.asarray(value, dtype=np.int64)
        args[field.name] = value
    return op, args


def replay_into(ledger: Any, events: Iterable[Mapping[str, Any]]) -> Any:
    """Re-execute ``events`` on ``ledger`` in order; each must reproduce its recorded
    effects exactly, else ``CorruptJournalError`` (the journal is not this history)."""
    for index, recorded in enumerate(events):
        expected = event_dict(recorded)
        op, args = _arguments(expected)
        try:
            again = event_dict(getattr(ledger, op)(**args))
        except (ValueError, TypeError, OverflowError) as exc:
            raise CorruptJournalError(f"event {index} ({op}) cannot be replayed: {exc}") from exc
        if again != expected:
            raise CorruptJournalError(
                f"event {index} ({op}) replays to different effects: {again} != {expected}"
            )
    return ledger


def write_journal_of(ledger: Any, path: str | os.PathLike[str]) -> None:
    """Write every event of ``ledger`` to a journal file at ``path``."""
    _journal.write_journal(path, (event_dict(e) for e in ledger.journal))


def plain_waterfall(waterfall: Waterfall | Mapping[str, Any]) -> dict[str, Any]:
    """A ``Waterfall`` or its plain dict form, validated, as the plain dict form."""
    if isinstance(waterfall, Waterfall):
        return waterfall.to_dict()
    if isinstance(waterfall, Mapping):
        return Waterfall.from_dict(waterfall).to_dict()
    raise InvalidInputError(
        f"waterfall must be a Waterfall or its dict form, got {type(waterfall).__name__}"
    )
