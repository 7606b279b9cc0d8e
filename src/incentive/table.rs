//! `peerfluid shapley`: the fluid Shapley value of a game beside its exact finite-N values
//! (the convergence table), and the core check.

use serde::Serialize;

use super::core::{fluid_core, CoreReport};
use super::shapley::{exact_by_classes, fluid_shapley, sampled_positions, MAX_COUNT_VECTORS};
use super::CostPerUser;
use crate::error::MechanismError;

/// Draws per player type of the sampled estimator ([`sampled_positions`]) where the exact sum
/// is too large: (1 + 2K)·`SAMPLED_POSITIONS` evaluations of Ω for K classes, whatever N.
pub const SAMPLED_POSITIONS: usize = 10_000;
/// Largest population N of the convergence table. With one class the exact value takes N + 1
/// evaluations of Ω (0.1 s for a canonical game at 10⁷, a few seconds for a scenario's); with
/// several, the exact sum stops at [`MAX_COUNT_VECTORS`] and the sampled estimate's cost does
/// not depend on N (issue 18, item 8: 10⁷ took minutes).
pub const MAX_N: usize = 10_000_000;

/// One row of the convergence table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FiniteN {
    /// Number of peers N.
    pub n: usize,
    /// Peers per class (N × share, rounded so that they sum to N).
    pub counts: Vec<usize>,
    /// "exact" (sum over count vectors), "sampled" (random positions, [`sampled_positions`])
    /// or "skipped" (more evaluations of Ω than [`CostPerUser::evaluation_limit`] allows;
    /// the values are NaN).
    pub method: &'static str,
    /// φ_P / N.
    pub provider_share_per_user: f64,
    /// φ of one class-c peer divided by its resource.
    pub price_per_unit: Vec<f64>,
    /// Half-width of the 95 % interval of `provider_share_per_user` (0 when exact).
    pub provider_half_width_95: f64,
    /// (φ_P / N − fluid) / fluid; `None` when the fluid value is 0 (nothing to share).
    pub provider_rel_error: Option<f64>,
}

/// What `peerfluid shapley --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShapleyTable {
    /// The game, in words.
    pub game: String,
    /// x̄_c: resource per user of each class.
    pub xbar: Vec<f64>,
    /// Fluid φ_P / N.
    pub provider_share_per_user: f64,
    /// Fluid price per unit of resource, per class.
    pub price_per_unit: Vec<f64>,
    /// Fluid peers' total per user.
    pub peers_per_user: f64,
    /// Savings per user, Ω(0) − Ω(x̄).
    pub savings_per_user: f64,
    /// Core check of the fluid allocation.
    pub core: CoreReport,
    /// Exact (or sampled) values per N.
    pub exact: Vec<FiniteN>,
}

/// Split `n` peers by `shares` (largest remainders, ties to the lower class index).
pub fn counts_for(n: usize, shares: &[f64]) -> Vec<usize> {
    let total: f64 = shares.iter().sum();
    let raw: Vec<f64> = shares.iter().map(|s| n as f64 * s / total).collect();
    let mut counts: Vec<usize> = raw.iter().map(|r| r.floor() as usize).collect();
    let mut left = n - counts.iter().sum::<usize>();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| (raw[b] - raw[b].floor()).total_cmp(&(raw[a] - raw[a].floor())));
    for &c in order.iter().cycle() {
        if left == 0 {
            break;
        }
        counts[c] += 1;
        left -= 1;
    }
    counts
}

/// The table for `game` with per-peer resources `resource` and population shares `shares`
/// (x̄_c = share_c × resource_c), at each N of `ns`; the sampled estimator (seeded,
/// [`sampled_positions`]) stands in where the exact sum over count vectors of several classes
/// exceeds [`MAX_COUNT_VECTORS`].
pub fn shapley_table(
    game: &dyn CostPerUser,
    label: &str,
    resource: &[f64],
    shares: &[f64],
    ns: &[usize],
    seed: u64,
) -> Result<ShapleyTable, MechanismError> {
    let xbar: Vec<f64> = resource.iter().zip(shares).map(|(r, s)| r * s).collect();
    let fluid = fluid_shapley(game, &xbar)?;
    let core = match game.evaluation_limit() {
        Some(limit) => CoreReport::not_checked(
            xbar.len(),
            format!(
                "not searched: each evaluation of this game's Ω is expensive (a catalogue of exact sums) and the search takes more than the {limit} evaluations allowed"
            ),
        ),
        None => fluid_core(game, &xbar)?,
    };
    let mut exact = Vec::with_capacity(ns.len());
    for &n in ns {
        if n == 0 || n > MAX_N {
            return Err(MechanismError::OutOfRange {
                what: "--n (population size N)".into(),
                value: n as f64,
                allowed: format!("1 to {MAX_N}"),
            });
        }
        let counts = counts_for(n, shares);
        let size = counts
            .iter()
            .try_fold(1usize, |acc, &c| acc.checked_mul(c + 1))
            .unwrap_or(usize::MAX);
        // Peers' resources are scaled so that the population's x̄ is the same at every N.
        let r: Vec<f64> = (0..counts.len())
            .map(|c| {
                if counts[c] > 0 {
                    xbar[c] * n as f64 / counts[c] as f64
                } else {
                    0.0
                }
            })
            .collect();
        let exact_ok = counts.len() == 1 || size <= MAX_COUNT_VECTORS;
        // Evaluations of Ω the row needs: one per count vector, or per sampled position and
        // class.
        let needed = if exact_ok {
            size
        } else {
            SAMPLED_POSITIONS.saturating_mul(counts.len() + 1)
        };
        if game.evaluation_limit().is_some_and(|limit| needed > limit) {
            exact.push(FiniteN {
                n,
                method: "skipped",
                provider_share_per_user: f64::NAN,
                price_per_unit: vec![f64::NAN; counts.len()],
                provider_half_width_95: 0.0,
                provider_rel_error: None,
                counts,
            });
            continue;
        }
        let (method, provider, half, per_peer) = if exact_ok {
            let v = exact_by_classes(game, &counts, &r)?;
            ("exact", v.provider, 0.0, v.per_peer)
        } else {
            let v = sampled_positions(game, &counts, &r, SAMPLED_POSITIONS, seed)?;
            (
                "sampled",
                v.provider.mean,
                v.provider.half_width_95 / n as f64,
                v.per_peer.iter().map(|e| e.mean).collect(),
            )
        };
        let p = provider / n as f64;
        exact.push(FiniteN {
            n,
            method,
            provider_share_per_user: p,
            price_per_unit: per_peer
                .iter()
                .zip(&r)
                .map(|(phi, rc)| if *rc > 0.0 { phi / rc } else { 0.0 })
                .collect(),
            provider_half_width_95: half,
            provider_rel_error: (fluid.provider_per_user.abs()
                > 1e-12 * fluid.savings_per_user.abs().max(f64::MIN_POSITIVE)
                && fluid.provider_per_user != 0.0)
                .then(|| (p - fluid.provider_per_user) / fluid.provider_per_user),
            counts,
        });
    }
    Ok(ShapleyTable {
        game: label.to_string(),
        xbar,
        provider_share_per_user: fluid.provider_per_user,
        price_per_unit: fluid.price_per_unit,
        peers_per_user: fluid.peers_per_user,
        savings_per_user: fluid.savings_per_user,
        core,
        exact,
    })
}

/// The convergence table of a scenario's own game (`peerfluid shapley FILE`): for a file
/// swarm the provider–peers game (resource: GB of upload capacity per download; Ω: the
/// origin's $ per download), for live and VoD the viewers' game (`incentive::stream`:
/// resource: GB of upload offered per view; Ω: origin $ per view); exact values for each
/// population in `ns` (sampled from `seed` where enumeration is too large).
///
/// # Errors
///
/// The games' own errors ([`MechanismError::NotFileSwarm`] for femtocell offload, which has
/// no such game).
pub fn scenario_table(
    s: &crate::scenario::Scenario,
    ns: &[usize],
    seed: u64,
) -> Result<ShapleyTable, MechanismError> {
    use crate::incentive::equilibrium::{Market, ScenarioGame};
    let shares: Vec<f64> = s.classes.iter().map(|c| c.share).collect();
    if s.content.kind.stream().is_some() {
        let game = crate::incentive::stream::StreamGame::new(s)?;
        return shapley_table(
            &game,
            &format!(
                "scenario '{}' (resource: GB of upload offered per view; Ω: origin $ per view)",
                s.name
            ),
            &game.capacity_gb,
            &shares,
            ns,
            seed,
        );
    }
    let market = Market::new(s)?;
    let game = ScenarioGame::new(&market)?;
    shapley_table(
        &game,
        &format!(
            "scenario '{}' (resource: GB of upload capacity per download; Ω: origin $ per download)",
            s.name
        ),
        &market.capacity_gb,
        &shares,
        ns,
        seed,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incentive::game::{Shape, SumGame};
    use approx::assert_relative_eq;

    #[test]
    fn counts_sum_to_n_and_follow_the_shares() {
        assert_eq!(counts_for(10, &[0.25, 0.75]), vec![3, 7]);
        assert_eq!(counts_for(7, &[1.0, 1.0, 1.0]).iter().sum::<usize>(), 7);
        assert_eq!(counts_for(1000, &[1.0]), vec![1000]);
    }

    #[test]
    fn table_reproduces_shap_finite_n() {
        // literature §2.6 SHAP-finiteN: Ω = (1 − x)⁺, x̄ = 2, identical peers; rel 1e-9.
        let g = SumGame::new(Shape::Linear, 1.0, 1.0, 1).unwrap();
        let t = shapley_table(&g, "linear", &[2.0], &[1.0], &[10, 100, 1000], 1).unwrap();
        assert_relative_eq!(t.provider_share_per_user, 0.75, max_relative = 1e-9);
        let expect = [
            0.727_272_727_272_727_3,
            0.747_524_752_475_247_5,
            0.749_750_249_750_249_7,
        ];
        for (row, e) in t.exact.iter().zip(expect) {
            assert_eq!(row.method, "exact");
            assert_relative_eq!(row.provider_share_per_user, e, max_relative = 1e-9);
        }
        assert!(!t.core.in_core);
        assert_relative_eq!(t.core.min_slack_per_user, -0.125, max_relative = 1e-9);
    }
}
