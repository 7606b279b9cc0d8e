//! The swarm's stochastic twin: an exact continuous-time Markov chain with whole peers.
//!
//! Card: `models/stochastic.md` (every transition and its rate, Kurtz scaling, the algorithm,
//! the RNG and seeding, the tests' reference values, measured speed).
//!
//! The chain has, per class k, X_k leechers and Y_k seeds (whole numbers). At scale N:
//!
//! ```text
//! arrival      X_k → X_k + 1             at N · share_k · λ(t)
//! abort        X_k → X_k − 1             at θ_k X_k
//! completion   X_k → X_k − 1, Y_k → Y_k + 1 (or the peer leaves, when γ_k = ∞)
//!                                        at d_k(X, Y) (the fluid flow at the integer state,
//!                                        same max-min sharing, server N·s)
//! departure    Y_k → Y_k − 1             at γ_k Y_k
//! ```
//!
//! The rates are density dependent (d_k(X, Y; N s) = N d_k(X/N, Y/N; s)), so by Kurtz's
//! theorem X/N and Y/N converge to the fluid solution as N → ∞ with fluctuations of order
//! N^(−1/2). Simulation: Gillespie's direct method, exact; arrivals with a time-varying
//! λ(t) are thinned against a bound on each short stretch of time (also exact).
//!
//! Pipeline: [`SimSettings`] (validated) and a [`Chain`] built from a [`Swarm`] →
//! [`simulate`] runs the replicates in parallel (rayon, ordered, one derived seed each) →
//! [`Simulation`] → [`Simulation::timeseries`] (means and `.sd` columns on the run's grid)
//! and [`Simulation::summary`]. [`validate`] repeats this over several scales against a
//! [`FluidReference`].
//!
//! Replicates are folded into the means by an [`Accumulator`], one replicate at a time in
//! replicate order. [`records`] stores replicates bit for bit, [`shard`] runs a share of them
//! into such a file (`--shard K/N`, `--resume`) and folds the files of all shards in
//! replicate order, so a merged run is the unsharded run byte for byte; [`job`] is the
//! `simulate`/`validate`/`merge` glue (scenario, files, outputs).

pub mod job;
pub mod records;
pub mod shard;

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::SimError;
use crate::model::swarm::swarm_of;
use crate::model::swarm::{ServerPolicy, Swarm};
use crate::model::ArrivalProfile;
use crate::run::validity::{FluidVsStochastic, StochasticCheck};
use crate::run::RunRecord;
use crate::scenario::{ContentKind, Scenario};
use crate::units::Seconds;

/// Largest scale N accepted.
pub const MAX_SCALE: f64 = 1e9;
/// Most replicates accepted.
pub const MAX_REPLICATES: usize = 100_000;
/// Most events (expected, all replicates) one call may take: about an hour at 30 M events/s.
pub const MAX_EVENTS: f64 = 1e11;
/// With a time-varying λ(t), the horizon is cut into at least this many stretches, each with
/// its own thinning bound (so that few candidate arrivals are rejected).
pub const THINNING_STRETCHES: usize = 1024;

/// Validated settings of a simulation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimSettings {
    /// N: multiplies arrival rates and the server (populations / N compare with the fluid).
    pub scale: f64,
    /// Independent replicates (their mean and spread are reported).
    pub replicates: usize,
    /// Base seed; replicate r uses [`replicate_seed`]`(seed, r)`.
    pub seed: u64,
    /// Show a progress bar over the replicates (stderr, only on a terminal).
    pub progress: bool,
}

impl SimSettings {
    /// Check `0 < scale ≤ MAX_SCALE` and `1 ≤ replicates ≤ MAX_REPLICATES`.
    ///
    /// # Errors
    ///
    /// [`SimError::OutOfRange`] naming the setting, the range and the value.
    pub fn new(scale: f64, replicates: usize, seed: u64) -> Result<Self, SimError> {
        if !(scale.is_finite() && scale > 0.0 && scale <= MAX_SCALE) {
            return Err(SimError::OutOfRange {
                what: "--scale",
                value: format!("{scale}"),
                allowed: format!("> 0 and ≤ {MAX_SCALE:e}"),
            });
        }
        if !(1..=MAX_REPLICATES).contains(&replicates) {
            return Err(SimError::OutOfRange {
                what: "--replicates",
                value: format!("{replicates}"),
                allowed: format!("between 1 and {MAX_REPLICATES}"),
            });
        }
        Ok(Self {
            scale,
            replicates,
            seed,
            progress: false,
        })
    }
}

/// SplitMix64 output function (Steele, Lea & Flood, "Fast splittable pseudorandom number
/// generators", OOPSLA 2014; constants as in Vigna's public-domain `splitmix64.c`), applied to
/// `a` advanced by `b` golden-ratio steps.
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a.wrapping_add(b.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The seed of replicate `r` under base seed `seed`: a counter-based derivation
/// (SplitMix64 of the pair), so it does not depend on which thread runs the replicate.
pub fn replicate_seed(seed: u64, r: u64) -> u64 {
    mix(mix(seed, 0x5354_4f43), r)
}

/// A uniform double in `[0, 1)` from the top 53 bits of a 64-bit draw.
#[inline(always)]
fn uniform(rng: &mut Pcg64Mcg) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// An Exp(1) draw by inversion: −ln(U) with U uniform on (0, 1].
#[inline(always)]
fn exp1(rng: &mut Pcg64Mcg) -> f64 {
    let u = ((rng.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64);
    -u.ln()
}

/// One class of the chain: rates per peer, per second.
#[derive(Debug, Clone)]
struct ChainClass {
    share: f64,
    c: f64,
    mu: f64,
    theta: f64,
    /// γ_k; 0 when seeds leave at once (then `seeds_stay` is false).
    gamma: f64,
    seeds_stay: bool,
}

/// The Markov chain of a swarm at scale N (parameters only; a replicate owns its state).
#[derive(Debug, Clone)]
pub struct Chain {
    classes: Vec<ChainClass>,
    /// Class indices by ascending c (water-filling order, as in `Swarm`).
    order: Vec<usize>,
    eta: f64,
    /// N · s, files/s.
    server: f64,
    /// The server seeds (`server.policy = "seed"`): it serves first, the peers the rest.
    seeding: bool,
    /// 1/τ₀: rate at which a starting leecher gets its first piece; 0 = no start-up delay.
    start_rate: f64,
    /// Bytes moved per byte of progress, 1/(1 − d) with duplicate bytes (else 1): the server
    /// and peer flows and files are in bytes moved, as in `Swarm::flows`.
    bytes: f64,
    /// Download stages k (1: a download completes in one exponential step).
    stages: usize,
    /// The flash-crowd bound's gate t_g (`Swarm::gate`): before it only the leechers before
    /// the last stage progress, and nobody completes.
    gate: Option<f64>,
    /// λ(t) of the fluid model (the chain's arrival rate is N times it).
    arrival: ArrivalProfile,
    scale: f64,
}

impl Chain {
    /// The chain of `swarm` at scale `scale` (validated in [`SimSettings::new`]).
    pub fn new(swarm: &Swarm, scale: f64) -> Self {
        let classes: Vec<ChainClass> = swarm
            .classes
            .iter()
            .map(|c| ChainClass {
                share: c.share,
                c: c.c,
                mu: c.mu,
                theta: c.theta,
                gamma: c.gamma.unwrap_or(0.0),
                seeds_stay: c.gamma.is_some(),
            })
            .collect();
        let mut order: Vec<usize> = (0..classes.len()).collect();
        order.sort_by(|&a, &b| classes[a].c.total_cmp(&classes[b].c));
        Self {
            classes,
            order,
            eta: swarm.eta,
            server: swarm.server * scale,
            seeding: swarm.terms().policy == ServerPolicy::Seed,
            bytes: swarm.bytes_per_progress(),
            stages: swarm.stages(),
            gate: swarm.gate(),
            start_rate: if swarm.starting() {
                1.0 / swarm.terms().startup_delay
            } else {
                0.0
            },
            arrival: swarm.arrival.clone(),
            scale,
        }
    }

    /// Number of classes K.
    pub fn k(&self) -> usize {
        self.classes.len()
    }

    /// The peers' share of the download flow `done` when they offer `up` (the rule of
    /// `Swarm::flows`): all they can when the server fills their deficit, what the server
    /// (N·s) leaves when it seeds. The server's share is `done` − this.
    #[inline(always)]
    fn peer_flow(&self, up: f64, done: f64) -> f64 {
        if self.seeding {
            (done - self.server.min(done)).max(0.0)
        } else {
            up.min(done)
        }
    }

    /// Completion rates d_k at whole-peer populations (max-min fair water-filling of peers'
    /// upload plus N·s, each leecher capped at c_k; the rule of `Swarm::flows`). Writes `d`
    /// and returns the peers' upload U.
    fn completions(&self, x: &[f64], y: &[f64], d: &mut [f64]) -> f64 {
        self.allocate(x, x, y, d)
    }

    /// [`Chain::completions`] when the leechers `up_x` upload and `x` of them download (the
    /// flash-crowd bound's gate closed: the last stage waits).
    fn allocate(&self, up_x: &[f64], x: &[f64], y: &[f64], d: &mut [f64]) -> f64 {
        let mut up = 0.0;
        let mut cap = 0.0;
        for (k, cl) in self.classes.iter().enumerate() {
            up += cl.mu * (self.eta * up_x[k] + y[k]);
            cap += cl.c * x[k];
        }
        let supply = up + self.server;
        if cap <= supply {
            for (k, cl) in self.classes.iter().enumerate() {
                d[k] = cl.c * x[k];
            }
            return up;
        }
        let mut s_rem = supply;
        let mut x_rem: f64 = x.iter().sum();
        let mut level = 0.0;
        let mut filled = 0;
        for (pos, &k) in self.order.iter().enumerate() {
            level = if x_rem > 0.0 { s_rem / x_rem } else { 0.0 };
            if self.classes[k].c <= level {
                d[k] = self.classes[k].c * x[k];
                s_rem -= d[k];
                x_rem -= x[k];
                filled = pos + 1;
            } else {
                break;
            }
        }
        for &k in &self.order[filled..] {
            d[k] = level * x[k];
        }
        up
    }
}

/// Events of one or more replicates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EventCounts {
    /// Arrivals (accepted candidates).
    pub arrivals: u64,
    /// Aborts.
    pub aborts: u64,
    /// Completions.
    pub completions: u64,
    /// Seed departures.
    pub seed_departures: u64,
    /// Candidate arrivals rejected by thinning (not state changes).
    pub rejected_candidates: u64,
}

impl EventCounts {
    /// State-changing events: arrivals + aborts + completions + seed departures.
    pub fn total(&self) -> u64 {
        self.arrivals + self.aborts + self.completions + self.seed_departures
    }
    fn add(&mut self, o: &Self) {
        self.arrivals += o.arrivals;
        self.aborts += o.aborts;
        self.completions += o.completions;
        self.seed_departures += o.seed_departures;
        self.rejected_candidates += o.rejected_candidates;
    }
}

/// One replicate's path, recorded on the output grid (whole peers, not divided by N).
#[derive(Debug, Clone)]
pub struct Replicate {
    /// Seed the replicate ran with.
    pub seed: u64,
    /// Values per grid point, `width` at a time: X_k (K), Y_k (K), d_k (K, files/s), server
    /// flow, peer flow (files/s), completed, aborted (running counts).
    pub rows: Vec<f64>,
    /// Values per grid point (3K + 4).
    pub width: usize,
    /// Event counts.
    pub events: EventCounts,
    /// ∫ Σ X_k dt over the horizon (leecher-seconds).
    pub leecher_seconds: f64,
    /// ∫ Σ Y_k dt (seed-seconds).
    pub seed_seconds: f64,
    /// ∫ server flow dt (files).
    pub server_files: f64,
    /// ∫ peer flow dt (files).
    pub peer_files: f64,
}

impl Replicate {
    /// Mean time in the swarm of a downloader over the horizon, by Little's law:
    /// leecher-seconds / arrivals (NaN without arrivals).
    pub fn download_time(&self) -> f64 {
        if self.events.arrivals == 0 {
            f64::NAN
        } else {
            self.leecher_seconds / self.events.arrivals as f64
        }
    }
    /// Row `i` of the grid.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.rows[i * self.width..(i + 1) * self.width]
    }
}

/// Check that `grid` starts at 0 and increases strictly, with finite values.
fn check_grid(grid: &[f64]) -> Result<(), SimError> {
    let reason = if grid.len() < 2 {
        Some(format!("needs at least 2 times (got {})", grid.len()))
    } else if grid[0].abs() > 0.0 {
        Some(format!("must start at t = 0 (got {})", grid[0]))
    } else if grid.iter().any(|t| !t.is_finite()) {
        Some("has a non-finite time".to_string())
    } else {
        grid.windows(2)
            .position(|w| w[1] <= w[0])
            .map(|i| format!("must increase strictly (times {i} and {})", i + 1))
    };
    match reason {
        Some(reason) => Err(SimError::Grid { reason }),
        None => Ok(()),
    }
}

/// Stretches of one output interval for the thinning bound.
fn stretches_per_interval(chain: &Chain, intervals: usize) -> usize {
    if matches!(chain.arrival, ArrivalProfile::Constant { .. }) {
        1
    } else {
        THINNING_STRETCHES.div_ceil(intervals.max(1))
    }
}

/// Run one replicate of `chain` from an empty swarm, recording at the times of `grid`
/// (validated: starts at 0, strictly increasing). One class takes a scalar fast path.
///
/// # Errors
///
/// [`SimError::Grid`] for an unusable grid.
pub fn run_replicate(chain: &Chain, grid: &[f64], seed: u64) -> Result<Replicate, SimError> {
    check_grid(grid)?;
    Ok(
        if chain.k() == 1 && chain.start_rate <= 0.0 && chain.stages == 1 {
            run_single(chain, grid, seed)
        } else {
            run_general(chain, grid, seed)
        },
    )
}

/// The scalar fast path for one class. Same transitions, same order of the cumulative sums as
/// `run_general` (abort, completion, departure, arrival).
fn run_single(chain: &Chain, grid: &[f64], seed: u64) -> Replicate {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let cl = &chain.classes[0];
    let (c, mu, theta, gamma, eta, server) =
        (cl.c, cl.mu, cl.theta, cl.gamma, chain.eta, chain.server);
    let stay = cl.seeds_stay;
    let constant = matches!(chain.arrival, ArrivalProfile::Constant { .. });
    let n = chain.scale;
    let width = 7;
    let mut rows = Vec::with_capacity(grid.len() * width);
    let (mut x, mut y) = (0.0_f64, 0.0_f64);
    let mut ev = EventCounts::default();
    let (mut lsec, mut ssec, mut sfiles, mut pfiles) = (0.0, 0.0, 0.0, 0.0);
    let record = |rows: &mut Vec<f64>, x: f64, y: f64, ev: &EventCounts| {
        let up = mu * (eta * x + y);
        let d = (c * x).min(up + server);
        let peer = chain.peer_flow(up, d);
        rows.extend_from_slice(&[
            x,
            y,
            d,
            (d - peer) * chain.bytes,
            peer * chain.bytes,
            ev.completions as f64,
            ev.aborts as f64,
        ]);
    };
    record(&mut rows, x, y, &ev);
    let sub = stretches_per_interval(chain, grid.len() - 1);
    let mut t = 0.0;
    for w in grid.windows(2) {
        let (a, b) = (w[0], w[1]);
        for j in 0..sub {
            let s1 = if j + 1 == sub {
                b
            } else {
                a + (b - a) * (j + 1) as f64 / sub as f64
            };
            let bound = n * chain.arrival.max_rate_on(t, s1);
            loop {
                let abort = theta * x;
                let up = mu * (eta * x + y);
                let done = (c * x).min(up + server);
                let leave = gamma * y;
                let other = abort + done + leave;
                let total = other + bound;
                let dt = if total > 0.0 {
                    exp1(&mut rng) / total
                } else {
                    f64::INFINITY
                };
                let step = if t + dt >= s1 { s1 - t } else { dt };
                lsec += x * step;
                ssec += y * step;
                let peer = chain.peer_flow(up, done);
                pfiles += peer * step;
                sfiles += (done - peer) * step;
                if t + dt >= s1 {
                    t = s1;
                    break;
                }
                t += dt;
                let u = uniform(&mut rng) * total;
                if u < abort {
                    x -= 1.0;
                    ev.aborts += 1;
                } else if u < abort + done {
                    x -= 1.0;
                    if stay {
                        y += 1.0;
                    }
                    ev.completions += 1;
                } else if u < other {
                    y -= 1.0;
                    ev.seed_departures += 1;
                } else if constant || u - other < n * chain.arrival.rate_at(t) {
                    x += 1.0;
                    ev.arrivals += 1;
                } else {
                    ev.rejected_candidates += 1;
                }
            }
        }
        record(&mut rows, x, y, &ev);
    }
    Replicate {
        seed,
        rows,
        width,
        events: ev,
        leecher_seconds: lsec,
        seed_seconds: ssec,
        server_files: sfiles * chain.bytes,
        peer_files: pfiles * chain.bytes,
    }
}

/// [`Chain::completions`] at leechers `x` of which `w` are still starting (no first piece:
/// they neither download nor upload); `act` is scratch space for x − w. With `gated` (the
/// flash-crowd bound's gate closed) only the leechers before the last stage download: the
/// stage counts `vs` (k per class), `down` scratch space for them.
#[allow(clippy::too_many_arguments)] // the chain's populations and two scratch buffers
fn rates(
    chain: &Chain,
    x: &[f64],
    w: &[f64],
    y: &[f64],
    d: &mut [f64],
    act: &mut [f64],
    gated: Option<(&[f64], &mut [f64])>,
) -> f64 {
    if let Some((vs, down)) = gated {
        let ks = chain.stages;
        for (i, a) in act.iter_mut().enumerate() {
            *a = if chain.start_rate > 0.0 {
                x[i] - w[i]
            } else {
                x[i]
            };
        }
        for (i, dn) in down.iter_mut().enumerate() {
            *dn = vs[i * ks..(i + 1) * ks - 1].iter().sum();
        }
        return chain.allocate(act, down, y, d);
    }
    if chain.start_rate > 0.0 {
        for ((a, xi), wi) in act.iter_mut().zip(x).zip(w) {
            *a = xi - wi;
        }
        chain.completions(act, y, d)
    } else {
        chain.completions(x, y, d)
    }
}

/// K classes (or one class with a start-up delay): rates recomputed after every event (O(K)
/// work and no allocation per event). With a start-up delay an arrival joins X_k and W_k (the
/// starting leechers), a start event W_k → W_k − 1 comes at rate W_k/τ₀, an abort takes a
/// starting leecher with probability W_k/X_k, and only X_k − W_k download and upload.
fn run_general(chain: &Chain, grid: &[f64], seed: u64) -> Replicate {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let k = chain.k();
    let constant = matches!(chain.arrival, ArrivalProfile::Constant { .. });
    let n = chain.scale;
    let width = 3 * k + 4;
    let mut rows = Vec::with_capacity(grid.len() * width);
    let mut x = vec![0.0_f64; k];
    let mut y = vec![0.0_f64; k];
    let mut d = vec![0.0_f64; k];
    let starting = chain.start_rate > 0.0;
    let mut ws = vec![0.0_f64; k];
    let mut act = vec![0.0_f64; k];
    // With k stages: the leechers of class i in stage j (past their start) at i·k + j.
    let ks = chain.stages;
    let kf = ks as f64;
    let mut vs = vec![0.0_f64; if ks > 1 { k * ks } else { 0 }];
    // The flash-crowd bound: before the gate only stages 1..k − 1 download (`down` holds them).
    let mut down = vec![0.0_f64; k];
    let gated_at = |t: f64| chain.gate.is_some_and(|g| t < g);
    // Move one leecher of class i out of the stage that the uniform `frac` ∈ [0, 1) picks
    // among its `active` leechers in the first `upto` stages (each equally likely); returns
    // whether it was the last stage.
    let take_stage = |vs: &mut [f64], i: usize, frac: f64, active: f64, upto: usize| -> bool {
        let mut acc = 0.0;
        let target = frac * active;
        for j in 0..upto {
            acc += vs[i * ks + j];
            if target < acc || j + 1 == upto {
                vs[i * ks + j] -= 1.0;
                if j + 1 < ks {
                    vs[i * ks + j + 1] += 1.0;
                }
                return j + 1 == ks;
            }
        }
        true
    };
    let mut ev = EventCounts::default();
    let (mut lsec, mut ssec, mut sfiles, mut pfiles) = (0.0, 0.0, 0.0, 0.0);
    let record = |rows: &mut Vec<f64>,
                  x: &[f64],
                  w: &[f64],
                  y: &[f64],
                  d: &mut [f64],
                  act: &mut [f64],
                  gated: Option<(&[f64], &mut [f64])>,
                  ev: &EventCounts| {
        let up = rates(chain, x, w, y, d, act, gated);
        let served: f64 = d.iter().sum();
        let peer = chain.peer_flow(up, served);
        rows.extend_from_slice(x);
        rows.extend_from_slice(y);
        rows.extend_from_slice(d);
        rows.extend_from_slice(&[
            (served - peer) * chain.bytes,
            peer * chain.bytes,
            ev.completions as f64,
            ev.aborts as f64,
        ]);
    };
    let gated = gated_at(0.0).then_some((&vs[..], &mut down[..]));
    record(&mut rows, &x, &ws, &y, &mut d, &mut act, gated, &ev);
    let sub = stretches_per_interval(chain, grid.len() - 1);
    let mut t = 0.0;
    for w in grid.windows(2) {
        let (a, b) = (w[0], w[1]);
        for j in 0..sub {
            let s1 = if j + 1 == sub {
                b
            } else {
                a + (b - a) * (j + 1) as f64 / sub as f64
            };
            let bound = n * chain.arrival.max_rate_on(t, s1);
            loop {
                // The gate ends a stretch: the rates change there.
                let gated = gated_at(t);
                let stop = match chain.gate {
                    Some(g) if gated && g < s1 => g,
                    _ => s1,
                };
                let up = rates(
                    chain,
                    &x,
                    &ws,
                    &y,
                    &mut d,
                    &mut act,
                    gated.then_some((&vs[..], &mut down[..])),
                );
                let (mut aborts, mut done, mut leave, mut xs, mut ys) = (0.0, 0.0, 0.0, 0.0, 0.0);
                for (i, cl) in chain.classes.iter().enumerate() {
                    aborts += cl.theta * x[i];
                    done += d[i];
                    leave += cl.gamma * y[i];
                    xs += x[i];
                    ys += y[i];
                }
                // Progress events: each leecher leaves its stage at k ρ, so k d_i in class i.
                let steps = if ks > 1 { kf * done } else { done };
                let base = aborts + steps + leave;
                let other = if starting {
                    base + chain.start_rate * ws.iter().sum::<f64>()
                } else {
                    base
                };
                let total = other + bound;
                let dt = if total > 0.0 {
                    exp1(&mut rng) / total
                } else {
                    f64::INFINITY
                };
                let step = if t + dt >= stop { stop - t } else { dt };
                lsec += xs * step;
                ssec += ys * step;
                let peer = chain.peer_flow(up, done);
                pfiles += peer * step;
                sfiles += (done - peer) * step;
                if t + dt >= stop {
                    t = stop;
                    if stop < s1 {
                        continue;
                    }
                    break;
                }
                t += dt;
                let u = uniform(&mut rng) * total;
                if u < aborts {
                    let rates = chain.classes.iter().zip(&x).map(|(cl, xi)| cl.theta * xi);
                    let i = pick(rates, u, 0.0);
                    if (starting && ws[i] > 0.0) || ks > 1 {
                        // Within class i's share of the abort rate, u is uniform: the first
                        // W_i/X_i of it is a starting leecher, the rest by stage.
                        let before: f64 = (0..i).map(|j| chain.classes[j].theta * x[j]).sum();
                        let frac = (u - before) / (chain.classes[i].theta * x[i]);
                        if frac * x[i] < ws[i] {
                            ws[i] -= 1.0;
                        } else if ks > 1 {
                            let a = x[i] - ws[i];
                            let f = ((frac * x[i] - ws[i]) / a).clamp(0.0, 1.0);
                            // The leecher leaves: take it out of its stage without a move.
                            let mut acc = 0.0;
                            for j in 0..ks {
                                acc += vs[i * ks + j];
                                if f * a < acc || j + 1 == ks {
                                    vs[i * ks + j] -= 1.0;
                                    break;
                                }
                            }
                        }
                    }
                    x[i] -= 1.0;
                    ev.aborts += 1;
                } else if ks > 1 && u < aborts + steps {
                    let i = pick(d.iter().map(|di| kf * di), u, aborts);
                    let before: f64 = aborts + (0..i).map(|j| kf * d[j]).sum::<f64>();
                    let frac = ((u - before) / (kf * d[i])).clamp(0.0, 1.0);
                    // Gated: a uniformly chosen leecher of the stages before the last.
                    let (active, upto) = if gated {
                        (down[i], ks - 1)
                    } else {
                        (x[i] - ws[i], ks)
                    };
                    if take_stage(&mut vs, i, frac, active, upto) {
                        // The last stage moved on: a completion (take_stage removed it).
                        x[i] -= 1.0;
                        if chain.classes[i].seeds_stay {
                            y[i] += 1.0;
                        }
                        ev.completions += 1;
                    }
                } else if u < aborts + done {
                    let i = pick(d.iter().copied(), u, aborts);
                    x[i] -= 1.0;
                    if chain.classes[i].seeds_stay {
                        y[i] += 1.0;
                    }
                    ev.completions += 1;
                } else if u < base {
                    let rates = chain.classes.iter().zip(&y).map(|(cl, yi)| cl.gamma * yi);
                    let i = pick(rates, u, aborts + steps);
                    y[i] -= 1.0;
                    ev.seed_departures += 1;
                } else if u < other {
                    // A starting leecher gets its first piece.
                    let i = pick(ws.iter().map(|wi| chain.start_rate * wi), u, base);
                    ws[i] -= 1.0;
                    if ks > 1 {
                        vs[i * ks] += 1.0;
                    }
                } else {
                    let v = u - other;
                    let rate = if constant {
                        bound
                    } else {
                        n * chain.arrival.rate_at(t)
                    };
                    if v < rate {
                        // v / rate is uniform on [0, 1) given acceptance: the class by share.
                        let shares = chain.classes.iter().map(|cl| cl.share);
                        let i = pick(shares, v / rate, 0.0);
                        x[i] += 1.0;
                        if starting {
                            ws[i] += 1.0;
                        } else if ks > 1 {
                            vs[i * ks] += 1.0;
                        }
                        ev.arrivals += 1;
                    } else {
                        ev.rejected_candidates += 1;
                    }
                }
            }
        }
        let gated = gated_at(b).then_some((&vs[..], &mut down[..]));
        record(&mut rows, &x, &ws, &y, &mut d, &mut act, gated, &ev);
    }
    Replicate {
        seed,
        rows,
        width,
        events: ev,
        leecher_seconds: lsec,
        seed_seconds: ssec,
        server_files: sfiles * chain.bytes,
        peer_files: pfiles * chain.bytes,
    }
}

/// The index i whose cumulative rate `start + Σ_{j ≤ i} r_j` first exceeds `u` (the sums are
/// formed in the same order as the totals they split); the last index with a positive rate
/// when rounding leaves `u` beyond the sum.
fn pick(rates: impl Iterator<Item = f64>, u: f64, start: f64) -> usize {
    let mut acc = start;
    let mut last = 0;
    for (i, r) in rates.enumerate() {
        if r > 0.0 {
            acc += r;
            last = i;
            if u < acc {
                return i;
            }
        }
    }
    last
}

/// Replicates run at once before their grid values are folded into the running means; bounds
/// the memory of a simulation to this many recorded paths whatever the replicate count.
pub const CHUNK: usize = 64;

/// What is kept of one replicate after its path is folded into the means (O(1) per replicate).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReplicateTotals {
    /// Seed the replicate ran with.
    pub seed: u64,
    /// Event counts.
    pub events: EventCounts,
    /// ∫ Σ X_k dt (leecher-seconds).
    pub leecher_seconds: f64,
    /// ∫ Σ Y_k dt (seed-seconds).
    pub seed_seconds: f64,
    /// ∫ server flow dt (files).
    pub server_files: f64,
    /// ∫ peer flow dt (files).
    pub peer_files: f64,
    /// Leechers (all classes) at the end of the horizon.
    pub leechers_at_end: f64,
}

impl ReplicateTotals {
    /// Mean time in the swarm of a downloader over the horizon, by Little's law:
    /// leecher-seconds / arrivals (NaN without arrivals).
    pub fn download_time(&self) -> f64 {
        if self.events.arrivals == 0 {
            f64::NAN
        } else {
            self.leecher_seconds / self.events.arrivals as f64
        }
    }
}

/// Running mean and sum of squared deviations (Welford, "Note on a method for calculating
/// corrected sums of squares and products", Technometrics 4 (1962) 419–420), one per value.
#[derive(Debug, Clone)]
struct Welford {
    n: f64,
    mean: Vec<f64>,
    m2: Vec<f64>,
}

impl Welford {
    fn new(len: usize) -> Self {
        Self {
            n: 0.0,
            mean: vec![0.0; len],
            m2: vec![0.0; len],
        }
    }
    fn push(&mut self, values: &[f64]) {
        self.n += 1.0;
        for ((m, q), &v) in self.mean.iter_mut().zip(&mut self.m2).zip(values) {
            let delta = v - *m;
            *m += delta / self.n;
            *q += delta * (v - *m);
        }
    }
    /// Sample standard deviations (n − 1; 0 with one value).
    fn sd(&self) -> Vec<f64> {
        self.m2
            .iter()
            .map(|q| {
                if self.n > 1.0 {
                    (q.max(0.0) / (self.n - 1.0)).sqrt()
                } else {
                    0.0
                }
            })
            .collect()
    }
}

/// A simulation: means and spreads on the grid, and per-replicate totals in replicate order.
#[derive(Debug, Clone)]
pub struct Simulation {
    /// The settings it ran with.
    pub settings: SimSettings,
    /// Output times, seconds.
    pub grid: Vec<Seconds>,
    /// Class names, in the swarm's order.
    pub class_names: Vec<String>,
    /// The swarm's λ(t) (fluid units), for the `arrival_rate` column.
    pub arrival: ArrivalProfile,
    /// Content size in bits.
    pub file_bits: f64,
    /// Per grid time, the mean over replicates of each column after `t` (see
    /// [`Simulation::columns`]).
    pub mean: Vec<Vec<f64>>,
    /// Per grid time, the sample standard deviation over replicates of the same values.
    pub sd: Vec<Vec<f64>>,
    /// Totals of each replicate, replicate r at index r.
    pub totals: Vec<ReplicateTotals>,
    /// Wall-clock time of the replicates, seconds (not part of any deterministic output).
    pub wall_seconds: f64,
    /// Worker threads used.
    pub threads: usize,
}

/// One replicate's values at grid point `i`, divided by N, in the order of
/// [`Simulation::columns`] after `t` (rates in bit/s, like `run`).
fn values_at(
    rep: &Replicate,
    i: usize,
    k: usize,
    n: f64,
    bits: f64,
    lambda: f64,
    out: &mut Vec<f64>,
) {
    let r = rep.row(i);
    let (x, rest) = r.split_at(k);
    let (y, rest) = rest.split_at(k);
    let (d, tail) = rest.split_at(k);
    out.clear();
    out.extend_from_slice(&[
        x.iter().sum::<f64>() / n,
        y.iter().sum::<f64>() / n,
        tail[0] * bits / n,
        tail[1] * bits / n,
        lambda,
        tail[2] / n,
        tail[3] / n,
    ]);
    out.extend(x.iter().map(|a| a / n));
    out.extend(y.iter().map(|a| a / n));
    out.extend(d.iter().map(|a| a * bits / n));
}

/// The expected number of events of a simulation: 3 per expected arrival (an arrival, its
/// completion or abort, its seed's departure), over all replicates.
pub fn expected_events(swarm: &Swarm, horizon: Seconds, settings: &SimSettings) -> f64 {
    // With a start-up delay each arrival also has a start event.
    let per_arrival = if swarm.starting() { 4.0 } else { 3.0 };
    per_arrival * settings.scale * swarm.arrival.cumulative(horizon) * settings.replicates as f64
}

/// Check that the expected number of events, 3 per expected arrival (an arrival, its
/// completion or abort, its seed's departure) over all replicates, is within [`MAX_EVENTS`].
///
/// # Errors
///
/// [`SimError::TooManyEvents`].
pub fn check_events(
    swarm: &Swarm,
    horizon: Seconds,
    settings: &SimSettings,
) -> Result<(), SimError> {
    let expected = expected_events(swarm, horizon, settings);
    if expected > MAX_EVENTS {
        return Err(SimError::TooManyEvents {
            expected,
            limit: MAX_EVENTS,
        });
    }
    Ok(())
}

/// Folds replicates into the means, spreads and totals of a [`Simulation`], one replicate at
/// a time in replicate order (the only order used anywhere, so an unsharded run and a merge
/// of shards do the same floating-point operations).
#[derive(Debug, Clone)]
pub struct Accumulator {
    acc: Vec<Welford>,
    totals: Vec<ReplicateTotals>,
    lambdas: Vec<f64>,
    buf: Vec<f64>,
    k: usize,
    scale: f64,
    file_bits: f64,
}

impl Accumulator {
    /// An empty fold for `swarm` at scale `scale` on `grid`.
    pub fn new(swarm: &Swarm, grid: &[f64], scale: f64) -> Self {
        let k = swarm.classes.len();
        let width = 7 + 3 * k;
        Self {
            acc: (0..grid.len()).map(|_| Welford::new(width)).collect(),
            totals: Vec::new(),
            lambdas: grid.iter().map(|&t| swarm.arrival.rate_at(t)).collect(),
            buf: Vec::with_capacity(width),
            k,
            scale,
            file_bits: swarm.file_bits,
        }
    }

    /// Replicates folded so far.
    pub fn len(&self) -> usize {
        self.totals.len()
    }

    /// Whether no replicate has been folded.
    pub fn is_empty(&self) -> bool {
        self.totals.is_empty()
    }

    /// Fold the next replicate (its rows must be on this fold's grid, with K classes).
    pub fn push(&mut self, rep: &Replicate) {
        for (i, a) in self.acc.iter_mut().enumerate() {
            values_at(
                rep,
                i,
                self.k,
                self.scale,
                self.file_bits,
                self.lambdas[i],
                &mut self.buf,
            );
            a.push(&self.buf);
        }
        let last = self.acc.len() - 1;
        self.totals.push(ReplicateTotals {
            seed: rep.seed,
            events: rep.events,
            leecher_seconds: rep.leecher_seconds,
            seed_seconds: rep.seed_seconds,
            server_files: rep.server_files,
            peer_files: rep.peer_files,
            leechers_at_end: rep.row(last)[..self.k].iter().sum(),
        });
    }

    /// The simulation these replicates make (`wall_seconds` and `threads` are the caller's
    /// timing, kept out of every deterministic output).
    pub fn finish(
        self,
        swarm: &Swarm,
        grid: &[f64],
        settings: &SimSettings,
        wall_seconds: f64,
        threads: usize,
    ) -> Simulation {
        Simulation {
            settings: *settings,
            grid: grid.to_vec(),
            class_names: swarm.classes.iter().map(|c| c.name.clone()).collect(),
            arrival: swarm.arrival.clone(),
            file_bits: swarm.file_bits,
            sd: self.acc.iter().map(Welford::sd).collect(),
            mean: self.acc.into_iter().map(|a| a.mean).collect(),
            totals: self.totals,
            wall_seconds,
            threads,
        }
    }
}

/// Simulate `settings.replicates` replicates of `swarm` at scale `settings.scale` on `grid`,
/// in parallel on the current rayon pool, [`CHUNK`] at a time; replicate r is seeded with
/// [`replicate_seed`]`(settings.seed, r)` and folded into the means in replicate order
/// ([`Accumulator`]), so the output does not depend on the number of threads, and memory does
/// not grow with the number of replicates beyond one [`ReplicateTotals`] each.
///
/// # Errors
///
/// [`SimError::Grid`] for an unusable grid; [`SimError::TooManyEvents`] when the expected
/// number of events exceeds [`MAX_EVENTS`].
pub fn simulate(
    swarm: &Swarm,
    grid: &[f64],
    settings: &SimSettings,
) -> Result<Simulation, SimError> {
    check_grid(grid)?;
    check_events(swarm, grid[grid.len() - 1], settings)?;
    let chain = Chain::new(swarm, settings.scale);
    let mut acc = Accumulator::new(swarm, grid, settings.scale);
    let start = std::time::Instant::now();
    let reps = settings.replicates as u64;
    let bar = crate::progress::progress_bar(settings.progress, reps, 0, "replicates");
    let mut first = 0;
    while first < reps {
        let last = (first + CHUNK as u64).min(reps);
        let chunk = (first..last)
            .into_par_iter()
            .map(|r| {
                let rep = run_replicate(&chain, grid, replicate_seed(settings.seed, r));
                bar.inc(1);
                rep
            })
            .collect::<Result<Vec<_>, _>>()?;
        for rep in &chunk {
            acc.push(rep);
        }
        first = last;
    }
    bar.finish_and_clear();
    Ok(acc.finish(
        swarm,
        grid,
        settings,
        start.elapsed().as_secs_f64(),
        rayon::current_num_threads(),
    ))
}

/// Mean and sample standard deviation (n − 1; 0 for one value), summed in the given order.
fn mean_sd(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let n = values.clone().count();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.clone().sum::<f64>() / n as f64;
    if n == 1 {
        return (mean, 0.0);
    }
    let ss: f64 = values.map(|v| (v - mean) * (v - mean)).sum();
    (mean, (ss / (n - 1) as f64).sqrt())
}

pub use crate::run::validity::Stat;

impl Stat {
    fn of(values: impl Iterator<Item = f64> + Clone) -> Self {
        let (mean, sd) = mean_sd(values);
        Self { mean, sd }
    }
}

/// Event totals in the summary.
#[derive(Debug, Clone, Serialize)]
pub struct EventSummary {
    /// State-changing events, all replicates.
    pub total: u64,
    /// Mean per replicate.
    pub per_replicate: f64,
    /// By kind, all replicates.
    pub by_kind: EventCounts,
    /// Events per simulated second, per replicate (deterministic).
    pub per_simulated_second: f64,
}

/// Wall-clock figures: `timing.json` beside the results, the only output that varies between
/// runs (kept out of `summary.json` and `validation.csv`/`.json`, so that those are a function
/// of the inputs alone and a merge of shards equals an unsharded run byte for byte).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timing {
    /// Seconds spent in the replicates (a merge: the sum over its shards).
    pub wall_s: f64,
    /// Events (incl. rejected candidates) per wall-clock second, all threads.
    pub events_per_s: f64,
    /// Worker threads (a merge: the sum over its shards).
    pub threads: usize,
    /// `validate`: seconds per scale (not known after a merge).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scales: Vec<ScaleTiming>,
    /// A merge: each shard's own figures.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ShardTiming>,
}

/// One scale's seconds in [`Timing`].
#[derive(Debug, Clone, Serialize)]
pub struct ScaleTiming {
    /// Scale N.
    pub scale: f64,
    /// Seconds.
    pub wall_s: f64,
}

/// One shard's figures in [`Timing`] of a merge.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct ShardTiming {
    /// K (0-based).
    pub shard: u64,
    /// Seconds the shard spent in its replicates (summed over its runs when resumed).
    pub wall_s: f64,
    /// Worker threads of its last run.
    pub threads: usize,
}

/// `summary.json` of `simulate` (documented in `models/stochastic.md`). Figures per N are
/// the chain's totals divided by the scale, comparable with `run`'s.
#[derive(Debug, Clone, Serialize)]
pub struct SimSummary {
    /// Scenario name.
    pub scenario: String,
    /// Scenario file.
    pub source: String,
    /// peerfluid version.
    pub version: &'static str,
    /// Model.
    pub model: &'static str,
    /// Algorithm.
    pub method: &'static str,
    /// Arrival profile kind (thinned unless constant).
    pub arrival_profile: &'static str,
    /// Scale N.
    pub scale: f64,
    /// Replicates.
    pub replicates: usize,
    /// Base seed.
    pub seed: u64,
    /// The derived seed of each replicate, in order.
    pub replicate_seeds: Vec<u64>,
    /// How replicate seeds are derived.
    pub seed_derivation: &'static str,
    /// Simulated time, seconds (the fluid run's horizon).
    pub horizon_s: f64,
    /// Output intervals.
    pub points: usize,
    /// Event counts.
    pub events: EventSummary,
    /// Mean time in the swarm of a downloader over the horizon (Little: leecher-seconds /
    /// arrivals), seconds.
    pub download_time_s: Stat,
    /// The same ratio from the fluid run (leecher-seconds / arrivals), seconds.
    pub fluid_download_time_s: Option<f64>,
    /// Arrivals / N.
    pub arrived: Stat,
    /// Completions / N.
    pub completed: Stat,
    /// Aborts / N.
    pub aborted: Stat,
    /// Leechers / N at the end.
    pub leechers_at_end: Stat,
    /// Bytes the server sent / N.
    pub server_bytes: Stat,
    /// Bytes peers sent / N.
    pub peer_bytes: Stat,
    /// Wall-clock figures: written to `timing.json`, not to `summary.json`.
    #[serde(skip)]
    pub timing: Timing,
}

impl Simulation {
    /// Scale N.
    fn n(&self) -> f64 {
        self.settings.scale
    }

    /// Column names: those of `run`'s `timeseries.csv`, then `<col>.sd` for each but `t`.
    pub fn columns(&self) -> Vec<String> {
        let mut cols = crate::run::timeseries_columns(self.class_names.iter().map(String::as_str));
        let sd: Vec<String> = cols[1..].iter().map(|c| format!("{c}.sd")).collect();
        cols.extend(sd);
        cols
    }

    /// The time series: per grid time, `t`, the means over replicates, then their sample
    /// standard deviations.
    pub fn timeseries(&self) -> (Vec<String>, Vec<Vec<f64>>) {
        let rows = self
            .grid
            .iter()
            .zip(self.mean.iter().zip(&self.sd))
            .map(|(&t, (m, sd))| {
                let mut row = Vec::with_capacity(1 + m.len() + sd.len());
                row.push(t);
                row.extend_from_slice(m);
                row.extend_from_slice(sd);
                row
            })
            .collect();
        (self.columns(), rows)
    }

    /// Events of all replicates.
    pub fn events(&self) -> EventCounts {
        let mut e = EventCounts::default();
        for r in &self.totals {
            e.add(&r.events);
        }
        e
    }

    /// Mean download time per replicate (Little over the horizon).
    pub fn download_time(&self) -> Stat {
        Stat::of(self.totals.iter().map(ReplicateTotals::download_time))
    }

    /// Server bytes / N per replicate.
    pub fn server_bytes(&self) -> Stat {
        let f = self.file_bits / 8.0 / self.n();
        Stat::of(self.totals.iter().map(move |r| r.server_files * f))
    }

    /// The summary; `name`, `source` and the fluid download time come from the caller.
    pub fn summary(
        &self,
        name: &str,
        source: &str,
        fluid_download_time: Option<f64>,
    ) -> SimSummary {
        let n = self.n();
        let ev = self.events();
        let horizon = self.grid[self.grid.len() - 1];
        let reps = self.totals.len() as f64;
        let last = self.grid.len() - 1;
        let bytes = self.file_bits / 8.0 / n;
        let per = |f: &dyn Fn(&ReplicateTotals) -> f64| Stat::of(self.totals.iter().map(f));
        SimSummary {
            scenario: name.to_string(),
            source: source.to_string(),
            version: env!("CARGO_PKG_VERSION"),
            model: "qiu-srikant-ctmc",
            method: "gillespie-direct",
            arrival_profile: self.arrival.kind(),
            scale: n,
            replicates: self.totals.len(),
            seed: self.settings.seed,
            replicate_seeds: self.totals.iter().map(|r| r.seed).collect(),
            seed_derivation: "replicate r: SplitMix64 of (SplitMix64 of (seed, 0x53544f43), r), fed to Pcg64Mcg::seed_from_u64",
            horizon_s: horizon,
            points: last,
            events: EventSummary {
                total: ev.total(),
                per_replicate: ev.total() as f64 / reps,
                by_kind: ev,
                per_simulated_second: if horizon > 0.0 {
                    ev.total() as f64 / reps / horizon
                } else {
                    0.0
                },
            },
            download_time_s: self.download_time(),
            fluid_download_time_s: fluid_download_time,
            arrived: per(&|r| r.events.arrivals as f64 / n),
            completed: per(&|r| r.events.completions as f64 / n),
            aborted: per(&|r| r.events.aborts as f64 / n),
            leechers_at_end: per(&|r| r.leechers_at_end / n),
            server_bytes: per(&|r| r.server_files * bytes),
            peer_bytes: per(&|r| r.peer_files * bytes),
            timing: Timing {
                wall_s: self.wall_seconds,
                events_per_s: (ev.total() + ev.rejected_candidates) as f64
                    / self.wall_seconds.max(1e-12),
                threads: self.threads,
                ..Timing::default()
            },
        }
    }
}

/// What the fluid run says, for the comparison in [`validate`].
#[derive(Debug, Clone)]
pub struct FluidReference {
    /// Output times (the simulation's grid).
    pub t: Vec<f64>,
    /// Leechers (all classes) at each time.
    pub leechers: Vec<f64>,
    /// Seeds (all classes) at each time.
    pub seeds: Vec<f64>,
    /// Leecher-seconds / arrivals over the horizon, seconds (None without arrivals).
    pub download_time: Option<f64>,
    /// Bytes the server sent over the horizon.
    pub server_bytes: f64,
}

impl FluidReference {
    /// Read the reference from a fluid [`RunRecord`] (columns `t`, `leechers`, `seeds`;
    /// summary totals).
    ///
    /// # Errors
    ///
    /// [`SimError::MissingColumn`] when the record lacks one of the columns.
    pub fn from_record(rec: &RunRecord) -> Result<Self, SimError> {
        let col = |name: &str| -> Result<Vec<f64>, SimError> {
            let j = rec.columns.iter().position(|c| c == name).ok_or_else(|| {
                SimError::MissingColumn {
                    column: name.to_string(),
                }
            })?;
            Ok(rec.rows.iter().map(|r| r[j]).collect())
        };
        let s = &rec.summary;
        let lsec: f64 = s.classes.iter().map(|c| c.leecher_hours * 3600.0).sum();
        Ok(Self {
            t: col("t")?,
            leechers: col("leechers")?,
            seeds: col("seeds")?,
            download_time: (s.downloads.arrived > 0.0).then(|| lsec / s.downloads.arrived),
            server_bytes: s.bytes.server,
        })
    }
}

/// One scale of a validation.
#[derive(Debug, Clone, Serialize)]
pub struct ValidationRow {
    /// Scale N.
    pub scale: f64,
    /// Replicates.
    pub replicates: usize,
    /// State-changing events, all replicates.
    pub events: u64,
    /// Wall-clock seconds (console and `timing.json` only: not in `validation.csv`/`.json`).
    #[serde(skip)]
    pub wall_s: f64,
    /// Populations: RMS over the grid of (replicate mean − fluid), relative to the fluid's
    /// peak; the larger of leechers and seeds.
    pub population_error: f64,
    /// Populations: RMS over the grid of the replicates' standard deviation, relative to the
    /// fluid's peak; the larger of leechers and seeds.
    pub population_spread: f64,
    /// |mean download time − fluid| / fluid (Little over the horizon).
    pub download_time_error: Option<f64>,
    /// Standard deviation of the download time over replicates / fluid.
    pub download_time_spread: Option<f64>,
    /// |mean server bytes − fluid| / fluid (the provider's cost driver).
    pub server_bytes_error: Option<f64>,
    /// Standard deviation of server bytes over replicates / fluid.
    pub server_bytes_spread: Option<f64>,
}

/// A validation: one row per scale and the fitted log-log slopes against N.
#[derive(Debug, Clone, Serialize)]
pub struct Validation {
    /// Rows in the order of the scales given.
    pub rows: Vec<ValidationRow>,
    /// Least-squares slope of ln(population_error) on ln N (Kurtz: about −1/2).
    pub slope_population_error: Option<f64>,
    /// Slope of ln(population_spread) on ln N (about −1/2).
    pub slope_population_spread: Option<f64>,
    /// Slope of ln(download_time_error) on ln N.
    pub slope_download_time_error: Option<f64>,
    /// Slope of ln(server_bytes_error) on ln N.
    pub slope_server_bytes_error: Option<f64>,
}

impl Validation {
    /// The rows (in the order of the scales) and their fitted slopes.
    pub fn from_rows(rows: Vec<ValidationRow>) -> Self {
        let slope = |f: &dyn Fn(&ValidationRow) -> Option<f64>| {
            let pairs: Vec<(f64, f64)> = rows
                .iter()
                .filter_map(|r| f(r).map(|v| (r.scale, v)))
                .collect();
            log_log_slope(&pairs)
        };
        Self {
            slope_population_error: slope(&|r| Some(r.population_error)),
            slope_population_spread: slope(&|r| Some(r.population_spread)),
            slope_download_time_error: slope(&|r| r.download_time_error),
            slope_server_bytes_error: slope(&|r| r.server_bytes_error),
            rows,
        }
    }

    /// `timing.json` of an unsharded validation: the seconds per scale and in all.
    pub fn timing(&self, threads: usize) -> Timing {
        let wall: f64 = self.rows.iter().map(|r| r.wall_s).sum();
        let events: u64 = self.rows.iter().map(|r| r.events).sum();
        Timing {
            wall_s: wall,
            events_per_s: events as f64 / wall.max(1e-12),
            threads,
            scales: self
                .rows
                .iter()
                .map(|r| ScaleTiming {
                    scale: r.scale,
                    wall_s: r.wall_s,
                })
                .collect(),
            shards: Vec::new(),
        }
    }
}

/// Least-squares slope of ln y on ln x over the pairs with x, y > 0 (None with < 2 pairs or
/// a single x).
pub fn log_log_slope(pairs: &[(f64, f64)]) -> Option<f64> {
    let pts: Vec<(f64, f64)> = pairs
        .iter()
        .filter(|(x, y)| *x > 0.0 && *y > 0.0 && x.is_finite() && y.is_finite())
        .map(|(x, y)| (x.ln(), y.ln()))
        .collect();
    if pts.len() < 2 {
        return None;
    }
    let n = pts.len() as f64;
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// RMS over the grid of `f(i)`, relative to `peak`.
fn rms_relative(len: usize, peak: f64, f: impl Fn(usize) -> f64) -> f64 {
    let ms = (0..len).map(|i| f(i) * f(i)).sum::<f64>() / len as f64;
    ms.sqrt() / peak
}

/// Compare a simulation with the fluid reference on the same grid.
///
/// # Errors
///
/// [`SimError::Grid`] when the grids differ in length.
pub fn compare(sim: &Simulation, fluid: &FluidReference) -> Result<ValidationRow, SimError> {
    let len = sim.grid.len();
    if fluid.t.len() != len {
        return Err(SimError::Grid {
            reason: format!(
                "of the fluid run has {} times, the simulation {len}",
                fluid.t.len()
            ),
        });
    }
    let (_, rows) = sim.timeseries();
    let m = (rows[0].len() - 1) / 2;
    // columns after t: leechers = 1, seeds = 2; their sd at 1 + m, 2 + m.
    let mut err: f64 = 0.0;
    let mut spread: f64 = 0.0;
    for (j, series) in [(1, &fluid.leechers), (2, &fluid.seeds)] {
        let peak = series.iter().fold(0.0_f64, |a, &b| a.max(b.abs()));
        if peak > 0.0 {
            err = err.max(rms_relative(len, peak, |i| rows[i][j] - series[i]));
            spread = spread.max(rms_relative(len, peak, |i| rows[i][j + m]));
        }
    }
    let rel = |stat: Stat, reference: Option<f64>| match reference {
        // A replicate with no arrival has no download time (NaN): then there is no error.
        Some(r) if r > 0.0 && r.is_finite() && stat.mean.is_finite() => {
            (Some((stat.mean - r).abs() / r), Some(stat.sd / r))
        }
        _ => (None, None),
    };
    let (dt_e, dt_s) = rel(sim.download_time(), fluid.download_time);
    let (sb_e, sb_s) = rel(sim.server_bytes(), Some(fluid.server_bytes));
    let ev = sim.events();
    Ok(ValidationRow {
        scale: sim.settings.scale,
        replicates: sim.totals.len(),
        events: ev.total(),
        wall_s: sim.wall_seconds,
        population_error: err,
        population_spread: spread,
        download_time_error: dt_e,
        download_time_spread: dt_s,
        server_bytes_error: sb_e,
        server_bytes_spread: sb_s,
    })
}

/// Simulate `swarm` at every scale in `scales` (R replicates each, base seed `seed` for
/// every scale) on the fluid reference's grid and compare; `each` is called after every scale
/// (for progress), with the row; `progress` shows a bar over each scale's replicates.
///
/// # Errors
///
/// As [`SimSettings::new`], [`simulate`] and [`compare`].
pub fn validate(
    swarm: &Swarm,
    fluid: &FluidReference,
    scales: &[f64],
    replicates: usize,
    seed: u64,
    progress: bool,
    mut each: impl FnMut(&ValidationRow),
) -> Result<Validation, SimError> {
    // Every scale is checked before the first runs, so a bad one costs no computing time.
    let horizon = fluid.t.last().copied().unwrap_or(0.0);
    let settings: Vec<SimSettings> = scales
        .iter()
        .map(|&n| {
            let mut s = SimSettings::new(n, replicates, seed)?;
            s.progress = progress;
            check_events(swarm, horizon, &s)?;
            Ok(s)
        })
        .collect::<Result<_, SimError>>()?;
    let mut rows = Vec::with_capacity(scales.len());
    for settings in &settings {
        let sim = simulate(swarm, &fluid.t, settings)?;
        let row = compare(&sim, fluid)?;
        each(&row);
        rows.push(row);
    }
    Ok(Validation::from_rows(rows))
}

/// Most events (expected, all replicates) a quick [`check_stochastic`] may take: about 30 s
/// on one core of the release build, a minute or two in a debug build.
pub const MAX_CHECK_EVENTS: f64 = 1e9;

/// Default replicates of [`check_stochastic`]: the standard error of a mean is then 7 % of
/// the replicates' spread.
pub const DEFAULT_REPLICATES: usize = 200;

/// Simulate the scenario's swarm as the exact stochastic twin at its real scale (N = 1: whole
/// peers), `replicates` times from base seed `seed`, on the fluid run's grid and horizon, with
/// the same split into sharers and non-sharers as the fluid run (`rec.plan.participation`, as
/// in [`crate::run::fluid_for_simulation`]); compare the server's bytes, its share and the
/// download time with the fluid run's.
///
/// # Errors
///
/// [`SimError::NotAFile`] for live, VoD and wireless scenarios; [`SimError::OutOfRange`] for
/// `replicates` outside 1..=100000; [`SimError::CheckTooLarge`] when the simulation would take
/// more than [`MAX_CHECK_EVENTS`] events; the errors of [`simulate`].
pub fn check_stochastic(
    s: &Scenario,
    rec: &RunRecord,
    replicates: usize,
    seed: u64,
) -> Result<StochasticCheck, SimError> {
    if !matches!(s.content.kind, ContentKind::File) {
        return Err(SimError::NotAFile {
            scenario: s.name.clone(),
            kind: s.content.kind.label(),
        });
    }
    let settings = SimSettings::new(1.0, replicates, seed)?;
    let fluid = FluidReference::from_record(rec)?;
    let swarm = swarm_of(&s.with_participation(&rec.plan.participation));
    let horizon = fluid.t.last().copied().unwrap_or(0.0);
    let expected = expected_events(&swarm, horizon, &settings);
    if expected > MAX_CHECK_EVENTS {
        return Err(SimError::CheckTooLarge {
            scenario: s.name.clone(),
            expected,
            replicates,
            limit: MAX_CHECK_EVENTS,
        });
    }
    let sim = simulate(&swarm, &fluid.t, &settings)?;
    let bytes_per_file = swarm.file_bits / 8.0;
    let share = |r: &ReplicateTotals| {
        let total = r.server_files + r.peer_files;
        if total > 0.0 {
            r.server_files / total
        } else {
            f64::NAN
        }
    };
    let b = &rec.summary.bytes;
    let fluid_total = b.server + b.peers;
    let totals = &sim.totals;
    Ok(StochasticCheck {
        scale: 1.0,
        replicates,
        seed,
        horizon_s: horizon,
        events: sim.events().total(),
        replicates_without_downloads: totals
            .iter()
            .filter(|r| r.events.arrivals == 0 || r.server_files + r.peer_files <= 0.0)
            .count(),
        server_bytes: FluidVsStochastic::new(
            Some(b.server),
            totals.iter().map(|r| r.server_files * bytes_per_file),
        ),
        server_share: FluidVsStochastic::new(
            (fluid_total > 0.0).then(|| b.server / fluid_total),
            totals.iter().map(share),
        ),
        download_time_s: FluidVsStochastic::new(
            fluid.download_time,
            totals.iter().map(ReplicateTotals::download_time),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::swarm::SwarmClass;

    /// Only arrivals and aborts: nobody uploads and there is no server, so d = 0 (the
    /// water-filling gives level 0) and the chain is the M/M/∞ queue.
    fn immigration_death(lambda: f64, theta: f64) -> Swarm {
        Swarm::new(
            vec![SwarmClass {
                name: "all".into(),
                share: 1.0,
                c: 1.0,
                mu: 0.0,
                theta,
                gamma: None,
            }],
            1.0,
            0.0,
            ArrivalProfile::Constant { rate: lambda },
            8.0,
        )
    }

    fn grid(horizon: f64, points: usize) -> Vec<f64> {
        (0..=points)
            .map(|i| horizon * i as f64 / points as f64)
            .collect()
    }

    /// M/M/∞ (immigration-death) stationary law: Poisson(λ/θ), so mean = variance = λ/θ = 10
    /// (e.g. Karlin & Taylor, A First Course in Stochastic Processes, §4.6). Samples every
    /// 50 s = 5 relaxation times 1/θ apart (correlation e^-5 ≈ 0.007, ignored), after a burn-in
    /// of 500 s. Tolerance: 5 standard errors, SE(mean) = sqrt(λ/θ / n) and
    /// SE(variance) = sqrt((μ4 − σ⁴)/n) with μ4 = m(1 + 3m) for Poisson(m).
    #[test]
    fn immigration_death_is_poisson() {
        let (lambda, theta) = (1.0, 0.1);
        let m = lambda / theta;
        let g = grid(20_000.0 * 50.0, 20_000);
        let chain = Chain::new(&immigration_death(lambda, theta), 1.0);
        let rep = run_replicate(&chain, &g, 7).expect("valid grid");
        let xs: Vec<f64> = (10..g.len()).map(|i| rep.row(i)[0]).collect();
        let n = xs.len() as f64;
        let (mean, sd) = mean_sd(xs.iter().copied());
        let var = sd * sd;
        let se_mean = (m / n).sqrt();
        let se_var = ((m * (1.0 + 3.0 * m) - m * m) / n).sqrt();
        eprintln!("n = {n}: mean {mean} (SE {se_mean}), variance {var} (SE {se_var})");
        assert!(
            (mean - m).abs() < 5.0 * se_mean,
            "mean {mean} vs {m} (SE {se_mean})"
        );
        assert!(
            (var - m).abs() < 5.0 * se_var,
            "variance {var} vs {m} (SE {se_var})"
        );
        assert_eq!(rep.events.completions, 0);
        // Time average over the whole run (Little: E X = λ/θ), same 5-SE tolerance on the
        // sampled SE (generous: the time average is less noisy than n samples).
        let horizon = g[g.len() - 1];
        let avg = rep.leecher_seconds / horizon;
        assert!((avg - m).abs() < 5.0 * se_mean, "time average {avg} vs {m}");
    }

    /// The same law with a class split in two (general path): each class is Poisson with mean
    /// share·λ/θ; checked on the total (5 SE as above).
    #[test]
    fn general_path_immigration_death() {
        let mut sw = immigration_death(1.0, 0.1);
        let mut b = sw.classes[0].clone();
        b.name = "b".into();
        b.share = 0.7;
        sw.classes[0].share = 0.3;
        sw.classes.push(b);
        let sw = Swarm::new(sw.classes, 1.0, 0.0, sw.arrival, 8.0);
        let g = grid(5_000.0 * 50.0, 5_000);
        let chain = Chain::new(&sw, 1.0);
        let rep = run_replicate(&chain, &g, 11).expect("valid grid");
        let xs: Vec<f64> = (10..g.len())
            .map(|i| rep.row(i)[0] + rep.row(i)[1])
            .collect();
        let (mean, _) = mean_sd(xs.iter().copied());
        let se = (10.0 / xs.len() as f64).sqrt();
        assert!((mean - 10.0).abs() < 5.0 * se, "mean {mean}");
        let share_a = rep
            .rows
            .chunks(rep.width)
            .skip(10)
            .map(|r| r[0])
            .sum::<f64>()
            / xs.iter().sum::<f64>();
        assert!(
            (share_a - 0.3).abs() < 0.02,
            "class a holds {share_a} of the leechers"
        );
    }

    /// Transient of M/M/∞ from empty: E X(t) = (λ/θ)(1 − e^{−θt}) exactly; with a flash
    /// crowd λ(t) = λ0 e^{−t/τ} (thinned arrivals), E X(t) = λ0 (e^{−t/τ} − e^{−θt})/(θ − 1/τ).
    /// 400 replicates; tolerance 5 SE of the mean at each checked time (SE from the Poisson
    /// variance = mean).
    #[test]
    fn thinned_flash_crowd_mean_is_exact() {
        let (l0, tau, theta) = (50.0, 20.0, 0.1);
        let mut sw = immigration_death(1.0, theta);
        sw.arrival = ArrivalProfile::FlashCrowd {
            rate: l0,
            decay_time: tau,
        };
        let g = grid(60.0, 6);
        let set = SimSettings::new(1.0, 400, 3).expect("valid");
        let sim = simulate(&sw, &g, &set).expect("runs");
        let (_, rows) = sim.timeseries();
        for (i, &t) in g.iter().enumerate().skip(1) {
            let exact = l0 * ((-t / tau).exp() - (-theta * t).exp()) / (theta - 1.0 / tau);
            let se = (exact / 400.0).sqrt();
            assert!(
                (rows[i][1] - exact).abs() < 5.0 * se,
                "t = {t}: {} vs {exact}",
                rows[i][1]
            );
        }
        assert!(sim.events().rejected_candidates > 0);
    }

    #[test]
    fn settings_are_validated() {
        let e = SimSettings::new(0.0, 1, 1).expect_err("scale 0");
        assert_eq!(e.to_string(), "--scale must be > 0 and ≤ 1e9 (got 0)");
        let e = SimSettings::new(1.0, 0, 1).expect_err("no replicates");
        assert_eq!(
            e.to_string(),
            "--replicates must be between 1 and 100000 (got 0)"
        );
        let sw = immigration_death(1.0, 0.1);
        let chain = Chain::new(&sw, 1.0);
        let e = run_replicate(&chain, &[0.0, 2.0, 1.0], 1).expect_err("decreasing");
        assert_eq!(
            e.to_string(),
            "the output grid must increase strictly (times 1 and 2)"
        );
    }

    /// A simulation too large to finish is refused before it starts, with the estimate.
    #[test]
    fn too_many_events_is_refused_up_front() {
        let sw = immigration_death(1.0, 0.1);
        let set = SimSettings::new(1e9, 1000, 1).expect("valid");
        let e = simulate(&sw, &grid(1000.0, 2), &set).expect_err("too large");
        assert_eq!(
            e.to_string(),
            "the simulation would take about 3.000e15 events, more than the limit of 1.0e11; \
             lower --scale or --replicates"
        );
    }

    #[test]
    fn replicate_seeds_differ_and_are_stable() {
        let a: Vec<u64> = (0..4).map(|r| replicate_seed(1, r)).collect();
        assert!(a.windows(2).all(|w| w[0] != w[1]));
        assert_eq!(a, (0..4).map(|r| replicate_seed(1, r)).collect::<Vec<_>>());
        assert_ne!(replicate_seed(1, 0), replicate_seed(2, 0));
    }

    /// The streamed (Welford) mean and sd over more than one chunk of replicates equal the
    /// two-pass values computed from the replicates' totals (to rounding, 1e-12 relative).
    #[test]
    fn streamed_means_match_two_pass_over_chunks() {
        let sw = immigration_death(1.0, 0.1);
        let g = grid(40.0, 4);
        let reps = CHUNK + 6;
        let sim = simulate(&sw, &g, &SimSettings::new(3.0, reps, 8).expect("valid")).expect("runs");
        assert_eq!(sim.totals.len(), reps);
        let last = g.len() - 1;
        let (mean, sd) = mean_sd(sim.totals.iter().map(|t| t.leechers_at_end / 3.0));
        let (m, s) = (sim.mean[last][0], sim.sd[last][0]);
        assert!((m - mean).abs() <= 1e-12 * mean, "{m} vs {mean}");
        assert!((s - sd).abs() <= 1e-12 * sd, "{s} vs {sd}");
    }

    #[test]
    fn slope_of_a_power_law() {
        let pairs: Vec<(f64, f64)> = [10.0, 100.0, 1000.0]
            .iter()
            .map(|&n: &f64| (n, 3.0 * n.powf(-0.5)))
            .collect();
        let s = log_log_slope(&pairs).expect("three points");
        assert!((s + 0.5).abs() < 1e-12);
    }
}
