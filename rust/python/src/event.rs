//! Journal events as Python objects: a light wrapper (creating a dict per fill would
//! cost more than the fill) that turns into the plain dict form on demand.

use crate::errors::Raised;
use crate::shared::SharedLedger;
use crate::waterfall::to_plain;
use mutualize_core::{AdlPrice, Event};
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

    /// Calls `f` on the event: a journal entry is copied out under the ledger's lock and
    /// read after it is released (building Python objects may run a finalizer that calls
    /// the ledger).
    fn with<T>(&self, py: Python<'_>, f: impl FnOnce(&Event) -> PyResult<T>) -> PyResult<T> {
        match &self.inner {
            Source::Owned(e) => f(e),
            Source::Journal { ledger, index } => {
                let index = *index;
                let event = ledger.run(py, |l| {
                    l.journal().get(index).cloned().ok_or_else(|| {
                        Raised::new(
                            crate::errors::Kind::Invariant,
                            format!("journal entry {index} is gone"),
                        )
                    })
                })?;
                f(&event)
            }
        }
    }
}

fn pairs<'py, A, B>(
    py: Python<'py>,
    items: impl IntoIterator<Item = (A, B)>,
) -> PyResult<Bound<'py, PyList>>
where
    A: IntoPyObject<'py>,
    B: IntoPyObject<'py>,
{
    let list = PyList::empty(py);
    for (a, b) in items {
        list.append(PyList::new(
            py,
            [a.into_bound_py_any(py)?, b.into_bound_py_any(py)?],
        )?)?;
    }
    Ok(list)
}

pub fn to_dict<'py>(py: Python<'py>, event: &Event) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("op", event.op())?;
    match event {
        Event::CreateMarket {
            tick_value,
            mark,
            imr_bps,
            mmr_bps,
            penalty_bps,
            market,
        } => {
            d.set_item("tick_value", tick_value)?;
            d.set_item("mark", mark)?;
            d.set_item("imr_bps", imr_bps)?;
            d.set_item("mmr_bps", mmr_bps)?;
            d.set_item("penalty_bps", penalty_bps)?;
            d.set_item("market", market)?;
        }
        Event::CreateAccount { account } => d.set_item("account", account)?,
        Event::Deposit { account, amount } | Event::Withdraw { account, amount } => {
            d.set_item("account", account)?;
            d.set_item("amount", amount)?;
        }
        Event::FundInsurance { amount, market } => {
            d.set_item("amount", amount)?;
            d.set_item("market", market)?;
        }
        Event::Fill {
            args,
            buyer_realized,
            seller_realized,
        } => {
            d.set_item("buyer", args.buyer)?;
            d.set_item("seller", args.seller)?;
            d.set_item("market", args.market)?;
            d.set_item("price", args.price)?;
            d.set_item("size", args.size)?;
            d.set_item("buyer_fee", args.buyer_fee)?;
            d.set_item("seller_fee", args.seller_fee)?;
            d.set_item("check_margin", args.check_margin)?;
            d.set_item("buyer_realized", buyer_realized)?;
            d.set_item("seller_realized", seller_realized)?;
        }
        Event::FillMany {
            market,
            buyers,
            sellers,
            prices,
            sizes,
        } => {
            d.set_item("market", market)?;
            d.set_item("buyers", PyList::new(py, buyers)?)?;
            d.set_item("sellers", PyList::new(py, sellers)?)?;
            d.set_item("prices", PyList::new(py, prices)?)?;
            d.set_item("sizes", PyList::new(py, sizes)?)?;
        }
        Event::SetMark { market, price } => {
            d.set_item("market", market)?;
            d.set_item("price", price)?;
        }
        Event::SetMarks { marks } => d.set_item("marks", PyList::new(py, marks)?)?,
        Event::ApplyFunding { market, delta } => {
            d.set_item("market", market)?;
            d.set_item("delta", delta)?;
        }
        Event::Liquidate {
            account,
            counterparty,
            prices,
            closes,
            penalty,
            deficit,
            stages,
            haircuts,
            adl,
        } => {
            d.set_item("account", account)?;
            d.set_item("counterparty", counterparty)?;
            match prices {
                Some(p) => d.set_item("prices", pairs(py, p.iter().copied())?)?,
                None => d.set_item("prices", py.None())?,
            }
            let closes_list = PyList::empty(py);
            for c in closes {
                closes_list.append(PyList::new(
                    py,
                    [c.market as i128, c.size as i128, c.price],
                )?)?;
            }
            d.set_item("closes", closes_list)?;
            d.set_item("penalty", penalty)?;
            d.set_item("deficit", deficit)?;
            d.set_item(
                "stages",
                pairs(py, stages.iter().map(|(k, a)| (k.as_str(), *a)))?,
            )?;
            d.set_item("haircuts", pairs(py, haircuts.iter().copied())?)?;
            let adl_list = PyList::empty(py);
            for (m, f) in adl {
                adl_list.append(PyList::new(
                    py,
                    [*m as i128, f.counterparty as i128, f.size as i128, f.price],
                )?)?;
            }
            d.set_item("adl", adl_list)?;
        }
        Event::Deleverage {
            account,
            market,
            counterparties,
            price,
            fills,
        } => {
            d.set_item("account", account)?;
            d.set_item("market", market)?;
            match counterparties {
                Some(c) => d.set_item("counterparties", PyList::new(py, c)?)?,
                None => d.set_item("counterparties", py.None())?,
            }
            match price {
                AdlPrice::Bankruptcy => d.set_item("price", "bankruptcy")?,
                AdlPrice::Mark => d.set_item("price", "mark")?,
                AdlPrice::Ticks(t) => d.set_item("price", t)?,
            }
            let fills_list = PyList::empty(py);
            for f in fills {
                fills_list.append(PyList::new(
                    py,
                    [f.counterparty as i128, f.size as i128, f.price],
                )?)?;
            }
            d.set_item("fills", fills_list)?;
        }
        Event::SetWaterfall { waterfall } => d.set_item("waterfall", to_plain(py, waterfall)?)?,
        Event::SettleSession {
            collected,
            haircuts,
            bad_debt,
        } => {
            d.set_item("collected", collected)?;
            d.set_item("haircuts", pairs(py, haircuts.iter().copied())?)?;
            d.set_item("bad_debt", bad_debt)?;
        }
    }
    Ok(d)
}

#[pymethods]
impl PyEvent {
    /// The operation's name.
    #[getter]
    fn op(&self, py: Python<'_>) -> PyResult<&'static str> {
        self.with(py, |e| Ok(e.op()))
    }

    /// The plain form: a dict of the operation's arguments and effects (ints, lists).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.with(py, |e| to_dict(py, e))
    }

    fn keys<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.to_dict(py)?.call_method0("keys")
    }

    fn __getitem__<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
        self.to_dict(py)?.as_any().get_item(key)
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
