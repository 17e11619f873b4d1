//! Amounts (minor units, ticks, lots, basis points) from Python objects, exactly, as
//! `mutualize._coerce.as_amount` converts them (the reference's rule; tests/
//! test_ledger_binding.py holds the two to the same results and exception classes):
//! ints and numpy integers as they are, integral `Decimal` and `Fraction`, numeric
//! strings; floats and bools refused. Everything runs here, in Rust: no Python helper
//! is called (a `Decimal` is read through its exact string form).
//!
//! One difference remains: a numeric string takes ASCII digits only (Python's `Decimal`
//! also reads other scripts' decimal digits).

use crate::errors::{Kind, Raised};
use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyFloat, PyInt, PyString, PyType};

static DECIMAL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static FRACTION: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static NP_BOOL: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static NP_INTEGER: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static NP_FLOATING: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn is(value: &Bound<'_, PyAny>, class: &PyOnceLock<Py<PyType>>, module: &str, name: &str) -> bool {
    class
        .import(value.py(), module, name)
        .is_ok_and(|t| value.is_instance(t).unwrap_or(false))
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map_or_else(|_| "object".to_owned(), |n| n.to_string())
}

fn overflow(what: &str, shown: impl std::fmt::Display) -> Raised {
    Raised::new(
        Kind::AmountOverflow,
        format!("{what} = {shown} does not fit in int64 minor units"),
    )
}

fn float_refused(what: &str, value: &Bound<'_, PyAny>) -> Raised {
    match value.extract::<f64>() {
        Ok(v) if v.is_nan() => Raised::invalid(format!("{what} is NaN")),
        _ => Raised::new(
            Kind::AmountType,
            format!(
                "{what} is a float ({}); amounts are integer minor units: pass an int, a \
                 Decimal or a numeric str, or round explicitly first",
                value
                    .repr()
                    .map_or_else(|_| "?".to_owned(), |r| r.to_string())
            ),
        ),
    }
}

/// One amount as an exact `i64`, or the error `as_amount` raises for it.
pub fn amount(value: &Bound<'_, PyAny>, what: &str) -> Result<i64, Raised> {
    if value.is_exact_instance_of::<PyInt>() {
        return value.extract::<i64>().map_err(|_| overflow(what, value));
    }
    if value.is_instance_of::<PyBool>() || is(value, &NP_BOOL, "numpy", "bool_") {
        return Err(Raised::new(
            Kind::AmountType,
            format!("{what} must be an integer amount, got a bool"),
        ));
    }
    if value.is_instance_of::<PyInt>() || is(value, &NP_INTEGER, "numpy", "integer") {
        return match value.extract::<i64>() {
            Ok(v) => Ok(v),
            Err(e) if e.is_instance_of::<PyOverflowError>(value.py()) => Err(overflow(what, value)),
            Err(_) => Err(Raised::new(
                Kind::AmountType,
                format!("{what} must be an integer amount, got {}", type_name(value)),
            )),
        };
    }
    if value.is_instance_of::<PyFloat>() || is(value, &NP_FLOATING, "numpy", "floating") {
        return Err(float_refused(what, value));
    }
    if let Ok(text) = value.cast::<PyString>() {
        let text = text.to_cow().map_err(|_| not_a_number(what, value))?;
        return whole(parse(text.trim()), what, value, true);
    }
    if is(value, &DECIMAL, "decimal", "Decimal") {
        // A Decimal's str is its exact value (coefficient and exponent).
        let text = value.str().map_err(|_| not_a_number(what, value))?;
        let text = text.to_cow().map_err(|_| not_a_number(what, value))?;
        return whole(parse(&text), what, value, false);
    }
    if is(value, &FRACTION, "fractions", "Fraction") {
        let den = value
            .getattr("denominator")
            .and_then(|d| d.extract::<i64>());
        if den.ok() != Some(1) {
            return Err(Raised::invalid(format!(
                "{what} = {value} is not a whole number of minor units"
            )));
        }
        let num = value
            .getattr("numerator")
            .map_err(|_| not_a_number(what, value))?;
        return num.extract::<i64>().map_err(|_| overflow(what, &num));
    }
    Err(Raised::new(
        Kind::AmountType,
        format!("{what} must be an integer amount, got {}", type_name(value)),
    ))
}

fn not_a_number(what: &str, value: &Bound<'_, PyAny>) -> Raised {
    let shown = value
        .repr()
        .map_or_else(|_| "?".to_owned(), |r| r.to_string());
    Raised::invalid(format!("{what} = {shown} is not a number"))
}

/// The outcome of reading a decimal string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parsed {
    /// A whole number; `None` when it does not fit `i128` (its sign then is irrelevant:
    /// it cannot fit `i64` either).
    Whole(Option<i128>),
    /// A finite number with a fractional part.
    Fraction,
    /// Infinity or NaN.
    NotFinite,
    /// Not a number at all.
    Invalid,
}

/// Python `Decimal`'s syntax (underscores are dropped wherever they stand, as
/// CPython does), read exactly: `[sign] digits [. digits] [e [sign] digits]`, or
/// `Inf`, `Infinity`, `NaN`, `sNaN` (with optional digits), any case.
fn parse(text: &str) -> Parsed {
    let s: Vec<u8> = text.bytes().filter(|&b| b != b'_').collect();
    let (negative, body) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s.as_slice()),
    };
    let lower = body.to_ascii_lowercase();
    if lower == b"inf" || lower == b"infinity" {
        return Parsed::NotFinite;
    }
    for nan in [&b"nan"[..], &b"snan"[..]] {
        if let Some(payload) = lower.strip_prefix(nan) {
            return if payload.iter().all(u8::is_ascii_digit) {
                Parsed::NotFinite
            } else {
                Parsed::Invalid
            };
        }
    }
    let (mantissa, exponent) = match body.iter().position(|&b| b == b'e' || b == b'E') {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let (int_part, frac_part) = match mantissa.iter().position(|&b| b == b'.') {
        Some(at) => (&mantissa[..at], &mantissa[at + 1..]),
        None => (mantissa, &b""[..]),
    };
    let digits_ok = |d: &[u8]| d.iter().all(u8::is_ascii_digit);
    if int_part.is_empty() && frac_part.is_empty() || !digits_ok(int_part) || !digits_ok(frac_part)
    {
        return Parsed::Invalid;
    }
    // The exponent, saturated far beyond any amount; CPython refuses exponents of 10^18
    // and more (positive) as "not a number".
    let mut exp: i128 = 0;
    if let Some(e) = exponent {
        let (neg, digits) = match e.split_first() {
            Some((b'-', rest)) => (true, rest),
            Some((b'+', rest)) => (false, rest),
            _ => (false, e),
        };
        if digits.is_empty() || !digits_ok(digits) {
            return Parsed::Invalid;
        }
        for &d in digits {
            exp = (exp * 10 + i128::from(d - b'0')).min(1 << 80);
        }
        if !neg && exp >= 1_000_000_000_000_000_000 {
            return Parsed::Invalid;
        }
        if neg {
            exp = -exp;
        }
    }
    // value = coefficient x 10^(exp - len(frac)); the coefficient without its trailing
    // zeros decides whether it is whole.
    let coefficient: Vec<u8> = int_part.iter().chain(frac_part).copied().collect();
    let significant = match coefficient.iter().position(|&d| d != b'0') {
        Some(first) => &coefficient[first..],
        None => return Parsed::Whole(Some(0)),
    };
    let zeros = significant.iter().rev().take_while(|&&d| d == b'0').count();
    let kept = &significant[..significant.len() - zeros];
    let scale = exp - frac_part.len() as i128 + zeros as i128;
    if scale < 0 {
        return Parsed::Fraction;
    }
    // More than 39 digits cannot fit i128.
    if kept.len() as i128 + scale > 39 {
        return Parsed::Whole(None);
    }
    let mut v: i128 = 0;
    for &d in kept {
        v = match v
            .checked_mul(10)
            .and_then(|v| v.checked_add(i128::from(d - b'0')))
        {
            Some(v) => v,
            None => return Parsed::Whole(None),
        };
    }
    for _ in 0..scale {
        v = match v.checked_mul(10) {
            Some(v) => v,
            None => return Parsed::Whole(None),
        };
    }
    Parsed::Whole(Some(if negative { -v } else { v }))
}

/// The amount a parsed decimal gives, or `as_amount`'s error (`from_str`: it was a str,
/// whose unparsable form is "not a number"; a Decimal's never is).
fn whole(
    parsed: Parsed,
    what: &str,
    value: &Bound<'_, PyAny>,
    from_str: bool,
) -> Result<i64, Raised> {
    match parsed {
        Parsed::Whole(Some(v)) => i64::try_from(v).map_err(|_| overflow(what, v)),
        Parsed::Whole(None) => Err(overflow(what, value)),
        Parsed::Fraction => Err(Raised::invalid(format!(
            "{what} = {value} is not a whole number of minor units"
        ))),
        Parsed::NotFinite => Err(Raised::invalid(format!(
            "{what} must be finite, got {value}"
        ))),
        Parsed::Invalid if from_str => Err(not_a_number(what, value)),
        Parsed::Invalid => Err(Raised::invalid(format!("{what} = {value} is not a number"))),
    }
}
