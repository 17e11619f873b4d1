"""Differential tests: the compiled kernel and the pure-Python reference must agree
exactly, on results and on which exception they raise."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import mutualize
import mutualize.reference as ref

pytestmark = pytest.mark.skipif(mutualize.backend != "rust", reason="needs the compiled extension")

I64_MAX = 2**63 - 1
I64_MIN = -(2**63)

small = st.integers(-50, 50)
wide = st.integers(I64_MIN, I64_MAX)
near_max = st.integers(I64_MAX - 1000, I64_MAX)
claim = st.one_of(small, wide, near_max, st.just(0), st.integers(1, 10**12))


@st.composite
def claim_lists(draw: st.DrawFn, max_size: int = 40) -> list[int]:
    kind = draw(st.sampled_from(["mixed", "equal", "small", "huge"]))
    n = draw(st.integers(0, max_size))
    if kind == "equal":  # every remainder ties
        value = draw(st.integers(1, 10**6))
        return [value] * n
    element = {"mixed": claim, "small": small, "huge": near_max}[kind]
    return draw(st.lists(element, min_size=n, max_size=n))


@st.composite
def losses_for(draw: st.DrawFn, claims: list[int]) -> int:
    base = sum(c for c in claims if c > 0)
    choice = draw(st.sampled_from(["fraction", "any", "above", "zero", "max"]))
    if choice == "fraction" and base:
        num = draw(st.integers(0, 1000))
        return min(I64_MAX, base * num // 1000)
    if choice == "above":
        return min(I64_MAX, base + draw(st.integers(0, 100)))
    if choice == "zero":
        return 0
    if choice == "max":
        return I64_MAX
    return draw(st.integers(0, I64_MAX))


@st.composite
def requests(draw: st.DrawFn) -> tuple[list[int], int, dict[str, Any]]:
    claims = draw(claim_lists())
    loss = draw(losses_for(claims))
    n = len(claims)
    rule = draw(st.sampled_from(["pro_rata", "pro_rata", "equal_loss", "equal_award"]))
    options: dict[str, Any] = {"rule": rule}
    if rule == "pro_rata":
        options["rounding"] = draw(st.sampled_from(["exact", "exact", "down", "up"]))
    if draw(st.booleans()):
        options["ids"] = draw(
            st.lists(wide, min_size=n, max_size=n, unique=True) | st.permutations(list(range(n)))
        )
    exact = options.get("rounding", "exact") == "exact"
    if rule != "equal_award" and exact:
        if draw(st.booleans()):
            options["caps"] = draw(
                st.lists(st.integers(0, I64_MAX) | st.integers(0, 60), min_size=n, max_size=n)
            )
        if draw(st.booleans()):
            den = draw(st.integers(1, 10**30))
            options["max_rate"] = f"{draw(st.integers(0, den))}/{den}"
        if rule == "pro_rata" and draw(st.booleans()):
            options["weights"] = draw(
                st.lists(st.integers(0, 5) | st.integers(0, I64_MAX), min_size=n, max_size=n)
            )
    return claims, loss, options


def outcome(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        a = fn(*args, **kwargs)
    except Exception as exc:  # the exception's class is part of the contract
        return type(exc)
    return a.to_dict()


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_rust_equals_reference(request: tuple[list[int], int, dict[str, Any]]) -> None:
    claims, loss, options = request
    fast = outcome(mutualize.allocate, claims, loss, **options)
    slow = outcome(ref.allocate, claims, loss, **options)
    assert fast == slow
    if isinstance(fast, dict) and options.get("rounding", "exact") == "exact":
        h = fast["haircuts"]
        assert fast["total"] == fast["target"] == sum(h)
        assert all(0 <= x <= max(c, 0) for x, c in zip(h, claims, strict=True))


invalid_option = st.sampled_from(
    [
        {"rule": "equal_award", "caps": "same"},
        {"rule": "equal_loss", "weights": "same"},
        {"rounding": "down", "caps": "same"},
        {"rounding": "up", "max_rate": "1/3"},
        {"rule": "nope"},
        {"rounding": "sideways"},
        {"caps": "short"},
        {"ids": "dup"},
        {"weights": "negative"},
        {"max_rate": "5/4"},
    ]
)


@settings(max_examples=200, deadline=None)
@given(claim_lists(max_size=10), invalid_option, st.integers(-5, 10**6))
def test_errors_agree(claims: list[int], bad: dict[str, Any], loss: int) -> None:
    options = dict(bad)
    n = len(claims)
    for key, value in bad.items():
        if value == "same":
            options[key] = [min(abs(c), I64_MAX) for c in claims]
        elif value == "short":
            options[key] = [1] * (n + 1)
        elif value == "dup":
            options[key] = [3] * max(n, 2)
        elif value == "negative":
            options[key] = [-1] * n
    fast = outcome(mutualize.allocate, claims, loss, **options)
    slow = outcome(ref.allocate, claims, loss, **options)
    assert fast == slow
    if n >= 2 or "rule" in bad or "rounding" in bad or loss < 0:
        assert isinstance(fast, type)
        assert issubclass(fast, ValueError | TypeError)


@st.composite
def batches(draw: st.DrawFn) -> tuple[list[int], list[int], list[int], dict[str, Any]]:
    sizes = draw(st.lists(st.integers(0, 12), min_size=0, max_size=8))
    claims = draw(st.lists(claim, min_size=sum(sizes), max_size=sum(sizes)))
    offsets = [0]
    for s in sizes:
        offsets.append(offsets[-1] + s)
    losses = [draw(losses_for(claims[a:b])) for a, b in itertools.pairwise(offsets)]
    options: dict[str, Any] = draw(
        st.sampled_from(
            [
                {},
                {"rounding": "down"},
                {"rounding": "up"},
                {"rule": "equal_loss"},
                {"rule": "equal_award"},
                {"max_rate": "1/3"},
            ]
        )
    )
    if draw(st.booleans()):
        options["ids"] = [i for s in sizes for i in draw(st.permutations(list(range(s))))]
    return claims, offsets, losses, options


def batch_outcome(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        b = fn(*args, **kwargs)
    except Exception as exc:
        return type(exc)
    return b.to_dict()


@settings(max_examples=300, deadline=None)
@given(batches())
def test_batches_agree(batch: tuple[list[int], list[int], list[int], dict[str, Any]]) -> None:
    claims, offsets, losses, options = batch
    assume(all(0 <= loss <= I64_MAX for loss in losses))
    fast = batch_outcome(mutualize.allocate_many, claims, offsets, losses, **options)
    slow = batch_outcome(ref.allocate_many, claims, offsets, losses, **options)
    assert fast == slow


@pytest.mark.parametrize("seed", [0, 1])
def test_permutation_equivariance(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 5000
    claims = rng.integers(-(10**6), 10**6, n, dtype=np.int64)
    claims[::7] = 1000  # many exact ties in the remainders
    ids = rng.permutation(10 * n)[:n].astype(np.int64)
    loss = int(claims[claims > 0].sum()) // 3
    perm = rng.permutation(n)
    for rule in ("pro_rata", "equal_loss", "equal_award"):
        whole = mutualize.allocate(claims, loss, rule=rule, ids=ids).haircuts
        permuted = mutualize.allocate(claims[perm], loss, rule=rule, ids=ids[perm]).haircuts
        np.testing.assert_array_equal(permuted, whole[perm])


@pytest.mark.parametrize("n", [131_072 + 17, 400_000])
def test_large_inputs_parallel_path(n: int) -> None:
    # Sizes past the kernel's parallel threshold, with P both below and above 2^64.
    rng = np.random.default_rng(n)
    for high in (10**12, 2**62):
        claims = rng.integers(-high, high, n, dtype=np.int64)
        loss = int(claims[claims > 0].sum(dtype=object)) * 3 // 10
        loss = min(loss, I64_MAX)
        fast = mutualize.allocate(claims, loss)
        slow = ref.allocate(claims, loss)
        assert fast == slow
        assert fast.total == loss


def test_many_equal_remainders_large() -> None:
    claims = np.full(300_000, 7, dtype=np.int64)
    ids = np.arange(300_000, dtype=np.int64)[::-1].copy()
    fast = mutualize.allocate(claims, 1_000_001, ids=ids)
    slow = ref.allocate(claims, 1_000_001, ids=ids)
    assert fast == slow
    # Every floor is 3 (900_000 in all); the 100_001 leftover units all tie on the
    # remainder, so they go to the smallest ids, which sit at the end.
    assert fast.haircuts[-100_001:].tolist() == [4] * 100_001
