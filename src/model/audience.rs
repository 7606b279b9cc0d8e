//! The audience of a live stream or a video service as a fluid: viewers arrive at λ(t) and
//! each watches for an exponential time of mean `T` (the fluid limit of an M/G/∞ queue, whose
//! mean depends on the watch-time distribution only through its mean):
//!
//! ```text
//! dn/dt = λ(t) − n / T,    dV/dt = n (viewer-seconds),    dA/dt = λ(t) (arrivals)
//! ```
//!
//! One linear regime, so the exact integrator applies (`models/streaming.md`). Classes are
//! fixed shares of the audience (they watch equally long).

use nalgebra::{DMatrix, DVector};

use super::{Affine, ArrivalProfile, FluidModel, Guard, PiecewiseAffine, State};
use crate::units::Seconds;

/// Index of the audience n.
pub const IX_VIEWERS: usize = 0;
/// Index of the running viewer-seconds ∫n.
pub const IX_VIEWER_SECONDS: usize = 1;
/// Index of the running arrivals ∫λ.
pub const IX_ARRIVALS: usize = 2;

/// The audience model.
#[derive(Debug, Clone)]
pub struct Audience {
    /// Arrival profile λ(t).
    pub arrival: ArrivalProfile,
    /// Mean watch time T, s (> 0).
    pub watch_time: Seconds,
}

impl Audience {
    /// Steady audience at a constant arrival rate λ: n* = λ T (Little's law).
    pub fn steady(&self, rate: f64) -> f64 {
        rate * self.watch_time
    }
}

impl FluidModel for Audience {
    fn name(&self) -> &'static str {
        "audience"
    }
    fn dim(&self) -> usize {
        3
    }
    fn state_names(&self) -> Vec<String> {
        ["viewers", "viewer_seconds", "arrivals"]
            .map(String::from)
            .to_vec()
    }
    fn initial_state(&self) -> State {
        State::zeros(3)
    }
    fn rhs(&self, t: Seconds, z: &State, dz: &mut State) {
        let lam = self.arrival.rate_at(t);
        dz[IX_VIEWERS] = lam - z[IX_VIEWERS] / self.watch_time;
        dz[IX_VIEWER_SECONDS] = z[IX_VIEWERS];
        dz[IX_ARRIVALS] = lam;
    }
    fn piecewise_affine(&self) -> Option<&dyn PiecewiseAffine> {
        Some(self)
    }
}

impl PiecewiseAffine for Audience {
    fn dynamic_dim(&self) -> usize {
        1
    }
    fn regime_count(&self) -> usize {
        1
    }
    fn regime_available(&self, _r: usize) -> bool {
        true
    }
    fn regime_label(&self, _r: usize) -> &'static str {
        "watching"
    }
    fn affine(&self, _r: usize) -> Affine {
        let mut a = DMatrix::zeros(3, 1);
        a[(IX_VIEWERS, IX_VIEWERS)] = -1.0 / self.watch_time;
        a[(IX_VIEWER_SECONDS, IX_VIEWERS)] = 1.0;
        Affine {
            a,
            b: DVector::zeros(3),
            arrival: DVector::from_vec(vec![1.0, 0.0, 1.0]),
        }
    }
    fn guards(&self, _r: usize) -> Vec<Guard> {
        Vec::new()
    }
    fn arrival(&self) -> &ArrivalProfile {
        &self.arrival
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::solve::{integrate, Method, SolverSettings};

    /// Constant λ from an empty audience: n(t) = λT(1 − e^{−t/T}) and
    /// ∫n = λT(t − T(1 − e^{−t/T})) (the linear ODE's solution), both methods, rel 1e-9.
    #[test]
    fn constant_arrivals_fill_the_audience_as_the_closed_form() {
        let m = Audience {
            arrival: ArrivalProfile::Constant { rate: 2.0 },
            watch_time: 600.0,
        };
        for method in [Method::Exact, Method::Dopri5] {
            let mut st = SolverSettings::new(3000.0);
            st.points = 30;
            st.method = method;
            st.rtol = Some(1e-11);
            st.atol = Some(1e-11);
            let traj = integrate(&m, &st).unwrap();
            for (t, z) in traj.t.iter().zip(traj.states()) {
                let e = (-t / 600.0).exp();
                let n = 1200.0 * (1.0 - e);
                let v = 1200.0 * (t - 600.0 * (1.0 - e));
                assert!(
                    (z[IX_VIEWERS] - n).abs() <= 1e-9 * 1200.0,
                    "{method:?} n({t})"
                );
                assert!(
                    (z[IX_VIEWER_SECONDS] - v).abs() <= 1e-9 * v.max(1.0),
                    "{method:?}"
                );
                assert!((z[IX_ARRIVALS] - 2.0 * t).abs() <= 1e-9 * (2.0 * t).max(1.0));
            }
        }
        assert!((m.steady(2.0) - 1200.0).abs() < 1e-12);
    }
}
