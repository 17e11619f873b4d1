"""The pure-Python reference backtest engine (docs/backtests.md).

Written from the contract alone over the reference ledger (``mutualize.reference.ledger``)
with Python ints, independently of the compiled engine and never calling it; like the
rest of the reference it imports nothing of the package but the exception classes and
the shared names of ``mutualize._columns``. :func:`simulate` returns exactly what the
compiled engine returns, so the two are compared in differential tests and this one
is the engine of the pure-Python backend. Money is in integer minor units, prices in
ticks, sizes in lots.

It always scans every account every round (the naive loop): the ``scan`` argument is
checked and otherwise ignored, since the compiled engine's index finds exactly the same
accounts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from mutualize._columns import ACCOUNTS, TOTALS, names
from mutualize._columns import SERIES as SERIES_COLUMNS
from mutualize.errors import InsufficientMarginError, InvalidInputError, InvariantError
from mutualize.reference.ledger import AdlQueue, Event, Ledger
from mutualize.reference.market import contract

Int64Array = npt.NDArray[np.int64]

__all__ = ["ACCOUNT_OUTCOMES", "GRANULARITIES", "HOUSE", "SCANS", "SERIES", "simulate"]

#: Ledger id of the house: the counterparty of every opening fill and the backstop.
HOUSE = 0
#: ``"step"`` (a step's socialized deficits pooled in one allocation) or ``"bankruptcy"``.
GRANULARITIES = ("step", "bankruptcy")
#: Accepted for parity with the compiled engine; the reference always scans every account.
SCANS = ("index", "every")
#: The most a backstop price moves from the mark, in bps.
MAX_SLIPPAGE_BPS = 5_000
BPS = 10_000

#: The per-step series the engine returns, in order (``mutualize._columns``).
SERIES: tuple[str, ...] = names(SERIES_COLUMNS, "engine")
#: The per-account outcomes and the totals it returns.
ACCOUNT_OUTCOMES: tuple[str, ...] = names(ACCOUNTS, "engine")
TOTALS_OUT: tuple[str, ...] = names(TOTALS, "engine")

# Which series a waterfall stage's amount is booked under.
_PAID = {
    "insurance_fund": "paid_insurance",
    "fee_pool": "paid_insurance",
    "socialize": "paid_socialized",
    "adl": "paid_adl",
    "bad_debt": "paid_bad_debt",
}


@dataclass
class _Row:
    """One step's figures (minor units, counts, lots), accumulated as the step runs."""

    deficit: int = 0
    paid_insurance: int = 0
    paid_socialized: int = 0
    paid_adl: int = 0
    paid_bad_debt: int = 0
    haircuts: int = 0
    haircut_accounts: int = 0
    liquidations: int = 0
    bankruptcies: int = 0
    adl_fills: int = 0
    adl_lots: int = 0


@dataclass
class _Accounts:
    """The per-account outcomes of the population (ledger id ``i + 1`` at index ``i``)."""

    n: int
    haircut: list[int] = field(default_factory=list)
    adl_lots: list[int] = field(default_factory=list)
    adl_loss: list[int] = field(default_factory=list)
    liquidated_step: list[int] = field(default_factory=list)
    deficit: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.haircut = [0] * self.n
        self.adl_lots = [0] * self.n
        self.adl_loss = [0] * self.n
        self.liquidated_step = [-1] * self.n
        self.deficit = [0] * self.n


class Inputs(Protocol):
    """What the engine reads (docs/backtests.md, "Inputs"): int64 arrays per market,
    per account and per step and market, and the venue's integers."""

    @property
    def tick_value(self) -> Int64Array: ...
    @property
    def imr_bps(self) -> Int64Array: ...
    @property
    def mmr_bps(self) -> Int64Array: ...
    @property
    def penalty_bps(self) -> Int64Array: ...
    @property
    def collateral(self) -> Int64Array: ...
    @property
    def market(self) -> Int64Array: ...
    @property
    def size(self) -> Int64Array: ...
    @property
    def entry(self) -> Int64Array: ...
    @property
    def prices(self) -> Int64Array: ...
    @property
    def funding(self) -> Int64Array: ...
    @property
    def insurance_fund(self) -> int: ...
    @property
    def house_collateral(self) -> int: ...
    @property
    def slippage_bps(self) -> int: ...
    @property
    def impact_bps(self) -> int: ...
    @property
    def depth_lots(self) -> int: ...
    @property
    def num_markets(self) -> int: ...
    @property
    def num_accounts(self) -> int: ...
    @property
    def num_steps(self) -> int: ...


class Configuration(Protocol):
    """A waterfall object (``mutualize.Waterfall``): its plain dict form."""

    def to_dict(self) -> dict[str, Any]: ...


def effective_waterfall(
    waterfall: Mapping[str, Any] | Configuration, granularity: str
) -> dict[str, Any]:
    """The waterfall the ledger runs (plain dict form): under ``granularity="step"`` an
    immediate waterfall whose socialize stage's base is not ``open_interest`` runs with
    timing ``"batched"`` (docs/backtests.md, "Setup", item 6)."""
    plain = dict(waterfall) if isinstance(waterfall, Mapping) else waterfall.to_dict()
    stage = next((s for s in plain.get("stages", ()) if s.get("kind") == "socialize"), None)
    if (
        granularity == "step"
        and plain.get("timing", "immediate") == "immediate"
        and stage is not None
        and stage.get("base") != "open_interest"
    ):
        plain["timing"] = "batched"
    return plain


class _Engine:
    """One run: the ledger, the step's ADL queues and liquidated lots, and the outputs."""

    def __init__(self, inputs: Inputs, ledger: Ledger) -> None:
        self.inputs = inputs
        self.ledger = ledger
        self.n = inputs.num_accounts
        self.markets = inputs.num_markets
        self.tick_value = [int(v) for v in inputs.tick_value.tolist()]
        self.queues: dict[tuple[int, bool], AdlQueue] = {}
        self.step_lots = [0] * self.markets
        self.marks: list[int] = []
        self.row = _Row()
        self.series: dict[str, list[int]] = {name: [] for name in SERIES}
        self.accounts = _Accounts(self.n)
        self.house_haircut = 0

    def backstop_price(self, m: int, size: int) -> int:
        """Where the house takes over a position of ``size`` lots in market ``m`` (ticks):
        below the mark for a long, above it for a short, by the slippage plus the
        impact of the lots already closed in the market this step, at least 1 tick."""
        inputs = self.inputs
        impact = inputs.impact_bps * self.step_lots[m] // inputs.depth_lots
        bps = min(MAX_SLIPPAGE_BPS, inputs.slippage_bps + impact)
        mark = self.marks[m]
        if size > 0:
            return max(1, mark * (BPS - bps) // BPS)  # selling a long: floor
        return max(1, -(-mark * (BPS + bps) // BPS))  # buying back a short: ceil

    def liquidate(self, a: int, step: int) -> None:
        """Liquidate ledger account ``a`` against the house if it still is liquidatable."""
        ledger = self.ledger
        if not ledger.is_liquidatable(a):
            return
        prices = {}
        for m in range(self.markets):
            size = ledger.position_size(a, m)
            if size:
                prices[m] = self.backstop_price(m, size)
        try:
            event = ledger.liquidate(a, HOUSE, prices, adl_queues=self.queues)
        except InsufficientMarginError:
            event = self._liquidate_without_adl(a, prices)
        row = self.row
        for m, size, _ in event["closes"]:
            self.step_lots[m] += abs(size)
        deficit: int = event["deficit"]
        row.liquidations += 1
        row.deficit += deficit
        row.bankruptcies += deficit > 0
        for kind, amount in event["stages"]:
            name = _PAID[kind]
            setattr(row, name, getattr(row, name) + amount)
        self._haircuts(event)
        for m, counterparty, size, price in event["adl"]:
            row.adl_fills += 1
            row.adl_lots += abs(size)
            if counterparty != HOUSE:
                i = counterparty - 1
                self.accounts.adl_lots[i] += abs(size)
                # Its trade is +size (it takes the other side of the bankrupt position):
                # the loss is minus that trade's PnL at the mark.
                c = contract(self.tick_value[m])
                self.accounts.adl_loss[i] -= c.pnl(size, c.basis(size, price), self.marks[m])
        self.accounts.liquidated_step[a - 1] = step
        self.accounts.deficit[a - 1] = deficit

    def _liquidate_without_adl(self, a: int, prices: dict[int, int]) -> Event:
        """The ADL path was refused (a counterparty would go below zero equity): redo
        the liquidation with the ADL stage left out; the backstop closes the account."""
        ledger = self.ledger
        full = ledger.waterfall.to_dict()
        stages = [stage for stage in full["stages"] if stage["kind"] != "adl"]
        if len(stages) == len(full["stages"]):
            raise InvariantError("a liquidation without ADL was refused for margin")
        ledger.set_waterfall({**full, "stages": stages})
        try:
            return ledger.liquidate(a, HOUSE, prices, adl_queues=self.queues)
        finally:
            ledger.set_waterfall(full)

    def _haircuts(self, event: Event) -> None:
        for account, amount in event["haircuts"]:
            self.row.haircuts += amount
            self.row.haircut_accounts += 1
            if account == HOUSE:
                self.house_haircut += amount
            else:
                self.accounts.haircut[account - 1] += amount

    def settle(self) -> None:
        """``settle_session()``; its uncovered part moves from socialized to bad debt."""
        event = self.ledger.settle_session()
        self._haircuts(event)
        moved: int = event["bad_debt"]
        self.row.paid_socialized -= moved
        self.row.paid_bad_debt += moved

    def rounds(self, step: int, stuck: set[int]) -> None:
        """Liquidation rounds until a round finds nobody; an account still liquidatable
        after its liquidation is stuck until the end of the step."""
        ledger = self.ledger
        while True:
            found = [a for a in ledger.liquidatable() if a != HOUSE and a not in stuck]
            if not found:
                return
            for a in found:
                self.liquidate(a, step)
                if ledger.is_liquidatable(a):
                    stuck.add(a)

    def push_row(self) -> None:
        """Record the step's row (values after the step)."""
        ledger = self.ledger
        funds = ledger.insurance_fund
        funds += sum(ledger.market_insurance_fund(m) for m in range(self.markets))
        longs = sum(ledger.open_interest(m) for m in range(self.markets))
        values = {
            "insurance_fund": funds,
            "bad_debt": ledger.bad_debt,
            "deferred_loss": ledger.deferred_loss,
            "open_interest": longs,
        }
        for f in fields(_Row):
            values[f.name] = getattr(self.row, f.name)
        for name in SERIES:
            self.series[name].append(values[name])


def _setup(
    inputs: Inputs, waterfall: Mapping[str, Any] | Configuration, granularity: str
) -> Ledger:
    """Markets, the house and the population, their opening fills and the fund."""
    ledger = Ledger()
    first = inputs.prices[0].tolist()
    for m in range(inputs.num_markets):
        ledger.create_market(
            int(inputs.tick_value[m]),
            first[m],
            int(inputs.imr_bps[m]),
            int(inputs.mmr_bps[m]),
            int(inputs.penalty_bps[m]),
        )
    for _ in range(inputs.num_accounts + 1):
        ledger.create_account()
    ledger.deposit(HOUSE, int(inputs.house_collateral))
    for i, amount in enumerate(inputs.collateral.tolist()):
        ledger.deposit(i + 1, amount)
    markets = inputs.market.tolist()
    sizes = inputs.size.tolist()
    entries = inputs.entry.tolist()
    for m in range(inputs.num_markets):
        buyers: list[int] = []
        sellers: list[int] = []
        prices: list[int] = []
        lots: list[int] = []
        for i in range(inputs.num_accounts):
            if markets[i] != m:
                continue
            a = i + 1
            buyers.append(a if sizes[i] > 0 else HOUSE)
            sellers.append(HOUSE if sizes[i] > 0 else a)
            prices.append(entries[i])
            lots.append(abs(sizes[i]))
        if buyers:
            ledger.fill_many(m, buyers, sellers, prices, lots)
    if inputs.insurance_fund > 0:
        ledger.fund_insurance(int(inputs.insurance_fund))
    ledger.set_waterfall(effective_waterfall(waterfall, granularity))
    return ledger


def _column(values: list[int], name: str) -> Int64Array:
    try:
        return np.array(values, dtype=np.int64)
    except OverflowError:
        raise OverflowError(f"the backtest output {name} does not fit in int64") from None


def simulate(
    inputs: Inputs,
    waterfall: Mapping[str, Any] | Configuration,
    granularity: str,
    session_steps: int,
    scan: str = "every",
    progress: Callable[[int], object] | None = None,
) -> dict[str, Any]:
    """Run the backtest of docs/backtests.md over ``inputs`` with the reference ledger.

    Args:
        inputs: the scenario's exact arrays, already validated
            (``mutualize.sim.EngineInputs`` checks them when it is built).
        waterfall: the policy's waterfall: its plain dict form, or an object with
            ``to_dict()`` (a ``mutualize.Waterfall``); the ledger validates it.
        granularity: ``"step"`` or ``"bankruptcy"`` (see :data:`GRANULARITIES`).
        session_steps: steps per session for deferred waterfalls (>= 0; 0: one session,
            settled after the last step).
        scan: ``"index"`` or ``"every"``; the result is the same (the reference always
            checks every account).
        progress: called with the number of steps done, about every 1% of the steps and
            after the last.

    Returns:
        ``{"series": {name: int64 array of length steps}, "accounts": {name: int64 array
        of length accounts}, "totals": {"house_equity", "house_haircut", "bad_debt",
        "insurance_fund_end"}}``, as ``mutualize._core.simulate`` returns; series names
        are :data:`SERIES`, account names ``equity``, ``haircut``, ``adl_lots``,
        ``adl_loss``, ``liquidated_step``, ``deficit``. Money in minor units.

    Raises:
        InvalidInputError: bad inputs, granularity, scan or session_steps, or a waterfall
            the ledger refuses.
        OverflowError: an output that does not fit int64.
        InsufficientMarginError: an ADL counterparty would end below zero equity (the
            ledger refuses the liquidation, which ends the run as in the compiled engine).
    """
    if granularity not in GRANULARITIES:
        raise InvalidInputError(
            f"granularity must be one of {', '.join(GRANULARITIES)}, got {granularity!r}"
        )
    if scan not in SCANS:
        raise InvalidInputError(f"scan must be one of {', '.join(SCANS)}, got {scan!r}")
    if isinstance(session_steps, bool) or not isinstance(session_steps, int) or session_steps < 0:
        raise InvalidInputError(f"session_steps must be an int >= 0, got {session_steps!r}")
    ledger = _setup(inputs, waterfall, granularity)
    timing = ledger.waterfall.timing
    engine = _Engine(inputs, ledger)
    steps = inputs.num_steps
    every = max(1, steps // 100)
    prices = inputs.prices.tolist()
    funding = inputs.funding.tolist()
    for t in range(steps):
        for m, delta in enumerate(funding[t]):
            if delta:
                ledger.apply_funding(m, delta)
        ledger.set_marks(prices[t])
        engine.marks = prices[t]
        engine.queues.clear()
        engine.step_lots = [0] * engine.markets
        engine.row = _Row()
        stuck: set[int] = set()
        boundary = timing == "deferred" and (
            (session_steps > 0 and (t + 1) % session_steps == 0) or t + 1 == steps
        )
        settled = False
        while True:
            engine.rounds(t, stuck)
            # A session boundary settles once (a new session starts even without a loss);
            # a batched step settles while its rounds leave a loss to share.
            pooled = timing == "batched" and ledger.deferred_loss > 0
            if not (pooled or (boundary and not settled)):
                break
            settled = True
            engine.settle()
        engine.push_row()
        # The reference keeps no journal across steps (only the current step's events).
        ledger.journal.clear()
        if progress is not None and ((t + 1) % every == 0 or t + 1 == steps):
            progress(t + 1)
    ledger.check()
    out = engine.accounts
    outcomes = {
        "equity": [ledger.equity(i + 1) for i in range(engine.n)],
        "haircut": out.haircut,
        "adl_lots": out.adl_lots,
        "adl_loss": out.adl_loss,
        "liquidated_step": out.liquidated_step,
        "deficit": out.deficit,
    }
    totals = {
        "house_equity": ledger.equity(HOUSE),
        "house_haircut": engine.house_haircut,
        "bad_debt": ledger.bad_debt,
        "insurance_fund_end": ledger.insurance_fund
        + sum(ledger.market_insurance_fund(m) for m in range(engine.markets)),
    }
    return {
        "series": {name: _column(engine.series[name], name) for name in SERIES},
        "accounts": {name: _column(outcomes[name], name) for name in ACCOUNT_OUTCOMES},
        "totals": {name: totals[name] for name in TOTALS_OUT},
    }
