"""``allocate`` on a chosen basis: ``shares``, ``unit`` and ``offset``.

``mutualize.allocate`` sends a call here when one of the three options is given; the
kernel's ``allocate_on_basis`` (compiled: ``rust/core/src/allocate/basis.rs``; reference:
``mutualize.reference._basis``) does the arithmetic. The options, in minor units:

- ``shares``: non-negative integers that pro_rata follows instead of the claims
  (``h_i = min(k_i, lam * shares_i)``). The claims still decide who is eligible
  (``claim > 0``) and the ceilings ``k_i`` (the claim, lowered by ``caps`` and
  ``max_rate``), so a ceiling may exceed the share basis: shares by unrealized PnL,
  ceilings by equity. A share of 0 exempts the account.
- ``unit``: haircuts in whole units of ``unit`` minor units (one contract's worth). An
  account gives up at most ``floor(k_i / unit)`` units; the rule shares whole units;
  ``rounding`` says what happens to the last partial unit of the loss: ``"up"`` takes it
  whole (the excess is ``surplus``), ``"down"`` leaves it uncovered (``dust``),
  ``"exact"`` refuses a loss that is not a whole number of units.
- ``offset``: a starting haircut per account (any sign). The result is its projection
  onto the haircuts that cover the target, ``h_i = clamp(offset_i + lam * s_i, 0, k_i)``
  with one level ``lam`` (``s_i`` the pro-rata share, or 1 for equal_loss): one step of
  projected mirror descent, whose zero-offset case is capped pro rata.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mutualize._coerce import as_amount, as_amount_array, as_rate

if TYPE_CHECKING:
    from mutualize._allocation import Allocation, Kernel

__all__ = ["allocate_on_basis_with"]


def allocate_on_basis_with(
    kernel: Kernel,
    claims: object,
    loss: object,
    rule: str,
    rounding: str,
    ids: object,
    caps: object,
    max_rate: object,
    weights: object,
    out: object,
    *,
    shares: object,
    unit: object,
    offset: object,
) -> Allocation:
    """Coerce the inputs exactly, run ``kernel.allocate_on_basis`` and wrap the result."""
    from mutualize._allocation import Allocation, _optional_column, _output

    claims_array = as_amount_array(claims, "claims")
    loss_int = as_amount(loss, "loss")
    haircuts = _output(out, claims_array.shape[0])
    total, target, dust, surplus, base = kernel.allocate_on_basis(
        claims_array,
        loss_int,
        rule,
        rounding,
        _optional_column(ids, "ids"),
        _optional_column(caps, "caps"),
        None if max_rate is None else as_rate(max_rate),
        _optional_column(weights, "weights"),
        _optional_column(shares, "shares"),
        None if unit is None else as_amount(unit, "unit"),
        _optional_column(offset, "offset"),
        haircuts,
    )
    return Allocation(
        haircuts=haircuts if out is None else haircuts.view(),
        loss=loss_int,
        target=target,
        total=total,
        uncovered=max(0, loss_int - total),
        dust=dust,
        surplus=surplus,
        base=base,
        rule=rule,
        rounding=rounding,
    )
