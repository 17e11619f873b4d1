"""``mutualize.Ledger`` on the compiled backend: the Rust ledger plus the conveniences
that are the same for both backends (replay, journal files, pickling, waterfall objects)."""

from __future__ import annotations

import numbers
import os
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from mutualize import _core
from mutualize._coerce import Int64Array, as_amount_array
from mutualize.errors import AmountOverflowError, InvalidInputError
from mutualize.journal import read_journal
from mutualize.ledger import plain_waterfall, replay_into, write_journal_of
from mutualize.waterfall import Waterfall

__all__ = ["Ledger"]


class Ledger(_core.Ledger):
    """A venue's book in one settlement asset: accounts, linear perpetual markets, the
    insurance fund, fee pool and bad debt, and the loss waterfall (docs/ledger.md).

    Amounts are integer minor units, prices integer ticks, sizes integer lots. Every
    operation is atomic (it applies whole or raises and changes nothing), returns an
    event and appends it to ``journal()``. A ledger shared between threads serializes
    its operations.
    """

    @property
    def waterfall(self) -> Waterfall:
        """The waterfall configuration."""
        return Waterfall.from_dict(self.waterfall_plain())

    def set_waterfall(self, waterfall: Waterfall | Mapping[str, Any]) -> Any:
        """Replace the waterfall (a ``Waterfall`` or its plain dict form)."""
        return super().set_waterfall(plain_waterfall(waterfall))

    def fill_many(
        self,
        market: int,
        buyers: Int64Array,
        sellers: Int64Array,
        prices: Int64Array,
        sizes: Int64Array,
    ) -> Any:
        """Many fills in one market, in order, all or nothing (without fees or margin
        checks): columns of buyers, sellers, prices (ticks) and sizes (lots), as int64
        arrays or anything ``mutualize.allocate`` takes as amounts (converted exactly)."""
        return super().fill_many(
            market,
            as_amount_array(buyers, "buyers"),
            as_amount_array(sellers, "sellers"),
            as_amount_array(prices, "prices"),
            as_amount_array(sizes, "sizes"),
        )

    def set_marks(self, marks: Int64Array) -> Any:
        """Set every market's mark at once: one price (ticks, > 0) per market, as an
        int64 array or anything taken as amounts (converted exactly)."""
        return super().set_marks(as_amount_array(marks, "marks"))

    @classmethod
    def replay(cls, events: Iterable[Mapping[str, Any]]) -> Ledger:
        """A new ledger with ``events`` re-executed; each must reproduce its effects."""
        ledger: Ledger = replay_into(cls(), events)
        return ledger

    @classmethod
    def from_journal(cls, path: str | os.PathLike[str]) -> Ledger:
        """Replay the journal file at ``path`` (see ``mutualize.journal``)."""
        return cls.replay(read_journal(path))

    def write_journal(self, path: str | os.PathLike[str]) -> None:
        """Write this ledger's whole journal to a file (replaced atomically)."""
        write_journal_of(self, path)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self).restore, (bytes(self.snapshot()),))

    # Queries of the reference ledger that the extension does not have, written here
    # over its public queries so both backends offer the same API. The ones that need a
    # market's mark, funding index or fund read ``state()``: O(accounts) per call.

    def position_size(self, account: int, market: int) -> int:
        """Account ``account``'s signed position in ``market`` (lots; > 0 long)."""
        a, m = self._account_id(account), self._market_id(market)
        return int(self.sizes(m)[a])

    def open_interest(self, market: int) -> int:
        """Market ``market``'s open interest: the sum of its long positions (lots)."""
        sizes = self.sizes(self._market_id(market))
        return sum(int(v) for v in sizes[sizes > 0].tolist())

    def market_insurance_fund(self, market: int) -> int:
        """Market ``market``'s own insurance fund (minor units; per-market stages)."""
        return int(self.state()["markets"][self._market_id(market)]["insurance_fund"])

    def notional(self, account: int, market: int) -> int:
        """``|size| * mark * tick_value`` of the position (minor units)."""
        a, m = self._account_id(account), self._market_id(market)
        terms = self.state()["markets"][m]
        value = abs(int(self.sizes(m)[a])) * int(terms["mark"]) * int(terms["tick_value"])
        return _i128(value, f"notional of account {a} in market {m}")

    def unpaid_funding(self, account: int, market: int) -> int:
        """Funding owed to (> 0) or by (< 0) the position since its last settlement:
        ``-size * (funding_index - funding_snapshot)`` (minor units)."""
        a, m = self._account_id(account), self._market_id(market)
        state = self.state()
        position = state["accounts"][a]["positions"][m]
        index = int(state["markets"][m]["funding_index"])
        value = -int(position["size"]) * (index - int(position["funding_snapshot"]))
        return _i128(value, f"unpaid funding of account {a} in market {m}")

    def is_liquidatable(self, account: int) -> bool:
        """Whether the account holds a position and ``equity < maintenance``."""
        a = self._account_id(account)
        # Every open position requires at least one unit of maintenance.
        requirement = self.maintenance(a)
        return requirement > 0 and self.equity(a) < requirement

    def _account_id(self, value: object) -> int:
        return _id(value, "account", self.num_accounts)

    def _market_id(self, value: object) -> int:
        return _id(value, "market", self.num_markets)

    def __repr__(self) -> str:
        return (
            f"Ledger(accounts={self.num_accounts}, markets={self.num_markets}, "
            f"insurance_fund={self.insurance_fund}, fee_pool={self.fee_pool}, "
            f"bad_debt={self.bad_debt}, events={len(self.journal)})"
        )


def _id(value: object, what: str, count: int) -> int:
    """An account or market id, checked as the extension checks it."""
    if isinstance(value, bool | np.bool_):
        raise InvalidInputError(f"{what} must be an id (an int), got a bool")
    if not isinstance(value, numbers.Integral):
        raise InvalidInputError(f"{what} must be an id (an int), got {value!r}")
    if not 0 <= int(value) < count:
        raise InvalidInputError(f"unknown {what} id {int(value)}")
    return int(value)


def _i128(value: int, what: str) -> int:
    if not -(2**127) <= value < 2**127:
        raise AmountOverflowError(f"{what} does not fit in i128")
    return value
