//! Allocation on a chosen basis: shares that differ from the claims, haircuts in whole
//! units (contracts), and a projection from a starting point.
//!
//! These options live in their own struct, [`Basis`], beside [`Options`], so that the
//! rules of spec section 3 keep their paths and every existing `Options` value keeps its
//! meaning. With an empty `Basis` the result is exactly [`allocate_into`]'s.
//!
//! - `shares` (pro_rata): shares follow `s_i = shares_i` while the claims still decide
//!   eligibility (`c_i > 0`) and the ceilings `k_i` (claim, lowered by caps and
//!   max_rate). Unlike weights, a ceiling may exceed the share basis: shares by
//!   unrealized PnL, ceilings by equity. An account with `shares_i = 0` pays nothing.
//! - `unit` (pro_rata, equal_loss): every haircut is a whole number of units of `unit`
//!   minor units (one contract's worth). See [`super::granular`].
//! - `offset` (pro_rata, equal_loss): the haircuts are the projection of the starting
//!   point `offset` onto `{0 <= h_i <= k_i, sum h_i = T}`. See [`super::projection`].
//!
//! `shares` alone is computed by composing the water-filling kernel (the claims become
//! one common ceiling basis, the shares become weights, the ceilings become caps): same
//! level, same remainders, same ties. `unit` composes the same kernel on whole units.

use super::ceilings::{ceilings, common_ceiling_basis};
use super::{
    allocate_into, check_combinations, check_unique, granular, projection, validate_columns,
    Options, Rounding, Rule, Summary,
};
use crate::error::{Error, Result};

/// What shares follow, in what units haircuts come, and from what starting point they
/// are projected. Slices run parallel to the claims. All fields default to `None`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Basis<'a> {
    /// Non-negative integer shares replacing the claims as the pro-rata basis.
    pub shares: Option<&'a [i64]>,
    /// Minor units in one whole unit of haircut (> 0): one contract's worth.
    pub unit: Option<i64>,
    /// Starting haircuts in minor units (any sign): the point that is projected.
    pub offset: Option<&'a [i64]>,
}

impl Basis<'_> {
    /// Whether no option is set (the plain kernel applies).
    pub fn is_empty(&self) -> bool {
        self.shares.is_none() && self.unit.is_none() && self.offset.is_none()
    }
}

/// Allocates `loss` over `claims` on `basis` into `out` (same length); see the module
/// documentation. On error `out` is untouched.
pub fn allocate_on_basis_into(
    claims: &[i64],
    loss: i64,
    opts: &Options<'_>,
    basis: &Basis<'_>,
    out: &mut [i64],
) -> Result<Summary> {
    if basis.is_empty() {
        return allocate_into(claims, loss, opts, out);
    }
    validate(claims, loss, opts, basis)?;
    if out.len() != claims.len() {
        return Err(Error::LengthMismatch {
            what: "out",
            expected: claims.len(),
            got: out.len(),
        });
    }
    let loss = loss as u64;
    let base: u128 = claims.iter().map(|&c| c.max(0) as u128).sum();
    let mut summary = if let Some(offset) = basis.offset {
        projection::allocate(claims, loss, opts, basis.shares, offset, out)
    } else if let Some(unit) = basis.unit {
        granular::allocate(claims, loss, opts, basis.shares, unit as u64, out)?
    } else {
        allocate_with_shares(claims, loss, opts, basis.shares.unwrap_or(&[]), out)?
    };
    summary.base = base;
    Ok(summary)
}

/// Allocates `loss` over `claims` on `basis`, returning the haircuts in input order.
pub fn allocate_on_basis(
    claims: &[i64],
    loss: i64,
    opts: &Options<'_>,
    basis: &Basis<'_>,
) -> Result<(Vec<i64>, Summary)> {
    let mut out = vec![0; claims.len()];
    let summary = allocate_on_basis_into(claims, loss, opts, basis, &mut out)?;
    Ok((out, summary))
}

fn unsupported(option: &'static str, context: impl Into<String>) -> Error {
    Error::UnsupportedOption {
        option,
        context: context.into(),
    }
}

/// Everything about the inputs that does not depend on the arithmetic.
fn validate(claims: &[i64], loss: i64, opts: &Options<'_>, basis: &Basis<'_>) -> Result<()> {
    // With a unit, `rounding` says what happens to the last partial unit, so caps,
    // max_rate and weights take any rounding: check the rest as if it were exact.
    let core = match basis.unit {
        Some(_) => Options {
            rounding: Rounding::Exact,
            ..*opts
        },
        None => *opts,
    };
    check_combinations(&core)?;
    let rule = opts.rule;
    if rule == Rule::EqualAward {
        let given = if basis.shares.is_some() {
            "shares"
        } else if basis.unit.is_some() {
            "unit"
        } else {
            "offset"
        };
        return Err(unsupported(given, "rule 'equal_award'"));
    }
    if basis.shares.is_some() {
        if rule != Rule::ProRata {
            return Err(unsupported("shares", format!("rule {rule:?}")));
        }
        if opts.weights.is_some() {
            return Err(unsupported(
                "shares",
                "weights (shares replace weight x claim; pass one of them)",
            ));
        }
    }
    if basis.offset.is_some() && basis.unit.is_some() {
        return Err(unsupported(
            "offset",
            "unit (a projection is not defined in whole units)",
        ));
    }
    if basis.unit.is_none() && opts.rounding != Rounding::Exact {
        let name = if basis.shares.is_some() {
            "shares"
        } else {
            "offset"
        };
        return Err(unsupported(name, "rounding other than 'exact'"));
    }
    if let Some(unit) = basis.unit {
        if unit <= 0 {
            return Err(Error::InvalidArgument(format!(
                "unit must be > 0 minor units, got {unit}"
            )));
        }
    }
    if loss < 0 {
        return Err(Error::NegativeLoss(loss));
    }
    let n = claims.len();
    validate_columns(n, opts)?;
    for (what, column) in [("shares", basis.shares), ("offset", basis.offset)] {
        if let Some(column) = column {
            if column.len() != n {
                return Err(Error::LengthMismatch {
                    what,
                    expected: n,
                    got: column.len(),
                });
            }
        }
    }
    if let Some(shares) = basis.shares {
        if let Some(index) = shares.iter().position(|&s| s < 0) {
            return Err(Error::Negative {
                what: "shares",
                index,
                value: shares[index],
            });
        }
    }
    if let Some(ids) = opts.ids {
        check_unique(ids)?;
    }
    Ok(())
}

/// pro_rata with `h_i = min(k_i, lam * shares_i)`, by composition (module docs).
fn allocate_with_shares(
    claims: &[i64],
    loss: u64,
    opts: &Options<'_>,
    shares: &[i64],
    out: &mut [i64],
) -> Result<Summary> {
    let caps = ceilings(claims, opts);
    let composed = common_ceiling_basis(claims);
    let inner = Options {
        rule: Rule::ProRata,
        rounding: Rounding::Exact,
        ids: opts.ids,
        caps: Some(&caps),
        max_rate: None,
        weights: Some(shares),
    };
    allocate_into(&composed, loss as i64, &inner, out)
}
