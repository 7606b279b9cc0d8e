//! Private costs of sharing: how many peers of a class opt in at a given net benefit.
//!
//! A peer opts in when its net benefit (income − value of its upload) exceeds its private
//! cost of sharing, a random variable per peer with distribution F. The share of a class that
//! opts in at net benefit b is F(b). Costs are in dollars per download (per visit of a peer).

use serde::Serialize;

/// The distribution of the private cost of sharing among the peers of a class, $ per download.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum CostDistribution {
    /// Nobody has a private cost and everybody shares, paid or not (plain BitTorrent).
    None,
    /// Uniform on [min, max].
    Uniform {
        /// Lowest cost, $.
        min: f64,
        /// Highest cost, $ (≥ min).
        max: f64,
    },
    /// Log-normal: ln(cost) is normal with mean ln(median) and standard deviation sigma.
    LogNormal {
        /// Median cost, $ (> 0).
        median: f64,
        /// Standard deviation of ln(cost) (> 0).
        sigma: f64,
    },
    /// From the energy model: a peer's cost is its energy bill for the hours it stays online
    /// (`peers.cost.power` × `peers.cost.electricity` × hours), times a factor uniform on
    /// [1 − spread, 1 + spread] (peers' machines differ in what they draw).
    Energy {
        /// Half-width of the factor, in [0, 1].
        spread: f64,
    },
}

impl CostDistribution {
    /// Short name used in outputs.
    pub fn label(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Uniform { .. } => "uniform",
            Self::LogNormal { .. } => "lognormal",
            Self::Energy { .. } => "energy",
        }
    }

    /// Whether peers decide at all (false: everybody shares).
    pub fn decides(&self) -> bool {
        !matches!(self, Self::None)
    }

    /// F(b): the share of peers whose cost is below `benefit`; `energy` is the energy bill per
    /// download of a typical peer ($), used by [`CostDistribution::Energy`] only.
    pub fn cdf(&self, benefit: f64, energy: f64) -> f64 {
        match *self {
            Self::None => 1.0,
            Self::Uniform { min, max } => uniform_cdf(benefit, min, max),
            Self::LogNormal { median, sigma } => {
                if benefit <= 0.0 {
                    0.0
                } else {
                    normal_cdf((benefit / median).ln() / sigma)
                }
            }
            Self::Energy { spread } => {
                uniform_cdf(benefit, energy * (1.0 - spread), energy * (1.0 + spread))
            }
        }
    }

    /// E[cost · 1{cost ≤ c}]: the total private cost (per peer of the class) of the peers who
    /// take part when everyone with a cost up to `c` does (what a social planner pays).
    pub fn partial_mean(&self, c: f64, energy: f64) -> f64 {
        match *self {
            Self::None => 0.0,
            Self::Uniform { min, max } => uniform_partial_mean(c, min, max),
            Self::LogNormal { median, sigma } => {
                if c <= 0.0 {
                    0.0
                } else {
                    let m = median.ln();
                    (m + 0.5 * sigma * sigma).exp() * normal_cdf(((c.ln() - m) / sigma) - sigma)
                }
            }
            Self::Energy { spread } => {
                uniform_partial_mean(c, energy * (1.0 - spread), energy * (1.0 + spread))
            }
        }
    }

    /// The cost below which a share `p` of the peers lies (the inverse of [`Self::cdf`]), by
    /// bisection on the monotone CDF; `None` for [`CostDistribution::None`].
    pub fn quantile(&self, p: f64, energy: f64) -> Option<f64> {
        let (mut lo, mut hi) = match *self {
            Self::None => return None,
            Self::Uniform { min, max } => {
                return Some(min + p.clamp(0.0, 1.0) * (max - min));
            }
            Self::Energy { spread } => {
                let (a, b) = (energy * (1.0 - spread), energy * (1.0 + spread));
                return Some(a + p.clamp(0.0, 1.0) * (b - a));
            }
            Self::LogNormal { median, sigma } => (
                median * (-40.0 * sigma).exp(),
                median * (40.0 * sigma).exp(),
            ),
        };
        if p <= 0.0 {
            return Some(0.0);
        }
        for _ in 0..200 {
            let mid = (lo * hi).sqrt();
            if self.cdf(mid, energy) < p {
                lo = mid;
            } else {
                hi = mid;
            }
            if hi / lo - 1.0 < 1e-15 {
                break;
            }
        }
        Some((lo * hi).sqrt())
    }
}

fn uniform_cdf(b: f64, min: f64, max: f64) -> f64 {
    if max - min <= 0.0 {
        return if b >= min { 1.0 } else { 0.0 };
    }
    ((b - min) / (max - min)).clamp(0.0, 1.0)
}

fn uniform_partial_mean(c: f64, min: f64, max: f64) -> f64 {
    if c <= min {
        return 0.0;
    }
    if max - min <= 0.0 {
        return min;
    }
    let top = c.min(max);
    (top * top - min * min) / (2.0 * (max - min))
}

/// Φ(z), the standard normal CDF, through [`erfc`].
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// The complementary error function, to about 1e-15 relative: the Maclaurin series of erf for
/// |x| < 2.5, a continued fraction (modified Lentz) for erfc beyond.
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 2.5 {
        // erf x = 2/√π Σ (−1)^n x^{2n+1} / (n! (2n+1))
        let x2 = x * x;
        let mut term = x;
        let mut sum = x;
        for n in 1..200 {
            term *= -x2 / n as f64;
            let add = term / (2 * n + 1) as f64;
            sum += add;
            if add.abs() < 1e-17 * sum.abs() {
                break;
            }
        }
        return 1.0 - std::f64::consts::FRAC_2_SQRT_PI * sum;
    }
    if x > 27.0 {
        return 0.0;
    }
    // erfc x = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
    let tiny = 1e-300;
    let mut f = x;
    let mut c = x;
    let mut d = 0.0;
    for n in 1..500 {
        let a = n as f64 / 2.0;
        d = x + a * d;
        d = if d.abs() < tiny { tiny } else { d };
        c = x + a / c;
        c = if c.abs() < tiny { tiny } else { c };
        d = 1.0 / d;
        let delta = c * d;
        f *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    (-x * x).exp() / (std::f64::consts::PI.sqrt() * f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    #[test]
    fn erfc_matches_tabulated_values() {
        // Abramowitz & Stegun table 7.1 and standard values (15 digits).
        assert_relative_eq!(erfc(0.0), 1.0, max_relative = 1e-15);
        assert_relative_eq!(erfc(0.5), 0.479_500_122_186_953_5, max_relative = 1e-14);
        assert_relative_eq!(erfc(1.0), 0.157_299_207_050_285_1, max_relative = 1e-14);
        assert_relative_eq!(erfc(2.0), 4.677_734_981_047_266e-3, max_relative = 1e-13);
        assert_relative_eq!(erfc(3.0), 2.209_049_699_858_544e-5, max_relative = 1e-13);
        assert_relative_eq!(erfc(5.0), 1.537_459_794_428_035e-12, max_relative = 1e-12);
        assert_relative_eq!(erfc(-1.0), 1.842_700_792_949_715, max_relative = 1e-14);
        // Continuity across the switch at 2.5.
        assert_relative_eq!(erfc(2.5 - 1e-12), erfc(2.5), max_relative = 1e-10);
        assert_relative_eq!(
            normal_cdf(1.959_963_984_540_054),
            0.975,
            max_relative = 1e-14
        );
    }

    #[test]
    fn quantile_inverts_cdf_and_partial_mean_is_the_mean_at_the_top() {
        let dists = [
            CostDistribution::Uniform {
                min: 0.01,
                max: 0.05,
            },
            CostDistribution::LogNormal {
                median: 0.02,
                sigma: 0.8,
            },
            CostDistribution::Energy { spread: 0.5 },
        ];
        for d in dists {
            for p in [0.05, 0.3, 0.5, 0.9] {
                let c = d.quantile(p, 0.03).unwrap();
                assert_relative_eq!(d.cdf(c, 0.03), p, max_relative = 1e-9);
            }
            // Mean of the whole distribution.
            let mean = match d {
                CostDistribution::Uniform { min, max } => 0.5 * (min + max),
                CostDistribution::LogNormal { median, sigma } => {
                    median * (0.5 * sigma * sigma).exp()
                }
                _ => 0.03,
            };
            assert_relative_eq!(d.partial_mean(1e6, 0.03), mean, max_relative = 1e-9);
        }
        // Partial mean against a midpoint-rule integral of c dF(c) for the log-normal.
        let d = CostDistribution::LogNormal {
            median: 0.02,
            sigma: 0.8,
        };
        let (n, top) = (200_000, 0.03);
        let mut acc = 0.0;
        for i in 0..n {
            let (a, b) = (top * i as f64 / n as f64, top * (i + 1) as f64 / n as f64);
            acc += 0.5 * (a + b) * (d.cdf(b, 0.0) - d.cdf(a, 0.0));
        }
        assert_relative_eq!(d.partial_mean(top, 0.0), acc, max_relative = 1e-6);
    }
}
