//! Journal events: one per operation, carrying its arguments (under the contract's
//! parameter names, so the journal replays) and its effects. Amounts in minor units.

use super::waterfall::{StageKind, Waterfall};
use super::Ledger;
use crate::error::{Error, Result};

/// The price argument of `deleverage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AdlPrice {
    /// The position's bankruptcy price, computed once at the start.
    #[default]
    Bankruptcy,
    /// The market's mark.
    Mark,
    /// A given price in ticks (`> 0`).
    Ticks(i64),
}

/// The arguments of `fill`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillArgs {
    pub buyer: usize,
    pub seller: usize,
    pub market: usize,
    /// Ticks, `> 0`.
    pub price: i64,
    /// Lots, `> 0`.
    pub size: i64,
    /// Minor units paid to the fee pool, `>= 0`.
    pub buyer_fee: i64,
    pub seller_fee: i64,
    /// Refuse the fill if a side whose position grew ends below initial margin.
    pub check_margin: bool,
}

impl FillArgs {
    /// A fill without fees, margin-checked.
    pub fn new(buyer: usize, seller: usize, market: usize, price: i64, size: i64) -> FillArgs {
        FillArgs {
            buyer,
            seller,
            market,
            price,
            size,
            buyer_fee: 0,
            seller_fee: 0,
            check_margin: true,
        }
    }
}

/// One position closed by a liquidation: `[market, size, price]` (size signed, as held).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Close {
    pub market: usize,
    pub size: i64,
    pub price: i128,
}

/// One deleveraging fill: `[counterparty, size, price]`; `size` is the bankrupt
/// account's closed lots, signed as its position was (= the counterparty's trade).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdlFill {
    pub counterparty: usize,
    pub size: i64,
    pub price: i128,
}

/// One journal entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    CreateMarket {
        tick_value: i64,
        mark: i64,
        imr_bps: i64,
        mmr_bps: i64,
        penalty_bps: i64,
        market: usize,
    },
    CreateAccount {
        account: usize,
    },
    Deposit {
        account: usize,
        amount: i64,
    },
    Withdraw {
        account: usize,
        amount: i64,
    },
    FundInsurance {
        amount: i64,
        /// `None`: the shared fund; `Some(m)`: market `m`'s own fund.
        market: Option<usize>,
    },
    Fill {
        args: FillArgs,
        /// The buyer's collateral change from the trade, before its fee.
        buyer_realized: i128,
        seller_realized: i128,
    },
    /// `fill_many`: one market, no fees, no margin check (a Rust-side batch op).
    FillMany {
        market: usize,
        buyers: Vec<usize>,
        sellers: Vec<usize>,
        prices: Vec<i64>,
        sizes: Vec<i64>,
    },
    SetMark {
        market: usize,
        price: i64,
    },
    /// `set_marks`: one mark per market (a Rust-side batch op).
    SetMarks {
        marks: Vec<i64>,
    },
    ApplyFunding {
        market: usize,
        delta: i64,
    },
    Liquidate {
        account: usize,
        counterparty: usize,
        /// As given: `None`, or `(market, price)` pairs.
        prices: Option<Vec<(usize, i64)>>,
        closes: Vec<Close>,
        /// The penalty charged (moved to the insurance fund).
        penalty: i128,
        /// The deficit that entered the waterfall.
        deficit: i128,
        /// `[kind, amount]` per stage in order, `BadDebt` last; empty without a deficit.
        stages: Vec<(StageKind, i128)>,
        /// `[account, amount]`, non-zero only, ascending account.
        haircuts: Vec<(usize, i128)>,
        /// `[market, counterparty, size, price]`.
        adl: Vec<(usize, AdlFill)>,
    },
    Deleverage {
        account: usize,
        market: usize,
        counterparties: Option<Vec<usize>>,
        price: AdlPrice,
        fills: Vec<AdlFill>,
    },
    SetWaterfall {
        waterfall: Waterfall,
    },
    SettleSession {
        /// Sum of the haircuts.
        collected: i128,
        haircuts: Vec<(usize, i128)>,
        /// What moved from `deferred_loss` to `bad_debt`.
        bad_debt: i128,
    },
}

/// One value of an event's plain form (docs/ledger.md, "Event plain forms"): what the
/// binding turns into Python values, with no knowledge of any particular event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value<'a> {
    None,
    Bool(bool),
    Int(i128),
    Text(&'static str),
    /// A list of ints.
    Ints(&'a [i64]),
    /// A list of ids.
    Ids(&'a [usize]),
    /// A list of `[account, amount]` pairs.
    Pairs(&'a [(usize, i128)]),
    List(Vec<Value<'a>>),
    Waterfall(&'a Waterfall),
}

fn id(v: usize) -> Value<'static> {
    Value::Int(v as i128)
}

fn int(v: i64) -> Value<'static> {
    Value::Int(i128::from(v))
}

fn row(values: Vec<Value<'static>>) -> Value<'static> {
    Value::List(values)
}

impl Event {
    /// The plain form after `"op"`: every key and its value, in order. The names are
    /// declared in python/mutualize/events.py (tests/test_event_schema.py holds this
    /// list to that declaration and to the reference's events).
    pub fn fields(&self) -> Vec<(&'static str, Value<'_>)> {
        match self {
            Event::CreateMarket {
                tick_value,
                mark,
                imr_bps,
                mmr_bps,
                penalty_bps,
                market,
            } => vec![
                ("tick_value", int(*tick_value)),
                ("mark", int(*mark)),
                ("imr_bps", int(*imr_bps)),
                ("mmr_bps", int(*mmr_bps)),
                ("penalty_bps", int(*penalty_bps)),
                ("market", id(*market)),
            ],
            Event::CreateAccount { account } => vec![("account", id(*account))],
            Event::Deposit { account, amount } | Event::Withdraw { account, amount } => {
                vec![("account", id(*account)), ("amount", int(*amount))]
            }
            Event::FundInsurance { amount, market } => vec![
                ("amount", int(*amount)),
                ("market", market.map_or(Value::None, id)),
            ],
            Event::Fill {
                args,
                buyer_realized,
                seller_realized,
            } => vec![
                ("buyer", id(args.buyer)),
                ("seller", id(args.seller)),
                ("market", id(args.market)),
                ("price", int(args.price)),
                ("size", int(args.size)),
                ("buyer_fee", int(args.buyer_fee)),
                ("seller_fee", int(args.seller_fee)),
                ("check_margin", Value::Bool(args.check_margin)),
                ("buyer_realized", Value::Int(*buyer_realized)),
                ("seller_realized", Value::Int(*seller_realized)),
            ],
            Event::FillMany {
                market,
                buyers,
                sellers,
                prices,
                sizes,
            } => vec![
                ("market", id(*market)),
                ("buyers", Value::Ids(buyers)),
                ("sellers", Value::Ids(sellers)),
                ("prices", Value::Ints(prices)),
                ("sizes", Value::Ints(sizes)),
            ],
            Event::SetMark { market, price } => {
                vec![("market", id(*market)), ("price", int(*price))]
            }
            Event::SetMarks { marks } => vec![("marks", Value::Ints(marks))],
            Event::ApplyFunding { market, delta } => {
                vec![("market", id(*market)), ("delta", int(*delta))]
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
            } => vec![
                ("account", id(*account)),
                ("counterparty", id(*counterparty)),
                (
                    "prices",
                    prices.as_ref().map_or(Value::None, |list| {
                        Value::List(
                            list.iter()
                                .map(|&(m, p)| row(vec![id(m), int(p)]))
                                .collect(),
                        )
                    }),
                ),
                (
                    "closes",
                    Value::List(
                        closes
                            .iter()
                            .map(|c| row(vec![id(c.market), int(c.size), Value::Int(c.price)]))
                            .collect(),
                    ),
                ),
                ("penalty", Value::Int(*penalty)),
                ("deficit", Value::Int(*deficit)),
                (
                    "stages",
                    Value::List(
                        stages
                            .iter()
                            .map(|(k, a)| row(vec![Value::Text(k.as_str()), Value::Int(*a)]))
                            .collect(),
                    ),
                ),
                ("haircuts", Value::Pairs(haircuts)),
                (
                    "adl",
                    Value::List(
                        adl.iter()
                            .map(|(m, f)| {
                                row(vec![
                                    id(*m),
                                    id(f.counterparty),
                                    int(f.size),
                                    Value::Int(f.price),
                                ])
                            })
                            .collect(),
                    ),
                ),
            ],
            Event::Deleverage {
                account,
                market,
                counterparties,
                price,
                fills,
            } => vec![
                ("account", id(*account)),
                ("market", id(*market)),
                (
                    "counterparties",
                    counterparties.as_deref().map_or(Value::None, Value::Ids),
                ),
                (
                    "price",
                    match price {
                        AdlPrice::Bankruptcy => Value::Text("bankruptcy"),
                        AdlPrice::Mark => Value::Text("mark"),
                        AdlPrice::Ticks(t) => int(*t),
                    },
                ),
                (
                    "fills",
                    Value::List(
                        fills
                            .iter()
                            .map(|f| {
                                row(vec![id(f.counterparty), int(f.size), Value::Int(f.price)])
                            })
                            .collect(),
                    ),
                ),
            ],
            Event::SetWaterfall { waterfall } => vec![("waterfall", Value::Waterfall(waterfall))],
            Event::SettleSession {
                collected,
                haircuts,
                bad_debt,
            } => vec![
                ("collected", Value::Int(*collected)),
                ("haircuts", Value::Pairs(haircuts)),
                ("bad_debt", Value::Int(*bad_debt)),
            ],
        }
    }

    /// The operation's name (`"op"` of the plain form).
    pub fn op(&self) -> &'static str {
        match self {
            Event::CreateMarket { .. } => "create_market",
            Event::CreateAccount { .. } => "create_account",
            Event::Deposit { .. } => "deposit",
            Event::Withdraw { .. } => "withdraw",
            Event::FundInsurance { .. } => "fund_insurance",
            Event::Fill { .. } => "fill",
            Event::FillMany { .. } => "fill_many",
            Event::SetMark { .. } => "set_mark",
            Event::SetMarks { .. } => "set_marks",
            Event::ApplyFunding { .. } => "apply_funding",
            Event::Liquidate { .. } => "liquidate",
            Event::Deleverage { .. } => "deleverage",
            Event::SetWaterfall { .. } => "set_waterfall",
            Event::SettleSession { .. } => "settle_session",
        }
    }

    /// Re-executes this event's operation on `ledger` (with the recorded arguments) and
    /// returns the new event. Effects are not compared here; see [`Ledger::replay`].
    pub fn replay_into<'l>(&self, ledger: &'l mut Ledger) -> Result<&'l Event> {
        match self {
            Event::CreateMarket {
                tick_value,
                mark,
                imr_bps,
                mmr_bps,
                penalty_bps,
                ..
            } => ledger.create_market(*tick_value, *mark, *imr_bps, *mmr_bps, *penalty_bps),
            Event::CreateAccount { .. } => ledger.create_account(),
            Event::Deposit { account, amount } => ledger.deposit(*account, *amount),
            Event::Withdraw { account, amount } => ledger.withdraw(*account, *amount),
            Event::FundInsurance { amount, market } => ledger.fund_insurance(*amount, *market),
            Event::Fill { args, .. } => ledger.fill(*args),
            Event::FillMany {
                market,
                buyers,
                sellers,
                prices,
                sizes,
            } => ledger.fill_many(*market, buyers, sellers, prices, sizes),
            Event::SetMark { market, price } => ledger.set_mark(*market, *price),
            Event::SetMarks { marks } => ledger.set_marks(marks),
            Event::ApplyFunding { market, delta } => ledger.apply_funding(*market, *delta),
            Event::Liquidate {
                account,
                counterparty,
                prices,
                ..
            } => ledger.liquidate(*account, *counterparty, prices.as_deref()),
            Event::Deleverage {
                account,
                market,
                counterparties,
                price,
                ..
            } => ledger.deleverage(*account, *market, counterparties.as_deref(), *price),
            Event::SetWaterfall { waterfall } => ledger.set_waterfall(waterfall.clone()),
            Event::SettleSession { .. } => ledger.settle_session(),
        }
    }
}

impl Ledger {
    /// A new ledger with `events` re-executed in order. Each re-executed event must equal
    /// the recorded one (same effects), else [`Error::Corrupt`]: the journal does not
    /// describe a history this ledger produces.
    pub fn replay(events: &[Event]) -> Result<Ledger> {
        let mut ledger = Ledger::new();
        for (i, event) in events.iter().enumerate() {
            let again = event.replay_into(&mut ledger)?;
            if again != event {
                return Err(Error::Corrupt(format!(
                    "journal event {i} ({}) replays to different effects",
                    event.op()
                )));
            }
        }
        Ok(ledger)
    }
}
