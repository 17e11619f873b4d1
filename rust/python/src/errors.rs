//! The one place where errors become Python exceptions.
//!
//! Every failure of the binding is a [`Raised`]: a [`Kind`] and a message. Core errors
//! convert by their `ErrorKind`; the binding's own (an argument of the wrong type, an
//! amount that is not a whole number) name their kind directly. [`Kind`] maps to the
//! exception classes of `mutualize.errors`, defined once in Python (so they pickle across
//! processes) and taken once, when the extension is imported: no class is looked up by
//! name when an error is raised, and nothing here calls back into Python code.

use mutualize_core::{Error, ErrorKind};
use pyo3::exceptions::{PyMemoryError, PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// What went wrong, by the exception class it raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `InvalidInputError` (a `ValueError`).
    InvalidInput,
    /// `AmountTypeError` (a `TypeError`): an amount of a type with no exact conversion.
    AmountType,
    /// `AmountOverflowError` (an `OverflowError`).
    AmountOverflow,
    /// `InsufficientMarginError`.
    InsufficientMargin,
    /// `NotLiquidatableError`.
    NotLiquidatable,
    /// `InvariantError` (an `AssertionError`).
    Invariant,
    /// `CorruptSnapshotError`.
    CorruptSnapshot,
    /// `OutOfMemoryError` (a `MemoryError`).
    OutOfMemory,
}

/// An error on its way to Python: a kind and its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raised {
    pub kind: Kind,
    pub message: String,
}

impl Raised {
    pub fn new(kind: Kind, message: impl Into<String>) -> Raised {
        Raised {
            kind,
            message: message.into(),
        }
    }

    /// An `InvalidInputError`.
    pub fn invalid(message: impl Into<String>) -> Raised {
        Raised::new(Kind::InvalidInput, message)
    }

    /// The exception, created now.
    pub fn to_pyerr(&self, py: Python<'_>) -> PyErr {
        match classes(py) {
            Some(c) => PyErr::from_type(c.of(self.kind).bind(py).clone(), self.message.clone()),
            // Only reachable if `init` did not run: the built-in base classes still say it.
            None => builtin(self.kind, self.message.clone()),
        }
    }
}

impl From<Error> for Raised {
    fn from(err: Error) -> Raised {
        let kind = match err.kind() {
            ErrorKind::InvalidInput => Kind::InvalidInput,
            ErrorKind::Overflow => Kind::AmountOverflow,
            ErrorKind::InsufficientMargin => Kind::InsufficientMargin,
            ErrorKind::NotLiquidatable => Kind::NotLiquidatable,
            ErrorKind::Invariant => Kind::Invariant,
            ErrorKind::Corrupt => Kind::CorruptSnapshot,
            ErrorKind::OutOfMemory => Kind::OutOfMemory,
        };
        Raised::new(kind, err.to_string())
    }
}

impl From<Raised> for PyErr {
    fn from(raised: Raised) -> PyErr {
        Python::attach(|py| raised.to_pyerr(py))
    }
}

/// The exception class of each kind.
struct Classes {
    invalid_input: Py<PyType>,
    amount_type: Py<PyType>,
    amount_overflow: Py<PyType>,
    insufficient_margin: Py<PyType>,
    not_liquidatable: Py<PyType>,
    invariant: Py<PyType>,
    corrupt_snapshot: Py<PyType>,
    out_of_memory: Py<PyType>,
}

impl Classes {
    fn of(&self, kind: Kind) -> &Py<PyType> {
        match kind {
            Kind::InvalidInput => &self.invalid_input,
            Kind::AmountType => &self.amount_type,
            Kind::AmountOverflow => &self.amount_overflow,
            Kind::InsufficientMargin => &self.insufficient_margin,
            Kind::NotLiquidatable => &self.not_liquidatable,
            Kind::Invariant => &self.invariant,
            Kind::CorruptSnapshot => &self.corrupt_snapshot,
            Kind::OutOfMemory => &self.out_of_memory,
        }
    }
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

fn classes(py: Python<'_>) -> Option<&Classes> {
    CLASSES.get(py)
}

/// Takes the classes from `mutualize.errors` (at the extension's import): a missing or
/// misplaced class is an `ImportError` of the extension, not a surprise at raise time.
pub fn init(py: Python<'_>) -> PyResult<()> {
    let module = py.import("mutualize.errors")?;
    let take = |name: &str, base: Bound<'_, PyType>| -> PyResult<Py<PyType>> {
        let class = module.getattr(name)?.cast_into::<PyType>()?;
        if !class.is_subclass(&base)? {
            return Err(pyo3::exceptions::PyImportError::new_err(format!(
                "mutualize.errors.{name} must derive from {}",
                base.name()?
            )));
        }
        Ok(class.unbind())
    };
    let value = || py.get_type::<PyValueError>();
    let loaded = Classes {
        invalid_input: take("InvalidInputError", value())?,
        amount_type: take("AmountTypeError", py.get_type::<PyTypeError>())?,
        amount_overflow: take("AmountOverflowError", py.get_type::<PyOverflowError>())?,
        insufficient_margin: take("InsufficientMarginError", value())?,
        not_liquidatable: take("NotLiquidatableError", value())?,
        invariant: take(
            "InvariantError",
            py.get_type::<pyo3::exceptions::PyAssertionError>(),
        )?,
        corrupt_snapshot: take("CorruptSnapshotError", value())?,
        out_of_memory: take("OutOfMemoryError", py.get_type::<PyMemoryError>())?,
    };
    let _ = CLASSES.set(py, loaded);
    Ok(())
}

fn builtin(kind: Kind, message: String) -> PyErr {
    match kind {
        Kind::AmountType => PyTypeError::new_err(message),
        Kind::AmountOverflow => PyOverflowError::new_err(message),
        Kind::Invariant => pyo3::exceptions::PyAssertionError::new_err(message),
        Kind::OutOfMemory => PyMemoryError::new_err(message),
        Kind::InvalidInput
        | Kind::InsufficientMargin
        | Kind::NotLiquidatable
        | Kind::CorruptSnapshot => PyValueError::new_err(message),
    }
}

/// A core error as the exception of its kind.
pub fn to_py(py: Python<'_>, err: Error) -> PyErr {
    Raised::from(err).to_pyerr(py)
}

/// A numpy array that cannot be read as one contiguous slice.
pub fn not_contiguous(py: Python<'_>, what: &str) -> PyErr {
    Raised::invalid(format!("{what} must be a C-contiguous 1-D int64 array")).to_pyerr(py)
}
