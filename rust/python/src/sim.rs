//! Binding of the backtest engine: borrow the numpy columns, run detached from the GIL
//! (attaching only to report progress and check for Ctrl-C), hand the columns back as
//! numpy arrays.

use crate::args::column;
use crate::errors::Raised;
use crate::waterfall::from_plain;
use mutualize_core::sim::{self, Granularity, MarketTerms, Population, Scan, Spec};
use mutualize_core::{capacity, Error};
use numpy::{IntoPyArray, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;

type Column<'py> = PyReadonlyArray1<'py, i64>;

/// A backtest's inputs, read from a mapping by these keys (`mutualize.sim.EngineInputs`'
/// fields; see docs/backtests.md): per market, per account, the path, the venue.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct Inputs<'py> {
    tick_value: Column<'py>,
    imr_bps: Column<'py>,
    mmr_bps: Column<'py>,
    penalty_bps: Column<'py>,
    collateral: Column<'py>,
    market: Column<'py>,
    size: Column<'py>,
    entry: Column<'py>,
    prices: PyReadonlyArray2<'py, i64>,
    funding: PyReadonlyArray2<'py, i64>,
    insurance_fund: i64,
    house_collateral: i64,
    slippage_bps: i64,
    impact_bps: i64,
    depth_lots: i64,
    session_steps: usize,
}

fn matrix<'a>(a: &'a PyReadonlyArray2<'_, i64>, what: &str) -> Result<&'a [i64], Raised> {
    a.as_slice()
        .map_err(|_| Raised::invalid(format!("{what} must be a C-contiguous int64 array")))
}

/// Runs a backtest; see `mutualize.sim.engine`. `inputs` maps the names of
/// `EngineInputs` to its arrays and numbers (minor units, ticks, lots, bps); `waterfall`
/// is the plain form; `granularity` is "step" or "bankruptcy", `scan` "index" or
/// "every". Returns `{"series": {...}, "accounts": {...}, "totals": {...}}` of int64
/// arrays and ints. `progress(step)` is called about every 1% of the steps.
#[pyfunction]
#[pyo3(signature = (inputs, waterfall, granularity, scan, progress=None))]
pub fn simulate<'py>(
    py: Python<'py>,
    inputs: Inputs<'py>,
    waterfall: &Bound<'py, PyDict>,
    granularity: &str,
    scan: &str,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let (tv, imr, mmr, pen) = (
        column(&inputs.tick_value, "tick_value")?,
        column(&inputs.imr_bps, "imr_bps")?,
        column(&inputs.mmr_bps, "mmr_bps")?,
        column(&inputs.penalty_bps, "penalty_bps")?,
    );
    if imr.len() != tv.len() || mmr.len() != tv.len() || pen.len() != tv.len() {
        return Err(Raised::invalid("market columns differ in length").into());
    }
    let mut markets: Vec<MarketTerms> = Vec::new();
    capacity::reserve(&mut markets, tv.len(), "markets").map_err(Raised::from)?;
    markets.extend((0..tv.len()).map(|m| MarketTerms {
        tick_value: tv[m],
        imr_bps: imr[m],
        mmr_bps: mmr[m],
        penalty_bps: pen[m],
    }));
    let market_ids = crate::args::ids(column(&inputs.market, "market")?)?;
    if inputs.prices.shape().get(1).copied() != Some(markets.len()) {
        return Err(Raised::invalid(format!(
            "prices must have one column per market ({})",
            markets.len()
        ))
        .into());
    }
    let granularity = match granularity {
        "step" => Granularity::Step,
        "bankruptcy" => Granularity::Bankruptcy,
        other => {
            return Err(Raised::invalid(format!(
                "granularity must be 'step' or 'bankruptcy', got {other:?}"
            ))
            .into())
        }
    };
    let scan = match scan {
        "index" => Scan::Index,
        "every" => Scan::Every,
        other => {
            return Err(
                Raised::invalid(format!("scan must be 'index' or 'every', got {other:?}")).into(),
            )
        }
    };
    let spec = Spec {
        markets: &markets,
        population: Population {
            collateral: column(&inputs.collateral, "collateral")?,
            market: &market_ids,
            size: column(&inputs.size, "size")?,
            entry: column(&inputs.entry, "entry")?,
        },
        prices: matrix(&inputs.prices, "prices")?,
        funding: matrix(&inputs.funding, "funding")?,
        insurance_fund: inputs.insurance_fund,
        house_collateral: inputs.house_collateral,
        slippage_bps: inputs.slippage_bps,
        impact_bps: inputs.impact_bps,
        depth_lots: inputs.depth_lots,
        session_steps: inputs.session_steps,
        waterfall: from_plain(py, waterfall)?,
        granularity,
        scan,
        keep_journal: false,
    };
    let steps = spec.prices.len() / markets.len().max(1);
    let every = (steps / 100).max(1);
    let mut stopped: Option<PyErr> = None;
    let result = py.detach(|| {
        let mut tick = |t: usize| -> mutualize_core::Result<()> {
            if !(t + 1).is_multiple_of(every) && t + 1 != steps {
                return Ok(());
            }
            Python::attach(|py| {
                let outcome = py.check_signals().and_then(|()| match &progress {
                    Some(f) => f.call1(py, (t + 1,)).map(|_| ()),
                    None => Ok(()),
                });
                outcome.map_err(|e| {
                    stopped = Some(e);
                    Error::InvalidArgument("stopped".to_owned())
                })
            })
        };
        sim::run(&spec, &mut tick)
    });
    if let Some(e) = stopped {
        return Err(e);
    }
    let run = result.map_err(Raised::from)?;
    let s = run.series;
    let series = PyDict::new(py);
    for (name, column) in [
        ("insurance_fund", s.insurance_fund),
        ("bad_debt", s.bad_debt),
        ("deferred_loss", s.deferred_loss),
        ("deficit", s.deficit),
        ("paid_insurance", s.paid_insurance),
        ("paid_socialized", s.paid_socialized),
        ("paid_adl", s.paid_adl),
        ("paid_bad_debt", s.paid_bad_debt),
        ("haircuts", s.haircuts),
        ("haircut_accounts", s.haircut_accounts),
        ("liquidations", s.liquidations),
        ("bankruptcies", s.bankruptcies),
        ("adl_fills", s.adl_fills),
        ("adl_lots", s.adl_lots),
        ("open_interest", s.open_interest),
    ] {
        series.set_item(name, column.into_pyarray(py))?;
    }
    let a = run.accounts;
    let accounts = PyDict::new(py);
    for (name, column) in [
        ("equity", a.equity),
        ("haircut", a.haircut),
        ("adl_lots", a.adl_lots),
        ("adl_loss", a.adl_loss),
        ("liquidated_step", a.liquidated_step),
        ("deficit", a.deficit),
    ] {
        accounts.set_item(name, column.into_pyarray(py))?;
    }
    let totals = PyDict::new(py);
    let l = &run.ledger;
    let house = l.equity(sim::HOUSE).map_err(Raised::from)?;
    totals.set_item("house_equity", house)?;
    totals.set_item("house_haircut", run.house_haircut)?;
    totals.set_item("bad_debt", l.bad_debt())?;
    totals.set_item(
        "insurance_fund_end",
        l.insurance_fund() + l.markets().iter().map(|m| m.insurance_fund).sum::<i128>(),
    )?;
    l.check().map_err(Raised::from)?;
    let out = PyDict::new(py);
    out.set_item("series", series)?;
    out.set_item("accounts", accounts)?;
    out.set_item("totals", totals)?;
    Ok(out)
}
