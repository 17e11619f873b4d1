//! Quick timing of the pro-rata kernel without Python: `cargo run --release --example timing`.
#![allow(clippy::unwrap_used)]
use mutualize_core::{allocate_into, Options};
use std::time::Instant;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(10_000_000, |s| s.parse().unwrap());
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let claims: Vec<i64> = (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 2_000_000_000_000) as i64 - 1_000_000_000_000
        })
        .collect();
    let base: i128 = claims.iter().filter(|&&c| c > 0).map(|&c| c as i128).sum();
    let loss = (base * 3 / 10) as i64;
    let mut out = vec![0i64; n];
    for _ in 0..5 {
        let t = Instant::now();
        allocate_into(&claims, loss, &Options::default(), &mut out).unwrap();
        let dt = t.elapsed();
        println!(
            "{n}: {:.2} ms, {:.2} ns/account",
            dt.as_secs_f64() * 1e3,
            dt.as_secs_f64() * 1e9 / n as f64
        );
    }
}
