//! Capped and weighted pro rata by water-filling (Chitra 2025, "capped pro-rata"):
//! `h_i = min(k_i, lam * s_i)` with one level `lam` for everyone. Saturated accounts pay
//! their ceiling `k_i`; the others share what is left by largest remainder on `s_i`.
//!
//! Shares `s_i = w_i * c_i` reach 2^126 and their sums 2^190, so ratios are compared and
//! shares divided in 256-bit arithmetic.

use super::select::{award_largest_remainders, Candidate};
use super::{ceiling, id_of, Options, Summary};
use crate::amount::{wide_mul, U256};
use std::cmp::Ordering;

struct Payer {
    index: usize,
    ceiling: u64,
    share: u128,
}

pub(super) fn allocate(claims: &[i64], loss: u64, opts: &Options<'_>, out: &mut [i64]) -> Summary {
    out.fill(0);
    let mut payers: Vec<Payer> = claims
        .iter()
        .enumerate()
        .filter(|&(_, &c)| c > 0)
        .filter_map(|(index, &c)| {
            let weight = opts.weights.map_or(1, |w| w[index]);
            let share = c as u128 * weight as u128;
            let ceiling = ceiling(c as u64, opts.caps.map(|k| k[index]), opts.max_rate);
            (share > 0).then_some(Payer {
                index,
                ceiling,
                share,
            })
        })
        .collect();
    let ceilings: u128 = payers.iter().map(|p| p.ceiling as u128).sum();
    let target = (loss as u128).min(ceilings);
    let summary = Summary {
        target,
        total: target,
        ..Summary::default()
    };
    if target == ceilings {
        for p in &payers {
            out[p.index] = p.ceiling as i64;
        }
        return summary;
    }
    // Lowest ceiling-to-share ratio saturates first.
    payers.sort_unstable_by(by_ratio);
    let mut shares_after = vec![U256::ZERO; payers.len() + 1];
    for (i, p) in payers.iter().enumerate().rev() {
        shares_after[i] = shares_after[i + 1] + U256::from(p.share);
    }
    // First m with k_m * S_m > R_m * s_m: accounts before it are saturated at the final
    // level (the level R_m / S_m is a weighted mean of the ratios still in play).
    let mut remaining = target;
    let mut first_unsaturated = payers.len();
    for (m, p) in payers.iter().enumerate() {
        let lhs = U256::from(p.ceiling) * shares_after[m];
        let rhs = wide_mul(remaining, p.share);
        if lhs > rhs {
            first_unsaturated = m;
            break;
        }
        out[p.index] = p.ceiling as i64;
        remaining -= p.ceiling as u128;
    }
    let unsaturated = &payers[first_unsaturated..];
    if unsaturated.is_empty() {
        return summary;
    }
    let total_shares = shares_after[first_unsaturated];
    let remaining_wide = U256::from(remaining);
    let mut floors = 0u128;
    let mut candidates: Vec<Candidate<U256>> = Vec::with_capacity(unsaturated.len());
    for p in unsaturated {
        let x = U256::from(p.share) * remaining_wide;
        let q = x / total_shares;
        let rem = x % total_shares;
        // q <= lam * s_i < k_i, so it fits.
        let q = q.as_u128();
        out[p.index] = q as i64;
        floors += q;
        candidates.push(Candidate {
            rem,
            id: id_of(opts.ids, p.index),
            index: p.index,
        });
    }
    award_largest_remainders(&mut candidates, (remaining - floors) as usize, out);
    summary
}

fn by_ratio(a: &Payer, b: &Payer) -> Ordering {
    // a.k / a.s  vs  b.k / b.s, without division.
    let lhs = U256::from(a.ceiling) * U256::from(b.share);
    let rhs = U256::from(b.ceiling) * U256::from(a.share);
    lhs.cmp(&rhs).then(a.index.cmp(&b.index))
}
