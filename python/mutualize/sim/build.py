"""A scenario turned into the engine's exact inputs: the path, the accounts, the
funding, and the checks on their products that only the drawn values allow (a
position's notional, the house's deposit). Same scenario, same seed, same bytes."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..errors import InvalidInputError
from .checks import ScenarioError
from .files import read_price_file
from .funding import funding_deltas
from .inputs import EngineInputs
from .paths import generate_prices
from .population import build_accounts
from .schema import NOTIONAL_MAX

if TYPE_CHECKING:
    from .scenario import Scenario

__all__ = ["build_inputs"]

INT64_MAX = 2**63 - 1


def build_inputs(scenario: Scenario, session_steps: int = 0) -> EngineInputs:
    """The exact engine inputs of ``scenario`` (see :meth:`Scenario.build`)."""
    names = scenario.market_names
    tick_value = np.array([m.tick_value for m in scenario.markets], dtype=np.int64)
    imr_bps = np.array([m.imr_bps for m in scenario.markets], dtype=np.int64)
    if scenario.path.generated:
        starts = [int(m.start_price or 0) for m in scenario.markets]
        prices = generate_prices(scenario.path, starts, scenario.seed)
    else:
        prices = read_price_file(str(scenario.path.file), names, scenario.path.num_steps)
    accounts = build_accounts(
        scenario.population,
        seed=scenario.seed,
        start_prices=np.ascontiguousarray(prices[0]),
        tick_value=tick_value,
        imr_bps=imr_bps,
        market_names=names,
    )
    notional = np.abs(accounts.size).astype(np.float64) * accounts.entry
    if float((notional * tick_value[accounts.market]).max()) >= NOTIONAL_MAX:
        raise ScenarioError("population", "a position's notional exceeds 2**62 minor units")
    if float(prices.max()) * float(tick_value.max()) >= NOTIONAL_MAX:
        raise ScenarioError("path", "a lot's notional exceeds 2**62 minor units")
    house = scenario.house_collateral
    if house is None:
        total = int(accounts.collateral.sum(dtype=np.float64))
        if 10 * total > INT64_MAX // 4:
            raise ScenarioError(
                "house_collateral",
                "10 x the total collateral is too large for int64; set house_collateral",
            )
        house = 10 * int(accounts.collateral.sum())
    try:
        return EngineInputs(
            tick_value=tick_value,
            imr_bps=imr_bps,
            mmr_bps=np.array([m.mmr_bps for m in scenario.markets], dtype=np.int64),
            penalty_bps=np.array([m.penalty_bps for m in scenario.markets], dtype=np.int64),
            market_names=names,
            collateral=accounts.collateral,
            market=accounts.market,
            size=accounts.size,
            entry=accounts.entry,
            prices=np.ascontiguousarray(prices),
            funding=funding_deltas(prices, tick_value, scenario.funding),
            insurance_fund=scenario.insurance_fund,
            house_collateral=house,
            slippage_bps=scenario.execution.slippage_bps,
            impact_bps=scenario.execution.impact_bps,
            depth_lots=scenario.execution.depth_lots,
            session_steps=session_steps,
        )
    except InvalidInputError as exc:  # the scenario's checks should rule this out
        raise ScenarioError("", f"the built inputs are invalid: {exc}") from None
