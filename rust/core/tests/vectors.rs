#![allow(clippy::unwrap_used)]
//! The worked cases of shared/vectors/allocation.json, restated in Rust so that
//! `cargo test` checks them without Python (the Python suite reads the JSON itself).

use mutualize_core::{allocate, Options, Rounding, Rule};

fn run(claims: &[i64], loss: i64, opts: Options<'_>) -> (Vec<i64>, u128) {
    let (h, s) = allocate(claims, loss, &opts).unwrap();
    (h, s.uncovered(loss))
}

#[test]
fn chitra_five_accounts_pro_rata() {
    let claims = [8_000_000, 4_000_000, 500_000, -3_000_000, -12_000_000];
    let (h, unc) = run(&claims, 7_500_000, Options::default());
    assert_eq!(h, [4_800_000, 2_400_000, 300_000, 0, 0]);
    assert_eq!(unc, 0);
}

#[test]
fn constrained_equal_awards() {
    let opts = Options {
        rule: Rule::EqualAward,
        ..Options::default()
    };
    let (h, _) = run(&[8_000_000, 4_000_000, 500_000], 7_500_000, opts);
    assert_eq!(h, [5_750_000, 1_750_000, 0]);
}

#[test]
fn constrained_equal_losses() {
    let opts = Options {
        rule: Rule::EqualLoss,
        ..Options::default()
    };
    let (h, _) = run(&[8_000_000, 4_000_000, 500_000], 7_500_000, opts);
    assert_eq!(h, [3_500_000, 3_500_000, 500_000]);
}

#[test]
fn hamilton_largest_remainder_and_dust() {
    let (h, unc) = run(&[10, 20, 30, 40], 7, Options::default());
    assert_eq!((h, unc), (vec![1, 1, 2, 3], 0));
    let down = Options {
        rounding: Rounding::Down,
        ..Options::default()
    };
    let (h, s) = allocate(&[10, 20, 30, 40], 7, &down).unwrap();
    assert_eq!(h, [0, 1, 2, 2]);
    assert_eq!((s.dust, s.uncovered(7)), (2, 2));
}

#[test]
fn loss_above_all_profit_leaves_uncovered() {
    let (h, unc) = run(&[300, 0, 200, -50], 900, Options::default());
    assert_eq!((h, unc), (vec![300, 0, 200, 0], 400));
}

#[test]
fn ties_go_to_smallest_id() {
    let ids = [30, 10, 20];
    let opts = Options {
        ids: Some(&ids),
        ..Options::default()
    };
    let (h, _) = run(&[5, 5, 5], 1, opts);
    assert_eq!(h, [0, 1, 0]);
}
