//! The two equal-sharing rules of the bankruptcy problem (Aumann-Maschler):
//! constrained equal losses (everyone pays the same, capped at their ceiling) and
//! constrained equal awards (everyone keeps the same, so the biggest winners pay first).

use super::select::award_smallest_ids;
use super::{ceiling, id_of, Options, Summary};

/// `h_i = min(k_i, lam)`, `lam` the largest integer with `sum(min(k_i, lam)) <= T`; the
/// leftover units go +1 to the accounts with `k_i > lam`, smallest id first.
pub(super) fn equal_loss(
    claims: &[i64],
    loss: u64,
    opts: &Options<'_>,
    out: &mut [i64],
) -> Summary {
    let ceilings: Vec<(usize, u64)> = claims
        .iter()
        .enumerate()
        .filter(|&(_, &c)| c > 0)
        .map(|(i, &c)| (i, ceiling(c as u64, opts.caps.map(|k| k[i]), opts.max_rate)))
        .filter(|&(_, k)| k > 0)
        .collect();
    let sum: u128 = ceilings.iter().map(|&(_, k)| k as u128).sum();
    let target = (loss as u128).min(sum);
    let lam = if target == sum {
        u64::MAX
    } else {
        let mut sorted: Vec<u64> = ceilings.iter().map(|&(_, k)| k).collect();
        sorted.sort_unstable();
        level_below_ceilings(&sorted, target)
    };
    out.fill(0);
    let mut paid = 0u128;
    let mut above: Vec<(i64, usize)> = Vec::new();
    for &(i, k) in &ceilings {
        out[i] = k.min(lam) as i64;
        paid += k.min(lam) as u128;
        if k > lam {
            above.push((id_of(opts.ids, i), i));
        }
    }
    award_smallest_ids(&mut above, (target - paid) as usize, out);
    Summary {
        target,
        total: target,
        ..Summary::default()
    }
}

/// Largest `lam` with `sum(min(k, lam)) <= target`, for ascending `sorted` whose sum
/// exceeds `target`. With the `m` smallest paid in full, the rest pay `lam` each.
fn level_below_ceilings(sorted: &[u64], target: u128) -> u64 {
    let mut paid_in_full = 0u128;
    for (m, &k) in sorted.iter().enumerate() {
        let rest = (sorted.len() - m) as u128;
        let lam = (target - paid_in_full) / rest;
        if lam < k as u128 {
            return lam as u64;
        }
        paid_in_full += k as u128;
    }
    // Only reached if the sum did not exceed the target.
    u64::MAX
}

/// `h_i = max(0, c_i - mu)`, `mu` the smallest integer with `sum(max(0, c_i - mu)) <= T`;
/// the leftover units go +1 to the accounts with `c_i >= mu`, smallest id first.
pub(super) fn equal_award(
    claims: &[i64],
    base: u128,
    loss: u64,
    opts: &Options<'_>,
    out: &mut [i64],
) -> Summary {
    let target = (loss as u128).min(base);
    let mu = if target == base {
        0
    } else {
        let mut sorted: Vec<u64> = claims
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| c as u64)
            .collect();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        level_above_awards(&sorted, target)
    };
    out.fill(0);
    let mut paid = 0u128;
    let mut at_or_above: Vec<(i64, usize)> = Vec::new();
    for (i, &c) in claims.iter().enumerate() {
        if c > 0 {
            let h = (c as u64).saturating_sub(mu);
            out[i] = h as i64;
            paid += h as u128;
            if c as u64 >= mu {
                at_or_above.push((id_of(opts.ids, i), i));
            }
        }
    }
    award_smallest_ids(&mut at_or_above, (target - paid) as usize, out);
    Summary {
        target,
        total: target,
        ..Summary::default()
    }
}

/// Smallest `mu` with `sum(max(0, c - mu)) <= target`, for descending positive `sorted`
/// whose sum exceeds `target`. Between the m-th and (m+1)-th largest claims the sum is
/// `top_m - m * mu`, so each interval is solved in closed form, from the top down.
fn level_above_awards(sorted: &[u64], target: u128) -> u64 {
    let mut top = 0u128;
    for m in 1..=sorted.len() {
        top += sorted[m - 1] as u128;
        let next = sorted.get(m).copied().unwrap_or(0) as u128;
        let excess = top.saturating_sub(target);
        let need = excess.div_ceil(m as u128);
        if need > next {
            return need as u64;
        }
    }
    0
}
