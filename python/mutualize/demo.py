"""The built-in worked example: one loss shared under each rule, side by side.

The profits are Chitra (2025)'s running example (arXiv 2512.01112, section 2.4): three
winners with 8, 4 and 0.5 USD of profit, two losers, and 7.5 USD of bad debt to cover,
in minor units of 1e-6 USD.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

import mutualize
from mutualize._allocation import Allocation, percent

__all__ = ["DEMO_CLAIMS", "DEMO_LOSS", "DemoRow", "demo_allocations", "render_demo"]

MINOR_PER_USD = 1_000_000
DEMO_CLAIMS = np.array([8_000_000, 4_000_000, 500_000, -3_000_000, -12_000_000], dtype=np.int64)
DEMO_LOSS = 7_500_000


@dataclass(frozen=True)
class DemoRow:
    """One column of the demo table: a rule's label and its allocation."""

    label: str
    allocation: Allocation


def demo_allocations(claims: np.ndarray | None = None, loss: int = DEMO_LOSS) -> list[DemoRow]:
    """Allocate ``loss`` (minor units) over ``claims`` under each rule and option."""
    c = DEMO_CLAIMS if claims is None else claims
    return [
        DemoRow("pro_rata", mutualize.allocate(c, loss)),
        DemoRow("pro_rata down", mutualize.allocate(c, loss, rounding="down")),
        DemoRow("pro_rata <=50%", mutualize.allocate(c, loss, max_rate="1/2")),
        DemoRow("equal_loss", mutualize.allocate(c, loss, rule="equal_loss")),
        DemoRow("equal_award", mutualize.allocate(c, loss, rule="equal_award")),
    ]


def _usd(minor: int) -> str:
    return f"{Decimal(minor) / MINOR_PER_USD:,.6f}"


def render_demo(
    rows: list[DemoRow], claims: np.ndarray | None = None, loss: int = DEMO_LOSS
) -> str:
    """The comparison table as text (amounts in USD, exact to the minor unit)."""
    c = (DEMO_CLAIMS if claims is None else claims).tolist()
    width = max(14, *(len(r.label) for r in rows)) + 2
    lines = [
        f"mutualize demo — {_usd(loss)} USD of bad debt shared over the winners' profits "
        f"(backend: {mutualize.backend})",
        "",
        "account".ljust(9) + "profit".rjust(16) + "".join(r.label.rjust(width) for r in rows),
    ]
    for i, claim in enumerate(c):
        cells = "".join(_usd(int(r.allocation.haircuts[i])).rjust(width) for r in rows)
        lines.append(f"{i:<9}" + _usd(claim).rjust(16) + cells)
    lines.append("")
    for name in ("total", "uncovered", "dust"):
        cells = "".join(_usd(getattr(r.allocation, name)).rjust(width) for r in rows)
        lines.append(name.ljust(25) + cells)
    rates = "".join(percent(r.allocation.rate, 2).rjust(width) for r in rows)
    lines.append("share of profit taken".ljust(25) + rates)
    lines.append("")
    lines.append(
        "pro_rata takes the same share from every winner; equal_loss the same amount; "
        "equal_award cuts the biggest winner first; a 50% cap leaves part uncovered."
    )
    return "\n".join(lines)
