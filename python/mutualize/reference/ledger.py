"""The pure-Python reference ledger (docs/ledger.md).

A transactional book of one settlement asset and many perpetual markets, written from
the contract alone with Python ints: money in integer minor units, prices in integer
ticks, sizes in signed integer lots, rates in basis points. It is the oracle the
compiled ``mutualize.Ledger`` is differentially tested against, so it favours plain,
checkable code over speed.

Every operation validates its arguments in the contract's order, applies whole or raises
and leaves the state unchanged (the accounts it touched are copied on first write and
put back on failure), appends one event (a plain dict) to ``journal`` and returns it.

Choices where docs/ledger.md is silent (marked ``CONTRACT:`` in the code):

- Arguments are converted where their check stands in the contract's order: amounts
  (prices, sizes, fees, bps, funding deltas) exactly from int / integral Decimal /
  numeric str, else ``AmountTypeError`` (float) or ``InvalidInputError``, and
  ``AmountOverflowError`` outside int64; ids must be ints and any int that is not an
  existing id is an ``InvalidInputError``; ``check_margin`` must be a bool.
- Derived values (upnl, unpaid funding, notional, equity, requirements, session
  profit, bankruptcy price) are exact and raise ``AmountOverflowError`` outside i128
  when an operation or query uses them; ``check()`` sums exactly and never overflows.
- A new flat position (a new account's, or every account's in a new market) has
  ``funding_snapshot`` equal to the market's current ``funding_index``: it owes nothing
  for the past (docs/ledger.md, resolved point 3).
- Sizes in ``closes``, ``adl`` and ``fills`` are signed like the position closed (the
  liquidated or deleveraged account's: positive for a long).
- ``liquidate`` with no deficit: ``stages``, ``haircuts`` and ``adl`` are ``[]``. With
  a deficit: one ``[kind, amount]`` per configured stage in order (0 when it paid
  nothing), then ``["bad_debt", rest]``; the amounts add up to ``deficit``.
- The ADL path's ``deficit`` is ``max(0, -equity)`` at the marks before deleveraging;
  the stages before ``adl`` show 0, ``adl`` shows ``deficit - max(0, -equity after)``.
  A counterparty left below zero equity refuses the whole liquidation
  (``InsufficientMarginError``, as ``deleverage`` does). The ``counterparty``
  argument is validated but unused on that path.
- ``rounding="up"``: the surplus above the target goes to the insurance fund; the
  socialize stage's amount is the target, ``haircuts`` show what was taken, and
  ``settle_session``'s ``collected`` is the sum of the haircuts (surplus included).
- ``settle_session`` allocates with the socialize stage's rule, rounding and max_rate
  (not its base, caps or weights); without a socialize stage, pro_rata exact.
- ``deleverage(counterparties=None)`` ranks with the waterfall's adl stage, or ``Adl()``
  (pnl_leverage) when it has none. ``price="bankruptcy"`` trades at
  ``max(1, bankruptcy price)``: a price is a positive number of ticks (resolved point
  11; the ``bankruptcy_price`` query itself is not clamped).
- Scores / weights lists shorter than the number of accounts: a missing score ranks
  after every scored candidate (by id); a missing weight is 0. A zero basis (PnL% or
  entry undefined) ranks last for pnl_leverage and hyperliquid.
- The socialize stage goes through ``mutualize.reference.allocate``: claims, caps and
  the loss must fit int64 there, else ``AmountOverflowError`` and nothing changes.
- A liquidate event's ``prices`` is recorded as ``None`` or a list of ``[market, price]``
  pairs sorted by market (resolved point 14), so it survives a JSON round trip; the
  method itself takes a mapping, and ``replay`` turns the pairs back into one.
- ``timing="batched"`` (docs/backtests.md, "Batched timing"): the socialize stage
  accrues into ``deferred_loss`` as ``deferred`` does; ``settle_session`` allocates
  the pool over the stage's own base and caps with no account excluded (without a
  socialize stage all of it is bad debt) and starts no new session. ``set_waterfall``
  refuses it together with base ``open_interest`` (``InvalidInputError``).
- ``liquidate(..., adl_queues=)``: per (market, bankrupt side) the full ranking at the
  queue's first use, consumed in order; the cursor passes over the counterparties that
  are flat when the queue is next used (one that changed sides, which only a backstop
  can, is still taken); a queue run dry is ranked afresh once per position. Queue
  changes are not rolled back when the liquidation fails.
- ``fill_many(market, buyers, sellers, prices, sizes)``: the market, then equal lengths,
  then each fill in order (buyer, seller, buyer != seller, price > 0, size > 0) are
  checked before anything changes; the fills then run in order, unchecked and without
  fees, all or nothing. ``set_marks(marks)``: one mark per market, each > 0.
"""

from __future__ import annotations

import hashlib
import json
import numbers
import struct
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from fractions import Fraction
from typing import Any, TypeVar

from mutualize._coerce import as_amount
from mutualize.errors import (
    AmountOverflowError,
    CorruptJournalError,
    CorruptSnapshotError,
    InsufficientMarginError,
    InvalidInputError,
    InvariantError,
    MutualizeError,
    NotLiquidatableError,
)
from mutualize.events import EVENTS, plain_event
from mutualize.reference import allocate
from mutualize.reference.market import Contract, contract
from mutualize.waterfall import (
    Adl,
    FeePool,
    InsuranceFund,
    Socialize,
    Stage,
    Waterfall,
)

__all__ = ["AdlQueue", "AdlQueues", "Event", "Ledger"]

Event = dict[str, Any]
Amount = int | str | Decimal

_L = TypeVar("_L", bound="Ledger")

I64_MIN = -(2**63)
I64_MAX = 2**63 - 1
I128_MIN = -(2**127)
I128_MAX = 2**127 - 1
BPS = 10_000

# The arguments each operation records in its event (and that replay passes back), from
# the one declaration of the events.
_OP_ARGS: dict[str, tuple[str, ...]] = {op: kind.argument_names for op, kind in EVENTS.items()}

_SNAPSHOT_MAGIC = b"MZREFLDG"
_SNAPSHOT_VERSION = 1
# magic | version (u16) | payload length (u64) | sha256(payload) | payload (JSON, UTF-8)
_SNAPSHOT_HEADER = struct.Struct("<8sHQ32s")


def _i128(value: int, what: str) -> int:
    if not I128_MIN <= value <= I128_MAX:
        raise AmountOverflowError(f"{what} = {value} does not fit in i128")
    return value


def _i64(value: int, what: str) -> int:
    if not I64_MIN <= value <= I64_MAX:
        raise AmountOverflowError(f"{what} = {value} does not fit in i64")
    return value


def _sign(value: int) -> int:
    return (value > 0) - (value < 0)


# --------------------------------------------------------------------------- state


@dataclass
class _Market:
    tick_value: int
    mark: int
    imr_bps: int
    mmr_bps: int
    penalty_bps: int
    funding_index: int = 0
    insurance_fund: int = 0  # the market's own fund (per-market InsuranceFund stages)
    # The contract's arithmetic (reference/market.py); fixed by the parameters.
    contract: Contract = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.contract = contract(self.tick_value)


@dataclass
class _Position:
    size: int = 0
    basis: int = 0
    funding_snapshot: int = 0


@dataclass
class _Account:
    collateral: int
    session_start_equity: int
    session_deposits: int
    positions: list[_Position]

    def copy(self) -> _Account:
        return _Account(
            self.collateral,
            self.session_start_equity,
            self.session_deposits,
            [replace(p) for p in self.positions],
        )


@dataclass
class _Saved:
    """What the running operation may change, as it was (see ``Ledger._run``)."""

    accounts: dict[int, _Account]  # on each account's first write
    totals: _Totals
    markets: list[_Market]
    waterfall: Waterfall
    num_accounts: int


@dataclass
class _Totals:
    insurance_fund: int = 0
    fee_pool: int = 0
    bad_debt: int = 0
    deferred_loss: int = 0
    deposits: int = 0
    withdrawals: int = 0


@dataclass
class AdlQueue:
    """One ADL queue (docs/backtests.md, "ADL within a step"): the opposite positions of
    one market and bankrupt side, in the ranking order computed at the queue's first
    use, and ``cursor``, the first entry not yet passed over as flat."""

    order: list[int]
    cursor: int = 0


#: The queues a caller keeps across liquidations, keyed by ``(market, bankrupt side is
#: long)``; a backtest empties the mapping at the start of every step.
AdlQueues = MutableMapping[tuple[int, bool], AdlQueue]


# --------------------------------------------------------------------------- ledger


class Ledger:
    """The reference ledger: every operation of docs/ledger.md, with exact ints.

    Operations (each returns its event and appends it to ``journal``): ``create_market``,
    ``create_account``, ``deposit``, ``withdraw``, ``fund_insurance``, ``fill``,
    ``fill_many``, ``set_mark``, ``set_marks``, ``apply_funding``, ``liquidate``,
    ``deleverage``, ``set_waterfall``, ``settle_session``. Queries: ``equity``,
    ``maintenance``, ``initial``, ``upnl``, ``unpaid_funding``, ``notional``,
    ``session_profit``, ``bankruptcy_price``, ``is_liquidatable``, ``liquidatable``,
    ``check``, ``state``. Persistence:
    ``snapshot`` / ``restore``, ``replay``, and pickling (through the snapshot).

    Money is in minor units, prices in ticks, sizes in signed lots, rates in basis
    points. Amount arguments take ``int``, integral ``Decimal`` or numeric ``str``
    (exactly; floats are refused) and must fit int64; ids are plain ints.
    """

    def __init__(self) -> None:
        self._markets: list[_Market] = []
        self._accounts: list[_Account] = []
        self._totals = _Totals()
        self._waterfall = Waterfall()
        self.journal: list[Event] = []
        # The running operation's undo record (see _run); None outside an operation.
        self._saved: _Saved | None = None
        # Fail the running operation at this many more recorded writes (tests).
        self._fault: int | None = None

    # ------------------------------------------------------------------ transactions
    #
    # The one atomicity mechanism, the shape of the compiled ledger's undo journal
    # (rust/core/src/ledger/undo.rs): every operation runs in _run; it validates, then
    # takes what it writes through _acct / _market, which record the account (on its
    # first write) or count the write; the totals, the markets, the waterfall and the
    # lists' lengths are recorded at the start. Any exception restores all of it
    # (_undo, also a savepoint: liquidation rolls back its direct path with it and
    # deleverages instead). The journal is appended only on success.

    def _run(self, effect: Callable[[], Event]) -> Event:
        """Run one operation: on any exception, put back what it touched."""
        self._saved = _Saved(
            accounts={},
            totals=replace(self._totals),
            markets=[replace(mk) for mk in self._markets],
            waterfall=self._waterfall,
            num_accounts=len(self._accounts),
        )
        try:
            produced = effect()
            # Every event takes its plain form (its keys, in order) from the one
            # declaration of the events, mutualize.events.
            event = plain_event(produced["op"], produced)
        except BaseException:
            self._undo()
            raise
        finally:
            self._saved = None
            self._fault = None
        self.journal.append(event)
        return _copy_event(event)

    def _undo(self) -> None:
        """Restore everything the running operation changed (it stays open: the saved
        copies remain the originals)."""
        saved = self._saved
        assert saved is not None
        del self._accounts[saved.num_accounts :]
        del self._markets[len(saved.markets) :]
        for m, market in enumerate(saved.markets):
            self._markets[m] = replace(market)
        for a, account in saved.accounts.items():
            self._accounts[a] = account.copy()
        for account in self._accounts:
            del account.positions[len(saved.markets) :]  # a market created, then undone
        self._totals = replace(saved.totals)
        self._waterfall = saved.waterfall

    def _step(self) -> None:
        """Counts one recorded write; fails it if a test injected a fault here."""
        if self._fault is not None:
            if self._fault == 0:
                self._fault = None
                raise InvariantError("fault injected by a test")
            self._fault -= 1

    def _inject_fault(self, after: int) -> None:
        """Make the next operation fail at its ``after``-th recorded write (tests)."""
        self._fault = after

    def _acct(self, a: int) -> _Account:
        """Account ``a`` for writing: recorded on its first write of the operation."""
        self._step()
        if self._saved is not None and a not in self._saved.accounts:
            self._saved.accounts[a] = self._accounts[a].copy()
        return self._accounts[a]

    def _market(self, m: int) -> _Market:
        """Market ``m`` for writing (recorded at the start of the operation)."""
        self._step()
        return self._markets[m]

    # ------------------------------------------------------------------ validation

    def _account_id(self, value: object, name: str) -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise InvalidInputError(f"{name} must be an account id (an int), got {value!r}")
        a = int(value)
        if not 0 <= a < len(self._accounts):
            raise InvalidInputError(f"unknown account {a} ({name})")
        return a

    def _market_id(self, value: object, name: str = "market") -> int:
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise InvalidInputError(f"{name} must be a market id (an int), got {value!r}")
        m = int(value)
        if not 0 <= m < len(self._markets):
            raise InvalidInputError(f"unknown market {m} ({name})")
        return m

    @staticmethod
    def _positive(value: object, name: str) -> int:
        number = as_amount(value, name)
        if number <= 0:
            raise InvalidInputError(f"{name} must be > 0, got {number}")
        return number

    @staticmethod
    def _non_negative(value: object, name: str) -> int:
        number = as_amount(value, name)
        if number < 0:
            raise InvalidInputError(f"{name} must be >= 0, got {number}")
        return number

    # ------------------------------------------------------------------ derived values

    def _upnl_raw(self, a: int, m: int) -> int:
        p = self._accounts[a].positions[m]
        mk = self._markets[m]
        return mk.contract.pnl(p.size, p.basis, mk.mark)

    def _unpaid_raw(self, a: int, m: int) -> int:
        p = self._accounts[a].positions[m]
        return -p.size * (self._markets[m].funding_index - p.funding_snapshot)

    def _equity_raw(self, a: int) -> int:
        acc = self._accounts[a]
        total = acc.collateral
        for m in range(len(self._markets)):
            if acc.positions[m].size:
                total += self._upnl_raw(a, m) + self._unpaid_raw(a, m)
        return total

    def _equity(self, a: int) -> int:
        return _i128(self._equity_raw(a), f"equity of account {a}")

    def _notional(self, a: int, m: int) -> int:
        mk = self._markets[m]
        size = self._accounts[a].positions[m].size
        return _i128(mk.contract.notional(size, mk.mark), f"notional of account {a} in market {m}")

    def _requirement_raw(self, a: int, initial: bool) -> int:
        total = 0
        for m, mk in enumerate(self._markets):
            size = self._accounts[a].positions[m].size
            if size:
                total += mk.contract.margin(size, mk.mark, mk.imr_bps if initial else mk.mmr_bps)
        return total

    def _requirement(self, a: int, initial: bool) -> int:
        return _i128(self._requirement_raw(a, initial), f"margin requirement of account {a}")

    def _session_profit(self, a: int) -> int:
        acc = self._accounts[a]
        value = self._equity(a) - acc.session_start_equity - acc.session_deposits
        return _i128(value, f"session profit of account {a}")

    def _is_liquidatable(self, a: int) -> bool:
        """Compared exactly: an account whose figures outgrow i128 is still ranked, and
        does not stop the others from being ranked (issue 9, item 6)."""
        acc = self._accounts[a]
        if not any(p.size for p in acc.positions):
            return False
        return self._equity_raw(a) < self._requirement_raw(a, initial=False)

    def _bankruptcy_price(self, a: int, m: int) -> int:
        mk = self._markets[m]
        size = self._accounts[a].positions[m].size
        price = mk.contract.bankruptcy_price(size, mk.mark, self._equity(a))
        return _i128(price, "bankruptcy price")

    # ------------------------------------------------------------------ queries

    def upnl(self, a: int, m: int) -> int:
        """Unrealized PnL of account ``a`` in market ``m`` at the mark (the contract's PnL;
        linear: ``(size * mark - basis) * tick_value``), minor units."""
        a = self._account_id(a, "account")
        m = self._market_id(m)
        return _i128(self._upnl_raw(a, m), f"upnl of account {a} in market {m}")

    def unpaid_funding(self, a: int, m: int) -> int:
        """Funding owed to (> 0) or by (< 0) the position since its last settlement:
        ``-size * (funding_index - funding_snapshot)`` (minor units)."""
        a = self._account_id(a, "account")
        m = self._market_id(m)
        return _i128(self._unpaid_raw(a, m), f"unpaid funding of account {a} in market {m}")

    def notional(self, a: int, m: int) -> int:
        """Notional at the mark (linear: ``|size| * mark * tick_value``), minor units."""
        return self._notional(self._account_id(a, "account"), self._market_id(m))

    def position_size(self, a: int, m: int) -> int:
        """Account ``a``'s signed position in market ``m`` (lots; > 0 long)."""
        a = self._account_id(a, "account")
        return self._accounts[a].positions[self._market_id(m)].size

    def open_interest(self, m: int) -> int:
        """Market ``m``'s open interest: the sum of its long positions (lots)."""
        m = self._market_id(m)
        return sum(max(0, acc.positions[m].size) for acc in self._accounts)

    def market_insurance_fund(self, m: int) -> int:
        """Market ``m``'s own insurance fund (minor units; used by per-market stages)."""
        return self._markets[self._market_id(m)].insurance_fund

    def equity(self, a: int) -> int:
        """``collateral + sum over markets of (upnl + unpaid_funding)`` (minor units)."""
        return self._equity(self._account_id(a, "account"))

    def maintenance(self, a: int) -> int:
        """Sum over markets of ``ceil(notional * mmr_bps / 10_000)`` (minor units)."""
        return self._requirement(self._account_id(a, "account"), initial=False)

    def initial(self, a: int) -> int:
        """Sum over markets of ``ceil(notional * imr_bps / 10_000)`` (minor units)."""
        return self._requirement(self._account_id(a, "account"), initial=True)

    def session_profit(self, a: int) -> int:
        """``equity - session_start_equity - session_deposits`` (minor units)."""
        return self._session_profit(self._account_id(a, "account"))

    def bankruptcy_price(self, a: int, m: int) -> int:
        """The price (ticks) at which closing the position leaves equity at 0, other
        marks held; rounded up for a long, down for a short. May be <= 0 for a long.
        Raises ``InvalidInputError`` for a flat position."""
        a = self._account_id(a, "account")
        m = self._market_id(m)
        if self._accounts[a].positions[m].size == 0:
            raise InvalidInputError(f"account {a} has no position in market {m}")
        return self._bankruptcy_price(a, m)

    def is_liquidatable(self, a: int) -> bool:
        """Some position is non-zero and ``equity < maintenance``."""
        return self._is_liquidatable(self._account_id(a, "account"))

    def liquidatable(self) -> list[int]:
        """The ids of every liquidatable account, ascending."""
        return [a for a in range(len(self._accounts)) if self._is_liquidatable(a)]

    @property
    def waterfall(self) -> Waterfall:
        """The current waterfall configuration."""
        return self._waterfall

    @property
    def insurance_fund(self) -> int:
        """The insurance fund's balance (minor units)."""
        return self._totals.insurance_fund

    @property
    def fee_pool(self) -> int:
        """The fee pool's balance (minor units)."""
        return self._totals.fee_pool

    @property
    def bad_debt(self) -> int:
        """Residual bad debt (minor units)."""
        return self._totals.bad_debt

    @property
    def deferred_loss(self) -> int:
        """Deficits awaiting ``settle_session`` (minor units)."""
        return self._totals.deferred_loss

    @property
    def num_accounts(self) -> int:
        """How many accounts exist (ids are 0 .. num_accounts - 1)."""
        return len(self._accounts)

    @property
    def num_markets(self) -> int:
        """How many markets exist (ids are 0 .. num_markets - 1)."""
        return len(self._markets)

    def check(self) -> None:
        """Raise ``InvariantError`` naming the first broken invariant: conservation,
        then balanced open interest per market, then the pools' signs."""
        t = self._totals
        held = t.insurance_fund + t.fee_pool - t.bad_debt - t.deferred_loss
        held += sum(mk.insurance_fund for mk in self._markets)
        for a, acc in enumerate(self._accounts):
            held += acc.collateral
            for m in range(len(self._markets)):
                held += self._upnl_raw(a, m) + self._unpaid_raw(a, m)
        if held != t.deposits - t.withdrawals:
            raise InvariantError(
                f"conservation: collateral + upnl + unpaid funding + insurance_fund + "
                f"fee_pool - bad_debt - deferred_loss = {held} but deposits - withdrawals "
                f"= {t.deposits - t.withdrawals}"
            )
        for m in range(len(self._markets)):
            longs = sum(
                acc.positions[m].size for acc in self._accounts if acc.positions[m].size > 0
            )
            shorts = -sum(
                acc.positions[m].size for acc in self._accounts if acc.positions[m].size < 0
            )
            if longs != shorts:
                raise InvariantError(
                    f"open interest of market {m}: longs {longs} != shorts {shorts}"
                )
        for m, mk in enumerate(self._markets):
            if mk.insurance_fund < 0:
                raise InvariantError(
                    f"insurance fund of market {m} = {mk.insurance_fund} is negative"
                )
        for name in ("insurance_fund", "fee_pool", "bad_debt", "deferred_loss"):
            value = getattr(t, name)
            if value < 0:
                raise InvariantError(f"{name} = {value} is negative")

    def state(self) -> dict[str, Any]:
        """The whole state as plain Python values (docs/ledger.md, "State, as compared
        between implementations")."""
        t = self._totals
        return {
            "markets": [
                {
                    "tick_value": mk.tick_value,
                    "mark": mk.mark,
                    "imr_bps": mk.imr_bps,
                    "mmr_bps": mk.mmr_bps,
                    "penalty_bps": mk.penalty_bps,
                    "funding_index": mk.funding_index,
                    "insurance_fund": mk.insurance_fund,
                }
                for mk in self._markets
            ],
            "accounts": [
                {
                    "collateral": acc.collateral,
                    "session_start_equity": acc.session_start_equity,
                    "session_deposits": acc.session_deposits,
                    "positions": [
                        {"size": p.size, "basis": p.basis, "funding_snapshot": p.funding_snapshot}
                        for p in acc.positions
                    ],
                }
                for acc in self._accounts
            ],
            "insurance_fund": t.insurance_fund,
            "fee_pool": t.fee_pool,
            "bad_debt": t.bad_debt,
            "deferred_loss": t.deferred_loss,
            "deposits": t.deposits,
            "withdrawals": t.withdrawals,
            "waterfall": self._waterfall.to_dict(),
        }

    def __repr__(self) -> str:
        t = self._totals
        return (
            f"Ledger(markets={len(self._markets)}, accounts={len(self._accounts)}, "
            f"insurance_fund={t.insurance_fund}, fee_pool={t.fee_pool}, "
            f"bad_debt={t.bad_debt}, deferred_loss={t.deferred_loss}, "
            f"events={len(self.journal)})"
        )

    # ------------------------------------------------------------------ position change

    def _trade(self, a: int, m: int, delta: int, price: int) -> int:
        """``trade(a, m, delta, price)`` of the contract; returns the collateral change
        (settled funding plus realized PnL)."""
        acc = self._acct(a)
        pos = acc.positions[m]
        mk = self._markets[m]
        start = acc.collateral
        # 1. settle funding
        acc.collateral = _i128(
            acc.collateral - pos.size * (mk.funding_index - pos.funding_snapshot),
            f"collateral of account {a}",
        )
        pos.funding_snapshot = mk.funding_index
        if pos.size == 0 or _sign(delta) == _sign(pos.size):
            self._open(a, pos, mk, delta, price)  # 2. open or add
        elif abs(delta) <= abs(pos.size):
            self._reduce(a, acc, pos, mk, delta, price)  # 3. reduce or close
        else:  # 4. cross zero: close whole, open the rest at the same price
            close = -pos.size
            self._reduce(a, acc, pos, mk, close, price)
            self._open(a, pos, mk, delta - close, price)
        return acc.collateral - start

    @staticmethod
    def _open(a: int, pos: _Position, mk: _Market, delta: int, price: int) -> None:
        size = _i64(pos.size + delta, f"position size of account {a}")
        basis = _i128(pos.basis + mk.contract.basis(delta, price), f"basis of account {a}")
        pos.size, pos.basis = size, basis

    @staticmethod
    def _reduce(a: int, acc: _Account, pos: _Position, mk: _Market, delta: int, price: int) -> None:
        removed = abs(pos.basis) * abs(delta) // abs(pos.size)  # trunc toward zero
        if pos.basis < 0:
            removed = -removed
        # The closed lots (-delta, entry value `removed`) realize the contract's PnL.
        realized = mk.contract.pnl(-delta, removed, price)
        collateral = _i128(acc.collateral + realized, f"collateral of account {a}")
        acc.collateral = collateral
        pos.basis -= removed
        pos.size += delta

    # ------------------------------------------------------------------ operations

    def create_market(
        self,
        tick_value: Amount,
        mark: Amount,
        imr_bps: Amount,
        mmr_bps: Amount,
        penalty_bps: Amount = 0,
    ) -> Event:
        """Add a market; its id is the event's ``"market"``.

        ``tick_value``: minor units per lot per tick (> 0); ``mark``: ticks (> 0);
        ``0 < mmr_bps <= imr_bps <= 10_000``; ``0 <= penalty_bps <= 10_000``. Every
        account gets a flat position in it.
        """

        def effect() -> Event:
            tv = self._positive(tick_value, "tick_value")
            mk = self._positive(mark, "mark")
            imr = as_amount(imr_bps, "imr_bps")
            mmr = as_amount(mmr_bps, "mmr_bps")
            if not 0 < mmr <= imr <= BPS:
                raise InvalidInputError(
                    f"need 0 < mmr_bps <= imr_bps <= 10_000, got mmr_bps={mmr}, imr_bps={imr}"
                )
            pen = as_amount(penalty_bps, "penalty_bps")
            if not 0 <= pen <= BPS:
                raise InvalidInputError(f"need 0 <= penalty_bps <= 10_000, got {pen}")
            self._step()
            self._markets.append(_Market(tv, mk, imr, mmr, pen))
            for acc in self._accounts:
                # a new market's funding index is 0: so is every new snapshot
                acc.positions.append(_Position(funding_snapshot=self._markets[-1].funding_index))
            return {
                "op": "create_market",
                "tick_value": tv,
                "mark": mk,
                "imr_bps": imr,
                "mmr_bps": mmr,
                "penalty_bps": pen,
                "market": len(self._markets) - 1,
            }

        return self._run(effect)

    def create_account(self) -> Event:
        """Add an account with nothing: collateral 0, a flat position in every market;
        its id is the event's ``"account"``."""

        def effect() -> Event:
            # Resolved point 3: a new flat position's funding_snapshot is the market's
            # current funding index (it owes nothing for the past).
            positions = [_Position(funding_snapshot=mk.funding_index) for mk in self._markets]
            self._step()
            self._accounts.append(_Account(0, 0, 0, positions))
            return {"op": "create_account", "account": len(self._accounts) - 1}

        return self._run(effect)

    def deposit(self, account: int, amount: Amount) -> Event:
        """External money in: ``collateral``, ``session_deposits`` and ``deposits``
        rise by ``amount`` (minor units, > 0)."""

        def effect() -> Event:
            a = self._account_id(account, "account")
            amt = self._positive(amount, "amount")
            acc = self._acct(a)
            collateral = _i128(acc.collateral + amt, f"collateral of account {a}")
            session = _i128(acc.session_deposits + amt, f"session deposits of account {a}")
            deposits = _i128(self._totals.deposits + amt, "deposits")
            acc.collateral, acc.session_deposits = collateral, session
            self._totals.deposits = deposits
            return {"op": "deposit", "account": a, "amount": amt}

        return self._run(effect)

    def withdraw(self, account: int, amount: Amount) -> Event:
        """External money out (minor units, > 0). Refused with
        ``InsufficientMarginError`` if ``amount > collateral``, if equity afterwards is
        below the initial requirement, or (``lock_session_profit``) if it would leave
        less than the initial requirement once positive session profit is set aside."""

        def effect() -> Event:
            a = self._account_id(account, "account")
            amt = self._positive(amount, "amount")
            acc = self._accounts[a]
            if amt > acc.collateral:
                raise InsufficientMarginError(
                    f"account {a} cannot withdraw {amt}: collateral is {acc.collateral}"
                )
            equity_after = self._equity(a) - amt
            required = self._requirement(a, initial=True)
            if equity_after < required:
                raise InsufficientMarginError(
                    f"account {a} cannot withdraw {amt}: equity would be {equity_after}, "
                    f"below the initial requirement {required}"
                )
            if self._waterfall.lock_session_profit:
                profit = equity_after - acc.session_start_equity - (acc.session_deposits - amt)
                if equity_after - max(0, profit) < required:
                    raise InsufficientMarginError(
                        f"account {a} cannot withdraw {amt}: session profit {profit} is locked "
                        f"until settlement and equity without it would be "
                        f"{equity_after - max(0, profit)}, below the initial requirement "
                        f"{required}"
                    )
            acc = self._acct(a)
            collateral = _i128(acc.collateral - amt, f"collateral of account {a}")
            session = _i128(acc.session_deposits - amt, f"session deposits of account {a}")
            withdrawals = _i128(self._totals.withdrawals + amt, "withdrawals")
            acc.collateral, acc.session_deposits = collateral, session
            self._totals.withdrawals = withdrawals
            return {"op": "withdraw", "account": a, "amount": amt}

        return self._run(effect)

    def fund_insurance(self, amount: Amount, market: int | None = None) -> Event:
        """External money (minor units, > 0) into the shared insurance fund, or into
        ``market``'s own fund."""

        def effect() -> Event:
            m = None if market is None else self._market_id(market)
            amt = self._positive(amount, "amount")
            deposits = _i128(self._totals.deposits + amt, "deposits")
            if m is None:
                self._totals.insurance_fund = _i128(
                    self._totals.insurance_fund + amt, "insurance_fund"
                )
            else:
                mk = self._market(m)
                mk.insurance_fund = _i128(mk.insurance_fund + amt, f"insurance fund of {m}")
            self._totals.deposits = deposits
            return {"op": "fund_insurance", "amount": amt, "market": m}

        return self._run(effect)

    def fill(
        self,
        buyer: int,
        seller: int,
        market: int,
        price: Amount,
        size: Amount,
        buyer_fee: Amount = 0,
        seller_fee: Amount = 0,
        check_margin: bool = True,
    ) -> Event:
        """A trade of ``size`` lots (> 0) at ``price`` ticks (> 0): the buyer's position
        rises, the seller's falls; each pays its fee (minor units, >= 0) into the fee
        pool. With ``check_margin``, a side whose ``|size|`` grew must end with
        ``equity >= initial`` (buyer checked first), else ``InsufficientMarginError``.

        The event's ``buyer_realized`` / ``seller_realized`` are each side's collateral
        change from the trade before its fee (settled funding plus realized PnL).
        """

        def effect() -> Event:
            b = self._account_id(buyer, "buyer")
            s = self._account_id(seller, "seller")
            if b == s:
                raise InvalidInputError(f"buyer and seller are the same account {b}")
            m = self._market_id(market)
            p = self._positive(price, "price")
            q = self._positive(size, "size")
            bf = self._non_negative(buyer_fee, "buyer_fee")
            sf = self._non_negative(seller_fee, "seller_fee")
            if not isinstance(check_margin, bool):
                raise InvalidInputError(f"check_margin must be a bool, got {check_margin!r}")
            before = {b: abs(self._accounts[b].positions[m].size)}
            before[s] = abs(self._accounts[s].positions[m].size)
            buyer_realized = self._trade(b, m, q, p)
            seller_realized = self._trade(s, m, -q, p)
            for a, fee in ((b, bf), (s, sf)):
                if fee:
                    acc = self._acct(a)
                    acc.collateral = _i128(acc.collateral - fee, f"collateral of account {a}")
                    self._totals.fee_pool = _i128(self._totals.fee_pool + fee, "fee_pool")
            if check_margin:
                for a, side in ((b, "buyer"), (s, "seller")):
                    if abs(self._accounts[a].positions[m].size) > before[a]:
                        equity = self._equity(a)
                        required = self._requirement(a, initial=True)
                        if equity < required:
                            raise InsufficientMarginError(
                                f"{side} {a}: equity {equity} after the fill is below the "
                                f"initial requirement {required}"
                            )
            return {
                "op": "fill",
                "buyer": b,
                "seller": s,
                "market": m,
                "price": p,
                "size": q,
                "buyer_fee": bf,
                "seller_fee": sf,
                "check_margin": check_margin,
                "buyer_realized": buyer_realized,
                "seller_realized": seller_realized,
            }

        return self._run(effect)

    def fill_many(
        self,
        market: int,
        buyers: Iterable[int],
        sellers: Iterable[int],
        prices: Iterable[Amount],
        sizes: Iterable[Amount],
    ) -> Event:
        """A batch of fills in one market (parallel sequences or int64 arrays: buyer,
        seller, price in ticks, size in lots): in order, without fees or margin check,
        all or nothing. Checks, before anything changes: the market, equal lengths, then
        each fill in order (buyer, seller, buyer != seller, price > 0, size > 0). The
        event records the four columns as lists."""

        def effect() -> Event:
            m = self._market_id(market)
            columns = {
                "buyers": _column(buyers, "buyers"),
                "sellers": _column(sellers, "sellers"),
                "prices": _column(prices, "prices"),
                "sizes": _column(sizes, "sizes"),
            }
            n = len(columns["buyers"])
            for name in ("sellers", "prices", "sizes"):
                if len(columns[name]) != n:
                    raise InvalidInputError(
                        f"fill_many: {name} has {len(columns[name])} entries, buyers {n}"
                    )
            fills: list[tuple[int, int, int, int]] = []
            for i in range(n):
                b = self._account_id(columns["buyers"][i], f"buyers[{i}]")
                s = self._account_id(columns["sellers"][i], f"sellers[{i}]")
                if b == s:
                    raise InvalidInputError(f"fill {i}: buyer and seller are the same account {b}")
                p = self._positive(columns["prices"][i], f"prices[{i}]")
                q = self._positive(columns["sizes"][i], f"sizes[{i}]")
                fills.append((b, s, p, q))
            for b, s, p, q in fills:
                self._trade(b, m, q, p)
                self._trade(s, m, -q, p)
            return {
                "op": "fill_many",
                "market": m,
                "buyers": [f[0] for f in fills],
                "sellers": [f[1] for f in fills],
                "prices": [f[2] for f in fills],
                "sizes": [f[3] for f in fills],
            }

        return self._run(effect)

    def set_mark(self, market: int, price: Amount) -> Event:
        """Set the market's mark price (ticks, > 0)."""

        def effect() -> Event:
            m = self._market_id(market)
            p = self._positive(price, "price")
            self._market(m).mark = p
            return {"op": "set_mark", "market": m, "price": p}

        return self._run(effect)

    def set_marks(self, marks: Iterable[Amount]) -> Event:
        """Set every market's mark at once: one price (ticks, > 0) per market, in market
        order; the event records them as a list."""

        def effect() -> Event:
            values = _column(marks, "marks")
            if len(values) != len(self._markets):
                raise InvalidInputError(
                    f"set_marks needs one mark per market ({len(self._markets)}), got {len(values)}"
                )
            checked = [self._positive(v, f"marks[{m}]") for m, v in enumerate(values)]
            for m, price in enumerate(checked):
                self._market(m).mark = price
            return {"op": "set_marks", "marks": checked}

        return self._run(effect)

    def apply_funding(self, market: int, delta: Amount) -> Event:
        """Move the market's cumulative funding index by ``delta`` minor units per lot
        (positive: longs pay shorts). Positions settle it when next traded; until then
        it counts in equity as unpaid funding."""

        def effect() -> Event:
            m = self._market_id(market)
            d = as_amount(delta, "delta")
            mk = self._market(m)
            mk.funding_index = _i128(mk.funding_index + d, f"funding index of market {m}")
            return {"op": "apply_funding", "market": m, "delta": d}

        return self._run(effect)

    def set_waterfall(self, waterfall: Waterfall | Mapping[str, Any]) -> Event:
        """Replace the waterfall configuration (a ``Waterfall`` or its plain dict)."""

        def effect() -> Event:
            config = _ledger_waterfall(Waterfall.from_dict(waterfall))
            self._step()
            self._waterfall = config
            return {"op": "set_waterfall", "waterfall": config.to_dict()}

        return self._run(effect)

    # ------------------------------------------------------------------ deleveraging

    def _price_spec(self, value: object) -> int | str:
        if isinstance(value, str):
            if value in ("bankruptcy", "mark"):
                return value
            raise InvalidInputError(
                f"price must be 'bankruptcy', 'mark' or an int > 0 (ticks), got {value!r}"
            )
        return self._positive(value, "price")

    def _candidates(self, a: int, m: int) -> list[int]:
        sign = _sign(self._accounts[a].positions[m].size)
        return [
            c
            for c, acc in enumerate(self._accounts)
            if c != a and _sign(acc.positions[m].size) == -sign
        ]

    def _ranked(self, a: int, m: int, stage: Adl) -> list[int]:
        """Opposite positions to ``a``'s in ``m``, best-ranked first (score descending,
        ties to the smaller id)."""
        candidates = self._candidates(a, m)
        if not candidates:
            return []
        if stage.ranking == "random":
            k = stage.seed % len(candidates)
            return candidates[k:] + candidates[:k]
        keys: list[tuple[int, Fraction, int]] = []
        for c in candidates:
            score = self._score(c, m, stage)
            # group 1 ranks after every scored candidate, by id
            keys.append((0, -score, c) if score is not None else (1, Fraction(0), c))
        keys.sort()
        return [c for _, _, c in keys]

    def _score(self, c: int, m: int, stage: Adl) -> Fraction | None:
        """Candidate ``c``'s exact ranking score, or ``None`` to rank it last."""
        if stage.ranking == "pnl":
            return Fraction(self._upnl_raw(c, m))
        if stage.ranking == "scores":
            scores = stage.scores or ()
            # CONTRACT: an account beyond the scores list (created after the waterfall
            # was set) ranks after every scored one, by id.
            return Fraction(scores[c]) if c < len(scores) else None
        pos = self._accounts[c].positions[m]
        mk = self._markets[m]
        equity = self._equity(c)
        notional = self._notional(c, m)
        if equity <= 0:
            return None
        if stage.ranking == "pnl_leverage":
            cost = mk.contract.cost(pos.basis)
            if cost == 0:
                return None  # CONTRACT: PnL% undefined (zero basis): ranks last
            upnl = self._upnl_raw(c, m)
            # pnl_pct = upnl / cost, leverage = notional / equity
            if upnl >= 0:
                return Fraction(upnl * notional, cost * equity)
            return Fraction(upnl * equity, cost * notional)
        # hyperliquid: (mark / entry) * (notional / equity); for a short the price ratio
        # inverts.
        mark, entry = mk.contract.mark_over_entry(pos.size, pos.basis, mk.mark)
        if pos.size > 0:
            num, den = mark * notional, entry * equity
        else:
            num, den = entry * notional, mark * equity
        if den == 0:
            return None  # CONTRACT: zero entry price: ranks last
        return Fraction(num, den)

    def _adl_price(self, a: int, m: int, spec: int | str) -> int:
        """The deleveraging price (ticks) of ``a``'s position in ``m``, fixed at the start."""
        if spec == "bankruptcy":
            # Resolved point 11: at least one tick (a long that cannot go bankrupt has a
            # bankruptcy price <= 0; the query returns it as is, a trade cannot use it).
            return max(1, self._bankruptcy_price(a, m))
        if spec == "mark":
            return self._markets[m].mark
        return int(spec)

    def _deleverage(
        self, a: int, m: int, counterparties: Sequence[int], spec: int | str
    ) -> list[list[int]]:
        """Close ``a``'s position in ``m`` against ``counterparties`` in order; returns
        the fills ``[counterparty, size, price]`` (size signed like ``a``'s position)."""
        return self._deleverage_at(a, m, counterparties, self._adl_price(a, m, spec))

    def _deleverage_at(
        self, a: int, m: int, counterparties: Iterable[int], price: int
    ) -> list[list[int]]:
        """The deleveraging loop at a fixed ``price`` (ticks): each counterparty in turn
        gives ``min(remaining, |its size|)`` lots (a flat one is passed over), then every
        one touched must keep ``equity >= 0``."""
        size = self._accounts[a].positions[m].size
        sign = _sign(size)
        remaining = abs(size)
        fills: list[list[int]] = []
        for c in counterparties:
            if remaining == 0:
                break
            held = self._accounts[c].positions[m].size
            if _sign(held) != -sign:
                continue  # gone flat, or to a's side, since it was queued
            q = min(remaining, abs(held))
            self._trade(a, m, -sign * q, price)
            self._trade(c, m, sign * q, price)
            remaining -= q
            fills.append([c, sign * q, price])  # CONTRACT: signed like a's position
        for c, _, _ in fills:
            equity = self._equity(c)
            if equity < 0:
                raise InsufficientMarginError(
                    f"deleveraging account {a} in market {m} at {price} would leave "
                    f"counterparty {c} with equity {equity} < 0"
                )
        return fills

    def _queue_rest(self, a: int, m: int, stage: Adl, queues: AdlQueues) -> list[int]:
        """The rest of the queue of ``a``'s market and side (ranked now if it is new),
        its cursor moved past the counterparties that are flat or no longer opposite."""
        key = (m, self._accounts[a].positions[m].size > 0)
        queue = queues.get(key)
        if queue is None:
            queue = queues[key] = AdlQueue(self._ranked(a, m, stage))
        long = key[1]
        while queue.cursor < len(queue.order):
            held = self._accounts[queue.order[queue.cursor]].positions[m].size
            if held != 0 and (held > 0) != long:
                break
            queue.cursor += 1
        return queue.order[queue.cursor :]

    def _deleverage_queued(self, a: int, m: int, stage: Adl, queues: AdlQueues) -> list[list[int]]:
        """Deleverage ``a``'s position in ``m`` against its queue, at the price fixed at
        the start; a queue that runs dry first is ranked afresh once (positions opened
        since it was ranked, such as the backstop's, join it)."""
        price = self._adl_price(a, m, stage.price)
        long = self._accounts[a].positions[m].size > 0
        fills = self._deleverage_at(a, m, self._queue_rest(a, m, stage, queues), price)
        if self._accounts[a].positions[m].size != 0:
            del queues[(m, long)]
            fills += self._deleverage_at(a, m, self._queue_rest(a, m, stage, queues), price)
        return fills

    def _adl_stage(self) -> Adl:
        stage = self._waterfall.stage("adl")
        # CONTRACT: deleverage(counterparties=None) ranks with the waterfall's adl stage,
        # or with Adl() (pnl_leverage) when the waterfall has none.
        return stage if isinstance(stage, Adl) else Adl()

    def deleverage(
        self,
        account: int,
        market: int,
        counterparties: Sequence[int] | None = None,
        price: int | str = "bankruptcy",
    ) -> Event:
        """Close ``account``'s position in ``market`` against opposite positions.

        ``counterparties``: account ids taken in order (each distinct, not ``account``,
        holding a position of the opposite sign), or ``None`` for the waterfall's ADL
        ranking. ``price``: ``"bankruptcy"`` (computed once at the start), ``"mark"``
        or ticks (> 0). Each counterparty gives ``min(remaining, |its size|)``. Every
        counterparty touched must end with ``equity >= 0``, else
        ``InsufficientMarginError`` and nothing changes. The event's ``fills`` are
        ``[counterparty, size, price]``, ``size`` signed like the closed position.
        """

        def effect() -> Event:
            a = self._account_id(account, "account")
            m = self._market_id(market)
            size = self._accounts[a].positions[m].size
            if size == 0:
                raise InvalidInputError(f"account {a} has no position in market {m}")
            given: list[int] | None = None
            if counterparties is not None:
                if isinstance(counterparties, str | bytes | Mapping) or not isinstance(
                    counterparties, Iterable
                ):
                    raise InvalidInputError("counterparties must be a list of account ids")
                given = []
                for i, value in enumerate(counterparties):
                    c = self._account_id(value, f"counterparties[{i}]")
                    if c == a:
                        raise InvalidInputError(f"counterparties[{i}] is the account {a} itself")
                    if c in given:
                        raise InvalidInputError(f"counterparty {c} is listed twice")
                    if _sign(self._accounts[c].positions[m].size) != -_sign(size):
                        raise InvalidInputError(
                            f"counterparty {c} holds no position opposite to account {a}'s "
                            f"in market {m}"
                        )
                    given.append(c)
            spec = self._price_spec(price)
            order = given if given is not None else self._ranked(a, m, self._adl_stage())
            fills = self._deleverage(a, m, order, spec)
            return {
                "op": "deleverage",
                "account": a,
                "market": m,
                "counterparties": given,
                "price": spec,
                "fills": fills,
            }

        return self._run(effect)

    # ------------------------------------------------------------------ the waterfall

    def _credit(self, a: int, amount: int) -> None:
        if amount:
            acc = self._acct(a)
            acc.collateral = _i128(acc.collateral + amount, f"collateral of account {a}")

    def _allocate(
        self, claims: list[int], loss: int, stage: Socialize, caps: list[int] | None
    ) -> tuple[list[list[int]], int, int]:
        """Haircut ``loss`` over ``claims`` with the stage's rule; returns the non-zero
        haircuts ``[account, amount]``, the amount covered and the surplus (which goes
        to the insurance fund)."""
        rate = stage.rate
        result = allocate(
            claims,
            loss,
            rule=stage.rule,
            rounding=stage.rounding,
            caps=caps,
            max_rate=None if rate is None else Fraction(rate[0], rate[1]),
        )
        haircuts: list[list[int]] = []
        for i, cut in enumerate(result.haircuts.tolist()):
            if cut:
                acc = self._acct(i)
                acc.collateral = _i128(acc.collateral - cut, f"collateral of account {i}")
                haircuts.append([i, cut])
        # CONTRACT: rounding="up" collects a surplus above the target: it goes to the
        # insurance fund (mechanism.md section 3); the stage is credited the target.
        surplus = result.surplus
        if surplus:
            self._totals.insurance_fund = _i128(
                self._totals.insurance_fund + surplus, "insurance_fund"
            )
        return haircuts, result.total - surplus, surplus

    def _socialize(
        self, a: int, deficit: int, stage: Socialize, first_market: int
    ) -> tuple[int, list[list[int]]]:
        """The immediate socialize stage: what it pays and the haircuts."""
        n = len(self._accounts)
        claims = [0] * n
        caps: list[int] | None = None
        if stage.base in ("open_interest", "weights"):
            caps = [0] * n
        weights = stage.weights or ()
        # open_interest: shares follow |size| in the bankrupt market (Drift's funding
        # index charges per unit of position), scaled so that the claims can absorb the
        # whole deficit; each haircut is capped by the account's positive equity.
        per_lot = 1
        if stage.base == "open_interest":
            lots = sum(
                abs(self._accounts[i].positions[first_market].size) for i in range(n) if i != a
            )
            per_lot = max(1, -(-deficit // lots)) if lots else 1
        for i in range(n):
            if i == a:
                continue  # the bankrupt account's claim (and cap) is 0
            if stage.base == "open_interest":
                size = abs(self._accounts[i].positions[first_market].size)
                claims[i] = size * per_lot
            else:
                claims[i] = self._claim(i, stage.base, weights)
            if caps is not None:
                caps[i] = max(0, self._equity(i))
        haircuts, paid, _ = self._allocate(claims, deficit, stage, caps)
        return paid, haircuts

    def _claim(self, i: int, base: str, weights: Sequence[int]) -> int:
        """Account ``i``'s claim (minor units) under a base other than open_interest."""
        if base == "session_profit":
            return max(0, self._session_profit(i))
        if base == "unrealized_pnl":
            return max(0, sum(self._upnl_raw(i, m) for m in range(len(self._markets))))
        if base == "equity":
            return max(0, self._equity(i))
        # CONTRACT: accounts beyond the weights list have weight 0.
        return weights[i] if i < len(weights) else 0

    def _settle_batch(self, stage: Stage | None) -> tuple[list[list[int]], int, int]:
        """Batched timing: ``deferred_loss`` allocated once over the socialize stage's own
        base, rule, rounding, caps and max_rate, no account excluded. Returns the
        haircuts, what they collected (surplus included) and what moves to bad debt
        (all of it without a socialize stage)."""
        loss = self._totals.deferred_loss
        if not isinstance(stage, Socialize):
            return [], 0, loss
        n = len(self._accounts)
        weights = stage.weights or ()
        claims = [self._claim(i, stage.base, weights) for i in range(n)]
        caps = None
        if stage.base in ("open_interest", "weights"):
            caps = [max(0, self._equity(i)) for i in range(n)]
        haircuts, covered, surplus = self._allocate(claims, loss, stage, caps)
        return haircuts, covered + surplus, loss - covered

    def _fund(self, per_market: bool, m: int) -> int:
        """The insurance fund a liquidation uses: market ``m``'s own, or the shared one."""
        return self._markets[m].insurance_fund if per_market else self._totals.insurance_fund

    def _set_fund(self, per_market: bool, m: int, value: int) -> None:
        if per_market:
            self._market(m).insurance_fund = value
        else:
            self._totals.insurance_fund = value

    def _run_stages(
        self, a: int, deficit: int, stages: Sequence[Stage], first_market: int
    ) -> tuple[list[list[Any]], int, list[list[int]]]:
        """Run ``stages`` on ``deficit``; each credits ``a`` with what it pays. Returns
        the ``[kind, amount]`` entries, what is left and the haircuts."""
        entries: list[list[Any]] = []
        haircuts: list[list[int]] = []
        t = self._totals
        for stage in stages:
            pay = 0
            if isinstance(stage, InsuranceFund):
                fund = self._fund(stage.per_market, first_market)
                pay = min(deficit, max(0, fund - stage.floor))
                if stage.cap is not None:
                    pay = min(pay, stage.cap)
                self._set_fund(stage.per_market, first_market, fund - pay)
            elif isinstance(stage, FeePool):
                pay = min(deficit, t.fee_pool)
                t.fee_pool -= pay
            elif isinstance(stage, Socialize) and deficit > 0:
                if self._waterfall.timing in ("deferred", "batched"):
                    pay = deficit
                    t.deferred_loss = _i128(t.deferred_loss + pay, "deferred_loss")
                else:
                    pay, haircuts = self._socialize(a, deficit, stage, first_market)
            # an adl stage reached here pays nothing (see liquidate)
            self._credit(a, pay)
            deficit -= pay
            entries.append([stage.kind, pay])
        return entries, deficit, haircuts

    def _book_bad_debt(self, a: int, rest: int, entries: list[list[Any]]) -> None:
        self._totals.bad_debt = _i128(self._totals.bad_debt + rest, "bad_debt")
        self._credit(a, rest)
        entries.append(["bad_debt", rest])

    def liquidate(
        self,
        account: int,
        counterparty: int,
        prices: Mapping[int, Amount] | None = None,
        *,
        adl_queues: AdlQueues | None = None,
    ) -> Event:
        """Liquidate a liquidatable account (else ``NotLiquidatableError``).

        Every non-zero position is closed against ``counterparty`` at ``prices[m]``
        (ticks) or the mark; a penalty of ``ceil(|size| * price * tick_value *
        penalty_bps / 10_000)`` per market, capped by the positive equity left, goes to
        the insurance fund; a negative equity left is the deficit, run through the
        waterfall. With an ``adl`` stage that the stages before it cannot cover, the
        positions are deleveraged against ranked opposite positions instead.

        The event records ``closes`` (``[market, size, price]``), ``penalty``,
        ``deficit``, ``stages`` (``[kind, amount]``, then ``["bad_debt", rest]``),
        ``haircuts`` (``[account, amount]``) and ``adl`` (``[market, counterparty,
        size, price]``).

        ``adl_queues`` (a backtest's, see :class:`AdlQueue`): the ADL path takes its
        counterparties from the queue of the market and the bankrupt side, ranked at its
        first use and consumed in order past the positions gone flat; a queue that runs
        dry before the position is closed is ranked afresh once. The queues are updated
        in place and are not rolled back if the liquidation fails. Without them every
        ADL close ranks afresh.
        """

        def effect() -> Event:
            a = self._account_id(account, "account")
            c = self._account_id(counterparty, "counterparty")
            if a == c:
                raise InvalidInputError(f"account and counterparty are the same account {a}")
            if adl_queues is not None and not isinstance(adl_queues, MutableMapping):
                raise InvalidInputError("adl_queues must be a dict (market, long) -> AdlQueue")
            price_map: dict[int, int] | None = None
            if prices is not None:
                if not isinstance(prices, Mapping):
                    raise InvalidInputError("prices must be a mapping market -> price (ticks)")
                price_map = {}
                for key, value in prices.items():
                    m = self._market_id(key, "prices key")
                    price_map[m] = self._positive(value, f"prices[{m}]")
                price_map = dict(sorted(price_map.items()))
            if not self._is_liquidatable(a):
                raise NotLiquidatableError(
                    f"account {a} is not liquidatable: equity {self._equity(a)} >= "
                    f"maintenance {self._requirement(a, initial=False)} or no position"
                )
            event: Event = {
                "op": "liquidate",
                "account": a,
                "counterparty": c,
                # Resolved point 14: None or [market, price] pairs sorted by market.
                "prices": None if price_map is None else [[k, v] for k, v in price_map.items()],
            }
            open_markets = [m for m, p in enumerate(self._accounts[a].positions) if p.size != 0]
            first_market = open_markets[0]
            stages = self._waterfall.stages
            kinds = [stage.kind for stage in stages]
            adl_at = kinds.index("adl") if "adl" in kinds else None
            equity_at_start = self._equity(a)

            # Steps 1-3: close against the counterparty, charge the penalty.
            closes: list[list[int]] = []
            penalty = 0
            for m in open_markets:
                size = self._accounts[a].positions[m].size
                p = price_map.get(m, self._markets[m].mark) if price_map else self._markets[m].mark
                self._trade(a, m, -size, p)
                self._trade(c, m, size, p)
                closes.append([m, size, p])
                mk = self._markets[m]
                penalty += mk.contract.margin(size, p, mk.penalty_bps)
            penalty = _i128(penalty, "penalty")
            charged = min(penalty, max(0, self._equity(a)))
            if charged:
                acc = self._acct(a)
                acc.collateral -= charged
                per_market = any(isinstance(s, InsuranceFund) and s.per_market for s in stages)
                fund = self._fund(per_market, first_market)
                self._set_fund(per_market, first_market, _i128(fund + charged, "insurance_fund"))
            deficit = max(0, -self._equity(a))
            if deficit == 0:
                # CONTRACT: no deficit, no waterfall: stages, haircuts and adl are empty.
                event.update(
                    closes=closes, penalty=penalty, deficit=0, stages=[], haircuts=[], adl=[]
                )
                return event
            before_adl = stages if adl_at is None else stages[:adl_at]
            entries, rest, haircuts = self._run_stages(a, deficit, before_adl, first_market)
            if adl_at is None or rest == 0:
                more, rest, late_cuts = self._run_stages(
                    a, rest, stages[len(before_adl) :], first_market
                )
                entries += more
                self._book_bad_debt(a, rest, entries)
                event.update(
                    closes=closes,
                    penalty=penalty,
                    deficit=deficit,
                    stages=entries,
                    haircuts=haircuts or late_cuts,
                    adl=[],
                )
                return event

            # The stages before adl cannot cover it: deleverage instead (nothing of
            # steps 1-3 happens, no penalty, the stages before adl take nothing).
            self._undo()
            stage = stages[adl_at]
            assert isinstance(stage, Adl)
            # CONTRACT: the ADL path's deficit is the account's own deficit at the marks
            # (max(0, -equity) before deleveraging); the adl stage is credited with what
            # deleveraging covered of it, so the stage amounts always add up to deficit.
            deficit = max(0, -equity_at_start)
            adl_fills: list[list[int]] = []
            for m in open_markets:
                if adl_queues is None:
                    order = self._ranked(a, m, stage)
                    fills = self._deleverage(a, m, order, stage.price)
                else:
                    fills = self._deleverage_queued(a, m, stage, adl_queues)
                for cp, size, price in fills:
                    adl_fills.append([m, cp, size, price])
            rest = max(0, -self._equity(a))
            entries = [[kind, 0] for kind in kinds[:adl_at]]
            entries.append(["adl", deficit - rest])
            more, rest, haircuts = self._run_stages(a, rest, stages[adl_at + 1 :], first_market)
            entries += more
            self._book_bad_debt(a, rest, entries)
            event.update(
                closes=[],
                penalty=0,
                deficit=deficit,
                stages=entries,
                haircuts=haircuts,
                adl=adl_fills,
            )
            return event

        return self._run(effect)

    def settle_session(self) -> Event:
        """Close the session: claw ``deferred_loss`` back from positive session profit
        (the socialize stage's rule, rounding and max_rate; pro_rata exact when the
        waterfall has no socialize stage), move what stays uncovered to ``bad_debt``,
        then start a new session for every account (``session_start_equity = equity``,
        ``session_deposits = 0``). The event records ``collected`` (the sum of the
        haircuts), ``haircuts`` (``[account, amount]``) and ``bad_debt`` (moved).

        With ``timing="batched"`` the pool is allocated once over the socialize stage's
        own base, rule, rounding, caps and max_rate, no account excluded (without a
        socialize stage all of it is bad debt), a rounding-up surplus goes to the
        insurance fund, and no new session starts."""

        def effect() -> Event:
            t = self._totals
            collected = 0
            haircuts: list[list[int]] = []
            moved = 0
            batched = self._waterfall.timing == "batched"
            if t.deferred_loss > 0 and batched:
                haircuts, collected, moved = self._settle_batch(self._waterfall.stage("socialize"))
                t.deferred_loss = 0
                t.bad_debt = _i128(t.bad_debt + moved, "bad_debt")
            elif t.deferred_loss > 0:
                stage = self._waterfall.stage("socialize")
                # CONTRACT: without a socialize stage, plain pro_rata exact.
                rule = stage if isinstance(stage, Socialize) else Socialize()
                claims = [max(0, self._session_profit(i)) for i in range(len(self._accounts))]
                # The stage's base and caps do not apply: the claims are session profits.
                haircuts, covered, surplus = self._allocate(
                    claims,
                    t.deferred_loss,
                    Socialize(rule=rule.rule, rounding=rule.rounding, max_rate=rule.max_rate),
                    None,
                )
                collected = covered + surplus
                moved = t.deferred_loss - covered
                t.deferred_loss = 0
                t.bad_debt = _i128(t.bad_debt + moved, "bad_debt")
            # Batched timing pools a backtest step's losses: it has no sessions to restart.
            for i in range(0 if batched else len(self._accounts)):
                equity = self._equity(i)
                acc = self._acct(i)
                acc.session_start_equity = equity
                acc.session_deposits = 0
            return {
                "op": "settle_session",
                "collected": collected,
                "haircuts": haircuts,
                "bad_debt": moved,
            }

        return self._run(effect)

    # ------------------------------------------------------------------ persistence

    def snapshot(self) -> bytes:
        """The whole ledger (state and journal) as bytes: an 8-byte magic, a version, the
        payload's length and SHA-256, then the payload (canonical JSON)."""
        payload = json.dumps(
            {"state": self.state(), "journal": self.journal},
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        header = _SNAPSHOT_HEADER.pack(
            _SNAPSHOT_MAGIC, _SNAPSHOT_VERSION, len(payload), hashlib.sha256(payload).digest()
        )
        return header + payload

    @classmethod
    def restore(cls: type[_L], data: bytes | bytearray | memoryview) -> _L:
        """Rebuild a ledger from ``snapshot()``. Anything truncated, altered, of another
        version or inconsistent raises ``CorruptSnapshotError``."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise CorruptSnapshotError(f"a snapshot is bytes, got {type(data).__name__}")
        raw = bytes(data)
        if len(raw) < _SNAPSHOT_HEADER.size:
            raise CorruptSnapshotError(
                f"snapshot truncated: {len(raw)} bytes, shorter than its header"
            )
        magic, version, length, digest = _SNAPSHOT_HEADER.unpack_from(raw)
        if magic != _SNAPSHOT_MAGIC:
            raise CorruptSnapshotError("not a mutualize reference-ledger snapshot (bad magic)")
        if version != _SNAPSHOT_VERSION:
            raise CorruptSnapshotError(f"snapshot version {version} is not supported")
        payload = raw[_SNAPSHOT_HEADER.size :]
        if len(payload) != length:
            raise CorruptSnapshotError(
                f"snapshot payload is {len(payload)} bytes, its header says {length} "
                "(truncated or extended)"
            )
        if hashlib.sha256(payload).digest() != digest:
            raise CorruptSnapshotError("snapshot checksum mismatch (corrupted)")
        try:
            document = json.loads(payload)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise CorruptSnapshotError(f"snapshot payload is not JSON: {exc}") from None
        try:
            ledger = _load(cls, document)
            ledger._check_restored()
        except CorruptSnapshotError:
            raise
        except (MutualizeError, KeyError, TypeError, ValueError) as exc:
            raise CorruptSnapshotError(f"snapshot content is invalid: {exc}") from exc
        return ledger

    def _check_restored(self) -> None:
        """What a decoded snapshot must meet: ``check()`` and what every operation keeps
        besides (a flat position has no basis: a close removes all of it)."""
        for a, acc in enumerate(self._accounts):
            for m, pos in enumerate(acc.positions):
                if pos.size == 0 and pos.basis != 0:
                    raise CorruptSnapshotError(
                        f"inconsistent snapshot: account {a} is flat in market {m} with a basis"
                    )
        try:
            self.check()
        except InvariantError as exc:
            raise CorruptSnapshotError(f"inconsistent snapshot: {exc}") from exc

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (self.snapshot(),))

    @classmethod
    def replay(cls: type[_L], events: Iterable[Mapping[str, Any]]) -> _L:
        """A new ledger that re-executes each event's operation from its recorded
        arguments. Raises ``CorruptJournalError`` for an event that is malformed, fails
        on replay or does not reproduce its recorded effects."""
        ledger = cls()
        for i, raw in enumerate(events):
            if not isinstance(raw, Mapping):
                raise CorruptJournalError(f"event {i} is not a dict: {raw!r}")
            op = raw.get("op")
            if not isinstance(op, str) or op not in _OP_ARGS:
                raise CorruptJournalError(f"event {i} has an unknown op {op!r}")
            missing = [name for name in _OP_ARGS[op] if name not in raw]
            if missing:
                raise CorruptJournalError(f"event {i} ({op}) lacks {', '.join(missing)}")
            recorded = _event_from_json(dict(raw))
            args = _call_args(op, recorded)
            try:
                replayed = getattr(ledger, op)(**args)
            except (MutualizeError, TypeError, ValueError) as exc:
                raise CorruptJournalError(f"event {i} ({op}) fails on replay: {exc}") from exc
            if replayed != recorded:
                raise CorruptJournalError(
                    f"event {i} ({op}) does not reproduce: recorded {recorded!r}, "
                    f"replayed {replayed!r}"
                )
        return ledger


# --------------------------------------------------------------------------- helpers


def _ledger_waterfall(config: Waterfall) -> Waterfall:
    """``config`` if the ledger can run it: batched timing pools the losses of many
    bankruptcies, which the per-market ``open_interest`` base cannot share."""
    stage = config.stage("socialize")
    if (
        config.timing == "batched"
        and isinstance(stage, Socialize)
        and stage.base == "open_interest"
    ):
        raise InvalidInputError("batched timing cannot socialize over base 'open_interest'")
    return config


def _column(values: object, name: str) -> list[Any]:
    """A batch argument (a sequence or a 1-D array) as a list of its items."""
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Iterable):
        raise InvalidInputError(f"{name} must be a 1-D sequence")
    tolist = getattr(values, "tolist", None)
    items = tolist() if callable(tolist) else list(values)
    if not isinstance(items, list):
        raise InvalidInputError(f"{name} must be a 1-D sequence")
    return items


def _copy_event(event: Event) -> Event:
    """A deep copy of an event (plain dicts, lists and scalars)."""
    out: Event = {}
    for key, value in event.items():
        out[key] = _copy_value(value)
    return out


def _copy_value(value: Any) -> Any:
    if isinstance(value, list):
        return [_copy_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy_value(v) for k, v in value.items()}
    return value


def _event_from_json(event: Event) -> Event:
    """A copy of ``event`` (a JSON round trip keeps every event of this ledger as it
    was: a liquidate event's ``prices`` is ``None`` or a list of pairs)."""
    return _copy_event(event)


def _call_args(op: str, recorded: Event) -> dict[str, Any]:
    """The keyword arguments that re-execute a recorded event: a liquidate event's
    ``prices`` pairs become the mapping the method takes."""
    args = {name: recorded[name] for name in _OP_ARGS[op]}
    prices = args.get("prices")
    if op == "liquidate" and prices is not None:
        if not isinstance(prices, list) or not all(
            isinstance(pair, list) and len(pair) == 2 for pair in prices
        ):
            raise CorruptJournalError(f"liquidate prices must be [market, price] pairs: {prices!r}")
        args["prices"] = {pair[0]: pair[1] for pair in prices}
    return args


def _restore(data: bytes) -> Ledger:
    return Ledger.restore(data)


def _int_field(value: object, where: str, low: int = I128_MIN, high: int = I128_MAX) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CorruptSnapshotError(f"{where} is not an int: {value!r}")
    if not low <= value <= high:
        raise CorruptSnapshotError(f"{where} = {value} is out of range")
    return value


def _fields(value: object, where: str, keys: tuple[str, ...]) -> dict[str, Any]:
    if not isinstance(value, dict) or set(value) != set(keys):
        raise CorruptSnapshotError(f"{where} must be a dict with keys {', '.join(keys)}")
    return value


_MARKET_KEYS = (
    "tick_value",
    "mark",
    "imr_bps",
    "mmr_bps",
    "penalty_bps",
    "funding_index",
    "insurance_fund",
)
_ACCOUNT_KEYS = ("collateral", "session_start_equity", "session_deposits", "positions")
_POSITION_KEYS = ("size", "basis", "funding_snapshot")
_TOTAL_KEYS = ("insurance_fund", "fee_pool", "bad_debt", "deferred_loss", "deposits", "withdrawals")


def _load(cls: type[_L], document: object) -> _L:
    """Build a ledger from a decoded snapshot document, checking its shape and ranges."""
    doc = _fields(document, "snapshot", ("state", "journal"))
    state = _fields(doc["state"], "state", ("markets", "accounts", "waterfall", *_TOTAL_KEYS))
    ledger = cls()
    if not isinstance(state["markets"], list) or not isinstance(state["accounts"], list):
        raise CorruptSnapshotError("state markets and accounts must be lists")
    for m, raw in enumerate(state["markets"]):
        mk = _fields(raw, f"market {m}", _MARKET_KEYS)
        ledger._markets.append(
            _Market(
                tick_value=_int_field(mk["tick_value"], f"market {m} tick_value", 1, I64_MAX),
                mark=_int_field(mk["mark"], f"market {m} mark", 1, I64_MAX),
                imr_bps=_int_field(mk["imr_bps"], f"market {m} imr_bps", 1, BPS),
                mmr_bps=_int_field(mk["mmr_bps"], f"market {m} mmr_bps", 1, BPS),
                penalty_bps=_int_field(mk["penalty_bps"], f"market {m} penalty_bps", 0, BPS),
                funding_index=_int_field(mk["funding_index"], f"market {m} funding_index"),
                insurance_fund=_int_field(
                    mk["insurance_fund"], f"market {m} insurance_fund", 0, I128_MAX
                ),
            )
        )
        if ledger._markets[-1].mmr_bps > ledger._markets[-1].imr_bps:
            raise CorruptSnapshotError(f"market {m}: mmr_bps above imr_bps")
    for a, raw in enumerate(state["accounts"]):
        acc = _fields(raw, f"account {a}", _ACCOUNT_KEYS)
        positions = acc["positions"]
        if not isinstance(positions, list) or len(positions) != len(ledger._markets):
            raise CorruptSnapshotError(f"account {a} must hold one position per market")
        loaded: list[_Position] = []
        for m, praw in enumerate(positions):
            pos = _fields(praw, f"account {a} position {m}", _POSITION_KEYS)
            loaded.append(
                _Position(
                    size=_int_field(pos["size"], f"account {a} size {m}", I64_MIN, I64_MAX),
                    basis=_int_field(pos["basis"], f"account {a} basis {m}"),
                    funding_snapshot=_int_field(
                        pos["funding_snapshot"], f"account {a} funding_snapshot {m}"
                    ),
                )
            )
        ledger._accounts.append(
            _Account(
                collateral=_int_field(acc["collateral"], f"account {a} collateral"),
                session_start_equity=_int_field(
                    acc["session_start_equity"], f"account {a} session_start_equity"
                ),
                session_deposits=_int_field(
                    acc["session_deposits"], f"account {a} session_deposits"
                ),
                positions=loaded,
            )
        )
    totals = {name: _int_field(state[name], name) for name in _TOTAL_KEYS}
    ledger._totals = _Totals(**totals)
    ledger._waterfall = _ledger_waterfall(Waterfall.from_dict(state["waterfall"]))
    journal = doc["journal"]
    if not isinstance(journal, list):
        raise CorruptSnapshotError("the journal must be a list of events")
    for i, raw in enumerate(journal):
        if not isinstance(raw, dict) or raw.get("op") not in _OP_ARGS:
            raise CorruptSnapshotError(f"journal event {i} is not a ledger event")
        ledger.journal.append(_event_from_json(raw))
    return ledger
