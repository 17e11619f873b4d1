"""Engine benchmark: mutualize's backtest engine beside a naive numpy loop and lrvx.

Run from the repository root::

    python benches/bench_engine.py [--quick] [--sizes 100000x10000,400000x100,...]
                                   [--skip-lrvx] [--timeout SECONDS] [--policy NAME]
                                   [--seed N] [--json out.json]

Every engine runs the same scenario shape, built from one seed: ``accounts`` traders on
one perpetual market, half long and half short, with leverage 1..50x, through a price
path of ``steps`` marks with a 15% crash in one step half way through. Three engines:

* **mutualize**: ``mutualize.sim.engine.run_inputs`` on an :class:`EngineInputs` built
  straight from the numpy arrays, with the ``pro_rata`` policy (``--policy`` to change):
  exact integers, insurance fund, then a pro-rata haircut of the winners' profit.
* **naive**: what a user would write instead: a numpy float loop that recomputes every
  account's equity and maintenance margin at every step (accounts x steps work), closes
  those below maintenance at the mark less slippage, pays their deficits from the
  insurance fund, and haircuts the winners pro rata in floats.
* **lrvx**: ``lrvx.LiquidationEngine`` (a C++ engine with Python bindings, floats,
  insurance fund then ADL), set up as a new user would: one ``open_position`` per
  account, one maintenance tier, the same slippage and fund, then ``on_mark`` per step.

Each (engine, shape) runs in its own subprocess with a timeout, so a size that does not
finish is reported as ``> timeout``; the naive loop is skipped (with its estimated time)
where it would not finish. The time reported is the wall time from the arrays to the
final result, set-up included (``open_position`` calls, the ledger's opening fills); the
population and path are generated before the clock starts.

Units of the scenario (the money path of mutualize is exact integers):

* settlement asset: a 6-decimal USD stablecoin; 1 minor unit = 0.000001 USD;
* price tick: 0.01 USD; the path starts at 60,000.00 USD = 6,000,000 ticks;
* lot: 0.0001 BTC, so ``tick_value`` = 0.0001 BTC x 0.01 USD = 1 minor unit per lot
  per tick, and one lot at the start is worth 6 USD;
* margins: initial 200 bps (50x), maintenance 50 bps, no liquidation penalty;
  liquidations fill 10 bps through the mark;
* collateral: log-normal, median 1,000 USD, clipped to 10..100,000 USD, whole cents;
* size: ``floor(collateral x leverage / 6 USD)`` lots (at least 1), entry at the
  first mark; the insurance fund starts at 1% of the total collateral;
* path: a seeded random walk of 3 bps per step, a one-step gap of -15% at
  ``steps // 2``, rounded to ticks. lrvx and the naive loop read the same ticks as
  ``ticks x 0.01`` USD.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]

MINOR_PER_USD = 1_000_000  # 6-decimal stablecoin
USD_PER_TICK = 0.01
BTC_PER_LOT = 0.0001
TICK_VALUE = 1  # minor units per lot per tick: 0.0001 BTC x 0.01 USD = 1e-6 USD
START_TICKS = 6_000_000  # 60,000.00 USD
IMR_BPS = 200
MMR_BPS = 50
SLIPPAGE_BPS = 10
CRASH = 0.15
STEP_VOL = 0.0003  # log-price standard deviation per step
FUND_SHARE = 0.01  # the insurance fund starts at this share of all collateral

ENGINES = ("mutualize", "naive", "lrvx")
DEFAULT_SIZES = "10000x1000,100000x10000,400000x100,1000000x1000,1000000x10000"
QUICK_SIZES = "2000x500,20000x200"
DEFAULT_TIMEOUT = 120.0
DEFAULT_SEED = 20_251_010
CALIBRATION = (20_000, 200)  # the naive loop's size for estimating its cost per account-step


class UnknownEngineError(ValueError):
    """An engine name other than ``mutualize``, ``naive`` or ``lrvx``."""


@dataclass(frozen=True)
class Shape:
    """A benchmark size: ``accounts`` traders over ``steps`` price steps."""

    accounts: int
    steps: int

    def __str__(self) -> str:
        return f"{self.accounts:,} x {self.steps:,}"

    @property
    def work(self) -> int:
        """Account-steps: what a loop over every account at every step costs."""
        return self.accounts * self.steps


def parse_shape(text: str) -> Shape:
    """Parse ``ACCOUNTSxSTEPS`` (underscores allowed, e.g. ``1_000_000x10_000``)."""
    parts = text.strip().lower().replace("_", "").split("x")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(
            f"a size is ACCOUNTSxSTEPS, e.g. 100000x1000; got {text!r}"
        )
    accounts, steps = int(parts[0]), int(parts[1])
    if accounts < 2 or steps < 2:
        raise argparse.ArgumentTypeError(f"a size needs >= 2 accounts and >= 2 steps; got {text!r}")
    return Shape(accounts, steps)


def parse_shapes(text: str) -> list[Shape]:
    """Parse a comma-separated list of ``ACCOUNTSxSTEPS`` sizes."""
    return [parse_shape(part) for part in text.split(",") if part.strip()]


# --------------------------------------------------------------------------- scenario


@dataclass(frozen=True)
class Population:
    """The traders and the path, as exact integers (the naive loop and lrvx convert).

    collateral: minor units; size: signed lots (> 0 long); entry: ticks; leverage: the
    multiple each size was drawn with (1..50); prices: ticks, one per step;
    insurance_fund: minor units.
    """

    collateral: I64
    size: I64
    entry: I64
    leverage: I64
    prices: I64
    insurance_fund: int


def make_population(shape: Shape, seed: int) -> Population:
    """The seeded population and price path of a shape (identical for every engine)."""
    rng = np.random.default_rng(seed)
    n = shape.accounts
    usd = np.clip(rng.lognormal(math.log(1_000.0), 1.0, n), 10.0, 100_000.0)
    collateral = np.round(usd * 100.0).astype(np.int64) * (MINOR_PER_USD // 100)
    leverage = rng.integers(1, 51, n, dtype=np.int64)
    side = np.where(np.arange(n) % 2 == 0, 1, -1).astype(np.int64)
    lot_notional = START_TICKS * TICK_VALUE  # minor units
    lots = np.maximum(collateral * leverage // lot_notional, 1)
    entry = np.full(n, START_TICKS, dtype=np.int64)

    steps = shape.steps
    log_moves = rng.normal(0.0, STEP_VOL, steps)
    log_moves[0] = 0.0  # the ledger starts at the entry price
    log_moves[steps // 2] = math.log(1.0 - CRASH)
    prices = np.round(START_TICKS * np.exp(np.cumsum(log_moves))).astype(np.int64)
    prices = np.maximum(prices, 1)
    fund = int(collateral.sum()) * int(FUND_SHARE * 10_000) // 10_000
    return Population(collateral, lots * side, entry, leverage, prices, fund)


# --------------------------------------------------------------------------- engines


def run_mutualize(
    shape: Shape, seed: int = DEFAULT_SEED, policy: str = "pro_rata"
) -> dict[str, Any]:
    """Run mutualize's engine on the shape; the figures of the run (seconds, counts)."""
    try:
        from mutualize.sim.engine import run_inputs
        from mutualize.sim.inputs import EngineInputs
        from mutualize.sim.scenario import policy as named_policy
    except ImportError as exc:  # not installed, or built without the engine
        return {"skipped": f"mutualize's engine is not available ({exc})"}
    pop = make_population(shape, seed)
    steps = shape.steps
    notional = int(np.abs(pop.size).sum()) * START_TICKS * TICK_VALUE
    start = time.perf_counter()
    inputs = EngineInputs(
        tick_value=np.array([TICK_VALUE], dtype=np.int64),
        imr_bps=np.array([IMR_BPS], dtype=np.int64),
        mmr_bps=np.array([MMR_BPS], dtype=np.int64),
        penalty_bps=np.array([0], dtype=np.int64),
        market_names=("BTC-PERP",),
        collateral=pop.collateral,
        market=np.zeros(shape.accounts, dtype=np.int64),
        size=pop.size,
        entry=pop.entry,
        prices=pop.prices.reshape(steps, 1),
        funding=np.zeros((steps, 1), dtype=np.int64),
        insurance_fund=pop.insurance_fund,
        # the house is every trader's counterparty and the backstop: enough to margin
        # the whole book at 1x, so it never runs out in a cascade
        house_collateral=max(10**15, notional),
        slippage_bps=SLIPPAGE_BPS,
    )
    result = run_inputs(inputs, named_policy(policy), scenario_name="bench", seed=seed)
    seconds = time.perf_counter() - start
    series, totals = result.series, result.totals
    usd = 1.0 / MINOR_PER_USD
    return {
        "seconds": seconds,
        "liquidations": int(totals["liquidations"]),
        "bankruptcies": int(series["bankruptcies"].sum()),
        "insurance_paid_usd": int(totals["paid_insurance"]) * usd,
        "socialized_usd": int(totals["paid_socialized"] + totals["paid_adl"]) * usd,
        "bad_debt_usd": int(totals["bad_debt"]) * usd,
        "adl_closeouts": int(series["adl_fills"].sum()),
        "haircut_accounts": int(series["haircut_accounts"].sum()),
    }


def run_naive(shape: Shape, seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """The numpy float loop a user would write; the figures of the run."""
    pop = make_population(shape, seed)
    start = time.perf_counter()
    # floats in USD and BTC, as a user would hold them
    collateral = pop.collateral / MINOR_PER_USD
    deposit = collateral.copy()
    size = pop.size * BTC_PER_LOT
    entry = pop.entry * USD_PER_TICK
    prices = (pop.prices * USD_PER_TICK).tolist()
    fund = pop.insurance_fund / MINOR_PER_USD
    mmr, slip = MMR_BPS / 10_000, SLIPPAGE_BPS / 10_000
    liquidations = bankruptcies = haircut_accounts = 0
    insurance_paid = socialized = bad_debt = 0.0
    for price in prices:
        equity = collateral + size * (price - entry)
        maintenance = np.abs(size) * (price * mmr)
        under = equity < maintenance
        if not under.any():
            continue
        idx = np.flatnonzero(under)
        fill = price * (1.0 - slip * np.sign(size[idx]))  # longs sell below, shorts buy above
        left = collateral[idx] + size[idx] * (fill - entry[idx])
        deficits = np.maximum(-left, 0.0)
        collateral[idx] = np.maximum(left, 0.0)
        size[idx] = 0.0
        liquidations += idx.size
        bankruptcies += int(np.count_nonzero(deficits))
        deficit = float(deficits.sum())
        paid = min(fund, deficit)
        fund -= paid
        insurance_paid += paid
        rest = deficit - paid
        if rest <= 0.0:
            continue
        profit = equity - deposit  # net of earlier haircuts
        profit[idx] = 0.0
        winners = profit > 0.0
        total = float(profit[winners].sum())
        if total <= 0.0:
            bad_debt += rest
            continue
        taken = min(rest, total)
        collateral[winners] -= profit[winners] * (taken / total)
        haircut_accounts += int(np.count_nonzero(winners))
        socialized += taken
        bad_debt += rest - taken
    return {
        "seconds": time.perf_counter() - start,
        "liquidations": liquidations,
        "bankruptcies": bankruptcies,
        "insurance_paid_usd": insurance_paid,
        "socialized_usd": socialized,
        "bad_debt_usd": bad_debt,
        "adl_closeouts": 0,
        "haircut_accounts": haircut_accounts,
    }


def run_lrvx(shape: Shape, seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """lrvx's ``LiquidationEngine`` on the shape, set up as a new user would."""
    try:
        import lrvx
    except ImportError as exc:
        return {"skipped": f"lrvx not installed ({exc}); pip install 'mutualize[bench]'"}
    pop = make_population(shape, seed)
    quantities = (pop.size * BTC_PER_LOT).tolist()
    equities = (pop.collateral / MINOR_PER_USD).tolist()
    entries = (pop.entry * USD_PER_TICK).tolist()
    prices = (pop.prices * USD_PER_TICK).tolist()
    symbol = 1
    start = time.perf_counter()
    engine = lrvx.LiquidationEngine()  # ADL on (PnL-ratio queue), no tiers, empty fund
    engine.add_tier(0.0, MMR_BPS / 10_000)  # one maintenance rate for every notional
    engine.set_liquidation_slippage_bps(float(SLIPPAGE_BPS))
    engine.set_insurance_fund_capital(pop.insurance_fund / MINOR_PER_USD)
    open_position = engine.open_position
    for account, (quantity, equity, entry) in enumerate(
        zip(quantities, equities, entries, strict=True)
    ):
        open_position(account, symbol, quantity, entry, equity)
    setup = time.perf_counter() - start
    on_mark = engine.on_mark
    for price in prices:
        on_mark(symbol, price)
    seconds = time.perf_counter() - start
    by_fund = engine.deficits_paid_by_fund()
    by_adl = engine.deficits_paid_by_adl()
    return {
        "seconds": seconds,
        "setup_seconds": setup,
        "liquidations": engine.liquidations_count(),
        # no per-account deficits: lrvx pools a step's deficits into one fund payment
        # and a run of ADL closeouts
        "insurance_paid_usd": float(sum(by_fund)),
        "socialized_usd": float(sum(by_adl)),
        "adl_closeouts": engine.adl_closeouts_count(),
        "haircut_accounts": 0,
        "insurance_payments": engine.insurance_payments_count(),
    }


def run_engine(engine: str, shape: Shape, seed: int, policy: str) -> dict[str, Any]:
    """Run one engine on one shape in this process."""
    if engine == "mutualize":
        return run_mutualize(shape, seed, policy)
    if engine == "naive":
        return run_naive(shape, seed)
    if engine == "lrvx":
        return run_lrvx(shape, seed)
    raise UnknownEngineError(f"unknown engine {engine!r}; expected one of {ENGINES}")


# --------------------------------------------------------------------------- driver


def run_in_subprocess(
    engine: str, shape: Shape, seed: int, policy: str, timeout: float
) -> dict[str, Any]:
    """Run one engine in a fresh interpreter; ``{"timeout": s}`` if it did not finish."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        engine,
        "--sizes",
        f"{shape.accounts}x{shape.steps}",
        "--seed",
        str(seed),
        "--policy",
        policy,
    ]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "MUTUALIZE_NO_PROGRESS": "1"},  # no bar inside a timing
        )
    except subprocess.TimeoutExpired:  # the child is killed by subprocess.run
        return {"timeout": timeout}
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
        return {"error": tail[0]}
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _cell_seconds(figures: dict[str, Any] | None) -> str:
    if figures is None:
        return ""
    if "seconds" in figures:
        return f"{figures['seconds']:.2f}"
    if "timeout" in figures:
        return f"> {figures['timeout']:.0f}"
    if "estimate" in figures:
        return f"skipped (est. {figures['estimate']:,.0f} s)"
    if "skipped" in figures:
        return "skipped"
    return "error"


def _ratio(slow: dict[str, Any] | None, fast: dict[str, Any] | None) -> str:
    if not fast or "seconds" not in fast or not slow:
        return ""
    if "seconds" in slow:
        return f"{slow['seconds'] / fast['seconds']:,.1f}x"
    if "timeout" in slow:
        return f"> {slow['timeout'] / fast['seconds']:,.0f}x"
    if "estimate" in slow:
        return f"~{slow['estimate'] / fast['seconds']:,.0f}x (est.)"
    return ""


def _count(figures: dict[str, Any] | None, key: str) -> str:
    if not figures or key not in figures:
        return "-"
    return f"{figures[key]:,}"


def _usd(figures: dict[str, Any], key: str) -> str:
    return f"{figures[key]:,.0f}" if key in figures else "-"


def print_tables(results: dict[Shape, dict[str, dict[str, Any]]]) -> None:
    """Print the summary table and the per-engine details (markdown)."""
    print(
        "| accounts x steps | mutualize s | naive s | lrvx s | lrvx / mutualize "
        "| naive / mutualize | liquidations (mutualize / naive / lrvx) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for shape, row in results.items():
        mz, naive, lrvx = row.get("mutualize"), row.get("naive"), row.get("lrvx")
        liq = " / ".join(_count(row.get(e), "liquidations") for e in ENGINES)
        print(
            f"| {shape} | {_cell_seconds(mz)} | {_cell_seconds(naive)} | {_cell_seconds(lrvx)} "
            f"| {_ratio(lrvx, mz)} | {_ratio(naive, mz)} | {liq} |"
        )
    print()
    print(
        "| accounts x steps | engine | s | liquidations | with a deficit | fund paid (USD) "
        "| socialized or ADL (USD) | bad debt (USD) | ADL closeouts | haircuts |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for shape, row in results.items():
        for engine, fig in row.items():
            if "seconds" not in fig:
                note = fig.get("skipped") or fig.get("error") or _cell_seconds(fig)
                print(f"| {shape} | {engine} | {note} | | | | | | | |")
                continue
            print(
                f"| {shape} | {engine} | {fig['seconds']:.2f} | {fig['liquidations']:,} "
                f"| {_count(fig, 'bankruptcies')} | {_usd(fig, 'insurance_paid_usd')} "
                f"| {_usd(fig, 'socialized_usd')} | {_usd(fig, 'bad_debt_usd')} "
                f"| {fig['adl_closeouts']:,} "
                f"| {fig['haircut_accounts']:,} |"
            )


def main(argv: list[str] | None = None) -> int:
    """Entry point: run every engine on every size and print the tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a CI smoke run)")
    parser.add_argument(
        "--sizes", type=parse_shapes, help=f"ACCOUNTSxSTEPS,... (default {DEFAULT_SIZES})"
    )
    parser.add_argument("--skip-lrvx", action="store_true", help="do not run lrvx")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per engine and size"
    )
    parser.add_argument("--policy", default="pro_rata", help="mutualize's waterfall policy")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--worker", choices=ENGINES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.timeout <= 0:
        parser.error("--timeout must be > 0 seconds")
    shapes: list[Shape] = args.sizes or parse_shapes(QUICK_SIZES if args.quick else DEFAULT_SIZES)

    if args.worker:  # a child: one engine, one size, figures as one JSON line
        print(json.dumps(run_engine(args.worker, shapes[0], args.seed, args.policy)))
        return 0

    print(
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"{os.cpu_count()} cpus, seed {args.seed}, policy {args.policy}, "
        f"timeout {args.timeout:.0f} s",
        flush=True,
    )
    engines = [e for e in ENGINES if not (e == "lrvx" and args.skip_lrvx)]
    naive_cost: float | None = None  # seconds per account-step, from the largest naive run
    naive_work = 0
    results: dict[Shape, dict[str, dict[str, Any]]] = {}
    for shape in shapes:
        row: dict[str, dict[str, Any]] = {}
        for engine in engines:
            if engine == "naive":
                if naive_cost is None:
                    calib = Shape(*CALIBRATION)
                    fig = run_in_subprocess("naive", calib, args.seed, args.policy, args.timeout)
                    if "seconds" in fig:
                        naive_cost, naive_work = fig["seconds"] / calib.work, calib.work
                estimate = (naive_cost or 0.0) * shape.work
                if estimate > args.timeout:
                    row[engine] = {"estimate": estimate}
                    print(f"{shape}: naive skipped (est. {estimate:,.0f} s)", file=sys.stderr)
                    continue
            fig = run_in_subprocess(engine, shape, args.seed, args.policy, args.timeout)
            row[engine] = fig
            if engine == "naive" and "seconds" in fig and shape.work >= naive_work:
                naive_cost, naive_work = fig["seconds"] / shape.work, shape.work
            print(f"{shape}: {engine} {_cell_seconds(fig)}", file=sys.stderr, flush=True)
        results[shape] = row
    print()
    print_tables(results)
    if args.json:
        payload = {str(shape): row for shape, row in results.items()}
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
