"""The compiled backend: the Rust kernel, ledger and backtest engine of
``mutualize._core`` (importing this module imports the extension)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mutualize import _core
from mutualize._ledger_rust import Ledger
from mutualize._protocols import Backend, BacktestInputs, Engine, Kernel, LedgerLike

__all__ = ["BACKEND"]


class _CompiledEngine:
    """``mutualize._core.simulate`` behind the :class:`~mutualize._protocols.Engine`
    interface (the GIL is released while it runs)."""

    def simulate(
        self,
        inputs: BacktestInputs,
        waterfall: Mapping[str, Any],
        granularity: str,
        session_steps: int,
        scan: str,
        progress: Callable[[int], object] | None,
    ) -> dict[str, Any]:
        # The binding reads the engine's inputs by name (docs/backtests.md, "Inputs").
        names = (
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
            "insurance_fund",
            "house_collateral",
            "slippage_bps",
            "impact_bps",
            "depth_lots",
        )
        columns: dict[str, Any] = {name: getattr(inputs, name) for name in names}
        columns["session_steps"] = session_steps
        return _core.simulate(columns, dict(waterfall), granularity, scan, progress)


# Typed as the protocols: mypy checks that the compiled objects satisfy them.
_KERNEL: Kernel = _core
_LEDGER: type[LedgerLike] = Ledger
_ENGINE: Engine = _CompiledEngine()

BACKEND = Backend(name="rust", kernel=_KERNEL, ledger=_LEDGER, engine=_ENGINE)
