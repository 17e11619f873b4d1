"""Scenarios: what to backtest, as a TOML file or as Python objects.

A :class:`Scenario` holds markets, a population of accounts, a price path, funding, how
liquidations execute and the waterfall policies to compare; :meth:`Scenario.build` turns
it into exact :class:`~mutualize.sim.inputs.EngineInputs` (same seed, same bytes).
Money is in integer minor units, prices in integer ticks, sizes in integer lots, time in
price steps (one minute by convention).

The TOML form::

    name = "crash"
    seed = 7
    insurance_fund = 5_000_000_000        # minor units

    [[market]]
    name = "BTC-PERP"
    start_price = 1_220_000               # ticks
    tick_value = 10                       # minor units per lot per tick

    [population]
    count = 5_000
    collateral = { kind = "lognormal", median = 2e9, sigma = 1.0 }
    leverage = { kind = "uniform", lo = 1, hi = 50 }

    [path]
    kind = "crash_rebound"
    steps = 2_000

    [[policy]]
    preset = "okx_clawback"
    session_steps = 1_440

Unknown keys, wrong types and missing keys raise :class:`ScenarioError` naming the key.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from ..waterfall import PRESETS, InsuranceFund, Socialize, Waterfall
from .inputs import EngineInputs
from .paths import (
    SEED_MAX,
    Funding,
    PricePath,
    ScenarioError,
    check_choice,
    check_int,
    check_str,
    check_table,
    expected,
    funding_deltas,
    generate_prices,
    read_price_file,
)
from .population import NOTIONAL_MAX, Distribution, Population, build_accounts

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = [
    "DEMO_POLICIES",
    "GRANULARITIES",
    "POLICY_NAMES",
    "Distribution",
    "Execution",
    "Funding",
    "MarketSpec",
    "Policy",
    "Population",
    "PricePath",
    "Scenario",
    "ScenarioError",
    "policy",
]

INT64_MAX = 2**63 - 1
GRANULARITIES = ("step", "bankruptcy")


# --------------------------------------------------------------------------- markets


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
    """

    name: str
    tick_value: int = 1
    start_price: int | None = None
    imr_bps: int = 200
    mmr_bps: int = 100
    penalty_bps: int = 50

    KEYS = ("name", "tick_value", "start_price", "imr_bps", "mmr_bps", "penalty_bps")

    def __post_init__(self) -> None:
        check_str(self.name, "name")
        tick_value = check_int(self.tick_value, "tick_value", lo=1, unit="minor units")
        object.__setattr__(self, "tick_value", tick_value)
        if self.start_price is not None:
            price = check_int(self.start_price, "start_price", lo=1, hi=2**53, unit="ticks")
            object.__setattr__(self, "start_price", price)
        imr = check_int(self.imr_bps, "imr_bps", lo=1, hi=10_000, unit="bps")
        mmr = check_int(self.mmr_bps, "mmr_bps", lo=1, hi=imr, unit="bps, <= imr_bps")
        penalty = check_int(self.penalty_bps, "penalty_bps", lo=0, hi=10_000, unit="bps")
        object.__setattr__(self, "imr_bps", imr)
        object.__setattr__(self, "mmr_bps", mmr)
        object.__setattr__(self, "penalty_bps", penalty)

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
        return cls(**check_table(d, "", cls.KEYS, required=("name",)))


@dataclass(frozen=True)
class Execution:
    """How liquidations execute against the house (the backstop).

    Attributes:
        slippage_bps: the backstop buys a liquidated long (sells a short) this many bps
            below (above) the mark.
        impact_bps, depth_lots: extra slippage of ``impact_bps * lots / depth_lots`` bps
            for the lots already liquidated in the market in the same step (a thin book
            in a cascade), at most 5,000 bps in all.
    """

    slippage_bps: int = 10
    impact_bps: int = 0
    depth_lots: int = 1

    KEYS = ("slippage_bps", "impact_bps", "depth_lots")

    def __post_init__(self) -> None:
        slippage = check_int(self.slippage_bps, "slippage_bps", lo=0, hi=10_000, unit="bps")
        impact = check_int(self.impact_bps, "impact_bps", lo=0, hi=10_000, unit="bps")
        depth = check_int(self.depth_lots, "depth_lots", lo=1, unit="lots")
        object.__setattr__(self, "slippage_bps", slippage)
        object.__setattr__(self, "impact_bps", impact)
        object.__setattr__(self, "depth_lots", depth)

    def to_dict(self) -> dict[str, Any]:
        """The plain (TOML) form."""
        return {name: getattr(self, name) for name in self.KEYS}

    @classmethod
    def from_dict(cls, d: object) -> Execution:
        """Read the plain form (missing keys take their defaults)."""
        if isinstance(d, Execution):
            return d
        return cls(**check_table(d, "", cls.KEYS))


# --------------------------------------------------------------------------- policies


def _capped_pro_rata() -> Waterfall:
    # The kernel takes max_rate only with exact (largest-remainder) rounding.
    return Waterfall(
        stages=(
            InsuranceFund(),
            Socialize(rule="pro_rata", rounding="exact", base="unrealized_pnl", max_rate=(1, 2)),
        )
    )


def _equal_award() -> Waterfall:
    return Waterfall(stages=(InsuranceFund(), Socialize(rule="equal_award")))


_EXTRA_POLICIES = {"capped_pro_rata": _capped_pro_rata, "equal_award": _equal_award}
POLICY_NAMES: tuple[str, ...] = (*PRESETS, *_EXTRA_POLICIES)
"""Every policy name :func:`policy` knows: the waterfall presets, ``"capped_pro_rata"``
(insurance fund, then a pro-rata haircut of unrealized PnL taking at most half of any
account's profit; exact rounding, the only one the kernel allows with a cap) and
``"equal_award"`` (insurance fund, then constrained equal awards: the biggest winners
pay first)."""

DEMO_POLICIES = ("okx_clawback", "bitmex_adl", "capped_pro_rata", "equal_award")
"""The four policies a scenario compares when it names none."""


@dataclass(frozen=True)
class Policy:
    """A waterfall configuration to backtest, and how the engine applies it.

    Attributes:
        name: the name results are reported under (unique within a scenario).
        waterfall: the :class:`~mutualize.waterfall.Waterfall` (or its plain dict).
        granularity: ``"step"`` (the deficits of one price step are socialized in one
            allocation; pro-rata haircuts compose, so this equals one at a time up to
            rounding) or ``"bankruptcy"`` (one allocation per bankruptcy).
        session_steps: steps per session for deferred (clawback) waterfalls; the last
            session is settled after the last step. 0: one session, settled at the end.
    """

    name: str
    waterfall: Waterfall = field(default_factory=Waterfall)
    granularity: str = "step"
    session_steps: int = 0

    KEYS = (
        "name",
        "preset",
        "stages",
        "timing",
        "lock_session_profit",
        "granularity",
        "session_steps",
    )

    def __post_init__(self) -> None:
        check_str(self.name, "name")
        if not isinstance(self.waterfall, Waterfall):
            try:
                waterfall = Waterfall.from_dict(self.waterfall)
            except InvalidInputError as exc:
                raise ScenarioError("waterfall", str(exc)) from None
            object.__setattr__(self, "waterfall", waterfall)
        check_choice(self.granularity, "granularity", GRANULARITIES)
        object.__setattr__(
            self,
            "session_steps",
            check_int(self.session_steps, "session_steps", lo=0, unit="steps"),
        )

    @property
    def preset(self) -> str | None:
        """The name in :data:`POLICY_NAMES` whose waterfall this is (its own name first),
        or ``None``."""
        if self.name in POLICY_NAMES and _waterfall_of(self.name) == self.waterfall:
            return self.name
        for name in POLICY_NAMES:
            if _waterfall_of(name) == self.waterfall:
                return name
        return None

    def to_dict(self) -> dict[str, Any]:
        """The plain (TOML) form: ``preset`` when the waterfall is a known one, else
        ``stages``, ``timing`` and ``lock_session_profit``."""
        out: dict[str, Any] = {"name": self.name}
        preset = self.preset
        if preset is not None:
            out["preset"] = preset
        else:
            plain = self.waterfall.to_dict()
            out["stages"] = [
                {key: value for key, value in stage.items() if value is not None}
                for stage in plain["stages"]
            ]
            out["timing"] = plain["timing"]
            out["lock_session_profit"] = plain["lock_session_profit"]
        out["granularity"] = self.granularity
        out["session_steps"] = self.session_steps
        return out

    @classmethod
    def from_dict(cls, d: object, default_name: str = "policy") -> Policy:
        """Read the plain form: ``preset`` (a name in :data:`POLICY_NAMES`) or ``stages``
        (the stage dicts of ``Waterfall.from_dict``), plus optional ``name``,
        ``timing``, ``lock_session_profit``, ``granularity`` and ``session_steps``."""
        if isinstance(d, Policy):
            return d
        table = check_table(d, "", cls.KEYS)
        preset, stages = table.get("preset"), table.get("stages")
        if preset is not None and stages is not None:
            raise ScenarioError("stages", "give either preset or stages, not both")
        if preset is None and stages is None:
            raise ScenarioError(
                "preset",
                "missing; a policy needs a preset (one of "
                + ", ".join(POLICY_NAMES)
                + ") or stages",
            )
        timing = table.get("timing")
        if timing is not None:
            check_choice(timing, "timing", ("immediate", "deferred"))
        lock = table.get("lock_session_profit")
        if lock is not None and not isinstance(lock, bool):
            raise expected("lock_session_profit", "true or false", lock)
        if preset is not None:
            base = _waterfall_of(check_choice(preset, "preset", POLICY_NAMES))
            waterfall = Waterfall(
                stages=base.stages,
                timing=base.timing if timing is None else timing,
                lock_session_profit=base.lock_session_profit if lock is None else lock,
            )
            name = table.get("name", preset)
        else:
            if isinstance(stages, str | bytes | Mapping) or not isinstance(stages, Sequence):
                raise expected("stages", "a list of stage tables", stages)
            try:
                waterfall = Waterfall.from_dict(
                    {
                        "stages": list(stages),
                        "timing": "immediate" if timing is None else timing,
                        "lock_session_profit": bool(lock),
                    }
                )
            except InvalidInputError as exc:
                raise ScenarioError("stages", str(exc)) from None
            name = table.get("name", default_name)
        return cls(
            name=name,
            waterfall=waterfall,
            granularity=table.get("granularity", "step"),
            session_steps=table.get("session_steps", 0),
        )


def _waterfall_of(name: str) -> Waterfall:
    factory = PRESETS.get(name) or _EXTRA_POLICIES[name]
    return factory()


def policy(name: str, *, granularity: str = "step", session_steps: int = 0) -> Policy:
    """The named policy: a preset of :data:`mutualize.waterfall.PRESETS`,
    ``"capped_pro_rata"`` or ``"equal_award"`` (see :data:`POLICY_NAMES`).

    Raises:
        ScenarioError: an unknown name.
    """
    check_choice(name, "policy", POLICY_NAMES)
    return Policy(
        name=name,
        waterfall=_waterfall_of(name),
        granularity=granularity,
        session_steps=session_steps,
    )


def _default_policies() -> tuple[Policy, ...]:
    return tuple(policy(name) for name in DEMO_POLICIES)


# --------------------------------------------------------------------------- scenario

# The dict form's keys, for with_params: a tuple of keys is a table, a one-item list an
# array of such tables, None a value, and "any" a table checked later by its reader.
_SECTION_KEYS: dict[str, Any] = {
    "name": None,
    "seed": None,
    "insurance_fund": None,
    "house_collateral": None,
    "market": [MarketSpec.KEYS],
    "population": {
        **dict.fromkeys(Population.KEYS),
        "collateral": Distribution.KEYS,
        "leverage": Distribution.KEYS,
    },
    "path": PricePath.KEYS,
    "funding": Funding.KEYS,
    "execution": Execution.KEYS,
    "policy": [{**dict.fromkeys(Policy.KEYS), "stages": ["any"]}],
}


@dataclass(frozen=True)
class Scenario:
    """A backtest: markets, accounts, a price path, funding, execution and policies.

    Attributes:
        name: the scenario's name (reports and results carry it).
        seed: the random seed (``0 <= seed < 2**63``): market ``m``'s path draws from
            ``numpy.random.default_rng([seed, m])``, the population from its own stream.
        markets: one :class:`MarketSpec` per market (TOML: ``[[market]]``).
        population: the accounts (:class:`Population`).
        path: the price path (:class:`PricePath`).
        funding: periodic funding (:class:`Funding`).
        execution: liquidation slippage and impact (:class:`Execution`).
        policies: the waterfall configurations to compare, at least one (TOML:
            ``[[policy]]``; default: okx_clawback, bitmex_adl, capped_pro_rata,
            equal_award). Names, dicts and :class:`Policy` objects are accepted.
        insurance_fund: the fund at the start, minor units.
        house_collateral: the house's deposit, minor units (the counterparty of every
            opening fill and the liquidation backstop); ``None``: 10 x the population's
            total collateral.
    """

    name: str
    seed: int
    markets: tuple[MarketSpec, ...]
    population: Population = field(default_factory=Population)
    path: PricePath = field(default_factory=PricePath)
    funding: Funding = field(default_factory=Funding)
    execution: Execution = field(default_factory=Execution)
    policies: tuple[Policy, ...] = field(default_factory=_default_policies)
    insurance_fund: int = 0
    house_collateral: int | None = None

    KEYS = tuple(_SECTION_KEYS)

    def __post_init__(self) -> None:
        check_str(self.name, "name")
        object.__setattr__(self, "seed", check_int(self.seed, "seed", lo=0, hi=SEED_MAX))
        object.__setattr__(self, "markets", self._markets(self.markets))
        for key, cls in (
            ("population", Population),
            ("path", PricePath),
            ("funding", Funding),
            ("execution", Execution),
        ):
            value = getattr(self, key)
            if not isinstance(value, cls):
                try:
                    value = cls.from_dict(value)
                except ScenarioError as exc:
                    raise exc.within(key) from None
                object.__setattr__(self, key, value)
        object.__setattr__(self, "policies", self._policies(self.policies))
        fund = check_int(self.insurance_fund, "insurance_fund", lo=0, hi=INT64_MAX)
        object.__setattr__(self, "insurance_fund", fund)
        if self.house_collateral is not None:
            house = check_int(
                self.house_collateral, "house_collateral", lo=1, hi=INT64_MAX, unit="minor units"
            )
            object.__setattr__(self, "house_collateral", house)
        self._check_together()

    @staticmethod
    def _markets(value: object) -> tuple[MarketSpec, ...]:
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
            raise expected("market", "a list of market tables", value)
        if not value:
            raise ScenarioError("market", "expected at least one market")
        markets = []
        for i, item in enumerate(value):
            try:
                markets.append(MarketSpec.from_dict(item))
            except ScenarioError as exc:
                raise exc.within(f"market[{i}]") from None
        seen: set[str] = set()
        for i, market in enumerate(markets):
            if market.name in seen:
                raise ScenarioError(f"market[{i}].name", f"duplicate market name {market.name!r}")
            seen.add(market.name)
        return tuple(markets)

    @staticmethod
    def _policies(value: object) -> tuple[Policy, ...]:
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
            raise expected("policy", "a list of policies", value)
        if not value:
            raise ScenarioError("policy", "expected at least one policy")
        policies = []
        for i, item in enumerate(value):
            try:
                if isinstance(item, str):
                    policies.append(policy(item))
                else:
                    policies.append(Policy.from_dict(item, default_name=f"policy_{i + 1}"))
            except ScenarioError as exc:
                raise exc.within(f"policy[{i}]") from None
        seen: set[str] = set()
        for i, item in enumerate(policies):
            if item.name in seen:
                raise ScenarioError(f"policy[{i}].name", f"duplicate policy name {item.name!r}")
            seen.add(item.name)
        return tuple(policies)

    def _check_together(self) -> None:
        """Checks across sections (start prices, market weights, leverage bounds)."""
        if self.path.generated:
            for i, market in enumerate(self.markets):
                if market.start_price is None:
                    raise ScenarioError(
                        f"market[{i}].start_price",
                        f'missing; path kind "{self.path.kind}" starts from it (ticks)',
                    )
        population = self.population
        if population.table is not None:
            return
        weights = population.market_weights
        if weights is not None and len(weights) != len(self.markets):
            raise ScenarioError(
                "population.market_weights",
                f"expected {len(self.markets)} weights (one per market), got {len(weights)}",
            )
        limit = min(market.max_leverage for market in self.markets)
        for bound in ("lo", "hi"):
            value = getattr(population.leverage, bound)
            if value is not None and value > limit:
                raise expected(
                    f"population.leverage.{bound}",
                    f"a number <= {limit:g} (10000 / the largest imr_bps)",
                    value,
                )

    # ----------------------------------------------------------------- properties

    @property
    def steps(self) -> int:
        """Price steps of the path (``path.steps``; 0 for a price file read whole: see
        ``build().num_steps``)."""
        return self.path.num_steps

    @property
    def market_names(self) -> tuple[str, ...]:
        """The markets' names, in order."""
        return tuple(market.name for market in self.markets)

    @property
    def policy_names(self) -> tuple[str, ...]:
        """The policies' names, in order."""
        return tuple(item.name for item in self.policies)

    def policy(self, name: str) -> Policy:
        """The scenario's policy of that name (:class:`ScenarioError` if none)."""
        for item in self.policies:
            if item.name == name:
                return item
        raise expected("policy", "one of " + ", ".join(self.policy_names), name)

    # ----------------------------------------------------------------- variants

    def with_seed(self, seed: int) -> Scenario:
        """The same scenario with another seed."""
        return dataclasses.replace(self, seed=seed)

    def with_params(self, params: Mapping[str, object]) -> Scenario:
        """The scenario with values replaced by dotted keys into its dict form, e.g.
        ``{"population.count": 1000, "path.crash_depth": 0.2, "policy.0.session_steps":
        60}`` (list items by index, ``policy.0`` or ``policy[0]``). ``None`` removes
        a key (its default applies). An unknown key raises :class:`ScenarioError`
        naming it."""
        d = self.to_dict()
        for key, value in params.items():
            _set_dotted(d, key, value)
        return Scenario.from_dict(d)

    # ----------------------------------------------------------------- plain form

    def to_dict(self) -> dict[str, Any]:
        """The plain form, equal to the TOML file's (``market`` and ``policy`` are lists
        of tables; ``None`` values are left out)."""
        out: dict[str, Any] = {
            "name": self.name,
            "seed": self.seed,
            "insurance_fund": self.insurance_fund,
        }
        if self.house_collateral is not None:
            out["house_collateral"] = self.house_collateral
        out["market"] = [market.to_dict() for market in self.markets]
        out["population"] = self.population.to_dict()
        out["path"] = self.path.to_dict()
        out["funding"] = self.funding.to_dict()
        out["execution"] = self.execution.to_dict()
        out["policy"] = [item.to_dict() for item in self.policies]
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], base_dir: str | Path | None = None) -> Scenario:
        """Read the plain form. ``market`` is required; the other sections take their
        defaults. Relative data files (``population.table``, ``path.file``) are taken
        relative to ``base_dir`` (default: the working directory)."""
        base = None if base_dir is None else Path(base_dir)
        table = check_table(d, "", cls.KEYS)
        if "market" not in table:
            raise ScenarioError("market", "missing; expected at least one [[market]] table")
        sections: dict[str, Any] = {}
        readers: dict[str, Callable[[Any], object]] = {
            "population": lambda v: Population.from_dict(v, base),
            "path": lambda v: PricePath.from_dict(v, base),
            "funding": Funding.from_dict,
            "execution": Execution.from_dict,
        }
        for key, reader in readers.items():
            if key in table:
                try:
                    sections[key] = reader(table[key])
                except ScenarioError as exc:
                    raise exc.within(key) from None
        if "policy" in table:
            sections["policies"] = table["policy"]
        return cls(
            name=table.get("name", "scenario"),
            seed=table.get("seed", 0),
            markets=table["market"],
            insurance_fund=table.get("insurance_fund", 0),
            house_collateral=table.get("house_collateral"),
            **sections,
        )

    @classmethod
    def from_toml(cls, path: str | Path) -> Scenario:
        """Read a scenario file. Errors name the file and the key; data files named in it
        are found relative to its folder."""
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ScenarioError("", "file not found", str(file)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ScenarioError("", f"cannot read: {exc}", str(file)) from None
        return cls.from_toml_text(text, source=str(file), base_dir=file.resolve().parent)

    @classmethod
    def from_toml_text(
        cls, text: str, *, source: str = "<string>", base_dir: str | Path | None = None
    ) -> Scenario:
        """Read a scenario from TOML text (``source`` names it in errors)."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ScenarioError("", f"TOML syntax error: {exc}", source) from None
        try:
            return cls.from_dict(data, base_dir=base_dir)
        except ScenarioError as exc:
            raise exc.from_source(source) from None

    def to_toml(self) -> str:
        """The scenario as TOML text that :meth:`from_toml_text` reads back equal."""
        header = (
            "# mutualize scenario: money in minor units, prices in ticks, sizes in lots, "
            "time in steps\n"
        )
        return header + dumps_toml(self.to_dict())

    # ----------------------------------------------------------------- build

    def build(self, policy: Policy | str | None = None) -> EngineInputs:
        """The exact engine inputs (validated); the same seed gives the same bytes.

        ``session_steps`` is taken from ``policy`` (a :class:`Policy` or the name of one
        of this scenario's) when given, else 0.

        Raises:
            ScenarioError: a data file that cannot be read, or values whose products do
                not fit int64.
        """
        session_steps = 0
        if policy is not None:
            chosen = self.policy(policy) if isinstance(policy, str) else policy
            session_steps = chosen.session_steps
        names = self.market_names
        tick_value = np.array([m.tick_value for m in self.markets], dtype=np.int64)
        imr_bps = np.array([m.imr_bps for m in self.markets], dtype=np.int64)
        if self.path.generated:
            starts = [int(m.start_price or 0) for m in self.markets]
            prices = generate_prices(self.path, starts, self.seed)
        else:
            prices = read_price_file(str(self.path.file), names, self.path.num_steps)
        accounts = build_accounts(
            self.population,
            seed=self.seed,
            start_prices=np.ascontiguousarray(prices[0]),
            tick_value=tick_value,
            imr_bps=imr_bps,
            market_names=names,
        )
        notional = np.abs(accounts.size).astype(np.float64) * accounts.entry
        if float((notional * tick_value[accounts.market]).max()) >= NOTIONAL_MAX:
            raise ScenarioError("population", "a position's notional exceeds 2**62 minor units")
        if float(prices.max()) * float(tick_value.max()) >= NOTIONAL_MAX:
            raise ScenarioError("path", "a lot's notional exceeds 2**62 minor units")
        house = self.house_collateral
        if house is None:
            total = int(accounts.collateral.sum(dtype=np.float64))
            if 10 * total > INT64_MAX // 4:
                raise ScenarioError(
                    "house_collateral",
                    "10 x the total collateral is too large for int64; set house_collateral",
                )
            house = 10 * int(accounts.collateral.sum())
        inputs = EngineInputs(
            tick_value=tick_value,
            imr_bps=imr_bps,
            mmr_bps=np.array([m.mmr_bps for m in self.markets], dtype=np.int64),
            penalty_bps=np.array([m.penalty_bps for m in self.markets], dtype=np.int64),
            market_names=names,
            collateral=accounts.collateral,
            market=accounts.market,
            size=accounts.size,
            entry=accounts.entry,
            prices=np.ascontiguousarray(prices),
            funding=funding_deltas(prices, tick_value, self.funding),
            insurance_fund=self.insurance_fund,
            house_collateral=house,
            slippage_bps=self.execution.slippage_bps,
            impact_bps=self.execution.impact_bps,
            depth_lots=self.execution.depth_lots,
            session_steps=session_steps,
        )
        try:
            inputs.validate()
        except InvalidInputError as exc:
            raise ScenarioError("", f"the built inputs are invalid: {exc}") from None
        return inputs

    # ----------------------------------------------------------------- demo

    @classmethod
    def demo(cls) -> Scenario:
        """The built-in default of ``mutualize demo``: a seeded crash like 10 October 2025.

        Two markets (BTC-PERP and ETH-PERP; prices in 0.1 and 0.01 USD ticks, money in
        micro-USD, 10 minor units per lot per tick), 4,000 accounts with 1x..20x
        leverage, 2,000 one-minute steps with a 15% crash at step 600 (40 steps down,
        half recovered over 240), an insurance fund the crash exhausts, compared under
        okx_clawback (daily sessions of 1,440 steps, so the crash is clawed back
        mid-run), bitmex_adl, capped_pro_rata and equal_award.
        """
        return cls(
            name="demo_crash",
            seed=20251010,
            markets=(
                MarketSpec("BTC-PERP", tick_value=10, start_price=1_220_000, penalty_bps=10),
                MarketSpec("ETH-PERP", tick_value=10, start_price=435_000, penalty_bps=10),
            ),
            population=Population(
                count=4_000,
                collateral=Distribution.lognormal(
                    median=2_000_000_000, sigma=1.0, lo=50_000_000, hi=1_000_000_000_000
                ),
                leverage=Distribution.uniform(1, 20),
                long_share=0.6,
                market_weights=(0.6, 0.4),
            ),
            path=PricePath(
                kind="crash_rebound",
                steps=2_000,
                sigma=0.0007,
                crash_depth=0.15,
                crash_step=600,
                crash_length=40,
                rebound=0.5,
                rebound_length=240,
                correlation=0.8,
            ),
            funding=Funding(interval_steps=480, rate_bps=1),
            execution=Execution(slippage_bps=10, impact_bps=10, depth_lots=20_000),
            policies=(
                policy("okx_clawback", session_steps=1_440),
                policy("bitmex_adl"),
                policy("capped_pro_rata"),
                policy("equal_award"),
            ),
            insurance_fund=20_000_000_000,
        )


# --------------------------------------------------------------------------- with_params


def _split_key(key: str) -> list[str]:
    parts: list[str] = []
    for piece in key.split("."):
        match = re.fullmatch(r"([^\[\]]*)((?:\[\d+\])*)", piece)
        if match is None or (not match.group(1) and not match.group(2)):
            raise ScenarioError(key, "not a dotted parameter key")
        if match.group(1):
            parts.append(match.group(1))
        parts.extend(re.findall(r"\[(\d+)\]", match.group(2)))
    return parts


def _set_dotted(d: dict[str, Any], key: str, value: object) -> None:
    """Set ``d[key]`` for a dotted key, checking it against the scenario's keys."""
    if not isinstance(key, str) or not key:
        raise expected("params", "dotted keys such as population.count", key)
    parts = _split_key(key)
    node: Any = d
    schema: Any = _SECTION_KEYS
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[: depth + 1])
        if isinstance(schema, list):
            if not isinstance(node, list) or not part.isdigit() or int(part) >= len(node):
                count = len(node) if isinstance(node, list) else 0
                raise ScenarioError(where, f"expected an index below {count}")
            if last:
                raise ScenarioError(where, "replace a key inside the list item, not the item")
            node, schema = node[int(part)], schema[0]
            continue
        if schema == "any":
            allowed: tuple[str, ...] | None = None
        elif isinstance(schema, dict):
            allowed = tuple(schema)
        elif isinstance(schema, tuple):
            allowed = schema
        else:
            raise ScenarioError(where, "not a table: cannot set a key inside it")
        if allowed is not None and part not in allowed:
            raise ScenarioError(where, "unknown parameter; expected one of " + ", ".join(allowed))
        if not isinstance(node, dict):
            raise ScenarioError(where, "not a table: cannot set a key inside it")
        if last:
            if value is None:
                node.pop(part, None)
            else:
                node[part] = value
            return
        child_schema = schema[part] if isinstance(schema, dict) else None
        if child_schema is None:
            raise ScenarioError(where, "not a table: cannot set a key inside it")
        if part not in node:
            if isinstance(child_schema, list):
                raise ScenarioError(where, "not set: no list items to index")
            node[part] = {}
        node, schema = node[part], child_schema


# --------------------------------------------------------------------------- TOML writer

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def dumps_toml(data: Mapping[str, Any]) -> str:
    """A plain dict (str keys; bool, int, finite float, str, lists and dicts as values)
    as TOML: values first, then ``[tables]``, then ``[[arrays of tables]]``."""
    lines: list[str] = []
    tables: list[tuple[str, Mapping[str, Any]]] = []
    arrays: list[tuple[str, list[Mapping[str, Any]]]] = []
    for key, value in data.items():
        if isinstance(value, Mapping):
            tables.append((key, value))
        elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            arrays.append((key, value))
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, table in tables:
        lines += ["", f"[{_key(key)}]"]
        lines += [f"{_key(k)} = {_value(v)}" for k, v in table.items()]
    for key, items in arrays:
        for item in items:
            lines += ["", f"[[{_key(key)}]]"]
            lines += [f"{_key(k)} = {_value(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def _string(text: str) -> str:
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ScenarioError("", f"cannot write the non-finite number {value!r} to TOML")
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        if value and any(isinstance(v, Mapping) for v in value):
            return "[\n" + "".join(f"    {_value(v)},\n" for v in value) + "]"
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise ScenarioError("", f"cannot write {json.dumps(str(value))} to TOML")
