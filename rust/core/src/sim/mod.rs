//! The backtest engine (docs/backtests.md): drives a [`Ledger`] through a price path.
//!
//! Account 0 is the house: the counterparty of every opening fill and the liquidation
//! backstop (it buys a liquidated long below the mark by the slippage, sells a short
//! above it). Population account `i` is ledger account `i + 1` and trades one market.
//!
//! Each step: funding (re-keys the market's index), the marks, then rounds of
//! liquidations until no account is liquidatable: a round takes every account the
//! index (or, with [`Scan::Every`], a scan of all accounts: the naive loop) finds
//! liquidatable and liquidates them in ascending id order, re-keying every account an
//! event touched. With [`Granularity::Step`] the socialize stage's deficits of the step
//! are pooled (the waterfall's `batched` timing) and allocated once at its end, which
//! may start more rounds. Deferred (clawback) waterfalls settle every `session_steps`
//! and after the last step.

mod index;

pub use index::MAX_PRICE;

use crate::capacity;
use crate::error::{Error, Result};
use crate::ledger::{AdlQueues, Event, Ledger, Stage, StageKind, Timing, Waterfall};
use index::Index;

/// One market's contract terms.
#[derive(Debug, Clone, Copy)]
pub struct MarketTerms {
    /// Minor units per lot per tick.
    pub tick_value: i64,
    pub imr_bps: i64,
    pub mmr_bps: i64,
    pub penalty_bps: i64,
}

/// The accounts, one entry each (parallel slices).
#[derive(Debug, Clone, Copy)]
pub struct Population<'a> {
    /// Deposit, minor units (> 0).
    pub collateral: &'a [i64],
    /// The market each account trades.
    pub market: &'a [usize],
    /// Signed position, lots (non-zero).
    pub size: &'a [i64],
    /// Entry price, ticks (> 0).
    pub entry: &'a [i64],
}

/// How the socialize stage's deficits are allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// One allocation per step over the step's pooled deficits (pro-rata haircuts
    /// compose, so this equals haircutting each in turn up to rounding).
    Step,
    /// One allocation per bankruptcy, as the ledger's immediate timing.
    Bankruptcy,
}

/// How liquidatable accounts are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// The liquidation-price index: work proportional to the accounts a move crosses.
    Index,
    /// Every account checked every round: the naive loop, for tests and comparisons.
    Every,
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct Spec<'a> {
    pub markets: &'a [MarketTerms],
    pub population: Population<'a>,
    /// Marks, `steps x markets`, row-major, ticks.
    pub prices: &'a [i64],
    /// Funding-index increases before each step's marks, `steps x markets`, minor units
    /// per lot (positive: longs pay).
    pub funding: &'a [i64],
    pub insurance_fund: i64,
    pub house_collateral: i64,
    pub slippage_bps: i64,
    pub impact_bps: i64,
    pub depth_lots: i64,
    /// Settle deferred (clawback) waterfalls every this many steps (0: only at the end).
    pub session_steps: usize,
    pub waterfall: Waterfall,
    pub granularity: Granularity,
    pub scan: Scan,
    /// Keep the ledger's whole journal (tests); otherwise only its last event.
    pub keep_journal: bool,
}

/// One row per step, values after the step (minor units unless named otherwise).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Series {
    pub insurance_fund: Vec<i64>,
    pub bad_debt: Vec<i64>,
    pub deferred_loss: Vec<i64>,
    pub deficit: Vec<i64>,
    pub paid_insurance: Vec<i64>,
    pub paid_socialized: Vec<i64>,
    pub paid_adl: Vec<i64>,
    pub paid_bad_debt: Vec<i64>,
    pub haircuts: Vec<i64>,
    pub haircut_accounts: Vec<i64>,
    pub liquidations: Vec<i64>,
    pub bankruptcies: Vec<i64>,
    pub adl_fills: Vec<i64>,
    /// Lots.
    pub adl_lots: Vec<i64>,
    /// Long lots over every market.
    pub open_interest: Vec<i64>,
}

impl Series {
    /// Empty columns with room for `steps` rows, reserved fallibly.
    fn with_steps(steps: usize) -> Result<Series> {
        let mut s = Series::default();
        for column in [
            &mut s.insurance_fund,
            &mut s.bad_debt,
            &mut s.deferred_loss,
            &mut s.deficit,
            &mut s.paid_insurance,
            &mut s.paid_socialized,
            &mut s.paid_adl,
            &mut s.paid_bad_debt,
            &mut s.haircuts,
            &mut s.haircut_accounts,
            &mut s.liquidations,
            &mut s.bankruptcies,
            &mut s.adl_fills,
            &mut s.adl_lots,
            &mut s.open_interest,
        ] {
            capacity::reserve(column, steps, "steps")?;
        }
        Ok(s)
    }
}

/// Per population account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcomes {
    pub equity: Vec<i64>,
    pub haircut: Vec<i64>,
    /// Lots closed against this account by ADL.
    pub adl_lots: Vec<i64>,
    /// What those closes cost against closing at the mark.
    pub adl_loss: Vec<i64>,
    /// -1 if never liquidated.
    pub liquidated_step: Vec<i64>,
    pub deficit: Vec<i64>,
}

/// A finished run.
#[derive(Debug, Clone)]
pub struct Run {
    pub series: Series,
    pub accounts: Outcomes,
    /// Haircuts taken from the house (minor units): outside the per-account outcomes.
    pub house_haircut: i128,
    pub ledger: Ledger,
}

/// The house's ledger id.
pub const HOUSE: usize = 0;

fn invalid<T>(msg: String) -> Result<T> {
    Err(Error::InvalidArgument(msg))
}

fn to64(v: i128, what: &'static str) -> Result<i64> {
    i64::try_from(v).map_err(|_| Error::Overflow(what))
}

/// `*total += v`, refusing to wrap (money sums of a run).
fn add_to(total: &mut i128, v: i128, what: &'static str) -> Result<()> {
    *total = total.checked_add(v).ok_or(Error::Overflow(what))?;
    Ok(())
}

/// `*total += v` for an account's int64 outcome.
fn add64(total: &mut i64, v: i64, what: &'static str) -> Result<()> {
    *total = total.checked_add(v).ok_or(Error::Overflow(what))?;
    Ok(())
}

/// Runs the backtest. `tick(step)` is called after every step; an error from it stops
/// the run (the binding's Ctrl-C and progress bar).
pub fn run(spec: &Spec<'_>, tick: &mut dyn FnMut(usize) -> Result<()>) -> Result<Run> {
    let (steps, n) = validate(spec)?;
    let markets = spec.markets.len();
    let mut ledger = Ledger::new();
    ledger.keep_journal(spec.keep_journal);
    for (m, t) in spec.markets.iter().enumerate() {
        ledger.create_market(
            t.tick_value,
            spec.prices[m],
            t.imr_bps,
            t.mmr_bps,
            t.penalty_bps,
        )?;
    }
    ledger.create_accounts(n + 1)?;
    ledger.deposit(HOUSE, spec.house_collateral)?;
    let pop = spec.population;
    for (i, &c) in pop.collateral.iter().enumerate() {
        ledger.deposit(i + 1, c)?;
    }
    for m in 0..markets {
        let (mut buyers, mut sellers, mut px, mut lots) = (vec![], vec![], vec![], vec![]);
        for i in (0..n).filter(|&i| pop.market[i] == m) {
            let (b, s) = if pop.size[i] > 0 {
                (i + 1, HOUSE)
            } else {
                (HOUSE, i + 1)
            };
            buyers.push(b);
            sellers.push(s);
            px.push(pop.entry[i]);
            lots.push(
                pop.size[i]
                    .checked_abs()
                    .ok_or(Error::Overflow("position size"))?,
            );
        }
        if !buyers.is_empty() {
            ledger.fill_many(m, &buyers, &sellers, &px, &lots)?;
        }
    }
    if spec.insurance_fund > 0 {
        ledger.fund_insurance(spec.insurance_fund, None)?;
    }
    let waterfall = effective_waterfall(&spec.waterfall, spec.granularity);
    let batched = waterfall.timing == Timing::Batched;
    let deferred = waterfall.timing == Timing::Deferred;
    ledger.set_waterfall(waterfall)?;

    let mut ids: Vec<usize> = Vec::new();
    capacity::reserve(&mut ids, n, "accounts")?;
    ids.extend(1..=n);
    let mut index = match spec.scan {
        Scan::Index => Some(Index::build(&ledger, &ids, pop.market)?),
        Scan::Every => None,
    };
    let mut engine = Engine {
        ledger,
        series: Series::with_steps(steps)?,
        accounts: Outcomes {
            equity: capacity::filled(n, 0, "accounts")?,
            haircut: capacity::filled(n, 0, "accounts")?,
            adl_lots: capacity::filled(n, 0, "accounts")?,
            adl_loss: capacity::filled(n, 0, "accounts")?,
            liquidated_step: capacity::filled(n, -1, "accounts")?,
            deficit: capacity::filled(n, 0, "accounts")?,
        },
        row: Row::default(),
        open_interest: 0,
        house_haircut: 0,
        step_lots: capacity::filled(markets, 0, "markets")?,
        queues: AdlQueues::new(),
        spec,
    };
    engine.open_interest = engine.count_open_interest()?;
    let mut found = Vec::new();
    // Liquidated but still open (ADL found no one to close against): skipped for the
    // rest of the step, so a round cannot find them again and again.
    let mut stuck: Vec<usize> = Vec::new();
    let mut is_stuck = capacity::filled(n + 1, false, "accounts")?;
    for t in 0..steps {
        let row = t * markets;
        let (marks, funding) = match (
            spec.prices.get(row..row + markets),
            spec.funding.get(row..row + markets),
        ) {
            (Some(p), Some(f)) => (p, f),
            _ => return Err(Error::Invariant("price row out of range".to_owned())),
        };
        for (m, &delta) in funding.iter().enumerate() {
            if delta != 0 {
                engine.ledger.apply_funding(m, delta)?;
                if let Some(ix) = index.as_mut() {
                    ix.rebuild(&engine.ledger, m)?;
                }
            }
        }
        engine.ledger.set_marks(marks)?;
        engine.queues.clear();
        // Accounts no counterparty could close last step are indexed again.
        for a in std::mem::take(&mut stuck) {
            if let Some(ix) = index.as_mut() {
                ix.update(&engine.ledger, a)?;
            }
            if let Some(s) = is_stuck.get_mut(a) {
                *s = false;
            }
        }
        engine.step_lots.iter_mut().for_each(|l| *l = 0);
        engine.row = Row::default();
        let boundary = deferred
            && ((spec.session_steps > 0 && (t + 1).is_multiple_of(spec.session_steps))
                || t + 1 == steps);
        let mut settled = false;
        let mut rounds = 0usize;
        loop {
            loop {
                // Each round liquidates at least one account or re-keys one whose key
                // was stale; more rounds than accounts means a key disagrees with the
                // ledger: stop with an error rather than loop.
                rounds += 1;
                if rounds > 2 * n + 16 {
                    return Err(Error::Invariant(format!(
                        "step {t}: liquidation rounds do not end (accounts {:?})",
                        found.get(..found.len().min(8))
                    )));
                }
                found.clear();
                match index.as_mut() {
                    Some(ix) => ix.triggered(marks, &mut found),
                    None => {
                        for &a in &ids {
                            if engine.ledger.is_liquidatable(a)? {
                                found.push(a);
                            }
                        }
                    }
                }
                found.sort_unstable();
                found.dedup();
                found.retain(|&a| !is_stuck.get(a).copied().unwrap_or(false));
                if found.is_empty() {
                    break;
                }
                if let Some(ix) = index.as_mut() {
                    // A loosened key pops early: the round is who is liquidatable now,
                    // exactly as the scan finds; the others are re-keyed exactly.
                    let mut early = Vec::new();
                    let mut keep = Vec::with_capacity(found.len());
                    for &a in &found {
                        if engine.ledger.is_liquidatable(a)? {
                            keep.push(a);
                        } else {
                            early.push(a);
                        }
                    }
                    ix.update_many(&engine.ledger, &early)?;
                    found = keep;
                    if found.is_empty() {
                        continue;
                    }
                }
                for &a in &found {
                    let (mut touched, haircuts) = engine.liquidate(a, t)?;
                    if engine.ledger.is_liquidatable(a)? {
                        stuck.push(a);
                        if let Some(s) = is_stuck.get_mut(a) {
                            *s = true;
                        }
                    }
                    if let Some(ix) = index.as_mut() {
                        touched.push(a);
                        ix.update_many(&engine.ledger, &touched)?;
                        ix.loosen(&engine.ledger, &haircuts)?;
                    }
                }
            }
            // A session boundary settles once (a new session starts even without a loss);
            // a pooled step settles while its rounds leave a loss to share.
            let settle = (batched && engine.ledger.deferred_loss() > 0) || (boundary && !settled);
            if !settle {
                break;
            }
            settled = true;
            let haircuts = engine.settle()?;
            if let Some(ix) = index.as_mut() {
                ix.loosen(&engine.ledger, &haircuts)?;
            }
        }
        engine.push_row()?;
        tick(t)?;
    }
    let ledger = engine.ledger;
    for (i, e) in engine.accounts.equity.iter_mut().enumerate() {
        *e = to64(ledger.equity(i + 1)?, "final equity")?;
    }
    Ok(Run {
        series: engine.series,
        accounts: engine.accounts,
        house_haircut: engine.house_haircut,
        ledger,
    })
}

/// The waterfall the ledger runs: per-step granularity pools immediate socialization
/// (`batched`), except over `open_interest`, which shares each deficit in its own market.
fn effective_waterfall(wf: &Waterfall, granularity: Granularity) -> Waterfall {
    let mut out = wf.clone();
    let pooled = matches!(
        wf.socialize(),
        Some(Stage::Socialize { base, .. }) if *base != crate::ledger::Base::OpenInterest
    );
    if granularity == Granularity::Step && wf.timing == Timing::Immediate && pooled {
        out.timing = Timing::Batched;
    }
    out
}

fn validate(spec: &Spec<'_>) -> Result<(usize, usize)> {
    let markets = spec.markets.len();
    if markets == 0 {
        return invalid("a backtest needs at least one market".to_owned());
    }
    let pop = spec.population;
    let n = pop.collateral.len();
    for (what, len) in [
        ("market", pop.market.len()),
        ("size", pop.size.len()),
        ("entry", pop.entry.len()),
    ] {
        if len != n {
            return invalid(format!("{what} has {len} entries for {n} accounts"));
        }
    }
    if spec.prices.is_empty() || !spec.prices.len().is_multiple_of(markets) {
        return invalid(format!(
            "prices must hold steps x {markets} marks, got {} values",
            spec.prices.len()
        ));
    }
    if spec.funding.len() != spec.prices.len() {
        return invalid("funding must have the shape of prices".to_owned());
    }
    if let Some(&p) = spec.prices.iter().find(|&&p| p <= 0 || p > MAX_PRICE) {
        return invalid(format!("marks must be in 1..={MAX_PRICE} ticks, got {p}"));
    }
    for i in 0..n {
        if pop.collateral[i] <= 0 || pop.size[i] == 0 || pop.entry[i] <= 0 {
            return invalid(format!(
                "account {i}: collateral and entry must be > 0 and size non-zero"
            ));
        }
        if pop.market[i] >= markets {
            return invalid(format!("account {i}: unknown market {}", pop.market[i]));
        }
    }
    if spec.house_collateral <= 0 || spec.insurance_fund < 0 {
        return invalid("house_collateral must be > 0 and insurance_fund >= 0".to_owned());
    }
    if spec.slippage_bps < 0 || spec.impact_bps < 0 || spec.depth_lots <= 0 {
        return invalid("slippage_bps and impact_bps must be >= 0, depth_lots > 0".to_owned());
    }
    spec.waterfall.validate()?;
    Ok((spec.prices.len() / markets, n))
}

/// The step's running figures.
#[derive(Debug, Default, Clone, Copy)]
struct Row {
    deficit: i128,
    paid: [i128; 4],
    haircuts: i128,
    haircut_accounts: i64,
    liquidations: i64,
    bankruptcies: i64,
    adl_fills: i64,
    adl_lots: i128,
}

struct Engine<'s, 'a> {
    ledger: Ledger,
    series: Series,
    accounts: Outcomes,
    row: Row,
    open_interest: i128,
    house_haircut: i128,
    /// Lots liquidated per market this step (the cascade's price impact).
    step_lots: Vec<i128>,
    queues: AdlQueues,
    spec: &'s Spec<'a>,
}

impl Engine<'_, '_> {
    fn count_open_interest(&self) -> Result<i128> {
        let mut total = 0i128;
        for m in 0..self.ledger.num_markets() {
            total += self
                .ledger
                .positions(m)?
                .iter()
                .map(|p| i128::from(p.size.max(0)))
                .sum::<i128>();
        }
        Ok(total)
    }

    /// Long lots of `a` in `m`.
    fn longs(&self, a: usize, m: usize) -> Result<i128> {
        Ok(i128::from(self.ledger.position(a, m)?.size.max(0)))
    }

    /// The backstop's price for closing `a` in `m`: the mark moved against the account by
    /// the slippage and the step's impact, rounded against it (never better than the
    /// formula), at least 1 tick and with no ceiling (docs/backtests.md; a mark is at most
    /// `MAX_PRICE`, so the price fits `i64` with room to spare).
    fn backstop_price(&self, m: usize, size: i64) -> Result<i64> {
        let mk = self.ledger.market(m)?;
        let s = self.spec;
        let done = self.step_lots.get(m).copied().unwrap_or(0);
        // Saturating: the total is capped at 5,000 bps below anyway.
        let impact = i128::from(s.impact_bps).saturating_mul(done) / i128::from(s.depth_lots);
        let bps = (i128::from(s.slippage_bps) + impact).min(5_000);
        let mark = i128::from(mk.mark);
        let moved = if size > 0 {
            // Selling a long: floor(mark * (1 - bps)).
            (mark * (10_000 - bps)).div_euclid(10_000)
        } else {
            // Buying back a short: ceil(mark * (1 + bps)).
            -(-(mark * (10_000 + bps))).div_euclid(10_000)
        };
        to64(moved.max(1), "backstop price")
    }

    /// Liquidates `a` if it still is liquidatable; returns the other accounts whose
    /// positions it touched and the haircuts it took.
    #[allow(clippy::type_complexity)]
    fn liquidate(&mut self, a: usize, step: usize) -> Result<(Vec<usize>, Vec<(usize, i128)>)> {
        if !self.ledger.is_liquidatable(a)? {
            return Ok((Vec::new(), Vec::new()));
        }
        let markets = self.ledger.num_markets();
        let mut prices = Vec::with_capacity(1);
        let mut before = 0i128;
        for m in 0..markets {
            let size = self.ledger.position(a, m)?.size;
            if size != 0 {
                prices.push((m, self.backstop_price(m, size)?));
                before += self.longs(a, m)? + self.longs(HOUSE, m)?;
            }
        }
        let event = match self
            .ledger
            .liquidate_queued(a, HOUSE, Some(&prices), &mut self.queues)
        {
            Ok(_) => self.ledger.last_event(),
            Err(Error::InsufficientMargin(_)) => self.liquidate_without_adl(a, &prices)?,
            Err(e) => return Err(e),
        }
        .ok_or_else(|| Error::Invariant("no liquidation event".to_owned()))?;
        let Event::Liquidate {
            deficit,
            stages,
            haircuts,
            adl,
            closes,
            ..
        } = event
        else {
            return Err(Error::Invariant(
                "liquidate recorded another event".to_owned(),
            ));
        };
        let mut after = 0i128;
        for &(m, _) in &prices {
            after += self.longs(a, m)? + self.longs(HOUSE, m)?;
        }
        for c in &closes {
            let lots = i128::from(c.size.unsigned_abs());
            if let Some(l) = self.step_lots.get_mut(c.market) {
                *l += lots;
            }
        }
        let i = a - 1;
        self.accounts.liquidated_step[i] = i64::try_from(step).unwrap_or(i64::MAX);
        self.accounts.deficit[i] = to64(deficit, "deficit")?;
        self.row.liquidations += 1;
        if deficit > 0 {
            self.row.bankruptcies += 1;
        }
        add_to(&mut self.row.deficit, deficit, "deficit")?;
        for (kind, paid) in stages {
            let slot = match kind {
                StageKind::InsuranceFund | StageKind::FeePool => 0,
                StageKind::Socialize => 1,
                StageKind::Adl => 2,
                StageKind::BadDebt => 3,
            };
            if let Some(total) = self.row.paid.get_mut(slot) {
                add_to(total, paid, "paid")?;
            }
        }
        self.take_haircuts(&haircuts)?;
        let mut touched = Vec::with_capacity(adl.len() + 1);
        for (m, fill) in &adl {
            let c = fill.counterparty;
            let mk = self.ledger.market(*m)?;
            // The counterparty traded `size` lots at `price` instead of at the mark: its
            // loss is minus that trade's PnL at the mark.
            let contract = mk.contract();
            let basis = contract
                .add_basis(0, fill.size, fill.price)
                .map_err(|_| Error::Overflow("ADL loss"))?;
            let loss = contract
                .pnl(fill.size, basis, i128::from(mk.mark))
                .narrow("ADL loss")
                .ok()
                .and_then(i128::checked_neg)
                .ok_or(Error::Overflow("ADL loss"))?;
            if c != HOUSE {
                // The house's longs are already in `before` and `after`.
                let now = self.longs(c, *m)?;
                let was = i128::from((self.ledger.position(c, *m)?.size - fill.size).max(0));
                after += now - was;
            }
            if c != HOUSE {
                let lots = to64(i128::from(fill.size.unsigned_abs()), "ADL lots")?;
                add64(&mut self.accounts.adl_lots[c - 1], lots, "ADL lots")?;
                add64(
                    &mut self.accounts.adl_loss[c - 1],
                    to64(loss, "ADL loss")?,
                    "ADL loss",
                )?;
            }
            self.row.adl_fills += 1;
            self.row.adl_lots += i128::from(fill.size.unsigned_abs());
            touched.push(c);
        }
        touched.push(HOUSE);
        self.open_interest += after - before;
        Ok((touched, haircuts))
    }

    /// The ADL path was refused (a counterparty would end below zero equity): the
    /// liquidation is redone with the waterfall's ADL stage left out, so the backstop
    /// closes the account and what the other stages do not pay is bad debt.
    fn liquidate_without_adl(
        &mut self,
        a: usize,
        prices: &[(usize, i64)],
    ) -> Result<Option<Event>> {
        let full = self.ledger.waterfall().clone();
        let mut without = full.clone();
        without.stages.retain(|s| !matches!(s, Stage::Adl { .. }));
        if without.stages.len() == full.stages.len() {
            return Err(Error::Invariant(
                "a liquidation without ADL was refused for margin".to_owned(),
            ));
        }
        self.ledger.set_waterfall(without)?;
        let done = self
            .ledger
            .liquidate_queued(a, HOUSE, Some(prices), &mut self.queues)
            .map(|_| ());
        let event = self.ledger.last_event();
        self.ledger.set_waterfall(full)?;
        done?;
        Ok(event)
    }

    fn take_haircuts(&mut self, haircuts: &[(usize, i128)]) -> Result<()> {
        for &(c, h) in haircuts {
            if c == HOUSE {
                add_to(&mut self.house_haircut, h, "house haircut")?;
            } else {
                add64(
                    &mut self.accounts.haircut[c - 1],
                    to64(h, "haircut")?,
                    "haircut",
                )?;
            }
            add_to(&mut self.row.haircuts, h, "haircuts")?;
            self.row.haircut_accounts += 1;
        }
        Ok(())
    }

    /// Settles the pooled or deferred loss; returns the accounts it haircut.
    fn settle(&mut self) -> Result<Vec<(usize, i128)>> {
        self.ledger.settle_session()?;
        let event = self
            .ledger
            .last_event()
            .ok_or_else(|| Error::Invariant("no settlement event".to_owned()))?;
        let Event::SettleSession {
            haircuts, bad_debt, ..
        } = event
        else {
            return Err(Error::Invariant("settle recorded another event".to_owned()));
        };
        // What the pool could not collect is bad debt after all.
        add_to(&mut self.row.paid[1], -bad_debt, "paid")?;
        add_to(&mut self.row.paid[3], bad_debt, "paid")?;
        self.take_haircuts(&haircuts)?;
        Ok(haircuts)
    }

    fn push_row(&mut self) -> Result<()> {
        let l = &self.ledger;
        let mut fund = l.insurance_fund();
        for mk in l.markets() {
            add_to(&mut fund, mk.insurance_fund, "insurance fund")?;
        }
        let r = self.row;
        let s = &mut self.series;
        s.insurance_fund.push(to64(fund, "insurance fund")?);
        s.bad_debt.push(to64(l.bad_debt(), "bad debt")?);
        s.deferred_loss
            .push(to64(l.deferred_loss(), "deferred loss")?);
        s.deficit.push(to64(r.deficit, "deficit")?);
        s.paid_insurance.push(to64(r.paid[0], "paid")?);
        s.paid_socialized.push(to64(r.paid[1], "paid")?);
        s.paid_adl.push(to64(r.paid[2], "paid")?);
        s.paid_bad_debt.push(to64(r.paid[3], "paid")?);
        s.haircuts.push(to64(r.haircuts, "haircuts")?);
        s.haircut_accounts.push(r.haircut_accounts);
        s.liquidations.push(r.liquidations);
        s.bankruptcies.push(r.bankruptcies);
        s.adl_fills.push(r.adl_fills);
        s.adl_lots.push(to64(r.adl_lots, "ADL lots")?);
        s.open_interest
            .push(to64(self.open_interest, "open interest")?);
        Ok(())
    }
}
