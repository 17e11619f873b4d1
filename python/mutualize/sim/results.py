"""Results of backtests: one run (:class:`RunResult`) and a comparison of policies on
the same scenario (:class:`Comparison`).

A run holds exact numpy columns, named and ordered by ``mutualize._columns``: the
engine's series and per-account outcomes, the input columns beside them and the derived
ones (``profit``, ``haircut_rate``), with exact ``int`` totals and the fairness metrics
of :mod:`mutualize.sim.metrics`. The engine's output becomes these columns in one place,
:meth:`RunResult.from_engine`. pandas DataFrames (:attr:`RunResult.series`,
:attr:`RunResult.accounts`, :attr:`Comparison.table`) are built on first use and need
pandas (``pip install 'mutualize[sim]'``); nothing else here does. Results know nothing
of reports: :mod:`mutualize.sim.report` reads them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .._columns import ACCOUNTS, SERIES, TOTALS, names
from .._extras import require
from .._protocols import BacktestInputs
from ..errors import InvalidInputError
from . import metrics as _metrics
from .formatting import format_metric, metrics_markdown
from .staged import StagedFiles

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ACCOUNT_FIELDS",
    "SERIES_FIELDS",
    "TOTAL_FIELDS",
    "Comparison",
    "RunResult",
    "format_metric",
]

Array = npt.NDArray[Any]

#: Per-step series of a raw run record, in column order (int64, values after the step).
SERIES_FIELDS: tuple[str, ...] = names(SERIES)

#: Per-account arrays of a raw run record, in column order (int64).
ACCOUNT_FIELDS: tuple[str, ...] = names(ACCOUNTS, "inputs") + names(ACCOUNTS, "engine")

#: Totals a raw run record must hold (exact ints); the ``paid_*`` totals are summed
#: from the series where it lacks them, and the house's haircut counts as 0.
TOTAL_FIELDS: tuple[str, ...] = tuple(
    name for name in names(TOTALS) if name != "house_haircut" and not name.startswith("paid_")
)

_RECORD_KEYS: tuple[str, ...] = (
    "scenario",
    "policy",
    "seed",
    "seconds",
    "market_names",
    "series",
    "accounts",
    "totals",
)
# Totals summed from a column when the engine does not report them.
_SUMS: dict[str, tuple[str, str]] = {
    "deficit": ("series", "deficit"),
    "haircuts": ("series", "haircuts"),
    "adl_loss": ("accounts", "adl_loss"),
    "liquidations": ("series", "liquidations"),
    "paid_insurance": ("series", "paid_insurance"),
    "paid_socialized": ("series", "paid_socialized"),
    "paid_adl": ("series", "paid_adl"),
    "paid_bad_debt": ("series", "paid_bad_debt"),
}


def _pandas(what: str = "mutualize.sim tables") -> Any:
    return require("pandas", what, "sim")


@dataclass(frozen=True, eq=False)
class RunResult:
    """One backtest run: a scenario driven through the ledger under one policy.

    Attributes:
        scenario: the scenario's name.
        policy: the policy's (waterfall configuration's) name.
        seed: the scenario's seed.
        seconds: wall time of the run, seconds.
        market_names: one name per market.
        series_arrays: one read-only array per column, one row per price step: ``step``,
            the int64 series of :data:`SERIES_FIELDS` (values after the step; money in
            minor units) and one ``mark_<market>`` column per market (ticks).
        account_arrays: one read-only array per column, one row per account (the house
            excluded): the int64 columns of :data:`ACCOUNT_FIELDS`, ``profit`` (int64,
            minor units: ``equity + haircut + adl_loss - collateral0``, the profit
            before loss-sharing) and ``haircut_rate`` (float: ``(haircut + adl_loss) /
            profit`` for winners, else 0).
        totals: exact ints: :data:`TOTAL_FIELDS`, ``house_haircut`` and the
            ``paid_insurance``, ``paid_socialized``, ``paid_adl`` and ``paid_bad_debt``
            sums of the series (``mutualize._columns.TOTALS``).
        metrics: the fairness metrics (:func:`mutualize.sim.metrics.fairness`).
    """

    scenario: str
    policy: str
    seed: int
    seconds: float
    market_names: tuple[str, ...]
    series_arrays: Mapping[str, Array] = field(repr=False)
    account_arrays: Mapping[str, Array] = field(repr=False)
    totals: Mapping[str, int] = field(repr=False)
    metrics: Mapping[str, _metrics.MetricValue] = field(repr=False)

    # ----------------------------------------------------------------- building

    @classmethod
    def from_engine(
        cls,
        raw: Mapping[str, Any],
        inputs: BacktestInputs,
        *,
        scenario: str,
        policy: str,
        seed: int,
        seconds: float,
        market_names: tuple[str, ...],
    ) -> RunResult:
        """The result of an engine's run (``{"series", "accounts", "totals"}`` named by
        ``mutualize._columns``) over ``inputs``: the one place the engine's output
        becomes a result's columns."""
        engine_series, engine_accounts = raw["series"], raw["accounts"]
        series: dict[str, Array] = {"step": np.arange(inputs.num_steps, dtype=np.int64)}
        series.update(_ordered(engine_series, names(SERIES, "engine")))
        n = inputs.num_accounts
        accounts: dict[str, Array] = {
            "account": np.arange(1, n + 1, dtype=np.int64),
            "market": np.array(inputs.market),
            "size0": np.array(inputs.size),
            "entry": np.array(inputs.entry),
            "collateral0": np.array(inputs.collateral),
        }
        accounts.update(_ordered(engine_accounts, names(ACCOUNTS, "engine")))
        totals = {"insurance_fund_start": int(inputs.insurance_fund)}
        for name in names(TOTALS, "engine"):
            totals[name] = int(raw["totals"][name])
        return cls._assemble(
            (scenario, policy, seed, seconds, market_names),
            series,
            np.array(inputs.prices),
            accounts,
            totals,
        )

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> RunResult:
        """Build a result from a raw run record (from elsewhere: a file, a test).

        ``raw`` holds ``scenario`` (str), ``policy`` (str), ``seed`` (int), ``seconds``
        (float), ``market_names`` (tuple of str), ``series`` (dict of int64 arrays of
        length ``steps``: :data:`SERIES_FIELDS`, plus ``marks`` of shape
        ``(steps, markets)`` in ticks), ``accounts`` (dict of int64 arrays of length
        ``accounts``: :data:`ACCOUNT_FIELDS`) and ``totals`` (dict of ints:
        :data:`TOTAL_FIELDS`). Extra int64 series, account arrays and totals are kept.

        Raises:
            InvalidInputError: a key is missing, an array is not integer or has the
                wrong shape, or a market name repeats.
        """
        missing = [key for key in _RECORD_KEYS if key not in raw]
        if missing:
            raise InvalidInputError(f"the raw run record lacks {', '.join(missing)}")
        market_names = tuple(str(name) for name in raw["market_names"])
        series_raw, accounts_raw, totals_raw = raw["series"], raw["accounts"], raw["totals"]
        lacking = [key for key in (*SERIES_FIELDS, "marks") if key not in series_raw]
        if lacking:
            raise InvalidInputError(f"the run's series lack {', '.join(lacking)}")
        steps = int(_int_array(series_raw["step"], "series.step", None).shape[0])
        series = {
            key: _int_array(series_raw[key], f"series.{key}", steps)
            for key in (*SERIES_FIELDS, *(k for k in series_raw if k not in SERIES_FIELDS))
            if key != "marks"
        }
        marks = np.asarray(series_raw["marks"])
        if marks.dtype.kind not in "iu":
            raise InvalidInputError(f"series.marks must be integer ticks, got dtype {marks.dtype}")
        if marks.shape != (steps, len(market_names)):
            raise InvalidInputError(
                f"series.marks must have shape ({steps}, {len(market_names)}), got {marks.shape}"
            )
        lacking = [key for key in ACCOUNT_FIELDS if key not in accounts_raw]
        if lacking:
            raise InvalidInputError(f"the run's accounts lack {', '.join(lacking)}")
        length = int(_int_array(accounts_raw["account"], "accounts.account", None).shape[0])
        accounts = {
            key: _int_array(accounts_raw[key], f"accounts.{key}", length)
            for key in (*ACCOUNT_FIELDS, *(k for k in accounts_raw if k not in ACCOUNT_FIELDS))
        }
        lacking = [key for key in TOTAL_FIELDS if key not in totals_raw]
        if lacking:
            raise InvalidInputError(f"the run's totals lack {', '.join(lacking)}")
        totals: dict[str, int] = {}
        for key, value in totals_raw.items():
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise InvalidInputError(f"totals.{key} must be an int, got {type(value).__name__}")
            totals[str(key)] = int(value)
        labels = (
            str(raw["scenario"]),
            str(raw["policy"]),
            int(raw["seed"]),
            float(raw["seconds"]),
            market_names,
        )
        return cls._assemble(labels, series, marks.astype(np.int64), accounts, totals)

    @classmethod
    def _assemble(
        cls,
        labels: tuple[str, str, int, float, tuple[str, ...]],
        series: dict[str, Array],
        marks: Array,
        accounts: dict[str, Array],
        totals: dict[str, int],
    ) -> RunResult:
        """Add the marks, the derived columns and totals, and the metrics."""
        scenario, policy, seed, seconds, market_names = labels
        if len(set(market_names)) != len(market_names):
            raise InvalidInputError(f"market names repeat: {market_names}")
        for index, name in enumerate(market_names):
            series[f"mark_{name}"] = marks[:, index]
        accounts["profit"] = _metrics.profit_array(accounts)
        accounts["haircut_rate"] = _metrics.haircut_rate_array(accounts)
        for total, (part, column) in _SUMS.items():
            if total not in totals:
                source = series if part == "series" else accounts
                totals[total] = _metrics.exact_sum(source[column])
        for array in (*series.values(), *accounts.values()):
            array.flags.writeable = False
        return cls(
            scenario=scenario,
            policy=policy,
            seed=seed,
            seconds=seconds,
            market_names=market_names,
            series_arrays=MappingProxyType(series),
            account_arrays=MappingProxyType(accounts),
            totals=MappingProxyType(totals),
            metrics=MappingProxyType(_metrics.fairness(accounts, totals)),
        )

    # ----------------------------------------------------------------- views

    @property
    def steps(self) -> int:
        """Number of price steps."""
        return int(self.series_arrays["step"].shape[0])

    @property
    def num_accounts(self) -> int:
        """Number of accounts (the house not counted)."""
        return int(self.account_arrays["account"].shape[0])

    @cached_property
    def series(self) -> pd.DataFrame:
        """:attr:`series_arrays` as a DataFrame indexed by ``step`` (needs pandas)."""
        pandas = _pandas()
        columns = {k: v for k, v in self.series_arrays.items() if k != "step"}
        index = pandas.Index(self.series_arrays["step"], name="step")
        frame: pd.DataFrame = pandas.DataFrame(columns, index=index)
        return frame

    @cached_property
    def accounts(self) -> pd.DataFrame:
        """:attr:`account_arrays` as a DataFrame, one row per account (needs pandas)."""
        frame: pd.DataFrame = _pandas().DataFrame(dict(self.account_arrays))
        return frame

    # ----------------------------------------------------------------- files

    def to_parquet(self, folder: str | os.PathLike[str]) -> Path:
        """Write ``series.parquet``, ``accounts.parquet`` and ``run.json`` (scenario,
        policy, seed, seconds, market names, totals and metrics) into ``folder``
        (created) and return its path. Each file is written under a temporary name and
        renamed once all are written, so a failure leaves none of them half-written.
        :meth:`from_parquet` reads them back. Needs pandas and pyarrow."""
        require("pyarrow", "Parquet files", "sim")
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        meta = {
            "scenario": self.scenario,
            "policy": self.policy,
            "seed": self.seed,
            "seconds": self.seconds,
            "market_names": list(self.market_names),
            "totals": dict(self.totals),
            "metrics": dict(self.metrics),
        }
        with StagedFiles(target) as stage:
            self.series.to_parquet(stage("series.parquet"))
            self.accounts.to_parquet(stage("accounts.parquet"), index=False)
            stage("run.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return target

    @classmethod
    def from_parquet(cls, folder: str | os.PathLike[str]) -> RunResult:
        """Read a run written by :meth:`to_parquet`."""
        pandas = _pandas("Parquet files")
        require("pyarrow", "Parquet files", "sim")
        source = Path(folder)
        meta = json.loads((source / "run.json").read_text(encoding="utf-8"))
        series_frame = pandas.read_parquet(source / "series.parquet")
        accounts_frame = pandas.read_parquet(source / "accounts.parquet")
        series = {"step": series_frame.index.to_numpy(dtype=np.int64)}
        series.update({str(c): series_frame[c].to_numpy() for c in series_frame.columns})
        accounts = {str(c): accounts_frame[c].to_numpy() for c in accounts_frame.columns}
        for array in (*series.values(), *accounts.values()):
            array.flags.writeable = False
        totals = {str(k): int(v) for k, v in meta["totals"].items()}
        return cls(
            scenario=str(meta["scenario"]),
            policy=str(meta["policy"]),
            seed=int(meta["seed"]),
            seconds=float(meta["seconds"]),
            market_names=tuple(str(m) for m in meta["market_names"]),
            series_arrays=MappingProxyType(series),
            account_arrays=MappingProxyType(accounts),
            totals=MappingProxyType(totals),
            metrics=MappingProxyType(_metrics.fairness(accounts, totals)),
        )

    # ----------------------------------------------------------------- pickling

    def __getstate__(self) -> dict[str, Any]:
        # Read-only mapping proxies do not pickle; plain dicts travel to workers instead,
        # and the DataFrames are rebuilt on the other side when asked for.
        state = {k: v for k, v in self.__dict__.items() if k not in ("series", "accounts")}
        for name in ("series_arrays", "account_arrays", "totals", "metrics"):
            state[name] = dict(state[name])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        for name in ("series_arrays", "account_arrays", "totals", "metrics"):
            state[name] = MappingProxyType(dict(state[name]))
        for name, value in state.items():
            object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        mutualized = int(self.metrics.get("total_mutualized", 0))
        return (
            f"RunResult(scenario={self.scenario!r}, policy={self.policy!r}, seed={self.seed}, "
            f"steps={self.steps}, accounts={self.num_accounts}, "
            f"mutualized={mutualized:,}, seconds={self.seconds:.3f})"
        )


class Comparison(Mapping[str, RunResult]):
    """The runs of several policies on one scenario and seed, keyed by policy label.

    A read-only mapping ``{label: RunResult}`` in the given order.

    Raises:
        InvalidInputError: no runs, or runs of different scenarios or seeds.
    """

    def __init__(self, runs: Mapping[str, RunResult]) -> None:
        if not runs:
            raise InvalidInputError("a comparison needs at least one run")
        ordered = {str(label): run for label, run in runs.items()}
        for label, run in ordered.items():
            if not isinstance(run, RunResult):
                raise InvalidInputError(f"run {label!r} is a {type(run).__name__}, not a RunResult")
        first = next(iter(ordered.values()))
        for label, run in ordered.items():
            if (run.scenario, run.seed) != (first.scenario, first.seed):
                raise InvalidInputError(
                    f"run {label!r} is of scenario {run.scenario!r} seed {run.seed}, the "
                    f"others of {first.scenario!r} seed {first.seed}: compare one scenario"
                )
        self._runs: Mapping[str, RunResult] = MappingProxyType(ordered)

    def __reduce__(self) -> tuple[type[Comparison], tuple[dict[str, RunResult]]]:
        return (type(self), (dict(self._runs),))

    @property
    def runs(self) -> Mapping[str, RunResult]:
        """The runs, ``{label: RunResult}`` (read-only)."""
        return self._runs

    @property
    def scenario(self) -> str:
        """The scenario's name."""
        return next(iter(self._runs.values())).scenario

    @property
    def seed(self) -> int:
        """The scenario's seed."""
        return next(iter(self._runs.values())).seed

    @property
    def metrics(self) -> dict[str, Mapping[str, _metrics.MetricValue]]:
        """``{label: metrics}``: the fairness metrics of each run (no pandas needed)."""
        return {label: run.metrics for label, run in self._runs.items()}

    def __getitem__(self, label: str) -> RunResult:
        return self._runs[label]

    def __iter__(self) -> Iterator[str]:
        return iter(self._runs)

    def __len__(self) -> int:
        return len(self._runs)

    @property
    def table(self) -> pd.DataFrame:
        """One row per policy (index named ``policy``), one column per metric in
        :data:`mutualize.sim.metrics.METRICS` order: int64 for money (minor units) and
        counts, float64 for rates and indices (needs pandas)."""
        pandas = _pandas()
        names_ = [metric.name for metric in _metrics.METRICS]
        rows = [[run.metrics[name] for name in names_] for run in self._runs.values()]
        index = pandas.Index(list(self._runs), name="policy")
        frame: pd.DataFrame = pandas.DataFrame(rows, index=index, columns=names_, dtype=object)
        for metric in _metrics.METRICS:
            dtype = np.float64 if metric.kind in ("rate", "index") else np.int64
            frame[metric.name] = frame[metric.name].astype(dtype)
        return frame

    def to_markdown(self) -> str:
        """The comparison as a Markdown (pipe) table for the terminal: one row per
        metric, one column per policy; money in minor units with thousands separators,
        rates as percentages."""
        return metrics_markdown(list(self._runs), [run.metrics for run in self.values()])

    def __str__(self) -> str:
        return (
            f"scenario {self.scenario!r}, seed {self.seed} (money in minor units)\n"
            + self.to_markdown()
        )

    def __repr__(self) -> str:
        return (
            f"Comparison(scenario={self.scenario!r}, seed={self.seed}, "
            f"policies={list(self._runs)!r})"
        )


def _ordered(columns: Mapping[str, Any], first: tuple[str, ...]) -> dict[str, Array]:
    """``columns`` with the names of ``first`` first (in that order, all required)."""
    lacking = [name for name in first if name not in columns]
    if lacking:
        raise InvalidInputError(f"the engine's output lacks {', '.join(lacking)}")
    rest = [name for name in columns if name not in first]
    return {name: np.asarray(columns[name]) for name in (*first, *rest)}


def _int_array(value: object, name: str, length: int | None) -> npt.NDArray[np.int64]:
    array = np.asarray(value)
    if array.dtype.kind not in "iu":
        raise InvalidInputError(f"{name} must be an integer array, got dtype {array.dtype}")
    if array.ndim != 1:
        raise InvalidInputError(f"{name} must be one-dimensional, got shape {array.shape}")
    if length is not None and array.shape[0] != length:
        raise InvalidInputError(f"{name} has length {array.shape[0]}, expected {length}")
    if array.dtype.kind == "u" and array.size and int(array.max()) > np.iinfo(np.int64).max:
        raise InvalidInputError(f"{name} has values beyond int64")
    return np.array(array, dtype=np.int64)
