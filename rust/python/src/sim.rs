//! Binding of the backtest engine: borrow the numpy columns, run detached from the GIL
//! (attaching only to report progress and check for Ctrl-C), hand the columns back as
//! numpy arrays.

use crate::errors::{core, not_contiguous, raise};
use crate::waterfall::from_plain;
use mutualize_core::sim::{self, Granularity, MarketTerms, Population, Scan, Spec};
use mutualize_core::Error;
use numpy::{IntoPyArray, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::PyDict;

type Column<'py> = PyReadonlyArray1<'py, i64>;

fn slice<'a>(py: Python<'_>, a: &'a Column<'_>, what: &str) -> PyResult<&'a [i64]> {
    a.as_slice().map_err(|_| not_contiguous(py, what))
}

fn invalid(py: Python<'_>, msg: String) -> PyErr {
    raise(py, "InvalidInputError", msg)
}

/// Runs a backtest; see `mutualize.sim.engine`. Returns `{"series": {...}, "accounts":
/// {...}}` of int64 arrays. `progress(step)` is called about every 1% of the steps.
#[pyfunction]
#[pyo3(signature = (
    tick_value, imr_bps, mmr_bps, penalty_bps, collateral, market, size, entry, prices,
    funding, insurance_fund, house_collateral, slippage_bps, impact_bps, depth_lots,
    session_steps, waterfall, granularity, scan, progress
))]
#[allow(clippy::too_many_arguments)]
pub fn simulate<'py>(
    py: Python<'py>,
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
    waterfall: &Bound<'py, PyDict>,
    granularity: &str,
    scan: &str,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let (tv, imr, mmr, pen) = (
        slice(py, &tick_value, "tick_value")?,
        slice(py, &imr_bps, "imr_bps")?,
        slice(py, &mmr_bps, "mmr_bps")?,
        slice(py, &penalty_bps, "penalty_bps")?,
    );
    if imr.len() != tv.len() || mmr.len() != tv.len() || pen.len() != tv.len() {
        return Err(invalid(py, "market columns differ in length".to_owned()));
    }
    let markets: Vec<MarketTerms> = (0..tv.len())
        .map(|m| MarketTerms {
            tick_value: tv[m],
            imr_bps: imr[m],
            mmr_bps: mmr[m],
            penalty_bps: pen[m],
        })
        .collect();
    let market_ids: Vec<usize> = slice(py, &market, "market")?
        .iter()
        .map(|&m| usize::try_from(m).unwrap_or(usize::MAX))
        .collect();
    if prices.shape().get(1).copied() != Some(markets.len()) {
        return Err(invalid(
            py,
            format!("prices must have one column per market ({})", markets.len()),
        ));
    }
    let granularity = match granularity {
        "step" => Granularity::Step,
        "bankruptcy" => Granularity::Bankruptcy,
        other => {
            return Err(invalid(
                py,
                format!("granularity must be 'step' or 'bankruptcy', got {other:?}"),
            ))
        }
    };
    let scan = match scan {
        "index" => Scan::Index,
        "every" => Scan::Every,
        other => {
            return Err(invalid(
                py,
                format!("scan must be 'index' or 'every', got {other:?}"),
            ))
        }
    };
    let spec = Spec {
        markets: &markets,
        population: Population {
            collateral: slice(py, &collateral, "collateral")?,
            market: &market_ids,
            size: slice(py, &size, "size")?,
            entry: slice(py, &entry, "entry")?,
        },
        prices: prices
            .as_slice()
            .map_err(|_| not_contiguous(py, "prices"))?,
        funding: funding
            .as_slice()
            .map_err(|_| not_contiguous(py, "funding"))?,
        insurance_fund,
        house_collateral,
        slippage_bps,
        impact_bps,
        depth_lots,
        session_steps,
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
    let run = result.map_err(core(py))?;
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
    let house = l.equity(sim::HOUSE).map_err(core(py))?;
    totals.set_item("house_equity", house)?;
    totals.set_item("house_haircut", run.house_haircut)?;
    totals.set_item("bad_debt", l.bad_debt())?;
    totals.set_item(
        "insurance_fund_end",
        l.insurance_fund() + l.markets().iter().map(|m| m.insurance_fund).sum::<i128>(),
    )?;
    l.check().map_err(core(py))?;
    let out = PyDict::new(py);
    out.set_item("series", series)?;
    out.set_item("accounts", accounts)?;
    out.set_item("totals", totals)?;
    Ok(out)
}
