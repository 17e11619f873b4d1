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
    "CorruptJournalError",
    "CorruptSnapshotError",
    "InsufficientMarginError",
    "InvalidInputError",
    "InvariantError",
    "MutualizeError",
    "NotLiquidatableError",
    "OutOfMemoryError",
    "TornRecordError",
    "UnsealedJournalError",
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


class InsufficientMarginError(MutualizeError, ValueError):
    """An operation would leave an account below its margin requirement (or a
    deleveraging counterparty below zero equity)."""


class NotLiquidatableError(MutualizeError, ValueError):
    """A liquidation was asked for an account whose equity covers its maintenance
    requirement."""


class InvariantError(MutualizeError, AssertionError):
    """``Ledger.check()`` found a broken invariant (conservation, open interest ...)."""


class OutOfMemoryError(MutualizeError, MemoryError):
    """Memory for a size the caller gave (accounts, a batch, steps) could not be reserved.

    Nothing changed: the ledger stays as it was and usable. Sizes beyond what an address
    space can hold are an ``InvalidInputError`` instead.
    """


class CorruptSnapshotError(MutualizeError, ValueError):
    """A snapshot could not be decoded: truncated, corrupted or of another version."""


class CorruptJournalError(MutualizeError, ValueError):
    """A journal file is corrupted: a record's checksum, framing, sequence number or seal
    is wrong, or the header is not a journal's.

    ``offset`` is the byte where the good prefix ends (``None`` when the error is not
    about a file's bytes, as for an event that does not replay); ``records`` holds the
    complete records before it, so a caller can recover.
    """

    def __init__(
        self,
        message: str,
        records: list[dict[str, object]] | None = None,
        offset: int | None = None,
    ) -> None:
        super().__init__(message)
        self.records = records or []
        self.offset = offset

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (str(self), self.records, self.offset))


class TornRecordError(CorruptJournalError):
    """A journal file ends in an incomplete record (a write cut short)."""


class UnsealedJournalError(CorruptJournalError):
    """A journal file ends at a record boundary without the seal its writer's
    ``close()`` appends: the writer is still open or was stopped, or the file was cut
    at a record boundary. ``records`` holds every record; whether they are the whole
    history, the file cannot say."""
