//! The ledger (docs/ledger.md): every operation's effect and error paths (the state is
//! byte-identical after every error), conservation after every operation, and the worked
//! waterfall cases W1-W4 of shared/vectors/waterfall.md.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mutualize_core::ledger::Base;
use mutualize_core::{
    AdlFill, AdlPrice, Error, ErrorKind, Event, FillArgs, Ledger, Ranking, Result, Rounding, Rule,
    Stage, StageKind, StagePrice, Timing, Waterfall,
};

/// Runs `op`, which must fail with `kind`, and checks the state and journal are unchanged.
fn refused(
    l: &mut Ledger,
    kind: ErrorKind,
    op: impl FnOnce(&mut Ledger) -> Result<&Event>,
) -> Error {
    let before = l.snapshot();
    let err = op(l).map(|_| ()).expect_err("operation should fail");
    assert_eq!(err.kind(), kind, "{err}");
    assert!(
        l.snapshot() == before,
        "state changed by a failed operation: {err}"
    );
    l.check().unwrap();
    err
}

/// Runs `op`, checks conservation, returns the event.
fn ok(l: &mut Ledger, op: impl FnOnce(&mut Ledger) -> Result<&Event>) -> Event {
    let ev = op(l).unwrap().clone();
    l.check().unwrap();
    assert_eq!(l.journal().last(), Some(&ev));
    ev
}

fn fill(b: usize, s: usize, m: usize, price: i64, size: i64) -> FillArgs {
    FillArgs::new(b, s, m, price, size)
}

fn unchecked(b: usize, s: usize, m: usize, price: i64, size: i64) -> FillArgs {
    FillArgs {
        check_margin: false,
        ..FillArgs::new(b, s, m, price, size)
    }
}

/// One market (tick_value 10, mark 100, imr 10%, mmr 5%, penalty 1%) and `n` accounts
/// with 10_000 each.
fn book(n: usize) -> Ledger {
    let mut l = Ledger::new();
    ok(&mut l, |l| l.create_market(10, 100, 1_000, 500, 100));
    for a in 0..n {
        ok(&mut l, |l| l.create_account());
        ok(&mut l, |l| l.deposit(a, 10_000));
    }
    l
}

fn socialize(base: Base) -> Stage {
    Stage::Socialize {
        rule: Rule::ProRata,
        rounding: Rounding::Exact,
        base,
        max_rate: None,
        weights: None,
    }
}

fn waterfall(stages: Vec<Stage>) -> Waterfall {
    Waterfall {
        stages,
        ..Waterfall::default()
    }
}

// ---- basic operations -----------------------------------------------------------------

#[test]
fn create_market_and_account() {
    let mut l = Ledger::new();
    let ev = ok(&mut l, |l| l.create_account());
    assert_eq!(ev, Event::CreateAccount { account: 0 });
    let ev = ok(&mut l, |l| l.create_market(5, 7, 200, 100, 0));
    assert!(matches!(
        ev,
        Event::CreateMarket {
            market: 0,
            tick_value: 5,
            ..
        }
    ));
    // A market created later gives existing accounts a flat position.
    assert_eq!(l.position(0, 0).unwrap(), Default::default());
    ok(&mut l, |l| l.create_account());
    assert_eq!(l.sizes(0).unwrap(), vec![0, 0]);
    assert_eq!(l.num_markets(), 1);
    for (tv, mark, imr, mmr, pen) in [
        (0, 1, 1, 1, 0),
        (1, 0, 1, 1, 0),
        (1, 1, 1, 0, 0),
        (1, 1, 1, 2, 0),
        (1, 1, 10_001, 1, 0),
        (1, 1, 1, 1, -1),
        (1, 1, 1, 1, 10_001),
    ] {
        refused(&mut l, ErrorKind::InvalidInput, |l| {
            l.create_market(tv, mark, imr, mmr, pen)
        });
    }
    ok(&mut l, |l| l.create_market(1, 1, 10_000, 10_000, 10_000));
    assert_eq!(l.create_accounts(3).unwrap(), 2);
    assert_eq!(l.num_accounts(), 5);
    assert_eq!(l.journal().len(), 7);
    l.check().unwrap();
}

#[test]
fn new_positions_owe_no_past_funding() {
    let mut l = book(1);
    ok(&mut l, |l| l.apply_funding(0, 9));
    ok(&mut l, |l| l.create_account());
    assert_eq!(l.position(1, 0).unwrap().funding_snapshot, 9);
    assert_eq!(l.create_accounts(2).unwrap(), 2);
    assert_eq!(l.position(3, 0).unwrap().funding_snapshot, 9);
    ok(&mut l, |l| l.create_market(1, 10, 100, 100, 0));
    assert_eq!(l.position(3, 1).unwrap().funding_snapshot, 0);
}

#[test]
fn deposit_withdraw_fund() {
    let mut l = book(1);
    assert_eq!(l.collateral_at(0).unwrap(), 10_000);
    assert_eq!(l.deposits(), 10_000);
    assert_eq!(l.session_deposit_at(0).unwrap(), 10_000);
    refused(&mut l, ErrorKind::InvalidInput, |l| l.deposit(1, 5));
    refused(&mut l, ErrorKind::InvalidInput, |l| l.deposit(0, 0));
    refused(&mut l, ErrorKind::InvalidInput, |l| l.deposit(0, -5));
    refused(&mut l, ErrorKind::InvalidInput, |l| l.withdraw(1, 5));
    refused(&mut l, ErrorKind::InvalidInput, |l| l.withdraw(0, 0));
    refused(&mut l, ErrorKind::InsufficientMargin, |l| {
        l.withdraw(0, 10_001)
    });
    ok(&mut l, |l| l.withdraw(0, 4_000));
    assert_eq!(l.collateral_at(0).unwrap(), 6_000);
    assert_eq!(l.withdrawals(), 4_000);
    assert_eq!(l.session_deposit_at(0).unwrap(), 6_000);
    refused(&mut l, ErrorKind::InvalidInput, |l| {
        l.fund_insurance(0, None)
    });
    ok(&mut l, |l| l.fund_insurance(700, None));
    assert_eq!(l.insurance_fund(), 700);
    assert_eq!(l.deposits(), 10_700);
}

#[test]
fn amounts_overflow_cleanly() {
    let mut l = Ledger::new();
    ok(&mut l, |l| {
        l.create_market(i64::MAX, i64::MAX, 10_000, 10_000, 0)
    });
    l.create_accounts(3).unwrap();
    // basis = (2^63 - 1)^2 fits i128; upnl at the same price is 0.
    ok(&mut l, |l| l.fill(unchecked(0, 1, 0, i64::MAX, i64::MAX)));
    // Sizes are i64: one more lot overflows, and nothing changes.
    refused(&mut l, ErrorKind::Overflow, |l| {
        l.fill(unchecked(0, 2, 0, 1, 1))
    });
    // At mark 1 the PnL is ~2^189: equity is an overflow, not a wrapped number.
    l.set_mark(0, 1).unwrap();
    assert_eq!(l.equity(0).unwrap_err().kind(), ErrorKind::Overflow);
    // ... while conservation is summed exactly: it still holds (issue 9, item 6).
    l.check().unwrap();
    l.deposit(0, 5).unwrap();
    let before = l.snapshot();
    assert_eq!(l.withdraw(0, 1).unwrap_err().kind(), ErrorKind::Overflow);
    assert_eq!(
        l.fill(fill(0, 2, 0, 1, 1)).unwrap_err().kind(),
        ErrorKind::Overflow
    );
    assert!(l.snapshot() == before);
    // The funding index is i128, moved by i64 deltas.
    l.apply_funding(0, i64::MAX).unwrap();
    assert_eq!(l.market(0).unwrap().funding_index, i128::from(i64::MAX));
}

#[test]
fn fill_effects_and_realized() {
    let mut l = book(3);
    let ev = ok(&mut l, |l| {
        l.fill(FillArgs {
            buyer_fee: 3,
            seller_fee: 4,
            ..fill(0, 1, 0, 100, 5)
        })
    });
    assert!(matches!(
        ev,
        Event::Fill {
            buyer_realized: 0,
            seller_realized: 0,
            ..
        }
    ));
    assert_eq!(l.fee_pool(), 7);
    assert_eq!(l.collateral_at(0).unwrap(), 9_997);
    assert_eq!(l.collateral_at(1).unwrap(), 9_996);
    let p = l.position(0, 0).unwrap();
    assert_eq!((p.size, p.basis), (5, 500));
    ok(&mut l, |l| l.set_mark(0, 110));
    assert_eq!(l.upnl(0, 0).unwrap(), 500);
    assert_eq!(l.upnl(1, 0).unwrap(), -500);
    assert_eq!(l.equity(0).unwrap(), 10_497);
    assert_eq!(l.maintenance(0).unwrap(), 275);
    assert_eq!(l.initial(0).unwrap(), 550);
    assert_eq!(l.notional(0, 0).unwrap(), 5_500);
    // Buyer 0 sells 2 to 2 at 120: removed = trunc(500*2/5) = 200, realized (240-200)*10.
    let ev = ok(&mut l, |l| l.fill(fill(2, 0, 0, 120, 2)));
    match ev {
        Event::Fill {
            buyer_realized,
            seller_realized,
            ..
        } => assert_eq!((buyer_realized, seller_realized), (0, 400)),
        _ => unreachable!(),
    }
    // Crossing: 0 (long 3, basis 300) sells 5 at 90: closes 3 (realized -300), opens -2.
    ok(&mut l, |l| l.fill(fill(1, 0, 0, 90, 5)));
    let p = l.position(0, 0).unwrap();
    assert_eq!((p.size, p.basis), (-2, -180));
    assert_eq!(l.collateral_at(0).unwrap(), 9_997 + 400 - 300);
}

#[test]
fn fill_errors_leave_state_unchanged() {
    let mut l = book(2);
    for args in [
        fill(0, 9, 0, 100, 1),
        fill(9, 0, 0, 100, 1),
        fill(0, 0, 0, 100, 1),
        fill(0, 1, 3, 100, 1),
        fill(0, 1, 0, 0, 1),
        fill(0, 1, 0, 100, 0),
        fill(0, 1, 0, 100, -1),
        FillArgs {
            buyer_fee: -1,
            ..fill(0, 1, 0, 100, 1)
        },
        FillArgs {
            seller_fee: -1,
            ..fill(0, 1, 0, 100, 1)
        },
    ] {
        refused(&mut l, ErrorKind::InvalidInput, |l| l.fill(args));
    }
    // Initial margin: 10% of 100 lots x 100 x 10 = 10_000 fits exactly; one more lot no.
    refused(&mut l, ErrorKind::InsufficientMargin, |l| {
        l.fill(fill(0, 1, 0, 100, 101))
    });
    let e = refused(&mut l, ErrorKind::InsufficientMargin, |l| {
        l.fill(FillArgs {
            buyer_fee: 1,
            ..fill(0, 1, 0, 100, 100)
        })
    });
    assert!(e.to_string().contains("buyer"));
    ok(&mut l, |l| l.fill(fill(0, 1, 0, 100, 100)));
    // A reducing side is not margin-checked even when under water.
    ok(&mut l, |l| l.set_mark(0, 150));
    ok(&mut l, |l| l.create_account());
    ok(&mut l, |l| l.deposit(2, 100_000));
    ok(&mut l, |l| l.fill(fill(1, 2, 0, 150, 10)));
    // ... but a growing one is: 1 (short, equity < initial) cannot sell more.
    refused(&mut l, ErrorKind::InsufficientMargin, |l| {
        l.fill(fill(2, 1, 0, 150, 1))
    });
    ok(&mut l, |l| l.fill(unchecked(2, 1, 0, 150, 1)));
}

#[test]
fn fill_many_is_atomic() {
    let mut l = book(4);
    ok(&mut l, |l| {
        l.fill_many(0, &[0, 1, 2], &[1, 2, 3], &[100, 101, 102], &[3, 2, 1])
    });
    assert_eq!(l.sizes(0).unwrap(), vec![3, -1, -1, -1]);
    refused(&mut l, ErrorKind::InvalidInput, |l| {
        l.fill_many(0, &[0, 1], &[1], &[100, 100], &[1, 1])
    });
    refused(&mut l, ErrorKind::InvalidInput, |l| {
        l.fill_many(0, &[0, 1], &[1, 1], &[100, 100], &[1, 1])
    });
    refused(&mut l, ErrorKind::InvalidInput, |l| {
        l.fill_many(0, &[0, 7], &[1, 2], &[100, 100], &[1, 1])
    });
    refused(&mut l, ErrorKind::InvalidInput, |l| {
        l.fill_many(1, &[0], &[1], &[100], &[1])
    });
    // An overflow in the middle of the batch rolls back the fills before it.
    refused(&mut l, ErrorKind::Overflow, |l| {
        l.fill_many(
            0,
            &[0, 2, 0, 0],
            &[1, 3, 1, 1],
            &[100, 100, 100, 100],
            &[5, 5, i64::MAX - 1, 5],
        )
    });
    // Fills in one batch equal the same fills one by one.
    let mut a = book(3);
    let mut b = book(3);
    let (bu, se, pr, sz) = (
        [0, 1, 2, 0, 1],
        [1, 2, 0, 2, 0],
        [100, 90, 120, 80, 101],
        [5, 3, 7, 2, 9],
    );
    ok(&mut a, |l| l.fill_many(0, &bu, &se, &pr, &sz));
    for i in 0..5 {
        ok(&mut b, |l| l.fill(unchecked(bu[i], se[i], 0, pr[i], sz[i])));
    }
    assert_eq!(a.collaterals(), b.collaterals());
    assert_eq!(a.positions(0).unwrap(), b.positions(0).unwrap());
}

#[test]
fn marks_and_funding() {
    let mut l = book(2);
    ok(&mut l, |l| l.create_market(1, 50, 1_000, 500, 0));
    refused(&mut l, ErrorKind::InvalidInput, |l| l.set_mark(2, 5));
    refused(&mut l, ErrorKind::InvalidInput, |l| l.set_mark(0, 0));
    refused(&mut l, ErrorKind::InvalidInput, |l| l.set_marks(&[1]));
    refused(&mut l, ErrorKind::InvalidInput, |l| l.set_marks(&[1, -1]));
    ok(&mut l, |l| l.set_marks(&[90, 60]));
    assert_eq!(l.market(0).unwrap().mark, 90);
    assert_eq!(l.market(1).unwrap().mark, 60);
    ok(&mut l, |l| l.fill(fill(0, 1, 0, 90, 4)));
    refused(&mut l, ErrorKind::InvalidInput, |l| l.apply_funding(5, 1));
    ok(&mut l, |l| l.apply_funding(0, 7));
    // Longs pay shorts exactly what shorts receive.
    assert_eq!(l.unpaid_funding(0, 0).unwrap(), -28);
    assert_eq!(l.unpaid_funding(1, 0).unwrap(), 28);
    // A trade settles funding into collateral first.
    ok(&mut l, |l| l.fill(fill(0, 1, 0, 90, 1)));
    assert_eq!(l.collateral_at(0).unwrap(), 10_000 - 28);
    assert_eq!(l.unpaid_funding(0, 0).unwrap(), 0);
    ok(&mut l, |l| l.apply_funding(0, -3));
    assert_eq!(l.unpaid_funding(0, 0).unwrap(), 15);
}

#[test]
fn queries_and_bankruptcy_price() {
    let mut l = book(2);
    ok(&mut l, |l| l.fill(fill(0, 1, 0, 100, 10)));
    // Long 10 at 100, tv 10, equity 10_000: p* = 100 - 10_000/100 = 0 (cannot go bankrupt).
    assert_eq!(l.bankruptcy_price(0, 0).unwrap(), 0);
    assert_eq!(l.bankruptcy_price(1, 0).unwrap(), 200);
    ok(&mut l, |l| l.withdraw(0, 7_999));
    // equity 2_001: p* = 100 - 2001/100 = 79.99 -> ceil 80 for a long.
    assert_eq!(l.bankruptcy_price(0, 0).unwrap(), 80);
    ok(&mut l, |l| l.set_mark(0, 81));
    // equity 2_001 - 1_900 = 101 -> p* = 81 - 1.01 = 79.99 -> 80; closing at 80 leaves 1.
    assert_eq!(l.equity(0).unwrap(), 101);
    assert_eq!(l.bankruptcy_price(0, 0).unwrap(), 80);
    // short 10 at 100 with equity 10_000 + 1_900 = 11_900: p* = 81 + 119 = 200.
    assert_eq!(l.bankruptcy_price(1, 0).unwrap(), 200);
    ok(&mut l, |l| l.create_account());
    assert_eq!(
        l.bankruptcy_price(2, 0).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(l.liquidatable().unwrap(), vec![0]);
    assert!(!l.is_liquidatable(1).unwrap());
    assert_eq!(l.session_profit(0).unwrap(), 101 - 2_001);
    assert_eq!(l.equities().unwrap(), vec![101, 11_900, 0]);
}

#[test]
fn set_waterfall_validates() {
    let mut l = book(1);
    let bad = [
        waterfall(vec![Stage::FeePool, Stage::FeePool]),
        waterfall(vec![Stage::InsuranceFund {
            cap: Some(-1),
            floor: 0,
            per_market: false,
        }]),
        waterfall(vec![Stage::InsuranceFund {
            cap: None,
            floor: -1,
            per_market: false,
        }]),
        waterfall(vec![Stage::Socialize {
            rule: Rule::ProRata,
            rounding: Rounding::Down,
            base: Base::Equity,
            max_rate: Some((1, 2)),
            weights: None,
        }]),
        waterfall(vec![Stage::Socialize {
            rule: Rule::ProRata,
            rounding: Rounding::Exact,
            base: Base::Equity,
            max_rate: Some((3, 2)),
            weights: None,
        }]),
        waterfall(vec![Stage::Socialize {
            rule: Rule::EqualAward,
            rounding: Rounding::Exact,
            base: Base::OpenInterest,
            max_rate: None,
            weights: None,
        }]),
        waterfall(vec![Stage::Socialize {
            rule: Rule::ProRata,
            rounding: Rounding::Exact,
            base: Base::Weights,
            max_rate: None,
            weights: None,
        }]),
        waterfall(vec![Stage::Adl {
            ranking: Ranking::Scores,
            price: StagePrice::Bankruptcy,
            seed: 0,
            scores: None,
        }]),
    ];
    for wf in bad {
        refused(&mut l, ErrorKind::InvalidInput, |l| l.set_waterfall(wf));
    }
    for name in ["nope", "Immediate"] {
        assert_eq!(
            name.parse::<Timing>().unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    }
    assert_eq!("open_interest".parse::<Base>().unwrap(), Base::OpenInterest);
    assert_eq!(Ranking::Hyperliquid.as_str(), "hyperliquid");
    let good = Waterfall {
        stages: vec![Stage::FeePool, Stage::adl(), Stage::insurance_fund()],
        timing: Timing::Deferred,
        lock_session_profit: true,
    };
    let ev = ok(&mut l, |l| l.set_waterfall(good.clone()));
    assert_eq!(
        ev,
        Event::SetWaterfall {
            waterfall: good.clone()
        }
    );
    assert_eq!(l.waterfall(), &good);
}

#[test]
fn lock_session_profit_blocks_withdrawing_profit() {
    let mut l = book(2);
    ok(&mut l, |l| {
        l.set_waterfall(Waterfall {
            lock_session_profit: true,
            ..Waterfall::default()
        })
    });
    ok(&mut l, |l| l.fill(fill(0, 1, 0, 100, 10)));
    ok(&mut l, |l| l.set_mark(0, 120));
    // 0: equity 12_000, profit 2_000, initial 1_200: free = 10_000 - amount >= 1_200.
    refused(&mut l, ErrorKind::InsufficientMargin, |l| {
        l.withdraw(0, 8_801)
    });
    ok(&mut l, |l| l.withdraw(0, 8_800));
    // Collateral 1_200, equity 3_200: 1_000 more would leave 2_200 - profit 2_000 < 1_200.
    refused(&mut l, ErrorKind::InsufficientMargin, |l| {
        l.withdraw(0, 1_000)
    });
    // After settlement the profit is the new start: free again.
    ok(&mut l, |l| l.settle_session());
    ok(&mut l, |l| l.withdraw(0, 1_000));
}

// ---- liquidation --------------------------------------------------------------------

/// 0 long 10 at 100 with 2_000 of its own; 1 short; 2 a liquidator; 3 a winner.
fn underwater() -> Ledger {
    let mut l = book(4);
    ok(&mut l, |l| l.withdraw(0, 8_000));
    ok(&mut l, |l| l.fill(fill(0, 1, 0, 100, 10)));
    l
}

#[test]
fn liquidate_checks() {
    let mut l = underwater();
    refused(&mut l, ErrorKind::InvalidInput, |l| l.liquidate(9, 2, None));
    refused(&mut l, ErrorKind::InvalidInput, |l| l.liquidate(0, 9, None));
    refused(&mut l, ErrorKind::InvalidInput, |l| l.liquidate(0, 0, None));
    refused(&mut l, ErrorKind::InvalidInput, |l| {
        l.liquidate(0, 2, Some(&[(4, 10)]))
    });
    refused(&mut l, ErrorKind::InvalidInput, |l| {
        l.liquidate(0, 2, Some(&[(0, 0)]))
    });
    refused(&mut l, ErrorKind::InvalidInput, |l| {
        l.liquidate(0, 2, Some(&[(0, 5), (0, 6)]))
    });
    refused(&mut l, ErrorKind::InvalidInput, |l| {
        l.liquidate(0, 2, Some(&[(0, 5), (1, 0)]))
    });
    refused(&mut l, ErrorKind::NotLiquidatable, |l| {
        l.liquidate(0, 2, None)
    });
    refused(&mut l, ErrorKind::NotLiquidatable, |l| {
        l.liquidate(2, 0, None)
    });
}

#[test]
fn liquidation_with_penalty_and_no_deficit() {
    let mut l = underwater();
    ok(&mut l, |l| l.set_mark(0, 82));
    // equity 2_000 - 1_800 = 200 < maintenance ceil(10*82*10*5%) = 410.
    let ev = ok(&mut l, |l| l.liquidate(0, 2, None));
    // penalty ceil(10*82*10*1%) = 82, charged in full.
    let Event::Liquidate {
        closes,
        penalty,
        deficit,
        stages,
        haircuts,
        adl,
        ..
    } = ev
    else {
        unreachable!()
    };
    assert_eq!(closes.len(), 1);
    assert_eq!(
        (closes[0].market, closes[0].size, closes[0].price),
        (0, 10, 82)
    );
    assert_eq!((penalty, deficit), (82, 0));
    assert!(stages.is_empty() && haircuts.is_empty() && adl.is_empty());
    assert_eq!(l.insurance_fund(), 82);
    assert_eq!(l.equity(0).unwrap(), 118);
    assert_eq!(l.position(2, 0).unwrap().size, 10);
}

#[test]
fn liquidation_deficit_through_insurance_socialize_and_bad_debt() {
    let mut l = underwater();
    ok(&mut l, |l| l.fund_insurance(300, None));
    // The short (1) and a later long-short pair make winners.
    ok(&mut l, |l| l.fill(fill(3, 2, 0, 100, 1)));
    ok(&mut l, |l| l.set_mark(0, 70));
    // 0: equity 2_000 - 3_000 = -1_000 at the liquidator's price 65: -1_500.
    let ev = ok(&mut l, |l| l.liquidate(0, 2, Some(&[(0, 65)])));
    let Event::Liquidate {
        penalty,
        deficit,
        stages,
        haircuts,
        ..
    } = ev
    else {
        unreachable!()
    };
    // The event's penalty is the computed one (ceil(10 * 65 * 10 * 1%) = 65); none of it
    // is charged, since nothing is left of the equity.
    assert_eq!((penalty, deficit), (65, 1_500));
    // Winners by unrealized PnL at mark 70: 1 (short 10 from 100): 3_000; 2 (short 1
    // from 100, then bought 10 at 65: realized 350, long 9 from 65): 450; 3 is long.
    assert_eq!(
        stages,
        vec![
            (StageKind::InsuranceFund, 300),
            (StageKind::Socialize, 1_200),
            (StageKind::BadDebt, 0),
        ]
    );
    let total: i128 = haircuts.iter().map(|h| h.1).sum();
    assert_eq!(total, 1_200);
    // pro rata 1_200 over 3_000 and 450: 1_043.48 and 156.52 -> 1_043 and 157.
    assert_eq!(haircuts, vec![(1, 1_043), (2, 157)]);
    assert_eq!(l.equity(0).unwrap(), 0);
    assert_eq!(l.insurance_fund(), 0);
}

#[test]
fn liquidation_across_markets() {
    let mut l = underwater();
    ok(&mut l, |l| l.create_market(2, 50, 1_000, 500, 200));
    ok(&mut l, |l| l.fill(unchecked(1, 0, 1, 50, 20)));
    ok(&mut l, |l| l.set_mark(0, 85));
    // 0: long 10 at 100 in market 0 (-1_500 at 85), short 20 at 50 in market 1.
    assert!(l.is_liquidatable(0).unwrap());
    let ev = ok(&mut l, |l| l.liquidate(0, 2, Some(&[(1, 60), (0, 84)])));
    let Event::Liquidate {
        prices,
        closes,
        penalty,
        deficit,
        ..
    } = ev
    else {
        unreachable!()
    };
    assert_eq!(prices, Some(vec![(0, 84), (1, 60)]));
    let closes: Vec<(usize, i64, i128)> =
        closes.iter().map(|c| (c.market, c.size, c.price)).collect();
    assert_eq!(closes, vec![(0, 10, 84), (1, -20, 60)]);
    // ceil(10*84*10*1%) + ceil(20*60*2*2%) = 84 + 48.
    assert_eq!(penalty, 132);
    // 2_000 - 1_600 - 20*10*2 = 0 before the penalty: nothing charged, no deficit.
    assert_eq!(deficit, 0);
    assert_eq!(l.equity(0).unwrap(), 0);
    assert_eq!(l.position(2, 1).unwrap().size, -20);
}

#[test]
fn residual_bad_debt_and_caps() {
    let mut l = underwater();
    ok(&mut l, |l| l.fund_insurance(1_000, None));
    ok(&mut l, |l| {
        l.set_waterfall(waterfall(vec![Stage::InsuranceFund {
            cap: Some(100),
            floor: 850,
            per_market: false,
        }]))
    });
    ok(&mut l, |l| l.set_mark(0, 70));
    let ev = ok(&mut l, |l| l.liquidate(0, 2, None));
    let Event::Liquidate {
        stages, deficit, ..
    } = ev
    else {
        unreachable!()
    };
    assert_eq!(deficit, 1_000);
    // min(1_000, max(0, 1_000 - 850), 100) = 100.
    assert_eq!(
        stages,
        vec![(StageKind::InsuranceFund, 100), (StageKind::BadDebt, 900)]
    );
    assert_eq!(l.bad_debt(), 900);
    assert_eq!(l.equity(0).unwrap(), 0);
}

#[test]
fn fee_pool_stage_and_rounding_surplus() {
    let mut l = underwater();
    ok(&mut l, |l| {
        l.fill(FillArgs {
            buyer_fee: 40,
            ..fill(3, 2, 0, 100, 1)
        })
    });
    ok(&mut l, |l| {
        l.set_waterfall(waterfall(vec![
            Stage::FeePool,
            Stage::Socialize {
                rule: Rule::ProRata,
                rounding: Rounding::Up,
                base: Base::UnrealizedPnl,
                max_rate: None,
                weights: None,
            },
        ]))
    });
    ok(&mut l, |l| l.set_mark(0, 70));
    let ev = ok(&mut l, |l| l.liquidate(0, 3, Some(&[(0, 69)])));
    assert!(matches!(&ev, Event::Liquidate { prices: Some(p), .. } if p == &[(0, 69)]));
    let Event::Liquidate {
        stages,
        haircuts,
        deficit,
        ..
    } = ev
    else {
        unreachable!()
    };
    // deficit 2_000 - 3_100 = 1_100; fee pool 40; 1_060 over 3_000 (1) and 300 (2):
    // 963.6.. -> 964 and 96.36.. -> 97: surplus 1 goes to the insurance fund.
    assert_eq!(deficit, 1_100);
    assert_eq!(stages[0], (StageKind::FeePool, 40));
    assert_eq!(stages[1], (StageKind::Socialize, 1_060));
    assert_eq!(haircuts, vec![(1, 964), (2, 97)]);
    assert_eq!(l.insurance_fund(), 1);
    assert_eq!(l.fee_pool(), 0);
}

#[test]
fn socialize_bases() {
    for (base, expect) in [
        (Base::Equity, vec![(1, 1_000 * 13_000 / 26_000), (3, 500)]),
        (Base::SessionProfit, vec![(1, 1_000)]),
    ] {
        let mut l = underwater();
        ok(&mut l, |l| {
            l.set_waterfall(waterfall(vec![socialize(base)]))
        });
        ok(&mut l, |l| l.set_mark(0, 70));
        let ev = ok(&mut l, |l| l.liquidate(0, 2, None));
        let Event::Liquidate { haircuts, .. } = ev else {
            unreachable!()
        };
        // Equity: 1 has 13_000, 2 (liquidator, long 10 at 70) 10_000, 3 10_000; the claims
        // 13_000, 10_000, 10_000 share 1_000: 393.9, 303.0, 303.0 -> 394, 303, 303.
        if base == Base::Equity {
            assert_eq!(haircuts, vec![(1, 394), (2, 303), (3, 303)]);
        } else {
            assert_eq!(haircuts, expect);
        }
    }
    // Weights: claims are the weights, capped by equity.
    let mut l = underwater();
    ok(&mut l, |l| {
        l.set_waterfall(waterfall(vec![Stage::Socialize {
            rule: Rule::ProRata,
            rounding: Rounding::Exact,
            base: Base::Weights,
            max_rate: None,
            weights: Some(vec![5, 1_000, 3_000]),
        }]))
    });
    ok(&mut l, |l| l.set_mark(0, 70));
    let ev = ok(&mut l, |l| l.liquidate(0, 2, None));
    let Event::Liquidate { haircuts, .. } = ev else {
        unreachable!()
    };
    // Claims (minor units) 0 (bankrupt), 1_000, 3_000, 0 (no weight): 250 and 750.
    assert_eq!(haircuts, vec![(1, 250), (2, 750)]);
}

#[test]
fn deferred_loss_and_settlement() {
    let mut l = underwater();
    ok(&mut l, |l| {
        l.set_waterfall(Waterfall {
            stages: vec![Stage::insurance_fund(), socialize(Base::SessionProfit)],
            timing: Timing::Deferred,
            lock_session_profit: false,
        })
    });
    ok(&mut l, |l| l.set_mark(0, 70));
    let ev = ok(&mut l, |l| l.liquidate(0, 2, None));
    let Event::Liquidate { stages, .. } = ev else {
        unreachable!()
    };
    assert_eq!(
        stages,
        vec![
            (StageKind::InsuranceFund, 0),
            (StageKind::Socialize, 1_000),
            (StageKind::BadDebt, 0)
        ]
    );
    assert_eq!(l.deferred_loss(), 1_000);
    assert_eq!(l.equity(0).unwrap(), 0);
    let ev = ok(&mut l, |l| l.settle_session());
    assert_eq!(
        ev,
        Event::SettleSession {
            collected: 1_000,
            haircuts: vec![(1, 1_000)],
            bad_debt: 0
        }
    );
    assert_eq!(l.deferred_loss(), 0);
    assert_eq!(l.session_profit(1).unwrap(), 0);
    assert_eq!(l.session_start_at(1).unwrap(), 12_000);
    assert_eq!(l.session_deposit_at(1).unwrap(), 0);
    // Nothing deferred: only a new session.
    let ev = ok(&mut l, |l| l.settle_session());
    assert_eq!(
        ev,
        Event::SettleSession {
            collected: 0,
            haircuts: vec![],
            bad_debt: 0
        }
    );
}

#[test]
fn deferred_loss_beyond_profits_becomes_bad_debt() {
    let mut l = underwater();
    ok(&mut l, |l| {
        l.set_waterfall(Waterfall {
            stages: vec![socialize(Base::SessionProfit)],
            timing: Timing::Deferred,
            lock_session_profit: false,
        })
    });
    ok(&mut l, |l| l.set_mark(0, 70));
    ok(&mut l, |l| l.liquidate(0, 2, None));
    ok(&mut l, |l| l.set_mark(0, 100));
    // At 100 nobody has a session profit but the liquidator (long 10 from 70): 3_000 - ...
    let ev = ok(&mut l, |l| l.settle_session());
    let Event::SettleSession {
        collected,
        bad_debt,
        ..
    } = ev
    else {
        unreachable!()
    };
    assert_eq!(collected + bad_debt, 1_000);
    assert_eq!(l.bad_debt(), bad_debt);
}

// ---- deleveraging -------------------------------------------------------------------

#[test]
fn deleverage_checks_and_effects() {
    let mut l = book(4);
    ok(&mut l, |l| l.fill(fill(0, 1, 0, 100, 10)));
    ok(&mut l, |l| l.fill(fill(0, 2, 0, 100, 5)));
    refused(&mut l, ErrorKind::InvalidInput, |l| {
        l.deleverage(9, 0, None, AdlPrice::Mark)
    });
    refused(&mut l, ErrorKind::InvalidInput, |l| {
        l.deleverage(0, 1, None, AdlPrice::Mark)
    });
    refused(&mut l, ErrorKind::InvalidInput, |l| {
        l.deleverage(3, 0, None, AdlPrice::Mark)
    });
    for list in [&[1, 9][..], &[0], &[1, 1], &[3]] {
        refused(&mut l, ErrorKind::InvalidInput, |l| {
            l.deleverage(0, 0, Some(list), AdlPrice::Mark)
        });
    }
    refused(&mut l, ErrorKind::InvalidInput, |l| {
        l.deleverage(0, 0, Some(&[1]), AdlPrice::Ticks(0))
    });
    // Given order, at a given price: 2 takes 5, then 1 takes 10.
    let ev = ok(&mut l, |l| {
        l.deleverage(0, 0, Some(&[2, 1]), AdlPrice::Ticks(105))
    });
    let Event::Deleverage { fills, .. } = ev else {
        unreachable!()
    };
    assert_eq!(
        fills,
        vec![
            AdlFill {
                counterparty: 2,
                size: 5,
                price: 105
            },
            AdlFill {
                counterparty: 1,
                size: 10,
                price: 105
            },
        ]
    );
    assert_eq!(l.sizes(0).unwrap(), vec![0, 0, 0, 0]);
    assert_eq!(l.collateral_at(0).unwrap(), 10_000 + 15 * 5 * 10);
}

#[test]
fn deleverage_partial_and_ranked() {
    let mut l = book(4);
    ok(&mut l, |l| l.fill(fill(1, 0, 0, 100, 3)));
    ok(&mut l, |l| l.fill(fill(2, 0, 0, 90, 3)));
    ok(&mut l, |l| l.fill(fill(3, 0, 0, 110, 3)));
    // Ranked by pnl (stage's ranking): at mark 100, 2 (+300) then 1 (0) then 3 (-300).
    ok(&mut l, |l| {
        l.set_waterfall(waterfall(vec![Stage::Adl {
            ranking: Ranking::Pnl,
            price: StagePrice::Mark,
            seed: 0,
            scores: None,
        }]))
    });
    assert_eq!(l.adl_ranking(0, 0).unwrap(), vec![2, 1, 3]);
    // Only the longs' 9 lots exist; a position of 9 the other way is fully closed.
    let ev = ok(&mut l, |l| l.deleverage(1, 0, None, AdlPrice::Mark));
    let Event::Deleverage { fills, .. } = ev else {
        unreachable!()
    };
    assert_eq!(fills.len(), 1);
    assert_eq!((fills[0].counterparty, fills[0].size), (0, 3));
    // Random: rotated id order.
    ok(&mut l, |l| {
        l.set_waterfall(waterfall(vec![Stage::Adl {
            ranking: Ranking::Random,
            price: StagePrice::Mark,
            seed: 7,
            scores: None,
        }]))
    });
    assert_eq!(l.adl_ranking(0, 0).unwrap(), vec![3, 2]);
}

#[test]
fn pnl_leverage_score_ranks_as_bitmex() {
    // Long 1 lot at 100, mark 120: equity 30 (bankruptcy 90) -> 0.2 x 4 = 0.8;
    // equity 24 -> 0.2 x 5 = 1.0; long 2 at 100 with equity 80 -> 0.2 x 3 = 0.6;
    // a loser (long 1 at 130, equity 50): -1/13 / (120/50) < 0; equity <= 0 last.
    let mut l = Ledger::new();
    ok(&mut l, |l| l.create_market(1, 100, 100, 100, 0));
    l.create_accounts(6).unwrap();
    ok(&mut l, |l| l.deposit(0, 1_000_000));
    for (a, c) in [(1, 10), (2, 4), (3, 40), (4, 50)] {
        ok(&mut l, |l| l.deposit(a, c));
    }
    ok(&mut l, |l| l.fill(unchecked(1, 0, 0, 100, 1)));
    ok(&mut l, |l| l.fill(unchecked(2, 0, 0, 100, 1)));
    ok(&mut l, |l| l.fill(unchecked(3, 0, 0, 100, 2)));
    ok(&mut l, |l| l.fill(unchecked(4, 0, 0, 130, 1)));
    ok(&mut l, |l| l.fill(unchecked(5, 0, 0, 200, 1)));
    ok(&mut l, |l| l.set_mark(0, 120));
    assert_eq!(l.equity(1).unwrap(), 30);
    assert_eq!(l.bankruptcy_price(1, 0).unwrap(), 90);
    assert_eq!(l.adl_ranking(0, 0).unwrap(), vec![2, 1, 3, 4, 5]);
    // Hyperliquid: (mark/entry) x (notional/equity): 1: 1.2 x 4, 2: 1.2 x 5, 3: 1.2 x 3,
    // 4: (120/130) x (120/40).
    ok(&mut l, |l| {
        l.set_waterfall(waterfall(vec![Stage::Adl {
            ranking: Ranking::Hyperliquid,
            price: StagePrice::Bankruptcy,
            seed: 0,
            scores: None,
        }]))
    });
    assert_eq!(l.adl_ranking(0, 0).unwrap(), vec![2, 1, 3, 4, 5]);
}

#[test]
fn adl_path_at_mark_continues_with_later_stages() {
    // 0 long 10 at 100 with 2_000; 1 and 3 short; waterfall [insurance_fund, adl(mark),
    // fee_pool]: the fund is empty, so ADL closes 0 at the mark (70), which covers
    // nothing; the fee pool then pays what it has and the rest is bad debt.
    let mut l = book(4);
    ok(&mut l, |l| l.withdraw(0, 8_000));
    ok(&mut l, |l| l.fill(fill(0, 1, 0, 100, 6)));
    ok(&mut l, |l| {
        l.fill(FillArgs {
            seller_fee: 250,
            ..fill(0, 3, 0, 100, 4)
        })
    });
    ok(&mut l, |l| {
        l.set_waterfall(waterfall(vec![
            Stage::insurance_fund(),
            Stage::Adl {
                ranking: Ranking::Pnl,
                price: StagePrice::Mark,
                seed: 0,
                scores: None,
            },
            Stage::FeePool,
        ]))
    });
    ok(&mut l, |l| l.set_mark(0, 70));
    let ev = ok(&mut l, |l| l.liquidate(0, 2, None));
    let Event::Liquidate {
        closes,
        deficit,
        stages,
        adl,
        ..
    } = ev
    else {
        unreachable!()
    };
    assert!(closes.is_empty());
    assert_eq!(deficit, 1_000);
    // Ranked by PnL: 1 and 3 have the same PnL per lot; 1 has more lots (1_800 > 1_200).
    let fills: Vec<(usize, i64, i128)> = adl
        .iter()
        .map(|(_, f)| (f.counterparty, f.size, f.price))
        .collect();
    assert_eq!(fills, vec![(1, 6, 70), (3, 4, 70)]);
    assert_eq!(
        stages,
        vec![
            (StageKind::InsuranceFund, 0),
            (StageKind::Adl, 0),
            (StageKind::FeePool, 250),
            (StageKind::BadDebt, 750),
        ]
    );
    assert_eq!(l.equity(0).unwrap(), 0);
    assert_eq!(l.bad_debt(), 750);
}

#[test]
fn adl_path_refused_when_a_counterparty_would_go_negative() {
    // 0 (2_000) buys 10 at 60 from 1 (100 of collateral) and 5 at 20 from 2 (10).
    let mut l = book(3);
    ok(&mut l, |l| l.withdraw(0, 8_000));
    ok(&mut l, |l| l.withdraw(1, 9_900));
    ok(&mut l, |l| l.withdraw(2, 9_990));
    ok(&mut l, |l| l.fill(unchecked(0, 1, 0, 60, 10)));
    ok(&mut l, |l| l.fill(unchecked(0, 2, 0, 20, 5)));
    ok(&mut l, |l| l.set_waterfall(waterfall(vec![Stage::adl()])));
    ok(&mut l, |l| l.set_mark(0, 30));
    // 0: 2_000 + (450 - 700) * 10 = -500; bankruptcy price ceil(30 + 500/150) = 34.
    assert_eq!(l.equity(0).unwrap(), -500);
    assert_eq!(l.bankruptcy_price(0, 0).unwrap(), 34);
    // Ranked: 1 (equity 3_100) first, 2 (equity -490) last but needed for the last 5
    // lots; buying them back at 34 leaves 2 at 10 + (100 - 170) * 10 = -690 < 0.
    assert_eq!(l.adl_ranking(0, 0).unwrap(), vec![1, 2]);
    refused(&mut l, ErrorKind::InsufficientMargin, |l| {
        l.liquidate(0, 1, None)
    });
}

// ---- worked cases -------------------------------------------------------------------

/// W1 (OKEx clawback): cents as minor units, one tick = $0.01, one cent per lot per tick.
fn okex(fund: i64, timing: Timing) -> (Ledger, Event) {
    let mut l = Ledger::new();
    ok(&mut l, |l| l.create_market(1, 100, 1_000, 500, 0));
    l.create_accounts(3).unwrap(); // A, B, and a liquidator L
    ok(&mut l, |l| l.deposit(0, 100));
    ok(&mut l, |l| l.deposit(1, 100));
    if fund > 0 {
        ok(&mut l, |l| l.fund_insurance(fund, None));
    }
    ok(&mut l, |l| {
        l.set_waterfall(Waterfall {
            stages: vec![Stage::insurance_fund(), socialize(Base::SessionProfit)],
            timing,
            lock_session_profit: false,
        })
    });
    ok(&mut l, |l| l.fill(fill(0, 1, 0, 100, 10)));
    ok(&mut l, |l| l.set_mark(0, 10));
    assert_eq!(l.upnl(1, 0).unwrap(), 900);
    assert_eq!(l.equity(0).unwrap(), -800);
    let ev = ok(&mut l, |l| l.liquidate(0, 2, None));
    (l, ev)
}

#[test]
fn w1_okex_clawback() {
    for (fund, haircut) in [(0, 800), (300, 500)] {
        let (mut l, ev) = okex(fund, Timing::Deferred);
        let Event::Liquidate {
            deficit, stages, ..
        } = ev
        else {
            unreachable!()
        };
        assert_eq!(deficit, 800);
        assert_eq!(stages[0], (StageKind::InsuranceFund, i128::from(fund)));
        assert_eq!(l.deferred_loss(), i128::from(800 - fund));
        let ev = ok(&mut l, |l| l.settle_session());
        let Event::SettleSession { haircuts, .. } = ev else {
            unreachable!()
        };
        assert_eq!(haircuts, vec![(1, haircut)]);
        // B keeps $1 of profit with an empty fund, $4 with a fund of $3.
        assert_eq!(l.equity(1).unwrap() - 100, 900 - haircut);
        assert_eq!(l.equity(0).unwrap(), 0);
    }
    // The same case settled immediately on unrealized PnL gives the same haircut.
    let (_, ev) = okex(0, Timing::Immediate);
    let Event::Liquidate { haircuts, .. } = ev else {
        unreachable!()
    };
    assert_eq!(haircuts, vec![(1, 800)]);
}

#[test]
fn w2_bitmex_adl_queue() {
    let mut l = Ledger::new();
    ok(&mut l, |l| l.create_market(1, 600, 500, 250, 0));
    l.create_accounts(8).unwrap();
    // 0: the short of 20 at 600 with 1_000 (bankruptcy price (1_000 + 12_000) / 20 = 650);
    // 1..=6: the longs; 7: the rest of the short side.
    ok(&mut l, |l| l.deposit(0, 1_000));
    for a in 1..=7 {
        ok(&mut l, |l| l.deposit(a, 100_000));
    }
    let longs = [(1, 10), (2, 10), (3, 20), (4, 30), (5, 20), (6, 10)];
    ok(&mut l, |l| l.fill(fill(2, 0, 0, 600, 10)));
    ok(&mut l, |l| l.fill(fill(5, 0, 0, 600, 10)));
    for (a, size) in longs {
        let size = if a == 2 {
            0
        } else if a == 5 {
            10
        } else {
            size
        };
        if size > 0 {
            ok(&mut l, |l| l.fill(fill(a, 7, 0, 600, size)));
        }
    }
    let mut scores = vec![0; 8];
    for (a, s) in [(1, 3), (2, 6), (3, 1), (4, 4), (5, 5), (6, 2)] {
        scores[a] = s;
    }
    ok(&mut l, |l| {
        l.set_waterfall(waterfall(vec![
            Stage::insurance_fund(),
            Stage::Adl {
                ranking: Ranking::Scores,
                price: StagePrice::Bankruptcy,
                seed: 0,
                scores: Some(scores),
            },
        ]))
    });
    ok(&mut l, |l| l.set_mark(0, 660));
    assert_eq!(l.bankruptcy_price(0, 0).unwrap(), 650);
    let ev = ok(&mut l, |l| l.liquidate(0, 7, None));
    let Event::Liquidate {
        adl,
        closes,
        stages,
        deficit,
        penalty,
        ..
    } = ev
    else {
        unreachable!()
    };
    assert!(closes.is_empty());
    assert_eq!(penalty, 0);
    let fills: Vec<(usize, usize, i64, i128)> = adl
        .iter()
        .map(|(m, f)| (*m, f.counterparty, f.size, f.price))
        .collect();
    assert_eq!(fills, vec![(0, 2, -10, 650), (0, 5, -10, 650)]);
    assert_eq!(l.position(5, 0).unwrap().size, 10);
    assert_eq!(l.position(2, 0).unwrap().size, 0);
    for a in [1, 3, 4, 6] {
        assert_eq!(l.position(a, 0).unwrap().size, longs[a - 1].1);
    }
    assert_eq!(deficit, 200);
    assert_eq!(
        stages,
        vec![
            (StageKind::InsuranceFund, 0),
            (StageKind::Adl, 200),
            (StageKind::BadDebt, 0)
        ]
    );
    assert_eq!(l.equity(0).unwrap(), 0);
    // The same queue through `deleverage` without a list uses the stage's ranking.
    assert_eq!(l.adl_ranking(7, 0).unwrap(), vec![5, 4, 1, 6, 3]);
}

#[test]
fn w3_drift_socialize_over_open_interest() {
    // USDC with 1e6 precision; one tick = 1 USDC per lot.
    let usdc = 1_000_000i64;
    let mut l = Ledger::new();
    ok(&mut l, |l| l.create_market(usdc, 100, 1_000, 500, 0));
    l.create_accounts(3).unwrap(); // 0 bankrupt, 1 long 5, 2 short 4 (then 5)
    ok(&mut l, |l| l.deposit(0, 10 * usdc));
    ok(&mut l, |l| l.deposit(1, 1_000 * usdc));
    ok(&mut l, |l| l.deposit(2, 1_000 * usdc));
    ok(&mut l, |l| {
        l.set_waterfall(waterfall(vec![
            Stage::insurance_fund(),
            Stage::FeePool,
            socialize(Base::OpenInterest),
        ]))
    });
    ok(&mut l, |l| l.fill(fill(1, 0, 0, 100, 1)));
    ok(&mut l, |l| l.fill(fill(1, 2, 0, 100, 4)));
    ok(&mut l, |l| l.set_mark(0, 210));
    assert_eq!(l.equity(0).unwrap(), -100 * i128::from(usdc));
    let ev = ok(&mut l, |l| l.liquidate(0, 2, None));
    let Event::Liquidate {
        deficit,
        stages,
        haircuts,
        ..
    } = ev
    else {
        unreachable!()
    };
    assert_eq!(deficit, 100_000_000);
    assert_eq!(l.sizes(0).unwrap(), vec![0, 5, -5]);
    assert_eq!(haircuts, vec![(1, 50_000_000), (2, 50_000_000)]);
    assert_eq!(
        stages,
        vec![
            (StageKind::InsuranceFund, 0),
            (StageKind::FeePool, 0),
            (StageKind::Socialize, 100_000_000),
            (StageKind::BadDebt, 0)
        ]
    );
    assert_eq!(l.equity(0).unwrap(), 0);
    assert_eq!(l.collateral_at(0).unwrap(), 0);
}

/// W4 setup: lots of 0.1 BTC, ticks of 1 USDC per BTC, USDC 1e6: tick_value 100_000.
fn dydx(carl: i64, dave_entry: i64, dave_collateral: i64) -> Ledger {
    let usdc = 1_000_000i64;
    let mut l = Ledger::new();
    ok(&mut l, |l| l.create_market(100_000, 50_000, 500, 300, 0));
    l.create_accounts(3).unwrap(); // Carl, Dave0, Dave1
    ok(&mut l, |l| l.deposit(0, carl * usdc));
    ok(&mut l, |l| l.deposit(1, 75_000 * usdc));
    ok(&mut l, |l| l.deposit(2, dave_collateral));
    ok(&mut l, |l| l.fill(unchecked(1, 0, 0, 50_000, 5)));
    ok(&mut l, |l| l.fill(unchecked(2, 0, 0, dave_entry, 5)));
    ok(&mut l, |l| l.set_mark(0, 55_000));
    l
}

#[test]
fn w4_dydx_deleveraging_at_bankruptcy_price() {
    let usdc = 1_000_000i128;
    let mut l = dydx(4_999, 50_000, 75_000 * 1_000_000);
    assert_eq!(l.equity(0).unwrap(), -usdc);
    assert_eq!(l.bankruptcy_price(0, 0).unwrap(), 54_999);
    let ev = ok(&mut l, |l| {
        l.deleverage(0, 0, Some(&[1, 2]), AdlPrice::Bankruptcy)
    });
    let Event::Deleverage { fills, .. } = ev else {
        unreachable!()
    };
    assert_eq!(
        fills
            .iter()
            .map(|f| (f.counterparty, f.size, f.price))
            .collect::<Vec<_>>(),
        vec![(1, -5, 54_999), (2, -5, 54_999)]
    );
    // Collateral 75_000 less the 25_000 cost of the long is dYdX's 50_000 USDC quote
    // balance; selling 0.5 BTC at 54_999 adds 27_499.5: 77_499.5 USDC, no position.
    for d in [1, 2] {
        assert_eq!(l.collateral_at(d).unwrap(), 77_499_500_000);
        assert_eq!(l.position(d, 0).unwrap().size, 0);
    }
    assert_eq!(l.collateral_at(0).unwrap(), 0);
    assert_eq!(l.sizes(0).unwrap(), vec![0, 0, 0]);

    // A counterparty who would go below zero at that price: refused, state unchanged.
    // Dave1 bought at 56_000 with 200 USDC; Carl's bankruptcy price is again 54_999.
    let mut l = dydx(1_999, 56_000, 200 * 1_000_000);
    assert_eq!(l.bankruptcy_price(0, 0).unwrap(), 54_999);
    refused(&mut l, ErrorKind::InsufficientMargin, |l| {
        l.deleverage(0, 0, Some(&[1, 2]), AdlPrice::Bankruptcy)
    });
}

// ---- journal ------------------------------------------------------------------------

#[test]
fn journal_replays_and_snapshots_restore() {
    let (mut l, _) = okex(300, Timing::Deferred);
    ok(&mut l, |l| l.settle_session());
    ok(&mut l, |l| l.apply_funding(0, 3));
    ok(&mut l, |l| {
        l.fill_many(0, &[1, 2], &[2, 1], &[10, 11], &[1, 2])
    });
    ok(&mut l, |l| l.set_marks(&[12]));
    let again = Ledger::replay(l.journal()).unwrap();
    assert_eq!(again, l);
    assert_eq!(again.snapshot(), l.snapshot());
    let restored = Ledger::restore(&l.snapshot()).unwrap();
    assert_eq!(restored, l);
    // A journal whose effects were edited does not replay.
    let mut events = l.journal().to_vec();
    if let Some(Event::Liquidate { deficit, .. }) = events
        .iter_mut()
        .find(|e| matches!(e, Event::Liquidate { .. }))
    {
        *deficit += 1;
    }
    assert_eq!(
        Ledger::replay(&events).unwrap_err().kind(),
        ErrorKind::Corrupt
    );
}
