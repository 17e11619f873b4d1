"""Exact metrics of auto-deleveraging policies over a sequence of waves.

Everything here takes integers, ``Fraction`` or ``Decimal`` (converted exactly) and
returns exact ``int``/``Fraction`` values: no float, no rounding, no pandas. Round only to
display (``mutualize.research`` prints USD to the cent, half-even).

Notation, for a policy ``pi`` over waves ``t = 1..T``:

- ``B_t``: the budget the wave needs (what it must raise from winners);
- ``H_t``: the total haircut the policy charges in the wave;
- ``m_t``: the policy's largest per-account haircut as a fraction of that account's
  equity, capped at 1 (:func:`max_burden`);
- ``m_t^ref``: the same for a reference policy.

Sources: tracking error, fairness and the objective ``L = T + lambda F`` are the
per-wave regret terms of T. Chitra, N. Thogiti, M. Trujillo Ramirez and V. Xu,
"Autodeleveraging as Online Learning" (arXiv 2602.15182, 2026), as evaluated on the
Hyperliquid waves of 10 October 2025 by its MIT-licensed analysis (the reference policy
there is the min-max integer policy). The Gini coefficient is Gini (1912).

Not to be confused with :mod:`mutualize.sim.metrics`, the fairness metrics of one
backtest run (per-account tables in, floats for display out); the two share one exact
Gini, :func:`gini`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from numbers import Rational
from typing import TypeAlias, cast

import numpy as np

from mutualize.errors import AmountTypeError, InvalidInputError

__all__ = [
    "Exact",
    "PolicyScore",
    "accounts_hit",
    "deficit_coverage",
    "exact",
    "fairness_regret",
    "gini",
    "max_burden",
    "objective",
    "policy_score",
    "rate_gini",
    "tracking_error",
    "tracking_error_net",
    "tracking_error_positive",
]

#: An exact number: ``int``, ``Fraction`` or ``Decimal`` (numpy integers are accepted too).
Exact: TypeAlias = int | Fraction | Decimal

_INT64_MAX = 2**63 - 1


def exact(value: object, name: str = "value") -> Fraction:
    """``value`` as an exact ``Fraction``.

    Accepts ``int``, numpy integers, ``Fraction`` (any ``numbers.Rational``) and finite
    ``Decimal``. Refuses floats and bools (``AmountTypeError``, a ``TypeError``: a float
    has already been rounded), strings (parse them with ``Decimal`` first) and NaN or
    infinite decimals (``InvalidInputError``).
    """
    if isinstance(value, bool | np.bool_):
        raise AmountTypeError(f"{name} must be a number, got a bool")
    if isinstance(value, int | np.integer):
        return Fraction(int(value))
    if isinstance(value, Rational):
        return Fraction(int(value.numerator), int(value.denominator))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidInputError(f"{name} must be finite, got {value}")
        return Fraction(value)
    if isinstance(value, float | np.floating):
        raise AmountTypeError(
            f"{name} is a float ({value!r}); pass an int, Fraction or Decimal "
            "(a float has already been rounded)"
        )
    raise AmountTypeError(f"{name} must be an int, Fraction or Decimal, got {type(value).__name__}")


def _column(values: Iterable[object], name: str) -> list[Fraction]:
    if isinstance(values, str | bytes):
        raise AmountTypeError(f"{name} must be a sequence of numbers, not a string")
    items = list(values)
    if all(type(v) is int for v in items):
        # Plain ints stay ints: they mix exactly with Fractions, and much faster.
        return cast("list[Fraction]", items)
    return [exact(v, f"{name}[{i}]") for i, v in enumerate(items)]


def _paired(
    first: Iterable[object], second: Iterable[object], names: tuple[str, str]
) -> list[tuple[Fraction, Fraction]]:
    a, b = _column(first, names[0]), _column(second, names[1])
    if len(a) != len(b):
        raise InvalidInputError(
            f"{names[0]} has {len(a)} entries but {names[1]} has {len(b)}: one per wave"
        )
    return list(zip(a, b, strict=True))


# --------------------------------------------------------------------------- tracking


def tracking_error(haircut_totals: Iterable[Exact], budgets: Iterable[Exact]) -> Fraction:
    """Tracking error ``T = sum_t |H_t - B_t|``: how far each wave's haircuts were from
    the budget it needed, overshoot and shortfall alike.

    Args:
        haircut_totals: ``H_t``, the policy's total haircut per wave.
        budgets: ``B_t``, the budget each wave needed (same length, same unit).

    Source: the tracking (overshoot) regret of arXiv 2602.15182.
    """
    return sum((abs(h - b) for h, b in _paired(haircut_totals, budgets, _HB)), Fraction(0))


def tracking_error_net(haircut_totals: Iterable[Exact], budgets: Iterable[Exact]) -> Fraction:
    """Net tracking ``sum_t (H_t - B_t)``: overshoot minus shortfall. Waves that take too
    much and waves that take too little cancel here, not in :func:`tracking_error`
    (``|net| <= T``). For the Hyperliquid production queue of 10 October 2025 this is
    the analysis's headline overshoot of about $45.0M."""
    return sum((h - b for h, b in _paired(haircut_totals, budgets, _HB)), Fraction(0))


def tracking_error_positive(haircut_totals: Iterable[Exact], budgets: Iterable[Exact]) -> Fraction:
    """Overshoot only, ``sum_t max(H_t - B_t, 0)``: what was taken beyond each wave's
    need; shortfalls count 0. ``T = 2 * positive - net``."""
    return sum(
        (max(h - b, Fraction(0)) for h, b in _paired(haircut_totals, budgets, _HB)), Fraction(0)
    )


_HB = ("haircut_totals", "budgets")


# --------------------------------------------------------------------------- fairness


def fairness_regret(
    budgets: Iterable[Exact],
    max_burdens: Iterable[Exact],
    reference_max_burdens: Iterable[Exact],
) -> Fraction:
    """Fairness ``F = sum_t B_t * |m_t - m_t^ref|``: how far the policy's worst
    per-account burden was from the reference policy's, weighted by the wave's budget
    (so ``F`` is in money, like ``T``).

    Args:
        budgets: ``B_t`` per wave.
        max_burdens: ``m_t``, the policy's largest haircut/equity per wave (in [0, 1]).
        reference_max_burdens: ``m_t^ref`` of the reference policy.

    Source: the fairness regret of arXiv 2602.15182, with the analysis's min-max integer
    policy as the reference.
    """
    b = _column(budgets, "budgets")
    m = _column(max_burdens, "max_burdens")
    r = _column(reference_max_burdens, "reference_max_burdens")
    if not len(b) == len(m) == len(r):
        raise InvalidInputError(
            f"budgets, max_burdens and reference_max_burdens have {len(b)}, {len(m)} and "
            f"{len(r)} entries: one per wave"
        )
    return sum((bt * abs(mt - rt) for bt, mt, rt in zip(b, m, r, strict=True)), Fraction(0))


def objective(tracking: Exact, fairness: Exact, lam: Exact = 1) -> Fraction:
    """The objective ``L = T + lambda * F`` (``lambda >= 0``, 1 by default).

    Since ``T``, ``F`` and ``lambda`` are >= 0, ``L >= T`` and ``L >= lambda F``.

    Source: the total regret of arXiv 2602.15182.
    """
    t, f, weight = exact(tracking, "tracking"), exact(fairness, "fairness"), exact(lam, "lam")
    if weight < 0:
        raise InvalidInputError(f"lambda must be >= 0, got {weight}")
    return t + weight * f


@dataclass(frozen=True)
class PolicyScore:
    """A policy's scorecard over the waves; every figure exact, in the budgets' unit.

    Attributes:
        tracking: ``T = sum |H_t - B_t|``.
        tracking_net: ``sum (H_t - B_t)``.
        tracking_positive: ``sum max(H_t - B_t, 0)``.
        fairness: ``F = sum B_t |m_t - m_t^ref|``.
        total: ``L = T + lambda F``.
    """

    tracking: Fraction
    tracking_net: Fraction
    tracking_positive: Fraction
    fairness: Fraction
    total: Fraction


def policy_score(
    budgets: Sequence[Exact],
    haircut_totals: Sequence[Exact],
    max_burdens: Sequence[Exact],
    reference_max_burdens: Sequence[Exact],
    lam: Exact = 1,
) -> PolicyScore:
    """Every figure of :class:`PolicyScore` for one policy, from per-wave columns."""
    t = tracking_error(haircut_totals, budgets)
    f = fairness_regret(budgets, max_burdens, reference_max_burdens)
    return PolicyScore(
        tracking=t,
        tracking_net=tracking_error_net(haircut_totals, budgets),
        tracking_positive=tracking_error_positive(haircut_totals, budgets),
        fairness=f,
        total=objective(t, f, lam),
    )


# --------------------------------------------------------------------------- one wave


def max_burden(haircuts: Iterable[Exact], equity: Iterable[Exact]) -> Fraction:
    """Per-wave max burden ``m = min(1, max_i h_i / e_i)`` over the accounts with
    positive equity ``e_i`` (others are skipped); 0 when there are none.

    Source: the analysis of arXiv 2602.15182 (its ``max_pct`` columns).
    """
    # The largest h / e as a pair, compared by cross-multiplication (no division).
    top, bottom = Fraction(0), Fraction(1)
    for h, e in _paired(haircuts, equity, ("haircuts", "equity")):
        if h < 0:
            raise InvalidInputError(f"haircuts must be >= 0, got {h}")
        if e > 0 and h * bottom > top * e:
            top, bottom = h, e
    return min(Fraction(top) / bottom, Fraction(1))


def accounts_hit(haircuts: Iterable[Exact]) -> int:
    """How many accounts paid a positive haircut: ``#{i : h_i > 0}`` (the participation
    count the analysis of arXiv 2602.15182 reports; the backtests' ``accounts_touched``
    also counts auto-deleveraged accounts)."""
    return sum(1 for h in _column(haircuts, "haircuts") if h > 0)


def gini(values: Iterable[Exact] | np.ndarray) -> Fraction:
    """Gini coefficient of non-negative values, exactly: with ``x_1 <= ... <= x_n``,
    ``G = sum_i (2i - n - 1) x_i / (n * sum_i x_i)`` (the mean absolute difference over
    twice the mean; Gini 1912). 0 when all are equal (or there are none, or all are 0);
    ``(n - 1) / n`` when one value holds everything.

    An int64 numpy array takes a vectorized path (exact in int64 while the sums fit,
    Python integers beyond).
    """
    if isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        return _gini_int_array(values)
    column = sorted(_column(values, "values"))
    if column and column[0] < 0:
        raise InvalidInputError(f"gini needs values >= 0, got {column[0]}")
    n = len(column)
    total = sum(column)  # ints stay ints, Fractions stay exact
    if n == 0 or total == 0:
        return Fraction(0)
    weighted = sum((2 * i - n - 1) * x for i, x in enumerate(column, start=1))
    return Fraction(weighted) / (n * total)


def _gini_int_array(values: np.ndarray) -> Fraction:
    array = np.sort(np.asarray(values).ravel())
    n = int(array.size)
    if n == 0:
        return Fraction(0)
    if int(array[0]) < 0:
        raise InvalidInputError(f"gini needs values >= 0, got {int(array[0])}")
    largest = int(array[-1])
    if largest * n * n <= _INT64_MAX:  # every partial sum of (2i - n - 1) x_i fits
        data = array.astype(np.int64)
        total = int(data.sum())
        weights = 2 * np.arange(1, n + 1, dtype=np.int64) - n - 1
        weighted = int(np.dot(weights, data))
    else:
        items = [int(x) for x in array.tolist()]
        total = sum(items)
        weighted = sum((2 * i - n - 1) * x for i, x in enumerate(items, start=1))
    if total == 0:
        return Fraction(0)
    return Fraction(weighted, n * total)


def rate_gini(
    haircuts: Iterable[Exact], bases: Iterable[Exact], *, resolution_bits: int | None = None
) -> Fraction:
    """Gini coefficient of the haircut rates ``h_i / b_i`` over the accounts with a
    positive base ``b_i`` (equity, or PnL): 0 when everyone lost the same share (pro
    rata on that base), near 1 when a few carried it all (a queue). Formula as
    :func:`gini` (Gini 1912) on the rates.

    Exact by default. Rates with many different bases have a common denominator that
    grows with every account, so for thousands of accounts pass ``resolution_bits=k``:
    each rate is first replaced by the integer ``floor(r_i * 2**k / r_max)`` (``r_max``
    the largest rate; exact integer arithmetic), which changes the result by less than
    ``n / 2**(k - 1)`` for ``n`` accounts (the Gini is scale-free, and the floors lose
    less than 1 each against a largest value of ``2**k``).
    """
    pairs = [(h, b) for h, b in _paired(haircuts, bases, ("haircuts", "bases")) if b > 0]
    if any(h < 0 for h, _ in pairs):
        raise InvalidInputError("gini needs haircuts >= 0")
    if resolution_bits is None:
        return gini([Fraction(h) / b for h, b in pairs])
    if resolution_bits < 1:
        raise InvalidInputError(f"resolution_bits must be >= 1, got {resolution_bits}")
    top, bottom = Fraction(0), Fraction(1)
    for h, b in pairs:
        if h * bottom > top * b:
            top, bottom = h, b
    if top == 0:
        return Fraction(0)
    # floor((h / b) / (top / bottom) * 2**k) = floor(h * bottom * 2**k / (b * top))
    unit = 2**resolution_bits
    if all(x.denominator == 1 for pair in pairs for x in pair):  # whole numbers: ints only
        num, den = int(bottom) * unit, int(top)
        return gini([int(h) * num // (int(b) * den) for h, b in pairs])
    scale = Fraction(bottom) / top * unit
    return gini([math.floor(Fraction(h) / b * scale) for h, b in pairs])


def deficit_coverage(deficit: Exact, by_stage: Mapping[str, Exact]) -> dict[str, Fraction]:
    """The share of a deficit each stage of the waterfall covered, plus what none did:
    ``covered_s / D`` per stage ``s`` and ``(D - sum_s covered_s) / D`` (the loss
    waterfall of the mechanism spec, section 1: insurance fund, socialized haircuts or
    ADL, then residual bad debt).

    Args:
        deficit: the deficit (> 0 for shares to be defined; 0 gives all-zero shares).
        by_stage: amount covered per stage, in order (``{"insurance_fund": ..,
            "haircuts": ..}``); each >= 0 and together at most the deficit.

    Returns:
        ``{stage: amount / deficit, ..., "uncovered": rest / deficit}``, exact, adding
        up to 1 (all 0 when the deficit is 0).
    """
    d = exact(deficit, "deficit")
    if d < 0:
        raise InvalidInputError(f"deficit must be >= 0, got {d}")
    if "uncovered" in by_stage:
        raise InvalidInputError("'uncovered' is computed, not a stage name")
    amounts = {name: exact(v, f"by_stage[{name!r}]") for name, v in by_stage.items()}
    for name, v in amounts.items():
        if v < 0:
            raise InvalidInputError(f"stage {name!r} covered a negative amount, {v}")
    covered = sum(amounts.values(), Fraction(0))
    if covered > d:
        raise InvalidInputError(f"the stages cover {covered}, more than the deficit {d}")
    if d == 0:
        return {**{name: Fraction(0) for name in amounts}, "uncovered": Fraction(0)}
    shares = {name: v / d for name, v in amounts.items()}
    shares["uncovered"] = (d - covered) / d
    return shares
