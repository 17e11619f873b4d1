"""Price paths: one mark-price series per market, in integer ticks.

A :class:`PricePath` (fields: ``schema.PATH``) generates the marks from a seeded RNG
(geometric Brownian motion, jumps, a crash-and-rebound preset) or names the user's
CSV/Parquet file (read by :mod:`mutualize.sim.files`). A step is one minute by
convention.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from .checks import ScenarioError, check_int, check_table, expected
from .files import read_price_file
from .funding import Funding, funding_deltas
from .schema import MAX_PATH_CELLS, PATH, PRICE_MAX

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

PATH_KINDS: tuple[str, ...] = PATH["kind"].choices
# Entropy tag of the streams that are not a market's own: ``[seed, _TAG, n]``.
_TAG = 2**32 - 1
COMMON_STREAM = 2
# Steepness of the crash's S-curve (tanh(k (u - 1/2)), u in 0..1).
_SHARPNESS = 10.0
FloatArray = npt.NDArray[np.float64]
Int64Array = npt.NDArray[np.int64]
# The default number of steps of a generated path.
DEFAULT_STEPS = 1_000


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

    kind: str = PATH.default("kind")
    steps: int | None = PATH.default("steps")
    sigma: float = PATH.default("sigma")
    drift: float = PATH.default("drift")
    jump_rate: float = PATH.default("jump_rate")
    jump_mean: float = PATH.default("jump_mean")
    jump_sigma: float = PATH.default("jump_sigma")
    crash_depth: float = PATH.default("crash_depth")
    crash_step: int | None = PATH.default("crash_step")
    crash_length: int = PATH.default("crash_length")
    rebound: float = PATH.default("rebound")
    rebound_length: int = PATH.default("rebound_length")
    correlation: float = PATH.default("correlation")
    file: str | None = PATH.default("file")

    KEYS = PATH.keys

    def __post_init__(self) -> None:
        PATH.check_into(self, ("kind",))
        kind = self.kind
        if self.steps is None:
            object.__setattr__(self, "steps", 0 if kind == "file" else DEFAULT_STEPS)
        # Generated paths need a step; 0 reads a file's every row.
        steps_field = PATH["steps"]
        steps = check_int(
            self.steps,
            "steps",
            lo=0 if kind == "file" else 1,
            hi=int(steps_field.hi or 0),
            unit=steps_field.unit,
        )
        object.__setattr__(self, "steps", steps)
        PATH.check_into(self, tuple(k for k in PATH.keys if k not in ("kind", "steps")))
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
    if steps * markets > MAX_PATH_CELLS:
        raise ScenarioError(
            "path.steps",
            f"{steps:,} steps x {markets} markets is more than {MAX_PATH_CELLS:,} prices",
        )
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
