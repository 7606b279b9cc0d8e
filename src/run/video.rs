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
use crate::error::RunError;

use crate::incentive::plan::Plan;
use crate::model::audience::{Audience, IX_ARRIVALS, IX_VIEWERS, IX_VIEWER_SECONDS};
use crate::model::video_load::{Delivery, ServerLoad};
use crate::model::{streaming, vod, ArrivalProfile, FluidModel};
use crate::run::{Bytes, ClassSummary, Downloads, Peak, RunOptions, RunRecord, Summary};
use crate::scenario::{ContentKind, Scenario};
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

pub use crate::model::video_load::zipf_shares;

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

/// How a video scenario's content is delivered (`None` for files and femtocells).
pub fn delivery_of(kind: &ContentKind) -> Delivery {
    match kind {
        ContentKind::Vod {
            prefetch,
            titles,
            zipf,
            ..
        } => Delivery::Vod {
            prefetch: *prefetch,
            titles: *titles,
            zipf: *zipf,
        },
        _ => Delivery::Live,
    }
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
pub fn run_video(s: &Scenario, opts: &RunOptions) -> Result<RunRecord, RunError> {
    // Viewers' payments: per GB uploaded, per view, or (Shapley) per GB of upload offered
    // at the fluid Shapley price of the viewers' game (`incentive::stream`).
    let plan = crate::incentive::plan::stream_plan(s).map_err(|source| RunError::Mechanism {
        context: format!("scenario '{}': the viewers' incentive", s.name),
        source,
    })?;
    run_video_with(s, opts, plan)
}

/// [`run_video`] with its incentive plan already worked out (the billing grid's second run
/// of the same scenario reuses the first run's plan).
pub fn run_video_with(s: &Scenario, opts: &RunOptions, plan: Plan) -> Result<RunRecord, RunError> {
    let stream = s.content.kind.stream().ok_or_else(|| RunError::NotVideo {
        scenario: s.name.clone(),
    })?;
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
    let traj = solve::integrate(&model, &settings).map_err(|e| RunError::integration(s, e))?;
    let titles_n = match &s.content.kind {
        ContentKind::Vod { titles, .. } => *titles,
        _ => 1,
    };
    let classes: Vec<(f64, f64)> = s.classes.iter().map(|c| (c.upload, c.share)).collect();
    let load = ServerLoad::new(delivery_of(&s.content.kind), stream.bitrate, &classes)?;
    let rounding = load.rounding();
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
                .collect::<Result<Vec<_>, _>>()?,
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
        let supply: f64 = load.classes().iter().map(|&(u, sh)| u * sh * n).sum();
        // A finite live origin sends at most its capacity; the viewers then get less than r.
        let server = match s.content.kind {
            ContentKind::Live(_) if cap > 0.0 => needed.min(cap),
            _ => needed,
        };
        let peer = (total - server).max(0.0).min(supply.max(total - needed));
        let max_rate = if cap > 0.0 && n > 0.0 {
            let peers: Vec<(f64, f64)> =
                load.classes().iter().map(|&(u, sh)| (u, sh * n)).collect();
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
    let (per_gb_uploaded, per_download) = (plan.per_gb_uploaded, plan.per_download);
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
                price_per_gb_offered: plan.offered_price(&c.name),
            })
            .collect(),
        payments: PaymentRule {
            per_gb_uploaded,
            per_download,
        },
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
                .classes()
                .iter()
                .map(|&(u, sh)| (u, sh * steady_viewers))
                .collect();
            streaming::universal_streaming_probability(r, cap, &classes)
                .ok()
                .map(|v| v.value)
        }
        _ => None,
    };
    let titles_in_surplus = match (&s.content.kind, load.uploads()) {
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
        flash_crowd_bound_s: None,
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
        incentive: plan.report.clone(),
        billing: None,
        video: Some(video),
        locality: None,
        push: None,
        wireless: None,
        validity: None,
        stochastic_check: None,
        verdict: None,
        inputs: Default::default(),
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

    #[test]
    fn interpolation_is_exact_on_the_grid_and_linear_between() {
        let tab = [(0.0, 0.0, false), (10.0, 5.0, false), (20.0, 25.0, true)];
        assert_eq!(interpolate(&tab, 10.0), (5.0, false));
        let (v, a) = interpolate(&tab, 15.0);
        assert!((v - 15.0).abs() < 1e-12 && a);
        assert!((interpolate(&tab, 2.5).0 - 1.25).abs() < 1e-12);
    }
}
