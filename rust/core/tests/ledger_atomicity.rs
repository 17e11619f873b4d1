//! The one atomicity mechanism (the undo journal of `ledger/undo.rs`), attacked: a fault
//! injected at every logged write of every kind of operation, under every kind of
//! waterfall, must leave the ledger byte-identical (state and journal), and the same
//! operation without a fault must then succeed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mutualize_core::ledger::Base;
use mutualize_core::{
    AdlPrice, ErrorKind, Event, FillArgs, Ledger, Ranking, Result, Rounding, Rule, Stage,
    StagePrice, Timing, Waterfall,
};

fn socialize(base: Base, rule: Rule, rounding: Rounding) -> Stage {
    Stage::Socialize {
        rule,
        rounding,
        base,
        max_rate: None,
        weights: None,
    }
}

fn fund(per_market: bool) -> Stage {
    Stage::InsuranceFund {
        cap: Some(300),
        floor: 0,
        per_market,
    }
}

fn adl(price: StagePrice) -> Stage {
    Stage::Adl {
        ranking: Ranking::PnlLeverage,
        price,
        seed: 0,
        scores: None,
    }
}

fn waterfalls() -> Vec<(&'static str, Waterfall)> {
    let w = |stages, timing| Waterfall {
        stages,
        timing,
        lock_session_profit: false,
    };
    vec![
        (
            "socialize",
            w(
                vec![
                    fund(false),
                    Stage::FeePool,
                    socialize(Base::UnrealizedPnl, Rule::ProRata, Rounding::Up),
                ],
                Timing::Immediate,
            ),
        ),
        (
            "per-market fund, open interest",
            w(
                vec![
                    fund(true),
                    socialize(Base::OpenInterest, Rule::ProRata, Rounding::Exact),
                ],
                Timing::Immediate,
            ),
        ),
        (
            "adl at bankruptcy",
            w(
                vec![fund(false), adl(StagePrice::Bankruptcy)],
                Timing::Immediate,
            ),
        ),
        (
            "adl at mark, then socialize",
            w(
                vec![
                    adl(StagePrice::Mark),
                    socialize(Base::Equity, Rule::EqualLoss, Rounding::Exact),
                ],
                Timing::Immediate,
            ),
        ),
        (
            "deferred",
            w(
                vec![
                    fund(false),
                    socialize(Base::SessionProfit, Rule::ProRata, Rounding::Exact),
                ],
                Timing::Deferred,
            ),
        ),
        (
            "batched",
            w(
                vec![socialize(
                    Base::UnrealizedPnl,
                    Rule::ProRata,
                    Rounding::Down,
                )],
                Timing::Batched,
            ),
        ),
    ]
}

/// An operation under test.
type Op = dyn Fn(&mut Ledger) -> Result<Event>;

fn unchecked(b: usize, s: usize, m: usize, price: i64, size: i64) -> FillArgs {
    FillArgs {
        check_margin: false,
        ..FillArgs::new(b, s, m, price, size)
    }
}

/// Two markets, nine accounts (8 is a deep-pocketed backstop), levered positions, then
/// a crash in market 0 and a squeeze in market 1: several accounts are bankrupt.
fn crashed(waterfall: &Waterfall) -> Ledger {
    let mut l = Ledger::new();
    l.set_waterfall(waterfall.clone()).unwrap();
    l.create_market(10, 1_000, 1_000, 500, 100).unwrap();
    l.create_market(3, 2_000, 2_000, 1_000, 50).unwrap();
    l.create_accounts(9).unwrap();
    for (a, amount) in [
        10_000, 20_000, 15_000, 50_000, 30_000, 8_000, 40_000, 25_000, 10_000_000,
    ]
    .into_iter()
    .enumerate()
    {
        l.deposit(a, amount).unwrap();
    }
    l.fund_insurance(500, None).unwrap();
    l.fund_insurance(200, Some(0)).unwrap();
    l.fill(FillArgs {
        buyer_fee: 30,
        seller_fee: 20,
        ..FillArgs::new(0, 3, 0, 1_000, 9)
    })
    .unwrap();
    l.fill(FillArgs::new(1, 4, 0, 1_000, 15)).unwrap();
    l.fill(FillArgs::new(6, 2, 0, 1_000, 12)).unwrap();
    l.fill(FillArgs::new(5, 7, 1, 2_000, 6)).unwrap();
    l.fill(unchecked(8, 2, 1, 2_000, 20)).unwrap();
    l.apply_funding(0, 3).unwrap();
    l.set_marks(&[880, 2_400]).unwrap();
    l
}

/// Runs `op` on a copy of `l` with a fault at each logged write in turn: every failure
/// leaves the copy equal to `l`; the first run the fault does not reach must equal the
/// run without a fault. Returns how many faults were injected.
fn every_fault(l: &Ledger, what: &str, op: impl Fn(&mut Ledger) -> Result<Event>) -> usize {
    let mut clean = l.clone();
    let expected = op(&mut clean);
    for k in 0.. {
        let mut faulty = l.clone();
        faulty.inject_fault(k);
        match op(&mut faulty) {
            Err(e) if e.kind() == ErrorKind::Invariant && e.to_string().contains("fault") => {
                assert!(faulty == *l, "{what}: fault {k} left the ledger changed");
                assert!(faulty.snapshot() == l.snapshot(), "{what}: fault {k}");
            }
            other => {
                assert_eq!(other.is_ok(), expected.is_ok(), "{what} after {k} faults");
                assert_eq!(other.ok(), expected.ok(), "{what}: fault {k} not reached");
                assert!(faulty == clean, "{what}");
                return k;
            }
        }
    }
    unreachable!()
}

#[test]
fn a_fault_at_any_step_of_a_liquidation_changes_nothing() {
    for (name, wf) in waterfalls() {
        let l = crashed(&wf);
        let victims = l.liquidatable().unwrap();
        assert!(victims.len() >= 2, "{name}: {victims:?}");
        let mut l = l;
        for a in victims {
            if a == 8 {
                continue;
            }
            let what = format!("{name}: liquidate {a}");
            let steps = every_fault(&l, &what, |l| l.liquidate(a, 8, None).cloned());
            assert!(steps >= 4, "{what}: only {steps} writes");
            let mut with_prices = l.clone();
            every_fault(&with_prices, &what, |l| {
                l.liquidate(a, 8, Some(&[(0, 870), (1, 2_410)])).cloned()
            });
            // Move on: the next victim is liquidated after this one.
            let _ = with_prices.liquidate(a, 8, None);
            l.liquidate(a, 8, None).unwrap();
            l.check().unwrap();
        }
        if wf.timing != Timing::Immediate {
            let steps = every_fault(&l, name, |l| l.settle_session().cloned());
            assert!(steps > 0, "{name}: settlement wrote nothing");
        }
    }
}

#[test]
fn a_fault_at_any_step_of_the_other_operations_changes_nothing() {
    let (_, wf) = waterfalls().remove(2);
    let l = crashed(&wf);
    let ops: Vec<(&str, Box<Op>)> = vec![
        ("deposit", Box::new(|l| l.deposit(3, 5).cloned())),
        ("withdraw", Box::new(|l| l.withdraw(3, 5).cloned())),
        (
            "fund a market",
            Box::new(|l| l.fund_insurance(7, Some(1)).cloned()),
        ),
        (
            "fill with fees",
            Box::new(|l| {
                l.fill(FillArgs {
                    buyer_fee: 3,
                    seller_fee: 1,
                    ..FillArgs::new(3, 6, 0, 880, 2)
                })
                .cloned()
            }),
        ),
        (
            "fill refused for margin",
            Box::new(|l| l.fill(FillArgs::new(5, 3, 0, 880, 500)).cloned()),
        ),
        (
            "fill_many",
            Box::new(|l| {
                l.fill_many(0, &[3, 4, 3], &[6, 6, 7], &[880, 881, 879], &[1, 2, 3])
                    .cloned()
            }),
        ),
        (
            "set_marks",
            Box::new(|l| l.set_marks(&[870, 2_390]).cloned()),
        ),
        ("set_mark", Box::new(|l| l.set_mark(1, 2_390).cloned())),
        (
            "apply_funding",
            Box::new(|l| l.apply_funding(1, -4).cloned()),
        ),
        (
            "create_market",
            Box::new(|l| l.create_market(1, 50, 1_000, 500, 0).cloned()),
        ),
        ("create_account", Box::new(|l| l.create_account().cloned())),
        (
            "set_waterfall",
            Box::new(|l| l.set_waterfall(Waterfall::default()).cloned()),
        ),
        (
            "deleverage at the mark",
            Box::new(|l| l.deleverage(6, 0, None, AdlPrice::Mark).cloned()),
        ),
        (
            "deleverage refused",
            Box::new(|l| l.deleverage(2, 1, Some(&[8]), AdlPrice::Ticks(1)).cloned()),
        ),
        ("settle_session", Box::new(|l| l.settle_session().cloned())),
    ];
    for (what, op) in ops {
        every_fault(&l, what, op);
    }
    // create_accounts records several events after its transaction.
    let mut faulty = l.clone();
    faulty.inject_fault(0);
    assert!(faulty.create_accounts(3).is_err());
    assert!(faulty == l);
    let mut fine = l.clone();
    assert_eq!(fine.create_accounts(3).unwrap(), 9);
    assert_eq!(fine.journal().len(), l.journal().len() + 3);
}

#[test]
fn refused_operations_leave_no_trace_in_the_undo_journal() {
    // A refusal rolls back; the next operation starts from a clean journal.
    let (_, wf) = waterfalls().remove(0);
    let mut l = crashed(&wf);
    let before = l.clone();
    assert!(l.fill(FillArgs::new(5, 3, 0, 880, 500)).is_err());
    assert!(l == before);
    l.deposit(5, 1).unwrap();
    assert_eq!(
        l.collateral_at(5).unwrap(),
        before.collateral_at(5).unwrap() + 1
    );
    l.check().unwrap();
}
