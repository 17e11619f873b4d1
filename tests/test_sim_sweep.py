"""Sweeps: the grid, the table and its summary, and every backend giving the same rows."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import mutualize.sim
from mutualize.errors import InvalidInputError
from mutualize.sim import (
    BackendUnavailableError,
    Scenario,
    ScenarioError,
    SweepResult,
    compare,
    sweep,
)
from tests.scenarios import TINY

SEEDS = (2, 1)  # given unsorted: the table sorts them
PARAMS = {"population.count": [150, 250]}
POLICIES = ("pro_rata", "bitmex_adl")


@pytest.fixture(scope="module")
def tiny() -> Scenario:
    return Scenario.from_toml_text(TINY)


@pytest.fixture(scope="module")
def local_result(tiny: Scenario) -> SweepResult:
    # Named policies resolve to Policy objects, which then travel to the worker processes.
    policies = list(POLICIES)
    return sweep(tiny, seeds=SEEDS, params=PARAMS, policies=policies, workers=2, progress=False)


@pytest.fixture(scope="module")
def dask_address() -> Iterator[str]:
    distributed: Any = pytest.importorskip("distributed")
    # One worker process of its own, so tasks and rows really cross a process boundary.
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=2,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
    ) as cluster:
        yield cluster.scheduler_address


def test_table_has_one_row_per_seed_point_and_policy(local_result: SweepResult) -> None:
    table = local_result.table
    assert list(table.columns[:3]) == ["seed", "population.count", "policy"]
    assert len(table) == len(SEEDS) * 2 * len(POLICIES) == 8
    assert local_result.tasks == 4
    assert local_result.params == ("population.count",)
    # Sorted by seed, then the parameter point in the order given, then the policy.
    assert table["seed"].tolist() == [1] * 4 + [2] * 4
    assert table["population.count"].tolist() == [150, 150, 250, 250] * 2
    assert table["policy"].tolist() == list(POLICIES) * 4
    assert "total_mutualized" in local_result.metrics
    assert "seconds" not in table.columns  # wall time would differ between backends
    assert set(local_result.metrics) == set(table.columns[3:])


def test_rows_are_the_comparisons_metrics(tiny: Scenario, local_result: SweepResult) -> None:
    direct = compare(tiny.with_seed(2).with_params({"population.count": 250}))
    table = local_result.table
    rows = table[(table["seed"] == 2) & (table["population.count"] == 250)]
    for _, row in rows.iterrows():
        expected = direct[row["policy"]].metrics
        for name in local_result.metrics:
            assert row[name] == pytest.approx(expected[name], nan_ok=True), name
    # Losses were shared, and different seeds and sizes are different runs, not copies.
    assert (table["total_mutualized"] > 0).all()
    assert table["total_mutualized"].nunique() == len(table)


def test_threads_backend_gives_the_same_table(tiny: Scenario, local_result: SweepResult) -> None:
    threads = sweep(tiny, seeds=SEEDS, params=PARAMS, backend="threads", workers=2)
    assert threads.backend == "threads"
    pd.testing.assert_frame_equal(threads.table, local_result.table)


def test_dask_cluster_gives_the_same_table(
    tiny: Scenario, local_result: SweepResult, dask_address: str
) -> None:
    on_dask = sweep(tiny, seeds=SEEDS, params=PARAMS, backend="dask", address=dask_address)
    pd.testing.assert_frame_equal(on_dask.table, local_result.table)


def test_dask_without_address_starts_and_stops_its_own_cluster(
    tiny: Scenario, local_result: SweepResult
) -> None:
    pytest.importorskip("distributed")
    on_dask = sweep(tiny, seeds=[1], params=PARAMS, backend="dask", workers=2)
    expected = local_result.table[local_result.table["seed"] == 1].reset_index(drop=True)
    pd.testing.assert_frame_equal(on_dask.table, expected)


def test_ray_gives_the_same_table(tiny: Scenario, local_result: SweepResult) -> None:
    pytest.importorskip("ray")
    on_ray = sweep(tiny, seeds=SEEDS, params=PARAMS, backend="ray", workers=2)
    pd.testing.assert_frame_equal(on_ray.table, local_result.table)


def test_policies_argument_selects_the_runs(tiny: Scenario) -> None:
    result = sweep(tiny, seeds=[5], policies=["equal_award"], backend="threads")
    assert result.table["policy"].tolist() == ["equal_award"]
    assert result.params == ()
    assert list(result.table.columns[:2]) == ["seed", "policy"]


def test_summary_statistics_over_the_seeds(local_result: SweepResult) -> None:
    summary = local_result.summary(quantiles=(0.5,))
    assert summary.index.names == ["population.count", "policy", "metric"]
    assert list(summary.columns) == ["runs", "mean", "std", "min", "p50", "max"]
    # One row per parameter point, policy and numeric metric, in table order.
    assert len(summary) == 2 * len(POLICIES) * len(local_result.metrics)
    assert summary.index[0] == (150, "pro_rata", local_result.metrics[0])
    assert (summary["runs"] == len(SEEDS)).all()
    table = local_result.table
    values = table[(table["population.count"] == 250) & (table["policy"] == "bitmex_adl")]
    row = summary.xs((250, "bitmex_adl", "total_mutualized"))
    assert row["mean"] == pytest.approx(values["total_mutualized"].mean())
    assert row["min"] == values["total_mutualized"].min()
    assert row["max"] == values["total_mutualized"].max()
    assert "total_mutualized" in str(local_result)
    with pytest.raises(InvalidInputError, match="quantiles"):
        local_result.summary(quantiles=(1.5,))


def test_parquet_and_csv_round_trip(local_result: SweepResult, tmp_path: Path) -> None:
    parquet = local_result.to_parquet(tmp_path / "deep" / "sweep.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(parquet), local_result.table)
    csv = local_result.to_csv(tmp_path / "sweep.csv")
    pd.testing.assert_frame_equal(pd.read_csv(csv), local_result.table, check_dtype=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep", "sweep.csv"]  # no temp left


@pytest.mark.parametrize(
    ("seeds", "message"),
    [
        ([], "empty"),
        ([1, 2, 1], "repeated"),
        ([-1], ">= 0"),
        ([1.5], "integers"),
        ([True], "integers"),
        ("12", "string"),
    ],
)
def test_bad_seeds_are_refused(tiny: Scenario, seeds: Any, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        sweep(tiny, seeds=seeds, backend="threads")


def test_bad_options_are_refused_before_any_run(tiny: Scenario) -> None:
    with pytest.raises(InvalidInputError, match="backend"):
        sweep(tiny, seeds=[1], backend="spark")
    with pytest.raises(InvalidInputError, match="workers"):
        sweep(tiny, seeds=[1], workers=0)
    with pytest.raises(InvalidInputError, match=r"population\.count"):
        sweep(tiny, seeds=[1], params={"population.count": []})
    with pytest.raises(InvalidInputError, match="list of values"):
        sweep(tiny, seeds=[1], params={"population.count": 100})  # type: ignore[dict-item]
    with pytest.raises(InvalidInputError, match="seed"):
        sweep(tiny, seeds=[1], params={"seed": [1, 2]})
    with pytest.raises(ScenarioError, match="nope"):
        sweep(tiny, seeds=[1], policies=["pro_rata", "nope"])
    with pytest.raises(InvalidInputError, match="empty"):
        sweep(tiny, seeds=[1], policies=[])
    # An unknown key is named before any worker starts.
    with pytest.raises(ScenarioError, match=r"population\.cont"):
        sweep(tiny, seeds=[1], params={"population.cont": [100]}, backend="local")


def test_missing_optional_backends_say_what_to_install(
    tiny: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # makes the import fail
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(BackendUnavailableError, match=r"mutualize\[dask\]"):
        sweep(tiny, seeds=[1], backend="dask")
    with pytest.raises(BackendUnavailableError, match=r"mutualize\[ray\]"):
        sweep(tiny, seeds=[1], backend="ray")


def test_package_attribute_is_the_function_not_the_module() -> None:
    # The submodule shares the function's name; importing it must not shadow the function.
    module = importlib.import_module("mutualize.sim.sweep")
    assert mutualize.sim.sweep is sweep is module.sweep
    assert callable(mutualize.sim.sweep)
    for name in mutualize.sim.__all__:
        assert getattr(mutualize.sim, name) is not None
