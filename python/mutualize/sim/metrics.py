"""Fairness metrics of one backtest run.

Each metric is a function of the run's per-account outcomes (a table, one row per
account: a mapping of column name to numpy array, as in
:attr:`mutualize.sim.results.RunResult.account_arrays`, or a pandas DataFrame) and its
totals (a mapping of exact integers, as in :attr:`~mutualize.sim.results.RunResult.totals`).
Money metrics are exact Python ``int`` in minor units; rates and indices are ``float``.
Nothing here needs pandas.

Vocabulary used throughout:

- **profit** of an account: what it made before any loss-sharing, ``equity + haircut +
  adl_loss - collateral0`` (minor units). Adding back the haircuts and ADL losses gives
  the profit it would have had under a waterfall that never touched it.
- **winner**: an account with ``profit > 0``.
- **mutualized loss** of an account: ``haircut + adl_loss`` (minor units), what
  loss-sharing took from it (haircuts, clawbacks and the cost of being auto-deleveraged
  against closing at the mark).

:data:`METRICS` lists every metric in display order with a label, a kind (money,
count, rate, index) and a one-sentence description, for tables and reports.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from ..errors import InvalidInputError
from ..metrics import gini

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ACCOUNT_COLUMNS",
    "METRICS",
    "TOTAL_KEYS",
    "AccountTable",
    "Metric",
    "MetricValue",
    "accounts_touched",
    "bad_debt",
    "deficit",
    "exact_sum",
    "fairness",
    "haircut_gini",
    "haircut_rate",
    "haircut_rate_array",
    "house_haircut",
    "insurance_fund_end",
    "largest_haircut_rate",
    "liquidations",
    "over_haircut",
    "profit",
    "profit_array",
    "profit_share_taken",
    "top_winner_loss",
    "total_mutualized",
]

MetricValue = int | float
#: One row per account: a mapping of column name to array, or a pandas DataFrame.
AccountTable: TypeAlias = "Mapping[str, Any] | pd.DataFrame"

#: Per-account columns the metrics read (int64, minor units / lots / ids).
ACCOUNT_COLUMNS: tuple[str, ...] = (
    "account",
    "collateral0",
    "equity",
    "haircut",
    "adl_lots",
    "adl_loss",
)

#: Keys of the totals the metrics read (exact ints, minor units or counts).
TOTAL_KEYS: tuple[str, ...] = (
    "insurance_fund_end",
    "bad_debt",
    "deficit",
    "haircuts",
    "adl_loss",
    "liquidations",
    "paid_socialized",
    "paid_adl",
)

_INT64_MAX = int(np.iinfo(np.int64).max)


def exact_sum(values: Any) -> int:
    """The exact sum of int64 values as a Python ``int`` (no silent int64 wrap-around).

    Sums in int64 when ``len * max|x|`` cannot overflow (the common case, fast), else
    in Python integers.
    """
    array = np.asarray(values, dtype=np.int64)
    if array.size == 0:
        return 0
    largest = max(abs(int(array.max())), abs(int(array.min())))
    if largest * int(array.size) <= _INT64_MAX:
        return int(array.sum())
    return sum(int(v) for v in array.tolist())


def profit_array(accounts: AccountTable) -> npt.NDArray[np.int64]:
    """Each account's profit before loss-sharing, minor units (int64):
    ``equity + haircut + adl_loss - collateral0`` (the ``profit`` column when present)."""
    _require_columns(accounts, ("collateral0", "equity", "haircut", "adl_loss"))
    if "profit" in accounts:
        return _column(accounts, "profit")
    values: npt.NDArray[np.int64] = (
        _column(accounts, "equity") + _taken(accounts) - _column(accounts, "collateral0")
    )
    return values


def haircut_rate_array(accounts: AccountTable) -> npt.NDArray[np.float64]:
    """Each account's share of its profit taken by loss-sharing (float):
    ``(haircut + adl_loss) / profit`` for winners, 0 for everyone else (the
    ``haircut_rate`` column when present).

    It can exceed 1 (an ADL close at a price far from the mark) or be negative (an ADL
    close that happened to favour the account)."""
    if "haircut_rate" in accounts:
        rates: npt.NDArray[np.float64] = np.asarray(accounts["haircut_rate"], dtype=np.float64)
        return rates
    gains = profit_array(accounts)
    taken = _taken(accounts)
    rate = np.zeros(gains.shape[0], dtype=np.float64)
    winners = gains > 0
    rate[winners] = taken[winners].astype(np.float64) / gains[winners].astype(np.float64)
    return rate


def profit(accounts: pd.DataFrame) -> pd.Series:
    """:func:`profit_array` as a pandas Series named ``profit`` on the table's index."""
    import pandas as pd

    values: pd.Series = pd.Series(
        profit_array(accounts), index=accounts.index, name="profit", dtype=np.int64
    )
    return values


def haircut_rate(accounts: pd.DataFrame) -> pd.Series:
    """:func:`haircut_rate_array` as a pandas Series named ``haircut_rate``."""
    import pandas as pd

    rates = haircut_rate_array(accounts)
    values: pd.Series = pd.Series(
        rates, index=accounts.index, name="haircut_rate", dtype=np.float64
    )
    return values


# --- the metrics, one function each ---------------------------------------------------


def total_mutualized(accounts: AccountTable, totals: Mapping[str, int]) -> int:
    """Total loss mutualized, minor units: every haircut (clawbacks included) plus every
    auto-deleveraged account's loss against closing at the mark, venue-wide.

    Source: the run's totals (``haircuts + adl_loss``), the measure every venue
    publishes after a socialized-loss event (e.g. OKX's 2018 clawback notices)."""
    return _total(totals, "haircuts") + _total(totals, "adl_loss")


def deficit(accounts: AccountTable, totals: Mapping[str, int]) -> int:
    """Total deficit of the run, minor units: the negative equity left by every
    bankrupt liquidation, before the waterfall covered it."""
    return _total(totals, "deficit")


def bad_debt(accounts: AccountTable, totals: Mapping[str, int]) -> int:
    """Residual bad debt at the end of the run, minor units: the part of the deficits
    that no stage of the waterfall covered (the venue's own loss)."""
    return _total(totals, "bad_debt")


def insurance_fund_end(accounts: AccountTable, totals: Mapping[str, int]) -> int:
    """The insurance fund at the end of the run (all funds), minor units."""
    return _total(totals, "insurance_fund_end")


def largest_haircut_rate(accounts: AccountTable, totals: Mapping[str, int]) -> float:
    """The largest share of one winner's profit taken by loss-sharing,
    ``max((haircut + adl_loss) / profit)`` over winners; 0 when no one was touched.

    The worst individual outcome: what a trader would read in the venue's notice."""
    rates = haircut_rate_array(accounts)
    if rates.size == 0:
        return 0.0
    return max(0.0, float(rates.max()))


def accounts_touched(accounts: AccountTable, totals: Mapping[str, int]) -> int:
    """How many accounts loss-sharing touched: haircut (``haircut > 0``) or
    auto-deleveraged (``adl_lots > 0``)."""
    _require_columns(accounts, ("haircut", "adl_lots"))
    touched = (_column(accounts, "haircut") > 0) | (_column(accounts, "adl_lots") > 0)
    return int(np.count_nonzero(touched))


def profit_share_taken(accounts: AccountTable, totals: Mapping[str, int]) -> float:
    """The share of the winners' total profit that loss-sharing took:
    ``sum(haircut + adl_loss) / sum(profit over winners)``, over the accounts; 0 when
    no account made a profit.

    The aggregate "clawback rate" of OKX-style socialized losses (one rate for
    everyone under pro rata; an average under other rules)."""
    gains = profit_array(accounts)
    winners_profit = exact_sum(gains[gains > 0])
    if winners_profit <= 0:
        return 0.0
    return exact_sum(_taken(accounts)) / winners_profit


def haircut_gini(accounts: AccountTable, totals: Mapping[str, int]) -> float:
    """Gini coefficient of the mutualized losses (``haircut + adl_loss``, negative
    values counted as 0) over the winners; 0 when there are none or nothing was taken.

    Exact formula on the values sorted ascending, ``x_1 <= ... <= x_n``:
    ``G = sum_i (2i - n - 1) x_i / (n * sum_i x_i)``, equal to the mean absolute
    difference over twice the mean (Gini 1912). 0: everyone lost the same; close to 1:
    one winner carried it all (an ADL queue's top). Computed exactly by
    :func:`mutualize.metrics.gini`, then rounded to a float."""
    gains = profit_array(accounts)
    losses = np.maximum(_taken(accounts)[gains > 0], 0)
    # The exact Gini of mutualize.metrics, rounded once for display.
    return float(gini(losses))


def top_winner_loss(accounts: AccountTable, totals: Mapping[str, int]) -> int:
    """What loss-sharing took from the biggest winner, minor units: ``haircut +
    adl_loss`` of the account with the largest profit (ties: the smallest account id);
    0 when no account made a profit.

    ADL queues ranked by profit and leverage hit this account first."""
    _require_columns(accounts, ("account",))
    gains = profit_array(accounts)
    if gains.size == 0 or int(gains.max()) <= 0:
        return 0
    ids = _column(accounts, "account")
    best = gains == gains.max()
    candidates = np.flatnonzero(best)
    top = int(candidates[np.argmin(ids[candidates])])
    return int(_taken(accounts)[top])


def over_haircut(accounts: AccountTable, totals: Mapping[str, int]) -> int:
    """Loss taken beyond what was needed, minor units: the total mutualized minus the
    part of the deficits that the socialization and ADL stages were assigned
    (``haircuts + adl_loss - paid_socialized - paid_adl``).

    Source: the over-haircut measure of T. Chitra, "Autodeleveraging: Impossibilities
    and Optimization" (2025, arXiv 2512.01112), which compares what a mechanism took from
    winning traders with the least it had to take to cover the shortfall. Here the
    shortfall handed to loss-sharing is what the run's waterfall recorded; the excess
    comes from rounding up, from whole-lot ADL closes and from closing at a bankruptcy
    price away from the mark. 0 for exact pro rata."""
    needed = _total(totals, "paid_socialized") + _total(totals, "paid_adl")
    return total_mutualized(accounts, totals) - needed


def liquidations(accounts: AccountTable, totals: Mapping[str, int]) -> int:
    """Number of liquidations in the run (with or without a deficit)."""
    return _total(totals, "liquidations")


def house_haircut(accounts: AccountTable, totals: Mapping[str, int]) -> int:
    """Haircuts taken from the house, the engine's opening counterparty and liquidation
    backstop (minor units; 0 for records without the figure). The per-account metrics
    cover traders only, so with a profitable house they show less than was taken."""
    return int(totals.get("house_haircut", 0))


# --- registry ---------------------------------------------------------------------------

MetricKind = Literal["money", "count", "rate", "index"]


@dataclass(frozen=True)
class Metric:
    """One fairness metric: its name (the dict key), a short label for tables, its
    kind (``money``: int minor units; ``count``: int; ``rate``: float share; ``index``:
    float in [0, 1]), a one-sentence description for reports and the function."""

    name: str
    label: str
    kind: MetricKind
    description: str
    compute: Callable[[AccountTable, Mapping[str, int]], MetricValue]


#: Every metric, in display order.
METRICS: tuple[Metric, ...] = (
    Metric(
        "total_mutualized",
        "mutualized",
        "money",
        "Haircuts (clawbacks included) plus the losses of auto-deleveraged accounts "
        "against closing at the mark, in minor units.",
        total_mutualized,
    ),
    Metric(
        "deficit",
        "deficit",
        "money",
        "The negative equity left by bankrupt liquidations, before the waterfall.",
        deficit,
    ),
    Metric(
        "bad_debt",
        "bad debt",
        "money",
        "The part of the deficits no stage covered: the venue's own loss at the end.",
        bad_debt,
    ),
    Metric(
        "insurance_fund_end",
        "insurance fund end",
        "money",
        "The insurance fund left at the end of the run.",
        insurance_fund_end,
    ),
    Metric(
        "largest_haircut_rate",
        "largest haircut rate",
        "rate",
        "The largest share of one winner's profit that loss-sharing took.",
        largest_haircut_rate,
    ),
    Metric(
        "accounts_touched",
        "accounts touched",
        "count",
        "Accounts that were haircut or auto-deleveraged.",
        accounts_touched,
    ),
    Metric(
        "profit_share_taken",
        "profit share taken",
        "rate",
        "What loss-sharing took, as a share of all winners' profit before it.",
        profit_share_taken,
    ),
    Metric(
        "haircut_gini",
        "haircut gini",
        "index",
        "Gini coefficient of the losses over winners: 0 when all lost alike, near 1 "
        "when a few carried it all.",
        haircut_gini,
    ),
    Metric(
        "top_winner_loss",
        "top winner loss",
        "money",
        "What loss-sharing took from the account with the largest profit.",
        top_winner_loss,
    ),
    Metric(
        "over_haircut",
        "over-haircut",
        "money",
        "Taken beyond the deficits handed to socialization and ADL (Chitra 2025's "
        "over-haircut): rounding up, whole-lot ADL closes, bankruptcy prices away from "
        "the mark.",
        over_haircut,
    ),
    Metric(
        "liquidations",
        "liquidations",
        "count",
        "Liquidations, with or without a deficit.",
        liquidations,
    ),
    Metric(
        "house_haircut",
        "house haircut",
        "money",
        "Haircuts taken from the house (the opening counterparty and liquidation "
        "backstop), which the per-account figures above leave out.",
        house_haircut,
    ),
)


def fairness(accounts: AccountTable, totals: Mapping[str, int]) -> dict[str, MetricValue]:
    """Every metric of :data:`METRICS` for one run, in display order.

    Args:
        accounts: one row per account (a mapping of arrays or a DataFrame) with at
            least :data:`ACCOUNT_COLUMNS` (int64);
            ``profit`` and ``haircut_rate`` are used when present, derived otherwise.
        totals: the run's totals with at least :data:`TOTAL_KEYS` (exact ints).

    Returns:
        ``{name: value}``: money and counts as exact Python ``int`` (minor units),
        rates and indices as ``float``.

    Raises:
        InvalidInputError: a column or a total is missing.
    """
    _require_columns(accounts, ACCOUNT_COLUMNS)
    missing = [key for key in TOTAL_KEYS if key not in totals]
    if missing:
        raise InvalidInputError(f"totals lack {', '.join(missing)}")
    return {metric.name: metric.compute(accounts, totals) for metric in METRICS}


# --- helpers ----------------------------------------------------------------------------


def _column(accounts: AccountTable, name: str) -> npt.NDArray[np.int64]:
    values: npt.NDArray[np.int64] = np.asarray(accounts[name], dtype=np.int64)
    return values


def _taken(accounts: AccountTable) -> npt.NDArray[np.int64]:
    _require_columns(accounts, ("haircut", "adl_loss"))
    taken: npt.NDArray[np.int64] = _column(accounts, "haircut") + _column(accounts, "adl_loss")
    return taken


def _total(totals: Mapping[str, int], key: str) -> int:
    try:
        return int(totals[key])
    except KeyError:
        raise InvalidInputError(f"totals lack {key!r}") from None


def _require_columns(accounts: AccountTable, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in accounts]
    if missing:
        raise InvalidInputError(f"the accounts table lacks column(s) {', '.join(missing)}")
