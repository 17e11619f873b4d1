//! Journal events as Python objects: a light wrapper (creating a dict per fill would
//! cost more than the fill) that reads its plain form on demand, field by field, from
//! the core's `Event::fields` (the names are declared in python/mutualize/events.py).

use crate::errors::{Kind, Raised};
use crate::shared::SharedLedger;
use crate::waterfall::to_plain;
use mutualize_core::ledger::Value;
use mutualize_core::Event;
use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use pyo3::IntoPyObjectExt;
use std::sync::Arc;

/// One ledger event. `event.op` names the operation; `event.to_dict()` (or
/// `dict(event)`) gives the plain form of docs/ledger.md; `event["key"]` reads one key.
#[pyclass(frozen, module = "mutualize._core", name = "Event")]
pub struct PyEvent {
    inner: Source,
}

/// Small events are copied out of the journal; large ones (a socialization lists a
/// haircut per account) stay in it and are copied out only when read.
enum Source {
    Owned(Event),
    Journal {
        ledger: Arc<SharedLedger>,
        index: usize,
    },
}

impl PyEvent {
    pub fn owned(event: Event) -> Self {
        PyEvent {
            inner: Source::Owned(event),
        }
    }

    pub fn in_journal(ledger: Arc<SharedLedger>, index: usize) -> Self {
        PyEvent {
            inner: Source::Journal { ledger, index },
        }
    }

    /// Calls `f` on the event: a journal entry is read under the ledger's lock into plain
    /// Rust data, and turned into Python objects only after the lock is released
    /// (building them may run a finalizer that calls the ledger).
    fn with<T>(&self, py: Python<'_>, f: impl FnOnce(&Event) -> PyResult<T>) -> PyResult<T> {
        match &self.inner {
            Source::Owned(e) => f(e),
            Source::Journal { ledger, index } => {
                let event = journal_entry(py, ledger, *index, |e| Ok(e.clone()))?;
                f(&event)
            }
        }
    }
}

fn journal_entry<T: Send>(
    py: Python<'_>,
    ledger: &SharedLedger,
    index: usize,
    read: impl FnOnce(&Event) -> Result<T, Raised> + Send,
) -> Result<T, Raised> {
    ledger.run(py, |l| match l.journal().get(index) {
        Some(e) => read(e),
        None => Err(Raised::new(
            Kind::Invariant,
            format!("journal entry {index} is gone"),
        )),
    })
}

/// A plain-form value as a Python object.
fn to_py<'py>(py: Python<'py>, value: &Value<'_>) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::None => py.None().into_bound(py),
        Value::Bool(b) => b.into_bound_py_any(py)?,
        Value::Int(v) => v.into_bound_py_any(py)?,
        Value::Text(t) => t.into_bound_py_any(py)?,
        Value::Ints(v) => PyList::new(py, v.iter())?.into_any(),
        Value::Ids(v) => PyList::new(py, v.iter())?.into_any(),
        Value::Pairs(pairs) => {
            let list = PyList::empty(py);
            for &(a, amount) in pairs.iter() {
                list.append(PyList::new(
                    py,
                    [a.into_bound_py_any(py)?, amount.into_bound_py_any(py)?],
                )?)?;
            }
            list.into_any()
        }
        Value::List(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Waterfall(w) => to_plain(py, w)?.into_any(),
    })
}

/// The plain form of an event: `{"op": ..., **fields}`.
pub fn to_dict<'py>(py: Python<'py>, event: &Event) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("op", event.op())?;
    for (name, value) in event.fields() {
        d.set_item(name, to_py(py, &value)?)?;
    }
    Ok(d)
}

#[pymethods]
impl PyEvent {
    /// The operation's name.
    #[getter]
    fn op(&self, py: Python<'_>) -> PyResult<&'static str> {
        match &self.inner {
            Source::Owned(e) => Ok(e.op()),
            Source::Journal { ledger, index } => {
                Ok(journal_entry(py, ledger, *index, |e| Ok(e.op()))?)
            }
        }
    }

    /// The plain form: a dict of the operation's arguments and effects (ints, lists).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.with(py, |e| to_dict(py, e))
    }

    fn keys<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let names = self.with(py, |e| {
            let d = PyDict::new(py);
            d.set_item("op", py.None())?;
            for (name, _) in e.fields() {
                d.set_item(name, py.None())?;
            }
            Ok(d)
        })?;
        names.call_method0("keys")
    }

    /// One key of the plain form (only that value is built).
    fn __getitem__<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        self.with(py, |e| {
            if key == "op" {
                return e.op().into_bound_py_any(py);
            }
            match e.fields().iter().find(|(name, _)| *name == key) {
                Some((_, value)) => to_py(py, value),
                None => Err(PyKeyError::new_err(key.to_owned())),
            }
        })
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.to_dict(py)?
            .as_any()
            .eq(match other.cast::<PyEvent>() {
                Ok(e) => e.get().to_dict(py)?.into_any(),
                Err(_) => other.clone(),
            })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("Event({})", self.to_dict(py)?.repr()?))
    }
}
