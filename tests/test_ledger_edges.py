"""The ledger at its edges (issue 9): one account whose figures outgrow i128, hostile
sizes, and threads with garbage-collection finalizers. Each test failed before its fix."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest

from mutualize.errors import AmountOverflowError
from mutualize.reference.ledger import Ledger as RefLedger


def _compiled() -> type[Any] | None:
    try:
        from mutualize._ledger_rust import Ledger
    except ImportError:  # pragma: no cover - the extension is not built
        return None
    return Ledger


RustLedger = _compiled()
needs_rust = pytest.mark.skipif(RustLedger is None, reason="compiled extension not built")

LEDGERS = [
    pytest.param(RustLedger, id="rust", marks=needs_rust),
    pytest.param(RefLedger, id="reference"),
]


# --------------------------------------------------------------------- one giant account


def giant_book(make: type[Any]) -> Any:
    """Market 0's position outgrows i128 (tick_value 2**62, 2**40 lots, the mark from 1
    to 2**40 ticks); market 1 is ordinary, and its short (account 3) is liquidatable."""
    ledger = make()
    ledger.create_market(2**62, 1, 10_000, 5_000, 0)
    ledger.create_market(10, 100, 1_000, 500, 100)
    for a in range(4):
        ledger.create_account()
        ledger.deposit(a, 10_000)
    ledger.fill(0, 1, 0, 1, 2**40, check_margin=False)
    ledger.fill(2, 3, 1, 100, 50)
    ledger.set_mark(1, 120)
    ledger.set_mark(0, 2**40)
    return ledger


@pytest.mark.parametrize("make", LEDGERS)
def test_one_giant_position_does_not_disable_the_checks(make: type[Any]) -> None:
    ledger = giant_book(make)
    # The giant account's own figures do not fit i128 and say so ...
    with pytest.raises(AmountOverflowError):
        ledger.upnl(0, 0)
    with pytest.raises(AmountOverflowError):
        ledger.equity(0)
    # ... while conservation and liquidatability stay exact for everyone.
    ledger.check()
    assert ledger.liquidatable() == [1, 3]
    assert ledger.equity(2) == 20_000
    event = dict(ledger.liquidate(3, 2))
    assert event["deficit"] == 0
    ledger.check()
    assert ledger.liquidatable() == [1]


# --------------------------------------------------------------------- hostile sizes


def _run_isolated(code: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """``code`` in a fresh interpreter (a crash, an abort or a hang cannot take the test
    run with it); a hang past ``timeout`` seconds fails the test."""
    try:
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the workload did not finish within {timeout} s (deadlock?): {exc}")


HOSTILE_SIZES = """
    import resource
    # 3 GiB of address space: a reservation the machine cannot give must fail cleanly
    # whatever the host's memory, instead of aborting the process.
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    from mutualize._ledger_rust import Ledger
    from mutualize.errors import InvalidInputError, MutualizeError

    ledger = Ledger()
    ledger.create_market(10, 1_000, 1_000, 500, 0)
    ledger.create_accounts(2)
    ledger.deposit(0, 100)
    before = ledger.state()
    for n in (2**31, 2**62, 2**63 - 1):
        try:
            ledger.create_accounts(n)
        except (ValueError, MemoryError) as exc:
            assert isinstance(exc, MutualizeError), type(exc)
            print(n, type(exc).__name__)
        else:
            raise AssertionError(f"create_accounts({n}) succeeded")
        assert ledger.state() == before
    for n in (-1, 2**64):
        try:
            ledger.create_accounts(n)
        except (InvalidInputError, OverflowError) as exc:
            print(n, type(exc).__name__)
    # Still usable.
    assert ledger.create_accounts(3) == 2
    ledger.fill(0, 4, 0, 1_000, 1, check_margin=False)
    ledger.check()
    print("usable", ledger.num_accounts)
"""


@needs_rust
def test_hostile_sizes_are_refused_and_the_ledger_stays_usable() -> None:
    proc = _run_isolated(HOSTILE_SIZES, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2_000:]
    lines = proc.stdout.splitlines()
    assert lines[0] == f"{2**31} OutOfMemoryError"
    assert lines[1] == f"{2**62} InvalidInputError"
    assert lines[-1] == "usable 5"


# --------------------------------------------------------------------- threads and GC

FINALIZER_STORM = """
    import gc, sys, threading, time
    from mutualize._ledger_rust import Ledger

    ledger = Ledger()
    ledger.create_market(10, 1_000, 1_000, 500, 100)
    ledger.create_accounts(300)
    for a in range(300):
        ledger.deposit(a, 10**9)
    stop = threading.Event()
    finalized = [0]

    class Finalized:
        # A reference cycle whose finalizer touches the ledger: the collector may run
        # it inside any allocation, in any thread, in the middle of a ledger method.
        def __init__(self):
            self.me = self
            self.payload = [object() for _ in range(5)]

        def __del__(self):
            ledger.equity(0)
            ledger.num_accounts
            finalized[0] += 1

    def hammer(kind):
        i = 0
        while not stop.is_set():
            i += 1
            if kind == 0:
                ledger.state()
            elif kind == 1:
                ledger.fill(i % 300, (i + 1) % 300, 0, 1_000, 1)
            elif kind == 2:
                ledger.check()
                ledger.liquidatable()
            else:
                [dict(e) for e in ledger.journal[-5:]]

    gc.set_threshold(20, 2, 2)
    threads = [threading.Thread(target=hammer, args=(k % 4,)) for k in range(6)]
    for t in threads:
        t.start()
    end = time.monotonic() + 3
    while time.monotonic() < end:
        for _ in range(20):
            Finalized()
        gc.collect(0)
    stop.set()
    for t in threads:
        t.join()
    ledger.check()
    print("finalized", finalized[0])
"""


@needs_rust
def test_finalizers_and_threads_never_deadlock() -> None:
    """Threads hammer one ledger while reference cycles with finalizers that call the
    ledger are collected (issue 9, item 1). Before the fix this hung within a second."""
    proc = _run_isolated(FINALIZER_STORM, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2_000:]
    finalized = int(proc.stdout.split()[-1])
    assert finalized > 100
