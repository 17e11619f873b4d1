"""One grid point of a sweep, as plain picklable data, and the function that runs it
(module level, so that process pools, Dask and Ray can ship it)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from .policies import Policy

__all__ = ["Row", "Task", "run_task"]

# Metrics that measure the machine, not the mechanism: left out of the table so that
# every backend (and every rerun) gives identical rows.
_TIMING_METRICS = frozenset({"seconds", "wall_seconds", "elapsed", "elapsed_seconds"})


class Task(NamedTuple):
    """One grid point, as plain picklable data."""

    number: int  # position in the grid: seeds major, then parameter points
    seed: int
    params: tuple[tuple[str, object], ...]
    policies: list[Policy] | None  # None: the scenario's own


class Row(NamedTuple):
    """One policy's metrics in one task."""

    task: int  # the task's number
    order: int  # the policy's position in the comparison
    policy: str
    metrics: dict[str, object]


def run_task(plain: Mapping[str, Any], task: Task) -> list[Row]:
    """Run one grid point of the scenario ``plain`` (its dict form); keep only metrics."""
    from .engine import compare
    from .scenario import Scenario

    scenario = Scenario.from_dict(plain).with_seed(task.seed)
    if task.params:
        scenario = scenario.with_params(dict(task.params))
    comparison = compare(scenario, task.policies, progress=False)
    return [
        Row(task.number, order, name, _plain_metrics(metrics))
        for order, (name, metrics) in enumerate(_comparison_metrics(comparison))
    ]


def _comparison_metrics(comparison: Any) -> Iterator[tuple[str, Mapping[str, object]]]:
    """(policy label, metrics) of each run of a comparison (a mapping), in its order."""
    for label, result in comparison.items():
        yield str(label), result.metrics


def _plain_metrics(metrics: Mapping[str, object]) -> dict[str, object]:
    """Metrics as plain Python scalars, without the timing ones."""
    plain: dict[str, object] = {}
    for name, value in metrics.items():
        if name in _TIMING_METRICS:
            continue
        item = getattr(value, "item", None)  # numpy scalars -> Python scalars
        plain[str(name)] = item() if callable(item) else value
    return plain
