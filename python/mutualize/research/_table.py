"""Fixed-width text tables for the research commands: the first column left-aligned,
the others (numbers) right-aligned."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["table_lines"]


def table_lines(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """The header and the rows, padded to common column widths."""
    everything = [list(head), *(list(r) for r in rows)]
    widths = [max(len(r[i]) for r in everything) for i in range(len(head))]
    return [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in everything
    ]
