"""Golden journals: one fixed scenario of ledger operations under every waterfall preset
(and a few more configurations that reach the other paths), on both ledgers.

The scenario runs deposits, fills with fees, a crossing fill, funding, marks, batches,
liquidations (with and without given prices), deleveraging at every price kind, refused
operations and session settlements. What it records (each event's plain form, or the
exception class of a refused operation, the liquidatable accounts and equities along the
way, and the final state) was produced by the code before the "One house" redesign and is
stored in ``tests/golden/ledger_scenarios.json``: the redesign must not change one unit.

Regenerate (only when a change of behaviour is intended, and say so in the commit):
``python tests/test_ledger_golden.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mutualize.errors import MutualizeError
from mutualize.ledger import event_dict
from mutualize.reference.ledger import Ledger as RefLedger
from mutualize.waterfall import (
    PRESETS,
    Adl,
    FeePool,
    InsuranceFund,
    Socialize,
    Waterfall,
)

GOLDEN = Path(__file__).resolve().parent / "golden" / "ledger_scenarios.json"


def _compiled() -> type[Any] | None:
    try:
        from mutualize._ledger_rust import Ledger
    except ImportError:  # pragma: no cover - the extension is not built
        return None
    return Ledger


RustLedger = _compiled()

LEDGERS = [
    pytest.param(
        RustLedger,
        id="rust",
        marks=pytest.mark.skipif(RustLedger is None, reason="compiled extension not built"),
    ),
    pytest.param(RefLedger, id="reference"),
]


def configurations() -> dict[str, Waterfall]:
    """Every preset, plus configurations for the stages and options no preset uses."""
    configs = {name: make() for name, make in PRESETS.items()}
    configs["capped_fund_fee_pool_equal_loss"] = Waterfall(
        stages=(
            InsuranceFund(cap=300, floor=100),
            FeePool(),
            Socialize(rule="equal_loss", base="equity"),
        )
    )
    configs["per_market_fund_round_up"] = Waterfall(
        stages=(InsuranceFund(per_market=True), Socialize(rounding="up"))
    )
    configs["round_down_equal_award"] = Waterfall(
        stages=(InsuranceFund(), Socialize(rounding="down")),
    )
    configs["equal_award_max_rate"] = Waterfall(
        stages=(InsuranceFund(cap=50), Socialize(rule="pro_rata", max_rate=(1, 3))),
    )
    configs["adl_mark_then_socialize"] = Waterfall(
        stages=(InsuranceFund(cap=10), Adl(ranking="pnl", price="mark"), Socialize()),
    )
    configs["adl_scores"] = Waterfall(
        stages=(Adl(ranking="scores", scores=(5, 1, 9, 3, 7, 2, 8, 4, 6)), Socialize()),
    )
    configs["batched_weights"] = Waterfall(
        stages=(
            InsuranceFund(),
            Socialize(base="weights", weights=(1, 2, 3, 4, 5, 6, 7, 8, 0)),
        ),
        timing="batched",
    )
    configs["deferred_equal_award"] = Waterfall(
        stages=(FeePool(), Socialize(rule="equal_award", base="session_profit")),
        timing="deferred",
        lock_session_profit=True,
    )
    return configs


BACKSTOP = 8


def run_scenario(ledger: Any, waterfall: Waterfall) -> dict[str, Any]:
    """The fixed scenario; returns everything it observed, in plain values."""
    log: list[Any] = []

    def op(name: str, *args: Any, **kwargs: Any) -> None:
        try:
            log.append(event_dict(getattr(ledger, name)(*args, **kwargs)))
        except MutualizeError as exc:
            log.append({"refused": name, "error": type(exc).__name__})

    def look(label: str) -> None:
        accounts = range(ledger.num_accounts)
        log.append(
            {
                "look": label,
                "liquidatable": list(ledger.liquidatable()),
                "equity": [ledger.equity(a) for a in accounts],
                "maintenance": [ledger.maintenance(a) for a in accounts],
            }
        )

    def liquidate_all(prices: Callable[[int], dict[int, int] | None]) -> None:
        for a in list(ledger.liquidatable()):
            if a != BACKSTOP:
                op("liquidate", a, BACKSTOP, prices(a))

    op("set_waterfall", waterfall)
    op("create_market", 10, 1_000, 1_000, 500, 100)
    op("create_market", 3, 2_000, 2_000, 1_000, 50)
    for _ in range(9):
        op("create_account")
    deposits = [10_000, 20_000, 15_000, 50_000, 30_000, 8_000, 40_000, 25_000, 10_000_000]
    for a, amount in enumerate(deposits):
        op("deposit", a, amount)
    op("fund_insurance", 500)
    op("fund_insurance", 200, market=1)
    op("fill", 0, 3, 0, 1_000, 9)
    op("fill", 1, 4, 0, 1_000, 15, buyer_fee=30, seller_fee=20)
    op("fill", 6, 2, 0, 1_000, 12)
    op("fill", 5, 7, 1, 2_000, 6, buyer_fee=5)
    op("fill", 7, 3, 1, 2_000, 4)
    op("fill", 0, 6, 1, 2_000, 1)
    op("fill", 5, 0, 0, 1_000, 30)  # refused: margin
    op("fill", 4, 6, 0, 1_010, 20, check_margin=False)  # 4 crosses from short to long
    op("apply_funding", 0, 3)
    op("apply_funding", 1, -2)
    op("set_mark", 0, 1_020)
    op(
        "fill_many",
        0,
        np.array([3, 2], dtype=np.int64),
        np.array([6, 4], dtype=np.int64),
        np.array([1_020, 1_015], dtype=np.int64),
        np.array([2, 1], dtype=np.int64),
    )
    op("withdraw", 6, 1_000)
    op("withdraw", 0, 9_999)  # refused: margin
    look("before the crash")
    op("set_mark", 0, 880)
    look("after the crash")
    liquidate_all(lambda a: None)
    op("settle_session")
    op("set_marks", np.array([860, 1_700], dtype=np.int64))
    look("second move")
    liquidate_all(lambda a: {0: 850, 1: 1_690} if a % 2 else {1: 1_690})
    op("liquidate", 3, BACKSTOP)  # refused unless liquidatable
    op("apply_funding", 0, -5)
    op("fill", BACKSTOP, 2, 1, 1_700, 20, check_margin=False)
    op("fill", BACKSTOP, 5, 1, 1_700, 5, check_margin=False)
    op("set_mark", 1, 2_300)
    look("squeeze")
    liquidate_all(lambda a: None)
    for account, market, price in ((7, 1, "mark"), (4, 0, "bankruptcy"), (6, 0, 900)):
        op("deleverage", account, market, None, price)
    op("deleverage", 3, 0, [BACKSTOP], "mark")
    op("fill", 2, 5, 0, 860, 3, check_margin=False)
    op("fill", 7, BACKSTOP, 0, 860, 25, check_margin=False)
    op("fill", 1, 0, 0, 860, 4, check_margin=False)
    op("set_mark", 0, 500)
    look("collapse")
    liquidate_all(lambda a: {0: 480})
    op("settle_session")
    op("withdraw", 7, 500)
    look("end")
    ledger.check()
    return {"log": log, "state": ledger.state(), "journal": [event_dict(e) for e in ledger.journal]}


def _plain(value: Any) -> Any:
    """JSON's view of a value (tuples become lists)."""
    return json.loads(json.dumps(value))


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(GOLDEN.read_text())
    return loaded


@pytest.mark.parametrize("make", LEDGERS)
@pytest.mark.parametrize("name", sorted(configurations()))
def test_scenario_matches_golden(make: type[Any], name: str, golden: dict[str, Any]) -> None:
    waterfall = configurations()[name]
    got = _plain(run_scenario(make(), waterfall))
    want = golden[name]
    for i, (g, w) in enumerate(zip(got["log"], want["log"], strict=True)):
        assert g == w, f"{name}: step {i} differs"
    assert got["state"] == want["state"]
    assert got["journal"] == want["journal"]


def test_golden_covers_every_path(golden: dict[str, Any]) -> None:
    """The scenarios reach what they are meant to pin: every stage kind pays somewhere,
    ADL fills, haircuts, refusals and settlements."""
    paid: set[str] = set()
    adl = haircuts = settled = refusals = 0
    for record in golden.values():
        for entry in record["log"]:
            if entry.get("op") == "liquidate":
                paid |= {kind for kind, amount in entry["stages"] if amount > 0}
                adl += len(entry["adl"])
                haircuts += len(entry["haircuts"])
            if entry.get("op") == "settle_session" and entry["collected"] > 0:
                settled += 1
            refusals += "refused" in entry
    assert paid == {"insurance_fund", "fee_pool", "adl", "socialize", "bad_debt"}
    assert adl > 0
    assert haircuts > 0
    assert settled > 0
    assert refusals > 0


def _regenerate() -> None:
    records = {name: _plain(run_scenario(RefLedger(), wf)) for name, wf in configurations().items()}
    if RustLedger is not None:
        for name, wf in configurations().items():
            assert _plain(run_scenario(RustLedger(), wf)) == records[name], name
    GOLDEN.parent.mkdir(exist_ok=True)
    # One configuration a line: a change shows as the lines of the configurations it touched.
    lines = [f"{json.dumps(k)}:{json.dumps(v, separators=(',', ':'))}" for k, v in records.items()]
    GOLDEN.write_text("{\n" + ",\n".join(lines) + "\n}\n")


if __name__ == "__main__":
    _regenerate()
