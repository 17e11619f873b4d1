//! The one-pass banded rounding of large inputs must fall back to the exact two-pass
//! method whenever its sample misleads it; these inputs are built to mislead it.
#![allow(clippy::unwrap_used)]

use mutualize_core::{allocate, Options};

/// Largest remainder by the book: floors, then sort by (remainder desc, index asc).
fn oracle(claims: &[i64], loss: u128) -> Vec<i64> {
    let p: u128 = claims.iter().filter(|&&c| c > 0).map(|&c| c as u128).sum();
    let t = loss.min(p);
    let mut h = vec![0i64; claims.len()];
    let mut rems = Vec::new();
    let mut floors = 0u128;
    for (i, &c) in claims.iter().enumerate() {
        if c > 0 {
            let x = c as u128 * t;
            h[i] = (x / p) as i64;
            floors += x / p;
            rems.push((x % p, i));
        }
    }
    rems.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in rems.iter().take((t - floors) as usize) {
        h[i] += 1;
    }
    h
}

fn check(claims: &[i64], loss: i64) {
    let (h, s) = allocate(claims, loss, &Options::default()).unwrap();
    assert_eq!(h, oracle(claims, loss as u128));
    assert_eq!(s.total, s.target);
}

#[test]
fn sample_sees_only_one_kind_of_claim() {
    // Every 16th claim (the ones a stride-16 sample reads) divides evenly; the others
    // leave large remainders, so the sample puts the band in the wrong place.
    let n = 400_000;
    let claims: Vec<i64> = (0..n)
        .map(|i| {
            if i % 16 == 0 {
                1_000
            } else {
                999 + (i as i64 % 7)
            }
        })
        .collect();
    let p: i64 = claims.iter().sum();
    for loss in [p / 1000, p / 3, p / 2 + 7, p - 1] {
        check(&claims, loss);
    }
}

#[test]
fn remainders_pile_into_the_band() {
    // All equal claims: every remainder ties, the band overflows, ids decide.
    let claims = vec![12_345i64; 300_000];
    check(&claims, 1_234_567_891);
    let mut mixed = vec![7i64; 300_000];
    for (i, c) in mixed.iter_mut().enumerate().step_by(3) {
        *c = -(i as i64);
    }
    check(&mixed, 1_000_003);
}

#[test]
fn random_large_inputs_agree_with_the_oracle() {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for n in [262_144usize, 300_001, 1_000_000] {
        let claims: Vec<i64> = (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 2_000_000_000_000) as i64 - 1_000_000_000_000
            })
            .collect();
        let p: i64 = claims.iter().filter(|&&c| c > 0).sum();
        check(&claims, p / 10 * 3);
        check(&claims, 12_345);
    }
}
