"""Ledger benchmarks, side by side with the pure-Python reference in the same run.

    python benches/bench_ledger.py [--quick] [--json out.json]

Measures fills per second through the per-call API (one Python call per fill) and the
batch API (``fill_many``: numpy arrays in, one call), and a liquidation whose deficit is
socialized pro rata over the unrealized profit of 1,000,000 accounts. Medians of
interleaved rounds; the reference runs on smaller sizes (it is ~100x slower).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import mutualize as mz
from mutualize.reference.ledger import Ledger as ReferenceLedger

TARGETS = {
    "per_call_fills_per_s": 1_000_000,
    "batched_fills_per_s": 10_000_000,
    "socialize_1e6_ms": 50.0,
}


def _ledger(cls: Callable[[], Any], accounts: int) -> Any:
    ledger = cls()
    ledger.create_market(1, 1_000, 1_000, 500, 0)
    for _ in range(accounts):
        ledger.create_account()
    for a in range(accounts):
        ledger.deposit(a, 10**12)
    return ledger


def per_call_fills(cls: Callable[[], Any], n: int, accounts: int = 1_000) -> float:
    """Fills per second, one Python call per fill (margin checked)."""
    ledger = _ledger(cls, accounts)
    rng = np.random.default_rng(1)
    buyers = rng.integers(0, accounts, n).tolist()
    sellers = [(b + 1) % accounts for b in buyers]
    fill = ledger.fill
    start = time.perf_counter()
    for b, s in zip(buyers, sellers, strict=True):
        fill(b, s, 0, 1_000, 1)
    return n / (time.perf_counter() - start)


def batched_fills(n: int, accounts: int = 1_000) -> float:
    """Fills per second through ``fill_many`` (one call, arrays)."""
    ledger = mz.Ledger()
    ledger.create_market(1, 1_000, 1_000, 500, 0)
    ledger.create_accounts(accounts)
    for a in range(accounts):
        ledger.deposit(a, 10**12)
    rng = np.random.default_rng(2)
    buyers = rng.integers(0, accounts, n, dtype=np.int64)
    sellers = (buyers + 1) % accounts
    prices = np.full(n, 1_000, dtype=np.int64)
    sizes = np.ones(n, dtype=np.int64)
    start = time.perf_counter()
    ledger.fill_many(0, buyers, sellers, prices, sizes)
    return n / (time.perf_counter() - start)


def socialization_ms(accounts: int) -> float:
    """One liquidation whose deficit is socialized over ``accounts`` winners (ms)."""
    ledger = mz.Ledger()
    ledger.create_market(1, 1_000, 1_000, 500, 0)
    ledger.create_accounts(accounts + 2)
    whale, backstop = 0, 1
    ledger.deposit(whale, 10 * accounts)  # thin margin for a short of `accounts` lots
    ledger.deposit(backstop, 10**15)
    for a in range(2, accounts + 2):
        ledger.deposit(a, 10_000)
    buyers = np.arange(2, accounts + 2, dtype=np.int64)
    sellers = np.zeros(accounts, dtype=np.int64)
    ledger.fill_many(
        0,
        buyers,
        sellers,
        np.full(accounts, 1_000, dtype=np.int64),
        np.ones(accounts, dtype=np.int64),
    )
    ledger.set_mark(0, 1_200)  # the short is deep under water: a deficit to socialize
    start = time.perf_counter()
    event = ledger.liquidate(whale, backstop)
    elapsed = (time.perf_counter() - start) * 1e3
    assert event["deficit"] > 0
    assert len(event["haircuts"]) > accounts // 2
    ledger.check()
    return elapsed


def _median(samples: list[float]) -> float:
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    rounds = 1 if args.quick else args.rounds
    n_call = 50_000 if args.quick else 300_000
    n_batch = 200_000 if args.quick else 2_000_000
    n_ref = 5_000 if args.quick else 20_000
    n_social = 100_000 if args.quick else 1_000_000

    results: dict[str, list[float]] = {k: [] for k in ("call", "batch", "reference", "social")}
    for _ in range(rounds):  # interleaved: every method once per round
        results["call"].append(per_call_fills(mz.Ledger, n_call))
        results["batch"].append(batched_fills(n_batch))
        results["reference"].append(per_call_fills(ReferenceLedger, n_ref))
        results["social"].append(socialization_ms(n_social))

    call, batch = _median(results["call"]), _median(results["batch"])
    ref, social = _median(results["reference"]), _median(results["social"])
    print(f"mutualize {mz.__version__}, backend {mz.backend}, numpy {np.__version__}")
    print()
    print("| measure | mutualize | reference | ratio | target |")
    print("| --- | ---: | ---: | ---: | --- |")
    print(
        f"| fills/s, one call each | {call:,.0f} | {ref:,.0f} | {call / ref:,.0f}x | "
        f">= 1,000,000/s and >= 100x |"
    )
    print(
        f"| fills/s, `fill_many` | {batch:,.0f} | {ref:,.0f} | {batch / ref:,.0f}x | "
        f">= 10,000,000/s |"
    )
    print(
        f"| liquidation socialized over {n_social:,} accounts | {social:,.1f} ms | | | "
        f"< 50 ms (1e6) |"
    )
    figures = {
        "per_call_fills_per_s": call,
        "batched_fills_per_s": batch,
        "reference_fills_per_s": ref,
        "socialize_ms": social,
        "socialize_accounts": n_social,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)


if __name__ == "__main__":
    main()
