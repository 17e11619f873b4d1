//! Many independent allocations in one call (a backtest's events), laid out as CSR:
//! event `e` covers `claims[offsets[e]..offsets[e+1]]` and has loss `losses[e]`.
//! Events run in parallel; each event's result is the same as a lone `allocate`.

use super::{allocate_validated, check_combinations, check_unique, validate_columns, Options};
use crate::error::{Error, Result};
use rayon::prelude::*;

/// Per-event figures of a batch, in minor units, each with one entry per event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchSummary {
    pub totals: Vec<i64>,
    pub targets: Vec<i64>,
    pub uncovered: Vec<i64>,
    pub dust: Vec<i64>,
    pub surplus: Vec<i64>,
}

/// Validates the whole batch first, then allocates every event into `out`.
pub fn allocate_many(
    claims: &[i64],
    offsets: &[i64],
    losses: &[i64],
    opts: &Options<'_>,
    out: &mut [i64],
) -> Result<BatchSummary> {
    check_combinations(opts)?;
    validate_columns(claims.len(), opts)?;
    let ranges = event_ranges(offsets, losses.len(), claims.len())?;
    if let Some(index) = losses.iter().position(|&l| l < 0) {
        return Err(Error::Negative {
            what: "losses",
            index,
            value: losses[index],
        });
    }
    if out.len() != claims.len() {
        return Err(Error::LengthMismatch {
            what: "out",
            expected: claims.len(),
            got: out.len(),
        });
    }
    if let Some(ids) = opts.ids {
        ranges
            .par_iter()
            .map(|r| check_unique(&ids[r.clone()]))
            .collect::<Result<Vec<()>>>()?;
    }

    let mut slices: Vec<&mut [i64]> = Vec::with_capacity(ranges.len());
    let mut rest = out;
    for r in &ranges {
        let (head, tail) = rest.split_at_mut(r.len());
        slices.push(head);
        rest = tail;
    }
    let summaries: Vec<_> = slices
        .into_par_iter()
        .zip(ranges.par_iter())
        .zip(losses.par_iter())
        .with_min_len(16)
        .map(|((out, r), &loss)| {
            let event = opts.slice(r.clone());
            allocate_validated(&claims[r.clone()], loss as u64, &event, out, false)
        })
        .collect();

    let mut batch = BatchSummary::default();
    for (s, &loss) in summaries.iter().zip(losses) {
        let fit = |v: u128, what| i64::try_from(v).map_err(|_| Error::Overflow(what));
        batch.totals.push(fit(s.total, "an event's total haircut")?);
        batch.targets.push(fit(s.target, "an event's target")?);
        batch
            .uncovered
            .push(fit(s.uncovered(loss), "an event's uncovered loss")?);
        batch.dust.push(fit(s.dust, "an event's dust")?);
        batch.surplus.push(fit(s.surplus, "an event's surplus")?);
    }
    Ok(batch)
}

fn event_ranges(offsets: &[i64], events: usize, n: usize) -> Result<Vec<std::ops::Range<usize>>> {
    let bad = |msg: String| Err(Error::InvalidOffsets(msg));
    if offsets.len() != events + 1 {
        return bad(format!(
            "expected {} entries (one more than losses), got {}",
            events + 1,
            offsets.len()
        ));
    }
    if offsets[0] != 0 {
        return bad(format!("must start at 0, got {}", offsets[0]));
    }
    if offsets[events] != n as i64 {
        return bad(format!(
            "must end at len(claims) = {n}, got {}",
            offsets[events]
        ));
    }
    let mut ranges = Vec::with_capacity(events);
    for (e, w) in offsets.windows(2).enumerate() {
        if w[1] < w[0] {
            return bad(format!(
                "must be non-decreasing, but offsets[{}] = {} > offsets[{}] = {}",
                e,
                w[0],
                e + 1,
                w[1]
            ));
        }
        ranges.push(w[0] as usize..w[1] as usize);
    }
    Ok(ranges)
}
