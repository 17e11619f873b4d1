//! A perpetual market's parameters and its funding index.

use super::num::overflow;
use crate::error::{Error, Result};

/// Basis points in one: rates are `bps / 10_000`.
pub const BPS: i64 = 10_000;

/// One perpetual market. Fields are read-only outside the ledger (it hands out `&Market`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Market {
    /// Minor units per lot per tick (`> 0`).
    pub tick_value: i64,
    /// Mark price in ticks (`> 0`).
    pub mark: i64,
    /// Initial margin rate in basis points.
    pub imr_bps: i64,
    /// Maintenance margin rate in basis points (`0 < mmr <= imr <= 10_000`).
    pub mmr_bps: i64,
    /// Liquidation penalty rate in basis points (`0..=10_000`).
    pub penalty_bps: i64,
    /// Cumulative funding, minor units per lot; rising means longs pay shorts.
    pub funding_index: i128,
    /// This market's own insurance fund (minor units), used by a per-market
    /// `InsuranceFund` stage; the shared fund is `Ledger::insurance_fund`.
    pub insurance_fund: i128,
}

impl Market {
    /// Validates the parameters in the contract's order and returns a fresh market.
    pub fn new(
        tick_value: i64,
        mark: i64,
        imr_bps: i64,
        mmr_bps: i64,
        penalty_bps: i64,
    ) -> Result<Market> {
        let m = Market {
            tick_value,
            mark,
            imr_bps,
            mmr_bps,
            penalty_bps,
            funding_index: 0,
            insurance_fund: 0,
        };
        m.validate()?;
        Ok(m)
    }

    /// The checks of `create_market` (also run on every market of a restored snapshot).
    pub(crate) fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::InvalidArgument(msg));
        if self.tick_value <= 0 {
            return bad(format!("tick_value must be > 0, got {}", self.tick_value));
        }
        if self.mark <= 0 {
            return bad(format!("mark must be > 0 ticks, got {}", self.mark));
        }
        if !(0 < self.mmr_bps && self.mmr_bps <= self.imr_bps && self.imr_bps <= BPS) {
            return bad(format!(
                "margin rates must satisfy 0 < mmr_bps <= imr_bps <= 10000, got mmr_bps={} imr_bps={}",
                self.mmr_bps, self.imr_bps
            ));
        }
        if !(0..=BPS).contains(&self.penalty_bps) {
            return bad(format!(
                "penalty_bps must be between 0 and 10000, got {}",
                self.penalty_bps
            ));
        }
        Ok(())
    }

    /// The funding index after `delta` more minor units per lot.
    pub(crate) fn funded(&self, delta: i64) -> Result<i128> {
        self.funding_index
            .checked_add(i128::from(delta))
            .ok_or_else(|| overflow("funding index"))
    }
}
