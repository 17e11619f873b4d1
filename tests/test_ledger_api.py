"""The public Ledger: persistence (snapshot, pickle, journal files), threads, numpy
columns. The semantics are checked against the reference in test_ledger_stateful."""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mutualize as mz
from mutualize._ledger_python import Ledger as PythonLedger
from mutualize.errors import CorruptJournalError, CorruptSnapshotError, TornRecordError


@pytest.fixture(params=["rust", "python"])
def Ledger(request: pytest.FixtureRequest) -> Any:  # noqa: N802 (a class, by name)
    """``mutualize.Ledger`` of each backend."""
    if request.param == "rust":
        if mz.backend != "rust":
            pytest.skip("compiled extension not available")
        return mz.Ledger
    return PythonLedger


def _busy_ledger(Ledger: Any) -> Any:  # noqa: N803
    """A small history with a liquidation and a socialized deficit."""
    ledger = Ledger()
    ledger.create_market(tick_value=1, mark=100, imr_bps=1_000, mmr_bps=500, penalty_bps=50)
    for _ in range(4):
        ledger.create_account()
    for a, amount in enumerate([100, 100, 1_000_000, 500]):
        ledger.deposit(a, amount)
    ledger.fund_insurance(300)
    ledger.fill(0, 1, 0, 100, 10)
    ledger.fill(3, 2, 0, 100, 2, buyer_fee=1, seller_fee=1)
    ledger.apply_funding(0, 1)
    ledger.set_mark(0, 10)
    ledger.liquidate(0, 2)
    return ledger


def test_worked_clawback_example_from_readme(Ledger: Any) -> None:  # noqa: N803
    ledger = Ledger()
    ledger.create_market(tick_value=1, mark=100, imr_bps=1_000, mmr_bps=500)
    alice, bob, backstop = (ledger.create_account()["account"] for _ in range(3))
    ledger.deposit(alice, 100)
    ledger.deposit(bob, 100)
    ledger.deposit(backstop, 1_000_000)
    ledger.fill(buyer=alice, seller=bob, market=0, price=100, size=10)
    ledger.set_mark(0, 10)
    assert ledger.liquidatable() == [alice]
    event = ledger.liquidate(alice, backstop)
    assert event["deficit"] == 800
    assert event["stages"] == [["insurance_fund", 0], ["socialize", 800], ["bad_debt", 0]]
    assert event["haircuts"] == [[bob, 800]]
    assert ledger.equity(bob) == 200
    ledger.check()


def test_snapshot_restore_and_pickle_round_trip(Ledger: Any) -> None:  # noqa: N803
    ledger = _busy_ledger(Ledger)
    state = ledger.state()
    events = [dict(e) for e in ledger.journal]
    again = Ledger.restore(ledger.snapshot())
    assert type(again) is Ledger
    assert again.state() == state
    assert [dict(e) for e in again.journal] == events
    pickled = pickle.loads(pickle.dumps(ledger))
    assert pickled.state() == state
    again.check()


def test_corrupt_snapshots_raise_and_never_panic(Ledger: Any) -> None:  # noqa: N803
    data = bytes(_busy_ledger(Ledger).snapshot())
    rng = np.random.default_rng(0)
    for cut in (0, 1, 7, len(data) // 2, len(data) - 1):
        with pytest.raises(CorruptSnapshotError):
            Ledger.restore(data[:cut])
    for _ in range(200):
        flipped = bytearray(data)
        i = int(rng.integers(len(flipped)))
        flipped[i] ^= 1 << int(rng.integers(8))
        with pytest.raises(CorruptSnapshotError):
            Ledger.restore(bytes(flipped))


def test_replay_reproduces_state_and_detects_tampering(Ledger: Any) -> None:  # noqa: N803
    ledger = _busy_ledger(Ledger)
    events = [dict(e) for e in ledger.journal]
    assert Ledger.replay(events).state() == ledger.state()
    liquidation = next(i for i, e in enumerate(events) if e["op"] == "liquidate")
    tampered = [dict(e) for e in events]
    tampered[liquidation]["deficit"] += 1
    with pytest.raises(CorruptJournalError, match=r"(different effects|does not reproduce)"):
        Ledger.replay(tampered)
    with pytest.raises(CorruptJournalError, match="unknown op"):
        Ledger.replay([{"op": "launch_rocket"}])


def test_journal_file_round_trip_and_torn_tail(Ledger: Any, tmp_path: Path) -> None:  # noqa: N803
    ledger = _busy_ledger(Ledger)
    path = tmp_path / "venue.journal"
    ledger.write_journal(path)
    assert Ledger.from_journal(path).state() == ledger.state()
    data = path.read_bytes()
    path.write_bytes(data[:-25])  # the 20-byte seal and 5 bytes of the last record
    with pytest.raises(TornRecordError) as info:
        Ledger.from_journal(path)
    assert len(info.value.records) == len(ledger.journal) - 1
    with pytest.warns(mz.journal.JournalRecoveryWarning, match="bytes dropped"):
        recovered = Ledger.replay(mz.read_journal(path, recover=True))
    recovered.check()


def test_live_journal_writer(Ledger: Any, tmp_path: Path) -> None:  # noqa: N803
    path = tmp_path / "live.journal"
    ledger = Ledger()
    with mz.JournalWriter(path) as journal:
        journal.append(dict(ledger.create_market(1, 100, 1_000, 500)))
        journal.append(dict(ledger.create_account()))
        journal.append(dict(ledger.deposit(0, 5)))
    assert Ledger.from_journal(path).state() == ledger.state()


def test_errors_leave_state_unchanged(Ledger: Any) -> None:  # noqa: N803
    ledger = _busy_ledger(Ledger)
    before = ledger.snapshot()
    bad_calls: list[Callable[[], object]] = [
        lambda: ledger.deposit(99, 1),
        lambda: ledger.deposit(1, -5),
        lambda: ledger.withdraw(3, 10**9),
        lambda: ledger.fill(1, 1, 0, 100, 1),
        lambda: ledger.fill(1, 3, 0, 100, 10**6),
        lambda: ledger.liquidate(2, 3),
        lambda: ledger.set_mark(0, 0),
        lambda: ledger.set_waterfall({"stages": [{"kind": "nope"}]}),
    ]
    for bad in bad_calls:
        with pytest.raises((ValueError, TypeError, OverflowError)):
            bad()
        assert ledger.snapshot() == before


def test_threads_share_a_ledger_without_torn_state(Ledger: Any) -> None:  # noqa: N803
    if Ledger is PythonLedger:
        pytest.skip("the reference ledger is not for sharing between threads")
    ledger = Ledger()
    ledger.create_market(1, 1_000, 1_000, 500)
    ledger.create_accounts(8)
    for a in range(8):
        ledger.deposit(a, 10**9)
    errors: list[BaseException] = []

    def trade(worker: int) -> None:
        try:
            for i in range(2_000):
                b, s = (worker + i) % 8, (worker + i + 1) % 8
                ledger.fill(b, s, 0, 1_000 + i % 5, 1)
                if i % 100 == 0:
                    ledger.check()
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=trade, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(ledger.journal) == 1 + 8 + 8 + 4 * 2_000
    assert int(ledger.sizes(0).sum()) == 0
    ledger.check()


def test_numpy_columns_and_batches(Ledger: Any) -> None:  # noqa: N803
    ledger = Ledger()
    ledger.create_market(2, 500, 1_000, 500)
    ledger.create_market(1, 100, 1_000, 500)
    first = ledger.create_accounts(4)
    assert first == 0
    for a in range(4):
        ledger.deposit(a, 1_000_000)
    event = ledger.fill_many(
        0,
        np.array([0, 1, 2], dtype=np.int64),
        np.array([3, 3, 3], dtype=np.int64),
        np.array([500, 501, 502], dtype=np.int64),
        np.array([1, 2, 3], dtype=np.int64),
    )
    assert event["op"] == "fill_many"
    assert ledger.sizes(0).tolist() == [1, 2, 3, -6]
    ledger.set_marks(np.array([510, 90], dtype=np.int64))
    assert ledger.state()["markets"][1]["mark"] == 90
    equities = ledger.equities()
    assert equities.dtype == np.int64
    assert equities.tolist() == [ledger.equity(a) for a in range(4)]
    assert ledger.collaterals().tolist() == [1_000_000] * 4
    with pytest.raises(ValueError, match="account"):
        ledger.fill_many(
            0,
            np.array([9], dtype=np.int64),
            np.array([0], dtype=np.int64),
            np.array([1], dtype=np.int64),
            np.array([1], dtype=np.int64),
        )
    ledger.check()


def test_presets_run_a_bankruptcy(Ledger: Any) -> None:  # noqa: N803
    for name, preset in mz.PRESETS.items():
        ledger = Ledger()
        ledger.set_waterfall(preset())
        ledger.create_market(1, 100, 1_000, 500)
        for _ in range(4):
            ledger.create_account()
        for a, amount in enumerate([100, 100, 1_000_000, 100]):
            ledger.deposit(a, amount)
        ledger.fill(0, 1, 0, 100, 10)
        ledger.set_mark(0, 10)
        event = ledger.liquidate(0, 2)
        # Bob's 900 of profit covers the 800 deficit by haircut (now or at settlement)
        # or by deleveraging him at the bankruptcy price; Drift's haircut over open
        # interest splits it by size between Bob (short 10) and the backstop (long 10).
        assert event["deficit"] == 800, name
        ledger.settle_session()
        ledger.check()
        assert ledger.bad_debt == 0, name
        assert ledger.deferred_loss == 0, name
        assert ledger.equity(0) == 0, name
        assert ledger.waterfall == preset(), name


def test_per_market_insurance_funds(Ledger: Any) -> None:  # noqa: N803
    ledger = Ledger()
    ledger.set_waterfall(mz.Waterfall(stages=(mz.InsuranceFund(per_market=True), mz.Socialize())))
    ledger.create_market(tick_value=1, mark=100, imr_bps=1_000, mmr_bps=500)
    ledger.create_market(tick_value=1, mark=100, imr_bps=1_000, mmr_bps=500, penalty_bps=0)
    for _ in range(3):
        ledger.create_account()
    for a, amount in enumerate([100, 100, 1_000_000]):
        ledger.deposit(a, amount)
    assert dict(ledger.fund_insurance(500, market=0))["market"] == 0
    ledger.fund_insurance(7_000, market=1)  # the other market's fund is not touched
    ledger.fund_insurance(9_000)  # nor is the shared one
    ledger.fill(0, 1, 0, 100, 10)
    ledger.set_mark(0, 10)
    event = ledger.liquidate(0, 2)
    assert event["stages"] == [["insurance_fund", 500], ["socialize", 300], ["bad_debt", 0]]
    markets = ledger.state()["markets"]
    assert [m["insurance_fund"] for m in markets] == [0, 7_000]
    assert ledger.insurance_fund == 9_000
    ledger.check()
    with pytest.raises(ValueError, match="market"):
        ledger.fund_insurance(5, market=7)
    assert Ledger.replay([dict(e) for e in ledger.journal]).state() == ledger.state()
    assert Ledger.restore(ledger.snapshot()).state() == ledger.state()
