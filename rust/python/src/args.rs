//! Arguments other than amounts: ids, counts, flags and int64 columns, converted to the
//! core's types or refused with the error the reference raises for them.

use crate::amount::amount;
use crate::errors::Raised;
use mutualize_core::AdlPrice;
use numpy::PyReadonlyArray1;
use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyString};

/// An account or market id: any int (not a bool). One that is no existing id (negative,
/// or too large for any ledger) becomes `usize::MAX`, which the core reports as unknown,
/// as the reference does.
pub fn id(value: &Bound<'_, PyAny>, what: &str) -> Result<usize, Raised> {
    if value.is_instance_of::<PyBool>() {
        return Err(Raised::invalid(format!(
            "{what} must be an id (an int), got a bool"
        )));
    }
    match value.extract::<i64>() {
        Ok(v) => Ok(usize::try_from(v).unwrap_or(usize::MAX)),
        Err(e) if e.is_instance_of::<PyOverflowError>(value.py()) => Ok(usize::MAX),
        Err(_) => Err(Raised::invalid(format!(
            "{what} must be an id (an int), got {value}"
        ))),
    }
}

/// Ids from an int64 column: a negative one is as unknown as a too-large one.
pub fn ids(values: &[i64]) -> Result<Vec<usize>, Raised> {
    let mut out = Vec::new();
    out.try_reserve(values.len())
        .map_err(|_| Raised::from(oom("ids", values.len())))?;
    out.extend(
        values
            .iter()
            .map(|&v| usize::try_from(v).unwrap_or(usize::MAX)),
    );
    Ok(out)
}

fn oom(what: &'static str, count: usize) -> mutualize_core::Error {
    mutualize_core::Error::OutOfMemory {
        what,
        count,
        bytes: count.saturating_mul(8),
    }
}

/// A count of things to create: an int `>= 0`.
pub fn count(value: &Bound<'_, PyAny>, what: &str) -> Result<usize, Raised> {
    if value.is_instance_of::<PyBool>() {
        return Err(Raised::invalid(format!(
            "{what} must be an int, got a bool"
        )));
    }
    match value.extract::<i128>() {
        Ok(v) if v < 0 => Err(Raised::invalid(format!("{what} must be >= 0, got {v}"))),
        Ok(v) => {
            usize::try_from(v).map_err(|_| Raised::invalid(format!("{what} = {v} is too large")))
        }
        Err(e) if e.is_instance_of::<PyOverflowError>(value.py()) => {
            Err(Raised::invalid(format!("{what} = {value} is too large")))
        }
        Err(_) => Err(Raised::invalid(format!(
            "{what} must be an int, got {value}"
        ))),
    }
}

/// A bool flag (a bool, nothing else).
pub fn flag(value: &Bound<'_, PyAny>, what: &str) -> Result<bool, Raised> {
    value
        .cast::<PyBool>()
        .map(|b| b.is_true())
        .map_err(|_| Raised::invalid(format!("{what} must be a bool, got {value}")))
}

/// The contiguous data of an int64 column.
pub fn column<'a>(array: &'a PyReadonlyArray1<'_, i64>, what: &str) -> Result<&'a [i64], Raised> {
    array
        .as_slice()
        .map_err(|_| Raised::invalid(format!("{what} must be a C-contiguous 1-D int64 array")))
}

/// The `price` of `deleverage`: `"bankruptcy"`, `"mark"` or ticks.
pub fn adl_price(value: Option<&Bound<'_, PyAny>>) -> Result<AdlPrice, Raised> {
    let Some(p) = value else {
        return Ok(AdlPrice::Bankruptcy);
    };
    if let Ok(s) = p.cast::<PyString>() {
        return match s.to_cow().as_deref() {
            Ok("bankruptcy") => Ok(AdlPrice::Bankruptcy),
            Ok("mark") => Ok(AdlPrice::Mark),
            _ => Err(Raised::invalid(format!(
                "price must be 'bankruptcy', 'mark' or ticks, got {}",
                p.repr().map_or_else(|_| "?".to_owned(), |r| r.to_string())
            ))),
        };
    }
    Ok(AdlPrice::Ticks(amount(p, "price")?))
}
