//! The ceilings `k_i` of the basis options (`basis.rs`, `granular.rs`): what each
//! account can give up, and the claims that make every eligible ceiling binding.

use super::{ceiling, Options};

/// Per-account ceilings `k_i` of the eligible claims (0 for the others), as caps.
pub(super) fn ceilings(claims: &[i64], opts: &Options<'_>) -> Vec<i64> {
    claims
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            if c > 0 {
                ceiling(c as u64, opts.caps.map(|k| k[i]), opts.max_rate) as i64
            } else {
                0
            }
        })
        .collect()
}

/// Claims that make every eligible account's ceiling equal to its cap: `i64::MAX` for
/// the eligible, 0 for the others. Shares `MAX * s_i` keep the ratios of `s_i` (and the
/// order of the remainders, all scaled by `MAX`), so the water level is unchanged.
pub(super) fn common_ceiling_basis(claims: &[i64]) -> Vec<i64> {
    claims
        .iter()
        .map(|&c| if c > 0 { i64::MAX } else { 0 })
        .collect()
}
