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

/// Converts a core error into `InvalidInputError` (a `ValueError`) or
/// `AmountOverflowError` (an `OverflowError`).
pub fn to_py(py: Python<'_>, err: Error) -> PyErr {
    let name = match err.kind() {
        ErrorKind::InvalidInput => "InvalidInputError",
        ErrorKind::Overflow => "AmountOverflowError",
    };
    match class(py, name) {
        Ok(cls) => PyErr::from_type(cls, err.to_string()),
        // mutualize.errors missing means a broken install; still say what was wrong.
        Err(_) => PyValueError::new_err(err.to_string()),
    }
}

/// A numpy array that cannot be read as one contiguous slice.
pub fn not_contiguous(py: Python<'_>, what: &str) -> PyErr {
    let msg = format!("{what} must be a C-contiguous 1-D int64 array");
    match class(py, "InvalidInputError") {
        Ok(cls) => PyErr::from_type(cls, msg),
        Err(_) => PyValueError::new_err(msg),
    }
}
