//! The market contract: what a position is worth and what it must hold (docs/ledger.md
//! "Derived values"). Every formula of a position's value lives here, once, with its
//! rounding named; the ledger, liquidation, ADL ranking and the backtest engine ask a
//! [`Contract`] and never write a PnL, notional or margin formula themselves.
//!
//! A position is `size` signed lots and `basis`, the entry value the contract defines
//! (linear: the sum of signed size x fill price, in lot-ticks). Results are [`Exact`]:
//! no formula here can overflow (products run in 256 bits when `i128` is not enough), and
//! the caller that needs a named `i128` narrows it, naming the quantity.
//!
//! Adding a kind of contract (inverse, say): a variant of [`Contract`], its arm in each
//! method below, its constructor in [`Contract::of`]; docs/architecture.md ("How to add a
//! contract kind") lists the other files.

use super::num::{div_ceil, narrow, overflow, wide, wide_div_ceil, wide_div_floor, Exact};
use super::Market;
use crate::error::Result;
use ethnum::I256;

/// Basis points in one.
const BPS: i128 = 10_000;

/// The kinds of contract a market can trade, with the parameters each formula needs.
/// Every method dispatches on it here, and only here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contract {
    /// A linear (quote-margined) perpetual: PnL = size x (price - entry) x tick_value,
    /// exact (no rounding). `tick_value`: minor units per lot per tick.
    Linear { tick_value: i64 },
}

impl Contract {
    /// The contract a market trades.
    #[inline]
    pub fn of(market: &Market) -> Contract {
        Contract::Linear {
            tick_value: market.tick_value,
        }
    }

    /// Mark-to-market PnL of `size` lots of entry value `basis` at `price` ticks, minor
    /// units: linear `(size * price - basis) * tick_value`, exact. It is also the realized
    /// PnL of closing them at `price`, so it is the one PnL formula of the project.
    #[inline]
    pub fn pnl(&self, size: i64, basis: i128, price: i128) -> Exact {
        match *self {
            Contract::Linear { tick_value } => {
                let tv = i128::from(tick_value);
                let fast = i128::from(size)
                    .checked_mul(price)
                    .and_then(|v| v.checked_sub(basis))
                    .and_then(|v| v.checked_mul(tv));
                match fast {
                    Some(v) => Exact::Fits(v),
                    // |size * price| < 2^190, the difference < 2^191, times tv < 2^254.
                    None => Exact::from_wide(
                        (wide(i128::from(size)) * wide(price) - wide(basis)) * wide(tv),
                    ),
                }
            }
        }
    }

    /// `basis` after a trade of `size` lots at `price` ticks adds its entry value
    /// (linear: `size * price` lot-ticks, exact).
    #[inline]
    pub fn add_basis(&self, basis: i128, size: i64, price: i128) -> Result<i128> {
        match *self {
            Contract::Linear { .. } => {
                super::num::mul_add(basis, i128::from(size), price, "position basis")
            }
        }
    }

    /// `|size| * price * tick_value` (minor units), exact.
    #[inline]
    pub fn notional(&self, size: i64, price: i128) -> Exact {
        match *self {
            Contract::Linear { tick_value } => {
                let lots = i128::from(size.unsigned_abs());
                let tv = i128::from(tick_value);
                match lots.checked_mul(price).and_then(|v| v.checked_mul(tv)) {
                    Some(v) => abs(v),
                    None => Exact::from_wide((wide(lots) * wide(price) * wide(tv)).abs()),
                }
            }
        }
    }

    /// `ceil(notional * bps / 10_000)` at `price`: a margin requirement or a liquidation
    /// penalty. Rounds **up**: it protects the venue.
    #[inline]
    pub fn margin(&self, size: i64, price: i128, bps: i64) -> Exact {
        let bps = i128::from(bps);
        match self.notional(size, price) {
            Exact::Fits(n) => match n.checked_mul(bps) {
                // Most products fit 64 bits, where division is several times cheaper.
                Some(p) => match i64::try_from(p) {
                    Ok(small) => Exact::Fits(i128::from(
                        small.div_euclid(10_000) + i64::from(small.rem_euclid(10_000) != 0),
                    )),
                    Err(_) => Exact::Fits(div_ceil(p, BPS).unwrap_or_default()),
                },
                None => Exact::from_wide(ceil_bps(wide(n), bps)),
            },
            Exact::Wide(n) => Exact::from_wide(ceil_bps(n, bps)),
        }
    }

    /// What the position cost at entry, `|basis| * tick_value` (minor units): the
    /// denominator of a PnL percentage.
    #[inline]
    pub fn cost(&self, basis: i128) -> Exact {
        match *self {
            Contract::Linear { tick_value } => match basis.checked_mul(i128::from(tick_value)) {
                Some(v) => abs(v),
                None => Exact::from_wide((wide(basis) * wide(i128::from(tick_value))).abs()),
            },
        }
    }

    /// `mark / entry` as an exact fraction `(num, den)` of non-negative integers, the
    /// entry price being `|basis| / |size|` (linear: `(mark * |size|, |basis|)`).
    #[inline]
    pub fn mark_over_entry(&self, size: i64, basis: i128, mark: i64) -> (u128, u128) {
        match *self {
            // mark * |size| is i64 x i64: it fits u128.
            Contract::Linear { .. } => (
                u128::from(mark.unsigned_abs()) * u128::from(size.unsigned_abs()),
                basis.unsigned_abs(),
            ),
        }
    }

    /// The price (ticks) at which closing `size` lots (non-zero) leaves an account of
    /// `equity` at exactly zero, the other marks held: linear
    /// `mark - equity / (size * tick_value)`, rounded so that closing there never leaves a
    /// deficit: **up for a long, down for a short**. May be <= 0 for a long.
    pub fn bankruptcy_price(&self, size: i64, mark: i64, equity: i128) -> Result<i128> {
        match *self {
            Contract::Linear { tick_value } => {
                let e = wide(equity);
                let d = wide(i128::from(size)) * wide(i128::from(tick_value));
                // Long: ceil(mark - E/d) = mark - floor(E/d); short: mark - ceil(E/d).
                let q = if size > 0 {
                    wide_div_floor(e, d)
                } else {
                    wide_div_ceil(e, d)
                }
                .ok_or_else(|| overflow("bankruptcy price"))?;
                narrow(wide(i128::from(mark)) - q, "bankruptcy price")
            }
        }
    }

    /// Where `rest + pnl(mark)` meets the maintenance requirement of `size` lots (ticks),
    /// ignoring the requirement's rounding: only a starting point for an exact search
    /// (`None`: no estimate; the search then starts from 1 tick).
    pub fn maintenance_crossing(
        &self,
        size: i64,
        basis: i128,
        mmr_bps: i64,
        rest: i128,
    ) -> Option<i128> {
        match *self {
            Contract::Linear { tick_value } => {
                let q = i128::from(size);
                let tv = i128::from(tick_value);
                // rest + (q x - basis) tv = |q| x tv mmr / 10_000, solved for x.
                let slope = (q * BPS - q.abs() * i128::from(mmr_bps)).checked_mul(tv)?;
                let intercept = rest
                    .checked_sub(basis.saturating_mul(tv))
                    .and_then(|v| v.checked_mul(BPS))?;
                (slope != 0).then(|| -intercept / slope)
            }
        }
    }

    /// A lower bound of how far `equity - maintenance` of `size` lots moves per tick of
    /// the mark toward safety (up for a long, down for a short), times 10_000; `None` when
    /// the contract has no such bound or it overflows (callers then search exactly).
    pub fn distance_per_tick(&self, size: i64, mmr_bps: i64) -> Option<i128> {
        match *self {
            Contract::Linear { tick_value } => {
                // Long: pnl gains lots x tv per tick, the requirement lots x tv x mmr;
                // short: the requirement only helps, so lots x tv alone bounds it.
                let rate = if size > 0 {
                    BPS - i128::from(mmr_bps)
                } else {
                    BPS
                };
                (i128::from(size.unsigned_abs()) * i128::from(tick_value))
                    .checked_mul(rate)
                    .filter(|&v| v > 0)
            }
        }
    }
}

impl Market {
    /// The contract this market trades (see [`Contract`]).
    #[inline]
    pub fn contract(&self) -> Contract {
        Contract::of(self)
    }
}

/// `|v|`, exact (`|i128::MIN|` does not fit `i128`).
#[inline]
fn abs(v: i128) -> Exact {
    v.checked_abs()
        .map_or_else(|| Exact::from_wide(wide(v).abs()), Exact::Fits)
}

/// `ceil(n * bps / 10_000)` on 256 bits (`n >= 0`, `0 <= bps <= 10_000`), without the
/// product `n * bps` (which can exceed 256 bits): `q * bps + ceil(r * bps / 10_000)`.
fn ceil_bps(n: I256, bps: i128) -> I256 {
    let d = I256::from(BPS);
    let (q, r) = (n / d, n % d);
    let b = I256::from(bps);
    q * b + wide_div_ceil(r * b, d).unwrap_or(I256::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: Contract = Contract::Linear { tick_value: 10 };

    #[test]
    fn linear_formulas() {
        // long 3 lots bought for 300 lot-ticks, at 120: (360 - 300) * 10.
        assert_eq!(C.pnl(3, 300, 120), Exact::Fits(600));
        assert_eq!(C.pnl(-3, -300, 120), Exact::Fits(-600));
        assert_eq!(C.add_basis(300, -1, 120).ok(), Some(180));
        assert_eq!(C.notional(-3, 120), Exact::Fits(3_600));
        // 3_600 * 5% = 180 exactly; 3_601 * 5% rounds up.
        assert_eq!(C.margin(-3, 120, 500), Exact::Fits(180));
        let one = Contract::Linear { tick_value: 1 };
        assert_eq!(one.margin(1, 3_601, 500), Exact::Fits(181));
        assert_eq!(C.cost(-300), Exact::Fits(3_000));
        // 10_000 * 2^120 overflows i128 but the requirement itself fits.
        let unit = Contract::Linear { tick_value: 1 };
        assert_eq!(unit.margin(1 << 60, 1 << 60, 10_000), Exact::Fits(1 << 120));
        assert_eq!(unit.margin(1, 1, 1), Exact::Fits(1));
        assert_eq!(unit.margin(0, 1, 1), Exact::Fits(0));
        assert_eq!(C.mark_over_entry(-3, -300, 120), (360, 300));
    }

    #[test]
    fn bankruptcy_price_rounds_against_the_account() {
        // long 2 lots, equity 15, tick_value 10: 100 - 15/20 = 99.25 -> up to 100.
        assert_eq!(C.bankruptcy_price(2, 100, 15).ok(), Some(100));
        // short: 100 + 15/20 = 100.75 -> down to 100.
        assert_eq!(C.bankruptcy_price(-2, 100, 15).ok(), Some(100));
        assert_eq!(C.bankruptcy_price(2, 100, -15).ok(), Some(101));
        assert_eq!(C.bankruptcy_price(-2, 100, -15).ok(), Some(99));
    }

    #[test]
    fn nothing_overflows_only_narrowing_can() {
        let big = Contract::Linear {
            tick_value: i64::MAX,
        };
        let v = big.pnl(i64::MAX, i128::MIN, i128::MAX);
        assert!(matches!(v, Exact::Wide(_)));
        assert!(v.narrow("x").is_err());
        let expected = (wide(i128::from(i64::MAX)) * wide(i128::MAX) - wide(i128::MIN))
            * wide(i128::from(i64::MAX));
        assert_eq!(v.wide(), expected);
        let m = big.margin(i64::MIN, i128::MAX, 10_000);
        assert_eq!(m.wide(), big.notional(i64::MIN, i128::MAX).wide());
        assert!(big.cost(i128::MIN).wide() > I256::ZERO);
    }
}
