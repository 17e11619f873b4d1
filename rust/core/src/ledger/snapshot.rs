//! Binary snapshots of the whole ledger: state, waterfall and journal.
//!
//! Layout (little endian): magic `b"MUTLEDGR"`, version `u32`, payload length `u64`, the
//! payload, then a [`checksum`] of everything before it. Any corrupted word changes the
//! checksum (each of its steps is a bijection of its state), and the decoder also checks
//! every length against the bytes left, so truncated or corrupted input is an
//! [`Error::Corrupt`], never a panic or a huge allocation. A snapshot that decodes is
//! then held to every invariant of a ledger ([`Ledger::check`] and flat positions
//! without basis) before it is returned: a checksum only says the bytes are the ones
//! written, not that whoever wrote them wrote a consistent ledger.

use super::waterfall::{Base, Ranking, Stage, StageKind, StagePrice, Timing, Waterfall};
use super::{AdlFill, AdlPrice, Close, Event, FillArgs, Ledger, Market, Position, Totals};
use crate::allocate::{Rounding, Rule};
use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"MUTLEDGR";
const VERSION: u32 = 2;
const HEADER: usize = 8 + 4 + 8;
const TRAILER: usize = 8;

fn corrupt<T>(msg: impl Into<String>) -> Result<T> {
    Err(Error::Corrupt(msg.into()))
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The snapshot checksum: FNV-1a 64 over little-endian 64-bit words (the last one padded
/// with zeros), then the byte length. Word-wise it is 8x faster than byte-wise FNV and
/// still detects any change confined to one word: `h -> (h ^ w) * prime` is a bijection
/// of `h` for a fixed word and of the word for a fixed `h`.
pub fn checksum(bytes: &[u8]) -> u64 {
    let mut h = FNV_OFFSET;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        h = (h ^ u64::from_le_bytes(b)).wrapping_mul(FNV_PRIME);
    }
    let rest = words.remainder();
    if !rest.is_empty() {
        let mut b = [0u8; 8];
        if let Some(head) = b.get_mut(..rest.len()) {
            head.copy_from_slice(rest);
        }
        h = (h ^ u64::from_le_bytes(b)).wrapping_mul(FNV_PRIME);
    }
    (h ^ bytes.len() as u64).wrapping_mul(FNV_PRIME)
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.buf.len());
        match end.and_then(|e| self.buf.get(self.at..e).map(|s| (e, s))) {
            Some((e, s)) => {
                self.at = e;
                Ok(s)
            }
            None => corrupt(format!("truncated at byte {}", self.at)),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    fn left(&self) -> usize {
        self.buf.len().saturating_sub(self.at)
    }

    /// A count of items of at least `min` bytes each, checked against what is left.
    fn count(&mut self, min: usize) -> Result<usize> {
        let n = u64::get(self)?;
        match usize::try_from(n) {
            Ok(n) if n.saturating_mul(min.max(1)) <= self.left() => Ok(n),
            _ => corrupt(format!("count {n} exceeds the data left")),
        }
    }
}

/// A value with a fixed binary form. `MIN` is its smallest encoded size (length guards).
trait Wire: Sized {
    const MIN: usize;
    fn put(&self, w: &mut Vec<u8>);
    fn get(r: &mut Reader<'_>) -> Result<Self>;
}

macro_rules! wire_int {
    ($($t:ty),*) => {$(
        impl Wire for $t {
            const MIN: usize = std::mem::size_of::<$t>();
            fn put(&self, w: &mut Vec<u8>) {
                w.extend_from_slice(&self.to_le_bytes());
            }
            fn get(r: &mut Reader<'_>) -> Result<Self> {
                Ok(<$t>::from_le_bytes(r.array()?))
            }
        }
    )*};
}
wire_int!(u8, u32, u64, i64, i128);

impl Wire for usize {
    const MIN: usize = 8;
    fn put(&self, w: &mut Vec<u8>) {
        (*self as u64).put(w);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self> {
        let v = u64::get(r)?;
        usize::try_from(v).or_else(|_| corrupt(format!("id {v} does not fit usize")))
    }
}

impl Wire for bool {
    const MIN: usize = 1;
    fn put(&self, w: &mut Vec<u8>) {
        u8::from(*self).put(w);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self> {
        match u8::get(r)? {
            0 => Ok(false),
            1 => Ok(true),
            t => corrupt(format!("bad boolean {t}")),
        }
    }
}

impl<T: Wire> Wire for Vec<T> {
    const MIN: usize = 8;
    fn put(&self, w: &mut Vec<u8>) {
        (self.len() as u64).put(w);
        for x in self {
            x.put(w);
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self> {
        let n = r.count(T::MIN)?;
        // `n` is bounded by the bytes left, but a crafted count of small encodings could
        // still ask for much more memory than the input: reserve a bounded amount only.
        let mut v = Vec::with_capacity(n.min(1 << 20));
        for _ in 0..n {
            v.push(T::get(r)?);
        }
        Ok(v)
    }
}

impl<T: Wire> Wire for Option<T> {
    const MIN: usize = 1;
    fn put(&self, w: &mut Vec<u8>) {
        match self {
            None => 0u8.put(w),
            Some(x) => {
                1u8.put(w);
                x.put(w);
            }
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self> {
        match u8::get(r)? {
            0 => Ok(None),
            1 => Ok(Some(T::get(r)?)),
            t => corrupt(format!("bad option tag {t}")),
        }
    }
}

impl<A: Wire, B: Wire> Wire for (A, B) {
    const MIN: usize = A::MIN + B::MIN;
    fn put(&self, w: &mut Vec<u8>) {
        self.0.put(w);
        self.1.put(w);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self> {
        Ok((A::get(r)?, B::get(r)?))
    }
}

/// Wire forms of field-only structs.
macro_rules! wire_struct {
    ($t:ident { $($f:ident : $ft:ty),* }) => {
        impl Wire for $t {
            const MIN: usize = 0 $(+ <$ft as Wire>::MIN)*;
            fn put(&self, w: &mut Vec<u8>) {
                $(self.$f.put(w);)*
            }
            fn get(r: &mut Reader<'_>) -> Result<Self> {
                Ok($t { $($f: <$ft>::get(r)?),* })
            }
        }
    };
}
wire_struct!(Market {
    tick_value: i64,
    mark: i64,
    imr_bps: i64,
    mmr_bps: i64,
    penalty_bps: i64,
    funding_index: i128,
    insurance_fund: i128
});
wire_struct!(Position {
    size: i64,
    basis: i128,
    funding_snapshot: i128
});
wire_struct!(Close {
    market: usize,
    size: i64,
    price: i128
});
wire_struct!(AdlFill {
    counterparty: usize,
    size: i64,
    price: i128
});
wire_struct!(FillArgs {
    buyer: usize,
    seller: usize,
    market: usize,
    price: i64,
    size: i64,
    buyer_fee: i64,
    seller_fee: i64,
    check_margin: bool
});
wire_struct!(Totals {
    insurance_fund: i128,
    fee_pool: i128,
    bad_debt: i128,
    deferred_loss: i128,
    deposits: i128,
    withdrawals: i128
});

/// Wire forms of field-less enums, as one tag byte.
macro_rules! wire_tag {
    ($t:ty, $($v:path = $n:literal),+) => {
        impl Wire for $t {
            const MIN: usize = 1;
            fn put(&self, w: &mut Vec<u8>) {
                let tag: u8 = match self { $($v => $n),+ };
                tag.put(w);
            }
            fn get(r: &mut Reader<'_>) -> Result<Self> {
                match u8::get(r)? {
                    $($n => Ok($v),)+
                    t => corrupt(format!(concat!("bad ", stringify!($t), " tag {}"), t)),
                }
            }
        }
    };
}
wire_tag!(
    Timing,
    Timing::Immediate = 0,
    Timing::Deferred = 1,
    Timing::Batched = 2
);
wire_tag!(
    Base,
    Base::SessionProfit = 0,
    Base::UnrealizedPnl = 1,
    Base::Equity = 2,
    Base::OpenInterest = 3,
    Base::Weights = 4
);
wire_tag!(
    Ranking,
    Ranking::PnlLeverage = 0,
    Ranking::Pnl = 1,
    Ranking::Hyperliquid = 2,
    Ranking::Random = 3,
    Ranking::Scores = 4
);
wire_tag!(StagePrice, StagePrice::Bankruptcy = 0, StagePrice::Mark = 1);
wire_tag!(
    StageKind,
    StageKind::InsuranceFund = 0,
    StageKind::FeePool = 1,
    StageKind::Adl = 2,
    StageKind::Socialize = 3,
    StageKind::BadDebt = 4
);
wire_tag!(
    Rule,
    Rule::ProRata = 0,
    Rule::EqualLoss = 1,
    Rule::EqualAward = 2
);
wire_tag!(
    Rounding,
    Rounding::Exact = 0,
    Rounding::Down = 1,
    Rounding::Up = 2
);

impl Wire for AdlPrice {
    const MIN: usize = 1;
    fn put(&self, w: &mut Vec<u8>) {
        match self {
            AdlPrice::Bankruptcy => 0u8.put(w),
            AdlPrice::Mark => 1u8.put(w),
            AdlPrice::Ticks(p) => {
                2u8.put(w);
                p.put(w);
            }
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self> {
        match u8::get(r)? {
            0 => Ok(AdlPrice::Bankruptcy),
            1 => Ok(AdlPrice::Mark),
            2 => Ok(AdlPrice::Ticks(i64::get(r)?)),
            t => corrupt(format!("bad price tag {t}")),
        }
    }
}

impl Wire for Stage {
    const MIN: usize = 1;
    fn put(&self, w: &mut Vec<u8>) {
        match self {
            Stage::InsuranceFund {
                cap,
                floor,
                per_market,
            } => {
                0u8.put(w);
                cap.put(w);
                floor.put(w);
                per_market.put(w);
            }
            Stage::FeePool => 1u8.put(w),
            Stage::Adl {
                ranking,
                price,
                seed,
                scores,
            } => {
                2u8.put(w);
                ranking.put(w);
                price.put(w);
                seed.put(w);
                scores.put(w);
            }
            Stage::Socialize {
                rule,
                rounding,
                base,
                max_rate,
                weights,
            } => {
                3u8.put(w);
                rule.put(w);
                rounding.put(w);
                base.put(w);
                max_rate.put(w);
                weights.put(w);
            }
        }
    }
    fn get(r: &mut Reader<'_>) -> Result<Self> {
        Ok(match u8::get(r)? {
            0 => Stage::InsuranceFund {
                cap: Wire::get(r)?,
                floor: Wire::get(r)?,
                per_market: Wire::get(r)?,
            },
            1 => Stage::FeePool,
            2 => Stage::Adl {
                ranking: Wire::get(r)?,
                price: Wire::get(r)?,
                seed: Wire::get(r)?,
                scores: Wire::get(r)?,
            },
            3 => Stage::Socialize {
                rule: Wire::get(r)?,
                rounding: Wire::get(r)?,
                base: Wire::get(r)?,
                max_rate: Wire::get(r)?,
                weights: Wire::get(r)?,
            },
            t => return corrupt(format!("bad stage tag {t}")),
        })
    }
}

impl Wire for Waterfall {
    const MIN: usize = 8 + 2;
    fn put(&self, w: &mut Vec<u8>) {
        self.stages.put(w);
        self.timing.put(w);
        self.lock_session_profit.put(w);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self> {
        let wf = Waterfall {
            stages: Wire::get(r)?,
            timing: Wire::get(r)?,
            lock_session_profit: Wire::get(r)?,
        };
        wf.validate()
            .or_else(|e| corrupt(format!("invalid waterfall: {e}")))?;
        Ok(wf)
    }
}

impl Wire for Event {
    /// The smallest event (`create_account`, `fund_insurance`, an empty `set_marks`) is
    /// a tag and 8 bytes.
    const MIN: usize = 9;
    fn put(&self, w: &mut Vec<u8>) {
        match self {
            Event::CreateMarket {
                tick_value,
                mark,
                imr_bps,
                mmr_bps,
                penalty_bps,
                market,
            } => {
                0u8.put(w);
                for v in [tick_value, mark, imr_bps, mmr_bps, penalty_bps] {
                    v.put(w);
                }
                market.put(w);
            }
            Event::CreateAccount { account } => {
                1u8.put(w);
                account.put(w);
            }
            Event::Deposit { account, amount } => {
                2u8.put(w);
                account.put(w);
                amount.put(w);
            }
            Event::Withdraw { account, amount } => {
                3u8.put(w);
                account.put(w);
                amount.put(w);
            }
            Event::FundInsurance { amount, market } => {
                4u8.put(w);
                amount.put(w);
                market.put(w);
            }
            Event::Fill {
                args,
                buyer_realized,
                seller_realized,
            } => {
                5u8.put(w);
                args.put(w);
                buyer_realized.put(w);
                seller_realized.put(w);
            }
            Event::FillMany {
                market,
                buyers,
                sellers,
                prices,
                sizes,
            } => {
                6u8.put(w);
                market.put(w);
                buyers.put(w);
                sellers.put(w);
                prices.put(w);
                sizes.put(w);
            }
            Event::SetMark { market, price } => {
                7u8.put(w);
                market.put(w);
                price.put(w);
            }
            Event::SetMarks { marks } => {
                8u8.put(w);
                marks.put(w);
            }
            Event::ApplyFunding { market, delta } => {
                9u8.put(w);
                market.put(w);
                delta.put(w);
            }
            Event::Liquidate {
                account,
                counterparty,
                prices,
                closes,
                penalty,
                deficit,
                stages,
                haircuts,
                adl,
            } => {
                10u8.put(w);
                account.put(w);
                counterparty.put(w);
                prices.put(w);
                closes.put(w);
                penalty.put(w);
                deficit.put(w);
                stages.put(w);
                haircuts.put(w);
                adl.put(w);
            }
            Event::Deleverage {
                account,
                market,
                counterparties,
                price,
                fills,
            } => {
                11u8.put(w);
                account.put(w);
                market.put(w);
                counterparties.put(w);
                price.put(w);
                fills.put(w);
            }
            Event::SetWaterfall { waterfall } => {
                12u8.put(w);
                waterfall.put(w);
            }
            Event::SettleSession {
                collected,
                haircuts,
                bad_debt,
            } => {
                13u8.put(w);
                collected.put(w);
                haircuts.put(w);
                bad_debt.put(w);
            }
        }
    }

    fn get(r: &mut Reader<'_>) -> Result<Self> {
        Ok(match u8::get(r)? {
            0 => Event::CreateMarket {
                tick_value: Wire::get(r)?,
                mark: Wire::get(r)?,
                imr_bps: Wire::get(r)?,
                mmr_bps: Wire::get(r)?,
                penalty_bps: Wire::get(r)?,
                market: Wire::get(r)?,
            },
            1 => Event::CreateAccount {
                account: Wire::get(r)?,
            },
            2 => Event::Deposit {
                account: Wire::get(r)?,
                amount: Wire::get(r)?,
            },
            3 => Event::Withdraw {
                account: Wire::get(r)?,
                amount: Wire::get(r)?,
            },
            4 => Event::FundInsurance {
                amount: Wire::get(r)?,
                market: Wire::get(r)?,
            },
            5 => Event::Fill {
                args: Wire::get(r)?,
                buyer_realized: Wire::get(r)?,
                seller_realized: Wire::get(r)?,
            },
            6 => Event::FillMany {
                market: Wire::get(r)?,
                buyers: Wire::get(r)?,
                sellers: Wire::get(r)?,
                prices: Wire::get(r)?,
                sizes: Wire::get(r)?,
            },
            7 => Event::SetMark {
                market: Wire::get(r)?,
                price: Wire::get(r)?,
            },
            8 => Event::SetMarks {
                marks: Wire::get(r)?,
            },
            9 => Event::ApplyFunding {
                market: Wire::get(r)?,
                delta: Wire::get(r)?,
            },
            10 => Event::Liquidate {
                account: Wire::get(r)?,
                counterparty: Wire::get(r)?,
                prices: Wire::get(r)?,
                closes: Wire::get(r)?,
                penalty: Wire::get(r)?,
                deficit: Wire::get(r)?,
                stages: Wire::get(r)?,
                haircuts: Wire::get(r)?,
                adl: Wire::get(r)?,
            },
            11 => Event::Deleverage {
                account: Wire::get(r)?,
                market: Wire::get(r)?,
                counterparties: Wire::get(r)?,
                price: Wire::get(r)?,
                fills: Wire::get(r)?,
            },
            12 => Event::SetWaterfall {
                waterfall: Wire::get(r)?,
            },
            13 => Event::SettleSession {
                collected: Wire::get(r)?,
                haircuts: Wire::get(r)?,
                bad_debt: Wire::get(r)?,
            },
            t => return corrupt(format!("bad event tag {t}")),
        })
    }
}

impl Ledger {
    /// The whole ledger (state, waterfall, journal) as versioned, checksummed bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        let accounts = self.num_accounts();
        // A generous estimate: reserved pages that are never written cost nothing, and
        // growing a 100 MB buffer by copies would.
        let journal: usize = self.journal.iter().map(size_hint).sum();
        let state = accounts.saturating_mul(48 + 40 * self.num_markets());
        let mut w = Vec::with_capacity(HEADER + TRAILER + 1_024 + state + journal);
        w.extend_from_slice(MAGIC);
        VERSION.put(&mut w);
        0u64.put(&mut w); // payload length, patched below
        self.markets.put(&mut w);
        (accounts as u64).put(&mut w);
        for a in 0..accounts {
            for column in [
                &self.collateral,
                &self.session_start_equity,
                &self.session_deposits,
            ] {
                column.get(a).copied().unwrap_or(0).put(&mut w);
            }
        }
        for column in &self.positions {
            for p in column {
                p.put(&mut w);
            }
        }
        self.totals.put(&mut w);
        self.waterfall.put(&mut w);
        self.journal.put(&mut w);
        let len = (w.len() - HEADER) as u64;
        if let Some(slot) = w.get_mut(12..HEADER) {
            slot.copy_from_slice(&len.to_le_bytes());
        }
        let sum = checksum(&w);
        sum.put(&mut w);
        w
    }

    /// A ledger from [`Ledger::snapshot`] bytes. Truncated, corrupted or foreign input is
    /// an [`Error::Corrupt`], and so is a well-formed snapshot of an inconsistent ledger
    /// (an edited one whose checksum was recomputed): nothing is returned unless every
    /// invariant holds.
    pub fn restore(bytes: &[u8]) -> Result<Ledger> {
        if bytes.len() < HEADER + TRAILER {
            return corrupt(format!("{} bytes: too short for a snapshot", bytes.len()));
        }
        let (body, tail) = bytes.split_at(bytes.len() - TRAILER);
        let mut r = Reader { buf: body, at: 0 };
        if r.take(8)? != MAGIC {
            return corrupt("not a mutualize ledger snapshot (bad magic)");
        }
        let version = u32::get(&mut r)?;
        if version != VERSION {
            return corrupt(format!(
                "snapshot version {version}, this build reads {VERSION}"
            ));
        }
        let len = u64::get(&mut r)?;
        if usize::try_from(len).ok() != Some(r.left()) {
            return corrupt(format!(
                "payload length {len} but {} bytes present",
                r.left()
            ));
        }
        let mut sum = [0u8; 8];
        sum.copy_from_slice(tail);
        if u64::from_le_bytes(sum) != checksum(body) {
            return corrupt("checksum mismatch");
        }
        let ledger = decode(&mut r)?;
        if r.left() != 0 {
            return corrupt(format!("{} trailing bytes", r.left()));
        }
        ledger.check_restored()?;
        Ok(ledger)
    }

    /// The invariants a decoded snapshot must meet: [`Ledger::check`] (conservation,
    /// open interest, the pools' signs) and what every operation keeps besides (a flat
    /// position has no basis: a close removes all of it).
    fn check_restored(&self) -> Result<()> {
        for (m, column) in self.positions.iter().enumerate() {
            if let Some(a) = column.iter().position(|p| p.size == 0 && p.basis != 0) {
                return corrupt(format!(
                    "inconsistent snapshot: account {a} is flat in market {m} with a basis"
                ));
            }
        }
        self.check()
            .or_else(|e| corrupt(format!("inconsistent snapshot: {e}")))
    }
}

/// An upper bound of an event's encoded size.
fn size_hint(e: &Event) -> usize {
    128 + match e {
        Event::FillMany { buyers, .. } => 32 * buyers.len(),
        Event::SetMarks { marks } => 8 * marks.len(),
        Event::Liquidate {
            prices,
            closes,
            stages,
            haircuts,
            adl,
            ..
        } => {
            16 * prices.as_ref().map_or(0, Vec::len)
                + 32 * closes.len()
                + 40 * adl.len()
                + 24 * (stages.len() + haircuts.len())
        }
        Event::Deleverage {
            counterparties,
            fills,
            ..
        } => 8 * counterparties.as_ref().map_or(0, Vec::len) + 32 * fills.len(),
        Event::SetWaterfall { waterfall } => waterfall
            .stages
            .iter()
            .map(|s| match s {
                Stage::Adl { scores, .. } => 64 + 8 * scores.as_ref().map_or(0, Vec::len),
                Stage::Socialize { weights, .. } => 64 + 8 * weights.as_ref().map_or(0, Vec::len),
                _ => 64,
            })
            .sum(),
        Event::SettleSession { haircuts, .. } => 24 * haircuts.len(),
        _ => 0,
    }
}

fn decode(r: &mut Reader<'_>) -> Result<Ledger> {
    let markets: Vec<Market> = Wire::get(r)?;
    for (m, mk) in markets.iter().enumerate() {
        mk.validate()
            .or_else(|e| corrupt(format!("market {m}: {e}")))?;
    }
    let accounts = r.count(48)?;
    let mut collateral = Vec::with_capacity(accounts);
    let mut session_start_equity = Vec::with_capacity(accounts);
    let mut session_deposits = Vec::with_capacity(accounts);
    for _ in 0..accounts {
        collateral.push(i128::get(r)?);
        session_start_equity.push(i128::get(r)?);
        session_deposits.push(i128::get(r)?);
    }
    let cells = markets
        .len()
        .checked_mul(accounts)
        .and_then(|c| c.checked_mul(Position::MIN))
        .filter(|&b| b <= r.left());
    if cells.is_none() {
        return corrupt("position table exceeds the data left");
    }
    let mut positions = Vec::with_capacity(markets.len());
    for _ in 0..markets.len() {
        let mut column = Vec::with_capacity(accounts);
        for _ in 0..accounts {
            column.push(Position::get(r)?);
        }
        positions.push(column);
    }
    let totals = Totals::get(r)?;
    let waterfall = Waterfall::get(r)?;
    let journal = Wire::get(r)?;
    Ok(Ledger {
        markets,
        collateral,
        session_start_equity,
        session_deposits,
        positions,
        totals,
        waterfall,
        journal,
        scratch: Default::default(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn checksum_sees_every_bit_and_the_length() {
        let base = b"mutualize ledger snapshot".to_vec();
        let h = checksum(&base);
        for i in 0..base.len() * 8 {
            let mut v = base.clone();
            v[i / 8] ^= 1 << (i % 8);
            assert_ne!(checksum(&v), h);
        }
        assert_ne!(checksum(&[0u8; 3]), checksum(&[0u8; 4]));
        assert_ne!(checksum(b""), checksum(&[0u8]));
    }

    /// A busy ledger: two markets, a liquidation with a socialized deficit.
    fn busy() -> Ledger {
        let mut l = Ledger::new();
        l.create_market(1, 100, 1_000, 500, 50).unwrap();
        l.create_market(2, 40, 2_000, 1_000, 0).unwrap();
        l.create_accounts(4).unwrap();
        for (a, x) in [(0, 100), (1, 100), (2, 1_000_000), (3, 500)] {
            l.deposit(a, x).unwrap();
        }
        l.fund_insurance(300, None).unwrap();
        l.fill(crate::ledger::FillArgs::new(0, 1, 0, 100, 10))
            .unwrap();
        l.fill(crate::ledger::FillArgs::new(3, 2, 1, 40, 3))
            .unwrap();
        l.set_mark(0, 10).unwrap();
        l.liquidate(0, 2, None).unwrap();
        l
    }

    /// `snapshot` of `l` after `edit`, with a valid length and checksum: what an editor
    /// of the file would produce.
    fn edited(l: &Ledger, edit: impl FnOnce(&mut Ledger)) -> Vec<u8> {
        let mut l = l.clone();
        edit(&mut l);
        l.snapshot()
    }

    #[test]
    fn restore_refuses_edited_inconsistent_snapshots() {
        let l = busy();
        l.check().unwrap();
        assert_eq!(Ledger::restore(&l.snapshot()).ok(), Some(l.clone()));
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("conservation", edited(&l, |l| l.collateral[1] += 1)),
            ("conservation", edited(&l, |l| l.totals.deposits -= 7)),
            ("conservation", edited(&l, |l| l.positions[0][1].basis += 1)),
            (
                "open interest",
                edited(&l, |l| {
                    // Longs and shorts no longer match (conservation kept: flat at 0 PnL).
                    l.positions[1][0].size = 1;
                    l.positions[1][0].basis = 40;
                }),
            ),
            (
                "negative",
                edited(&l, |l| {
                    l.totals.fee_pool = -5;
                    l.collateral[3] += 5;
                }),
            ),
            (
                "insurance fund of market",
                edited(&l, |l| {
                    l.markets[1].insurance_fund = -1;
                    l.totals.insurance_fund += 1;
                }),
            ),
            (
                "flat in market",
                edited(&l, |l| {
                    l.positions[0][0].basis = 10;
                    l.collateral[0] += 10;
                }),
            ),
        ];
        for (what, bytes) in cases {
            match Ledger::restore(&bytes) {
                Err(Error::Corrupt(msg)) => {
                    assert!(msg.contains(what), "{what}: {msg}");
                    assert!(msg.contains("inconsistent snapshot"), "{msg}");
                }
                other => panic!("{what}: restored {other:?}"),
            }
        }
    }

    #[test]
    fn empty_ledger_round_trips() {
        let l = Ledger::new();
        let bytes = l.snapshot();
        assert_eq!(Ledger::restore(&bytes).ok(), Some(l));
        for cut in 0..bytes.len() {
            assert!(Ledger::restore(bytes.get(..cut).unwrap_or_default()).is_err());
        }
    }
}
