//! The waterfall's plain form (a dict, see docs/ledger.md) to and from the core types.

use crate::errors::Raised;
use mutualize_core::ledger::{rounding_name, rule_name};
use mutualize_core::{Base, Ranking, Stage, StagePrice, Timing, Waterfall};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

fn invalid(py: Python<'_>, msg: String) -> PyErr {
    Raised::invalid(msg).to_pyerr(py)
}

fn core(py: Python<'_>) -> impl Fn(mutualize_core::Error) -> PyErr + '_ {
    move |e| Raised::from(e).to_pyerr(py)
}

fn key<'py>(d: &Bound<'py, PyDict>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    d.get_item(name)?.ok_or_else(|| {
        invalid(
            d.py(),
            format!("waterfall stage is missing the key {name:?}"),
        )
    })
}

fn text(d: &Bound<'_, PyDict>, name: &str) -> PyResult<String> {
    key(d, name)?
        .extract::<String>()
        .map_err(|_| invalid(d.py(), format!("waterfall key {name:?} must be a str")))
}

fn parse<T: std::str::FromStr<Err = mutualize_core::Error>>(
    py: Python<'_>,
    s: &str,
) -> PyResult<T> {
    s.parse().map_err(core(py))
}

/// `None` or a `[num, den]` pair (a list in the plain form; a tuple is fine too).
fn rate(py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<Option<(i64, i64)>> {
    if value.is_none() {
        return Ok(None);
    }
    match value.extract::<Vec<i64>>().ok().as_deref() {
        Some(&[num, den]) => Ok(Some((num, den))),
        _ => Err(invalid(
            py,
            format!("max_rate must be None or [num, den], got {value}"),
        )),
    }
}

fn stage(py: Python<'_>, d: &Bound<'_, PyDict>) -> PyResult<Stage> {
    let kind = text(d, "kind")?;
    Ok(match kind.as_str() {
        "insurance_fund" => Stage::InsuranceFund {
            cap: key(d, "cap")?.extract()?,
            floor: key(d, "floor")?.extract()?,
            per_market: key(d, "per_market")?.extract()?,
        },
        "fee_pool" => Stage::FeePool,
        "adl" => Stage::Adl {
            ranking: parse::<Ranking>(py, &text(d, "ranking")?)?,
            price: parse::<StagePrice>(py, &text(d, "price")?)?,
            seed: key(d, "seed")?.extract()?,
            scores: key(d, "scores")?.extract()?,
        },
        "socialize" => Stage::Socialize {
            rule: parse(py, &text(d, "rule")?)?,
            rounding: parse(py, &text(d, "rounding")?)?,
            base: parse::<Base>(py, &text(d, "base")?)?,
            max_rate: rate(py, &key(d, "max_rate")?)?,
            weights: key(d, "weights")?.extract()?,
        },
        other => {
            return Err(invalid(
                py,
                format!("unknown waterfall stage kind {other:?}"),
            ))
        }
    })
}

/// Parses and validates the plain form.
pub fn from_plain(py: Python<'_>, plain: &Bound<'_, PyDict>) -> PyResult<Waterfall> {
    let stages_obj = key(plain, "stages")?;
    let stages_list = stages_obj
        .cast::<PyList>()
        .map_err(|_| invalid(py, "waterfall 'stages' must be a list".to_owned()))?;
    let mut stages = Vec::with_capacity(stages_list.len());
    for item in stages_list.iter() {
        let d = item
            .cast::<PyDict>()
            .map_err(|_| invalid(py, "each waterfall stage must be a dict".to_owned()))?;
        stages.push(stage(py, d)?);
    }
    let waterfall = Waterfall {
        stages,
        timing: parse::<Timing>(py, &text(plain, "timing")?)?,
        lock_session_profit: key(plain, "lock_session_profit")?.extract()?,
    };
    waterfall.validate().map_err(core(py))?;
    Ok(waterfall)
}

/// The plain form of a configuration.
pub fn to_plain<'py>(py: Python<'py>, w: &Waterfall) -> PyResult<Bound<'py, PyDict>> {
    let stages = PyList::empty(py);
    for s in &w.stages {
        let d = PyDict::new(py);
        match s {
            Stage::InsuranceFund {
                cap,
                floor,
                per_market,
            } => {
                d.set_item("kind", "insurance_fund")?;
                d.set_item("cap", cap)?;
                d.set_item("floor", floor)?;
                d.set_item("per_market", per_market)?;
            }
            Stage::FeePool => d.set_item("kind", "fee_pool")?,
            Stage::Adl {
                ranking,
                price,
                seed,
                scores,
            } => {
                d.set_item("kind", "adl")?;
                d.set_item("ranking", ranking.as_str())?;
                d.set_item("price", price.as_str())?;
                d.set_item("seed", seed)?;
                d.set_item(
                    "scores",
                    scores.as_ref().map(|s| PyList::new(py, s)).transpose()?,
                )?;
            }
            Stage::Socialize {
                rule,
                rounding,
                base,
                max_rate,
                weights,
            } => {
                d.set_item("kind", "socialize")?;
                d.set_item("rule", rule_name(*rule))?;
                d.set_item("rounding", rounding_name(*rounding))?;
                d.set_item("base", base.as_str())?;
                let rate = max_rate.map(|(n, d)| PyList::new(py, [n, d])).transpose()?;
                d.set_item("max_rate", rate)?;
                d.set_item(
                    "weights",
                    weights.as_ref().map(|w| PyList::new(py, w)).transpose()?,
                )?;
            }
        }
        stages.append(d)?;
    }
    let plain = PyDict::new(py);
    plain.set_item("stages", stages)?;
    plain.set_item("timing", w.timing.as_str())?;
    plain.set_item("lock_session_profit", w.lock_session_profit)?;
    Ok(plain)
}
