"""A prolonged cascade: the demo's crash scaled up, timed per policy.

Run from the repository root::

    python benches/bench_cascade.py [--quick] [--accounts 1000000] [--steps 10000]
                                    [--policies pro_rata,bitmex_adl,...]

``bench_engine.py`` times a one-step gap against lrvx and a naive loop. This one is the
harder shape for the engine: ``Scenario.demo()`` (two markets, leverage 1..20x, a
crash-and-rebound shaped like 10 October 2025, funding every 480 steps, a backstop
whose slippage grows with the lots it already took in the step) with ``accounts``
accounts and ``steps`` steps, where bankruptcies keep arriving for hundreds of steps,
each step with a deficit socializes over every account, and most accounts end up
liquidated. It prints, per policy: the seconds of the run (the population and path are
built before the clock starts), the share of accounts liquidated, the steps that
socialized a loss, and, on a smaller copy of the scenario, the index against the naive
scan (``scan="every"``) and against the pure-Python reference engine, as ratios.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mutualize.sim import Scenario
from mutualize.sim.engine import run_inputs
from mutualize.sim.inputs import EngineInputs


def scenario(accounts: int, steps: int) -> Scenario:
    """The demo's crash at this size (crash a third of the way in)."""
    return Scenario.demo().with_params(
        {"population.count": accounts, "path.steps": steps, "path.crash_step": steps // 3}
    )


def timed(
    inputs: EngineInputs, policy: str, *, scan: str = "index", backend: str | None = None
) -> tuple[float, int, int]:
    """(seconds, liquidations, steps with haircuts) of one run."""
    started = time.perf_counter()
    result = run_inputs(inputs, policy, progress=False, scan=scan, backend=backend)
    seconds = time.perf_counter() - started
    haircut_steps = int(np.count_nonzero(result.series["haircuts"].to_numpy()))
    return seconds, int(result.totals["liquidations"]), haircut_steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run (seconds)")
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--policies", default="pro_rata,capped_pro_rata,bitmex_adl")
    args = parser.parse_args()
    accounts, steps = (20_000, 2_000) if args.quick else (args.accounts, args.steps)
    small = (2_000, 1_000) if args.quick else (5_000, 1_000)

    started = time.perf_counter()
    inputs = scenario(accounts, steps).build()
    print(f"built {accounts:,} accounts x {steps:,} steps in {time.perf_counter() - started:.2f} s")
    print()
    print("| policy | seconds | liquidated | steps socializing | per step (ms) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for policy in args.policies.split(","):
        seconds, liquidations, haircut_steps = timed(inputs, policy)
        share = liquidations / accounts
        print(
            f"| {policy} | {seconds:.2f} | {share:.0%} | {haircut_steps:,} | "
            f"{1_000 * seconds / steps:.2f} |"
        )

    n, s = small
    inputs = scenario(n, s).build()
    policy = args.policies.split(",")[0]
    index, _, _ = timed(inputs, policy)
    every, _, _ = timed(inputs, policy, scan="every")
    reference, _, _ = timed(inputs, policy, backend="python")
    print()
    print(f"{n:,} accounts x {s:,} steps, {policy}:")
    print("| engine | seconds | / index |")
    print("| --- | ---: | ---: |")
    for name, value in (
        ("index (default)", index),
        ("naive scan (scan='every')", every),
        ("pure-Python reference", reference),
    ):
        print(f"| {name} | {value:.3f} | {value / index:.1f}x |")


if __name__ == "__main__":
    main()
