//! The liquidation index: each account keyed by the mark at which it becomes
//! liquidatable, per market and side, so a price step touches only the accounts the
//! move crosses.
//!
//! Keys are exact: a long's key is the highest mark (ticks) at which it is liquidatable,
//! a short's the lowest, found with the ledger's own formulas (an estimate, then a
//! gallop and a bisection over the monotone predicate). An account whose collateral,
//! position or funding changes is re-keyed; its old heap entry is left behind and
//! skipped when popped (a version number), and a heap with too many of those is rebuilt.

use crate::capacity;
use crate::error::{Error, Result};
use crate::ledger::{Ledger, Market, Position};
use rayon::prelude::*;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Marks above this many ticks are outside the index's search (the engine refuses such
/// paths), which keeps every product of the search inside `i128`.
pub const MAX_PRICE: i64 = 1 << 40;

/// Below this many accounts, re-keying stays on one thread.
const PARALLEL_MIN: usize = 4_096;

type LongHeap = BinaryHeap<(i64, u32, u32)>;
type ShortHeap = BinaryHeap<Reverse<(i64, u32, u32)>>;

/// Per market: longs (max-heap by key) and shorts (min-heap by key).
#[derive(Debug, Default)]
struct Book {
    longs: LongHeap,
    shorts: ShortHeap,
}

#[derive(Debug)]
pub struct Index {
    books: Vec<Book>,
    /// Per account: the version of its live entry (entries with another are stale).
    version: Vec<u32>,
    /// Per market: the accounts that trade it (an account trades one market).
    members: Vec<Vec<u32>>,
    /// Per account: whether it is indexed (the house is not).
    tracked: Vec<bool>,
    /// Per account: its live entry's key, if it has one.
    current: Vec<Option<Key>>,
    /// Per account: a key known to be no later than the true one (after loosening),
    /// which the live entry is never later than.
    bound: Vec<i64>,
}

/// Where an account sits: its market, side and key, or nowhere (flat, or never
/// liquidatable within `1..=MAX_PRICE`).
#[derive(Debug, Clone, Copy)]
struct Key {
    market: usize,
    long: bool,
    key: i64,
}

impl Index {
    /// An index over `accounts` (ledger ids, each with `market[i]`), keyed now.
    pub fn build(ledger: &Ledger, accounts: &[usize], market: &[usize]) -> Result<Index> {
        let markets = ledger.num_markets();
        let n = ledger.num_accounts();
        let mut members = capacity::filled(markets, Vec::new(), "markets")?;
        let mut tracked = capacity::filled(n, false, "accounts")?;
        for (&a, &m) in accounts.iter().zip(market) {
            if let Some(t) = tracked.get_mut(a) {
                *t = true;
            }
            let id = u32::try_from(a)
                .map_err(|_| Error::InvalidArgument("more than 2^32 accounts".to_owned()))?;
            members.get_mut(m).ok_or(Error::UnknownMarket(m))?.push(id);
        }
        let mut index = Index {
            books: (0..markets).map(|_| Book::default()).collect(),
            version: capacity::filled(n, 0, "accounts")?,
            members,
            tracked,
            current: capacity::filled(n, None, "accounts")?,
            bound: capacity::filled(n, 0, "accounts")?,
        };
        for m in 0..markets {
            index.rebuild(ledger, m)?;
        }
        Ok(index)
    }

    /// Re-keys every member of market `m` (after funding moved every account's equity).
    pub fn rebuild(&mut self, ledger: &Ledger, m: usize) -> Result<()> {
        let mut longs = Vec::new();
        let mut shorts = Vec::new();
        let members = self.members.get(m).ok_or(Error::UnknownMarket(m))?;
        let keys: Vec<Option<Key>> = if members.len() < PARALLEL_MIN {
            members
                .iter()
                .map(|&a| key(ledger, a as usize))
                .collect::<Result<_>>()?
        } else {
            members
                .par_iter()
                .map(|&a| key(ledger, a as usize))
                .collect::<Result<_>>()?
        };
        for (&a, k) in members.iter().zip(keys) {
            let v = self
                .version
                .get_mut(a as usize)
                .ok_or(Error::UnknownAccount(a as usize))?;
            *v = v.wrapping_add(1);
            if let Some(slot) = self.current.get_mut(a as usize) {
                *slot = k;
            }
            if let (Some(b), Some(k)) = (self.bound.get_mut(a as usize), k) {
                *b = k.key;
            }
            if let Some(k) = k {
                if k.long {
                    longs.push((k.key, a, *v));
                } else {
                    shorts.push(Reverse((k.key, a, *v)));
                }
            }
        }
        let book = self.books.get_mut(m).ok_or(Error::UnknownMarket(m))?;
        book.longs = BinaryHeap::from(longs);
        book.shorts = BinaryHeap::from(shorts);
        Ok(())
    }

    /// Re-keys one account after its state changed.
    pub fn update(&mut self, ledger: &Ledger, a: usize) -> Result<()> {
        if !self.tracked.get(a).copied().unwrap_or(false) {
            return Ok(());
        }
        let k = key(ledger, a)?;
        if self.push(a, k)? {
            if let Some(k) = k {
                self.rebuild(ledger, k.market)?;
            }
        }
        Ok(())
    }

    /// Makes `k` the account's live entry (a new version); true when the heap holds so
    /// many stale entries that its market should be rebuilt.
    fn push(&mut self, a: usize, k: Option<Key>) -> Result<bool> {
        let v = match self.version.get_mut(a) {
            Some(v) => {
                *v = v.wrapping_add(1);
                *v
            }
            None => return Ok(false),
        };
        if let Some(slot) = self.current.get_mut(a) {
            *slot = k;
        }
        let Some(k) = k else { return Ok(false) };
        if let Some(b) = self.bound.get_mut(a) {
            *b = k.key;
        }
        let id = u32::try_from(a).map_err(|_| Error::UnknownAccount(a))?;
        let book = self
            .books
            .get_mut(k.market)
            .ok_or(Error::UnknownMarket(k.market))?;
        if k.long {
            book.longs.push((k.key, id, v));
        } else {
            book.shorts.push(Reverse((k.key, id, v)));
        }
        let members = self.members.get(k.market).map_or(0, Vec::len);
        Ok(book.longs.len() + book.shorts.len() > 4 * members + 1_024)
    }

    /// After haircuts (collateral taken, nothing else changed): moves each account's key
    /// by a bound of how far the haircut can move it, without searching. The key may
    /// then be early (never late): an account it pops that is not liquidatable is
    /// re-keyed exactly by the caller.
    pub fn loosen(&mut self, ledger: &Ledger, haircuts: &[(usize, i128)]) -> Result<()> {
        // Planned in parallel (read-only), applied in order.
        let plans: Vec<Plan> = if haircuts.len() < PARALLEL_MIN {
            haircuts
                .iter()
                .map(|&(a, h)| self.plan(ledger, a, h))
                .collect::<Result<_>>()?
        } else {
            haircuts
                .par_iter()
                .map(|&(a, h)| self.plan(ledger, a, h))
                .collect::<Result<_>>()?
        };
        let mut exact = Vec::new();
        let mut rebuild = Vec::new();
        for (&(a, _), plan) in haircuts.iter().zip(plans) {
            match plan {
                Plan::Keep => {}
                Plan::Search => exact.push(a),
                Plan::Bound { moved, push } => {
                    if let Some(k) = push {
                        if self.push(a, Some(k))? {
                            rebuild.push(k.market);
                        }
                    }
                    if let Some(b) = self.bound.get_mut(a) {
                        *b = moved;
                    }
                }
            }
        }
        rebuild.sort_unstable();
        rebuild.dedup();
        for m in rebuild {
            self.rebuild(ledger, m)?;
        }
        self.update_many(ledger, &exact)
    }

    /// What a haircut of `h` on `a` does to its entry.
    fn plan(&self, ledger: &Ledger, a: usize, h: i128) -> Result<Plan> {
        if !self.tracked.get(a).copied().unwrap_or(false) || h <= 0 {
            return Ok(Plan::Keep);
        }
        let (Some(Some(k)), Some(&bound)) = (self.current.get(a).copied(), self.bound.get(a))
        else {
            // Not liquidatable at any mark before: only a search can tell now.
            return Ok(Plan::Search);
        };
        let p = ledger.position(a, k.market)?;
        let mk = ledger.market(k.market)?;
        // g = equity - maintenance moves by at least `per_tick` / 10_000 per tick (the
        // contract's bound), less one unit of the requirement's rounding: (h + 1) over
        // that is a safe shift. No bound (or an overflowing one): search instead.
        let Some(per_tick) = mk.contract().distance_per_tick(p.size, mk.mmr_bps) else {
            return Ok(Plan::Search);
        };
        let shift = shift_bound(h, per_tick);
        let moved = if k.long {
            bound.saturating_add(shift).min(MAX_PRICE)
        } else {
            bound.saturating_sub(shift).max(1)
        };
        // The live entry may still be no later than the new bound (it was pushed with
        // slack): then nothing moves in the heap.
        let behind = if k.long {
            k.key >= moved
        } else {
            k.key <= moved
        };
        let push = (!behind).then(|| {
            // Slack of about 0.4% of the price absorbs the next few haircuts.
            let slack = (moved / 256).max(1);
            let key = if k.long {
                moved.saturating_add(slack).min(MAX_PRICE)
            } else {
                moved.saturating_sub(slack).max(1)
            };
            Key { key, ..k }
        });
        Ok(Plan::Bound { moved, push })
    }

    /// Re-keys many accounts (a socialization's haircuts): the keys are computed in
    /// parallel, the heap pushes in order.
    pub fn update_many(&mut self, ledger: &Ledger, accounts: &[usize]) -> Result<()> {
        if accounts.len() < PARALLEL_MIN {
            for &a in accounts {
                self.update(ledger, a)?;
            }
            return Ok(());
        }
        let tracked = &self.tracked;
        let keys: Vec<Option<Key>> = accounts
            .par_iter()
            .map(|&a| {
                if tracked.get(a).copied().unwrap_or(false) {
                    key(ledger, a)
                } else {
                    Ok(None)
                }
            })
            .collect::<Result<_>>()?;
        let mut rebuild = Vec::new();
        for (&a, k) in accounts.iter().zip(keys) {
            if !self.tracked.get(a).copied().unwrap_or(false) {
                continue;
            }
            if self.push(a, k)? {
                if let Some(k) = k {
                    rebuild.push(k.market);
                }
            }
        }
        rebuild.sort_unstable();
        rebuild.dedup();
        for m in rebuild {
            self.rebuild(ledger, m)?;
        }
        Ok(())
    }

    /// Pops every account that `marks` make liquidatable (by key) into `out`.
    pub fn triggered(&mut self, marks: &[i64], out: &mut Vec<usize>) {
        for (book, &mark) in self.books.iter_mut().zip(marks) {
            while let Some(&(key, a, v)) = book.longs.peek() {
                if key < mark {
                    break;
                }
                book.longs.pop();
                if self.version.get(a as usize) == Some(&v) {
                    out.push(a as usize);
                }
            }
            while let Some(&Reverse((key, a, v))) = book.shorts.peek() {
                if key > mark {
                    break;
                }
                book.shorts.pop();
                if self.version.get(a as usize) == Some(&v) {
                    out.push(a as usize);
                }
            }
        }
    }
}

/// The account's key, or `None` when it holds no position or is not liquidatable at any
/// mark in `1..=MAX_PRICE`. Needs at most one open position (the engine's accounts).
fn key(ledger: &Ledger, a: usize) -> Result<Option<Key>> {
    let mut open = None;
    for m in 0..ledger.num_markets() {
        let p = ledger.position(a, m)?;
        if p.size != 0 {
            if open.is_some() {
                return Err(Error::InvalidArgument(format!(
                    "account {a} holds positions in several markets: the liquidation index keys single-position accounts"
                )));
            }
            open = Some((m, p));
        }
    }
    let Some((m, p)) = open else {
        return Ok(None);
    };
    let mk = *ledger.market(m)?;
    // Equity without this market's PnL: what does not move with its mark.
    let rest = ledger.equity(a)? - p.upnl(&mk)?;
    let at = |x: i64| liquidatable_at(&p, &mk, rest, x);
    let long = p.size > 0;
    let guess = estimate(&p, &mk, rest).clamp(1, MAX_PRICE);
    // `pred` is true up to the boundary and false past it; the estimate is within a
    // tick or two of it, so the gallop usually ends after two or three evaluations.
    let key = if long {
        // Highest x with at(x).
        match bracket(guess, at) {
            Bracket::Between(lo, hi) => bisect(lo, hi, at),
            Bracket::AllTrue => MAX_PRICE,
            Bracket::AllFalse => return Ok(None),
        }
    } else {
        // Lowest x with at(x).
        let safe = |x: i64| !at(x);
        match bracket(guess, safe) {
            Bracket::Between(lo, hi) => bisect(lo, hi, safe) + 1,
            Bracket::AllTrue => return Ok(None),
            Bracket::AllFalse => 1,
        }
    };
    Ok(Some(Key {
        market: m,
        long,
        key,
    }))
}

/// What a haircut does to an account's index entry.
enum Plan {
    /// Nothing (not indexed, or no haircut).
    Keep,
    /// A new exact key (it had none: it may have one now).
    Search,
    /// The bound moves to `moved`; a new entry is pushed if the live one is now late.
    Bound { moved: i64, push: Option<Key> },
}

/// `floor((h + 1) * 10_000 / per_tick) + 2`: a tick shift at least as large as a haircut
/// of `h` can move the key (64-bit division when it fits, which is most of the time).
fn shift_bound(h: i128, per_tick: i128) -> i64 {
    let num = (h + 1).saturating_mul(10_000);
    let q = match (i64::try_from(num), i64::try_from(per_tick)) {
        (Ok(n), Ok(d)) if d > 0 => i128::from(n / d),
        _ => num / per_tick.max(1),
    };
    i64::try_from(q + 2).unwrap_or(MAX_PRICE).min(MAX_PRICE)
}

/// Whether the position's account is liquidatable at mark `x`: the ledger's own
/// `equity < maintenance` with `rest` the equity from everything but this market's PnL.
/// An overflow at an extreme mark counts as the side's limit (a long deep in profit is
/// safe, a short deep in loss is not).
fn liquidatable_at(p: &Position, mk: &Market, rest: i128, x: i64) -> bool {
    let moved = Market { mark: x, ..*mk };
    let equity = p.upnl(&moved).ok().and_then(|u| rest.checked_add(u));
    let maintenance = crate::ledger::maintenance_of(p, &moved).ok();
    match (equity, maintenance) {
        (Some(e), Some(r)) => e < r,
        _ => p.size < 0,
    }
}

/// Where `equity - maintenance` crosses zero (ticks), by the contract's estimate; only a
/// starting point for the exact search.
fn estimate(p: &Position, mk: &Market, rest: i128) -> i64 {
    mk.contract()
        .maintenance_crossing(p.size, p.basis, mk.mmr_bps, rest)
        .map_or(1, |x| {
            i64::try_from(x.clamp(1, i128::from(MAX_PRICE))).unwrap_or(1)
        })
}

/// Where a monotone predicate (true, then false) changes over `1..=MAX_PRICE`.
enum Bracket {
    /// `pred(lo)` and `!pred(hi)`.
    Between(i64, i64),
    AllTrue,
    AllFalse,
}

/// Gallops out from `guess` (in `1..=MAX_PRICE`) to bracket the change of `pred`.
fn bracket(guess: i64, pred: impl Fn(i64) -> bool) -> Bracket {
    let mut step = 1i64;
    if pred(guess) {
        let mut lo = guess;
        loop {
            if lo == MAX_PRICE {
                return Bracket::AllTrue;
            }
            let hi = lo.saturating_add(step).min(MAX_PRICE);
            if !pred(hi) {
                return Bracket::Between(lo, hi);
            }
            lo = hi;
            step = step.saturating_mul(2);
        }
    } else {
        let mut hi = guess;
        loop {
            if hi == 1 {
                return Bracket::AllFalse;
            }
            let lo = hi.saturating_sub(step).max(1);
            if pred(lo) {
                return Bracket::Between(lo, hi);
            }
            hi = lo;
            step = step.saturating_mul(2);
        }
    }
}

/// The last x in `lo..hi` with `pred(x)`, given `pred(lo)` and `!pred(hi)`.
fn bisect(mut lo: i64, mut hi: i64, pred: impl Fn(i64) -> bool) -> i64 {
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}
