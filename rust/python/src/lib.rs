//! `mutualize._core`: the compiled half of mutualize. It only converts types and errors
//! and releases the GIL; all the mechanism lives in `mutualize-core`.

mod allocate;
mod basis;
mod errors;
mod event;
mod ledger;
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
        m.add("__version__", env!("CARGO_PKG_VERSION"))
    }
}
