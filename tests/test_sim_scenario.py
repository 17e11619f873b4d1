"""Scenarios: TOML and dict forms, errors naming the key, and the exact arrays they build."""

from __future__ import annotations

import math
import pickle
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mutualize.errors import InvalidInputError
from mutualize.sim.inputs import EngineInputs
from mutualize.sim.paths import crash_profile, funding_deltas, generate_prices
from mutualize.sim.population import Distribution
from mutualize.sim.scenario import (
    DEMO_POLICIES,
    POLICY_NAMES,
    Execution,
    Funding,
    MarketSpec,
    Policy,
    Population,
    PricePath,
    Scenario,
    ScenarioError,
    policy,
)
from mutualize.waterfall import PRESETS, Adl, InsuranceFund, Socialize, Waterfall

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "scenarios"
ARRAYS = (
    "tick_value",
    "imr_bps",
    "mmr_bps",
    "penalty_bps",
    "collateral",
    "market",
    "size",
    "entry",
    "prices",
    "funding",
)


def small(**changes: Any) -> Scenario:
    """A quick two-market crash scenario."""
    params: dict[str, object] = {
        "population.count": 500,
        "path.steps": 400,
        "path.crash_step": 100,
    }
    params.update(changes)
    return Scenario.demo().with_params(params)


def same_inputs(a: EngineInputs, b: EngineInputs) -> bool:
    scalars = ("insurance_fund", "house_collateral", "slippage_bps", "impact_bps", "depth_lots")
    return (
        all(np.array_equal(getattr(a, n), getattr(b, n)) for n in ARRAYS)
        and all(getattr(a, n) == getattr(b, n) for n in scalars)
        and a.market_names == b.market_names
    )


def write_toml(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


MINIMAL = """
name = "mini"
seed = 1
[[market]]
name = "X"
start_price = 100_000
[population]
count = 50
[path]
kind = "gbm"
steps = 20
"""


# --------------------------------------------------------------------------- determinism


def test_build_is_deterministic_and_int64() -> None:
    scenario = small()
    a, b = scenario.build(), scenario.build()
    assert same_inputs(a, b)
    for name in ARRAYS:
        array = getattr(a, name)
        assert array.dtype == np.int64
        assert array.flags.c_contiguous
    # The same bytes, not only equal values.
    assert a.prices.tobytes() == b.prices.tobytes()
    assert a.size.tobytes() == b.size.tobytes()
    # Rebuilding from the TOML text gives the same inputs too.
    again = Scenario.from_toml_text(scenario.to_toml()).build()
    assert same_inputs(a, again)


def test_different_seeds_differ() -> None:
    a = small().build()
    b = small().with_seed(8).build()
    assert not np.array_equal(a.prices, b.prices)
    assert not np.array_equal(a.collateral, b.collateral)
    assert not np.array_equal(a.size, b.size)
    assert small().with_seed(8).seed == 8


def test_market_paths_use_their_own_streams() -> None:
    # Market m draws from default_rng([seed, m]): adding a market leaves market 0 alone.
    path = PricePath(kind="gbm", steps=50, sigma=0.01)
    one = generate_prices(path, [1_000_000], 5)
    two = generate_prices(path, [1_000_000, 2_000_000], 5)
    assert np.array_equal(one[:, 0], two[:, 0])
    assert not np.array_equal(two[:, 0] * 2, two[:, 1])


def test_correlation_shares_the_shocks() -> None:
    same = PricePath(kind="gbm", steps=300, sigma=0.01, correlation=1.0)
    prices = generate_prices(same, [1_000_000, 1_000_000], 3)
    assert np.abs(prices[:, 0] - prices[:, 1]).max() <= 1  # identical up to rounding
    loose = PricePath(kind="gbm", steps=3_000, sigma=0.01, correlation=0.0)
    tight = PricePath(kind="gbm", steps=3_000, sigma=0.01, correlation=0.8)

    def corr(path: PricePath) -> float:
        logs = np.diff(np.log(generate_prices(path, [10**9, 10**9], 4).astype(float)), axis=0)
        return float(np.corrcoef(logs[:, 0], logs[:, 1])[0, 1])

    assert abs(corr(loose)) < 0.1
    assert 0.7 < corr(tight) < 0.9


# --------------------------------------------------------------------------- TOML round trip


def test_toml_round_trip_demo(tmp_path: Path) -> None:
    scenario = Scenario.demo()
    path = write_toml(tmp_path, scenario.to_toml())
    back = Scenario.from_toml(path)
    assert back == scenario
    assert back.to_dict() == scenario.to_dict()
    assert Scenario.from_dict(scenario.to_dict()) == scenario


def test_toml_round_trip_custom_policies_and_odd_strings(tmp_path: Path) -> None:
    custom = Policy(
        name='weird "name" \\ é\t',
        waterfall=Waterfall(
            stages=(
                InsuranceFund(cap=5_000, floor=10),
                Socialize(rule="pro_rata", base="weights", weights=[1, 0, 3]),
            ),
            timing="immediate",
        ),
        granularity="bankruptcy",
        session_steps=7,
    )
    adl = Policy(name="scored", waterfall=Waterfall(stages=(Adl(ranking="scores", scores=[3, 1]),)))
    renamed = Policy(name="my_clawback", waterfall=PRESETS["okx_clawback"](), session_steps=60)
    deferred = Policy(
        name="deribit_like",
        waterfall=Waterfall(
            stages=(InsuranceFund(), Socialize(base="session_profit", max_rate="1/3")),
            timing="deferred",
            lock_session_profit=True,
        ),
    )
    scenario = Scenario(
        name="name with\nnewline and \x7f",
        seed=2**40,
        markets=(
            MarketSpec("A", start_price=5),
            MarketSpec("B-\u00fc", start_price=9, tick_value=3),
        ),
        population=Population(
            count=10,
            collateral=Distribution.uniform(1_000, 2_000),
            leverage=Distribution.lognormal(3, 0.5, lo=1, hi=20),
            market_weights=(1, 3),
        ),
        path=PricePath(kind="jumps", steps=30, jump_rate=0.1, jump_mean=-0.01, jump_sigma=0.02),
        funding=Funding(interval_steps=0, rate_bps=-3),
        execution=Execution(slippage_bps=0, impact_bps=7, depth_lots=100),
        policies=(custom, adl, renamed, deferred),
        insurance_fund=123,
        house_collateral=10**12,
    )
    text = scenario.to_toml()
    assert 'preset = "okx_clawback"' in text  # a renamed preset stays a preset
    back = Scenario.from_toml(write_toml(tmp_path, text))
    assert back == scenario
    assert back.policies[2].preset == "okx_clawback"
    assert back.policies[3].waterfall.lock_session_profit is True
    assert back.population.market_weights == (1.0, 3.0)


def test_dict_form_names_the_toml_sections() -> None:
    d = Scenario.demo().to_dict()
    assert list(d) == [
        "name",
        "seed",
        "insurance_fund",
        "market",
        "population",
        "path",
        "funding",
        "execution",
        "policy",
    ]
    assert d["policy"][0] == {
        "name": "okx_clawback",
        "preset": "okx_clawback",
        "granularity": "step",
        "session_steps": 1_440,
    }
    assert d["population"]["collateral"]["kind"] == "lognormal"


# --------------------------------------------------------------------------- examples


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.name)
def test_every_example_loads_builds_and_round_trips(path: Path) -> None:
    scenario = Scenario.from_toml(path)
    inputs = scenario.build()
    if scenario.population.table is None:
        assert inputs.num_accounts == scenario.population.count
    assert inputs.num_markets == len(scenario.markets)
    if scenario.path.kind != "file":
        assert inputs.num_steps == scenario.steps
    assert Scenario.from_toml_text(scenario.to_toml()) == scenario


def test_examples_cover_the_required_shapes() -> None:
    crash = Scenario.from_toml(EXAMPLES / "crash.toml")
    assert crash.policy_names == DEMO_POLICIES
    assert 4_000 <= crash.population.count <= 6_000
    assert crash.path.kind == "crash_rebound"
    assert Scenario.from_toml(EXAMPLES / "gbm.toml").path.kind == "gbm"
    replay = Scenario.from_toml(EXAMPLES / "replay.toml")
    assert replay.path.kind == "file"
    assert Path(str(replay.path.file)).name == "prices.csv"
    csv = pd.read_csv(EXAMPLES / "prices.csv")
    assert np.array_equal(replay.build().prices[:, 0], csv["BTC-PERP"].to_numpy())


def test_demo_is_a_crash_that_clawback_settles_mid_run() -> None:
    demo = Scenario.demo()
    assert demo.policy_names == DEMO_POLICIES
    assert 2_000 <= demo.population.count <= 6_000
    assert 1 <= len(demo.markets) <= 2
    okx = demo.policy("okx_clawback")
    assert okx.waterfall.timing == "deferred"
    # The first session ends after the crash and before the last step: a clawback happens.
    assert demo.path.crash_start + demo.path.crash_length < okx.session_steps < demo.steps
    inputs = demo.build("okx_clawback")
    assert inputs.session_steps == okx.session_steps
    assert demo.build().session_steps == 0
    lows = inputs.prices.min(axis=0) / inputs.prices[demo.path.crash_start]
    assert (lows < 0.9).all()
    # Leverage up to 20x: the largest positions use nearly all of it.
    leverage = np.abs(inputs.size) * inputs.entry * 10 / inputs.collateral
    assert 18 < leverage.max() <= 20


# --------------------------------------------------------------------------- path shapes


def test_crash_rebound_reaches_its_depth_and_rebounds() -> None:
    path = PricePath(
        kind="crash_rebound",
        steps=1_000,
        sigma=0.0002,
        crash_step=300,
        crash_length=40,
        crash_depth=0.2,
        rebound=0.5,
        rebound_length=200,
    )
    prices = generate_prices(path, [1_000_000, 50_000], 9).astype(float)
    for m in range(2):
        before = prices[300, m]
        low_step = int(np.argmin(prices[:, m]))
        assert 320 <= low_step <= 380
        assert prices[low_step, m] / before == pytest.approx(0.8, abs=0.02)
        after = prices[600, m] / before  # rebound done: 1 - 0.2 * (1 - 0.5)
        assert after == pytest.approx(0.9, abs=0.03)
    # Most of the fall happens in the middle of the crash (the cascade's peak minutes).
    profile = crash_profile(1_000, 300, 40, 0.2, 0.5, 200)
    drops = -np.diff(profile[300:341])
    assert drops.max() > 4 * drops.mean()
    assert profile[:301].max() == 0.0
    assert profile[340] == pytest.approx(math.log(0.8))
    assert profile[-1] == pytest.approx(math.log(0.9))


def test_crash_must_fit_in_the_path() -> None:
    with pytest.raises(ScenarioError, match=r"^crash_step: .*must be < steps = 100"):
        PricePath(kind="crash_rebound", steps=100, crash_step=80, crash_length=40)
    assert PricePath(kind="crash_rebound", steps=300).crash_start == 100


def test_gbm_stays_positive_and_starts_at_the_start_price() -> None:
    path = PricePath(kind="gbm", steps=5_000, sigma=0.2, drift=-0.01)
    prices = generate_prices(path, [7, 1_000_000], 1)
    assert prices.dtype == np.int64
    assert prices.shape == (5_000, 2)
    assert (prices >= 1).all()
    assert prices[0].tolist() == [7, 1_000_000]
    assert prices[-1, 1] < 1_000  # the drift took it down, and it stayed >= 1 tick


def test_jumps_fatten_the_tails() -> None:
    plain = PricePath(kind="gbm", steps=20_000, sigma=0.001)
    jumpy = PricePath(
        kind="jumps", steps=20_000, sigma=0.001, jump_rate=0.01, jump_mean=0.0, jump_sigma=0.02
    )

    def kurtosis(path: PricePath) -> float:
        r = np.diff(np.log(generate_prices(path, [10**9], 2)[:, 0].astype(float)))
        r = r - r.mean()
        return float((r**4).mean() / (r**2).mean() ** 2)

    assert kurtosis(plain) < 3.5
    assert kurtosis(jumpy) > 10
    with pytest.raises(ScenarioError, match=r'^jump_rate: expected 0 for kind "gbm"'):
        PricePath(kind="gbm", jump_rate=0.1)
    with pytest.raises(ScenarioError, match=r'^jump_rate: expected a number > 0 for kind "jumps"'):
        PricePath(kind="jumps")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_price_files(tmp_path: Path, fmt: str) -> None:
    frame = pd.DataFrame(
        {"time": range(6), "B": [10.4, 11.6, 12, 9, 8, 7], "A": [100, 90, 80, 85, 95, 99]}
    )
    file = tmp_path / f"prices.{fmt}"
    frame.to_csv(file, index=False) if fmt == "csv" else frame.to_parquet(file)
    scenario = Scenario(
        name="file",
        seed=0,
        markets=(MarketSpec("A"), MarketSpec("B")),
        population=Population(count=20),
        path=PricePath(kind="file", file=str(file)),
        policies=(policy("pro_rata"),),
    )
    inputs = scenario.build()
    assert inputs.prices.tolist() == [
        [100, 10],
        [90, 12],
        [80, 12],
        [85, 9],
        [95, 8],
        [99, 7],
    ]
    assert (inputs.entry == inputs.prices[0, inputs.market]).all()
    assert scenario.with_params({"path.steps": 4}).build().num_steps == 4
    with pytest.raises(ScenarioError, match=r"has 6 rows, fewer than path.steps = 9"):
        scenario.with_params({"path.steps": 9}).build()


def test_price_file_single_price_column_and_bad_values(tmp_path: Path) -> None:
    file = tmp_path / "p.csv"
    file.write_text("price\n100\n101\n102\n")
    one = Scenario(
        name="one",
        seed=0,
        markets=(MarketSpec("BTC"),),
        population=Population(count=5),
        path=PricePath(kind="file", file=str(file)),
    )
    assert one.build().prices[:, 0].tolist() == [100, 101, 102]
    file.write_text("price\n100\n0.2\n102\n")
    with pytest.raises(ScenarioError, match=r"path.file: column 'price', row 1: expected a price"):
        one.build()
    two = Scenario(
        name="two",
        seed=0,
        markets=(MarketSpec("BTC"), MarketSpec("ETH")),
        population=Population(count=5),
        path=PricePath(kind="file", file=str(file)),
    )
    with pytest.raises(ScenarioError, match=r'path.file: missing column "BTC"'):
        two.build()
    gone = Scenario(
        name="gone",
        seed=0,
        markets=(MarketSpec("BTC"),),
        path=PricePath(kind="file", file=str(tmp_path / "nope.csv")),
    )
    with pytest.raises(ScenarioError, match=r"path.file: file not found"):
        gone.build()


def test_relative_data_files_are_found_beside_the_toml(tmp_path: Path) -> None:
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "p.csv").write_text("price\n50\n51\n")
    path = write_toml(
        folder,
        '[[market]]\nname = "X"\n[population]\ncount = 3\n[path]\nkind = "file"\nfile = "p.csv"\n',
    )
    scenario = Scenario.from_toml(path)
    assert Path(str(scenario.path.file)) == folder / "p.csv"
    assert scenario.build().prices[:, 0].tolist() == [50, 51]


# --------------------------------------------------------------------------- population


def test_generated_population_is_exact_and_within_margin() -> None:
    inputs = small(**{"population.count": 20_000}).build()
    assert inputs.collateral.dtype == np.int64
    assert (inputs.collateral > 0).all()
    assert (inputs.size != 0).all()
    assert set(np.unique(inputs.market).tolist()) == {0, 1}
    lot = inputs.entry * inputs.tick_value[inputs.market]
    imr = inputs.imr_bps[inputs.market]
    # Every account opens within its initial margin, computed exactly with Python ints.
    for i in range(0, 20_000, 97):
        notional = abs(int(inputs.size[i])) * int(lot[i])
        initial = -((-notional * int(imr[i])) // 10_000)
        assert initial <= int(inputs.collateral[i])
    leverage = np.abs(inputs.size) * lot / inputs.collateral
    assert leverage.max() <= 20
    assert 8 < np.median(leverage) < 12  # uniform over 1..20
    longs = float((inputs.size > 0).mean())
    assert longs == pytest.approx(0.6, abs=0.02)  # the demo's long_share
    assert float((inputs.market == 0).mean()) == pytest.approx(0.6, abs=0.02)


def test_too_small_accounts_get_one_lot_and_its_margin() -> None:
    scenario = Scenario(
        name="tiny",
        seed=3,
        markets=(MarketSpec("X", start_price=100_000, tick_value=1),),
        population=Population(
            count=1_000,
            collateral=Distribution.uniform(1, 5_000),
            leverage=Distribution.uniform(1, 2),
        ),
        path=PricePath(steps=5),
    )
    inputs = scenario.build()
    assert (np.abs(inputs.size) >= 1).all()
    one_lot = inputs.size == 1
    assert one_lot.any()
    # One lot of 100,000 minor units needs 2,000 of initial margin at 200 bps.
    assert (inputs.collateral >= 2_000).all()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_population_tables(tmp_path: Path, fmt: str) -> None:
    frame = pd.DataFrame(
        {
            "collateral": [1_000, 2_000, 3_000],
            "size": [5, -2, 1],
            "entry": [100, 110, 95],
            "market": ["B", "A", "B"],
            "note": ["x", "y", "z"],
        }
    )
    file = tmp_path / f"accounts.{fmt}"
    frame.to_csv(file, index=False) if fmt == "csv" else frame.to_parquet(file)
    scenario = Scenario(
        name="table",
        seed=0,
        markets=(MarketSpec("A", start_price=100), MarketSpec("B", start_price=90)),
        population=Population(count=99, table=str(file)),
        path=PricePath(steps=10),
    )
    inputs = scenario.build()
    assert inputs.num_accounts == 3  # count is ignored
    assert inputs.collateral.tolist() == [1_000, 2_000, 3_000]
    assert inputs.size.tolist() == [5, -2, 1]
    assert inputs.entry.tolist() == [100, 110, 95]
    assert inputs.market.tolist() == [1, 0, 1]
    assert inputs.house_collateral == 60_000
    by_index = frame.assign(market=[1, 0, 1])
    by_index.to_csv(tmp_path / "i.csv", index=False)
    inputs = scenario.with_params({"population.table": str(tmp_path / "i.csv")}).build()
    assert inputs.market.tolist() == [1, 0, 1]


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("collateral", [1_000, 0, 5], r"column 'collateral', row 1: expected an integer"),
        ("collateral", [1_000, 2.5, 5], r"column 'collateral', row 1: expected an integer"),
        ("size", [1, 2, 0], r"column 'size', row 2: expected non-zero lots"),
        ("entry", [1, -1, 3], r"column 'entry', row 1: expected an integer \(ticks\) >= 1"),
        ("market", ["A", "C", "A"], r"column 'market', row 1: unknown market 'C'"),
        ("market", [0, 2, 1], r"column 'market', row 1: expected an integer in 0..=1"),
    ],
)
def test_bad_population_tables(
    tmp_path: Path, column: str, values: list[object], message: str
) -> None:
    frame = pd.DataFrame(
        {"collateral": [10, 20, 30], "size": [1, 1, -1], "entry": [5, 5, 5], "market": [0, 1, 0]}
    )
    frame[column] = values
    file = tmp_path / "t.csv"
    frame.to_csv(file, index=False)
    scenario = Scenario(
        name="bad",
        seed=0,
        markets=(MarketSpec("A", start_price=5), MarketSpec("B", start_price=5)),
        population=Population(table=str(file)),
        path=PricePath(steps=3),
    )
    with pytest.raises(ScenarioError, match="^population.table: " + message):
        scenario.build()
    frame.drop(columns=[column]).to_csv(file, index=False)
    with pytest.raises(ScenarioError, match=f"population.table: missing column '{column}'"):
        scenario.build()


# --------------------------------------------------------------------------- funding


def test_funding_is_integer_and_periodic() -> None:
    prices = np.array([[1_000, 7], [1_003, 9], [999, 11], [1_001, 13], [1_005, 15]], np.int64)
    ticks = np.array([3, 7], np.int64)
    deltas = funding_deltas(prices, ticks, Funding(interval_steps=2, rate_bps=25))
    assert deltas.dtype == np.int64
    expected = np.zeros_like(prices)
    for t in (2, 4):
        for m in range(2):
            expected[t, m] = (25 * int(prices[t - 1, m]) * int(ticks[m])) // 10_000
    assert np.array_equal(deltas, expected)
    assert deltas[2].tolist() == [7, 0]  # floor(25 * 1003 * 3 / 1e4) = 7; 25*9*7 < 1e4
    shorts_pay = funding_deltas(prices, ticks, Funding(interval_steps=2, rate_bps=-25))
    assert shorts_pay[2].tolist() == [-8, -1]  # floors away from zero when negative
    none = funding_deltas(prices, ticks, Funding(interval_steps=0))
    assert not none.any()


def test_built_funding_follows_the_scenario() -> None:
    inputs = small(**{"funding.interval_steps": 60, "funding.rate_bps": 2}).build()
    rows = np.flatnonzero(inputs.funding.any(axis=1))
    assert rows.tolist() == list(range(60, 400, 60))
    t = 120
    for m in range(2):
        want = 2 * int(inputs.prices[t - 1, m]) * int(inputs.tick_value[m]) // 10_000
        assert inputs.funding[t, m] == want


# --------------------------------------------------------------------------- policies


def test_policy_names_and_waterfalls() -> None:
    assert set(PRESETS) < set(POLICY_NAMES)
    assert {"capped_pro_rata", "equal_award"} <= set(POLICY_NAMES)
    for name in POLICY_NAMES:
        made = policy(name)
        assert made.name == name
        assert made.preset == name
        assert made.granularity == "step"
        assert made.session_steps == 0
    capped = policy("capped_pro_rata").waterfall.stage("socialize")
    assert isinstance(capped, Socialize)
    assert capped.rate == (1, 2)
    assert capped.rule == "pro_rata"
    assert capped.rounding == "exact"  # the kernel takes max_rate only with exact rounding
    award = policy("equal_award").waterfall
    assert award.stages[0] == InsuranceFund()
    assert isinstance(award.stages[1], Socialize)
    assert award.stages[1].rule == "equal_award"
    with pytest.raises(ScenarioError, match=r'^policy: expected one of .*got "nope"'):
        policy("nope")


def test_policy_tables(tmp_path: Path) -> None:
    text = (
        MINIMAL
        + '[[policy]]\npreset = "pro_rata"\ntiming = "deferred"\nsession_steps = 5\n'
        + '[[policy]]\nstages = [{ kind = "insurance_fund", cap = 10 }, '
        + '{ kind = "adl", ranking = "pnl" }]\ngranularity = "bankruptcy"\n'
    )
    scenario = Scenario.from_toml(write_toml(tmp_path, text))
    first, second = scenario.policies
    assert first.name == "pro_rata"
    assert first.waterfall.timing == "deferred"
    assert first.preset is None  # no longer the preset: written out as stages
    assert second.name == "policy_2"
    assert second.granularity == "bankruptcy"
    assert second.waterfall.stages == (InsuranceFund(cap=10), Adl(ranking="pnl"))
    assert Scenario.from_toml_text(scenario.to_toml()) == scenario
    assert scenario.build("policy_2").session_steps == 0
    assert scenario.build(first).session_steps == 5


def test_default_policies_are_the_demo_four() -> None:
    scenario = Scenario.from_toml_text(MINIMAL)
    assert scenario.policy_names == DEMO_POLICIES


@pytest.mark.parametrize(
    ("policy_text", "message"),
    [
        ('preset = "okx"', r'policy\[0\].preset: expected one of "okx_clawback"'),
        ('name = "x"', r"policy\[0\].preset: missing; a policy needs a preset"),
        ('preset = "pro_rata"\nstages = []', r"policy\[0\].stages: give either preset or stages"),
        (
            'stages = [{ kind = "socialize", rule = "nope" }]',
            r"policy\[0\].stages: unknown socialize rule 'nope'",
        ),
        ('preset = "pro_rata"\ngranularity = "tick"', r"policy\[0\].granularity: expected one of"),
        ('preset = "pro_rata"\nsession_steps = -1', r"policy\[0\].session_steps: expected an"),
        ('preset = "pro_rata"\ncolour = 1', r"policy\[0\].colour: unknown key"),
        ('preset = "pro_rata"\ntiming = "later"', r"policy\[0\].timing: expected one of"),
    ],
)
def test_bad_policies(policy_text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        Scenario.from_toml_text(MINIMAL + "[[policy]]\n" + policy_text + "\n")


def test_duplicate_names() -> None:
    twice = MINIMAL + '[[policy]]\npreset = "pro_rata"\n[[policy]]\npreset = "pro_rata"\n'
    with pytest.raises(ScenarioError, match=r"policy\[1\].name: duplicate policy name"):
        Scenario.from_toml_text(twice)
    markets = MINIMAL + '[[market]]\nname = "X"\nstart_price = 5\n'
    with pytest.raises(ScenarioError, match=r"market\[1\].name: duplicate market name 'X'"):
        Scenario.from_toml_text(markets)


# --------------------------------------------------------------------------- with_params


def test_with_params_replaces_values() -> None:
    base = small()
    changed = base.with_params(
        {
            "population.count": np.int64(123),
            "path.crash_depth": np.float64(0.3),
            "policy.0.session_steps": 60,
            "policy[1].granularity": "bankruptcy",
            "market[1].start_price": 50_000,
            "population.collateral.sigma": 0.5,
            "house_collateral": 10**15,
        }
    )
    assert changed.population.count == 123
    assert type(changed.population.count) is int
    assert changed.path.crash_depth == 0.3
    assert changed.policies[0].session_steps == 60
    assert changed.policies[1].granularity == "bankruptcy"
    assert changed.markets[1].start_price == 50_000
    assert changed.population.collateral.sigma == 0.5
    assert changed.build().house_collateral == 10**15
    # None removes a key: its default applies again.
    assert changed.with_params({"house_collateral": None}).house_collateral is None
    assert base.with_params({}) == base


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("population.cout", 5, r"^population.cout: unknown parameter; expected one of count"),
        ("colour", 5, r"^colour: unknown parameter"),
        ("path.kind.x", 5, r"^path.kind: not a table"),
        ("policy.9.name", "x", r"^policy.9: expected an index below 4"),
        ("policy.0", "x", r"^policy.0: replace a key inside"),
        ("population.count", "many", r'^population.count: expected an integer in 1..=.*got "many"'),
        ("path.crash_depth", 1.5, r"^path.crash_depth: expected a number > 0 and < 1, got 1.5"),
    ],
)
def test_with_params_errors_name_the_key(key: str, value: object, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        small().with_params({key: value})


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("hi = 50", 'hi = "x"'),
            r's.toml: population.leverage.hi: expected a number >= 1, got "x"$',
        ),
        (("hi = 50", "hi = 80"), r"population.leverage.hi: expected a number <= 50 \(10000"),
        (("lo = 1, hi", "lo = 0.5, hi"), r"population.leverage.lo: expected a number >= 1"),
        (
            ("median = 1_000_000", "median = 0"),
            r"population.collateral.median: expected a number >= 1",
        ),
        (("count = 300", "count = 300\ncolour = 1"), r"s.toml: population.colour: unknown key"),
        (("seed = 5", "seed = 5\nsteps = 9"), r"s.toml: steps: unknown key; expected one of name"),
        (("count = 300", "count = 3.5"), r"population.count: expected an integer in 1..="),
        (("seed = 5", "seed = -5"), r"s.toml: seed: expected an integer in 0..="),
        (('kind = "crash_rebound"', 'kind = "brownian"'), r'path.kind: expected one of "gbm"'),
        (("median = 1_000_000, ", ""), r"population.collateral.median: missing"),
        (("start_price = 1_000_000", ""), r"market\[0\].start_price: missing; path kind"),
        (('name = "BTC"', "tick_value = 2"), r"market\[0\].name: missing"),
        (
            ("mmr_bps = 100", "mmr_bps = 300"),
            r"market\[0\].mmr_bps: expected an integer in 1..=200",
        ),
        (("insurance_fund = 10", "insurance_fund = 1e3"), r"insurance_fund: expected an integer"),
        (("rate_bps = 1", "rate_bps = true"), r"funding.rate_bps: expected an integer"),
        (
            ("depth_lots = 10", "depth_lots = 0"),
            r"execution.depth_lots: expected an integer in 1..=2\*\*62",
        ),
        (("[path]\nkind", "steps = 5\n[path]\nkind"), r"s.toml: population.steps: unknown key"),
        (
            ("market_weights = [1, 1]", "market_weights = [1]"),
            r"market_weights: expected 2 weights",
        ),
    ],
)
def test_bad_files_name_the_key(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    good = """
name = "t"
seed = 5
insurance_fund = 10

[[market]]
name = "BTC"
start_price = 1_000_000
mmr_bps = 100

[[market]]
name = "ETH"
start_price = 50_000

[population]
count = 300
collateral = { kind = "lognormal", median = 1_000_000, sigma = 1.0 }
leverage = { kind = "uniform", lo = 1, hi = 50 }
market_weights = [1, 1]

[path]
kind = "crash_rebound"
steps = 300

[funding]
rate_bps = 1

[execution]
depth_lots = 10
"""
    assert Scenario.from_toml(write_toml(tmp_path, good)).build().num_accounts == 300
    old, new = edit
    assert old in good
    path = write_toml(tmp_path, good.replace(old, new, 1))
    with pytest.raises(ScenarioError, match=message) as info:
        Scenario.from_toml(path)
    assert str(path) in str(info.value)


def test_missing_market_and_syntax_errors(tmp_path: Path) -> None:
    with pytest.raises(
        ScenarioError, match=r"s.toml: market: missing; expected at least one \[\[market\]\] table$"
    ):
        Scenario.from_toml(write_toml(tmp_path, 'name = "x"\n'))
    with pytest.raises(ScenarioError, match=r"s.toml: TOML syntax error: .*line 2"):
        Scenario.from_toml(write_toml(tmp_path, 'name = "x"\nseed = = 4\n'))
    with pytest.raises(ScenarioError, match=r"nope.toml: file not found"):
        Scenario.from_toml(tmp_path / "nope.toml")
    with pytest.raises(ScenarioError, match=r"^market: expected a list of market tables"):
        Scenario.from_dict({"market": {"name": "x"}})
    with pytest.raises(ScenarioError, match=r"^population.collateral: expected a table, got 5"):
        Scenario.from_dict(
            {"market": [{"name": "x", "start_price": 1}], "population": {"collateral": 5}}
        )


def test_scenario_error_is_an_input_error_and_pickles() -> None:
    error = ScenarioError("population.count", "expected an integer >= 1, got 0", "s.toml")
    assert isinstance(error, InvalidInputError)
    assert isinstance(error, ValueError)
    back = pickle.loads(pickle.dumps(error))
    assert str(back) == "s.toml: population.count: expected an integer >= 1, got 0"
    assert back.key == "population.count"
    assert back.source == "s.toml"
    assert pickle.loads(pickle.dumps(Scenario.demo())) == Scenario.demo()


def test_objects_validate_themselves() -> None:
    with pytest.raises(ScenarioError, match=r"^hi: expected a number >= lo = 5.0, got 2.0"):
        Distribution.uniform(5, 2)
    with pytest.raises(ScenarioError, match=r"^leverage.hi: expected a number >= lo = 5.0"):
        Population(leverage={"kind": "uniform", "lo": 5, "hi": 2})  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match=r'^median: not used by kind "uniform"'):
        Distribution(kind="uniform", lo=1, hi=2, median=3)
    with pytest.raises(ScenarioError, match=r"^slippage_bps: expected an integer in 0..=10000"):
        Execution(slippage_bps=-1)
    with pytest.raises(ScenarioError, match=r"^waterfall: unknown waterfall keys: x"):
        Policy(name="p", waterfall={"x": 1})  # type: ignore[arg-type]
    with pytest.raises(ScenarioError, match=r"^policy: expected at least one policy"):
        Scenario(name="s", seed=0, markets=(MarketSpec("X", start_price=1),), policies=())
    with pytest.raises(ScenarioError, match=r'^file: missing; kind "file" needs'):
        PricePath(kind="file")


# --------------------------------------------------------------------------- scale


@pytest.mark.slow
def test_build_a_million_accounts_by_ten_thousand_steps_fast() -> None:
    scenario = Scenario.demo().with_params(
        {"population.count": 1_000_000, "path.steps": 10_000, "path.crash_step": 3_000}
    )
    started = time.perf_counter()
    inputs = scenario.build()
    seconds = time.perf_counter() - started
    assert inputs.num_accounts == 1_000_000
    assert inputs.num_steps == 10_000
    assert seconds < 10  # about 0.5 s here; generous for slow CI machines
