"""Journal files: round trips; corruption, tears and missing seals told apart and never
misread; the writer's reopening, failures, threads and single-writer lock; version 1
files. (Exhaustive truncations and bit flips: test_journal_crash.py.)"""

from __future__ import annotations

import json
import pickle
import struct
import threading
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mutualize.errors import CorruptJournalError, TornRecordError, UnsealedJournalError
from mutualize.journal import (
    HEADER,
    HEADER_V1,
    JournalRecoveryWarning,
    JournalWriter,
    decode_records,
    encode_journal,
    encode_record,
    encode_seal,
    read_journal,
    recover_journal,
    scan_journal,
    upgrade_journal,
    write_journal,
)

EVENTS: list[dict[str, Any]] = [
    {"op": "create_market", "tick_value": 1, "mark": 100, "market": 0},
    {"op": "deposit", "account": 0, "amount": 2**100},
    {"op": "liquidate", "account": 1, "stages": [["insurance_fund", 5], ["bad_debt", 0]]},
]


def _starts(events: list[dict[str, Any]]) -> list[int]:
    """Byte offset of each record, then of the seal."""
    out, pos = [], len(HEADER)
    for seq, event in enumerate(events):
        out.append(pos)
        pos += len(encode_record(event, seq))
    return [*out, pos]


def _v1(events: list[dict[str, Any]]) -> bytes:
    parts = [HEADER_V1]
    for event in events:
        payload = json.dumps(event, sort_keys=True, separators=(",", ":")).encode()
        parts.append(struct.pack("<II", len(payload), zlib.crc32(payload)) + payload)
    return b"".join(parts)


# --------------------------------------------------------------------------- round trips


def test_round_trip_file(tmp_path: Path) -> None:
    path = tmp_path / "run.journal"
    write_journal(path, EVENTS)
    assert read_journal(path) == EVENTS
    with JournalWriter(path) as journal:
        assert journal.records == 3
        journal.append({"op": "settle_session"})
    assert read_journal(path) == [*EVENTS, {"op": "settle_session"}]
    scan = recover_journal(path)
    assert (scan.complete, scan.sealed, scan.version, scan.dropped_bytes) == (True, True, 2, 0)


def test_writer_creates_syncs_and_seals(tmp_path: Path) -> None:
    path = tmp_path / "new.journal"
    with JournalWriter(path, sync=True) as journal:
        journal.extend(EVENTS)
        # Live: every appended record is in the file, which is not sealed yet.
        with pytest.raises(UnsealedJournalError) as info:
            read_journal(path)
        assert info.value.records == EVENTS
        assert read_journal(path, recover=True) == EVENTS
    assert journal.closed
    journal.close()  # idempotent
    assert read_journal(path) == EVENTS
    assert path.read_bytes() == encode_journal(EVENTS)
    with pytest.raises(ValueError, match="closed"):
        journal.append(EVENTS[0])


def test_empty_journal_is_complete(tmp_path: Path) -> None:
    path = tmp_path / "empty.journal"
    JournalWriter(path).close()
    assert read_journal(path) == []
    write_journal(path, [])
    assert read_journal(path) == []


def test_writer_refuses_foreign_file_and_never_truncates_it(tmp_path: Path) -> None:
    path = tmp_path / "other"
    path.write_bytes(b"hello world, not a journal")
    for recover in (False, True):
        with pytest.raises(CorruptJournalError, match="bad header"):
            JournalWriter(path, recover=recover)
    assert path.read_bytes() == b"hello world, not a journal"


def test_unserializable_event_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "run.journal"
    with JournalWriter(path) as journal:
        journal.append(EVENTS[0])
        with pytest.raises(TypeError):
            journal.append({"op": "deposit", "amount": object()})
        with pytest.raises(ValueError, match="Out of range float"):
            journal.append({"op": "deposit", "amount": float("nan")})
        journal.append(EVENTS[1])
    assert read_journal(path) == EVENTS[:2]


# --------------------------------------------------------------------------- strict vs recover


def test_torn_final_record_reported_with_good_records() -> None:
    data = encode_journal(EVENTS)
    cut = data[: _starts(EVENTS)[2] + 30]
    with pytest.raises(TornRecordError) as info:
        decode_records(cut)
    assert info.value.records == EVENTS[:2]
    assert info.value.offset == _starts(EVENTS)[2]
    with pytest.warns(JournalRecoveryWarning, match="bytes dropped"):
        assert decode_records(cut, recover=True) == EVENTS[:2]


def test_bad_header() -> None:
    with pytest.raises(CorruptJournalError, match="bad header") as info:
        decode_records(b"NOTAJRNL" + encode_record(EVENTS[0], 0))
    assert info.value.offset == 0
    with pytest.raises(CorruptJournalError, match="unsupported journal version"):
        decode_records(b"MZJRNL9\n" + encode_record(EVENTS[0], 0))
    with pytest.raises(TornRecordError):
        decode_records(HEADER[:3])
    with pytest.warns(JournalRecoveryWarning):
        assert decode_records(HEADER[:3], recover=True) == []


def test_missing_seal_is_distinct_from_complete() -> None:
    data = encode_journal(EVENTS)
    for i, start in enumerate(_starts(EVENTS)):
        with pytest.raises(UnsealedJournalError, match="without its seal") as info:
            decode_records(data[:start])
        assert info.value.records == EVENTS[:i]
        assert info.value.offset == start
        scan = scan_journal(data[:start])
        assert (scan.sealed, scan.dropped_bytes, scan.events) == (False, 0, EVENTS[:i])


def test_record_out_of_sequence_is_corruption() -> None:
    # Records 0 and 2 (record 1 lost), and a duplicated record.
    lost = HEADER + encode_record(EVENTS[0], 0) + encode_record(EVENTS[2], 2) + encode_seal(2)
    with pytest.raises(CorruptJournalError, match="sequence number 2, expected 1") as info:
        decode_records(lost)
    assert info.value.offset == _starts(EVENTS)[1]
    twice = HEADER + encode_record(EVENTS[0], 0) + encode_record(EVENTS[0], 0)
    with pytest.raises(CorruptJournalError, match="sequence number 0, expected 1"):
        decode_records(twice)


def test_seal_count_and_position_are_checked() -> None:
    body = HEADER + b"".join(encode_record(e, i) for i, e in enumerate(EVENTS))
    with pytest.raises(CorruptJournalError, match="seal's count 2, expected 3"):
        decode_records(body + encode_seal(2))
    with pytest.raises(CorruptJournalError, match="after the seal"):
        decode_records(body + encode_seal(3) + encode_record(EVENTS[0], 3))
    with pytest.warns(JournalRecoveryWarning):
        assert decode_records(body + encode_seal(3) + b"x", recover=True) == EVENTS


def test_zero_filled_tail_is_a_tear() -> None:
    """What a file system can leave after a power loss: the size grew, the data never
    arrived. At a record boundary or inside a record's payload, it is a tear."""
    data = encode_journal(EVENTS)
    starts = _starts(EVENTS)
    at_boundary = data[: starts[2]] + bytes(40)
    with pytest.raises(TornRecordError, match="zero-filled"):
        decode_records(at_boundary)
    inside = bytearray(data[: starts[3]])
    inside[starts[2] + 30 :] = bytes(len(inside) - starts[2] - 30)
    with pytest.raises(TornRecordError, match="zero-filled") as info:
        decode_records(bytes(inside))
    assert info.value.records == EVENTS[:2]


def test_payload_that_is_not_an_event() -> None:
    payload = b"[1,2]"
    frame = struct.pack("<IQI", len(payload), 0, zlib.crc32(payload))
    data = HEADER + frame + struct.pack("<I", zlib.crc32(frame)) + payload + encode_seal(1)
    with pytest.raises(CorruptJournalError, match="not an event"):
        decode_records(data)


def test_errors_pickle_with_records_and_offset() -> None:
    for cls in (CorruptJournalError, TornRecordError, UnsealedJournalError):
        err = cls("message", [EVENTS[0]], offset=42)
        again = pickle.loads(pickle.dumps(err))
        assert type(again) is cls
        assert (str(again), again.records, again.offset) == ("message", [EVENTS[0]], 42)


# --------------------------------------------------------------------------- the writer


def test_reopen_sealed_journal_continues_the_sequence(tmp_path: Path) -> None:
    path = tmp_path / "run.journal"
    for event in EVENTS:
        with JournalWriter(path) as journal:
            journal.append(event)
    assert path.read_bytes() == encode_journal(EVENTS)


def test_reopen_after_tear_truncates_and_reports(tmp_path: Path) -> None:
    path = tmp_path / "run.journal"
    write_journal(path, EVENTS[:2])
    data = path.read_bytes()
    torn = data[:-20] + encode_record(EVENTS[2], 2)[:11]  # seal gone, record 2 cut short
    path.write_bytes(torn)
    with pytest.warns(JournalRecoveryWarning, match="11 bytes dropped"):
        journal = JournalWriter(path)
    assert (journal.truncated_bytes, journal.records) == (11, 2)
    with journal:
        journal.append(EVENTS[2])
    assert read_journal(path) == EVENTS


def test_reopen_corrupt_journal_refused_unless_recover(tmp_path: Path) -> None:
    path = tmp_path / "run.journal"
    write_journal(path, EVENTS)
    data = bytearray(path.read_bytes())
    second = _starts(EVENTS)[1]
    data[second + 30] ^= 1  # record 1's payload
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptJournalError, match=f"recover=True to truncate .* at byte {second}"):
        JournalWriter(path)
    assert path.read_bytes() == bytes(data)  # refused: untouched
    with pytest.warns(JournalRecoveryWarning, match="payload checksum mismatch"):
        journal = JournalWriter(path, recover=True)
    assert journal.truncated_bytes == len(data) - second
    with journal:
        journal.append(EVENTS[2])
    assert read_journal(path) == [EVENTS[0], EVENTS[2]]


def test_reopen_with_bytes_after_the_seal(tmp_path: Path) -> None:
    # Found by fuzz/journal_fuzz.py: the seal is good, the damage starts after it.
    path = tmp_path / "run.journal"
    path.write_bytes(encode_journal(EVENTS) + b"junk")
    with pytest.raises(CorruptJournalError, match="4 bytes after the seal"):
        JournalWriter(path)
    with pytest.warns(JournalRecoveryWarning, match="4 bytes dropped"):
        journal = JournalWriter(path, recover=True)
    with journal:
        journal.append({"op": "settle_session"})
    assert read_journal(path) == [*EVENTS, {"op": "settle_session"}]


def test_writer_refuses_version_1_and_upgrade_converts(tmp_path: Path) -> None:
    path = tmp_path / "old.journal"
    path.write_bytes(_v1(EVENTS))
    assert read_journal(path) == EVENTS  # version 1 still reads
    assert recover_journal(path).version == 1
    with pytest.raises(CorruptJournalError, match="version 1 journal: upgrade"):
        JournalWriter(path)
    assert upgrade_journal(path) == 3
    assert path.read_bytes() == encode_journal(EVENTS)
    assert upgrade_journal(path) == 3  # already version 2: unchanged
    with JournalWriter(path) as journal:
        journal.append({"op": "settle_session"})
    assert read_journal(path)[-1] == {"op": "settle_session"}


def test_version_1_errors_kept() -> None:
    data = _v1(EVENTS)
    with pytest.raises(TornRecordError) as info:
        decode_records(data[:-3])
    assert info.value.records == EVENTS[:2]
    flipped = bytearray(data)
    flipped[-2] ^= 4
    with pytest.raises(CorruptJournalError, match="checksum mismatch"):
        decode_records(bytes(flipped))


def test_failed_write_is_taken_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that fails half-way (a full disk, say) leaves no partial record behind:
    the next append follows the last complete one."""
    path = tmp_path / "run.journal"
    journal = JournalWriter(path)
    journal.append(EVENTS[0])
    real = JournalWriter._write

    def half_then_fail(self: JournalWriter, data: bytes) -> None:
        real(self, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(JournalWriter, "_write", half_then_fail)
    with pytest.raises(OSError, match="No space"):
        journal.append(EVENTS[1])
    monkeypatch.undo()
    journal.append(EVENTS[2])
    journal.close()
    assert read_journal(path) == [EVENTS[0], EVENTS[2]]


def test_one_writer_per_file(tmp_path: Path) -> None:
    path = tmp_path / "run.journal"
    with JournalWriter(path), pytest.raises(BlockingIOError, match="another JournalWriter"):
        JournalWriter(path)
    with JournalWriter(path) as journal:  # released by close()
        journal.append(EVENTS[0])


def test_threads_append_whole_records(tmp_path: Path) -> None:
    path = tmp_path / "run.journal"
    per_thread, threads = 200, 4
    with JournalWriter(path) as journal:

        def work(t: int) -> None:
            for i in range(per_thread):
                journal.append({"op": "deposit", "account": t, "amount": i})

        pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for th in pool:
            th.start()
        for th in pool:
            th.join()
    events = read_journal(path)
    assert len(events) == per_thread * threads
    for t in range(threads):
        assert [e["amount"] for e in events if e["account"] == t] == list(range(per_thread))


# --------------------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_truncation_is_complete_or_says_why(data: st.DataObject) -> None:
    blob = encode_journal(EVENTS)
    cut = data.draw(st.integers(0, len(blob)))
    scan = scan_journal(blob[:cut])
    assert scan.events == EVENTS[: len(scan.events)]
    if cut == len(blob):
        assert scan.complete
        assert scan.events == EVENTS
    else:  # never silently an older state
        assert isinstance(scan.error, TornRecordError | UnsealedJournalError)
        with pytest.raises(CorruptJournalError):
            decode_records(blob[:cut])


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_bit_flip_is_corruption_at_its_record(data: st.DataObject) -> None:
    blob = bytearray(encode_journal(EVENTS))
    index = data.draw(st.integers(0, len(blob) - 1))
    blob[index] ^= 1 << data.draw(st.integers(0, 7))
    starts = _starts(EVENTS)
    record = max((i for i, s in enumerate(starts) if s <= index), default=-1)
    with pytest.raises(CorruptJournalError) as info:
        decode_records(bytes(blob))
    assert not isinstance(info.value, TornRecordError | UnsealedJournalError)
    # The error names where the damaged record (or the header) starts.
    assert info.value.offset == (0 if record < 0 else starts[record])
    assert scan_journal(bytes(blob)).events == EVENTS[: max(record, 0)]


@settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.binary(max_size=400), st.integers(0, 3))
def test_any_bytes_read_without_surprises(tail: bytes, prefix: int) -> None:
    """Any byte string after a real prefix: reading raises only the journal's errors,
    recovery never raises, and whatever is recovered is a prefix of what was written."""
    good = encode_journal(EVENTS)[: _starts(EVENTS)[prefix]] if prefix else b""
    for blob in (good + tail, tail, HEADER + tail):
        scan = scan_journal(blob)
        assert scan.good_bytes <= scan.size == len(blob)
        if scan.error is None:
            assert decode_records(blob) == scan.events
        else:
            with pytest.raises(CorruptJournalError) as info:
                decode_records(blob)
            assert info.value is not scan.error
            assert type(info.value) is type(scan.error)
            assert info.value.offset == scan.good_bytes
            assert info.value.records == scan.events
    assert scan_journal(good + tail).events[:prefix] == EVENTS[:prefix]
