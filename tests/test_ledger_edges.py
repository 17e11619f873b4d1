"""The ledger at its edges (issue 9): one account whose figures outgrow i128, hostile
sizes, and threads with garbage-collection finalizers. Each test failed before its fix."""

from __future__ import annotations

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
