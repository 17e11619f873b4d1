"""The market contract, written from docs/ledger.md ("Derived values") for the reference.

What a position is worth and what it must hold: mark-to-market PnL, the entry value a
trade adds, notional, margin (and the liquidation penalty, a margin at the close price),
the cost of a position, its bankruptcy price, each with its rounding named. The reference
ledger and the reference backtest engine ask a contract for these and never write the
formulas themselves. A position is ``size`` signed lots and ``basis``, the entry value the
contract defines (linear: the sum of signed size x fill price, in lot-ticks).

Python ints are exact: nothing here overflows; the ledger checks that each named result
fits i128. This module imports nothing else of the package (the reference stays
independent of the compiled code). It is the twin of ``rust/core/src/ledger/contract.rs``;
``contract()`` is the one place a kind of contract is chosen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

__all__ = ["BPS", "Contract", "Linear", "contract"]

#: Basis points in one.
BPS = 10_000


@dataclass(frozen=True)
class Linear:
    """A linear (quote-margined) perpetual: PnL = size x (price - entry) x tick_value.

    ``tick_value``: minor units per lot per tick. Prices in ticks, sizes in lots, money in
    minor units.
    """

    kind: ClassVar[str] = "linear"
    tick_value: int

    def pnl(self, size: int, basis: int, price: int) -> int:
        """Mark-to-market PnL of ``size`` lots of entry value ``basis`` at ``price``:
        ``(size * price - basis) * tick_value``, exact. Closing them at ``price``
        realizes exactly this: it is the one PnL formula of the reference."""
        return (size * price - basis) * self.tick_value

    def basis(self, size: int, price: int) -> int:
        """The entry value a trade of ``size`` lots at ``price`` adds: ``size * price``
        lot-ticks."""
        return size * price

    def notional(self, size: int, price: int) -> int:
        """``|size| * price * tick_value`` (minor units)."""
        return abs(size) * price * self.tick_value

    def margin(self, size: int, price: int, bps: int) -> int:
        """``ceil(notional * bps / 10_000)`` at ``price``: a margin requirement or a
        liquidation penalty; rounds **up** (it protects the venue)."""
        return -(-self.notional(size, price) * bps // BPS)

    def cost(self, basis: int) -> int:
        """What the position cost at entry, ``|basis * tick_value|`` (minor units)."""
        return abs(basis * self.tick_value)

    def mark_over_entry(self, size: int, basis: int, mark: int) -> tuple[int, int]:
        """``mark / entry`` as ``(numerator, denominator)``, entry = ``|basis| / |size|``."""
        return mark * abs(size), abs(basis)

    def bankruptcy_price(self, size: int, mark: int, equity: int) -> int:
        """The price (ticks) at which closing ``size`` lots (non-zero) leaves ``equity``
        at exactly 0, the other marks held: ``mark - equity / (size * tick_value)``,
        rounded so that closing there never leaves a deficit: **up for a long, down for
        a short**. May be <= 0 for a long."""
        per_tick = size * self.tick_value
        if size > 0:
            return mark - equity // per_tick  # mark - floor(E/d) = ceil(mark - E/d)
        return mark + equity // -per_tick  # mark - ceil(E/d) = floor(mark - E/d)


#: Every kind of contract (a union as kinds are added).
Contract = Linear


def contract(tick_value: int) -> Contract:
    """The contract a market trades, from its parameters (``tick_value`` minor units per
    lot per tick)."""
    return Linear(tick_value)
