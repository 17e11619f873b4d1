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
mod ops;
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
    /// The undo journal's buffer, kept between transactions (no allocation per operation).
    pub undo_log: Vec<undo::Entry>,
    /// A fault the next transaction injects (tests).
    pub fault: Option<usize>,
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

    // ---- the journal -------------------------------------------------------------------

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
    pub(crate) fn next_generation(&mut self, n: usize) -> Result<u32> {
        if self.seen.len() != n || self.generation == u32::MAX {
            self.seen = capacity::filled(n, 0, "accounts")?;
            self.generation = 0;
        }
        self.generation += 1;
        Ok(self.generation)
    }
}

/// A kernel cap `max(0, v)`; it must fit `i64` like the claims (resolved point 13).
pub(crate) fn cap64(v: i128) -> Result<i64> {
    i64::try_from(v.max(0)).map_err(|_| num::overflow64("socialize cap"))
}

/// A non-negative claim for the allocation kernel (values <= 0 are ineligible anyway).
pub(crate) fn claim64(v: i128, what: &'static str) -> Result<i64> {
    i64::try_from(v.max(0)).map_err(|_| num::overflow64(what))
}
