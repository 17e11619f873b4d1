"""Periodic funding: a path's marks turned into the engine's funding-index increments,
in integer minor units per lot (fields: ``schema.FUNDING``). A step is one minute by
convention (funding every 480 steps = every 8 hours)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .checks import ScenarioError, check_table
from .schema import FUNDING

__all__ = ["Funding", "funding_deltas"]

Int64Array = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Funding:
    """Periodic funding: every ``interval_steps`` steps, longs pay shorts.

    At steps ``interval_steps``, ``2 * interval_steps`` ... the funding index of each
    market rises by ``floor(rate_bps * mark * tick_value / 10_000)`` minor units per lot,
    ``mark`` being the market's price (ticks) before that step. A negative rate makes
    shorts pay longs.

    Attributes:
        interval_steps: steps between payments (0: no funding).
        rate_bps: the rate per payment, basis points of one lot's notional (-10000..10000).
    """

    interval_steps: int = FUNDING.default("interval_steps")
    rate_bps: int = FUNDING.default("rate_bps")

    KEYS = FUNDING.keys

    def __post_init__(self) -> None:
        FUNDING.check_into(self)

    def to_dict(self) -> dict[str, Any]:
        """The plain (TOML) form."""
        return {"interval_steps": self.interval_steps, "rate_bps": self.rate_bps}

    @classmethod
    def from_dict(cls, d: object) -> Funding:
        """Read the plain form (missing keys take their defaults)."""
        if isinstance(d, Funding):
            return d
        return cls(**check_table(d, "", cls.KEYS))


def funding_deltas(prices: Int64Array, tick_value: Int64Array, funding: Funding) -> Int64Array:
    """The engine's funding array: shape of ``prices``, int64 minor units per lot.

    Row ``t`` (a multiple of ``interval_steps``, ``t > 0``) holds
    ``floor(rate_bps * prices[t - 1] * tick_value / 10_000)``; every other row is 0.
    """
    deltas = np.zeros(prices.shape, dtype=np.int64)
    interval = funding.interval_steps
    steps = prices.shape[0]
    if interval == 0 or funding.rate_bps == 0 or steps <= interval:
        return deltas
    rows = np.arange(interval, steps, interval)
    marks = prices[rows - 1]
    # Exact in int64 when |rate| * max(mark) * max(tick_value) fits; checked in Python ints.
    bound = abs(funding.rate_bps) * int(marks.max()) * int(tick_value.max())
    if bound > 2**63 - 1:
        raise ScenarioError("funding.rate_bps", "rate x mark x tick_value exceeds int64")
    deltas[rows] = (funding.rate_bps * marks * tick_value[np.newaxis, :]) // 10_000
    return deltas
