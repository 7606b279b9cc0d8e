//! The only module that talks to `ode_solvers`: a private adapter from [`FluidModel`] to its
//! `System` trait, and the one positional `Dopri5::from_param` call, fed by `SolverSettings`.

use ode_solvers::{DVector, Dopri5, OutputType, System};

use super::{SolveStats, SolverSettings, Trajectory};
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

/// Dopri5 with dense output on the settings' grid.
pub(super) fn integrate(
    model: &dyn FluidModel,
    s: &SolverSettings,
) -> Result<Trajectory, SolveError> {
    let dx = s.t_end / s.points as f64;
    let mut stepper = Dopri5::from_param(
        Adapter { model },
        0.0,
        s.t_end,
        dx,
        model.initial_state(),
        s.rtol,
        s.atol,
        0.9,         // safety factor (Hairer's default)
        0.04,        // beta: step-size stabilisation (Hairer's default)
        0.2,         // fac_min
        10.0,        // fac_max
        s.t_end,     // h_max
        0.0,         // initial step: chosen by the solver
        10_000_000,  // n_max
        u32::MAX,    // n_stiff: stiffness test off (see solve/mod.rs)
        OutputType::Dense,
    );
    let stats = stepper
        .integrate()
        .map_err(|e| SolveError::Integration {
            t: match e {
                ode_solvers::dop_shared::IntegrationError::MaxNumStepReached { x, .. }
                | ode_solvers::dop_shared::IntegrationError::StepSizeUnderflow { x }
                | ode_solvers::dop_shared::IntegrationError::StiffnessDetected { x } => x,
            },
            reason: e.to_string(),
        })?;
    let (t_out, z_out) = (stepper.x_out(), stepper.y_out());
    // Dense output can repeat or miss the last point by rounding; rebuild the exact grid.
    let mut t = Vec::with_capacity(s.points + 1);
    let mut z = Vec::with_capacity(s.points + 1);
    for i in 0..=s.points {
        let target = s.t_end * i as f64 / s.points as f64;
        let j = t_out
            .iter()
            .position(|&x| (x - target).abs() <= 1e-9 * s.t_end.max(1.0))
            .ok_or(SolveError::Integration {
                t: target,
                reason: "dense output missed an output time".into(),
            })?;
        t.push(target);
        z.push(z_out[j].clone());
    }
    if let Some(bad) = z.iter().position(|v| v.iter().any(|x| !x.is_finite())) {
        return Err(SolveError::NonFinite { t: t[bad] });
    }
    Ok(Trajectory {
        t,
        z,
        stats: SolveStats {
            method: "dopri5",
            rhs_evaluations: stats.num_eval as usize,
            steps: stats.accepted_steps as usize,
            rejected_steps: stats.rejected_steps as usize,
            ..SolveStats::default()
        },
    })
}
