//! Live streaming with peer assistance: Kumar, Liu & Ross, "Stochastic Fluid Theory for P2P
//! Streaming Systems", INFOCOM 2007 (literature §3.1; card `models/streaming.md`).
//!
//! A server of upload `u_s` feeds a stream of rate `r` to `n` peers of upload `u_i`. The
//! stream is sustainable iff `u_s ≥ r` and `u_s + Σ u_i ≥ n r`, which gives the
//! deterministic results [`max_sustainable_rate`] and [`min_server_rate`]. With churn, the
//! number of peers of class k is `N_k ~ Poisson(ρ_k)` (independent; M/G/∞ arrivals), and
//! [`universal_streaming_probability`] is the probability that the stream is sustainable:
//! an exact sum over the Poisson probabilities, cross-checked by the seeded
//! [`universal_streaming_monte_carlo`]. [`expected_server_load`] is the mean server rate
//! needed, for costing.
//!
//! Everything here is a closed form or an exact finite sum; there is no ODE. Rates are in
//! bit/s, populations are counts (real-valued where a fluid population makes sense).
//!
//! The Poisson machinery ([`poisson_window`], [`LatticeDistribution`]) is shared with
//! `vod.rs`, where the same sums `Σ_k (r − u_k) N_k` appear.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use crate::error::VideoError;
use crate::units::BitsPerSec;

/// Probability mass of a Poisson distribution left out of a truncated window, per window
/// (split evenly between the two tails). The omitted mass is bounded rigorously by geometric
/// series and reported as [`ExactValue::tail_bound`].
pub const TAIL_MASS: f64 = 1e-15;

/// Ties in the sustainability condition `u_s + Σ u_k N_k ≥ r Σ N_k` count as sustainable;
/// a tie is judged with this relative tolerance (of `|u_s| + |Σ (r − u_k) N_k| + r`), so that
/// rounding in `r − u_k` cannot flip an exact tie.
pub const TIE_TOLERANCE: f64 = 1e-12;

/// Largest Poisson mean accepted (the windows have about `17 sqrt(ρ)` points).
pub const MAX_MEAN: f64 = 1e8;

/// Largest denominator `q` tried when looking for a common lattice step `max|d|/q` of the
/// deficits `d_k = r − u_k`.
pub const MAX_DENOMINATOR: u64 = 10_000;

/// Largest number of lattice points of an exact lattice distribution.
pub const MAX_LATTICE_POINTS: u64 = 4_000_000;

/// Largest Monte Carlo sample count.
pub const MAX_SAMPLES: u64 = 1_000_000_000;

/// An exact sum, with a bound on what the truncation of the Poisson windows left out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExactValue {
    /// The value of the truncated sum.
    pub value: f64,
    /// Total Poisson mass outside the windows summed over (≤ [`TAIL_MASS`] per class). For a
    /// probability this bounds the absolute error; for an expectation of a bounded function
    /// multiply it by the bound.
    pub tail_bound: f64,
}

// ---------------------------------------------------------------------------------------------
// Validation helpers (shared with push.rs and vod.rs)

pub(crate) fn out_of_range(what: impl Into<String>, value: f64, allowed: &str) -> VideoError {
    VideoError::OutOfRange {
        what: what.into(),
        value,
        allowed: allowed.to_string(),
    }
}

/// `value` finite and ≥ 0.
pub(crate) fn check_nonneg(what: &str, value: f64) -> Result<f64, VideoError> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(out_of_range(what, value, "finite and ≥ 0"))
    }
}

/// `value` finite and > 0.
pub(crate) fn check_positive(what: &str, value: f64) -> Result<f64, VideoError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(out_of_range(what, value, "finite and > 0"))
    }
}

/// A Poisson mean: finite, ≥ 0 and ≤ [`MAX_MEAN`].
pub(crate) fn check_mean(what: &str, value: f64) -> Result<f64, VideoError> {
    if value.is_finite() && (0.0..=MAX_MEAN).contains(&value) {
        Ok(value)
    } else {
        Err(out_of_range(what, value, "finite and in [0, 1e8]"))
    }
}

/// Checks `(upload_bps, count)` pairs; `count_name` is "peers" or "mean_peers".
fn check_classes(classes: &[(f64, f64)], count_name: &str) -> Result<(), VideoError> {
    for (k, &(u, n)) in classes.iter().enumerate() {
        check_nonneg(&format!("classes[{k}].0 (upload_bps)"), u)?;
        let what = format!("classes[{k}].1 ({count_name})");
        if count_name == "mean_peers" {
            check_mean(&what, n)?;
        } else {
            check_nonneg(&what, n)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Deterministic results

/// Largest stream rate (bit/s) that `classes` of peers and a server can sustain:
/// `r_max = min{u_s, (u_s + Σ_k u_k n_k)/n}` with `n = Σ_k n_k`; `u_s` when `n = 0`.
///
/// `server_bps` is `u_s` (bit/s, ≥ 0); `classes` are `(upload_bps, peers)` pairs, peers ≥ 0
/// and possibly fractional (a fluid population). Literature §3.1 (Kumar, Liu & Ross 2007).
///
/// # Errors
///
/// [`VideoError::OutOfRange`] naming the first negative or non-finite argument.
pub fn max_sustainable_rate(
    server_bps: BitsPerSec,
    classes: &[(BitsPerSec, f64)],
) -> Result<BitsPerSec, VideoError> {
    check_nonneg("server_bps", server_bps)?;
    check_classes(classes, "peers")?;
    let n: f64 = classes.iter().map(|c| c.1).sum();
    let upload: f64 = classes.iter().map(|c| c.0 * c.1).sum();
    if n > 0.0 {
        Ok(server_bps.min((server_bps + upload) / n))
    } else {
        Ok(server_bps)
    }
}

/// Smallest server upload (bit/s) that sustains rate `rate_bps` for `classes`:
/// `s_min(r) = max{r, n r − Σ_k u_k n_k}`; 0 when `n = 0` (literature §3.1, derived).
///
/// # Errors
///
/// [`VideoError::OutOfRange`] naming the first negative or non-finite argument.
pub fn min_server_rate(
    rate_bps: BitsPerSec,
    classes: &[(BitsPerSec, f64)],
) -> Result<BitsPerSec, VideoError> {
    check_nonneg("rate_bps", rate_bps)?;
    check_classes(classes, "peers")?;
    let n: f64 = classes.iter().map(|c| c.1).sum();
    let upload: f64 = classes.iter().map(|c| c.0 * c.1).sum();
    if n > 0.0 {
        Ok(rate_bps.max(n * rate_bps - upload))
    } else {
        Ok(0.0)
    }
}

/// Critical load ratio `c* = (r − u_l)/(u_h − r)` of a two-class system: as the system grows,
/// the universal streaming probability tends to 1 when `ρ_h/ρ_l > c*` and to 0 when below
/// (literature §3.1).
///
/// # Errors
///
/// [`VideoError::OutOfRange`] unless all three are finite and `u_high > rate > u_low ≥ 0`.
pub fn critical_ratio(
    rate_bps: BitsPerSec,
    u_high_bps: BitsPerSec,
    u_low_bps: BitsPerSec,
) -> Result<f64, VideoError> {
    check_nonneg("u_low_bps", u_low_bps)?;
    check_nonneg("rate_bps", rate_bps)?;
    check_nonneg("u_high_bps", u_high_bps)?;
    if rate_bps <= u_low_bps {
        return Err(out_of_range(
            "rate_bps",
            rate_bps,
            &format!("> u_low_bps = {u_low_bps}"),
        ));
    }
    if u_high_bps <= rate_bps {
        return Err(out_of_range(
            "u_high_bps",
            u_high_bps,
            &format!("> rate_bps = {rate_bps}"),
        ));
    }
    Ok((rate_bps - u_low_bps) / (u_high_bps - rate_bps))
}

// ---------------------------------------------------------------------------------------------
// Poisson windows and lattice distributions

/// `ln n!`: a direct sum below 256, Stirling's series above (see [`stirling_error`]).
pub(crate) fn ln_factorial(n: u64) -> f64 {
    if n < 256 {
        (2..=n).map(|k| (k as f64).ln()).sum()
    } else {
        let x = n as f64;
        stirling_error(n) + (x + 0.5) * x.ln() - x + 0.5 * std::f64::consts::TAU.ln()
    }
}

/// `δ(n) = ln n! − (n + ½) ln n + n − ½ ln 2π`, the error of Stirling's formula: directly
/// from the sum of logarithms below 256 (absolute error ≈ 1e-13), else the series
/// `1/(12n) − 1/(360n³) + 1/(1260n⁵) − 1/(1680n⁷)` (next term < 1/(1188 n⁹) < 1e-24).
pub(crate) fn stirling_error(n: u64) -> f64 {
    let x = n as f64;
    if n < 256 {
        if n == 0 {
            return 0.0;
        }
        ln_factorial(n) - (x + 0.5) * x.ln() + x - 0.5 * std::f64::consts::TAU.ln()
    } else {
        let x2 = x * x;
        1.0 / (12.0 * x) - 1.0 / (360.0 * x * x2) + 1.0 / (1260.0 * x * x2 * x2)
            - 1.0 / (1680.0 * x * x2 * x2 * x2)
    }
}

/// `n ln(n/m) + m − n ≥ 0` without cancellation: for `n` near `m` the series
/// `(n − m) v + 2n Σ_{j≥1} v^{2j+1}/(2j+1)` with `v = (n − m)/(n + m)`.
pub(crate) fn deviance(n: f64, m: f64) -> f64 {
    if (n - m).abs() < 0.1 * (n + m) {
        let v = (n - m) / (n + m);
        let v2 = v * v;
        let mut sum = (n - m) * v;
        let mut term = 2.0 * n * v;
        for j in 1..200 {
            term *= v2;
            let next = sum + term / (2 * j + 1) as f64;
            if next.to_bits() == sum.to_bits() {
                break;
            }
            sum = next;
        }
        sum
    } else {
        n * (n / m).ln() + m - n
    }
}

/// `P(N = n)` for `N ~ Poisson(mean)`, computed in log space as
/// `−δ(n) − ½ ln(2πn) − (n ln(n/mean) + mean − n)`, which keeps full relative precision
/// for large means (the naive `n ln mean − mean − ln n!` loses ~1e-9 at mean = 1e6).
pub(crate) fn poisson_pmf(mean: f64, n: u64) -> f64 {
    if mean <= 0.0 {
        return if n == 0 { 1.0 } else { 0.0 };
    }
    if n == 0 {
        return (-mean).exp();
    }
    let x = n as f64;
    (-stirling_error(n) - 0.5 * (std::f64::consts::TAU * x).ln() - deviance(x, mean)).exp()
}

/// The probabilities of a Poisson distribution on the window `lo..lo + pmf.len()`, outside of
/// which at most `omitted` mass lies.
#[derive(Debug, Clone, PartialEq)]
pub struct PoissonWindow {
    /// First count in the window.
    pub lo: u64,
    /// `P(N = lo + i)`.
    pub pmf: Vec<f64>,
    /// Upper bound on `P(N < lo) + P(N ≥ lo + pmf.len())` (≤ [`TAIL_MASS`]).
    pub omitted: f64,
}

/// The window of `Poisson(mean)` outside of which at most [`TAIL_MASS`] lies (half per tail).
///
/// The window grows outward from the mode until a geometric bound on each remaining tail is
/// below `TAIL_MASS/2`: above `n > mean`, `Σ_{k>n} P(k) ≤ P(n+1)/(1 − mean/(n+2))`; below
/// `n < mean`, `Σ_{k<n} P(k) ≤ P(n−1)/(1 − (n−1)/mean)`.
///
/// # Errors
///
/// [`VideoError::OutOfRange`] unless `mean` is finite and in `[0, MAX_MEAN]`.
pub fn poisson_window(mean: f64) -> Result<PoissonWindow, VideoError> {
    check_mean("mean", mean)?;
    if mean <= 0.0 {
        return Ok(PoissonWindow {
            lo: 0,
            pmf: vec![1.0],
            omitted: 0.0,
        });
    }
    let half = TAIL_MASS / 2.0;
    let mode = mean.floor() as u64;
    let mut hi = mode;
    let upper_bound = loop {
        let next = poisson_pmf(mean, hi + 1);
        let bound = next / (1.0 - mean / (hi as f64 + 2.0));
        if bound < half {
            break bound;
        }
        hi += 1;
    };
    let mut lo = mode;
    let lower_bound = loop {
        if lo == 0 {
            break 0.0;
        }
        let prev = poisson_pmf(mean, lo - 1);
        let bound = prev / (1.0 - (lo - 1) as f64 / mean);
        if bound < half {
            break bound;
        }
        lo -= 1;
    };
    Ok(PoissonWindow {
        lo,
        pmf: (lo..=hi).map(|n| poisson_pmf(mean, n)).collect(),
        omitted: upper_bound + lower_bound,
    })
}

impl PoissonWindow {
    /// The counts of the window with their probabilities.
    pub fn iter(&self) -> impl Iterator<Item = (u64, f64)> + '_ {
        self.pmf
            .iter()
            .enumerate()
            .map(move |(i, &p)| (self.lo + i as u64, p))
    }

    /// The smallest count `k` of the window with `P(N ≤ k) ≥ p` (the lower tail is not
    /// added: it is below [`TAIL_MASS`]). `p` in `(0, 1)`.
    pub fn quantile(&self, p: f64) -> u64 {
        let mut cdf = 0.0;
        for (n, q) in self.iter() {
            cdf += q;
            if cdf >= p {
                return n;
            }
        }
        self.lo + self.pmf.len() as u64 - 1
    }
}

/// The distribution of `X = Σ_k d_k N_k` for independent `N_k ~ Poisson(ρ_k)` when every
/// deficit `d_k` is an integer multiple `m_k` of a common `step`: `X = step · M` with
/// `M = Σ_k m_k N_k`, computed by convolving the classes' windows on the integer lattice.
#[derive(Debug, Clone, PartialEq)]
pub struct LatticeDistribution {
    /// Lattice step (the unit of `d_k`, e.g. bit/s).
    pub step: f64,
    /// Lattice index of `probs[0]`: `probs[i]` is `P(M = first + i)`.
    pub first: i64,
    /// Probabilities on the lattice.
    pub probs: Vec<f64>,
    /// Total mass omitted by the truncation of the Poisson windows (a bound).
    pub omitted: f64,
    /// The bound on the convolution's multiply-adds that was checked against the limit
    /// ([`LatticeDistribution::within`]): what computing it cost, for callers with a budget.
    pub work: u64,
}

impl LatticeDistribution {
    /// Exact distribution of `Σ_k d_k N_k` for `classes` = `(d_k, ρ_k)`; `what` names the
    /// computation in errors.
    ///
    /// The step is `max_k |d_k| / q` for the smallest `q ≤ MAX_DENOMINATOR` that makes every
    /// `d_k / step` an integer within `1e-9` (so upload values must share a common grid).
    ///
    /// # Errors
    ///
    /// [`VideoError::OutOfRange`] for a non-finite `d_k` or a mean `ρ_k` outside
    /// `[0, MAX_MEAN]`; [`VideoError::NoLattice`] when no such `q` exists;
    /// [`VideoError::TooLarge`] when the lattice would have more than [`MAX_LATTICE_POINTS`]
    /// points.
    pub fn new(what: &str, classes: &[(f64, f64)]) -> Result<Self, VideoError> {
        Self::within(what, classes, u64::MAX)
    }

    /// [`LatticeDistribution::new`], refused with [`VideoError::TooLarge`] when the
    /// convolution would take more than `max_work` multiply-adds (an upper bound computed
    /// from the windows before any is done: per class, the entries so far, at most the
    /// lattice's span and at most the product of the windows, times its window, plus the span
    /// written). A caller that needs many distributions (a run evaluates one per output time)
    /// bounds its work with it and takes another method above the limit.
    ///
    /// # Errors
    ///
    /// As [`LatticeDistribution::new`], and [`VideoError::TooLarge`] above `max_work`.
    pub fn within(what: &str, classes: &[(f64, f64)], max_work: u64) -> Result<Self, VideoError> {
        for (k, &(d, rho)) in classes.iter().enumerate() {
            if !d.is_finite() {
                return Err(out_of_range(
                    format!("classes[{k}].0 (deficit)"),
                    d,
                    "finite",
                ));
            }
            check_mean(&format!("classes[{k}].1 (mean)"), rho)?;
        }
        let scale = classes.iter().map(|c| c.0.abs()).fold(0.0, f64::max);
        let (step, multiples) = if scale > 0.0 {
            let q = (1..=MAX_DENOMINATOR)
                .find(|&q| {
                    classes.iter().all(|c| {
                        let x = c.0 / scale * q as f64;
                        (x - x.round()).abs() <= 1e-9
                    })
                })
                .ok_or_else(|| VideoError::NoLattice {
                    what: what.to_string(),
                    deficits: classes.iter().map(|c| c.0).collect(),
                    max_denominator: MAX_DENOMINATOR,
                })?;
            let multiples: Vec<i64> = classes
                .iter()
                .map(|c| (c.0 / scale * q as f64).round() as i64)
                .collect();
            (scale / q as f64, multiples)
        } else {
            (1.0, vec![0; classes.len()])
        };
        let windows = classes
            .iter()
            .map(|c| poisson_window(c.1))
            .collect::<Result<Vec<_>, _>>()?;
        // Span of M over the windows, checked before allocating.
        let (mut min_m, mut max_m) = (0i64, 0i64);
        for (w, &m) in windows.iter().zip(&multiples) {
            let a = m * w.lo as i64;
            let b = m * (w.lo + w.pmf.len() as u64 - 1) as i64;
            min_m += a.min(b);
            max_m += a.max(b);
        }
        let points = (max_m - min_m + 1) as u64;
        if points > MAX_LATTICE_POINTS {
            return Err(VideoError::TooLarge {
                what: what.to_string(),
                size: points,
                limit: MAX_LATTICE_POINTS,
                hint: "use fewer viewers or upload values on a coarser common step".to_string(),
            });
        }
        let work = convolution_work(&windows, &multiples);
        if work > max_work {
            return Err(VideoError::TooLarge {
                what: format!("{what} (multiply-adds of the convolution)"),
                size: work,
                limit: max_work,
                hint: "use fewer viewers or upload values on a coarser common step".to_string(),
            });
        }
        let mut first = 0i64;
        let mut probs = vec![1.0];
        for (w, &m) in windows.iter().zip(&multiples) {
            if m == 0 {
                let mass: f64 = w.pmf.iter().sum();
                probs.iter_mut().for_each(|p| *p *= mass);
                continue;
            }
            let a = m * w.lo as i64;
            let b = m * (w.lo + w.pmf.len() as u64 - 1) as i64;
            let new_first = first + a.min(b);
            let len = probs.len() + (a - b).unsigned_abs() as usize;
            let mut next = vec![0.0; len];
            for (i, &p) in probs.iter().enumerate() {
                if p == 0.0 {
                    continue;
                }
                for (n, q) in w.iter() {
                    let index = first + i as i64 + m * n as i64 - new_first;
                    next[index as usize] += p * q;
                }
            }
            first = new_first;
            probs = next;
        }
        Ok(Self {
            step,
            first,
            probs,
            omitted: windows.iter().map(|w| w.omitted).sum(),
            work,
        })
    }

    /// The lattice values `step · M` with their probabilities.
    pub fn iter(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.probs
            .iter()
            .enumerate()
            .map(move |(i, &p)| ((self.first + i as i64) as f64 * self.step, p))
    }
}

/// An upper bound on the multiply-adds of convolving `windows` on the lattice with
/// `multiples` (see [`LatticeDistribution::within`]), saturating.
fn convolution_work(windows: &[PoissonWindow], multiples: &[i64]) -> u64 {
    let (mut entries, mut span, mut work) = (1u64, 1u64, 0u64);
    for (w, &m) in windows.iter().zip(multiples) {
        let len = w.pmf.len() as u64;
        if m == 0 {
            work = work.saturating_add(entries);
            continue;
        }
        span = span.saturating_add(m.unsigned_abs().saturating_mul(len.saturating_sub(1)));
        work = work
            .saturating_add(entries.saturating_mul(len))
            .saturating_add(span);
        entries = entries.saturating_mul(len).min(span);
    }
    work
}

/// `E[f(X, any)]` with `X = Σ_k d_k N_k` and `any = (Σ_k N_k > 0)`, for `classes` =
/// `(d_k, ρ_k)`: a nested sum over the Poisson windows for one or two classes, the lattice
/// distribution for more (then `f` must not depend on `any` except through `X = 0`; see
/// [`expected_server_load`]).
fn nested_expectation(
    classes: &[(f64, f64)],
    mut f: impl FnMut(f64, bool) -> f64,
) -> Result<ExactValue, VideoError> {
    let windows = classes
        .iter()
        .map(|c| poisson_window(c.1))
        .collect::<Result<Vec<_>, _>>()?;
    let omitted = windows.iter().map(|w| w.omitted).sum();
    let value = match windows.as_slice() {
        [] => f(0.0, false),
        [w] => w
            .iter()
            .map(|(n, p)| p * f(classes[0].0 * n as f64, n > 0))
            .sum(),
        [w1, w2] => w1
            .iter()
            .map(|(n1, p1)| {
                let x1 = classes[0].0 * n1 as f64;
                p1 * w2
                    .iter()
                    .map(|(n2, p2)| p2 * f(x1 + classes[1].0 * n2 as f64, n1 + n2 > 0))
                    .sum::<f64>()
            })
            .sum(),
        // Invariant: both callers use the lattice distribution for three classes or more.
        _ => unreachable!("nested_expectation is called with at most two classes"),
    };
    Ok(ExactValue {
        value,
        tail_bound: omitted,
    })
}

/// Whether `x = Σ (r − u_k) N_k ≤ u_s` holds, counting ties (within [`TIE_TOLERANCE`]).
fn covered(x: f64, server: f64, rate: f64) -> bool {
    x <= server + TIE_TOLERANCE * (server.abs() + x.abs() + rate)
}

/// Validates the stochastic inputs and returns the `(r − u_k, ρ_k)` pairs.
fn deficits(
    rate_bps: f64,
    server_name: &str,
    server_bps: f64,
    classes_rho: &[(f64, f64)],
) -> Result<Vec<(f64, f64)>, VideoError> {
    check_nonneg("rate_bps", rate_bps)?;
    if server_bps.is_nan() || server_bps < 0.0 {
        return Err(out_of_range(server_name, server_bps, "≥ 0"));
    }
    check_classes(classes_rho, "mean_peers")?;
    Ok(classes_rho
        .iter()
        .map(|&(u, rho)| (rate_bps - u, rho))
        .collect())
}

// ---------------------------------------------------------------------------------------------
// Stochastic results

/// Universal streaming probability: the probability that every peer gets rate `r` when
/// class k has `N_k ~ Poisson(ρ_k)` peers (independent):
/// `P_us = P(N = 0 or (u_s ≥ r and u_s + Σ_k u_k N_k ≥ r Σ_k N_k))` (literature §3.1).
///
/// For `u_s ≥ r` this is the literature's `P(u_s + Σ u_k N_k ≥ r Σ N_k)`; for `u_s < r` no
/// peer can get the stream, so it is `P(N = 0) = e^{−Σρ}`. `classes_rho` are
/// `(upload_bps, mean_peers)` pairs.
///
/// Exact: one or two classes are summed over their Poisson windows (log-space
/// probabilities, each window missing at most [`TAIL_MASS`]); three or more use the lattice
/// distribution of `Σ (r − u_k) N_k` ([`LatticeDistribution`]), which needs the `r − u_k`
/// on a common step. The returned [`ExactValue::tail_bound`] bounds the absolute error.
///
/// # Errors
///
/// [`VideoError::OutOfRange`] for a negative or non-finite rate, server or upload, or a mean
/// outside `[0, 1e8]`; for three or more classes also the errors of
/// [`LatticeDistribution::new`].
pub fn universal_streaming_probability(
    rate_bps: BitsPerSec,
    server_bps: BitsPerSec,
    classes_rho: &[(BitsPerSec, f64)],
) -> Result<ExactValue, VideoError> {
    let d = deficits(rate_bps, "server_bps", server_bps, classes_rho)?;
    check_nonneg("server_bps", server_bps)?;
    let total_rho: f64 = classes_rho.iter().map(|c| c.1).sum();
    if server_bps < rate_bps {
        return Ok(ExactValue {
            value: (-total_rho).exp(),
            tail_bound: 0.0,
        });
    }
    if d.len() <= 2 {
        return nested_expectation(&d, |x, _| {
            if covered(x, server_bps, rate_bps) {
                1.0
            } else {
                0.0
            }
        });
    }
    let lattice = LatticeDistribution::new("universal_streaming_probability", &d)?;
    let value = lattice
        .iter()
        .filter(|&(x, _)| covered(x, server_bps, rate_bps))
        .map(|(_, p)| p)
        .sum();
    Ok(ExactValue {
        value,
        tail_bound: lattice.omitted,
    })
}

/// A table for drawing `Poisson(mean)` counts by inversion, built independently of
/// [`poisson_pmf`]: unnormalised weights by the ratio recurrence from the mode
/// (`w(n+1) = w(n)·mean/(n+1)`), extended until a weight is below `1e-20` of the mode's, then
/// normalised by their sum.
struct InversionTable {
    lo: u64,
    cdf: Vec<f64>,
}

impl InversionTable {
    fn new(mean: f64) -> Self {
        if mean <= 0.0 {
            return Self {
                lo: 0,
                cdf: vec![1.0],
            };
        }
        let mode = mean.floor() as u64;
        let mut up = vec![1.0];
        let mut n = mode;
        loop {
            let w = up[up.len() - 1] * mean / (n + 1) as f64;
            if w < 1e-20 {
                break;
            }
            up.push(w);
            n += 1;
        }
        let mut down = Vec::new();
        let (mut n, mut w) = (mode, 1.0);
        while n > 0 {
            w *= n as f64 / mean;
            if w < 1e-20 {
                break;
            }
            down.push(w);
            n -= 1;
        }
        let lo = mode - down.len() as u64;
        let weights: Vec<f64> = down.into_iter().rev().chain(up).collect();
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let cdf = weights
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect();
        Self { lo, cdf }
    }

    fn draw(&self, u: f64) -> u64 {
        let i = self
            .cdf
            .partition_point(|&c| c <= u)
            .min(self.cdf.len() - 1);
        self.lo + i as u64
    }
}

/// A uniform double in `[0, 1)` from the top 53 bits of a 64-bit draw.
fn uniform(rng: &mut Pcg64) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Monte Carlo estimate of [`universal_streaming_probability`]: `samples` independent draws
/// of the Poisson counts (inversion of tables built by a ratio recurrence, not the exact
/// method's log-space probabilities) from `Pcg64::seed_from_u64(seed)`, each tested on the
/// original form `N = 0 or (u_s ≥ r and u_s + Σ u_k N_k ≥ r N)`. Deterministic for a seed.
///
/// Returns `(p, standard_error)` with `standard_error = sqrt(p(1 − p)/samples)`.
///
/// # Errors
///
/// As [`universal_streaming_probability`], and [`VideoError::OutOfRange`] unless
/// `1 ≤ samples ≤ 1e9`.
pub fn universal_streaming_monte_carlo(
    rate_bps: BitsPerSec,
    server_bps: BitsPerSec,
    classes_rho: &[(BitsPerSec, f64)],
    samples: u64,
    seed: u64,
) -> Result<(f64, f64), VideoError> {
    deficits(rate_bps, "server_bps", server_bps, classes_rho)?;
    check_nonneg("server_bps", server_bps)?;
    if !(1..=MAX_SAMPLES).contains(&samples) {
        return Err(out_of_range("samples", samples as f64, "in [1, 1e9]"));
    }
    let tables: Vec<InversionTable> = classes_rho
        .iter()
        .map(|c| InversionTable::new(c.1))
        .collect();
    let mut rng = Pcg64::seed_from_u64(seed);
    let mut hits = 0u64;
    for _ in 0..samples {
        let (mut n, mut upload) = (0.0, 0.0);
        for (t, c) in tables.iter().zip(classes_rho) {
            let k = t.draw(uniform(&mut rng)) as f64;
            n += k;
            upload += c.0 * k;
        }
        let demand = rate_bps * n;
        let supply = server_bps + upload;
        let ok = n == 0.0
            || (server_bps >= rate_bps
                && supply >= demand - TIE_TOLERANCE * (supply.abs() + demand.abs() + rate_bps));
        if ok {
            hits += 1;
        }
    }
    let p = hits as f64 / samples as f64;
    Ok((p, (p * (1.0 - p) / samples as f64).sqrt()))
}

/// Mean server rate (bit/s) for streaming at rate `r` with `N_k ~ Poisson(ρ_k)` peers per
/// class and a server that can send at most `server_cap_bps`:
///
/// `E[min(cap, s(N))]`, `s(N) = 1{N > 0} · max(r, r N − Σ_k u_k N_k)`,
///
/// i.e. the expectation of [`min_server_rate`] over the churn, capped by the server's
/// capacity (when the cap binds, the stream is not sustainable; see
/// [`universal_streaming_probability`]). `server_cap_bps` may be `f64::INFINITY`
/// (uncapped: the server rate a provider would have to buy on average).
///
/// One or two classes: a nested sum over the Poisson windows. Three or more: the lattice
/// distribution of `X = Σ (r − u_k) N_k`, using that `X = 0` when `N = 0` (probability
/// `e^{−Σρ}`): `Σ_x P(X = x) min(cap, max(r, x)) − e^{−Σρ} min(cap, r)`. The tail bound
/// times `max(cap, r Σρ + …)` bounds the truncation error; it is reported as the omitted mass.
///
/// # Errors
///
/// As [`universal_streaming_probability`]; `server_cap_bps` must be ≥ 0 (∞ allowed).
pub fn expected_server_load(
    rate_bps: BitsPerSec,
    server_cap_bps: BitsPerSec,
    classes_rho: &[(BitsPerSec, f64)],
) -> Result<ExactValue, VideoError> {
    let d = deficits(rate_bps, "server_cap_bps", server_cap_bps, classes_rho)?;
    let cap = server_cap_bps;
    if d.len() <= 2 {
        return nested_expectation(
            &d,
            |x, any| {
                if any {
                    cap.min(rate_bps.max(x))
                } else {
                    0.0
                }
            },
        );
    }
    let lattice = LatticeDistribution::new("expected_server_load", &d)?;
    let total_rho: f64 = classes_rho.iter().map(|c| c.1).sum();
    let sum: f64 = lattice
        .iter()
        .map(|(x, p)| p * cap.min(rate_bps.max(x)))
        .sum();
    Ok(ExactValue {
        value: sum - (-total_rho).exp() * cap.min(rate_bps),
        tail_bound: lattice.omitted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::{assert_abs_diff_eq, assert_relative_eq};

    /// Closed forms: exact to double precision (literature §3.3 asks rel 1e-12).
    const CLOSED: f64 = 1e-12;
    /// KLR-Pus rows are given to 7 decimals (literature §3.3: abs 1e-6).
    const PUS_ABS: f64 = 1e-6;

    /// 50 peers of upload 1 and 50 of upload 0.2 (literature §3.3 KLR-rmax).
    const KLR_PEERS: [(f64, f64); 2] = [(1.0, 50.0), (0.2, 50.0)];

    #[test]
    fn klr_rmax() {
        // literature §3.3 KLR-rmax, rel 1e-12.
        assert_relative_eq!(
            max_sustainable_rate(10.0, &KLR_PEERS).unwrap(),
            0.7,
            max_relative = CLOSED
        );
        assert_relative_eq!(
            min_server_rate(0.7, &KLR_PEERS).unwrap(),
            10.0,
            max_relative = CLOSED
        );
        assert_relative_eq!(
            min_server_rate(1.0, &KLR_PEERS).unwrap(),
            40.0,
            max_relative = CLOSED
        );
        assert_relative_eq!(
            min_server_rate(0.6, &KLR_PEERS).unwrap(),
            0.6,
            max_relative = CLOSED
        );
    }

    #[test]
    fn klr_rmax_2_server_limited() {
        // literature §3.3 KLR-rmax-2: exact.
        let r = max_sustainable_rate(0.5, &KLR_PEERS).unwrap();
        assert_eq!(r.to_bits(), 0.5f64.to_bits());
    }

    #[test]
    fn no_peers() {
        assert_eq!(
            max_sustainable_rate(3.0, &[]).unwrap().to_bits(),
            3f64.to_bits()
        );
        assert_eq!(min_server_rate(3.0, &[]).unwrap().to_bits(), 0f64.to_bits());
    }

    #[test]
    fn critical_ratio_is_a_quarter() {
        // literature §3.3 KLR-Pus: c* = (1 − 0.5)/(3 − 1) = 0.25, rel 1e-12.
        assert_relative_eq!(
            critical_ratio(1.0, 3.0, 0.5).unwrap(),
            0.25,
            max_relative = CLOSED
        );
    }

    #[test]
    fn invalid_inputs_are_named() {
        assert_eq!(
            critical_ratio(1.0, 0.9, 0.5).unwrap_err().to_string(),
            "`u_high_bps` = 0.9 is out of range: must be > rate_bps = 1"
        );
        assert_eq!(
            critical_ratio(0.4, 3.0, 0.5).unwrap_err().to_string(),
            "`rate_bps` = 0.4 is out of range: must be > u_low_bps = 0.5"
        );
        assert_eq!(
            max_sustainable_rate(1.0, &[(1.0, 2.0), (-1.0, 2.0)])
                .unwrap_err()
                .to_string(),
            "`classes[1].0 (upload_bps)` = -1 is out of range: must be finite and ≥ 0"
        );
        assert_eq!(
            universal_streaming_probability(1.0, 10.0, &[(1.0, f64::NAN)])
                .unwrap_err()
                .to_string(),
            "`classes[0].1 (mean_peers)` = NaN is out of range: must be finite and in [0, 1e8]"
        );
        assert_eq!(
            universal_streaming_monte_carlo(1.0, 10.0, &[(1.0, 2.0)], 0, 1)
                .unwrap_err()
                .to_string(),
            "`samples` = 0 is out of range: must be in [1, 1e9]"
        );
        assert_eq!(
            expected_server_load(1.0, -1.0, &[(1.0, 2.0)])
                .unwrap_err()
                .to_string(),
            "`server_cap_bps` = -1 is out of range: must be ≥ 0"
        );
    }

    /// KLR-Pus inputs: r = 1, u_h = 3, u_l = 0.5, u_s = 10, ρ_l = 400.
    fn klr_pus(rho_h: f64) -> ExactValue {
        universal_streaming_probability(1.0, 10.0, &[(3.0, rho_h), (0.5, 400.0)]).unwrap()
    }

    #[test]
    fn klr_pus_a() {
        // literature §3.3 KLR-Pus-a, abs 1e-6. (Gaussian approximation there: 0.98106; not
        // tested, it is an approximation.)
        let p = klr_pus(120.0);
        assert_abs_diff_eq!(p.value, 0.9832055, epsilon = PUS_ABS);
        assert!(p.tail_bound <= 2.0 * TAIL_MASS, "{}", p.tail_bound);
    }

    #[test]
    fn klr_pus_b() {
        // literature §3.3 KLR-Pus-b (ρ_h/ρ_l = c*), abs 1e-6.
        let p = klr_pus(100.0);
        assert_abs_diff_eq!(p.value, 0.6734864, epsilon = PUS_ABS);
        assert!(p.tail_bound <= 2.0 * TAIL_MASS, "{}", p.tail_bound);
    }

    #[test]
    fn three_class_lattice_equals_two_class_sum() {
        // Splitting the low class into two identical halves leaves the counts' sum Poisson
        // with the same mean, so the lattice path must give KLR-Pus-a (abs 1e-12).
        let p =
            universal_streaming_probability(1.0, 10.0, &[(3.0, 120.0), (0.5, 150.0), (0.5, 250.0)])
                .unwrap();
        assert_abs_diff_eq!(p.value, klr_pus(120.0).value, epsilon = 1e-12);
    }

    #[test]
    fn server_below_rate_streams_only_to_nobody() {
        let p = universal_streaming_probability(1.0, 0.5, &[(3.0, 2.0)]).unwrap();
        assert_relative_eq!(p.value, (-2.0f64).exp(), max_relative = CLOSED);
    }

    #[test]
    fn critical_ratio_separates_as_the_system_grows() {
        // literature §3.1: P_us → 1 above c* = 0.25 and → 0 below, as ρ grows. Server = r (the
        // least that can start a stream), so only the peers' surplus helps. ρ_l = ρ,
        // ρ_h = 0.35 ρ (above) or 0.15 ρ (below). Thresholds at ρ = 1000: above > 0.999,
        // below < 1e-3; the trend must be monotone over ρ = 10, 100, 1000.
        let pus = |ratio: f64, rho: f64| {
            universal_streaming_probability(1.0, 1.0, &[(3.0, ratio * rho), (0.5, rho)])
                .unwrap()
                .value
        };
        let above: Vec<f64> = [10.0, 100.0, 1000.0]
            .iter()
            .map(|&r| pus(0.35, r))
            .collect();
        let below: Vec<f64> = [10.0, 100.0, 1000.0]
            .iter()
            .map(|&r| pus(0.15, r))
            .collect();
        assert!(above[0] < above[1] && above[1] < above[2], "{above:?}");
        assert!(below[0] > below[1] && below[1] > below[2], "{below:?}");
        assert!(above[2] > 0.999, "{above:?}");
        assert!(below[2] < 1e-3, "{below:?}");
    }

    /// Monte Carlo samples per case and the acceptance band (standard errors).
    const MC_SAMPLES: u64 = 1_000_000;
    const MC_BAND: f64 = 4.0;

    fn exact_vs_monte_carlo(rate: f64, server: f64, classes: &[(f64, f64)], seed: u64) {
        let exact = universal_streaming_probability(rate, server, classes).unwrap();
        let (p, se) =
            universal_streaming_monte_carlo(rate, server, classes, MC_SAMPLES, seed).unwrap();
        assert!(se > 0.0, "degenerate case: p = {p}");
        assert!(
            (p - exact.value).abs() <= MC_BAND * se,
            "exact {} vs Monte Carlo {p} ± {se}",
            exact.value
        );
    }

    #[test]
    fn exact_matches_monte_carlo() {
        // 1e6 samples, within 4 standard errors. KLR-Pus-a, KLR-Pus-b (at c*), and a
        // three-class case that takes the lattice path.
        exact_vs_monte_carlo(1.0, 10.0, &[(3.0, 120.0), (0.5, 400.0)], 1);
        exact_vs_monte_carlo(1.0, 10.0, &[(3.0, 100.0), (0.5, 400.0)], 2);
        exact_vs_monte_carlo(1.0, 2.0, &[(2.0, 6.0), (0.75, 10.0), (0.25, 4.0)], 3);
    }

    #[test]
    fn monte_carlo_is_deterministic_for_a_seed() {
        let a = universal_streaming_monte_carlo(1.0, 10.0, &[(3.0, 10.0)], 1000, 7).unwrap();
        let b = universal_streaming_monte_carlo(1.0, 10.0, &[(3.0, 10.0)], 1000, 7).unwrap();
        assert_eq!(a.0.to_bits(), b.0.to_bits());
    }

    /// Brute-force `E[min(cap, s(N))]` over counts up to 60 per class (the omitted Poisson mass
    /// at means ≤ 3 is below 1e-40).
    fn brute_force_load(rate: f64, cap: f64, classes: &[(f64, f64)]) -> f64 {
        let pmf = |mean: f64, n: u32| {
            (n as f64 * mean.ln() - mean - (1..=n).map(|k| (k as f64).ln()).sum::<f64>()).exp()
        };
        let mut total = 0.0;
        let mut counts = vec![0u32; classes.len()];
        loop {
            let p: f64 = counts
                .iter()
                .zip(classes)
                .map(|(&n, c)| pmf(c.1, n))
                .product();
            let n: f64 = counts.iter().map(|&n| n as f64).sum();
            let up: f64 = counts
                .iter()
                .zip(classes)
                .map(|(&n, c)| n as f64 * c.0)
                .sum();
            if n > 0.0 {
                total += p * cap.min(rate.max(rate * n - up));
            }
            // Next count vector (odometer).
            let mut k = 0;
            loop {
                if k == counts.len() {
                    return total;
                }
                counts[k] += 1;
                if counts[k] <= 60 {
                    break;
                }
                counts[k] = 0;
                k += 1;
            }
        }
    }

    #[test]
    fn expected_server_load_matches_brute_force() {
        // Two classes (nested path) and three (lattice path), capped and uncapped; rel 1e-12.
        let two = [(2.0, 1.5), (0.5, 3.0)];
        let three = [(2.0, 1.5), (0.5, 2.0), (0.25, 1.0)];
        for cap in [1.5, 4.0, f64::INFINITY] {
            for classes in [&two[..], &three[..]] {
                let exact = expected_server_load(1.0, cap, classes).unwrap();
                assert_relative_eq!(
                    exact.value,
                    brute_force_load(1.0, cap, classes),
                    max_relative = CLOSED
                );
            }
        }
    }

    #[test]
    fn poisson_window_bounds_its_tails() {
        for mean in [0.01, 1.0, 7.5, 400.0, 1e6] {
            let w = poisson_window(mean).unwrap();
            let mass: f64 = w.pmf.iter().sum();
            assert!(w.omitted <= TAIL_MASS);
            assert_abs_diff_eq!(mass, 1.0, epsilon = 1e-12);
        }
        // Poisson(100): 95th percentile 117 (literature §4.2, CS column).
        assert_eq!(poisson_window(100.0).unwrap().quantile(0.95), 117);
        assert_eq!(poisson_window(10.0).unwrap().quantile(0.95), 15);
        assert_eq!(
            poisson_window(f64::NAN).unwrap_err().to_string(),
            "`mean` = NaN is out of range: must be finite and in [0, 1e8]"
        );
    }

    /// The work bound of `within` (issue 18, item 8): counted from the windows before any
    /// work is done, so a caller evaluating many distributions can refuse the large ones. Two
    /// classes of 90,000 viewers on a 2-step lattice (a small one: 15,000 points): windows of
    /// about 4,800 counts, 2.3·10⁷ multiply-adds.
    #[test]
    fn lattice_work_is_bounded_before_it_is_done() {
        let classes = [(1e6, 90_000.0), (-0.5e6, 90_000.0)];
        let windows: Vec<PoissonWindow> = classes
            .iter()
            .map(|c| poisson_window(c.1).unwrap())
            .collect();
        let (w1, w2) = (windows[0].pmf.len() as u64, windows[1].pmf.len() as u64);
        let work = convolution_work(&windows, &[2, -1]);
        assert!(work >= w1 * w2 && work <= w1 * w2 + 4 * (w1 + w2), "{work}");
        match LatticeDistribution::within("t", &classes, 4_000_000) {
            Err(VideoError::TooLarge { size, limit, .. }) => {
                assert_eq!((size, limit), (work, 4_000_000));
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
        // A small audience fits, and gives the same distribution as `new`.
        let small = [(1e6, 30.0), (-0.5e6, 30.0)];
        assert_eq!(
            LatticeDistribution::within("t", &small, 4_000_000).unwrap(),
            LatticeDistribution::new("t", &small).unwrap()
        );
    }
}
