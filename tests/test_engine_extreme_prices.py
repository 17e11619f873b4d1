"""Issue 9, item 9: the compiled and reference engines agree at extreme prices. One rule
for both (docs/backtests.md): marks are in ``1..=MAX_MARK`` ticks (2**40), checked where
the inputs are validated, and the backstop price is the slipped mark with no ceiling,
at least 1 tick, so a short closed near the largest mark still pays its slippage."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import mutualize as mz
from mutualize.errors import InvalidInputError
from mutualize.reference.sim import simulate
from mutualize.sim.engine import run_inputs
from mutualize.sim.inputs import MAX_MARK, EngineInputs
from mutualize.sim.scenario import policy as named_policy

needs_rust = pytest.mark.skipif(mz.backend != "rust", reason="compiled extension not available")


def _near_the_limit(top: int, slippage_bps: int = 500) -> EngineInputs:
    """Two shorts and a long entered 2**34 ticks below ``top``; the mark climbs to
    ``top``, so the first short (6 % collateral, 5 % maintenance) is liquidated there
    by the house, with a deficit at 500 bps of slippage."""
    entry = top - 2**34
    size = np.array([-1, 1, -3], dtype=np.int64)
    notional = entry * np.abs(size)
    return EngineInputs(
        tick_value=np.array([1], dtype=np.int64),
        imr_bps=np.array([1_000], dtype=np.int64),
        mmr_bps=np.array([500], dtype=np.int64),
        penalty_bps=np.array([30], dtype=np.int64),
        market_names=("m",),
        collateral=(notional * np.array([6, 50, 40]) // 100).astype(np.int64),
        market=np.zeros(3, dtype=np.int64),
        size=size,
        entry=np.full(3, entry, dtype=np.int64),
        prices=np.array([[entry], [top - 2**33], [top]], dtype=np.int64),
        funding=np.zeros((3, 1), dtype=np.int64),
        insurance_fund=10**9,
        house_collateral=10**15,
        slippage_bps=slippage_bps,
    )


def _outcome(result: Any) -> dict[str, Any]:
    return {
        "series": {k: v.tolist() for k, v in result.series.items()},
        "accounts": {k: v.tolist() for k, v in result.accounts.items()},
        "totals": dict(result.totals),
    }


@needs_rust
@pytest.mark.parametrize("top", [MAX_MARK, MAX_MARK - 1, MAX_MARK - 2**20])
@pytest.mark.parametrize("name", ["pro_rata", "bitmex_adl", "okx_clawback"])
def test_engines_agree_near_the_largest_mark(top: int, name: str) -> None:
    inputs = _near_the_limit(top)
    chosen = named_policy(name)
    rust = run_inputs(inputs, chosen, progress=False, backend="rust")
    ref = run_inputs(inputs, chosen, progress=False, backend="python")
    assert _outcome(rust) == _outcome(ref)
    assert rust.accounts["liquidated_step"].tolist()[0] == 2


def test_backstop_price_has_no_ceiling() -> None:
    """The short is bought back at ceil(mark x 1.05), above MAX_MARK: its deficit is
    what that price makes it, as the formula says."""
    inputs = _near_the_limit(MAX_MARK)
    raw = simulate(inputs, named_policy("pro_rata").waterfall, "bankruptcy", 0)
    entry, price = MAX_MARK - 2**34, -(-MAX_MARK * 10_500 // 10_000)
    assert price > MAX_MARK
    collateral = int(inputs.collateral[0])
    penalty = -(-price * 30 // 10_000)  # ceil(notional x penalty_bps), lots = 1
    equity_after_close = collateral - (price - entry)
    charged = min(penalty, max(0, equity_after_close))
    assert equity_after_close < 0
    assert raw["accounts"]["deficit"].tolist()[0] == charged - equity_after_close > 0


@pytest.mark.parametrize("backend", ["rust", "python"])
def test_marks_beyond_the_limit_are_refused_by_both(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend == "rust" and mz.backend != "rust":
        pytest.skip("compiled extension not available")
    chosen = named_policy("pro_rata")
    run_inputs(_near_the_limit(MAX_MARK), chosen, progress=False, backend=backend)
    bound = "marks must be in 1..=1099511627776 ticks, got 1099511627777"
    with pytest.raises(InvalidInputError, match=bound):
        run_inputs(_near_the_limit(MAX_MARK + 1), chosen, progress=False, backend=backend)
    if backend == "rust":
        # Past the shared validation, the core holds the same bound (its MAX_PRICE).
        monkeypatch.setattr(EngineInputs, "validate", lambda self: None)
        with pytest.raises(InvalidInputError, match=bound):
            run_inputs(_near_the_limit(MAX_MARK + 1), chosen, progress=False, backend=backend)
