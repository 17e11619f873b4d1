"""Golden results: every backtest the project ships gives the same numbers as when the
golden file was written, on both engines (compiled and pure-Python reference).

The golden file (``tests/golden/backtests.json``) was produced by the code before the
"one house" redesign; a change that moves a single minor unit in any series, account
column, total or metric fails here. Regenerate it only for a deliberate change of
results: ``python -m tests.test_sim_golden --write``.

Cases: the demo and the three example scenarios at full size (compiled engine), and the
same at small sizes plus every named policy under both granularities (both engines).
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mutualize
from mutualize.sim import POLICY_NAMES, Scenario, compare, policy

GOLDEN = Path(__file__).resolve().parent / "golden" / "backtests.json"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "scenarios"

# Small enough for the reference engine (a second or two per case).
SMALL_DEMO: dict[str, object] = {
    "population.count": 200,
    "path.steps": 160,
    "path.crash_step": 50,
    "path.crash_length": 10,
    "execution.impact_bps": 10,
    "insurance_fund": 1_000_000,
}
SMALL_EXAMPLES: dict[str, dict[str, object]] = {
    "crash": {"population.count": 200, "path.steps": 200, "path.crash_step": 60},
    "gbm": {"population.count": 200, "path.steps": 200, "path.sigma": 0.004},
    "replay": {"population.count": 200, "path.steps": 120},
}


def _example(name: str) -> Scenario:
    return Scenario.from_toml(EXAMPLES / f"{name}.toml")


def _small_example(name: str, params: dict[str, object]) -> Scenario:
    return _example(name).with_params(params)


def _every_policy() -> Any:
    """Every named policy under both granularities (deferred ones in 50-step sessions)."""
    return [
        replace(
            policy(name, granularity=granularity, session_steps=50),
            name=f"{name}/{granularity}",
        )
        for name in POLICY_NAMES
        for granularity in ("step", "bankruptcy")
    ]


def _cases() -> dict[str, tuple[Callable[[], Scenario], Any, bool]]:
    """name -> (scenario factory, policies or None for the scenario's own, small)."""
    cases: dict[str, tuple[Callable[[], Scenario], Any, bool]] = {
        "demo": (Scenario.demo, None, False),
        "demo_small": (lambda: Scenario.demo().with_params(SMALL_DEMO), None, True),
        "every_policy": (
            lambda: Scenario.demo().with_params(SMALL_DEMO).with_seed(11),
            _every_policy(),
            True,
        ),
    }
    for name, params in SMALL_EXAMPLES.items():
        cases[name] = (partial(_example, name), None, False)
        cases[f"{name}_small"] = (partial(_small_example, name, params), None, True)
    return cases


def _digest(columns: dict[str, Any]) -> str:
    h = hashlib.sha256()
    for name, values in columns.items():
        array = np.ascontiguousarray(values)
        h.update(name.encode())
        h.update(str(array.dtype).encode())
        h.update(array.tobytes())
    return h.hexdigest()


def _summary(result: Any) -> dict[str, Any]:
    """Everything a run reports, exactly: column sums and digests, totals, metrics."""
    series = {name: result.series[name].to_numpy() for name in result.series.columns}
    series["step"] = result.series.index.to_numpy()
    accounts = {name: result.accounts[name].to_numpy() for name in result.accounts.columns}
    return {
        "series_columns": list(result.series.columns),
        "accounts_columns": list(result.accounts.columns),
        "series_sums": {
            k: int(v.astype(object).sum()) for k, v in series.items() if v.dtype.kind == "i"
        },
        "accounts_sums": {
            k: int(v.astype(object).sum()) for k, v in accounts.items() if v.dtype.kind == "i"
        },
        "series_digest": _digest(series),
        "accounts_digest": _digest(accounts),
        "totals": {k: int(v) for k, v in result.totals.items()},
        "metrics": {k: (v if isinstance(v, int) else repr(v)) for k, v in result.metrics.items()},
    }


def _compute(name: str, backend: str) -> dict[str, Any]:
    factory, policies, _small = _cases()[name]
    comparison = compare(factory(), policies, progress=False, backend=backend)
    return {label: _summary(run) for label, run in comparison.items()}


def _golden() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return loaded


needs_rust = pytest.mark.skipif(mutualize.backend != "rust", reason="needs the compiled engine")


@needs_rust
@pytest.mark.parametrize("name", list(_cases()))
def test_compiled_engine_matches_the_golden_results(name: str) -> None:
    assert _compute(name, "rust") == _golden()[name]


@pytest.mark.parametrize("name", [n for n, (_, _, small) in _cases().items() if small])
def test_reference_engine_matches_the_golden_results(name: str) -> None:
    assert _compute(name, "python") == _golden()[name]


def _write() -> None:
    golden = {name: _compute(name, "rust") for name in _cases()}
    for name, (_, _, small) in _cases().items():
        if small:
            assert _compute(name, "python") == golden[name], name
    GOLDEN.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN} ({len(golden)} cases)")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.test_sim_golden --write")
    _write()
