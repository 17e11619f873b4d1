//! Exact integer helpers for the ledger.
//!
//! The rule (docs/ledger.md, "Units"): every intermediate is exact, every named result is
//! checked. Formulas therefore run on `i128` with checked operations first (the fast path)
//! and, only when an intermediate overflows, again on 256 bits; the result must then fit
//! its declared type or the operation fails with [`Error::AmountOverflow`].

use crate::error::{Error, Result};
use ethnum::I256;

/// The overflow error for a money quantity (`i128`).
#[inline]
pub(crate) fn overflow(what: &'static str) -> Error {
    Error::AmountOverflow { what, ty: "int128" }
}

/// The overflow error for a size or another `i64` field.
#[inline]
pub(crate) fn overflow64(what: &'static str) -> Error {
    Error::AmountOverflow { what, ty: "int64" }
}

#[inline]
pub(crate) fn add(a: i128, b: i128, what: &'static str) -> Result<i128> {
    a.checked_add(b).ok_or_else(|| overflow(what))
}

#[inline]
pub(crate) fn sub(a: i128, b: i128, what: &'static str) -> Result<i128> {
    a.checked_sub(b).ok_or_else(|| overflow(what))
}

/// A 256-bit value narrowed to `i128`, or the overflow error naming it.
#[inline]
pub(crate) fn narrow(v: I256, what: &'static str) -> Result<i128> {
    i128::try_from(v).map_err(|_| overflow(what))
}

#[inline]
pub(crate) fn wide(v: i128) -> I256 {
    I256::from(v)
}

/// An exact amount (minor units): in `i128` when it fits, the usual case, else its
/// 256-bit value (never an `i128` value). Formulas return it so that nothing overflows
/// before a caller narrows the result to the named `i128` it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exact {
    Fits(i128),
    Wide(I256),
}

impl Exact {
    /// `v`, as `Fits` whenever it fits `i128`.
    #[inline]
    pub fn from_wide(v: I256) -> Exact {
        match i128::try_from(v) {
            Ok(small) => Exact::Fits(small),
            Err(_) => Exact::Wide(v),
        }
    }

    /// The exact value on 256 bits.
    #[inline]
    pub fn wide(self) -> I256 {
        match self {
            Exact::Fits(v) => I256::from(v),
            Exact::Wide(v) => v,
        }
    }

    /// The value as the named `i128` result `what`, or the overflow error naming it.
    #[inline]
    pub fn narrow(self, what: &'static str) -> Result<i128> {
        match self {
            Exact::Fits(v) => Ok(v),
            Exact::Wide(_) => Err(overflow(what)),
        }
    }
}

/// `floor(a / b)` (mathematical floor, also for negative operands). `None` when `b == 0`
/// or the quotient does not fit (`i128::MIN / -1`).
pub fn div_floor(a: i128, b: i128) -> Option<i128> {
    let q = a.checked_div(b)?;
    let r = a.checked_rem(b)?;
    // Rust truncates toward zero: step down when the exact quotient is negative and inexact.
    if r != 0 && ((r < 0) != (b < 0)) {
        q.checked_sub(1)
    } else {
        Some(q)
    }
}

/// `ceil(a / b)` (mathematical ceiling). `None` when `b == 0` or the quotient does not fit.
pub fn div_ceil(a: i128, b: i128) -> Option<i128> {
    let q = a.checked_div(b)?;
    let r = a.checked_rem(b)?;
    if r != 0 && ((r < 0) == (b < 0)) {
        q.checked_add(1)
    } else {
        Some(q)
    }
}

/// `floor(a / b)` on 256 bits; `b` must be non-zero (callers guarantee it).
pub(crate) fn wide_div_floor(a: I256, b: I256) -> Option<I256> {
    if b == I256::ZERO {
        return None;
    }
    let (q, r) = a.checked_div_rem(b)?;
    if r != I256::ZERO && ((r < I256::ZERO) != (b < I256::ZERO)) {
        q.checked_sub(I256::ONE)
    } else {
        Some(q)
    }
}

/// `ceil(a / b)` on 256 bits; `b` must be non-zero (callers guarantee it).
pub(crate) fn wide_div_ceil(a: I256, b: I256) -> Option<I256> {
    if b == I256::ZERO {
        return None;
    }
    let (q, r) = a.checked_div_rem(b)?;
    if r != I256::ZERO && ((r < I256::ZERO) == (b < I256::ZERO)) {
        q.checked_add(I256::ONE)
    } else {
        Some(q)
    }
}

/// `a + b * c` exactly, checked as a result.
#[inline]
pub(crate) fn mul_add(a: i128, b: i128, c: i128, what: &'static str) -> Result<i128> {
    if let Some(v) = b.checked_mul(c).and_then(|p| a.checked_add(p)) {
        return Ok(v);
    }
    let v = wide(b)
        .checked_mul(wide(c))
        .and_then(|p| wide(a).checked_add(p))
        .ok_or_else(|| overflow(what))?;
    narrow(v, what)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_and_ceil_follow_the_mathematical_definition() {
        let cases: [(i128, i128); 12] = [
            (7, 2),
            (-7, 2),
            (7, -2),
            (-7, -2),
            (6, 3),
            (-6, 3),
            (0, 5),
            (1, 10_000),
            (-1, 10_000),
            (i128::MAX, 2),
            (i128::MIN, 2),
            (i128::MIN + 1, -1),
        ];
        for (a, b) in cases {
            let (fa, fb) = (a as f64, b as f64);
            if a.unsigned_abs() < (1u128 << 52) {
                assert_eq!(div_floor(a, b), Some((fa / fb).floor() as i128), "{a}/{b}");
                assert_eq!(div_ceil(a, b), Some((fa / fb).ceil() as i128), "{a}/{b}");
            }
            let (wf, wc) = (
                wide_div_floor(wide(a), wide(b)).map(|v| v.as_i128()),
                wide_div_ceil(wide(a), wide(b)).map(|v| v.as_i128()),
            );
            assert_eq!(div_floor(a, b), wf);
            assert_eq!(div_ceil(a, b), wc);
        }
        assert_eq!(div_floor(-7, 2), Some(-4));
        assert_eq!(div_ceil(-7, 2), Some(-3));
        assert_eq!(div_floor(7, -2), Some(-4));
        assert_eq!(div_ceil(7, -2), Some(-3));
        assert_eq!(div_floor(-7, -2), Some(3));
        assert_eq!(div_ceil(-7, -2), Some(4));
        assert_eq!(div_floor(i128::MIN, -1), None);
        assert_eq!(div_ceil(5, 0), None);
        assert_eq!(div_floor(i128::MIN, 2), Some(i128::MIN / 2));
        assert_eq!(div_ceil(i128::MAX, 2), Some(i128::MAX / 2 + 1));
    }

    #[test]
    fn wide_paths_only_fail_on_the_result() {
        // b * c overflows i128 but a + b * c fits.
        assert_eq!(mul_add(-1, 1 << 126, 2, "x").ok(), Some(i128::MAX));
        assert!(mul_add(0, 1 << 126, 2, "x").is_err());
    }
}
