"""Soak test: many random ledger operations on both backends, with faults injected.

    python -m mutualize.soak --ops 200000 --threads 3 --seed 1

The compiled ledger and the pure-Python reference are driven side by side with the same
random operations (valid and invalid), and compared after every one: the same event or
the same exception class, the same ``state()``, and ``check()`` on both. Meanwhile:

* **journal faults**: every event is appended to a journal (in segments, each starting
  from a snapshot); at random a write is torn (the writer "killed" after part of a
  record, then a new writer reopened on the file, which must truncate exactly the torn
  bytes and keep every record) or fails half-way (a full disk: the partial record is
  taken back and the append retried). Each segment, sealed, must restore and replay to
  the live ledger's state;
* **GC pressure**: reference cycles whose finalizers call into the compiled ledger are
  dropped and collected while ledger methods run;
* **threads**: reader threads call ``state()``, ``check()``, ``equity()`` and
  ``liquidatable()`` on the compiled ledger while the main thread mutates it; every
  read must see a consistent ledger.

A watchdog reports a hang (no progress for ``--hang-seconds``) with every thread's stack
and exit code 1, instead of hanging. It prints the operations, the faults
injected and the violations, and exits 1 if there was any violation. Not part of the test
suite (it runs for minutes); the suite has the fast versions of each check.
"""

from __future__ import annotations

import argparse
import faulthandler
import gc
import json
import random
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mutualize import waterfall as wf
from mutualize._ledger_python import Ledger as PythonLedger
from mutualize.errors import CorruptJournalError
from mutualize.journal import (
    JournalRecoveryWarning,
    JournalWriter,
    encode_record,
    read_journal,
    scan_journal,
)
from mutualize.ledger import event_dict, replay_into

__all__ = ["Soak", "main"]

MAX_ACCOUNTS = 12
MAX_MARKETS = 3
#: Operations per journal segment (each segment starts from a snapshot).
SEGMENT = 2_000


def _error_class(exc: BaseException) -> type[BaseException]:
    """The most specific class of ``exc`` from ``mutualize.errors`` (else its own)."""
    for cls in type(exc).__mro__:
        if cls.__module__ == "mutualize.errors":
            return cls
    return type(exc)


def _column(values: list[int]) -> npt.NDArray[np.int64]:
    """A batch argument as the int64 array both backends take."""
    return np.array(values, dtype=np.int64)


class _FaultyWriter(JournalWriter):
    """A journal writer whose next write can be made to fail half-way (a full disk)."""

    fail_next = False

    def _write(self, data: bytes) -> None:
        if self.fail_next:
            self.fail_next = False
            super()._write(data[: len(data) // 2])
            raise OSError(28, "No space left on device (injected)")
        super()._write(data)


class Soak:
    """One soak run (see the module docstring). Counts go to ``ops``, ``faults`` and
    ``violations``."""

    def __init__(
        self,
        seed: int,
        threads: int,
        folder: Path,
        fault_rate: float,
        finalizers_call_ledger: bool = True,
    ) -> None:
        from mutualize import Ledger, backend

        if backend != "rust":
            raise RuntimeError("the soak compares the compiled ledger with the reference")
        self.rng = random.Random(seed)
        self.fault_rate = fault_rate
        self.finalizers_call_ledger = finalizers_call_ledger
        self.rust: Any = Ledger()
        self.ref: Any = PythonLedger()
        self.ops: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.violations: list[str] = []
        self.folder = folder
        self.segment = 0
        self.segment_ops = 0
        self.segment_events: list[dict[str, Any]] = []
        self.start_snapshot = bytes(self.rust.snapshot())
        self.writer = self._open_segment()
        self.stop = threading.Event()
        self.readers = [
            threading.Thread(target=self._reader, args=(i,), daemon=True) for i in range(threads)
        ]
        self.reads = Counter[str]()
        self.steps = 0
        self.hang_seconds = 0.0

    # ------------------------------------------------------------------ random operations

    def _account(self) -> int:
        n = int(self.ref.num_accounts)
        if n == 0 or self.rng.random() < 0.03:
            return self.rng.randrange(MAX_ACCOUNTS + 2)
        return self.rng.randrange(n)

    def _market(self) -> int:
        n = int(self.ref.num_markets)
        if n == 0 or self.rng.random() < 0.03:
            return self.rng.randrange(MAX_MARKETS + 2)
        return self.rng.randrange(n)

    def _price(self) -> int:
        r = self.rng.random()
        if r < 0.9:
            return self.rng.randint(40, 160)
        if r < 0.97:
            return self.rng.randint(1, 400)
        return self.rng.choice([0, -1, 2**40, 2**62])

    def _amount(self) -> int:
        r = self.rng.random()
        if r < 0.9:
            return self.rng.randint(1, 20_000)
        return self.rng.choice([0, -5, 2**40, 2**63 - 1])

    def _waterfall(self) -> wf.Waterfall:
        if self.rng.random() < 0.6:
            name = self.rng.choice(sorted(wf.PRESETS))
            return wf.PRESETS[name]()
        stages: list[wf.Stage] = [wf.InsuranceFund(cap=self.rng.choice([None, 500, 5_000]))]
        if self.rng.random() < 0.5:
            stages.append(wf.FeePool())
        if self.rng.random() < 0.4:
            stages.append(wf.Adl(ranking=self.rng.choice(["pnl", "pnl_leverage", "random"])))
        else:
            stages.append(
                wf.Socialize(
                    rule=self.rng.choice(wf.RULES),
                    base=self.rng.choice(["session_profit", "unrealized_pnl", "equity"]),
                )
            )
        timing = self.rng.choice(wf.TIMINGS)
        lock = self.rng.random() < 0.2
        return wf.Waterfall(stages=stages, timing=timing, lock_session_profit=lock)

    def _operation(self) -> tuple[str, Callable[[Any], Any]]:
        """A random operation as (name, call on a ledger)."""
        rng = self.rng
        r = rng.random()
        if int(self.ref.num_markets) == 0 or (r < 0.01 and self.ref.num_markets < MAX_MARKETS):
            args = (rng.randint(1, 5), rng.randint(60, 140), 1_000, rng.choice([200, 500]), 50)
            return "create_market", lambda ledger: ledger.create_market(*args)
        if int(self.ref.num_accounts) < 4 or (r < 0.03 and self.ref.num_accounts < MAX_ACCOUNTS):
            return "create_account", lambda ledger: ledger.create_account()
        if r < 0.15:
            a, x = self._account(), self._amount()
            return "deposit", lambda ledger: ledger.deposit(a, x)
        if r < 0.2:
            a, x = self._account(), rng.randint(1, 3_000)
            return "withdraw", lambda ledger: ledger.withdraw(a, x)
        if r < 0.22:
            x, m = rng.randint(1, 3_000), (self._market() if rng.random() < 0.3 else None)
            return "fund_insurance", lambda ledger: ledger.fund_insurance(x, m)
        if r < 0.45:
            b, s, m, p = self._account(), self._account(), self._market(), self._price()
            q = rng.randint(1, 60)
            fee = rng.choice([0, 0, 1, 5])
            check = rng.random() < 0.4
            return "fill", lambda ledger: ledger.fill(b, s, m, p, q, fee, fee, check)
        if r < 0.5:
            m = self._market()
            n = rng.randint(0, 4)
            buyers = _column([self._account() for _ in range(n)])
            sellers = _column([self._account() for _ in range(n)])
            prices = _column([self._price() for _ in range(n)])
            sizes = _column([rng.randint(1, 20) for _ in range(n)])
            return "fill_many", lambda ledger: ledger.fill_many(m, buyers, sellers, prices, sizes)
        if r < 0.65:
            m, p = self._market(), self._price()
            return "set_mark", lambda ledger: ledger.set_mark(m, p)
        if r < 0.67:
            marks = _column([self._price() for _ in range(int(self.ref.num_markets))])
            return "set_marks", lambda ledger: ledger.set_marks(marks)
        if r < 0.7:
            m, d = self._market(), rng.randint(-30, 30)
            return "apply_funding", lambda ledger: ledger.apply_funding(m, d)
        if r < 0.86:
            candidates = self.ref.liquidatable()
            a = rng.choice(candidates) if candidates else self._account()
            c = self._account()
            return "liquidate", lambda ledger: ledger.liquidate(a, c)
        if r < 0.9:
            a, m = self._account(), self._market()
            price: int | str = rng.choice(("bankruptcy", "mark", self._price()))
            return "deleverage", lambda ledger: ledger.deleverage(a, m, None, price)
        if r < 0.93:
            config = self._waterfall()
            return "set_waterfall", lambda ledger: ledger.set_waterfall(config)
        return "settle_session", lambda ledger: ledger.settle_session()

    # ------------------------------------------------------------------ one step

    def step(self) -> None:
        name, call = self._operation()
        outcomes: list[tuple[str, Any]] = []
        rust_before = self.rust.state()
        for ledger in (self.rust, self.ref):
            try:
                outcomes.append(("ok", event_dict(call(ledger))))
            except Exception as exc:
                outcomes.append(("error", exc))
        (r_kind, r_value), (p_kind, p_value) = outcomes
        if r_kind == "error" and p_kind == "error":
            if _error_class(r_value) is not _error_class(p_value):
                self._violate(f"{name}: rust raised {r_value!r}, reference {p_value!r}")
            if self.rust.state() != rust_before:
                self._violate(f"{name}: refused ({r_value}) yet the compiled ledger changed")
            self.ops[f"{name} refused"] += 1
        elif r_kind != p_kind or r_value != p_value:
            self._violate(f"{name}: rust {r_kind} {r_value!r}, reference {p_kind} {p_value!r}")
        else:
            self.ops[name] += 1
            if name == "liquidate" and r_value["deficit"] > 0:
                self.ops["liquidate with a deficit"] += 1
            self._journal(r_value)
        if self.rust.state() != self.ref.state():
            self._violate(f"{name}: the two ledgers' states differ")
        for ledger in (self.rust, self.ref):
            try:
                ledger.check()
            except Exception as exc:
                self._violate(f"{name}: check() on {type(ledger).__module__}: {exc!r}")
        self._gc_pressure()
        self.steps += 1
        if self.steps % 64 == 0:
            self._arm_watchdog()

    def _violate(self, message: str) -> None:
        self.violations.append(message)
        if len(self.violations) <= 20:
            print(f"VIOLATION: {message}", file=sys.stderr)
        # Start again from equal ledgers so one difference is not counted forever.
        self.ref = PythonLedger.replay(event_dict(e) for e in self.rust.journal)

    # ------------------------------------------------------------------ journal faults

    def _open_segment(self) -> _FaultyWriter:
        path = self.folder / f"segment-{self.segment:05d}.journal"
        return _FaultyWriter(path, sync=False)

    def _journal(self, event: dict[str, Any]) -> None:
        rng = self.rng
        if rng.random() < self.fault_rate:
            # A crash in the middle of this record's write.
            data = encode_record(event, self.writer.records)
            cut = rng.randrange(1, len(data))
            self.writer._abandon(data[:cut])
            self.faults["torn journal write"] += 1
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", JournalRecoveryWarning)
                self.writer = _FaultyWriter(self.writer.path)
            if self.writer.truncated_bytes != cut or not caught:
                self._violate(
                    f"reopened after a torn write of {cut} bytes: truncated "
                    f"{self.writer.truncated_bytes}, warned {len(caught)}"
                )
            if self.writer.records != len(self.segment_events):
                self._violate(
                    f"reopened with {self.writer.records} records, "
                    f"{len(self.segment_events)} were appended"
                )
        if rng.random() < self.fault_rate:
            self.writer.fail_next = True
            try:
                self.writer.append(event)
            except OSError:
                self.faults["failed journal write"] += 1
            else:
                self._violate("an injected write failure did not raise")
        self.writer.append(event)
        self.segment_events.append(event)
        self.segment_ops += 1
        if self.segment_ops >= SEGMENT:
            self.close_segment()

    def close_segment(self) -> None:
        """Seal the segment; it must read back whole and replay, from the snapshot taken
        at its start, to the live ledger's state."""
        self.writer.close()
        path = self.writer.path
        try:
            events = read_journal(path)
        except CorruptJournalError as exc:
            self._violate(f"segment {self.segment} does not read back: {exc}")
            events = []
        if events != self.segment_events:
            self._violate(f"segment {self.segment}: {len(events)} events read back")
        else:
            from mutualize import Ledger

            try:
                again = replay_into(Ledger.restore(self.start_snapshot), events)
                if again.state() != self.rust.state():
                    self._violate(f"segment {self.segment} replays to another state")
            except Exception as exc:
                self._violate(f"segment {self.segment} does not replay: {exc!r}")
        if not scan_journal(path.read_bytes()).sealed:
            self._violate(f"segment {self.segment} is not sealed after close()")
        path.unlink()
        self.segment += 1
        self.segment_ops = 0
        self.segment_events = []
        self.start_snapshot = bytes(self.rust.snapshot())
        self.writer = self._open_segment()

    # ------------------------------------------------------------------ GC and threads

    def _gc_pressure(self) -> None:
        rng = self.rng
        if rng.random() >= self.fault_rate * 4:
            return
        ledger = self.rust if self.finalizers_call_ledger else None
        calls = self.faults

        class Finalized:
            """Part of a reference cycle; its finalizer calls into the ledger, at
            whatever moment the collector runs it."""

            def __init__(self) -> None:
                self.cycle = self

            def __del__(self) -> None:
                if ledger is not None:
                    calls["finalizer calls into the ledger"] += 1
                    ledger.check()
                    ledger.num_accounts  # noqa: B018

        for _ in range(rng.randint(1, 20)):
            Finalized()
        if rng.random() < 0.3:
            gc.collect()
            self.faults["gc.collect()"] += 1
        self.faults["cycles with finalizers"] += 1

    def _reader(self, index: int) -> None:
        """Reads the compiled ledger while it changes; each read must be consistent."""
        rng = random.Random(index)
        ledger = self.rust
        while not self.stop.is_set():
            try:
                what = rng.randrange(4)
                if what == 0:
                    state = ledger.state()
                    json.dumps(state)  # plain values only
                    self.reads["state()"] += 1
                elif what == 1:
                    ledger.check()
                    self.reads["check()"] += 1
                elif what == 2:
                    n = int(ledger.num_accounts)
                    if n:
                        ledger.equity(rng.randrange(n))
                    self.reads["equity()"] += 1
                else:
                    ledger.liquidatable()
                    self.reads["liquidatable()"] += 1
            except Exception as exc:  # a reader must never see an inconsistent ledger
                self.violations.append(f"reader {index}: {exc!r}")
            if rng.random() < 0.05:
                time.sleep(0)

    def _arm_watchdog(self) -> None:
        """(Re)start the hang timer. faulthandler's timer runs outside the interpreter,
        so it fires even when a thread waits on a lock while holding the GIL."""
        # The process's own stderr: a captured sys.stderr (pytest) has no file descriptor.
        if self.hang_seconds > 0 and sys.__stderr__ is not None:
            faulthandler.dump_traceback_later(self.hang_seconds, exit=True, file=sys.__stderr__)

    # ------------------------------------------------------------------ the run

    def run(self, operations: int, progress: bool, hang_seconds: float) -> None:
        from mutualize.sim.progress import progress_bar

        self.hang_seconds = hang_seconds
        print(
            f"soak: a hang of {hang_seconds:.0f} s is reported with every thread's stack "
            "and exit code 1",
            file=sys.stderr,
        )
        self._arm_watchdog()
        for reader in self.readers:
            reader.start()
        try:
            with progress_bar(operations, enabled=progress, desc="soak") as bar:
                for _ in range(operations):
                    self.step()
                    bar.update(1)
            self.close_segment()
        finally:
            self.stop.set()
            for reader in self.readers:
                reader.join(timeout=30)
            self.writer.close()
            faulthandler.cancel_dump_traceback_later()

    def report(self, seconds: float) -> str:
        applied = sum(
            v for k, v in self.ops.items() if not k.endswith("refused") and "deficit" not in k
        )
        refused = sum(v for k, v in self.ops.items() if k.endswith("refused"))
        faults = dict(self.faults)
        faults["concurrent reads"] = sum(self.reads.values())
        lines = [
            f"operations: {applied + refused} ({applied} applied, {refused} refused alike by "
            f"both backends) in {seconds:.0f} s",
            "  " + ", ".join(f"{k} {v}" for k, v in sorted(self.ops.items())),
            f"faults injected: {sum(faults.values())}",
            "  " + ", ".join(f"{k} {v}" for k, v in sorted(faults.items())),
            f"journal segments verified: {self.segment}",
            f"violations: {len(self.violations)}",
        ]
        return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """The ``python -m mutualize.soak`` command."""
    parser = argparse.ArgumentParser(
        prog="python -m mutualize.soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--ops", type=int, default=100_000, help="operations (default 100000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=3, help="reader threads (default 3)")
    parser.add_argument(
        "--fault-rate", type=float, default=0.01, help="per-operation fault probability"
    )
    parser.add_argument("--hang-seconds", type=float, default=120.0)
    parser.add_argument(
        "--finalizers",
        choices=["ledger", "none"],
        default="ledger",
        help="what the cycles' finalizers do: call into the compiled ledger (default), "
        "or nothing (GC pressure only)",
    )
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.ops < 0 or args.threads < 0 or not 0 <= args.fault_rate <= 1:
        parser.error("--ops and --threads must be >= 0 and --fault-rate in [0, 1]")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mutualize-soak-") as folder:
        soak = Soak(
            args.seed, args.threads, Path(folder), args.fault_rate, args.finalizers == "ledger"
        )
        soak.run(args.ops, not args.no_progress, args.hang_seconds)
    print(
        f"soak (seed {args.seed}, {args.threads} reader threads, fault rate "
        f"{args.fault_rate}, finalizers: {args.finalizers})"
    )
    print(soak.report(time.monotonic() - started))
    for message in soak.violations[:20]:
        print(f"  {message}")
    return 1 if soak.violations else 0


if __name__ == "__main__":
    sys.exit(main())
