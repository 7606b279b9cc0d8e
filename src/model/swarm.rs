//! Qiu–Srikant BitTorrent fluid model with K peer classes and a provider server.
//!
//! Card: `models/swarm.md` (equations, symbols, units, ranges, sources, reference values).
//!
//! Per class k (files and seconds; rates c_k, μ_k in files/s):
//!
//! ```text
//! dx_k/dt = λ_k(t) − θ_k x_k − d_k
//! dy_k/dt = d_k − γ_k y_k                      (y_k ≡ 0 when seeds leave at once)
//! supply  = Σ_k μ_k (η x_k + y_k) + s          (peers first, then the server)
//! d_k     = x_k · min(c_k, r)                  r: max-min fair water level, ∞ if supply ≥ Σ c_k x_k
//! ```
//!
//! Sharing rule: the pooled upload (peers plus server) is shared max-min fairly among
//! leechers, each capped by its own download rate (random peer selection, no tit-for-tat
//! preference). With one class this is exactly `d = min(c x, μ(η x + y) + s)`.

use nalgebra::{DMatrix, DVector};

use super::{Affine, ArrivalProfile, FluidModel, Guard, PiecewiseAffine, PiecewiseSmooth, State};
pub use crate::scenario::spec::{ServerPolicy, OPTED_OUT_SUFFIX};
use crate::units::{PerSec, Seconds};

/// Most QR iterations of the Schur decomposition behind [`Swarm::slowest_rate`] (a few per
/// eigenvalue converge; 64 classes have 128).
pub const SCHUR_MAX_ITERATIONS: usize = 10_000;

/// One peer class in model units.
#[derive(Debug, Clone, PartialEq)]
pub struct SwarmClass {
    /// Class name (column suffix in outputs).
    pub name: String,
    /// Share of arrivals, in (0, 1]; shares sum to 1.
    pub share: f64,
    /// c: download rate, files/s.
    pub c: f64,
    /// μ: upload rate, files/s.
    pub mu: f64,
    /// θ: abort rate of a leecher, 1/s.
    pub theta: f64,
    /// γ: departure rate of a seed, 1/s; `None` = seeds leave the moment they finish.
    pub gamma: Option<f64>,
}

impl ServerPolicy {
    /// The scenario value (`"fill"` or `"seed"`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Fill => "fill",
            Self::Seed => "seed",
        }
    }
}

/// Model terms for what real BitTorrent clients do (issue 20 §2, `models/swarm.md`, "Terms
/// for real clients"). The default is off for every term: today's model bit for bit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Terms {
    /// How the server shares the work with peers.
    pub policy: ServerPolicy,
    /// τ₀: mean start-up delay of a download, s; 0 = off. A new leecher neither uploads nor
    /// progresses until it holds a first piece; it leaves the "starting" state at rate 1/τ₀.
    pub startup_delay: Seconds,
    /// d in [0, 1): the fraction of the bytes a leecher receives that are duplicates (end
    /// game); 0 = off. The model's c, μ and s are then the useful rates, (1 − d) × the links
    /// ([`swarm_of`] scales them), and the byte totals count what is received: progress /
    /// (1 − d).
    pub duplicates: f64,
    /// k ≥ 1: a download progresses through k stages of 1/k of the file, each left at k times
    /// the per-leecher rate, so download times are Erlang-k; 1 = off (exponential).
    pub stages: usize,
    /// The flash-crowd bound (issue 20 §2.5): nobody completes before the origin could have
    /// sent every piece once, t_g = F/s from t = 0 ([`Swarm::gate`]). Before t_g a leecher in
    /// the last stage waits (no download, no completion) and uploads; from t_g on the model
    /// is the one without the bound. Needs k ≥ 2 stages and a server (the scenario checks
    /// it); false = off.
    pub flash_crowd_bound: bool,
}

impl Default for Terms {
    fn default() -> Self {
        Self {
            policy: ServerPolicy::Fill,
            startup_delay: 0.0,
            duplicates: 0.0,
            stages: 1,
            flash_crowd_bound: false,
        }
    }
}

/// The swarm model.
#[derive(Debug, Clone)]
pub struct Swarm {
    /// Peer classes.
    pub classes: Vec<SwarmClass>,
    /// η: effectiveness of file sharing, in [0, 1].
    pub eta: f64,
    /// s: provider server upload, files/s.
    pub server: f64,
    /// λ(t) for all classes together (class k gets share_k of it).
    pub arrival: ArrivalProfile,
    /// Content size in bits, to turn files/s into bit/s.
    pub file_bits: f64,
    /// Terms for real clients (default: off).
    terms: Terms,
    /// Class indices sorted by ascending c (for the water-filling).
    order: Vec<usize>,
}

/// Whether the download capacity or the upload supply binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Regime {
    /// Every leecher downloads at its full download rate (the server may be helping).
    DownloadLimited,
    /// The pooled upload (peers + server) is exhausted; some leechers get less than their rate.
    UploadLimited,
}

impl Regime {
    /// Label used in outputs.
    pub fn label(self) -> &'static str {
        match self {
            Self::DownloadLimited => "download-limited",
            Self::UploadLimited => "upload-limited",
        }
    }
}

/// Instantaneous flows, files/s.
#[derive(Debug, Clone, PartialEq)]
pub struct Flows {
    /// d_k: download (completion) flow per class.
    pub download: Vec<f64>,
    /// Part of Σ d_k served by peers.
    pub peer: f64,
    /// Part of Σ d_k served by the server.
    pub server: f64,
}

/// A steady state of the swarm at constant arrival rate.
#[derive(Debug, Clone, PartialEq)]
pub struct SteadyState {
    /// Arrival rate it belongs to (all classes), 1/s.
    pub arrival_rate: PerSec,
    /// x̄_k.
    pub leechers: Vec<f64>,
    /// ȳ_k.
    pub seeds: Vec<f64>,
    /// d̄_k: completions per second of class k.
    pub download: Vec<f64>,
    /// Download progress of class k, files/s: ρ_k (x̄_k − w̄_k), what the peers and the server
    /// send (before duplicates). Equal to `download` with one stage; with k stages and aborts
    /// larger (the aborted downloads' partial progress).
    pub progress: Vec<f64>,
    /// Server flow, files/s.
    pub server: f64,
    /// Peer flow, files/s.
    pub peer: f64,
    /// Per-leecher water level r (files/s); `f64::INFINITY` when download-limited.
    pub level: f64,
    /// Which constraint binds.
    pub regime: Regime,
}

impl SteadyState {
    /// Mean time a class-k downloader spends in the swarm (Little: x̄_k / λ_k), seconds.
    pub fn download_time(&self, k: usize, share: f64) -> Seconds {
        self.leechers[k] / (self.arrival_rate * share)
    }
    /// Mean time over all downloaders, seconds.
    pub fn mean_download_time(&self) -> Seconds {
        self.leechers.iter().sum::<f64>() / self.arrival_rate
    }
}

/// Closed-form steady state of the single-class model with server (literature §1.2 and the
/// server-assisted variant of §1.5): returns `(x̄, ȳ, regime)`, or `None` when the swarm has no
/// steady state. `gamma = None` means seeds leave at once.
pub fn qiu_srikant_closed_form(
    lambda: f64,
    theta: f64,
    c: f64,
    mu: f64,
    eta: f64,
    gamma: Option<f64>,
    s: f64,
) -> Option<(f64, f64, Regime)> {
    let x_d = lambda / (theta + c);
    let y_d = gamma.map_or(0.0, |g| c * x_d / g);
    if c * x_d <= mu * (eta * x_d + y_d) + s {
        return Some((x_d, y_d, Regime::DownloadLimited));
    }
    let ratio = gamma.map_or(0.0, |g| mu / g); // μ/γ
    let den = theta * (1.0 - ratio) + mu * eta;
    let x = (lambda * (1.0 - ratio) - s) / den;
    if !(x.is_finite() && x > 0.0 && den > 0.0) {
        return None;
    }
    let y = gamma.map_or(0.0, |g| (lambda - theta * x) / g);
    Some((x, y, Regime::UploadLimited))
}

impl Swarm {
    /// Build a swarm; `classes` must be non-empty (the validated scenario guarantees it).
    pub fn new(
        classes: Vec<SwarmClass>,
        eta: f64,
        server: f64,
        arrival: ArrivalProfile,
        file_bits: f64,
    ) -> Self {
        let mut order: Vec<usize> = (0..classes.len()).collect();
        order.sort_by(|&a, &b| classes[a].c.total_cmp(&classes[b].c));
        Self {
            classes,
            eta,
            server,
            arrival,
            file_bits,
            terms: Terms::default(),
            order,
        }
    }

    /// The same swarm with the terms for real clients `terms`. A seeding policy without a
    /// server is the filling one (both send nothing from the server).
    pub fn with_terms(mut self, mut terms: Terms) -> Self {
        if self.server <= 0.0 {
            terms.policy = ServerPolicy::Fill;
        }
        self.terms = terms;
        self
    }

    /// The terms for real clients in force.
    pub fn terms(&self) -> &Terms {
        &self.terms
    }

    /// Bytes moved per byte of download progress: 1/(1 − d) (1 without duplicates).
    pub fn bytes_per_progress(&self) -> f64 {
        1.0 / (1.0 - self.terms.duplicates)
    }

    /// Split the download flow `served` (≤ `peers` + s) into (peer flow, server flow) by the
    /// server's policy: filling, the peers serve first; seeding, the server does. In bytes
    /// moved (× [`Swarm::bytes_per_progress`]).
    fn split(&self, peers: f64, served: f64) -> (f64, f64) {
        let bytes = self.bytes_per_progress();
        let (peer, server) = match self.terms.policy {
            ServerPolicy::Fill => {
                let peer = peers.min(served);
                (peer, (served - peer).max(0.0))
            }
            ServerPolicy::Seed => {
                let server = self.server.min(served).max(0.0);
                ((served - server).max(0.0), server)
            }
        };
        (peer * bytes, server * bytes)
    }

    /// Number of classes K.
    pub fn k(&self) -> usize {
        self.classes.len()
    }
    /// Whether the start-up delay is on (then the state holds the starting leechers w_k).
    pub fn starting(&self) -> bool {
        self.terms.startup_delay > 0.0
    }
    /// Number of states that feed back: x_k, y_k, w_k with a start-up delay, and the first
    /// k − 1 stages of each class with k download stages.
    fn nd(&self) -> usize {
        let base = if self.starting() {
            3 * self.k()
        } else {
            2 * self.k()
        };
        base + self.k() * (self.stages() - 1)
    }
    /// Number of download stages k (1: one exponential stage, today's model).
    pub fn stages(&self) -> usize {
        self.terms.stages.max(1)
    }
    /// The flash-crowd bound's gate t_g, seconds from t = 0, when the bound is on (it needs
    /// k ≥ 2 stages and a server): F/s, the file over the origin's raw capacity. The model's
    /// `server` is the useful (1 − d)·s in files/s, so t_g = (1 − d)/server (first copies are
    /// not duplicates).
    pub fn gate(&self) -> Option<Seconds> {
        (self.terms.flash_crowd_bound && self.stages() > 1 && self.server > 0.0)
            .then(|| (1.0 - self.terms.duplicates) / self.server)
    }
    /// Whether the gate is closed at time t (t < t_g): the last stage waits.
    pub fn gated_at(&self, t: Seconds) -> bool {
        self.terms.flash_crowd_bound && self.gate().is_some_and(|g| t < g)
    }
    /// Index of v_{i,j}: the leechers of class i in download stage j (1 ≤ j < k; stage k is
    /// the rest, x_i − w_i − Σ_j v_{i,j}). A state only with k ≥ 2.
    pub fn ix_v(&self, i: usize, j: usize) -> usize {
        let base = if self.starting() {
            3 * self.k()
        } else {
            2 * self.k()
        };
        base + i * (self.stages() - 1) + (j - 1)
    }
    /// 1/τ₀, the rate at which a starting leecher gets its first piece (0 when off).
    fn start_rate(&self) -> f64 {
        if self.starting() {
            1.0 / self.terms.startup_delay
        } else {
            0.0
        }
    }
    /// Index of x_k in the state (every leecher of class k, starting or not).
    pub fn ix_x(&self, k: usize) -> usize {
        k
    }
    /// Index of y_k.
    pub fn ix_y(&self, k: usize) -> usize {
        self.k() + k
    }
    /// Index of w_k, the leechers of class k still waiting for a first piece (a state only
    /// with a start-up delay, [`Swarm::starting`]).
    pub fn ix_w(&self, k: usize) -> usize {
        2 * self.k() + k
    }
    /// Index of the cumulative completions of class k.
    pub fn ix_done(&self, k: usize) -> usize {
        self.nd() + k
    }
    /// Index of the cumulative aborts of class k.
    pub fn ix_aborted(&self, k: usize) -> usize {
        self.nd() + self.k() + k
    }
    /// Index of the cumulative files served by the server.
    pub fn ix_server(&self) -> usize {
        self.nd() + 2 * self.k()
    }
    /// Index of the cumulative files served by peers.
    pub fn ix_peer(&self) -> usize {
        self.nd() + 2 * self.k() + 1
    }
    /// Index of the cumulative arrivals.
    pub fn ix_arrivals(&self) -> usize {
        self.nd() + 2 * self.k() + 2
    }
    /// Index of ∫ x_k dt, the leecher-seconds of class k (time online while downloading).
    pub fn ix_leecher_time(&self, k: usize) -> usize {
        self.nd() + 2 * self.k() + 3 + k
    }
    /// Index of ∫ y_k dt, the seed-seconds of class k (time online only to upload).
    pub fn ix_seed_time(&self, k: usize) -> usize {
        self.nd() + 3 * self.k() + 3 + k
    }
    /// Index of ∫ w_k dt, the seconds leechers spent waiting for a first piece (a state only
    /// with a start-up delay).
    pub fn ix_starting_time(&self, k: usize) -> usize {
        self.nd() + 4 * self.k() + 3 + k
    }

    /// Seconds of upload capacity class k offered up to the state `z` (a running total), in
    /// units of its upload rate: η ∫(x_k − w_k) dt + ∫ y_k dt (starting leechers offer none).
    pub fn upload_seconds(&self, z: &[f64], k: usize) -> f64 {
        let leech = if self.starting() {
            z[self.ix_leecher_time(k)] - z[self.ix_starting_time(k)]
        } else {
            z[self.ix_leecher_time(k)]
        };
        self.eta * leech + z[self.ix_seed_time(k)]
    }

    /// Steady w̄_k = λ_k τ₀ / (1 + θ_k τ₀): the starting leechers at arrival rate `rate`.
    fn steady_starting(&self, rate: PerSec, k: usize) -> f64 {
        if !self.starting() {
            return 0.0;
        }
        let cl = &self.classes[k];
        let tau = self.terms.startup_delay;
        rate * cl.share * tau / (1.0 + cl.theta * tau)
    }

    /// Leechers of class k in the steady state `ss` that have a first piece (they upload and
    /// progress): x̄_k − w̄_k.
    pub fn active_leechers(&self, ss: &SteadyState, k: usize) -> f64 {
        if self.starting() {
            ss.leechers[k] - self.steady_starting(ss.arrival_rate, k)
        } else {
            ss.leechers[k]
        }
    }

    /// Flows at time t and the full state `z` (the leechers that have a first piece download
    /// and upload; before the flash-crowd bound's gate only those not in the last stage
    /// download, [`Swarm::gated_at`]).
    pub fn flows_at(&self, t: Seconds, z: &[f64]) -> Flows {
        let k = self.k();
        if self.gated_at(t) {
            let active: Vec<f64> = (0..k).map(|i| self.active_of(z, i)).collect();
            let down: Vec<f64> = (0..k).map(|i| self.downloading_of(z, i)).collect();
            return self.flows_split(&active, &down, &z[k..2 * k]);
        }
        if !self.starting() {
            return self.flows(&z[..k], &z[k..2 * k]);
        }
        let active: Vec<f64> = (0..k).map(|i| z[i] - z[2 * k + i]).collect();
        self.flows(&active, &z[k..2 * k])
    }

    /// Leechers of class i that have a first piece, x_i − w_i, at the full state `z`.
    fn active_of(&self, z: &[f64], i: usize) -> f64 {
        if self.starting() {
            z[i] - z[self.ix_w(i)]
        } else {
            z[i]
        }
    }

    /// Leechers of class i in the stages before the last, Σ_{j<k} v_ij, at the full state `z`:
    /// the ones that download while the flash-crowd bound's gate is closed.
    fn downloading_of(&self, z: &[f64], i: usize) -> f64 {
        (1..self.stages()).map(|j| z[self.ix_v(i, j)]).sum()
    }

    /// Flows when the leechers `active` upload and only `down` of them download (the gate of
    /// the flash-crowd bound closed; otherwise `down` = `active`).
    fn flows_split(&self, active: &[f64], down: &[f64], y: &[f64]) -> Flows {
        let peers = self.peer_supply(active, y);
        let mut d = vec![0.0; self.k()];
        self.allocate(down, peers + self.server, &mut d);
        let served: f64 = d.iter().sum();
        let (peer, server) = self.split(peers, served);
        Flows {
            download: d,
            peer,
            server,
        }
    }

    /// Peer upload supply Σ μ_k (η x_k + y_k), files/s.
    fn peer_supply(&self, x: &[f64], y: &[f64]) -> f64 {
        self.classes
            .iter()
            .zip(x.iter().zip(y))
            .map(|(cl, (&xk, &yk))| cl.mu * (self.eta * xk.max(0.0) + yk.max(0.0)))
            .sum()
    }

    /// Max-min fair water-filling of `supply` among leechers capped at c_k; writes d_k into
    /// `d` and returns the water level r (∞ when every leecher is at its cap).
    fn allocate(&self, x: &[f64], supply: f64, d: &mut [f64]) -> f64 {
        self.allocate_counted(x, supply, d).0
    }

    /// [`Swarm::allocate`], also returning how many classes (the first ones of `order`) are
    /// at their cap when upload binds.
    fn allocate_counted(&self, x: &[f64], supply: f64, d: &mut [f64]) -> (f64, usize) {
        let cap: f64 = self
            .classes
            .iter()
            .zip(x)
            .map(|(cl, &xk)| cl.c * xk.max(0.0))
            .sum();
        if cap <= supply {
            for (k, cl) in self.classes.iter().enumerate() {
                d[k] = cl.c * x[k].max(0.0);
            }
            return (f64::INFINITY, self.k());
        }
        let mut s_rem = supply;
        let mut x_rem: f64 = x.iter().map(|v| v.max(0.0)).sum();
        let mut level = 0.0;
        let mut filled = 0;
        for (pos, &k) in self.order.iter().enumerate() {
            let xk = x[k].max(0.0);
            level = if x_rem > 0.0 { s_rem / x_rem } else { 0.0 };
            if self.classes[k].c <= level {
                d[k] = self.classes[k].c * xk;
                s_rem -= d[k];
                x_rem -= xk;
                filled = pos + 1;
            } else {
                break;
            }
        }
        for &k in &self.order[filled..] {
            d[k] = level * x[k].max(0.0);
        }
        (level, filled)
    }

    /// Flows at populations `x` (leechers that have a first piece: all of them without a
    /// start-up delay), `y`.
    pub fn flows(&self, x: &[f64], y: &[f64]) -> Flows {
        self.flows_split(x, x, y)
    }

    fn populations_at_level(&self, rate: PerSec, level: f64) -> Option<(Vec<f64>, Vec<f64>)> {
        let mut xs = Vec::with_capacity(self.k());
        let mut ys = Vec::with_capacity(self.k());
        let tau = self.terms.startup_delay;
        for cl in &self.classes {
            let r = cl.c.min(level);
            // With a start-up delay, 1/(1 + θτ₀) of the arrivals get a first piece.
            let lam = if self.starting() {
                rate * cl.share / (1.0 + cl.theta * tau)
            } else {
                rate * cl.share
            };
            let out = cl.theta + r;
            if out <= 0.0 {
                if lam > 0.0 {
                    return None;
                }
                xs.push(0.0);
                ys.push(0.0);
                continue;
            }
            if self.stages() > 1 {
                // k stages, each left at k r: stage j holds λ q^{j−1}/(θ + k r), q = k r/(θ + k r);
                // the completions are λ q^k.
                let (stages, done) = self.stage_populations(lam, cl.theta, r);
                xs.push(stages.iter().sum());
                ys.push(cl.gamma.map_or(0.0, |g| done / g));
                continue;
            }
            let x = lam / out;
            xs.push(x);
            ys.push(cl.gamma.map_or(0.0, |g| r * x / g));
        }
        Some((xs, ys))
    }

    /// Steady populations of the k download stages of a class fed at `lam` (after the start-up
    /// delay), abort rate θ, per-leecher rate ρ, and its completions per second.
    fn stage_populations(&self, lam: f64, theta: f64, rho: f64) -> (Vec<f64>, f64) {
        let kr = self.stages() as f64 * rho;
        let out = theta + kr;
        let mut v = Vec::with_capacity(self.stages());
        let mut inflow = lam;
        for _ in 0..self.stages() {
            let vj = inflow / out;
            v.push(vj);
            inflow = kr * vj;
        }
        (v, inflow)
    }

    /// Arrival rate of class `i` into the downloading stages at total rate `rate` (after the
    /// start-up delay's aborts).
    fn fed_rate(&self, rate: PerSec, i: usize) -> f64 {
        let cl = &self.classes[i];
        if self.starting() {
            rate * cl.share / (1.0 + cl.theta * self.terms.startup_delay)
        } else {
            rate * cl.share
        }
    }

    /// supply(r) − demand(r) along the family of candidate steady states with level r.
    fn excess(&self, rate: PerSec, level: f64) -> f64 {
        match self.populations_at_level(rate, level) {
            Some((x, y)) => {
                let demand: f64 = self
                    .classes
                    .iter()
                    .zip(&x)
                    .map(|(cl, xk)| cl.c.min(level) * xk)
                    .sum();
                self.peer_supply(&x, &y) + self.server - demand
            }
            None => f64::NEG_INFINITY,
        }
    }

    fn steady_at_level(&self, rate: PerSec, level: f64) -> Option<SteadyState> {
        let (mut x, y) = self.populations_at_level(rate, level)?;
        let f = self.flows(&x, &y);
        for (k, xk) in x.iter_mut().enumerate() {
            *xk += self.steady_starting(rate, k);
        }
        let completions = if self.stages() > 1 {
            (0..self.k())
                .map(|i| {
                    let cl = &self.classes[i];
                    let rho = cl.c.min(level);
                    self.stage_populations(self.fed_rate(rate, i), cl.theta, rho)
                        .1
                })
                .collect()
        } else {
            f.download.clone()
        };
        let regime = if level.is_infinite() {
            Regime::DownloadLimited
        } else {
            Regime::UploadLimited
        };
        Some(SteadyState {
            arrival_rate: rate,
            leechers: x,
            seeds: y,
            download: completions,
            progress: f.download,
            server: f.server,
            peer: f.peer,
            level,
            regime,
        })
    }

    /// Every steady state at constant arrival rate `rate`, most downloads first; the first is
    /// the one an empty swarm settles in when there are several (checked by the solver in
    /// `run`). `Err` explains why there is none.
    ///
    /// Download-limited if the all-capped state has supply ≥ demand; otherwise the levels r in
    /// (0, max c) where supply(r) = demand(r) (a 1-D root search: each class contributes a
    /// Möbius function of r, so there are at most K roots; found by a log-spaced scan of 600
    /// points plus bisection to machine precision).
    pub fn steady_states(&self, rate: PerSec) -> Result<Vec<SteadyState>, String> {
        if self.excess(rate, f64::INFINITY) >= 0.0 {
            return self
                .steady_at_level(rate, f64::INFINITY)
                .map(|s| vec![s])
                .ok_or_else(|| "a class has neither downloads nor aborts".to_string());
        }
        if let ([cl], 1) = (self.classes.as_slice(), self.stages()) {
            // One class: the root is linear, r = (λμη + sθ) / (λ(1 − μ/γ) − s), with
            // λ/(1 + θτ₀) for λ when a start-up delay holds arrivals back.
            let lam = if self.starting() {
                rate * cl.share / (1.0 + cl.theta * self.terms.startup_delay)
            } else {
                rate * cl.share
            };
            let ratio = cl.gamma.map_or(0.0, |g| cl.mu / g);
            let den = lam * (1.0 - ratio) - self.server;
            let r = (lam * cl.mu * self.eta + self.server * cl.theta) / den;
            if den > 0.0 && r > 0.0 && r < cl.c {
                if let Some(s) = self.steady_at_level(rate, r) {
                    return Ok(vec![s]);
                }
            }
        }
        let c_max = self.classes.iter().map(|c| c.c).fold(0.0, f64::max);
        let n = 600;
        let lo = c_max * 1e-12;
        let grid = |i: usize| lo * (c_max / lo).powf(i as f64 / n as f64);
        let mut roots = Vec::new();
        let mut prev = (grid(0), self.excess(rate, grid(0)));
        for i in 1..=n {
            let r = grid(i);
            let f = self.excess(rate, r);
            if (prev.1 > 0.0) != (f > 0.0) {
                let (mut a, mut b) = (prev.0, r);
                let fa_pos = prev.1 > 0.0;
                for _ in 0..200 {
                    let m = 0.5 * (a + b);
                    if m <= a || m >= b {
                        break;
                    }
                    if (self.excess(rate, m) > 0.0) == fa_pos {
                        a = m;
                    } else {
                        b = m;
                    }
                }
                if let Some(s) = self.steady_at_level(rate, 0.5 * (a + b)) {
                    roots.push(s);
                }
            }
            prev = (r, f);
        }
        if roots.is_empty() {
            if self.classes.iter().all(|c| c.theta > 0.0) && self.excess(rate, lo) <= 0.0 {
                // Nobody can be served: leechers wait until they abort.
                if let Some(s) = self.steady_at_level(rate, 0.0) {
                    return Ok(vec![s]);
                }
            }
            return Err(
                "the upload of peers and server cannot keep up with arrivals and \
                        nobody aborts"
                    .to_string(),
            );
        }
        roots.sort_by(|a, b| b.level.total_cmp(&a.level));
        Ok(roots)
    }

    /// Jacobian of the population dynamics (x_k, and y_k where seeds stay) at constant
    /// arrivals, by central differences; returns (matrix, state indices used).
    pub fn population_jacobian(&self, z: &State) -> (DMatrix<f64>, Vec<usize>) {
        let mut idx: Vec<usize> = (0..self.k()).map(|k| self.ix_x(k)).collect();
        idx.extend(
            (0..self.k())
                .filter(|&k| self.classes[k].gamma.is_some())
                .map(|k| self.ix_y(k)),
        );
        if self.starting() {
            idx.extend((0..self.k()).map(|k| self.ix_w(k)));
        }
        for k in 0..self.k() {
            idx.extend((1..self.stages()).map(|j| self.ix_v(k, j)));
        }
        let n = idx.len();
        let mut jac = DMatrix::zeros(n, n);
        let mut f_plus = State::zeros(self.dim());
        let mut f_minus = State::zeros(self.dim());
        // A steady state holds after the flash-crowd bound's gate (t → ∞): the dynamics from
        // t_g on (the arrival rate cancels in the differences).
        let t = self.gate().unwrap_or(0.0);
        for (col, &j) in idx.iter().enumerate() {
            let h = 1e-7 * z[j].abs().max(1e-3);
            let mut zp = z.clone();
            zp[j] += h;
            let mut zm = z.clone();
            zm[j] -= h;
            self.rhs(t, &zp, &mut f_plus);
            self.rhs(t, &zm, &mut f_minus);
            for (row, &i) in idx.iter().enumerate() {
                jac[(row, col)] = (f_plus[i] - f_minus[i]) / (2.0 * h);
            }
        }
        (jac, idx)
    }

    /// Full state vector holding a steady state's populations (cumulative entries zero).
    pub fn state_of(&self, ss: &SteadyState) -> State {
        let mut z = State::zeros(self.dim());
        for k in 0..self.k() {
            z[self.ix_x(k)] = ss.leechers[k];
            z[self.ix_y(k)] = ss.seeds[k];
            if self.starting() {
                z[self.ix_w(k)] = self.steady_starting(ss.arrival_rate, k);
            }
            if self.stages() > 1 {
                let cl = &self.classes[k];
                let rho = cl.c.min(ss.level);
                let (v, _) =
                    self.stage_populations(self.fed_rate(ss.arrival_rate, k), cl.theta, rho);
                for j in 1..self.stages() {
                    z[self.ix_v(k, j)] = v[j - 1];
                }
            }
        }
        z
    }

    /// Mean time from arrival to completion of the downloads that complete (what a client's
    /// log of finished downloads measures), over every class weighted by its completions.
    /// Conditional on completing, the start-up (rate 1/τ₀ against aborts at θ) takes 1/(1/τ₀ + θ) and each of the k stages (rate k ρ) 1/(k ρ + θ), ρ the
    /// class's per-leecher rate at `ss`: τ₀/(1 + θτ₀) + k/(k ρ + θ). With one stage and no
    /// start-up delay this is Little's x̄/λ; with aborts and several stages it is longer than
    /// Little's time, which also averages the aborted downloads' shorter stays
    /// (`models/swarm.md`, "Download stages"). `None` when nobody completes.
    pub fn completed_download_time(&self, ss: &SteadyState) -> Option<Seconds> {
        let kf = self.stages() as f64;
        let (mut weighted, mut done) = (0.0, 0.0);
        for (i, cl) in self.classes.iter().enumerate() {
            let rho = cl.c.min(ss.level);
            let start = if self.starting() {
                let tau = self.terms.startup_delay;
                tau / (1.0 + cl.theta * tau)
            } else {
                0.0
            };
            let t = start + kf / (kf * rho + cl.theta);
            weighted += ss.download[i] * t;
            done += ss.download[i];
        }
        (done > 0.0).then(|| weighted / done)
    }

    /// Slowest decay rate (smallest |Re eigenvalue|) of the linearisation at `ss`, 1/s, and
    /// whether every eigenvalue has a negative real part. The eigenvalues come from a Schur
    /// decomposition capped at [`SCHUR_MAX_ITERATIONS`] (nalgebra's own eigenvalue routine
    /// iterates without a bound and never returned on a 4-class swarm, issue 17); when it does
    /// not converge the rate is NaN and the stability false, and callers fall back (the
    /// default horizon to the draining time, the summary to `null`).
    ///
    /// Where no class's rates depend on another's at `ss` (every class at its download cap),
    /// the Jacobian splits into one block per class, and its eigenvalues come from each
    /// block's characteristic polynomial instead (exact, and a few hundred times cheaper).
    pub fn slowest_rate(&self, ss: &SteadyState) -> (f64, bool) {
        let (jac, idx) = self.population_jacobian(&self.state_of(ss));
        let eig = match self.block_eigenvalues(&jac, &idx) {
            Some(eig) => eig,
            None => {
                let Some(schur) =
                    nalgebra::linalg::Schur::try_new(jac, f64::EPSILON, SCHUR_MAX_ITERATIONS)
                else {
                    return (f64::NAN, false);
                };
                schur.complex_eigenvalues().iter().copied().collect()
            }
        };
        let stable = eig.iter().all(|e| e.re < 0.0);
        let slowest = eig.iter().map(|e| e.re.abs()).fold(f64::INFINITY, f64::min);
        (slowest, stable)
    }

    /// The eigenvalues of a population Jacobian (rows and columns `idx`) whose entries
    /// between different classes are all zero, from each class's 1 × 1 or 2 × 2 block;
    /// `None` when classes interact.
    fn block_eigenvalues(
        &self,
        jac: &DMatrix<f64>,
        idx: &[usize],
    ) -> Option<Vec<nalgebra::Complex<f64>>> {
        let k = self.k();
        let base = self.nd() - k * (self.stages() - 1);
        let class = |i: usize| {
            if i < base {
                i % k
            } else {
                (i - base) / (self.stages() - 1)
            }
        };
        for (r, &i) in idx.iter().enumerate() {
            for (c, &j) in idx.iter().enumerate() {
                if class(i) != class(j) && jac[(r, c)] != 0.0 {
                    return None;
                }
            }
        }
        let mut eig = Vec::with_capacity(idx.len());
        for cl in 0..k {
            let at: Vec<usize> = (0..idx.len()).filter(|&r| class(idx[r]) == cl).collect();
            match at[..] {
                [a] => eig.push(nalgebra::Complex::new(jac[(a, a)], 0.0)),
                [a, b] => {
                    let (p, q, r, s) = (jac[(a, a)], jac[(a, b)], jac[(b, a)], jac[(b, b)]);
                    let half_tr = 0.5 * (p + s);
                    let disc = 0.25 * (p - s) * (p - s) + q * r;
                    let root = nalgebra::Complex::new(disc, 0.0).sqrt();
                    eig.push(root + half_tr);
                    eig.push(-root + half_tr);
                }
                _ => return None,
            }
        }
        Some(eig)
    }

    /// Classes grouped by equal download rate c, groups in ascending c (a group is capped or
    /// free as a whole: its members share one guard).
    fn c_groups(&self) -> Vec<&[usize]> {
        self.order
            .chunk_by(|&a, &b| self.classes[a].c.total_cmp(&self.classes[b].c).is_eq())
            .collect()
    }

    /// Classes that share the upload at a common level in regime `r` (none for r ≤ 1; the top
    /// r − 1 groups of c for r ≥ 2).
    fn free_classes(&self, r: usize) -> &[usize] {
        if r < 2 {
            return &[];
        }
        &self.order[self.free_start(r)..]
    }

    /// U = Σ μ_k (η (x_k − w_k) + y_k) as a linear form over the dynamic states (w_k only
    /// with a start-up delay).
    fn upload_form(&self) -> Vec<f64> {
        let k = self.k();
        let mut w = vec![0.0; self.nd()];
        for (i, cl) in self.classes.iter().enumerate() {
            w[i] = cl.mu * self.eta;
            if cl.gamma.is_some() {
                w[k + i] = cl.mu;
            }
            if self.starting() {
                w[2 * k + i] = -cl.mu * self.eta;
            }
        }
        w
    }

    /// The affine right-hand side of an affine regime (r ≤ 1, or r = 2 with one free class);
    /// see [`PiecewiseAffine for Swarm`](Swarm#impl-PiecewiseAffine-for-Swarm).
    /// `closed`: the flash-crowd bound's gate is closed (the downloads run on the stages
    /// before the last, Σ_{j<k} v_ij, and nobody completes).
    fn regime_affine(&self, r: usize, closed: bool) -> Affine {
        let k = self.k();
        let (n, nd) = (self.dim(), self.nd());
        let mut a = DMatrix::zeros(n, nd);
        let mut b = DVector::zeros(n);
        let mut e = DVector::zeros(n);
        // Coefficient of dynamic state j in the upload form U = Σ μ_i (η (x_i − w_i) + y_i).
        let upload = self.upload_form();
        let up = |j: usize| -> f64 { upload[j] };
        // With a start-up delay a class downloads on x_i − w_i: coefficient `v` on that.
        let starting = self.starting();
        let ks = self.stages();
        let on_active = |a: &mut DMatrix<f64>, row: usize, i: usize, v: f64| {
            if closed {
                // The gate closed: class i downloads on its stages before the last.
                for j in 1..ks {
                    a[(row, self.ix_v(i, j))] += v;
                }
                return;
            }
            a[(row, i)] += v;
            if starting {
                a[(row, 2 * k + i)] -= v;
            }
        };
        // In regime r ≥ 2 one free class f takes what the others leave:
        // d_f = U + s − Σ_{i≠f} c_i x_i; every other class downloads at its cap, d_i = c_i x_i.
        let free = (r >= 2).then(|| self.free_classes(r)[0]);
        // row += sign · d_i
        let add_d =
            |a: &mut DMatrix<f64>, b: &mut DVector<f64>, row: usize, i: usize, sign: f64| {
                if free == Some(i) {
                    for j in 0..nd {
                        a[(row, j)] += sign * up(j);
                    }
                    for (l, cl) in self.classes.iter().enumerate() {
                        if l != i {
                            on_active(a, row, l, -sign * cl.c);
                        }
                    }
                    b[row] += sign * self.server;
                } else {
                    on_active(a, row, i, sign * self.classes[i].c);
                }
            };
        // Completions of class i: d_i with one stage; with k stages (regimes where every
        // leecher is at its cap) k c_i times the last stage, x_i − w_i − Σ_j v_ij; none while
        // the gate is closed.
        let kf = ks as f64;
        let add_done =
            |a: &mut DMatrix<f64>, b: &mut DVector<f64>, row: usize, i: usize, sign: f64| {
                if ks == 1 {
                    add_d(a, b, row, i, sign);
                    return;
                }
                if closed {
                    return;
                }
                let rate = kf * self.classes[i].c;
                a[(row, i)] += sign * rate;
                if starting {
                    a[(row, 2 * k + i)] -= sign * rate;
                }
                for j in 1..ks {
                    a[(row, self.ix_v(i, j))] -= sign * rate;
                }
            };
        for (i, cl) in self.classes.iter().enumerate() {
            add_done(&mut a, &mut b, i, i, -1.0);
            a[(i, i)] -= cl.theta;
            if let Some(g) = cl.gamma {
                add_done(&mut a, &mut b, k + i, i, 1.0);
                a[(k + i, k + i)] -= g;
            }
            add_done(&mut a, &mut b, self.ix_done(i), i, 1.0);
            let rate = kf * cl.c;
            for j in 1..ks {
                let vj = self.ix_v(i, j);
                if j == 1 {
                    if starting {
                        a[(vj, self.ix_w(i))] += self.start_rate();
                    } else {
                        e[vj] = cl.share;
                    }
                } else {
                    a[(vj, self.ix_v(i, j - 1))] += rate;
                }
                a[(vj, vj)] -= cl.theta + rate;
            }
            a[(self.ix_aborted(i), i)] += cl.theta;
            a[(self.ix_leecher_time(i), i)] += 1.0;
            a[(self.ix_seed_time(i), k + i)] += 1.0;
            e[i] = cl.share;
            if starting {
                // w_i' = λ_i − (θ_i + 1/τ₀) w_i
                let w = self.ix_w(i);
                a[(w, w)] -= cl.theta + self.start_rate();
                e[w] = cl.share;
                a[(self.ix_starting_time(i), w)] += 1.0;
            }
        }
        let (server, peer) = (self.ix_server(), self.ix_peer());
        match (r, self.terms.policy) {
            // A seeding server: it serves every download while Σ c_i x_i ≤ s (regime 0), then
            // sends s and the peers the rest (regime 1).
            (0, ServerPolicy::Seed) => {
                for i in 0..k {
                    add_d(&mut a, &mut b, server, i, 1.0);
                }
            }
            (1, ServerPolicy::Seed) => {
                for i in 0..k {
                    add_d(&mut a, &mut b, peer, i, 1.0);
                }
                b[peer] -= self.server;
                b[server] += self.server;
            }
            // Peers serve every download; the server idles.
            (0, ServerPolicy::Fill) => {
                for i in 0..k {
                    add_d(&mut a, &mut b, peer, i, 1.0);
                }
            }
            // Peers give all their upload, the server the rest of Σ c_i x_i.
            (1, ServerPolicy::Fill) => {
                for j in 0..nd {
                    a[(peer, j)] += up(j);
                    a[(server, j)] -= up(j);
                }
                for (i, cl) in self.classes.iter().enumerate() {
                    on_active(&mut a, server, i, cl.c);
                }
            }
            // Peers and server both give all they have.
            _ => {
                for j in 0..nd {
                    a[(peer, j)] += up(j);
                }
                b[server] += self.server;
            }
        }
        // The byte totals count what is received, duplicates included.
        let bytes = self.bytes_per_progress();
        for row in [server, peer] {
            for j in 0..nd {
                a[(row, j)] *= bytes;
            }
            b[row] *= bytes;
        }
        e[self.ix_arrivals()] = 1.0;
        Affine { a, b, arrival: e }
    }

    /// Position in `order` where the free classes of regime r ≥ 2 start (the top r − 1 groups
    /// of equal c are free).
    fn free_start(&self, r: usize) -> usize {
        let mut groups = 0;
        let mut pos = self.order.len();
        while pos > 0 && groups < r.saturating_sub(1) {
            let c = self.classes[self.order[pos - 1]].c;
            while pos > 0 && self.classes[self.order[pos - 1]].c.total_cmp(&c).is_eq() {
                pos -= 1;
            }
            groups += 1;
        }
        pos
    }
}

impl FluidModel for Swarm {
    fn name(&self) -> &'static str {
        "qiu-srikant"
    }
    fn dim(&self) -> usize {
        let totals = if self.starting() { 5 } else { 4 };
        self.nd() + totals * self.k() + 3
    }
    fn state_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        let dynamic: &[&str] = if self.starting() {
            &["leechers", "seeds", "starting"]
        } else {
            &["leechers", "seeds"]
        };
        for prefix in dynamic {
            for cl in &self.classes {
                names.push(format!("{prefix}.{}", cl.name));
            }
        }
        for cl in &self.classes {
            for j in 1..self.stages() {
                names.push(format!("stage{j}.{}", cl.name));
            }
        }
        for prefix in ["completed", "aborted"] {
            for cl in &self.classes {
                names.push(format!("{prefix}.{}", cl.name));
            }
        }
        names.extend(["server_files", "peer_files", "arrivals"].map(String::from));
        let totals: &[&str] = if self.starting() {
            &["leecher_seconds", "seed_seconds", "starting_seconds"]
        } else {
            &["leecher_seconds", "seed_seconds"]
        };
        for prefix in totals {
            for cl in &self.classes {
                names.push(format!("{prefix}.{}", cl.name));
            }
        }
        names
    }
    fn initial_state(&self) -> State {
        State::zeros(self.dim())
    }
    fn rhs(&self, t: Seconds, z: &State, dz: &mut State) {
        let k = self.k();
        let nd = self.nd();
        let zs = z.as_slice();
        let (x, rest) = zs.split_at(k);
        let y = &rest[..k];
        // Leechers that have a first piece: x − w with a start-up delay, else x.
        let nw = if self.starting() { k } else { 0 };
        let w = &rest[k..k + nw];
        let v = &rest[k + nw..nd - k];
        let (mut stack, mut heap) = ([0.0; 32], Vec::new());
        let active: &[f64] = if w.is_empty() {
            x
        } else {
            let buf: &mut [f64] = if k <= stack.len() {
                &mut stack[..k]
            } else {
                heap.resize(k, 0.0);
                &mut heap
            };
            for ((b, xi), wi) in buf.iter_mut().zip(x).zip(w) {
                *b = xi - wi;
            }
            buf
        };
        let peers = self.peer_supply(active, y);
        let lam = self.arrival.rate_at(t);
        let dzs = dz.as_mut_slice();
        // d_k goes temporarily into the completion slots.
        let (head, tail) = dzs.split_at_mut(nd);
        let (d, tail) = tail.split_at_mut(k);
        let ks = self.stages();
        // Before the flash-crowd bound's gate only the leechers before the last stage
        // download (the last stage waits, and still uploads above).
        let closed = self.gated_at(t);
        let (mut down_stack, mut down_heap) = ([0.0; 32], Vec::new());
        let down: &[f64] = if closed {
            let buf: &mut [f64] = if k <= down_stack.len() {
                &mut down_stack[..k]
            } else {
                down_heap.resize(k, 0.0);
                &mut down_heap
            };
            for (i, b) in buf.iter_mut().enumerate() {
                *b = v[i * (ks - 1)..(i + 1) * (ks - 1)].iter().sum();
            }
            buf
        } else {
            active
        };
        let level = self.allocate(down, peers + self.server, d);
        let served: f64 = d.iter().sum();
        for (i, wi) in w.iter().enumerate() {
            let cl = &self.classes[i];
            head[2 * k + i] = lam * cl.share - (cl.theta + self.start_rate()) * wi.max(0.0);
            tail[3 * k + 3 + i] = wi.max(0.0);
        }
        if ks > 1 {
            // Stage j of class i is left at k ρ_i per leecher (ρ_i = min(c_i, r)); the last
            // stage's exits are the completions, which replace the progress d_i below.
            let kf = ks as f64;
            let hv = &mut head[2 * k + nw..];
            for (i, cl) in self.classes.iter().enumerate() {
                let rate = kf * cl.c.min(level).max(0.0);
                let vi = &v[i * (ks - 1)..(i + 1) * (ks - 1)];
                let into = if self.starting() {
                    w[i].max(0.0) * self.start_rate()
                } else {
                    lam * cl.share
                };
                let mut prev = into;
                for (j, &vij) in vi.iter().enumerate() {
                    hv[i * (ks - 1) + j] = prev - (cl.theta + rate) * vij;
                    prev = rate * vij;
                }
                let last = active[i] - vi.iter().sum::<f64>();
                // The gate closed: the last stage waits, nobody completes.
                d[i] = if closed { 0.0 } else { rate * last };
            }
        }
        for (i, cl) in self.classes.iter().enumerate() {
            let xk = x[i].max(0.0);
            head[i] = lam * cl.share - cl.theta * xk - d[i];
            head[k + i] = match cl.gamma {
                Some(g) => d[i] - g * y[i],
                None => 0.0,
            };
            tail[i] = cl.theta * xk;
        }
        let (peer, server) = self.split(peers, served);
        tail[k] = server;
        tail[k + 1] = peer;
        tail[k + 2] = lam;
        for i in 0..k {
            tail[k + 3 + i] = x[i].max(0.0);
            tail[2 * k + 3 + i] = y[i].max(0.0);
        }
    }
    fn time_events(&self) -> Vec<Seconds> {
        self.gate().into_iter().collect()
    }
    fn piecewise_affine(&self) -> Option<&dyn PiecewiseAffine> {
        Some(self)
    }
    /// None with a start-up delay or download stages: the analytic Jacobian is written for
    /// x, y only (the exact method applies; `auto` falls back to Dopri5 where it cannot go on).
    fn piecewise_smooth(&self) -> Option<&dyn PiecewiseSmooth> {
        if self.starting() || self.stages() > 1 {
            None
        } else {
            Some(self)
        }
    }
}

/// Between switches of the water level (which classes are capped, whether upload binds) and
/// of the server (idle or topping up), the right-hand side is a ratio of linear forms:
/// r = (S − Σ_capped c_j x_j) / Σ_free x_j. Its derivatives are written out here.
impl PiecewiseSmooth for Swarm {
    fn dynamic_dim(&self) -> usize {
        2 * self.k()
    }

    fn jacobian(&self, t: Seconds, z: &[f64], jac: &mut [f64], dfdt: &mut [f64]) {
        let k = self.k();
        let nd = 2 * k;
        let (x, y) = (&z[..k], &z[k..nd]);
        jac.fill(0.0);
        dfdt.fill(0.0);
        let peers = self.peer_supply(x, y);
        let (mut stack, mut heap) = ([0.0; 32], Vec::new());
        let d: &mut [f64] = if k <= stack.len() {
            &mut stack[..k]
        } else {
            heap.resize(k, 0.0);
            &mut heap
        };
        let (level, filled) = self.allocate_counted(x, peers + self.server, d);
        let served: f64 = d.iter().sum();
        // ∂U/∂z_j of the peers' upload U = Σ μ (η x + y). The rhs clamps populations at 0; the
        // derivative is taken on the side z ≥ 0 (an empty swarm fills up).
        let du = |j: usize| -> f64 {
            let (cl, v) = if j < k {
                (
                    &self.classes[j],
                    self.eta * f64::from(u8::from(x[j] >= 0.0)),
                )
            } else {
                (&self.classes[j - k], f64::from(u8::from(y[j - k] >= 0.0)))
            };
            cl.mu * v
        };
        let row_done = |i: usize| (2 * k + i) * nd;
        // ∂d_i/∂z into the rows of the completions (done_i' = d_i).
        if level.is_infinite() || filled >= k {
            for (i, cl) in self.classes.iter().enumerate() {
                if x[i] >= 0.0 {
                    jac[row_done(i) + i] = cl.c;
                }
            }
        } else {
            let free = &self.order[filled..];
            let x_free: f64 = free.iter().map(|&i| x[i].max(0.0)).sum();
            for &i in &self.order[..filled] {
                if x[i] >= 0.0 {
                    jac[row_done(i) + i] = self.classes[i].c;
                }
            }
            if x_free > 0.0 {
                // ∂r/∂x_j = (μ_j η − c_j [j capped] − r [j free]) / X_free, ∂r/∂y_j = μ_j / X_free.
                let mut dr = [0.0; 64];
                let mut dr_heap = Vec::new();
                let dr: &mut [f64] = if nd <= dr.len() {
                    &mut dr[..nd]
                } else {
                    dr_heap.resize(nd, 0.0);
                    &mut dr_heap
                };
                for (j, v) in dr.iter_mut().enumerate() {
                    *v = du(j);
                }
                for &j in &self.order[..filled] {
                    if x[j] >= 0.0 {
                        dr[j] -= self.classes[j].c;
                    }
                }
                for &j in free {
                    if x[j] >= 0.0 {
                        dr[j] -= level;
                    }
                }
                for v in dr.iter_mut() {
                    *v /= x_free;
                }
                for &i in free {
                    let row = row_done(i);
                    let xi = x[i].max(0.0);
                    for (dst, v) in jac[row..row + nd].iter_mut().zip(dr.iter()) {
                        *dst = xi * v;
                    }
                    if x[i] >= 0.0 {
                        jac[row + i] += level;
                    }
                }
            }
        }
        // The other rows from ∂d.
        let (head, rest) = jac.split_at_mut(2 * k * nd);
        let (dd, rest) = rest.split_at_mut(k * nd);
        for (i, cl) in self.classes.iter().enumerate() {
            let ddi = &dd[i * nd..(i + 1) * nd];
            let rx = &mut head[i * nd..(i + 1) * nd];
            for (dst, v) in rx.iter_mut().zip(ddi) {
                *dst = -v;
            }
            if x[i] >= 0.0 {
                rx[i] -= cl.theta;
            }
            if let Some(g) = cl.gamma {
                let ry = &mut head[(k + i) * nd..(k + i + 1) * nd];
                ry.copy_from_slice(ddi);
                ry[k + i] -= g;
            }
            if x[i] >= 0.0 {
                rest[i * nd + i] = cl.theta; // aborts
            }
        }
        // server = served − peer, peer = min(U, served).
        let (r_server, r_peer) = (k * nd, (k + 1) * nd);
        let peers_bind = peers < served;
        let server_busy = self.server < served;
        for j in 0..nd {
            let dserved: f64 = (0..k).map(|i| dd[i * nd + j]).sum();
            let dpeer = match self.terms.policy {
                ServerPolicy::Fill if peers_bind => du(j),
                ServerPolicy::Fill => dserved,
                ServerPolicy::Seed if server_busy => dserved,
                ServerPolicy::Seed => 0.0,
            };
            let bytes = self.bytes_per_progress();
            rest[r_peer + j] = dpeer * bytes;
            rest[r_server + j] = (dserved - dpeer) * bytes;
        }
        for i in 0..k {
            if x[i] >= 0.0 {
                rest[(k + 3 + i) * nd + i] = 1.0; // leecher time
            }
            if y[i] >= 0.0 {
                rest[(2 * k + 3 + i) * nd + k + i] = 1.0; // seed time
            }
        }
        let dl = self.arrival.rate_derivative(t);
        for (i, cl) in self.classes.iter().enumerate() {
            dfdt[i] = dl * cl.share;
        }
        dfdt[self.ix_arrivals()] = dl;
    }

    fn guard_count(&self) -> usize {
        self.k() + 1
    }

    /// g_j = S − Σ_i min(c_i, c_j) x_i for each class j (class j is capped iff g_j ≥ 0; the
    /// class with the largest c gives "upload binds"), and U − Σ_i c_i x_i (the server is idle
    /// iff ≥ 0). All linear in the populations.
    fn guards(&self, z: &[f64], g: &mut [f64]) {
        let k = self.k();
        let (x, y) = (&z[..k], &z[k..2 * k]);
        let peers = self.peer_supply(x, y);
        for (gj, cj) in g.iter_mut().zip(&self.classes) {
            let demand: f64 = self
                .classes
                .iter()
                .zip(x)
                .map(|(ci, &xi)| ci.c.min(cj.c) * xi.max(0.0))
                .sum();
            *gj = peers + self.server - demand;
        }
        let cap: f64 = self
            .classes
            .iter()
            .zip(x)
            .map(|(ci, &xi)| ci.c * xi.max(0.0))
            .sum();
        g[k] = match self.terms.policy {
            ServerPolicy::Fill => peers - cap,
            ServerPolicy::Seed => self.server - cap,
        };
    }

    fn time_kinks(&self) -> Vec<Seconds> {
        self.arrival.kinks()
    }
}

/// Regimes of the swarm as a switched system, for any number of classes (classes grouped by
/// equal c, G groups): 0 every leecher at its cap and the server idle; 1 every leecher at its
/// cap and the server topping up; 1 + j (j = 1..=G) the top j groups of c share what is left of
/// the upload at a common level, the others at their cap, the server fully used. Regimes 0 and
/// 1 are affine, and so is regime 2 when its free group is one class (it takes what the others
/// leave); with two or more free classes the level is a ratio of linear forms and the regime
/// gives Taylor series ([`PiecewiseAffine::taylor`]). With one class: 0 peers suffice,
/// 1 server tops up, 2 upload-limited, all affine.
/// One class's constants in the swarm's Taylor recursion ([`PiecewiseAffine::taylor`]).
#[derive(Debug, Clone, Copy, Default)]
struct Coef {
    /// c.
    c: f64,
    /// μη: upload per active leecher.
    mu_eta: f64,
    /// μ when seeds stay (γ given), else 0: upload per seed.
    mu_y: f64,
    /// Whether the class shares the upload at the common level in this regime.
    free: bool,
}

impl PiecewiseAffine for Swarm {
    fn dynamic_dim(&self) -> usize {
        self.nd()
    }
    fn regime_count(&self) -> usize {
        2 + self.c_groups().len()
    }
    fn regime_available(&self, r: usize) -> bool {
        match self.terms.policy {
            ServerPolicy::Fill => r != 1 || self.server > 0.0,
            ServerPolicy::Seed => r != 0 || self.server > 0.0,
        }
    }
    fn regime_is_affine(&self, r: usize) -> bool {
        // With k ≥ 2 stages a free class's stages leave at k r v_j, r a ratio of linear forms.
        r < 2 || (r == 2 && self.free_classes(r).len() == 1 && self.stages() == 1)
    }
    fn regime_label(&self, r: usize) -> &'static str {
        match self.terms.policy {
            ServerPolicy::Fill => ["peers-suffice", "server-tops-up", "upload-limited"][r.min(2)],
            ServerPolicy::Seed => ["server-suffices", "peers-top-up", "upload-limited"][r.min(2)],
        }
    }
    fn affine(&self, r: usize) -> Affine {
        self.regime_affine(r, false)
    }
    fn taylor(
        &self,
        r: usize,
        lambda: &[f64],
        a: &mut [f64],
        stride: usize,
        dc: &mut [f64],
        order: usize,
    ) -> bool {
        self.regime_taylor(r, lambda, a, stride, dc, order, false)
    }
    fn guards(&self, r: usize) -> Vec<Guard> {
        self.regime_guards(r, false)
    }
    /// Before the flash-crowd bound's gate (phase 0, when the bound is on): the last stage
    /// waits (`BeforeGate`, private).
    fn phase(&self, p: usize) -> Option<Box<dyn PiecewiseAffine + '_>> {
        if p == 0 && self.gate().is_some() {
            Some(Box::new(BeforeGate(self)))
        } else {
            None
        }
    }
    fn arrival(&self) -> &ArrivalProfile {
        &self.arrival
    }
}

/// The swarm before the flash-crowd bound's gate t_g as a switched system: the same regimes,
/// with the downloads on the stages before the last (the last stage waits and uploads) and no
/// completions. The exact solver uses it on [0, t_g) ([`PiecewiseAffine::phase`]).
struct BeforeGate<'a>(&'a Swarm);

impl PiecewiseAffine for BeforeGate<'_> {
    fn dynamic_dim(&self) -> usize {
        self.0.nd()
    }
    fn regime_count(&self) -> usize {
        PiecewiseAffine::regime_count(self.0)
    }
    fn regime_available(&self, r: usize) -> bool {
        self.0.regime_available(r)
    }
    fn regime_is_affine(&self, r: usize) -> bool {
        self.0.regime_is_affine(r)
    }
    fn regime_label(&self, r: usize) -> &'static str {
        self.0.regime_label(r)
    }
    fn affine(&self, r: usize) -> Affine {
        self.0.regime_affine(r, true)
    }
    fn taylor(
        &self,
        r: usize,
        lambda: &[f64],
        a: &mut [f64],
        stride: usize,
        dc: &mut [f64],
        order: usize,
    ) -> bool {
        self.0.regime_taylor(r, lambda, a, stride, dc, order, true)
    }
    fn guards(&self, r: usize) -> Vec<Guard> {
        self.0.regime_guards(r, true)
    }
    fn arrival(&self) -> &ArrivalProfile {
        &self.0.arrival
    }
}

/// The swarm's regimes in either phase of the flash-crowd bound (`closed`: before the gate).
impl Swarm {
    /// Normalised Taylor coefficients in a regime where several classes share the upload at a
    /// common level r = N / X_F (N = U + s − Σ_capped c_j x_j, X_F = Σ_free x_j): the level's
    /// series by division (shifted by one order when X_F = N = 0, an empty swarm starting to
    /// fill), each free class's d = x·r by convolution. Returns false when the series does not
    /// exist (X_F and its first derivative both zero), in an affine regime, or for `order` ≥ 64.
    #[allow(clippy::too_many_arguments)] // the trait's series arguments and the phase
    fn regime_taylor(
        &self,
        r: usize,
        lambda: &[f64],
        a: &mut [f64],
        stride: usize,
        dc: &mut [f64],
        order: usize,
        closed: bool,
    ) -> bool {
        const MAX: usize = 64;
        if r < 2 || order >= MAX {
            return false;
        }
        let k = self.k();
        let nd = self.nd();
        let nc = self.dim() - nd;
        let starting = self.starting();
        let nw = if starting { k } else { 0 };
        let ks = self.stages();
        let kf = ks as f64;
        // Coefficient m of the leechers of class i that have a first piece (x − w).
        let act = |a: &[f64], m: usize, i: usize| -> f64 {
            if starting {
                a[m * stride + i] - a[m * stride + 2 * k + i]
            } else {
                a[m * stride + i]
            }
        };
        let free = &self.order[self.free_start(r)..];
        let mut level = [0.0; MAX];
        let mut xf = [0.0; MAX];
        let (mut d_stack, mut d_heap) = ([0.0; 16], Vec::new());
        let d: &mut [f64] = if k <= d_stack.len() {
            &mut d_stack[..k]
        } else {
            d_heap.resize(k, 0.0);
            &mut d_heap
        };
        let row = |m: usize| m * stride;
        // The free classes' active leecher coefficients (x − w)_{f,0..m}, one row of `order`
        // each, kept contiguous so that the level convolution is a dot product of two slices.
        let (mut xs_stack, mut xs_heap) = ([0.0; 128], Vec::new());
        let xs_all: &mut [f64] = if free.len() * order <= xs_stack.len() {
            &mut xs_stack[..free.len() * order]
        } else {
            xs_heap.resize(free.len() * order, 0.0);
            &mut xs_heap
        };
        // Coefficient m of the leechers of class i that download: the active ones, or with the
        // flash-crowd bound's gate closed those before the last stage, Σ_{j<k} v_ij.
        let dl = |a: &[f64], m: usize, i: usize| -> f64 {
            if closed {
                (1..ks).map(|j| a[m * stride + self.ix_v(i, j)]).sum()
            } else {
                act(a, m, i)
            }
        };
        let shifted = free.iter().map(|&f| dl(a, 0, f)).sum::<f64>() <= 0.0;
        let (mut dm_stack, mut dm_heap) = ([0.0; 16], Vec::new());
        let dm_buf: &mut [f64] = if k <= dm_stack.len() {
            &mut dm_stack[..k]
        } else {
            dm_heap.resize(k, 0.0);
            &mut dm_heap
        };
        let mut am_stack = [0.0; 16];
        let mut am_heap = Vec::new();
        let am_buf: &mut [f64] = if k <= am_stack.len() {
            &mut am_stack[..k]
        } else {
            am_heap.resize(k, 0.0);
            &mut am_heap
        };
        // Each class's constants, read once per expansion instead of once per order.
        let is_free = |i: usize| free.contains(&i);
        let coef = |i: usize| {
            let cl = &self.classes[i];
            Coef {
                c: cl.c,
                mu_eta: cl.mu * self.eta,
                mu_y: if cl.gamma.is_some() { cl.mu } else { 0.0 },
                free: is_free(i),
            }
        };
        let (mut coef_stack, mut coef_heap) = ([Coef::default(); 16], Vec::new());
        let coefs: &[Coef] = if k <= coef_stack.len() {
            for (i, co) in coef_stack.iter_mut().take(k).enumerate() {
                *co = coef(i);
            }
            &coef_stack[..k]
        } else {
            coef_heap.extend((0..k).map(coef));
            &coef_heap
        };
        for m in 0..order {
            let (lo, hi) = a.split_at_mut(row(m + 1));
            let zm = &lo[row(m)..row(m) + nd];
            let (xm, rest) = zm.split_at(k);
            let (ym, rest) = rest.split_at(k);
            let wm = &rest[..nw];
            // The active leechers' coefficients: x itself without a start-up delay.
            let am: &[f64] = if starting {
                for (i, v) in am_buf.iter_mut().enumerate() {
                    *v = act(lo, m, i);
                }
                am_buf
            } else {
                xm
            };
            // The downloading leechers' coefficients: the active ones unless the gate is closed.
            let dm: &[f64] = if closed {
                for (i, v) in dm_buf.iter_mut().enumerate() {
                    *v = dl(lo, m, i);
                }
                dm_buf
            } else {
                am
            };
            // U_m, N_m = U_m + s [m = 0] − Σ_capped c_j x_j,m and X_F,m (x − w with a start-up
            // delay), and every class's d at its cap (the free ones' are replaced below).
            let (mut um, mut capped, mut xf_m) = (0.0, 0.0, 0.0);
            for ((((co, di), x), y), xd) in coefs.iter().zip(d.iter_mut()).zip(am).zip(ym).zip(dm) {
                um += co.mu_eta * x + co.mu_y * y;
                *di = co.c * xd;
                if co.free {
                    xf_m += xd;
                } else {
                    capped += *di;
                }
            }
            let nm = um + if m == 0 { self.server } else { 0.0 } - capped;
            xf[m] = xf_m;
            // Coefficients of the level known so far: r_0..r_m, or r_0..r_{m−1} when shifted.
            let known = if !shifted {
                let acc: f64 = xf[1..=m]
                    .iter()
                    .zip(level[..m].iter().rev())
                    .map(|(x, r)| x * r)
                    .sum();
                level[m] = (nm - acc) / xf[0];
                m + 1
            } else if m == 0 {
                0
            } else {
                if xf[1] <= 0.0 {
                    return false;
                }
                let acc: f64 = xf[2..=m]
                    .iter()
                    .zip(level[..m - 1].iter().rev())
                    .map(|(x, r)| x * r)
                    .sum();
                level[m - 1] = (nm - acc) / xf[1];
                m
            };
            for (j, &f) in free.iter().enumerate() {
                // (x·r)_m = Σ_l x_l r_{m−l}; with the shift x_0 = 0 and r_m is not needed.
                let xs = &mut xs_all[j * order..(j + 1) * order];
                xs[m] = dm[f];
                let lo_l = m + 1 - known;
                let lv = &level[..known];
                d[f] = xs[lo_l..=m]
                    .iter()
                    .zip(lv.iter().rev())
                    .map(|(x, r)| x * r)
                    .sum();
            }
            let inv = 1.0 / (m + 1) as f64;
            let cn = (m + 1) * nc;
            let (hx, rest) = hi[..nd].split_at_mut(k);
            let (hy, rest) = rest.split_at_mut(k);
            let (hw, hv) = rest.split_at_mut(nw);
            if ks > 1 {
                // ρ_i × a series (coefficient m): c_i × it for a capped class, its
                // convolution with the level for a free one (same window as d above).
                let times_rate = |i: usize, series: &dyn Fn(usize) -> f64| -> f64 {
                    if free.contains(&i) {
                        (m + 1 - known..=m).map(|l| series(l) * level[m - l]).sum()
                    } else {
                        self.classes[i].c * series(m)
                    }
                };
                for (i, cl) in self.classes.iter().enumerate() {
                    let vv = |l: usize, j: usize| lo[row(l) + self.ix_v(i, j)];
                    let last = |l: usize| act(lo, l, i) - (1..ks).map(|j| vv(l, j)).sum::<f64>();
                    let mut prev = if starting {
                        wm[i] * self.start_rate()
                    } else {
                        cl.share * lambda[m]
                    };
                    for j in 1..ks {
                        let out = kf * times_rate(i, &|l| vv(l, j));
                        hv[i * (ks - 1) + j - 1] = (prev - cl.theta * vv(m, j) - out) * inv;
                        prev = out;
                    }
                    // The gate closed: the last stage waits, nobody completes.
                    d[i] = if closed {
                        0.0
                    } else {
                        kf * times_rate(i, &last)
                    };
                }
            }
            let dcm = &mut dc[cn..cn + nc];
            let (dc_done, rest) = dcm.split_at_mut(k);
            let (dc_abort, rest) = rest.split_at_mut(k);
            let (dc_totals, rest) = rest.split_at_mut(3);
            let (dc_xt, rest) = rest.split_at_mut(k);
            let (dc_yt, dc_wt) = rest.split_at_mut(k);
            let lam = lambda[m];
            for (i, w) in wm.iter().enumerate() {
                let cl = &self.classes[i];
                hw[i] = (cl.share * lam - (cl.theta + self.start_rate()) * w) * inv;
                dc_wt[i] = w * inv;
            }
            for (i, cl) in self.classes.iter().enumerate() {
                let (x, y, di) = (xm[i], ym[i], d[i]);
                hx[i] = (cl.share * lam - cl.theta * x - di) * inv;
                hy[i] = cl.gamma.map_or(0.0, |g| (di - g * y) * inv);
                dc_done[i] = di * inv;
                dc_abort[i] = cl.theta * x * inv;
                dc_xt[i] = x * inv;
                dc_yt[i] = y * inv;
            }
            let bytes = self.bytes_per_progress();
            dc_totals[0] = if m == 0 { self.server * bytes } else { 0.0 };
            dc_totals[1] = um * inv * bytes;
            dc_totals[2] = lam * inv;
        }
        true
    }
    /// Linear guards from g(ĉ) = U + s − Σ_i min(c_i, ĉ) x_i (≥ 0: classes with c ≤ ĉ are at
    /// their cap) and the server's U − Σ_i c_i x_i (≥ 0: idle). With the flash-crowd bound's
    /// gate `closed` the demand is on the leechers before the last stage, Σ_{j<k} v_ij.
    fn regime_guards(&self, r: usize, closed: bool) -> Vec<Guard> {
        let n = self.dim();
        let upload = self.upload_form();
        let ks = self.stages();
        // w −= coef × (the downloading leechers of class i)
        let demand = |w: &mut DVector<f64>, i: usize, coef: f64| {
            for j in 1..ks {
                w[self.ix_v(i, j)] -= coef;
            }
        };
        let form = |c_hat: f64, w0: f64, sign: f64| {
            let mut w = DVector::zeros(n);
            for (j, u) in upload.iter().enumerate() {
                w[j] = sign * u;
            }
            for (i, cl) in self.classes.iter().enumerate() {
                if closed {
                    demand(&mut w, i, sign * cl.c.min(c_hat));
                    continue;
                }
                w[i] -= sign * cl.c.min(c_hat);
                if self.starting() {
                    w[2 * self.k() + i] += sign * cl.c.min(c_hat);
                }
            }
            Guard { w, w0: sign * w0 }
        };
        let c_max = self.classes.iter().map(|cl| cl.c).fold(0.0, f64::max);
        // s − Σ c_i x_i (≥ 0: a seeding server can serve every download alone).
        let alone = |sign: f64| {
            let mut w = DVector::zeros(n);
            for (i, cl) in self.classes.iter().enumerate() {
                if closed {
                    demand(&mut w, i, sign * cl.c);
                    continue;
                }
                w[i] = -sign * cl.c;
                if self.starting() {
                    w[2 * self.k() + i] = sign * cl.c;
                }
            }
            Guard {
                w,
                w0: sign * self.server,
            }
        };
        match (r, self.terms.policy) {
            (0, ServerPolicy::Seed) => vec![alone(1.0)],
            (1, ServerPolicy::Seed) => vec![alone(-1.0), form(c_max, self.server, 1.0)],
            (0, ServerPolicy::Fill) => vec![form(f64::INFINITY, 0.0, 1.0)],
            (1, ServerPolicy::Fill) => vec![
                form(f64::INFINITY, 0.0, -1.0),
                form(c_max, self.server, 1.0),
            ],
            _ => {
                let start = self.free_start(r);
                let c_free = self.classes[self.order[start]].c;
                let mut g = vec![form(c_free, self.server, -1.0)];
                if start > 0 {
                    let c_capped = self.classes[self.order[start - 1]].c;
                    g.push(form(c_capped, self.server, 1.0));
                }
                g
            }
        }
    }
}

/// Build the swarm model of a scenario (rates in files/s).
pub fn swarm_of(s: &crate::scenario::Scenario) -> Swarm {
    let bits = s.content.size * 8.0;
    // With duplicate bytes the model's rates are the useful ones: (1 − d) × the links.
    let useful = 1.0 - s.swarm.duplicates;
    let classes = s
        .classes
        .iter()
        .map(|c| SwarmClass {
            name: c.name.clone(),
            share: c.share,
            c: c.download * useful / bits,
            mu: c.upload * useful / bits,
            theta: c.abort_rate,
            gamma: (c.seed_residence > 0.0).then(|| 1.0 / c.seed_residence),
        })
        .collect();
    Swarm::new(
        classes,
        s.swarm.efficiency,
        s.server.capacity * useful / bits,
        s.demand.arrival.clone(),
        bits,
    )
    .with_terms(Terms {
        policy: s.server.policy,
        startup_delay: s.swarm.startup_delay,
        duplicates: s.swarm.duplicates,
        stages: s.swarm.stages,
        flash_crowd_bound: s.swarm.flash_crowd_bound,
    })
}

impl Swarm {
    /// The same swarm when only a share `q[k]` of class k's peers share (upload and seed);
    /// the others download but upload nothing and leave on completion. A class with
    /// 0 < q < 1 is split into `name` (sharers) and `name-out`; q = 0 keeps only `name-out`.
    pub fn with_participation(&self, q: &[f64]) -> Swarm {
        let mut classes = Vec::with_capacity(2 * self.k());
        for (cl, &qk) in self.classes.iter().zip(q) {
            let qk = qk.clamp(0.0, 1.0);
            if qk > 0.0 {
                classes.push(SwarmClass {
                    share: cl.share * qk,
                    ..cl.clone()
                });
            }
            if qk < 1.0 {
                classes.push(SwarmClass {
                    name: format!("{}{OPTED_OUT_SUFFIX}", cl.name),
                    share: cl.share * (1.0 - qk),
                    mu: 0.0,
                    gamma: None,
                    ..cl.clone()
                });
            }
        }
        Swarm::new(
            classes,
            self.eta,
            self.server,
            self.arrival.clone(),
            self.file_bits,
        )
        .with_terms(self.terms)
    }

    /// The mean-field twin of [`Swarm::with_participation`]: every peer seeds, but class k's
    /// upload is scaled by q\[k\]. Its steady state has the same leechers, level, server and
    /// peer flows as the split swarm (each class's pooled upload μq(ηx + r x/γ) is the same),
    /// with K classes instead of 2K; the sharers' seeds are q\[k\] times its seeds.
    pub fn with_scaled_upload(&self, q: &[f64]) -> Swarm {
        let mut out = self.clone();
        for (cl, &qk) in out.classes.iter_mut().zip(q) {
            cl.mu *= qk.clamp(0.0, 1.0);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    /// Closed forms are exact to double precision (literature.md tolerance convention).
    const CLOSED: f64 = 1e-9;

    fn one(lambda: f64, theta: f64, c: f64, mu: f64, eta: f64, gamma: f64, s: f64) -> Swarm {
        Swarm::new(
            vec![SwarmClass {
                name: "all".into(),
                share: 1.0,
                c,
                mu,
                theta,
                gamma: Some(gamma),
            }],
            eta,
            s,
            ArrivalProfile::Constant { rate: lambda },
            8.0,
        )
    }

    /// literature.md §1.5, QS-A/B/D and QS-server: the closed form and the general root search.
    #[test]
    fn reference_steady_states() {
        // (λ, θ, c, μ, η, γ, s) → (x̄, ȳ, regime)
        let cases = [
            (
                (1.0, 0.001, 1.0, 0.5, 0.9, 0.02, 0.0),
                (
                    0.999000999000999,
                    49.95004995004995,
                    Regime::DownloadLimited,
                ),
            ),
            (
                (1.0, 0.001, 0.1, 0.02, 1.0, 0.05, 0.0),
                (29.12621359223301, 19.41747572815534, Regime::UploadLimited),
            ),
            (
                (2.0, 0.0, 0.05, 0.02, 0.8, 0.04, 0.0),
                (62.5, 50.0, Regime::UploadLimited),
            ),
            (
                (1.0, 0.001, 0.1, 0.02, 1.0, 0.05, 0.2),
                (19.41747572815534, 19.61165048543689, Regime::UploadLimited),
            ),
        ];
        for ((l, th, c, mu, eta, g, s), (x, y, regime)) in cases {
            let (cx, cy, cr) =
                qiu_srikant_closed_form(l, th, c, mu, eta, Some(g), s).expect("exists");
            assert_relative_eq!(cx, x, max_relative = CLOSED);
            assert_relative_eq!(cy, y, max_relative = CLOSED);
            assert_eq!(cr, regime);
            let ss = &one(l, th, c, mu, eta, g, s)
                .steady_states(l)
                .expect("exists")[0];
            assert_relative_eq!(ss.leechers[0], x, max_relative = CLOSED);
            assert_relative_eq!(ss.seeds[0], y, max_relative = CLOSED);
            assert_eq!(ss.regime, regime);
        }
    }

    /// QS-A: T = 1/(θ+β) with β = 1; QS-B: β = 1/30 so T = 1/(0.001 + 1/30).
    #[test]
    fn download_time_is_littles_law() {
        let ss = &one(1.0, 0.001, 1.0, 0.5, 0.9, 0.02, 0.0)
            .steady_states(1.0)
            .expect("exists")[0];
        assert_relative_eq!(ss.mean_download_time(), 1.0 / 1.001, max_relative = CLOSED);
        let ss = &one(1.0, 0.001, 0.1, 0.02, 1.0, 0.05, 0.0)
            .steady_states(1.0)
            .expect("exists")[0];
        assert_relative_eq!(
            ss.mean_download_time(),
            1.0 / (0.001 + 1.0 / 30.0),
            max_relative = CLOSED
        );
        assert_relative_eq!(ss.level, 1.0 / 30.0, max_relative = CLOSED);
    }

    /// literature.md §1.3: eigenvalues of QS-A at equilibrium are −1.001 and −0.02.
    #[test]
    fn qs_a_slowest_rate_is_gamma() {
        let m = one(1.0, 0.001, 1.0, 0.5, 0.9, 0.02, 0.0);
        let ss = &m.steady_states(1.0).expect("exists")[0];
        let (slow, stable) = m.slowest_rate(ss);
        assert!(stable);
        // central differences on a linear regime are exact up to rounding
        assert_relative_eq!(slow, 0.02, max_relative = 1e-6);
    }

    /// QS-B's eigenvalues −0.0255 ± 0.0194872i: slowest |Re| is 0.0255.
    #[test]
    fn qs_b_eigenvalues_are_complex_and_damped() {
        let m = one(1.0, 0.001, 0.1, 0.02, 1.0, 0.05, 0.0);
        let ss = &m.steady_states(1.0).expect("exists")[0];
        let (jac, _) = m.population_jacobian(&m.state_of(ss));
        let eig = jac.complex_eigenvalues();
        for e in eig.iter() {
            assert_relative_eq!(e.re, -0.0255, max_relative = 1e-6);
            assert_relative_eq!(e.im.abs(), 0.0194872, max_relative = 1e-5);
        }
    }

    #[test]
    fn water_filling_is_work_conserving_and_capped() {
        let classes = vec![
            SwarmClass {
                name: "dsl".into(),
                share: 0.5,
                c: 0.1,
                mu: 0.01,
                theta: 0.0,
                gamma: Some(0.1),
            },
            SwarmClass {
                name: "fibre".into(),
                share: 0.5,
                c: 1.0,
                mu: 0.5,
                theta: 0.0,
                gamma: Some(0.1),
            },
        ];
        let m = Swarm::new(
            classes,
            1.0,
            0.0,
            ArrivalProfile::Constant { rate: 1.0 },
            8.0,
        );
        // supply = 0.01*10 + 0.5*10 = 5.1 < cap 0.1*10 + 1*10 = 11
        let f = m.flows(&[10.0, 10.0], &[0.0, 0.0]);
        assert_relative_eq!(f.download[0], 1.0, max_relative = 1e-12); // DSL capped
        assert_relative_eq!(f.download[1], 4.1, max_relative = 1e-12); // fibre gets the rest
        assert_relative_eq!(f.peer, 5.1, max_relative = 1e-12);
        assert!(f.server.abs() < 1e-15);
    }

    #[test]
    fn identical_classes_have_the_single_class_steady_state() {
        let single = one(1.0, 0.001, 0.1, 0.02, 1.0, 0.05, 0.0);
        let mk = |share, name: &str| SwarmClass {
            name: name.into(),
            share,
            c: 0.1,
            mu: 0.02,
            theta: 0.001,
            gamma: Some(0.05),
        };
        let split = Swarm::new(
            vec![mk(0.3, "a"), mk(0.7, "b")],
            1.0,
            0.0,
            ArrivalProfile::Constant { rate: 1.0 },
            8.0,
        );
        let s1 = &single.steady_states(1.0).expect("exists")[0];
        let s2 = &split.steady_states(1.0).expect("exists")[0];
        assert_relative_eq!(
            s2.leechers.iter().sum::<f64>(),
            s1.leechers[0],
            max_relative = CLOSED
        );
        assert_relative_eq!(
            s2.seeds.iter().sum::<f64>(),
            s1.seeds[0],
            max_relative = CLOSED
        );
        assert_relative_eq!(s2.leechers[0], 0.3 * s1.leechers[0], max_relative = CLOSED);
    }

    #[test]
    fn no_steady_state_when_nobody_uploads_or_aborts() {
        let m = one(1.0, 0.0, 0.1, 0.0, 1.0, 0.05, 0.0);
        assert!(m.steady_states(1.0).is_err());
    }

    #[test]
    fn guards_and_rhs_agree_in_every_regime() {
        // In each regime the affine form must equal the nonlinear right-hand side.
        let m = one(1.0, 0.001, 0.1, 0.02, 0.7, 0.05, 0.3);
        let pa = m
            .piecewise_affine()
            .expect("single class is piecewise affine");
        for (x, y) in [(1.0, 100.0), (10.0, 30.0), (50.0, 1.0)] {
            let mut z = State::zeros(m.dim());
            z[0] = x;
            z[1] = y;
            let r = (0..3)
                .find(|&r| {
                    pa.regime_available(r)
                        && pa.guards(r).iter().all(|g| g.value(z.as_slice()) >= 0.0)
                })
                .expect("some regime holds");
            let af = pa.affine(r);
            let lin = &af.a * z.rows(0, af.a.ncols()) + &af.b + &af.arrival * 1.0;
            let mut f = State::zeros(m.dim());
            m.rhs(0.0, &z, &mut f);
            for i in 0..m.dim() {
                assert_relative_eq!(lin[i], f[i], max_relative = 1e-12, epsilon = 1e-14);
            }
        }
    }

    /// Regime `r` of `pa` at state `z` (arrival rate 2, constant) gives the right-hand side
    /// `f` by its affine form or the first coefficient of its Taylor series of `order`, to
    /// rel 1e-12 (absolute `eps`); the series' rows (dynamic, integrals) when it has one.
    fn assert_regime_gives_rhs(
        pa: &dyn PiecewiseAffine,
        r: usize,
        z: &State,
        f: &State,
        order: usize,
        eps: f64,
    ) -> Option<(Vec<f64>, Vec<f64>)> {
        let (n, nd) = (z.len(), pa.dynamic_dim());
        let nc = n - nd;
        if pa.regime_is_affine(r) {
            let af = pa.affine(r);
            let lin = &af.a * z.rows(0, af.a.ncols()) + &af.b + &af.arrival * 2.0;
            for i in 0..n {
                assert_relative_eq!(lin[i], f[i], max_relative = 1e-12, epsilon = eps);
            }
            return None;
        }
        let mut lambda = vec![0.0; order];
        lambda[0] = 2.0;
        let mut a = vec![0.0; (order + 1) * nd];
        a[..nd].copy_from_slice(&z.as_slice()[..nd]);
        let mut dc = vec![0.0; (order + 1) * nc];
        assert!(pa.taylor(r, &lambda, &mut a, nd, &mut dc, order));
        for i in 0..nd {
            assert_relative_eq!(a[nd + i], f[i], max_relative = 1e-12, epsilon = eps);
        }
        for i in 0..nc {
            assert_relative_eq!(dc[nc + i], f[nd + i], max_relative = 1e-12, epsilon = eps);
        }
        Some((a, dc))
    }

    /// Slow, mid and fast downloaders (the mid class's seeds leave at once), η = 0.8, a server.
    fn three_classes(arrival: ArrivalProfile) -> Swarm {
        let mk = |name: &str, share, c, mu, gamma| SwarmClass {
            name: name.into(),
            share,
            c,
            mu,
            theta: 0.003,
            gamma,
        };
        Swarm::new(
            vec![
                mk("slow", 0.3, 0.05, 0.01, Some(0.1)),
                mk("mid", 0.3, 0.2, 0.05, None),
                mk("fast", 0.4, 1.0, 0.2, Some(0.02)),
            ],
            0.8,
            0.5,
            arrival,
            8.0,
        )
    }

    /// Where every class is at its cap the Jacobian splits by class, and the per-class
    /// eigenvalues equal a Schur decomposition of the whole (1e-10 relative: both are exact up
    /// to rounding); where classes share the upload the split is refused.
    #[test]
    fn block_eigenvalues_match_schur_where_classes_do_not_interact() {
        let mut capped = 0;
        for rate in [0.01, 0.05, 2.0, 20.0] {
            let m = three_classes(ArrivalProfile::Constant { rate });
            for ss in m.steady_states(rate).expect("steady") {
                let (jac, idx) = m.population_jacobian(&m.state_of(&ss));
                let schur = nalgebra::linalg::Schur::try_new(jac.clone(), f64::EPSILON, 10_000)
                    .expect("converges")
                    .complex_eigenvalues();
                let mut want: Vec<f64> = schur.iter().map(|e| e.re).collect();
                match m.block_eigenvalues(&jac, &idx) {
                    Some(eig) => {
                        capped += 1;
                        let mut got: Vec<f64> = eig.iter().map(|e| e.re).collect();
                        got.sort_by(f64::total_cmp);
                        want.sort_by(f64::total_cmp);
                        for (g, w) in got.iter().zip(&want) {
                            assert_relative_eq!(g, w, max_relative = 1e-10);
                        }
                        let slow = want.iter().map(|v| v.abs()).fold(f64::INFINITY, f64::min);
                        assert_relative_eq!(m.slowest_rate(&ss).0, slow, max_relative = 1e-10);
                    }
                    None => assert!(ss.regime.label() == "upload-limited", "{:?}", ss.regime),
                }
            }
        }
        assert!(capped > 0, "no steady state with every class capped");
    }

    /// With several classes, every regime agrees with the right-hand side: an affine regime's
    /// matrix gives f, and a nonlinear one's Taylor series gives f as its first coefficient
    /// and f′ = J f as twice its second (central differences along f). Each of the five
    /// pieces is named by exactly one regime.
    #[test]
    fn regimes_agree_with_rhs_for_several_classes() {
        let m = three_classes(ArrivalProfile::Constant { rate: 2.0 });
        let pa = m.piecewise_affine().expect("swarm has regimes");
        let (n, k) = (m.dim(), m.k());
        let (nd, nc) = (2 * k, n - 2 * k);
        assert_eq!(pa.regime_count(), 5);
        // (x, y) → the regime that holds
        let states: [([f64; 3], [f64; 3], usize); 5] = [
            ([1.0, 1.0, 1.0], [30.0, 0.0, 60.0], 0),   // peers suffice
            ([4.0, 4.0, 4.0], [2.0, 0.0, 20.0], 1),    // server tops up
            ([5.0, 3.0, 10.0], [1.0, 0.0, 10.0], 2),   // only the fast class shares
            ([5.0, 50.0, 50.0], [1.0, 0.0, 1.0], 3),   // mid and fast share
            ([200.0, 50.0, 10.0], [1.0, 0.0, 1.0], 4), // all share
        ];
        for (x, y, expected) in states {
            let mut z = State::zeros(n);
            for i in 0..k {
                z[m.ix_x(i)] = x[i];
                z[m.ix_y(i)] = y[i];
            }
            let holds: Vec<usize> = (0..pa.regime_count())
                .filter(|&r| {
                    pa.regime_available(r)
                        && pa.guards(r).iter().all(|g| g.value(z.as_slice()) >= 0.0)
                })
                .collect();
            assert_eq!(holds, vec![expected], "at x {x:?}, y {y:?}");
            let mut f = State::zeros(n);
            m.rhs(0.0, &z, &mut f);
            let Some((a, dc)) = assert_regime_gives_rhs(pa, expected, &z, &f, 2, 1e-14) else {
                continue;
            };
            let eps = 1e-5;
            let (mut fp, mut fm) = (State::zeros(n), State::zeros(n));
            m.rhs(0.0, &(&z + &f * eps), &mut fp);
            m.rhs(0.0, &(&z - &f * eps), &mut fm);
            for i in 0..nd {
                let fd = (fp[i] - fm[i]) / (2.0 * eps);
                assert_relative_eq!(2.0 * a[2 * nd + i], fd, max_relative = 1e-6, epsilon = 1e-9);
            }
            for i in 0..nc {
                let fd = (fp[nd + i] - fm[nd + i]) / (2.0 * eps);
                assert_relative_eq!(
                    2.0 * dc[2 * nc + i],
                    fd,
                    max_relative = 1e-6,
                    epsilon = 1e-9
                );
            }
        }
    }

    /// With the terms for real clients (a start-up delay, a seeding server) every regime's
    /// affine form or Taylor series equals the right-hand side, at the five states of
    /// `regimes_agree_with_rhs_for_several_classes` with a fifth of each class's leechers still
    /// starting (so the active leechers are the same): under "fill" the same regime holds.
    #[test]
    fn regimes_agree_with_rhs_with_the_terms() {
        for (policy, stages) in [
            (ServerPolicy::Fill, 1),
            (ServerPolicy::Seed, 1),
            (ServerPolicy::Fill, 3),
            (ServerPolicy::Seed, 3),
        ] {
            let m = three_classes(ArrivalProfile::Constant { rate: 2.0 }).with_terms(Terms {
                policy,
                startup_delay: 4.0,
                duplicates: 0.05,
                stages,
                flash_crowd_bound: false,
            });
            let pa = m.piecewise_affine().expect("swarm has regimes");
            let (n, k, nd) = (m.dim(), m.k(), m.nd());
            assert_eq!((nd, n), ((2 + stages) * k, (7 + stages) * k + 3));
            let states: [([f64; 3], [f64; 3], usize); 5] = [
                ([1.0, 1.0, 1.0], [30.0, 0.0, 60.0], 0),
                ([4.0, 4.0, 4.0], [2.0, 0.0, 20.0], 1),
                ([5.0, 3.0, 10.0], [1.0, 0.0, 10.0], 2),
                ([5.0, 50.0, 50.0], [1.0, 0.0, 1.0], 3),
                ([200.0, 50.0, 10.0], [1.0, 0.0, 1.0], 4),
            ];
            for (x, y, expected) in states {
                let mut z = State::zeros(n);
                for i in 0..k {
                    z[m.ix_x(i)] = x[i] / 0.8;
                    z[m.ix_w(i)] = 0.2 * x[i] / 0.8;
                    z[m.ix_y(i)] = y[i];
                    for j in 1..stages {
                        // Stages j < k hold 1/(k + j) of the active leechers each.
                        z[m.ix_v(i, j)] = x[i] / (stages + j) as f64;
                    }
                }
                let holds: Vec<usize> = (0..pa.regime_count())
                    .filter(|&r| {
                        pa.regime_available(r)
                            && pa.guards(r).iter().all(|g| g.value(z.as_slice()) >= 0.0)
                    })
                    .collect();
                if policy == ServerPolicy::Fill {
                    assert_eq!(holds, vec![expected], "at x {x:?}, y {y:?}");
                }
                let mut f = State::zeros(n);
                m.rhs(0.0, &z, &mut f);
                for &r in &holds {
                    assert_regime_gives_rhs(pa, r, &z, &f, 1, 1e-12);
                }
                assert!(!holds.is_empty(), "a regime holds at x {x:?}, y {y:?}");
            }
        }
    }

    /// Before the flash-crowd bound's gate (t_g = 1/s = 2 s here, rhs at t = 1 s) every regime
    /// of the phase-0 dynamics (`BeforeGate`) whose guards hold gives the right-hand side by
    /// its affine form or Taylor series (1e-12), with and without a start-up delay, filling and
    /// seeding; nobody completes; and from t_g on the phase is the model's own.
    #[test]
    fn regimes_before_the_gate_agree_with_rhs() {
        for (policy, startup_delay) in [
            (ServerPolicy::Fill, 0.0),
            (ServerPolicy::Seed, 0.0),
            (ServerPolicy::Fill, 4.0),
            (ServerPolicy::Seed, 4.0),
        ] {
            let stages = 3;
            let m = three_classes(ArrivalProfile::Constant { rate: 2.0 }).with_terms(Terms {
                policy,
                startup_delay,
                duplicates: 0.0,
                stages,
                flash_crowd_bound: true,
            });
            assert_relative_eq!(m.gate().expect("on"), 2.0, max_relative = 1e-15);
            assert_eq!(m.time_events(), vec![2.0]);
            let whole = m.piecewise_affine().expect("swarm has regimes");
            assert!(whole.phase(1).is_none());
            let pa = whole.phase(0).expect("before the gate");
            let (n, k) = (m.dim(), m.k());
            let mut held = 0;
            for (x, y, last) in [
                ([1.0, 1.0, 1.0], [30.0, 0.0, 60.0], 0.5),
                ([4.0, 4.0, 4.0], [2.0, 0.0, 20.0], 0.2),
                ([5.0, 3.0, 10.0], [1.0, 0.0, 10.0], 0.5),
                ([5.0, 50.0, 50.0], [1.0, 0.0, 1.0], 0.1),
                ([200.0, 50.0, 10.0], [1.0, 0.0, 1.0], 0.3),
            ] {
                let mut z = State::zeros(n);
                for i in 0..k {
                    z[m.ix_x(i)] = x[i];
                    z[m.ix_y(i)] = y[i];
                    let active = if startup_delay > 0.0 {
                        z[m.ix_w(i)] = 0.1 * x[i];
                        0.9 * x[i]
                    } else {
                        x[i]
                    };
                    // A share `last` of the active leechers waits in the last stage.
                    for j in 1..stages {
                        z[m.ix_v(i, j)] = active * (1.0 - last) / (stages - 1) as f64;
                    }
                }
                let mut f = State::zeros(n);
                m.rhs(1.0, &z, &mut f);
                for i in 0..k {
                    // Exactly +0 (the rhs writes 0 for the last stage's exits).
                    assert_eq!(f[m.ix_done(i)].to_bits(), 0, "a completion before the gate");
                }
                let holds: Vec<usize> = (0..pa.regime_count())
                    .filter(|&r| {
                        pa.regime_available(r)
                            && pa.guards(r).iter().all(|g| g.value(z.as_slice()) >= 0.0)
                    })
                    .collect();
                assert!(!holds.is_empty(), "a regime holds at x {x:?}, y {y:?}");
                held += holds.len();
                for &r in &holds {
                    assert_regime_gives_rhs(pa.as_ref(), r, &z, &f, 1, 1e-12);
                }
                // From the gate on: the model without the bound.
                let mut after = State::zeros(n);
                m.rhs(2.0, &z, &mut after);
                let mut off = State::zeros(n);
                let free =
                    three_classes(ArrivalProfile::Constant { rate: 2.0 }).with_terms(Terms {
                        flash_crowd_bound: false,
                        ..*m.terms()
                    });
                free.rhs(2.0, &z, &mut off);
                assert_eq!(after.as_slice(), off.as_slice());
            }
            assert!(held >= 5);
        }
    }

    /// The analytic Jacobian of the several-class swarm against central differences, in each
    /// piece: download-limited with and without the server, upload-limited with 0, 1 and 2
    /// classes capped; and the guards name the piece.
    #[test]
    fn jacobian_matches_central_differences_in_every_piece() {
        let m = three_classes(ArrivalProfile::FlashCrowd {
            rate: 2.0,
            decay_time: 300.0,
        });
        let ps = m.piecewise_smooth().expect("swarm has a Jacobian");
        let (n, nd, k) = (m.dim(), ps.dynamic_dim(), m.k());
        // (x, y) → expected (capped classes when upload binds, or None; server busy)
        let states: [([f64; 3], [f64; 3]); 5] = [
            ([1.0, 1.0, 1.0], [30.0, 0.0, 60.0]),   // peers suffice
            ([4.0, 4.0, 4.0], [2.0, 0.0, 20.0]),    // server tops up
            ([200.0, 50.0, 10.0], [1.0, 0.0, 1.0]), // upload-limited, nobody capped
            ([5.0, 50.0, 50.0], [1.0, 0.0, 1.0]),   // slow capped
            ([5.0, 3.0, 10.0], [1.0, 0.0, 10.0]),   // slow and mid capped
        ];
        let mut jac = vec![0.0; n * nd];
        let mut dfdt = vec![0.0; n];
        let mut g = vec![0.0; ps.guard_count()];
        let mut pattern = Vec::new();
        for (x, y) in states {
            let mut z = State::zeros(n);
            for i in 0..k {
                z[m.ix_x(i)] = x[i];
                z[m.ix_y(i)] = y[i];
            }
            let t = 100.0;
            ps.jacobian(t, z.as_slice(), &mut jac, &mut dfdt);
            let (mut fp, mut fm) = (State::zeros(n), State::zeros(n));
            for j in 0..nd {
                let h = 1e-6 * z[j].abs().max(1.0);
                let (mut zp, mut zm) = (z.clone(), z.clone());
                zp[j] += h;
                // At a population of 0 the derivative is the one on the side z ≥ 0 (the
                // rhs clamps at 0): forward differences there (O(h), exact for linear rows).
                let one_sided = z[j] <= 0.0;
                if !one_sided {
                    zm[j] -= h;
                }
                m.rhs(t, &zp, &mut fp);
                m.rhs(t, &zm, &mut fm);
                for i in 0..n {
                    let fd = (fp[i] - fm[i]) / if one_sided { h } else { 2.0 * h };
                    // central differences inside a smooth piece: O(h²) truncation
                    assert_relative_eq!(jac[i * nd + j], fd, max_relative = 1e-6, epsilon = 1e-8);
                }
            }
            let h = 1e-3;
            m.rhs(t + h, &z, &mut fp);
            m.rhs(t - h, &z, &mut fm);
            for i in 0..n {
                let fd = (fp[i] - fm[i]) / (2.0 * h);
                assert_relative_eq!(dfdt[i], fd, max_relative = 1e-6, epsilon = 1e-10);
            }
            ps.guards(&z.as_slice()[..nd], &mut g);
            pattern.push(g.iter().map(|v| *v >= 0.0).collect::<Vec<_>>());
        }
        // guards: [slow capped, mid capped, fast capped (= download-limited), peers suffice]
        assert_eq!(pattern[0], [true, true, true, true]);
        assert_eq!(pattern[1], [true, true, true, false]);
        assert_eq!(pattern[2], [false, false, false, false]);
        assert_eq!(pattern[3], [true, false, false, false]);
        assert_eq!(pattern[4], [true, true, false, false]);
    }
}
