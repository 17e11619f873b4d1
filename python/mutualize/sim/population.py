"""The accounts of a scenario: generated from distributions or read from a table.

Fields: ``schema.POPULATION`` and ``schema.DISTRIBUTION``. Collateral is in integer minor
units, sizes in integer lots (signed: > 0 long), entry prices in integer ticks.
Generation is vectorized numpy, seeded by ``numpy.random.default_rng([seed, 2**32 - 1,
1])`` (a stream no market path uses); tables are read by :mod:`mutualize.sim.files`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .checks import ScenarioError, check_number, check_table, expected
from .files import TABLE_COLUMNS, Accounts, read_accounts
from .schema import DISTRIBUTION, NOTIONAL_MAX, POPULATION

__all__ = [
    "DISTRIBUTION_KINDS",
    "TABLE_COLUMNS",
    "Accounts",
    "Distribution",
    "Population",
    "build_accounts",
]

Int64Array = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
DISTRIBUTION_KINDS: tuple[str, ...] = DISTRIBUTION["kind"].choices
POPULATION_STREAM = 1
_TAG = 2**32 - 1
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class Distribution:
    """A distribution of positive numbers, sampled then rounded or clipped by its user.

    ``Distribution.uniform(lo, hi)`` draws uniformly from ``[lo, hi)``;
    ``Distribution.lognormal(median, sigma, lo=None, hi=None)`` draws
    ``median * exp(sigma * z)``, clipped to ``[lo, hi]`` where those are given. The
    unit is the user's: minor units for collateral, a multiple for leverage.

    Attributes:
        kind: ``"uniform"`` or ``"lognormal"``.
        lo, hi: the uniform bounds (required), or the lognormal clip bounds (optional).
        median, sigma: the lognormal's median (> 0) and log standard deviation (>= 0).
    """

    kind: str = DISTRIBUTION.default("kind")
    lo: float | None = None
    hi: float | None = None
    median: float | None = None
    sigma: float | None = None

    KEYS = DISTRIBUTION.keys

    def __post_init__(self) -> None:
        DISTRIBUTION.check_into(self, ("kind", "lo", "hi"))
        kind = self.kind
        if kind == "uniform":
            for name in ("lo", "hi"):
                if getattr(self, name) is None:
                    raise ScenarioError(name, 'missing; kind "uniform" needs lo and hi')
            for name in ("median", "sigma"):
                if getattr(self, name) is not None:
                    raise ScenarioError(name, 'not used by kind "uniform" (it takes lo and hi)')
        else:
            if self.median is None:
                raise ScenarioError("median", 'missing; kind "lognormal" needs median and sigma')
            if self.sigma is None:
                raise ScenarioError("sigma", 'missing; kind "lognormal" needs median and sigma')
            DISTRIBUTION.check_into(self, ("median", "sigma"))
        if self.lo is not None and self.hi is not None and self.hi < self.lo:
            raise expected("hi", f"a number >= lo = {self.lo!r}", self.hi)

    @classmethod
    def uniform(cls, lo: float, hi: float) -> Distribution:
        """Uniform on ``[lo, hi)``."""
        return cls("uniform", lo=lo, hi=hi)

    @classmethod
    def lognormal(
        cls, median: float, sigma: float, lo: float | None = None, hi: float | None = None
    ) -> Distribution:
        """``median * exp(sigma * z)``, clipped to ``[lo, hi]`` where given."""
        return cls("lognormal", lo=lo, hi=hi, median=median, sigma=sigma)

    def sample(self, rng: np.random.Generator, n: int) -> FloatArray:
        """``n`` draws as float64 (before any rounding)."""
        if self.kind == "uniform":
            lo, hi = float(self.lo or 0.0), float(self.hi or 0.0)
            values: FloatArray = rng.uniform(lo, hi, n) if hi > lo else np.full(n, lo)
            return values
        median, sigma = float(self.median or 0.0), float(self.sigma or 0.0)
        values = median * np.exp(sigma * rng.standard_normal(n))
        if self.lo is not None or self.hi is not None:
            np.clip(values, self.lo, self.hi, out=values)
        return values

    def to_dict(self) -> dict[str, Any]:
        """The plain (TOML) form, ``None`` values left out."""
        out: dict[str, Any] = {"kind": self.kind}
        for name in ("lo", "hi", "median", "sigma"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    @classmethod
    def from_dict(cls, d: object, minimum: float = 0.0) -> Distribution:
        """Read the plain form: ``{kind = "lognormal", median, sigma}`` or ``{kind =
        "uniform", lo, hi}``; ``lo``, ``hi`` and ``median`` must be >= ``minimum``."""
        if isinstance(d, Distribution):
            return d
        table = check_table(d, "", cls.KEYS, required=DISTRIBUTION.required)
        for name in ("lo", "hi", "median"):
            if table.get(name) is not None:
                check_number(table[name], name, lo=minimum)
        return cls(**table)


def _default_collateral() -> Distribution:
    return Distribution.from_dict(POPULATION.default("collateral"))


def _default_leverage() -> Distribution:
    return Distribution.from_dict(POPULATION.default("leverage"))


@dataclass(frozen=True)
class Population:
    """The traders of a scenario.

    Generated (when ``table`` is ``None``): ``count`` accounts, each in one market
    (drawn by ``market_weights``, equal by default), long with probability
    ``long_share``; collateral drawn from ``collateral`` and rounded to whole minor units
    (>= 1); leverage from ``leverage``, clipped to 1 .. ``10_000 / imr_bps``; size
    ``floor(leverage * collateral / (start_price * tick_value))`` lots, at least 1 and
    at most what the initial margin allows (an account too small for one lot gets one
    lot and its collateral raised to one lot's initial margin); entry at the market's
    first price.

    Attributes:
        count: number of accounts (generated populations).
        collateral: distribution of deposits, minor units.
        leverage: distribution of leverage (notional / collateral), default 1 .. 50.
        long_share: probability that an account is long (0..1).
        market_weights: relative weights of the markets (one per market), or ``None``.
        table: a CSV or Parquet file with columns ``collateral`` (minor units, > 0),
            ``size`` (signed lots, non-zero), ``entry`` (ticks, > 0) and ``market``
            (a market name or index); when given, the generated fields are ignored.
    """

    count: int = POPULATION.default("count")
    collateral: Distribution = field(default_factory=_default_collateral)
    leverage: Distribution = field(default_factory=_default_leverage)
    long_share: float = POPULATION.default("long_share")
    market_weights: tuple[float, ...] | None = None
    table: str | None = None

    KEYS = POPULATION.keys

    def __post_init__(self) -> None:
        POPULATION.check_into(self, ("count",))
        for name in ("collateral", "leverage"):
            value = getattr(self, name)
            if not isinstance(value, Distribution):
                try:
                    value = Distribution.from_dict(value, minimum=1.0)
                except ScenarioError as exc:
                    raise exc.within(name) from None
                object.__setattr__(self, name, value)
        if self.collateral.lo is not None and self.collateral.lo < 1:
            raise expected("collateral.lo", "a number >= 1 (minor units)", self.collateral.lo)
        if self.leverage.lo is not None and self.leverage.lo < 1:
            raise expected("leverage.lo", "a number >= 1", self.leverage.lo)
        if self.leverage.hi is not None and self.leverage.hi < 1:
            raise expected("leverage.hi", "a number >= 1", self.leverage.hi)
        POPULATION.check_into(self, ("long_share", "market_weights", "table"))
        weights = self.market_weights
        if weights is not None and (not weights or sum(weights) <= 0):
            raise expected("market_weights", "numbers >= 0 with a positive sum", weights)

    def to_dict(self) -> dict[str, Any]:
        """The plain (TOML) form, ``None`` values left out."""
        out: dict[str, Any] = {
            "count": self.count,
            "collateral": self.collateral.to_dict(),
            "leverage": self.leverage.to_dict(),
            "long_share": self.long_share,
        }
        if self.market_weights is not None:
            out["market_weights"] = list(self.market_weights)
        if self.table is not None:
            out["table"] = self.table
        return out

    @classmethod
    def from_dict(cls, d: object, base_dir: Path | None = None) -> Population:
        """Read the plain form; a relative ``table`` is taken relative to ``base_dir``."""
        if isinstance(d, Population):
            return d
        table = dict(check_table(d, "", cls.KEYS))
        for name in ("collateral", "leverage"):
            if name in table:
                try:
                    # Both are >= 1: a minor unit of collateral, 1x leverage.
                    table[name] = Distribution.from_dict(table[name], minimum=1.0)
                except ScenarioError as exc:
                    raise exc.within(name) from None
        file = table.get("table")
        if isinstance(file, str) and base_dir is not None and not Path(file).is_absolute():
            table["table"] = str(base_dir / file)
        return cls(**table)


def build_accounts(
    population: Population,
    *,
    seed: int,
    start_prices: Int64Array,
    tick_value: Int64Array,
    imr_bps: Int64Array,
    market_names: Sequence[str],
) -> Accounts:
    """The accounts of ``population`` (generated, or read from its table).

    ``start_prices``, ``tick_value`` and ``imr_bps`` have one int64 entry per market.
    Vectorized: no per-account Python loop.
    """
    if population.table is not None:
        return read_accounts(population.table, market_names)
    n = population.count
    markets = len(market_names)
    rng = np.random.default_rng([seed, _TAG, POPULATION_STREAM])
    if markets == 1:
        market = np.zeros(n, dtype=np.int64)
    else:
        weights = population.market_weights or (1.0,) * markets
        share = np.asarray(weights, dtype=np.float64)
        market = rng.choice(markets, size=n, p=share / share.sum()).astype(np.int64)
    collateral = np.maximum(np.rint(population.collateral.sample(rng, n)), 1.0)
    if collateral.max() >= 2**53:
        raise ScenarioError("population.collateral", "draws exceed 2**53 minor units")
    max_leverage = 10_000 / imr_bps.astype(np.float64)
    leverage = np.clip(population.leverage.sample(rng, n), 1.0, max_leverage[market])
    long = rng.random(n) < population.long_share

    price = start_prices[market]
    tick = tick_value[market]
    imr = imr_bps[market]
    lot_notional = price * tick  # minor units per lot at entry
    if int(lot_notional.max()) * int(imr.max()) * 10 > INT64_MAX:
        raise ScenarioError("market", "start_price x tick_value x imr_bps is too large for int64")
    coll = collateral.astype(np.int64)
    cap = _margin_cap(coll, lot_notional * imr)
    wanted = np.floor(leverage * collateral / lot_notional.astype(np.float64))
    size = np.minimum(wanted, cap.astype(np.float64)).astype(np.int64)
    too_small = size < 1
    if too_small.any():
        # One lot, with the collateral raised to that lot's initial margin (rounded up).
        one_lot_margin = -((-lot_notional * imr) // 10_000)
        coll = np.where(too_small, np.maximum(coll, one_lot_margin), coll)
        size = np.maximum(size, 1)
    if float(size.max()) * float(lot_notional.max()) >= NOTIONAL_MAX:
        raise ScenarioError("population", "a position's notional exceeds 2**62 minor units")
    size = np.where(long, size, -size)
    return Accounts(collateral=coll, market=market, size=size, entry=price.copy())


def _margin_cap(collateral: Int64Array, unit: Int64Array) -> Int64Array:
    """``floor(collateral * 10_000 / unit)`` exactly, without int64 overflow: the most
    lots whose initial margin (``ceil(lots * unit / 10_000)``) the collateral covers.

    Needs ``10 * unit`` to fit in int64; the result is capped at ``2**40 * 10_000``.
    """
    whole, rest = np.divmod(collateral, unit)
    cap = np.minimum(whole, 2**40) * 10_000
    # Long division of rest * 10_000 / unit, one decimal digit at a time.
    scale = 1_000
    for _ in range(4):
        digit, rest = np.divmod(rest * 10, unit)
        cap += digit * scale
        scale //= 10
    result: Int64Array = cap
    return result
