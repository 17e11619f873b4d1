"""Regressions of issue 9, items 2 and 3, through the journal API that existed before the
fix (each test failed then): a writer reopened after a torn tail, a damaged length field
taken for a tear, and a cut at a record boundary read as the whole journal."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

from mutualize.errors import CorruptJournalError, TornRecordError
from mutualize.journal import JournalWriter, decode_records, read_journal, write_journal

EVENTS: list[dict[str, Any]] = [
    {"op": "create_market", "tick_value": 1, "mark": 100, "market": 0},
    {"op": "create_account", "account": 0},
    {"op": "deposit", "account": 0, "amount": 2**100},
    {"op": "settle_session", "collected": 0, "haircuts": [], "bad_debt": 0},
]


def test_reopen_after_torn_tail_keeps_every_complete_record(tmp_path: Path) -> None:
    """Item 2: a crash leaves a partial record; a writer opened on the file truncates it
    (saying how much) and the journal then reads as the records before the tear plus
    the new ones."""
    path = tmp_path / "venue.journal"
    with JournalWriter(path) as journal:
        journal.extend(EVENTS[:3])
    whole = path.read_bytes()
    # The crash: the last record is cut in the middle of its payload.
    path.write_bytes(whole[: len(whole) - 25])
    with pytest.warns(UserWarning, match="bytes dropped"):
        kept = read_journal(path, recover=True)
    assert kept == EVENTS[:2]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        writer = JournalWriter(path)
    with writer:
        writer.append(EVENTS[3])
    assert read_journal(path, recover=True) == [*EVENTS[:2], EVENTS[3]]
    assert read_journal(path) == [*EVENTS[:2], EVENTS[3]]
    assert any("dropped" in str(w.message) for w in caught), "the truncation is reported"


def test_flipped_length_is_corruption_at_its_offset_not_a_tear(tmp_path: Path) -> None:
    """Item 3: a bit flip in the second record's length field is corruption, named at
    that record's byte offset; recovery keeps the first record and reports the drop."""
    path = tmp_path / "venue.journal"
    write_journal(path, EVENTS)
    data = bytearray(path.read_bytes())
    # The second record starts where the first one's JSON ends.
    first_payload_end = data.index(b"}", data.index(b'"create_market"')) + 1
    second = first_payload_end
    data[second + 3] ^= 0x40  # the length's top byte: points far past the end
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptJournalError) as info:
        read_journal(path)
    assert not isinstance(info.value, TornRecordError), "a damaged length is not a tear"
    assert f"byte {second}" in str(info.value)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kept = read_journal(path, recover=True)
    assert kept == EVENTS[:1]
    assert any("dropped" in str(w.message) for w in caught), "recovery reports the drop"


def test_cut_at_a_record_boundary_is_not_the_whole_journal(tmp_path: Path) -> None:
    """Item 3: a journal cut exactly after a complete record must not read as complete
    (it would replay silently to an older state)."""
    path = tmp_path / "venue.journal"
    write_journal(path, EVENTS)
    data = path.read_bytes()
    after_third = data.index(b"}", data.index(b'"deposit"')) + 1
    cut = data[:after_third]
    with pytest.raises(CorruptJournalError, match="seal"):
        decode_records(cut)
    assert decode_records(cut, recover=True) == EVENTS[:3]


@pytest.mark.parametrize("backend", ["rust", "python"])
def test_replay_of_a_journal_cut_at_a_boundary_says_so(tmp_path: Path, backend: str) -> None:
    """Item 3: a restore from a journal that ended early says so (a distinct error),
    instead of returning the older ledger as if it were the whole history."""
    import mutualize as mz
    from mutualize._ledger_python import Ledger as PythonLedger

    if backend == "rust" and mz.backend != "rust":
        pytest.skip("compiled extension not available")
    ledger_class: Any = mz.Ledger if backend == "rust" else PythonLedger
    ledger = ledger_class()
    ledger.create_market(tick_value=1, mark=100, imr_bps=1_000, mmr_bps=500)
    ledger.create_account()
    path = tmp_path / "venue.journal"
    ledger.write_journal(path)
    ledger.deposit(0, 5_000)
    complete = path.read_bytes()
    ledger.write_journal(path)
    assert path.read_bytes() != complete
    # The longer journal cut back exactly where the shorter one's records end.
    cut = path.read_bytes()[: complete.rindex(b"}") + 1]
    path.write_bytes(cut)
    with pytest.raises(CorruptJournalError) as info:
        ledger_class.from_journal(path)
    assert len(getattr(info.value, "records", [])) == 2


_KILLED_CHILD = """
import sys
import time
from mutualize.journal import JournalWriter

journal = JournalWriter(sys.argv[1])
for seq in range(201):
    journal.append({"op": "deposit", "account": 0, "amount": seq})
    print(seq, flush=True)
time.sleep(120)  # killed here, with 201 records acknowledged
"""


def test_killed_writer_keeps_every_acknowledged_record(tmp_path: Path) -> None:
    """A process killed while writing (no sync) loses no record whose append()
    returned: records are handed to the OS one by one, not buffered in Python."""
    import signal
    import subprocess
    import sys

    path = tmp_path / "live.journal"
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_CHILD, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    acked = -1
    while acked < 200:
        acked = int(child.stdout.readline())
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kept = read_journal(path, recover=True)
    assert [e["amount"] for e in kept] == list(range(201))
