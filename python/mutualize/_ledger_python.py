"""``mutualize.Ledger`` on the pure-Python backend: the reference ledger plus the
conveniences of the compiled one (numpy columns, journal files), with the compiled
ledger's parameter names, so code written for one backend runs on the other
(``tests/test_backend_parity.py`` holds them to it)."""

from __future__ import annotations

import operator
import os
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from mutualize._coerce import as_amount_array
from mutualize.errors import InvalidInputError
from mutualize.journal import read_journal
from mutualize.ledger import write_journal_of
from mutualize.reference.ledger import Amount, Event
from mutualize.reference.ledger import Ledger as ReferenceLedger

__all__ = ["Ledger"]


class Ledger(ReferenceLedger):
    """The reference ledger (docs/ledger.md) with the compiled ledger's extra methods.

    Amounts in integer minor units, prices in ticks, sizes in lots.
    """

    def create_accounts(self, n: int) -> int:
        """Add ``n`` accounts (one event each); return the first new id."""
        # The compiled ledger's rules for a count (rust/python/src/args.rs).
        if isinstance(n, bool):
            raise InvalidInputError("n must be an int, got a bool")
        try:
            n = operator.index(n)
        except TypeError:
            raise InvalidInputError(f"n must be an int, got {n!r}") from None
        if n < 0:
            raise InvalidInputError(f"n must be >= 0, got {n}")
        if n > sys.maxsize:
            raise InvalidInputError(f"n = {n} is too large")
        first = int(self.num_accounts)
        for _ in range(n):
            self.create_account()
        return first

    def collaterals(self) -> npt.NDArray[np.int64]:
        """Collateral of every account (int64 array, minor units)."""
        accounts = self.state()["accounts"]
        return np.array([a["collateral"] for a in accounts], dtype=np.int64)

    def equities(self) -> npt.NDArray[np.int64]:
        """Equity of every account (int64 array, minor units)."""
        return np.array([self.equity(a) for a in range(self.num_accounts)], dtype=np.int64)

    def sizes(self, market: int) -> npt.NDArray[np.int64]:
        """Position sizes of every account in ``market`` (int64 array, lots)."""
        m = self._market_id(market)
        return np.array(
            [self.position_size(a, m) for a in range(self.num_accounts)], dtype=np.int64
        )

    def waterfall_plain(self) -> dict[str, Any]:
        """The waterfall configuration in its plain dict form."""
        return self.waterfall.to_dict()

    # As the compiled ledger: ``None`` for an argument with a default is the default,
    # and columns are converted exactly as ``mutualize.allocate`` converts amounts.

    def create_market(
        self,
        tick_value: Amount,
        mark: Amount,
        imr_bps: Amount,
        mmr_bps: Amount,
        penalty_bps: Amount | None = 0,
    ) -> Event:
        """As the reference's ``create_market``."""
        return super().create_market(
            tick_value, mark, imr_bps, mmr_bps, 0 if penalty_bps is None else penalty_bps
        )

    def fill(
        self,
        buyer: int,
        seller: int,
        market: int,
        price: Amount,
        size: Amount,
        buyer_fee: Amount | None = 0,
        seller_fee: Amount | None = 0,
        check_margin: bool | None = True,
    ) -> Event:
        """As the reference's ``fill``."""
        return super().fill(
            buyer,
            seller,
            market,
            price,
            size,
            0 if buyer_fee is None else buyer_fee,
            0 if seller_fee is None else seller_fee,
            True if check_margin is None else check_margin,
        )

    def fill_many(
        self,
        market: int,
        buyers: object,
        sellers: object,
        prices: object,
        sizes: object,
    ) -> Event:
        """As the reference's ``fill_many``, the columns converted exactly first."""
        return super().fill_many(
            market,
            as_amount_array(buyers, "buyers"),
            as_amount_array(sellers, "sellers"),
            as_amount_array(prices, "prices"),
            as_amount_array(sizes, "sizes"),
        )

    def set_marks(self, marks: object) -> Event:
        """As the reference's ``set_marks``, the marks converted exactly first."""
        return super().set_marks(as_amount_array(marks, "marks"))

    # The compiled ledger's parameter names (the reference's own are ``a`` and ``m``).

    def equity(self, account: int) -> int:
        return super().equity(account)

    def maintenance(self, account: int) -> int:
        return super().maintenance(account)

    def initial(self, account: int) -> int:
        return super().initial(account)

    def session_profit(self, account: int) -> int:
        return super().session_profit(account)

    def is_liquidatable(self, account: int) -> bool:
        return super().is_liquidatable(account)

    def upnl(self, account: int, market: int) -> int:
        return super().upnl(account, market)

    def unpaid_funding(self, account: int, market: int) -> int:
        return super().unpaid_funding(account, market)

    def notional(self, account: int, market: int) -> int:
        return super().notional(account, market)

    def position_size(self, account: int, market: int) -> int:
        return super().position_size(account, market)

    def bankruptcy_price(self, account: int, market: int) -> int:
        return super().bankruptcy_price(account, market)

    def open_interest(self, market: int) -> int:
        return super().open_interest(market)

    def market_insurance_fund(self, market: int) -> int:
        return super().market_insurance_fund(market)

    def deleverage(
        self,
        account: int,
        market: int,
        counterparties: Sequence[int] | None = None,
        price: int | str | None = None,
    ) -> Event:
        """As the reference's; ``price=None`` is ``"bankruptcy"`` (the compiled default)."""
        return super().deleverage(
            account, market, counterparties, "bankruptcy" if price is None else price
        )

    @classmethod
    def from_journal(cls, path: str | os.PathLike[str]) -> Ledger:
        """Replay the journal file at ``path``."""
        ledger: Ledger = cls.replay(read_journal(path))
        return ledger

    def write_journal(self, path: str | os.PathLike[str]) -> None:
        """Write this ledger's whole journal to a file (replaced atomically)."""
        write_journal_of(self, path)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self).restore, (self.snapshot(),))


for _name in (
    "equity",
    "maintenance",
    "initial",
    "session_profit",
    "is_liquidatable",
    "upnl",
    "unpaid_funding",
    "notional",
    "position_size",
    "bankruptcy_price",
    "open_interest",
    "market_insurance_fund",
):
    getattr(Ledger, _name).__doc__ = getattr(ReferenceLedger, _name).__doc__
del _name
