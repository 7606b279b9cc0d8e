//! Participation equilibrium and the provider's best payment, on a scenario's own swarm and
//! prices. Card: `models/incentives.md` (section "Participation equilibrium").
//!
//! The market is played at the steady state of the scenario's reference arrival rate λ. A
//! share q_c of class c's peers opts in to share (upload while downloading, then seed); the
//! others download but upload nothing and leave on completion. A sharing peer earns an income
//! per download (the provider's [`Offer`]) and bears the value of its upload
//! (`peers.cost.upload_value`), the energy of its seeding hours (`peers.cost.power` ×
//! `peers.cost.electricity`) and a private cost drawn from its class's
//! [`CostDistribution`]. Peers respond to the income they would earn now:
//!
//! ```text
//! dq_c/dt = k (F_c(income_c(q) − value_c(q) − energy_c(q)) − q_c),   k = 1 / incentive.response_time
//! ```
//!
//! coupled with the swarm, whose sharers and non-sharers are separate populations. An
//! equilibrium is a q with F_c(…) = q_c for every class that decides.

use nalgebra::DMatrix;
use serde::Serialize;

use super::distribution::CostDistribution;
use crate::cost::ledger::steady_origin_usd;
use crate::cost::tiers::GB;
use crate::error::MechanismError;
use crate::model::swarm::{swarm_of, Swarm};
use crate::model::{ArrivalProfile, FluidModel, State};
use crate::scenario::Scenario;
use crate::solve::{self, Method, SolverSettings};
use crate::units::Seconds;

/// Participation below this is treated as this (to define a sharer's income as q → 0); far
/// below the steps [`ScenarioGame`]'s gradient takes, so Ω stays sloped near q = 0.
const Q_FLOOR: f64 = 1e-12;
/// Relative step (to a class's full-participation resource) of [`ScenarioGame`]'s gradient.
const GRADIENT_STEP: f64 = 1e-7;
/// Quadrature accuracy of the scenario's game: its gradient is a difference quotient with
/// relative error about 1e-8 (rounding of Ω over the step), so asking for more only adds
/// panels.
const SCENARIO_QUADRATURE_TOL: f64 = 1e-7;
/// Grid of the 1-D scan for equilibria (then bisection to 1e-13).
const SCAN_POINTS: usize = 64;
/// |F − q| below this counts as an equilibrium.
pub const EQ_TOL: f64 = 1e-9;

/// What the provider offers each sharing peer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Offer {
    /// $ per GB uploaded.
    PerByte {
        /// $/GB.
        price: f64,
    },
    /// $ per download, for opting in.
    Discount {
        /// $ per download.
        amount: f64,
    },
    /// The fluid Shapley value of the participants' game: π_c $ per GB of upload capacity
    /// offered, recomputed for the peers who take part.
    Shapley,
}

/// The steady state of the market at participation q, per download.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// Participation per class.
    pub q: Vec<f64>,
    /// GB a sharing peer uploads per download, per class.
    pub upload_gb: Vec<f64>,
    /// Hours a sharing peer seeds per download, per class.
    pub seed_hours: Vec<f64>,
    /// Mean download time, s.
    pub download_time_s: f64,
    /// Share of the delivered bytes the peers serve.
    pub peer_fraction: f64,
    /// The provider's origin cost per download (Ω), $.
    pub origin_usd: f64,
}

/// An equilibrium of the participation dynamics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Equilibrium {
    /// Participation per class.
    pub q: Vec<f64>,
    /// Whether small deviations die out (the linearised best-response dynamics are stable).
    pub stable: bool,
    /// Income of a sharing peer per download, $, per class.
    pub income_usd: Vec<f64>,
    /// Net benefit (income − upload value − energy, before private cost) per class, $.
    pub benefit_usd: Vec<f64>,
    /// The provider's cost per download (origin + payments), $.
    pub provider_usd: f64,
    /// Social cost per download (origin + every cost the sharers bear; payments cancel), $.
    pub social_usd: f64,
}

/// The provider's best per-byte price and what surrounds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BestPayment {
    /// The price that minimises the provider's cost per download once peers respond, $/GB.
    pub price_usd_per_gb: f64,
    /// The equilibrium it leads to.
    pub equilibrium: Equilibrium,
    /// The provider's cost per download with nobody sharing, $ (the baseline).
    pub no_sharing_usd: f64,
    /// Participation that minimises social cost per download.
    pub social_q: Vec<f64>,
    /// Social cost per download at that optimum, $.
    pub social_optimum_usd: f64,
    /// Social cost at the provider's best price minus the social optimum, $ per download (≥ 0).
    pub gap_usd: f64,
    /// Prices tried on the grid before refinement.
    pub grid_points: usize,
}

/// What a scenario that is not a file swarm is, in words (`None` for a file swarm): the
/// participation market and the Shapley game exist for file swarms only.
pub fn not_a_file_swarm(s: &Scenario) -> Option<&'static str> {
    use crate::scenario::ContentKind;
    match s.content.kind {
        ContentKind::File => None,
        ContentKind::Live(_) => Some("live stream"),
        ContentKind::Vod { .. } => Some("video-on-demand catalogue"),
        ContentKind::Wireless(_) => Some("femtocell offload scenario"),
    }
}

/// A scenario seen as a participation market.
pub struct Market<'a> {
    s: &'a Scenario,
    base: Swarm,
    /// Reference arrival rate, 1/s.
    pub rate: f64,
    /// What the reference rate is.
    pub rate_basis: &'static str,
    /// k = 1/response_time, 1/s.
    pub k: f64,
    /// GB of upload capacity a sharing peer offers per download at full participation.
    pub capacity_gb: Vec<f64>,
    /// Downloads per second delivered with everyone sharing: the service every participation
    /// level is held to (the origin tops up what fewer sharers do not upload).
    pub served_ref: f64,
}

impl<'a> Market<'a> {
    /// The market of a scenario; fails when the swarm has no steady state at the reference
    /// arrival rate even with everyone sharing.
    pub fn new(s: &'a Scenario) -> Result<Self, MechanismError> {
        if let Some(kind) = not_a_file_swarm(s) {
            return Err(MechanismError::NotFileSwarm {
                scenario: s.name.clone(),
                kind,
            });
        }
        let (rate, rate_basis) = s.demand.arrival.reference_rate();
        if !(rate.is_finite() && rate > 0.0) {
            return Err(MechanismError::Equilibrium(format!(
                "scenario '{}': the incentive market is played at the {rate_basis}, which is \
                 {rate}/s; it must be > 0 (a trace of zeros has no market)",
                s.name
            )));
        }
        let mut base = swarm_of(s);
        base.arrival = ArrivalProfile::Constant { rate };
        let mut m = Self {
            s,
            base,
            rate,
            rate_basis,
            k: 1.0 / s.incentive.response_time,
            capacity_gb: Vec::new(),
            served_ref: 0.0,
        };
        let full = vec![1.0; s.classes.len()];
        let ss = m.steady(&full)?;
        m.served_ref = ss.server + ss.peer;
        m.capacity_gb = (0..s.classes.len())
            .map(|c| {
                let cl = &m.base.classes[c];
                let lam = rate * cl.share;
                cl.mu * (m.base.eta * ss.leechers[c] + ss.seeds[c]) / lam * m.file_gb()
            })
            .collect();
        Ok(m)
    }

    /// The scenario.
    pub fn scenario(&self) -> &Scenario {
        self.s
    }

    fn file_gb(&self) -> f64 {
        self.s.content.size / GB
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.base.k()
    }

    /// Indices of the classes whose peers decide (a cost distribution other than none).
    pub fn deciding(&self) -> Vec<usize> {
        (0..self.classes())
            .filter(|&c| self.s.classes[c].cost.decides())
            .collect()
    }

    fn steady(&self, q: &[f64]) -> Result<crate::model::swarm::SteadyState, MechanismError> {
        let qf: Vec<f64> = q.iter().map(|v| v.clamp(Q_FLOOR, 1.0)).collect();
        let sw = self.base.with_scaled_upload(&qf);
        sw.steady_states(self.rate)
            .map_err(|why| {
                MechanismError::Equilibrium(format!(
                    "scenario '{}': no steady state at participation {q:?} ({why})",
                    self.s.name
                ))
            })
            .and_then(|list| {
                list.into_iter().next().ok_or_else(|| {
                    MechanismError::Equilibrium(format!(
                        "scenario '{}': no steady state at participation {q:?}",
                        self.s.name
                    ))
                })
            })
    }

    /// The origin's monthly cost, per download, when it serves every download the swarm
    /// delivers with everyone sharing that the peers (uploading `peer_fps` files/s) do not:
    /// equal service at every participation level (`models/incentives.md`).
    fn origin_per_download(&self, server_fps: f64, peer_fps: f64) -> f64 {
        let month = self.s.pricing.billing_month;
        let fps = server_fps.max(self.served_ref - peer_fps);
        let usd = steady_origin_usd(self.s, fps * self.s.content.size * 8.0);
        usd / (self.rate * month)
    }

    /// The steady state at participation `q` (the mean-field twin of the split swarm: same
    /// leechers, level and flows, see `Swarm::with_scaled_upload`).
    pub fn outcome(&self, q: &[f64]) -> Result<Outcome, MechanismError> {
        let ss = self.steady(q)?;
        let eta = self.base.eta;
        let mut supply = 0.0;
        for (c, cl) in self.base.classes.iter().enumerate() {
            supply += q[c].clamp(Q_FLOOR, 1.0) * cl.mu * (eta * ss.leechers[c] + ss.seeds[c]);
        }
        let used = if supply > 0.0 { ss.peer / supply } else { 1.0 };
        let mut upload_gb = Vec::with_capacity(self.classes());
        let mut seed_hours = Vec::with_capacity(self.classes());
        for (c, cl) in self.base.classes.iter().enumerate() {
            let lam = self.rate * cl.share;
            upload_gb
                .push(used * cl.mu * (eta * ss.leechers[c] + ss.seeds[c]) / lam * self.file_gb());
            seed_hours.push(ss.seeds[c] / lam / 3600.0);
        }
        let delivered = ss.peer + ss.server;
        Ok(Outcome {
            q: q.to_vec(),
            upload_gb,
            seed_hours,
            download_time_s: ss.mean_download_time(),
            peer_fraction: if delivered > 0.0 {
                ss.peer / delivered
            } else {
                0.0
            },
            origin_usd: self.origin_per_download(ss.server, ss.peer),
        })
    }

    /// Energy bill of a sharing peer's seeding hours per download, class `c`, $.
    fn energy_usd(&self, seed_hours: f64) -> f64 {
        self.s.peer_cost.power * seed_hours / 1000.0 * self.s.peer_cost.electricity
    }

    /// Income of a sharing peer per download under `offer`, per class, $.
    pub fn income(&self, offer: &Offer, o: &Outcome) -> Result<Vec<f64>, MechanismError> {
        Ok(match *offer {
            Offer::PerByte { price } => o.upload_gb.iter().map(|gb| price * gb).collect(),
            Offer::Discount { amount } => vec![amount; self.classes()],
            Offer::Shapley => {
                let pi = self.shapley_prices(&o.q)?;
                pi.iter()
                    .zip(&self.capacity_gb)
                    .map(|(p, cap)| p * cap)
                    .collect()
            }
        })
    }

    /// Fluid Shapley price per GB of upload capacity offered, per class, of the game among
    /// the peers who take part at `q` (see [`ScenarioGame`]).
    pub fn shapley_prices(&self, q: &[f64]) -> Result<Vec<f64>, MechanismError> {
        let game = ScenarioGame::new(self)?;
        let xbar: Vec<f64> = (0..self.classes())
            .map(|c| self.base.classes[c].share * q[c].clamp(0.0, 1.0) * self.capacity_gb[c])
            .collect();
        Ok(super::shapley::fluid_shapley(&game, &xbar)?.price_per_unit)
    }

    /// Net benefit (before the private cost) and the energy scale, per class.
    fn benefit(&self, income: &[f64], o: &Outcome) -> (Vec<f64>, Vec<f64>) {
        let mut b = Vec::with_capacity(income.len());
        let mut e = Vec::with_capacity(income.len());
        for (c, inc) in income.iter().enumerate() {
            let energy = self.energy_usd(o.seed_hours[c]);
            let value = self.s.peer_cost.upload_value * o.upload_gb[c];
            let is_energy = matches!(self.s.classes[c].cost, CostDistribution::Energy { .. });
            b.push(inc - value - if is_energy { 0.0 } else { energy });
            e.push(energy);
        }
        (b, e)
    }

    /// F_c(benefit_c(q)): the share of each class that would opt in if `q` held.
    pub fn target(&self, offer: &Offer, q: &[f64]) -> Result<Vec<f64>, MechanismError> {
        let o = self.outcome(q)?;
        let income = self.income(offer, &o)?;
        let (b, e) = self.benefit(&income, &o);
        Ok((0..self.classes())
            .map(|c| self.s.classes[c].cost.cdf(b[c], e[c]))
            .collect())
    }

    /// Social cost per download at `q`: origin + upload value + energy + private costs of the
    /// cheapest q_c of each class (payments are transfers and cancel), $.
    pub fn social_cost(&self, q: &[f64]) -> Result<f64, MechanismError> {
        let o = self.outcome(q)?;
        let mut total = o.origin_usd;
        for (c, cl) in self.s.classes.iter().enumerate() {
            let energy = self.energy_usd(o.seed_hours[c]);
            let value = self.s.peer_cost.upload_value * o.upload_gb[c];
            let private = match cl.cost.quantile(q[c], energy) {
                Some(top) => cl.cost.partial_mean(top, energy),
                None => 0.0,
            };
            let own = if matches!(cl.cost, CostDistribution::Energy { .. }) {
                value * q[c]
            } else {
                (value + energy) * q[c]
            };
            total += cl.share * (own + private);
        }
        Ok(total)
    }

    /// Describe participation `q` under `offer` (income, provider and social cost).
    pub fn describe(
        &self,
        offer: &Offer,
        q: &[f64],
        stable: bool,
    ) -> Result<Equilibrium, MechanismError> {
        let o = self.outcome(q)?;
        let income = self.income(offer, &o)?;
        let (b, _) = self.benefit(&income, &o);
        let payments: f64 = (0..self.classes())
            .map(|c| self.base.classes[c].share * q[c] * income[c])
            .sum();
        Ok(Equilibrium {
            q: q.to_vec(),
            stable,
            provider_usd: o.origin_usd + payments,
            social_usd: self.social_cost(q)?,
            income_usd: income,
            benefit_usd: b,
        })
    }

    /// Participation with every deciding class set from `sub` (others share fully).
    fn full_q(&self, dec: &[usize], sub: &[f64]) -> Vec<f64> {
        let mut q = vec![1.0; self.classes()];
        for (i, &c) in dec.iter().enumerate() {
            q[c] = sub[i];
        }
        q
    }

    /// G(q) = F(…) − q on the deciding classes.
    fn excess(
        &self,
        offer: &Offer,
        dec: &[usize],
        sub: &[f64],
    ) -> Result<Vec<f64>, MechanismError> {
        let q = self.full_q(dec, sub);
        let t = self.target(offer, &q)?;
        Ok(dec
            .iter()
            .enumerate()
            .map(|(i, &c)| t[c] - sub[i])
            .collect())
    }

    /// Every equilibrium found, lowest participation first. With one deciding class the search
    /// is complete (a scan of G on [0, 1] and bisection of every sign change); with several it
    /// integrates the reduced dynamics and runs Newton from a lattice of starts.
    pub fn equilibria(&self, offer: &Offer) -> Result<Vec<Equilibrium>, MechanismError> {
        let dec = self.deciding();
        if dec.is_empty() {
            return Ok(vec![self.describe(
                offer,
                &vec![1.0; self.classes()],
                true,
            )?]);
        }
        let mut found: Vec<(Vec<f64>, bool)> = Vec::new();
        if dec.len() == 1 {
            let g =
                |q: f64| -> Result<f64, MechanismError> { Ok(self.excess(offer, &dec, &[q])?[0]) };
            let mut prev_q = 0.0;
            let mut prev_g = g(0.0)?;
            if prev_g <= EQ_TOL {
                found.push((vec![0.0], g(1e-6)? <= 0.0));
            }
            for i in 1..=SCAN_POINTS {
                let qi = i as f64 / SCAN_POINTS as f64;
                let gi = g(qi)?;
                if gi.abs() <= EQ_TOL && i < SCAN_POINTS {
                    // A grid point on the root itself (the sign test below would skip it).
                    found.push((vec![qi], g(qi + 1e-6)? <= 0.0));
                } else if prev_g > EQ_TOL && gi < -EQ_TOL {
                    // + to −: a stable crossing; bisection.
                    found.push((vec![bisect(&g, prev_q, qi)?], true));
                } else if prev_g < -EQ_TOL && gi > EQ_TOL {
                    found.push((vec![bisect(&g, prev_q, qi)?], false));
                }
                prev_q = qi;
                prev_g = gi;
            }
            if prev_g >= -EQ_TOL && found.last().is_none_or(|(q, _)| q[0] < 1.0 - 1e-9) {
                found.push((vec![1.0], g(1.0 - 1e-6)? >= 0.0));
            }
        } else {
            let n = dec.len();
            let levels: &[f64] = if n <= 4 { &[0.0, 0.5, 1.0] } else { &[0.5] };
            let mut starts: Vec<Vec<f64>> = vec![vec![]];
            for _ in 0..n {
                starts = starts
                    .into_iter()
                    .flat_map(|s| {
                        levels.iter().map(move |&l| {
                            let mut v = s.clone();
                            v.push(l);
                            v
                        })
                    })
                    .collect();
            }
            for start in starts {
                let end = self.reduced_flow(offer, &dec, &start)?;
                for cand in [Some(end), self.newton(offer, &dec, &start)?] {
                    let Some(q) = cand else { continue };
                    let gq = self.excess(offer, &dec, &q)?;
                    if gq.iter().any(|v| v.abs() > 1e-7) {
                        continue;
                    }
                    if found.iter().any(|(f, _)| dist(f, &q) < 1e-6) {
                        continue;
                    }
                    let stable = self.stable(offer, &dec, &q)?;
                    found.push((q, stable));
                }
            }
            found.sort_by(|a, b| a.0.iter().sum::<f64>().total_cmp(&b.0.iter().sum::<f64>()));
        }
        found
            .into_iter()
            .map(|(sub, stable)| self.describe(offer, &self.full_q(&dec, &sub), stable))
            .collect()
    }

    /// The equilibrium the best-response dynamics reach from nobody sharing: the lowest
    /// stable one (with one deciding class the dynamics rise monotonically to it).
    pub fn reached(&self, offer: &Offer) -> Result<Equilibrium, MechanismError> {
        let all = self.equilibria(offer)?;
        let dec = self.deciding();
        if dec.len() <= 1 {
            return all
                .into_iter()
                .find(|e| e.stable)
                .ok_or_else(|| MechanismError::Equilibrium("no stable equilibrium found".into()));
        }
        let end = self.reduced_flow(offer, &dec, &vec![0.0; dec.len()])?;
        let q = self.full_q(&dec, &end);
        let stable = self.stable(offer, &dec, &end)?;
        self.describe(offer, &q, stable)
    }

    /// Integrate the reduced dynamics dq/dt = F(q) − q (time in units of 1/k; RK4 with
    /// clamping to [0, 1]) until |dq/dt| < 1e-12 or 20 000 steps.
    fn reduced_flow(
        &self,
        offer: &Offer,
        dec: &[usize],
        start: &[f64],
    ) -> Result<Vec<f64>, MechanismError> {
        let mut q = start.to_vec();
        let h = 0.1;
        let clamp =
            |v: Vec<f64>| -> Vec<f64> { v.into_iter().map(|x| x.clamp(0.0, 1.0)).collect() };
        let axpy = |a: &[f64], s: f64, b: &[f64]| -> Vec<f64> {
            a.iter().zip(b).map(|(x, y)| x + s * y).collect()
        };
        for _ in 0..20_000 {
            let k1 = self.excess(offer, dec, &q)?;
            if k1.iter().enumerate().all(|(i, g)| {
                g.abs() < 1e-12 || (q[i] <= 0.0 && *g < 0.0) || (q[i] >= 1.0 && *g > 0.0)
            }) {
                break;
            }
            let k2 = self.excess(offer, dec, &clamp(axpy(&q, 0.5 * h, &k1)))?;
            let k3 = self.excess(offer, dec, &clamp(axpy(&q, 0.5 * h, &k2)))?;
            let k4 = self.excess(offer, dec, &clamp(axpy(&q, h, &k3)))?;
            q = clamp(
                (0..q.len())
                    .map(|i| q[i] + h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]))
                    .collect(),
            );
        }
        Ok(q)
    }

    fn jacobian(
        &self,
        offer: &Offer,
        dec: &[usize],
        q: &[f64],
    ) -> Result<DMatrix<f64>, MechanismError> {
        let n = q.len();
        let mut j = DMatrix::zeros(n, n);
        for col in 0..n {
            let h = 1e-6;
            let (mut up, mut dn) = (q.to_vec(), q.to_vec());
            up[col] = (q[col] + h).min(1.0);
            dn[col] = (q[col] - h).max(0.0);
            let gu = self.excess(offer, dec, &up)?;
            let gd = self.excess(offer, dec, &dn)?;
            for row in 0..n {
                j[(row, col)] = (gu[row] - gd[row]) / (up[col] - dn[col]);
            }
        }
        Ok(j)
    }

    /// Whether the best-response dynamics are locally stable at `q` (every eigenvalue of the
    /// Jacobian of G on the classes not pinned at a bound has a negative real part).
    fn stable(&self, offer: &Offer, dec: &[usize], q: &[f64]) -> Result<bool, MechanismError> {
        let g = self.excess(offer, dec, q)?;
        let free: Vec<usize> = (0..q.len())
            .filter(|&i| {
                !((q[i] <= 0.0 && g[i] <= 0.0) || (q[i] >= 1.0 && g[i] >= 0.0))
                    || g[i].abs() < EQ_TOL
            })
            .collect();
        let j = self.jacobian(offer, dec, q)?;
        let sub = DMatrix::from_fn(free.len(), free.len(), |r, c| j[(free[r], free[c])]);
        Ok(sub.complex_eigenvalues().iter().all(|e| e.re < 0.0))
    }

    /// Newton on G from `start`, staying in [0, 1]; `None` if it does not converge.
    fn newton(
        &self,
        offer: &Offer,
        dec: &[usize],
        start: &[f64],
    ) -> Result<Option<Vec<f64>>, MechanismError> {
        let mut q = start.to_vec();
        for _ in 0..50 {
            let g = self.excess(offer, dec, &q)?;
            if g.iter().all(|v| v.abs() < 1e-12) {
                return Ok(Some(q));
            }
            let j = self.jacobian(offer, dec, &q)?;
            let Some(step) = j.lu().solve(&nalgebra::DVector::from_vec(g)) else {
                return Ok(None);
            };
            for (qi, si) in q.iter_mut().zip(step.iter()) {
                *qi = (*qi - si).clamp(0.0, 1.0);
            }
        }
        Ok(None)
    }

    /// The Dopri5 steps the coupled check would need over `horizon`: its stability bounds a
    /// step to about 3.3 over the fastest rate (here a bound: the largest sum of one class's
    /// rates, c + θ + γ + μ(1 + η), and k).
    pub fn coupled_steps(&self, horizon: Seconds) -> f64 {
        let fastest = self
            .base
            .classes
            .iter()
            .map(|c| c.c + c.theta + c.gamma.unwrap_or(0.0) + c.mu * (1.0 + self.base.eta))
            .fold(self.k, f64::max);
        horizon * fastest / 3.3
    }

    /// Integrate the coupled system (sharers' and non-sharers' swarm populations, sharers'
    /// seeds and participation) from the steady state at `q0` with Dopri5, for
    /// `horizon` seconds; returns the participation at the end.
    pub fn integrate_coupled(
        &self,
        offer: &Offer,
        q0: &[f64],
        horizon: Seconds,
    ) -> Result<Vec<f64>, MechanismError> {
        let model = Coupled::new(self, *offer, q0)?;
        let mut set = SolverSettings::new(horizon);
        set.method = Method::Dopri5;
        set.points = 50;
        set.rtol = Some(1e-8);
        set.atol = Some(1e-10);
        let traj = solve::integrate(&model, &set)
            .map_err(|e| MechanismError::Equilibrium(format!("participation dynamics: {e}")))?;
        let end = traj.last();
        Ok((0..self.classes()).map(|c| end[model.ix_q(c)]).collect())
    }

    /// A horizon long enough for the coupled dynamics to settle: 40 × the slower of 1/k and
    /// the swarm's slowest time constant.
    pub fn settle_horizon(&self) -> Seconds {
        let swarm = self
            .steady(&vec![1.0; self.classes()])
            .map(|ss| 1.0 / self.base.slowest_rate(&ss).0)
            .unwrap_or(0.0);
        40.0 * (1.0 / self.k).max(if swarm.is_finite() { swarm } else { 0.0 })
    }

    /// The provider's best per-byte price (Stackelberg: it anticipates the equilibrium the
    /// dynamics reach from nobody sharing), the social optimum and the gap. Grid of `grid`
    /// prices on [0, 1.5 × the origin's cost per GB with nobody sharing], then golden-section
    /// refinement around the best grid point.
    pub fn best_payment(&self, grid: usize) -> Result<BestPayment, MechanismError> {
        let none = vec![0.0; self.classes()];
        let base = self.outcome(&none)?;
        let p_hi = 1.5 * base.origin_usd / self.file_gb();
        let cost = |p: f64| -> Result<(f64, Equilibrium), MechanismError> {
            let e = self.reached(&Offer::PerByte { price: p })?;
            Ok((e.provider_usd, e))
        };
        let grid = grid.max(3);
        let mut best = (0.0, cost(0.0)?);
        for i in 1..=grid {
            let p = p_hi * i as f64 / grid as f64;
            let c = cost(p)?;
            if c.0 < best.1 .0 {
                best = (p, c);
            }
        }
        // Golden section on the bracket around the best grid point.
        let step = p_hi / grid as f64;
        let (a, b) = ((best.0 - step).max(0.0), (best.0 + step).min(p_hi));
        // Golden section maximises: minimise the cost by maximising its negative.
        let (x, neg, eq) = crate::solve::golden_section(a, b, 40, 1e-12 * p_hi.max(1e-300), |p| {
            cost(p).map(|(c, e)| (-c, e))
        })?;
        if -neg < best.1 .0 {
            best = (x, (-neg, eq));
        }
        let (social_q, social_optimum_usd) = self.social_optimum(&[best.1 .1.q.clone()])?;
        let eq = best.1 .1;
        Ok(BestPayment {
            price_usd_per_gb: best.0,
            gap_usd: eq.social_usd - social_optimum_usd,
            equilibrium: eq,
            no_sharing_usd: base.origin_usd,
            social_q,
            social_optimum_usd,
            grid_points: grid + 1,
        })
    }

    /// Participation that minimises social cost per download. The search starts from the
    /// best of `starts` and a lattice over the deciding classes (21 points per class for up to
    /// two classes, 11 for three, the diagonal beyond), then sweeps the classes one at a time
    /// (a grid of 101 points and golden-section refinement each) until it settles. Social cost
    /// is not convex in q (regime switches, tiers), so the lattice guards against a local
    /// minimum; passing the equilibrium as a start makes the reported gap ≥ 0 by construction.
    pub fn social_optimum(&self, starts: &[Vec<f64>]) -> Result<(Vec<f64>, f64), MechanismError> {
        let dec = self.deciding();
        let mut q = vec![1.0; self.classes()];
        let mut best = self.social_cost(&q)?;
        let per: usize = match dec.len() {
            0 => 0,
            1 | 2 => 21,
            3 => 11,
            _ => 0,
        };
        let mut lattice: Vec<Vec<f64>> = starts.to_vec();
        if per > 0 {
            let total = per.pow(dec.len() as u32);
            for idx in 0..total {
                let mut z = vec![1.0; self.classes()];
                let mut rest = idx;
                for &c in &dec {
                    z[c] = (rest % per) as f64 / (per - 1) as f64;
                    rest /= per;
                }
                lattice.push(z);
            }
        } else if !dec.is_empty() {
            for i in 0..=20 {
                let mut z = vec![1.0; self.classes()];
                for &c in &dec {
                    z[c] = i as f64 / 20.0;
                }
                lattice.push(z);
            }
        }
        for z in lattice {
            let v = self.social_cost(&z)?;
            if v < best {
                best = v;
                q = z;
            }
        }
        for _sweep in 0..if dec.len() > 1 { 6 } else { 1 } {
            let before = best;
            for &c in &dec {
                let f = |v: f64| -> Result<f64, MechanismError> {
                    let mut z = q.clone();
                    z[c] = v;
                    self.social_cost(&z)
                };
                let (v, fv) = minimise_1d(&f, 100)?;
                if fv <= best {
                    best = fv;
                    q[c] = v;
                }
            }
            if (before - best).abs() <= 1e-15 * before.abs() {
                break;
            }
        }
        Ok((q, best))
    }
}

fn dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Bisection of a sign change of `g` on [a, b] to 1e-13.
pub(crate) fn bisect(
    g: &dyn Fn(f64) -> Result<f64, MechanismError>,
    mut a: f64,
    mut b: f64,
) -> Result<f64, MechanismError> {
    let ga_pos = g(a)? > 0.0;
    while b - a > 1e-13 {
        let m = 0.5 * (a + b);
        if (g(m)? > 0.0) == ga_pos {
            a = m;
        } else {
            b = m;
        }
    }
    Ok(0.5 * (a + b))
}

/// Minimum of `f` on [0, 1]: a grid of n + 1 points, then golden section around the best.
pub(crate) fn minimise_1d(
    f: &dyn Fn(f64) -> Result<f64, MechanismError>,
    n: usize,
) -> Result<(f64, f64), MechanismError> {
    let mut best = (0.0, f(0.0)?);
    for i in 1..=n {
        let x = i as f64 / n as f64;
        let v = f(x)?;
        if v < best.1 {
            best = (x, v);
        }
    }
    let h = 1.0 / n as f64;
    let (mut a, mut b) = ((best.0 - h).max(0.0), (best.0 + h).min(1.0));
    let r = 0.5 * (5f64.sqrt() - 1.0);
    for _ in 0..60 {
        let (x1, x2) = (b - r * (b - a), a + r * (b - a));
        let (f1, f2) = (f(x1)?, f(x2)?);
        if f1 <= f2 {
            b = x2;
            if f1 < best.1 {
                best = (x1, f1);
            }
        } else {
            a = x1;
            if f2 < best.1 {
                best = (x2, f2);
            }
        }
    }
    Ok(best)
}

/// The scenario as a cooperative game ([`super::CostPerUser`]): x_c = GB of upload capacity
/// per download offered by class c's sharers (x̄_c = share_c × capacity_c at full
/// participation); Ω(x) = the origin's cost per download when class c shares at
/// q_c = x_c / x̄_c.
pub struct ScenarioGame<'m, 'a> {
    /// The market whose steady states price the coalitions.
    pub market: &'m Market<'a>,
}

impl<'m, 'a> ScenarioGame<'m, 'a> {
    /// The game of `market`, once its cost with nobody sharing, Ω(0), is known to exist:
    /// without sharers the swarm must still reach a steady state (the origin serves it, or
    /// aborts bound it). Otherwise every value of the game would be NaN.
    pub fn new(market: &'m Market<'a>) -> Result<Self, MechanismError> {
        let nobody = vec![0.0; market.classes()];
        match market.outcome(&nobody) {
            Ok(o) if o.origin_usd.is_finite() => Ok(Self { market }),
            failed => {
                let s = market.s;
                let why = if s.server.capacity <= 0.0 {
                    "nothing serves the file: `server.capacity` is 0 (peers alone); give the origin a capacity to price the game".to_string()
                } else {
                    match failed {
                        Err(e) => format!("the swarm has no steady state ({e})"),
                        Ok(o) => format!("the origin's cost is {}", o.origin_usd),
                    }
                };
                Err(MechanismError::NoSharingUndefined {
                    scenario: s.name.clone(),
                    why,
                })
            }
        }
    }
}

impl ScenarioGame<'_, '_> {
    /// x̄: resource per download of each class at full participation, GB.
    pub fn xbar(&self) -> Vec<f64> {
        let m = self.market;
        (0..m.classes())
            .map(|c| m.base.classes[c].share * m.capacity_gb[c])
            .collect()
    }
}

impl super::CostPerUser for ScenarioGame<'_, '_> {
    fn classes(&self) -> usize {
        self.market.classes()
    }
    fn omega(&self, x: &[f64]) -> f64 {
        let m = self.market;
        let q: Vec<f64> = (0..m.classes())
            .map(|c| {
                let full = m.base.classes[c].share * m.capacity_gb[c];
                if full > 0.0 {
                    (x[c] / full).clamp(0.0, 1.0)
                } else {
                    0.0
                }
            })
            .collect();
        // Fewer sharers than everyone always has a steady state when everyone has one
        // (leechers only abort or complete); a NaN is turned into an error by fluid_shapley.
        m.outcome(&q).map_or(f64::NAN, |o| o.origin_usd)
    }
    fn quadrature_tol(&self) -> f64 {
        SCENARIO_QUADRATURE_TOL
    }
    /// Where t ↦ Ω(t·x̄) bends: the steady state switches regime (download- vs upload-limited),
    /// the origin stops sending, or (CDN origin) the monthly origin volume crosses a price-tier
    /// bound. A 64-point scan in t and bisection to 1e-12, so that the quadrature of
    /// `fluid_shapley` meets smooth pieces only.
    fn kinks(&self, xbar: &[f64]) -> Vec<f64> {
        use crate::scenario::Origin;
        let m = self.market;
        let full = self.xbar();
        let bounds: Vec<f64> = match m.s.pricing.origin {
            Origin::Cdn => {
                m.s.pricing
                    .cdn
                    .tiers()
                    .iter()
                    .filter_map(|t| t.up_to_gb)
                    .collect()
            }
            Origin::Transit => Vec::new(),
        };
        // (regime, origin sends, tier index) at t.
        let state = |t: f64| -> Option<(bool, bool, usize)> {
            let q: Vec<f64> = (0..m.classes())
                .map(|c| {
                    if full[c] > 0.0 {
                        (t * xbar[c] / full[c]).clamp(0.0, 1.0)
                    } else {
                        0.0
                    }
                })
                .collect();
            m.steady(&q).ok().map(|ss| {
                let gb = ss.server * m.s.content.size * m.s.pricing.billing_month / GB;
                let tier = bounds.iter().filter(|b| gb > **b).count();
                (ss.level.is_infinite(), ss.server > 0.0, tier)
            })
        };
        let n = 64;
        let mut out = Vec::new();
        let mut prev = (0.0, state(0.0));
        for i in 1..=n {
            let t = i as f64 / n as f64;
            let cur = state(t);
            // Bisect every change inside the step: after one is found, look again from just
            // past it until the state matches the step's end.
            let (mut a, mut sa) = prev;
            while sa != cur && t - a > 1e-12 {
                let mut b = t;
                while b - a > 1e-12 {
                    let mid = 0.5 * (a + b);
                    if state(mid) == sa {
                        a = mid;
                    } else {
                        b = mid;
                    }
                }
                out.push(0.5 * (a + b));
                a = b;
                sa = state(a);
            }
            prev = (t, cur);
        }
        out
    }
    /// Differences with a step of `GRADIENT_STEP` (1e-7) × the class's full resource (one-sided at
    /// 0): Ω is evaluated through a steady state, so a step relative to x itself would vanish
    /// at x = 0 and drown in rounding.
    fn gradient(&self, x: &[f64], g: &mut [f64]) {
        let full = self.xbar();
        let mut z = x.to_vec();
        for c in 0..x.len() {
            let h = GRADIENT_STEP * full[c].max(f64::MIN_POSITIVE);
            let lo = (x[c] - h).max(0.0);
            let hi = x[c] + h;
            z[c] = hi;
            let up = self.omega(&z);
            z[c] = lo;
            let down = self.omega(&z);
            g[c] = (up - down) / (hi - lo);
            z[c] = x[c];
        }
    }
}

/// The coupled best-response + swarm system: state [x (sharers, K), x (non-sharers, K),
/// y (sharers' seeds, K), q (K)].
struct Coupled<'m, 'a> {
    market: &'m Market<'a>,
    offer: Offer,
    split: Swarm,
    z0: State,
    /// Shapley offer with one deciding class: its price π(q) per class on a uniform grid of
    /// [`SHAPLEY_TABLE_POINTS`] participations of that class (each π costs a quadrature of
    /// steady states, too slow to redo at every right-hand-side call).
    shapley_table: Option<(usize, Vec<Vec<f64>>)>,
}

/// Grid of the Shapley-price table of the coupled dynamics (linear interpolation between).
const SHAPLEY_TABLE_POINTS: usize = 257;

impl<'m, 'a> Coupled<'m, 'a> {
    fn new(market: &'m Market<'a>, offer: Offer, q0: &[f64]) -> Result<Self, MechanismError> {
        let k = market.classes();
        // 2K classes: sharers 0..K (as in the base), non-sharers K..2K (upload 0, no seeding).
        let mut classes = market.base.classes.clone();
        for cl in &market.base.classes {
            let mut out = cl.clone();
            out.mu = 0.0;
            out.gamma = None;
            classes.push(out);
        }
        let split = Swarm::new(
            classes,
            market.base.eta,
            market.base.server,
            market.base.arrival.clone(),
            market.base.file_bits,
        );
        let ss = market.steady(q0)?;
        let mut z0 = State::zeros(4 * k);
        for c in 0..k {
            let q = q0[c].clamp(0.0, 1.0);
            z0[c] = q * ss.leechers[c];
            z0[k + c] = (1.0 - q) * ss.leechers[c];
            z0[2 * k + c] = q * ss.seeds[c];
            z0[3 * k + c] = q;
        }
        let shapley_table =
            match (offer, market.deciding().as_slice()) {
                (Offer::Shapley, [c]) => {
                    let mut rows = Vec::with_capacity(SHAPLEY_TABLE_POINTS);
                    for i in 0..SHAPLEY_TABLE_POINTS {
                        let mut q = vec![1.0; k];
                        q[*c] = i as f64 / (SHAPLEY_TABLE_POINTS - 1) as f64;
                        rows.push(market.shapley_prices(&q)?);
                    }
                    Some((*c, rows))
                }
                (Offer::Shapley, _) => return Err(MechanismError::Equilibrium(
                    "the coupled dynamics of the Shapley offer are integrated for one deciding \
                     class only (the price table would grow with the power of the classes)"
                        .into(),
                )),
                _ => None,
            };
        Ok(Self {
            market,
            offer,
            split,
            z0,
            shapley_table,
        })
    }

    /// Income of a sharer per download at `o`: the offer's, with the Shapley price read from
    /// the table when there is one.
    fn income(&self, o: &Outcome) -> Result<Vec<f64>, MechanismError> {
        let Some((c, rows)) = &self.shapley_table else {
            return self.market.income(&self.offer, o);
        };
        let pos = o.q[*c].clamp(0.0, 1.0) * (rows.len() - 1) as f64;
        let i = (pos.floor() as usize).min(rows.len() - 2);
        let w = pos - i as f64;
        Ok(rows[i]
            .iter()
            .zip(&rows[i + 1])
            .zip(&self.market.capacity_gb)
            .map(|((a, b), cap)| ((1.0 - w) * a + w * b) * cap)
            .collect())
    }

    fn ix_q(&self, c: usize) -> usize {
        3 * self.market.classes() + c
    }
}

impl FluidModel for Coupled<'_, '_> {
    fn name(&self) -> &'static str {
        "participation"
    }
    fn dim(&self) -> usize {
        4 * self.market.classes()
    }
    fn state_names(&self) -> Vec<String> {
        let names: Vec<&str> = self
            .market
            .base
            .classes
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        let mut out = Vec::new();
        for pre in ["x_in", "x_out", "y", "q"] {
            out.extend(names.iter().map(|n| format!("{pre}_{n}")));
        }
        out
    }
    fn initial_state(&self) -> State {
        self.z0.clone()
    }
    fn rhs(&self, _t: Seconds, z: &State, dz: &mut State) {
        let m = self.market;
        let k = m.classes();
        let x: Vec<f64> = (0..2 * k).map(|i| z[i].max(0.0)).collect();
        let mut y = vec![0.0; 2 * k];
        for c in 0..k {
            y[c] = z[2 * k + c].max(0.0);
        }
        let f = self.split.flows(&x, &y);
        let supply: f64 = (0..k)
            .map(|c| m.base.classes[c].mu * (m.base.eta * x[c] + y[c]))
            .sum();
        let used = if supply > 0.0 { f.peer / supply } else { 1.0 };
        let mut outcome = Outcome {
            q: (0..k).map(|c| z[3 * k + c].clamp(0.0, 1.0)).collect(),
            upload_gb: vec![0.0; k],
            seed_hours: vec![0.0; k],
            download_time_s: 0.0,
            peer_fraction: 0.0,
            origin_usd: 0.0,
        };
        for (c, cl) in m.base.classes.iter().enumerate() {
            let lam = m.rate * cl.share;
            let q = outcome.q[c];
            // Per-leecher download rate now (the class's own, whichever part is present).
            let r = if x[c] > 1e-12 {
                f.download[c] / x[c]
            } else if x[k + c] > 1e-12 {
                f.download[k + c] / x[k + c]
            } else {
                cl.c
            };
            let leave = cl.theta + r;
            let finish = if leave > 0.0 { r / leave } else { 0.0 };
            let seed_s = cl.gamma.map_or(0.0, |g| finish / g);
            let leech_s = if leave > 0.0 { 1.0 / leave } else { 0.0 };
            // What a peer joining now would upload and seed (myopic expectation).
            outcome.upload_gb[c] = used * cl.mu * (m.base.eta * leech_s + seed_s) * m.file_gb();
            outcome.seed_hours[c] = seed_s / 3600.0;
            dz[c] = q * lam - cl.theta * x[c] - f.download[c];
            dz[k + c] = (1.0 - q) * lam - cl.theta * x[k + c] - f.download[k + c];
            dz[2 * k + c] = match cl.gamma {
                Some(g) => f.download[c] - g * y[c],
                None => 0.0,
            };
        }
        let target = self
            .income(&outcome)
            .map(|inc| {
                let (b, e) = m.benefit(&inc, &outcome);
                (0..k)
                    .map(|c| m.s.classes[c].cost.cdf(b[c], e[c]))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_else(|_| outcome.q.clone());
        for c in 0..k {
            dz[3 * k + c] = if m.s.classes[c].cost.decides() {
                m.k * (target[c] - outcome.q[c])
            } else {
                0.0
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    /// A download-limited single-class swarm on a CDN with ample capacity; `extra` is appended.
    fn scenario(extra: &str) -> Scenario {
        let text = format!(
            r#"
name = "t"
[content]
size = "1 GB"
[demand]
arrival_rate = "0.5/s"
[swarm]
efficiency = 0.9
abort_rate = "0.5/h"
seed_residence = "20 min"
[peers]
upload = "20 Mbps"
download = "100 Mbps"
[server]
capacity = "100 Gbps"
[pricing]
origin = "cdn"
{extra}
"#
        );
        Scenario::from_toml(&text, "test", None).expect("valid scenario")
    }

    const UNIFORM: &str = "[peers.cost]\npower = \"0 W\"\ndistribution = \"uniform\"\nmin = \"$0\"\nmax = \"$0.05\"\n";

    #[test]
    fn discount_participation_is_the_cdf_of_the_discount() {
        // With no energy and no upload value, a sharer's benefit is the discount itself, so
        // q* = F(amount) = 0.02 / 0.05 = 0.4 exactly (uniform on [0, 0.05]).
        let s = scenario(&format!(
            "{UNIFORM}[incentive]\nmechanism = \"discount\"\ndiscount = \"$0.02\"\n"
        ));
        let m = Market::new(&s).unwrap();
        let eqs = m.equilibria(&Offer::Discount { amount: 0.02 }).unwrap();
        assert_eq!(eqs.len(), 1);
        assert!(eqs[0].stable);
        assert_relative_eq!(eqs[0].q[0], 0.4, max_relative = 1e-9);
    }

    #[test]
    fn per_byte_participation_matches_the_download_limited_closed_form() {
        // Derived (models/incentives.md): while the sharers' upload covers all demand and the
        // server sends nothing, every byte is uploaded by the sharers. A download-limited
        // leecher receives c files/s for 1/(θ + c) s, so a download delivers G c/(θ + c) GB
        // (G = content size; aborting leechers leave with part of it) and a sharer uploads
        // G c/(θ + c) / q per download. With price p and costs uniform on [0, M]:
        // q = p G c / ((θ + c) q M), i.e. q* = sqrt(p G c / ((θ + c) M)).
        let s = scenario(UNIFORM);
        let m = Market::new(&s).unwrap();
        let g = 1e9 / GB;
        // q* ≈ 0.47, above the ≈ 0.31 at which the sharers' upload just covers demand.
        let p = 0.012;
        let e = m.reached(&Offer::PerByte { price: p }).unwrap();
        let (c, theta) = (100e6 / 8e9, 0.5 / 3600.0);
        let expect = (p * g * c / ((theta + c) * 0.05)).sqrt();
        let o = m.outcome(&e.q).unwrap();
        assert!(
            o.peer_fraction > 1.0 - 1e-12,
            "peers serve everything: {}",
            o.peer_fraction
        );
        assert_relative_eq!(e.q[0], expect, max_relative = 1e-9);
    }

    #[test]
    fn no_sharer_or_outsider_gains_by_switching() {
        let s = scenario(&format!(
            "{}distribution = \"lognormal\"\nmedian = \"$0.02\"\nsigma = 1.0\n",
            "[peers.cost]\npower = \"10 W\"\n"
        ));
        let m = Market::new(&s).unwrap();
        let offer = Offer::PerByte { price: 0.003 };
        let e = m.reached(&offer).unwrap();
        let q = e.q[0];
        assert!(q > 0.0 && q < 1.0, "interior equilibrium: {q}");
        let cost = s.classes[0].cost;
        for eps in [1e-3, 1e-4] {
            // The next peer to join (cost at quantile q + ε) would earn less than its cost...
            let up = m.describe(&offer, &[q + eps], true).unwrap();
            let o = m.outcome(&[q + eps]).unwrap();
            let energy = m.energy_usd(o.seed_hours[0]);
            let c_next = cost.quantile(q + eps, energy).unwrap();
            assert!(
                up.benefit_usd[0] < c_next,
                "joining pays: {} ≥ {c_next}",
                up.benefit_usd[0]
            );
            // ... and the last sharer (quantile q − ε) earns more than its cost.
            let dn = m.describe(&offer, &[q - eps], true).unwrap();
            let c_last = cost.quantile(q - eps, energy).unwrap();
            assert!(
                dn.benefit_usd[0] > c_last,
                "leaving pays: {} ≤ {c_last}",
                dn.benefit_usd[0]
            );
        }
    }

    #[test]
    fn coupled_dynamics_reach_the_root() {
        let s = scenario(UNIFORM);
        let m = Market::new(&s).unwrap();
        let offer = Offer::PerByte { price: 0.004 };
        let root = m.reached(&offer).unwrap();
        for q0 in [0.0, 1.0] {
            let end = m
                .integrate_coupled(&offer, &[q0], m.settle_horizon())
                .unwrap();
            assert!(
                (end[0] - root.q[0]).abs() < 1e-6,
                "from {q0}: {} vs {}",
                end[0],
                root.q[0]
            );
        }
    }

    #[test]
    fn best_payment_beats_a_brute_force_grid() {
        let s = scenario(UNIFORM);
        let m = Market::new(&s).unwrap();
        let best = m.best_payment(40).unwrap();
        let none = m.outcome(&[0.0]).unwrap().origin_usd;
        let p_hi = 1.5 * none / (1e9 / GB);
        let n = 2000;
        let (mut arg, mut min) = (0.0, f64::INFINITY);
        for i in 0..=n {
            let p = p_hi * i as f64 / n as f64;
            let c = m
                .reached(&Offer::PerByte { price: p })
                .unwrap()
                .provider_usd;
            if c < min {
                min = c;
                arg = p;
            }
        }
        assert!(
            best.equilibrium.provider_usd <= min * (1.0 + 1e-9),
            "{} > grid {min}",
            best.equilibrium.provider_usd
        );
        assert!(
            (best.price_usd_per_gb - arg).abs() <= 2.0 * p_hi / n as f64,
            "price {} vs grid {arg}",
            best.price_usd_per_gb
        );
        assert!(best.gap_usd >= -1e-12 * best.social_optimum_usd.abs());
        assert!(
            best.equilibrium.provider_usd < none,
            "paying peers must beat nobody sharing"
        );
    }

    #[test]
    fn everyone_shares_when_nobody_decides() {
        let s = scenario("[incentive]\nmechanism = \"per-byte\"\nprice = \"0.01 $/GB\"\n");
        let m = Market::new(&s).unwrap();
        let eqs = m.equilibria(&Offer::PerByte { price: 0.01 }).unwrap();
        assert_eq!(eqs.len(), 1);
        assert_relative_eq!(eqs[0].q[0], 1.0);
    }

    #[test]
    fn two_deciding_classes_find_a_stable_equilibrium_the_dynamics_confirm() {
        let s = Scenario::from_toml(
            r#"
name = "t2"
[content]
size = "1 GB"
[demand]
arrival_rate = "0.5/s"
[swarm]
abort_rate = "0.5/h"
seed_residence = "20 min"
[peers.cost]
power = "0 W"
distribution = "uniform"
min = "$0"
max = "$0.05"
[[peers.class]]
name = "fibre"
share = 0.3
upload = "50 Mbps"
download = "200 Mbps"
[[peers.class]]
name = "dsl"
share = 0.7
upload = "2 Mbps"
download = "20 Mbps"
[peers.class.cost]
distribution = "uniform"
min = "$0"
max = "$0.02"
[server]
capacity = "100 Gbps"
[pricing]
origin = "cdn"
"#,
            "test",
            None,
        )
        .unwrap();
        let m = Market::new(&s).unwrap();
        let offer = Offer::PerByte { price: 0.004 };
        let eqs = m.equilibria(&offer).unwrap();
        assert!(eqs.iter().any(|e| e.stable));
        for e in &eqs {
            let t = m.target(&offer, &e.q).unwrap();
            for (tc, qc) in t.iter().zip(&e.q) {
                assert!((tc - qc).abs() < 1e-7, "F(q) = q at {:?}", e.q);
            }
        }
        let reached = m.reached(&offer).unwrap();
        let end = m
            .integrate_coupled(&offer, &[0.0, 0.0], m.settle_horizon())
            .unwrap();
        for c in 0..2 {
            assert!(
                (end[c] - reached.q[c]).abs() < 1e-5,
                "{end:?} vs {:?}",
                reached.q
            );
        }
    }

    #[test]
    fn scenario_shapley_matches_an_integration_by_parts_without_gradients() {
        // Independent check of fluid_shapley on the scenario's game (CDN tiers, regime switch):
        // with ω(t) = Ω(t x̄), φ_P/N = ω(0) − ∫ω and the peers' share π x̄ = ∫ω − ω(1)
        // (integration by parts of −∫ t ω'(t) dt). ∫ω by the trapezoid rule on 200 000
        // panels (ω is piecewise linear here, so the error is far below 1e-6).
        let s = scenario(UNIFORM);
        let m = Market::new(&s).unwrap();
        let game = ScenarioGame { market: &m };
        for scale in [1.0, 0.6, 0.3] {
            let xbar: Vec<f64> = game.xbar().iter().map(|x| x * scale).collect();
            let sh = crate::incentive::shapley::fluid_shapley(&game, &xbar).unwrap();
            let omega = |t: f64| {
                use crate::incentive::CostPerUser;
                game.omega(&[t * xbar[0]])
            };
            let n = 200_000;
            let mut integral = 0.5 * (omega(0.0) + omega(1.0));
            for i in 1..n {
                integral += omega(i as f64 / n as f64);
            }
            integral /= n as f64;
            let scale_usd = omega(0.0);
            assert!(
                (sh.provider_per_user - (omega(0.0) - integral)).abs() < 1e-6 * scale_usd,
                "{scale}"
            );
            assert!(
                (sh.peers_per_user - (integral - omega(1.0))).abs() < 1e-6 * scale_usd,
                "{scale}"
            );
        }
    }

    #[test]
    fn shapley_offer_dynamics_start_and_end_where_the_root_is() {
        // The Shapley price at q → 0 is −∂Ω(0)/2 > 0, so nobody sharing is not an equilibrium;
        // the coupled dynamics (price read from a 257-point table) end within 1e-5 of the root.
        let s = scenario(UNIFORM);
        let m = Market::new(&s).unwrap();
        let g0 = m.target(&Offer::Shapley, &[0.0]).unwrap()[0];
        assert!(g0 > 0.0, "F(income at q = 0) = {g0}");
        let root = m.reached(&Offer::Shapley).unwrap();
        assert!(root.q[0] > 0.0);
        let end = m
            .integrate_coupled(&Offer::Shapley, &[0.0], m.settle_horizon())
            .unwrap();
        assert!(
            (end[0] - root.q[0]).abs() < 1e-5,
            "{} vs {}",
            end[0],
            root.q[0]
        );
    }

    #[test]
    fn social_optimum_beats_a_participation_grid() {
        let s = scenario(&format!(
            "{}distribution = \"lognormal\"\nmedian = \"$0.02\"\nsigma = 1.0\n",
            "[peers.cost]\npower = \"10 W\"\n"
        ));
        let m = Market::new(&s).unwrap();
        let (q, best) = m.social_optimum(&[]).unwrap();
        let mut grid_min = f64::INFINITY;
        for i in 0..=2000 {
            grid_min = grid_min.min(m.social_cost(&[i as f64 / 2000.0]).unwrap());
        }
        assert!(
            best <= grid_min * (1.0 + 1e-12),
            "{best} > grid {grid_min} (q {q:?})"
        );
        assert_relative_eq!(m.social_cost(&q).unwrap(), best, max_relative = 1e-12);
    }

    /// Issue 18, item 4: a live stream has no participation market; it is refused by kind,
    /// not turned into a NaN further down.
    #[test]
    fn a_live_stream_is_refused_as_a_market() {
        let text = "name = \"tv\"\n[content]\nkind = \"live\"\nbitrate = \"3 Mbps\"\nwatch_time = \"90 min\"\n[demand]\narrival_rate = \"1/s\"\n[peers]\nupload = \"1 Mbps\"\ndownload = \"8 Mbps\"\n";
        let s = Scenario::from_toml(text, "tv.toml", None).expect("valid scenario");
        let e = Market::new(&s).err().expect("refused");
        assert_eq!(
            e.to_string(),
            "scenario 'tv' is a live stream: the participation market and its Shapley game are modelled for file swarms only (content.kind = \"file\")"
        );
    }

    /// Issue 18, item 4: with no origin and no aborts, a swarm with nobody sharing never
    /// settles, so Ω(0) does not exist: the game is refused with the reason instead of
    /// "Ω(0) − Ω(x̄) = NaN".
    #[test]
    fn a_game_without_an_origin_is_refused_with_the_reason() {
        // The two classes of scenarios/p4p-fibre-dsl.toml, without its ISPs.
        let text = "name = \"alone\"\n[content]\nsize = \"21 MB\"\n[demand]\narrival_rate = \"0.2/s\"\n[swarm]\nefficiency = 1.0\n[[peers.class]]\nname = \"fibre\"\nshare = 0.5\nupload = \"698.62 Mbps\"\ndownload = \"698.62 Mbps\"\n[[peers.class]]\nname = \"dsl\"\nshare = 0.5\nupload = \"1.5 Mbps\"\ndownload = \"30.49 Mbps\"\n";
        let s = Scenario::from_toml(text, "alone.toml", None).expect("valid scenario");
        let m = Market::new(&s).expect("everyone sharing settles");
        let e = ScenarioGame::new(&m).err().expect("refused");
        assert_eq!(
            e.to_string(),
            "scenario 'alone': the Shapley game needs the origin's cost when no peer shares, and with no peer sharing nothing serves the file: `server.capacity` is 0 (peers alone); give the origin a capacity to price the game"
        );
        assert!(!e.to_string().contains("NaN"));
        // With an origin the same swarm is a game.
        let served = Scenario::from_toml(
            &format!("{text}[server]\ncapacity = \"100 Mbps\"\n"),
            "served.toml",
            None,
        )
        .expect("valid scenario");
        let m = Market::new(&served).expect("market");
        assert!(ScenarioGame::new(&m).is_ok());
    }
}
