//! `mutualize-core`: integer-exact loss mutualization for derivatives venues.
//!
//! Money is an integer count of the settlement asset's minor unit; nothing on a money
//! path is a float. See `shared/spec/mechanism.md` for the mechanism.

pub mod allocate;
pub mod amount;
pub mod capacity;
pub mod error;
pub mod ledger;
pub mod sim;

pub use allocate::{
    allocate, allocate_into, allocate_many, BatchSummary, Options, Rate, Rounding, Rule, Summary,
};
pub use error::{Error, ErrorKind, Result};
pub use ledger::{
    AdlFill, AdlPrice, Base, Close, Event, FillArgs, Ledger, Market, Position, Ranking, Stage,
    StageKind, StagePrice, Timing, Waterfall,
};
