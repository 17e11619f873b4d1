"""Append-only journal files of ledger events, one checksummed record per event.

Layout: an 8-byte header ``b"MZJRNL1\\n"``, then records of
``length (u32, little-endian) | crc32 of payload (u32) | payload`` where the payload is
the event as canonical JSON (sorted keys, no spaces, UTF-8). Integers stay exact (JSON
numbers of any size).

Reading checks every record: a bad header, a checksum mismatch or undecodable JSON is a
``CorruptJournalError``; a file that ends inside a record (a write cut short) is a
``TornRecordError`` carrying the complete records before it, or, with
``recover=True``, those records are returned and the torn tail ignored.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from mutualize.errors import CorruptJournalError, TornRecordError

__all__ = [
    "HEADER",
    "JournalWriter",
    "decode_records",
    "encode_record",
    "read_journal",
    "write_journal",
]

HEADER = b"MZJRNL1\n"
_FRAME = struct.Struct("<II")
Event = dict[str, Any]


def encode_record(event: Event) -> bytes:
    """One framed record: length, CRC32 and the canonical JSON of ``event``."""
    payload = json.dumps(event, sort_keys=True, separators=(",", ":")).encode()
    return _FRAME.pack(len(payload), zlib.crc32(payload)) + payload


def decode_records(data: bytes, *, recover: bool = False) -> list[Event]:
    """Decode a whole journal (header included); see the module docstring for errors."""
    if not data.startswith(HEADER):
        if HEADER.startswith(data):
            if recover:
                return []
            raise TornRecordError("journal ends inside its header", [])
        raise CorruptJournalError("not a mutualize journal (bad header)")
    events: list[Event] = []
    pos = len(HEADER)
    while pos < len(data):
        if len(data) - pos < _FRAME.size:
            return _torn(events, pos, recover, "a record's frame")
        length, crc = _FRAME.unpack_from(data, pos)
        start = pos + _FRAME.size
        if len(data) - start < length:
            return _torn(events, pos, recover, "a record's payload")
        payload = data[start : start + length]
        if zlib.crc32(payload) != crc:
            raise CorruptJournalError(
                f"record {len(events)} at byte {pos}: checksum mismatch (corrupted)"
            )
        try:
            event = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CorruptJournalError(f"record {len(events)} at byte {pos}: {exc}") from None
        if not isinstance(event, dict):
            raise CorruptJournalError(f"record {len(events)} at byte {pos} is not an event")
        events.append(event)
        pos = start + length
    return events


def _torn(events: list[Event], pos: int, recover: bool, where: str) -> list[Event]:
    if recover:
        return events
    raise TornRecordError(
        f"journal ends inside {where} at byte {pos}, after {len(events)} complete "
        "records (a write was cut short); read with recover=True to keep them",
        events,
    )


def read_journal(path: str | os.PathLike[str], *, recover: bool = False) -> list[Event]:
    """Read every event of the journal at ``path``."""
    return decode_records(Path(path).read_bytes(), recover=recover)


def write_journal(path: str | os.PathLike[str], events: Iterable[Event]) -> None:
    """Write ``events`` as a new journal at ``path`` (replacing the file atomically)."""
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    with open(partial, "wb") as f:
        f.write(HEADER)
        for event in events:
            f.write(encode_record(event))
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, target)


class JournalWriter:
    """Appends events to a journal file, creating it with its header if needed.

    ``sync=True`` fsyncs after every record (durable, slower). Use as a context manager::

        with JournalWriter("run.journal") as journal:
            journal.append(ledger.deposit(0, 1_000_000))
    """

    def __init__(self, path: str | os.PathLike[str], *, sync: bool = False) -> None:
        self.path = Path(path)
        self.sync = sync
        fresh = not self.path.exists() or self.path.stat().st_size == 0
        if not fresh:
            with open(self.path, "rb") as f:
                if f.read(len(HEADER)) != HEADER:
                    raise CorruptJournalError(f"{self.path} is not a mutualize journal")
        self._file: BinaryIO = open(self.path, "ab")  # noqa: SIM115 (closed in close())
        if fresh:
            self._file.write(HEADER)

    def append(self, event: Event) -> None:
        """Append one event as a record."""
        self._file.write(encode_record(event))
        if self.sync:
            self._file.flush()
            os.fsync(self._file.fileno())

    def extend(self, events: Iterable[Event]) -> None:
        """Append several events."""
        for event in events:
            self.append(event)

    def close(self) -> None:
        """Flush and close the file."""
        self._file.flush()
        self._file.close()

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
