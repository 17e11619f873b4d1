//! Deleveraging and ADL ranking (docs/ledger.md "Deleveraging").
//!
//! Scores are exact rationals `num / den` of products of `i128` quantities (up to 254
//! bits), compared without multiplying them together (a Euclid-style continued-fraction
//! comparison), so no comparison can overflow. Candidates go into a binary heap: building
//! it is O(n) and only the counterparties actually needed are popped.

use super::num::overflow64;
use super::undo::Undo;
use super::waterfall::{Ranking, Stage};
use super::{AdlFill, AdlPrice, Event, Ledger};
use crate::error::{Error, Result};
use ethnum::U256;
use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet};

/// How counterparties are ranked (an ADL stage's settings).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RankSpec<'a> {
    pub ranking: Ranking,
    pub seed: i64,
    pub scores: Option<&'a [i64]>,
}

impl<'a> RankSpec<'a> {
    /// The ranking of an ADL stage, or the default (`pnl_leverage`) for anything else.
    pub(crate) fn of(stage: Option<&'a Stage>) -> RankSpec<'a> {
        match stage {
            Some(Stage::Adl {
                ranking,
                seed,
                scores,
                ..
            }) => RankSpec {
                ranking: *ranking,
                seed: *seed,
                scores: scores.as_deref(),
            },
            _ => RankSpec {
                ranking: Ranking::PnlLeverage,
                seed: 0,
                scores: None,
            },
        }
    }
}

/// ADL queues ranked once and then consumed in order, per market and side: a backtest's
/// step ranks each queue at its first use in the step (BitMEX refreshes its queue
/// periodically, not per fill), so a cascade of B bankruptcies over W winners costs
/// O(W log W + B) instead of O(B x W).
#[derive(Debug, Default, Clone)]
pub struct AdlQueues {
    /// `(market, bankrupt side is long)` -> (ranked counterparties, first not yet flat).
    queues: Vec<((usize, bool), Vec<usize>, usize)>,
}

impl AdlQueues {
    /// Empty queues (ranked again at their first use).
    pub fn new() -> AdlQueues {
        AdlQueues::default()
    }

    /// Forgets every queue.
    pub fn clear(&mut self) {
        self.queues.clear();
    }

    /// Forgets one queue, so its next use ranks afresh.
    pub(crate) fn forget(&mut self, market: usize, long: bool) {
        self.queues.retain(|(k, _, _)| *k != (market, long));
    }
}

/// Who takes the other side, in order.
pub(crate) enum Order<'a> {
    Given(&'a [usize]),
    Ranked(RankSpec<'a>),
}

/// A rank score: a signed exact rational, or "after everyone" (equity <= 0, no score).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Score {
    Last,
    Frac { neg: bool, num: U256, den: U256 },
}

impl Score {
    fn frac(neg: bool, num: U256, den: U256) -> Score {
        if den == U256::ZERO {
            return Score::Last;
        }
        // Zero has one sign, so equal scores compare equal.
        Score::Frac {
            neg: neg && num != U256::ZERO,
            num,
            den,
        }
    }

    fn int(v: i128) -> Score {
        Score::frac(v < 0, U256::from(v.unsigned_abs()), U256::ONE)
    }
}

/// `n1/d1` against `n2/d2` (non-negative, `d > 0`) by continued fractions: compare the
/// integer parts, then the inverted remainders. Terminates as Euclid's algorithm does.
fn cmp_frac(n1: U256, d1: U256, n2: U256, d2: U256) -> Ordering {
    // Usual case: every part fits 128 bits, so the cross products fit 256.
    if n1.high() | d1.high() | n2.high() | d2.high() == 0 {
        return (n1 * d2).cmp(&(n2 * d1));
    }
    cmp_frac_euclid(n1, d1, n2, d2)
}

fn cmp_frac_euclid(mut n1: U256, mut d1: U256, mut n2: U256, mut d2: U256) -> Ordering {
    loop {
        let (q1, r1) = (n1 / d1, n1 % d1);
        let (q2, r2) = (n2 / d2, n2 % d2);
        if q1 != q2 {
            return q1.cmp(&q2);
        }
        match (r1 == U256::ZERO, r2 == U256::ZERO) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            (false, false) => {}
        }
        // r1/d1 < r2/d2  <=>  d1/r1 > d2/r2: swap sides.
        (n1, d1, n2, d2) = (d2, r2, d1, r1);
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Score::Last, Score::Last) => Ordering::Equal,
            (Score::Last, _) => Ordering::Less,
            (_, Score::Last) => Ordering::Greater,
            (
                Score::Frac {
                    neg: n1,
                    num: a,
                    den: b,
                },
                Score::Frac {
                    neg: n2,
                    num: c,
                    den: d,
                },
            ) => match (n1, n2) {
                (false, true) => Ordering::Greater,
                (true, false) => Ordering::Less,
                (false, false) => cmp_frac(*a, *b, *c, *d),
                (true, true) => cmp_frac(*c, *d, *a, *b),
            },
        }
    }
}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A ranked candidate: higher score first, then the smaller id.
#[derive(Debug, PartialEq, Eq)]
struct Candidate {
    score: Score,
    id: usize,
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .cmp(&other.score)
            .then_with(|| other.id.cmp(&self.id))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Counterparties in order, produced lazily.
enum Queue<'a> {
    Given(std::slice::Iter<'a, usize>),
    Heap(BinaryHeap<Candidate>),
    List(std::vec::IntoIter<usize>),
}

impl Iterator for Queue<'_> {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        match self {
            Queue::Given(it) => it.next().copied(),
            Queue::Heap(h) => h.pop().map(|c| c.id),
            Queue::List(it) => it.next(),
        }
    }
}

fn wide_mul(a: u128, b: u128) -> U256 {
    U256::from(a) * U256::from(b)
}

impl Ledger {
    /// The ranking's score of candidate `c` in market `m`.
    fn score(&self, c: usize, m: usize, spec: &RankSpec<'_>) -> Result<Score> {
        let mk = *self.market_ref(m)?;
        let contract = mk.contract();
        let p = self.pos(c, m)?;
        let notional = || {
            contract
                .notional(p.size, i128::from(mk.mark))
                .narrow("notional")
                .map(i128::unsigned_abs)
        };
        Ok(match spec.ranking {
            Ranking::Pnl => Score::int(p.upnl(&mk)?),
            Ranking::Scores => match spec.scores.and_then(|s| s.get(c)) {
                Some(&v) => Score::int(i128::from(v)),
                None => Score::Last,
            },
            Ranking::Random => Score::Last,
            Ranking::PnlLeverage => {
                let equity = self.equity(c)?;
                if equity <= 0 {
                    return Ok(Score::Last);
                }
                let upnl = p.upnl(&mk)?;
                let notional = notional()?;
                let cost = contract
                    .cost(p.basis)
                    .narrow("position cost")?
                    .unsigned_abs();
                let (e, u) = (equity.unsigned_abs(), upnl.unsigned_abs());
                if upnl >= 0 {
                    // (upnl / cost) * (notional / equity)
                    Score::frac(false, wide_mul(u, notional), wide_mul(cost, e))
                } else {
                    // (upnl / cost) / (notional / equity)
                    Score::frac(true, wide_mul(u, e), wide_mul(cost, notional))
                }
            }
            Ranking::Hyperliquid => {
                let equity = self.equity(c)?;
                if equity <= 0 {
                    return Ok(Score::Last);
                }
                let notional = notional()?;
                let (mark, entry) = contract.mark_over_entry(p.size, p.basis, mk.mark);
                let e = equity.unsigned_abs();
                if p.size > 0 {
                    // (mark / entry) * (notional / equity)
                    Score::frac(false, wide_mul(mark, notional), wide_mul(entry, e))
                } else {
                    // (entry / mark) * (notional / equity)
                    Score::frac(false, wide_mul(entry, notional), wide_mul(mark, e))
                }
            }
        })
    }

    /// Opposite-side candidates of `account` in `market`, in ranking order.
    fn rank(&self, account: usize, market: usize, spec: &RankSpec<'_>) -> Result<Queue<'static>> {
        let size = self.pos(account, market)?.size;
        let column = self.positions(market)?;
        let ids = column
            .iter()
            .enumerate()
            .filter(|&(c, p)| c != account && p.size != 0 && (p.size > 0) != (size > 0))
            .map(|(c, _)| c);
        if spec.ranking == Ranking::Random {
            let mut list: Vec<usize> = ids.collect();
            if !list.is_empty() {
                let len = i128::try_from(list.len()).unwrap_or(i128::MAX);
                let start = usize::try_from(i128::from(spec.seed).rem_euclid(len)).unwrap_or(0);
                list.rotate_left(start);
            }
            return Ok(Queue::List(list.into_iter()));
        }
        let mut candidates = Vec::new();
        for c in ids {
            candidates.push(Candidate {
                score: self.score(c, market, spec)?,
                id: c,
            });
        }
        Ok(Queue::Heap(BinaryHeap::from(candidates)))
    }

    /// The rest of the queue for `account`'s position in `market` (ranked now if the queue
    /// is new), past the counterparties already flat.
    pub(crate) fn queued<'q>(
        &self,
        queues: &'q mut AdlQueues,
        account: usize,
        market: usize,
        spec: &RankSpec<'_>,
    ) -> Result<&'q [usize]> {
        let key = (market, self.pos(account, market)?.size > 0);
        let at = match queues.queues.iter().position(|(k, _, _)| *k == key) {
            Some(at) => at,
            None => {
                let list: Vec<usize> = self.rank(account, market, spec)?.collect();
                queues.queues.push((key, list, 0));
                queues.queues.len() - 1
            }
        };
        let Some((_, list, cursor)) = queues.queues.get_mut(at) else {
            return Err(Error::Invariant("ADL queue out of range".to_owned()));
        };
        while let Some(&c) = list.get(*cursor) {
            let held = self.pos(c, market)?.size;
            if held != 0 && (held > 0) != key.1 {
                break;
            }
            *cursor += 1;
        }
        Ok(list.get(*cursor..).unwrap_or(&[]))
    }

    /// The ranked counterparties of `account` in `market`, best first (all of them).
    pub fn adl_ranking(&self, account: usize, market: usize) -> Result<Vec<usize>> {
        self.check_account(account)?;
        self.market_ref(market)?;
        let spec = RankSpec::of(self.waterfall.adl());
        Ok(self.rank(account, market, &spec)?.collect())
    }

    /// The deleveraging loop, shared by `deleverage` and the ADL path of `liquidate`:
    /// closes `account`'s position in `market` at `price` against `order`, then requires
    /// every touched counterparty to keep `equity >= 0`. Writes through `undo`.
    pub(crate) fn deleverage_in(
        &mut self,
        account: usize,
        market: usize,
        order: Order<'_>,
        price: i128,
        undo: &mut Undo,
    ) -> Result<Vec<AdlFill>> {
        let size = self.pos(account, market)?.size;
        let queue = match order {
            Order::Given(list) => Queue::Given(list.iter()),
            Order::Ranked(spec) => self.rank(account, market, &spec)?,
        };
        let mut remaining = size.unsigned_abs();
        let mut fills = Vec::new();
        for c in queue {
            if remaining == 0 {
                break;
            }
            let held = self.pos(c, market)?.size;
            // A queued counterparty may have gone flat, or to this side, since it was
            // ranked (the ranked and given orders hold only opposite positions).
            if held == 0 || (held > 0) == (size > 0) {
                continue;
            }
            let q = remaining.min(held.unsigned_abs());
            let lots = i64::try_from(q).map_err(|_| overflow64("deleveraged size"))?;
            // The bankrupt account's closed lots, signed as held (= the counterparty's trade).
            let d = if size > 0 { lots } else { -lots };
            self.trade_logged(account, market, -d, price, undo)?;
            self.trade_logged(c, market, d, price, undo)?;
            fills.push(AdlFill {
                counterparty: c,
                size: d,
                price,
            });
            remaining -= q;
        }
        for f in &fills {
            let equity = self.equity(f.counterparty)?;
            if equity < 0 {
                return Err(Error::InsufficientMargin(format!(
                    "deleveraging counterparty {} would end with equity {equity} < 0 at price {price}",
                    f.counterparty
                )));
            }
        }
        Ok(fills)
    }

    /// The price of a deleveraging: the bankruptcy price (at least 1 tick: prices are
    /// positive), the mark, or the given ticks.
    pub(crate) fn adl_price(&self, account: usize, market: usize, price: AdlPrice) -> Result<i128> {
        Ok(match price {
            AdlPrice::Ticks(p) => i128::from(p),
            AdlPrice::Mark => i128::from(self.market_ref(market)?.mark),
            AdlPrice::Bankruptcy => self.bankruptcy_price(account, market)?.max(1),
        })
    }

    /// Closes `account`'s position in `market` against opposite positions: the given
    /// `counterparties` in order, or ranked by the waterfall's ADL stage (default
    /// `pnl_leverage`). `price`: the bankruptcy price computed once at the start (at least
    /// 1 tick), the mark, or given ticks. Refused (`InsufficientMargin`, nothing changes)
    /// if a touched counterparty would end with negative equity.
    pub fn deleverage(
        &mut self,
        account: usize,
        market: usize,
        counterparties: Option<&[usize]>,
        price: AdlPrice,
    ) -> Result<&Event> {
        self.check_account(account)?;
        self.market_ref(market)?;
        let size = self.pos(account, market)?.size;
        if size == 0 {
            return Err(Error::InvalidArgument(format!(
                "account {account} has no position in market {market} to deleverage"
            )));
        }
        if let Some(list) = counterparties {
            let mut seen = HashSet::with_capacity(list.len());
            for &c in list {
                self.check_account(c)?;
                if c == account {
                    return Err(Error::InvalidArgument(format!(
                        "account {account} cannot be its own deleveraging counterparty"
                    )));
                }
                if !seen.insert(c) {
                    return Err(Error::InvalidArgument(format!(
                        "counterparty {c} appears twice"
                    )));
                }
                let cs = self.pos(c, market)?.size;
                if cs == 0 || (cs > 0) == (size > 0) {
                    return Err(Error::InvalidArgument(format!(
                        "counterparty {c} holds {cs} lots in market {market}: it needs a position opposite to {size}"
                    )));
                }
            }
        }
        if let AdlPrice::Ticks(p) = price {
            if p <= 0 {
                return Err(Error::InvalidArgument(format!(
                    "deleverage price must be > 0 ticks, got {p}"
                )));
            }
        }
        let at = self.adl_price(account, market, price)?;
        // The stage is cloned (not borrowed) because deleveraging mutates the ledger.
        let stage = self.waterfall.adl().cloned();
        let order = match counterparties {
            Some(list) => Order::Given(list),
            None => Order::Ranked(RankSpec::of(stage.as_ref())),
        };
        self.operate(|l, undo| {
            let fills = l.deleverage_in(account, market, order, at, undo)?;
            Ok(Event::Deleverage {
                account,
                market,
                counterparties: counterparties.map(<[usize]>::to_vec),
                price,
                fills,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(neg: bool, n: u128, d: u128) -> Score {
        Score::frac(neg, U256::from(n), U256::from(d))
    }

    #[test]
    fn rationals_compare_exactly() {
        assert_eq!(f(false, 1, 3).cmp(&f(false, 2, 6)), Ordering::Equal);
        assert_eq!(f(false, 1, 3).cmp(&f(false, 1, 2)), Ordering::Less);
        assert_eq!(f(false, 7, 5).cmp(&f(false, 4, 3)), Ordering::Greater);
        assert_eq!(f(true, 1, 3).cmp(&f(true, 1, 2)), Ordering::Greater);
        assert_eq!(f(true, 0, 3).cmp(&f(false, 0, 2)), Ordering::Equal);
        assert_eq!(f(true, 1, 3).cmp(&Score::Last), Ordering::Greater);
        // Differ only far past 128 bits.
        let big = U256::from(u128::MAX) * U256::from(u128::MAX);
        let a = Score::frac(false, big, big - U256::ONE);
        let b = Score::frac(false, big - U256::ONE, big - U256::from(2u8));
        assert_eq!(a.cmp(&b), Ordering::Less);
    }

    #[test]
    fn euclid_agrees_with_cross_products() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for _ in 0..20_000 {
            let mut v = [U256::ZERO; 4];
            for (i, slot) in v.iter_mut().enumerate() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *slot = U256::from(x % if i % 2 == 0 { 1_000 } else { 37 } + (i % 2) as u64);
            }
            assert_eq!(
                cmp_frac_euclid(v[0], v[1], v[2], v[3]),
                (v[0] * v[3]).cmp(&(v[2] * v[1])),
                "{v:?}"
            );
        }
    }

    #[test]
    fn candidates_tie_to_smaller_id() {
        let mut h = BinaryHeap::from(vec![
            Candidate {
                score: Score::int(5),
                id: 3,
            },
            Candidate {
                score: Score::int(5),
                id: 1,
            },
            Candidate {
                score: Score::Last,
                id: 0,
            },
            Candidate {
                score: Score::int(9),
                id: 7,
            },
        ]);
        let order: Vec<usize> = std::iter::from_fn(|| h.pop().map(|c| c.id)).collect();
        assert_eq!(order, [7, 1, 3, 0]);
    }
}
