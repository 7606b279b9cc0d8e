//! Delivery costs: what the provider pays a CDN, a transit carrier or the power company, and
//! how much of a CDN bill peer offload saves once the peers are paid.
//!
//! Functions of prices, volumes and running totals, no state, no I/O. Model card: `models/costs.md`;
//! reference values: `../shared/reference/literature.md` §6.3 and §7.
//!
//! The pieces, one file per concern:
//!
//! * [`tiers`]: tiered per-GB pricing ([`TierTable`]): the monthly volume runs through
//!   cumulative tiers, each GB at its tier's price, times `1 − commit_discount`.
//!   [`TierTable::cloudfront_us`] is the default (Amazon CloudFront list prices, US column).
//!   Billing GB = 2^30 bytes ([`GB`]); 1 TB = 1024 GB ([`TB_GB`]).
//! * [`billing`]: billing conventions: 95th-percentile burstable billing on 5-minute samples
//!   ([`percentile_95`], [`resample_5min`]), scaling a simulated horizon to a billing month
//!   ([`month_scale`]), and converting a transit price in $/Mbps/month to $/GB and back.
//! * [`energy`]: electricity cost of a device drawing a constant power
//!   ([`annual_energy_cost`], [`energy_cost`]).
//! * [`basis`]: the billing rule: what a billed month contains (a recurring pattern's steady
//!   window, or an event so many times a month with the rest idle), assembled from exact
//!   5-minute running totals, never a horizon scaled to a month (`month_scale` is kept as a
//!   library function; `compare` does not use it).
//! * [`ledger`]: the four architectures (client-server, CDN, peer-assisted, hybrid) priced on
//!   the same billed month at equal service, every origin sized at headroom × its exact peak;
//!   the peers' ledgers per class.
//! * [`book`]: price books, one market level each with sources and dates
//!   (`models/prices/`).
//! * [`verdict`]: the three lines `compare` opens with.
//! * [`coordination`]: how peers find each other (tracker, DHT, flooding) and what it costs
//!   the provider (tracker servers) and the peers (bytes they send), on the billed month's
//!   population (`models/coordination.md`).
//! * [`hybrid`]: CDN + peer offload ([`hybrid_outcome`]): the CDN bill before and after a
//!   fraction of the volume is served by peers, the break-even payment per offloaded GB, the
//!   fluid-Shapley payment per offloaded GB (integrated exactly over the tiers), and the
//!   provider's net saving.
//! * [`book`]: price books ([`PriceBook`]): one coherent set of prices (CDN tiers, transit,
//!   origin server capacity, electricity) at one market level, with sources, read from the
//!   data files `models/prices/<name>.toml` embedded in the binary.
//!
//! Units are the [`crate::units`] aliases: volumes in billing GB (`f64`), prices in
//! [`UsdPerGb`](crate::units::UsdPerGb), money in [`Usd`](crate::units::Usd). Invalid inputs
//! give a [`CostError`] naming the quantity, its allowed range and the value.

pub mod basis;
pub mod billing;
pub mod book;
pub mod coordination;
pub mod energy;
pub mod hybrid;
pub mod ledger;
pub mod tiers;
pub mod verdict;

pub use billing::{
    month_scale, percentile_95, resample_5min, usd_per_gb_from_mbps_month,
    usd_per_mbps_month_from_gb, DEFAULT_BILLING_MONTH_S, MBPS_MONTH_BYTES, SAMPLE_INTERVAL_S,
};
pub use book::PriceBook;
pub use energy::{annual_energy_cost, energy_cost, HOURS_PER_YEAR};
pub use hybrid::{fluid_shapley_price, hybrid_outcome, HybridOutcome};
pub use tiers::{billing_gb, Tier, TierTable, GB, TB_GB};

/// An invalid input to a cost function: every message names the quantity, its allowed range
/// and the value received.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CostError {
    /// A tier table with no tiers.
    #[error("tier table is empty: it needs at least one tier, the last one unbounded (`up_to_gb` = None)")]
    NoTiers,
    /// One tier of a tier table is out of range (0-based index).
    #[error("tier {index}: `{field}` must be {range} (got {})", show_bound(*.got))]
    Tier {
        /// 0-based position of the tier in the table.
        index: usize,
        /// The offending field: `up_to_gb` or `price`.
        field: &'static str,
        /// The allowed range, in words.
        range: String,
        /// The value received (`None` = unbounded).
        got: Option<f64>,
    },
    /// A run cannot be billed under its billing rule (the message says why and what to change).
    #[error("billing: {0}")]
    Billing(String),
    /// A scalar argument is out of range.
    #[error("`{name}` must be {range} (got {got})")]
    OutOfRange {
        /// The argument's name.
        name: &'static str,
        /// The allowed range, in words.
        range: &'static str,
        /// The value received.
        got: f64,
    },
    /// A series that must not be empty is empty.
    #[error("`{name}` is empty: at least one sample is needed")]
    Empty {
        /// The series' name.
        name: &'static str,
    },
    /// One sample of a series is out of range (0-based index).
    #[error("`{name}[{index}]` must be {range} (got {got})")]
    Sample {
        /// The series' name.
        name: &'static str,
        /// 0-based position of the sample.
        index: usize,
        /// The allowed range, in words.
        range: &'static str,
        /// The value received.
        got: f64,
    },
    /// Two series that pair up element by element have different lengths.
    #[error(
        "`{first}` and `{second}` must have the same length (got {first_len} and {second_len})"
    )]
    LengthMismatch {
        /// The first series' name.
        first: &'static str,
        /// Its length.
        first_len: usize,
        /// The second series' name.
        second: &'static str,
        /// Its length.
        second_len: usize,
    },
    /// Sample times go backwards.
    #[error("`{name}[{index}]` must be ≥ `{name}[{}]` = {previous} s (got {got} s)", .index - 1)]
    TimeBackwards {
        /// The series' name.
        name: &'static str,
        /// 0-based position of the offending time (≥ 1).
        index: usize,
        /// The time before it.
        previous: f64,
        /// The offending time.
        got: f64,
    },
    /// A price book has a key that is missing, of the wrong type, unknown or out of range.
    #[error("price book '{book}': `{key}` {problem}")]
    BookKey {
        /// The label the book was read under: a built-in's name or a file's.
        book: String,
        /// The dotted key, e.g. `transit.value` or `cdn.tiers[2].up_to`.
        key: String,
        /// What is wrong, with the allowed range and the value as written.
        problem: String,
    },
    /// A price book is not valid TOML.
    #[error("price book '{book}': not valid TOML: {problem}")]
    BookSyntax {
        /// The label the book was read under.
        book: String,
        /// The parser's message, with line and column.
        problem: String,
    },
    /// No built-in price book has this name.
    #[error("unknown price book \"{name}\": the built-in books are {}", .known.join(", "))]
    UnknownBook {
        /// The name asked for.
        name: String,
        /// The built-in books' names.
        known: &'static [&'static str],
    },
}

/// `None` → "None", `Some(x)` → `x` as Rust prints it (for [`CostError::Tier`]).
fn show_bound(bound: Option<f64>) -> String {
    match bound {
        None => "None".to_string(),
        Some(x) => x.to_string(),
    }
}

/// `Ok(x)` if `x` is finite and ≥ 0, else [`CostError::OutOfRange`] naming `name`.
fn check_non_negative(name: &'static str, x: f64) -> Result<f64, CostError> {
    if x.is_finite() && x >= 0.0 {
        Ok(x)
    } else {
        Err(CostError::OutOfRange {
            name,
            range: "finite and ≥ 0",
            got: x,
        })
    }
}

/// `Ok(x)` if `x` is finite and > 0, else [`CostError::OutOfRange`] naming `name`.
fn check_positive(name: &'static str, x: f64) -> Result<f64, CostError> {
    if x.is_finite() && x > 0.0 {
        Ok(x)
    } else {
        Err(CostError::OutOfRange {
            name,
            range: "finite and > 0",
            got: x,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_quantity_range_and_value() {
        assert_eq!(
            check_positive("horizon_s", 0.0).unwrap_err().to_string(),
            "`horizon_s` must be finite and > 0 (got 0)"
        );
        assert_eq!(
            check_non_negative("volume_gb", f64::NAN)
                .unwrap_err()
                .to_string(),
            "`volume_gb` must be finite and ≥ 0 (got NaN)"
        );
        let e = CostError::TimeBackwards {
            name: "t",
            index: 3,
            previous: 20.0,
            got: 10.0,
        };
        assert_eq!(e.to_string(), "`t[3]` must be ≥ `t[2]` = 20 s (got 10 s)");
    }

    #[test]
    fn error_is_send_sync() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<CostError>();
        assert_send_sync::<TierTable>();
        assert_send_sync::<HybridOutcome>();
    }
}
