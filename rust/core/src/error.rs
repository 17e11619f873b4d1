//! The one error type of the core. The Python binding maps each kind to one exception.

use std::fmt;

/// Which Python-level family an error belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A value the mechanism cannot accept (`ValueError`).
    InvalidInput,
    /// A value or a result that does not fit the declared integer type (`OverflowError`).
    Overflow,
}

/// Everything that can go wrong in the core, with enough context to say what and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    UnknownRule(String),
    UnknownRounding(String),
    NegativeLoss(i64),
    LengthMismatch {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    Negative {
        what: &'static str,
        index: usize,
        value: i64,
    },
    DuplicateId(i64),
    InvalidRate {
        num: u128,
        den: u128,
    },
    /// An option that the chosen rule or rounding does not take.
    UnsupportedOption {
        option: &'static str,
        context: String,
    },
    InvalidOffsets(String),
    /// A result that does not fit the type it must be returned in.
    Overflow(&'static str),
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Overflow(_) => ErrorKind::Overflow,
            _ => ErrorKind::InvalidInput,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownRule(r) => write!(
                f,
                "unknown rule {r:?}: expected 'pro_rata', 'equal_loss' or 'equal_award'"
            ),
            Error::UnknownRounding(r) => write!(
                f,
                "unknown rounding {r:?}: expected 'exact', 'down' or 'up'"
            ),
            Error::NegativeLoss(l) => write!(f, "loss must be >= 0 minor units, got {l}"),
            Error::LengthMismatch {
                what,
                expected,
                got,
            } => write!(
                f,
                "{what} has {got} entries but claims has {expected}: they must match one to one"
            ),
            Error::Negative { what, index, value } => {
                write!(f, "{what} must be >= 0, got {value} at position {index}")
            }
            Error::DuplicateId(id) => write!(f, "account ids must be unique, {id} appears twice"),
            Error::InvalidRate { num, den } => write!(
                f,
                "max_rate must be a fraction between 0 and 1 with a positive denominator, got {num}/{den}"
            ),
            Error::UnsupportedOption { option, context } => {
                write!(f, "{option} cannot be used with {context}")
            }
            Error::InvalidOffsets(msg) => write!(f, "invalid offsets: {msg}"),
            Error::Overflow(what) => write!(f, "{what} does not fit in int64"),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
