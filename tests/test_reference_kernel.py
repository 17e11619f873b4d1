"""Tests of the pure-Python reference allocation kernel (mechanism.md, section 3).

The kernel is checked three ways: the worked cases in shared/vectors/allocation.json;
brute-force oracles written differently from the kernel (every integer tried for the
equal_loss / equal_award levels, every saturated set tried for water-filling, Fractions for
the largest-remainder rounding); and the invariants of the spec (sums, bounds,
monotonicity, permutation equivariance). All amounts are integer minor units.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mutualize.errors import AmountOverflowError, InvalidInputError
from mutualize.reference._allocate import allocate, allocate_many

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

# The project's copy of shared/vectors/allocation.json (a clean clone has no shared/).
VECTORS = Path(__file__).resolve().parent / "vectors" / "allocation.json"

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass
class Case:
    """One allocate() call; ``ids`` None means positions."""

    claims: list[int]
    loss: int
    rule: str = "pro_rata"
    rounding: str = "exact"
    ids: list[int] | None = None
    caps: list[int] | None = None
    max_rate: tuple[int, int] | None = None
    weights: list[int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def run(self) -> tuple[list[int], int, int, int, int, int]:
        return allocate(
            self.claims,
            self.loss,
            self.rule,
            self.rounding,
            self.ids,
            self.caps,
            self.max_rate,
            self.weights,
        )

    def tie_ids(self) -> list[int]:
        return list(range(len(self.claims))) if self.ids is None else self.ids


def run(claims: list[int], loss: int, **options: Any) -> tuple[list[int], int, int, int, int, int]:
    return Case(claims, loss, **options).run()


# --------------------------------------------------------------------------- oracles


def ceilings(case: Case) -> list[int]:
    """k_i for every account (0 for ineligible ones), straight from the definition."""
    out = []
    for i, c in enumerate(case.claims):
        k = max(c, 0)
        if case.caps is not None:
            k = min(k, case.caps[i])
        if case.max_rate is not None:
            num, den = case.max_rate
            k = min(k, max(c, 0) * num // den)
        out.append(k)
    return out


def shares(case: Case) -> list[int]:
    """s_i for every account (0 for ineligible ones)."""
    out = []
    for i, c in enumerate(case.claims):
        s = max(c, 0)
        if case.weights is not None:
            s *= case.weights[i]
        out.append(s)
    return out


def hamilton_oracle(quotas: list[Fraction], amount: int, tie_ids: list[int]) -> list[int]:
    """Largest remainder on real quotas that sum to ``amount``."""
    assert sum(quotas) == amount
    floors = [math.floor(q) for q in quotas]
    leftover = amount - sum(floors)
    ranked = sorted(range(len(quotas)), key=lambda j: (floors[j] - quotas[j], tie_ids[j]))
    for j in ranked[:leftover]:
        floors[j] += 1
    return floors


def pro_rata_oracle(case: Case) -> list[int]:
    claims, ids = case.claims, case.tie_ids()
    elig = [i for i, c in enumerate(claims) if c > 0]
    base = sum(claims[i] for i in elig)
    target = min(case.loss, base)
    out = [0] * len(claims)
    if base == 0:
        return out
    quotas = [Fraction(claims[i] * target, base) for i in elig]
    if case.rounding == "down":
        parts = [math.floor(q) for q in quotas]
    elif case.rounding == "up":
        parts = [math.ceil(q) for q in quotas]
    else:
        parts = hamilton_oracle(quotas, target, [ids[i] for i in elig])
    for i, h in zip(elig, parts, strict=True):
        out[i] = h
    return out


def water_fill_oracle(case: Case) -> tuple[list[int], Fraction | None]:
    """Capped (weighted) pro_rata by trying every saturated set. Returns (h, lam*)."""
    ks, ss, ids = ceilings(case), shares(case), case.tie_ids()
    payers = [i for i in range(len(ks)) if ss[i] > 0]
    capacity = sum(ks[i] for i in payers)
    target = min(case.loss, capacity)
    out = [0] * len(ks)
    if target == capacity:
        for i in payers:
            out[i] = ks[i]
        return out, None
    found: list[tuple[set[int], Fraction]] = []
    for r in range(len(payers) + 1):
        for sat in itertools.combinations(payers, r):
            unsat = [i for i in payers if i not in sat]
            s_u = sum(ss[i] for i in unsat)
            if s_u == 0:
                continue
            lam = Fraction(target - sum(ks[i] for i in sat), s_u)
            if lam < 0:
                continue
            if all(ks[i] <= lam * ss[i] for i in sat) and all(ks[i] > lam * ss[i] for i in unsat):
                found.append((set(sat), lam))
    assert len(found) == 1, found  # the saturated set is unique
    sat_set, lam = found[0]
    unsat = [i for i in payers if i not in sat_set]
    for i in sat_set:
        out[i] = ks[i]
    parts = hamilton_oracle(
        [lam * ss[i] for i in unsat], target - sum(out), [ids[i] for i in unsat]
    )
    for i, h in zip(unsat, parts, strict=True):
        out[i] = h
    return out, lam


def equal_loss_oracle(case: Case) -> list[int]:
    """Try every integer level lam."""
    ks, ids = ceilings(case), case.tie_ids()
    payers = [i for i, c in enumerate(case.claims) if c > 0]
    capacity = sum(ks[i] for i in payers)
    target = min(case.loss, capacity)
    out = [0] * len(ks)
    if target == capacity:
        for i in payers:
            out[i] = ks[i]
        return out
    lam = max(lvl for lvl in range(max(ks) + 1) if sum(min(ks[i], lvl) for i in payers) <= target)
    for i in payers:
        out[i] = min(ks[i], lam)
    above = sorted((i for i in payers if ks[i] > lam), key=lambda i: ids[i])
    for i in above[: target - sum(out)]:
        out[i] += 1
    return out


def equal_award_oracle(case: Case) -> list[int]:
    """Try every integer level mu (smallest with sum(max(0, c - mu)) <= T)."""
    claims, ids = case.claims, case.tie_ids()
    elig = [i for i, c in enumerate(claims) if c > 0]
    target = min(case.loss, sum(claims[i] for i in elig))
    mu = min(
        m
        for m in range(max([0, *claims]) + 1)
        if sum(max(0, claims[i] - m) for i in elig) <= target
    )
    out = [0] * len(claims)
    for i in elig:
        out[i] = max(0, claims[i] - mu)
    at_or_above = sorted((i for i in elig if claims[i] >= mu), key=lambda i: ids[i])
    for i in at_or_above[: target - sum(out)]:
        out[i] += 1
    return out


# --------------------------------------------------------------------------- strategies

SMALL_CLAIM = st.one_of(st.integers(-2, 9), st.integers(-30, 60))  # the first: many ties
MID_CLAIM = st.one_of(SMALL_CLAIM, st.integers(-(10**15), 10**15))  # sums fit int64
ANY_CLAIM = st.one_of(MID_CLAIM, st.integers(INT64_MIN, INT64_MAX))


@st.composite
def id_lists(draw: st.DrawFn, n: int) -> list[int] | None:
    if draw(st.booleans()):
        return None
    small = draw(st.booleans())
    values = st.integers(-50, 50) if small else st.integers(INT64_MIN, INT64_MAX)
    ids: list[int] = draw(st.lists(values, min_size=n, max_size=n, unique=True))
    return ids


@st.composite
def losses_for(draw: st.DrawFn, capacity: int) -> int:
    """Mostly strictly inside (0, capacity), where the rounding happens; sometimes at or
    above it, zero, or the int64 maximum."""
    capacity = max(capacity, 0)
    inside = st.integers(1, capacity - 1) if capacity >= 2 else st.just(capacity)
    loss: int = draw(
        st.one_of(
            inside,
            inside,
            inside,
            st.integers(0, capacity + 50),
            st.just(INT64_MAX),
            st.just(0),
        )
    )
    return min(loss, INT64_MAX)


@st.composite
def cases(
    draw: st.DrawFn,
    rule: str = "pro_rata",
    rounding: str = "exact",
    options: bool = False,
    weights_ok: bool = False,
    max_n: int = 10,
    claim: st.SearchStrategy[int] = SMALL_CLAIM,
    min_n: int = 1,
) -> Case:
    claims: list[int] = draw(st.lists(claim, min_size=min_n, max_size=max_n))
    n = len(claims)
    case = Case(claims, 0, rule, rounding, draw(id_lists(n)))
    if options:
        if draw(st.booleans()):
            cap = st.one_of(st.integers(0, 15), st.integers(0, 80))
            case.caps = draw(st.lists(cap, min_size=n, max_size=n))
        if draw(st.booleans()):
            den = draw(st.integers(1, 12))
            case.max_rate = (draw(st.integers(0, den)), den)
        if weights_ok and draw(st.booleans()):
            case.weights = draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))
    capacity = sum(k for k, s in zip(ceilings(case), shares(case), strict=True) if s > 0)
    case.loss = draw(losses_for(capacity))
    return case


def check_common(case: Case, result: tuple[list[int], int, int, int, int, int]) -> None:
    """Invariants every rule holds."""
    h, total, target, dust, surplus, base = result
    assert len(h) == len(case.claims)
    assert base == sum(c for c in case.claims if c > 0)
    assert total == sum(h)
    assert 0 <= target <= min(case.loss, base)
    for hi, ci in zip(h, case.claims, strict=True):
        assert 0 <= hi <= max(ci, 0)
    if case.rounding == "exact":
        assert (total, dust, surplus) == (target, 0, 0)
    elif case.rounding == "down":
        assert surplus == 0
        assert dust == target - total >= 0
    else:
        assert dust == 0
        assert surplus == total - target >= 0


# --------------------------------------------------------------------------- worked cases


def _vector_cases() -> list[Any]:
    if not VECTORS.is_file():
        return [
            pytest.param(
                None,
                marks=pytest.mark.skip(reason=f"worked cases not found at {VECTORS}"),
                id="vectors-missing",
            )
        ]
    data = json.loads(VECTORS.read_text())
    return [pytest.param(c, id=c["name"]) for c in data["cases"]]


@pytest.mark.parametrize("vector", _vector_cases())
def test_worked_case(vector: dict[str, Any]) -> None:
    opts = dict(vector["options"])
    if "max_rate" in opts:
        opts["max_rate"] = tuple(opts["max_rate"])
    h, total, _target, dust, surplus, _base = run(vector["claims"], vector["loss"], **opts)
    assert h == vector["haircuts"]
    assert max(0, vector["loss"] - total) == vector["uncovered"]
    if "dust" in vector:
        assert dust == vector["dust"]
    if "surplus" in vector:
        assert surplus == vector["surplus"]


# --------------------------------------------------------------------------- pro_rata


@FAST
@given(cases(claim=ANY_CLAIM, max_n=12))
def test_pro_rata_exact_matches_oracle_and_invariants(case: Case) -> None:
    result = case.run()
    check_common(case, result)
    h, _total, target, _, _, base = result
    assert target == min(case.loss, base)
    assert h == pro_rata_oracle(case)
    for hi, ci in zip(h, case.claims, strict=True):
        if ci <= 0:
            assert hi == 0
        else:
            assert abs(hi * base - ci * target) < base  # |h_i - c_i T / P| < 1
    for (hi, ci), (hj, cj) in itertools.combinations(zip(h, case.claims, strict=True), 2):
        if ci > cj:
            assert hi >= hj
        elif cj > ci:
            assert hj >= hi


@FAST
@given(cases(max_n=12))
def test_pro_rata_exact_winners_have_the_largest_remainders(case: Case) -> None:
    """Characterisation of Hamilton: every +1 beats every non-+1 on (remainder, -id)."""
    h, _, target, _, _, base = case.run()
    ids = case.tie_ids()
    elig = [i for i, c in enumerate(case.claims) if c > 0]
    ranks = {i: (case.claims[i] * target % base, -ids[i]) for i in elig}
    winners = [i for i in elig if h[i] * base > case.claims[i] * target]
    losers = [i for i in elig if h[i] * base <= case.claims[i] * target]
    assert len(winners) == target - sum(case.claims[i] * target // base for i in elig)
    if winners and losers:
        assert min(ranks[i] for i in winners) > max(ranks[i] for i in losers)


@FAST
@given(st.sampled_from(["down", "up"]).flatmap(lambda r: cases(rounding=r, claim=ANY_CLAIM)))
def test_pro_rata_down_and_up(case: Case) -> None:
    result = case.run()
    check_common(case, result)
    h, _total, target, dust, surplus, base = result
    assert target == min(case.loss, base)
    assert h == pro_rata_oracle(case)
    n_elig = sum(1 for c in case.claims if c > 0)
    if case.rounding == "down":
        assert 0 <= dust < max(n_elig, 1)
    else:
        assert 0 <= surplus < max(n_elig, 1)


@FAST
@given(cases(claim=MID_CLAIM), st.sampled_from(["exact", "down", "up"]))
def test_loss_at_least_base_takes_every_claim(case: Case, rounding: str) -> None:
    base = sum(c for c in case.claims if c > 0)
    case.rounding = rounding
    case.loss = min(INT64_MAX, base + case.loss)
    h, total, target, dust, surplus, _ = case.run()
    assert h == [max(c, 0) for c in case.claims]
    assert (total, target, dust, surplus) == (base, base, 0, 0)
    assert case.loss - total == case.loss - base  # reported uncovered


def test_pro_rata_near_int64_limits() -> None:
    claims = [INT64_MAX, INT64_MAX - 1, 3, INT64_MIN, 0, INT64_MAX // 3]
    for loss in (INT64_MAX, INT64_MAX - 12345, 2**62 + 1, 1):
        h, total, target, _, _, base = run(claims, loss)
        assert total == target == min(loss, base)
        for hi, ci in zip(h, claims, strict=True):
            assert 0 <= hi <= max(ci, 0)
            assert abs(hi * base - max(ci, 0) * target) < base


def test_empty_and_no_eligible() -> None:
    for rule in ("pro_rata", "equal_loss", "equal_award"):
        assert run([], 5, rule=rule) == ([], 0, 0, 0, 0, 0)
        assert run([0, -3], 5, rule=rule) == ([0, 0], 0, 0, 0, 0, 0)
    assert allocate_many([], [0, 0], [7], "pro_rata", "exact", None, None, None, None) == (
        [],
        [0],
        [0],
        [0],
        [0],
    )
    assert allocate_many([], [0], [], "pro_rata", "exact", None, None, None, None) == (
        [],
        [],
        [],
        [],
        [],
    )


# --------------------------------------------------------------------------- water-filling


@st.composite
def binding_cases(draw: st.DrawFn) -> Case:
    """Water-filling where caps usually bind: positive claims, small caps, varied weights."""
    n = draw(st.integers(2, 7))
    claims = draw(
        st.lists(st.one_of(st.integers(1, 8), st.integers(1, 60)), min_size=n, max_size=n)
    )
    case = Case(claims, 0, ids=draw(id_lists(n)))
    case.caps = draw(st.lists(st.integers(0, 30), min_size=n, max_size=n))
    if draw(st.booleans()):
        case.weights = draw(st.lists(st.integers(0, 6), min_size=n, max_size=n))
    if draw(st.booleans()):
        case.max_rate = (draw(st.integers(1, 5)), 5)
    capacity = sum(k for k, s in zip(ceilings(case), shares(case), strict=True) if s > 0)
    case.loss = draw(st.integers(0, capacity))
    return case


@settings(max_examples=300, deadline=None)
@given(st.one_of(cases(options=True, weights_ok=True, max_n=7, min_n=2), binding_cases()))
def test_water_filling_matches_kkt_oracle(case: Case) -> None:
    result = case.run()
    check_common(case, result)
    h, _, target, _, _, _ = result
    ks, ss = ceilings(case), shares(case)
    payers = [i for i in range(len(ks)) if ss[i] > 0]
    assert target == min(case.loss, sum(ks[i] for i in payers))
    expected, lam = water_fill_oracle(case)
    assert h == expected
    for i in range(len(h)):
        assert h[i] <= ks[i]
        if i not in payers:
            assert h[i] == 0  # ineligible or weight 0
    if lam is not None:
        # KKT: one level lam for everyone; the real allocation min(k_i, lam s_i) sums to
        # T and each integer haircut is within one unit of it.
        real = {i: min(Fraction(ks[i]), lam * ss[i]) for i in payers}
        assert sum(real.values()) == target
        for i in payers:
            assert abs(h[i] - real[i]) < 1
            if ks[i] <= lam * ss[i]:
                assert h[i] == ks[i]


@FAST
@given(cases(claim=ANY_CLAIM, max_n=12), st.integers(1, 1000))
def test_no_binding_options_equal_plain_pro_rata(case: Case, w: int) -> None:
    plain = case.run()
    n = len(case.claims)
    big = [INT64_MAX] * n
    for opts in (
        {"weights": [w] * n},
        {"caps": big},
        {"caps": [max(c, 0) for c in case.claims]},
        {"max_rate": (w, w)},
        {"caps": big, "weights": [w] * n, "max_rate": (1, 1)},
    ):
        assert run(case.claims, case.loss, ids=case.ids, **opts) == plain, opts


def test_water_filling_saturates_small_caps() -> None:
    # claims 10, 20, 30, 40 with caps 1, 100, 3, 100 and T = 20: lam* = 16/60
    h, total, target, *_ = run([10, 20, 30, 40], 20, caps=[1, 100, 3, 100])
    assert (total, target) == (20, 20)
    assert h[0] == 1
    assert h[2] == 3
    assert h[1] + h[3] == 16
    assert h == [1, 5, 3, 11]  # quotas 16*20/60 = 5.33, 16*40/60 = 10.67


def test_weight_zero_pays_nothing() -> None:
    h, total, target, *_ = run([100, 100, 100], 150, weights=[0, 1, 2])
    assert h == [0, 50, 100]
    assert total == target == 150
    h, total, target, *_ = run([100, 100], 150, weights=[0, 0])
    assert (h, total, target) == ([0, 0], 0, 0)


def test_max_rate_limits_target() -> None:
    h, total, target, _, _, base = run([100, 40, 0, -5], 1000, max_rate=(1, 4))
    assert h == [25, 10, 0, 0]
    assert (total, target, base) == (35, 35, 140)


# --------------------------------------------------------------------------- equal rules


@settings(max_examples=300, deadline=None)
@given(cases(rule="equal_loss", options=True, max_n=8, min_n=2))
def test_equal_loss_matches_brute_force(case: Case) -> None:
    result = case.run()
    check_common(case, result)
    assert result[0] == equal_loss_oracle(case)


@settings(max_examples=300, deadline=None)
@given(cases(rule="equal_award", max_n=8, min_n=2))
def test_equal_award_matches_brute_force(case: Case) -> None:
    result = case.run()
    check_common(case, result)
    assert result[2] == min(case.loss, result[5])
    assert result[0] == equal_award_oracle(case)


@FAST
@given(st.lists(st.integers(-(10**15), 10**15), max_size=12), st.integers(0, 3 * 10**15))
def test_equal_rules_large_values(claims: list[int], loss: int) -> None:
    for rule in ("equal_loss", "equal_award"):
        case = Case(claims, loss, rule=rule)
        check_common(case, case.run())
    # equal_loss: everyone pays the same up to one unit, unless capped by the claim
    h = run(claims, loss, rule="equal_loss")[0]
    elig = [i for i, c in enumerate(claims) if c > 0]
    if elig:
        unsat = [h[i] for i in elig if h[i] < claims[i]]
        if unsat:
            assert max(unsat) - min(unsat) <= 1
            assert all(h[i] <= max(unsat) + 1 for i in elig)  # lam + 1 at most
    # equal_award: everyone keeps the same up to one unit, unless the claim is smaller
    h = run(claims, loss, rule="equal_award")[0]
    kept = [claims[i] - h[i] for i in elig if h[i] > 0]
    if kept:
        assert max(kept) - min(kept) <= 1
        assert all(claims[i] <= max(kept) + 1 for i in elig if h[i] == 0)  # mu at most


# --------------------------------------------------------------------------- equivariance


RULE_CASES = st.one_of(
    cases(claim=ANY_CLAIM),
    cases(rounding="down"),
    cases(rounding="up"),
    cases(options=True, weights_ok=True),
    cases(rule="equal_loss", options=True),
    cases(rule="equal_award"),
)


@FAST
@given(RULE_CASES, st.randoms(use_true_random=False))
def test_permutation_equivariance(case: Case, rnd: random.Random) -> None:
    h, *rest = case.run()
    n = len(case.claims)
    perm = list(range(n))
    rnd.shuffle(perm)
    ids = case.tie_ids()
    moved = Case(
        [case.claims[p] for p in perm],
        case.loss,
        case.rule,
        case.rounding,
        [ids[p] for p in perm],
        None if case.caps is None else [case.caps[p] for p in perm],
        case.max_rate,
        None if case.weights is None else [case.weights[p] for p in perm],
    )
    h2, *rest2 = moved.run()
    assert h2 == [h[p] for p in perm]
    assert rest2 == rest


# --------------------------------------------------------------------------- allocate_many


@st.composite
def batches(draw: st.DrawFn) -> tuple[list[Case], str, str, Any, Any]:
    """Several events sharing rule, rounding and max_rate; ids may repeat across events."""
    rule, rounding = draw(
        st.sampled_from(
            [
                ("pro_rata", "exact"),
                ("pro_rata", "down"),
                ("pro_rata", "up"),
                ("equal_loss", "exact"),
                ("equal_award", "exact"),
            ]
        )
    )
    options = rounding == "exact" and rule != "equal_award"
    use_ids = draw(st.booleans())
    use_caps = options and draw(st.booleans())
    use_weights = options and rule == "pro_rata" and draw(st.booleans())
    max_rate = (1, draw(st.integers(1, 4))) if options and draw(st.booleans()) else None
    events = []
    for _ in range(draw(st.integers(0, 5))):
        claims = draw(st.lists(SMALL_CLAIM, max_size=6))
        n = len(claims)
        ev = Case(claims, 0, rule, rounding, max_rate=max_rate)
        if use_ids:
            ev.ids = draw(st.lists(st.integers(0, 8), min_size=n, max_size=n, unique=True))
        if use_caps:
            ev.caps = draw(st.lists(st.integers(0, 70), min_size=n, max_size=n))
        if use_weights:
            ev.weights = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
        ev.loss = draw(st.integers(0, 150))
        events.append(ev)
    return events, rule, rounding, use_ids, (use_caps, use_weights, max_rate)


@FAST
@given(batches())
def test_allocate_many_equals_one_call_per_event(batch: tuple[Any, ...]) -> None:
    events, rule, rounding, use_ids, (use_caps, use_weights, max_rate) = batch
    claims = [c for ev in events for c in ev.claims]
    offsets = [0, *itertools.accumulate(len(ev.claims) for ev in events)]
    flat_ids = [x for ev in events for x in ev.ids] if use_ids else None
    flat_caps = [x for ev in events for x in ev.caps] if use_caps else None
    flat_w = [x for ev in events for x in ev.weights] if use_weights else None
    got = allocate_many(
        claims,
        offsets,
        [ev.loss for ev in events],
        rule,
        rounding,
        flat_ids,
        flat_caps,
        max_rate,
        flat_w,
    )
    singles = [ev.run() for ev in events]
    assert got == (
        [x for s in singles for x in s[0]],
        [s[1] for s in singles],
        [s[2] for s in singles],
        [s[3] for s in singles],
        [s[4] for s in singles],
    )


def test_allocate_many_ids_repeat_across_events() -> None:
    got = allocate_many(
        [5, 5, 5, 5, 5, 5],
        [0, 3, 6],
        [1, 2],
        "pro_rata",
        "exact",
        [30, 10, 20] * 2,
        None,
        None,
        None,
    )
    assert got == ([0, 1, 0, 0, 1, 1], [1, 2], [1, 2], [0, 0], [0, 0])


# --------------------------------------------------------------------------- invalid input

BAD_ALLOCATE: list[tuple[str, dict[str, Any], str]] = [
    ("unknown-rule", {"rule": "pro-rata"}, "unknown rule"),
    ("unknown-rounding", {"rounding": "nearest"}, "unknown rounding"),
    ("down-with-equal-loss", {"rule": "equal_loss", "rounding": "down"}, "only defined"),
    ("up-with-equal-award", {"rule": "equal_award", "rounding": "up"}, "only defined"),
    ("negative-loss", {"loss": -1}, "loss must be >= 0"),
    ("ids-length", {"ids": [1, 2]}, "ids has 2 entries"),
    ("caps-length", {"caps": [1, 2, 3, 4]}, "caps has 4 entries"),
    ("weights-length", {"weights": []}, "weights has 0 entries"),
    ("duplicate-ids", {"ids": [7, 3, 7]}, "duplicate account id 7"),
    ("negative-cap", {"caps": [1, -2, 3]}, "caps must be >= 0"),
    ("negative-weight", {"weights": [1, 1, -1]}, "weights must be >= 0"),
    ("max-rate-den-zero", {"max_rate": (0, 0)}, "denominator must be > 0"),
    ("max-rate-den-negative", {"max_rate": (-1, -2)}, "denominator must be > 0"),
    ("max-rate-num-negative", {"max_rate": (-1, 2)}, "numerator must be >= 0"),
    ("max-rate-above-one", {"max_rate": (3, 2)}, "at most 1"),
    ("equal-award-caps", {"rule": "equal_award", "caps": [1, 1, 1]}, "equal_award"),
    ("equal-award-max-rate", {"rule": "equal_award", "max_rate": (1, 2)}, "equal_award"),
    ("equal-award-weights", {"rule": "equal_award", "weights": [1, 1, 1]}, "equal_award"),
    ("weights-equal-loss", {"rule": "equal_loss", "weights": [1, 1, 1]}, "weights are only"),
    ("caps-down", {"rounding": "down", "caps": [1, 1, 1]}, "require rounding='exact'"),
    ("max-rate-up", {"rounding": "up", "max_rate": (1, 2)}, "require rounding='exact'"),
    ("weights-down", {"rounding": "down", "weights": [1, 1, 1]}, "require rounding='exact'"),
]

OVERFLOW_ALLOCATE: list[tuple[str, dict[str, Any]]] = [
    ("loss", {"loss": 2**63}),
    ("claim-high", {"claims": [1, 2**63, 3]}),
    ("claim-low", {"claims": [1, -(2**63) - 1, 3]}),
    ("cap", {"caps": [1, 2**63, 3]}),
    ("weight", {"weights": [1, 2**64, 3]}),
    ("id-high", {"ids": [0, 1, 2**63]}),
    ("id-low", {"ids": [0, 1, -(2**63) - 1]}),
    ("max-rate", {"max_rate": (2**127, 2**128)}),  # a rate's terms are below 2**128
]


def _call(**over: Any) -> Any:
    args: dict[str, Any] = {
        "claims": [10, 20, 30],
        "loss": 7,
        "rule": "pro_rata",
        "rounding": "exact",
        "ids": None,
        "caps": None,
        "max_rate": None,
        "weights": None,
    }
    args.update(over)
    return allocate(**args)


def _call_many(**over: Any) -> Any:
    args: dict[str, Any] = {
        "claims": [10, 20, 30],
        "offsets": [0, 1, 3],
        "losses": [7, 7],
        "rule": "pro_rata",
        "rounding": "exact",
        "ids": None,
        "caps": None,
        "max_rate": None,
        "weights": None,
    }
    if "loss" in over:
        over["losses"] = [7, over.pop("loss")]
    args.update(over)
    return allocate_many(**args)


@pytest.mark.parametrize(
    ("over", "message"), [pytest.param(o, m, id=name) for name, o, m in BAD_ALLOCATE]
)
def test_invalid_input_allocate(over: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        _call(**over)


@pytest.mark.parametrize(
    ("over", "message"), [pytest.param(o, m, id=name) for name, o, m in BAD_ALLOCATE]
)
def test_invalid_input_allocate_many(over: dict[str, Any], message: str) -> None:
    if "ids" in over and len(over["ids"]) == 3:
        over = {"ids": [7, 3, 3]}  # a duplicate inside event 1
        message = "duplicate account id 3 in event 1"
    if "loss" in over:
        message = r"losses\[1\] must be >= 0"
    with pytest.raises(InvalidInputError, match=message):
        _call_many(**over)


@pytest.mark.parametrize("over", [pytest.param(o, id=name) for name, o in OVERFLOW_ALLOCATE])
def test_overflow_input(over: dict[str, Any]) -> None:
    with pytest.raises(AmountOverflowError):
        _call(**over)
    with pytest.raises(AmountOverflowError):
        _call_many(**over)


def test_int64_bounds_are_accepted() -> None:
    h, total, *_ = _call(
        claims=[INT64_MIN, INT64_MAX, 1], loss=INT64_MAX, ids=[INT64_MIN, INT64_MAX, 0]
    )
    # quotas MAX*MAX/(MAX+1) = MAX - 1 + 1/(MAX+1) and MAX/(MAX+1): the unit goes to the second
    assert (h, total) == ([0, INT64_MAX - 1, 1], INT64_MAX)
    _call(caps=[INT64_MAX] * 3, weights=[INT64_MAX] * 3, max_rate=(INT64_MAX, INT64_MAX))
    h, *_ = _call(loss=60, max_rate=(2**127, 2**128 - 1))  # just above 1/2
    assert h == [5, 10, 15]


@pytest.mark.parametrize(
    ("over", "message"),
    [
        pytest.param({"offsets": [0, 3]}, "len\\(losses\\) \\+ 1 = 3", id="offsets-length"),
        pytest.param({"offsets": [1, 2, 3]}, "start at 0", id="offsets-start"),
        pytest.param({"offsets": [0, 2, 1, 3], "losses": [1, 1, 1]}, "non-decreasing", id="dec"),
        pytest.param({"offsets": [0, 1, 2]}, "end at len\\(claims\\) = 3", id="offsets-end"),
        pytest.param({"offsets": [0, 1, 4]}, "end at len\\(claims\\)", id="offsets-past-end"),
        pytest.param({"losses": [7, -1]}, "losses\\[1\\] must be >= 0", id="negative-loss"),
    ],
)
def test_invalid_offsets_and_losses(over: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        _call_many(**over)


def test_allocate_many_loss_overflow() -> None:
    with pytest.raises(AmountOverflowError, match="losses\\[1\\]"):
        _call_many(losses=[1, 2**63])


def test_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="unknown rule"):
        _call(rule="nope")


# --------------------------------------------------------------------------- scale


@pytest.mark.slow
def test_pro_rata_exact_100k_accounts() -> None:
    rng = random.Random(20250101)
    n = 100_000
    claims = [rng.randint(1, 10**12) if rng.random() < 0.5 else 0 for _ in range(n)]
    base = sum(claims)
    loss = base * 3 // 10
    start = time.perf_counter()
    h, total, target, *_ = run(claims, loss)
    elapsed = time.perf_counter() - start
    assert total == target == loss
    assert all(abs(hi * base - ci * loss) < base for hi, ci in zip(h, claims, strict=True))
    assert elapsed < 5.0  # generous: it takes about 0.1 s; this only catches O(n^2)
