"""The user's data files: price paths and account tables, CSV or Parquet.

Reading them needs pandas (``pip install 'mutualize[sim]'``). Values become exact int64:
prices rounded to whole ticks, account columns whole numbers or refused. A file holds at
most :data:`~mutualize.sim.schema.MAX_STEPS` price rows (and steps x markets at most
:data:`~mutualize.sim.schema.MAX_PATH_CELLS`) and
:data:`~mutualize.sim.schema.MAX_ACCOUNTS` accounts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from .._extras import require
from .checks import ScenarioError
from .schema import MAX_ACCOUNTS, MAX_PATH_CELLS, MAX_STEPS, PRICE_MAX

__all__ = ["TABLE_COLUMNS", "Accounts", "read_accounts", "read_frame", "read_price_file"]

Int64Array = npt.NDArray[np.int64]
INT64_MAX = 2**63 - 1
#: The columns of an account table.
TABLE_COLUMNS = ("collateral", "size", "entry", "market")


class Accounts(NamedTuple):
    """A population as exact arrays, one entry per account (int64)."""

    collateral: Int64Array  # minor units, > 0
    market: Int64Array  # market index
    size: Int64Array  # signed lots, non-zero
    entry: Int64Array  # ticks, > 0


def _pandas() -> Any:
    return require("pandas", "price and account files", "sim")


def resolve_file(file: str, key: str, base_dir: Path | None = None) -> Path:
    """The path of a data file, relative paths against ``base_dir``; it must exist."""
    path = Path(file)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.is_file():
        raise ScenarioError(key, f"file not found: {str(path)!r}")
    return path


def read_frame(file: str, key: str) -> Any:
    """A CSV or Parquet file as a pandas DataFrame (``.csv``, ``.parquet``, ``.pq``)."""
    pd = _pandas()
    path = resolve_file(file, key)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except Exception as exc:
        # The parsers' messages can run over several lines: keep the first.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ScenarioError(key, f"cannot read {str(path)!r}: {first}") from None
    raise ScenarioError(key, f"expected a .csv or .parquet file, got {str(path)!r}")


def read_price_file(
    file: str, market_names: Sequence[str], steps: int = 0, key: str = "path.file"
) -> Int64Array:
    """Prices from a CSV/Parquet file: shape ``(steps, markets)``, int64 ticks >= 1.

    One column per market name; a one-market scenario may use a ``price`` column
    instead. Values are rounded to the nearest tick and must be > 0 after rounding.
    ``steps = 0`` reads every row; otherwise the first ``steps`` rows.
    """
    pd = _pandas()
    frame = read_frame(file, key)
    columns: list[str] = []
    for name in market_names:
        if name in frame.columns:
            columns.append(name)
        elif len(market_names) == 1 and "price" in frame.columns:
            columns.append("price")
        else:
            wanted = f'"{name}"' + (' or "price"' if len(market_names) == 1 else "")
            raise ScenarioError(key, f"missing column {wanted} in {file!r}")
    rows = len(frame)
    if rows == 0:
        raise ScenarioError(key, f"{file!r} has no rows")
    if steps > rows:
        raise ScenarioError(key, f"{file!r} has {rows} rows, fewer than path.steps = {steps}")
    take = rows if steps == 0 else steps
    if take > MAX_STEPS or take * len(columns) > MAX_PATH_CELLS:
        raise ScenarioError(
            key,
            f"{file!r} has {take:,} rows of {len(columns)} markets; at most {MAX_STEPS:,} "
            f"rows and {MAX_PATH_CELLS:,} prices (set path.steps to read fewer)",
        )
    prices = np.empty((take, len(columns)), dtype=np.int64)
    for m, column in enumerate(columns):
        series = frame[column].iloc[:take]
        if not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)):
            raise ScenarioError(key, f"column {column!r}: expected prices in ticks (numbers)")
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        level = np.rint(values)
        bad = ~np.isfinite(level) | (level < 1) | (level > PRICE_MAX)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ScenarioError(
                key,
                f"column {column!r}, row {row}: expected a price >= 1 tick, got {values[row]!r}",
            )
        prices[:, m] = level.astype(np.int64)
    return prices


def read_accounts(file: str, market_names: Sequence[str]) -> Accounts:
    """Accounts from a CSV/Parquet table (columns collateral, size, entry, market)."""
    pd = _pandas()
    key = "population.table"
    frame = read_frame(file, key)
    for column in TABLE_COLUMNS:
        if column not in frame.columns:
            raise ScenarioError(key, f"missing column {column!r} in {file!r}")
    if len(frame) == 0:
        raise ScenarioError(key, f"{file!r} has no rows")
    if len(frame) > MAX_ACCOUNTS:
        raise ScenarioError(key, f"{file!r} has {len(frame):,} rows; at most {MAX_ACCOUNTS:,}")
    collateral = _int_column(frame["collateral"], key, "collateral", lo=1, unit="minor units")
    size = _int_column(frame["size"], key, "size", unit="lots")
    if (size == 0).any():
        row = int(np.flatnonzero(size == 0)[0])
        raise ScenarioError(key, f"column 'size', row {row}: expected non-zero lots, got 0")
    entry = _int_column(frame["entry"], key, "entry", lo=1, unit="ticks")
    column = frame["market"]
    if pd.api.types.is_integer_dtype(column) or pd.api.types.is_float_dtype(column):
        market = _int_column(column, key, "market", lo=0, hi=len(market_names) - 1)
    else:
        names = column.astype(str)
        index = {name: i for i, name in enumerate(market_names)}
        unknown = ~names.isin(list(index))
        if unknown.any():
            row = int(np.flatnonzero(unknown.to_numpy())[0])
            raise ScenarioError(
                key,
                f"column 'market', row {row}: unknown market {names.iloc[row]!r}; expected "
                f"one of {', '.join(market_names)} or an index",
            )
        market = names.map(index).to_numpy(dtype=np.int64)
    return Accounts(collateral=collateral, market=market, size=size, entry=entry)


def _int_column(
    series: Any,
    key: str,
    name: str,
    *,
    lo: int | None = None,
    hi: int | None = None,
    unit: str = "",
) -> Int64Array:
    """A table column as exact int64: integer columns, or float columns of whole numbers
    below 2**53 (exact in float64)."""
    pd = _pandas()
    what = "an integer" + (f" ({unit})" if unit else "")
    if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
        raise ScenarioError(key, f"column {name!r}: expected {what}, got {series.dtype} values")
    if pd.api.types.is_integer_dtype(series):
        if series.isna().any():
            row = int(np.flatnonzero(series.isna().to_numpy())[0])
            raise ScenarioError(key, f"column {name!r}, row {row}: missing value")
        raw = series.to_numpy()
        if raw.dtype == np.uint64 and (raw > np.uint64(INT64_MAX)).any():
            raise ScenarioError(key, f"column {name!r}: a value exceeds int64")
        values = raw.astype(np.int64)
    else:
        floats = series.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(floats) | (np.floor(floats) != floats) | (np.abs(floats) >= 2**53)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ScenarioError(
                key, f"column {name!r}, row {row}: expected {what}, got {floats[row]!r}"
            )
        values = floats.astype(np.int64)
    low = lo if lo is not None else -math.inf
    high = hi if hi is not None else math.inf
    out_of_range = (values < low) | (values > high)
    if out_of_range.any():
        row = int(np.flatnonzero(out_of_range)[0])
        bounds = f">= {lo}" if hi is None else f"in {lo}..={hi}"
        raise ScenarioError(
            key, f"column {name!r}, row {row}: expected {what} {bounds}, got {int(values[row])}"
        )
    result: Int64Array = values
    return result
