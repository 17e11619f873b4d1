"""The columns of a backtest's result, declared once: name, unit, label and meaning.

Both engines (compiled and ``mutualize.reference.sim``) return the ``engine`` columns
under these names; ``mutualize.sim.results`` adds the ``inputs`` and ``derived`` ones.
Everything else is derived from here: the engines' output check, the result tables and
their Parquet/CSV column names, the report's axis labels and the docs' tables
(``python -m mutualize._columns`` prints them; a test keeps docs/backtests.md equal).

This module imports nothing of the package: the reference may use it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ACCOUNTS",
    "SERIES",
    "TOTALS",
    "Column",
    "docs_markdown",
    "markdown",
    "names",
]

Source = Literal["engine", "inputs", "derived"]


@dataclass(frozen=True)
class Column:
    """One column of a result.

    Attributes:
        name: the key (and Parquet/CSV column name).
        unit: ``minor units``, ``lots``, ``ticks``, ``count``, ``step``, ``id`` or
            ``share``.
        label: a short label for tables and plots.
        source: ``engine`` (returned by the engines), ``inputs`` (copied from the
            scenario's inputs) or ``derived`` (computed from the others by
            ``mutualize.sim.results``).
        doc: what it means, one sentence.
    """

    name: str
    unit: str
    label: str
    source: Source
    doc: str


#: One row per price step (values after the step), in column order. ``step`` is the
#: index; one ``mark_<market>`` column per market (ticks) follows the series.
SERIES: tuple[Column, ...] = (
    Column("step", "step", "step", "derived", "The step's number, from 0."),
    Column(
        "insurance_fund",
        "minor units",
        "insurance fund",
        "engine",
        "The insurance fund after the step, all funds together.",
    ),
    Column(
        "bad_debt", "minor units", "bad debt", "engine", "The residual bad debt after the step."
    ),
    Column(
        "deferred_loss",
        "minor units",
        "deferred loss",
        "engine",
        "Deficits awaiting a session's settlement (deferred waterfalls).",
    ),
    Column(
        "deficit",
        "minor units",
        "deficit",
        "engine",
        "The step's liquidation deficits, before the waterfall.",
    ),
    Column(
        "paid_insurance",
        "minor units",
        "paid by insurance",
        "engine",
        "What the insurance fund and fee pool stages paid in the step.",
    ),
    Column(
        "paid_socialized",
        "minor units",
        "paid by haircuts",
        "engine",
        "What the socialize stage was assigned in the step (a settlement's uncovered "
        "part moves to bad debt in the settling step).",
    ),
    Column("paid_adl", "minor units", "paid by ADL", "engine", "What the ADL stage covered."),
    Column(
        "paid_bad_debt",
        "minor units",
        "left as bad debt",
        "engine",
        "What no stage covered in the step.",
    ),
    Column("haircuts", "minor units", "haircuts", "engine", "Haircuts taken in the step."),
    Column(
        "haircut_accounts", "count", "haircut entries", "engine", "Haircut entries in the step."
    ),
    Column("liquidations", "count", "liquidations", "engine", "Liquidations in the step."),
    Column(
        "bankruptcies",
        "count",
        "bankruptcies",
        "engine",
        "Liquidations with a deficit in the step.",
    ),
    Column("adl_fills", "count", "ADL fills", "engine", "Auto-deleveraging fills in the step."),
    Column("adl_lots", "lots", "ADL lots", "engine", "Lots closed by auto-deleveraging."),
    Column(
        "open_interest",
        "lots",
        "open interest",
        "engine",
        "Long lots over all markets after the step.",
    ),
)

#: One row per account (the house excluded), in column order.
ACCOUNTS: tuple[Column, ...] = (
    Column("account", "id", "account", "inputs", "The account's ledger id (the house is 0)."),
    Column("market", "id", "market", "inputs", "The index of the market it trades."),
    Column("size0", "lots", "size", "inputs", "Its position at the start (signed; > 0 long)."),
    Column("entry", "ticks", "entry", "inputs", "Its entry price."),
    Column("collateral0", "minor units", "deposit", "inputs", "Its deposit."),
    Column("equity", "minor units", "final equity", "engine", "Its equity at the end."),
    Column("haircut", "minor units", "haircut", "engine", "Haircuts (clawbacks) taken from it."),
    Column("adl_lots", "lots", "ADL lots", "engine", "Lots closed against it by ADL."),
    Column(
        "adl_loss",
        "minor units",
        "ADL loss",
        "engine",
        "What closing at the ADL prices cost it against the mark (negative when the "
        "ADL price was the better one).",
    ),
    Column(
        "liquidated_step",
        "step",
        "liquidated at",
        "engine",
        "The step of its liquidation, -1 if never.",
    ),
    Column("deficit", "minor units", "deficit", "engine", "The deficit its liquidation left."),
    Column(
        "profit",
        "minor units",
        "profit",
        "derived",
        "Its profit before loss-sharing: equity + haircut + adl_loss - collateral0.",
    ),
    Column(
        "haircut_rate",
        "share",
        "haircut rate",
        "derived",
        "(haircut + adl_loss) / profit for a winner (float), else 0.",
    ),
)

#: A run's totals (exact integers).
TOTALS: tuple[Column, ...] = (
    Column(
        "insurance_fund_start", "minor units", "fund at start", "inputs", "The fund at the start."
    ),
    Column(
        "insurance_fund_end",
        "minor units",
        "fund at end",
        "engine",
        "The insurance funds at the end.",
    ),
    Column("bad_debt", "minor units", "bad debt", "engine", "The residual bad debt at the end."),
    Column(
        "house_equity",
        "minor units",
        "house equity",
        "engine",
        "The house's (opening counterparty and backstop's) final equity.",
    ),
    Column(
        "house_haircut",
        "minor units",
        "house haircut",
        "engine",
        "Haircuts taken from the house.",
    ),
    Column("deficit", "minor units", "deficit", "derived", "The sum of the series' deficits."),
    Column("haircuts", "minor units", "haircuts", "derived", "The sum of the series' haircuts."),
    Column("adl_loss", "minor units", "ADL loss", "derived", "The sum of the accounts' ADL loss."),
    Column("liquidations", "count", "liquidations", "derived", "The number of liquidations."),
    Column("paid_insurance", "minor units", "paid by insurance", "derived", "Sum of the series."),
    Column("paid_socialized", "minor units", "paid by haircuts", "derived", "Sum of the series."),
    Column("paid_adl", "minor units", "paid by ADL", "derived", "Sum of the series."),
    Column("paid_bad_debt", "minor units", "left as bad debt", "derived", "Sum of the series."),
)


def names(columns: tuple[Column, ...], source: Source | None = None) -> tuple[str, ...]:
    """The names of ``columns`` (those of one ``source`` only, when given), in order."""
    return tuple(c.name for c in columns if source is None or c.source == source)


def markdown(columns: tuple[Column, ...]) -> str:
    """A Markdown table of ``columns``: name, unit, source and meaning."""
    lines = ["| column | unit | from | meaning |", "| --- | --- | --- | --- |"]
    lines += [f"| `{c.name}` | {c.unit} | {c.source} | {c.doc} |" for c in columns]
    return "\n".join(lines)


def docs_markdown() -> str:
    """The three tables as docs/backtests.md shows them ("Outputs")."""
    return (
        "Per step (after the step; the index is `step`, then one `mark_<market>` column "
        "per market, in ticks):\n\n"
        + markdown(SERIES)
        + "\n\nPer account (the house excluded):\n\n"
        + markdown(ACCOUNTS)
        + "\n\nTotals (exact integers):\n\n"
        + markdown(TOTALS)
        + "\n"
    )


if __name__ == "__main__":  # pragma: no cover - prints the docs' tables
    sys.stdout.write(docs_markdown())
