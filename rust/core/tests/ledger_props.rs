//! Property tests of the ledger: random operation sequences (valid and invalid) keep
//! every invariant after every step, failed operations leave the state byte-identical,
//! the journal replays to the same state and snapshots restore it. Snapshots are fuzzed
//! with truncations, bit flips and re-checksummed garbage: decoding never panics.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mutualize_core::ledger::Base;
use mutualize_core::{
    AdlPrice, Event, FillArgs, Ledger, Ranking, Rounding, Rule, Stage, StageKind, StagePrice,
    Timing, Waterfall,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

fn cases(n: u32) -> ProptestConfig {
    let scale = std::env::var("MUTUALIZE_PROPTEST_SCALE")
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(1)
        .max(1);
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(n.saturating_mul(scale))
    }
}

#[derive(Debug, Clone)]
enum Op {
    CreateAccount,
    CreateMarket(i64, i64, i64, i64, i64),
    Deposit(usize, i64),
    Withdraw(usize, i64),
    FundInsurance(i64, Option<usize>),
    Fill(FillArgs),
    FillMany(usize, Vec<(usize, usize, i64, i64)>),
    SetMark(usize, i64),
    SetMarks(Vec<i64>),
    ApplyFunding(usize, i64),
    Liquidate(usize, usize, Option<Vec<(usize, i64)>>),
    /// Liquidates one of the liquidatable accounts (picked by the index), if any.
    LiquidateSome(prop::sample::Index, usize, Option<Vec<(usize, i64)>>),
    Deleverage(usize, usize, Option<Vec<usize>>, AdlPrice),
    /// Deleverages one of the accounts holding a position in the market, if any.
    DeleverageSome(prop::sample::Index, usize, AdlPrice),
    SetWaterfall(Waterfall),
    SettleSession,
}

const ACCOUNTS: usize = 7;
const MARKETS: usize = 3;

fn account() -> impl Strategy<Value = usize> {
    prop_oneof![20 => 0..ACCOUNTS, 1 => Just(ACCOUNTS + 3)]
}

fn market() -> impl Strategy<Value = usize> {
    prop_oneof![20 => 0..MARKETS, 1 => Just(MARKETS + 2)]
}

fn price() -> impl Strategy<Value = i64> {
    prop_oneof![20 => 40i64..=160, 2 => 1i64..=400, 1 => -2i64..=0]
}

fn stage() -> impl Strategy<Value = Stage> {
    prop_oneof![
        (
            proptest::option::of(0i64..=3_000),
            0i64..=500,
            proptest::bool::ANY
        )
            .prop_map(|(cap, floor, per_market)| Stage::InsuranceFund {
                cap,
                floor,
                per_market
            }),
        Just(Stage::FeePool),
        (
            prop_oneof![
                Just(Ranking::PnlLeverage),
                Just(Ranking::Pnl),
                Just(Ranking::Hyperliquid),
                Just(Ranking::Random),
                Just(Ranking::Scores)
            ],
            prop_oneof![Just(StagePrice::Bankruptcy), Just(StagePrice::Mark)],
            -5i64..=20,
            proptest::collection::vec(-50i64..=50, 0..=ACCOUNTS + 1),
        )
            .prop_map(|(ranking, price, seed, scores)| Stage::Adl {
                ranking,
                price,
                seed,
                scores: (ranking == Ranking::Scores).then_some(scores),
            }),
        (
            prop_oneof![
                4 => Just(Rule::ProRata),
                1 => Just(Rule::EqualLoss),
                1 => Just(Rule::EqualAward)
            ],
            prop_oneof![
                4 => Just(Rounding::Exact),
                1 => Just(Rounding::Down),
                1 => Just(Rounding::Up)
            ],
            prop_oneof![
                Just(Base::SessionProfit),
                Just(Base::UnrealizedPnl),
                Just(Base::Equity),
                Just(Base::OpenInterest),
                Just(Base::Weights)
            ],
            proptest::option::of((0i64..=4, 1i64..=4)),
            proptest::collection::vec(0i64..=5_000, 0..=ACCOUNTS + 1),
        )
            .prop_map(|(rule, rounding, base, max_rate, w)| Stage::Socialize {
                rule,
                rounding,
                base,
                max_rate,
                weights: (base == Base::Weights).then_some(w),
            }),
    ]
}

fn waterfall() -> impl Strategy<Value = Waterfall> {
    (
        proptest::collection::vec(stage(), 0..=4),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(stages, deferred, lock)| Waterfall {
            stages,
            timing: if deferred {
                Timing::Deferred
            } else {
                Timing::Immediate
            },
            lock_session_profit: lock,
        })
}

fn op() -> impl Strategy<Value = Op> {
    let fill = (
        account(),
        account(),
        market(),
        price(),
        prop_oneof![20 => 1i64..=40, 5 => 40i64..=300, 1 => -1i64..=0],
        prop_oneof![10 => Just(0i64), 2 => 0i64..=30, 1 => Just(-1i64)],
        prop_oneof![10 => Just(0i64), 2 => 0i64..=30],
        prop_oneof![1 => Just(true), 2 => Just(false)],
    )
        .prop_map(|(buyer, seller, market, price, size, bf, sf, check)| {
            Op::Fill(FillArgs {
                buyer,
                seller,
                market,
                price,
                size,
                buyer_fee: bf,
                seller_fee: sf,
                check_margin: check,
            })
        });
    prop_oneof![
        1 => Just(Op::CreateAccount),
        1 => (1i64..=5, 40i64..=160, 1i64..=3_000, 1i64..=3_000, 0i64..=500)
            .prop_map(|(t, m, a, b, p)| Op::CreateMarket(t, m, a.max(b), a.min(b), p)),
        4 => (account(), prop_oneof![10 => 1i64..=20_000, 1 => -5i64..=0])
            .prop_map(|(a, x)| Op::Deposit(a, x)),
        2 => (account(), -5i64..=15_000).prop_map(|(a, x)| Op::Withdraw(a, x)),
        1 => (-5i64..=3_000, proptest::option::of(0usize..3))
            .prop_map(|(x, m)| Op::FundInsurance(x, m)),
        10 => fill,
        2 => (
            market(),
            proptest::collection::vec((account(), account(), price(), 1i64..=30), 0..=6)
        )
            .prop_map(|(m, v)| Op::FillMany(m, v)),
        8 => (market(), price()).prop_map(|(m, p)| Op::SetMark(m, p)),
        1 => proptest::collection::vec(1i64..=300, MARKETS..=MARKETS).prop_map(Op::SetMarks),
        2 => (market(), -40i64..=40).prop_map(|(m, d)| Op::ApplyFunding(m, d)),
        5 => (
            account(),
            account(),
            proptest::option::of(proptest::collection::vec((market(), price()), 0..=2))
        )
            .prop_map(|(a, c, p)| Op::Liquidate(a, c, p)),
        6 => (
            any::<prop::sample::Index>(),
            account(),
            proptest::option::of(proptest::collection::vec((market(), price()), 0..=2))
        )
            .prop_map(|(i, c, p)| Op::LiquidateSome(i, c, p)),
        3 => (
            account(),
            market(),
            proptest::option::of(proptest::collection::vec(account(), 0..=3)),
            prop_oneof![
                Just(AdlPrice::Bankruptcy),
                Just(AdlPrice::Mark),
                price().prop_map(AdlPrice::Ticks)
            ]
        )
            .prop_map(|(a, m, c, p)| Op::Deleverage(a, m, c, p)),
        3 => (
            any::<prop::sample::Index>(),
            market(),
            prop_oneof![
                Just(AdlPrice::Bankruptcy),
                Just(AdlPrice::Mark),
                price().prop_map(AdlPrice::Ticks)
            ]
        )
            .prop_map(|(i, m, p)| Op::DeleverageSome(i, m, p)),
        2 => waterfall().prop_map(Op::SetWaterfall),
        1 => Just(Op::SettleSession),
    ]
}

fn apply<'l>(l: &'l mut Ledger, op: &Op) -> mutualize_core::Result<&'l Event> {
    match op {
        Op::CreateAccount => l.create_account(),
        Op::CreateMarket(t, m, i, mm, p) => l.create_market(*t, *m, *i, *mm, *p),
        Op::Deposit(a, x) => l.deposit(*a, *x),
        Op::Withdraw(a, x) => l.withdraw(*a, *x),
        Op::FundInsurance(x, m) => l.fund_insurance(*x, *m),
        Op::Fill(args) => l.fill(*args),
        Op::FillMany(m, v) => {
            let b: Vec<usize> = v.iter().map(|x| x.0).collect();
            let s: Vec<usize> = v.iter().map(|x| x.1).collect();
            let p: Vec<i64> = v.iter().map(|x| x.2).collect();
            let q: Vec<i64> = v.iter().map(|x| x.3).collect();
            l.fill_many(*m, &b, &s, &p, &q)
        }
        Op::SetMark(m, p) => l.set_mark(*m, *p),
        Op::SetMarks(v) => l.set_marks(v),
        Op::ApplyFunding(m, d) => l.apply_funding(*m, *d),
        Op::Liquidate(a, c, p) => l.liquidate(*a, *c, p.as_deref()),
        Op::LiquidateSome(i, c, p) => {
            let candidates = l.liquidatable()?;
            let a = if candidates.is_empty() {
                0
            } else {
                candidates[i.index(candidates.len())]
            };
            l.liquidate(a, *c, p.as_deref())
        }
        Op::Deleverage(a, m, c, p) => l.deleverage(*a, *m, c.as_deref(), *p),
        Op::DeleverageSome(i, m, p) => {
            let holders: Vec<usize> = match l.positions(*m) {
                Ok(column) => (0..column.len()).filter(|&a| column[a].size != 0).collect(),
                Err(_) => vec![],
            };
            let a = if holders.is_empty() {
                0
            } else {
                holders[i.index(holders.len())]
            };
            l.deleverage(a, *m, None, *p)
        }
        Op::SetWaterfall(w) => l.set_waterfall(w.clone()),
        Op::SettleSession => l.settle_session(),
    }
}

/// Accounts and markets to start from: ids below ACCOUNTS and MARKETS mostly exist.
fn start() -> Ledger {
    let mut l = Ledger::new();
    l.create_market(1, 100, 1_000, 500, 100).unwrap();
    l.create_market(3, 80, 2_000, 1_000, 0).unwrap();
    l.create_market(2, 120, 500, 500, 50).unwrap();
    l.create_accounts(ACCOUNTS).unwrap();
    for a in 0..ACCOUNTS {
        l.deposit(a, 5_000).unwrap();
    }
    l
}

fn run(ops: &[Op]) -> Result<Ledger, TestCaseError> {
    let mut l = start();
    for (i, op) in ops.iter().enumerate() {
        let before = l.snapshot();
        let outcome = apply(&mut l, op).cloned();
        match outcome {
            Ok(ev) => {
                if let Err(e) = l.check() {
                    return Err(TestCaseError::fail(format!("step {i} {op:?}: {e}")));
                }
                check_event(&l, &ev)
                    .map_err(|m| TestCaseError::fail(format!("step {i} {op:?}: {m}")))?;
            }
            Err(e) => {
                prop_assert!(
                    l.snapshot() == before,
                    "step {i} {op:?} failed ({e}) but changed the state"
                );
            }
        }
    }
    Ok(l)
}

/// Per-event consequences of the contract.
fn check_event(l: &Ledger, ev: &Event) -> Result<(), String> {
    match ev {
        Event::Liquidate {
            account,
            deficit,
            stages,
            haircuts,
            adl,
            ..
        } => {
            let total: i128 = stages.iter().map(|s| s.1).sum();
            if !stages.is_empty() && total != *deficit {
                return Err(format!("stages {stages:?} do not add up to {deficit}"));
            }
            if stages.iter().any(|s| s.1 < 0) || haircuts.iter().any(|h| h.1 <= 0) {
                return Err("negative stage or non-positive haircut".into());
            }
            if stages.last().is_some_and(|s| s.0 != StageKind::BadDebt) {
                return Err("bad_debt must close the stages".into());
            }
            let equity = l.equity(*account).map_err(|e| e.to_string())?;
            if equity < 0 {
                return Err(format!("bankrupt account left at equity {equity}"));
            }
            if *deficit > 0 && adl.is_empty() && equity != 0 {
                return Err(format!("direct liquidation left equity {equity}, not 0"));
            }
            for (_, f) in adl {
                if l.equity(f.counterparty).map_err(|e| e.to_string())? < 0 {
                    return Err("ADL counterparty below zero".into());
                }
            }
        }
        Event::Deleverage { fills, .. } => {
            for f in fills {
                if l.equity(f.counterparty).map_err(|e| e.to_string())? < 0 {
                    return Err("deleveraging counterparty below zero".into());
                }
            }
        }
        _ => {}
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(1_000))]

    #[test]
    fn random_operations_keep_every_invariant(ops in proptest::collection::vec(op(), 1..60)) {
        let l = run(&ops)?;
        // The journal replays to the same state and journal.
        let again = Ledger::replay(l.journal());
        prop_assert!(again.is_ok(), "replay failed: {:?}", again.err());
        prop_assert!(again.ok().as_ref() == Some(&l));
        // Snapshots restore exactly.
        let bytes = l.snapshot();
        let back = Ledger::restore(&bytes);
        prop_assert!(back.as_ref().ok() == Some(&l), "restore: {:?}", back.err());
    }

    #[test]
    fn corrupted_snapshots_are_errors(
        ops in proptest::collection::vec(op(), 1..25),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 8),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..8), 8),
    ) {
        let l = run(&ops)?;
        let bytes = l.snapshot();
        for cut in &cuts {
            let n = cut.index(bytes.len());
            prop_assert!(Ledger::restore(&bytes[..n]).is_err());
        }
        for (at, bit) in &flips {
            let mut bad = bytes.clone();
            bad[at.index(bytes.len())] ^= 1 << bit;
            prop_assert!(Ledger::restore(&bad).is_err());
            // Past the checksum: the decoder itself must refuse or decode, never panic.
            let body = bad.len() - 8;
            let sum = mutualize_core::ledger::checksum(&bad[..body]);
            bad[body..].copy_from_slice(&sum.to_le_bytes());
            let _ = Ledger::restore(&bad);
        }
    }
}

#[test]
fn liquidations_happen_in_random_runs() {
    // Guards the generator: a fixed busy sequence must produce liquidations of each kind.
    let mut l = start();
    l.fill(FillArgs {
        check_margin: false,
        ..FillArgs::new(0, 1, 0, 100, 200)
    })
    .unwrap();
    l.fill(FillArgs::new(2, 3, 0, 100, 5)).unwrap();
    l.set_mark(0, 60).unwrap();
    let ev = l.liquidate(0, 4, None).unwrap().clone();
    assert!(matches!(ev, Event::Liquidate { deficit, .. } if deficit > 0));
    l.check().unwrap();
}
