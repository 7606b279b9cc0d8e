//! The values a validated scenario hands to the models, and the limits that bound them.
//!
//! These types and constants belong to the scenario stage: [`Scenario`](super::Scenario)
//! holds them and [`Scenario::from_toml`](super::Scenario::from_toml) checks their ranges.
//! Their behaviour (the arrival rate at time t, the selection's label, the offload day, …) is
//! implemented in the `model` stage, in `impl` blocks next to the models that use it; the model
//! modules also re-export each item under its old path (`model::ArrivalProfile`,
//! `model::swarm::ServerPolicy`, `model::locality::Selection`, `model::wireless::Offload`, …).
//! Keeping the definitions here lets `model` import `scenario` and never the other way round.

use crate::units::{BitsPerSec, Bytes, PerSec, Seconds};

// `[demand] arrival` (behaviour: `model/arrival.rs`).

/// How the arrival rate of new downloaders varies in time (see `models/swarm.md`).
#[derive(Debug, Clone, PartialEq)]
pub enum ArrivalProfile {
    /// λ(t) = rate.
    Constant {
        /// Arrivals per second.
        rate: PerSec,
    },
    /// λ(t) = rate · exp(−t / decay_time): a video goes viral, then interest fades.
    FlashCrowd {
        /// Arrivals per second at t = 0 (the peak).
        rate: PerSec,
        /// e-folding time of the decay, seconds.
        decay_time: Seconds,
    },
    /// λ(t) = mean · [1 + (peak_to_mean − 1) · cos(2π (t − peak_time) / period)].
    Diurnal {
        /// Mean arrivals per second over a period.
        mean_rate: PerSec,
        /// Peak rate divided by the mean, in [1, 2] (the cosine never goes negative).
        peak_to_mean: f64,
        /// Length of a cycle, seconds (a day by default).
        period: Seconds,
        /// Time of the peak within the cycle, seconds.
        peak_time: Seconds,
    },
    /// Piecewise-linear interpolation of (t, rate) points; held constant before the first and
    /// after the last point.
    Trace {
        /// Strictly increasing times (s) with non-negative rates (1/s); at least two points.
        points: Vec<(Seconds, PerSec)>,
    },
}

// `[server]` and `[peers]` (behaviour: `model/swarm.rs`).

/// How the provider's server shares the work with the peers (`server.policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerPolicy {
    /// A managed origin: it sends only what the peers cannot (their deficit); today's model.
    #[default]
    Fill,
    /// A plain BitTorrent origin: it uploads at its capacity whenever the leechers can take
    /// it, and the peers serve the rest (server flow = min(s, Σ d_k)).
    Seed,
}

/// Suffix of the class that holds a class's peers who do not share.
pub const OPTED_OUT_SUFFIX: &str = "-out";

// `[locality]` (behaviour: `model/locality.rs`).

/// How peers choose whom to download from.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Selection {
    /// Random peer selection over the whole swarm: bytes into ISP k come from ISP j in
    /// proportion to U_j (literature §6.2).
    Random,
    /// Locality-optimal byte assignment with the dynamics of random selection (the P4P
    /// idealisation, literature §5.1 special case): inter-ISP = Σ_k (D_k − U_k)^+ − server.
    LocalityOptimal,
    /// A share β ∈ [0, 1] of each ISP's demand is served by its own peers where their upload
    /// allows, the rest at random from the upload left over; dynamics of random selection.
    /// β = 0 is [`Selection::Random`], β = 1 is [`Selection::LocalityOptimal`].
    LocalityFraction {
        /// β, in [0, 1].
        beta: f64,
    },
    /// Every ISP is its own swarm (its own peers and a share of the server proportional to its
    /// arrivals): no inter-ISP bytes, different download times.
    Strict,
}

// `[content] titles` (used by `model/vod.rs`).

/// Largest number of titles of a catalogue.
pub const MAX_TITLES: usize = 100_000;

// `[wireless]` (behaviour: `model/wireless.rs`).

/// One day, s.
pub const DAY: Seconds = 86_400.0;
/// Smallest busy-hour share: a flat day (1/24).
pub const FLAT_SHARE: f64 = 1.0 / 24.0;
/// Largest busy-hour share accepted (half the day's bytes in one hour).
pub const MAX_BUSY_SHARE: f64 = 0.5;

/// Parameters of the offload model, in base units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Offload {
    /// N: users (≥ 1).
    pub users: f64,
    /// D: bytes each user asks for per month.
    pub demand: Bytes,
    /// Length of the month D is counted over, s.
    pub month: Seconds,
    /// b: share of a day's bytes in its busiest hour, in [1/24, 1/2].
    pub busy_hour_share: f64,
    /// t_b: middle of the busy hour, s after midnight.
    pub busy_hour: Seconds,
    /// i: share of a host's own traffic its femtocell carries (at home), [0, 1].
    pub home_share: f64,
    /// ω: share of a non-host's home traffic an open femtocell next door would carry, [0, 1].
    pub neighbour_share: f64,
    /// u: the most a femtocell carries, bit/s (the host's broadband uplink).
    pub host_uplink: BitsPerSec,
    /// Busy-hour capacity of one macro tower (site), bit/s.
    pub tower_capacity: BitsPerSec,
}
