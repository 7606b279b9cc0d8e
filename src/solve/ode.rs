//! The only module that talks to `ode_solvers`: a private adapter from [`FluidModel`] to its
//! `System` trait, and the one positional `Dopri5::from_param` call, fed by `SolverSettings`.
//!
//! Pitfall found here: `ode_solvers` 0.6.2's `OutputType::Dense` interpolation is far less
//! accurate than its steps (on `y' = cos(0.0126 t) − y` over [0, 2500] at rtol = atol = 1e-6
//! the dense value at t = 2500 was off by 6e-2, the accepted step by 3.6e-7). So we integrate
//! each output interval separately with `OutputType::Sparse`, which ends exactly on the
//! interval's end, and carry the last step size into the next interval.
//!
//! A time event of the model (`FluidModel::time_events`, where the right-hand side jumps in t)
//! inside an output interval splits it: the integrator ends a step on the event, and the
//! stretch before it sees the right-hand side's left limit (its stages at the event itself are
//! evaluated just before it), so no step straddles the jump.

use ode_solvers::dop_shared::IntegrationError;
use ode_solvers::{DVector, Dopri5, OutputType, System};

use super::{SolveStats, SolverSettings, Trajectory, DOPRI5_TOL};
use crate::error::SolveError;
use crate::model::FluidModel;

struct Adapter<'a> {
    model: &'a dyn FluidModel,
    /// A time event that ends this stretch: the right-hand side is evaluated strictly before
    /// it (its left limit), also at the step's last stage on the event.
    before: Option<f64>,
}

impl System<f64, DVector<f64>> for Adapter<'_> {
    fn system(&self, t: f64, y: &DVector<f64>, dy: &mut DVector<f64>) {
        match self.before {
            Some(e) if t >= e => self.model.rhs(e.next_down(), y, dy),
            _ => self.model.rhs(t, y, dy),
        }
    }
}

/// Dopri5, interval by interval over the output grid.
pub(super) fn integrate(
    model: &dyn FluidModel,
    s: &SolverSettings,
) -> Result<Trajectory, SolveError> {
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

    let events = model.time_events();
    let mut h: f64 = 0.0; // 0 = let the solver choose the first step
    for i in 1..=s.points {
        let (a, b) = (
            s.t_end * (i - 1) as f64 / s.points as f64,
            s.t_end * i as f64 / s.points as f64,
        );
        // Stretches of the output interval between time events (one without events).
        let snap = 1e-12 * b.max(1.0);
        let mut ends: Vec<(f64, Option<f64>)> = events
            .iter()
            .filter(|&&e| e > a + snap && e < b - snap)
            .map(|&e| (e, Some(e)))
            .collect();
        let on_end = events.iter().copied().find(|e| (e - b).abs() <= snap);
        ends.push((b, on_end));
        let mut t0 = a;
        for (t1, before) in ends {
            let (next, step) = stretch(model, s, t0, t1, before, state, h, &mut traj.stats)?;
            state = next;
            h = step;
            t0 = t1;
        }
        if state.iter().any(|v| !v.is_finite()) {
            return Err(SolveError::NonFinite { t: b });
        }
        traj.push(b, state.as_slice());
    }
    Ok(traj)
}

/// Dopri5 from `state` at t0 to t1 (the right-hand side's left limit at t1 when `before`),
/// starting with step `h` (0: the solver's choice); returns the state at t1 and the step to
/// start the next stretch with.
#[allow(clippy::too_many_arguments)] // the stretch, the state and the statistics it adds to
fn stretch(
    model: &dyn FluidModel,
    s: &SolverSettings,
    t0: f64,
    t1: f64,
    before: Option<f64>,
    state: DVector<f64>,
    h: f64,
    stats: &mut SolveStats,
) -> Result<(DVector<f64>, f64), SolveError> {
    let (rtol, atol) = s.tolerances(DOPRI5_TOL);
    {
        let mut stepper = Dopri5::from_param(
            Adapter { model, before },
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
        stats.rhs_evaluations += st.num_eval as usize;
        stats.steps += st.accepted_steps as usize;
        stats.rejected_steps += st.rejected_steps as usize;
        let (xs, ys) = (stepper.x_out(), stepper.y_out());
        // Step size of the last full step, to start the next interval (the very last step is
        // usually shortened to land on t1).
        let n = xs.len();
        let h = if n >= 3 {
            xs[n - 2] - xs[n - 3]
        } else {
            t1 - t0
        };
        let state = ys.last().cloned().ok_or(SolveError::Integration {
            t: t0,
            reason: "the solver returned no output".into(),
        })?;
        Ok((state, h))
    }
}
