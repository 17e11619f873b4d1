//! Allocation on a basis (`shares`, `unit`, `offset`): worked cases and properties.
//!
//! The oracles are the definitions in `allocate/basis.rs`: with shares the haircuts are
//! `min(k_i, lam * s_i)`; in whole units every haircut is a multiple of the unit and the
//! total is the target rounded as asked; the projection is `clamp(o_i + lam s_i, 0, k_i)`,
//! whose real level is found here by evaluating the total exactly at every breakpoint.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mutualize_core::allocate::{allocate_on_basis, Basis};
use mutualize_core::{allocate, Error, ErrorKind, Options, Rounding, Rule};
use proptest::prelude::*;

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(n)
    }
}

fn run(claims: &[i64], loss: i64, opts: Options<'_>, basis: Basis<'_>) -> Vec<i64> {
    allocate_on_basis(claims, loss, &opts, &basis).unwrap().0
}

#[test]
fn shares_by_pnl_ceilings_by_equity() {
    let basis = Basis {
        shares: Some(&[30, 20, 10]),
        ..Basis::default()
    };
    assert_eq!(
        run(&[40, 100, 10], 90, Options::default(), basis),
        [40, 40, 10]
    );
}

#[test]
fn whole_units_cover_the_loss_when_rounding_up() {
    let opts = Options {
        rounding: Rounding::Up,
        ..Options::default()
    };
    let basis = Basis {
        unit: Some(10),
        ..Basis::default()
    };
    let (h, s) = allocate_on_basis(&[100, 50, 30], 95, &opts, &basis).unwrap();
    assert_eq!(h, [50, 30, 20]);
    assert_eq!((s.total, s.target, s.surplus, s.dust), (100, 95, 5, 0));
}

#[test]
fn exact_rounding_refuses_a_partial_unit_and_leaves_out_untouched() {
    let basis = Basis {
        unit: Some(10),
        ..Basis::default()
    };
    let mut out = [7i64; 3];
    let err = mutualize_core::allocate::allocate_on_basis_into(
        &[100, 50, 30],
        95,
        &Options::default(),
        &basis,
        &mut out,
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(out, [7, 7, 7]);
}

#[test]
fn projection_from_an_offset() {
    let offset = [40, -5, 10];
    let basis = Basis {
        offset: Some(&offset),
        ..Basis::default()
    };
    assert_eq!(
        run(&[100, 50, 30], 60, Options::default(), basis),
        [48, 0, 12]
    );
    let equal = Options {
        rule: Rule::EqualLoss,
        ..Options::default()
    };
    assert_eq!(run(&[100, 50, 30], 60, equal, basis), [45, 0, 15]);
}

#[test]
fn option_combinations_are_refused() {
    let shares = [1i64, 1];
    let bad = [
        (
            Options::default(),
            Basis {
                shares: Some(&shares),
                unit: None,
                offset: Some(&shares),
            },
            true,
        ),
        (
            Options {
                rule: Rule::EqualAward,
                ..Options::default()
            },
            Basis {
                unit: Some(2),
                ..Basis::default()
            },
            false,
        ),
        (
            Options {
                weights: Some(&shares),
                ..Options::default()
            },
            Basis {
                shares: Some(&shares),
                ..Basis::default()
            },
            false,
        ),
        (
            Options::default(),
            Basis {
                offset: Some(&shares),
                unit: Some(3),
                ..Basis::default()
            },
            false,
        ),
        (
            Options::default(),
            Basis {
                unit: Some(0),
                ..Basis::default()
            },
            false,
        ),
    ];
    for (opts, basis, ok) in bad {
        let result = allocate_on_basis(&[5, 6], 3, &opts, &basis);
        assert_eq!(result.is_ok(), ok, "{opts:?} {basis:?}");
        if let Err(e) = result {
            assert!(matches!(
                e,
                Error::UnsupportedOption { .. } | Error::InvalidArgument(_)
            ));
        }
    }
}

/// The exact real projection, by evaluating the paid total at every breakpoint.
fn real_projection(k: &[i64], s: &[i64], o: &[i64], target: i64) -> Vec<(i128, i128)> {
    // Levels as fractions (num, den) with den > 0; small values, so i128 is plenty.
    let clamp = |i: usize, (num, den): (i128, i128)| -> (i128, i128) {
        // o + num/den * s, as a fraction over den
        let v = o[i] as i128 * den + num * s[i] as i128;
        let hi = k[i] as i128 * den;
        (v.clamp(0, hi), den)
    };
    let paid = |level: (i128, i128)| -> (i128, i128) {
        let den = level.1;
        let total: i128 = (0..k.len()).map(|i| clamp(i, level).0).sum();
        (total, den)
    };
    let mut kinks: Vec<(i128, i128)> = Vec::new();
    for i in 0..k.len() {
        kinks.push((-(o[i] as i128), s[i] as i128));
        kinks.push((k[i] as i128 - o[i] as i128, s[i] as i128));
    }
    kinks.sort_by(|a, b| (a.0 * b.1).cmp(&(b.0 * a.1)));
    let reached = |l: (i128, i128)| {
        let (t, d) = paid(l);
        t >= target as i128 * d
    };
    let j = kinks.iter().position(|&l| reached(l)).unwrap();
    let (lo, hi) = (kinks[j - 1], kinks[j]);
    // Linear on [lo, hi]: level = lo + (hi - lo) * (T - F(lo)) / (F(hi) - F(lo)).
    let (flo, dlo) = paid(lo);
    let (fhi, dhi) = paid(hi);
    // Work over a common denominator D = dlo * dhi.
    let d = dlo * dhi;
    let (flo, fhi) = (flo * dhi, fhi * dlo);
    let t = target as i128 * d;
    let (lo_n, hi_n) = (lo.0 * dhi, hi.0 * dlo); // levels over d
    let num = lo_n * (fhi - flo) + (hi_n - lo_n) * (t - flo);
    let den = d * (fhi - flo);
    (0..k.len()).map(|i| clamp(i, (num, den))).collect()
}

proptest! {
    #![proptest_config(cases(400))]

    #[test]
    fn projection_is_the_real_one_rounded(
        rows in proptest::collection::vec((1i64..40, 1i64..6, -50i64..50), 1..7),
        frac in 0u32..1000,
    ) {
        let k: Vec<i64> = rows.iter().map(|r| r.0).collect();
        let s: Vec<i64> = rows.iter().map(|r| r.1).collect();
        let o: Vec<i64> = rows.iter().map(|r| r.2).collect();
        let capacity: i64 = k.iter().sum();
        let target = 1 + (capacity - 1) * frac as i64 / 1000;
        prop_assume!(target < capacity);
        let basis = Basis { shares: Some(&s), offset: Some(&o), unit: None };
        let h = run(&k, target, Options::default(), basis);
        prop_assert_eq!(h.iter().sum::<i64>(), target);
        for (i, (num, den)) in real_projection(&k, &s, &o, target).into_iter().enumerate() {
            prop_assert!(0 <= h[i] && h[i] <= k[i]);
            // |h - num/den| < 1
            prop_assert!((h[i] as i128 * den - num).abs() < den);
        }
    }

    #[test]
    fn units_are_whole_and_rounded_as_asked(
        claims in proptest::collection::vec(-20i64..500, 0..12),
        unit in 1i64..40,
        loss in 0i64..3000,
        up in any::<bool>(),
        equal in any::<bool>(),
    ) {
        let opts = Options {
            rule: if equal { Rule::EqualLoss } else { Rule::ProRata },
            rounding: if up { Rounding::Up } else { Rounding::Down },
            ..Options::default()
        };
        let basis = Basis { unit: Some(unit), ..Basis::default() };
        let (h, s) = allocate_on_basis(&claims, loss, &opts, &basis).unwrap();
        let capacity: i64 = claims.iter().map(|&c| c.max(0) / unit * unit).sum();
        let target = loss.min(capacity) as u128;
        prop_assert_eq!(s.target, target);
        prop_assert!(h.iter().zip(&claims).all(|(&x, &c)| x % unit == 0 && 0 <= x && x <= c.max(0)));
        prop_assert_eq!(h.iter().sum::<i64>() as u128, s.total);
        let u = unit as u128;
        let expected = if up { target.div_ceil(u) * u } else { target / u * u };
        prop_assert_eq!(s.total, expected);
        // With a unit of 1 it is the plain rule.
        let plain = Options { rounding: Rounding::Exact, ..opts };
        let one = Basis { unit: Some(1), ..Basis::default() };
        prop_assert_eq!(
            allocate_on_basis(&claims, loss, &plain, &one).unwrap().0,
            allocate(&claims, loss, &plain).unwrap().0
        );
    }

    #[test]
    fn shares_equal_to_claims_is_pro_rata_and_zero_offset_is_water_filling(
        claims in proptest::collection::vec(-20i64..10_000, 0..16),
        caps in proptest::collection::vec(0i64..6_000, 16),
        loss in 0i64..100_000,
    ) {
        let n = claims.len();
        let shares: Vec<i64> = claims.iter().map(|&c| c.max(0)).collect();
        let zero = vec![0i64; n];
        let capped = Options { caps: Some(&caps[..n]), ..Options::default() };
        let plain = allocate(&claims, loss, &capped).unwrap().0;
        let with_shares = Basis { shares: Some(&shares), ..Basis::default() };
        prop_assert_eq!(&run(&claims, loss, capped, with_shares), &plain);
        let from_zero = Basis { offset: Some(&zero), ..Basis::default() };
        prop_assert_eq!(&run(&claims, loss, capped, from_zero), &plain);
    }
}
