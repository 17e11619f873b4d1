//! Session settlement (docs/ledger.md "Sessions"): the deferred loss is clawed back from
//! the session's profits, then every account starts a new session.

use super::liquidate::Bankrupt;
use super::num::{add, overflow64};
use super::undo::Undo;
use super::waterfall::{Stage, Timing};
use super::{claim64, Event, Ledger};
use crate::allocate::{allocate, Options, Rounding, Rule};
use crate::capacity;
use crate::error::Result;

impl Ledger {
    /// Allocates `deferred_loss` with the socialize stage's rule, rounding and max_rate
    /// (pro_rata exact without one) over every account's `max(0, session_profit)`, takes
    /// the haircuts from collateral, moves what is left to `bad_debt` (a rounding-up
    /// surplus to the insurance fund), then starts a new session for every account.
    pub fn settle_session(&mut self) -> Result<&Event> {
        self.operate(|l, undo| l.settle_with(undo))
    }

    fn settle_with(&mut self, undo: &mut Undo) -> Result<Event> {
        let deferred = self.totals.deferred_loss;
        let mut collected = 0i128;
        let mut haircuts = Vec::new();
        let mut moved = 0i128;
        if deferred > 0 && self.waterfall.timing == Timing::Batched {
            (collected, haircuts, moved) = self.allocate_batch(deferred, undo)?;
        } else if deferred > 0 {
            let (rule, rounding, max_rate) = match self.waterfall.socialize() {
                Some(Stage::Socialize {
                    rule,
                    rounding,
                    max_rate,
                    ..
                }) => (*rule, *rounding, *max_rate),
                _ => (Rule::ProRata, Rounding::Exact, None),
            };
            let loss = i64::try_from(deferred).map_err(|_| overflow64("deferred loss"))?;
            let mut claims = Vec::new();
            capacity::reserve(&mut claims, self.num_accounts(), "claims")?;
            for a in 0..self.num_accounts() {
                claims.push(claim64(self.session_profit(a)?, "session profit claim")?);
            }
            let opts = Options {
                rule,
                rounding,
                max_rate: Stage::rate(max_rate)?,
                ..Options::default()
            };
            let (cuts, summary) = allocate(&claims, loss, &opts)?;
            drop(claims);
            haircuts = self.take_haircuts(cuts, undo)?;
            let total = i128::try_from(summary.total).map_err(|_| overflow64("haircuts"))?;
            let surplus = i128::try_from(summary.surplus).map_err(|_| overflow64("surplus"))?;
            collected = total;
            let covered = total - surplus;
            moved = deferred - covered;
            if surplus > 0 {
                self.totals.insurance_fund =
                    add(self.totals.insurance_fund, surplus, "insurance fund")?;
            }
            self.totals.bad_debt = add(self.totals.bad_debt, moved, "bad debt")?;
            self.totals.deferred_loss = 0;
        }
        // Batched timing only pools a step's losses: it has no sessions to restart.
        if self.waterfall.timing != Timing::Batched {
            let equities = self.equities()?;
            self.restart_sessions(equities, undo)?;
        }
        Ok(Event::SettleSession {
            collected,
            haircuts,
            bad_debt: moved,
        })
    }

    /// Batched timing: `deferred_loss` allocated once over the socialize stage's own base
    /// and caps (no account excluded). Returns (collected, haircuts, moved to bad debt).
    #[allow(clippy::type_complexity)]
    fn allocate_batch(
        &mut self,
        deferred: i128,
        undo: &mut Undo,
    ) -> Result<(i128, Vec<(usize, i128)>, i128)> {
        let Some(Stage::Socialize {
            rule,
            rounding,
            base,
            max_rate,
            weights,
        }) = self.waterfall.socialize().cloned()
        else {
            // No stage to allocate with: the whole batch is bad debt.
            self.totals.bad_debt = add(self.totals.bad_debt, deferred, "bad debt")?;
            self.totals.deferred_loss = 0;
            return Ok((0, Vec::new(), deferred));
        };
        let loss = i64::try_from(deferred).map_err(|_| overflow64("deferred loss"))?;
        let nobody = Bankrupt {
            account: usize::MAX,
            first_market: None,
        };
        let (claims, caps) = self.claims(base, weights.as_deref(), nobody, deferred)?;
        let opts = Options {
            rule,
            rounding,
            caps: caps.as_deref(),
            max_rate: Stage::rate(max_rate)?,
            ..Options::default()
        };
        let (cuts, summary) = allocate(&claims, loss, &opts)?;
        drop(claims);
        let haircuts = self.take_haircuts(cuts, undo)?;
        let total = i128::try_from(summary.total).map_err(|_| overflow64("haircuts"))?;
        let surplus = i128::try_from(summary.surplus).map_err(|_| overflow64("surplus"))?;
        let moved = deferred - (total - surplus);
        if surplus > 0 {
            self.totals.insurance_fund =
                add(self.totals.insurance_fund, surplus, "insurance fund")?;
        }
        self.totals.bad_debt = add(self.totals.bad_debt, moved, "bad debt")?;
        self.totals.deferred_loss = 0;
        Ok((total, haircuts, moved))
    }
}
