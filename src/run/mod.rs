//! Run one scenario: build the model, choose the horizon, solve, and turn the trajectory and the
//! steady state into a [`RunRecord`] (a time series and a summary) ready for `output`;
//! [`compare_scenario`] then bills it under the scenario's billing rule ([`bill`]) and prices
//! every architecture at equal service.
//!
//! The file swarm's pipeline is here; [`video`] (live and VoD) and [`wireless`] (femtocell
//! offload) are the other two, and [`validity`] judges whether the fluid model holds for a
//! run.

pub mod grid;
pub mod validity;
pub mod video;
pub mod wireless;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cost::basis::{self, Basis, Billed};
use crate::cost::ledger::{self, ClassDemand, ClassLedger, CostBreakdown, Demand, PaymentRule};
use crate::scenario::Origin;

use crate::error::{ModelError, RunError};
use crate::incentive::{
    self,
    plan::{Depth, Plan},
};
use crate::model::swarm::{SteadyState, Swarm};
use crate::model::{ArrivalProfile, FluidModel};
use crate::scenario::{BillingRule, Scenario};
use crate::solve::{self, Method, SolveStats, SolverSettings, Trajectory};
use crate::units::Seconds;

/// Settling horizon in units of the slowest time constant: e^-20 ≈ 2e-9, which leaves room for
/// a prefactor of up to 500 and still meets rtol 1e-6.
pub const SETTLE_TIME_CONSTANTS: f64 = 20.0;
/// The final state counts as steady when every population is within this relative distance
/// of the steady state (scale: the largest steady population).
pub const STEADY_RTOL: f64 = 1e-6;
/// Settling time is reported at this relative distance (0.1 %).
pub const SETTLED_RTOL: f64 = 1e-3;
/// Horizon doublings tried when the default horizon ends short of the steady state.
const MAX_EXTENSIONS: usize = 6;

/// Options of a run that are not part of the scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOptions {
    /// Output intervals of the uniform grid: a minimum; `run`/`compare` add rows where the state
    /// moves ([`grid`]).
    pub points: usize,
    /// Integration method.
    pub method: Method,
    /// How much of the incentive side to work out (sweeps skip the report).
    pub incentive: Depth,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            points: 500,
            method: Method::Auto,
            incentive: Depth::Report,
        }
    }
}

/// Everything a run produces.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// What was delivered, for the cost models (exact running totals on the output grid).
    pub demand: Demand,
    /// Column names of the time series.
    pub columns: Vec<String>,
    /// Rows of the time series (same order as `columns`).
    pub rows: Vec<Vec<f64>>,
    /// The summary (also written as `summary.json`).
    pub summary: Summary,
    /// Who shares and how they are paid (the plan the run was made with).
    pub plan: Plan,
}

/// `summary.json`. Documented in `results/README.md`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Scenario description.
    pub description: String,
    /// Scenario file.
    pub source: String,
    /// peerfluid version.
    pub version: &'static str,
    /// Model name.
    pub model: &'static str,
    /// Simulated time, seconds.
    pub horizon_s: Seconds,
    /// How the horizon was chosen.
    pub horizon_basis: String,
    /// Arrival profile kind.
    pub arrival_profile: &'static str,
    /// `swarm.flash_crowd_bound`: the gate t_g = F/s, seconds from t = 0, before which no
    /// download completes (absent when the bound is off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flash_crowd_bound_s: Option<Seconds>,
    /// Steady state at the reference arrival rate (`None` when the swarm has none).
    pub steady_state: Option<SteadySummary>,
    /// Bytes delivered over the horizon.
    pub bytes: Bytes,
    /// Downloads over the horizon.
    pub downloads: Downloads,
    /// Peaks over the horizon.
    pub peak: Peak,
    /// Per-class results.
    pub classes: Vec<ClassSummary>,
    /// Solver statistics.
    pub solver: SolveStats,
    /// `compare` only: average monthly cost of each architecture (keys `client_server`, `cdn`,
    /// `p2p`, `hybrid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub costs: Option<BTreeMap<&'static str, CostBreakdown>>,
    /// `compare` only: the peers' monthly ledger per class (in `p2p` and `hybrid`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_classes: Option<Vec<ClassLedger>>,
    /// `compare` with `[coordination]`: every coordination design (tracker, DHT, flooding)
    /// priced on the billed months' population, and where their costs cross
    /// (`models/coordination.md`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coordination: Option<crate::cost::coordination::CoordinationReport>,
    /// The incentive: participation, payments, equilibria, best payment, Shapley value
    /// (absent when peers are not paid and nobody decides).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incentive: Option<incentive::plan::IncentiveReport>,
    /// `compare` only: how the horizon was billed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing: Option<Billing>,
    /// Live and VoD scenarios: the stream's figures (`null` for files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video: Option<crate::run::video::VideoSummary>,
    /// Scenarios with `[[isp]]`: the steady state per ISP under each peer-selection rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locality: Option<crate::model::locality::LocalityReport>,
    /// Wireless scenarios: the offload, towers, costs, Shapley split and energy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wireless: Option<crate::run::wireless::WirelessReport>,
    /// Scenarios with `[push]`: distribution times and the server a deadline needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push: Option<crate::model::push::PushReport>,
    /// `run` and `compare`: whether the fluid model can be trusted here (enough peers, a
    /// source for the first copy); see `validity::assess`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validity: Option<crate::run::validity::Validity>,
    /// `compare`: the three-line verdict (savings at equal service, peers' net, validity).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<crate::cost::verdict::Verdict>,
    /// The keys the scenario file set, as written (with their units), sorted by key; empty
    /// for a scenario that did not come from a file's text.
    #[serde(skip_serializing_if = "no_inputs")]
    pub inputs: std::sync::Arc<[crate::scenario::Input]>,
    /// `--check-stochastic`: fluid vs the exact stochastic twin at the real scale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stochastic_check: Option<crate::run::validity::StochasticCheck>,
}

/// How the run was billed and the service every architecture delivers (`compare` only).
#[derive(Debug, Clone, Serialize)]
pub struct Billing {
    /// The billing rule, its window and factor.
    #[serde(flatten)]
    pub basis: Basis,
    /// CDN price table used.
    pub cdn_prices: String,
    /// Who serves the residual in `p2p`: "transit" or "cdn".
    pub p2p_origin: &'static str,
    /// The price book (`pricing.book`) the prices come from.
    pub price_book: String,
    /// The book in one line: its level, date and prices.
    pub price_book_citation: String,
    /// Prices the scenario sets itself over the book's.
    pub price_overrides: Vec<&'static str>,
    /// The service each architecture delivers (the same downloads in every row).
    pub service: Service,
    /// The billed month(s): the volumes, 95th percentiles and peaks the bills are made of.
    pub months: Vec<BilledMonth>,
}

/// One billed month's volumes and rates (what `costs.csv` is computed from).
#[derive(Debug, Clone, Serialize)]
pub struct BilledMonth {
    /// GB delivered in all (billing GB of 2^30 bytes).
    pub served_gb: f64,
    /// GB the peer-assisted origin sends.
    pub server_gb: f64,
    /// GB the peers upload.
    pub peer_gb: f64,
    /// 95th percentile of the 5-minute delivery rate (what client-server's transit bills), Mbps.
    pub served_p95_mbps: f64,
    /// 95th percentile of the peer-assisted origin's rate, Mbps.
    pub server_p95_mbps: f64,
    /// Exact peak delivery rate (client-server's origin is sized by it), Mbps.
    pub served_peak_mbps: f64,
    /// Exact peak of the peer-assisted origin, Mbps.
    pub server_peak_mbps: f64,
}

/// The service behind every row of `compare`: each architecture delivers the same downloads at
/// the same times; client-server gets an origin provisioned for them.
#[derive(Debug, Clone, Serialize)]
pub struct Service {
    /// Share of arrivals whose download completes (the rest abort), in the billed stretch.
    pub completed_share: f64,
    /// Mean time a downloader spends downloading (completed or not), s.
    pub download_time_s: f64,
    /// `pricing.headroom`.
    pub headroom: f64,
    /// Origin capacity client-server is provisioned with: headroom × the exact peak delivery
    /// rate, bit/s.
    pub client_server_origin_bps: f64,
    /// The scenario's own server (what `p2p` runs with), bit/s.
    pub own_server_bps: f64,
    /// The scenario's own server serving everyone alone, without peers (`compare` of a file
    /// swarm with sharing peers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub own_server_alone: Option<OwnServer>,
}

/// What the scenario's own server achieves alone (no peer uploads): not an equal-service
/// architecture, so no saving is computed against it.
#[derive(Debug, Clone, Serialize)]
pub struct OwnServer {
    /// Share of arrivals whose download completes.
    pub completed_share: f64,
    /// Mean time a downloader spends downloading, s.
    pub download_time_s: f64,
    /// Whether it completes as many downloads as the peer-assisted run (within 0.1 percentage
    /// point).
    pub meets_demand: bool,
}

/// Steady state in the summary.
#[derive(Debug, Clone, Serialize)]
pub struct SteadySummary {
    /// Which arrival rate it belongs to.
    pub basis: &'static str,
    /// That arrival rate, 1/s.
    pub arrival_rate_per_s: f64,
    /// Leechers (all classes).
    pub leechers: f64,
    /// Seeds (all classes).
    pub seeds: f64,
    /// Mean time to download (Little's law), seconds.
    pub download_time_s: f64,
    /// Mean time from arrival to completion of the downloads that complete, seconds (a
    /// client log's finished downloads); Little's `download_time_s` also averages the aborted
    /// downloads' stays. Equal to it with one stage and no start-up delay; `null` when nobody
    /// completes.
    pub completed_download_time_s: Option<f64>,
    /// "download-limited" or "upload-limited".
    pub regime: &'static str,
    /// Server upload in use, bit/s.
    pub server_rate_bps: f64,
    /// Peer upload in use, bit/s.
    pub peer_rate_bps: f64,
    /// Share of completions that the server carries.
    pub server_share: f64,
    /// Fraction of arrivals that complete (the rest abort).
    pub completion_ratio: f64,
    /// Slowest relaxation rate of the linearisation, 1/s (NaN in sweep rows, which never read it).
    pub slowest_rate_per_s: f64,
    /// Whether the trajectory's end is within `STEADY_RTOL` of this steady state (constant
    /// arrivals only; `null` otherwise).
    pub reached: Option<bool>,
    /// First output time after which populations stay within 0.1 % of it (constant arrivals).
    pub settling_time_s: Option<f64>,
    /// How many steady states exist (several = the one reached depends on the start).
    pub count: usize,
}

/// Bytes over the horizon.
#[derive(Debug, Clone, Serialize)]
pub struct Bytes {
    /// Served by the provider's server.
    pub server: f64,
    /// Served by peers.
    pub peers: f64,
    /// peers / (server + peers).
    pub peer_share: f64,
}

/// Downloads over the horizon.
#[derive(Debug, Clone, Serialize)]
pub struct Downloads {
    /// Arrivals (expected number).
    pub arrived: f64,
    /// Completed downloads.
    pub completed: f64,
    /// Aborted downloads.
    pub aborted: f64,
    /// Leechers still downloading at the end.
    pub in_progress: f64,
    /// |arrived − completed − aborted − in_progress| / max(arrived, 1): conservation check.
    pub conservation_residual: f64,
}

/// Peaks over the horizon (at output times).
#[derive(Debug, Clone, Serialize)]
pub struct Peak {
    /// Most leechers.
    pub leechers: f64,
    /// When, seconds.
    pub leechers_at_s: f64,
    /// Highest server rate, bit/s.
    pub server_rate_bps: f64,
    /// Highest peer rate, bit/s.
    pub peer_rate_bps: f64,
}

/// One class in the summary.
#[derive(Debug, Clone, Serialize)]
pub struct ClassSummary {
    /// Name.
    pub name: String,
    /// Share of arrivals.
    pub share: f64,
    /// Steady leechers.
    pub steady_leechers: Option<f64>,
    /// Steady seeds.
    pub steady_seeds: Option<f64>,
    /// Steady mean download time, seconds.
    pub download_time_s: Option<f64>,
    /// Completed over the horizon.
    pub completed: f64,
    /// Aborted over the horizon.
    pub aborted: f64,
    /// Peer-hours spent downloading (∫ x_k dt) over the horizon.
    pub leecher_hours: f64,
    /// Peer-hours spent seeding (∫ y_k dt) over the horizon.
    pub seed_hours: f64,
}

pub use crate::model::swarm::swarm_of;

impl RunError {
    /// A failed integration of scenario `s`.
    pub fn integration(s: &Scenario, source: crate::error::SolveError) -> Self {
        Self::Solve {
            context: format!("scenario '{}': integration failed", s.name),
            source,
        }
    }
}

/// Run a scenario: settle its incentive (who shares, how they are paid), then solve the swarm
/// with the sharers and non-sharers as separate classes.
///
/// ```
/// use peerfluid::run::{run_scenario, RunOptions};
/// use peerfluid::scenario::Scenario;
///
/// let s = Scenario::builtin_default()?;
/// let rec = run_scenario(&s, &RunOptions { points: 50, ..RunOptions::default() })?;
/// // timeseries.csv: a row per output time (at least 51), columns t, leechers, seeds, ...
/// assert_eq!(&rec.columns[..3], ["t", "leechers", "seeds"]);
/// assert!(rec.rows.len() > 50);
/// assert!(rec.summary.peak.leechers > 0.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`RunError`]: no steady state where one is needed, a failed solve, an incentive that
/// cannot be worked out; `{:#}` (or [`crate::error::Chain`]) prints the step and the cause.
pub fn run_scenario(s: &Scenario, opts: &RunOptions) -> Result<RunRecord, RunError> {
    let mut rec = run_kind(s, opts)?;
    rec.summary.inputs = s.inputs.clone();
    Ok(rec)
}

/// [`run_scenario`] by content kind.
fn run_kind(s: &Scenario, opts: &RunOptions) -> Result<RunRecord, RunError> {
    if s.content.kind.stream().is_some() {
        return crate::run::video::run_video(s, opts);
    }
    if s.content.kind.wireless().is_some() {
        return crate::run::wireless::run_wireless(s, opts);
    }
    let plan =
        incentive::plan::plan_with(s, opts.incentive).map_err(|source| RunError::Mechanism {
            context: format!("scenario '{}': incentives", s.name),
            source,
        })?;
    let split = s.with_participation(&plan.participation);
    let mut rec = run_model(&split, opts, &plan)?;
    rec.summary.incentive = plan.report.clone();
    rec.summary.locality = crate::model::locality::locality_report(s, &plan.participation)
        .map_err(|source| RunError::Locality {
            context: format!("scenario '{}': ISP locality", s.name),
            source,
        })?;
    rec.summary.push =
        crate::model::push::push_report(s, &plan.participation).map_err(|source| {
            RunError::Video {
                context: format!("scenario '{}': file push", s.name),
                source,
            }
        })?;
    rec.plan = plan;
    Ok(rec)
}

/// The summary leaves `inputs` out when there are none (a sweep point, a built-in run).
fn no_inputs(inputs: &std::sync::Arc<[crate::scenario::Input]>) -> bool {
    inputs.is_empty()
}

fn run_model(s: &Scenario, opts: &RunOptions, plan: &Plan) -> Result<RunRecord, RunError> {
    let model = swarm_of(s);
    let (ref_rate, basis) = s.demand.arrival.reference_rate();
    let steady = model.steady_states(ref_rate);
    let constant = matches!(s.demand.arrival, ArrivalProfile::Constant { .. });

    let (mut horizon, horizon_basis) = match (s.horizon, &steady) {
        (Some(h), _) => (h, "given in the scenario".to_string()),
        (None, _) => default_horizon(&model, steady.as_ref().ok(), constant).map_err(|reason| {
            ModelError::NoSteadyState {
                scenario: s.name.clone(),
                reason,
            }
        })?,
    };
    let mut settings = SolverSettings::new(horizon);
    settings.points = opts.points;
    settings.method = opts.method;
    let mut traj = solve::integrate(&model, &settings).map_err(|e| RunError::integration(s, e))?;

    // With the default horizon and constant arrivals, extend until the steady state is reached.
    let mut reached = None;
    if constant {
        if let Ok(list) = &steady {
            for attempt in 0..=MAX_EXTENSIONS {
                let end = traj.last();
                let ok = list
                    .iter()
                    .any(|ss| distance(&model, end, ss) <= STEADY_RTOL);
                reached = Some(ok);
                if ok || s.horizon.is_some() || attempt == MAX_EXTENSIONS {
                    break;
                }
                horizon *= 2.0;
                settings.t_end = horizon;
                traj =
                    solve::integrate(&model, &settings).map_err(|e| RunError::integration(s, e))?;
            }
        }
    }

    // Time series.
    let k = model.k();
    let columns = timeseries_columns(model.classes.iter().map(|c| c.name.as_str()));
    let mut rows = Vec::with_capacity(traj.t.len());
    let mut peak = Peak {
        leechers: 0.0,
        leechers_at_s: 0.0,
        server_rate_bps: 0.0,
        peer_rate_bps: 0.0,
    };
    for (t, zs) in traj.t.iter().zip(traj.states()) {
        let row = timeseries_row(s, &model, *t, zs);
        let leechers = row[1];
        if leechers > peak.leechers {
            peak.leechers = leechers;
            peak.leechers_at_s = *t;
        }
        peak.server_rate_bps = peak.server_rate_bps.max(row[3]);
        peak.peer_rate_bps = peak.peer_rate_bps.max(row[4]);
        rows.push(row);
    }

    if opts.incentive == Depth::Report {
        // The output grid can step over a short peak (a 22-minute flash crowd in a 30-day
        // run): locate the peaks on a grid of at most 5 minutes, then exactly between samples.
        let exact = exact_peaks(&model, horizon, opts.method)?;
        if exact.leechers > peak.leechers {
            peak.leechers = exact.leechers;
            peak.leechers_at_s = exact.leechers_at_s;
        }
        peak.server_rate_bps = peak.server_rate_bps.max(exact.server_rate_bps);
        peak.peer_rate_bps = peak.peer_rate_bps.max(exact.peer_rate_bps);
    }

    let size = s.content.size;
    let demand = Demand {
        t: traj.t.clone(),
        server_bps: rows.iter().map(|r| r[3]).collect(),
        served_bps: rows.iter().map(|r| r[3] + r[4]).collect(),
        server_bytes: traj.states().map(|z| z[model.ix_server()] * size).collect(),
        peer_bytes: traj.states().map(|z| z[model.ix_peer()] * size).collect(),
        peer_seconds: traj
            .states()
            .map(|z| {
                (0..k)
                    .map(|i| z[model.ix_leecher_time(i)] + z[model.ix_seed_time(i)])
                    .sum()
            })
            .collect(),
        classes: s
            .classes
            .iter()
            .enumerate()
            .map(|(i, c)| ClassDemand {
                name: c.name.clone(),
                online_seconds: traj
                    .states()
                    .map(|z| z[model.ix_leecher_time(i)] + z[model.ix_seed_time(i)])
                    .collect(),
                capacity_bits: traj
                    .states()
                    .map(|z| c.upload * model.upload_seconds(z, i))
                    .collect(),
                downloads: traj
                    .states()
                    .map(|z| z[model.ix_arrivals()] * c.share)
                    .collect(),
                shares: c.upload > 0.0,
                price_per_gb_offered: if c.upload > 0.0 {
                    plan.offered_price(&c.name)
                } else {
                    0.0
                },
            })
            .collect(),
        payments: PaymentRule {
            per_gb_uploaded: plan.per_gb_uploaded,
            per_download: plan.per_download,
        },
    };
    let end = traj.last();
    let arrived = end[model.ix_arrivals()];
    let completed: f64 = (0..k).map(|i| end[model.ix_done(i)]).sum();
    let aborted: f64 = (0..k).map(|i| end[model.ix_aborted(i)]).sum();
    let in_progress: f64 = end[..k].iter().sum();
    let server_bytes = end[model.ix_server()] * s.content.size;
    let peer_bytes = end[model.ix_peer()] * s.content.size;

    let chosen: Option<&SteadyState> = steady.as_ref().ok().and_then(|list| {
        list.iter()
            .min_by(|a, b| distance(&model, end, a).total_cmp(&distance(&model, end, b)))
    });
    let steady_summary = chosen.map(|ss| {
        let served: f64 = ss.download.iter().sum();
        // Sweep rows (`Depth::Outcome`) never read the slowest rate: not computed there.
        let slow = if opts.incentive == Depth::Outcome {
            f64::NAN
        } else {
            model.slowest_rate(ss).0
        };
        let settling = if constant && opts.incentive == Depth::Report {
            exact_settling(&model, horizon, ss, opts.method)
        } else if constant {
            settling_time(&model, &traj, ss)
        } else {
            None
        };
        SteadySummary {
            basis,
            arrival_rate_per_s: ss.arrival_rate,
            leechers: ss.leechers.iter().sum(),
            seeds: ss.seeds.iter().sum(),
            download_time_s: ss.mean_download_time(),
            completed_download_time_s: model.completed_download_time(ss),
            regime: ss.regime.label(),
            server_rate_bps: ss.server * model.file_bits,
            peer_rate_bps: ss.peer * model.file_bits,
            server_share: if served > 0.0 {
                // Of the bytes moved (duplicates included; with stages the aborted downloads'
                // progress too).
                ss.server / (ss.progress.iter().sum::<f64>() * model.bytes_per_progress())
            } else {
                0.0
            },
            completion_ratio: if ss.arrival_rate > 0.0 {
                served / ss.arrival_rate
            } else {
                0.0
            },
            slowest_rate_per_s: slow,
            reached,
            settling_time_s: settling,
            count: steady.as_ref().map_or(0, Vec::len),
        }
    });
    let classes = model
        .classes
        .iter()
        .enumerate()
        .map(|(i, c)| ClassSummary {
            name: c.name.clone(),
            share: c.share,
            steady_leechers: chosen.map(|ss| ss.leechers[i]),
            steady_seeds: chosen.map(|ss| ss.seeds[i]),
            download_time_s: chosen.map(|ss| ss.download_time(i, c.share)),
            completed: end[model.ix_done(i)],
            aborted: end[model.ix_aborted(i)],
            leecher_hours: end[model.ix_leecher_time(i)] / 3600.0,
            seed_hours: end[model.ix_seed_time(i)] / 3600.0,
        })
        .collect();
    let total_bytes = server_bytes + peer_bytes;
    let summary = Summary {
        scenario: s.name.clone(),
        description: s.description.clone(),
        source: s.source.clone(),
        version: env!("CARGO_PKG_VERSION"),
        model: model.name(),
        horizon_s: horizon,
        horizon_basis,
        arrival_profile: s.demand.arrival.kind(),
        flash_crowd_bound_s: model.gate(),
        steady_state: steady_summary,
        bytes: Bytes {
            server: server_bytes,
            peers: peer_bytes,
            peer_share: if total_bytes > 0.0 {
                peer_bytes / total_bytes
            } else {
                0.0
            },
        },
        downloads: Downloads {
            arrived,
            completed,
            aborted,
            in_progress,
            conservation_residual: (arrived - completed - aborted - in_progress).abs()
                / arrived.max(1.0),
        },
        peak,
        classes,
        solver: traj.stats.clone(),
        costs: None,
        peer_classes: None,
        coordination: None,
        billing: None,
        incentive: None,
        video: None,
        locality: None,
        push: None,
        wireless: None,
        validity: None,
        stochastic_check: None,
        verdict: None,
        inputs: Default::default(),
    };
    if opts.incentive == Depth::Report {
        // The time series is for reading: where the state moves between two outputs of the
        // uniform grid, rows are added (every number above and below comes from the uniform
        // solve, so none of them moves).
        let extra =
            grid::dense_rows(s, &model, &settings, &rows, &timeseries_row).map_err(|source| {
                RunError::Solve {
                    context: format!(
                        "scenario '{}': refining the output grid where the state moves",
                        s.name
                    ),
                    source,
                }
            })?;
        rows = grid::merge_rows(rows, extra);
    }
    Ok(RunRecord {
        demand,
        columns,
        rows,
        summary,
        plan: plan.clone(),
    })
}

/// One row of a file swarm's `timeseries.csv` ([`timeseries_columns`]) at time `t`, state `zs`.
fn timeseries_row(s: &Scenario, model: &Swarm, t: Seconds, zs: &[f64]) -> Vec<f64> {
    let k = model.k();
    let (x, y) = (&zs[..k], &zs[k..2 * k]);
    let f = model.flows_at(t, zs);
    let mut row = vec![
        t,
        x.iter().sum(),
        y.iter().sum(),
        f.server * model.file_bits,
        f.peer * model.file_bits,
        s.demand.arrival.rate_at(t),
        (0..k).map(|i| zs[model.ix_done(i)]).sum(),
        (0..k).map(|i| zs[model.ix_aborted(i)]).sum(),
    ];
    row.extend_from_slice(x);
    row.extend_from_slice(y);
    row.extend(f.download.iter().map(|d| d * model.file_bits));
    row
}

/// Peaks of the leechers, the server's and the peers' rates over `[0, horizon]`: the largest
/// sample of a grid of at most 5 minutes, then the maximum between its neighbours located by
/// golden section ([`solve::maximise`]).
fn exact_peaks(model: &Swarm, horizon: Seconds, method: Method) -> Result<Peak, RunError> {
    let cx = |source: crate::error::SolveError| RunError::Solve {
        context: "locating the peaks between output samples".into(),
        source,
    };
    let n = (horizon / basis::SAMPLE_S)
        .ceil()
        .clamp(1.0, basis::MAX_SAMPLES as f64) as usize;
    let mut settings = SolverSettings::new(horizon);
    settings.points = n;
    settings.method = method;
    let traj = solve::integrate(model, &settings).map_err(cx)?;
    let k = model.k();
    let fb = model.file_bits;
    let leechers = |_: f64, z: &[f64]| z[..k].iter().sum::<f64>();
    let server = |t: f64, z: &[f64]| model.flows_at(t, z).server * fb;
    let peer = |t: f64, z: &[f64]| model.flows_at(t, z).peer * fb;
    let locate = |f: &dyn Fn(f64, &[f64]) -> f64| -> Result<(f64, f64), RunError> {
        let values: Vec<f64> = traj
            .t
            .iter()
            .zip(traj.states())
            .map(|(&t, z)| f(t, z))
            .collect();
        let i = (0..values.len())
            .max_by(|&a, &b| values[a].total_cmp(&values[b]))
            .unwrap_or(0);
        let (lo, hi) = (traj.t[i.saturating_sub(1)], traj.t[(i + 1).min(n)]);
        let (t, v) = solve::maximise(model, method, lo, hi, f).map_err(cx)?;
        Ok(if v > values[i] {
            (t, v)
        } else {
            (traj.t[i], values[i])
        })
    };
    let (at, most) = locate(&leechers)?;
    Ok(Peak {
        leechers: most,
        leechers_at_s: at,
        server_rate_bps: locate(&server)?.1,
        peer_rate_bps: locate(&peer)?.1,
    })
}

/// The fluid run a stochastic simulation is compared with (its grid and horizon are the
/// simulation's), and the swarm to simulate: the scenario's classes split into sharers and
/// non-sharers exactly as the fluid run splits them. File scenarios only.
pub fn fluid_for_simulation(s: &Scenario, points: usize) -> Result<(RunRecord, Swarm), RunError> {
    if !matches!(s.content.kind, crate::scenario::ContentKind::File) {
        return Err(crate::error::SimError::NotAFile {
            scenario: s.name.clone(),
            kind: s.content.kind.label(),
        }
        .into());
    }
    let opts = RunOptions {
        points,
        method: Method::Auto,
        incentive: Depth::Outcome,
    };
    let rec = run_scenario(s, &opts)?;
    let swarm = swarm_of(&s.with_participation(&rec.plan.participation));
    Ok((rec, swarm))
}

/// The columns of a file swarm's `timeseries.csv` (the output contract of `results/README.md`;
/// `simulate` writes the same ones, then their spreads).
pub fn timeseries_columns<'a>(classes: impl Iterator<Item = &'a str> + Clone) -> Vec<String> {
    let mut columns: Vec<String> = [
        "t",
        "leechers",
        "seeds",
        "server_rate",
        "peer_rate",
        "arrival_rate",
        "completed",
        "aborted",
    ]
    .map(String::from)
    .to_vec();
    for prefix in ["leechers", "seeds", "download_rate"] {
        columns.extend(classes.clone().map(|c| format!("{prefix}.{c}")));
    }
    columns
}

/// Run a scenario and price it under every architecture (`peerfluid compare`).
///
/// ```
/// use peerfluid::run::{compare_scenario, RunOptions};
/// use peerfluid::scenario::Scenario;
///
/// let text = std::fs::read_to_string("scenarios/dsl-fibre.toml")?;
/// let s = Scenario::from_toml(&text, "scenarios/dsl-fibre.toml", Some("scenarios".as_ref()))?;
/// let rec = compare_scenario(&s, &RunOptions::default())?;
/// let costs = rec.summary.costs.as_ref().expect("every architecture is priced");
/// for arch in ["client_server", "cdn", "p2p", "hybrid"] {
///     println!("{arch}: ${:.2} a month", costs[arch].provider_usd);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// Those of [`run_scenario`], and [`RunError::Cost`] when a bill cannot be made.
pub fn compare_scenario(s: &Scenario, opts: &RunOptions) -> Result<RunRecord, RunError> {
    let mut rec = run_scenario(s, opts)?;
    if s.content.kind.wireless().is_some() {
        // The wireless report already prices both architectures per month.
        return Ok(rec);
    }
    let billed = bill(s, &rec, opts.method)?;
    let rows = ledger::compare(s, &billed);
    rec.summary.coordination = ledger::coordination_report(s, &billed);
    if opts.incentive == Depth::Outcome {
        // A sweep row reads the bills only: no billing report, service check or class
        // ledgers (their strings and second runs would be most of a row's cost).
        rec.summary.costs = Some(rows.into_iter().map(|r| (r.architecture, r)).collect());
        return Ok(rec);
    }
    let service = service(s, &rec, &billed, opts)?;
    rec.summary.billing = Some(Billing {
        basis: billed.basis.clone(),
        cdn_prices: s.pricing.cdn_name.clone(),
        p2p_origin: match s.pricing.origin {
            Origin::Transit => "transit",
            Origin::Cdn => "cdn",
        },
        price_book: s.pricing.book.name.clone(),
        price_book_citation: s.pricing.book.citation(),
        price_overrides: s.pricing.overrides.clone(),
        service,
        months: billed
            .months
            .iter()
            .map(|m| BilledMonth {
                served_gb: m.served_gb,
                server_gb: m.server_gb,
                peer_gb: m.peer_gb,
                served_p95_mbps: m.served_p95_mbps,
                server_p95_mbps: m.server_p95_mbps,
                served_peak_mbps: m.served_peak_mbps,
                server_peak_mbps: m.server_peak_mbps,
            })
            .collect(),
    });
    rec.summary.costs = Some(rows.into_iter().map(|r| (r.architecture, r)).collect());
    rec.summary.peer_classes = Some(ledger::class_ledgers(s, &billed));
    Ok(rec)
}

/// The steady state a recurring constant pattern is billed at: the one nearest the run's
/// end (as the summary chose it).
fn billed_steady(model: &Swarm, rec: &RunRecord) -> Option<SteadyState> {
    let chosen = rec.summary.steady_state.as_ref()?;
    let (rate, _) = model.arrival.reference_rate();
    let list = model.steady_states(rate).ok()?;
    list.into_iter().min_by(|a, b| {
        let d = |ss: &SteadyState| (ss.leechers.iter().sum::<f64>() - chosen.leechers).abs();
        d(a).total_cmp(&d(b))
    })
}

/// A steady state's running totals over one billing sample of a `month` cut into
/// [`basis::samples_per_month`] samples (the one-sample grid `basis::steady_month` repeats).
pub fn steady_demand(s: &Scenario, model: &Swarm, ss: &SteadyState, plan: &Plan) -> Demand {
    let month = s.pricing.billing_month;
    let dt = month / basis::samples_per_month(month, basis::SAMPLE_S) as f64;
    let size = s.content.size;
    let line = |per_s: f64| vec![0.0, per_s * dt];
    let online: f64 = ss.leechers.iter().chain(&ss.seeds).sum();
    Demand {
        t: vec![0.0, dt],
        server_bps: vec![ss.server * model.file_bits; 2],
        served_bps: vec![(ss.server + ss.peer) * model.file_bits; 2],
        server_bytes: line(ss.server * size),
        peer_bytes: line(ss.peer * size),
        peer_seconds: line(online),
        classes: s
            .classes
            .iter()
            .enumerate()
            .map(|(i, c)| ClassDemand {
                name: c.name.clone(),
                online_seconds: line(ss.leechers[i] + ss.seeds[i]),
                capacity_bits: line(
                    c.upload * (model.eta * model.active_leechers(ss, i) + ss.seeds[i]),
                ),
                downloads: line(ss.arrival_rate * c.share),
                shares: c.upload > 0.0,
                price_per_gb_offered: if c.upload > 0.0 {
                    plan.offered_price(&c.name)
                } else {
                    0.0
                },
            })
            .collect(),
        payments: PaymentRule {
            per_gb_uploaded: plan.per_gb_uploaded,
            per_download: plan.per_download,
        },
    }
}

/// What `peerfluid run` (`compare` = false) and `peerfluid compare` report: the run or the
/// compared run, with the fluid model's validity guard ([`validity::assess`]) and, for a
/// compared run, the verdict in its summary: the record `output::write_run` writes.
///
/// ```
/// use peerfluid::run::{run_judged, RunOptions};
/// use peerfluid::scenario::Scenario;
///
/// let s = Scenario::builtin_default()?;
/// let rec = run_judged(&s, &RunOptions::default(), true)?;
/// assert!(rec.summary.validity.is_some() && rec.summary.costs.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn run_judged(s: &Scenario, opts: &RunOptions, compare: bool) -> Result<RunRecord, RunError> {
    let mut record = if compare {
        compare_scenario(s, opts)?
    } else {
        run_scenario(s, opts)?
    };
    let validity = validity::assess(s, &record);
    record.summary.verdict = verdict_of(&record.summary, &validity);
    record.summary.validity = Some(validity);
    Ok(record)
}

/// The verdict of a compared run (`None` for `run` or wireless scenarios).
fn verdict_of(s: &Summary, v: &validity::Validity) -> Option<crate::cost::verdict::Verdict> {
    let costs = s.costs.as_ref()?;
    let b = s.billing.as_ref()?;
    let service = format!(
        "{:.1} % of downloads complete, mean download time {}",
        100.0 * b.service.completed_share,
        crate::units::format_quantity(b.service.download_time_s, crate::units::Dimension::Time)
    );
    let validity = v.assessed.then(|| {
        let why = if v.holds {
            format!("{:.0} {} on average", v.mean_peers, v.population)
        } else {
            v.warnings
                .iter()
                .map(|w| {
                    let head = w.split(':').next().unwrap_or(w);
                    let mut c = head.chars();
                    c.next()
                        .map(|f| f.to_lowercase().chain(c).collect::<String>())
                        .unwrap_or_default()
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        (v.holds, why)
    });
    crate::cost::verdict::verdict(
        costs,
        s.peer_classes.as_deref().unwrap_or_default(),
        &service,
        validity,
    )
}

/// Bill a run under the scenario's billing rule (`cost::basis`): a recurring constant pattern
/// at its steady state; anything else from exact running totals on the billing grid (a solve
/// whose outputs are the sample boundaries, independent of `--points`), with the peaks that
/// size the origin located exactly between samples.
pub fn bill(s: &Scenario, rec: &RunRecord, method: Method) -> Result<Billed, RunError> {
    let cx = |source: crate::cost::CostError| RunError::Cost {
        context: format!("scenario '{}'", s.name),
        source,
    };
    let (rule, _) = s.billing_rule();
    let constant = matches!(s.demand.arrival, ArrivalProfile::Constant { .. });
    let video = s.content.kind.stream().is_some();
    let split = s.with_participation(&rec.plan.participation);
    let model = swarm_of(&split);
    let steady = if constant && !video && matches!(rule, BillingRule::Recurring { .. }) {
        billed_steady(&model, rec).map(|ss| steady_demand(&split, &model, &ss, &rec.plan))
    } else {
        None
    };
    if let (
        Some(d),
        BillingRule::Recurring {
            include_warmup: false,
        },
    ) = (&steady, rule)
    {
        let warmup = rec
            .summary
            .steady_state
            .as_ref()
            .and_then(|ss| ss.settling_time_s);
        return basis::steady_month(&split, d, warmup).map_err(cx);
    }
    // The billing grid: whole samples up to the run's horizon H, then a last, shorter sample
    // to H (idle after it) from the run's own final running totals. Live and VoD runs are cut
    // into whole samples covering H (their audience model runs on past H).
    let step = basis::sample_step(s);
    let h = rec.summary.horizon_s;
    let whole = ((h / step) * (1.0 + 1e-12)).floor();
    let samples = if video {
        (h / step - 1e-9).ceil().max(1.0)
    } else {
        whole
    };
    if samples > basis::MAX_SAMPLES as f64 {
        return Err(cx(crate::cost::CostError::Billing(format!(
            "the horizon ({}) is {samples:.0} billing samples of {}; at most {} are billed: give a shorter `horizon`",
            crate::units::format_quantity(h, crate::units::Dimension::Time),
            crate::units::format_quantity(step, crate::units::Dimension::Time),
            basis::MAX_SAMPLES
        ))));
    }
    let opts = RunOptions {
        points: (samples as usize).max(1),
        method,
        incentive: Depth::Outcome,
    };
    let grid = if video {
        let mut on_grid = s.clone();
        on_grid.horizon = Some(samples * step);
        crate::run::video::run_video_with(&on_grid, &opts, rec.plan.clone())?.demand
    } else if samples >= 1.0 {
        let mut split_grid = split.clone();
        split_grid.horizon = Some(samples * step);
        let mut d = run_model(&split_grid, &opts, &rec.plan)?.demand;
        if h - samples * step > 1e-9 * step {
            append_last(&mut d, &rec.demand);
        }
        d
    } else {
        first_and_last(&rec.demand)
    };
    let d = &grid;
    let grid_peak = |a: usize, b: usize| {
        (
            d.served_bps[a..=b].iter().copied().fold(0.0, f64::max),
            d.server_bps[a..=b].iter().copied().fold(0.0, f64::max),
        )
    };
    let exact_peak = |a: usize, b: usize| {
        let (served, server) = grid_peak(a, b);
        if video {
            return (served, server);
        }
        let fb = model.file_bits;
        let served_of = |t: f64, z: &[f64]| {
            let f = model.flows_at(t, z);
            (f.server + f.peer) * fb
        };
        let server_of = |t: f64, z: &[f64]| model.flows_at(t, z).server * fb;
        let refine = |series: &[f64], f: &dyn Fn(f64, &[f64]) -> f64, grid_max: f64| {
            let i = (a..=b)
                .max_by(|&x, &y| series[x].total_cmp(&series[y]))
                .unwrap_or(a);
            let (lo, hi) = (d.t[i.saturating_sub(1).max(a)], d.t[(i + 1).min(b)]);
            solve::maximise(&model, method, lo, hi, f).map_or(grid_max, |(_, v)| v.max(grid_max))
        };
        (
            refine(&d.served_bps, &served_of, served),
            // The peer-assisted origin never sends more than the server's capacity; its peak
            // only matters below it.
            refine(&d.server_bps, &server_of, server),
        )
    };
    basis::run_months(&split, d, steady.as_ref(), step, &exact_peak).map_err(cx)
}

/// Append the last entry of every series of `from` (a run's final running totals) to `to`.
fn append_last(to: &mut Demand, from: &Demand) {
    fn last(v: &[f64]) -> f64 {
        v.last().copied().unwrap_or(0.0)
    }
    to.t.push(last(&from.t));
    to.server_bps.push(last(&from.server_bps));
    to.served_bps.push(last(&from.served_bps));
    to.server_bytes.push(last(&from.server_bytes));
    to.peer_bytes.push(last(&from.peer_bytes));
    to.peer_seconds.push(last(&from.peer_seconds));
    for (a, b) in to.classes.iter_mut().zip(&from.classes) {
        a.online_seconds.push(last(&b.online_seconds));
        a.capacity_bits.push(last(&b.capacity_bits));
        a.downloads.push(last(&b.downloads));
    }
}

/// A run shorter than one billing sample: its first and last running totals.
fn first_and_last(from: &Demand) -> Demand {
    fn ends(v: &[f64]) -> Vec<f64> {
        vec![
            v.first().copied().unwrap_or(0.0),
            v.last().copied().unwrap_or(0.0),
        ]
    }
    Demand {
        t: ends(&from.t),
        server_bps: ends(&from.server_bps),
        served_bps: ends(&from.served_bps),
        server_bytes: ends(&from.server_bytes),
        peer_bytes: ends(&from.peer_bytes),
        peer_seconds: ends(&from.peer_seconds),
        classes: from
            .classes
            .iter()
            .map(|c| ClassDemand {
                online_seconds: ends(&c.online_seconds),
                capacity_bits: ends(&c.capacity_bits),
                downloads: ends(&c.downloads),
                ..c.clone()
            })
            .collect(),
        payments: from.payments,
    }
}

/// The service every row delivers, the origin client-server is given for it, and what the
/// scenario's own server would do alone.
fn service(
    s: &Scenario,
    rec: &RunRecord,
    billed: &Billed,
    opts: &RunOptions,
) -> Result<Service, RunError> {
    let quality = |r: &RunRecord, steady: bool| -> (f64, f64) {
        match (steady, r.summary.steady_state.as_ref()) {
            (true, Some(ss)) => (ss.completion_ratio, ss.download_time_s),
            _ => {
                let d = &r.summary.downloads;
                let leecher_s: f64 = r
                    .summary
                    .classes
                    .iter()
                    .map(|c| c.leecher_hours)
                    .sum::<f64>()
                    * 3600.0;
                let done = d.completed + d.aborted;
                (
                    if d.arrived > 0.0 {
                        d.completed / d.arrived
                    } else {
                        1.0
                    },
                    if done > 0.0 { leecher_s / done } else { 0.0 },
                )
            }
        }
    };
    let steady = billed.basis.steady_state;
    let (completed_share, download_time_s) = quality(rec, steady);
    let peak = billed
        .months
        .iter()
        .map(|m| m.served_peak_mbps)
        .fold(0.0, f64::max);
    let sharing = s.classes.iter().any(|c| c.upload > 0.0);
    let own_server_alone = if opts.incentive == Depth::Report
        && matches!(s.content.kind, crate::scenario::ContentKind::File)
        && sharing
    {
        let k = s.classes.len();
        let alone = s.with_participation(&vec![0.0; k]);
        let plan = Plan {
            names: s.classes.iter().map(|c| c.name.clone()).collect(),
            participation: vec![0.0; k],
            per_gb_uploaded: 0.0,
            per_download: 0.0,
            per_gb_offered: vec![0.0; k],
            report: None,
        };
        let mut alone_h = alone.clone();
        alone_h.horizon = Some(rec.summary.horizon_s);
        let o = RunOptions {
            incentive: Depth::Outcome,
            ..opts.clone()
        };
        match run_model(&alone_h, &o, &plan) {
            Ok(r) => {
                let (c, t) = quality(&r, steady);
                Some(OwnServer {
                    completed_share: c,
                    download_time_s: t,
                    meets_demand: c >= completed_share - 1e-3,
                })
            }
            // Without peers the swarm may have no steady state; say nothing rather than fail.
            Err(_) => None,
        }
    } else {
        None
    };
    Ok(Service {
        completed_share,
        download_time_s,
        headroom: s.pricing.headroom,
        client_server_origin_bps: ledger::provisioned_mbps(s, peak) * 1e6,
        own_server_bps: s.server.capacity,
        own_server_alone,
    })
}

/// Largest |population − steady| relative to the largest steady population.
fn distance(model: &Swarm, z: &[f64], ss: &SteadyState) -> f64 {
    let k = model.k();
    let scale = ss
        .leechers
        .iter()
        .chain(&ss.seeds)
        .fold(0.0_f64, |a, &b| a.max(b.abs()))
        .max(1e-300);
    (0..k)
        .map(|i| {
            (z[i] - ss.leechers[i])
                .abs()
                .max((z[k + i] - ss.seeds[i]).abs())
        })
        .fold(0.0, f64::max)
        / scale
}

/// The first output time after which the populations stay within [`SETTLED_RTOL`] of `ss`
/// (`None` when the run ends outside the band).
fn settling_time(model: &Swarm, traj: &Trajectory, ss: &SteadyState) -> Option<f64> {
    let t = &traj.t;
    let mut last_out = None;
    for (i, zi) in traj.states().enumerate() {
        if distance(model, zi, ss) > SETTLED_RTOL {
            last_out = Some(i);
        }
    }
    match last_out {
        None => Some(0.0),
        Some(i) => t.get(i + 1).copied(),
    }
}

/// Intervals of the scan behind [`exact_settling`] (independent of `--points`).
const SETTLING_SCAN: usize = 1024;

/// The settling time located exactly: the last interval of a fixed scan of the horizon where
/// the populations leave the band, then bisection (50 halvings) for the instant they enter
/// it for good. `None` when the run ends outside the band.
fn exact_settling(
    model: &Swarm,
    horizon: Seconds,
    ss: &SteadyState,
    method: Method,
) -> Option<f64> {
    let mut settings = SolverSettings::new(horizon);
    settings.points = SETTLING_SCAN;
    settings.method = method;
    let traj = solve::integrate(model, &settings).ok()?;
    let coarse = settling_time(model, &traj, ss)?;
    let (mut lo, mut hi) = match traj.t.iter().position(|&x| x >= coarse) {
        Some(0) | None => return Some(coarse),
        Some(i) => (traj.t[i - 1], traj.t[i]),
    };
    for _ in 0..50 {
        let mid = 0.5 * (lo + hi);
        let z = solve::state_at(model, mid, method).ok()?;
        if distance(model, &z, ss) > SETTLED_RTOL {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Some(hi)
}

/// Default horizon when the scenario gives none, and why.
fn default_horizon(
    model: &Swarm,
    steady: Option<&Vec<SteadyState>>,
    constant: bool,
) -> Result<(f64, String), String> {
    // Draining time scale of the swarm once arrivals stop: leechers leave at θ + c (at best),
    // seeds at γ.
    let drain = model
        .classes
        .iter()
        .map(|c| {
            let out = (c.theta + c.c).min(c.gamma.unwrap_or(f64::INFINITY));
            SETTLE_TIME_CONSTANTS / out
        })
        .fold(0.0, f64::max);
    let relax = steady
        .and_then(|l| l.first())
        .map(|ss| SETTLE_TIME_CONSTANTS / model.slowest_rate(ss).0)
        .filter(|v| v.is_finite());
    match &model.arrival {
        ArrivalProfile::Constant { .. } => match relax {
            Some(h) => Ok((h, format!("until the steady state: {SETTLE_TIME_CONSTANTS} slowest time constants, extended while short of rtol {STEADY_RTOL}"))),
            None if constant => Err("no steady state exists".into()),
            None => Ok((drain, "draining time".into())),
        },
        ArrivalProfile::FlashCrowd { decay_time, .. } => Ok((
            decay_time * (1e6_f64).ln() + drain.max(relax.unwrap_or(0.0)),
            "until arrivals fall to 1e-6 of the peak, then the swarm drains".into(),
        )),
        ArrivalProfile::Diurnal { period, .. } => Ok((7.0 * period, "seven periods of the diurnal profile".into())),
        ArrivalProfile::Trace { points } => Ok((
            points.last().map_or(0.0, |p| p.0).max(drain),
            "to the end of the trace (at least the draining time)".into(),
        )),
    }
}
