"""The backtest driver: scenario in, :class:`~mutualize.sim.results.RunResult` out.

The engine itself is the backend's (``mutualize._backend``): the compiled one runs in
Rust with the GIL released (a liquidation-price index per market and side, liquidation
rounds per step, socialization per step or per bankruptcy: docs/backtests.md); the
pure-Python one is ``mutualize.reference.sim``. Both give the same result to the unit.
The inputs are checked when they are made (:class:`~mutualize.sim.inputs.EngineInputs`),
the policy when it is made (:class:`~mutualize.sim.policies.Policy`); this module checks
only its own arguments. Money is in integer minor units, prices in ticks, sizes in lots.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from .. import _backend
from ..errors import InvalidInputError
from .inputs import EngineInputs
from .policies import Policy
from .policies import policy as named_policy
from .progress import progress_bar
from .results import Comparison, RunResult
from .scenario import Scenario

__all__ = ["SCANS", "compare", "run", "run_inputs"]

#: How liquidatable accounts are found: ``"index"`` (by liquidation price, the default)
#: or ``"every"`` (every account every round: the naive loop, for tests).
SCANS = ("index", "every")


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
        inputs: the exact arrays (see :class:`EngineInputs`, checked when made).
        policy: a :class:`Policy` or a name from ``mutualize.sim.POLICY_NAMES``.
        progress: show a progress bar (``None``: when stderr is a terminal and the run
            takes over a second).
        scenario_name, seed: labels carried into the result.
        scan: ``"index"`` or ``"every"`` (see :data:`SCANS`).
        backend: ``"rust"`` (the compiled engine), ``"python"`` (the pure-Python
            reference engine, ``mutualize.reference.sim``: the same result to the unit,
            far slower) or ``None``: the default backend, ``mutualize.backend``
            (``MUTUALIZE_BACKEND`` chooses it).

    Raises:
        InvalidInputError: bad inputs, policy or backend (the message names the field).
        ImportError: ``backend="rust"`` without the compiled extension.
        InvariantError: the ledger found a broken invariant (a bug: please report it).
    """
    chosen = named_policy(policy) if isinstance(policy, str) else policy
    if not isinstance(chosen, Policy):
        raise InvalidInputError(f"policy must be a Policy or a name, got {policy!r}")
    if not isinstance(inputs, EngineInputs):
        raise InvalidInputError(f"inputs must be EngineInputs, got {type(inputs).__name__}")
    if scan not in SCANS:
        raise InvalidInputError(f"scan must be one of {', '.join(SCANS)}, got {scan!r}")
    engine = _backend.get(backend).engine
    started = time.perf_counter()
    with progress_bar(inputs.num_steps, enabled=progress, desc=chosen.name) as bar:
        done = 0

        def tick(step: int) -> None:
            nonlocal done
            bar.update(step - done)
            done = step

        raw = engine.simulate(
            inputs,
            chosen.waterfall.to_dict(),
            chosen.granularity,
            chosen.session_steps or inputs.session_steps,
            scan,
            tick,
        )
    return RunResult.from_engine(
        raw,
        inputs,
        scenario=scenario_name,
        policy=chosen.name,
        seed=seed,
        seconds=time.perf_counter() - started,
        market_names=inputs.market_names,
    )


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
    # Built once: each policy's own session length is passed to the engine by run_inputs.
    inputs = scenario.build()
    runs: dict[str, RunResult] = {}
    for p in chosen:
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
