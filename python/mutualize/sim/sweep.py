"""Sweeps: one scenario over many seeds and parameter values, on any backend.

The grid is every seed crossed with the product of the parameter values. Each grid
point is one task: ``compare(scenario.with_seed(seed).with_params(params), policies)``,
which sends back only its metrics (one small dict per policy), never the engine's
arrays. Tasks run on a local process pool (the default), a thread pool (the compiled
engine releases the GIL), a Dask cluster or a Ray cluster; the rows are sorted by
(seed, parameter point, policy), so every backend gives the same table.

The tasks and where they run are in :mod:`mutualize.sim.tasks` and
:mod:`mutualize.sim.executors`. Sweeps need pandas (``pip install 'mutualize[sim]'``);
Dask and Ray are optional: ``pip install 'mutualize[dask]'`` or ``'mutualize[ray]'``.
"""

from __future__ import annotations

import itertools
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .._extras import require
from ..errors import InvalidInputError
from .executors import RUNNERS, BackendUnavailableError, Bar
from .tasks import Row, Task

if TYPE_CHECKING:
    import pandas as pd

    from .policies import Policy
    from .scenario import Scenario

__all__ = ["BACKENDS", "Backend", "BackendUnavailableError", "SweepResult", "sweep"]

Backend = Literal["local", "threads", "dask", "ray"]
BACKENDS: tuple[str, ...] = ("local", "threads", "dask", "ray")

_KEY_COLUMNS = ("seed", "policy")


@dataclass(frozen=True, eq=False)
class SweepResult:
    """The metrics of every (seed, parameter point, policy) of a sweep.

    Attributes:
        table: one row per task and policy: ``seed``, one column per swept parameter
            (named by its dotted key, e.g. ``population.count``), ``policy``, then one
            column per metric (units as in :attr:`RunResult.metrics`). Sorted by seed
            (ascending), parameter point (the values in the order given, the last
            parameter varying fastest) and policy (in comparison order).
        params: the swept parameter keys, in column order.
        metrics: the metric column names.
        backend: the backend that ran it.
        seconds: wall time of the whole sweep, seconds.
        tasks: grid points run (seeds x parameter points); each compared the policies.
    """

    table: pd.DataFrame
    params: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    backend: str = "local"
    seconds: float = 0.0
    tasks: int = 0

    def summary(self, quantiles: Sequence[float] = (0.05, 0.5, 0.95)) -> pd.DataFrame:
        """Statistics of each numeric metric over the seeds, per parameter point and policy.

        Returns a DataFrame indexed by (parameters..., ``policy``, ``metric``) with
        columns ``runs``, ``mean``, ``std``, ``min``, one ``pNN`` per quantile and ``max``.
        """
        import pandas as pd

        for q in quantiles:
            if not 0.0 <= q <= 1.0:
                raise InvalidInputError(f"quantiles must lie in [0, 1], got {q!r}")
        keys = [*self.params, "policy"]
        numeric = [
            m
            for m in self.metrics
            if pd.api.types.is_numeric_dtype(self.table[m])
            or pd.api.types.is_bool_dtype(self.table[m])
        ]
        columns = ["runs", "mean", "std", "min", *(_quantile_label(q) for q in quantiles), "max"]
        values = self.table[keys + numeric].astype({m: "float64" for m in numeric})
        records: list[tuple[object, ...]] = []
        # Groups in order of first appearance: the grid's order, then the comparison's.
        for key, group in values.groupby(keys, sort=False, dropna=False):
            point = key if isinstance(key, tuple) else (key,)
            for metric in numeric:
                column = group[metric]
                records.append(
                    (
                        *point,
                        metric,
                        int(column.count()),
                        column.mean(),
                        column.std(),
                        column.min(),
                        *(column.quantile(q) for q in quantiles),
                        column.max(),
                    )
                )
        frame = pd.DataFrame.from_records(records, columns=[*keys, "metric", *columns])
        summary: pd.DataFrame = frame.set_index([*keys, "metric"])
        return summary

    def to_parquet(self, path: str | os.PathLike[str]) -> Path:
        """Write :attr:`table` to a Parquet file (atomically: all of it or nothing)."""
        return _atomic_write(Path(path), lambda tmp: self.table.to_parquet(tmp, index=False))

    def to_csv(self, path: str | os.PathLike[str]) -> Path:
        """Write :attr:`table` to a CSV file (atomically: all of it or nothing)."""
        return _atomic_write(Path(path), lambda tmp: self.table.to_csv(tmp, index=False))

    def __len__(self) -> int:
        return len(self.table)

    def __str__(self) -> str:
        head = (
            f"sweep: {self.tasks} tasks, {len(self.table)} runs on {self.backend} "
            f"in {self.seconds:.1f} s (money in minor units)"
        )
        return head + "\n" + self.summary().to_string(float_format=_format_float)


def sweep(
    scenario: Scenario,
    *,
    seeds: Iterable[int],
    params: Mapping[str, Sequence[object]] | None = None,
    policies: Sequence[Policy | str] | None = None,
    backend: Backend | str = "local",
    workers: int | None = None,
    address: str | None = None,
    progress: bool | None = None,
) -> SweepResult:
    """Run ``scenario`` over every seed crossed with every combination of ``params``.

    Args:
        scenario: a :class:`~mutualize.sim.Scenario`.
        seeds: the random seeds (distinct non-negative integers).
        params: parameter key (dotted, as for ``Scenario.with_params``, e.g.
            ``"population.count"``) -> the values to try. The grid is their product.
        policies: the policies each task compares: ``Policy`` objects or names (a
            scenario's policy of that name, else the preset of ``policy(name)``);
            ``None``: the scenario's own.
        backend: ``"local"`` (a process pool; the default), ``"threads"`` (a thread pool:
            the compiled engine releases the GIL), ``"dask"`` (``dask.distributed``) or
            ``"ray"``.
        workers: processes or threads (local, threads, a local Dask or Ray cluster);
            ``None``: the number of cores, at most the number of tasks.
        address: the Dask scheduler or Ray cluster address; ``None`` starts a local one
            for the sweep and stops it afterwards.
        progress: ``True`` shows a progress bar, ``False`` hides it, ``None`` shows it
            when standard error is a terminal.

    Returns:
        A :class:`SweepResult`; its table is identical on every backend.

    Raises:
        InvalidInputError: no seeds, a repeated or negative seed, an empty parameter
            list, an unknown backend or a bad worker count.
        ScenarioError: a parameter the scenario does not accept, or an unknown policy
            name (checked before any task runs).
        BackendUnavailableError: Dask or Ray is not installed.

    With the local backend, call it under ``if __name__ == "__main__":`` in a script:
    the workers are started fresh (spawned) and import the main module.
    """
    started = time.perf_counter()
    require("pandas", "sweeps", "sim")
    if backend not in BACKENDS:
        raise InvalidInputError(f"backend must be one of {', '.join(BACKENDS)}; got {backend!r}")
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise InvalidInputError(f"workers must be a positive integer, got {workers!r}")
    seed_list = sorted(_check_seeds(seeds))
    grid = _check_params(params)
    keys = tuple(params) if params else ()
    for point in grid:  # fail before starting any worker, naming the bad parameter
        if point:
            scenario.with_params(dict(point))
    policy_arg = _resolve_policies(scenario, policies)
    # Plain data: it pickles anywhere (a scenario's data files are absolute paths in it).
    plain = scenario.to_dict()
    tasks = [
        Task(number, seed, point, policy_arg)
        for number, (seed, point) in enumerate(itertools.product(seed_list, grid))
    ]
    runner = RUNNERS[backend]
    bar = _progress_bar(len(tasks), progress)
    try:
        rows = runner(plain, tasks, workers, address, bar)
    finally:
        bar.close()
    table = _table(tasks, rows, keys)
    metrics = tuple(c for c in table.columns if c not in (*_KEY_COLUMNS, *keys))
    return SweepResult(
        table=table,
        params=keys,
        metrics=metrics,
        backend=str(backend),
        seconds=time.perf_counter() - started,
        tasks=len(tasks),
    )


# --- checks and assembly -------------------------------------------------------------


def _check_seeds(seeds: Iterable[int]) -> list[int]:
    if isinstance(seeds, (str, bytes)):
        raise InvalidInputError(f"seeds must be integers, got the string {seeds!r}")
    seed_list: list[int] = []
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int):
            index = getattr(seed, "__index__", None)
            if isinstance(seed, bool) or index is None:
                raise InvalidInputError(f"seeds must be integers, got {seed!r}")
            seed = index()
        if seed < 0:
            raise InvalidInputError(f"seeds must be >= 0, got {seed}")
        seed_list.append(int(seed))
    if not seed_list:
        raise InvalidInputError("seeds is empty: give at least one seed")
    if len(set(seed_list)) != len(seed_list):
        repeated = sorted({s for s in seed_list if seed_list.count(s) > 1})
        raise InvalidInputError(f"seeds must be distinct; repeated: {repeated}")
    return seed_list


def _resolve_policies(
    scenario: Scenario, policies: Sequence[Policy | str] | None
) -> list[Policy] | None:
    """Names -> the scenario's policy of that name, else the preset (checked up front)."""
    if policies is None:
        return None
    if isinstance(policies, (str, bytes)):
        raise InvalidInputError(f"policies must be a list of policies, got {policies!r}")
    from .policies import policy

    own = {p.name: p for p in scenario.policies}
    resolved: list[Policy] = []
    for item in policies:
        if isinstance(item, str):
            resolved.append(own[item] if item in own else policy(item))
        else:
            resolved.append(item)
    if not resolved:
        raise InvalidInputError("policies is empty: give at least one, or None for the scenario's")
    return resolved


def _check_params(
    params: Mapping[str, Sequence[object]] | None,
) -> list[tuple[tuple[str, object], ...]]:
    """Every combination of the parameter values, in grid order (the last key fastest)."""
    if not params:
        return [()]
    axes: list[list[tuple[str, object]]] = []
    for key, values in params.items():
        if not isinstance(key, str) or not key:
            raise InvalidInputError(f"parameter names must be non-empty strings, got {key!r}")
        if key in _KEY_COLUMNS:
            raise InvalidInputError(f"{key!r} cannot be swept as a parameter; use seeds")
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
            raise InvalidInputError(f"parameter {key!r}: expected a list of values, got {values!r}")
        value_list = list(values)
        if not value_list:
            raise InvalidInputError(f"parameter {key!r} has no values")
        axes.append([(key, v) for v in value_list])
    return list(itertools.product(*axes))


def _table(tasks: list[Task], rows: list[Row], keys: tuple[str, ...]) -> pd.DataFrame:
    import pandas as pd

    by_number = {t.number: t for t in tasks}
    ordered = sorted(rows, key=lambda r: (r.task, r.order))
    records: list[dict[str, object]] = []
    for row in ordered:
        task = by_number[row.task]
        record: dict[str, object] = {"seed": task.seed}
        record.update(dict(task.params))
        record["policy"] = row.policy
        for name, value in row.metrics.items():
            if name in record:
                raise InvalidInputError(f"metric {name!r} has the name of a sweep column")
            record[name] = value
        records.append(record)
    columns = ["seed", *keys, "policy"]
    for record in records:
        for name in record:
            if name not in columns:
                columns.append(name)
    table: pd.DataFrame = pd.DataFrame.from_records(records, columns=columns)
    return table


def _atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    """Write to a temporary file beside ``path``, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _quantile_label(q: float) -> str:
    percent = q * 100
    return f"p{percent:g}" if not percent.is_integer() else f"p{int(percent)}"


def _format_float(value: float) -> str:
    """Large values (money, counts) as whole numbers with separators, small ones to four
    significant digits (rates, indices, small means)."""
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 1e15:
        return f"{value:.4g}"
    if abs(value) >= 1_000 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.4g}"


def _progress_bar(total: int, progress: bool | None) -> Bar:
    """A bar over ``total`` tasks (see :func:`sweep`'s ``progress``)."""
    from .progress import progress_bar

    return progress_bar(total, enabled=progress, desc="sweep", unit="task")
