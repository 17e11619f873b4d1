"""ADL policies by suffix: the ones the analysis of arXiv 2602.15182 reports, and the
ones ``mutualize replay`` computes, each through ``mutualize.allocate`` in integer
micro-USD.

In a wave, a winner ``i`` has positive unrealized PnL ``u_i`` and positive equity
``e_i``; its capacity is ``cap_i = min(u_i, e_i)`` (what can be taken without touching
principal, as in the analysis). ``B`` is the wave's budget. Every replay policy ties to
the smallest position in user order, so results are deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

import mutualize
from mutualize._coerce import Int64Array
from mutualize.errors import AmountOverflowError

__all__ = [
    "ANALYSIS_POLICIES",
    "REPLAY_POLICIES",
    "CoinBudget",
    "Policy",
    "Winners",
    "describe",
    "policy_names",
]

_INT64_MAX = 2**63 - 1

#: The suffixes of the analysis's ``policy_per_wave_metrics.csv`` and what they mean
#: (its ``policy_per_wave.py``; facts restated, not its code).
ANALYSIS_POLICIES: dict[str, str] = {
    "prod": "the venue's production ADL queue; its haircut H is the winners' equity lost "
    "to ADL, reconstructed by a two-pass replay (ADL on vs off, same price path)",
    "pr": "continuous pro rata on capacity min(PnL, equity) (the analysis's wealth pro rata)",
    "pnl_pr": "continuous pro rata on positive unrealized PnL, each haircut capped at "
    "min(PnL, equity)",
    "eq_pr": "continuous pro rata on equity, capped at min(PnL, equity): the allocation "
    "with the smallest largest haircut/equity rate (replay's minmax)",
    "vector": "one step of vector mirror descent per coin from zero: projection onto the "
    "coin's budget in haircut-rate space, weights = contracts x gap per contract, then "
    "capped at min(PnL, equity)",
    "contract_pr": "pro rata in whole contracts per coin (ceil of the coin's budget over "
    "its gap per contract), losses capped at min(PnL, equity)",
    "fixed_point_ilp_integer": "the analysis's min-max integer policy in whole contracts "
    "(its code uses a greedy fixed-point heuristic, not a solver); the default reference",
}


@dataclass(frozen=True)
class Winners:
    """One wave's winners, sorted by user; amounts in int64 micro-USD.

    Attributes:
        users: the winners' user ids.
        pnl: positive unrealized PnL ``u_i``.
        equity: positive equity ``e_i``.
        capacity: ``min(u_i, e_i)``.
        contracts: ``coin -> (winner positions, whole contracts held)``.
    """

    users: list[str]
    pnl: Int64Array
    equity: Int64Array
    capacity: Int64Array
    contracts: Mapping[str, tuple[Int64Array, Int64Array]] = field(default_factory=dict)


@dataclass(frozen=True)
class CoinBudget:
    """A coin's share of a wave's budget and the value of one contract (micro-USD)."""

    budget: int
    unit: int


# One policy: (winners, budget, per-coin budgets or None, memory across waves) -> haircuts.
Allocator = Callable[
    [Winners, int, Mapping[str, CoinBudget] | None, dict[str, Fraction]], Int64Array
]


@dataclass(frozen=True)
class Policy:
    """A replay policy: its suffix, what it does, whether it needs per-coin budgets."""

    name: str
    description: str
    allocate: Allocator
    needs_coins: bool = False


def _pr(w: Winners, budget: int, coins: object, memory: object) -> Int64Array:
    return mutualize.allocate(w.capacity, budget).haircuts


def _pnl_pr(w: Winners, budget: int, coins: object, memory: object) -> Int64Array:
    return mutualize.allocate(w.pnl, budget, caps=w.capacity).haircuts


def _equity_pr(w: Winners, budget: int, coins: object, memory: object) -> Int64Array:
    return mutualize.allocate(w.equity, budget).haircuts


def _capped_pr(w: Winners, budget: int, coins: object, memory: object) -> Int64Array:
    return mutualize.allocate(w.equity, budget, shares=w.pnl).haircuts


def _equal_loss(w: Winners, budget: int, coins: object, memory: object) -> Int64Array:
    return mutualize.allocate(w.capacity, budget, rule="equal_loss").haircuts


def _minmax(w: Winners, budget: int, coins: object, memory: object) -> Int64Array:
    return mutualize.allocate(w.capacity, budget, shares=w.equity).haircuts


def _contract_pr(
    w: Winners, budget: int, coins: Mapping[str, CoinBudget] | None, memory: object
) -> Int64Array:
    losses = [0] * len(w.users)
    for coin, part in (coins or {}).items():
        held = w.contracts.get(coin)
        if held is None or part.unit <= 0 or part.budget <= 0:
            continue
        positions, contracts = held
        if contracts.size and int(contracts.max()) > _INT64_MAX // part.unit:
            raise AmountOverflowError(
                f"{coin}: {int(contracts.max())} contracts of {part.unit} micro-USD do not "
                "fit in int64"
            )
        taken = mutualize.allocate(
            contracts * part.unit, part.budget, unit=part.unit, rounding="up"
        )
        for j, h in zip(positions.tolist(), taken.haircuts.tolist(), strict=True):
            losses[j] += h
    # A contract's loss comes out of the account's capacity; the rest is not covered.
    capped = [min(loss, cap) for loss, cap in zip(losses, w.capacity.tolist(), strict=True)]
    return np.array(capped, dtype=np.int64)


def _mirror(w: Winners, budget: int, coins: object, memory: dict[str, Fraction]) -> Int64Array:
    rates = [memory.get(u, Fraction(0)) for u in w.users]
    offset = [
        (r.numerator * cap) // r.denominator
        for r, cap in zip(rates, w.capacity.tolist(), strict=True)
    ]
    h = mutualize.allocate(w.capacity, budget, weights=w.capacity, offset=offset).haircuts
    for u, hi, cap in zip(w.users, h.tolist(), w.capacity.tolist(), strict=True):
        memory[u] = Fraction(hi, cap)
    return h


#: The replay's policies, in output order.
REPLAY_POLICIES: dict[str, Policy] = {
    p.name: p
    for p in (
        Policy(
            "pr",
            "pro rata on capacity min(PnL, equity) (the analysis's pr, in micro-USD)",
            _pr,
        ),
        Policy(
            "pnl_pr",
            "pro rata on positive unrealized PnL, capped at min(PnL, equity) "
            "(the analysis's pnl_pr)",
            _pnl_pr,
        ),
        Policy(
            "equity_pr",
            "pro rata on equity, capped at equity: the equity-space haircut of Chitra "
            "(2025, arXiv 2512.01112, eq. 20); it takes principal",
            _equity_pr,
        ),
        Policy(
            "capped_pr",
            "capped pro rata: shares by positive PnL, each haircut capped at equity "
            "(allocate(..., shares=))",
            _capped_pr,
        ),
        Policy(
            "equal_loss",
            "the same haircut for every winner, capped at min(PnL, equity)",
            _equal_loss,
        ),
        Policy(
            "minmax",
            "min-max: one haircut/equity rate for all, capped at min(PnL, equity) - the "
            "smallest possible largest rate (the analysis's eq_pr); the default reference",
            _minmax,
        ),
        Policy(
            "contract_pr",
            "pro rata in whole contracts per coin, each coin raising its budget rounded "
            "up to whole contracts, losses capped at min(PnL, equity) "
            "(allocate(..., unit=); needs --gaps)",
            _contract_pr,
            needs_coins=True,
        ),
        Policy(
            "mirror",
            "one projected mirror-descent step in haircut-rate space with weights "
            "min(PnL, equity), from an offset: each winner's rate in its previous wave "
            "(allocate(..., offset=))",
            _mirror,
        ),
    )
}


def policy_names(with_coins: bool) -> list[str]:
    """The replay policies available with (or without) per-coin budgets."""
    return [p.name for p in REPLAY_POLICIES.values() if with_coins or not p.needs_coins]


def describe(name: str) -> str:
    """What a policy suffix means: the analysis's meaning for its suffixes (the replay's
    ``pr``, ``pnl_pr`` and ``contract_pr`` compute the same rules exactly), else the
    replay's."""
    if name in ANALYSIS_POLICIES:
        return ANALYSIS_POLICIES[name]
    if name in REPLAY_POLICIES:
        return REPLAY_POLICIES[name].description
    return "(a policy mutualize does not define)"
