//! `mutualize._core`: the compiled half of mutualize. It only converts types and errors
//! and releases the GIL; all the mechanism lives in `mutualize-core`.
//!
//! Modules, each importing only those listed after it (no cycles; `scripts/check_cycles.py`
//! enforces it): `ledger` (the `Ledger` class), `event` (its events), `sim` (the backtest
//! engine), `allocate` and `basis` (the kernel), `waterfall` (its plain form), `shared` (the lock
//! discipline), `args` and `amount` (argument conversion), `errors` (the one mapping to
//! Python exceptions).

mod allocate;
mod amount;
mod args;
mod basis;
mod errors;
mod event;
mod ledger;
mod shared;
mod sim;
mod waterfall;

#[pyo3::pymodule]
mod _core {
    #[pymodule_export]
    use super::allocate::allocate;
    #[pymodule_export]
    use super::allocate::allocate_many;
    #[pymodule_export]
    use super::basis::allocate_on_basis;
    #[pymodule_export]
    use super::event::PyEvent;
    #[pymodule_export]
    use super::ledger::PyLedger;
    #[pymodule_export]
    use super::sim::simulate;

    #[pymodule_init]
    fn init(m: &pyo3::Bound<'_, pyo3::types::PyModule>) -> pyo3::PyResult<()> {
        use pyo3::types::PyModuleMethods;
        super::errors::init(m.py())?;
        m.add("__version__", env!("CARGO_PKG_VERSION"))
    }
}
