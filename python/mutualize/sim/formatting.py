"""Metrics as text: thousands separators for money and counts, percentages for rates,
and the Markdown (pipe) table of a comparison. Plain Python: no pandas."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .metrics import METRICS, MetricValue

__all__ = ["format_metric", "metrics_markdown"]


def format_metric(name: str, value: MetricValue) -> str:
    """A metric's value as text: money and counts with thousands separators, rates as
    percentages, indices with three decimals."""
    kind = next((m.kind for m in METRICS if m.name == name), None)
    if kind == "rate":
        return f"{float(value):.2%}"
    if kind == "index":
        return f"{float(value):.3f}"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    return f"{float(value):,.4g}"


def metrics_markdown(labels: Sequence[str], metrics: Sequence[Mapping[str, MetricValue]]) -> str:
    """One row per metric (in :data:`~mutualize.sim.metrics.METRICS` order), one column
    per label, right-aligned numbers; every line the same width."""
    header = ["metric", *labels]
    rows = [
        [metric.label, *(format_metric(metric.name, m[metric.name]) for m in metrics)]
        for metric in METRICS
    ]
    widths = [max(3, *(len(row[i]) for row in [header, *rows])) for i in range(len(header))]
    lines = [
        _pipe_row(header, widths, numeric=False),
        "| " + " | ".join(["-" * widths[0], *("-" * (w - 1) + ":" for w in widths[1:])]) + " |",
    ]
    lines += [_pipe_row(row, widths, numeric=True) for row in rows]
    return "\n".join(lines)


def _pipe_row(cells: list[str], widths: list[int], *, numeric: bool) -> str:
    parts = [cells[0].ljust(widths[0])]
    parts += [
        cell.rjust(width) if numeric else cell.ljust(width)
        for cell, width in zip(cells[1:], widths[1:], strict=True)
    ]
    return "| " + " | ".join(parts) + " |"
