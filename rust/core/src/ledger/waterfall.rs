//! The loss waterfall's configuration (docs/ledger.md "The waterfall"): which stages run,
//! in what order, and when. Applying it is in `liquidate.rs` and `session.rs`.

use crate::allocate::{Rate, Rounding, Rule};
use crate::error::{Error, Result};
use std::str::FromStr;

fn invalid<T>(msg: String) -> Result<T> {
    Err(Error::InvalidArgument(msg))
}

/// When socialized losses are collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Timing {
    /// At each bankruptcy.
    #[default]
    Immediate,
    /// Accrued in `deferred_loss` and clawed back from session profits at settlement.
    Deferred,
    /// Accrued in `deferred_loss` and allocated at settlement over the socialize stage's
    /// own base, in one allocation: a backtest's "per step" socialization.
    Batched,
}

/// What a socialize stage haircuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Base {
    /// Equity gained this session (minus net deposits).
    SessionProfit,
    /// Sum over markets of unrealized PnL.
    #[default]
    UnrealizedPnl,
    /// Positive equity.
    Equity,
    /// Notional in the bankrupt account's first market, capped by `max(0, equity)`.
    OpenInterest,
    /// The stage's `weights`, capped by `max(0, equity)`.
    Weights,
}

/// How ADL ranks opposite positions (score descending, ties to the smaller id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ranking {
    /// PnL% x effective leverage (divided when PnL < 0): BitMEX, Bybit, Binance.
    #[default]
    PnlLeverage,
    /// Unrealized PnL in the market.
    Pnl,
    /// (mark / entry) x (notional / equity), price ratio inverted for shorts.
    Hyperliquid,
    /// Id order rotated by the seed (dYdX).
    Random,
    /// The stage's `scores`, one per account.
    Scores,
}

/// The price of an ADL stage's closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StagePrice {
    /// The bankrupt position's bankruptcy price.
    #[default]
    Bankruptcy,
    /// The market's mark.
    Mark,
}

/// One stage of the waterfall.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// Pays `min(D, max(0, insurance_fund - floor), cap)` (minor units).
    /// With `per_market`, the bankrupt market's own fund pays (and receives the penalty).
    InsuranceFund {
        cap: Option<i64>,
        floor: i64,
        per_market: bool,
    },
    /// Pays `min(D, fee_pool)`.
    FeePool,
    /// Deleverages the bankrupt account against ranked opposite positions.
    Adl {
        ranking: Ranking,
        price: StagePrice,
        seed: i64,
        scores: Option<Vec<i64>>,
    },
    /// Allocates `D` over the base's claims (or defers it to the session's end).
    Socialize {
        rule: Rule,
        rounding: Rounding,
        base: Base,
        /// `(num, den)`: a maximum haircut rate.
        max_rate: Option<(i64, i64)>,
        weights: Option<Vec<i64>>,
    },
}

/// A stage's kind, also naming the payers in a liquidation event (with `BadDebt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageKind {
    InsuranceFund,
    FeePool,
    Adl,
    Socialize,
    /// The residual: what no stage paid (only in events).
    BadDebt,
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waterfall {
    pub stages: Vec<Stage>,
    pub timing: Timing,
    /// Withdrawals must also leave `equity - max(0, session_profit) >= initial`.
    pub lock_session_profit: bool,
}

impl Default for Waterfall {
    /// `[insurance_fund(), socialize()]`, immediate.
    fn default() -> Self {
        Waterfall {
            stages: vec![Stage::insurance_fund(), Stage::socialize()],
            timing: Timing::Immediate,
            lock_session_profit: false,
        }
    }
}

impl Stage {
    /// `insurance_fund(cap=None, floor=0)`.
    pub fn insurance_fund() -> Stage {
        Stage::InsuranceFund {
            cap: None,
            floor: 0,
            per_market: false,
        }
    }

    /// `socialize()` with every default: pro_rata, exact, unrealized_pnl.
    pub fn socialize() -> Stage {
        Stage::Socialize {
            rule: Rule::ProRata,
            rounding: Rounding::Exact,
            base: Base::UnrealizedPnl,
            max_rate: None,
            weights: None,
        }
    }

    /// `adl()` with every default: pnl_leverage at the bankruptcy price.
    pub fn adl() -> Stage {
        Stage::Adl {
            ranking: Ranking::PnlLeverage,
            price: StagePrice::Bankruptcy,
            seed: 0,
            scores: None,
        }
    }

    pub fn kind(&self) -> StageKind {
        match self {
            Stage::InsuranceFund { .. } => StageKind::InsuranceFund,
            Stage::FeePool => StageKind::FeePool,
            Stage::Adl { .. } => StageKind::Adl,
            Stage::Socialize { .. } => StageKind::Socialize,
        }
    }

    fn validate(&self) -> Result<()> {
        match self {
            Stage::InsuranceFund { cap, floor, .. } => {
                if let Some(cap) = cap {
                    if *cap < 0 {
                        return invalid(format!("insurance_fund cap must be >= 0, got {cap}"));
                    }
                }
                if *floor < 0 {
                    return invalid(format!("insurance_fund floor must be >= 0, got {floor}"));
                }
            }
            Stage::FeePool => {}
            Stage::Adl {
                ranking, scores, ..
            } => match (ranking, scores) {
                (Ranking::Scores, None) => {
                    return invalid("adl ranking 'scores' needs a scores list".to_owned())
                }
                (Ranking::Scores, Some(_)) | (_, None) => {}
                (other, Some(_)) => {
                    return invalid(format!(
                        "adl scores are only used with ranking 'scores', not {:?}",
                        other.as_str()
                    ))
                }
            },
            Stage::Socialize {
                rule,
                rounding,
                base,
                max_rate,
                weights,
            } => {
                let capped = matches!(base, Base::OpenInterest | Base::Weights);
                if let Some((num, den)) = max_rate {
                    if *num < 0 || *den <= 0 || num > den {
                        return invalid(format!(
                            "max_rate must be [num, den] with 0 <= num <= den and den > 0, got [{num}, {den}]"
                        ));
                    }
                }
                if *rounding != Rounding::Exact {
                    if max_rate.is_some() {
                        return invalid("socialize max_rate needs rounding 'exact'".to_owned());
                    }
                    if capped {
                        return invalid(format!(
                            "socialize base {:?} caps claims by equity and needs rounding 'exact'",
                            base.as_str()
                        ));
                    }
                    if *rule != Rule::ProRata {
                        return invalid(format!(
                            "socialize rule {:?} only takes rounding 'exact'",
                            rule_name(*rule)
                        ));
                    }
                }
                if *rule == Rule::EqualAward && (max_rate.is_some() || capped) {
                    return invalid(
                        "socialize rule 'equal_award' takes no max_rate and no open_interest or weights base".to_owned(),
                    );
                }
                match (base, weights) {
                    (Base::Weights, None) => {
                        return invalid("socialize base 'weights' needs a weights list".to_owned())
                    }
                    (Base::Weights, Some(w)) => {
                        if let Some(v) = w.iter().find(|&&v| v < 0) {
                            return invalid(format!("socialize weights must be >= 0, got {v}"));
                        }
                    }
                    (_, None) => {}
                    (other, Some(_)) => {
                        return invalid(format!(
                            "socialize weights are only used with base 'weights', not {:?}",
                            other.as_str()
                        ))
                    }
                }
            }
        }
        Ok(())
    }

    /// The allocation kernel's maximum rate, if any (validated).
    pub(crate) fn rate(max_rate: Option<(i64, i64)>) -> Result<Option<Rate>> {
        match max_rate {
            None => Ok(None),
            Some((n, d)) => {
                let n = u128::try_from(n).map_err(|_| Error::InvalidRate { num: 0, den: 0 })?;
                let d = u128::try_from(d).map_err(|_| Error::InvalidRate { num: n, den: 0 })?;
                Rate::new(n, d).map(Some)
            }
        }
    }
}

impl Waterfall {
    /// The configuration errors of docs/ledger.md, plus every combination the allocation
    /// kernel would refuse at liquidation time (so a liquidation never fails on them).
    pub fn validate(&self) -> Result<()> {
        let mut seen: Vec<StageKind> = Vec::with_capacity(self.stages.len());
        for stage in &self.stages {
            let kind = stage.kind();
            if seen.contains(&kind) {
                return invalid(format!("waterfall stage {:?} appears twice", kind.as_str()));
            }
            seen.push(kind);
            stage.validate()?;
            if let Stage::Socialize {
                base: Base::OpenInterest,
                ..
            } = stage
            {
                if self.timing == Timing::Batched {
                    // A batch mixes bankruptcies of several markets: no market to share by.
                    return invalid(
                        "batched timing cannot socialize over base 'open_interest'".to_owned(),
                    );
                }
            }
        }
        Ok(())
    }

    /// The socialize stage, if the waterfall has one.
    pub(crate) fn socialize(&self) -> Option<&Stage> {
        self.stages
            .iter()
            .find(|s| matches!(s, Stage::Socialize { .. }))
    }

    /// The ADL stage, if the waterfall has one.
    pub(crate) fn adl(&self) -> Option<&Stage> {
        self.stages.iter().find(|s| matches!(s, Stage::Adl { .. }))
    }
}

/// The plain-form name of an allocation rule.
pub fn rule_name(rule: Rule) -> &'static str {
    match rule {
        Rule::ProRata => "pro_rata",
        Rule::EqualLoss => "equal_loss",
        Rule::EqualAward => "equal_award",
    }
}

/// The plain-form name of a rounding.
pub fn rounding_name(rounding: Rounding) -> &'static str {
    match rounding {
        Rounding::Exact => "exact",
        Rounding::Down => "down",
        Rounding::Up => "up",
    }
}

macro_rules! names {
    ($ty:ident, $what:literal, $($variant:ident => $name:literal),+ $(,)?) => {
        impl $ty {
            /// The plain-form name.
            pub fn as_str(&self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }
        }
        impl FromStr for $ty {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                match s {
                    $($name => Ok($ty::$variant),)+
                    other => invalid(format!(
                        concat!("unknown ", $what, " {:?}: expected one of {}"),
                        other,
                        [$($name),+].join(", ")
                    )),
                }
            }
        }
    };
}

names!(Timing, "timing", Immediate => "immediate", Deferred => "deferred", Batched => "batched");
names!(Base, "base",
    SessionProfit => "session_profit",
    UnrealizedPnl => "unrealized_pnl",
    Equity => "equity",
    OpenInterest => "open_interest",
    Weights => "weights",
);
names!(Ranking, "ranking",
    PnlLeverage => "pnl_leverage",
    Pnl => "pnl",
    Hyperliquid => "hyperliquid",
    Random => "random",
    Scores => "scores",
);
names!(StagePrice, "adl price", Bankruptcy => "bankruptcy", Mark => "mark");
names!(StageKind, "stage kind",
    InsuranceFund => "insurance_fund",
    FeePool => "fee_pool",
    Adl => "adl",
    Socialize => "socialize",
    BadDebt => "bad_debt",
);
