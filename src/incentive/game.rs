//! Canonical per-user cost shapes Ω for K peer classes whose resources add up, and the closed
//! forms of literature §2.1 used as test references. Card: `models/incentives.md`.
//!
//! Every shape depends on the total peer resource per user y = Σ_c x_c, with a = money per
//! unit of unserved demand and d = demand per user:
//!
//! * [`Shape::Linear`]: Ω(y) = a·(d − y)⁺ (a kink at y = d);
//! * [`Shape::Exponential`]: Ω(y) = a·d·e^{−y/d} (smooth);
//! * [`Shape::Concave`]: Ω(y) = a·(d − y²/d) for y ≤ d and **clamped at y = d** above, i.e.
//!   Ω(y) = 0 for y ≥ d (peers cannot save more than the whole demand; a kink at y = d).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use super::CostPerUser;
use crate::error::MechanismError;

/// The functional form of Ω (the `--omega` flag: `linear`, `exponential` or `concave`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// Ω(y) = a·(d − y)⁺: every unit of peer resource saves a, until demand is met.
    Linear,
    /// Ω(y) = a·d·e^{−y/d}: diminishing returns from the first unit.
    Exponential,
    /// Ω(y) = a·(d − y²/d), clamped at 0 for y ≥ d: increasing returns (convex savings).
    Concave,
}

impl Shape {
    /// All shapes, in CLI order.
    pub const ALL: [Shape; 3] = [Shape::Linear, Shape::Exponential, Shape::Concave];

    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Linear => "linear",
            Shape::Exponential => "exponential",
            Shape::Concave => "concave",
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Shape {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "linear" => Ok(Shape::Linear),
            "exponential" => Ok(Shape::Exponential),
            "concave" => Ok(Shape::Concave),
            other => Err(format!(
                "unknown cost shape '{other}': expected one of linear, exponential, concave"
            )),
        }
    }
}

/// A canonical game: Ω depends on the sum of the K class resources through a [`Shape`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SumGame {
    /// The form of Ω.
    pub shape: Shape,
    /// a: money per unit of unserved demand (> 0).
    pub a: f64,
    /// d: demand per user, in the unit of peer resource (> 0).
    pub d: f64,
    /// K: number of peer classes (≥ 1).
    pub classes: usize,
}

impl SumGame {
    /// A validated game: `a` and `d` finite and > 0, `classes` ≥ 1.
    pub fn new(shape: Shape, a: f64, d: f64, classes: usize) -> Result<Self, MechanismError> {
        if !(a.is_finite() && a > 0.0) {
            return Err(out_of_range(
                "a (cost per unit of unserved demand)",
                a,
                "> 0",
            ));
        }
        if !(d.is_finite() && d > 0.0) {
            return Err(out_of_range("d (demand per user)", d, "> 0"));
        }
        if classes == 0 {
            return Err(out_of_range("classes", 0.0, "≥ 1"));
        }
        Ok(SumGame {
            shape,
            a,
            d,
            classes,
        })
    }

    /// Ω as a function of the total resource per user y.
    pub fn omega_of_sum(&self, y: f64) -> f64 {
        let (a, d) = (self.a, self.d);
        match self.shape {
            Shape::Linear => a * (d - y).max(0.0),
            Shape::Exponential => a * d * (-y / d).exp(),
            Shape::Concave => {
                let y = y.min(d);
                a * (d - y * y / d)
            }
        }
    }

    /// dΩ/dy at the total resource per user y (the right derivative at a kink).
    pub fn slope_of_sum(&self, y: f64) -> f64 {
        let (a, d) = (self.a, self.d);
        match self.shape {
            Shape::Linear => {
                if y < d {
                    -a
                } else {
                    0.0
                }
            }
            Shape::Exponential => -a * (-y / d).exp(),
            Shape::Concave => {
                if y < d {
                    -2.0 * a * y / d
                } else {
                    0.0
                }
            }
        }
    }
}

impl CostPerUser for SumGame {
    fn classes(&self) -> usize {
        self.classes
    }

    fn omega(&self, x: &[f64]) -> f64 {
        self.omega_of_sum(x.iter().sum())
    }

    fn gradient(&self, x: &[f64], g: &mut [f64]) {
        let s = self.slope_of_sum(x.iter().sum());
        g.iter_mut().for_each(|gc| *gc = s);
    }

    fn kinks(&self, xbar: &[f64]) -> Vec<f64> {
        let total: f64 = xbar.iter().sum();
        match self.shape {
            Shape::Exponential => Vec::new(),
            Shape::Linear | Shape::Concave => {
                let t = self.d / total;
                if total > 0.0 && t > 0.0 && t < 1.0 {
                    vec![t]
                } else {
                    Vec::new()
                }
            }
        }
    }

    fn sum_only(&self) -> bool {
        true
    }
}

/// The fluid Shapley value in closed form (literature §2.1), for a total resource per user
/// x̄ ≥ 0: `(φ_P/N, π)`, the provider's value per user and the price per unit of resource.
///
/// Concave above d (where §2.1 gives no formula) uses the clamp of [`Shape::Concave`]:
/// φ_P/N = a·d − 2a·d²/(3x̄), π = 2a·d²/(3x̄²) (derived in `models/incentives.md`).
pub fn closed_form(shape: Shape, a: f64, d: f64, xbar: f64) -> (f64, f64) {
    match shape {
        Shape::Linear => {
            if xbar <= d {
                (a * xbar / 2.0, a / 2.0)
            } else {
                (
                    a * (d - d * d / (2.0 * xbar)),
                    a * d * d / (2.0 * xbar * xbar),
                )
            }
        }
        Shape::Exponential => {
            let u = xbar / d;
            if u < 1e-4 {
                // Series: avoids cancellation in 1 − (1 − e^{−u})/u and 1 − e^{−u}(1 + u).
                let provider = a * d * (u / 2.0 - u * u / 6.0 + u * u * u / 24.0);
                let price = a * (0.5 - u / 3.0 + u * u / 8.0);
                (provider, price)
            } else {
                let provider = a * d * (1.0 - (-(-u).exp_m1()) / u);
                let price = a / (u * u) * (1.0 - (-u).exp() * (1.0 + u));
                (provider, price)
            }
        }
        Shape::Concave => {
            if xbar <= d {
                (a * xbar * xbar / (3.0 * d), 2.0 * a * xbar / (3.0 * d))
            } else {
                (
                    a * d - 2.0 * a * d * d / (3.0 * xbar),
                    2.0 * a * d * d / (3.0 * xbar * xbar),
                )
            }
        }
    }
}

pub(crate) fn out_of_range(what: &str, value: f64, allowed: &str) -> MechanismError {
    MechanismError::OutOfRange {
        what: what.to_string(),
        value,
        allowed: allowed.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn shape_parses_and_prints() {
        for s in Shape::ALL {
            assert_eq!(s.name().parse::<Shape>(), Ok(s));
            assert_eq!(s.to_string(), s.name());
        }
        assert_eq!(" Concave ".parse::<Shape>(), Ok(Shape::Concave));
        assert_eq!(
            "cubic".parse::<Shape>(),
            Err("unknown cost shape 'cubic': expected one of linear, exponential, concave".into())
        );
    }

    #[test]
    fn new_rejects_bad_parameters() {
        let e = SumGame::new(Shape::Linear, 0.0, 1.0, 1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "a (cost per unit of unserved demand) = 0 is out of range: > 0"
        );
        assert!(SumGame::new(Shape::Linear, 1.0, f64::NAN, 1).is_err());
        assert!(SumGame::new(Shape::Linear, 1.0, 1.0, 0).is_err());
    }

    /// The analytic gradient agrees with a central difference away from kinks.
    #[test]
    fn gradient_matches_finite_difference() {
        for shape in Shape::ALL {
            let g = SumGame::new(shape, 1.7, 2.0, 3).unwrap();
            for x in [[0.1, 0.2, 0.3], [0.5, 0.4, 0.3], [1.0, 1.0, 1.0]] {
                let mut ga = [0.0; 3];
                g.gradient(&x, &mut ga);
                for c in 0..3 {
                    let h = 1e-6;
                    let mut up = x;
                    up[c] += h;
                    let mut dn = x;
                    dn[c] -= h;
                    let fd = (g.omega(&up) - g.omega(&dn)) / (2.0 * h);
                    assert_relative_eq!(ga[c], fd, epsilon = 1e-7);
                }
            }
        }
    }

    #[test]
    fn kinks_where_the_sum_reaches_demand() {
        let g = SumGame::new(Shape::Linear, 1.0, 1.0, 2).unwrap();
        assert_eq!(g.kinks(&[1.0, 1.0]).len(), 1);
        assert_relative_eq!(g.kinks(&[1.0, 1.0])[0], 0.5, epsilon = 1e-15);
        assert!(g.kinks(&[0.3, 0.2]).is_empty());
        assert!(g.kinks(&[0.0, 0.0]).is_empty());
        let e = SumGame::new(Shape::Exponential, 1.0, 1.0, 2).unwrap();
        assert!(e.kinks(&[3.0, 3.0]).is_empty());
        // The concave shape is clamped: Ω = 0 at and above d.
        let c = SumGame::new(Shape::Concave, 2.0, 1.0, 1).unwrap();
        assert_relative_eq!(c.omega(&[3.0]), 0.0, epsilon = 0.0);
        assert_relative_eq!(c.omega(&[0.5]), 1.5, epsilon = 1e-15);
    }

    /// The closed forms are efficient: φ_P/N + x̄π = Ω(0) − Ω(x̄) (literature §2.1).
    #[test]
    fn closed_forms_are_efficient() {
        for shape in Shape::ALL {
            let g = SumGame::new(shape, 1.3, 0.7, 1).unwrap();
            for xbar in [1e-6, 0.01, 0.3, 0.7, 1.5, 9.0] {
                let (p, pi) = closed_form(shape, g.a, g.d, xbar);
                let savings = g.omega(&[0.0]) - g.omega(&[xbar]);
                assert_relative_eq!(p + xbar * pi, savings, max_relative = 1e-12);
            }
        }
    }
}
