"""The benchmark's exact pure-numpy competitor (benches/numpy_exact.py) is really exact.

Every case is checked against a plain Python-int implementation of pro-rata with
largest-remainder rounding (mechanism spec, section 3), including the code paths the
benchmark's inputs take (blocked, branch-free correction) and the rare ones (unblocked
fallback when the sampled band misses, per-index correction, the Python-int redo for
ambiguous remainders when P > 2**64/3).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benches"))

import numpy_exact as ne

I64 = npt.NDArray[np.int64]


def reference(claims: npt.NDArray[np.integer] | list[int], loss: int) -> list[int]:
    """Pro-rata, largest remainder, ties to the smallest index -- in Python ints."""
    c = [int(x) for x in claims]
    total = sum(x for x in c if x > 0)
    target = min(loss, total)
    h = [0] * len(c)
    if target == 0:
        return h
    rem: list[tuple[int, int]] = []
    for i, x in enumerate(c):
        if x > 0:
            h[i], r = divmod(x * target, total)
            rem.append((-r, i))
    k = target - sum(h)
    rem.sort()
    for _, i in rem[:k]:
        h[i] += 1
    return h


def check(claims: npt.NDArray[np.integer] | list[int], loss: int) -> I64:
    arr = np.asarray(claims, dtype=np.int64) if isinstance(claims, list) else claims
    got = ne.allocate_pro_rata_numpy(arr, loss)
    assert got.dtype == np.int64
    assert got.shape == (len(arr),)
    assert got.tolist() == reference(arr, loss)
    return got


def bench_like(rng: np.random.Generator, n: int) -> tuple[I64, int]:
    """The benchmark's distribution: uniform in [-1e12, 1e12], loss = 30% of P."""
    c = rng.integers(-(10**12), 10**12, n, dtype=np.int64, endpoint=True)
    return c, int(c[c > 0].sum()) * 3 // 10


@pytest.fixture
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make medium inputs take the blocked path with many blocks."""
    monkeypatch.setattr(ne, "_BLOCK", 1 << 11)
    monkeypatch.setattr(ne, "_BLOCKED_MIN_N", 1 << 10)


# --- edge cases -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claims", "loss"),
    [
        ([], 0),
        ([], 5),
        ([7], 3),
        ([7], 7),
        ([7], 100),  # loss >= P: everything is haircut
        ([-3], 10),  # single ineligible account
        ([0, -1, -(10**12)], 10),  # all ineligible
        ([5, 0, -2, 5], 0),  # zero loss
        ([3, 3, 3, 3, 3, 3, 3], 10),  # all remainders equal: ties to the smallest index
        ([1, 1, 1], 2),
        ([2, 1, 2, 1, 2, 1], 4),
        ([10, -5, 10, 0, 10], 20),
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 54),  # loss = P - 1
        ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 55),  # loss = P
        ([10**12] * 6 + [-(10**12)] * 3, 10**12 + 1),
        ([2**49, 1, 1], 3),  # max(c) * T / P just inside the domain
    ],
)
def test_edge_cases(claims: list[int], loss: int) -> None:
    got = check(claims, loss)
    total = sum(x for x in claims if x > 0)
    assert int(got.sum()) == min(loss, total)


def test_all_ineligible_large() -> None:
    c = -np.arange(200_000, dtype=np.int64)
    assert not ne.allocate_pro_rata_numpy(c, 10**9).any()


def test_loss_at_least_total_returns_claims() -> None:
    rng = np.random.default_rng(1)
    c, _ = bench_like(rng, 100_000)
    total = int(c[c > 0].sum())
    for loss in (total, total + 1, 10 * total):
        assert np.array_equal(ne.allocate_pro_rata_numpy(c, loss), np.maximum(c, 0))


def test_other_integer_dtypes() -> None:
    c32 = np.array([5, -1, 7, 9, 0], dtype=np.int32)
    assert ne.allocate_pro_rata_numpy(c32, 11).tolist() == reference(c32, 11)
    cu = np.array([5, 1, 7], dtype=np.uint64)
    assert ne.allocate_pro_rata_numpy(cu, 4).tolist() == reference(cu, 4)


# --- random inputs ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(40))
def test_small_random(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    hi = int(rng.choice([3, 10, 1000, 10**6, 10**12]))
    c = rng.integers(-hi, hi, n, dtype=np.int64, endpoint=True)
    total = int(c[c > 0].sum())
    for loss in {0, 1, total // 3, total - 1, total, total + 5, int(rng.integers(0, total + 2))}:
        if loss >= 0:
            check(c, loss)


@pytest.mark.parametrize("seed", range(10))
def test_many_equal_remainders(seed: int) -> None:
    """Claims from a tiny set of values: remainders collide, ties decide."""
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(50, 3000))
    values = rng.integers(1, 12, int(rng.integers(1, 4)))
    c = rng.choice(np.concatenate([values, [0, -1]]), n).astype(np.int64)
    total = int(c[c > 0].sum())
    for loss in (1, total // 7, total // 2 + 1, total - 1):
        if loss > 0:
            check(c, loss)


def test_equal_claims_tie_order() -> None:
    c = np.full(1000, 7, dtype=np.int64)
    got = check(c, 2500)  # 2500/1000 = 2.5: the first 500 accounts get the extra unit
    assert got[:500].tolist() == [3] * 500
    assert got[500:].tolist() == [2] * 500


@pytest.mark.parametrize("n", [100_000, 200_000])
def test_medium_benchmark_distribution(n: int) -> None:
    """The benchmark's own distribution, default tunables (blocked path, one or two blocks)."""
    rng = np.random.default_rng(n)
    c, loss = bench_like(rng, n)
    got = check(c, loss)
    assert int(got.sum()) == loss


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("seed", range(4))
def test_medium_many_blocks(seed: int) -> None:
    rng = np.random.default_rng(200 + seed)
    c, loss = bench_like(rng, 60_000)
    check(c, loss)
    check(c, loss // 1000 + 1)  # tiny loss: most floors are 0
    check(c, int(c[c > 0].sum()) - 3)  # nearly everything


@pytest.mark.usefixtures("small_blocks")
def test_medium_ties_blocked() -> None:
    """Huge tie groups across blocks: the threshold value spans many blocks."""
    rng = np.random.default_rng(7)
    c = rng.choice(np.array([0, 3, 5, 6, -4], dtype=np.int64), 50_000)
    total = int(c[c > 0].sum())
    for loss in (total // 3, total // 4 + 1, total // 2 - 1):
        check(c, loss)


@pytest.mark.usefixtures("small_blocks")
def test_band_miss_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """A band too narrow to hold the threshold makes the blocked path give up."""
    rng = np.random.default_rng(8)
    c, loss = bench_like(rng, 30_000)
    monkeypatch.setattr(ne, "_SLACK_SIGMAS", -1e9)  # empty band at the far end
    assert ne._allocate_blocked(c, loss, int(c[c > 0].sum())) is None
    check(c, loss)  # ... and the unblocked fallback is exact


def test_unblocked_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ne, "_BLOCKED_MIN_N", 1 << 40)
    rng = np.random.default_rng(9)
    c, loss = bench_like(rng, 50_000)
    check(c, loss)


# --- the floor correction ---------------------------------------------------------------


def test_branch_free_correction_taken() -> None:
    """T/P just below 3/10 and claims divisible by 10: c*T/P is a hair below an integer,
    so many float estimates are one too high (the benchmark's situation, amplified)."""
    rng = np.random.default_rng(10)
    c = rng.integers(1, 10**11, 20_000, dtype=np.int64) * 10
    loss = int(c.sum()) * 3 // 10
    check(c, loss)


def test_index_correction_large_total() -> None:
    """P >= 2**62: the per-index correction instead of the branch-free one."""
    c = np.array([2**60 + 12345 * i for i in range(7)], dtype=np.int64)
    total = int(c.sum())
    assert total >= 2**62
    loss = 2**40 + 3
    check(c, loss)


@pytest.mark.parametrize("total", [2**62 + 12345, 3 * 2**61 - 7, 2**63 - 25])
def test_fix_off_by_one_exact(total: int) -> None:
    """Estimates off by +1 and -1, including P > 2**64/3 where the wrapped remainder is
    ambiguous and Python ints decide."""
    rng = np.random.default_rng(total % 1000)
    target = total // 3 + 1
    pos = rng.integers(0, 2**50, 500, dtype=np.int64)
    exact = [divmod(int(v) * target, total) for v in pos.tolist()]
    off = rng.integers(-1, 2, pos.size)  # error of the estimate: -1, 0 or +1
    q = np.array([qq + int(d) for (qq, _), d in zip(exact, off, strict=True)], dtype=np.int64)
    r = np.array(
        [(int(v) * target - int(qi) * total) % 2**64 for v, qi in zip(pos, q, strict=True)],
        dtype=np.uint64,
    )
    bad = np.flatnonzero(r >= np.uint64(total))
    assert bad.size == np.count_nonzero(off)
    ne._fix_off_by_one(pos, q, r, bad, target, total)
    assert q.tolist() == [qq for qq, _ in exact]
    assert r.tolist() == [rr for _, rr in exact]


# --- outside the exact domain: raise, never answer wrong --------------------------------


def test_total_too_large_raises() -> None:
    c = np.array([2**62, 2**62, 5], dtype=np.int64)
    with pytest.raises(ValueError, match="2\\*\\*63"):
        ne.allocate_pro_rata_numpy(c, 10)


def test_total_wrapping_sum_detected() -> None:
    """The int64 sum would wrap to a small number; the exact sum is detected."""
    c = np.full(4, 2**62 + 1, dtype=np.int64)  # sum = 2**64 + 4, wraps to 4
    with pytest.raises(ValueError, match="2\\*\\*63"):
        ne.allocate_pro_rata_numpy(c, 3)


def test_quotient_too_large_raises() -> None:
    c = np.array([2**51, 2**51], dtype=np.int64)
    with pytest.raises(ValueError, match="2\\*\\*49"):
        ne.allocate_pro_rata_numpy(c, 2**51)


@pytest.mark.parametrize(
    ("claims", "loss"),
    [
        (np.array([1.0, 2.0]), 1),
        (np.array([[1, 2]], dtype=np.int64), 1),
        (np.array([1, 2], dtype=np.int64), -1),
        (np.array([2**63], dtype=np.uint64), 1),
    ],
)
def test_bad_input_raises(claims: npt.NDArray[np.generic], loss: int) -> None:
    with pytest.raises(ValueError, match="must"):
        ne.allocate_pro_rata_numpy(claims, loss)  # type: ignore[arg-type]


def test_naive_float_is_close_but_inexact() -> None:
    rng = np.random.default_rng(11)
    c, loss = bench_like(rng, 100_000)
    h = ne.naive_float(c, loss)
    assert h.dtype == np.float64
    assert abs(float(h.sum()) - loss) < 1e-9 * loss
    exact = ne.allocate_pro_rata_numpy(c, loss)
    assert np.abs(h - exact).max() < 1.0
    assert int(np.floor(h).astype(np.int64).sum()) < loss  # rounding down loses units
