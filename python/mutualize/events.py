"""The ledger's events, declared once: each operation's name, the arguments its event
records (so that a journal replays) and the effects it reports, in plain-form key order.

Everything else follows from this declaration: the replay argument table
(``mutualize.ledger.ARGUMENTS``) and how a replay turns recorded values back into call
arguments, the reference ledger's events (built through :func:`plain_event`, which
refuses a missing or extra key), the table of event plain forms in docs/ledger.md
(checked against :func:`markdown_table`), and the field names the compiled ledger emits
(tests/test_event_schema.py holds them to this list).

This module imports nothing else of the package, so the pure-Python reference can read
it and stay independent of the rest. Amounts are integer minor units, prices ticks,
sizes lots, rates basis points.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "EVENTS",
    "KINDS",
    "EventKind",
    "Field",
    "markdown_table",
    "plain_event",
]

#: What a field holds, by kind: the words docs/ledger.md uses for it.
KINDS: dict[str, str] = {
    "account": "account id",
    "market": "market id",
    "optional_market": "market id or `None`",
    "amount": "int64",
    "flag": "bool",
    "column": "list of int64; an array in the call",
    "optional_accounts": "`None` or list of account ids",
    "prices": "`None` or `[market, price]` pairs sorted by market; a dict in the call",
    "adl_price": '`"bankruptcy"`, `"mark"` or int64 ticks',
    "waterfall": "plain form, a dict",
    "money": "int, minor units",
    "closes": "list of `[market, size, price]`",
    "stages": 'list of `[kind, amount]`, the residual last as `["bad_debt", rest]`',
    "haircuts": "list of `[account, amount]`, non-zero only, ascending account",
    "adl": "list of `[market, counterparty, size, price]`",
    "fills": "list of `[counterparty, size, price]`",
}


@dataclass(frozen=True)
class Field:
    """One key of an event's plain form: its name, its kind (a key of :data:`KINDS`) and
    what it means (with its unit)."""

    name: str
    kind: str
    doc: str = ""


@dataclass(frozen=True)
class EventKind:
    """One operation's event: the arguments it records (replayed in this order) and the
    effects it reports."""

    op: str
    arguments: tuple[Field, ...]
    effects: tuple[Field, ...] = ()

    @property
    def argument_names(self) -> tuple[str, ...]:
        """The recorded arguments' names, in call order."""
        return tuple(f.name for f in self.arguments)

    @property
    def keys(self) -> tuple[str, ...]:
        """Every key of the plain form after ``"op"``, in order."""
        return tuple(f.name for f in (*self.arguments, *self.effects))


def _f(name: str, kind: str, doc: str = "") -> Field:
    return Field(name, kind, doc)


_ACCOUNT = _f("account", "account")
_MARKET = _f("market", "market")

#: Every event kind, by operation name, in the order docs/ledger.md lists them.
EVENTS: dict[str, EventKind] = {
    kind.op: kind
    for kind in (
        EventKind(
            "create_market",
            (
                _f("tick_value", "amount", "minor units per lot per tick"),
                _f("mark", "amount", "ticks"),
                _f("imr_bps", "amount", "basis points"),
                _f("mmr_bps", "amount", "basis points"),
                _f("penalty_bps", "amount", "basis points"),
            ),
            (_f("market", "market", "the new market's id"),),
        ),
        EventKind("create_account", (), (_f("account", "account", "the new account's id"),)),
        EventKind("deposit", (_ACCOUNT, _f("amount", "amount", "minor units"))),
        EventKind("withdraw", (_ACCOUNT, _f("amount", "amount", "minor units"))),
        EventKind(
            "fund_insurance",
            (
                _f("amount", "amount", "minor units"),
                _f("market", "optional_market", "`None` for the shared fund"),
            ),
        ),
        EventKind(
            "fill",
            (
                _f("buyer", "account"),
                _f("seller", "account"),
                _MARKET,
                _f("price", "amount", "ticks"),
                _f("size", "amount", "lots"),
                _f("buyer_fee", "amount", "minor units"),
                _f("seller_fee", "amount", "minor units"),
                _f("check_margin", "flag"),
            ),
            (
                _f(
                    "buyer_realized",
                    "money",
                    "the buyer's collateral change from the trade before its fee: settled "
                    "funding plus realized PnL",
                ),
                _f("seller_realized", "money", "the same for the seller"),
            ),
        ),
        EventKind(
            "fill_many",
            (
                _MARKET,
                _f("buyers", "column"),
                _f("sellers", "column"),
                _f("prices", "column", "ticks"),
                _f("sizes", "column", "lots"),
            ),
        ),
        EventKind("set_mark", (_MARKET, _f("price", "amount", "ticks"))),
        EventKind("set_marks", (_f("marks", "column", "ticks, one per market"),)),
        EventKind("apply_funding", (_MARKET, _f("delta", "amount", "minor units per lot"))),
        EventKind(
            "liquidate",
            (_ACCOUNT, _f("counterparty", "account"), _f("prices", "prices", "ticks")),
            (
                _f("closes", "closes", "sizes signed as held"),
                _f("penalty", "money", "the penalty computed"),
                _f("deficit", "money", "what entered the waterfall"),
                _f("stages", "stages", "adding up to `deficit`; `[]` without one"),
                _f("haircuts", "haircuts"),
                _f("adl", "adl", "sizes signed as held"),
            ),
        ),
        EventKind(
            "deleverage",
            (
                _ACCOUNT,
                _MARKET,
                _f("counterparties", "optional_accounts"),
                _f("price", "adl_price"),
            ),
            (_f("fills", "fills", "sizes signed as held"),),
        ),
        EventKind("set_waterfall", (_f("waterfall", "waterfall"),)),
        EventKind(
            "settle_session",
            (),
            (
                _f("collected", "money", "the sum of the haircuts"),
                _f("haircuts", "haircuts"),
                _f("bad_debt", "money", "what moved from `deferred_loss` to `bad_debt`"),
            ),
        ),
    )
}


def plain_event(op: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """The plain form of an ``op`` event: ``{"op": op}`` then every declared key of
    ``values`` in declared order. A key missing from ``values`` or not declared (other
    than ``"op"``) is a ``KeyError`` naming it."""
    kind = EVENTS[op]
    extra = set(values) - set(kind.keys) - {"op"}
    if extra:
        raise KeyError(f"event {op!r} does not declare {sorted(extra)}")
    return {"op": op, **{name: values[name] for name in kind.keys}}


def markdown_table() -> str:
    """The table of event plain forms, as docs/ledger.md shows it."""
    lines = [
        "| op | arguments (replayed, in call order) | effects |",
        "| --- | --- | --- |",
    ]

    def cell(fields: tuple[Field, ...]) -> str:
        parts = []
        for f in fields:
            note = f"{KINDS[f.kind]}; {f.doc}" if f.doc else KINDS[f.kind]
            parts.append(f"`{f.name}` ({note})")
        return ", ".join(parts) if parts else "-"

    for kind in EVENTS.values():
        lines.append(f"| `{kind.op}` | {cell(kind.arguments)} | {cell(kind.effects)} |")
    return "\n".join(lines)
