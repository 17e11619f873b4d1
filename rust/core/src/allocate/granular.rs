//! Haircuts in whole units: a venue that deleverages contracts can only take a whole
//! number of contracts from an account, each worth `unit` minor units.
//!
//! Rules (all integer):
//! - an account can give up `K_i = floor(k_i / unit)` units, `k_i` its ceiling in minor
//!   units; the part of a ceiling below one unit is never taken;
//! - `T = min(loss, unit * sum K_i)` over the payers, and the rule shares
//!   `U` whole units, where `rounding` decides the last partial unit:
//!   `"up"`: `U = ceil(T / unit)` (the loss is covered; the excess, under one unit, is
//!   `surplus`), `"down"`: `U = floor(T / unit)` (the part under one unit is `dust` and
//!   stays uncovered), `"exact"`: `T` must be a whole number of units, else an error;
//! - the `U` units are shared by the rule on the ceilings `K_i`: pro_rata by
//!   water-filling on the shares (the claims, `weight x claim`, or the given shares) with
//!   largest remainders in whole units, ties to the smallest id; equal_loss by the same
//!   number of units for everyone, capped at `K_i`;
//! - `h_i = unit * n_i`, so `0 <= h_i <= k_i`.
//!
//! The units are shared by the section-3 kernel itself, run on the ceilings in units.

use super::ceilings::{ceilings, common_ceiling_basis};
use super::{allocate_into, Options, Rounding, Rule, Summary};
use crate::error::{Error, Result};

pub(super) fn allocate(
    claims: &[i64],
    loss: u64,
    opts: &Options<'_>,
    shares: Option<&[i64]>,
    unit: u64,
    out: &mut [i64],
) -> Result<Summary> {
    let payer = |i: usize| match (shares, opts.weights) {
        (Some(s), _) => s[i] > 0,
        (None, Some(w)) => w[i] > 0,
        (None, None) => true,
    };
    // Ceilings in whole units; accounts that do not pay get 0.
    let units: Vec<i64> = ceilings(claims, opts)
        .into_iter()
        .enumerate()
        .map(|(i, k)| if payer(i) { k / unit as i64 } else { 0 })
        .collect();
    let capacity = units
        .iter()
        .map(|&k| k as u128)
        .sum::<u128>()
        .saturating_mul(unit as u128);
    let target = (loss as u128).min(capacity);
    let whole = target / unit as u128;
    let partial = target % unit as u128;
    let taken = match opts.rounding {
        Rounding::Up => whole + u128::from(partial > 0),
        Rounding::Down => whole,
        Rounding::Exact if partial == 0 => whole,
        Rounding::Exact => {
            return Err(Error::InvalidArgument(format!(
                "the loss to cover, {target} minor units, is not a whole number of units of \
                 {unit}: pass rounding='up' to cover it (the excess is surplus) or \
                 rounding='down' (the rest is dust)"
            )));
        }
    };
    // `taken <= sum K_i`, so the kernel's target is exactly `taken`.
    let composed_claims;
    let (rule_claims, weights) = match (opts.rule, shares) {
        (Rule::ProRata, Some(s)) => {
            composed_claims = common_ceiling_basis(claims);
            (composed_claims.as_slice(), Some(s))
        }
        _ => (claims, opts.weights),
    };
    let inner = Options {
        rule: opts.rule,
        rounding: Rounding::Exact,
        ids: opts.ids,
        caps: Some(&units),
        max_rate: None,
        weights,
    };
    let mut counts = vec![0i64; claims.len()];
    allocate_into(rule_claims, taken as i64, &inner, &mut counts)?;
    for (h, n) in out.iter_mut().zip(&counts) {
        *h = n * unit as i64; // n <= K_i, so n * unit <= k_i fits
    }
    let total = taken * unit as u128;
    Ok(Summary {
        total,
        target,
        dust: target.saturating_sub(total),
        surplus: total.saturating_sub(target),
        base: 0,
    })
}
