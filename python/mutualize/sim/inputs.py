"""The engine's input: a scenario turned into exact integer arrays.

``Scenario.build()`` produces an :class:`EngineInputs`; the engine (compiled or
pure-Python) reads nothing else. It is checked once, when it is made: the engines trust
it (do not write into its arrays afterwards, as with any numpy input in use). Every
array is ``int64``; money is in minor units, prices in ticks, sizes in lots.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..errors import InvalidInputError

Int64Array = npt.NDArray[np.int64]

__all__ = ["MAX_MARK", "EngineInputs", "Int64Array"]

#: The largest mark a price path may hold, ticks (both engines; the compiled one's
#: liquidation index searches marks up to it with every product inside int128).
MAX_MARK = 2**40

INT64_MAX = 2**63 - 1


@dataclass(frozen=True, eq=False)
class EngineInputs:
    """A scenario's markets, accounts, price path and funding as exact arrays.

    Markets (shape ``(markets,)``):
        tick_value: minor units per lot per tick (> 0).
        imr_bps, mmr_bps, penalty_bps: initial and maintenance margin rates and the
            liquidation penalty, basis points of notional (``0 < mmr <= imr <= 10_000``).
        market_names: display names, one per market.

    Accounts (shape ``(accounts,)``; the engine adds a house account of its own):
        collateral: deposit, minor units (> 0).
        market: the index of the one market the account trades.
        size: signed position, lots (non-zero; > 0 long).
        entry: entry price, ticks (> 0). Positions are opened against the house at it.

    Path (shape ``(steps, markets)``):
        prices: the mark at each step, ticks (``1..=MAX_MARK``, 2**40). The ledger starts
            at ``prices[0]``.
        funding: the funding-index increase applied before each step's mark, minor units
            per lot (positive: longs pay shorts). Mostly zeros.

    Venue:
        insurance_fund: the fund at the start, minor units (>= 0).
        house_collateral: the house's deposit, minor units (> 0): the house is the
            counterparty of every opening fill and the liquidation backstop.
        slippage_bps: the backstop buys (sells) a liquidated long (short) this many bps
            below (above) the mark.
        impact_bps, depth_lots: extra slippage of ``impact_bps * lots / depth_lots`` for
            the lots already liquidated in the market during the step (a thin book in a
            cascade), capped at 5,000 bps in total.
        session_steps: steps per session for deferred (clawback) waterfalls; the session
            is also settled after the last step. 0: only at the end.
    """

    tick_value: Int64Array
    imr_bps: Int64Array
    mmr_bps: Int64Array
    penalty_bps: Int64Array
    market_names: tuple[str, ...]
    collateral: Int64Array
    market: Int64Array
    size: Int64Array
    entry: Int64Array
    prices: Int64Array
    funding: Int64Array
    insurance_fund: int = 0
    house_collateral: int = 10**15
    slippage_bps: int = 0
    impact_bps: int = 0
    depth_lots: int = 1
    session_steps: int = 0

    def __post_init__(self) -> None:
        self.validate()

    @property
    def num_markets(self) -> int:
        """Number of markets."""
        return int(self.tick_value.shape[0])

    @property
    def num_accounts(self) -> int:
        """Number of accounts (the house not counted)."""
        return int(self.collateral.shape[0])

    @property
    def num_steps(self) -> int:
        """Number of price steps."""
        return int(self.prices.shape[0])

    def validate(self) -> None:
        """Raise :class:`~mutualize.errors.InvalidInputError` naming the first bad field
        (done when the inputs are made)."""
        m = self.num_markets
        n = self.num_accounts
        if m == 0:
            raise InvalidInputError("a scenario needs at least one market")
        for name in ("tick_value", "imr_bps", "mmr_bps", "penalty_bps"):
            _shape(getattr(self, name), (m,), name)
        if len(self.market_names) != m:
            raise InvalidInputError(
                f"market_names has {len(self.market_names)} names for {m} markets"
            )
        for name in ("collateral", "market", "size", "entry"):
            _shape(getattr(self, name), (n,), name)
        if self.prices.ndim != 2 or self.prices.shape[1] != m or self.prices.shape[0] == 0:
            raise InvalidInputError(
                f"prices must have shape (steps >= 1, {m}), got {self.prices.shape}"
            )
        _shape(self.funding, self.prices.shape, "funding")
        if (self.tick_value <= 0).any():
            raise InvalidInputError("tick_value must be > 0 minor units")
        if ((self.mmr_bps <= 0) | (self.mmr_bps > self.imr_bps) | (self.imr_bps > 10_000)).any():
            raise InvalidInputError("margin rates need 0 < mmr_bps <= imr_bps <= 10000")
        if ((self.penalty_bps < 0) | (self.penalty_bps > 10_000)).any():
            raise InvalidInputError("penalty_bps must be in 0..=10000")
        if (self.collateral <= 0).any():
            raise InvalidInputError("every account's collateral must be > 0 minor units")
        if ((self.market < 0) | (self.market >= m)).any():
            raise InvalidInputError(f"account markets must be in 0..{m}")
        if (self.size == 0).any():
            raise InvalidInputError("every account's size must be non-zero lots")
        if (self.entry <= 0).any() or (self.prices <= 0).any():
            raise InvalidInputError("prices must be > 0 ticks")
        if (self.prices > MAX_MARK).any():
            worst = int(self.prices.max())
            raise InvalidInputError(f"marks must be in 1..={MAX_MARK} ticks, got {worst}")
        for name in ("insurance_fund", "house_collateral", "slippage_bps", "impact_bps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT64_MAX:
                raise InvalidInputError(f"{name} must be an int in 0..=2**63 - 1, got {value!r}")
        for name in ("depth_lots", "session_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value > INT64_MAX:
                raise InvalidInputError(f"{name} must be an int below 2**63, got {value!r}")
        if self.insurance_fund < 0 or self.house_collateral <= 0:
            raise InvalidInputError("insurance_fund must be >= 0 and house_collateral > 0")
        if self.slippage_bps < 0 or self.impact_bps < 0 or self.depth_lots <= 0:
            raise InvalidInputError("slippage_bps, impact_bps >= 0 and depth_lots > 0 needed")
        if self.session_steps < 0:
            raise InvalidInputError("session_steps must be >= 0")


def _shape(array: Int64Array, shape: tuple[int, ...], name: str) -> None:
    if not isinstance(array, np.ndarray) or array.dtype != np.int64:
        raise InvalidInputError(f"{name} must be an int64 numpy array")
    if array.shape != shape:
        raise InvalidInputError(f"{name} must have shape {shape}, got {array.shape}")
