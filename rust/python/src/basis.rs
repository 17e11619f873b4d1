//! Binding of allocation on a basis (`shares`, `unit`, `offset`): borrow the numpy
//! inputs, run the kernel with the GIL released, write the haircuts into `out`.

use crate::errors::{not_contiguous, to_py};
use mutualize_core::allocate::{allocate_on_basis_into, Basis};
use mutualize_core::{Options, Rate, Rounding, Rule};
use numpy::{PyReadonlyArray1, PyReadwriteArray1};
use pyo3::prelude::*;

type Column<'py> = Option<PyReadonlyArray1<'py, i64>>;

fn column<'a>(py: Python<'_>, a: &'a Column<'_>, what: &str) -> PyResult<Option<&'a [i64]>> {
    a.as_ref()
        .map(|a| a.as_slice().map_err(|_| not_contiguous(py, what)))
        .transpose()
}

/// Writes the haircuts into `out` and returns `(total, target, dust, surplus, base)`;
/// see `mutualize.allocate` (`shares`, `unit`, `offset`). `out` is untouched on error.
#[pyfunction]
#[pyo3(signature = (
    claims, loss, rule, rounding, ids, caps, max_rate, weights, shares, unit, offset, out
))]
#[allow(clippy::too_many_arguments)]
pub fn allocate_on_basis<'py>(
    py: Python<'py>,
    claims: PyReadonlyArray1<'py, i64>,
    loss: i64,
    rule: &str,
    rounding: &str,
    ids: Column<'py>,
    caps: Column<'py>,
    max_rate: Option<(u128, u128)>,
    weights: Column<'py>,
    shares: Column<'py>,
    unit: Option<i64>,
    offset: Column<'py>,
    mut out: PyReadwriteArray1<'py, i64>,
) -> PyResult<(u128, u128, u128, u128, u128)> {
    let claims_slice = claims
        .as_slice()
        .map_err(|_| not_contiguous(py, "claims"))?;
    let opts = Options {
        rule: rule.parse::<Rule>().map_err(|e| to_py(py, e))?,
        rounding: rounding.parse::<Rounding>().map_err(|e| to_py(py, e))?,
        ids: column(py, &ids, "ids")?,
        caps: column(py, &caps, "caps")?,
        max_rate: max_rate
            .map(|(num, den)| Rate::new(num, den))
            .transpose()
            .map_err(|e| to_py(py, e))?,
        weights: column(py, &weights, "weights")?,
    };
    let basis = Basis {
        shares: column(py, &shares, "shares")?,
        unit,
        offset: column(py, &offset, "offset")?,
    };
    let haircuts = out.as_slice_mut().map_err(|_| not_contiguous(py, "out"))?;
    let summary = py
        .detach(|| allocate_on_basis_into(claims_slice, loss, &opts, &basis, haircuts))
        .map_err(|e| to_py(py, e))?;
    Ok((
        summary.total,
        summary.target,
        summary.dust,
        summary.surplus,
        summary.base,
    ))
}
