"""A scenario's markets and how its liquidations execute (fields: ``schema.MARKET``
and ``schema.EXECUTION``). Money in minor units, prices in ticks, sizes in lots."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .checks import check_table
from .schema import EXECUTION, MARKET

__all__ = ["Execution", "MarketSpec"]


@dataclass(frozen=True)
class MarketSpec:
    """One linear perpetual market.

    Attributes:
        name: display name, unique within the scenario.
        tick_value: minor units per lot per tick (> 0).
        start_price: the first mark, ticks (> 0); required unless the path is a file.
        imr_bps, mmr_bps: initial and maintenance margin, basis points of notional
            (``0 < mmr_bps <= imr_bps <= 10_000``); 200 bps allows 50x leverage.
        penalty_bps: liquidation penalty, basis points of notional (0..10000).

    Bounds and defaults: :data:`mutualize.sim.schema.MARKET`.
    """

    name: str
    tick_value: int = MARKET.default("tick_value")
    start_price: int | None = MARKET.default("start_price")
    imr_bps: int = MARKET.default("imr_bps")
    mmr_bps: int = MARKET.default("mmr_bps")
    penalty_bps: int = MARKET.default("penalty_bps")

    KEYS = MARKET.keys

    def __post_init__(self) -> None:
        MARKET.check_into(self)

    @property
    def max_leverage(self) -> float:
        """The largest leverage the initial margin allows: ``10_000 / imr_bps``."""
        return 10_000 / self.imr_bps

    def to_dict(self) -> dict[str, Any]:
        """The plain (TOML) form, ``None`` values left out."""
        out: dict[str, Any] = {}
        for name in self.KEYS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    @classmethod
    def from_dict(cls, d: object) -> MarketSpec:
        """Read the plain form (``name`` required)."""
        if isinstance(d, MarketSpec):
            return d
        return cls(**check_table(d, "", cls.KEYS, required=MARKET.required))


@dataclass(frozen=True)
class Execution:
    """How liquidations execute against the house (the backstop).

    Attributes:
        slippage_bps: the backstop buys a liquidated long (sells a short) this many bps
            below (above) the mark.
        impact_bps, depth_lots: extra slippage of ``impact_bps * lots / depth_lots`` bps
            for the lots already liquidated in the market in the same step (a thin book
            in a cascade), at most 5,000 bps in all.

    Bounds and defaults: :data:`mutualize.sim.schema.EXECUTION`.
    """

    slippage_bps: int = EXECUTION.default("slippage_bps")
    impact_bps: int = EXECUTION.default("impact_bps")
    depth_lots: int = EXECUTION.default("depth_lots")

    KEYS = EXECUTION.keys

    def __post_init__(self) -> None:
        EXECUTION.check_into(self)

    def to_dict(self) -> dict[str, Any]:
        """The plain (TOML) form."""
        return {name: getattr(self, name) for name in self.KEYS}

    @classmethod
    def from_dict(cls, d: object) -> Execution:
        """Read the plain form (missing keys take their defaults)."""
        if isinstance(d, Execution):
            return d
        return cls(**check_table(d, "", cls.KEYS))
