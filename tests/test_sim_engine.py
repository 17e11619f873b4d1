"""The compiled backtest engine through its Python face: determinism, the index against
the naive scan, the stage totals adding up, bad input, progress and interruption."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mutualize.errors import InvalidInputError
from mutualize.sim import Scenario, compare, run
from mutualize.sim.engine import run_inputs
from mutualize.sim.scenario import POLICY_NAMES, Policy, policy
from mutualize.waterfall import InsuranceFund, Socialize, Waterfall

STAGE_COLUMNS = ("paid_insurance", "paid_socialized", "paid_adl", "paid_bad_debt")


def small(seed: int = 7, **changes: Any) -> Scenario:
    """A two-market crash with a thin insurance fund: every policy has losses to share."""
    params: dict[str, object] = {
        "population.count": 600,
        "path.steps": 300,
        "path.crash_step": 80,
        "path.crash_length": 10,
        "execution.impact_bps": 10,
        "insurance_fund": 1_000_000,
    }
    params.update(changes)
    return Scenario.demo().with_params(params).with_seed(seed)


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return small()


def test_same_seed_same_result(scenario: Scenario) -> None:
    a = run(scenario, "pro_rata", progress=False)
    b = run(scenario, "pro_rata", progress=False)
    pd.testing.assert_frame_equal(a.series, b.series)
    pd.testing.assert_frame_equal(a.accounts, b.accounts)
    assert a.totals == b.totals
    c = run(scenario.with_seed(8), "pro_rata", progress=False)
    assert not a.accounts["equity"].equals(c.accounts["equity"])


@pytest.mark.parametrize("name", POLICY_NAMES)
@pytest.mark.parametrize("granularity", ["step", "bankruptcy"])
def test_index_finds_what_the_naive_scan_finds(
    scenario: Scenario, name: str, granularity: str
) -> None:
    chosen = policy(name, granularity=granularity, session_steps=100)
    inputs = scenario.build(chosen)
    fast = run_inputs(inputs, chosen, progress=False, scan="index")
    slow = run_inputs(inputs, chosen, progress=False, scan="every")
    pd.testing.assert_frame_equal(fast.series, slow.series)
    pd.testing.assert_frame_equal(fast.accounts, slow.accounts)
    assert fast.totals == slow.totals
    assert fast.totals["liquidations"] > 0


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_every_deficit_is_paid_by_a_stage(scenario: Scenario, name: str) -> None:
    result = run(scenario, policy(name, session_steps=50), progress=False)
    s = result.series
    paid = sum(int(s[c].sum()) for c in STAGE_COLUMNS)
    assert paid == int(s["deficit"].sum()) == result.totals["deficit"]
    assert result.totals["deficit"] > 0, "the scenario must produce losses to share"
    # The cumulative bad debt is the bad-debt stage's running total.
    assert int(s["bad_debt"].iloc[-1]) == int(s["paid_bad_debt"].sum())
    # Every haircut is a trader's or the house's.
    traders = int(result.accounts["haircut"].sum())
    assert traders + result.totals["house_haircut"] == int(s["haircuts"].sum())
    assert result.metrics["house_haircut"] == result.totals["house_haircut"] >= 0
    liquidated = result.accounts["liquidated_step"] >= 0
    assert int(liquidated.sum()) == result.totals["liquidations"] or name.endswith("adl")


def test_step_and_bankruptcy_granularity_agree_when_claims_stay_put() -> None:
    # Pro-rata haircuts compose over claims that only the haircuts move. With base
    # "equity", no penalty and no slippage a liquidation trades at the mark and moves no
    # one's equity, so one pooled allocation per step equals one per bankruptcy up to a
    # unit per account per allocation. (Under "unrealized_pnl" the backstop's trades
    # realize its PnL, which moves its claim within the step.)
    still: dict[str, Any] = {
        "execution.slippage_bps": 0,
        "execution.impact_bps": 0,
        "market.0.penalty_bps": 0,
        "market.1.penalty_bps": 0,
        "population.count": 400,
        "path.crash_depth": 0.3,
    }
    scenario = small(**still)
    waterfall = Waterfall(stages=(InsuranceFund(), Socialize(base="equity")))
    pooled = run(scenario, Policy("equity", waterfall, granularity="step"), progress=False)
    single = run(scenario, Policy("equity", waterfall, granularity="bankruptcy"), progress=False)
    if not pooled.accounts["liquidated_step"].equals(single.accounts["liquidated_step"]):
        pytest.skip("a haircut liquidated someone within a step: the paths differ")
    assert int(single.series["bankruptcies"].max()) > 1, "several bankruptcies in a step"
    # Rounding is under a unit per account per allocation. A deficit differs only by the
    # rounding of the haircuts its account took while it still had equity, and what is
    # socialized differs by the deficits.
    allocations = int(single.series["bankruptcies"].sum())
    assert single.totals["deficit"] > 0
    difference = (pooled.accounts["haircut"] - single.accounts["haircut"]).abs()
    assert int(difference.max()) <= allocations
    carried = int(difference[single.accounts["deficit"] > 0].sum())
    gap = abs(pooled.totals["deficit"] - single.totals["deficit"])
    assert gap <= carried
    total = int(pooled.series["haircuts"].sum()) - int(single.series["haircuts"].sum())
    assert abs(total) <= gap


def test_compare_runs_every_policy_on_the_same_population(scenario: Scenario) -> None:
    comparison = compare(scenario, progress=False)
    assert list(comparison.table.index) == list(scenario.policy_names)
    deficits = {r.totals["liquidations"] for r in comparison.runs.values()}
    assert len(deficits) >= 1
    collateral = [r.accounts["collateral0"] for r in comparison.runs.values()]
    for c in collateral[1:]:
        assert c.equals(collateral[0])


def test_bad_inputs_are_refused_with_the_field_named(scenario: Scenario) -> None:
    inputs = scenario.build()
    with pytest.raises(InvalidInputError, match="scan"):
        run_inputs(inputs, "pro_rata", scan="sideways")
    with pytest.raises(InvalidInputError, match="no_such_policy"):
        run_inputs(inputs, "no_such_policy")
    # Inputs are checked once, when they are made: the engines trust them.
    with pytest.raises(InvalidInputError, match="prices"):
        replace(inputs, prices=np.zeros_like(inputs.prices))
    with pytest.raises(InvalidInputError, match="size"):
        replace(inputs, size=inputs.size[:-1])
    with pytest.raises(InvalidInputError, match="EngineInputs"):
        run_inputs(object(), "pro_rata")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="granularity"):
        Policy("x", granularity="hourly")


def test_progress_reaches_the_last_step_and_an_error_stops_the_run(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mutualize.sim import engine

    seen: list[int] = []

    class Bar:
        def __enter__(self) -> Bar:
            return self

        def __exit__(self, *args: object) -> None:
            return None

        def update(self, n: int) -> None:
            seen.append(n)

    monkeypatch.setattr(engine, "progress_bar", lambda *a, **k: Bar())
    result = run(scenario, "pro_rata", progress=True)
    assert sum(seen) == len(result.series) == scenario.steps

    class Interrupted(Bar):
        def update(self, n: int) -> None:
            raise KeyboardInterrupt

    monkeypatch.setattr(engine, "progress_bar", lambda *a, **k: Interrupted())
    with pytest.raises(KeyboardInterrupt):
        run(scenario, "pro_rata", progress=True)


def test_runs_in_threads_give_the_same_results(scenario: Scenario) -> None:
    # The engine releases the GIL; runs share nothing.
    inputs = scenario.build()
    expected = run_inputs(inputs, "equal_award", progress=False)
    results: list[Any] = [None] * 4

    def work(i: int) -> None:
        results[i] = run_inputs(inputs, "equal_award", progress=False)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        pd.testing.assert_frame_equal(r.accounts, expected.accounts)


def test_compare_on_the_reference_backend_gives_the_same_table() -> None:
    # The fallback engine (pure Python, independent of the Rust) agrees to the unit.
    tiny = small(**{"population.count": 60, "path.steps": 120, "path.crash_step": 40})
    compiled = compare(tiny, progress=False, backend="rust")
    reference = compare(tiny, progress=False, backend="python")
    pd.testing.assert_frame_equal(compiled.table, reference.table)
    for name, run_ in compiled.runs.items():
        pd.testing.assert_frame_equal(run_.accounts, reference.runs[name].accounts)
