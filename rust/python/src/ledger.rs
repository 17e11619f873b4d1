//! The `Ledger` class: a frozen pyclass around a [`SharedLedger`], so threads sharing one
//! ledger serialize their operations instead of failing, and never deadlock (see
//! `shared.rs` for the rule every method here follows: arguments are converted before
//! the lock, Python objects are built after it).

use crate::amount::amount;
use crate::args::{adl_price, column, count, flag, id, ids};
use crate::errors::{Kind, Raised};
use crate::event::PyEvent;
use crate::shared::SharedLedger;
use crate::waterfall::{from_plain, to_plain};
use mutualize_core::ledger::{Market, Position};
use mutualize_core::{capacity, Event, FillArgs, Ledger, Waterfall};
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use std::sync::Arc;

/// The exchange's book in one settlement asset: accounts, perpetual markets, insurance
/// fund, fee pool and bad debt, with the loss waterfall. Amounts in integer minor units,
/// prices in ticks, sizes in lots. See docs/ledger.md for every operation.
#[pyclass(frozen, subclass, module = "mutualize._core", name = "Ledger")]
pub struct PyLedger {
    shared: Arc<SharedLedger>,
}

/// The ids an operation checks before its amounts (docs/ledger.md, resolved point 1):
/// accounts that must exist (and, for two of them, differ) and markets that must exist.
fn known(l: &Ledger, accounts: &[usize], markets: &[usize]) -> Result<(), Raised> {
    if let Some(&a) = accounts.iter().find(|&&a| a >= l.num_accounts()) {
        return Err(mutualize_core::Error::UnknownAccount(a).into());
    }
    if let [buyer, seller] = accounts {
        if buyer == seller {
            return Err(Raised::invalid(format!(
                "the two accounts must differ, both are {buyer}"
            )));
        }
    }
    if let Some(&m) = markets.iter().find(|&&m| m >= l.num_markets()) {
        return Err(mutualize_core::Error::UnknownMarket(m).into());
    }
    Ok(())
}

/// A core result whose event is copied out (small events).
fn copied(result: mutualize_core::Result<&Event>) -> Result<Event, Raised> {
    Ok(result?.clone())
}

/// A core result whose event stays in the journal: its index.
fn kept(l: &Ledger, result: mutualize_core::Result<()>) -> Result<usize, Raised> {
    result?;
    Ok(l.journal().len().saturating_sub(1))
}

fn event(py: Python<'_>, e: Event) -> PyResult<Py<PyEvent>> {
    Py::new(py, PyEvent::owned(e))
}

fn int64_array<'py>(
    py: Python<'py>,
    values: &[i128],
    what: &str,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let narrow: Option<Vec<i64>> = values.iter().map(|&v| i64::try_from(v).ok()).collect();
    match narrow {
        Some(v) => Ok(PyArray1::from_vec(py, v)),
        None => Err(Raised::new(
            Kind::AmountOverflow,
            format!("a value of {what} does not fit in int64"),
        )
        .into()),
    }
}

/// The whole state, copied out under the lock and turned into Python values after it.
struct State {
    markets: Vec<Market>,
    collateral: Vec<i128>,
    session_start: Vec<i128>,
    session_deposits: Vec<i128>,
    /// `positions[market][account]`.
    positions: Vec<Vec<Position>>,
    totals: [(&'static str, i128); 6],
    waterfall: Waterfall,
}

impl State {
    fn of(l: &Ledger) -> Result<State, Raised> {
        let n = l.num_accounts();
        let mut session_start = capacity::filled(n, 0, "accounts")?;
        let mut session_deposits = capacity::filled(n, 0, "accounts")?;
        for a in 0..n {
            session_start[a] = l.session_start_at(a)?;
            session_deposits[a] = l.session_deposit_at(a)?;
        }
        let mut positions = Vec::new();
        capacity::reserve(&mut positions, l.num_markets(), "markets")?;
        for m in 0..l.num_markets() {
            positions.push(capacity::copied(l.positions(m)?, "positions")?);
        }
        Ok(State {
            markets: capacity::copied(l.markets(), "markets")?,
            collateral: capacity::copied(l.collaterals(), "accounts")?,
            session_start,
            session_deposits,
            positions,
            totals: [
                ("insurance_fund", l.insurance_fund()),
                ("fee_pool", l.fee_pool()),
                ("bad_debt", l.bad_debt()),
                ("deferred_loss", l.deferred_loss()),
                ("deposits", l.deposits()),
                ("withdrawals", l.withdrawals()),
            ],
            waterfall: l.waterfall().clone(),
        })
    }

    fn to_py<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let markets = PyList::empty(py);
        for m in &self.markets {
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
        for (a, collateral) in self.collateral.iter().enumerate() {
            let d = PyDict::new(py);
            d.set_item("collateral", collateral)?;
            d.set_item("session_start_equity", self.session_start.get(a))?;
            d.set_item("session_deposits", self.session_deposits.get(a))?;
            let positions = PyList::empty(py);
            for column in &self.positions {
                let p = column.get(a).copied().unwrap_or_default();
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
        for (name, value) in self.totals {
            s.set_item(name, value)?;
        }
        s.set_item("waterfall", to_plain(py, &self.waterfall)?)?;
        Ok(s)
    }
}

impl PyLedger {
    /// Runs a heavy operation detached; its event stays in the journal (no copy).
    fn heavy(
        &self,
        py: Python<'_>,
        op: impl FnOnce(&mut Ledger) -> Result<usize, Raised> + Send,
    ) -> PyResult<Py<PyEvent>> {
        let index = self.shared.run_detached(py, op)?;
        Py::new(py, PyEvent::in_journal(Arc::clone(&self.shared), index))
    }

    /// Runs a light operation; its event is copied out.
    fn light(
        &self,
        py: Python<'_>,
        op: impl FnOnce(&mut Ledger) -> Result<Event, Raised> + Send,
    ) -> PyResult<Py<PyEvent>> {
        let e = self.shared.run(py, op)?;
        event(py, e)
    }

    /// Reads something out of the ledger.
    fn read<T: Send>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&Ledger) -> Result<T, Raised> + Send,
    ) -> PyResult<T> {
        Ok(self.shared.run(py, |l| f(l))?)
    }
}

#[pymethods]
impl PyLedger {
    #[new]
    fn new() -> Self {
        PyLedger {
            shared: Arc::new(SharedLedger::default()),
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
            amount(tick_value, "tick_value")?,
            amount(mark, "mark")?,
            amount(imr_bps, "imr_bps")?,
            amount(mmr_bps, "mmr_bps")?,
            penalty_bps.map_or(Ok(0), |p| amount(p, "penalty_bps"))?,
        );
        self.light(py, |l| {
            copied(l.create_market(args.0, args.1, args.2, args.3, args.4))
        })
    }

    /// Adds an account with nothing in it.
    fn create_account(&self, py: Python<'_>) -> PyResult<Py<PyEvent>> {
        self.light(py, |l| copied(l.create_account()))
    }

    /// Adds `n` accounts (one event each); returns the first new id. A count the
    /// machine cannot hold raises `OutOfMemoryError` and changes nothing.
    fn create_accounts(&self, py: Python<'_>, n: &Bound<'_, PyAny>) -> PyResult<usize> {
        let n = count(n, "n")?;
        Ok(self
            .shared
            .run_detached(py, |l| Ok(l.create_accounts(n)?))?)
    }

    /// Adds `amount` minor units of collateral.
    fn deposit(
        &self,
        py: Python<'_>,
        account: &Bound<'_, PyAny>,
        amount: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyEvent>> {
        let a = id(account, "account")?;
        // Converted now, raised in its place among the checks (after the ids).
        let amount = self::amount(amount, "amount");
        self.light(py, |l| {
            known(l, &[a], &[])?;
            copied(l.deposit(a, amount?))
        })
    }

    /// Removes collateral; refused if it would break initial margin.
    fn withdraw(
        &self,
        py: Python<'_>,
        account: &Bound<'_, PyAny>,
        amount: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyEvent>> {
        let a = id(account, "account")?;
        let amount = self::amount(amount, "amount");
        self.light(py, |l| {
            known(l, &[a], &[])?;
            copied(l.withdraw(a, amount?))
        })
    }

    /// Adds external money to the shared insurance fund, or to `market`'s own fund.
    #[pyo3(signature = (amount, market=None))]
    fn fund_insurance(
        &self,
        py: Python<'_>,
        amount: &Bound<'_, PyAny>,
        market: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyEvent>> {
        let market = market.map(|m| id(m, "market")).transpose()?;
        let amount = self::amount(amount, "amount");
        self.light(py, |l| {
            known(l, &[], market.as_slice())?;
            copied(l.fund_insurance(amount?, market))
        })
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
        let (buyer, seller) = (id(buyer, "account")?, id(seller, "account")?);
        let market = id(market, "market")?;
        let rest = (|| {
            Ok::<_, Raised>((
                amount(price, "price")?,
                amount(size, "size")?,
                buyer_fee.map_or(Ok(0), |f| amount(f, "buyer_fee"))?,
                seller_fee.map_or(Ok(0), |f| amount(f, "seller_fee"))?,
                check_margin.map_or(Ok(true), |c| flag(c, "check_margin"))?,
            ))
        })();
        self.light(py, |l| {
            known(l, &[buyer, seller], &[market])?;
            let (price, size, buyer_fee, seller_fee, check_margin) = rest?;
            copied(l.fill(FillArgs {
                buyer,
                seller,
                market,
                price,
                size,
                buyer_fee,
                seller_fee,
                check_margin,
            }))
        })
    }

    /// Many unchecked fills without fees in one market, in order, all or nothing
    /// (int64 arrays); runs without the GIL.
    fn fill_many(
        &self,
        py: Python<'_>,
        market: &Bound<'_, PyAny>,
        buyers: PyReadonlyArray1<'_, i64>,
        sellers: PyReadonlyArray1<'_, i64>,
        prices: PyReadonlyArray1<'_, i64>,
        sizes: PyReadonlyArray1<'_, i64>,
    ) -> PyResult<Py<PyEvent>> {
        let m = id(market, "market")?;
        let b = ids(column(&buyers, "buyers")?)?;
        let s = ids(column(&sellers, "sellers")?)?;
        let p = column(&prices, "prices")?;
        let q = column(&sizes, "sizes")?;
        self.heavy(py, |l| {
            let done = l.fill_many(m, &b, &s, p, q).map(|_| ());
            kept(l, done)
        })
    }

    /// Sets a market's mark price (ticks).
    fn set_mark(
        &self,
        py: Python<'_>,
        market: &Bound<'_, PyAny>,
        price: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyEvent>> {
        let m = id(market, "market")?;
        let price = amount(price, "price");
        self.light(py, |l| {
            known(l, &[], &[m])?;
            copied(l.set_mark(m, price?))
        })
    }

    /// Sets every market's mark at once (int64 array, one per market).
    fn set_marks(&self, py: Python<'_>, marks: PyReadonlyArray1<'_, i64>) -> PyResult<Py<PyEvent>> {
        let marks = column(&marks, "marks")?;
        self.light(py, |l| copied(l.set_marks(marks)))
    }

    /// Moves the market's cumulative funding index by `delta` minor units per lot
    /// (positive: longs pay shorts).
    fn apply_funding(
        &self,
        py: Python<'_>,
        market: &Bound<'_, PyAny>,
        delta: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyEvent>> {
        let m = id(market, "market")?;
        let delta = amount(delta, "delta");
        self.light(py, |l| {
            known(l, &[], &[m])?;
            copied(l.apply_funding(m, delta?))
        })
    }

    /// Closes every position of a liquidatable `account` against `counterparty` at
    /// `prices` (a dict market -> ticks; default the marks), then runs the waterfall.
    #[pyo3(signature = (account, counterparty, prices=None))]
    fn liquidate(
        &self,
        py: Python<'_>,
        account: &Bound<'_, PyAny>,
        counterparty: &Bound<'_, PyAny>,
        prices: Option<Bound<'_, PyDict>>,
    ) -> PyResult<Py<PyEvent>> {
        let a = id(account, "account")?;
        let c = id(counterparty, "account")?;
        // Converted now, raised in the contract's order: the two accounts, then each
        // market of `prices` followed by its price.
        type Given = Vec<(Result<usize, Raised>, Result<i64, Raised>)>;
        let given: Option<Given> = prices.map(|d| {
            d.iter()
                .map(|(k, p)| (id(&k, "prices key"), amount(&p, "price")))
                .collect()
        });
        self.heavy(py, |l| {
            known(l, &[a, c], &[])?;
            let prices = match given {
                None => None,
                Some(list) => {
                    let mut v = Vec::new();
                    capacity::reserve(&mut v, list.len(), "prices")?;
                    for (m, p) in list {
                        let m = m?;
                        known(l, &[], &[m])?;
                        v.push((m, p?));
                    }
                    v.sort_unstable();
                    Some(v)
                }
            };
            let done = l.liquidate(a, c, prices.as_deref()).map(|_| ());
            kept(l, done)
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
        let a = id(account, "account")?;
        let m = id(market, "market")?;
        let cps = counterparties
            .map(|c| {
                c.iter()
                    .map(|v| id(v, "counterparty"))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        let price = adl_price(price.as_ref())?;
        self.light(py, |l| copied(l.deleverage(a, m, cps.as_deref(), price)))
    }

    /// Replaces the waterfall configuration (its plain dict form).
    fn set_waterfall(&self, py: Python<'_>, waterfall: Bound<'_, PyDict>) -> PyResult<Py<PyEvent>> {
        let w = from_plain(py, &waterfall)?;
        self.light(py, |l| copied(l.set_waterfall(w)))
    }

    /// Claws deferred losses back from the session's profits and starts a new session.
    fn settle_session(&self, py: Python<'_>) -> PyResult<Py<PyEvent>> {
        self.heavy(py, |l| {
            let done = l.settle_session().map(|_| ());
            kept(l, done)
        })
    }

    /// Equity of an account: collateral + unrealized PnL + unpaid funding (minor units).
    fn equity(&self, py: Python<'_>, account: &Bound<'_, PyAny>) -> PyResult<i128> {
        let a = id(account, "account")?;
        self.read(py, |l| Ok(l.equity(a)?))
    }

    /// Maintenance margin requirement, rounded up (minor units).
    fn maintenance(&self, py: Python<'_>, account: &Bound<'_, PyAny>) -> PyResult<i128> {
        let a = id(account, "account")?;
        self.read(py, |l| Ok(l.maintenance(a)?))
    }

    /// Initial margin requirement, rounded up (minor units).
    fn initial(&self, py: Python<'_>, account: &Bound<'_, PyAny>) -> PyResult<i128> {
        let a = id(account, "account")?;
        self.read(py, |l| Ok(l.initial(a)?))
    }

    /// Unrealized PnL of one position (minor units).
    fn upnl(
        &self,
        py: Python<'_>,
        account: &Bound<'_, PyAny>,
        market: &Bound<'_, PyAny>,
    ) -> PyResult<i128> {
        let (a, m) = (id(account, "account")?, id(market, "market")?);
        self.read(py, |l| Ok(l.upnl(a, m)?))
    }

    /// Equity now minus equity at the session's start minus net deposits since.
    fn session_profit(&self, py: Python<'_>, account: &Bound<'_, PyAny>) -> PyResult<i128> {
        let a = id(account, "account")?;
        self.read(py, |l| Ok(l.session_profit(a)?))
    }

    /// The price (ticks) at which closing this position leaves equity at zero, rounded
    /// so that closing there never leaves a deficit.
    fn bankruptcy_price(
        &self,
        py: Python<'_>,
        account: &Bound<'_, PyAny>,
        market: &Bound<'_, PyAny>,
    ) -> PyResult<i128> {
        let (a, m) = (id(account, "account")?, id(market, "market")?);
        self.read(py, |l| Ok(l.bankruptcy_price(a, m)?))
    }

    /// Ids of the accounts whose equity is below their maintenance requirement.
    fn liquidatable(&self, py: Python<'_>) -> PyResult<Vec<usize>> {
        Ok(self.shared.run_detached(py, |l| Ok(l.liquidatable()?))?)
    }

    /// Checks conservation and every invariant; raises `InvariantError`.
    fn check(&self, py: Python<'_>) -> PyResult<()> {
        Ok(self.shared.run_detached(py, |l| Ok(l.check()?))?)
    }

    /// Collateral of every account (int64 array, minor units).
    fn collaterals<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let c = self.read(py, |l| Ok(capacity::copied(l.collaterals(), "accounts")?))?;
        int64_array(py, &c, "collateral")
    }

    /// Equity of every account (int64 array, minor units).
    fn equities<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let e = self.shared.run_detached(py, |l| Ok(l.equities()?))?;
        int64_array(py, &e, "equity")
    }

    /// Position sizes of every account in one market (int64 array, lots).
    fn sizes<'py>(
        &self,
        py: Python<'py>,
        market: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let m = id(market, "market")?;
        let sizes = self.read(py, |l| Ok(l.sizes(m)?))?;
        Ok(PyArray1::from_vec(py, sizes))
    }

    #[getter]
    fn num_accounts(&self, py: Python<'_>) -> PyResult<usize> {
        self.read(py, |l| Ok(l.num_accounts()))
    }

    #[getter]
    fn num_markets(&self, py: Python<'_>) -> PyResult<usize> {
        self.read(py, |l| Ok(l.num_markets()))
    }

    #[getter]
    fn insurance_fund(&self, py: Python<'_>) -> PyResult<i128> {
        self.read(py, |l| Ok(l.insurance_fund()))
    }

    #[getter]
    fn fee_pool(&self, py: Python<'_>) -> PyResult<i128> {
        self.read(py, |l| Ok(l.fee_pool()))
    }

    #[getter]
    fn bad_debt(&self, py: Python<'_>) -> PyResult<i128> {
        self.read(py, |l| Ok(l.bad_debt()))
    }

    #[getter]
    fn deferred_loss(&self, py: Python<'_>) -> PyResult<i128> {
        self.read(py, |l| Ok(l.deferred_loss()))
    }

    /// The waterfall configuration in its plain dict form.
    fn waterfall_plain<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let w = self.read(py, |l| Ok(l.waterfall().clone()))?;
        to_plain(py, &w)
    }

    /// Every event so far, oldest first (a new list on each access).
    #[getter]
    fn journal(&self, py: Python<'_>) -> PyResult<Vec<Py<PyEvent>>> {
        let events = self
            .shared
            .run_detached(py, |l| Ok(capacity::copied(l.journal(), "events")?))?;
        events.into_iter().map(|e| event(py, e)).collect()
    }

    /// The whole state as plain Python values (docs/ledger.md), for comparisons.
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let state = self.shared.run_detached(py, |l| State::of(l))?;
        state.to_py(py)
    }

    /// The whole ledger (state and journal) as bytes; `Ledger.restore` reads it back.
    fn snapshot<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let bytes = self.shared.run_detached(py, |l| Ok(l.snapshot()))?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Rebuilds a ledger from `snapshot()` bytes; corrupt input raises
    /// `CorruptSnapshotError` (never a partial ledger).
    #[classmethod]
    fn restore<'py>(
        cls: &Bound<'py, pyo3::types::PyType>,
        data: &[u8],
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = cls.py();
        let ledger = py.detach(|| Ledger::restore(data).map_err(Raised::from))?;
        let obj = cls.call0()?;
        obj.cast::<PyLedger>()?.get().shared.replace(py, ledger)?;
        Ok(obj)
    }
}
