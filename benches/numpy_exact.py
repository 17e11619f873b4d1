"""The strongest *exact* pure-numpy competitor for pro-rata allocation (benchmark baseline).

This is what a careful numpy user would write instead of calling ``mutualize.allocate``:
pro-rata with largest-remainder (Hamilton) rounding, integer-exact, vectorised.

Definition (mechanism spec, section 3): claims ``c_i > 0`` are eligible (the others get 0),
``P = sum(eligible)``, ``T = min(L, P)``; ``h_i = floor(c_i*T/P)``, then the ``k = T -
sum(floors)`` leftover units go +1 each to the ``k`` accounts with the largest remainder
``(c_i*T) mod P``, ties to the smallest index.

Floors. ``c_i*T`` overflows int64 for realistic inputs (``1e12 * 1e17``), so

1. a float estimate ``q = trunc(c_i * (T/P))`` is ``floor(c_i*T/P)`` give or take one (its
   error is below 1/5 in the exactness domain below);
2. the remainder ``r = c_i*T - q*P`` is computed exactly in wrapping uint64 arithmetic: its
   true value is in ``[-P, 2P)``; when ``q`` is right it is in ``[0, P)`` and, as
   ``P < 2**63``, the wrapped value is the true one;
3. a wrong estimate shows as ``r >= P`` (unsigned). In the benchmark about 10% are wrong
   (``T/P`` is just below 3/10, so ``c*T/P`` is a hair below an integer for every ``c``
   divisible by 10 and the float rounds it up). When more than 1/16 of a block is wrong
   and ``P < 2**62`` (the true ``r`` then fits int64), a branch-free ``r // P`` in
   ``{-1, 0, 1}`` corrects the whole block; otherwise the wrong accounts are corrected by
   index: ``r in [P, 2P)`` means ``q`` was one too small, ``r in [2**64-P, 2**64)`` one too
   large. Only if ``P > 2**64/3`` can both hold, and those accounts are redone with Python
   ints. Anything else raises (the correction did not converge).

Leftover units. A strided sample of the accounts (about 1/64 of them) is allocated exactly
first; its remainders give a narrow band ``[lo, hi)`` expected to hold the k-th largest
remainder. The claims are then processed in cache-sized blocks (floors, remainders,
+1 for every ``r >= hi``, and the indices and values of the few ``r`` in the band), so no
full-size temporary is ever written. Afterwards the band is ranked with ``np.partition``:
its members above the threshold get +1, and the remaining units go to the members equal to
it in index order. If the band missed the threshold (the sample was unrepresentative), the
whole allocation is redone unblocked with a full ``np.partition`` of all remainders; that
is also the path for small inputs.

Exactness domain (checked; outside it the function raises ``ValueError`` rather than
return a wrong answer):

* ``claims`` is a 1-D integer array whose values fit int64, ``loss >= 0``;
* ``P = sum(c_i > 0) < 2**63`` (computed exactly, no silent wrap-around);
* ``max(c) * T / P <= 2**49`` (about 5.6e14): the largest floor the float estimate has to
  resolve. It holds whenever ``max(c) <= 2**49``; the benchmark's claims are <= 1e12.

In that domain the result equals the Python-int definition exactly (proven against one in
``tests/test_numpy_exact.py``). ``naive_float`` is the inexact one-liner a hurried user
writes.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["EXACT_MAX_QUOTIENT", "allocate_pro_rata_numpy", "naive_float"]

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
F64 = npt.NDArray[np.float64]

#: Largest ``max(c) * T / P`` for which the float estimate of the floor is off by < 1.
#: The estimate ``c * (T/P)`` carries 3 roundings of relative size <= 2**-53 (c to float,
#: the correctly rounded Python ``T / P``, the product), so its absolute error is below
#: 2**49 * 3.01 * 2**-53 < 1/5: a wide margin.
EXACT_MAX_QUOTIENT = 2**49

_TWO62 = 2**62
_TWO63 = 2**63
_TWO64 = 2**64
# Tunables (module attributes so that the tests can force each code path).
_BLOCK = 1 << 17  # accounts per block: the block's temporaries stay in L2/L3
_BLOCKED_MIN_N = 1 << 16  # below this, the unblocked full-partition path is as fast
_SAMPLE_STRIDE = 64
_SLACK_SIGMAS = 6.0  # band half-width, in units of sqrt(sample size) sample ranks


def _eligible_sum(c: I64, block: int) -> tuple[int, int]:
    """``(sum(max(c, 0)), max(max(c), 0))`` exactly (no silent int64 wrap-around)."""
    tmp = np.empty(min(block, c.size), dtype=np.int64)
    total = 0
    cmax = 0
    for s in range(0, c.size, block):
        pb = tmp[: min(block, c.size - s)]
        np.maximum(c[s : s + block], 0, out=pb)
        bmax = int(pb.max())
        cmax = max(cmax, bmax)
        wrapped = int(pb.view(np.uint64).sum())  # exact modulo 2**64
        if pb.size * bmax >= _TWO64:
            # The exact sum is the value congruent to ``wrapped`` closest to the float sum
            # (whose relative error, ~1e-13, is far below 2**64).
            approx = float(pb.sum(dtype=np.float64))
            wrapped += _TWO64 * round((approx - wrapped) / _TWO64)
        total += wrapped
    return total, cmax


def _fix_off_by_one(
    pos: I64, q: I64, r: U64, bad: npt.NDArray[np.intp], target: int, total: int
) -> None:
    """Correct the accounts ``bad`` whose float floor estimate was off by one."""
    p_u = np.uint64(total)
    rb = r[bad]
    low = (rb - p_u) < p_u  # true r in [P, 2P): q one too small
    high = (rb + p_u) < p_u  # true r in [-P, 0) (wrapping add): q one too large
    if not np.all(low | high):
        raise ValueError("floor correction did not converge (input outside the exact domain)")
    qb = q[bad]
    qb += low
    qb -= high
    rb = np.where(low, rb - p_u, rb + p_u)
    amb = np.flatnonzero(low & high)  # only possible if P > 2**64 / 3
    for j, v in zip(amb.tolist(), pos[bad[amb]].tolist(), strict=True):
        qb[j], rb[j] = divmod(int(v) * target, total)
    q[bad] = qb
    r[bad] = rb


def _floor_and_remainder(pos: I64, target: int, total: int, q: I64, r: U64, tmp: F64) -> None:
    """``q = floor(pos*T/P)`` and ``r = (pos*T) mod P`` exactly, for ``pos >= 0``.

    ``q``, ``r`` and the scratch ``tmp`` have the length of ``pos``.
    """
    np.multiply(pos, target / total, out=tmp)
    np.copyto(q, tmp, casting="unsafe")  # truncation is the floor: tmp >= 0
    np.multiply(pos.view(np.uint64), np.uint64(target), out=r)
    qp = tmp.view(np.uint64)
    np.multiply(q.view(np.uint64), np.uint64(total), out=qp)
    np.subtract(r, qp, out=r)
    wrong = r >= np.uint64(total)
    n_wrong = int(np.count_nonzero(wrong))
    if not n_wrong:
        return
    if total < _TWO62 and n_wrong * 16 > r.size:
        # Many wrong estimates: a branch-free floor division by P. The true r in [-P, 2P)
        # fits int64 here, so r // P in {-1, 0, 1} is the correction.
        ri = r.view(np.int64)
        d = qp.view(np.int64)
        np.floor_divide(ri, total, out=d)
        q += d
        d *= total
        ri -= d
    else:
        _fix_off_by_one(pos, q, r, np.flatnonzero(wrong), target, total)


def _leftover(k: int, n: int) -> None:
    if not 0 <= k < max(n, 1):
        raise ValueError(f"leftover {k} out of range: floor correction did not converge")


def _allocate_unblocked(c: I64, target: int, total: int) -> I64:
    """Whole-array path: floors, then a full ``np.partition`` of the remainders."""
    n = c.size
    pos: I64 = np.maximum(c, 0)
    q = np.empty(n, dtype=np.int64)
    r = np.empty(n, dtype=np.uint64)
    _floor_and_remainder(pos, target, total, q, r, np.empty(n, dtype=np.float64))
    k = target - int(q.sum())
    _leftover(k, n)
    if k:
        # sum(r) == k*P with every r < P, so at least k+1 remainders are > 0 and the
        # threshold is > 0: ineligible accounts (r == 0) never receive a leftover unit.
        tau = np.partition(r, n - k)[n - k]
        above = r > tau
        n_above = int(np.count_nonzero(above))
        np.add(q, above, out=q, casting="unsafe")
        q[np.flatnonzero(r == tau)[: k - n_above]] += 1
    return q


def _allocate_blocked(c: I64, target: int, total: int) -> I64 | None:
    """Blocked path; ``None`` if the sampled band missed the threshold."""
    n = c.size
    block = _BLOCK
    # 1. Exact remainders of a strided sample locate the k-th largest remainder: its rank
    #    from the top, among m sampled accounts, is about sum(r_sample) / P.
    spos: I64 = np.maximum(c[::_SAMPLE_STRIDE], 0)
    m = spos.size
    sq = np.empty(m, dtype=np.int64)
    sr = np.empty(m, dtype=np.uint64)
    _floor_and_remainder(spos, target, total, sq, sr, np.empty(m, dtype=np.float64))
    at = m - float(sr.sum(dtype=np.float64)) / total  # ascending rank of the threshold
    slack = _SLACK_SIGMAS * math.sqrt(m) + 16.0
    lo_i = min(max(int(at - slack), 0), m - 1)
    hi_i = min(max(int(at + slack) + 1, 0), m)
    sr.partition(sorted({lo_i, min(hi_i, m - 1)}))
    lo = int(sr[lo_i]) if lo_i > 0 else 0
    hi = int(sr[hi_i]) if hi_i < m else total  # every r < P
    hi = max(hi, lo + 1)
    lo_u, hi_u, width_u = np.uint64(lo), np.uint64(hi), np.uint64(hi - lo)

    # 2. One pass over the claims, block by block.
    q = np.empty(n, dtype=np.int64)
    b = min(block, n)
    pos_buf = np.empty(b, dtype=np.int64)
    r_buf = np.empty(b, dtype=np.uint64)
    tmp_buf = np.empty(b, dtype=np.float64)
    mask_buf = np.empty(b, dtype=np.bool_)
    floors = 0
    n_top = 0
    band_idx: list[npt.NDArray[np.intp]] = []
    band_val: list[U64] = []
    for s in range(0, n, block):
        e = min(s + block, n)
        w = e - s
        pb, rb, tb, mb = pos_buf[:w], r_buf[:w], tmp_buf[:w], mask_buf[:w]
        qb = q[s:e]
        np.maximum(c[s:e], 0, out=pb)
        _floor_and_remainder(pb, target, total, qb, rb, tb)
        floors += int(qb.sum())
        np.greater_equal(rb, hi_u, out=mb)  # surely among the k largest (checked below)
        n_top += int(np.count_nonzero(mb))
        np.add(qb, mb, out=qb, casting="unsafe")
        ub = tb.view(np.uint64)
        np.subtract(rb, lo_u, out=ub)
        np.less(ub, width_u, out=mb)  # lo <= r < hi
        bi = np.flatnonzero(mb)
        if bi.size:
            band_val.append(rb[bi])
            band_idx.append(bi + s)

    # 3. Rank the band. Valid iff the threshold lies in it: n_top <= k <= n_top + band.
    k = target - floors
    _leftover(k, n)
    need = k - n_top
    idx = np.concatenate(band_idx) if band_idx else np.zeros(0, dtype=np.intp)
    if not 0 <= need <= idx.size:
        return None
    if need:
        vals = np.concatenate(band_val)
        tau = np.partition(vals, idx.size - need)[idx.size - need]
        above = vals > tau
        q[idx[above]] += 1
        q[idx[vals == tau][: need - int(np.count_nonzero(above))]] += 1
    return q


def allocate_pro_rata_numpy(claims: npt.NDArray[np.integer], loss: int) -> I64:
    """Exact pro-rata haircuts with largest-remainder rounding, in pure numpy.

    Returns an int64 array ``h`` with ``sum(h) == min(loss, P)``. Raises ``ValueError``
    outside the exactness domain described in the module docstring.
    """
    c = np.asarray(claims)
    if c.ndim != 1 or not np.issubdtype(c.dtype, np.integer):
        raise ValueError("claims must be a 1-D integer array")
    if c.dtype != np.int64:
        if c.size and c.dtype == np.uint64 and int(c.max()) >= _TWO63:
            raise ValueError("claims must fit int64")
        c = c.astype(np.int64)
    c = np.ascontiguousarray(c)
    loss = int(loss)
    if loss < 0:
        raise ValueError("loss must be >= 0")
    n = c.size

    total, cmax = _eligible_sum(c, _BLOCK)
    if total >= _TWO63:
        raise ValueError(f"sum of eligible claims {total} >= 2**63: outside the exact domain")
    target = min(loss, total)
    if target == 0:
        return np.zeros(n, dtype=np.int64)
    if target == total:
        full: I64 = np.maximum(c, 0)  # every eligible claim is haircut in full
        return full
    if cmax * target > EXACT_MAX_QUOTIENT * total:
        raise ValueError("max(c) * T / P > 2**49: float estimate not guaranteed within 1")

    if n >= _BLOCKED_MIN_N:
        q = _allocate_blocked(c, target, total)
        if q is not None:
            return q
    return _allocate_unblocked(c, target, total)


def naive_float(claims: npt.NDArray[np.int64], loss: int) -> npt.NDArray[np.float64]:
    """The one-liner a hurried user writes: ``np.where(p > 0, p, 0) * (S / P)`` (inexact).

    ``P`` (the sum of the positive claims) is computed inside, as the caller of
    ``mutualize.allocate`` does not provide it either.
    """
    p = claims
    pos = np.where(p > 0, p, 0)
    total = int(pos.sum())
    return pos * (loss / total)
