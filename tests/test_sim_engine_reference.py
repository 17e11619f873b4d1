"""The pure-Python reference engine against the compiled one (docs/backtests.md), and the
ledger pieces the engine relies on: ``timing="batched"`` on both ledgers, and the ADL
queues of the reference ledger.

The differential tests draw small random scenarios (50-300 accounts, 30-150 steps, one or
two markets, leverage up to 40x so some accounts start liquidatable, funding, slippage and
impact) and require identical series, accounts and totals from both engines, for every
policy in ``POLICY_NAMES`` under both granularities.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import mutualize as mz
from mutualize.errors import InvalidInputError
from mutualize.reference import allocate as ref_allocate
from mutualize.reference.ledger import AdlQueue
from mutualize.reference.ledger import Ledger as RefLedger
from mutualize.reference.sim import SERIES, simulate
from mutualize.sim import POLICY_NAMES
from mutualize.sim.engine import run_inputs
from mutualize.sim.inputs import EngineInputs
from mutualize.sim.scenario import policy as named_policy
from mutualize.waterfall import Adl, InsuranceFund, Socialize, Waterfall

needs_rust = pytest.mark.skipif(mz.backend != "rust", reason="compiled extension not available")

ACCOUNT_COLUMNS = ("equity", "haircut", "adl_lots", "adl_loss", "liquidated_step", "deficit")
TOTALS = ("house_equity", "bad_debt", "insurance_fund_end")


def _i64(*values: int) -> np.ndarray[Any, np.dtype[np.int64]]:
    return np.array(values, dtype=np.int64)


# --------------------------------------------------------------------------- scenarios


def _scenario(
    seed: int,
    accounts: int,
    steps: int,
    markets: int,
    max_leverage: float,
    long_share: float,
    slippage_bps: int,
    impact_bps: int,
    insurance_fund: int,
) -> EngineInputs:
    """Random exact inputs: a noisy path with four jumps, funding on a fifth of the steps,
    entries scattered around the first mark, collateral for a leverage of 1 to
    ``max_leverage`` (mmr up to 3 %, so the most leveraged start liquidatable)."""
    rng = np.random.default_rng(seed)
    tick_value = rng.integers(1, 5, markets)
    mmr = rng.integers(50, 300, markets)
    first = rng.integers(1_000, 5_000, markets)
    moves = rng.normal(0.0, 0.01, (steps, markets))
    for _ in range(4):
        moves[rng.integers(1, steps)] += rng.choice([-1.0, 1.0]) * rng.uniform(0.03, 0.15)
    prices = np.maximum(1, np.round(first * np.exp(np.cumsum(moves, axis=0))))
    prices[0] = first
    funding = np.zeros((steps, markets), dtype=np.int64)
    paid = rng.random((steps, markets)) < 0.2
    funding[paid] = rng.integers(-30, 31, int(paid.sum()))
    market = rng.integers(0, markets, accounts)
    size = rng.integers(1, 50, accounts) * np.where(rng.random(accounts) < long_share, 1, -1)
    entry = np.maximum(1, np.round(first[market] * (1 + rng.normal(0.0, 0.02, accounts))))
    notional = np.abs(size) * entry * tick_value[market]
    collateral = np.maximum(1, np.round(notional / rng.uniform(1.0, max_leverage, accounts)))
    return EngineInputs(
        tick_value=tick_value.astype(np.int64),
        imr_bps=np.minimum(10_000, 2 * mmr).astype(np.int64),
        mmr_bps=mmr.astype(np.int64),
        penalty_bps=rng.integers(0, 100, markets).astype(np.int64),
        market_names=tuple(f"m{m}" for m in range(markets)),
        collateral=collateral.astype(np.int64),
        market=market.astype(np.int64),
        size=size.astype(np.int64),
        entry=entry.astype(np.int64),
        prices=prices.astype(np.int64),
        funding=funding,
        insurance_fund=insurance_fund,
        house_collateral=10**12,
        slippage_bps=slippage_bps,
        impact_bps=impact_bps,
        depth_lots=int(rng.integers(10, 200)),
    )


scenarios = st.builds(
    _scenario,
    seed=st.integers(0, 2**32 - 1),
    accounts=st.integers(50, 300),
    steps=st.integers(30, 150),
    markets=st.integers(1, 2),
    max_leverage=st.floats(5.0, 40.0),
    long_share=st.sampled_from([0.2, 0.5, 0.8]),
    slippage_bps=st.integers(1, 60),
    impact_bps=st.integers(1, 100),
    insurance_fund=st.sampled_from([0, 500, 20_000]),
)


# --------------------------------------------------------------------------- comparing


def _run(inputs: EngineInputs, name: str, granularity: str, backend: str) -> Any:
    """The run's RunResult, or the exception it raised."""
    chosen = named_policy(name, granularity=granularity, session_steps=7)
    try:
        return run_inputs(inputs, chosen, progress=False, backend=backend)
    except Exception as exc:  # compared by class below
        return exc


def _differences(rust: Any, ref: Any) -> list[str]:
    """Every field on which the two runs differ, with its first differing row."""
    if isinstance(rust, Exception) or isinstance(ref, Exception):
        if type(rust) is type(ref):
            return []
        return [f"outcome: rust {rust!r}, reference {ref!r}"]
    out = []
    for part, names in (("series", SERIES), ("accounts", ACCOUNT_COLUMNS)):
        for name in names:
            a = getattr(rust, part)[name].to_numpy()
            b = getattr(ref, part)[name].to_numpy()
            if not np.array_equal(a, b):
                row = int(np.flatnonzero(a != b)[0])
                out.append(f"{part}.{name}[{row}]: rust {a[row]}, reference {b[row]}")
    for name in TOTALS:
        if rust.totals[name] != ref.totals[name]:
            out.append(f"totals.{name}: rust {rust.totals[name]}, reference {ref.totals[name]}")
    return out


@needs_rust
@pytest.mark.parametrize("granularity", ["step", "bankruptcy"])
@pytest.mark.parametrize("name", POLICY_NAMES)
# No shrinking: a failing scenario is printed as drawn (seeded), and the file stays fast.
@settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    database=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(inputs=scenarios)
def test_reference_engine_agrees_with_the_compiled_one(
    name: str, granularity: str, inputs: EngineInputs
) -> None:
    rust = _run(inputs, name, granularity, "rust")
    ref = _run(inputs, name, granularity, "python")
    assert _differences(rust, ref) == []


@needs_rust
def test_both_scans_of_the_compiled_engine_agree_with_the_reference() -> None:
    inputs = _scenario(7, 120, 60, 2, 40.0, 0.5, 20, 50, 0)
    chosen = named_policy("okx_clawback", session_steps=10)
    ref = simulate(inputs, chosen.waterfall, "step", 10)
    for scan in ("index", "every"):
        rust = run_inputs(inputs, chosen, progress=False, scan=scan, backend="rust")
        for name in SERIES:
            assert rust.series[name].tolist() == ref["series"][name].tolist(), (scan, name)
        for name in ACCOUNT_COLUMNS:
            assert rust.accounts[name].tolist() == ref["accounts"][name].tolist(), (scan, name)


def _adl_cascade() -> EngineInputs:
    """Step 0 of a BitMEX-ADL venue with an empty fund: account 1 (long, bankrupt) ranks
    the shorts' queue [3, 2] and deleverages against 3; account 2 (short, liquidatable
    but solvent) closes against the house, which turns from long 5 to short 10; account
    4 (long, bankrupt) finds the queue flat, ranks it afresh once and takes the house."""
    return EngineInputs(
        tick_value=_i64(1),
        imr_bps=_i64(1_000),
        mmr_bps=_i64(500),
        penalty_bps=_i64(0),
        market_names=("m",),
        collateral=_i64(100, 50, 10_000, 100),
        market=_i64(0, 0, 0, 0),
        size=_i64(10, -15, -10, 10),
        entry=_i64(120, 100, 110, 120),
        prices=np.array([[100], [100]], dtype=np.int64),
        funding=np.zeros((2, 1), dtype=np.int64),
        insurance_fund=0,
        house_collateral=10**9,
    )


def test_adl_queue_runs_dry_and_is_ranked_afresh_in_the_engine() -> None:
    raw = simulate(_adl_cascade(), named_policy("bitmex_adl").waterfall, "step", 0)
    series = raw["series"]
    assert series["liquidations"].tolist() == [3, 0]
    assert series["adl_fills"].tolist() == [2, 0]
    assert series["adl_lots"].tolist() == [20, 0]
    # Account 3 (ledger id 3) was deleveraged at 110 (bankruptcy price of account 1) while
    # the mark was 100: it paid 10 ticks a lot more than at the mark.
    assert raw["accounts"]["adl_lots"].tolist() == [0, 0, 10, 0]
    assert raw["accounts"]["adl_loss"].tolist() == [0, 0, 100, 0]
    assert raw["accounts"]["deficit"].tolist() == [100, 0, 0, 100]
    assert raw["accounts"]["liquidated_step"].tolist() == [0, 0, -1, 0]
    # Long lots after the step: none (the house, short 10 after account 2, took 10 by ADL).
    assert series["open_interest"].tolist() == [0, 0]
    assert raw["totals"]["bad_debt"] == 0


@needs_rust
def test_adl_cascade_agrees_with_the_compiled_engine() -> None:
    inputs = _adl_cascade()
    rust = _run(inputs, "bitmex_adl", "step", "rust")
    ref = _run(inputs, "bitmex_adl", "step", "python")
    assert _differences(rust, ref) == []


@needs_rust
def test_open_interest_when_the_house_is_deleveraged_long() -> None:
    # Two shorts opened against the house leave it long 15; at 150 the first short is
    # bankrupt and, with an empty fund, buys its 10 lots back from the house by ADL.
    # After the step the house is long 5, the only long: open interest is 5 lots.
    inputs = EngineInputs(
        tick_value=_i64(1),
        imr_bps=_i64(1_000),
        mmr_bps=_i64(500),
        penalty_bps=_i64(0),
        market_names=("m",),
        collateral=_i64(100, 10_000),
        market=_i64(0, 0),
        size=_i64(-10, -5),
        entry=_i64(100, 100),
        prices=np.array([[100], [150]], dtype=np.int64),
        funding=np.zeros((2, 1), dtype=np.int64),
        house_collateral=10**9,
    )
    ref = _run(inputs, "bitmex_adl", "step", "python")
    assert ref.series["open_interest"].tolist() == [15, 5]
    rust = _run(inputs, "bitmex_adl", "step", "rust")
    assert _differences(rust, ref) == []


def test_reference_engine_checks_its_arguments() -> None:
    inputs = _adl_cascade()
    waterfall = Waterfall()
    with pytest.raises(InvalidInputError, match="granularity"):
        simulate(inputs, waterfall, "hourly", 0)
    with pytest.raises(InvalidInputError, match="scan"):
        simulate(inputs, waterfall, "step", 0, scan="fast")
    with pytest.raises(InvalidInputError, match="session_steps"):
        simulate(inputs, waterfall, "step", -1)
    with pytest.raises(InvalidInputError, match="backend"):
        run_inputs(inputs, "pro_rata", backend="fortran")
    seen: list[int] = []
    simulate(inputs, waterfall, "step", 0, progress=seen.append)
    assert seen == [1, 2]


# --------------------------------------------------------------------------- batched timing


@pytest.fixture(params=["rust", "python"])
def Ledger(request: pytest.FixtureRequest) -> Any:  # noqa: N802 (a class, by name)
    """``mutualize.Ledger`` of the compiled backend, and the reference ledger."""
    if request.param == "rust":
        if mz.backend != "rust":
            pytest.skip("compiled extension not available")
        return mz.Ledger
    return RefLedger


def _bankruptcy(Ledger: Any, waterfall: Waterfall | dict[str, Any]) -> Any:  # noqa: N803
    """Alice (0) long 10 from Bob (1), Carol (2) long 5 from Dave (3), all at 100; the mark
    falls to 10 and Alice (equity -800) is liquidated against the backstop (4)."""
    ledger = Ledger()
    ledger.create_market(tick_value=1, mark=100, imr_bps=1_000, mmr_bps=500)
    for amount in (100, 100, 1_000, 100, 1_000_000):
        ledger.deposit(ledger.create_account()["account"], amount)
    ledger.set_waterfall(waterfall)
    ledger.fill(0, 1, 0, 100, 10)
    ledger.fill(2, 3, 0, 100, 5)
    ledger.set_mark(0, 10)
    event = ledger.liquidate(0, 4)
    assert event["deficit"] == 800
    assert event["stages"] == [["insurance_fund", 0], ["socialize", 800], ["bad_debt", 0]]
    assert event["haircuts"] == []
    assert ledger.deferred_loss == 800
    return ledger


def _sessions(ledger: Any) -> list[tuple[int, int]]:
    return [(a["session_start_equity"], a["session_deposits"]) for a in ledger.state()["accounts"]]


def _batched(stage: Socialize) -> Waterfall:
    return Waterfall(stages=(InsuranceFund(), stage), timing="batched")


def test_batched_settlement_allocates_over_the_stage_base(Ledger: Any) -> None:  # noqa: N803
    ledger = _bankruptcy(Ledger, _batched(Socialize()))
    sessions = _sessions(ledger)
    event = ledger.settle_session()
    # Unrealized PnL claims: Bob 900, Dave 450; 800 pro rata, largest remainder.
    assert dict(event) == {
        "op": "settle_session",
        "collected": 800,
        "haircuts": [[1, 533], [3, 267]],
        "bad_debt": 0,
    }
    assert (ledger.deferred_loss, ledger.bad_debt) == (0, 0)
    assert ledger.equity(1) == 100 + 900 - 533
    # No new session: a batch is a step's pool, not a session.
    assert _sessions(ledger) == sessions
    ledger.check()


def test_batched_settlement_uncovered_part_is_bad_debt(Ledger: Any) -> None:  # noqa: N803
    ledger = _bankruptcy(Ledger, _batched(Socialize(max_rate=(1, 2))))
    event = ledger.settle_session()
    assert event["haircuts"] == [[1, 450], [3, 225]]
    assert (event["collected"], event["bad_debt"]) == (675, 125)
    assert (ledger.deferred_loss, ledger.bad_debt) == (0, 125)
    ledger.check()


def test_batched_settlement_surplus_goes_to_the_fund(Ledger: Any) -> None:  # noqa: N803
    ledger = _bankruptcy(Ledger, _batched(Socialize(rounding="up")))
    event = ledger.settle_session()
    assert event["haircuts"] == [[1, 534], [3, 267]]
    assert (event["collected"], event["bad_debt"]) == (801, 0)
    assert ledger.insurance_fund == 1
    ledger.check()


def test_batched_settlement_uses_capped_bases_and_excludes_nobody(Ledger: Any) -> None:  # noqa: N803
    weights = [5_000, 100, 0, 10_000, 1_000]
    ledger = _bankruptcy(Ledger, _batched(Socialize(base="weights", weights=weights)))
    equities = [ledger.equity(a) for a in range(5)]
    event = ledger.settle_session()
    # Alice (flat, equity 0) keeps her weight but her cap is 0; Dave is capped at 550.
    expected = ref_allocate(weights, 800, caps=[max(0, e) for e in equities])
    cuts = expected.haircuts.tolist()
    assert cuts[0] == 0
    assert cuts[3] == equities[3] == 550
    assert event["haircuts"] == [[a, c] for a, c in enumerate(cuts) if c]
    assert event["collected"] == 800
    ledger.check()


def test_deferred_settlement_still_starts_a_session(Ledger: Any) -> None:  # noqa: N803
    deferred = Waterfall(stages=(InsuranceFund(), Socialize()), timing="deferred")
    ledger = _bankruptcy(Ledger, deferred)
    ledger.settle_session()
    assert _sessions(ledger) == [(ledger.equity(a), 0) for a in range(5)]


def test_batched_timing_refuses_open_interest(Ledger: Any) -> None:  # noqa: N803
    ledger = Ledger()
    plain = _batched(Socialize()).to_dict()
    plain["stages"][1]["base"] = "open_interest"
    with pytest.raises(InvalidInputError, match="open_interest"):
        ledger.set_waterfall(plain)
    with pytest.raises(InvalidInputError, match="open_interest"):
        Waterfall.from_dict(plain)
    assert ledger.waterfall == Waterfall()
    event = ledger.set_waterfall(_batched(Socialize(base="equity")).to_dict())
    assert event["waterfall"]["timing"] == "batched"


@needs_rust
@pytest.mark.parametrize(
    "stage",
    [
        Socialize(),
        Socialize(base="equity", rule="equal_loss"),
        Socialize(base="session_profit", rounding="down"),
        Socialize(rule="equal_award"),
    ],
    ids=["pro_rata", "equity-equal_loss", "session-down", "equal_award"],
)
def test_batched_timing_same_state_on_both_ledgers(stage: Socialize) -> None:
    waterfall = _batched(stage)
    rust = _bankruptcy(mz.Ledger, waterfall)
    ref = _bankruptcy(RefLedger, waterfall)
    rust.settle_session()
    ref.settle_session()
    assert rust.state() == ref.state()
    assert [dict(e) for e in rust.journal] == ref.journal


# --------------------------------------------------------------------------- ADL queues


def _winners() -> RefLedger:
    """Longs 1 and 2 (10 lots at 100, 100 deposited) bankrupt at mark 50 against shorts
    3 (20 lots at 110, PnL 1,200) and 4 (20 lots at 108, PnL 1,160); the backstop (0) is
    long, so not a candidate. Ranking by PnL: [3, 4]."""
    ledger = RefLedger()
    ledger.create_market(tick_value=1, mark=100, imr_bps=1_000, mmr_bps=500)
    for amount in (10**6, 100, 100, 1_000, 1_000):
        ledger.deposit(ledger.create_account()["account"], amount)
    ledger.set_waterfall(Waterfall(stages=(Adl(ranking="pnl"),)))
    ledger.fill(1, 0, 0, 100, 10, check_margin=False)
    ledger.fill(2, 0, 0, 100, 10, check_margin=False)
    ledger.fill(0, 3, 0, 110, 20, check_margin=False)
    ledger.fill(0, 4, 0, 108, 20, check_margin=False)
    ledger.set_mark(0, 50)
    return ledger


def test_adl_queue_is_consumed_in_its_first_order() -> None:
    queued = _winners()
    queues: dict[tuple[int, bool], AdlQueue] = {}
    first = queued.liquidate(1, 0, adl_queues=queues)
    # Bankruptcy price of account 1: 50 + 400 / 10 = 90.
    assert first["adl"] == [[0, 3, 10, 90]]
    assert queues[(0, True)].order == [3, 4]
    # Account 3's PnL is now 600, below account 4's 1,160: a fresh ranking takes 4
    # first, the queue still holds 3 at its head.
    fresh = RefLedger.restore(queued.snapshot())
    assert fresh.liquidate(2, 0)["adl"] == [[0, 4, 10, 90]]
    assert queued.liquidate(2, 0, adl_queues=queues)["adl"] == [[0, 3, 10, 90]]
    assert queues[(0, True)].cursor == 0  # passed over only when next used and flat
    queued.check()


def test_adl_queue_passes_flat_ones_and_is_ranked_afresh_once() -> None:
    ledger = RefLedger()
    ledger.create_market(tick_value=1, mark=100, imr_bps=1_000, mmr_bps=500)
    for amount in (10**6, 100, 100, 1_000, 1_000):
        ledger.deposit(ledger.create_account()["account"], amount)
    ledger.set_waterfall(Waterfall(stages=(Adl(ranking="pnl"),)))
    ledger.fill(1, 3, 0, 100, 10)
    ledger.fill(2, 4, 0, 100, 10)
    ledger.set_mark(0, 50)
    queues: dict[tuple[int, bool], AdlQueue] = {}
    assert ledger.liquidate(1, 0, adl_queues=queues)["adl"] == [[0, 3, 10, 90]]
    assert queues[(0, True)].order == [3, 4]
    # Account 4 closes by buying from the backstop, which opens a short: the queue holds
    # only flat accounts now, so the next bankruptcy ranks afresh and finds the backstop.
    ledger.fill(4, 0, 0, 50, 10)
    event = ledger.liquidate(2, 4, adl_queues=queues)
    assert event["adl"] == [[0, 0, 10, 90]]
    assert event["stages"] == [["adl", 400], ["bad_debt", 0]]
    assert queues[(0, True)].order == [0]
    ledger.check()


def test_queued_liquidation_checks_its_queues() -> None:
    ledger = _winners()
    with pytest.raises(InvalidInputError, match="adl_queues"):
        ledger.liquidate(1, 0, adl_queues=[])  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", ["rust", "python"])
def test_engines_return_the_declared_columns(backend: str) -> None:
    # Both engines name their output as mutualize._columns declares, in that order.
    from mutualize import _backend, _columns

    if backend == "rust" and mz.backend != "rust":
        pytest.skip("compiled extension not available")
    engine = _backend.get(backend).engine
    raw = engine.simulate(
        _adl_cascade(), named_policy("bitmex_adl").waterfall.to_dict(), "step", 0, "index", None
    )
    assert list(raw["series"]) == list(_columns.names(_columns.SERIES, "engine"))
    assert list(raw["accounts"]) == list(_columns.names(_columns.ACCOUNTS, "engine"))
    assert set(raw["totals"]) == set(_columns.names(_columns.TOTALS, "engine"))
