//! Incentives: what peers should be paid (cooperative game, fluid Shapley value) and what they
//! do when they choose for themselves (participation equilibrium), and the provider's best
//! offer. Card: `models/incentives.md`.
//!
//! The cooperative game: players are the provider P and N peers; peer i of class c brings
//! resource r_i. The provider's cost of serving all N users when the peers of S help is
//! C(S) = N·Ω(x_S), where x_S\[c\] = (resource of the class-c peers in S) / N. The worth of a
//! coalition is v(S) = C(∅) − C(S) if P ∈ S and 0 otherwise. Every game is described by its
//! per-user cost function Ω through [`CostPerUser`](crate::incentive::CostPerUser).

pub mod core;
pub mod distribution;
pub mod equilibrium;
pub mod game;
pub mod hosting;
pub mod multi;
pub mod plan;
pub mod shapley;
pub mod stream;
pub mod table;

/// Ω: the provider's cost per user as a function of the peer resource per user brought by
/// each class (`x[c]` = resource of class c per user of the whole population).
pub trait CostPerUser: Sync {
    /// Number of peer classes K (length of `x`).
    fn classes(&self) -> usize;
    /// Ω(x), $ (or any money unit) per user.
    fn omega(&self, x: &[f64]) -> f64;
    /// ∂Ω/∂x_c at `x` into `g`. The default is a central difference with a relative step.
    fn gradient(&self, x: &[f64], g: &mut [f64]) {
        let mut z = x.to_vec();
        for c in 0..x.len() {
            let h = 1e-6 * x[c].abs().max(1e-6);
            z[c] = x[c] + h;
            let up = self.omega(&z);
            z[c] = (x[c] - h).max(0.0);
            let down = self.omega(&z);
            g[c] = (up - down) / (x[c] + h - z[c]);
            z[c] = x[c];
        }
    }
    /// Ω(x) and its gradient into `g` together (the quadrature needs both at every node);
    /// the default calls [`Self::omega`] and [`Self::gradient`]. A game whose Ω is expensive
    /// can share work between them.
    fn omega_and_gradient(&self, x: &[f64], g: &mut [f64]) -> f64 {
        self.gradient(x, g);
        self.omega(x)
    }
    /// Relative accuracy `fluid_shapley` asks of its quadrature for this game; default
    /// [`shapley::FLUID_QUADRATURE_TOL`]. A game whose Ω or gradient carries numerical noise
    /// (steady states, finite differences) must ask for no more than that noise allows.
    fn quadrature_tol(&self) -> f64 {
        shapley::FLUID_QUADRATURE_TOL
    }
    /// The t in (0, 1) where t ↦ Ω(t·x̄) is not smooth (integration breakpoints); default none.
    fn kinks(&self, _xbar: &[f64]) -> Vec<f64> {
        Vec::new()
    }
    /// True when Ω depends on `x` only through Σ_c x_c (then every class has the same fluid
    /// price and the core search is one-dimensional). Default false (no such promise).
    fn sum_only(&self) -> bool {
        false
    }
    /// Most evaluations of Ω that the finite-N rows and the core search of
    /// `shapley_table` may spend on this game (`None`: no limit). A game whose Ω is a
    /// catalogue of exact sums (tens of milliseconds each) sets one; rows and searches that
    /// would need more are reported as not computed, with the reason.
    fn evaluation_limit(&self) -> Option<usize> {
        None
    }
}
