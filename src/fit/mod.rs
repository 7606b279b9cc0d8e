//! Calibration (`peerfluid fit`, issue 20): chosen scenario keys fitted to a measured swarm
//! trace by least squares of Poisson deviance residuals on the exact fluid trajectory, with bootstrap confidence
//! intervals. Card: `models/calibration.md`.
//!
//! * Model: the scenario's swarm (`model::swarm::swarm_of`), empty at t = 0, solved by
//!   `solve::integrate` (the exact method) at the trace's sample times; arrivals from the
//!   trace's `arrivals` column (a step profile with the measured counts) or the scenario's
//!   own profile.
//! * Residuals: for every sample i and each series (leechers, seeds, and the running counts
//!   of completions and aborts when the trace has them),
//!   the Poisson deviance residual sign(m − y)·√(2 (m − y + y ln(y/m))) ≈ (m − y)/√y: counts
//!   of peers have a variance about their mean (an M/G/∞ population is Poisson), and unlike
//!   dividing by the measured count this does not pull the fit below the mean.
//! * Parameters in an unbounded form: η = 1/(1 + e^{−u}), residence and abort rate = e^u;
//!   Levenberg–Marquardt with a forward-difference Jacobian.
//! * Confidence intervals: moving-block bootstrap of the standardised residuals (blocks of ⌈n^{1/3}⌉
//!   samples keep their autocorrelation), refitted from the estimate, 2.5 % and 97.5 %
//!   percentiles; seeded and evaluated in parallel in index order, so the result does not
//!   depend on the thread count.
//! * Identifiability: a key whose every residual is insensitive to it (e.g. η in a swarm that is
//!   download-limited throughout), or keys that move the residuals the same way (correlation
//!   of the Jacobian's columns above [`CONFOUNDED`]), are refused with the reason.

pub mod trace;

use rand::{RngExt, SeedableRng};
use rand_pcg::Pcg64;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::FitError;
use crate::model::swarm::{swarm_of, Swarm};
use crate::model::ArrivalProfile;
use crate::scenario::Scenario;
use crate::solve::{self, SolverSettings};
pub use trace::Trace;

/// Most Levenberg–Marquardt iterations.
pub const MAX_ITERATIONS: usize = 200;
/// Relative change of the objective below which the fit has converged.
pub const CONVERGED: f64 = 1e-12;
/// A key whose Jacobian column is below this × the largest column's norm does not move the
/// residuals: it is not identifiable from the trace.
pub const INSENSITIVE: f64 = 1e-6;
/// Two keys whose Jacobian columns have |correlation| above this move the residuals the same
/// way: they cannot be told apart.
pub const CONFOUNDED: f64 = 0.9999;
/// Shortest seed residence the search tries, s (a scenario refuses residences in (0, 1 s)).
const MIN_RESIDENCE: f64 = 1.0;
use crate::scenario::MIN_STARTUP_DELAY;
/// Mean |model − measured| over the measured peers above which a fit is reported as a misfit
/// (the target for a calibrated model is 10 %).
pub const MISFIT: f64 = 0.1;
/// Default bootstrap replicates.
pub const DEFAULT_BOOTSTRAP: usize = 100;

/// A scenario key `fit` can estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Key {
    /// `swarm.efficiency`, η in (0, 1).
    Efficiency,
    /// `swarm.seed_residence`, 1/γ in s.
    SeedResidence,
    /// `swarm.abort_rate`, θ in 1/s.
    AbortRate,
    /// `swarm.startup_delay`, τ₀ in s (searched above the scenarios' 0.1 s floor).
    StartupDelay,
}

impl Key {
    /// Every key, in the order they are reported.
    pub const ALL: [Key; 4] = [
        Key::Efficiency,
        Key::SeedResidence,
        Key::AbortRate,
        Key::StartupDelay,
    ];
    /// The keys fitted when none are chosen. The start-up delay is not among them: a trace
    /// with no start-up (or one the other keys already follow) drives it to its floor, and
    /// the calibrations already made keep their meaning; `--keys` adds it.
    pub const DEFAULT: [Key; 3] = [Key::Efficiency, Key::SeedResidence, Key::AbortRate];

    /// The scenario key.
    pub fn name(self) -> &'static str {
        match self {
            Key::Efficiency => "swarm.efficiency",
            Key::SeedResidence => "swarm.seed_residence",
            Key::AbortRate => "swarm.abort_rate",
            Key::StartupDelay => "swarm.startup_delay",
        }
    }

    /// The key named `name`.
    ///
    /// # Errors
    ///
    /// [`FitError::Key`] listing the keys that can be fitted.
    pub fn parse(name: &str) -> Result<Self, FitError> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| FitError::Key {
                key: name.to_string(),
                reason: format!(
                    "cannot be fitted; the keys `fit` estimates are {}",
                    Self::ALL.map(Key::name).join(", ")
                ),
            })
    }

    /// The unit of the value.
    pub fn unit(self) -> &'static str {
        match self {
            Key::Efficiency => "",
            Key::SeedResidence => "s",
            Key::AbortRate => "1/s",
            Key::StartupDelay => "s",
        }
    }

    /// The value from its unbounded form.
    fn value(self, u: f64) -> f64 {
        match self {
            Key::Efficiency => 1.0 / (1.0 + (-u).exp()),
            // Scenarios refuse residences below a second (other than 0): the search stays
            // above it.
            Key::SeedResidence => MIN_RESIDENCE + u.exp(),
            Key::AbortRate => u.exp(),
            Key::StartupDelay => MIN_STARTUP_DELAY + u.exp(),
        }
    }

    /// The unbounded form of a value (a start at the edge of the range moves inside it).
    fn unbounded(self, v: f64) -> f64 {
        match self {
            Key::Efficiency => {
                let v = v.clamp(0.01, 0.99);
                (v / (1.0 - v)).ln()
            }
            Key::SeedResidence => (v - MIN_RESIDENCE).max(1e-9).ln(),
            Key::AbortRate => v.max(1e-9).ln(),
            Key::StartupDelay => (v - MIN_STARTUP_DELAY).max(1e-9).ln(),
        }
    }

    /// The scenario's value of this key (classes must agree).
    fn current(self, s: &Scenario) -> Result<f64, FitError> {
        let per_class = |f: &dyn Fn(&crate::scenario::PeerClass) -> f64| {
            let v = f(&s.classes[0]);
            if s.classes.iter().all(|c| f(c).to_bits() == v.to_bits()) {
                Ok(v)
            } else {
                Err(FitError::Key {
                    key: self.name().into(),
                    reason: "the peer classes have values of their own; `fit` estimates one value for the whole swarm".into(),
                })
            }
        };
        match self {
            Key::Efficiency => Ok(s.swarm.efficiency),
            Key::SeedResidence => per_class(&|c| c.seed_residence),
            Key::AbortRate => per_class(&|c| c.abort_rate),
            Key::StartupDelay => Ok(s.swarm.startup_delay),
        }
    }

    /// A start for the search when the scenario's value is at the edge (seeds that leave at
    /// once, no aborts): a residence of 1 % of the trace, an abort rate of 1 % per trace.
    fn start(self, s: &Scenario, span: f64) -> Result<f64, FitError> {
        let v = self.current(s)?;
        Ok(match self {
            Key::SeedResidence if v <= 0.0 => 0.01 * span,
            Key::AbortRate if v <= 0.0 => 0.01 / span,
            Key::StartupDelay if v <= 0.0 => 0.01 * span,
            _ => v,
        })
    }

    fn set(self, s: &mut Scenario, v: f64) {
        match self {
            Key::Efficiency => s.swarm.efficiency = v,
            Key::SeedResidence => s.classes.iter_mut().for_each(|c| c.seed_residence = v),
            Key::AbortRate => s.classes.iter_mut().for_each(|c| c.abort_rate = v),
            Key::StartupDelay => s.swarm.startup_delay = v,
        }
    }
}

/// Where the model's arrivals come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ArrivalsFrom {
    /// The trace's `arrivals` column (its counts per interval).
    Trace,
    /// The scenario's `[demand]` profile.
    Scenario,
}

/// What to fit and how.
#[derive(Debug, Clone, PartialEq)]
pub struct FitOptions {
    /// The keys to estimate.
    pub keys: Vec<Key>,
    /// Arrivals from the trace (`None`: the trace when it has an `arrivals` column, else the
    /// scenario).
    pub arrivals: Option<ArrivalsFrom>,
    /// Bootstrap replicates for the confidence intervals (0: none).
    pub bootstrap: usize,
    /// Seed of the bootstrap.
    pub seed: u64,
    /// Samples before this time (s) are left out of the objective (the model still runs from
    /// t = 0): a steady window, when the start is not what the model should match.
    pub from: f64,
}

impl Default for FitOptions {
    fn default() -> Self {
        Self {
            keys: Key::DEFAULT.to_vec(),
            arrivals: None,
            bootstrap: DEFAULT_BOOTSTRAP,
            seed: 1,
            from: 0.0,
        }
    }
}

/// One estimated key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// The scenario key.
    pub key: &'static str,
    /// Its unit.
    pub unit: &'static str,
    /// The scenario's value (the start of the search, moved inside the range if at its edge).
    pub initial: f64,
    /// The fitted value.
    pub value: f64,
    /// Asymptotic standard error (Gauss–Newton, residual variance), in the value's unit.
    pub standard_error: f64,
    /// 2.5 % bootstrap percentile (`null` without bootstrap).
    pub ci_low: Option<f64>,
    /// 97.5 % bootstrap percentile.
    pub ci_high: Option<f64>,
}

/// One sample: measured against fitted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FittedRow {
    /// Time, s.
    pub t: f64,
    /// Measured leechers.
    pub leechers: f64,
    /// Fitted leechers.
    pub leechers_fit: f64,
    /// Measured seeds.
    pub seeds: f64,
    /// Fitted seeds.
    pub seeds_fit: f64,
}

/// The result of a fit (`fit.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FitReport {
    /// Scenario name.
    pub scenario: String,
    /// The trace file.
    pub trace: String,
    /// Samples in the trace.
    pub samples: usize,
    /// Samples before this time were left out of the objective (`--from`), s.
    pub from_s: f64,
    /// Where the arrivals came from.
    pub arrivals: ArrivalsFrom,
    /// The measured series matched (leechers and seeds, and the running counts of
    /// completions and aborts when the trace has them).
    pub series: Vec<Series>,
    /// How residuals are weighted.
    pub weights: &'static str,
    /// The estimates, in the order asked.
    pub estimates: Vec<Estimate>,
    /// Weighted sum of squared residuals at the start and at the fit.
    pub objective_initial: f64,
    /// At the fit.
    pub objective: f64,
    /// Root mean square of the weighted residuals at the fit.
    pub rms_weighted_residual: f64,
    /// Σ|model − measured| / Σ measured over the leechers and seeds samples, at the fit.
    pub relative_error: f64,
    /// Levenberg–Marquardt iterations.
    pub iterations: usize,
    /// Whether the objective settled (relative change below 1e-12) within the iterations.
    pub converged: bool,
    /// Bootstrap replicates asked for, and those whose refit succeeded.
    pub bootstrap: usize,
    /// Bootstrap refits that succeeded.
    pub bootstrap_ok: usize,
    /// Seed of the bootstrap.
    pub seed: u64,
    /// Why the fit should not be trusted as it stands, when the model does not follow the
    /// trace (Σ|model − measured| above [`MISFIT`] of the measured peers, or an estimate outside
    /// its own bootstrap interval): the estimates then absorb what the model lacks and the
    /// intervals measure noise around a wrong shape. `null` otherwise.
    pub misfit: Option<String>,
    /// Measured against fitted, per sample.
    pub rows: Vec<FittedRow>,
}

/// A measured series the fit matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Series {
    /// Leechers online.
    Leechers,
    /// Seeds online.
    Seeds,
    /// Completions so far (running count), when the trace has them.
    Completions,
    /// Aborts so far (running count), when the trace has them.
    Aborts,
}

/// Measured or modelled values of each series, in the order of `Problem::series`.
type Data = Vec<Vec<f64>>;

/// The swarm's series at the trace's times, for a scenario.
struct Problem<'a> {
    base: Scenario,
    series: Vec<Series>,
    keys: &'a [Key],
    trace: &'a Trace,
    /// Sample times are i·Δ from 0 (then one solve outputs exactly at them).
    uniform: bool,
    /// Samples left out of the objective (before `FitOptions::from`).
    skip: usize,
}

impl Problem<'_> {
    fn scenario_at(&self, u: &[f64]) -> Scenario {
        let mut s = self.base.clone();
        for (k, &ui) in self.keys.iter().zip(u) {
            k.set(&mut s, k.value(ui));
        }
        s
    }

    fn describe(&self, u: &[f64]) -> String {
        self.keys
            .iter()
            .zip(u)
            .map(|(k, &ui)| format!("{} = {}", k.name(), k.value(ui)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The model's series at the trace's times from the first sample the objective counts.
    fn model(&self, u: &[f64]) -> Result<Data, FitError> {
        let mut all = self.model_all(u)?;
        for col in &mut all {
            col.drain(..self.skip);
        }
        Ok(all)
    }

    /// The model's series at every time of the trace.
    fn model_all(&self, u: &[f64]) -> Result<Data, FitError> {
        let s = self.scenario_at(u);
        let sw = swarm_of(&s);
        self.solve(&sw).map_err(|reason| FitError::Solve {
            at: self.describe(u),
            reason,
        })
    }

    fn solve(&self, sw: &Swarm) -> Result<Data, String> {
        let t = &self.trace.t;
        let n = t.len();
        let t_end = t[n - 1];
        let k = sw.k();
        let values = |z: &[f64]| -> Vec<f64> {
            self.series
                .iter()
                .map(|s| match s {
                    Series::Leechers => z[..k].iter().sum(),
                    Series::Seeds => z[k..2 * k].iter().sum(),
                    Series::Completions => (0..k).map(|c| z[sw.ix_done(c)]).sum(),
                    Series::Aborts => (0..k).map(|c| z[sw.ix_aborted(c)]).sum(),
                })
                .collect()
        };
        let mut settings = SolverSettings::new(t_end);
        // Uniform samples: one solve outputs exactly at them; uneven samples: a grid four
        // times as fine as the trace, interpolated linearly.
        settings.points = if self.uniform { n - 1 } else { 4 * n };
        let traj = solve::integrate(sw, &settings).map_err(|e| e.to_string())?;
        let rows: Vec<Vec<f64>> = traj.states().map(values).collect();
        let at = |i: usize, j: usize| rows[i][j];
        let mut out = vec![Vec::with_capacity(n); self.series.len()];
        for (i, &ti) in t.iter().enumerate() {
            for (j, col) in out.iter_mut().enumerate() {
                col.push(if self.uniform {
                    at(i, j)
                } else {
                    let g = traj
                        .t
                        .partition_point(|&x| x < ti)
                        .clamp(1, traj.t.len() - 1);
                    let (ta, tb) = (traj.t[g - 1], traj.t[g]);
                    let w = if tb > ta { (ti - ta) / (tb - ta) } else { 0.0 };
                    at(g - 1, j) + w * (at(g, j) - at(g - 1, j))
                });
            }
        }
        Ok(out)
    }
}

/// Smallest model value the deviance is evaluated at (a model count of exactly 0 against a
/// measured count y > 0 would give an infinite residual).
const DEVIANCE_FLOOR: f64 = 1e-12;

/// Poisson deviance residual of a model value `m` against a measured count `y`:
/// sign(m − y)·√(2 (m − y + y ln(y/m))), ≈ (m − y)/√y near m = y. Minimising the sum of
/// their squares is maximum likelihood for Poisson counts, and a model that is constant over
/// a stretch is fitted to the stretch's mean. Weighting by the measured count instead
/// ((m − y)/√max(y, 1), Neyman's χ²) pulls a fit below the mean by about one count: the
/// samples above the mean weigh less (`models/calibration.md`, "Objective").
fn deviance_residual(m: f64, y: f64) -> f64 {
    let mf = m.max(DEVIANCE_FLOOR);
    let y = y.max(0.0);
    let d = if y > 0.0 {
        2.0 * (mf - y + y * (y / mf).ln())
    } else {
        2.0 * mf
    };
    d.max(0.0).sqrt().copysign(m - y)
}

/// Residuals of a model against data, series after series (Poisson deviance residuals).
fn residuals(model: &Data, data: &Data) -> Vec<f64> {
    model
        .iter()
        .zip(data)
        .flat_map(|(m, d)| m.iter().zip(d).map(|(m, y)| deviance_residual(*m, *y)))
        .collect()
}

fn sum_sq(r: &[f64]) -> f64 {
    r.iter().map(|v| v * v).sum()
}

/// Levenberg–Marquardt from `u0` on data `data`: (u, objective, iterations, converged, J).
#[allow(clippy::type_complexity)]
fn levenberg_marquardt(
    p: &Problem,
    data: &Data,
    u0: &[f64],
) -> Result<(Vec<f64>, f64, usize, bool, nalgebra::DMatrix<f64>), FitError> {
    use nalgebra::{DMatrix, DVector};
    let m = u0.len();
    let mut u = u0.to_vec();
    let mut r = residuals(&p.model(&u)?, data);
    let mut f = sum_sq(&r);
    let mut lambda = 1e-3;
    let jacobian = |u: &[f64], r: &[f64]| -> Result<DMatrix<f64>, FitError> {
        let mut j = DMatrix::zeros(r.len(), m);
        for c in 0..m {
            let h = 1e-6 * u[c].abs().max(1.0);
            let mut up = u.to_vec();
            up[c] += h;
            let rc = residuals(&p.model(&up)?, data);
            for (i, (a, b)) in rc.iter().zip(r).enumerate() {
                j[(i, c)] = (a - b) / h;
            }
        }
        Ok(j)
    };
    let mut j = jacobian(&u, &r)?;
    let mut converged = false;
    let mut iterations = 0;
    while iterations < MAX_ITERATIONS {
        iterations += 1;
        let jt = j.transpose();
        let a = &jt * &j;
        let g = &jt * DVector::from_column_slice(&r);
        let mut improved = false;
        for _ in 0..30 {
            let mut damped = a.clone();
            for d in 0..m {
                damped[(d, d)] += lambda * a[(d, d)].max(1e-12);
            }
            let Some(step) = damped.lu().solve(&(-&g)) else {
                lambda *= 10.0;
                continue;
            };
            // Steps of at most 2 in the unbounded form (a factor e² in a rate, and η moving
            // at most from 0.12 to 0.5): a trust region that keeps η off its saturated ends.
            let trial: Vec<f64> = u
                .iter()
                .zip(step.iter())
                .map(|(ui, s)| ui + s.clamp(-2.0, 2.0))
                .collect();
            let rt = match p.model(&trial) {
                Ok(mo) => residuals(&mo, data),
                Err(_) => {
                    lambda *= 10.0;
                    continue;
                }
            };
            let ft = sum_sq(&rt);
            if ft.is_finite() && ft < f {
                let change = (f - ft) / f.max(f64::MIN_POSITIVE);
                u = trial;
                r = rt;
                f = ft;
                lambda = (lambda / 10.0).max(1e-12);
                improved = true;
                if change < CONVERGED {
                    converged = true;
                }
                break;
            }
            lambda *= 10.0;
        }
        if !improved {
            // No step lowers the objective: at a minimum to rounding.
            converged = true;
        }
        if converged {
            break;
        }
        j = jacobian(&u, &r)?;
    }
    let j = jacobian(&u, &r)?;
    Ok((u, f, iterations, converged, j))
}

/// Refuse keys the trace cannot determine: a Jacobian column that does not move the
/// residuals, or two columns that move them the same way.
fn identifiable(p: &Problem, j: &nalgebra::DMatrix<f64>, u: &[f64]) -> Result<(), FitError> {
    let norms: Vec<f64> = (0..j.ncols()).map(|c| j.column(c).norm()).collect();
    let top = norms.iter().copied().fold(0.0, f64::max);
    for (c, &nc) in norms.iter().enumerate() {
        // A NaN column (a failed difference) counts as insensitive too.
        let moves = nc > INSENSITIVE * top && top > 0.0;
        if !moves {
            return Err(FitError::Key {
                key: p.keys[c].name().into(),
                reason: why_insensitive(p, p.keys[c], u),
            });
        }
    }
    for a in 0..j.ncols() {
        for b in a + 1..j.ncols() {
            let corr = j.column(a).dot(&j.column(b)) / (norms[a] * norms[b]);
            if corr.abs() > CONFOUNDED {
                return Err(FitError::Key {
                    key: p.keys[a].name().into(),
                    reason: format!(
                        "moves the trace the same way as `{}` (correlation {corr:.6} of their effects): the trace cannot tell them apart; fix one of them in the scenario and fit the other (--keys)",
                        p.keys[b].name()
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Why a key does not move the residuals, in words.
fn why_insensitive(p: &Problem, key: Key, u: &[f64]) -> String {
    let s = p.scenario_at(u);
    match key {
        Key::Efficiency => {
            // η only scales the leechers' upload: it matters only where upload limits.
            let sw = swarm_of(&s);
            let limited = p
                .model(u)
                .map(|d| {
                    d[0].iter().zip(&d[1]).any(|(&x, &y)| {
                        let k = sw.k();
                        let xs: Vec<f64> = sw.classes.iter().map(|c| x * c.share).collect();
                        let ys: Vec<f64> = sw.classes.iter().map(|c| y * c.share).collect();
                        let demand: f64 = (0..k).map(|c| sw.classes[c].c * xs[c]).sum();
                        let supply: f64 = (0..k)
                            .map(|c| sw.classes[c].mu * (sw.eta * xs[c] + ys[c]))
                            .sum::<f64>()
                            + sw.server;
                        supply < demand
                    })
                })
                .unwrap_or(true);
            if limited {
                "does not move the trace: the leechers' upload never changes a download here; fix it in the scenario".into()
            } else {
                "does not move the trace: the swarm is download-limited at every sample (the peers' upload, scaled by η, never limits a download), so no trace of it can estimate η; fix it in the scenario (--keys without it)".into()
            }
        }
        Key::SeedResidence => {
            "does not move the trace here; fix it in the scenario (--keys without it)".into()
        }
        Key::AbortRate => "does not move the trace: nobody aborts at any rate the trace could show; fix it in the scenario (--keys without it)".into(),
        Key::StartupDelay => "does not move the trace here; fix it in the scenario (--keys without it)".into(),
    }
}

/// Fit `opts.keys` of scenario `s` to `trace`.
///
/// # Errors
///
/// [`FitError::Scenario`] for scenarios that are not file swarms, or a trace that does not
/// start empty; [`FitError::Key`] for keys that cannot be fitted or identified;
/// [`FitError::Solve`] when the model cannot be solved.
pub fn fit(s: &Scenario, trace: &Trace, opts: &FitOptions) -> Result<FitReport, FitError> {
    if !matches!(s.content.kind, crate::scenario::ContentKind::File) {
        return Err(FitError::Scenario(format!(
            "scenario '{}' is a {} scenario: `fit` calibrates file swarms (content.kind = \"file\")",
            s.name,
            s.content.kind.label()
        )));
    }
    if opts.keys.is_empty() {
        return Err(FitError::Scenario("no keys to fit (--keys)".into()));
    }
    let mut keys = opts.keys.clone();
    keys.dedup();
    // Keys no trace of this kind can show are refused before the search (which would drive
    // them to the edge of their range, and the solver into stiff corners, first).
    for k in &keys {
        let none = |col: &[f64]| col.iter().all(|&v| v == 0.0);
        let reason = match k {
            Key::SeedResidence if none(&trace.seeds) => Some(
                "the trace has no seeds at all (they leave at once, or are not recorded): set `swarm.seed_residence = 0` and fit the other keys (--keys)",
            ),
            Key::AbortRate if trace.aborts.as_deref().is_some_and(none) => Some(
                "the trace records no aborts: set `swarm.abort_rate = 0` and fit the other keys (--keys)",
            ),
            _ => None,
        };
        if let Some(reason) = reason {
            return Err(FitError::Key {
                key: k.name().into(),
                reason: reason.into(),
            });
        }
    }
    let span = trace.t[trace.len() - 1];
    // Peers online at t = 0 must be that instant's arrivals (the swarm was empty before):
    // their arrivals are spread over the first interval (`Trace::arrival_points`).
    let at_start = trace.leechers[0] + trace.seeds[0];
    let arrived_at_start = trace.arrivals.as_ref().map_or(0.0, |a| a[0]);
    if at_start > 0.5 && trace.t[0] <= 0.0 && at_start > arrived_at_start + 0.5 {
        return Err(FitError::Scenario(format!(
            "{}: the first sample (t = 0) has {} leechers and {} seeds but {} arrivals; the model starts from an empty swarm, so the trace must start at the first arrival",
            trace.file, trace.leechers[0], trace.seeds[0], arrived_at_start
        )));
    }
    let arrivals = opts.arrivals.unwrap_or(if trace.arrivals.is_some() {
        ArrivalsFrom::Trace
    } else {
        ArrivalsFrom::Scenario
    });
    let mut base = s.clone();
    if arrivals == ArrivalsFrom::Trace {
        let points = trace.arrival_points().ok_or_else(|| {
            FitError::Scenario(format!(
                "{}: no `arrivals` column, so the arrivals must come from the scenario (--arrivals scenario)",
                trace.file
            ))
        })?;
        base.demand.arrival = ArrivalProfile::Trace { points };
    }
    let dt = trace.t[1] - trace.t[0];
    let uniform = trace.t[0] == 0.0
        && trace
            .t
            .iter()
            .enumerate()
            .all(|(i, &t)| (t - i as f64 * dt).abs() <= 1e-9 * t.max(dt));
    let skip = trace.t.partition_point(|&t| t < opts.from);
    if trace.len() - skip < trace::MIN_ROWS {
        return Err(FitError::Scenario(format!(
            "{}: {} samples at or after --from {} s; a fit needs at least {}",
            trace.file,
            trace.len() - skip,
            opts.from,
            trace::MIN_ROWS
        )));
    }
    let mut data: Data = vec![
        trace.leechers[skip..].to_vec(),
        trace.seeds[skip..].to_vec(),
    ];
    let mut series = vec![Series::Leechers, Series::Seeds];
    for (which, col) in [
        (Series::Completions, &trace.completions),
        (Series::Aborts, &trace.aborts),
    ] {
        if let Some(c) = col {
            series.push(which);
            data.push(c[skip..].to_vec());
        }
    }
    let problem = Problem {
        base,
        series: series.clone(),
        keys: &keys,
        trace,
        uniform,
        skip,
    };
    let mut initial = Vec::with_capacity(keys.len());
    for k in &keys {
        initial.push(k.start(s, span)?);
    }
    let u0: Vec<f64> = keys
        .iter()
        .zip(&initial)
        .map(|(k, v)| k.unbounded(*v))
        .collect();
    let f0 = sum_sq(&residuals(&problem.model(&u0)?, &data));
    let (u, f, iterations, converged, j) = levenberg_marquardt(&problem, &data, &u0)?;
    identifiable(&problem, &j, &u)?;

    // Asymptotic standard errors: (JᵀJ)⁻¹ σ², σ² = objective / (n − p), mapped to values by
    // the derivative of the transform.
    let n_res = j.nrows();
    let dof = (n_res.saturating_sub(keys.len())).max(1) as f64;
    let cov = (j.transpose() * &j).try_inverse().map(|c| c * (f / dof));
    let fitted = problem.model(&u)?;
    // Measured minus fitted, series after series (the bootstrap adds them back).
    let residual_at_fit: Vec<f64> = fitted
        .iter()
        .zip(&data)
        .flat_map(|(m, d)| m.iter().zip(d).map(|(m, y)| y - m))
        .collect();
    // Moving-block bootstrap of the standardised residuals, per series.
    let scale: Vec<f64> = data.iter().flatten().map(|y| y.max(1.0).sqrt()).collect();
    let n = trace.len() - skip;
    let block = (n as f64).cbrt().ceil().max(1.0) as usize;
    let replicate = |b: usize| -> Option<Vec<f64>> {
        let mut rng =
            Pcg64::seed_from_u64(opts.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b as u64);
        let mut series = |offset: usize, model: &[f64]| -> Vec<f64> {
            let mut out = Vec::with_capacity(n);
            while out.len() < n {
                let start = rng.random_range(0..=n - block.min(n));
                for i in start..(start + block).min(n) {
                    if out.len() == n {
                        break;
                    }
                    // A standardised residual from sample i, scaled to the spread at the
                    // sample it lands on (counts' spread grows with their size).
                    let at = out.len();
                    let e = residual_at_fit[offset + i] / scale[offset + i] * scale[offset + at];
                    out.push((model[at] + e).max(0.0));
                }
            }
            out
        };
        let star: Data = fitted
            .iter()
            .enumerate()
            .map(|(j, m)| series(j * n, m))
            .collect();
        levenberg_marquardt(&problem, &star, &u).ok().map(|r| r.0)
    };
    let boots: Vec<Option<Vec<f64>>> = (0..opts.bootstrap).into_par_iter().map(replicate).collect();
    let ok: Vec<&Vec<f64>> = boots.iter().flatten().collect();

    let estimates: Vec<Estimate> = keys
        .iter()
        .enumerate()
        .map(|(c, k)| {
            let value = k.value(u[c]);
            let dvalue = match k {
                Key::Efficiency => value * (1.0 - value),
                Key::SeedResidence => value - MIN_RESIDENCE,
                Key::AbortRate => value,
                Key::StartupDelay => value - MIN_STARTUP_DELAY,
            };
            let se = cov
                .as_ref()
                .map_or(f64::NAN, |cv| cv[(c, c)].max(0.0).sqrt() * dvalue);
            let (lo, hi) = if ok.len() >= 2 {
                let mut vals: Vec<f64> = ok.iter().map(|b| k.value(b[c])).collect();
                vals.sort_by(f64::total_cmp);
                (
                    Some(percentile(&vals, 0.025)),
                    Some(percentile(&vals, 0.975)),
                )
            } else {
                (None, None)
            };
            Estimate {
                key: k.name(),
                unit: k.unit(),
                initial: initial[c],
                value,
                standard_error: se,
                ci_low: lo,
                ci_high: hi,
            }
        })
        .collect();
    let measured: f64 = data[..2].iter().flatten().sum();
    let abs_err: f64 = residual_at_fit[..2 * n].iter().map(|e| e.abs()).sum();
    let whole = problem.model_all(&u)?;
    let rows = (0..trace.len())
        .map(|i| FittedRow {
            t: trace.t[i],
            leechers: trace.leechers[i],
            leechers_fit: whole[0][i],
            seeds: trace.seeds[i],
            seeds_fit: whole[1][i],
        })
        .collect();
    let relative_error = if measured > 0.0 {
        abs_err / measured
    } else {
        0.0
    };
    let outside: Vec<&'static str> = estimates
        .iter()
        .filter(|e: &&Estimate| match (e.ci_low, e.ci_high) {
            // Rounding aside: an exact trace's interval collapses onto the estimate.
            (Some(lo), Some(hi)) => {
                let tol = 1e-6 * e.value.abs();
                e.value < lo - tol || e.value > hi + tol
            }
            _ => false,
        })
        .map(|e| e.key)
        .collect();
    let misfit = (relative_error > MISFIT || !outside.is_empty()).then(|| {
        let mut why = format!(
            "the model does not follow the trace: its leechers and seeds are off by {:.1} % of the measured peers on average",
            100.0 * relative_error
        );
        if !outside.is_empty() {
            why.push_str(&if outside.len() == 1 {
                format!(", and {} lies outside its own bootstrap interval", outside[0])
            } else {
                format!(
                    ", and {} lie outside their own bootstrap intervals",
                    outside.join(", ")
                )
            });
        }
        why.push_str(": the estimates absorb what the model lacks (a client's start-up, pieces finishing in lockstep, an origin that seeds: issue 20 §2) and the intervals measure noise around a wrong shape; read them as a description of this trace, not as the client's parameters");
        why
    });
    Ok(FitReport {
        scenario: s.name.clone(),
        trace: trace.file.clone(),
        samples: trace.len(),
        from_s: opts.from,
        arrivals,
        series,
        weights: "Poisson deviance residual of each sample of each series: sign(m − y)·√(2 (m − y + y ln(y/m))), ≈ (m − y)/√y",
        estimates,
        objective_initial: f0,
        objective: f,
        rms_weighted_residual: (f / n_res as f64).sqrt(),
        relative_error,
        iterations,
        converged,
        bootstrap: opts.bootstrap,
        bootstrap_ok: ok.len(),
        seed: opts.seed,
        misfit,
        rows,
    })
}

/// The `q` quantile of sorted values (linear between order statistics).
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (i, w) = (pos.floor() as usize, pos - pos.floor());
    if i + 1 < sorted.len() {
        sorted[i] + w * (sorted[i + 1] - sorted[i])
    } else {
        sorted[i]
    }
}

/// The scenario file's text with the fitted keys set (each in `[swarm]`, replaced where the
/// file gives it, else added under `[swarm]`, a table added at the end if the file has none);
/// a relative `[demand] file` is made absolute against `base_dir` (the scenario's folder). The
/// result is checked: parsed again, it must hold the fitted values.
///
/// # Errors
///
/// [`FitError::Key`] when the edited file does not hold a fitted value (a peer class sets its
/// own `seed_residence` or `abort_rate`).
pub fn calibrated_text(
    text: &str,
    file: &str,
    base_dir: Option<&std::path::Path>,
    report: &FitReport,
) -> Result<String, FitError> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let is_table = |l: &str| l.trim_start().starts_with('[');
    // The calibrated file is written elsewhere: a relative arrival trace (`[demand] file`) is
    // made absolute, so that it still reads.
    if let Some(base) = base_dir {
        let mut in_demand = false;
        for line in lines.iter_mut() {
            let t = line.trim();
            if is_table(t) {
                in_demand = t == "[demand]";
                continue;
            }
            let Some((key, value)) = t.split_once('=') else {
                continue;
            };
            let v = value.trim().trim_matches('"');
            if in_demand && key.trim() == "file" && !std::path::Path::new(v).is_absolute() {
                let abs = base.join(v);
                let abs = abs.canonicalize().unwrap_or(abs);
                *line = format!("file = {:?}", abs.display().to_string());
            }
        }
    }
    let header = lines.iter().position(|l| l.trim() == "[swarm]");
    let header = match header {
        Some(h) => h,
        None => {
            lines.push(String::new());
            lines.push("[swarm]".into());
            lines.len() - 1
        }
    };
    let end = lines[header + 1..]
        .iter()
        .position(|l| is_table(l))
        .map_or(lines.len(), |p| header + 1 + p);
    let mut insert_at = header + 1;
    for e in &report.estimates {
        let short = e.key.trim_start_matches("swarm.");
        let value = match e.key {
            "swarm.efficiency" => format!("{}", e.value),
            "swarm.seed_residence" | "swarm.startup_delay" => format!("\"{} s\"", e.value),
            _ => format!("\"{}/s\"", e.value),
        };
        let line = format!(
            "{short} = {value}  # fitted by `peerfluid fit` to {}",
            report.trace
        );
        let given = lines[header + 1..end].iter().position(|l| {
            l.split('=')
                .next()
                .is_some_and(|k| k.trim() == short && l.contains('='))
        });
        match given {
            Some(p) => lines[header + 1 + p] = line,
            None => {
                lines.insert(insert_at, line);
                insert_at += 1;
            }
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    let parsed = Scenario::from_toml(&out, file, base_dir).map_err(|e| FitError::Key {
        key: "swarm".into(),
        reason: format!("the calibrated file does not validate: {e}"),
    })?;
    for e in &report.estimates {
        let key = Key::parse(e.key)?;
        let got = key.current(&parsed)?;
        if (got - e.value).abs() > 1e-12 * e.value.abs().max(1e-300) {
            return Err(FitError::Key {
                key: e.key.into(),
                reason: format!(
                    "the calibrated file holds {got}, not the fitted {} (a peer class sets its own value); edit it by hand",
                    e.value
                ),
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The m minimising Σ r(m, y_i)² by golden-section search on [lo, hi].
    fn best_constant(r: impl Fn(f64, f64) -> f64, ys: &[f64], lo: f64, hi: f64) -> f64 {
        let s = |m: f64| ys.iter().map(|&y| r(m, y).powi(2)).sum::<f64>();
        let g = (5f64.sqrt() - 1.0) / 2.0;
        let (mut a, mut b) = (lo, hi);
        for _ in 0..200 {
            let (c, d) = (b - g * (b - a), a + g * (b - a));
            if s(c) < s(d) {
                b = d;
            } else {
                a = c;
            }
        }
        0.5 * (a + b)
    }

    #[test]
    fn deviance_residuals_fit_a_constant_to_the_mean_of_the_counts() {
        // Seeds of a server-assisted testbed run: about one on average, 0–3 per sample.
        let ys = [0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 3.0, 0.0, 1.0, 2.0];
        let mean = ys.iter().sum::<f64>() / ys.len() as f64;
        // Poisson maximum likelihood: the mean, to the search's precision (a minimum is
        // located to about √ε relative: 1e-7).
        let m = best_constant(deviance_residual, &ys, 1e-6, 10.0);
        assert!((m - mean).abs() < 1e-7, "{m} against {mean}");
        // Weighting by the measured count (the former residual) falls below the mean by a
        // fifth here: the bias the deviance removes.
        let neyman = |m: f64, y: f64| (m - y) / y.max(1.0).sqrt();
        let mn = best_constant(neyman, &ys, 1e-6, 10.0);
        assert!(mn < 0.85 * mean, "{mn} against {mean}");
    }

    #[test]
    fn deviance_residuals_are_signed_and_near_the_weighted_difference() {
        // Near m = y: (m − y)/√y to first order (relative 1e-3 at a step of 1e-3·y).
        for y in [1.0, 10.0, 1000.0] {
            let m = y * (1.0 + 1e-3);
            let r = deviance_residual(m, y);
            let lin = (m - y) / y.sqrt();
            assert!((r / lin - 1.0).abs() < 1e-3, "y = {y}: {r} against {lin}");
            assert!(deviance_residual(y * (1.0 - 1e-3), y) < 0.0);
        }
        // An empty sample: √(2m); a zero model against a count stays finite.
        assert!((deviance_residual(0.5, 0.0) - 1.0).abs() < 1e-15);
        assert!(deviance_residual(0.0, 3.0).is_finite());
        assert!(deviance_residual(2.0, 2.0).abs() < 1e-15);
    }
}
