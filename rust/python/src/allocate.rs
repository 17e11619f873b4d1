//! Bindings of the allocation kernel: borrow the numpy inputs, let numpy allocate the
//! output, and run the kernel with the GIL released.

use crate::errors::{not_contiguous, to_py};
use mutualize_core::{Options, Rate, Rounding, Rule};
use numpy::{PyArray1, PyReadonlyArray1, PyReadwriteArray1};
use pyo3::prelude::*;

type Column<'py> = Option<PyReadonlyArray1<'py, i64>>;

fn slice<'a>(py: Python<'_>, a: &'a PyReadonlyArray1<'_, i64>, what: &str) -> PyResult<&'a [i64]> {
    a.as_slice().map_err(|_| not_contiguous(py, what))
}

fn column<'a>(py: Python<'_>, a: &'a Column<'_>, what: &str) -> PyResult<Option<&'a [i64]>> {
    a.as_ref().map(|a| slice(py, a, what)).transpose()
}

fn options<'a>(
    py: Python<'_>,
    rule: &str,
    rounding: &str,
    ids: Option<&'a [i64]>,
    caps: Option<&'a [i64]>,
    max_rate: Option<(u128, u128)>,
    weights: Option<&'a [i64]>,
) -> PyResult<Options<'a>> {
    let rule: Rule = rule.parse().map_err(|e| to_py(py, e))?;
    let rounding: Rounding = rounding.parse().map_err(|e| to_py(py, e))?;
    let max_rate = max_rate
        .map(|(num, den)| Rate::new(num, den))
        .transpose()
        .map_err(|e| to_py(py, e))?;
    Ok(Options {
        rule,
        rounding,
        ids,
        caps,
        max_rate,
        weights,
    })
}

/// Writes the haircuts into `out` and returns `(total, target, dust, surplus, base)`;
/// see `mutualize.allocate`. `out` is left untouched on error.
#[pyfunction]
#[pyo3(signature = (claims, loss, rule, rounding, ids, caps, max_rate, weights, out))]
#[allow(clippy::too_many_arguments)]
pub fn allocate<'py>(
    py: Python<'py>,
    claims: PyReadonlyArray1<'py, i64>,
    loss: i64,
    rule: &str,
    rounding: &str,
    ids: Column<'py>,
    caps: Column<'py>,
    max_rate: Option<(u128, u128)>,
    weights: Column<'py>,
    mut out: PyReadwriteArray1<'py, i64>,
) -> PyResult<(u128, u128, u128, u128, u128)> {
    let claims_slice = slice(py, &claims, "claims")?;
    let opts = options(
        py,
        rule,
        rounding,
        column(py, &ids, "ids")?,
        column(py, &caps, "caps")?,
        max_rate,
        column(py, &weights, "weights")?,
    )?;
    let haircuts = out.as_slice_mut().map_err(|_| not_contiguous(py, "out"))?;
    let summary = py
        .detach(|| mutualize_core::allocate_into(claims_slice, loss, &opts, haircuts))
        .map_err(|e| to_py(py, e))?;
    Ok((
        summary.total,
        summary.target,
        summary.dust,
        summary.surplus,
        summary.base,
    ))
}

type Batch<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
);

/// Writes the haircuts into `out` and returns `(totals, targets, uncovered, dust, surplus)`;
/// see `mutualize.allocate_many`.
#[pyfunction]
#[pyo3(signature = (claims, offsets, losses, rule, rounding, ids, caps, max_rate, weights, out))]
#[allow(clippy::too_many_arguments)]
pub fn allocate_many<'py>(
    py: Python<'py>,
    claims: PyReadonlyArray1<'py, i64>,
    offsets: PyReadonlyArray1<'py, i64>,
    losses: PyReadonlyArray1<'py, i64>,
    rule: &str,
    rounding: &str,
    ids: Column<'py>,
    caps: Column<'py>,
    max_rate: Option<(u128, u128)>,
    weights: Column<'py>,
    mut out: PyReadwriteArray1<'py, i64>,
) -> PyResult<Batch<'py>> {
    let claims_slice = slice(py, &claims, "claims")?;
    let offsets = slice(py, &offsets, "offsets")?;
    let losses = slice(py, &losses, "losses")?;
    let opts = options(
        py,
        rule,
        rounding,
        column(py, &ids, "ids")?,
        column(py, &caps, "caps")?,
        max_rate,
        column(py, &weights, "weights")?,
    )?;
    let haircuts = out.as_slice_mut().map_err(|_| not_contiguous(py, "out"))?;
    let batch = py
        .detach(|| mutualize_core::allocate_many(claims_slice, offsets, losses, &opts, haircuts))
        .map_err(|e| to_py(py, e))?;
    Ok((
        PyArray1::from_vec(py, batch.totals),
        PyArray1::from_vec(py, batch.targets),
        PyArray1::from_vec(py, batch.uncovered),
        PyArray1::from_vec(py, batch.dust),
        PyArray1::from_vec(py, batch.surplus),
    ))
}
