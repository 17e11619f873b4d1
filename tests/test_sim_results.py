"""RunResult, Comparison and the fairness metrics, on synthetic raw run records.

``raw_run`` builds a plausible, self-consistent raw record (the engine's output
contract) without the engine: a crash at one step bankrupts some accounts, whose
deficits the insurance fund and then a pro-rata haircut (or ADL) cover.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mutualize.errors import InvalidInputError
from mutualize.sim import metrics
from mutualize.sim.results import ACCOUNT_FIELDS, SERIES_FIELDS, Comparison, RunResult


def raw_run(
    *,
    policy: str = "pro_rata",
    scenario: str = "crash",
    seed: int = 7,
    steps: int = 60,
    accounts: int = 50,
    markets: tuple[str, ...] = ("BTC-PERP", "ETH-PERP"),
    insurance_fund: int = 2_000_000,
    adl: bool = False,
    over: int = 0,
    rng_seed: int = 0,
) -> dict[str, Any]:
    """A synthetic raw run record. Money in minor units (tick_value 10), prices in
    ticks. ``adl``: the top winners are deleveraged instead of everyone being haircut;
    ``over``: minor units taken beyond what the loss-sharing stage needed."""
    rng = np.random.default_rng(rng_seed)
    crash = steps // 3
    base = np.array([50_000 + 1_000 * m for m in range(len(markets))], dtype=np.int64)
    factor = np.ones(steps)
    factor[crash:] = 0.7
    factor[crash + steps // 3 :] = 0.85
    marks = np.rint(base[None, :] * factor[:, None]).astype(np.int64)
    tick_value = 10

    market = rng.integers(0, len(markets), accounts).astype(np.int64)
    size0 = rng.integers(1, 20, accounts).astype(np.int64) * rng.choice([-1, 1], accounts)
    entry = base[market] + rng.integers(-500, 500, accounts)
    collateral0 = rng.integers(50_000, 2_000_000, accounts).astype(np.int64)
    pnl = size0 * (marks[-1, market] - entry) * tick_value
    before = collateral0 + pnl
    bankrupt = before < 0
    deficits = np.where(bankrupt, -before, 0).astype(np.int64)
    total_deficit = int(deficits.sum())
    paid_insurance = min(insurance_fund, total_deficit)
    to_share = total_deficit - paid_insurance

    winners = pnl > 0
    haircut = np.zeros(accounts, dtype=np.int64)
    adl_loss = np.zeros(accounts, dtype=np.int64)
    adl_lots = np.zeros(accounts, dtype=np.int64)
    winners_profit = int(pnl[winners].sum())
    shared = min(to_share, winners_profit)
    if adl:
        remaining = shared
        for i in np.argsort(-pnl):
            if remaining <= 0 or pnl[i] <= 0:
                break
            take = min(int(pnl[i]), remaining)
            adl_loss[i] = take
            adl_lots[i] = max(1, abs(int(size0[i])) // 2)
            remaining -= take
        if over and shared:
            adl_loss[int(np.argmax(adl_loss))] += over
    elif winners_profit:
        haircut[winners] = pnl[winners] * shared // winners_profit
        haircut[int(np.argmax(pnl))] += shared - int(haircut.sum()) + over
    residual = to_share - shared
    equity = np.where(bankrupt, 0, before - haircut - adl_loss).astype(np.int64)

    def at_crash(value: int) -> np.ndarray:
        column = np.zeros(steps, dtype=np.int64)
        column[crash] = value
        return column

    cumulative = np.zeros(steps, dtype=np.int64)
    cumulative[crash:] = residual
    fund = np.full(steps, insurance_fund, dtype=np.int64)
    fund[crash:] = insurance_fund - paid_insurance
    longs = int(size0[size0 > 0].sum())
    series = {
        "step": np.arange(steps, dtype=np.int64),
        "insurance_fund": fund,
        "bad_debt": cumulative,
        "deferred_loss": np.zeros(steps, dtype=np.int64),
        "deficit": at_crash(total_deficit),
        "paid_insurance": at_crash(paid_insurance),
        "paid_socialized": at_crash(0 if adl else shared),
        "paid_adl": at_crash(shared if adl else 0),
        "paid_bad_debt": at_crash(residual),
        "haircuts": at_crash(int(haircut.sum())),
        "haircut_accounts": at_crash(int(np.count_nonzero(haircut))),
        "liquidations": at_crash(int(bankrupt.sum())),
        "bankruptcies": at_crash(int(bankrupt.sum())),
        "adl_fills": at_crash(int(np.count_nonzero(adl_lots))),
        "adl_lots": at_crash(int(adl_lots.sum())),
        "open_interest": np.full(steps, longs, dtype=np.int64),
        "marks": marks,
    }
    account_arrays = {
        "account": np.arange(1, accounts + 1, dtype=np.int64),
        "market": market,
        "size0": size0.astype(np.int64),
        "entry": entry.astype(np.int64),
        "collateral0": collateral0,
        "equity": equity,
        "haircut": haircut,
        "adl_lots": adl_lots,
        "adl_loss": adl_loss,
        "liquidated_step": np.where(bankrupt, crash, -1).astype(np.int64),
        "deficit": deficits,
    }
    totals = {
        "insurance_fund_start": insurance_fund,
        "insurance_fund_end": insurance_fund - paid_insurance,
        "bad_debt": residual,
        "house_equity": 10**12,
        "deficit": total_deficit,
        "haircuts": int(haircut.sum()),
        "adl_loss": int(adl_loss.sum()),
        "liquidations": int(bankrupt.sum()),
    }
    return {
        "scenario": scenario,
        "policy": policy,
        "seed": seed,
        "seconds": 0.25,
        "market_names": markets,
        "series": series,
        "accounts": account_arrays,
        "totals": totals,
    }


def accounts_table(
    profit: list[int],
    haircut: list[int],
    adl_loss: list[int] | None = None,
    adl_lots: list[int] | None = None,
    ids: list[int] | None = None,
) -> pd.DataFrame:
    """A small accounts table with the given profits before loss-sharing (deposits of
    1,000 minor units each)."""
    n = len(profit)
    adl_loss = adl_loss or [0] * n
    collateral = np.full(n, 1_000, dtype=np.int64)
    equity = collateral + np.array(profit) - np.array(haircut) - np.array(adl_loss)
    table: pd.DataFrame = pd.DataFrame(
        {
            "account": np.array(ids or list(range(n)), dtype=np.int64),
            "collateral0": collateral,
            "equity": equity.astype(np.int64),
            "haircut": np.array(haircut, dtype=np.int64),
            "adl_lots": np.array(adl_lots or [0] * n, dtype=np.int64),
            "adl_loss": np.array(adl_loss, dtype=np.int64),
        }
    )
    return table


TOTALS = {
    "insurance_fund_end": 5,
    "bad_debt": 7,
    "deficit": 200,
    "haircuts": 0,
    "adl_loss": 0,
    "liquidations": 3,
    "paid_socialized": 0,
    "paid_adl": 0,
}


# --- metrics on hand-computed cases -------------------------------------------------------


@pytest.mark.parametrize(
    ("losses", "expected"),
    [
        ([0, 0, 1, 1], 0.5),
        ([3, 3, 3], 0.0),
        ([0, 0, 0, 5], 0.75),
        ([1, 2, 3, 4], 0.25),
        ([0, 0, 0, 0], 0.0),
    ],
)
def test_gini_hand_computed(losses: list[int], expected: float) -> None:
    # Gini of [1, 2, 3, 4]: mean |xi - xj| over all 16 pairs is 20/16, mean 2.5: 0.25.
    table = accounts_table(profit=[10] * len(losses), haircut=losses)
    assert metrics.haircut_gini(table, TOTALS) == pytest.approx(expected, abs=1e-12)


def test_gini_counts_winners_only_and_clips_adl_gains() -> None:
    # The loser (profit -50) is left out; the ADL gain of -4 counts as 0: Gini([0,0,1,1]).
    table = accounts_table(
        profit=[-50, 10, 10, 10, 10], haircut=[9, 0, 0, 1, 1], adl_loss=[0, -4, 0, 0, 0]
    )
    assert metrics.haircut_gini(table, TOTALS) == pytest.approx(0.5)
    assert metrics.haircut_gini(accounts_table(profit=[-1, 0], haircut=[0, 0]), TOTALS) == 0.0


def test_profit_share_and_largest_rate() -> None:
    table = accounts_table(profit=[600, 400, -300], haircut=[60, 40, 0], adl_loss=[30, 20, 0])
    # (60 + 40 + 30 + 20) / (600 + 400)
    assert metrics.profit_share_taken(table, TOTALS) == pytest.approx(0.15)
    assert metrics.largest_haircut_rate(table, TOTALS) == pytest.approx(0.15)
    lopsided = accounts_table(profit=[600, 400], haircut=[0, 200])
    assert metrics.largest_haircut_rate(lopsided, TOTALS) == pytest.approx(0.5)
    assert metrics.profit_share_taken(lopsided, TOTALS) == pytest.approx(0.2)


def test_top_winner_loss_and_ties() -> None:
    table = accounts_table(profit=[100, 900, 50], haircut=[10, 0, 5], adl_loss=[0, 300, 0])
    assert metrics.top_winner_loss(table, TOTALS) == 300
    # Two accounts share the largest profit: the smaller id (3) is the top winner.
    tied = accounts_table(profit=[900, 900], haircut=[11, 22], ids=[8, 3])
    assert metrics.top_winner_loss(tied, TOTALS) == 22
    nobody = accounts_table(profit=[-10, 0], haircut=[0, 0])
    assert metrics.top_winner_loss(nobody, TOTALS) == 0


def test_over_haircut_and_total_mutualized() -> None:
    totals = {**TOTALS, "haircuts": 100, "adl_loss": 30, "paid_socialized": 90, "paid_adl": 25}
    table = accounts_table(profit=[10], haircut=[0])
    assert metrics.total_mutualized(table, totals) == 130
    assert metrics.over_haircut(table, totals) == 15
    exact = {**totals, "paid_socialized": 100, "paid_adl": 30}
    assert metrics.over_haircut(table, exact) == 0


def test_accounts_touched_counts_haircuts_and_adl() -> None:
    table = accounts_table(
        profit=[10, 10, 10, -5], haircut=[1, 0, 0, 0], adl_lots=[0, 2, 0, 0], adl_loss=[0, 0, 0, 0]
    )
    assert metrics.accounts_touched(table, TOTALS) == 2


def test_fairness_keys_types_and_totals() -> None:
    table = accounts_table(profit=[600, 400, -300], haircut=[60, 40, 0])
    totals = {**TOTALS, "haircuts": 100, "paid_socialized": 100}
    result = metrics.fairness(table, totals)
    assert list(result) == [m.name for m in metrics.METRICS]
    for metric in metrics.METRICS:
        value = result[metric.name]
        # Money and counts are exact Python ints, never numpy scalars or floats.
        expected_type = float if metric.kind in ("rate", "index") else int
        assert type(value) is expected_type, metric.name
    assert result["deficit"] == 200
    assert result["bad_debt"] == 7
    assert result["insurance_fund_end"] == 5
    assert result["liquidations"] == 3
    assert result["over_haircut"] == 0


def test_fairness_with_no_accounts_is_zero() -> None:
    empty = accounts_table(profit=[], haircut=[])
    result = metrics.fairness(empty, TOTALS)
    assert result["largest_haircut_rate"] == 0.0
    assert result["haircut_gini"] == 0.0
    assert result["profit_share_taken"] == 0.0
    assert result["top_winner_loss"] == 0
    assert result["accounts_touched"] == 0


def test_fairness_names_what_is_missing() -> None:
    table = accounts_table(profit=[1], haircut=[0])
    totals = {k: v for k, v in TOTALS.items() if k != "paid_adl"}
    with pytest.raises(InvalidInputError, match="paid_adl"):
        metrics.fairness(table, totals)
    with pytest.raises(InvalidInputError, match="adl_lots"):
        metrics.fairness(table.drop(columns="adl_lots"), TOTALS)


def test_exact_sum_does_not_wrap() -> None:
    big = np.full(4, 2**62, dtype=np.int64)
    assert metrics.exact_sum(big) == 2**64
    assert metrics.exact_sum(np.array([-5, 3], dtype=np.int64)) == -2
    assert metrics.exact_sum(np.empty(0, dtype=np.int64)) == 0


# --- RunResult -------------------------------------------------------------------------


def test_from_raw_frames() -> None:
    raw = raw_run(steps=30, accounts=20)
    run = RunResult.from_raw(raw)
    series = run.series
    assert series.index.name == "step"
    assert list(series.index) == list(range(30))
    assert list(series.columns) == [
        *SERIES_FIELDS[1:],
        "mark_BTC-PERP",
        "mark_ETH-PERP",
    ]
    assert all(dtype == np.int64 for dtype in series.dtypes)
    np.testing.assert_array_equal(series["mark_ETH-PERP"], raw["series"]["marks"][:, 1])

    accounts = run.accounts
    assert len(accounts) == 20
    assert list(accounts.columns) == [*ACCOUNT_FIELDS, "profit", "haircut_rate"]
    assert all(accounts[c].dtype == np.int64 for c in [*ACCOUNT_FIELDS, "profit"])
    assert accounts["haircut_rate"].dtype == np.float64
    a = raw["accounts"]
    expected_profit = a["equity"] + a["haircut"] + a["adl_loss"] - a["collateral0"]
    np.testing.assert_array_equal(accounts["profit"], expected_profit)
    winner = int(np.argmax(expected_profit))
    assert accounts["haircut_rate"][winner] == pytest.approx(
        a["haircut"][winner] / expected_profit[winner]
    )
    assert (accounts["haircut_rate"][expected_profit <= 0] == 0).all()
    assert run.steps == 30
    assert run.num_accounts == 20


def test_from_raw_totals_and_metrics() -> None:
    raw = raw_run()
    run = RunResult.from_raw(raw)
    assert run.policy == "pro_rata"
    assert run.scenario == "crash"
    assert run.seed == 7
    assert run.seconds == 0.25
    # The paid_* totals are summed from the series when the engine leaves them out.
    assert run.totals["paid_socialized"] == int(raw["series"]["paid_socialized"].sum())
    assert (
        run.totals["paid_insurance"]
        == raw["totals"]["insurance_fund_start"] - (raw["totals"]["insurance_fund_end"])
    )
    assert all(type(v) is int for v in run.totals.values())
    assert dict(run.metrics) == metrics.fairness(run.accounts, run.totals)
    assert run.metrics["deficit"] > 0
    assert run.metrics["total_mutualized"] == raw["totals"]["haircuts"] > 0
    assert run.metrics["over_haircut"] == 0
    with pytest.raises(TypeError):
        run.totals["deficit"] = 0  # type: ignore[index]


def test_from_raw_counts_over_haircut_and_adl() -> None:
    run = RunResult.from_raw(raw_run(adl=True, over=1_234))
    assert run.metrics["over_haircut"] == 1_234
    assert run.metrics["accounts_touched"] == int((run.accounts["adl_lots"] > 0).sum())
    top = run.accounts.sort_values("profit", ascending=False).iloc[0]
    assert run.metrics["top_winner_loss"] == int(top["adl_loss"]) > 0
    # ADL concentrates the loss on the biggest winners: a high Gini.
    assert run.metrics["haircut_gini"] > RunResult.from_raw(raw_run()).metrics["haircut_gini"]


def test_engine_totals_win_over_derived_ones() -> None:
    raw = raw_run()
    raw["totals"]["paid_adl"] = 17
    run = RunResult.from_raw(raw)
    assert run.totals["paid_adl"] == 17


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.pop("totals"), "lacks totals"),
        (lambda r: r["series"].pop("haircuts"), "haircuts"),
        (lambda r: r["accounts"].pop("adl_loss"), "adl_loss"),
        (lambda r: r["totals"].pop("bad_debt"), "bad_debt"),
        (
            lambda r: r["series"].__setitem__("deficit", r["series"]["deficit"].astype(float)),
            "series.deficit must be an integer array",
        ),
        (
            lambda r: r["accounts"].__setitem__("equity", r["accounts"]["equity"][:-1]),
            "accounts.equity has length",
        ),
        (lambda r: r["series"].__setitem__("marks", r["series"]["marks"][:, :1]), "marks"),
        (lambda r: r.__setitem__("market_names", ("A", "A")), "repeat"),
        (lambda r: r["totals"].__setitem__("deficit", 1.5), "totals.deficit must be an int"),
    ],
)
def test_from_raw_rejects_bad_records(change: Any, message: str) -> None:
    raw = raw_run(steps=10, accounts=5)
    change(raw)
    with pytest.raises(InvalidInputError, match=message):
        RunResult.from_raw(raw)


def test_results_pickle() -> None:
    # Sweeps send results between processes (local pool, Dask, Ray).
    both = comparison()
    back = pickle.loads(pickle.dumps(both))
    assert list(back) == list(both)
    run = back["adl"]
    pd.testing.assert_frame_equal(run.accounts, both["adl"].accounts)
    pd.testing.assert_frame_equal(run.series, both["adl"].series)
    assert dict(run.totals) == dict(both["adl"].totals)
    assert dict(run.metrics) == dict(both["adl"].metrics)
    with pytest.raises(TypeError):
        run.metrics["deficit"] = 0


def test_repr_is_one_short_line() -> None:
    text = repr(RunResult.from_raw(raw_run(policy="okx_clawback")))
    assert "\n" not in text
    assert len(text) < 200
    assert "okx_clawback" in text
    assert "crash" in text


def test_parquet_round_trip(tmp_path: Path) -> None:
    run = RunResult.from_raw(raw_run(adl=True, over=3))
    folder = run.to_parquet(tmp_path / "out")
    assert sorted(p.name for p in folder.iterdir()) == [
        "accounts.parquet",
        "run.json",
        "series.parquet",
    ]
    series = pd.read_parquet(folder / "series.parquet")
    pd.testing.assert_frame_equal(series, run.series)
    accounts = pd.read_parquet(folder / "accounts.parquet")
    pd.testing.assert_frame_equal(accounts, run.accounts)
    back = RunResult.from_parquet(folder)
    assert (back.policy, back.scenario, back.seed, back.seconds) == (
        run.policy,
        run.scenario,
        run.seed,
        run.seconds,
    )
    assert back.market_names == run.market_names
    assert dict(back.totals) == dict(run.totals)
    assert dict(back.metrics) == dict(run.metrics)


def test_parquet_failure_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = RunResult.from_raw(raw_run())
    original = pd.DataFrame.to_parquet
    calls = []

    def failing(self: pd.DataFrame, path: Any, *args: Any, **kwargs: Any) -> None:
        calls.append(path)
        if len(calls) == 2:
            raise OSError("disk full")
        original(self, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", failing)
    with pytest.raises(OSError, match="disk full"):
        run.to_parquet(tmp_path)
    assert list(tmp_path.iterdir()) == []


# --- Comparison --------------------------------------------------------------------------


def comparison() -> Comparison:
    return Comparison(
        {
            "pro_rata": RunResult.from_raw(raw_run(policy="pro_rata")),
            "adl": RunResult.from_raw(raw_run(policy="bitmex_adl", adl=True, over=999)),
        }
    )


def test_comparison_table() -> None:
    both = comparison()
    table = both.table
    assert table.index.name == "policy"
    assert list(table.index) == ["pro_rata", "adl"]
    assert list(table.columns) == [m.name for m in metrics.METRICS]
    for metric in metrics.METRICS:
        expected = np.float64 if metric.kind in ("rate", "index") else np.int64
        assert table[metric.name].dtype == expected
    assert table.loc["adl", "over_haircut"] == 999
    assert table.loc["pro_rata", "over_haircut"] == 0
    assert table.loc["adl", "total_mutualized"] == both["adl"].metrics["total_mutualized"]


def test_comparison_is_a_read_only_mapping() -> None:
    both = comparison()
    assert list(both) == ["pro_rata", "adl"]
    assert len(both) == 2
    assert both["adl"].policy == "bitmex_adl"
    assert both.scenario == "crash"
    assert both.seed == 7
    assert "pro_rata" in repr(both)


def test_comparison_markdown() -> None:
    both = comparison()
    text = both.to_markdown()
    lines = text.splitlines()
    assert [cell.strip() for cell in lines[0].split("|")[1:-1]] == ["metric", "pro_rata", "adl"]
    assert set(lines[1]) <= {"|", "-", ":", " "}
    assert len(lines) == 2 + len(metrics.METRICS)
    # Every line has the same width: a real table.
    assert len({len(line) for line in lines}) == 1
    mutualized = both["pro_rata"].metrics["total_mutualized"]
    assert f"{mutualized:,}" in text
    assert "," in f"{mutualized:,}"
    rate = both["adl"].metrics["largest_haircut_rate"]
    assert f"{rate:.2%}" in text
    row = next(line for line in lines if line.startswith("| over-haircut"))
    assert row.rstrip(" |").endswith("999")
    assert str(both).startswith("scenario 'crash', seed 7")
    assert text in str(both)


def test_comparison_rejects_mixed_or_empty() -> None:
    with pytest.raises(InvalidInputError, match="at least one"):
        Comparison({})
    other = RunResult.from_raw(raw_run(scenario="other"))
    with pytest.raises(InvalidInputError, match="one scenario"):
        Comparison({"a": RunResult.from_raw(raw_run()), "b": other})
    reseeded = RunResult.from_raw(raw_run(seed=8))
    with pytest.raises(InvalidInputError, match="seed 8"):
        Comparison({"a": RunResult.from_raw(raw_run()), "b": reseeded})
    with pytest.raises(InvalidInputError, match="not a RunResult"):
        Comparison({"a": "nope"})  # type: ignore[dict-item]
