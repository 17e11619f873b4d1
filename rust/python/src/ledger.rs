//! The `Ledger` class: a frozen pyclass around a `Mutex<mutualize_core::Ledger>`, so
//! threads sharing one ledger serialize their operations instead of failing.

use crate::errors::{core, not_contiguous, raise};
use crate::event::PyEvent;
use crate::waterfall::{from_plain, to_plain};
use mutualize_core::{AdlPrice, Event, FillArgs, Ledger};
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyInt, PyList};
use std::sync::{Mutex, MutexGuard};

/// The exchange's book in one settlement asset: accounts, perpetual markets, insurance
/// fund, fee pool and bad debt, with the loss waterfall. Amounts in integer minor units,
/// prices in ticks, sizes in lots. See docs/ledger.md for every operation.
#[pyclass(frozen, subclass, module = "mutualize._core", name = "Ledger")]
pub struct PyLedger {
    inner: Mutex<Ledger>,
}

/// An account or market id: any int (`numbers.Integral`, not a bool); one that is no
/// existing id is reported by the core as unknown, the same as the reference.
fn id(py: Python<'_>, value: &Bound<'_, PyAny>, what: &str) -> PyResult<usize> {
    let invalid = |msg: String| raise(py, "InvalidInputError", msg);
    if value.is_instance_of::<PyBool>() {
        return Err(invalid(format!(
            "{what} must be an id (an int), got a bool"
        )));
    }
    match value.extract::<i64>() {
        // Negative or huge: no such id. usize::MAX is never an id either.
        Ok(v) => Ok(usize::try_from(v).unwrap_or(usize::MAX)),
        Err(e) if e.is_instance_of::<PyOverflowError>(py) => Ok(usize::MAX),
        Err(_) => Err(invalid(format!(
            "{what} must be an id (an int), got {value}"
        ))),
    }
}

/// An amount, price, size or rate (int64): plain ints directly, anything else through
/// `mutualize._coerce.as_amount` (exact Decimal / str, floats refused), so both backends
/// raise the same classes.
fn amount(py: Python<'_>, value: &Bound<'_, PyAny>, what: &str) -> PyResult<i64> {
    if value.is_exact_instance_of::<PyInt>() {
        return value.extract::<i64>().map_err(|_| {
            raise(
                py,
                "AmountOverflowError",
                format!("{what} = {value} does not fit in int64"),
            )
        });
    }
    py.import("mutualize._coerce")?
        .getattr("as_amount")?
        .call1((value, what))?
        .extract::<i64>()
}

fn flag(py: Python<'_>, value: &Bound<'_, PyAny>, what: &str) -> PyResult<bool> {
    value.cast::<PyBool>().map(|b| b.is_true()).map_err(|_| {
        raise(
            py,
            "InvalidInputError",
            format!("{what} must be a bool, got {value}"),
        )
    })
}

fn ids(py: Python<'_>, values: &[i64], what: &str) -> PyResult<Vec<usize>> {
    let _ = (py, what);
    // In a batch, a negative id is as unknown as a too-large one: the core says so.
    Ok(values
        .iter()
        .map(|&v| usize::try_from(v).unwrap_or(usize::MAX))
        .collect())
}

fn event(py: Python<'_>, e: &Event) -> PyResult<Py<PyEvent>> {
    Py::new(py, PyEvent::owned(e.clone()))
}

/// Runs a heavy operation without the GIL; its event stays in the journal (no copy).
fn detached(
    slf: &Bound<'_, PyLedger>,
    op: impl FnOnce(&mut Ledger) -> mutualize_core::Result<usize> + Send,
) -> PyResult<Py<PyEvent>> {
    let py = slf.py();
    let this = slf.get();
    let result = py.detach(|| {
        let mut l = this.inner.lock().map_err(|_| None)?;
        op(&mut l).map_err(Some)
    });
    match result {
        Ok(index) => Py::new(py, PyEvent::in_journal(slf.clone().unbind(), index)),
        Err(Some(err)) => Err(core(py)(err)),
        Err(None) => Err(raise(
            py,
            "InvariantError",
            "the ledger's lock is poisoned".to_owned(),
        )),
    }
}

fn last(l: &Ledger) -> usize {
    l.journal().len().saturating_sub(1)
}

fn to_int64_array<'py>(
    py: Python<'py>,
    values: &[i128],
    what: &str,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let narrow: Option<Vec<i64>> = values.iter().map(|&v| i64::try_from(v).ok()).collect();
    match narrow {
        Some(v) => Ok(PyArray1::from_vec(py, v)),
        None => Err(raise(
            py,
            "AmountOverflowError",
            format!("a value of {what} does not fit in int64"),
        )),
    }
}

impl PyLedger {
    /// Calls `f` on journal entry `index` (for events that were not copied out).
    pub fn with_journal_entry<T>(
        &self,
        py: Python<'_>,
        index: usize,
        f: impl FnOnce(&Event) -> PyResult<T>,
    ) -> PyResult<T> {
        let l = self.lock(py)?;
        match l.journal().get(index) {
            Some(e) => f(e),
            None => Err(raise(
                py,
                "InvariantError",
                format!("journal entry {index} is gone"),
            )),
        }
    }

    /// The id checks an operation makes before its amounts: the binding converts
    /// amounts (which may fail) only after them, in the contract's order.
    fn known(&self, py: Python<'_>, accounts: &[usize], markets: &[usize]) -> PyResult<()> {
        let l = self.lock(py)?;
        if let Some(&a) = accounts.iter().find(|&&a| a >= l.num_accounts()) {
            return Err(core(py)(mutualize_core::Error::UnknownAccount(a)));
        }
        if let [buyer, seller] = accounts {
            if buyer == seller {
                return Err(raise(
                    py,
                    "InvalidInputError",
                    format!("the two accounts must differ, both are {buyer}"),
                ));
            }
        }
        if let Some(&m) = markets.iter().find(|&&m| m >= l.num_markets()) {
            return Err(core(py)(mutualize_core::Error::UnknownMarket(m)));
        }
        Ok(())
    }

    fn lock(&self, py: Python<'_>) -> PyResult<MutexGuard<'_, Ledger>> {
        self.inner.lock().map_err(|_| {
            raise(
                py,
                "InvariantError",
                "the ledger's lock is poisoned".to_owned(),
            )
        })
    }
}

#[pymethods]
impl PyLedger {
    #[new]
    fn new() -> Self {
        PyLedger {
            inner: Mutex::new(Ledger::new()),
        }
    }

    /// Adds a perpetual market: `tick_value` minor units per lot per tick, `mark` ticks,
    /// margin rates and liquidation penalty in basis points.
    #[pyo3(
        signature = (tick_value, mark, imr_bps, mmr_bps, penalty_bps=None),
        text_signature = "($self, tick_value, mark, imr_bps, mmr_bps, penalty_bps=0)"
    )]
    fn create_market(
        &self,
        py: Python<'_>,
        tick_value: &Bound<'_, PyAny>,
        mark: &Bound<'_, PyAny>,
        imr_bps: &Bound<'_, PyAny>,
        mmr_bps: &Bound<'_, PyAny>,
        penalty_bps: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyEvent>> {
        let args = (
            amount(py, tick_value, "tick_value")?,
            amount(py, mark, "mark")?,
            amount(py, imr_bps, "imr_bps")?,
            amount(py, mmr_bps, "mmr_bps")?,
            penalty_bps.map_or(Ok(0), |p| amount(py, p, "penalty_bps"))?,
        );
        let mut l = self.lock(py)?;
        let e = l
            .create_market(args.0, args.1, args.2, args.3, args.4)
            .map_err(core(py))?;
        event(py, e)
    }

    /// Adds an account with nothing in it.
    fn create_account(&self, py: Python<'_>) -> PyResult<Py<PyEvent>> {
        let mut l = self.lock(py)?;
        let e = l.create_account().map_err(core(py))?;
        event(py, e)
    }

    /// Adds `n` accounts (one event each); returns the first new id.
    fn create_accounts(&self, py: Python<'_>, n: usize) -> PyResult<usize> {
        let mut l = self.lock(py)?;
        l.create_accounts(n).map_err(core(py))
    }

    /// Adds `amount` minor units of collateral.
    fn deposit(
        &self,
        py: Python<'_>,
        account: &Bound<'_, PyAny>,
        amount: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyEvent>> {
        let a = id(py, account, "account")?;
        self.known(py, &[a], &[])?;
        let amount = self::amount(py, amount, "amount")?;
        let mut l = self.lock(py)?;
        let e = l.deposit(a, amount).map_err(core(py))?;
        event(py, e)
    }

    /// Removes collateral; refused if it would break initial margin.
    fn withdraw(
        &self,
        py: Python<'_>,
        account: &Bound<'_, PyAny>,
        amount: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyEvent>> {
        let a = id(py, account, "account")?;
        self.known(py, &[a], &[])?;
        let amount = self::amount(py, amount, "amount")?;
        let mut l = self.lock(py)?;
        let e = l.withdraw(a, amount).map_err(core(py))?;
        event(py, e)
    }

    /// Adds external money to the shared insurance fund, or to `market`'s own fund.
    #[pyo3(signature = (amount, market=None))]
    fn fund_insurance(
        &self,
        py: Python<'_>,
        amount: &Bound<'_, PyAny>,
        market: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyEvent>> {
        let market = market.map(|m| id(py, m, "market")).transpose()?;
        if let Some(m) = market {
            self.known(py, &[], &[m])?;
        }
        let amount = self::amount(py, amount, "amount")?;
        let mut l = self.lock(py)?;
        let e = l.fund_insurance(amount, market).map_err(core(py))?;
        event(py, e)
    }

    /// A trade of `size` lots at `price` ticks: `buyer` buys from `seller`.
    #[pyo3(
        signature = (buyer, seller, market, price, size, buyer_fee=None, seller_fee=None, check_margin=None),
        text_signature = "($self, buyer, seller, market, price, size, buyer_fee=0, seller_fee=0, check_margin=True)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn fill(
        &self,
        py: Python<'_>,
        buyer: &Bound<'_, PyAny>,
        seller: &Bound<'_, PyAny>,
        market: &Bound<'_, PyAny>,
        price: &Bound<'_, PyAny>,
        size: &Bound<'_, PyAny>,
        buyer_fee: Option<&Bound<'_, PyAny>>,
        seller_fee: Option<&Bound<'_, PyAny>>,
        check_margin: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyEvent>> {
        let (buyer, seller) = (id(py, buyer, "account")?, id(py, seller, "account")?);
        let market = id(py, market, "market")?;
        self.known(py, &[buyer, seller], &[market])?;
        let args = FillArgs {
            buyer,
            seller,
            market,
            price: amount(py, price, "price")?,
            size: amount(py, size, "size")?,
            buyer_fee: buyer_fee.map_or(Ok(0), |f| amount(py, f, "buyer_fee"))?,
            seller_fee: seller_fee.map_or(Ok(0), |f| amount(py, f, "seller_fee"))?,
            check_margin: check_margin.map_or(Ok(true), |c| flag(py, c, "check_margin"))?,
        };
        let mut l = self.lock(py)?;
        let e = l.fill(args).map_err(core(py))?;
        event(py, e)
    }

    /// Many unchecked fills without fees in one market, in order, all or nothing
    /// (int64 arrays); runs without the GIL.
    fn fill_many(
        slf: &Bound<'_, Self>,
        market: &Bound<'_, PyAny>,
        buyers: PyReadonlyArray1<'_, i64>,
        sellers: PyReadonlyArray1<'_, i64>,
        prices: PyReadonlyArray1<'_, i64>,
        sizes: PyReadonlyArray1<'_, i64>,
    ) -> PyResult<Py<PyEvent>> {
        let py = slf.py();
        let m = id(py, market, "market")?;
        let b = ids(
            py,
            buyers
                .as_slice()
                .map_err(|_| not_contiguous(py, "buyers"))?,
            "account",
        )?;
        let s = ids(
            py,
            sellers
                .as_slice()
                .map_err(|_| not_contiguous(py, "sellers"))?,
            "account",
        )?;
        let p = prices
            .as_slice()
            .map_err(|_| not_contiguous(py, "prices"))?;
        let q = sizes.as_slice().map_err(|_| not_contiguous(py, "sizes"))?;
        detached(slf, |l| {
            l.fill_many(m, &b, &s, p, q).map(|_| ()).map(|()| last(l))
        })
    }

    /// Sets a market's mark price (ticks).
    fn set_mark(
        &self,
        py: Python<'_>,
        market: &Bound<'_, PyAny>,
        price: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyEvent>> {
        let m = id(py, market, "market")?;
        self.known(py, &[], &[m])?;
        let price = amount(py, price, "price")?;
        let mut l = self.lock(py)?;
        let e = l.set_mark(m, price).map_err(core(py))?;
        event(py, e)
    }

    /// Sets every market's mark at once (int64 array, one per market).
    fn set_marks(&self, py: Python<'_>, marks: PyReadonlyArray1<'_, i64>) -> PyResult<Py<PyEvent>> {
        let marks = marks.as_slice().map_err(|_| not_contiguous(py, "marks"))?;
        let mut l = self.lock(py)?;
        let e = l.set_marks(marks).map_err(core(py))?;
        event(py, e)
    }

    /// Moves the market's cumulative funding index by `delta` minor units per lot
    /// (positive: longs pay shorts).
    fn apply_funding(
        &self,
        py: Python<'_>,
        market: &Bound<'_, PyAny>,
        delta: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyEvent>> {
        let m = id(py, market, "market")?;
        self.known(py, &[], &[m])?;
        let delta = amount(py, delta, "delta")?;
        let mut l = self.lock(py)?;
        let e = l.apply_funding(m, delta).map_err(core(py))?;
        event(py, e)
    }

    /// Closes every position of a liquidatable `account` against `counterparty` at
    /// `prices` (a dict market -> ticks; default the marks), then runs the waterfall.
    #[pyo3(signature = (account, counterparty, prices=None))]
    fn liquidate(
        slf: &Bound<'_, Self>,
        account: &Bound<'_, PyAny>,
        counterparty: &Bound<'_, PyAny>,
        prices: Option<Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyEvent>> {
        let py = slf.py();
        let a = id(py, account, "account")?;
        let c = id(py, counterparty, "account")?;
        slf.get().known(py, &[a, c], &[])?;
        let prices: Option<Vec<(usize, i64)>> = match prices {
            None => None,
            Some(d) => {
                let mut v = Vec::with_capacity(d.len());
                for (k, p) in d.iter() {
                    let m = id(py, &k, "prices key")?;
                    slf.get().known(py, &[], &[m])?;
                    v.push((m, amount(py, &p, "price")?));
                }
                v.sort_unstable();
                Some(v)
            }
        };
        detached(slf, |l| {
            l.liquidate(a, c, prices.as_deref())
                .map(|_| ())
                .map(|()| last(l))
        })
    }

    /// Closes `account`'s position in `market` against opposite positions (the given
    /// `counterparties` in order, or ranked) at `price`: "bankruptcy", "mark" or ticks.
    #[pyo3(signature = (account, market, counterparties=None, price=None))]
    fn deleverage(
        &self,
        py: Python<'_>,
        account: &Bound<'_, PyAny>,
        market: &Bound<'_, PyAny>,
        counterparties: Option<Vec<Bound<'_, PyAny>>>,
        price: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyEvent>> {
        let a = id(py, account, "account")?;
        let m = id(py, market, "market")?;
        let cps = counterparties
            .map(|c| {
                c.iter()
                    .map(|v| id(py, v, "counterparty"))
                    .collect::<PyResult<Vec<_>>>()
            })
            .transpose()?;
        let price = match price {
            None => AdlPrice::Bankruptcy,
            Some(p) => {
                if let Ok(s) = p.extract::<String>() {
                    match s.as_str() {
                        "bankruptcy" => AdlPrice::Bankruptcy,
                        "mark" => AdlPrice::Mark,
                        other => {
                            return Err(raise(
                                py,
                                "InvalidInputError",
                                format!(
                                    "price must be 'bankruptcy', 'mark' or ticks, got {other:?}"
                                ),
                            ))
                        }
                    }
                } else {
                    AdlPrice::Ticks(amount(py, &p, "price")?)
                }
            }
        };
        let mut l = self.lock(py)?;
        let e = l
            .deleverage(a, m, cps.as_deref(), price)
            .map_err(core(py))?;
        event(py, e)
    }

    /// Replaces the waterfall configuration (its plain dict form).
    fn set_waterfall(&self, py: Python<'_>, waterfall: Bound<'_, PyDict>) -> PyResult<Py<PyEvent>> {
        let w = from_plain(py, &waterfall)?;
        let mut l = self.lock(py)?;
        let e = l.set_waterfall(w).map_err(core(py))?;
        event(py, e)
    }

    /// Claws deferred losses back from the session's profits and starts a new session.
    fn settle_session(slf: &Bound<'_, Self>) -> PyResult<Py<PyEvent>> {
        detached(slf, |l| l.settle_session().map(|_| ()).map(|()| last(l)))
    }

    /// Equity of an account: collateral + unrealized PnL + unpaid funding (minor units).
    fn equity(&self, py: Python<'_>, account: &Bound<'_, PyAny>) -> PyResult<i128> {
        let a = id(py, account, "account")?;
        self.lock(py)?.equity(a).map_err(core(py))
    }

    /// Maintenance margin requirement, rounded up (minor units).
    fn maintenance(&self, py: Python<'_>, account: &Bound<'_, PyAny>) -> PyResult<i128> {
        let a = id(py, account, "account")?;
        self.lock(py)?.maintenance(a).map_err(core(py))
    }

    /// Initial margin requirement, rounded up (minor units).
    fn initial(&self, py: Python<'_>, account: &Bound<'_, PyAny>) -> PyResult<i128> {
        let a = id(py, account, "account")?;
        self.lock(py)?.initial(a).map_err(core(py))
    }

    /// Unrealized PnL of one position (minor units).
    fn upnl(
        &self,
        py: Python<'_>,
        account: &Bound<'_, PyAny>,
        market: &Bound<'_, PyAny>,
    ) -> PyResult<i128> {
        let (a, m) = (id(py, account, "account")?, id(py, market, "market")?);
        self.lock(py)?.upnl(a, m).map_err(core(py))
    }

    /// Equity now minus equity at the session's start minus net deposits since.
    fn session_profit(&self, py: Python<'_>, account: &Bound<'_, PyAny>) -> PyResult<i128> {
        let a = id(py, account, "account")?;
        self.lock(py)?.session_profit(a).map_err(core(py))
    }

    /// The price (ticks) at which closing this position leaves equity at zero, rounded
    /// so that closing there never leaves a deficit.
    fn bankruptcy_price(
        &self,
        py: Python<'_>,
        account: &Bound<'_, PyAny>,
        market: &Bound<'_, PyAny>,
    ) -> PyResult<i128> {
        let (a, m) = (id(py, account, "account")?, id(py, market, "market")?);
        self.lock(py)?.bankruptcy_price(a, m).map_err(core(py))
    }

    /// Ids of the accounts whose equity is below their maintenance requirement.
    fn liquidatable(&self, py: Python<'_>) -> PyResult<Vec<usize>> {
        self.lock(py)?.liquidatable().map_err(core(py))
    }

    /// Checks conservation and every invariant; raises `InvariantError`.
    fn check(&self, py: Python<'_>) -> PyResult<()> {
        self.lock(py)?.check().map_err(core(py))
    }

    /// Collateral of every account (int64 array, minor units).
    fn collaterals<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let l = self.lock(py)?;
        to_int64_array(py, l.collaterals(), "collateral")
    }

    /// Equity of every account (int64 array, minor units).
    fn equities<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let l = self.lock(py)?;
        let e = l.equities().map_err(core(py))?;
        to_int64_array(py, &e, "equity")
    }

    /// Position sizes of every account in one market (int64 array, lots).
    fn sizes<'py>(
        &self,
        py: Python<'py>,
        market: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let m = id(py, market, "market")?;
        let l = self.lock(py)?;
        Ok(PyArray1::from_vec(py, l.sizes(m).map_err(core(py))?))
    }

    #[getter]
    fn num_accounts(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.lock(py)?.num_accounts())
    }

    #[getter]
    fn num_markets(&self, py: Python<'_>) -> PyResult<usize> {
        Ok(self.lock(py)?.num_markets())
    }

    #[getter]
    fn insurance_fund(&self, py: Python<'_>) -> PyResult<i128> {
        Ok(self.lock(py)?.insurance_fund())
    }

    #[getter]
    fn fee_pool(&self, py: Python<'_>) -> PyResult<i128> {
        Ok(self.lock(py)?.fee_pool())
    }

    #[getter]
    fn bad_debt(&self, py: Python<'_>) -> PyResult<i128> {
        Ok(self.lock(py)?.bad_debt())
    }

    #[getter]
    fn deferred_loss(&self, py: Python<'_>) -> PyResult<i128> {
        Ok(self.lock(py)?.deferred_loss())
    }

    /// The waterfall configuration in its plain dict form.
    fn waterfall_plain<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let l = self.lock(py)?;
        to_plain(py, l.waterfall())
    }

    /// Every event so far, oldest first (a new list on each access).
    #[getter]
    fn journal(&self, py: Python<'_>) -> PyResult<Vec<Py<PyEvent>>> {
        let l = self.lock(py)?;
        l.journal().iter().map(|e| event(py, e)).collect()
    }

    /// The whole state as plain Python values (docs/ledger.md), for comparisons.
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let l = self.lock(py)?;
        let markets = PyList::empty(py);
        for m in l.markets() {
            let d = PyDict::new(py);
            d.set_item("tick_value", m.tick_value)?;
            d.set_item("mark", m.mark)?;
            d.set_item("imr_bps", m.imr_bps)?;
            d.set_item("mmr_bps", m.mmr_bps)?;
            d.set_item("penalty_bps", m.penalty_bps)?;
            d.set_item("funding_index", m.funding_index)?;
            d.set_item("insurance_fund", m.insurance_fund)?;
            markets.append(d)?;
        }
        let accounts = PyList::empty(py);
        for a in 0..l.num_accounts() {
            let d = PyDict::new(py);
            d.set_item("collateral", l.collateral_at(a).map_err(core(py))?)?;
            d.set_item(
                "session_start_equity",
                l.session_start_at(a).map_err(core(py))?,
            )?;
            d.set_item(
                "session_deposits",
                l.session_deposit_at(a).map_err(core(py))?,
            )?;
            let positions = PyList::empty(py);
            for m in 0..l.num_markets() {
                let p = l.position(a, m).map_err(core(py))?;
                let pd = PyDict::new(py);
                pd.set_item("size", p.size)?;
                pd.set_item("basis", p.basis)?;
                pd.set_item("funding_snapshot", p.funding_snapshot)?;
                positions.append(pd)?;
            }
            d.set_item("positions", positions)?;
            accounts.append(d)?;
        }
        let s = PyDict::new(py);
        s.set_item("markets", markets)?;
        s.set_item("accounts", accounts)?;
        s.set_item("insurance_fund", l.insurance_fund())?;
        s.set_item("fee_pool", l.fee_pool())?;
        s.set_item("bad_debt", l.bad_debt())?;
        s.set_item("deferred_loss", l.deferred_loss())?;
        s.set_item("deposits", l.deposits())?;
        s.set_item("withdrawals", l.withdrawals())?;
        s.set_item("waterfall", to_plain(py, l.waterfall())?)?;
        Ok(s)
    }

    /// The whole ledger (state and journal) as bytes; `Ledger.restore` reads it back.
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let l = self.lock(py)?;
        Ok(PyBytes::new(py, &l.snapshot()))
    }

    /// Rebuilds a ledger from `snapshot()` bytes; corrupt input raises
    /// `CorruptSnapshotError` (never a partial ledger).
    #[classmethod]
    fn restore<'py>(
        cls: &Bound<'py, pyo3::types::PyType>,
        data: &[u8],
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = cls.py();
        let ledger = Ledger::restore(data).map_err(core(py))?;
        let obj = cls.call0()?;
        let this = obj.cast::<PyLedger>()?;
        *this.get().lock(py)? = ledger;
        Ok(obj)
    }
}
