//! Property tests of the allocation kernel against the definitions of
//! `shared/spec/mechanism.md` section 3.
//!
//! Every oracle here is written from the spec's wording, not from the implementation:
//! pro rata is "floor, then +1 by largest `(c*T) mod P`, ties smallest id" with a plain
//! sort; water-filling finds the saturated set from the exact real level `lam*` (an
//! account saturates iff `f(k_j/s_j) <= T`, `f(lam) = sum min(k_i, lam*s_i)`, evaluated
//! in 256-bit integers); the equal rules search their level by brute force (small
//! values) or bisection (large values).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mutualize_core::amount::U256;
use mutualize_core::{
    allocate, allocate_into, allocate_many, Error, ErrorKind, Options, Rate, Rounding, Rule,
    Summary,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

type TestResult = Result<(), TestCaseError>;

/// `n` cases, times `MUTUALIZE_PROPTEST_SCALE` (default 1) for longer hunts. Failures are
/// not persisted to files: the minimal case is printed instead.
fn cases(n: u32) -> ProptestConfig {
    let scale = std::env::var("MUTUALIZE_PROPTEST_SCALE")
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(1)
        .max(1);
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(n.saturating_mul(scale))
    }
}

// ------------------------------------------------------------------------------------
// Spec oracles
// ------------------------------------------------------------------------------------

fn w(x: u128) -> U256 {
    U256::from(x)
}

/// `P`: the sum of the eligible (positive) claims.
fn base_of(claims: &[i64]) -> u128 {
    claims.iter().filter(|&&c| c > 0).map(|&c| c as u128).sum()
}

/// Ceilings `k_i`: `c_i`, lowered by `cap_i` and by `floor(c_i*num/den)`; 0 if ineligible.
fn ceilings(claims: &[i64], caps: Option<&[i64]>, rate: Option<(u128, u128)>) -> Vec<u128> {
    claims
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            if c <= 0 {
                return 0;
            }
            let mut k = c as u128;
            if let Some(caps) = caps {
                k = k.min(caps[i] as u128);
            }
            if let Some((num, den)) = rate {
                k = k.min((w(c as u128) * w(num) / w(den)).as_u128());
            }
            k
        })
        .collect()
}

/// Gives +1 to the first `k` entries of `(key, id, index)` ordered by key descending,
/// then id ascending.
fn award_by_key<K: Ord>(mut entries: Vec<(K, i64, usize)>, k: u128, h: &mut [i64]) {
    entries.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    assert!(
        k as usize <= entries.len(),
        "oracle: leftover exceeds candidates"
    );
    for &(_, _, i) in entries.iter().take(k as usize) {
        h[i] += 1;
    }
}

/// Plain pro rata, `rounding="exact"`: floors, then largest remainder, ties smallest id.
fn oracle_pro_rata(claims: &[i64], ids: &[i64], loss: i64) -> Vec<i64> {
    let p = base_of(claims);
    let t = (loss as u128).min(p);
    let mut h = vec![0i64; claims.len()];
    if p == 0 {
        return h;
    }
    let mut floors = 0u128;
    let mut rems = Vec::new();
    for (i, &c) in claims.iter().enumerate() {
        if c > 0 {
            // c < 2^63 and t <= loss < 2^63: the product fits in 126 bits.
            let x = c as u128 * t;
            h[i] = (x / p) as i64;
            floors += x / p;
            rems.push((x % p, ids[i], i));
        }
    }
    award_by_key(rems, t - floors, &mut h);
    h
}

/// Plain pro rata rounded down (`up = false`) or up (`up = true`).
fn oracle_pro_rata_rounded(claims: &[i64], loss: i64, up: bool) -> Vec<i64> {
    let p = base_of(claims);
    let t = (loss as u128).min(p);
    claims
        .iter()
        .map(|&c| {
            if c <= 0 {
                return 0;
            }
            let x = c as u128 * t;
            let q = if up { x.div_ceil(p) } else { x / p };
            q as i64
        })
        .collect()
}

/// Water-filling pro rata with ceilings and shares `s_i = w_i * c_i`.
/// Returns the haircuts and the target `T = min(L, sum k_i over payers)`.
fn oracle_water_fill(
    claims: &[i64],
    ids: &[i64],
    loss: i64,
    caps: Option<&[i64]>,
    rate: Option<(u128, u128)>,
    weights: Option<&[i64]>,
) -> (Vec<i64>, u128) {
    let n = claims.len();
    let k = ceilings(claims, caps, rate);
    let s: Vec<U256> = claims
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            if c <= 0 {
                return U256::ZERO;
            }
            w(c as u128) * w(weights.map_or(1, |ws| ws[i]) as u128)
        })
        .collect();
    let payers: Vec<usize> = (0..n).filter(|&i| s[i] > U256::ZERO).collect();
    let sum_k: u128 = payers.iter().map(|&i| k[i]).sum();
    let t = (loss as u128).min(sum_k);
    let mut h = vec![0i64; n];
    // f is strictly increasing up to the largest ratio, where it reaches sum_k >= T, so
    // k_j/s_j <= lam*  <=>  f(k_j/s_j) <= T  <=>  sum_i min(k_i s_j, k_j s_i) <= T s_j.
    let mut saturated = vec![false; n];
    for &j in &payers {
        let f = payers
            .iter()
            .map(|&i| (w(k[i]) * s[j]).min(w(k[j]) * s[i]))
            .fold(U256::ZERO, |a, b| a + b);
        saturated[j] = f <= w(t) * s[j];
    }
    let mut rest = t;
    let mut s_u = U256::ZERO;
    for &i in &payers {
        if saturated[i] {
            h[i] = k[i] as i64;
            rest -= k[i];
        } else {
            s_u += s[i];
        }
    }
    let mut floors = 0u128;
    let mut rems = Vec::new();
    for &i in &payers {
        if !saturated[i] {
            let x = s[i] * w(rest);
            let q = (x / s_u).as_u128();
            h[i] = q as i64;
            floors += q;
            rems.push((x % s_u, ids[i], i));
        }
    }
    award_by_key(rems, rest - floors, &mut h);
    (h, t)
}

/// Largest `x` in `[lo, hi]` with `ok(x)`, for `ok` true at `lo` and monotone (true, then
/// false). A linear scan when `brute` and the range is small (the spec's brute force),
/// bisection otherwise.
fn largest_true(lo: u128, hi: u128, brute: bool, ok: impl Fn(u128) -> bool) -> u128 {
    assert!(ok(lo));
    if brute && hi - lo <= 4096 {
        return (lo..=hi).rev().find(|&x| ok(x)).unwrap();
    }
    let (mut lo, mut hi) = (lo, hi);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if ok(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

/// Smallest `x` in `[lo, hi]` with `ok(x)`, for `ok` true at `hi` and monotone.
fn smallest_true(lo: u128, hi: u128, brute: bool, ok: impl Fn(u128) -> bool) -> u128 {
    assert!(ok(hi));
    if brute && hi - lo <= 4096 {
        return (lo..=hi).find(|&x| ok(x)).unwrap();
    }
    let (mut lo, mut hi) = (lo, hi);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if ok(mid) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// Equal loss: `h_i = min(k_i, lam)`, `lam` the largest integer with sum <= T, leftover
/// +1 to the smallest ids among `k_i > lam`.
fn oracle_equal_loss(
    claims: &[i64],
    ids: &[i64],
    loss: i64,
    caps: Option<&[i64]>,
    rate: Option<(u128, u128)>,
) -> (Vec<i64>, u128) {
    let k = ceilings(claims, caps, rate);
    let sum_k: u128 = k.iter().sum();
    let t = (loss as u128).min(sum_k);
    let max_k = k.iter().copied().max().unwrap_or(0);
    let paid = |lam: u128| k.iter().map(|&ki| ki.min(lam)).sum::<u128>();
    let lam = largest_true(0, max_k, claims.len() <= 64, |lam| paid(lam) <= t);
    let mut h: Vec<i64> = k.iter().map(|&ki| ki.min(lam) as i64).collect();
    let above: Vec<((), i64, usize)> = (0..claims.len())
        .filter(|&i| k[i] > lam)
        .map(|i| ((), ids[i], i))
        .collect();
    award_by_key(above, t - paid(lam), &mut h);
    (h, t)
}

/// Equal award: `h_i = max(0, c_i - mu)`, `mu` the smallest integer >= 0 with sum <= T,
/// leftover +1 to the smallest ids among eligible `c_i >= mu`.
fn oracle_equal_award(claims: &[i64], ids: &[i64], loss: i64) -> Vec<i64> {
    let p = base_of(claims);
    let t = (loss as u128).min(p);
    let max_c = claims.iter().map(|&c| c.max(0) as u128).max().unwrap_or(0);
    let cut = |mu: u128| {
        claims
            .iter()
            .filter(|&&c| c > 0)
            .map(|&c| (c as u128).saturating_sub(mu))
            .sum::<u128>()
    };
    let mu = smallest_true(0, max_c, claims.len() <= 64, |mu| cut(mu) <= t);
    let mut h: Vec<i64> = claims
        .iter()
        .map(|&c| {
            if c > 0 {
                (c as u128).saturating_sub(mu) as i64
            } else {
                0
            }
        })
        .collect();
    let at_or_above: Vec<((), i64, usize)> = (0..claims.len())
        .filter(|&i| claims[i] > 0 && claims[i] as u128 >= mu)
        .map(|i| ((), ids[i], i))
        .collect();
    award_by_key(at_or_above, t - cut(mu), &mut h);
    h
}

// ------------------------------------------------------------------------------------
// Invariant checks
// ------------------------------------------------------------------------------------

fn sum(h: &[i64]) -> u128 {
    h.iter()
        .map(|&x| {
            assert!(x >= 0, "negative haircut {x}");
            x as u128
        })
        .sum()
}

fn opts_ids(ids: &[i64]) -> Options<'_> {
    Options {
        ids: Some(ids),
        ..Options::default()
    }
}

/// `c_i > c_j => h_i >= h_j`: sorted by `(c, h)`, the haircuts never decrease.
fn check_monotone(claims: &[i64], h: &[i64]) -> TestResult {
    let mut pairs: Vec<(i64, i64)> = claims.iter().copied().zip(h.iter().copied()).collect();
    pairs.sort_unstable();
    for win in pairs.windows(2) {
        prop_assert!(
            win[0].1 <= win[1].1,
            "not monotone: claim {} gets {} but claim {} gets {}",
            win[0].0,
            win[0].1,
            win[1].0,
            win[1].1
        );
    }
    Ok(())
}

/// Everything the spec says of plain pro rata with exact rounding.
fn check_pro_rata_exact(claims: &[i64], ids: &[i64], loss: i64) -> TestResult {
    let (h, s) = allocate(claims, loss, &opts_ids(ids)).unwrap();
    let p = base_of(claims);
    let t = (loss as u128).min(p);
    prop_assert_eq!(h.len(), claims.len());
    prop_assert_eq!(s.base, p);
    prop_assert_eq!(s.target, t);
    prop_assert_eq!(s.total, t);
    prop_assert_eq!((s.dust, s.surplus), (0, 0));
    prop_assert_eq!(sum(&h), t);
    prop_assert_eq!(s.uncovered(loss), loss as u128 - t);
    for (&c, &hi) in claims.iter().zip(&h) {
        if c <= 0 {
            prop_assert_eq!(hi, 0);
        } else {
            prop_assert!(0 <= hi && hi <= c);
            // |h - c*T/P| < 1  <=>  |h*P - c*T| < P
            let (hp, ct) = (w(hi as u128) * w(p), w(c as u128) * w(t));
            prop_assert!(hp < ct + w(p) && ct < hp + w(p), "|h - cT/P| >= 1");
        }
    }
    check_monotone(claims, &h)?;
    let expect = oracle_pro_rata(claims, ids, loss);
    if h != expect {
        let diff: Vec<_> = (0..h.len())
            .filter(|&i| h[i] != expect[i])
            .take(5)
            .collect();
        let detail: Vec<_> = diff
            .iter()
            .map(|&i| (i, claims[i], ids[i], h[i], expect[i]))
            .collect();
        prop_assert!(
            false,
            "pro_rata differs from the spec at (index, claim, id, got, want): {:?}",
            detail
        );
    }
    Ok(())
}

/// Pro rata rounded down and up: floors / ceilings, dust and surplus.
fn check_pro_rata_rounded(claims: &[i64], ids: &[i64], loss: i64) -> TestResult {
    let p = base_of(claims);
    let t = (loss as u128).min(p);
    let eligible = claims.iter().filter(|&&c| c > 0).count() as u128;
    for up in [false, true] {
        let opts = Options {
            ids: Some(ids),
            rounding: if up { Rounding::Up } else { Rounding::Down },
            ..Options::default()
        };
        let (h, s) = allocate(claims, loss, &opts).unwrap();
        prop_assert_eq!(&h, &oracle_pro_rata_rounded(claims, loss, up));
        let total = sum(&h);
        prop_assert_eq!(s.total, total);
        prop_assert_eq!(s.target, t);
        prop_assert_eq!(s.base, p);
        for (&c, &hi) in claims.iter().zip(&h) {
            prop_assert!(0 <= hi && hi <= c.max(0));
        }
        check_monotone(claims, &h)?;
        if up {
            prop_assert_eq!(s.dust, 0);
            prop_assert_eq!(s.surplus, total - t);
            prop_assert!(s.surplus < eligible.max(1));
        } else {
            prop_assert_eq!(s.surplus, 0);
            prop_assert_eq!(s.dust, t - total);
            prop_assert!(s.dust < eligible.max(1));
            prop_assert_eq!(s.uncovered(loss), loss as u128 - total);
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------
// Strategies
// ------------------------------------------------------------------------------------

fn claim() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => -20i64..=60,
        2 => -1_000i64..=1_000_000,
        1 => Just(0i64),
        1 => (i64::MAX - 1_000)..=i64::MAX,
        1 => any::<i64>(),
    ]
}

/// Claims whose sum (at most 12 of them) always fits in an i64.
fn fitting_claim() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => -20i64..=60,
        2 => -1_000i64..=1_000_000,
        1 => Just(0i64),
        1 => i64::MIN..=0,
        1 => (i64::MAX / 16 - 1_000)..=i64::MAX / 16,
    ]
}

fn small_claim() -> impl Strategy<Value = i64> {
    prop_oneof![3 => -5i64..=40, 1 => -50i64..=1_500]
}

fn cap() -> impl Strategy<Value = i64> {
    prop_oneof![
        3 => 0i64..=80,
        1 => 0i64..=2_000_000,
        1 => 0i64..=i64::MAX,
        1 => Just(i64::MAX),
    ]
}

fn weight() -> impl Strategy<Value = i64> {
    prop_oneof![1 => Just(0i64), 5 => 0i64..=10, 1 => 0i64..=i64::MAX, 1 => Just(i64::MAX)]
}

fn rate() -> impl Strategy<Value = (u128, u128)> {
    prop_oneof![
        3 => (1u128..=20).prop_flat_map(|den| (0..=den, Just(den))),
        1 => (1u128..=u128::MAX).prop_flat_map(|den| (0..=den, Just(den))),
        1 => Just((u128::MAX - 1, u128::MAX)),
    ]
}

/// `n` distinct ids in a random order (shuffled, so not sorted like the positions).
fn ids_for(n: usize) -> impl Strategy<Value = Vec<i64>> {
    prop_oneof![
        prop::collection::btree_set(-1_000i64..1_000, n),
        prop::collection::btree_set(any::<i64>(), n),
    ]
    .prop_map(|s| s.into_iter().collect::<Vec<_>>())
    .prop_shuffle()
}

#[derive(Debug, Clone)]
struct Case {
    claims: Vec<i64>,
    ids: Vec<i64>,
    caps: Vec<i64>,
    weights: Vec<i64>,
    loss_kind: u8,
    loss_raw: u64,
}

impl Case {
    /// A loss chosen relative to `total` (the base or the sum of ceilings) so that all
    /// regimes show up: tiny, a fraction of the total, around it, and huge.
    fn loss(&self, total: u128) -> i64 {
        match self.loss_kind % 5 {
            0 => (self.loss_raw % 200) as i64,
            1 | 2 => {
                let f = (self.loss_raw % 1_101) as u128;
                (total * f / 1_000).min(i64::MAX as u128) as i64
            }
            3 => i64::MAX,
            _ => (self.loss_raw >> 1) as i64,
        }
    }
}

fn case_from(claims: impl Strategy<Value = Vec<i64>>) -> impl Strategy<Value = Case> {
    claims
        .prop_flat_map(|claims| {
            let n = claims.len();
            (
                Just(claims),
                ids_for(n),
                prop::collection::vec(cap(), n),
                prop::collection::vec(weight(), n),
                any::<u8>(),
                any::<u64>(),
            )
        })
        .prop_map(|(claims, ids, caps, weights, loss_kind, loss_raw)| Case {
            claims,
            ids,
            caps,
            weights,
            loss_kind,
            loss_raw,
        })
}

fn case(max_n: usize) -> impl Strategy<Value = Case> {
    case_from(prop::collection::vec(claim(), 0..=max_n))
}

fn small_case(max_n: usize) -> impl Strategy<Value = Case> {
    case_from(prop::collection::vec(small_claim(), 0..=max_n))
}

/// Which ceiling options a water-filling / equal-loss case uses.
#[derive(Debug, Clone, Copy)]
struct Ceil {
    caps: bool,
    rate: Option<(u128, u128)>,
    weights: bool,
}

fn ceil_opts() -> impl Strategy<Value = Ceil> {
    (any::<bool>(), prop::option::of(rate()), any::<bool>()).prop_map(|(caps, rate, weights)| {
        Ceil {
            caps,
            rate,
            weights,
        }
    })
}

// ------------------------------------------------------------------------------------
// Rule configurations shared by the "every rule" properties
// ------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Config {
    ProRata(Rounding),
    WaterFill(Ceil),
    EqualLoss(Ceil),
    EqualAward,
}

fn config() -> impl Strategy<Value = Config> {
    prop_oneof![
        prop_oneof![
            Just(Rounding::Exact),
            Just(Rounding::Down),
            Just(Rounding::Up)
        ]
        .prop_map(Config::ProRata),
        ceil_opts().prop_map(Config::WaterFill),
        ceil_opts().prop_map(|c| Config::EqualLoss(Ceil {
            weights: false,
            ..c
        })),
        Just(Config::EqualAward),
    ]
}

impl Config {
    fn options<'a>(&self, ids: &'a [i64], caps: &'a [i64], weights: &'a [i64]) -> Options<'a> {
        let with = |rule, c: &Ceil| Options {
            rule,
            rounding: Rounding::Exact,
            ids: Some(ids),
            caps: c.caps.then_some(caps),
            max_rate: c.rate.map(|(n, d)| Rate::new(n, d).unwrap()),
            weights: c.weights.then_some(weights),
        };
        match self {
            Config::ProRata(rounding) => Options {
                rounding: *rounding,
                ..opts_ids(ids)
            },
            Config::WaterFill(c) => with(Rule::ProRata, c),
            Config::EqualLoss(c) => with(Rule::EqualLoss, c),
            Config::EqualAward => Options {
                rule: Rule::EqualAward,
                ..opts_ids(ids)
            },
        }
    }

    fn has_ceilings(&self) -> bool {
        match self {
            Config::WaterFill(c) | Config::EqualLoss(c) => c.caps || c.rate.is_some() || c.weights,
            _ => false,
        }
    }

    /// The spec's result for this configuration.
    fn oracle(&self, case: &Case, loss: i64) -> Vec<i64> {
        let (claims, ids) = (&case.claims[..], &case.ids[..]);
        let caps = |c: &Ceil| c.caps.then_some(&case.caps[..]);
        match self {
            Config::ProRata(Rounding::Exact) => oracle_pro_rata(claims, ids, loss),
            Config::ProRata(r) => oracle_pro_rata_rounded(claims, loss, *r == Rounding::Up),
            Config::WaterFill(c) => {
                let weights = c.weights.then_some(&case.weights[..]);
                oracle_water_fill(claims, ids, loss, caps(c), c.rate, weights).0
            }
            Config::EqualLoss(c) => oracle_equal_loss(claims, ids, loss, caps(c), c.rate).0,
            Config::EqualAward => oracle_equal_award(claims, ids, loss),
        }
    }

    /// The ceilings that bound the target of this configuration (over payers).
    fn ceiling_sum(&self, case: &Case) -> u128 {
        match self {
            Config::WaterFill(c) | Config::EqualLoss(c) => {
                let k = ceilings(&case.claims, c.caps.then_some(&case.caps[..]), c.rate);
                k.iter()
                    .enumerate()
                    .filter(|&(i, _)| !c.weights || case.weights[i] > 0)
                    .map(|(_, &k)| k)
                    .sum()
            }
            _ => base_of(&case.claims),
        }
    }
}

fn permute<T: Copy>(v: &[T], perm: &[usize]) -> Vec<T> {
    perm.iter().map(|&p| v[p]).collect()
}

fn case_and_perm(case: impl Strategy<Value = Case>) -> impl Strategy<Value = (Case, Vec<usize>)> {
    case.prop_flat_map(|c| {
        let n = c.claims.len();
        (Just(c), Just((0..n).collect::<Vec<usize>>()).prop_shuffle())
    })
}

// ------------------------------------------------------------------------------------
// Small and medium random inputs
// ------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(4_000))]

    /// pro_rata exact: sum, bounds, |h - cT/P| < 1, monotone, exact Hamilton result.
    #[test]
    fn pro_rata_exact_matches_spec(case in case(24)) {
        let loss = case.loss(base_of(&case.claims));
        check_pro_rata_exact(&case.claims, &case.ids, loss)?;
    }

    /// pro_rata down / up: floors with dust, ceilings with surplus.
    #[test]
    fn pro_rata_rounded_matches_spec(case in case(24)) {
        let loss = case.loss(base_of(&case.claims));
        check_pro_rata_rounded(&case.claims, &case.ids, loss)?;
    }

    /// Default ids are the positions.
    #[test]
    fn default_ids_are_positions(case in case(16), config in config()) {
        let loss = case.loss(config.ceiling_sum(&case));
        let positions: Vec<i64> = (0..case.claims.len() as i64).collect();
        let with = config.options(&positions, &case.caps, &case.weights);
        let without = Options { ids: None, ..with };
        prop_assert_eq!(
            allocate(&case.claims, loss, &with).unwrap(),
            allocate(&case.claims, loss, &without).unwrap()
        );
    }

    /// Water-filling (caps, max_rate, weights) against the exact-level oracle.
    #[test]
    fn water_fill_matches_spec(case in case(12), ceil in ceil_opts()) {
        let caps = ceil.caps.then_some(&case.caps[..]);
        let weights = ceil.weights.then_some(&case.weights[..]);
        let config = Config::WaterFill(ceil);
        let loss = case.loss(config.ceiling_sum(&case));
        let opts = config.options(&case.ids, &case.caps, &case.weights);
        let (h, s) = allocate(&case.claims, loss, &opts).unwrap();
        let (expect, t) = oracle_water_fill(&case.claims, &case.ids, loss, caps, ceil.rate, weights);
        let k = ceilings(&case.claims, caps, ceil.rate);
        prop_assert_eq!(s.target, t);
        prop_assert_eq!(s.total, t);
        prop_assert_eq!(s.base, base_of(&case.claims));
        prop_assert_eq!((s.dust, s.surplus), (0, 0));
        prop_assert_eq!(sum(&h), t);
        prop_assert_eq!(s.uncovered(loss), loss as u128 - t);
        for i in 0..h.len() {
            prop_assert!(h[i] >= 0 && h[i] as u128 <= k[i], "h_{} = {} > k = {}", i, h[i], k[i]);
            if weights.is_some_and(|ws| ws[i] == 0) {
                prop_assert_eq!(h[i], 0);
            }
        }
        prop_assert_eq!(h, expect);
    }

    /// A maximum rate that cannot bind (every claim's share far below its ceiling)
    /// takes the plain pro-rata path: the result is still the water-filling oracle's.
    #[test]
    fn max_rate_that_cannot_bind_is_water_filling(
        claims in prop::collection::vec(prop_oneof![-1_000i64..0, 1_000i64..1_000_000_000], 1..40),
        num in 1u128..=10,
        slack in 1u64..=50,
    ) {
        let ids: Vec<i64> = (0..claims.len() as i64).collect();
        let base: u128 = claims.iter().map(|&c| c.max(0) as u128).sum();
        let rate = (num, 10u128);
        // Well under the rate: loss <= base * num / 10 / slack.
        let loss = i64::try_from(base * num / 10 / u128::from(slack + 1)).unwrap();
        let opts = Options {
            max_rate: Some(Rate::new(rate.0, rate.1).unwrap()),
            ..opts_ids(&ids)
        };
        let (h, s) = allocate(&claims, loss, &opts).unwrap();
        let (expect, t) = oracle_water_fill(&claims, &ids, loss, None, Some(rate), None);
        prop_assert_eq!(s.total, t);
        prop_assert_eq!(h, expect);
    }

    /// With all weights equal (and positive), weighted pro rata is plain pro rata.
    #[test]
    fn equal_weights_are_plain_pro_rata(
        case in case(20),
        weight in prop_oneof![1i64..=5, 1i64..=i64::MAX, Just(i64::MAX)],
    ) {
        let loss = case.loss(base_of(&case.claims));
        let weights = vec![weight; case.claims.len()];
        let opts = Options { weights: Some(&weights), ..opts_ids(&case.ids) };
        let (h, s) = allocate(&case.claims, loss, &opts).unwrap();
        let (plain, ps) = allocate(&case.claims, loss, &opts_ids(&case.ids)).unwrap();
        prop_assert_eq!(&h, &oracle_pro_rata(&case.claims, &case.ids, loss));
        prop_assert_eq!(h, plain);
        prop_assert_eq!((s.total, s.target, s.base), (ps.total, ps.target, ps.base));
    }

    /// equal_loss (with caps / max_rate) against a brute-force level.
    #[test]
    fn equal_loss_matches_spec(case in small_case(12), ceil in ceil_opts()) {
        let ceil = Ceil { weights: false, ..ceil };
        let config = Config::EqualLoss(ceil);
        let caps = ceil.caps.then_some(&case.caps[..]);
        let loss = case.loss(config.ceiling_sum(&case));
        let opts = config.options(&case.ids, &case.caps, &case.weights);
        let (h, s) = allocate(&case.claims, loss, &opts).unwrap();
        let (expect, t) = oracle_equal_loss(&case.claims, &case.ids, loss, caps, ceil.rate);
        prop_assert_eq!((s.target, s.total), (t, t));
        prop_assert_eq!(sum(&h), t);
        prop_assert_eq!(h, expect);
    }

    /// equal_loss and equal_award on arbitrary (also huge) claims, bisection oracle.
    #[test]
    fn equal_rules_match_spec_any_size(case in case(16), ceil in ceil_opts()) {
        let ceil = Ceil { weights: false, ..ceil };
        let caps = ceil.caps.then_some(&case.caps[..]);
        let config = Config::EqualLoss(ceil);
        let loss = case.loss(config.ceiling_sum(&case));
        let (h, s) = allocate(&case.claims, loss, &config.options(&case.ids, &case.caps, &case.weights)).unwrap();
        let (expect, t) = oracle_equal_loss(&case.claims, &case.ids, loss, caps, ceil.rate);
        prop_assert_eq!((s.target, s.total), (t, t));
        prop_assert_eq!(h, expect);

        let loss = case.loss(base_of(&case.claims));
        let opts = Config::EqualAward.options(&case.ids, &case.caps, &case.weights);
        let (h, s) = allocate(&case.claims, loss, &opts).unwrap();
        let t = (loss as u128).min(base_of(&case.claims));
        prop_assert_eq!((s.target, s.total), (t, t));
        prop_assert_eq!(h, oracle_equal_award(&case.claims, &case.ids, loss));
    }

    /// equal_award against a brute-force level.
    #[test]
    fn equal_award_matches_spec(case in small_case(12)) {
        let loss = case.loss(base_of(&case.claims));
        let opts = Config::EqualAward.options(&case.ids, &case.caps, &case.weights);
        let (h, s) = allocate(&case.claims, loss, &opts).unwrap();
        let t = (loss as u128).min(base_of(&case.claims));
        prop_assert_eq!((s.target, s.total, s.base), (t, t, base_of(&case.claims)));
        prop_assert_eq!(sum(&h), t);
        for (&c, &hi) in case.claims.iter().zip(&h) {
            prop_assert!(0 <= hi && hi <= c.max(0));
        }
        prop_assert_eq!(h, oracle_equal_award(&case.claims, &case.ids, loss));
    }

    /// Every rule: the result is the oracle's, h_i in [0, c_i], ineligible get 0, and
    /// permuting claims with ids (and caps, weights) permutes the output.
    #[test]
    fn every_rule_is_permutation_equivariant(
        (case, perm) in case_and_perm(case(12)),
        config in config(),
    ) {
        let loss = case.loss(config.ceiling_sum(&case));
        let opts = config.options(&case.ids, &case.caps, &case.weights);
        let (h, _) = allocate(&case.claims, loss, &opts).unwrap();
        prop_assert_eq!(&h, &config.oracle(&case, loss));
        for (&c, &hi) in case.claims.iter().zip(&h) {
            prop_assert!(0 <= hi && hi <= c.max(0));
        }
        let moved = Case {
            claims: permute(&case.claims, &perm),
            ids: permute(&case.ids, &perm),
            caps: permute(&case.caps, &perm),
            weights: permute(&case.weights, &perm),
            ..case.clone()
        };
        let opts = config.options(&moved.ids, &moved.caps, &moved.weights);
        let (hp, _) = allocate(&moved.claims, loss, &opts).unwrap();
        prop_assert_eq!(hp, permute(&h, &perm));
    }

    /// Every rule: a loss at or above the ceilings takes every ceiling in full (every
    /// claim, without caps) and leaves `loss - sum` uncovered; a zero loss takes nothing.
    #[test]
    fn full_and_zero_loss(
        case in case_from(prop::collection::vec(fitting_claim(), 0..=12)),
        config in config(),
        extra in 0u64..1_000,
    ) {
        let total = config.ceiling_sum(&case);
        prop_assume!(total <= i64::MAX as u128);
        let loss = (total + extra as u128).min(i64::MAX as u128) as i64;
        let opts = config.options(&case.ids, &case.caps, &case.weights);
        let (h, s) = allocate(&case.claims, loss, &opts).unwrap();
        if config.has_ceilings() {
            prop_assert_eq!(&h, &config.oracle(&case, loss));
        } else {
            let full: Vec<i64> = case.claims.iter().map(|&c| c.max(0)).collect();
            prop_assert_eq!(&h, &full);
        }
        prop_assert_eq!(sum(&h), total);
        prop_assert_eq!((s.total, s.target, s.dust, s.surplus), (total, total, 0, 0));
        prop_assert_eq!(s.uncovered(loss), loss as u128 - total);

        let (h, s) = allocate(&case.claims, 0, &opts).unwrap();
        prop_assert!(h.iter().all(|&x| x == 0));
        prop_assert_eq!((s.total, s.target, s.dust, s.surplus), (0, 0, 0, 0));
        prop_assert_eq!(s.uncovered(0), 0);
    }

    /// A single account pays min(ceiling, loss) under every rule.
    #[test]
    fn single_account(c in claim(), cap in cap(), weight in weight(), config in config(), loss in prop_oneof![0i64..=100, any::<i64>().prop_map(|l| l.max(0)), Just(i64::MAX)]) {
        let case = Case { claims: vec![c], ids: vec![42], caps: vec![cap], weights: vec![weight], loss_kind: 0, loss_raw: 0 };
        let opts = config.options(&case.ids, &case.caps, &case.weights);
        let (h, s) = allocate(&case.claims, loss, &opts).unwrap();
        let k = config.ceiling_sum(&case);
        let want = k.min(loss as u128) as i64;
        prop_assert_eq!(h, vec![want]);
        prop_assert_eq!((s.total, s.dust, s.surplus), (want as u128, 0, 0));
        prop_assert_eq!(s.uncovered(loss), (loss - want) as u128);
    }

    /// No eligible claim: nothing is taken, the whole loss stays uncovered.
    #[test]
    fn all_ineligible(
        claims in prop::collection::vec(prop_oneof![Just(0i64), i64::MIN..=0], 0..20),
        config in config(),
        loss in prop_oneof![0i64..=100, 0i64..=i64::MAX],
    ) {
        let n = claims.len();
        let ids: Vec<i64> = (0..n as i64).rev().collect();
        let (caps, weights) = (vec![5; n], vec![3; n]);
        let (h, s) = allocate(&claims, loss, &config.options(&ids, &caps, &weights)).unwrap();
        prop_assert!(h.iter().all(|&x| x == 0));
        prop_assert_eq!((s.total, s.target, s.base, s.dust, s.surplus), (0, 0, 0, 0, 0));
        prop_assert_eq!(s.uncovered(loss), loss as u128);
    }

    /// All claims equal, loss not a multiple of n: every rule gives floor(L/n) to all and
    /// one more unit to the L mod n smallest ids.
    #[test]
    fn equal_claims_ties_go_to_smallest_ids(
        n in 2usize..40,
        c in prop_oneof![1i64..=50, (i64::MAX - 10)..=i64::MAX],
        raw in any::<u64>(),
        ids_seed in any::<u64>(),
    ) {
        let total = n as u128 * c as u128;
        let loss = (raw as u128 % total.min(i64::MAX as u128)) as i64;
        let mut rng = SplitMix(ids_seed);
        let ids = distinct_ids(n, &mut rng);
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| ids[i]);
        let mut want = vec![(loss as u128 / n as u128) as i64; n];
        for &i in order.iter().take((loss as u128 % n as u128) as usize) {
            want[i] += 1;
        }
        let claims = vec![c; n];
        for rule in [Rule::ProRata, Rule::EqualLoss, Rule::EqualAward] {
            let opts = Options { rule, ..opts_ids(&ids) };
            let (h, _) = allocate(&claims, loss, &opts).unwrap();
            prop_assert_eq!(&h, &want, "rule {:?}", rule);
        }
        let weights = vec![7; n];
        let opts = Options { weights: Some(&weights), ..opts_ids(&ids) };
        prop_assert_eq!(&allocate(&claims, loss, &opts).unwrap().0, &want);
    }
}

// ------------------------------------------------------------------------------------
// Extremes: claims near i64::MAX, the 2^64 boundary of P, loss = i64::MAX
// ------------------------------------------------------------------------------------

fn near_max_claims(max_n: usize) -> impl Strategy<Value = Vec<i64>> {
    // At least one claim near the top, so P >= 2^62 whatever the others are.
    (
        (i64::MAX - 1_000_000)..=i64::MAX,
        prop::collection::vec(
            prop_oneof![
                6 => (i64::MAX - 1_000_000)..=i64::MAX,
                1 => (i64::MAX / 2)..=i64::MAX,
                1 => -5i64..=1_000,
            ],
            0..max_n,
        ),
    )
        .prop_map(|(first, mut rest)| {
            rest.push(first);
            rest
        })
        .prop_shuffle()
}

/// Claims whose eligible sum lies within a few hundred units of 2^63 or 2^64, on either
/// side: the fast path's limit (a reciprocal for small `P`, 128-bit division for large).
fn boundary_claims() -> impl Strategy<Value = Vec<i64>> {
    (0u64..300, prop::collection::vec(-3i64..=40, 0..8), 0u8..4)
        .prop_map(|(x, mut small, shape)| {
            let x = x as i64;
            let mut claims = match shape {
                // About 2^64: two near-max claims, 2^64 - 2 - x.
                0 => vec![i64::MAX, i64::MAX - x],
                // About 2^64: 2^63-1, 2^62, 2^62-x.
                1 => vec![i64::MAX, 1 << 62, (1 << 62) - x],
                // About 2^63: one near-max claim, 2^63 - 1 - x.
                2 => vec![i64::MAX - x],
                // About 2^63: 2^62 and 2^62 - 1 - x.
                _ => vec![1 << 62, (1 << 62) - 1 - x],
            };
            // The small claims (sum up to 320) carry P across the boundary.
            claims.append(&mut small);
            claims
        })
        .prop_shuffle()
}

proptest! {
    #![proptest_config(cases(1_500))]

    #[test]
    fn pro_rata_near_max_claims(case in case_from(near_max_claims(40))) {
        let p = base_of(&case.claims);
        prop_assert!(p >= 1u128 << 62);
        let loss = case.loss(p);
        check_pro_rata_exact(&case.claims, &case.ids, loss)?;
        check_pro_rata_rounded(&case.claims, &case.ids, loss)?;
        check_pro_rata_exact(&case.claims, &case.ids, i64::MAX)?;
        check_pro_rata_rounded(&case.claims, &case.ids, i64::MAX)?;
    }

    #[test]
    fn pro_rata_around_path_boundaries(
        claims in boundary_claims(),
        ids_seed in any::<u64>(),
        loss in prop_oneof![
            0i64..=1_000,
            (i64::MAX - 1_000)..=i64::MAX,
            any::<i64>().prop_map(|l| l.max(0)),
        ],
    ) {
        let p = base_of(&claims);
        prop_assert!(p.abs_diff(1 << 64) < 400 || p.abs_diff(1 << 63) < 400);
        let ids = distinct_ids(claims.len(), &mut SplitMix(ids_seed));
        check_pro_rata_exact(&claims, &ids, loss)?;
        check_pro_rata_rounded(&claims, &ids, loss)?;
    }

    /// Shares w*c near 2^126 each, so the share sum passes 2^127.
    #[test]
    fn water_fill_with_huge_shares(
        case in case_from(near_max_claims(10)),
        ceil in ceil_opts(),
        heavy in prop::collection::vec(prop_oneof![(i64::MAX - 100)..=i64::MAX, 0i64..=3], 10),
    ) {
        let weights: Vec<i64> = heavy[..case.claims.len()].to_vec();
        let case = Case { weights, ..case };
        let ceil = Ceil { weights: true, ..ceil };
        let caps = ceil.caps.then_some(&case.caps[..]);
        let config = Config::WaterFill(ceil);
        for loss in [case.loss(config.ceiling_sum(&case)), i64::MAX] {
            let opts = config.options(&case.ids, &case.caps, &case.weights);
            let (h, s) = allocate(&case.claims, loss, &opts).unwrap();
            let (expect, t) = oracle_water_fill(&case.claims, &case.ids, loss, caps, ceil.rate, Some(&case.weights));
            prop_assert_eq!((s.total, s.target), (t, t));
            prop_assert_eq!(h, expect);
        }
    }
}

#[test]
fn powers_of_two_exactly() {
    // P = 2^63 - 1, 2^63, 2^63 + 1 and P = 2^64 - 1, 2^64, 2^64 + 1.
    for (big, tail) in [(1usize, 0i64), (1, 1), (1, 2), (2, 1), (2, 2), (2, 3)] {
        let mut claims = vec![i64::MAX; big];
        claims.extend([tail, 0, -1]);
        assert_eq!(
            base_of(&claims),
            big as u128 * (i64::MAX as u128) + tail as u128
        );
        let ids: Vec<i64> = (0..claims.len() as i64).rev().collect();
        for loss in [1, 2, 3, 7, i64::MAX / 3, i64::MAX - 1, i64::MAX] {
            check_pro_rata_exact(&claims, &ids, loss).unwrap();
            check_pro_rata_rounded(&claims, &ids, loss).unwrap();
        }
    }
}

#[test]
fn base_exactly_i64_max_taken_in_full() {
    let claims = [i64::MAX - 5, 2, -7, 3, 0];
    let ids = [9, 8, 7, 6, 5];
    let caps = [i64::MAX; 5];
    for config in [
        Config::ProRata(Rounding::Exact),
        Config::ProRata(Rounding::Down),
        Config::ProRata(Rounding::Up),
        Config::WaterFill(Ceil {
            caps: true,
            rate: Some((1, 1)),
            weights: false,
        }),
        Config::EqualLoss(Ceil {
            caps: true,
            rate: None,
            weights: false,
        }),
        Config::EqualAward,
    ] {
        let (h, s) = allocate(&claims, i64::MAX, &config.options(&ids, &caps, &caps)).unwrap();
        assert_eq!(h, [i64::MAX - 5, 2, 0, 3, 0], "{config:?}");
        assert_eq!(
            (s.total, s.target, s.base),
            (i64::MAX as u128, i64::MAX as u128, i64::MAX as u128)
        );
        assert_eq!((s.dust, s.surplus, s.uncovered(i64::MAX)), (0, 0, 0));
        let (h, s) = allocate(&claims, i64::MAX - 1, &config.options(&ids, &caps, &caps)).unwrap();
        assert_eq!(s.total, sum(&h));
        assert_eq!(
            h,
            config.oracle(
                &Case {
                    claims: claims.to_vec(),
                    ids: ids.to_vec(),
                    caps: caps.to_vec(),
                    weights: caps.to_vec(),
                    loss_kind: 0,
                    loss_raw: 0
                },
                i64::MAX - 1
            )
        );
    }
}

#[test]
fn loss_max_on_max_claims() {
    for n in [1usize, 2, 3, 7, 64] {
        let claims = vec![i64::MAX; n];
        let ids: Vec<i64> = (0..n as i64).rev().collect();
        check_pro_rata_exact(&claims, &ids, i64::MAX).unwrap();
        check_pro_rata_rounded(&claims, &ids, i64::MAX).unwrap();
        for rule in [Rule::EqualLoss, Rule::EqualAward] {
            let opts = Options {
                rule,
                ..opts_ids(&ids)
            };
            let (h, s) = allocate(&claims, i64::MAX, &opts).unwrap();
            assert_eq!(s.total, i64::MAX as u128);
            let expect = if rule == Rule::EqualLoss {
                oracle_equal_loss(&claims, &ids, i64::MAX, None, None).0
            } else {
                oracle_equal_award(&claims, &ids, i64::MAX)
            };
            assert_eq!(h, expect);
        }
    }
}

// ------------------------------------------------------------------------------------
// Large inputs (the parallel path) against straightforward oracles
// ------------------------------------------------------------------------------------

struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Distinct ids in a scrambled order: `i -> i*odd + add` is a bijection mod 2^64.
fn distinct_ids(n: usize, rng: &mut SplitMix) -> Vec<i64> {
    let (mul, add) = (rng.next() | 1, rng.next());
    (0..n as u64)
        .map(|i| i.wrapping_mul(mul).wrapping_add(add) as i64)
        .collect()
}

fn big_claims(kind: u8, n: usize, rng: &mut SplitMix) -> Vec<i64> {
    match kind % 6 {
        // Narrow path, ~10% ineligible.
        0 => (0..n)
            .map(|_| rng.below(2_000_000_000) as i64 - 200_000_000)
            .collect(),
        // P close to 2^63 or 2^64, either side of the fast path's limit.
        1 => {
            let spread = 2 + 2 * rng.below(2);
            let top = ((1u64 << 63) / n.max(1) as u64).saturating_mul(spread);
            (0..n).map(|_| rng.below(top) as i64).collect()
        }
        // Wide path: every claim near i64::MAX, P about 2^81.
        2 => (0..n)
            .map(|_| i64::MAX - rng.below(1 << 20) as i64)
            .collect(),
        // All equal: every remainder ties.
        3 => vec![1 + rng.below(1_000_000) as i64; n],
        // Tiny claims: a handful of distinct remainders, huge ties.
        4 => (0..n).map(|_| rng.below(12) as i64 - 2).collect(),
        // Skewed: mostly small, a few near the top.
        _ => (0..n)
            .map(|_| {
                if rng.below(1_000) == 0 {
                    i64::MAX - rng.below(1_000) as i64
                } else {
                    rng.below(1_000_000) as i64
                }
            })
            .collect(),
    }
}

fn big_loss(p: u128, n: usize, rng: &mut SplitMix) -> i64 {
    let cap = p.min(i64::MAX as u128);
    let loss = match rng.below(4) {
        0 => rng.below(n as u64 * 3) as u128,
        1 => cap * rng.below(1_000) as u128 / 1_000 + rng.below(1_000) as u128,
        2 => rng.next() as u128 % (cap + 1),
        _ => cap.saturating_sub(rng.below(n as u64) as u128),
    };
    loss.min(i64::MAX as u128) as i64
}

proptest! {
    #![proptest_config(cases(24))]

    #[test]
    fn large_pro_rata_matches_oracle(seed in any::<u64>(), kind in 0u8..6, extra in 0usize..2_000) {
        let mut rng = SplitMix(seed);
        let n = 300_000 + extra;
        let claims = big_claims(kind, n, &mut rng);
        let ids = distinct_ids(n, &mut rng);
        let loss = big_loss(base_of(&claims), n, &mut rng);
        check_pro_rata_exact(&claims, &ids, loss)?;
        check_pro_rata_rounded(&claims, &ids, loss)?;
        // Default ids as well (positions).
        let (h, _) = allocate(&claims, loss, &Options::default()).unwrap();
        let positions: Vec<i64> = (0..n as i64).collect();
        prop_assert_eq!(h, oracle_pro_rata(&claims, &positions, loss));
    }
}

proptest! {
    #![proptest_config(cases(8))]

    /// The weighted (water-filling) path with equal weights against the plain path, and
    /// both equal rules against bisection oracles, at n = 300k.
    #[test]
    fn large_other_rules_match_oracles(seed in any::<u64>(), kind in 0u8..6) {
        let mut rng = SplitMix(seed);
        let n = 300_000;
        let claims = big_claims(kind, n, &mut rng);
        let ids = distinct_ids(n, &mut rng);
        let loss = big_loss(base_of(&claims), n, &mut rng);
        let weights = vec![1 + rng.below(1 << 40) as i64; n];
        let opts = Options { weights: Some(&weights), ..opts_ids(&ids) };
        let (h, _) = allocate(&claims, loss, &opts).unwrap();
        prop_assert_eq!(h, oracle_pro_rata(&claims, &ids, loss));

        let caps: Vec<i64> = claims.iter().map(|&c| (c.max(0) as u64 / (1 + rng.below(3))) as i64).collect();
        let opts = Options { rule: Rule::EqualLoss, caps: Some(&caps), ..opts_ids(&ids) };
        let (h, s) = allocate(&claims, loss, &opts).unwrap();
        let (expect, t) = oracle_equal_loss(&claims, &ids, loss, Some(&caps), None);
        prop_assert_eq!(s.total, t);
        prop_assert_eq!(h, expect);

        let opts = Options { rule: Rule::EqualAward, ..opts_ids(&ids) };
        let (h, _) = allocate(&claims, loss, &opts).unwrap();
        prop_assert_eq!(h, oracle_equal_award(&claims, &ids, loss));
    }
}

// ------------------------------------------------------------------------------------
// Batches
// ------------------------------------------------------------------------------------

/// `allocate_many` over the events equals `allocate` on each event alone.
fn check_batch<'a>(
    claims: &[i64],
    offsets: &[i64],
    losses: &[i64],
    opts: &Options<'a>,
) -> TestResult {
    let mut out = vec![-7i64; claims.len()];
    let batch = allocate_many(claims, offsets, losses, opts, &mut out).unwrap();
    let events = losses.len();
    for v in [
        &batch.totals,
        &batch.targets,
        &batch.uncovered,
        &batch.dust,
        &batch.surplus,
    ] {
        prop_assert_eq!(v.len(), events);
    }
    for e in 0..events {
        let r = offsets[e] as usize..offsets[e + 1] as usize;
        let cut = |s: Option<&'a [i64]>| s.map(|s| &s[r.clone()]);
        let event = Options {
            ids: cut(opts.ids),
            caps: cut(opts.caps),
            weights: cut(opts.weights),
            ..*opts
        };
        let (h, s): (Vec<i64>, Summary) = allocate(&claims[r.clone()], losses[e], &event).unwrap();
        prop_assert_eq!(&out[r.clone()], &h[..], "event {}", e);
        prop_assert_eq!(batch.totals[e] as u128, s.total);
        prop_assert_eq!(batch.targets[e] as u128, s.target);
        prop_assert_eq!(batch.uncovered[e] as u128, s.uncovered(losses[e]));
        prop_assert_eq!(batch.dust[e] as u128, s.dust);
        prop_assert_eq!(batch.surplus[e] as u128, s.surplus);
    }
    Ok(())
}

#[derive(Debug, Clone)]
struct Batch {
    claims: Vec<i64>,
    offsets: Vec<i64>,
    losses: Vec<i64>,
    ids: Vec<i64>,
    caps: Vec<i64>,
    weights: Vec<i64>,
}

fn batch() -> impl Strategy<Value = Batch> {
    let event = (
        prop::collection::vec(claim(), 0..8),
        prop_oneof![0i64..=100, 0i64..=i64::MAX],
    )
        .prop_flat_map(|(claims, loss)| {
            let n = claims.len();
            (
                Just(claims),
                Just(loss),
                // Small id range: the same ids recur across events (allowed).
                Just((0i64..10).collect::<Vec<_>>())
                    .prop_shuffle()
                    .prop_map(move |ids| ids[..n].to_vec()),
                prop::collection::vec(cap(), n),
                prop::collection::vec(weight(), n),
            )
        });
    prop::collection::vec(event, 0..12).prop_map(|events| {
        let mut b = Batch {
            claims: vec![],
            offsets: vec![0],
            losses: vec![],
            ids: vec![],
            caps: vec![],
            weights: vec![],
        };
        for (claims, loss, ids, caps, weights) in events {
            b.claims.extend(claims);
            b.ids.extend(ids);
            b.caps.extend(caps);
            b.weights.extend(weights);
            b.losses.push(loss);
            b.offsets.push(b.claims.len() as i64);
        }
        b
    })
}

proptest! {
    #![proptest_config(cases(2_000))]

    #[test]
    fn batch_equals_separate_events(b in batch(), config in config(), use_ids in any::<bool>()) {
        let mut opts = config.options(&b.ids, &b.caps, &b.weights);
        if !use_ids {
            opts.ids = None;
        }
        check_batch(&b.claims, &b.offsets, &b.losses, &opts)?;
    }
}

#[test]
fn large_batch_equals_separate_events() {
    let mut rng = SplitMix(0x5eed);
    let sizes = [0usize, 140_000, 0, 5, 131_072, 1, 70_000, 0, 131_071, 3];
    let mut claims = Vec::new();
    let mut ids = Vec::new();
    let mut offsets = vec![0i64];
    let mut losses = Vec::new();
    for (e, &n) in sizes.iter().enumerate() {
        let event = big_claims(e as u8, n, &mut rng);
        losses.push(big_loss(base_of(&event), n.max(1), &mut rng));
        claims.extend(event);
        ids.extend(distinct_ids(n, &mut rng));
        offsets.push(claims.len() as i64);
    }
    let caps: Vec<i64> = claims.iter().map(|&c| c.max(0) / 2).collect();
    for opts in [
        opts_ids(&ids),
        Options::default(),
        Options {
            rounding: Rounding::Down,
            ..opts_ids(&ids)
        },
        Options {
            rounding: Rounding::Up,
            ..Options::default()
        },
        Options {
            rule: Rule::EqualAward,
            ..opts_ids(&ids)
        },
        Options {
            rule: Rule::EqualLoss,
            caps: Some(&caps),
            ..opts_ids(&ids)
        },
        Options {
            caps: Some(&caps),
            max_rate: Some(Rate::new(1, 3).unwrap()),
            ..opts_ids(&ids)
        },
    ] {
        check_batch(&claims, &offsets, &losses, &opts).unwrap();
    }
    // The plain pro rata events against the spec oracle directly, too.
    let mut out = vec![0; claims.len()];
    allocate_many(&claims, &offsets, &losses, &opts_ids(&ids), &mut out).unwrap();
    for e in 0..sizes.len() {
        let r = offsets[e] as usize..offsets[e + 1] as usize;
        assert_eq!(
            out[r.clone()],
            oracle_pro_rata(&claims[r.clone()], &ids[r], losses[e])[..],
            "event {e}"
        );
    }
}

// ------------------------------------------------------------------------------------
// Errors: each invalid input is an Err of the right kind, never a panic
// ------------------------------------------------------------------------------------

fn err(r: mutualize_core::Result<impl std::fmt::Debug>) -> Error {
    let e = r.expect_err("expected an error");
    assert!(!e.to_string().is_empty());
    e
}

#[test]
fn errors_single() {
    let claims = [10i64, 20, 30];
    let ids = [1i64, 2, 3];
    let caps = [5i64, 5, 5];
    let weights = [1i64, 1, 1];
    let d = Options::default;

    let e = err(allocate(&claims, -1, &d()));
    assert_eq!(
        (e.kind(), &e),
        (ErrorKind::InvalidInput, &Error::NegativeLoss(-1))
    );
    let e = err(allocate(&claims, i64::MIN, &d()));
    assert!(matches!(e, Error::NegativeLoss(i64::MIN)));

    for opts in [
        Options {
            ids: Some(&ids[..2]),
            ..d()
        },
        Options {
            caps: Some(&caps[..1]),
            ..d()
        },
        Options {
            weights: Some(&[1, 1, 1, 1]),
            ..d()
        },
        Options {
            rule: Rule::EqualLoss,
            caps: Some(&[]),
            ..d()
        },
    ] {
        let e = err(allocate(&claims, 5, &opts));
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(matches!(e, Error::LengthMismatch { .. }), "{e:?}");
    }

    let e = err(allocate(
        &claims,
        5,
        &Options {
            caps: Some(&[1, -1, 1]),
            ..d()
        },
    ));
    assert!(
        matches!(
            e,
            Error::Negative {
                what: "caps",
                index: 1,
                value: -1
            }
        ),
        "{e:?}"
    );
    let e = err(allocate(
        &claims,
        5,
        &Options {
            weights: Some(&[1, 1, i64::MIN]),
            ..d()
        },
    ));
    assert!(
        matches!(
            e,
            Error::Negative {
                what: "weights",
                index: 2,
                ..
            }
        ),
        "{e:?}"
    );
    let e = err(allocate(
        &claims,
        5,
        &Options {
            rule: Rule::EqualLoss,
            caps: Some(&[-3, 1, 1]),
            ..d()
        },
    ));
    assert!(matches!(e, Error::Negative { .. }), "{e:?}");

    for rule in [Rule::ProRata, Rule::EqualLoss, Rule::EqualAward] {
        let e = err(allocate(
            &claims,
            5,
            &Options {
                rule,
                ids: Some(&[7, 8, 7]),
                ..d()
            },
        ));
        assert_eq!(
            (e.kind(), e),
            (ErrorKind::InvalidInput, Error::DuplicateId(7))
        );
    }

    // Unsupported combinations.
    let rate = Rate::new(1, 2).unwrap();
    for opts in [
        Options {
            rule: Rule::EqualAward,
            caps: Some(&caps),
            ..d()
        },
        Options {
            rule: Rule::EqualAward,
            max_rate: Some(rate),
            ..d()
        },
        Options {
            rule: Rule::EqualAward,
            weights: Some(&weights),
            ..d()
        },
        Options {
            rule: Rule::EqualLoss,
            weights: Some(&weights),
            ..d()
        },
        Options {
            rounding: Rounding::Down,
            caps: Some(&caps),
            ..d()
        },
        Options {
            rounding: Rounding::Up,
            caps: Some(&caps),
            ..d()
        },
        Options {
            rounding: Rounding::Down,
            max_rate: Some(rate),
            ..d()
        },
        Options {
            rounding: Rounding::Up,
            weights: Some(&weights),
            ..d()
        },
        Options {
            rule: Rule::EqualLoss,
            rounding: Rounding::Down,
            ..d()
        },
        Options {
            rule: Rule::EqualAward,
            rounding: Rounding::Up,
            ..d()
        },
    ] {
        let e = err(allocate(&claims, 5, &opts));
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(
            matches!(e, Error::UnsupportedOption { .. }),
            "{opts:?}: {e:?}"
        );
        let mut out = [0; 3];
        let e = err(allocate_many(&claims, &[0, 3], &[5], &opts, &mut out));
        assert!(
            matches!(e, Error::UnsupportedOption { .. }),
            "{opts:?}: {e:?}"
        );
    }

    for (num, den) in [(1u128, 0u128), (0, 0), (3, 2), (u128::MAX, u128::MAX - 1)] {
        let e = err(Rate::new(num, den));
        assert_eq!(
            (e.kind(), e),
            (ErrorKind::InvalidInput, Error::InvalidRate { num, den })
        );
    }
    assert!(Rate::new(0, 1).is_ok() && Rate::new(u128::MAX, u128::MAX).is_ok());

    // allocate_into: wrong output length, and `out` untouched on error.
    let mut out = [9i64; 2];
    let e = err(allocate_into(&claims, 5, &d(), &mut out));
    assert!(
        matches!(e, Error::LengthMismatch { what: "out", .. }),
        "{e:?}"
    );
    let mut out = [9i64; 3];
    err(allocate_into(&claims, -5, &d(), &mut out));
    err(allocate_into(
        &claims,
        5,
        &Options {
            ids: Some(&[1, 1, 2]),
            ..d()
        },
        &mut out,
    ));
    assert_eq!(out, [9, 9, 9]);
}

#[test]
fn errors_batch() {
    let claims = [10i64, 20, 30, 40];
    let mut out = [0i64; 4];
    let d = Options::default;
    for (offsets, losses) in [
        (&[0i64, 4][..], &[1i64, 2][..]),    // one offset short
        (&[0, 2, 4, 4][..], &[1, 2][..]),    // one offset too many
        (&[1, 4][..], &[1][..]),             // not starting at 0
        (&[0, 3][..], &[1][..]),             // not ending at n
        (&[0, 5][..], &[1][..]),             // past n
        (&[0, 3, 2, 4][..], &[1, 1, 1][..]), // decreasing
        (&[0, -1, 4][..], &[1, 1][..]),      // negative
        (&[][..], &[][..]),                  // empty offsets
    ] {
        let e = err(allocate_many(&claims, offsets, losses, &d(), &mut out));
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(matches!(e, Error::InvalidOffsets(_)), "{offsets:?}: {e:?}");
    }
    let e = err(allocate_many(&claims, &[0, 2, 4], &[1, -1], &d(), &mut out));
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = err(allocate_many(&claims, &[0, 4], &[1], &d(), &mut out[..3]));
    assert!(matches!(e, Error::LengthMismatch { .. }), "{e:?}");
    let e = err(allocate_many(
        &claims,
        &[0, 4],
        &[1],
        &Options {
            caps: Some(&[1, 2]),
            ..d()
        },
        &mut out,
    ));
    assert!(matches!(e, Error::LengthMismatch { .. }), "{e:?}");
    let e = err(allocate_many(
        &claims,
        &[0, 4],
        &[1],
        &Options {
            weights: Some(&[1, 2, -3, 4]),
            ..d()
        },
        &mut out,
    ));
    assert!(matches!(e, Error::Negative { .. }), "{e:?}");

    // Duplicate ids within an event are an error; across events they are not.
    let ids = [1i64, 2, 1, 2];
    let e = err(allocate_many(
        &claims,
        &[0, 4],
        &[5],
        &Options {
            ids: Some(&ids),
            ..d()
        },
        &mut out,
    ));
    assert_eq!(
        (e.kind(), e),
        (ErrorKind::InvalidInput, Error::DuplicateId(1))
    );
    let e = err(allocate_many(
        &claims,
        &[0, 1, 4],
        &[5, 5],
        &Options {
            ids: Some(&ids),
            ..d()
        },
        &mut out,
    ));
    assert!(matches!(e, Error::DuplicateId(_)), "{e:?}");
    allocate_many(
        &claims,
        &[0, 2, 4],
        &[5, 5],
        &Options {
            ids: Some(&ids),
            ..d()
        },
        &mut out,
    )
    .unwrap();
    allocate_many(
        &claims,
        &[0, 0, 2, 2, 4],
        &[5, 0, 7, 1],
        &Options {
            ids: Some(&ids),
            ..d()
        },
        &mut out,
    )
    .unwrap();

    // No events at all.
    let batch = allocate_many(&[], &[0], &[], &d(), &mut []).unwrap();
    assert!(batch.totals.is_empty());
}

/// Rounding up can collect more than any i64 holds; the batch reports it as Overflow.
#[test]
fn batch_total_past_i64_is_overflow() {
    let claims = [i64::MAX; 3];
    let opts = Options {
        rounding: Rounding::Up,
        ..Options::default()
    };
    let (h, s) = allocate(&claims, i64::MAX, &opts).unwrap();
    assert_eq!(h, vec![i64::MAX / 3 + 1; 3]);
    assert_eq!((s.total, s.surplus), ((1u128 << 63) + 1, 2));
    let mut out = [0; 3];
    let e = err(allocate_many(
        &claims,
        &[0, 3],
        &[i64::MAX],
        &opts,
        &mut out,
    ));
    assert_eq!(e.kind(), ErrorKind::Overflow);
}

/// Whether the spec forbids this combination of options.
fn combination_invalid(o: &Options<'_>) -> bool {
    let ceil = o.caps.is_some() || o.max_rate.is_some() || o.weights.is_some();
    (o.rule != Rule::ProRata && o.rounding != Rounding::Exact)
        || (o.rule == Rule::EqualAward && ceil)
        || (o.rule != Rule::ProRata && o.weights.is_some())
        || (ceil && o.rounding != Rounding::Exact)
}

fn columns_invalid(n: usize, o: &Options<'_>) -> bool {
    [o.ids, o.caps, o.weights]
        .iter()
        .any(|c| c.is_some_and(|c| c.len() != n))
        || [o.caps, o.weights]
            .iter()
            .any(|c| c.is_some_and(|c| c.iter().any(|&v| v < 0)))
}

fn has_duplicates(ids: &[i64]) -> bool {
    let mut v = ids.to_vec();
    v.sort_unstable();
    v.windows(2).any(|w| w[0] == w[1])
}

#[derive(Debug, Clone)]
struct Fuzz {
    claims: Vec<i64>,
    ids: Option<Vec<i64>>,
    caps: Option<Vec<i64>>,
    weights: Option<Vec<i64>>,
    rate: Option<(u128, u128)>,
    rule: Rule,
    rounding: Rounding,
}

fn fuzz() -> impl Strategy<Value = Fuzz> {
    let column = |lo: i64, hi: i64| prop::option::of(prop::collection::vec(lo..=hi, 0..8));
    (
        prop::collection::vec(claim(), 0..7),
        column(-3, 3),
        column(-1, 40),
        column(-1, 4),
        prop::option::of(rate()),
        prop_oneof![
            Just(Rule::ProRata),
            Just(Rule::EqualLoss),
            Just(Rule::EqualAward)
        ],
        prop_oneof![
            Just(Rounding::Exact),
            Just(Rounding::Down),
            Just(Rounding::Up)
        ],
    )
        .prop_map(|(claims, ids, caps, weights, rate, rule, rounding)| Fuzz {
            claims,
            ids,
            caps,
            weights,
            rate,
            rule,
            rounding,
        })
}

impl Fuzz {
    fn options(&self) -> Options<'_> {
        Options {
            rule: self.rule,
            rounding: self.rounding,
            ids: self.ids.as_deref(),
            caps: self.caps.as_deref(),
            max_rate: self.rate.map(|(n, d)| Rate::new(n, d).unwrap()),
            weights: self.weights.as_deref(),
        }
    }
}

proptest! {
    #![proptest_config(cases(6_000))]

    /// Random (often invalid) inputs: Err of kind InvalidInput exactly when the spec
    /// forbids them, and a valid result otherwise.
    #[test]
    fn invalid_inputs_are_errors_never_panics(f in fuzz(), loss in -3i64..=60) {
        let opts = f.options();
        let n = f.claims.len();
        let invalid = combination_invalid(&opts)
            || loss < 0
            || columns_invalid(n, &opts)
            || f.ids.as_deref().is_some_and(has_duplicates);
        match allocate(&f.claims, loss, &opts) {
            Err(e) => {
                prop_assert!(invalid, "unexpected error {:?}", e);
                prop_assert_eq!(e.kind(), ErrorKind::InvalidInput);
            }
            Ok((h, s)) => {
                prop_assert!(!invalid, "accepted invalid input");
                prop_assert_eq!(s.total, sum(&h));
                let mut out = vec![-1; n];
                let s2 = allocate_into(&f.claims, loss, &opts, &mut out).unwrap();
                prop_assert_eq!((&out, s2), (&h, s));
                prop_assert!(h.iter().zip(&f.claims).all(|(&h, &c)| 0 <= h && h <= c.max(0)));
            }
        }
    }

    /// Random batches with random offsets and losses.
    #[test]
    fn invalid_batches_are_errors_never_panics(
        f in fuzz(),
        offsets in prop::collection::vec(-1i64..=8, 0..6),
        losses in prop::collection::vec(-1i64..=60, 0..5),
        out_len in prop_oneof![Just(None), (0usize..8).prop_map(Some)],
    ) {
        let opts = f.options();
        let n = f.claims.len();
        let mut out = vec![0; out_len.unwrap_or(n)];
        let offsets_ok = offsets.len() == losses.len() + 1
            && offsets[0] == 0
            && *offsets.last().unwrap() == n as i64
            && offsets.windows(2).all(|w| w[0] <= w[1]);
        let mut invalid = combination_invalid(&opts)
            || columns_invalid(n, &opts)
            || !offsets_ok
            || losses.iter().any(|&l| l < 0)
            || out.len() != n;
        if !invalid {
            if let Some(ids) = &f.ids {
                invalid = offsets
                    .windows(2)
                    .any(|w| has_duplicates(&ids[w[0] as usize..w[1] as usize]));
            }
        }
        match allocate_many(&f.claims, &offsets, &losses, &opts, &mut out) {
            Err(e) => {
                prop_assert!(invalid, "unexpected error {:?}", e);
                prop_assert_eq!(e.kind(), ErrorKind::InvalidInput);
            }
            Ok(_) => {
                prop_assert!(!invalid, "accepted invalid batch");
                check_batch(&f.claims, &offsets, &losses, &opts)?;
            }
        }
    }
}
