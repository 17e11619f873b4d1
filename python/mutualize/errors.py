"""Exceptions raised by mutualize.

They are defined in Python, not in the compiled extension, so that they pickle across
process pools, Dask and Ray workers. Each one also derives from the built-in exception a
caller would expect (``ValueError``, ``TypeError``, ``OverflowError``), so
``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "AmountOverflowError",
    "AmountTypeError",
    "InvalidInputError",
    "MutualizeError",
]


class MutualizeError(Exception):
    """Base class of every error mutualize raises on purpose."""


class InvalidInputError(MutualizeError, ValueError):
    """An input has the right type but a value the mechanism cannot accept.

    Examples: a negative loss, negative caps or weights, duplicate account ids,
    arrays of different lengths, an option the chosen rule does not take.
    """


class AmountTypeError(MutualizeError, TypeError):
    """An amount has a type that cannot be converted exactly (a float, say)."""


class AmountOverflowError(MutualizeError, OverflowError):
    """An amount, or a result, does not fit the declared integer type (int64)."""
