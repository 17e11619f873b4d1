//! A position and the one rule that changes it (`trade`, docs/ledger.md "Changing a
//! position"), shared by fill, liquidate and deleverage.

use super::contract::Contract;
use super::num::{narrow, overflow, overflow64, wide, Exact};
use super::Market;
use crate::error::Result;
use ethnum::I256;

/// One account's position in one market.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// Signed lots, long > 0.
    pub size: i64,
    /// Sum of signed size x fill price, in lot-ticks (not an average price, so PnL is exact).
    pub basis: i128,
    /// The market's funding index when this position's funding was last settled.
    pub funding_snapshot: i128,
}

impl Position {
    /// A flat position whose funding is settled up to `funding_index`.
    pub fn flat(funding_index: i128) -> Position {
        Position {
            size: 0,
            basis: 0,
            funding_snapshot: funding_index,
        }
    }

    /// `-size * (funding_index - funding_snapshot)` in minor units (index up: longs pay),
    /// exact.
    #[inline]
    pub fn unpaid_funding_exact(&self, funding_index: i128) -> Exact {
        if self.size == 0 {
            return Exact::Fits(0);
        }
        let size = i128::from(self.size);
        match self
            .funding_snapshot
            .checked_sub(funding_index)
            .and_then(|d| d.checked_mul(size))
        {
            Some(v) => Exact::Fits(v),
            None => {
                Exact::from_wide((wide(self.funding_snapshot) - wide(funding_index)) * wide(size))
            }
        }
    }

    /// `-size * (funding_index - funding_snapshot)` in minor units (it must fit `i128`).
    #[inline]
    pub fn unpaid_funding(&self, funding_index: i128) -> Result<i128> {
        self.unpaid_funding_exact(funding_index)
            .narrow("unpaid funding")
    }

    /// Unrealized PnL at the market's mark (the contract's PnL), exact.
    #[inline]
    pub fn upnl_exact(&self, market: &Market) -> Exact {
        if self.size == 0 && self.basis == 0 {
            return Exact::Fits(0);
        }
        market
            .contract()
            .pnl(self.size, self.basis, i128::from(market.mark))
    }

    /// Unrealized PnL at the market's mark, minor units (it must fit `i128`).
    #[inline]
    pub fn upnl(&self, market: &Market) -> Result<i128> {
        self.upnl_exact(market).narrow("unrealized PnL")
    }
}

/// The effect of `trade(a, m, delta, price)` on one position: the new position and the
/// change of the account's collateral (settled funding plus realized PnL, minor units).
/// Pure: the caller writes both back, so a failure changes nothing.
#[inline]
pub(crate) fn trade(
    pos: &Position,
    funding_index: i128,
    contract: Contract,
    delta: i64,
    price: i128,
) -> Result<(Position, i128)> {
    // 1. Settle funding.
    let funding = pos.unpaid_funding(funding_index)?;
    let mut p = Position {
        funding_snapshot: funding_index,
        ..*pos
    };
    let realized = if delta == 0 {
        0
    } else if p.size == 0 || (delta > 0) == (p.size > 0) {
        // 2. Open or add.
        open(&mut p, contract, delta, price)?;
        0
    } else if delta.unsigned_abs() <= p.size.unsigned_abs() {
        // 3. Reduce or close.
        reduce(&mut p, contract, delta, price)?
    } else {
        // 4. Cross zero: close whole, open the rest at the same price.
        let close = p
            .size
            .checked_neg()
            .ok_or_else(|| overflow64("position size"))?;
        let r = reduce(&mut p, contract, close, price)?;
        // Opposite signs: delta - close = delta + size cannot overflow.
        let rest = delta
            .checked_sub(close)
            .ok_or_else(|| overflow64("position size"))?;
        open(&mut p, contract, rest, price)?;
        r
    };
    let change = funding
        .checked_add(realized)
        .ok_or_else(|| overflow("realized PnL"))?;
    Ok((p, change))
}

fn open(p: &mut Position, contract: Contract, delta: i64, price: i128) -> Result<()> {
    p.size = p
        .size
        .checked_add(delta)
        .ok_or_else(|| overflow64("position size"))?;
    p.basis = contract.add_basis(p.basis, delta, price)?;
    Ok(())
}

/// Reduces `p` by `delta` (opposite sign, `|delta| <= |size|`); returns the realized PnL:
/// the contract's PnL of the closed lots (`-delta`, entry value `removed`) at `price`.
fn reduce(p: &mut Position, contract: Contract, delta: i64, price: i128) -> Result<i128> {
    let d = i128::from(delta.unsigned_abs());
    let s = i128::from(p.size.unsigned_abs());
    // trunc(basis * |delta| / |size|): Rust's `/` truncates toward zero, as ethnum's does.
    let removed = match p.basis.checked_mul(d) {
        Some(x) => x / s,
        None => narrow(wide(p.basis) * wide(d) / I256::from(s), "removed basis")?,
    };
    // |delta| <= |size| with the opposite sign: -delta fits i64.
    let closed = delta
        .checked_neg()
        .ok_or_else(|| overflow64("position size"))?;
    let realized = contract
        .pnl(closed, removed, price)
        .narrow("realized PnL")?;
    // Same sign and |removed| <= |basis|, |delta| <= |size|: neither can overflow.
    p.basis = p
        .basis
        .checked_sub(removed)
        .ok_or_else(|| overflow("position basis"))?;
    p.size = p
        .size
        .checked_add(delta)
        .ok_or_else(|| overflow64("position size"))?;
    Ok(realized)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(size: i64, basis: i128, delta: i64, price: i128) -> (i64, i128, i128) {
        let pos = Position {
            size,
            basis,
            funding_snapshot: 0,
        };
        match trade(&pos, 0, Contract::Linear { tick_value: 1 }, delta, price) {
            Ok((p, r)) => (p.size, p.basis, r),
            Err(e) => unreachable!("{e}"),
        }
    }

    #[test]
    fn open_add_reduce_close_cross() {
        assert_eq!(t(0, 0, 3, 100), (3, 300, 0));
        assert_eq!(t(3, 300, 2, 110), (5, 520, 0));
        // reduce 2 of 5 at 120: removed = trunc(520*2/5) = 208; realized = 240 - 208.
        assert_eq!(t(5, 520, -2, 120), (3, 312, 32));
        // close
        assert_eq!(t(3, 312, -3, 100), (0, 0, -12));
        // cross: long 3 basis 312 sells 5 at 100 -> closes (realized -12), opens -2.
        assert_eq!(t(3, 312, -5, 100), (-2, -200, -12));
        // short reduce truncates toward zero: basis -7 size -2, buy 1 at 3:
        // removed = trunc(-7/2) = -3; realized = (-3 - (-3)) = 0.
        assert_eq!(t(-2, -7, 1, 3), (-1, -4, 0));
    }

    #[test]
    fn funding_is_settled_first() {
        let pos = Position {
            size: 4,
            basis: 400,
            funding_snapshot: 10,
        };
        let one = Contract::Linear { tick_value: 1 };
        let (p, change) = trade(&pos, 15, one, 1, 100).unwrap_or_default();
        assert_eq!(change, -20);
        assert_eq!(p.funding_snapshot, 15);
    }
}
