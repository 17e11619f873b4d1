//! Wide integer helpers for money arithmetic. Products of two 128-bit values are taken
//! in 256 bits, so no intermediate overflows whatever the inputs.

pub use ethnum::U256;

/// `floor(a * b / d)` computed exactly in 256 bits; `d` must be non-zero.
/// Saturates at `u128::MAX` (callers only use it where the result is known to fit).
pub fn mul_div_floor(a: u128, b: u128, d: u128) -> u128 {
    debug_assert!(d != 0);
    if d == 0 {
        return u128::MAX;
    }
    let q = U256::from(a) * U256::from(b) / U256::from(d);
    u128::try_from(q).unwrap_or(u128::MAX)
}

/// `a * b` in 256 bits.
#[inline]
pub fn wide_mul(a: u128, b: u128) -> U256 {
    U256::from(a) * U256::from(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mul_div_is_exact_past_128_bits() {
        let a = u128::MAX / 3;
        assert_eq!(mul_div_floor(a, 6, 2), a * 3);
        assert_eq!(mul_div_floor(7, 1, 2), 3);
        assert_eq!(mul_div_floor(u128::MAX, u128::MAX, u128::MAX), u128::MAX);
    }
}
