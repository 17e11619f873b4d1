"""Pure-Python reference of allocation on a chosen basis: ``shares``, ``unit``, ``offset``.

Written from the definitions below with Python ints and ``Fraction``; the compiled kernel
(``rust/core/src/allocate/basis.rs``, ``granular.rs``, ``projection.rs``) must agree with it
exactly. Notation as in ``_allocate``: eligible ``c_i > 0``; ceiling ``k_i`` (claim,
lowered by caps and ``floor(c_i * num / den)``); ties to the smallest id.

- ``shares``: pro_rata on ``s_i = shares_i``: ``h_i = min(k_i, lam * s_i)``, largest
  remainders on ``s_i``. Payers: eligible with ``s_i > 0``.
- ``unit`` (``g`` minor units): an account can give ``K_i = floor(k_i / g)`` whole units;
  ``T = min(loss, g * sum K_i)``; ``U = ceil(T / g)`` (rounding "up", the excess is
  surplus), ``floor(T / g)`` ("down", the rest is dust) or ``T / g`` ("exact", which
  requires ``g | T``); the rule shares ``U`` units on the ceilings ``K_i``; ``h_i = g n_i``.
- ``offset`` (``o_i``): ``h_i = clamp(o_i + lam * s_i, 0, k_i)`` with one real ``lam``
  such that the haircuts add up to ``T``, ``s_i`` the pro-rata share (``shares_i``,
  ``w_i c_i`` or ``c_i``) or 1 for equal_loss; the free accounts (strictly between 0 and
  ``k_i``) are floored and the leftover units go to their largest fractional parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from mutualize.errors import InvalidInputError
from mutualize.reference import _allocate as core

__all__ = ["allocate_on_basis"]


def _check_basis(
    claims: Sequence[int],
    loss: int,
    rule: str,
    rounding: str,
    caps: Sequence[int] | None,
    max_rate: tuple[int, int] | None,
    weights: Sequence[int] | None,
    shares: Sequence[int] | None,
    unit: int | None,
    offset: Sequence[int] | None,
) -> None:
    if rounding not in core.ROUNDINGS:
        raise InvalidInputError(
            f"unknown rounding {rounding!r}; expected one of {', '.join(core.ROUNDINGS)}"
        )
    # With a unit, rounding is about the last partial unit: check the rest as exact.
    core._check_rule_and_options(
        rule, "exact" if unit is not None else rounding, caps, max_rate, weights
    )
    if rule == "equal_award":
        given = "shares" if shares is not None else "unit" if unit is not None else "offset"
        raise InvalidInputError(f"{given} cannot be used with rule 'equal_award'")
    if shares is not None:
        if rule != "pro_rata":
            raise InvalidInputError(f"shares cannot be used with rule {rule!r}")
        if weights is not None:
            raise InvalidInputError(
                "shares cannot be used with weights (shares replace weight x claim; "
                "pass one of them)"
            )
    if offset is not None and unit is not None:
        raise InvalidInputError(
            "offset cannot be used with unit (a projection is not defined in whole units)"
        )
    if unit is None and rounding != "exact":
        name = "shares" if shares is not None else "offset"
        raise InvalidInputError(f"{name} cannot be used with rounding other than 'exact'")
    if unit is not None and unit <= 0:
        raise InvalidInputError(f"unit must be > 0 minor units, got {unit}")
    core._check_loss(loss, "loss")
    n = len(claims)
    for name, column in (("shares", shares), ("offset", offset)):
        if column is not None and len(column) != n:
            raise InvalidInputError(f"{name} has {len(column)} entries but claims has {n}")
    if shares is not None:
        core._check_int64("shares", shares)
        low = min(shares, default=0)
        if low < 0:
            raise InvalidInputError(f"shares must be >= 0, got {low} at index {shares.index(low)}")
    if offset is not None:
        core._check_int64("offset", offset)


def _ceiling(
    claim: int, i: int, caps: Sequence[int] | None, max_rate: tuple[int, int] | None
) -> int:
    k = claim
    if caps is not None:
        k = min(k, caps[i])
    if max_rate is not None:
        num, den = max_rate
        k = min(k, claim * num // den)
    return k


def _share(
    rule: str,
    claim: int,
    i: int,
    shares: Sequence[int] | None,
    weights: Sequence[int] | None,
) -> int:
    if rule == "equal_loss":
        return 1
    if shares is not None:
        return shares[i]
    if weights is not None:
        return weights[i] * claim
    return claim


def _payers(
    claims: Sequence[int],
    rule: str,
    caps: Sequence[int] | None,
    max_rate: tuple[int, int] | None,
    weights: Sequence[int] | None,
    shares: Sequence[int] | None,
) -> tuple[list[int], list[int], list[int]]:
    """Indexes of the payers (eligible, share > 0), their ceilings and their shares."""
    payers: list[int] = []
    ceilings: list[int] = []
    share_list: list[int] = []
    for i, c in enumerate(claims):
        if c <= 0:
            continue
        s = _share(rule, c, i, shares, weights)
        if s <= 0:
            continue
        payers.append(i)
        ceilings.append(_ceiling(c, i, caps, max_rate))
        share_list.append(s)
    return payers, ceilings, share_list


def _share_out(
    rule: str,
    payers: list[int],
    ceilings: list[int],
    shares: list[int],
    ids: Sequence[int],
    target: int,
    out: list[int],
) -> None:
    """``target`` units over the payers: water-filling (pro_rata) or equal losses."""
    if target == sum(ceilings):
        for i, k in zip(payers, ceilings, strict=True):
            out[i] = k
    elif target > 0:
        if rule == "pro_rata":
            core._water_fill(payers, ceilings, shares, ids, target, out)
        else:
            core._equal_loss(payers, ceilings, ids, target, out)


def _granular(
    claims: Sequence[int],
    loss: int,
    rule: str,
    rounding: str,
    ids: Sequence[int],
    payers: list[int],
    ceilings: list[int],
    shares: list[int],
    unit: int,
) -> tuple[list[int], int, int, int, int]:
    whole = [k // unit for k in ceilings]
    target = min(loss, unit * sum(whole))
    taken, partial = divmod(target, unit)
    if rounding == "up" and partial:
        taken += 1
    elif rounding == "exact" and partial:
        raise InvalidInputError(
            f"the loss to cover, {target} minor units, is not a whole number of units of "
            f"{unit}: pass rounding='up' to cover it (the excess is surplus) or "
            "rounding='down' (the rest is dust)"
        )
    counts = [0] * len(claims)
    _share_out(rule, payers, whole, shares, ids, taken, counts)
    out = [n * unit for n in counts]
    total = taken * unit
    return out, total, target, max(0, target - total), max(0, total - target)


def _projection(
    n: int,
    loss: int,
    ids: Sequence[int],
    payers: list[int],
    ceilings: list[int],
    shares: list[int],
    offset: Sequence[int],
) -> tuple[list[int], int, int, int, int]:
    out = [0] * n
    # Accounts that cannot pay anything are not part of the projection.
    points = [
        (i, k, s, offset[i]) for i, k, s in zip(payers, ceilings, shares, strict=True) if k > 0
    ]
    capacity = sum(k for _, k, _, _ in points)
    target = min(loss, capacity)
    if target == capacity:
        for i, k, _, _ in points:
            out[i] = k
        return out, target, target, 0, 0
    if target == 0:
        return out, 0, 0, 0, 0

    def paid(level: Fraction) -> Fraction:
        return sum(
            (min(Fraction(k), max(Fraction(0), o + level * s)) for _, k, s, o in points),
            Fraction(0),
        )

    # paid(level) is continuous, piecewise linear and non-decreasing, from 0 (every
    # account at 0) to the capacity; its kinks are where an account leaves 0 (-o/s) or
    # reaches its ceiling ((k - o)/s). The first kink where it reaches the target closes
    # a segment on which it is linear; the one before opens it (0 < target, so there is
    # one).
    kinks = sorted(
        {Fraction(-o, s) for _, _, s, o in points} | {Fraction(k - o, s) for _, k, s, o in points}
    )
    lo, hi = 0, len(kinks) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if paid(kinks[mid]) >= target:
            hi = mid
        else:
            lo = mid + 1
    assert lo > 0
    inside = (kinks[lo - 1] + kinks[lo]) / 2
    fixed = Fraction(0)
    slope = 0
    for _, k, s, o in points:
        value = o + inside * s
        if value >= k:
            fixed += k
        elif value > 0:
            fixed += o
            slope += s
    level = (target - fixed) / slope
    total = 0
    fractions: list[tuple[Fraction, int, int]] = []
    for i, k, s, o in points:
        h = min(Fraction(k), max(Fraction(0), o + level * s))
        out[i] = h.numerator // h.denominator
        total += out[i]
        if h.denominator != 1:
            fractions.append((out[i] - h, ids[i], i))
    fractions.sort()  # largest fractional part first, then the smallest id
    for _, _, i in fractions[: target - total]:
        out[i] += 1
    return out, target, target, 0, 0


def allocate_on_basis(
    claims: list[int],
    loss: int,
    rule: str,
    rounding: str,
    ids: list[int] | None,
    caps: list[int] | None,
    max_rate: tuple[int, int] | None,
    weights: list[int] | None,
    shares: list[int] | None,
    unit: int | None,
    offset: list[int] | None,
) -> tuple[list[int], int, int, int, int, int]:
    """Split ``loss`` over ``claims`` on a basis; all amounts in minor units.

    Returns ``(haircuts, total, target, dust, surplus, base)`` like ``_allocate.allocate``.

    Raises:
        InvalidInputError: a value or option combination the mechanism does not accept.
        AmountOverflowError: an input outside int64.
    """
    if shares is None and unit is None and offset is None:
        return core.allocate(claims, loss, rule, rounding, ids, caps, max_rate, weights)
    _check_basis(claims, loss, rule, rounding, caps, max_rate, weights, shares, unit, offset)
    core._check_arrays(claims, ids, caps, weights)
    tie_ids: Sequence[int] = range(len(claims)) if ids is None else ids
    if ids is not None:
        core._check_unique(ids, "")
    base = sum(c for c in claims if c > 0)
    payers, ceilings, share_list = _payers(claims, rule, caps, max_rate, weights, shares)
    if offset is not None:
        out, total, target, dust, surplus = _projection(
            len(claims), loss, tie_ids, payers, ceilings, share_list, offset
        )
    elif unit is not None:
        out, total, target, dust, surplus = _granular(
            claims, loss, rule, rounding, tie_ids, payers, ceilings, share_list, unit
        )
    else:
        out = [0] * len(claims)
        target = min(loss, sum(ceilings))
        _share_out(rule, payers, ceilings, share_list, tie_ids, target, out)
        total, dust, surplus = target, 0, 0
    return out, total, target, dust, surplus, base
