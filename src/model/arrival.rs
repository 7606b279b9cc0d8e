//! Arrival-rate profiles λ(t): constant, flash crowd, diurnal, and a piecewise-linear trace.
//!
//! Besides `rate_at`, each profile can describe itself as a small linear generator
//! (`dw/dt = G w`, `λ(t) = ℓ·w(t)`), which lets the exact integrator in `solve::exact`
//! carry the forcing inside one matrix exponential instead of approximating it.

use nalgebra::{DMatrix, DVector};

pub use crate::scenario::spec::ArrivalProfile;
use crate::units::{PerSec, Seconds};

/// One stretch of time on which the forcing is `λ(t) = ℓ·w(t)`, `dw/dt = G w`,
/// `w(start) = w0`, with `w[0] ≡ 1` (a constant slot the integrator also uses for constant terms).
#[derive(Debug, Clone)]
pub struct ForcingSegment {
    /// Start of the segment (s).
    pub start: Seconds,
    /// Generator `G` (m × m, first row zero).
    pub generator: DMatrix<f64>,
    /// `w(start)`.
    pub w0: DVector<f64>,
    /// `ℓ`, so that `λ(t) = ℓ·w(t)`.
    pub lambda: DVector<f64>,
}

impl ArrivalProfile {
    /// Arrival rate at time `t` (1/s).
    pub fn rate_at(&self, t: Seconds) -> PerSec {
        match self {
            Self::Constant { rate } => *rate,
            Self::FlashCrowd { rate, decay_time } => rate * (-t / decay_time).exp(),
            Self::Diurnal {
                mean_rate,
                peak_to_mean,
                period,
                peak_time,
            } => {
                let phase = 2.0 * std::f64::consts::PI * (t - peak_time) / period;
                mean_rate * (1.0 + (peak_to_mean - 1.0) * phase.cos())
            }
            Self::Trace { points } => trace_rate(points, t),
        }
    }

    /// dλ/dt at time `t` (1/s²); at a trace breakpoint, the slope of the segment that starts
    /// there (the integrators step to breakpoints, so only the right-hand slope is used).
    pub fn rate_derivative(&self, t: Seconds) -> f64 {
        match self {
            Self::Constant { .. } => 0.0,
            Self::FlashCrowd { rate, decay_time } => -rate / decay_time * (-t / decay_time).exp(),
            Self::Diurnal {
                mean_rate,
                peak_to_mean,
                period,
                peak_time,
            } => {
                let omega = 2.0 * std::f64::consts::PI / period;
                -mean_rate * (peak_to_mean - 1.0) * omega * (omega * (t - peak_time)).sin()
            }
            Self::Trace { points } => points
                .windows(2)
                .find(|pair| t >= pair[0].0 && t < pair[1].0)
                .map_or(0.0, |pair| {
                    (pair[1].1 - pair[0].1) / (pair[1].0 - pair[0].0)
                }),
        }
    }

    /// Times in (0, ∞) where λ(t) has a kink (trace breakpoints), ascending.
    pub fn kinks(&self) -> Vec<Seconds> {
        match self {
            Self::Trace { points } => points.iter().map(|p| p.0).filter(|&t| t > 0.0).collect(),
            _ => Vec::new(),
        }
    }

    /// An upper bound on λ(t) over `[a, b]` (0 ≤ a ≤ b), exact up to a relative margin of
    /// 1e-12 added against rounding; the stochastic simulator thins arrivals against it.
    pub fn max_rate_on(&self, a: Seconds, b: Seconds) -> PerSec {
        const MARGIN: f64 = 1.0 + 1e-12;
        let ends = self.rate_at(a).max(self.rate_at(b));
        let inner = match self {
            Self::Constant { .. } | Self::FlashCrowd { .. } => 0.0,
            Self::Diurnal {
                mean_rate,
                peak_to_mean,
                period,
                peak_time,
            } => {
                // The next peak at or after a: peak_time + m·period.
                let m = ((a - peak_time) / period).ceil();
                let next = peak_time + m * period;
                if next <= b {
                    mean_rate * peak_to_mean
                } else {
                    0.0
                }
            }
            Self::Trace { points } => points
                .iter()
                .filter(|p| p.0 > a && p.0 < b)
                .fold(0.0_f64, |m, p| m.max(p.1)),
        };
        ends.max(inner) * MARGIN
    }

    /// The rate whose constant-arrival steady state is reported for this profile, and what it is.
    pub fn reference_rate(&self) -> (PerSec, &'static str) {
        match self {
            Self::Constant { rate } => (*rate, "constant arrival rate"),
            Self::FlashCrowd { rate, .. } => (*rate, "peak arrival rate (t = 0)"),
            Self::Diurnal { mean_rate, .. } => (*mean_rate, "mean arrival rate"),
            Self::Trace { points } => (trace_mean(points), "time-average of the trace"),
        }
    }

    /// Same shape with every rate multiplied by `factor` (a class's share of arrivals).
    pub fn scaled(&self, factor: f64) -> Self {
        match self {
            Self::Constant { rate } => Self::Constant {
                rate: rate * factor,
            },
            Self::FlashCrowd { rate, decay_time } => Self::FlashCrowd {
                rate: rate * factor,
                decay_time: *decay_time,
            },
            Self::Diurnal {
                mean_rate,
                peak_to_mean,
                period,
                peak_time,
            } => Self::Diurnal {
                mean_rate: mean_rate * factor,
                peak_to_mean: *peak_to_mean,
                period: *period,
                peak_time: *peak_time,
            },
            Self::Trace { points } => Self::Trace {
                points: points.iter().map(|&(t, r)| (t, r * factor)).collect(),
            },
        }
    }

    /// Name used in outputs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Constant { .. } => "constant",
            Self::FlashCrowd { .. } => "flash-crowd",
            Self::Diurnal { .. } => "diurnal",
            Self::Trace { .. } => "trace",
        }
    }

    /// The forcing as linear-generator segments covering `[0, ∞)`, in time order.
    pub fn forcing_segments(&self) -> Vec<ForcingSegment> {
        match self {
            Self::Constant { rate } => vec![ForcingSegment {
                start: 0.0,
                generator: DMatrix::zeros(1, 1),
                w0: DVector::from_element(1, 1.0),
                lambda: DVector::from_element(1, *rate),
            }],
            Self::FlashCrowd { rate, decay_time } => {
                let mut g = DMatrix::zeros(2, 2);
                g[(1, 1)] = -1.0 / decay_time;
                vec![ForcingSegment {
                    start: 0.0,
                    generator: g,
                    w0: DVector::from_vec(vec![1.0, 1.0]),
                    lambda: DVector::from_vec(vec![0.0, *rate]),
                }]
            }
            Self::Diurnal {
                mean_rate,
                peak_to_mean,
                period,
                peak_time,
            } => {
                // w = [1, cos φ, sin φ] with φ = ω (t − peak_time).
                let omega = 2.0 * std::f64::consts::PI / period;
                let mut g = DMatrix::zeros(3, 3);
                g[(1, 2)] = -omega;
                g[(2, 1)] = omega;
                let phase0 = -omega * peak_time;
                vec![ForcingSegment {
                    start: 0.0,
                    generator: g,
                    w0: DVector::from_vec(vec![1.0, phase0.cos(), phase0.sin()]),
                    lambda: DVector::from_vec(vec![
                        *mean_rate,
                        mean_rate * (peak_to_mean - 1.0),
                        0.0,
                    ]),
                }]
            }
            Self::Trace { points } => trace_segments(points),
        }
    }

    /// Arrivals expected in `[0, t]` (closed form), used by conservation checks.
    pub fn cumulative(&self, t: Seconds) -> f64 {
        match self {
            Self::Constant { rate } => rate * t,
            Self::FlashCrowd { rate, decay_time } => {
                rate * decay_time * (1.0 - (-t / decay_time).exp())
            }
            Self::Diurnal {
                mean_rate,
                peak_to_mean,
                period,
                peak_time,
            } => {
                let omega = 2.0 * std::f64::consts::PI / period;
                let amp = peak_to_mean - 1.0;
                mean_rate
                    * (t + amp / omega
                        * ((omega * (t - peak_time)).sin() - (-omega * peak_time).sin()))
            }
            Self::Trace { points } => trace_integral(points, t),
        }
    }
}

fn trace_rate(points: &[(Seconds, PerSec)], t: Seconds) -> PerSec {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return 0.0;
    };
    if t <= first.0 {
        return first.1;
    }
    if t >= last.0 {
        return last.1;
    }
    // Invariant: points are strictly increasing in time (validated), so one window holds t.
    for pair in points.windows(2) {
        let ((t0, r0), (t1, r1)) = (pair[0], pair[1]);
        if t <= t1 {
            return r0 + (r1 - r0) * (t - t0) / (t1 - t0);
        }
    }
    last.1
}

/// ∫_0^t λ for a trace.
fn trace_integral(points: &[(Seconds, PerSec)], t: Seconds) -> f64 {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return 0.0;
    };
    let mut total = first.1 * t.min(first.0).max(0.0);
    for pair in points.windows(2) {
        let ((t0, r0), (t1, r1)) = (pair[0], pair[1]);
        if t <= t0 {
            break;
        }
        let end = t.min(t1);
        let r_end = r0 + (r1 - r0) * (end - t0) / (t1 - t0);
        total += 0.5 * (r0 + r_end) * (end - t0);
    }
    if t > last.0 {
        total += last.1 * (t - last.0.max(0.0));
    }
    total
}

fn trace_mean(points: &[(Seconds, PerSec)]) -> PerSec {
    match (points.first(), points.last()) {
        (Some(first), Some(last)) if last.0 > first.0 => {
            (trace_integral(points, last.0) - trace_integral(points, first.0)) / (last.0 - first.0)
        }
        (Some(first), _) => first.1,
        _ => 0.0,
    }
}

fn trace_segments(points: &[(Seconds, PerSec)]) -> Vec<ForcingSegment> {
    let constant = |start: Seconds, rate: PerSec| ForcingSegment {
        start,
        generator: DMatrix::zeros(2, 2),
        w0: DVector::from_vec(vec![1.0, 0.0]),
        lambda: DVector::from_vec(vec![rate, 0.0]),
    };
    let mut out = Vec::new();
    let Some(first) = points.first() else {
        return vec![constant(0.0, 0.0)];
    };
    if first.0 > 0.0 {
        out.push(constant(0.0, first.1));
    }
    for pair in points.windows(2) {
        let ((t0, r0), (t1, r1)) = (pair[0], pair[1]);
        if t1 <= 0.0 {
            continue;
        }
        // w = [1, t − t0]; λ = r0 + slope (t − t0).
        let start = t0.max(0.0);
        let mut g = DMatrix::zeros(2, 2);
        g[(1, 0)] = 1.0;
        let slope = (r1 - r0) / (t1 - t0);
        out.push(ForcingSegment {
            start,
            generator: g,
            w0: DVector::from_vec(vec![1.0, start - t0]),
            lambda: DVector::from_vec(vec![r0, slope]),
        });
    }
    let last = points[points.len() - 1];
    out.push(constant(last.0.max(0.0), last.1));
    if out[0].start > 0.0 {
        out.insert(0, constant(0.0, first.1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    /// Closed-form integrals are exact up to rounding.
    const TOL: f64 = 1e-12;

    /// Composite Simpson (error O(h⁴); the trace's kinks fall on grid points or cost O(h²) once).
    fn numeric_integral(p: &ArrivalProfile, t: f64) -> f64 {
        let n = 200_000;
        let h = t / n as f64;
        let inner: f64 = (1..n)
            .map(|i| p.rate_at(i as f64 * h) * if i % 2 == 1 { 4.0 } else { 2.0 })
            .sum();
        (p.rate_at(0.0) + inner + p.rate_at(t)) * h / 3.0
    }

    /// One profile of each kind (the diurnal one with the given period and peak time).
    fn four_profiles(period: f64, peak_time: f64) -> [ArrivalProfile; 4] {
        [
            ArrivalProfile::Constant { rate: 2.0 },
            ArrivalProfile::FlashCrowd {
                rate: 3.0,
                decay_time: 100.0,
            },
            ArrivalProfile::Diurnal {
                mean_rate: 1.0,
                peak_to_mean: 1.8,
                period,
                peak_time,
            },
            ArrivalProfile::Trace {
                points: vec![(10.0, 1.0), (50.0, 3.0), (80.0, 0.5)],
            },
        ]
    }

    /// dλ/dt against a central difference, away from trace breakpoints.
    #[test]
    fn rate_derivative_matches_central_differences() {
        let profiles = four_profiles(500.0, 100.0);
        for p in &profiles {
            for t in [3.0, 20.0, 61.0, 95.0, 333.0] {
                let h = 1e-4;
                let fd = (p.rate_at(t + h) - p.rate_at(t - h)) / (2.0 * h);
                // central differences: O(h²) truncation, O(ε/h) rounding
                assert_relative_eq!(
                    p.rate_derivative(t),
                    fd,
                    max_relative = 1e-6,
                    epsilon = 1e-9
                );
            }
        }
        let trace = &profiles[3];
        assert_eq!(trace.kinks(), vec![10.0, 50.0, 80.0]);
        assert!(profiles[2].kinks().is_empty());
    }

    #[test]
    fn cumulative_matches_quadrature_for_every_profile() {
        let profiles = four_profiles(86_400.0, 72_000.0);
        for p in &profiles {
            for t in [5.0, 37.0, 400.0, 90_000.0] {
                assert_relative_eq!(p.cumulative(t), numeric_integral(p, t), max_relative = 1e-7);
            }
        }
    }

    /// The thinning bound holds on a fine grid inside random intervals of every profile.
    #[test]
    fn max_rate_on_bounds_the_rate() {
        let profiles = [
            ArrivalProfile::Constant { rate: 2.0 },
            ArrivalProfile::FlashCrowd {
                rate: 3.0,
                decay_time: 100.0,
            },
            ArrivalProfile::Diurnal {
                mean_rate: 1.0,
                peak_to_mean: 1.8,
                period: 100.0,
                peak_time: 70.0,
            },
            ArrivalProfile::Trace {
                points: vec![(10.0, 1.0), (50.0, 3.0), (80.0, 0.5)],
            },
        ];
        for p in &profiles {
            for (a, b) in [
                (0.0, 5.0),
                (3.0, 60.0),
                (45.0, 75.0),
                (69.0, 171.0),
                (0.0, 400.0),
            ] {
                let bound = p.max_rate_on(a, b);
                let tightest = (0..=1000)
                    .map(|i| p.rate_at(a + (b - a) * f64::from(i) / 1000.0))
                    .fold(0.0, f64::max);
                assert!(
                    bound >= tightest,
                    "{p:?} on [{a}, {b}]: {bound} < {tightest}"
                );
                // Tight: within the grid's resolution of the true maximum.
                assert!(
                    bound <= tightest * 1.001,
                    "{p:?} on [{a}, {b}]: {bound} ≫ {tightest}"
                );
            }
        }
    }

    #[test]
    fn trace_is_piecewise_linear_and_held_at_the_ends() {
        let p = ArrivalProfile::Trace {
            points: vec![(10.0, 1.0), (20.0, 3.0)],
        };
        assert_relative_eq!(p.rate_at(0.0), 1.0, max_relative = TOL);
        assert_relative_eq!(p.rate_at(15.0), 2.0, max_relative = TOL);
        assert_relative_eq!(p.rate_at(99.0), 3.0, max_relative = TOL);
        assert_relative_eq!(p.reference_rate().0, 2.0, max_relative = TOL);
    }

    #[test]
    fn forcing_segments_reproduce_the_rate() {
        let p = ArrivalProfile::Diurnal {
            mean_rate: 1.0,
            peak_to_mean: 1.5,
            period: 100.0,
            peak_time: 30.0,
        };
        let seg = &p.forcing_segments()[0];
        for t in [0.0, 13.0, 30.0, 77.0] {
            let w = (&seg.generator * t).exp() * &seg.w0;
            assert_relative_eq!(seg.lambda.dot(&w), p.rate_at(t), max_relative = 1e-10);
        }
        let tr = ArrivalProfile::Trace {
            points: vec![(10.0, 1.0), (20.0, 3.0), (30.0, 0.0)],
        };
        let segs = tr.forcing_segments();
        assert_eq!(segs.len(), 4);
        for t in [5.0, 12.0, 25.0, 40.0] {
            let seg = segs.iter().rev().find(|s| s.start <= t).expect("covers t");
            let w = (&seg.generator * (t - seg.start)).exp() * &seg.w0;
            assert_relative_eq!(seg.lambda.dot(&w), tr.rate_at(t), max_relative = 1e-12);
        }
    }
}
