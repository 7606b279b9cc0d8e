//! Billing conventions: 95th-percentile burstable billing, 5-minute resampling, scaling a
//! simulated horizon to a billing month, and converting transit prices between $/Mbps/month
//! and $/GB.
//!
//! **95th percentile.** Transit and some CDN contracts bill the rate measured on 5-minute
//! samples over the month: sort the samples ascending, discard the top 5 % and bill the
//! highest that remains, i.e. the sample at 0-based index `ceil(0.95 n) − 1`
//! ([`percentile_95`]). With 8,640 samples in a 30-day month, the 432 busiest 5-minute
//! intervals (36 hours) are free.
//!
//! **$/Mbps/month ↔ $/GB** (literature §7.2): 1 Mbps for 30 days carries
//! 10^6/8 B/s × 2,592,000 s = 3.24·10^11 bytes ([`MBPS_MONTH_BYTES`]), i.e. 324 SI GB or
//! 301.75 billing GB (2^30 B). A link billed on its 95th percentile but carrying a mean of
//! `u` times that rate moves `u · 3.24·10^11` bytes per billed Mbps, so
//! `$/GB = ($/Mbps/month) · gb_bytes / (u · 3.24·10^11)`. See `models/costs.md`.

use super::{check_non_negative, check_positive, CostError};
use crate::units::{BitsPerSec, Bytes, Seconds, UsdPerGb, UsdPerMbpsMonth};

/// Length of one burstable-billing sample: 5 minutes, in seconds.
pub const SAMPLE_INTERVAL_S: Seconds = 300.0;

/// The billing month used by default: 30 days, in seconds (2,592,000 s).
pub const DEFAULT_BILLING_MONTH_S: Seconds = 30.0 * 86_400.0;

/// Bytes carried by 1 Mbps sustained for a [`DEFAULT_BILLING_MONTH_S`] month:
/// 10^6 / 8 × 2,592,000 = 3.24·10^11 B.
pub const MBPS_MONTH_BYTES: Bytes = 1e6 / 8.0 * DEFAULT_BILLING_MONTH_S;

/// The 95th-percentile billed rate of a series of 5-minute average rates (bit/s, any order).
///
/// Convention: sort ascending, discard the top 5 % of the samples (rounded down), bill the
/// highest remaining one, i.e. the sample at 0-based index `ceil(0.95 n) − 1`
/// (= `n − ⌊n/20⌋ − 1`, computed in integers). For n = 100 that is the 95th smallest; for
/// n = 20 the 19th; for n < 20 nothing is discarded and the maximum is billed.
///
/// # Errors
///
/// [`CostError::Empty`] for no samples; [`CostError::Sample`] naming the first sample that
/// is negative or not finite (NaN, ±∞).
pub fn percentile_95(samples_bps: &[BitsPerSec]) -> Result<BitsPerSec, CostError> {
    const NAME: &str = "samples_bps";
    if samples_bps.is_empty() {
        return Err(CostError::Empty { name: NAME });
    }
    check_samples(NAME, samples_bps, "finite and ≥ 0 bit/s")?;
    let n = samples_bps.len();
    let index = n - n / 20 - 1;
    let mut sorted = samples_bps.to_vec();
    let (_, &mut billed, _) = sorted.select_nth_unstable_by(index, f64::total_cmp);
    Ok(billed)
}

/// Average rates over consecutive 5-minute windows of a piecewise-linear rate series.
///
/// `rate_bps[i]` is the rate (bit/s) at time `t[i]` (s); between samples the rate is linear,
/// so each window's average is the exact (trapezoid) integral of the interpolant divided by
/// the window's length. Windows start at `t[0]` and are [`SAMPLE_INTERVAL_S`] long; the last
/// one ends at the last time and, if shorter, is averaged over its own length. A remainder
/// shorter than 10^−9 of a window (rounding in the times) is merged into the window before.
/// Equal consecutive times are allowed and describe a jump. Fewer than two samples, or a
/// series whose times are all equal, span no time and give no windows.
///
/// # Errors
///
/// [`CostError::LengthMismatch`] if the slices differ in length; [`CostError::Sample`] for a
/// time that is not finite or a rate that is negative or not finite;
/// [`CostError::TimeBackwards`] where a time is below the one before it.
pub fn resample_5min(t: &[Seconds], rate_bps: &[BitsPerSec]) -> Result<Vec<BitsPerSec>, CostError> {
    if t.len() != rate_bps.len() {
        return Err(CostError::LengthMismatch {
            first: "t",
            first_len: t.len(),
            second: "rate_bps",
            second_len: rate_bps.len(),
        });
    }
    for (index, &ti) in t.iter().enumerate() {
        if !ti.is_finite() {
            return Err(CostError::Sample {
                name: "t",
                index,
                range: "finite (seconds)",
                got: ti,
            });
        }
    }
    for (index, w) in t.windows(2).enumerate() {
        if w[1] < w[0] {
            return Err(CostError::TimeBackwards {
                name: "t",
                index: index + 1,
                previous: w[0],
                got: w[1],
            });
        }
    }
    check_samples("rate_bps", rate_bps, "finite and ≥ 0 bit/s")?;
    let (Some(&t0), Some(&t_end)) = (t.first(), t.last()) else {
        return Ok(Vec::new());
    };
    let span = t_end - t0;
    if span <= 0.0 {
        return Ok(Vec::new());
    }

    // Cumulative integral at each knot: bits sent from t[0] to t[i].
    let mut cumulative = Vec::with_capacity(t.len());
    let mut bits = 0.0;
    cumulative.push(bits);
    for i in 1..t.len() {
        bits += (t[i] - t[i - 1]) * (rate_bps[i] + rate_bps[i - 1]) / 2.0;
        cumulative.push(bits);
    }
    // Bits sent from t[0] to x, for t[0] ≤ x ≤ t_end.
    let integral = |x: f64| -> f64 {
        let j = t.partition_point(|&ti| ti <= x);
        let i = j.saturating_sub(1).min(t.len() - 2);
        let dx = x - t[i];
        if dx <= 0.0 {
            return cumulative[i];
        }
        let slope = (rate_bps[i + 1] - rate_bps[i]) / (t[i + 1] - t[i]);
        let r_x = rate_bps[i] + slope * dx;
        cumulative[i] + dx * (rate_bps[i] + r_x) / 2.0
    };

    let windows = (span / SAMPLE_INTERVAL_S - 1e-9).ceil().max(1.0) as usize;
    let mut out = Vec::with_capacity(windows);
    let mut start = t0;
    let mut bits_start = 0.0;
    for k in 1..=windows {
        let end = if k == windows {
            t_end
        } else {
            t0 + SAMPLE_INTERVAL_S * k as f64
        };
        let bits_end = integral(end);
        out.push((bits_end - bits_start) / (end - start));
        start = end;
        bits_start = bits_end;
    }
    Ok(out)
}

/// Factor that scales a quantity accumulated over a simulated horizon to a billing month:
/// `billing_month_s / horizon_s` (e.g. a 1-day run × 30 for a 30-day month; use
/// [`DEFAULT_BILLING_MONTH_S`] for the month). Assumes the horizon is representative of the
/// month (stationary demand).
///
/// # Errors
///
/// [`CostError::OutOfRange`] if either duration is not finite and > 0.
pub fn month_scale(horizon_s: Seconds, billing_month_s: Seconds) -> Result<f64, CostError> {
    let horizon_s = check_positive("horizon_s", horizon_s)?;
    let billing_month_s = check_positive("billing_month_s", billing_month_s)?;
    Ok(billing_month_s / horizon_s)
}

/// A transit price in $/Mbps/month as a price per GB actually carried.
///
/// `$/GB = price · gb_bytes / (utilisation · MBPS_MONTH_BYTES)`, where `utilisation` is the
/// mean rate over the billed (95th-percentile) rate, in (0, 1], and `gb_bytes` the size of the
/// GB to price in: [`GB`](super::GB) (2^30, billing GB, as the rest of this module) or 10^9
/// (SI GB, as literature §7.2). $1/Mbps/month is $0.0030864/SI GB at 100 % utilisation and
/// $0.0061728/SI GB at 50 % (95th percentile = 2 × mean); $0.0033140/billing GB at 100 %.
///
/// # Errors
///
/// [`CostError::OutOfRange`] if `price` is not finite and ≥ 0, `utilisation` is not in
/// (0, 1] or `gb_bytes` is not finite and > 0.
pub fn usd_per_gb_from_mbps_month(
    price: UsdPerMbpsMonth,
    utilisation: f64,
    gb_bytes: Bytes,
) -> Result<UsdPerGb, CostError> {
    let price = check_non_negative("price", price)?;
    let utilisation = check_utilisation(utilisation)?;
    let gb_bytes = check_positive("gb_bytes", gb_bytes)?;
    Ok(price * gb_bytes / (utilisation * MBPS_MONTH_BYTES))
}

/// The inverse of [`usd_per_gb_from_mbps_month`]: the $/Mbps/month price that costs `price`
/// per GB (of `gb_bytes` bytes) carried at the given mean/95th-percentile `utilisation`.
///
/// `$/Mbps/month = price · utilisation · MBPS_MONTH_BYTES / gb_bytes`.
///
/// # Errors
///
/// As [`usd_per_gb_from_mbps_month`].
pub fn usd_per_mbps_month_from_gb(
    price: UsdPerGb,
    utilisation: f64,
    gb_bytes: Bytes,
) -> Result<UsdPerMbpsMonth, CostError> {
    let price = check_non_negative("price", price)?;
    let utilisation = check_utilisation(utilisation)?;
    let gb_bytes = check_positive("gb_bytes", gb_bytes)?;
    Ok(price * utilisation * MBPS_MONTH_BYTES / gb_bytes)
}

/// `Ok(u)` if `u` is in (0, 1].
fn check_utilisation(u: f64) -> Result<f64, CostError> {
    if u > 0.0 && u <= 1.0 {
        Ok(u)
    } else {
        Err(CostError::OutOfRange {
            name: "utilisation",
            range: "in (0, 1] (mean rate / 95th-percentile rate)",
            got: u,
        })
    }
}

/// `Ok(())` if every sample is finite and ≥ 0, else the first offender.
fn check_samples(
    name: &'static str,
    samples: &[f64],
    range: &'static str,
) -> Result<(), CostError> {
    match samples
        .iter()
        .enumerate()
        .find(|(_, x)| !(x.is_finite() && **x >= 0.0))
    {
        Some((index, &got)) => Err(CostError::Sample {
            name,
            index,
            range,
            got,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::GB;
    use approx::{assert_abs_diff_eq, assert_relative_eq};

    #[test]
    fn p95_of_1_to_100_is_95() {
        let s: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_abs_diff_eq!(percentile_95(&s).expect("valid"), 95.0);
        // Order does not matter.
        let rev: Vec<f64> = s.iter().rev().copied().collect();
        assert_abs_diff_eq!(percentile_95(&rev).expect("valid"), 95.0);
    }

    #[test]
    fn p95_of_20_samples_is_the_19th_smallest() {
        // 20 distinct values in scrambled order: 7·i mod 20 for i = 0..20, times 10.
        let s: Vec<f64> = (0..20u32).map(|i| f64::from((7 * i) % 20) * 10.0).collect();
        // Sorted: 0, 10, ..., 190; the 19th smallest is 180 (the largest is discarded).
        assert_abs_diff_eq!(percentile_95(&s).expect("valid"), 180.0);
    }

    #[test]
    fn p95_index_convention() {
        // ceil(0.95 n) − 1 for a range of n, against the float formula away from rounding.
        for n in 1..=1000usize {
            let s: Vec<f64> = (0..n).map(|i| i as f64).collect();
            let expected = (0.95 * n as f64 - 1e-9).ceil() - 1.0;
            assert_abs_diff_eq!(percentile_95(&s).expect("valid"), expected);
        }
        // Fewer than 20 samples: nothing discarded.
        assert_abs_diff_eq!(percentile_95(&[3.0, 9.0, 1.0]).expect("valid"), 9.0);
        // A 30-day month of 5-minute samples: 8,640 samples, the top 432 are discarded.
        let month: Vec<f64> = (0..8640).map(f64::from).collect();
        assert_abs_diff_eq!(percentile_95(&month).expect("valid"), 8207.0);
    }

    #[test]
    fn p95_of_a_constant_is_the_constant() {
        assert_abs_diff_eq!(percentile_95(&[2.5e6; 37]).expect("valid"), 2.5e6);
        assert_abs_diff_eq!(percentile_95(&[7.0]).expect("valid"), 7.0);
    }

    #[test]
    fn p95_errors() {
        assert_eq!(
            percentile_95(&[]).unwrap_err().to_string(),
            "`samples_bps` is empty: at least one sample is needed"
        );
        assert_eq!(
            percentile_95(&[1.0, f64::NAN, 3.0])
                .unwrap_err()
                .to_string(),
            "`samples_bps[1]` must be finite and ≥ 0 bit/s (got NaN)"
        );
        assert_eq!(
            percentile_95(&[1.0, 2.0, f64::INFINITY])
                .unwrap_err()
                .to_string(),
            "`samples_bps[2]` must be finite and ≥ 0 bit/s (got inf)"
        );
        assert_eq!(
            percentile_95(&[-1.0]).unwrap_err().to_string(),
            "`samples_bps[0]` must be finite and ≥ 0 bit/s (got -1)"
        );
    }

    /// A linear ramp r(t) = a + b t sampled every 7 s (not aligned with the windows): the
    /// average over [s, e] is a + b (s + e)/2 exactly; the last window [900, 1000] is partial.
    #[test]
    fn resample_linear_ramp_matches_closed_form() {
        let (a, b) = (1.0e6, 2.5e3);
        let mut t: Vec<f64> = (0..=142).map(|i| 10.0 + 7.0 * f64::from(i)).collect();
        t.push(1010.0); // t from 10 s to 1010 s: windows start at 10, the last is 100 s long
        let r: Vec<f64> = t.iter().map(|&x| a + b * x).collect();
        let w = resample_5min(&t, &r).expect("valid");
        let bounds = [
            (10.0, 310.0),
            (310.0, 610.0),
            (610.0, 910.0),
            (910.0, 1010.0),
        ];
        assert_eq!(w.len(), bounds.len());
        for (avg, (s, e)) in w.iter().zip(bounds) {
            assert_relative_eq!(*avg, a + b * (s + e) / 2.0, max_relative = 1e-12);
        }
    }

    #[test]
    fn resample_step_and_exact_windows() {
        // 0 to 600 s at 1 Mbps, a jump at 300 s to 3 Mbps: two windows, exactly.
        let t = [0.0, 300.0, 300.0, 600.0];
        let r = [1e6, 1e6, 3e6, 3e6];
        let w = resample_5min(&t, &r).expect("valid");
        assert_eq!(w.len(), 2);
        assert_relative_eq!(w[0], 1e6, max_relative = 1e-12);
        assert_relative_eq!(w[1], 3e6, max_relative = 1e-12);
        // A span a hair over two windows (rounding) still gives two windows.
        let w = resample_5min(&[0.0, 600.0 + 1e-10], &[5.0, 5.0]).expect("valid");
        assert_eq!(w.len(), 2);
        // A single window shorter than 5 minutes.
        let w = resample_5min(&[0.0, 60.0], &[0.0, 60.0]).expect("valid");
        assert_eq!(w.len(), 1);
        assert_relative_eq!(w[0], 30.0, max_relative = 1e-12);
    }

    #[test]
    fn resample_degenerate_and_errors() {
        assert!(resample_5min(&[], &[]).expect("valid").is_empty());
        assert!(resample_5min(&[5.0], &[1.0]).expect("valid").is_empty());
        assert!(resample_5min(&[5.0, 5.0], &[1.0, 2.0])
            .expect("valid")
            .is_empty());
        assert_eq!(
            resample_5min(&[0.0, 1.0], &[1.0]).unwrap_err().to_string(),
            "`t` and `rate_bps` must have the same length (got 2 and 1)"
        );
        assert_eq!(
            resample_5min(&[0.0, 20.0, 10.0], &[1.0, 1.0, 1.0])
                .unwrap_err()
                .to_string(),
            "`t[2]` must be ≥ `t[1]` = 20 s (got 10 s)"
        );
        assert_eq!(
            resample_5min(&[0.0, f64::NAN], &[1.0, 1.0])
                .unwrap_err()
                .to_string(),
            "`t[1]` must be finite (seconds) (got NaN)"
        );
        assert_eq!(
            resample_5min(&[0.0, 1.0], &[1.0, -2.0])
                .unwrap_err()
                .to_string(),
            "`rate_bps[1]` must be finite and ≥ 0 bit/s (got -2)"
        );
    }

    #[test]
    fn month_scale_values_and_errors() {
        assert_abs_diff_eq!(DEFAULT_BILLING_MONTH_S, 2_592_000.0);
        assert_relative_eq!(
            month_scale(86_400.0, DEFAULT_BILLING_MONTH_S).expect("valid"),
            30.0,
            max_relative = 1e-15
        );
        assert_relative_eq!(
            month_scale(7.0 * 86_400.0, 31.0 * 86_400.0).expect("valid"),
            31.0 / 7.0,
            max_relative = 1e-15
        );
        assert_eq!(
            month_scale(0.0, DEFAULT_BILLING_MONTH_S)
                .unwrap_err()
                .to_string(),
            "`horizon_s` must be finite and > 0 (got 0)"
        );
        assert_eq!(
            month_scale(3600.0, f64::INFINITY).unwrap_err().to_string(),
            "`billing_month_s` must be finite and > 0 (got inf)"
        );
    }

    /// Literature §7.2: 1 Mbps for 30 days = 3.24e11 B = 324 SI GB.
    #[test]
    fn mbps_month_bytes() {
        assert_relative_eq!(MBPS_MONTH_BYTES, 3.24e11, max_relative = 1e-15);
    }

    /// Literature §7.2 conversion (SI GB): $1/Mbps/month = $0.00309/GB at 100 % utilisation,
    /// $0.00617/GB with 95th percentile / mean = 2. Exact: 1/324 and 2/324.
    #[test]
    fn mbps_month_to_si_gb_reference() {
        let full = usd_per_gb_from_mbps_month(1.0, 1.0, 1e9).expect("valid");
        let half = usd_per_gb_from_mbps_month(1.0, 0.5, 1e9).expect("valid");
        assert_abs_diff_eq!(full, 0.003_086_4, epsilon = 1e-6);
        assert_abs_diff_eq!(half, 0.006_172_8, epsilon = 1e-6);
        assert_relative_eq!(full, 1.0 / 324.0, max_relative = 1e-12);
        assert_relative_eq!(half, 2.0 / 324.0, max_relative = 1e-12);
    }

    /// The same in billing GB (2^30 B): 3.24e11 / 2^30 = 301.7485… GB, so $1/Mbps/month =
    /// 1/301.7485… = $0.0033140/GB at 100 % utilisation.
    #[test]
    fn mbps_month_to_billing_gb() {
        let gb_per_mbps_month = 3.24e11 / GB;
        assert_abs_diff_eq!(gb_per_mbps_month, 301.748_514, epsilon = 1e-6);
        let full = usd_per_gb_from_mbps_month(1.0, 1.0, GB).expect("valid");
        assert_relative_eq!(full, 1.0 / gb_per_mbps_month, max_relative = 1e-12);
        assert_abs_diff_eq!(full, 0.003_314_018, epsilon = 1e-9);
    }

    #[test]
    fn conversion_round_trips() {
        for price in [0.27, 1.0, 5.0, 1200.0] {
            for u in [0.1, 0.5, 1.0] {
                for gb in [1e9, GB] {
                    let per_gb = usd_per_gb_from_mbps_month(price, u, gb).expect("valid");
                    let back = usd_per_mbps_month_from_gb(per_gb, u, gb).expect("valid");
                    assert_relative_eq!(back, price, max_relative = 1e-12);
                }
            }
        }
        // $0.20/GB (the 2007 AT&T anecdote of §7.2) is $64.80/Mbps/month at full use (SI GB).
        assert_relative_eq!(
            usd_per_mbps_month_from_gb(0.20, 1.0, 1e9).expect("valid"),
            64.8,
            max_relative = 1e-12
        );
    }

    #[test]
    fn conversion_errors() {
        assert_eq!(
            usd_per_gb_from_mbps_month(1.0, 0.0, GB)
                .unwrap_err()
                .to_string(),
            "`utilisation` must be in (0, 1] (mean rate / 95th-percentile rate) (got 0)"
        );
        assert_eq!(
            usd_per_gb_from_mbps_month(1.0, 1.5, GB)
                .unwrap_err()
                .to_string(),
            "`utilisation` must be in (0, 1] (mean rate / 95th-percentile rate) (got 1.5)"
        );
        assert_eq!(
            usd_per_mbps_month_from_gb(-1.0, 1.0, GB)
                .unwrap_err()
                .to_string(),
            "`price` must be finite and ≥ 0 (got -1)"
        );
        assert_eq!(
            usd_per_gb_from_mbps_month(1.0, 1.0, 0.0)
                .unwrap_err()
                .to_string(),
            "`gb_bytes` must be finite and > 0 (got 0)"
        );
    }
}
