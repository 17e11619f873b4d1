"""Exact conversion of user inputs to integer minor units.

Money must never pass through a float. ints, numpy integers, integral ``Decimal`` and
numeric strings are converted exactly; floats are refused with a ``TypeError`` (a float
amount has already been rounded somewhere the caller did not choose).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from mutualize.errors import AmountOverflowError, AmountTypeError, InvalidInputError

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
Int64Array = npt.NDArray[np.int64]

__all__ = ["Int64Array", "as_amount", "as_amount_array", "as_rate"]


def _check_int64(value: int, name: str) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise AmountOverflowError(f"{name} = {value} does not fit in int64 minor units")
    return value


def as_amount(value: object, name: str) -> int:
    """Convert one amount (minor units) to an int exactly, or raise.

    Accepts ``int``, numpy integers, integral ``Decimal``/``Fraction`` and numeric
    strings such as ``"7500000"`` or ``"7_500_000"``. Refuses floats and bools
    (``TypeError``) and anything that is not a whole number (``ValueError``).
    """
    if isinstance(value, bool | np.bool_):
        raise AmountTypeError(f"{name} must be an integer amount, got a bool")
    if isinstance(value, int | np.integer):
        return _check_int64(int(value), name)
    if isinstance(value, float | np.floating):
        if math.isnan(float(value)):
            raise InvalidInputError(f"{name} is NaN")
        raise AmountTypeError(
            f"{name} is a float ({value!r}); amounts are integer minor units: pass an int, "
            "a Decimal or a numeric str, or round explicitly first"
        )
    if isinstance(value, str):
        try:
            value = Decimal(value.strip())
        except InvalidOperation:
            raise InvalidInputError(f"{name} = {value!r} is not a number") from None
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidInputError(f"{name} must be finite, got {value}")
        if value != value.to_integral_value():
            raise InvalidInputError(f"{name} = {value} is not a whole number of minor units")
        return _check_int64(int(value), name)
    if isinstance(value, Fraction):
        if value.denominator != 1:
            raise InvalidInputError(f"{name} = {value} is not a whole number of minor units")
        return _check_int64(int(value), name)
    raise AmountTypeError(f"{name} must be an integer amount, got {type(value).__name__}")


def as_amount_array(values: object, name: str) -> Int64Array:
    """Convert a 1-D column of amounts to a C-contiguous int64 array, exactly.

    An int64 C-contiguous array is returned as is (no copy). Other integer dtypes are
    converted when every value fits; float arrays are refused (``TypeError``); object
    arrays and Python sequences are converted element by element with ``as_amount``.
    """
    if isinstance(values, np.ndarray):
        array = values
    elif isinstance(values, str | bytes | dict):
        raise AmountTypeError(f"{name} must be a 1-D sequence of amounts")
    elif hasattr(values, "__array__"):
        array = np.asarray(values)
    elif isinstance(values, Iterable):
        items = list(values)
        if all(type(item) is int for item in items):
            try:
                return np.array(items, dtype=np.int64)
            except OverflowError:
                pass  # the element-wise path names the value that does not fit
        return _from_objects(np.asarray(items, dtype=object), name)
    else:
        raise AmountTypeError(
            f"{name} must be a 1-D array or sequence of amounts, got {type(values).__name__}"
        )
    if array.ndim != 1:
        raise InvalidInputError(f"{name} must be 1-D, got an array of shape {array.shape}")
    kind = array.dtype.kind
    if kind == "i":
        return np.ascontiguousarray(array, dtype=np.int64)
    if kind == "u":
        if array.size and int(array.max()) > INT64_MAX:
            raise AmountOverflowError(f"{name} holds values above the int64 maximum")
        return np.ascontiguousarray(array, dtype=np.int64)
    if kind in "fc":
        raise AmountTypeError(
            f"{name} is a {array.dtype} array; amounts are integer minor units "
            "(convert with an explicit rounding, e.g. np.floor(x).astype(np.int64))"
        )
    if kind == "b":
        raise AmountTypeError(f"{name} is a bool array, not amounts")
    if kind in "OUS":
        return _from_objects(array, name)
    raise AmountTypeError(f"{name} has dtype {array.dtype}, which is not an integer type")


def _from_objects(array: npt.NDArray[Any], name: str) -> Int64Array:
    if array.ndim != 1:
        raise InvalidInputError(f"{name} must be 1-D, got shape {array.shape}")
    out = np.empty(array.shape[0], dtype=np.int64)
    for i, item in enumerate(array.tolist()):
        out[i] = as_amount(item, f"{name}[{i}]")
    return out


def as_rate(value: object, name: str = "max_rate") -> tuple[int, int]:
    """Convert a rate (``Fraction``, ``int``, ``Decimal`` or ``"0.25"``/``"1/4"``) to an
    exact ``(numerator, denominator)`` in lowest terms, between 0 and 1."""
    if isinstance(value, bool | np.bool_):
        raise AmountTypeError(f"{name} must be a rate, got a bool")
    if isinstance(value, float | np.floating):
        raise AmountTypeError(
            f"{name} is a float ({value!r}); pass a Fraction, Decimal or str such as '0.25'"
        )
    if isinstance(value, np.integer):
        value = int(value)
    if not isinstance(value, Fraction | int | Decimal | str):
        raise AmountTypeError(f"{name} must be a Fraction, int, Decimal or str")
    try:
        rate = Fraction(value.strip() if isinstance(value, str) else value)
    except (ValueError, ZeroDivisionError, InvalidOperation):
        raise InvalidInputError(f"{name} = {value!r} is not a valid rate") from None
    if not 0 <= rate <= 1:
        raise InvalidInputError(f"{name} must be between 0 and 1, got {rate}")
    if rate.denominator >= 2**128:
        raise AmountOverflowError(f"{name} = {rate} needs more than 128 bits")
    return rate.numerator, rate.denominator
