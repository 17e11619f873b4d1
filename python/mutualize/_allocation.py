"""The public allocation API, shared by both backends.

``allocate_with(kernel, ...)`` does the input coercion and wraps the kernel's raw
result in an ``Allocation``; the compiled kernel (``mutualize._core``) and the
pure-Python reference (``mutualize.reference._allocate``) plug in underneath.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any, Literal, Protocol

import numpy as np

from mutualize._coerce import Int64Array, as_amount, as_amount_array, as_rate
from mutualize.errors import AmountTypeError, InvalidInputError

__all__ = ["Allocation", "AllocationBatch", "Kernel", "Rounding", "Rule", "percent"]

Rule = Literal["pro_rata", "equal_loss", "equal_award"]
Rounding = Literal["exact", "down", "up"]


class Kernel(Protocol):
    """What a backend provides: the raw kernels on validated int64 columns."""

    def allocate(
        self,
        claims: Int64Array,
        loss: int,
        rule: str,
        rounding: str,
        ids: Int64Array | None,
        caps: Int64Array | None,
        max_rate: tuple[int, int] | None,
        weights: Int64Array | None,
        out: Int64Array,
    ) -> tuple[int, int, int, int, int]: ...

    def allocate_many(
        self,
        claims: Int64Array,
        offsets: Int64Array,
        losses: Int64Array,
        rule: str,
        rounding: str,
        ids: Int64Array | None,
        caps: Int64Array | None,
        max_rate: tuple[int, int] | None,
        weights: Int64Array | None,
        out: Int64Array,
    ) -> tuple[Int64Array, Int64Array, Int64Array, Int64Array, Int64Array]: ...

    def allocate_on_basis(
        self,
        claims: Int64Array,
        loss: int,
        rule: str,
        rounding: str,
        ids: Int64Array | None,
        caps: Int64Array | None,
        max_rate: tuple[int, int] | None,
        weights: Int64Array | None,
        shares: Int64Array | None,
        unit: int | None,
        offset: Int64Array | None,
        out: Int64Array,
    ) -> tuple[int, int, int, int, int]: ...


def percent(rate: Fraction, places: int = 4) -> str:
    """``rate`` as a percentage string, rounded half-even at ``places`` decimals,
    without passing through a float."""
    value = Decimal(rate.numerator) * 100 / Decimal(rate.denominator)
    return f"{value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)}%"


def _frozen(array: Int64Array) -> Int64Array:
    array.flags.writeable = False
    return array


@dataclass(frozen=True, eq=False, repr=False)
class Allocation:
    """The haircuts one loss puts on a set of accounts, with the figures around them.

    All amounts are integer minor units of the settlement asset.

    Attributes:
        haircuts: int64 array, one haircut per claim, in input order (read-only).
        loss: the loss that was allocated.
        target: what the rule set out to collect, ``min(loss, sum of ceilings)``.
        total: the sum of the haircuts.
        uncovered: ``max(0, loss - total)``: left to the next stage of the waterfall.
        dust: units that ``rounding="down"`` left unallocated (part of ``uncovered``).
        surplus: units ``rounding="up"`` collected above the target.
        base: the sum of the eligible (positive) claims.
        rate: ``total / base`` as an exact ``Fraction`` (0 when nothing is eligible).
        rule, rounding: how the loss was shared.
    """

    haircuts: Int64Array
    loss: int
    target: int
    total: int
    uncovered: int
    dust: int
    surplus: int
    base: int
    rule: str = "pro_rata"
    rounding: str = "exact"
    rate: Fraction = field(init=False)

    def __post_init__(self) -> None:
        _frozen(self.haircuts)
        rate = Fraction(self.total, self.base) if self.base else Fraction(0)
        object.__setattr__(self, "rate", rate)

    def __len__(self) -> int:
        return int(self.haircuts.shape[0])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Allocation):
            return NotImplemented
        return self._scalars() == other._scalars() and np.array_equal(self.haircuts, other.haircuts)

    __hash__ = None  # type: ignore[assignment]  # holds an array: not hashable

    def _scalars(self) -> tuple[object, ...]:
        return (
            self.loss,
            self.target,
            self.total,
            self.uncovered,
            self.dust,
            self.surplus,
            self.base,
            self.rule,
            self.rounding,
        )

    def __repr__(self) -> str:
        shown = np.array2string(self.haircuts, threshold=8, edgeitems=3, separator=", ")
        return (
            f"Allocation(rule={self.rule!r}, rounding={self.rounding!r}, n={len(self)}, "
            f"loss={self.loss}, total={self.total}, uncovered={self.uncovered}, "
            f"dust={self.dust}, surplus={self.surplus}, "
            f"rate={self.rate} (~{percent(self.rate)}), haircuts={shown})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (Allocation, (np.array(self.haircuts), *self._scalars()))

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values: ``haircuts`` as a list of ints, ``rate`` a ``Fraction``."""
        names = (
            "loss",
            "target",
            "total",
            "uncovered",
            "dust",
            "surplus",
            "base",
            "rule",
            "rounding",
        )
        return {
            "haircuts": self.haircuts.tolist(),
            **dict(zip(names, self._scalars(), strict=True)),
            "rate": self.rate,
        }


@dataclass(frozen=True, eq=False, repr=False)
class AllocationBatch:
    """Many independent allocations (a backtest's events), laid out as CSR.

    Event ``e`` covers ``claims[offsets[e]:offsets[e+1]]``; its haircuts are the same
    slice of ``haircuts``. Per-event arrays (int64 minor units): ``losses``, ``totals``,
    ``targets``, ``uncovered``, ``dust``, ``surplus``. ``batch[e]`` is event ``e`` as
    an ``Allocation``; ``len(batch)`` is the number of events.
    """

    haircuts: Int64Array
    offsets: Int64Array
    losses: Int64Array
    totals: Int64Array
    targets: Int64Array
    uncovered: Int64Array
    dust: Int64Array
    surplus: Int64Array
    claims: Int64Array
    rule: str = "pro_rata"
    rounding: str = "exact"

    def __post_init__(self) -> None:
        for name in (
            "haircuts",
            "offsets",
            "losses",
            "totals",
            "targets",
            "uncovered",
            "dust",
            "surplus",
        ):
            _frozen(getattr(self, name))

    def __len__(self) -> int:
        return int(self.losses.shape[0])

    def __getitem__(self, event: int) -> Allocation:
        n = len(self)
        if not -n <= event < n:
            raise IndexError(f"event {event} out of range for a batch of {n}")
        event %= n
        lo, hi = int(self.offsets[event]), int(self.offsets[event + 1])
        claims = self.claims[lo:hi]
        return Allocation(
            haircuts=np.array(self.haircuts[lo:hi]),
            loss=int(self.losses[event]),
            target=int(self.targets[event]),
            total=int(self.totals[event]),
            uncovered=int(self.uncovered[event]),
            dust=int(self.dust[event]),
            surplus=int(self.surplus[event]),
            base=int(claims[claims > 0].sum(dtype=object)),
            rule=self.rule,
            rounding=self.rounding,
        )

    def __repr__(self) -> str:
        return (
            f"AllocationBatch(rule={self.rule!r}, rounding={self.rounding!r}, "
            f"events={len(self)}, accounts={self.haircuts.shape[0]}, "
            f"total={int(self.totals.sum(dtype=object))}, "
            f"uncovered={int(self.uncovered.sum(dtype=object))})"
        )

    def to_dict(self) -> dict[str, Any]:
        """Per-event figures as lists of ints, plus the flat haircuts and offsets."""
        names = (
            "haircuts",
            "offsets",
            "losses",
            "totals",
            "targets",
            "uncovered",
            "dust",
            "surplus",
        )
        out: dict[str, Any] = {name: getattr(self, name).tolist() for name in names}
        out.update(rule=self.rule, rounding=self.rounding)
        return out


def _optional_column(values: object, name: str) -> Int64Array | None:
    return None if values is None else as_amount_array(values, name)


def _output(out: object, n: int) -> Int64Array:
    """A fresh int64 array of ``n`` (numpy's allocator: cheap page faults), or the
    caller's ``out`` after checking it can take the result in place."""
    if out is None:
        return np.empty(n, dtype=np.int64)
    if not isinstance(out, np.ndarray):
        raise AmountTypeError(f"out must be a numpy array, got {type(out).__name__}")
    if out.dtype != np.int64 or out.ndim != 1 or not out.flags.c_contiguous:
        raise InvalidInputError("out must be a C-contiguous 1-D int64 array")
    if not out.flags.writeable:
        raise InvalidInputError("out must be writeable")
    if out.shape[0] != n:
        raise InvalidInputError(f"out has {out.shape[0]} entries but claims has {n}")
    return out


def _check_names(rule: object, rounding: object) -> None:
    """A rule or rounding that is not even a string is an unknown one (as the kernels
    say of an unknown string), on both backends alike."""
    for what, value, names in (
        ("rule", rule, "'pro_rata', 'equal_loss' or 'equal_award'"),
        ("rounding", rounding, "'exact', 'down' or 'up'"),
    ):
        if not isinstance(value, str):
            raise InvalidInputError(f"unknown {what} {value!r}: expected {names}")


def allocate_with(
    kernel: Kernel,
    claims: object,
    loss: object,
    *,
    rule: str,
    rounding: str,
    ids: object,
    caps: object,
    max_rate: object,
    weights: object,
    out: object = None,
    shares: object = None,
    unit: object = None,
    offset: object = None,
) -> Allocation:
    """Coerce the inputs exactly, run ``kernel.allocate`` and wrap the result
    (``kernel.allocate_on_basis`` when ``shares``, ``unit`` or ``offset`` is given)."""
    if shares is not None or unit is not None or offset is not None:
        return _allocate_on_basis(
            kernel,
            claims,
            loss,
            rule,
            rounding,
            ids,
            caps,
            max_rate,
            weights,
            out,
            shares=shares,
            unit=unit,
            offset=offset,
        )
    claims_array = as_amount_array(claims, "claims")
    loss_int = as_amount(loss, "loss")
    haircuts = _output(out, claims_array.shape[0])
    _check_names(rule, rounding)
    total, target, dust, surplus, base = kernel.allocate(
        claims_array,
        loss_int,
        rule,
        rounding,
        _optional_column(ids, "ids"),
        _optional_column(caps, "caps"),
        None if max_rate is None else as_rate(max_rate),
        _optional_column(weights, "weights"),
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


def allocate_many_with(
    kernel: Kernel,
    claims: object,
    offsets: object,
    losses: object,
    *,
    rule: str,
    rounding: str,
    ids: object,
    caps: object,
    max_rate: object,
    weights: object,
    out: object = None,
) -> AllocationBatch:
    """Coerce the inputs exactly, run ``kernel.allocate_many`` and wrap the result."""
    claims_array = as_amount_array(claims, "claims")
    offsets_array = as_amount_array(offsets, "offsets")
    losses_array = as_amount_array(losses, "losses")
    haircuts = _output(out, claims_array.shape[0])
    _check_names(rule, rounding)
    totals, targets, uncovered, dust, surplus = kernel.allocate_many(
        claims_array,
        offsets_array,
        losses_array,
        rule,
        rounding,
        _optional_column(ids, "ids"),
        _optional_column(caps, "caps"),
        None if max_rate is None else as_rate(max_rate),
        _optional_column(weights, "weights"),
        haircuts,
    )
    return AllocationBatch(
        haircuts=haircuts if out is None else haircuts.view(),
        offsets=np.array(offsets_array),
        losses=np.array(losses_array),
        totals=totals,
        targets=targets,
        uncovered=uncovered,
        dust=dust,
        surplus=surplus,
        claims=claims_array,
        rule=rule,
        rounding=rounding,
    )


def _allocate_on_basis(
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
    """``allocate_with`` for ``shares``, ``unit`` or ``offset``: the kernel's
    ``allocate_on_basis`` (compiled: ``rust/core/src/allocate/basis.rs``; reference:
    ``mutualize.reference._basis``), with the same exact coercion. In minor units:

    - ``shares``: non-negative integers that pro_rata follows instead of the claims
      (``h_i = min(k_i, lam * shares_i)``). The claims still decide who is eligible
      (``claim > 0``) and the ceilings ``k_i`` (the claim, lowered by ``caps`` and
      ``max_rate``), so a ceiling may exceed the share basis: shares by unrealized PnL,
      ceilings by equity. A share of 0 exempts the account.
    - ``unit``: haircuts in whole units of ``unit`` minor units (one contract's worth).
      An account gives up at most ``floor(k_i / unit)`` units; ``rounding`` says what
      happens to the last partial unit of the loss: ``"up"`` takes it whole (the excess
      is ``surplus``), ``"down"`` leaves it uncovered (``dust``), ``"exact"`` refuses a
      loss that is not a whole number of units.
    - ``offset``: a starting haircut per account (any sign). The result is its
      projection onto the haircuts that cover the target,
      ``h_i = clamp(offset_i + lam * s_i, 0, k_i)`` with one level ``lam`` (``s_i`` the
      pro-rata share, or 1 for equal_loss): one step of projected mirror descent, whose
      zero-offset case is capped pro rata.
    """
    claims_array = as_amount_array(claims, "claims")
    loss_int = as_amount(loss, "loss")
    haircuts = _output(out, claims_array.shape[0])
    _check_names(rule, rounding)
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
