"""Exact decimal text in and out: USD amounts and rates, for the research commands.

Input numbers are read as the exact decimal they print (``"4.656612873077393e-10"``
included); money is held as integer micro-USD (``MICRO`` per dollar) or as an exact
``Fraction``. Every rounding names its direction: what an account holds rounds down,
what must be raised rounds up, display rounds half-even.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction

from mutualize.errors import InvalidInputError

__all__ = [
    "MICRO",
    "cents",
    "decimal_text",
    "parse_decimal",
    "rate_text",
    "to_micro_ceil",
    "to_micro_floor",
    "usd_text",
]

#: Minor units per USD in the replay: integer micro-USD.
MICRO = 10**6


def parse_decimal(text: str, where: str) -> Decimal:
    """The exact decimal ``text`` shows, or an ``InvalidInputError`` naming ``where``."""
    cleaned = text.strip()
    if not cleaned:
        raise InvalidInputError(f"{where}: empty, expected a number")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise InvalidInputError(f"{where}: {text!r} is not a number") from None
    if not value.is_finite():
        raise InvalidInputError(f"{where}: {text!r} is not a finite number")
    return value


def to_micro_floor(value: Decimal) -> int:
    """USD to micro-USD, rounded down (toward minus infinity), exactly at any length."""
    num, den = value.as_integer_ratio()
    return num * MICRO // den


def to_micro_ceil(value: Decimal) -> int:
    """USD to micro-USD, rounded up (toward plus infinity), exactly at any length."""
    num, den = value.as_integer_ratio()
    return -(-num * MICRO // den)


def usd_text(micro: int) -> str:
    """Micro-USD as exact decimal USD text with six places (``-0.000001``)."""
    sign = "-" if micro < 0 else ""
    whole, frac = divmod(abs(micro), MICRO)
    return f"{sign}{whole}.{frac:06d}"


def cents(value: Fraction, *, grouping: bool = False) -> str:
    """An exact USD amount rounded half-even to the cent, as text (``1,234.57`` with
    ``grouping``)."""
    hundredths = round(value * 100)  # round() of a Fraction is half-even
    sign = "-" if hundredths < 0 else ""
    whole, frac = divmod(abs(hundredths), 100)
    body = f"{whole:,}" if grouping else str(whole)
    return f"{sign}{body}.{frac:02d}"


def rate_text(value: Fraction, places: int = 12) -> str:
    """A rate rounded half-even at ``places`` decimals (``0.105263157895``)."""
    scale = 10**places
    scaled = round(value * scale)
    sign = "-" if scaled < 0 else ""
    whole, frac = divmod(abs(scaled), scale)
    return f"{sign}{whole}.{frac:0{places}d}"


def decimal_text(value: Fraction) -> str:
    """An exact value as decimal text when it has one (``1/4`` -> ``0.25``), else
    ``numerator/denominator``."""
    den = value.denominator
    twos = fives = 0
    while den % 2 == 0:
        den //= 2
        twos += 1
    while den % 5 == 0:
        den //= 5
        fives += 1
    if den != 1:
        return f"{value.numerator}/{value.denominator}"
    places = max(twos, fives)
    if places == 0:
        return str(value.numerator)
    return rate_text(value, places)
