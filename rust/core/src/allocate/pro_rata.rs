//! Plain pro rata (no caps, no weights): `h_i ~ c_i * T / P`, the hot path of backtests.
//!
//! Two streaming passes, no scratch proportional to `n`:
//! 1. floors `q_i = floor(c_i*T/P)` and a histogram of the remainders' top bits;
//! 2. the histogram names the one bucket holding the cut-off remainder: accounts above
//!    it get `q_i + 1`, accounts in it become candidates, resolved exactly at the end.
//!
//! The division uses a precomputed reciprocal of `P` whenever `P < 2^64` (the usual
//! case), corrected to the exact floor with one multiply-subtract.

use super::select::{award_largest_remainders, Candidate};
use super::{id_of, Options, Rounding, Summary};
use rayon::prelude::*;

/// Below this many accounts the rayon pool costs more than it saves.
const PARALLEL_MIN: usize = 1 << 17;
/// Work unit of the parallel passes.
const CHUNK: usize = 1 << 16;
const MAX_BUCKET_BITS: u32 = 11;
const SPARE_SLOTS: usize = 8;
/// From this many accounts, one banded pass (after a sample) replaces the two passes.
const BANDED_MIN: usize = 1 << 18;
/// One claim in this many is sampled to place the band.
const SAMPLE_STRIDE: usize = 16;
/// Half-width of the band, in standard deviations of the sample's estimate.
const BAND_SIGMAS: u64 = 5;

/// Exact `(floor(c*T/P), (c*T) mod P)` for one positive claim.
trait Divider: Sync {
    type Rem: Ord + Copy + Send + Sync;
    fn div_rem(&self, c: u64) -> (u64, Self::Rem);
    fn bucket(&self, r: Self::Rem) -> usize;
    fn is_zero(r: Self::Rem) -> bool;
    fn wide(r: Self::Rem) -> u128;
    /// `P`, the divisor.
    fn modulus(&self) -> u128;
}

/// `P < 2^63` and `0 < T < P`: reciprocal `f = floor(T * 2^64 / P)` gives a quotient
/// estimate at most one below the floor (since `c < 2^63`, the error is `< c/2^64 < 1/2`).
/// The remainder is then below `2P < 2^64`, so it is exact in wrapping 64-bit arithmetic.
struct NarrowDivider {
    t: u64,
    p: u64,
    f: u64,
    shift: u32,
}

impl Divider for NarrowDivider {
    type Rem = u64;
    #[inline(always)]
    fn div_rem(&self, c: u64) -> (u64, u64) {
        let q = ((c as u128 * self.f as u128) >> 64) as u64;
        let r = c.wrapping_mul(self.t).wrapping_sub(q.wrapping_mul(self.p));
        // Correct a short estimate without a branch (whether it was short is as random
        // as the claims): `r - p` borrows, setting the top bit, exactly when r < p.
        let diff = r.wrapping_sub(self.p);
        let borrow = diff >> 63;
        (
            q + (1 - borrow),
            diff.wrapping_add(self.p & borrow.wrapping_neg()),
        )
    }
    #[inline(always)]
    fn bucket(&self, r: u64) -> usize {
        (r >> self.shift) as usize
    }
    #[inline(always)]
    fn is_zero(r: u64) -> bool {
        r == 0
    }
    fn wide(r: u64) -> u128 {
        r as u128
    }
    fn modulus(&self) -> u128 {
        self.p as u128
    }
}

/// Any `P` (up to `n * 2^63`): plain 128-bit division, exact and slower.
struct WideDivider {
    t: u128,
    p: u128,
    shift: u32,
}

impl Divider for WideDivider {
    type Rem = u128;
    #[inline(always)]
    fn div_rem(&self, c: u64) -> (u64, u128) {
        let x = c as u128 * self.t;
        ((x / self.p) as u64, x % self.p)
    }
    #[inline(always)]
    fn bucket(&self, r: u128) -> usize {
        (r >> self.shift) as usize
    }
    #[inline(always)]
    fn is_zero(r: u128) -> bool {
        r == 0
    }
    fn wide(r: u128) -> u128 {
        r
    }
    fn modulus(&self) -> u128 {
        self.p
    }
}

fn bucket_bits(n: usize) -> u32 {
    let bits = usize::BITS - n.leading_zeros();
    bits.saturating_sub(3).clamp(4, MAX_BUCKET_BITS)
}

/// Shift that maps a remainder `r < p` to a bucket below `2^bits`, monotonically.
fn bucket_shift(p: u128, bits: u32) -> u32 {
    (128 - p.leading_zeros()).saturating_sub(bits)
}

pub(super) fn allocate(
    claims: &[i64],
    base: u128,
    loss: u64,
    opts: &Options<'_>,
    out: &mut [i64],
    parallel: bool,
) -> Summary {
    let target = (loss as u128).min(base);
    let mut summary = Summary {
        target,
        ..Summary::default()
    };
    if target == 0 || target == base {
        // Nothing to take, or every eligible claim taken whole: no rounding happens.
        let full = target == base;
        for (h, &c) in out.iter_mut().zip(claims) {
            *h = if full { c.max(0) } else { 0 };
        }
        summary.total = target;
        return summary;
    }
    let bits = bucket_bits(claims.len());
    let shift = bucket_shift(base, bits);
    let parallel = parallel && claims.len() >= PARALLEL_MIN;
    if base < 1 << 63 {
        let (p, t) = (base as u64, target as u64);
        let f = ((target << 64) / base) as u64;
        let divider = NarrowDivider { t, p, f, shift };
        run(&divider, bits, claims, target, opts, out, parallel, summary)
    } else {
        let divider = WideDivider {
            t: target,
            p: base,
            shift,
        };
        run(&divider, bits, claims, target, opts, out, parallel, summary)
    }
}

#[allow(clippy::too_many_arguments)]
fn run<D: Divider>(
    d: &D,
    bits: u32,
    claims: &[i64],
    target: u128,
    opts: &Options<'_>,
    out: &mut [i64],
    parallel: bool,
    mut summary: Summary,
) -> Summary {
    match opts.rounding {
        Rounding::Down | Rounding::Up => {
            let up = opts.rounding == Rounding::Up;
            let total = map_chunks(claims, out, parallel, |_, c, h| {
                let mut total = 0u128;
                for (h, &c) in h.iter_mut().zip(c) {
                    let (q, r) = d.div_rem(c.max(0) as u64);
                    *h = (q + u64::from(up && !D::is_zero(r))) as i64;
                    total += *h as u128;
                }
                total
            });
            summary.total = total;
            if up {
                summary.surplus = total - target;
            } else {
                summary.dust = target - total;
            }
            summary
        }
        Rounding::Exact
            if claims.len() >= BANDED_MIN
                && banded_pass(d, claims, target, opts, out, parallel) =>
        {
            summary.total = target;
            summary
        }
        Rounding::Exact => {
            let (floors, histogram) = histogram_of_remainders(d, bits, claims, parallel);
            let leftover = (target - floors) as u64;
            let (cut, above) = cut_off_bucket(&histogram, leftover);
            let mut candidates: Vec<Candidate<D::Rem>> =
                map_chunks(claims, out, parallel, |start, c, h| {
                    let mut found = Vec::new();
                    for (i, (h, &c)) in h.iter_mut().zip(c).enumerate() {
                        // Ineligible claims count as 0: quotient and remainder 0, so
                        // they can sit in bucket 0 but never win a leftover unit.
                        let (q, r) = d.div_rem(c.max(0) as u64);
                        let b = d.bucket(r);
                        if b == cut && c > 0 {
                            let index = start + i;
                            found.push(Candidate {
                                rem: r,
                                id: id_of(opts.ids, index),
                                index,
                            });
                        }
                        *h = (q + u64::from(b > cut)) as i64;
                    }
                    found
                });
            award_largest_remainders(&mut candidates, (leftover - above) as usize, out);
            summary.total = target;
            summary
        }
    }
}

/// Sum of the floors and counts of remainders per bucket, over eligible claims.
fn histogram_of_remainders<D: Divider>(
    d: &D,
    bits: u32,
    claims: &[i64],
    parallel: bool,
) -> (u128, Vec<u64>) {
    let buckets = 1usize << bits;
    let one = |c: &[i64]| {
        // Ineligible claims are counted in spare slots past the end (buckets >= 16 >
        // SPARE_SLOTS), spread over several so their increments do not wait on each
        // other; the power-of-two length lets a mask replace the bounds check.
        let mut hist = vec![0u64; 2 * buckets];
        let mut floors = 0u128;
        for (i, &c) in c.iter().enumerate() {
            let (q, r) = d.div_rem(c.max(0) as u64);
            floors += q as u128;
            // Arithmetic, not a branch: the sign of a claim is unpredictable. An
            // ineligible claim has r = 0, so its bucket term is 0.
            let spare = usize::from(c <= 0) * (buckets + (i & (SPARE_SLOTS - 1)));
            hist[(d.bucket(r) + spare) & (2 * buckets - 1)] += 1;
        }
        hist.truncate(buckets);
        (floors, hist)
    };
    if !parallel {
        return one(claims);
    }
    claims.par_chunks(CHUNK).map(one).reduce(
        || (0, vec![0u64; 1 << bits]),
        |(fa, mut ha), (fb, hb)| {
            for (a, b) in ha.iter_mut().zip(hb) {
                *a += b;
            }
            (fa + fb, ha)
        },
    )
}

/// The bucket holding the `leftover`-th largest remainder, and how many remainders lie
/// in buckets above it. With no leftover, a bucket past the end (nobody is above it).
fn cut_off_bucket(histogram: &[u64], leftover: u64) -> (usize, u64) {
    let mut above = 0u64;
    if leftover == 0 {
        return (histogram.len(), 0);
    }
    for (b, &count) in histogram.iter().enumerate().rev() {
        if above + count >= leftover {
            return (b, above);
        }
        above += count;
    }
    // Unreachable when leftover < number of eligible claims, which flooring guarantees.
    (histogram.len(), above)
}

/// Runs `f(start, claims_chunk, out_chunk)` over aligned chunks, in parallel when asked,
/// and combines the chunk results in input order.
fn map_chunks<T, F>(claims: &[i64], out: &mut [i64], parallel: bool, f: F) -> T
where
    T: Send + Combine,
    F: Fn(usize, &[i64], &mut [i64]) -> T + Sync,
{
    if !parallel {
        return f(0, claims, out);
    }
    claims
        .par_chunks(CHUNK)
        .zip(out.par_chunks_mut(CHUNK))
        .enumerate()
        .map(|(i, (c, h))| f(i * CHUNK, c, h))
        .reduce_with(Combine::combine)
        .unwrap_or_else(T::empty)
}

trait Combine {
    fn combine(self, other: Self) -> Self;
    fn empty() -> Self;
}

impl Combine for u128 {
    fn combine(self, other: Self) -> Self {
        self + other
    }
    fn empty() -> Self {
        0
    }
}

impl<R> Combine for Vec<R> {
    fn combine(mut self, mut other: Self) -> Self {
        self.append(&mut other);
        self
    }
    fn empty() -> Self {
        Vec::new()
    }
}

/// What one chunk of the banded pass found.
struct Band<R> {
    floors: u128,
    above: u64,
    inside: Vec<Candidate<R>>,
    /// The band held too many accounts (remainders pile up): fall back.
    overflowed: bool,
}

impl<R> Combine for Band<R> {
    fn combine(mut self, mut other: Self) -> Self {
        self.floors += other.floors;
        self.above += other.above;
        self.inside.append(&mut other.inside);
        self.overflowed |= other.overflowed;
        self
    }
    fn empty() -> Self {
        Band {
            floors: 0,
            above: 0,
            inside: Vec::new(),
            overflowed: false,
        }
    }
}

/// Exact largest-remainder rounding in one pass over the claims, for large inputs.
///
/// A strided sample estimates the remainder at which the leftover units run out; a band
/// of a few standard deviations around it is fixed before the pass. The pass writes
/// every haircut (`q + 1` above the band, `q` below), counts exactly how many remainders
/// lie above it and collects those inside it. If the exact leftover then falls inside
/// the band, the band's candidates settle it exactly; otherwise (a misleading sample,
/// or remainders piled into the band) it returns false and the caller's two-pass method
/// rewrites everything, so the result is exact either way.
fn banded_pass<D: Divider>(
    d: &D,
    claims: &[i64],
    target: u128,
    opts: &Options<'_>,
    out: &mut [i64],
    parallel: bool,
) -> bool {
    let mut sample: Vec<D::Rem> = claims
        .iter()
        .step_by(SAMPLE_STRIDE)
        .filter(|&&c| c > 0)
        .map(|&c| d.div_rem(c as u64).1)
        .collect();
    let m = sample.len() as u64;
    if m < 1024 {
        return false;
    }
    // The sample's own leftover, sum(r) / P, is where the cut falls in its ranking.
    let expected = (sample.iter().map(|&r| D::wide(r)).sum::<u128>() / d.modulus()) as u64;
    let slack = BAND_SIGMAS * m.isqrt() + 32;
    let descending = |a: &D::Rem, b: &D::Rem| b.cmp(a);
    // Remainders above `high` get their unit in the pass; `low..=high` is the band.
    let high = expected
        .checked_sub(slack)
        .map(|rank| *sample.select_nth_unstable_by(rank as usize, descending).1);
    let low = match expected + slack {
        rank if rank < m => Some(*sample.select_nth_unstable_by(rank as usize, descending).1),
        _ => None,
    };
    // Branch-free tests in the loop: `high = None` means nothing is above the band,
    // `low = None` that the band reaches down to 0 (the remainder of an ineligible claim).
    let zero = d.div_rem(0).1;
    let (has_high, high) = (high.is_some(), high.unwrap_or(zero));
    let low = low.unwrap_or(zero);
    let limit = claims.len() / 8;
    let band: Band<D::Rem> = map_chunks(claims, out, parallel, |start, c, h| {
        let mut found = Band::empty();
        let cap = c.len() / 8 + 64;
        for (i, (h, &c)) in h.iter_mut().zip(c).enumerate() {
            let (q, r) = d.div_rem(c.max(0) as u64);
            let above = has_high & (r > high);
            found.floors += q as u128;
            found.above += u64::from(above);
            // Rarely true, so the one branch left is well predicted.
            let inside = (c > 0) & !above & (r >= low) & (!has_high | (r <= high));
            if inside && !found.overflowed {
                if found.inside.len() >= cap {
                    found.overflowed = true;
                }
                let index = start + i;
                found.inside.push(Candidate {
                    rem: r,
                    id: id_of(opts.ids, index),
                    index,
                });
            }
            *h = (q + u64::from(above)) as i64;
        }
        found
    });
    let Band {
        floors,
        above,
        mut inside,
        overflowed,
    } = band;
    let leftover = (target - floors) as u64;
    if overflowed || inside.len() > limit.max(1024) || leftover < above {
        return false;
    }
    let need = leftover - above;
    if need > inside.len() as u64 {
        return false;
    }
    award_largest_remainders(&mut inside, need as usize, out);
    true
}
