//! The one error type of the core. The Python binding maps each kind to one exception.

use std::fmt;

/// Which Python-level family an error belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A value the mechanism cannot accept (`ValueError`).
    InvalidInput,
    /// A value or a result that does not fit the declared integer type (`OverflowError`).
    Overflow,
    /// An operation would leave an account below its margin requirement, or a
    /// deleveraging counterparty below zero equity (`InsufficientMarginError`).
    InsufficientMargin,
    /// A liquidation of an account whose equity covers its maintenance requirement
    /// (`NotLiquidatableError`).
    NotLiquidatable,
    /// `Ledger::check` found a broken invariant (`InvariantError`).
    Invariant,
    /// A snapshot or journal that cannot be decoded or replayed (`CorruptSnapshotError`).
    Corrupt,
    /// Memory for a size the caller gave could not be reserved; nothing changed
    /// (`OutOfMemoryError`, a `MemoryError`).
    OutOfMemory,
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
    /// A ledger quantity that does not fit its exact integer type (`ty`: "int128" for
    /// money, "int64" for sizes and inputs).
    AmountOverflow {
        what: &'static str,
        ty: &'static str,
    },
    /// A ledger account id that does not exist.
    UnknownAccount(usize),
    /// A ledger market id that does not exist.
    UnknownMarket(usize),
    /// Any other ledger argument or configuration the mechanism cannot accept.
    InvalidArgument(String),
    /// Margin (or deleveraging counterparty equity) would be insufficient.
    InsufficientMargin(String),
    /// The account is not liquidatable.
    NotLiquidatable(usize),
    /// A broken ledger invariant, naming it.
    Invariant(String),
    /// A snapshot or journal that cannot be decoded or replayed.
    Corrupt(String),
    /// `count` more `what` (about `bytes` bytes) could not be reserved.
    OutOfMemory {
        what: &'static str,
        count: usize,
        bytes: usize,
    },
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Overflow(_) | Error::AmountOverflow { .. } => ErrorKind::Overflow,
            Error::InsufficientMargin(_) => ErrorKind::InsufficientMargin,
            Error::NotLiquidatable(_) => ErrorKind::NotLiquidatable,
            Error::Invariant(_) => ErrorKind::Invariant,
            Error::Corrupt(_) => ErrorKind::Corrupt,
            Error::OutOfMemory { .. } => ErrorKind::OutOfMemory,
            Error::UnknownRule(_)
            | Error::UnknownRounding(_)
            | Error::NegativeLoss(_)
            | Error::LengthMismatch { .. }
            | Error::Negative { .. }
            | Error::DuplicateId(_)
            | Error::InvalidRate { .. }
            | Error::UnsupportedOption { .. }
            | Error::InvalidOffsets(_)
            | Error::UnknownAccount(_)
            | Error::UnknownMarket(_)
            | Error::InvalidArgument(_) => ErrorKind::InvalidInput,
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
            Error::AmountOverflow { what, ty } => write!(f, "{what} does not fit in {ty}"),
            Error::UnknownAccount(a) => write!(f, "unknown account id {a}"),
            Error::UnknownMarket(m) => write!(f, "unknown market id {m}"),
            Error::InvalidArgument(msg) => f.write_str(msg),
            Error::InsufficientMargin(msg) => f.write_str(msg),
            Error::NotLiquidatable(a) => write!(
                f,
                "account {a} is not liquidatable: it has no position or its equity covers its maintenance requirement"
            ),
            Error::Invariant(msg) => write!(f, "invariant violated: {msg}"),
            Error::Corrupt(msg) => write!(f, "corrupt snapshot or journal: {msg}"),
            Error::OutOfMemory { what, count, bytes } => write!(
                f,
                "cannot reserve memory for {count} {what} (about {bytes} bytes): nothing changed"
            ),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
