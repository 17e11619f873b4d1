//! The fuzz harnesses driven by proptest on the stable toolchain: random byte strings
//! (not coverage-guided), for machines without a nightly. `MUTUALIZE_FUZZ_CASES` sets
//! the number of inputs per harness (default 2,000).

use proptest::prelude::*;

fn config() -> ProptestConfig {
    let cases = std::env::var("MUTUALIZE_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2_000);
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(cases)
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn allocate(data in proptest::collection::vec(any::<u8>(), 0..1_024)) {
        mutualize_fuzz::allocate(&data);
    }

    #[test]
    fn ledger_ops(data in proptest::collection::vec(any::<u8>(), 0..1_024)) {
        mutualize_fuzz::ledger_ops(&data);
    }

    #[test]
    fn snapshot(data in proptest::collection::vec(any::<u8>(), 0..1_024)) {
        mutualize_fuzz::snapshot(&data);
    }
}

/// Guards the decoder: random bytes reach the interesting operations (liquidations with
/// a deficit, socialized haircuts, ADL), or the harness would check little.
#[test]
fn random_bytes_reach_liquidations() {
    use mutualize_core::Event;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut ok, mut deficits, mut haircuts, mut adl) = (0, 0, 0, 0);
    for _ in 0..3_000 {
        let data = proptest::collection::vec(any::<u8>(), 0..1_024)
            .new_tree(&mut runner)
            .map(|t| proptest::strategy::ValueTree::current(&t))
            .unwrap_or_default();
        let mut inp = mutualize_fuzz::Input::new(&data);
        let mut l = mutualize_fuzz::start();
        while !inp.is_done() {
            if let Ok(ev) = mutualize_fuzz::apply_one(&mut l, &mut inp) {
                ok += 1;
                if let Event::Liquidate {
                    deficit,
                    haircuts: h,
                    adl: a,
                    ..
                } = &ev
                {
                    deficits += usize::from(*deficit > 0);
                    haircuts += usize::from(!h.is_empty());
                    adl += usize::from(!a.is_empty());
                }
            }
        }
    }
    println!("ops {ok}, deficits {deficits}, haircuts {haircuts}, adl {adl}");
    assert!(ok > 10_000 && deficits > 20 && haircuts > 5 && adl > 0);
}
