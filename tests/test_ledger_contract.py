"""The market contract (reference/market.py, the twin of rust/core/src/ledger/contract.rs):
its formulas and rounding by worked example, and both ledgers' derived values equal to
what the contract computes for random positions and marks."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mutualize.reference.market import Linear, contract
from tests.test_ledger_golden import LEDGERS


def test_linear_formulas_and_rounding() -> None:
    c = contract(10)
    assert c == Linear(10)
    # Long 3 lots bought for 300 lot-ticks, at 120: (360 - 300) x 10.
    assert c.pnl(3, 300, 120) == 600
    assert c.pnl(-3, -300, 120) == -600
    assert c.basis(-1, 120) == -120
    assert c.notional(-3, 120) == 3_600
    # 5% of 3_600 is 180 exactly; of 3_601 (tick_value 1) it rounds up to 181.
    assert c.margin(-3, 120, 500) == 180
    assert contract(1).margin(1, 3_601, 500) == 181
    assert c.cost(-300) == 3_000
    assert c.mark_over_entry(-3, -300, 120) == (360, 300)
    # Long 2 lots, equity 15: 100 - 15/20 = 99.25, up to 100; a short rounds down.
    assert c.bankruptcy_price(2, 100, 15) == 100
    assert c.bankruptcy_price(-2, 100, 15) == 100
    assert c.bankruptcy_price(2, 100, -15) == 101
    assert c.bankruptcy_price(-2, 100, -15) == 99


@pytest.mark.parametrize("make", LEDGERS)
@settings(max_examples=60, deadline=None)
@given(
    tick_value=st.integers(1, 10**6),
    trades=st.lists(
        st.tuples(st.integers(1, 10**4), st.integers(1, 10**6), st.booleans()),
        min_size=1,
        max_size=6,
    ),
    mark=st.integers(1, 10**6),
)
def test_the_ledgers_value_positions_as_the_contract_does(
    make: type[Any], tick_value: int, trades: list[tuple[int, int, bool]], mark: int
) -> None:
    ledger = make()
    ledger.create_market(tick_value, 1, 1_000, 500, 100)
    ledger.create_account()
    ledger.create_account()
    size = basis = 0
    for lots, price, buy in trades:
        ledger.fill(0 if buy else 1, 1 if buy else 0, 0, price, lots, check_margin=False)
        delta = lots if buy else -lots
        # The contract's realized PnL moves collateral; what stays open keeps its basis.
        if size == 0 or (size > 0) == (delta > 0):
            size, basis = size + delta, basis + contract(tick_value).basis(delta, price)
        else:
            state = ledger.state()["accounts"][0]["positions"][0]
            size, basis = state["size"], state["basis"]
    ledger.set_mark(0, mark)
    c = contract(tick_value)
    position = ledger.state()["accounts"][0]["positions"][0]
    assert (position["size"], position["basis"]) == (size, basis)
    assert ledger.upnl(0, 0) == c.pnl(size, basis, mark)
    assert ledger.maintenance(0) == (c.margin(size, mark, 500) if size else 0)
    if size:
        equity = ledger.equity(0)
        assert ledger.bankruptcy_price(0, 0) == c.bankruptcy_price(size, mark, equity)
    ledger.check()
