"""The reference ledger's one atomicity mechanism (the twin of the compiled ledger's undo
journal, rust/core/tests/ledger_atomicity.rs): a fault injected at every recorded write
of every kind of operation, under every kind of waterfall, leaves the state and the
journal exactly as they were, and the same operation without a fault then succeeds."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from mutualize.errors import InvariantError, MutualizeError
from mutualize.ledger import event_dict
from mutualize.reference.ledger import Ledger
from mutualize.waterfall import (
    Adl,
    FeePool,
    InsuranceFund,
    Socialize,
    Waterfall,
)

WATERFALLS = {
    "socialize": Waterfall(
        stages=(InsuranceFund(cap=300), FeePool(), Socialize(rounding="up")),
    ),
    "per-market fund, open interest": Waterfall(
        stages=(InsuranceFund(cap=300, per_market=True), Socialize(base="open_interest")),
    ),
    "adl at bankruptcy": Waterfall(stages=(InsuranceFund(cap=300), Adl())),
    "adl at mark, then socialize": Waterfall(
        stages=(Adl(price="mark"), Socialize(rule="equal_loss", base="equity")),
    ),
    "deferred": Waterfall(
        stages=(InsuranceFund(cap=300), Socialize(base="session_profit")), timing="deferred"
    ),
    "batched": Waterfall(stages=(Socialize(rounding="down"),), timing="batched"),
}


def crashed(waterfall: Waterfall) -> Ledger:
    """The ledger of rust/core/tests/ledger_atomicity.rs: levered positions in two
    markets, a crash in market 0 and a squeeze in market 1."""
    ledger = Ledger()
    ledger.set_waterfall(waterfall)
    ledger.create_market(10, 1_000, 1_000, 500, 100)
    ledger.create_market(3, 2_000, 2_000, 1_000, 50)
    for a, amount in enumerate(
        [10_000, 20_000, 15_000, 50_000, 30_000, 8_000, 40_000, 25_000, 10_000_000]
    ):
        ledger.create_account()
        ledger.deposit(a, amount)
    ledger.fund_insurance(500)
    ledger.fund_insurance(200, market=0)
    ledger.fill(0, 3, 0, 1_000, 9, buyer_fee=30, seller_fee=20)
    ledger.fill(1, 4, 0, 1_000, 15)
    ledger.fill(6, 2, 0, 1_000, 12)
    ledger.fill(5, 7, 1, 2_000, 6)
    ledger.fill(8, 2, 1, 2_000, 20, check_margin=False)
    ledger.apply_funding(0, 3)
    ledger.set_marks([880, 2_400])
    return ledger


def _picture(ledger: Ledger) -> tuple[Any, ...]:
    return ledger.state(), [event_dict(e) for e in ledger.journal]


def every_fault(ledger: Ledger, what: str, op: Callable[[Ledger], Any]) -> int:
    """``op`` on copies of ``ledger`` with a fault at each recorded write in turn; every
    failure must leave the copy as it was. Returns how many faults were injected."""
    before = _picture(ledger)
    clean = copy.deepcopy(ledger)
    try:
        expected: Any = ("ok", event_dict(op(clean)))
    except MutualizeError as exc:
        expected = ("raised", type(exc))
    k = 0
    while True:
        faulty = copy.deepcopy(ledger)
        faulty._inject_fault(k)
        try:
            got: Any = ("ok", event_dict(op(faulty)))
        except InvariantError as exc:
            if "fault injected" not in str(exc):
                raise
            assert _picture(faulty) == before, f"{what}: fault {k} changed the ledger"
            k += 1
            continue
        except MutualizeError as exc:
            got = ("raised", type(exc))
        assert got == expected, f"{what}: fault {k} not reached"
        assert _picture(faulty) == _picture(clean), what
        return k


def liquidating(a: int, prices: dict[int, int] | None = None) -> Callable[[Ledger], Any]:
    """The liquidation of account ``a`` against the backstop (account 8)."""
    return lambda ledger: ledger.liquidate(a, 8, prices)


@pytest.mark.parametrize("name", sorted(WATERFALLS))
def test_a_fault_at_any_step_of_a_liquidation_changes_nothing(name: str) -> None:
    ledger = crashed(WATERFALLS[name])
    victims = [a for a in ledger.liquidatable() if a != 8]
    assert len(victims) >= 2
    for a in victims:
        steps = every_fault(ledger, f"{name}: liquidate {a}", liquidating(a))
        assert steps >= 2
        every_fault(
            ledger,
            f"{name}: liquidate {a} at prices",
            liquidating(a, {0: 870, 1: 2_410}),
        )
        ledger.liquidate(a, 8)
        ledger.check()
    if WATERFALLS[name].timing != "immediate":
        assert every_fault(ledger, name, lambda lg: lg.settle_session()) > 0


OPERATIONS: dict[str, Callable[[Ledger], Any]] = {
    "deposit": lambda lg: lg.deposit(3, 5),
    "withdraw": lambda lg: lg.withdraw(3, 5),
    "fund a market": lambda lg: lg.fund_insurance(7, market=1),
    "fill with fees": lambda lg: lg.fill(3, 6, 0, 880, 2, buyer_fee=3, seller_fee=1),
    "fill refused for margin": lambda lg: lg.fill(5, 3, 0, 880, 500),
    "fill_many": lambda lg: lg.fill_many(0, [3, 4, 3], [6, 6, 7], [880, 881, 879], [1, 2, 3]),
    "set_marks": lambda lg: lg.set_marks([870, 2_390]),
    "set_mark": lambda lg: lg.set_mark(1, 2_390),
    "apply_funding": lambda lg: lg.apply_funding(1, -4),
    "create_market": lambda lg: lg.create_market(1, 50, 1_000, 500),
    "create_account": lambda lg: lg.create_account(),
    "set_waterfall": lambda lg: lg.set_waterfall(Waterfall()),
    "deleverage at the mark": lambda lg: lg.deleverage(6, 0, None, "mark"),
    "settle_session": lambda lg: lg.settle_session(),
}


@pytest.mark.parametrize("what", sorted(OPERATIONS))
def test_a_fault_at_any_step_of_the_other_operations_changes_nothing(what: str) -> None:
    ledger = crashed(WATERFALLS["adl at bankruptcy"])
    assert every_fault(ledger, what, OPERATIONS[what]) > 0
