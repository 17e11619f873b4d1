//! An undo record for operations that touch many accounts (liquidate, deleverage,
//! settle_session): one ordered log of what each write replaced, undone in reverse, so a
//! failure midway leaves the state byte-identical without cloning the ledger.

use super::num::{add, overflow};
use super::{Ledger, Position, Totals};
use crate::error::{Error, Result};

#[derive(Debug)]
enum Entry {
    Collateral(usize, i128),
    Position(usize, usize, Position),
    /// A whole allocation's haircuts, indexed by account: undone by adding them back (the
    /// log runs in reverse, so each account is back at its post-haircut value then).
    Haircuts(Vec<i64>),
}

#[derive(Debug, Default)]
pub(crate) struct Undo {
    totals: Totals,
    /// Every market's own insurance fund (a handful of numbers).
    market_funds: Vec<i128>,
    log: Vec<Entry>,
}

impl Ledger {
    pub(crate) fn begin(&self) -> Undo {
        Undo {
            totals: self.totals,
            market_funds: self.markets.iter().map(|m| m.insurance_fund).collect(),
            log: Vec::new(),
        }
    }

    /// Restores everything `undo` recorded.
    pub(crate) fn rollback(&mut self, undo: Undo) {
        for entry in undo.log.into_iter().rev() {
            match entry {
                Entry::Collateral(a, c) => {
                    if let Some(slot) = self.collateral.get_mut(a) {
                        *slot = c;
                    }
                }
                Entry::Position(a, m, p) => {
                    if let Ok(slot) = self.pos_mut(a, m) {
                        *slot = p;
                    }
                }
                Entry::Haircuts(cuts) => {
                    for (c, &h) in self.collateral.iter_mut().zip(&cuts) {
                        // Exactly inverts a checked subtraction: cannot wrap.
                        *c = c.wrapping_add(i128::from(h));
                    }
                }
            }
        }
        self.totals = undo.totals;
        for (mk, fund) in self.markets.iter_mut().zip(undo.market_funds) {
            mk.insurance_fund = fund;
        }
    }

    /// `collateral[a] = value`, recording the old value.
    pub(crate) fn set_collateral(&mut self, a: usize, value: i128, undo: &mut Undo) -> Result<()> {
        let slot = self.collateral_mut(a)?;
        undo.log.push(Entry::Collateral(a, *slot));
        *slot = value;
        Ok(())
    }

    /// `collateral[a] += delta` (checked), recording the old value.
    pub(crate) fn credit(&mut self, a: usize, delta: i128, undo: &mut Undo) -> Result<()> {
        let c = add(self.collateral_at(a)?, delta, "collateral")?;
        self.set_collateral(a, c, undo)
    }

    /// Takes `cuts[a]` (minor units, indexed by account) from every account's collateral,
    /// all or nothing; returns the non-zero haircuts as `(account, amount)`, ascending.
    pub(crate) fn take_haircuts(
        &mut self,
        cuts: Vec<i64>,
        undo: &mut Undo,
    ) -> Result<Vec<(usize, i128)>> {
        if cuts.len() > self.collateral.len() {
            return Err(Error::Invariant("more haircuts than accounts".to_owned()));
        }
        // One pass: apply and list; an overflow (collateral near i128::MIN) puts back
        // what was applied before returning the error.
        let mut list = Vec::new();
        for (a, (c, &h)) in self.collateral.iter_mut().zip(&cuts).enumerate() {
            if h != 0 {
                match c.checked_sub(i128::from(h)) {
                    Some(v) => *c = v,
                    None => {
                        for &(b, taken) in &list {
                            if let Some(x) = self.collateral.get_mut(b) {
                                *x += taken;
                            }
                        }
                        return Err(overflow("collateral"));
                    }
                }
                list.push((a, i128::from(h)));
            }
        }
        undo.log.push(Entry::Haircuts(cuts));
        Ok(list)
    }

    /// `trade(a, m, delta, price)` written back, recording the old position and
    /// collateral. Returns the collateral change (settled funding plus realized PnL).
    pub(crate) fn trade_logged(
        &mut self,
        a: usize,
        m: usize,
        delta: i64,
        price: i128,
        undo: &mut Undo,
    ) -> Result<i128> {
        let mk = *self.market_ref(m)?;
        let old = self.pos(a, m)?;
        let (new, change) =
            super::position::trade(&old, mk.funding_index, mk.contract(), delta, price)?;
        let c = add(self.collateral_at(a)?, change, "collateral")?;
        *self.pos_mut(a, m)? = new;
        undo.log.push(Entry::Position(a, m, old));
        self.set_collateral(a, c, undo)?;
        Ok(change)
    }
}
