//! The ledger (docs/ledger.md): a transactional book of one settlement asset and many
//! perpetual markets, with the loss waterfall that covers a bankrupt account's deficit.
//!
//! Money is `i128` minor units; prices are `i64` ticks, sizes `i64` lots. Every operation
//! validates first, applies whole or returns `Err` with the state unchanged, and appends
//! one [`Event`] to the journal.
//!
//! Layout: accounts are columns (`collateral[a]` ...) and positions are one column per
//! market (`positions[m][a]`), so `create_market` is O(accounts) without re-layout, a
//! market's sizes are contiguous, and the socialization passes stream through memory.
//! Access by `(account, market)` is O(1); `equity` is O(markets).
//!
//! # Readings of the contract
//!
//! The code follows docs/ledger.md including its "Resolved points" (new flat positions
//! owe no past funding; event sizes signed as held; `stages` empty without a deficit,
//! else every stage then `bad_debt`, adding up to `deficit`; the ADL path's `deficit`
//! at the marks; surplus of `rounding="up"` to the insurance fund; deleveraging at
//! `max(1, bankruptcy price)`; `prices` sorted by market; kernel inputs must fit
//! `i64`). Beyond them:
//!
//! - Overflow: every named quantity (upnl, unpaid funding, notional, equity,
//!   requirements, removed basis, realized PnL, penalty, bankruptcy price, session
//!   profit, every state field) must fit `i128` (sizes `i64`); products inside one
//!   formula are exact (256-bit), so only results can overflow.
//! - ADL trigger: the direct liquidation (closes, penalty, stages before `adl`) is run;
//!   if the `adl` stage is reached with deficit left, it is undone and the ADL path runs.
//! - The event's `penalty` is the computed penalty; what was charged is
//!   `min(penalty, max(0, equity after the closes))`.
//! - Configuration errors beyond the contract's list: `weights` exactly with base
//!   `"weights"` (non-negative), `scores` exactly with ranking `"scores"`, and every
//!   combination the kernel refuses (rounding other than exact with max_rate, a capped
//!   base or a rule other than pro_rata; equal_award with max_rate or a capped base).
//! - `liquidate` refuses a market given twice in `prices` (a dict cannot do that).
//! - `Ledger::replay` also requires each re-executed event to equal the recorded one.

mod adl;
mod contract;
mod event;
mod liquidate;
mod margin;
mod market;
pub mod num;
mod position;
mod session;
mod snapshot;
mod undo;
mod waterfall;

pub use adl::AdlQueues;
pub use contract::Contract;
pub use event::{AdlFill, AdlPrice, Close, Event, FillArgs, Value};
pub use margin::maintenance_of;
pub use market::{Market, BPS};
pub use num::Exact;
pub use position::Position;
pub use snapshot::checksum;
pub use waterfall::{
    rounding_name, rule_name, Base, Ranking, Stage, StageKind, StagePrice, Timing, Waterfall,
};

use crate::capacity;
use crate::error::{Error, Result};
use num::{add, sub};
use position::trade;

/// The ledger-wide totals, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Totals {
    pub insurance_fund: i128,
    pub fee_pool: i128,
    /// Residual bad debt: deficits no stage paid.
    pub bad_debt: i128,
    /// Deficits awaiting session settlement (deferred timing).
    pub deferred_loss: i128,
    /// External money in (deposits and insurance funding).
    pub deposits: i128,
    /// External money out.
    pub withdrawals: i128,
}

/// Scratch space reused across operations; not part of the state.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scratch {
    /// Per account: the generation in which `fill_many` last saved it.
    pub seen: Vec<u32>,
    pub generation: u32,
    /// Keep only the last event (a backtest's ledger, whose journal nobody reads).
    pub forget_journal: bool,
}

impl PartialEq for Scratch {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for Scratch {}

/// The ledger. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ledger {
    pub(crate) markets: Vec<Market>,
    pub(crate) collateral: Vec<i128>,
    pub(crate) session_start_equity: Vec<i128>,
    pub(crate) session_deposits: Vec<i128>,
    /// `positions[market][account]`.
    pub(crate) positions: Vec<Vec<Position>>,
    pub(crate) totals: Totals,
    pub(crate) waterfall: Waterfall,
    pub(crate) journal: Vec<Event>,
    pub(crate) scratch: Scratch,
}

impl Ledger {
    /// An empty ledger with the default waterfall `[insurance_fund(), socialize()]`.
    pub fn new() -> Ledger {
        Ledger::default()
    }

    // ---- ids -------------------------------------------------------------------------

    pub(crate) fn check_account(&self, a: usize) -> Result<()> {
        if a < self.collateral.len() {
            Ok(())
        } else {
            Err(Error::UnknownAccount(a))
        }
    }

    pub(crate) fn market_ref(&self, m: usize) -> Result<&Market> {
        self.markets.get(m).ok_or(Error::UnknownMarket(m))
    }

    /// The position of `a` in `m` (both must exist).
    pub(crate) fn pos(&self, a: usize, m: usize) -> Result<Position> {
        self.positions
            .get(m)
            .ok_or(Error::UnknownMarket(m))?
            .get(a)
            .copied()
            .ok_or(Error::UnknownAccount(a))
    }

    pub(crate) fn pos_mut(&mut self, a: usize, m: usize) -> Result<&mut Position> {
        self.positions
            .get_mut(m)
            .ok_or(Error::UnknownMarket(m))?
            .get_mut(a)
            .ok_or(Error::UnknownAccount(a))
    }

    pub(crate) fn collateral_mut(&mut self, a: usize) -> Result<&mut i128> {
        self.collateral.get_mut(a).ok_or(Error::UnknownAccount(a))
    }

    pub(crate) fn record(&mut self, event: Event) -> &Event {
        if self.scratch.forget_journal {
            self.journal.clear();
        }
        self.journal.push(event);
        // Just pushed: `last` is Some; the fallback only satisfies the no-panic rule.
        self.journal.last().unwrap_or(&NO_EVENT)
    }

    // ---- operations ------------------------------------------------------------------

    /// Creates a market; its id is in the event (`market`). Rates in basis points.
    pub fn create_market(
        &mut self,
        tick_value: i64,
        mark: i64,
        imr_bps: i64,
        mmr_bps: i64,
        penalty_bps: i64,
    ) -> Result<&Event> {
        let market = Market::new(tick_value, mark, imr_bps, mmr_bps, penalty_bps)?;
        let id = self.markets.len();
        let column = capacity::filled(
            self.collateral.len(),
            Position::flat(market.funding_index),
            "positions",
        )?;
        capacity::reserve(&mut self.positions, 1, "markets")?;
        capacity::reserve(&mut self.markets, 1, "markets")?;
        capacity::reserve(&mut self.journal, 1, "events")?;
        self.positions.push(column);
        self.markets.push(market);
        Ok(self.record(Event::CreateMarket {
            tick_value,
            mark,
            imr_bps,
            mmr_bps,
            penalty_bps,
            market: id,
        }))
    }

    /// Creates an account with no collateral and a flat position in every market (whose
    /// funding snapshot is the market's index: it owes nothing for the past).
    pub fn create_account(&mut self) -> Result<&Event> {
        let id = self.collateral.len();
        self.reserve_accounts(1)?;
        capacity::reserve(&mut self.journal, 1, "events")?;
        self.collateral.push(0);
        self.session_start_equity.push(0);
        self.session_deposits.push(0);
        for (mk, column) in self.markets.iter().zip(&mut self.positions) {
            column.push(Position::flat(mk.funding_index));
        }
        Ok(self.record(Event::CreateAccount { account: id }))
    }

    /// Creates `n` accounts at once (one `create_account` event each); returns the first id.
    /// A count beyond the address space is an `InvalidArgument`, one whose memory cannot
    /// be reserved an `OutOfMemory`; either way nothing changes.
    pub fn create_accounts(&mut self, n: usize) -> Result<usize> {
        let first = self.collateral.len();
        let total = first
            .checked_add(n)
            .ok_or_else(|| Error::InvalidArgument(format!("{n} more accounts are too many")))?;
        self.reserve_accounts(n)?;
        let journal = !self.scratch.forget_journal;
        if journal {
            if let Err(e) = capacity::reserve(&mut self.journal, n, "events") {
                self.release_accounts();
                return Err(e);
            }
        }
        self.collateral.resize(total, 0);
        self.session_start_equity.resize(total, 0);
        self.session_deposits.resize(total, 0);
        for (mk, column) in self.markets.iter().zip(&mut self.positions) {
            column.resize(total, Position::flat(mk.funding_index));
        }
        if journal {
            self.journal
                .extend((first..total).map(|account| Event::CreateAccount { account }));
        }
        Ok(first)
    }

    /// Reserves every per-account column for `n` more accounts, all or nothing: the
    /// whole size is checked against the address space first, and a reservation that
    /// fails gives the others back.
    fn reserve_accounts(&mut self, n: usize) -> Result<()> {
        let per_account = 3 * std::mem::size_of::<i128>()
            + self.markets.len() * std::mem::size_of::<Position>()
            + std::mem::size_of::<Event>();
        capacity::bytes(n, per_account, "accounts")?;
        let reserved = capacity::reserve(&mut self.collateral, n, "accounts")
            .and_then(|()| capacity::reserve(&mut self.session_start_equity, n, "accounts"))
            .and_then(|()| capacity::reserve(&mut self.session_deposits, n, "accounts"))
            .and_then(|()| {
                self.positions
                    .iter_mut()
                    .try_for_each(|column| capacity::reserve(column, n, "accounts"))
            });
        if reserved.is_err() {
            self.release_accounts();
        }
        reserved
    }

    /// Gives back what a failed reservation of accounts took (capacity beyond the
    /// columns' lengths; their contents do not change).
    fn release_accounts(&mut self) {
        self.collateral.shrink_to_fit();
        self.session_start_equity.shrink_to_fit();
        self.session_deposits.shrink_to_fit();
        for column in &mut self.positions {
            column.shrink_to_fit();
        }
        self.journal.shrink_to_fit();
    }

    /// Adds `amount` (> 0 minor units) to the account's collateral.
    pub fn deposit(&mut self, account: usize, amount: i64) -> Result<&Event> {
        self.check_account(account)?;
        positive(amount, "deposit amount")?;
        let a = i128::from(amount);
        let c = add(self.collateral_at(account)?, a, "collateral")?;
        let s = add(self.session_deposit_at(account)?, a, "session deposits")?;
        let d = add(self.totals.deposits, a, "total deposits")?;
        *self.collateral_mut(account)? = c;
        if let Some(x) = self.session_deposits.get_mut(account) {
            *x = s;
        }
        self.totals.deposits = d;
        Ok(self.record(Event::Deposit { account, amount }))
    }

    /// Takes `amount` (> 0) out of the account's collateral, if it stays above initial
    /// margin (and, with `lock_session_profit`, above it without this session's profit).
    pub fn withdraw(&mut self, account: usize, amount: i64) -> Result<&Event> {
        self.check_account(account)?;
        positive(amount, "withdrawal amount")?;
        let a = i128::from(amount);
        let collateral = self.collateral_at(account)?;
        if a > collateral {
            return Err(Error::InsufficientMargin(format!(
                "account {account} cannot withdraw {amount}: its collateral is {collateral}"
            )));
        }
        let equity = sub(self.equity(account)?, a, "equity")?;
        let initial = self.initial(account)?;
        if equity < initial {
            return Err(Error::InsufficientMargin(format!(
                "account {account} cannot withdraw {amount}: equity would be {equity}, below its initial margin {initial}"
            )));
        }
        let session_deposits = sub(self.session_deposit_at(account)?, a, "session deposits")?;
        if self.waterfall.lock_session_profit {
            let start = self.session_start_at(account)?;
            let profit = sub(
                sub(equity, start, "session profit")?,
                session_deposits,
                "session profit",
            )?;
            let free = sub(equity, profit.max(0), "equity")?;
            if free < initial {
                return Err(Error::InsufficientMargin(format!(
                    "account {account} cannot withdraw {amount}: its session profit {profit} is locked until settlement"
                )));
            }
        }
        let w = add(self.totals.withdrawals, a, "total withdrawals")?;
        *self.collateral_mut(account)? = collateral - a;
        if let Some(x) = self.session_deposits.get_mut(account) {
            *x = session_deposits;
        }
        self.totals.withdrawals = w;
        Ok(self.record(Event::Withdraw { account, amount }))
    }

    /// Adds `amount` (> 0) of external money to the shared insurance fund, or with
    /// `market` to that market's own fund.
    pub fn fund_insurance(&mut self, amount: i64, market: Option<usize>) -> Result<&Event> {
        if let Some(m) = market {
            self.market_ref(m)?;
        }
        positive(amount, "insurance funding amount")?;
        let a = i128::from(amount);
        let d = add(self.totals.deposits, a, "total deposits")?;
        match market {
            Some(m) => {
                if let Some(mk) = self.markets.get_mut(m) {
                    mk.insurance_fund = add(mk.insurance_fund, a, "insurance fund")?;
                }
            }
            None => {
                self.totals.insurance_fund = add(self.totals.insurance_fund, a, "insurance fund")?;
            }
        }
        self.totals.deposits = d;
        Ok(self.record(Event::FundInsurance { amount, market }))
    }

    /// A trade of `size` lots at `price` between buyer and seller. O(markets) with the
    /// margin check, O(1) without.
    pub fn fill(&mut self, args: FillArgs) -> Result<&Event> {
        let FillArgs {
            buyer,
            seller,
            market,
            price,
            size,
            buyer_fee,
            seller_fee,
            check_margin,
        } = args;
        self.check_account(buyer)?;
        self.check_account(seller)?;
        if buyer == seller {
            return Err(Error::InvalidArgument(format!(
                "buyer and seller must differ, both are {buyer}"
            )));
        }
        let mk = *self.market_ref(market)?;
        positive(price, "price")?;
        positive(size, "size")?;
        if buyer_fee < 0 || seller_fee < 0 {
            return Err(Error::InvalidArgument(format!(
                "fees must be >= 0, got buyer_fee={buyer_fee} seller_fee={seller_fee}"
            )));
        }
        let (bp, sp) = (self.pos(buyer, market)?, self.pos(seller, market)?);
        let (bc, sc) = (self.collateral_at(buyer)?, self.collateral_at(seller)?);
        let p = i128::from(price);
        let (nbp, b_real) = trade(&bp, mk.funding_index, mk.contract(), size, p)?;
        let (nsp, s_real) = trade(&sp, mk.funding_index, mk.contract(), -size, p)?;
        let nbc = sub(
            add(bc, b_real, "collateral")?,
            buyer_fee.into(),
            "collateral",
        )?;
        let nsc = sub(
            add(sc, s_real, "collateral")?,
            seller_fee.into(),
            "collateral",
        )?;
        let fees = add(
            add(self.totals.fee_pool, buyer_fee.into(), "fee pool")?,
            seller_fee.into(),
            "fee pool",
        )?;
        let old_fees = self.totals.fee_pool;
        self.write_fill(market, buyer, seller, (nbp, nsp), (nbc, nsc))?;
        self.totals.fee_pool = fees;
        if check_margin {
            let grew =
                |old: &Position, new: &Position| new.size.unsigned_abs() > old.size.unsigned_abs();
            let verdict = (if grew(&bp, &nbp) {
                self.margin_ok(buyer, "buyer")
            } else {
                Ok(())
            })
            .and_then(|()| {
                if grew(&sp, &nsp) {
                    self.margin_ok(seller, "seller")
                } else {
                    Ok(())
                }
            });
            if let Err(e) = verdict {
                self.write_fill(market, buyer, seller, (bp, sp), (bc, sc))?;
                self.totals.fee_pool = old_fees;
                return Err(e);
            }
        }
        Ok(self.record(Event::Fill {
            args,
            buyer_realized: b_real,
            seller_realized: s_real,
        }))
    }

    fn write_fill(
        &mut self,
        market: usize,
        buyer: usize,
        seller: usize,
        pos: (Position, Position),
        col: (i128, i128),
    ) -> Result<()> {
        *self.pos_mut(buyer, market)? = pos.0;
        *self.pos_mut(seller, market)? = pos.1;
        *self.collateral_mut(buyer)? = col.0;
        *self.collateral_mut(seller)? = col.1;
        Ok(())
    }

    /// `equity >= initial`, else `InsufficientMargin` naming the side.
    fn margin_ok(&self, a: usize, side: &str) -> Result<()> {
        let equity = self.equity(a)?;
        let initial = self.initial(a)?;
        if equity < initial {
            return Err(Error::InsufficientMargin(format!(
                "{side} {a} would have equity {equity}, below its initial margin {initial}"
            )));
        }
        Ok(())
    }

    /// Many fills in one market, in order: no fees, no margin check; atomic as a whole.
    /// The slices run parallel (buyer, seller, price in ticks, size in lots).
    pub fn fill_many(
        &mut self,
        market: usize,
        buyers: &[usize],
        sellers: &[usize],
        prices: &[i64],
        sizes: &[i64],
    ) -> Result<&Event> {
        let mk = *self.market_ref(market)?;
        let n = buyers.len();
        for (what, len) in [
            ("sellers", sellers.len()),
            ("prices", prices.len()),
            ("sizes", sizes.len()),
        ] {
            if len != n {
                return Err(Error::LengthMismatch {
                    what,
                    expected: n,
                    got: len,
                });
            }
        }
        let accounts = self.collateral.len();
        for i in 0..n {
            let (b, s) = (at(buyers, i)?, at(sellers, i)?);
            if b >= accounts {
                return Err(Error::UnknownAccount(b));
            }
            if s >= accounts {
                return Err(Error::UnknownAccount(s));
            }
            if b == s {
                return Err(Error::InvalidArgument(format!(
                    "fill {i}: buyer and seller must differ, both are {b}"
                )));
            }
            positive(at(prices, i)?, "price")?;
            positive(at(sizes, i)?, "size")?;
        }
        // The event's copies and the journal's slot are taken first: past this point
        // nothing can fail for want of memory.
        let event = Event::FillMany {
            market,
            buyers: capacity::copied(buyers, "fills")?,
            sellers: capacity::copied(sellers, "fills")?,
            prices: capacity::copied(prices, "fills")?,
            sizes: capacity::copied(sizes, "fills")?,
        };
        capacity::reserve(&mut self.journal, 1, "events")?;
        // Undo: each touched account's first state, saved once (generation stamps keep
        // the record at most one entry per distinct account, whatever the batch length).
        let generation = self.scratch.next_generation(accounts)?;
        let mut saved: Vec<(usize, Position, i128)> = Vec::new();
        let failure = {
            // Disjoint borrows of the three columns the loop touches.
            let column = self
                .positions
                .get_mut(market)
                .ok_or(Error::UnknownMarket(market))?;
            let collateral = &mut self.collateral;
            let seen = &mut self.scratch.seen;
            let mut failure = None;
            'fills: for (((&b, &s), &price), &q) in
                buyers.iter().zip(sellers).zip(prices).zip(sizes)
            {
                for (acct, delta) in [(b, q), (s, -q)] {
                    let (Some(pos), Some(col), Some(g)) = (
                        column.get_mut(acct),
                        collateral.get_mut(acct),
                        seen.get_mut(acct),
                    ) else {
                        failure = Some(Error::UnknownAccount(acct));
                        break 'fills;
                    };
                    if *g != generation {
                        *g = generation;
                        saved.push((acct, *pos, *col));
                    }
                    let step = trade(pos, mk.funding_index, mk.contract(), delta, price.into())
                        .and_then(|(new, change)| Ok((new, add(*col, change, "collateral")?)));
                    match step {
                        Ok((new, c)) => {
                            *pos = new;
                            *col = c;
                        }
                        Err(e) => {
                            failure = Some(e);
                            break 'fills;
                        }
                    }
                }
            }
            failure
        };
        if let Some(e) = failure {
            for (acct, pos, col) in saved.into_iter().rev() {
                *self.pos_mut(acct, market)? = pos;
                *self.collateral_mut(acct)? = col;
            }
            return Err(e);
        }
        Ok(self.record(event))
    }

    /// Sets a market's mark price (ticks, > 0).
    pub fn set_mark(&mut self, market: usize, price: i64) -> Result<&Event> {
        self.market_ref(market)?;
        positive(price, "mark price")?;
        if let Some(m) = self.markets.get_mut(market) {
            m.mark = price;
        }
        Ok(self.record(Event::SetMark { market, price }))
    }

    /// Sets every market's mark at once (one price per market, in ticks, > 0).
    pub fn set_marks(&mut self, marks: &[i64]) -> Result<&Event> {
        if marks.len() != self.markets.len() {
            return Err(Error::LengthMismatch {
                what: "marks",
                expected: self.markets.len(),
                got: marks.len(),
            });
        }
        for &p in marks {
            positive(p, "mark price")?;
        }
        for (m, &p) in self.markets.iter_mut().zip(marks) {
            m.mark = p;
        }
        Ok(self.record(Event::SetMarks {
            marks: marks.to_vec(),
        }))
    }

    /// Moves the market's funding index by `delta` minor units per lot (positive: longs
    /// pay shorts). O(1): positions settle lazily.
    pub fn apply_funding(&mut self, market: usize, delta: i64) -> Result<&Event> {
        let index = self.market_ref(market)?.funded(delta)?;
        if let Some(m) = self.markets.get_mut(market) {
            m.funding_index = index;
        }
        Ok(self.record(Event::ApplyFunding { market, delta }))
    }

    /// Whether the journal keeps every event (the default) or only the last one. A
    /// backtest over millions of operations turns it off; the state is the same either
    /// way, but `journal`, `replay` and snapshots then hold only the last event.
    pub fn keep_journal(&mut self, keep: bool) {
        self.scratch.forget_journal = !keep;
        if !keep {
            let last = self.journal.pop();
            self.journal.clear();
            self.journal.shrink_to_fit();
            self.journal.extend(last);
        }
    }

    /// The last event: moved out when the journal is not kept (saving the copy of a
    /// large haircut list), cloned otherwise.
    pub fn last_event(&mut self) -> Option<Event> {
        if self.scratch.forget_journal {
            self.journal.pop()
        } else {
            self.journal.last().cloned()
        }
    }

    /// Replaces the waterfall configuration.
    pub fn set_waterfall(&mut self, waterfall: Waterfall) -> Result<&Event> {
        waterfall.validate()?;
        self.waterfall = waterfall.clone();
        Ok(self.record(Event::SetWaterfall { waterfall }))
    }

    // ---- state accessors -------------------------------------------------------------

    /// Number of accounts.
    pub fn num_accounts(&self) -> usize {
        self.collateral.len()
    }

    /// Number of markets.
    pub fn num_markets(&self) -> usize {
        self.markets.len()
    }

    /// A market's parameters and funding index.
    pub fn market(&self, m: usize) -> Result<&Market> {
        self.market_ref(m)
    }

    /// All markets, by id.
    pub fn markets(&self) -> &[Market] {
        &self.markets
    }

    /// An account's position in a market.
    pub fn position(&self, a: usize, m: usize) -> Result<Position> {
        self.check_account(a)?;
        self.market_ref(m)?;
        self.pos(a, m)
    }

    /// One market's positions, indexed by account.
    pub fn positions(&self, m: usize) -> Result<&[Position]> {
        self.positions
            .get(m)
            .map(Vec::as_slice)
            .ok_or(Error::UnknownMarket(m))
    }

    /// Every account's size in market `m` (lots), indexed by account.
    pub fn sizes(&self, m: usize) -> Result<Vec<i64>> {
        Ok(self.positions(m)?.iter().map(|p| p.size).collect())
    }

    /// An account's collateral (minor units).
    pub fn collateral_at(&self, a: usize) -> Result<i128> {
        self.collateral
            .get(a)
            .copied()
            .ok_or(Error::UnknownAccount(a))
    }

    /// Every account's collateral (minor units), indexed by account.
    pub fn collaterals(&self) -> &[i128] {
        &self.collateral
    }

    /// Equity at the start of the account's session (minor units).
    pub fn session_start_at(&self, a: usize) -> Result<i128> {
        self.session_start_equity
            .get(a)
            .copied()
            .ok_or(Error::UnknownAccount(a))
    }

    /// Net deposits since the account's session started (minor units).
    pub fn session_deposit_at(&self, a: usize) -> Result<i128> {
        self.session_deposits
            .get(a)
            .copied()
            .ok_or(Error::UnknownAccount(a))
    }

    /// Insurance fund (minor units).
    pub fn insurance_fund(&self) -> i128 {
        self.totals.insurance_fund
    }
    /// Fee pool (minor units).
    pub fn fee_pool(&self) -> i128 {
        self.totals.fee_pool
    }
    /// Residual bad debt (minor units).
    pub fn bad_debt(&self) -> i128 {
        self.totals.bad_debt
    }
    /// Deficits awaiting session settlement (minor units).
    pub fn deferred_loss(&self) -> i128 {
        self.totals.deferred_loss
    }
    /// Total external money in (minor units).
    pub fn deposits(&self) -> i128 {
        self.totals.deposits
    }
    /// Total external money out (minor units).
    pub fn withdrawals(&self) -> i128 {
        self.totals.withdrawals
    }
    /// The waterfall configuration.
    pub fn waterfall(&self) -> &Waterfall {
        &self.waterfall
    }
    /// Every event so far, in order.
    pub fn journal(&self) -> &[Event] {
        &self.journal
    }

    // ---- invariants ------------------------------------------------------------------

    /// Checks conservation, open interest per market and the signs of the pools; the
    /// first violated invariant is named in [`Error::Invariant`].
    pub fn check(&self) -> Result<()> {
        use ethnum::I256;
        let mut total = I256::ZERO;
        for &c in &self.collateral {
            total += I256::from(c);
        }
        // Exact over every account: one account's figures outgrowing i128 cannot stop
        // the check of the others (issue 9, item 6).
        for (mk, column) in self.markets.iter().zip(&self.positions) {
            for p in column {
                total += margin::value(p, mk);
            }
        }
        let t = &self.totals;
        total += I256::from(t.insurance_fund) + I256::from(t.fee_pool);
        for mk in &self.markets {
            total += I256::from(mk.insurance_fund);
        }
        total -= I256::from(t.bad_debt) + I256::from(t.deferred_loss);
        let external = I256::from(t.deposits) - I256::from(t.withdrawals);
        if total != external {
            return Err(Error::Invariant(format!(
                "conservation: collateral + PnL + funding + pools - bad debt - deferred loss = {total}, but deposits - withdrawals = {external}"
            )));
        }
        for (m, column) in self.positions.iter().enumerate() {
            let (mut long, mut short) = (0i128, 0i128);
            for p in column {
                if p.size > 0 {
                    long += i128::from(p.size);
                } else {
                    short -= i128::from(p.size);
                }
            }
            if long != short {
                return Err(Error::Invariant(format!(
                    "open interest of market {m}: longs {long} != shorts {short}"
                )));
            }
        }
        for (m, mk) in self.markets.iter().enumerate() {
            if mk.insurance_fund < 0 {
                return Err(Error::Invariant(format!(
                    "insurance fund of market {m} is negative: {}",
                    mk.insurance_fund
                )));
            }
        }
        for (name, v) in [
            ("insurance_fund", t.insurance_fund),
            ("fee_pool", t.fee_pool),
            ("bad_debt", t.bad_debt),
            ("deferred_loss", t.deferred_loss),
        ] {
            if v < 0 {
                return Err(Error::Invariant(format!("{name} is negative: {v}")));
            }
        }
        Ok(())
    }
}

/// A placeholder only reachable if `Vec::push` did not push.
static NO_EVENT: Event = Event::CreateAccount {
    account: usize::MAX,
};

impl Scratch {
    /// A fresh generation for `fill_many`'s first-touch record over `n` accounts.
    fn next_generation(&mut self, n: usize) -> Result<u32> {
        if self.seen.len() != n || self.generation == u32::MAX {
            self.seen = capacity::filled(n, 0, "accounts")?;
            self.generation = 0;
        }
        self.generation += 1;
        Ok(self.generation)
    }
}

fn positive(v: i64, what: &str) -> Result<()> {
    if v > 0 {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "{what} must be > 0, got {v}"
        )))
    }
}

fn at<T: Copy>(s: &[T], i: usize) -> Result<T> {
    s.get(i)
        .copied()
        .ok_or_else(|| Error::InvalidArgument(format!("index {i} out of range")))
}

/// A kernel cap `max(0, v)`; it must fit `i64` like the claims (resolved point 13).
pub(crate) fn cap64(v: i128) -> Result<i64> {
    i64::try_from(v.max(0)).map_err(|_| num::overflow64("socialize cap"))
}

/// A non-negative claim for the allocation kernel (values <= 0 are ineligible anyway).
pub(crate) fn claim64(v: i128, what: &'static str) -> Result<i64> {
    i64::try_from(v.max(0)).map_err(|_| num::overflow64(what))
}
