"""The scorecard of ADL policies over the waves of a per-wave file (``mutualize score``).

A per-wave file has the layout of the MIT-licensed analysis of arXiv 2602.15182
(``out/policy_per_wave_metrics.csv``), which ``mutualize replay`` also writes: one row per
wave with ``wave``, ``budget_needed`` (``B_t``, USD), and for every policy suffix ``p``
the columns ``budget_<p>`` (the total haircut ``H_t``, USD), ``overshoot_<p>``
(``H_t - B_t``, redundant: the score recomputes it) and ``max_pct_<p>`` (``m_t``, the
largest haircut as a fraction of an account's equity, in [0, 1]). Other columns are
ignored. Every number is read as the exact decimal it prints; the scores are exact
fractions, rounded half-even to the cent only for display.
"""

from __future__ import annotations

import csv
import io
import json
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from mutualize import metrics
from mutualize.errors import InvalidInputError
from mutualize.research._money import cents, decimal_text, parse_decimal
from mutualize.research._table import table_lines
from mutualize.research.datasets import resolve
from mutualize.research.policies import describe

__all__ = [
    "DEFAULT_REFERENCES",
    "PerWaveTable",
    "Scorecard",
    "parse_lambda",
    "read_per_wave",
    "score",
    "score_file",
]

#: The reference policy when none is named: the analysis's min-max integer policy, else
#: the replay's exact min-max (``minmax``).
DEFAULT_REFERENCES = ("fixed_point_ilp_integer", "minmax")

_RESERVED = {"needed", "target"}  # budget_needed, budget_target are not policies


@dataclass(frozen=True)
class PolicyColumns:
    """One policy's per-wave figures: totals ``H_t`` (USD) and max burdens ``m_t``."""

    totals: list[Fraction]
    max_burdens: list[Fraction]


@dataclass(frozen=True)
class PerWaveTable:
    """A per-wave file, read exactly.

    Attributes:
        source: where it came from (for messages and the table's title).
        waves: the wave labels as printed.
        budgets: ``B_t`` per wave (USD).
        policies: ``suffix -> PolicyColumns``, in the file's column order.
    """

    source: str
    waves: list[str]
    budgets: list[Fraction]
    policies: dict[str, PolicyColumns] = field(default_factory=dict)


def _rows(path: Path, label: str) -> Iterator[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames
            if not header:
                raise InvalidInputError(f"{label}: empty file, expected a CSV header")
            twice = sorted({h for h in header if header.count(h) > 1})
            if twice:
                raise InvalidInputError(f"{label}: column {twice[0]!r} appears twice")
            yield from reader
    except UnicodeDecodeError:
        raise InvalidInputError(f"{label}: not UTF-8 text (a CSV file was expected)") from None
    except csv.Error as exc:
        raise InvalidInputError(f"{label}: not a readable CSV file ({exc})") from None


def read_per_wave(path: str | Path, label: str | None = None) -> PerWaveTable:
    """Read a per-wave file (module docs) exactly. ``path`` may be ``"@NAME"``, a data
    set shipped with mutualize; ``label`` names the file in messages and in the
    scorecard's title (default: ``path`` as given).

    Raises:
        InvalidInputError: a missing column, an empty or non-numeric cell, a negative
            budget or haircut, a burden outside [0, 1], no policy or no wave.
        OSError: the file cannot be opened.
    """
    name = label if label is not None else str(path)
    path = resolve(path)
    waves: list[str] = []
    budgets: list[Fraction] = []
    columns: dict[str, PolicyColumns] = {}
    suffixes: list[str] = []
    for number, row in enumerate(_rows(path, name), start=2):
        if not suffixes:
            header = list(row)
            for required in ("wave", "budget_needed"):
                if required not in header:
                    raise InvalidInputError(f"{name}: no {required!r} column")
            suffixes = [
                name.removeprefix("budget_")
                for name in header
                if name.startswith("budget_")
                and name.removeprefix("budget_") not in _RESERVED
                and f"max_pct_{name.removeprefix('budget_')}" in header
            ]
            if not suffixes:
                raise InvalidInputError(
                    f"{name}: no policy columns (budget_<policy> with max_pct_<policy>)"
                )
            columns = {p: PolicyColumns([], []) for p in suffixes}
        label = (row.get("wave") or "").strip() or str(number - 1)
        where = f"{name}, line {number} (wave {label})"

        def cell(name: str, where: str = where, row: dict[str, str] = row) -> Decimal:
            text = row.get(name)
            if text is None:
                raise InvalidInputError(f"{where}: the row is shorter than the header")
            return parse_decimal(text, f"{where}, {name}")

        budget = cell("budget_needed")
        if budget < 0:
            raise InvalidInputError(f"{where}: budget_needed is negative ({budget})")
        waves.append(label)
        budgets.append(Fraction(budget))
        for p in suffixes:
            total = cell(f"budget_{p}")
            burden = cell(f"max_pct_{p}")
            if total < 0:
                raise InvalidInputError(f"{where}: budget_{p} is negative ({total})")
            if not 0 <= burden <= 1:
                raise InvalidInputError(f"{where}: max_pct_{p} = {burden} is outside [0, 1]")
            columns[p].totals.append(Fraction(total))
            columns[p].max_burdens.append(Fraction(burden))
    if not waves:
        raise InvalidInputError(f"{name}: no waves (the file has a header and no rows)")
    return PerWaveTable(source=name, waves=waves, budgets=budgets, policies=columns)


def parse_lambda(text: str | Fraction | int) -> Fraction:
    """``lambda`` from ``"1"``, ``"0.25"`` or ``"1/4"``, exactly; it must be >= 0."""
    if isinstance(text, Fraction | int):
        value = Fraction(text)
    else:
        try:
            value = Fraction(text.strip())
        except (ValueError, ZeroDivisionError):
            raise InvalidInputError(
                f"--lambda: expected a number such as 1, 0.5 or 1/2, got {text!r}"
            ) from None
    if value < 0:
        raise InvalidInputError(f"--lambda must be >= 0, got {text}")
    return value


@dataclass(frozen=True)
class Scorecard:
    """Every policy's :class:`mutualize.metrics.PolicyScore` over the same waves."""

    source: str
    waves: int
    reference: str
    lam: Fraction
    scores: dict[str, metrics.PolicyScore]

    def to_csv(self) -> str:
        """``policy,tracking,fairness,total`` in USD to the cent (half-even)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["policy", "tracking", "fairness", "total"])
        for name, s in self.scores.items():
            writer.writerow([name, cents(s.tracking), cents(s.fairness), cents(s.total)])
        return out.getvalue()

    def to_json(self) -> str:
        """The scorecard as JSON; amounts are strings holding USD to the cent."""
        body = {
            "source": self.source,
            "waves": self.waves,
            "reference": self.reference,
            "lambda": decimal_text(self.lam),
            "unit": "USD",
            "policies": [
                {
                    "policy": name,
                    "tracking": cents(s.tracking),
                    "tracking_net": cents(s.tracking_net),
                    "tracking_positive": cents(s.tracking_positive),
                    "fairness": cents(s.fairness),
                    "total": cents(s.total),
                }
                for name, s in self.scores.items()
            ],
        }
        return json.dumps(body, indent=2) + "\n"

    def to_table(self) -> str:
        """A fixed-width table in USD to the cent, with a legend of the policies."""
        head = ("policy", "tracking", "net", "positive", "fairness", "total")
        rows = [
            (
                name,
                *(
                    cents(v, grouping=True)
                    for v in (s.tracking, s.tracking_net, s.tracking_positive, s.fairness, s.total)
                ),
            )
            for name, s in self.scores.items()
        ]
        lines = [
            f"{self.source}: {self.waves} waves, reference {self.reference}, "
            f"lambda {decimal_text(self.lam)} (USD, to the cent)",
            "",
            *table_lines(head, rows),
        ]
        lines += [
            "",
            "tracking = sum |H - B|, net = sum (H - B), positive = sum max(H - B, 0),",
            "fairness = sum B |m - m_ref|, total = tracking + lambda x fairness",
            "",
        ]
        for name in self.scores:
            lines += textwrap.wrap(f"{name}: {describe(name)}", width=92, subsequent_indent="    ")
        return "\n".join(lines) + "\n"


def score(table: PerWaveTable, reference: str | None = None, lam: Fraction | int = 1) -> Scorecard:
    """Score every policy of ``table`` against ``reference`` (default: the first of
    :data:`DEFAULT_REFERENCES` present) with weight ``lam`` on fairness.

    Raises:
        InvalidInputError: the reference is not a policy of the table, or lam < 0.
    """
    weight = parse_lambda(lam)
    names = list(table.policies)
    if reference is None:
        present = [r for r in DEFAULT_REFERENCES if r in table.policies]
        if not present:
            raise InvalidInputError(
                f"{table.source}: no default reference policy "
                f"({' or '.join(DEFAULT_REFERENCES)}); name one with --reference "
                f"(policies: {', '.join(names)})"
            )
        reference = present[0]
    if reference not in table.policies:
        raise InvalidInputError(
            f"--reference {reference!r} is not a policy of {table.source} "
            f"(policies: {', '.join(names)})"
        )
    ref = table.policies[reference].max_burdens
    scores = {
        name: metrics.policy_score(table.budgets, cols.totals, cols.max_burdens, ref, weight)
        for name, cols in table.policies.items()
    }
    return Scorecard(
        source=table.source,
        waves=len(table.waves),
        reference=reference,
        lam=weight,
        scores=scores,
    )


def score_file(
    path: str | Path,
    reference: str | None = None,
    lam: Fraction | int | str = 1,
    label: str | None = None,
) -> Scorecard:
    """:func:`score` of :func:`read_per_wave` ``(path, label)``; ``lam`` may be text
    (``"0.5"``)."""
    return score(read_per_wave(path, label), reference, parse_lambda(lam))
