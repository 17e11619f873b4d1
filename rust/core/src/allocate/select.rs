//! Handing out the leftover units that flooring leaves: by largest remainder (Hamilton)
//! or to the smallest ids, always deterministically.

use std::cmp::Ordering;

/// An account in the running for one leftover unit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Candidate<R> {
    /// `(share * target) mod total_shares`: larger means closer to the next unit.
    pub rem: R,
    pub id: i64,
    pub index: usize,
}

fn by_remainder_then_id<R: Ord>(a: &Candidate<R>, b: &Candidate<R>) -> Ordering {
    b.rem.cmp(&a.rem).then(a.id.cmp(&b.id))
}

/// Gives one unit each to the `k` candidates with the largest remainder, ties to the
/// smallest id. `k` never exceeds the number of candidates (callers prove it).
pub(crate) fn award_largest_remainders<R: Ord + Copy>(
    candidates: &mut [Candidate<R>],
    k: usize,
    out: &mut [i64],
) {
    let k = k.min(candidates.len());
    if k == 0 {
        return;
    }
    if k < candidates.len() {
        candidates.select_nth_unstable_by(k - 1, by_remainder_then_id);
    }
    for c in &candidates[..k] {
        out[c.index] += 1;
    }
}

/// Gives one unit each to the `k` accounts with the smallest ids among `(id, index)`.
pub(crate) fn award_smallest_ids(candidates: &mut [(i64, usize)], k: usize, out: &mut [i64]) {
    let k = k.min(candidates.len());
    if k == 0 {
        return;
    }
    if k < candidates.len() {
        candidates.select_nth_unstable_by_key(k - 1, |&(id, _)| id);
    }
    for &(_, index) in &candidates[..k] {
        out[index] += 1;
    }
}
