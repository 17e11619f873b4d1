"""The HTML report of a comparison, with its PNG plots.

:func:`write_report` writes into one folder:

- ``insurance_fund.png``: the insurance fund and the cumulative bad debt over the steps,
  one line per policy (two panels);
- ``haircuts.png``: the distribution of haircut rates over the touched winners, one box
  per policy;
- ``socialized.png``: the cumulative mutualized losses over the steps, one line per policy;
- ``marks.png``: the price path, one panel per market;
- ``comparison.csv``: the comparison table (one row per policy);
- ``report.html``: a self-contained page with the scenario, the table, the plots (relative
  links) and what each metric means.

Plots are drawn on :class:`matplotlib.figure.Figure` objects with the Agg renderer,
never through ``pyplot``: no global backend is switched, no figure is left open, and the
report can be written from any thread or a headless worker. Reports need matplotlib and
pandas (``pip install 'mutualize[report]'``); they read results, which know nothing of
them.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from .._columns import SERIES
from .._extras import require
from . import metrics as _metrics
from .formatting import format_metric
from .results import Comparison, RunResult
from .staged import StagedFiles

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["PLOTS", "touched_winner_rates", "write_report"]

#: The PNG files of a report, in page order, with their captions.
PLOTS: tuple[tuple[str, str], ...] = (
    ("insurance_fund.png", "Insurance fund and cumulative residual bad debt, per policy."),
    (
        "haircuts.png",
        "Haircut rates, (haircut + ADL loss) / profit, over the winners that loss-sharing "
        "touched, per policy.",
    ),
    (
        "socialized.png",
        "Cumulative mutualized losses (haircuts and clawbacks plus the deficits covered by "
        "ADL), per policy.",
    ),
    ("marks.png", "The price path (mark, ticks), one panel per market."),
)

_LINESTYLES = ("-", "--", "-.", ":")
_LABELS = {column.name: column.label for column in SERIES}
_DPI = 110
# Panels of marks.png: one per market up to this many, the rest are left out.
_MAX_MARK_PANELS = 6
# Dots drawn per policy in haircuts.png.
_MAX_POINTS = 2_000


def write_report(
    comparison: Comparison, folder: str | os.PathLike[str], *, title: str | None = None
) -> Path:
    """Write the report of ``comparison`` into ``folder`` (created) and return the path
    of its ``report.html``.

    Every file is written under a temporary name in ``folder`` and renamed only once all
    are written: a failure leaves no new or half-written file behind (and removes
    ``folder`` again if this call created it and it is empty). Files of an earlier
    report in the same folder are replaced.

    Args:
        comparison: the runs to report, one per policy.
        folder: where to write.
        title: the page's title; default: ``"mutualize: <scenario> (seed <seed>)"``.
    """
    if not isinstance(comparison, Comparison):
        raise TypeError(f"write_report needs a Comparison, got {type(comparison).__name__}")
    require("matplotlib", "reports", "report")
    require("pandas", "reports", "report")
    target = Path(folder)
    created = not target.exists()
    target.mkdir(parents=True, exist_ok=True)
    heading = (
        title if title is not None else f"mutualize: {comparison.scenario} (seed {comparison.seed})"
    )
    plotters: dict[str, Callable[[Comparison], Figure]] = {
        "insurance_fund.png": _plot_insurance_fund,
        "haircuts.png": _plot_haircuts,
        "socialized.png": _plot_socialized,
        "marks.png": _plot_marks,
    }
    try:
        with StagedFiles(target) as stage:
            for name, _caption in PLOTS:
                figure = plotters[name](comparison)
                figure.savefig(stage(name), format="png", dpi=_DPI)
            comparison.table.to_csv(stage("comparison.csv"))
            stage("report.html").write_text(_html(comparison, heading), encoding="utf-8")
    except BaseException:
        if created and not any(target.iterdir()):
            target.rmdir()
        raise
    return target / "report.html"


# --- plots -------------------------------------------------------------------------------


def _figure(rows: int, height: float) -> tuple[Figure, list[Axes]]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9.0, height), layout="constrained")
    axes = figure.subplots(rows, 1, sharex=True, squeeze=False)
    return figure, [ax for (ax,) in axes]


def _money_axis(ax: Axes, label: str) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    # Whole minor units only: no "40m" (milli) ticks on a flat zero line.
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(_money_tick))
    low, high = ax.get_ylim()
    if high - low < 10:
        # A flat line (no bad debt, say): widen the view to whole units around it.
        middle = round((low + high) / 2)
        ax.set_ylim(middle - 5, middle + 5)
    ax.set_ylabel(label)
    ax.grid(True, alpha=0.3)


def _money_tick(value: float, _position: float | None = None) -> str:
    """A money tick label: 1.5k, 2M, 3.25G, 1T above a thousand, plain integers below."""
    size = abs(value)
    for scale, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if size >= scale:
            return f"{value / scale:.4g}{suffix}"
    return f"{value:,.0f}"


def _lines(
    ax: Axes, comparison: Comparison, column: Callable[[RunResult], npt.NDArray[np.int64]]
) -> None:
    for number, (label, run) in enumerate(comparison.items()):
        steps = run.series_arrays["step"]
        ax.plot(
            steps,
            column(run),
            label=label,
            linestyle=_LINESTYLES[number % len(_LINESTYLES)],
            linewidth=1.4,
        )


def _plot_insurance_fund(comparison: Comparison) -> Figure:
    figure, (fund, debt) = _figure(2, 6.0)
    _lines(fund, comparison, lambda run: run.series_arrays["insurance_fund"])
    _lines(debt, comparison, lambda run: run.series_arrays["bad_debt"])
    _money_axis(fund, f"{_LABELS['insurance_fund']}\n(minor units)")
    _money_axis(debt, f"cumulative {_LABELS['bad_debt']}\n(minor units)")
    fund.set_title("Insurance fund and residual bad debt")
    fund.legend(loc="best", fontsize="small")
    debt.set_xlabel("step")
    return figure


def _plot_socialized(comparison: Comparison) -> Figure:
    figure, (ax,) = _figure(1, 4.0)
    _lines(ax, comparison, _cumulative_mutualized)
    _money_axis(ax, "cumulative mutualized\n(minor units)")
    ax.set_title("Losses mutualized over time")
    ax.set_xlabel("step")
    ax.legend(loc="best", fontsize="small")
    return figure


def _cumulative_mutualized(run: RunResult) -> npt.NDArray[np.int64]:
    # Haircuts per step are in the series; ADL's per-step cost is the deficit it covered
    # (paid_adl) unless the engine reports the accounts' ADL losses per step itself.
    series = run.series_arrays
    per_step = np.asarray(series["haircuts"], dtype=np.int64)
    adl_column = "adl_loss" if "adl_loss" in series else "paid_adl"
    per_step = per_step + np.asarray(series[adl_column], dtype=np.int64)
    return np.cumsum(per_step, dtype=np.int64)


def touched_winner_rates(run: RunResult) -> npt.NDArray[np.float64]:
    """Haircut rates of the winners (profit > 0) that loss-sharing touched (haircut or
    ADL), float."""
    accounts = run.account_arrays
    touched = (accounts["haircut"] > 0) | (accounts["adl_lots"] > 0)
    winners = accounts["profit"] > 0
    rates: npt.NDArray[np.float64] = np.asarray(accounts["haircut_rate"], dtype=np.float64)
    return rates[touched & winners]


def _plot_haircuts(comparison: Comparison) -> Figure:
    figure, (ax,) = _figure(1, 4.5)
    labels = list(comparison)
    samples = [touched_winner_rates(comparison[label]) for label in labels]
    positive = [s[s > 0] for s in samples]
    pooled = np.concatenate(positive) if positive else np.empty(0)
    # Rates of touched winners span orders of magnitude under ADL (a few accounts lose
    # most of their profit, many a sliver): a log axis keeps both visible.
    log_scale = pooled.size > 0 and float(pooled.max()) > 100.0 * float(pooled.min())
    shown = positive if log_scale else samples
    positions = [i + 1 for i, sample in enumerate(shown) if sample.size > 0]
    if positions:
        ax.boxplot(
            [sample for sample in shown if sample.size > 0],
            positions=positions,
            widths=0.5,
            showfliers=False,
        )
    for i, sample in enumerate(shown):
        if sample.size > 0:
            # The accounts themselves, jittered sideways (a sorted, evenly spaced sample
            # of at most _MAX_POINTS: millions of dots would only slow the plot down).
            points = np.sort(sample)
            if points.size > _MAX_POINTS:
                points = points[np.linspace(0, points.size - 1, _MAX_POINTS).astype(np.int64)]
            jitter = np.random.default_rng(i).uniform(-0.18, 0.18, points.size)
            ax.scatter(
                i + 1 + jitter, points, s=7, alpha=0.45, color="tab:blue", linewidths=0, zorder=3
            )
        else:
            ax.text(
                i + 1,
                0.5,
                "no winner\ntouched",
                ha="center",
                va="center",
                transform=ax.get_xaxis_transform(),
                fontsize="small",
                color="grey",
            )
    ax.set_xticks(range(1, len(labels) + 1))
    ax.set_xticklabels(
        [f"{label}\n(n={sample.size:,})" for label, sample in zip(labels, samples, strict=True)],
        fontsize="small",
    )
    ax.set_xlim(0.5, len(labels) + 0.5)
    if log_scale:
        ax.set_yscale("log")
        ax.set_ylabel("haircut rate (log scale)")
    else:
        ax.set_ylabel("haircut rate")
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_title("Share of profit taken from each touched winner")
    return figure


def _plot_marks(comparison: Comparison) -> Figure:
    run = next(iter(comparison.values()))
    names = run.market_names[:_MAX_MARK_PANELS]
    figure, axes = _figure(max(1, len(names)), 1.0 + 2.2 * max(1, len(names)))
    steps = run.series_arrays["step"]
    for ax, name in zip(axes, names, strict=False):
        ax.plot(steps, run.series_arrays[f"mark_{name}"], linewidth=1.2)
        ax.set_ylabel(f"{name}\n(ticks)")
        ax.grid(True, alpha=0.3)
    axes[0].set_title("Price path")
    if len(run.market_names) > len(names):
        axes[0].set_title(f"Price path (first {len(names)} of {len(run.market_names)} markets)")
    axes[-1].set_xlabel("step")
    return figure


# --- page ------------------------------------------------------------------------------

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.6rem; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f3f3; }
figure { margin: 1.5rem 0; }
img { max-width: 100%; }
dt { font-weight: 600; margin-top: 0.6rem; }
"""


def _html(comparison: Comparison, title: str) -> str:
    esc = html.escape
    first = next(iter(comparison.values()))
    facts = (
        f"Scenario <b>{esc(comparison.scenario)}</b>, seed {comparison.seed}: "
        f"{first.num_accounts:,} accounts, {first.steps:,} steps, markets "
        f"{esc(', '.join(first.market_names))}. Money is in minor units of the settlement "
        "asset."
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8">',
        f"<title>{esc(title)}</title>",
        f"<style>{_STYLE}</style></head>",
        "<body>",
        f"<h1>{esc(title)}</h1>",
        f"<p>{facts}</p>",
        "<h2>Comparison</h2>",
        _metrics_table(comparison),
        _runs_table(comparison),
        "<h2>Plots</h2>",
    ]
    for name, caption in PLOTS:
        parts.append(
            f'<figure><img src="{esc(name)}" alt="{esc(caption)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>"
        )
    parts.append("<h2>The metrics</h2>")
    parts.append(
        "<p>An account's <i>profit</i> is what it made before loss-sharing (final equity "
        "plus its haircuts and ADL losses, minus its deposit); a <i>winner</i> is an "
        "account with a positive profit. The comparison table is also in "
        '<a href="comparison.csv">comparison.csv</a>.</p>'
    )
    parts.append("<dl>")
    for metric in _metrics.METRICS:
        parts.append(
            f"<dt>{esc(metric.label)} <code>{esc(metric.name)}</code></dt>"
            f"<dd>{esc(metric.description)}</dd>"
        )
    parts += ["</dl>", "</body>", "</html>", ""]
    return "\n".join(parts)


def _metrics_table(comparison: Comparison) -> str:
    esc = html.escape
    head = "".join(f"<th>{esc(label)}</th>" for label in comparison)
    rows = [f"<table><thead><tr><th>metric</th>{head}</tr></thead><tbody>"]
    for metric in _metrics.METRICS:
        cells = "".join(
            f'<td class="num">{esc(format_metric(metric.name, run.metrics[metric.name]))}</td>'
            for run in comparison.values()
        )
        rows.append(
            f'<tr><th title="{esc(metric.description)}">{esc(metric.label)}</th>{cells}</tr>'
        )
    rows.append("</tbody></table>")
    return "\n".join(rows)


def _runs_table(comparison: Comparison) -> str:
    esc = html.escape
    header: Sequence[str] = ("policy", "waterfall", "wall time (s)", "insurance fund at start")
    rows = [
        "<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in header) + "</tr></thead><tbody>"
    ]
    for label, run in comparison.items():
        start = int(run.totals.get("insurance_fund_start", 0))
        rows.append(
            f"<tr><th>{esc(label)}</th><td>{esc(run.policy)}</td>"
            f'<td class="num">{run.seconds:.3f}</td><td class="num">{start:,}</td></tr>'
        )
    rows.append("</tbody></table>")
    return "\n".join(rows)
