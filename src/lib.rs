//! peerfluid: how much a content provider saves when its users' machines help deliver, and
//! what it must pay them.
//!
//! The pipeline, one module per stage:
//!
//! 1. [`scenario`]: a TOML file → raw `ScenarioFile` (types only) → validated [`scenario::Scenario`]
//!    (every range and cross-field rule checked once, errors with file:line:column).
//! 2. [`model`]: the scenario becomes a fluid model (Qiu–Srikant swarm, `models/swarm.md`).
//! 3. [`solve`]: the model is integrated, exactly where it is piecewise linear, by Dopri5
//!    otherwise, into a [`solve::Trajectory`].
//! 4. [`run`]: trajectory and steady state become a [`run::RunRecord`] (time series + summary).
//! 5. [`output`]: records are written as CSV and JSON, atomically.
//!
//! Beside the pipeline, [`stochastic`] is the swarm's exact twin with whole peers, and
//! [`validity`] says whether a run has enough peers for the fluid numbers to be trusted and
//! sets the twin at the real scale beside them (`compare --check-stochastic`).
//!
//! Units: quantities are parsed by [`units`] and carried in base units (seconds, bytes, bit/s,
//! 1/s); models work in files and seconds.
#![warn(missing_docs)]
#![deny(clippy::float_cmp)]

pub mod cli;
pub mod cost;
pub mod error;
/// Cooperative games of the provider and its peers: fluid and exact Shapley values, the core,
/// several providers, participation equilibrium and the best payment
/// (`models/incentives.md`).
pub mod incentive;
pub mod model;
pub mod output;
pub mod run;
pub mod scenario;
pub mod solve;
pub mod stochastic;
pub mod sweep;
pub mod units;
pub mod validity;
pub mod viewing;
pub mod wireless;
