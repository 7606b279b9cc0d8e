//! What one billed month contains: the billing rule applied to a run's exact running totals.
//!
//! A run is either a **recurring** pattern (constant or diurnal demand) or an **event** (flash
//! crowd, trace, file push) that happens `events_per_month` times a month
//! ([`Scenario::billing_rule`]). Nothing is scaled silently: a month is assembled from whole
//! billing samples (5 minutes, [`SAMPLE_S`]) of the run's running totals, and [`Basis`] says
//! which stretch of the run was used and how many times it counts.
//!
//! * Recurring, constant arrivals: the steady state fills the month (the warm-up from an empty
//!   swarm is reported, and billed only with `pricing.include_warmup`, as the month's start).
//! * Recurring, diurnal: the last full period of the run is the steady window; it is repeated
//!   to fill the month (the periods before it are the warm-up).
//! * Event: the run, rounded up to whole samples, `events_per_month` times; the rest of the
//!   month is idle. One event longer than a month is billed month by month (the last month
//!   padded with idle samples) and the bills are averaged.
//!
//! The samples come from running totals at the sample boundaries (a solve on the billing grid,
//! not the output grid), so bills do not depend on `--points`. Card: `models/costs.md`.

use serde::Serialize;

use super::billing::percentile_95;
use super::coordination::Population;
use super::ledger::{Demand, PaymentRule};
use super::tiers::GB;
use super::CostError;
use crate::model::ArrivalProfile;
use crate::scenario::{BillingRule, Scenario};
use crate::units::Seconds;

/// Length of a billing sample: 5 minutes (95th-percentile billing averages over 5 minutes).
pub const SAMPLE_S: Seconds = 300.0;

/// Most billing samples one run may be cut into (a year of 5-minute samples, ×10).
pub const MAX_SAMPLES: usize = 1_051_200;

/// The billing grid's step: 5 minutes, or for a diurnal pattern its period cut into
/// ⌈P / 5 min⌉ equal samples, so that whole periods are whole samples.
pub fn sample_step(s: &Scenario) -> Seconds {
    match s.demand.arrival {
        ArrivalProfile::Diurnal { period, .. } => period / (period / SAMPLE_S).ceil().max(1.0),
        _ => SAMPLE_S,
    }
}

/// Samples in a billing month of samples `step` long (at least 1).
pub fn samples_per_month(month: Seconds, step: Seconds) -> usize {
    (month / step).round().max(1.0) as usize
}

/// One billing month's quantities (a full month; nothing scaled).
#[derive(Debug, Clone)]
pub struct Month {
    /// GB delivered in all.
    pub served_gb: f64,
    /// GB the peer-assisted origin sends.
    pub server_gb: f64,
    /// GB the peers upload.
    pub peer_gb: f64,
    /// Peer-hours online (all classes).
    pub peer_hours: f64,
    /// 95th percentile of the 5-minute delivery rate, Mbps.
    pub served_p95_mbps: f64,
    /// 95th percentile of the peer-assisted origin's 5-minute rate, Mbps.
    pub server_p95_mbps: f64,
    /// Peak delivery rate (exact where the run could locate it), Mbps.
    pub served_peak_mbps: f64,
    /// Peak of the peer-assisted origin, Mbps.
    pub server_peak_mbps: f64,
    /// Per class.
    pub classes: Vec<MonthClass>,
    /// Downloads started in the month (all classes, sharing or not).
    pub downloads: f64,
    /// Highest concurrent population of a billing sample (its mean over the sample).
    pub peak_peers: f64,
    /// Highest arrival rate of a billing sample, 1/s.
    pub peak_arrival_rate: f64,
    /// The population a peer sees: Σ N_i² / Σ N_i over the month's samples (0 when empty).
    pub seen_peers: f64,
}

/// One class's quantities in a billing month.
#[derive(Debug, Clone, Copy, Default)]
pub struct MonthClass {
    /// Share of the peers' bytes (in proportion to the capacity offered).
    pub share: f64,
    /// Peer-hours online.
    pub hours: f64,
    /// Paid for the upload capacity offered, $.
    pub offered_usd: f64,
    /// Downloads started by sharing peers.
    pub paid_downloads: f64,
}

impl Month {
    /// The month's population as coordination sees it (`cost::coordination`); `month_s` is
    /// the billing month.
    pub fn population(&self, month_s: Seconds) -> Population {
        Population {
            month_s,
            peer_hours: self.peer_hours,
            mean_peers: self.peer_hours * 3600.0 / month_s,
            seen_peers: self.seen_peers,
            peak_peers: self.peak_peers,
            downloads: self.downloads,
            peak_arrival_rate: self.peak_arrival_rate,
        }
    }

    /// What the peers are paid this month under `rule`, per class.
    pub fn class_payments(&self, rule: &PaymentRule) -> impl Iterator<Item = f64> + '_ {
        let rule = *rule;
        self.classes.iter().map(move |c| {
            rule.per_gb_uploaded * c.share * self.peer_gb
                + c.offered_usd
                + rule.per_download * c.paid_downloads
        })
    }
}

/// The billing rule in one sentence. The steady-state case (every point of a steady sweep)
/// keeps its numbers and writes the sentence only when it is read or serialised.
#[derive(Debug, Clone, PartialEq)]
pub enum Explanation {
    /// Written out.
    Text(String),
    /// The steady state fills every month; the warm-up (its length, when known) is not billed.
    SteadyFill {
        /// The billing month.
        month: Seconds,
        /// The settling time from an empty swarm, when located.
        warmup: Option<Seconds>,
    },
}

impl std::fmt::Display for Explanation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Text(t) => f.write_str(t),
            Self::SteadyFill { month, warmup } => {
                write!(
                    f,
                    "the steady state at the constant arrival rate fills every {} month",
                    days(*month)
                )?;
                match warmup {
                    Some(w) => write!(
                        f,
                        "; the warm-up from an empty swarm ({}) is not billed",
                        days(*w)
                    ),
                    None => f.write_str("; the warm-up from an empty swarm is not billed"),
                }
            }
        }
    }
}

impl Serialize for Explanation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// How a run was billed (`summary.json` → `billing`).
#[derive(Debug, Clone, Serialize)]
pub struct Basis {
    /// "recurring" or "event".
    pub rule: &'static str,
    /// Why this rule: given in the scenario, or chosen from the arrival profile.
    pub rule_basis: &'static str,
    /// The rule in one sentence: the window, the factor, what fills the rest of the month.
    pub explanation: Explanation,
    /// Length of a billing month, days.
    pub month_days: f64,
    /// Length of a billing sample, s (5 minutes; a diurnal period's equal parts).
    pub sample_s: f64,
    /// Start of the stretch of the run that is billed, s.
    pub window_start_s: f64,
    /// End of that stretch, s (`null` for a steady state: it has no end).
    pub window_end_s: Option<f64>,
    /// How many times that stretch counts in a month (events per month, or month / window).
    pub factor: f64,
    /// The warm-up before the steady window, s (recurring patterns; `null` for events).
    pub warmup_s: Option<f64>,
    /// Whether the warm-up is billed (as the start of the month).
    pub warmup_included: bool,
    /// Bills averaged (an event longer than a month is billed month by month).
    pub months_averaged: usize,
    /// True when the bill comes from the closed-form steady state (no time series).
    pub steady_state: bool,
    /// Recurring windows taken from the run: how far the window's volume is from the window
    /// before it, relative (small = the pattern had settled; `null` when the run holds only one
    /// window).
    pub window_drift: Option<f64>,
}

/// A run's billed months, ready for the cost models.
#[derive(Debug, Clone)]
pub struct Billed {
    /// The months (one, except for an event longer than a month); bills are averaged.
    pub months: Vec<Month>,
    /// How they were made.
    pub basis: Basis,
    /// Class names and whether each class shares (uploads).
    pub classes: Vec<(String, bool)>,
    /// How sharers are paid.
    pub payments: PaymentRule,
}

/// Where a stretch of a month comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Src {
    /// Samples `from..to` of the run's billing grid.
    Run,
    /// The steady state's one sample.
    Steady,
    /// Idle samples (nothing delivered).
    Idle,
}

/// `copies` × the samples `from..to` of `src` (for `Idle`, `to − from` samples).
#[derive(Debug, Clone, Copy)]
struct Piece {
    src: Src,
    from: usize,
    to: usize,
    copies: usize,
}

impl Piece {
    fn run(from: usize, to: usize, copies: usize) -> Self {
        Self {
            src: Src::Run,
            from,
            to,
            copies,
        }
    }
    fn idle(samples: usize) -> Self {
        Self {
            src: Src::Idle,
            from: 0,
            to: samples,
            copies: 1,
        }
    }
    fn steady(copies: usize) -> Self {
        Self {
            src: Src::Steady,
            from: 0,
            to: 1,
            copies,
        }
    }
    fn samples(&self) -> usize {
        (self.to - self.from) * self.copies
    }
}

/// Peaks (served, server) in bit/s over the run's grid samples `from..to` (the instants
/// `t[from]..=t[to]` and between them, located exactly where the caller can).
pub type PeakFn<'a> = dyn Fn(usize, usize) -> (f64, f64) + 'a;

struct Sources<'a> {
    run: Option<&'a Demand>,
    steady: Option<&'a Demand>,
    step: Seconds,
}

impl Sources<'_> {
    fn of(&self, src: Src) -> Option<&Demand> {
        match src {
            Src::Run => self.run,
            Src::Steady => self.steady,
            Src::Idle => None,
        }
    }

    /// Σ copies × (y[to] − y[from]) of the series `pick` over the pieces.
    fn total(&self, pieces: &[Piece], pick: impl Fn(&Demand) -> &[f64]) -> f64 {
        pieces
            .iter()
            .filter_map(|p| {
                self.of(p.src).map(|d| {
                    let y = pick(d);
                    (y[p.to] - y[p.from]) * p.copies as f64
                })
            })
            .sum()
    }

    /// 95th percentiles (served, server) of the month's sample rates, bit/s.
    fn p95(&self, pieces: &[Piece]) -> Result<(f64, f64), CostError> {
        // A sample's average over its full length (a last, shorter sample of the run is idle
        // after the run's end).
        let step = self.step;
        let rate = |d: &Demand, i: usize, served: bool| {
            let server = d.server_bytes[i + 1] - d.server_bytes[i];
            let peer = d.peer_bytes[i + 1] - d.peer_bytes[i];
            // (Running totals from two solves may differ by rounding: no negative rate.)
            (8.0 * if served { server + peer } else { server } / step).max(0.0)
        };
        // A month of one steady sample: its rate is its own 95th percentile.
        if let [p] = pieces {
            if p.src == Src::Steady {
                let d = self.steady.ok_or(CostError::Billing(
                    "a steady month without a steady state".into(),
                ))?;
                return Ok((rate(d, 0, true), rate(d, 0, false)));
            }
        }
        let n: usize = pieces.iter().map(Piece::samples).sum();
        let (mut served, mut server) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for p in pieces {
            match self.of(p.src) {
                None => {
                    served.extend(std::iter::repeat_n(0.0, p.samples()));
                    server.extend(std::iter::repeat_n(0.0, p.samples()));
                }
                Some(d) => {
                    for _ in 0..p.copies {
                        for i in p.from..p.to {
                            served.push(rate(d, i, true));
                            server.push(rate(d, i, false));
                        }
                    }
                }
            }
        }
        Ok((percentile_95(&served)?, percentile_95(&server)?))
    }

    fn month(&self, pieces: &[Piece], peak: &PeakFn<'_>) -> Result<Month, CostError> {
        let (served_p95, server_p95) = self.p95(pieces)?;
        let (mut served_peak, mut server_peak) = (0.0_f64, 0.0_f64);
        for p in pieces {
            let (a, b) = match p.src {
                Src::Run => peak(p.from, p.to),
                Src::Steady => {
                    let d = self.steady.ok_or(CostError::Billing(
                        "a steady month without a steady state".into(),
                    ))?;
                    match (d.served_bps.first(), d.server_bps.first()) {
                        (Some(&a), Some(&b)) => (a, b),
                        _ => return Err(CostError::Billing("a steady state without rates".into())),
                    }
                }
                Src::Idle => (0.0, 0.0),
            };
            served_peak = served_peak.max(a);
            server_peak = server_peak.max(b);
        }
        let crowd = self.crowd(pieces);
        let server_bytes = self.total(pieces, |d| &d.server_bytes);
        let peer_bytes = self.total(pieces, |d| &d.peer_bytes);
        let template = self
            .run
            .or(self.steady)
            .ok_or(CostError::Billing("nothing to bill".into()))?;
        let caps: Vec<f64> = (0..template.classes.len())
            .map(|k| self.total(pieces, |d| &d.classes[k].capacity_bits))
            .collect();
        let cap_total: f64 = caps.iter().sum();
        let classes = template
            .classes
            .iter()
            .enumerate()
            .map(|(k, c)| MonthClass {
                share: if cap_total > 0.0 {
                    caps[k] / cap_total
                } else {
                    0.0
                },
                hours: self.total(pieces, |d| &d.classes[k].online_seconds) / 3600.0,
                offered_usd: c.price_per_gb_offered * caps[k] / 8.0 / GB,
                paid_downloads: if c.shares {
                    self.total(pieces, |d| &d.classes[k].downloads)
                } else {
                    0.0
                },
            })
            .collect();
        Ok(Month {
            served_gb: (server_bytes + peer_bytes) / GB,
            server_gb: server_bytes / GB,
            peer_gb: peer_bytes / GB,
            peer_hours: self.total(pieces, |d| &d.peer_seconds) / 3600.0,
            served_p95_mbps: served_p95 / 1e6,
            server_p95_mbps: server_p95 / 1e6,
            served_peak_mbps: served_peak / 1e6,
            server_peak_mbps: server_peak / 1e6,
            classes,
            downloads: crowd.downloads,
            peak_peers: crowd.peak_peers,
            peak_arrival_rate: crowd.peak_arrival_rate,
            seen_peers: if crowd.peer_s > 0.0 {
                crowd.peer_sq_s / crowd.peer_s
            } else {
                0.0
            },
        })
    }

    /// The month's crowd sample by sample: downloads, peaks, and the sums behind the
    /// population a peer sees (idle samples add nothing).
    fn crowd(&self, pieces: &[Piece]) -> Crowd {
        let step = self.step;
        let mut c = Crowd::default();
        for p in pieces {
            let Some(d) = self.of(p.src) else { continue };
            let copies = p.copies as f64;
            for i in p.from..p.to {
                // Rounding of two solves' running totals: never a negative crowd.
                let n = ((d.peer_seconds[i + 1] - d.peer_seconds[i]) / step).max(0.0);
                let arrived: f64 = d
                    .classes
                    .iter()
                    .map(|k| k.downloads[i + 1] - k.downloads[i])
                    .sum::<f64>()
                    .max(0.0);
                c.downloads += copies * arrived;
                c.peer_s += copies * n * step;
                c.peer_sq_s += copies * n * n * step;
                c.peak_peers = c.peak_peers.max(n);
                c.peak_arrival_rate = c.peak_arrival_rate.max(arrived / step);
            }
        }
        c
    }
}

/// A month's crowd (see [`Sources::crowd`]).
#[derive(Debug, Default)]
struct Crowd {
    downloads: f64,
    peak_peers: f64,
    peak_arrival_rate: f64,
    /// Σ N_i Δ, peer-seconds.
    peer_s: f64,
    /// Σ N_i² Δ.
    peer_sq_s: f64,
}

/// A duration in words ("3.872 d", "5 min").
fn days(s: Seconds) -> String {
    crate::units::format_quantity(s, crate::units::Dimension::Time)
}

fn billed(months: Vec<Month>, basis: Basis, d: &Demand) -> Billed {
    Billed {
        months,
        basis,
        classes: d
            .classes
            .iter()
            .map(|c| (c.name.clone(), c.shares))
            .collect(),
        payments: d.payments,
    }
}

/// Bill a steady state: `steady` is a one-sample grid (t = [0, month / m]) of its running
/// totals, repeated to fill the month. `warmup_s` is the run's settling time, reported only.
pub fn steady_month(
    s: &Scenario,
    steady: &Demand,
    warmup_s: Option<Seconds>,
) -> Result<Billed, CostError> {
    let month = s.pricing.billing_month;
    let m = samples_per_month(month, SAMPLE_S);
    let src = Sources {
        run: None,
        steady: Some(steady),
        step: month / m as f64,
    };
    let (rule, why) = s.billing_rule();
    let no_peak = |_: usize, _: usize| (0.0, 0.0);
    let months = vec![src.month(&[Piece::steady(m)], &no_peak)?];
    let basis = Basis {
        rule: rule.label(),
        rule_basis: why,
        explanation: Explanation::SteadyFill {
            month,
            warmup: warmup_s,
        },
        month_days: month / 86_400.0,
        sample_s: src.step,
        window_start_s: warmup_s.unwrap_or(0.0),
        window_end_s: None,
        factor: 1.0,
        warmup_s,
        warmup_included: false,
        months_averaged: 1,
        steady_state: true,
        window_drift: None,
    };
    Ok(billed(months, basis, steady))
}

/// Bill a run from its running totals on the billing grid `run`: samples `step` long from 0,
/// the last one possibly shorter (the run's horizon is not a whole number of samples; the
/// sample is then idle after the horizon, so its rate is its bytes over `step`). `steady` (a
/// one-sample grid as in [`steady_month`]) fills the month after the warm-up of a recurring
/// constant pattern whose warm-up is billed. `peak(from, to)` gives the exact peaks over grid
/// samples `from..to`.
pub fn run_months(
    s: &Scenario,
    run: &Demand,
    steady: Option<&Demand>,
    step: Seconds,
    peak: &PeakFn<'_>,
) -> Result<Billed, CostError> {
    let n = run.t.len().saturating_sub(1);
    if n == 0 {
        return Err(CostError::Billing(
            "the billing grid has no sample (the horizon is empty)".into(),
        ));
    }
    let month = s.pricing.billing_month;
    let m = samples_per_month(month, step);
    let horizon = run.t[n];
    // Whole samples (the last one may be shorter than `step`).
    let full = ((horizon / step) * (1.0 + 1e-12)).floor() as usize;
    let src = Sources {
        run: Some(run),
        steady,
        step,
    };
    let (rule, why) = s.billing_rule();
    let mut basis = Basis {
        rule: rule.label(),
        rule_basis: why,
        explanation: Explanation::Text(String::new()),
        month_days: month / 86_400.0,
        sample_s: step,
        window_start_s: 0.0,
        window_end_s: Some(horizon),
        factor: 1.0,
        warmup_s: None,
        warmup_included: false,
        months_averaged: 1,
        steady_state: false,
        window_drift: None,
    };
    let plural = |k: usize| if k == 1 { "" } else { "s" };
    let month_words = days(month);
    let months = match rule {
        BillingRule::Event { per_month } => {
            // The event ends with its last active sample: an idle tail (a horizon longer than
            // the event) is neither billed nor counted against the month.
            let n = active_samples(run);
            basis.window_end_s = Some(run.t[n]);
            let p = per_month as usize;
            basis.factor = p as f64;
            if p * n <= m {
                let idle = m - p * n;
                basis.explanation = Explanation::Text(format!(
                    "the event ({}, {n} sample{} of {}) {p}× a month; the other {} of the {month_words} month idle",
                    days(run.t[n]),
                    plural(n),
                    days(step),
                    days(idle as f64 * step),
                ));
                vec![src.month(&[Piece::run(0, n, p), Piece::idle(idle)], peak)?]
            } else if p == 1 {
                let count = n.div_ceil(m);
                basis.months_averaged = count;
                basis.explanation = Explanation::Text(format!(
                    "the event ({}) spans {count} billing months: each month billed on its own (the last padded with idle samples), the bills averaged",
                    days(run.t[n])
                ));
                (0..count)
                    .map(|j| {
                        let (a, b) = (j * m, ((j + 1) * m).min(n));
                        src.month(&[Piece::run(a, b, 1), Piece::idle(m - (b - a))], peak)
                    })
                    .collect::<Result<_, _>>()?
            } else {
                return Err(CostError::Billing(format!(
                    "`pricing.events_per_month` = {p} events of {} do not fit in a {month_words} billing month: give fewer events per month or a shorter `horizon`",
                    days(run.t[n]),
                )));
            }
        }
        BillingRule::Recurring { include_warmup } => match (&s.demand.arrival, steady) {
            (ArrivalProfile::Constant { .. }, Some(_)) => {
                // Constant arrivals with the warm-up billed: the run from an empty swarm,
                // then the steady state for the rest of the month.
                let pre = n.min(m);
                basis.warmup_s = Some(run.t[pre]);
                basis.warmup_included = true;
                basis.window_start_s = run.t[pre];
                basis.window_end_s = None;
                basis.explanation = Explanation::Text(format!(
                    "the run from an empty swarm ({}) starts the month, the steady state fills the other {}",
                    days(run.t[pre]),
                    days((m - pre) as f64 * step)
                ));
                let mut pieces = vec![Piece::run(0, pre, 1)];
                if m > pre {
                    pieces.push(Piece::steady(m - pre));
                }
                vec![src.month(&pieces, peak)?]
            }
            (arrival, _) => {
                // The window that repeats: a diurnal pattern's last full period counted from
                // t = 0 (so its phase does not depend on the horizon); a constant pattern
                // without a closed-form steady state, the last whole sample; a flash crowd or
                // a trace declared recurring, the whole run.
                let (start, end, what) = match arrival {
                    ArrivalProfile::Diurnal { period, .. } => {
                        let w = ((period / step).round() as usize).max(1);
                        let periods = full / w;
                        if periods == 0 {
                            return Err(CostError::Billing(format!(
                                "a recurring diurnal pattern is billed on its last full period, but the run ({}) is shorter than one period ({}): give a longer `horizon` or `pricing.billing = \"event\"`",
                                days(horizon),
                                days(*period)
                            )));
                        }
                        ((periods - 1) * w, periods * w, "the last full period")
                    }
                    ArrivalProfile::Constant { .. } => {
                        let last = full.max(1);
                        (last - 1, last, "the last whole sample")
                    }
                    _ => (0, n, "the whole run"),
                };
                let w = end - start;
                basis.window_start_s = run.t[start];
                basis.window_end_s = Some(run.t[end]);
                if start > 0 {
                    basis.warmup_s = Some(run.t[start]);
                    basis.warmup_included = include_warmup;
                }
                basis.window_drift = (start >= w).then(|| {
                    let served = |a: usize, b: usize| {
                        run.server_bytes[b] - run.server_bytes[a] + run.peer_bytes[b]
                            - run.peer_bytes[a]
                    };
                    let (now, before) = (served(start, end), served(start - w, start));
                    if now > 0.0 {
                        (now - before).abs() / now
                    } else {
                        0.0
                    }
                });
                let mut pieces = Vec::new();
                let mut left = m;
                if include_warmup && start > 0 {
                    let pre = start.min(m);
                    pieces.push(Piece::run(0, pre, 1));
                    left -= pre;
                }
                if left / w > 0 {
                    pieces.push(Piece::run(start, end, left / w));
                }
                if !left.is_multiple_of(w) {
                    pieces.push(Piece::run(start, start + left % w, 1));
                }
                basis.factor = left as f64 / w as f64;
                let warmup = match (start > 0, include_warmup) {
                    (false, _) => String::new(),
                    (true, true) => format!(
                        "; the warm-up before it ({}) is billed as the start of the month",
                        days(run.t[start])
                    ),
                    (true, false) => {
                        format!(
                            "; the warm-up before it ({}) is not billed",
                            days(run.t[start])
                        )
                    }
                };
                let settled = match basis.window_drift {
                    None if start == 0 && what != "the whole run" => {
                        "; the run holds only this window, so its start-up from an empty swarm is billed as if it recurred: give a longer `horizon`"
                    }
                    _ => "",
                };
                basis.explanation = Explanation::Text(format!(
                    "{what} of the run ({} to {}) repeated {:.4}× to fill the {month_words} month{warmup}{settled}",
                    days(run.t[start]),
                    days(run.t[end]),
                    basis.factor,
                ));
                vec![src.month(&pieces, peak)?]
            }
        },
    };
    Ok(billed(months, basis, run))
}

/// Samples up to the run's last active one: trailing samples that deliver less than 1e-12 of
/// the run's bytes and hold less than 1e-12 of its peer-seconds are idle (at least 1).
fn active_samples(run: &Demand) -> usize {
    let n = run.t.len() - 1;
    let served = |i: usize| run.server_bytes[i] + run.peer_bytes[i];
    let (total_b, total_s) = (served(n), run.peer_seconds[n]);
    let mut last = n;
    while last > 1 {
        let db = served(last) - served(last - 1);
        let ds = run.peer_seconds[last] - run.peer_seconds[last - 1];
        if db > 1e-12 * total_b || ds > 1e-12 * total_s {
            break;
        }
        last -= 1;
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::ledger::ClassDemand;
    use approx::assert_relative_eq;

    /// A grid of `n` samples of `step` seconds with the given per-sample server and peer
    /// bytes.
    fn grid(step: f64, server: &[f64], peer: &[f64]) -> Demand {
        let n = server.len();
        let t: Vec<f64> = (0..=n).map(|i| i as f64 * step).collect();
        let cum = |v: &[f64]| {
            let mut acc = vec![0.0];
            for x in v {
                acc.push(acc.last().unwrap() + x);
            }
            acc
        };
        let sb = cum(server);
        let pb = cum(peer);
        let rate = |c: &[f64]| -> Vec<f64> {
            (0..=n)
                .map(|i| 8.0 * (c[i.min(n - 1) + 1] - c[i.min(n - 1)]) / step)
                .collect()
        };
        Demand {
            server_bps: rate(&sb),
            served_bps: rate(&sb.iter().zip(&pb).map(|(a, b)| a + b).collect::<Vec<_>>()),
            peer_seconds: t.clone(),
            classes: vec![ClassDemand {
                name: "all".into(),
                online_seconds: t.clone(),
                capacity_bits: pb.iter().map(|b| 8.0 * b).collect(),
                downloads: t.clone(),
                shares: true,
                price_per_gb_offered: 0.0,
            }],
            server_bytes: sb,
            peer_bytes: pb,
            payments: PaymentRule::default(),
            t,
        }
    }

    fn event_scenario(per_month: u32) -> Scenario {
        let mut s = Scenario::builtin_default().unwrap();
        s.pricing.billing = Some(BillingRule::Event { per_month });
        s
    }

    fn grid_peak(d: &Demand) -> impl Fn(usize, usize) -> (f64, f64) + '_ {
        move |a, b| {
            (
                d.served_bps[a..=b].iter().copied().fold(0.0, f64::max),
                d.server_bps[a..=b].iter().copied().fold(0.0, f64::max),
            )
        }
    }

    #[test]
    fn an_event_is_billed_once_with_the_rest_of_the_month_idle() {
        // 3 samples of 300 s: 300, 600, 900 bytes from the server.
        let d = grid(300.0, &[300.0, 600.0, 900.0], &[0.0; 3]);
        let s = event_scenario(1);
        let b = run_months(&s, &d, None, 300.0, &grid_peak(&d)).unwrap();
        assert_eq!(b.months.len(), 1);
        let m = &b.months[0];
        assert_relative_eq!(m.server_gb, 1800.0 / GB, max_relative = 1e-15);
        // 8640 samples, 3 non-zero: the 95th percentile is an idle sample.
        assert_relative_eq!(m.server_p95_mbps, 0.0);
        assert_relative_eq!(b.basis.factor, 1.0);
        // twice a month: twice the volume
        let s2 = event_scenario(2);
        let b2 = run_months(&s2, &d, None, 300.0, &grid_peak(&d)).unwrap();
        assert_relative_eq!(
            b2.months[0].server_gb,
            2.0 * 1800.0 / GB,
            max_relative = 1e-15
        );
    }

    #[test]
    fn the_95th_percentile_of_an_event_counts_the_idle_samples() {
        // An event of 1000 samples at 8 bit/s·i (sample i sends i bytes/s): in a month of
        // 8640 samples the top 432 are free, so the bill is the 433rd highest: i = 1000 − 432.
        let server: Vec<f64> = (1..=1000).map(|i| i as f64 * 300.0).collect();
        let d = grid(300.0, &server, &vec![0.0; 1000]);
        let b = run_months(&event_scenario(1), &d, None, 300.0, &grid_peak(&d)).unwrap();
        assert_relative_eq!(
            b.months[0].server_p95_mbps,
            8.0 * 568.0 / 1e6,
            max_relative = 1e-12
        );
    }

    #[test]
    fn an_event_longer_than_a_month_is_billed_month_by_month() {
        let mut s = event_scenario(1);
        s.pricing.billing_month = 3000.0; // 10 samples a month
        let d = grid(300.0, &[300.0; 25], &[0.0; 25]);
        let b = run_months(&s, &d, None, 300.0, &grid_peak(&d)).unwrap();
        assert_eq!(b.months.len(), 3);
        assert_relative_eq!(
            b.months[2].server_gb,
            5.0 * 300.0 / GB,
            max_relative = 1e-12
        );
        // two such events a month cannot fit
        s.pricing.billing = Some(BillingRule::Event { per_month: 2 });
        let e = run_months(&s, &d, None, 300.0, &grid_peak(&d)).unwrap_err();
        assert!(e.to_string().contains("do not fit"), "{e}");
    }

    #[test]
    fn a_diurnal_pattern_repeats_its_last_period() {
        let mut s = Scenario::builtin_default().unwrap();
        s.demand.arrival = ArrivalProfile::Diurnal {
            mean_rate: 1.0,
            peak_to_mean: 1.5,
            period: 1200.0,
            peak_time: 0.0,
        };
        s.pricing.billing = Some(BillingRule::Recurring {
            include_warmup: false,
        });
        s.pricing.billing_month = 3000.0; // 2.5 periods of 4 samples
                                          // warm-up period: 100 per sample; last period: 1, 2, 3, 4
        let d = grid(
            300.0,
            &[100.0, 100.0, 100.0, 100.0, 1.0, 2.0, 3.0, 4.0],
            &[0.0; 8],
        );
        let b = run_months(&s, &d, None, 300.0, &grid_peak(&d)).unwrap();
        // 10 samples: 1,2,3,4,1,2,3,4,1,2 = 23
        assert_relative_eq!(b.months[0].server_gb, 23.0 / GB, max_relative = 1e-12);
        assert_relative_eq!(b.basis.factor, 2.5);
        assert_relative_eq!(b.basis.warmup_s.unwrap(), 1200.0);
        // with the warm-up billed: 100 × 4, then 1..4, then 1, 2 = 400 + 10 + 3
        s.pricing.billing = Some(BillingRule::Recurring {
            include_warmup: true,
        });
        let b = run_months(&s, &d, None, 300.0, &grid_peak(&d)).unwrap();
        assert_relative_eq!(b.months[0].server_gb, 413.0 / GB, max_relative = 1e-12);
    }
}
