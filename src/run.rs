//! Run one scenario: build the model, choose the horizon, solve, and turn the trajectory and the
//! steady state into a [`RunRecord`] (a time series and a summary) ready for `output`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cost::ledger::{self, ClassDemand, ClassLedger, CostBreakdown, Demand, PaymentRule};
use crate::scenario::Origin;

use crate::error::ModelError;
use crate::incentive::{
    self,
    plan::{Depth, Plan},
};
use crate::model::swarm::{SteadyState, Swarm};
use crate::model::{ArrivalProfile, FluidModel};
use crate::scenario::Scenario;
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
    /// Output intervals (the CSV has points + 1 rows).
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
    /// The incentive: participation, payments, equilibria, best payment, Shapley value
    /// (absent when peers are not paid and nobody decides).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incentive: Option<incentive::plan::IncentiveReport>,
    /// `compare` only: how the horizon was billed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing: Option<Billing>,
    /// Live and VoD scenarios: the stream's figures (`null` for files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video: Option<crate::viewing::VideoSummary>,
    /// Scenarios with `[[isp]]`: the steady state per ISP under each peer-selection rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locality: Option<crate::model::locality::LocalityReport>,
    /// Wireless scenarios: the offload, towers, costs, Shapley split and energy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wireless: Option<crate::wireless::WirelessReport>,
    /// Scenarios with `[push]`: distribution times and the server a deadline needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push: Option<crate::model::push::PushReport>,
    /// `run` and `compare`: whether the fluid model can be trusted here (enough peers, a
    /// source for the first copy); see `validity::assess`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validity: Option<crate::validity::Validity>,
    /// `--check-stochastic`: fluid vs the exact stochastic twin at the real scale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stochastic_check: Option<crate::validity::StochasticCheck>,
}

/// How the horizon was turned into monthly bills.
#[derive(Debug, Clone, Serialize)]
pub struct Billing {
    /// Length of a billing month, days.
    pub month_days: f64,
    /// Billing months simulated (fractional).
    pub months_simulated: f64,
    /// True when the horizon (or its last month) was shorter than a month and was scaled up.
    pub scaled_to_month: bool,
    /// CDN price table used.
    pub cdn_prices: String,
    /// Who serves the residual in `p2p`: "transit" or "cdn".
    pub p2p_origin: &'static str,
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
    /// Slowest relaxation rate of the linearisation, 1/s.
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

/// Run a scenario: settle its incentive (who shares, how they are paid), then solve the swarm
/// with the sharers and non-sharers as separate classes.
pub fn run_scenario(s: &Scenario, opts: &RunOptions) -> anyhow::Result<RunRecord> {
    if s.content.kind.stream().is_some() {
        return crate::viewing::run_video(s, opts);
    }
    if s.content.kind.wireless().is_some() {
        return crate::wireless::run_wireless(s, opts);
    }
    let plan = incentive::plan::plan_with(s, opts.incentive)
        .map_err(|e| anyhow::Error::new(e).context(format!("scenario '{}': incentives", s.name)))?;
    let split = s.with_participation(&plan.participation);
    let mut rec = run_model(&split, opts, &plan)?;
    rec.summary.incentive = plan.report.clone();
    rec.summary.locality = crate::model::locality::locality_report(s, &plan.participation)
        .map_err(|e| {
            anyhow::Error::new(e).context(format!("scenario '{}': ISP locality", s.name))
        })?;
    rec.summary.push = crate::model::push::push_report(s, &plan.participation)
        .map_err(|e| anyhow::Error::new(e).context(format!("scenario '{}': file push", s.name)))?;
    rec.plan = plan;
    Ok(rec)
}

fn run_model(s: &Scenario, opts: &RunOptions, plan: &Plan) -> anyhow::Result<RunRecord> {
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
    let mut traj = solve::integrate(&model, &settings).map_err(|e| {
        anyhow::Error::new(e).context(format!("scenario '{}': integration failed", s.name))
    })?;

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
                traj = solve::integrate(&model, &settings).map_err(|e| {
                    anyhow::Error::new(e)
                        .context(format!("scenario '{}': integration failed", s.name))
                })?;
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
        let (x, y) = (&zs[..k], &zs[k..2 * k]);
        let f = model.flows(x, y);
        let leechers: f64 = x.iter().sum();
        let mut row = vec![
            *t,
            leechers,
            y.iter().sum(),
            f.server * model.file_bits,
            f.peer * model.file_bits,
            s.demand.arrival.rate_at(*t),
            (0..k).map(|i| zs[model.ix_done(i)]).sum(),
            (0..k).map(|i| zs[model.ix_aborted(i)]).sum(),
        ];
        row.extend_from_slice(x);
        row.extend_from_slice(y);
        row.extend(f.download.iter().map(|d| d * model.file_bits));
        if leechers > peak.leechers {
            peak.leechers = leechers;
            peak.leechers_at_s = *t;
        }
        peak.server_rate_bps = peak.server_rate_bps.max(row[3]);
        peak.peer_rate_bps = peak.peer_rate_bps.max(row[4]);
        rows.push(row);
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
                    .map(|z| {
                        c.upload
                            * (model.eta * z[model.ix_leecher_time(i)] + z[model.ix_seed_time(i)])
                    })
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
        let (slow, _) = model.slowest_rate(ss);
        let settling = constant.then(|| settling_time(&model, &traj, ss));
        SteadySummary {
            basis,
            arrival_rate_per_s: ss.arrival_rate,
            leechers: ss.leechers.iter().sum(),
            seeds: ss.seeds.iter().sum(),
            download_time_s: ss.mean_download_time(),
            regime: ss.regime.label(),
            server_rate_bps: ss.server * model.file_bits,
            peer_rate_bps: ss.peer * model.file_bits,
            server_share: if served > 0.0 {
                ss.server / served
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
        billing: None,
        incentive: None,
        video: None,
        locality: None,
        push: None,
        wireless: None,
        validity: None,
        stochastic_check: None,
    };
    Ok(RunRecord {
        demand,
        columns,
        rows,
        summary,
        plan: plan.clone(),
    })
}

/// The fluid run a stochastic simulation is compared with (its grid and horizon are the
/// simulation's), and the swarm to simulate: the scenario's classes split into sharers and
/// non-sharers exactly as the fluid run splits them. File scenarios only.
pub fn fluid_for_simulation(s: &Scenario, points: usize) -> anyhow::Result<(RunRecord, Swarm)> {
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
pub fn compare_scenario(s: &Scenario, opts: &RunOptions) -> anyhow::Result<RunRecord> {
    let mut rec = run_scenario(s, opts)?;
    if s.content.kind.wireless().is_some() {
        // The wireless report already prices both architectures per month.
        return Ok(rec);
    }
    let rows = ledger::compare(s, &rec.demand);
    let months = rec.summary.horizon_s / s.pricing.billing_month;
    rec.summary.billing = Some(Billing {
        month_days: s.pricing.billing_month / 86_400.0,
        months_simulated: months,
        scaled_to_month: months.fract() > 1e-9 || months < 1.0,
        cdn_prices: s.pricing.cdn_name.clone(),
        p2p_origin: match s.pricing.origin {
            Origin::Transit => "transit",
            Origin::Cdn => "cdn",
        },
    });
    rec.summary.costs = Some(rows.into_iter().map(|r| (r.architecture, r)).collect());
    rec.summary.peer_classes = Some(ledger::class_ledgers(s, &rec.demand));
    Ok(rec)
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

fn settling_time(model: &Swarm, traj: &Trajectory, ss: &SteadyState) -> f64 {
    let t = &traj.t;
    let mut last_out = 0.0;
    for (ti, zi) in t.iter().zip(traj.states()) {
        if distance(model, zi, ss) > SETTLED_RTOL {
            last_out = *ti;
        }
    }
    // The first output time after the last one outside the band.
    t.iter()
        .copied()
        .find(|&x| x > last_out)
        .unwrap_or(last_out)
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
