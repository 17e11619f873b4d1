"""mutualize.metrics: exact values on hand-computed cases, properties, bad inputs."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mutualize import metrics
from mutualize.errors import AmountTypeError, InvalidInputError

F = Fraction

# --------------------------------------------------------------------------- by hand


def test_tracking_three_waves_by_hand() -> None:
    """Budgets 10, 20, 30; haircuts 12 (+2), 15 (-5), 30 (0)."""
    h, b = [12, 15, 30], [10, 20, 30]
    assert metrics.tracking_error(h, b) == 7
    assert metrics.tracking_error_net(h, b) == -3
    assert metrics.tracking_error_positive(h, b) == 2


def test_fairness_and_objective_by_hand() -> None:
    """F = 10 |1/2 - 1/4| + 20 |0 - 1/4| = 5/2 + 5 = 15/2; L = 7 + 2 * 15/2 = 22."""
    f = metrics.fairness_regret([10, 20], [F(1, 2), 0], [F(1, 4), F(1, 4)])
    assert f == F(15, 2)
    assert metrics.objective(7, f, 2) == 22
    assert metrics.objective(7, f) == F(29, 2)
    assert metrics.objective(7, f, Decimal("0.5")) == F(43, 4)


def test_policy_score_bundles_every_figure() -> None:
    score = metrics.policy_score([10, 20, 30], [12, 15, 30], [F(1, 2), 0, 1], [0, 0, 1])
    assert score == metrics.PolicyScore(
        tracking=F(7), tracking_net=F(-3), tracking_positive=F(2), fairness=F(5), total=F(12)
    )


def test_decimals_are_read_exactly() -> None:
    """0.1 + 0.2 is exactly 0.3 here (it is not in floats)."""
    h = [Decimal("0.1"), Decimal("0.2")]
    assert metrics.tracking_error_net(h, [0, 0]) == F(3, 10)


def test_max_burden() -> None:
    # 5/50, 9/30, 0; the negative-equity account is skipped
    assert metrics.max_burden([5, 9, 0, 7], [50, 30, 10, -4]) == F(3, 10)
    assert metrics.max_burden([60, 1], [50, 10]) == 1  # capped at 1
    assert metrics.max_burden([], []) == 0


def test_gini_by_hand() -> None:
    assert metrics.gini([1, 1, 1, 1]) == 0
    assert metrics.gini([0, 0, 0, 4]) == F(3, 4)  # (n - 1) / n
    # (1, 2, 3): weights (-2, 0, 2) -> 4 / (3 * 6) = 2/9
    assert metrics.gini([3, 1, 2]) == F(2, 9)
    assert metrics.gini([]) == 0
    assert metrics.gini([0, 0]) == 0
    assert metrics.gini([F(1, 2), F(1, 2)]) == 0


def test_gini_int_array_matches_the_sequence_path() -> None:
    rng = np.random.default_rng(3)
    values = rng.integers(0, 10**6, 500, dtype=np.int64)
    assert metrics.gini(values) == metrics.gini(values.tolist())
    huge = np.array([2**62, 2**62, 1, 0], dtype=np.int64)  # past the int64 fast path
    assert metrics.gini(huge) == metrics.gini([int(x) for x in huge])


def test_rate_gini() -> None:
    # rates 1/10, 1/10, 1/2 (the zero-base account is skipped)
    g = metrics.rate_gini([1, 2, 5, 9], [10, 20, 10, 0])
    assert g == metrics.gini([F(1, 10), F(1, 10), F(1, 2)])
    assert metrics.rate_gini([1, 2], [10, 20]) == 0  # pro rata: one rate for all


def test_accounts_hit() -> None:
    assert metrics.accounts_hit([0, 3, 0, F(1, 2)]) == 2


def test_deficit_coverage() -> None:
    shares = metrics.deficit_coverage(100, {"insurance_fund": 30, "haircuts": 45})
    assert shares == {"insurance_fund": F(3, 10), "haircuts": F(9, 20), "uncovered": F(1, 4)}
    assert sum(shares.values()) == 1
    assert metrics.deficit_coverage(0, {"insurance_fund": 0}) == {
        "insurance_fund": 0,
        "uncovered": 0,
    }


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: metrics.tracking_error([1.5], [1]), AmountTypeError),  # type: ignore[list-item]
        (lambda: metrics.tracking_error([True], [1]), AmountTypeError),
        (lambda: metrics.tracking_error(["1"], [1]), AmountTypeError),  # type: ignore[list-item]
        (lambda: metrics.tracking_error("12", "12"), AmountTypeError),  # type: ignore[arg-type]
        (lambda: metrics.tracking_error([1, 2], [1]), InvalidInputError),
        (lambda: metrics.tracking_error([Decimal("NaN")], [1]), InvalidInputError),
        (lambda: metrics.fairness_regret([1], [0], []), InvalidInputError),
        (lambda: metrics.objective(1, 1, -1), InvalidInputError),
        (lambda: metrics.gini([1, -1]), InvalidInputError),
        (lambda: metrics.gini(np.array([3, -1])), InvalidInputError),
        (lambda: metrics.max_burden([-1], [5]), InvalidInputError),
        (lambda: metrics.deficit_coverage(10, {"a": 11}), InvalidInputError),
        (lambda: metrics.deficit_coverage(10, {"a": -1}), InvalidInputError),
        (lambda: metrics.deficit_coverage(-1, {}), InvalidInputError),
        (lambda: metrics.deficit_coverage(10, {"uncovered": 1}), InvalidInputError),
    ],
)
def test_bad_inputs(call: object, error: type) -> None:
    with pytest.raises(error):
        call()  # type: ignore[operator]


# --------------------------------------------------------------------------- properties

money = st.one_of(
    st.integers(-(10**15), 10**15),
    st.fractions(min_value=-(10**9), max_value=10**9, max_denominator=10**6),
    st.decimals(min_value=-(10**9), max_value=10**9, places=8, allow_nan=False),
)
rate = st.fractions(min_value=0, max_value=1, max_denominator=10**6)


@st.composite
def waves(
    draw: st.DrawFn,
) -> tuple[list[metrics.Exact], list[metrics.Exact], list[Fraction], list[Fraction]]:
    n = draw(st.integers(0, 12))
    budgets = draw(st.lists(money, min_size=n, max_size=n))
    totals = draw(st.lists(money, min_size=n, max_size=n))
    m = draw(st.lists(rate, min_size=n, max_size=n))
    ref = draw(st.lists(rate, min_size=n, max_size=n))
    return budgets, totals, m, ref


@settings(max_examples=100, deadline=None)
@given(waves(), st.fractions(min_value=0, max_value=100, max_denominator=1000))
def test_objective_properties(
    case: tuple[list[metrics.Exact], list[metrics.Exact], list[Fraction], list[Fraction]],
    lam: Fraction,
) -> None:
    raw, totals, m, ref = case
    budgets = [abs(metrics.exact(b)) for b in raw]  # budgets are >= 0
    t = metrics.tracking_error(totals, budgets)
    net = metrics.tracking_error_net(totals, budgets)
    pos = metrics.tracking_error_positive(totals, budgets)
    f = metrics.fairness_regret(budgets, m, ref)
    total = metrics.objective(t, f, lam)
    assert total >= t >= abs(net)
    assert f >= 0
    assert pos >= max(net, Fraction(0))
    assert t == 2 * pos - net
    assert total == t + lam * f
    # T = 0 when every wave raised exactly its budget; F = 0 against itself
    assert metrics.tracking_error(budgets, budgets) == 0
    assert metrics.fairness_regret(budgets, m, m) == 0
    # F is symmetric in the policy and the reference
    assert f == metrics.fairness_regret(budgets, ref, m)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 10**12) | st.fractions(0, 10**6), max_size=30))
def test_gini_properties(values: list[int | Fraction]) -> None:
    g = metrics.gini(values)
    n = len(values)
    assert 0 <= g <= (F(n - 1, n) if n else 0)
    assert metrics.gini(list(reversed(values))) == g  # order does not matter
    assert metrics.gini([3 * v for v in values]) == g  # scale invariant
    if n >= 2 and any(values):
        # the definition: mean absolute difference over twice the mean
        pairs = sum((abs(F(a) - F(b)) for a, b in combinations(values, 2)), F(0))
        assert g == 2 * pairs / (2 * n * sum((F(v) for v in values), F(0)))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 10**9), st.integers(-(10**9), 10**9)), min_size=1, max_size=20
    )
)
def test_max_burden_properties(rows: list[tuple[int, int]]) -> None:
    h = [r[0] for r in rows]
    e = [r[1] for r in rows]
    m = metrics.max_burden(h, e)
    assert 0 <= m <= 1
    assert all(F(hi, ei) <= m or F(hi, ei) > 1 for hi, ei in rows if ei > 0)
    assert metrics.max_burden([0] * len(h), e) == 0


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 10**12), st.integers(-5, 10**12)), max_size=25),
    st.integers(8, 128),
)
def test_rate_gini_at_a_resolution_is_within_its_bound(
    rows: list[tuple[int, int]], bits: int
) -> None:
    h = [r[0] for r in rows]
    b = [r[1] for r in rows]
    exact = metrics.rate_gini(h, b)
    approx = metrics.rate_gini(h, b, resolution_bits=bits)
    n = sum(1 for x in b if x > 0)
    assert abs(approx - exact) <= F(n, 2 ** (bits - 1))
    # the same through Fractions (the generic path)
    assert metrics.rate_gini([F(x) for x in h], b, resolution_bits=bits) == approx
