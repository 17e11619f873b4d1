"""Bad input gets a specific exception, and nothing the caller passed is modified."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from mutualize import AmountOverflowError, AmountTypeError, InvalidInputError

CLAIMS = np.array([10, 20, 30, 40], dtype=np.int64)

BAD_ALLOCATE: list[tuple[str, tuple[Any, ...], dict[str, Any], type[Exception]]] = [
    ("float array", (CLAIMS.astype(np.float64), 7), {}, TypeError),
    ("float loss", (CLAIMS, 7.0), {}, TypeError),
    ("nan loss", (CLAIMS, float("nan")), {}, ValueError),
    ("bool loss", (CLAIMS, True), {}, TypeError),
    ("float in list", ([10, 2.5], 7), {}, TypeError),
    ("bool array", (np.array([True, False]), 1), {}, TypeError),
    ("complex array", (CLAIMS.astype(complex), 1), {}, TypeError),
    ("negative loss", (CLAIMS, -1), {}, ValueError),
    ("non-integral decimal loss", (CLAIMS, Decimal("7.5")), {}, ValueError),
    ("non-numeric str loss", (CLAIMS, "seven"), {}, ValueError),
    ("infinite decimal", (CLAIMS, Decimal("Infinity")), {}, ValueError),
    ("nan in object array", (np.array([1, float("nan")], dtype=object), 1), {}, ValueError),
    ("nan decimal in list", ([1, Decimal("NaN")], 1), {}, ValueError),
    ("2-D array", (CLAIMS.reshape(2, 2), 7), {}, ValueError),
    ("nested list", ([[1, 2], [3, 4]], 7), {}, ValueError),
    ("scalar claims", (5, 7), {}, TypeError),
    ("str claims", ("1,2,3", 7), {}, TypeError),
    ("loss too big", (CLAIMS, 2**63), {}, OverflowError),
    ("claim too big", ([2**63, 1], 7), {}, OverflowError),
    ("claim too small", ([-(2**63) - 1, 1], 7), {}, OverflowError),
    ("uint64 above int64", (np.array([2**63], dtype=np.uint64), 1), {}, OverflowError),
    ("negative caps", (CLAIMS, 7), {"caps": [1, -1, 1, 1]}, ValueError),
    ("negative weights", (CLAIMS, 7), {"weights": [1, 1, -2, 1]}, ValueError),
    ("float caps", (CLAIMS, 7), {"caps": np.ones(4)}, TypeError),
    ("duplicate ids", (CLAIMS, 7), {"ids": [1, 2, 2, 3]}, ValueError),
    ("ids too short", (CLAIMS, 7), {"ids": [1, 2, 3]}, ValueError),
    ("caps too long", (CLAIMS, 7), {"caps": [1, 2, 3, 4, 5]}, ValueError),
    ("weights too short", (CLAIMS, 7), {"weights": [1]}, ValueError),
    ("unknown rule", (CLAIMS, 7), {"rule": "pro-rata"}, ValueError),
    ("unknown rounding", (CLAIMS, 7), {"rounding": "nearest"}, ValueError),
    ("equal_award caps", (CLAIMS, 7), {"rule": "equal_award", "caps": CLAIMS}, ValueError),
    ("equal_award rate", (CLAIMS, 7), {"rule": "equal_award", "max_rate": "1/2"}, ValueError),
    ("equal_loss weights", (CLAIMS, 7), {"rule": "equal_loss", "weights": CLAIMS}, ValueError),
    ("caps with down", (CLAIMS, 7), {"rounding": "down", "caps": CLAIMS}, ValueError),
    ("weights with up", (CLAIMS, 7), {"rounding": "up", "weights": CLAIMS}, ValueError),
    ("rate with down", (CLAIMS, 7), {"rounding": "down", "max_rate": 1}, ValueError),
    ("equal_loss down", (CLAIMS, 7), {"rule": "equal_loss", "rounding": "down"}, ValueError),
    ("rate above one", (CLAIMS, 7), {"max_rate": "3/2"}, ValueError),
    ("negative rate", (CLAIMS, 7), {"max_rate": "-0.1"}, ValueError),
    ("float rate", (CLAIMS, 7), {"max_rate": 0.25}, TypeError),
    ("garbage rate", (CLAIMS, 7), {"max_rate": "a quarter"}, ValueError),
    ("zero-denominator rate", (CLAIMS, 7), {"max_rate": "1/0"}, ValueError),
]


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [case[1:] for case in BAD_ALLOCATE],
    ids=[case[0] for case in BAD_ALLOCATE],
)
def test_allocate_rejects(
    api: SimpleNamespace, args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception]
) -> None:
    snapshot = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]
    with pytest.raises(error) as info:
        api.allocate(*args, **kwargs)
    assert str(info.value), "the message must say what was wrong"
    for before, after in zip(snapshot, args, strict=True):
        if isinstance(after, np.ndarray):
            assert repr(before.tolist()) == repr(after.tolist())  # repr: NaN != NaN


def test_errors_are_project_subclasses(api: SimpleNamespace) -> None:
    with pytest.raises(InvalidInputError):
        api.allocate(CLAIMS, -1)
    with pytest.raises(AmountTypeError):
        api.allocate(CLAIMS, 1.5)
    with pytest.raises(AmountOverflowError):
        api.allocate(CLAIMS, 2**64)


def test_messages_are_specific(api: SimpleNamespace) -> None:
    with pytest.raises(ValueError, match=r"(unique|duplicate)"):
        api.allocate(CLAIMS, 7, ids=[4, 4, 5, 6])
    with pytest.raises(ValueError, match="caps"):
        api.allocate(CLAIMS, 7, caps=[1, 2])
    with pytest.raises(TypeError, match="float"):
        api.allocate(CLAIMS.astype(np.float32), 7)


BAD_MANY: list[tuple[str, tuple[Any, ...], dict[str, Any], type[Exception]]] = [
    ("offsets not starting at 0", ([1, 2, 3], [1, 3], [1]), {}, ValueError),
    ("offsets not ending at n", ([1, 2, 3], [0, 2], [1]), {}, ValueError),
    ("offsets decreasing", ([1, 2, 3], [0, 2, 1, 3], [1, 1, 1]), {}, ValueError),
    ("offsets/losses mismatch", ([1, 2, 3], [0, 1, 3], [1]), {}, ValueError),
    ("negative event loss", ([1, 2, 3], [0, 1, 3], [1, -1]), {}, ValueError),
    ("float losses", ([1, 2, 3], [0, 3], np.array([1.0])), {}, TypeError),
    ("duplicate id within event", ([1, 2, 3], [0, 3], [1]), {"ids": [5, 5, 6]}, ValueError),
    ("ids length", ([1, 2, 3], [0, 3], [1]), {"ids": [5, 6]}, ValueError),
    ("2-D offsets", ([1, 2], np.array([[0, 2]]), [1]), {}, ValueError),
]


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [case[1:] for case in BAD_MANY],
    ids=[case[0] for case in BAD_MANY],
)
def test_allocate_many_rejects(
    api: SimpleNamespace, args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        api.allocate_many(*args, **kwargs)


def test_same_id_in_different_events_is_fine(api: SimpleNamespace) -> None:
    batch = api.allocate_many([5, 5, 5, 5], [0, 2, 4], [1, 1], ids=[7, 8, 7, 8])
    assert batch.haircuts.tolist() == [1, 0, 1, 0]
