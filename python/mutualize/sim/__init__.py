"""Backtests: scenarios, the engine, results, reports and sweeps.

A :class:`Scenario` (a TOML file or Python objects) describes markets, a population of
accounts, a price path, funding, how liquidations execute and the waterfall policies to
compare. :func:`run` drives the ledger through one policy, :func:`compare` through
several, and :func:`sweep` maps many seeds and parameter values over local processes,
threads, Dask or Ray. Money is in integer minor units, prices in ticks, sizes in lots.

The public names are imported on first use, so ``import mutualize.sim`` stays cheap.
Scenarios, the engine and numeric results need numpy only; tables (pandas DataFrames,
Parquet), progress bars and sweeps need ``pip install 'mutualize[sim]'``, reports
``'mutualize[report]'``.

Modules, one idea each: ``schema`` (every scenario field's type, bounds and default),
``checks``, ``toml``, ``params``, ``scenario`` with its sections ``markets``,
``population``, ``paths``, ``funding``, ``policies`` and the data ``files``; ``inputs``
(the engine's exact arrays), ``engine`` (the driver), ``results``, ``metrics``,
``formatting``, ``report``, ``progress``, and ``sweep`` with ``tasks`` and
``executors``. Results never import reports.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Imported eagerly: ``sweep`` is both this module's name and its function's, and the
# function must win the package attribute that importing the module would otherwise set.
from .sweep import BackendUnavailableError, SweepResult, sweep

if TYPE_CHECKING:
    from .checks import ScenarioError
    from .engine import compare, run, run_inputs
    from .funding import Funding
    from .inputs import EngineInputs
    from .markets import Execution, MarketSpec
    from .paths import PricePath
    from .policies import POLICY_NAMES, Policy, policy
    from .population import Population
    from .report import write_report
    from .results import Comparison, RunResult
    from .scenario import Scenario

# Public name -> the submodule that defines it.
_LAZY: dict[str, str] = {
    "Scenario": "scenario",
    "Policy": "policies",
    "MarketSpec": "markets",
    "Population": "population",
    "PricePath": "paths",
    "Funding": "funding",
    "Execution": "markets",
    "ScenarioError": "checks",
    "policy": "policies",
    "POLICY_NAMES": "policies",
    "run": "engine",
    "run_inputs": "engine",
    "compare": "engine",
    "RunResult": "results",
    "Comparison": "results",
    "write_report": "report",
    "EngineInputs": "inputs",
}

__all__ = [
    "POLICY_NAMES",
    "BackendUnavailableError",
    "Comparison",
    "EngineInputs",
    "Execution",
    "Funding",
    "MarketSpec",
    "Policy",
    "Population",
    "PricePath",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "SweepResult",
    "compare",
    "policy",
    "run",
    "run_inputs",
    "sweep",
    "write_report",
]


def __getattr__(name: str) -> Any:
    """Import a public name's submodule on first use (PEP 562)."""
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(f".{module_name}", __name__)
    value = getattr(module, name)
    # Cache it, after the import: a submodule named like the value must not shadow it.
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
