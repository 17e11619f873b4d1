"""Append-only journal files of ledger events, one checksummed record per event.

Format, version 2 (integers little-endian)::

    header  b"MZJRNL2\\n"
    record  length u32 | seq u64 | payload CRC32 u32 | frame CRC32 u32 | payload
    seal    0xFFFFFFFF u32 | count u64 | 0 u32 | frame CRC32 u32

The payload is the event as canonical JSON (sorted keys, no spaces, ASCII), so integers
stay exact. ``seq`` numbers the records from 0. The frame CRC covers the 16 bytes before
it, so a damaged length is caught before it is trusted. ``JournalWriter.close()`` (and
``write_journal``) end the file with the seal, whose count is the number of records; a
writer that reopens the file removes the seal first. So the file itself says whether it
is complete:

* **complete**: sealed, every record intact: read as is;
* **unsealed**: it ends at a record boundary without the seal (its writer is still open,
  was killed, or the file was cut at a record boundary): ``UnsealedJournalError``;
* **torn**: it ends inside a record (a write cut short): ``TornRecordError``;
* **corrupt**: a checksum, sequence number, seal or header is wrong:
  ``CorruptJournalError``.

Each error names the byte offset where the good prefix ends and carries the records
before it (``.records``, ``.offset``). ``recover_journal`` never raises on content: it
returns every record before the first bad byte and says what it dropped and why.
A tail of zero bytes (what some file systems leave after a power loss) counts as torn.

Version 1 files (header ``b"MZJRNL1\\n"``, records ``length | crc | payload``, no
sequence numbers, no seal) are still read; they cannot tell a tear from a damaged length
nor a cut at a record boundary from the whole file. ``upgrade_journal`` rewrites one as
version 2; ``JournalWriter`` refuses to append to one.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import threading
import warnings
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from mutualize.errors import (
    CorruptJournalError,
    InvalidInputError,
    TornRecordError,
    UnsealedJournalError,
)

try:  # one writer per file where the platform can say so
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "HEADER",
    "HEADER_V1",
    "JournalRecovery",
    "JournalRecoveryWarning",
    "JournalWriter",
    "decode_records",
    "encode_journal",
    "encode_record",
    "encode_seal",
    "read_journal",
    "recover_journal",
    "scan_journal",
    "upgrade_journal",
    "write_journal",
]

HEADER = b"MZJRNL2\n"
HEADER_V1 = b"MZJRNL1\n"
_MAGIC = b"MZJRNL"
_FRAME = struct.Struct("<IQII")  # length, seq, payload crc, frame crc
_FRAME_V1 = struct.Struct("<II")  # length, crc
_SEAL_LENGTH = 0xFFFF_FFFF
#: The longest payload a record can hold (bytes); the seal's length marks the seal.
MAX_PAYLOAD = _SEAL_LENGTH - 1
Event = dict[str, Any]
_HINT = "; read with recover=True to keep the records before it"


class JournalRecoveryWarning(UserWarning):
    """Recovering a journal dropped bytes: a torn tail or everything from the first bad
    byte on. The message says how many bytes, from which offset, and why."""


# --------------------------------------------------------------------------- encoding


def _frame(length: int, seq: int, payload_crc: int) -> bytes:
    head = struct.pack("<IQI", length, seq, payload_crc)
    return head + struct.pack("<I", zlib.crc32(head))


def encode_record(event: Event, seq: int) -> bytes:
    """One framed record: ``event`` as canonical JSON with its sequence number ``seq``.

    Raises ``TypeError``/``ValueError`` for an event JSON cannot hold exactly and
    ``InvalidInputError`` for one longer than ``MAX_PAYLOAD`` bytes.
    """
    payload = json.dumps(event, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()
    if len(payload) > MAX_PAYLOAD:
        raise InvalidInputError(f"event of {len(payload)} bytes exceeds a journal record")
    return _frame(len(payload), seq, zlib.crc32(payload)) + payload


def encode_seal(count: int) -> bytes:
    """The seal that ends a complete journal of ``count`` records."""
    return _frame(_SEAL_LENGTH, count, 0)


def encode_journal(events: Iterable[Event]) -> bytes:
    """A whole sealed journal (header, records, seal) as bytes."""
    parts = [HEADER]
    for seq, event in enumerate(events):
        parts.append(encode_record(event, seq))
    parts.append(encode_seal(len(parts) - 1))
    return b"".join(parts)


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class JournalRecovery:
    """What a journal holds: every complete record before the first bad byte, and why
    reading stopped where it did.

    Attributes:
        events: the records read, in order.
        version: the format version (1 or 2; 0 when the header itself is unreadable).
        sealed: the writer closed the file (version 2 seal present and matching).
        good_bytes: length of the valid prefix: header, records (and the seal).
        size: length of the whole file, bytes.
        error: what strict reading raises (``None``: the journal is complete).
    """

    events: list[Event]
    version: int
    sealed: bool
    good_bytes: int
    size: int
    error: CorruptJournalError | None

    @property
    def complete(self) -> bool:
        """Strict reading returns ``events`` as they are."""
        return self.error is None

    @property
    def dropped_bytes(self) -> int:
        """Bytes after the valid prefix (a torn tail, or from the first bad byte on)."""
        return self.size - self.good_bytes

    def describe(self) -> str:
        """One line: what was kept, and what was dropped and why."""
        kept = f"{len(self.events)} records kept"
        if self.error is None:
            return f"{kept}; complete"
        reason = str(self.error).removesuffix(_HINT)
        return f"{kept}; {self.dropped_bytes} bytes dropped: {reason}"


def scan_journal(data: bytes | bytearray | memoryview) -> JournalRecovery:
    """Read a whole journal (header included) without raising on its content."""
    raw = bytes(data)
    if raw.startswith(HEADER):
        return _scan_v2(raw)
    if raw.startswith(HEADER_V1):
        return _scan_v1(raw)
    if HEADER.startswith(raw) or HEADER_V1.startswith(raw) or _zeros(raw):
        error: CorruptJournalError = TornRecordError(
            f"journal ends inside its header ({len(raw)} bytes): a write cut short",
            [],
            offset=0,
        )
    elif raw.startswith(_MAGIC):
        error = CorruptJournalError(
            f"unsupported journal version {raw[len(_MAGIC) : len(HEADER)]!r} at byte 6 "
            "(this build reads versions 1 and 2)",
            [],
            offset=0,
        )
    else:
        error = CorruptJournalError("not a mutualize journal (bad header at byte 0)", [], offset=0)
    return JournalRecovery([], 0, False, 0, len(raw), error)


def _zeros(raw: bytes) -> bool:
    return not raw.strip(b"\0")


def _scan_v2(raw: bytes) -> JournalRecovery:
    events: list[Event] = []
    pos = len(HEADER)
    size = len(raw)

    def stop(error: CorruptJournalError, sealed: bool = False) -> JournalRecovery:
        error.records = events
        error.offset = pos
        return JournalRecovery(events, 2, sealed, pos, size, error)

    def where() -> str:
        return f"record {len(events)} at byte {pos}"

    while pos < size:
        if size - pos < _FRAME.size:
            return stop(_torn(events, pos, "a record's frame"))
        length, seq, payload_crc, frame_crc = _FRAME.unpack_from(raw, pos)
        if zlib.crc32(raw[pos : pos + 16]) != frame_crc:
            if _zeros(raw[pos:]):
                return stop(_torn(events, pos, "a zero-filled tail"))
            return stop(CorruptJournalError(f"{where()}: frame checksum mismatch (corrupted)"))
        if seq != len(events):
            what = "the seal's count" if length == _SEAL_LENGTH else "sequence number"
            return stop(
                CorruptJournalError(
                    f"{where()}: {what} {seq}, expected {len(events)} (records lost, "
                    "duplicated or out of order)"
                )
            )
        if length == _SEAL_LENGTH:
            if payload_crc != 0:
                return stop(CorruptJournalError(f"{where()}: malformed seal"))
            end = pos + _FRAME.size
            if end != size:
                pos = end  # the seal itself is good: the damage starts after it
                return stop(
                    CorruptJournalError(f"{size - end} bytes after the seal at byte {end}"),
                    sealed=True,
                )
            return JournalRecovery(events, 2, True, size, size, None)
        start = pos + _FRAME.size
        payload = raw[start : start + length]
        if len(payload) < length:
            return stop(_torn(events, pos, "a record's payload"))
        if zlib.crc32(payload) != payload_crc:
            nul = payload.find(b"\0")
            if nul >= 0 and _zeros(raw[start + nul :]):
                return stop(_torn(events, pos, "a zero-filled tail"))
            return stop(CorruptJournalError(f"{where()}: payload checksum mismatch (corrupted)"))
        event = _decode_payload(payload, where())
        if isinstance(event, CorruptJournalError):
            return stop(event)
        events.append(event)
        pos = start + length
    return stop(
        UnsealedJournalError(
            f"journal of {len(events)} records ends at byte {pos} without its seal: "
            "its writer is still open or was stopped, or the file was cut at a record "
            f"boundary{_HINT}"
        )
    )


def _scan_v1(raw: bytes) -> JournalRecovery:
    events: list[Event] = []
    pos = len(HEADER_V1)
    size = len(raw)

    def stop(error: CorruptJournalError) -> JournalRecovery:
        error.records = events
        error.offset = pos
        return JournalRecovery(events, 1, False, pos, size, error)

    while pos < size:
        if size - pos < _FRAME_V1.size:
            return stop(_torn(events, pos, "a record's frame"))
        length, crc = _FRAME_V1.unpack_from(raw, pos)
        start = pos + _FRAME_V1.size
        payload = raw[start : start + length]
        if len(payload) < length:
            return stop(_torn(events, pos, "a record's payload"))
        if zlib.crc32(payload) != crc:
            return stop(
                CorruptJournalError(
                    f"record {len(events)} at byte {pos}: checksum mismatch (corrupted)"
                )
            )
        event = _decode_payload(payload, f"record {len(events)} at byte {pos}")
        if isinstance(event, CorruptJournalError):
            return stop(event)
        events.append(event)
        pos = start + length
    return JournalRecovery(events, 1, False, size, size, None)


def _decode_payload(payload: bytes, where: str) -> Event | CorruptJournalError:
    try:
        event = json.loads(payload)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return CorruptJournalError(f"{where}: not JSON ({exc})")
    if not isinstance(event, dict):
        return CorruptJournalError(f"{where} is not an event (a JSON object)")
    return event


def _torn(events: list[Event], pos: int, where: str) -> TornRecordError:
    return TornRecordError(
        f"journal ends inside {where} at byte {pos}, after {len(events)} complete "
        f"records (a write cut short){_HINT}",
        events,
        offset=pos,
    )


def decode_records(data: bytes | bytearray | memoryview, *, recover: bool = False) -> list[Event]:
    """The events of a whole journal (header included).

    Strict (default): the events if the journal is complete, else the error
    ``scan_journal`` found (``UnsealedJournalError``, ``TornRecordError`` or
    ``CorruptJournalError``, each with ``.records`` and ``.offset``). With
    ``recover=True``: every record before the first bad byte, with a
    ``JournalRecoveryWarning`` when bytes were dropped.
    """
    return _events(scan_journal(data), recover, "journal")


def _events(scan: JournalRecovery, recover: bool, name: str) -> list[Event]:
    if scan.error is None:
        return scan.events
    if not recover:
        raise scan.error
    if scan.dropped_bytes:
        warnings.warn(f"{name}: {scan.describe()}", JournalRecoveryWarning, stacklevel=3)
    return scan.events


def read_journal(path: str | os.PathLike[str], *, recover: bool = False) -> list[Event]:
    """Every event of the journal at ``path``; errors and ``recover`` as in
    ``decode_records``."""
    return _events(scan_journal(Path(path).read_bytes()), recover, str(path))


def recover_journal(path: str | os.PathLike[str]) -> JournalRecovery:
    """Everything recoverable from the journal at ``path``, and what was dropped and why
    (never raises on the file's content)."""
    return scan_journal(Path(path).read_bytes())


# --------------------------------------------------------------------------- writing


def _fsync_dir(path: Path) -> None:
    """Make a created or renamed entry durable (POSIX; a no-op where unsupported)."""
    with contextlib.suppress(OSError):
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_journal(path: str | os.PathLike[str], events: Iterable[Event]) -> None:
    """Write ``events`` as a new sealed journal at ``path`` (replacing the file
    atomically: a crash leaves the old file or the new one, never a mix)."""
    target = Path(path)
    data = encode_journal(events)
    partial = target.with_name(target.name + ".partial")
    with open(partial, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, target)
    _fsync_dir(target)


def upgrade_journal(path: str | os.PathLike[str]) -> int:
    """Rewrite a complete version 1 journal as a sealed version 2 one (atomically);
    returns the number of records. A version 2 journal is left as it is."""
    scan = recover_journal(path)
    if scan.error is not None:
        raise scan.error
    if scan.version == 1:
        write_journal(path, scan.events)
    return len(scan.events)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class JournalWriter:
    """Appends events to a journal file, one record per event, creating the file if
    needed; ``close()`` seals it (see the module docstring).

    Every ``append`` hands its whole record to the operating system before returning,
    so a killed process never loses an appended event; ``sync=True`` also fsyncs each
    record (survives a power loss; slower). Opening an existing journal validates it:
    a torn tail (a write cut short by a crash) is truncated, ``truncated_bytes`` says how
    many bytes that dropped and a ``JournalRecoveryWarning`` is issued; a corrupted
    journal raises ``CorruptJournalError`` unless ``recover=True``, which truncates it
    at the first bad byte (dropping every record from there on). One writer per file:
    a second raises ``BlockingIOError`` (POSIX). ``append`` is thread-safe.

    Use as a context manager::

        with JournalWriter("run.journal") as journal:
            journal.append(dict(ledger.deposit(0, 1_000_000)))
    """

    def __init__(
        self, path: str | os.PathLike[str], *, sync: bool = False, recover: bool = False
    ) -> None:
        self.path = Path(path)
        self.sync = sync
        #: Bytes cut from the end of the file when it was opened (torn or corrupt tail).
        self.truncated_bytes = 0
        self._lock = threading.Lock()
        self._closed = False
        self._broken: str | None = None
        created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
        try:
            self._lock_file(fd)
            self._seq, self._end = self._prepare(fd, recover)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        if created:
            _fsync_dir(self.path)

    def _lock_file(self, fd: int) -> None:
        if fcntl is None:  # pragma: no cover - Windows
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise BlockingIOError(
                exc.errno, f"{self.path} is open by another JournalWriter"
            ) from None

    def _prepare(self, fd: int, recover: bool) -> tuple[int, int]:
        """Validate the file, cut a torn (or, with ``recover``, corrupt) tail and the
        seal; return the next sequence number and the end offset."""
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        data = b"".join(chunks)
        size = len(data)
        scan = scan_journal(data)
        if scan.version == 1:
            raise CorruptJournalError(
                f"{self.path} is a version 1 journal: upgrade it with "
                "mutualize.journal.upgrade_journal(path) before appending",
                scan.events,
                offset=0,
            )
        if scan.version == 0 and not isinstance(scan.error, TornRecordError):
            raise CorruptJournalError(f"{self.path}: {scan.error}", [], offset=0)
        damaged = scan.error is not None and not isinstance(
            scan.error, TornRecordError | UnsealedJournalError
        )
        if damaged and not recover:
            raise CorruptJournalError(
                f"{self.path}: {scan.error}; open with recover=True to truncate the "
                f"journal at byte {scan.good_bytes} (dropping {scan.dropped_bytes} bytes)",
                scan.events,
                offset=scan.good_bytes,
            )
        end = scan.good_bytes
        if scan.sealed:
            end -= _FRAME.size  # reopened: the seal comes off, a new one at close()
        if scan.dropped_bytes:
            self.truncated_bytes = scan.dropped_bytes
            warnings.warn(
                f"{self.path}: {scan.describe()}; truncated to {end} bytes",
                JournalRecoveryWarning,
                stacklevel=3,
            )
        if end != size:
            os.ftruncate(fd, end)
        if end == 0:
            os.lseek(fd, 0, os.SEEK_SET)
            _write_all(fd, HEADER)
            end = len(HEADER)
        if end != size or self.sync:
            os.fsync(fd)
        return len(scan.events), end

    @property
    def records(self) -> int:
        """Number of records in the file."""
        return self._seq

    @property
    def closed(self) -> bool:
        """Whether ``close()`` has run."""
        return self._closed

    def _write(self, data: bytes) -> None:
        """Write ``data`` at the end of the journal (a seam for fault-injection tests)."""
        os.lseek(self._fd, self._end, os.SEEK_SET)
        _write_all(self._fd, data)

    def _append_bytes(self, data: bytes, seq_after: int) -> None:
        if self._closed:
            raise ValueError(f"{self.path}: the journal writer is closed")
        if self._broken is not None:
            raise OSError(f"{self.path}: the journal writer failed earlier: {self._broken}")
        try:
            self._write(data)
            if self.sync:
                os.fsync(self._fd)
        except BaseException as exc:
            # Take the partial record back so later appends do not follow garbage.
            try:
                os.ftruncate(self._fd, self._end)
            except OSError as again:
                self._broken = f"{exc!r}, then truncating: {again!r}"
            raise
        self._end += len(data)
        self._seq = seq_after

    def append(self, event: Event) -> None:
        """Append one event (a plain dict: ``dict(ledger_event)``) as a record."""
        with self._lock:
            self._append_bytes(encode_record(event, self._seq), self._seq + 1)

    def extend(self, events: Iterable[Event]) -> None:
        """Append several events, one record each."""
        for event in events:
            self.append(event)

    def close(self) -> None:
        """Seal the journal, fsync it and close the file (idempotent)."""
        with self._lock:
            if self._closed:
                return
            try:
                if self._broken is None:
                    self._append_bytes(encode_seal(self._seq), self._seq)
                    os.fsync(self._fd)
            finally:
                self._closed = True
                os.close(self._fd)

    def _abandon(self, partial: bytes = b"") -> None:
        """Close the file as a killed process would: ``partial`` (the start of a record)
        written, no seal, nothing taken back (a seam for fault injection: tests, soak)."""
        with self._lock:
            if self._closed:
                return
            try:
                if partial:
                    self._write(partial)
            finally:
                self._closed = True
                os.close(self._fd)

    def __enter__(self) -> JournalWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"JournalWriter({str(self.path)!r}, records={self._seq}, {state})"
