//! Liquidation and the immediate waterfall (docs/ledger.md "Liquidation", "The waterfall").
//!
//! The liquidation is first carried out directly (closes, penalty, stages). If an ADL
//! stage is reached with deficit left, everything is rolled back and the liquidation is
//! redone by deleveraging: "the stages before it cannot cover the whole deficit" is
//! decided by running them, which is exact whatever the stages are.

use super::adl::{Order, RankSpec};
use super::num::{add, narrow, overflow64, sub, Exact};
use super::undo::Undo;
use super::waterfall::{Base, Stage, StageKind, StagePrice, Timing, Waterfall};
use super::{cap64, claim64, AdlFill, AdlPrice, AdlQueues, Close, Event, Ledger};
use crate::allocate::{allocate, Options};
use crate::capacity;
use crate::error::{Error, Result};
use ethnum::I256;
use rayon::prelude::*;

/// What the stages did.
#[derive(Default)]
struct Outcome {
    stages: Vec<(StageKind, i128)>,
    haircuts: Vec<(usize, i128)>,
}

/// Whether the stages covered the deficit or hit an ADL stage with deficit left.
enum Flow {
    /// The deficit left after the stages (residual bad debt).
    Done(i128),
    NeedsAdl,
}

/// The part of the ledger a socialization needs to know about the bankruptcy.
#[derive(Clone, Copy)]
pub(super) struct Bankrupt {
    pub(super) account: usize,
    /// The first market where the account held a position when the liquidation started.
    pub(super) first_market: Option<usize>,
}

/// Whether the waterfall's insurance fund is the bankrupt market's own.
fn per_market_fund(wf: &Waterfall) -> bool {
    wf.stages.iter().any(|s| {
        matches!(
            s,
            Stage::InsuranceFund {
                per_market: true,
                ..
            }
        )
    })
}

impl Ledger {
    /// The market whose own fund a liquidation uses: the bankrupt account's first market
    /// when `per_market` (and it held a position); `None`: the shared fund.
    fn fund_market(&self, per_market: bool, bankrupt: Bankrupt) -> Option<usize> {
        bankrupt
            .first_market
            .filter(|&m| per_market && m < self.markets.len())
    }

    /// The balance of the fund a liquidation uses.
    fn fund(&self, per_market: bool, bankrupt: Bankrupt) -> Result<i128> {
        match self.fund_market(per_market, bankrupt) {
            Some(m) => Ok(self.market_ref(m)?.insurance_fund),
            None => Ok(self.totals.insurance_fund),
        }
    }

    /// Sets the balance of the fund a liquidation uses (a market's write is logged; the
    /// totals are restored whole on failure).
    fn set_fund(
        &mut self,
        per_market: bool,
        bankrupt: Bankrupt,
        value: i128,
        undo: &mut Undo,
    ) -> Result<()> {
        match self.fund_market(per_market, bankrupt) {
            Some(m) => self.market_mut(m, undo)?.insurance_fund = value,
            None => self.totals.insurance_fund = value,
        }
        Ok(())
    }

    /// Liquidates `account` (which must be liquidatable) against `counterparty`: closes
    /// every position at `prices[m]` or the mark, charges the penalty to the insurance
    /// fund, and sends the deficit through the waterfall; or, when the waterfall's ADL
    /// stage is reached with deficit left, deleverages instead (docs/ledger.md).
    /// `prices`: `(market, ticks)` pairs, each market at most once.
    pub fn liquidate(
        &mut self,
        account: usize,
        counterparty: usize,
        prices: Option<&[(usize, i64)]>,
    ) -> Result<&Event> {
        self.liquidate_in(account, counterparty, prices, None)
    }

    /// `liquidate`, with an ADL path that takes counterparties from `queues` (ranked at
    /// their first use, then consumed in order) instead of ranking afresh. The event is
    /// the same `liquidate` event; replaying it ranks afresh, so a journal written this
    /// way replays only while the queue's order is the fresh ranking's.
    pub fn liquidate_queued(
        &mut self,
        account: usize,
        counterparty: usize,
        prices: Option<&[(usize, i64)]>,
        queues: &mut AdlQueues,
    ) -> Result<&Event> {
        self.liquidate_in(account, counterparty, prices, Some(queues))
    }

    fn liquidate_in(
        &mut self,
        account: usize,
        counterparty: usize,
        prices: Option<&[(usize, i64)]>,
        queues: Option<&mut AdlQueues>,
    ) -> Result<&Event> {
        self.check_account(account)?;
        self.check_account(counterparty)?;
        if account == counterparty {
            return Err(Error::InvalidArgument(format!(
                "account {account} cannot be its own liquidation counterparty"
            )));
        }
        if let Some(list) = prices {
            for (i, &(m, p)) in list.iter().enumerate() {
                self.market_ref(m)?;
                if p <= 0 {
                    return Err(Error::InvalidArgument(format!(
                        "liquidation price for market {m} must be > 0 ticks, got {p}"
                    )));
                }
                if list
                    .get(..i)
                    .is_some_and(|head| head.iter().any(|&(k, _)| k == m))
                {
                    return Err(Error::InvalidArgument(format!(
                        "liquidation price for market {m} given twice"
                    )));
                }
            }
        }
        if !self.is_liquidatable(account)? {
            return Err(Error::NotLiquidatable(account));
        }
        let bankrupt = Bankrupt {
            account,
            first_market: (0..self.num_markets())
                .find(|&m| self.pos(account, m).is_ok_and(|p| p.size != 0)),
        };
        // Taken, not borrowed, since the stages mutate the ledger (a liquidation never
        // writes the waterfall); always put back.
        let waterfall = std::mem::take(&mut self.waterfall);
        let result = self.transact(1, |l, undo| {
            l.liquidate_with(&waterfall, bankrupt, counterparty, prices, queues, undo)
        });
        self.waterfall = waterfall;
        let event = result?;
        Ok(self.record(event))
    }

    /// The direct path; if it reaches an ADL stage with deficit left, it is rolled back
    /// (to a savepoint of the same transaction) and the ADL path runs instead.
    fn liquidate_with(
        &mut self,
        wf: &Waterfall,
        bankrupt: Bankrupt,
        counterparty: usize,
        prices: Option<&[(usize, i64)]>,
        queues: Option<&mut AdlQueues>,
        undo: &mut Undo,
    ) -> Result<Event> {
        let start = self.savepoint(undo);
        if let Some(event) = self.liquidate_direct(wf, bankrupt, counterparty, prices, undo)? {
            return Ok(event);
        }
        self.rollback_to(undo, start);
        self.liquidate_by_adl(wf, bankrupt, counterparty, prices, queues, undo)
    }

    /// Steps 1-3; `None` when an ADL stage is reached with deficit left.
    fn liquidate_direct(
        &mut self,
        wf: &Waterfall,
        bankrupt: Bankrupt,
        counterparty: usize,
        prices: Option<&[(usize, i64)]>,
        undo: &mut Undo,
    ) -> Result<Option<Event>> {
        let account = bankrupt.account;
        let mut closes = Vec::new();
        let mut penalty = 0i128;
        for m in 0..self.num_markets() {
            let size = self.pos(account, m)?.size;
            if size == 0 {
                continue;
            }
            let mk = *self.market_ref(m)?;
            let given = prices.and_then(|l| l.iter().find(|&&(k, _)| k == m).map(|&(_, p)| p));
            let price = i128::from(given.unwrap_or(mk.mark));
            let back = size
                .checked_neg()
                .ok_or_else(|| overflow64("position size"))?;
            self.trade_logged(account, m, back, price, undo)?;
            self.trade_logged(counterparty, m, size, price, undo)?;
            closes.push(Close {
                market: m,
                size,
                price,
            });
            let p = mk
                .contract()
                .margin(size, price, mk.penalty_bps)
                .narrow("liquidation penalty")?;
            penalty = add(penalty, p, "liquidation penalty")?;
        }
        let equity = self.equity(account)?;
        let charged = penalty.min(equity.max(0));
        if charged > 0 {
            self.credit(account, -charged, undo)?;
            let per_market = per_market_fund(wf);
            let fund = add(self.fund(per_market, bankrupt)?, charged, "insurance fund")?;
            self.set_fund(per_market, bankrupt, fund, undo)?;
        }
        let deficit = sub(charged, equity, "deficit")?.max(0);
        let mut outcome = Outcome::default();
        if deficit > 0 {
            match self.run_stages(wf, &wf.stages, true, bankrupt, deficit, &mut outcome, undo)? {
                Flow::NeedsAdl => return Ok(None),
                Flow::Done(rest) => self.residual(account, rest, &mut outcome, undo)?,
            }
        }
        Ok(Some(Event::Liquidate {
            account,
            counterparty,
            prices: sorted_prices(prices),
            closes,
            penalty,
            deficit,
            stages: outcome.stages,
            haircuts: outcome.haircuts,
            adl: Vec::new(),
        }))
    }

    /// The ADL path: every position deleveraged against ranked counterparties at the
    /// stage's price; no penalty; the stages before ADL take nothing; what is left goes
    /// on with the stages after it.
    fn liquidate_by_adl(
        &mut self,
        wf: &Waterfall,
        bankrupt: Bankrupt,
        counterparty: usize,
        prices: Option<&[(usize, i64)]>,
        mut queues: Option<&mut AdlQueues>,
        undo: &mut Undo,
    ) -> Result<Event> {
        let account = bankrupt.account;
        let at = wf
            .stages
            .iter()
            .position(|s| matches!(s, Stage::Adl { .. }))
            .ok_or_else(|| Error::Invariant("ADL path without an ADL stage".to_owned()))?;
        let (before, stage, after) = match (
            wf.stages.get(..at),
            wf.stages.get(at),
            wf.stages.get(at + 1..),
        ) {
            (Some(b), Some(s), Some(a)) => (b, s, a),
            _ => return Err(Error::Invariant("ADL stage out of range".to_owned())),
        };
        let price_rule = match stage {
            Stage::Adl { price, .. } => *price,
            _ => StagePrice::Bankruptcy,
        };
        let spec = RankSpec::of(Some(stage));
        let deficit = sub(0, self.equity(account)?, "deficit")?.max(0);
        let mut outcome = Outcome::default();
        outcome.stages.extend(before.iter().map(|s| (s.kind(), 0)));
        let mut adl: Vec<(usize, AdlFill)> = Vec::new();
        for m in 0..self.num_markets() {
            if self.pos(account, m)?.size == 0 {
                continue;
            }
            let price = self.adl_price(
                account,
                m,
                match price_rule {
                    StagePrice::Bankruptcy => AdlPrice::Bankruptcy,
                    StagePrice::Mark => AdlPrice::Mark,
                },
            )?;
            let fills = match queues.as_deref_mut() {
                Some(q) => {
                    let long = self.pos(account, m)?.size > 0;
                    let list = self.queued(q, account, m, &spec)?;
                    let mut fills =
                        self.deleverage_in(account, m, Order::Given(list), price, undo)?;
                    if self.pos(account, m)?.size != 0 {
                        // The queue ran dry: positions opened since it was ranked (the
                        // backstop's, say) are not in it. Rank afresh once.
                        q.forget(m, long);
                        let list = self.queued(q, account, m, &spec)?;
                        fills.extend(self.deleverage_in(
                            account,
                            m,
                            Order::Given(list),
                            price,
                            undo,
                        )?);
                    }
                    fills
                }
                None => self.deleverage_in(account, m, Order::Ranked(spec), price, undo)?,
            };
            adl.extend(fills.into_iter().map(|f| (m, f)));
        }
        let left = sub(0, self.equity(account)?, "deficit")?.max(0);
        outcome
            .stages
            .push((StageKind::Adl, sub(deficit, left, "deficit")?.max(0)));
        let rest = match self.run_stages(wf, after, false, bankrupt, left, &mut outcome, undo)? {
            Flow::Done(rest) => rest,
            Flow::NeedsAdl => left,
        };
        self.residual(account, rest, &mut outcome, undo)?;
        Ok(Event::Liquidate {
            account,
            counterparty,
            prices: sorted_prices(prices),
            closes: Vec::new(),
            penalty: 0,
            deficit,
            stages: outcome.stages,
            haircuts: outcome.haircuts,
            adl,
        })
    }

    /// What no stage paid: `bad_debt += rest`, and the account is credited `rest` too.
    fn residual(
        &mut self,
        account: usize,
        rest: i128,
        out: &mut Outcome,
        undo: &mut Undo,
    ) -> Result<()> {
        if rest > 0 {
            self.totals.bad_debt = add(self.totals.bad_debt, rest, "bad debt")?;
            self.credit(account, rest, undo)?;
        }
        out.stages.push((StageKind::BadDebt, rest));
        Ok(())
    }

    /// Runs `stages` in order over `deficit`; each paying stage credits the bankrupt
    /// account. With `adl_stops`, an ADL stage reached with deficit left stops the run.
    #[allow(clippy::too_many_arguments)]
    fn run_stages(
        &mut self,
        wf: &Waterfall,
        stages: &[Stage],
        adl_stops: bool,
        bankrupt: Bankrupt,
        deficit: i128,
        out: &mut Outcome,
        undo: &mut Undo,
    ) -> Result<Flow> {
        let account = bankrupt.account;
        let mut rest = deficit;
        for stage in stages {
            let paid = match stage {
                Stage::InsuranceFund {
                    cap,
                    floor,
                    per_market,
                } => {
                    let fund = self.fund(*per_market, bankrupt)?;
                    let available = sub(fund, i128::from(*floor), "insurance fund")?.max(0);
                    let mut pay = rest.min(available);
                    if let Some(cap) = cap {
                        pay = pay.min(i128::from(*cap));
                    }
                    self.set_fund(*per_market, bankrupt, fund - pay, undo)?;
                    pay
                }
                Stage::FeePool => {
                    let pay = rest.min(self.totals.fee_pool);
                    self.totals.fee_pool -= pay;
                    pay
                }
                Stage::Adl { .. } => {
                    if adl_stops && rest > 0 {
                        return Ok(Flow::NeedsAdl);
                    }
                    0
                }
                Stage::Socialize { .. } if wf.timing != Timing::Immediate => {
                    self.totals.deferred_loss =
                        add(self.totals.deferred_loss, rest, "deferred loss")?;
                    rest
                }
                Stage::Socialize { .. } => self.socialize(stage, bankrupt, rest, out, undo)?,
            };
            if paid > 0 {
                self.credit(account, paid, undo)?;
                rest -= paid;
            }
            out.stages.push((stage.kind(), paid));
        }
        Ok(Flow::Done(rest))
    }

    /// The socialize stage, immediate: allocates `loss` over the base's claims (the
    /// bankrupt account's claim is 0) and takes each haircut from collateral. Returns
    /// what it covers; a rounding-up surplus goes to the insurance fund.
    fn socialize(
        &mut self,
        stage: &Stage,
        bankrupt: Bankrupt,
        loss: i128,
        out: &mut Outcome,
        undo: &mut Undo,
    ) -> Result<i128> {
        let Stage::Socialize {
            rule,
            rounding,
            base,
            max_rate,
            weights,
        } = stage
        else {
            return Ok(0);
        };
        if loss <= 0 {
            return Ok(0);
        }
        let loss64 = i64::try_from(loss).map_err(|_| overflow64("socialized loss"))?;
        let (mut claims, caps) = self.claims(*base, weights.as_deref(), bankrupt, loss)?;
        if let Some(c) = claims.get_mut(bankrupt.account) {
            *c = 0;
        }
        let opts = Options {
            rule: *rule,
            rounding: *rounding,
            ids: None,
            caps: caps.as_deref(),
            max_rate: Stage::rate(*max_rate)?,
            weights: None,
        };
        let (cuts, summary) = allocate(&claims, loss64, &opts)?;
        drop(claims);
        let list = self.take_haircuts(cuts, undo)?;
        out.haircuts.extend(list);
        let surplus = i128::try_from(summary.surplus).map_err(|_| overflow64("surplus"))?;
        let total = i128::try_from(summary.total).map_err(|_| overflow64("haircuts"))?;
        if surplus > 0 {
            self.totals.insurance_fund =
                add(self.totals.insurance_fund, surplus, "insurance fund")?;
        }
        Ok(total - surplus)
    }

    /// One pass over the accounts building the base's claims (and caps, for the capped
    /// bases), as the kernel's `i64`. Written straight into the kernel's columns: no
    /// intermediate `i128` column (at a million accounts, fresh memory is the cost).
    pub(super) fn claims(
        &self,
        base: Base,
        weights: Option<&[i64]>,
        bankrupt: Bankrupt,
        loss: i128,
    ) -> Result<(Vec<i64>, Option<Vec<i64>>)> {
        let n = self.num_accounts();
        let skip = bankrupt.account;
        let capped = matches!(base, Base::OpenInterest | Base::Weights);
        let oi = match (base, bankrupt.first_market) {
            (Base::OpenInterest, Some(m)) => Some((*self.market_ref(m)?, self.positions(m)?)),
            _ => None,
        };
        // open_interest: shares follow |size| in the bankrupt market (Drift charges per
        // unit of position through its funding index), scaled so the claims can absorb
        // the whole deficit; the caps (positive equity) bound each haircut.
        let per_lot: i128 = match &oi {
            Some((_, column)) => {
                let lots: i128 = column
                    .iter()
                    .enumerate()
                    .filter(|&(a, _)| a != skip)
                    .map(|(_, p)| i128::from(p.size).abs())
                    .sum();
                if lots == 0 {
                    1
                } else {
                    (loss / lots + i128::from(loss % lots != 0)).max(1)
                }
            }
            None => 1,
        };
        let w = weights.unwrap_or(&[]);
        // The bankrupt account's claim (and cap) is 0 and is not even computed.
        let claim_of = |a: usize| -> Result<i64> {
            if a == skip {
                return Ok(0);
            }
            let claim = match base {
                Base::UnrealizedPnl => match self.upnl_claim_fast(a) {
                    Some(claim) => claim64(claim.max(0), "unrealized PnL claim")?,
                    None => {
                        let mut total = I256::ZERO;
                        for (mk, column) in self.markets.iter().zip(&self.positions) {
                            if let Some(p) = column.get(a) {
                                total += p.upnl_exact(mk).wide();
                            }
                        }
                        claim64(
                            narrow(total.max(I256::ZERO), "unrealized PnL claim")?,
                            "unrealized PnL claim",
                        )?
                    }
                },
                Base::Equity => claim64(self.equity(a)?, "equity claim")?,
                Base::SessionProfit => claim64(self.session_profit(a)?, "session profit claim")?,
                Base::OpenInterest => match &oi {
                    Some((_, column)) => match column.get(a) {
                        Some(p) => claim64(
                            i128::from(p.size)
                                .abs()
                                .checked_mul(per_lot)
                                .ok_or_else(|| overflow64("open interest claim"))?,
                            "open interest claim",
                        )?,
                        None => 0,
                    },
                    None => 0,
                },
                // Accounts past the end of the list have weight 0.
                Base::Weights => w.get(a).copied().unwrap_or(0).max(0),
            };
            Ok(claim)
        };
        let cap_of = |a: usize| -> Result<i64> {
            if a == skip {
                return Ok(0);
            }
            cap64(self.equity(a)?)
        };
        let mut claims = capacity::filled(n, 0i64, "claims")?;
        let mut caps = capacity::filled(if capped { n } else { 0 }, 0i64, "caps")?;
        fill(&mut claims, claim_of)?;
        if capped {
            fill(&mut caps, cap_of)?;
        }
        Ok((claims, capped.then_some(caps)))
    }
}

impl Ledger {
    /// The unrealized PnL claim summed in `i128`, or `None` if any step would overflow
    /// (the caller then sums exactly in 256 bits).
    fn upnl_claim_fast(&self, a: usize) -> Option<i128> {
        let mut total = 0i128;
        for (mk, column) in self.markets.iter().zip(&self.positions) {
            if let Some(p) = column.get(a) {
                match p.upnl_exact(mk) {
                    Exact::Fits(v) => total = total.checked_add(v)?,
                    Exact::Wide(_) => return None,
                }
            }
        }
        Some(total)
    }
}

/// Below this many accounts a claims pass stays on one thread.
const PARALLEL_CLAIMS: usize = 1 << 15;

/// `column[a] = value(a)` for every account, over the rayon pool for large ledgers (each
/// claim reads only its own account's positions).
fn fill(column: &mut [i64], value: impl Fn(usize) -> Result<i64> + Sync) -> Result<()> {
    const CHUNK: usize = 1 << 13;
    if column.len() < PARALLEL_CLAIMS {
        for (a, slot) in column.iter_mut().enumerate() {
            *slot = value(a)?;
        }
        return Ok(());
    }
    column
        .par_chunks_mut(CHUNK)
        .enumerate()
        .try_for_each(|(chunk, slots)| {
            for (j, slot) in slots.iter_mut().enumerate() {
                *slot = value(chunk * CHUNK + j)?;
            }
            Ok(())
        })
}

/// The event's `prices`: `None` or the pairs sorted by market (resolved point 14).
fn sorted_prices(prices: Option<&[(usize, i64)]>) -> Option<Vec<(usize, i64)>> {
    prices.map(|list| {
        let mut v = list.to_vec();
        v.sort_unstable();
        v
    })
}
