"""Price paths and funding for scenarios.

A :class:`PricePath` generates one mark-price series per market, in integer ticks, from a
seeded RNG (geometric Brownian motion, jumps, a crash-and-rebound preset) or reads the
user's CSV/Parquet. :class:`Funding` turns a path into the engine's funding-index
increments, in integer minor units per lot. A step is one minute by convention (funding
every 480 steps = every 8 hours).

This module also holds :class:`ScenarioError` and the checks every scenario section
shares; :mod:`mutualize.sim.scenario` re-exports it.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ..errors import InvalidInputError
from .inputs import Int64Array

__all__ = [
    "PATH_KINDS",
    "Funding",
    "PricePath",
    "ScenarioError",
    "crash_profile",
    "funding_deltas",
    "generate_prices",
    "read_price_file",
]

PATH_KINDS = ("gbm", "jumps", "crash_rebound", "file")
SEED_MAX = 2**63 - 1
# The largest price (ticks) a generator may produce: exactly representable in float64.
PRICE_MAX = 2**53
# Entropy tag of the streams that are not a market's own: ``[seed, _TAG, n]``.
_TAG = 2**32 - 1
COMMON_STREAM = 2
# Steepness of the crash's S-curve (tanh(k (u - 1/2)), u in 0..1).
_SHARPNESS = 10.0
FloatArray = npt.NDArray[np.float64]


# --------------------------------------------------------------------------- errors


class ScenarioError(InvalidInputError):
    """A scenario (file, dict or object) has a missing, unknown or invalid value.

    The message names the key path and what was expected, e.g.
    ``population.leverage.hi: expected a number >= 1, got "x"``; for a file it starts
    with the file name.

    Attributes:
        key: the dotted key path (``""`` for the whole scenario).
        detail: what was wrong with it.
        source: the file the scenario came from, or ``None``.
    """

    def __init__(self, key: str, detail: str, source: str | None = None) -> None:
        self.key = key
        self.detail = detail
        self.source = source
        text = f"{key}: {detail}" if key else detail
        super().__init__(f"{source}: {text}" if source else text)

    def within(self, prefix: str) -> ScenarioError:
        """The same error with its key under ``prefix`` (``leverage.hi`` -> ``population.
        leverage.hi``)."""
        if not prefix:
            return self
        if not self.key:
            key = prefix
        elif self.key.startswith("["):
            key = prefix + self.key
        else:
            key = f"{prefix}.{self.key}"
        return ScenarioError(key, self.detail, self.source)

    def from_source(self, source: str) -> ScenarioError:
        """The same error, its message prefixed with the file it came from."""
        return ScenarioError(self.key, self.detail, source)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.key, self.detail, self.source))


def show(value: object) -> str:
    """A value as the error messages quote it (strings in double quotes)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return f"a list ({len(value)} items)" if len(value) > 8 else repr(list(value))
    if value is None:
        return "nothing"
    return repr(value)


def expected(key: str, what: str, value: object) -> ScenarioError:
    """``key: expected <what>, got <value>``."""
    return ScenarioError(key, f"expected {what}, got {show(value)}")


def check_int(
    value: object,
    key: str,
    *,
    lo: int | None = None,
    hi: int | None = None,
    unit: str = "",
) -> int:
    """An exact integer (bools and floats refused) within ``lo..=hi``."""
    what = "an integer"
    if lo is not None and hi is not None:
        what += f" in {lo}..={hi}"
    elif lo is not None:
        what += f" >= {lo}"
    elif hi is not None:
        what += f" <= {hi}"
    if unit:
        what += f" ({unit})"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise expected(key, what, value)
    number = int(value)
    if (lo is not None and number < lo) or (hi is not None and number > hi):
        raise expected(key, what, number)
    return number


def check_number(
    value: object,
    key: str,
    *,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    hi_open: bool = False,
) -> float:
    """A finite real number (int or float; bools refused) within the bounds, as a float."""
    what = "a number"
    bounds = []
    if lo is not None:
        bounds.append(f"{'>' if lo_open else '>='} {_fmt(lo)}")
    if hi is not None:
        bounds.append(f"{'<' if hi_open else '<='} {_fmt(hi)}")
    if bounds:
        what += " " + " and ".join(bounds)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise expected(key, what, value)
    number = float(value)
    if not math.isfinite(number):
        raise expected(key, what, value)
    if lo is not None and (number < lo or (lo_open and number == lo)):
        raise expected(key, what, value)
    if hi is not None and (number > hi or (hi_open and number == hi)):
        raise expected(key, what, value)
    return number


def check_choice(value: object, key: str, allowed: Sequence[str]) -> str:
    """One of ``allowed``."""
    if not isinstance(value, str) or value not in allowed:
        raise expected(key, "one of " + ", ".join(json.dumps(a) for a in allowed), value)
    return value


def check_str(value: object, key: str) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value:
        raise expected(key, "a non-empty string", value)
    return value


def check_path(value: object, key: str) -> str:
    """A file path (a non-empty string or ``os.PathLike``), kept as a string."""
    if isinstance(value, Path):
        return str(value)
    return check_str(value, key)


def check_table(
    value: object,
    key: str,
    allowed: Iterable[str],
    required: Iterable[str] = (),
) -> Mapping[str, Any]:
    """A mapping with only ``allowed`` keys and every ``required`` one."""
    if not isinstance(value, Mapping):
        raise expected(key, "a table", value)
    names = tuple(allowed)
    for name in value:
        if name not in names:
            where = f"{key}.{name}" if key else str(name)
            raise ScenarioError(where, "unknown key; expected one of " + ", ".join(names))
    for name in required:
        if name not in value:
            where = f"{key}.{name}" if key else name
            raise ScenarioError(where, "missing")
    return value


def _fmt(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else repr(number)


def resolve_file(file: str, key: str, base_dir: Path | None = None) -> Path:
    """The path of a data file, relative paths against ``base_dir``; it must exist."""
    path = Path(file)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.is_file():
        raise ScenarioError(key, f"file not found: {str(path)!r}")
    return path


def read_frame(file: str, key: str) -> Any:
    """A CSV or Parquet file as a pandas DataFrame (``.csv``, ``.parquet``, ``.pq``)."""
    import pandas as pd

    path = resolve_file(file, key)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise ScenarioError(key, f"cannot read {str(path)!r}: {exc}") from None
    raise ScenarioError(key, f"expected a .csv or .parquet file, got {str(path)!r}")


# --------------------------------------------------------------------------- price paths


@dataclass(frozen=True)
class PricePath:
    """How the mark price of every market moves, one row per step.

    Row 0 is each market's ``start_price`` (ticks); every later row multiplies the last by
    ``exp(drift - sigma**2 / 2 + sigma * z)`` with ``z`` standard normal (GBM), plus
    jumps and the crash profile for the kinds that have them. Prices are rounded to
    integer ticks, at least 1.

    Attributes:
        kind: ``"gbm"``, ``"jumps"`` (GBM plus Poisson jumps of normal log size),
            ``"crash_rebound"`` (GBM plus the stylized crash of :func:`crash_profile`,
            and jumps when ``jump_rate > 0``) or ``"file"`` (the user's prices).
        steps: number of price steps (rows), default 1,000; for ``"file"``, 0 (the
            default) reads every row, more reads the first ``steps`` rows.
        sigma: volatility of the log price per step (0.0007 is about 50% a year with
            one-minute steps).
        drift: mean log return per step.
        jump_rate: expected jumps per step (``"jumps"``, ``"crash_rebound"``).
        jump_mean, jump_sigma: mean and standard deviation of one jump's log size.
        crash_depth: the drop from the price at ``crash_step`` to the bottom, as a share
            (0.15: 15%), ``0 < crash_depth < 1``.
        crash_step: the step the crash starts at (default: ``steps // 3``).
        crash_length: steps from the start of the crash to the bottom (>= 1).
        rebound: the share of the drop recovered after the bottom (0..1).
        rebound_length: steps the rebound takes (>= 1).
        correlation: weight of a common factor in every market's shocks (0: independent
            markets, 1: the same shocks), for scenarios with several markets.
        file: for ``"file"``: a CSV or Parquet file with one column per market name, or
            a single ``price`` column for a one-market scenario; values are prices in
            ticks (rounded to integers, > 0). Other columns are ignored.
    """

    kind: str = "gbm"
    steps: int | None = None
    sigma: float = 0.001
    drift: float = 0.0
    jump_rate: float = 0.0
    jump_mean: float = 0.0
    jump_sigma: float = 0.0
    crash_depth: float = 0.15
    crash_step: int | None = None
    crash_length: int = 40
    rebound: float = 0.5
    rebound_length: int = 240
    correlation: float = 0.0
    file: str | None = None

    KEYS = (
        "kind",
        "steps",
        "sigma",
        "drift",
        "jump_rate",
        "jump_mean",
        "jump_sigma",
        "crash_depth",
        "crash_step",
        "crash_length",
        "rebound",
        "rebound_length",
        "correlation",
        "file",
    )

    def __post_init__(self) -> None:
        kind = check_choice(self.kind, "kind", PATH_KINDS)
        lo_steps = 0 if kind == "file" else 1
        if self.steps is None:
            object.__setattr__(self, "steps", 0 if kind == "file" else 1_000)
        steps = check_int(self.steps, "steps", lo=lo_steps, hi=10**9, unit="steps")
        fields: dict[str, object] = {
            "steps": steps,
            "sigma": check_number(self.sigma, "sigma", lo=0.0, hi=1.0),
            "drift": check_number(self.drift, "drift", lo=-1.0, hi=1.0),
            "jump_rate": check_number(self.jump_rate, "jump_rate", lo=0.0, hi=100.0),
            "jump_mean": check_number(self.jump_mean, "jump_mean", lo=-5.0, hi=5.0),
            "jump_sigma": check_number(self.jump_sigma, "jump_sigma", lo=0.0, hi=5.0),
            "crash_depth": check_number(
                self.crash_depth, "crash_depth", lo=0.0, hi=1.0, lo_open=True, hi_open=True
            ),
            "crash_length": check_int(self.crash_length, "crash_length", lo=1, unit="steps"),
            "rebound": check_number(self.rebound, "rebound", lo=0.0, hi=1.0),
            "rebound_length": check_int(self.rebound_length, "rebound_length", lo=1, unit="steps"),
            "correlation": check_number(self.correlation, "correlation", lo=0.0, hi=1.0),
        }
        for name, value in fields.items():
            object.__setattr__(self, name, value)
        if self.crash_step is not None:
            object.__setattr__(
                self, "crash_step", check_int(self.crash_step, "crash_step", lo=0, unit="steps")
            )
        if kind == "crash_rebound":
            bottom = self.crash_start + self.crash_length
            if bottom >= steps:
                raise ScenarioError(
                    "crash_step",
                    f"the crash must reach its bottom within the path: crash_step + "
                    f"crash_length = {bottom} must be < steps = {steps}",
                )
        if kind == "gbm" and self.jump_rate > 0:
            raise expected("jump_rate", '0 for kind "gbm" (use kind "jumps")', self.jump_rate)
        if kind == "jumps" and self.jump_rate <= 0:
            raise expected("jump_rate", 'a number > 0 for kind "jumps"', self.jump_rate)
        if kind == "file":
            if self.file is None:
                raise ScenarioError("file", 'missing; kind "file" needs a CSV or Parquet file')
            object.__setattr__(self, "file", check_path(self.file, "file"))
        elif self.file is not None:
            raise ScenarioError("file", f'only used with kind "file" (kind is "{kind}")')

    @property
    def num_steps(self) -> int:
        """``steps`` as resolved on construction (0: every row of the price file)."""
        return int(self.steps or 0)

    @property
    def crash_start(self) -> int:
        """The step the crash starts at (``crash_step``, default ``steps // 3``)."""
        return self.num_steps // 3 if self.crash_step is None else self.crash_step

    @property
    def generated(self) -> bool:
        """Whether the prices come from the seeded generator (every kind but ``"file"``)."""
        return self.kind != "file"

    def to_dict(self) -> dict[str, Any]:
        """The plain (TOML) form; ``None`` values are left out."""
        out: dict[str, Any] = {}
        for name in self.KEYS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    @classmethod
    def from_dict(cls, d: object, base_dir: Path | None = None) -> PricePath:
        """Read the plain form; a relative ``file`` is taken relative to ``base_dir``."""
        if isinstance(d, PricePath):
            return d
        table = dict(check_table(d, "", cls.KEYS))
        file = table.get("file")
        if isinstance(file, str) and base_dir is not None and not Path(file).is_absolute():
            table["file"] = str(base_dir / file)
        return cls(**table)


def crash_profile(
    steps: int,
    crash_step: int,
    crash_length: int,
    depth: float,
    rebound: float,
    rebound_length: int,
) -> FloatArray:
    """The log-price offset of the stylized crash-and-rebound, one value per step.

    0 before ``crash_step``; falls to ``log(1 - depth)`` over ``crash_length`` steps
    along a tanh S-curve (slow start, a sharp middle where one step takes about
    ``5 / crash_length`` of the drop, slowing into the bottom); then
    recovers ``rebound`` of the price drop over ``rebound_length`` steps, fast at first
    (``1 - (1 - v)**2``), and stays there.

    The shape is stylized on 10 October 2025 (the tariff-announcement crash), as
    reported from CoinGlass and Amberdata data: the liquidation cascade began about
    20:50 UTC and peaked around 21:15 UTC; BTC fell from about 122,000 to about 105,000
    USD (roughly -13% to -15%; ETH about -18%) within the hour, and was back near
    112,000-115,000 USD within hours, about half the drop. It is a shape, not a replay:
    with one-minute steps the defaults (40-step fall, 240-step rebound, half
    recovered) follow those proportions.
    """
    t = np.arange(steps, dtype=np.float64)
    u = np.clip((t - crash_step) / crash_length, 0.0, 1.0)
    bottom = math.log1p(-depth)
    # tanh S-curve scaled to 0..1: its middle step falls about 5 / crash_length of the
    # log drop (the cascade's peak minute), its ends are gentle.
    fall = bottom * 0.5 * (1.0 + np.tanh(_SHARPNESS * (u - 0.5)) / math.tanh(_SHARPNESS / 2))
    v = np.clip((t - crash_step - crash_length) / rebound_length, 0.0, 1.0)
    recovered = math.log1p(-depth * (1.0 - rebound)) - bottom
    rise = recovered * (1.0 - (1.0 - v) ** 2)
    profile: FloatArray = fall + rise
    return profile


def generate_prices(path: PricePath, start_prices: Sequence[int], seed: int) -> Int64Array:
    """The generated path: shape ``(path.steps, len(start_prices))``, int64 ticks >= 1.

    Market ``m`` draws from ``numpy.random.default_rng([seed, m])``; with
    ``correlation > 0`` every market also shares the shocks of a common stream
    (``z = sqrt(c) * common + sqrt(1 - c) * own``). Deterministic for a given seed.
    """
    if not path.generated:
        raise ScenarioError("path.kind", 'generate_prices needs a generated kind, not "file"')
    steps = path.num_steps
    markets = len(start_prices)
    prices = np.empty((steps, markets), dtype=np.int64)
    moves = steps - 1
    rho = path.correlation
    common: FloatArray | None = None
    if rho > 0 and markets > 1:
        common = np.random.default_rng([seed, _TAG, COMMON_STREAM]).standard_normal(moves)
    profile: FloatArray | None = None
    if path.kind == "crash_rebound":
        profile = crash_profile(
            steps,
            path.crash_start,
            path.crash_length,
            path.crash_depth,
            path.rebound,
            path.rebound_length,
        )
    jumps = path.kind in ("jumps", "crash_rebound") and path.jump_rate > 0
    for m, start in enumerate(start_prices):
        rng = np.random.default_rng([seed, m])
        z = rng.standard_normal(moves)
        if common is not None:
            z = math.sqrt(rho) * common + math.sqrt(1.0 - rho) * z
        step_log = (path.drift - 0.5 * path.sigma**2) + path.sigma * z
        if jumps:
            counts = rng.poisson(path.jump_rate, moves)
            size = rng.standard_normal(moves)
            step_log += counts * path.jump_mean + np.sqrt(counts) * path.jump_sigma * size
        log_price = np.empty(steps, dtype=np.float64)
        log_price[0] = 0.0
        np.cumsum(step_log, out=log_price[1:])
        if profile is not None:
            log_price += profile
        with np.errstate(over="ignore"):
            level = np.rint(float(start) * np.exp(log_price))
        if not np.isfinite(level).all() or level.max() > PRICE_MAX:
            raise ScenarioError(
                "path", f"market {m}'s price path exceeds 2**53 ticks; lower sigma or drift"
            )
        prices[:, m] = np.maximum(level, 1.0).astype(np.int64)
        prices[0, m] = int(start)
    return prices


def read_price_file(
    file: str, market_names: Sequence[str], steps: int = 0, key: str = "path.file"
) -> Int64Array:
    """Prices from a CSV/Parquet file: shape ``(steps, markets)``, int64 ticks >= 1.

    One column per market name; a one-market scenario may use a ``price`` column
    instead. Values are rounded to the nearest tick and must be > 0 after rounding.
    ``steps = 0`` reads every row; otherwise the first ``steps`` rows.
    """
    import pandas as pd

    frame = read_frame(file, key)
    columns: list[str] = []
    for name in market_names:
        if name in frame.columns:
            columns.append(name)
        elif len(market_names) == 1 and "price" in frame.columns:
            columns.append("price")
        else:
            wanted = f'"{name}"' + (' or "price"' if len(market_names) == 1 else "")
            raise ScenarioError(key, f"missing column {wanted} in {file!r}")
    rows = len(frame)
    if rows == 0:
        raise ScenarioError(key, f"{file!r} has no rows")
    if steps > rows:
        raise ScenarioError(key, f"{file!r} has {rows} rows, fewer than path.steps = {steps}")
    take = rows if steps == 0 else steps
    prices = np.empty((take, len(columns)), dtype=np.int64)
    for m, column in enumerate(columns):
        series = frame[column].iloc[:take]
        if not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)):
            raise ScenarioError(key, f"column {column!r}: expected prices in ticks (numbers)")
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        level = np.rint(values)
        bad = ~np.isfinite(level) | (level < 1) | (level > PRICE_MAX)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ScenarioError(
                key,
                f"column {column!r}, row {row}: expected a price >= 1 tick, got {values[row]!r}",
            )
        prices[:, m] = level.astype(np.int64)
    return prices


# --------------------------------------------------------------------------- funding


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

    interval_steps: int = 480
    rate_bps: int = 1

    KEYS = ("interval_steps", "rate_bps")

    def __post_init__(self) -> None:
        object.__setattr__(
            self,
            "interval_steps",
            check_int(self.interval_steps, "interval_steps", lo=0, unit="steps"),
        )
        object.__setattr__(
            self, "rate_bps", check_int(self.rate_bps, "rate_bps", lo=-10_000, hi=10_000)
        )

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
