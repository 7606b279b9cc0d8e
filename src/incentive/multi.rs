//! Several providers sharing one peer ocean (Cho & Yi 2011; literature §2.5).
//!
//! m ≤ [`MAX_PROVIDERS`] providers; provider i saves S_i(R_i) = a_i·D_i·g_i(min(R_i/D_i, 1))
//! with g_i(u) = u^{p_i}, p_i ≥ 1 (p = 1: linear savings; p > 1: convex savings, i.e. a
//! concave cost), when peers give it resource R_i. The peers hold R in total. A coalition of
//! the providers B and a fraction s of the peers is worth
//!
//! v(B, s) = max { Σ_{i∈B} S_i(R_i) : R_i ≥ 0, Σ R_i ≤ s·R }.
//!
//! **Why enumerating vertices is exact.** Giving a provider more than D_i saves nothing, so
//! the maximum is over the polytope {0 ≤ R_i ≤ D_i, Σ R_i ≤ sR}. Each S_i is convex on
//! [0, D_i], so the objective is a convex function and its maximum over a polytope is at a
//! vertex. A vertex of a box cut by one half-space has every coordinate at a bound except at
//! most one, which takes what the budget leaves. So v(B, s) is the best, over subsets J ⊆ B
//! filled to D_j with Σ_J D_j ≤ sR, of Σ_J a_j D_j plus the remainder given to one i ∈ B∖J
//! (2^|B|·|B| candidates).
//!
//! Fluid value (each provider arrives at an independent uniform time t, the peer mass present
//! then is t): φ_i = ∫₀¹ Σ_{B ⊆ others} t^{|B|}(1 − t)^{m−1−|B|} [v(B ∪ i, t) − v(B, t)] dt,
//! and the peers get v(all, 1) − Σ φ_i. Card: `models/incentives.md`.

use super::shapley::{GL_NODES, GL_WEIGHTS};
use serde::Serialize;

use super::core::CORE_TOLERANCE;
use super::game::out_of_range;
use crate::error::MechanismError;

/// Largest number of providers (the fluid value costs about 5^m evaluations of v).
pub const MAX_PROVIDERS: usize = 10;

/// Largest work m·3^(m−1)·(N + 1) [`exact_identical_peers`] accepts.
pub const MAX_EXACT_WORK: usize = 200_000_000;

/// One provider's savings curve S(R) = a·D·min(R/D, 1)^p.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Provider {
    /// a_i: money saved per unit of demand served by peers (> 0).
    pub a: f64,
    /// D_i: the provider's demand, in units of peer resource (> 0).
    pub demand: f64,
    /// p_i ≥ 1: 1 for linear savings, > 1 for convex savings (concave cost).
    pub exponent: f64,
}

impl Provider {
    /// S_i(r): the savings when peers give this provider resource `r`.
    pub fn savings(&self, r: f64) -> f64 {
        let u = (r / self.demand).clamp(0.0, 1.0);
        self.a * self.demand * u.powf(self.exponent)
    }

    /// The single-provider fluid Shapley value with the whole ocean R: ∫₀¹ S(tR) dt.
    pub fn standalone(&self, resource: f64) -> f64 {
        let (a, d, p) = (self.a, self.demand, self.exponent);
        if resource <= d {
            self.savings(resource) / (p + 1.0)
        } else {
            let tau = d / resource;
            a * d * (tau / (p + 1.0) + 1.0 - tau)
        }
    }
}

/// Providers sharing a peer ocean of total resource R (validated).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Market {
    providers: Vec<Provider>,
    resource: f64,
}

impl Market {
    /// A validated market: 1..=[`MAX_PROVIDERS`] providers with a, D > 0 and p ≥ 1, R ≥ 0.
    pub fn new(providers: Vec<Provider>, resource: f64) -> Result<Self, MechanismError> {
        if providers.is_empty() || providers.len() > MAX_PROVIDERS {
            return Err(out_of_range(
                "number of providers",
                providers.len() as f64,
                &format!("1 ..= {MAX_PROVIDERS}"),
            ));
        }
        for p in &providers {
            if !(p.a.is_finite() && p.a > 0.0) {
                return Err(out_of_range("provider a", p.a, "> 0"));
            }
            if !(p.demand.is_finite() && p.demand > 0.0) {
                return Err(out_of_range("provider demand D", p.demand, "> 0"));
            }
            if !(p.exponent.is_finite() && p.exponent >= 1.0) {
                return Err(out_of_range(
                    "provider exponent p",
                    p.exponent,
                    "≥ 1 (convex savings)",
                ));
            }
        }
        if !(resource.is_finite() && resource >= 0.0) {
            return Err(out_of_range("peer resource R", resource, "finite and ≥ 0"));
        }
        Ok(Market {
            providers,
            resource,
        })
    }

    /// The providers.
    pub fn providers(&self) -> &[Provider] {
        &self.providers
    }

    /// R: the peers' total resource.
    pub fn resource(&self) -> f64 {
        self.resource
    }

    /// v(B, s) for the providers in the bit set `coalition` (bit i = provider i) with a
    /// fraction `s` of the peers, by vertex enumeration (module docs).
    pub fn value(&self, coalition: usize, s: f64) -> f64 {
        let budget = s * self.resource;
        let slack = 1e-12 * budget.abs().max(1.0);
        let mut best = 0.0_f64;
        // Every J ⊆ coalition (submask enumeration, J = coalition first, ∅ last).
        let mut j = coalition;
        loop {
            let (mut dj, mut sj) = (0.0, 0.0);
            let mut bits = j;
            while bits != 0 {
                let i = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                dj += self.providers[i].demand;
                sj += self.providers[i].a * self.providers[i].demand;
            }
            if dj <= budget + slack {
                let rem = (budget - dj).max(0.0);
                best = best.max(sj);
                let mut rest = coalition & !j;
                while rest != 0 {
                    let i = rest.trailing_zeros() as usize;
                    rest &= rest - 1;
                    best = best.max(sj + self.providers[i].savings(rem));
                }
            }
            if j == 0 {
                break;
            }
            j = (j - 1) & coalition;
        }
        best
    }

    /// t in (0, 1) where some J ⊆ `coalition` exactly fills: Σ_J D_j / R (sorted, unique).
    fn breakpoints(&self, coalition: usize) -> Vec<f64> {
        let mut out = vec![0.0, 1.0];
        if self.resource > 0.0 {
            let mut j = coalition;
            while j != 0 {
                let d: f64 = (0..self.providers.len())
                    .filter(|i| j & (1 << i) != 0)
                    .map(|i| self.providers[i].demand)
                    .sum();
                let t = d / self.resource;
                if t > 0.0 && t < 1.0 {
                    out.push(t);
                }
                j = (j - 1) & coalition;
            }
        }
        out.sort_by(f64::total_cmp);
        out.dedup_by(|a, b| (*a - *b).abs() <= 1e-14);
        out
    }
}

/// The fluid multi-provider report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MultiReport {
    /// φ_i: each provider's fluid Shapley value (money).
    pub phi: Vec<f64>,
    /// The peers' total: v(all, 1) − Σ φ_i.
    pub peers_total: f64,
    /// v(all, 1): the savings of the grand coalition.
    pub grand_value: f64,
    /// True when some coalition gets more than it is paid (slack < −tolerance).
    pub blocked: bool,
    /// The providers of the most-blocking coalition (indices).
    pub blocking_providers: Vec<usize>,
    /// The fraction of the peers in the most-blocking coalition.
    pub blocking_peer_fraction: f64,
    /// Its slack: Σ_{i∈B} φ_i + s·peers − v(B, s) (money).
    pub blocking_slack: f64,
    /// Each provider alone with the whole ocean: ∫₀¹ S_i(tR) dt.
    pub standalone: Vec<f64>,
    /// Whether each provider gets more standing alone than in the grand coalition.
    pub prefers_separate: Vec<bool>,
}

/// ∫ over [lo, hi] of f (vector-valued into `acc`) by 8-point Gauss–Legendre, halving where
/// one panel and its two halves disagree by more than `tol` (depth ≤ 24): handles kinks where
/// two vertices of v cross inside a piece.
fn adaptive(
    f: &mut dyn FnMut(f64, &mut [f64; 2]),
    lo: f64,
    hi: f64,
    tol: f64,
    depth: u32,
) -> [f64; 2] {
    let panel = |f: &mut dyn FnMut(f64, &mut [f64; 2]), a: f64, b: f64| {
        let (mid, half) = (0.5 * (a + b), 0.5 * (b - a));
        let mut acc = [0.0; 2];
        let mut val = [0.0; 2];
        for (node, w) in GL_NODES.iter().zip(GL_WEIGHTS) {
            for t in [mid - half * node, mid + half * node] {
                f(t, &mut val);
                acc[0] += w * half * val[0];
                acc[1] += w * half * val[1];
            }
        }
        acc
    };
    let whole = panel(f, lo, hi);
    let mid = 0.5 * (lo + hi);
    let left = panel(f, lo, mid);
    let right = panel(f, mid, hi);
    let split = [left[0] + right[0], left[1] + right[1]];
    let err = (whole[0] - split[0]).abs().max((whole[1] - split[1]).abs());
    if err <= tol || depth >= 24 {
        return split;
    }
    let l = adaptive(f, lo, mid, 0.5 * tol, depth + 1);
    let r = adaptive(f, mid, hi, 0.5 * tol, depth + 1);
    [l[0] + r[0], l[1] + r[1]]
}

/// The fluid Cho–Yi values, the core check of the grand coalition and each provider's
/// standalone value.
pub fn fluid_values(market: &Market) -> MultiReport {
    let m = market.providers.len();
    let all = (1usize << m) - 1;
    let grand_value = market.value(all, 1.0);
    let scale = grand_value.abs().max(1.0);
    // a[T] = [∫ t^{|T|−1}(1−t)^{m−|T|} v(T,t) dt, ∫ t^{|T|}(1−t)^{m−1−|T|} v(T,t) dt].
    let mut phi = vec![0.0; m];
    for t_set in 1..=all {
        let size = t_set.count_ones() as i32;
        let mi = m as i32;
        let mut integrand = |t: f64, out: &mut [f64; 2]| {
            let v = market.value(t_set, t);
            out[0] = t.powi(size - 1) * (1.0 - t).powi(mi - size) * v;
            out[1] = if size < mi {
                t.powi(size) * (1.0 - t).powi(mi - 1 - size) * v
            } else {
                0.0
            };
        };
        let mut acc = [0.0; 2];
        for seg in market.breakpoints(t_set).windows(2) {
            let r = adaptive(&mut integrand, seg[0], seg[1], 1e-14 * scale, 0);
            acc[0] += r[0];
            acc[1] += r[1];
        }
        for (i, p) in phi.iter_mut().enumerate() {
            if t_set & (1 << i) != 0 {
                *p += acc[0];
            } else {
                *p -= acc[1];
            }
        }
    }
    let peers_total = grand_value - phi.iter().sum::<f64>();

    // Core: for a coalition B the slack is linear in s minus v(B, s), and v(B, ·) − s·peers is
    // convex on every piece between the fill points Σ_J D_j/R, so its extremes are there.
    let tol = CORE_TOLERANCE * scale;
    let mut worst = (f64::INFINITY, 0usize, 1.0);
    for b in 0..=all {
        let paid: f64 = (0..m).filter(|i| b & (1 << i) != 0).map(|i| phi[i]).sum();
        for s in market.breakpoints(b) {
            let slack = paid + s * peers_total - market.value(b, s);
            if slack < worst.0 - 1e-15 * scale {
                worst = (slack, b, s);
            }
        }
    }
    let standalone: Vec<f64> = market
        .providers
        .iter()
        .map(|p| p.standalone(market.resource))
        .collect();
    let prefers_separate = standalone
        .iter()
        .zip(&phi)
        .map(|(s, p)| *s > p + tol)
        .collect();
    MultiReport {
        blocked: worst.0 < -tol,
        blocking_providers: (0..m).filter(|i| worst.1 & (1 << i) != 0).collect(),
        blocking_peer_fraction: worst.2,
        blocking_slack: worst.0,
        phi,
        peers_total,
        grand_value,
        standalone,
        prefers_separate,
    }
}

/// Exact finite-N Cho–Yi values with N identical peers (each r = R/N).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MultiExact {
    /// φ_i of each provider (money).
    pub per_provider: Vec<f64>,
    /// The peers' total: v(all, 1) − Σ φ_i.
    pub peers_total: f64,
    /// One peer's value (peers_total / N, by symmetry).
    pub per_peer: f64,
}

/// The exact Shapley value of the game of the providers and `peers` identical peers.
///
/// In a uniformly random order of the m + N players, the other providers preceding i are
/// exactly B and exactly k peers precede it with probability
/// (1/(m + N))·C(N, k)/C(m − 1 + N, |B| + k); provider i then adds v(B ∪ i, k/N) − v(B, k/N).
/// Fails with `TooLarge` when m·3^(m−1)·(N + 1) exceeds [`MAX_EXACT_WORK`].
pub fn exact_identical_peers(market: &Market, peers: usize) -> Result<MultiExact, MechanismError> {
    if peers == 0 {
        return Err(out_of_range("number of peers N", 0.0, "≥ 1"));
    }
    let m = market.providers.len();
    let work = 3usize
        .pow(m as u32 - 1)
        .saturating_mul(m)
        .saturating_mul(peers + 1);
    if work > MAX_EXACT_WORK {
        return Err(MechanismError::TooLarge {
            what: "exact multi-provider value (m·3^(m−1)·(N + 1))".into(),
            size: work,
            limit: MAX_EXACT_WORK,
            hint: "use the fluid value (fluid_values)".into(),
        });
    }
    let all = (1usize << m) - 1;
    let nf = peers as f64;
    // table[T·(N+1) + k] = v(T, k/N).
    let stride = peers + 1;
    let mut table = vec![0.0; (all + 1) * stride];
    for t_set in 1..=all {
        for k in 0..=peers {
            table[t_set * stride + k] = market.value(t_set, k as f64 / nf);
        }
    }
    let total = m - 1 + peers;
    let mut lf = vec![0.0_f64; total + 1];
    for j in 1..=total {
        lf[j] = lf[j - 1] + (j as f64).ln();
    }
    let ln_binom = |a: usize, b: usize| lf[a] - lf[b] - lf[a - b];
    let ln_m_n = ((m + peers) as f64).ln();
    let mut per_provider = vec![0.0; m];
    for (i, phi) in per_provider.iter_mut().enumerate() {
        let others = all & !(1 << i);
        let mut b = others;
        loop {
            let size = b.count_ones() as usize;
            let with = b | (1 << i);
            for k in 0..=peers {
                let w = (ln_binom(peers, k) - ln_binom(total, size + k) - ln_m_n).exp();
                *phi += w * (table[with * stride + k] - table[b * stride + k]);
            }
            if b == 0 {
                break;
            }
            b = (b - 1) & others;
        }
    }
    let peers_total = table[all * stride + peers] - per_provider.iter().sum::<f64>();
    Ok(MultiExact {
        per_provider,
        peers_total,
        per_peer: peers_total / nf,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incentive::game::{closed_form, Shape, SumGame};
    use crate::incentive::shapley::exact_by_classes;
    use approx::assert_relative_eq;

    /// Literature §2.6 row CHOYI-lin: rel 1e-6.
    const CHOYI_TOL: f64 = 1e-6;

    fn two(exponent: f64) -> Market {
        let p = Provider {
            a: 1.0,
            demand: 1.0,
            exponent,
        };
        Market::new(vec![p, p], 1.0).unwrap()
    }

    /// CHOYI-lin (§2.6): φ_i = 1/6, peers 2/3, blocked by one provider with all the peers
    /// (slack 1/6 + 2/3 − 1 = −1/6); standalone 1/2 > 1/6.
    #[test]
    fn choyi_lin_fluid() {
        let r = fluid_values(&two(1.0));
        for i in 0..2 {
            assert_relative_eq!(r.phi[i], 1.0 / 6.0, max_relative = CHOYI_TOL);
            assert_relative_eq!(r.standalone[i], 0.5, max_relative = 1e-12);
            assert!(r.prefers_separate[i]);
        }
        assert_relative_eq!(r.peers_total, 2.0 / 3.0, max_relative = CHOYI_TOL);
        assert!(r.blocked);
        assert_eq!(r.blocking_providers.len(), 1);
        assert_relative_eq!(r.blocking_peer_fraction, 1.0, epsilon = 1e-12);
        assert_relative_eq!(r.blocking_slack, -1.0 / 6.0, max_relative = 1e-9);
    }

    /// CHOYI-lin exact at N = 20 and N = 200: φ_1 = 1/6 (rel 1e-6); peers 2/3.
    #[test]
    fn choyi_lin_exact() {
        for n in [20usize, 200] {
            let e = exact_identical_peers(&two(1.0), n).unwrap();
            assert_relative_eq!(e.per_provider[0], 1.0 / 6.0, max_relative = CHOYI_TOL);
            assert_relative_eq!(e.per_provider[1], 1.0 / 6.0, max_relative = CHOYI_TOL);
            assert_relative_eq!(e.peers_total, 2.0 / 3.0, max_relative = CHOYI_TOL);
            assert_relative_eq!(e.per_peer * n as f64, e.peers_total, max_relative = 1e-12);
        }
    }

    /// §2.5 concave example: savings R_i²: φ_i = 1/12, peers 5/6, blocked (1 > 11/12);
    /// standalone 1/3. The exact value converges to it as N grows.
    #[test]
    fn choyi_concave() {
        let r = fluid_values(&two(2.0));
        for i in 0..2 {
            assert_relative_eq!(r.phi[i], 1.0 / 12.0, max_relative = CHOYI_TOL);
            assert_relative_eq!(r.standalone[i], 1.0 / 3.0, max_relative = 1e-12);
            assert!(r.prefers_separate[i]);
        }
        assert_relative_eq!(r.peers_total, 5.0 / 6.0, max_relative = CHOYI_TOL);
        assert!(r.blocked);
        assert_relative_eq!(r.blocking_slack, -1.0 / 12.0, max_relative = 1e-9);
        let e200 = exact_identical_peers(&two(2.0), 200).unwrap();
        let e400 = exact_identical_peers(&two(2.0), 400).unwrap();
        let (d200, d400) = (
            (e200.per_provider[0] - 1.0 / 12.0).abs(),
            (e400.per_provider[0] - 1.0 / 12.0).abs(),
        );
        assert!(d400 < d200 && d200 < 5e-3, "{d200} {d400}");
    }

    /// One provider: the fluid value is the single-provider fluid Shapley value (closed form
    /// of §2.1 with d = D, x̄ = R) and the exact one equals `exact_by_classes`.
    #[test]
    fn one_provider_reduces_to_single_game() {
        for (shape, p) in [(Shape::Linear, 1.0), (Shape::Concave, 2.0)] {
            for resource in [0.4, 1.0, 2.5] {
                let prov = Provider {
                    a: 1.5,
                    demand: 0.8,
                    exponent: p,
                };
                let market = Market::new(vec![prov], resource).unwrap();
                let r = fluid_values(&market);
                let (cf, _) = closed_form(shape, 1.5, 0.8, resource);
                assert_relative_eq!(r.phi[0], cf, max_relative = 1e-9);
                assert_relative_eq!(r.standalone[0], cf, max_relative = 1e-12);
                assert!(!r.prefers_separate[0]);
                let n = 30;
                let e = exact_identical_peers(&market, n).unwrap();
                let g = SumGame::new(shape, 1.5, 0.8, 1).unwrap();
                let b = exact_by_classes(&g, &[n], &[resource]).unwrap();
                assert_relative_eq!(
                    e.per_provider[0],
                    b.provider / n as f64,
                    max_relative = 1e-10
                );
            }
        }
    }

    /// Vertex enumeration against a brute-force grid over splits (three heterogeneous
    /// providers, convex savings).
    #[test]
    fn value_matches_brute_force_split() {
        let ps = vec![
            Provider {
                a: 1.0,
                demand: 0.5,
                exponent: 1.0,
            },
            Provider {
                a: 2.0,
                demand: 0.3,
                exponent: 2.0,
            },
            Provider {
                a: 0.7,
                demand: 0.9,
                exponent: 1.5,
            },
        ];
        let market = Market::new(ps.clone(), 1.2).unwrap();
        for s in [0.1, 0.35, 0.6, 0.9, 1.0] {
            let budget = s * 1.2;
            let steps = 300;
            let mut brute = 0.0_f64;
            for i in 0..=steps {
                for j in 0..=steps - i {
                    let r0 = budget * i as f64 / steps as f64;
                    let r1 = budget * j as f64 / steps as f64;
                    let r2 = budget - r0 - r1;
                    brute = brute.max(ps[0].savings(r0) + ps[1].savings(r1) + ps[2].savings(r2));
                }
            }
            let v = market.value(0b111, s);
            assert!(v >= brute - 1e-12, "s = {s}: {v} < {brute}");
            assert!(v - brute < 5e-3, "s = {s}: {v} vs {brute}");
        }
    }

    /// Three heterogeneous providers: efficiency by construction, exact → fluid as N grows.
    #[test]
    fn heterogeneous_exact_converges_to_fluid() {
        let ps = vec![
            Provider {
                a: 1.0,
                demand: 0.5,
                exponent: 1.0,
            },
            Provider {
                a: 2.0,
                demand: 0.3,
                exponent: 2.0,
            },
            Provider {
                a: 0.7,
                demand: 0.9,
                exponent: 1.5,
            },
        ];
        let market = Market::new(ps, 1.2).unwrap();
        let f = fluid_values(&market);
        let e = exact_identical_peers(&market, 2000).unwrap();
        for i in 0..3 {
            assert!(
                (e.per_provider[i] - f.phi[i]).abs() < 2e-3,
                "{i}: {e:?} {f:?}"
            );
        }
        assert_relative_eq!(
            f.phi.iter().sum::<f64>() + f.peers_total,
            market.value(0b111, 1.0),
            max_relative = 1e-12
        );
    }

    #[test]
    fn validation() {
        let p = Provider {
            a: 1.0,
            demand: 1.0,
            exponent: 1.0,
        };
        assert!(Market::new(vec![], 1.0).is_err());
        assert!(Market::new(vec![p; 11], 1.0).is_err());
        assert_eq!(
            Market::new(vec![Provider { exponent: 0.5, ..p }], 1.0)
                .unwrap_err()
                .to_string(),
            "provider exponent p = 0.5 is out of range: ≥ 1 (convex savings)"
        );
        assert!(Market::new(vec![p], -1.0).is_err());
        let big = Market::new(vec![p; 10], 1.0).unwrap();
        assert!(matches!(
            exact_identical_peers(&big, 100_000),
            Err(MechanismError::TooLarge { .. })
        ));
    }
}
