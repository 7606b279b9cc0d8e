//! A validity guard for the fluid model (issue 16): does the scenario have enough peers for a
//! continuum to describe it, and what does the exact stochastic twin say at the real scale?
//!
//! Card: `models/stochastic.md`, section "Validity guard" (the rules, the threshold and why,
//! the two reproductions with their measured numbers).
//!
//! The fluid model is a law of large numbers: it treats peers as a continuum. With a handful
//! of peers it still prints confident numbers, and they can be wrong by a large factor. Two
//! steps, both after a fluid run ([`RunRecord`]):
//!
//! 1. [`assess`] (arithmetic on the record, free): a file swarm with fewer than [`MIN_PEERS`]
//!    peers online on average, or with no origin and no seeds that still delivers, gets a
//!    warning a manager can read, with the number and the threshold.
//! 2. [`crate::stochastic::check_stochastic`] (a short simulation): the scenario's swarm as an exact Markov
//!    chain with whole peers at scale N = 1, on the run's horizon and grid, beside the fluid
//!    numbers the costs rest on: the server's bytes, its share of the bytes and the mean
//!    download time.
//!
//! Both are attached to `summary.json` by the command line (`validity`, `stochastic_check`).

use serde::Serialize;

use super::RunRecord;
use crate::scenario::{ContentKind, Scenario};
use crate::units::Seconds;

/// Fewest peers online (leechers + seeds, averaged over the time peers spend in the swarm)
/// for which the fluid model's numbers are trusted.
///
/// Why 30: a population of N whole peers fluctuates by about 1/√N of itself (Poisson), which
/// is 18 % at N = 30 and exceeds 50 % below N = 4; the fluid model sees only the mean. The
/// chain's bias on the server's bytes falls as 1/N (measured: 172 % at one peer, 33 % at 32,
/// 8 % at 106 peers in the upload-limited reproduction; `models/stochastic.md`). Below 30 the
/// fluid numbers are not a fair summary of the swarm; above it they are good to tens of
/// percent and improve as 1/N.
pub const MIN_PEERS: f64 = 30.0;

/// Fewest seeds online on average (on the basis of [`Validity::mean_peers`]) for a swarm
/// without an origin to count as seeded: below one whole seed, a real swarm mostly has none.
pub const MIN_SEEDS: f64 = 1.0;

/// What [`assess`] found (`summary.json` key `validity`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Validity {
    /// True when no rule fired (always true when `assessed` is false).
    pub holds: bool,
    /// False for wireless scenarios (the rules cover file swarms, live streams and VoD).
    pub assessed: bool,
    /// Peers online (leechers + seeds; live and VoD: viewers) on average, compared with
    /// [`MIN_PEERS`]: the steady
    /// population when the arrivals are constant and the run reached its steady state, else
    /// the average over the horizon (peer-seconds / horizon). 0 when not assessed.
    pub mean_peers: f64,
    /// Which of the two `mean_peers` is: "steady state" or "time average while the swarm is
    /// active" (until all but 1e-6 of its peer-time is spent)
    /// (empty when not assessed).
    pub basis: &'static str,
    /// One sentence per rule that fired, with the number and the threshold.
    pub warnings: Vec<String>,
    /// What `mean_peers` counts: "peers online" (file swarms) or "viewers" (streams).
    pub population: &'static str,
    /// The population the model needs ([`MIN_PEERS`]); `null` where no population rule
    /// applies (VoD: exact sums over each title's audience).
    pub min_needed: Option<f64>,
}

/// Population figures of a fluid run.
#[derive(Debug, Clone, Copy)]
struct Population {
    /// Leechers + seeds (see [`Validity::mean_peers`]).
    peers: f64,
    /// Seeds, on the same basis.
    seeds: f64,
    /// [`Validity::basis`].
    basis: &'static str,
}

impl Population {
    /// The steady state when the arrivals are constant and the run reached it (the time
    /// average would count the start from empty); otherwise the time average over the
    /// horizon. Not the steady state of a varying profile: it belongs to its reference rate
    /// (a flash crowd's peak), while the server's bytes are made mostly where the swarm is
    /// small, at the start and in the fading tail (`models/stochastic.md`).
    fn of(rec: &RunRecord) -> Self {
        let s = &rec.summary;
        if let Some(ss) = s
            .steady_state
            .as_ref()
            .filter(|ss| ss.reached == Some(true))
        {
            return Self {
                peers: ss.leechers + ss.seeds,
                seeds: ss.seeds,
                basis: "steady state",
            };
        }
        // The active stretch: until the swarm has spent all but 1e-6 of its peer-time, so that
        // an idle tail (a horizon longer than the crowd) does not dilute the average.
        let d = &rec.demand;
        let total = d.peer_seconds.last().copied().unwrap_or(0.0);
        let active =
            active_time(&d.t, &d.peer_seconds, (1.0 - ACTIVE_SHARE) * total).unwrap_or(s.horizon_s);
        let per_active = |v: f64| if active > 0.0 { v / active } else { 0.0 };
        let seed_seconds: f64 = s.classes.iter().map(|c| 3600.0 * c.seed_hours).sum();
        Self {
            peers: per_active((1.0 - ACTIVE_SHARE) * total),
            seeds: per_active((1.0 - ACTIVE_SHARE) * seed_seconds),
            basis: "time average while the swarm is active",
        }
    }
}

/// Share of a run's peer-time left out of the active stretch (its idle tail): 1e-6, the same
/// cut as the default horizon of a flash crowd (arrivals down to 1e-6 of the peak), so a run
/// with the default horizon is judged as before and a longer horizon is not diluted.
const ACTIVE_SHARE: f64 = 1e-6;

/// The time at which a running total `y` on times `t` reaches `level` (linear between
/// outputs); `None` when it never does.
fn active_time(t: &[f64], y: &[f64], level: f64) -> Option<f64> {
    let i = y.iter().position(|&v| v >= level)?;
    if i == 0 {
        return Some(t[0]);
    }
    let (y0, y1) = (y[i - 1], y[i]);
    let f = if y1 > y0 {
        (level - y0) / (y1 - y0)
    } else {
        1.0
    };
    Some(t[i - 1] + f * (t[i] - t[i - 1]))
}

/// A count for a sentence: two decimals below 10, one below 100, none above.
fn count(v: f64) -> String {
    if v < 10.0 {
        format!("{v:.2}")
    } else if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// Rule 1: too few peers for a continuum.
fn too_few_peers(pop: &Population) -> Option<String> {
    let n = pop.peers;
    (n < MIN_PEERS).then(|| {
        let swing = if n > 0.0 {
            format!("about ±{:.0} %", 100.0 / n.sqrt())
        } else {
            "unbounded".to_string()
        };
        format!(
            "Too few peers for the fluid model: the swarm averages {} peers online (leechers and \
             seeds, {}), below the {MIN_PEERS:.0} the model needs. \
             It treats peers as a continuum; with this few whole peers the swarm's size swings by \
             {swing}, and the server's bytes, the costs and the download times can be far off. \
             Check with `peerfluid compare FILE --check-stochastic`.",
            count(n),
            pop.basis
        )
    })
}

/// Rule 2: no origin and no seeds, yet the fluid swarm delivers.
fn no_first_copy(s: &Scenario, rec: &RunRecord, pop: &Population) -> Option<String> {
    let completed = rec.summary.downloads.completed;
    let no_origin = s.server.capacity <= 0.0;
    (no_origin && pop.seeds < MIN_SEEDS && completed > 0.0).then(|| {
        format!(
            "No source for the first copy: there is no origin server (capacity 0) and fewer than \
             {MIN_SEEDS:.0} seed online on average ({}), yet the fluid model completes {} \
             downloads. With whole peers the first copy must come from somewhere; the fluid limit \
             lets fractional peers serve each other. Give the scenario an origin ([server] \
             capacity) or seeds that stay (seed_residence).",
            count(pop.seeds),
            count(completed)
        )
    })
}

/// Whether the fluid model can be trusted for this run (file swarms; other kinds hold with
/// `assessed = false`). Rules, each giving one warning:
///
/// * the swarm averages fewer than [`MIN_PEERS`] peers online ([`Validity::mean_peers`]);
/// * no origin (`server.capacity` = 0) and fewer than [`MIN_SEEDS`] seeds on average (same
///   basis), yet the fluid run completes downloads: the first copy has no source.
pub fn assess(s: &Scenario, rec: &RunRecord) -> Validity {
    if let (Some(v), true) = (&rec.summary.video, s.content.kind.stream().is_some()) {
        return assess_stream(s, rec, v);
    }
    if !matches!(s.content.kind, ContentKind::File) {
        return Validity {
            holds: true,
            assessed: false,
            mean_peers: 0.0,
            basis: "",
            warnings: Vec::new(),
            population: "peers online",
            min_needed: None,
        };
    }
    let pop = Population::of(rec);
    let warnings: Vec<String> = [too_few_peers(&pop), no_first_copy(s, rec, &pop)]
        .into_iter()
        .flatten()
        .collect();
    Validity {
        holds: warnings.is_empty(),
        assessed: true,
        mean_peers: pop.peers,
        basis: pop.basis,
        warnings,
        population: "peers online",
        min_needed: Some(MIN_PEERS),
    }
}

/// Live and VoD (issue 19 §2: the viewers' game must not print a confident number for a
/// handful of viewers):
///
/// * live: the server's rate max{r, n r − Σ u_k n_k} treats the audience as a continuum; with
///   fewer than [`MIN_PEERS`] viewers on average (λT at constant arrivals, else the time
///   average while the stream is watched) which viewers are present decides whether they can
///   relay (Kumar, Liu & Ross: `video.universal_streaming_probability`), so the rate, the bill
///   and the viewers' payments can be far off;
/// * VoD: each title's load is an exact sum over its Poisson audience (valid at any size); a
///   warning says when some output times took the Gaussian view of a large audience or the
///   ordered load's lower bound instead (`video.gaussian_points`).
fn assess_stream(s: &Scenario, rec: &RunRecord, v: &super::video::VideoSummary) -> Validity {
    let constant = matches!(
        s.demand.arrival,
        crate::model::ArrivalProfile::Constant { .. }
    );
    let (n, basis) = if constant {
        (v.steady_viewers, "steady audience λT")
    } else {
        let pop = Population::of(rec);
        (pop.peers, "time average while the stream is watched")
    };
    let mut warnings = Vec::new();
    if matches!(s.content.kind, ContentKind::Live(_)) && n < MIN_PEERS {
        warnings.push(format!(
            "Too few viewers for the fluid stream model: the audience averages {} viewers ({basis}), \
             below the {MIN_PEERS:.0} the model needs. It treats viewers as a continuum; with this \
             few whole viewers whether they can relay the stream depends on who is watching (see \
             `video.universal_streaming_probability`), and the server's rate, the bills and the \
             viewers' payments can be far off.",
            count(n)
        ));
    }
    if v.gaussian_points > 0 {
        warnings.push(format!(
            "{} output times priced a title's audience by an approximation (the Gaussian view of a \
             large audience, or the ordered load's lower bound) instead of its exact sum, beyond \
             the work budget (`models/vod.md`).",
            v.gaussian_points
        ));
    }
    Validity {
        holds: warnings.is_empty(),
        assessed: true,
        mean_peers: n,
        basis,
        warnings,
        population: "viewers",
        min_needed: matches!(s.content.kind, ContentKind::Live(_)).then_some(MIN_PEERS),
    }
}

/// Mean and spread of a quantity over replicates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stat {
    /// Mean over replicates.
    pub mean: f64,
    /// Sample standard deviation over replicates (0 with one replicate).
    pub sd: f64,
}

/// One quantity, fluid beside stochastic.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FluidVsStochastic {
    /// The fluid run's value (`null` when undefined: no bytes, no arrivals).
    pub fluid: Option<f64>,
    /// Mean and sample standard deviation over the replicates where it is defined.
    pub stochastic: Stat,
    /// Stochastic mean − fluid, in the quantity's unit (`null` when either is undefined).
    pub difference: Option<f64>,
    /// (stochastic mean − fluid) / fluid (`null` when the fluid value is 0 or undefined).
    pub relative_difference: Option<f64>,
}

impl FluidVsStochastic {
    /// The fluid value beside the mean and spread of the replicates' values (non-finite ones
    /// left out).
    pub fn new(fluid: Option<f64>, values: impl Iterator<Item = f64>) -> Self {
        let stochastic = stat(values.filter(|v| v.is_finite()));
        let difference = fluid
            .filter(|f| f.is_finite() && stochastic.mean.is_finite())
            .map(|f| stochastic.mean - f);
        Self {
            fluid,
            stochastic,
            difference,
            relative_difference: fluid
                .zip(difference)
                .filter(|(f, _)| *f > 0.0)
                .map(|(f, d)| d / f),
        }
    }
}

/// Mean and sample standard deviation (n − 1; 0 for one value; NaN for none).
fn stat(values: impl Iterator<Item = f64>) -> Stat {
    let v: Vec<f64> = values.collect();
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let sd = if v.len() > 1 {
        (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0)).sqrt()
    } else if v.len() == 1 {
        0.0
    } else {
        f64::NAN
    };
    Stat { mean, sd }
}

/// Fluid vs the exact stochastic twin at the scenario's real scale (`summary.json` key
/// `stochastic_check`). The same numbers as `peerfluid simulate FILE --scale 1 --replicates R
/// --seed S --points P` with the run's P.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StochasticCheck {
    /// Scale N of the chain: 1 (the scenario's own arrival rate and server; whole peers).
    pub scale: f64,
    /// Replicates simulated.
    pub replicates: usize,
    /// Base seed (replicate r: `stochastic::replicate_seed(seed, r)`).
    pub seed: u64,
    /// Simulated time, the fluid run's horizon, seconds.
    pub horizon_s: Seconds,
    /// State-changing events, all replicates.
    pub events: u64,
    /// Replicates in which nobody arrived (no download time) or nothing was delivered (no
    /// server share); left out of those two quantities.
    pub replicates_without_downloads: usize,
    /// Bytes the server sent over the horizon.
    pub server_bytes: FluidVsStochastic,
    /// The server's bytes over all bytes delivered (fraction).
    pub server_share: FluidVsStochastic,
    /// Mean time in the swarm of a downloader over the horizon (Little: leecher-seconds /
    /// arrivals), seconds.
    pub download_time_s: FluidVsStochastic,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{run_scenario, RunOptions};
    use crate::stochastic::check_stochastic;

    fn run(text: &str) -> (Scenario, RunRecord) {
        let s = Scenario::from_toml(text, "test.toml", None).expect("valid scenario");
        let opts = RunOptions {
            points: 200,
            ..RunOptions::default()
        };
        let rec = run_scenario(&s, &opts).expect("runs");
        (s, rec)
    }

    /// One class, normalised units (file of 1 byte, rates in files/s × 8): λ arrivals per
    /// second, seeds stay `residence` s, server `s` files/s.
    fn swarm(lambda: f64, residence: f64, s: f64, extra: &str) -> String {
        format!(
            "name = \"t\"\n[content]\nsize = 1\n[demand]\narrival_rate = {lambda:?}\n{extra}\n\
             [swarm]\nefficiency = 1.0\nseed_residence = {residence:?}\n\
             [peers]\nupload = 0.16\ndownload = 0.8\n[server]\ncapacity = {:?}\n",
            8.0 * s
        )
    }

    #[test]
    fn a_large_steady_swarm_holds() {
        // λ = 10/s, seeds stay 20 s: about 200 seeds and 100 leechers in steady state.
        let (s, rec) = run(&swarm(10.0, 20.0, 0.5, ""));
        let v = assess(&s, &rec);
        assert!(v.holds && v.assessed, "{v:?}");
        assert!(v.warnings.is_empty());
        let ss = rec.summary.steady_state.as_ref().expect("steady state");
        assert_eq!(ss.reached, Some(true));
        assert_eq!(v.basis, "steady state");
        assert!(
            (v.mean_peers - (ss.leechers + ss.seeds)).abs() < 1e-9,
            "{v:?}"
        );
    }

    #[test]
    fn a_small_swarm_is_flagged_with_its_number_and_the_threshold() {
        // λ = 0.1/s, seeds stay 20 s: about 3 peers.
        let (s, rec) = run(&swarm(0.1, 20.0, 0.5, ""));
        let v = assess(&s, &rec);
        assert!(!v.holds && v.assessed);
        assert_eq!(v.warnings.len(), 1, "{v:?}");
        let w = &v.warnings[0];
        assert!(w.starts_with("Too few peers for the fluid model"), "{w}");
        assert!(
            w.contains(&format!(
                "averages {} peers online (leechers and seeds, steady state)",
                count(v.mean_peers)
            )),
            "{w}"
        );
        assert!(w.contains("below the 30 the model needs"), "{w}");
        assert!(v.mean_peers > 1.0 && v.mean_peers < 5.0, "{v:?}");
    }

    /// A flash crowd is judged by its time average while active, not by the steady state
    /// at its peak rate: the fading tail, with few peers, is where much of the server's bytes
    /// are made (models/stochastic.md). Here the peak's steady state has about 250 peers, the
    /// time average well under 30.
    #[test]
    fn a_fading_flash_crowd_is_judged_over_its_horizon() {
        let (s, rec) = run(&swarm(
            5.0,
            20.0,
            0.5,
            "profile = \"flash-crowd\"\ndecay_time = 100.0",
        ));
        let ss = rec.summary.steady_state.as_ref().expect("at the peak rate");
        assert!(ss.leechers + ss.seeds > 100.0, "{ss:?}");
        let v = assess(&s, &rec);
        assert_eq!(v.basis, "time average while the swarm is active");
        // At least the average over the whole horizon (the active stretch is no longer).
        let total = rec.demand.peer_seconds.last().expect("totals");
        assert!(
            v.mean_peers >= (1.0 - 1e-6) * total / rec.summary.horizon_s,
            "{v:?}"
        );
        assert!(v.mean_peers < MIN_PEERS && !v.holds, "{v:?}");
        assert!(
            v.warnings[0].contains("(leechers and seeds, time average while the swarm is active)"),
            "{v:?}"
        );
    }

    #[test]
    fn no_origin_and_no_seeds_is_flagged_when_the_fluid_delivers() {
        // Seeds leave at once, no server, a large population: only the first-copy rule.
        let (s, rec) = run(&swarm(20.0, 0.0, 0.0, ""));
        let v = assess(&s, &rec);
        assert_eq!(v.warnings.len(), 1, "{v:?}");
        let w = &v.warnings[0];
        assert!(w.starts_with("No source for the first copy"), "{w}");
        assert!(
            w.contains("fewer than 1 seed online on average (0.00)"),
            "{w}"
        );
        // With seeds that stay, the swarm keeps a seed population: no warning.
        let (s, rec) = run(&swarm(20.0, 20.0, 0.0, ""));
        assert!(assess(&s, &rec).holds);
    }

    /// Issue 19 §2 changed this: a live stream is assessed (0.6 viewers on average are far
    /// too few for the fluid stream model); the stochastic simulator still refuses it.
    #[test]
    fn streams_are_assessed_and_the_simulator_refuses_them() {
        let text = "name = \"l\"\n[content]\nkind = \"live\"\nbitrate = \"1 Mbps\"\n\
                    watch_time = \"1 min\"\n[demand]\narrival_rate = \"0.01/s\"\n\
                    [peers]\nupload = \"1 Mbps\"\ndownload = \"10 Mbps\"\n\
                    [server]\ncapacity = \"10 Mbps\"\n";
        let (s, rec) = run(text);
        let v = assess(&s, &rec);
        assert!(v.assessed && !v.holds, "{v:?}");
        assert!(
            v.warnings[0].starts_with(
                "Too few viewers for the fluid stream model: the audience averages 0.60 viewers"
            ),
            "{v:?}"
        );
        let e = check_stochastic(&s, &rec, 10, 1).expect_err("not a file");
        assert_eq!(
            e.to_string(),
            "scenario 'l': the stochastic simulator covers file swarms only \
             (content.kind = \"file\"), not live"
        );
    }

    #[test]
    fn a_check_too_large_to_be_quick_is_refused_up_front() {
        // 10^5 arrivals/s for the horizon (≈ 100 s): about 3·10^7 events per replicate.
        let (s, rec) = run(&swarm(1e5, 20.0, 0.5, ""));
        let e = check_stochastic(&s, &rec, 200, 1).expect_err("too large");
        let msg = e.to_string();
        assert!(
            msg.starts_with("scenario 't': the stochastic check at real scale would take about "),
            "{msg}"
        );
        assert!(
            msg.ends_with(
                "events (200 replicates), more than the 1.0e9 of a quick check; lower \
                 --replicates, or use `peerfluid simulate --scale 1` for a longer run"
            ),
            "{msg}"
        );
        let e = check_stochastic(&s, &rec, 0, 1).expect_err("no replicates");
        assert_eq!(
            e.to_string(),
            "--replicates must be between 1 and 100000 (got 0)"
        );
    }

    /// A large swarm at real scale agrees with the fluid run (Kurtz), so the check reports
    /// small relative differences; and it is reproducible from its seed.
    #[test]
    fn a_large_swarm_agrees_at_real_scale() {
        let (s, rec) = run(&swarm(10.0, 20.0, 0.5, ""));
        let c = check_stochastic(&s, &rec, 20, 3).expect("quick");
        assert_eq!(c, check_stochastic(&s, &rec, 20, 3).expect("quick"));
        assert_eq!(
            (c.replicates, c.seed, c.replicates_without_downloads),
            (20, 3, 0)
        );
        for (what, q) in [
            ("server bytes", c.server_bytes),
            ("server share", c.server_share),
            ("download time", c.download_time_s),
        ] {
            let d = q.relative_difference.expect("defined");
            assert!(d.abs() < 0.05, "{what}: {q:?}");
        }
    }

    #[test]
    fn stat_of_few_values() {
        let s = stat([1.0, 3.0].into_iter());
        assert!((s.mean - 2.0).abs() < 1e-15 && (s.sd - 2f64.sqrt()).abs() < 1e-15);
        assert!(stat(std::iter::empty()).mean.is_nan());
        let one = stat(std::iter::once(4.0));
        assert!((one.mean - 4.0).abs() < 1e-15 && one.sd.abs() < 1e-15);
    }
}
