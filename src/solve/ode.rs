//! The only module that talks to `ode_solvers`: a private adapter from [`FluidModel`] to its
//! `System` trait, and the one positional `Dopri5::from_param` call, fed by `SolverSettings`.
//!
//! Pitfall found here: `ode_solvers` 0.6.2's `OutputType::Dense` interpolation is far less
//! accurate than its steps (on `y' = cos(0.0126 t) − y` over [0, 2500] at rtol = atol = 1e-6
//! the dense value at t = 2500 was off by 6e-2, the accepted step by 3.6e-7). So we integrate
//! each output interval separately with `OutputType::Sparse`, which ends exactly on the
//! interval's end, and carry the last step size into the next interval.

use ode_solvers::dop_shared::IntegrationError;
use ode_solvers::{DVector, Dopri5, OutputType, System};

use super::{SolveStats, SolverSettings, Trajectory, DOPRI5_TOL};
use crate::error::SolveError;
use crate::model::FluidModel;

struct Adapter<'a> {
    model: &'a dyn FluidModel,
}

impl System<f64, DVector<f64>> for Adapter<'_> {
    fn system(&self, t: f64, y: &DVector<f64>, dy: &mut DVector<f64>) {
        self.model.rhs(t, y, dy);
    }
}

/// Dopri5, interval by interval over the output grid.
pub(super) fn integrate(
    model: &dyn FluidModel,
    s: &SolverSettings,
) -> Result<Trajectory, SolveError> {
    let (rtol, atol) = s.tolerances(DOPRI5_TOL);
    let mut state = model.initial_state();
    let mut traj = Trajectory::with_capacity(
        model.dim(),
        s.points,
        SolveStats {
            method: "dopri5",
            ..SolveStats::default()
        },
    );
    traj.push(0.0, state.as_slice());

    let mut h: f64 = 0.0; // 0 = let the solver choose the first step
    for i in 1..=s.points {
        let (t0, t1) = (
            s.t_end * (i - 1) as f64 / s.points as f64,
            s.t_end * i as f64 / s.points as f64,
        );
        let mut stepper = Dopri5::from_param(
            Adapter { model },
            t0,
            t1,
            t1 - t0, // dx: unused with Sparse output
            state,
            rtol,
            atol,
            0.9,     // safety factor (Hairer's default)
            0.04,    // beta: step-size stabilisation (Hairer's default)
            0.2,     // fac_min
            10.0,    // fac_max
            t1 - t0, // h_max
            h.min(t1 - t0),
            10_000_000, // n_max
            u32::MAX,   // n_stiff: stiffness test off (see solve/mod.rs)
            OutputType::Sparse,
        );
        let st = stepper.integrate().map_err(|e| SolveError::Integration {
            t: match e {
                IntegrationError::MaxNumStepReached { x, .. }
                | IntegrationError::StepSizeUnderflow { x }
                | IntegrationError::StiffnessDetected { x } => x,
            },
            reason: e.to_string(),
        })?;
        traj.stats.rhs_evaluations += st.num_eval as usize;
        traj.stats.steps += st.accepted_steps as usize;
        traj.stats.rejected_steps += st.rejected_steps as usize;
        let (xs, ys) = (stepper.x_out(), stepper.y_out());
        // Step size of the last full step, to start the next interval (the very last step is
        // usually shortened to land on t1).
        let n = xs.len();
        h = if n >= 3 {
            xs[n - 2] - xs[n - 3]
        } else {
            t1 - t0
        };
        state = ys.last().cloned().ok_or(SolveError::Integration {
            t: t0,
            reason: "the solver returned no output".into(),
        })?;
        if state.iter().any(|v| !v.is_finite()) {
            return Err(SolveError::NonFinite { t: t1 });
        }
        traj.push(t1, state.as_slice());
    }
    Ok(traj)
}
