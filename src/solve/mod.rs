//! Integration of fluid models: one entry point, three methods.
//!
//! * [`Method::Exact`]: for models that are [`PiecewiseAffine`](crate::model::PiecewiseAffine)
//!   (the Qiu–Srikant swarm, any number of classes). Under constant, decaying or daily
//!   arrivals the solve goes from regime switch to regime switch by each regime's closed form
//!   (`modal`: one class, eigenmodes of the 2 × 2 block, a guard's first zero bracketed
//!   exactly; `blocks`: one 2 × 2 block per class where at most one class reads the others,
//!   a guard's first zero found by a certified scan), so its cost does not grow with the
//!   horizon. Otherwise (a trace's ramps, two classes sharing the upload), between
//!   switches the solution is `Z(t+h) = exp(M h) Z(t)` for an augmented matrix `M` that also
//!   carries the arrival profile, with Taylor series in the regimes where several classes
//!   share the upload (not affine); switches are located to machine precision. No step-size
//!   control, no stiffness problem.
//! * [`Method::Rosenbrock`]: RODAS4, a linearly implicit method of order 4 with an analytic
//!   Jacobian, for models that are [`PiecewiseSmooth`](crate::model::PiecewiseSmooth): the
//!   fallback when a nonlinear stretch is too stiff for an explicit series. L-stable, steps that
//!   end on every kink, outputs by dense output.
//! * [`Method::Dopri5`]: the general path for models without that structure, through
//!   `ode_solvers` (the only module that imports it is `ode`), stiffness detection off.
//!
//! `Method::Auto` picks Exact when the model allows it, else Rosenbrock when the model has a
//! Jacobian, else Dopri5. Why: `models/swarm.md`, "Solver".

mod blocks;
mod exact;
mod modal;
mod ode;
mod rosenbrock;

use crate::error::SolveError;
use crate::model::FluidModel;
use crate::units::Seconds;

/// Which integration method to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// Exact for piecewise-affine models, Rosenbrock for piecewise-smooth ones, Dopri5
    /// otherwise.
    #[default]
    Auto,
    /// Matrix exponentials between regime switches (piecewise-affine models only).
    Exact,
    /// Adaptive Dormand–Prince 5(4) from `ode_solvers`.
    Dopri5,
    /// RODAS4 with the model's analytic Jacobian (piecewise-smooth models only).
    Rosenbrock,
}

/// Default tolerances (relative and absolute, in peers) of Dopri5.
pub const DOPRI5_TOL: f64 = 1e-9;
/// Default tolerances (relative and absolute, in peers) of the Rosenbrock method: outputs agree
/// with Dopri5 at 1e-12 to about 1e-7 (populations against the largest population, counts
/// against the arrivals, peer-seconds against their own total); `models/swarm.md`, "Solver".
pub const ROSENBROCK_TOL: f64 = 1e-7;

/// How to integrate.
#[derive(Debug, Clone, PartialEq)]
pub struct SolverSettings {
    /// End time, seconds (> 0).
    pub t_end: Seconds,
    /// Number of output intervals: outputs at t = i · t_end / points, i = 0..=points.
    pub points: usize,
    /// Relative tolerance of the adaptive methods; `None` = the method's default
    /// ([`DOPRI5_TOL`], [`ROSENBROCK_TOL`]).
    pub rtol: Option<f64>,
    /// Absolute tolerance of the adaptive methods, in peers; `None` = the method's default.
    pub atol: Option<f64>,
    /// Method.
    pub method: Method,
    /// Most steps the exact method may take before it stops with `SolveError::WorkBudget`;
    /// default [`MAX_STEPS`] (under a second of work).
    pub max_steps: usize,
}

pub use exact::MAX_STEPS;

impl SolverSettings {
    /// Each method's default tolerances and 500 output intervals.
    pub fn new(t_end: Seconds) -> Self {
        Self {
            t_end,
            points: 500,
            rtol: None,
            atol: None,
            method: Method::Auto,
            max_steps: MAX_STEPS,
        }
    }

    /// Relative and absolute tolerance, with `default` for those not given.
    fn tolerances(&self, default: f64) -> (f64, f64) {
        (self.rtol.unwrap_or(default), self.atol.unwrap_or(default))
    }

    fn check(&self) -> Result<(), SolveError> {
        if !(self.t_end.is_finite() && self.t_end > 0.0) {
            return Err(SolveError::Settings(format!(
                "t_end must be finite and > 0 (got {})",
                self.t_end
            )));
        }
        if self.points == 0 {
            return Err(SolveError::Settings("points must be ≥ 1 (got 0)".into()));
        }
        let (rtol, atol) = self.tolerances(1.0);
        if !(rtol > 0.0 && atol > 0.0) {
            return Err(SolveError::Settings(format!(
                "rtol and atol must be > 0 (got {rtol}, {atol})"
            )));
        }
        Ok(())
    }
}

/// What the solver did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SolveStats {
    /// "exact", "exact+taylor" (exact with Taylor series in nonlinear regimes), "dopri5" or
    /// "rosenbrock".
    pub method: &'static str,
    /// Right-hand-side evaluations (Dopri5, Rosenbrock).
    pub rhs_evaluations: usize,
    /// Accepted steps (Dopri5, Rosenbrock) or propagation steps (exact).
    pub steps: usize,
    /// Rejected steps (Dopri5, Rosenbrock).
    pub rejected_steps: usize,
    /// Regime switches located (exact, Rosenbrock).
    pub regime_switches: usize,
    /// Matrix exponentials computed (exact).
    pub matrix_exponentials: usize,
    /// Taylor expansions in regimes that are not affine (exact method, several classes
    /// sharing the upload); one expansion may cover several output intervals.
    pub taylor_steps: usize,
    /// Times the exact method finished a forcing segment from a regime's closed form (no guard
    /// could change sign before the segment's end).
    pub settled: usize,
}

/// The solution on the output grid; never mutated after the solve. States are stored flat
/// (one allocation per solve, not per output point).
#[derive(Debug, Clone)]
pub struct Trajectory {
    /// Output times, seconds.
    pub t: Vec<Seconds>,
    dim: usize,
    data: Vec<f64>,
    /// Solver statistics.
    pub stats: SolveStats,
}

impl Trajectory {
    fn with_capacity(dim: usize, points: usize, stats: SolveStats) -> Self {
        Self {
            t: Vec::with_capacity(points + 1),
            dim,
            data: Vec::with_capacity(dim * (points + 1)),
            stats,
        }
    }
    fn push(&mut self, t: Seconds, z: &[f64]) {
        self.t.push(t);
        self.data.extend_from_slice(z);
    }
    /// Push a state given as two consecutive parts.
    fn push_parts(&mut self, t: Seconds, a: &[f64], b: &[f64]) {
        self.t.push(t);
        self.data.extend_from_slice(a);
        self.data.extend_from_slice(b);
    }
    /// Push a state given as fixed-size parts (unrolled stores on the fast path).
    fn push_fixed<const A: usize, const B: usize>(
        &mut self,
        t: Seconds,
        a: &[f64; A],
        b: &[f64; B],
    ) {
        self.t.push(t);
        let n = self.data.len();
        self.data.resize(n + A + B, 0.0);
        let dst = &mut self.data[n..n + A + B];
        dst[..A].copy_from_slice(a);
        dst[A..].copy_from_slice(b);
    }
    /// Length of each state.
    pub fn dim(&self) -> usize {
        self.dim
    }
    /// State at output index `i`.
    pub fn state(&self, i: usize) -> &[f64] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
    /// States in time order.
    pub fn states(&self) -> impl Iterator<Item = &[f64]> {
        self.data.chunks_exact(self.dim)
    }
    /// Final state.
    pub fn last(&self) -> &[f64] {
        // Invariant: a trajectory always holds t = 0 and t = t_end.
        self.state(self.t.len() - 1)
    }
}

/// Integrate `model` from its initial state to `settings.t_end`.
pub fn integrate(
    model: &dyn FluidModel,
    settings: &SolverSettings,
) -> Result<Trajectory, SolveError> {
    settings.check()?;
    match (settings.method, model.piecewise_affine()) {
        (Method::Auto | Method::Exact, Some(pa)) => match exact::integrate(model, pa, settings) {
            // A nonlinear regime too stiff for Taylor series: the Rosenbrock method takes over.
            Err(SolveError::SeriesUnavailable { .. }) if settings.method == Method::Auto => {
                match model.piecewise_smooth() {
                    Some(ps) => rosenbrock::integrate(model, ps, settings),
                    None => ode::integrate(model, settings),
                }
            }
            other => other,
        },
        (Method::Exact, None) => Err(SolveError::Settings(format!(
            "model '{}' is not piecewise affine; the exact method does not apply",
            model.name()
        ))),
        (Method::Auto, None) | (Method::Rosenbrock, _) => match model.piecewise_smooth() {
            Some(ps) => rosenbrock::integrate(model, ps, settings),
            None if settings.method == Method::Auto => ode::integrate(model, settings),
            None => Err(SolveError::Settings(format!(
                "model '{}' has no analytic Jacobian; the Rosenbrock method does not apply",
                model.name()
            ))),
        },
        (Method::Dopri5, _) => ode::integrate(model, settings),
    }
}

/// The state of `model` at time `t` (its initial state at t ≤ 0): one solve with a single
/// output interval.
pub fn state_at(
    model: &dyn FluidModel,
    t: Seconds,
    method: Method,
) -> Result<Vec<f64>, SolveError> {
    if t <= 0.0 {
        return Ok(model.initial_state().iter().copied().collect());
    }
    let mut settings = SolverSettings::new(t);
    settings.points = 1;
    settings.method = method;
    Ok(integrate(model, &settings)?.last().to_vec())
}

/// Steps of one solve above which [`maximise`] does not refine between its ends (issue 18:
/// the peaks of `launch-day` with a 20 kB file took 156 solves of 4·10^7 steps each).
pub const REFINE_MAX_STEPS: usize = 200_000;

/// Golden-section iterations of [`maximise`]: they shrink the bracket by 0.618^50 ≈ 3.5e-11.
pub const GOLDEN_ITERATIONS: usize = 50;

/// Golden-section search for the largest `f(x)` on `[lo, hi]` (exact for a function with one
/// maximum in the bracket): at most `iterations` steps, fewer once the bracket is narrower than
/// `tol`. `f` returns the value to maximise and a payload; the result is the better of the last
/// two interior points, (x, value, payload). The ends are not evaluated (callers know them).
pub fn golden_section<T, E>(
    lo: f64,
    hi: f64,
    iterations: usize,
    tol: f64,
    mut f: impl FnMut(f64) -> Result<(f64, T), E>,
) -> Result<(f64, f64, T), E> {
    let r = 0.5 * (5f64.sqrt() - 1.0);
    let (mut a, mut b) = (lo, hi);
    let mut x1 = b - r * (b - a);
    let mut x2 = a + r * (b - a);
    let mut f1 = f(x1)?;
    let mut f2 = f(x2)?;
    for _ in 0..iterations {
        if b - a < tol {
            break;
        }
        if f1.0 >= f2.0 {
            b = x2;
            x2 = x1;
            f2 = f1;
            x1 = b - r * (b - a);
            f1 = f(x1)?;
        } else {
            a = x1;
            x1 = x2;
            f1 = f2;
            x2 = a + r * (b - a);
            f2 = f(x2)?;
        }
    }
    Ok(if f1.0 >= f2.0 {
        (x1, f1.0, f1.1)
    } else {
        (x2, f2.0, f2.1)
    })
}

/// The largest value of `f(t, state(t))` for t in `[lo, hi]`, located by golden-section search
/// ([`golden_section`], [`GOLDEN_ITERATIONS`]; callers bracket the largest sample of a grid by
/// its neighbours). Returns (t, value); never below the values at the ends.
pub fn maximise(
    model: &dyn FluidModel,
    method: Method,
    lo: Seconds,
    hi: Seconds,
    f: &dyn Fn(Seconds, &[f64]) -> f64,
) -> Result<(Seconds, f64), SolveError> {
    let g = |t: f64| -> Result<f64, SolveError> { Ok(f(t, &state_at(model, t, method)?)) };
    let fa = g(lo)?;
    // Each evaluation integrates from t = 0: when one costs more than REFINE_MAX_STEPS steps
    // (a swarm that has no closed form and steps fast for long), fifty more would take
    // seconds to minutes, so the ends stand (the caller's grid maximum).
    let (fb, steps) = if hi <= 0.0 {
        (g(hi)?, 0)
    } else {
        let mut settings = SolverSettings::new(hi);
        settings.points = 1;
        settings.method = method;
        let tr = integrate(model, &settings)?;
        (f(hi, tr.last()), tr.stats.steps)
    };
    let mut best = if fa >= fb { (lo, fa) } else { (hi, fb) };
    if hi <= lo || steps > REFINE_MAX_STEPS {
        return Ok(best);
    }
    let (t, v, ()) = golden_section(lo, hi, GOLDEN_ITERATIONS, 0.0, |t| Ok((g(t)?, ())))?;
    if v > best.1 {
        best = (t, v);
    }
    Ok(best)
}
