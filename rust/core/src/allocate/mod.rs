//! The allocation kernel: how a loss is spread as haircuts over accounts' claims
//! (spec section 3). Every rule is integer-exact and deterministic; ties go to the
//! smallest account id.

mod basis;
mod batch;
mod ceilings;
mod equal;
mod granular;
mod pro_rata;
mod projection;
mod select;
mod water_fill;

pub use basis::{allocate_on_basis, allocate_on_basis_into, Basis};
pub use batch::{allocate_many, BatchSummary};

use crate::error::{Error, Result};
use std::collections::HashSet;

/// How the loss is shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// In proportion to the claims (OKX/Huobi clawback, Deribit session loss).
    ProRata,
    /// The same haircut for everyone, capped at each claim (constrained equal losses).
    EqualLoss,
    /// Everyone keeps the same amount, capped at the claim: the biggest winners are cut
    /// first (constrained equal awards).
    EqualAward,
}

impl std::str::FromStr for Rule {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "pro_rata" => Ok(Rule::ProRata),
            "equal_loss" => Ok(Rule::EqualLoss),
            "equal_award" => Ok(Rule::EqualAward),
            other => Err(Error::UnknownRule(other.to_owned())),
        }
    }
}

/// How pro-rata shares are turned into whole minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rounding {
    /// Largest remainder (Hamilton): the haircuts add up to the target exactly.
    Exact,
    /// Floors only: the leftover (`dust`) stays uncovered.
    Down,
    /// Ceilings: the excess over the target (`surplus`) is reported.
    Up,
}

impl std::str::FromStr for Rounding {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "exact" => Ok(Rounding::Exact),
            "down" => Ok(Rounding::Down),
            "up" => Ok(Rounding::Up),
            other => Err(Error::UnknownRounding(other.to_owned())),
        }
    }
}

/// A venue's maximum haircut rate `num / den`, between 0 and 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    num: u128,
    den: u128,
}

impl Rate {
    pub fn new(num: u128, den: u128) -> Result<Self> {
        if den == 0 || num > den {
            return Err(Error::InvalidRate { num, den });
        }
        Ok(Rate { num, den })
    }
    pub fn num(&self) -> u128 {
        self.num
    }
    pub fn den(&self) -> u128 {
        self.den
    }
}

/// Everything but the claims and the loss. Slices run parallel to the claims.
#[derive(Debug, Clone, Copy)]
pub struct Options<'a> {
    pub rule: Rule,
    pub rounding: Rounding,
    /// Unique account ids, used only to break ties (default: the position).
    pub ids: Option<&'a [i64]>,
    /// Per-account ceilings on the haircut, in minor units.
    pub caps: Option<&'a [i64]>,
    pub max_rate: Option<Rate>,
    /// Non-negative integer weights: shares follow `weight * claim` (pro_rata only).
    pub weights: Option<&'a [i64]>,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            rule: Rule::ProRata,
            rounding: Rounding::Exact,
            ids: None,
            caps: None,
            max_rate: None,
            weights: None,
        }
    }
}

impl<'a> Options<'a> {
    fn has_ceilings(&self) -> bool {
        self.caps.is_some() || self.max_rate.is_some() || self.weights.is_some()
    }

    /// The same options restricted to `range` of the claims (one event of a batch).
    pub(crate) fn slice(&self, range: std::ops::Range<usize>) -> Options<'a> {
        let cut = |s: Option<&'a [i64]>| s.map(|s| &s[range.clone()]);
        Options {
            ids: cut(self.ids),
            caps: cut(self.caps),
            weights: cut(self.weights),
            ..*self
        }
    }
}

/// What an allocation did, beside the haircuts themselves. All amounts in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// Sum of the haircuts.
    pub total: u128,
    /// What the rule aims to collect: `min(loss, sum of ceilings over payers)`.
    pub target: u128,
    /// Units left unallocated by `Rounding::Down` (they count as uncovered).
    pub dust: u128,
    /// Units collected above the target by `Rounding::Up`.
    pub surplus: u128,
    /// Sum of the eligible (positive) claims.
    pub base: u128,
}

impl Summary {
    /// The part of `loss` that no haircut covers (never negative).
    pub fn uncovered(&self, loss: i64) -> u128 {
        (loss as u128).saturating_sub(self.total)
    }
}

/// Checks everything about the inputs that does not depend on the rule's arithmetic.
pub(crate) fn validate(claims: &[i64], loss: i64, opts: &Options<'_>) -> Result<()> {
    check_combinations(opts)?;
    if loss < 0 {
        return Err(Error::NegativeLoss(loss));
    }
    validate_columns(claims.len(), opts)?;
    if let Some(ids) = opts.ids {
        check_unique(ids)?;
    }
    Ok(())
}

pub(crate) fn check_combinations(opts: &Options<'_>) -> Result<()> {
    let unsupported =
        |option: &'static str, context: String| Err(Error::UnsupportedOption { option, context });
    if opts.rule != Rule::ProRata && opts.rounding != Rounding::Exact {
        return unsupported(
            "rounding other than 'exact'",
            format!("rule {:?}: only pro_rata rounds down or up", opts.rule),
        );
    }
    if opts.rule == Rule::EqualAward {
        for (name, given) in [
            ("caps", opts.caps.is_some()),
            ("max_rate", opts.max_rate.is_some()),
            ("weights", opts.weights.is_some()),
        ] {
            if given {
                return unsupported(name, "rule 'equal_award'".to_owned());
            }
        }
    }
    if opts.weights.is_some() && opts.rule != Rule::ProRata {
        return unsupported("weights", format!("rule {:?}", opts.rule));
    }
    if opts.has_ceilings() && opts.rounding != Rounding::Exact {
        let name = if opts.caps.is_some() {
            "caps"
        } else if opts.max_rate.is_some() {
            "max_rate"
        } else {
            "weights"
        };
        return unsupported(name, "rounding other than 'exact'".to_owned());
    }
    Ok(())
}

/// Lengths and signs of the per-account columns (everything but id uniqueness).
pub(crate) fn validate_columns(n: usize, opts: &Options<'_>) -> Result<()> {
    for (what, column) in [
        ("ids", opts.ids),
        ("caps", opts.caps),
        ("weights", opts.weights),
    ] {
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
    for (what, column) in [("caps", opts.caps), ("weights", opts.weights)] {
        if let Some(column) = column {
            if let Some(index) = column.iter().position(|&v| v < 0) {
                return Err(Error::Negative {
                    what,
                    index,
                    value: column[index],
                });
            }
        }
    }
    Ok(())
}

pub(crate) fn check_unique(ids: &[i64]) -> Result<()> {
    let mut seen = HashSet::with_capacity(ids.len());
    for &id in ids {
        if !seen.insert(id) {
            return Err(Error::DuplicateId(id));
        }
    }
    Ok(())
}

/// Allocates `loss` over `claims` into `out` (same length). On error `out` is untouched.
pub fn allocate_into(
    claims: &[i64],
    loss: i64,
    opts: &Options<'_>,
    out: &mut [i64],
) -> Result<Summary> {
    validate(claims, loss, opts)?;
    if out.len() != claims.len() {
        return Err(Error::LengthMismatch {
            what: "out",
            expected: claims.len(),
            got: out.len(),
        });
    }
    Ok(allocate_validated(claims, loss as u64, opts, out, true))
}

/// Allocates `loss` over `claims`, returning the haircuts in input order.
pub fn allocate(claims: &[i64], loss: i64, opts: &Options<'_>) -> Result<(Vec<i64>, Summary)> {
    let mut out = vec![0; claims.len()];
    let summary = allocate_into(claims, loss, opts, &mut out)?;
    Ok((out, summary))
}

/// The dispatch, once the inputs are known to be valid. `parallel` lets large inputs
/// use the rayon pool (batches turn it off: they are parallel over events instead).
pub(crate) fn allocate_validated(
    claims: &[i64],
    loss: u64,
    opts: &Options<'_>,
    out: &mut [i64],
    parallel: bool,
) -> Summary {
    let base = eligible_sum(claims, parallel);
    let mut summary = match (opts.rule, opts.has_ceilings()) {
        (Rule::ProRata, false) => pro_rata::allocate(claims, base, loss, opts, out, parallel),
        (Rule::ProRata, true) if rate_cannot_bind(claims, base, loss, opts, parallel) => {
            pro_rata::allocate(claims, base, loss, opts, out, parallel)
        }
        (Rule::ProRata, true) => water_fill::allocate(claims, loss, opts, out),
        (Rule::EqualLoss, _) => equal::equal_loss(claims, loss, opts, out),
        (Rule::EqualAward, _) => equal::equal_award(claims, base, loss, opts, out),
    };
    summary.base = base;
    summary
}

/// With a maximum rate as the only ceiling: whether every account's plain pro-rata
/// haircut (at most `ceil(c * loss / base)`) stays within its ceiling
/// `floor(c * num / den)`. Then water-filling takes exactly the plain pro-rata path, which
/// is far cheaper. Sufficient: `c_min * (num * base - loss * den) >= 2 * den * base`,
/// since a ceiling and a floor are each within one unit of the exact values.
fn rate_cannot_bind(
    claims: &[i64],
    base: u128,
    loss: u64,
    opts: &Options<'_>,
    parallel: bool,
) -> bool {
    use rayon::prelude::*;
    let (Some(rate), None, None) = (opts.max_rate, opts.caps, opts.weights) else {
        return false;
    };
    if base == 0 {
        return false;
    }
    let smallest = |c: &[i64]| c.iter().filter(|&&c| c > 0).min().copied();
    let c_min = if parallel && claims.len() >= 1 << 18 {
        claims.par_chunks(1 << 16).filter_map(smallest).min()
    } else {
        smallest(claims)
    };
    let Some(c_min) = c_min else {
        return false;
    };
    use ethnum::U256;
    let (num, den) = (U256::from(rate.num), U256::from(rate.den));
    let (p, d) = (U256::from(base), U256::from(loss));
    let room = num * p;
    let need = d * den;
    room > need && U256::from(c_min as u64) * (room - need) >= U256::from(2u8) * den * p
}

/// Sum of the positive claims: branch-free (signs are unpredictable), on all cores for
/// large inputs.
fn eligible_sum(claims: &[i64], parallel: bool) -> u128 {
    use rayon::prelude::*;
    let sum = |c: &[i64]| c.iter().map(|&c| c.max(0) as u128).sum::<u128>();
    if parallel && claims.len() >= 1 << 18 {
        claims.par_chunks(1 << 16).map(sum).sum()
    } else {
        sum(claims)
    }
}

/// Per-account ceiling `k_i`: the claim, lowered by a cap and by the maximum rate
/// (rounded down: a venue never takes more than its stated rate).
pub(crate) fn ceiling(claim: u64, cap: Option<i64>, rate: Option<Rate>) -> u64 {
    let mut k = claim;
    if let Some(cap) = cap {
        k = k.min(cap.max(0) as u64);
    }
    if let Some(rate) = rate {
        let by_rate = crate::amount::mul_div_floor(claim as u128, rate.num, rate.den);
        k = k.min(by_rate as u64);
    }
    k
}

/// The id used for tie-breaks: the caller's, or the position.
#[inline]
pub(crate) fn id_of(ids: Option<&[i64]>, index: usize) -> i64 {
    match ids {
        Some(ids) => ids[index],
        None => index as i64,
    }
}
