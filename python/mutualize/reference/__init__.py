"""The pure-Python reference implementation of mutualize.

Written from the specification with Python ints, independently of the Rust core and
never calling it. It serves two purposes: differential tests require the compiled
kernel to agree with it exactly, and it is the pure-Python backend
(``mutualize._backend_python``), used where the extension cannot be loaded or with
``MUTUALIZE_BACKEND=python``. Modules: ``_allocate`` (the kernel), ``ledger`` and
``sim`` (the backtest engine). :data:`KERNEL` adapts the kernel to numpy columns;
:func:`allocate` and :func:`allocate_many` have the same signatures and results as
``mutualize.allocate`` and ``mutualize.allocate_many`` (they share its input
conversion and result types, ``mutualize._allocation``: the one thing of the package,
with the exception classes and ``mutualize._columns``, that the reference uses).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from mutualize._allocation import (
    Allocation,
    AllocationBatch,
    allocate_many_with,
    allocate_with,
)
from mutualize.errors import AmountOverflowError
from mutualize.reference import _allocate, _basis

Int64Array = npt.NDArray[np.int64]

__all__ = ["KERNEL", "allocate", "allocate_many"]


def _list(values: Int64Array | None) -> list[int] | None:
    return None if values is None else values.tolist()


def _array(values: list[int]) -> Int64Array:
    try:
        return np.array(values, dtype=np.int64)
    except OverflowError:
        raise AmountOverflowError("a per-event result does not fit in int64") from None


class _ListKernel:
    """Adapts the list-based reference kernel to the array-based backend interface."""

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
    ) -> tuple[int, int, int, int, int]:
        haircuts, total, target, dust, surplus, base = _allocate.allocate(
            claims.tolist(),
            loss,
            rule,
            rounding,
            _list(ids),
            _list(caps),
            max_rate,
            _list(weights),
        )
        out[:] = haircuts
        return total, target, dust, surplus, base

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
    ) -> tuple[Int64Array, Int64Array, Int64Array, Int64Array, Int64Array]:
        haircuts, totals, targets, dust, surplus = _allocate.allocate_many(
            claims.tolist(),
            offsets.tolist(),
            losses.tolist(),
            rule,
            rounding,
            _list(ids),
            _list(caps),
            max_rate,
            _list(weights),
        )
        uncovered = [
            max(0, loss - total) for loss, total in zip(losses.tolist(), totals, strict=True)
        ]
        out[:] = haircuts
        return (
            _array(totals),
            _array(targets),
            _array(uncovered),
            _array(dust),
            _array(surplus),
        )

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
    ) -> tuple[int, int, int, int, int]:
        haircuts, total, target, dust, surplus, base = _basis.allocate_on_basis(
            claims.tolist(),
            loss,
            rule,
            rounding,
            _list(ids),
            _list(caps),
            max_rate,
            _list(weights),
            _list(shares),
            unit,
            _list(offset),
        )
        out[:] = haircuts
        return total, target, dust, surplus, base


#: The raw kernels on int64 columns (``mutualize._allocation.Kernel``).
KERNEL = _ListKernel()


def allocate(
    claims: Any,
    loss: int | str | Any,
    *,
    rule: str = "pro_rata",
    rounding: str = "exact",
    ids: Any = None,
    caps: Any = None,
    max_rate: Fraction | int | str | Any = None,
    weights: Any = None,
    out: Any = None,
    shares: Any = None,
    unit: int | str | Any = None,
    offset: Any = None,
) -> Allocation:
    """Pure-Python ``mutualize.allocate``: same arguments, same result, much slower."""
    return allocate_with(
        KERNEL,
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
    rule: str = "pro_rata",
    rounding: str = "exact",
    ids: Any = None,
    caps: Any = None,
    max_rate: Fraction | int | str | Any = None,
    weights: Any = None,
    out: Any = None,
) -> AllocationBatch:
    """Pure-Python ``mutualize.allocate_many``: same arguments, same result."""
    return allocate_many_with(
        KERNEL,
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
