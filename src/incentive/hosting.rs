//! Femtocell hosts as players: the operator's savings as a cooperative game (fluid Shapley
//! split), and hosts who decide whether to host (participation equilibrium, the operator's best
//! price). The same machinery as the file swarm's: [`CostPerUser`] and
//! [`fluid_shapley`] for the split, [`CostDistribution`] for
//! the hosts' private costs, best-response dynamics dq/dt = k (F(b(q)) − q) integrated through
//! `solve` and checked by bisection. Card: `models/wireless.md`.
//!
//! Money is per month (`pricing.billing_month`). A share `wireless.hosts` of the users may
//! host; a share q of them does (h = hosts × q of all users).

use serde::Serialize;

use super::distribution::CostDistribution;
use super::equilibrium::{bisect, minimise_1d, Offer, EQ_TOL};
use super::shapley::{fluid_shapley, FluidShapley};
use super::CostPerUser;
use crate::cost::energy::energy_cost;
use crate::cost::tiers::GB;
use crate::error::MechanismError;
use crate::model::wireless::{OffloadDay, Profile, DAY};
use crate::model::{FluidModel, State};
use crate::scenario::{Mechanism, Scenario, Wireless};
use crate::solve::{self, Method, SolverSettings};
use crate::units::Seconds;

/// Points of the scan of G(q) = F(b(q)) − q on [0, 1] (then bisection of sign changes).
const SCAN_POINTS: usize = 64;
/// The hosts' share standing for "the first host" (h → 0) in per-host figures.
const FIRST_HOST: f64 = 1e-12;
/// Smallest step of Ω's difference quotient (Ω is smooth in h; a relative step alone would
/// vanish near h = 0 and amplify the quadrature's rounding).
const GRADIENT_FLOOR: f64 = 1e-7;
/// Days in a year, for the towers' yearly cost.
const YEAR_DAYS: f64 = 365.0;

/// The wireless scenario as a market between the operator and (would-be) hosts.
pub struct HostMarket<'a> {
    s: &'a Scenario,
    w: &'a Wireless,
    profile: Profile,
}

/// One equilibrium of the hosts' participation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostEquilibrium {
    /// Share of the would-be hosts who host.
    pub q: f64,
    /// Hosts as a share of all users (h = wireless.hosts × q).
    pub hosts: f64,
    /// Whether small deviations die out.
    pub stable: bool,
    /// A host's income per month, $.
    pub income_usd: f64,
    /// A host's net benefit per month before its private cost (income − backhaul value −
    /// device, when hosts buy it), $.
    pub benefit_usd: f64,
    /// The operator's cost per month (towers + devices + payments), $.
    pub operator_usd: f64,
}

/// The participation the best-response dynamics reach, found both ways.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reached {
    /// The equilibrium (by scan and bisection).
    pub equilibrium: HostEquilibrium,
    /// q at the end of integrating dq/dt = k (F − q) from q = 0 for 40 response times.
    pub q_dynamics: f64,
    /// |q_dynamics − q|.
    pub gap: f64,
}

/// The operator's best per-GB price once hosts respond.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BestHostPrice {
    /// $ per GB a femtocell carries.
    pub price_usd_per_gb: f64,
    /// The equilibrium it leads to.
    pub equilibrium: HostEquilibrium,
    /// The operator's cost with nobody hosting, $/month.
    pub no_hosts_usd: f64,
}

impl<'a> HostMarket<'a> {
    /// The market of a wireless scenario.
    pub fn new(s: &'a Scenario) -> Result<Self, MechanismError> {
        let w = s.content.kind.wireless().ok_or_else(|| {
            MechanismError::Equilibrium(format!(
                "scenario '{}' is not a wireless scenario (content.kind = \"{}\")",
                s.name,
                s.content.kind.label()
            ))
        })?;
        Ok(Self {
            s,
            w,
            profile: w.offload.profile(),
        })
    }

    /// The scenario's `[wireless]`.
    pub fn wireless(&self) -> &Wireless {
        self.w
    }

    /// The daily shape.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Days in a billing month.
    pub fn days(&self) -> f64 {
        self.s.pricing.billing_month / DAY
    }

    /// Hours in a billing month.
    pub fn hours(&self) -> f64 {
        self.s.pricing.billing_month / 3600.0
    }

    /// The day with a share h of users hosting.
    pub fn day(&self, h: f64) -> OffloadDay {
        self.w.offload.day(&self.profile, h)
    }

    /// One tower for a month, $.
    pub fn tower_month_usd(&self) -> f64 {
        self.w.tower_cost * self.days() / YEAR_DAYS
    }

    /// One femtocell for a month (its price spread over its lifetime), $.
    pub fn device_month_usd(&self) -> f64 {
        self.w.femtocell_price * self.s.pricing.billing_month / self.w.femtocell_lifetime
    }

    /// A host's electricity for its femtocell per month, $.
    pub fn electricity_usd(&self) -> f64 {
        energy_cost(
            self.s.peer_cost.power,
            self.hours(),
            self.s.peer_cost.electricity,
        )
    }

    /// Billing GB one host's femtocell carries per month.
    pub fn per_host_gb(&self, d: &OffloadDay) -> f64 {
        // The limit h → 0 (the first host): the same day at a vanishing share, so the uplink cap
        // is applied hour by hour as for any h (femto bytes are N h × a per-host integral).
        let d = if d.hosts > 0.0 {
            *d
        } else {
            self.day(FIRST_HOST)
        };
        d.femto_bytes * self.days() / (self.w.offload.users * d.hosts) / GB
    }

    /// The coalition's cost per user per month as a function of the share x of users hosting:
    /// towers as a real number plus the femtocells, whoever pays for them (the fluid game's Ω;
    /// so the split is of the real saving, the same whether the operator gives femtocells away
    /// or hosts buy them).
    pub fn omega(&self, x: f64) -> f64 {
        self.towers_per_user_usd(x) + x * self.device_month_usd()
    }

    /// Towers per user per month at hosts' share x, towers as a real number, $.
    pub fn towers_per_user_usd(&self, x: f64) -> f64 {
        self.tower_month_usd() * self.day(x).towers_fluid / self.w.offload.users
    }

    /// The fluid Shapley split at hosts' share h (per user per month; a host's value is
    /// `price_per_unit[0]`).
    pub fn shapley(&self, h: f64) -> Result<FluidShapley, MechanismError> {
        fluid_shapley(&HostGame { market: self }, &[h])
    }

    /// What the scenario's mechanism offers hosts.
    pub fn offer(&self) -> Offer {
        match self.s.incentive.mechanism {
            Mechanism::None => Offer::PerByte { price: 0.0 },
            Mechanism::PerByte { price } => Offer::PerByte { price },
            Mechanism::Discount { amount } => Offer::Discount { amount },
            Mechanism::Shapley | Mechanism::Equilibrium => Offer::Shapley,
        }
    }

    /// A host's income per month under `offer` at hosts' share h, $.
    pub fn income(&self, offer: &Offer, h: f64) -> Result<f64, MechanismError> {
        Ok(match *offer {
            Offer::PerByte { price } => price * self.per_host_gb(&self.day(h)),
            Offer::Discount { amount } => amount,
            // A host who bought its femtocell is also refunded it, so that its net is φ.
            Offer::Shapley => {
                self.shapley(h)?.price_per_unit[0]
                    + if self.w.give_away {
                        0.0
                    } else {
                        self.device_month_usd()
                    }
            }
        })
    }

    /// Income − value of the carried bytes to the host − the device (when hosts buy it).
    pub fn benefit(&self, offer: &Offer, h: f64) -> Result<f64, MechanismError> {
        let backhaul = self.s.peer_cost.upload_value * self.per_host_gb(&self.day(h));
        let device = if self.w.give_away {
            0.0
        } else {
            self.device_month_usd()
        };
        Ok(self.income(offer, h)? - backhaul - device)
    }

    /// The hosts' private costs per month, all hosts together, at participation q: with a
    /// cost distribution, the costs of the would-be hosts who do host (those below the
    /// benefit b: N × hosts × E[c·1{c ≤ b}]); without one, every host's electricity.
    pub fn private_costs_usd(&self, offer: &Offer, q: f64) -> Result<f64, MechanismError> {
        let h = self.w.hosts * q;
        let e = self.electricity_usd();
        if !self.decides() {
            return Ok(self.w.offload.users * h * e);
        }
        let b = self.benefit(offer, h)?;
        Ok(self.w.offload.users * self.w.hosts * self.distribution().partial_mean(b, e))
    }

    /// Whether hosts decide (a cost distribution is given).
    pub fn decides(&self) -> bool {
        self.distribution().decides()
    }

    fn distribution(&self) -> CostDistribution {
        self.s.peer_cost.distribution
    }

    /// G(q) = F(b(h)) − q with h = hosts × q.
    pub fn excess(&self, offer: &Offer, q: f64) -> Result<f64, MechanismError> {
        let h = self.w.hosts * q;
        let f = self
            .distribution()
            .cdf(self.benefit(offer, h)?, self.electricity_usd());
        Ok(f - q)
    }

    /// The operator's monthly cost at hosts' share h: (towers, devices, payments), $.
    pub fn operator_parts(&self, offer: &Offer, h: f64) -> Result<[f64; 3], MechanismError> {
        let d = self.day(h);
        let hosts = self.w.offload.users * h;
        let towers = self.tower_month_usd() * d.towers as f64;
        let devices = if self.w.give_away {
            hosts * self.device_month_usd()
        } else {
            0.0
        };
        let payments = if hosts > 0.0 {
            hosts * self.income(offer, h)?
        } else {
            0.0
        };
        Ok([towers, devices, payments])
    }

    fn describe(
        &self,
        offer: &Offer,
        q: f64,
        stable: bool,
    ) -> Result<HostEquilibrium, MechanismError> {
        let h = self.w.hosts * q;
        Ok(HostEquilibrium {
            q,
            hosts: h,
            stable,
            income_usd: self.income(offer, h)?,
            benefit_usd: self.benefit(offer, h)?,
            operator_usd: self.operator_parts(offer, h)?.iter().sum(),
        })
    }

    /// Every equilibrium, lowest participation first: a scan of G on [0, 1] and bisection of
    /// each sign change. Without a cost distribution every would-be host hosts (q = 1).
    pub fn equilibria(&self, offer: &Offer) -> Result<Vec<HostEquilibrium>, MechanismError> {
        if !self.distribution().decides() {
            return Ok(vec![self.describe(offer, 1.0, true)?]);
        }
        let g = |q: f64| self.excess(offer, q);
        let mut found: Vec<(f64, bool)> = Vec::new();
        let mut prev = (0.0, g(0.0)?);
        if prev.1 <= EQ_TOL {
            found.push((0.0, g(1e-6)? <= 0.0));
        }
        for i in 1..=SCAN_POINTS {
            let qi = i as f64 / SCAN_POINTS as f64;
            let gi = g(qi)?;
            if gi.abs() <= EQ_TOL && i < SCAN_POINTS {
                // A grid point on the root itself: stable when G falls through it.
                found.push((qi, g(qi + 1e-6)? <= 0.0));
            } else if prev.1 > EQ_TOL && gi < -EQ_TOL {
                found.push((bisect(&g, prev.0, qi)?, true));
            } else if prev.1 < -EQ_TOL && gi > EQ_TOL {
                found.push((bisect(&g, prev.0, qi)?, false));
            }
            prev = (qi, gi);
        }
        if prev.1 >= -EQ_TOL && found.last().is_none_or(|(q, _)| *q < 1.0 - 1e-9) {
            found.push((1.0, g(1.0 - 1e-6)? >= 0.0));
        }
        found
            .into_iter()
            .map(|(q, st)| self.describe(offer, q, st))
            .collect()
    }

    /// The equilibrium the dynamics reach from nobody hosting (the lowest stable one),
    /// confirmed by integrating dq/dt = k (F − q) from q = 0 through `solve`.
    pub fn reached(&self, offer: &Offer) -> Result<Reached, MechanismError> {
        let eq = self
            .equilibria(offer)?
            .into_iter()
            .find(|e| e.stable)
            .ok_or_else(|| MechanismError::Equilibrium("no stable equilibrium found".into()))?;
        let q_dynamics = if self.distribution().decides() {
            self.integrate(offer)?
        } else {
            1.0
        };
        Ok(Reached {
            gap: (q_dynamics - eq.q).abs(),
            equilibrium: eq,
            q_dynamics,
        })
    }

    /// q after 40 response times of the best-response dynamics from q = 0 (Dopri5).
    pub fn integrate(&self, offer: &Offer) -> Result<f64, MechanismError> {
        let model = Response {
            market: self,
            offer: *offer,
            k: 1.0 / self.s.incentive.response_time,
        };
        let mut set = SolverSettings::new(40.0 * self.s.incentive.response_time);
        set.method = Method::Dopri5;
        set.points = 20;
        set.rtol = Some(1e-10);
        set.atol = Some(1e-12);
        let traj = solve::integrate(&model, &set)
            .map_err(|e| MechanismError::Equilibrium(format!("hosts' response dynamics: {e}")))?;
        Ok(traj.last()[0].clamp(0.0, 1.0))
    }

    /// The per-GB price that minimises the operator's monthly cost once hosts respond
    /// (Stackelberg): a 64-point grid on [0, p_hi] and golden section, where p_hi is twice the
    /// most a carried GB is worth to the operator (tower saving per host plus, when hosts buy
    /// it, the femtocell, over the GB a host carries, the most over hosts' shares up to
    /// `wireless.hosts`); the range doubles while the best price sits at its top.
    pub fn best_price(&self) -> Result<BestHostPrice, MechanismError> {
        let none = Offer::PerByte { price: 0.0 };
        let no_hosts_usd: f64 = self.operator_parts(&none, 0.0)?.iter().sum();
        let device = if self.w.give_away {
            0.0
        } else {
            self.device_month_usd()
        };
        let t0 = self.towers_per_user_usd(0.0);
        let value = |h: f64| {
            let saving = (t0 - self.towers_per_user_usd(h)) / h;
            (saving + device) / self.per_host_gb(&self.day(h)).max(f64::MIN_POSITIVE)
        };
        let top = self.w.hosts.max(FIRST_HOST);
        let mut p_hi = (1..=10)
            .map(|i| value(top * i as f64 / 10.0))
            .fold(value(FIRST_HOST), f64::max)
            .max(f64::MIN_POSITIVE)
            * 2.0;
        let mut best = (0.0, f64::INFINITY);
        for _ in 0..6 {
            let cost = |x: f64| -> Result<f64, MechanismError> {
                let offer = Offer::PerByte { price: x * p_hi };
                Ok(self.reached(&offer)?.equilibrium.operator_usd)
            };
            let (x, v) = minimise_1d(&cost, 64)?;
            best = (x * p_hi, v);
            if x < 1.0 - 1.0 / 64.0 {
                break;
            }
            p_hi *= 2.0;
        }
        let offer = Offer::PerByte { price: best.0 };
        Ok(BestHostPrice {
            price_usd_per_gb: best.0,
            equilibrium: self.reached(&offer)?.equilibrium,
            no_hosts_usd,
        })
    }
}

/// The operator's game: x = share of users hosting; Ω(x) = [`HostMarket::omega`].
pub struct HostGame<'m, 'a> {
    /// The market that prices coalitions.
    pub market: &'m HostMarket<'a>,
}

impl CostPerUser for HostGame<'_, '_> {
    fn classes(&self) -> usize {
        1
    }
    fn omega(&self, x: &[f64]) -> f64 {
        self.market.omega(x[0])
    }
    fn gradient(&self, x: &[f64], g: &mut [f64]) {
        let step = GRADIENT_FLOOR.max(1e-6 * x[0]);
        let (lo, hi) = ((x[0] - step).max(0.0), x[0] + step);
        g[0] = (self.market.omega(hi) - self.market.omega(lo)) / (hi - lo);
    }
    /// Ω is a quadrature over the busy hour: its difference quotients carry ~1e-9 noise.
    fn quadrature_tol(&self) -> f64 {
        1e-7
    }
}

/// dq/dt = k (F(b(hosts × q)) − q), the hosts' best-response dynamics.
struct Response<'m, 'a> {
    market: &'m HostMarket<'a>,
    offer: Offer,
    k: f64,
}

impl FluidModel for Response<'_, '_> {
    fn name(&self) -> &'static str {
        "hosts-response"
    }
    fn dim(&self) -> usize {
        1
    }
    fn state_names(&self) -> Vec<String> {
        vec!["q".into()]
    }
    fn initial_state(&self) -> State {
        State::zeros(1)
    }
    fn rhs(&self, _t: Seconds, z: &State, dz: &mut State) {
        let q = z[0].clamp(0.0, 1.0);
        // A failed Shapley quadrature makes the state non-finite, which `solve` reports.
        dz[0] = self.k * self.market.excess(&self.offer, q).unwrap_or(f64::NAN);
    }
}
