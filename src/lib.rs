//! peerfluid: how much a content provider saves when its users' machines help deliver, and
//! what it must pay them.
//!
//! The pipeline, one module per stage. The rule: a stage imports only the stages before it
//! (and the shared [`units`] and [`error`]), never a later one:
//!
//! 1. [`scenario`]: a TOML file → raw `ScenarioFile` (types only) → validated
//!    [`scenario::Scenario`] (every range and cross-field rule checked once, errors with
//!    file:line:column; prices from a price book, `models/prices/`).
//! 2. [`model`]: the scenario becomes a fluid model (the Qiu–Srikant swarm with classes, a
//!    server and time-varying arrivals; live and VoD audiences; ISPs; file pushes; wireless
//!    offload). One card per model in `models/`.
//! 3. [`solve`]: the only module that integrates. The swarm goes through the exact method
//!    (each regime's closed form, switch to switch, at a cost that does not grow with the
//!    horizon, wherever no two classes share the upload and the arrivals are constant, decaying
//!    or daily; matrix exponentials in the other affine stretches (a trace's ramps) and Taylor
//!    series where several classes share the upload; switches located to machine precision), with
//!    RODAS4 (Rosenbrock) as the fallback for stiff nonlinear stretches and Dopri5
//!    (`ode_solvers`, in `solve::ode` only) for models without that structure; `solve::maximise` locates peaks between samples.
//! 4. [`incentive`]: who shares and how they are paid (participation equilibria, the
//!    provider's best price, fluid and exact Shapley values; the viewers' game of a live
//!    stream or VoD catalogue, `incentive::stream`).
//! 5. [`cost`]: the billing rule (what a run represents in a month, `cost::basis`), the four
//!    architectures at equal service (`cost::ledger`), price books, the cost of coordination
//!    (tracker, DHT, flooding: `cost::coordination`) and the verdict.
//! 6. [`run`]: one scenario end to end: model, horizon, solve, incentives, bills → a
//!    [`run::RunRecord`] (time series + summary); `run::video` and `run::wireless` are the
//!    live/VoD and wireless pipelines, `run::validity` the fluid model's validity guard.
//! 7. [`output`]: records written as CSV, JSON, figures, `index.html` and the text report,
//!    atomically.
//!
//! `model` may import `scenario`; `scenario` never imports `model`. The values a scenario
//! hands to the models (the arrival profile, the server policy, the peer selection, the
//! wireless offload's parameters) and the limits it checks them against are defined in
//! [`scenario::spec`]; `model` implements their behaviour in `impl` blocks and re-exports them
//! under their old paths (`model::ArrivalProfile`, `model::swarm::ServerPolicy`, …).
//! Imports that still point forward, to be passed as values or moved: `scenario` uses
//! `cost::book`, `cost::tiers`, `cost::coordination` (what it parses) and
//! `incentive::distribution`; `model::vod` uses `cost::billing::percentile_95`; `incentive`
//! uses `cost::ledger`, `cost::energy` and `cost::tiers`.
//!
//! Beside the pipeline: [`stochastic`], the swarm's exact twin with whole peers (`simulate`,
//! `validate`, `compare --check-stochastic`); [`sweep`], many runs in parallel; and [`fit`],
//! scenario keys calibrated to a measured trace on the exact trajectory (`fit`).
//!
//! Units: quantities are parsed by [`units`] and carried in base units (seconds, bytes, bit/s,
//! 1/s); models work in files and seconds.
//!
//! Errors are typed, one enum per stage ([`error`]): a scenario's [`error::ScenarioError`]
//! says where (file, line, column) and which key; a run's [`error::RunError`] says which step
//! failed and keeps the cause to match on. Only the command line (`cli`, `main.rs`) wraps
//! them in `anyhow`. The Python package (`python/`, README "From Python") is built on the
//! same functions.
//!
//! # Example
//!
//! Price the built-in scenario (`peerfluid compare`) and read the verdict's numbers:
//!
//! ```
//! use peerfluid::run::{compare_scenario, RunOptions};
//! use peerfluid::scenario::Scenario;
//!
//! let s = Scenario::builtin_default()?;
//! let rec = compare_scenario(&s, &RunOptions::default())?;
//! let costs = rec.summary.costs.as_ref().expect("compare prices every architecture");
//! let (cs, p2p) = (&costs["client_server"], &costs["p2p"]);
//! assert!(p2p.provider_usd < cs.provider_usd);
//! println!("peer-assisted delivery saves {:.0} % of the bill", 100.0 * p2p.net_saving);
//!
//! // A scenario of your own, validated once; its errors say where and which key.
//! let text = peerfluid::scenario::DEFAULT_SCENARIO.replace("efficiency = 0.79", "efficiency = 1.5");
//! let bad = Scenario::from_toml(&text, "my.toml", None);
//! let err = bad.expect_err("efficiency is at most 1").diagnostic();
//! assert_eq!((err.line, err.key.as_deref()), (Some(27), Some("swarm.efficiency")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]
#![deny(clippy::float_cmp)]

pub mod cli;
pub mod cost;
pub mod error;
pub mod fit;
/// Cooperative games of the provider and its peers: fluid and exact Shapley values, the core,
/// several providers, participation equilibrium and the best payment
/// (`models/incentives.md`).
pub mod incentive;
pub mod model;
pub mod output;
pub mod progress;
pub mod run;
pub mod scenario;
pub mod shard;
pub mod solve;
pub mod stochastic;
pub mod sweep;
pub mod units;
