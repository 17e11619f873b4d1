"""Crash tests of the journal (issue 9): a small real journal cut at every byte offset,
every bit of its header, of one record and of its seal flipped, and a writer process
killed mid-write. Every case ends in a full recovery or the precise error with the
records before it, and never in a silently older state; a writer reopened on any
crashed file continues it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

import mutualize as mz
from mutualize._ledger_python import Ledger as PythonLedger
from mutualize.errors import CorruptJournalError, TornRecordError, UnsealedJournalError
from mutualize.journal import (
    HEADER,
    JournalRecoveryWarning,
    JournalWriter,
    decode_records,
    encode_journal,
    encode_record,
    read_journal,
    scan_journal,
)


@pytest.fixture(params=["rust", "python"])
def Ledger(request: pytest.FixtureRequest) -> Any:  # noqa: N802 (a class, by name)
    if request.param == "rust":
        if mz.backend != "rust":
            pytest.skip("compiled extension not available")
        return mz.Ledger
    return PythonLedger


def _history(Ledger: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:  # noqa: N803
    """A small venue's events, and the state after each prefix of them."""
    ledger = Ledger()
    states = [ledger.state()]
    ledger.create_market(tick_value=1, mark=100, imr_bps=1_000, mmr_bps=500)
    states.append(ledger.state())
    for _ in range(3):
        ledger.create_account()
        states.append(ledger.state())
    for a, amount in enumerate([100, 100, 10_000]):
        ledger.deposit(a, amount)
        states.append(ledger.state())
    ledger.fill(0, 1, 0, 100, 10)
    states.append(ledger.state())
    ledger.set_mark(0, 10)
    states.append(ledger.state())
    ledger.liquidate(0, 2)
    states.append(ledger.state())
    return [dict(e) for e in ledger.journal], states


def _starts(events: list[dict[str, Any]]) -> list[int]:
    out, pos = [], len(HEADER)
    for seq, event in enumerate(events):
        out.append(pos)
        pos += len(encode_record(event, seq))
    return [*out, pos]


def test_every_truncation_recovers_or_names_the_cut(Ledger: Any, tmp_path: Path) -> None:  # noqa: N803
    events, states = _history(Ledger)
    blob = encode_journal(events)
    starts = _starts(events)
    path = tmp_path / "venue.journal"
    for cut in range(len(blob) + 1):
        data = blob[:cut]
        # Records wholly before the cut, and where the last of them ends.
        kept = sum(1 for i in range(len(events)) if starts[i + 1] <= cut)
        end = starts[kept] if cut >= len(HEADER) else 0
        if cut == len(blob):
            assert decode_records(data) == events
            continue
        with pytest.raises(CorruptJournalError) as info:
            decode_records(data)
        err = info.value
        expected = UnsealedJournalError if cut == end and cut >= len(HEADER) else TornRecordError
        assert type(err) is expected, (cut, err)
        assert (err.offset, err.records) == (end, events[:kept]), cut
        # What survives replays to the state after exactly those records.
        if cut in (end, end + 1):
            assert Ledger.replay(err.records).state() == states[kept]
        # A writer reopened on the crashed file continues it: nothing complete is lost.
        path.write_bytes(data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", JournalRecoveryWarning)
            writer = JournalWriter(path)
        assert writer.truncated_bytes == (cut - end if cut >= len(HEADER) else cut)
        with writer:
            writer.extend(events[kept:])
        assert path.read_bytes() == blob, cut


@pytest.mark.parametrize("region", ["header", "record", "seal"])
def test_every_bit_flip_is_corruption_at_its_place(region: str) -> None:
    events, _ = _history(PythonLedger)
    blob = encode_journal(events)
    starts = _starts(events)
    record = 8  # the fill: a record with lists and negative numbers
    first, last, index = {
        "header": (0, len(HEADER), -1),
        "record": (starts[record], starts[record + 1], record),
        "seal": (starts[-1], len(blob), len(events)),
    }[region]
    for byte in range(first, last):
        for bit in range(8):
            data = bytearray(blob)
            data[byte] ^= 1 << bit
            with pytest.raises(CorruptJournalError) as info:
                decode_records(bytes(data))
            err = info.value
            assert not isinstance(err, TornRecordError | UnsealedJournalError), (byte, bit)
            kept = max(index, 0)
            assert err.offset == (0 if index < 0 else starts[index]), (byte, bit)
            assert err.records == events[:kept]
            scan = scan_journal(bytes(data))
            assert scan.events == events[:kept]
            assert scan.dropped_bytes == len(blob) - err.offset


_CHILD = textwrap.dedent(
    """
    import sys
    from mutualize.journal import JournalWriter

    journal = JournalWriter(sys.argv[1], sync=sys.argv[2] == "sync")
    seq = journal.records
    while True:
        pad = "x" * (seq % 300)
        journal.append({"op": "deposit", "account": seq % 7, "amount": seq, "pad": pad})
        print(seq, flush=True)  # acknowledged: append() has returned
        seq += 1
    """
)


def _event(seq: int) -> dict[str, Any]:
    return {"op": "deposit", "account": seq % 7, "amount": seq, "pad": "x" * (seq % 300)}


@pytest.mark.parametrize("sync", ["nosync", "sync"])
def test_killed_writer_loses_no_acknowledged_record(tmp_path: Path, sync: str) -> None:
    """SIGKILL a writer process at random moments, three times over the same file: every
    record whose append() returned is there, in order; the rest is a clean tail that the
    next writer removes."""
    path = tmp_path / "live.journal"
    acked = -1
    for round_ in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(path), sync],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        target = acked + 50 + 37 * round_
        deadline = time.monotonic() + 60
        while acked < target and time.monotonic() < deadline:
            line = child.stdout.readline()
            if not line:
                break
            acked = int(line)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        # Acknowledgements the child printed before it died.
        acked = max([acked, *(int(x) for x in child.stdout.read().split())])
        assert acked >= target, child.stderr.read() if child.stderr else ""
        scan = scan_journal(path.read_bytes())
        assert not scan.sealed
        assert isinstance(scan.error, TornRecordError | UnsealedJournalError)
        assert len(scan.events) >= acked + 1
        assert scan.events == [_event(i) for i in range(len(scan.events))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", JournalRecoveryWarning)
        with JournalWriter(path) as journal:
            count = journal.records
    assert read_journal(path) == [_event(i) for i in range(count)]
