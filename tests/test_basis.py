"""``allocate`` on a basis: ``shares``, ``unit`` and ``offset``.

Worked cases on both backends, properties that tie the new options to the rules of
spec section 3, an independent exact solver for the projection, and differential tests
(compiled kernel vs pure-Python reference) on random inputs, errors included.
"""

from __future__ import annotations

from fractions import Fraction
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mutualize
import mutualize.reference as ref
from mutualize.errors import AmountOverflowError, InvalidInputError

I64_MAX = 2**63 - 1
I64_MIN = -(2**63)

# --------------------------------------------------------------------------- worked


def test_shares_follow_pnl_ceilings_follow_equity(api: SimpleNamespace) -> None:
    """Shares by PnL (3:2:1), ceilings by equity (40, 100, 10), a loss of 90: the third
    saturates first (10 at lam = 1), then the first (40 at lam = 4/3); the second takes
    the rest, 40 at lam = 2 (more than its PnL of 20, within its equity)."""
    equity = [40, 100, 10]
    pnl = [30, 20, 10]
    a = api.allocate(equity, 90, shares=pnl)
    assert a.haircuts.tolist() == [40, 40, 10]
    assert a.total == a.target == 90
    assert api.allocate(equity, 60, shares=pnl).haircuts.tolist() == pnl  # lam = 1
    assert a.base == 150


def test_shares_can_exceed_the_share_basis(api: SimpleNamespace) -> None:
    """A ceiling above the share basis is what weights cannot express: shares 1:1,
    ceilings 90 and 10; 60 splits 50/10 once the small ceiling binds."""
    a = api.allocate([90, 10], 60, shares=[1, 1])
    assert a.haircuts.tolist() == [50, 10]


def test_shares_zero_exempts_and_claims_decide_eligibility(api: SimpleNamespace) -> None:
    a = api.allocate([50, 50, -5, 0], 30, shares=[0, 1, 7, 7])
    assert a.haircuts.tolist() == [0, 30, 0, 0]


def test_shares_equal_to_claims_is_plain_pro_rata(api: SimpleNamespace) -> None:
    claims = [8_000_000, 4_000_000, 500_000, -3_000_000]
    plain = api.allocate(claims, 7_500_000)
    assert api.allocate(claims, 7_500_000, shares=[max(c, 0) for c in claims]) == plain


def test_unit_rounding_rules(api: SimpleNamespace) -> None:
    """Whole contracts of 10: claims 100, 50, 30 hold 10, 5, 3 contracts."""
    claims = [100, 50, 30]
    up = api.allocate(claims, 95, unit=10, rounding="up")
    assert up.haircuts.tolist() == [50, 30, 20]  # 10 contracts pro rata 10:5:3
    assert (up.total, up.target, up.surplus, up.dust, up.uncovered) == (100, 95, 5, 0, 0)
    down = api.allocate(claims, 95, unit=10, rounding="down")
    assert down.haircuts.tolist() == [50, 30, 10]
    assert (down.total, down.dust, down.uncovered) == (90, 5, 5)
    exact = api.allocate(claims, 100, unit=10)
    assert exact.haircuts.tolist() == [50, 30, 20]
    with pytest.raises(InvalidInputError, match="whole number of units"):
        api.allocate(claims, 95, unit=10)


def test_unit_never_takes_a_partial_contract(api: SimpleNamespace) -> None:
    """Ceilings 105 and 9 hold 10 and 0 whole units of 10; the rest is never taken, so
    the capacity is 100 and a loss of 114 leaves 14 uncovered."""
    a = api.allocate([105, 9], 114, unit=10, rounding="up")
    assert a.haircuts.tolist() == [100, 0]
    assert (a.target, a.uncovered, a.surplus) == (100, 14, 0)


def test_unit_equal_loss(api: SimpleNamespace) -> None:
    a = api.allocate([100, 50, 30], 100, unit=10, rule="equal_loss")
    assert a.haircuts.tolist() == [40, 30, 30]


def test_unit_one_is_the_plain_rule(api: SimpleNamespace) -> None:
    claims = [7, 13, 1, 0, 29]
    for rule in ("pro_rata", "equal_loss"):
        assert (
            api.allocate(claims, 23, unit=1, rule=rule).haircuts.tolist()
            == api.allocate(claims, 23, rule=rule).haircuts.tolist()
        )


def test_offset_hand_computed(api: SimpleNamespace) -> None:
    """h = clamp(o + lam c): 40 + 100 lam + 10 + 30 lam = 60 with the middle account at
    0 (lam = 1/13 < 5/50), so 47.69 and 12.31, the leftover unit to the larger fraction."""
    a = api.allocate([100, 50, 30], 60, offset=[40, -5, 10])
    assert a.haircuts.tolist() == [48, 0, 12]
    e = api.allocate([100, 50, 30], 60, offset=[40, -5, 10], rule="equal_loss")
    assert e.haircuts.tolist() == [45, 0, 15]  # 40 + 5 and 10 + 5, the middle at 0


def test_zero_offset_is_capped_pro_rata(api: SimpleNamespace) -> None:
    claims = [100, 50, 30, -4]
    caps = [20, 50, 30, 9]
    plain = api.allocate(claims, 60, caps=caps)
    assert api.allocate(claims, 60, caps=caps, offset=[0, 0, 0, 0]) == plain


def test_rate_space_projection_of_the_paper(api: SimpleNamespace) -> None:
    """Weights w = capacities and shares w^2: x_i = h_i / w_i = [y_i + tau w_i]_0^1, the
    closed form of the vector mirror-descent projection (arXiv 2602.15182, section on
    vector mirror descent); from y = 0 the haircut rates grow with w."""
    w = [400, 100, 100]
    a = api.allocate(w, 180, weights=w, offset=[0, 0, 0])
    # h = min(w, tau w^2): 160000 tau + 2 * 10000 tau = 180 -> tau = 1/1000
    assert a.haircuts.tolist() == [160, 10, 10]


def test_full_and_empty_targets(api: SimpleNamespace) -> None:
    assert api.allocate([5, 6], 100, offset=[9, -9]).haircuts.tolist() == [5, 6]
    assert api.allocate([5, 6], 0, offset=[9, -9]).haircuts.tolist() == [0, 0]
    assert api.allocate([5, 6], 100, shares=[1, 0]).haircuts.tolist() == [5, 0]
    assert api.allocate([], 10, unit=3, rounding="up").haircuts.tolist() == []


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"shares": [-1, 1]}, InvalidInputError),
        ({"shares": [1]}, InvalidInputError),
        ({"shares": [1, 1], "weights": [1, 1]}, InvalidInputError),
        ({"shares": [1, 1], "rule": "equal_loss"}, InvalidInputError),
        ({"shares": [1, 1], "rule": "equal_award"}, InvalidInputError),
        ({"shares": [1, 1], "rounding": "down"}, InvalidInputError),
        ({"offset": [1, 1], "rounding": "up"}, InvalidInputError),
        ({"offset": [1, 1], "unit": 2}, InvalidInputError),
        ({"offset": [1, 1, 1]}, InvalidInputError),
        ({"offset": [I64_MAX + 1, 0]}, AmountOverflowError),
        ({"unit": 0}, InvalidInputError),
        ({"unit": -3}, InvalidInputError),
        ({"unit": 2.0}, TypeError),
        ({"unit": 2, "rule": "equal_award"}, InvalidInputError),
        ({"unit": 2, "rule": "equal_award", "caps": [1, 1]}, InvalidInputError),
        ({"shares": [1, 1], "ids": [4, 4]}, InvalidInputError),
        ({"unit": 2, "rounding": "sideways"}, InvalidInputError),
        ({"offset": [0, 0], "rule": "nope"}, InvalidInputError),
    ],
)
def test_bad_options(api: SimpleNamespace, options: dict[str, Any], error: type) -> None:
    out = np.full(2, 77, dtype=np.int64)
    with pytest.raises(error):
        api.allocate([10, 20], 6, out=out, **options)
    assert out.tolist() == [77, 77]  # untouched


def test_unit_accepts_rounding_with_caps(api: SimpleNamespace) -> None:
    """With a unit, ``rounding`` is about the last partial unit, so it goes with caps."""
    a = api.allocate([100, 100], 55, unit=10, rounding="up", caps=[30, 100])
    assert a.haircuts.tolist() == [30, 30]
    assert a.surplus == 5


# --------------------------------------------------------------------------- projection


def exact_projection(
    ceilings: list[int], shares: list[int], offset: list[int], target: int
) -> list[Fraction]:
    """The real projection, found independently: the total paid is piecewise linear in
    the level, so it is evaluated on every kink and solved on the crossing segment."""

    def paid(level: Fraction) -> Fraction:
        return sum(
            (
                min(Fraction(k), max(Fraction(0), o + level * s))
                for k, s, o in zip(ceilings, shares, offset, strict=True)
            ),
            Fraction(0),
        )

    kinks = sorted(
        {Fraction(-o, s) for s, o in zip(shares, offset, strict=True)}
        | {Fraction(k - o, s) for k, s, o in zip(ceilings, shares, offset, strict=True)}
    )
    values = [paid(x) for x in kinks]
    j = next(i for i, v in enumerate(values) if v >= target)
    lo, hi = kinks[j - 1], kinks[j]
    level = lo + (hi - lo) * (target - values[j - 1]) / (values[j] - values[j - 1])
    return [
        min(Fraction(k), max(Fraction(0), o + level * s))
        for k, s, o in zip(ceilings, shares, offset, strict=True)
    ]


@st.composite
def projections(draw: st.DrawFn) -> tuple[list[int], list[int], list[int], int]:
    n = draw(st.integers(1, 7))
    ceilings = draw(st.lists(st.integers(1, 60), min_size=n, max_size=n))
    shares = draw(st.lists(st.integers(1, 9), min_size=n, max_size=n))
    offset = draw(st.lists(st.integers(-80, 80), min_size=n, max_size=n))
    target = draw(st.integers(1, sum(ceilings) - 1)) if sum(ceilings) > 1 else 1
    return ceilings, shares, offset, target


@settings(max_examples=300, deadline=None)
@given(projections())
def test_projection_within_one_unit_of_the_real_one(
    case: tuple[list[int], list[int], list[int], int],
) -> None:
    ceilings, shares, offset, target = case
    if target >= sum(ceilings):
        return
    exact = exact_projection(ceilings, shares, offset, target)
    for allocate in (mutualize.allocate, ref.allocate):
        h = allocate(ceilings, target, shares=shares, offset=offset).haircuts.tolist()
        assert sum(h) == target
        for hi, xi, k in zip(h, exact, ceilings, strict=True):
            assert 0 <= hi <= k
            assert abs(hi - xi) < 1
            if xi.denominator == 1:  # integral: no rounding at all
                assert hi == xi


# --------------------------------------------------------------------------- differential

claim = st.one_of(
    st.integers(-50, 50),
    st.integers(1, 10**12),
    st.integers(I64_MIN, I64_MAX),
    st.integers(I64_MAX - 1000, I64_MAX),
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[list[int], int, dict[str, Any]]:
    n = draw(st.integers(0, 24))
    claims = draw(st.lists(claim, min_size=n, max_size=n))
    base = sum(c for c in claims if c > 0)
    loss = draw(
        st.one_of(
            st.integers(0, I64_MAX),
            st.just(min(base, I64_MAX)),
            st.integers(0, 1000).map(lambda x: min(I64_MAX, base * x // 1000)),
        )
    )
    kind = draw(st.sampled_from(["shares", "unit", "offset", "unit+shares", "offset+shares"]))
    rule = draw(st.sampled_from(["pro_rata", "pro_rata", "equal_loss"]))
    options: dict[str, Any] = {"rule": rule}
    column = st.lists(st.integers(0, 9) | st.integers(0, I64_MAX), min_size=n, max_size=n)
    if "shares" in kind:
        options["rule"] = "pro_rata"
        options["shares"] = draw(column)
    if "unit" in kind:
        options["unit"] = draw(st.integers(1, 10) | st.integers(1, I64_MAX))
        options["rounding"] = draw(st.sampled_from(["up", "down", "exact"]))
    if "offset" in kind:
        options["offset"] = draw(
            st.lists(st.integers(-100, 100) | st.integers(I64_MIN, I64_MAX), min_size=n, max_size=n)
        )
    if draw(st.booleans()):
        options["ids"] = draw(st.permutations(list(range(n))))
    if draw(st.booleans()):
        options["caps"] = draw(column)
    if draw(st.booleans()):
        den = draw(st.integers(1, 10**20))
        options["max_rate"] = f"{draw(st.integers(0, den))}/{den}"
    if options["rule"] == "pro_rata" and "shares" not in options and draw(st.booleans()):
        options["weights"] = draw(column)
    return claims, loss, options


def outcome(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        a = fn(*args, **kwargs)
    except Exception as exc:  # the class is part of the contract
        return type(exc)
    return a.to_dict()


needs_rust = pytest.mark.skipif(mutualize.backend != "rust", reason="needs the compiled extension")


@needs_rust
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_rust_equals_reference(request: tuple[list[int], int, dict[str, Any]]) -> None:
    claims, loss, options = request
    fast = outcome(mutualize.allocate, claims, loss, **options)
    slow = outcome(ref.allocate, claims, loss, **options)
    assert fast == slow
    if isinstance(fast, dict):
        h = fast["haircuts"]
        assert fast["total"] == sum(h)
        assert all(0 <= x <= max(c, 0) for x, c in zip(h, claims, strict=True))
        if "unit" in options:
            assert all(x % options["unit"] == 0 for x in h)
            assert fast["total"] - fast["surplus"] + fast["dust"] == fast["target"]
        else:
            assert fast["total"] == fast["target"]


@needs_rust
@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(-5, 100), max_size=8),
    st.sampled_from(
        [
            {"shares": "neg"},
            {"shares": "short"},
            {"shares": "ok", "weights": "ok"},
            {"shares": "ok", "rule": "equal_loss"},
            {"shares": "ok", "rounding": "up"},
            {"offset": "ok", "unit": 3},
            {"offset": "ok", "rule": "equal_award"},
            {"unit": 0},
            {"unit": 7},
            {"unit": 7, "rounding": "down", "caps": "ok"},
            {"offset": "short"},
            {"offset": "ok", "ids": "dup"},
            {"unit": 3, "rounding": "sideways"},
            {"shares": "ok", "rule": "nope"},
        ]
    ),
    st.integers(-3, 500),
)
def test_errors_agree(claims: list[int], bad: dict[str, Any], loss: int) -> None:
    n = len(claims)
    options = dict(bad)
    for key, value in bad.items():
        if value == "neg":
            options[key] = [-1] * n
        elif value == "short":
            options[key] = [1] * (n + 1)
        elif value == "ok":
            options[key] = [abs(c) for c in claims]
        elif value == "dup":
            options[key] = [1] * max(n, 2)
    assert outcome(mutualize.allocate, claims, loss, **options) == outcome(
        ref.allocate, claims, loss, **options
    )


@needs_rust
def test_large_random_inputs_agree() -> None:
    """A few thousand accounts with realistic magnitudes (micro-USD), every option."""
    rng = np.random.default_rng(7)
    n = 3000
    equity = rng.integers(-(10**9), 10**12, n, dtype=np.int64)
    pnl = np.clip(rng.integers(-(10**9), 10**11, n, dtype=np.int64), 0, None)
    offset = rng.integers(-(10**8), 10**9, n, dtype=np.int64)
    loss = int(pnl.sum()) // 7
    for options in (
        {"shares": pnl},
        {"shares": pnl, "caps": pnl},
        {"unit": 12_345, "rounding": "up", "caps": pnl},
        {"unit": 12_345, "rounding": "down", "rule": "equal_loss"},
        {"offset": offset, "weights": np.clip(equity, 0, None) // 10**6},
        {"offset": offset, "rule": "equal_loss", "caps": pnl},
    ):
        fast = mutualize.allocate(equity, loss, **options)
        slow = ref.allocate(equity, loss, **options)
        assert fast == slow, options
