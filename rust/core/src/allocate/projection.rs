//! The projection of a starting point onto the haircuts that cover the target:
//! `h_i = clamp(o_i + lam * s_i, 0, k_i)` with one level `lam` for everyone, `o_i` the
//! offset, `s_i > 0` the share (pro_rata) or 1 (equal_loss), `k_i` the ceiling.
//!
//! It is the minimizer of `sum (h_i - o_i)^2 / s_i` over `{0 <= h_i <= k_i,
//! sum h_i = T}`: one projected step of mirror descent whose previous iterate and
//! gradient step give the offset. With shares `w_i^2` and ceilings `w_i` it is the
//! Euclidean projection in haircut-rate space (`x_i = h_i / w_i`) of Autodeleveraging as
//! Online Learning (Chitra et al. 2026, arXiv 2602.15182), whose closed form
//! `x_i = [y_i - tau w_i]_0^1` this is; with a zero offset it is water-filling.
//!
//! Exact: the level is found among the `2m` breakpoints `-o_i / s_i` (account `i`
//! leaves 0) and `(k_i - o_i) / s_i` (it reaches `k_i`), compared as fractions in 256
//! bits. On the crossing segment the free accounts get `o_i + floor(R s_i / S)`, `R / S`
//! the exact level; the units the floors leave go +1 to the largest remainders
//! `(R s_i) mod S`, ties to the smallest id. Accounts that are not payers (claim <= 0,
//! share 0 or ceiling 0) get 0, whatever their offset.

use super::select::{award_largest_remainders, Candidate};
use super::{ceiling, id_of, Options, Rule, Summary};
use ethnum::{I256, U256};
use std::cmp::Ordering;

struct Payer {
    index: usize,
    ceiling: u64,
    share: u128,
    offset: i64,
}

/// Where the level crosses a payer's bounds: `num / den`, `den` its share.
#[derive(Clone, Copy)]
struct Breakpoint {
    num: i128,
    den: u128,
    payer: usize,
    /// The payer reaches its ceiling here (else it leaves 0).
    saturates: bool,
}

fn level_cmp(a: &Breakpoint, b: &Breakpoint) -> Ordering {
    (I256::from(a.num) * I256::from(b.den)).cmp(&(I256::from(b.num) * I256::from(a.den)))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Zero,
    Free,
    Saturated,
}

pub(super) fn allocate(
    claims: &[i64],
    loss: u64,
    opts: &Options<'_>,
    shares: Option<&[i64]>,
    offset: &[i64],
    out: &mut [i64],
) -> Summary {
    out.fill(0);
    let payers: Vec<Payer> = claims
        .iter()
        .enumerate()
        .filter(|&(_, &c)| c > 0)
        .filter_map(|(index, &c)| {
            let share = match (opts.rule, shares, opts.weights) {
                (Rule::EqualLoss, _, _) => 1,
                (_, Some(s), _) => s[index] as u128,
                (_, None, Some(w)) => c as u128 * w[index] as u128,
                (_, None, None) => c as u128,
            };
            let ceiling = ceiling(c as u64, opts.caps.map(|k| k[index]), opts.max_rate);
            (share > 0 && ceiling > 0).then_some(Payer {
                index,
                ceiling,
                share,
                offset: offset[index],
            })
        })
        .collect();
    let capacity: u128 = payers.iter().map(|p| p.ceiling as u128).sum();
    let target = (loss as u128).min(capacity);
    let summary = Summary {
        target,
        total: target,
        ..Summary::default()
    };
    if target == 0 {
        return summary;
    }
    if target == capacity {
        for p in &payers {
            out[p.index] = p.ceiling as i64;
        }
        return summary;
    }

    let mut breakpoints: Vec<Breakpoint> = Vec::with_capacity(2 * payers.len());
    for (j, p) in payers.iter().enumerate() {
        let o = p.offset as i128;
        breakpoints.push(Breakpoint {
            num: -o,
            den: p.share,
            payer: j,
            saturates: false,
        });
        breakpoints.push(Breakpoint {
            num: p.ceiling as i128 - o,
            den: p.share,
            payer: j,
            saturates: true,
        });
    }
    breakpoints.sort_unstable_by(level_cmp);

    // Sweep the level upward. Between breakpoints the total paid is
    // `F(lam) = saturated + free_offsets + lam * free_shares`, continuous and
    // non-decreasing; the first breakpoint `v` with `F(v) >= T` closes the segment that
    // holds the level (F rises on it, so free_shares > 0 there).
    let mut state = vec![State::Zero; payers.len()];
    let mut saturated: i128 = 0;
    let mut free_offsets: i128 = 0;
    let mut free_shares = I256::ZERO;
    let target_i = target as i128;
    let mut next = 0;
    while next < breakpoints.len() {
        let b = breakpoints[next];
        let reached = I256::from(saturated + free_offsets - target_i) * I256::from(b.den)
            + I256::from(b.num) * free_shares;
        if reached >= I256::ZERO {
            break;
        }
        // Cross every breakpoint at this level.
        let mut k = next;
        while k < breakpoints.len() && level_cmp(&breakpoints[k], &b) == Ordering::Equal {
            let e = breakpoints[k];
            let p = &payers[e.payer];
            if e.saturates {
                state[e.payer] = State::Saturated;
                saturated += p.ceiling as i128;
                free_offsets -= p.offset as i128;
                free_shares -= I256::from(p.share);
            } else {
                state[e.payer] = State::Free;
                free_offsets += p.offset as i128;
                free_shares += I256::from(p.share);
            }
            k += 1;
        }
        next = k;
    }
    // F(last breakpoint) = capacity > T, so the loop stopped at a crossing.
    debug_assert!(next < breakpoints.len());
    debug_assert!(free_shares > I256::ZERO);

    // The level is R / S. Free accounts: o_i + R s_i / S, floored, remainders kept.
    let rest = I256::from(target_i - saturated - free_offsets);
    let total_shares = free_shares;
    let mut paid: i128 = saturated;
    let mut candidates: Vec<Candidate<U256>> = Vec::new();
    for (j, p) in payers.iter().enumerate() {
        match state[j] {
            State::Zero => {}
            State::Saturated => out[p.index] = p.ceiling as i64,
            State::Free => {
                let x = rest * I256::from(p.share);
                let q = x.div_euclid(total_shares);
                let r = x.rem_euclid(total_shares);
                // 0 < o + R s / S <= k on the segment, so the floor lies in [0, k].
                let h = p.offset as i128 + q.as_i128();
                debug_assert!((0..=p.ceiling as i128).contains(&h));
                out[p.index] = h as i64;
                paid += h;
                candidates.push(Candidate {
                    rem: r.as_u256(),
                    id: id_of(opts.ids, p.index),
                    index: p.index,
                });
            }
        }
    }
    // The remainders add up to (T - paid) * S with each below S: fewer units than free
    // accounts, and only accounts with a positive remainder (below their ceiling) win.
    award_largest_remainders(&mut candidates, (target_i - paid) as usize, out);
    summary
}
