//! The liquidation index: each account keyed by the mark at which it becomes
//! liquidatable, per market and side, so a price step touches only the accounts the
//! move crosses.
//!
//! Keys are exact: a long's key is the highest mark (ticks) at which it is liquidatable,
//! a short's the lowest, found with the ledger's own formulas (an estimate, then a
//! gallop and a bisection over the monotone predicate). An account whose collateral,
//! position or funding changes is re-keyed; its old heap entry is left behind and
//! skipped when popped (a version number), and a heap with too many of those is rebuilt.

use crate::error::{Error, Result};
use crate::ledger::{Ledger, Market, Position};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Marks above this many ticks are outside the index's search (the engine refuses such
/// paths), which keeps every product of the search inside `i128`.
pub const MAX_PRICE: i64 = 1 << 40;

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
}

/// Where an account sits: its market, side and key, or nowhere (flat, or never
/// liquidatable within `1..=MAX_PRICE`).
struct Key {
    market: usize,
    long: bool,
    key: i64,
}

impl Index {
    /// An index over `accounts` (ledger ids, each with `market[i]`), keyed now.
    pub fn build(ledger: &Ledger, accounts: &[usize], market: &[usize]) -> Result<Index> {
        let markets = ledger.num_markets();
        let mut members = vec![Vec::new(); markets];
        let mut tracked = vec![false; ledger.num_accounts()];
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
            version: vec![0; ledger.num_accounts()],
            members,
            tracked,
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
        for &a in members {
            let v = self
                .version
                .get_mut(a as usize)
                .ok_or(Error::UnknownAccount(a as usize))?;
            *v = v.wrapping_add(1);
            if let Some(k) = key(ledger, a as usize)? {
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
        let Some(v) = self.version.get_mut(a) else {
            return Ok(());
        };
        *v = v.wrapping_add(1);
        let v = *v;
        let id = u32::try_from(a).map_err(|_| Error::UnknownAccount(a))?;
        if let Some(k) = key(ledger, a)? {
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
            if book.longs.len() + book.shorts.len() > 4 * members + 1_024 {
                self.rebuild(ledger, k.market)?;
            }
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
    let rest = ledger.equity(a)? - p.upnl(mk.mark, mk.tick_value)?;
    let at = |x: i64| liquidatable_at(&p, &mk, rest, x);
    let long = p.size > 0;
    let guess = estimate(&p, &mk, rest).clamp(1, MAX_PRICE);
    let key = if long {
        // Highest x with at(x): at is true below the key, false above.
        if !at(1) {
            return Ok(None);
        }
        if at(MAX_PRICE) {
            MAX_PRICE
        } else {
            let (lo, hi) = bracket(guess, &at);
            bisect(lo, hi, &at)
        }
    } else {
        // Lowest x with at(x): false below the key, true above.
        if !at(MAX_PRICE) {
            return Ok(None);
        }
        if at(1) {
            1
        } else {
            let (lo, hi) = bracket(guess, |x| !at(x));
            bisect(lo, hi, |x| !at(x)) + 1
        }
    };
    Ok(Some(Key {
        market: m,
        long,
        key,
    }))
}

/// Whether the position's account is liquidatable at mark `x`: the ledger's own
/// `equity < maintenance` with `rest` the equity from everything but this market's PnL.
/// An overflow at an extreme mark counts as the side's limit (a long deep in profit is
/// safe, a short deep in loss is not).
fn liquidatable_at(p: &Position, mk: &Market, rest: i128, x: i64) -> bool {
    let moved = Market { mark: x, ..*mk };
    let equity = p
        .upnl(x, mk.tick_value)
        .ok()
        .and_then(|u| rest.checked_add(u));
    let maintenance = crate::ledger::maintenance_of(p, &moved).ok();
    match (equity, maintenance) {
        (Some(e), Some(r)) => e < r,
        _ => p.size < 0,
    }
}

/// Where the linear part of `equity - maintenance` crosses zero (ticks), ignoring the
/// requirement's rounding; only a starting point for the exact search.
fn estimate(p: &Position, mk: &Market, rest: i128) -> i64 {
    let q = i128::from(p.size);
    let tv = i128::from(mk.tick_value);
    let slope = (q * 10_000 - q.abs() * i128::from(mk.mmr_bps)).checked_mul(tv);
    let intercept = rest
        .checked_sub(p.basis.saturating_mul(tv))
        .and_then(|v| v.checked_mul(10_000));
    match (slope, intercept) {
        (Some(s), Some(c)) if s != 0 => {
            let x = -c / s;
            i64::try_from(x.clamp(1, i128::from(MAX_PRICE))).unwrap_or(1)
        }
        _ => 1,
    }
}

/// `(lo, hi)` with `pred(lo)` true and `pred(hi)` false, galloping out from `guess`;
/// `pred` must be true at 1, false at `MAX_PRICE` and monotone.
fn bracket(guess: i64, pred: impl Fn(i64) -> bool) -> (i64, i64) {
    let mut step = 1i64;
    if pred(guess) {
        let mut lo = guess;
        loop {
            let hi = lo.saturating_add(step).min(MAX_PRICE);
            if !pred(hi) {
                return (lo, hi);
            }
            lo = hi;
            step = step.saturating_mul(2);
        }
    } else {
        let mut hi = guess;
        loop {
            let lo = hi.saturating_sub(step).max(1);
            if pred(lo) {
                return (lo, hi);
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
