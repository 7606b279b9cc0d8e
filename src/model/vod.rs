//! Peer-assisted video on demand: Huang, Li & Ross, "Can Internet Video-on-Demand Be
//! Profitable?", SIGCOMM 2007 (literature §4; card `models/vod.md`).
//!
//! `N ~ Poisson(ρ)` viewers watch one video of rate `r`; viewer i can upload `U_i` (i.i.d.,
//! a discrete [`UploadDistribution`]). With prefetching the peers' upload is pooled and the
//! server sends
//!
//! `S = (Σ_{i≤N} (r − U_i))^+`            ([`pooled_server_load`]),
//!
//! against `r N` client-server. Because the counts `N_j` of viewers with upload value `v_j`
//! are independent `Poisson(ρ p_j)`, `Σ (r − U_i) = Σ_j (r − v_j) N_j`, whose exact
//! distribution is a convolution on the lattice spanned by the deficits `r − v_j`
//! ([`LatticeDistribution`]). Without prefetching, arrival order matters
//! ([`ordered_server_load`]). On top of these: the operating [`mode`] and the asymptotes of
//! §4.1, the 95th-percentile server bandwidth over a day ([`diurnal_load`]), and a Zipf
//! catalogue of single-video swarms ([`zipf_catalogue`]).
//!
//! Exact sums, no ODE. Rates in bit/s (or any one unit: every function is homogeneous in the
//! rates); audiences are mean numbers of concurrent viewers.

use crate::cost::billing::percentile_95;
use crate::error::VideoError;
use crate::model::streaming::{
    check_mean, check_nonneg, check_positive, expected_server_load, out_of_range, poisson_pmf,
    poisson_window, LatticeDistribution, MAX_DENOMINATOR,
};
pub use crate::scenario::spec::MAX_TITLES;
use crate::units::BitsPerSec;

/// Probabilities of an [`UploadDistribution`] must sum to 1 within this.
pub const PROBABILITY_SUM_TOLERANCE: f64 = 1e-9;

/// `mean_upload` counts as balanced when `|ū − r| ≤ BALANCE_TOLERANCE · r`: the mode is a
/// property of the exact means, and this only absorbs rounding in `ū` (e.g. 0.1 + 0.2). For a
/// finite audience the balanced regime of §4.1 is wider, `|ū − r| ≲ sqrt(E[(r−U)²]/ρ)`; compare
/// [`balanced_asymptote`] and [`deficit_asymptote`] with [`PooledLoad::mean`] for that.
pub const BALANCE_TOLERANCE: f64 = 1e-9;

/// A quantile is the smallest lattice value whose cumulative probability is at least
/// `p − QUANTILE_TOLERANCE` (so that rounding in the sums cannot skip an exact hit).
pub const QUANTILE_TOLERANCE: f64 = 1e-12;

/// A discrete distribution of peer upload rates: `P(U = values[j]) = probs[j]`.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadDistribution {
    values: Vec<f64>,
    probs: Vec<f64>,
}

impl UploadDistribution {
    /// A distribution with `values` (bit/s, finite, ≥ 0) and `probs` (in `[0, 1]`, summing to
    /// 1 within [`PROBABILITY_SUM_TOLERANCE`]), of the same non-zero length.
    ///
    /// # Errors
    ///
    /// [`VideoError::OutOfRange`] naming the first bad element, a length mismatch or the sum.
    pub fn new(values: Vec<f64>, probs: Vec<f64>) -> Result<Self, VideoError> {
        if values.is_empty() {
            return Err(out_of_range("values.len()", 0.0, "≥ 1"));
        }
        if probs.len() != values.len() {
            return Err(out_of_range(
                "probs.len()",
                probs.len() as f64,
                &format!("= values.len() = {}", values.len()),
            ));
        }
        for (j, &v) in values.iter().enumerate() {
            check_nonneg(&format!("values[{j}]"), v)?;
        }
        for (j, &p) in probs.iter().enumerate() {
            if !(0.0..=1.0).contains(&p) {
                return Err(out_of_range(format!("probs[{j}]"), p, "in [0, 1]"));
            }
        }
        let sum: f64 = probs.iter().sum();
        if (sum - 1.0).abs() > PROBABILITY_SUM_TOLERANCE {
            return Err(out_of_range("sum of probs", sum, "1 within 1e-9"));
        }
        Ok(Self { values, probs })
    }

    /// Upload values (bit/s).
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Their probabilities.
    pub fn probs(&self) -> &[f64] {
        &self.probs
    }

    /// Mean upload `ū = Σ_j p_j v_j` (bit/s).
    pub fn mean(&self) -> f64 {
        self.values
            .iter()
            .zip(&self.probs)
            .map(|(v, p)| v * p)
            .sum()
    }

    /// `E[(r − U)²]` (bit²/s²), the variance term of the balanced asymptote.
    pub fn mean_squared_deficit(&self, rate_bps: BitsPerSec) -> f64 {
        self.values
            .iter()
            .zip(&self.probs)
            .map(|(v, p)| p * (rate_bps - v).powi(2))
            .sum()
    }

    /// `(upload, mean count)` per value for an audience of mean `rho`.
    fn classes(&self, rho: f64) -> Vec<(f64, f64)> {
        self.values
            .iter()
            .zip(&self.probs)
            .map(|(&v, &p)| (v, rho * p))
            .collect()
    }
}

/// Validates rate (> 0) and audience (a Poisson mean).
fn check_rate_rho(rate_bps: f64, rho: f64) -> Result<(), VideoError> {
    check_positive("rate_bps", rate_bps)?;
    check_mean("rho", rho)?;
    Ok(())
}

/// Validates a quantile level.
fn check_level(p: f64) -> Result<(), VideoError> {
    if p > 0.0 && p < 1.0 {
        Ok(())
    } else {
        Err(out_of_range("p", p, "in (0, 1)"))
    }
}

/// The exact distribution of the pooled server load `S = (Σ_{i≤N} (r − U_i))^+`.
#[derive(Debug, Clone, PartialEq)]
pub struct PooledLoad {
    lattice: LatticeDistribution,
}

/// Exact distribution of the pooled (prefetching) server load for a video of rate
/// `rate_bps`, `N ~ Poisson(rho)` viewers and uploads from `uploads` (literature §4.1).
///
/// Method: the counts per upload value are independent `Poisson(ρ p_j)`, so
/// `X = Σ_j (r − v_j) N_j` is a convolution of their (truncated, [`TAIL_MASS`]-bounded)
/// windows on the lattice of the deficits `r − v_j`, and `S = X^+`. Any number of values is
/// exact as long as the deficits share a step `max|r − v|/q`, `q ≤ 10 000` (e.g. uploads on a
/// 1 kbit/s grid with r on the same grid, up to 10 Mbit/s).
///
/// [`TAIL_MASS`]: crate::model::streaming::TAIL_MASS
///
/// # Errors
///
/// [`VideoError::OutOfRange`] for `rate_bps ≤ 0` or `rho` outside `[0, 1e8]`;
/// [`VideoError::NoLattice`] / [`VideoError::TooLarge`] from [`LatticeDistribution::new`].
pub fn pooled_server_load(
    rate_bps: BitsPerSec,
    rho: f64,
    uploads: &UploadDistribution,
) -> Result<PooledLoad, VideoError> {
    pooled_server_load_within(rate_bps, rho, uploads, u64::MAX)
}

/// [`pooled_server_load`], refused with [`VideoError::TooLarge`] when its lattice
/// convolution would take more than `max_work` multiply-adds
/// ([`LatticeDistribution::within`]).
///
/// # Errors
///
/// As [`pooled_server_load`], and [`VideoError::TooLarge`] above `max_work`.
pub fn pooled_server_load_within(
    rate_bps: BitsPerSec,
    rho: f64,
    uploads: &UploadDistribution,
    max_work: u64,
) -> Result<PooledLoad, VideoError> {
    check_rate_rho(rate_bps, rho)?;
    let deficits: Vec<(f64, f64)> = uploads
        .classes(rho)
        .into_iter()
        .map(|(v, m)| (rate_bps - v, m))
        .collect();
    Ok(PooledLoad {
        lattice: LatticeDistribution::within("pooled_server_load", &deficits, max_work)?,
    })
}

impl PooledLoad {
    /// The multiply-adds its lattice convolution was bounded by (what it cost).
    pub fn work(&self) -> u64 {
        self.lattice.work
    }

    /// `E[S]` (bit/s).
    pub fn mean(&self) -> f64 {
        self.lattice.iter().map(|(x, p)| p * x.max(0.0)).sum()
    }

    /// The `p`-quantile of `S`: the smallest lattice value `s ≥ 0` with `P(S ≤ s) ≥ p` (within
    /// [`QUANTILE_TOLERANCE`]).
    ///
    /// # Errors
    ///
    /// [`VideoError::OutOfRange`] unless `0 < p < 1`.
    pub fn quantile(&self, p: f64) -> Result<f64, VideoError> {
        check_level(p)?;
        let mut cdf = 0.0;
        let mut last = 0.0;
        for (x, q) in self.lattice.iter() {
            cdf += q;
            last = x;
            if cdf + QUANTILE_TOLERANCE >= p {
                return Ok(x.max(0.0));
            }
        }
        Ok(last.max(0.0))
    }

    /// Probability mass left out by truncating the Poisson windows (a bound on the error of
    /// any probability computed from this distribution).
    pub fn tail_bound(&self) -> f64 {
        self.lattice.omitted
    }

    /// The lattice distribution of `X = Σ_i (r − U_i)` (so `S = X^+`).
    pub fn deficit_distribution(&self) -> &LatticeDistribution {
        &self.lattice
    }
}

/// `E[S_seq]`, the expected server load of `N ~ Poisson(ρ)` viewers served in arrival order
/// without prefetching (literature §4.1: `S_seq = max_{k≥1}(k r − Σ_{j<k} U_j)`, 0 without
/// viewers), exactly: `S_seq = r + max(0, W_1, …, W_{N−1})` for the walk `W_m = Σ_{j≤m}
/// (r − U_j)`, and by Spitzer's identity `E[max(0, W_1, …, W_n)] = Σ_{m=1}^{n} E[W_m^+]/m`, so
///
/// ```text
/// E[S_seq] = r P(N ≥ 1) + Σ_{m≥1} P(N ≥ m + 1) E[W_m^+] / m
/// ```
///
/// with `E[W_m^+]` from the walk's distribution on the deficits' common lattice (convolved one
/// step at a time), up to `m = ρ + 40√ρ + 40` (beyond, `P(N ≥ m + 1)` is below 1e-300).
/// Returns the mean (bit/s) and the multiply-adds it took.
///
/// # Errors
///
/// [`VideoError::OutOfRange`] for `rate_bps ≤ 0` or `rho` outside `[0, 1e8]`;
/// [`VideoError::NoLattice`] when the deficits `r − u` share no step `max|r − u|/q`,
/// `q ≤ 10 000`; [`VideoError::TooLarge`] when the convolutions would take more than
/// `max_work` multiply-adds (checked before any is done).
pub fn ordered_mean_load(
    rate_bps: BitsPerSec,
    rho: f64,
    uploads: &UploadDistribution,
    max_work: u64,
) -> Result<(f64, u64), VideoError> {
    check_rate_rho(rate_bps, rho)?;
    let r = rate_bps;
    if rho <= 0.0 {
        return Ok((0.0, 0));
    }
    let deficits: Vec<f64> = uploads.values.iter().map(|v| r - v).collect();
    let scale = deficits.iter().map(|d| d.abs()).fold(0.0, f64::max);
    let (step, mults): (f64, Vec<i64>) = if scale > 0.0 {
        let q = (1..=MAX_DENOMINATOR)
            .find(|&q| {
                deficits.iter().all(|d| {
                    let x = d / scale * q as f64;
                    (x - x.round()).abs() <= 1e-9
                })
            })
            .ok_or_else(|| VideoError::NoLattice {
                what: "ordered_mean_load".to_string(),
                deficits: deficits.clone(),
                max_denominator: MAX_DENOMINATOR,
            })?;
        (
            scale / q as f64,
            deficits
                .iter()
                .map(|d| (d / scale * q as f64).round() as i64)
                .collect(),
        )
    } else {
        (1.0, vec![0; deficits.len()])
    };
    let top = ((rho + 40.0 * rho.sqrt() + 40.0).ceil() as usize).max(1);
    let (lo_step, hi_step) = (
        mults.iter().copied().fold(0i64, i64::min),
        mults.iter().copied().fold(0i64, i64::max),
    );
    let span = (hi_step - lo_step).unsigned_abs() + 1;
    // Σ_m (positions after m steps) × values: about top² span k / 2.
    let work = (top as u64)
        .saturating_mul(top as u64)
        .saturating_mul(span)
        .saturating_mul(mults.len() as u64)
        / 2;
    if work > max_work {
        return Err(VideoError::TooLarge {
            what: "ordered_mean_load (multiply-adds of the walk)".to_string(),
            size: work,
            limit: max_work,
            hint: "use fewer viewers or upload values on a coarser common step".to_string(),
        });
    }
    // P(N ≥ n) for n = 0..=top + 1, summed from the top (the mass beyond is negligible).
    let pmf: Vec<f64> = (0..=top as u64 + 1).map(|n| poisson_pmf(rho, n)).collect();
    let mut tail = vec![0.0; pmf.len() + 1];
    for n in (0..pmf.len()).rev() {
        tail[n] = tail[n + 1] + pmf[n];
    }
    let mut total = r * tail[1];
    // The walk's distribution: probs[i] = P(W_m = (first + i) · step).
    let (mut first, mut probs) = (0i64, vec![1.0f64]);
    for m in 1..=top {
        let weight = tail[m + 1];
        if weight < 1e-300 {
            break;
        }
        let mut next = vec![0.0; probs.len() + (hi_step - lo_step) as usize];
        for (i, &p) in probs.iter().enumerate() {
            if p == 0.0 {
                continue;
            }
            for (&d, &q) in mults.iter().zip(&uploads.probs) {
                next[(i as i64 + d - lo_step) as usize] += p * q;
            }
        }
        first += lo_step;
        probs = next;
        let positive: f64 = probs
            .iter()
            .enumerate()
            .filter(|(i, _)| first + *i as i64 > 0)
            .map(|(i, p)| (first + i as i64) as f64 * p)
            .sum();
        total += weight * positive * step / m as f64;
    }
    Ok((total, work))
}

/// Most upload compositions [`self_service_correction`] enumerates (each a few flops).
pub const SELF_SERVICE_WORK: u64 = 2_000_000;

/// What the pooled formula misses because a viewer's upload can only go to *other* viewers
/// (issue 19): with `n` viewers, viewer i can usefully upload at most `(n − 1) r`, so the
/// server sends `S_n = (Σ_i (r − min(U_i, (n − 1) r)))^+`; a lone viewer gets the whole stream
/// from the server (`S_1 = r`). The pooled formula `(Σ_i (r − U_i))^+` counts every upload
/// whole. The two differ only for audiences with `(n − 1) r < max u`, so the correction is the
/// finite sum `Σ_{n < n*} P(N = n) (E[S_n] − E[S_n^pooled])`, `n* = ⌈max u / r⌉ + 1`, each term
/// an exact sum over the multinomial compositions of n viewers over the upload values. It is
/// ≥ 0 term by term (capping uploads only raises deficits) and at least `P(N = 1) (r − E[(r −
/// U)^+])`.
///
/// Audiences farther than 40√ρ + 40 from ρ, or whose Poisson weight is below 1e-300, add
/// nothing and are skipped. Returns the
/// correction (bit/s) and whether it is complete: past [`SELF_SERVICE_WORK`] compositions the
/// remaining audiences are left out (a lower bound, still including the lone viewer).
///
/// # Errors
///
/// [`VideoError::OutOfRange`] for `rate_bps ≤ 0` or `rho` outside `[0, 1e8]`.
pub fn self_service_correction(
    rate_bps: BitsPerSec,
    rho: f64,
    uploads: &UploadDistribution,
) -> Result<(f64, bool), VideoError> {
    check_rate_rho(rate_bps, rho)?;
    Ok(SelfService::new(rate_bps, uploads)?.correction(rho))
}

/// [`self_service_correction`] for many audiences: the per-audience differences
/// `δ_n = E[S_n] − E[S_n^pooled]` do not depend on ρ, so they are summed over the compositions
/// once, and each audience costs a few Poisson weights.
#[derive(Debug, Clone)]
pub struct SelfService {
    /// δ_n for n = 1, 2, … (index n − 1), up to n* − 1 or as far as the work allowed.
    deltas: Vec<f64>,
    /// Whether every n < n* is in `deltas`.
    complete: bool,
}

impl SelfService {
    /// The differences δ_n for a stream of `rate_bps` and these uploads.
    ///
    /// # Errors
    ///
    /// [`VideoError::OutOfRange`] for `rate_bps ≤ 0`.
    pub fn new(rate_bps: BitsPerSec, uploads: &UploadDistribution) -> Result<Self, VideoError> {
        check_positive("rate_bps", rate_bps)?;
        let r = rate_bps;
        let top = uploads.values.iter().copied().fold(0.0, f64::max);
        if top <= 0.0 {
            return Ok(Self {
                deltas: Vec::new(),
                complete: true,
            });
        }
        // Smallest n with (n − 1) r ≥ max u: from there on no upload is capped.
        let n_star = (top / r).ceil().min(1e9) as u64 + 1;
        let k = uploads.values.len();
        let ln_p: Vec<f64> = uploads.probs.iter().map(|p| p.ln()).collect();
        let mut ln_fact = vec![0.0f64];
        let mut deltas = Vec::new();
        let mut work = 0u64;
        let mut counts = vec![0u64; k];
        for n in 1..n_star {
            while ln_fact.len() <= n as usize {
                let m = ln_fact.len() as f64;
                let last = ln_fact[ln_fact.len() - 1];
                ln_fact.push(last + m.ln());
            }
            let cap = (n - 1) as f64 * r;
            // Σ over compositions (m_1..m_k) of n: multinomial probability × the difference.
            let (mut capped, mut pooled) = (0.0, 0.0);
            counts.iter_mut().for_each(|c| *c = 0);
            counts[k - 1] = n;
            loop {
                work += 1;
                if work > SELF_SERVICE_WORK {
                    return Ok(Self {
                        deltas,
                        complete: false,
                    });
                }
                let mut log_p = ln_fact[n as usize];
                let (mut x_cap, mut x_pool) = (0.0, 0.0);
                for ((&m, &v), &lp) in counts.iter().zip(&uploads.values).zip(&ln_p) {
                    if m > 0 {
                        log_p += m as f64 * lp - ln_fact[m as usize];
                    }
                    x_cap += m as f64 * (r - v.min(cap));
                    x_pool += m as f64 * (r - v);
                }
                let prob = log_p.exp();
                capped += prob * x_cap.max(0.0);
                pooled += prob * x_pool.max(0.0);
                if !next_composition(&mut counts, n) {
                    break;
                }
            }
            deltas.push((capped - pooled).max(0.0));
        }
        Ok(Self {
            deltas,
            complete: true,
        })
    }

    /// `Σ_n P(N = n) δ_n` for `N ~ Poisson(rho)` (audiences farther than 40√ρ + 40 from ρ
    /// carry no weight), and whether every δ_n was computed.
    pub fn correction(&self, rho: f64) -> (f64, bool) {
        if rho.is_nan() || rho <= 0.0 || self.deltas.is_empty() {
            return (0.0, self.complete);
        }
        let spread = 40.0 * rho.sqrt() + 40.0;
        let lo = (rho - spread).floor().max(1.0) as usize;
        let hi = ((rho + spread).ceil() as usize).min(self.deltas.len());
        let sum = (lo..=hi)
            .map(|n| poisson_pmf(rho, n as u64) * self.deltas[n - 1])
            .sum();
        (sum, self.complete)
    }
}

/// The next composition of `n` into `c.len()` parts (an odometer over the first parts, the
/// last holding the rest); false after the last one.
fn next_composition(c: &mut [u64], n: u64) -> bool {
    let k = c.len();
    if k < 2 {
        return false;
    }
    let mut i = k - 2;
    loop {
        c[i] += 1;
        let used: u64 = c[..k - 1].iter().sum();
        if used <= n {
            c[k - 1] = n - used;
            return true;
        }
        c[i] = 0;
        if i == 0 {
            return false;
        }
        i -= 1;
    }
}

/// Largest move of a deficit `r − u` that [`snap_uploads`] makes, as a share of the largest
/// deficit `max|r − u|`: 0.005 %, half a step of a 10,000-step lattice.
pub const SNAP_TOLERANCE: f64 = 5e-5;

/// Upload values moved onto a common step with the bitrate, for the exact lattice sums.
#[derive(Debug, Clone, PartialEq)]
pub struct SnappedUploads {
    /// The upload values (bit/s, ≥ 0), each deficit `r − u` a whole multiple of `step`.
    pub values: Vec<f64>,
    /// The common step of the deficits, `max|r − u| / steps` (bit/s; 0 when every deficit is
    /// 0).
    pub step: f64,
    /// Steps in the largest deficit: the lattice's resolution, which the work of the exact
    /// sums grows with (≤ [`MAX_DENOMINATOR`]; 0 when every deficit is 0).
    pub steps: u64,
    /// Whether some value moved by more than rounding (1e-9 of a step): the exact sums are
    /// then exact for `values`, not for the uploads given.
    pub moved: bool,
}

/// The coarsest common step of the deficits `r − u_j` that moves none of them by more than
/// [`SNAP_TOLERANCE`] × `max|r − u|`.
///
/// `steps` is the smallest `q ≤` [`MAX_DENOMINATOR`] for which every deficit lies within that
/// tolerance of a multiple of `max|r − u| / q`. Deficits already on a common grid of `q`
/// steps come back unmoved (`moved = false`) unless a coarser grid is within the tolerance;
/// either way the lattice's size depends on the tolerance, never on how small the
/// difference is that keeps the deficits off a coarse grid (issue 18: a bitrate of
/// 1.0000001 Mbit/s against uploads in whole kbit/s had to be summed on 10,000 steps; it
/// now takes 45). A deficit is never rounded above `r` (an upload stays ≥ 0); if only that
/// keeps every `q` out of the tolerance, `q = MAX_DENOMINATOR` and the move is below one
/// step (0.01 %).
pub fn snap_uploads(rate_bps: BitsPerSec, uploads: &[f64]) -> SnappedUploads {
    let r = rate_bps;
    let widest = uploads.iter().map(|u| (r - u).abs()).fold(0.0, f64::max);
    if !(widest > 0.0 && widest.is_finite()) {
        return SnappedUploads {
            values: uploads.to_vec(),
            step: 0.0,
            steps: 0,
            moved: false,
        };
    }
    let onto = |q: u64| -> (Vec<f64>, f64, f64) {
        let step = widest / q as f64;
        let mut worst = 0.0_f64;
        let values = uploads
            .iter()
            .map(|&u| {
                let d = r - u;
                let mut snapped = (d / step).round() * step;
                if snapped > r {
                    snapped = (r / step).floor() * step;
                }
                worst = worst.max((snapped - d).abs());
                (r - snapped).max(0.0)
            })
            .collect();
        (values, step, worst)
    };
    let (q, (values, step, worst)) = (1..=MAX_DENOMINATOR)
        .map(|q| (q, onto(q)))
        .find(|(_, (_, _, worst))| *worst <= SNAP_TOLERANCE * widest)
        .unwrap_or_else(|| (MAX_DENOMINATOR, onto(MAX_DENOMINATOR)));
    let moved = worst > 1e-9 * step;
    SnappedUploads {
        values: if moved { values } else { uploads.to_vec() },
        step,
        steps: q,
        moved,
    }
}

/// Client-server mean load `r ρ` (bit/s).
///
/// # Errors
///
/// [`VideoError::OutOfRange`] for `rate_bps ≤ 0` or `rho` outside `[0, 1e8]`.
pub fn client_server_mean(rate_bps: BitsPerSec, rho: f64) -> Result<BitsPerSec, VideoError> {
    check_rate_rho(rate_bps, rho)?;
    Ok(rate_bps * rho)
}

/// Client-server `p`-quantile `r · k`, `k` the smallest count with `P(N ≤ k) ≥ p` for
/// `N ~ Poisson(ρ)` (within [`QUANTILE_TOLERANCE`]).
///
/// # Errors
///
/// As [`client_server_mean`], and unless `0 < p < 1`.
pub fn client_server_quantile(
    rate_bps: BitsPerSec,
    rho: f64,
    p: f64,
) -> Result<BitsPerSec, VideoError> {
    check_rate_rho(rate_bps, rho)?;
    check_level(p)?;
    let window = poisson_window(rho)?;
    let mut cdf = 0.0;
    for (n, q) in window.iter() {
        cdf += q;
        if cdf + QUANTILE_TOLERANCE >= p {
            return Ok(rate_bps * n as f64);
        }
    }
    Ok(rate_bps * (window.lo + window.pmf.len() as u64 - 1) as f64)
}

/// One row of literature §4.2: pooled and client-server loads of one video.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VodSummary {
    /// `E[S]` (bit/s).
    pub mean_load: f64,
    /// 95th percentile of `S` (bit/s, a lattice value).
    pub p95_load: f64,
    /// Client-server mean `r ρ` (bit/s).
    pub client_server_mean: f64,
    /// Client-server 95th percentile (bit/s).
    pub client_server_p95: f64,
    /// `1 − E[S]/(r ρ)`.
    pub mean_saving: f64,
    /// Bound on the Poisson mass left out of the sums.
    pub tail_bound: f64,
}

/// [`VodSummary`] of a video of rate `rate_bps` with `N ~ Poisson(rho)` viewers.
///
/// # Errors
///
/// As [`pooled_server_load`], and [`VideoError::OutOfRange`] for `rho = 0` (no saving is
/// defined without demand).
pub fn vod_summary(
    rate_bps: BitsPerSec,
    rho: f64,
    uploads: &UploadDistribution,
) -> Result<VodSummary, VideoError> {
    check_rate_rho(rate_bps, rho)?;
    if rho <= 0.0 {
        return Err(out_of_range("rho", rho, "> 0 for a saving"));
    }
    let load = pooled_server_load(rate_bps, rho, uploads)?;
    let mean_load = load.mean();
    let client_server_mean = client_server_mean(rate_bps, rho)?;
    Ok(VodSummary {
        mean_load,
        p95_load: load.quantile(0.95)?,
        client_server_mean,
        client_server_p95: client_server_quantile(rate_bps, rho, 0.95)?,
        mean_saving: 1.0 - mean_load / client_server_mean,
        tail_bound: load.tail_bound(),
    })
}

/// Operating mode of a swarm (literature §4, from the talk: support vs demand).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `ū > r`: server load vanishes exponentially in ρ.
    Surplus,
    /// `ū = r` (within [`BALANCE_TOLERANCE`]): server load grows like `sqrt ρ`.
    Balanced,
    /// `ū < r`: server load ≈ `ρ (r − ū)`.
    Deficit,
}

/// The [`Mode`] of a swarm with mean upload `mean_upload_bps` watching at `rate_bps`.
///
/// # Errors
///
/// [`VideoError::OutOfRange`] for `rate_bps ≤ 0` or a negative or non-finite mean upload.
pub fn mode(rate_bps: BitsPerSec, mean_upload_bps: BitsPerSec) -> Result<Mode, VideoError> {
    check_positive("rate_bps", rate_bps)?;
    check_nonneg("mean_upload_bps", mean_upload_bps)?;
    let gap = mean_upload_bps - rate_bps;
    Ok(if gap.abs() <= BALANCE_TOLERANCE * rate_bps {
        Mode::Balanced
    } else if gap > 0.0 {
        Mode::Surplus
    } else {
        Mode::Deficit
    })
}

/// Deficit-mode asymptote of `E[S]`: `ρ (r − ū)^+` (literature §4.1). A lower bound on
/// `E[S]` in every mode (Jensen: `E[X^+] ≥ (E X)^+`).
///
/// # Errors
///
/// [`VideoError::OutOfRange`] for `rate_bps ≤ 0`, `rho` outside `[0, 1e8]` or a negative
/// mean upload.
pub fn deficit_asymptote(
    rate_bps: BitsPerSec,
    rho: f64,
    mean_upload_bps: BitsPerSec,
) -> Result<BitsPerSec, VideoError> {
    check_rate_rho(rate_bps, rho)?;
    check_nonneg("mean_upload_bps", mean_upload_bps)?;
    Ok(rho * (rate_bps - mean_upload_bps).max(0.0))
}

/// Balanced-mode asymptote of `E[S]`: `sqrt(ρ E[(r − U)²] / (2π))` (literature §4.1; the
/// mean of the positive part of a centred normal with variance `ρ E[(r − U)²]`).
///
/// # Errors
///
/// [`VideoError::OutOfRange`] for `rate_bps ≤ 0` or `rho` outside `[0, 1e8]`.
pub fn balanced_asymptote(
    rate_bps: BitsPerSec,
    rho: f64,
    uploads: &UploadDistribution,
) -> Result<BitsPerSec, VideoError> {
    check_rate_rho(rate_bps, rho)?;
    Ok((rho * uploads.mean_squared_deficit(rate_bps) / std::f64::consts::TAU).sqrt())
}

/// Server load without prefetching for viewers in arrival order with uploads
/// `uploads_bps`: viewer k can only be fed by earlier arrivals and the server, so
/// `S_seq = max_{k ≥ 1} (k r − Σ_{j<k} U_j)` (literature §4.1); 0 for no viewers, and ≥ r
/// otherwise (the oldest viewer always needs the server).
///
/// # Errors
///
/// [`VideoError::OutOfRange`] for `rate_bps ≤ 0` or a negative or non-finite upload.
pub fn ordered_server_load(
    rate_bps: BitsPerSec,
    uploads_bps: &[BitsPerSec],
) -> Result<BitsPerSec, VideoError> {
    check_positive("rate_bps", rate_bps)?;
    let mut best = if uploads_bps.is_empty() {
        0.0
    } else {
        rate_bps
    };
    let mut earlier = 0.0;
    for (k, &u) in uploads_bps.iter().enumerate() {
        check_nonneg(&format!("uploads_bps[{k}]"), u)?;
        // Viewer k + 1 (1-based) is fed by the k earlier ones.
        best = f64::max(best, (k + 1) as f64 * rate_bps - earlier);
        earlier += u;
    }
    Ok(best)
}

/// Pooled load of a given set of viewers: `(Σ_i (r − U_i))^+` (literature §4.1).
///
/// # Errors
///
/// As [`ordered_server_load`].
pub fn pooled_sequence_load(
    rate_bps: BitsPerSec,
    uploads_bps: &[BitsPerSec],
) -> Result<BitsPerSec, VideoError> {
    check_positive("rate_bps", rate_bps)?;
    let mut sum = 0.0;
    for (k, &u) in uploads_bps.iter().enumerate() {
        sum += rate_bps - check_nonneg(&format!("uploads_bps[{k}]"), u)?;
    }
    Ok(sum.max(0.0))
}

/// Server bandwidth over a day of billing intervals.
#[derive(Debug, Clone, PartialEq)]
pub struct DiurnalLoad {
    /// `E[S](ρ(t))` per interval (bit/s).
    pub mean_load_bps: Vec<f64>,
    /// 95th percentile of `mean_load_bps` (billing convention of
    /// [`percentile_95`]).
    pub p95_bps: f64,
    /// 95th percentile of the client-server `r ρ(t)`.
    pub client_server_p95_bps: f64,
    /// Average of `mean_load_bps` over the day.
    pub mean_bps: f64,
    /// Average client-server load over the day.
    pub client_server_mean_bps: f64,
}

/// The 95th-percentile server bandwidth over a day whose interval `t` has a mean audience
/// `audience[t]` (e.g. 288 five-minute intervals), against client-server.
///
/// Each interval is billed at its **mean** load `E[S](ρ(t))`: a billing sample is the
/// average rate over 5 minutes, and when viewers come and go many times per interval (mean
/// viewing time well below 5 minutes, or many concurrent swarms) that average is close to the
/// stationary mean. When viewing sessions are long compared with 5 minutes the per-interval
/// average fluctuates around `E[S]` and the true 95th percentile is higher; this function
/// then underestimates it (for client-server, likewise `r ρ(t)` rather than `r N(t)`). The
/// percentile follows the crate's billing convention ([`percentile_95`]: the sample at
/// 0-based index `ceil(0.95 n) − 1`).
///
/// # Errors
///
/// [`VideoError::OutOfRange`] for an empty `audience`, an audience outside `[0, 1e8]`, and as
/// [`pooled_server_load`].
pub fn diurnal_load(
    rate_bps: BitsPerSec,
    audience: &[f64],
    uploads: &UploadDistribution,
) -> Result<DiurnalLoad, VideoError> {
    check_positive("rate_bps", rate_bps)?;
    if audience.is_empty() {
        return Err(out_of_range("audience.len()", 0.0, "≥ 1 interval"));
    }
    let mut mean_load_bps = Vec::with_capacity(audience.len());
    for (t, &rho) in audience.iter().enumerate() {
        check_mean(&format!("audience[{t}]"), rho)?;
        mean_load_bps.push(pooled_server_load(rate_bps, rho, uploads)?.mean());
    }
    let client_server: Vec<f64> = audience.iter().map(|rho| rate_bps * rho).collect();
    let billed = |series: &[f64]| {
        percentile_95(series).map_err(|e| out_of_range("audience", f64::NAN, &e.to_string()))
    };
    let n = audience.len() as f64;
    Ok(DiurnalLoad {
        p95_bps: billed(&mean_load_bps)?,
        client_server_p95_bps: billed(&client_server)?,
        mean_bps: mean_load_bps.iter().sum::<f64>() / n,
        client_server_mean_bps: client_server.iter().sum::<f64>() / n,
        mean_load_bps,
    })
}

/// The upload of a viewer that other viewers of the same title can use: `E[min(U, r M)]`,
/// with `M ~ Poisson(ρ)` the number of other viewers a viewer sees (Poisson arrivals see time
/// averages) — a viewer sends at most `r` to each other viewer, and nothing when alone.
/// Tends to `ū` as `ρ` grows; ≈ `ρ E[min(U, r)]` for a small audience.
///
/// # Errors
///
/// [`VideoError::OutOfRange`] for `rate_bps ≤ 0` or `rho` outside `[0, 1e8]`.
pub fn effective_upload(
    rate_bps: BitsPerSec,
    rho: f64,
    uploads: &UploadDistribution,
) -> Result<BitsPerSec, VideoError> {
    check_rate_rho(rate_bps, rho)?;
    Ok(poisson_window(rho)?
        .iter()
        .map(|(m, q)| {
            q * uploads
                .values
                .iter()
                .zip(&uploads.probs)
                .map(|(v, p)| p * v.min(rate_bps * m as f64))
                .sum::<f64>()
        })
        .sum())
}

/// One title of a [`Catalogue`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TitleLoad {
    /// Popularity rank, 1 = most popular.
    pub rank: usize,
    /// Mean audience `ρ_i = ρ_total i^{−α} / Σ_j j^{−α}`.
    pub audience: f64,
    /// [`effective_upload`] of the title's viewers (bit/s).
    pub effective_upload_bps: f64,
    /// [`mode`] of `effective_upload_bps` against the rate.
    pub mode: Mode,
    /// `E[1{N>0} max(r, Σ(r − U_i))]` (bit/s): the pooled load, except that whenever the
    /// title is watched the server sends at least one stream ([`expected_server_load`]).
    pub mean_load_bps: f64,
    /// `E[(Σ(r − U_i))^+]` (bit/s), the §4.1 pooled load (lets a lone viewer feed itself).
    pub pooled_mean_load_bps: f64,
    /// `r ρ_i` (bit/s).
    pub client_server_bps: f64,
}

/// A catalogue of titles, each its own swarm.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalogue {
    /// Titles by rank.
    pub titles: Vec<TitleLoad>,
    /// Σ of `mean_load_bps`.
    pub total_mean_load_bps: f64,
    /// Σ of `pooled_mean_load_bps`.
    pub total_pooled_mean_load_bps: f64,
    /// Σ of `client_server_bps` (= `r ρ_total`).
    pub total_client_server_bps: f64,
}

/// A catalogue of `titles` videos of rate `rate_bps` with Zipf popularity of exponent
/// `exponent` and a total mean audience `total_audience`, each title its own swarm
/// (single-video approach: a viewer uploads only the title it watches; literature §4,
/// §4.3).
///
/// Per title: the audience `ρ_i`, the [`effective_upload`] and the [`mode`] it gives, the
/// mean server load with at least one server stream per watched title (`mean_load_bps`, the
/// one to cost) and the §4.1 pooled load, and client-server. Popular titles have
/// `effective_upload ≈ ū`; long-tail titles are mostly watched by a lone viewer, whose
/// upload nobody can use, so they fall into deficit even when `ū > r`.
///
/// # Errors
///
/// [`VideoError::OutOfRange`] for no titles, a negative or non-finite exponent or audience,
/// and as [`pooled_server_load`]; [`VideoError::TooLarge`] above [`MAX_TITLES`].
pub fn zipf_catalogue(
    titles: usize,
    exponent: f64,
    total_audience: f64,
    rate_bps: BitsPerSec,
    uploads: &UploadDistribution,
) -> Result<Catalogue, VideoError> {
    if titles == 0 {
        return Err(out_of_range("titles", 0.0, "≥ 1"));
    }
    if titles > MAX_TITLES {
        return Err(VideoError::TooLarge {
            what: "zipf_catalogue titles".to_string(),
            size: titles as u64,
            limit: MAX_TITLES as u64,
            hint: "group the tail into classes of equal popularity".to_string(),
        });
    }
    check_nonneg("exponent", exponent)?;
    check_rate_rho(rate_bps, total_audience)?;
    let weights: Vec<f64> = (1..=titles).map(|i| (i as f64).powf(-exponent)).collect();
    let norm: f64 = weights.iter().sum();
    let mut rows = Vec::with_capacity(titles);
    for (i, w) in weights.iter().enumerate() {
        let rho = total_audience * w / norm;
        let effective = effective_upload(rate_bps, rho, uploads)?;
        rows.push(TitleLoad {
            rank: i + 1,
            audience: rho,
            effective_upload_bps: effective,
            mode: mode(rate_bps, effective)?,
            mean_load_bps: expected_server_load(rate_bps, f64::INFINITY, &uploads.classes(rho))?
                .value,
            pooled_mean_load_bps: pooled_server_load(rate_bps, rho, uploads)?.mean(),
            client_server_bps: rate_bps * rho,
        });
    }
    Ok(Catalogue {
        total_mean_load_bps: rows.iter().map(|t| t.mean_load_bps).sum(),
        total_pooled_mean_load_bps: rows.iter().map(|t| t.pooled_mean_load_bps).sum(),
        total_client_server_bps: rows.iter().map(|t| t.client_server_bps).sum(),
        titles: rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::{assert_abs_diff_eq, assert_relative_eq};

    fn dist(values: &[f64]) -> UploadDistribution {
        let p = 1.0 / values.len() as f64;
        UploadDistribution::new(values.to_vec(), vec![p; values.len()]).unwrap()
    }

    /// Checks a §4.2 row (r = 1). `mean` is compared within half a unit of its last printed
    /// digit (`mean_abs`), the quantiles exactly (lattice values), the saving within half a
    /// unit of its printed digits (`saving_abs`).
    #[allow(clippy::too_many_arguments)] // one argument per column of the table
    fn row(
        values: &[f64],
        rho: f64,
        mean: f64,
        mean_abs: f64,
        p95: f64,
        cs: (f64, f64),
        saving: f64,
        saving_abs: f64,
    ) {
        let s = vod_summary(1.0, rho, &dist(values)).unwrap();
        assert_abs_diff_eq!(s.mean_load, mean, epsilon = mean_abs);
        assert_eq!(
            s.p95_load.to_bits(),
            p95.to_bits(),
            "95th pct {}",
            s.p95_load
        );
        assert_eq!(s.client_server_mean.to_bits(), cs.0.to_bits());
        assert_eq!(s.client_server_p95.to_bits(), cs.1.to_bits());
        assert_abs_diff_eq!(s.mean_saving, saving, epsilon = saving_abs);
        assert!(s.tail_bound <= 2e-15, "{}", s.tail_bound);
    }

    #[test]
    fn vod_bal_10() {
        // literature §4.2 VOD-bal-10: 0.62274 (5 digits: abs 5e-6, rel 8e-6), 2.5, 10 / 15,
        // 93.77 % (abs 5e-5).
        row(
            &[0.5, 1.5],
            10.0,
            0.62274,
            5e-6,
            2.5,
            (10.0, 15.0),
            0.9377,
            5e-5,
        );
    }

    #[test]
    fn vod_bal_100() {
        // literature §4.2 VOD-bal-100: 1.992213 (rel 1e-6 → abs 2e-6; printed to 5e-7),
        // 8, 100 / 117, 98.01 %. Gaussian 1.99471 checked in `asymptotes`.
        row(
            &[0.5, 1.5],
            100.0,
            1.992213,
            5e-7,
            8.0,
            (100.0, 117.0),
            0.9801,
            5e-5,
        );
    }

    /// Issue 19: a lone viewer with twice the stream's upload is served by the server alone.
    /// At ρ = 0.5 with every upload 2r, S_1 = r and S_n = 0 for n ≥ 2 (each of two viewers
    /// gives the other r), so E[S] = P(N = 1) r = 0.5 e^{−0.5} r exactly, while the pooled
    /// formula gives 0 (1e-12 relative).
    #[test]
    fn a_lone_viewer_is_served_by_the_server() {
        let u = dist(&[2.0]);
        let pooled = pooled_server_load(1.0, 0.5, &u).unwrap().mean();
        assert!(pooled.abs() < 1e-15, "{pooled}");
        let (extra, complete) = self_service_correction(1.0, 0.5, &u).unwrap();
        assert!(complete);
        assert_relative_eq!(pooled + extra, 0.5 * (-0.5f64).exp(), max_relative = 1e-12);
    }

    /// Monte Carlo of `load(uploads)` over N ~ Poisson(ρ) viewers (inversion) with uploads
    /// drawn uniformly from `values` in arrival order (xorshift64*, fixed `seed`): the mean and
    /// its standard error over `draws`.
    fn monte_carlo(
        values: &[f64],
        rho: f64,
        seed: u64,
        draws: usize,
        load: impl Fn(&[f64]) -> f64,
    ) -> (f64, f64) {
        let mut rng = seed;
        let mut uniform = move || {
            rng ^= rng >> 12;
            rng ^= rng << 25;
            rng ^= rng >> 27;
            (rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
        };
        let (mut sum, mut sq) = (0.0, 0.0);
        let mut uploads = Vec::new();
        for _ in 0..draws {
            let (mut n, mut p, target) = (0u64, (-rho).exp(), uniform());
            let mut cdf = p;
            while cdf < target {
                n += 1;
                p *= rho / n as f64;
                cdf += p;
            }
            uploads.clear();
            for _ in 0..n {
                let i = ((uniform() * values.len() as f64) as usize).min(values.len() - 1);
                uploads.push(values[i]);
            }
            let s = load(&uploads);
            sum += s;
            sq += s * s;
        }
        let mean = sum / draws as f64;
        (
            mean,
            ((sq / draws as f64 - mean * mean) / draws as f64).sqrt(),
        )
    }

    /// The corrected mean against a Monte Carlo of S_N = (Σ_i (r − min(U_i, (N − 1) r)))^+
    /// (10^6 draws, 5 standard errors), and never below P(N = 1) r (a lone viewer is served
    /// by the server), for deficit, balanced and surplus uploads at small audiences.
    #[test]
    fn the_served_load_matches_a_monte_carlo_and_its_floor() {
        let cases: [(&[f64], f64); 4] = [
            (&[0.5, 1.5, 3.0], 2.0),
            (&[2.0], 1.0),
            (&[0.5, 1.5], 3.0),
            (&[0.4, 2.0, 10.0], 0.8),
        ];
        for (values, rho) in cases {
            let u = dist(values);
            let exact = pooled_server_load(1.0, rho, &u).unwrap().mean()
                + self_service_correction(1.0, rho, &u).unwrap().0;
            let (mean, se) = monte_carlo(values, rho, 0x2545_f491_4f6c_dd1d, 1_000_000, |up| {
                let cap = up.len().saturating_sub(1) as f64;
                up.iter().map(|v| 1.0 - v.min(cap)).sum::<f64>().max(0.0)
            });
            assert!(
                (exact - mean).abs() <= 5.0 * se + 1e-12,
                "{values:?} ρ {rho}: {exact} vs {mean} ± {se}"
            );
            let lone = rho * (-rho).exp();
            assert!(
                exact >= lone - 1e-12,
                "{values:?} ρ {rho}: {exact} < {lone}"
            );
        }
    }

    /// VOD-bal-10 (literature §4.2, uploads {0.5, 1.5}, ρ = 10) without self-service: the
    /// pooled row's 0.62274 plus P(N = 1)·0.75 (a lone viewer gets r instead of E[(1 − U)^+])
    /// plus P(N = 2)·0.25 (a pair with 1.5 gives only 1 to the other), derived by hand in
    /// models/vod.md (rel 1e-6, the row's own tolerance).
    #[test]
    fn vod_bal_10_without_self_service() {
        let u = dist(&[0.5, 1.5]);
        let (extra, complete) = self_service_correction(1.0, 10.0, &u).unwrap();
        assert!(complete);
        let by_hand = 10.0 * (-10f64).exp() * 0.75 + 50.0 * (-10f64).exp() * 0.25;
        assert_relative_eq!(extra, by_hand, max_relative = 1e-12);
        let total = pooled_server_load(1.0, 10.0, &u).unwrap().mean() + extra;
        assert_relative_eq!(total, 0.62274 + by_hand, max_relative = 1e-6);
    }

    /// E[S_seq] in closed form where the walk is deterministic: uploads all 2r never let the
    /// walk rise (E = r P(N ≥ 1) = r (1 − e^{−ρ})); uploads all 0 make every viewer need the
    /// server (E = ρ r). 1e-12 relative.
    #[test]
    fn the_ordered_load_of_deterministic_walks() {
        for rho in [0.3, 4.0, 50.0] {
            let (v, _) = ordered_mean_load(1.0, rho, &dist(&[2.0]), u64::MAX).unwrap();
            assert_relative_eq!(v, 1.0 - (-rho).exp(), max_relative = 1e-12);
            let (v, _) = ordered_mean_load(1.0, rho, &dist(&[0.0]), u64::MAX).unwrap();
            assert_relative_eq!(v, rho, max_relative = 1e-12);
        }
    }

    /// E[S_seq] (Spitzer's identity on the lattice) against a Monte Carlo of the ordered load
    /// of Poisson(ρ) viewers in arrival order (10^6 draws, 5 standard errors), and between the
    /// lower bound the runs used before (E[1{N>0} max(r, Σ(r − U))]) and the client-server
    /// load ρ r.
    #[test]
    fn the_ordered_load_matches_a_monte_carlo() {
        let cases: [(&[f64], f64); 3] = [
            (&[0.5, 1.5], 10.0),
            (&[0.5, 2.0], 3.0),
            (&[0.4, 2.0, 10.0], 6.0),
        ];
        for (values, rho) in cases {
            let u = dist(values);
            let (exact, _) = ordered_mean_load(1.0, rho, &u, u64::MAX).unwrap();
            let (mean, se) = monte_carlo(values, rho, 0x9e37_79b9_7f4a_7c15, 1_000_000, |up| {
                if up.is_empty() {
                    0.0
                } else {
                    ordered_server_load(1.0, up).unwrap()
                }
            });
            assert!(
                (exact - mean).abs() <= 5.0 * se,
                "{values:?} ρ {rho}: {exact} vs {mean} ± {se}"
            );
            let classes: Vec<(f64, f64)> = values
                .iter()
                .map(|v| (*v, rho / values.len() as f64))
                .collect();
            let bound = expected_server_load(1.0, f64::INFINITY, &classes)
                .unwrap()
                .value;
            assert!(
                exact >= bound * (1.0 - 1e-12) && exact <= rho * (1.0 + 1e-12),
                "{exact} vs {bound}, {rho}"
            );
        }
    }

    /// The compositions of n into k parts are enumerated once each: C(n + k − 1, k − 1).
    #[test]
    fn compositions_are_enumerated_once_each() {
        for (n, k, count) in [
            (0u64, 3usize, 1u64),
            (4, 1, 1),
            (4, 2, 5),
            (5, 3, 21),
            (7, 4, 120),
        ] {
            let mut c = vec![0u64; k];
            c[k - 1] = n;
            let mut seen = std::collections::HashSet::new();
            loop {
                assert_eq!(c.iter().sum::<u64>(), n);
                assert!(seen.insert(c.clone()), "{c:?} twice");
                if !next_composition(&mut c, n) {
                    break;
                }
            }
            assert_eq!(seen.len() as u64, count, "n {n} k {k}");
        }
    }

    #[test]
    fn vod_def_100() {
        // literature §4.2 VOD-def-100: E[S] = 25 (S = N_0.5/2 ≥ 0, so exactly ρ/4; rel 1e-6),
        // 31 (= Poisson(50) 95th pct 62, halved), 100 / 117, 75 %.
        row(
            &[0.5, 1.0],
            100.0,
            25.0,
            25e-6,
            31.0,
            (100.0, 117.0),
            0.75,
            1e-8,
        );
    }

    #[test]
    fn vod_sur_100() {
        // literature §4.2 VOD-sur-100: 8.84409e-4 (6 digits: abs 5e-10, rel 5.7e-7), 0,
        // 100 / 117, 99.999 % (abs 5e-6 → it is 99.99912 %).
        row(
            &[0.5, 2.0],
            100.0,
            8.84409e-4,
            5e-10,
            0.0,
            (100.0, 117.0),
            0.99999,
            5e-6,
        );
    }

    #[test]
    fn vod_seq() {
        // literature §4.2 VOD-seq: S_seq = 1 / 2 / 1, pooled 0; exact.
        let seqs: [&[f64]; 3] = [&[1.5, 0.5, 1.5, 0.5], &[0.5, 0.5, 1.5, 1.5], &[2.0; 10]];
        for (seq, expected) in seqs.iter().zip([1.0, 2.0, 1.0]) {
            let s = ordered_server_load(1.0, seq).unwrap();
            assert_eq!(s.to_bits(), f64::to_bits(expected), "{seq:?}: {s}");
            let pooled = pooled_sequence_load(1.0, seq).unwrap();
            assert_eq!(pooled.to_bits(), 0f64.to_bits(), "{seq:?}: {pooled}");
        }
        assert_eq!(
            ordered_server_load(1.0, &[]).unwrap().to_bits(),
            0f64.to_bits()
        );
    }

    #[test]
    fn asymptotes() {
        // Balanced: sqrt(100 · 0.25 / 2π) = 1.99471 (literature §4.2, "Gauss", abs 5e-6);
        // deficit: 100 · (1 − 0.75) = 25 = the exact E[S] of VOD-def-100 (rel 1e-12).
        let bal = dist(&[0.5, 1.5]);
        assert_abs_diff_eq!(
            balanced_asymptote(1.0, 100.0, &bal).unwrap(),
            1.99471,
            epsilon = 5e-6
        );
        let def = dist(&[0.5, 1.0]);
        assert_relative_eq!(
            deficit_asymptote(1.0, 100.0, def.mean()).unwrap(),
            25.0,
            max_relative = 1e-12
        );
        // The ratio exact/asymptote → 1 in the balanced mode as ρ grows.
        let ratio = |rho: f64| {
            pooled_server_load(1.0, rho, &bal).unwrap().mean()
                / balanced_asymptote(1.0, rho, &bal).unwrap()
        };
        let (r10, r1000) = (ratio(10.0), ratio(1000.0));
        assert!((r1000 - 1.0).abs() < (r10 - 1.0).abs(), "{r10} {r1000}");
        assert!((r1000 - 1.0).abs() < 1e-3, "{r1000}");
    }

    #[test]
    fn modes() {
        assert_eq!(mode(1.0, 0.75).unwrap(), Mode::Deficit);
        assert_eq!(mode(1.0, 0.1 + 0.2 + 0.7).unwrap(), Mode::Balanced);
        assert_eq!(mode(1.0, 1.25).unwrap(), Mode::Surplus);
        assert_eq!(mode(1.0, dist(&[0.5, 1.5]).mean()).unwrap(), Mode::Balanced);
    }

    #[test]
    fn three_values_exact() {
        // Three upload values: the lattice result against a direct triple sum over the
        // counts (Poisson(ρ/3) each, counts ≤ 80: omitted mass < 1e-40), rel 1e-12.
        let d = dist(&[0.25, 1.0, 2.5]);
        let rho = 9.0;
        let load = pooled_server_load(1.0, rho, &d).unwrap();
        let m = rho / 3.0;
        let pmf = |n: u32| {
            (n as f64 * f64::ln(m) - m - (1..=n).map(|k| (k as f64).ln()).sum::<f64>()).exp()
        };
        let mut direct = 0.0;
        for a in 0..80 {
            for c in 0..80 {
                let x = 0.75 * a as f64 - 1.5 * c as f64;
                direct += pmf(a) * pmf(c) * x.max(0.0); // the U = 1 count adds 0
            }
        }
        assert_relative_eq!(load.mean(), direct, max_relative = 1e-12);
    }

    #[test]
    fn invalid_inputs_are_named() {
        assert_eq!(
            UploadDistribution::new(vec![0.5, 1.5], vec![0.5, 0.6])
                .unwrap_err()
                .to_string(),
            "`sum of probs` = 1.1 is out of range: must be 1 within 1e-9"
        );
        assert_eq!(
            UploadDistribution::new(vec![0.5, -1.5], vec![0.5, 0.5])
                .unwrap_err()
                .to_string(),
            "`values[1]` = -1.5 is out of range: must be finite and ≥ 0"
        );
        assert_eq!(
            pooled_server_load(1.0, -2.0, &dist(&[1.0]))
                .unwrap_err()
                .to_string(),
            "`rho` = -2 is out of range: must be finite and in [0, 1e8]"
        );
        assert_eq!(
            pooled_server_load(1.0, 2.0, &dist(&[0.0, std::f64::consts::PI]))
                .unwrap_err()
                .to_string(),
            "pooled_server_load: the deficits r − u = [1.0, -2.141592653589793] bit/s have no \
             common lattice step max|r − u|/q with q ≤ 10000; round the upload values to a \
             common step"
        );
        assert_eq!(
            pooled_server_load(1.0, 10.0, &dist(&[0.5]))
                .unwrap()
                .quantile(1.0)
                .unwrap_err()
                .to_string(),
            "`p` = 1 is out of range: must be in (0, 1)"
        );
    }

    #[test]
    fn diurnal_day() {
        // 288 five-minute intervals, ρ(t) = 100 (1 + 0.5 cos(2π t/288)), balanced uploads.
        let bal = dist(&[0.5, 1.5]);
        let audience: Vec<f64> = (0..288)
            .map(|t| 100.0 * (1.0 + 0.5 * (std::f64::consts::TAU * t as f64 / 288.0).cos()))
            .collect();
        let day = diurnal_load(1.0, &audience, &bal).unwrap();
        // The billed interval is the 274th smallest (index ceil(0.95 · 288) − 1 = 273).
        let mut sorted = day.mean_load_bps.clone();
        sorted.sort_by(f64::total_cmp);
        assert_eq!(day.p95_bps.to_bits(), sorted[273].to_bits());
        let mut cs: Vec<f64> = audience.clone();
        cs.sort_by(f64::total_cmp);
        assert_eq!(day.client_server_p95_bps.to_bits(), cs[273].to_bits());
        assert!(day.p95_bps < 0.05 * day.client_server_p95_bps, "{day:?}");
        // A flat day bills E[S](100) = 1.992213 (literature §4.2 VOD-bal-100, abs 5e-7).
        let flat = diurnal_load(1.0, &[100.0; 288], &bal).unwrap();
        assert_abs_diff_eq!(flat.p95_bps, 1.992213, epsilon = 5e-7);
        assert_relative_eq!(flat.client_server_p95_bps, 100.0, max_relative = 1e-12);
    }

    #[test]
    fn catalogue_popular_in_surplus_tail_in_deficit() {
        // 1000 titles, Zipf 0.8, 1000 viewers in all, uploads {0.5, 2.5} (ū = 1.5 r).
        let uploads = dist(&[0.5, 2.5]);
        let cat = zipf_catalogue(1000, 0.8, 1000.0, 1.0, &uploads).unwrap();
        let (top, last) = (&cat.titles[0], &cat.titles[999]);
        assert_eq!(top.mode, Mode::Surplus, "{top:?}");
        assert_eq!(last.mode, Mode::Deficit, "{last:?}");
        // Totals are the sums over titles (rel 1e-12), client-server is r ρ_total.
        let sum: f64 = cat.titles.iter().map(|t| t.mean_load_bps).sum();
        assert_relative_eq!(cat.total_mean_load_bps, sum, max_relative = 1e-12);
        assert_relative_eq!(cat.total_client_server_bps, 1000.0, max_relative = 1e-12);
        // Each title's load, recomputed on its own (rel 1e-12), lies between the pooled load
        // and the pooled load plus one stream while watched.
        for t in &cat.titles {
            let classes = [(0.5, t.audience / 2.0), (2.5, t.audience / 2.0)];
            let own = expected_server_load(1.0, f64::INFINITY, &classes)
                .unwrap()
                .value;
            assert_relative_eq!(t.mean_load_bps, own, max_relative = 1e-12);
            let watched = 1.0 - (-t.audience).exp();
            assert!(t.pooled_mean_load_bps <= t.mean_load_bps + 1e-12, "{t:?}");
            assert!(
                t.mean_load_bps <= t.pooled_mean_load_bps + watched + 1e-12,
                "{t:?}"
            );
        }
        // The popular title saves most of its bandwidth; the tail title almost nothing.
        assert!(top.mean_load_bps < 0.05 * top.client_server_bps, "{top:?}");
        assert!(
            last.mean_load_bps > 0.8 * last.client_server_bps,
            "{last:?}"
        );
    }

    /// Issue 18, item 8: a bitrate 0.1 bit/s off the uploads' 100 kbit/s grid (the preset
    /// vod-catalogue.toml at 1.0000001 Mbit/s) used to be summed on 10,000 steps and moved
    /// a deficit by 300 bit/s; the coarsest grid within the tolerance has 45 steps and moves
    /// each deficit by 0.1 bit/s.
    #[test]
    fn a_tiny_difference_snaps_to_the_coarse_grid() {
        let r = 1.000_000_1e6;
        let uploads = [0.4e6, 2e6, 10e6];
        let s = snap_uploads(r, &uploads);
        assert_eq!(s.steps, 45);
        assert!(s.moved);
        assert_relative_eq!(s.step, (10e6 - r) / 45.0, max_relative = 1e-15);
        for (u, v) in uploads.iter().zip(&s.values) {
            assert!((u - v).abs() <= 0.11, "{u} → {v}");
            let m = (r - v) / s.step;
            assert_abs_diff_eq!(m, m.round(), epsilon = 1e-9);
        }
        // The lattice the exact sums then use has those 45 steps, not 10,000.
        let load = pooled_server_load(r, 30.0, &dist_with(&s.values, &[0.6, 0.3, 0.1])).unwrap();
        assert_relative_eq!(
            load.deficit_distribution().step,
            s.step,
            max_relative = 1e-12
        );
    }

    /// Uploads already on a common grid keep their exact values (the shipped 1.5 Mbit/s
    /// preset: 85 steps of 100 kbit/s).
    #[test]
    fn deficits_on_a_grid_are_not_moved() {
        let uploads = [0.4e6, 2e6, 10e6];
        let s = snap_uploads(1.5e6, &uploads);
        assert_eq!((s.steps, s.moved), (85, false));
        assert_eq!(s.values, uploads.to_vec());
        let none = snap_uploads(1e6, &[1e6, 1e6]);
        assert_eq!((none.steps, none.moved), (0, false));
    }

    fn dist_with(values: &[f64], probs: &[f64]) -> UploadDistribution {
        UploadDistribution::new(values.to_vec(), probs.to_vec()).unwrap()
    }

    proptest::proptest! {
        /// Whatever the uploads: at most MAX_DENOMINATOR steps, every snapped deficit a
        /// multiple of the step, moved by at most the tolerance (or one step where only the
        /// floor at r = the upload ≥ 0 keeps it out), uploads ≥ 0.
        #[test]
        fn snapping_is_bounded_and_within_the_tolerance(
            r in 1e3f64..1e8,
            uploads in proptest::collection::vec(0f64..2e8, 1..6),
        ) {
            let s = snap_uploads(r, &uploads);
            let widest = uploads.iter().map(|u| (r - u).abs()).fold(0.0, f64::max);
            proptest::prop_assert!(s.steps <= MAX_DENOMINATOR);
            for (u, v) in uploads.iter().zip(&s.values) {
                proptest::prop_assert!(*v >= 0.0);
                let allowed = if s.steps == MAX_DENOMINATOR { s.step } else { SNAP_TOLERANCE * widest };
                proptest::prop_assert!((u - v).abs() <= allowed * (1.0 + 1e-9), "{} → {}", u, v);
                if s.step > 0.0 {
                    let m = (r - v) / s.step;
                    proptest::prop_assert!((m - m.round()).abs() <= 1e-6, "{}", m);
                }
            }
        }
    }
}
