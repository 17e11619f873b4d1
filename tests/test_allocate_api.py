"""The public allocation API, run against both backends (see conftest.api)."""

from __future__ import annotations

import dataclasses
import pickle
from decimal import Decimal
from fractions import Fraction
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import mutualize
from mutualize import Allocation
from tests.conftest import load_vectors

CASES = load_vectors("allocation.json")["cases"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_worked_vectors(api: SimpleNamespace, case: dict[str, Any]) -> None:
    a = api.allocate(case["claims"], case["loss"], **case["options"])
    assert a.haircuts.tolist() == case["haircuts"]
    assert a.uncovered == case["uncovered"]
    if "dust" in case:
        assert a.dust == case["dust"]
    assert a.total == sum(case["haircuts"])


def test_issue_example(api: SimpleNamespace) -> None:
    profits = np.array([8_000_000, 4_000_000, 500_000, -3_000_000], dtype=np.int64)
    a = api.allocate(profits, 7_500_000)
    assert a.haircuts.dtype == np.int64
    assert a.haircuts.tolist() == [4_800_000, 2_400_000, 300_000, 0]
    assert (a.total, a.target, a.uncovered, a.dust, a.surplus) == (7_500_000,) * 2 + (0,) * 3
    assert a.base == 12_500_000
    assert a.rate == Fraction(3, 5)
    assert isinstance(a.rate, Fraction)


def test_rounding_up_reports_surplus(api: SimpleNamespace) -> None:
    a = api.allocate([10, 20, 30, 40], 7, rounding="up")
    assert a.haircuts.tolist() == [1, 2, 3, 3]
    assert (a.total, a.target, a.surplus, a.uncovered) == (9, 7, 2, 0)


def test_caps_water_fill(api: SimpleNamespace) -> None:
    # Pro rata would take 60 from the first account; its cap of 40 binds and the other
    # two share the rest in proportion: 40 + 40 + 20 = 100.
    a = api.allocate([100, 100, 50], 100, caps=[40, 1000, 1000])
    assert a.haircuts.tolist() == [40, 40, 20]
    assert a.total == a.target == 100


def test_max_rate_limits_and_leaves_uncovered(api: SimpleNamespace) -> None:
    a = api.allocate([100, 200], 1000, max_rate="1/4")
    assert a.haircuts.tolist() == [25, 50]
    assert (a.target, a.uncovered) == (75, 925)


@pytest.mark.parametrize("rate", [Fraction(1, 4), "0.25", "1/4", Decimal("0.25")])
def test_max_rate_forms(api: SimpleNamespace, rate: object) -> None:
    assert api.allocate([100, 200], 30, max_rate=rate).haircuts.tolist() == [10, 20]


def test_weights_all_equal_is_plain_pro_rata(api: SimpleNamespace) -> None:
    claims = [17, 5, 0, -4, 99, 33]
    plain = api.allocate(claims, 61)
    weighted = api.allocate(claims, 61, weights=[3] * len(claims))
    assert weighted.haircuts.tolist() == plain.haircuts.tolist()


def test_zero_weight_exempts(api: SimpleNamespace) -> None:
    a = api.allocate([100, 100], 50, weights=[0, 1])
    assert a.haircuts.tolist() == [0, 50]


def test_equal_loss_with_caps(api: SimpleNamespace) -> None:
    a = api.allocate([100, 100, 100], 150, rule="equal_loss", caps=[10, 1000, 1000])
    assert a.haircuts.tolist() == [10, 70, 70]


@pytest.mark.parametrize(
    ("claims", "kind"),
    [
        (np.array([5, 3, -1], dtype=np.int8), "int8"),
        (np.array([5, 3, 0], dtype=np.uint32), "uint32"),
        (np.array([5, 3, 0], dtype=np.uint64), "uint64"),
        ([5, 3, -1], "list"),
        ((5, 3, -1), "tuple"),
        ([Decimal(5), "3", np.int64(-1)], "mixed"),
        (np.array([5, 3, -1], dtype=object), "object"),
        (np.array([5, 3, -1], dtype=np.int64)[::-1][::-1], "view"),
    ],
)
def test_claim_forms_convert_exactly(api: SimpleNamespace, claims: Any, kind: str) -> None:
    a = api.allocate(claims, 4)
    assert a.haircuts.tolist()[:2] == [3, 1] or a.haircuts.tolist()[:2] == [2, 2], kind
    assert a.total == 4


def test_loss_forms(api: SimpleNamespace) -> None:
    for loss in (7, np.int32(7), Decimal("7"), "7", "7.000", Fraction(7)):
        assert api.allocate([10, 20, 30, 40], loss).total == 7


def test_non_contiguous_and_strided_input(api: SimpleNamespace) -> None:
    big = np.arange(20, dtype=np.int64)
    a = api.allocate(big[::2], 45)
    b = api.allocate(big[::2].copy(), 45)
    assert a == b


def test_allocation_is_immutable_and_pickles(api: SimpleNamespace) -> None:
    a = api.allocate([10, 20, 30, 40], 7)
    with pytest.raises(ValueError, match="read-only"):
        a.haircuts[0] = 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.total = 3  # type: ignore[misc, unused-ignore]
    b = pickle.loads(pickle.dumps(a))
    assert b == a
    assert not b.haircuts.flags.writeable
    assert a != api.allocate([10, 20, 30, 40], 8)


def test_repr_and_to_dict(api: SimpleNamespace) -> None:
    a = api.allocate([10, 20, 30, 40], 7)
    text = repr(a)
    assert "rule='pro_rata'" in text
    assert "total=7" in text
    assert "[1, 1, 2, 3]" in text
    d = a.to_dict()
    assert d["haircuts"] == [1, 1, 2, 3]
    assert d["rate"] == Fraction(7, 100)
    assert {"loss", "target", "total", "uncovered", "dust", "surplus", "base"} <= d.keys()
    assert len(a) == 4


def test_long_repr_is_summarised(api: SimpleNamespace) -> None:
    a = api.allocate(np.arange(1, 1001, dtype=np.int64), 12345)
    assert "..." in repr(a)
    assert len(repr(a)) < 400


def test_empty_and_all_ineligible(api: SimpleNamespace) -> None:
    empty = api.allocate(np.array([], dtype=np.int64), 5)
    assert (len(empty), empty.total, empty.uncovered, empty.rate) == (0, 0, 5, 0)
    none = api.allocate([0, -5, -1], 5)
    assert none.haircuts.tolist() == [0, 0, 0]
    assert none.uncovered == 5


def test_int64_extremes(api: SimpleNamespace) -> None:
    top = 2**63 - 1
    a = api.allocate([top, top, top, 1], top)
    assert a.total == top
    assert a.base == 3 * top + 1
    assert all(0 <= h <= c for h, c in zip(a.haircuts.tolist(), [top, top, top, 1], strict=True))
    full = api.allocate([top, top], top)
    assert sorted(full.haircuts.tolist()) == [top // 2, top - top // 2]


def test_allocate_many_matches_single_events(api: SimpleNamespace) -> None:
    rng = np.random.default_rng(7)
    sizes = [0, 1, 5, 40, 3, 0, 17]
    claims = rng.integers(-1000, 1000, sum(sizes), dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    losses = rng.integers(0, 5000, len(sizes), dtype=np.int64)
    batch = api.allocate_many(claims, offsets, losses)
    assert len(batch) == len(sizes)
    for e in range(len(sizes)):
        lo, hi = offsets[e], offsets[e + 1]
        single = api.allocate(claims[lo:hi], int(losses[e]))
        assert batch.haircuts[lo:hi].tolist() == single.haircuts.tolist()
        assert batch.totals[e] == single.total
        assert batch.targets[e] == single.target
        assert batch.uncovered[e] == single.uncovered
        assert batch[e] == single
    assert batch[-1] == batch[len(sizes) - 1]
    with pytest.raises(IndexError):
        batch[len(sizes)]
    assert "events=7" in repr(batch)
    assert batch.to_dict()["totals"] == batch.totals.tolist()


def test_allocate_many_options_and_ids(api: SimpleNamespace) -> None:
    claims = [5, 5, 5, 10, 20, 30, 40]
    batch = api.allocate_many(
        claims, [0, 3, 7], [1, 7], ids=[30, 10, 20, 1, 2, 3, 30], rounding="down"
    )
    assert batch.haircuts.tolist() == [0, 0, 0, 0, 1, 2, 2]
    assert batch.dust.tolist() == [1, 2]


def test_backend_name() -> None:
    assert mutualize.backend in ("rust", "python")


def test_allocation_constructor_is_public() -> None:
    a = Allocation(
        haircuts=np.array([1, 2], dtype=np.int64),
        loss=3,
        target=3,
        total=3,
        uncovered=0,
        dust=0,
        surplus=0,
        base=10,
    )
    assert a.rate == Fraction(3, 10)


def test_out_buffer_is_filled_in_place(api: SimpleNamespace) -> None:
    out = np.full(4, -1, dtype=np.int64)
    a = api.allocate([10, 20, 30, 40], 7, out=out)
    assert out.tolist() == [1, 1, 2, 3]
    assert np.shares_memory(a.haircuts, out)
    assert out.flags.writeable  # the caller's buffer stays theirs
    with pytest.raises(ValueError, match="read-only"):
        a.haircuts[0] = 9
    batch = api.allocate_many([10, 20, 30, 40], [0, 4], [7], out=out)
    assert batch.haircuts.tolist() == [1, 1, 2, 3]


@pytest.mark.parametrize(
    "out",
    [
        np.zeros(3, dtype=np.int64),
        np.zeros(4, dtype=np.int32),
        np.zeros(8, dtype=np.int64)[::2],
        np.zeros((2, 2), dtype=np.int64),
    ],
)
def test_bad_out_buffer(api: SimpleNamespace, out: Any) -> None:
    with pytest.raises(ValueError, match="out"):
        api.allocate([10, 20, 30, 40], 7, out=out)


def test_out_untouched_on_error(api: SimpleNamespace) -> None:
    out = np.full(4, -1, dtype=np.int64)
    with pytest.raises(ValueError, match=r"(unique|duplicate)"):
        api.allocate([10, 20, 30, 40], 7, ids=[1, 1, 2, 3], out=out)
    assert out.tolist() == [-1] * 4
