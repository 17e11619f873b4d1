"""mutualize: exact socialized-loss mutualization for derivatives venues.

When a trader's losses exceed their collateral, a venue covers the deficit through a
loss waterfall: the insurance fund, then a haircut on profitable traders (socialized
loss) or auto-deleveraging. ``allocate`` spreads one loss over accounts' claims as
integer haircuts in minor units, exactly; ``allocate_many`` does it for many events.

``mutualize.backend`` is ``"rust"`` (the compiled kernel) or ``"python"`` (the
pure-Python reference, used where the extension cannot be loaded or when
``MUTUALIZE_BACKEND=python``).
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any

from mutualize import _backend
from mutualize._allocation import (
    Allocation,
    AllocationBatch,
    Rounding,
    Rule,
    allocate_many_with,
    allocate_with,
)
from mutualize._backend import BackendWarning
from mutualize.errors import (
    AmountOverflowError,
    AmountTypeError,
    CorruptJournalError,
    CorruptSnapshotError,
    InsufficientMarginError,
    InvalidInputError,
    InvariantError,
    MutualizeError,
    NotLiquidatableError,
    TornRecordError,
)
from mutualize.journal import JournalWriter, read_journal, write_journal
from mutualize.waterfall import (
    PRESETS,
    Adl,
    FeePool,
    InsuranceFund,
    Socialize,
    Waterfall,
)

__all__ = [
    "PRESETS",
    "Adl",
    "Allocation",
    "AllocationBatch",
    "AmountOverflowError",
    "AmountTypeError",
    "BackendWarning",
    "CorruptJournalError",
    "CorruptSnapshotError",
    "FeePool",
    "InsufficientMarginError",
    "InsuranceFund",
    "InvalidInputError",
    "InvariantError",
    "JournalWriter",
    "Ledger",
    "MutualizeError",
    "NotLiquidatableError",
    "Rounding",
    "Rule",
    "Socialize",
    "TornRecordError",
    "Waterfall",
    "__version__",
    "allocate",
    "allocate_many",
    "backend",
    "read_journal",
    "write_journal",
]

__version__ = "0.1.0"

_BACKEND = _backend.default()
backend: str = _BACKEND.name
_KERNEL = _BACKEND.kernel

if TYPE_CHECKING:
    from mutualize._ledger_rust import Ledger
else:
    Ledger = _BACKEND.ledger


def allocate(
    claims: Any,
    loss: int | str | Any,
    *,
    rule: Rule | str = "pro_rata",
    rounding: Rounding | str = "exact",
    ids: Any = None,
    caps: Any = None,
    max_rate: Fraction | int | str | Any = None,
    weights: Any = None,
    out: Any = None,
    shares: Any = None,
    unit: int | str | Any = None,
    offset: Any = None,
) -> Allocation:
    """Spread ``loss`` over ``claims`` as integer haircuts (minor units).

    Args:
        claims: 1-D amounts each account can be haircut on (its profit, open interest,
            equity...), in minor units: an int64 array (read without copying), any
            integer numpy array, or a sequence of ints / integral ``Decimal`` /
            numeric ``str``. Claims <= 0 are ineligible and get 0.
        loss: the loss to cover, in minor units (int, ``Decimal`` or ``str``; >= 0).
        rule: ``"pro_rata"`` (in proportion to the claims: OKX/Huobi clawback, Deribit
            session loss), ``"equal_loss"`` (the same haircut for all, capped at each
            claim) or ``"equal_award"`` (everyone keeps the same: the biggest winners
            are cut first).
        rounding: pro_rata only. ``"exact"``: largest remainder, the haircuts add up to
            the target; ``"down"``: floors, the leftover is ``dust`` and stays
            uncovered; ``"up"``: ceilings, the excess is ``surplus``.
        ids: unique int64 account ids, used only to break ties (smallest id first);
            default: the position.
        caps: per-account ceilings on the haircut (minor units, >= 0); pro_rata turns
            into water-filling, equal_loss into ``min(cap, lam)``.
        max_rate: the largest share of a claim that may be taken, between 0 and 1, as a
            ``Fraction``, ``int``, ``Decimal`` or ``str`` (``"0.25"``, ``"1/4"``).
        weights: non-negative integer weights (pro_rata only): shares follow
            ``weight * claim``; a weight of 0 exempts the account.
        out: an optional C-contiguous int64 array of ``len(claims)`` to write the
            haircuts into (reuse one across calls in a backtest: no allocation). The
            result's ``haircuts`` is then a read-only view of it.
        shares: non-negative integer shares that pro_rata follows instead of the claims;
            the claims still set eligibility and ceilings (shares by PnL, ceilings by
            equity). Not with ``weights``.
        unit: haircuts in whole units of this many minor units (a contract's worth);
            ``rounding`` then says what happens to the last partial unit: ``"up"``
            (surplus), ``"down"`` (dust) or ``"exact"`` (the loss must be whole units).
        offset: starting haircuts (minor units, any sign); the result is their
            projection ``clamp(offset_i + lam * share_i, 0, ceiling_i)`` onto the
            haircuts that cover the loss (one projected mirror-descent step).
            See ``mutualize._allocation._allocate_on_basis`` for the exact rules of
            these three options.

    Returns:
        An immutable ``Allocation``: ``haircuts`` (int64, input order), ``total``,
        ``target``, ``uncovered``, ``dust``, ``surplus``, ``base``, ``rate``.

    Raises:
        TypeError: float amounts or arrays (``AmountTypeError``).
        ValueError: negative loss, caps or weights, duplicate ids, mismatched lengths,
            NaN, a 2-D array, an option the rule does not take (``InvalidInputError``).
        OverflowError: an amount outside int64 (``AmountOverflowError``).

    Example:
        >>> import mutualize as mz
        >>> mz.allocate([8_000_000, 4_000_000, 500_000, -3_000_000], 7_500_000).haircuts
        array([4800000, 2400000,  300000,       0])
    """
    return allocate_with(
        _KERNEL,
        claims,
        loss,
        rule=rule,
        rounding=rounding,
        ids=ids,
        caps=caps,
        max_rate=max_rate,
        weights=weights,
        out=out,
        shares=shares,
        unit=unit,
        offset=offset,
    )


def allocate_many(
    claims: Any,
    offsets: Any,
    losses: Any,
    *,
    rule: Rule | str = "pro_rata",
    rounding: Rounding | str = "exact",
    ids: Any = None,
    caps: Any = None,
    max_rate: Fraction | int | str | Any = None,
    weights: Any = None,
    out: Any = None,
) -> AllocationBatch:
    """Allocate many independent losses in one call (the events of a backtest).

    Claims are flat; event ``e`` covers ``claims[offsets[e]:offsets[e+1]]`` (CSR
    layout: ``offsets`` has one more entry than ``losses``, starts at 0, never
    decreases and ends at ``len(claims)``) and its loss is ``losses[e]`` (minor units).
    ``ids``, ``caps`` and ``weights`` are flat like the claims; ids must be unique
    within each event. Each event's haircuts equal those of ``allocate`` on it alone.
    ``out`` (optional) takes the flat haircuts in place, as in ``allocate``.
    The work runs without the GIL, on all cores for large batches.

    Returns:
        An ``AllocationBatch`` with the flat ``haircuts`` and per-event ``totals``,
        ``targets``, ``uncovered``, ``dust`` and ``surplus`` (int64 arrays).
    """
    return allocate_many_with(
        _KERNEL,
        claims,
        offsets,
        losses,
        rule=rule,
        rounding=rounding,
        ids=ids,
        caps=caps,
        max_rate=max_rate,
        weights=weights,
        out=out,
    )
