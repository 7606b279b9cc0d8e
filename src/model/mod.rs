//! Fluid models: the right-hand sides the solvers integrate.
//!
//! A model holds its parameters (in model units: files and seconds) and exposes a pure
//! right-hand side through [`FluidModel`]. A model whose every regime is linear can also expose
//! itself as [`PiecewiseAffine`], which lets `solve` integrate it exactly with matrix
//! exponentials between regime switches instead of with a step-size controller.
//!
//! Models: [`swarm::Swarm`] (Qiu–Srikant with K peer classes and a provider server,
//! `models/swarm.md`); [`locality::IspSwarm`] (the same swarm split over K ISPs, with random,
//! locality-optimal and strict-locality peer selection, `models/locality.md`);
//! [`audience::Audience`] (viewers of a live stream or a video service, `models/streaming.md`).
//!
//! Closed forms and exact sums, no ODE: [`streaming`] (Kumar–Liu–Ross live streaming) and
//! [`push`] (Kumar–Ross minimum distribution time), `models/streaming.md`; [`vod`]
//! (Huang–Li–Ross video on demand), `models/vod.md`.
//!
//! Layering: `model` is the stage after `scenario`. It may import `scenario` (models are built
//! from a validated `Scenario`, e.g. [`swarm::swarm_of`]); `scenario` never imports `model`.
//! So the types a scenario holds for the models — [`ArrivalProfile`], [`swarm::ServerPolicy`],
//! [`locality::Selection`], [`wireless::Offload`] — and the limits it validates against —
//! [`swarm::OPTED_OUT_SUFFIX`], [`vod::MAX_TITLES`], [`wireless::DAY`],
//! [`wireless::FLAT_SHARE`], [`wireless::MAX_BUSY_SHARE`] — are defined in
//! [`crate::scenario::spec`] and re-exported here under these paths; their behaviour
//! (`rate_at`, `label`, `day`, …) is implemented in this stage, in `impl` blocks beside the
//! models that use it. No module here imports a later stage, except [`vod`], which takes
//! `cost::billing::percentile_95` so that its 95th percentile follows the billing convention
//! (and `audience`'s tests, which integrate with `solve`).

pub mod arrival;
pub mod audience;
pub mod locality;
pub mod push;
pub mod streaming;
pub mod swarm;
pub mod video_load;
pub mod vod;
pub mod wireless;

use nalgebra::{DMatrix, DVector};

use crate::units::Seconds;
pub use arrival::{ArrivalProfile, ForcingSegment};

/// A state vector.
pub type State = DVector<f64>;

/// A system of ODEs `dz/dt = f(t, z)` with named states.
pub trait FluidModel: Send + Sync {
    /// Short model name for outputs.
    fn name(&self) -> &'static str;
    /// Length of the state vector.
    fn dim(&self) -> usize;
    /// Names of the states, in order (used for diagnostics).
    fn state_names(&self) -> Vec<String>;
    /// State at t = 0.
    fn initial_state(&self) -> State;
    /// Right-hand side; must be pure (no interior mutability).
    fn rhs(&self, t: Seconds, z: &State, dz: &mut State);
    /// Times in (0, ∞), ascending, where the right-hand side jumps in t (the dynamics switch
    /// phase, e.g. the flash-crowd bound's gate): every solver ends a step there. The
    /// right-hand side at such a time is the new phase's. None by default.
    fn time_events(&self) -> Vec<Seconds> {
        Vec::new()
    }
    /// The model as a switched affine system, when every regime is linear.
    fn piecewise_affine(&self) -> Option<&dyn PiecewiseAffine> {
        None
    }
    /// The model as a piecewise-smooth system with an analytic Jacobian (what the Rosenbrock
    /// integrator needs), when it has one.
    fn piecewise_smooth(&self) -> Option<&dyn PiecewiseSmooth> {
        None
    }
}

/// A model whose right-hand side is smooth except where one of a few guard functions changes
/// sign or where the forcing has a kink in time, and whose Jacobian is known in closed form.
///
/// The first `dynamic_dim()` states feed back; the others are running integrals (the
/// right-hand side does not depend on them, so the Jacobian has no columns for them).
pub trait PiecewiseSmooth: Sync {
    /// Number of states that feed back; they come first in the state vector.
    fn dynamic_dim(&self) -> usize;
    /// `jac` (`dim × dynamic_dim`, row-major) ← ∂f/∂z over the dynamic states at `(t, z)`, and
    /// `dfdt` (`dim`) ← ∂f/∂t, with the derivatives of the smooth piece that holds at `z`.
    fn jacobian(&self, t: Seconds, z: &[f64], jac: &mut [f64], dfdt: &mut [f64]);
    /// Number of guard functions.
    fn guard_count(&self) -> usize;
    /// Guard values at the dynamic states `z` (`dynamic_dim` long): each is smooth, and the
    /// right-hand side is smooth while none changes sign.
    fn guards(&self, z: &[f64], g: &mut [f64]);
    /// Times in (0, ∞) where the right-hand side has a kink in t, ascending.
    fn time_kinks(&self) -> Vec<Seconds>;
}

/// The dynamics in one regime: `dz/dt = a z + b + arrival · λ(t)`.
#[derive(Debug, Clone)]
pub struct Affine {
    /// State matrix, `dim × dynamic_dim`: the running integrals never feed back, so their
    /// columns (all zero) are left out.
    pub a: DMatrix<f64>,
    /// Constant forcing.
    pub b: DVector<f64>,
    /// Direction in which the arrival rate λ(t) enters.
    pub arrival: DVector<f64>,
}

/// A half-space `w·z + w0 ≥ 0`; a regime holds while all of its guards do.
#[derive(Debug, Clone)]
pub struct Guard {
    /// Normal.
    pub w: DVector<f64>,
    /// Offset.
    pub w0: f64,
}

impl Guard {
    /// Value of the guard function at `z`.
    pub fn value(&self, z: &[f64]) -> f64 {
        self.w.iter().zip(z).map(|(a, b)| a * b).sum::<f64>() + self.w0
    }
}

/// A model whose state space is cut by hyperplanes into regimes, with affine dynamics in most
/// of them, and whose vector field is continuous across regime boundaries. A regime that is
/// not affine gives the Taylor series of its solution instead ([`PiecewiseAffine::taylor`]).
pub trait PiecewiseAffine: Sync {
    /// The first `dynamic_dim()` states feed back into the dynamics; the rest are running
    /// integrals (`Affine::a` has no columns for them).
    fn dynamic_dim(&self) -> usize;
    /// Number of regimes (some may be unavailable, see `regime_available`).
    fn regime_count(&self) -> usize;
    /// Whether regime `r` can occur with these parameters (a zero-width regime cannot).
    fn regime_available(&self, r: usize) -> bool;
    /// A short label for regime `r`.
    fn regime_label(&self, r: usize) -> &'static str;
    /// Whether regime `r` is affine (the default); if not, `taylor` gives its solution and
    /// `affine` is not called for it.
    fn regime_is_affine(&self, _r: usize) -> bool {
        true
    }
    /// Dynamics in an affine regime `r`.
    fn affine(&self, r: usize) -> Affine;
    /// Normalised Taylor coefficients (z⁽ᵏ⁾/k!) of the solution in a regime that is not
    /// affine. `a` holds rows m = 0..=order of `stride` ≥ `dynamic_dim()` values, row 0 the
    /// dynamic state now; `lambda[m]` (m < order) are the arrival rate's coefficients. Fills
    /// the dynamic part of rows 1..=order of `a`, and rows 1..=order of `dc` (the running
    /// integrals, `dim() − dynamic_dim()` each; row 0 is left alone). Returns false when the
    /// series does not exist at this state, which may happen only on the regime's boundary
    /// (a guard at zero): the exact solver does not ask strictly inside.
    fn taylor(
        &self,
        _r: usize,
        _lambda: &[f64],
        _a: &mut [f64],
        _stride: usize,
        _dc: &mut [f64],
        _order: usize,
    ) -> bool {
        false
    }
    /// Guards of regime `r`.
    fn guards(&self, r: usize) -> Vec<Guard>;
    /// The dynamics in phase `p` when they differ from these: phase 0 holds before the first
    /// of the model's [`FluidModel::time_events`], phase p from the p-th on. Same dimensions
    /// and regime count in every phase. `None` (the default): these dynamics.
    fn phase(&self, _p: usize) -> Option<Box<dyn PiecewiseAffine + '_>> {
        None
    }
    /// The arrival profile that drives the `arrival` direction.
    fn arrival(&self) -> &ArrivalProfile;
}
