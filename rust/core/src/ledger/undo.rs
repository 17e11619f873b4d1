//! The ledger's one atomicity mechanism: an undo journal.
//!
//! Every mutating operation runs in [`Ledger::transact`]. The operation validates, then
//! makes each write through a setter here, which first records what the write replaces;
//! the totals (a handful of numbers) are copied at the start instead. If the operation
//! fails at any point, the log is undone in reverse and the totals put back: the state is
//! byte-identical. If it succeeds, its event is appended to the journal, whose slot was
//! reserved before anything changed, so recording cannot fail. A [`Savepoint`] lets a
//! liquidation try the direct path and fall back to deleveraging inside one transaction.
//!
//! Tests inject a fault at the n-th logged write ([`Ledger::inject_fault`]) to check that
//! a failure at every step of every operation leaves the state as it was.

use super::num::{add, overflow};
use super::{Ledger, Market, Position, Totals, Waterfall};
use crate::capacity;
use crate::error::{Error, Result};

/// What one write replaced.
#[derive(Debug, Clone)]
pub(crate) enum Entry {
    Collateral(usize, i128),
    SessionDeposit(usize, i128),
    Position(usize, usize, Position),
    /// A batch's first write of an account in a market: its position and collateral.
    Account(usize, usize, Position, i128),
    /// A whole allocation's haircuts, indexed by account: undone by adding them back (the
    /// log runs in reverse, so each account is back at its post-haircut value then).
    Haircuts(Vec<i64>),
    /// The session columns (start equity, deposits) before a settlement replaced them.
    Sessions(Vec<i128>, Vec<i128>),
    Market(usize, Market),
    /// A market appended (with its column of positions).
    MarketAdded,
    /// Accounts appended: how many there were before.
    AccountsAdded(usize),
    Waterfall(Box<Waterfall>),
}

/// The running transaction: its log, the totals at its start, and a pending fault.
#[derive(Debug)]
pub(crate) struct Undo {
    log: Vec<Entry>,
    totals: Totals,
    /// Fail the write after this many more logged writes (tests).
    fault: Option<usize>,
}

/// A point to roll back to within a transaction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Savepoint {
    len: usize,
    totals: Totals,
}

impl Undo {
    /// Counts one logged write; fails it if a fault is due.
    fn step(&mut self) -> Result<()> {
        match self.fault.as_mut() {
            Some(0) => {
                self.fault = None;
                Err(Error::Invariant("fault injected by a test".to_owned()))
            }
            Some(n) => {
                *n -= 1;
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn push(&mut self, entry: Entry) -> Result<()> {
        self.step()?;
        self.log.push(entry);
        Ok(())
    }

    /// Logs an account's position in market `m` and its collateral before a batch first
    /// writes them (the batch writes them directly afterwards, as often as it needs).
    pub(crate) fn save_account(&mut self, a: usize, m: usize, p: Position, c: i128) -> Result<()> {
        self.push(Entry::Account(a, m, p, c))
    }
}

impl Ledger {
    /// Runs `op` all or nothing (see the module documentation). `events`: the journal
    /// slots the caller will fill when `op` succeeds, reserved first.
    pub(crate) fn transact<T>(
        &mut self,
        events: usize,
        op: impl FnOnce(&mut Ledger, &mut Undo) -> Result<T>,
    ) -> Result<T> {
        capacity::reserve(&mut self.journal, events, "events")?;
        let mut undo = Undo {
            log: std::mem::take(&mut self.scratch.undo_log),
            totals: self.totals,
            fault: self.scratch.fault.take(),
        };
        let start = Savepoint {
            len: 0,
            totals: undo.totals,
        };
        let result = op(self, &mut undo);
        if result.is_err() {
            self.rollback_to(&mut undo, start);
        }
        undo.log.clear();
        self.scratch.undo_log = undo.log;
        result
    }

    /// One operation that records one event.
    pub(crate) fn operate(
        &mut self,
        op: impl FnOnce(&mut Ledger, &mut Undo) -> Result<super::Event>,
    ) -> Result<&super::Event> {
        let event = self.transact(1, op)?;
        Ok(self.record(event))
    }

    /// Makes the next transaction fail at its `after`-th logged write (0: the first).
    #[doc(hidden)]
    pub fn inject_fault(&mut self, after: usize) {
        self.scratch.fault = Some(after);
    }

    pub(crate) fn savepoint(&self, undo: &Undo) -> Savepoint {
        Savepoint {
            len: undo.log.len(),
            totals: self.totals,
        }
    }

    /// Undoes every write logged after `point`, in reverse.
    pub(crate) fn rollback_to(&mut self, undo: &mut Undo, point: Savepoint) {
        while undo.log.len() > point.len {
            let Some(entry) = undo.log.pop() else { break };
            self.undo_entry(entry);
        }
        self.totals = point.totals;
    }

    fn undo_entry(&mut self, entry: Entry) {
        match entry {
            Entry::Collateral(a, c) => {
                if let Some(slot) = self.collateral.get_mut(a) {
                    *slot = c;
                }
            }
            Entry::SessionDeposit(a, d) => {
                if let Some(slot) = self.session_deposits.get_mut(a) {
                    *slot = d;
                }
            }
            Entry::Position(a, m, p) => {
                if let Ok(slot) = self.pos_mut(a, m) {
                    *slot = p;
                }
            }
            Entry::Account(a, m, p, c) => {
                if let Ok(slot) = self.pos_mut(a, m) {
                    *slot = p;
                }
                if let Some(slot) = self.collateral.get_mut(a) {
                    *slot = c;
                }
            }
            Entry::Haircuts(cuts) => {
                for (c, &h) in self.collateral.iter_mut().zip(&cuts) {
                    // Exactly inverts a checked subtraction: cannot wrap.
                    *c = c.wrapping_add(i128::from(h));
                }
            }
            Entry::Sessions(start, deposits) => {
                self.session_start_equity = start;
                self.session_deposits = deposits;
            }
            Entry::Market(m, market) => {
                if let Some(slot) = self.markets.get_mut(m) {
                    *slot = market;
                }
            }
            Entry::MarketAdded => {
                self.markets.pop();
                self.positions.pop();
            }
            Entry::AccountsAdded(n) => {
                self.collateral.truncate(n);
                self.session_start_equity.truncate(n);
                self.session_deposits.truncate(n);
                for column in &mut self.positions {
                    column.truncate(n);
                }
            }
            Entry::Waterfall(w) => self.waterfall = *w,
        }
    }

    // ---- the logged writes ------------------------------------------------------------

    /// `collateral[a] = value`.
    pub(crate) fn set_collateral(&mut self, a: usize, value: i128, undo: &mut Undo) -> Result<()> {
        let old = self.collateral_at(a)?;
        undo.push(Entry::Collateral(a, old))?;
        *self.collateral_mut(a)? = value;
        Ok(())
    }

    /// `collateral[a] += delta` (checked).
    pub(crate) fn credit(&mut self, a: usize, delta: i128, undo: &mut Undo) -> Result<()> {
        let c = add(self.collateral_at(a)?, delta, "collateral")?;
        self.set_collateral(a, c, undo)
    }

    /// `session_deposits[a] = value`.
    pub(crate) fn set_session_deposit(
        &mut self,
        a: usize,
        value: i128,
        undo: &mut Undo,
    ) -> Result<()> {
        let old = self.session_deposit_at(a)?;
        undo.push(Entry::SessionDeposit(a, old))?;
        if let Some(slot) = self.session_deposits.get_mut(a) {
            *slot = value;
        }
        Ok(())
    }

    /// `positions[m][a] = p`.
    pub(crate) fn set_position(
        &mut self,
        a: usize,
        m: usize,
        p: Position,
        undo: &mut Undo,
    ) -> Result<()> {
        let old = self.pos(a, m)?;
        undo.push(Entry::Position(a, m, old))?;
        *self.pos_mut(a, m)? = p;
        Ok(())
    }

    /// Market `m`, to be written (its old value logged).
    pub(crate) fn market_mut(&mut self, m: usize, undo: &mut Undo) -> Result<&mut Market> {
        let old = *self.market_ref(m)?;
        undo.push(Entry::Market(m, old))?;
        self.markets.get_mut(m).ok_or(Error::UnknownMarket(m))
    }

    /// Replaces the waterfall.
    pub(crate) fn replace_waterfall(&mut self, w: Waterfall, undo: &mut Undo) -> Result<()> {
        undo.push(Entry::Waterfall(Box::new(self.waterfall.clone())))?;
        self.waterfall = w;
        Ok(())
    }

    /// Appends a market and its column of positions (reserved by the caller).
    pub(crate) fn add_market(
        &mut self,
        market: Market,
        column: Vec<Position>,
        undo: &mut Undo,
    ) -> Result<()> {
        undo.push(Entry::MarketAdded)?;
        self.positions.push(column);
        self.markets.push(market);
        Ok(())
    }

    /// Appends `n` empty accounts (reserved by the caller).
    pub(crate) fn add_accounts(&mut self, n: usize, undo: &mut Undo) -> Result<()> {
        let before = self.collateral.len();
        undo.push(Entry::AccountsAdded(before))?;
        let total = before + n;
        self.collateral.resize(total, 0);
        self.session_start_equity.resize(total, 0);
        self.session_deposits.resize(total, 0);
        for (mk, column) in self.markets.iter().zip(&mut self.positions) {
            column.resize(total, Position::flat(mk.funding_index));
        }
        Ok(())
    }

    /// Starts a new session for every account: `session_start_equity = equities`,
    /// `session_deposits = 0` (the old columns are kept in the log, not copied).
    pub(crate) fn restart_sessions(&mut self, equities: Vec<i128>, undo: &mut Undo) -> Result<()> {
        let zeros = capacity::filled(equities.len(), 0, "accounts")?;
        undo.step()?;
        let start = std::mem::replace(&mut self.session_start_equity, equities);
        let deposits = std::mem::replace(&mut self.session_deposits, zeros);
        undo.log.push(Entry::Sessions(start, deposits));
        Ok(())
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
        undo.step()?;
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

    /// `trade(a, m, delta, price)` written back (position and collateral). Returns the
    /// collateral change (settled funding plus realized PnL).
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
        self.set_position(a, m, new, undo)?;
        self.set_collateral(a, c, undo)?;
        Ok(change)
    }
}
