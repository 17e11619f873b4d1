//! The operations other than liquidation, deleveraging and settlement (docs/ledger.md
//! "Operations"): markets and accounts, money in and out, trades, marks, funding and the
//! waterfall's configuration. Each validates in the contract's order, then writes through
//! the undo journal (`undo.rs`) inside one transaction: all or nothing.

use super::num::{add, sub};
use super::position::trade;
use super::{Event, FillArgs, Ledger, Market, Position, Waterfall};
use crate::capacity;
use crate::error::{Error, Result};

impl Ledger {
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
        self.operate(|l, undo| {
            let id = l.markets.len();
            let column = capacity::filled(
                l.collateral.len(),
                Position::flat(market.funding_index),
                "positions",
            )?;
            capacity::reserve(&mut l.positions, 1, "markets")?;
            capacity::reserve(&mut l.markets, 1, "markets")?;
            l.add_market(market, column, undo)?;
            Ok(Event::CreateMarket {
                tick_value,
                mark,
                imr_bps,
                mmr_bps,
                penalty_bps,
                market: id,
            })
        })
    }

    /// Creates an account with no collateral and a flat position in every market (whose
    /// funding snapshot is the market's index: it owes nothing for the past).
    pub fn create_account(&mut self) -> Result<&Event> {
        self.operate(|l, undo| {
            let id = l.collateral.len();
            l.reserve_accounts(1)?;
            l.add_accounts(1, undo)?;
            Ok(Event::CreateAccount { account: id })
        })
    }

    /// Creates `n` accounts at once (one `create_account` event each); returns the first id.
    /// A count beyond the address space is an `InvalidArgument`, one whose memory cannot
    /// be reserved an `OutOfMemory`; either way nothing changes.
    pub fn create_accounts(&mut self, n: usize) -> Result<usize> {
        let first = self.collateral.len();
        let total = first
            .checked_add(n)
            .ok_or_else(|| Error::InvalidArgument(format!("{n} more accounts are too many")))?;
        // A backtest's ledger (no journal kept) records nothing here.
        let events = if self.scratch.forget_journal { 0 } else { n };
        // The journal's slots are reserved by `transact`; the columns' here.
        let reserved = self.transact(events, |l, undo| {
            l.reserve_accounts(n)?;
            l.add_accounts(n, undo)
        });
        if let Err(e) = reserved {
            self.release_capacity();
            return Err(e);
        }
        if !self.scratch.forget_journal {
            self.journal
                .extend((first..total).map(|account| Event::CreateAccount { account }));
        }
        Ok(first)
    }

    /// Reserves every per-account column for `n` more accounts: the whole size is checked
    /// against the address space first, then each column is reserved fallibly.
    fn reserve_accounts(&mut self, n: usize) -> Result<()> {
        let per_account = 3 * std::mem::size_of::<i128>()
            + self.markets.len() * std::mem::size_of::<Position>()
            + std::mem::size_of::<Event>();
        capacity::bytes(n, per_account, "accounts")?;
        capacity::reserve(&mut self.collateral, n, "accounts")?;
        capacity::reserve(&mut self.session_start_equity, n, "accounts")?;
        capacity::reserve(&mut self.session_deposits, n, "accounts")?;
        for column in &mut self.positions {
            capacity::reserve(column, n, "accounts")?;
        }
        Ok(())
    }

    /// Gives back what a failed reservation took (capacity beyond the columns' lengths;
    /// their contents do not change).
    fn release_capacity(&mut self) {
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
        self.operate(|l, undo| {
            l.set_collateral(account, c, undo)?;
            l.set_session_deposit(account, s, undo)?;
            l.totals.deposits = d;
            Ok(Event::Deposit { account, amount })
        })
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
        self.operate(|l, undo| {
            l.set_collateral(account, collateral - a, undo)?;
            l.set_session_deposit(account, session_deposits, undo)?;
            l.totals.withdrawals = w;
            Ok(Event::Withdraw { account, amount })
        })
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
        self.operate(|l, undo| {
            match market {
                Some(m) => {
                    let mk = l.market_mut(m, undo)?;
                    mk.insurance_fund = add(mk.insurance_fund, a, "insurance fund")?;
                }
                None => {
                    l.totals.insurance_fund = add(l.totals.insurance_fund, a, "insurance fund")?;
                }
            }
            l.totals.deposits = d;
            Ok(Event::FundInsurance { amount, market })
        })
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
        self.operate(|l, undo| {
            l.set_position(buyer, market, nbp, undo)?;
            l.set_position(seller, market, nsp, undo)?;
            l.set_collateral(buyer, nbc, undo)?;
            l.set_collateral(seller, nsc, undo)?;
            l.totals.fee_pool = fees;
            if check_margin {
                let grew = |old: &Position, new: &Position| {
                    new.size.unsigned_abs() > old.size.unsigned_abs()
                };
                if grew(&bp, &nbp) {
                    l.margin_ok(buyer, "buyer")?;
                }
                if grew(&sp, &nsp) {
                    l.margin_ok(seller, "seller")?;
                }
            }
            Ok(Event::Fill {
                args,
                buyer_realized: b_real,
                seller_realized: s_real,
            })
        })
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
        // The event's copies first: past this point nothing fails for want of memory.
        let event = Event::FillMany {
            market,
            buyers: capacity::copied(buyers, "fills")?,
            sellers: capacity::copied(sellers, "fills")?,
            prices: capacity::copied(prices, "fills")?,
            sizes: capacity::copied(sizes, "fills")?,
        };
        let generation = self.scratch.next_generation(accounts)?;
        self.operate(|l, undo| {
            // Disjoint borrows of the three columns the loop touches; each account's
            // first state is logged once (generation stamps), whatever the batch length.
            let column = l
                .positions
                .get_mut(market)
                .ok_or(Error::UnknownMarket(market))?;
            let collateral = &mut l.collateral;
            let seen = &mut l.scratch.seen;
            for (((&b, &s), &price), &q) in buyers.iter().zip(sellers).zip(prices).zip(sizes) {
                for (acct, delta) in [(b, q), (s, -q)] {
                    let (Some(pos), Some(col), Some(g)) = (
                        column.get_mut(acct),
                        collateral.get_mut(acct),
                        seen.get_mut(acct),
                    ) else {
                        return Err(Error::UnknownAccount(acct));
                    };
                    if *g != generation {
                        *g = generation;
                        undo.save_account(acct, market, *pos, *col)?;
                    }
                    let (new, change) =
                        trade(pos, mk.funding_index, mk.contract(), delta, price.into())?;
                    let c = add(*col, change, "collateral")?;
                    *pos = new;
                    *col = c;
                }
            }
            Ok(event)
        })
    }

    /// Sets a market's mark price (ticks, > 0).
    pub fn set_mark(&mut self, market: usize, price: i64) -> Result<&Event> {
        self.market_ref(market)?;
        positive(price, "mark price")?;
        self.operate(|l, undo| {
            l.market_mut(market, undo)?.mark = price;
            Ok(Event::SetMark { market, price })
        })
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
        let event = Event::SetMarks {
            marks: capacity::copied(marks, "marks")?,
        };
        self.operate(|l, undo| {
            for (m, &p) in marks.iter().enumerate() {
                l.market_mut(m, undo)?.mark = p;
            }
            Ok(event)
        })
    }

    /// Moves the market's funding index by `delta` minor units per lot (positive: longs
    /// pay shorts). O(1): positions settle lazily.
    pub fn apply_funding(&mut self, market: usize, delta: i64) -> Result<&Event> {
        let index = self.market_ref(market)?.funded(delta)?;
        self.operate(|l, undo| {
            l.market_mut(market, undo)?.funding_index = index;
            Ok(Event::ApplyFunding { market, delta })
        })
    }

    /// Replaces the waterfall configuration.
    pub fn set_waterfall(&mut self, waterfall: Waterfall) -> Result<&Event> {
        waterfall.validate()?;
        let recorded = waterfall.clone();
        self.operate(|l, undo| {
            l.replace_waterfall(waterfall, undo)?;
            Ok(Event::SetWaterfall {
                waterfall: recorded,
            })
        })
    }
}

pub(crate) fn positive(v: i64, what: &str) -> Result<()> {
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
