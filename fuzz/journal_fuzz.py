"""Fuzz the journal reader and writer (python/mutualize/journal.py) with any bytes.

Each input is either raw bytes or a real journal (version 2 or 1) mutated as the input
says (bit flips, bytes set, inserted or deleted, truncations, duplicated slices, a
zero-filled tail). For every one: ``scan_journal`` never raises; strict reading returns
the events only when the journal is complete and otherwise raises the error the scan
names, with the same offset and records; recovery returns the records before the first
bad byte; what is kept from a mutated version 2 journal is a prefix of what was written
(never a corrupt record); and a ``JournalWriter`` reopened on the bytes continues them.

    python fuzz/journal_fuzz.py --seconds 60    # atheris (coverage-guided) if installed,
                                                # else a built-in random mutator
    python fuzz/journal_fuzz.py --builtin --seconds 60

It prints ``journal: N runs in S s`` and exits 1 on the first failure, saving the input
under fuzz/artifacts/journal/.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def _import_journal() -> Any:
    try:
        import atheris

        with atheris.instrument_imports(include=["mutualize.journal"]):
            import mutualize.journal as journal
    except ImportError:
        import mutualize.journal as journal
    return journal


journal = _import_journal()
from mutualize.errors import CorruptJournalError  # noqa: E402

EVENTS: list[list[dict[str, Any]]] = [
    [],
    [{"op": "create_account", "account": 0}],
    [
        {"op": "create_market", "tick_value": 1, "mark": 100, "imr_bps": 1_000, "market": 0},
        {"op": "deposit", "account": 0, "amount": 2**100},
        {"op": "liquidate", "account": 1, "stages": [["insurance_fund", 5], ["bad_debt", 0]]},
        {"op": "set_marks", "marks": [1, -2, 3]},
    ],
]


def _v1(events: list[dict[str, Any]]) -> bytes:
    import json
    import struct
    import zlib

    parts = [journal.HEADER_V1]
    for event in events:
        payload = json.dumps(event, sort_keys=True, separators=(",", ":")).encode()
        parts.append(struct.pack("<II", len(payload), zlib.crc32(payload)) + payload)
    return b"".join(parts)


BASES: list[tuple[bytes, list[dict[str, Any]], int]] = [
    *((journal.encode_journal(e), e, 2) for e in EVENTS),
    *((_v1(e), e, 1) for e in EVENTS),
]


def mutate(blob: bytes, how: bytes) -> bytes:
    """``blob`` changed by the instructions in ``how`` (4 bytes each)."""
    data = bytearray(blob)
    for i in range(0, len(how) - 3, 4):
        kind, a, b, c = how[i : i + 4]
        at = (a | b << 8) % (len(data) + 1)
        op = kind % 8
        if op == 0 and data:
            data[at % len(data)] ^= 1 << (c % 8)
        elif op == 1 and data:
            data[at % len(data)] = c
        elif op == 2:
            data[at:at] = bytes([c]) * (1 + kind // 8 % 4)
        elif op == 3:
            del data[at : at + 1 + c % 24]
        elif op == 4:
            del data[at:]
        elif op == 5:
            data[at:at] = data[max(0, at - 1 - c % 64) : at]
        elif op == 6:
            data[at:] = bytes(len(data) - at + c % 8)
        else:
            data[at:] = b""
            data += bytes([c, a, b, kind])
    return bytes(data)


def check(data: bytes, written: list[dict[str, Any]] | None, version: int) -> None:
    """The reader's and writer's promises on ``data`` (a mutation of ``written``)."""
    scan = journal.scan_journal(data)
    assert 0 <= scan.good_bytes <= scan.size == len(data)
    assert scan.version in (0, 1, 2)
    assert all(isinstance(e, dict) for e in scan.events)
    if scan.error is None:
        assert journal.decode_records(data) == scan.events
        assert scan.version != 2 or scan.sealed
    else:
        assert isinstance(scan.error, CorruptJournalError)
        assert scan.error.offset == scan.good_bytes
        assert scan.error.records == scan.events
        raised: CorruptJournalError | None = None
        try:
            journal.decode_records(data)
        except CorruptJournalError as exc:
            raised = exc
        assert raised is not None, "strict reading accepted an incomplete journal"
        assert type(raised) is type(scan.error)
        assert (raised.offset, raised.records) == (scan.good_bytes, scan.events)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert journal.decode_records(data, recover=True) == scan.events
    if written is not None and version == 2:
        # Never a corrupt record: what is kept is what was written, in order.
        assert scan.events == written[: len(scan.events)]
        if scan.complete:
            assert scan.events == written


def check_writer(data: bytes) -> None:
    """A writer opened (with recover=True) on ``data`` continues it, or refuses it with a
    CorruptJournalError when it is not a version 2 journal."""
    scan = journal.scan_journal(data)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.journal"
        path.write_bytes(data)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                writer = journal.JournalWriter(path, recover=True)
        except CorruptJournalError:
            assert scan.version == 1 or (
                scan.version == 0 and not isinstance(scan.error, journal.TornRecordError)
            )
            assert path.read_bytes() == data  # refused: untouched
            return
        assert writer.records == len(scan.events)
        with writer:
            writer.append({"op": "fuzz"})
        assert journal.read_journal(path) == [*scan.events, {"op": "fuzz"}]


def one_input(data: bytes) -> None:
    """One fuzz input (the harness atheris and the built-in loop both call)."""
    if len(data) < 2:
        check(data, None, 0)
        return
    mode, pick, rest = data[0], data[1], data[2:]
    if mode % 4 == 0:
        blob, written, version = rest, None, 0
    else:
        base, written, version = BASES[pick % len(BASES)]
        blob = mutate(base, rest)
    check(blob, written, version)
    if mode % 16 == 1:
        check_writer(blob)


def _save(data: bytes) -> Path:
    folder = HERE / "artifacts" / "journal"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"crash-{hashlib.sha1(data).hexdigest()}"
    path.write_bytes(data)
    return path


def builtin(seconds: float, seed: int) -> int:
    """Random inputs for ``seconds``; returns the number of runs."""
    rng = random.Random(seed)
    runs = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        size = rng.choice([2, 6, 10, 18, 34, 66, 130, 400])
        data = bytes(rng.getrandbits(8) for _ in range(size))
        try:
            one_input(data)
        except Exception:
            print(f"journal: failure on input saved to {_save(data)}", file=sys.stderr)
            raise
        runs += 1
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--builtin", action="store_true", help="do not use atheris")
    parser.add_argument("--seed", type=int, default=int.from_bytes(os.urandom(4), "little"))
    args, rest = parser.parse_known_args()
    started = time.monotonic()
    try:
        import atheris
    except ImportError:
        atheris = None
    if atheris is None or args.builtin:
        why = "--builtin" if args.builtin else "atheris not installed"
        print(f"journal: built-in random mutator ({why}), seed {args.seed}")
        runs = builtin(args.seconds, args.seed)
        print(f"journal: {runs} runs in {time.monotonic() - started:.0f} s, no failure")
        return 0
    corpus = HERE / "corpus" / "journal"
    corpus.mkdir(parents=True, exist_ok=True)
    artifacts = HERE / "artifacts" / "journal"
    artifacts.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.argv[0],
        str(corpus),
        f"-max_total_time={int(args.seconds)}",
        f"-artifact_prefix={artifacts}/",
        "-print_final_stats=1",
        *rest,
    ]
    print(f"journal: atheris (coverage-guided), {args.seconds:.0f} s")
    atheris.Setup(argv, one_input)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
