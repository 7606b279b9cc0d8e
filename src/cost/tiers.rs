//! Tiered per-GB pricing, as CDNs bill data transfer out: the month's volume fills the tiers
//! in order, each GB is charged at the price of the tier it falls in, and the total is reduced
//! by a commit discount.
//!
//! ```text
//! cost(V)  = (1 − d) · Σ_i p_i · |[b_{i−1}, b_i) ∩ [0, V)|        b_{−1} = 0, last b = ∞
//! p(V)     = (1 − d) · p_i  for b_{i−1} ≤ V < b_i                  (right-continuous)
//! avg(V)   = cost(V) / V
//! ```
//!
//! Bounds `b_i` are cumulative, in billing GB (2^30 bytes, [`GB`]); 1 TB = 1024 GB ([`TB_GB`]).
//! There is no free tier. See `models/costs.md`.

use serde::{Deserialize, Serialize};

use super::CostError;
use crate::units::{Bytes, Usd, UsdPerGb};

/// One billing GB, in bytes: 2^30, as cloud providers bill (see [`crate::units`]).
pub const GB: f64 = 1_073_741_824.0;

/// GB per TB in tier tables: 1 TB = 1024 GB (literature §7.1 assumption, under which the
/// CloudFront tiers add up to exactly 1 PB before the 4 PB tier).
pub const TB_GB: f64 = 1024.0;

/// A byte count in billing GB (bytes / 2^30).
pub fn billing_gb(bytes: Bytes) -> f64 {
    bytes / GB
}

/// One price tier.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tier {
    /// Cumulative upper bound of the tier, in billing GB per month: the tier covers the
    /// volume from the previous tier's bound (0 for the first) up to this one. `None` =
    /// unbounded; only the last tier is, and it must be.
    pub up_to_gb: Option<f64>,
    /// Price of each GB in this tier, in $ per billing GB; finite and ≥ 0.
    pub price: UsdPerGb,
}

/// A validated table of price tiers plus a commit discount.
///
/// Invariants (checked by [`TierTable::new`]): at least one tier; bounds finite, > 0 and
/// strictly increasing; the last tier (and only it) unbounded; prices finite and ≥ 0;
/// `commit_discount` in [0, 1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TierTable {
    /// The tiers, in volume order.
    tiers: Vec<Tier>,
    /// Fraction taken off every price, in [0, 1).
    commit_discount: f64,
}

impl TierTable {
    /// Builds a table from tiers in volume order and a commit discount (fraction in [0, 1)
    /// taken off every price; 0 = list price).
    ///
    /// # Errors
    ///
    /// [`CostError::NoTiers`] for an empty list; [`CostError::Tier`] naming the 0-based tier
    /// index, the field, the allowed range and the value when a bound is not finite, not
    /// positive or not above the previous bound, when a tier other than the last is unbounded or
    /// the last is bounded, or when a price is negative or not finite;
    /// [`CostError::OutOfRange`] when `commit_discount` is outside [0, 1).
    ///
    /// ```
    /// # use peerfluid::cost::{Tier, TierTable, CostError};
    /// let table = TierTable::new(
    ///     vec![
    ///         Tier { up_to_gb: Some(10_240.0), price: 0.085 },
    ///         Tier { up_to_gb: None, price: 0.080 },
    ///     ],
    ///     0.0,
    /// )?;
    /// assert!((table.cost(20_480.0) - 1689.6).abs() < 1e-9);
    /// # Ok::<(), CostError>(())
    /// ```
    pub fn new(tiers: Vec<Tier>, commit_discount: f64) -> Result<Self, CostError> {
        if tiers.is_empty() {
            return Err(CostError::NoTiers);
        }
        let last = tiers.len() - 1;
        let mut previous: Option<f64> = None;
        for (index, tier) in tiers.iter().enumerate() {
            match (tier.up_to_gb, index == last) {
                (Some(b), false) => {
                    let above = previous.unwrap_or(0.0);
                    if !(b.is_finite() && b > above) {
                        let range = match previous {
                            None => "finite and > 0 GB".to_string(),
                            Some(p) => format!(
                                "finite and > {p} GB (the bound of tier {}): bounds are \
                                 cumulative and strictly increasing",
                                index - 1
                            ),
                        };
                        return Err(CostError::Tier {
                            index,
                            field: "up_to_gb",
                            range,
                            got: Some(b),
                        });
                    }
                    previous = Some(b);
                }
                (Some(b), true) => {
                    return Err(CostError::Tier {
                        index,
                        field: "up_to_gb",
                        range: "None (the last tier is unbounded)".to_string(),
                        got: Some(b),
                    });
                }
                (None, false) => {
                    return Err(CostError::Tier {
                        index,
                        field: "up_to_gb",
                        range: format!("a bound in GB (only the last tier, {last}, is unbounded)"),
                        got: None,
                    });
                }
                (None, true) => {}
            }
            if !(tier.price.is_finite() && tier.price >= 0.0) {
                return Err(CostError::Tier {
                    index,
                    field: "price",
                    range: "finite and ≥ 0 $/GB".to_string(),
                    got: Some(tier.price),
                });
            }
        }
        if !(commit_discount.is_finite() && (0.0..1.0).contains(&commit_discount)) {
            return Err(CostError::OutOfRange {
                name: "commit_discount",
                range: "in [0, 1)",
                got: commit_discount,
            });
        }
        Ok(Self {
            tiers,
            commit_discount,
        })
    }

    /// One price for every GB: a single unbounded tier, no discount.
    ///
    /// # Errors
    ///
    /// [`CostError::Tier`] (index 0, field `price`) if `price` is negative or not finite.
    pub fn flat(price: UsdPerGb) -> Result<Self, CostError> {
        Self::new(
            vec![Tier {
                up_to_gb: None,
                price,
            }],
            0.0,
        )
    }

    /// Amazon CloudFront on-demand data transfer out to the Internet, US/Mexico/Canada
    /// column, list prices, no commit discount, no free tier.
    ///
    /// | monthly tier | $/GB | cumulative bound |
    /// |---|---|---|
    /// | first 10 TB | 0.085 | 10 TB = 10,240 GB |
    /// | next 40 TB | 0.080 | 50 TB = 51,200 GB |
    /// | next 100 TB | 0.060 | 150 TB = 153,600 GB |
    /// | next 350 TB | 0.040 | 500 TB = 512,000 GB |
    /// | next 524 TB | 0.030 | 1024 TB = 1,048,576 GB |
    /// | next 4 PB (4096 TB) | 0.025 | 5120 TB = 5,242,880 GB |
    /// | over 5 PB | 0.020 | unbounded |
    ///
    /// Source: <http://aws.amazon.com/cloudfront/pricing> (archived copy, as transcribed in
    /// `../shared/reference/literature.md` §7.1). The snapshot date is unknown; the page
    /// lists a 1 TB/month always-free tier, so it is the post-2021 sheet. The free tier is
    /// not modelled. 1 TB = 1024 GB ([`TB_GB`]) is the literature's assumption.
    pub fn cloudfront_us() -> Self {
        const TIERS: [(Option<f64>, UsdPerGb); 7] = [
            (Some(10.0 * TB_GB), 0.085),
            (Some(50.0 * TB_GB), 0.080),
            (Some(150.0 * TB_GB), 0.060),
            (Some(500.0 * TB_GB), 0.040),
            (Some(1024.0 * TB_GB), 0.030),
            (Some(5120.0 * TB_GB), 0.025),
            (None, 0.020),
        ];
        // Valid by construction (checked by the `cloudfront_us_is_valid` test), so built
        // directly rather than through `new`, which would need an unwrap.
        Self {
            tiers: TIERS
                .iter()
                .map(|&(up_to_gb, price)| Tier { up_to_gb, price })
                .collect(),
            commit_discount: 0.0,
        }
    }

    /// The tiers, in volume order.
    pub fn tiers(&self) -> &[Tier] {
        &self.tiers
    }

    /// The commit discount, a fraction in [0, 1).
    pub fn commit_discount(&self) -> f64 {
        self.commit_discount
    }

    /// The same tiers with another commit discount.
    ///
    /// # Errors
    ///
    /// [`CostError::OutOfRange`] when `commit_discount` is outside [0, 1).
    pub fn with_commit_discount(&self, commit_discount: f64) -> Result<Self, CostError> {
        Self::new(self.tiers.clone(), commit_discount)
    }

    /// The tiers as `(lower, upper, discounted price)` volume segments in GB, the last upper
    /// bound being `f64::INFINITY`.
    pub(crate) fn segments(&self) -> impl Iterator<Item = (f64, f64, UsdPerGb)> + '_ {
        let factor = 1.0 - self.commit_discount;
        self.tiers.iter().scan(0.0, move |lower, tier| {
            let lo = *lower;
            let hi = tier.up_to_gb.unwrap_or(f64::INFINITY);
            *lower = hi;
            Some((lo, hi, tier.price * factor))
        })
    }

    /// Monthly bill, in $, for `volume_gb` billing GB: each GB at its tier's price, times
    /// `1 − commit_discount`. Continuous and non-decreasing in the volume. Volumes ≤ 0 cost
    /// nothing; NaN gives NaN.
    pub fn cost(&self, volume_gb: f64) -> Usd {
        if volume_gb.is_nan() {
            return f64::NAN;
        }
        self.segments()
            .take_while(|&(lo, _, _)| volume_gb > lo)
            .fold(0.0, |sum, (lo, hi, price)| {
                sum + (volume_gb.min(hi) - lo) * price
            })
    }

    /// Price, in $/GB (after the commit discount), of the next GB when `volume_gb` GB have
    /// already been billed this month: the derivative of [`TierTable::cost`] from the right.
    /// Right-continuous at tier bounds (at exactly 10 TB the next GB is in the second tier).
    /// Non-increasing in the volume when tier prices fall with volume, as they do in CDN
    /// price lists. Volumes ≤ 0 get the first tier's price; NaN gives NaN.
    pub fn marginal_price(&self, volume_gb: f64) -> UsdPerGb {
        if volume_gb.is_nan() {
            return f64::NAN;
        }
        let mut price = f64::NAN; // replaced below: the last segment is unbounded
        for (_, hi, p) in self.segments() {
            price = p;
            if volume_gb < hi {
                break;
            }
        }
        price
    }

    /// Average price, in $/GB, of a month with `volume_gb` GB: `cost(V) / V`. For volumes
    /// ≤ 0 this is the limit V → 0⁺, the first tier's (discounted) price; NaN gives NaN.
    pub fn average_price(&self, volume_gb: f64) -> UsdPerGb {
        if volume_gb > 0.0 {
            self.cost(volume_gb) / volume_gb
        } else {
            self.marginal_price(volume_gb)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::{assert_abs_diff_eq, assert_relative_eq};

    /// Money rows of literature §7.1 are exact to the cent.
    const CENT: f64 = 0.01;

    #[test]
    fn cloudfront_us_is_valid() {
        let t = TierTable::cloudfront_us();
        let rebuilt = TierTable::new(t.tiers().to_vec(), t.commit_discount());
        assert_eq!(rebuilt, Ok(t));
    }

    /// Literature §7.1, CF-10TB: 10,240 GB × $0.085 = $870.40, average $0.08500/GB.
    #[test]
    fn cf_10tb() {
        let t = TierTable::cloudfront_us();
        assert_abs_diff_eq!(t.cost(10.0 * TB_GB), 870.40, epsilon = CENT);
        assert_abs_diff_eq!(t.average_price(10.0 * TB_GB), 0.08500, epsilon = 5e-6);
    }

    /// Literature §7.1, CF-50TB: $870.40 + 40,960 GB × $0.080 = $4,147.20, average $0.08100.
    #[test]
    fn cf_50tb() {
        let t = TierTable::cloudfront_us();
        assert_abs_diff_eq!(t.cost(50.0 * TB_GB), 4147.20, epsilon = CENT);
        assert_abs_diff_eq!(t.average_price(50.0 * TB_GB), 0.08100, epsilon = 5e-6);
    }

    /// Literature §7.1, CF-1PB: 1024 TB through five tiers = $40,724.48, average $0.03884.
    #[test]
    fn cf_1pb() {
        let t = TierTable::cloudfront_us();
        assert_abs_diff_eq!(t.cost(1024.0 * TB_GB), 40_724.48, epsilon = CENT);
        assert_abs_diff_eq!(t.average_price(1024.0 * TB_GB), 0.03884, epsilon = 5e-6);
    }

    #[test]
    fn above_5pb_uses_the_last_tier() {
        let t = TierTable::cloudfront_us();
        // 5120 TB: $40,724.48 + 4,194,304 GB × $0.025 = $145,582.08; then $0.020/GB.
        assert_abs_diff_eq!(t.cost(5120.0 * TB_GB), 145_582.08, epsilon = CENT);
        assert_abs_diff_eq!(
            t.cost(6000.0 * TB_GB),
            145_582.08 + 880.0 * TB_GB * 0.020,
            epsilon = CENT
        );
    }

    #[test]
    fn zero_negative_and_nan_volumes() {
        let t = TierTable::cloudfront_us();
        assert_abs_diff_eq!(t.cost(0.0), 0.0);
        assert_abs_diff_eq!(t.cost(-5.0), 0.0);
        assert_abs_diff_eq!(t.marginal_price(0.0), 0.085);
        assert_abs_diff_eq!(t.average_price(0.0), 0.085);
        assert!(t.cost(f64::NAN).is_nan());
        assert!(t.marginal_price(f64::NAN).is_nan());
        assert!(t.average_price(f64::NAN).is_nan());
    }

    #[test]
    fn marginal_price_is_right_continuous_at_bounds() {
        let t = TierTable::cloudfront_us();
        let expected = [
            (0.0, 0.085),
            (10.0 * TB_GB - 1e-6, 0.085),
            (10.0 * TB_GB, 0.080),
            (50.0 * TB_GB, 0.060),
            (150.0 * TB_GB, 0.040),
            (500.0 * TB_GB, 0.030),
            (1024.0 * TB_GB, 0.025),
            (5120.0 * TB_GB, 0.020),
            (1e12, 0.020),
        ];
        for (v, p) in expected {
            assert_abs_diff_eq!(t.marginal_price(v), p);
        }
    }

    /// Volumes from 0 to 6 PB on a grid that hits every bound, plus points just beside each.
    fn volume_grid() -> Vec<f64> {
        let mut v: Vec<f64> = (0..=600).map(|i| f64::from(i) * 10.24 * TB_GB).collect();
        for b in [10.0, 50.0, 150.0, 500.0, 1024.0, 5120.0] {
            let b = b * TB_GB;
            v.extend([b - 1e-3, b, b + 1e-3]);
        }
        v.sort_by(f64::total_cmp);
        v
    }

    #[test]
    fn cost_is_non_decreasing_and_marginal_price_non_increasing() {
        let t = TierTable::cloudfront_us();
        let v = volume_grid();
        for w in v.windows(2) {
            assert!(t.cost(w[1]) >= t.cost(w[0]), "cost falls at {} GB", w[1]);
            assert!(
                t.marginal_price(w[1]) <= t.marginal_price(w[0]),
                "marginal price rises at {} GB",
                w[1]
            );
        }
    }

    /// Continuity: across every bound b, cost(b ± ε) differ by at most ε times the prices
    /// on either side (no jump), and the slope either side is the marginal price.
    #[test]
    fn cost_is_continuous_with_marginal_price_as_slope() {
        let t = TierTable::cloudfront_us();
        let eps = 1e-3;
        for b in [10.0, 50.0, 150.0, 500.0, 1024.0, 5120.0] {
            let b = b * TB_GB;
            let left = t.cost(b) - t.cost(b - eps);
            let right = t.cost(b + eps) - t.cost(b);
            assert_relative_eq!(left / eps, t.marginal_price(b - eps), max_relative = 1e-6);
            assert_relative_eq!(right / eps, t.marginal_price(b), max_relative = 1e-6);
        }
    }

    #[test]
    fn commit_discount_scales_cost_and_prices() {
        let list = TierTable::cloudfront_us();
        let t = list.with_commit_discount(0.2).expect("0.2 is in [0, 1)");
        for v in volume_grid() {
            assert_relative_eq!(t.cost(v), 0.8 * list.cost(v), max_relative = 1e-12);
            assert_relative_eq!(
                t.marginal_price(v),
                0.8 * list.marginal_price(v),
                max_relative = 1e-12
            );
        }
    }

    #[test]
    fn flat_table() {
        let t = TierTable::flat(0.05).expect("valid");
        assert_abs_diff_eq!(t.cost(1000.0), 50.0, epsilon = 1e-12);
        assert_abs_diff_eq!(t.marginal_price(1e9), 0.05);
    }

    #[test]
    fn billing_gb_is_binary() {
        assert_abs_diff_eq!(billing_gb(1_073_741_824.0), 1.0);
        assert_abs_diff_eq!(billing_gb(1e9), 0.931_322_574_615_478_5, epsilon = 1e-15);
    }

    fn tier(up_to_gb: Option<f64>, price: f64) -> Tier {
        Tier { up_to_gb, price }
    }

    fn message(tiers: Vec<Tier>, discount: f64) -> String {
        match TierTable::new(tiers, discount) {
            Ok(t) => panic!("accepted {t:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn validation_messages() {
        assert_eq!(
            message(vec![], 0.0),
            "tier table is empty: it needs at least one tier, the last one unbounded \
             (`up_to_gb` = None)"
        );
        assert_eq!(
            message(vec![tier(Some(0.0), 0.1), tier(None, 0.1)], 0.0),
            "tier 0: `up_to_gb` must be finite and > 0 GB (got 0)"
        );
        assert_eq!(
            message(vec![tier(Some(f64::INFINITY), 0.1), tier(None, 0.1)], 0.0),
            "tier 0: `up_to_gb` must be finite and > 0 GB (got inf)"
        );
        assert_eq!(
            message(
                vec![
                    tier(Some(10240.0), 0.085),
                    tier(Some(10240.0), 0.08),
                    tier(None, 0.06)
                ],
                0.0
            ),
            "tier 1: `up_to_gb` must be finite and > 10240 GB (the bound of tier 0): bounds \
             are cumulative and strictly increasing (got 10240)"
        );
        assert_eq!(
            message(
                vec![tier(Some(10240.0), 0.085), tier(Some(51200.0), 0.08)],
                0.0
            ),
            "tier 1: `up_to_gb` must be None (the last tier is unbounded) (got 51200)"
        );
        assert_eq!(
            message(
                vec![tier(Some(10.0), 0.1), tier(None, 0.08), tier(None, 0.06)],
                0.0
            ),
            "tier 1: `up_to_gb` must be a bound in GB (only the last tier, 2, is unbounded) \
             (got None)"
        );
        assert_eq!(
            message(vec![tier(Some(10.0), 0.1), tier(None, -0.02)], 0.0),
            "tier 1: `price` must be finite and ≥ 0 $/GB (got -0.02)"
        );
        assert_eq!(
            message(vec![tier(None, f64::NAN)], 0.0),
            "tier 0: `price` must be finite and ≥ 0 $/GB (got NaN)"
        );
        assert_eq!(
            message(vec![tier(None, 0.02)], 1.0),
            "`commit_discount` must be in [0, 1) (got 1)"
        );
        assert_eq!(
            message(vec![tier(None, 0.02)], -0.1),
            "`commit_discount` must be in [0, 1) (got -0.1)"
        );
    }
}
