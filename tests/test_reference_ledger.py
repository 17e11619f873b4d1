"""The pure-Python reference ledger (docs/ledger.md) and the waterfall configuration.

Every ledger here is a ``Checked`` ledger: ``check()`` runs after every successful
operation, and every refused operation must leave ``state()`` and the journal as they
were. Worked cases W1-W5 come from shared/vectors/waterfall.md.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import random
import struct
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

from mutualize.errors import (
    AmountOverflowError,
    AmountTypeError,
    CorruptJournalError,
    CorruptSnapshotError,
    InsufficientMarginError,
    InvalidInputError,
    InvariantError,
    MutualizeError,
    NotLiquidatableError,
)
from mutualize.journal import decode_records, encode_journal
from mutualize.reference.ledger import Event, Ledger
from mutualize.waterfall import (
    PRESETS,
    Adl,
    FeePool,
    InsuranceFund,
    Socialize,
    Waterfall,
    binance_adl,
    bitmex_adl,
    deribit_session,
    drift_socialize,
    dydx_deleverage,
    hyperliquid_adl,
    okx_clawback,
    pro_rata,
)

I64_MAX = 2**63 - 1


class Checked(Ledger):
    """A reference ledger that runs ``check()`` after every successful operation."""

    def _run(self, effect: Callable[[], Event]) -> Event:
        event = super()._run(effect)
        self.check()
        return event


def refused(
    ledger: Ledger, error: type[BaseException], call: Callable[[], object], match: str | None = None
) -> None:
    """``call`` raises ``error`` and leaves the ledger exactly as it was."""
    before = ledger.state()
    journal = [dict(e) for e in ledger.journal]
    with pytest.raises(error, match=match):
        call()
    assert ledger.state() == before
    assert ledger.journal == journal
    ledger.check()


def new_ledger(accounts: int, *markets: tuple[int, int]) -> Checked:
    """A ledger with ``markets`` given as (tick_value, mark), imr 10%, mmr 5%."""
    ledger = Checked()
    for tick_value, mark in markets:
        ledger.create_market(tick_value, mark, 1000, 500)
    for _ in range(accounts):
        ledger.create_account()
    return ledger


def round_trips(ledger: Ledger) -> None:
    """Replay, restore and pickle each give back the same state and journal."""
    for copy in (
        Ledger.replay(ledger.journal),
        Ledger.restore(ledger.snapshot()),
        pickle.loads(pickle.dumps(ledger)),
    ):
        assert copy.state() == ledger.state()
        assert copy.journal == ledger.journal
        copy.check()


# =========================================================================== waterfall


DEFAULT_PLAIN = {
    "stages": [
        {"kind": "insurance_fund", "cap": None, "floor": 0, "per_market": False},
        {
            "kind": "socialize",
            "rule": "pro_rata",
            "rounding": "exact",
            "base": "unrealized_pnl",
            "max_rate": None,
            "weights": None,
        },
    ],
    "timing": "immediate",
    "lock_session_profit": False,
}


def test_default_waterfall_plain_form() -> None:
    assert Waterfall().to_dict() == DEFAULT_PLAIN
    assert Waterfall.from_dict(DEFAULT_PLAIN) == Waterfall()
    assert Waterfall.from_dict({}) == Waterfall()
    assert Ledger().state()["waterfall"] == DEFAULT_PLAIN


def test_every_stage_plain_form_has_all_keys() -> None:
    config = Waterfall(
        stages=[
            InsuranceFund(cap=5, floor=2),
            FeePool(),
            Adl(ranking="scores", price="mark", seed=3, scores=[1, 2]),
            Socialize(rule="equal_loss", base="weights", max_rate="1/4", weights=[0, 7]),
        ],
        timing="deferred",
        lock_session_profit=True,
    )
    assert config.to_dict() == {
        "stages": [
            {"kind": "insurance_fund", "cap": 5, "floor": 2, "per_market": False},
            {"kind": "fee_pool"},
            {"kind": "adl", "ranking": "scores", "price": "mark", "seed": 3, "scores": [1, 2]},
            {
                "kind": "socialize",
                "rule": "equal_loss",
                "rounding": "exact",
                "base": "weights",
                "max_rate": [1, 4],
                "weights": [0, 7],
            },
        ],
        "timing": "deferred",
        "lock_session_profit": True,
    }
    assert Waterfall.from_dict(config.to_dict()) == config
    assert isinstance(config.stages, tuple)
    assert hash(config) == hash(Waterfall.from_dict(config.to_dict()))


@pytest.mark.parametrize(
    ("given", "pair"),
    [("0.25", [1, 4]), ("1/3", [1, 3]), (Fraction(2, 8), [1, 4]), ([2, 8], [1, 4]), (1, [1, 1])],
)
def test_max_rate_normalized(given: Any, pair: list[int]) -> None:
    assert Socialize(max_rate=given).to_dict()["max_rate"] == pair


BAD_CONFIGS: list[tuple[Callable[[], object], str]] = [
    (lambda: Waterfall.from_dict({"stages": [{"kind": "pool"}]}), "unknown stage kind"),
    (lambda: Waterfall(stages=[InsuranceFund(), InsuranceFund()]), "twice"),
    (
        lambda: Waterfall.from_dict({"stages": [{"kind": "fee_pool"}, {"kind": "fee_pool"}]}),
        "twice",
    ),
    (lambda: Socialize(rule="pro_rata_ish"), "unknown socialize rule"),
    (lambda: Socialize(rounding="nearest"), "unknown socialize rounding"),
    (lambda: Socialize(base="deposits"), "unknown socialize base"),
    (lambda: Adl(ranking="size"), "unknown adl ranking"),
    (lambda: Adl(price="oracle"), "unknown adl price"),
    (lambda: InsuranceFund(cap=-1), "cap must be >= 0"),
    (lambda: InsuranceFund(floor=-1), "floor must be >= 0"),
    (lambda: InsuranceFund(cap=1.5), "must be an int"),  # type: ignore[arg-type]
    (lambda: Waterfall(timing="weekly"), "unknown waterfall timing"),
    (lambda: Socialize(rounding="down", max_rate="0.5"), "max_rate needs rounding='exact'"),
    (lambda: Socialize(rule="equal_award", max_rate="0.5"), "equal_award"),
    (lambda: Socialize(rule="equal_loss", rounding="up"), "only defined for rule 'pro_rata'"),
    (lambda: Socialize(max_rate="3/2"), "between 0 and 1"),
    (lambda: Socialize(max_rate=[1, 0]), "denominator must be > 0"),
    (lambda: Socialize(max_rate=0.5), "float"),  # type: ignore[arg-type]
    (lambda: Socialize(base="open_interest", rounding="down"), "needs rounding='exact'"),
    (lambda: Socialize(base="open_interest", rule="equal_award"), "equal_award"),
    (lambda: Socialize(base="weights"), "needs weights"),
    (lambda: Socialize(weights=[1, 2]), "only used with base='weights'"),
    (lambda: Socialize(base="weights", weights=[1, -2]), "must be >= 0"),
    (lambda: Adl(ranking="scores"), "needs scores"),
    (lambda: Adl(scores=[1, 2]), "only used with ranking='scores'"),
    (lambda: Adl(seed=-1), "seed must be >= 0"),
    (lambda: Waterfall(lock_session_profit=1), "must be a bool"),  # type: ignore[arg-type]
    (lambda: Waterfall(stages="insurance_fund"), "list of stages"),  # type: ignore[arg-type]
    (lambda: Waterfall.from_dict({"stages": [], "timing": "immediate", "x": 1}), "unknown"),
    (lambda: Waterfall.from_dict({"stages": [{"kind": "fee_pool", "cap": 1}]}), "unknown keys"),
    (lambda: Waterfall.from_dict([]), "plain dict"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("make", "match"), BAD_CONFIGS)
def test_bad_configuration(make: Callable[[], object], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        make()


def test_configuration_int64() -> None:
    with pytest.raises(AmountOverflowError):
        InsuranceFund(cap=2**63)
    with pytest.raises(AmountOverflowError):
        Adl(ranking="scores", scores=[2**64])


def test_presets() -> None:
    assert set(PRESETS) == {
        "okx_clawback",
        "deribit_session",
        "bitmex_adl",
        "binance_adl",
        "hyperliquid_adl",
        "drift_socialize",
        "dydx_deleverage",
        "pro_rata",
    }
    for name, make in PRESETS.items():
        config = make()
        assert isinstance(config, Waterfall)
        assert make.__name__ == name
        doc = make.__doc__ or ""
        assert "Source:" in doc
        assert "Simplifications:" in doc
        assert "minor units" in doc
        assert Waterfall.from_dict(config.to_dict()) == config
        ledger = Checked()
        assert ledger.set_waterfall(config)["waterfall"] == config.to_dict()
        assert ledger.waterfall == config
    assert okx_clawback().timing == "deferred"
    assert deribit_session().lock_session_profit
    assert bitmex_adl() == binance_adl()
    assert Adl(ranking="hyperliquid") in hyperliquid_adl().stages
    assert [s.kind for s in drift_socialize().stages] == ["insurance_fund", "fee_pool", "socialize"]
    assert Adl(ranking="random") in dydx_deleverage().stages
    assert "stand-in" in (dydx_deleverage.__doc__ or "")
    assert pro_rata() == Waterfall()


def test_set_waterfall_validates_and_is_atomic() -> None:
    ledger = Checked()
    refused(ledger, InvalidInputError, lambda: ledger.set_waterfall({"stages": [{"kind": "x"}]}))
    refused(ledger, InvalidInputError, lambda: ledger.set_waterfall({"timing": "later"}))
    event = ledger.set_waterfall({"stages": [{"kind": "fee_pool"}]})
    assert event == {
        "op": "set_waterfall",
        "waterfall": {
            "stages": [{"kind": "fee_pool"}],
            "timing": "immediate",
            "lock_session_profit": False,
        },
    }


# =========================================================================== operations


def test_create_market_and_account() -> None:
    ledger = Checked()
    assert ledger.create_account() == {"op": "create_account", "account": 0}
    event = ledger.create_market(tick_value=10, mark=500, imr_bps=1000, mmr_bps=500)
    assert event == {
        "op": "create_market",
        "tick_value": 10,
        "mark": 500,
        "imr_bps": 1000,
        "mmr_bps": 500,
        "penalty_bps": 0,
        "market": 0,
    }
    ledger.apply_funding(0, 7)
    assert ledger.create_account()["account"] == 1
    assert ledger.create_market(1, 1, 10_000, 10_000, 10_000)["market"] == 1
    state = ledger.state()
    assert state["markets"][0]["funding_index"] == 7
    # resolved point 3: a new flat position's funding_snapshot is the market's index
    # (account 0's position in market 0 was opened at index 0, account 1's at 7)
    for account, snapshot in zip(state["accounts"], (0, 7), strict=True):
        assert account == {
            "collateral": 0,
            "session_start_equity": 0,
            "session_deposits": 0,
            "positions": [
                {"size": 0, "basis": 0, "funding_snapshot": snapshot},
                {"size": 0, "basis": 0, "funding_snapshot": 0},
            ],
        }
    assert ledger.unpaid_funding(1, 0) == 0


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((0, 100, 1000, 500), InvalidInputError, "tick_value must be > 0"),
        ((1, 0, 1000, 500), InvalidInputError, "mark must be > 0"),
        ((1, 100, 1000, 0), InvalidInputError, "mmr_bps"),
        ((1, 100, 500, 1000), InvalidInputError, "mmr_bps"),
        ((1, 100, 10_001, 500), InvalidInputError, "imr_bps"),
        ((1, 100, 1000, 500, -1), InvalidInputError, "penalty_bps"),
        ((1, 100, 1000, 500, 10_001), InvalidInputError, "penalty_bps"),
        ((2**63, 100, 1000, 500), AmountOverflowError, "int64"),
        ((1.0, 100, 1000, 500), AmountTypeError, "float"),
    ],
)
def test_create_market_refused(args: tuple[Any, ...], error: type[Exception], match: str) -> None:
    ledger = Checked()
    refused(ledger, error, lambda: ledger.create_market(*args), match)


def test_deposit_withdraw_fund_insurance() -> None:
    ledger = new_ledger(2, (1, 100))
    assert ledger.deposit(0, 1_000) == {"op": "deposit", "account": 0, "amount": 1_000}
    ledger.deposit(0, Decimal("500"))
    ledger.deposit(1, "2_000")
    assert ledger.withdraw(0, 300) == {"op": "withdraw", "account": 0, "amount": 300}
    assert ledger.fund_insurance(50) == {"op": "fund_insurance", "amount": 50, "market": None}
    state = ledger.state()
    assert state["accounts"][0]["collateral"] == 1_200
    assert state["accounts"][0]["session_deposits"] == 1_200
    assert (state["deposits"], state["withdrawals"], state["insurance_fund"]) == (3_550, 300, 50)
    refused(ledger, InvalidInputError, lambda: ledger.deposit(2, 1), "unknown account 2")
    refused(ledger, InvalidInputError, lambda: ledger.deposit(-1, 1), "unknown account")
    refused(ledger, InvalidInputError, lambda: ledger.deposit(True, 1), "account id")
    refused(ledger, InvalidInputError, lambda: ledger.deposit(0, 0), "amount must be > 0")
    refused(ledger, AmountTypeError, lambda: ledger.deposit(0, 1.5))  # type: ignore[arg-type]
    refused(ledger, AmountOverflowError, lambda: ledger.deposit(0, 2**63))
    refused(ledger, InvalidInputError, lambda: ledger.withdraw(0, -5))
    refused(ledger, InsufficientMarginError, lambda: ledger.withdraw(0, 1_201), "collateral")
    refused(ledger, InvalidInputError, lambda: ledger.fund_insurance(0))
    # unknown account is checked before the amount
    refused(ledger, InvalidInputError, lambda: ledger.deposit(9, 2**63), "unknown account")


def test_withdraw_keeps_initial_margin() -> None:
    ledger = new_ledger(2, (1, 100))
    ledger.deposit(0, 1_000)
    ledger.deposit(1, 1_000)
    ledger.fill(0, 1, 0, 100, 50)  # notional 5_000, initial 500
    assert ledger.initial(0) == 500
    refused(ledger, InsufficientMarginError, lambda: ledger.withdraw(0, 501), "initial")
    ledger.withdraw(0, 500)
    assert ledger.equity(0) == 500


def test_withdraw_lock_session_profit() -> None:
    ledger = new_ledger(2, (1, 100))
    ledger.set_waterfall(deribit_session())
    ledger.deposit(0, 1_000)
    ledger.deposit(1, 1_000)
    ledger.fill(0, 1, 0, 100, 10)
    ledger.set_mark(0, 150)  # account 0: +500 session profit, equity 1_500, initial 150
    assert ledger.session_profit(0) == 500
    refused(ledger, InsufficientMarginError, lambda: ledger.withdraw(0, 851), "locked")
    ledger.withdraw(0, 850)  # 1_500 - 850 - 500 == initial 150
    assert ledger.session_profit(0) == 500
    ledger.settle_session()
    assert ledger.session_profit(0) == 0
    # unrealized profit is not collateral: only 150 of cash can leave, and now may
    refused(ledger, InsufficientMarginError, lambda: ledger.withdraw(0, 151), "collateral is 150")
    ledger.withdraw(0, 150)


def test_fill_open_add_reduce_cross_close() -> None:
    ledger = new_ledger(2, (10, 100))
    ledger.deposit(0, 1_000_000)
    ledger.deposit(1, 1_000_000)
    event = ledger.fill(0, 1, 0, 100, 3, buyer_fee=5, seller_fee=7)
    assert event == {
        "op": "fill",
        "buyer": 0,
        "seller": 1,
        "market": 0,
        "price": 100,
        "size": 3,
        "buyer_fee": 5,
        "seller_fee": 7,
        "check_margin": True,
        "buyer_realized": 0,
        "seller_realized": 0,
    }
    assert ledger.fee_pool == 12
    ledger.fill(0, 1, 0, 101, 4)  # add: size 7, basis 300 + 404 = 704
    pos = ledger.state()["accounts"][0]["positions"][0]
    assert (pos["size"], pos["basis"]) == (7, 704)
    # reduce 2 of 7 at 110: removed = trunc(704 * 2 / 7) = 201, realized (220 - 201) * 10
    event = ledger.fill(1, 0, 0, 110, 2)
    assert event["seller_realized"] == 190
    assert event["buyer_realized"] == (-2 * 110 - trunc_div(-704 * 2, 7)) * 10 == -190
    pos = ledger.state()["accounts"][0]["positions"][0]
    assert (pos["size"], pos["basis"]) == (5, 503)
    # cross: sell 8 at 90 closes 5 (basis 503 -> realized (450 - 503) * 10) and opens -3
    event = ledger.fill(1, 0, 0, 90, 8)
    assert event["seller_realized"] == -530
    pos = ledger.state()["accounts"][0]["positions"][0]
    assert (pos["size"], pos["basis"]) == (-3, -270)
    ledger.fill(0, 1, 0, 95, 3)  # close the short: realized (270 - 285) * 10
    state = ledger.state()
    assert state["accounts"][0]["positions"][0] == {"size": 0, "basis": 0, "funding_snapshot": 0}
    assert state["accounts"][1]["positions"][0]["size"] == 0
    assert ledger.upnl(0, 0) == ledger.upnl(1, 0) == 0


def trunc_div(num: int, den: int) -> int:
    q = abs(num) // abs(den)
    return q if (num >= 0) == (den > 0) else -q


def test_fill_margin_check_is_atomic() -> None:
    ledger = new_ledger(3, (1, 100))
    ledger.deposit(0, 100)
    ledger.deposit(1, 10_000)
    ledger.deposit(2, 10_000)
    ledger.fill(2, 1, 0, 100, 5)
    # buyer needs 110 initial for 11 lots, has 100: refused after both trades applied
    refused(ledger, InsufficientMarginError, lambda: ledger.fill(0, 1, 0, 100, 11), "buyer 0")
    refused(
        ledger,
        InsufficientMarginError,
        lambda: ledger.fill(1, 0, 0, 100, 11, buyer_fee=1),
        "seller 0",
    )
    # a fee may not take the buyer below initial either
    refused(ledger, InsufficientMarginError, lambda: ledger.fill(0, 1, 0, 100, 10, buyer_fee=1))
    ledger.fill(0, 1, 0, 100, 10)
    # reducing never needs margin, even when the fee makes equity fall below initial
    ledger.set_mark(0, 95)
    ledger.fill(1, 0, 0, 95, 1, seller_fee=20)
    # account 0 reduces again (unchecked, below initial); buyer 2 grows: checked, passes
    ledger.fill(2, 0, 0, 95, 1)
    ledger.fill(0, 1, 0, 200, 50, check_margin=False)
    assert ledger.equity(0) < ledger.initial(0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"buyer": 5}, InvalidInputError, "unknown account 5"),
        ({"seller": 5}, InvalidInputError, "unknown account 5"),
        ({"seller": 0}, InvalidInputError, "same account"),
        ({"market": 1}, InvalidInputError, "unknown market 1"),
        ({"price": 0}, InvalidInputError, "price must be > 0"),
        ({"size": -1}, InvalidInputError, "size must be > 0"),
        ({"buyer_fee": -1}, InvalidInputError, "buyer_fee"),
        ({"seller_fee": -1}, InvalidInputError, "seller_fee"),
        ({"check_margin": 1}, InvalidInputError, "check_margin"),
        ({"size": 2**63}, AmountOverflowError, "int64"),
        ({"price": "1.5"}, InvalidInputError, "whole number"),
    ],
)
def test_fill_refused(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    ledger = new_ledger(2, (1, 100))
    args: dict[str, Any] = {"buyer": 0, "seller": 1, "market": 0, "price": 100, "size": 1}
    args.update(kwargs)
    refused(ledger, error, lambda: ledger.fill(**args), match)


def test_size_overflow_mid_fill_restores_the_buyer() -> None:
    ledger = new_ledger(3, (1, 1))
    ledger.fill(0, 1, 0, 1, I64_MAX, check_margin=False)  # account 1 short -(2**63 - 1)
    # account 2 buys 2 more from account 1: account 2's trade succeeds first, then 1's
    # size would be -(2**63 + 1): refused, account 2 restored
    refused(
        ledger,
        AmountOverflowError,
        lambda: ledger.fill(2, 1, 0, 1, 2, check_margin=False),
        "position size",
    )
    refused(
        ledger, AmountOverflowError, lambda: ledger.fill(0, 2, 0, 1, 1, check_margin=False), "i64"
    )


def test_funding_accrues_and_settles_on_trade() -> None:
    ledger = new_ledger(2, (1, 100))
    ledger.deposit(0, 10_000)
    ledger.deposit(1, 10_000)
    ledger.fill(0, 1, 0, 100, 10)
    assert ledger.apply_funding(0, 3) == {"op": "apply_funding", "market": 0, "delta": 3}
    ledger.apply_funding(0, -1)
    assert ledger.unpaid_funding(0, 0) == -20
    assert ledger.unpaid_funding(1, 0) == 20
    assert ledger.equity(0) == 10_000 - 20
    event = ledger.fill(1, 0, 0, 100, 4)  # settles funding on both sides
    assert (event["buyer_realized"], event["seller_realized"]) == (20, -20)
    state = ledger.state()
    assert state["accounts"][0]["collateral"] == 9_980
    assert state["accounts"][0]["positions"][0]["funding_snapshot"] == 2
    refused(ledger, InvalidInputError, lambda: ledger.apply_funding(3, 1), "unknown market")
    refused(ledger, AmountOverflowError, lambda: ledger.apply_funding(0, -(2**63) - 1))
    for _ in range(3):  # the index is i128: deltas add up beyond i64
        ledger.apply_funding(0, I64_MAX)
    assert ledger.state()["markets"][0]["funding_index"] == 2 + 3 * I64_MAX


def test_set_mark_and_queries() -> None:
    ledger = new_ledger(3, (10, 100), (1, 50))
    ledger.deposit(0, 5_000)
    ledger.deposit(1, 5_000)
    ledger.fill(0, 1, 0, 100, 2)
    ledger.fill(1, 0, 1, 50, 4)
    assert ledger.set_mark(0, 90) == {"op": "set_mark", "market": 0, "price": 90}
    assert ledger.upnl(0, 0) == -200
    assert ledger.upnl(0, 1) == 0
    assert ledger.notional(0, 0) == 1_800
    assert ledger.maintenance(0) == 90 + 10  # ceil(1800 * 5%) + ceil(200 * 5%)
    assert ledger.initial(0) == 180 + 20
    assert ledger.equity(0) == 4_800
    assert ledger.session_profit(0) == -200
    assert ledger.bankruptcy_price(0, 0) == 90 - 4_800 // 20  # ceil for a long
    assert ledger.bankruptcy_price(0, 1) == 50 + 4_800 // 4  # floor for a short
    assert ledger.liquidatable() == []
    assert not ledger.is_liquidatable(2)
    refused(ledger, InvalidInputError, lambda: ledger.set_mark(0, 0))
    refused(ledger, InvalidInputError, lambda: ledger.set_mark(2, 10), "unknown market")
    with pytest.raises(InvalidInputError, match="no position"):
        ledger.bankruptcy_price(2, 0)
    with pytest.raises(InvalidInputError):
        ledger.equity(3)
    with pytest.raises(InvalidInputError):
        ledger.upnl(0, 2)


def test_bankruptcy_price_rounds_toward_safety() -> None:
    ledger = new_ledger(2, (3, 100))
    ledger.deposit(0, 100)
    ledger.deposit(1, 100)
    ledger.fill(0, 1, 0, 100, 7, check_margin=False)
    long_p = ledger.bankruptcy_price(0, 0)  # 100 - 100 / 21 = 95.238... -> 96
    short_p = ledger.bankruptcy_price(1, 0)  # 100 + 100 / 21 = 104.76... -> 104
    assert (long_p, short_p) == (96, 104)
    for p, a in ((long_p, 0), (short_p, 1)):
        ledger.set_mark(0, p)
        assert ledger.equity(a) >= 0
        ledger.set_mark(0, p - 1 if a == 0 else p + 1)
        assert ledger.equity(a) < 0


# =========================================================================== liquidation


def liquidation_book(penalty_bps: int = 0) -> Checked:
    """Account 0 long 10 at 100 with 100 collateral; 1 the short; 2 a liquidator; 3 a
    bystander long 5 from 1 (imr 10%, mmr 5%, tick_value 1)."""
    ledger = Checked()
    ledger.create_market(1, 100, 1000, 500, penalty_bps)
    for _ in range(4):
        ledger.create_account()
    ledger.deposit(0, 100)
    ledger.deposit(1, 10_000)
    ledger.deposit(2, 10_000)
    ledger.deposit(3, 1_000)
    ledger.fill(0, 1, 0, 100, 10)
    ledger.fill(3, 1, 0, 100, 5)
    return ledger


def test_liquidate_refused() -> None:
    ledger = liquidation_book()
    refused(ledger, NotLiquidatableError, lambda: ledger.liquidate(0, 2), "not liquidatable")
    refused(ledger, NotLiquidatableError, lambda: ledger.liquidate(2, 0))  # no position
    refused(ledger, InvalidInputError, lambda: ledger.liquidate(0, 0), "same account")
    refused(ledger, InvalidInputError, lambda: ledger.liquidate(9, 0), "unknown account")
    refused(ledger, InvalidInputError, lambda: ledger.liquidate(0, 9), "unknown account")
    refused(ledger, InvalidInputError, lambda: ledger.liquidate(0, 2, {1: 90}), "unknown market")
    refused(ledger, InvalidInputError, lambda: ledger.liquidate(0, 2, {0: 0}), "prices")
    refused(ledger, InvalidInputError, lambda: ledger.liquidate(0, 2, [90]))  # type: ignore[arg-type]
    # the price check comes before the liquidatable check
    refused(ledger, InvalidInputError, lambda: ledger.liquidate(0, 2, {0: -1}))


def test_liquidate_with_penalty_no_deficit() -> None:
    ledger = liquidation_book(penalty_bps=100)
    ledger.set_mark(0, 95)  # equity 50, maintenance ceil(950 * 5%) = 48: safe
    assert not ledger.is_liquidatable(0)
    ledger.set_mark(0, 94)  # equity 40 < 47
    assert ledger.liquidatable() == [0]
    event = ledger.liquidate(0, 2)
    assert event == {
        "op": "liquidate",
        "account": 0,
        "counterparty": 2,
        "prices": None,
        "closes": [[0, 10, 94]],
        "penalty": 10,  # ceil(10 * 94 * 1 * 100 / 10_000) = ceil(9.4)
        "deficit": 0,
        "stages": [],
        "haircuts": [],
        "adl": [],
    }
    assert ledger.equity(0) == 30
    assert ledger.insurance_fund == 10
    assert ledger.state()["accounts"][2]["positions"][0] == {
        "size": 10,
        "basis": 940,
        "funding_snapshot": 0,
    }


def test_liquidate_penalty_capped_by_equity_and_prices() -> None:
    ledger = liquidation_book(penalty_bps=1000)
    ledger.set_mark(0, 94)
    event = ledger.liquidate(0, 2, prices={0: 93})
    assert event["prices"] == [[0, 93]]  # resolved point 14: [market, price] pairs
    assert event["closes"] == [[0, 10, 93]]
    assert event["penalty"] == 93
    assert ledger.insurance_fund == 30  # charged only the equity left
    assert ledger.equity(0) == 0
    round_trips(ledger)


def test_liquidate_deficit_through_insurance_cap_floor_fee_pool_bad_debt() -> None:
    ledger = liquidation_book()
    ledger.fund_insurance(100)
    ledger.fill(2, 3, 0, 100, 1, buyer_fee=15, seller_fee=15)  # fee pool 30
    ledger.set_waterfall(Waterfall(stages=[InsuranceFund(cap=50, floor=20), FeePool()]))
    ledger.set_mark(0, 80)  # account 0 equity -100
    event = ledger.liquidate(0, 2)
    assert event["deficit"] == 100
    assert event["stages"] == [["insurance_fund", 50], ["fee_pool", 30], ["bad_debt", 20]]
    assert (ledger.insurance_fund, ledger.fee_pool, ledger.bad_debt) == (50, 0, 20)
    assert ledger.equity(0) == 0
    assert ledger.state()["accounts"][0]["collateral"] == 0


def test_liquidate_floor_blocks_the_fund() -> None:
    ledger = liquidation_book()
    ledger.fund_insurance(10)
    ledger.set_waterfall(Waterfall(stages=[InsuranceFund(floor=25)]))
    ledger.set_mark(0, 80)
    assert ledger.liquidate(0, 2)["stages"] == [["insurance_fund", 0], ["bad_debt", 100]]
    assert ledger.insurance_fund == 10


@pytest.mark.parametrize(
    ("base", "cuts"),
    [
        # account 1 short 15 from 100 to 80: +300 upnl; account 3 long 5: -100
        ("unrealized_pnl", [[1, 100]]),
        ("equity", [[1, 49], [2, 47], [3, 4]]),  # equities 10_300, 10_000, 900
        ("session_profit", [[1, 100]]),
    ],
)
def test_liquidate_socialize_immediate(base: str, cuts: list[list[int]]) -> None:
    ledger = liquidation_book()
    ledger.set_waterfall(Waterfall(stages=[InsuranceFund(), Socialize(base=base)]))
    ledger.set_mark(0, 80)
    before = ledger.state()["accounts"]
    event = ledger.liquidate(0, 2)
    assert event["stages"] == [["insurance_fund", 0], ["socialize", 100], ["bad_debt", 0]]
    assert event["haircuts"] == cuts
    after = ledger.state()["accounts"]
    for account, cut in cuts:
        assert after[account]["collateral"] == before[account]["collateral"] - cut
    assert ledger.equity(0) == 0


def test_socialize_open_interest_and_weights() -> None:
    ledger = liquidation_book()
    ledger.set_waterfall(Waterfall(stages=[Socialize(base="open_interest")]))
    ledger.set_mark(0, 80)
    event = ledger.liquidate(0, 2)
    # after the close: 1 short 15, 2 long 10, 3 long 5 (equity 900): claims by notional
    assert event["haircuts"] == [[1, 50], [2, 33], [3, 17]]
    ledger = liquidation_book()
    ledger.set_waterfall(Waterfall(stages=[Socialize(base="weights", weights=[9, 100, 300])]))
    ledger.set_mark(0, 80)
    event = ledger.liquidate(0, 2)
    # the weights are the claims (minor units); account 0 is the bankrupt one; account
    # 3 is beyond the list: weight 0
    assert event["haircuts"] == [[1, 25], [2, 75]]


def test_socialize_caps_at_equity_leave_bad_debt() -> None:
    ledger = liquidation_book()
    ledger.set_waterfall(Waterfall(stages=[Socialize(base="weights", weights=[0, 0, 0, 50])]))
    ledger.set_mark(0, 80)
    event = ledger.liquidate(0, 2)  # only account 3 has a claim: 50 of the 100
    assert event["stages"] == [["socialize", 50], ["bad_debt", 50]]
    ledger = liquidation_book()
    ledger.set_waterfall(Waterfall(stages=[Socialize(base="weights", weights=[0, 0, 0, 10**6])]))
    ledger.set_mark(0, 80)
    ledger.withdraw(3, 860)  # equity 40: the cap
    event = ledger.liquidate(0, 2)
    assert event["stages"] == [["socialize", 40], ["bad_debt", 60]]
    ledger = liquidation_book()
    ledger.set_waterfall(Waterfall(stages=[Socialize(base="unrealized_pnl", max_rate="1/10")]))
    ledger.set_mark(0, 80)
    event = ledger.liquidate(0, 2)  # only account 1's 300 of profit, at most 10%
    assert event["stages"] == [["socialize", 30], ["bad_debt", 70]]
    assert event["haircuts"] == [[1, 30]]
    assert ledger.bad_debt == 70


def test_socialize_rounding_down_and_up() -> None:
    ledger = new_ledger(4, (1, 100))
    ledger.deposit(0, 100)
    for a in range(1, 4):
        ledger.deposit(a, 1_000)
    ledger.fill(0, 1, 0, 100, 3)
    ledger.fill(0, 2, 0, 100, 3)
    ledger.fill(0, 3, 0, 100, 3)
    ledger.set_mark(0, 88)  # account 0 equity 100 - 9 * 12 = -8
    ledger.set_waterfall(Waterfall(stages=[Socialize(rounding="down")]))
    snapshot = ledger.snapshot()
    event = ledger.liquidate(0, 1)
    # claims: 2 and 3 each 36 (1 closed its short against 0): 4 each, no dust
    assert event["haircuts"] == [[2, 4], [3, 4]]
    ledger = Checked.restore(snapshot)
    ledger.set_mark(0, 87)  # equity -17: 8.5 each
    ledger.set_waterfall(Waterfall(stages=[Socialize(rounding="down")]))
    event = ledger.liquidate(0, 1)
    assert event["haircuts"] == [[2, 8], [3, 8]]
    assert event["stages"] == [["socialize", 16], ["bad_debt", 1]]
    ledger = Checked.restore(snapshot)
    ledger.set_mark(0, 87)
    ledger.set_waterfall(Waterfall(stages=[Socialize(rounding="up")]))
    event = ledger.liquidate(0, 1)
    assert event["haircuts"] == [[2, 9], [3, 9]]
    assert event["stages"] == [["socialize", 17], ["bad_debt", 0]]
    assert ledger.insurance_fund == 1  # the surplus


# =========================================================================== deleveraging


def deleverage_book() -> Checked:
    """Account 0 short 30 at 100 (collateral 200); longs 1 (10 at 100), 2 (10 at 90),
    3 (20 at 100); account 4 short 10; mark 105."""
    ledger = new_ledger(5, (1, 100))
    for a, amount in enumerate((200, 1_000, 1_000, 1_000, 1_000)):
        ledger.deposit(a, amount)
    ledger.fill(1, 0, 0, 100, 10, check_margin=False)
    ledger.fill(2, 4, 0, 90, 10)
    ledger.fill(3, 0, 0, 100, 20, check_margin=False)
    ledger.set_mark(0, 105)
    return ledger


def test_deleverage_explicit_and_partial() -> None:
    ledger = deleverage_book()
    assert ledger.bankruptcy_price(0, 0) == 105 + 50 // 30
    event = ledger.deleverage(0, 0, counterparties=[3, 1], price=104)
    assert event == {
        "op": "deleverage",
        "account": 0,
        "market": 0,
        "counterparties": [3, 1],
        "price": 104,
        "fills": [[3, -20, 104], [1, -10, 104]],
    }
    assert ledger.state()["accounts"][0]["positions"][0]["size"] == 0
    ledger = deleverage_book()
    event = ledger.deleverage(0, 0, counterparties=[2], price="mark")
    assert event["fills"] == [[2, -10, 105]]  # only as far as the counterparties go
    assert ledger.state()["accounts"][0]["positions"][0]["size"] == -20


def test_deleverage_ranked_default_pnl_leverage() -> None:
    ledger = deleverage_book()
    event = ledger.deleverage(0, 0)
    # equity: 1 -> 1050, 2 -> 1150, 3 -> 1100; pnl% x leverage: 1: 5% x 1.0,
    # 2: 16.7% x 0.913, 3: 5% x 1.909 -> order 2, 3, 1
    assert event["counterparties"] is None
    assert [fill[0] for fill in event["fills"]] == [2, 3]
    assert event["fills"] == [[2, -10, 106], [3, -20, 106]]


def test_deleverage_refused() -> None:
    ledger = deleverage_book()
    refused(ledger, InvalidInputError, lambda: ledger.deleverage(9, 0), "unknown account")
    refused(ledger, InvalidInputError, lambda: ledger.deleverage(0, 1), "unknown market")
    refused(ledger, InvalidInputError, lambda: ledger.deleverage(1, 0, [2]), "opposite")
    refused(ledger, InvalidInputError, lambda: ledger.deleverage(0, 0, [0]), "itself")
    refused(ledger, InvalidInputError, lambda: ledger.deleverage(0, 0, [1, 1]), "twice")
    refused(ledger, InvalidInputError, lambda: ledger.deleverage(0, 0, [4]), "opposite")
    refused(ledger, InvalidInputError, lambda: ledger.deleverage(0, 0, [7]), "unknown account")
    refused(ledger, InvalidInputError, lambda: ledger.deleverage(0, 0, [1], "oracle"), "price")
    refused(ledger, InvalidInputError, lambda: ledger.deleverage(0, 0, [1], 0), "price")
    refused(ledger, InvalidInputError, lambda: ledger.deleverage(0, 0, 1))  # type: ignore[arg-type]
    ledger.fill(4, 1, 0, 105, 10)
    refused(ledger, InvalidInputError, lambda: ledger.deleverage(1, 0), "no position")
    # a counterparty would end below zero: refused after the trades, all put back
    refused(
        ledger,
        InsufficientMarginError,
        lambda: ledger.deleverage(0, 0, [3, 2], price=1),
        "counterparty 3",
    )


def test_deleverage_at_bankruptcy_trades_at_least_one_tick() -> None:
    """Resolved point 11: a long that cannot go bankrupt (bankruptcy price <= 0) is
    deleveraged at 1 tick; the query itself is not clamped."""
    ledger = new_ledger(2, (1, 100))
    ledger.deposit(0, 5_000)
    ledger.deposit(1, 5_000)
    ledger.fill(0, 1, 0, 100, 10)
    assert ledger.bankruptcy_price(0, 0) == 100 - 5_000 // 10
    event = ledger.deleverage(0, 0)
    assert event["fills"] == [[1, 10, 1]]
    assert ledger.equity(0) == 5_000 - 99 * 10


# =========================================================================== batches


def test_fill_many_and_set_marks() -> None:
    ledger = new_ledger(3, (1, 100), (2, 50))
    for a in range(3):
        ledger.deposit(a, 1_000)
    ledger.apply_funding(0, 3)
    event = ledger.fill_many(0, [0, 1, 2], [1, 2, 0], [100, 101, 99], [5, 3, 2])
    assert event == {
        "op": "fill_many",
        "market": 0,
        "buyers": [0, 1, 2],
        "sellers": [1, 2, 0],
        "prices": [100, 101, 99],
        "sizes": [5, 3, 2],
    }
    # the same as the fills one by one (no fees, no margin check)
    one_by_one = new_ledger(3, (1, 100), (2, 50))
    for a in range(3):
        one_by_one.deposit(a, 1_000)
    one_by_one.apply_funding(0, 3)
    for b, s, price, size in ((0, 1, 100, 5), (1, 2, 101, 3), (2, 0, 99, 2)):
        one_by_one.fill(b, s, 0, price, size, check_margin=False)
    assert ledger.state() == one_by_one.state()
    # numpy int64 columns are taken as they are; an empty batch is an event too
    columns = [np.array(v, dtype=np.int64) for v in ([1], [0], [100], [1_000_000])]
    assert ledger.fill_many(1, *columns)["sizes"] == [1_000_000]  # unchecked
    assert ledger.fill_many(0, [], [], [], [])["buyers"] == []
    event = ledger.set_marks(np.array([90, 40], dtype=np.int64))
    assert event == {"op": "set_marks", "marks": [90, 40]}
    assert [m["mark"] for m in ledger.state()["markets"]] == [90, 40]
    round_trips(ledger)


def test_fill_many_and_set_marks_refused() -> None:
    ledger = new_ledger(3, (1, 100))
    ledger.deposit(0, 1_000)
    batch = ([0, 1], [1, 2], [100, 100], [1, 1])

    def with_(i: int, j: int, value: object) -> list[list[Any]]:
        cols: list[list[Any]] = [list(c) for c in batch]
        cols[i][j] = value
        return cols

    refused(ledger, InvalidInputError, lambda: ledger.fill_many(1, *batch), "unknown market")
    refused(ledger, InvalidInputError, lambda: ledger.fill_many(0, [0], [1, 2], [1], [1]))
    refused(ledger, InvalidInputError, lambda: ledger.fill_many(0, *with_(0, 1, 5)), "buyers")
    refused(ledger, InvalidInputError, lambda: ledger.fill_many(0, *with_(1, 1, 1)), "same")
    refused(ledger, InvalidInputError, lambda: ledger.fill_many(0, *with_(2, 1, 0)), "prices")
    refused(ledger, InvalidInputError, lambda: ledger.fill_many(0, *with_(3, 1, -1)), "sizes")
    refused(ledger, AmountTypeError, lambda: ledger.fill_many(0, *with_(2, 1, 1.5)))
    refused(ledger, AmountOverflowError, lambda: ledger.fill_many(0, *with_(3, 1, 2**63)))
    # the fills are checked in order: the first bad one decides
    bad = ([9, 0], [1, 0], [100, 100], [1, 1])
    refused(ledger, InvalidInputError, lambda: ledger.fill_many(0, *bad), "unknown account")
    # a size overflow in the middle of the batch puts everything back
    big = ([0, 0], [1, 1], [1, 1], [2**62, 2**62])
    refused(ledger, AmountOverflowError, lambda: ledger.fill_many(0, *big))
    refused(ledger, InvalidInputError, lambda: ledger.set_marks([]), "one mark per market")
    refused(ledger, InvalidInputError, lambda: ledger.set_marks([100, 100]))
    refused(ledger, InvalidInputError, lambda: ledger.set_marks([0]), "marks")
    refused(ledger, AmountTypeError, lambda: ledger.set_marks([1.0]))  # type: ignore[list-item]


# =========================================================================== ADL in liquidation


def adl_book(waterfall: Waterfall) -> Checked:
    """Account 0 short 20 at 600 with 1_000 (bankruptcy price 650); longs 1..6 of
    (10, 10, 20, 30, 20, 10) lots at 600 (1 and 2 bought from 0, the rest from 7);
    account 7 short 80. Mark 660: account 0's equity is -200."""
    ledger = new_ledger(8, (1, 600))
    ledger.set_waterfall(waterfall)
    ledger.deposit(0, 1_000)
    for a in range(1, 8):
        ledger.deposit(a, 100_000)
    sizes = {1: 10, 2: 10, 3: 20, 4: 30, 5: 20, 6: 10}
    for a, size in sizes.items():
        ledger.fill(a, 0 if a <= 2 else 7, 0, 600, size, check_margin=False)
    ledger.set_mark(0, 660)
    return ledger


W2_SCORES = [0, 3, 6, 1, 4, 5, 2, 0]


def test_w2_bitmex_adl_queue_by_scores() -> None:
    """W2: ADL closes account 2's 10 lots and 10 of account 5's 20, both at 650."""
    ledger = adl_book(Waterfall(stages=[InsuranceFund(), Adl(ranking="scores", scores=W2_SCORES)]))
    assert ledger.bankruptcy_price(0, 0) == 650
    before = ledger.state()["accounts"]
    event = ledger.liquidate(0, 7)
    assert event == {
        "op": "liquidate",
        "account": 0,
        "counterparty": 7,
        "prices": None,
        "closes": [],
        "penalty": 0,
        "deficit": 200,
        "stages": [["insurance_fund", 0], ["adl", 200], ["bad_debt", 0]],
        "haircuts": [],
        "adl": [[0, 2, -10, 650], [0, 5, -10, 650]],
    }
    after = ledger.state()["accounts"]
    sizes = [after[a]["positions"][0]["size"] for a in range(8)]
    assert sizes == [0, 10, 0, 20, 30, 10, 10, -80]
    for untouched in (1, 3, 4, 6, 7):
        assert after[untouched] == before[untouched]
    assert ledger.equity(0) == 0
    assert after[2]["collateral"] == 100_000 + 10 * 50
    round_trips(ledger)


def test_w2_explicit_counterparties() -> None:
    ledger = adl_book(Waterfall(stages=[InsuranceFund()]))
    event = ledger.deleverage(0, 0, counterparties=[2, 5], price="bankruptcy")
    assert event["fills"] == [[2, -10, 650], [5, -10, 650]]
    assert ledger.equity(0) == 0


def test_w2_pnl_leverage_score_example() -> None:
    """W2: long entry 100, mark 120, bankruptcy 90: leverage 4, PnL% 0.2, score 0.8."""
    ledger = new_ledger(3, (1, 100))
    ledger.deposit(0, 100)
    ledger.deposit(1, 100_000)
    ledger.deposit(2, 100)
    ledger.fill(0, 1, 0, 100, 10)
    ledger.set_mark(0, 120)
    assert ledger.bankruptcy_price(0, 0) == 90
    assert ledger._score(0, 0, Adl()) == Fraction(4, 5)
    assert ledger._score(0, 0, Adl(ranking="pnl")) == 200
    # hyperliquid: (mark / entry) * (notional / equity) = 1.2 * 1200 / 300
    assert ledger._score(0, 0, Adl(ranking="hyperliquid")) == Fraction(24, 5)
    # the short side: pnl -200, pnl% -0.2, leverage 1200 / 99_800: divided
    assert ledger._score(1, 0, Adl()) == Fraction(-1, 5) / Fraction(1200, 99_800)
    assert ledger._score(1, 0, Adl(ranking="hyperliquid")) == Fraction(100, 120) * Fraction(
        1200, 99_800
    )


def test_adl_rankings_order() -> None:
    ledger = adl_book(Waterfall())
    assert ledger._ranked(0, 0, Adl(ranking="random", seed=8)) == [3, 4, 5, 6, 1, 2]
    assert ledger._ranked(0, 0, Adl(ranking="random", seed=0)) == [1, 2, 3, 4, 5, 6]
    assert ledger._ranked(0, 0, Adl(ranking="scores", scores=[0, 3, 6])) == [2, 1, 3, 4, 5, 6]
    # the same entry and mark: pnl ranks by size; pnl_leverage by leverage (size / equity)
    assert ledger._ranked(0, 0, Adl(ranking="pnl")) == [4, 3, 5, 1, 2, 6]
    assert ledger._ranked(0, 0, Adl()) == [4, 3, 5, 1, 2, 6]
    assert ledger._ranked(7, 0, Adl()) == [4, 3, 5, 1, 2, 6]
    assert ledger._ranked(1, 0, Adl()) == [7, 0]  # 0 has equity <= 0: last


def test_liquidate_takes_normal_path_when_fund_covers() -> None:
    ledger = adl_book(bitmex_adl())
    ledger.fund_insurance(200)
    event = ledger.liquidate(0, 7)
    assert event["closes"] == [[0, -20, 660]]
    assert event["stages"] == [["insurance_fund", 200], ["adl", 0], ["bad_debt", 0]]
    assert event["adl"] == []
    assert ledger.insurance_fund == 0


def test_liquidate_adl_path_leaves_fund_untouched() -> None:
    ledger = adl_book(bitmex_adl())
    ledger.fund_insurance(150)
    event = ledger.liquidate(0, 7)
    assert event["stages"] == [["insurance_fund", 0], ["adl", 200], ["bad_debt", 0]]
    assert ledger.insurance_fund == 150
    # all longs share entry 600 and mark: the larger size has the higher leverage
    assert event["adl"] == [[0, 4, -20, 650]]


def test_liquidate_adl_at_mark_passes_deficit_on() -> None:
    ledger = adl_book(
        Waterfall(stages=[InsuranceFund(), Adl(price="mark"), Socialize(base="equity")])
    )
    event = ledger.liquidate(0, 7)
    assert event["adl"] == [[0, 4, -20, 660]]
    assert event["stages"] == [
        ["insurance_fund", 0],
        ["adl", 0],
        ["socialize", 200],
        ["bad_debt", 0],
    ]
    assert sum(cut for _, cut in event["haircuts"]) == 200
    assert ledger.equity(0) == 0


def test_liquidate_adl_refused_when_counterparty_below_zero() -> None:
    ledger = new_ledger(3, (1, 100), (1, 100))
    ledger.set_waterfall(Waterfall(stages=[Adl(ranking="pnl")]))
    ledger.deposit(0, 50)
    ledger.deposit(1, 1_000)
    ledger.deposit(2, 10_000)
    ledger.fill(1, 0, 0, 100, 10, check_margin=False)
    ledger.fill(2, 1, 1, 100, 10)
    ledger.set_mark(0, 110)  # account 0 equity -50
    ledger.set_mark(1, 300)  # account 1 equity 1_000 + 100 - 2_000 < 0
    refused(ledger, InsufficientMarginError, lambda: ledger.liquidate(0, 2), "counterparty 1")


# =========================================================================== sessions


def test_settle_session_rules() -> None:
    ledger = new_ledger(3, (1, 100))
    ledger.set_waterfall(
        Waterfall(stages=[Socialize(rounding="down", base="session_profit")], timing="deferred")
    )
    ledger.deposit(0, 10)
    ledger.deposit(1, 1_000)
    ledger.deposit(2, 1_000)
    ledger.fill(0, 1, 0, 100, 5, check_margin=False)
    ledger.fill(0, 2, 0, 100, 2, check_margin=False)
    ledger.set_mark(0, 97)  # account 0 equity 10 - 21 = -11; 1: +15, 2: +6
    event = ledger.liquidate(0, 1)
    assert event["stages"] == [["socialize", 11], ["bad_debt", 0]]
    assert ledger.deferred_loss == 11
    assert ledger.equity(0) == 0
    event = ledger.settle_session()
    # 11 over 15 and 6: floors 7 and 3, one unit of dust to bad debt
    assert event == {
        "op": "settle_session",
        "collected": 10,
        "haircuts": [[1, 7], [2, 3]],
        "bad_debt": 1,
    }
    assert (ledger.deferred_loss, ledger.bad_debt) == (0, 1)
    state = ledger.state()
    for a in range(3):
        assert state["accounts"][a]["session_deposits"] == 0
        assert state["accounts"][a]["session_start_equity"] == ledger.equity(a)
    assert ledger.settle_session() == {
        "op": "settle_session",
        "collected": 0,
        "haircuts": [],
        "bad_debt": 0,
    }


def test_settle_session_without_socialize_stage_and_with_surplus() -> None:
    ledger = new_ledger(3, (1, 100))
    ledger.set_waterfall(Waterfall(stages=[Socialize(rounding="up")], timing="deferred"))
    ledger.deposit(0, 97)
    ledger.deposit(1, 1_000)
    ledger.deposit(2, 1_000)
    ledger.fill(0, 1, 0, 100, 5)
    ledger.fill(0, 2, 0, 100, 2)
    ledger.set_mark(0, 85)  # account 0 equity 97 - 7 * 15 = -8
    ledger.liquidate(0, 1)  # 1 goes from short 5 to long 2: session profits 75 and 30
    assert ledger.deferred_loss == 8
    snapshot = ledger.snapshot()
    event = ledger.settle_session()  # ceil(8 * 75 / 105) = 6, ceil(8 * 30 / 105) = 3
    assert event["haircuts"] == [[1, 6], [2, 3]]
    assert (event["collected"], ledger.insurance_fund, ledger.deferred_loss) == (9, 1, 0)
    ledger = Checked.restore(snapshot)
    ledger.set_waterfall(Waterfall(stages=[], timing="deferred"))  # plain pro_rata exact
    event = ledger.settle_session()
    assert event["haircuts"] == [[1, 6], [2, 2]]
    assert event["collected"] == 8


# =========================================================================== worked cases


def okx_book(fund: int, waterfall: Waterfall) -> Checked:
    """W1 in cents: ticks of $0.01, one contract per lot, tick_value 1 cent."""
    ledger = new_ledger(2, (1, 100))
    ledger.set_waterfall(waterfall)
    ledger.deposit(0, 100)  # A: $1
    ledger.deposit(1, 100)  # B: $1
    if fund:
        ledger.fund_insurance(fund)
    ledger.fill(0, 1, 0, 100, 10)  # A 10 contracts long at $1, 10x; B short
    ledger.set_mark(0, 10)  # the index falls to $0.10
    return ledger


@pytest.mark.parametrize(("fund", "haircut"), [(0, 800), (300, 500)])
def test_w1_okx_clawback(fund: int, haircut: int) -> None:
    """W1: B's paper profit $9, A pays $1; the fund pays first, B is clawed back."""
    ledger = okx_book(fund, okx_clawback())
    assert ledger.upnl(1, 0) == 900
    assert ledger.equity(0) == -800
    event = ledger.liquidate(0, 1)
    assert event["deficit"] == 800
    assert event["stages"] == [
        ["insurance_fund", fund],
        ["socialize", 800 - fund],
        ["bad_debt", 0],
    ]
    assert ledger.deferred_loss == haircut
    event = ledger.settle_session()
    assert event["haircuts"] == [[1, haircut]]
    assert ledger.equity(1) - 100 == 900 - haircut  # B keeps $1 or $4 of profit
    assert (ledger.insurance_fund, ledger.deferred_loss, ledger.bad_debt) == (0, 0, 0)
    round_trips(ledger)


@pytest.mark.parametrize(("fund", "haircut"), [(0, 800), (300, 500)])
def test_w1_immediate_pro_rata(fund: int, haircut: int) -> None:
    ledger = okx_book(fund, pro_rata())
    # B is the liquidator here too: the haircut comes from the profit B just realized
    ledger.create_account()
    ledger.deposit(2, 1_000)
    event = ledger.liquidate(0, 2)  # 2 takes over A's long at $0.10; B keeps the short
    assert event["haircuts"] == [[1, haircut]]
    assert ledger.equity(1) - 100 == 900 - haircut


def test_w3_drift_open_interest() -> None:
    """W3: -100 USDC over 5 long and 5 short of open interest: 50 USDC per side."""
    usdc = 1_000_000  # precision 1e6; one base unit per lot, $1 ticks
    ledger = Checked()
    ledger.create_market(tick_value=usdc, mark=1_000, imr_bps=100, mmr_bps=50)
    for _ in range(3):
        ledger.create_account()
    long_, short, bankrupt = 0, 1, 2
    ledger.set_waterfall(drift_socialize())
    ledger.deposit(long_, 1_000 * usdc)
    ledger.deposit(short, 1_000 * usdc)
    ledger.deposit(bankrupt, 20 * usdc)
    ledger.fill(long_, short, 0, 1_000, 5)
    ledger.fill(bankrupt, short, 0, 1_000, 1)
    ledger.set_mark(0, 880)
    assert ledger.equity(bankrupt) == -100 * usdc
    event = ledger.liquidate(bankrupt, short)  # short takes the long back: 5 and 5 left
    assert event["deficit"] == 100_000_000
    assert event["stages"] == [
        ["insurance_fund", 0],
        ["fee_pool", 0],
        ["socialize", 100_000_000],
        ["bad_debt", 0],
    ]
    assert event["haircuts"] == [[long_, 50_000_000], [short, 50_000_000]]
    assert ledger.equity(bankrupt) == 0
    sizes = [a["positions"][0]["size"] for a in ledger.state()["accounts"]]
    assert sizes == [5, -5, 0]


def dydx_book() -> Checked:
    """W4: 1e-6 USDC minor units, lots of 0.001 BTC, $1 ticks (tick_value 1_000)."""
    usdc = 1_000_000
    ledger = Checked()
    ledger.create_market(tick_value=1_000, mark=50_000, imr_bps=500, mmr_bps=300)
    for _ in range(3):
        ledger.create_account()
    # dYdX quote balances: Carl 54,999 with 1 BTC short (our collateral excludes the
    # 50,000 of sale proceeds), each Dave 50,000 with 0.5 BTC long (ours includes the
    # 25,000 paid).
    ledger.deposit(0, 4_999 * usdc)
    ledger.deposit(1, 75_000 * usdc)
    ledger.deposit(2, 75_000 * usdc)
    ledger.fill(1, 0, 0, 50_000, 500)
    ledger.fill(2, 0, 0, 50_000, 500)
    ledger.set_mark(0, 54_000)
    return ledger


def test_w4_dydx_deleverage_at_bankruptcy_price() -> None:
    """W4: Carl 1 BTC short, bankruptcy price 54,999; each Dave takes 0.5 BTC."""
    ledger = dydx_book()
    carl, dave0, dave1 = 0, 1, 2
    assert ledger.bankruptcy_price(carl, 0) == 54_999
    event = ledger.deleverage(carl, 0, counterparties=[dave0, dave1])
    assert event["fills"] == [[dave0, -500, 54_999], [dave1, -500, 54_999]]
    state = ledger.state()
    for dave in (dave0, dave1):
        # 50,000 + 27,499.5 USDC: dYdX's quote balance plus the sale at 54,999, the
        # same figure as the 75,000 deposited plus the 2,499.5 realized here
        assert state["accounts"][dave]["collateral"] == 77_499_500_000
        assert state["accounts"][dave]["positions"][0]["size"] == 0
    assert state["accounts"][carl]["collateral"] == 0
    assert ledger.equity(carl) == 0
    assert all(a["positions"][0]["size"] == 0 for a in state["accounts"])  # no open interest


def test_w4_refused_when_counterparty_goes_below_zero() -> None:
    ledger = dydx_book()
    ledger.create_account()
    ledger.deposit(3, 1_400_000_000)  # thin: 1,400 USDC
    ledger.fill(3, 1, 0, 54_000, 500)  # Dave0 sells half his long to 3 at the mark
    # 3's long closed at 51,000 loses 1,500 USDC: below zero, refused, nothing changes
    refused(
        ledger,
        InsufficientMarginError,
        lambda: ledger.deleverage(0, 0, counterparties=[3, 2], price=51_000),
        "counterparty 3",
    )
    event = ledger.deleverage(0, 0, counterparties=[2, 3])  # 3 gets 54,999: fine
    assert event["fills"] == [[2, -500, 54_999], [3, -500, 54_999]]


# W5 (Chitra 2025) runs on both ledgers in tests/test_ledger_vectors.py.


# =========================================================================== persistence


def busy_ledger() -> Checked:
    ledger = adl_book(bitmex_adl())
    ledger.create_market(3, 40, 2000, 1000, 50)
    ledger.deposit(7, "123")
    ledger.fill(1, 3, 1, 41, 7, buyer_fee=2)
    ledger.apply_funding(1, -5)
    ledger.liquidate(0, 7)
    ledger.set_waterfall(okx_clawback())
    ledger.set_mark(1, 30)
    ledger.deleverage(1, 1, price="mark")
    ledger.settle_session()
    return ledger


def test_snapshot_restore_replay_pickle() -> None:
    ledger = busy_ledger()
    round_trips(ledger)
    restored = Ledger.restore(bytearray(ledger.snapshot()))
    assert restored.snapshot() == ledger.snapshot()
    restored.deposit(2, 5)  # a restored ledger keeps working
    restored.check()


def test_liquidate_prices_survive_json() -> None:
    ledger = liquidation_book()
    ledger.set_mark(0, 90)
    ledger.liquidate(0, 2, prices={0: 89})
    assert ledger.journal[-1]["prices"] == [[0, 89]]
    restored = Ledger.restore(ledger.snapshot())
    assert restored.journal[-1]["prices"] == [[0, 89]]
    # through a journal file's JSON records: the pairs come back unchanged
    events = decode_records(encode_journal(ledger.journal))
    assert events == ledger.journal
    assert Ledger.replay(events).state() == ledger.state()


def resign(payload: bytes) -> bytes:
    header = struct.pack("<8sHQ32s", b"MZREFLDG", 1, len(payload), hashlib.sha256(payload).digest())
    return header + payload


def test_restore_refuses_corrupt_snapshots() -> None:
    data = busy_ledger().snapshot()
    header = struct.calcsize("<8sHQ32s")
    flipped = bytearray(data)
    flipped[-10] ^= 1
    document = json.loads(data[header:])
    broken_invariant = json.loads(data[header:])
    broken_invariant["state"]["accounts"][0]["collateral"] += 1
    bad_position = json.loads(data[header:])
    bad_position["state"]["accounts"][0]["positions"] = []
    bad_waterfall = json.loads(data[header:])
    bad_waterfall["state"]["waterfall"]["timing"] = "later"
    bad_event = json.loads(data[header:])
    bad_event["journal"][3] = {"op": "explode"}
    bad_type = json.loads(data[header:])
    bad_type["state"]["fee_pool"] = "2"
    for corrupt, match in [
        (data[:-1], "header says"),
        (data[:20], "truncated"),
        (b"", "truncated"),
        (bytes(flipped), "checksum"),
        (b"XXXXXXXX" + data[8:], "magic"),
        (data[:8] + b"\x02\x00" + data[10:], "version"),
        (data + b"\x00", "header says"),
        (resign(b"{not json"), "not JSON"),
        (resign(json.dumps([1]).encode()), "snapshot must be a dict"),
        (resign(json.dumps(broken_invariant).encode()), "conservation"),
        (resign(json.dumps(bad_position).encode()), "one position per market"),
        (resign(json.dumps(bad_waterfall).encode()), "timing"),
        (resign(json.dumps(bad_event).encode()), "journal event 3"),
        (resign(json.dumps(bad_type).encode()), "not an int"),
    ]:
        with pytest.raises(CorruptSnapshotError, match=match):
            Ledger.restore(corrupt)
    with pytest.raises(CorruptSnapshotError):
        Ledger.restore("not bytes")  # type: ignore[arg-type]
    assert Ledger.restore(resign(json.dumps(document).encode())).state() == busy_ledger().state()


def test_replay_refuses_corrupt_journals() -> None:
    journal = busy_ledger().journal
    altered = [dict(e) for e in journal]
    liquidation = next(i for i, e in enumerate(altered) if e["op"] == "liquidate")
    altered[liquidation]["deficit"] += 1
    cases: list[tuple[list[Any], str]] = [
        ([*journal[:3], {"op": "explode"}], "unknown op"),
        ([*journal[:3], {"op": "deposit", "account": 0}], "lacks amount"),
        ([*journal[:3], "deposit"], "not a dict"),
        (altered, "does not reproduce"),
        ([{"op": "deposit", "account": 0, "amount": 5}], "fails on replay"),
        (journal[1:], "fails on replay|does not reproduce"),
    ]
    for events, match in cases:
        with pytest.raises(CorruptJournalError, match=match):
            Ledger.replay(events)


def test_check_names_the_broken_invariant() -> None:
    ledger = liquidation_book()
    ledger.check()
    ledger._totals.deposits += 1
    with pytest.raises(InvariantError, match="conservation"):
        ledger.check()
    ledger = liquidation_book()
    ledger._accounts[1].positions[0].size += 1
    ledger._accounts[1].positions[0].basis += 100
    with pytest.raises(InvariantError, match="open interest of market 0"):
        ledger.check()
    ledger = liquidation_book()
    ledger._totals.fee_pool -= 5
    ledger._totals.deposits -= 5
    with pytest.raises(InvariantError, match="fee_pool = -5 is negative"):
        ledger.check()
    assert issubclass(InvariantError, AssertionError)


# =========================================================================== random walk


def random_walk(seed: int, steps: int) -> Checked:
    """Random valid and invalid operations under random presets: after each one the
    invariants hold, and a refused one changes nothing."""
    rng = random.Random(seed)
    ledger = Checked()
    ledger.create_market(rng.choice([1, 3, 10]), 1_000, 1000, 500, rng.choice([0, 50]))
    ledger.create_market(rng.choice([1, 7]), 200, 2000, 1000, 100)
    for _ in range(6):
        ledger.create_account()
        ledger.deposit(ledger.num_accounts - 1, rng.randint(1_000, 50_000))
    presets = list(PRESETS.values())
    for _ in range(steps):
        n = ledger.num_accounts
        acct = rng.randrange(n + 1)  # sometimes unknown
        other = rng.randrange(n)
        market = rng.randrange(2)
        mark = ledger.state()["markets"][market]["mark"]
        kind = rng.random()
        calls: list[tuple[Callable[..., object], tuple[Any, ...], dict[str, Any]]] = []
        if kind < 0.3:
            fees = {
                "buyer_fee": rng.randint(0, 5),
                "seller_fee": rng.randint(0, 5),
                "check_margin": rng.random() < 0.8,
            }
            fill_price = max(1, mark + rng.randint(-20, 20))
            args = (acct, other, market, fill_price, rng.randint(1, 60))
            calls.append((ledger.fill, args, fees))
        elif kind < 0.45:
            new_mark = max(1, mark + rng.randint(-300, 300) * mark // 1000)
            calls.append((ledger.set_mark, (market, new_mark), {}))
        elif kind < 0.5:
            calls.append((ledger.apply_funding, (market, rng.randint(-30, 30)), {}))
        elif kind < 0.6:
            calls.append((ledger.deposit, (acct, rng.randint(-10, 5_000)), {}))
        elif kind < 0.68:
            calls.append((ledger.withdraw, (acct, rng.randint(1, 50_000)), {}))
        elif kind < 0.72:
            calls.append((ledger.fund_insurance, (rng.randint(0, 500),), {}))
        elif kind < 0.85:
            for bankrupt in ledger.liquidatable()[:2]:
                calls.append((ledger.liquidate, (bankrupt, rng.randrange(n)), {}))
            calls.append((ledger.liquidate, (acct, other), {}))
        elif kind < 0.9:
            spec: int | str = rng.choice(["bankruptcy", "mark", mark])
            calls.append((ledger.deleverage, (acct, market, None, spec), {}))
        elif kind < 0.94:
            calls.append((ledger.settle_session, (), {}))
        elif kind < 0.97:
            calls.append((ledger.set_waterfall, (rng.choice(presets)(),), {}))
        else:
            calls.append((ledger.create_account, (), {}))
        for call, args, kwargs in calls:
            before = ledger.state()
            size = len(ledger.journal)
            try:
                call(*args, **kwargs)
            except MutualizeError:
                assert ledger.state() == before
                assert len(ledger.journal) == size
            ledger.check()
    return ledger


@pytest.mark.parametrize("seed", range(6))
def test_random_walk(seed: int) -> None:
    ledger = random_walk(seed, 400)
    ops = {event["op"] for event in ledger.journal}
    assert {"fill", "liquidate", "set_mark"} <= ops
    for event in ledger.journal:
        if event["op"] == "liquidate" and event["stages"]:
            # every unit of the deficit is accounted for, the residual last
            assert sum(amount for _, amount in event["stages"]) == event["deficit"]
            assert event["stages"][-1][0] == "bad_debt"
    round_trips(ledger)


def test_adl_over_two_markets_then_socialize_open_interest() -> None:
    ledger = new_ledger(4, (1, 100), (2, 50))
    ledger.set_waterfall(
        Waterfall(stages=[Adl(ranking="pnl", price="mark"), Socialize(base="open_interest")])
    )
    ledger.deposit(0, 300)
    for a in (1, 2, 3):
        ledger.deposit(a, 10_000)
    ledger.fill(0, 1, 0, 100, 10)
    ledger.fill(0, 2, 0, 100, 5)
    ledger.fill(3, 1, 0, 100, 5)
    ledger.fill(3, 0, 1, 50, 20, check_margin=False)
    ledger.fill(1, 3, 1, 50, 4)
    ledger.set_mark(0, 70)  # account 0, market 0: long 15 from 100 to 70: -450
    ledger.set_mark(1, 55)  # market 1: short 20 from 50 to 55 (tick_value 2): -200
    assert ledger.equity(0) == -350
    event = ledger.liquidate(0, 3)
    # market 0 shorts by pnl: 1 (+450), then 2 (+150); market 1 longs: 3 (+160), 1 (+40)
    assert event["adl"] == [[0, 1, 15, 70], [1, 3, -16, 55], [1, 1, -4, 55]]
    assert event["closes"] == []
    assert event["deficit"] == 350
    # at the mark, deleveraging covers nothing: the deficit goes on to the next stage,
    # over open interest in market 0 (2 short 5, 3 long 5: 350 of notional each)
    assert event["stages"] == [["adl", 0], ["socialize", 350], ["bad_debt", 0]]
    assert event["haircuts"] == [[2, 175], [3, 175]]
    assert ledger.equity(0) == 0
    round_trips(ledger)


def test_returned_event_is_a_copy() -> None:
    ledger = new_ledger(1, (1, 100))
    event = ledger.deposit(0, Decimal("500"))
    assert event == {"op": "deposit", "account": 0, "amount": 500}
    assert type(event["amount"]) is int
    event["amount"] = 7
    assert ledger.journal[-1]["amount"] == 500
