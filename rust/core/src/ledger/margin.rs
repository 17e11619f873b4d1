//! Derived values (docs/ledger.md "Derived values"): equity, requirements, session
//! profit, bankruptcy price. All exact; requirements round up.

use super::num::{narrow, overflow, sub, wide, wide_div_ceil, wide_div_floor};
use super::{Ledger, Market, Position};
use crate::error::{Error, Result};
use ethnum::I256;

/// Which margin rate a requirement uses.
#[derive(Clone, Copy)]
pub(crate) enum Rate {
    Initial,
    Maintenance,
}

/// `|size| * mark * tick_value` (minor units).
pub(crate) fn notional(p: &Position, mk: &Market) -> Result<i128> {
    let lots_ticks = i128::from(p.size.unsigned_abs()) * i128::from(mk.mark);
    lots_ticks
        .checked_mul(i128::from(mk.tick_value))
        .ok_or_else(|| overflow("notional"))
}

/// `ceil(notional * bps / 10_000)` for one position.
pub(crate) fn requirement(p: &Position, mk: &Market, rate: Rate) -> Result<i128> {
    if p.size == 0 {
        return Ok(0);
    }
    let bps = match rate {
        Rate::Initial => mk.imr_bps,
        Rate::Maintenance => mk.mmr_bps,
    };
    // The notional is a named result: it must fit i128 itself.
    super::num::bps_ceil(
        notional(p, mk)?,
        1,
        1,
        bps,
        match rate {
            Rate::Initial => "initial margin",
            Rate::Maintenance => "maintenance margin",
        },
    )
}

/// The maintenance requirement of one position at the market's mark (minor units).
pub fn maintenance_of(p: &Position, mk: &Market) -> Result<i128> {
    requirement(p, mk, Rate::Maintenance)
}

/// `upnl + unpaid_funding` of one position.
#[inline]
pub(crate) fn value(p: &Position, mk: &Market) -> Result<I256> {
    if p.size == 0 && p.basis == 0 {
        return Ok(I256::ZERO);
    }
    Ok(wide(p.upnl(mk.mark, mk.tick_value)?) + wide(p.unpaid_funding(mk.funding_index)?))
}

impl Ledger {
    /// `collateral + sum over markets of (upnl + unpaid_funding)`, minor units. O(markets).
    pub fn equity(&self, a: usize) -> Result<i128> {
        // Fast path in i128; an overflowing partial sum (not necessarily the result) takes
        // the exact 256-bit path.
        let mut total = self.collateral_at(a)?;
        for (mk, column) in self.markets.iter().zip(&self.positions) {
            if let Some(p) = column.get(a) {
                if p.size == 0 && p.basis == 0 {
                    continue;
                }
                let v = p.upnl(mk.mark, mk.tick_value)?;
                let f = p.unpaid_funding(mk.funding_index)?;
                match total.checked_add(v).and_then(|t| t.checked_add(f)) {
                    Some(t) => total = t,
                    None => return self.equity_wide(a),
                }
            }
        }
        Ok(total)
    }

    fn equity_wide(&self, a: usize) -> Result<i128> {
        let mut total = wide(self.collateral_at(a)?);
        for (mk, column) in self.markets.iter().zip(&self.positions) {
            if let Some(p) = column.get(a) {
                total += value(p, mk)?;
            }
        }
        narrow(total, "equity")
    }

    fn requirement_sum(&self, a: usize, rate: Rate) -> Result<i128> {
        self.check_account(a)?;
        let mut total = I256::ZERO;
        for (mk, column) in self.markets.iter().zip(&self.positions) {
            if let Some(p) = column.get(a) {
                total += wide(requirement(p, mk, rate)?);
            }
        }
        narrow(
            total,
            match rate {
                Rate::Initial => "initial margin",
                Rate::Maintenance => "maintenance margin",
            },
        )
    }

    /// Maintenance requirement: sum of `ceil(notional * mmr_bps / 10_000)`, minor units.
    pub fn maintenance(&self, a: usize) -> Result<i128> {
        self.requirement_sum(a, Rate::Maintenance)
    }

    /// Initial requirement: sum of `ceil(notional * imr_bps / 10_000)`, minor units.
    pub fn initial(&self, a: usize) -> Result<i128> {
        self.requirement_sum(a, Rate::Initial)
    }

    /// `(size * mark - basis) * tick_value`, minor units.
    pub fn upnl(&self, a: usize, m: usize) -> Result<i128> {
        let mk = self.market_ref(m)?;
        self.check_account(a)?;
        self.pos(a, m)?.upnl(mk.mark, mk.tick_value)
    }

    /// `-size * (funding_index - funding_snapshot)`, minor units.
    pub fn unpaid_funding(&self, a: usize, m: usize) -> Result<i128> {
        let mk = self.market_ref(m)?;
        self.check_account(a)?;
        self.pos(a, m)?.unpaid_funding(mk.funding_index)
    }

    /// `|size| * mark * tick_value`, minor units.
    pub fn notional(&self, a: usize, m: usize) -> Result<i128> {
        let mk = self.market_ref(m)?;
        self.check_account(a)?;
        notional(&self.pos(a, m)?, mk)
    }

    /// `equity - session_start_equity - session_deposits`, minor units.
    pub fn session_profit(&self, a: usize) -> Result<i128> {
        let e = self.equity(a)?;
        sub(
            sub(e, self.session_start_at(a)?, "session profit")?,
            self.session_deposit_at(a)?,
            "session profit",
        )
    }

    /// Some position is non-zero and `equity < maintenance`.
    pub fn is_liquidatable(&self, a: usize) -> Result<bool> {
        self.check_account(a)?;
        let open = self
            .positions
            .iter()
            .any(|column| column.get(a).is_some_and(|p| p.size != 0));
        Ok(open && self.equity(a)? < self.maintenance(a)?)
    }

    /// Every liquidatable account, ascending. O(accounts x markets).
    pub fn liquidatable(&self) -> Result<Vec<usize>> {
        let mut out = Vec::new();
        for a in 0..self.num_accounts() {
            if self.is_liquidatable(a)? {
                out.push(a);
            }
        }
        Ok(out)
    }

    /// Every account's equity (minor units), indexed by account.
    pub fn equities(&self) -> Result<Vec<i128>> {
        (0..self.num_accounts()).map(|a| self.equity(a)).collect()
    }

    /// The price (ticks) at which closing this position leaves equity at exactly 0, other
    /// marks held: `mark - equity / (size * tick_value)`, ceil for a long, floor for a
    /// short (closing there never leaves a deficit). May be <= 0 for a long.
    pub fn bankruptcy_price(&self, a: usize, m: usize) -> Result<i128> {
        self.check_account(a)?;
        let mk = *self.market_ref(m)?;
        let p = self.pos(a, m)?;
        if p.size == 0 {
            return Err(Error::InvalidArgument(format!(
                "account {a} has no position in market {m}: no bankruptcy price"
            )));
        }
        let equity = wide(self.equity(a)?);
        let d = wide(i128::from(p.size)) * wide(i128::from(mk.tick_value));
        // Long: ceil(mark - E/d) = mark - floor(E/d); short: floor(...) = mark - ceil(E/d).
        let q = if p.size > 0 {
            wide_div_floor(equity, d)
        } else {
            wide_div_ceil(equity, d)
        }
        .ok_or_else(|| overflow("bankruptcy price"))?;
        narrow(wide(i128::from(mk.mark)) - q, "bankruptcy price")
    }
}
