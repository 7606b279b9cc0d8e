//! CDN + peer offload: what a provider saves on a tiered CDN bill when peers serve a fraction
//! of the month's volume, and what it pays them under the fluid Shapley value (literature §2.1
//! and §6.3).
//!
//! For a monthly volume `V` (billing GB), an offload fraction `f` ∈ [0, 1], the tier table's
//! cost `C(·)` and marginal price `p(·)` ([`TierTable`]):
//!
//! ```text
//! before            = C(V)
//! after             = C((1 − f) V)
//! gross saving      = before − after                       (fraction: / before)
//! break-even / GB   = (before − after) / (f V)              peers paid this take all the saving
//! fluid Shapley / GB  π = ∫_0^1 t · p(V − t f V) dt
//! peers paid        = π f V
//! net saving        = gross saving − π f V                  (fraction: / before)
//! ```
//!
//! Offload removes the *cheapest* GB first (the top of the volume, in the lowest-priced
//! tiers), so with falling tier prices the gross saving is less than `f` of the bill. In the
//! fluid Shapley value peers are a continuum joining in random order; `t` is the fraction of
//! peer resource already present, i.e. the probability that the provider has already joined
//! when a peer arrives, which weights the marginal saving `p(V − t f V)` of that peer's GB.
//!
//! `p` is piecewise constant in the volume, so `π` is computed exactly: on the sub-interval
//! of `[0, 1]` where `V − t f V` lies in a tier of price `p_i`, say `[t_a, t_b]`, the integral
//! is `p_i (t_b² − t_a²) / 2`. With a flat price `p`, `π = p/2` and peers and provider split
//! the saving 50/50 (literature §2.1, linear case). For non-increasing tier prices,
//! `break-even/2 ≤ π ≤ break-even`.
//!
//! See `models/costs.md`.

use serde::Serialize;

use super::{check_non_negative, CostError, TierTable};
use crate::units::{Usd, UsdPerGb};

/// The provider's monthly CDN bill with and without peer offload, and the split of the
/// saving between provider and peers. Money in $ per month; prices in $ per billing GB.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HybridOutcome {
    /// CDN bill without peers, `C(V)`, in $/month.
    pub before: Usd,
    /// CDN bill with a fraction `f` of the volume served by peers, `C((1 − f) V)`, in $/month.
    pub after: Usd,
    /// `before − after`, in $/month: the saving before paying peers.
    pub gross_saving: Usd,
    /// `gross_saving / before` (0 when `before` is 0), a fraction in [0, 1].
    pub gross_saving_fraction: f64,
    /// `gross_saving / (f V)`, in $/GB: the payment per offloaded GB that would give peers the
    /// whole saving (0 when nothing is offloaded).
    pub break_even_per_gb: UsdPerGb,
    /// Fluid-Shapley payment per offloaded GB, `π = ∫_0^1 t p(V − t f V) dt`, in $/GB
    /// (0 when nothing is offloaded).
    pub shapley_per_gb: UsdPerGb,
    /// `π f V`, in $/month: what the peers are paid in total.
    pub peers_paid: Usd,
    /// `gross_saving − peers_paid`, in $/month: the provider's saving after paying peers.
    pub net_saving: Usd,
    /// `net_saving / before` (0 when `before` is 0), a fraction in [0, 1].
    pub net_saving_fraction: f64,
}

/// The CDN bill before and after offloading a fraction `offload` of `volume_gb` to peers, and
/// the fluid-Shapley split of the saving (formulas in the [module docs](self)).
///
/// `volume_gb`: monthly volume in billing GB, finite and ≥ 0. `offload`: fraction of it served
/// by peers, in [0, 1]. When nothing is offloaded (`offload = 0` or `volume_gb = 0`) every
/// saving, payment and per-GB price is 0.
///
/// # Errors
///
/// [`CostError::OutOfRange`] for a volume that is negative or not finite, or an offload
/// fraction outside [0, 1].
pub fn hybrid_outcome(
    table: &TierTable,
    volume_gb: f64,
    offload: f64,
) -> Result<HybridOutcome, CostError> {
    let (v, f) = check_inputs(volume_gb, offload)?;
    let offloaded = f * v;
    let before = table.cost(v);
    let after = table.cost(v - offloaded);
    let gross_saving = before - after;
    let (break_even_per_gb, shapley_per_gb) = if offloaded > 0.0 {
        (gross_saving / offloaded, shapley_exact(table, v, offloaded))
    } else {
        (0.0, 0.0)
    };
    let peers_paid = shapley_per_gb * offloaded;
    let net_saving = gross_saving - peers_paid;
    let fraction = |x: Usd| if before > 0.0 { x / before } else { 0.0 };
    Ok(HybridOutcome {
        before,
        after,
        gross_saving,
        gross_saving_fraction: fraction(gross_saving),
        break_even_per_gb,
        shapley_per_gb,
        peers_paid,
        net_saving,
        net_saving_fraction: fraction(net_saving),
    })
}

/// The fluid-Shapley payment per offloaded GB, `π = ∫_0^1 t · p(V − t f V) dt` in $/GB,
/// integrated exactly over the tiers of `table` (0 when nothing is offloaded).
///
/// # Errors
///
/// As [`hybrid_outcome`].
pub fn fluid_shapley_price(
    table: &TierTable,
    volume_gb: f64,
    offload: f64,
) -> Result<UsdPerGb, CostError> {
    let (v, f) = check_inputs(volume_gb, offload)?;
    let offloaded = f * v;
    Ok(if offloaded > 0.0 {
        shapley_exact(table, v, offloaded)
    } else {
        0.0
    })
}

/// `∫_0^1 t · p(v − t d) dt` for `d > 0`: on each tier `[lo, hi)` meeting `[v − d, v]`, the
/// volume `v − t d` is in the tier for `t ∈ [(v − x1)/d, (v − x0)/d]` with `x0 = max(lo, v − d)`,
/// `x1 = min(hi, v)`, and contributes `p (t_b² − t_a²)/2`.
fn shapley_exact(table: &TierTable, v: f64, d: f64) -> UsdPerGb {
    let floor = v - d;
    table
        .segments()
        .take_while(|&(lo, _, _)| lo < v)
        .fold(0.0, |acc, (lo, hi, price)| {
            let x0 = lo.max(floor);
            let x1 = hi.min(v);
            if x1 <= x0 {
                return acc;
            }
            let t_a = (v - x1) / d;
            let t_b = (v - x0) / d;
            acc + price * (t_b - t_a) * (t_b + t_a) / 2.0
        })
}

/// `Ok((volume_gb, offload))` if the volume is finite and ≥ 0 and the fraction in [0, 1].
fn check_inputs(volume_gb: f64, offload: f64) -> Result<(f64, f64), CostError> {
    let v = check_non_negative("volume_gb", volume_gb)?;
    if !(0.0..=1.0).contains(&offload) {
        return Err(CostError::OutOfRange {
            name: "offload",
            range: "in [0, 1]",
            got: offload,
        });
    }
    Ok((v, offload))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::{Tier, TB_GB};
    use approx::{assert_abs_diff_eq, assert_relative_eq};

    /// Literature §6.3 tolerances: costs to the cent, fractions to 1e-4 (0.01 percentage
    /// point, the printed precision), payments rel 1e-4 (the literature's midpoint rule).
    const CENT: f64 = 0.01;
    const FRACTION: f64 = 1e-4;
    const PAYMENT_REL: f64 = 1e-4;

    fn outcome(tb: f64, f: f64) -> HybridOutcome {
        hybrid_outcome(&TierTable::cloudfront_us(), tb * TB_GB, f).expect("valid inputs")
    }

    /// The literature's method: composite midpoint rule with `n` cells for
    /// `∫_0^1 t p(V − t f V) dt`.
    fn shapley_midpoint(table: &TierTable, v: f64, f: f64, n: u32) -> f64 {
        let h = 1.0 / f64::from(n);
        (0..n)
            .map(|i| {
                let t = (f64::from(i) + 0.5) * h;
                t * table.marginal_price(v - t * f * v)
            })
            .sum::<f64>()
            * h
    }

    /// Closed form when `V − fV` and `V` straddle only the 500 TB bound ($0.040 below,
    /// $0.030 above): with `t1 = (V − 500 TB)/(fV)`, `π = 0.030 t1²/2 + 0.040 (1 − t1²)/2`.
    fn shapley_two_tiers(v: f64, f: f64) -> f64 {
        let t1 = (v - 500.0 * TB_GB) / (f * v);
        0.030 * t1 * t1 / 2.0 + 0.040 * (1.0 - t1 * t1) / 2.0
    }

    /// HYB-50-0.75 (literature §6.3): V = 50 TB, f = 0.75. The offloaded 37.5 TB all lie in
    /// the $0.080 tier (12.5 TB .. 50 TB), so break-even = $0.080 and π = $0.040 exactly.
    #[test]
    fn hyb_50_075() {
        let o = outcome(50.0, 0.75);
        assert_abs_diff_eq!(o.before, 4147.20, epsilon = CENT);
        assert_abs_diff_eq!(o.after, 1075.20, epsilon = CENT);
        assert_abs_diff_eq!(o.gross_saving, 3072.00, epsilon = CENT);
        assert_abs_diff_eq!(o.gross_saving_fraction, 0.7407, epsilon = FRACTION);
        assert_relative_eq!(o.break_even_per_gb, 0.0800, max_relative = PAYMENT_REL);
        assert_relative_eq!(o.shapley_per_gb, 0.0400, max_relative = PAYMENT_REL);
        assert_abs_diff_eq!(o.peers_paid, 1536.00, epsilon = CENT);
        assert_abs_diff_eq!(o.net_saving, 1536.00, epsilon = CENT);
        assert_abs_diff_eq!(o.net_saving_fraction, 0.3704, epsilon = FRACTION);
    }

    /// HYB-1024-0.70 (literature §6.3): V = 1024 TB, f = 0.70; V − fV = 307.2 TB, so the
    /// offloaded GB span the $0.040 and $0.030 tiers. Derived: π = 0.01732800 (closed form),
    /// net = $23,994.37 − $12,718.81 = $11,275.56. The literature prints π = $0.01733 (4
    /// significant figures, rel 1.2e-4 from the derived value) and net = $11,275.55 (its
    /// midpoint-rule π; see `literature_rows_are_midpoint_rule_values`).
    #[test]
    fn hyb_1024_070() {
        let (v, f) = (1024.0 * TB_GB, 0.70);
        let o = outcome(1024.0, f);
        assert_abs_diff_eq!(o.before, 40_724.48, epsilon = CENT);
        assert_abs_diff_eq!(o.after, 16_730.11, epsilon = CENT);
        assert_abs_diff_eq!(o.gross_saving_fraction, 0.5892, epsilon = FRACTION);
        assert_relative_eq!(o.break_even_per_gb, 0.03269, max_relative = PAYMENT_REL);
        assert_relative_eq!(
            o.shapley_per_gb,
            shapley_two_tiers(v, f),
            max_relative = 1e-12
        );
        assert_relative_eq!(o.shapley_per_gb, 0.017_328_0, max_relative = PAYMENT_REL);
        assert_abs_diff_eq!(o.net_saving, 11_275.56, epsilon = CENT);
        assert_abs_diff_eq!(o.net_saving_fraction, 0.2769, epsilon = FRACTION);
    }

    /// HYB-1024-0.75 (literature §6.3): V = 1024 TB, f = 0.75; V − fV = 256 TB. Derived:
    /// π = 0.01767239 (closed form), net = $26,091.52 − $13,898.13 = $12,193.39. The
    /// literature prints π = $0.01767 (rel 1.4e-4 from the derived value) and net = $12,193.38
    /// (midpoint-rule π).
    #[test]
    fn hyb_1024_075() {
        let (v, f) = (1024.0 * TB_GB, 0.75);
        let o = outcome(1024.0, f);
        assert_abs_diff_eq!(o.before, 40_724.48, epsilon = CENT);
        assert_abs_diff_eq!(o.after, 14_632.96, epsilon = CENT);
        assert_abs_diff_eq!(o.gross_saving_fraction, 0.6407, epsilon = FRACTION);
        assert_relative_eq!(o.break_even_per_gb, 0.03318, max_relative = PAYMENT_REL);
        assert_relative_eq!(
            o.shapley_per_gb,
            shapley_two_tiers(v, f),
            max_relative = 1e-12
        );
        assert_relative_eq!(o.shapley_per_gb, 0.017_672_39, max_relative = PAYMENT_REL);
        assert_abs_diff_eq!(o.net_saving, 12_193.39, epsilon = CENT);
        assert_abs_diff_eq!(o.net_saving_fraction, 0.2994, epsilon = FRACTION);
    }

    /// Where the §6.3 rows come from: the midpoint rule with n = 200,000 agrees with the exact
    /// integral to rel 1e-4 (in fact ~1e-6), and its π times fV ≈ 7.3e5 GB moves the net
    /// saving by about a cent: rounded to cents it gives the printed $11,275.55 and
    /// $12,193.38, where the exact π gives $11,275.56 and $12,193.39. The printed π
    /// ($0.01733, $0.01767) are the values rounded to 4 significant figures.
    #[test]
    fn literature_rows_are_midpoint_rule_values() {
        let table = TierTable::cloudfront_us();
        for (f, printed_pi, printed_net) in [(0.70, 0.01733, 11_275.55), (0.75, 0.01767, 12_193.38)]
        {
            let v = 1024.0 * TB_GB;
            let o = hybrid_outcome(&table, v, f).expect("valid inputs");
            let mid = shapley_midpoint(&table, v, f, 200_000);
            assert_relative_eq!(mid, o.shapley_per_gb, max_relative = PAYMENT_REL);
            let net_mid = o.gross_saving - mid * f * v;
            // Rounded to the cent, the midpoint value is the printed one.
            assert_abs_diff_eq!(net_mid, printed_net, epsilon = 0.005);
            // The printed π is the exact value rounded to 4 significant figures.
            assert_abs_diff_eq!(o.shapley_per_gb, printed_pi, epsilon = 0.5e-5);
        }
    }

    /// Literature §2.1, linear case: with one price p, π = p/2 and the provider keeps half
    /// the gross saving.
    #[test]
    fn flat_price_splits_saving_in_half() {
        let table = TierTable::flat(0.05).expect("valid price");
        for (v, f) in [(1000.0, 0.3), (51_200.0, 0.75), (1e7, 1.0)] {
            let o = hybrid_outcome(&table, v, f).expect("valid inputs");
            assert_relative_eq!(o.shapley_per_gb, 0.025, max_relative = 1e-12);
            assert_relative_eq!(o.break_even_per_gb, 0.05, max_relative = 1e-12);
            assert_relative_eq!(o.gross_saving, 0.05 * f * v, max_relative = 1e-12);
            assert_relative_eq!(o.net_saving, o.gross_saving / 2.0, max_relative = 1e-12);
            assert_relative_eq!(o.gross_saving_fraction, f, max_relative = 1e-12);
            assert_relative_eq!(o.net_saving_fraction, f / 2.0, max_relative = 1e-12);
        }
    }

    #[test]
    fn nothing_offloaded_gives_zeros() {
        let table = TierTable::cloudfront_us();
        for (v, f) in [(50.0 * TB_GB, 0.0), (0.0, 0.5), (0.0, 0.0)] {
            let o = hybrid_outcome(&table, v, f).expect("valid inputs");
            assert_abs_diff_eq!(o.after, o.before);
            for x in [
                o.gross_saving,
                o.gross_saving_fraction,
                o.break_even_per_gb,
                o.shapley_per_gb,
                o.peers_paid,
                o.net_saving,
                o.net_saving_fraction,
            ] {
                assert_abs_diff_eq!(x, 0.0);
            }
            assert_abs_diff_eq!(fluid_shapley_price(&table, v, f).expect("valid"), 0.0);
        }
    }

    #[test]
    fn everything_offloaded() {
        let o = outcome(1024.0, 1.0);
        assert_abs_diff_eq!(o.after, 0.0);
        assert_abs_diff_eq!(o.gross_saving_fraction, 1.0, epsilon = 1e-15);
        assert_relative_eq!(o.break_even_per_gb, 0.03884, max_relative = PAYMENT_REL);
    }

    /// Over a grid of volumes (0.5 TB .. 6 PB) and fractions: the exact π agrees with the
    /// midpoint rule within its error bound (the integrand t·p is linear between tier
    /// crossings; each crossing's cell errs by at most jump × h), lies between half the
    /// break-even price and the break-even price (prices fall with volume), efficiency holds,
    /// and the gross saving is at most f of the bill.
    #[test]
    fn invariants_over_a_grid() {
        let table = TierTable::cloudfront_us();
        let n = 20_000;
        // Sum of |price jumps| over all bounds, times the cell width: midpoint error bound.
        let bound = (0.085 - 0.020) / f64::from(n);
        for tb in [
            0.5, 9.0, 10.0, 30.0, 50.0, 120.0, 400.0, 1024.0, 3000.0, 5120.0, 6000.0,
        ] {
            for f in [0.01, 0.1, 0.25, 0.5, 0.7, 0.75, 0.9, 0.99, 1.0] {
                let v = tb * TB_GB;
                let o = hybrid_outcome(&table, v, f).expect("valid inputs");
                let pi = o.shapley_per_gb;
                let mid = shapley_midpoint(&table, v, f, n);
                assert_abs_diff_eq!(pi, mid, epsilon = bound);
                assert!(
                    pi >= o.break_even_per_gb / 2.0 * (1.0 - 1e-12),
                    "{tb} TB, f = {f}"
                );
                assert!(
                    pi <= o.break_even_per_gb * (1.0 + 1e-12),
                    "{tb} TB, f = {f}"
                );
                assert_relative_eq!(
                    o.net_saving + o.peers_paid,
                    o.gross_saving,
                    max_relative = 1e-12
                );
                assert!(
                    o.gross_saving_fraction <= f * (1.0 + 1e-12),
                    "{tb} TB, f = {f}"
                );
                assert_relative_eq!(
                    fluid_shapley_price(&table, v, f).expect("valid"),
                    pi,
                    max_relative = 1e-15
                );
            }
        }
    }

    #[test]
    fn commit_discount_scales_everything_but_fractions() {
        let list = TierTable::cloudfront_us();
        let disc = list.with_commit_discount(0.3).expect("0.3 is in [0, 1)");
        let (a, b) = (
            hybrid_outcome(&list, 700.0 * TB_GB, 0.6).expect("valid"),
            hybrid_outcome(&disc, 700.0 * TB_GB, 0.6).expect("valid"),
        );
        assert_relative_eq!(b.before, 0.7 * a.before, max_relative = 1e-12);
        assert_relative_eq!(
            b.shapley_per_gb,
            0.7 * a.shapley_per_gb,
            max_relative = 1e-12
        );
        assert_relative_eq!(b.net_saving, 0.7 * a.net_saving, max_relative = 1e-12);
        assert_relative_eq!(
            b.net_saving_fraction,
            a.net_saving_fraction,
            max_relative = 1e-12
        );
    }

    #[test]
    fn a_tier_table_with_a_free_tier() {
        // First 1 TB free, then $0.085: offloading only from the paid part pays its price/2
        // when the floor stays above 1 TB.
        let table = TierTable::new(
            vec![
                Tier {
                    up_to_gb: Some(TB_GB),
                    price: 0.0,
                },
                Tier {
                    up_to_gb: None,
                    price: 0.085,
                },
            ],
            0.0,
        )
        .expect("valid table");
        let o = hybrid_outcome(&table, 10.0 * TB_GB, 0.5).expect("valid");
        assert_relative_eq!(o.shapley_per_gb, 0.0425, max_relative = 1e-12);
        // Offloading everything: the last 10 % of t is free GB, π = 0.085 (0.9² − 0)/2.
        let o = hybrid_outcome(&table, 10.0 * TB_GB, 1.0).expect("valid");
        assert_relative_eq!(o.shapley_per_gb, 0.085 * 0.81 / 2.0, max_relative = 1e-12);
    }

    #[test]
    fn input_errors() {
        let table = TierTable::cloudfront_us();
        let msg = |v: f64, f: f64| match hybrid_outcome(&table, v, f) {
            Ok(o) => panic!("accepted {o:?}"),
            Err(e) => e.to_string(),
        };
        assert_eq!(
            msg(-1.0, 0.5),
            "`volume_gb` must be finite and ≥ 0 (got -1)"
        );
        assert_eq!(
            msg(f64::INFINITY, 0.5),
            "`volume_gb` must be finite and ≥ 0 (got inf)"
        );
        assert_eq!(msg(100.0, 1.5), "`offload` must be in [0, 1] (got 1.5)");
        assert_eq!(
            msg(100.0, f64::NAN),
            "`offload` must be in [0, 1] (got NaN)"
        );
        assert_eq!(
            fluid_shapley_price(&table, 100.0, -0.1)
                .unwrap_err()
                .to_string(),
            "`offload` must be in [0, 1] (got -0.1)"
        );
    }
}
