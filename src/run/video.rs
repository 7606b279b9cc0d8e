//! Live streams and video on demand through the same pipeline as files: the audience fluid
//! (`model::audience`) gives the viewers n(t); each output time's server load follows from the
//! stream model (`models/streaming.md`, `models/vod.md`); the result is a [`RunRecord`] whose
//! `Demand` goes through the same cost models as a file swarm (`compare`).
//!
//! * live: the server sends s(t) = max{r, n r − Σ_k u_k n_k} (Kumar, Liu & Ross: the smallest
//!   server rate that sustains rate r for everyone, fluid populations); with a finite
//!   `server.capacity` u_s the sustainable rate r_max(t) = min{u_s, (u_s + Σ u_k n_k)/n} is
//!   reported and the stream is short of r wherever r_max < r.
//! * vod: viewers of one title form a pool; with prefetching the server load is
//!   E[(Σ_i (r − U_i))^+] for a Poisson(ρ = n) audience with the classes' uploads as the upload
//!   distribution (Huang, Li & Ross, §4.1), title by title over a Zipf catalogue; without
//!   prefetching the oldest viewer always needs the server: E[1{N>0} max(r, Σ_i (r − U_i))],
//!   a lower bound of the ordered load S_seq (`models/vod.md`). Audiences too large for the
//!   exact lattice use the Gaussian approximation of the compound-Poisson deficit (counted in
//!   `video.gaussian_points`).

use serde::Serialize;

use crate::cost::ledger::{ClassDemand, Demand, PaymentRule};
use crate::incentive::plan::Plan;
use crate::model::audience::{Audience, IX_ARRIVALS, IX_VIEWERS, IX_VIEWER_SECONDS};
use crate::model::{streaming, vod, ArrivalProfile, FluidModel};
use crate::run::{Bytes, ClassSummary, Downloads, Peak, RunOptions, RunRecord, Summary};
use crate::scenario::{ContentKind, Mechanism, Scenario, Stream};
use crate::solve::{self, SolverSettings};

/// The video part of `summary.json` (live and VoD scenarios).
#[derive(Debug, Clone, Serialize)]
pub struct VideoSummary {
    /// "live" or "vod".
    pub kind: &'static str,
    /// Stream bitrate r, bit/s.
    pub bitrate_bps: f64,
    /// Mean watch time, s.
    pub watch_time_s: f64,
    /// Mean upload of a viewer ū = Σ share_k u_k, bit/s.
    pub mean_upload_bps: f64,
    /// surplus (ū > r), balanced or deficit (ū < r), see `models/vod.md`.
    pub mode: &'static str,
    /// Audience at the reference (steady) arrival rate, λT.
    pub steady_viewers: f64,
    /// Peak audience over the horizon.
    pub peak_viewers: f64,
    /// Server rate at the peak audience, bit/s.
    pub server_rate_at_peak_bps: f64,
    /// What client-server would send at the peak audience (n r), bit/s.
    pub client_server_rate_at_peak_bps: f64,
    /// What the viewers relay at the peak audience, bit/s.
    pub peer_rate_at_peak_bps: f64,
    /// Live: largest sustainable rate at the peak audience with the scenario's server
    /// capacity, bit/s (`null` when the server is unlimited, capacity 0).
    pub max_sustainable_rate_at_peak_bps: Option<f64>,
    /// Live: seconds of the horizon during which r_max < r (the stream falls short).
    pub short_of_rate_s: f64,
    /// Live: probability that everybody can stream at r for a Poisson audience with the
    /// steady mean, classes independent (Kumar, Liu & Ross); `null` for VoD.
    pub universal_streaming_probability: Option<f64>,
    /// VoD: titles in the catalogue.
    pub titles: u32,
    /// VoD: titles in surplus at the steady audience, judged by the upload other viewers of the
    /// same title can use (`vod::effective_upload`: a lone viewer's upload is of no use).
    pub titles_in_surplus: u32,
    /// VoD: prefetching (pooled) or not (ordered).
    pub prefetch: Option<bool>,
    /// Output times whose server load used the Gaussian approximation (audiences too large
    /// for the exact lattice, or whose lattice convolution is above the work limit); 0 when
    /// every point is exact.
    pub gaussian_points: usize,
    /// VoD: the step (bit/s) the deficits r − u were moved onto for the exact sums, the
    /// coarsest common grid within `vod::SNAP_TOLERANCE` (`vod::snap_uploads`); `null` when
    /// the uploads were already on a grid that coarse.
    pub upload_rounding_bps: Option<f64>,
}

/// Popularity of each title (Zipf with exponent `a`, sums to 1), as `vod::zipf_catalogue`.
pub fn zipf_shares(titles: u32, a: f64) -> Vec<f64> {
    let w: Vec<f64> = (1..=titles).map(|i| (i as f64).powf(-a)).collect();
    let total: f64 = w.iter().sum();
    w.into_iter().map(|x| x / total).collect()
}

/// Standard normal density and complementary CDF (Press et al.'s Chebyshev fit of erfc,
/// fractional error < 1.2e-7), for the Gaussian fallback of very large VoD audiences.
fn normal_pdf_sf(z: f64) -> (f64, f64) {
    let pdf = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let x = z / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * x.abs());
    let poly = -x * x - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    let erfc = if x >= 0.0 { erfc } else { 2.0 - erfc };
    (pdf, 0.5 * erfc)
}

/// E[X^+] for X Gaussian with mean `mu` and standard deviation `sigma` > 0.
fn gaussian_positive_mean(mu: f64, sigma: f64) -> f64 {
    let z = mu / sigma;
    let (pdf, sf) = normal_pdf_sf(-z);
    // Φ(z) = 1 − Q(z) = Q(−z).
    mu * sf + sigma * pdf
}

/// Server load (bit/s) for an audience of `n` viewers, for the scenario's content.
struct Load<'a> {
    kind: &'a ContentKind,
    stream: Stream,
    /// (upload bit/s, share) per class.
    classes: Vec<(f64, f64)>,
    /// Upload distribution of a viewer (VoD), on the lattice of the exact sums.
    uploads: Option<vod::UploadDistribution>,
    /// The same, as the scenario gives it (not snapped to a lattice): the moments of the
    /// Gaussian view.
    given: Option<vod::UploadDistribution>,
    /// What viewers cannot upload to themselves, for each of the two (VoD with prefetching;
    /// `vod::SelfService`).
    self_service: Option<(vod::SelfService, vod::SelfService)>,
}

impl Load<'_> {
    /// Server rate and whether the exact method was replaced by the Gaussian approximation.
    fn server(&self, n: f64) -> anyhow::Result<(f64, bool)> {
        let r = self.stream.bitrate;
        if n <= 0.0 {
            return Ok((0.0, false));
        }
        let (prefetch, titles, zipf) = match self.kind {
            ContentKind::Live(_) => {
                // Below one viewer (a fractional fluid audience) the server sends the stream
                // only in proportion: min{n, 1}·r, so it never sends more than is watched.
                if n < 1.0 {
                    return Ok((n * r, false));
                }
                let peers: Vec<(f64, f64)> =
                    self.classes.iter().map(|&(u, sh)| (u, sh * n)).collect();
                return Ok((streaming::min_server_rate(r, &peers)?, false));
            }
            ContentKind::Vod {
                prefetch,
                titles,
                zipf,
                ..
            } => (*prefetch, *titles, *zipf),
            ContentKind::File | ContentKind::Wireless(_) => return Ok((0.0, false)),
        };
        let (Some(uploads), Some(given)) = (&self.uploads, &self.given) else {
            return Ok((0.0, false));
        };
        // One title's load at audience ρ, whether it needed the Gaussian approximation, and
        // the exact sum's work (`budget` multiply-adds at most).
        let one = |rho: f64, budget: u64| -> Result<(f64, bool, u64), crate::error::VideoError> {
            let too_large = rho > EXACT_AUDIENCE_MAX || (!prefetch && rho > EXACT_NESTED_MAX);
            let exact = if too_large || budget == 0 {
                Err(crate::error::VideoError::TooLarge {
                    what: "audience".into(),
                    size: rho as u64,
                    limit: if prefetch {
                        EXACT_AUDIENCE_MAX
                    } else {
                        EXACT_NESTED_MAX
                    } as u64,
                    hint: "Gaussian view".into(),
                })
            } else if prefetch {
                vod::pooled_server_load_within(r, rho, uploads, budget.min(EXACT_WORK))
                    .map(|p| (p.mean(), p.work()))
            } else {
                // In arrival order (Spitzer's identity on the lattice), exact within the work
                // budget; beyond it the lower bound E[1{N>0} max(r, Σ(r − U))], flagged.
                match vod::ordered_mean_load(r, rho, uploads, budget.min(EXACT_WORK)) {
                    Ok(done) => Ok(done),
                    Err(crate::error::VideoError::TooLarge { .. }) => {
                        let classes: Vec<(f64, f64)> =
                            self.classes.iter().map(|&(u, sh)| (u, sh * rho)).collect();
                        let bound = streaming::expected_server_load(r, f64::INFINITY, &classes)?;
                        return Ok((bound.value, true, 0));
                    }
                    Err(e) => Err(e),
                }
            };
            // With prefetching the pooled formula lets a viewer's upload serve itself; what a
            // viewer uploads reaches only the others (`vod::self_service_correction`). The
            // ordered sum without prefetching already feeds each viewer from earlier ones.
            let served = |v: f64, lattice: bool| -> Result<(f64, bool), crate::error::VideoError> {
                match (&self.self_service, prefetch) {
                    (Some((on_lattice, as_given)), true) => {
                        let which = if lattice { on_lattice } else { as_given };
                        let (extra, complete) = which.correction(rho);
                        Ok((v + extra, complete))
                    }
                    _ => Ok((v, true)),
                }
            };
            match exact {
                Ok((v, work)) => {
                    let (v, complete) = served(v, true)?;
                    Ok((v, !complete, work))
                }
                Err(crate::error::VideoError::TooLarge { .. }) => {
                    // An audience too large for the exact lattice: the pooled deficit is a
                    // compound Poisson sum, Gaussian to within O(1/sqrt(ρ)).
                    let mean = rho * (r - given.mean());
                    let sd = (rho * given.mean_squared_deficit(r))
                        .sqrt()
                        .max(f64::MIN_POSITIVE);
                    let pooled = gaussian_positive_mean(mean, sd);
                    let v = if prefetch {
                        served(pooled, false)?.0
                    } else {
                        pooled.max(r)
                    };
                    Ok((v, true, 0))
                }
                Err(e) => Err(e),
            }
        };
        if titles <= 1 {
            let (v, a, _) = one(n, EXACT_WORK)?;
            return Ok((v, a));
        }
        // A catalogue: the titles share one budget of exact work per audience (so a catalogue
        // of large audiences costs seconds, not minutes), spent from the smallest audience
        // up, where the Gaussian view is least accurate. The work grows with the audience, so
        // once one title is beyond the budget every larger one is too: those take the
        // Gaussian view without building their Poisson windows (that alone took minutes for
        // 2,000 titles of ~10^5 viewers at 65 audiences).
        let shares = zipf_shares(titles, zipf);
        let mut budget = CATALOGUE_WORK;
        let mut total = 0.0;
        let mut approx = false;
        for p in shares.iter().rev() {
            let (v, a, work) = one(n * p, if approx { 0 } else { budget })?;
            budget = budget.saturating_sub(work);
            total += v;
            approx |= a;
        }
        Ok((total, approx))
    }
}

/// Largest audience of one title for the exact sums (`streaming::MAX_MEAN`); above, the
/// Gaussian view.
const EXACT_AUDIENCE_MAX: f64 = 1e8;
/// Most multiply-adds of one exact pooled sum (its lattice convolution): a run evaluates one
/// per output time (501 by default) or per title and catalogue grid point, so each must stay
/// in milliseconds (4·10⁶ take about 5 ms); above, the Gaussian view. Without it, 180,000
/// viewers of one title on a 477-step lattice took 0.15 s per output, 77 s a run.
const EXACT_WORK: u64 = 4_000_000;
/// Multiply-adds of exact pooled sums shared by a catalogue's titles at one audience (about
/// 25 ms; a catalogue is tabulated at `CATALOGUE_GRID` audiences). Beyond, the remaining
/// (largest) audiences take the Gaussian view, flagged as approximated. Issue 18: 2·10^4
/// arrivals/s on `vod-catalogue` ran past two minutes.
const CATALOGUE_WORK: u64 = 20_000_000;
/// Largest audience of one title for the exact nested sum without prefetching (its cost
/// grows with the square of the Poisson windows: about 10 ms a point here); above, the
/// Gaussian view.
const EXACT_NESTED_MAX: f64 = 2e4;

/// The viewers' upload distribution for the exact VoD sums. Those need the deficits r − u on
/// a common step, and their work grows with the number of steps: the uploads are moved to the
/// coarsest grid within `vod::SNAP_TOLERANCE` (0.005 % of the largest deficit,
/// `vod::snap_uploads`), and the step is returned when any upload moved.
fn lattice_uploads(
    r: f64,
    classes: &mut [(f64, f64)],
) -> anyhow::Result<(vod::UploadDistribution, Option<f64>)> {
    let uploads: Vec<f64> = classes.iter().map(|c| c.0).collect();
    let snapped = vod::snap_uploads(r, &uploads);
    for (c, v) in classes.iter_mut().zip(&snapped.values) {
        c.0 = *v;
    }
    let dist = vod::UploadDistribution::new(
        classes.iter().map(|x| x.0).collect(),
        classes.iter().map(|x| x.1).collect(),
    )?;
    // The snapped deficits are on one grid by construction; check it anyway.
    vod::pooled_server_load(r, 1.0, &dist)?;
    Ok((dist, snapped.moved.then_some(snapped.step)))
}

/// Points of the audience grid on which a catalogue's server load is tabulated.
pub const CATALOGUE_GRID: usize = 65;

/// Linear interpolation in a table of (n, load, approximated) sorted by n.
fn interpolate(tab: &[(f64, f64, bool)], n: f64) -> (f64, bool) {
    let k = tab.partition_point(|e| e.0 < n).clamp(1, tab.len() - 1);
    let (a, b) = (tab[k - 1], tab[k]);
    let w = if b.0 > a.0 {
        (n - a.0) / (b.0 - a.0)
    } else {
        0.0
    };
    (a.1 + w.clamp(0.0, 1.0) * (b.1 - a.1), a.2 || b.2)
}

/// Horizon for a video scenario without `horizon`: the audience settles in a few watch times.
fn default_horizon(arrival: &ArrivalProfile, watch: f64) -> (f64, String) {
    match arrival {
        ArrivalProfile::Constant { .. } => (
            20.0 * watch,
            "20 watch times (the audience is within e^-20 of λT)".into(),
        ),
        ArrivalProfile::FlashCrowd { decay_time, .. } => (
            20.0 * decay_time.max(watch),
            "20 × the longer of the decay time and the watch time".into(),
        ),
        ArrivalProfile::Diurnal { period, .. } => {
            let n = (20.0 * watch / period).ceil().max(2.0);
            (n * period, format!("{n} periods of the diurnal profile"))
        }
        ArrivalProfile::Trace { points } => {
            let end = points.last().map_or(watch, |p| p.0);
            (end + 10.0 * watch, "the trace plus 10 watch times".into())
        }
    }
}

/// Run a live or VoD scenario.
pub fn run_video(s: &Scenario, opts: &RunOptions) -> anyhow::Result<RunRecord> {
    let stream = s
        .content
        .kind
        .stream()
        .ok_or_else(|| anyhow::anyhow!("scenario '{}' is not a video scenario", s.name))?;
    let model = Audience {
        arrival: s.demand.arrival.clone(),
        watch_time: stream.watch_time,
    };
    let (horizon, horizon_basis) = match s.horizon {
        Some(h) => (h, "given in the scenario".to_string()),
        None => default_horizon(&s.demand.arrival, stream.watch_time),
    };
    let mut settings = SolverSettings::new(horizon);
    settings.points = opts.points;
    settings.method = opts.method;
    let traj = solve::integrate(&model, &settings).map_err(|e| {
        anyhow::Error::new(e).context(format!("scenario '{}': integration failed", s.name))
    })?;
    let titles_n = match &s.content.kind {
        ContentKind::Vod { titles, .. } => *titles,
        _ => 1,
    };
    let mut classes: Vec<(f64, f64)> = s.classes.iter().map(|c| (c.upload, c.share)).collect();
    let mut rounding = None;
    let (uploads, given) = match &s.content.kind {
        ContentKind::Vod { .. } => {
            let given = vod::UploadDistribution::new(
                classes.iter().map(|c| c.0).collect(),
                classes.iter().map(|c| c.1).collect(),
            )?;
            let (dist, step) = lattice_uploads(stream.bitrate, &mut classes)?;
            rounding = step;
            (Some(dist), Some(given))
        }
        _ => (None, None),
    };
    let self_service = match (&uploads, &given) {
        (Some(u), Some(g)) => Some((
            vod::SelfService::new(stream.bitrate, u)?,
            vod::SelfService::new(stream.bitrate, g)?,
        )),
        _ => None,
    };
    let load = Load {
        kind: &s.content.kind,
        stream,
        classes,
        uploads,
        given,
        self_service,
    };
    let r = stream.bitrate;
    let mean_upload: f64 = s.classes.iter().map(|c| c.upload * c.share).sum();
    let cap = s.server.capacity;

    let mut columns: Vec<String> = [
        "t",
        "viewers",
        "server_rate",
        "peer_rate",
        "arrival_rate",
        "client_server_rate",
    ]
    .map(String::from)
    .to_vec();
    let limited = cap > 0.0 && matches!(s.content.kind, ContentKind::Live(_));
    if limited {
        columns.push("max_rate".into());
    }
    columns.extend(s.classes.iter().map(|c| format!("viewers.{}", c.name)));
    let mut rows = Vec::with_capacity(traj.t.len());
    let mut peak = Peak {
        leechers: 0.0,
        leechers_at_s: 0.0,
        server_rate_bps: 0.0,
        peer_rate_bps: 0.0,
    };
    let mut short = 0.0;
    let mut approximated = 0usize;
    let mut prev_t = 0.0;
    let mut peak_row = 0;
    // A catalogue costs one exact sum per title: tabulate its load over the audience range
    // (CATALOGUE_GRID points, in parallel) and interpolate linearly (models/vod.md).
    let n_max = traj.states().map(|z| z[IX_VIEWERS]).fold(0.0_f64, f64::max);
    let table: Option<Vec<(f64, f64, bool)>> = if titles_n > 1 && n_max > 0.0 {
        use rayon::prelude::*;
        let grid: Vec<f64> = (0..CATALOGUE_GRID)
            .map(|i| n_max * i as f64 / (CATALOGUE_GRID - 1) as f64)
            .collect();
        Some(
            grid.par_iter()
                .map(|&n| load.server(n).map(|(v, a)| (n, v, a)))
                .collect::<anyhow::Result<Vec<_>>>()?,
        )
    } else {
        None
    };
    for (i, (t, z)) in traj.t.iter().zip(traj.states()).enumerate() {
        let n = z[IX_VIEWERS].max(0.0);
        let (needed, approx) = match &table {
            Some(tab) => interpolate(tab, n),
            None => load.server(n)?,
        };
        approximated += usize::from(approx);
        let total = n * r;
        let supply: f64 = load.classes.iter().map(|&(u, sh)| u * sh * n).sum();
        // A finite live origin sends at most its capacity; the viewers then get less than r.
        let server = match s.content.kind {
            ContentKind::Live(_) if cap > 0.0 => needed.min(cap),
            _ => needed,
        };
        let peer = (total - server).max(0.0).min(supply.max(total - needed));
        let max_rate = if cap > 0.0 && n > 0.0 {
            let peers: Vec<(f64, f64)> = load.classes.iter().map(|&(u, sh)| (u, sh * n)).collect();
            streaming::max_sustainable_rate(cap, &peers)?
        } else if cap > 0.0 {
            cap
        } else {
            f64::INFINITY
        };
        if max_rate < r && matches!(s.content.kind, ContentKind::Live(_)) {
            short += t - prev_t;
        }
        prev_t = *t;
        let mut row = vec![*t, n, server, peer, s.demand.arrival.rate_at(*t), total];
        if limited {
            row.push(max_rate);
        }
        row.extend(s.classes.iter().map(|c| n * c.share));
        if n > peak.leechers {
            peak.leechers = n;
            peak.leechers_at_s = *t;
            peak_row = i;
        }
        peak.server_rate_bps = peak.server_rate_bps.max(server);
        peak.peer_rate_bps = peak.peer_rate_bps.max(peer);
        rows.push(row);
    }

    // Cumulative bytes by the trapezoid rule on the output grid (the loads are nonlinear in n).
    let cumulative = |col: usize| -> Vec<f64> {
        let mut acc = 0.0;
        let mut out = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            if i > 0 {
                let prev = &rows[i - 1];
                acc += 0.5 * (row[col] + prev[col]) * (row[0] - prev[0]) / 8.0;
            }
            out.push(acc);
        }
        out
    };
    let server_bytes = cumulative(2);
    let peer_bytes = cumulative(3);
    let viewer_seconds: Vec<f64> = traj.states().map(|z| z[IX_VIEWER_SECONDS]).collect();
    let arrivals: Vec<f64> = traj.states().map(|z| z[IX_ARRIVALS]).collect();
    let (per_gb_uploaded, per_download) = match s.incentive.mechanism {
        Mechanism::PerByte { price } => (price, 0.0),
        Mechanism::Discount { amount } => (0.0, amount),
        _ => (0.0, 0.0),
    };
    let demand = Demand {
        t: traj.t.clone(),
        server_bps: rows.iter().map(|row| row[2]).collect(),
        served_bps: rows.iter().map(|row| row[5]).collect(),
        server_bytes: server_bytes.clone(),
        peer_bytes: peer_bytes.clone(),
        peer_seconds: viewer_seconds.clone(),
        classes: s
            .classes
            .iter()
            .map(|c| ClassDemand {
                name: c.name.clone(),
                online_seconds: viewer_seconds.iter().map(|v| v * c.share).collect(),
                capacity_bits: viewer_seconds
                    .iter()
                    .map(|v| v * c.share * c.upload)
                    .collect(),
                downloads: arrivals.iter().map(|a| a * c.share).collect(),
                shares: c.upload > 0.0,
                price_per_gb_offered: 0.0,
            })
            .collect(),
        payments: PaymentRule {
            per_gb_uploaded,
            per_download,
        },
    };
    let plan = Plan {
        names: s.classes.iter().map(|c| c.name.clone()).collect(),
        participation: vec![1.0; s.classes.len()],
        per_gb_uploaded,
        per_download,
        per_gb_offered: vec![0.0; s.classes.len()],
        report: None,
    };

    let end = traj.last();
    let arrived = end[IX_ARRIVALS];
    let watching = end[IX_VIEWERS];
    let sb = server_bytes.last().copied().unwrap_or(0.0);
    let pb = peer_bytes.last().copied().unwrap_or(0.0);
    let (ref_rate, _) = s.demand.arrival.reference_rate();
    let steady_viewers = model.steady(ref_rate);
    let universal = match s.content.kind {
        ContentKind::Live(_) if steady_viewers > 0.0 && cap > 0.0 => {
            let classes: Vec<(f64, f64)> = load
                .classes
                .iter()
                .map(|&(u, sh)| (u, sh * steady_viewers))
                .collect();
            streaming::universal_streaming_probability(r, cap, &classes)
                .ok()
                .map(|v| v.value)
        }
        _ => None,
    };
    let titles_in_surplus = match (&s.content.kind, &load.uploads) {
        (ContentKind::Vod { titles, zipf, .. }, Some(u)) if steady_viewers > 0.0 => {
            // Each title's mode from its viewers' effective upload (as `vod::zipf_catalogue`
            // classes them), without that table's exact load sums per title, which nothing
            // here reads (with 2·10^4 arrivals/s they took minutes).
            let shares = if *titles > 1 {
                zipf_shares(*titles, *zipf)
            } else {
                vec![1.0]
            };
            let surplus = shares.iter().try_fold(0u32, |count, p| {
                let effective = vod::effective_upload(r, steady_viewers * p, u)?;
                Ok::<u32, crate::error::VideoError>(
                    count + u32::from(vod::mode(r, effective)? == vod::Mode::Surplus),
                )
            });
            surplus.unwrap_or(u32::from(mean_upload > r) * titles)
        }
        _ => 0,
    };
    let video = VideoSummary {
        kind: s.content.kind.label(),
        bitrate_bps: r,
        watch_time_s: stream.watch_time,
        mean_upload_bps: mean_upload,
        mode: match vod::mode(r, mean_upload)? {
            vod::Mode::Surplus => "surplus",
            vod::Mode::Balanced => "balanced",
            vod::Mode::Deficit => "deficit",
        },
        steady_viewers,
        peak_viewers: peak.leechers,
        server_rate_at_peak_bps: rows.get(peak_row).map_or(0.0, |row| row[2]),
        client_server_rate_at_peak_bps: peak.leechers * r,
        peer_rate_at_peak_bps: rows.get(peak_row).map_or(0.0, |row| row[3]),
        max_sustainable_rate_at_peak_bps: if limited {
            rows.get(peak_row).map(|row| row[6])
        } else {
            None
        },
        short_of_rate_s: short,
        universal_streaming_probability: universal,
        titles: titles_n,
        titles_in_surplus,
        prefetch: match s.content.kind {
            ContentKind::Vod { prefetch, .. } => Some(prefetch),
            _ => None,
        },
        gaussian_points: approximated,
        upload_rounding_bps: rounding,
    };
    let classes = s
        .classes
        .iter()
        .map(|c| ClassSummary {
            name: c.name.clone(),
            share: c.share,
            steady_leechers: Some(steady_viewers * c.share),
            steady_seeds: None,
            download_time_s: Some(stream.watch_time),
            completed: (arrived - watching) * c.share,
            aborted: 0.0,
            leecher_hours: end[IX_VIEWER_SECONDS] * c.share / 3600.0,
            seed_hours: 0.0,
        })
        .collect();
    let summary = Summary {
        scenario: s.name.clone(),
        description: s.description.clone(),
        source: s.source.clone(),
        version: env!("CARGO_PKG_VERSION"),
        model: model.name(),
        horizon_s: horizon,
        horizon_basis,
        arrival_profile: s.demand.arrival.kind(),
        steady_state: None,
        bytes: Bytes {
            server: sb,
            peers: pb,
            peer_share: if sb + pb > 0.0 { pb / (sb + pb) } else { 0.0 },
        },
        downloads: Downloads {
            arrived,
            completed: arrived - watching,
            aborted: 0.0,
            in_progress: watching,
            conservation_residual: 0.0,
        },
        peak,
        classes,
        solver: traj.stats.clone(),
        costs: None,
        peer_classes: None,
        coordination: None,
        incentive: None,
        billing: None,
        video: Some(video),
        locality: None,
        push: None,
        wireless: None,
        validity: None,
        stochastic_check: None,
        verdict: None,
    };
    Ok(RunRecord {
        demand,
        columns,
        rows,
        summary,
        plan,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// E[X^+] for a standard normal is 1/sqrt(2π); for mean 1, sd 1 it is Φ(1) + φ(1) =
    /// 0.8413447 + 0.2419707 = 1.0833155 (normal tables); the erfc fit is good to 1.2e-7.
    #[test]
    fn gaussian_positive_part_matches_normal_tables() {
        assert!((gaussian_positive_mean(0.0, 1.0) - 0.398_942_28).abs() < 1e-7);
        assert!((gaussian_positive_mean(1.0, 1.0) - 1.083_315_5).abs() < 1e-6);
        assert!((gaussian_positive_mean(-1.0, 1.0) - 0.083_315_5).abs() < 1e-6);
        // Far in the deficit the positive part is the mean itself.
        assert!((gaussian_positive_mean(100.0, 1.0) - 100.0).abs() < 1e-9);
    }

    #[test]
    fn interpolation_is_exact_on_the_grid_and_linear_between() {
        let tab = [(0.0, 0.0, false), (10.0, 5.0, false), (20.0, 25.0, true)];
        assert_eq!(interpolate(&tab, 10.0), (5.0, false));
        let (v, a) = interpolate(&tab, 15.0);
        assert!((v - 15.0).abs() < 1e-12 && a);
        assert!((interpolate(&tab, 2.5).0 - 1.25).abs() < 1e-12);
    }

    #[test]
    fn zipf_shares_sum_to_one_and_fall() {
        let s = zipf_shares(100, 0.8);
        assert!((s.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(s.windows(2).all(|w| w[0] > w[1]));
        assert!((s[0] / s[1] - 2f64.powf(0.8)).abs() < 1e-12);
    }
}
