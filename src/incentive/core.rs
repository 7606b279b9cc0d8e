//! Is the Shapley allocation in the core? (literature §2.2)
//!
//! Fluid game: a coalition holds the provider and a fraction s_c ∈ [0, 1] of each class; its
//! slack per user is
//!
//! slack(s)/N = φ_P/N + Σ_c s_c·x̄_c·π_c − [Ω(0) − Ω(s∘x̄)],
//!
//! and coalitions without P are worth 0 (slack Σ_c s_c x̄_c π_c, negative only if some
//! π_c < 0). The allocation is in the core when the minimum slack is ≥ −[`CORE_TOLERANCE`]
//! (scaled by max(1, Ω(0))). The search is one-dimensional (exact on each smooth piece) when
//! K = 1 or when Ω depends on Σ x_c and all π_c are equal; otherwise a deterministic lattice
//! plus coordinate refinement. [`exact_core`] checks a finite game of ≤ 20 peers by
//! enumerating all coalitions. Card: `models/incentives.md`.

use serde::Serialize;

use super::shapley::{
    enumerate_worth, fluid_shapley, shapley_from_worth, validate_xbar, FluidShapley,
};
use super::CostPerUser;
use crate::error::MechanismError;

/// Slack per user below −CORE_TOLERANCE·max(1, Ω(0)) means "blocked" (rounding in the
/// quadrature and the search is ~1e-13 of Ω(0)).
pub const CORE_TOLERANCE: f64 = 1e-9;

/// Points of the scan on each smooth piece of the one-dimensional search.
const SCAN_POINTS: usize = 64;
/// Largest lattice of the K-dimensional search.
const MAX_LATTICE: usize = 20_000;

/// The result of a core check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoreReport {
    /// True when no coalition gets more than it is paid (min slack ≥ −tolerance).
    pub in_core: bool,
    /// The minimum over coalitions of (what its members are paid − its worth), per user of the
    /// whole population (money per user).
    pub min_slack_per_user: f64,
    /// The coalition reaching the minimum: the fraction of each class's peers it holds.
    pub blocking_fractions: Vec<f64>,
    /// Whether the provider belongs to that coalition (false only if some price is negative).
    pub provider_in_blocking: bool,
    /// Why the core was not searched (a game whose every Ω is expensive, see
    /// [`CostPerUser::evaluation_limit`]); `None` when
    /// it was. Then `in_core` is false and the slack NaN: nothing is claimed.
    pub not_checked: Option<String>,
}

impl CoreReport {
    /// The report of a core that was not searched, and why.
    pub fn not_checked(classes: usize, why: String) -> Self {
        Self {
            in_core: false,
            min_slack_per_user: f64::NAN,
            blocking_fractions: vec![f64::NAN; classes],
            provider_in_blocking: true,
            not_checked: Some(why),
        }
    }
}

/// The slack per user of the coalition {P} ∪ (fraction `s[c]` of class c), for the
/// allocation `value`.
pub fn slack_per_user(
    game: &dyn CostPerUser,
    xbar: &[f64],
    value: &FluidShapley,
    s: &[f64],
) -> f64 {
    let k = xbar.len();
    let mut x = vec![0.0; k];
    let mut paid = value.provider_per_user;
    for c in 0..k {
        x[c] = s[c] * xbar[c];
        paid += x[c] * value.price_per_unit[c];
    }
    let zero = vec![0.0; k];
    paid - (game.omega(&zero) - game.omega(&x))
}

/// The core check of the fluid game at `xbar` with the fluid Shapley allocation.
pub fn fluid_core(game: &dyn CostPerUser, xbar: &[f64]) -> Result<CoreReport, MechanismError> {
    validate_xbar(game, xbar)?;
    let value = fluid_shapley(game, xbar)?;
    let k = xbar.len();
    let omega0 = game.omega(&vec![0.0; k]);
    let tol = CORE_TOLERANCE * omega0.abs().max(1.0);
    let pmax = value
        .price_per_unit
        .iter()
        .cloned()
        .fold(f64::MIN, f64::max);
    let pmin = value
        .price_per_unit
        .iter()
        .cloned()
        .fold(f64::MAX, f64::min);
    let equal_prices = pmax - pmin <= 1e-12 * pmax.abs().max(1e-300);
    let slack = |s: &[f64]| slack_per_user(game, xbar, &value, s);

    let (mut best, mut arg) = if k == 1 || (game.sum_only() && equal_prices) {
        // One dimension: s_c = z for all c (for a sum game with equal prices only Σ s_c x̄_c
        // matters, so this loses nothing).
        let mut breaks = vec![0.0];
        let mut kinks: Vec<f64> = game
            .kinks(xbar)
            .into_iter()
            .filter(|t| *t > 0.0 && *t < 1.0)
            .collect();
        kinks.sort_by(f64::total_cmp);
        breaks.extend(kinks);
        breaks.push(1.0);
        let f = |z: f64| slack(&vec![z; k]);
        let (z, v) = search_1d(&f, &breaks);
        (v, vec![z; k])
    } else {
        lattice_search(&slack, k)
    };
    let mut provider_in = true;
    // Coalitions of peers only: the classes with a negative price.
    let without: f64 = (0..k)
        .map(|c| (xbar[c] * value.price_per_unit[c]).min(0.0))
        .sum();
    // (The empty coalition, slack 0, is not a blocking candidate.)
    if without < 0.0 && without < best {
        best = without;
        arg = (0..k)
            .map(|c| {
                if value.price_per_unit[c] < 0.0 {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        provider_in = false;
    }
    Ok(CoreReport {
        in_core: best >= -tol,
        min_slack_per_user: best,
        blocking_fractions: arg,
        provider_in_blocking: provider_in,
        not_checked: None,
    })
}

/// Minimum of `f` on [0, 1] with breakpoints `breaks` (sorted, from 0 to 1): every breakpoint,
/// a scan of each piece, and golden-section refinement around the best scan point.
fn search_1d(f: &dyn Fn(f64) -> f64, breaks: &[f64]) -> (f64, f64) {
    let mut best = (breaks[0], f(breaks[0]));
    for seg in breaks.windows(2) {
        let (lo, hi) = (seg[0], seg[1]);
        let h = (hi - lo) / SCAN_POINTS as f64;
        let mut local = (lo, f(lo));
        for j in 1..=SCAN_POINTS {
            let z = if j == SCAN_POINTS {
                hi
            } else {
                lo + j as f64 * h
            };
            let v = f(z);
            if v < local.1 {
                local = (z, v);
            }
        }
        let refined = golden(f, (local.0 - h).max(lo), (local.0 + h).min(hi));
        if refined.1 < local.1 {
            local = refined;
        }
        if local.1 < best.1 {
            best = local;
        }
    }
    best
}

/// Golden-section minimum of `f` on [a, b] (to ~1e-12 of the bracket).
fn golden(mut f: impl FnMut(f64) -> f64, mut a: f64, mut b: f64) -> (f64, f64) {
    let r = 0.5 * (5.0_f64.sqrt() - 1.0);
    let mut c = b - r * (b - a);
    let mut d = a + r * (b - a);
    let (mut fc, mut fd) = (f(c), f(d));
    for _ in 0..80 {
        if b - a <= 1e-13 {
            break;
        }
        if fc < fd {
            b = d;
            d = c;
            fd = fc;
            c = b - r * (b - a);
            fc = f(c);
        } else {
            a = c;
            c = d;
            fc = fd;
            d = a + r * (b - a);
            fd = f(d);
        }
    }
    if fc < fd {
        (c, fc)
    } else {
        (d, fd)
    }
}

/// Minimum of `f` on [0, 1]^k: a lattice of n^k ≤ [`MAX_LATTICE`] points (n ≥ 2), then
/// coordinate-wise golden-section refinement with a halving bracket. Deterministic; finds
/// the global minimum when it lies in the basin of the best lattice point.
fn lattice_search(f: &dyn Fn(&[f64]) -> f64, k: usize) -> (f64, Vec<f64>) {
    let mut n = 2usize;
    while (n + 1)
        .checked_pow(k as u32)
        .is_some_and(|p| p <= MAX_LATTICE)
        && n < 101
    {
        n += 1;
    }
    let total = n
        .checked_pow(k as u32)
        .filter(|p| *p <= MAX_LATTICE.max(1 << 20));
    let mut best_s = vec![1.0; k];
    let mut best = f(&best_s);
    let mut s = vec![0.0; k];
    if let Some(total) = total {
        for idx in 0..total {
            let mut r = idx;
            for sc in s.iter_mut() {
                *sc = (r % n) as f64 / (n - 1) as f64;
                r /= n;
            }
            let v = f(&s);
            if v < best {
                best = v;
                best_s.copy_from_slice(&s);
            }
        }
    }
    let mut h = 1.0 / (n - 1) as f64;
    for _ in 0..40 {
        let before = best;
        for c in 0..k {
            let mut trial = best_s.clone();
            let g = move |z: f64| {
                trial[c] = z;
                f(&trial)
            };
            let (lo, hi) = ((best_s[c] - h).max(0.0), (best_s[c] + h).min(1.0));
            let (z, v) = golden(g, lo, hi);
            if v < best {
                best = v;
                best_s[c] = z;
            }
        }
        h *= 0.5;
        if before - best <= 1e-16 && h < 1e-6 {
            break;
        }
    }
    (best, best_s)
}

/// The core check of the finite game with heterogeneous peers `players[i] = (class,
/// resource)` (≤ 20) and the exact Shapley allocation, by enumerating every coalition.
/// Fractions in the report are per class of the peers in the blocking coalition.
pub fn exact_core(
    game: &dyn CostPerUser,
    players: &[(usize, f64)],
) -> Result<CoreReport, MechanismError> {
    let worth = enumerate_worth(game, players)?;
    let n = players.len();
    let value = shapley_from_worth(&worth, n);
    let k = game.classes();
    let omega0 = game.omega(&vec![0.0; k]);
    let tol = CORE_TOLERANCE * omega0.abs().max(1.0);
    let mut paid = vec![0.0; worth.len()];
    let mut best = (f64::INFINITY, 0usize, true);
    for s in 0..worth.len() {
        if s > 0 {
            let i = s.trailing_zeros() as usize;
            paid[s] = paid[s & (s - 1)] + value.per_player[i];
        }
        let with_p = value.provider + paid[s] - worth[s];
        if with_p < best.0 {
            best = (with_p, s, true);
        }
        if s > 0 && paid[s] < best.0 {
            best = (paid[s], s, false);
        }
    }
    let nf = n as f64;
    let mut members = vec![0.0; k];
    let mut sizes = vec![0.0; k];
    for (i, &(c, _)) in players.iter().enumerate() {
        sizes[c] += 1.0;
        if best.1 & (1 << i) != 0 {
            members[c] += 1.0;
        }
    }
    let fractions = members
        .iter()
        .zip(&sizes)
        .map(|(m, s)| if *s > 0.0 { m / s } else { 0.0 })
        .collect();
    Ok(CoreReport {
        in_core: best.0 / nf >= -tol,
        min_slack_per_user: best.0 / nf,
        blocking_fractions: fractions,
        provider_in_blocking: best.2,
        not_checked: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incentive::game::{Shape, SumGame};
    use approx::assert_relative_eq;

    /// Ω(x) = exp(−(x_0 + 0.3·x_1²)): a two-class game that is not a sum (the classes get
    /// different prices), for the lattice search.
    struct Weighted;
    impl CostPerUser for Weighted {
        fn classes(&self) -> usize {
            2
        }
        fn omega(&self, x: &[f64]) -> f64 {
            (-(x[0] + 0.3 * x[1] * x[1])).exp()
        }
        fn gradient(&self, x: &[f64], g: &mut [f64]) {
            let e = self.omega(x);
            g[0] = -e;
            g[1] = -0.6 * x[1] * e;
        }
    }

    /// SHAP-lin-2 (literature §2.6): x̄ = 2: slack −0.125 per user at the coalition holding
    /// half the peers, rel 1e-9.
    #[test]
    fn shap_lin_2_core_slack() {
        let g = SumGame::new(Shape::Linear, 1.0, 1.0, 1).unwrap();
        let r = fluid_core(&g, &[2.0]).unwrap();
        assert!(!r.in_core);
        assert_relative_eq!(r.min_slack_per_user, -0.125, max_relative = 1e-9);
        assert_relative_eq!(r.blocking_fractions[0], 0.5, max_relative = 1e-9);
        assert!(r.provider_in_blocking);
        // The same through two classes of a sum game (one-dimensional search).
        let g2 = SumGame::new(Shape::Linear, 1.0, 1.0, 2).unwrap();
        let r = fluid_core(&g2, &[0.5, 1.5]).unwrap();
        assert_relative_eq!(r.min_slack_per_user, -0.125, max_relative = 1e-9);
    }

    /// §2.2: linear with x̄ ≤ d is in the core with minimum slack 0 (at the grand coalition).
    #[test]
    fn linear_under_supply_in_core() {
        let g = SumGame::new(Shape::Linear, 1.0, 1.0, 1).unwrap();
        for xbar in [0.1, 0.5, 1.0] {
            let r = fluid_core(&g, &[xbar]).unwrap();
            assert!(r.in_core);
            assert!(r.min_slack_per_user.abs() <= 1e-12);
            assert_relative_eq!(r.blocking_fractions[0], 1.0, epsilon = 1e-9);
        }
    }

    /// §2.2: concave Ω (convex savings) is a convex game: in the core for x̄ ≤ d. Above d the
    /// clamp makes the savings convex-then-flat (not convex) and the core is left: derived,
    /// x̄ = 3d: φ_P/N = 7/9, x̄π = 2/9, slack(s) = 7/9 + 2s/9 − 9s² up to s = 1/3, so the
    /// minimum is −4/27 at s = 1/3. The exponential one is in the core for small x̄ and blocked
    /// for large x̄.
    #[test]
    fn concave_in_core_exponential_blocked_when_oversupplied() {
        let c = SumGame::new(Shape::Concave, 1.0, 1.0, 1).unwrap();
        for xbar in [0.3, 0.7, 1.0] {
            let r = fluid_core(&c, &[xbar]).unwrap();
            assert!(r.in_core, "x̄ = {xbar}");
            assert!(r.min_slack_per_user.abs() <= 1e-12);
        }
        let r = fluid_core(&c, &[3.0]).unwrap();
        assert!(!r.in_core);
        assert_relative_eq!(r.min_slack_per_user, -4.0 / 27.0, max_relative = 1e-9);
        assert_relative_eq!(r.blocking_fractions[0], 1.0 / 3.0, max_relative = 1e-9);
        let e = SumGame::new(Shape::Exponential, 1.0, 1.0, 1).unwrap();
        assert!(fluid_core(&e, &[0.5]).unwrap().in_core);
        let r = fluid_core(&e, &[5.0]).unwrap();
        assert!(!r.in_core);
        // The minimum is interior and stationary: slack'(s) = x̄(π + Ω'(s x̄)) = 0.
        let pi = fluid_shapley(&e, &[5.0]).unwrap().price_per_unit[0];
        let s = r.blocking_fractions[0];
        assert!(s > 0.0 && s < 1.0);
        assert_relative_eq!((-5.0 * s).exp(), pi, max_relative = 1e-6);
    }

    /// The lattice search on a non-sum two-class game agrees with a dense brute-force grid.
    #[test]
    fn lattice_search_matches_brute_force() {
        let g = Weighted;
        let xbar = [3.0, 2.5];
        let r = fluid_core(&g, &xbar).unwrap();
        let v = fluid_shapley(&g, &xbar).unwrap();
        let mut brute = f64::INFINITY;
        for i in 0..=400 {
            for j in 0..=400 {
                let s = [i as f64 / 400.0, j as f64 / 400.0];
                brute = brute.min(slack_per_user(&g, &xbar, &v, &s));
            }
        }
        assert!(r.min_slack_per_user <= brute + 1e-12);
        assert!(brute - r.min_slack_per_user < 1e-4);
        assert!(!r.in_core);
    }

    /// The finite-N exact core check agrees with the fluid one (linear, x̄ = 2, 20 peers):
    /// both blocked at half the peers, slack per user within 1/N of −0.125.
    #[test]
    fn exact_core_matches_fluid() {
        let g = SumGame::new(Shape::Linear, 1.0, 1.0, 1).unwrap();
        let r = exact_core(&g, &[(0, 2.0); 20]).unwrap();
        assert!(!r.in_core);
        assert!(r.provider_in_blocking);
        assert_relative_eq!(r.blocking_fractions[0], 0.5, epsilon = 1e-12);
        // Derived: φ_P = 20(3/4 − 1/84), slack(10 peers) = φ_P/2 − 10.
        let phi_p = 20.0 * (0.75 - 1.0 / 84.0);
        assert_relative_eq!(
            r.min_slack_per_user,
            (phi_p / 2.0 - 10.0) / 20.0,
            max_relative = 1e-10
        );
        assert!((r.min_slack_per_user + 0.125).abs() < 1.0 / 20.0);
        // Under-supply: in the core.
        let r = exact_core(&g, &[(0, 0.05); 12]).unwrap();
        assert!(r.in_core);
        // Concave (convex game) with heterogeneous peers: in the core.
        let c = SumGame::new(Shape::Concave, 1.0, 1.0, 2).unwrap();
        let players = [(0, 0.4), (1, 1.3), (0, 0.1), (1, 0.7), (0, 2.0), (1, 0.0)];
        assert!(exact_core(&c, &players).unwrap().in_core);
    }
}
