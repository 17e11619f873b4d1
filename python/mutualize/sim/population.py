"""The accounts of a scenario: generated from distributions or read from a table.

Collateral is in integer minor units, sizes in integer lots (signed: > 0 long), entry
prices in integer ticks. Generation is vectorized numpy, seeded by
``numpy.random.default_rng([seed, 2**32 - 1, 1])`` (a stream no market path uses).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .inputs import Int64Array
from .paths import (
    FloatArray,
    ScenarioError,
    check_choice,
    check_int,
    check_number,
    check_path,
    check_table,
    expected,
    read_frame,
)

__all__ = ["DISTRIBUTION_KINDS", "Accounts", "Distribution", "Population", "build_accounts"]

DISTRIBUTION_KINDS = ("uniform", "lognormal")
POPULATION_STREAM = 1
_TAG = 2**32 - 1
INT64_MAX = 2**63 - 1
# Notionals (lots x ticks x tick_value) must stay well inside int64 for the ledger.
NOTIONAL_MAX = 2**62
TABLE_COLUMNS = ("collateral", "size", "entry", "market")


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

    kind: str = "uniform"
    lo: float | None = None
    hi: float | None = None
    median: float | None = None
    sigma: float | None = None

    KEYS = ("kind", "lo", "hi", "median", "sigma")

    def __post_init__(self) -> None:
        kind = check_choice(self.kind, "kind", DISTRIBUTION_KINDS)
        for name in ("lo", "hi"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, check_number(value, name, lo=0.0))
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
            object.__setattr__(
                self, "median", check_number(self.median, "median", lo=0.0, lo_open=True)
            )
            object.__setattr__(self, "sigma", check_number(self.sigma, "sigma", lo=0.0, hi=10.0))
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
        table = check_table(d, "", cls.KEYS, required=("kind",))
        for name in ("lo", "hi", "median"):
            if table.get(name) is not None:
                check_number(table[name], name, lo=minimum)
        return cls(**table)


def _default_collateral() -> Distribution:
    return Distribution.lognormal(median=10_000_000, sigma=1.0)


def _default_leverage() -> Distribution:
    return Distribution.uniform(1, 50)


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

    count: int = 1_000
    collateral: Distribution = field(default_factory=_default_collateral)
    leverage: Distribution = field(default_factory=_default_leverage)
    long_share: float = 0.5
    market_weights: tuple[float, ...] | None = None
    table: str | None = None

    KEYS = ("count", "collateral", "leverage", "long_share", "market_weights", "table")

    def __post_init__(self) -> None:
        object.__setattr__(self, "count", check_int(self.count, "count", lo=1, hi=10**9))
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
        object.__setattr__(
            self, "long_share", check_number(self.long_share, "long_share", lo=0.0, hi=1.0)
        )
        if self.market_weights is not None:
            weights = self.market_weights
            if isinstance(weights, str | bytes | Mapping) or not isinstance(weights, Sequence):
                raise expected("market_weights", "a list of numbers >= 0", weights)
            checked = tuple(
                check_number(w, f"market_weights[{i}]", lo=0.0) for i, w in enumerate(weights)
            )
            if not checked or sum(checked) <= 0:
                raise expected("market_weights", "numbers >= 0 with a positive sum", weights)
            object.__setattr__(self, "market_weights", checked)
        if self.table is not None:
            object.__setattr__(self, "table", check_path(self.table, "table"))

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


class Accounts(NamedTuple):
    """A population as exact arrays, one entry per account (int64)."""

    collateral: Int64Array  # minor units, > 0
    market: Int64Array  # market index
    size: Int64Array  # signed lots, non-zero
    entry: Int64Array  # ticks, > 0


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


def read_accounts(file: str, market_names: Sequence[str]) -> Accounts:
    """Accounts from a CSV/Parquet table (columns collateral, size, entry, market)."""
    import pandas as pd

    key = "population.table"
    frame = read_frame(file, key)
    for column in TABLE_COLUMNS:
        if column not in frame.columns:
            raise ScenarioError(key, f"missing column {column!r} in {file!r}")
    if len(frame) == 0:
        raise ScenarioError(key, f"{file!r} has no rows")
    collateral = _int_column(frame["collateral"], key, "collateral", lo=1, unit="minor units")
    size = _int_column(frame["size"], key, "size", unit="lots")
    if (size == 0).any():
        row = int(np.flatnonzero(size == 0)[0])
        raise ScenarioError(key, f"column 'size', row {row}: expected non-zero lots, got 0")
    entry = _int_column(frame["entry"], key, "entry", lo=1, unit="ticks")
    column = frame["market"]
    if pd.api.types.is_integer_dtype(column) or pd.api.types.is_float_dtype(column):
        market = _int_column(column, key, "market", lo=0, hi=len(market_names) - 1)
    else:
        names = column.astype(str)
        index = {name: i for i, name in enumerate(market_names)}
        unknown = ~names.isin(list(index))
        if unknown.any():
            row = int(np.flatnonzero(unknown.to_numpy())[0])
            raise ScenarioError(
                key,
                f"column 'market', row {row}: unknown market {names.iloc[row]!r}; expected "
                f"one of {', '.join(market_names)} or an index",
            )
        market = names.map(index).to_numpy(dtype=np.int64)
    return Accounts(collateral=collateral, market=market, size=size, entry=entry)


def _int_column(
    series: Any,
    key: str,
    name: str,
    *,
    lo: int | None = None,
    hi: int | None = None,
    unit: str = "",
) -> Int64Array:
    """A table column as exact int64: integer columns, or float columns of whole numbers
    below 2**53 (exact in float64)."""
    import pandas as pd

    what = "an integer" + (f" ({unit})" if unit else "")
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        raise ScenarioError(key, f"column {name!r}: expected {what}, got {series.dtype} values")
    if pd.api.types.is_integer_dtype(series):
        if series.isna().any():
            row = int(np.flatnonzero(series.isna().to_numpy())[0])
            raise ScenarioError(key, f"column {name!r}, row {row}: missing value")
        raw = series.to_numpy()
        if raw.dtype == np.uint64 and (raw > np.uint64(INT64_MAX)).any():
            raise ScenarioError(key, f"column {name!r}: a value exceeds int64")
        values = raw.astype(np.int64)
    else:
        floats = series.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(floats) | (np.floor(floats) != floats) | (np.abs(floats) >= 2**53)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ScenarioError(
                key, f"column {name!r}, row {row}: expected {what}, got {floats[row]!r}"
            )
        values = floats.astype(np.int64)
    low = lo if lo is not None else -math.inf
    high = hi if hi is not None else math.inf
    out_of_range = (values < low) | (values > high)
    if out_of_range.any():
        row = int(np.flatnonzero(out_of_range)[0])
        bounds = f">= {lo}" if hi is None else f"in {lo}..={hi}"
        raise ScenarioError(
            key, f"column {name!r}, row {row}: expected {what} {bounds}, got {int(values[row])}"
        )
    result: Int64Array = values
    return result
