"""Journal files: round trips, and corruption or truncation detected, never misread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mutualize.errors import CorruptJournalError, TornRecordError
from mutualize.journal import (
    HEADER,
    JournalWriter,
    decode_records,
    encode_record,
    read_journal,
    write_journal,
)

EVENTS: list[dict[str, Any]] = [
    {"op": "create_market", "tick_value": 1, "mark": 100, "market": 0},
    {"op": "deposit", "account": 0, "amount": 2**100},
    {"op": "liquidate", "account": 1, "stages": [["insurance_fund", 5], ["bad_debt", 0]]},
]


def _blob(events: list[dict[str, Any]]) -> bytes:
    return HEADER + b"".join(encode_record(e) for e in events)


def test_round_trip_file(tmp_path: Path) -> None:
    path = tmp_path / "run.journal"
    write_journal(path, EVENTS)
    assert read_journal(path) == EVENTS
    with JournalWriter(path) as journal:
        journal.append({"op": "settle_session"})
    assert read_journal(path) == [*EVENTS, {"op": "settle_session"}]


def test_writer_creates_and_syncs(tmp_path: Path) -> None:
    path = tmp_path / "new.journal"
    with JournalWriter(path, sync=True) as journal:
        journal.extend(EVENTS)
    assert read_journal(path) == EVENTS


def test_writer_refuses_foreign_file(tmp_path: Path) -> None:
    path = tmp_path / "other"
    path.write_bytes(b"hello world")
    with pytest.raises(CorruptJournalError):
        JournalWriter(path)


def test_torn_final_record_reported_with_good_records() -> None:
    data = _blob(EVENTS)
    cut = data[:-3]
    with pytest.raises(TornRecordError) as info:
        decode_records(cut)
    assert info.value.records == EVENTS[:-1]
    assert decode_records(cut, recover=True) == EVENTS[:-1]


def test_bad_header() -> None:
    with pytest.raises(CorruptJournalError, match="header"):
        decode_records(b"NOTAJRNL" + encode_record(EVENTS[0]))
    with pytest.raises(TornRecordError):
        decode_records(HEADER[:3])


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_truncation_is_torn_or_a_prefix(data: st.DataObject) -> None:
    blob = _blob(EVENTS)
    cut = data.draw(st.integers(0, len(blob)))
    events = decode_records(blob[:cut], recover=True)
    assert events == EVENTS[: len(events)]
    complete = len(HEADER) + sum(len(encode_record(e)) for e in events)
    if cut != complete:  # ends inside a record: the strict reader says so
        with pytest.raises(TornRecordError):
            decode_records(blob[:cut])


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_bit_flip_is_detected(data: st.DataObject) -> None:
    blob = bytearray(_blob(EVENTS))
    index = data.draw(st.integers(0, len(blob) - 1))
    blob[index] ^= 1 << data.draw(st.integers(0, 7))
    # A flip may hit the header, a frame (length: then torn or a checksum failure) or a
    # payload (a checksum failure): never a silently different event list.
    with pytest.raises(CorruptJournalError):
        decode_records(bytes(blob))
