//! The backtest engine: the index finds exactly what the naive scan finds, per-step and
//! per-bankruptcy socialization agree up to rounding, and conservation holds.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mutualize_core::sim::{run, Granularity, MarketTerms, Population, Scan, Spec};
use mutualize_core::{Base, Ranking, Rounding, Rule, Stage, StagePrice, Timing, Waterfall};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
}

struct Case {
    collateral: Vec<i64>,
    market: Vec<usize>,
    size: Vec<i64>,
    entry: Vec<i64>,
    prices: Vec<i64>,
    funding: Vec<i64>,
}

/// `n` accounts over 2 markets, a random walk with a crash and a rebound.
fn case(seed: u64, n: usize, steps: usize) -> Case {
    case_with(seed, n, steps, 40, 40)
}

/// `case` with leverage up to `max_leverage` (above 10 some open past initial margin)
/// and crash steps of `1 / crash_div` of the price.
fn case_with(seed: u64, n: usize, steps: usize, max_leverage: i64, crash_div: i64) -> Case {
    let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let start = [10_000i64, 2_000];
    let mut c = Case {
        collateral: vec![],
        market: vec![],
        size: vec![],
        entry: vec![],
        prices: vec![],
        funding: vec![],
    };
    for _ in 0..n {
        let m = r.range(0, 1) as usize;
        let collateral = r.range(1_000, 100_000);
        let leverage = r.range(1, max_leverage);
        let lots = (collateral * leverage / start[m]).max(1);
        c.collateral.push(collateral);
        c.market.push(m);
        c.size.push(if r.range(0, 1) == 0 { lots } else { -lots });
        c.entry.push(start[m] + r.range(-5, 5));
    }
    let mut px = start;
    for t in 0..steps {
        for (m, p) in px.iter_mut().enumerate() {
            let crash = t >= steps / 3 && t < steps / 3 + 5;
            let rebound = t >= steps / 2 && t < steps / 2 + 5;
            let step = if crash {
                -*p / crash_div
            } else if rebound {
                *p / 80
            } else {
                r.range(-*p / 200, *p / 200)
            };
            *p = (*p + step).max(1);
            c.prices.push(*p);
            c.funding.push(if t % 7 == 6 {
                r.range(-3, 3) * (m as i64 + 1)
            } else {
                0
            });
        }
    }
    c
}

fn socialize(rule: Rule, rounding: Rounding, base: Base, max_rate: Option<(i64, i64)>) -> Stage {
    Stage::Socialize {
        rule,
        rounding,
        base,
        max_rate,
        weights: None,
    }
}

fn waterfalls() -> Vec<Waterfall> {
    let wf = |stages: Vec<Stage>, timing| Waterfall {
        stages,
        timing,
        lock_session_profit: false,
    };
    vec![
        wf(
            vec![
                Stage::insurance_fund(),
                socialize(Rule::ProRata, Rounding::Exact, Base::UnrealizedPnl, None),
            ],
            Timing::Immediate,
        ),
        wf(
            vec![
                Stage::insurance_fund(),
                Stage::Adl {
                    ranking: Ranking::PnlLeverage,
                    price: StagePrice::Bankruptcy,
                    seed: 0,
                    scores: None,
                },
            ],
            Timing::Immediate,
        ),
        wf(
            vec![
                Stage::insurance_fund(),
                socialize(Rule::ProRata, Rounding::Exact, Base::SessionProfit, None),
            ],
            Timing::Deferred,
        ),
        wf(
            vec![
                Stage::insurance_fund(),
                socialize(Rule::EqualAward, Rounding::Exact, Base::Equity, None),
            ],
            Timing::Immediate,
        ),
        wf(
            vec![
                Stage::insurance_fund(),
                socialize(
                    Rule::ProRata,
                    Rounding::Exact,
                    Base::UnrealizedPnl,
                    Some((1, 2)),
                ),
            ],
            Timing::Immediate,
        ),
    ]
}

fn spec<'a>(
    c: &'a Case,
    terms: &'a [MarketTerms],
    waterfall: Waterfall,
    granularity: Granularity,
    scan: Scan,
    slippage_bps: i64,
) -> Spec<'a> {
    Spec {
        markets: terms,
        population: Population {
            collateral: &c.collateral,
            market: &c.market,
            size: &c.size,
            entry: &c.entry,
        },
        prices: &c.prices,
        funding: &c.funding,
        insurance_fund: 20_000,
        house_collateral: 1_000_000_000,
        slippage_bps,
        impact_bps: 3,
        depth_lots: 50,
        session_steps: 10,
        waterfall,
        granularity,
        scan,
        keep_journal: true,
    }
}

const TERMS: [MarketTerms; 2] = [
    MarketTerms {
        tick_value: 1,
        imr_bps: 500,
        mmr_bps: 250,
        penalty_bps: 50,
    },
    MarketTerms {
        tick_value: 3,
        imr_bps: 1_000,
        mmr_bps: 400,
        penalty_bps: 100,
    },
];

fn no_tick(_: usize) -> mutualize_core::Result<()> {
    Ok(())
}

#[test]
fn index_finds_what_the_naive_scan_finds() {
    for seed in 1..=6 {
        let c = case(seed, 300, 120);
        for wf in waterfalls() {
            for g in [Granularity::Step, Granularity::Bankruptcy] {
                let fast = run(
                    &spec(&c, &TERMS, wf.clone(), g, Scan::Index, 20),
                    &mut no_tick,
                )
                .expect("index run");
                let slow = run(
                    &spec(&c, &TERMS, wf.clone(), g, Scan::Every, 20),
                    &mut no_tick,
                )
                .expect("scan run");
                assert_eq!(
                    fast.ledger.journal(),
                    slow.ledger.journal(),
                    "seed {seed} {wf:?}"
                );
                assert_eq!(fast.series, slow.series);
                assert_eq!(fast.accounts, slow.accounts);
                let liquidations: i64 = fast.series.liquidations.iter().sum();
                assert!(
                    liquidations > 0,
                    "seed {seed}: the crash liquidates someone"
                );
                fast.ledger.check().expect("ledger invariants hold");
            }
        }
    }
}

#[test]
fn money_is_conserved_and_series_add_up() {
    for seed in 1..=4 {
        let c = case(seed, 400, 150);
        for wf in waterfalls() {
            let r = run(
                &spec(&c, &TERMS, wf, Granularity::Step, Scan::Index, 30),
                &mut no_tick,
            )
            .expect("run");
            r.ledger.check().expect("conservation");
            let s = &r.series;
            let deficit: i64 = s.deficit.iter().sum();
            let paid: i64 = [
                &s.paid_insurance,
                &s.paid_socialized,
                &s.paid_adl,
                &s.paid_bad_debt,
            ]
            .iter()
            .map(|v| v.iter().sum::<i64>())
            .sum();
            assert_eq!(deficit, paid, "every deficit is paid by some stage");
            let haircut: i64 = r.accounts.haircut.iter().sum();
            assert!(haircut <= s.haircuts.iter().sum::<i64>());
            assert_eq!(
                *s.bad_debt.last().expect("rows"),
                r.ledger.bad_debt() as i64
            );
        }
    }
}

#[test]
fn per_step_and_per_bankruptcy_agree_up_to_rounding() {
    // Pro-rata haircuts compose over claims that only the haircuts move. Base equity, no
    // penalty and no slippage: a liquidation trades at the mark and moves no one's
    // equity, so pooled pro rata equals sequential pro rata up to a unit per account per
    // allocation (which also reaches accounts haircut before their own liquidation).
    // Under unrealized PnL the backstop's trades realize its PnL and move its claim.
    let wf = Waterfall {
        stages: vec![
            Stage::insurance_fund(),
            socialize(Rule::ProRata, Rounding::Exact, Base::Equity, None),
        ],
        timing: Timing::Immediate,
        lock_session_profit: false,
    };
    let terms = TERMS.map(|t| MarketTerms {
        penalty_bps: 0,
        ..t
    });
    let mut several = false;
    for seed in 1..=8 {
        let c = case_with(seed, 400, 120, 8, 12);
        let mut pooled = spec(&c, &terms, wf.clone(), Granularity::Step, Scan::Index, 0);
        pooled.impact_bps = 0;
        let mut single = pooled.clone();
        single.granularity = Granularity::Bankruptcy;
        let a = run(&pooled, &mut no_tick).expect("step");
        let b = run(&single, &mut no_tick).expect("bankruptcy");
        assert_eq!(a.accounts.liquidated_step, b.accounts.liquidated_step);
        several |= b.series.bankruptcies.iter().any(|&k| k > 1);
        let allocations: i64 = b.series.bankruptcies.iter().sum();
        let deficit = |r: &mutualize_core::sim::Run| r.series.deficit.iter().sum::<i64>();
        for (x, y) in a.accounts.haircut.iter().zip(&b.accounts.haircut) {
            assert!((x - y).abs() <= allocations, "{x} vs {y}");
        }
        // A deficit differs only by the rounding of the haircuts its account took while
        // it still had equity; what is socialized differs by the deficits.
        let carried: i64 = (0..c.size.len())
            .filter(|&i| b.accounts.deficit[i] > 0)
            .map(|i| (a.accounts.haircut[i] - b.accounts.haircut[i]).abs())
            .sum();
        let gap = (deficit(&a) - deficit(&b)).abs();
        assert!(gap <= carried, "deficits differ by {gap} > {carried}");
        let total = |r: &mutualize_core::sim::Run| r.series.haircuts.iter().sum::<i64>();
        assert!((total(&a) - total(&b)).abs() <= gap);
    }
    assert!(several, "some step must hold several bankruptcies");
}

#[test]
fn bad_input_is_refused() {
    let mut c = case(1, 10, 10);
    c.prices[3] = 0;
    let e = run(
        &spec(
            &c,
            &TERMS,
            Waterfall::default(),
            Granularity::Step,
            Scan::Index,
            0,
        ),
        &mut no_tick,
    );
    assert!(e.is_err());
    let mut c = case(1, 10, 10);
    c.market[2] = 5;
    assert!(run(
        &spec(
            &c,
            &TERMS,
            Waterfall::default(),
            Granularity::Step,
            Scan::Index,
            0
        ),
        &mut no_tick
    )
    .is_err());
}

#[test]
fn index_agrees_with_the_scan_when_rekeying_runs_in_parallel() {
    // Past the index's parallel threshold (4,096 accounts re-keyed at once).
    let c = case(11, 12_000, 40);
    for wf in [waterfalls().remove(0), waterfalls().remove(1)] {
        let fast = run(
            &spec(&c, &TERMS, wf.clone(), Granularity::Step, Scan::Index, 20),
            &mut no_tick,
        )
        .expect("index run");
        let slow = run(
            &spec(&c, &TERMS, wf, Granularity::Step, Scan::Every, 20),
            &mut no_tick,
        )
        .expect("scan run");
        assert_eq!(fast.series, slow.series);
        assert_eq!(fast.accounts, slow.accounts);
        assert!(fast.series.haircut_accounts.iter().any(|&h| h > 4_096) || wf_is_adl(&fast));
    }
}

fn wf_is_adl(r: &mutualize_core::sim::Run) -> bool {
    r.series.adl_fills.iter().sum::<i64>() > 0
}
