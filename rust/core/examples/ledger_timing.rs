//! Quick timing of the ledger without Python: `cargo run --release --example ledger_timing`.
#![allow(clippy::unwrap_used)]
use mutualize_core::{AdlPrice, FillArgs, Ledger, Stage, Waterfall};
use std::time::Instant;

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(1_000_000, |s| s.parse().unwrap());
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;

    // Single fills, margin-checked, 1_000 accounts.
    let mut l = Ledger::new();
    l.create_market(1, 1_000, 1_000, 500, 100).unwrap();
    l.create_accounts(1_000).unwrap();
    for a in 0..1_000 {
        l.deposit(a, 1_000_000_000).unwrap();
    }
    let fills = 1_000_000;
    let t = Instant::now();
    for _ in 0..fills {
        let b = (xorshift(&mut x) % 1_000) as usize;
        let s = (b + 1 + (xorshift(&mut x) % 999) as usize) % 1_000;
        let p = 900 + (xorshift(&mut x) % 200) as i64;
        l.fill(FillArgs::new(
            b,
            s,
            0,
            p,
            1 + (xorshift(&mut x) % 10) as i64,
        ))
        .unwrap();
    }
    let dt = t.elapsed();
    println!(
        "fill (checked): {:.0} fills/s",
        fills as f64 / dt.as_secs_f64()
    );
    l.check().unwrap();

    // fill_many over 10M fills.
    let m = 10_000_000;
    let buyers: Vec<usize> = (0..m)
        .map(|_| (xorshift(&mut x) % 1_000) as usize)
        .collect();
    let sellers: Vec<usize> = buyers
        .iter()
        .map(|&b| (b + 1 + (xorshift(&mut x) % 999) as usize) % 1_000)
        .collect();
    let prices: Vec<i64> = (0..m)
        .map(|_| 900 + (xorshift(&mut x) % 200) as i64)
        .collect();
    let sizes: Vec<i64> = (0..m).map(|_| 1 + (xorshift(&mut x) % 10) as i64).collect();
    let t = Instant::now();
    l.fill_many(0, &buyers, &sellers, &prices, &sizes).unwrap();
    let dt = t.elapsed();
    println!("fill_many: {:.0} fills/s", m as f64 / dt.as_secs_f64());
    l.check().unwrap();

    // A liquidation socialized over n accounts.
    let mut l = Ledger::new();
    l.create_market(1, 1_000, 1_000, 500, 100).unwrap();
    l.create_accounts(n).unwrap();
    for a in 0..n {
        l.deposit(a, 1_000_000).unwrap();
    }
    let half = n / 2;
    let buyers: Vec<usize> = (1..half).collect();
    let sellers: Vec<usize> = (half..n - 1).collect();
    let prices = vec![1_000i64; buyers.len()];
    let sizes: Vec<i64> = (0..buyers.len())
        .map(|_| 1 + (xorshift(&mut x) % 100) as i64)
        .collect();
    l.fill_many(0, &buyers, &sellers, &prices, &sizes).unwrap();
    l.fill(FillArgs {
        check_margin: false,
        ..FillArgs::new(0, n - 1, 0, 1_000, 10_000)
    })
    .unwrap();
    l.set_mark(0, 800).unwrap();
    let t = Instant::now();
    let ev = l.liquidate(0, n - 1, None).unwrap();
    let dt = t.elapsed();
    if let mutualize_core::Event::Liquidate {
        deficit, haircuts, ..
    } = ev
    {
        println!(
            "liquidate + socialize over {n} accounts: {:.1} ms (deficit {deficit}, {} haircuts)",
            dt.as_secs_f64() * 1e3,
            haircuts.len()
        );
    }
    let t = Instant::now();
    l.check().unwrap();
    println!("check: {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let t = Instant::now();
    let bytes = l.snapshot();
    let t1 = t.elapsed();
    let back = Ledger::restore(&bytes).unwrap();
    println!(
        "snapshot {:.1} MB: {:.1} ms, restore {:.1} ms",
        bytes.len() as f64 / 1e6,
        t1.as_secs_f64() * 1e3,
        (t.elapsed() - t1).as_secs_f64() * 1e3
    );
    assert!(back == l);
    drop(back);
    let t = Instant::now();
    let back = Ledger::restore(&bytes).unwrap();
    println!("restore again {:.1} ms", t.elapsed().as_secs_f64() * 1e3);
    drop(back);

    // ADL ranking over ~n/2 candidates.
    l.set_waterfall(Waterfall {
        stages: vec![Stage::adl()],
        ..Waterfall::default()
    })
    .unwrap();
    let t = Instant::now();
    l.deleverage(1, 0, None, AdlPrice::Mark).unwrap();
    println!(
        "deleverage ranked (pnl_leverage) over {} candidates: {:.1} ms",
        n - half,
        t.elapsed().as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let eq = l.equities().unwrap();
    println!(
        "equities: {:.1} ms ({})",
        t.elapsed().as_secs_f64() * 1e3,
        eq.len()
    );
}
