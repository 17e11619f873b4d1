"""Every scenario field, declared once: its type, bounds, default, unit and meaning.

The scenario's classes (:mod:`~mutualize.sim.scenario`, ``markets``, ``population``,
``paths``, ``funding``, ``policies``) check their values with these fields, read their
keys and defaults from them, and ``Scenario.with_params`` walks them; the table in
docs/backtests.md is :func:`markdown` (``python -m mutualize.sim.schema`` prints it and a
test keeps the two equal).

Every size a stranger's file can set is bounded here, so nothing is allocated from an
unchecked number: at most :data:`MAX_ACCOUNTS` accounts, :data:`MAX_STEPS` steps,
:data:`MAX_MARKETS` markets and :data:`MAX_PATH_CELLS` prices (steps x markets).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .checks import (
    MAX_TEXT,
    ScenarioError,
    bound,
    check_choice,
    check_int,
    check_list,
    check_number,
    check_path,
    check_str,
    expected,
)

__all__ = [
    "EXECUTION",
    "FUNDING",
    "MARKET",
    "MAX_ACCOUNTS",
    "MAX_MARKETS",
    "MAX_PATH_CELLS",
    "MAX_POLICIES",
    "MAX_STEPS",
    "PATH",
    "POLICY",
    "POPULATION",
    "SCENARIO",
    "SECTIONS",
    "Field",
    "Section",
    "markdown",
]

#: The most accounts a population may have (generated or read from a table).
MAX_ACCOUNTS = 10_000_000
#: The most price steps a path may have.
MAX_STEPS = 10_000_000
#: The most markets a scenario may have.
MAX_MARKETS = 1_000
#: The most prices a path may hold, steps x markets (160 MB of int64).
MAX_PATH_CELLS = 20_000_000
#: The most policies a scenario may compare.
MAX_POLICIES = 100
#: The most items in a list of numbers (market weights).
MAX_LIST = MAX_MARKETS
INT64_MAX = 2**63 - 1
#: The largest start price (ticks): exact in float64, as generated paths are.
PRICE_MAX = 2**53
#: The largest amount a distribution may be asked for (exact in float64).
DRAW_MAX = 2**53
#: Notionals (lots x ticks x tick_value) must stay below this for the ledger.
NOTIONAL_MAX = 2**62

Kind = Literal["int", "number", "text", "choice", "flag", "file", "numbers", "table", "tables"]

_TYPES = {
    "int": "integer",
    "number": "number",
    "text": "string",
    "choice": "string",
    "flag": "true/false",
    "file": "file path",
    "numbers": "list of numbers",
    "table": "table",
    "tables": "list of tables",
}


@dataclass(frozen=True)
class Field:
    """One key of a scenario section.

    Attributes:
        name: the key.
        kind: ``int``, ``number``, ``text``, ``choice``, ``flag``, ``file``, ``numbers``
            (a list of numbers), ``table`` (a sub-section) or ``tables`` (a list of them).
        doc: what it means, one sentence.
        default: the value when the key is left out (``None``: none, see ``doc``).
        required: whether the key must be given.
        lo, hi: the bounds (inclusive unless ``lo_open``/``hi_open``); ``hi`` may name
            an earlier field of the section (``"imr_bps"``) whose value bounds it.
        unit: the unit (minor units, ticks, lots, steps, bps).
        choices: the accepted strings of a ``choice``.
        most: the most items of a list (``numbers``, ``tables``).
        section: the sub-section of a ``table`` or ``tables`` field.
    """

    name: str
    kind: Kind
    doc: str
    default: Any = None
    required: bool = False
    lo: float | None = None
    hi: float | str | None = None
    lo_open: bool = False
    hi_open: bool = False
    unit: str = ""
    choices: tuple[str, ...] = ()
    most: int | None = None
    section: Section | None = None

    def check(self, value: object, siblings: object = None) -> Any:
        """``value`` checked and converted (exact ``int``, ``float``, ``str``, tuple of
        floats); ``siblings`` (the section's object or dict) gives a named ``hi``.
        Tables are checked by their own classes and returned as they are."""
        key = self.name
        hi: float | None
        unit = self.unit
        if isinstance(self.hi, str):
            hi = _sibling(siblings, self.hi)
            unit = f"{unit}, <= {self.hi}" if unit else f"<= {self.hi}"
        else:
            hi = self.hi
        if self.kind == "int":
            lo = None if self.lo is None else int(self.lo)
            return check_int(value, key, lo=lo, hi=None if hi is None else int(hi), unit=unit)
        if self.kind == "number":
            return check_number(
                value, key, lo=self.lo, hi=hi, lo_open=self.lo_open, hi_open=self.hi_open
            )
        if self.kind == "text":
            return check_str(value, key)
        if self.kind == "choice":
            return check_choice(value, key, self.choices)
        if self.kind == "flag":
            if not isinstance(value, bool):
                raise expected(key, "true or false", value)
            return value
        if self.kind == "file":
            return check_path(value, key)
        if self.kind == "numbers":
            items = check_list(value, key, "numbers", self.most or MAX_LIST)
            return tuple(
                check_number(v, f"{key}[{i}]", lo=self.lo, hi=hi) for i, v in enumerate(items)
            )
        return value

    def bounds(self) -> str:
        """The bounds as the docs write them (``1..=10000``, ``> 0 and < 1``)."""
        if self.choices:
            return ", ".join(f'"{c}"' for c in self.choices)
        if self.kind in ("text", "file"):
            return f"1 to {MAX_TEXT:,} characters"
        hi = self.hi if isinstance(self.hi, str) else (None if self.hi is None else bound(self.hi))
        lo = None if self.lo is None else bound(self.lo)
        if self.kind == "int" and lo is not None and hi is not None:
            return f"{lo}..={hi}"
        parts = []
        if lo is not None:
            parts.append(f"{'>' if self.lo_open else '>='} {lo}")
        if hi is not None:
            parts.append(f"{'<' if self.hi_open else '<='} {hi}")
        if self.most is not None:
            parts.append(f"at most {self.most:,} items")
        return " and ".join(parts)


def _sibling(siblings: object, name: str) -> float:
    value = siblings.get(name) if isinstance(siblings, Mapping) else getattr(siblings, name)
    if not isinstance(value, int | float):  # pragma: no cover - checked before
        raise ScenarioError(name, "needed to bound another key")
    return value


@dataclass(frozen=True)
class Section:
    """A scenario table: its fields in order (TOML ``[name]``, or ``[[name]]`` when it
    is a list of tables)."""

    name: str
    doc: str
    fields: tuple[Field, ...] = field(default=())

    @property
    def keys(self) -> tuple[str, ...]:
        """The keys, in order."""
        return tuple(f.name for f in self.fields)

    @property
    def required(self) -> tuple[str, ...]:
        """The keys that must be given."""
        return tuple(f.name for f in self.fields if f.required)

    def __getitem__(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def default(self, name: str) -> Any:
        """The default of ``name``."""
        return self[name].default

    def check_into(self, obj: object, names: tuple[str, ...] | None = None) -> None:
        """Check the value fields of the frozen dataclass ``obj`` in order (those of
        ``names`` only, when given), storing the converted values. A value left at
        ``None`` where the field has no default stays ``None`` (optional)."""
        for f in self.fields:
            if f.kind in ("table", "tables") or (names is not None and f.name not in names):
                continue
            value = getattr(obj, f.name)
            if value is None and f.default is None and not f.required:
                continue
            object.__setattr__(obj, f.name, f.check(value, obj))

    def tree(self) -> dict[str, Any]:
        """The key tree ``with_params`` walks: a dict per table, a one-item list for a
        list of tables, ``None`` for a value, ``"any"`` for a list checked by its
        reader (a policy's stages)."""
        out: dict[str, Any] = {}
        for f in self.fields:
            if f.section is not None and f.kind == "table":
                out[f.name] = f.section.tree()
            elif f.section is not None and f.kind == "tables":
                out[f.name] = [f.section.tree()]
            else:
                out[f.name] = ["any"] if f.name == "stages" else None
        return out


def _bps(name: str, doc: str, default: int, lo: int = 0, hi: float | str = 10_000) -> Field:
    return Field(name, "int", doc, default=default, lo=lo, hi=hi, unit="bps")


DISTRIBUTION = Section(
    "distribution",
    "A distribution of positive numbers (collateral in minor units, leverage as a "
    "multiple): uniform on [lo, hi), or median x exp(sigma z) clipped to [lo, hi].",
    (
        Field(
            "kind",
            "choice",
            "The distribution.",
            default="uniform",
            required=True,
            choices=("uniform", "lognormal"),
        ),
        Field(
            "lo", "number", "Uniform: the low end; lognormal: the clip below.", lo=0, hi=DRAW_MAX
        ),
        Field(
            "hi",
            "number",
            "Uniform: the high end (>= lo); lognormal: the clip above.",
            lo=0,
            hi=DRAW_MAX,
        ),
        Field("median", "number", "Lognormal: the median.", lo=0, lo_open=True, hi=DRAW_MAX),
        Field("sigma", "number", "Lognormal: the standard deviation of the log.", lo=0, hi=10),
    ),
)

MARKET = Section(
    "market",
    "One linear perpetual market (``[[market]]``, at least one).",
    (
        Field("name", "text", "Display name, unique in the scenario.", required=True),
        Field(
            "tick_value",
            "int",
            "Minor units per lot per tick.",
            default=1,
            lo=1,
            hi=NOTIONAL_MAX,
            unit="minor units",
        ),
        Field(
            "start_price",
            "int",
            "The first mark; required unless the path is a file.",
            lo=1,
            hi=PRICE_MAX,
            unit="ticks",
        ),
        _bps("imr_bps", "Initial margin, of notional (200 allows 50x).", 200, lo=1),
        _bps("mmr_bps", "Maintenance margin, of notional.", 100, lo=1, hi="imr_bps"),
        _bps("penalty_bps", "Liquidation penalty, of notional.", 50),
    ),
)

POPULATION = Section(
    "population",
    "The traders: generated from distributions, or read from a table.",
    (
        Field(
            "count",
            "int",
            "Accounts to generate.",
            default=1_000,
            lo=1,
            hi=MAX_ACCOUNTS,
        ),
        Field(
            "collateral",
            "table",
            "Deposits, minor units (lo, hi and median >= 1).",
            default={"kind": "lognormal", "median": 10_000_000, "sigma": 1.0},
            section=DISTRIBUTION,
        ),
        Field(
            "leverage",
            "table",
            "Notional / collateral, clipped to 1 .. 10000 / imr_bps (lo, hi, median >= 1).",
            default={"kind": "uniform", "lo": 1, "hi": 50},
            section=DISTRIBUTION,
        ),
        Field("long_share", "number", "The probability of being long.", default=0.5, lo=0, hi=1),
        Field(
            "market_weights",
            "numbers",
            "Relative weights of the markets, one per market (default: equal).",
            lo=0,
            hi=1e9,
            most=MAX_MARKETS,
        ),
        Field(
            "table",
            "file",
            f"A CSV/Parquet file with columns collateral, size, entry, market (at most "
            f"{MAX_ACCOUNTS:,} rows); replaces the generated accounts.",
        ),
    ),
)

PATH = Section(
    "path",
    "How the marks move, one row per step.",
    (
        Field(
            "kind",
            "choice",
            "The generator, or a file.",
            default="gbm",
            choices=("gbm", "jumps", "crash_rebound", "file"),
        ),
        Field(
            "steps",
            "int",
            "Price steps (default 1,000); for a file, 0 reads every row.",
            lo=0,
            hi=MAX_STEPS,
            unit="steps",
        ),
        Field(
            "sigma", "number", "Volatility of the log price per step.", default=0.001, lo=0, hi=1
        ),
        Field("drift", "number", "Mean log return per step.", default=0.0, lo=-1, hi=1),
        Field("jump_rate", "number", "Expected jumps per step.", default=0.0, lo=0, hi=100),
        Field("jump_mean", "number", "Mean of a jump's log size.", default=0.0, lo=-5, hi=5),
        Field("jump_sigma", "number", "Deviation of a jump's log size.", default=0.0, lo=0, hi=5),
        Field(
            "crash_depth",
            "number",
            "The crash's drop, as a share.",
            default=0.15,
            lo=0,
            hi=1,
            lo_open=True,
            hi_open=True,
        ),
        Field(
            "crash_step",
            "int",
            "The step the crash starts at (default steps // 3).",
            lo=0,
            hi=MAX_STEPS,
            unit="steps",
        ),
        Field(
            "crash_length",
            "int",
            "Steps from the crash's start to its bottom.",
            default=40,
            lo=1,
            hi=MAX_STEPS,
            unit="steps",
        ),
        Field("rebound", "number", "The share of the drop won back.", default=0.5, lo=0, hi=1),
        Field(
            "rebound_length",
            "int",
            "Steps the rebound takes.",
            default=240,
            lo=1,
            hi=MAX_STEPS,
            unit="steps",
        ),
        Field(
            "correlation",
            "number",
            "Weight of the shocks markets share.",
            default=0.0,
            lo=0,
            hi=1,
        ),
        Field(
            "file",
            "file",
            "For kind file: a CSV/Parquet file, one column of ticks per market.",
        ),
    ),
)

FUNDING = Section(
    "funding",
    "Periodic funding: every interval, longs pay shorts.",
    (
        Field(
            "interval_steps",
            "int",
            "Steps between payments (0: no funding).",
            default=480,
            lo=0,
            hi=MAX_STEPS,
            unit="steps",
        ),
        _bps("rate_bps", "The rate per payment, of a lot's notional.", 1, lo=-10_000),
    ),
)

EXECUTION = Section(
    "execution",
    "How liquidations execute against the house (the backstop).",
    (
        _bps("slippage_bps", "The backstop's price below (above) the mark for a long (short).", 10),
        _bps("impact_bps", "Extra slippage per depth_lots already liquidated in the step.", 0),
        Field(
            "depth_lots",
            "int",
            "The book's depth for impact.",
            default=1,
            lo=1,
            hi=NOTIONAL_MAX,
            unit="lots",
        ),
    ),
)

POLICY = Section(
    "policy",
    "A waterfall to compare (``[[policy]]``): a preset or stages.",
    (
        Field("name", "text", "The name results carry (default: the preset's)."),
        Field("preset", "choice", "A name of mutualize.sim.POLICY_NAMES."),
        Field("stages", "tables", "The stage tables of Waterfall.from_dict (instead of a preset)."),
        Field(
            "timing",
            "choice",
            "When socialized losses are charged.",
            choices=("immediate", "deferred"),
        ),
        Field("lock_session_profit", "flag", "Deferred: charge only the session's profit."),
        Field(
            "granularity",
            "choice",
            "One allocation per step, or per bankruptcy.",
            default="step",
            choices=("step", "bankruptcy"),
        ),
        Field(
            "session_steps",
            "int",
            "Steps per clawback session (0: one, settled at the end).",
            default=0,
            lo=0,
            hi=MAX_STEPS,
            unit="steps",
        ),
    ),
)

SCENARIO = Section(
    "scenario",
    "The file's top level.",
    (
        Field("name", "text", "The scenario's name.", default="scenario"),
        Field("seed", "int", "The random seed.", default=0, lo=0, hi=INT64_MAX),
        Field(
            "insurance_fund",
            "int",
            "The fund at the start.",
            default=0,
            lo=0,
            hi=INT64_MAX,
            unit="minor units",
        ),
        Field(
            "house_collateral",
            "int",
            "The house's deposit (default: 10 x the accounts' total collateral).",
            lo=1,
            hi=INT64_MAX,
            unit="minor units",
        ),
        Field("market", "tables", MARKET.doc, required=True, most=MAX_MARKETS, section=MARKET),
        Field("population", "table", POPULATION.doc, section=POPULATION),
        Field("path", "table", PATH.doc, section=PATH),
        Field("funding", "table", FUNDING.doc, section=FUNDING),
        Field("execution", "table", EXECUTION.doc, section=EXECUTION),
        Field(
            "policy",
            "tables",
            "The policies to compare (default: okx_clawback, bitmex_adl, capped_pro_rata, "
            "equal_award).",
            most=MAX_POLICIES,
            section=POLICY,
        ),
    ),
)

#: Every section, in the docs' order.
SECTIONS: tuple[Section, ...] = (
    SCENARIO,
    MARKET,
    POPULATION,
    DISTRIBUTION,
    PATH,
    FUNDING,
    EXECUTION,
    POLICY,
)


def _default(f: Field) -> str:
    if f.default is None:
        return "required" if f.required else "-"
    if isinstance(f.default, Mapping):
        return "`{ " + ", ".join(f"{k} = {_value(v)}" for k, v in f.default.items()) + " }`"
    if isinstance(f.default, str):
        return f'"{f.default}"'
    if isinstance(f.default, bool):
        return "true" if f.default else "false"
    if isinstance(f.default, int):
        return f"{f.default:_}" if abs(f.default) >= 10_000 else str(f.default)
    return repr(f.default)


def _value(value: object) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, int) and abs(value) >= 10_000:
        return f"{value:_}"
    return str(value)


def markdown() -> str:
    """The scenario's fields as Markdown tables, one per section (docs/backtests.md)."""
    out: list[str] = []
    for section in SECTIONS:
        title = "top level" if section is SCENARIO else f"`[{section.name}]`"
        if section is DISTRIBUTION:
            title = "a distribution (`collateral`, `leverage`)"
        out += [f"**{title}**: {section.doc}", ""]
        out += ["| key | type | bounds | default | unit | meaning |"]
        out += ["| --- | --- | --- | --- | --- | --- |"]
        for f in section.fields:
            bounds = f"`{f.bounds()}`" if f.bounds() else ""
            out.append(
                f"| `{f.name}` | {_TYPES[f.kind]} | {bounds} | {_default(f)} | {f.unit} | {f.doc} |"
            )
        out.append("")
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":  # pragma: no cover - prints the docs' tables
    sys.stdout.write(markdown())
