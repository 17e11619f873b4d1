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

Unknown keys, wrong types, values out of bounds and missing keys raise
:class:`ScenarioError` naming the key. Every field, with its type, bounds and default,
is declared in :mod:`mutualize.sim.schema`; the sections are in their own modules
(``markets``, ``population``, ``paths``, ``funding``, ``policies``), read from TOML by
:mod:`mutualize.sim.toml`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .build import build_inputs
from .checks import ScenarioError, check_list, check_table, expected
from .funding import Funding
from .inputs import EngineInputs
from .markets import Execution, MarketSpec
from .params import set_params
from .paths import PricePath
from .policies import DEMO_POLICIES, GRANULARITIES, POLICY_NAMES, Policy, policy
from .population import Distribution, Population
from .schema import (
    MAX_MARKETS,
    MAX_PATH_CELLS,
    MAX_POLICIES,
    NOTIONAL_MAX,
    SCENARIO,
)
from .toml import MAX_BYTES, dumps_toml, read_toml

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


def _default_policies() -> tuple[Policy, ...]:
    return tuple(policy(name) for name in DEMO_POLICIES)


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
    insurance_fund: int = SCENARIO.default("insurance_fund")
    house_collateral: int | None = SCENARIO.default("house_collateral")

    KEYS = SCENARIO.keys

    def __post_init__(self) -> None:
        SCENARIO.check_into(self, ("name", "seed"))
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
        SCENARIO.check_into(self, ("insurance_fund", "house_collateral"))
        self._check_together()

    @staticmethod
    def _markets(value: object) -> tuple[MarketSpec, ...]:
        value = check_list(value, "market", "market tables", MAX_MARKETS)
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
        value = check_list(value, "policy", "policies", MAX_POLICIES)
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
        """Checks across sections (start prices, a lot's notional, the path's size,
        market weights, leverage bounds): all before anything is allocated."""
        if self.path.generated:
            for i, market in enumerate(self.markets):
                if market.start_price is None:
                    raise ScenarioError(
                        f"market[{i}].start_price",
                        f'missing; path kind "{self.path.kind}" starts from it (ticks)',
                    )
                if market.start_price * market.tick_value >= NOTIONAL_MAX:
                    raise ScenarioError(
                        f"market[{i}].tick_value",
                        "start_price x tick_value (one lot's notional) must be below 2**62 "
                        "minor units",
                    )
            cells = self.path.num_steps * len(self.markets)
            if cells > MAX_PATH_CELLS:
                raise ScenarioError(
                    "path.steps",
                    f"{self.path.num_steps:,} steps x {len(self.markets)} markets is more "
                    f"than {MAX_PATH_CELLS:,} prices",
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
        return Scenario.from_dict(set_params(self.to_dict(), params))

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
            with file.open("rb") as stream:
                # One byte more than a scenario may have: enough to refuse a huge file
                # (or a device that never ends) without reading it.
                data = stream.read(MAX_BYTES + 1)
            if len(data) > MAX_BYTES:
                raise ScenarioError("", f"larger than {MAX_BYTES:,} bytes; is it a scenario?")
            text = data.decode("utf-8")
        except ScenarioError as exc:
            raise exc.from_source(str(file)) from None
        except FileNotFoundError:
            raise ScenarioError("", "file not found", str(file)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ScenarioError("", f"cannot read: {exc}", str(file)) from None
        return cls.from_toml_text(text, source=str(file), base_dir=file.resolve().parent)

    @classmethod
    def from_toml_text(
        cls, text: str, *, source: str = "<string>", base_dir: str | Path | None = None
    ) -> Scenario:
        """Read a scenario from TOML text (``source`` names it in errors). Size, nesting
        and every value are checked before anything is allocated."""
        data = read_toml(text, source)
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
        return build_inputs(self, session_steps)

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
