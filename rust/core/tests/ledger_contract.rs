//! The market contract seam (`ledger::contract`): the arithmetic of a position (PnL,
//! notional, margin, bankruptcy price) with its rounding, checked against the formulas
//! of docs/ledger.md; and the ledger-wide checks that one account whose PnL does not
//! fit `i128` must not disable for every other account (issue 9, item 6).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mutualize_core::{ErrorKind, FillArgs, Ledger};

fn unchecked(b: usize, s: usize, m: usize, price: i64, size: i64) -> FillArgs {
    FillArgs {
        check_margin: false,
        ..FillArgs::new(b, s, m, price, size)
    }
}

/// Market 0 trades a contract whose PnL outgrows `i128` (tick_value 2^62, 2^40 lots,
/// the mark moving from 1 to 2^40 ticks); market 1 is ordinary. Accounts 0 (long) and 1
/// (short) hold the giant position; 2 and 3 trade market 1, and 3 is liquidatable (its
/// equity is exactly 0: closing it leaves no deficit to socialize).
fn giant_book() -> Ledger {
    let mut l = Ledger::new();
    l.create_market(1 << 62, 1, 10_000, 5_000, 0).unwrap();
    l.create_market(10, 100, 1_000, 500, 100).unwrap();
    l.create_accounts(4).unwrap();
    for a in 0..4 {
        l.deposit(a, 10_000).unwrap();
    }
    l.fill(unchecked(0, 1, 0, 1, 1 << 40)).unwrap();
    l.fill(FillArgs::new(2, 3, 1, 100, 50)).unwrap();
    l.set_mark(1, 120).unwrap();
    l.set_mark(0, 1 << 40).unwrap();
    l
}

#[test]
fn one_giant_position_leaves_every_account_checkable() {
    let l = giant_book();
    // (2^80 - 2^40) * 2^62 does not fit i128: that account's own figures overflow ...
    assert_eq!(l.upnl(0, 0).unwrap_err().kind(), ErrorKind::Overflow);
    assert_eq!(l.equity(0).unwrap_err().kind(), ErrorKind::Overflow);
    // ... but conservation is exact over everyone, and every account is ranked exactly.
    l.check().unwrap();
    assert_eq!(l.liquidatable().unwrap(), vec![1, 3]);
    assert!(!l.is_liquidatable(0).unwrap());
    assert!(l.is_liquidatable(1).unwrap());
    assert!(!l.is_liquidatable(2).unwrap());
    assert_eq!(l.equity(2).unwrap(), 10_000 + 50 * 20 * 10);
}

#[test]
fn the_ordinary_accounts_still_liquidate() {
    let mut l = giant_book();
    let event = l.liquidate(3, 2, None).unwrap().clone();
    assert!(matches!(
        event,
        mutualize_core::Event::Liquidate { deficit: 0, .. }
    ));
    l.check().unwrap();
    assert_eq!(l.liquidatable().unwrap(), vec![1]);
}
