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
        return _core.simulate(
            inputs.tick_value,
            inputs.imr_bps,
            inputs.mmr_bps,
            inputs.penalty_bps,
            inputs.collateral,
            inputs.market,
            inputs.size,
            inputs.entry,
            inputs.prices,
            inputs.funding,
            inputs.insurance_fund,
            inputs.house_collateral,
            inputs.slippage_bps,
            inputs.impact_bps,
            inputs.depth_lots,
            session_steps,
            dict(waterfall),
            granularity,
            scan,
            progress,
        )


# Typed as the protocols: mypy checks that the compiled objects satisfy them.
_KERNEL: Kernel = _core
_LEDGER: type[LedgerLike] = Ledger
_ENGINE: Engine = _CompiledEngine()

BACKEND = Backend(name="rust", kernel=_KERNEL, ledger=_LEDGER, engine=_ENGINE)
