"""Results of backtests: one run (:class:`RunResult`) and a comparison of policies on
the same scenario (:class:`Comparison`).

A run's raw record, as the engine returns it, is a dict of exact int64 arrays (see
:meth:`RunResult.from_raw`); this module turns it into pandas DataFrames, keeps the
totals as exact Python ints and computes the fairness metrics of
:mod:`mutualize.sim.metrics`.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import InvalidInputError
from . import metrics as _metrics

__all__ = [
    "ACCOUNT_FIELDS",
    "SERIES_FIELDS",
    "TOTAL_FIELDS",
    "Comparison",
    "RunResult",
    "format_metric",
]

#: Per-step series of a raw run record, in column order (int64, values after the step).
SERIES_FIELDS: tuple[str, ...] = (
    "step",
    "insurance_fund",
    "bad_debt",
    "deferred_loss",
    "deficit",
    "paid_insurance",
    "paid_socialized",
    "paid_adl",
    "paid_bad_debt",
    "haircuts",
    "haircut_accounts",
    "liquidations",
    "bankruptcies",
    "adl_fills",
    "adl_lots",
    "open_interest",
)

#: Per-account arrays of a raw run record, in column order (int64).
ACCOUNT_FIELDS: tuple[str, ...] = (
    "account",
    "market",
    "size0",
    "entry",
    "collateral0",
    "equity",
    "haircut",
    "adl_lots",
    "adl_loss",
    "liquidated_step",
    "deficit",
)

#: Totals of a raw run record (exact ints).
TOTAL_FIELDS: tuple[str, ...] = (
    "insurance_fund_start",
    "insurance_fund_end",
    "bad_debt",
    "house_equity",
    "deficit",
    "haircuts",
    "adl_loss",
    "liquidations",
)

# Totals derived from the series when the engine does not report them itself: how the
# run's deficits were covered, per stage kind (minor units).
_PAID_FIELDS: tuple[str, ...] = ("paid_insurance", "paid_socialized", "paid_adl", "paid_bad_debt")

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


@dataclass(frozen=True, eq=False)
class RunResult:
    """One backtest run: a scenario driven through the ledger under one policy.

    Attributes:
        scenario: the scenario's name.
        policy: the policy's (waterfall configuration's) name.
        seed: the scenario's seed.
        seconds: wall time of the run, seconds.
        market_names: one name per market.
        series: one row per price step, indexed by ``step``: the int64 columns of
            :data:`SERIES_FIELDS` (values after the step; money in minor units) and one
            ``mark_<market>`` column per market (ticks).
        accounts: one row per account (the house excluded): the int64 columns of
            :data:`ACCOUNT_FIELDS`, plus ``profit`` (int64, minor units: ``equity +
            haircut + adl_loss - collateral0``, the profit before loss-sharing) and
            ``haircut_rate`` (float: ``(haircut + adl_loss) / profit`` for winners,
            else 0).
        totals: exact ints: :data:`TOTAL_FIELDS`, plus ``paid_insurance``,
            ``paid_socialized``, ``paid_adl`` and ``paid_bad_debt`` (sums of the series)
            when the engine did not report them.
        metrics: the fairness metrics (:func:`mutualize.sim.metrics.fairness`).
    """

    scenario: str
    policy: str
    seed: int
    seconds: float
    market_names: tuple[str, ...]
    series: pd.DataFrame = field(repr=False)
    accounts: pd.DataFrame = field(repr=False)
    totals: Mapping[str, int] = field(repr=False)
    metrics: Mapping[str, _metrics.MetricValue] = field(repr=False)

    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> RunResult:
        """Build a result from the engine's raw run record.

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
        if len(set(market_names)) != len(market_names):
            raise InvalidInputError(f"market names repeat: {market_names}")
        series = _series_frame(raw["series"], market_names)
        accounts = _accounts_frame(raw["accounts"])
        totals = _totals(raw["totals"], series)
        return cls(
            scenario=str(raw["scenario"]),
            policy=str(raw["policy"]),
            seed=int(raw["seed"]),
            seconds=float(raw["seconds"]),
            market_names=market_names,
            series=series,
            accounts=accounts,
            totals=MappingProxyType(totals),
            metrics=MappingProxyType(_metrics.fairness(accounts, totals)),
        )

    @property
    def steps(self) -> int:
        """Number of price steps."""
        return len(self.series)

    @property
    def num_accounts(self) -> int:
        """Number of accounts (the house not counted)."""
        return len(self.accounts)

    def to_parquet(self, folder: str | os.PathLike[str]) -> Path:
        """Write ``series.parquet``, ``accounts.parquet`` and ``run.json`` (scenario,
        policy, seed, seconds, market names, totals and metrics) into ``folder``
        (created) and return its path. Each file is written under a temporary name and
        renamed once all are written, so a failure leaves none of them half-written.
        :meth:`from_parquet` reads them back."""
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
        with _StagedFiles(target) as stage:
            self.series.to_parquet(stage("series.parquet"))
            self.accounts.to_parquet(stage("accounts.parquet"), index=False)
            stage("run.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return target

    @classmethod
    def from_parquet(cls, folder: str | os.PathLike[str]) -> RunResult:
        """Read a run written by :meth:`to_parquet`."""
        source = Path(folder)
        meta = json.loads((source / "run.json").read_text(encoding="utf-8"))
        series = pd.read_parquet(source / "series.parquet")
        accounts = pd.read_parquet(source / "accounts.parquet")
        totals = {str(k): int(v) for k, v in meta["totals"].items()}
        return cls(
            scenario=str(meta["scenario"]),
            policy=str(meta["policy"]),
            seed=int(meta["seed"]),
            seconds=float(meta["seconds"]),
            market_names=tuple(str(m) for m in meta["market_names"]),
            series=series,
            accounts=accounts,
            totals=MappingProxyType(totals),
            metrics=MappingProxyType(_metrics.fairness(accounts, totals)),
        )

    def __getstate__(self) -> dict[str, Any]:
        # Read-only mapping proxies do not pickle; plain dicts travel to workers instead.
        state = dict(self.__dict__)
        state["totals"] = dict(self.totals)
        state["metrics"] = dict(self.metrics)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        state["totals"] = MappingProxyType(dict(state["totals"]))
        state["metrics"] = MappingProxyType(dict(state["metrics"]))
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
        counts, float64 for rates and indices."""
        names = [metric.name for metric in _metrics.METRICS]
        rows = [[run.metrics[name] for name in names] for run in self._runs.values()]
        index = pd.Index(list(self._runs), name="policy")
        frame: pd.DataFrame = pd.DataFrame(rows, index=index, columns=names, dtype=object)
        for metric in _metrics.METRICS:
            dtype = np.float64 if metric.kind in ("rate", "index") else np.int64
            frame[metric.name] = frame[metric.name].astype(dtype)
        return frame

    def to_markdown(self) -> str:
        """The comparison as a Markdown (pipe) table for the terminal: one row per
        metric, one column per policy; money in minor units with thousands separators,
        rates as percentages."""
        header = ["metric", *self._runs]
        rows = [
            [
                metric.label,
                *(format_metric(metric.name, run.metrics[metric.name]) for run in self.values()),
            ]
            for metric in _metrics.METRICS
        ]
        widths = [max(3, *(len(row[i]) for row in [header, *rows])) for i in range(len(header))]
        lines = [
            _pipe_row(header, widths, numeric=False),
            "| " + " | ".join(["-" * widths[0], *("-" * (w - 1) + ":" for w in widths[1:])]) + " |",
        ]
        lines += [_pipe_row(row, widths, numeric=True) for row in rows]
        return "\n".join(lines)

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

    def to_report(self, folder: str | os.PathLike[str], *, title: str | None = None) -> Path:
        """Write ``report.html`` and its PNG plots into ``folder``; return the HTML's
        path (see :func:`mutualize.sim.report.write_report`)."""
        from .report import write_report

        return write_report(self, folder, title=title)


def format_metric(name: str, value: _metrics.MetricValue) -> str:
    """A metric's value as text: money and counts with thousands separators, rates as
    percentages, indices with three decimals."""
    kind = next((m.kind for m in _metrics.METRICS if m.name == name), None)
    if kind == "rate":
        return f"{float(value):.2%}"
    if kind == "index":
        return f"{float(value):.3f}"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    return f"{float(value):,.4g}"


def _pipe_row(cells: list[str], widths: list[int], *, numeric: bool) -> str:
    parts = [cells[0].ljust(widths[0])]
    parts += [
        cell.rjust(width) if numeric else cell.ljust(width)
        for cell, width in zip(cells[1:], widths[1:], strict=True)
    ]
    return "| " + " | ".join(parts) + " |"


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
    return array.astype(np.int64, copy=False)


def _series_frame(raw: Mapping[str, object], market_names: tuple[str, ...]) -> pd.DataFrame:
    missing = [key for key in (*SERIES_FIELDS, "marks") if key not in raw]
    if missing:
        raise InvalidInputError(f"the run's series lack {', '.join(missing)}")
    step = _int_array(raw["step"], "series.step", None)
    steps = int(step.shape[0])
    columns: dict[str, npt.NDArray[np.int64]] = {}
    extras = [key for key in raw if key not in SERIES_FIELDS and key != "marks"]
    for key in (*SERIES_FIELDS[1:], *extras):
        columns[key] = _int_array(raw[key], f"series.{key}", steps)
    marks = np.asarray(raw["marks"])
    if marks.dtype.kind not in "iu":
        raise InvalidInputError(f"series.marks must be integer ticks, got dtype {marks.dtype}")
    if marks.shape != (steps, len(market_names)):
        raise InvalidInputError(
            f"series.marks must have shape ({steps}, {len(market_names)}), got {marks.shape}"
        )
    for column, name in enumerate(market_names):
        columns[f"mark_{name}"] = marks[:, column].astype(np.int64)
    frame: pd.DataFrame = pd.DataFrame(columns, index=pd.Index(step, name="step"))
    return frame


def _accounts_frame(raw: Mapping[str, object]) -> pd.DataFrame:
    missing = [key for key in ACCOUNT_FIELDS if key not in raw]
    if missing:
        raise InvalidInputError(f"the run's accounts lack {', '.join(missing)}")
    length = int(_int_array(raw["account"], "accounts.account", None).shape[0])
    extras = [key for key in raw if key not in ACCOUNT_FIELDS]
    columns = {
        key: _int_array(raw[key], f"accounts.{key}", length) for key in (*ACCOUNT_FIELDS, *extras)
    }
    frame: pd.DataFrame = pd.DataFrame(columns)
    frame["profit"] = _metrics.profit(frame)
    frame["haircut_rate"] = _metrics.haircut_rate(frame)
    return frame


def _totals(raw: Mapping[str, object], series: pd.DataFrame) -> dict[str, int]:
    missing = [key for key in TOTAL_FIELDS if key not in raw]
    if missing:
        raise InvalidInputError(f"the run's totals lack {', '.join(missing)}")
    totals: dict[str, int] = {}
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise InvalidInputError(f"totals.{key} must be an int, got {type(value).__name__}")
        totals[str(key)] = int(value)
    for key in _PAID_FIELDS:
        if key not in totals:
            totals[key] = _metrics.exact_sum(series[key].to_numpy(dtype=np.int64))
    return totals


class _StagedFiles:
    """Write files under temporary names in ``folder``; rename them all on success,
    delete them on failure."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pending: list[tuple[Path, Path]] = []

    def __call__(self, name: str) -> Path:
        # A unique hidden name, created by the writer itself so the file gets the usual
        # permissions (mkstemp's would be owner-only).
        temp = self.folder / f".{name}.{uuid.uuid4().hex[:12]}.part"
        self.pending.append((temp, self.folder / name))
        return temp

    def __enter__(self) -> _StagedFiles:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        try:
            if kind is None:
                for temp, final in self.pending:
                    os.replace(temp, final)
        finally:
            # After a failure (or a failed rename) no temporary file stays behind.
            for temp, _ in self.pending:
                temp.unlink(missing_ok=True)
