"""The backtest engine's Python face: scenario in, :class:`RunResult` out.

The work happens in the compiled core (``mutualize._core.simulate``), with the GIL
released: a liquidation-price index per market and side, liquidation rounds per step,
and socialization per step or per bankruptcy (docs/backtests.md). Money is in integer
minor units, prices in ticks, sizes in lots.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from .inputs import EngineInputs
from .progress import progress_bar
from .results import Comparison, RunResult
from .scenario import Policy, Scenario
from .scenario import policy as named_policy

__all__ = ["SCANS", "compare", "run", "run_inputs"]

#: How liquidatable accounts are found: ``"index"`` (by liquidation price, the default)
#: or ``"every"`` (every account every round: the naive loop, for tests).
SCANS = ("index", "every")


def _core(required: bool = True) -> Any:
    """The compiled extension (with its ``simulate``), or ``None`` when it cannot be
    imported and ``required`` is false."""
    try:
        from .. import _core

        _core.simulate  # noqa: B018 - an older build lacks the engine
    except (ImportError, AttributeError) as exc:  # pragma: no cover - depends on the install
        if not required:
            return None
        raise ImportError(
            "the compiled backtest engine needs the extension mutualize._core, which "
            f"could not be imported ({exc}); install a mutualize wheel for this platform "
            "or run with backend='python'"
        ) from exc
    return _core


def run_inputs(
    inputs: EngineInputs,
    policy: Policy | str,
    *,
    progress: bool | None = None,
    scenario_name: str = "custom",
    seed: int = 0,
    scan: str = "index",
    backend: str | None = None,
) -> RunResult:
    """Run one policy over already-built inputs.

    Args:
        inputs: the exact arrays (see :class:`EngineInputs`); validated first.
        policy: a :class:`Policy` or a name from ``mutualize.sim.POLICY_NAMES``.
        progress: show a progress bar (``None``: when stderr is a terminal and the run
            takes over a second).
        scenario_name, seed: labels carried into the result.
        scan: ``"index"`` or ``"every"`` (see :data:`SCANS`).
        backend: ``"rust"`` (the compiled engine), ``"python"`` (the pure-Python
            reference engine, ``mutualize.reference.sim``: the same result to the unit,
            far slower) or ``None``: the compiled one when the extension imports, else
            the reference.

    Raises:
        InvalidInputError: bad inputs, policy or backend (the message names the field).
        ImportError: ``backend="rust"`` without the compiled extension.
        InvariantError: the ledger found a broken invariant (a bug: please report it).
    """
    chosen = named_policy(policy) if isinstance(policy, str) else policy
    if not isinstance(chosen, Policy):
        raise InvalidInputError(f"policy must be a Policy or a name, got {policy!r}")
    if scan not in SCANS:
        raise InvalidInputError(f"scan must be one of {', '.join(SCANS)}, got {scan!r}")
    if backend not in (None, "rust", "python"):
        raise InvalidInputError(f"backend must be 'rust', 'python' or None, got {backend!r}")
    inputs.validate()
    core = None if backend == "python" else _core(required=backend == "rust")
    steps = inputs.num_steps
    started = time.perf_counter()
    with progress_bar(steps, enabled=progress, desc=chosen.name) as bar:
        done = 0

        def tick(step: int) -> None:
            nonlocal done
            bar.update(step - done)
            done = step

        if core is None:
            from ..reference.sim import simulate

            raw = simulate(
                inputs,
                chosen.waterfall,
                chosen.granularity,
                chosen.session_steps or inputs.session_steps,
                scan,
                tick,
            )
        else:
            raw = core.simulate(
                {**vars(inputs), "session_steps": chosen.session_steps or inputs.session_steps},
                chosen.waterfall.to_dict(),
                chosen.granularity,
                scan,
                tick,
            )
    seconds = time.perf_counter() - started
    return RunResult.from_raw(_record(inputs, chosen, raw, scenario_name, seed, seconds))


def _record(
    inputs: EngineInputs,
    chosen: Policy,
    raw: dict[str, Any],
    scenario_name: str,
    seed: int,
    seconds: float,
) -> dict[str, Any]:
    series: dict[str, Any] = dict(raw["series"])
    steps = inputs.num_steps
    series["step"] = np.arange(steps, dtype=np.int64)
    series["marks"] = inputs.prices
    accounts: dict[str, Any] = dict(raw["accounts"])
    n = inputs.num_accounts
    accounts.update(
        account=np.arange(1, n + 1, dtype=np.int64),
        market=inputs.market,
        size0=inputs.size,
        entry=inputs.entry,
        collateral0=inputs.collateral,
    )
    engine_totals = raw["totals"]
    totals = {
        "insurance_fund_start": int(inputs.insurance_fund),
        "insurance_fund_end": int(engine_totals["insurance_fund_end"]),
        "bad_debt": int(engine_totals["bad_debt"]),
        "house_equity": int(engine_totals["house_equity"]),
        "house_haircut": int(engine_totals["house_haircut"]),
        "deficit": _sum(series["deficit"]),
        "haircuts": _sum(series["haircuts"]),
        "adl_loss": _sum(accounts["adl_loss"]),
        "liquidations": _sum(series["liquidations"]),
    }
    return {
        "scenario": scenario_name,
        "policy": chosen.name,
        "seed": seed,
        "seconds": seconds,
        "market_names": inputs.market_names,
        "series": series,
        "accounts": accounts,
        "totals": totals,
    }


def _sum(column: Any) -> int:
    # Exact: Python ints, no int64 wrap-around.
    return sum(int(v) for v in np.asarray(column).tolist())


def run(
    scenario: Scenario,
    policy: Policy | str | None = None,
    *,
    progress: bool | None = None,
    scan: str = "index",
    backend: str | None = None,
) -> RunResult:
    """Run ``scenario`` under one policy (default: its first).

    ``policy`` may be a :class:`Policy`, the name of one of the scenario's policies, or a
    name from ``POLICY_NAMES``. Same scenario and seed, same result, to the unit.
    ``scan`` and ``backend`` as in :func:`run_inputs`.
    """
    chosen = _resolve(scenario, policy)
    inputs = scenario.build(chosen)
    return run_inputs(
        inputs,
        chosen,
        progress=progress,
        scenario_name=scenario.name,
        seed=scenario.seed,
        scan=scan,
        backend=backend,
    )


def compare(
    scenario: Scenario,
    policies: Sequence[Policy | str] | None = None,
    *,
    progress: bool | None = None,
    on_run: Callable[[RunResult], None] | None = None,
    backend: str | None = None,
) -> Comparison:
    """Run ``scenario`` under several policies (default: the scenario's own) on the same
    population and path; ``comparison.table`` holds the fairness metrics side by side.
    ``on_run`` is called with each result as it finishes; ``backend`` as in
    :func:`run_inputs`."""
    chosen = [_resolve(scenario, p) for p in (policies or scenario.policies)]
    base = scenario.build()
    runs: dict[str, RunResult] = {}
    for p in chosen:
        inputs = replace(base, session_steps=p.session_steps)
        result = run_inputs(
            inputs,
            p,
            progress=progress,
            scenario_name=scenario.name,
            seed=scenario.seed,
            backend=backend,
        )
        runs[p.name] = result
        if on_run is not None:
            on_run(result)
    return Comparison(runs)


def _resolve(scenario: Scenario, policy: Policy | str | None) -> Policy:
    if policy is None:
        return scenario.policies[0]
    if isinstance(policy, Policy):
        return policy
    if policy in scenario.policy_names:
        return scenario.policy(policy)
    return named_policy(policy)
