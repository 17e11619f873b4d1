//! The one place where core errors become Python exceptions. The classes live in
//! `mutualize.errors` (Python), so they pickle across worker processes.

use mutualize_core::{Error, ErrorKind};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyType;

fn class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyType>> {
    Ok(py
        .import("mutualize.errors")?
        .getattr(name)?
        .cast_into::<PyType>()?)
}

/// Raises `mutualize.errors.<name>(message)`.
pub fn raise(py: Python<'_>, name: &str, message: String) -> PyErr {
    match class(py, name) {
        Ok(cls) => PyErr::from_type(cls, message),
        // mutualize.errors missing means a broken install; still say what was wrong.
        Err(_) => PyValueError::new_err(message),
    }
}

/// Converts a core error into the exception class of its kind.
pub fn to_py(py: Python<'_>, err: Error) -> PyErr {
    let name = match err.kind() {
        ErrorKind::InvalidInput => "InvalidInputError",
        ErrorKind::Overflow => "AmountOverflowError",
        ErrorKind::InsufficientMargin => "InsufficientMarginError",
        ErrorKind::NotLiquidatable => "NotLiquidatableError",
        ErrorKind::Invariant => "InvariantError",
        ErrorKind::Corrupt => "CorruptSnapshotError",
    };
    raise(py, name, err.to_string())
}

/// A numpy array that cannot be read as one contiguous slice.
pub fn not_contiguous(py: Python<'_>, what: &str) -> PyErr {
    raise(
        py,
        "InvalidInputError",
        format!("{what} must be a C-contiguous 1-D int64 array"),
    )
}

/// `map_err` helper: `result.map_err(core(py))`.
pub fn core(py: Python<'_>) -> impl Fn(Error) -> PyErr + '_ {
    move |e| to_py(py, e)
}
